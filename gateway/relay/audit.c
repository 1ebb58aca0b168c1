/* The relay's side of the keeper channel: audit entries for exchanges (the
 * access log line waits for the entry's index) and the /audit/ read API,
 * answered by the keeper. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "config.h"
#include "ipc.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "relay/relay.h"
#include "relay/transfer.h"
#include "util.h"

#define AUDIT_LINE_MAX	2048

struct audit_pending {
	TAILQ_ENTRY(audit_pending)	 entry;
	uint64_t			 id;
	struct audit_wait		*wait;	/* queries */
	char				 line[];	/* appends: access line */
};

/* A query's link to its connection, cut if the connection goes first or
 * the keeper does not answer in time (the answer, if it comes, is then
 * dropped). */
struct audit_wait {
	struct relay_conn	*c;
	struct event		*deadline;
};

static void	audit_read(struct bufferevent *, void *);
static void	audit_event(struct bufferevent *, short, void *);

int
audit_init(struct relay *r, int fd)
{
	TAILQ_INIT(&r->appends);
	TAILQ_INIT(&r->queries);
	TAILQ_INIT(&r->instrs);
	if ((r->ipc_msg = malloc(IPC_MAX_PAYLOAD)) == NULL)
		return -1;
	if ((r->keeper = bufferevent_socket_new(r->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return -1;
	/* Answers come in bursts after each commit: take them in one read. */
	bufferevent_set_max_single_read(r->keeper, 256 * 1024);
	bufferevent_setcb(r->keeper, audit_read, NULL, audit_event, r);
	bufferevent_enable(r->keeper, EV_READ | EV_WRITE);
	return 0;
}

void
audit_wait_detach(struct audit_wait *w)
{
	w->c = NULL;
	evtimer_del(w->deadline);
}

static void
audit_wait_free(struct audit_wait *w)
{
	if (w == NULL)
		return;
	if (w->deadline != NULL)
		event_free(w->deadline);
	free(w);
}

/* The keeper took too long (stopped, or stuck on its disk): the client gets
 * a 503 now, not when it gives up. An instruction may still be committed;
 * sent again, it is answered with its receipt. */
static void
audit_wait_expired(evutil_socket_t fd, short what, void *arg)
{
	struct audit_wait	*w = arg;
	struct relay_conn	*c = w->c;

	if (c == NULL)
		return;
	w->c = NULL;
	c->audit = NULL;
	log_warnx("%s: request %s: the keeper did not answer in time", __func__,
	    c->rid);
	conn_reply_error(c, 503, "audit-unavailable",
	    "the audit log did not answer in time; send it again");
}

/* Everything still waiting is answered without the keeper. */
static void
audit_fail_all(struct relay *r)
{
	struct audit_pending	*p;

	while ((p = TAILQ_FIRST(&r->appends)) != NULL) {
		TAILQ_REMOVE(&r->appends, p, entry);
		access_write(r, p->line, 0, 0);
		free(p);
	}
	while ((p = TAILQ_FIRST(&r->queries)) != NULL) {
		TAILQ_REMOVE(&r->queries, p, entry);
		if (p->wait->c != NULL) {
			p->wait->c->audit = NULL;
			conn_reply_error(p->wait->c, 503, "keeper-unavailable",
			    "the audit log is not reachable");
		}
		audit_wait_free(p->wait);
		free(p);
	}
	while ((p = TAILQ_FIRST(&r->instrs)) != NULL) {
		TAILQ_REMOVE(&r->instrs, p, entry);
		if (p->wait->c != NULL) {
			/* Committed or not, we cannot tell: the caller sends
			 * it again and gets the receipt if it was. */
			p->wait->c->audit = NULL;
			conn_reply_error(p->wait->c, 503, "keeper-unavailable",
			    "the audit log is not reachable; send it again");
		}
		audit_wait_free(p->wait);
		free(p);
	}
	r->npending = 0;
}

void
audit_free(struct relay *r)
{
	audit_fail_all(r);
	if (r->keeper != NULL)
		bufferevent_free(r->keeper);
	r->keeper = NULL;
	free(r->ipc_msg);
	r->ipc_msg = NULL;
}

int
audit_backlogged(const struct relay *r)
{
	return r->keeper == NULL || r->npending >= AUDIT_MAX_PENDING ||
	    atomic_load_explicit(&r->rt->kmetrics->unwritable,
	    memory_order_relaxed) != 0;
}

static void
audit_event(struct bufferevent *bev, short what, void *arg)
{
	struct relay	*r = arg;

	log_warnx("%s: keeper channel lost; draining", __func__);
	audit_fail_all(r);
	bufferevent_free(r->keeper);
	r->keeper = NULL;
	/* No new channel ever comes to a running worker: finish what is in
	 * flight and exit, so the parent starts one with a channel. */
	relay_drain(r);
}

static void
audit_appended(struct relay *r, const struct ipc_hdr *h,
    const struct ipc_appended *a)
{
	struct audit_pending	*p = TAILQ_FIRST(&r->appends);

	if (p == NULL || p->id != h->id) {
		log_warnx("%s: reply %llu matches no request", __func__,
		    (unsigned long long)h->id);
		return;
	}
	TAILQ_REMOVE(&r->appends, p, entry);
	r->npending--;
	if (!a->ok)
		log_warnx("audit entry for an exchange refused by the keeper: %.*s",
		    (int)sizeof(a->error), a->error);
	access_write(r, p->line, a->ok, a->index);
	free(p);
	relay_conn_gone(r);
}

static void
audit_replied(struct relay *r, const struct ipc_hdr *h, const char *msg)
{
	struct audit_pending		*p = TAILQ_FIRST(&r->queries);
	const struct ipc_audit_reply	*rep = (const void *)msg;
	struct relay_conn		*c;
	const char			*body = msg + sizeof(*rep);
	size_t				 blen = h->len - sizeof(*rep);

	if (p == NULL || p->id != h->id) {
		log_warnx("%s: reply %llu matches no query", __func__,
		    (unsigned long long)h->id);
		return;
	}
	TAILQ_REMOVE(&r->queries, p, entry);
	r->npending--;
	if ((c = p->wait->c) != NULL) {
		c->audit = NULL;
		if (!ipc_str_ok(rep->ctype, sizeof(rep->ctype)) ||
		    !ipc_str_ok(rep->code, sizeof(rep->code)))
			conn_reply_error(c, 502, "keeper-error",
			    "malformed answer from the keeper");
		else {
			if (rep->status >= 400)
				c->code = "audit-query-refused";
			conn_reply(c, rep->status, rep->ctype, body, blen);
		}
	}
	audit_wait_free(p->wait);
	free(p);
}

/* An admin action's answer: {"result"} or the error. */
static void
audit_admin_reply(struct relay_conn *c, const struct ipc_instr_reply *a,
    const char *body, size_t blen)
{
	char	out[512], text[256] = "";

	/* The keeper's words are short; longer ones are a fault, not a
	 * detail to drop. */
	if (blen >= sizeof(text)) {
		conn_reply_error(c, 502, "keeper-error",
		    "the keeper's answer is too long");
		return;
	}
	memcpy(text, body, blen);
	text[blen] = '\0';
	if (a->status >= 400) {
		conn_reply_error(c, a->status, a->code, text);
		return;
	}
	/* text is under 256 bytes: it fits. */
	str_printf(out, sizeof(out), "{\"result\":\"%s\",\"audit_index\":%llu}\n",
	    text, (unsigned long long)a->index);
	conn_reply(c, a->status, "application/json", out, strlen(out));
}

static void
audit_instr_replied(struct relay *r, const struct ipc_hdr *h, const char *msg)
{
	struct audit_pending		*p = TAILQ_FIRST(&r->instrs);
	const struct ipc_instr_reply	*a = (const void *)msg;
	struct relay_conn		*c;

	if (p == NULL || p->id != h->id) {
		log_warnx("%s: reply %llu matches no instruction", __func__,
		    (unsigned long long)h->id);
		return;
	}
	TAILQ_REMOVE(&r->instrs, p, entry);
	r->npending--;
	if ((c = p->wait->c) != NULL) {
		c->audit = NULL;
		if (!ipc_str_ok(a->code, sizeof(a->code)) || a->status < 200 ||
		    a->status > 599)
			conn_reply_error(c, 502, "keeper-error",
			    "malformed answer from the keeper");
		else if (c->xfer != NULL)
			transfer_reply(c, a, msg + sizeof(*a),
			    h->len - sizeof(*a));
		else
			audit_admin_reply(c, a, msg + sizeof(*a),
			    h->len - sizeof(*a));
	}
	audit_wait_free(p->wait);
	free(p);
	relay_conn_gone(r);
}

static void
audit_read(struct bufferevent *bev, void *arg)
{
	struct relay	*r = arg;
	struct ipc_hdr	 h;
	int		 rc;

	while (r->keeper != NULL &&
	    (rc = ipc_recv(bufferevent_get_input(bev), &h, r->ipc_msg)) != 0) {
		if (rc == -1)
			goto bad;
		if (h.type == IPC_APPENDED && h.len == sizeof(struct ipc_appended))
			audit_appended(r, &h, r->ipc_msg);
		else if (h.type == IPC_AUDIT_REPLY &&
		    h.len >= sizeof(struct ipc_audit_reply))
			audit_replied(r, &h, r->ipc_msg);
		else if (h.type == IPC_INSTR_REPLY &&
		    h.len >= sizeof(struct ipc_instr_reply))
			audit_instr_replied(r, &h, r->ipc_msg);
		else
			goto bad;
	}
	return;
bad:
	log_warnx("%s: bad message from the keeper", __func__);
	audit_event(bev, BEV_EVENT_ERROR, r);
}

static void
audit_digest(EVP_MD_CTX *md, uint8_t out[32])
{
	unsigned int	len;

	if (md == NULL || EVP_DigestFinal_ex(md, out, &len) != 1)
		memset(out, 0, 32);
}

void
audit_exchange(struct relay_conn *c)
{
	struct relay		*r = c->r;
	const struct config	*cf = r->cf;
	struct audit_pending	*p;
	struct ipc_passthrough	 m;
	const char		*url = "";
	size_t			 ulen = 0;
	char			 line[AUDIT_LINE_MAX];

	metrics_request(r->ms, c->route ? (int)(c->route - cf->routes) : -1,
	    c->agency >= 0 ? (int)cf->agencies[c->agency].role : -1, c->status,
	    now_ms() - c->start_ms);
	access_format(c, line, sizeof(line));
	if (c->req.url_len > 0)
		url = http_msg_url(&c->req, &ulen);
	/* Admin requests and audit reads are read-only and not logged; the
	 * transfer API's reads are, on either listener. */
	if ((c->kind != LISTENER_AGENCY && c->xfer == NULL) ||
	    (ulen >= 7 && memcmp(url, "/audit/", 7) == 0)) {
		access_write(r, line, 0, 0);
		return;
	}
	/* The keeper logged this one itself, with the instruction. */
	if (c->logged) {
		access_write(r, line, 1, c->logged_index);
		return;
	}
	memset(&m, 0, sizeof(m));
	str_copy(m.request_id, sizeof(m.request_id), c->rid);
	if (c->agency >= 0)
		str_copy(m.agency, sizeof(m.agency), cf->agencies[c->agency].name);
	if (c->route != NULL)
		str_copy(m.route, sizeof(m.route), c->route->name);
	else if (c->xfer != NULL)
		str_copy(m.route, sizeof(m.route), transfer_name(c->xfer));
	if (c->route != NULL && c->proxied)
		str_copy(m.upstream, sizeof(m.upstream),
		    cf->upstreams[c->route->upstream].name);
	if (c->req.head_done)
		str_copy(m.method, sizeof(m.method), http_msg_method_name(&c->req));
	if (ulen >= sizeof(m.path))
		ulen = sizeof(m.path) - 1;
	memcpy(m.path, url, ulen);
	if (c->code != NULL)
		str_copy(m.code, sizeof(m.code), c->code);
	m.status = c->status;
	m.request_bytes = c->req.body_bytes;
	m.response_bytes = c->bytes_out;
	m.duration_ms = now_ms() - c->start_ms;
	audit_digest(c->md_req, m.request_sha256);
	audit_digest(c->md_resp, m.response_sha256);

	if (r->keeper == NULL ||
	    (p = malloc(sizeof(*p) + strlen(line) + 1)) == NULL) {
		log_warnx("%s: exchange %s not audited: keeper unavailable",
		    __func__, c->rid);
		access_write(r, line, 0, 0);
		return;
	}
	p->id = ++r->ipc_id;
	p->wait = NULL;
	memcpy(p->line, line, strlen(line) + 1);
	if (ipc_send(bufferevent_get_output(r->keeper), IPC_PASSTHROUGH, p->id,
	    &m, sizeof(m)) == -1) {
		access_write(r, line, 0, 0);
		free(p);
		return;
	}
	TAILQ_INSERT_TAIL(&r->appends, p, entry);
	r->npending++;
}

/* A request that waits for the keeper's answer, at most request_timeout
 * (the same budget as receiving a request). NULL if the keeper cannot take
 * more. */
static struct audit_pending *
audit_wait_new(struct relay_conn *c)
{
	uint64_t		 ms = c->r->cf->limits.request_timeout_ms;
	struct timeval		 tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };
	struct audit_pending	*p;

	if (audit_backlogged(c->r) || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->wait = calloc(1, sizeof(*p->wait))) == NULL ||
	    (p->wait->deadline = evtimer_new(c->r->base, audit_wait_expired,
	    p->wait)) == NULL || evtimer_add(p->wait->deadline, &tv) == -1) {
		audit_wait_free(p->wait);
		free(p);
		return NULL;
	}
	p->id = ++c->r->ipc_id;
	p->wait->c = c;
	c->audit = p->wait;
	return p;
}

/* Reads "name=<decimal>" from a query string; 0 if found and valid,
 * 1 if absent, -1 if malformed. */
static int
audit_param(const char *q, size_t qlen, const char *name, uint64_t *out)
{
	size_t		nl = strlen(name), i = 0, j;
	char		num[24];

	while (i < qlen) {
		j = i;
		while (j < qlen && q[j] != '&')
			j++;
		if (j - i > nl && memcmp(q + i, name, nl) == 0 && q[i + nl] == '=') {
			if (j - i - nl - 1 >= sizeof(num))
				return -1;
			memcpy(num, q + i + nl + 1, j - i - nl - 1);
			num[j - i - nl - 1] = '\0';
			return parse_u64(num, 0, INT64_MAX, out) == 0 ? 0 : -1;
		}
		i = j + 1;
	}
	return 1;
}

int
audit_request(struct relay_conn *c, const char *url, size_t len)
{
	struct relay		*r = c->r;
	struct ipc_audit_query	 q;
	struct audit_pending	*p;
	const char		*qs = memchr(url, '?', len);
	size_t			 plen = qs ? (size_t)(qs - url) : len;
	size_t			 qlen = qs ? len - plen - 1 : 0;
	char			 num[24];
	int			 a = 1, b = 1;

	if (plen < 7 || memcmp(url, "/audit/", 7) != 0)
		return -1;
	if (qs != NULL)
		qs++;
	memset(&q, 0, sizeof(q));
	if (plen == 17 && memcmp(url, "/audit/checkpoint", 17) == 0) {
		q.what = AUDIT_CHECKPOINT;
		a = b = 0;
	} else if (plen == 26 &&
	    memcmp(url, "/audit/checkpoint/cosigned", 26) == 0) {
		q.what = AUDIT_CHECKPOINT;
		q.a = 1;	/* the newest with the witnesses' quorum */
		a = b = 0;
	} else if (plen == 22 && memcmp(url, "/audit/proof/inclusion", 22) == 0) {
		q.what = AUDIT_INCLUSION;
		a = audit_param(qs, qlen, "index", &q.a);
		b = audit_param(qs, qlen, "size", &q.b);
		b = b == 1 ? 0 : b;	/* size defaults to the checkpoint's */
	} else if (plen == 24 &&
	    memcmp(url, "/audit/proof/consistency", 24) == 0) {
		q.what = AUDIT_CONSISTENCY;
		a = audit_param(qs, qlen, "old", &q.a);
		b = audit_param(qs, qlen, "new", &q.b);
		b = b == 1 ? 0 : b;
	} else if (plen == 19 && memcmp(url, "/audit/proof/bundle", 19) == 0) {
		q.what = AUDIT_BUNDLE;
		a = audit_param(qs, qlen, "index", &q.a);
		b = 0;
	} else if (plen > 15 && memcmp(url, "/audit/entries/", 15) == 0 &&
	    plen - 15 < sizeof(num)) {
		q.what = AUDIT_ENTRY;
		memcpy(num, url + 15, plen - 15);
		num[plen - 15] = '\0';
		a = parse_u64(num, 0, INT64_MAX, &q.a) == 0 ? 0 : -1;
		b = 0;
	} else {
		conn_reply_error(c, 404, "no-route", "no such audit endpoint");
		return 0;
	}
	if (a != 0 || b != 0) {
		conn_reply_error(c, 400, "bad-query",
		    "missing or malformed numeric parameter");
		return 0;
	}
	if (c->req.method != HTTP_GET && c->req.method != HTTP_HEAD) {
		conn_reply_error(c, 405, "method-not-allowed",
		    "the audit API is read-only");
		return 0;
	}
	if ((p = audit_wait_new(c)) == NULL) {
		conn_reply_error(c, 503, "keeper-unavailable",
		    "the audit log is not reachable");
		return 0;
	}
	/* Who asks: the keeper, which knows the entry, decides. */
	str_copy(q.agency, sizeof(q.agency), r->cf->agencies[c->agency].name);
	q.role = r->cf->agencies[c->agency].role;
	ipc_send(bufferevent_get_output(r->keeper), IPC_AUDIT_QUERY, p->id, &q,
	    sizeof(q));
	TAILQ_INSERT_TAIL(&r->queries, p, entry);
	r->npending++;
	return 0;
}

int
audit_instr(struct relay_conn *c, const struct ipc_instr *m, const char *canon,
    size_t len)
{
	struct relay		*r = c->r;
	struct audit_pending	*p;

	if ((p = audit_wait_new(c)) == NULL)
		return -1;
	if (ipc_send2(bufferevent_get_output(r->keeper), IPC_INSTR, p->id, m,
	    sizeof(*m), canon, len) == -1) {
		c->audit = NULL;
		audit_wait_free(p->wait);
		free(p);
		return -1;
	}
	TAILQ_INSERT_TAIL(&r->instrs, p, entry);
	r->npending++;
	return 0;
}

/* Sends one request of type whose answer goes to c; it waits in list
 * (queries are answered at once, instructions and actions at the commit).
 * Without the keeper, c gets a 503 now. */
static void
audit_ask(struct relay_conn *c, uint16_t type, const void *m, size_t len,
    int at_commit)
{
	struct relay		*r = c->r;
	struct audit_pending	*p;

	if ((p = audit_wait_new(c)) == NULL) {
		conn_reply_error(c, 503, "keeper-unavailable",
		    "the audit log is not reachable");
		return;
	}
	ipc_send(bufferevent_get_output(r->keeper), type, p->id, m, len);
	if (at_commit)
		TAILQ_INSERT_TAIL(&r->instrs, p, entry);
	else
		TAILQ_INSERT_TAIL(&r->queries, p, entry);
	r->npending++;
}

void
audit_transfer_query(struct relay_conn *c, const struct ipc_transfer_query *q)
{
	audit_ask(c, IPC_TRANSFER_QUERY, q, sizeof(*q), 0);
}

void
audit_report_query(struct relay_conn *c, const struct ipc_report_query *q)
{
	audit_ask(c, IPC_REPORT_QUERY, q, sizeof(*q), 0);
}

void
audit_outbox_retry(struct relay_conn *c, uint64_t seq)
{
	struct ipc_outbox_retry	m;

	memset(&m, 0, sizeof(m));
	m.seq = seq;
	if (c->agency >= 0)
		str_copy(m.agency, sizeof(m.agency),
		    c->r->cf->agencies[c->agency].name);
	audit_ask(c, IPC_OUTBOX_RETRY, &m, sizeof(m), 1);
}
