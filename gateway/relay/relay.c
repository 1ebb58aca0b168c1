/* A relay worker: one event loop on its own SO_REUSEPORT sockets, holding
 * TLS server keys and upstream client keys but never a signing key. */
#include <sys/random.h>
#include <sys/socket.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/evp.h>

#include "config.h"
#include "log.h"
#include "net/upstream.h"
#include "relay/relay.h"
#include "runtime.h"
#include "sandbox.h"
#include "util.h"

static void
relay_accept_agency(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	conn_accept(arg, LISTENER_AGENCY, fd, sa, len);
}

static void
relay_accept_admin(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	conn_accept(arg, LISTENER_ADMIN, fd, sa, len);
}

static void
relay_accept_error(struct evconnlistener *l, void *arg)
{
	/* EMFILE and friends: keep serving the connections we have. */
	log_warn("%s: accept", __func__);
}

/* One worker's share of a limit over all workers, rounded up. */
static unsigned
relay_share(uint64_t limit, unsigned workers)
{
	return (unsigned)((limit + workers - 1) / workers);
}

void
relay_request_id(struct relay *r, char *dst, size_t dsz)
{
	str_printf(dst, dsz, "%s%08llx", r->id_prefix,
	    (unsigned long long)(++r->serial & 0xffffffffULL));
}

/* A draining worker exits once its connections are gone and every audit
 * entry it sent is acknowledged: the exchanges were answered, their entries
 * must reach the keeper before the channel closes. */
void
relay_conn_gone(struct relay *r)
{
	if (r->draining && r->nconns == 0 &&
	    (r->keeper == NULL || TAILQ_EMPTY(&r->appends)))
		event_base_loopexit(r->base, NULL);
}

/* At the drain deadline the exchanges still open are cut, each with its
 * audit entry (every exchange has one); the worker exits once the keeper
 * acknowledged them, or a second later (the parent allows two). */
static void
relay_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct relay		*r = arg;
	struct relay_conn	*c;
	struct timeval		 tv = { 1, 0 };

	if (r->nconns == 0) {
		log_warnx("%s: the keeper did not acknowledge every entry",
		    __func__);
		event_base_loopexit(r->base, NULL);
		return;
	}
	log_warnx("%s: %u connections still open at the drain deadline",
	    __func__, r->nconns);
	evtimer_add(r->ev_drain, &tv);
	while ((c = TAILQ_FIRST(&r->conns)) != NULL) {
		if (c->state != CONN_READING && c->state != CONN_WAITING) {
			conn_free(c);
			continue;
		}
		if (c->code == NULL)
			c->code = "shutting-down";
		conn_abort(c, "the drain deadline passed");
	}
}

static void
relay_sigterm(evutil_socket_t sig, short what, void *arg)
{
	relay_drain(arg);
}

/* Stops accepting, lets in-flight exchanges finish, then exits: on SIGTERM,
 * and when the keeper channel is gone for good. */
