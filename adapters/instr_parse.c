/* Canonical instruction bytes back to struct instr, for the keeper: every
 * field checked as the adapters check it, and the bytes must be canonical. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapters/accounts.h"
#include "adapters/adapter.h"
#include "adapters/instr.h"
#include "adapters/instr_parse.h"
#include "adapters/json.h"
#include "util.h"

/* The tax schema's Insured: [1-9][0-9]{0,6}. */
#define INSTR_PARSE_MAX_INSURED	9999999

_Static_assert(JSON_MAX_AMOUNT == INSTR_MAX_FEN,
    "json_get_amount must bound amounts to INSTR_MAX_FEN");

/* Member names per kind, as instr_canonical writes them ("kind" and "id"
 * first in each list, the order does not matter here). */
static const char *const instr_parse_collection_fields[] = {
	"kind", "id", "city_code", "period", "collected_at", "currency",
	"total_fen", "count", "items", NULL
};
static const char *const instr_parse_collection_item_fields[] = {
	"employer_id", "employer_name", "insured", "amount_fen", NULL
};
static const char *const instr_parse_remittance_fields[] = {
	"kind", "id", "city_code", "period", "amount_fen", "from_account",
	"to_account", "value_date", NULL
};
static const char *const instr_parse_plan_fields[] = {
	"kind", "id", "city_code", "period", "items", "total_fen",
	"approved_by", "approved_at", "amends", NULL
};
static const char *const instr_parse_plan_item_fields[] = {
	"benefit", "amount_fen", NULL
};
static const char *const instr_parse_review_fields[] = {
	"kind", "id", "plan_id", "decision", "approved_total_fen",
	"reviewed_by", "reviewed_at", "comment", NULL
};
static const char *const instr_parse_disbursement_fields[] = {
	"kind", "id", "requested_execution_date", "lines", "bank", NULL
};
static const char *const instr_parse_line_fields[] = {
	"plan_id", "amount_fen", NULL
};
static const char *const instr_parse_bank_status_fields[] = {
	"kind", "id", "original_msg_id", "group_status", "group_reason",
	"transactions", NULL
};
static const char *const instr_parse_tx_fields[] = {
	"end_to_end_id", "status", "reason", "bank_reference", NULL
};
static const char *const instr_parse_notification_fields[] = {
	"kind", "id", "entries", NULL
};
static const char *const instr_parse_entry_fields[] = {
	"account", "credit_debit", "amount_fen", "booking_date",
	"end_to_end_id", "reference", NULL
};

/* pain.002 statuses (adapters/pain002.c keeps its list static): those of a
 * transaction, and the two only a group may have. */
static const char *const instr_parse_tx_statuses[] = {
	"RCVD", "ACTC", "ACCP", "ACSP", "ACSC", "ACCC", "RJCT",
};
static const char *const instr_parse_group_only[] = { "PART", "PDNG" };

/* ---- validators the adapters keep static, repeated here ---- */

static int
instr_parse_cny_ok(const char *s)
{
	return strcmp(s, "CNY") == 0;
}

/* finance.c's account: 1-34 of [A-Za-z0-9-]. */
static int
instr_parse_account_ok(const char *s)
{
	size_t	i;
	char	c;

	for (i = 0; s[i] != '\0'; i++) {
		c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || c == '-'))
			return 0;
	}
	return i > 0 && i < INSTR_ACCOUNT_MAX;
}

/* iso20022_account_ok's Othr/Id: 1-34 printable ASCII, no blanks. Repeated
 * so this file needs no libxml2 (iso20022.h includes it). */
static int
instr_parse_bank_account_ok(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || s[i] > '~' || i >= INSTR_ACCOUNT_MAX - 1)
			return 0;
	return i > 0;
}

static int
instr_parse_tx_status_ok(const char *s)
{
	size_t	i;

	for (i = 0; i < nitems(instr_parse_tx_statuses); i++)
		if (strcmp(s, instr_parse_tx_statuses[i]) == 0)
			return 1;
	return 0;
}

static int
instr_parse_group_status_ok(const char *s)
{
	size_t	i;

	for (i = 0; i < nitems(instr_parse_group_only); i++)
		if (strcmp(s, instr_parse_group_only[i]) == 0)
			return 1;
	return instr_parse_tx_status_ok(s);
}

