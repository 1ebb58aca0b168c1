/* keeper_bench: the keeper alone, driven exactly as the parent and the relay
 * workers drive it. It forks keeper_main() with a ctl socketpair, hands it N
 * relay channels (socketpairs passed with ipc_send_fd), waits for 'R', then
 * keeps W IPC_PASSTHROUGH appends outstanding on every channel and counts the
 * IPC_APPENDED acks: durable appends/s and ack latency. Then it tops the log
 * up to a target size through the same path and times
 * `gatewayctl audit verify --db FILE --vkey VKEY` over it.
 *
 * The keeper's own stderr goes to a file: its "stopping after N commits of M
 * entries" line gives the mean group-commit batch. Results: a markdown table
 * on stdout; progress on stderr.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "ipc.h"
#include "keeper/keeper.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define KB_MAX_SLOTS	CFG_MAX_WORKERS

enum kb_phase { KB_WARMUP, KB_MEASURE, KB_DRAIN, KB_TOPUP };

struct kb;

struct kb_chan {
	struct kb		*b;
	struct bufferevent	*bev;
	unsigned		 slot;
	uint64_t		 next_id;	/* ids 1, 2, ... on this channel */
	unsigned		 outstanding;
	uint64_t		*sent_us;	/* by id % window */
};

struct kb_opts {
	const char	*conf;
	const char	*ctl;
	const char	*keeper_log;
	unsigned	 slots, window;
	unsigned	 duration_s, warmup_s;
	uint64_t	 target;
	int		 verify_runs;
};

struct kb_keeper_run {
	uint64_t	commits, entries;	/* from the keeper's last line */
	double		cpu_s;			/* keeper user + system */
	double		wall_s;
};

struct kb {
	struct kb_opts	 o;
	struct config	*cf;
	struct event_base *base;
	struct kb_chan	 chans[KB_MAX_SLOTS];
	struct event	*ev_phase;
	enum kb_phase	 phase;
	pid_t		 keeper;
	int		 ctl;
	struct metrics_keeper *km;	/* shared with the keeper, as in gatewayd */
	uint64_t	 size0;		/* log size when the keeper started */
	uint64_t	 t_start_us;
	/* counters */
	uint64_t	 sent, acked, refused;
	uint64_t	 measured;		/* acks inside the window */
	uint64_t	 measure_t0, measure_t1;
	uint64_t	 to_send;		/* top-up: appends still to send */
	uint64_t	 max_index;
	int		 have_index;
	/* latencies (us) of acks inside the window */
	uint32_t	*lat;
	size_t		 nlat, caplat;
	uint8_t		 payload_seed[32];
};

