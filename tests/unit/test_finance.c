/* Unit tests for the finance adapters: remittance advices and plan reviews,
 * their exact canonical bytes, and every refusal's status, code and field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/adapter.h"
#include "adapters/finance.h"
#include "adapters/instr.h"
#include "log.h"
#include "util.h"

#define MAX_BODY	4096

struct kv {
	const char	*k, *v;		/* v: raw JSON value text */
};

/* {"k":v,...} from base, with key's value replaced by val (val NULL: the
 * member removed; key not in base: appended). The caller frees. */
static char *
mkbody(const struct kv *base, size_t n, const char *key, const char *val)
{
	char	*s;
	size_t	 i, cap = 8192;
	int	 seen = 0, first = 1;

	if ((s = malloc(cap)) == NULL)
		fail_msg("malloc");
	str_copy(s, cap, "{");
	for (i = 0; i < n; i++) {
		const char *v = base[i].v;

		if (key != NULL && strcmp(base[i].k, key) == 0) {
			seen = 1;
			if ((v = val) == NULL)
				continue;
		}
		if (!first)
			str_append(s, cap, ",");
		first = 0;
		str_append(s, cap, "\"");
		str_append(s, cap, base[i].k);
		str_append(s, cap, "\":");
		str_append(s, cap, v);
	}
	if (key != NULL && !seen && val != NULL) {
		if (!first)
			str_append(s, cap, ",");
		str_append(s, cap, "\"");
		str_append(s, cap, key);
		str_append(s, cap, "\":");
		str_append(s, cap, val);
	}
	if (str_append(s, cap, "}") != 0)
		fail_msg("body too long");
	return s;
}

static void
expect_canonical(const struct instr *in, const char *want)
{
	char	*out = NULL;
	size_t	 len;

	assert_int_equal(instr_canonical(in, &out, &len), 0);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
}

static void
expect_err(const struct adapter_error *e, int status, const char *code,
    const char *field, const char *what)
{
	if (e->status != status || strcmp(e->code, code) != 0 ||
	    strcmp(e->field, field) != 0)
		fail_msg("%s: got %d %s \"%s\", want %d %s \"%s\" (%s)", what,
		    e->status, e->code, e->field, status, code, field,
		    e->detail);
}

/* ---- remittance advice ---- */

static const struct kv remit[] = {
	{ "remittance_id", "\"R-2024-03-620100\"" },
	{ "city_code", "\"620100\"" },
	{ "period", "\"2024-03\"" },
	{ "amount_fen", "123456789" },
	{ "from_account", "\"6228480010000000001\"" },
	{ "to_account", "\"6228480019999999999\"" },
	{ "value_date", "\"2024-04-08\"" },
};

static const char remit_canonical[] = "{\"amount_fen\":123456789,"
    "\"city_code\":\"620100\",\"from_account\":\"6228480010000000001\","
    "\"id\":\"R-2024-03-620100\",\"kind\":\"remittance\",\"period\":"
    "\"2024-03\",\"to_account\":\"6228480019999999999\",\"value_date\":"
    "\"2024-04-08\"}";

