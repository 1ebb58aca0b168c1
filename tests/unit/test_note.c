/* Unit tests for keeper/note: the shared signed-note vectors byte for byte,
 * corrupted notes, key strings and tlog checkpoints. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "log.h"
#include "util.h"
#include "keeper/note.h"

#define MAX_FILE	4096
#define EM_DASH		"\xe2\x80\x94"

static const char *const cases[] = { "neumann", "c2sp-example", "checkpoint8" };

static const char *
shared_dir(void)
{
	const char	*d = getenv("GW_SHARED");

	return d != NULL && *d != '\0' ? d : "../shared";
}

/* Reads vectors/note/<name>.<ext> into buf (NUL-terminated); returns its length.
 * With strip, one trailing newline is removed (key strings are single lines). */
static size_t
vec(const char *name, const char *ext, char *buf, size_t sz, int strip)
{
	char	path[PATH_MAX];
	FILE	*fp;
	size_t	n;

	assert_int_equal(str_printf(path, sizeof(path), "%s/vectors/note/%s.%s",
	    shared_dir(), name, ext), 0);
	if ((fp = fopen(path, "rb")) == NULL)
		fail_msg("cannot read %s (set GW_SHARED to the shared directory)",
		    path);
	n = fread(buf, 1, sz - 1, fp);
	fclose(fp);
	assert_true(n < sz - 1);
	buf[n] = '\0';
	if (strip && n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return n;
}

/* text + blank line + sigline of a vector case into out; returns the length. */
static size_t
vec_note(const char *name, char *out, size_t sz)
{
	char	text[MAX_FILE], sig[MAX_FILE];
	size_t	tl, sl;

	tl = vec(name, "text", text, sizeof(text), 0);
	sl = vec(name, "sigline", sig, sizeof(sig), 0);
	assert_true(tl + 1 + sl < sz);
	memcpy(out, text, tl);
	out[tl] = '\n';
	memcpy(out + tl + 1, sig, sl + 1);
	return tl + 1 + sl;
}

static void
vec_verifier(const char *name, struct note_verifier *v)
{
	char	vkey[MAX_FILE];

	vec(name, "vkey", vkey, sizeof(vkey), 1);
	assert_int_equal(note_verifier_parse(v, vkey), 0);
}

static void
test_vkeys(void **state)
{
	struct note_verifier	v;
	char			vkey[MAX_FILE], out[NOTE_VKEY_MAX];
	uint32_t		id;
	size_t			i;

	for (i = 0; i < nitems(cases); i++) {
		vec(cases[i], "vkey", vkey, sizeof(vkey), 1);
		assert_int_equal(note_verifier_parse(&v, vkey), 0);
		assert_int_equal(note_key_id(v.name, v.pub, &id), 0);
		assert_int_equal(id, v.id);
		assert_int_equal(note_verifier_format(&v, out, sizeof(out)), 0);
		assert_string_equal(out, vkey);
	}
	vec("neumann", "vkey", vkey, sizeof(vkey), 1);
	assert_int_equal(note_verifier_parse(&v, vkey), 0);
	assert_string_equal(v.name, "PeterNeumann");
	assert_int_equal(v.id, 0xc74f20a3);
	/* the same key under another name has another id */
	vec("checkpoint8", "vkey", vkey, sizeof(vkey), 1);
	assert_int_equal(note_verifier_parse(&v, vkey), 0);
	assert_int_equal(v.id, 0x1b542240);
	assert_int_equal(note_verifier_format(&v, out, 10), -1);
}

static void
test_sign_neumann(void **state)
{
	struct note_signer	s;
	struct note_verifier	v;
	char			skey[MAX_FILE], text[MAX_FILE], want[MAX_FILE];
	char			line[NOTE_SIGLINE_MAX], vkey[MAX_FILE], out[NOTE_VKEY_MAX];
	char			note[2 * MAX_FILE];
	size_t			tl, nl, textlen;

	vec("neumann", "skey", skey, sizeof(skey), 1);
	tl = vec("neumann", "text", text, sizeof(text), 0);
	vec("neumann", "sigline", want, sizeof(want), 0);
	assert_int_equal(note_signer_parse(&s, skey), 0);
	assert_int_equal(s.id, 0xc74f20a3);

	/* Ed25519 is deterministic: exactly the published line */
	assert_int_equal(note_sign(&s, text, tl, line, sizeof(line)), 0);
	assert_string_equal(line, want);

	/* the public half is the published vkey */
	note_signer_verifier(&s, &v);
	vec("neumann", "vkey", vkey, sizeof(vkey), 1);
	assert_int_equal(note_verifier_format(&v, out, sizeof(out)), 0);
	assert_string_equal(out, vkey);

	assert_int_equal(note_sign_note(&s, text, tl, note, sizeof(note), &nl), 0);
	assert_int_equal(nl, tl + 1 + strlen(want));
	assert_int_equal(note_verify(note, nl, &v, 1, &textlen), 0);
	assert_int_equal(textlen, tl);
	assert_int_equal(note_sign_note(&s, text, tl, note, nl, &nl), -1);

	/* text that cannot be signed */
	assert_int_equal(note_sign(&s, text, tl - 1, line, sizeof(line)), -1);
	assert_int_equal(note_sign(&s, "", 0, line, sizeof(line)), -1);
	assert_int_equal(note_sign(&s, "a\rb\n", 4, line, sizeof(line)), -1);
	assert_int_equal(note_sign(&s, "a\xff\n", 3, line, sizeof(line)), -1);
	assert_int_equal(note_sign(&s, text, tl, line, 20), -1);
	note_signer_free(&s);
	assert_null(s.key);
	assert_int_equal(note_sign(&s, text, tl, line, sizeof(line)), -1);
	note_signer_free(&s);
}

static void
test_verify_vectors(void **state)
{
	struct note_verifier	v;
	char			note[2 * MAX_FILE], text[MAX_FILE];
	size_t			i, nl, tl, textlen;

	for (i = 0; i < nitems(cases); i++) {
		nl = vec_note(cases[i], note, sizeof(note));
		tl = vec(cases[i], "text", text, sizeof(text), 0);
		vec_verifier(cases[i], &v);
		textlen = 0;
		assert_int_equal(note_verify(note, nl, &v, 1, &textlen), 0);
		assert_int_equal(textlen, tl);
		assert_memory_equal(note, text, tl);
	}
}

/* The case's note with bytes [at, at+n) replaced by rep; verify result. */
static int
verify_edit(const char *name, size_t at, size_t n, const char *rep,
    const struct note_verifier *keys, size_t nkeys)
{
	char	note[2 * MAX_FILE], out[3 * MAX_FILE];
	size_t	nl, rl = strlen(rep);

	nl = vec_note(name, note, sizeof(note));
	assert_true(at + n <= nl && nl - n + rl < sizeof(out));
	memcpy(out, note, at);
	memcpy(out + at, rep, rl);
	memcpy(out + at + rl, note + at + n, nl - at - n);
	return note_verify(out, nl - n + rl, keys, nkeys, NULL);
}

static void
test_verify_corrupted(void **state)
{
	struct note_verifier	v, other;
	char			text[MAX_FILE], note[2 * MAX_FILE], rep[2];
	size_t			i, j, tl, nl, sigstart;

	for (i = 0; i < nitems(cases); i++) {
		vec_verifier(cases[i], &v);
		tl = vec(cases[i], "text", text, sizeof(text), 0);
		nl = vec_note(cases[i], note, sizeof(note));
		/* every byte of the text changed */
		for (j = 0; j < tl; j++) {
			rep[0] = text[j] == 'A' ? 'B' : 'A';
			rep[1] = '\0';
			if (text[j] == '\n')
				continue;	/* changing a newline may break the form */
			assert_int_equal(verify_edit(cases[i], j, 1, rep, &v, 1), -1);
		}
		/* every character of the base64 signature changed */
		sigstart = tl + 1 + 4 + strlen(v.name) + 1;
		for (j = sigstart; j < nl - 1; j++) {
			rep[0] = note[j] == 'A' ? 'B' : 'A';
			rep[1] = '\0';
			assert_int_equal(verify_edit(cases[i], j, 1, rep, &v, 1), -1);
		}
		/* no known key, or only another one */
		assert_int_equal(note_verify(note, nl, NULL, 0, NULL), -1);
		vec_verifier(i == 0 ? "c2sp-example" : "neumann", &other);
		assert_int_equal(note_verify(note, nl, &other, 1, NULL), -1);
		/* ... but an unrelated extra key does no harm */
		{
			struct note_verifier both[2] = { other, v };
			assert_int_equal(note_verify(note, nl, both, 2, NULL), 0);
		}
		/* form: no blank line, no final newline, extra newline */
		assert_int_equal(verify_edit(cases[i], tl, 1, "", &v, 1), -1);
		assert_int_equal(note_verify(note, nl - 1, &v, 1, NULL), -1);
		assert_int_equal(verify_edit(cases[i], nl, 0, "\n", &v, 1), -1);
		/* a hyphen or a plain space instead of the em dash */
		assert_int_equal(verify_edit(cases[i], tl + 1, 3, "-", &v, 1), -1);
		assert_int_equal(verify_edit(cases[i], tl + 1, 4, EM_DASH, &v, 1), -1);
		/* control characters and bad UTF-8 in the text */
		assert_int_equal(verify_edit(cases[i], 1, 0, "\r", &v, 1), -1);
		assert_int_equal(verify_edit(cases[i], 1, 0, "\t", &v, 1), -1);
		assert_int_equal(verify_edit(cases[i], 1, 0, "\xc0\xaf", &v, 1), -1);
		assert_int_equal(verify_edit(cases[i], 1, 0, "\xed\xa0\x80", &v, 1), -1);
		note[1] = '\0';
		assert_int_equal(note_verify(note, nl, &v, 1, NULL), -1);
	}
}

static void
test_verify_signature_lines(void **state)
{
	struct note_verifier	v;
	char			note[2 * MAX_FILE], sig[MAX_FILE], many[16 * MAX_FILE];
	char			unknown[256];
	size_t			nl, n, i;

	vec_verifier("neumann", &v);
	nl = vec_note("neumann", note, sizeof(note));
	vec("neumann", "sigline", sig, sizeof(sig), 0);

	/* unknown keys are ignored: other name, or same name with another id */
	assert_int_equal(str_printf(unknown, sizeof(unknown),
	    EM_DASH " example.com/other AAAAAAAAAAA=\n"), 0);
	assert_int_equal(verify_edit("neumann", nl, 0, unknown, &v, 1), 0);
	assert_int_equal(verify_edit("neumann", nl - strlen(sig), 0, unknown, &v,
	    1), 0);
	assert_int_equal(verify_edit("neumann", nl, 0,
	    EM_DASH " PeterNeumann AAAAAAAAAAA=\n", &v, 1), 0);
	/* a second, bad signature by the known key refuses the note */
	assert_int_equal(verify_edit("neumann", nl, 0, EM_DASH " PeterNeumann "
	    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
	    "qdngotpRZb6KE6RyyBwJnAA=\n", &v, 1), -1);
	/* the known key's signature repeated is fine */
	assert_int_equal(verify_edit("neumann", nl, 0, sig, &v, 1), 0);
	/* malformed lines: short signature, bad base64, no key, bad name */
	assert_int_equal(verify_edit("neumann", nl, 0,
	    EM_DASH " example.com/other AAAA\n", &v, 1), -1);
	assert_int_equal(verify_edit("neumann", nl, 0,
	    EM_DASH " example.com/other AAAAAAAAAAA\n", &v, 1), -1);
	assert_int_equal(verify_edit("neumann", nl, 0,
	    EM_DASH " example.com/other AAAAAAAAAAB=\n", &v, 1), -1);
	assert_int_equal(verify_edit("neumann", nl, 0,
	    EM_DASH " example.com/other  AAAAAAAAAAA=\n", &v, 1), -1);
	assert_int_equal(verify_edit("neumann", nl, 0,
	    EM_DASH " example.com/other\n", &v, 1), -1);
	assert_int_equal(verify_edit("neumann", nl, 0,
	    EM_DASH "  AAAAAAAAAAA=\n", &v, 1), -1);
	assert_int_equal(verify_edit("neumann", nl, 0,
	    EM_DASH " a+b AAAAAAAAAAA=\n", &v, 1), -1);
	assert_int_equal(verify_edit("neumann", nl, 0,
	    EM_DASH " a\xe3\x80\x80" "b AAAAAAAAAAA=\n", &v, 1), -1);
	assert_int_equal(verify_edit("neumann", nl, 0, "\n", &v, 1), -1);

	/* at least 16 signatures are accepted; more than NOTE_MAX_SIGS are not */
	memcpy(many, note, nl);
	n = nl;
	for (i = 0; i < 15; i++) {
		assert_int_equal(str_printf(unknown, sizeof(unknown), EM_DASH
		    " example.com/w%zu AAAAAAAAAAA=\n", i), 0);
		memcpy(many + n, unknown, strlen(unknown));
		n += strlen(unknown);
	}
	assert_int_equal(note_verify(many, n, &v, 1, NULL), 0);
	for (; i < NOTE_MAX_SIGS; i++) {
		assert_int_equal(str_printf(unknown, sizeof(unknown), EM_DASH
		    " example.com/w%zu AAAAAAAAAAA=\n", i), 0);
		memcpy(many + n, unknown, strlen(unknown));
		n += strlen(unknown);
	}
	assert_int_equal(note_verify(many, n, &v, 1, NULL), -1);

	/* size bound */
	memset(many, 'a', NOTE_MAX_LEN);
	assert_int_equal(note_verify(many, NOTE_MAX_LEN + 1, &v, 1, NULL), -1);
	assert_int_equal(note_verify(many, 0, &v, 1, NULL), -1);
}

static void
test_key_strings(void **state)
{
	struct note_verifier	v;
	struct note_signer	s;
	char			buf[NOTE_SKEY_MAX * 2];
	static const char	*const bad_vkeys[] = {
		"",
		"PeterNeumann",
		"PeterNeumann+c74f20a3",
		"PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a3x+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+g74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW ",
		"PeterNeumann+c74f20a3+Alpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",
		"Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	};
	static const char	*const bad_skeys[] = {
		"",
		"PRIVATE+KEY",
		"PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
		"PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
		"PRIVATE+KEY+PeterNeumenn+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
		"PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
		"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKD",
		"private+key+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
	};
	size_t			i;

	for (i = 0; i < nitems(bad_vkeys); i++)
		if (note_verifier_parse(&v, bad_vkeys[i]) != -1)
			fail_msg("vkey %zu accepted: %s", i, bad_vkeys[i]);
	for (i = 0; i < nitems(bad_skeys); i++) {
		if (note_signer_parse(&s, bad_skeys[i]) != -1)
			fail_msg("skey %zu accepted: %s", i, bad_skeys[i]);
		assert_null(s.key);
	}
	/* upper-case hex is read as Go reads it */
	assert_int_equal(note_verifier_parse(&v, "PeterNeumann+C74F20A3+"
	    "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"), 0);
	/* overlong strings */
	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(note_verifier_parse(&v, buf), -1);
	assert_int_equal(note_signer_parse(&s, buf), -1);

	/* names */
	assert_true(note_name_valid("example.com/log"));
	assert_true(note_name_valid("\xc3\xa9t\xc3\xa9"));
	assert_false(note_name_valid(""));
	assert_false(note_name_valid("a b"));
	assert_false(note_name_valid("a+b"));
	assert_false(note_name_valid("a\tb"));
	assert_false(note_name_valid("a\xc2\xa0" "b"));
	assert_false(note_name_valid("a\xe2\x80\xa8" "b"));
	assert_false(note_name_valid("a\xff"));
	memset(buf, 'a', NOTE_NAME_MAX + 1);
	buf[NOTE_NAME_MAX + 1] = '\0';
	assert_false(note_name_valid(buf));
	buf[NOTE_NAME_MAX] = '\0';
	assert_true(note_name_valid(buf));
}

static void
root8(uint8_t root[NOTE_HASH_LEN])
{
	char	path[PATH_MAX], line[256];
	FILE	*fp;

	assert_int_equal(str_printf(path, sizeof(path),
	    "%s/vectors/merkle/roots.txt", shared_dir()), 0);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "8 ", 2) == 0)
			break;
	fclose(fp);
	line[strcspn(line, "\n")] = '\0';
	assert_int_equal(hex_decode(root, NOTE_HASH_LEN, line + 2), 0);
}

