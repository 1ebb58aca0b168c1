/* Answers to audit queries: checkpoints, proofs, entries, proof bundles. */
#ifndef GW_QUERY_H
#define GW_QUERY_H

#include <stddef.h>

struct ipc_audit_query;
struct ipc_audit_reply;
struct store;

/* Fills r (status, content type, code) and a new body (*body, the caller
 * frees it; may be NULL when *blen is 0). */
void	query_answer(struct store *, const struct ipc_audit_query *,
	    struct ipc_audit_reply *r, char **body, size_t *blen);

/* The answer when one is too big for an IPC message: 500
 * "answer-too-large" (never a cut body). */
void	query_too_large(struct ipc_audit_reply *r, char **body, size_t *blen);

#endif
