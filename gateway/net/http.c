/* Strict HTTP/1.1 parsing on top of llhttp: we scan the raw head first for the
 * shapes llhttp lets through (obs-fold, tab in the request line, NUL, bare CR
 * or LF), enforce limits, and refuse every framing ambiguity. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "net/http.h"
#include "util.h"

static int	http_cb_begin(llhttp_t *);
static int	http_cb_url(llhttp_t *, const char *, size_t);
static int	http_cb_field(llhttp_t *, const char *, size_t);
static int	http_cb_value(llhttp_t *, const char *, size_t);
static int	http_cb_headers(llhttp_t *);
static int	http_cb_body(llhttp_t *, const char *, size_t);
static int	http_cb_done(llhttp_t *);
static int	http_cb_chunk(llhttp_t *);
static int	http_cb_ext(llhttp_t *, const char *, size_t);

static llhttp_settings_t	http_settings = {
	.on_message_begin = http_cb_begin,
	.on_url = http_cb_url,
	.on_header_field = http_cb_field,
	.on_header_value = http_cb_value,
	.on_headers_complete = http_cb_headers,
	.on_body = http_cb_body,
	.on_message_complete = http_cb_done,
	.on_chunk_header = http_cb_chunk,
	.on_chunk_extension_name = http_cb_ext,
	.on_chunk_extension_value = http_cb_ext,
};

/* Chunk extensions are legal but useless to us: a small bound keeps them
 * from being a way to stream without limit. */
#define HTTP_MAX_CHUNK_EXT	256

void
http_msg_fail(struct http_msg *m, int status, const char *code,
    const char *detail)
{
	if (m->err.status != 0)
		return;		/* keep the first reason */
	m->err.status = status;
	m->err.code = code;
	m->err.detail = detail;
}

int
http_msg_init(struct http_msg *m, int is_request, size_t max_head,
    size_t max_headers, uint64_t max_body, const struct http_cbs *cbs,
    void *arg)
{
	memset(m, 0, sizeof(*m));
	if ((m->buf = malloc(max_head)) == NULL)
		return -1;
	if ((m->hdrs = calloc(max_headers, sizeof(*m->hdrs))) == NULL) {
		free(m->buf);
		m->buf = NULL;
		return -1;
	}
	m->is_request = is_request;
	m->max_head = max_head;
	m->max_headers = max_headers;
	m->max_body = max_body;
	m->cbs = cbs;
	m->arg = arg;
	llhttp_init(&m->parser, is_request ? HTTP_REQUEST : HTTP_RESPONSE,
	    &http_settings);
	m->parser.data = m;
	return 0;
}

void
http_msg_free(struct http_msg *m)
{
	free(m->buf);
	free(m->hdrs);
	m->buf = NULL;
	m->hdrs = NULL;
}

/* Clears per-message state; llhttp's own state machine carries on. */
static void
http_msg_clear(struct http_msg *m)
{
	m->buflen = 0;
	m->nhdrs = 0;
	m->url_off = m->url_len = 0;
	m->in_value = 0;
	m->scan = SCAN_LINE_START;
	m->scan_seen_line = 0;
	m->head_bytes = 0;
	m->started = m->head_done = m->done = m->paused = 0;
	m->method = m->status = m->major = m->minor = 0;
	/* head_request stays: it belongs to the exchange, and a HEAD's final
	 * response after a 1xx has no body either. */
	m->chunked = m->has_length = m->keep_alive = m->expect_continue = 0;
	m->in_trailer = m->trailer_pause = 0;
	m->chunk_ext_bytes = 0;
	m->content_length = m->body_bytes = 0;
	memset(&m->err, 0, sizeof(m->err));
}

/*
 * Scans head bytes before llhttp sees them, for what llhttp tolerates: obs-fold
 * (a line starting with SP or HT), a tab in the request line, NUL, and bare CR
 * or LF. Returns how many bytes of data belong to the head, or -1 with m->err
 * set. Empty lines before the start line are tolerated (RFC 9112 §2.2).
 */
