/* The headers of a parsed message: lookup in the head storage, hygiene for
 * proxying (what must not be forwarded) and media-type parameters. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "net/http.h"
#include "util.h"

/* RFC 9110 §7.6.1 connection-specific fields, those we re-frame, and Host
 * (the upstream gets its own name). */
static const char *const http_hop_by_hop[] = {
	"connection", "keep-alive", "proxy-connection", "te", "trailer",
	"transfer-encoding", "upgrade", "proxy-authorization",
	"proxy-authenticate", "content-length", "expect", "host",
};

#define HTTP_IDENTITY_PREFIX	"x-gateway-"
/* What a client says about where a request came from is replaced with the
 * gateway's own view (RFC 7239 and the de facto X-Forwarded-*). */
#define HTTP_FORWARDED_PREFIX	"x-forwarded-"
static const char *const http_forwarding[] = { "forwarded", "x-real-ip" };

static void
http_value_trim(const char **v, size_t *len)
{
	while (*len > 0 && ((*v)[0] == ' ' || (*v)[0] == '\t')) {
		(*v)++;
		(*len)--;
	}
	while (*len > 0 && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
		(*len)--;
}

void
http_msg_header_at(const struct http_msg *m, size_t i, const char **name,
    size_t *nlen, const char **val, size_t *vlen)
{
	const struct http_header	*h = &m->hdrs[i];

	*name = m->buf + h->name_off;
	*nlen = h->name_len;
	*val = m->buf + h->value_off;
	*vlen = h->value_len;
	http_value_trim(val, vlen);
}

const char *
http_msg_header(const struct http_msg *m, const char *name, size_t *len)
{
	const char	*n, *v;
	size_t		 i, nl, vl;

	for (i = 0; i < m->nhdrs; i++) {
		http_msg_header_at(m, i, &n, &nl, &v, &vl);
		if (str_ieq(n, nl, name)) {
			*len = vl;
			return v;
		}
	}
	return NULL;
}

size_t
http_msg_header_count(const struct http_msg *m, const char *name)
{
	const char	*n, *v;
	size_t		 i, nl, vl, count = 0;

	for (i = 0; i < m->nhdrs; i++) {
		http_msg_header_at(m, i, &n, &nl, &v, &vl);
		if (str_ieq(n, nl, name))
			count++;
	}
	return count;
}

/* Whether the header name appears as a token of any Connection header. */
static int
http_in_connection(const struct http_msg *m, const char *name, size_t nlen)
{
	const char	*n, *v, *t, *end;
	size_t		 i, nl, vl, tl;

	for (i = 0; i < m->nhdrs; i++) {
		http_msg_header_at(m, i, &n, &nl, &v, &vl);
		if (!str_ieq(n, nl, "connection"))
			continue;
		end = v + vl;
		for (t = v; t < end; t += tl + 1) {
			const char *tok = t;

			tl = 0;
			while (t + tl < end && t[tl] != ',')
				tl++;
			size_t toklen = tl;
			while (toklen > 0 && (*tok == ' ' || *tok == '\t')) {
				tok++;
				toklen--;
			}
			while (toklen > 0 && (tok[toklen - 1] == ' ' ||
			    tok[toklen - 1] == '\t'))
				toklen--;
			if (toklen == nlen && strncasecmp(tok, name, nlen) == 0)
				return 1;
		}
	}
	return 0;
}

int
http_msg_header_dropped(const struct http_msg *m, size_t i)
{
	const char	*n, *v;
	size_t		 k, nl, vl, pl = strlen(HTTP_IDENTITY_PREFIX);

	http_msg_header_at(m, i, &n, &nl, &v, &vl);
	for (k = 0; k < nitems(http_hop_by_hop); k++)
		if (str_ieq(n, nl, http_hop_by_hop[k]))
			return 1;
	/* CGI-style upstreams read X_Gateway_Agency as X-Gateway-Agency:
	 * names with '_' are dropped, as nginx does by default. */
	if (memchr(n, '_', nl) != NULL)
		return 1;
	if (nl >= pl && strncasecmp(n, HTTP_IDENTITY_PREFIX, pl) == 0)
		return 1;
	for (k = 0; k < nitems(http_forwarding); k++)
		if (str_ieq(n, nl, http_forwarding[k]))
			return 1;
	pl = strlen(HTTP_FORWARDED_PREFIX);
	if (nl >= pl && strncasecmp(n, HTTP_FORWARDED_PREFIX, pl) == 0)
		return 1;
	return http_in_connection(m, n, nl);
}

int
http_msg_write_headers(const struct http_msg *m, struct evbuffer *out)
{
	const char	*n, *v;
	size_t		 i, nl, vl;

	for (i = 0; i < m->nhdrs; i++) {
		if (http_msg_header_dropped(m, i))
			continue;
		http_msg_header_at(m, i, &n, &nl, &v, &vl);
		if (evbuffer_add(out, n, nl) == -1 ||
		    evbuffer_add(out, ": ", 2) == -1 ||
		    evbuffer_add(out, v, vl) == -1 ||
		    evbuffer_add(out, "\r\n", 2) == -1)
			return -1;
	}
	return 0;
}

static int
http_is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* RFC 9110 §5.6.2 tchar. */
static int
http_is_tchar(char ch)
{
	return isalnum((unsigned char)ch) || (ch != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

int
http_media_param(const char *v, size_t len, const char *name,
    const char **val, size_t *vlen)
{
	const char	*p = v, *end = v + len, *n, *s;
	size_t		 nlen;
	int		 found = 0;

	/* The media type itself holds no ';' nor quotes. */
	while (p < end && *p != ';')
		p++;
	while (p < end) {
		p++;			/* the ';' */
		while (p < end && http_is_ows(*p))
			p++;
		if (p == end)
			break;		/* a trailing ';' is tolerated */
		for (n = p; p < end && http_is_tchar(*p); p++)
			;
		nlen = (size_t)(p - n);
		if (nlen == 0 || p == end || *p != '=')
			return -1;
		p++;
		if (p < end && *p == '"') {
			for (s = ++p; p < end && *p != '"'; p++)
				if (*p == '\\' && ++p == end)
					return -1;
			if (p == end)
				return -1;	/* unterminated */
			if (!found && str_ieq(n, nlen, name)) {
				*val = s;
				*vlen = (size_t)(p - s);
				found = 1;
			}
			p++;
		} else {
			for (s = p; p < end && http_is_tchar(*p); p++)
				;
			if (p == s)
				return -1;
			if (!found && str_ieq(n, nlen, name)) {
				*val = s;
				*vlen = (size_t)(p - s);
				found = 1;
			}
		}
		while (p < end && http_is_ows(*p))
			p++;
		if (p < end && *p != ';')
			return -1;
	}
	return found;
}
