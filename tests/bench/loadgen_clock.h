/* Microsecond monotonic clock for the load generator: util.h's now_ms is too
 * coarse for sub-millisecond latencies. */
#ifndef LOADGEN_CLOCK_H
#define LOADGEN_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Inline because it runs twice per request; clock_gettime is a vDSO call. */
static inline uint64_t
loadgen_clock_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
