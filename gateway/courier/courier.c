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
#include "keeper/note.h"
#include "log.h"
#include "net/tls.h"
#include "net/upstream.h"
#include "sandbox.h"
#include "util.h"
#include "witness/cosig.h"

/* Orders held at once; beyond it the answer is "courier busy" (retry).
 * The keeper sends a small window per upstream, so this is a safety bound,
 * not a working figure. */
#define COURIER_MAX_INFLIGHT	1024
/* A witness answers with a few cosignature lines or its size. */
#define COURIER_WITNESS_BODY	4096

struct courier;

/* One order, queued behind its upstream's earlier ones or in flight. */
struct courier_job {
	TAILQ_ENTRY(courier_job)	 entry;
	struct courier			*c;
	uint64_t			 id;	/* the order's IPC id, echoed */
	uint64_t			 seq;
	uint32_t			 upstream;
	uint32_t			 epoch;
	/* An add-checkpoint: 1 + the witness's index (0: a delivery). */
	uint32_t			 witness;
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
	/* Each witness's cosignature key: its name and key id pick its line
	 * out of an answer. */
	struct note_verifier	 wkey[CFG_MAX_WITNESSES];
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

static void	courier_done(struct exchange *, const struct ipc_delivered *,
		    void *);

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

static void
courier_witness_reply(struct courier *c, uint64_t id,
    const struct ipc_witnessed *w)
{
	if (c->keeper == NULL || c->stopping)
		return;
	if (ipc_send(bufferevent_get_output(c->keeper), IPC_WITNESSED, id, w,
	    sizeof(*w)) == -1) {
		log_warnx("%s: cannot queue a witness's answer", __func__);
		courier_stop(c, 1);
	}
}

/* Finds the cosignature line of key k in a witness's answer ("— name
 * base64" lines, C2SP signed-note) and copies its raw bytes. 0 or -1. */
static int
courier_cosig_line(const struct note_verifier *k, const char *body,
    size_t len, uint8_t raw[COSIG_RAW_LEN])
{
	static const char	 dash[] = "\xe2\x80\x94 ";
	const char		*p = body, *end = body + len, *nl, *sp;
	size_t			 nlen = strlen(k->name), rlen;
	uint32_t		 id;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if ((size_t)(nl - p) < sizeof(dash) - 1 ||
		    memcmp(p, dash, sizeof(dash) - 1) != 0)
			continue;
		p += sizeof(dash) - 1;
		if ((sp = memchr(p, ' ', (size_t)(nl - p))) == NULL ||
		    (size_t)(sp - p) != nlen || memcmp(p, k->name, nlen) != 0)
			continue;
		if (note_b64_decode(sp + 1, (size_t)(nl - sp - 1), raw,
		    COSIG_RAW_LEN, &rlen) == -1 || rlen != COSIG_RAW_LEN)
			continue;
		id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
		    (uint32_t)raw[2] << 8 | raw[3];
		if (id == k->id)
			return 0;
	}
	return -1;
}

/* A witness's answer, reduced to what the keeper needs. */
static void
courier_witnessed(struct courier *c, struct courier_job *job,
    struct exchange *x, const struct ipc_delivered *r)
{
	struct ipc_witnessed	 w;
	const char		*body;
	char			 num[24];
	size_t			 len;

