/* The courier process: the keeper channel, one TLS client context and pool
 * per upstream, and one exchange per delivery order in flight. It keeps
 * nothing across a restart: the keeper holds every order until it hears. */
#include <sys/prctl.h>
#include <sys/queue.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "config.h"
#include "courier/courier.h"
#include "courier/exchange.h"
#include "courier/validate.h"
#include "ipc.h"
#include "log.h"
#include "net/tls.h"
#include "net/upstream.h"
#include "sandbox.h"
#include "util.h"

/* Orders held at once; beyond it the answer is "courier busy" (retry).
 * The keeper sends a small window per upstream, so this is a safety bound,
 * not a working figure. */
#define COURIER_MAX_INFLIGHT	1024

struct courier;

/* One order, queued behind its upstream's earlier ones or in flight. */
struct courier_job {
	TAILQ_ENTRY(courier_job)	 entry;
	struct courier			*c;
	uint64_t			 id;	/* the order's IPC id, echoed */
	uint64_t			 seq;
	uint32_t			 upstream;
	uint32_t			 epoch;
	int				 started;
	struct exchange			*x;	/* owned */
};

TAILQ_HEAD(courier_jobs, courier_job);

/* Everything the process holds; courier_free releases all of it. */
struct courier {
	struct config		*cf;		/* borrowed */
	struct event_base	*base;		/* owned, like all below */
	struct bufferevent	*keeper;	/* the channel */
	SSL_CTX			*ctx[CFG_MAX_UPSTREAMS];
	struct upstream_pool	*pools[CFG_MAX_UPSTREAMS];
	EVP_MD			*sha256;
	struct event		*ev_term, *ev_int;
	/* Per upstream, in the keeper's order: the head is in flight. */
	struct courier_jobs	 queue[CFG_MAX_UPSTREAMS];
	unsigned		 njobs;
	/* After a failure, orders of this epoch or older are skipped. */
	uint32_t		 blocked[CFG_MAX_UPSTREAMS];
	int			 is_blocked[CFG_MAX_UPSTREAMS];
	void			*msg;		/* IPC_MAX_PAYLOAD bytes */
	int			 stopping;
	int			 exit_code;
};

/* Leaves the event loop; whatever is in flight is dropped unreported. That
 * keeps exactly-once: the keeper sends every unreported order again after
 * a restart, and receivers honour the Idempotency-Key, so an order that did
 * arrive is not acted on twice. */
static void
courier_stop(struct courier *c, int code)
{
	if (c->stopping)
		return;
	c->stopping = 1;
	c->exit_code = code;
	if (c->keeper != NULL)
		bufferevent_disable(c->keeper, EV_READ);
	event_base_loopbreak(c->base);
}

static void
courier_reply(struct courier *c, uint64_t id, const struct ipc_delivered *r)
{
	if (c->keeper == NULL || c->stopping)
		return;
	if (ipc_send(bufferevent_get_output(c->keeper), IPC_DELIVERED, id, r,
	    sizeof(*r)) == -1) {
		log_warnx("%s: cannot queue the outcome of delivery %llu",
		    __func__, (unsigned long long)r->seq);
		courier_stop(c, 1);
	}
}

/* An answer without an exchange: refused or postponed on our side. */
static void
courier_answer(struct courier *c, uint64_t id, uint64_t seq, uint32_t outcome,
    const char *error)
{
	struct ipc_delivered	r;

	memset(&r, 0, sizeof(r));
	r.seq = seq;
	r.outcome = outcome;
	str_copy(r.error, sizeof(r.error), error);
	courier_reply(c, id, &r);
}

static void
courier_job_free(struct courier *c, struct courier_job *job)
{
	TAILQ_REMOVE(&c->queue[job->upstream], job, entry);
	c->njobs--;
	exchange_free(job->x);
	free(job);
}

/* Starts the head of upstream u's queue if it is not running yet. Its
 * exchange may end before exchange_start returns (courier_done, which
 * calls this again for the next one). */
static void
courier_next(struct courier *c, uint32_t u)
{
	struct courier_job	*job = TAILQ_FIRST(&c->queue[u]);

	if (job == NULL || job->started)
		return;
	job->started = 1;
	exchange_start(job->x);
}

/* exchange_done_cb: the exchange is over; report it, and after a failure
 * skip what was queued behind it (the keeper sends those again after the
 * failed row), then start the next. */
