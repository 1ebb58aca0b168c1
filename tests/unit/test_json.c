/* Unit tests for the JSON helper: the JSONTestSuite corpus under our policy,
 * the pre-parse limits, and each getter's status, code and JSON pointer. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"
#include "adapters/jcs.h"
#include "adapters/json.h"
#include "log.h"
#include "util.h"

#define CORPUS_MAX	(1024 * 1024)

/*
 * Policy for the conformance corpus (../shared/corpora/json/test_parsing):
 * every n_ file is refused; every y_ file is accepted except these, which
 * DESIGN §4 makes us refuse:
 */
static const char *const y_refused[] = {
	/* Duplicate keys are refused (JSON_REJECT_DUPLICATES): two readers
	 * could take different values from one signed body. */
	"y_object_duplicated_key.json",
	"y_object_duplicated_key_and_value.json",
	/* "\u0000" is refused in keys and strings (no JSON_ALLOW_NUL): C
	 * strings downstream would silently cut at it. */
	"y_object_escaped_null_in_key.json",
	"y_string_null_escape.json",
	NULL
};

/*
 * i_ files (implementation-defined): the decision for each, so a new file in
 * the corpus fails the test until it is decided.
 */
static const struct {
	const char	*name;
	int		 accept;
	const char	*why;
} i_policy[] = {
	/* Reals that underflow to 0 parse: the value is a real, which no
	 * amount accepts ("float-amount"), so nothing reads it as money. */
	{ "i_number_double_huge_neg_exp.json", 1, "underflows to 0.0" },
	{ "i_number_real_underflow.json", 1, "underflows to 0.0" },
	/* Numbers jansson cannot represent are refused, not rounded. */
	{ "i_number_huge_exp.json", 0, "real overflow" },
	{ "i_number_neg_int_huge_exp.json", 0, "real overflow" },
	{ "i_number_pos_double_huge_exp.json", 0, "real overflow" },
	{ "i_number_real_neg_overflow.json", 0, "real overflow" },
	{ "i_number_real_pos_overflow.json", 0, "real overflow" },
	{ "i_number_too_big_neg_int.json", 0, "beyond int64" },
	{ "i_number_too_big_pos_int.json", 0, "beyond int64" },
	{ "i_number_very_big_negative_int.json", 0, "beyond int64" },
	/* Lone or mismatched UTF-16 surrogate escapes: not Unicode. */
	{ "i_object_key_lone_2nd_surrogate.json", 0, "lone surrogate" },
	{ "i_string_1st_surrogate_but_2nd_missing.json", 0, "lone surrogate" },
	{ "i_string_1st_valid_surrogate_2nd_invalid.json", 0, "bad pair" },
	{ "i_string_incomplete_surrogate_and_escape_valid.json", 0,
	    "lone surrogate" },
	{ "i_string_incomplete_surrogate_pair.json", 0, "lone surrogate" },
	{ "i_string_incomplete_surrogates_escape_valid.json", 0,
	    "lone surrogates" },
	{ "i_string_invalid_lonely_surrogate.json", 0, "lone surrogate" },
	{ "i_string_invalid_surrogate.json", 0, "lone surrogate" },
	{ "i_string_inverted_surrogates_U+1D11E.json", 0, "inverted pair" },
	{ "i_string_lone_second_surrogate.json", 0, "lone surrogate" },
	/* Bytes that are not UTF-8: only UTF-8 is JSON here (RFC 8259 §8.1). */
	{ "i_string_UTF-8_invalid_sequence.json", 0, "not UTF-8" },
	{ "i_string_UTF8_surrogate_U+D800.json", 0, "encoded surrogate" },
	{ "i_string_invalid_utf-8.json", 0, "not UTF-8" },
	{ "i_string_iso_latin_1.json", 0, "Latin-1" },
	{ "i_string_lone_utf8_continuation_byte.json", 0, "not UTF-8" },
	{ "i_string_not_in_unicode_range.json", 0, "beyond U+10FFFF" },
	{ "i_string_overlong_sequence_2_bytes.json", 0, "overlong" },
	{ "i_string_overlong_sequence_6_bytes.json", 0, "overlong" },
	{ "i_string_overlong_sequence_6_bytes_null.json", 0, "overlong" },
	{ "i_string_truncated-utf-8.json", 0, "truncated" },
	/* UTF-16 documents hold NUL bytes: refused before parsing. */
	{ "i_string_UTF-16LE_with_BOM.json", 0, "UTF-16 (NUL bytes)" },
	{ "i_string_utf16BE_no_BOM.json", 0, "UTF-16 (NUL bytes)" },
	{ "i_string_utf16LE_no_BOM.json", 0, "UTF-16 (NUL bytes)" },
	/* A byte order mark is not JSON text (RFC 8259 §8.1: MUST NOT). */
	{ "i_structure_UTF-8_BOM_empty_object.json", 0, "BOM" },
	/* Deeper than JSON_MAX_DEPTH. */
	{ "i_structure_500_nested_arrays.json", 0, "too deep" },
};

