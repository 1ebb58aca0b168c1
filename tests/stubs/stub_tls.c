/* TLS for stubd: the server context (mandatory client certificates, TLS 1.2+)
 * and what the tests want to know about the peer (CN, SPKI pin). */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "log.h"
#include "util.h"

#include "stub.h"

/* TLS 1.2 only with ECDHE and AEAD, as the gateway itself requires (DESIGN §4). */
#define STUB_TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static void
stub_tls_log_errors(const char *func, const char *what, const char *file)
{
	unsigned long	e;
	char		buf[256];

	e = ERR_get_error();
	if (e == 0) {
		log_warnx("%s: %s %s", func, what, file);
		return;
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	log_warnx("%s: %s %s: %s", func, what, file, buf);
	ERR_clear_error();
}

SSL_CTX *
stub_tls_ctx_new(const struct stub_cfg *cfg)
{
	SSL_CTX			*ctx;
	STACK_OF(X509_NAME)	*names;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		stub_tls_log_errors(__func__, "SSL_CTX_new", "");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, STUB_TLS12_CIPHERS) != 1) {
		stub_tls_log_errors(__func__, "protocol setup", "");
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
		stub_tls_log_errors(__func__, "cannot load certificate", cfg->cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		stub_tls_log_errors(__func__, "cannot load key", cfg->key);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, cfg->ca, NULL) != 1) {
		stub_tls_log_errors(__func__, "cannot load CA", cfg->ca);
		goto fail;
	}
	/* Tell clients which CA we accept, so they pick the right certificate. */
	if ((names = SSL_load_client_CA_file(cfg->ca)) == NULL) {
		stub_tls_log_errors(__func__, "no CA names in", cfg->ca);
		goto fail;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	    NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	/* Resumed sessions must carry the verified peer; without a context id
	 * OpenSSL refuses resumption with client verification on. */
	if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)cfg->name,
	    (unsigned int)strlen(cfg->name)) != 1) {
		stub_tls_log_errors(__func__, "session id context", "");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * The verified peer's subject CN (empty if none) and the lower-case hex
 * SHA-256 of its SubjectPublicKeyInfo (DER, as i2d_PUBKEY writes it), the
 * same pin the gateway configures. Returns 0, or -1 with no peer certificate.
 */
int
stub_tls_peer(SSL *ssl, char *cn, size_t cnsz, char *spki_hex, size_t spkisz)
{
	X509		*cert;
	EVP_PKEY	*pkey;
	unsigned char	*der = NULL, md[SHA256_DIGEST_LENGTH];
	int		 len;

	cn[0] = '\0';
	spki_hex[0] = '\0';
	if (spkisz < 2 * sizeof(md) + 1) {
		log_warnx("%s: buffer too small", __func__);
		return -1;
	}
	if ((cert = SSL_get0_peer_certificate(ssl)) == NULL) {
		log_warnx("%s: no peer certificate", __func__);
		return -1;
	}
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, (int)cnsz) < 0)
		cn[0] = '\0';
	if ((pkey = X509_get0_pubkey(cert)) == NULL ||
	    (len = i2d_PUBKEY(pkey, &der)) <= 0) {
		log_warnx("%s: cannot encode peer key", __func__);
		return -1;
	}
	SHA256(der, (size_t)len, md);
	OPENSSL_free(der);
	hex_encode(spki_hex, md, sizeof(md));
	return 0;
}