static void
test_remittance_ok(void **state)
{
	struct adapter_error	 e;
	struct instr		 in;
	char			*b;

	memset(&e, 0, sizeof(e));
	b = mkbody(remit, nitems(remit), NULL, NULL);
	assert_int_equal(finance_parse_remittance(b, strlen(b), MAX_BODY,
	    "620100", &in, &e), 0);
	assert_int_equal(e.status, 0);
	assert_int_equal(in.kind, INSTR_REMITTANCE);
	assert_string_equal(in.id, "R-2024-03-620100");
	assert_true(in.u.remittance.amount_fen == 123456789);
	expect_canonical(&in, remit_canonical);
	instr_free(&in);
	free(b);

	/* Same content, other member order and white space: same bytes. */
	b = strdup(" {\n\"value_date\" : \"2024-04-08\", \"to_account\":"
	    "\"6228480019999999999\",\"from_account\":\"6228480010000000001\","
	    "\"amount_fen\":123456789,\"period\":\"2024-03\",\"city_code\":"
	    "\"620100\",\"remittance_id\":\"R-2024-03-620100\"}\n");
	assert_non_null(b);
	assert_int_equal(finance_parse_remittance(b, strlen(b), MAX_BODY,
	    "620100", &in, &e), 0);
	expect_canonical(&in, remit_canonical);
	free(b);

	/* Amount 0 and the largest amount the canonical form carries. */
	b = mkbody(remit, nitems(remit), "amount_fen", "0");
	assert_int_equal(finance_parse_remittance(b, strlen(b), MAX_BODY,
	    "620100", &in, &e), 0);
	free(b);
	b = mkbody(remit, nitems(remit), "amount_fen", "9007199254740991");
	assert_int_equal(finance_parse_remittance(b, strlen(b), MAX_BODY,
	    "620100", &in, &e), 0);
	assert_true(in.u.remittance.amount_fen == INT64_C(9007199254740991));
	free(b);
	assert_int_equal(e.status, 0);
}

static void
test_remittance_refused(void **state)
{
	static const struct {
		const char	*key, *val, *caller;
		int		 status;
		const char	*code, *field;
	} cases[] = {
		{ "remittance_id", NULL, "620100", 422, "missing-field",
		    "/remittance_id" },
		{ "value_date", NULL, "620100", 422, "missing-field",
		    "/value_date" },
		{ "amount_fen", NULL, "620100", 422, "missing-field",
		    "/amount_fen" },
		{ "extra", "1", "620100", 422, "unknown-field", "/extra" },
		{ "Amount_fen", "1", "620100", 422, "unknown-field",
		    "/Amount_fen" },
		{ "amount_fen", "100.0", "620100", 422, "float-amount",
		    "/amount_fen" },
		{ "amount_fen", "1e2", "620100", 422, "float-amount",
		    "/amount_fen" },
		{ "amount_fen", "\"100\"", "620100", 422, "wrong-type",
		    "/amount_fen" },
		{ "amount_fen", "-1", "620100", 422, "negative-amount",
		    "/amount_fen" },
		{ "amount_fen", "9007199254740992", "620100", 422,
		    "amount-too-large", "/amount_fen" },
		{ "amount_fen", "99999999999999999999", "620100", 400,
		    "number-overflow", "" },
		{ "remittance_id", "\"R 1\"", "620100", 422, "bad-id",
		    "/remittance_id" },
		{ "remittance_id", "\"\"", "620100", 422, "bad-id",
		    "/remittance_id" },
		{ "remittance_id",
		    "\"123456789012345678901234567890123456\"", "620100", 422,
		    "bad-id", "/remittance_id" },
		{ "remittance_id", "17", "620100", 422, "wrong-type",
		    "/remittance_id" },
		{ "city_code", "\"620000\"", "620100", 422, "bad-city",
		    "/city_code" },
		{ "city_code", "\"620171\"", "620100", 422, "bad-city",
		    "/city_code" },
		{ "city_code", "620100", "620100", 422, "wrong-type",
		    "/city_code" },
		{ "city_code", "\"620200\"", "620100", 403, "city-mismatch",
		    "/city_code" },
		{ NULL, NULL, "620200", 403, "city-mismatch", "/city_code" },
		{ NULL, NULL, NULL, 403, "city-mismatch", "/city_code" },
		{ NULL, NULL, "", 403, "city-mismatch", "/city_code" },
		{ "period", "\"2024-13\"", "620100", 422, "bad-period",
		    "/period" },
		{ "period", "\"2024-3\"", "620100", 422, "bad-period",
		    "/period" },
		{ "value_date", "\"2023-02-29\"", "620100", 422, "bad-date",
		    "/value_date" },
		{ "value_date", "\"2024-04-08T00:00:00Z\"", "620100", 422,
		    "bad-date", "/value_date" },
		{ "from_account", "\"6228 4800\"", "620100", 422,
		    "bad-account", "/from_account" },
		{ "to_account", "\"\"", "620100", 422, "bad-account",
		    "/to_account" },
		{ "to_account", "\"12345678901234567890123456789012345\"",
		    "620100", 422, "bad-account", "/to_account" },
		{ "to_account", "\"62284800\\n1\"", "620100", 422,
		    "bad-account", "/to_account" },
		{ "to_account", "\"6228480010000000001\"", "620100", 422,
		    "same-account", "/to_account" },
		{ "city_code", "\"62\\u00000100\"", "620100", 400, "nul-byte",
		    "" },
		{ "amount_fen", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]"
		    "]]]]]]]]]]]]]]]]]]", "620100", 400, "too-deep", "" },
		{ "amount_fen", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]"
		    "]]]]]]]]]]]]]]", "620100", 422, "wrong-type",
		    "/amount_fen" },
	};
	struct adapter_error	 e;
	struct instr		 in;
	char			*b;
	size_t			 i;

	for (i = 0; i < nitems(cases); i++) {
		memset(&e, 0, sizeof(e));
		b = mkbody(remit, nitems(remit), cases[i].key, cases[i].val);
		memset(&in, 0x5a, sizeof(in));
		if (finance_parse_remittance(b, strlen(b), MAX_BODY,
		    cases[i].caller, &in, &e) != -1)
			fail_msg("accepted %s", b);
		expect_err(&e, cases[i].status, cases[i].code, cases[i].field,
		    b);
		/* Nothing half-filled is left behind. */
		assert_int_equal(in.kind, 0);
		assert_string_equal(in.id, "");
		free(b);
	}
}

