/* One client connection of stubd: TLS through bufferevent_openssl, requests
 * parsed by llhttp (no lenient flag), checked (bank signatures, idempotency
 * keys), recorded, and answered one at a time and in order. */
#include <sys/socket.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "llhttp.h"
#include "log.h"
#include "util.h"

#include "stub.h"

/* Below this much queued output the write callback runs (and refills the
 * big stream); closing waits for an empty buffer instead. */
#define STUB_CONN_WRITE_LOW	(64u * 1024)

enum stub_conn_state {
	STUB_CONN_READING,	/* parsing the next request */
	STUB_CONN_BUSY,		/* answering: delay timer, big stream or hang */
	STUB_CONN_CLOSING,	/* last answer queued: flush, then close */
	STUB_CONN_RESETTING,	/* flush earlier answers, then reset */
};

struct stub_conn {
	TAILQ_ENTRY(stub_conn)	 entry;
	struct stub_worker	*w;
	struct bufferevent	*bev;
	struct event		*timer;
	llhttp_t		 parser;
	uint64_t		 id;
	uint64_t		 nreq;
	enum stub_conn_state	 state;
	int			 req_ready;	/* llhttp paused on a full request */
	int			 tls_up;
	int			 streaming;
	int			 big;		/* current request is /__stub/big */
	uint64_t		 big_bytes;
	int			 big_chunked;
	struct stub_big		 bigst;
	struct stub_mode	 mode;		/* applied to the current request */
	struct stub_req		 req;
	struct stub_resp	 resp;		/* the current request's answer */
	char			 peer[80];
	char			 cn[256];
	char			 spki[65];
};

/* Connection serial numbers, unique across worker threads, so tests can tell
 * keep-alive reuse (same number) from a new connection. */
static atomic_uint_fast64_t	stub_conn_serial;

static int	stub_conn_process(struct stub_conn *);

static void
stub_conn_free(struct stub_conn *c)
{
	TAILQ_REMOVE(&c->w->conns, c, entry);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->bev != NULL)
		bufferevent_free(c->bev);	/* closes the socket, frees SSL */
	stub_req_free(&c->req);
	stub_reply_resp_clear(&c->resp);
	free(c);
}

/* Polite close: close_notify (best effort, non-blocking), then close. */
static void
stub_conn_close(struct stub_conn *c)
{
	SSL	*ssl;

	if (c->tls_up && (ssl = bufferevent_openssl_get_ssl(c->bev)) != NULL) {
		(void)SSL_shutdown(ssl);
		ERR_clear_error();
	}
	stub_conn_free(c);
}

/* Abrupt close: SO_LINGER 0 makes close(2) send RST and drop unsent data,
 * which is what "the upstream reset the connection" looks like. */
static void
stub_conn_reset(struct stub_conn *c)
{
	struct linger	lg = { .l_onoff = 1, .l_linger = 0 };
	evutil_socket_t	fd = bufferevent_getfd(c->bev);

	if (fd != -1 && setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)) == -1)
		log_warn("%s: setsockopt SO_LINGER", __func__);
	stub_conn_free(c);
}

static struct stub_conn *
stub_conn_of(llhttp_t *p)
{
	return p->data;
}

static int
stub_conn_refuse(llhttp_t *p)
{
	llhttp_set_error_reason(p, "refused by stubd");
	return HPE_USER;
}

static int
stub_conn_on_message_begin(llhttp_t *p)
{
	stub_req_reset(&stub_conn_of(p)->req);
	return 0;
}

static int
stub_conn_on_url(llhttp_t *p, const char *at, size_t len)
{
	if (stub_req_append(&stub_conn_of(p)->req, at, len) == -1)
		return stub_conn_refuse(p);
	return 0;
}

static int
stub_conn_on_url_complete(llhttp_t *p)
{
	if (stub_req_append(&stub_conn_of(p)->req, "", 1) == -1)
		return -1;
	return 0;
}

static int
stub_conn_on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct stub_req	*req = &stub_conn_of(p)->req;

	if (stub_req_header_begin(req) == -1 ||
	    stub_req_append(req, at, len) == -1)
		return stub_conn_refuse(p);
	return 0;
}

