/* The outbox: deliveries the keeper owes upstreams, written in the same
 * transaction as the instruction they carry, handed to the courier in order
 * per upstream, retried with capped exponential backoff and jitter, parked
 * after too many failures. */
#ifndef GW_OUTBOX_H
#define GW_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"

struct outbox;
struct sqlite3;

/* A row as the courier needs it; strings and body are the caller's copy. */
struct outbox_row {
	uint64_t	 seq;
	int		 upstream;
	char		 kind[24];
	char		 id[40];
	char		 path[256];
	char		 ctype[64];
	char		 idem[80];
	char		 headers[2048];
	unsigned	 attempts;
	unsigned	 base;		/* attempts before the last re-queue */
	uint64_t	 next_at;	/* ms since the epoch */
	char		*body;		/* owned by the row (outbox_row_clear) */
	size_t		 blen;
};

enum outbox_state { OUTBOX_PENDING, OUTBOX_DELIVERED, OUTBOX_PARKED };

/* Creates the tables and prepares statements on db (the store's). *out is
 * the caller's (outbox_free). */
int	outbox_open(struct sqlite3 *db, const struct config *, struct outbox **out);
void	outbox_free(struct outbox *);
void	outbox_row_clear(struct outbox_row *);

/* Inside a transaction: queues a delivery to upstream. *seq gets the row. */
int	outbox_add(struct outbox *, const char *kind, const char *id,
	    int upstream, const char *path, const char *ctype, const char *idem,
	    const char *headers, const void *body, size_t blen, uint64_t *seq);

/* The first max pending rows of upstream, in order: their seq and the time
 * each is due (ms since the epoch). Returns how many, or -1. */
int	outbox_pending(struct outbox *, int upstream, unsigned max,
	    uint64_t *seq, uint64_t *due);
/* One row by its seq, whatever its state: 1, 0 (none), -1. */
int	outbox_get(struct outbox *, uint64_t seq, struct outbox_row *row,
	    enum outbox_state *state);

/* Inside a transaction: records one attempt's outcome for row (as
 * outbox_get read it in this transaction, in state). ok: delivered;
 * otherwise retried after a backoff, or parked when refused or out of
 * attempts (*parked set). */
int	outbox_attempted(struct outbox *, const struct outbox_row *row,
	    enum outbox_state state, int ok, int refused, int status,
	    const char *error, uint64_t entry, int *parked, uint64_t *next_at);
/* Whether the next attempt at r is its last before it is parked. */
int	outbox_last_attempt(const struct outbox *, const struct outbox_row *r);
/* Inside a transaction: puts a parked row back at the head of the queue
 * with a fresh budget of attempts. 1 done, 0 if seq is not parked, -1. */
int	outbox_requeue(struct outbox *, uint64_t seq);
/* Whether every row of the instruction is delivered: 1, 0, -1. */
int	outbox_all_delivered(struct outbox *, const char *kind, const char *id);

/* The attempts made for row seq, and every row of an instruction with
 * its attempts, as JSON arrays (GET /v1/transfers). The caller owns the
 * result; NULL on error. */
json_t	*outbox_history(struct outbox *, uint64_t seq);
json_t	*outbox_of(struct outbox *, const char *kind, const char *id);

/* Pending and parked rows, for the metrics. */
int	outbox_counts(struct outbox *, uint64_t *pending, uint64_t *parked);

/* The backoff before attempt n + 1 after n failures: min * 2^(n-1), capped
 * at max, with "equal jitter" (half fixed, half random). */
uint64_t	outbox_backoff_ms(const struct cfg_courier *, unsigned failures);

#endif
