/* Unit tests for instr_parse: every kind back from its canonical bytes (same
 * bytes, same fields), and each refusal's status, code and field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"
#include "adapters/instr_parse.h"
#include "log.h"
#include "util.h"

/* ---- helpers ---- */

/* A valid GB 32100-2015 code for serial n (the check character computed as
 * in test_instr.c, independently of instr.c) into dst (INSTR_USCC_LEN). */
static void
mk_uscc(char *dst, unsigned n)
{
	static const char	cs[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
	static const int	w[17] = { 1, 3, 9, 27, 19, 26, 16, 17, 20, 29,
				    25, 13, 8, 24, 10, 30, 28 };
	int			sum = 0, i, c;

	assert_int_equal(str_printf(dst, INSTR_USCC_LEN, "91620100MA7%06u?",
	    n % 1000000), 0);
	for (i = 0; i < 17; i++)
		sum += (int)(strchr(cs, dst[i]) - cs) * w[i];
	c = 31 - sum % 31;
	dst[17] = cs[c == 31 ? 0 : c];
	assert_true(instr_uscc_ok(dst));
}

static char *
canon(const struct instr *in, size_t *len)
{
	char	*out = NULL;

	assert_int_equal(instr_canonical(in, &out, len), 0);
	assert_non_null(out);
	return out;
}

/* s with the first occurrence of from replaced by to; the caller frees. */
static char *
subst(const char *s, const char *from, const char *to)
{
	const char	*p;
	char		*r;
	size_t		 n, a, b;

	if ((p = strstr(s, from)) == NULL)
		fail_msg("\"%s\" not in %s", from, s);
	n = strlen(s);
	a = strlen(from);
	b = strlen(to);
	if ((r = malloc(n - a + b + 1)) == NULL)
		fail_msg("malloc");
	memcpy(r, s, (size_t)(p - s));
	memcpy(r + (p - s), to, b);
	memcpy(r + (p - s) + b, p + a, n - (size_t)(p - s) - a + 1);
	return r;
}

static void
expect_zero(const struct instr *in)
{
	static const struct instr	zero;

	assert_memory_equal(in, &zero, sizeof(zero));
}

/* buf (len bytes) is refused with status, code and field, and leaves the
 * instruction zeroed. */
static void
expect_refused_n(const char *buf, size_t len, enum instr_kind want,
    int status, const char *code, const char *field, const char *what)
{
	struct adapter_error	e;
	struct instr		out;

	memset(&e, 0, sizeof(e));
	memset(&out, 0xa5, sizeof(out));	/* overwritten, never freed */
	if (instr_parse_canonical(buf, len, want, &out, &e) != -1)
		fail_msg("%s: accepted", what);
	if (e.status != status || strcmp(e.code, code) != 0 ||
	    strcmp(e.field, field) != 0)
		fail_msg("%s: got %d %s \"%s\", want %d %s \"%s\" (%s)", what,
		    e.status, e.code, e.field, status, code, field, e.detail);
	expect_zero(&out);
}

static void
expect_refused(const char *buf, enum instr_kind want, int status,
    const char *code, const char *field, const char *what)
{
	expect_refused_n(buf, strlen(buf), want, status, code, field, what);
}

/* The variant of base with from replaced by to is refused. */
static void
expect_subst_refused(const char *base, const char *from, const char *to,
    int status, const char *code, const char *field)
{
	char	*s = subst(base, from, to);

	expect_refused(s, 0, status, code, field, s);
	free(s);
}

static void
same_collection(const struct instr_collection *a,
    const struct instr_collection *b)
{
	size_t	i;

	assert_string_equal(a->city, b->city);
	assert_string_equal(a->period, b->period);
	assert_string_equal(a->collected_at, b->collected_at);
	assert_string_equal(a->currency, b->currency);
	assert_true(a->total_fen == b->total_fen);
	assert_int_equal(a->count, b->count);
	assert_int_equal(a->nitems, b->nitems);
	for (i = 0; i < a->nitems; i++) {
		assert_string_equal(a->items[i].employer_id,
		    b->items[i].employer_id);
		assert_string_equal(a->items[i].employer_name,
		    b->items[i].employer_name);
		assert_int_equal(a->items[i].insured, b->items[i].insured);
		assert_true(a->items[i].amount_fen == b->items[i].amount_fen);
	}
}

static void
same_plan(const struct instr_plan *a, const struct instr_plan *b)
{
	size_t	i;

	assert_string_equal(a->city, b->city);
	assert_string_equal(a->period, b->period);
	assert_int_equal(a->nitems, b->nitems);
	for (i = 0; i < a->nitems; i++) {
		assert_string_equal(a->items[i].benefit, b->items[i].benefit);
		assert_true(a->items[i].amount_fen == b->items[i].amount_fen);
	}
	assert_true(a->total_fen == b->total_fen);
	assert_string_equal(a->approved_by, b->approved_by);
	assert_string_equal(a->approved_at, b->approved_at);
	assert_string_equal(a->amends, b->amends);
}

static void
same_disbursement(const struct instr_disbursement *a,
    const struct instr_disbursement *b)
{
	size_t	i;

	assert_string_equal(a->requested_execution_date,
	    b->requested_execution_date);
	assert_int_equal(a->nlines, b->nlines);
	for (i = 0; i < a->nlines; i++) {
		assert_string_equal(a->lines[i].plan_id, b->lines[i].plan_id);
		assert_true(a->lines[i].amount_fen == b->lines[i].amount_fen);
	}
	assert_string_equal(a->bank, b->bank);
}

static void
same_bank_status(const struct instr_bank_status *a,
    const struct instr_bank_status *b)
{
	size_t	i;

	assert_string_equal(a->original_msg_id, b->original_msg_id);
	assert_string_equal(a->group_status, b->group_status);
	assert_string_equal(a->group_reason, b->group_reason);
	assert_int_equal(a->ntx, b->ntx);
	for (i = 0; i < a->ntx; i++) {
		assert_string_equal(a->tx[i].end_to_end_id,
		    b->tx[i].end_to_end_id);
		assert_string_equal(a->tx[i].status, b->tx[i].status);
		assert_string_equal(a->tx[i].reason, b->tx[i].reason);
		assert_string_equal(a->tx[i].bank_reference,
		    b->tx[i].bank_reference);
	}
}

static void
same_notification(const struct instr_bank_notification *a,
    const struct instr_bank_notification *b)
{
	size_t	i;

	assert_int_equal(a->nentries, b->nentries);
	for (i = 0; i < a->nentries; i++) {
		assert_string_equal(a->entries[i].account,
		    b->entries[i].account);
		assert_int_equal(a->entries[i].credit, b->entries[i].credit);
		assert_true(a->entries[i].amount_fen ==
		    b->entries[i].amount_fen);
		assert_string_equal(a->entries[i].booking_date,
		    b->entries[i].booking_date);
		assert_string_equal(a->entries[i].end_to_end_id,
		    b->entries[i].end_to_end_id);
		assert_string_equal(a->entries[i].reference,
		    b->entries[i].reference);
	}
}

static void
same_instr(const struct instr *a, const struct instr *b)
{
	const struct instr_remittance	*ra = &a->u.remittance;
	const struct instr_remittance	*rb = &b->u.remittance;
	const struct instr_review	*va = &a->u.review;
	const struct instr_review	*vb = &b->u.review;

	assert_int_equal(a->kind, b->kind);
	assert_string_equal(a->id, b->id);
	switch (a->kind) {
	case INSTR_COLLECTION:
		same_collection(&a->u.collection, &b->u.collection);
		break;
	case INSTR_REMITTANCE:
		assert_string_equal(ra->city, rb->city);
		assert_string_equal(ra->period, rb->period);
		assert_true(ra->amount_fen == rb->amount_fen);
		assert_string_equal(ra->from_account, rb->from_account);
		assert_string_equal(ra->to_account, rb->to_account);
		assert_string_equal(ra->value_date, rb->value_date);
		break;
	case INSTR_PLAN:
		same_plan(&a->u.plan, &b->u.plan);
		break;
	case INSTR_REVIEW:
		assert_string_equal(va->plan_id, vb->plan_id);
		assert_int_equal(va->approved, vb->approved);
		assert_true(va->approved_total_fen == vb->approved_total_fen);
		assert_string_equal(va->reviewed_by, vb->reviewed_by);
		assert_string_equal(va->reviewed_at, vb->reviewed_at);
		assert_string_equal(va->comment, vb->comment);
		break;
	case INSTR_DISBURSEMENT:
		same_disbursement(&a->u.disbursement, &b->u.disbursement);
		break;
	case INSTR_BANK_STATUS:
		same_bank_status(&a->u.bank_status, &b->u.bank_status);
		break;
	case INSTR_BANK_NOTIFICATION:
		same_notification(&a->u.bank_notification,
		    &b->u.bank_notification);
		break;
	default:
		fail_msg("kind %d", (int)a->kind);
	}
}

/* in to canonical bytes, back (with want_kind 0 and with its own kind),
 * and to the same bytes again; the fields read back are in's. */
static void
roundtrip(const struct instr *in)
{
	struct adapter_error	 e;
	struct instr		 out;
	enum instr_kind		 want[2] = { 0, in->kind };
	char			*c, *again;
	size_t			 clen, alen, i;

	c = canon(in, &clen);
	for (i = 0; i < nitems(want); i++) {
		memset(&e, 0, sizeof(e));
		if (instr_parse_canonical(c, clen, want[i], &out, &e) != 0)
			fail_msg("refused %d %s \"%s\": %s", e.status, e.code,
			    e.field, e.detail);
		assert_int_equal(e.status, 0);
		same_instr(in, &out);
		again = canon(&out, &alen);
		assert_int_equal(alen, clen);
		assert_memory_equal(again, c, clen);
		free(again);
		instr_free(&out);
		expect_zero(&out);
	}
	free(c);
}

/* ---- builders (each result is the caller's: instr_free) ---- */

static void
mk_collection(struct instr *in, size_t n)
{
	struct instr_collection	*c = &in->u.collection;
	size_t			 i;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_COLLECTION;
	str_copy(in->id, sizeof(in->id), "B-620100-2024-03");
	str_copy(c->city, sizeof(c->city), "620100");
	str_copy(c->period, sizeof(c->period), "2024-03");
	str_copy(c->collected_at, sizeof(c->collected_at),
	    "2024-04-01T08:00:00+08:00");
	str_copy(c->currency, sizeof(c->currency), "CNY");
	c->items = calloc(n, sizeof(*c->items));
	assert_non_null(c->items);
	c->nitems = n;
	c->count = (uint32_t)n;
	for (i = 0; i < n; i++) {
		mk_uscc(c->items[i].employer_id, (unsigned)i);
		/* Names from XML may hold a tab; one needs escapes. */
		assert_int_equal(str_printf(c->items[i].employer_name,
		    sizeof(c->items[i].employer_name), i % 3 == 0 ?
		    "甲公司 %zu" : i % 3 == 1 ? "Firm\t\"%zu\"" : "乙%zu", i),
		    0);
		c->items[i].insured = (uint32_t)(i % 9999999) + 1;
		c->items[i].amount_fen = (int64_t)(i * 37 + 1);
		c->total_fen += c->items[i].amount_fen;
	}
}

static void
mk_remittance(struct instr *in)
{
	struct instr_remittance	*r = &in->u.remittance;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_REMITTANCE;
	str_copy(in->id, sizeof(in->id), "R-2024-03-620100");
	str_copy(r->city, sizeof(r->city), "620100");
	str_copy(r->period, sizeof(r->period), "2024-03");
	r->amount_fen = 123456789;
	str_copy(r->from_account, sizeof(r->from_account),
	    "6228480010000000001");
	str_copy(r->to_account, sizeof(r->to_account), "6228480019999999999");
	str_copy(r->value_date, sizeof(r->value_date), "2024-04-08");
}

static void
mk_plan(struct instr *in, int amends)
{
	struct instr_plan	*p = &in->u.plan;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_PLAN;
	str_copy(in->id, sizeof(in->id), "P-620100-2024-04");
	str_copy(p->city, sizeof(p->city), "620100");
	str_copy(p->period, sizeof(p->period), "2024-04");
	p->nitems = 2;
	str_copy(p->items[0].benefit, sizeof(p->items[0].benefit), "medical");
	p->items[0].amount_fen = 500000;
	str_copy(p->items[1].benefit, sizeof(p->items[1].benefit), "funeral");
	p->items[1].amount_fen = 120000;
	p->total_fen = 620000;
	str_copy(p->approved_by, sizeof(p->approved_by), "省社保局 张三");
	str_copy(p->approved_at, sizeof(p->approved_at),
	    "2024-03-25T09:30:00+08:00");
	if (amends)
		str_copy(p->amends, sizeof(p->amends), "P-620100-2024-04a");
}

static void
mk_review(struct instr *in, int approved, const char *comment)
{
	struct instr_review	*r = &in->u.review;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_REVIEW;
	str_copy(in->id, sizeof(in->id), "P-1");
	str_copy(r->plan_id, sizeof(r->plan_id), "P-1");
	r->approved = approved;
	r->approved_total_fen = approved ? 600000 : -1;
	str_copy(r->reviewed_by, sizeof(r->reviewed_by), "finance reviewer");
	str_copy(r->reviewed_at, sizeof(r->reviewed_at),
	    "2024-03-26T10:00:00.25Z");
	str_copy(r->comment, sizeof(r->comment), comment);
}

static void
mk_disbursement(struct instr *in, size_t n, const char *bank)
{
	struct instr_disbursement	*d = &in->u.disbursement;
	size_t				 i;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_DISBURSEMENT;
	str_copy(in->id, sizeof(in->id), "D-1");
	str_copy(d->requested_execution_date,
	    sizeof(d->requested_execution_date), "2024-04-02");
	d->nlines = n;
	for (i = 0; i < n; i++) {
		assert_int_equal(str_printf(d->lines[i].plan_id,
		    sizeof(d->lines[i].plan_id), "P-%zu", i), 0);
		d->lines[i].amount_fen = (int64_t)i + 100;
	}
	str_copy(d->bank, sizeof(d->bank), bank);
}

static void
mk_bank_status(struct instr *in, size_t n, const char *group,
    const char *reason)
{
	static const char *const	 st[] = {
		"ACSC", "RJCT", "ACCP", "RCVD", "ACTC", "ACSP", "ACCC",
	};
	struct instr_bank_status	*b = &in->u.bank_status;
	struct instr_tx_status		*tx;
	size_t				 i;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_BANK_STATUS;
	str_copy(in->id, sizeof(in->id), "ST-1");
	str_copy(b->original_msg_id, sizeof(b->original_msg_id), "MSG-1");
	str_copy(b->group_status, sizeof(b->group_status), group);
	str_copy(b->group_reason, sizeof(b->group_reason), reason);
	if (n > 0) {
		b->tx = calloc(n, sizeof(*b->tx));
		assert_non_null(b->tx);
	}
	b->ntx = n;
	for (i = 0; i < n; i++) {
		tx = &b->tx[i];
		assert_int_equal(str_printf(tx->end_to_end_id,
		    sizeof(tx->end_to_end_id), "E2E-%zu", i), 0);
		str_copy(tx->status, sizeof(tx->status), st[i % nitems(st)]);
		if (strcmp(tx->status, "RJCT") == 0)
			str_copy(tx->reason, sizeof(tx->reason), "AC01");
		/* From XML: may hold line breaks. */
		if (i % 2 == 0)
			assert_int_equal(str_printf(tx->bank_reference,
			    sizeof(tx->bank_reference), "BR %zu\r\n", i), 0);
	}
}

static void
mk_notification(struct instr *in, size_t n)
{
	struct instr_bank_notification	*b = &in->u.bank_notification;
	struct instr_bank_entry		*be;
	size_t				 i;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_BANK_NOTIFICATION;
	str_copy(in->id, sizeof(in->id), "N-1");
	b->entries = calloc(n, sizeof(*b->entries));
	assert_non_null(b->entries);
	b->nentries = n;
	for (i = 0; i < n; i++) {
		be = &b->entries[i];
		/* Othr/Id allows any printable ASCII but blanks. */
		str_copy(be->account, sizeof(be->account), i % 2 ?
		    "6228480019999999999" : "GS/01:62284800");
		be->credit = i % 2 == 0;
		be->amount_fen = i == 0 ? INSTR_MAX_FEN : (int64_t)i;
		str_copy(be->booking_date, sizeof(be->booking_date),
		    "2024-02-29");
		if (i % 3 != 2)
			assert_int_equal(str_printf(be->end_to_end_id,
			    sizeof(be->end_to_end_id), "R-%zu", i), 0);
		if (i % 4 != 3)
			assert_int_equal(str_printf(be->reference,
			    sizeof(be->reference), "汇缴 %zu\tline\n2", i), 0);
	}
}

/* ---- round trips ---- */

static void
test_roundtrip_collection(void **state)
{
	struct instr	in;

	mk_collection(&in, 1);
	roundtrip(&in);
	instr_free(&in);
	mk_collection(&in, 3);
	roundtrip(&in);
	instr_free(&in);
	/* The most a batch may hold. */
	mk_collection(&in, INSTR_MAX_ITEMS);
	roundtrip(&in);
	instr_free(&in);
}

static void
test_roundtrip_remittance(void **state)
{
	struct instr	in;

	mk_remittance(&in);
	roundtrip(&in);
	in.u.remittance.amount_fen = 0;
	roundtrip(&in);
	in.u.remittance.amount_fen = INSTR_MAX_FEN;
	roundtrip(&in);
	instr_free(&in);
}

static void
test_roundtrip_plan(void **state)
{
	static const char *const	 codes[] = {
		"medical", "meal-allowance", "travel", "assistive-devices",
		"nursing-care", "disability-lump-sum", "disability-allowance",
		"medical-lump-sum", "funeral", "dependants-pension",
		"death-lump-sum", "assessment-fees", "prevention",
	};
	struct instr			 in;
	struct instr_plan		*p = &in.u.plan;
	size_t				 i;

	mk_plan(&in, 0);		/* amends absent */
	roundtrip(&in);
	mk_plan(&in, 1);		/* amends present */
	roundtrip(&in);
	/* Every benefit code once. */
	p->nitems = nitems(codes);
	p->total_fen = 0;
	for (i = 0; i < nitems(codes); i++) {
		str_copy(p->items[i].benefit, sizeof(p->items[i].benefit),
		    codes[i]);
		p->items[i].amount_fen = (int64_t)i;
		p->total_fen += (int64_t)i;
	}
	roundtrip(&in);
	instr_free(&in);
}

static void
test_roundtrip_review(void **state)
{
	struct instr	in;

	mk_review(&in, 1, "");
	roundtrip(&in);
	mk_review(&in, 1, "within budget");
	roundtrip(&in);
	mk_review(&in, 0, "超出预算");
	roundtrip(&in);
	mk_review(&in, 0, "");
	roundtrip(&in);
	instr_free(&in);
}

static void
test_roundtrip_disbursement(void **state)
{
	struct instr	in;

	mk_disbursement(&in, 1, "");
	roundtrip(&in);
	mk_disbursement(&in, 2, "ICBC Lanzhou");
	roundtrip(&in);
	mk_disbursement(&in, INSTR_MAX_LINES, "");
	roundtrip(&in);
	instr_free(&in);
}

static void
test_roundtrip_bank_status(void **state)
{
	struct instr	in;

	mk_bank_status(&in, 7, "PART", "");
	roundtrip(&in);
	instr_free(&in);
	mk_bank_status(&in, 0, "RJCT", "FF01");	/* whole file refused */
	roundtrip(&in);
	instr_free(&in);
	mk_bank_status(&in, 3, "", "");
	roundtrip(&in);
	instr_free(&in);
	mk_bank_status(&in, INSTR_MAX_TX, "ACSC", "");
	roundtrip(&in);
	instr_free(&in);
}

static void
test_roundtrip_bank_notification(void **state)
{
	struct instr	in;

	/* Credit and debit, with and without the optional fields. */
	mk_notification(&in, 8);
	roundtrip(&in);
	instr_free(&in);
	mk_notification(&in, INSTR_MAX_TX);
	roundtrip(&in);
	instr_free(&in);
}

/* ---- refusals ---- */

static const char	remit[] = "{\"amount_fen\":123456789,\"city_code\":"
    "\"620100\",\"from_account\":\"6228480010000000001\",\"id\":"
    "\"R-2024-03-620100\",\"kind\":\"remittance\",\"period\":\"2024-03\","
    "\"to_account\":\"6228480019999999999\",\"value_date\":\"2024-04-08\"}";

/* The base of the refusal tests is itself accepted. */
static void
test_remit_base(void **state)
{
	struct adapter_error	e;
	struct instr		in, out;

	mk_remittance(&in);
	memset(&e, 0, sizeof(e));
	assert_int_equal(instr_parse_canonical(remit, strlen(remit),
	    INSTR_REMITTANCE, &out, &e), 0);
	assert_int_equal(e.status, 0);
	same_instr(&in, &out);
	instr_free(&out);
}

static void
test_refused_kind(void **state)
{
	expect_refused(remit, INSTR_PLAN, 422, "wrong-kind", "/kind",
	    "remittance where a plan is wanted");
	expect_refused(remit, INSTR_BANK_NOTIFICATION, 422, "wrong-kind",
	    "/kind", "remittance where a notification is wanted");
	expect_subst_refused(remit, "\"remittance\"", "\"transfer\"", 422,
	    "bad-kind", "/kind");
	expect_subst_refused(remit, "\"remittance\"", "\"unknown\"", 422,
	    "bad-kind", "/kind");
	expect_subst_refused(remit, "\"remittance\"", "\"Remittance\"", 422,
	    "bad-kind", "/kind");
	expect_subst_refused(remit, "\"remittance\"", "3", 422, "wrong-type",
	    "/kind");
	expect_subst_refused(remit, "\"kind\":\"remittance\",", "", 422,
	    "missing-field", "/kind");
	expect_refused("[]", 0, 422, "wrong-type", "", "an array");
	expect_refused("\"remittance\"", 0, 422, "wrong-type", "", "a string");
}

static void
test_refused_fields(void **state)
{
	/* Unknown and missing fields. */
	expect_subst_refused(remit, "{", "{\"extra\":1,", 422,
	    "unknown-field", "/extra");
	expect_subst_refused(remit, "\"value_date\"", "\"zz\":1,"
	    "\"value_date\"", 422, "unknown-field", "/zz");
	/* A field of another kind. */
	expect_subst_refused(remit, "{", "{\"amends\":\"P-1\",", 422,
	    "unknown-field", "/amends");
	expect_subst_refused(remit, ",\"value_date\":\"2024-04-08\"", "", 422,
	    "missing-field", "/value_date");
	expect_subst_refused(remit, "\"amount_fen\":123456789,", "", 422,
	    "missing-field", "/amount_fen");
	expect_subst_refused(remit, "\"id\":\"R-2024-03-620100\",", "", 422,
	    "missing-field", "/id");
	/* Wrong types. */
	expect_subst_refused(remit, "\"R-2024-03-620100\"", "5", 422,
	    "wrong-type", "/id");
	expect_subst_refused(remit, "123456789", "\"123456789\"", 422,
	    "wrong-type", "/amount_fen");
	expect_subst_refused(remit, "123456789", "null", 422, "wrong-type",
	    "/amount_fen");
	/* Bad values. */
	expect_subst_refused(remit, "\"R-2024-03-620100\"", "\"R 2024\"", 422,
	    "bad-id", "/id");
	expect_subst_refused(remit, "\"R-2024-03-620100\"", "\"\"", 422,
	    "bad-id", "/id");
	expect_subst_refused(remit, "\"R-2024-03-620100\"",
	    "\"123456789012345678901234567890123456\"", 422, "bad-id", "/id");
	expect_subst_refused(remit, "\"620100\"", "\"620000\"", 422,
	    "bad-city", "/city_code");
	expect_subst_refused(remit, "\"620100\"", "\"62O100\"", 422,
	    "bad-city", "/city_code");
	expect_subst_refused(remit, "\"2024-03\"", "\"2024-13\"", 422,
	    "bad-period", "/period");
	expect_subst_refused(remit, "\"2024-04-08\"", "\"2023-02-29\"", 422,
	    "bad-date", "/value_date");
	expect_subst_refused(remit, "\"6228480019999999999\"",
	    "\"6228 4800\"", 422, "bad-account", "/to_account");
	expect_subst_refused(remit, "\"6228480019999999999\"",
	    "\"6228480010000000001\"", 422, "same-account", "/to_account");
	/* A control character in a JSON-side field. */
	expect_subst_refused(remit, "\"6228480019999999999\"",
	    "\"62284800\\n\"", 422, "bad-account", "/to_account");
}

static void
test_refused_amounts(void **state)
{
	expect_subst_refused(remit, "123456789", "123456789.0", 422,
	    "float-amount", "/amount_fen");
	expect_subst_refused(remit, "123456789", "1.23456789e8", 422,
	    "float-amount", "/amount_fen");
	expect_subst_refused(remit, "123456789", "1E2", 422, "float-amount",
	    "/amount_fen");
	expect_subst_refused(remit, "123456789", "-1", 422, "negative-amount",
	    "/amount_fen");
	expect_subst_refused(remit, "123456789", "9007199254740992", 422,
	    "amount-too-large", "/amount_fen");
	expect_subst_refused(remit, "123456789", "9223372036854775807", 422,
	    "amount-too-large", "/amount_fen");
	expect_subst_refused(remit, "123456789", "99999999999999999999", 400,
	    "number-overflow", "");
	/* Same value, other spelling: only the bytes tell. */
	expect_subst_refused(remit, "123456789", "-0", 400, "not-canonical",
	    "");
	expect_subst_refused(remit, "123456789", "0123", 400, "malformed", "");
}

static void
test_refused_syntax(void **state)
{
	char	*s;
	size_t	 n;

	/* Duplicate key, even with the same value. */
	expect_subst_refused(remit, "\"period\":\"2024-03\",",
	    "\"period\":\"2024-03\",\"period\":\"2024-03\",", 400,
	    "duplicate-key", "");
	/* A NUL byte in the bytes, and an escaped one in a string. */
	s = subst(remit, "R-2024", "R\001-2024");
	s[strchr(s, '\001') - s] = '\0';
	expect_refused_n(s, strlen(remit) + 1, 0, 400, "nul-byte", "",
	    "NUL byte");
	free(s);
	expect_subst_refused(remit, "R-2024", "R\\u0000-2024", 400,
	    "nul-byte", "");
	/* Invalid UTF-8: a lone continuation byte, an overlong form, a
	 * surrogate. */
	expect_subst_refused(remit, "2024-04-08", "2024-04-0\x80", 400,
	    "bad-utf8", "");
	expect_subst_refused(remit, "2024-04-08", "\xc0\xaf", 400, "bad-utf8",
	    "");
	expect_subst_refused(remit, "2024-04-08", "\xed\xa0\x80", 400,
	    "bad-utf8", "");
	/* Truncated, and trailing bytes. */
	n = strlen(remit);
	expect_refused_n(remit, n - 1, 0, 400, "malformed", "", "truncated");
	expect_refused_n(remit, n / 2, 0, 400, "malformed", "", "half");
	expect_refused_n(remit, 0, 0, 400, "malformed", "", "empty");
	expect_subst_refused(remit, "08\"}", "08\"}{}", 400, "trailing-data",
	    "");
	expect_subst_refused(remit, "08\"}", "08\"}x", 400, "trailing-data",
	    "");
	/* Too deep for the reader (before jansson sees it). */
	s = calloc(1, 80);
	assert_non_null(s);
	memset(s, '[', 40);
	expect_refused(s, 0, 400, "too-deep", "", "deep");
	free(s);
}

/* Valid JSON, valid fields, but not the canonical bytes. */
static void
test_refused_not_canonical(void **state)
{
	char	*s;

	expect_subst_refused(remit, "{", "{ ", 400, "not-canonical", "");
	expect_subst_refused(remit, "\"amount_fen\":", "\"amount_fen\" : ",
	    400, "not-canonical", "");
	expect_subst_refused(remit, ",\"city_code\"", ",\n\"city_code\"", 400,
	    "not-canonical", "");
	expect_subst_refused(remit, "08\"}", "08\"}\n", 400, "not-canonical",
	    "");
	/* Keys out of order: amount_fen moved to the end. */
	s = subst(remit, "\"amount_fen\":123456789,", "");
	s[strlen(s) - 1] = '\0';
	expect_subst_refused(s, "08\"", "08\",\"amount_fen\":123456789}", 400,
	    "not-canonical", "");
	free(s);
	/* Escapes where RFC 8785 writes the character itself. */
	expect_subst_refused(remit, "\"R-2024", "\"\\u0052-2024", 400,
	    "not-canonical", "");
	expect_subst_refused(remit, "\"kind\"", "\"\\u006bind\"", 400,
	    "not-canonical", "");
	/* An empty optional field is omitted, not written empty. */
	expect_refused("{\"bank\":\"\",\"id\":\"D-1\",\"kind\":"
	    "\"disbursement\",\"lines\":[{\"amount_fen\":100,\"plan_id\":"
	    "\"P-1\"}],\"requested_execution_date\":\"2024-04-02\"}", 0, 400,
	    "not-canonical", "", "empty bank");
	expect_refused("{\"comment\":\"\",\"decision\":\"rejected\",\"id\":"
	    "\"P-1\",\"kind\":\"review\",\"plan_id\":\"P-1\",\"reviewed_at\":"
	    "\"2024-03-26T10:00:00Z\",\"reviewed_by\":\"r\"}", 0, 400,
	    "not-canonical", "", "empty comment");
}

static void
test_refused_too_large(void **state)
{
	char	*s;
	size_t	 n = INSTR_PARSE_MAX + 1;

	/* Refused on its length, before anything reads it. */
	s = malloc(n);
	assert_non_null(s);
	memset(s, ' ', n);
	s[0] = '{';
	s[n - 1] = '}';
	expect_refused_n(s, n, 0, 413, "too-large", "", "4 MiB + 1");
	free(s);
}

static void
test_refused_collection(void **state)
{
	struct adapter_error	 e;
	struct instr		 in, out;
	char			*c, *s, name[300], id[INSTR_USCC_LEN];
	size_t			 len;

	mk_collection(&in, 2);
	c = canon(&in, &len);
	expect_refused(c, INSTR_PLAN, 422, "wrong-kind", "/kind", "kind");
	expect_subst_refused(c, "\"CNY\"", "\"USD\"", 422, "bad-currency",
	    "/currency");
	expect_subst_refused(c, "\"count\":2", "\"count\":3", 422,
	    "count-mismatch", "/count");
	expect_subst_refused(c, "\"count\":2", "\"count\":0", 422,
	    "bad-count", "/count");
	expect_subst_refused(c, "\"count\":2", "\"count\":4294967298", 422,
	    "bad-count", "/count");
	expect_subst_refused(c, "\"count\":2", "\"count\":2.0", 422,
	    "wrong-type", "/count");
	expect_subst_refused(c, "\"total_fen\":39", "\"total_fen\":40", 422,
	    "total-mismatch", "/total_fen");
	expect_subst_refused(c, "\"insured\":1", "\"insured\":0", 422,
	    "bad-insured", "/items/0/insured");
	expect_subst_refused(c, "\"insured\":1", "\"insured\":10000000", 422,
	    "bad-insured", "/items/0/insured");
	expect_subst_refused(c, "\"insured\":1", "\"insured\":-1", 422,
	    "bad-insured", "/items/0/insured");
	expect_subst_refused(c, "2024-04-01T08", "2024-04-01T25", 422,
	    "bad-time", "/collected_at");
	/* A wrong check character. */
	str_copy(id, sizeof(id), in.u.collection.items[1].employer_id);
	id[17] = id[17] == 'X' ? 'Y' : 'X';
	s = subst(c, in.u.collection.items[1].employer_id, id);
	expect_refused(s, 0, 422, "bad-credit-code", "/items/1/employer_id",
	    "check character");
	free(s);
	expect_subst_refused(c, "\"amount_fen\":38", "\"amount_fen\":38.5",
	    422, "float-amount", "/items/1/amount_fen");
	expect_subst_refused(c, "\"amount_fen\":38", "\"amount_fen\":-38",
	    422, "negative-amount", "/items/1/amount_fen");
	expect_subst_refused(c, "\"insured\":2", "\"insured\":2,\"x\":1", 422,
	    "unknown-field", "/items/1/x");
	expect_subst_refused(c, ",\"insured\":2", "", 422, "missing-field",
	    "/items/1/insured");
	expect_subst_refused(c, "\"items\":[", "\"items\":[1,", 422,
	    "wrong-type", "/items/0");
	/* Control characters beyond tab, CR and LF; an empty name. */
	expect_subst_refused(c, "Firm\\t", "Firm\\u0001", 422, "control-char",
	    "/items/1/employer_name");
	expect_subst_refused(c, "Firm\\t", "Firm\\u007f", 422, "control-char",
	    "/items/1/employer_name");
	s = subst(c, "\"Firm\\t\\\"1\\\"\"", "\"\"");
	expect_refused(s, 0, 422, "empty", "/items/1/employer_name", "empty");
	free(s);
	/* Too long for its array: 256 bytes in employer_name[256]. */
	name[0] = '"';
	memset(name + 1, 'x', 256);
	name[257] = '"';
	name[258] = '\0';
	expect_subst_refused(c, "\"Firm\\t\\\"1\\\"\"", name, 422, "too-long",
	    "/items/1/employer_name");
	/* 255 bytes fit. */
	name[256] = '"';
	name[257] = '\0';
	s = subst(c, "\"Firm\\t\\\"1\\\"\"", name);
	memset(&e, 0, sizeof(e));
	assert_int_equal(instr_parse_canonical(s, strlen(s), 0, &out, &e), 0);
	assert_int_equal(strlen(out.u.collection.items[1].employer_name), 255);
	instr_free(&out);
	free(s);
	expect_subst_refused(c, "\"items\":[", "\"items\":{},\"z\":[", 422,
	    "unknown-field", "/z");
	free(c);
	instr_free(&in);

	/* No items; more than INSTR_MAX_ITEMS. */
	expect_refused("{\"city_code\":\"620100\",\"collected_at\":"
	    "\"2024-04-01T08:00:00+08:00\",\"count\":1,\"currency\":\"CNY\","
	    "\"id\":\"B-1\",\"items\":[],\"kind\":\"collection\",\"period\":"
	    "\"2024-03\",\"total_fen\":0}", 0, 422, "too-few", "/items",
	    "no items");
	mk_collection(&in, INSTR_MAX_ITEMS + 1);
	in.u.collection.count = INSTR_MAX_ITEMS;
	c = canon(&in, &len);
	expect_refused_n(c, len, INSTR_COLLECTION, 422, "too-many", "/items",
	    "10001 items");
	free(c);
	instr_free(&in);
}

static void
test_refused_plan(void **state)
{
	struct instr	 in;
	char		*c, by[300], more[1024];
	size_t		 len, i;

	mk_plan(&in, 1);
	c = canon(&in, &len);
	expect_subst_refused(c, "\"funeral\"", "\"wages\"", 422, "bad-benefit",
	    "/items/1/benefit");
	expect_subst_refused(c, "\"funeral\"", "\"suspension-wages\"", 422,
	    "employer-paid-item", "/items/1/benefit");
	expect_subst_refused(c, "\"funeral\"", "\"medical\"", 422,
	    "duplicate-benefit", "/items/1/benefit");
	expect_subst_refused(c, "\"total_fen\":620000",
	    "\"total_fen\":620001", 422, "total-mismatch", "/total_fen");
	expect_subst_refused(c, "\"P-620100-2024-04a\"", "\"P-620100-2024-04\"",
	    422, "bad-amends", "/amends");
	expect_subst_refused(c, "\"P-620100-2024-04a\"", "\"\"", 422, "bad-id",
	    "/amends");
	expect_subst_refused(c, "+08:00\"", "\"", 422, "bad-time",
	    "/approved_at");
	expect_subst_refused(c, "张三", "张\\t三", 422, "control-char",
	    "/approved_by");
	/* Too long: 256 bytes in approved_by[256]. */
	by[0] = '"';
	memset(by + 1, 'y', 256);
	by[257] = '"';
	by[258] = '\0';
	expect_subst_refused(c, "\"省社保局 张三\"", by, 422, "too-long",
	    "/approved_by");
	/* 17 items: instr_canonical cannot write them, so splice. */
	more[0] = '\0';
	str_append(more, sizeof(more), "\"items\":[");
	for (i = 2; i <= INSTR_MAX_PLAN_ITEMS; i++)
		str_append(more, sizeof(more),
		    "{\"amount_fen\":0,\"benefit\":\"medical\"},");
	expect_subst_refused(c, "\"items\":[", more, 422, "too-many",
	    "/items");
	free(c);
	/* No items. */
	in.u.plan.nitems = 0;
	in.u.plan.total_fen = 0;
	c = canon(&in, &len);
	expect_refused(c, 0, 422, "too-few", "/items", "no items");
	free(c);
}

static void
test_refused_review(void **state)
{
	struct instr	 in;
	char		*c;
	size_t		 len;

	mk_review(&in, 1, "ok");
	c = canon(&in, &len);
	expect_subst_refused(c, "\"approved\"", "\"maybe\"", 422,
	    "bad-decision", "/decision");
	expect_subst_refused(c, "\"approved\"", "\"rejected\"", 422,
	    "forbidden-field", "/approved_total_fen");
	expect_subst_refused(c, "\"plan_id\":\"P-1\"", "\"plan_id\":\"P-2\"",
	    422, "id-mismatch", "/plan_id");
	expect_subst_refused(c, "\"plan_id\":\"P-1\"", "\"plan_id\":\"P/1\"",
	    422, "bad-id", "/plan_id");
	expect_subst_refused(c, ".25Z", ".25", 422, "bad-time",
	    "/reviewed_at");
	free(c);
	mk_review(&in, 0, "");
	c = canon(&in, &len);
	expect_subst_refused(c, "\"rejected\"", "\"approved\"", 422,
	    "missing-field", "/approved_total_fen");
	free(c);
}

static void
test_refused_disbursement(void **state)
{
	struct instr	 in;
	char		*c, bank[80];
	size_t		 len;

	mk_disbursement(&in, 2, "ICBC");
	c = canon(&in, &len);
	expect_subst_refused(c, "\"amount_fen\":101", "\"amount_fen\":0", 422,
	    "zero-amount", "/lines/1/amount_fen");
	expect_subst_refused(c, "\"P-1\"", "\"P-0\"", 422, "duplicate-line",
	    "/lines/1/plan_id");
	expect_subst_refused(c, "\"2024-04-02\"", "\"2024-04-31\"", 422,
	    "bad-date", "/requested_execution_date");
	/* 64 bytes do not fit bank[64]. */
	bank[0] = '"';
	memset(bank + 1, 'b', 64);
	bank[65] = '"';
	bank[66] = '\0';
	expect_subst_refused(c, "\"ICBC\"", bank, 422, "too-long", "/bank");
	free(c);
	/* 65 lines. */
	mk_disbursement(&in, INSTR_MAX_LINES, "");
	c = canon(&in, &len);
	expect_subst_refused(c, "\"lines\":[", "\"lines\":[{\"amount_fen\":1,"
	    "\"plan_id\":\"P-x\"},", 422, "too-many", "/lines");
	free(c);
}

static void
test_refused_bank_status(void **state)
{
	struct instr	 in;
	char		*c;
	size_t		 len;

	mk_bank_status(&in, 2, "PART", "");
	c = canon(&in, &len);
	expect_subst_refused(c, "\"ACSC\"", "\"PART\"", 422, "bad-status",
	    "/transactions/0/status");
	expect_subst_refused(c, "\"ACSC\"", "\"acsc\"", 422, "bad-status",
	    "/transactions/0/status");
	expect_subst_refused(c, "\"PART\"", "\"DONE\"", 422, "bad-status",
	    "/group_status");
	expect_subst_refused(c, "\"AC01\"", "\"ac01\"", 422, "bad-reason",
	    "/transactions/1/reason");
	expect_subst_refused(c, "\"AC01\"", "\"AC012\"", 422, "bad-reason",
	    "/transactions/1/reason");
	expect_subst_refused(c, "\"E2E-1\"", "\"E2E-0\"", 422,
	    "duplicate-end-to-end-id", "/transactions/1/end_to_end_id");
	expect_subst_refused(c, "\"E2E-1\"", "\"E2E 1\"", 422,
	    "bad-end-to-end-id", "/transactions/1/end_to_end_id");
	expect_subst_refused(c, "\"MSG-1\"", "\"MSG#1\"", 422, "bad-id",
	    "/original_msg_id");
	free(c);
	instr_free(&in);
	/* Neither a group status nor a transaction. */
	expect_refused("{\"id\":\"ST-2\",\"kind\":\"bank-status\","
	    "\"original_msg_id\":\"MSG-2\",\"transactions\":[]}", 0, 422,
	    "no-status", "", "no status");
	/* 1001 transactions. */
	mk_bank_status(&in, INSTR_MAX_TX + 1, "ACSC", "");
	c = canon(&in, &len);
	expect_refused_n(c, len, INSTR_BANK_STATUS, 422, "too-many",
	    "/transactions", "1001 transactions");
	free(c);
	instr_free(&in);
}

static void
test_refused_bank_notification(void **state)
{
	struct instr	 in;
	char		*c, ref[600];
	size_t		 len;

	mk_notification(&in, 4);
	c = canon(&in, &len);
	expect_subst_refused(c, "\"CRDT\"", "\"CR\"", 422, "bad-credit-debit",
	    "/entries/0/credit_debit");
	expect_subst_refused(c, "\"DBIT\"", "true", 422, "wrong-type",
	    "/entries/1/credit_debit");
	expect_subst_refused(c, "\"GS/01:62284800\"", "\"GS 01\"", 422,
	    "bad-account", "/entries/0/account");
	expect_subst_refused(c, "\"GS/01:62284800\"", "\"\"", 422,
	    "bad-account", "/entries/0/account");
	expect_subst_refused(c, "\"R-1\"", "\"R:1\"", 422,
	    "bad-end-to-end-id", "/entries/1/end_to_end_id");
	expect_subst_refused(c, "\"2024-02-29\"", "\"2023-02-29\"", 422,
	    "bad-date", "/entries/0/booking_date");
	expect_subst_refused(c, "9007199254740991", "9007199254740992", 422,
	    "amount-too-large", "/entries/0/amount_fen");
	expect_subst_refused(c, "\\tline", "\\u0002line", 422, "control-char",
	    "/entries/0/reference");
	/* reference[561]: 561 bytes do not fit. */
	ref[0] = '"';
	memset(ref + 1, 'r', 561);
	ref[562] = '"';
	ref[563] = '\0';
	expect_subst_refused(c, "\"汇缴 0\\tline\\n2\"", ref, 422, "too-long",
	    "/entries/0/reference");
	free(c);
	instr_free(&in);
	/* No entries. */
	in.kind = INSTR_BANK_NOTIFICATION;
	str_copy(in.id, sizeof(in.id), "N-0");
	c = canon(&in, &len);
	expect_refused(c, 0, 422, "too-few", "/entries", "no entries");
	free(c);
	mk_notification(&in, INSTR_MAX_TX + 1);
	c = canon(&in, &len);
	expect_refused_n(c, len, 0, 422, "too-many", "/entries",
	    "1001 entries");
	free(c);
	instr_free(&in);
}

/* Every proper prefix of a valid collection is refused, none crashes. */
static void
test_truncated_everywhere(void **state)
{
	struct adapter_error	 e;
	struct instr		 in, out;
	const char		*want;
	char			*c, *cut;
	size_t			 len, k;

	mk_collection(&in, 3);
	c = canon(&in, &len);
	for (k = 0; k < len; k++) {
		/* A copy of exactly k bytes, so ASan sees any over-read. */
		cut = malloc(k > 0 ? k : 1);
		assert_non_null(cut);
		memcpy(cut, c, k);
		memset(&e, 0, sizeof(e));
		if (instr_parse_canonical(cut, k, 0, &out, &e) != -1)
			fail_msg("accepted %zu of %zu bytes", k, len);
		/* Cut inside a character (the next byte continues it), the
		 * reader sees bad UTF-8 first; anywhere else, a syntax
		 * error. */
		want = ((unsigned char)c[k] & 0xc0) == 0x80 ? "bad-utf8" :
		    "malformed";
		if (e.status != 400 || strcmp(e.code, want) != 0)
			fail_msg("%zu bytes: %d %s, want %s", k, e.status,
			    e.code, want);
		expect_zero(&out);
		free(cut);
	}
	memset(&e, 0, sizeof(e));
	assert_int_equal(instr_parse_canonical(c, len, 0, &out, &e), 0);
	same_instr(&in, &out);
	instr_free(&out);
	free(c);
	instr_free(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_collection),
		cmocka_unit_test(test_roundtrip_remittance),
		cmocka_unit_test(test_roundtrip_plan),
		cmocka_unit_test(test_roundtrip_review),
		cmocka_unit_test(test_roundtrip_disbursement),
		cmocka_unit_test(test_roundtrip_bank_status),
		cmocka_unit_test(test_roundtrip_bank_notification),
		cmocka_unit_test(test_remit_base),
		cmocka_unit_test(test_refused_kind),
		cmocka_unit_test(test_refused_fields),
		cmocka_unit_test(test_refused_amounts),
		cmocka_unit_test(test_refused_syntax),
		cmocka_unit_test(test_refused_not_canonical),
		cmocka_unit_test(test_refused_too_large),
		cmocka_unit_test(test_refused_collection),
		cmocka_unit_test(test_refused_plan),
		cmocka_unit_test(test_refused_review),
		cmocka_unit_test(test_refused_disbursement),
		cmocka_unit_test(test_refused_bank_status),
		cmocka_unit_test(test_refused_bank_notification),
		cmocka_unit_test(test_truncated_everywhere),
	};

	log_init("test_instr_parse", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