static char *
corpus_dir(void)
{
	const char	*d = getenv("GW_SHARED");
	static char	 path[1024];

	if (str_printf(path, sizeof(path), "%s/corpora/json/test_parsing",
	    d ? d : "../shared") == -1)
		fail_msg("GW_SHARED too long");
	return path;
}

static char *
read_all(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;

	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot open %s", path);
	if ((buf = malloc(CORPUS_MAX)) == NULL)
		fail_msg("malloc");
	*len = fread(buf, 1, CORPUS_MAX, f);
	if (ferror(f) || !feof(f))
		fail_msg("cannot read %s whole", path);
	fclose(f);
	return buf;
}

static int
name_in(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(name, *list) == 0)
			return 1;
	return 0;
}

/* 1 accepted, 0 refused (with a status 400 or 413 and a code). */
static int
try_parse(const char *buf, size_t len, struct adapter_error *e)
{
	json_t	*v = NULL;
	int	 rc;

	memset(e, 0, sizeof(*e));
	rc = json_parse_body(buf, len, CORPUS_MAX, &v, e);
	if (rc == 0) {
		assert_non_null(v);
		assert_int_equal(e->status, 0);
		json_decref(v);
		return 1;
	}
	assert_int_equal(rc, -1);
	assert_null(v);
	assert_true(e->status == 400 || e->status == 413);
	assert_true(e->code[0] != '\0');
	return 0;
}

static void
test_corpus(void **state)
{
	struct adapter_error	 e;
	struct dirent		*de;
	DIR			*d;
	char			 path[2048], *buf;
	size_t			 len, i, ny = 0, nn = 0, ni = 0, nyref = 0;
	int			 acc, found[nitems(i_policy)] = { 0 };

	if ((d = opendir(corpus_dir())) == NULL)
		fail_msg("cannot open %s (set GW_SHARED to the shared "
		    "directory)", corpus_dir());
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) < 3 ||
		    de->d_name[1] != '_')
			continue;
		if (str_printf(path, sizeof(path), "%s/%s", corpus_dir(),
		    de->d_name) == -1)
			fail_msg("path too long");
		buf = read_all(path, &len);
		acc = try_parse(buf, len, &e);
		free(buf);
		switch (de->d_name[0]) {
		case 'n':
			nn++;
			if (acc)
				fail_msg("accepted %s", de->d_name);
			break;
		case 'y':
			ny++;
			if (name_in(de->d_name, y_refused)) {
				nyref++;
				if (acc)
					fail_msg("accepted %s (policy: "
					    "refuse)", de->d_name);
			} else if (!acc)
				fail_msg("refused %s: %s %s", de->d_name,
				    e.code, e.detail);
			break;
		case 'i':
			ni++;
			for (i = 0; i < nitems(i_policy); i++)
				if (strcmp(de->d_name, i_policy[i].name) == 0)
					break;
			if (i == nitems(i_policy))
				fail_msg("%s has no documented policy",
				    de->d_name);
			found[i] = 1;
			if (acc != i_policy[i].accept)
				fail_msg("%s %s, policy says %s (%s)",
				    de->d_name, acc ? "accepted" : "refused",
				    i_policy[i].accept ? "accept" : "refuse",
				    i_policy[i].why);
			break;
		default:
			break;
		}
	}
	closedir(d);
	/* The corpus is what it was when the policy was written. */
	assert_int_equal(nn, 188);
	assert_int_equal(ny, 95);
	assert_int_equal(ni, nitems(i_policy));
	assert_int_equal(nyref, 4);
	for (i = 0; i < nitems(i_policy); i++)
		if (!found[i])
			fail_msg("%s is missing from the corpus",
			    i_policy[i].name);
}

