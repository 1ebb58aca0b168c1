/* witnessd's HTTPS front: POST /add-checkpoint for pinned log clients, and
 * read-only GET /latest and /history for any client of the CA. */
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "log.h"
#include "util.h"
#include "net/http.h"
#include "net/tls.h"
#include "relay/identity.h"
#include "witness/witness.h"
#include "witness/witness_http.h"

#define WITNESS_HTTP_MAX_HEAD		8192
#define WITNESS_HTTP_MAX_HEADERS	32
#define WITNESS_HTTP_LIST_DEFAULT	100

struct witness_conn {
	LIST_ENTRY(witness_conn)	 entry;
	struct witness_http		*h;
	struct bufferevent		*bev;
	struct event			*deadline;	/* of the current request */
	struct http_msg			 req;
	struct evbuffer			*body;
	unsigned char			 spki[32];
	int				 tls_up;
	int				 closing;	/* flush, then free */
	int				 draining;	/* answered: discard until EOF */
	char				 rid[24];
};

struct witness_http {
	struct event_base		*base;
	struct witness			*w;
	SSL_CTX				*ctx;
	struct evconnlistener		*lev;
	LIST_HEAD(, witness_conn)	 conns;
	uint64_t			 nconns;
	uint64_t			 serial;
};

static void
witness_conn_free(struct witness_conn *c)
{
	LIST_REMOVE(c, entry);
	c->h->nconns--;
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->bev != NULL)
		bufferevent_free(c->bev);	/* closes the socket, frees SSL */
	if (c->body != NULL)
		evbuffer_free(c->body);
	http_msg_free(&c->req);
	free(c);
}

/* Answers the current request; with close the connection ends once the
 * answer is flushed. */
static void
witness_conn_reply(struct witness_conn *c, int status, const char *ctype,
    const char *body, size_t len, int close)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	close |= !c->req.keep_alive;
	if (http_write_simple(out, status, ctype, body, len, c->rid, close, 0,
	    NULL) == -1) {
		log_warnx("%s: cannot queue the answer", __func__);
		close = 1;
	}
	if (close) {
		c->closing = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
}

