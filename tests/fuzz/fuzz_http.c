/* libFuzzer target for net/http: the input is a request stream, fed through
 * http_msg_init/http_msg_feed in pieces whose sizes come from the first bytes
 * of the input, resuming after every complete message; completed heads go
 * through http_msg_write_headers. Besides memory safety (ASan/UBSan) it checks
 * invariants: limits hold, forwarded headers are clean, and the same stream
 * fed whole gives the same messages as fed in pieces.
 *
 * Input layout: byte 0 picks the limits, bytes 1-3 are piece sizes (0: the
 * rest at once), cycled; the stream starts at byte 4.
 *
 * FUZZ_SOURCES: gateway/net/http.c gateway/net/http_header.c gateway/util.c gateway/log.c
 * FUZZ_LIBS: -levent
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "util.h"
#include "net/http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define PREFIX	4

struct limits {
	size_t		max_head, max_headers;
	uint64_t	max_body;
};

static const struct limits profiles[] = {
	{ 4096, 16, 1000 },
	{ 256, 4, 16 },
	{ 16384, 64, 1 << 20 },
	{ 1024, 8, 0 },
};

/* What the owner saw, folded into a hash so two runs can be compared. */
struct trace {
	uint64_t		 hash;
	uint64_t		 done_hash;	/* hash at the last complete message */
	size_t			 heads, dones;
	uint64_t		 body;		/* bytes of the current message */
	int			 in_msg;
	const struct limits	*lim;
	struct evbuffer		*out;
};

static void
mix(struct trace *t, const void *p, size_t len)
{
	const unsigned char	*s = p;
	size_t			 i;

	for (i = 0; i < len; i++) {
		t->hash ^= s[i];
		t->hash *= 0x100000001b3ULL;
	}
}

static void
mix_tag(struct trace *t, char tag)
{
	mix(t, &tag, 1);
}

/* Names the gateway must never forward. */
static int
forbidden_name(const char *n, size_t nl)
{
	static const char *const names[] = {
		"connection", "keep-alive", "proxy-connection", "te", "trailer",
		"transfer-encoding", "upgrade", "proxy-authorization",
		"proxy-authenticate", "content-length", "expect", "host",
	};
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == nl && strncasecmp(n, names[i], nl) == 0)
			return 1;
	return nl >= 10 && strncasecmp(n, "x-gateway-", 10) == 0;
}

/* Checks the re-serialized headers: "name: value\r\n" lines, nothing else. */
static void
check_written(struct trace *t, const struct http_msg *m)
{
	size_t		 len, i, start, colon;
	const char	*s;

	evbuffer_drain(t->out, evbuffer_get_length(t->out));
	if (http_msg_write_headers(m, t->out) != 0)
		abort();
	len = evbuffer_get_length(t->out);
	if (len == 0)
		return;
	s = (const char *)evbuffer_pullup(t->out, -1);
	mix(t, s, len);
	for (start = 0; start < len; start = i + 2) {
		colon = SIZE_MAX;
		for (i = start; i < len && s[i] != '\r'; i++) {
			if (s[i] == '\n' || s[i] == '\0')
				abort();	/* a bare LF or NUL is forwarded */
			if (s[i] == ':' && colon == SIZE_MAX)
				colon = i;
		}
		if (i + 1 >= len || s[i + 1] != '\n')
			abort();		/* a line not ended by CRLF */
		if (colon == SIZE_MAX || colon + 1 >= i || s[colon + 1] != ' ')
			abort();		/* not "name: value" */
		if (colon == start)
			abort();		/* an empty name */
		if (forbidden_name(s + start, colon - start))
			abort();		/* a hop-by-hop or identity header */
	}
}

