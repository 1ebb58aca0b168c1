/* Latency histogram with logarithmic buckets (HdrHistogram-like, 64 linear
 * sub-buckets per power of two: under 1.6% error), one per thread, merged at the end. */
#ifndef LOADGEN_HIST_H
#define LOADGEN_HIST_H

#include <stdint.h>

/* Values below 128 us are exact; above, 64 sub-buckets per doubling up to 2^36 us. */
#define LOADGEN_HIST_LINEAR	128u
#define LOADGEN_HIST_SUB	64u
#define LOADGEN_HIST_MAX_BITS	36u
#define LOADGEN_HIST_BUCKETS	(LOADGEN_HIST_LINEAR + \
	(LOADGEN_HIST_MAX_BITS - 7u) * LOADGEN_HIST_SUB)

struct loadgen_hist {
	uint64_t	counts[LOADGEN_HIST_BUCKETS];
	uint64_t	n;
	uint64_t	sum_us;
	uint64_t	max_us;
};

void		loadgen_hist_record(struct loadgen_hist *h, uint64_t us);
void		loadgen_hist_merge(struct loadgen_hist *dst,
		    const struct loadgen_hist *src);
/* The value (us) at or below which pct percent of the samples fall, reported
 * as the upper bound of its bucket; 0 when empty. */
uint64_t	loadgen_hist_percentile(const struct loadgen_hist *h, double pct);
double		loadgen_hist_mean_us(const struct loadgen_hist *h);
/* Highest value (us) that lands in bucket i, so that runs can be merged
 * outside the process from their non-empty buckets. */
uint64_t	loadgen_hist_upper(size_t i);

#endif