/* Some corpus files are refused for a specific reason: check it. */
static void
test_corpus_reasons(void **state)
{
	static const struct { const char *name, *code; } cases[] = {
		{ "n_structure_100000_opening_arrays.json", "too-deep" },
		{ "n_structure_open_array_object.json", "too-deep" },
		{ "i_structure_500_nested_arrays.json", "too-deep" },
		/* jansson alone would stop at the NUL and accept "123". */
		{ "n_multidigit_number_then_00.json", "nul-byte" },
		{ "n_structure_null-byte-outside-string.json", "nul-byte" },
		{ "i_string_utf16LE_no_BOM.json", "nul-byte" },
		{ "y_object_duplicated_key.json", "duplicate-key" },
		{ "y_string_null_escape.json", "nul-byte" },
		{ "y_object_escaped_null_in_key.json", "nul-byte" },
		{ "i_string_iso_latin_1.json", "bad-utf8" },
		{ "i_number_too_big_pos_int.json", "number-overflow" },
		{ "n_structure_double_array.json", "trailing-data" },
		{ "n_structure_trailing_#.json", "trailing-data" },
		{ "n_array_comma_and_number.json", "malformed" },
	};
	struct adapter_error	e;
	char			path[2048], *buf;
	size_t			len, i;

	for (i = 0; i < nitems(cases); i++) {
		if (str_printf(path, sizeof(path), "%s/%s", corpus_dir(),
		    cases[i].name) == -1)
			fail_msg("path too long");
		buf = read_all(path, &len);
		assert_int_equal(try_parse(buf, len, &e), 0);
		free(buf);
		if (strcmp(e.code, cases[i].code) != 0)
			fail_msg("%s: code %s, want %s", cases[i].name, e.code,
			    cases[i].code);
		assert_int_equal(e.status, 400);
		assert_string_equal(e.field, "");
	}
}

/* ---- parsing limits ---- */

static void
expect_refused(const char *buf, size_t len, size_t max, int status,
    const char *code)
{
	struct adapter_error	 e;
	json_t			*v = (json_t *)&e;	/* must become NULL */

	memset(&e, 0, sizeof(e));
	assert_int_equal(json_parse_body(buf, len, max, &v, &e), -1);
	assert_null(v);
	assert_int_equal(e.status, status);
	if (strcmp(e.code, code) != 0)
		fail_msg("\"%.*s\": code %s, want %s", (int)(len > 60 ? 60 :
		    len), buf ? buf : "", e.code, code);
}

static void
expect_parsed(const char *buf, size_t len, size_t max)
{
	struct adapter_error	 e;
	json_t			*v = NULL;

	memset(&e, 0, sizeof(e));
	if (json_parse_body(buf, len, max, &v, &e) != 0)
		fail_msg("refused \"%.*s\": %s %s", (int)(len > 60 ? 60 : len),
		    buf, e.code, e.detail);
	assert_non_null(v);
	json_decref(v);
}

/* "[" x depth, "]" x depth. */
static char *
nested(size_t depth, char open, char close, size_t *len)
{
	char	*s;

	if ((s = malloc(2 * depth + 1)) == NULL)
		fail_msg("malloc");
	memset(s, open, depth);
	memset(s + depth, close, depth);
	s[2 * depth] = '\0';
	*len = 2 * depth;
	return s;
}

