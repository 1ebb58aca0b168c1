/* The parent: it alone opens listening sockets and files, then forks one
 * relay worker per slot, restarts any that die (with a delay if they die
 * young), and on SIGTERM closes the sockets and lets the workers drain. */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "ipc.h"
#include "metrics.h"
#include "courier/courier.h"
#include "keeper/keeper.h"
#include "keeper/registry.h"
#include "log.h"
#include "proc.h"
#include "relay/relay.h"
#include "runtime.h"
#include "trust.h"
#include "util.h"

/* A worker that dies sooner than this after its start waits before restart,
 * so a crash loop cannot spin the CPU. */
#define PROC_YOUNG_MS		1000
#define PROC_RESTART_DELAY_MS	1000

struct proc_worker {
	pid_t		pid;
	uint64_t	started_ms;
	uint64_t	restart_at;	/* 0: none scheduled */
};

static struct proc_worker	proc_workers[CFG_MAX_WORKERS];
/* Workers of an older configuration, draining after a reload. */
static pid_t			proc_retiring[4 * CFG_MAX_WORKERS];
static struct proc_worker	proc_keeper;
static int			proc_keeper_ctl = -1;
static struct proc_worker	proc_courier;
static pid_t			proc_parent;	/* for the roles' orphan check */
/* How long the keeper may take to open and check the audit log. */
#define PROC_KEEPER_START_MS	60000

/* SO_REUSEPORT lets any process of the same user join a port's listeners,
 * silently: the kernel then splits connections between two unrelated
 * servers, and when the other one stops its share is reset. A bind without
 * it fails while anyone listens there, so the first socket on an address
 * is preceded by this check. 0, or -1 (logged) if the address is taken. */
static int
proc_listen_free(const struct cfg_listener *l)
{
	int	fd, one = 1, rc = 0;

	if ((fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) == -1) {
		log_warn("cannot listen on %s%s", l->listen, errno == EADDRINUSE ?
		    " (another process listens there)" : "");
		rc = -1;
	}
	close(fd);
	return rc;
}