static void
courier_done(struct exchange *x, const struct ipc_delivered *r, void *arg)
{
	struct courier_job	*job = arg, *next;
	struct courier		*c = job->c;
	uint32_t		 u = job->upstream;

	(void)x;
	courier_reply(c, job->id, r);
	if (r->outcome != DELIVERY_OK) {
		c->is_blocked[u] = 1;
		c->blocked[u] = job->epoch;
	}
	courier_job_free(c, job);
	while ((next = TAILQ_FIRST(&c->queue[u])) != NULL &&
	    c->is_blocked[u] && next->epoch <= c->blocked[u]) {
		courier_answer(c, next->id, next->seq, DELIVERY_SKIPPED,
		    "an earlier row failed");
		courier_job_free(c, next);
	}
	courier_next(c, u);
}

/* An order we cannot take now: retry, and block its upstream's later
 * orders of the same epoch, which must not overtake it. */
static void
courier_postpone(struct courier *c, uint64_t id, const struct ipc_deliver *d,
    const char *why)
{
	c->is_blocked[d->upstream] = 1;
	if (d->epoch > c->blocked[d->upstream])
		c->blocked[d->upstream] = d->epoch;
	courier_answer(c, id, d->seq, DELIVERY_RETRY, why);
}

/* One message from the keeper. -1 when it breaks the protocol so badly that
 * no answer can be given (the parent restarts us on a non-zero exit). */
static int
courier_order(struct courier *c, const struct ipc_hdr *h)
{
	const struct ipc_deliver	*d = c->msg;
	struct courier_job		*job;
	const char			*why;

	if (h->type != IPC_DELIVER || h->len < sizeof(*d)) {
		log_warnx("%s: message of type %u and %u bytes from the "
		    "keeper, not a delivery order", __func__,
		    (unsigned)h->type, (unsigned)h->len);
		return -1;
	}
	if (validate_deliver(d, h->len, c->cf->nupstreams, &why) == -1) {
		/* A broken invariant in the keeper: never send it. */
		log_warnx("%s: delivery %llu refused: %s", __func__,
		    (unsigned long long)d->seq, why);
		courier_answer(c, h->id, d->seq, DELIVERY_REFUSED,
		    "malformed delivery");
		return 0;
	}
	if (c->is_blocked[d->upstream] && d->epoch <= c->blocked[d->upstream]) {
		courier_answer(c, h->id, d->seq, DELIVERY_SKIPPED,
		    "an earlier row failed");
		return 0;
	}
	if (c->njobs >= COURIER_MAX_INFLIGHT) {
		log_warnx("%s: delivery %llu postponed: %u in flight", __func__,
		    (unsigned long long)d->seq, c->njobs);
		courier_postpone(c, h->id, d, "courier busy");
		return 0;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		log_warn("%s: calloc", __func__);
		courier_postpone(c, h->id, d, "courier out of memory");
		return 0;
	}
	job->c = c;
	job->id = h->id;
	job->seq = d->seq;
	job->upstream = d->upstream;
	job->epoch = d->epoch;
	/* The exchange copies the order: c->msg is reused by the next one. */
	job->x = exchange_new(c->pools[d->upstream], c->sha256, d,
	    (const char *)c->msg + sizeof(*d), h->len - sizeof(*d),
	    courier_done, job);
	if (job->x == NULL) {
		free(job);
		courier_postpone(c, h->id, d, "courier out of memory");
		return 0;
	}
	TAILQ_INSERT_TAIL(&c->queue[d->upstream], job, entry);
	c->njobs++;
	/* One at a time per upstream, in order: it waits if one runs. */
	courier_next(c, d->upstream);
	return 0;
}

static void
courier_read(struct bufferevent *bev, void *arg)
{
	struct courier	*c = arg;
	struct ipc_hdr	 h;
	int		 rc;

	while (!c->stopping &&
	    (rc = ipc_recv(bufferevent_get_input(bev), &h, c->msg)) != 0) {
		/* Bad framing (logged by ipc_recv) cannot be resynchronised. */
		if (rc == -1 || courier_order(c, &h) == -1) {
			log_warnx("%s: bad message from the keeper; exiting",
			    __func__);
			courier_stop(c, 1);
			return;
		}
	}
}

static void
courier_event(struct bufferevent *bev, short what, void *arg)
{
	struct courier	*c = arg;

	/* The keeper is gone; whoever starts the next one starts us too. */
	log_info("keeper channel closed; %u deliveries in flight dropped",
	    c->njobs);
	courier_stop(c, 0);
}

static void
courier_signal(evutil_socket_t sig, short what, void *arg)
{
	struct courier	*c = arg;

	log_info("signal %d: stopping with %u deliveries in flight", (int)sig,
	    c->njobs);
	courier_stop(c, 0);
}