static int
stub_conn_on_header_field_complete(llhttp_t *p)
{
	if (stub_req_header_name_end(&stub_conn_of(p)->req) == -1)
		return -1;
	return 0;
}

static int
stub_conn_on_header_value(llhttp_t *p, const char *at, size_t len)
{
	if (stub_req_append(&stub_conn_of(p)->req, at, len) == -1)
		return stub_conn_refuse(p);
	return 0;
}

static int
stub_conn_on_header_value_complete(llhttp_t *p)
{
	if (stub_req_header_end(&stub_conn_of(p)->req) == -1)
		return -1;
	return 0;
}

static int
stub_conn_on_headers_complete(llhttp_t *p)
{
	struct stub_conn	*c = stub_conn_of(p);
	struct stub_req		*req = &c->req;
	const char		*expect;

	req->method = llhttp_method_name((llhttp_method_t)p->method);
	req->head = p->method == HTTP_HEAD;
	req->keep_alive = llhttp_should_keep_alive(p);
	/* Refuse a declared oversized body before reading any of it. */
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > STUB_MAX_BODY) {
		req->err_status = 413;
		req->err_code = "body_too_large";
		return -1;
	}
	/* curl waits a second for this before sending large bodies. Earlier
	 * answers are already queued (one request at a time), so order holds. */
	expect = stub_req_header(req, "Expect");
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
	    p->http_major == 1 && p->http_minor == 1 &&
	    ((p->flags & F_CHUNKED) || p->content_length > 0)) {
		if (stub_reply_continue(bufferevent_get_output(c->bev)) == -1)
			return -1;
	}
	return 0;
}

static int
stub_conn_on_body(llhttp_t *p, const char *at, size_t len)
{
	if (stub_req_body(&stub_conn_of(p)->req, at, len) == -1)
		return stub_conn_refuse(p);
	return 0;
}

/* Pauses the parser: the request is answered before the next one is parsed,
 * which keeps answers in order and bounds what is held per connection. */
static int
stub_conn_on_message_complete(llhttp_t *p)
{
	struct stub_conn	*c = stub_conn_of(p);

	(void)stub_req_body_done(&c->req);
	/* An upgrade is not followed: the connection ends after the answer. */
	if (p->upgrade)
		c->req.keep_alive = 0;
	c->req_ready = 1;
	return HPE_PAUSED;
}

static const llhttp_settings_t	stub_conn_settings = {
	.on_message_begin = stub_conn_on_message_begin,
	.on_url = stub_conn_on_url,
	.on_url_complete = stub_conn_on_url_complete,
	.on_header_field = stub_conn_on_header_field,
	.on_header_field_complete = stub_conn_on_header_field_complete,
	.on_header_value = stub_conn_on_header_value,
	.on_header_value_complete = stub_conn_on_header_value_complete,
	.on_headers_complete = stub_conn_on_headers_complete,
	.on_body = stub_conn_on_body,
	.on_message_complete = stub_conn_on_message_complete,
};

/* The current answer is fully queued: go on with the next request, or close
 * once the output is flushed. */
static void
stub_conn_done(struct stub_conn *c)
{
	if (!c->req.keep_alive) {
		c->state = STUB_CONN_CLOSING;
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		return;
	}
	c->state = STUB_CONN_READING;
	llhttp_resume(&c->parser);
	bufferevent_enable(c->bev, EV_READ);
}

/* Answers the current request (mode answer, or delay after its timer).
 * Returns 0, or -1 if the connection was freed. */
static int
stub_conn_answer(struct stub_conn *c)
{
	const struct stub_cfg	*cfg = c->w->cfg;
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	int			 rc;

	if (!c->big) {
		if (stub_reply_send(out, cfg, &c->resp, c->req.keep_alive,
		    c->req.head) == -1) {
			log_warnx("%s: conn %" PRIu64 ": cannot answer",
			    __func__, c->id);
			stub_conn_free(c);
			return -1;
		}
		stub_reply_resp_clear(&c->resp);
		stub_conn_done(c);
		return 0;
	}
	c->bigst.left = c->big_bytes;
	c->bigst.chunked = c->big_chunked;
	c->bigst.head = c->req.head;
	if (stub_reply_big_head(out, cfg, &c->bigst, c->big_bytes,
	    c->req.keep_alive) == -1 ||
	    (rc = stub_reply_big_fill(out, &c->bigst)) == -1) {
		log_warnx("%s: conn %" PRIu64 ": cannot stream", __func__, c->id);
		stub_conn_free(c);
		return -1;
	}
	if (rc == 1) {
		stub_conn_done(c);
		return 0;
	}
	/* The write callback queues the rest as the client reads it. */
	c->state = STUB_CONN_BUSY;
	c->streaming = 1;
	return 0;
}

