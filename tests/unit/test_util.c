/* Unit tests for util: the bounded string, number, duration, hex and JSON
 * helpers every role uses, at their boundaries. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"
#include "util.h"

/* ---- parse_u64 ---- */

static void
test_parse_u64_ok(void **state)
{
	uint64_t	v = 99;

	assert_int_equal(parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_u64("5", 5, 5, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(parse_u64("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551614", 0, UINT64_MAX - 1, &v),
	    0);
	assert_true(v == UINT64_MAX - 1);
}

static void
test_parse_u64_bad(void **state)
{
	static const char *const bad[] = {
		"", "+1", "-1", "-0", " 1", "1 ", "1a", "0x10", "1.0", "1e3",
		"\t1", "1\n", "abc", "18446744073709551616",
		"99999999999999999999999999",
	};
	uint64_t	v = 1234;
	size_t		i;

	for (i = 0; i < nitems(bad); i++) {
		if (parse_u64(bad[i], 0, UINT64_MAX, &v) != -1)
			fail_msg("parse_u64 accepted \"%s\"", bad[i]);
		assert_true(v == 1234);		/* untouched on failure */
	}
	assert_int_equal(parse_u64(NULL, 0, 10, &v), -1);
	/* Range: both ends are inclusive, one past is refused. */
	assert_int_equal(parse_u64("4", 5, 10, &v), -1);
	assert_int_equal(parse_u64("11", 5, 10, &v), -1);
	assert_int_equal(parse_u64("18446744073709551615", 0,
	    UINT64_MAX - 1, &v), -1);
	assert_true(v == 1234);
}

/* ---- parse_duration_ms ---- */

static void
test_duration_ok(void **state)
{
	static const struct { const char *s; uint64_t max, ms; } ok[] = {
		{ "250ms", 86400000, 250 },
		{ "10s", 86400000, 10000 },
		{ "10", 86400000, 10000 },	/* bare number: seconds */
		{ "2m", 86400000, 120000 },
		{ "1h", 86400000, 3600000 },
		{ "0", 86400000, 0 },
		{ "0ms", 86400000, 0 },
		{ "0h", 86400000, 0 },
		{ "86400000ms", 86400000, 86400000 },
		{ "86400s", 86400000, 86400000 },
		{ "1440m", 86400000, 86400000 },
		{ "24h", 86400000, 86400000 },
		{ "1s", 1500, 1000 },
		{ "1500ms", 1500, 1500 },
		{ "0000000000000000000000000000001s", 86400000, 1000 },
	};
	uint64_t	v;
	size_t		i;

	for (i = 0; i < nitems(ok); i++) {
		v = 12345;
		if (parse_duration_ms(ok[i].s, ok[i].max, &v) != 0)
			fail_msg("parse_duration_ms refused \"%s\"", ok[i].s);
		if (v != ok[i].ms)
			fail_msg("\"%s\": %llu ms, want %llu", ok[i].s,
			    (unsigned long long)v, (unsigned long long)ok[i].ms);
	}
}

static void
test_duration_bad(void **state)
{
	static const struct { const char *s; uint64_t max; } bad[] = {
		{ "", 86400000 }, { "ms", 86400000 }, { "s", 86400000 },
		{ "10 s", 86400000 }, { " 10s", 86400000 }, { "10s ", 86400000 },
		{ "10S", 86400000 }, { "10MS", 86400000 }, { "1.5s", 86400000 },
		{ "-1s", 86400000 }, { "+1s", 86400000 }, { "10sec", 86400000 },
		{ "10d", 86400000 }, { "10us", 86400000 }, { "1h30m", 86400000 },
		{ "0x10", 86400000 },
		/* over the maximum, in every unit */
		{ "86400001ms", 86400000 }, { "86401s", 86400000 },
		{ "1441m", 86400000 }, { "25h", 86400000 }, { "86401", 86400000 },
		{ "2s", 1500 }, { "1501ms", 1500 }, { "1m", 59999 },
		/* 32 digits do not fit the number buffer; 20 overflow u64 */
		{ "00000000000000000000000000000001s", 86400000 },
		{ "99999999999999999999ms", UINT64_MAX },
	};
	uint64_t	v = 777;
	size_t		i;

	for (i = 0; i < nitems(bad); i++) {
		if (parse_duration_ms(bad[i].s, bad[i].max, &v) != -1)
			fail_msg("parse_duration_ms accepted \"%s\" (max %llu)",
			    bad[i].s, (unsigned long long)bad[i].max);
		assert_true(v == 777);
	}
}

/* ---- str_* ---- */

static void
test_str_copy(void **state)
{
	char	buf[8];

	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(str_copy(buf, sizeof(buf), "1234567"), 0);	/* fits exactly */
	assert_string_equal(buf, "1234567");
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(str_copy(buf, sizeof(buf), "12345678"), -1);	/* one too many */
	assert_string_equal(buf, "1234567");
	assert_int_equal(str_copy(buf, sizeof(buf), "a much longer string"), -1);
	assert_string_equal(buf, "a much ");
	assert_int_equal(str_copy(buf, 1, "x"), -1);
	assert_string_equal(buf, "");
	assert_int_equal(str_copy(buf, 1, ""), 0);
	assert_string_equal(buf, "");
	/* dsz 0: nothing may be written. */
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(str_copy(buf, 0, "x"), -1);
	assert_int_equal(buf[0], 'Z');
	assert_int_equal(str_copy(buf, sizeof(buf), ""), 0);
	assert_string_equal(buf, "");
}

static void
test_str_append_printf(void **state)
{
	char	buf[8];

	assert_int_equal(str_copy(buf, sizeof(buf), "abc"), 0);
	assert_int_equal(str_append(buf, sizeof(buf), "defg"), 0);
	assert_string_equal(buf, "abcdefg");
	assert_int_equal(str_append(buf, sizeof(buf), "h"), -1);
	assert_string_equal(buf, "abcdefg");
	assert_int_equal(str_copy(buf, sizeof(buf), "abc"), 0);
	assert_int_equal(str_append(buf, sizeof(buf), "defgh"), -1);
	assert_string_equal(buf, "abcdefg");
	/* An unterminated buffer is refused, not overrun. */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(str_append(buf, sizeof(buf), "y"), -1);

	assert_int_equal(str_printf(buf, sizeof(buf), "%d-%s", 12, "abcd"), 0);
	assert_string_equal(buf, "12-abcd");
	assert_int_equal(str_printf(buf, sizeof(buf), "%d-%s", 123, "abcd"), -1);
	assert_string_equal(buf, "123-abc");
}

static void
test_str_ieq_trim(void **state)
{
	char	s1[] = " \t value \t\r\n", s2[] = "", s3[] = "   ", s4[] = "a b";

	assert_true(str_ieq("Content-Length", 14, "content-length"));
	assert_true(str_ieq("HOSTX", 4, "host"));	/* counted */
	assert_false(str_ieq("Host", 4, "hosts"));
	assert_false(str_ieq("Hosts", 5, "host"));
	assert_true(str_ieq("", 0, ""));
	assert_string_equal(str_trim(s1), "value");
	assert_string_equal(str_trim(s2), "");
	assert_string_equal(str_trim(s3), "");
	assert_string_equal(str_trim(s4), "a b");
}

/* ---- hex ---- */

static void
test_hex(void **state)
{
	unsigned char	out[4], all[256], back[256];
	char		hex[513];
	size_t		i;

	assert_int_equal(hex_decode(out, 2, "00ff"), 0);
	assert_int_equal(out[0], 0x00);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(hex_decode(out, 4, "DeadBEEF"), 0);
	assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
	assert_int_equal(hex_decode(out, 0, ""), 0);
	/* wrong lengths */
	assert_int_equal(hex_decode(out, 2, "00f"), -1);
	assert_int_equal(hex_decode(out, 2, "00fff"), -1);
	assert_int_equal(hex_decode(out, 2, "00ff00"), -1);
	assert_int_equal(hex_decode(out, 2, ""), -1);
	/* non-hex digits in either nibble */
	assert_int_equal(hex_decode(out, 2, "0g00"), -1);
	assert_int_equal(hex_decode(out, 2, "g000"), -1);
	assert_int_equal(hex_decode(out, 2, "00 f"), -1);
	assert_int_equal(hex_decode(out, 2, "0x0f"), -1);
	assert_int_equal(hex_decode(out, 2, "+0ff"), -1);
	assert_int_equal(hex_decode(out, 2, "00:f"), -1);
	assert_int_equal(hex_decode(out, 2, "@0ff"), -1);
	assert_int_equal(hex_decode(out, 2, "`0ff"), -1);
	assert_int_equal(hex_decode(out, 2, "G0ff"), -1);

	for (i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	hex_encode(hex, all, 256);
	assert_int_equal(strlen(hex), 512);
	assert_memory_equal(hex, "000102", 6);
	assert_string_equal(hex + 506, "fdfeff");
	assert_int_equal(hex_decode(back, 256, hex), 0);
	assert_memory_equal(back, all, 256);
	hex_encode(hex, all, 0);
	assert_string_equal(hex, "");
}

/* ---- json_escape ---- */

static void
test_json_escape(void **state)
{
	char		 buf[512], src[40];
	json_t		*j;
	json_error_t	 jerr;
	char		 doc[600];
	int		 c;

	assert_string_equal(json_escape(buf, sizeof(buf), "plain"), "plain");
	assert_string_equal(json_escape(buf, sizeof(buf), "a\"b\\c"),
	    "a\\\"b\\\\c");
	assert_string_equal(json_escape(buf, sizeof(buf), "\n\r\t"),
	    "\\n\\r\\t");
	assert_string_equal(json_escape(buf, sizeof(buf), "\x01\x1f\x7f"),
	    "\\u0001\\u001f\\u007f");
	assert_string_equal(json_escape(buf, sizeof(buf), "\x08\x0c"),
	    "\\u0008\\u000c");
	assert_string_equal(json_escape(buf, sizeof(buf), "/ <>&'"), "/ <>&'");
	/* UTF-8 passes through unchanged. */
	assert_string_equal(json_escape(buf, sizeof(buf), "兰州市"), "兰州市");
	assert_string_equal(json_escape(buf, sizeof(buf), ""), "");

	/* Every control character round-trips through a JSON parser. */
	for (c = 1; c < 0x20; c++)
		src[c - 1] = (char)c;
	src[0x1f] = 0x7f;
	src[0x20] = '"';
	src[0x21] = '\\';
	src[0x22] = '\0';
	json_escape(buf, sizeof(buf), src);
	assert_int_equal(str_printf(doc, sizeof(doc), "\"%s\"", buf), 0);
	j = json_loads(doc, JSON_DECODE_ANY, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(j), src);
	json_decref(j);
}

static void
test_json_escape_truncation(void **state)
{
	char	buf[16];

	/* dsz 0: untouched; dsz 1: empty. */
	memset(buf, 'Z', sizeof(buf));
	assert_ptr_equal(json_escape(buf, 0, "abc"), buf);
	assert_int_equal(buf[0], 'Z');
	assert_string_equal(json_escape(buf, 1, "abc"), "");
	/* Output always fits: 3 characters in 4 bytes. */
	assert_string_equal(json_escape(buf, 4, "abcdef"), "abc");
	assert_string_equal(json_escape(buf, 4, "abc"), "abc");
	/* An escape is never cut in half. */
	assert_string_equal(json_escape(buf, 3, "a\"b"), "a");
	assert_string_equal(json_escape(buf, 4, "a\"b"), "a\\\"");
	assert_string_equal(json_escape(buf, 6, "a\x01"), "a");
	assert_string_equal(json_escape(buf, 8, "a\x01"), "a\\u0001");
	assert_string_equal(json_escape(buf, 8, "\x01\x02"), "\\u0001");
	assert_string_equal(json_escape(buf, 2, "\\"), "");
	/* After a cut nothing shorter is appended (no "\\" then "b"). */
	assert_string_equal(json_escape(buf, 3, "\"bb"), "\\\"");
	assert_string_equal(json_escape(buf, 4, "\"\"b"), "\\\"");
}

static void
test_now_ms(void **state)
{
	uint64_t	a = now_ms(), b = now_ms();

	assert_true(a > 0);
	assert_true(b >= a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64_ok),
		cmocka_unit_test(test_parse_u64_bad),
		cmocka_unit_test(test_duration_ok),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_str_copy),
		cmocka_unit_test(test_str_append_printf),
		cmocka_unit_test(test_str_ieq_trim),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_escape_truncation),
		cmocka_unit_test(test_now_ms),
	};

	log_init("test_util", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
