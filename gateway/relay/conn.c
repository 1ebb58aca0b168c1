/* A client connection on a relay worker: TLS handshake, agency identity,
 * strict request parsing with limits, one exchange at a time (pipelined
 * requests wait their turn), keep-alive, timeouts and drain. The deadlines
 * are in conn_timer.c, admission and the lingering close in conn_admit.c. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "relay/conn_int.h"
#include "relay/relay.h"
#include "relay/route.h"
#include "relay/transfer.h"
#include "metrics.h"
#include "runtime.h"
#include "util.h"

/* A finished response the client does not read is dropped after this;
 * input after an error answer is discarded for as long at most. */
#define CONN_LINGER_MS		5000
/* Above this much output we stop reading the other side. */
#define CONN_HIGH_WATER		(256 * 1024)

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_process(struct relay_conn *);
static int	conn_on_head(struct http_msg *, void *);
static int	conn_on_body(struct http_msg *, const char *, size_t, void *);
static int	conn_on_done(struct http_msg *, void *);

static const struct http_cbs	conn_http_cbs = {
	.on_head = conn_on_head,
	.on_body = conn_on_body,
	.on_done = conn_on_done,
};

/* The one place a connection changes state; each state owns its timer. */
void
conn_set_state(struct relay_conn *c, enum conn_state s)
{
	const struct cfg_limits	*lim = &c->r->cf->limits;

	c->state = s;
	switch (s) {
	case CONN_HANDSHAKE:
		conn_arm(c, lim->handshake_timeout_ms);
		break;
	case CONN_READING:
		conn_arm(c, lim->request_timeout_ms);
		break;
	case CONN_IDLE:
		conn_arm(c, lim->idle_timeout_ms);
		break;
	case CONN_WAITING:
		/* The upstream's timeouts govern an answer in progress and
		 * send_timeout a client that stops reading; this deadline ends
		 * an exchange that makes no progress at all, such as one whose
		 * upstream is paused for a client that reads nothing. */
		c->progress_ms = now_ms();
		c->wait_out = evbuffer_get_length(
		    bufferevent_get_output(c->bev));
		conn_arm(c, conn_wait_ms(c));
		break;
	case CONN_CLOSING:
		/* Flush what is queued, then close: nothing more is read. An
		 * error answer or an unread request may be followed by bytes
		 * still on their way: those are discarded before the close. */
		c->linger = !c->eof && (c->status >= 400 || !c->req.done ||
		    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0);
		bufferevent_disable(c->bev, EV_READ);
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		conn_arm(c, CONN_LINGER_MS);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
		break;
	case CONN_LINGER:
		conn_arm(c, CONN_LINGER_MS);
		break;
	}
}