static void
witness_conn_error(struct witness_conn *c, int status, const char *code,
    const char *detail, int close)
{
	close |= !c->req.keep_alive;
	if (http_write_error(bufferevent_get_output(c->bev), status, code, detail,
	    c->rid, close, 0) == -1)
		close = 1;
	if (close) {
		c->closing = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
}

/* Percent-decodes the value of query parameter name from q (qlen bytes)
 * into out (size outsz): 1 if found, 0 if absent, -1 if malformed/too long. */
static int
witness_http_param(const char *q, size_t qlen, const char *name, char *out,
    size_t outsz)
{
	const char	*p = q, *end = q + qlen, *amp;
	size_t		 nl = strlen(name), o = 0;
	unsigned char	 b;
	char		 hex[3] = "";

	for (; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if ((size_t)(amp - p) <= nl || memcmp(p, name, nl) != 0 ||
		    p[nl] != '=')
			continue;
		for (p += nl + 1; p < amp; p++) {
			if (o + 1 >= outsz)
				return -1;
			if (*p == '%') {
				if (amp - p < 3)
					return -1;
				memcpy(hex, p + 1, 2);
				if (hex_decode(&b, 1, hex) == -1 || b == 0)
					return -1;
				out[o++] = (char)b;
				p += 2;
			} else
				out[o++] = *p == '+' ? ' ' : *p;
		}
		out[o] = '\0';
		return 1;
	}
	return 0;
}

/* tlog-witness's monitoring API: GET /<hex SHA-256 of the origin>/checkpoint,
 * the latest cosigned checkpoint as a note. 1 if path was one (answered). */
static int
witness_http_monitor(struct witness_conn *c, const char *path, size_t plen)
{
	const struct witness_config	*cf = c->h->w->cf;
	unsigned char			 h[32];
	char				 hex[65], *note = NULL;
	size_t				 i;

	if (plen != 1 + 64 + 11 || path[0] != '/' ||
	    memcmp(path + 65, "/checkpoint", 11) != 0)
		return 0;
	for (i = 0; i < cf->nlogs && note == NULL; i++) {
		if (EVP_Digest(cf->logs[i].origin, strlen(cf->logs[i].origin), h,
		    NULL, EVP_sha256(), NULL) != 1)
			break;
		hex_encode(hex, h, sizeof(h));
		if (memcmp(hex, path + 1, 64) == 0 && (note =
		    witness_db_latest_note(&c->h->w->db, cf->logs[i].origin)) == NULL)
			break;
	}
	if (note == NULL)
		witness_conn_error(c, 404, "never-cosigned",
		    "no checkpoint of this log was cosigned", 0);
	else
		witness_conn_reply(c, 200, "text/plain; charset=utf-8", note,
		    strlen(note), 0);
	free(note);
	return 1;
}

static void
witness_http_get(struct witness_conn *c, const char *path, size_t plen,
    const char *q, size_t qlen)
{
	struct witness	*w = c->h->w;
	char		 origin[NOTE_NAME_MAX + 1], num[24], *json;
	uint64_t	 limit = WITNESS_HTTP_LIST_DEFAULT;
	int		 latest, found = 1, r;

	if (witness_http_monitor(c, path, plen))
		return;
	latest = plen == 7 && memcmp(path, "/latest", 7) == 0;
	if (!latest && !(plen == 8 && memcmp(path, "/history", 8) == 0)) {
		witness_conn_error(c, 404, "not-found", "no such resource", 0);
		return;
	}
	if (witness_http_param(q, qlen, "origin", origin, sizeof(origin)) != 1 ||
	    witness_config_log(w->cf, origin, strlen(origin)) == NULL) {
		witness_conn_error(c, 404, "unknown-log",
		    "origin= must name a configured log", 0);
		return;
	}
	if (!latest && (r = witness_http_param(q, qlen, "limit", num,
	    sizeof(num))) != 0 && (r == -1 ||
	    parse_u64(num, 1, WITNESS_LIST_MAX, &limit) == -1)) {
		witness_conn_error(c, 400, "bad-limit",
		    "limit must be 1 to 1000", 0);
		return;
	}
	json = latest ? witness_db_latest_json(&w->db, origin, &found) :
	    witness_db_history_json(&w->db, origin, limit);
	if (json == NULL && !found)
		witness_conn_error(c, 404, "never-cosigned",
		    "no checkpoint of this log was cosigned", 0);
	else if (json == NULL)
		witness_conn_error(c, 500, "state-unavailable",
		    "cannot read the state", 0);
	else
		witness_conn_reply(c, 200, "application/json", json,
		    strlen(json), 0);
	free(json);
}

static void
witness_http_add(struct witness_conn *c)
{
	struct witness_reply	 r;
	size_t			 len = evbuffer_get_length(c->body);
	const char		*body;

	if ((body = (const char *)evbuffer_pullup(c->body, -1)) == NULL &&
	    len > 0) {
		witness_conn_error(c, 500, "out-of-memory", "out of memory", 1);
		return;
	}
	witness_add_checkpoint(c->h->w, c->spki, body != NULL ? body : "", len,
	    (uint64_t)time(NULL), &r);
	if (r.status != 200)
		log_info("add-checkpoint %s: %d %s", c->rid, r.status, r.code);
	witness_conn_reply(c, r.status, r.ctype, r.body, r.len, 0);
}

static int
witness_conn_on_body(struct http_msg *m, const char *data, size_t len,
    void *arg)
{
	struct witness_conn	*c = arg;

	/* http_msg enforces max_body (413) before this is called. */
	if (evbuffer_add(c->body, data, len) == -1) {
		http_msg_fail(m, 500, "out-of-memory", "out of memory");
		return -1;
	}
	return 0;
}

static int
witness_conn_on_done(struct http_msg *m, void *arg)
{
	struct witness_conn	*c = arg;
	const char		*url, *qm;
	size_t			 ulen, plen;

	if (m->method == HTTP_HEAD) {
		/* An answer to HEAD has no body: simplest to refuse and close. */
		witness_conn_error(c, 405, "method-not-allowed", "GET or POST", 1);
		return 0;
	}
	url = http_msg_url(m, &ulen);
	qm = memchr(url, '?', ulen);
	plen = qm != NULL ? (size_t)(qm - url) : ulen;
	if (plen == 15 && memcmp(url, "/add-checkpoint", 15) == 0) {
		if (m->method != HTTP_POST)
			witness_conn_error(c, 405, "method-not-allowed",
			    "POST only", 0);
		else
			witness_http_add(c);
	} else if (m->method != HTTP_GET)
		witness_conn_error(c, 405, "method-not-allowed", "GET only", 0);
	else
		witness_http_get(c, url, plen, qm != NULL ? qm + 1 : "",
		    qm != NULL ? ulen - plen - 1 : 0);
	evbuffer_drain(c->body, evbuffer_get_length(c->body));
	return 0;
}

static const struct http_cbs witness_conn_cbs = {
	.on_body = witness_conn_on_body,
	.on_done = witness_conn_on_done,
};

/* (Re)arms the request deadline: a request must arrive whole within it, so
 * a client trickling bytes cannot hold the connection. */
static void
witness_conn_arm(struct witness_conn *c)
{
	uint64_t	ms = c->h->w->cf->request_timeout_ms;
	struct timeval	tv = { .tv_sec = (time_t)(ms / 1000),
	    .tv_usec = (suseconds_t)(ms % 1000 * 1000) };

	c->h->serial++;
	(void)str_printf(c->rid, sizeof(c->rid), "w%ju", (uintmax_t)c->h->serial);
	event_add(c->deadline, &tv);
}

static void
witness_conn_read(struct bufferevent *bev, void *arg)
{
	struct witness_conn	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	enum http_feed		 rc;
	size_t			 len, used;
	unsigned char		*data;

	if (c->draining) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (!c->closing && (len = evbuffer_get_contiguous_space(in)) > 0) {
		data = evbuffer_pullup(in, (ssize_t)len);
		rc = http_msg_feed(&c->req, (const char *)data, len, &used);
		evbuffer_drain(in, used);
		if (rc == HTTP_FEED_ERROR) {
			witness_conn_error(c, c->req.err.status, c->req.err.code,
			    c->req.err.detail, 1);
			return;
		}
		if (rc == HTTP_FEED_PAUSED) {
			/* answered in on_done: on to the next request */
			http_msg_resume(&c->req);
			witness_conn_arm(c);
		}
	}
}

static void
witness_conn_write(struct bufferevent *bev, void *arg)
{
	struct witness_conn	*c = arg;

	/* Closing with the client still sending (a refused body) would reset
	 * the connection and lose the answer: read and discard until the
	 * client closes, within the request deadline. */
	if (c->closing && !c->draining &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		c->draining = 1;
		witness_conn_arm(c);
		bufferevent_enable(bev, EV_READ);
	}
}

static void
witness_conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct witness_conn	*c = arg;
	SSL			*ssl;

	if (what & BEV_EVENT_CONNECTED) {
		ssl = bufferevent_openssl_get_ssl(bev);
		/* The CA verified the chain; the pin is checked per log. */
		if (ssl == NULL || identity_peer_spki(ssl, c->spki) == -1) {
			log_warnx("%s: client without a valid certificate",
			    __func__);
			witness_conn_free(c);
			return;
		}
		c->tls_up = 1;
		return;
	}
	if (what & BEV_EVENT_ERROR)
		ERR_clear_error();
	witness_conn_free(c);
}

