/* C2SP signed-note v1 with Ed25519 (type 0x01) and C2SP tlog-checkpoint bodies:
 * what the keeper signs every second and what audit verify and banks check. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"
#include "util.h"
#include "keeper/note.h"

/* U+2014 EM DASH and a space: how every signature line starts. */
#define NOTE_SIG_PREFIX		"\xe2\x80\x94 "
#define NOTE_SIG_PREFIX_LEN	4
/* Decoded signature lines are 4 bytes of key id plus the signature; foreign
 * (post-quantum) signatures may be large, but never exceed the note. */
#define NOTE_MAX_RAWSIG		(NOTE_MAX_LEN / 4 * 3)

static const char	note_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
note_b64_encode(char *dst, size_t dstsz, const uint8_t *src, size_t len)
{
	size_t		i, o = 0;
	uint32_t	v;

	if (dstsz < (len + 2) / 3 * 4 + 1) {
		log_warnx("%s: output too small", __func__);
		return -1;
	}
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
		dst[o++] = note_b64_alphabet[v >> 18];
		dst[o++] = note_b64_alphabet[(v >> 12) & 63];
		dst[o++] = note_b64_alphabet[(v >> 6) & 63];
		dst[o++] = note_b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)src[i] << 16;
		dst[o++] = note_b64_alphabet[v >> 18];
		dst[o++] = note_b64_alphabet[(v >> 12) & 63];
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (len - i == 2) {
		v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
		dst[o++] = note_b64_alphabet[v >> 18];
		dst[o++] = note_b64_alphabet[(v >> 12) & 63];
		dst[o++] = note_b64_alphabet[(v >> 6) & 63];
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return 0;
}

static int
note_b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict (one accepted encoding per byte string): see note.h. */
int
note_b64_decode(const char *src, size_t len, uint8_t *out, size_t max,
    size_t *outlen)
{
	size_t		i, o = 0, pad = 0;
	uint32_t	v;
	int		d[4], j;

	if (len == 0 || len % 4 != 0)
		return -1;
	if (src[len - 1] == '=')
		pad = src[len - 2] == '=' ? 2 : 1;
	if (len / 4 * 3 - pad > max)
		return -1;
	for (i = 0; i < len; i += 4) {
		for (j = 0; j < 4; j++) {
			if (i + 4 == len && j >= 4 - (int)pad)
				d[j] = 0;
			else if ((d[j] = note_b64_value(src[i + (size_t)j])) < 0)
				return -1;
		}
		v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 |
		    (uint32_t)d[2] << 6 | (uint32_t)d[3];
		out[o++] = (uint8_t)(v >> 16);
		if (i + 4 < len || pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (i + 4 < len || pad < 1)
			out[o++] = (uint8_t)v;
	}
	if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
		return -1;
	*outlen = o;
	return 0;
}

/* Decodes one UTF-8 sequence at s (n bytes left): its length, or -1 for an
 * invalid, overlong, surrogate or out-of-range sequence. */
static int
note_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	int		len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		*cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		*cp = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;		/* no surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		*cp = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;		/* nothing above U+10FFFF */
	} else
		return -1;
	if ((size_t)len > n)
		return -1;
	for (i = 1; i < len; i++) {
		if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
			return -1;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return len;
}

/* Go's unicode.IsSpace, which the reference implementation uses for names. */
static int
note_is_space(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 ||
	    cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	    cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
	    cp == 0x3000;
}

/* 1 if s[0..n) is UTF-8 with no control character other than newline, which
 * the spec requires of a whole signed note. */
static int
note_text_valid(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0;
	uint32_t		 cp;
	int			 l;

	while (i < n) {
		if ((l = note_utf8_next(p + i, n - i, &cp)) < 0)
			return 0;
		if (cp < 0x20 && cp != '\n')
			return 0;
		i += (size_t)l;
	}
	return 1;
}

