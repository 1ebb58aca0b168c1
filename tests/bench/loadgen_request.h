/* The requests connections send, formatted once before the run: one shared
 * request, or one per --body-template with the places of its ids and of its
 * vary= values. */
#ifndef LOADGEN_REQUEST_H
#define LOADGEN_REQUEST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "loadgen_opts.h"

struct loadgen_request {
	char		*buf;
	size_t		 len;
	/* Offsets in buf of the o->id_len bytes each {{ID}} became. */
	size_t		 id_off[LOADGEN_MAX_IDS];
	size_t		 nids;
	/* Offsets of the {{VAR}}s, and the vary= values: nvary of vary_len
	 * bytes back to back, taken in turn by every connection sending this
	 * request (vary_next is shared by the threads). */
	size_t		 var_off[LOADGEN_MAX_IDS];
	size_t		 nvars;
	char		*vary;
	size_t		 nvary;
	size_t		 vary_len;
	atomic_ullong	*vary_next;
	const char	*cert;		/* client certificate of its connections */
	const char	*key;
	const char	*label;		/* template file, for the report */
};

/* Builds method, path, Host, Content-Length, Content-Type, --header lines and
 * the body: --body-bytes of filler, or template t's file (t NULL: no
 * template). 0, or -1 after logging. */
int	loadgen_request_build(const struct loadgen_opts *o,
	    const struct loadgen_template *t, struct loadgen_request *r);
/* Writes id (idlen bytes, the run's id length) at every id place of dst, a
 * private copy of r->buf. */
void	loadgen_request_stamp(const struct loadgen_request *r, char *dst,
	    const char *id, size_t idlen);
/* Writes the next vary= value at every {{VAR}} of dst; returns 1 if that
 * value had been used before (the list wrapped around), else 0. */
int	loadgen_request_vary(const struct loadgen_request *r, char *dst);
void	loadgen_request_free(struct loadgen_request *r);

#endif
