/* Load-generator thread: an edge-triggered epoll loop over its share of the
 * connections until the deadline, with a coarse timer scan for timeouts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <openssl/err.h>

#include "log.h"
#include "loadgen_clock.h"
#include "loadgen_conn.h"
#include "loadgen_worker.h"

/* Timeouts need millisecond resolution at best; scanning every connection
 * more often would cost more than it buys. */
#define LOADGEN_WORKER_SCAN_US	10000u
#define LOADGEN_WORKER_EVENTS	256

/* --rate: sends every paced connection whose slot has come and returns the
 * earliest slot still ahead (UINT64_MAX if none). Paced connections are served
 * at their slot, not at the coarse scan, which would cap each one at a hundred
 * requests a second. */
static uint64_t
loadgen_worker_pace(struct loadgen_conn *conns, unsigned n, uint64_t now)
{
	uint64_t	next = UINT64_MAX;
	unsigned	i;

	for (i = 0; i < n; i++) {
		if (conns[i].state != LOADGEN_CONN_PACED)
			continue;
		if (now >= conns[i].next_us)
			loadgen_conn_tick(&conns[i], now);
		if (conns[i].state == LOADGEN_CONN_PACED && conns[i].next_us < next)
			next = conns[i].next_us;
	}
	return next;
}

static int
loadgen_worker_loop(struct loadgen_worker *w, struct loadgen_env *env,
    struct loadgen_conn *conns)
{
	struct epoll_event	evs[LOADGEN_WORKER_EVENTS];
	uint64_t		now, last_scan, next_pace = UINT64_MAX;
	unsigned		i;
	int			n, timeout, pace_ms;

	now = last_scan = loadgen_clock_us();
	for (i = 0; i < w->nconns; i++)
		loadgen_conn_start(&conns[i], now);
	while ((now = loadgen_clock_us()) < w->end_us) {
		timeout = (int)((w->end_us - now) / 1000u) + 1;
		if (w->warm_us != 0 && w->warm_us > now &&
		    timeout > (int)((w->warm_us - now) / 1000u) + 1)
			timeout = (int)((w->warm_us - now) / 1000u) + 1;
		if (timeout > (int)(LOADGEN_WORKER_SCAN_US / 1000u))
			timeout = (int)(LOADGEN_WORKER_SCAN_US / 1000u);
		if (next_pace != UINT64_MAX) {
			pace_ms = next_pace > now ?
			    (int)((next_pace - now + 999u) / 1000u) : 0;
			if (timeout > pace_ms)
				timeout = pace_ms;
		}
		n = epoll_wait(env->epfd, evs, LOADGEN_WORKER_EVENTS, timeout);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s: epoll_wait", __func__);
			return -1;
		}
		for (i = 0; i < (unsigned)n; i++)
			loadgen_conn_event(evs[i].data.ptr, evs[i].events);
		now = loadgen_clock_us();
		/* End of the warm-up: what came before is not counted. Requests
		 * in flight count when their answer comes. */
		if (w->warm_us != 0 && now >= w->warm_us) {
			memset(&w->stats, 0, sizeof(w->stats));
			w->warm_us = 0;
		}
		if (env->opts->pace_us != 0)
			next_pace = loadgen_worker_pace(conns, w->nconns, now);
		if (now - last_scan >= LOADGEN_WORKER_SCAN_US) {
			for (i = 0; i < w->nconns; i++)
				loadgen_conn_tick(&conns[i], now);
			last_scan = now;
		}
	}
	return 0;
}

static void *
loadgen_worker_main(void *arg)
{
	struct loadgen_worker	*w = arg;
	struct loadgen_env	*env;
	struct loadgen_conn	*conns;
	unsigned		 i;

	/* Heap, not stack: the env holds the 16 KiB read buffer. */
	env = calloc(1, sizeof(*env));
	conns = calloc(w->nconns, sizeof(*conns));
	if (env == NULL || conns == NULL) {
		log_warn("%s: calloc", __func__);
		free(env);
		free(conns);
		w->rc = -1;
		return NULL;
	}
	env->opts = w->opts;
	env->reqs = w->reqs;
	env->ctxs = w->ctxs;
	env->nreqs = w->nreqs;
	env->stats = &w->stats;
	env->end_us = w->end_us;
	env->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (env->epfd == -1) {
		log_warn("%s: epoll_create1", __func__);
		w->rc = -1;
	} else {
		for (i = 0; i < w->nconns && w->rc == 0; i++)
			if (loadgen_conn_init(&conns[i], env, w->first + i) == -1)
				w->rc = -1;
		if (w->rc == 0)
			w->rc = loadgen_worker_loop(w, env, conns);
		/* Requests still in flight at the deadline are neither answers
		 * nor errors, but are reported: a stalled server shows there
		 * when the run is shorter than --timeout. */
		for (i = 0; i < w->nconns; i++) {
			if (conns[i].env == NULL)
				continue;	/* init never reached it */
			if (loadgen_conn_busy(&conns[i]))
				w->stats.in_flight++;
			loadgen_conn_close(&conns[i]);
			loadgen_conn_free(&conns[i]);
		}
		close(env->epfd);
	}
	free(conns);
	free(env);
	/* OpenSSL keeps a per-thread error queue; release it with the thread. */
	OPENSSL_thread_stop();
	return NULL;
}

int
loadgen_worker_start(struct loadgen_worker *w)
{
	int	err;

	memset(&w->stats, 0, sizeof(w->stats));
	w->rc = 0;
	err = pthread_create(&w->thread, NULL, loadgen_worker_main, w);
	if (err != 0) {
		errno = err;
		log_warn("%s: pthread_create", __func__);
		return -1;
	}
	w->started = 1;
	return 0;
}

int
loadgen_worker_join(struct loadgen_worker *w)
{
	if (!w->started)
		return -1;
	(void)pthread_join(w->thread, NULL);
	w->started = 0;
	return w->rc;
}