static int
cb_head(struct http_msg *m, void *arg)
{
	struct trace	*t = arg;
	const char	*u, *n, *v;
	size_t		 ul, i, nl, vl, total = 0;

	if (t->in_msg || !m->head_done)
		abort();
	t->in_msg = 1;
	t->heads++;
	t->body = 0;
	if (m->nhdrs > t->lim->max_headers || m->buflen > t->lim->max_head ||
	    m->head_bytes > t->lim->max_head)
		abort();
	if (m->has_length && m->content_length > t->lim->max_body)
		abort();
	if (m->chunked && m->has_length)
		abort();
	if (m->major != 1 || m->minor > 1)
		abort();
	mix_tag(t, 'H');
	mix(t, http_msg_method_name(m), strlen(http_msg_method_name(m)));
	u = http_msg_url(m, &ul);
	mix(t, u, ul);
	total += ul;
	for (i = 0; i < m->nhdrs; i++) {
		http_msg_header_at(m, i, &n, &nl, &v, &vl);
		mix(t, n, nl);
		mix_tag(t, ':');
		mix(t, v, vl);
		total += nl + vl;
		(void)http_msg_header_dropped(m, i);
	}
	if (total > m->buflen)
		abort();
	(void)http_msg_header(m, "host", &vl);
	if (m->minor == 1 && http_msg_header_count(m, "host") != 1)
		abort();
	if (http_msg_header_count(m, "content-length") > 1 ||
	    http_msg_header_count(m, "transfer-encoding") > 1)
		abort();
	check_written(t, m);
	return 0;
}

static int
cb_body(struct http_msg *m, const char *p, size_t len, void *arg)
{
	struct trace	*t = arg;

	if (!t->in_msg)
		abort();
	t->body += len;
	if (t->body > t->lim->max_body)
		abort();
	mix(t, p, len);		/* no per-call tag: pieces vary with the split */
	return 0;
}

static int
cb_done(struct http_msg *m, void *arg)
{
	struct trace	*t = arg;

	if (!t->in_msg)
		abort();
	if (m->has_length && t->body != m->content_length)
		abort();
	t->in_msg = 0;
	t->dones++;
	mix_tag(t, 'D');
	t->done_hash = t->hash;
	return 0;
}

static const struct http_cbs cbs = { cb_head, cb_body, cb_done };

/* Feeds the stream in pieces (sizes[k] cycled; 0: all the rest). Returns
 * the error status, or 0 if all was consumed. */
static int
feed(struct trace *t, const struct limits *lim, const uint8_t *sizes,
    const char *data, size_t len)
{
	struct http_msg	 m;
	size_t		 off = 0, end, used, k = 0;
	enum http_feed	 f;
	int		 status = 0;

	struct evbuffer	*out = t->out;

	memset(t, 0, sizeof(*t));
	t->out = out;
	t->hash = 0xcbf29ce484222325ULL;
	t->lim = lim;
	if (http_msg_init(&m, 1, lim->max_head, lim->max_headers,
	    lim->max_body, &cbs, t) == -1)
		abort();
	while (off < len && status == 0) {
		size_t	step = sizes != NULL ? sizes[k++ % 3] : 0;

		end = step == 0 || len - off < step ? len : off + step;
		while (off < end) {
			f = http_msg_feed(&m, data + off, end - off, &used);
			if (used > end - off)
				abort();
			if (f == HTTP_FEED_ERROR) {
				status = m.err.status;
				if (status < 400 || status > 599 || m.err.code == NULL)
					abort();
				break;
			}
			if (f == HTTP_FEED_PAUSED) {
				if (!m.done || t->in_msg)
					abort();
				off += used;
				http_msg_resume(&m);
				continue;
			}
			if (used != end - off)
				abort();
			off = end;
		}
	}
	if (status == 0)
		(void)http_msg_eof(&m);
	http_msg_free(&m);
	return status;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct evbuffer	*out;
	const struct limits	*lim;
	struct trace		 a, b;
	int			 sa, sb;

	if (size < PREFIX)
		return 0;
	if (out == NULL && (out = evbuffer_new()) == NULL)
		abort();
	lim = &profiles[data[0] % (sizeof(profiles) / sizeof(profiles[0]))];
	a.out = b.out = out;
	sa = feed(&a, lim, data + 1, (const char *)data + PREFIX, size - PREFIX);
	sb = feed(&b, lim, NULL, (const char *)data + PREFIX, size - PREFIX);
	/* Splitting never changes which messages are seen, nor whether the
	 * stream is refused. The reason may differ (with the whole stream the
	 * head limit can trip before llhttp reaches a bad byte), and so may the
	 * body delivered of a message that is then refused (fed in pieces, body
	 * bytes are passed on before the piece that crosses max_body). */
	if (a.heads != b.heads || a.dones != b.dones ||
	    a.done_hash != b.done_hash || (sa == 0) != (sb == 0))
		abort();
	if (sa == 0 && a.hash != b.hash)
		abort();
	return 0;
}