static int
proc_listen(const struct cfg_listener *l)
{
	int	fd, one = 1;

	if ((fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1 ||
	    bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) == -1 ||
	    listen(fd, 1024) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The relay workers write the access log from their event loops: a full
 * pipe or a stalled journal must not stop them (they drop lines and count
 * them instead). A file on disk never fills up like that; a socket (the
 * journal's stream) is written with MSG_DONTWAIT; a pipe or terminal gets
 * a description of its own to set O_NONBLOCK on, since the one stderr
 * shares with every process must stay blocking for their log lines. */
static void
proc_access_nonblocking(struct runtime *rt)
{
	struct stat	st;
	char		path[64];
	int		fd;

	rt->access_sock = 0;
	if (fstat(rt->access_fd, &st) == -1 || S_ISREG(st.st_mode))
		return;
	if (S_ISSOCK(st.st_mode)) {
		rt->access_sock = 1;
		return;
	}
	if (rt->access_fd != STDERR_FILENO) {
		if (fcntl(rt->access_fd, F_SETFL, fcntl(rt->access_fd,
		    F_GETFL) | O_NONBLOCK) == -1)
			log_warn("access log: cannot make it non-blocking");
		return;
	}
	if (str_printf(path, sizeof(path), "/proc/self/fd/%d",
	    STDERR_FILENO) == -1 || (fd = open(path, O_WRONLY | O_APPEND |
	    O_NONBLOCK | O_CLOEXEC)) == -1) {
		log_warn("access log: cannot reopen stderr non-blocking; "
		    "a stalled reader of stderr will stall the relay");
		return;
	}
	rt->access_fd = fd;
}

/* Opens the sockets, the access log and the shared counters for rt's
 * configuration. Sockets of slots that old already has on the same
 * addresses are taken over, not reopened: connections waiting in their
 * backlog are not lost across a reload. 0 or -1 (logged). */
static int
proc_open(struct runtime *rt, struct runtime *old)
{
	struct config	*cf = rt->cf;
	unsigned	 s;
	int		 k, same, ours[LISTENER_COUNT] = { 0 };

	for (s = 0; s < cf->workers; s++)
		for (k = 0; k < LISTENER_COUNT; k++) {
			same = old != NULL && s < old->cf->workers &&
			    old->listen_fd[s][k] != -1 &&
			    strcmp(old->cf->listeners[k].listen,
			    cf->listeners[k].listen) == 0;
			if (same) {
				rt->listen_fd[s][k] = old->listen_fd[s][k];
				old->listen_fd[s][k] = -1;
				ours[k] = 1;
				continue;
			}
			/* Ours or no one's: never join another's port. */
			if (!ours[k] && proc_listen_free(&cf->listeners[k]) == -1)
				return -1;
			ours[k] = 1;
			if ((rt->listen_fd[s][k] = proc_listen(
			    &cf->listeners[k])) == -1) {
				log_warn("cannot listen on %s",
				    cf->listeners[k].listen);
				return -1;
			}
		}
	if (strcmp(cf->access_log, "-") == 0)
		rt->access_fd = STDERR_FILENO;
	else if ((rt->access_fd = open(cf->access_log, O_WRONLY | O_APPEND |
	    O_CREAT | O_CLOEXEC, 0640)) == -1) {
		log_warn("cannot open access log %s", cf->access_log);
		return -1;
	}
	proc_access_nonblocking(rt);
	/* Each configuration generation counts its own connections: agency
	 * indexes may differ between two configurations. */
	rt->shm = mmap(NULL, sizeof(*rt->shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rt->shm == MAP_FAILED) {
		log_warn("mmap");
		rt->shm = NULL;
		return -1;
	}
	if ((rt->metrics = metrics_map(cf->workers)) == NULL)
		return -1;
	return 0;
}

/* Releases what proc_open made (sockets still held, access log, map). */
static void
proc_release(struct runtime *rt)
{
	unsigned	s;
	int		k;

	for (s = 0; s < CFG_MAX_WORKERS; s++)
		for (k = 0; k < LISTENER_COUNT; k++)
			if (rt->listen_fd[s][k] != -1) {
				close(rt->listen_fd[s][k]);
				rt->listen_fd[s][k] = -1;
			}
	if (rt->access_fd > STDERR_FILENO)
		close(rt->access_fd);
	rt->access_fd = -1;
	if (rt->shm != NULL)
		munmap(rt->shm, sizeof(*rt->shm));
	rt->shm = NULL;
	metrics_unmap(rt->metrics);
	rt->metrics = NULL;
}

static void
proc_close_listeners(struct runtime *rt)
{
	unsigned	s;
	int		k;

	for (s = 0; s < rt->cf->workers; s++)
		for (k = 0; k < LISTENER_COUNT; k++)
			if (rt->listen_fd[s][k] != -1) {
				close(rt->listen_fd[s][k]);
				rt->listen_fd[s][k] = -1;
			}
}

static void
proc_child_signals(void)
{
	sigset_t	empty;

	/* A role whose parent is gone (kill -9) drains and exits instead of
	 * holding the sockets against the next gatewayd. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
	    getppid() != proc_parent)
		_exit(0);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
}

static void
proc_spawn(struct runtime *rt, unsigned slot)
{
	pid_t		pid;
	unsigned	s;
	int		k, sv[2];

	/* Each worker gets a fresh channel to the keeper: nothing a dead
	 * worker half-wrote can be read as its successor's. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    ipc_send_fd(proc_keeper_ctl, slot, sv[1]) == -1) {
		log_warn("%s: keeper channel", __func__);
		proc_workers[slot].restart_at = now_ms() + PROC_RESTART_DELAY_MS;
		return;
	}
	close(sv[1]);
	fflush(NULL);
	if ((pid = fork()) == -1) {
		log_warn("%s: fork", __func__);
		close(sv[0]);
		proc_workers[slot].restart_at = now_ms() + PROC_RESTART_DELAY_MS;
		return;
	}
	if (pid == 0) {
		/* The worker keeps only its own slot's sockets. */
		for (s = 0; s < rt->cf->workers; s++)
			for (k = 0; k < LISTENER_COUNT; k++)
				if (s != slot)
					close(rt->listen_fd[s][k]);
		close(proc_keeper_ctl);
		proc_child_signals();
		exit(relay_main(rt, slot, sv[0]) == 0 ? 0 : 1);
	}
	close(sv[0]);
	/* A sandbox probe is for the first worker only, once: its restart
	 * is what the test wants to see. */
	unsetenv("GATEWAY_SANDBOX_PROBE");
	proc_workers[slot].pid = pid;
	proc_workers[slot].started_ms = now_ms();
	proc_workers[slot].restart_at = 0;
	log_info("relay worker %u started (pid %ld)", slot, (long)pid);
}

/* Starts the keeper and waits until it has opened and checked the audit
 * log: a keeper that refuses the log stops the whole start. 0 or -1. */
static int
proc_spawn_keeper(struct runtime *rt)
{
	struct pollfd	pfd;
	pid_t		pid;
	unsigned	s;
	int		k, sv[2];
	char		ready;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", __func__);
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		log_warn("%s: fork", __func__);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		for (s = 0; s < CFG_MAX_WORKERS; s++)
			for (k = 0; k < LISTENER_COUNT; k++)
				if (rt->listen_fd[s][k] != -1)
					close(rt->listen_fd[s][k]);
		close(sv[0]);
		if (proc_keeper_ctl != -1)
			close(proc_keeper_ctl);
		proc_child_signals();
		exit(keeper_main(rt->cf, sv[1], rt->kmetrics));
	}
	close(sv[1]);
	if (proc_keeper_ctl != -1)
		close(proc_keeper_ctl);
	proc_keeper_ctl = sv[0];
	proc_keeper.pid = pid;
	proc_keeper.started_ms = now_ms();
	proc_keeper.restart_at = 0;
	pfd.fd = sv[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, PROC_KEEPER_START_MS) != 1 ||
	    read(sv[0], &ready, 1) != 1 || ready != 'R') {
		log_warnx("the keeper did not start (see its messages above)");
		return -1;
	}
	log_info("keeper started (pid %ld)", (long)pid);
	return 0;
}

/* Starts the courier with a fresh channel to the keeper (which re-sends
 * whatever the previous courier left unreported). */
static void
proc_spawn_courier(struct runtime *rt)
{
	pid_t		pid;
	unsigned	s;
	int		k, sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    ipc_send_fd(proc_keeper_ctl, IPC_SLOT_COURIER, sv[1]) == -1) {
		log_warn("%s: keeper channel", __func__);
		proc_courier.restart_at = now_ms() + PROC_RESTART_DELAY_MS;
		return;
	}
	close(sv[1]);
	fflush(NULL);
	if ((pid = fork()) == -1) {
		log_warn("%s: fork", __func__);
		close(sv[0]);
		proc_courier.restart_at = now_ms() + PROC_RESTART_DELAY_MS;
		return;
	}
	if (pid == 0) {
		for (s = 0; s < CFG_MAX_WORKERS; s++)
			for (k = 0; k < LISTENER_COUNT; k++)
				if (rt->listen_fd[s][k] != -1)
					close(rt->listen_fd[s][k]);
		close(proc_keeper_ctl);
		proc_child_signals();
		exit(courier_main(rt->cf, sv[0]));
	}
	close(sv[0]);
	proc_courier.pid = pid;
	proc_courier.started_ms = now_ms();
	proc_courier.restart_at = 0;
	log_info("courier started (pid %ld)", (long)pid);
}

