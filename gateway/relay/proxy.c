/* A passthrough exchange: the client's request re-serialized from its parsed
 * form to a pooled mutual-TLS upstream connection, the response streamed
 * back, both with bounded buffering and hop-by-hop headers removed. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "net/upstream.h"
#include "relay/relay.h"
#include "util.h"

/* Above this much queued output the other side stops being read. */
#define PROXY_HIGH_WATER	(256 * 1024)
/* Response heads from upstreams: generous but bounded. */
#define PROXY_MAX_HEAD		(64 * 1024)
#define PROXY_MAX_HEADERS	256
/* A TLS record's payload: what is worth joining into one write. */
#define PROXY_RECORD		16384

struct proxy {
	struct relay_conn	*c;
	struct upstream_conn	*uc;
	struct http_msg		 resp;
	int			 req_chunked;	/* body re-framed as chunks */
	int			 req_done;	/* whole request queued upstream */
	int			 head_sent;	/* response head sent to client */
	int			 resp_chunked;	/* response re-framed as chunks */
	int			 interim;	/* a 1xx being skipped */
	int			 up_paused;	/* client backpressure */
	int			 retried;	/* sent again after a stale connection */
	/* What goes to the client from one read of the upstream, moved to
	 * the client in one piece: one TLS record, one system call. */
	struct evbuffer		*stage;
};

static int	proxy_on_head(struct http_msg *, void *);
static int	proxy_on_body(struct http_msg *, const char *, size_t, void *);
static int	proxy_on_done(struct http_msg *, void *);
static void	proxy_up_read(struct bufferevent *, void *);
static void	proxy_flush(struct proxy *);
static void	proxy_up_write(struct bufferevent *, void *);
static void	proxy_up_event(struct bufferevent *, short, void *);

static const struct http_cbs	proxy_http_cbs = {
	.on_head = proxy_on_head,
	.on_body = proxy_on_body,
	.on_done = proxy_on_done,
};

static void
proxy_set_timeouts(struct proxy *px)
{
	uint64_t	ms = px->uc->pool->cf->timeout_ms;
	struct timeval	tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	bufferevent_set_timeouts(px->uc->bev, &tv, &tv);
}

/* The gateway's own view of where the request came from (what the client
 * said was dropped with the other headers): its address, over TLS. RFC 7239
 * quotes an IPv6 address in brackets. */
static int
proxy_write_forwarded(const struct relay_conn *c, struct evbuffer *out)
{
	const char	*peer = c->peer[0] != '\0' ? c->peer : "unknown";
	int		 v6 = strchr(peer, ':') != NULL;

	return evbuffer_add_printf(out, "Forwarded: for=%s%s%s;proto=https\r\n"
	    "X-Forwarded-For: %s\r\nX-Forwarded-Proto: https\r\n",
	    v6 ? "\"[" : "", peer, v6 ? "]\"" : "", peer) < 0 ? -1 : 0;
}

/* Takes conn for the exchange: our callbacks, and the exchange's timeouts
 * once it is connected (a new one keeps the connect timeout until then). */
static void
proxy_attach(struct proxy *px, struct upstream_conn *uc)
{
	px->uc = uc;
	bufferevent_setcb(uc->bev, proxy_up_read, proxy_up_write,
	    proxy_up_event, px);
	bufferevent_enable(uc->bev, EV_READ | EV_WRITE);
	if (uc->connected)
		proxy_set_timeouts(px);
}

/* Queues the request head on the upstream connection. The head is rebuilt
 * from the parsed request, never copied raw, and handed over in one piece.
 * 0 or -1. */
