/* Unit tests for relay/identity and the SPKI pin of net/tls: which agency a
 * public key hash names, and the pin computed from a certificate file. */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "log.h"
#include "util.h"
#include "net/tls.h"
#include "relay/identity.h"

/* ---- identity_lookup ---- */

static void
fill_pin(unsigned char pin[32], unsigned char seed)
{
	int	i;

	for (i = 0; i < 32; i++)
		pin[i] = (unsigned char)(seed + i);
}

static struct config *
pins_config(void)
{
	struct config	*cf = calloc(1, sizeof(*cf));

	assert_non_null(cf);
	cf->nagencies = 3;
	str_copy(cf->agencies[0].name, CFG_NAME_MAX, "tax");
	cf->agencies[0].role = ROLE_TAX;
	fill_pin(cf->agencies[0].pins[0], 0x10);
	cf->agencies[0].npins = 1;
	str_copy(cf->agencies[1].name, CFG_NAME_MAX, "finance");
	cf->agencies[1].role = ROLE_FINANCE;
	fill_pin(cf->agencies[1].pins[0], 0x20);
	fill_pin(cf->agencies[1].pins[1], 0x30);	/* rollover: a second key */
	cf->agencies[1].npins = 2;
	str_copy(cf->agencies[2].name, CFG_NAME_MAX, "bank");
	cf->agencies[2].role = ROLE_BANK;
	fill_pin(cf->agencies[2].pins[0], 0x40);
	fill_pin(cf->agencies[2].pins[3], 0x50);	/* beyond npins: unused */
	cf->agencies[2].npins = 1;
	return cf;
}

static void
test_lookup(void **state)
{
	struct config	*cf = pins_config();
	unsigned char	 spki[32];

	fill_pin(spki, 0x10);
	assert_int_equal(identity_lookup(cf, spki), 0);
	fill_pin(spki, 0x20);
	assert_int_equal(identity_lookup(cf, spki), 1);
	fill_pin(spki, 0x30);		/* the second pin of an agency */
	assert_int_equal(identity_lookup(cf, spki), 1);
	fill_pin(spki, 0x40);
	assert_int_equal(identity_lookup(cf, spki), 2);
	fill_pin(spki, 0x50);		/* stored, but not among the npins */
	assert_int_equal(identity_lookup(cf, spki), -1);
	fill_pin(spki, 0x60);
	assert_int_equal(identity_lookup(cf, spki), -1);
	memset(spki, 0, sizeof(spki));
	assert_int_equal(identity_lookup(cf, spki), -1);
	/* One bit off in the last byte: no match. */
	fill_pin(spki, 0x20);
	spki[31] ^= 1;
	assert_int_equal(identity_lookup(cf, spki), -1);
	fill_pin(spki, 0x20);
	spki[0] ^= 0x80;
	assert_int_equal(identity_lookup(cf, spki), -1);
	/* No agencies at all. */
	cf->nagencies = 0;
	fill_pin(spki, 0x10);
	assert_int_equal(identity_lookup(cf, spki), -1);
	free(cf);
}

/* ---- tls_spki_sha256_file ---- */

struct certdir {
	char	dir[64];
	char	cert[128], garbage[128], keyonly[128], empty[128], conf[128];
};

static void
write_file(const char *path, const char *text)
{
	FILE	*fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* A self-signed certificate over an EC P-256 key, as PEM in path. */
static EVP_PKEY *
make_cert(const char *path, const char *keypath)
{
	EVP_PKEY	*key;
	X509		*x;
	X509_NAME	*name;
	FILE		*fp;

	key = EVP_EC_gen("P-256");
	assert_non_null(key);
	x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 4242), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400L));
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"test-agency", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_X509(fp, x), 1);
	assert_int_equal(fclose(fp), 0);
	if (keypath != NULL) {
		fp = fopen(keypath, "w");
		assert_non_null(fp);
		assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0,
		    NULL, NULL), 1);
		assert_int_equal(fclose(fp), 0);
	}
	X509_free(x);
	return key;
}

static void
expected_pin(EVP_PKEY *key, unsigned char out[32])
{
	unsigned char	*der = NULL;
	unsigned int	 olen = 0;
	int		 len;

	len = i2d_PUBKEY(key, &der);
	assert_true(len > 0);
	assert_int_equal(EVP_Digest(der, (size_t)len, out, &olen, EVP_sha256(),
	    NULL), 1);
	assert_int_equal(olen, 32);
	OPENSSL_free(der);
}

static int
setup_certs(void **state)
{
	struct certdir	*d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -1;
	str_copy(d->dir, sizeof(d->dir), "/tmp/gw-test-identity.XXXXXX");
	if (mkdtemp(d->dir) == NULL) {
		free(d);
		return -1;
	}
	str_printf(d->cert, sizeof(d->cert), "%s/agency.crt", d->dir);
	str_printf(d->garbage, sizeof(d->garbage), "%s/garbage.crt", d->dir);
	str_printf(d->keyonly, sizeof(d->keyonly), "%s/agency.key", d->dir);
	str_printf(d->empty, sizeof(d->empty), "%s/empty.crt", d->dir);
	str_printf(d->conf, sizeof(d->conf), "%s/gw.conf", d->dir);
	*state = d;
	return 0;
}