static ssize_t
http_scan(struct http_msg *m, const char *data, size_t len)
{
	size_t		i;
	unsigned char	c;

	for (i = 0; i < len && m->scan != SCAN_DONE; i++) {
		c = (unsigned char)data[i];
		if (c == '\0')
			goto nul;
		switch (m->scan) {
		case SCAN_LINE_START:
			if (c == '\r')
				m->scan = SCAN_CR_EMPTY;
			else if (c == '\n')
				goto bare_lf;
			else if (c == ' ' || c == '\t') {
				http_msg_fail(m, 400, "bad-request", m->scan_seen_line ?
				    "obsolete line folding" :
				    "whitespace before the start line");
				return -1;
			} else
				m->scan = SCAN_IN_LINE;
			break;
		case SCAN_IN_LINE:
			if (c == '\r')
				m->scan = SCAN_CR;
			else if (c == '\n')
				goto bare_lf;
			else if (c == '\t' && !m->scan_seen_line && m->is_request) {
				http_msg_fail(m, 400, "bad-request",
				    "tab in the request line");
				return -1;
			} else if (c == ' ' && m->scan_prev == ' ' &&
			    !m->scan_seen_line && m->is_request) {
				/* RFC 9112 §3: exactly one SP between parts. */
				http_msg_fail(m, 400, "bad-request",
				    "extra space in the request line");
				return -1;
			}
			break;
		case SCAN_CR:
			if (c != '\n')
				goto bare_cr;
			m->scan_seen_line = 1;
			m->scan = SCAN_LINE_START;
			break;
		case SCAN_CR_EMPTY:
			if (c != '\n')
				goto bare_cr;
			m->scan = m->scan_seen_line ? SCAN_DONE : SCAN_LINE_START;
			break;
		case SCAN_DONE:
			break;
		}
		m->scan_prev = c;
	}
	return (ssize_t)i;
nul:
	http_msg_fail(m, 400, "bad-request", "NUL byte in the head");
	return -1;
bare_lf:
	http_msg_fail(m, 400, "bad-request", "bare LF in the head");
	return -1;
bare_cr:
	http_msg_fail(m, 400, "bad-request", "bare CR in the head");
	return -1;
}

enum http_feed
http_msg_feed(struct http_msg *m, const char *data, size_t len, size_t *used)
{
	size_t		off = 0, n;
	ssize_t		head;
	llhttp_errno_t	e;

	*used = 0;
	if (m->paused || m->err.status != 0)
		return m->err.status ? HTTP_FEED_ERROR : HTTP_FEED_PAUSED;
	while (off < len) {
		n = len - off;
		if (m->scan != SCAN_DONE) {
			if ((head = http_scan(m, data + off, n)) == -1)
				return HTTP_FEED_ERROR;
			n = (size_t)head;
			m->head_bytes += n;
			if (m->head_bytes > m->max_head) {
				http_msg_fail(m, 431, "headers-too-large",
				    m->in_trailer ? "trailers exceed the limit" :
				    "request head exceeds the limit");
				return HTTP_FEED_ERROR;
			}
		}
		m->started = 1;
		e = llhttp_execute(&m->parser, data + off, n);
		if (e == HPE_OK) {
			off += n;
			continue;
		}
		if (e == HPE_PAUSED) {
			off = (size_t)(llhttp_get_error_pos(&m->parser) - data);
			if (m->trailer_pause) {
				/* The last chunk: what follows is a trailer
				 * section, scanned and bounded like a head. */
				m->trailer_pause = 0;
				m->in_trailer = 1;
				m->scan = SCAN_LINE_START;
				m->scan_seen_line = 1;
				m->head_bytes = 0;
				llhttp_resume(&m->parser);
				continue;
			}
			*used = off;
			m->paused = 1;
			return HTTP_FEED_PAUSED;
		}
		http_msg_fail(m, 400, "bad-request", llhttp_get_error_reason(
		    &m->parser));
		return HTTP_FEED_ERROR;
	}
	*used = off;
	return HTTP_FEED_OK;
}

