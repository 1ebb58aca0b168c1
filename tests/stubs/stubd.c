/* stubd: a stub upstream agency (finance, HRSS, a bank) for integration tests
 * and benchmarks. Options, listening sockets, worker threads and shutdown. */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "util.h"

#include "stub.h"

#define STUBD_BACKLOG	1024

static void __attribute__((noreturn))
stubd_usage(void)
{
	fprintf(stderr, "usage: stubd --listen ADDR:PORT --cert FILE --key FILE "
	    "--ca FILE --name NAME\n"
	    "             [--record FILE] [--mode answer|delay[=MS]|fail[=STATUS]"
	    "|hang|reset]\n"
	    "             [--delay-ms N] [--status N] [--threads N] [--quiet]\n"
	    "             [--save-bodies DIR] [--verify-key PEM [--sm2-id ID]]\n"
	    "             [--idempotency-max-keys N]\n");
	exit(2);
}

/* The name goes into headers and file names: keep it to a safe alphabet. */
static int
stubd_name_ok(const char *s)
{
	size_t	i;

	if (s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._-", s[i]) == NULL)
			return 0;
	return 1;
}

static void
stubd_parse_args(int argc, char **argv, struct stub_cfg *cfg)
{
	static const struct option	opts[] = {
		{ "listen",	required_argument,	NULL, 'l' },
		{ "cert",	required_argument,	NULL, 'c' },
		{ "key",	required_argument,	NULL, 'k' },
		{ "ca",		required_argument,	NULL, 'a' },
		{ "name",	required_argument,	NULL, 'n' },
		{ "record",	required_argument,	NULL, 'r' },
		{ "mode",	required_argument,	NULL, 'm' },
		{ "delay-ms",	required_argument,	NULL, 'd' },
		{ "status",	required_argument,	NULL, 's' },
		{ "threads",	required_argument,	NULL, 't' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "save-bodies", required_argument,	NULL, 'b' },
		{ "verify-key",	required_argument,	NULL, 'v' },
		{ "sm2-id",	required_argument,	NULL, 'i' },
		{ "idempotency-max-keys", required_argument, NULL, 'x' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	const char	*mode = "answer";
	uint64_t	 v;
	int		 ch, status_set = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->status = 200;
	cfg->threads = 1;
	cfg->record_fd = -1;
	cfg->idem_max_keys = STUB_INBOX_DEFAULT_KEYS;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': cfg->listen = optarg; break;
		case 'c': cfg->cert = optarg; break;
		case 'k': cfg->key = optarg; break;
		case 'a': cfg->ca = optarg; break;
		case 'r': cfg->record = optarg; break;
		case 'm': mode = optarg; break;
		case 'q': cfg->quiet = 1; break;
		case 'b': cfg->save_bodies = optarg; break;
		case 'v': cfg->verify_key_path = optarg; break;
		case 'i': cfg->sm2_id = optarg; break;
		case 'x':
			/* 100 million keys of stored answers would pass the
			 * store's byte bound long before the key bound. */
			if (parse_u64(optarg, 1, 100000000, &v) == -1)
				fatalx("bad --idempotency-max-keys %s "
				    "(1-100000000)", optarg);
			cfg->idem_max_keys = v;
			break;
		case 'n':
			if (!stubd_name_ok(optarg) ||
			    str_copy(cfg->name, sizeof(cfg->name), optarg) == -1)
				fatalx("bad --name (1-63 of [A-Za-z0-9._-])");
			break;
		case 'd':
			if (parse_u64(optarg, 0, 3600000, &v) == -1)
				fatalx("bad --delay-ms %s (0-3600000)", optarg);
			cfg->delay_ms = v;
			break;
		case 's':
			if (parse_u64(optarg, 200, 599, &v) == -1)
				fatalx("bad --status %s (200-599)", optarg);
			cfg->status = (int)v;
			status_set = 1;
			break;
		case 't':
			if (parse_u64(optarg, 1, STUB_MAX_THREADS, &v) == -1)
				fatalx("bad --threads %s (1-%d)", optarg,
				    STUB_MAX_THREADS);
			cfg->threads = (int)v;
			break;
		default:
			stubd_usage();
		}
	}
	if (optind != argc || cfg->listen == NULL || cfg->cert == NULL ||
	    cfg->key == NULL || cfg->ca == NULL || cfg->name[0] == '\0')
		stubd_usage();
	if (cfg->sm2_id != NULL && cfg->verify_key_path == NULL)
		fatalx("--sm2-id needs --verify-key");
	/* Saving and verifying need the body's bytes, not only its hash. */
	cfg->keep_body = cfg->save_bodies != NULL ||
	    cfg->verify_key_path != NULL;
	/* A bare --mode fail uses --status when that is an error status. */
	cfg->fail_status = status_set && cfg->status >= 400 ? cfg->status : 503;
	if (stub_mode_parse(mode, cfg, &cfg->mode) == -1)
		fatalx("bad --mode %s", mode);
}

/* "IPv4:PORT" or "[IPv6]:PORT", numeric only; port 0 asks the kernel for a
 * free port (the listening line then tells which). Returns 0 or -1. */
static int
stubd_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	const char		*colon, *host = s;
	char			 buf[INET6_ADDRSTRLEN + 1];
	size_t			 hlen;
	uint64_t		 port;

	memset(ss, 0, sizeof(*ss));
	if ((colon = strrchr(s, ':')) == NULL ||
	    parse_u64(colon + 1, 0, 65535, &port) == -1) {
		log_warnx("%s: no port in %s", __func__, s);
		return -1;
	}
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hlen < 2 || s[hlen - 1] != ']') {
			log_warnx("%s: bad IPv6 literal in %s", __func__, s);
			return -1;
		}
		host = s + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(buf)) {
		log_warnx("%s: bad address in %s", __func__, s);
		return -1;
	}
	memcpy(buf, host, hlen);
	buf[hlen] = '\0';
	if (s[0] != '[' && inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	if (s[0] == '[' && inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	log_warnx("%s: not a numeric address: %s", __func__, buf);
	return -1;
}

/* One listening socket; with several threads each has its own, bound to the
 * same port with SO_REUSEPORT so the kernel spreads connections. *ss carries
 * the port actually bound (port 0 asks for any) to the next socket. The
 * first is preceded by a bind without SO_REUSEPORT, which fails if anyone
 * listens there: never share a port with another process (gatewayd does
 * the same). */
static int
stubd_listen_socket(struct sockaddr_storage *ss, socklen_t sslen, int reuseport,
    int first)
{
	int	fd, one = 1;

	if (first && reuseport) {
		if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1) {
			log_warn("%s: socket", __func__);
			return -1;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one)) == -1 ||
		    bind(fd, (struct sockaddr *)ss, sslen) == -1) {
			log_warn("%s: bind", __func__);
			close(fd);
			return -1;
		}
		close(fd);
	}

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("%s: socket", __func__);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1)) {
		log_warn("%s: setsockopt", __func__);
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)ss, sslen) == -1) {
		log_warn("%s: bind", __func__);
		goto fail;
	}
	if (listen(fd, STUBD_BACKLOG) == -1) {
		log_warn("%s: listen", __func__);
		goto fail;
	}
	if (getsockname(fd, (struct sockaddr *)ss, &sslen) == -1) {
		log_warn("%s: getsockname", __func__);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static void
stubd_listen_error_cb(struct evconnlistener *lev, void *arg)
{
	/* EMFILE and the like: libevent retries on the next readiness. */
	log_warn("%s: accept", __func__);
}

static void *
stubd_worker_main(void *arg)
{
	struct stub_worker	*w = arg;

	if (event_base_dispatch(w->base) == -1)
		log_warnx("%s: worker %d: event_base_dispatch failed", __func__,
		    w->idx);
	stub_conn_free_all(w);
	return NULL;
}

/* The main thread asks a worker to stop through its pipe, so no libevent
 * call crosses threads (and no libevent_pthreads locking is needed). */
static void
stubd_worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stub_worker	*w = arg;

	event_base_loopexit(w->base, NULL);
}