/* The X-Stub-Mode of the request, else the --mode default. -1 if invalid. */
static int
stub_conn_mode(struct stub_conn *c, struct stub_mode *mode)
{
	const char	*h;
	char		 val[64];

	*mode = c->w->cfg->mode;
	if ((h = stub_req_header(&c->req, "X-Stub-Mode")) == NULL)
		return 0;
	if (str_copy(val, sizeof(val), h) == -1)
		return -1;
	return stub_mode_parse(str_trim(val), c->w->cfg, mode);
}

/*
 * The answer of a request in answer or delay mode, into c->resp: a 401 when
 * bank mode refused its signature (sig_why), a 400 for an unusable
 * Idempotency-Key, else the pain.002 of a signed pain.001 or the JSON echo;
 * then, with a key, what the idempotency store makes of it (the stored
 * answer again, a 422, or a 503 when the store is full). 0 or -1.
 */
static int
stub_conn_prepare(struct stub_conn *c, uint64_t seq, const char *sig_why,
    int key_state, const char *key)
{
	const struct stub_cfg	*cfg = c->w->cfg;
	struct stub_req		*req = &c->req;
	const char		*rid;
	enum stub_inbox_outcome	 outcome;
	int			 rc = 0;

	rid = stub_req_header(req, "X-Gateway-Request-Id");
	if (sig_why != NULL)
		return stub_reply_resp_error(&c->resp, cfg, 401, sig_why,
		    "message signature refused", rid);
	if (key_state == -1)
		return stub_reply_resp_error(&c->resp, cfg, 400,
		    "bad-idempotency-key", "Idempotency-Key is not a usable "
		    "string", rid);
	if (cfg->verify_key != NULL && strcmp(req->method, "POST") == 0 &&
	    (rc = stub_bank_pain002(cfg, req, seq, &c->resp)) == -1)
		return -1;
	if (rc == 0 && stub_reply_resp_answer(&c->resp, cfg, req, c->cn, c->id,
	    cfg->status) == -1)
		return -1;
	if (key_state == 0)
		return 0;
	if (stub_inbox_claim(key, req->body_sha256, &c->resp, &outcome) == -1)
		return -1;
	switch (outcome) {
	case STUB_INBOX_REUSED:
		return stub_reply_resp_error(&c->resp, cfg, 422,
		    "idempotency-key-reused", "Idempotency-Key already used "
		    "with another body", rid);
	case STUB_INBOX_FULL:
		return stub_reply_resp_error(&c->resp, cfg, 503,
		    "idempotency-store-full", "the stub's idempotency store "
		    "is full", rid);
	default:
		return 0;
	}
}

/* A whole request is in: check it, prepare its answer, save and record it,
 * then act as its mode says. Returns 0, or -1 if the connection was freed. */