/* Name check over a counted string (names inside a note are not terminated). */
static int
note_name_valid_n(const char *name, size_t n)
{
	const unsigned char	*p = (const unsigned char *)name;
	size_t			 i = 0;
	uint32_t		 cp;
	int			 l;

	if (n == 0 || n > NOTE_NAME_MAX)
		return 0;
	while (i < n) {
		if ((l = note_utf8_next(p + i, n - i, &cp)) < 0)
			return 0;
		if (cp < 0x20 || cp == 0x7f || cp == '+' || note_is_space(cp))
			return 0;
		i += (size_t)l;
	}
	return 1;
}

int
note_name_valid(const char *name)
{
	return note_name_valid_n(name, strnlen(name, NOTE_NAME_MAX + 1));
}

static int
note_key_id_n(const char *name, size_t namelen, uint8_t alg,
    const uint8_t pub[NOTE_PUB_LEN], uint32_t *id)
{
	EVP_MD_CTX	*ctx;
	uint8_t		 sep[2] = { '\n', alg }, h[EVP_MAX_MD_SIZE];
	unsigned int	 hl = 0;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return -1;
	}
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, name, namelen) == 1 &&
	    EVP_DigestUpdate(ctx, sep, sizeof(sep)) == 1 &&
	    EVP_DigestUpdate(ctx, pub, NOTE_PUB_LEN) == 1 &&
	    EVP_DigestFinal_ex(ctx, h, &hl) == 1 && hl == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		log_warnx("%s: SHA-256 failed", __func__);
		return -1;
	}
	*id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	return 0;
}

int
note_key_id_alg(const char *name, uint8_t alg, const uint8_t pub[NOTE_PUB_LEN],
    uint32_t *id)
{
	if (!note_name_valid(name)) {
		log_warnx("%s: invalid key name", __func__);
		return -1;
	}
	return note_key_id_n(name, strlen(name), alg, pub, id);
}

int
note_key_id(const char *name, const uint8_t pub[NOTE_PUB_LEN], uint32_t *id)
{
	return note_key_id_alg(name, NOTE_ALG_ED25519, pub, id);
}

int
note_verifier_init(struct note_verifier *v, const char *name,
    const uint8_t pub[NOTE_PUB_LEN])
{
	memset(v, 0, sizeof(*v));
	if (note_key_id(name, pub, &v->id) == -1)
		return -1;
	/* cannot truncate: note_key_id checked the length */
	(void)str_copy(v->name, sizeof(v->name), name);
	memcpy(v->pub, pub, NOTE_PUB_LEN);
	return 0;
}

/*
 * Splits "name+hexid+base64key" (s, NUL-terminated) and checks each part; the
 * decoded key (0x01 || 32 bytes) goes to key. Shared by vkey and skey parsing.
 */
static int
note_key_parts(const char *s, const char *what, uint8_t alg,
    char name[NOTE_NAME_MAX + 1], uint32_t *id, uint8_t key[1 + NOTE_PUB_LEN])
{
	const char	*p1, *p2;
	char		 hex[9];
	uint8_t		 idb[4];
	size_t		 klen;

	if ((p1 = strchr(s, '+')) == NULL || (p2 = strchr(p1 + 1, '+')) == NULL) {
		log_warnx("%s: %s is not name+id+key", __func__, what);
		return -1;
	}
	if (!note_name_valid_n(s, (size_t)(p1 - s))) {
		log_warnx("%s: %s has an invalid key name", __func__, what);
		return -1;
	}
	if (p2 - p1 - 1 != 8) {
		log_warnx("%s: %s key id is not 8 hex digits", __func__, what);
		return -1;
	}
	memcpy(hex, p1 + 1, 8);
	hex[8] = '\0';
	if (hex_decode(idb, sizeof(idb), hex) == -1) {
		log_warnx("%s: %s key id is not 8 hex digits", __func__, what);
		return -1;
	}
	if (note_b64_decode(p2 + 1, strlen(p2 + 1), key, 1 + NOTE_PUB_LEN,
	    &klen) == -1 || klen != 1 + NOTE_PUB_LEN) {
		log_warnx("%s: %s key is not base64 of 33 bytes", __func__, what);
		return -1;
	}
	if (key[0] != alg) {
		log_warnx("%s: %s key type 0x%02x is not 0x%02x", __func__, what,
		    key[0], alg);
		return -1;
	}
	memcpy(name, s, (size_t)(p1 - s));
	name[p1 - s] = '\0';
	*id = (uint32_t)idb[0] << 24 | (uint32_t)idb[1] << 16 |
	    (uint32_t)idb[2] << 8 | idb[3];
	return 0;
}

