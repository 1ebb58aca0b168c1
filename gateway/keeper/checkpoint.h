/* Signed checkpoints (C2SP tlog-checkpoint): issued by the keeper, kept in
 * the database and in a file outside it, checked at start-up. */
#ifndef GW_CHECKPOINT_H
#define GW_CHECKPOINT_H

#include <stdint.h>

#include "keeper/note.h"

struct cfg_keeper;
struct store;

struct checkpoint {
	char			 origin[NOTE_NAME_MAX + 1];
	char			 file[512];
	struct note_signer	 signer;
	struct note_verifier	 verifier;
	uint64_t		 size;		/* of the newest checkpoint */
	uint64_t		 issued_ms;
	uint64_t		 file_ms;	/* the last file write, with its syncs */
};

/* Loads the Ed25519 log key (refused if group- or world-readable). */
int	checkpoint_init(struct checkpoint *, const struct cfg_keeper *);
void	checkpoint_free(struct checkpoint *);
/* Refuses (-1, with a message naming what it found) a database that does
 * not extend the checkpoint in the file: rollback, truncation, a swapped or
 * edited file. A missing file is fine only for an empty log. */
int	checkpoint_verify_store(struct checkpoint *, struct store *);
/* Signs a checkpoint for the store's current size if it grew, records it
 * (its own transaction) and replaces the file atomically. 0 or -1. */
int	checkpoint_issue(struct checkpoint *, struct store *);

#endif
