/* Witnesses' cosignatures of the log's checkpoints, kept beside them: one
 * row per witness and checkpoint, the size each witness last cosigned, and
 * the checkpoints that reached the quorum ("cosigned"). */
#ifndef GW_KEEPER_COSIGS_H
#define GW_KEEPER_COSIGS_H

#include <stddef.h>
#include <stdint.h>

struct cosigs;
struct sqlite3;
struct store;

/* Creates the tables and prepares the keeper's statements. *out is the
 * caller's (cosigs_free). */
int	cosigs_open(struct store *, struct cosigs **out);
void	cosigs_free(struct cosigs *);

/*
 * Inside a transaction: records witness's cosignature of the checkpoint of
 * size (line: its signature line, newline included) and that the witness
 * now holds size; *count is how many witnesses have cosigned that size.
 * 0 or -1.
 */
int	cosigs_add(struct cosigs *, uint64_t size, const char *witness,
	    uint64_t time, const char *line, unsigned *count);
/* Inside a transaction: the checkpoint of size reached the quorum. */
int	cosigs_mark(struct cosigs *, uint64_t size);
/* The size witness last cosigned (0 if none). 0 or -1. */
int	cosigs_witness_size(struct cosigs *, const char *witness,
	    uint64_t *size);

/* Inside a transaction: instructions are refused from now on (freeze, on
 * witness's evidence, why) or accepted again (thaw). */
int	cosigs_freeze(struct cosigs *, int freeze, const char *witness,
	    const char *why);
/* Whether the newest freeze is not lifted. 0 or -1. */
int	cosigs_frozen(struct cosigs *, int *frozen);

/* Read side, on any handle (a database from before witnesses has no rows):
 * the newest cosigned size (0 if none), and note (of the checkpoint of
 * size) with its cosignature lines appended, *out the caller's. 0 or -1. */
int	cosigs_latest(struct sqlite3 *, uint64_t *size);
int	cosigs_note(struct sqlite3 *, uint64_t size, const char *note,
	    size_t len, char **out, size_t *olen);

#endif