void
conn_accept(struct relay *r, enum listener_kind kind, int fd,
    const struct sockaddr *sa, int salen)
{
	struct relay_conn	*c, *old;
	SSL			*ssl;
	char			 peer[64] = "";
	int			 one = 1;

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    peer, sizeof(peer));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    peer, sizeof(peer));
	/* Strangers get a budget of their own, apart from max_connections
	 * (which counts authenticated connections): one address cannot hold
	 * more than its share of it, and when it is full the oldest
	 * handshake makes room. A flood of silent connections thus never
	 * reaches the agencies' slots. */
	if (r->draining) {
		close(fd);
		return;
	}
	if (!conn_handshake_admit(r, peer)) {
		conn_refused(r, kind, CONN_REFUSED_ADDRESS);
		close(fd);
		return;
	}
	if (r->nhandshakes >= r->hs_budget &&
	    (old = TAILQ_FIRST(&r->handshakes)) != NULL) {
		conn_refused(r, old->kind, CONN_REFUSED_EVICTED);
		conn_free(old);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s: calloc", __func__);
		close(fd);
		return;
	}
	c->r = r;
	c->kind = kind;
	c->agency = -1;
	c->serial = ++r->serial;
	str_copy(c->peer, sizeof(c->peer), peer);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (http_msg_init(&c->req, 1, r->cf->limits.max_header_bytes,
	    r->cf->limits.max_headers, r->cf->limits.max_body, &conn_http_cbs,
	    c) == -1) {
		log_warnx("%s: out of memory", __func__);
		free(c);
		close(fd);
		return;
	}
	if ((ssl = SSL_new(r->rt->server_ctx[kind])) == NULL ||
	    (c->bev = bufferevent_openssl_socket_new(r->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS)) == NULL ||
	    (c->timer = evtimer_new(r->base, conn_timer_cb, c)) == NULL ||
	    (c->md_req = EVP_MD_CTX_new()) == NULL ||
	    (c->md_resp = EVP_MD_CTX_new()) == NULL) {
		log_warnx("%s: cannot set up the connection", __func__);
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else {
			SSL_free(ssl);
			close(fd);
		}
		if (c->timer != NULL)
			event_free(c->timer);
		EVP_MD_CTX_free(c->md_req);
		EVP_MD_CTX_free(c->md_resp);
		http_msg_free(&c->req);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	conn_send_timeout(c);
	/* While a response is pending, pipelined bytes wait in the socket,
	 * not in our memory. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_HIGH_WATER);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&r->conns, c, entry);
	r->nconns++;
	TAILQ_INSERT_TAIL(&r->handshakes, c, hs_entry);
	r->nhandshakes++;
	atomic_fetch_add_explicit(&r->ms->open[kind], 1, memory_order_relaxed);
	conn_set_state(c, CONN_HANDSHAKE);
}

void
conn_free(struct relay_conn *c)
{
	struct relay	*r = c->r;
	SSL		*ssl;

	if (c->px != NULL)
		proxy_free(c->px);
	if (c->probe != NULL)
		admin_probe_detach(c->probe);
	if (c->audit != NULL)
		audit_wait_detach(c->audit);
	transfer_free(c->xfer);
	conn_handshake_leave(c);
	conn_uncount(c);
	if (c->state == CONN_LINGER)
		r->nlinger--;
	atomic_fetch_sub_explicit(&r->ms->open[c->kind], 1, memory_order_relaxed);
	TAILQ_REMOVE(&r->conns, c, entry);
	r->nconns--;
	if (c->linger_ev != NULL)
		event_free(c->linger_ev);
	if (c->state != CONN_HANDSHAKE && c->state != CONN_LINGER &&
	    (ssl = bufferevent_openssl_get_ssl(c->bev)) != NULL) {
		/* A close_notify tells the client the response is complete. */
		SSL_shutdown(ssl);
		ERR_clear_error();
	}
	bufferevent_free(c->bev);
	event_free(c->timer);
	EVP_MD_CTX_free(c->md_req);
	EVP_MD_CTX_free(c->md_resp);
	http_msg_free(&c->req);
	free(c);
	relay_conn_gone(r);
}

void
conn_abort(struct relay_conn *c, const char *why)
{
	SSL	*ssl;

	log_info("%s: request %s from %s dropped: %s", __func__, c->rid,
	    c->peer, why);
	/* No close_notify: it would pass a cut response off as complete. */
	if ((ssl = bufferevent_openssl_get_ssl(c->bev)) != NULL)
		SSL_set_quiet_shutdown(ssl, 1);
	if (c->status == 0)
		c->status = 502;
	audit_exchange(c);
	conn_free(c);
}

int
conn_wants_close(const struct relay_conn *c)
{
	return c->close_after || c->r->draining || c->over_capacity ||
	    (c->req.head_done && !c->req.keep_alive);
}

/* Draining: a connection that already had an answer and now idles, or
 * only discards input, is closed (a keep-alive client retries elsewhere);
 * one still in its
 * handshake or before its first request gets that one answer, then closes,
 * so a client that connected just before the drain is not cut off. */
void
conn_drain(struct relay_conn *c)
{
	if ((c->state == CONN_IDLE && c->served > 0) || c->state == CONN_LINGER)
		conn_free(c);
	else
		c->close_after = 1;
}

void
conn_pause_read(struct relay_conn *c, int pause)
{
	if (pause && !c->read_paused) {
		c->read_paused = 1;
		bufferevent_disable(c->bev, EV_READ);
	} else if (!pause && c->read_paused) {
		c->read_paused = 0;
		if (c->state == CONN_READING || c->state == CONN_IDLE) {
			if (!c->eof)
				bufferevent_enable(c->bev, EV_READ);
			conn_process(c);
		}
	}
}

/* The response is fully queued: log, then either close or take the next
 * request. Never resumes the parser from inside its own callbacks. */
void
conn_exchange_done(struct relay_conn *c)
{
	c->served++;
	audit_exchange(c);
	if (conn_wants_close(c) || !c->req.done) {
		/* A response that overtook its request body ends the connection:
		 * the rest of that body cannot be told from a next request. */
		conn_set_state(c, CONN_CLOSING);
		return;
	}
	conn_set_state(c, CONN_IDLE);
	if (c->in_feed) {
		c->resume_pending = 1;
		return;
	}
	http_msg_resume(&c->req);
	conn_process(c);
}

