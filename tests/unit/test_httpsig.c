/* Unit tests for net/httpsig: RFC 9530 digests, the RFC 9421 profile's
 * headers and base, every refusal, and interoperability with openssl(1). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "log.h"
#include "util.h"
#include "keeper/sign.h"
#include "net/httpsig.h"

static const enum sign_alg	algs[] = {
	SIGN_ALG_ED25519, SIGN_ALG_ECDSA_P256, SIGN_ALG_SM2
};

static const char	body[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:"
    "std:iso:20022:tech:xsd:pain.001.001.09\"><CstmrCdtTrfInitn><GrpHdr>"
    "<MsgId>MSG-DISB-0001</MsgId></GrpHdr></CstmrCdtTrfInitn></Document>\n";
#define METHOD	"POST"
#define PATH	"/v1/payments/pain001"
#define CTYPE	"application/xml; charset=UTF-8"
#define CREATED	1718179200

/* One signed message: the headers as a courier would send them. */
struct signed_msg {
	struct sign_key	*k;
	struct sign_key	*pub;
	char		 digest[HTTPSIG_DIGEST_MAX];
	char		 input[HTTPSIG_INPUT_MAX];
	char		 sig[HTTPSIG_SIG_MAX];
};

struct fixture {
	char	dir[64];
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_httpsig.XXXXXX");
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

