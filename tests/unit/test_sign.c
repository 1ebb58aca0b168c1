/* Unit tests for keeper/sign: round trips per algorithm, SM2 distinguishing ids,
 * key file permission rules, key ids, and interoperability with openssl(1). */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "log.h"
#include "util.h"
#include "keeper/sign.h"

static const enum sign_alg	algs[] = {
	SIGN_ALG_ED25519, SIGN_ALG_ECDSA_P256, SIGN_ALG_SM2
};
static const char		msg[] = "{\"instruction\":\"disburse 100 fen\"}";

struct fixture {
	char	dir[64];
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_sign.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 cmd[128];

	/* the directory is ours (mkdtemp) and holds only test keys */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
path_in(const struct fixture *f, const char *name, char *out, size_t sz)
{
	assert_int_equal(str_printf(out, sz, "%s/%s", f->dir, name), 0);
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE	*fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_alg_names(void **state)
{
	enum sign_alg	a;
	size_t		i;

	for (i = 0; i < nitems(algs); i++) {
		assert_int_equal(sign_alg_parse(sign_alg_name(algs[i]), &a), 0);
		assert_int_equal(a, algs[i]);
	}
	assert_string_equal(sign_alg_name(SIGN_ALG_ECDSA_P256), "ecdsa-p256");
	assert_string_equal(sign_alg_name((enum sign_alg)99), "?");
	assert_int_equal(sign_alg_parse("rsa", &a), -1);
	assert_int_equal(sign_alg_parse("ED25519", &a), -1);
	assert_int_equal(sign_alg_parse("", &a), -1);
}

static void
test_roundtrip(void **state)
{
	struct fixture	*f = *state;
	struct sign_key	*k, *loaded, *pub;
	uint8_t		 sig[SIGN_MAX_SIG];
	char		 path[PATH_MAX], pem[4096], tampered[sizeof(msg)];
	struct stat	 st;
	size_t		 i, n;

	for (i = 0; i < nitems(algs); i++) {
		assert_int_equal(sign_key_generate(algs[i], &k), 0);
		assert_int_equal(k->alg, algs[i]);
		assert_true(k->has_private);
		assert_int_equal(strlen(k->key_id), SIGN_KEY_ID_LEN);
		assert_int_equal(strspn(k->key_id, "0123456789abcdef"),
		    SIGN_KEY_ID_LEN);

		assert_int_equal(sign_sign(k, msg, strlen(msg), sig, sizeof(sig),
		    &n), 0);
		assert_true(n > 0 && n <= SIGN_MAX_SIG);
		if (algs[i] == SIGN_ALG_ED25519)
			assert_int_equal(n, 64);
		assert_int_equal(sign_verify(k, msg, strlen(msg), sig, n), 0);

		/* a changed message or signature, a truncated signature */
		memcpy(tampered, msg, sizeof(msg));
		tampered[5] ^= 1;
		assert_int_equal(sign_verify(k, tampered, strlen(msg), sig, n), -1);
		assert_int_equal(sign_verify(k, msg, strlen(msg) - 1, sig, n), -1);
		sig[n / 2] ^= 0x10;
		assert_int_equal(sign_verify(k, msg, strlen(msg), sig, n), -1);
		sig[n / 2] ^= 0x10;
		assert_int_equal(sign_verify(k, msg, strlen(msg), sig, n - 1), -1);
		assert_int_equal(sign_verify(k, msg, strlen(msg), sig, 0), -1);
		assert_int_equal(sign_verify(k, msg, strlen(msg), sig,
		    SIGN_MAX_SIG + 1), -1);
		assert_int_equal(sign_sign(k, msg, strlen(msg), sig, 10, &n), -1);

		/* written 0600, never over an existing file, loaded back */
		path_in(f, sign_alg_name(algs[i]), path, sizeof(path));
		assert_int_equal(sign_key_write_private(k, path), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_int_equal(sign_key_write_private(k, path), -1);
		assert_int_equal(sign_key_load_private(path, &loaded), 0);
		assert_int_equal(loaded->alg, algs[i]);
		assert_string_equal(loaded->key_id, k->key_id);
		assert_int_equal(sign_sign(loaded, msg, strlen(msg), sig,
		    sizeof(sig), &n), 0);
		assert_int_equal(sign_verify(k, msg, strlen(msg), sig, n), 0);

		/* the public half, from memory and from a 0644 file */
		assert_int_equal(sign_key_public_pem(k, pem, sizeof(pem)), 0);
		assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
		assert_int_equal(sign_key_public_pem(k, pem, 20), -1);
		assert_int_equal(sign_key_public_pem(k, pem, sizeof(pem)), 0);
		assert_int_equal(sign_key_public_from_pem(pem, strlen(pem), &pub), 0);
		assert_false(pub->has_private);
		assert_string_equal(pub->key_id, k->key_id);
		assert_int_equal(sign_verify(pub, msg, strlen(msg), sig, n), 0);
		assert_int_equal(sign_sign(pub, msg, strlen(msg), sig, sizeof(sig),
		    &n), -1);
		path_in(f, "pub.pem", path, sizeof(path));
		assert_int_equal(sign_key_write_private(pub, path), -1);
		sign_key_free(pub);
		write_file(path, pem, strlen(pem), 0644);
		assert_int_equal(sign_key_load_public(path, &pub), 0);
		assert_string_equal(pub->key_id, k->key_id);
		sign_key_free(pub);
		/* a public key is no private key */
		assert_int_equal(chmod(path, 0600), 0);
		assert_int_equal(sign_key_load_private(path, &pub), -1);
		assert_null(pub);
		assert_int_equal(unlink(path), 0);

		sign_key_free(loaded);
		sign_key_free(k);
	}
	sign_key_free(NULL);
}

static void
test_sm2_id(void **state)
{
	struct sign_key	*k, *pub;
	uint8_t		 sig[SIGN_MAX_SIG];
	char		 pem[4096];
	size_t		 n;

	assert_int_equal(sign_key_generate(SIGN_ALG_SM2, &k), 0);
	assert_int_equal(k->sm2_id_len, 16);
	assert_memory_equal(k->sm2_id, SIGN_SM2_DEFAULT_ID, 16);
	assert_int_equal(sign_key_public_pem(k, pem, sizeof(pem)), 0);
	assert_int_equal(sign_key_public_from_pem(pem, strlen(pem), &pub), 0);
	assert_int_equal(pub->alg, SIGN_ALG_SM2);

	/* made with the GM/T id: verifies with it, not with another */
	assert_int_equal(sign_sign(k, msg, strlen(msg), sig, sizeof(sig), &n), 0);
	assert_int_equal(sign_verify(pub, msg, strlen(msg), sig, n), 0);
	assert_int_equal(sign_key_set_sm2_id(pub, NULL, 0), 0);
	assert_int_equal(sign_verify(pub, msg, strlen(msg), sig, n), -1);
	assert_int_equal(sign_key_set_sm2_id(pub, "1234567812345679", 16), 0);
	assert_int_equal(sign_verify(pub, msg, strlen(msg), sig, n), -1);
	assert_int_equal(sign_key_set_sm2_id(pub, "bank-a@example", 14), 0);
	assert_int_equal(sign_verify(pub, msg, strlen(msg), sig, n), -1);

	/* and the other way round: made with the empty id */
	assert_int_equal(sign_key_set_sm2_id(k, "", 0), 0);
	assert_int_equal(sign_sign(k, msg, strlen(msg), sig, sizeof(sig), &n), 0);
	assert_int_equal(sign_key_set_sm2_id(pub, NULL, 0), 0);
	assert_int_equal(sign_verify(pub, msg, strlen(msg), sig, n), 0);
	assert_int_equal(sign_key_set_sm2_id(pub, SIGN_SM2_DEFAULT_ID, 16), 0);
	assert_int_equal(sign_verify(pub, msg, strlen(msg), sig, n), -1);

	/* a counterparty-specific id */
	assert_int_equal(sign_key_set_sm2_id(k, "bank-a@example", 14), 0);
	assert_int_equal(sign_sign(k, msg, strlen(msg), sig, sizeof(sig), &n), 0);
	assert_int_equal(sign_verify(pub, msg, strlen(msg), sig, n), -1);
	assert_int_equal(sign_key_set_sm2_id(pub, "bank-a@example", 14), 0);
	assert_int_equal(sign_verify(pub, msg, strlen(msg), sig, n), 0);

	/* bounds, and only SM2 keys have ids */
	{
		char	big[SIGN_SM2_ID_MAX + 1];
		memset(big, 'x', sizeof(big));
		assert_int_equal(sign_key_set_sm2_id(k, big, sizeof(big)), -1);
		assert_int_equal(sign_key_set_sm2_id(k, big, SIGN_SM2_ID_MAX), 0);
		assert_int_equal(sign_key_set_sm2_id(k, NULL, 3), -1);
	}
	sign_key_free(pub);
	assert_int_equal(sign_key_generate(SIGN_ALG_ED25519, &pub), 0);
	assert_int_equal(sign_key_set_sm2_id(pub, "x", 1), -1);
	sign_key_free(pub);
	sign_key_free(k);
}

static void
test_key_file_modes(void **state)
{
	struct fixture	*f = *state;
	struct sign_key	*k, *l;
	char		 path[PATH_MAX], link[PATH_MAX];
	static const mode_t bad[] = { 0644, 0640, 0604, 0610, 0601, 0660, 0700 | 040 };
	size_t		 i;

	assert_int_equal(sign_key_generate(SIGN_ALG_ED25519, &k), 0);
	path_in(f, "modes.pem", path, sizeof(path));
	assert_int_equal(sign_key_write_private(k, path), 0);
	for (i = 0; i < nitems(bad); i++) {
		assert_int_equal(chmod(path, bad[i]), 0);
		if (sign_key_load_private(path, &l) != -1)
			fail_msg("mode %04o accepted", (unsigned)bad[i]);
		assert_null(l);
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(sign_key_load_private(path, &l), 0);
	sign_key_free(l);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(sign_key_load_private(path, &l), 0);
	sign_key_free(l);

	/* not through a symlink, not a directory, not a missing file */
	path_in(f, "link.pem", link, sizeof(link));
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(sign_key_load_private(link, &l), -1);
	assert_int_equal(sign_key_load_public(link, &l), -1);
	assert_int_equal(sign_key_write_private(k, link), -1);
	assert_int_equal(sign_key_load_private(f->dir, &l), -1);
	path_in(f, "missing.pem", link, sizeof(link));
	assert_int_equal(sign_key_load_private(link, &l), -1);

	/* writing refuses an existing file and a missing directory */
	assert_int_equal(sign_key_write_private(k, path), -1);
	path_in(f, "no/such/dir.pem", link, sizeof(link));
	assert_int_equal(sign_key_write_private(k, link), -1);
	sign_key_free(k);
}

/* Writes pkey as PEM with the given mode; with pass, encrypted. */
static void
write_pkey(const char *path, EVP_PKEY *pkey, const char *pass)
{
	FILE	*fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, pkey,
	    pass ? EVP_aes_256_cbc() : NULL, NULL, 0, NULL,
	    pass ? (void *)(uintptr_t)pass : NULL), 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

static void
test_bad_key_files(void **state)
{
	struct fixture	*f = *state;
	struct sign_key	*l;
	EVP_PKEY	*pk;
	char		 path[PATH_MAX], *big;

	path_in(f, "bad.pem", path, sizeof(path));

	/* wrong algorithms: RSA, P-384, X25519 */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(pk);
	write_pkey(path, pk, NULL);
	EVP_PKEY_free(pk);
	assert_int_equal(sign_key_load_private(path, &l), -1);
	assert_int_equal(unlink(path), 0);
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	assert_non_null(pk);
	write_pkey(path, pk, NULL);
	EVP_PKEY_free(pk);
	assert_int_equal(sign_key_load_private(path, &l), -1);
	assert_int_equal(unlink(path), 0);
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_non_null(pk);
	write_pkey(path, pk, NULL);
	EVP_PKEY_free(pk);
	assert_int_equal(sign_key_load_private(path, &l), -1);
	assert_int_equal(unlink(path), 0);

	/* encrypted: refused, without prompting */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(pk);
	write_pkey(path, pk, "secret");
	EVP_PKEY_free(pk);
	assert_int_equal(sign_key_load_private(path, &l), -1);
	assert_int_equal(unlink(path), 0);

	/* garbage, empty, too large */
	write_file(path, "not a key\n", 10, 0600);
	assert_int_equal(sign_key_load_private(path, &l), -1);
	assert_int_equal(sign_key_load_public(path, &l), -1);
	assert_int_equal(unlink(path), 0);
	write_file(path, "", 0, 0600);
	assert_int_equal(sign_key_load_private(path, &l), -1);
	assert_int_equal(unlink(path), 0);
	big = malloc(SIGN_MAX_PEM + 1);
	assert_non_null(big);
	memset(big, 'A', SIGN_MAX_PEM + 1);
	write_file(path, big, SIGN_MAX_PEM + 1, 0600);
	assert_int_equal(sign_key_load_private(path, &l), -1);
	assert_int_equal(sign_key_public_from_pem(big, SIGN_MAX_PEM + 1, &l), -1);
	free(big);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sign_key_public_from_pem("", 0, &l), -1);
	assert_int_equal(sign_key_generate((enum sign_alg)0, &l), -1);
	assert_null(l);
}

static void
test_key_id_definition(void **state)
{
	struct sign_key	*k;
	unsigned char	*der = NULL, h[32];
	char		 want[SIGN_KEY_ID_LEN + 1];
	unsigned int	 hl;
	size_t		 i;
	int		 n;

	for (i = 0; i < nitems(algs); i++) {
		assert_int_equal(sign_key_generate(algs[i], &k), 0);
		n = i2d_PUBKEY(k->pkey, &der);
		assert_true(n > 0);
		assert_int_equal(EVP_Digest(der, (size_t)n, h, &hl, EVP_sha256(),
		    NULL), 1);
		OPENSSL_free(der);
		der = NULL;
		hex_encode(want, h, SIGN_KEY_ID_BYTES);
		assert_string_equal(k->key_id, want);
		sign_key_free(k);
	}
}

/* Runs a shell command quietly; its exit status. */
static int
run(const char *cmd)
{
	char	full[2048];
	int	st;

	assert_int_equal(str_printf(full, sizeof(full), "%s >/dev/null 2>&1", cmd),
	    0);
	st = system(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Cross-checks against openssl(1), an independent signer and verifier: that
 * we really hash the GM/T id into SM2 signatures (and not OpenSSL's empty
 * default), and that our ECDSA and Ed25519 signatures are the standard ones.
 */
static void
test_openssl_cli_interop(void **state)
{
	struct fixture	*f = *state;
	struct sign_key	*k;
	uint8_t		 sig[SIGN_MAX_SIG], buf[SIGN_MAX_SIG + 1];
	char		 key[PATH_MAX], m[PATH_MAX], s[PATH_MAX], cmd[4096];
	const char	*opts;
	FILE		*fp;
	size_t		 i, n;

	if (run("openssl version") != 0)
		skip();
	path_in(f, "msg", m, sizeof(m));
	path_in(f, "sig", s, sizeof(s));
	write_file(m, msg, strlen(msg), 0600);
	for (i = 0; i < nitems(algs); i++) {
		path_in(f, sign_alg_name(algs[i]), key, sizeof(key));
		assert_int_equal(str_append(key, sizeof(key), ".cli"), 0);
		assert_int_equal(sign_key_generate(algs[i], &k), 0);
		assert_int_equal(sign_key_write_private(k, key), 0);
		switch (algs[i]) {
		case SIGN_ALG_ECDSA_P256:
			opts = "-digest sha256";
			break;
		case SIGN_ALG_SM2:
			opts = "-digest sm3 -pkeyopt distid:" SIGN_SM2_DEFAULT_ID;
			break;
		default:
			opts = "";
		}

		/* ours, checked by openssl */
		assert_int_equal(sign_sign(k, msg, strlen(msg), sig, sizeof(sig),
		    &n), 0);
		write_file(s, sig, n, 0600);
		assert_int_equal(str_printf(cmd, sizeof(cmd), "openssl pkeyutl "
		    "-verify -rawin %s -inkey %s -in %s -sigfile %s", opts, key, m,
		    s), 0);
		if (run(cmd) != 0)
			fail_msg("openssl refused our %s signature",
			    sign_alg_name(algs[i]));
		if (algs[i] == SIGN_ALG_SM2) {
			/* ... and not under OpenSSL's default empty id */
			assert_int_equal(str_printf(cmd, sizeof(cmd), "openssl "
			    "pkeyutl -verify -rawin -digest sm3 -inkey %s -in %s "
			    "-sigfile %s", key, m, s), 0);
			assert_int_not_equal(run(cmd), 0);
		}
		assert_int_equal(unlink(s), 0);

		/* openssl's, checked by us */
		assert_int_equal(str_printf(cmd, sizeof(cmd), "openssl pkeyutl "
		    "-sign -rawin %s -inkey %s -in %s -out %s", opts, key, m, s), 0);
		assert_int_equal(run(cmd), 0);
		fp = fopen(s, "rb");
		assert_non_null(fp);
		n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		assert_true(n > 0 && n <= SIGN_MAX_SIG);
		assert_int_equal(sign_verify(k, msg, strlen(msg), buf, n), 0);
		assert_int_equal(unlink(s), 0);
		sign_key_free(k);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test(test_sm2_id),
		cmocka_unit_test_setup_teardown(test_key_file_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_key_files, setup, teardown),
		cmocka_unit_test(test_key_id_definition),
		cmocka_unit_test_setup_teardown(test_openssl_cli_interop, setup,
		    teardown),
	};

	/* refusals are logged at their site; the tests provoke many */
	log_init("test_sign", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
