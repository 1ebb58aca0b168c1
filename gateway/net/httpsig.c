/* Content-Digest (RFC 9530) and HTTP message signatures (RFC 9421) in the
 * gateway's bank-delivery profile: digest, signature base, signer, verifier. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "log.h"
#include "util.h"
#include "net/httpsig.h"

#define HTTPSIG_LABEL		"sig1"
#define HTTPSIG_COMPONENTS \
	"(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
#define HTTPSIG_DIGEST_PREFIX	"sha-256=:"
#define HTTPSIG_SHA256_LEN	32
/* The longest sf-string taken from a parameter (keyid, alg) or a component
 * name; ours are far shorter. */
#define HTTPSIG_STR_MAX		128
/* RFC 8941 §3.3.1: an sf-integer has at most 15 digits. */
#define HTTPSIG_INT_DIGITS	15
#define HTTPSIG_INT_MAX		999999999999999LL
/* ECDSA P-256 in RFC 9421 §3.3.4: r and s, each 32 bytes big-endian. */
#define HTTPSIG_ECDSA_HALF	32
#define HTTPSIG_RAW_SIG		64
/* Base64 of the largest signature, and a NUL. */
#define HTTPSIG_B64_SIG		(4 * ((SIGN_MAX_SIG + 2) / 3) + 1)

static const char *const	httpsig_component_names[] = {
	"@method", "@path", "content-type", "content-digest"
};

static const char	httpsig_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The signature parameters, in the order they were received (or are sent),
 * which is the order @signature-params serializes them in. */
struct httpsig_params {
	int64_t	created;
	char	keyid[HTTPSIG_STR_MAX];
	char	alg[HTTPSIG_STR_MAX];
	char	order[3];		/* 'c'reated, 'k'eyid, 'a'lg */
	size_t	n;
};

/* A bounded output: appends past sz set overflow instead of writing. p is
 * always NUL-terminated (sz >= 1). */
struct httpsig_buf {
	char	*p;
	size_t	 sz;
	size_t	 len;
	int	 overflow;
};

static void
httpsig_buf_init(struct httpsig_buf *b, char *p, size_t sz)
{
	b->p = p;
	b->sz = sz;
	b->len = 0;
	b->overflow = sz == 0;
	if (sz > 0)
		p[0] = '\0';
}