static uint64_t
kb_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
kb_lat_add(struct kb *b, uint64_t us)
{
	if (b->nlat == b->caplat) {
		size_t	 n = b->caplat ? b->caplat * 2 : 1 << 20;
		uint32_t *p = realloc(b->lat, n * sizeof(*p));

		if (p == NULL)
			return;
		b->lat = p;
		b->caplat = n;
	}
	b->lat[b->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int
kb_cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
kb_pct(const uint32_t *v, size_t n, double p)
{
	size_t	i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i] / 1000.0;
}

/* A plausible exchange record: what a relay worker sends per exchange. */
static void
kb_fill(struct kb *b, struct kb_chan *ch, struct ipc_passthrough *m)
{
	static const char *const methods[] = { "POST", "GET", "PUT" };
	uint64_t	n = b->sent;
	size_t		i;

	memset(m, 0, sizeof(*m));
	snprintf(m->request_id, sizeof(m->request_id), "%08x%08llx",
	    0xbe000000u | ch->slot, (unsigned long long)ch->next_id);
	str_copy(m->agency, sizeof(m->agency), "finance-city-620100");
	str_copy(m->route, sizeof(m->route), "finance-passthrough");
	str_copy(m->upstream, sizeof(m->upstream), "finance");
	str_copy(m->method, sizeof(m->method), methods[n % 3]);
	snprintf(m->path, sizeof(m->path),
	    "/pass/finance/v1/remittances/620100-2024-%06llu?period=2024-05",
	    (unsigned long long)(n % 1000000));
	m->status = n % 97 == 0 ? 502 : 200;
	if (m->status != 200)
		str_copy(m->code, sizeof(m->code), "upstream-error");
	m->request_bytes = 512 + n % 2048;
	m->response_bytes = 256 + n % 1024;
	m->duration_ms = 2 + n % 40;
	for (i = 0; i < 32; i++) {
		m->request_sha256[i] = (uint8_t)(b->payload_seed[i] ^ (n >> (i % 8 * 8)));
		m->response_sha256[i] = (uint8_t)(b->payload_seed[31 - i] + n + i);
	}
}

static int
kb_may_send(struct kb *b)
{
	switch (b->phase) {
	case KB_WARMUP:
	case KB_MEASURE:
		return 1;
	case KB_TOPUP:
		return b->to_send > 0;
	default:
		return 0;
	}
}

static void
kb_send_one(struct kb *b, struct kb_chan *ch)
{
	struct ipc_passthrough	m;
	uint64_t		id = ch->next_id;

	kb_fill(b, ch, &m);
	ch->sent_us[id % b->o.window] = kb_now_us();
	if (ipc_send(bufferevent_get_output(ch->bev), IPC_PASSTHROUGH, id, &m,
	    sizeof(m)) == -1)
		fatalx("ipc_send");
	ch->next_id++;
	ch->outstanding++;
	b->sent++;
	if (b->phase == KB_TOPUP)
		b->to_send--;
}

static void
kb_fill_window(struct kb *b, struct kb_chan *ch)
{
	while (ch->outstanding < b->o.window && kb_may_send(b))
		kb_send_one(b, ch);
}

static unsigned
kb_outstanding(struct kb *b)
{
	unsigned	i, n = 0;

	for (i = 0; i < b->o.slots; i++)
		n += b->chans[i].outstanding;
	return n;
}

static void
kb_read(struct bufferevent *bev, void *arg)
{
	static char		 msg[IPC_MAX_PAYLOAD];
	struct kb_chan		*ch = arg;
	struct kb		*b = ch->b;
	struct ipc_hdr		 h;
	struct ipc_appended	 a;
	uint64_t		 now = kb_now_us();
	int			 rc;

	while ((rc = ipc_recv(bufferevent_get_input(bev), &h, msg)) != 0) {
		if (rc == -1 || h.type != IPC_APPENDED ||
		    h.len != sizeof(struct ipc_appended))
			fatalx("bad message from the keeper on channel %u", ch->slot);
		memcpy(&a, msg, sizeof(a));
		if (ch->outstanding == 0 || h.id >= ch->next_id ||
		    h.id + ch->outstanding < ch->next_id)
			fatalx("ack %llu on channel %u matches nothing",
			    (unsigned long long)h.id, ch->slot);
		ch->outstanding--;
		if (!a.ok) {
			b->refused++;
			log_warnx("append refused: %.*s", (int)sizeof(a.error),
			    a.error);
			continue;
		}
		b->acked++;
		if (!b->have_index || a.index > b->max_index)
			b->max_index = a.index;
		b->have_index = 1;
		if (b->phase == KB_MEASURE) {
			b->measured++;
			kb_lat_add(b, now - ch->sent_us[h.id % b->o.window]);
		}
	}
	kb_fill_window(b, ch);
	if ((b->phase == KB_DRAIN || (b->phase == KB_TOPUP && b->to_send == 0)) &&
	    kb_outstanding(b) == 0)
		event_base_loopexit(b->base, NULL);
}

static void
kb_event(struct bufferevent *bev, short what, void *arg)
{
	struct kb_chan	*ch = arg;

	fatalx("keeper channel %u closed (events 0x%x)", ch->slot, what);
}

static void
kb_phase_timer(evutil_socket_t fd, short what, void *arg)
{
	struct kb	*b = arg;
	struct timeval	 tv = { b->o.duration_s, 0 };

	if (b->phase == KB_WARMUP) {
		b->phase = KB_MEASURE;
		b->measure_t0 = kb_now_us();
		evtimer_add(b->ev_phase, &tv);
		return;
	}
	b->measure_t1 = kb_now_us();
	b->phase = KB_DRAIN;
	if (kb_outstanding(b) == 0)
		event_base_loopexit(b->base, NULL);
}

/* Forks the keeper as the parent does and hands it every channel. */
static void
kb_keeper_start(struct kb *b)
{
	int		 sv[2], ch[2], logfd;
	char		 ready;
	unsigned	 i;

	atomic_store(&b->km->commits, 0);
	atomic_store(&b->km->entries, b->size0);
	if ((logfd = open(b->o.keeper_log, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC, 0644)) == -1)
		fatal("%s", b->o.keeper_log);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");
	fflush(NULL);
	if ((b->keeper = fork()) == -1)
		fatal("fork");
	if (b->keeper == 0) {
		close(sv[0]);
		dup2(logfd, STDERR_FILENO);
		signal(SIGPIPE, SIG_IGN);
		_exit(keeper_main(b->cf, sv[1], b->km));
	}
	close(sv[1]);
	close(logfd);
	b->ctl = sv[0];
	if (read(b->ctl, &ready, 1) != 1 || ready != 'R')
		fatalx("the keeper did not start: see %s", b->o.keeper_log);

	for (i = 0; i < b->o.slots; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch) == -1 ||
		    ipc_send_fd(b->ctl, i, ch[1]) == -1)
			fatal("channel %u", i);
		close(ch[1]);
		evutil_make_socket_nonblocking(ch[0]);
		b->chans[i].b = b;
		b->chans[i].slot = i;
		b->chans[i].next_id = 1;
		b->chans[i].outstanding = 0;
		if ((b->chans[i].bev = bufferevent_socket_new(b->base, ch[0],
		    BEV_OPT_CLOSE_ON_FREE)) == NULL)
			fatalx("bufferevent");
		bufferevent_setcb(b->chans[i].bev, kb_read, NULL, kb_event,
		    &b->chans[i]);
		bufferevent_enable(b->chans[i].bev, EV_READ | EV_WRITE);
	}
}