/* Refusals that need raw bytes. */
static void
test_remittance_raw(void **state)
{
	struct adapter_error	 e;
	struct instr		 in;
	char			*b, *dup;
	size_t			 len;

	b = mkbody(remit, nitems(remit), NULL, NULL);
	len = strlen(b);

	memset(&e, 0, sizeof(e));
	assert_int_equal(finance_parse_remittance(b, len, len - 1, "620100",
	    &in, &e), -1);
	expect_err(&e, 413, "too-large", "", "oversize");

	memset(&e, 0, sizeof(e));
	b[10] = '\0';		/* inside the first value */
	assert_int_equal(finance_parse_remittance(b, len, MAX_BODY, "620100",
	    &in, &e), -1);
	expect_err(&e, 400, "nul-byte", "", "NUL");
	free(b);

	/* Duplicate key, even with the same value. */
	dup = mkbody(remit, nitems(remit), "city_code",
	    "\"620100\",\"city_code\":\"620100\"");
	memset(&e, 0, sizeof(e));
	assert_int_equal(finance_parse_remittance(dup, strlen(dup), MAX_BODY,
	    "620100", &in, &e), -1);
	expect_err(&e, 400, "duplicate-key", "", "duplicate");
	free(dup);

	/* Malformed, trailing data, not an object. */
	memset(&e, 0, sizeof(e));
	assert_int_equal(finance_parse_remittance("{\"remittance_id\":", 17,
	    MAX_BODY, "620100", &in, &e), -1);
	expect_err(&e, 400, "malformed", "", "truncated");
	b = mkbody(remit, nitems(remit), NULL, NULL);
	str_append(b, 8192, "{}");
	memset(&e, 0, sizeof(e));
	assert_int_equal(finance_parse_remittance(b, strlen(b), MAX_BODY,
	    "620100", &in, &e), -1);
	expect_err(&e, 400, "trailing-data", "", "trailing");
	free(b);
	memset(&e, 0, sizeof(e));
	assert_int_equal(finance_parse_remittance("[1]", 3, MAX_BODY,
	    "620100", &in, &e), -1);
	expect_err(&e, 422, "wrong-type", "", "array");
	memset(&e, 0, sizeof(e));
	assert_int_equal(finance_parse_remittance("", 0, MAX_BODY, "620100",
	    &in, &e), -1);
	expect_err(&e, 400, "malformed", "", "empty");
}

