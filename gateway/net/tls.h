/* TLS contexts for the agency-facing listeners (mutual TLS, pinned agencies)
 * and for upstream connections; shared by relay workers and the courier. */
#ifndef GW_TLS_H
#define GW_TLS_H

#include <stddef.h>

#define TLS_PROTO_1_2	1
#define TLS_PROTO_1_3	2

struct cfg_listener;
struct cfg_upstream;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct x509_st X509;

/* Server context requiring a client certificate that chains to l->ca, is in
 * its validity and not on l->crl. sid_ctx separates session caches of
 * listeners. Returns NULL and writes the reason to err (size esz). The caller
 * owns the context (SSL_CTX_free). */
SSL_CTX	*tls_server_ctx(const struct cfg_listener *l, const char *sid_ctx,
	    char *err, size_t esz);
/* Client context presenting u->cert and verifying the peer against u->ca
 * and, if set, u->crl. Same ownership and errors as tls_server_ctx. */
SSL_CTX	*tls_client_ctx(const struct cfg_upstream *u, char *err, size_t esz);

/* SHA-256 of the DER SubjectPublicKeyInfo: the agency pin. 0 or -1. */
int	 tls_spki_sha256(X509 *, unsigned char out[32]);
int	 tls_spki_sha256_file(const char *file, unsigned char out[32]);
/* Re-runs chain, validity and CRL checks on a resumed session's peer
 * certificate against the context's current store: a session must never
 * outlive a revocation. The intermediates come from the session ticket
 * (tls_server_ctx keeps them there). 0 if still valid, -1 otherwise. */
int	 tls_reverify_peer(SSL *);

#endif