	/* the directory is ours (mkdtemp) and holds only test files */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* The public half of k, as a bank would load it from a PEM file. */
static struct sign_key *
public_of(const struct sign_key *k)
{
	struct sign_key	*pub;
	char		 pem[4096];

	assert_int_equal(sign_key_public_pem(k, pem, sizeof(pem)), 0);
	assert_int_equal(sign_key_public_from_pem(pem, strlen(pem), &pub), 0);
	return pub;
}

static void
sign_msg(struct signed_msg *s, enum sign_alg alg)
{
	struct httpsig_msg	m;

	memset(s, 0, sizeof(*s));
	assert_int_equal(sign_key_generate(alg, &s->k), 0);
	s->pub = public_of(s->k);
	assert_int_equal(httpsig_content_digest(body, strlen(body), s->digest,
	    sizeof(s->digest)), 0);
	m = (struct httpsig_msg){ .method = METHOD, .path = PATH,
	    .ctype = CTYPE, .content_digest = s->digest, .created = CREATED };
	assert_int_equal(httpsig_sign(s->k, &m, s->input, sizeof(s->input),
	    s->sig, sizeof(s->sig)), 0);
}

static void
free_msg(struct signed_msg *s)
{
	sign_key_free(s->k);
	sign_key_free(s->pub);
}

/* httpsig_verify of the message with some parts replaced; the reason. */
static const char *
verify_with(const struct sign_key *pub, const char *method, const char *path,
    const char *ctype, const char *digest, const char *input, const char *sig,
    const void *b, size_t len)
{
	const char	*why = "unset";
	int		 rc;

	rc = httpsig_verify(pub, method, path, ctype, digest, input, sig, b, len,
	    &why);
	if (rc == 0) {
		assert_null(why);
		return "ok";
	}
	assert_int_equal(rc, -1);
	assert_non_null(why);
	return why;
}

static const char *
verify_msg(const struct signed_msg *s)
{
	return verify_with(s->pub, METHOD, PATH, CTYPE, s->digest, s->input,
	    s->sig, body, strlen(body));
}

/* s->input with the first from replaced by to, into out. */
static void
replace(const char *s, const char *from, const char *to, char *out,
    size_t outsz)
{
	const char	*p = strstr(s, from);

	assert_non_null(p);
	assert_int_equal(str_printf(out, outsz, "%.*s%s%s", (int)(p - s), s, to,
	    p + strlen(from)), 0);
}

/* tmpl with every "%s" replaced by v, into out (not a printf format: the
 * templates below are data). */
static void
subst(const char *tmpl, const char *v, char *out, size_t outsz)
{
	const char	*p;
	size_t		 o = 0, n, vl = strlen(v);

	while ((p = strstr(tmpl, "%s")) != NULL) {
		n = (size_t)(p - tmpl);
		assert_true(o + n + vl < outsz);
		memcpy(out + o, tmpl, n);
		memcpy(out + o + n, v, vl);
		o += n + vl;
		tmpl = p + 2;
	}
	n = strlen(tmpl);
	assert_true(o + n < outsz);
	memcpy(out + o, tmpl, n + 1);
}

static void
test_content_digest(void **state)
{
	static const char	hello[] = "{\"hello\": \"world\"}";
	static const char	hello_lf[] = "{\"hello\": \"world\"}\n";
	char			out[HTTPSIG_DIGEST_MAX];

	/* RFC 9530 §2's own example: the body has no final newline (with
	 * one, as sha256sum of a file would have it, the digest differs) */
	assert_int_equal(httpsig_content_digest(hello, strlen(hello), out,
	    sizeof(out)), 0);
	assert_string_equal(out,
	    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
	assert_int_equal(httpsig_content_digest(hello_lf, strlen(hello_lf), out,
	    sizeof(out)), 0);
	assert_string_equal(out,
	    "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:");
	/* the empty body, with and without a pointer */
	assert_int_equal(httpsig_content_digest(NULL, 0, out, sizeof(out)), 0);
	assert_string_equal(out,
	    "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
	assert_int_equal(httpsig_content_digest("", 0, out, sizeof(out)), 0);
	assert_string_equal(out,
	    "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
	/* 54 characters and a NUL: exactly enough, one less is refused */
	assert_int_equal(httpsig_content_digest(hello, strlen(hello), out, 55),
	    0);
	assert_int_equal(httpsig_content_digest(hello, strlen(hello), out, 54),
	    -1);
	assert_int_equal(httpsig_content_digest(NULL, 3, out, sizeof(out)), -1);
}

/* The headers are exactly the profile's, per algorithm. */
static void
test_header_format(void **state)
{
	struct signed_msg	 s;
	char			 want[HTTPSIG_INPUT_MAX];
	const char		*alg;
	size_t			 i, b64len;

	for (i = 0; i < nitems(algs); i++) {
		sign_msg(&s, algs[i]);
		alg = algs[i] == SIGN_ALG_ED25519 ? ";alg=\"ed25519\"" :
		    algs[i] == SIGN_ALG_ECDSA_P256 ?
		    ";alg=\"ecdsa-p256-sha256\"" : "";
		assert_int_equal(str_printf(want, sizeof(want), "sig1=("
		    "\"@method\" \"@path\" \"content-type\" \"content-digest\")"
		    ";created=%d;keyid=\"%s\"%s", CREATED, s.k->key_id, alg), 0);
		assert_string_equal(s.input, want);
		assert_int_equal(strncmp(s.sig, "sig1=:", 6), 0);
		assert_int_equal(s.sig[strlen(s.sig) - 1], ':');
		b64len = strlen(s.sig) - 7;
		if (algs[i] == SIGN_ALG_SM2)
			assert_true(b64len >= 92 && b64len <= 96);
		else
			assert_int_equal(b64len, 88);	/* 64 raw bytes */
		assert_string_equal(verify_msg(&s), "ok");
		free_msg(&s);
	}
}

/* Sign then verify per algorithm, with what a courier and a bank vary. */
static void
test_roundtrip(void **state)
{
	struct signed_msg	s;
	struct httpsig_msg	m;
	char			input[HTTPSIG_INPUT_MAX], sig[HTTPSIG_SIG_MAX];
	size_t			i;

	for (i = 0; i < nitems(algs); i++) {
		sign_msg(&s, algs[i]);
		assert_string_equal(verify_msg(&s), "ok");
		/* a key that is the signer's own private key verifies too */
		assert_string_equal(verify_with(s.k, METHOD, PATH, CTYPE,
		    s.digest, s.input, s.sig, body, strlen(body)), "ok");
		/* blanks around field values are not part of them */
		assert_string_equal(verify_with(s.pub, METHOD, PATH,
		    "  " CTYPE "\t", s.digest, s.input, s.sig, body,
		    strlen(body)), "ok");
		/* a query is not covered by @path */
		assert_string_equal(verify_with(s.pub, METHOD, PATH "?x=1",
		    CTYPE, s.digest, s.input, s.sig, body, strlen(body)), "ok");
		/* a new signature each time for ECDSA and SM2; all verify */
		m = (struct httpsig_msg){ .method = METHOD, .path = PATH,
		    .ctype = CTYPE, .content_digest = s.digest,
		    .created = CREATED };
		assert_int_equal(httpsig_sign(s.k, &m, input, sizeof(input), sig,
		    sizeof(sig)), 0);
		assert_string_equal(input, s.input);
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
		    s.digest, input, sig, body, strlen(body)), "ok");
		free_msg(&s);
	}
	/* the empty body */
	assert_int_equal(sign_key_generate(SIGN_ALG_ED25519, &s.k), 0);
	s.pub = public_of(s.k);
	assert_int_equal(httpsig_content_digest(NULL, 0, s.digest,
	    sizeof(s.digest)), 0);
	m = (struct httpsig_msg){ .method = "PUT", .path = "/", .ctype =
	    "application/json", .content_digest = s.digest, .created = 0 };
	assert_int_equal(httpsig_sign(s.k, &m, s.input, sizeof(s.input), s.sig,
	    sizeof(s.sig)), 0);
	assert_string_equal(verify_with(s.pub, "PUT", "/", "application/json",
	    s.digest, s.input, s.sig, NULL, 0), "ok");
	free_msg(&s);
}

/* Each changed part of a signed message is refused, for each algorithm. */
static void
test_refusals(void **state)
{
	struct signed_msg	 s, o;
	struct sign_key		 impostor;
	char			 b[sizeof(body)], d[HTTPSIG_DIGEST_MAX];
	char			 in[HTTPSIG_INPUT_MAX * 2], num[32];
	size_t			 i, len = strlen(body);

	for (i = 0; i < nitems(algs); i++) {
		sign_msg(&s, algs[i]);
		sign_msg(&o, algs[i]);

		/* a changed body byte: the digest no longer matches */
		memcpy(b, body, sizeof(body));
		b[len / 2] ^= 1;
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
		    s.digest, s.input, s.sig, b, len), "digest-mismatch");
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
		    s.digest, s.input, s.sig, body, len - 1), "digest-mismatch");
		/* ... and its digest recomputed: the signature breaks */
		assert_int_equal(httpsig_content_digest(b, len, d, sizeof(d)), 0);
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, d,
		    s.input, s.sig, b, len), "bad-signature");

		/* changed covered components */
		assert_string_equal(verify_with(s.pub, METHOD, PATH,
		    "application/xml; charset=GB18030", s.digest, s.input,
		    s.sig, body, len), "bad-signature");
		assert_string_equal(verify_with(s.pub, METHOD, PATH "x", CTYPE,
		    s.digest, s.input, s.sig, body, len), "bad-signature");
		assert_string_equal(verify_with(s.pub, METHOD, "/v1/payments/"
		    "PAIN001", CTYPE, s.digest, s.input, s.sig, body, len),
		    "bad-signature");
		assert_string_equal(verify_with(s.pub, "PUT", PATH, CTYPE,
		    s.digest, s.input, s.sig, body, len), "bad-signature");

		/* a changed created (and one a second later) */
		assert_int_equal(str_printf(num, sizeof(num), ";created=%d",
		    CREATED + 1), 0);
		replace(s.input, ";created=1718179200", num, in, sizeof(in));
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
		    s.digest, in, s.sig, body, len), "bad-signature");

		/* another key: its own keyid, or ours with its signature */
		assert_string_equal(verify_with(o.pub, METHOD, PATH, CTYPE,
		    s.digest, s.input, s.sig, body, len), "wrong-key");
		impostor = *o.pub;
		memcpy(impostor.key_id, s.pub->key_id, sizeof(impostor.key_id));
		assert_string_equal(verify_with(&impostor, METHOD, PATH, CTYPE,
		    s.digest, s.input, s.sig, body, len), "bad-signature");
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
		    o.digest, o.input, o.sig, body, len), "wrong-key");
		/* a keyid edited to ours over the other key's signature */
		replace(o.input, o.k->key_id, s.k->key_id, in, sizeof(in));
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
		    o.digest, in, o.sig, body, len), "bad-signature");
		/* a wrong keyid */
		replace(s.input, s.k->key_id, "0123456789abcdef", in, sizeof(in));
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
		    s.digest, in, s.sig, body, len), "wrong-key");
		replace(s.input, s.k->key_id, "", in, sizeof(in));
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
		    s.digest, in, s.sig, body, len), "wrong-key");

		/* the signature of the other message */
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
		    s.digest, s.input, o.sig, body, len), "bad-signature");

		free_msg(&o);
		free_msg(&s);
	}
}

