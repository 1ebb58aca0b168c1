/* Client TLS context for the load generator. Resumption is off on purpose so
 * that every new connection costs a full mutual-TLS handshake on the server. */
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "util.h"
#include "loadgen_tls.h"

static void
loadgen_tls_log(const char *func, const char *what, const char *file)
{
	char	err[256];

	ERR_error_string_n(ERR_peek_last_error(), err, sizeof(err));
	log_warnx("%s: %s %s: %s", func, what, file, err);
	ERR_clear_error();
}

SSL_CTX *
loadgen_tls_ctx_new(const struct loadgen_opts *o, const char *cert,
    const char *key)
{
	static const unsigned char	 alpn[] = "\x08http/1.1";
	X509_VERIFY_PARAM		*param;
	const char			*name;
	SSL_CTX				*ctx;
	int				 rc;

	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		loadgen_tls_log(__func__, "SSL_CTX_new", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* No tickets and no client cache: nothing can resume, so --new-conn
	 * measures full handshakes whatever the server allows. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	/* OpenSSL 3 reports a close without close_notify as an error; a body
	 * delimited by the close needs it as a plain EOF, which llhttp_finish
	 * then judges (complete message or truncated). */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* One read(2) per burst instead of two per record (header, then body). */
	SSL_CTX_set_read_ahead(ctx, 1);
	if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1) {
		loadgen_tls_log(__func__, "cannot load CA", o->ca);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		loadgen_tls_log(__func__, "cannot load certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		loadgen_tls_log(__func__, "cannot load key", key);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Set on the context once, so each connection inherits it for free. */
	param = SSL_CTX_get0_param(ctx);
	name = o->sni != NULL ? o->sni : o->host;
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (o->sni == NULL && o->host_is_ip)
		rc = X509_VERIFY_PARAM_set1_ip_asc(param, name);
	else
		rc = X509_VERIFY_PARAM_set1_host(param, name, 0);
	if (rc != 1) {
		loadgen_tls_log(__func__, "cannot set the name to verify", name);
		goto fail;
	}
	if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
		loadgen_tls_log(__func__, "cannot set ALPN", "");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL *
loadgen_tls_new(SSL_CTX *ctx, const struct loadgen_opts *o, int fd)
{
	SSL	*ssl;
	char	 name[256];

	ssl = SSL_new(ctx);
	if (ssl == NULL) {
		loadgen_tls_log(__func__, "SSL_new", "");
		return NULL;
	}
	if (SSL_set_fd(ssl, fd) != 1) {
		loadgen_tls_log(__func__, "SSL_set_fd", "");
		SSL_free(ssl);
		return NULL;
	}
	/* RFC 6066 3: SNI carries names only, never literal addresses. */
	/* A mutable copy: the macro casts its argument to (void *). OpenSSL
	 * copies the name. */
	if ((o->sni != NULL || !o->host_is_ip) &&
	    (str_copy(name, sizeof(name), o->sni != NULL ? o->sni : o->host) == -1 ||
	    SSL_set_tlsext_host_name(ssl, name) != 1)) {
		loadgen_tls_log(__func__, "SNI", "");
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

void
loadgen_tls_why(SSL *ssl, char *buf, size_t bufsz)
{
	long		 vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long	 e = ERR_peek_last_error();

	if (vr != X509_V_OK)
		(void)str_printf(buf, bufsz, "certificate verify: %s",
		    X509_verify_cert_error_string(vr));
	else if (e != 0)
		ERR_error_string_n(e, buf, bufsz);
	else
		(void)str_copy(buf, bufsz, "no detail");
}
