/* Splitting and resolving the https:// URL the load generator targets. */
#ifndef LOADGEN_URL_H
#define LOADGEN_URL_H

#include "loadgen_opts.h"

/* Sets o->host, port, path, host_header, host_is_ip from url. 0 or -1. */
int	loadgen_url_parse(struct loadgen_opts *o, const char *url);
/* Resolves o->host:o->port once, into o->addr. 0 or -1. */
int	loadgen_url_resolve(struct loadgen_opts *o);

#endif
