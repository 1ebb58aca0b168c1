/* One delivery attempt as one HTTP/1.1 exchange with an upstream: the POST
 * with its Idempotency-Key out, the response read, bounded and digested. */
#ifndef GW_COURIER_EXCHANGE_H
#define GW_COURIER_EXCHANGE_H

#include <stddef.h>

struct exchange;
struct ipc_deliver;
struct ipc_delivered;
struct upstream_pool;
typedef struct evp_md_st EVP_MD;

/* Called exactly once per started exchange with what came of it (seq,
 * outcome, status, duration, response digest, error). The receiver owns x
 * and frees it with exchange_free, from within the callback if it likes:
 * the exchange touches nothing of itself after the call. */
typedef void	(*exchange_done_cb)(struct exchange *x,
		    const struct ipc_delivered *result, void *arg);

/* Prepares the exchange of an order that passed validate_deliver: the
 * request (head and body) is built and owned by the exchange, so d and body
 * may be reused once this returns. pool and md are borrowed and must outlive
 * the exchange. NULL if out of memory (logged). */
struct exchange	*exchange_new(struct upstream_pool *pool,
		    const EVP_MD *md, const struct ipc_deliver *d,
		    const char *body, size_t blen, exchange_done_cb done,
		    void *arg);
/* Keeps the response body, up to max bytes (more fails the exchange as a
 * malformed response), for exchange_body: the witnesses' answers, which
 * the courier reads itself. 0 or -1 (out of memory). */
int		 exchange_keep_body(struct exchange *, size_t max);
/* The kept body, NUL-terminated; valid until exchange_free. */
const char	*exchange_body(const struct exchange *, size_t *len);
/* Sends the request. done is called later, or before this returns when no
 * connection can be had. */
void		 exchange_start(struct exchange *);
/* Ends the exchange where it is, without calling done (the courier is
 * exiting), and frees it. NULL is fine. */
void		 exchange_free(struct exchange *);

#endif
