/* Instruction signing with OpenSSL EVP: Ed25519, ECDSA P-256/SHA-256, SM2/SM3.
 * Loads and writes PEM keys with the file-permission rules the keeper needs. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "log.h"
#include "util.h"
#include "keeper/sign.h"

/* A key file's bytes, a NUL, and one byte to detect a file past the limit. */
#define SIGN_FILE_BUF	(SIGN_MAX_PEM + 2)

static const struct {
	enum sign_alg	 alg;
	const char	*name;
} sign_algs[] = {
	{ SIGN_ALG_ED25519,	"ed25519" },
	{ SIGN_ALG_ECDSA_P256,	"ecdsa-p256" },
	{ SIGN_ALG_SM2,		"sm2" },
};

const char *
sign_alg_name(enum sign_alg alg)
{
	size_t	i;

	for (i = 0; i < nitems(sign_algs); i++)
		if (sign_algs[i].alg == alg)
			return sign_algs[i].name;
	return "?";
}

int
sign_alg_parse(const char *name, enum sign_alg *alg)
{
	size_t	i;

	for (i = 0; i < nitems(sign_algs); i++) {
		if (strcmp(sign_algs[i].name, name) == 0) {
			*alg = sign_algs[i].alg;
			return 0;
		}
	}
	log_warnx("%s: unknown algorithm \"%s\" (ed25519, ecdsa-p256, sm2)",
	    __func__, name);
	return -1;
}

/* Logs the newest OpenSSL error after our own reason, then clears the queue so
 * later calls do not report stale errors. */
static void
sign_log_ssl(const char *func, const char *what)
{
	char		buf[256];
	unsigned long	e = ERR_peek_last_error();

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: %s: %s", func, what, buf);
	} else
		log_warnx("%s: %s", func, what);
	ERR_clear_error();
}

/* Which of our algorithms pkey is; anything else (RSA, P-384, X25519...) is
 * refused so a wrong key cannot be configured by accident. */
static int
sign_pkey_alg(EVP_PKEY *pkey, enum sign_alg *alg)
{
	char	group[64];
	size_t	glen = 0;

	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		*alg = SIGN_ALG_ED25519;
		return 0;
	}
	/* OpenSSL 3 decodes a key on the SM2 curve as type SM2, never EC. */
	if (EVP_PKEY_is_a(pkey, "SM2")) {
		*alg = SIGN_ALG_SM2;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) == 1 &&
	    strcmp(group, "prime256v1") == 0) {
		*alg = SIGN_ALG_ECDSA_P256;
		return 0;
	}
	log_warnx("%s: key type %s is not Ed25519, ECDSA P-256 or SM2", __func__,
	    EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?");
	return -1;
}

static int
sign_compute_key_id(struct sign_key *k)
{
	unsigned char	*der = NULL;
	unsigned char	 h[EVP_MAX_MD_SIZE];
	unsigned int	 hl = 0;
	int		 n, ok;

	if ((n = i2d_PUBKEY(k->pkey, &der)) <= 0) {
		sign_log_ssl(__func__, "cannot encode the public key");
		return -1;
	}
	ok = EVP_Digest(der, (size_t)n, h, &hl, EVP_sha256(), NULL) == 1;
	OPENSSL_free(der);
	if (!ok || hl < SIGN_KEY_ID_BYTES) {
		sign_log_ssl(__func__, "SHA-256 failed");
		return -1;
	}
	hex_encode(k->key_id, h, SIGN_KEY_ID_BYTES);
	return 0;
}

/* Wraps pkey (ownership passes to *out, or pkey is freed on failure). */
static int
sign_key_wrap(EVP_PKEY *pkey, int has_private, struct sign_key **out)
{
	struct sign_key	*k;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		log_warnx("%s: out of memory", __func__);
		EVP_PKEY_free(pkey);
		return -1;
	}
	k->pkey = pkey;
	k->has_private = has_private;
	if (sign_pkey_alg(pkey, &k->alg) == -1 || sign_compute_key_id(k) == -1) {
		sign_key_free(k);
		return -1;
	}
	if (k->alg == SIGN_ALG_SM2) {
		k->sm2_id_len = strlen(SIGN_SM2_DEFAULT_ID);
		memcpy(k->sm2_id, SIGN_SM2_DEFAULT_ID, k->sm2_id_len);
	}
	*out = k;
	return 0;
}

int
sign_key_generate(enum sign_alg alg, struct sign_key **out)
{
	EVP_PKEY	*pkey = NULL;

	*out = NULL;
	switch (alg) {
	case SIGN_ALG_ED25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case SIGN_ALG_ECDSA_P256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case SIGN_ALG_SM2:
		/* The SM2 key type, not an EC key on the SM2 curve: only the
		 * former gets the SM2 signature scheme. */
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
		break;
	default:
		log_warnx("%s: unknown algorithm %d", __func__, (int)alg);
		return -1;
	}
	if (pkey == NULL) {
		sign_log_ssl(__func__, "key generation failed");
		return -1;
	}
	return sign_key_wrap(pkey, 1, out);
}

