/* Answers to audit queries: checkpoints, proofs, entries, proof bundles. */
#ifndef GW_QUERY_H
#define GW_QUERY_H

#include <stddef.h>

struct ipc_audit_query;
struct ipc_audit_reply;
struct store;

/* Whether the asker named in q may read an entry's bytes: 1 yes, 0 no,
 * -1 cannot tell. */
typedef int	query_party_fn(void *arg, const struct ipc_audit_query *q,
		    const char *entry, size_t len);

/* Fills r (status, content type, code) and a new body (*body, the caller
 * frees it; may be NULL when *blen is 0). An entry and its proof bundle go
 * only to whom party says yes; others get the 404 of a missing entry. */
void	query_answer(struct store *, const struct ipc_audit_query *,
	    query_party_fn *party, void *arg, struct ipc_audit_reply *r,
	    char **body, size_t *blen);

/* The answer when one is too big for an IPC message: 500
 * "answer-too-large" (never a cut body). */
void	query_too_large(struct ipc_audit_reply *r, char **body, size_t *blen);

#endif