static int
proxy_send_head(struct proxy *px)
{
	struct relay_conn		*c = px->c;
	struct relay			*r = c->r;
	const struct cfg_upstream	*u = px->uc->pool->cf;
	const struct cfg_agency		*ag = &r->cf->agencies[c->agency];
	struct evbuffer			*out = px->stage;
	const char			*url;
	size_t				 ulen;
	int				 rc;

	url = http_msg_url(&c->req, &ulen);
	rc = evbuffer_add_printf(out, "%s %.*s HTTP/1.1\r\nHost: %s:%u\r\n",
	    http_msg_method_name(&c->req), (int)ulen, url, u->host,
	    (unsigned)u->port) < 0;
	rc |= http_msg_write_headers(&c->req, out);
	rc |= evbuffer_add_printf(out, "X-Gateway-Agency: %s\r\n"
	    "X-Gateway-Request-Id: %s\r\n", ag->name, c->rid) < 0;
	rc |= proxy_write_forwarded(c, out);
	if (c->req.chunked) {
		px->req_chunked = 1;
		rc |= evbuffer_add_printf(out,
		    "Transfer-Encoding: chunked\r\n\r\n") < 0;
	} else if (c->req.has_length)
		rc |= evbuffer_add_printf(out, "Content-Length: %llu\r\n\r\n",
		    (unsigned long long)c->req.content_length) < 0;
	else
		rc |= evbuffer_add(out, "\r\n", 2);
	evbuffer_pullup(out, -1);
	rc |= evbuffer_add_buffer(bufferevent_get_output(px->uc->bev), out);
	if (rc != 0) {
		log_warnx("%s: request %s: cannot queue the request head",
		    __func__, c->rid);
		return -1;
	}
	return 0;
}

int
proxy_start(struct relay_conn *c)
{
	struct relay		*r = c->r;
	struct proxy		*px;
	struct upstream_conn	*uc;

	if ((px = calloc(1, sizeof(*px))) == NULL) {
		log_warn("%s: calloc", __func__);
		return -1;
	}
	px->c = c;
	if ((px->stage = evbuffer_new()) == NULL) {
		free(px);
		return -1;
	}
	if (http_msg_init(&px->resp, 0, PROXY_MAX_HEAD, PROXY_MAX_HEADERS,
	    UINT64_MAX, &proxy_http_cbs, px) == -1) {
		log_warnx("%s: out of memory", __func__);
		evbuffer_free(px->stage);
		free(px);
		return -1;
	}
	px->resp.head_request = c->req.method == HTTP_HEAD;
	if ((uc = upstream_get(r->pools[c->route->upstream])) == NULL) {
		http_msg_free(&px->resp);
		evbuffer_free(px->stage);
		free(px);
		return -1;
	}
	proxy_attach(px, uc);
	c->px = px;
	c->proxied = 1;
	if (proxy_send_head(px) == -1) {
		c->px = NULL;
		proxy_free(px);
		return -1;
	}
	return 0;
}

int
proxy_body(struct proxy *px, const char *p, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(px->uc->bev);

	if (len == 0)
		return 0;
	if (px->req_chunked && evbuffer_add_printf(out, "%zx\r\n", len) < 0)
		return -1;
	if (evbuffer_add(out, p, len) == -1)
		return -1;
	if (px->req_chunked && evbuffer_add(out, "\r\n", 2) == -1)
		return -1;
	if (evbuffer_get_length(out) > PROXY_HIGH_WATER)
		conn_pause_read(px->c, 1);
	return 0;
}

int
proxy_body_done(struct proxy *px)
{
	px->req_done = 1;
	if (px->req_chunked)
		return evbuffer_add(bufferevent_get_output(px->uc->bev),
		    "0\r\n\r\n", 5);
	return 0;
}

void
proxy_free(struct proxy *px)
{
	if (px == NULL)
		return;
	if (px->uc != NULL)
		upstream_release(px->uc, 0);
	http_msg_free(&px->resp);
	evbuffer_free(px->stage);
	free(px);
}

/* The exchange failed on the upstream side. Before the response head we can
 * still answer with an error; after it, only dropping the client is honest. */