static void
test_parse_limits(void **state)
{
	static const char	body[] = "{\"a\": [1, 2, 3]}";
	char			*s, obj[4096];
	size_t			 len, o, i;

	/* Size: max inclusive. */
	expect_parsed(body, strlen(body), strlen(body));
	expect_refused(body, strlen(body), strlen(body) - 1, 413, "too-large");
	expect_refused(body, strlen(body), 0, 413, "too-large");

	/* Depth: 32 levels parse, 33 do not, whatever the brackets. */
	s = nested(JSON_MAX_DEPTH, '[', ']', &len);
	expect_parsed(s, len, 1 << 20);
	free(s);
	s = nested(JSON_MAX_DEPTH + 1, '[', ']', &len);
	expect_refused(s, len, 1 << 20, 400, "too-deep");
	free(s);
	s = nested(100000, '[', ']', &len);
	expect_refused(s, len, 1 << 20, 400, "too-deep");
	free(s);
	/* Objects nest too: {"a":{"a":...1...}} of depth 33. */
	o = 0;
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		o += (size_t)snprintf(obj + o, sizeof(obj) - o, "{\"a\":");
	o += (size_t)snprintf(obj + o, sizeof(obj) - o, "1");
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		obj[o++] = '}';
	expect_refused(obj, o, 1 << 20, 400, "too-deep");
	/* Brackets inside strings (and after escaped quotes) do not count. */
	s = nested(40, '[', ']', &len);
	assert_true(str_printf(obj, sizeof(obj), "{\"k\\\"[\": \"%s\\\\\"}", s)
	    == 0);
	free(s);
	expect_parsed(obj, strlen(obj), 1 << 20);
	/* Closing brackets in excess do not lower the bound. */
	s = nested(JSON_MAX_DEPTH + 1, '[', ']', &len);
	assert_true(str_printf(obj, sizeof(obj), "]]]]%s", s) == 0);
	free(s);
	expect_refused(obj, strlen(obj), 1 << 20, 400, "too-deep");

	/* NUL anywhere, before jansson: inside a string, after the value. */
	expect_refused("{\"a\":\"x\0y\"}", 11, 100, 400, "nul-byte");
	expect_refused("{\"a\":1}\0", 8, 100, 400, "nul-byte");
	expect_refused("\0", 1, 100, 400, "nul-byte");
	expect_refused("{\"a\":\"\\u0000\"}", 14, 100, 400, "nul-byte");
	expect_refused("{\"a\\u0000\":1}", 13, 100, 400, "nul-byte");

	/* Trailing data; trailing white space is fine. */
	expect_refused("{} {}", 5, 100, 400, "trailing-data");
	expect_refused("{}x", 3, 100, 400, "trailing-data");
	expect_parsed("{} \r\n\t", 6, 100);
	expect_parsed(" {}", 3, 100);

	/* Duplicates at any depth. */
	expect_refused("{\"a\":1,\"a\":1}", 13, 100, 400, "duplicate-key");
	expect_refused("{\"x\":[{\"a\":1,\"b\":2,\"a\":3}]}", 27, 100, 400,
	    "duplicate-key");

	expect_refused("", 0, 100, 400, "malformed");
	expect_refused(NULL, 0, 100, 400, "malformed");
	expect_refused("   ", 3, 100, 400, "malformed");
	expect_refused("{\"a\":01}", 8, 100, 400, "malformed");
	expect_refused("{'a':1}", 7, 100, 400, "malformed");
	expect_refused("{\"a\":1,}", 8, 100, 400, "malformed");
	expect_refused("{\"a\":\"\xc3\"}", 9, 100, 400, "bad-utf8");
	expect_refused("[99999999999999999999]", 22, 100, 400,
	    "number-overflow");
	/* Not NUL-terminated: the length is what counts. */
	expect_parsed("{\"a\":1}garbage", 7, 100);
}

