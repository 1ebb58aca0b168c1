/* Validation of the keeper's delivery orders. The keeper is trusted, but a
 * field with CR, LF or a stray byte would let one order rewrite the request
 * head (header injection, request smuggling), so every byte is checked. */
#include <stddef.h>
#include <string.h>

#include "courier/validate.h"
#include "ipc.h"
#include "util.h"

/* Header names the courier writes itself or that change the framing or the
 * connection: one coming from the keeper would make the head ambiguous. */
static const char *const validate_reserved[] = {
	"host", "content-type", "content-length", "transfer-encoding",
	"idempotency-key", "connection", "keep-alive", "proxy-connection",
	"te", "trailer", "upgrade", "expect",
};

/* RFC 9110 §5.6.2 tchar. */
static int
validate_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Printable ASCII, space included: no control byte, no DEL, no 8-bit. */
static int
validate_print(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* An origin-form request target (RFC 9112 §3.2.1): '/' then visible ASCII;
 * no space, CR, LF, control byte or fragment. */
static int
validate_path(const char *p)
{
	const unsigned char	*s = (const unsigned char *)p;

	if (s[0] != '/')
		return -1;
	for (; *s != '\0'; s++)
		if (*s <= 0x20 || *s >= 0x7f || *s == '#')
			return -1;
	return 0;
}

/* Non-empty printable text. */
static int
validate_text(const char *p)
{
	const unsigned char	*s = (const unsigned char *)p;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++)
		if (!validate_print(*s))
			return -1;
	return 0;
}

/* The key travels as a Structured Field sf-string (RFC 8941 §3.3.3), written
 * between quotes without escapes: '"' and '\' would need them. */
static int
validate_key(const char *p)
{
	if (validate_text(p) == -1 || strpbrk(p, "\"\\") != NULL)
		return -1;
	return 0;
}

static int
validate_reserved_name(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < nitems(validate_reserved); i++)
		if (str_ieq(name, len, validate_reserved[i]))
			return 1;
	return 0;
}

/* Zero or more "Name: value\r\n" lines: a token name, a colon, a printable
 * value with something besides spaces in it, CRLF. Nothing else, and no
 * empty line (that would end the head early). */
static int
validate_headers(const char *h, const char **why)
{
	const unsigned char	*s = (const unsigned char *)h, *name;
	size_t			 nlen;
	int			 visible;

	while (*s != '\0') {
		name = s;
		while (validate_tchar(*s))
			s++;
		nlen = (size_t)(s - name);
		if (nlen == 0 || *s != ':') {
			*why = "header name is not a token followed by ':'";
			return -1;
		}
		if (validate_reserved_name((const char *)name, nlen)) {
			*why = "header the courier sets itself or that "
			    "changes framing";
			return -1;
		}
		visible = 0;
		for (s++; *s != '\0' && *s != '\r' && *s != '\n'; s++) {
			if (!validate_print(*s)) {
				*why = "header value is not printable";
				return -1;
			}
			if (*s != ' ')
				visible = 1;
		}
		if (!visible) {
			*why = "empty header value";
			return -1;
		}
		if (s[0] != '\r' || s[1] != '\n') {
			*why = "header line not ended by CRLF";
			return -1;
		}
		s += 2;
	}
	return 0;
}

int
validate_deliver(const void *msg, size_t len, size_t nupstreams,
    const char **why)
{
	const struct ipc_deliver	*d = msg;

	if (len < sizeof(*d)) {
		*why = "shorter than struct ipc_deliver";
		return -1;
	}
	if (!ipc_str_ok(d->path, sizeof(d->path)) ||
	    !ipc_str_ok(d->ctype, sizeof(d->ctype)) ||
	    !ipc_str_ok(d->idempotency_key, sizeof(d->idempotency_key)) ||
	    !ipc_str_ok(d->headers, sizeof(d->headers))) {
		*why = "string not NUL-terminated";
		return -1;
	}
	if (d->upstream >= nupstreams) {
		*why = "no such upstream";
		return -1;
	}
	if (d->attempt == 0) {
		*why = "attempt 0 (the first is 1)";
		return -1;
	}
	if (validate_path(d->path) == -1) {
		*why = "path is not '/' followed by visible ASCII";
		return -1;
	}
	if (validate_text(d->ctype) == -1) {
		*why = "content type empty or not printable";
		return -1;
	}
	if (validate_key(d->idempotency_key) == -1) {
		*why = "idempotency key empty, not printable, or with "
		    "'\"' or '\\'";
		return -1;
	}
	return validate_headers(d->headers, why);
}