/* A role (keeper, courier) exited: say how, and schedule its restart
 * unless stopping (after a pause if it died young: no crash loop). */
static void
proc_reaped(struct proc_worker *w, const char *role, int st, int stopping,
    uint64_t now)
{
	pid_t	pid = w->pid;

	w->pid = 0;
	if (WIFSIGNALED(st))
		log_warnx("%s (pid %ld) killed by signal %d", role, (long)pid,
		    WTERMSIG(st));
	else if (!stopping || WEXITSTATUS(st) != 0)
		log_warnx("%s (pid %ld) exited with status %d", role, (long)pid,
		    WEXITSTATUS(st));
	if (!stopping)
		w->restart_at = now + (now - w->started_ms < PROC_YOUNG_MS ?
		    PROC_RESTART_DELAY_MS : 0);
}

/* Reaps exited workers; schedules restarts unless stopping. */
static unsigned
proc_reap(struct runtime *rt, int stopping)
{
	unsigned	s, alive = 0;
	pid_t		pid;
	int		st;
	uint64_t	now = now_ms();

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == proc_keeper.pid) {
			proc_reaped(&proc_keeper, "keeper", st, stopping, now);
			continue;
		}
		if (pid == proc_courier.pid) {
			proc_reaped(&proc_courier, "courier", st, stopping, now);
			continue;
		}
		for (s = 0; s < nitems(proc_retiring); s++)
			if (proc_retiring[s] == pid) {
				proc_retiring[s] = 0;
				log_info("relay worker of the previous configuration "
				    "(pid %ld) has drained", (long)pid);
			}
		for (s = 0; s < rt->cf->workers; s++) {
			if (proc_workers[s].pid != pid)
				continue;
			proc_workers[s].pid = 0;
			/* Its connections died with it: free its share of
			 * the caps before a successor counts again. */
			memset(&rt->shm->slot[s], 0, sizeof(rt->shm->slot[s]));
			if (WIFSIGNALED(st))
				log_warnx("relay worker %u (pid %ld) killed by "
				    "signal %d", s, (long)pid, WTERMSIG(st));
			else if (!stopping || WEXITSTATUS(st) != 0)
				log_warnx("relay worker %u (pid %ld) exited "
				    "with status %d", s, (long)pid,
				    WEXITSTATUS(st));
			if (!stopping)
				proc_workers[s].restart_at = now +
				    (now - proc_workers[s].started_ms <
				    PROC_YOUNG_MS ? PROC_RESTART_DELAY_MS : 0);
		}
	}
	for (s = 0; s < rt->cf->workers; s++)
		if (proc_workers[s].pid != 0)
			alive++;
	for (s = 0; s < nitems(proc_retiring); s++)
		if (proc_retiring[s] != 0)
			alive++;
	if (proc_courier.pid != 0)
		alive++;
	return alive + (proc_keeper.pid != 0);
}

