/* Unit tests for hrss: plans and disbursement requests (canonical bytes,
 * each refusal's status, code and field) and the status notice writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/adapter.h"
#include "adapters/hrss.h"
#include "adapters/instr.h"
#include "log.h"
#include "util.h"

#define MAX_BODY	16384
#define BODY_CAP	32768

struct kv {
	const char	*k, *v;		/* v: raw JSON value text */
};

/* {"k":v,...} from base, with key's value replaced by val (val NULL: the
 * member removed; key not in base: appended). The caller frees. */
static char *
mkbody(const struct kv *base, size_t n, const char *key, const char *val)
{
	char	*s;
	size_t	 i;
	int	 seen = 0, first = 1;

	if ((s = malloc(BODY_CAP)) == NULL)
		fail_msg("malloc");
	str_copy(s, BODY_CAP, "{");
	for (i = 0; i < n; i++) {
		const char *v = base[i].v;

		if (key != NULL && strcmp(base[i].k, key) == 0) {
			seen = 1;
			if ((v = val) == NULL)
				continue;
		}
		if (!first)
			str_append(s, BODY_CAP, ",");
		first = 0;
		str_append(s, BODY_CAP, "\"");
		str_append(s, BODY_CAP, base[i].k);
		str_append(s, BODY_CAP, "\":");
		str_append(s, BODY_CAP, v);
	}
	if (key != NULL && !seen && val != NULL) {
		if (!first)
			str_append(s, BODY_CAP, ",");
		str_append(s, BODY_CAP, "\"");
		str_append(s, BODY_CAP, key);
		str_append(s, BODY_CAP, "\":");
		str_append(s, BODY_CAP, val);
	}
	if (str_append(s, BODY_CAP, "}") != 0)
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

/* ---- expenditure plan ---- */

static const struct kv plan[] = {
	{ "plan_id", "\"P-620100-2024-04\"" },
	{ "city_code", "\"620100\"" },
	{ "period", "\"2024-04\"" },
	{ "items", "[{\"benefit\":\"medical\",\"amount_fen\":500000},"
	    "{\"amount_fen\":120000,\"benefit\":\"funeral\"}]" },
	{ "total_fen", "620000" },
	{ "approved_by", "\"省社保局 张三\"" },
	{ "approved_at", "\"2024-03-25T09:30:00+08:00\"" },
};

static const char plan_canonical[] = "{\"approved_at\":"
    "\"2024-03-25T09:30:00+08:00\",\"approved_by\":\"省社保局 张三\","
    "\"city_code\":\"620100\",\"id\":\"P-620100-2024-04\",\"items\":"
    "[{\"amount_fen\":500000,\"benefit\":\"medical\"},{\"amount_fen\":"
    "120000,\"benefit\":\"funeral\"}],\"kind\":\"plan\",\"period\":"
    "\"2024-04\",\"total_fen\":620000}";

static void
test_plan_ok(void **state)
{
	struct adapter_error	 e;
	struct instr		 in;
	char			*b, items[4096];
	size_t			 i;
	static const char *const all[] = {
		"medical", "meal-allowance", "travel", "assistive-devices",
		"nursing-care", "disability-lump-sum", "disability-allowance",
		"medical-lump-sum", "funeral", "dependants-pension",
		"death-lump-sum", "assessment-fees", "prevention",
	};

	memset(&e, 0, sizeof(e));
	b = mkbody(plan, nitems(plan), NULL, NULL);
	assert_int_equal(hrss_parse_plan(b, strlen(b), MAX_BODY, &in, &e), 0);
	assert_int_equal(in.kind, INSTR_PLAN);
	assert_int_equal(in.u.plan.nitems, 2);
	expect_canonical(&in, plan_canonical);
	instr_free(&in);
	free(b);

	/* With amends. */
	b = mkbody(plan, nitems(plan), "amends", "\"P-620100-2024-04-old\"");
	assert_int_equal(hrss_parse_plan(b, strlen(b), MAX_BODY, &in, &e), 0);
	expect_canonical(&in, "{\"amends\":\"P-620100-2024-04-old\","
	    "\"approved_at\":\"2024-03-25T09:30:00+08:00\",\"approved_by\":"
	    "\"省社保局 张三\",\"city_code\":\"620100\",\"id\":"
	    "\"P-620100-2024-04\",\"items\":[{\"amount_fen\":500000,"
	    "\"benefit\":\"medical\"},{\"amount_fen\":120000,\"benefit\":"
	    "\"funeral\"}],\"kind\":\"plan\",\"period\":\"2024-04\","
	    "\"total_fen\":620000}");
	free(b);

	/* Every fund-paid code once, amounts 0..12 (sum 78). */
	str_copy(items, sizeof(items), "[");
	for (i = 0; i < nitems(all); i++) {
		char one[96];

		assert_int_equal(str_printf(one, sizeof(one),
		    "%s{\"benefit\":\"%s\",\"amount_fen\":%zu}", i ? "," : "",
		    all[i], i), 0);
		assert_int_equal(str_append(items, sizeof(items), one), 0);
	}
	str_append(items, sizeof(items), "]");
	{
		const struct kv p2[] = {
			{ "plan_id", "\"P-2\"" },
			{ "city_code", "\"623000\"" },
			{ "period", "\"2099-12\"" },
			{ "items", items },
			{ "total_fen", "78" },
			{ "approved_by", "\"x\"" },
			{ "approved_at", "\"2024-03-25T01:30:00Z\"" },
		};

		b = mkbody(p2, nitems(p2), NULL, NULL);
	}
	assert_int_equal(hrss_parse_plan(b, strlen(b), MAX_BODY, &in, &e), 0);
	assert_int_equal(in.u.plan.nitems, nitems(all));
	assert_true(in.u.plan.total_fen == 78);
	free(b);
	assert_int_equal(e.status, 0);
}

/* n items of one code: only 13 codes exist, so more than
 * INSTR_MAX_PLAN_ITEMS items must repeat one; the count is checked first. */
static char *
many_items(size_t n)
{
	char	*s, one[64];
	size_t	 i;

	if ((s = malloc(BODY_CAP)) == NULL)
		fail_msg("malloc");
	str_copy(s, BODY_CAP, "[");
	for (i = 0; i < n; i++) {
		str_printf(one, sizeof(one), "%s{\"benefit\":\"medical\","
		    "\"amount_fen\":1}", i ? "," : "");
		str_append(s, BODY_CAP, one);
	}
	str_append(s, BODY_CAP, "]");
	return s;
}

static void
test_plan_refused(void **state)
{
	char	*many = many_items(INSTR_MAX_PLAN_ITEMS + 1);
	const struct {
		const char	*key, *val;
		int		 status;
		const char	*code, *field;
	} cases[] = {
		{ "plan_id", NULL, 422, "missing-field", "/plan_id" },
		{ "plan_id", "\"P/1\"", 422, "bad-id", "/plan_id" },
		{ "plan_id", "\"\"", 422, "bad-id", "/plan_id" },
		{ "city_code", "\"999999\"", 422, "bad-city", "/city_code" },
		{ "city_code", "\"620000\"", 422, "bad-city", "/city_code" },
		{ "period", "\"2024-00\"", 422, "bad-period", "/period" },
		{ "period", "\"1999-12\"", 422, "bad-period", "/period" },
		{ "items", NULL, 422, "missing-field", "/items" },
		{ "items", "[]", 422, "too-few", "/items" },
		{ "items", "{}", 422, "wrong-type", "/items" },
		{ "items", many, 422, "too-many", "/items" },
		{ "items", "[1]", 422, "wrong-type", "/items/0" },
		{ "items", "[{\"benefit\":\"medical\",\"amount_fen\":1},"
		    "{\"benefit\":\"funeral\",\"amount_fen\":1.5}]", 422,
		    "float-amount", "/items/1/amount_fen" },
		{ "items", "[{\"benefit\":\"medical\",\"amount_fen\":1},"
		    "{\"benefit\":\"funeral\",\"amount_fen\":1},"
		    "{\"benefit\":\"travel\",\"amount_fen\":1e2}]", 422,
		    "float-amount", "/items/2/amount_fen" },
		{ "items", "[{\"benefit\":\"medical\",\"amount_fen\":-5}]",
		    422, "negative-amount", "/items/0/amount_fen" },
		{ "items", "[{\"benefit\":\"medical\"}]", 422,
		    "missing-field", "/items/0/amount_fen" },
		{ "items", "[{\"amount_fen\":1}]", 422, "missing-field",
		    "/items/0/benefit" },
		{ "items", "[{\"benefit\":\"medical\",\"amount_fen\":1,"
		    "\"note\":\"x\"}]", 422, "unknown-field",
		    "/items/0/note" },
		{ "items", "[{\"benefit\":\"suspension-wages\","
		    "\"amount_fen\":620000}]", 422, "employer-paid-item",
		    "/items/0/benefit" },
		{ "items", "[{\"benefit\":\"medical\",\"amount_fen\":1},"
		    "{\"benefit\":\"disability-allowance-5-6\","
		    "\"amount_fen\":1}]", 422, "employer-paid-item",
		    "/items/1/benefit" },
		{ "items", "[{\"benefit\":\"employment-subsidy\","
		    "\"amount_fen\":1}]", 422, "employer-paid-item",
		    "/items/0/benefit" },
		{ "items", "[{\"benefit\":\"bonus\",\"amount_fen\":1}]", 422,
		    "bad-benefit", "/items/0/benefit" },
		{ "items", "[{\"benefit\":\"\",\"amount_fen\":1}]", 422,
		    "bad-benefit", "/items/0/benefit" },
		{ "items", "[{\"benefit\":\"medical-lump-sum-and-a-long-tail"
		    "-xxxx\",\"amount_fen\":1}]", 422, "bad-benefit",
		    "/items/0/benefit" },
		{ "items", "[{\"benefit\":\"medical\",\"amount_fen\":1},"
		    "{\"benefit\":\"medical\",\"amount_fen\":2}]", 422,
		    "duplicate-benefit", "/items/1/benefit" },
		{ "total_fen", "620001", 422, "total-mismatch", "/total_fen" },
		{ "total_fen", "619999", 422, "total-mismatch", "/total_fen" },
		{ "total_fen", "620000.0", 422, "float-amount", "/total_fen" },
		{ "total_fen", NULL, 422, "missing-field", "/total_fen" },
		{ "approved_by", "\"\"", 422, "empty", "/approved_by" },
		{ "approved_by", NULL, 422, "missing-field", "/approved_by" },
		{ "approved_at", "\"2024-03-25\"", 422, "bad-time",
		    "/approved_at" },
		{ "amends", "\"\"", 422, "bad-id", "/amends" },
		{ "amends", "\"a b\"", 422, "bad-id", "/amends" },
		{ "amends", "null", 422, "wrong-type", "/amends" },
		{ "amends", "\"P-620100-2024-04\"", 422, "bad-amends",
		    "/amends" },
		{ "status", "\"approved\"", 422, "unknown-field", "/status" },
		{ "total_fen", "620000,\"total_fen\":620000", 400,
		    "duplicate-key", "" },
		{ "approved_by", "\"a\\u0000b\"", 400, "nul-byte", "" },
	};
	struct adapter_error	 e;
	struct instr		 in;
	char			*b;
	size_t			 i;

	for (i = 0; i < nitems(cases); i++) {
		memset(&e, 0, sizeof(e));
		b = mkbody(plan, nitems(plan), cases[i].key, cases[i].val);
		memset(&in, 0x5a, sizeof(in));
		if (hrss_parse_plan(b, strlen(b), MAX_BODY, &in, &e) != -1)
			fail_msg("accepted %s", b);
		expect_err(&e, cases[i].status, cases[i].code, cases[i].field,
		    b);
		assert_int_equal(in.kind, 0);
		free(b);
	}
	free(many);
}

/* The sum of items cannot overflow, and a total beyond 2^53 is refused. */
static void
test_plan_sum_bounds(void **state)
{
	struct adapter_error	 e;
	struct instr		 in;
	char			*b;
	const struct kv p[] = {
		{ "plan_id", "\"P-big\"" },
		{ "city_code", "\"620100\"" },
		{ "period", "\"2024-04\"" },
		{ "items", "[{\"benefit\":\"medical\",\"amount_fen\":"
		    "9007199254740991},{\"benefit\":\"funeral\",\"amount_fen\":"
		    "9007199254740991}]" },
		{ "total_fen", "18014398509481982" },
		{ "approved_by", "\"x\"" },
		{ "approved_at", "\"2024-03-25T01:30:00Z\"" },
	};
	const struct kv q[] = {
		{ "plan_id", "\"P-big\"" },
		{ "city_code", "\"620100\"" },
		{ "period", "\"2024-04\"" },
		{ "items", "[{\"benefit\":\"medical\",\"amount_fen\":"
		    "9007199254740990},{\"benefit\":\"funeral\",\"amount_fen\":"
		    "1}]" },
		{ "total_fen", "9007199254740991" },
		{ "approved_by", "\"x\"" },
		{ "approved_at", "\"2024-03-25T01:30:00Z\"" },
	};

	memset(&e, 0, sizeof(e));
	b = mkbody(p, nitems(p), NULL, NULL);
	assert_int_equal(hrss_parse_plan(b, strlen(b), MAX_BODY, &in, &e), -1);
	expect_err(&e, 422, "amount-too-large", "/total_fen", b);
	free(b);
	memset(&e, 0, sizeof(e));
	b = mkbody(q, nitems(q), NULL, NULL);
	assert_int_equal(hrss_parse_plan(b, strlen(b), MAX_BODY, &in, &e), 0);
	free(b);
}

/* ---- disbursement request ---- */

static const struct kv disb[] = {
	{ "disbursement_id", "\"D-1\"" },
	{ "requested_execution_date", "\"2024-04-02\"" },
	{ "lines", "[{\"plan_id\":\"P-1\",\"amount_fen\":100},"
	    "{\"plan_id\":\"P-2\",\"amount_fen\":200}]" },
};

static void
test_disbursement_ok(void **state)
{
	struct adapter_error	 e;
	struct instr		 in;
	char			*b, lines[8192], one[64];
	size_t			 i;

	memset(&e, 0, sizeof(e));
	b = mkbody(disb, nitems(disb), NULL, NULL);
	assert_int_equal(hrss_parse_disbursement(b, strlen(b), MAX_BODY, &in,
	    &e), 0);
	assert_int_equal(in.kind, INSTR_DISBURSEMENT);
	expect_canonical(&in, "{\"id\":\"D-1\",\"kind\":\"disbursement\","
	    "\"lines\":[{\"amount_fen\":100,\"plan_id\":\"P-1\"},"
	    "{\"amount_fen\":200,\"plan_id\":\"P-2\"}],"
	    "\"requested_execution_date\":\"2024-04-02\"}");
	free(b);

	b = mkbody(disb, nitems(disb), "bank", "\"ICBC Lanzhou\"");
	assert_int_equal(hrss_parse_disbursement(b, strlen(b), MAX_BODY, &in,
	    &e), 0);
	expect_canonical(&in, "{\"bank\":\"ICBC Lanzhou\",\"id\":\"D-1\","
	    "\"kind\":\"disbursement\",\"lines\":[{\"amount_fen\":100,"
	    "\"plan_id\":\"P-1\"},{\"amount_fen\":200,\"plan_id\":\"P-2\"}],"
	    "\"requested_execution_date\":\"2024-04-02\"}");
	free(b);

	/* INSTR_MAX_LINES lines. */
	str_copy(lines, sizeof(lines), "[");
	for (i = 0; i < INSTR_MAX_LINES; i++) {
		str_printf(one, sizeof(one), "%s{\"plan_id\":\"P-%zu\","
		    "\"amount_fen\":%zu}", i ? "," : "", i, i + 1);
		assert_int_equal(str_append(lines, sizeof(lines), one), 0);
	}
	str_append(lines, sizeof(lines), "]");
	b = mkbody(disb, nitems(disb), "lines", lines);
	assert_int_equal(hrss_parse_disbursement(b, strlen(b), MAX_BODY, &in,
	    &e), 0);
	assert_int_equal(in.u.disbursement.nlines, INSTR_MAX_LINES);
	free(b);
	assert_int_equal(e.status, 0);
}

static void
test_disbursement_refused(void **state)
{
	char	lines[8192], one[64];
	size_t	i;

	str_copy(lines, sizeof(lines), "[");
	for (i = 0; i < INSTR_MAX_LINES + 1; i++) {
		str_printf(one, sizeof(one), "%s{\"plan_id\":\"P-%zu\","
		    "\"amount_fen\":1}", i ? "," : "", i);
		str_append(lines, sizeof(lines), one);
	}
	str_append(lines, sizeof(lines), "]");
	const struct {
		const char	*key, *val;
		int		 status;
		const char	*code, *field;
	} cases[] = {
		{ "disbursement_id", NULL, 422, "missing-field",
		    "/disbursement_id" },
		{ "disbursement_id", "\"D 1\"", 422, "bad-id",
		    "/disbursement_id" },
		{ "requested_execution_date", "\"2024-02-30\"", 422,
		    "bad-date", "/requested_execution_date" },
		{ "requested_execution_date", "20240402", 422, "wrong-type",
		    "/requested_execution_date" },
		{ "lines", "[]", 422, "too-few", "/lines" },
		{ "lines", lines, 422, "too-many", "/lines" },
		{ "lines", "\"P-1\"", 422, "wrong-type", "/lines" },
		{ "lines", "[{\"plan_id\":\"P-1\",\"amount_fen\":100},[]]",
		    422, "wrong-type", "/lines/1" },
		{ "lines", "[{\"plan_id\":\"P 1\",\"amount_fen\":100}]", 422,
		    "bad-id", "/lines/0/plan_id" },
		{ "lines", "[{\"plan_id\":\"P-1\",\"amount_fen\":100.5}]",
		    422, "float-amount", "/lines/0/amount_fen" },
		{ "lines", "[{\"plan_id\":\"P-1\",\"amount_fen\":0}]", 422,
		    "zero-amount", "/lines/0/amount_fen" },
		{ "lines", "[{\"plan_id\":\"P-1\",\"amount_fen\":1},"
		    "{\"plan_id\":\"P-1\",\"amount_fen\":2}]", 422,
		    "duplicate-line", "/lines/1/plan_id" },
		/* The payee comes from the registry, never the request. */
		{ "lines", "[{\"plan_id\":\"P-1\",\"amount_fen\":1,"
		    "\"account\":\"6228480010000000001\"}]", 422,
		    "unknown-field", "/lines/0/account" },
		{ "payee_account", "\"6228480010000000001\"", 422,
		    "unknown-field", "/payee_account" },
		{ "bank", "1", 422, "wrong-type", "/bank" },
		{ "bank", "\"0123456789012345678901234567890123456789"
		    "012345678901234567890123\"", 422, "too-long", "/bank" },
		{ "bank", "\"x\\ty\"", 422, "control-char", "/bank" },
		{ "lines", "[{\"plan_id\":\"P-1\",\"amount_fen\":1,"
		    "\"amount_fen\":1}]", 400, "duplicate-key", "" },
	};
	struct adapter_error	 e;
	struct instr		 in;
	char			*b;

	for (i = 0; i < nitems(cases); i++) {
		memset(&e, 0, sizeof(e));
		b = mkbody(disb, nitems(disb), cases[i].key, cases[i].val);
		memset(&in, 0x5a, sizeof(in));
		if (hrss_parse_disbursement(b, strlen(b), MAX_BODY, &in,
		    &e) != -1)
			fail_msg("accepted %s", b);
		expect_err(&e, cases[i].status, cases[i].code, cases[i].field,
		    b);
		assert_int_equal(in.kind, 0);
		free(b);
	}

	/* Size, NUL, depth and syntax are the helper's, for every message. */
	b = mkbody(disb, nitems(disb), NULL, NULL);
	memset(&e, 0, sizeof(e));
	assert_int_equal(hrss_parse_disbursement(b, strlen(b), strlen(b) - 1,
	    &in, &e), -1);
	expect_err(&e, 413, "too-large", "", b);
	b[3] = '\0';
	memset(&e, 0, sizeof(e));
	assert_int_equal(hrss_parse_disbursement(b, strlen(b + 4) + 4,
	    MAX_BODY, &in, &e), -1);
	expect_err(&e, 400, "nul-byte", "", "NUL");
	free(b);
	b = mkbody(disb, nitems(disb), "bank", "[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	    "[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	memset(&e, 0, sizeof(e));
	assert_int_equal(hrss_parse_disbursement(b, strlen(b), MAX_BODY, &in,
	    &e), -1);
	expect_err(&e, 400, "too-deep", "", b);
	free(b);
	memset(&e, 0, sizeof(e));
	assert_int_equal(hrss_parse_disbursement("{\"lines\":[}", 11,
	    MAX_BODY, &in, &e), -1);
	expect_err(&e, 400, "malformed", "", "syntax");
}

/* ---- status notice ---- */

static void
test_status_notice(void **state)
{
	struct hrss_notice	 n;
	char			*out = NULL;
	size_t			 len;

	memset(&n, 0, sizeof(n));
	str_copy(n.disbursement_id, sizeof(n.disbursement_id), "D-1");
	str_copy(n.end_to_end_id, sizeof(n.end_to_end_id), "D-1-P-1");
	str_copy(n.status, sizeof(n.status), "ACSC");
	str_copy(n.bank_reference, sizeof(n.bank_reference), "ICBC20240402001");
	n.audit_index = 42;
	assert_int_equal(hrss_status_notice(&n, &out, &len), 0);
	assert_string_equal(out, "{\"audit_index\":42,\"bank_reference\":"
	    "\"ICBC20240402001\",\"disbursement_id\":\"D-1\","
	    "\"end_to_end_id\":\"D-1-P-1\",\"status\":\"ACSC\"}");
	assert_int_equal(len, strlen(out));
	free(out);

	str_copy(n.status, sizeof(n.status), "RJCT");
	str_copy(n.reason, sizeof(n.reason), "AC01");
	n.bank_reference[0] = '\0';
	n.audit_index = UINT64_C(9007199254740991);
	assert_int_equal(hrss_status_notice(&n, &out, &len), 0);
	assert_string_equal(out, "{\"audit_index\":9007199254740991,"
	    "\"disbursement_id\":\"D-1\",\"end_to_end_id\":\"D-1-P-1\","
	    "\"reason\":\"AC01\",\"status\":\"RJCT\"}");
	free(out);
	out = NULL;

	/* Refused: index beyond 2^53-1, bad codes, bad ids, unterminated. */
	n.audit_index = UINT64_C(9007199254740992);
	assert_int_equal(hrss_status_notice(&n, &out, &len), -1);
	n.audit_index = 1;
	str_copy(n.status, sizeof(n.status), "acsc");
	assert_int_equal(hrss_status_notice(&n, &out, &len), -1);
	str_copy(n.status, sizeof(n.status), "ACS");
	assert_int_equal(hrss_status_notice(&n, &out, &len), -1);
	str_copy(n.status, sizeof(n.status), "RJCT");
	str_copy(n.reason, sizeof(n.reason), "A\"01");
	assert_int_equal(hrss_status_notice(&n, &out, &len), -1);
	n.reason[0] = '\0';
	str_copy(n.end_to_end_id, sizeof(n.end_to_end_id), "a b");
	assert_int_equal(hrss_status_notice(&n, &out, &len), -1);
	str_copy(n.end_to_end_id, sizeof(n.end_to_end_id), "E");
	memset(n.status, 'A', sizeof(n.status));
	assert_int_equal(hrss_status_notice(&n, &out, &len), -1);
	str_copy(n.status, sizeof(n.status), "ACCC");
	str_copy(n.bank_reference, sizeof(n.bank_reference), "\xc3");
	assert_int_equal(hrss_status_notice(&n, &out, &len), -1);
	assert_null(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_ok),
		cmocka_unit_test(test_plan_refused),
		cmocka_unit_test(test_plan_sum_bounds),
		cmocka_unit_test(test_disbursement_ok),
		cmocka_unit_test(test_disbursement_refused),
		cmocka_unit_test(test_status_notice),
	};

	log_init("test_hrss", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
