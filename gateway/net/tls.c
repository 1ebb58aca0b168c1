/* TLS contexts: TLS 1.3 preferred, TLS 1.2 only with ECDHE and AEAD, mutual
 * authentication everywhere, CRLs (where configured: listeners and upstreams
 * warn without one) checked for the whole chain. */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "log.h"
#include "net/tls.h"
#include "util.h"

/* DER intermediates a session ticket may carry, and how many. */
#define TLS_CHAIN_MAX		(16 * 1024)
#define TLS_CHAIN_CERTS		8

#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Copies the most recent OpenSSL error after a prefix into err. */
static void
tls_err(char *err, size_t esz, const char *what, const char *file)
{
	unsigned long	e = ERR_peek_last_error();
	char		buf[256] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	str_printf(err, esz, "%s %s: %s", what, file, e ? buf : "failed");
	ERR_clear_error();
}

static int
tls_common(SSL_CTX *ctx, int min_proto)
{
	SSL_CTX_set_min_proto_version(ctx, min_proto == TLS_PROTO_1_3 ?
	    TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);

	return SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) == 1 ? 0 : -1;
}

static int
tls_load_crl(SSL_CTX *ctx, const char *file, char *err, size_t esz)
{
	X509_STORE	*st = SSL_CTX_get_cert_store(ctx);
	X509_LOOKUP	*lu;

	if ((lu = X509_STORE_add_lookup(st, X509_LOOKUP_file())) == NULL ||
	    X509_load_crl_file(lu, file, X509_FILETYPE_PEM) <= 0) {
		tls_err(err, esz, "cannot load CRL", file);
		return -1;
	}
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK |
	    X509_V_FLAG_CRL_CHECK_ALL);
	return 0;
}

/* DESIGN §4: a key others can read may have leaked; refuse to use it. */
static int
tls_key_private(const char *key, char *err, size_t esz)
{
	struct stat	st;

	if (stat(key, &st) == -1) {
		str_printf(err, esz, "cannot read key %s: %s", key,
		    strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		str_printf(err, esz, "key %s is group- or world-accessible "
		    "(mode %04o); chmod 600 it", key, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

static int
tls_load_pair(SSL_CTX *ctx, const char *cert, const char *key, char *err,
    size_t esz)
{
	if (tls_key_private(key, err, esz) == -1)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_err(err, esz, "cannot load certificate", cert);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_err(err, esz, "cannot load key", key);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(err, esz, "key does not match certificate", cert);
		return -1;
	}
	return 0;
}

/* A ticket is all a resumed session has of the handshake, and OpenSSL
 * serializes only the peer's leaf: the intermediates the client sent ride in
 * the ticket's application data (encrypted and authenticated with it), so
 * that tls_reverify_peer can still build the chain on resumption. A resumed
 * session's new ticket keeps the data it was resumed with. */
static int
tls_ticket_gen(SSL *ssl, void *arg)
{
	STACK_OF(X509)	*chain = SSL_get_peer_cert_chain(ssl);
	unsigned char	 buf[TLS_CHAIN_MAX], *p;
	int		 i, n, len = 0;

	(void)arg;
	if (chain == NULL || sk_X509_num(chain) == 0)
		return 1;
	for (i = 0; i < sk_X509_num(chain) && i < TLS_CHAIN_CERTS; i++) {
		n = i2d_X509(sk_X509_value(chain, i), NULL);
		if (n <= 0 || n > TLS_CHAIN_MAX - len) {
			/* Resumption then fails closed (403), never open. */
			log_warnx("%s: client chain too long for a ticket",
			    __func__);
			return 1;
		}
		p = buf + len;
		i2d_X509(sk_X509_value(chain, i), &p);
		len += n;
	}
	return SSL_SESSION_set1_ticket_appdata(SSL_get_session(ssl), buf,
	    (size_t)len);
}

/* The intermediates tls_ticket_gen kept in a resumed session, or NULL. The
 * caller frees the stack (sk_X509_pop_free). */
static STACK_OF(X509) *
tls_ticket_chain(SSL *ssl)
{
	STACK_OF(X509)		*chain;
	X509			*x;
	const unsigned char	*p, *end;
	void			*data = NULL;
	size_t			 len = 0;

	if (SSL_SESSION_get0_ticket_appdata(SSL_get_session(ssl), &data,
	    &len) != 1 || data == NULL || len == 0 || len > TLS_CHAIN_MAX)
		return NULL;
	if ((chain = sk_X509_new_null()) == NULL)
		return NULL;
	p = data;
	end = p + len;
	while (p < end && sk_X509_num(chain) < TLS_CHAIN_CERTS) {
		if ((x = d2i_X509(NULL, &p, end - p)) == NULL ||
		    sk_X509_push(chain, x) == 0) {
			X509_free(x);
			sk_X509_pop_free(chain, X509_free);
			ERR_clear_error();
			return NULL;
		}
	}
	return chain;
}

SSL_CTX *
tls_server_ctx(const struct cfg_listener *l, const char *sid_ctx, char *err,
    size_t esz)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_err(err, esz, "SSL_CTX_new", "");
		return NULL;
	}
	if (tls_common(ctx, l->min_proto) == -1) {
		tls_err(err, esz, "cipher list", "");
		goto fail;
	}
	if (tls_load_pair(ctx, l->cert, l->key, err, esz) == -1)
		goto fail;
	if (SSL_CTX_load_verify_locations(ctx, l->ca, NULL) != 1) {
		tls_err(err, esz, "cannot load CA", l->ca);
		goto fail;
	}
	if (l->crl[0] != '\0' && tls_load_crl(ctx, l->crl, err, esz) == -1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	/* Each listener its own session context, so a session made on one can
	 * never be resumed on the other. */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)sid_ctx,
	    (unsigned)strlen(sid_ctx));
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (!l->tickets) {
		/* No resumption at all: every connection a full handshake,
		 * and no ticket to encrypt and send after each one. */
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	} else if (SSL_CTX_set_session_ticket_cb(ctx, tls_ticket_gen, NULL,
	    NULL) != 1) {
		tls_err(err, esz, "session ticket callback", "");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx(const struct cfg_upstream *u, char *err, size_t esz)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_err(err, esz, "SSL_CTX_new", "");
		return NULL;
	}
	if (tls_common(ctx, TLS_PROTO_1_2) == -1) {
		tls_err(err, esz, "cipher list", "");
		goto fail;
	}
	if (tls_load_pair(ctx, u->cert, u->key, err, esz) == -1)
		goto fail;
	if (SSL_CTX_load_verify_locations(ctx, u->ca, NULL) != 1) {
		tls_err(err, esz, "cannot load CA", u->ca);
		goto fail;
	}
	if (u->crl[0] != '\0' && tls_load_crl(ctx, u->crl, err, esz) == -1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_spki_sha256(X509 *x, unsigned char out[32])
{
	unsigned char	*der = NULL;
	int		 len;
	unsigned int	 olen = 0;

	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der)) <= 0)
		return -1;
	if (EVP_Digest(der, (size_t)len, out, &olen, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		return -1;
	}
	OPENSSL_free(der);
	return 0;
}

