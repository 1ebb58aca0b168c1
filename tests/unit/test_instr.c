/* Unit tests for instr: yuan/fen at its boundaries, every field validator
 * (USCC included) and the exact canonical bytes of each instruction kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/instr.h"
#include "log.h"
#include "util.h"

/* ---- amounts ---- */

static void
test_yuan_to_fen_ok(void **state)
{
	static const struct { const char *s; int64_t fen; } ok[] = {
		{ "0.00", 0 },
		{ "0.01", 1 },
		{ "0.10", 10 },
		{ "1.00", 100 },
		{ "12.34", 1234 },
		{ "100.05", 10005 },
		{ "90071992547409.91", INT64_C(9007199254740991) },
		{ "10000000000000.00", INT64_C(1000000000000000) },
	};
	size_t	i;
	int64_t	fen;

	for (i = 0; i < nitems(ok); i++) {
		fen = -5;
		if (instr_yuan_to_fen(ok[i].s, &fen) != 0)
			fail_msg("refused \"%s\"", ok[i].s);
		assert_true(fen == ok[i].fen);
	}
	/* 2^53 - 1: the largest integer canonical JSON carries exactly. */
	assert_true(INSTR_MAX_FEN == INT64_C(9007199254740991));
}

static void
test_yuan_to_fen_bad(void **state)
{
	static const char *const bad[] = {
		"1", "1.0", "01.00", "00.00", "-1.00", "+1.00", "1.001", "1e2",
		" 1.00", "1.00 ", "", ".00", "1.", "1.0a", "1,00", "0x1.00",
		"1.-1", "١.00", "10000000000000000.00",	/* 17 integer digits */
		"99999999999999999.99", "1.00\n", "1..00", "NaN", "Infinity",
		"90071992547409.92", "9999999999999999.99",	/* > 2^53 - 1 */
		"1 .00", "1. 00",
	};
	size_t	i;
	int64_t	fen = 77;

	for (i = 0; i < nitems(bad); i++)
		if (instr_yuan_to_fen(bad[i], &fen) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_true(fen == 77);		/* untouched on failure */
	assert_int_equal(instr_yuan_to_fen(NULL, &fen), -1);
}

static void
test_fen_to_yuan(void **state)
{
	static const struct { int64_t fen; const char *s; } ok[] = {
		{ 0, "0.00" }, { 1, "0.01" }, { 10, "0.10" }, { 99, "0.99" },
		{ 100, "1.00" }, { 1234, "12.34" },
		{ INT64_C(9007199254740991), "90071992547409.91" },
	};
	char	buf[21], small[6];
	size_t	i;
	int64_t	back;

	for (i = 0; i < nitems(ok); i++) {
		assert_int_equal(instr_fen_to_yuan(ok[i].fen, buf, sizeof(buf)),
		    0);
		assert_string_equal(buf, ok[i].s);
		/* Round trip through the parser. */
		assert_int_equal(instr_yuan_to_fen(buf, &back), 0);
		assert_true(back == ok[i].fen);
	}
	assert_int_equal(instr_fen_to_yuan(-1, buf, sizeof(buf)), -1);
	assert_int_equal(instr_fen_to_yuan(INT64_MIN, buf, sizeof(buf)), -1);
	assert_int_equal(instr_fen_to_yuan(INSTR_MAX_FEN + 1, buf, sizeof(buf)),
	    -1);
	assert_int_equal(instr_fen_to_yuan(INT64_MAX, buf, sizeof(buf)), -1);
	assert_int_equal(instr_fen_to_yuan(123456, small, sizeof(small)), -1);
	assert_int_equal(instr_fen_to_yuan(1234, small, sizeof(small)), 0);
	assert_string_equal(small, "12.34");
}

/* ---- ids, cities, periods ---- */

static void
test_id(void **state)
{
	static const char *const ok[] = {
		"a", "A", "0", "P-620100-2024-04", "x.y_z-1",
		"12345678901234567890123456789012345",		/* 35 */
	};
	static const char *const bad[] = {
		"", "123456789012345678901234567890123456",	/* 36 */
		"a b", "a/b", "a:b", "é", "a\n", "a\"", "a+b", "a%20",
	};
	size_t	i;

	for (i = 0; i < nitems(ok); i++)
		if (!instr_id_ok(ok[i]))
			fail_msg("refused id \"%s\"", ok[i]);
	for (i = 0; i < nitems(bad); i++)
		if (instr_id_ok(bad[i]))
			fail_msg("accepted id \"%s\"", bad[i]);
	assert_false(instr_id_ok(NULL));
}

static void
test_city(void **state)
{
	static const char *const ok[] = {
		"620100", "620200", "620300", "620400", "620500", "620600",
		"620700", "620800", "620900", "621000", "621100", "621200",
		"622900", "623000",
	};
	static const char *const bad[] = {
		"620000",	/* the province is not a pooling area */
		"620171",	/* Lanzhou New Area: statistical code only */
		"621300", "110000", "62010", "6201000", "", "62010a",
		" 620100",
	};
	size_t	i;

	for (i = 0; i < nitems(ok); i++)
		assert_true(instr_city_ok(ok[i]));
	for (i = 0; i < nitems(bad); i++)
		if (instr_city_ok(bad[i]))
			fail_msg("accepted city \"%s\"", bad[i]);
	assert_false(instr_city_ok(NULL));
}

static void
test_period(void **state)
{
	static const char *const ok[] = {
		"2024-01", "2024-12", "2000-01", "2099-12",
	};
	static const char *const bad[] = {
		"2024-00", "2024-13", "1999-12", "2100-01", "2024-1", "24-01",
		"2024/01", "2024-01-01", "", "2024-0a", "2024-01 ", "+024-01",
	};
	size_t	i;

	for (i = 0; i < nitems(ok); i++)
		assert_true(instr_period_ok(ok[i]));
	for (i = 0; i < nitems(bad); i++)
		if (instr_period_ok(bad[i]))
			fail_msg("accepted period \"%s\"", bad[i]);
	assert_false(instr_period_ok(NULL));
}

/* ---- dates and times ---- */

static void
test_date(void **state)
{
	static const char *const ok[] = {
		"2024-02-29",	/* leap year */
		"2000-02-29",	/* divisible by 400 */
		"2023-01-31", "2023-04-30", "2023-12-31", "2024-01-01",
	};
	static const char *const bad[] = {
		"2023-02-29",	/* not a leap year */
		"2100-02-29", "2023-04-31", "2023-06-31", "2023-01-32",
		"2023-00-10", "2023-13-01", "2023-01-00", "2023-1-01",
		"2023-01-1", "20230101", "2023-01-01T00:00:00Z", "",
		"1999-12-31", "2023/01/01", "2023-01-0a",
	};
	size_t	i;

	for (i = 0; i < nitems(ok); i++)
		if (!instr_date_ok(ok[i]))
			fail_msg("refused date \"%s\"", ok[i]);
	for (i = 0; i < nitems(bad); i++)
		if (instr_date_ok(bad[i]))
			fail_msg("accepted date \"%s\"", bad[i]);
	assert_false(instr_date_ok(NULL));
}

static void
test_time(void **state)
{
	static const char *const ok[] = {
		"2024-03-25T09:30:00+08:00", "2024-03-25T01:30:00Z",
		"2024-03-25T01:30:00.5Z", "2024-03-25T01:30:00.123456789Z",
		"2024-03-25T23:59:59-05:30", "2024-02-29T00:00:00Z",
		"2016-12-31T23:59:60Z",		/* leap second */
		"2024-03-25T01:30:00-00:00",
	};
	static const char *const bad[] = {
		"2024-03-25T09:30:00",		/* no zone */
		"2024-03-25 09:30:00Z", "2024-03-25t09:30:00Z",
		"2024-03-25T09:30:00z", "2024-03-25T24:00:00Z",
		"2024-03-25T09:60:00Z", "2024-03-25T09:30:61Z",
		"2024-03-25T09:30Z", "2024-03-25T09:30:00.Z",
		"2024-03-25T09:30:00+0800", "2024-03-25T09:30:00+08",
		"2024-03-25T09:30:00+24:00", "2024-03-25T09:30:00+08:60",
		"2023-02-29T09:30:00Z", "2024-03-25T09:30:00Z ",
		"2024-03-25T09:30:00ZZ", "",
		"2024-03-25T09:30:00.12345678901Z",	/* 11 fraction digits */
		"2024-03-25T9:30:00Z", "2024-03-25T09:30:00+08:00x",
	};
	size_t	i;

	for (i = 0; i < nitems(ok); i++)
		if (!instr_time_ok(ok[i]))
			fail_msg("refused time \"%s\"", ok[i]);
	for (i = 0; i < nitems(bad); i++)
		if (instr_time_ok(bad[i]))
			fail_msg("accepted time \"%s\"", bad[i]);
	assert_false(instr_time_ok(NULL));
}

/* ---- USCC ---- */

/* GB 32100-2015 §5, written out again here independently of instr.c. */
static char
uscc_check(const char *first17)
{
	static const char	cs[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
	static const int	w[17] = { 1, 3, 9, 27, 19, 26, 16, 17, 20, 29,
				    25, 13, 8, 24, 10, 30, 28 };
	int			sum = 0, i, c;

	for (i = 0; i < 17; i++)
		sum += (int)(strchr(cs, first17[i]) - cs) * w[i];
	c = 31 - sum % 31;
	return cs[c == 31 ? 0 : c];
}

static void
test_uscc(void **state)
{
	static const char	cs[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
	/* Published codes (company registers). */
	static const char *const real[] = {
		"91350100M000100Y43", "91110000802100433B",
		"91440300708461136T", "12100000400000624D",
	};
	/* First 17 characters; the check character is computed. */
	static const char *const bases[] = {
		"91620100MA7100000", "92620100MA7XYWUT0", "12620000438000123",
		"51620000MJY000001", "52620100MJX12345A", "93620000MA7YYYY00",
		"Y1620100MA7123456", "N2620100MA7123456", "31620000MD0123456",
	};
	static const char *const bad[] = {
		"91350100M000100Y4",	/* 17 characters */
		"91350100M000100Y433",	/* 19 */
		"91350100M000100Y4I",	/* I is not in the set */
		"91350100m000100Y43",	/* lower case */
		"",
	};
	char	code[20], base[18];
	size_t	i, j;
	char	good;

	for (i = 0; i < nitems(real); i++)
		if (!instr_uscc_ok(real[i]))
			fail_msg("refused published code %s", real[i]);
	for (i = 0; i < nitems(bases); i++) {
		assert_int_equal(strlen(bases[i]), 17);
		assert_int_equal(str_copy(base, sizeof(base), bases[i]), 0);
		good = uscc_check(base);
		for (j = 0; j < strlen(cs); j++) {
			assert_int_equal(str_printf(code, sizeof(code), "%s%c",
			    base, cs[j]), 0);
			if (instr_uscc_ok(code) != (cs[j] == good))
				fail_msg("%s: %s", code, cs[j] == good ?
				    "valid code refused" : "wrong check accepted");
		}
	}
	/* Each published code with every other check character. */
	for (i = 0; i < nitems(real); i++)
		for (j = 0; j < strlen(cs); j++) {
			assert_int_equal(str_copy(code, sizeof(code), real[i]), 0);
			if (code[17] == cs[j])
				continue;
			code[17] = cs[j];
			assert_false(instr_uscc_ok(code));
		}
	for (i = 0; i < nitems(bad); i++)
		if (instr_uscc_ok(bad[i]))
			fail_msg("accepted %s", bad[i]);
	assert_false(instr_uscc_ok(NULL));
}

/* Valid check character, but an authority or type the standard does not
 * have, or letters where the area code must be. */
static void
test_uscc_structure(void **state)
{
	static const char *const bases[] = {
		"B1620100MA7100000",	/* B: no such authority */
		"01620100MA7100000",	/* 0: no such authority */
		"94620100MA7100000",	/* 9 has types 1-3 only */
		"Y2620100MA7100000",	/* Y has type 1 only */
		"1A620100MA7100000",
		"91A20100MA7100000",	/* area code must be digits */
		"916201X0MA7100000",
	};
	char	code[20];
	size_t	i;

	for (i = 0; i < nitems(bases); i++) {
		assert_int_equal(str_printf(code, sizeof(code), "%s%c",
		    bases[i], uscc_check(bases[i])), 0);
		if (instr_uscc_ok(code))
			fail_msg("accepted %s", code);
	}
}

/* ---- benefits and kinds ---- */

static void
test_benefit(void **state)
{
	static const char *const fund[] = {
		"medical", "meal-allowance", "travel", "assistive-devices",
		"nursing-care", "disability-lump-sum", "disability-allowance",
		"medical-lump-sum", "funeral", "dependants-pension",
		"death-lump-sum", "assessment-fees", "prevention",
	};
	static const char *const employer[] = {
		"suspension-wages", "disability-allowance-5-6",
		"employment-subsidy",
	};
	static const char *const unknown[] = {
		"", "Medical", "medical ", "wages", "disability", "pension",
	};
	size_t	i;
	int	emp;

	for (i = 0; i < nitems(fund); i++) {
		emp = 7;
		assert_int_equal(instr_benefit_ok(fund[i], &emp), 1);
		assert_int_equal(emp, 0);
	}
	for (i = 0; i < nitems(employer); i++) {
		emp = 7;
		assert_int_equal(instr_benefit_ok(employer[i], &emp), 0);
		assert_int_equal(emp, 1);
	}
	for (i = 0; i < nitems(unknown); i++) {
		emp = 7;
		assert_int_equal(instr_benefit_ok(unknown[i], &emp), 0);
		assert_int_equal(emp, 0);
	}
	assert_int_equal(instr_benefit_ok(NULL, &emp), 0);
	assert_int_equal(instr_benefit_ok("medical", NULL), 1);
}

static void
test_kind_name(void **state)
{
	assert_string_equal(instr_kind_name(INSTR_COLLECTION), "collection");
	assert_string_equal(instr_kind_name(INSTR_REMITTANCE), "remittance");
	assert_string_equal(instr_kind_name(INSTR_PLAN), "plan");
	assert_string_equal(instr_kind_name(INSTR_REVIEW), "review");
	assert_string_equal(instr_kind_name(INSTR_DISBURSEMENT),
	    "disbursement");
	assert_string_equal(instr_kind_name(INSTR_BANK_STATUS), "bank-status");
	assert_string_equal(instr_kind_name(INSTR_BANK_NOTIFICATION),
	    "bank-notification");
	assert_string_equal(instr_kind_name((enum instr_kind)0), "unknown");
}

/* ---- canonical bytes ---- */

static void
check_canonical(const struct instr *in, const char *want)
{
	char	*out = NULL;
	size_t	 len = 0;

	assert_int_equal(instr_canonical(in, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(len, strlen(want));
	assert_string_equal(out, want);
	free(out);
}

static void
test_canonical_remittance(void **state)
{
	struct instr	in;

	memset(&in, 0, sizeof(in));
	in.kind = INSTR_REMITTANCE;
	str_copy(in.id, sizeof(in.id), "R-2024-03-620100");
	str_copy(in.u.remittance.city, sizeof(in.u.remittance.city), "620100");
	str_copy(in.u.remittance.period, sizeof(in.u.remittance.period),
	    "2024-03");
	in.u.remittance.amount_fen = 123456789;
	str_copy(in.u.remittance.from_account,
	    sizeof(in.u.remittance.from_account), "6228480010000000001");
	str_copy(in.u.remittance.to_account,
	    sizeof(in.u.remittance.to_account), "6228480019999999999");
	str_copy(in.u.remittance.value_date,
	    sizeof(in.u.remittance.value_date), "2024-04-08");
	check_canonical(&in, "{\"amount_fen\":123456789,\"city_code\":"
	    "\"620100\",\"from_account\":\"6228480010000000001\",\"id\":"
	    "\"R-2024-03-620100\",\"kind\":\"remittance\",\"period\":"
	    "\"2024-03\",\"to_account\":\"6228480019999999999\","
	    "\"value_date\":\"2024-04-08\"}");
	instr_free(&in);
}

static void
test_canonical_plan(void **state)
{
	struct instr	 in;
	struct instr_plan *p = &in.u.plan;

	memset(&in, 0, sizeof(in));
	in.kind = INSTR_PLAN;
	str_copy(in.id, sizeof(in.id), "P-620100-2024-04");
	str_copy(p->city, sizeof(p->city), "620100");
	str_copy(p->period, sizeof(p->period), "2024-04");
	p->nitems = 2;
	str_copy(p->items[0].benefit, sizeof(p->items[0].benefit), "medical");
	p->items[0].amount_fen = 500000;
	str_copy(p->items[1].benefit, sizeof(p->items[1].benefit), "funeral");
	p->items[1].amount_fen = 120000;
	p->total_fen = 620000;
	str_copy(p->approved_by, sizeof(p->approved_by),
	    "省社保局 张三");
	str_copy(p->approved_at, sizeof(p->approved_at),
	    "2024-03-25T09:30:00+08:00");
	/* Items keep their order; amends is omitted when empty. */
	check_canonical(&in, "{\"approved_at\":\"2024-03-25T09:30:00+08:00\","
	    "\"approved_by\":\"省社保局 张三\",\"city_code\":\"620100\","
	    "\"id\":\"P-620100-2024-04\",\"items\":[{\"amount_fen\":500000,"
	    "\"benefit\":\"medical\"},{\"amount_fen\":120000,\"benefit\":"
	    "\"funeral\"}],\"kind\":\"plan\",\"period\":\"2024-04\","
	    "\"total_fen\":620000}");

	/* With amends, and a name that needs escapes. */
	str_copy(in.id, sizeof(in.id), "P-620100-2024-04b");
	p->nitems = 1;
	p->items[0].amount_fen = 1;
	p->total_fen = 1;
	str_copy(p->approved_by, sizeof(p->approved_by), "A \"B\"\n");
	str_copy(p->approved_at, sizeof(p->approved_at),
	    "2024-03-25T01:30:00Z");
	str_copy(p->amends, sizeof(p->amends), "P-620100-2024-04");
	check_canonical(&in, "{\"amends\":\"P-620100-2024-04\","
	    "\"approved_at\":\"2024-03-25T01:30:00Z\",\"approved_by\":"
	    "\"A \\\"B\\\"\\n\",\"city_code\":\"620100\",\"id\":"
	    "\"P-620100-2024-04b\",\"items\":[{\"amount_fen\":1,\"benefit\":"
	    "\"medical\"}],\"kind\":\"plan\",\"period\":\"2024-04\","
	    "\"total_fen\":1}");
}

static void
test_canonical_review(void **state)
{
	struct instr		 in;
	struct instr_review	*r = &in.u.review;

	memset(&in, 0, sizeof(in));
	in.kind = INSTR_REVIEW;
	str_copy(in.id, sizeof(in.id), "P-1");
	str_copy(r->plan_id, sizeof(r->plan_id), "P-1");
	r->approved = 1;
	r->approved_total_fen = 600000;
	str_copy(r->reviewed_by, sizeof(r->reviewed_by), "finance reviewer");
	str_copy(r->reviewed_at, sizeof(r->reviewed_at),
	    "2024-03-26T10:00:00+08:00");
	check_canonical(&in, "{\"approved_total_fen\":600000,\"decision\":"
	    "\"approved\",\"id\":\"P-1\",\"kind\":\"review\",\"plan_id\":"
	    "\"P-1\",\"reviewed_at\":\"2024-03-26T10:00:00+08:00\","
	    "\"reviewed_by\":\"finance reviewer\"}");

	/* Rejected: no approved total, and the comment appears. */
	r->approved = 0;
	r->approved_total_fen = -1;
	str_copy(r->comment, sizeof(r->comment), "超出预算");
	check_canonical(&in, "{\"comment\":\"超出预算\",\"decision\":"
	    "\"rejected\",\"id\":\"P-1\",\"kind\":\"review\",\"plan_id\":"
	    "\"P-1\",\"reviewed_at\":\"2024-03-26T10:00:00+08:00\","
	    "\"reviewed_by\":\"finance reviewer\"}");
}

static void
test_canonical_disbursement(void **state)
{
	struct instr			 in;
	struct instr_disbursement	*d = &in.u.disbursement;

	memset(&in, 0, sizeof(in));
	in.kind = INSTR_DISBURSEMENT;
	str_copy(in.id, sizeof(in.id), "D-1");
	str_copy(d->requested_execution_date,
	    sizeof(d->requested_execution_date), "2024-04-02");
	d->nlines = 2;
	str_copy(d->lines[0].plan_id, sizeof(d->lines[0].plan_id), "P-1");
	d->lines[0].amount_fen = 100;
	str_copy(d->lines[1].plan_id, sizeof(d->lines[1].plan_id), "P-2");
	d->lines[1].amount_fen = 200;
	check_canonical(&in, "{\"id\":\"D-1\",\"kind\":\"disbursement\","
	    "\"lines\":[{\"amount_fen\":100,\"plan_id\":\"P-1\"},"
	    "{\"amount_fen\":200,\"plan_id\":\"P-2\"}],"
	    "\"requested_execution_date\":\"2024-04-02\"}");

	str_copy(in.id, sizeof(in.id), "D-2");
	d->nlines = 1;
	str_copy(d->bank, sizeof(d->bank), "ICBC Lanzhou");
	check_canonical(&in, "{\"bank\":\"ICBC Lanzhou\",\"id\":\"D-2\","
	    "\"kind\":\"disbursement\",\"lines\":[{\"amount_fen\":100,"
	    "\"plan_id\":\"P-1\"}],\"requested_execution_date\":"
	    "\"2024-04-02\"}");
}

static void
test_canonical_collection(void **state)
{
	struct instr			 in;
	struct instr_collection		*c = &in.u.collection;

	memset(&in, 0, sizeof(in));
	in.kind = INSTR_COLLECTION;
	str_copy(in.id, sizeof(in.id), "B-1");
	str_copy(c->city, sizeof(c->city), "620100");
	str_copy(c->period, sizeof(c->period), "2024-03");
	str_copy(c->collected_at, sizeof(c->collected_at),
	    "2024-04-01T08:00:00+08:00");
	str_copy(c->currency, sizeof(c->currency), "CNY");
	c->total_fen = 300;
	c->count = 2;
	c->nitems = 2;
	c->items = calloc(2, sizeof(*c->items));	/* freed by instr_free */
	assert_non_null(c->items);
	str_copy(c->items[0].employer_id, sizeof(c->items[0].employer_id),
	    "91350100M000100Y43");
	str_copy(c->items[0].employer_name, sizeof(c->items[0].employer_name),
	    "甲公司");
	c->items[0].insured = 12;
	c->items[0].amount_fen = 100;
	str_copy(c->items[1].employer_id, sizeof(c->items[1].employer_id),
	    "91110000802100433B");
	str_copy(c->items[1].employer_name, sizeof(c->items[1].employer_name),
	    "乙");
	c->items[1].insured = 0;
	c->items[1].amount_fen = 200;
	check_canonical(&in, "{\"city_code\":\"620100\",\"collected_at\":"
	    "\"2024-04-01T08:00:00+08:00\",\"count\":2,\"currency\":\"CNY\","
	    "\"id\":\"B-1\",\"items\":[{\"amount_fen\":100,\"employer_id\":"
	    "\"91350100M000100Y43\",\"employer_name\":\"甲公司\",\"insured\":"
	    "12},{\"amount_fen\":200,\"employer_id\":\"91110000802100433B\","
	    "\"employer_name\":\"乙\",\"insured\":0}],\"kind\":\"collection\","
	    "\"period\":\"2024-03\",\"total_fen\":300}");
	instr_free(&in);
	assert_null(in.u.collection.items);
	assert_int_equal(in.kind, 0);
}

static void
test_canonical_bank_status(void **state)
{
	struct instr			 in;
	struct instr_bank_status	*b = &in.u.bank_status;

	memset(&in, 0, sizeof(in));
	in.kind = INSTR_BANK_STATUS;
	str_copy(in.id, sizeof(in.id), "ST-1");
	str_copy(b->original_msg_id, sizeof(b->original_msg_id), "MSG-1");
	str_copy(b->group_status, sizeof(b->group_status), "PART");
	b->ntx = 2;
	b->tx = calloc(2, sizeof(*b->tx));
	assert_non_null(b->tx);
	str_copy(b->tx[0].end_to_end_id, sizeof(b->tx[0].end_to_end_id),
	    "E2E-1");
	str_copy(b->tx[0].status, sizeof(b->tx[0].status), "ACSC");
	str_copy(b->tx[0].bank_reference, sizeof(b->tx[0].bank_reference),
	    "BR1");
	str_copy(b->tx[1].end_to_end_id, sizeof(b->tx[1].end_to_end_id),
	    "E2E-2");
	str_copy(b->tx[1].status, sizeof(b->tx[1].status), "RJCT");
	str_copy(b->tx[1].reason, sizeof(b->tx[1].reason), "AC01");
	check_canonical(&in, "{\"group_status\":\"PART\",\"id\":\"ST-1\","
	    "\"kind\":\"bank-status\",\"original_msg_id\":\"MSG-1\","
	    "\"transactions\":[{\"bank_reference\":\"BR1\",\"end_to_end_id\":"
	    "\"E2E-1\",\"status\":\"ACSC\"},{\"end_to_end_id\":\"E2E-2\","
	    "\"reason\":\"AC01\",\"status\":\"RJCT\"}]}");
	instr_free(&in);

	/* No group status, no transactions. */
	in.kind = INSTR_BANK_STATUS;
	str_copy(in.id, sizeof(in.id), "ST-2");
	str_copy(b->original_msg_id, sizeof(b->original_msg_id), "MSG-2");
	check_canonical(&in, "{\"id\":\"ST-2\",\"kind\":\"bank-status\","
	    "\"original_msg_id\":\"MSG-2\",\"transactions\":[]}");
	instr_free(&in);
}

static void
test_canonical_bank_notification(void **state)
{
	struct instr			 in;
	struct instr_bank_notification	*b = &in.u.bank_notification;

	memset(&in, 0, sizeof(in));
	in.kind = INSTR_BANK_NOTIFICATION;
	str_copy(in.id, sizeof(in.id), "N-1");
	b->nentries = 2;
	b->entries = calloc(2, sizeof(*b->entries));
	assert_non_null(b->entries);
	str_copy(b->entries[0].account, sizeof(b->entries[0].account),
	    "6228480010000000001");
	b->entries[0].credit = 1;
	b->entries[0].amount_fen = 123456789;
	str_copy(b->entries[0].booking_date,
	    sizeof(b->entries[0].booking_date), "2024-04-08");
	str_copy(b->entries[0].end_to_end_id,
	    sizeof(b->entries[0].end_to_end_id), "R-2024-03-620100");
	str_copy(b->entries[0].reference, sizeof(b->entries[0].reference),
	    "remit 2024-03");
	str_copy(b->entries[1].account, sizeof(b->entries[1].account),
	    "6228480019999999999");
	b->entries[1].credit = 0;
	b->entries[1].amount_fen = 5;
	str_copy(b->entries[1].booking_date,
	    sizeof(b->entries[1].booking_date), "2024-04-09");
	check_canonical(&in, "{\"entries\":[{\"account\":"
	    "\"6228480010000000001\",\"amount_fen\":123456789,"
	    "\"booking_date\":\"2024-04-08\",\"credit_debit\":\"CRDT\","
	    "\"end_to_end_id\":\"R-2024-03-620100\",\"reference\":"
	    "\"remit 2024-03\"},{\"account\":\"6228480019999999999\","
	    "\"amount_fen\":5,\"booking_date\":\"2024-04-09\","
	    "\"credit_debit\":\"DBIT\"}],\"id\":\"N-1\",\"kind\":"
	    "\"bank-notification\"}");
	instr_free(&in);
}

/* What the canonical form cannot carry is refused, not approximated. */
static void
test_canonical_refused(void **state)
{
	struct instr	 in;
	char		*out = NULL;
	char		 want[INSTR_ID_MAX + 1];
	size_t		 len = 0;

	memset(&in, 0, sizeof(in));
	assert_int_equal(instr_canonical(&in, &out, &len), -1);	/* no kind */

	in.kind = INSTR_REMITTANCE;
	str_copy(in.id, sizeof(in.id), "R-1");
	in.u.remittance.amount_fen = INT64_C(9007199254740991);	/* 2^53-1 */
	assert_int_equal(instr_canonical(&in, &out, &len), 0);
	free(out);
	out = NULL;
	in.u.remittance.amount_fen = INT64_C(9007199254740992);	/* 2^53 */
	assert_int_equal(instr_canonical(&in, &out, &len), -1);
	assert_null(out);

	/* Invalid UTF-8 in a name. */
	in.u.remittance.amount_fen = 1;
	str_copy(in.u.remittance.from_account,
	    sizeof(in.u.remittance.from_account), "\xff");
	assert_int_equal(instr_canonical(&in, &out, &len), -1);

	/* An unterminated field is read within its array only. */
	memset(in.id, 'a', sizeof(in.id));
	str_copy(in.u.remittance.from_account,
	    sizeof(in.u.remittance.from_account), "1");
	assert_int_equal(instr_canonical(&in, &out, &len), 0);
	memset(want, 'a', sizeof(in.id));
	want[sizeof(in.id)] = '\0';
	assert_non_null(strstr(out, want));
	assert_null(strstr(out, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));	/* 37 */
	free(out);

	/* Items claimed but absent. */
	memset(&in, 0, sizeof(in));
	in.kind = INSTR_COLLECTION;
	in.u.collection.nitems = 3;
	assert_int_equal(instr_canonical(&in, &out, &len), -1);
	in.u.collection.nitems = 0;
	instr_free(&in);
	instr_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yuan_to_fen_ok),
		cmocka_unit_test(test_yuan_to_fen_bad),
		cmocka_unit_test(test_fen_to_yuan),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_city),
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_uscc),
		cmocka_unit_test(test_uscc_structure),
		cmocka_unit_test(test_benefit),
		cmocka_unit_test(test_kind_name),
		cmocka_unit_test(test_canonical_remittance),
		cmocka_unit_test(test_canonical_plan),
		cmocka_unit_test(test_canonical_review),
		cmocka_unit_test(test_canonical_disbursement),
		cmocka_unit_test(test_canonical_collection),
		cmocka_unit_test(test_canonical_bank_status),
		cmocka_unit_test(test_canonical_bank_notification),
		cmocka_unit_test(test_canonical_refused),
	};

	log_init("test_instr", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