static void
test_alg_mismatch(void **state)
{
	struct signed_msg	s;
	char			in[HTTPSIG_INPUT_MAX * 2];

	sign_msg(&s, SIGN_ALG_ED25519);
	replace(s.input, "\"ed25519\"", "\"ecdsa-p256-sha256\"", in, sizeof(in));
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    in, s.sig, body, strlen(body)), "alg-mismatch");
	replace(s.input, "\"ed25519\"", "\"ED25519\"", in, sizeof(in));
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    in, s.sig, body, strlen(body)), "alg-mismatch");
	replace(s.input, "\"ed25519\"", "\"\"", in, sizeof(in));
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    in, s.sig, body, strlen(body)), "alg-mismatch");
	/* alg removed: then the base differs from what was signed */
	replace(s.input, ";alg=\"ed25519\"", "", in, sizeof(in));
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    in, s.sig, body, strlen(body)), "bad-signature");
	free_msg(&s);

	sign_msg(&s, SIGN_ALG_ECDSA_P256);
	replace(s.input, "\"ecdsa-p256-sha256\"", "\"ed25519\"", in, sizeof(in));
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    in, s.sig, body, strlen(body)), "alg-mismatch");
	replace(s.input, "\"ecdsa-p256-sha256\"", "\"ecdsa-p384-sha384\"", in,
	    sizeof(in));
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    in, s.sig, body, strlen(body)), "alg-mismatch");
	free_msg(&s);

	/* SM2 has no registered name: any alg is a mismatch */
	sign_msg(&s, SIGN_ALG_SM2);
	assert_null(strstr(s.input, "alg="));
	assert_int_equal(str_printf(in, sizeof(in), "%s;alg=\"sm2\"", s.input),
	    0);
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    in, s.sig, body, strlen(body)), "alg-mismatch");
	assert_int_equal(str_printf(in, sizeof(in), "%s;alg=\"ed25519\"",
	    s.input), 0);
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    in, s.sig, body, strlen(body)), "alg-mismatch");
	free_msg(&s);
}