	memset(&w, 0, sizeof(w));
	w.witness = job->witness - 1;
	w.size = job->seq;
	w.status = r->status;
	w.outcome = WITNESS_FAILED;
	body = exchange_body(x, &len);
	if (r->status == 200) {
		if (courier_cosig_line(&c->wkey[w.witness], body, len,
		    w.cosig) == 0)
			w.outcome = WITNESS_COSIGNED;
		else
			str_copy(w.error, sizeof(w.error),
			    "200 without a cosignature line of its key");
	} else if (r->status == 409) {
		/* text/x.tlog.size: the size it holds, in decimal. */
		if (len > 0 && body[len - 1] == '\n')
			len--;
		if (len > 0 && len < sizeof(num)) {
			memcpy(num, body, len);
			num[len] = '\0';
		} else
			num[0] = '\0';
		if (parse_u64(num, 0, INT64_MAX, &w.witness_size) == 0)
			w.outcome = WITNESS_CONFLICT;
		else
			str_copy(w.error, sizeof(w.error),
			    "409 without its size");
	} else if (r->status == 422) {
		w.outcome = WITNESS_BAD_PROOF;
		str_copy(w.error, sizeof(w.error), "422: the consistency proof "
		    "does not extend what it holds");
	} else if (r->outcome == DELIVERY_REFUSED) {
		w.outcome = WITNESS_REFUSED;
		str_copy(w.error, sizeof(w.error), r->error);
	} else
		str_copy(w.error, sizeof(w.error), r->error[0] != '\0' ?
		    r->error : "unexpected answer");
	courier_witness_reply(c, job->id, &w);
}

/* An add-checkpoint order from the keeper: one POST to the witness's
 * upstream, whose answer the courier reads. */
static int
courier_witness_order(struct courier *c, const struct ipc_hdr *h)
{
	const struct ipc_witness_add	*a = c->msg;
	struct ipc_witnessed		 w;
	struct ipc_deliver		 d;
	struct courier_job		*job;

	if (h->len < sizeof(*a) || a->witness >= c->cf->nwitnesses) {
		log_warnx("%s: malformed order from the keeper", __func__);
		return -1;
	}
	memset(&w, 0, sizeof(w));
	w.witness = a->witness;
	w.size = a->size;
	w.outcome = WITNESS_FAILED;
	memset(&d, 0, sizeof(d));
	d.seq = a->size;
	d.upstream = (uint32_t)c->cf->witnesses[a->witness].upstream;
	d.attempt = 1;
	str_copy(d.path, sizeof(d.path), "/add-checkpoint");
	str_copy(d.ctype, sizeof(d.ctype), "text/plain; charset=utf-8");
	(void)str_printf(d.idempotency_key, sizeof(d.idempotency_key),
	    "checkpoint-%llu", (unsigned long long)a->size);
	if (c->njobs >= COURIER_MAX_INFLIGHT ||
	    (job = calloc(1, sizeof(*job))) == NULL) {
		str_copy(w.error, sizeof(w.error), "courier busy");
		courier_witness_reply(c, h->id, &w);
		return 0;
	}
	job->c = c;
	job->id = h->id;
	job->seq = a->size;
	job->upstream = d.upstream;
	job->witness = a->witness + 1;
	job->x = exchange_new(c->pools[d.upstream], c->sha256, &d,
	    (const char *)c->msg + sizeof(*a), h->len - sizeof(*a),
	    courier_done, job);
	if (job->x == NULL || exchange_keep_body(job->x,
	    COURIER_WITNESS_BODY) == -1) {
		exchange_free(job->x);
		free(job);
		str_copy(w.error, sizeof(w.error), "courier out of memory");
		courier_witness_reply(c, h->id, &w);
		return 0;
	}
	TAILQ_INSERT_TAIL(&c->queue[d.upstream], job, entry);
	c->njobs++;
	courier_next(c, d.upstream);
	return 0;
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

	if (job->witness != 0) {
		courier_witnessed(c, job, x, r);
		courier_job_free(c, job);
		courier_next(c, u);
		return;
	}
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

	if (h->type == IPC_WITNESS_ADD)
		return courier_witness_order(c, h);
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
	for (i = 0; i < cf->nwitnesses; i++)
		if (note_verifier_parse_alg(&c->wkey[i], cf->witnesses[i].key,
		    COSIG_ALG) == -1) {
			log_warnx("%s: witness %s: bad key", __func__,
			    cf->witnesses[i].name);
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
