/* gatewayctl receipt: an agency's offline checks of what the keeper served
 * it, as library functions (unit tests call them without the command line). */
#ifndef GW_CTL_RECEIPT_H
#define GW_CTL_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "ctl/ctl_audit.h"
#include "keeper/note.h"

/* A saved receipt answer is a few kB (a checkpoint is at most NOTE_MAX_LEN,
 * a proof 64 hashes); anything near this is not one. */
#define RECEIPT_MAX_FILE	(4 * 1024 * 1024)
/* Witnesses one check may count: a note carries at most NOTE_MAX_SIGS
 * signature lines. */
#define RECEIPT_MAX_WITNESSES	NOTE_MAX_SIGS
/* The receipt's status, kind and id, as shown (ids are at most 35 bytes). */
#define RECEIPT_WORD_MAX	64

/* What a receipt or checkpoint is checked against. */
struct receipt_keys {
	struct note_verifier	 log;
	/* The configured origin; "" takes the receipt's "log" member. */
	char			 origin[NOTE_NAME_MAX + 1];
	/* Keys that may sign receipts (the caller's: sign_key_free). */
	struct sign_key		*signers[AUDIT_MAX_KEYS];
	size_t			 nsigners;
	/* Distinct witnesses (0x04 verifiers) and how many must cosign. */
	struct note_verifier	 witnesses[RECEIPT_MAX_WITNESSES];
	size_t			 nwitnesses;
	uint64_t		 quorum;
};

/* What receipt_verify found. */
struct receipt_info {
	char		 status[RECEIPT_WORD_MAX];
	char		 kind[RECEIPT_WORD_MAX];
	char		 id[RECEIPT_WORD_MAX];
	uint64_t	 index, size;
	char		 origin[NOTE_NAME_MAX + 1];
	size_t		 cosigs;	/* valid cosignatures of given witnesses */
	char		 why[AUDIT_WHY_MAX];	/* the problem, "" if none */
};

/* Adds witness v unless a witness with its public key is already there
 * (one key counts once towards the quorum). 0, or -1 when full. */
int	receipt_witness_add(struct receipt_keys *k, const struct note_verifier *v);
/*
 * Checks a checkpoint note (body, blank line, signature lines): signed by
 * k->log, of the configured origin if any, and cosigned by at least
 * k->quorum of k's witnesses. A given witness's cosignature that is present
 * but does not verify refuses the note (it was altered). 0 with *c and
 * *ncosigs, or -1 with why said.
 */
int	receipt_checkpoint_verify(const struct receipt_keys *k, const char *note,
	    size_t len, struct note_checkpoint *c, size_t *ncosigs, char *why,
	    size_t whysz);
/* Checks a saved GET /v1/receipts/{kind}/{id} answer (text, len bytes):
 * the receipt's signature, its proof of inclusion in a checkpoint that
 * receipt_checkpoint_verify accepts. 0, or -1 with r->why said. */
int	receipt_verify(const struct receipt_keys *k, const char *text,
	    size_t len, struct receipt_info *r);
/*
 * Whether checkpoint newn extends oldn (NULL: no earlier one, anything
 * verified extends nothing). Both must pass receipt_checkpoint_verify; a
 * larger new size needs proof (a GET /audit/proof/consistency answer,
 * plen bytes; NULL: none). 0 with the sizes, or -1 with why said.
 */
int	receipt_extends(const struct receipt_keys *k, const char *oldn,
	    size_t oldlen, const char *newn, size_t newlen, const char *proof,
	    size_t plen, uint64_t *oldsize, uint64_t *newsize, char *why,
	    size_t whysz);
/* Replaces path with note[0..len) atomically: a temporary file beside it,
 * synced, renamed over it, and the folder synced. 0 or -1 (said). */
int	receipt_state_write(const char *path, const char *note, size_t len);

#endif