int
note_verifier_parse_alg(struct note_verifier *v, const char *vkey, uint8_t alg)
{
	uint8_t		key[1 + NOTE_PUB_LEN];
	uint32_t	want;

	memset(v, 0, sizeof(*v));
	if (strnlen(vkey, NOTE_VKEY_MAX) >= NOTE_VKEY_MAX) {
		log_warnx("%s: vkey too long", __func__);
		return -1;
	}
	if (note_key_parts(vkey, "vkey", alg, v->name, &v->id, key) == -1)
		return -1;
	memcpy(v->pub, key + 1, NOTE_PUB_LEN);
	if (note_key_id_alg(v->name, alg, v->pub, &want) == -1)
		return -1;
	if (want != v->id) {
		log_warnx("%s: vkey id %08x does not match its key (%08x)",
		    __func__, v->id, want);
		return -1;
	}
	return 0;
}

int
note_verifier_parse(struct note_verifier *v, const char *vkey)
{
	return note_verifier_parse_alg(v, vkey, NOTE_ALG_ED25519);
}

int
note_verifier_format_alg(const struct note_verifier *v, uint8_t alg, char *out,
    size_t outsz)
{
	uint8_t	key[1 + NOTE_PUB_LEN];
	char	b64[64];

	key[0] = alg;
	memcpy(key + 1, v->pub, NOTE_PUB_LEN);
	if (note_b64_encode(b64, sizeof(b64), key, sizeof(key)) == -1)
		return -1;
	if (str_printf(out, outsz, "%s+%08x+%s", v->name, v->id, b64) == -1) {
		log_warnx("%s: output too small", __func__);
		return -1;
	}
	return 0;
}

int
note_verifier_format(const struct note_verifier *v, char *out, size_t outsz)
{
	return note_verifier_format_alg(v, NOTE_ALG_ED25519, out, outsz);
}

/* Fills name, id and pub of s from its key, which must be Ed25519. */
static int
note_signer_fill(struct note_signer *s, const char *name)
{
	size_t	publen = NOTE_PUB_LEN;

	if (!EVP_PKEY_is_a(s->key, "ED25519")) {
		log_warnx("%s: signed-note keys must be Ed25519", __func__);
		return -1;
	}
	if (EVP_PKEY_get_raw_public_key(s->key, s->pub, &publen) != 1 ||
	    publen != NOTE_PUB_LEN) {
		log_warnx("%s: cannot get the public key", __func__);
		return -1;
	}
	if (note_key_id(name, s->pub, &s->id) == -1)
		return -1;
	(void)str_copy(s->name, sizeof(s->name), name);
	return 0;
}

int
note_signer_parse(struct note_signer *s, const char *skey)
{
	static const char	prefix[] = "PRIVATE+KEY+";
	uint8_t			key[1 + NOTE_PUB_LEN];
	char			name[NOTE_NAME_MAX + 1];
	uint32_t		id;
	int			rc = -1;

	memset(s, 0, sizeof(*s));
	if (strnlen(skey, NOTE_SKEY_MAX) >= NOTE_SKEY_MAX ||
	    strncmp(skey, prefix, sizeof(prefix) - 1) != 0) {
		log_warnx("%s: not a PRIVATE+KEY string", __func__);
		return -1;
	}
	if (note_key_parts(skey + sizeof(prefix) - 1, "skey", NOTE_ALG_ED25519,
	    name, &id, key) == -1)
		goto out;
	s->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, key + 1,
	    NOTE_PUB_LEN);
	if (s->key == NULL) {
		log_warnx("%s: cannot load the Ed25519 seed", __func__);
		goto out;
	}
	if (note_signer_fill(s, name) == -1)
		goto out;
	if (s->id != id) {
		log_warnx("%s: skey id %08x does not match its key (%08x)",
		    __func__, id, s->id);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	if (rc == -1)
		note_signer_free(s);
	return rc;
}

