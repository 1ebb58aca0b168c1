/* The transfer API on a relay worker (DESIGN §2): endpoints, adapters, and
 * the hand-over of canonical instructions to the keeper. */
#ifndef GW_TRANSFER_H
#define GW_TRANSFER_H

#include <stddef.h>

struct relay_conn;
struct transfer;
struct ipc_instr_reply;

/* At the head of a request: 0 if url is a /v1/ path (c->xfer is set; a
 * refusal may already be queued), -1 if not. */
int	transfer_head(struct relay_conn *, const char *url, size_t len);
/* A piece of the body (kept whole, within [limits] max_body). 0 or -1. */
int	transfer_body(struct transfer *, const char *, size_t);
/* The request is complete: parse, check, and send to the keeper (or
 * answer a read). */
void	transfer_done(struct relay_conn *, const char *url, size_t len);
/* The keeper's verdict, body being the receipt or the detail. */
void	transfer_reply(struct relay_conn *, const struct ipc_instr_reply *,
	    const char *body, size_t blen);
/* The endpoint's name, for the log and the audit entry of a refusal. */
const char	*transfer_name(const struct transfer *);
void	transfer_free(struct transfer *);

#endif