/* ---- plan review ---- */

static const struct kv review[] = {
	{ "decision", "\"approved\"" },
	{ "approved_total_fen", "600000" },
	{ "reviewed_by", "\"finance reviewer\"" },
	{ "reviewed_at", "\"2024-03-26T10:00:00+08:00\"" },
};

static const struct kv rejected[] = {
	{ "decision", "\"rejected\"" },
	{ "reviewed_by", "\"finance reviewer\"" },
	{ "reviewed_at", "\"2024-03-26T10:00:00+08:00\"" },
	{ "comment", "\"超出预算\"" },
};

static void
test_review_ok(void **state)
{
	struct adapter_error	 e;
	struct instr		 in;
	char			*b;

	memset(&e, 0, sizeof(e));
	b = mkbody(review, nitems(review), NULL, NULL);
	assert_int_equal(finance_parse_review(b, strlen(b), MAX_BODY, "P-1",
	    &in, &e), 0);
	assert_int_equal(in.kind, INSTR_REVIEW);
	assert_int_equal(in.u.review.approved, 1);
	expect_canonical(&in, "{\"approved_total_fen\":600000,\"decision\":"
	    "\"approved\",\"id\":\"P-1\",\"kind\":\"review\",\"plan_id\":"
	    "\"P-1\",\"reviewed_at\":\"2024-03-26T10:00:00+08:00\","
	    "\"reviewed_by\":\"finance reviewer\"}");
	free(b);

	/* An empty comment is no comment. */
	b = mkbody(review, nitems(review), "comment", "\"\"");
	assert_int_equal(finance_parse_review(b, strlen(b), MAX_BODY, "P-1",
	    &in, &e), 0);
	assert_string_equal(in.u.review.comment, "");
	free(b);

	b = mkbody(rejected, nitems(rejected), NULL, NULL);
	assert_int_equal(finance_parse_review(b, strlen(b), MAX_BODY, "P-1",
	    &in, &e), 0);
	assert_int_equal(in.u.review.approved, 0);
	assert_true(in.u.review.approved_total_fen == -1);
	expect_canonical(&in, "{\"comment\":\"超出预算\",\"decision\":"
	    "\"rejected\",\"id\":\"P-1\",\"kind\":\"review\",\"plan_id\":"
	    "\"P-1\",\"reviewed_at\":\"2024-03-26T10:00:00+08:00\","
	    "\"reviewed_by\":\"finance reviewer\"}");
	free(b);
	assert_int_equal(e.status, 0);
}