static int
teardown_certs(void **state)
{
	struct certdir	*d = *state;

	unlink(d->cert);
	unlink(d->garbage);
	unlink(d->keyonly);
	unlink(d->empty);
	unlink(d->conf);
	rmdir(d->dir);
	free(d);
	return 0;
}

static void
test_spki_file(void **state)
{
	struct certdir	*d = *state;
	EVP_PKEY	*key, *key2;
	unsigned char	 want[32], got[32], other[32];
	FILE		*fp;
	X509		*x;

	key = make_cert(d->cert, d->keyonly);
	expected_pin(key, want);
	memset(got, 0, sizeof(got));
	assert_int_equal(tls_spki_sha256_file(d->cert, got), 0);
	assert_memory_equal(got, want, 32);

	/* The X509 form gives the same hash. */
	fp = fopen(d->cert, "r");
	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	memset(got, 0, sizeof(got));
	assert_int_equal(tls_spki_sha256(x, got), 0);
	assert_memory_equal(got, want, 32);
	X509_free(x);

	/* A new key gives a different pin. */
	key2 = make_cert(d->cert, NULL);
	expected_pin(key2, other);
	assert_int_equal(tls_spki_sha256_file(d->cert, got), 0);
	assert_memory_equal(got, other, 32);
	assert_memory_not_equal(got, want, 32);
	EVP_PKEY_free(key);
	EVP_PKEY_free(key2);
}

static void
test_spki_file_bad(void **state)
{
	struct certdir	*d = *state;
	unsigned char	 got[32], zero[32];
	EVP_PKEY	*key;
	char		 missing[160];

	memset(zero, 0, sizeof(zero));
	memset(got, 0, sizeof(got));
	str_printf(missing, sizeof(missing), "%s/missing.crt", d->dir);
	assert_int_equal(tls_spki_sha256_file(missing, got), -1);
	assert_int_equal(tls_spki_sha256_file(d->dir, got), -1);	/* a folder */

	write_file(d->garbage, "this is not a certificate\n");
	assert_int_equal(tls_spki_sha256_file(d->garbage, got), -1);
	write_file(d->garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n"
	    "-----END CERTIFICATE-----\n");
	assert_int_equal(tls_spki_sha256_file(d->garbage, got), -1);
	write_file(d->empty, "");
	assert_int_equal(tls_spki_sha256_file(d->empty, got), -1);

	/* A private key is not a certificate. */
	key = make_cert(d->cert, d->keyonly);
	assert_int_equal(tls_spki_sha256_file(d->keyonly, got), -1);
	assert_memory_equal(got, zero, 32);
	EVP_PKEY_free(key);
}

/* pin_cert in the configuration gives the same pin, and identity_lookup
 * finds the agency from the certificate's key. */
static void
test_pin_cert_config(void **state)
{
	struct certdir	*d = *state;
	struct config	*cf;
	EVP_PKEY	*key;
	unsigned char	 want[32];
	char		 text[2048];
	FILE		*fp;

	key = make_cert(d->cert, NULL);
	expected_pin(key, want);
	str_printf(text, sizeof(text),
	    "[listener agency]\nlisten = 127.0.0.1:8443\ncert = a.crt\n"
	    "key = a.key\nca = ca.crt\n"
	    "[listener admin]\nlisten = 127.0.0.1:8444\ncert = a.crt\n"
	    "key = a.key\nca = ca.crt\n"
	    "[keeper]\ndatabase = gw.db\ncheckpoint_file = checkpoint\n"
	    "origin = gateway.test/log\nlog_key = log.key\n"
	    "[agency tax]\nrole = tax\n"
	    "pin = 0000000000000000000000000000000000000000000000000000000000000001\n"
	    "[agency hrss]\nrole = hrss\npin_cert = agency.crt\n");
	fp = fopen(d->conf, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	cf = config_load(d->conf);
	assert_non_null(cf);
	assert_int_equal(cf->nagencies, 2);
	assert_int_equal(cf->agencies[1].npins, 1);
	assert_memory_equal(cf->agencies[1].pins[0], want, 32);
	assert_int_equal(identity_lookup(cf, want), 1);
	config_free(cf);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test_setup_teardown(test_spki_file, setup_certs,
		    teardown_certs),
		cmocka_unit_test_setup_teardown(test_spki_file_bad, setup_certs,
		    teardown_certs),
		cmocka_unit_test_setup_teardown(test_pin_cert_config,
		    setup_certs, teardown_certs),
	};

	log_init("test_identity", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
