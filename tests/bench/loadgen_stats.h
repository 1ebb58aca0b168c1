/* Counters one load-generator thread keeps without locking; merged after join. */
#ifndef LOADGEN_STATS_H
#define LOADGEN_STATS_H

#include <stdint.h>

#include "loadgen_hist.h"
#include "loadgen_opts.h"

enum loadgen_err {
	LOADGEN_ERR_CONNECT,	/* TCP connect failed */
	LOADGEN_ERR_TLS,	/* handshake or TLS record failure */
	LOADGEN_ERR_STATUS,	/* complete response, not 2xx or not --expect */
	LOADGEN_ERR_TIMEOUT,	/* no complete response within --timeout */
	LOADGEN_ERR_IO,		/* reset or closed in the middle of an exchange */
	LOADGEN_ERR_PARSE,	/* response llhttp refused */
	LOADGEN_ERR_MAX
};

struct loadgen_stats {
	uint64_t		responses;	/* complete responses, any status */
	uint64_t		ok;		/* 2xx, or --expect, responses */
	uint64_t		status_class[6];	/* index status / 100 */
	uint64_t		errors[LOADGEN_ERR_MAX];
	uint64_t		handshakes;	/* TLS connections established */
	uint64_t		reconnects;	/* keep-alive connections reopened */
	uint64_t		in_flight;	/* requests unanswered at the deadline */
	/* Per request (template) the connections send, for the mix's shares. */
	uint64_t		tpl_responses[LOADGEN_MAX_TEMPLATES];
	uint64_t		tpl_ok[LOADGEN_MAX_TEMPLATES];
	/* Requests that reused a vary= value (the list was too short). */
	uint64_t		tpl_repeats[LOADGEN_MAX_TEMPLATES];
	struct loadgen_hist	latency;	/* per complete response */
};

void		loadgen_stats_merge(struct loadgen_stats *dst,
		    const struct loadgen_stats *src);
const char	*loadgen_stats_err_name(enum loadgen_err e);

#endif