/* The reason for people never carries raw input bytes. */
static void
test_parse_detail_clean(void **state)
{
	struct adapter_error	 e;
	json_t			*v;
	const char		 bad[] = "[\"\x01\xff\n\"]";
	size_t			 i;

	memset(&e, 0, sizeof(e));
	assert_int_equal(json_parse_body(bad, sizeof(bad) - 1, 100, &v, &e),
	    -1);
	for (i = 0; e.detail[i] != '\0'; i++)
		assert_true(e.detail[i] >= 0x20 && e.detail[i] < 0x7f);
}

static void
test_parse_object(void **state)
{
	struct adapter_error	 e;
	json_t			*v;

	memset(&e, 0, sizeof(e));
	assert_int_equal(json_parse_object("[]", 2, 100, &v, &e), -1);
	assert_null(v);
	assert_int_equal(e.status, 422);
	assert_string_equal(e.code, "wrong-type");
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_parse_object("\"s\"", 3, 100, &v, &e), -1);
	assert_string_equal(e.code, "wrong-type");
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_parse_object("{}", 2, 100, &v, &e), 0);
	assert_true(json_is_object(v));
	json_decref(v);
	/* Parse errors keep their own status. */
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_parse_object("{", 1, 100, &v, &e), -1);
	assert_int_equal(e.status, 400);
}

/* ---- field helpers ---- */

static json_t *
obj(const char *s)
{
	struct adapter_error	 e;
	json_t			*v;

	memset(&e, 0, sizeof(e));
	if (json_parse_object(s, strlen(s), 1 << 16, &v, &e) != 0)
		fail_msg("test body refused: %s %s", e.code, e.detail);
	return v;
}

static void
expect_err(const struct adapter_error *e, int status, const char *code,
    const char *field)
{
	if (e->status != status || strcmp(e->code, code) != 0 ||
	    strcmp(e->field, field) != 0)
		fail_msg("got %d %s \"%s\", want %d %s \"%s\" (%s)", e->status,
		    e->code, e->field, status, code, field, e->detail);
}

static void
test_check_fields(void **state)
{
	static const char *const names[] = { "a", "b", NULL };
	struct adapter_error	 e;
	json_t			*v;

	v = obj("{\"a\":1,\"b\":2}");
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_check_fields(v, "", names, &e), 0);
	assert_int_equal(e.status, 0);
	json_decref(v);

	v = obj("{\"a\":1,\"c\":2}");
	assert_int_equal(json_check_fields(v, "", names, &e), -1);
	expect_err(&e, 422, "unknown-field", "/c");
	json_decref(v);

	/* RFC 6901 escapes, and the parent's pointer. */
	v = obj("{\"a/b~c\":1}");
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_check_fields(v, "/items/2", names, &e), -1);
	expect_err(&e, 422, "unknown-field", "/items/2/a~1b~0c");
	json_decref(v);

	/* Case matters. */
	v = obj("{\"A\":1}");
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_check_fields(v, "", names, &e), -1);
	expect_err(&e, 422, "unknown-field", "/A");
	json_decref(v);
}

static void
test_ptr(void **state)
{
	char	p[JSON_PTR_MAX], name[400], base[200];
	size_t	i;

	json_ptr(p, "", "amount_fen");
	assert_string_equal(p, "/amount_fen");
	json_ptr(p, "/lines/3", "plan_id");
	assert_string_equal(p, "/lines/3/plan_id");
	json_ptr(p, "", "a\nb");
	assert_string_equal(p, "/a?b");
	json_ptr(p, "", "");
	assert_string_equal(p, "/");

	/* A long name is cut on a character boundary: "名" is 3 bytes, so
	 * 1 + 42 * 3 = 127 bytes fit exactly. */
	name[0] = '\0';
	for (i = 0; i < 100; i++)
		assert_int_equal(str_append(name, sizeof(name), "名"), 0);
	json_ptr(p, "", name);
	assert_int_equal(strlen(p), 127);
	json_ptr(p, "/x", name);		/* 3 + 41 * 3 = 126 */
	assert_int_equal(strlen(p), 126);
	/* An escape is never cut in half. */
	memset(name, '~', 200);
	name[200] = '\0';
	json_ptr(p, "", name);
	assert_int_equal(strlen(p), 127);
	json_ptr(p, "/", name);
	assert_int_equal(strlen(p), 126);
	assert_true(p[125] == '0');
	/* A base that alone fills the pointer. */
	memset(base, 'b', sizeof(base) - 1);
	base[sizeof(base) - 1] = '\0';
	json_ptr(p, base, "x");
	assert_int_equal(strlen(p), JSON_PTR_MAX - 1);
}