int
note_signer_from_pkey(struct note_signer *s, const char *name, EVP_PKEY *pkey)
{
	memset(s, 0, sizeof(*s));
	if (pkey == NULL || EVP_PKEY_up_ref(pkey) != 1) {
		log_warnx("%s: no key", __func__);
		return -1;
	}
	s->key = pkey;
	if (note_signer_fill(s, name) == -1) {
		note_signer_free(s);
		return -1;
	}
	return 0;
}

void
note_signer_verifier(const struct note_signer *s, struct note_verifier *v)
{
	memset(v, 0, sizeof(*v));
	memcpy(v->name, s->name, sizeof(v->name));
	v->id = s->id;
	memcpy(v->pub, s->pub, NOTE_PUB_LEN);
}

void
note_signer_free(struct note_signer *s)
{
	/* EVP_PKEY_free clears the Ed25519 private key it holds. */
	EVP_PKEY_free(s->key);
	OPENSSL_cleanse(s, sizeof(*s));
}

static int
note_text_signable(const char *text, size_t len)
{
	if (len == 0 || text[len - 1] != '\n' || len > NOTE_MAX_LEN) {
		log_warnx("%s: note text must be 1 to %d bytes ending in newline",
		    __func__, NOTE_MAX_LEN);
		return 0;
	}
	if (!note_text_valid(text, len)) {
		log_warnx("%s: note text is not UTF-8 without control characters",
		    __func__);
		return 0;
	}
	return 1;
}

int
note_ed25519_sign(EVP_PKEY *key, const void *msg, size_t len,
    uint8_t sig[NOTE_SIG_LEN])
{
	EVP_MD_CTX	*ctx;
	size_t		 siglen = NOTE_SIG_LEN;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return -1;
	}
	/* Ed25519 is one-shot: no digest, the whole text is signed. */
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 &&
	    siglen == NOTE_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		log_warnx("%s: Ed25519 signing failed", __func__);
		return -1;
	}
	return 0;
}

int
note_sign(const struct note_signer *s, const char *text, size_t len,
    char *sigline, size_t sz)
{
	uint8_t		 raw[4 + NOTE_SIG_LEN];
	char		 b64[128];

	if (s->key == NULL || !note_text_signable(text, len))
		return -1;
	if (note_ed25519_sign(s->key, text, len, raw + 4) == -1)
		return -1;
	raw[0] = (uint8_t)(s->id >> 24);
	raw[1] = (uint8_t)(s->id >> 16);
	raw[2] = (uint8_t)(s->id >> 8);
	raw[3] = (uint8_t)s->id;
	if (note_b64_encode(b64, sizeof(b64), raw, sizeof(raw)) == -1)
		return -1;
	if (str_printf(sigline, sz, NOTE_SIG_PREFIX "%s %s\n", s->name, b64) == -1) {
		log_warnx("%s: output too small", __func__);
		return -1;
	}
	return 0;
}

int
note_sign_note(const struct note_signer *s, const char *text, size_t len,
    char *out, size_t outsz, size_t *outlen)
{
	char	sigline[NOTE_SIGLINE_MAX];
	size_t	sl;

	if (note_sign(s, text, len, sigline, sizeof(sigline)) == -1)
		return -1;
	sl = strlen(sigline);
	if (len + 1 + sl >= outsz) {
		log_warnx("%s: output too small", __func__);
		return -1;
	}
	memcpy(out, text, len);
	out[len] = '\n';
	memcpy(out + len + 1, sigline, sl + 1);
	*outlen = len + 1 + sl;
	return 0;
}