static int
conn_has_body(const struct relay_conn *c)
{
	return c->req.chunked || c->req.content_length > 0;
}

/* Queues a local response; a HEAD request gets its head only (RFC 9110
 * §9.3.2), with the Content-Length the body would have had. */
static void
conn_write(struct relay_conn *c, int status, const char *ctype,
    const char *body, size_t len, int retry, const char *extra)
{
	/* RFC 9110 §15.4.5: nor has a 304 any content. */
	if ((c->req.head_done && c->req.method == HTTP_HEAD) || status == 304)
		body = NULL;
	http_write_simple(bufferevent_get_output(c->bev), status, ctype, body,
	    len, c->rid, conn_wants_close(c), retry, extra);
}

void
conn_reply(struct relay_conn *c, int status, const char *ctype,
    const char *body, size_t len)
{
	conn_reply_extra(c, status, ctype, body, len, NULL);
}

void
conn_reply_extra(struct relay_conn *c, int status, const char *ctype,
    const char *body, size_t len, const char *extra)
{
	c->status = status;
	c->bytes_out += len;
	c->local_reply = 1;
	EVP_DigestUpdate(c->md_resp, body, len);
	conn_write(c, status, ctype, body, len, 0, extra);
	if (c->req.done || c->close_after)
		conn_exchange_done(c);
	/* else conn_on_done finishes the exchange once the body is read */
}

void
conn_reply_error(struct relay_conn *c, int status, const char *code,
    const char *detail)
{
	char	body[768], allow[96] = "";
	int	n;
	size_t	i;

	/* After these the byte stream cannot be trusted or is not wanted. */
	if (status == 400 || status == 408 || status == 413 || status == 431 ||
	    status == 417 || status == 503 || (!c->req.done && conn_has_body(c)))
		c->close_after = 1;
	c->status = status;
	c->code = code;
	c->local_reply = 1;
	if (status >= 500)
		log_info("request %s from %s: %d %s: %s", c->rid, c->peer, status,
		    code, detail);
	if ((n = http_error_body(body, sizeof(body), code, detail, c->rid)) < 0)
		n = 0;
	c->bytes_out += (uint64_t)n;
	EVP_DigestUpdate(c->md_resp, body, (size_t)n);
	if (status == 405 && c->route != NULL) {
		/* RFC 9110 §15.5.6: say what the route does allow. */
		static const char *const names[] = { "GET", "HEAD", "POST",
		    "PUT", "DELETE", "PATCH", "OPTIONS" };

		str_copy(allow, sizeof(allow), "Allow:");
		for (i = 0; i < nitems(names); i++)
			if (c->route->methods & (1u << i)) {
				str_append(allow, sizeof(allow), allow[6] ?
				    ", " : " ");
				str_append(allow, sizeof(allow), names[i]);
			}
		str_append(allow, sizeof(allow), "\r\n");
	}
	conn_write(c, status, "application/json", body, (size_t)n,
	    status == 503 ? 1 : 0, allow[0] ? allow : NULL);
	if (c->req.done || c->close_after)
		conn_exchange_done(c);
}

static void
conn_begin_exchange(struct relay_conn *c)
{
	relay_request_id(c->r, c->rid, sizeof(c->rid));
	c->start_ms = now_ms();
	c->status = 0;
	c->bytes_out = 0;
	c->route = NULL;
	c->local_reply = 0;
	c->proxied = 0;
	c->code = NULL;
	c->audit_req = 0;
	c->logged = 0;
	c->logged_index = 0;
	transfer_free(c->xfer);
	c->xfer = NULL;
	EVP_DigestInit_ex(c->md_req, c->r->sha256, NULL);
	EVP_DigestInit_ex(c->md_resp, c->r->sha256, NULL);
	conn_set_state(c, CONN_READING);
}

