/* The trust entries (issue 12): at start-up and after each reload, one audit
 * entry with the digest of every file that decides who may do what, and what
 * changed since the previous such entry (kept in the trust_files table). */
#ifndef GW_TRUSTLOG_H
#define GW_TRUSTLOG_H

#include <stdint.h>

struct config;
struct store;
struct trust_manifest;
struct trustlog;

/* Before the sandbox: reads the keys the keeper signs with (log key,
 * instruction signing key, banks' keys) for the digests of their public
 * halves, and creates the tables. *out is the caller's (trustlog_free).
 * 0 or -1 (logged). */
int	trustlog_open(const struct config *, struct store *,
	    struct trustlog **out);
void	trustlog_free(struct trustlog *);

/* Inside a transaction: adds the keeper's keys to the parent's manifest m,
 * appends its entry ("changed" against the last trust entry logged, across
 * restarts) and keeps m as the new last one. *index is the entry's. 0, or
 * -1 (logged) if the store failed. */
int	trustlog_append(struct trustlog *, struct trust_manifest *m,
	    uint64_t *index);

#endif
