/* One delivery attempt as an explicit state machine (connecting, sending,
 * reading, done) over a pooled mutual-TLS connection. Every input, from
 * libevent or the deadline, goes through exchange_step and nowhere else. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "config.h"
#include "courier/exchange.h"
#include "ipc.h"
#include "log.h"
#include "net/http.h"
#include "net/upstream.h"
#include "util.h"

/* Response limits: the keeper only ever sees the digest of the body. */
#define EXCHANGE_MAX_HEAD	(64 * 1024)
#define EXCHANGE_MAX_HEADERS	256
#define EXCHANGE_MAX_BODY	(1024 * 1024)
/* 1xx answers skipped before the final one; more is a peer stalling. */
#define EXCHANGE_MAX_INTERIM	8

enum exchange_state {
	EXCHANGE_CONNECTING,	/* getting a connection; TCP and TLS handshake */
	EXCHANGE_SENDING,	/* the request is leaving our buffers */
	EXCHANGE_READING,	/* the request is out or answered early */
	EXCHANGE_DONE,		/* the result is out; nothing more happens */
};

enum exchange_input {
	EXCHANGE_IN_START,	/* exchange_start */
	EXCHANGE_IN_CONNECTED,	/* the TLS handshake is done */
	EXCHANGE_IN_SENT,	/* the output buffer ran empty */
	EXCHANGE_IN_READABLE,	/* response bytes arrived */
	EXCHANGE_IN_EOF,	/* the peer closed cleanly (TLS close_notify) */
	EXCHANGE_IN_ERROR,	/* socket or TLS error, unclean close */
	EXCHANGE_IN_CONNECT_TIMEOUT,	/* the upstream's connect_timeout */
	EXCHANGE_IN_DEADLINE,	/* the upstream's timeout, for the whole */
};

enum exchange_parse {
	EXCHANGE_PARSE_MORE,	/* the final response is not complete yet */
	EXCHANGE_PARSE_COMPLETE,
	EXCHANGE_PARSE_BAD,	/* x->why says why */
};

struct exchange {
	enum exchange_state	 state;
	struct upstream_pool	*pool;		/* borrowed */
	struct upstream_conn	*uc;		/* ours until released */
	struct event		*deadline;	/* owned */
	struct evbuffer		*req;		/* owned: the whole request, kept
						   for a second connection */
	struct http_msg		 resp;		/* owned (head storage) */
	EVP_MD_CTX		*md;		/* owned: response body SHA-256 */
	exchange_done_cb	 done;
	void			*arg;
	uint64_t		 seq;
	uint64_t		 start_ms;
	int			 got_bytes;	/* any response byte, 1xx too */
	int			 refreshed;	/* second connection taken */
	int			 interim;	/* a 1xx being skipped */
	unsigned		 ninterim;
	char			*keep;		/* owned: the body, if kept */
	size_t			 keep_len, keep_max;
	int			 keep_over;	/* the body passed keep_max */
	char			 why[160];	/* detail of the last failure */
};

static void	exchange_step(struct exchange *, enum exchange_input);

static int
exchange_on_head(struct http_msg *m, void *arg)
{
	struct exchange	*x = arg;

	/* 100 Continue and the like come before the real answer. */
	x->interim = m->status >= 100 && m->status < 200;
	return 0;
}

static int
exchange_on_body(struct http_msg *m, const char *p, size_t len, void *arg)
{
	struct exchange	*x = arg;

	if (x->keep != NULL && !x->interim) {
		if (len > x->keep_max - x->keep_len) {
			x->keep_over = 1;
			return -1;
		}
		memcpy(x->keep + x->keep_len, p, len);
		x->keep_len += len;
		x->keep[x->keep_len] = '\0';
	}
	/* Hashed: only the digest of a delivery's answer reaches the
	 * keeper. */
	return EVP_DigestUpdate(x->md, p, len) == 1 ? 0 : -1;
}

