/* The keeper's SQLite store: append-only audit entries, the hashes of every
 * complete Merkle subtree, and signed checkpoints. */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "keeper/merkle.h"

struct store;

/* Opens (and for writers creates) the database at path: WAL,
 * synchronous=FULL, triggers refusing UPDATE/DELETE and out-of-order
 * inserts, an authorizer denying DROP/ALTER, SQLITE_DBCONFIG_DEFENSIVE.
 * readonly opens it for verification only. The caller owns *out. */
int	store_open(const char *path, int readonly, struct store **out);
void	store_close(struct store *);

/* The database handle, for the ledger's own tables (same transactions). */
struct sqlite3;
struct sqlite3	*store_db(struct store *);

/* Keeps the WAL file near limit bytes once it starts over; manual hands
 * WAL checkpoints to someone else (the keeper's checkpointer thread), so
 * commits no longer copy pages back themselves. 0 or -1. */
int	store_wal_limit(struct store *, uint64_t limit, int manual);

/* Number of entries. */
uint64_t	store_size(const struct store *);

int	store_begin(struct store *);
int	store_commit(struct store *);
void	store_rollback(struct store *);
/* Inside a transaction: a savepoint before one item, released when the
 * item went through, or rolled back (with the tree's state) when it failed,
 * so one bad item cannot take its batch down with it. 0 or -1. */
int	store_savepoint(struct store *);
int	store_release(struct store *);
int	store_rollback_savepoint(struct store *);
/* Appends one entry inside a transaction; *index is its position. The
 * in-memory frontier moves only on commit (store_commit), so a rolled-back
 * batch leaves nothing behind. */
int	store_append(struct store *, const void *data, size_t len,
	    uint64_t *index);

/* merkle_subtree_fn over the stored hashes (arg is the store). */
/* The leaf hash of entry index (store_subtree at level 0), without a
 * lookup when it is the entry this transaction appended last. 0 or -1. */
int	store_leaf(struct store *s, uint64_t index,
	    uint8_t out[MERKLE_HASH_LEN]);
int	store_subtree(void *arg, uint64_t start, unsigned level,
	    uint8_t out[MERKLE_HASH_LEN]);
/* Root of the first size entries (size <= store_size). */
int	store_root(struct store *, uint64_t size, uint8_t out[MERKLE_HASH_LEN]);

/* The canonical bytes of entry index: *data is the caller's (free). */
int	store_entry(struct store *, uint64_t index, char **data, size_t *len);

/* Records a signed checkpoint note for size (inside a transaction). */
int	store_checkpoint_add(struct store *, uint64_t size, const char *note,
	    size_t len);
/* The checkpoint of size, or the newest: *note is the caller's (free).
 * 0, 1 if there is none, -1 on error. */
int	store_checkpoint_at(struct store *, uint64_t size, char **note,
	    size_t *len);
int	store_checkpoint_latest(struct store *, char **note, size_t *len,
	    uint64_t *size);

/* Iterates entries in order for verification: fn gets index, the stored
 * leaf hash and the data. Stops at the first non-zero return of fn. */
int	store_each_entry(struct store *, int (*fn)(void *, uint64_t,
	    const uint8_t *, const void *, size_t), void *arg);
/* Iterates checkpoints by size. */
int	store_each_checkpoint(struct store *, int (*fn)(void *, uint64_t,
	    const char *, size_t), void *arg);
/* Streams stored interior nodes level by level, each level in position
 * order, for verification alongside a rebuild. */
struct store_nodes;
int	store_nodes_open(struct store *, struct store_nodes **);
/* The next node of level (>= 1): 1 (pos and hash set), 0 at the end, -1. */
int	store_nodes_next(struct store_nodes *, unsigned level, uint64_t *pos,
	    uint8_t hash[MERKLE_HASH_LEN]);
void	store_nodes_close(struct store_nodes *);

#endif