static void
proxy_fail(struct proxy *px, int status, const char *code, const char *detail)
{
	struct relay_conn	*c = px->c;
	int			 head_sent = px->head_sent;

	log_warnx("%s: request %s to %s: %s", __func__, c->rid,
	    c->r->cf->upstreams[c->route->upstream].name, detail);
	c->px = NULL;
	proxy_free(px);
	if (head_sent) {
		conn_abort(c, detail);
		return;
	}
	conn_reply_error(c, status, code, detail);
}

static void
proxy_finish(struct proxy *px)
{
	struct relay_conn	*c = px->c;
	int			 reusable;

	reusable = px->resp.keep_alive && px->req_done;
	proxy_flush(px);
	upstream_release(px->uc, reusable);
	px->uc = NULL;
	c->px = NULL;
	proxy_free(px);
	conn_exchange_done(c);
}

/* Moves the staged bytes to the client. A TLS bufferevent writes one record
 * per buffer chain, so up to one record's worth is joined into one chain
 * first: a small response leaves in one record and one system call. */
static void
proxy_flush(struct proxy *px)
{
	size_t	len = evbuffer_get_length(px->stage);

	if (len == 0)
		return;
	if (len <= PROXY_RECORD)
		evbuffer_pullup(px->stage, -1);
	evbuffer_add_buffer(bufferevent_get_output(px->c->bev), px->stage);
}

static void
proxy_up_read(struct bufferevent *bev, void *arg)
{
	struct proxy	*px = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer	*cout = bufferevent_get_output(px->c->bev);
	unsigned char	*data;
	size_t		 len, used;
	enum http_feed	 rc;

	while ((len = evbuffer_get_contiguous_space(in)) > 0) {
		if (evbuffer_get_length(cout) + evbuffer_get_length(px->stage) >
		    PROXY_HIGH_WATER) {
			/* Resumed from the client's write callback. */
			proxy_flush(px);
			bufferevent_disable(bev, EV_READ);
			px->up_paused = 1;
			return;
		}
		data = evbuffer_pullup(in, (ssize_t)len);
		rc = http_msg_feed(&px->resp, (const char *)data, len, &used);
		evbuffer_drain(in, used);
		if (rc == HTTP_FEED_ERROR) {
			proxy_fail(px, 502, "bad-upstream-response",
			    px->resp.err.detail ? px->resp.err.detail :
			    "the upstream sent a malformed response");
			return;
		}
		if (rc == HTTP_FEED_PAUSED) {
			if (px->interim) {
				px->interim = 0;
				http_msg_resume(&px->resp);
				continue;
			}
			proxy_finish(px);
			return;
		}
	}
	/* Everything this read produced, to the client in one piece. */
	proxy_flush(px);
}

static void
proxy_up_write(struct bufferevent *bev, void *arg)
{
	struct proxy	*px = arg;

	/* The upstream took what we queued: the client may send more. */
	if (px->c->read_paused)
		conn_pause_read(px->c, 0);
}

void
proxy_client_drained(struct proxy *px)
{
	if (!px->up_paused)
		return;
	px->up_paused = 0;
	bufferevent_enable(px->uc->bev, EV_READ);
	proxy_up_read(px->uc->bev, px);
}

/* RFC 9110 §9.2.2: an idempotent request without a body (nothing was
 * streamed that could not be sent again) may be repeated. */
static int
proxy_replayable(const struct relay_conn *c)
{
	switch (c->req.method) {
	case HTTP_GET:
	case HTTP_HEAD:
	case HTTP_OPTIONS:
	case HTTP_PUT:
	case HTTP_DELETE:
		return !c->req.chunked && c->req.content_length == 0;
	default:
		return 0;
	}
}

/* A pooled connection closed before any answer: the upstream dropped it
 * as the request went out (its keep-alive ran out). The request goes once
 * more, on a new connection, if that cannot do it twice. 0 if it was sent
 * again, -1 if not. */