static const struct http_cbs	exchange_http_cbs = {
	.on_head = exchange_on_head,
	.on_body = exchange_on_body,
};

static void
exchange_read(struct bufferevent *bev, void *arg)
{
	exchange_step(arg, EXCHANGE_IN_READABLE);
}

static void
exchange_write(struct bufferevent *bev, void *arg)
{
	exchange_step(arg, EXCHANGE_IN_SENT);
}

static void
exchange_event(struct bufferevent *bev, short what, void *arg)
{
	struct exchange	*x = arg;
	unsigned long	 e, first = 0;
	int		 err = errno;	/* libevent restores it for us */

	if (what & BEV_EVENT_CONNECTED) {
		exchange_step(x, EXCHANGE_IN_CONNECTED);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		exchange_step(x, EXCHANGE_IN_CONNECT_TIMEOUT);
		return;
	}
	/* libevent also queues SSL_get_error() codes here (library 0, e.g.
	 * SSL_ERROR_SYSCALL): those say "see errno", not what went wrong. */
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0 && ERR_GET_LIB(e) != 0)
			first = e;
	if (first != 0)
		ERR_error_string_n(first, x->why, sizeof(x->why));
	else if (what & BEV_EVENT_EOF)
		str_copy(x->why, sizeof(x->why), "closed by the upstream");
	else
		str_copy(x->why, sizeof(x->why), err != 0 ? strerror(err) :
		    "connection error");
	exchange_step(x, (what & BEV_EVENT_EOF) ? EXCHANGE_IN_EOF :
	    EXCHANGE_IN_ERROR);
}

static void
exchange_deadline(evutil_socket_t fd, short what, void *arg)
{
	exchange_step(arg, EXCHANGE_IN_DEADLINE);
}

/* The request, once: head rebuilt from checked fields, then the body. */
static int
exchange_request(struct exchange *x, const struct ipc_deliver *d,
    const char *body, size_t blen)
{
	const struct cfg_upstream	*u = x->pool->cf;
	int				 v6 = strchr(u->host, ':') != NULL;
	int				 rc;

	/* Host as configured (RFC 9112 §3.2): brackets around IPv6, the
	 * port unless it is https's own. */
	rc = evbuffer_add_printf(x->req, "POST %s HTTP/1.1\r\nHost: %s%s%s",
	    d->path, v6 ? "[" : "", u->host, v6 ? "]" : "") < 0;
	if (u->port != 443)
		rc |= evbuffer_add_printf(x->req, ":%u", (unsigned)u->port) < 0;
	/* draft-ietf-httpapi-idempotency-key-header: the key is an sf-string;
	 * validate_deliver made sure it needs no escapes. */
	rc |= evbuffer_add_printf(x->req, "\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nIdempotency-Key: \"%s\"\r\n%s\r\n",
	    d->ctype, blen, d->idempotency_key, d->headers) < 0;
	if (blen > 0)
		rc |= evbuffer_add(x->req, body, blen);
	/* One piece: every copy onto a connection is then one chain, which
	 * a TLS bufferevent writes as full records. */
	if (rc != 0 || evbuffer_pullup(x->req, -1) == NULL) {
		log_warnx("%s: delivery %llu: cannot build the request",
		    __func__, (unsigned long long)d->seq);
		return -1;
	}
	return 0;
}