int
http_msg_eof(struct http_msg *m)
{
	llhttp_errno_t	e;

	if (!m->started || m->done)
		return 0;
	e = llhttp_finish(&m->parser);
	if (e == HPE_OK || e == HPE_PAUSED)
		return m->done ? 0 : -1;
	http_msg_fail(m, 400, "bad-request", "message cut short");
	return -1;
}

void
http_msg_resume(struct http_msg *m)
{
	if (!m->paused)
		return;
	llhttp_resume(&m->parser);
	http_msg_clear(m);
}

/* Appends to the head buffer; the raw-size check makes overflow impossible,
 * but the bound is enforced here too. */
static int
http_store(struct http_msg *m, const char *p, size_t len)
{
	if (len > m->max_head - m->buflen) {
		http_msg_fail(m, 431, "headers-too-large",
		    "request head exceeds the limit");
		return -1;
	}
	memcpy(m->buf + m->buflen, p, len);
	m->buflen += len;
	return 0;
}

static int
http_cb_begin(llhttp_t *p)
{
	struct http_msg	*m = p->data;

	m->started = 1;
	return 0;
}

static int
http_cb_url(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg	*m = p->data;

	if (m->url_len == 0)
		m->url_off = (uint32_t)m->buflen;
	if (http_store(m, at, len) == -1)
		return -1;
	m->url_len += (uint32_t)len;
	return 0;
}

static int
http_cb_field(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg		*m = p->data;
	struct http_header	*h;

	if (m->head_done)
		return 0;	/* trailers are read but never forwarded */
	if (m->nhdrs == 0 || m->in_value) {
		if (m->nhdrs == m->max_headers) {
			http_msg_fail(m, 431, "too-many-headers",
			    "too many header fields");
			return -1;
		}
		h = &m->hdrs[m->nhdrs++];
		memset(h, 0, sizeof(*h));
		h->name_off = (uint32_t)m->buflen;
		m->in_value = 0;
	}
	h = &m->hdrs[m->nhdrs - 1];
	if (http_store(m, at, len) == -1)
		return -1;
	h->name_len += (uint32_t)len;
	return 0;
}

static int
http_cb_value(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg		*m = p->data;
	struct http_header	*h;

	if (m->head_done || m->nhdrs == 0)
		return 0;
	h = &m->hdrs[m->nhdrs - 1];
	if (!m->in_value) {
		m->in_value = 1;
		h->value_off = (uint32_t)m->buflen;
		h->value_len = 0;
	}
	if (http_store(m, at, len) == -1)
		return -1;
	h->value_len += (uint32_t)len;
	return 0;
}

/* Framing and version checks a proxy needs beyond llhttp's (RFC 9112 §6). */
static int
http_check_request(struct http_msg *m)
{
	const char	*v;
	size_t		 vlen;

	if (m->major != 1 || m->minor > 1) {
		http_msg_fail(m, 400, "bad-version", "unsupported HTTP version");
		return -1;
	}
	if (http_msg_header_count(m, "content-length") > 1) {
		http_msg_fail(m, 400, "bad-framing", "duplicate Content-Length");
		return -1;
	}
	if ((v = http_msg_header(m, "transfer-encoding", &vlen)) != NULL) {
		/* RFC 9112 §6.1: chunked framing in HTTP/1.0 is faulty. */
		if (m->minor == 0) {
			http_msg_fail(m, 400, "bad-framing",
			    "Transfer-Encoding in an HTTP/1.0 request");
			return -1;
		}
		if (http_msg_header_count(m, "transfer-encoding") > 1 ||
		    !str_ieq(v, vlen, "chunked")) {
			http_msg_fail(m, 400, "bad-framing",
			    "Transfer-Encoding other than chunked");
			return -1;
		}
		if (http_msg_header(m, "content-length", &vlen) != NULL) {
			http_msg_fail(m, 400, "bad-framing",
			    "both Content-Length and Transfer-Encoding");
			return -1;
		}
	}
	if (m->method == HTTP_CONNECT || llhttp_get_upgrade(&m->parser)) {
		http_msg_fail(m, 400, "bad-request", "CONNECT and Upgrade refused");
		return -1;
	}
	if (m->minor == 1 && http_msg_header_count(m, "host") != 1) {
		http_msg_fail(m, 400, "bad-request", "exactly one Host required");
		return -1;
	}
	if ((v = http_msg_header(m, "expect", &vlen)) != NULL) {
		if (!str_ieq(v, vlen, "100-continue")) {
			http_msg_fail(m, 417, "expectation-failed",
			    "only Expect: 100-continue is supported");
			return -1;
		}
		/* RFC 9110 §10.1.1: an HTTP/1.0 client never asked for it. */
		m->expect_continue = m->minor >= 1;
	}
	if (m->has_length && m->content_length > m->max_body) {
		http_msg_fail(m, 413, "body-too-large",
		    "body exceeds the limit");
		return -1;
	}
	return 0;
}