int
note_ed25519_verify(const uint8_t pub[NOTE_PUB_LEN], const char *text,
    size_t len, const uint8_t *sig, size_t siglen)
{
	EVP_PKEY	*pk;
	EVP_MD_CTX	*ctx = NULL;
	int		 ok = 0;

	if (siglen != NOTE_SIG_LEN)
		return 0;
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, NOTE_PUB_LEN);
	if (pk != NULL && (ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1)
		ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)text,
		    len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return ok;
}

int
note_verify(const char *msg, size_t len, const struct note_verifier *keys,
    size_t nkeys, size_t *textlen)
{
	uint8_t			 raw[NOTE_MAX_RAWSIG];
	const char		*sigs, *line, *nl, *sp;
	size_t			 split, tlen, i, nsig = 0, rawlen, nverified = 0;
	uint32_t		 id;

	if (len == 0 || len > NOTE_MAX_LEN) {
		log_warnx("%s: note of %zu bytes (at most %d)", __func__, len,
		    NOTE_MAX_LEN);
		return -1;
	}
	if (!note_text_valid(msg, len)) {
		log_warnx("%s: note is not UTF-8 without control characters",
		    __func__);
		return -1;
	}
	/* The text ends at the last blank line (signature lines are never
	 * empty), so the text itself may contain blank lines. */
	for (split = len - 1; split > 0; split--)
		if (msg[split] == '\n' && msg[split - 1] == '\n')
			break;
	if (split == 0 || msg[len - 1] != '\n' || split == len - 1) {
		log_warnx("%s: malformed note: no signature block", __func__);
		return -1;
	}
	tlen = split;		/* text includes its final newline */
	sigs = msg + split + 1;
	for (line = sigs; line < msg + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(msg + len - line));
		if (++nsig > NOTE_MAX_SIGS) {
			log_warnx("%s: more than %d signatures", __func__,
			    NOTE_MAX_SIGS);
			return -1;
		}
		if (nl - line < NOTE_SIG_PREFIX_LEN ||
		    memcmp(line, NOTE_SIG_PREFIX, NOTE_SIG_PREFIX_LEN) != 0) {
			log_warnx("%s: malformed signature line", __func__);
			return -1;
		}
		line += NOTE_SIG_PREFIX_LEN;
		sp = memchr(line, ' ', (size_t)(nl - line));
		if (sp == NULL || !note_name_valid_n(line, (size_t)(sp - line)) ||
		    note_b64_decode(sp + 1, (size_t)(nl - sp - 1), raw, sizeof(raw),
		    &rawlen) == -1 || rawlen < 5) {
			log_warnx("%s: malformed signature line", __func__);
			return -1;
		}
		id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
		    (uint32_t)raw[2] << 8 | raw[3];
		for (i = 0; i < nkeys; i++) {
			if (keys[i].id != id ||
			    strlen(keys[i].name) != (size_t)(sp - line) ||
			    memcmp(keys[i].name, line, (size_t)(sp - line)) != 0)
				continue;
			/* A known key must verify: a bad signature from a key
			 * we trust means tampering, so the note is refused. */
			if (!note_ed25519_verify(keys[i].pub, msg, tlen, raw + 4,
			    rawlen - 4)) {
				log_warnx("%s: bad signature by %s+%08x", __func__,
				    keys[i].name, id);
				return -1;
			}
			nverified++;
		}
	}
	if (nverified == 0) {
		log_warnx("%s: no signature by a known key", __func__);
		return -1;
	}
	if (textlen != NULL)
		*textlen = tlen;
	return 0;
}

