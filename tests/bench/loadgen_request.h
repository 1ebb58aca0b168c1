/* The one request every connection sends, formatted once before the run. */
#ifndef LOADGEN_REQUEST_H
#define LOADGEN_REQUEST_H

#include <stddef.h>

#include "loadgen_opts.h"

struct loadgen_request {
	char	*buf;
	size_t	 len;
};

/* Builds method, path, Host, Content-Length, --header lines and the body. 0 or -1. */
int	loadgen_request_build(const struct loadgen_opts *o, struct loadgen_request *r);
void	loadgen_request_free(struct loadgen_request *r);

#endif