/* Signature-Input values that are not the profile's. %s is the key id. */
static const char *const	bad_inputs[] = {
	"",
	"   ",
	"sig2=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"SIG1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"sig1 =(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	/* the component list: order, missing, extra, other, parameters */
	"sig1=(\"@path\" \"@method\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"sig1=(\"@method\" \"@path\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"sig1=(\"@method\" \"@path\" \"content-type\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"sig1=()"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\" "
	    "\"@authority\");created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"sig1=(\"@method\" \"@target-uri\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"sig1=(\"@method\" \"@path\" \"Content-Type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"sig1=(\"@method\" \"@path\" \"content-type\";sf \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"sig1=(\"@method\"\"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"sig1=(@method \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	"sig1=\"@method\" \"@path\" \"content-type\" \"content-digest\""
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\"",
	/* unterminated strings and lists */
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\\\";alg=\"ed25519\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\\x\";alg=\"ed25519\"",
	/* parameters: missing, repeated, unknown, malformed */
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";keyid=\"%s\";alg=\"ed25519\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;alg=\"ed25519\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;created=1718179200;keyid=\"%s\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";keyid=\"%s\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";alg=\"ed25519\";alg=\"ed25519\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";expires=1718179300",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";nonce=\"x\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=-1718179200;keyid=\"%s\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200.5;keyid=\"%s\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1234567890123456;keyid=\"%s\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=;keyid=\"%s\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=\"1718179200\";keyid=\"%s\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=%s",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;KEYID=\"%s\"",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\";",
	/* a second member, trailing junk */
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\", sig2=(\"@method\");created=1",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\" x",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\"\r\nX-Evil: 1",
	"sig1=(\"@method\" \"@path\" \"content-type\" \"content-digest\")"
	    ";created=1718179200;keyid=\"%s\xc3\xa9\"",
};

static void
test_malformed_input(void **state)
{
	struct signed_msg	 s;
	char			 in[HTTPSIG_INPUT_MAX * 2];
	const char		*why;
	size_t			 i;

	sign_msg(&s, SIGN_ALG_ED25519);
	for (i = 0; i < nitems(bad_inputs); i++) {
		/* the same key id for every %s (some have two, most one) */
		subst(bad_inputs[i], s.k->key_id, in, sizeof(in));
		why = verify_with(s.pub, METHOD, PATH, CTYPE, s.digest, in,
		    s.sig, body, strlen(body));
		if (strcmp(why, "bad-signature-input") != 0)
			fail_msg("input %zu (%s): %s", i, in, why);
	}
	/* spacing RFC 8941 allows is fine: the list is serialized again */
	assert_int_equal(str_printf(in, sizeof(in), "  sig1=(  \"@method\"   "
	    "\"@path\" \"content-type\"  \"content-digest\" );  created=%d;"
	    "keyid=\"%s\";alg=\"ed25519\"  ", CREATED, s.k->key_id), 0);
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest, in,
	    s.sig, body, strlen(body)), "ok");
	/* ... as are leading zeros of created (the same integer) */
	replace(s.input, "created=", "created=000", in, sizeof(in));
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest, in,
	    s.sig, body, strlen(body)), "ok");
	/* but the parameters' order is part of what was signed */
	assert_int_equal(str_printf(in, sizeof(in), "sig1=(\"@method\" "
	    "\"@path\" \"content-type\" \"content-digest\");keyid=\"%s\";"
	    "created=%d;alg=\"ed25519\"", s.k->key_id, CREATED), 0);
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest, in,
	    s.sig, body, strlen(body)), "bad-signature");
	free_msg(&s);
}

static void
test_malformed_signature(void **state)
{
	static const char *const	bad[] = {
		"", "sig1=", "sig1=::", "sig1=:", "sig2=:%s:", ":%s:",
		"sig1=%s", "sig1=:%s", "sig1=:%s:;x", "sig1=:%s:, sig2=:AA==:",
		"sig1=\"%s\"", "sig1=:%s=:", "sig1=:=%s:", "sig1=:A%s:",
		"sig1=:%s:x",
	};
	struct signed_msg	 s;
	char			 b64[HTTPSIG_SIG_MAX], sig[HTTPSIG_SIG_MAX * 2];
	const char		*why;
	size_t			 i, n;

	sign_msg(&s, SIGN_ALG_ED25519);
	n = strlen(s.sig) - 7;
	memcpy(b64, s.sig + 6, n);
	b64[n] = '\0';
	for (i = 0; i < nitems(bad); i++) {
		subst(bad[i], b64, sig, sizeof(sig));
		why = verify_with(s.pub, METHOD, PATH, CTYPE, s.digest, s.input,
		    sig, body, strlen(body));
		if (strcmp(why, "bad-signature-header") != 0)
			fail_msg("signature %zu (%s): %s", i, sig, why);
	}
	/* bad base64: a character outside the alphabet, blanks inside,
	 * url-safe alphabet, non-zero padding bits */
	assert_int_equal(str_printf(sig, sizeof(sig), "sig1=:%s:", b64), 0);
	sig[10] = '*';
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    s.input, sig, body, strlen(body)), "bad-signature-header");
	sig[10] = ' ';
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    s.input, sig, body, strlen(body)), "bad-signature-header");
	sig[10] = '-';
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    s.input, sig, body, strlen(body)), "bad-signature-header");
	/* 64 bytes end in "==" after one data character: its low 4 bits are
	 * unused and must be zero */
	assert_int_equal(str_printf(sig, sizeof(sig), "sig1=:%s:", b64), 0);
	assert_int_equal(sig[6 + n - 2], '=');
	{
		static const char	a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789+/";
		const char		*c = strchr(a, sig[6 + n - 3]);

		assert_non_null(c);
		sig[6 + n - 3] = a[(c - a) | 1];
	}
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    s.input, sig, body, strlen(body)), "bad-signature-header");
	/* well-formed, wrong size: a truncated and an empty signature */
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    s.input, "sig1=:AAAA:", body, strlen(body)), "bad-signature");
	/* blanks around the value are fine */
	assert_int_equal(str_printf(sig, sizeof(sig), " sig1=:%s: ", b64), 0);
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    s.input, sig, body, strlen(body)), "ok");
	free_msg(&s);

	/* an ECDSA signature in DER instead of raw r||s is refused */
	sign_msg(&s, SIGN_ALG_ECDSA_P256);
	{
		uint8_t	der[SIGN_MAX_SIG];
		char	enc[HTTPSIG_SIG_MAX];
		size_t	dl;

		assert_int_equal(sign_sign(s.k, "x", 1, der, sizeof(der), &dl),
		    0);
		EVP_EncodeBlock((unsigned char *)enc, der, (int)dl);
		assert_int_equal(str_printf(sig, sizeof(sig), "sig1=:%s:", enc),
		    0);
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
		    s.digest, s.input, sig, body, strlen(body)),
		    "bad-signature");
	}
	free_msg(&s);
}