static X509 *
tls_read_cert(const char *file)
{
	FILE	*fp;
	X509	*x;

	if ((fp = fopen(file, "r")) == NULL)
		return NULL;
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	return x;
}

int
tls_spki_sha256_file(const char *file, unsigned char out[32])
{
	X509	*x;
	int	 rc;

	if ((x = tls_read_cert(file)) == NULL) {
		ERR_clear_error();
		return -1;
	}
	rc = tls_spki_sha256(x, out);
	X509_free(x);
	return rc;
}

int
tls_reverify_peer(SSL *ssl)
{
	X509_STORE_CTX	*vctx;
	X509		*peer;
	STACK_OF(X509)	*chain, *kept = NULL;
	int		 ok = 0;

	if ((peer = SSL_get0_peer_certificate(ssl)) == NULL)
		return -1;
	/* Resumed from a ticket, the session has no chain but what
	 * tls_ticket_gen kept. */
	chain = SSL_get_peer_cert_chain(ssl);
	if (chain == NULL || sk_X509_num(chain) == 0)
		chain = kept = tls_ticket_chain(ssl);
	if ((vctx = X509_STORE_CTX_new()) == NULL) {
		sk_X509_pop_free(kept, X509_free);
		return -1;
	}
	if (X509_STORE_CTX_init(vctx,
	    SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), peer, chain) == 1) {
		X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT);
		ok = X509_verify_cert(vctx) == 1;
		if (!ok)
			log_info("%s: resumed session refused: %s", __func__,
			    X509_verify_cert_error_string(
			    X509_STORE_CTX_get_error(vctx)));
	}
	X509_STORE_CTX_free(vctx);
	sk_X509_pop_free(kept, X509_free);
	ERR_clear_error();
	return ok ? 0 : -1;
}
