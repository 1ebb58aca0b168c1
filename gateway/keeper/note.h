/* C2SP signed-note v1 (Ed25519, type 0x01) and tlog-checkpoint bodies: key strings,
 * signing, verification, checkpoint formatting and parsing. */
#ifndef GW_KEEPER_NOTE_H
#define GW_KEEPER_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define NOTE_ALG_ED25519	0x01
#define NOTE_PUB_LEN		32
#define NOTE_SIG_LEN		64	/* an Ed25519 signature */
#define NOTE_HASH_LEN		32	/* a checkpoint's root hash */
/* Bytes of a key name or a checkpoint origin (ours are short host/path names). */
#define NOTE_NAME_MAX		255
/* A whole signed note; checkpoints are about 150 bytes plus 100 per signature,
 * and post-quantum cosignatures (unknown to us, but carried) are under 5 kB. */
#define NOTE_MAX_LEN		16384
/* Signature lines per note: the spec requires accepting at least 16. */
#define NOTE_MAX_SIGS		32
/* "— " name " " base64(4 + 64 bytes) "\n" and a NUL. */
#define NOTE_SIGLINE_MAX	(4 + NOTE_NAME_MAX + 1 + 92 + 1 + 1)
/* name "+" 8 hex "+" base64(1 + 32 bytes) and a NUL. */
#define NOTE_VKEY_MAX		(NOTE_NAME_MAX + 1 + 8 + 1 + 44 + 1)
/* "PRIVATE+KEY+" and the same shape as a vkey. */
#define NOTE_SKEY_MAX		(12 + NOTE_VKEY_MAX)
/* Checkpoint extension lines we format (we use none; parsing accepts up to
 * the note's size). */
#define NOTE_MAX_EXTENSIONS	8

/* A key that may verify signatures: plain data, no _free. */
struct note_verifier {
	char		name[NOTE_NAME_MAX + 1];
	uint32_t	id;
	uint8_t		pub[NOTE_PUB_LEN];
};

/* A signing key. Holds the private key: release with note_signer_free. */
struct note_signer {
	char		name[NOTE_NAME_MAX + 1];
	uint32_t	id;
	uint8_t		pub[NOTE_PUB_LEN];
	EVP_PKEY	*key;		/* owned */
};

/* A parsed checkpoint body. */
struct note_checkpoint {
	char		origin[NOTE_NAME_MAX + 1];
	uint64_t	size;
	uint8_t		root[NOTE_HASH_LEN];
	size_t		nextensions;	/* extension lines present (not kept) */
};

/* 1 if name is a valid key name: non-empty, at most NOTE_NAME_MAX bytes of
 * UTF-8, no Unicode space, no '+', no control character. */
int	note_name_valid(const char *name);
/* Key id = first 4 bytes, big-endian, of SHA-256(name || 0x0A || 0x01 || pub). */
int	note_key_id(const char *name, const uint8_t pub[NOTE_PUB_LEN], uint32_t *id);
/* The same with another signature type byte (0x04: tlog-cosignature v1). */
int	note_key_id_alg(const char *name, uint8_t alg,
	    const uint8_t pub[NOTE_PUB_LEN], uint32_t *id);

/* Verifier from a name and a raw Ed25519 public key (computes the id). */
int	note_verifier_init(struct note_verifier *v, const char *name,
	    const uint8_t pub[NOTE_PUB_LEN]);
/* Parses a vkey "name+hexid+base64(0x01 || pub)"; refuses a key id that does
 * not match the name and key, and any algorithm but Ed25519. */
int	note_verifier_parse(struct note_verifier *v, const char *vkey);
/* Formats v as a vkey string into out (size outsz, NOTE_VKEY_MAX is enough). */
int	note_verifier_format(const struct note_verifier *v, char *out, size_t outsz);
/* Both for another type byte alg over an Ed25519 key (0x04, cosignatures):
 * v->id is then the key id of that type. */
int	note_verifier_parse_alg(struct note_verifier *v, const char *vkey,
	    uint8_t alg);
