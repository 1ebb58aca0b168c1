/* Metrics shared by every role through MAP_SHARED memory and rendered in the
 * Prometheus text format on the admin listener's GET /metrics. */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

struct evbuffer;
struct runtime;

/* Statuses counted one by one; anything else falls in "other". */
#define METRICS_NSTATUS		26
#define METRICS_NBUCKETS	12	/* latency buckets, +Inf apart */

enum metrics_tls_reason {
	TLS_FAIL_NO_CERT, TLS_FAIL_UNTRUSTED, TLS_FAIL_EXPIRED,
	TLS_FAIL_REVOKED, TLS_FAIL_PROTOCOL, TLS_FAIL_TIMEOUT, TLS_FAIL_OTHER,
	TLS_FAIL_COUNT
};

/* Why a client connection was closed before it could make a request. */
enum metrics_conn_refusal {
	CONN_REFUSED_CAPACITY,	/* over a cap: 503 after the handshake */
	CONN_REFUSED_ADDRESS,	/* max_handshakes_per_address reached */
	CONN_REFUSED_EVICTED,	/* oldest handshake, max_handshakes reached */
	CONN_REFUSED_COUNT
};

/* One worker's counters: written by that worker only, read by any. */
struct metrics_slot {
	atomic_ullong	requests[CFG_MAX_ROUTES + 1][ROLE_COUNT + 1]
			    [METRICS_NSTATUS + 1];
	atomic_ullong	latency[CFG_MAX_ROUTES + 1][METRICS_NBUCKETS + 1];
	atomic_ullong	latency_ms_sum[CFG_MAX_ROUTES + 1];
	atomic_ullong	handshakes[LISTENER_COUNT];
	atomic_ullong	tls_failures[LISTENER_COUNT][TLS_FAIL_COUNT];
	atomic_llong	open[LISTENER_COUNT];
	atomic_ullong	unpinned;
	atomic_ullong	conn_refused[LISTENER_COUNT][CONN_REFUSED_COUNT];
	atomic_ullong	send_timeouts[LISTENER_COUNT];
	atomic_ullong	access_dropped;	/* access lines the log did not take */
};

/* Written by the keeper. */
struct metrics_keeper {
	atomic_ullong	entries;
	atomic_ullong	commits;
	atomic_ullong	checkpoint_size;
	atomic_llong	checkpoint_time;	/* unix seconds, 0: none */
	atomic_ullong	refused;		/* appends not made durable */
	atomic_int	unwritable;		/* the last commit failed */
	/* Instructions and deliveries (the ledger and the outbox). */
	atomic_ullong	instr_accepted;
	atomic_ullong	instr_replayed;
	atomic_ullong	instr_refused;
	atomic_ullong	deliveries_ok;
	atomic_ullong	deliveries_failed;
	atomic_ullong	trust_entries;		/* start-up and reload entries */
	atomic_ullong	outbox_pending;		/* gauge, refreshed each second */
	atomic_ullong	outbox_parked;		/* gauge: each one an alert */
	/* The WAL and its checkpointer thread (keeper/wal.c). */
	atomic_ullong	wal_bytes;		/* gauge: size of the -wal file */
	atomic_ullong	wal_limit;		/* [keeper] wal_limit */
	atomic_ullong	wal_lag_frames;		/* gauge: not yet copied back */
	atomic_ullong	wal_checkpoints;
	atomic_ullong	wal_checkpoint_ms;	/* summed over checkpoints */
	atomic_ullong	wal_checkpoint_max_ms;
	atomic_ullong	wal_restarts;
	atomic_ullong	wal_restarts_busy;	/* held off by a reader */
	atomic_ullong	wal_failures;
	atomic_int	wal_over_limit;		/* checkpoints cannot keep up */
	/* The longest periodic task of the keeper's loop, in ms, per task
	 * (enum keeper_task): none may grow with the log. */
	atomic_ullong	periodic_max_ms[3];
	/* Witnesses (keeper_witness.c). */
	atomic_ullong	cosigned_size;		/* newest with the quorum */
	atomic_llong	cosigned_time;		/* when it got it, unix s */
	atomic_int	log_frozen;		/* evidence of rollback/fork */
	atomic_ullong	witness_size[CFG_MAX_WITNESSES];
	atomic_ullong	witness_cosigs[CFG_MAX_WITNESSES];
	atomic_ullong	witness_failures[CFG_MAX_WITNESSES];
	atomic_ullong	witness_asks;		/* add-checkpoint requests sent */
	atomic_ullong	witness_us;		/* keeper time on them, µs */
};

/* Every certificate the configuration names, with its notAfter, and every
 * CRL file, with the earliest nextUpdate of its CRLs (in not_after). */
struct metrics_cert {
	char	path[CFG_PATH_MAX];
	time_t	not_after;
	int	crl;
};

struct metrics {
	unsigned		nslots;
	struct metrics_slot	slot[];
};

/* Shared maps (zeroed); NULL on failure. Released with metrics_unmap. */
struct metrics		*metrics_map(unsigned nslots);
void			 metrics_unmap(struct metrics *);
struct metrics_keeper	*metrics_keeper_map(void);

/* Records one exchange: route index or -1, role or -1, status, duration. */
void	metrics_request(struct metrics_slot *, int route, int role, int status,
	    uint64_t ms);
/* Appends the whole exposition for rt to out. 0 or -1. */
int	metrics_render(const struct runtime *, struct evbuffer *out);
/* Collects the notAfter of every certificate and the nextUpdate of every
 * CRL cf names into certs (max n); returns how many. */
size_t	metrics_collect_certs(const struct config *, struct metrics_cert *,
	    size_t n);

#endif