static void
test_checkpoint(void **state)
{
	struct note_checkpoint	 cp;
	struct note_verifier	 v;
	uint8_t			 root[NOTE_HASH_LEN];
	char			 text[MAX_FILE], out[512], note[2 * MAX_FILE];
	size_t			 tl, ol, nl, i;
	const char		*ext[] = { "ext one", "ext two" };
	static const char	*const bad[] = {
		"",
		"example.com/log\n8\n",
		"example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
		"\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"example.com/log\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"example.com/log\n+8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"example.com/log\n-8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"example.com/log\n8 \nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"example.com/log\n\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		("example.com/log\n18446744073709551616\n"
		    "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"),
		"example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQ==\n",
		"example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\n",
		"example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n",
		"example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n",
		"example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\next\n\n",
	};

	tl = vec("checkpoint8", "text", text, sizeof(text), 0);
	assert_int_equal(note_checkpoint_parse(text, tl, &cp), 0);
	assert_string_equal(cp.origin, "example.com/test-log");
	assert_int_equal(cp.size, 8);
	assert_int_equal(cp.nextensions, 0);
	root8(root);
	assert_memory_equal(cp.root, root, NOTE_HASH_LEN);

	/* formatting gives back the vector's text exactly */
	assert_int_equal(note_checkpoint_format("example.com/test-log", 8, root,
	    NULL, 0, out, sizeof(out), &ol), 0);
	assert_int_equal(ol, tl);
	assert_string_equal(out, text);

	/* and the signed vector opens as a checkpoint */
	vec_verifier("checkpoint8", &v);
	nl = vec_note("checkpoint8", note, sizeof(note));
	memset(&cp, 0xff, sizeof(cp));
	assert_int_equal(note_checkpoint_open(note, nl, &v, 1, &cp), 0);
	assert_int_equal(cp.size, 8);
	assert_memory_equal(cp.root, root, NOTE_HASH_LEN);
	vec_verifier("neumann", &v);	/* same key, other name: unknown */
	assert_int_equal(note_checkpoint_open(note, nl, &v, 1, &cp), -1);

	/* extension lines and size 0 */
	assert_int_equal(note_checkpoint_format("example.com/log", 0, root, ext, 2,
	    out, sizeof(out), &ol), 0);
	assert_int_equal(note_checkpoint_parse(out, ol, &cp), 0);
	assert_int_equal(cp.size, 0);
	assert_int_equal(cp.nextensions, 2);
	assert_int_equal(note_checkpoint_format("example.com/log", UINT64_MAX,
	    root, NULL, 0, out, sizeof(out), &ol), 0);
	assert_int_equal(note_checkpoint_parse(out, ol, &cp), 0);
	assert_true(cp.size == UINT64_MAX);

	for (i = 0; i < nitems(bad); i++)
		if (note_checkpoint_parse(bad[i], strlen(bad[i]), &cp) != -1)
			fail_msg("checkpoint %zu accepted", i);

	/* what cannot be formatted */
	assert_int_equal(note_checkpoint_format("", 1, root, NULL, 0, out,
	    sizeof(out), &ol), -1);
	assert_int_equal(note_checkpoint_format("a\nb", 1, root, NULL, 0, out,
	    sizeof(out), &ol), -1);
	ext[1] = "";
	assert_int_equal(note_checkpoint_format("a", 1, root, ext, 2, out,
	    sizeof(out), &ol), -1);
	ext[1] = "x\ny";
	assert_int_equal(note_checkpoint_format("a", 1, root, ext, 2, out,
	    sizeof(out), &ol), -1);
	assert_int_equal(note_checkpoint_format("a", 1, root, NULL, 0, out, 20,
	    &ol), -1);
}