/* Reads the keeper's last "stopping after N commits of M entries" line. */
static void
kb_keeper_counts(struct kb *b, struct kb_keeper_run *r)
{
	FILE		*fp;
	char		 line[4096], *p;
	unsigned long long c, e;

	r->commits = r->entries = 0;
	if ((fp = fopen(b->o.keeper_log, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL)
		if ((p = strstr(line, "stopping after ")) != NULL &&
		    sscanf(p, "stopping after %llu commits of %llu entries",
		    &c, &e) == 2) {
			r->commits = c;
			r->entries = e;
		}
	fclose(fp);
}

/* SIGUSR1, as the parent sends it: the keeper commits what it has, signs a
 * checkpoint and exits (it ignores SIGTERM). */
static void
kb_keeper_stop(struct kb *b, struct kb_keeper_run *r)
{
	struct rusage	ru;
	int		st;
	unsigned	i;

	for (i = 0; i < b->o.slots; i++) {
		if (b->chans[i].bev != NULL)
			bufferevent_free(b->chans[i].bev);
		b->chans[i].bev = NULL;
	}
	kill(b->keeper, SIGUSR1);
	if (wait4(b->keeper, &st, 0, &ru) == -1)
		fatal("wait4");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fatalx("the keeper exited with status 0x%x: see %s", st,
		    b->o.keeper_log);
	close(b->ctl);
	r->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	r->wall_s = (kb_now_us() - b->t_start_us) / 1e6;
	kb_keeper_counts(b, r);
	if (r->commits == 0 && b->km != NULL) {
		/* No "stopping after" line: the keeper's shared counters. */
		r->commits = atomic_load(&b->km->commits);
		r->entries = atomic_load(&b->km->entries) - b->size0;
	}
}

static void
kb_run_phase(struct kb *b)
{
	unsigned	i;

	for (i = 0; i < b->o.slots; i++)
		kb_fill_window(b, &b->chans[i]);
	if (event_base_dispatch(b->base) == -1)
		fatalx("event loop");
}

/* Runs args (NULL-terminated) with stdout into buf; returns the exit
 * status (or -1). */
static int
kb_run(const char *const args[], char *buf, size_t bufsz)
{
	char	*argv[16];
	int	 p[2], st;
	pid_t	 pid;
	size_t	 have = 0, i;
	ssize_t	 n;

	for (i = 0; args[i] != NULL && i + 1 < nitems(argv); i++)
		if ((argv[i] = strdup(args[i])) == NULL)
			fatal("strdup");
	argv[i] = NULL;
	if (pipe(p) == -1)
		return -1;
	fflush(NULL);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while (have + 1 < bufsz &&
	    (n = read(p[0], buf + have, bufsz - 1 - have)) > 0)
		have += (size_t)n;
	buf[have] = '\0';
	close(p[0]);
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	if (waitpid(pid, &st, 0) == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: keeper_bench -c conf [-s slots] [-w window] "
	    "[-d seconds] [-u warmup] [-n verify_entries] [-r verify_runs] "
	    "[-x gatewayctl] [-l keeper_log]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct kb		 b;
	struct kb_keeper_run	 r1, r2;
	struct timeval		 tv;
	struct rusage		 self;
	char			 out[4096], vkey[512], logbuf[1024];
	double			 secs, rate, vbest = 0, vsecs;
	unsigned long long	 ventries = 0, vms = 0;
	uint64_t		 size, t0;
	int			 ch, i, rc;

	memset(&b, 0, sizeof(b));
	b.o.slots = 8;
	b.o.window = 64;
	b.o.duration_s = 10;
	b.o.warmup_s = 1;
	b.o.target = 1000000;
	b.o.verify_runs = 1;
	b.o.ctl = "build/gatewayctl";
	while ((ch = getopt(argc, argv, "c:s:w:d:u:n:r:x:l:")) != -1) {
		switch (ch) {
		case 'c': b.o.conf = optarg; break;
		case 's': b.o.slots = (unsigned)atoi(optarg); break;
		case 'w': b.o.window = (unsigned)atoi(optarg); break;
		case 'd': b.o.duration_s = (unsigned)atoi(optarg); break;
		case 'u': b.o.warmup_s = (unsigned)atoi(optarg); break;
		case 'n': b.o.target = strtoull(optarg, NULL, 10); break;
		case 'r': b.o.verify_runs = atoi(optarg); break;
		case 'x': b.o.ctl = optarg; break;
		case 'l': b.o.keeper_log = optarg; break;
		default: usage();
		}
	}
	if (b.o.conf == NULL || b.o.slots == 0 || b.o.slots > KB_MAX_SLOTS ||
	    b.o.window == 0 || b.o.duration_s == 0 || optind != argc)
		usage();
	log_init("keeper_bench", LOG_LVL_INFO);
	signal(SIGPIPE, SIG_IGN);
	if ((b.cf = config_load(b.o.conf)) == NULL)
		fatalx("%s: configuration has errors", b.o.conf);
	if ((b.km = metrics_keeper_map()) == NULL)
		fatal("metrics_keeper_map");
	if (b.o.keeper_log == NULL) {
		snprintf(logbuf, sizeof(logbuf), "%s.keeper.log",
		    b.cf->keeper.database);
		b.o.keeper_log = logbuf;
	}
	for (i = 0; i < (int)b.o.slots; i++)
		if ((b.chans[i].sent_us = calloc(b.o.window,
		    sizeof(uint64_t))) == NULL)
			fatal("calloc");
	for (i = 0; i < 32; i++)
		b.payload_seed[i] = (uint8_t)(i * 37 + 11);
	if ((b.base = event_base_new()) == NULL ||
	    (b.ev_phase = evtimer_new(b.base, kb_phase_timer, &b)) == NULL)
		fatalx("event base");

	/* 1. Durable appends/s with W outstanding per channel. */
	fprintf(stderr, "keeper_bench: %u channels x %u outstanding, %u s "
	    "(+%u s warm-up), database %s\n", b.o.slots, b.o.window,
	    b.o.duration_s, b.o.warmup_s, b.cf->keeper.database);
	b.t_start_us = kb_now_us();
	kb_keeper_start(&b);
	b.phase = b.o.warmup_s ? KB_WARMUP : KB_MEASURE;
	b.measure_t0 = kb_now_us();
	tv.tv_sec = b.o.warmup_s ? b.o.warmup_s : b.o.duration_s;
	tv.tv_usec = 0;
	evtimer_add(b.ev_phase, &tv);
	kb_run_phase(&b);
	kb_keeper_stop(&b, &r1);
	secs = (b.measure_t1 - b.measure_t0) / 1e6;
	rate = secs > 0 ? b.measured / secs : 0;
	qsort(b.lat, b.nlat, sizeof(*b.lat), kb_cmp_u32);
	size = b.have_index ? b.max_index + 1 : 0;
	fprintf(stderr, "keeper_bench: %.0f durable appends/s, p50 %.2f ms, p99 "
	    "%.2f ms; %llu commits of %llu entries; keeper CPU %.2f s of "
	    "%.2f s\n", rate, kb_pct(b.lat, b.nlat, 0.5),
	    kb_pct(b.lat, b.nlat, 0.99), (unsigned long long)r1.commits,
	    (unsigned long long)r1.entries, r1.cpu_s, r1.wall_s);
	if (b.refused > 0)
		fatalx("%llu appends refused", (unsigned long long)b.refused);

	/* 2. Top the log up to the verify target through the same path. */
	memset(&r2, 0, sizeof(r2));
	if (b.o.target > size) {
		fprintf(stderr, "keeper_bench: topping up from %llu to %llu "
		    "entries\n", (unsigned long long)size,
		    (unsigned long long)b.o.target);
		b.t_start_us = kb_now_us();
		b.size0 = size;
		kb_keeper_start(&b);
		b.phase = KB_TOPUP;
		b.to_send = b.o.target - size;
		kb_run_phase(&b);
		kb_keeper_stop(&b, &r2);
		size = b.max_index + 1;
		fprintf(stderr, "keeper_bench: top-up: %llu entries in %.1f s "
		    "(%.0f/s), %llu commits\n", (unsigned long long)r2.entries,
		    r2.wall_s, r2.entries / r2.wall_s,
		    (unsigned long long)r2.commits);
	}

	/* 3. gatewayctl audit verify over the whole log. */
	if (b.o.target > 0) {
		const char *va[] = { b.o.ctl, "audit", "vkey", "-c", b.o.conf,
		    NULL };

		if (kb_run(va, vkey, sizeof(vkey)) != 0)
			fatalx("%s audit vkey failed", b.o.ctl);
		vkey[strcspn(vkey, "\r\n")] = '\0';
		for (i = 0; i < b.o.verify_runs; i++) {
			const char *vv[] = { b.o.ctl, "audit", "verify",
			    "--db", b.cf->keeper.database, "--vkey", vkey, NULL };

			t0 = kb_now_us();
			rc = kb_run(vv, out, sizeof(out));
			vsecs = (kb_now_us() - t0) / 1e6;
			if (rc != 0)
				fatalx("audit verify failed (%d): %s", rc, out);
			sscanf(out, "audit log OK: %llu entries, %*u checkpoints "
			    "verified, %llu ms", &ventries, &vms);
			fprintf(stderr, "keeper_bench: verify run %d: %s", i + 1,
			    out);
			if (vbest == 0 || vsecs < vbest)
				vbest = vsecs;
		}
	}

	getrusage(RUSAGE_SELF, &self);
	printf("| keeper benchmark | value |\n|---|---|\n");
	printf("| relay channels x outstanding appends | %u x %u |\n",
	    b.o.slots, b.o.window);
	printf("| measured window | %.1f s (after %u s warm-up) |\n", secs,
	    b.o.warmup_s);
	printf("| **durable appends/s** | **%.0f** |\n", rate);
	printf("| ack latency p50 / p90 / p99 / max | %.2f / %.2f / %.2f / %.2f "
	    "ms |\n", kb_pct(b.lat, b.nlat, 0.5), kb_pct(b.lat, b.nlat, 0.9),
	    kb_pct(b.lat, b.nlat, 0.99), kb_pct(b.lat, b.nlat, 1.0));
	printf("| group commits (whole run) | %llu commits of %llu entries, "
	    "mean batch %.1f |\n", (unsigned long long)r1.commits,
	    (unsigned long long)r1.entries,
	    r1.commits ? (double)r1.entries / (double)r1.commits : 0.0);
	printf("| commits/s | %.0f |\n", r1.wall_s > 0 ? r1.commits /
	    r1.wall_s : 0.0);
	printf("| keeper CPU (user+sys) / wall | %.2f s / %.2f s (%.0f%%) |\n",
	    r1.cpu_s, r1.wall_s, r1.wall_s > 0 ? 100 * r1.cpu_s / r1.wall_s :
	    0.0);
	if (r2.entries > 0)
		printf("| top-up appends/s (%llu entries, mean batch %.1f) | "
		    "%.0f |\n", (unsigned long long)r2.entries,
		    r2.commits ? (double)r2.entries / (double)r2.commits : 0.0,
		    r2.entries / r2.wall_s);
	if (b.o.target > 0) {
		printf("| log verified | %llu entries |\n", ventries);
		printf("| **audit verify entries/s** | **%.0f** (%.2f s wall, "
		    "best of %d) |\n", vbest > 0 ? ventries / vbest : 0.0, vbest,
		    b.o.verify_runs);
	}
	printf("| bench process CPU | %.2f s |\n",
	    (double)self.ru_utime.tv_sec + self.ru_utime.tv_usec / 1e6 +
	    (double)self.ru_stime.tv_sec + self.ru_stime.tv_usec / 1e6);

	for (i = 0; i < (int)b.o.slots; i++)
		free(b.chans[i].sent_us);
	free(b.lat);
	event_free(b.ev_phase);
	event_base_free(b.base);
	config_free(b.cf);
	return 0;
}
