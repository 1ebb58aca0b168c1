/* One load-generator thread: its own epoll loop, connections and counters. */
#ifndef LOADGEN_WORKER_H
#define LOADGEN_WORKER_H

#include <pthread.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "loadgen_opts.h"
#include "loadgen_request.h"
#include "loadgen_stats.h"

struct loadgen_worker {
	const struct loadgen_opts	*opts;
	const struct loadgen_request	*reqs;
	SSL_CTX *const			*ctxs;		/* one per request */
	size_t				 nreqs;
	unsigned			 first;		/* index of its first connection */
	unsigned			 nconns;
	uint64_t			 end_us;	/* the shared deadline */
	uint64_t			 warm_us;	/* counters restart then (0: never) */
	pthread_t			 thread;
	int				 started;
	int				 rc;
	struct loadgen_stats		 stats;
};

/* Starts the thread; 0, or -1 after logging. */
int	loadgen_worker_start(struct loadgen_worker *w);
/* Waits for the thread (which stops by itself at end_us); returns its rc. */
int	loadgen_worker_join(struct loadgen_worker *w);

#endif