static void
conn_process(struct relay_conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	enum http_feed	 rc;
	size_t		 len, used;
	unsigned char	*data;

	while ((c->state == CONN_IDLE || c->state == CONN_READING) &&
	    !c->read_paused && (len = evbuffer_get_contiguous_space(in)) > 0) {
		if (c->state == CONN_IDLE)
			conn_begin_exchange(c);
		data = evbuffer_pullup(in, (ssize_t)len);
		c->in_feed = 1;
		rc = http_msg_feed(&c->req, (const char *)data, len, &used);
		c->in_feed = 0;
		evbuffer_drain(in, used);
		if (rc == HTTP_FEED_ERROR) {
			if (c->state != CONN_CLOSING) {
				if (c->px != NULL) {
					/* The upstream saw part of this request. */
					proxy_free(c->px);
					c->px = NULL;
				}
				if (c->status != 0) {
					/* A response is already on its way: a 400
					 * would be spliced into it, or read as the
					 * answer to a next request. */
					if (c->code == NULL)
						c->code = c->req.err.code;
					conn_abort(c, c->req.err.detail);
					return;
				}
				c->close_after = 1;
				conn_reply_error(c, c->req.err.status,
				    c->req.err.code, c->req.err.detail);
			}
			return;
		}
		if (rc == HTTP_FEED_PAUSED) {
			if (!c->resume_pending)
				return;	/* the response is on its way */
			c->resume_pending = 0;
			http_msg_resume(&c->req);
		}
	}
	/* After close_notify nothing more comes: an unfinished request is
	 * the client going away, an idle connection simply ends. */
	if (c->eof && !c->read_paused &&
	    evbuffer_get_length(in) == 0) {
		if (c->state == CONN_READING) {
			if (c->status == 0)
				c->status = 499;
			audit_exchange(c);
			conn_free(c);
		} else if (c->state == CONN_IDLE)
			conn_free(c);
	}
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct relay_conn	*c = arg;

	if (c->state == CONN_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
			return;
		if (c->linger)
			conn_linger(c);
		else
			conn_free(c);
		return;
	}
	c->progress_ms = now_ms();
	if (c->px != NULL)
		proxy_client_drained(c->px);
}

/* Counts a failed handshake under the reason an operator can act on. The
 * verify result says why a certificate was refused; a negotiated cipher
 * without a peer certificate means none was sent. */
static void
conn_tls_failed(struct relay_conn *c)
{
	SSL			*ssl = bufferevent_openssl_get_ssl(c->bev);
	enum metrics_tls_reason	 why = TLS_FAIL_PROTOCOL;
	long			 v;

	if (ssl != NULL && (v = SSL_get_verify_result(ssl)) != X509_V_OK) {
		if (v == X509_V_ERR_CERT_HAS_EXPIRED ||
		    v == X509_V_ERR_CERT_NOT_YET_VALID)
			why = TLS_FAIL_EXPIRED;
		else if (v == X509_V_ERR_CERT_REVOKED)
			why = TLS_FAIL_REVOKED;
		else
			why = TLS_FAIL_UNTRUSTED;
	} else if (ssl != NULL && SSL_get_current_cipher(ssl) != NULL &&
	    SSL_get0_peer_certificate(ssl) == NULL)
		why = TLS_FAIL_NO_CERT;
	atomic_fetch_add_explicit(&c->r->ms->tls_failures[c->kind][why], 1,
	    memory_order_relaxed);
}

/* The client sent close_notify: under TLS 1.3 that closes only its side
 * (RFC 8446 §6.1), so a request already sent is still answered, as it is
 * under TLS 1.2; the connection closes after that answer. */