struct exchange *
exchange_new(struct upstream_pool *pool, const EVP_MD *md,
    const struct ipc_deliver *d, const char *body, size_t blen,
    exchange_done_cb done, void *arg)
{
	struct exchange	*x;

	if ((x = calloc(1, sizeof(*x))) == NULL) {
		log_warn("%s: calloc", __func__);
		return NULL;
	}
	x->state = EXCHANGE_CONNECTING;
	x->pool = pool;
	x->done = done;
	x->arg = arg;
	x->seq = d->seq;
	if (http_msg_init(&x->resp, 0, EXCHANGE_MAX_HEAD, EXCHANGE_MAX_HEADERS,
	    EXCHANGE_MAX_BODY, &exchange_http_cbs, x) == -1 ||
	    (x->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(x->md, md, NULL) != 1 ||
	    (x->req = evbuffer_new()) == NULL ||
	    (x->deadline = evtimer_new(pool->base, exchange_deadline, x)) ==
	    NULL) {
		log_warnx("%s: delivery %llu: out of memory", __func__,
		    (unsigned long long)d->seq);
		exchange_free(x);
		return NULL;
	}
	if (exchange_request(x, d, body, blen) == -1) {
		exchange_free(x);
		return NULL;
	}
	return x;
}

int
exchange_keep_body(struct exchange *x, size_t max)
{
	if ((x->keep = malloc(max + 1)) == NULL) {
		log_warn("%s: malloc", __func__);
		return -1;
	}
	x->keep[0] = '\0';
	x->keep_max = max;
	return 0;
}

const char *
exchange_body(const struct exchange *x, size_t *len)
{
	*len = x->keep_len;
	return x->keep != NULL ? x->keep : "";
}

void
exchange_free(struct exchange *x)
{
	if (x == NULL)
		return;
	free(x->keep);
	if (x->uc != NULL)
		upstream_release(x->uc, 0);
	if (x->deadline != NULL)
		event_free(x->deadline);
	if (x->req != NULL)
		evbuffer_free(x->req);
	EVP_MD_CTX_free(x->md);
	http_msg_free(&x->resp);
	free(x);
}

void
exchange_start(struct exchange *x)
{
	uint64_t	ms = x->pool->cf->timeout_ms;
	struct timeval	tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	/* Timers count from the loop's cached time: refreshed, so orders
	 * read in one batch do not each lose the time spent on the others. */
	event_base_update_cache_time(x->pool->base);
	x->start_ms = now_ms();
	evtimer_add(x->deadline, &tv);
	exchange_step(x, EXCHANGE_IN_START);
}

/* Takes a connection and queues the request on it. fresh: it must be a new
 * connection, not one from the idle list. 0, or -1 with x->why set. */
static int
exchange_take(struct exchange *x, int fresh)
{
	struct upstream_conn	*uc;
	size_t			 len = evbuffer_get_length(x->req);

	if (x->uc != NULL) {
		upstream_release(x->uc, 0);
		x->uc = NULL;
	}
	uc = fresh ? upstream_get_fresh(x->pool) : upstream_get(x->pool);
	if (uc == NULL) {
		/* upstream_get logged the system's reason. */
		str_copy(x->why, sizeof(x->why), "no connection could be made");
		return -1;
	}
	x->uc = uc;
	bufferevent_setcb(uc->bev, exchange_read, exchange_write,
	    exchange_event, x);
	/* A pooled connection carries the pool's idle timeout: from here
	 * the deadline bounds the exchange. A new one keeps the connect
	 * timeout until its handshake is done. */
	if (uc->connected)
		bufferevent_set_timeouts(uc->bev, NULL, NULL);
	if (bufferevent_enable(uc->bev, EV_READ | EV_WRITE) == -1 ||
	    evbuffer_add(bufferevent_get_output(uc->bev),
	    evbuffer_pullup(x->req, -1), len) == -1) {
		log_warnx("%s: delivery %llu: cannot queue the request",
		    __func__, (unsigned long long)x->seq);
		str_copy(x->why, sizeof(x->why), "cannot queue the request");
		return -1;
	}
	return 0;
}

/* Feeds what was read to the parser, skipping 1xx answers. */
static enum exchange_parse
exchange_parse(struct exchange *x)
{
	struct evbuffer	*in = bufferevent_get_input(x->uc->bev);
	unsigned char	*data;
	size_t		 len, used;
	enum http_feed	 rc;

	while ((len = evbuffer_get_contiguous_space(in)) > 0) {
		x->got_bytes = 1;
		data = evbuffer_pullup(in, (ssize_t)len);
		rc = http_msg_feed(&x->resp, (const char *)data, len, &used);
		evbuffer_drain(in, used);
		if (rc == HTTP_FEED_ERROR) {
			if (x->keep_over)
				(void)str_printf(x->why, sizeof(x->why),
				    "answer over %zu bytes", x->keep_max);
			else if (x->resp.err.status == 413)
				str_copy(x->why, sizeof(x->why),
				    "body over 1 MiB");
			else if (x->resp.err.status == 431)
				str_copy(x->why, sizeof(x->why),
				    "head over 64 KiB or 256 fields");
			else
				str_copy(x->why, sizeof(x->why),
				    x->resp.err.detail != NULL ?
				    x->resp.err.detail :
				    "refused by the parser");
			return EXCHANGE_PARSE_BAD;
		}
		if (rc == HTTP_FEED_PAUSED) {
			if (!x->interim)
				return EXCHANGE_PARSE_COMPLETE;
			if (++x->ninterim > EXCHANGE_MAX_INTERIM) {
				str_copy(x->why, sizeof(x->why),
				    "too many 1xx responses");
				return EXCHANGE_PARSE_BAD;
			}
			x->interim = 0;
			http_msg_resume(&x->resp);
		}
	}
	return EXCHANGE_PARSE_MORE;
}

/* The end of the attempt: the connection goes back to the pool if the
 * exchange left it clean (complete, keep-alive; upstream_release checks
 * that nothing is left unread or unsent), the result to the owner. done
 * may free x: nothing here touches x after it. */
static void
exchange_finish(struct exchange *x, uint32_t outcome, int complete,
    const char *what, const char *detail)
{
	struct ipc_delivered	r;
	unsigned int		mdlen = 0;

	x->state = EXCHANGE_DONE;
	evtimer_del(x->deadline);
	memset(&r, 0, sizeof(r));
	r.seq = x->seq;
	r.outcome = outcome;
	if (x->resp.head_done && x->resp.status >= 200)
		r.status = x->resp.status;
	r.duration_ms = now_ms() - x->start_ms;
	if (complete && EVP_DigestFinal_ex(x->md, r.response_sha256,
	    &mdlen) != 1)
		memset(r.response_sha256, 0, sizeof(r.response_sha256));
	/* A long detail is cut: the error is a hint for the log. */
	if (what != NULL)
		(void)str_printf(r.error, sizeof(r.error), "%s%s%s", what,
		    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	if (x->uc != NULL) {
		upstream_release(x->uc, complete && x->resp.keep_alive);
		x->uc = NULL;
	}
	if (outcome != DELIVERY_OK)
		log_info("delivery %llu to %s: %s", (unsigned long long)x->seq,
		    x->pool->cf->name, r.error);
	x->done(x, &r, x->arg);
}

/* A complete final response: its status decides. */
static void
exchange_answered(struct exchange *x)
{
	int	s = x->resp.status;
	char	detail[64];

	if (s >= 200 && s <= 299) {
		exchange_finish(x, DELIVERY_OK, 1, NULL, NULL);
		return;
	}
	(void)str_printf(detail, sizeof(detail), "%d %s", s, http_reason(s));
	if (s == 408 || s == 425 || s == 429 || s >= 500)
		exchange_finish(x, DELIVERY_RETRY, 1, "upstream answered",
		    detail);
	else if (s >= 400)
		exchange_finish(x, DELIVERY_REFUSED, 1, "upstream refused",
		    detail);
	else
		/* 3xx: redirects are never followed (an order goes where
		 * the configuration says); the order waits for a fix. */
		exchange_finish(x, DELIVERY_RETRY, 1, "upstream redirected",
		    detail);
}

/* The transition function: the only place the state changes. */
static void
exchange_step(struct exchange *x, enum exchange_input in)
{
	char	text[64];

	switch (x->state) {
	case EXCHANGE_CONNECTING:
		switch (in) {
		case EXCHANGE_IN_START:
			if (exchange_take(x, 0) == -1)
				exchange_finish(x, DELIVERY_RETRY, 0,
				    "cannot connect", x->why);
			else if (x->uc->connected)
				x->state = EXCHANGE_SENDING;
			return;
		case EXCHANGE_IN_CONNECTED:
			x->uc->connected = 1;
			bufferevent_set_timeouts(x->uc->bev, NULL, NULL);
			x->state = EXCHANGE_SENDING;
			return;
		case EXCHANGE_IN_SENT:
		case EXCHANGE_IN_READABLE:
			return;		/* none before the handshake */
		case EXCHANGE_IN_CONNECT_TIMEOUT:
			(void)str_printf(text, sizeof(text),
			    "no connection within %llu ms", (unsigned long long)
			    x->pool->cf->connect_timeout_ms);
			exchange_finish(x, DELIVERY_RETRY, 0, text, NULL);
			return;
		case EXCHANGE_IN_DEADLINE:
			break;
		case EXCHANGE_IN_EOF:
		case EXCHANGE_IN_ERROR:
			exchange_finish(x, DELIVERY_RETRY, 0, "cannot connect",
			    x->why);
			return;
		}
		break;
	case EXCHANGE_SENDING:
	case EXCHANGE_READING:
		switch (in) {
		case EXCHANGE_IN_START:
		case EXCHANGE_IN_CONNECTED:
			return;
		case EXCHANGE_IN_SENT:
			x->state = EXCHANGE_READING;
			return;
		case EXCHANGE_IN_READABLE:
		case EXCHANGE_IN_EOF:
			/* What was read before a close counts too. */
			switch (exchange_parse(x)) {
			case EXCHANGE_PARSE_COMPLETE:
				exchange_answered(x);
				return;
			case EXCHANGE_PARSE_BAD:
				exchange_finish(x, DELIVERY_RETRY, 0,
				    "malformed response", x->why);
				return;
			case EXCHANGE_PARSE_MORE:
				break;
			}
			/* An early answer makes the rest of the request moot
			 * (and the connection not reusable). */
			if (x->got_bytes)
				x->state = EXCHANGE_READING;
			if (in == EXCHANGE_IN_READABLE)
				return;
			/* A body delimited by a clean close. */
			if (x->resp.started && http_msg_eof(&x->resp) == 0 &&
			    x->resp.done && !x->interim) {
				exchange_answered(x);
				return;
			}
			/* FALLTHROUGH */
		case EXCHANGE_IN_ERROR:
			/* A kept-alive connection the peer closed while it was
			 * idle fails before any answer: once per attempt, a
			 * new connection. Sending the POST again is safe even
			 * if the first copy arrived, because receivers honour
			 * the Idempotency-Key. */
			if (!x->got_bytes && x->uc->reused && !x->refreshed) {
				log_debug("%s: delivery %llu: pooled "
				    "connection failed (%s); trying a new one",
				    __func__, (unsigned long long)x->seq, x->why);
				x->refreshed = 1;
				x->state = EXCHANGE_CONNECTING;
				if (exchange_take(x, 1) == -1)
					exchange_finish(x, DELIVERY_RETRY, 0,
					    "cannot connect", x->why);
				return;
			}
			exchange_finish(x, DELIVERY_RETRY, 0, x->got_bytes ?
			    "connection lost mid-response" :
			    "connection lost before any response", x->why);
			return;
		case EXCHANGE_IN_CONNECT_TIMEOUT:
		case EXCHANGE_IN_DEADLINE:
			break;
		}
		break;
	case EXCHANGE_DONE:
		return;
	}
	/* Only the deadline (or a stray connect timeout) gets here. */
	(void)str_printf(text, sizeof(text),
	    "no complete answer within %llu ms",
	    (unsigned long long)x->pool->cf->timeout_ms);
	exchange_finish(x, DELIVERY_RETRY, 0, text, NULL);
}