static void
test_malformed_other(void **state)
{
	struct signed_msg	 s;
	char			 path[HTTPSIG_BASE_MAX + 16];
	const char		*why = NULL;
	size_t			 len = strlen(body);

	sign_msg(&s, SIGN_ALG_ED25519);
	/* missing headers */
	assert_string_equal(verify_with(s.pub, METHOD, PATH, NULL, s.digest,
	    s.input, s.sig, body, len), "missing-content-type");
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, NULL,
	    s.input, s.sig, body, len), "missing-content-digest");
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    NULL, s.sig, body, len), "missing-signature-input");
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    s.input, NULL, body, len), "missing-signature");
	assert_string_equal(verify_with(s.pub, NULL, PATH, CTYPE, s.digest,
	    s.input, s.sig, body, len), "bad-component");
	assert_string_equal(verify_with(NULL, METHOD, PATH, CTYPE, s.digest,
	    s.input, s.sig, body, len), "internal");
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, s.digest,
	    s.input, s.sig, NULL, len), "internal");
	/* a Content-Digest not in the profile's form */
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
	    "sha-512=:AAAA:", s.input, s.sig, body, len), "bad-content-digest");
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
	    "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=", s.input,
	    s.sig, body, len), "bad-content-digest");
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, "", s.input,
	    s.sig, body, len), "bad-content-digest");
	{
		char	two[2 * HTTPSIG_DIGEST_MAX];

		assert_int_equal(str_printf(two, sizeof(two), "%s, sha-512=:AA==:",
		    s.digest), 0);
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE, two,
		    s.input, s.sig, body, len), "bad-content-digest");
	}
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
	    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", s.input,
	    s.sig, body, len), "digest-mismatch");
	/* component values that could forge a base line, or are not ours */
	assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE "\n\"@path\": "
	    "/x", s.digest, s.input, s.sig, body, len), "bad-component");
	assert_string_equal(verify_with(s.pub, METHOD, PATH "\r", CTYPE,
	    s.digest, s.input, s.sig, body, len), "bad-component");
	assert_string_equal(verify_with(s.pub, METHOD, "v1/payments", CTYPE,
	    s.digest, s.input, s.sig, body, len), "bad-component");
	assert_string_equal(verify_with(s.pub, METHOD, "", CTYPE, s.digest,
	    s.input, s.sig, body, len), "bad-component");
	assert_string_equal(verify_with(s.pub, "PO ST", PATH, CTYPE, s.digest,
	    s.input, s.sig, body, len), "bad-component");
	assert_string_equal(verify_with(s.pub, METHOD, PATH, "", s.digest,
	    s.input, s.sig, body, len), "bad-component");
	assert_string_equal(verify_with(s.pub, METHOD, PATH,
	    "application/xml; name=\"\xe9\"", s.digest, s.input, s.sig, body,
	    len), "bad-component");
	/* a path past the base limit */
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_string_equal(verify_with(s.pub, METHOD, path, CTYPE, s.digest,
	    s.input, s.sig, body, len), "too-long");
	/* why may be NULL */
	assert_int_equal(httpsig_verify(s.pub, METHOD, PATH, CTYPE, s.digest,
	    s.input, s.sig, body, len, NULL), 0);
	assert_int_equal(httpsig_verify(s.pub, METHOD, PATH, CTYPE, s.digest,
	    s.input, s.sig, body, len - 1, NULL), -1);
	assert_int_equal(httpsig_verify(s.pub, METHOD, PATH, CTYPE, s.digest,
	    s.input, s.sig, body, len, &why), 0);
	assert_null(why);
	free_msg(&s);
}

