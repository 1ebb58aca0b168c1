/* Pre-formatting of the load generator's requests: built once, so sending is a
 * single SSL_write of prepared bytes; a templated request only has its ids
 * rewritten in place, so Content-Length never changes. */
#include <stdint.h>
#include <stdio.h>
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

/* Per-connection copies of a templated request, over all connections: past
 * this the run would swap rather than measure. */
#define LOADGEN_REQUEST_COPIES_MAX	(1024u * 1024 * 1024)

static const char	loadgen_request_ph_id[] = "{{ID}}";
static const char	loadgen_request_ph_var[] = "{{VAR}}";
#define LOADGEN_REQUEST_ID_PH	(sizeof(loadgen_request_ph_id) - 1)
#define LOADGEN_REQUEST_VAR_PH	(sizeof(loadgen_request_ph_var) - 1)
/* A vary= value is a field or two of a body, not a body. */
#define LOADGEN_REQUEST_VARY_MAX	1024

/* Reads a template whole (bounded), so a wrong path or an oversized file
 * fails before the run rather than in the middle of it. */
static int
loadgen_request_read(const char *file, char **out, size_t *outlen)
{
	FILE	*fp;
	char	*buf;
	size_t	 n;
	int	 err;

	if ((fp = fopen(file, "rb")) == NULL) {
		log_warn("%s: %s", __func__, file);
		return -1;
	}
	if ((buf = malloc(LOADGEN_MAX_TEMPLATE + 1)) == NULL) {
		log_warn("%s: malloc", __func__);
		fclose(fp);
		return -1;
	}
	/* One byte more than allowed tells an oversized file apart. */
	n = fread(buf, 1, LOADGEN_MAX_TEMPLATE + 1, fp);
	err = ferror(fp);
	fclose(fp);
	if (err) {
		log_warnx("%s: %s: read error", __func__, file);
		free(buf);
		return -1;
	}
	if (n > LOADGEN_MAX_TEMPLATE) {
		log_warnx("%s: %s: larger than %u bytes", __func__, file,
		    LOADGEN_MAX_TEMPLATE);
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* The first placeholder in [p, end): where it starts (NULL: none left) and
 * whether it is {{VAR}} rather than {{ID}}. */
static const char *
loadgen_request_next_ph(const char *p, const char *end, int *is_var)
{
	const char	*id, *var;

	id = memmem(p, (size_t)(end - p), loadgen_request_ph_id,
	    LOADGEN_REQUEST_ID_PH);
	var = memmem(p, (size_t)(end - p), loadgen_request_ph_var,
	    LOADGEN_REQUEST_VAR_PH);
	*is_var = var != NULL && (id == NULL || var < id);
	return *is_var ? var : id;
}

/* Numbers of {{ID}} and {{VAR}} in a template. */
static void
loadgen_request_count(const char *b, size_t n, size_t *nids, size_t *nvars)
{
	const char	*p = b, *end = b + n, *hit;
	int		 is_var;

	*nids = *nvars = 0;
	while ((hit = loadgen_request_next_ph(p, end, &is_var)) != NULL) {
		if (is_var)
			(*nvars)++;
		else
			(*nids)++;
		p = hit + (is_var ? LOADGEN_REQUEST_VAR_PH : LOADGEN_REQUEST_ID_PH);
	}
}

/* Appends the template with every {{ID}} replaced by idlen filler bytes and
 * every {{VAR}} by vary_len, remembering where they are; the connections
 * fill them (loadgen_request_stamp, loadgen_request_vary). */
static int
loadgen_request_put_template(struct loadgen_request *r, size_t cap,
    const char *b, size_t n, size_t idlen)
{
	const char	*p = b, *end = b + n, *hit;
	size_t		 len;
	int		 is_var;

	while ((hit = loadgen_request_next_ph(p, end, &is_var)) != NULL) {
		len = is_var ? r->vary_len : idlen;
		if (loadgen_request_put(r, cap, p, (size_t)(hit - p)) == -1 ||
		    len > cap - r->len)
			return -1;
		if (is_var)
			r->var_off[r->nvars++] = r->len;
		else
			r->id_off[r->nids++] = r->len;
		memset(r->buf + r->len, 'x', len);
		r->len += len;
		p = hit + (is_var ? LOADGEN_REQUEST_VAR_PH : LOADGEN_REQUEST_ID_PH);
	}
	return loadgen_request_put(r, cap, p, (size_t)(end - p));
}

/* Loads vary= values: lines of one length (the last newline optional), so
 * that every request keeps the same Content-Length; kept back to back. */
static int
loadgen_request_vary_load(const char *file, struct loadgen_request *r)
{
	char	*buf, *nl;
	size_t	 n, i, k, len;

	if (loadgen_request_read(file, &buf, &n) == -1)
		return -1;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	nl = memchr(buf, '\n', n);
	len = nl != NULL ? (size_t)(nl - buf) : n;
	if (len == 0 || len > LOADGEN_REQUEST_VARY_MAX) {
		log_warnx("%s: %s: empty, or a line empty or over %u bytes",
		    __func__, file, LOADGEN_REQUEST_VARY_MAX);
		goto fail;
	}
	/* Line k is at k * (len + 1); a newline anywhere else, or a CR, means
	 * lines of different lengths or CRLF endings. */
	for (i = 0; i < n; i++)
		if ((buf[i] == '\n') != (i % (len + 1) == len) || buf[i] == '\r') {
			log_warnx("%s: %s: lines must all be %zu bytes, no CR",
			    __func__, file, len);
			goto fail;
		}
	if ((n + 1) % (len + 1) != 0) {
		log_warnx("%s: %s: the last line is not %zu bytes", __func__,
		    file, len);
		goto fail;
	}
	r->nvary = (n + 1) / (len + 1);
	for (k = 1; k < r->nvary; k++)
		memmove(buf + k * len, buf + k * (len + 1), len);
	if ((r->vary_next = malloc(sizeof(*r->vary_next))) == NULL) {
		log_warn("%s: malloc", __func__);
		goto fail;
	}
	atomic_init(r->vary_next, 0);
	r->vary = buf;
	r->vary_len = len;
	return 0;
fail:
	free(buf);
	return -1;
}

/* The template's body and its size on the wire (with the vary= values
 * loaded into r); *body is NULL without a template. */
static int
loadgen_request_body(const struct loadgen_opts *o,
    const struct loadgen_template *t, struct loadgen_request *r, char **body,
    size_t *blen, size_t *wire)
{
	size_t	nids, nvars;

	*body = NULL;
	*blen = 0;
	*wire = (size_t)o->body_bytes;
	if (t == NULL)
		return 0;
	if (loadgen_request_read(t->file, body, blen) == -1)
		return -1;
	loadgen_request_count(*body, *blen, &nids, &nvars);
	if (nids > LOADGEN_MAX_IDS || nvars > LOADGEN_MAX_IDS) {
		log_warnx("%s: %s: more than %u {{ID}} or {{VAR}}", __func__,
		    t->file, LOADGEN_MAX_IDS);
		goto fail;
	}
	if ((nvars > 0) != (t->vary != NULL)) {
		log_warnx("%s: %s: {{VAR}} and vary= go together", __func__,
		    t->file);
		goto fail;
	}
	if (t->vary != NULL && loadgen_request_vary_load(t->vary, r) == -1)
		goto fail;
	/* Allowed, since it measures the gateway's replay path, but say so:
	 * it is rarely what a benchmark of new instructions wants. */
	if (nids == 0)
		log_warnx("%s: %s has no {{ID}}: every request is the same",
		    __func__, t->file);
	*wire = *blen - nids * LOADGEN_REQUEST_ID_PH + nids * o->id_len -
	    nvars * LOADGEN_REQUEST_VAR_PH + nvars * r->vary_len;
	return 0;
fail:
	free(*body);
	*body = NULL;
	return -1;
}

int
loadgen_request_build(const struct loadgen_opts *o,
    const struct loadgen_template *t, struct loadgen_request *r)
{
	const char	*ctype;
	char		 line[2400], *body;
	size_t		 cap, i, blen, wire;

	memset(r, 0, sizeof(*r));
	r->cert = t != NULL && t->cert != NULL ? t->cert : o->cert;
	r->key = t != NULL && t->key != NULL ? t->key : o->key;
	r->label = t != NULL ? t->file : o->path;
	ctype = t != NULL && t->ctype != NULL ? t->ctype : o->ctype;
	for (i = 0; i < o->nheaders; i++)
		if (loadgen_request_check_header(o->headers[i]) == -1)
			return -1;
	if (ctype != NULL && loadgen_request_has(o, "content-type")) {
		log_warnx("%s: Content-Type given twice (--header and "
		    "--content-type or type=)", __func__);
		return -1;
	}
	if (loadgen_request_body(o, t, r, &body, &blen, &wire) == -1) {
		loadgen_request_free(r);
		return -1;
	}
	cap = LOADGEN_REQUEST_HEAD_MAX + wire;
	if (body != NULL && cap > LOADGEN_REQUEST_COPIES_MAX / o->conns) {
		log_warnx("%s: %u connections times %zu bytes: too much to copy",
		    __func__, o->conns, cap);
		goto fail;
	}
	r->buf = malloc(cap);
	if (r->buf == NULL) {
		log_warn("%s: malloc", __func__);
		goto fail;
	}
	if (str_printf(line, sizeof(line), "%s %s HTTP/1.1\r\n", o->method,
	    t != NULL && t->path != NULL ? t->path : o->path) == -1 ||
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
	if (wire > 0 || strcmp(o->method, "POST") == 0) {
		if (str_printf(line, sizeof(line), "Content-Length: %zu\r\n",
		    wire) == -1 ||
		    loadgen_request_puts(r, cap, line) == -1)
			goto fail;
		if (wire > 0 && !loadgen_request_has(o, "content-type") &&
		    (str_printf(line, sizeof(line), "Content-Type: %s\r\n",
		    ctype != NULL ? ctype : "application/octet-stream") == -1 ||
		    loadgen_request_puts(r, cap, line) == -1))
			goto fail;
	}
	for (i = 0; i < o->nheaders; i++)
		if (loadgen_request_puts(r, cap, o->headers[i]) == -1 ||
		    loadgen_request_puts(r, cap, "\r\n") == -1)
			goto fail;
	if (loadgen_request_puts(r, cap, "\r\n") == -1)
		goto fail;
	if (body != NULL) {
		if (loadgen_request_put_template(r, cap, body, blen,
		    o->id_len) == -1)
			goto fail;
		free(body);
		return 0;
	}
	if (o->body_bytes > cap - r->len) {
		log_warnx("%s: body too large", __func__);
		goto fail;
	}
	memset(r->buf + r->len, 'x', (size_t)o->body_bytes);
	r->len += (size_t)o->body_bytes;
	return 0;
fail:
	log_warnx("%s: cannot format the request", __func__);
	free(body);
	loadgen_request_free(r);
	return -1;
}

void
loadgen_request_stamp(const struct loadgen_request *r, char *dst,
    const char *id, size_t idlen)
{
	size_t	i;

	for (i = 0; i < r->nids; i++)
		memcpy(dst + r->id_off[i], id, idlen);
}

int
loadgen_request_vary(const struct loadgen_request *r, char *dst)
{
	unsigned long long	 k;
	const char		*v;
	size_t			 i;

	if (r->nvars == 0)
		return 0;
	/* Relaxed: only the uniqueness of k matters, not an order. */
	k = atomic_fetch_add_explicit(r->vary_next, 1, memory_order_relaxed);
	v = r->vary + (size_t)(k % r->nvary) * r->vary_len;
	for (i = 0; i < r->nvars; i++)
		memcpy(dst + r->var_off[i], v, r->vary_len);
	return k >= r->nvary;
}

void
loadgen_request_free(struct loadgen_request *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = 0;
	free(r->vary);
	r->vary = NULL;
	free(r->vary_next);
	r->vary_next = NULL;
}
