/* Pooled keep-alive mutual-TLS connections to one upstream, per event base:
 * used by relay workers for passthrough and by the courier for deliveries. */
#ifndef GW_UPSTREAM_H
#define GW_UPSTREAM_H

#include <sys/queue.h>

#include <event2/bufferevent.h>

struct cfg_upstream;
struct event_base;
typedef struct ssl_ctx_st SSL_CTX;

struct upstream_conn {
	TAILQ_ENTRY(upstream_conn)	 entry;
	struct upstream_pool		*pool;
	struct bufferevent		*bev;
	int				 reused;	/* came from the idle list */
	int				 connected;
};

TAILQ_HEAD(upstream_conns, upstream_conn);

struct upstream_pool {
	struct event_base		*base;
	const struct cfg_upstream	*cf;
	SSL_CTX				*ctx;
	struct upstream_conns		 idle;
	unsigned			 nidle;
	unsigned			 nbusy;
	uint64_t			 connects;	/* new connections made */
};

/* Makes an empty pool; the caller owns it (upstream_pool_free). ctx is
 * borrowed and must outlive the pool. */
struct upstream_pool	*upstream_pool_new(struct event_base *,
			    const struct cfg_upstream *, SSL_CTX *);
void			 upstream_pool_free(struct upstream_pool *);

/* A connection for one exchange: an idle one if any, else a new one that is
 * connecting (writes are queued until the handshake is done). The caller
 * sets its callbacks on conn->bev and gives it back with upstream_release.
 * NULL on failure (logged). */
struct upstream_conn	*upstream_get(struct upstream_pool *);
/* Always a new connection, the idle list untouched (a readiness probe). */
struct upstream_conn	*upstream_get_new(struct upstream_pool *);
/* A new connection after a pooled one turned out dead: the idle ones,
 * older still, are dropped. */
struct upstream_conn	*upstream_get_fresh(struct upstream_pool *);
/* Returns conn to the idle list when reusable (a complete exchange, peer
 * willing to keep alive) and the pool has room, for the upstream's
 * idle_timeout; otherwise frees it. */
void			 upstream_release(struct upstream_conn *, int reusable);

#endif