static void
test_generated_key(void **state)
{
	EVP_PKEY		*pk, *ec;
	struct note_signer	 s;
	struct note_verifier	 v, parsed;
	struct note_checkpoint	 cp;
	uint8_t			 root[NOTE_HASH_LEN];
	char			 text[512], note[1024], vkey[NOTE_VKEY_MAX];
	size_t			 tl, nl;

	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(pk);
	assert_int_equal(note_signer_from_pkey(&s, "gateway.example/audit", pk), 0);
	EVP_PKEY_free(pk);	/* s keeps its own reference */
	note_signer_verifier(&s, &v);
	assert_int_equal(note_verifier_format(&v, vkey, sizeof(vkey)), 0);
	assert_int_equal(note_verifier_parse(&parsed, vkey), 0);
	assert_memory_equal(&parsed, &v, sizeof(v));

	memset(root, 0x5a, sizeof(root));
	assert_int_equal(note_checkpoint_format("gateway.example/audit", 12345,
	    root, NULL, 0, text, sizeof(text), &tl), 0);
	assert_int_equal(note_sign_note(&s, text, tl, note, sizeof(note), &nl), 0);
	assert_int_equal(note_checkpoint_open(note, nl, &parsed, 1, &cp), 0);
	assert_string_equal(cp.origin, "gateway.example/audit");
	assert_int_equal(cp.size, 12345);
	assert_memory_equal(cp.root, root, sizeof(root));
	note_signer_free(&s);

	/* only Ed25519 keys and valid names make signers */
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(ec);
	assert_int_equal(note_signer_from_pkey(&s, "example.com/log", ec), -1);
	assert_null(s.key);
	EVP_PKEY_free(ec);
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(pk);
	assert_int_equal(note_signer_from_pkey(&s, "bad name", pk), -1);
	assert_int_equal(note_signer_from_pkey(&s, "", pk), -1);
	assert_int_equal(note_signer_from_pkey(&s, "ok", NULL), -1);
	EVP_PKEY_free(pk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vkeys),
		cmocka_unit_test(test_sign_neumann),
		cmocka_unit_test(test_verify_vectors),
		cmocka_unit_test(test_verify_corrupted),
		cmocka_unit_test(test_verify_signature_lines),
		cmocka_unit_test(test_key_strings),
		cmocka_unit_test(test_checkpoint),
		cmocka_unit_test(test_generated_key),
	};

	/* refusals are logged as warnings at their site; the tests make many */
	log_init("test_note", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