/* Signing refuses what it cannot sign, and buffers that are too small. */
static void
test_sign_refusals(void **state)
{
	struct signed_msg	 s;
	struct httpsig_msg	 m;
	char			 input[HTTPSIG_INPUT_MAX], sig[HTTPSIG_SIG_MAX];
	char			 path[HTTPSIG_BASE_MAX + 16];

	sign_msg(&s, SIGN_ALG_SM2);
	m = (struct httpsig_msg){ .method = METHOD, .path = PATH,
	    .ctype = CTYPE, .content_digest = s.digest, .created = CREATED };
	/* a public key cannot sign */
	assert_int_equal(httpsig_sign(s.pub, &m, input, sizeof(input), sig,
	    sizeof(sig)), -1);
	/* buffers */
	assert_int_equal(httpsig_sign(s.k, &m, input, 20, sig, sizeof(sig)), -1);
	assert_int_equal(httpsig_sign(s.k, &m, input, sizeof(input), sig, 40),
	    -1);
	assert_int_equal(httpsig_sign(s.k, &m, input, strlen(s.input) + 1, sig,
	    sizeof(sig)), 0);
	/* created out of range */
	m.created = -1;
	assert_int_equal(httpsig_sign(s.k, &m, input, sizeof(input), sig,
	    sizeof(sig)), -1);
	m.created = 1000000000000000LL;
	assert_int_equal(httpsig_sign(s.k, &m, input, sizeof(input), sig,
	    sizeof(sig)), -1);
	m.created = CREATED;
	/* parts missing or unsignable */
	m.ctype = NULL;
	assert_int_equal(httpsig_sign(s.k, &m, input, sizeof(input), sig,
	    sizeof(sig)), -1);
	m.ctype = "text/plain\r\nX-Evil: 1";
	assert_int_equal(httpsig_sign(s.k, &m, input, sizeof(input), sig,
	    sizeof(sig)), -1);
	m.ctype = CTYPE;
	m.path = "relative";
	assert_int_equal(httpsig_sign(s.k, &m, input, sizeof(input), sig,
	    sizeof(sig)), -1);
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	m.path = path;
	assert_int_equal(httpsig_sign(s.k, &m, input, sizeof(input), sig,
	    sizeof(sig)), -1);
	assert_int_equal(httpsig_sign(s.k, NULL, input, sizeof(input), sig,
	    sizeof(sig)), -1);
	free_msg(&s);
}

