/* Client TLS for the load generator: one SSL_CTX per client certificate,
 * shared by every thread. */
#ifndef LOADGEN_TLS_H
#define LOADGEN_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "loadgen_opts.h"

/* Loads the client certificate and key (cert, key: --cert and --key, or a
 * template's own) and the CA, and sets peer verification of the URL host (or
 * --sni). NULL after logging on failure. */
SSL_CTX	*loadgen_tls_ctx_new(const struct loadgen_opts *o, const char *cert,
	    const char *key);
/* A client SSL on a connected fd, with SNI when the target is a name. */
SSL	*loadgen_tls_new(SSL_CTX *ctx, const struct loadgen_opts *o, int fd);
/* Why the last operation on ssl failed: verify result or OpenSSL's error queue. */
void	 loadgen_tls_why(SSL *ssl, char *buf, size_t bufsz);

#endif