/* pain002.c's ISO reason code: four upper-case letters or digits. */
static int
instr_parse_reason_ok(const char *s)
{
	size_t	i;

	for (i = 0; i < 4; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return s[4] == '\0';
}

/* ---- getters the JSON helpers lack ---- */

/* Refuses member name of the object at ptr with 422 code. */
static void
instr_parse_fail(struct adapter_error *err, const char *code,
    const char *ptr, const char *name, const char *what)
{
	char	fp[JSON_PTR_MAX];

	json_ptr(fp, ptr, name);
	adapter_fail(err, 422, code, fp, "%s %s", fp, what);
}

/*
 * Free text that came from XML (employer names, bank references, remittance
 * information): what xml_text lets through, that is UTF-8 (jansson checked
 * it) with tab, line feed and carriage return allowed, other control bytes
 * refused. json_get_string would refuse those three, and with them
 * instructions the XML adapters accepted. Present means non-empty: the
 * canonical form omits an empty optional field and the schemas give the
 * required ones a minimum length. On failure dst is "". 0 or -1.
 */
static int
instr_parse_text(const json_t *obj, const char *ptr, const char *name,
    int required, char *dst, size_t dsz, struct adapter_error *err)
{
	const json_t	*v;
	const char	*s;
	size_t		 n, i;

	dst[0] = '\0';
	if ((v = json_object_get(obj, name)) == NULL) {
		if (required)
			instr_parse_fail(err, "missing-field", ptr, name,
			    "is required");
		return required ? -1 : 0;
	}
	if (!json_is_string(v)) {
		instr_parse_fail(err, "wrong-type", ptr, name,
		    "must be a string");
		return -1;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0) {
		instr_parse_fail(err, "empty", ptr, name, "is empty");
		return -1;
	}
	if (n >= dsz) {
		instr_parse_fail(err, "too-long", ptr, name,
		    "does not fit its field");
		return -1;
	}
	for (i = 0; i < n; i++) {
		/* NUL included: jansson refuses "\u0000" already, but a cut
		 * string must never be copied as if whole. */
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t' &&
		    s[i] != '\n' && s[i] != '\r') || s[i] == 0x7f) {
			instr_parse_fail(err, "control-char", ptr, name,
			    "holds a control character");
			return -1;
		}
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* A required integer member in min..max (422 "wrong-type" if not an
 * integer, bad_code if out of range). 0 or -1. */
static int
instr_parse_uint(const json_t *obj, const char *ptr, const char *name,
    json_int_t min, json_int_t max, uint32_t *dst, const char *bad_code,
    struct adapter_error *err)
{
	const json_t	*v;
	json_int_t	 iv;

	if ((v = json_object_get(obj, name)) == NULL) {
		instr_parse_fail(err, "missing-field", ptr, name,
		    "is required");
		return -1;
	}
	if (!json_is_integer(v)) {
		instr_parse_fail(err, "wrong-type", ptr, name,
		    "must be an integer");
		return -1;
	}
	iv = json_integer_value(v);
	if (iv < min || iv > max) {
		instr_parse_fail(err, bad_code, ptr, name, "is out of range");
		return -1;
	}
	*dst = (uint32_t)iv;
	return 0;
}

/* n elements of type size for an array just bounded by json_get_array;
 * NULL for none. *p is the instruction's (instr_free). 0 or -1. */
static int
instr_parse_alloc(size_t n, size_t size, void **p, struct adapter_error *err)
{
	*p = NULL;
	if (n == 0)
		return 0;
	if ((*p = calloc(n, size)) == NULL) {
		adapter_fail(err, 503, "no-memory", "", "out of memory");
		return -1;
	}
	return 0;
}

/* ---- one function per kind; in->kind is set, root is the object ---- */

static int
instr_parse_collection_item(const json_t *arr, size_t i,
    struct instr_collection_item *it, struct adapter_error *err)
{
	json_t	*o;
	char	 ptr[JSON_PTR_MAX];

	if (json_get_element(arr, "/items", i, &o, ptr, err) == -1 ||
	    json_check_fields(o, ptr, instr_parse_collection_item_fields,
	    err) == -1 ||
	    json_get_string(o, ptr, "employer_id", it->employer_id,
	    sizeof(it->employer_id), instr_uscc_ok, "bad-credit-code",
	    err) == -1 ||
	    instr_parse_text(o, ptr, "employer_name", 1, it->employer_name,
	    sizeof(it->employer_name), err) == -1 ||
	    instr_parse_uint(o, ptr, "insured", 1, INSTR_PARSE_MAX_INSURED,
	    &it->insured, "bad-insured", err) == -1 ||
	    json_get_amount(o, ptr, "amount_fen", &it->amount_fen, err) == -1)
		return -1;
	return 0;
}

static int
instr_parse_collection(const json_t *root, struct instr *in,
    struct adapter_error *err)
{
	struct instr_collection	*c = &in->u.collection;
	json_t			*items;
	size_t			 i, n;
	int64_t			 sum = 0;
	void			*p;

	if (json_check_fields(root, "", instr_parse_collection_fields,
	    err) == -1 ||
	    json_get_string(root, "", "city_code", c->city, sizeof(c->city),
	    instr_city_ok, "bad-city", err) == -1 ||
	    json_get_string(root, "", "period", c->period, sizeof(c->period),
	    instr_period_ok, "bad-period", err) == -1 ||
	    json_get_string(root, "", "collected_at", c->collected_at,
	    sizeof(c->collected_at), instr_time_ok, "bad-time", err) == -1 ||
	    json_get_string(root, "", "currency", c->currency,
	    sizeof(c->currency), instr_parse_cny_ok, "bad-currency",
	    err) == -1 ||
	    json_get_amount(root, "", "total_fen", &c->total_fen, err) == -1 ||
	    instr_parse_uint(root, "", "count", 1, INSTR_MAX_ITEMS, &c->count,
	    "bad-count", err) == -1 ||
	    json_get_array(root, "", "items", 1, INSTR_MAX_ITEMS, &items,
	    err) == -1)
		return -1;
	n = json_array_size(items);
	if (instr_parse_alloc(n, sizeof(*c->items), &p, err) == -1)
		return -1;
	c->items = p;
	c->nitems = n;
	for (i = 0; i < n; i++) {
		if (instr_parse_collection_item(items, i, &c->items[i],
		    err) == -1)
			return -1;
		/* As tax.c: every amount is at most INSTR_MAX_FEN, so stopping
		 * past it keeps 10000 of them from wrapping the sum. */
		sum += c->items[i].amount_fen;
		if (sum > INSTR_MAX_FEN) {
			adapter_fail(err, 422, "total-mismatch", "/total_fen",
			    "the items add up to more than any total");
			return -1;
		}
	}
	if (c->count != n) {
		adapter_fail(err, 422, "count-mismatch", "/count",
		    "count is not the number of items");
		return -1;
	}
	if (sum != c->total_fen) {
		adapter_fail(err, 422, "total-mismatch", "/total_fen",
		    "total_fen is not the sum of the items");
		return -1;
	}
	return 0;
}

static int
instr_parse_remittance(const json_t *root, struct instr *in,
    struct adapter_error *err)
{
	struct instr_remittance	*r = &in->u.remittance;

	if (json_check_fields(root, "", instr_parse_remittance_fields,
	    err) == -1 ||
	    json_get_string(root, "", "city_code", r->city, sizeof(r->city),
	    instr_city_ok, "bad-city", err) == -1 ||
	    json_get_string(root, "", "period", r->period, sizeof(r->period),
	    instr_period_ok, "bad-period", err) == -1 ||
	    json_get_amount(root, "", "amount_fen", &r->amount_fen,
	    err) == -1 ||
	    json_get_string(root, "", "from_account", r->from_account,
	    sizeof(r->from_account), instr_parse_account_ok, "bad-account",
	    err) == -1 ||
	    json_get_string(root, "", "to_account", r->to_account,
	    sizeof(r->to_account), instr_parse_account_ok, "bad-account",
	    err) == -1 ||
	    json_get_string(root, "", "value_date", r->value_date,
	    sizeof(r->value_date), instr_date_ok, "bad-date", err) == -1)
		return -1;
	if (strcmp(r->from_account, r->to_account) == 0) {
		adapter_fail(err, 422, "same-account", "/to_account",
		    "from_account and to_account are the same");
		return -1;
	}
	return 0;
}

static int
instr_parse_plan_item(const json_t *arr, size_t i, struct instr_plan_item *it,
    struct adapter_error *err)
{
	json_t	*o;
	char	 ptr[JSON_PTR_MAX];
	int	 employer;

	if (json_get_element(arr, "/items", i, &o, ptr, err) == -1 ||
	    json_check_fields(o, ptr, instr_parse_plan_item_fields,
	    err) == -1 ||
	    json_get_string(o, ptr, "benefit", it->benefit,
	    sizeof(it->benefit), NULL, "bad-benefit", err) == -1)
		return -1;
	if (!instr_benefit_ok(it->benefit, &employer)) {
		instr_parse_fail(err, employer ? "employer-paid-item" :
		    "bad-benefit", ptr, "benefit", "is not a benefit the fund "
		    "pays");
		return -1;
	}
	return json_get_amount(o, ptr, "amount_fen", &it->amount_fen, err);
}

static int
instr_parse_plan(const json_t *root, struct instr *in,
    struct adapter_error *err)
{
	struct instr_plan	*p = &in->u.plan;
	json_t			*items;
	size_t			 i, j;
	int64_t			 sum = 0;
	char			 ptr[JSON_PTR_MAX];

	if (json_check_fields(root, "", instr_parse_plan_fields, err) == -1 ||
	    json_get_string(root, "", "city_code", p->city, sizeof(p->city),
	    instr_city_ok, "bad-city", err) == -1 ||
	    json_get_string(root, "", "period", p->period, sizeof(p->period),
	    instr_period_ok, "bad-period", err) == -1 ||
	    json_get_array(root, "", "items", 1, INSTR_MAX_PLAN_ITEMS, &items,
	    err) == -1)
		return -1;
	for (i = 0; i < json_array_size(items); i++) {
		if (instr_parse_plan_item(items, i, &p->items[i], err) == -1)
			return -1;
		p->nitems = i + 1;
		/* One item per code, as hrss.c: the keeper's limits are per
		 * budget line. */
		for (j = 0; j < i; j++)
			if (strcmp(p->items[j].benefit, p->items[i].benefit) ==
			    0) {
				(void)str_printf(ptr, sizeof(ptr), "/items/%zu",
				    i);
				instr_parse_fail(err, "duplicate-benefit", ptr,
				    "benefit", "appears twice");
				return -1;
			}
		/* At most 16 amounts below 2^53: no overflow. */
		sum += p->items[i].amount_fen;
	}
	if (json_get_amount(root, "", "total_fen", &p->total_fen, err) == -1)
		return -1;
	if (p->total_fen != sum) {
		adapter_fail(err, 422, "total-mismatch", "/total_fen",
		    "total_fen is not the sum of the items");
		return -1;
	}
	if (json_get_string(root, "", "approved_by", p->approved_by,
	    sizeof(p->approved_by), NULL, NULL, err) == -1 ||
	    json_get_string(root, "", "approved_at", p->approved_at,
	    sizeof(p->approved_at), instr_time_ok, "bad-time", err) == -1 ||
	    json_get_opt_string(root, "", "amends", p->amends,
	    sizeof(p->amends), instr_id_ok, "bad-id", err) == -1)
		return -1;
	if (strcmp(p->amends, in->id) == 0) {
		adapter_fail(err, 422, "bad-amends", "/amends",
		    "a plan cannot amend itself");
		return -1;
	}
	return 0;
}

static int
instr_parse_review(const json_t *root, struct instr *in,
    struct adapter_error *err)
{
	struct instr_review	*rv = &in->u.review;
	char			 decision[16];

	if (json_check_fields(root, "", instr_parse_review_fields,
	    err) == -1 ||
	    json_get_string(root, "", "plan_id", rv->plan_id,
	    sizeof(rv->plan_id), instr_id_ok, "bad-id", err) == -1)
		return -1;
	/* finance.c gives a review the id of the plan it reviews. */
	if (strcmp(rv->plan_id, in->id) != 0) {
		adapter_fail(err, 422, "id-mismatch", "/plan_id",
		    "a review's id is its plan's id");
		return -1;
	}
	if (json_get_string(root, "", "decision", decision, sizeof(decision),
	    NULL, "bad-decision", err) == -1)
		return -1;
	if (strcmp(decision, "approved") == 0)
		rv->approved = 1;
	else if (strcmp(decision, "rejected") == 0)
		rv->approved = 0;
	else {
		adapter_fail(err, 422, "bad-decision", "/decision",
		    "decision must be \"approved\" or \"rejected\"");
		return -1;
	}
	if (rv->approved) {
		if (json_get_amount(root, "", "approved_total_fen",
		    &rv->approved_total_fen, err) == -1)
			return -1;
	} else {
		if (json_has(root, "approved_total_fen")) {
			adapter_fail(err, 422, "forbidden-field",
			    "/approved_total_fen",
			    "a rejection carries no approved total");
			return -1;
		}
		rv->approved_total_fen = -1;	/* as finance.c sets it */
	}
	if (json_get_string(root, "", "reviewed_by", rv->reviewed_by,
	    sizeof(rv->reviewed_by), NULL, NULL, err) == -1 ||
	    json_get_string(root, "", "reviewed_at", rv->reviewed_at,
	    sizeof(rv->reviewed_at), instr_time_ok, "bad-time", err) == -1 ||
	    json_get_opt_string(root, "", "comment", rv->comment,
	    sizeof(rv->comment), NULL, NULL, err) == -1)
		return -1;
	return 0;
}

static int
instr_parse_disbursement(const json_t *root, struct instr *in,
    struct adapter_error *err)
{
	struct instr_disbursement	*d = &in->u.disbursement;
	struct instr_disbursement_line	*l;
	json_t				*lines, *o;
	size_t				 i, j;
	char				 ptr[JSON_PTR_MAX];

	if (json_check_fields(root, "", instr_parse_disbursement_fields,
	    err) == -1 ||
	    json_get_string(root, "", "requested_execution_date",
	    d->requested_execution_date, sizeof(d->requested_execution_date),
	    instr_date_ok, "bad-date", err) == -1 ||
	    json_get_array(root, "", "lines", 1, INSTR_MAX_LINES, &lines,
	    err) == -1)
		return -1;
	for (i = 0; i < json_array_size(lines); i++) {
		l = &d->lines[i];
		if (json_get_element(lines, "/lines", i, &o, ptr, err) == -1 ||
		    json_check_fields(o, ptr, instr_parse_line_fields,
		    err) == -1 ||
		    json_get_string(o, ptr, "plan_id", l->plan_id,
		    sizeof(l->plan_id), instr_id_ok, "bad-id", err) == -1 ||
		    json_get_amount(o, ptr, "amount_fen", &l->amount_fen,
		    err) == -1)
			return -1;
		d->nlines = i + 1;
		if (l->amount_fen == 0) {
			instr_parse_fail(err, "zero-amount", ptr, "amount_fen",
			    "pays nothing");
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(d->lines[j].plan_id, l->plan_id) == 0) {
				instr_parse_fail(err, "duplicate-line", ptr,
				    "plan_id", "has two lines");
				return -1;
			}
	}
	return json_get_opt_string(root, "", "bank", d->bank, sizeof(d->bank),
	    NULL, NULL, err);
}

static int
instr_parse_tx(const json_t *arr, size_t i, struct instr_tx_status *tx,
    struct adapter_error *err)
{
	json_t	*o;
	char	 ptr[JSON_PTR_MAX];

	if (json_get_element(arr, "/transactions", i, &o, ptr, err) == -1 ||
	    json_check_fields(o, ptr, instr_parse_tx_fields, err) == -1 ||
	    json_get_string(o, ptr, "end_to_end_id", tx->end_to_end_id,
	    sizeof(tx->end_to_end_id), instr_id_ok, "bad-end-to-end-id",
	    err) == -1 ||
	    json_get_string(o, ptr, "status", tx->status, sizeof(tx->status),
	    instr_parse_tx_status_ok, "bad-status", err) == -1 ||
	    json_get_opt_string(o, ptr, "reason", tx->reason,
	    sizeof(tx->reason), instr_parse_reason_ok, "bad-reason",
	    err) == -1 ||
	    instr_parse_text(o, ptr, "bank_reference", 0, tx->bank_reference,
	    sizeof(tx->bank_reference), err) == -1)
		return -1;
	return 0;
}

static int
instr_parse_bank_status(const json_t *root, struct instr *in,
    struct adapter_error *err)
{
	struct instr_bank_status	*b = &in->u.bank_status;
	json_t				*txs;
	size_t				 i, j, n;
	char				 ptr[JSON_PTR_MAX];
	void				*p;

	if (json_check_fields(root, "", instr_parse_bank_status_fields,
	    err) == -1 ||
	    json_get_string(root, "", "original_msg_id", b->original_msg_id,
	    sizeof(b->original_msg_id), instr_id_ok, "bad-id", err) == -1 ||
	    json_get_opt_string(root, "", "group_status", b->group_status,
	    sizeof(b->group_status), instr_parse_group_status_ok,
	    "bad-status", err) == -1 ||
	    json_get_opt_string(root, "", "group_reason", b->group_reason,
	    sizeof(b->group_reason), instr_parse_reason_ok, "bad-reason",
	    err) == -1 ||
	    json_get_array(root, "", "transactions", 0, INSTR_MAX_TX, &txs,
	    err) == -1)
		return -1;
	n = json_array_size(txs);
	if (instr_parse_alloc(n, sizeof(*b->tx), &p, err) == -1)
		return -1;
	b->tx = p;
	b->ntx = n;
	for (i = 0; i < n; i++) {
		if (instr_parse_tx(txs, i, &b->tx[i], err) == -1)
			return -1;
		/* As pain002.c: two statuses for one transaction. */
		for (j = 0; j < i; j++)
			if (strcmp(b->tx[j].end_to_end_id,
			    b->tx[i].end_to_end_id) == 0) {
				(void)str_printf(ptr, sizeof(ptr),
				    "/transactions/%zu", i);
				instr_parse_fail(err, "duplicate-end-to-end-id",
				    ptr, "end_to_end_id", "has two statuses");
				return -1;
			}
	}
	if (b->group_status[0] == '\0' && n == 0) {
		adapter_fail(err, 422, "no-status", "",
		    "neither a group status nor a transaction status");
		return -1;
	}
	return 0;
}

static int
instr_parse_entry(const json_t *arr, size_t i, struct instr_bank_entry *be,
    struct adapter_error *err)
{
	json_t	*o;
	char	 ptr[JSON_PTR_MAX], ind[8];

	if (json_get_element(arr, "/entries", i, &o, ptr, err) == -1 ||
	    json_check_fields(o, ptr, instr_parse_entry_fields, err) == -1 ||
	    json_get_string(o, ptr, "account", be->account,
	    sizeof(be->account), instr_parse_bank_account_ok, "bad-account",
	    err) == -1 ||
	    json_get_string(o, ptr, "credit_debit", ind, sizeof(ind), NULL,
	    "bad-credit-debit", err) == -1)
		return -1;
	if (strcmp(ind, "CRDT") != 0 && strcmp(ind, "DBIT") != 0) {
		instr_parse_fail(err, "bad-credit-debit", ptr, "credit_debit",
		    "is CRDT or DBIT");
		return -1;
	}
	be->credit = strcmp(ind, "CRDT") == 0;
	if (json_get_amount(o, ptr, "amount_fen", &be->amount_fen, err) == -1 ||
	    json_get_string(o, ptr, "booking_date", be->booking_date,
	    sizeof(be->booking_date), instr_date_ok, "bad-date", err) == -1 ||
	    json_get_opt_string(o, ptr, "end_to_end_id", be->end_to_end_id,
	    sizeof(be->end_to_end_id), instr_id_ok, "bad-end-to-end-id",
	    err) == -1 ||
	    instr_parse_text(o, ptr, "reference", 0, be->reference,
	    sizeof(be->reference), err) == -1)
		return -1;
	return 0;
}

static int
instr_parse_notification(const json_t *root, struct instr *in,
    struct adapter_error *err)
{
	struct instr_bank_notification	*b = &in->u.bank_notification;
	json_t				*entries;
	size_t				 i, n;
	void				*p;

	if (json_check_fields(root, "", instr_parse_notification_fields,
	    err) == -1 ||
	    json_get_array(root, "", "entries", 1, INSTR_MAX_TX, &entries,
	    err) == -1)
		return -1;
	n = json_array_size(entries);
	if (instr_parse_alloc(n, sizeof(*b->entries), &p, err) == -1)
		return -1;
	b->entries = p;
	b->nentries = n;
	for (i = 0; i < n; i++)
		if (instr_parse_entry(entries, i, &b->entries[i], err) == -1)
			return -1;
	return 0;
}

/* The kind named by root's "kind" member into *kind. 0 or -1. */
static int
instr_parse_kind(const json_t *root, enum instr_kind want,
    enum instr_kind *kind, struct adapter_error *err)
{
	char	name[32];
	int	k;

	*kind = 0;
	if (json_get_string(root, "", "kind", name, sizeof(name), NULL,
	    "bad-kind", err) == -1)
		return -1;
	for (k = INSTR_COLLECTION; k <= INSTR_KIND_LAST; k++)
		if (strcmp(name, instr_kind_name((enum instr_kind)k)) == 0)
			*kind = (enum instr_kind)k;
	if (*kind == 0) {
		adapter_fail(err, 422, "bad-kind", "/kind",
		    "not a kind of instruction");
		return -1;
	}
	if (want != 0 && *kind != want) {
		adapter_fail(err, 422, "wrong-kind", "/kind",
		    "a %s where a %s was expected", instr_kind_name(*kind),
		    instr_kind_name(want));
		return -1;
	}
	return 0;
}

/* The bytes instr_canonical makes of in must be buf's. 0 or -1. */
static int
instr_parse_same(const struct instr *in, const char *buf, size_t len,
    struct adapter_error *err)
{
	char	*c = NULL;
	size_t	 clen = 0;
	int	 same;

	if (instr_canonical(in, &c, &clen) == -1) {
		/* Every field passed its check, so only memory is left. */
		adapter_fail(err, 503, "no-memory", "",
		    "cannot serialize the instruction again");
		return -1;
	}
	same = clen == len && memcmp(c, buf, len) == 0;
	free(c);
	if (!same) {
		adapter_fail(err, 400, "not-canonical", "",
		    "the bytes are not the instruction's canonical form");
		return -1;
	}
	return 0;
}

int
instr_parse_canonical(const char *buf, size_t len, enum instr_kind want_kind,
    struct instr *out, struct adapter_error *err)
{
	return instr_parse_canonical_root(buf, len, want_kind, out, NULL, err);
}

int
instr_parse_canonical_root(const char *buf, size_t len,
    enum instr_kind want_kind, struct instr *out, json_t **rootp,
    struct adapter_error *err)
{
	json_t		*root = NULL;
	enum instr_kind	 kind;
	int		 rc = -1;

	memset(out, 0, sizeof(*out));
	if (json_parse_object(buf, len, INSTR_PARSE_MAX, &root, err) == -1 ||
	    instr_parse_kind(root, want_kind, &kind, err) == -1)
		goto done;
	/* Set before anything is allocated, so instr_free finds it. */
	out->kind = kind;
	if (json_get_string(root, "", "id", out->id, sizeof(out->id),
	    instr_id_ok, "bad-id", err) == -1)
		goto done;
	switch (kind) {
	case INSTR_COLLECTION:
		rc = instr_parse_collection(root, out, err);
		break;
	case INSTR_REMITTANCE:
		rc = instr_parse_remittance(root, out, err);
		break;
	case INSTR_PLAN:
		rc = instr_parse_plan(root, out, err);
		break;
	case INSTR_REVIEW:
		rc = instr_parse_review(root, out, err);
		break;
	case INSTR_DISBURSEMENT:
		rc = instr_parse_disbursement(root, out, err);
		break;
	case INSTR_BANK_STATUS:
		rc = instr_parse_bank_status(root, out, err);
		break;
	case INSTR_BANK_NOTIFICATION:
		rc = instr_parse_notification(root, out, err);
		break;
	case INSTR_ACCOUNT_CHANGE:
		rc = accounts_canonical_change(root, out, err);
		break;
	case INSTR_ACCOUNT_REVIEW:
		rc = accounts_canonical_review(root, out, err);
		break;
	}
	/* Whitespace, key order, escapes, "bank":"" and the like all read
	 * the same as the canonical bytes: only the bytes tell them apart. */
	if (rc == 0)
		rc = instr_parse_same(out, buf, len, err);
done:
	if (rc == 0 && rootp != NULL) {
		*rootp = root;
		root = NULL;
	}
	json_decref(root);
	if (rc == -1)
		instr_free(out);
	return rc;
}
