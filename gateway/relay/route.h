/* Routing: which configured route a request path belongs to, and whether the
 * caller's role and method may use it. */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include <stddef.h>

#include "config.h"

enum route_verdict { ROUTE_OK, ROUTE_NONE, ROUTE_METHOD, ROUTE_ROLE };

/* 0 if the request target is a plain origin-form path we are willing to
 * route: starts with '/', no dot segments, no encoded '.', '/' or '\'. */
int	route_path_ok(const char *url, size_t len);
/* The route with the longest prefix of the path (query excluded), or NULL. */
const struct cfg_route	*route_match(const struct config *, const char *url,
			    size_t len);
/* ROUTE_ROLE also for any method but GET and HEAD by the auditor. */
enum route_verdict	 route_check(const struct cfg_route *, unsigned method,
			    enum role);

#endif