static int
is_abc(const char *s)
{
	return strcmp(s, "abc") == 0;
}

static void
test_get_string(void **state)
{
	struct adapter_error	 e;
	json_t			*v;
	char			 buf[8];

	v = obj("{\"s\":\"abc\",\"n\":1,\"z\":null,\"e\":\"\",\"long\":"
	    "\"12345678\",\"seven\":\"1234567\",\"ctl\":\"a\\tb\",\"del\":"
	    "\"a\\u007f\",\"u\":\"张三\",\"arr\":[]}");

	memset(&e, 0, sizeof(e));
	assert_int_equal(json_get_string(v, "", "s", buf, sizeof(buf), NULL,
	    NULL, &e), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(json_get_string(v, "", "s", buf, sizeof(buf), is_abc,
	    "bad-abc", &e), 0);
	assert_int_equal(json_get_string(v, "", "seven", buf, sizeof(buf),
	    NULL, NULL, &e), 0);		/* exactly dsz - 1 */
	assert_string_equal(buf, "1234567");
	assert_int_equal(json_get_string(v, "", "u", buf, sizeof(buf), NULL,
	    NULL, &e), 0);
	assert_string_equal(buf, "张三");
	assert_int_equal(e.status, 0);

#define BAD(name, check, code, want_code, ptr) do {			\
	memset(&e, 0, sizeof(e));					\
	str_copy(buf, sizeof(buf), "junk");						\
	assert_int_equal(json_get_string(v, "/o", name, buf,		\
	    sizeof(buf), check, code, &e), -1);				\
	expect_err(&e, 422, want_code, ptr);				\
	assert_string_equal(buf, "");					\
} while (0)
	BAD("missing", NULL, NULL, "missing-field", "/o/missing");
	BAD("missing", is_abc, "bad-abc", "missing-field", "/o/missing");
	BAD("n", NULL, NULL, "wrong-type", "/o/n");
	BAD("z", NULL, NULL, "wrong-type", "/o/z");
	BAD("arr", NULL, NULL, "wrong-type", "/o/arr");
	BAD("e", NULL, NULL, "empty", "/o/e");
	BAD("e", is_abc, "bad-abc", "bad-abc", "/o/e");
	BAD("long", NULL, NULL, "too-long", "/o/long");
	BAD("long", is_abc, "bad-abc", "bad-abc", "/o/long");
	BAD("seven", is_abc, "bad-abc", "bad-abc", "/o/seven");
	BAD("ctl", NULL, NULL, "control-char", "/o/ctl");
	BAD("del", NULL, NULL, "control-char", "/o/del");
	BAD("ctl", is_abc, "bad-abc", "bad-abc", "/o/ctl");
#undef BAD

	/* Optional: absent is "", present is checked like a required one,
	 * an empty one without a format is "none". */
	memset(&e, 0, sizeof(e));
	str_copy(buf, sizeof(buf), "junk");
	assert_int_equal(json_get_opt_string(v, "", "missing", buf,
	    sizeof(buf), is_abc, "bad-abc", &e), 0);
	assert_string_equal(buf, "");
	assert_int_equal(json_get_opt_string(v, "", "e", buf, sizeof(buf),
	    NULL, NULL, &e), 0);
	assert_string_equal(buf, "");
	assert_int_equal(json_get_opt_string(v, "", "s", buf, sizeof(buf),
	    is_abc, "bad-abc", &e), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(e.status, 0);
	assert_int_equal(json_get_opt_string(v, "", "e", buf, sizeof(buf),
	    is_abc, "bad-abc", &e), -1);
	expect_err(&e, 422, "bad-abc", "/e");
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_get_opt_string(v, "", "z", buf, sizeof(buf),
	    NULL, NULL, &e), -1);
	expect_err(&e, 422, "wrong-type", "/z");
	json_decref(v);

	/* A value with an embedded NUL built without the parser. */
	v = json_object();
	assert_int_equal(json_object_set_new(v, "s", json_stringn("a\0b", 3)),
	    0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_get_string(v, "", "s", buf, sizeof(buf), NULL,
	    NULL, &e), -1);
	expect_err(&e, 422, "control-char", "/s");
	json_decref(v);
}

