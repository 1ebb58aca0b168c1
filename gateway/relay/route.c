/* Routing by path prefix, with the path checked first so that a prefix can
 * never be escaped by dot segments or encoded separators. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "relay/route.h"

static size_t
route_path_len(const char *url, size_t len)
{
	const char	*q = memchr(url, '?', len);

	return q ? (size_t)(q - url) : len;
}

int
route_path_ok(const char *url, size_t len)
{
	size_t	n = route_path_len(url, len), i, seg;

	if (n == 0 || url[0] != '/')
		return -1;
	for (i = 0; i < n; i++) {
		if (url[i] == '%') {
			char	hi, lo;

			if (i + 2 >= n)
				return -1;	/* truncated escape */
			hi = url[i + 1];
			lo = (char)(url[i + 2] | 0x20);
			/* %2e '.', %2f '/', %5c '\\': ways around a prefix.
			 * A '%' escaped before an escape or another '%' is
			 * the same once an upstream decodes twice (%252e). */
			if ((hi == '2' && (lo == 'e' || lo == 'f')) ||
			    (hi == '5' && lo == 'c'))
				return -1;
			if (hi == '2' && lo == '5' && i + 3 < n &&
			    (url[i + 3] == '%' || (i + 4 < n &&
			    isxdigit((unsigned char)url[i + 3]) &&
			    isxdigit((unsigned char)url[i + 4]))))
				return -1;
			/* %00-%1f, %7f: a NUL or control character ends or
			 * splits the path for some upstreams. */
			if (hi == '0' || hi == '1' || (hi == '7' && lo == 'f'))
				return -1;
		}
		/* A fragment never belongs in a request target, and some
		 * upstreams strip it before normalising the path. */
		if (url[i] == '\\' || url[i] == '#')
			return -1;
	}
	/* Dot segments: "/." or "/.." followed by '/', ';' (a path
	 * parameter some servers strip) or the end. */
	for (i = 0; i < n; i = seg) {
		size_t	name;

		seg = i + 1;
		while (seg < n && url[seg] != '/')
			seg++;
		name = i + 1;
		while (name < seg && url[name] != ';')
			name++;
		if ((name - i == 2 && url[i + 1] == '.') ||
		    (name - i == 3 && url[i + 1] == '.' && url[i + 2] == '.'))
			return -1;
	}
	return 0;
}

const struct cfg_route *
route_match(const struct config *cf, const char *url, size_t len)
{
	const struct cfg_route	*best = NULL;
	size_t			 i, n = route_path_len(url, len);

	for (i = 0; i < cf->nroutes; i++) {
		const struct cfg_route *r = &cf->routes[i];

		if (r->prefix_len <= n && memcmp(url, r->prefix, r->prefix_len) == 0 &&
		    (best == NULL || r->prefix_len > best->prefix_len))
			best = r;
	}
	return best;
}

enum route_verdict
route_check(const struct cfg_route *r, unsigned method, enum role role)
{
	if (r == NULL)
		return ROUTE_NONE;
	if ((r->roles & (1u << role)) == 0)
		return ROUTE_ROLE;
	/* The auditor reads; no route, however configured, lets it write. */
	if (role == ROLE_AUDITOR && (method & ~(METHOD_GET | METHOD_HEAD)) != 0)
		return ROUTE_ROLE;
	if ((r->methods & method) == 0)
		return ROUTE_METHOD;
	return ROUTE_OK;
}