static void
proc_signal_all(struct runtime *rt, int sig)
{
	unsigned	s;

	for (s = 0; s < rt->cf->workers; s++)
		if (proc_workers[s].pid > 0)
			kill(proc_workers[s].pid, sig);
	for (s = 0; s < nitems(proc_retiring); s++)
		if (proc_retiring[s] > 0)
			kill(proc_retiring[s], sig);
	if (proc_courier.pid > 0)
		kill(proc_courier.pid, sig);
}

static void
proc_retire(pid_t pid)
{
	size_t	i;

	kill(pid, SIGTERM);
	for (i = 0; i < nitems(proc_retiring); i++)
		if (proc_retiring[i] == 0) {
			proc_retiring[i] = pid;
			return;
		}
	log_warnx("too many draining workers; pid %ld is left alone",
	    (long)pid);
}

/* SIGHUP: read the configuration, certificates, CRL, pins and keys again
 * and test them; on any error keep serving with what runs. Otherwise new
 * workers take the new configuration on the same sockets while the old
 * ones finish their exchanges. The keeper keeps running. */
static void
proc_reload(struct runtime *rt)
{
	struct runtime		 nrt, old;
	struct trust_manifest	 tm;
	unsigned		 s;

	log_info("reload: reading %s", rt->cf->path);
	sd_notify(0, "RELOADING=1");
	memset(&nrt, 0, sizeof(nrt));
	memset(&tm, 0, sizeof(tm));
	memset(nrt.listen_fd, -1, sizeof(nrt.listen_fd));
	nrt.access_fd = -1;
	nrt.kmetrics = rt->kmetrics;
	str_copy(nrt.log_vkey, sizeof(nrt.log_vkey), rt->log_vkey);
	if ((nrt.cf = config_load(rt->cf->path)) == NULL ||
	    runtime_tls_load(&nrt) == -1) {
		log_warnx("reload: the new configuration has errors (above); "
		    "still serving with the running one");
		goto fail;
	}
	if (nrt.cf->keeper.accounts[0] != '\0') {
		struct registry	*reg;

		if (registry_load(nrt.cf->keeper.accounts, &reg) == -1) {
			log_warnx("reload: the account registry %s has errors "
			    "(above); still serving with the running "
			    "configuration", nrt.cf->keeper.accounts);
			goto fail;
		}
		registry_free(reg);
	}
	if (strcmp(nrt.cf->keeper.database, rt->cf->keeper.database) != 0 ||
	    strcmp(nrt.cf->keeper.checkpoint_file,
	    rt->cf->keeper.checkpoint_file) != 0 ||
	    strcmp(nrt.cf->keeper.origin, rt->cf->keeper.origin) != 0 ||
	    strcmp(nrt.cf->keeper.log_key, rt->cf->keeper.log_key) != 0) {
		log_warnx("reload: [keeper] settings changed; they need a "
		    "restart; still serving with the running configuration");
		goto fail;
	}
	/* Every change of trust is logged: a reload whose files cannot all
	 * be read and hashed does not take effect. */
	if (trust_build(nrt.cf, TRUST_RELOAD, &tm) == -1) {
		log_warnx("reload: still serving with the running configuration");
		goto fail;
	}
	if (proc_open(&nrt, rt) == -1) {
		log_warnx("reload: still serving with the running configuration");
		/* Sockets taken over go back to the running generation. */
		for (s = 0; s < CFG_MAX_WORKERS; s++) {
			int k;

			for (k = 0; k < LISTENER_COUNT; k++)
				if (rt->listen_fd[s][k] == -1 &&
				    nrt.listen_fd[s][k] != -1 &&
				    s < rt->cf->workers) {
					rt->listen_fd[s][k] = nrt.listen_fd[s][k];
					nrt.listen_fd[s][k] = -1;
				}
		}
		goto fail;
	}
	/* The keeper cannot open files: it reads the registry we open. */
	if (nrt.cf->keeper.accounts[0] != '\0') {
		int rfd = open(nrt.cf->keeper.accounts, O_RDONLY | O_CLOEXEC);

		if (rfd == -1 || ipc_send_fd(proc_keeper_ctl, IPC_SLOT_REGISTRY,
		    rfd) == -1)
			log_warn("reload: cannot hand the registry to the keeper");
		if (rfd != -1)
			close(rfd);
	}
	/* After the registry: the keeper logs the manifest once the new
	 * registry is its own. */
	if (trust_send(proc_keeper_ctl, &tm) == -1)
		log_warnx("reload: cannot hand the trust manifest to the keeper; "
		    "this reload has no trust entry");
	trust_free(&tm);
	old = *rt;
	*rt = nrt;
	for (s = 0; s < old.cf->workers; s++)
		if (proc_workers[s].pid > 0) {
			proc_retire(proc_workers[s].pid);
			proc_workers[s].pid = 0;
		}
	for (s = 0; s < rt->cf->workers; s++)
		proc_spawn(rt, s);
	/* The old generation's workers have their own copies (fork). */
	proc_release(&old);
	runtime_tls_free(&old);
	config_free(old.cf);
	log_info("reload: done; %u workers on the new configuration",
	    rt->cf->workers);
	sd_notify(0, "READY=1\nSTATUS=serving (reloaded)");
	return;
fail:
	trust_free(&tm);
	proc_release(&nrt);
	runtime_tls_free(&nrt);
	config_free(nrt.cf);
	sd_notify(0, "READY=1\nSTATUS=serving (reload failed)");
}