static int
proxy_retry(struct proxy *px)
{
	struct relay_conn	*c = px->c;
	struct upstream_pool	*pool = px->uc->pool;
	struct upstream_conn	*uc;

	if (px->retried || !px->uc->reused || px->resp.started ||
	    !proxy_replayable(c))
		return -1;
	px->retried = 1;
	log_info("%s: request %s to %s: the pooled connection was closed; "
	    "sending it again on a new one", __func__, c->rid, pool->cf->name);
	upstream_release(px->uc, 0);
	px->uc = NULL;
	if ((uc = upstream_get_fresh(pool)) == NULL)
		return -1;
	proxy_attach(px, uc);
	return proxy_send_head(px);
}

static void
proxy_up_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy	*px = arg;
	unsigned long	 e;
	char		 buf[200] = "";

	if (what & BEV_EVENT_CONNECTED) {
		px->uc->connected = 1;
		proxy_set_timeouts(px);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		proxy_fail(px, 504, "upstream-timeout",
		    "the upstream did not answer in time");
		return;
	}
	if ((what & BEV_EVENT_EOF) && px->resp.started &&
	    http_msg_eof(&px->resp) == 0 && px->resp.done) {
		/* A body delimited by the close of the connection. */
		proxy_finish(px);
		return;
	}
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	if (proxy_retry(px) == 0)
		return;
	if (buf[0] == '\0')
		str_copy(buf, sizeof(buf), (what & BEV_EVENT_EOF) ?
		    "the upstream closed the connection" :
		    "cannot connect to the upstream");
	proxy_fail(px, 502, "upstream-unavailable", buf);
}

static int
proxy_on_head(struct http_msg *m, void *arg)
{
	struct proxy		*px = arg;
	struct relay_conn	*c = px->c;
	struct evbuffer		*out = px->stage;
	int			 rc, nobody;

	if (m->status >= 100 && m->status < 200) {
		px->interim = 1;	/* 100 Continue etc. are ours to send */
		return 0;
	}
	nobody = m->head_request || m->status == 204 || m->status == 304;
	if (!nobody && !m->has_length) {
		if (c->req.minor >= 1)
			px->resp_chunked = 1;
		else
			c->close_after = 1;	/* HTTP/1.0: close delimits */
	}
	rc = evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", m->status,
	    http_reason(m->status)) < 0;
	rc |= http_msg_write_headers(m, out);
	rc |= evbuffer_add_printf(out, "X-Gateway-Request-Id: %s\r\n", c->rid) < 0;
	if (m->has_length && (!nobody || m->head_request))
		rc |= evbuffer_add_printf(out, "Content-Length: %llu\r\n",
		    (unsigned long long)m->content_length) < 0;
	if (px->resp_chunked)
		rc |= evbuffer_add_printf(out,
		    "Transfer-Encoding: chunked\r\n") < 0;
	if (conn_wants_close(c))
		rc |= evbuffer_add_printf(out, "Connection: close\r\n") < 0;
	rc |= evbuffer_add(out, "\r\n", 2);
	px->head_sent = 1;
	c->status = m->status;
	return rc ? -1 : 0;
}

static int
proxy_on_body(struct http_msg *m, const char *p, size_t len, void *arg)
{
	struct proxy	*px = arg;
	struct evbuffer	*out = px->stage;

	if (px->interim || len == 0)
		return 0;
	px->c->bytes_out += len;
	EVP_DigestUpdate(px->c->md_resp, p, len);
	if (px->resp_chunked && evbuffer_add_printf(out, "%zx\r\n", len) < 0)
		return -1;
	if (evbuffer_add(out, p, len) == -1)
		return -1;
	if (px->resp_chunked && evbuffer_add(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

static int
proxy_on_done(struct http_msg *m, void *arg)
{
	struct proxy	*px = arg;

	if (px->interim)
		return 0;
	if (px->resp_chunked)
		return evbuffer_add(px->stage, "0\r\n\r\n", 5);
	return 0;
}