/* What a proxy must not pass on from an upstream (RFC 9112 §6). */
static int
http_check_response(struct http_msg *m)
{
	const char	*v;
	size_t		 vlen;

	if (m->status < 100 || m->status > 599 || m->major != 1) {
		http_msg_fail(m, 502, "bad-upstream-response", "bad status line");
		return -1;
	}
	if (m->status == 101) {
		/* We never ask for an upgrade. */
		http_msg_fail(m, 502, "bad-upstream-response",
		    "unrequested protocol switch");
		return -1;
	}
	if ((v = http_msg_header(m, "transfer-encoding", &vlen)) != NULL &&
	    (http_msg_header_count(m, "transfer-encoding") > 1 ||
	    !str_ieq(v, vlen, "chunked"))) {
		http_msg_fail(m, 502, "bad-upstream-response",
		    "Transfer-Encoding other than chunked");
		return -1;
	}
	if (http_msg_header_count(m, "content-length") > 1) {
		http_msg_fail(m, 502, "bad-upstream-response",
		    "duplicate Content-Length");
		return -1;
	}
	return 0;
}

static int
http_cb_headers(llhttp_t *p)
{
	struct http_msg	*m = p->data;
	size_t		 i;

	m->head_done = 1;
	m->in_value = 0;
	m->method = llhttp_get_method(p);
	m->status = llhttp_get_status_code(p);
	m->major = llhttp_get_http_major(p);
	m->minor = llhttp_get_http_minor(p);
	m->chunked = (p->flags & F_CHUNKED) != 0;
	m->has_length = (p->flags & F_CONTENT_LENGTH) != 0;
	m->content_length = m->has_length ? p->content_length : 0;
	m->keep_alive = llhttp_should_keep_alive(p);
	/* llhttp takes ": value" as a header with an empty name. */
	for (i = 0; i < m->nhdrs; i++)
		if (m->hdrs[i].name_len == 0) {
			http_msg_fail(m, 400, "bad-request", "empty header name");
			return -1;
		}
	if (m->is_request && http_check_request(m) == -1)
		return -1;
	if (!m->is_request && http_check_response(m) == -1)
		return -1;
	if (m->cbs->on_head != NULL && m->cbs->on_head(m, m->arg) == -1) {
		http_msg_fail(m, 500, "internal", "head refused");
		return -1;
	}
	/* RFC 9112 §6.3: a response to HEAD, and every 1xx, 204 and 304, ends
	 * at its head whatever its framing headers say; llhttp (8.x) would
	 * read the bytes that follow as its body. */
	if (!m->is_request && (m->head_request || m->status < 200 ||
	    m->status == 204 || m->status == 304))
		return 1;
	return 0;
}

static int
http_cb_body(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg	*m = p->data;

	m->body_bytes += len;
	if (m->body_bytes > m->max_body) {
		http_msg_fail(m, 413, "body-too-large", "body exceeds the limit");
		return -1;
	}
	if (m->cbs->on_body != NULL && m->cbs->on_body(m, at, len, m->arg) == -1) {
		http_msg_fail(m, 502, "internal", "body refused");
		return -1;
	}
	return 0;
}