int
proc_run(struct runtime *rt)
{
	struct trust_manifest	 tm;
	sigset_t	 set;
	siginfo_t	 si;
	struct timespec	 ts = { 0, 200 * 1000000 };
	uint64_t	 deadline = 0, watchdog_us = 0, last_watchdog = 0;
	unsigned	 s, alive;
	int		 sig, stopping = 0, keeper_signalled = 0;

	memset(rt->listen_fd, -1, sizeof(rt->listen_fd));
	rt->access_fd = -1;
	proc_parent = getpid();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if ((rt->kmetrics = metrics_keeper_map()) == NULL)
		fatal("mmap");
	/* The files in force at start-up, logged before any exchange: the
	 * keeper takes them before the first relay's channel. */
	if (trust_build(rt->cf, TRUST_START, &tm) == -1)
		return 1;
	if (proc_spawn_keeper(rt) == -1 || trust_send(proc_keeper_ctl,
	    &tm) == -1) {
		trust_free(&tm);
		if (proc_keeper.pid > 0) {
			kill(proc_keeper.pid, SIGKILL);
			waitpid(proc_keeper.pid, NULL, 0);
		}
		return 1;
	}
	trust_free(&tm);
	if (proc_open(rt, NULL) == -1) {
		kill(proc_keeper.pid, SIGUSR1);
		waitpid(proc_keeper.pid, NULL, 0);
		return 1;
	}
	for (s = 0; s < rt->cf->workers; s++)
		proc_spawn(rt, s);
	proc_spawn_courier(rt);
	log_info("gatewayd ready: agency %s, admin %s, %u workers",
	    rt->cf->listeners[LISTENER_AGENCY].listen,
	    rt->cf->listeners[LISTENER_ADMIN].listen, rt->cf->workers);
	sd_notify(0, "READY=1\nSTATUS=serving");
	if (sd_watchdog_enabled(0, &watchdog_us) <= 0)
		watchdog_us = 0;

	for (;;) {
		/* The watchdog is fed while the keeper is up: a parent that
		 * cannot keep the log running should be restarted. */
		if (watchdog_us > 0 && proc_keeper.pid != 0 &&
		    now_ms() - last_watchdog >= watchdog_us / 2000) {
			sd_notify(0, "WATCHDOG=1");
			last_watchdog = now_ms();
		}
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping) {
				stopping = 1;
				log_info("stopping: draining workers (up to %llu ms)",
				    (unsigned long long)rt->cf->shutdown_timeout_ms);
				sd_notify(0, "STOPPING=1");
				/* Closed here and in the workers: new
				 * connections are refused from now on. */
				proc_close_listeners(rt);
				proc_signal_all(rt, SIGTERM);
				deadline = now_ms() + rt->cf->shutdown_timeout_ms +
				    2000;
			}
		} else if (sig == SIGHUP && !stopping)
			proc_reload(rt);
		alive = proc_reap(rt, stopping);
		if (stopping) {
			/* The keeper goes last, once no worker can append. */
			if (alive == (proc_keeper.pid != 0) && proc_keeper.pid != 0 &&
			    !keeper_signalled) {
				kill(proc_keeper.pid, SIGUSR1);
				keeper_signalled = 1;
			}
			if (alive == 0)
				break;
			if (now_ms() > deadline) {
				log_warnx("workers did not stop in time; killing");
				proc_signal_all(rt, SIGKILL);
				if (proc_keeper.pid > 0 && !keeper_signalled) {
					kill(proc_keeper.pid, SIGUSR1);
					keeper_signalled = 1;
				}
				deadline = UINT64_MAX;
			}
			continue;
		}
		if (proc_keeper.pid == 0 && proc_keeper.restart_at != 0 &&
		    now_ms() >= proc_keeper.restart_at) {
			/* Workers hold channels to the dead keeper: they drain
			 * and come back with channels to the new one. */
			if (proc_spawn_keeper(rt) == -1) {
				log_warnx("cannot restart the keeper; stopping");
				kill(getpid(), SIGTERM);
				proc_keeper.restart_at = 0;
			} else
				proc_signal_all(rt, SIGTERM);
		}
		if (proc_courier.pid == 0 && proc_courier.restart_at != 0 &&
		    now_ms() >= proc_courier.restart_at && proc_keeper.pid != 0)
			proc_spawn_courier(rt);
		for (s = 0; s < rt->cf->workers; s++)
			if (proc_workers[s].pid == 0 &&
			    proc_workers[s].restart_at != 0 &&
			    now_ms() >= proc_workers[s].restart_at &&
			    proc_keeper.pid != 0)
				proc_spawn(rt, s);
	}
	log_info("stopped");
	proc_release(rt);
	return 0;
}
