/* Log-bucket latency histogram: constant memory and O(1) recording, so the
 * load generator never stores samples nor sorts them. */
#include <stddef.h>

#include "loadgen_hist.h"

static size_t
loadgen_hist_index(uint64_t v)
{
	unsigned	msb, e;

	if (v < LOADGEN_HIST_LINEAR)
		return (size_t)v;
	if (v >= (1ull << LOADGEN_HIST_MAX_BITS))
		v = (1ull << LOADGEN_HIST_MAX_BITS) - 1;
	msb = 63u - (unsigned)__builtin_clzll(v);
	/* Keep the 7 leading bits: the top one is implicit, 6 pick the sub-bucket. */
	e = msb - 6u;
	return LOADGEN_HIST_LINEAR + (size_t)(e - 1u) * LOADGEN_HIST_SUB +
	    (size_t)((v >> e) - LOADGEN_HIST_SUB);
}

/* HdrHistogram's "highest equivalent value". */
uint64_t
loadgen_hist_upper(size_t i)
{
	size_t		k;
	unsigned	e;
	uint64_t	m;

	if (i < LOADGEN_HIST_LINEAR)
		return (uint64_t)i;
	k = i - LOADGEN_HIST_LINEAR;
	e = (unsigned)(k / LOADGEN_HIST_SUB) + 1u;
	m = (uint64_t)(k % LOADGEN_HIST_SUB) + LOADGEN_HIST_SUB;
	return ((m + 1u) << e) - 1u;
}

void
loadgen_hist_record(struct loadgen_hist *h, uint64_t us)
{
	h->counts[loadgen_hist_index(us)]++;
	h->n++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
}

void
loadgen_hist_merge(struct loadgen_hist *dst, const struct loadgen_hist *src)
{
	size_t	i;

	for (i = 0; i < LOADGEN_HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->n += src->n;
	dst->sum_us += src->sum_us;
	if (src->max_us > dst->max_us)
		dst->max_us = src->max_us;
}

uint64_t
loadgen_hist_percentile(const struct loadgen_hist *h, double pct)
{
	uint64_t	rank, seen = 0, v;
	double		want;
	size_t		i;

	if (h->n == 0)
		return 0;
	/* ceil() by hand: the build links no libm. */
	want = pct / 100.0 * (double)h->n;
	rank = (uint64_t)want;
	if ((double)rank < want)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > h->n)
		rank = h->n;
	for (i = 0; i < LOADGEN_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			v = loadgen_hist_upper(i);
			/* A bucket bound above the real maximum would
			 * overstate the tail. */
			return v < h->max_us ? v : h->max_us;
		}
	}
	return h->max_us;
}

double
loadgen_hist_mean_us(const struct loadgen_hist *h)
{
	return h->n == 0 ? 0.0 : (double)h->sum_us / (double)h->n;
}