void
relay_drain(struct relay *r)
{
	struct relay_conn	*c, *next;
	struct timeval		 tv;
	int			 k;

	if (r->draining)
		return;
	r->draining = 1;
	for (k = 0; k < LISTENER_COUNT; k++)
		if (r->lis[k] != NULL) {
			evconnlistener_free(r->lis[k]);
			r->lis[k] = NULL;
		}
	log_info("draining %u connections", r->nconns);
	for (c = TAILQ_FIRST(&r->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_drain(c);
	}
	relay_conn_gone(r);
	tv.tv_sec = (time_t)(r->cf->shutdown_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(r->cf->shutdown_timeout_ms % 1000) * 1000;
	r->ev_drain = evtimer_new(r->base, relay_drain_deadline, r);
	if (r->ev_drain != NULL)
		evtimer_add(r->ev_drain, &tv);
}

static void
relay_free(struct relay *r)
{
	struct relay_conn	*c;
	size_t			 i;
	int			 k;

	while ((c = TAILQ_FIRST(&r->conns)) != NULL)
		conn_free(c);
	audit_free(r);
	access_free(r);
	for (k = 0; k < LISTENER_COUNT; k++)
		if (r->lis[k] != NULL)
			evconnlistener_free(r->lis[k]);
	for (i = 0; i < r->cf->nupstreams; i++)
		upstream_pool_free(r->pools[i]);
	if (r->ev_term != NULL)
		event_free(r->ev_term);
	if (r->ev_int != NULL)
		event_free(r->ev_int);
	if (r->ev_drain != NULL)
		event_free(r->ev_drain);
	event_base_free(r->base);
	EVP_MD_free(r->sha256);
}

int
relay_main(struct runtime *rt, unsigned slot, int keeper_fd)
{
	struct relay		 r;
	struct event_config	*ecfg;
	struct sandbox_spec	 sb;
	int			 keep[4];
	sigset_t		 block;
	unsigned char		 rnd[4];
	size_t			 i;
	int			 k;
	evconnlistener_cb	 cbs[LISTENER_COUNT] = {
		[LISTENER_AGENCY] = relay_accept_agency,
		[LISTENER_ADMIN] = relay_accept_admin,
	};

	log_set_role("relay");
	memset(&sb, 0, sizeof(sb));
	sb.role = SANDBOX_RELAY;
	keep[0] = rt->listen_fd[slot][LISTENER_AGENCY];
	keep[1] = rt->listen_fd[slot][LISTENER_ADMIN];
	keep[2] = keeper_fd;
	keep[3] = rt->access_fd;
	sb.keep_fds = keep;
	sb.nkeep = nitems(keep);
	sb.uid = geteuid() == 0 ? rt->cf->uid : (uid_t)-1;
	sb.gid = rt->cf->gid;
	/* Every connection may need an upstream one; handshakes and
	 * lingering closes have budgets of their own; plus some slack. */
	sb.max_files = 2 * rt->cf->limits.max_connections +
	    rt->cf->limits.max_handshakes + CONN_MAX_LINGER + 256;
	sb.enforce = rt->cf->sandbox;
	sandbox_close_fds(&sb);
	memset(&r, 0, sizeof(r));
	r.rt = rt;
	r.cf = rt->cf;
	r.slot = slot;
	r.ms = &rt->metrics->slot[slot];
	TAILQ_INIT(&r.conns);
	TAILQ_INIT(&r.handshakes);
	/* The kernel spreads connections over the workers: each takes its
	 * share of the handshake budgets. */
	r.hs_budget = relay_share(r.cf->limits.max_handshakes, r.cf->workers);
	r.hs_per_address = relay_share(r.cf->limits.max_handshakes_per_address,
	    r.cf->workers);
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		fatal("%s: getrandom", __func__);
	hex_encode(r.id_prefix, rnd, sizeof(rnd));
	/* The changelist folds an event enabled and disabled in the same
	 * pass into no epoll_ctl at all: system calls are the cost here. */
	if ((ecfg = event_config_new()) == NULL ||
	    event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) ||
	    (r.base = event_base_new_with_config(ecfg)) == NULL ||
	    event_base_priority_init(r.base, 3) == -1 || access_init(&r) == -1)
		fatalx("%s: event base", __func__);
	event_config_free(ecfg);
	for (k = 0; k < LISTENER_COUNT; k++) {
		r.lis[k] = evconnlistener_new(r.base, cbs[k], &r,
		    LEV_OPT_CLOSE_ON_FREE, -1, rt->listen_fd[slot][k]);
		if (r.lis[k] == NULL)
			fatalx("%s: evconnlistener_new failed", __func__);
		evconnlistener_set_error_cb(r.lis[k], relay_accept_error);
	}
	if ((r.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		fatalx("%s: no SHA-256", __func__);
	if (audit_init(&r, keeper_fd) == -1)
		fatalx("%s: cannot set up the keeper channel", __func__);
	for (i = 0; i < r.cf->nupstreams; i++)
		if ((r.pools[i] = upstream_pool_new(r.base, &r.cf->upstreams[i],
		    rt->upstream_ctx[i])) == NULL)
			fatalx("%s: cannot make upstream pools", __func__);
	r.ev_term = evsignal_new(r.base, SIGTERM, relay_sigterm, &r);
	r.ev_int = evsignal_new(r.base, SIGINT, relay_sigterm, &r);
	if (r.ev_term == NULL || r.ev_int == NULL ||
	    evsignal_add(r.ev_term, NULL) == -1 ||
	    evsignal_add(r.ev_int, NULL) == -1)
		fatalx("%s: cannot watch signals", __func__);
	if (sandbox_enter(&sb) == -1)
		fatalx("relay: cannot enter the sandbox");
	sandbox_probe();
	atomic_fetch_add(&rt->shm->workers_alive, 1);
	log_debug("worker %u ready", slot);
	event_base_dispatch(r.base);
	/* Freeing the events restores default handlers: a second SIGTERM
	 * must not cut the clean exit short, so it stays pending. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	atomic_fetch_sub(&rt->shm->workers_alive, 1);
	relay_free(&r);
	return 0;
}