static void
test_get_amount(void **state)
{
	static const struct { const char *json; int64_t fen; } ok[] = {
		{ "{\"a\":0}", 0 },
		{ "{\"a\":1}", 1 },
		{ "{\"a\":-0}", 0 },
		{ "{\"a\":123456789}", 123456789 },
		{ "{\"a\":9007199254740991}", INT64_C(9007199254740991) },
	};
	static const struct { const char *json, *code; } bad[] = {
		{ "{\"a\":100.0}", "float-amount" },
		{ "{\"a\":1e2}", "float-amount" },
		{ "{\"a\":1E2}", "float-amount" },
		{ "{\"a\":1.5}", "float-amount" },
		{ "{\"a\":-0.0}", "float-amount" },
		{ "{\"a\":0e0}", "float-amount" },
		{ "{\"a\":1e-300}", "float-amount" },
		{ "{\"a\":\"100\"}", "wrong-type" },
		{ "{\"a\":true}", "wrong-type" },
		{ "{\"a\":null}", "wrong-type" },
		{ "{\"a\":[1]}", "wrong-type" },
		{ "{\"a\":{}}", "wrong-type" },
		{ "{\"a\":-1}", "negative-amount" },
		{ "{\"a\":-9223372036854775808}", "negative-amount" },
		{ "{\"a\":9007199254740992}", "amount-too-large" },
		{ "{\"a\":999999999999999999}", "amount-too-large" },
		{ "{\"a\":9223372036854775807}", "amount-too-large" },
		{ "{\"b\":1}", "missing-field" },
	};
	struct adapter_error	 e;
	json_t			*v;
	int64_t			 fen;
	size_t			 i;

	for (i = 0; i < nitems(ok); i++) {
		v = obj(ok[i].json);
		memset(&e, 0, sizeof(e));
		fen = -7;
		if (json_get_amount(v, "", "a", &fen, &e) != 0)
			fail_msg("%s refused: %s", ok[i].json, e.code);
		assert_true(fen == ok[i].fen);
		json_decref(v);
	}
	for (i = 0; i < nitems(bad); i++) {
		v = obj(bad[i].json);
		memset(&e, 0, sizeof(e));
		fen = -7;
		if (json_get_amount(v, "/items/2", "a", &fen, &e) != -1)
			fail_msg("%s accepted", bad[i].json);
		expect_err(&e, 422, bad[i].code, "/items/2/a");
		assert_true(fen == -7);
		json_decref(v);
	}
}

static void
test_get_array(void **state)
{
	struct adapter_error	 e;
	json_t			*v, *a, *el;
	char			 p[JSON_PTR_MAX];

	v = obj("{\"a\":[{\"x\":1},2],\"e\":[],\"o\":{},\"three\":[{},{},{}]}");
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_get_array(v, "", "a", 1, 2, &a, &e), 0);
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(json_get_element(a, "/a", 0, &el, p, &e), 0);
	assert_string_equal(p, "/a/0");
	assert_true(json_is_object(el));
	assert_int_equal(json_get_element(a, "/a", 1, &el, p, &e), -1);
	expect_err(&e, 422, "wrong-type", "/a/1");
	assert_null(el);
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_get_element(a, "/a", 2, &el, p, &e), -1);
	expect_err(&e, 422, "wrong-type", "/a/2");

