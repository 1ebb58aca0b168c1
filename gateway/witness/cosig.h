/* C2SP tlog-cosignature v1 (Ed25519, type 0x04): the witness's key, the signed
 * message, cosignature lines and their verification. */
#ifndef GW_WITNESS_COSIG_H
#define GW_WITNESS_COSIG_H

#include <stddef.h>
#include <stdint.h>

#include "keeper/note.h"

#define COSIG_ALG		0x04
/* Decoded cosignature: key id, big-endian timestamp, Ed25519 signature. */
#define COSIG_RAW_LEN		(4 + 8 + NOTE_SIG_LEN)
/* "cosignature/v1\ntime " 20 digits "\n" */
#define COSIG_HEADER_MAX	48

/* A cosigner: the Ed25519 signer (its id is the signed-note 0x01 id, unused)
 * and the cosignature key id. Release with cosig_key_free. */
struct cosig_key {
	struct note_signer	signer;		/* owns the private key */
	uint32_t		id;		/* 0x04 key id */
};

/* Loads the PEM Ed25519 private key at path (refused if group- or
 * world-accessible) as the cosigner name. 0 or -1 (logged). */
int	cosig_key_load(struct cosig_key *k, const char *path, const char *name);
/* The cosigner from an Ed25519 key (k takes its own reference). */
int	cosig_key_from_pkey(struct cosig_key *k, const char *name, EVP_PKEY *pkey);
void	cosig_key_free(struct cosig_key *k);
/* Verifier of k (v->id is the 0x04 id) and its vkey string. */
void	cosig_key_verifier(const struct cosig_key *k, struct note_verifier *v);
int	cosig_key_vkey(const struct cosig_key *k, char *out, size_t outsz);

/* Writes "cosignature/v1\ntime T\n" (what precedes the checkpoint body in the
 * signed message) into out (COSIG_HEADER_MAX is enough). */
int	cosig_header(uint64_t t, char *out, size_t outsz);
/* Signs checkpoint body text[0..len) at time t and writes the signature line,
 * newline included, into sigline (NOTE_SIGLINE_MAX is enough). */
int	cosig_sign(const struct cosig_key *k, uint64_t t, const char *text,
	    size_t len, char *sigline, size_t sz);
/*
 * Checks a signed note (checkpoint body, blank line, signature lines) for a
 * cosignature by v (id of type 0x04): signature lines of other keys are
 * ignored; one of v that fails refuses the note. 0 with the cosignature's
 * time in *t (if not NULL), -1 if none verifies.
 */
int	cosig_verify(const struct note_verifier *v, const char *msg, size_t len,
	    uint64_t *t);

#endif