static void
courier_free(struct courier *c)
{
	struct courier_job	*job;
	size_t			 i;

	/* Exchanges first: they give their connections back to the pools. */
	for (i = 0; i < CFG_MAX_UPSTREAMS; i++)
		while ((job = TAILQ_FIRST(&c->queue[i])) != NULL)
			courier_job_free(c, job);
	if (c->keeper != NULL)
		bufferevent_free(c->keeper);
	c->keeper = NULL;
	for (i = 0; i < CFG_MAX_UPSTREAMS; i++) {
		upstream_pool_free(c->pools[i]);
		c->pools[i] = NULL;
		SSL_CTX_free(c->ctx[i]);
		c->ctx[i] = NULL;
	}
	if (c->ev_term != NULL)
		event_free(c->ev_term);
	if (c->ev_int != NULL)
		event_free(c->ev_int);
	c->ev_term = c->ev_int = NULL;
	if (c->base != NULL)
		event_base_free(c->base);
	c->base = NULL;
	EVP_MD_free(c->sha256);
	c->sha256 = NULL;
	free(c->msg);
	c->msg = NULL;
}

/* Everything that needs files or set-up calls, before the sandbox: the
 * client certificates and keys are read here, once. 0 or -1 (logged);
 * keeper_fd belongs to c from here on. */
static int
courier_init(struct courier *c, struct config *cf, int keeper_fd)
{
	char	err[512];
	size_t	i;

	c->cf = cf;
	for (i = 0; i < CFG_MAX_UPSTREAMS; i++)
		TAILQ_INIT(&c->queue[i]);
	if ((c->msg = malloc(IPC_MAX_PAYLOAD)) == NULL) {
		log_warn("%s: malloc", __func__);
		close(keeper_fd);
		return -1;
	}
	if ((c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (c->base = event_base_new()) == NULL) {
		log_warnx("%s: no SHA-256 or no event base", __func__);
		close(keeper_fd);
		return -1;
	}
	if ((c->keeper = bufferevent_socket_new(c->base, keeper_fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("%s: cannot set up the keeper channel", __func__);
		close(keeper_fd);
		return -1;
	}
	bufferevent_setcb(c->keeper, courier_read, NULL, courier_event, c);
	if (bufferevent_enable(c->keeper, EV_READ | EV_WRITE) == -1) {
		log_warnx("%s: cannot watch the keeper channel", __func__);
		return -1;
	}
	for (i = 0; i < cf->nupstreams; i++) {
		if ((c->ctx[i] = tls_client_ctx(&cf->upstreams[i], err,
		    sizeof(err))) == NULL) {
			log_warnx("%s: upstream %s: %s", __func__,
			    cf->upstreams[i].name, err);
			return -1;
		}
		if ((c->pools[i] = upstream_pool_new(c->base,
		    &cf->upstreams[i], c->ctx[i])) == NULL)
			return -1;
	}
	c->ev_term = evsignal_new(c->base, SIGTERM, courier_signal, c);
	c->ev_int = evsignal_new(c->base, SIGINT, courier_signal, c);
	if (c->ev_term == NULL || c->ev_int == NULL ||
	    evsignal_add(c->ev_term, NULL) == -1 ||
	    evsignal_add(c->ev_int, NULL) == -1) {
		log_warnx("%s: cannot watch signals", __func__);
		return -1;
	}
	return 0;
}

int
courier_main(struct config *cf, int keeper_fd)
{
	struct courier		c;
	struct sandbox_spec	sb;
	sigset_t		block;
	unsigned long		pooled = 0;
	size_t			i;
	int			code;

	log_set_role("courier");
	memset(&sb, 0, sizeof(sb));
	sb.role = SANDBOX_COURIER;
	sb.keep_fds = &keeper_fd;
	sb.nkeep = 1;
	sb.uid = geteuid() == 0 ? cf->uid : (uid_t)-1;
	sb.gid = cf->gid;
	for (i = 0; i < cf->nupstreams; i++)
		pooled += cf->upstreams[i].pool;
	/* Each order in flight may hold a connection and replace it once;
	 * idle pooled ones besides. */
	sb.max_files = 2 * COURIER_MAX_INFLIGHT + pooled + 64;
	sb.enforce = cf->sandbox;
	sandbox_close_fds(&sb);
	/* Dies with the parent rather than deliver for nobody. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		fatal("%s: PR_SET_PDEATHSIG", __func__);
	/* A peer gone under a write is an error on that connection. */
	signal(SIGPIPE, SIG_IGN);
	memset(&c, 0, sizeof(c));
	if (courier_init(&c, cf, keeper_fd) == -1)
		fatalx("courier: cannot start");
	if (sandbox_enter(&sb) == -1)
		fatalx("courier: cannot enter the sandbox");
	sandbox_probe();
	log_debug("courier ready for %zu upstreams", cf->nupstreams);
	event_base_dispatch(c.base);
	/* Freeing the events restores default handlers: a second SIGTERM
	 * must not cut the clean exit short, so it stays pending. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	code = c.exit_code;
	courier_free(&c);
	return code;
}