static int
stub_conn_dispatch(struct stub_conn *c)
{
	const struct stub_cfg	*cfg = c->w->cfg;
	struct stub_req		*req = &c->req;
	struct stub_record_info	 ri;
	const char		*code = "stub_fail", *msg = "failure injected by stubd";
	const char		*sig_why = NULL, *signature = NULL, *h;
	const char		*file_signature = NULL;
	char			 key[STUB_INBOX_KEY_MAX];
	struct timeval		 tv;
	uint64_t		 seq;
	int			 status = 0, bigrc, post, key_state = 0;

	c->nreq++;
	c->big = 0;
	seq = stub_record_seq();
	stub_reply_resp_clear(&c->resp);
	post = strcmp(req->method, "POST") == 0;
	/* Bank mode checks every POST, whatever its stub mode, so the record
	 * says whether what arrived was validly signed. */
	if (cfg->verify_key != NULL && post) {
		sig_why = stub_bank_verify(cfg, req);
		signature = sig_why != NULL ? sig_why : "ok";
		/* Recorded, not enforced: the transport signature decides,
		 * File-Signature is what the bank would archive. */
		file_signature = stub_bank_verify_file(cfg, req);
	}
	/* key_state: 0 no key, 1 a key in key, -1 an unusable one. */
	if (post && (h = stub_req_header(req, "Idempotency-Key")) != NULL)
		key_state = stub_req_header_count(req, "Idempotency-Key") == 1 &&
		    stub_inbox_key(h, key, sizeof(key)) == 0 ? 1 : -1;
	if (stub_conn_mode(c, &c->mode) == -1) {
		c->mode = (struct stub_mode){ .kind = STUB_MODE_FAIL, .status = 400 };
		code = "bad_stub_mode";
		msg = "invalid X-Stub-Mode";
	}
	bigrc = stub_reply_big_parse(stub_req_url(req), &c->big_bytes,
	    &c->big_chunked);
	if (c->mode.kind == STUB_MODE_ANSWER || c->mode.kind == STUB_MODE_DELAY) {
		if (bigrc == -1) {
			c->mode = (struct stub_mode){ .kind = STUB_MODE_FAIL,
			    .status = 400 };
			code = "bad_big_query";
			msg = "use /__stub/big?bytes=N[&chunked=1]";
		} else
			c->big = bigrc == 1;
	}
	switch (c->mode.kind) {
	case STUB_MODE_ANSWER:
	case STUB_MODE_DELAY:
		if (c->big) {
			status = 200;
			break;
		}
		if (stub_conn_prepare(c, seq, sig_why, key_state, key) == -1) {
			log_warnx("%s: conn %" PRIu64 ": cannot prepare the "
			    "answer", __func__, c->id);
			stub_conn_free(c);
			return -1;
		}
		status = c->resp.status;
		break;
	case STUB_MODE_FAIL:
		status = c->mode.status;
		break;
	default:
		break;
	}

	/* Saved before the record line is written: a test that sees the line
	 * finds the files. A failure is logged there; the exchange goes on. */
	(void)stub_save_write(cfg, seq, req);
	memset(&ri, 0, sizeof(ri));
	ri.conn_id = c->id;
	ri.seq = seq;
	ri.conn_seq = c->nreq;
	ri.idempotency_key = key_state == 1 ? key : NULL;
	ri.replayed = c->resp.replayed;
	ri.signature = signature;
	ri.file_signature = file_signature;
	ri.req = req;
	ri.client_cn = c->cn;
	ri.client_spki = c->spki;
	ri.mode = &c->mode;
	ri.big = c->big;
	ri.status = status;
	/* A record failure is logged there; the exchange still goes on. */
	(void)stub_record_write(cfg, &ri);
	if (!cfg->quiet)
		log_info("conn %" PRIu64 " #%" PRIu64 " seq %" PRIu64 " %s %s "
		    "body %" PRIu64 " cn \"%s\": %s, status %d%s%s%s", c->id,
		    c->nreq, seq, req->method, stub_req_url(req),
		    req->body_bytes, c->cn, stub_mode_name(c->mode.kind), status,
		    c->resp.replayed ? ", replayed" : "",
		    signature != NULL ? ", signature " : "",
		    signature != NULL ? signature : "");

	switch (c->mode.kind) {
	case STUB_MODE_ANSWER:
		return stub_conn_answer(c);
	case STUB_MODE_DELAY:
		c->state = STUB_CONN_BUSY;
		tv.tv_sec = (time_t)(c->mode.delay_ms / 1000);
		tv.tv_usec = (suseconds_t)(c->mode.delay_ms % 1000) * 1000;
		if (evtimer_add(c->timer, &tv) == -1) {
			log_warnx("%s: conn %" PRIu64 ": evtimer_add failed",
			    __func__, c->id);
			stub_conn_free(c);
			return -1;
		}
		return 0;
	case STUB_MODE_FAIL:
		if (stub_reply_error(bufferevent_get_output(c->bev), cfg, status,
		    code, msg, stub_req_header(req, "X-Gateway-Request-Id"),
		    req->keep_alive, req->head) == -1) {
			stub_conn_free(c);
			return -1;
		}
		stub_conn_done(c);
		return 0;
	case STUB_MODE_HANG:
		/* Never answered; the client's close (EOF) frees us. */
		c->state = STUB_CONN_BUSY;
		return 0;
	case STUB_MODE_RESET:
		/* Earlier pipelined answers go out first. */
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
			stub_conn_reset(c);
			return -1;
		}
		c->state = STUB_CONN_RESETTING;
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		return 0;
	}
	return 0;
}

