/* Signing keys of the keeper (and the public keys of counterparties): Ed25519,
 * ECDSA P-256 with SHA-256, SM2 with SM3; PEM files, key ids, sign and verify. */
#ifndef GW_KEEPER_SIGN_H
#define GW_KEEPER_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

enum sign_alg {
	SIGN_ALG_ED25519 = 1,	/* the default */
	SIGN_ALG_ECDSA_P256,	/* ECDSA over P-256 with SHA-256, DER signature */
	SIGN_ALG_SM2,		/* SM2 with SM3 and a distinguishing id, DER */
};

/* Largest signature: Ed25519 is 64 bytes, DER ECDSA/SM2 on 256-bit curves at
 * most 72. */
#define SIGN_MAX_SIG		80
/* Key id: hex of the first 8 bytes of SHA-256 of the DER SubjectPublicKeyInfo,
 * so a key has the same id whichever file or certificate it comes from. */
#define SIGN_KEY_ID_BYTES	8
#define SIGN_KEY_ID_LEN		(2 * SIGN_KEY_ID_BYTES)
/* The GM/T 0009 default distinguishing id. OpenSSL 3 would use an empty id if
 * not told, and counterparties using the standard default would refuse. */
#define SIGN_SM2_DEFAULT_ID	"1234567812345678"
/* GM/T allows ids up to 8191 bytes; real ones are short. */
#define SIGN_SM2_ID_MAX		128
/* A PEM key file we read, and a public key PEM we write. */
#define SIGN_MAX_PEM		16384

struct sign_key {
	enum sign_alg	alg;
	int		has_private;
	EVP_PKEY	*pkey;				/* owned */
	char		key_id[SIGN_KEY_ID_LEN + 1];
	uint8_t		sm2_id[SIGN_SM2_ID_MAX];	/* SM2 only */
	size_t		sm2_id_len;
};

/* "ed25519", "ecdsa-p256" or "sm2"; "?" for anything else. */
const char	*sign_alg_name(enum sign_alg alg);
/* The reverse of sign_alg_name; -1 for an unknown name. */
int		 sign_alg_parse(const char *name, enum sign_alg *alg);

/* Generates a key of alg. *out is the caller's: free with sign_key_free. */
int	sign_key_generate(enum sign_alg alg, struct sign_key **out);
/* Loads a private key from a PEM file that must be a regular file, not a
 * symlink, with no group or other permission bits (refused otherwise, as the
 * key may have leaked). Encrypted PEM is refused (no passphrase prompts in a
 * daemon). *out is the caller's: free with sign_key_free. */
int	sign_key_load_private(const char *path, struct sign_key **out);
/* Loads a public key (SubjectPublicKeyInfo PEM) from a file or from memory.
 * *out is the caller's: free with sign_key_free. */
int	sign_key_load_public(const char *path, struct sign_key **out);
int	sign_key_public_from_pem(const char *pem, size_t len, struct sign_key **out);
/* Writes k's private key as unencrypted PKCS#8 PEM to a new file of mode 0600
 * (never over an existing file or through a symlink), synced to disk. */
int	sign_key_write_private(const struct sign_key *k, const char *path);
/* k's public key as PEM, NUL-terminated, into out (size outsz). */
int	sign_key_public_pem(const struct sign_key *k, char *out, size_t outsz);
/* Sets the SM2 distinguishing id (len 0 means the empty id); keys start with
 * SIGN_SM2_DEFAULT_ID. Refused for other algorithms. */
int	sign_key_set_sm2_id(struct sign_key *k, const void *id, size_t len);

/* Signs msg (len bytes) into sig (size sigsz, SIGN_MAX_SIG is enough); *siglen
 * gets the signature's length. */
int	sign_sign(const struct sign_key *k, const void *msg, size_t len,
	    uint8_t *sig, size_t sigsz, size_t *siglen);
/* 0 if sig is a valid signature of msg by k, -1 otherwise. */
int	sign_verify(const struct sign_key *k, const void *msg, size_t len,
	    const uint8_t *sig, size_t siglen);

/* Frees k and its key, zeroing what held secrets; NULL is fine. */
void	sign_key_free(struct sign_key *k);

#endif
