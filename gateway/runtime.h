/* What the parent prepares before it starts the roles: the validated config,
 * TLS contexts, listening sockets and the counters shared across workers. */
#ifndef GW_RUNTIME_H
#define GW_RUNTIME_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"

#define RUNTIME_MAX_CERTS	64

typedef struct ssl_ctx_st SSL_CTX;

/* One worker's open connections. Only that worker raises or lowers them;
 * the parent zeroes them when the worker dies, so a crash frees its share. */
struct runtime_conns {
	atomic_uint	total;
	atomic_uint	agency[CFG_MAX_AGENCIES];
};

/* Lives in MAP_SHARED memory so caps hold across all relay workers. */
struct runtime_shared {
	struct runtime_conns	slot[CFG_MAX_WORKERS];
	atomic_uint		workers_alive;
};

/* Sums over the workers of one configuration generation. */
unsigned	runtime_conns_total(const struct runtime_shared *, unsigned n);
unsigned	runtime_conns_agency(const struct runtime_shared *, unsigned n,
		    int agency);

struct runtime {
	struct config		*cf;
	SSL_CTX			*server_ctx[LISTENER_COUNT];
	SSL_CTX			*upstream_ctx[CFG_MAX_UPSTREAMS];
	/* One SO_REUSEPORT socket per worker slot and listener: the kernel
	 * spreads connections, and a restarted worker takes over its slot. */
	int			 listen_fd[CFG_MAX_WORKERS][LISTENER_COUNT];
	int			 access_fd;
	int			 access_sock;	/* a socket: send without waiting */
	struct runtime_shared	*shm;
	struct metrics		*metrics;	/* this generation's workers */
	struct metrics_keeper	*kmetrics;	/* the keeper's, for all */
	struct metrics_cert	 certs[RUNTIME_MAX_CERTS];
	/* The log's public key as a signed-note vkey, made by the parent at
	 * start-up (log_key changes need a restart): the console serves it. */
	char			 log_vkey[CFG_VKEY_MAX];
	size_t			 ncerts;
};

/* Builds every TLS context the config names. Problems are reported with
 * the config's file:line; returns 0 or -1. */
int	runtime_tls_load(struct runtime *);
void	runtime_tls_free(struct runtime *);

#endif