/* The request could not be parsed or was refused while parsing: answer with
 * an error and close, since the framing can no longer be trusted. */
static int
stub_conn_bad_request(struct stub_conn *c, llhttp_errno_t err)
{
	const struct stub_cfg	*cfg = c->w->cfg;
	struct stub_req		*req = &c->req;
	const char		*reason = llhttp_get_error_reason(&c->parser);
	char			 msg[256];
	int			 status, rc;

	status = req->err_status != 0 ? req->err_status : 400;
	if (status == 431)
		rc = str_printf(msg, sizeof(msg), "request head over %u bytes",
		    STUB_MAX_HEAD);
	else if (status == 413)
		rc = str_printf(msg, sizeof(msg), "request body over %llu bytes",
		    STUB_MAX_BODY);
	else
		rc = str_printf(msg, sizeof(msg), "%s: %s",
		    llhttp_errno_name(err), reason != NULL ? reason : "");
	if (rc == -1)
		log_debug("%s: message truncated", __func__);
	if (!cfg->quiet)
		log_warnx("conn %" PRIu64 " from %s: refused with %d: %s", c->id,
		    c->peer, status, msg);
	if (stub_reply_error(bufferevent_get_output(c->bev), cfg, status,
	    req->err_code != NULL ? req->err_code : "bad_request", msg, NULL, 0,
	    0) == -1) {
		stub_conn_free(c);
		return -1;
	}
	c->state = STUB_CONN_CLOSING;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	return 0;
}

/* Feeds buffered input to llhttp while no request is being answered.
 * Returns 0, or -1 if the connection was freed. */
static int
stub_conn_process(struct stub_conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec	 v;
	const char		*data;
	llhttp_errno_t		 err;
	size_t			 used;

	while (c->state == STUB_CONN_READING && evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		data = v.iov_base;
		err = llhttp_execute(&c->parser, data, v.iov_len);
		if (err == HPE_OK) {
			evbuffer_drain(in, v.iov_len);
			continue;
		}
		if (err == HPE_PAUSED && c->req_ready) {
			used = (size_t)(llhttp_get_error_pos(&c->parser) - data);
			evbuffer_drain(in, used);
			c->req_ready = 0;
			if (stub_conn_dispatch(c) == -1)
				return -1;
			continue;
		}
		return stub_conn_bad_request(c, err);
	}
	if (c->state != STUB_CONN_READING && c->state != STUB_CONN_CLOSING &&
	    evbuffer_get_length(in) > STUB_MAX_PENDING_IN)
		bufferevent_disable(c->bev, EV_READ);
	return 0;
}

static void
stub_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct stub_conn	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);

	if (c->state == STUB_CONN_CLOSING) {
		/* Nothing after the last answer is parsed. */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	(void)stub_conn_process(c);
}

static void
stub_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct stub_conn	*c = arg;
	struct evbuffer		*out = bufferevent_get_output(bev);
	int			 rc;

	if (c->streaming) {
		if ((rc = stub_reply_big_fill(out, &c->bigst)) == -1) {
			stub_conn_free(c);
			return;
		}
		if (rc == 0)
			return;
		c->streaming = 0;
		stub_conn_done(c);
		if (c->state == STUB_CONN_READING)
			(void)stub_conn_process(c);
		return;
	}
	if (evbuffer_get_length(out) != 0)
		return;
	if (c->state == STUB_CONN_CLOSING)
		stub_conn_close(c);
	else if (c->state == STUB_CONN_RESETTING)
		stub_conn_reset(c);
}