static void
httpsig_put(struct httpsig_buf *b, const char *s, size_t n)
{
	if (b->overflow || n >= b->sz - b->len) {
		b->overflow = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
httpsig_puts(struct httpsig_buf *b, const char *s)
{
	httpsig_put(b, s, strlen(s));
}

/* Our name of k's algorithm in the alg parameter; NULL for SM2, which has
 * no registered RFC 9421 algorithm and is sent without one. */
static const char *
httpsig_alg(const struct sign_key *k)
{
	switch (k->alg) {
	case SIGN_ALG_ED25519:
		return "ed25519";
	case SIGN_ALG_ECDSA_P256:
		return "ecdsa-p256-sha256";
	default:
		return NULL;
	}
}

static int
httpsig_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static const char *
httpsig_skip_ows(const char *p)
{
	while (httpsig_is_ows(*p))
		p++;
	return p;
}

/*
 * A component value as it goes into the base: s without leading and trailing
 * blanks (RFC 9421 §2.1). Refused when empty or holding anything but
 * printable ASCII and tabs: a CR or LF would let a value forge a base line.
 */
static int
httpsig_value(const char *s, const char **start, size_t *len)
{
	const unsigned char	*p;
	size_t			 n;

	s = httpsig_skip_ows(s);
	n = strlen(s);
	while (n > 0 && httpsig_is_ows(s[n - 1]))
		n--;
	if (n == 0)
		return -1;
	for (p = (const unsigned char *)s; p < (const unsigned char *)s + n; p++)
		if ((*p < 0x20 && *p != '\t') || *p > 0x7e)
			return -1;
	*start = s;
	*len = n;
	return 0;
}

/* @path: the request target's path, without the query (RFC 9421 §2.2.6). An
 * origin-form target starts with "/"; anything else is not ours to sign. */
static int
httpsig_path(const char *target, const char **start, size_t *len)
{
	const char	*q;

	if (httpsig_value(target, start, len) == -1 || (*start)[0] != '/')
		return -1;
	if ((q = memchr(*start, '?', *len)) != NULL)
		*len = (size_t)(q - *start);
	return 0;
}

/* Appends s as an sf-string (RFC 8941 §4.1.6): quoted, with " and \
 * escaped; anything outside printable ASCII cannot be one. */
static int
httpsig_put_sf_string(struct httpsig_buf *b, const char *s)
{
	const unsigned char	*p;

	httpsig_put(b, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e)
			return -1;
		if (*p == '"' || *p == '\\')
			httpsig_put(b, "\\", 1);
		httpsig_put(b, (const char *)p, 1);
	}
	httpsig_put(b, "\"", 1);
	return 0;
}

/* The inner list after "sig1=": the fixed components, then the parameters
 * in pp's order. It is both the Signature-Input member's value and the
 * value of @signature-params in the base. */
static int
httpsig_params_serialize(const struct httpsig_params *pp, char *out,
    size_t outsz)
{
	struct httpsig_buf	b;
	char			num[32];
	size_t			i;

	httpsig_buf_init(&b, out, outsz);
	httpsig_puts(&b, HTTPSIG_COMPONENTS);
	for (i = 0; i < pp->n; i++) {
		switch (pp->order[i]) {
		case 'c':
			if (str_printf(num, sizeof(num), ";created=%lld",
			    (long long)pp->created) == -1)
				return -1;
			httpsig_puts(&b, num);
			break;
		case 'k':
			httpsig_puts(&b, ";keyid=");
			if (httpsig_put_sf_string(&b, pp->keyid) == -1)
				return -1;
			break;
		case 'a':
			httpsig_puts(&b, ";alg=");
			if (httpsig_put_sf_string(&b, pp->alg) == -1)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return b.overflow ? -1 : 0;
}

/*
 * The signature base (RFC 9421 §2.5) of the profile's four components and
 * params (the serialized inner list) into out (size outsz); *outlen is its
 * length, without the NUL. *why says what was wrong on failure.
 */
static int
httpsig_base(const char *method, const char *path, const char *ctype,
    const char *digest, const char *params, char *out, size_t outsz,
    size_t *outlen, const char **why)
{
	struct httpsig_buf	 b;
	const char		*v[nitems(httpsig_component_names)];
	size_t			 vlen[nitems(httpsig_component_names)], i;

	if (httpsig_value(method, &v[0], &vlen[0]) == -1 ||
	    httpsig_path(path, &v[1], &vlen[1]) == -1 ||
	    httpsig_value(ctype, &v[2], &vlen[2]) == -1 ||
	    httpsig_value(digest, &v[3], &vlen[3]) == -1) {
		*why = "bad-component";
		return -1;
	}
	/* A method is a token: a blank inside would make two of it. */
	if (memchr(v[0], ' ', vlen[0]) != NULL ||
	    memchr(v[0], '\t', vlen[0]) != NULL) {
		*why = "bad-component";
		return -1;
	}
	httpsig_buf_init(&b, out, outsz);
	for (i = 0; i < nitems(httpsig_component_names); i++) {
		httpsig_puts(&b, "\"");
		httpsig_puts(&b, httpsig_component_names[i]);
		httpsig_puts(&b, "\": ");
		httpsig_put(&b, v[i], vlen[i]);
		httpsig_puts(&b, "\n");
	}
	httpsig_puts(&b, "\"@signature-params\": ");
	httpsig_puts(&b, params);
	if (b.overflow) {
		*why = "too-long";
		return -1;
	}
	*outlen = b.len;
	return 0;
}

/* Standard base64 with padding of len bytes into dst (size dstsz). */
static int
httpsig_b64_encode(char *dst, size_t dstsz, const uint8_t *src, size_t len)
{
	if (len > SIGN_MAX_SIG || dstsz < 4 * ((len + 2) / 3) + 1)
		return -1;
	/* EVP_EncodeBlock writes no newlines and terminates with a NUL. */
	(void)EVP_EncodeBlock((unsigned char *)dst, src, (int)len);
	return 0;
}

static int
httpsig_b64_value(char c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(httpsig_b64_alphabet, c)) == NULL)
		return -1;
	return (int)(p - httpsig_b64_alphabet);
}

/*
 * Strict standard base64 of src[0..len) into out (at most max bytes):
 * padding required, no blanks, unused bits of the last group zero, so a
 * signature has exactly one accepted encoding.
 */
static int
httpsig_b64_decode(const char *src, size_t len, uint8_t *out, size_t max,
    size_t *outlen)
{
	size_t		i, o = 0, pad = 0;
	uint32_t	v = 0;
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
			else if ((d[j] = httpsig_b64_value(src[i +
			    (size_t)j])) < 0)
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

int
httpsig_content_digest(const void *body, size_t len, char *out, size_t outsz)
{
	unsigned char	h[EVP_MAX_MD_SIZE];
	unsigned int	hl = 0;
	char		b64[4 * ((HTTPSIG_SHA256_LEN + 2) / 3) + 1];

	if (body == NULL && len > 0) {
		log_warnx("%s: no body bytes", __func__);
		return -1;
	}
	if (EVP_Digest(len > 0 ? body : "", len, h, &hl, EVP_sha256(),
	    NULL) != 1 || hl != HTTPSIG_SHA256_LEN) {
		log_warnx("%s: SHA-256 failed", __func__);
		ERR_clear_error();
		return -1;
	}
	(void)EVP_EncodeBlock((unsigned char *)b64, h, (int)hl);
	if (str_printf(out, outsz, HTTPSIG_DIGEST_PREFIX "%s:", b64) == -1) {
		log_warnx("%s: output of %zu bytes too small", __func__, outsz);
		return -1;
	}
	return 0;
}

/* DER ECDSA-Sig-Value (what OpenSSL signs) to the raw r||s of §3.3.4. */
static int
httpsig_ecdsa_der_to_raw(const uint8_t *der, size_t len,
    uint8_t raw[HTTPSIG_RAW_SIG])
{
	const unsigned char	*p = der;
	const BIGNUM		*r, *s;
	ECDSA_SIG		*sig;
	int			 rc = -1;

	if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	if (p == der + len &&
	    BN_bn2binpad(r, raw, HTTPSIG_ECDSA_HALF) == HTTPSIG_ECDSA_HALF &&
	    BN_bn2binpad(s, raw + HTTPSIG_ECDSA_HALF,
	    HTTPSIG_ECDSA_HALF) == HTTPSIG_ECDSA_HALF)
		rc = 0;
	ECDSA_SIG_free(sig);
	return rc;
}

/* Raw r||s back to the DER OpenSSL verifies; der has room for SIGN_MAX_SIG. */
static int
httpsig_ecdsa_raw_to_der(const uint8_t raw[HTTPSIG_RAW_SIG], uint8_t *der,
    size_t dersz, size_t *derlen)
{
	ECDSA_SIG	*sig;
	BIGNUM		*r, *s;
	unsigned char	*p = der;
	int		 n, rc = -1;

	if ((sig = ECDSA_SIG_new()) == NULL)
		return -1;
	r = BN_bin2bn(raw, HTTPSIG_ECDSA_HALF, NULL);
	s = BN_bin2bn(raw + HTTPSIG_ECDSA_HALF, HTTPSIG_ECDSA_HALF, NULL);
	if (r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return -1;
	}
	/* sig owns r and s now. */
	n = i2d_ECDSA_SIG(sig, NULL);
	if (n > 0 && (size_t)n <= dersz && i2d_ECDSA_SIG(sig, &p) == n) {
		*derlen = (size_t)n;
		rc = 0;
	}
	ECDSA_SIG_free(sig);
	return rc;
}

int
httpsig_sign(const struct sign_key *k, const struct httpsig_msg *m,
    char *input, size_t inputsz, char *sig, size_t sigsz)
{
	struct httpsig_params	 pp;
	char			 params[HTTPSIG_INPUT_MAX];
	char			 base[HTTPSIG_BASE_MAX];
	char			 b64[HTTPSIG_B64_SIG];
	uint8_t			 raw[SIGN_MAX_SIG], out[HTTPSIG_RAW_SIG];
	const uint8_t		*s = raw;
	const char		*alg, *why = NULL;
	size_t			 blen, n;

	if (k == NULL || m == NULL || m->method == NULL || m->path == NULL ||
	    m->ctype == NULL || m->content_digest == NULL) {
		log_warnx("%s: missing key or message part", __func__);
		return -1;
	}
	if (m->created < 0 || m->created > HTTPSIG_INT_MAX) {
		log_warnx("%s: created %lld out of range", __func__,
		    (long long)m->created);
		return -1;
	}
	memset(&pp, 0, sizeof(pp));
	pp.created = m->created;
	pp.order[pp.n++] = 'c';
	if (str_copy(pp.keyid, sizeof(pp.keyid), k->key_id) == -1) {
		log_warnx("%s: key id too long", __func__);
		return -1;
	}
	pp.order[pp.n++] = 'k';
	if ((alg = httpsig_alg(k)) != NULL) {
		(void)str_copy(pp.alg, sizeof(pp.alg), alg);
		pp.order[pp.n++] = 'a';
	}
	if (httpsig_params_serialize(&pp, params, sizeof(params)) == -1) {
		log_warnx("%s: signature parameters too long", __func__);
		return -1;
	}
	if (str_printf(input, inputsz, HTTPSIG_LABEL "=%s", params) == -1) {
		log_warnx("%s: Signature-Input buffer of %zu bytes too small",
		    __func__, inputsz);
		return -1;
	}
	if (httpsig_base(m->method, m->path, m->ctype, m->content_digest,
	    params, base, sizeof(base), &blen, &why) == -1) {
		log_warnx("%s: cannot build the signature base: %s", __func__,
		    why);
		return -1;
	}
	if (sign_sign(k, base, blen, raw, sizeof(raw), &n) == -1) {
		log_warnx("%s: signing with key %s failed", __func__, k->key_id);
		return -1;
	}
	if (k->alg == SIGN_ALG_ECDSA_P256) {
		if (httpsig_ecdsa_der_to_raw(raw, n, out) == -1) {
			log_warnx("%s: unexpected ECDSA signature encoding",
			    __func__);
			ERR_clear_error();
			return -1;
		}
		s = out;
		n = sizeof(out);
	}
	if (httpsig_b64_encode(b64, sizeof(b64), s, n) == -1 ||
	    str_printf(sig, sigsz, HTTPSIG_LABEL "=:%s:", b64) == -1) {
		log_warnx("%s: Signature buffer of %zu bytes too small",
		    __func__, sigsz);
		return -1;
	}
	return 0;
}

/* An sf-string at *pp into out (size outsz); *pp moves past it. Refuses an
 * unterminated string, a bad escape, a byte outside printable ASCII. */
static int
httpsig_parse_sf_string(const char **pp, char *out, size_t outsz)
{
	const unsigned char	*p = (const unsigned char *)*pp;
	size_t			 n = 0;
	unsigned char		 c;

	if (*p++ != '"')
		return -1;
	for (;;) {
		c = *p++;
		if (c == '"')
			break;
		if (c == '\\') {
			c = *p++;
			if (c != '"' && c != '\\')
				return -1;
		} else if (c < 0x20 || c > 0x7e)
			return -1;	/* also the NUL of an unterminated one */
		if (n + 1 >= outsz)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	*pp = (const char *)p;
	return 0;
}

/* A non-negative sf-integer at *pp (1 to 15 digits, no decimal part). */
static int
httpsig_parse_sf_int(const char **pp, int64_t *out)
{
	const char	*p = *pp;
	int64_t		 v = 0;
	size_t		 n;

	for (n = 0; p[n] >= '0' && p[n] <= '9'; n++) {
		if (n == HTTPSIG_INT_DIGITS)
			return -1;
		v = v * 10 + (p[n] - '0');
	}
	if (n == 0 || p[n] == '.')
		return -1;
	*out = v;
	*pp = p + n;
	return 0;
}

/*
 * Parses a Signature-Input value of the profile: the single member sig1, the
 * inner list of exactly the four components in order (no component
 * parameters), then created, keyid and (optionally) alg, each once, and
 * nothing else. RFC 8941 spacing is allowed; RFC 9421 §2.3 has the verifier
 * serialize the list again for the base, which httpsig_params_serialize
 * does from what this returns.
 */
static int
httpsig_parse_input(const char *s, struct httpsig_params *pp)
{
	const char	*p;
	char		 name[HTTPSIG_STR_MAX], key[16];
	size_t		 n = 0, klen;
	int		 seen_c = 0, seen_k = 0, seen_a = 0;

	memset(pp, 0, sizeof(*pp));
	p = httpsig_skip_ows(s);
	if (strncmp(p, HTTPSIG_LABEL "=(", sizeof(HTTPSIG_LABEL "=(") - 1) != 0)
		return -1;
	p += sizeof(HTTPSIG_LABEL "=(") - 1;
	while (*p == ' ')
		p++;
	while (*p != ')') {
		if (n == nitems(httpsig_component_names) ||
		    httpsig_parse_sf_string(&p, name, sizeof(name)) == -1 ||
		    strcmp(name, httpsig_component_names[n]) != 0)
			return -1;
		n++;
		/* Items are separated by spaces; ';' (a component
		 * parameter) and anything else are not the profile. */
		if (*p != ' ' && *p != ')')
			return -1;
		while (*p == ' ')
			p++;
	}
	if (n != nitems(httpsig_component_names))
		return -1;
	p++;
	while (*p == ';') {
		p++;
		while (*p == ' ')
			p++;
		klen = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_-.*");
		if (klen == 0 || klen >= sizeof(key) || p[klen] != '=')
			return -1;
		memcpy(key, p, klen);
		key[klen] = '\0';
		p += klen + 1;
		if (strcmp(key, "created") == 0 && !seen_c) {
			if (httpsig_parse_sf_int(&p, &pp->created) == -1)
				return -1;
			seen_c = 1;
			pp->order[pp->n++] = 'c';
		} else if (strcmp(key, "keyid") == 0 && !seen_k) {
			if (httpsig_parse_sf_string(&p, pp->keyid,
			    sizeof(pp->keyid)) == -1)
				return -1;
			seen_k = 1;
			pp->order[pp->n++] = 'k';
		} else if (strcmp(key, "alg") == 0 && !seen_a) {
			if (httpsig_parse_sf_string(&p, pp->alg,
			    sizeof(pp->alg)) == -1)
				return -1;
			seen_a = 1;
			pp->order[pp->n++] = 'a';
		} else
			return -1;	/* unknown (expires, nonce) or twice */
	}
	p = httpsig_skip_ows(p);
	/* Another member (", sig2=...") or junk: not the profile. */
	if (*p != '\0' || !seen_c || !seen_k)
		return -1;
	return 0;
}

/* Parses a Signature value "sig1=:<base64>:" into sig (at most max bytes). */
static int
httpsig_parse_signature(const char *s, uint8_t *sig, size_t max,
    size_t *siglen)
{
	const char	*p, *end;

	p = httpsig_skip_ows(s);
	if (strncmp(p, HTTPSIG_LABEL "=:", sizeof(HTTPSIG_LABEL "=:") - 1) != 0)
		return -1;
	p += sizeof(HTTPSIG_LABEL "=:") - 1;
	if ((end = strchr(p, ':')) == NULL)
		return -1;
	if (*httpsig_skip_ows(end + 1) != '\0')
		return -1;
	return httpsig_b64_decode(p, (size_t)(end - p), sig, max, siglen);
}

/* The Content-Digest received against the body's. Only the profile's form
 * is taken: one sha-256 member, nothing else. */
static int
httpsig_check_digest(const char *hdr, const void *body, size_t len,
    const char **why)
{
	char		 want[HTTPSIG_DIGEST_MAX];
	const char	*v;
	size_t		 n;

	if (httpsig_value(hdr, &v, &n) == -1 ||
	    n <= sizeof(HTTPSIG_DIGEST_PREFIX) ||
	    strncmp(v, HTTPSIG_DIGEST_PREFIX,
	    sizeof(HTTPSIG_DIGEST_PREFIX) - 1) != 0 || v[n - 1] != ':' ||
	    memchr(v + sizeof(HTTPSIG_DIGEST_PREFIX) - 1, ':',
	    n - sizeof(HTTPSIG_DIGEST_PREFIX)) != NULL) {
		*why = "bad-content-digest";
		return -1;
	}
	if (httpsig_content_digest(body, len, want, sizeof(want)) == -1) {
		*why = "internal";
		return -1;
	}
	if (strlen(want) != n || memcmp(want, v, n) != 0) {
		*why = "digest-mismatch";
		return -1;
	}
	return 0;
}

int
httpsig_verify(const struct sign_key *pub, const char *method,
    const char *path, const char *ctype, const char *content_digest_hdr,
    const char *sig_input_hdr, const char *sig_hdr, const void *body,
    size_t len, const char **why)
{
	struct httpsig_params	 pp;
	char			 params[HTTPSIG_INPUT_MAX];
	char			 base[HTTPSIG_BASE_MAX];
	uint8_t			 sig[SIGN_MAX_SIG], der[SIGN_MAX_SIG];
	const uint8_t		*s = sig;
	const char		*alg, *dummy;
	size_t			 blen, n;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (pub == NULL || (body == NULL && len > 0))
		*why = "internal";
	else if (method == NULL || path == NULL)
		*why = "bad-component";
	else if (ctype == NULL)
		*why = "missing-content-type";
	else if (content_digest_hdr == NULL)
		*why = "missing-content-digest";
	else if (sig_input_hdr == NULL)
		*why = "missing-signature-input";
	else if (sig_hdr == NULL)
		*why = "missing-signature";
	if (*why != NULL)
		goto fail;

	if (httpsig_check_digest(content_digest_hdr, body, len, why) == -1)
		goto fail;
	if (httpsig_parse_input(sig_input_hdr, &pp) == -1) {
		*why = "bad-signature-input";
		goto fail;
	}
	if (strcmp(pp.keyid, pub->key_id) != 0) {
		*why = "wrong-key";
		goto fail;
	}
	/* alg is optional (the key says the algorithm); present, it must be
	 * the key's, and an SM2 key has no name to match. */
	alg = httpsig_alg(pub);
	if (memchr(pp.order, 'a', pp.n) != NULL &&
	    (alg == NULL || strcmp(pp.alg, alg) != 0)) {
		*why = "alg-mismatch";
		goto fail;
	}
	if (httpsig_parse_signature(sig_hdr, sig, sizeof(sig), &n) == -1) {
		*why = "bad-signature-header";
		goto fail;
	}
	if (httpsig_params_serialize(&pp, params, sizeof(params)) == -1) {
		*why = "bad-signature-input";
		goto fail;
	}
	if (httpsig_base(method, path, ctype, content_digest_hdr, params, base,
	    sizeof(base), &blen, why) == -1)
		goto fail;

	switch (pub->alg) {
	case SIGN_ALG_ED25519:
		if (n != HTTPSIG_RAW_SIG)
			*why = "bad-signature";
		break;
	case SIGN_ALG_ECDSA_P256:
		if (n != HTTPSIG_RAW_SIG ||
		    httpsig_ecdsa_raw_to_der(sig, der, sizeof(der), &n) == -1)
			*why = "bad-signature";
		s = der;
		break;
	default:
		break;
	}
	if (*why != NULL)
		goto fail;
	if (sign_verify(pub, base, blen, s, n) == -1) {
		*why = "bad-signature";
		goto fail;
	}
	return 0;
fail:
	ERR_clear_error();
	log_warnx("%s: refused: %s", __func__, *why);
	return -1;
}