static int
stubd_worker_setup(struct stub_worker *w, const struct stub_cfg *cfg, int idx,
    int fd)
{
	w->idx = idx;
	w->fd = fd;
	w->cfg = cfg;
	TAILQ_INIT(&w->conns);
	if ((w->base = event_base_new()) == NULL) {
		log_warnx("%s: event_base_new failed", __func__);
		return -1;
	}
	if (pipe2(w->stop_fds, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("%s: pipe2", __func__);
		return -1;
	}
	if ((w->stop_ev = event_new(w->base, w->stop_fds[0], EV_READ,
	    stubd_worker_stop_cb, w)) == NULL ||
	    event_add(w->stop_ev, NULL) == -1) {
		log_warnx("%s: cannot set up the stop event", __func__);
		return -1;
	}
	/* Backlog 0: the socket is already listening. */
	if ((w->lev = evconnlistener_new(w->base, stub_conn_accept, w,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)) == NULL) {
		log_warnx("%s: evconnlistener_new failed", __func__);
		return -1;
	}
	w->fd = -1;	/* owned by the listener now */
	evconnlistener_set_error_cb(w->lev, stubd_listen_error_cb);
	return 0;
}

static void
stubd_worker_teardown(struct stub_worker *w)
{
	if (w->stop_ev != NULL)
		event_free(w->stop_ev);
	if (w->stop_fds[0] != -1)
		close(w->stop_fds[0]);
	if (w->stop_fds[1] != -1)
		close(w->stop_fds[1]);
	if (w->lev != NULL)
		evconnlistener_free(w->lev);
	if (w->fd != -1)
		close(w->fd);
	if (w->base != NULL)
		event_base_free(w->base);
}

int
main(int argc, char **argv)
{
	static struct stub_worker	 workers[STUB_MAX_THREADS];
	static char			 role[STUB_NAME_MAX + 8];
	struct stub_cfg			 cfg;
	struct sockaddr_storage		 ss;
	socklen_t			 sslen;
	uint64_t			 last_seq = 0;
	int				 i, fd, sig = 0, rc = 0;
	char				 line[256], addr[128];
	sigset_t			 sigs;

	log_init("stubd", LOG_LVL_INFO);
	stubd_parse_args(argc, argv, &cfg);
	(void)str_printf(role, sizeof(role), "stubd-%s", cfg.name);
	log_set_role(role);
	if (stubd_parse_listen(cfg.listen, &ss, &sslen) == -1)
		fatalx("bad --listen %s (IPv4:PORT or [IPv6]:PORT)", cfg.listen);

	/* A peer that vanished must give EPIPE, not kill the process. The
	 * termination signals are blocked in every thread (the mask is
	 * inherited) and taken by sigwait in this one. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if ((errno = pthread_sigmask(SIG_BLOCK, &sigs, NULL)) != 0)
		fatal("pthread_sigmask");
	if ((cfg.ssl = stub_tls_ctx_new(&cfg)) == NULL)
		fatalx("cannot set up TLS");
	if (cfg.record != NULL && (cfg.record_fd = stub_record_open(cfg.record)) == -1)
		fatalx("cannot open record file %s", cfg.record);
	stub_reply_init();
	if (stub_inbox_init(cfg.idem_max_keys) == -1)
		fatalx("cannot set up the idempotency store");
	if (cfg.save_bodies != NULL) {
		if (stub_save_init(cfg.save_bodies, &last_seq) == -1)
			fatalx("cannot use --save-bodies %s", cfg.save_bodies);
		stub_record_seq_start(last_seq);
	}
	if (cfg.verify_key_path != NULL && stub_bank_load(&cfg) == -1)
		fatalx("cannot use --verify-key %s", cfg.verify_key_path);

	for (i = 0; i < cfg.threads; i++) {
		if ((fd = stubd_listen_socket(&ss, sslen,
		    cfg.threads > 1, i == 0)) == -1)
			fatalx("cannot listen on %s", cfg.listen);
		workers[i].fd = -1;
		workers[i].stop_fds[0] = workers[i].stop_fds[1] = -1;
		if (stubd_worker_setup(&workers[i], &cfg, i, fd) == -1)
			fatalx("cannot set up worker %d", i);
	}

	/* Everything is listening: tests wait for this exact line. */
	if (getnameinfo((struct sockaddr *)&ss, sslen, addr,
	    sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0)
		(void)str_copy(addr, sizeof(addr), "?");
	if (str_printf(line, sizeof(line), ss.ss_family == AF_INET6 ?
	    "stubd %s listening on [%s]:%u\n" : "stubd %s listening on %s:%u\n",
	    cfg.name, addr, ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port)) == -1)
		fatalx("listening line too long");
	(void)!write(STDERR_FILENO, line, strlen(line));

	for (i = 0; i < cfg.threads; i++) {
		if ((errno = pthread_create(&workers[i].thread, NULL,
		    stubd_worker_main, &workers[i])) != 0)
			fatal("pthread_create");
		workers[i].started = 1;
	}

	do {
		rc = sigwait(&sigs, &sig);
	} while (rc != 0 && rc == EINTR);
	if (rc != 0)
		log_warnx("%s: sigwait failed", __func__);
	if (!cfg.quiet)
		log_info("signal %d: shutting down", sig);

	for (i = 0; i < cfg.threads; i++)
		if (write(workers[i].stop_fds[1], "x", 1) != 1)
			log_warn("%s: cannot stop worker %d", __func__, i);
	for (i = 0; i < cfg.threads; i++) {
		if (workers[i].started)
			pthread_join(workers[i].thread, NULL);
		stubd_worker_teardown(&workers[i]);
	}
	if (cfg.record_fd != -1)
		close(cfg.record_fd);
	stub_inbox_free();
	stub_bank_free(&cfg);
	SSL_CTX_free(cfg.ssl);
	libevent_global_shutdown();
	return 0;
}