static int
http_cb_chunk(llhttp_t *p)
{
	struct http_msg	*m = p->data;

	m->chunk_ext_bytes = 0;
	/* Pause at the last chunk so the trailer section gets our scan. */
	if (p->content_length == 0) {
		m->trailer_pause = 1;
		return HPE_PAUSED;
	}
	return 0;
}

static int
http_cb_ext(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg	*m = p->data;

	m->chunk_ext_bytes += len;
	if (m->chunk_ext_bytes > HTTP_MAX_CHUNK_EXT) {
		http_msg_fail(m, 400, "bad-framing", "chunk extension too long");
		return -1;
	}
	return 0;
}

static int
http_cb_done(llhttp_t *p)
{
	struct http_msg	*m = p->data;

	m->done = 1;
	m->keep_alive = llhttp_should_keep_alive(p);
	if (m->cbs->on_done != NULL && m->cbs->on_done(m, m->arg) == -1) {
		http_msg_fail(m, 500, "internal", "message refused");
		return -1;
	}
	return HPE_PAUSED;
}

const char *
http_msg_url(const struct http_msg *m, size_t *len)
{
	*len = m->url_len;
	return m->buf + m->url_off;
}

const char *
http_msg_method_name(const struct http_msg *m)
{
	return llhttp_method_name((llhttp_method_t)m->method);
}

const char *
http_reason(int status)
{
	static const struct { int code; const char *text; } reasons[] = {
		{ 100, "Continue" }, { 200, "OK" }, { 201, "Created" },
		{ 202, "Accepted" }, { 204, "No Content" },
		{ 301, "Moved Permanently" }, { 302, "Found" },
		{ 304, "Not Modified" }, { 400, "Bad Request" },
		{ 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 408, "Request Timeout" }, { 409, "Conflict" },
		{ 411, "Length Required" }, { 413, "Content Too Large" },
		{ 414, "URI Too Long" }, { 415, "Unsupported Media Type" },
		{ 417, "Expectation Failed" }, { 422, "Unprocessable Content" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
	};
	size_t	i;

	for (i = 0; i < nitems(reasons); i++)
		if (reasons[i].code == status)
			return reasons[i].text;
	return "Status";
}

int
http_write_simple(struct evbuffer *out, int status, const char *ctype,
    const char *body, size_t len, const char *rid, int close, int retry,
    const char *extra)
{
	struct evbuffer	*tmp;
	char		 retry_hdr[64] = "";
	int		 rc;

	if (retry > 0)
		str_printf(retry_hdr, sizeof(retry_hdr), "Retry-After: %d\r\n",
		    retry);
	/* Built apart and moved in one piece: a TLS bufferevent writes a
	 * record (and makes a system call) for every addition. */
	if ((tmp = evbuffer_new()) == NULL)
		return -1;
	rc = evbuffer_add_printf(tmp, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "X-Gateway-Request-Id: %s\r\n%s%s%s\r\n", status, http_reason(status),
	    ctype, len, rid, retry_hdr, extra ? extra : "",
	    close ? "Connection: close\r\n" : "") < 0 ||
	    (body != NULL && evbuffer_add(tmp, body, len) == -1) ||
	    evbuffer_pullup(tmp, -1) == NULL ||
	    evbuffer_add_buffer(out, tmp) == -1 ? -1 : 0;
	evbuffer_free(tmp);
	return rc;
}

int
http_error_body(char *dst, size_t dsz, const char *code, const char *detail,
    const char *rid)
{
	char	d[512];
	int	n;

	json_escape(d, sizeof(d), detail);
	n = snprintf(dst, dsz,
	    "{\"error\":\"%s\",\"code\":\"%s\",\"request_id\":\"%s\"}\n",
	    d, code, rid);
	return (n < 0 || (size_t)n >= dsz) ? -1 : n;
}

int
http_write_error(struct evbuffer *out, int status, const char *code,
    const char *detail, const char *rid, int close, int retry)
{
	char	body[768];
	int	n;

	if ((n = http_error_body(body, sizeof(body), code, detail, rid)) == -1)
		return -1;
	return http_write_simple(out, status, "application/json", body,
	    (size_t)n, rid, close, retry, NULL);
}
