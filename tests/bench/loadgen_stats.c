/* Merging of per-thread load-generator counters and names of error kinds. */
#include <stddef.h>

#include "loadgen_stats.h"

void
loadgen_stats_merge(struct loadgen_stats *dst, const struct loadgen_stats *src)
{
	size_t	i;

	dst->responses += src->responses;
	dst->ok += src->ok;
	for (i = 0; i < 6; i++)
		dst->status_class[i] += src->status_class[i];
	for (i = 0; i < LOADGEN_ERR_MAX; i++)
		dst->errors[i] += src->errors[i];
	dst->handshakes += src->handshakes;
	dst->reconnects += src->reconnects;
	dst->in_flight += src->in_flight;
	for (i = 0; i < LOADGEN_MAX_TEMPLATES; i++) {
		dst->tpl_responses[i] += src->tpl_responses[i];
		dst->tpl_ok[i] += src->tpl_ok[i];
		dst->tpl_repeats[i] += src->tpl_repeats[i];
	}
	loadgen_hist_merge(&dst->latency, &src->latency);
}

const char *
loadgen_stats_err_name(enum loadgen_err e)
{
	static const char *const names[LOADGEN_ERR_MAX] = {
		"connect", "tls", "status", "timeout", "io", "parse"
	};

	return (unsigned)e < LOADGEN_ERR_MAX ? names[e] : "?";
}