/* Runs a shell command quietly; its exit status. */
static int
run(const char *cmd)
{
	char	full[4096];
	int	st;

	assert_int_equal(str_printf(full, sizeof(full), "%s >/dev/null 2>&1",
	    cmd), 0);
	st = system(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE	*fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static size_t
read_file(const char *path, void *buf, size_t sz)
{
	FILE	*fp = fopen(path, "rb");
	size_t	 n;

	assert_non_null(fp);
	n = fread(buf, 1, sz, fp);
	assert_int_equal(fclose(fp), 0);
	return n;
}

static void
path_in(const struct fixture *f, const char *name, char *out, size_t sz)
{
	assert_int_equal(str_printf(out, sz, "%s/%s", f->dir, name), 0);
}

/* The base written out independently of httpsig.c, from RFC 9421 §2.5. */
static void
expected_base(const struct signed_msg *s, const char *path, char *out,
    size_t outsz)
{
	assert_int_equal(strncmp(s->input, "sig1=", 5), 0);
	assert_int_equal(str_printf(out, outsz, "\"@method\": %s\n"
	    "\"@path\": %s\n\"content-type\": %s\n\"content-digest\": %s\n"
	    "\"@signature-params\": %s", METHOD, path, CTYPE, s->digest,
	    s->input + 5), 0);
}

/* Raw r||s to DER, as a bank's verifier does before openssl dgst. */
static size_t
raw_to_der(const uint8_t *raw, uint8_t *der, size_t dersz)
{
	ECDSA_SIG	*sig = ECDSA_SIG_new();
	BIGNUM		*r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32,
			    32, NULL);
	unsigned char	*p = der;
	int		 n;

	assert_non_null(sig);
	assert_non_null(r);
	assert_non_null(s);
	assert_int_equal(ECDSA_SIG_set0(sig, r, s), 1);
	n = i2d_ECDSA_SIG(sig, NULL);
	assert_true(n > 0 && (size_t)n <= dersz);
	assert_int_equal(i2d_ECDSA_SIG(sig, &p), n);
	ECDSA_SIG_free(sig);
	return (size_t)n;
}

/* DER to raw r||s, for a signature openssl made. */
static void
der_to_raw(const uint8_t *der, size_t len, uint8_t raw[64])
{
	const unsigned char	*p = der;
	const BIGNUM		*r, *s;
	ECDSA_SIG		*sig = d2i_ECDSA_SIG(NULL, &p, (long)len);

	assert_non_null(sig);
	ECDSA_SIG_get0(sig, &r, &s);
	assert_int_equal(BN_bn2binpad(r, raw, 32), 32);
	assert_int_equal(BN_bn2binpad(s, raw + 32, 32), 32);
	ECDSA_SIG_free(sig);
}

/*
 * openssl(1), with only the public key, verifies our base and signature
 * (what a bank does); and openssl's signature over the same base, put in the
 * Signature header, passes httpsig_verify.
 */
static void
test_openssl_cli_interop(void **state)
{
	struct fixture		*f = *state;
	struct signed_msg	 s;
	char			 base[HTTPSIG_BASE_MAX], pem[4096];
	char			 pub[PATH_MAX], key[PATH_MAX], bpath[PATH_MAX];
	char			 spath[PATH_MAX], cmd[4096];
	char			 b64[HTTPSIG_SIG_MAX], sig[HTTPSIG_SIG_MAX];
	uint8_t			 raw[SIGN_MAX_SIG], der[SIGN_MAX_SIG + 8];
	size_t			 i, n, rawlen;
	const char		*name;

	if (run("openssl version") != 0)
		skip();
	path_in(f, "pub.pem", pub, sizeof(pub));
	path_in(f, "base", bpath, sizeof(bpath));
	path_in(f, "sig", spath, sizeof(spath));
	for (i = 0; i < nitems(algs); i++) {
		name = sign_alg_name(algs[i]);
		sign_msg(&s, algs[i]);
		assert_int_equal(sign_key_public_pem(s.k, pem, sizeof(pem)), 0);
		write_file(pub, pem, strlen(pem));
		/* the path has a query: @path is without it */
		expected_base(&s, PATH, base, sizeof(base));
		write_file(bpath, base, strlen(base));
		assert_string_equal(verify_with(s.pub, METHOD, PATH "?v=1", CTYPE,
		    s.digest, s.input, s.sig, body, strlen(body)), "ok");

		/* ours, verified by openssl with the public key only */
		n = strlen(s.sig) - 7;
		memcpy(b64, s.sig + 6, n);
		b64[n] = '\0';
		rawlen = (size_t)EVP_DecodeBlock(raw, (unsigned char *)b64,
		    (int)n);
		rawlen -= (b64[n - 1] == '=') + (b64[n - 2] == '=');
		switch (algs[i]) {
		case SIGN_ALG_ED25519:
			assert_int_equal(rawlen, 64);
			write_file(spath, raw, rawlen);
			assert_int_equal(str_printf(cmd, sizeof(cmd), "openssl "
			    "pkeyutl -verify -pubin -inkey %s -rawin -in %s "
			    "-sigfile %s", pub, bpath, spath), 0);
			break;
		case SIGN_ALG_ECDSA_P256:
			assert_int_equal(rawlen, 64);
			n = raw_to_der(raw, der, sizeof(der));
			write_file(spath, der, n);
			assert_int_equal(str_printf(cmd, sizeof(cmd), "openssl "
			    "dgst -sha256 -verify %s -signature %s %s", pub,
			    spath, bpath), 0);
			break;
		default:
			write_file(spath, raw, rawlen);
			assert_int_equal(str_printf(cmd, sizeof(cmd), "openssl "
			    "pkeyutl -verify -pubin -inkey %s -rawin -digest sm3 "
			    "-pkeyopt distid:" SIGN_SM2_DEFAULT_ID " -in %s "
			    "-sigfile %s", pub, bpath, spath), 0);
			break;
		}
		if (run(cmd) != 0)
			fail_msg("openssl refused our %s signature: %s", name, cmd);
		/* a changed base is refused by openssl too */
		base[strlen(base) - 3] ^= 1;
		write_file(bpath, base, strlen(base));
		if (run(cmd) == 0)
			fail_msg("openssl took a changed %s base", name);
		base[strlen(base) - 3] ^= 1;
		write_file(bpath, base, strlen(base));

		/* openssl's, over our base, verified by us */
		path_in(f, name, key, sizeof(key));
		assert_int_equal(sign_key_write_private(s.k, key), 0);
		switch (algs[i]) {
		case SIGN_ALG_ED25519:
			assert_int_equal(str_printf(cmd, sizeof(cmd), "openssl "
			    "pkeyutl -sign -inkey %s -rawin -in %s -out %s", key,
			    bpath, spath), 0);
			break;
		case SIGN_ALG_ECDSA_P256:
			assert_int_equal(str_printf(cmd, sizeof(cmd), "openssl "
			    "dgst -sha256 -sign %s -out %s %s", key, spath,
			    bpath), 0);
			break;
		default:
			assert_int_equal(str_printf(cmd, sizeof(cmd), "openssl "
			    "pkeyutl -sign -inkey %s -rawin -digest sm3 -pkeyopt "
			    "distid:" SIGN_SM2_DEFAULT_ID " -in %s -out %s", key,
			    bpath, spath), 0);
			break;
		}
		assert_int_equal(run(cmd), 0);
		n = read_file(spath, der, sizeof(der));
		assert_true(n > 0 && n <= SIGN_MAX_SIG);
		if (algs[i] == SIGN_ALG_ECDSA_P256) {
			der_to_raw(der, n, raw);
			EVP_EncodeBlock((unsigned char *)b64, raw, 64);
		} else
			EVP_EncodeBlock((unsigned char *)b64, der, (int)n);
		assert_int_equal(str_printf(sig, sizeof(sig), "sig1=:%s:", b64),
		    0);
		assert_string_equal(verify_with(s.pub, METHOD, PATH, CTYPE,
		    s.digest, s.input, sig, body, strlen(body)), "ok");
		assert_int_equal(unlink(key), 0);
		free_msg(&s);
	}
}

/* An SM2 verifier needs the signer's distinguishing id. */
static void
test_sm2_id(void **state)
{
	struct signed_msg	s;

	sign_msg(&s, SIGN_ALG_SM2);
	assert_string_equal(verify_msg(&s), "ok");
	assert_int_equal(sign_key_set_sm2_id(s.pub, "bank-a@example", 14), 0);
	assert_string_equal(verify_msg(&s), "bad-signature");
	assert_int_equal(sign_key_set_sm2_id(s.pub, SIGN_SM2_DEFAULT_ID, 16), 0);
	assert_string_equal(verify_msg(&s), "ok");
	free_msg(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_digest),
		cmocka_unit_test(test_header_format),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_alg_mismatch),
		cmocka_unit_test(test_malformed_input),
		cmocka_unit_test(test_malformed_signature),
		cmocka_unit_test(test_malformed_other),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_sm2_id),
		cmocka_unit_test_setup_teardown(test_openssl_cli_interop, setup,
		    teardown),
	};

	/* refusals are logged at their site; the tests provoke many */
	log_init("test_httpsig", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