/* Refuses to decrypt: a daemon must never prompt, and keys are protected by
 * file permissions instead. */
static int
sign_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/*
 * Reads a whole file of at most SIGN_MAX_PEM bytes into buf (size
 * SIGN_FILE_BUF), NUL-terminated. With private_key, the file must be a
 * regular file with no group/other permission bits, checked on the opened
 * descriptor so a rename between check and read cannot swap it.
 */
static int
sign_read_file(const char *path, int private_key, char *buf, size_t bufsz,
    size_t *len)
{
	struct stat	st;
	ssize_t		r;
	size_t		n = 0;
	int		fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd == -1) {
		log_warn("%s: %s", __func__, path);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s: fstat %s", __func__, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: %s is not a regular file", __func__, path);
		goto out;
	}
	if (private_key && (st.st_mode & 077) != 0) {
		log_warnx("%s: %s has mode %04o: a private key must not be "
		    "accessible to group or others (chmod 600)", __func__, path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > SIGN_MAX_PEM) {
		log_warnx("%s: %s is larger than %d bytes", __func__, path,
		    SIGN_MAX_PEM);
		goto out;
	}
	/* Reads until EOF even though the size was checked: the file may grow.
	 * buf has room for one byte past the limit, to see that it did. */
	for (;;) {
		r = read(fd, buf + n, bufsz - 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			log_warn("%s: read %s", __func__, path);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > SIGN_MAX_PEM) {
			log_warnx("%s: %s grew past %d bytes", __func__, path,
			    SIGN_MAX_PEM);
			goto out;
		}
	}
	buf[n] = '\0';
	*len = n;
	rc = 0;
out:
	close(fd);
	return rc;
}

int
sign_key_load_private(const char *path, struct sign_key **out)
{
	char		 buf[SIGN_FILE_BUF];
	BIO		*bio = NULL;
	EVP_PKEY	*pkey = NULL;
	size_t		 len = 0;
	int		 rc = -1;

	*out = NULL;
	if (sign_read_file(path, 1, buf, sizeof(buf), &len) == -1)
		goto out;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		sign_log_ssl(__func__, "out of memory");
		goto out;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, sign_no_passphrase, NULL);
	if (pkey == NULL) {
		log_warnx("%s: %s holds no unencrypted PEM private key", __func__,
		    path);
		ERR_clear_error();
		goto out;
	}
	rc = sign_key_wrap(pkey, 1, out);
	if (rc == -1)
		log_warnx("%s: %s: unusable key", __func__, path);
out:
	BIO_free(bio);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int
sign_key_public_from_pem(const char *pem, size_t len, struct sign_key **out)
{
	BIO		*bio;
	EVP_PKEY	*pkey;

	*out = NULL;
	if (len > SIGN_MAX_PEM) {
		log_warnx("%s: PEM larger than %d bytes", __func__, SIGN_MAX_PEM);
		return -1;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		sign_log_ssl(__func__, "out of memory");
		return -1;
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, sign_no_passphrase, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		log_warnx("%s: no PEM public key", __func__);
		ERR_clear_error();
		return -1;
	}
	return sign_key_wrap(pkey, 0, out);
}

int
sign_key_load_public(const char *path, struct sign_key **out)
{
	char	buf[SIGN_FILE_BUF];
	size_t	len = 0;

	*out = NULL;
	if (sign_read_file(path, 0, buf, sizeof(buf), &len) == -1)
		return -1;
	if (sign_key_public_from_pem(buf, len, out) == -1) {
		log_warnx("%s: %s: unusable public key", __func__, path);
		return -1;
	}
	return 0;
}

static int
sign_write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
sign_key_write_private(const struct sign_key *k, const char *path)
{
	BIO	*bio;
	char	*pem = NULL;
	long	 n;
	int	 fd, rc = -1;

	if (!k->has_private) {
		log_warnx("%s: no private key to write", __func__);
		return -1;
	}
	/* A secure-memory BIO: its buffer is cleansed when freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL) {
		sign_log_ssl(__func__, "out of memory");
		return -1;
	}
	if (PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(bio, &pem)) <= 0) {
		sign_log_ssl(__func__, "cannot encode the private key");
		BIO_free(bio);
		return -1;
	}
	/* O_EXCL: never replace a key (or follow a planted symlink); the mode
	 * is set again with fchmod because open's mode is filtered by umask
	 * only downwards, and a pre-set ACL default could widen it. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("%s: %s", __func__, path);
		BIO_free(bio);
		return -1;
	}
	if (fchmod(fd, 0600) == -1)
		log_warn("%s: fchmod %s", __func__, path);
	else if (sign_write_all(fd, pem, (size_t)n) == -1)
		log_warn("%s: write %s", __func__, path);
	else if (fsync(fd) == -1)
		log_warn("%s: fsync %s", __func__, path);
	else
		rc = 0;
	if (close(fd) == -1 && rc == 0) {
		log_warn("%s: close %s", __func__, path);
		rc = -1;
	}
	/* A new name: durable once its folder is synced. */
	if (rc == 0)
		rc = fsync_dir(path);
	/* The file is ours (O_EXCL): remove a partial key rather than leave a
	 * file that later fails to load. */
	if (rc == -1 && unlink(path) == -1)
		log_warn("%s: unlink %s", __func__, path);
	BIO_free(bio);
	return rc;
}

