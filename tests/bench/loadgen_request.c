/* Pre-formatting of the load generator's request: built once, so sending is a
 * single SSL_write of constant bytes and costs nothing per request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "util.h"
#include "loadgen_request.h"

/* Bytes reserved for the request line and the headers we add ourselves. */
#define LOADGEN_REQUEST_HEAD_MAX	(8192 + LOADGEN_MAX_HEADERS * 1024)

static int
loadgen_request_put(struct loadgen_request *r, size_t cap, const char *s, size_t n)
{
	if (n > cap - r->len) {
		log_warnx("%s: request too large", __func__);
		return -1;
	}
	memcpy(r->buf + r->len, s, n);
	r->len += n;
	return 0;
}

static int
loadgen_request_puts(struct loadgen_request *r, size_t cap, const char *s)
{
	return loadgen_request_put(r, cap, s, strlen(s));
}

/* Whether one of the user's --header lines names this field. */
static int
loadgen_request_has(const struct loadgen_opts *o, const char *name)
{
	size_t	i, n = strlen(name);

	for (i = 0; i < o->nheaders; i++)
		if (strncasecmp(o->headers[i], name, n) == 0 && o->headers[i][n] == ':')
			return 1;
	return 0;
}

/* A header line must be "token: value" with no line breaks, or it would let a
 * typo turn into a second request on the wire. */
static int
loadgen_request_check_header(const char *h)
{
	const char	*colon = strchr(h, ':');
	const char	*p;

	if (colon == NULL || colon == h) {
		log_warnx("%s: '%s' is not 'Name: value'", __func__, h);
		return -1;
	}
	for (p = h; p < colon; p++)
		if (strchr("!#$%&'*+-.^_`|~", *p) == NULL &&
		    !((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z'))) {
			log_warnx("%s: bad character in header name '%s'", __func__, h);
			return -1;
		}
	if (strpbrk(h, "\r\n") != NULL) {
		log_warnx("%s: line break in header '%s'", __func__, h);
		return -1;
	}
	if (strncasecmp(h, "content-length:", 15) == 0 ||
	    strncasecmp(h, "transfer-encoding:", 18) == 0) {
		log_warnx("%s: framing headers come from --body-bytes", __func__);
		return -1;
	}
	return 0;
}

int
loadgen_request_build(const struct loadgen_opts *o, struct loadgen_request *r)
{
	char	line[2400];
	size_t	cap, i;

	for (i = 0; i < o->nheaders; i++)
		if (loadgen_request_check_header(o->headers[i]) == -1)
			return -1;
	cap = LOADGEN_REQUEST_HEAD_MAX + (size_t)o->body_bytes;
	r->len = 0;
	r->buf = malloc(cap);
	if (r->buf == NULL) {
		log_warn("%s: malloc", __func__);
		return -1;
	}
	if (str_printf(line, sizeof(line), "%s %s HTTP/1.1\r\n", o->method,
	    o->path) == -1 ||
	    loadgen_request_puts(r, cap, line) == -1)
		goto fail;
	if (!loadgen_request_has(o, "host") &&
	    (str_printf(line, sizeof(line), "Host: %s\r\n", o->host_header) == -1 ||
	    loadgen_request_puts(r, cap, line) == -1))
		goto fail;
	if (!loadgen_request_has(o, "user-agent") &&
	    loadgen_request_puts(r, cap, "User-Agent: loadgen\r\n") == -1)
		goto fail;
	/* --new-conn measures handshakes: the server must close after one answer. */
	if (o->new_conn && !loadgen_request_has(o, "connection") &&
	    loadgen_request_puts(r, cap, "Connection: close\r\n") == -1)
		goto fail;
	if (o->body_bytes > 0 || strcmp(o->method, "POST") == 0) {
		if (str_printf(line, sizeof(line), "Content-Length: %llu\r\n",
		    (unsigned long long)o->body_bytes) == -1 ||
		    loadgen_request_puts(r, cap, line) == -1)
			goto fail;
		if (o->body_bytes > 0 && !loadgen_request_has(o, "content-type") &&
		    loadgen_request_puts(r, cap,
		    "Content-Type: application/octet-stream\r\n") == -1)
			goto fail;
	}
	for (i = 0; i < o->nheaders; i++)
		if (loadgen_request_puts(r, cap, o->headers[i]) == -1 ||
		    loadgen_request_puts(r, cap, "\r\n") == -1)
			goto fail;
	if (loadgen_request_puts(r, cap, "\r\n") == -1)
		goto fail;
	if (o->body_bytes > cap - r->len) {
		log_warnx("%s: body too large", __func__);
		goto fail;
	}
	memset(r->buf + r->len, 'x', (size_t)o->body_bytes);
	r->len += (size_t)o->body_bytes;
	return 0;
fail:
	log_warnx("%s: cannot format the request", __func__);
	loadgen_request_free(r);
	return -1;
}

void
loadgen_request_free(struct loadgen_request *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = 0;
}