static void
conn_half_closed(struct relay_conn *c)
{
	c->eof = 1;
	c->close_after = 1;
	bufferevent_disable(c->bev, EV_READ);
	/* The TLS layer stopped writing when it saw the close: resume. */
	bufferevent_enable(c->bev, EV_WRITE);
	switch (c->state) {
	case CONN_IDLE:
	case CONN_READING:
		conn_process(c);	/* what arrived before the close */
		break;
	default:
		break;
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct relay_conn	*c = arg;
	unsigned long		 e;
	char			 buf[160] = "connection closed";

	if (what & BEV_EVENT_CONNECTED) {
		conn_handshake_done(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && c->state != CONN_HANDSHAKE) {
		conn_send_timed_out(c);
		return;
	}
	if ((what & BEV_EVENT_EOF) && c->state != CONN_HANDSHAKE &&
	    (SSL_get_shutdown(bufferevent_openssl_get_ssl(bev)) &
	    SSL_RECEIVED_SHUTDOWN)) {
		conn_half_closed(c);
		return;
	}
	if (c->state == CONN_HANDSHAKE) {
		while ((e = bufferevent_get_openssl_error(bev)) != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
		conn_tls_failed(c);
		log_info("%s: TLS handshake with %s failed: %s", __func__,
		    c->peer, buf);
	} else if (c->state == CONN_READING || c->state == CONN_WAITING) {
		if (c->status == 0)
			c->status = 499;	/* client went away (nginx's code) */
		audit_exchange(c);
	}
	conn_free(c);
}

/* Refuses a request at its head. Without a body we can keep the connection
 * (the parser finishes the empty message); with one we close. */
static int
conn_refuse(struct relay_conn *c, int status, const char *code,
    const char *detail)
{
	conn_reply_error(c, status, code, detail);
	return c->close_after ? -1 : 0;
}

static int
conn_on_head(struct http_msg *m, void *arg)
{
	struct relay_conn	*c = arg;
	const struct cfg_agency	*ag;
	const char		*url;
	size_t			 ulen;
	unsigned		 method;

	if (c->agency < 0)
		return conn_refuse(c, 403, "unknown-agency",
		    "client certificate is pinned to no agency");
	ag = &c->r->cf->agencies[c->agency];
	url = http_msg_url(m, &ulen);
	if (route_path_ok(url, ulen) == -1)
		return conn_refuse(c, 400, "bad-path",
		    "request target must be a plain absolute path");
	if (c->kind == LISTENER_ADMIN &&
	    console_admit(c, ag->role, url, ulen) == -1)
		return c->close_after ? -1 : 0;
	/* The audit API is open to every agency and to admin. */
	if (ulen >= 7 && memcmp(url, "/audit/", 7) == 0) {
		c->audit_req = 1;
		return 0;	/* answered in conn_on_done */
	}
	/* On the admin listener the console reads the transfer API's GET
	 * endpoints through the same handlers (and audit entries) as here. */
	if (c->kind == LISTENER_ADMIN && (ulen < 4 ||
	    memcmp(url, "/v1/", 4) != 0 || console_local(url, ulen)))
		return 0;	/* answered in conn_on_done */
	/* Every exchange here is audited: no room in the queue, no exchange. */
	if (audit_backlogged(c->r)) {
		c->close_after = 1;
		return conn_refuse(c, 503, "audit-unavailable",
		    "the audit log cannot take more entries now");
	}
	if (transfer_head(c, url, ulen) == 0) {
		if (c->local_reply)
			return c->close_after ? -1 : 0;
		if (m->expect_continue)
			evbuffer_add(bufferevent_get_output(c->bev),
			    "HTTP/1.1 100 Continue\r\n\r\n", 25);
		return 0;	/* answered in conn_on_done */
	}
	method = config_method_bit(http_msg_method_name(m),
	    strlen(http_msg_method_name(m)));
	c->route = route_match(c->r->cf, url, ulen);
	switch (route_check(c->route, method, ag->role)) {
	case ROUTE_NONE:
		return conn_refuse(c, 404, "no-route", "no route for this path");
	case ROUTE_ROLE:
		return conn_refuse(c, 403, "role-not-allowed",
		    "this route is not open to the caller's role");
	case ROUTE_METHOD:
		return conn_refuse(c, 405, "method-not-allowed",
		    "method not allowed on this route");
	case ROUTE_OK:
		break;
	}
	if (proxy_start(c) == -1)
		return conn_refuse(c, 502, "upstream-unavailable",
		    "cannot reach the upstream");
	if (m->expect_continue)
		evbuffer_add(bufferevent_get_output(c->bev),
		    "HTTP/1.1 100 Continue\r\n\r\n", 25);
	return 0;
}

static int
conn_on_body(struct http_msg *m, const char *p, size_t len, void *arg)
{
	struct relay_conn	*c = arg;

	EVP_DigestUpdate(c->md_req, p, len);
	if (c->xfer != NULL && !c->local_reply)
		return transfer_body(c->xfer, p, len);
	if (c->px == NULL)
		return 0;	/* answered already; the body is discarded */
	return proxy_body(c->px, p, len);
}

static int
conn_on_done(struct http_msg *m, void *arg)
{
	struct relay_conn	*c = arg;

	if (c->local_reply) {
		conn_exchange_done(c);
		return 0;
	}
	if (c->audit_req || (c->kind == LISTENER_ADMIN && c->xfer == NULL)) {
		const char	*url;
		size_t		 ulen;

		conn_set_state(c, CONN_WAITING);
		url = http_msg_url(m, &ulen);
		if (!c->audit_req || audit_request(c, url, ulen) == -1)
			admin_request(c);
		return 0;
	}
	if (c->px != NULL) {
		conn_set_state(c, CONN_WAITING);
		return proxy_body_done(c->px);
	}
	if (c->xfer != NULL) {
		const char	*url;
		size_t		 ulen;

		conn_set_state(c, CONN_WAITING);
		url = http_msg_url(m, &ulen);
		transfer_done(c, url, ulen);
	}
	return 0;
}