int
sign_key_public_pem(const struct sign_key *k, char *out, size_t outsz)
{
	BIO	*bio;
	char	*p = NULL;
	long	 n;
	int	 rc = -1;

	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		sign_log_ssl(__func__, "out of memory");
		return -1;
	}
	if (PEM_write_bio_PUBKEY(bio, k->pkey) != 1 ||
	    (n = BIO_get_mem_data(bio, &p)) <= 0)
		sign_log_ssl(__func__, "cannot encode the public key");
	else if ((size_t)n >= outsz)
		log_warnx("%s: output too small (%ld bytes needed)", __func__, n + 1);
	else {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
		rc = 0;
	}
	BIO_free(bio);
	return rc;
}

int
sign_key_set_sm2_id(struct sign_key *k, const void *id, size_t len)
{
	if (k->alg != SIGN_ALG_SM2) {
		log_warnx("%s: only SM2 keys have a distinguishing id", __func__);
		return -1;
	}
	if (len > SIGN_SM2_ID_MAX) {
		log_warnx("%s: id of %zu bytes (at most %d)", __func__, len,
		    SIGN_SM2_ID_MAX);
		return -1;
	}
	if (len > 0 && id == NULL) {
		log_warnx("%s: no id bytes", __func__);
		return -1;
	}
	if (len > 0)
		memcpy(k->sm2_id, id, len);
	k->sm2_id_len = len;
	return 0;
}

/*
 * Initialises mctx for signing or verifying with k. SM2 needs its
 * distinguishing id on the operation's own EVP_PKEY_CTX, after init and before
 * any data: the provider hashes it into the Z value on the first update.
 */
static int
sign_init(const struct sign_key *k, EVP_MD_CTX *mctx, int verify)
{
	EVP_PKEY_CTX	*pctx = NULL;
	const EVP_MD	*md = NULL;
	int		 ok;

	if (k->alg == SIGN_ALG_ECDSA_P256)
		md = EVP_sha256();
	else if (k->alg == SIGN_ALG_SM2)
		md = EVP_sm3();
	if (verify)
		ok = EVP_DigestVerifyInit(mctx, &pctx, md, NULL, k->pkey) == 1;
	else
		ok = EVP_DigestSignInit(mctx, &pctx, md, NULL, k->pkey) == 1;
	if (!ok) {
		sign_log_ssl(__func__, "cannot start the operation");
		return -1;
	}
	if (k->alg == SIGN_ALG_SM2 && EVP_PKEY_CTX_set1_id(pctx,
	    k->sm2_id_len > 0 ? k->sm2_id : NULL, (int)k->sm2_id_len) <= 0) {
		sign_log_ssl(__func__, "cannot set the SM2 id");
		return -1;
	}
	return 0;
}

int
sign_sign(const struct sign_key *k, const void *msg, size_t len, uint8_t *sig,
    size_t sigsz, size_t *siglen)
{
	EVP_MD_CTX	*mctx;
	size_t		 n = sigsz;
	int		 need, rc = -1;

	*siglen = 0;
	if (!k->has_private) {
		log_warnx("%s: key %s is public only", __func__, k->key_id);
		return -1;
	}
	need = EVP_PKEY_get_size(k->pkey);
	if (need <= 0 || (size_t)need > sigsz) {
		log_warnx("%s: signature buffer of %zu bytes, %d needed", __func__,
		    sigsz, need);
		return -1;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return -1;
	}
	if (sign_init(k, mctx, 0) == 0) {
		if (EVP_DigestSign(mctx, sig, &n, msg, len) != 1)
			sign_log_ssl(__func__, "signing failed");
		else {
			*siglen = n;
			rc = 0;
		}
	}
	EVP_MD_CTX_free(mctx);
	return rc;
}

int
sign_verify(const struct sign_key *k, const void *msg, size_t len,
    const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX	*mctx;
	int		 rc = -1;

	if (siglen == 0 || siglen > SIGN_MAX_SIG) {
		log_warnx("%s: signature of %zu bytes", __func__, siglen);
		return -1;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return -1;
	}
	if (sign_init(k, mctx, 1) == 0) {
		if (EVP_DigestVerify(mctx, sig, siglen, msg, len) == 1)
			rc = 0;
		else
			sign_log_ssl(__func__, "bad signature");
	}
	EVP_MD_CTX_free(mctx);
	return rc;
}

void
sign_key_free(struct sign_key *k)
{
	if (k == NULL)
		return;
	/* EVP_PKEY_free clears the private scalar or seed it holds. */
	EVP_PKEY_free(k->pkey);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}