static void
test_review_refused(void **state)
{
	static const struct {
		int		 rej;		/* start from the rejection */
		const char	*key, *val, *plan_id;
		int		 status;
		const char	*code, *field;
	} cases[] = {
		{ 0, NULL, NULL, "P 1", 422, "bad-id", "plan_id" },
		{ 0, NULL, NULL, "", 422, "bad-id", "plan_id" },
		{ 0, NULL, NULL, NULL, 422, "bad-id", "plan_id" },
		{ 0, NULL, NULL, "123456789012345678901234567890123456", 422,
		    "bad-id", "plan_id" },
		/* The plan is named by the path only. */
		{ 0, "plan_id", "\"P-1\"", "P-1", 422, "unknown-field",
		    "/plan_id" },
		{ 0, "decision", "\"maybe\"", "P-1", 422, "bad-decision",
		    "/decision" },
		{ 0, "decision", "\"Approved\"", "P-1", 422, "bad-decision",
		    "/decision" },
		{ 0, "decision", "\"\"", "P-1", 422, "bad-decision",
		    "/decision" },
		{ 0, "decision", "\"approved-and-then-some\"", "P-1", 422,
		    "bad-decision", "/decision" },
		{ 0, "decision", "true", "P-1", 422, "wrong-type",
		    "/decision" },
		{ 0, "decision", NULL, "P-1", 422, "missing-field",
		    "/decision" },
		{ 0, "approved_total_fen", NULL, "P-1", 422, "missing-field",
		    "/approved_total_fen" },
		{ 0, "approved_total_fen", "600000.0", "P-1", 422,
		    "float-amount", "/approved_total_fen" },
		{ 0, "approved_total_fen", "null", "P-1", 422, "wrong-type",
		    "/approved_total_fen" },
		{ 1, "approved_total_fen", "600000", "P-1", 422,
		    "forbidden-field", "/approved_total_fen" },
		{ 1, "approved_total_fen", "null", "P-1", 422,
		    "forbidden-field", "/approved_total_fen" },
		{ 0, "reviewed_at", "\"2024-03-26 10:00:00\"", "P-1", 422,
		    "bad-time", "/reviewed_at" },
		{ 0, "reviewed_at", NULL, "P-1", 422, "missing-field",
		    "/reviewed_at" },
		{ 0, "reviewed_by", "\"\"", "P-1", 422, "empty",
		    "/reviewed_by" },
		{ 0, "reviewed_by", "\"a\\u0001\"", "P-1", 422,
		    "control-char", "/reviewed_by" },
		{ 1, "comment", "42", "P-1", 422, "wrong-type", "/comment" },
		{ 0, "extra", "{}", "P-1", 422, "unknown-field", "/extra" },
	};
	struct adapter_error	 e;
	struct instr		 in;
	char			*b;
	size_t			 i;

	for (i = 0; i < nitems(cases); i++) {
		memset(&e, 0, sizeof(e));
		if (cases[i].rej)
			b = mkbody(rejected, nitems(rejected), cases[i].key,
			    cases[i].val);
		else
			b = mkbody(review, nitems(review), cases[i].key,
			    cases[i].val);
		if (finance_parse_review(b, strlen(b), MAX_BODY,
		    cases[i].plan_id, &in, &e) != -1)
			fail_msg("accepted %s", b);
		expect_err(&e, cases[i].status, cases[i].code, cases[i].field,
		    b);
		assert_int_equal(in.kind, 0);
		free(b);
	}

	/* A long comment: 255 bytes fit, 256 do not. */
	{
		char	val[300];

		val[0] = '"';
		memset(val + 1, 'c', 256);
		val[257] = '"';
		val[258] = '\0';
		b = mkbody(rejected, nitems(rejected), "comment", val);
		memset(&e, 0, sizeof(e));
		assert_int_equal(finance_parse_review(b, strlen(b), MAX_BODY,
		    "P-1", &in, &e), -1);
		expect_err(&e, 422, "too-long", "/comment", b);
		free(b);
		val[256] = '"';
		val[257] = '\0';
		b = mkbody(rejected, nitems(rejected), "comment", val);
		memset(&e, 0, sizeof(e));
		assert_int_equal(finance_parse_review(b, strlen(b), MAX_BODY,
		    "P-1", &in, &e), 0);
		assert_int_equal(strlen(in.u.review.comment), 255);
		free(b);
	}

	/* Oversize, duplicate and deep bodies are refused before the rules. */
	b = mkbody(review, nitems(review), NULL, NULL);
	memset(&e, 0, sizeof(e));
	assert_int_equal(finance_parse_review(b, strlen(b), 10, "P-1", &in,
	    &e), -1);
	expect_err(&e, 413, "too-large", "", b);
	free(b);
	b = mkbody(review, nitems(review), "decision",
	    "\"approved\",\"decision\":\"rejected\"");
	memset(&e, 0, sizeof(e));
	assert_int_equal(finance_parse_review(b, strlen(b), MAX_BODY, "P-1",
	    &in, &e), -1);
	expect_err(&e, 400, "duplicate-key", "", b);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remittance_ok),
		cmocka_unit_test(test_remittance_refused),
		cmocka_unit_test(test_remittance_raw),
		cmocka_unit_test(test_review_ok),
		cmocka_unit_test(test_review_refused),
	};

	log_init("test_finance", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