static void
stub_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct stub_conn	*c = arg;
	const struct stub_cfg	*cfg = c->w->cfg;
	unsigned long		 e;
	char			 ebuf[256];
	SSL			*ssl;

	if (what & BEV_EVENT_CONNECTED) {
		c->tls_up = 1;
		if ((ssl = bufferevent_openssl_get_ssl(bev)) != NULL)
			(void)stub_tls_peer(ssl, c->cn, sizeof(c->cn), c->spki,
			    sizeof(c->spki));
		log_debug("conn %" PRIu64 " from %s: TLS up, cn \"%s\"", c->id,
		    c->peer, c->cn);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && !cfg->quiet) {
		ebuf[0] = '\0';
		if ((e = bufferevent_get_openssl_error(bev)) != 0)
			ERR_error_string_n(e, ebuf, sizeof(ebuf));
		else if (EVUTIL_SOCKET_ERROR() != 0)
			(void)str_copy(ebuf, sizeof(ebuf),
			    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		log_warnx("conn %" PRIu64 " from %s: %s error: %s", c->id,
		    c->peer, c->tls_up ? "connection" : "handshake", ebuf);
	}
	/* EOF, error or timeout: nothing more can be answered on it. */
	stub_conn_free(c);
}

static void
stub_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stub_conn	*c = arg;

	if (stub_conn_answer(c) == 0 && c->state == STUB_CONN_READING)
		(void)stub_conn_process(c);
}

static void
stub_conn_peer(struct sockaddr *sa, int salen, char *dst, size_t dsz)
{
	char	host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), serv,
	    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0 ||
	    str_printf(dst, dsz, sa->sa_family == AF_INET6 ? "[%s]:%s" :
	    "%s:%s", host, serv) == -1)
		(void)str_copy(dst, dsz, "?");
}

/* evconnlistener callback: a new TCP connection on this worker's socket. */
void
stub_conn_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct stub_worker	*w = arg;
	struct stub_conn	*c;
	SSL			*ssl;
	int			 one = 1;

	/* Answers are small and latency matters more than packet count. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_warn("%s: setsockopt TCP_NODELAY", __func__);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("%s: out of memory", __func__);
		close(fd);
		return;
	}
	c->w = w;
	c->id = atomic_fetch_add(&stub_conn_serial, 1) + 1;
	stub_conn_peer(sa, salen, c->peer, sizeof(c->peer));
	TAILQ_INSERT_TAIL(&w->conns, c, entry);
	if (stub_req_init(&c->req, w->cfg->keep_body) == -1) {
		close(fd);
		stub_conn_free(c);
		return;
	}
	if ((ssl = SSL_new(w->cfg->ssl)) == NULL) {
		log_warnx("%s: SSL_new failed", __func__);
		close(fd);
		stub_conn_free(c);
		return;
	}
	/* On failure this leaves both ssl and fd to us. */
	if ((c->bev = bufferevent_openssl_socket_new(w->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("%s: bufferevent_openssl_socket_new failed", __func__);
		SSL_free(ssl);
		close(fd);
		stub_conn_free(c);
		return;
	}
	/* A client that just closes the socket is not worth an error line. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	if ((c->timer = evtimer_new(w->base, stub_conn_timer_cb, c)) == NULL) {
		log_warnx("%s: evtimer_new failed", __func__);
		stub_conn_free(c);
		return;
	}
	llhttp_init(&c->parser, HTTP_REQUEST, &stub_conn_settings);
	c->parser.data = c;
	c->state = STUB_CONN_READING;
	bufferevent_setcb(c->bev, stub_conn_read_cb, stub_conn_write_cb,
	    stub_conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, STUB_CONN_WRITE_LOW, 0);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1) {
		log_warnx("%s: bufferevent_enable failed", __func__);
		stub_conn_free(c);
	}
}

/* At shutdown, after the worker's loop has returned. */
void
stub_conn_free_all(struct stub_worker *w)
{
	struct stub_conn	*c;

	while ((c = TAILQ_FIRST(&w->conns)) != NULL)
		stub_conn_free(c);
}