static void
witness_conn_expire(evutil_socket_t fd, short what, void *arg)
{
	struct witness_conn	*c = arg;

	log_info("connection %s: request deadline passed", c->rid);
	witness_conn_free(c);
}

static void
witness_http_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct witness_http	*h = arg;
	struct witness_conn	*c;
	SSL			*ssl;

	if (h->nconns >= h->w->cf->max_connections ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("%s: connection refused (%ju open)", __func__,
		    (uintmax_t)h->nconns);
		evutil_closesocket(fd);
		return;
	}
	c->h = h;
	LIST_INSERT_HEAD(&h->conns, c, entry);
	h->nconns++;
	if ((ssl = SSL_new(h->ctx)) == NULL ||
	    (c->bev = bufferevent_openssl_socket_new(h->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("%s: cannot set up TLS", __func__);
		if (c->bev == NULL) {
			SSL_free(ssl);
			evutil_closesocket(fd);
		}
		witness_conn_free(c);
		return;
	}
	if ((c->body = evbuffer_new()) == NULL ||
	    (c->deadline = evtimer_new(h->base, witness_conn_expire, c)) == NULL ||
	    http_msg_init(&c->req, 1, WITNESS_HTTP_MAX_HEAD,
	    WITNESS_HTTP_MAX_HEADERS, h->w->cf->max_body, &witness_conn_cbs,
	    c) == -1) {
		log_warnx("%s: out of memory", __func__);
		witness_conn_free(c);
		return;
	}
	bufferevent_setcb(c->bev, witness_conn_read, witness_conn_write,
	    witness_conn_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	witness_conn_arm(c);	/* the handshake is part of the first request */
}

struct witness_http *
witness_http_start(struct event_base *base, struct witness *w)
{
	struct witness_http	*h;
	const struct cfg_listener *l = &w->cf->listener;
	char			 err[512];

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		log_warn("%s: calloc", __func__);
		return NULL;
	}
	h->base = base;
	h->w = w;
	LIST_INIT(&h->conns);
	if ((h->ctx = tls_server_ctx(l, "witnessd", err, sizeof(err))) == NULL) {
		log_warnx("%s: %s", __func__, err);
		goto fail;
	}
	h->lev = evconnlistener_new_bind(base, witness_http_accept, h,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (const struct sockaddr *)&l->addr, (int)l->addrlen);
	if (h->lev == NULL) {
		log_warn("%s: cannot listen on %s", __func__, l->listen);
		goto fail;
	}
	log_info("listening on %s", l->listen);
	return h;
fail:
	witness_http_stop(h);
	return NULL;
}

void
witness_http_stop(struct witness_http *h)
{
	if (h == NULL)
		return;
	while (!LIST_EMPTY(&h->conns))
		witness_conn_free(LIST_FIRST(&h->conns));
	if (h->lev != NULL)
		evconnlistener_free(h->lev);
	SSL_CTX_free(h->ctx);
	free(h);
}