int
note_checkpoint_format(const char *origin, uint64_t size,
    const uint8_t root[NOTE_HASH_LEN], const char *const *ext, size_t next,
    char *out, size_t outsz, size_t *outlen)
{
	char	b64[48];
	size_t	i, n, el;

	n = strnlen(origin, NOTE_NAME_MAX + 1);
	if (n == 0 || n > NOTE_NAME_MAX || memchr(origin, '\n', n) != NULL ||
	    !note_text_valid(origin, n)) {
		log_warnx("%s: invalid origin", __func__);
		return -1;
	}
	if (next > NOTE_MAX_EXTENSIONS) {
		log_warnx("%s: more than %d extension lines", __func__,
		    NOTE_MAX_EXTENSIONS);
		return -1;
	}
	if (note_b64_encode(b64, sizeof(b64), root, NOTE_HASH_LEN) == -1)
		return -1;
	if (str_printf(out, outsz, "%s\n%ju\n%s\n", origin, (uintmax_t)size,
	    b64) == -1) {
		log_warnx("%s: output too small", __func__);
		return -1;
	}
	n = strlen(out);
	for (i = 0; i < next; i++) {
		el = strnlen(ext[i], NOTE_MAX_LEN);
		if (el == 0 || el >= NOTE_MAX_LEN || memchr(ext[i], '\n', el) ||
		    !note_text_valid(ext[i], el)) {
			log_warnx("%s: invalid extension line %zu", __func__, i);
			return -1;
		}
		if (n + el + 1 >= outsz) {
			log_warnx("%s: output too small", __func__);
			return -1;
		}
		memcpy(out + n, ext[i], el);
		out[n + el] = '\n';
		n += el + 1;
		out[n] = '\0';
	}
	*outlen = n;
	return 0;
}

int
note_checkpoint_parse(const char *text, size_t len, struct note_checkpoint *cp)
{
	const char	*line, *nl, *end = text + len;
	char		 num[24];
	size_t		 n, rl, lineno = 0;

	memset(cp, 0, sizeof(*cp));
	if (len == 0 || len > NOTE_MAX_LEN || text[len - 1] != '\n' ||
	    !note_text_valid(text, len)) {
		log_warnx("%s: checkpoint is not newline-terminated UTF-8 text",
		    __func__);
		return -1;
	}
	for (line = text; line < end; line = nl + 1, lineno++) {
		nl = memchr(line, '\n', (size_t)(end - line));
		n = (size_t)(nl - line);
		if (n == 0) {
			log_warnx("%s: empty line %zu", __func__, lineno + 1);
			return -1;
		}
		switch (lineno) {
		case 0:
			if (n > NOTE_NAME_MAX) {
				log_warnx("%s: origin too long", __func__);
				return -1;
			}
			memcpy(cp->origin, line, n);
			cp->origin[n] = '\0';
			break;
		case 1:
			/* canonical decimal: no sign, no leading zero */
			if (n >= sizeof(num) || (line[0] == '0' && n > 1)) {
				log_warnx("%s: tree size is not canonical", __func__);
				return -1;
			}
			memcpy(num, line, n);
			num[n] = '\0';
			if (parse_u64(num, 0, UINT64_MAX, &cp->size) == -1) {
				log_warnx("%s: tree size is not a number", __func__);
				return -1;
			}
			break;
		case 2:
			if (note_b64_decode(line, n, cp->root, NOTE_HASH_LEN,
			    &rl) == -1 || rl != NOTE_HASH_LEN) {
				log_warnx("%s: root is not base64 of 32 bytes",
				    __func__);
				return -1;
			}
			break;
		default:
			cp->nextensions++;
		}
	}
	if (lineno < 3) {
		log_warnx("%s: checkpoint has %zu lines (at least 3)", __func__,
		    lineno);
		return -1;
	}
	return 0;
}

int
note_checkpoint_open(const char *msg, size_t len, const struct note_verifier *keys,
    size_t nkeys, struct note_checkpoint *cp)
{
	size_t	tlen;

	if (note_verify(msg, len, keys, nkeys, &tlen) == -1)
		return -1;
	return note_checkpoint_parse(msg, tlen, cp);
}