#define BAD(name, min, max, code) do {					\
	memset(&e, 0, sizeof(e));					\
	a = v;								\
	assert_int_equal(json_get_array(v, "", name, min, max, &a,	\
	    &e), -1);							\
	assert_null(a);							\
	expect_err(&e, 422, code, "/" name);				\
} while (0)
	BAD("e", 1, 5, "too-few");
	BAD("three", 1, 2, "too-many");
	BAD("o", 0, 5, "wrong-type");
	BAD("missing", 0, 5, "missing-field");
#undef BAD
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_get_array(v, "", "e", 0, 5, &a, &e), 0);
	assert_int_equal(json_get_array(v, "", "three", 3, 3, &a, &e), 0);
	assert_true(json_has(v, "o"));
	assert_false(json_has(v, "missing"));
	json_decref(v);
}

/* The first refusal wins: later failures do not overwrite it. */
static void
test_first_reason(void **state)
{
	struct adapter_error	 e;
	json_t			*v;
	int64_t			 fen;
	char			 buf[8];

	v = obj("{\"a\":1.5,\"s\":1}");
	memset(&e, 0, sizeof(e));
	assert_int_equal(json_get_amount(v, "", "a", &fen, &e), -1);
	assert_int_equal(json_get_string(v, "", "s", buf, sizeof(buf), NULL,
	    NULL, &e), -1);
	expect_err(&e, 422, "float-amount", "/a");
	json_decref(v);
}

/* jcs_serialize_with splices canonical bytes in as a member: the result is
 * byte for byte what serializing the object holding the parsed member
 * gives, wherever the member's name sorts (UTF-16 order: "\u00e9" after
 * "z", a supplementary character before U+FF61); a name the object already
 * holds is refused. */
static void
test_jcs_with(void **state)
{
	static const char *const keys[] = { "0", "instruction", "zz",
	    "\u00e9", "\\ud83d\\ude00", "\uff61" };
	static const char member[] = "{\"s\":\"a\\u001fb\\\"\u4e2d\","
	    "\"n\":[1,-2,{\"t\":true,\"f\":null}],\"\u00e9\":\"x\"}";
	json_t	*base, *m, *full, *key;
	char	*canon, *a, *b, src[64];
	size_t	 clen, alen, blen, i;

	m = obj(member);
	assert_int_equal(jcs_serialize(m, &canon, &clen), 0);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		base = obj("{\"kind\":\"instruction\",\"index\":7,"
		    "\"a\":[\"\u00e9\"],\"\uff60\":1,\"\u00ff\":0}");
		assert_true(snprintf(src, sizeof(src), "\"%s\"", keys[i]) > 0);
		assert_non_null(key = json_loads(src, JSON_DECODE_ANY, NULL));
		full = json_deep_copy(base);
		assert_int_equal(json_object_set(full, json_string_value(key),
		    m), 0);
		assert_int_equal(jcs_serialize(full, &a, &alen), 0);
		assert_int_equal(jcs_serialize_with(base,
		    json_string_value(key), canon, clen, &b, &blen), 0);
		assert_int_equal(alen, blen);
		assert_memory_equal(a, b, alen);
		assert_int_equal(jcs_serialize_with(full,
		    json_string_value(key), canon, clen, &b, &blen), -1);
		free(a);
		free(b);
		json_decref(key);
		json_decref(full);
		json_decref(base);
	}
	free(canon);
	json_decref(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_corpus_reasons),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_parse_detail_clean),
		cmocka_unit_test(test_parse_object),
		cmocka_unit_test(test_check_fields),
		cmocka_unit_test(test_ptr),
		cmocka_unit_test(test_get_string),
		cmocka_unit_test(test_get_amount),
		cmocka_unit_test(test_get_array),
		cmocka_unit_test(test_first_reason),
		cmocka_unit_test(test_jcs_with),
	};

	log_init("test_json", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
