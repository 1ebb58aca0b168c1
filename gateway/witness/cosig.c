/* C2SP tlog-cosignature v1: what a witness signs to say "this is the largest
 * consistent tree of the log I have seen, as of time T". */
#include <string.h>

#include "log.h"
#include "util.h"
#include "keeper/sign.h"
#include "witness/cosig.h"

#define COSIG_SIG_PREFIX	"\xe2\x80\x94 "
#define COSIG_SIG_PREFIX_LEN	4

int
cosig_key_from_pkey(struct cosig_key *k, const char *name, EVP_PKEY *pkey)
{
	memset(k, 0, sizeof(*k));
	if (note_signer_from_pkey(&k->signer, name, pkey) == -1)
		return -1;
	if (note_key_id_alg(name, COSIG_ALG, k->signer.pub, &k->id) == -1) {
		cosig_key_free(k);
		return -1;
	}
	return 0;
}

int
cosig_key_load(struct cosig_key *k, const char *path, const char *name)
{
	struct sign_key	*sk;
	int		 rc;

	memset(k, 0, sizeof(*k));
	/* sign_key_load_private refuses group/world-accessible files. */
	if (sign_key_load_private(path, &sk) == -1)
		return -1;
	if (sk->alg != SIGN_ALG_ED25519) {
		log_warnx("%s: %s: a witness key must be Ed25519", __func__, path);
		sign_key_free(sk);
		return -1;
	}
	rc = cosig_key_from_pkey(k, name, sk->pkey);
	sign_key_free(sk);
	return rc;
}

void
cosig_key_free(struct cosig_key *k)
{
	note_signer_free(&k->signer);
	k->id = 0;
}

void
cosig_key_verifier(const struct cosig_key *k, struct note_verifier *v)
{
	note_signer_verifier(&k->signer, v);
	v->id = k->id;
}

int
cosig_key_vkey(const struct cosig_key *k, char *out, size_t outsz)
{
	struct note_verifier	v;

	cosig_key_verifier(k, &v);
	return note_verifier_format_alg(&v, COSIG_ALG, out, outsz);
}

int
cosig_header(uint64_t t, char *out, size_t outsz)
{
	if (str_printf(out, outsz, "cosignature/v1\ntime %ju\n",
	    (uintmax_t)t) == -1) {
		log_warnx("%s: output too small", __func__);
		return -1;
	}
	return 0;
}

/* The signed message: header and checkpoint body, into a buffer of
 * COSIG_HEADER_MAX + NOTE_MAX_LEN bytes. */
static int
cosig_message(uint64_t t, const char *text, size_t len, char *msg, size_t *mlen)
{
	size_t	hl;

	if (len == 0 || len > NOTE_MAX_LEN || text[len - 1] != '\n') {
		log_warnx("%s: checkpoint body of %zu bytes", __func__, len);
		return -1;
	}
	if (cosig_header(t, msg, COSIG_HEADER_MAX) == -1)
		return -1;
	hl = strlen(msg);
	memcpy(msg + hl, text, len);
	*mlen = hl + len;
	return 0;
}

int
cosig_sign(const struct cosig_key *k, uint64_t t, const char *text, size_t len,
    char *sigline, size_t sz)
{
	char		msg[COSIG_HEADER_MAX + NOTE_MAX_LEN];
	uint8_t		raw[COSIG_RAW_LEN];
	char		b64[128];
	size_t		mlen;
	int		i;

	/* The spec: never zero, never above 2^63 - 1. */
	if (t == 0 || t > INT64_MAX) {
		log_warnx("%s: bad timestamp %ju", __func__, (uintmax_t)t);
		return -1;
	}
	if (cosig_message(t, text, len, msg, &mlen) == -1)
		return -1;
	for (i = 0; i < 4; i++)
		raw[i] = (uint8_t)(k->id >> (24 - 8 * i));
	for (i = 0; i < 8; i++)
		raw[4 + i] = (uint8_t)(t >> (56 - 8 * i));
	if (note_ed25519_sign(k->signer.key, msg, mlen, raw + 12) == -1)
		return -1;
	if (note_b64_encode(b64, sizeof(b64), raw, sizeof(raw)) == -1)
		return -1;
	if (str_printf(sigline, sz, COSIG_SIG_PREFIX "%s %s\n", k->signer.name,
	    b64) == -1) {
		log_warnx("%s: output too small", __func__);
		return -1;
	}
	return 0;
}

/* One signature line (without its newline) by v: 1 if it verifies over body
 * text[0..tlen) (*t its time), 0 if it is another key's, -1 if it is v's and
 * fails or is malformed. */
static int
cosig_verify_line(const struct note_verifier *v, const char *line, size_t n,
    const char *text, size_t tlen, uint64_t *t)
{
	char		 msg[COSIG_HEADER_MAX + NOTE_MAX_LEN];
	uint8_t		 raw[NOTE_MAX_LEN];
	const char	*sp;
	size_t		 rawlen, mlen, nl = strlen(v->name);
	uint64_t	 ts = 0;
	uint32_t	 id;
	int		 i;

	if (n < COSIG_SIG_PREFIX_LEN ||
	    memcmp(line, COSIG_SIG_PREFIX, COSIG_SIG_PREFIX_LEN) != 0)
		return -1;
	line += COSIG_SIG_PREFIX_LEN;
	n -= COSIG_SIG_PREFIX_LEN;
	if ((sp = memchr(line, ' ', n)) == NULL)
		return -1;
	if ((size_t)(sp - line) != nl || memcmp(line, v->name, nl) != 0)
		return 0;
	if (note_b64_decode(sp + 1, n - nl - 1, raw, sizeof(raw), &rawlen) == -1 ||
	    rawlen < 4)
		return -1;
	id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
	    (uint32_t)raw[2] << 8 | raw[3];
	if (id != v->id)
		return 0;
	if (rawlen != COSIG_RAW_LEN)
		return -1;
	for (i = 0; i < 8; i++)
		ts = ts << 8 | raw[4 + i];
	if (ts > INT64_MAX || cosig_message(ts, text, tlen, msg, &mlen) == -1 ||
	    !note_ed25519_verify(v->pub, msg, mlen, raw + 12, NOTE_SIG_LEN))
		return -1;
	*t = ts;
	return 1;
}

int
cosig_verify(const struct note_verifier *v, const char *msg, size_t len,
    uint64_t *t)
{
	const char	*line, *nl, *end = msg + len;
	size_t		 split;
	uint64_t	 ts = 0;
	int		 r, found = 0;

	if (len < 2 || len > NOTE_MAX_LEN || msg[len - 1] != '\n') {
		log_warnx("%s: malformed note", __func__);
		return -1;
	}
	/* The body ends at the last blank line, as in note_verify. */
	for (split = len - 1; split > 0; split--)
		if (msg[split] == '\n' && msg[split - 1] == '\n')
			break;
	if (split == 0) {
		log_warnx("%s: malformed note: no signature block", __func__);
		return -1;
	}
	for (line = msg + split + 1; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		r = cosig_verify_line(v, line, (size_t)(nl - line), msg, split, &ts);
		if (r == -1) {
			log_warnx("%s: bad or malformed cosignature line", __func__);
			return -1;
		}
		found |= r;
	}
	if (!found) {
		log_warnx("%s: no cosignature by %s+%08x", __func__, v->name,
		    v->id);
		return -1;
	}
	if (t != NULL)
		*t = ts;
	return 0;
}
