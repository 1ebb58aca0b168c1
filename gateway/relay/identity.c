/* Agency identity from the verified client certificate: the certificate's
 * chain proves who issued it, the SPKI pin says which agency it is. */
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "net/tls.h"
#include "relay/identity.h"

int
identity_pinned(const unsigned char pins[][32], int npins,
    const unsigned char spki[32])
{
	int	k, found = 0;

	/* Every pin is compared, so timing says nothing about which matched. */
	for (k = 0; k < npins; k++)
		if (CRYPTO_memcmp(pins[k], spki, 32) == 0)
			found = 1;
	return found;
}

int
identity_lookup(const struct config *cf, const unsigned char spki[32])
{
	size_t	i;
	int	found = -1;

	for (i = 0; i < cf->nagencies; i++)
		if (identity_pinned((const unsigned char (*)[32])cf->agencies[i].pins,
		    cf->agencies[i].npins, spki))
			found = (int)i;
	return found;
}

int
identity_peer_spki(SSL *ssl, unsigned char spki[32])
{
	X509	*peer;

	if (SSL_get_verify_result(ssl) != X509_V_OK)
		return -1;
	if ((peer = SSL_get0_peer_certificate(ssl)) == NULL)
		return -1;
	if (SSL_session_reused(ssl) && tls_reverify_peer(ssl) == -1)
		return -1;
	if (tls_spki_sha256(peer, spki) == -1) {
		log_warnx("%s: cannot hash the peer key", __func__);
		return -1;
	}
	return 0;
}

int
identity_of_ssl(const struct config *cf, SSL *ssl)
{
	unsigned char	spki[32];

	if (identity_peer_spki(ssl, spki) == -1)
		return -1;
	return identity_lookup(cf, spki);
}
