/* RFC 9530 Content-Digest and RFC 9421 HTTP message signatures, in the one
 * profile the gateway uses to sign disbursement files it delivers to banks. */
#ifndef GW_HTTPSIG_H
#define GW_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>

#include "keeper/sign.h"

/*
 * The profile, exactly (anything else is refused by httpsig_verify):
 *
 *   Content-Digest: sha-256=:<base64 SHA-256 of the body>:
 *   Signature-Input: sig1=("@method" "@path" "content-type" "content-digest")
 *       ;created=<unix seconds>;keyid="<sign_key.key_id>";alg="<alg>"
 *   Signature: sig1=:<base64 signature>:
 *
 * (Signature-Input is one line; the parameters may come in any order but
 * each once, and no others.) alg is "ed25519" for Ed25519 (the signature is
 * the raw 64 bytes) and "ecdsa-p256-sha256" for ECDSA P-256 (the signature is
 * the raw r||s, 32 + 32 bytes big-endian, RFC 9421 §3.3.4). SM2 with SM3 has
 * no registered RFC 9421 algorithm: for an SM2 key the alg parameter is
 * omitted (the verifier knows the algorithm from the key it finds by keyid;
 * an SM2 verifier refuses any alg) and the signature is the DER
 * SEQUENCE { r, s } as OpenSSL produces it, made over SM3 with the key's
 * distinguishing id (GM/T 0009 default "1234567812345678" unless set).
 *
 * The signature base (RFC 9421 §2.5) is one line per component,
 * "<name>": <value>, then "@signature-params": <the inner list after
 * "sig1=">, joined by a single LF with no trailing LF. @path is the request
 * target's path without its query (RFC 9421 §2.2.6); field values are taken
 * with leading and trailing blanks removed (§2.1) and must otherwise be
 * printable ASCII (or tabs) so a value can never forge another line.
 */

/* "sha-256=:" + 44 base64 characters + ":" is 54; the rest is slack. */
#define HTTPSIG_DIGEST_MAX	64	/* enough for the Content-Digest value + NUL */
#define HTTPSIG_INPUT_MAX	512
#define HTTPSIG_SIG_MAX		160
/* The longest signature base built or checked: the request target is the
 * only part of unbounded size. */
#define HTTPSIG_BASE_MAX	8192

/* The Content-Digest value of body (len bytes; body may be NULL if len is
 * 0) into out (size outsz, HTTPSIG_DIGEST_MAX is enough). 0 or -1. */
int	httpsig_content_digest(const void *body, size_t len, char *out,
	    size_t outsz);

/* What is signed: the request's method and path (a query, if any, is not
 * covered), its Content-Type value and the Content-Digest value of its body
 * (from httpsig_content_digest), and the signing time in Unix seconds. */
struct httpsig_msg {
	const char	*method, *path, *ctype, *content_digest;
	int64_t		 created;
};

/* Signs: fills the Signature-Input and Signature header VALUES (no names)
 * into input (size inputsz, HTTPSIG_INPUT_MAX is enough) and sig (size
 * sigsz, HTTPSIG_SIG_MAX is enough). k must hold a private key. 0 or -1. */
int	httpsig_sign(const struct sign_key *k, const struct httpsig_msg *m,
	    char *input, size_t inputsz, char *sig, size_t sigsz);

/* Verifies a received message: recomputes the digest of body and compares it
 * with content_digest_hdr, parses sig_input_hdr (label sig1, exactly the four
 * components above in order, created and keyid present, keyid must equal
 * pub->key_id, alg if present must match pub's algorithm), rebuilds the base
 * from method/path/ctype and the received header values and checks the
 * signature. On failure *why (static string) names the reason:
 * "missing-content-type", "missing-content-digest",
 * "missing-signature-input", "missing-signature", "bad-component" (a value
 * with control characters, or a path not starting with "/"),
 * "bad-content-digest" (not the profile's syntax), "digest-mismatch",
 * "bad-signature-input", "wrong-key", "alg-mismatch", "bad-signature-header"
 * (syntax, base64), "too-long" (past HTTPSIG_BASE_MAX), "bad-signature"
 * (the cryptographic check failed, or a signature of the wrong size),
 * "internal" (no key, body NULL with len > 0, or a failing SHA-256).
 * Every refusal is logged. 0 when valid (*why NULL), -1 otherwise; why may
 * be NULL. */
int	httpsig_verify(const struct sign_key *pub, const char *method,
	    const char *path, const char *ctype, const char *content_digest_hdr,
	    const char *sig_input_hdr, const char *sig_hdr, const void *body,
	    size_t len, const char **why);

#endif