int	note_verifier_format_alg(const struct note_verifier *v, uint8_t alg,
	    char *out, size_t outsz);

/* Signer from "PRIVATE+KEY+name+hexid+base64(0x01 || seed)"; the id must match.
 * On success s owns a key: call note_signer_free. The caller should zero skey. */
int	note_signer_parse(struct note_signer *s, const char *skey);
/* Signer from an Ed25519 EVP_PKEY holding a private key; s takes its own
 * reference (the caller still frees pkey). */
int	note_signer_from_pkey(struct note_signer *s, const char *name, EVP_PKEY *pkey);
/* The public half of s. */
void	note_signer_verifier(const struct note_signer *s, struct note_verifier *v);
/* Releases the key and zeroes s; safe on a zeroed or freed s. */
void	note_signer_free(struct note_signer *s);

/* Signs text (len bytes: valid UTF-8, no control character but newline, ending
 * in a newline) and writes the signature line, newline included, NUL-terminated,
 * into sigline (size sz, NOTE_SIGLINE_MAX is enough). */
int	note_sign(const struct note_signer *s, const char *text, size_t len,
	    char *sigline, size_t sz);
/* Writes the signed note (text, blank line, signature line) into out (size
 * outsz), NUL-terminated; *outlen gets its length without the NUL. */
int	note_sign_note(const struct note_signer *s, const char *text, size_t len,
	    char *out, size_t outsz, size_t *outlen);
/*
 * Verifies a signed note of len bytes against keys[0..nkeys). Signature lines
 * from keys not in the list (by name and id) are ignored; a known key's
 * signature that fails refuses the note, and at least one must verify. On
 * success *textlen gets the length of the signed text (msg[0..*textlen)).
 * Malformed notes (bad UTF-8, control characters, no blank line, bad
 * signature lines, more than NOTE_MAX_SIGS, over NOTE_MAX_LEN) are refused.
 */
int	note_verify(const char *msg, size_t len, const struct note_verifier *keys,
	    size_t nkeys, size_t *textlen);

/* Ed25519 signature of msg[0..len) by key into sig. 0 or -1 (logged). */
int	note_ed25519_sign(EVP_PKEY *key, const void *msg, size_t len,
	    uint8_t sig[NOTE_SIG_LEN]);
/* 1 if sig (siglen bytes) is pub's Ed25519 signature of text[0..len). */
int	note_ed25519_verify(const uint8_t pub[NOTE_PUB_LEN], const char *text,
	    size_t len, const uint8_t *sig, size_t siglen);
/* Standard base64 with padding into dst (size dstsz), NUL-terminated. */
int	note_b64_encode(char *dst, size_t dstsz, const uint8_t *src, size_t len);
/* Strict standard base64 of src[0..len) into out (at most max bytes): padding
 * required, no whitespace, and the unused bits of the last group must be zero,
 * so every byte string has exactly one accepted encoding and a signed note
 * cannot be re-encoded into a different but "equal" one. Failures are the
 * caller's to log (it knows what was being decoded). */
int	note_b64_decode(const char *src, size_t len, uint8_t *out, size_t max,
	    size_t *outlen);

/* Formats a checkpoint body: origin, decimal size, base64 root, then the
 * extension lines ext[0..next) (each non-empty, no newline), every line ending
 * in a newline. Output NUL-terminated in out (size outsz), *outlen its length. */
int	note_checkpoint_format(const char *origin, uint64_t size,
	    const uint8_t root[NOTE_HASH_LEN], const char *const *ext, size_t next,
	    char *out, size_t outsz, size_t *outlen);
/* Parses a checkpoint body (the note text, len bytes): non-empty origin,
 * canonical decimal size, base64 of exactly 32 bytes, non-empty extension
 * lines. */
int	note_checkpoint_parse(const char *text, size_t len, struct note_checkpoint *cp);
/* note_verify, then note_checkpoint_parse of the signed text. */
int	note_checkpoint_open(const char *msg, size_t len,
	    const struct note_verifier *keys, size_t nkeys, struct note_checkpoint *cp);

#endif
