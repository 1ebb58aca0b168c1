/* The canonical instruction: field validators (amounts, ids, cities, dates,
 * USCC, benefits) and the RFC 8785 form that is signed and logged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapters/instr.h"
#include "adapters/jcs.h"
#include "log.h"
#include "util.h"

static const char *const instr_cities[] = {
	"620100", "620200", "620300", "620400", "620500", "620600", "620700",
	"620800", "620900", "621000", "621100", "621200", "622900", "623000",
};

/* DESIGN §1: what the fund pays. */
static const char *const instr_fund_benefits[] = {
	"medical", "meal-allowance", "travel", "assistive-devices",
	"nursing-care", "disability-lump-sum", "disability-allowance",
	"medical-lump-sum", "funeral", "dependants-pension", "death-lump-sum",
	"assessment-fees", "prevention",
};

/* DESIGN §1: what the employer pays; named so a plan holding one is refused
 * with its own reason rather than as an unknown code. */
static const char *const instr_employer_benefits[] = {
	"suspension-wages", "disability-allowance-5-6", "employment-subsidy",
};

static int
instr_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Value of n decimal digits at s, or -1 if any is not a digit. */
static int
instr_digits(const char *s, size_t n)
{
	int	v = 0;
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!instr_is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
instr_yuan_to_fen(const char *s, int64_t *fen)
{
	size_t	 n, i, intlen;
	int64_t	 v = 0;

	if (s == NULL || fen == NULL)
		return -1;
	/* ^(0|[1-9][0-9]{0,15})\.[0-9]{2}$: at most 16 + 3 characters, so the
	 * value is below 10^18 and cannot overflow an int64_t. */
	n = strnlen(s, 20);
	if (n < 4 || n > 19)
		return -1;
	intlen = n - 3;
	if (s[intlen] != '.')
		return -1;
	if (s[0] == '0' && intlen != 1)
		return -1;
	for (i = 0; i < n; i++) {
		if (i == intlen)
			continue;
		if (!instr_is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	/* Beyond 2^53 - 1 fen canonical JSON could not carry it exactly. */
	if (v > INSTR_MAX_FEN)
		return -1;
	*fen = v;
	return 0;
}

int
instr_fen_to_yuan(int64_t fen, char *dst, size_t dsz)
{
	/* Above INSTR_MAX_FEN no instruction can carry it: refuse it here. */
	if (dst == NULL || fen < 0 || fen > INSTR_MAX_FEN)
		return -1;
	return str_printf(dst, dsz, "%lld.%02lld", (long long)(fen / 100),
	    (long long)(fen % 100));
}

int
instr_id_ok(const char *s)
{
	size_t	i;
	char	c;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= INSTR_ID_MAX - 1)
			return 0;
		c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    instr_is_digit(c) || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return i > 0;
}

int
instr_city_ok(const char *s)
{
	size_t	i;

	if (s == NULL)
		return 0;
	for (i = 0; i < nitems(instr_cities); i++)
		if (strcmp(s, instr_cities[i]) == 0)
			return 1;
	return 0;
}

int
instr_period_ok(const char *s)
{
	int	y, m;

	if (s == NULL || strnlen(s, 8) != 7 || s[4] != '-')
		return 0;
	if ((y = instr_digits(s, 4)) < 0 || (m = instr_digits(s + 5, 2)) < 0)
		return 0;
	return y >= 2000 && y <= 2099 && m >= 1 && m <= 12;
}

static int
instr_days_in_month(int y, int m)
{
	static const int	days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
				    31, 30, 31 };

	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 29;
	return days[m - 1];
}

/* YYYY-MM-DD at s (exactly 10 characters, not NUL-checked past them). The
 * years are those of instr_period_ok: the fund's instructions are dated in
 * this century, and anything else is a typo or an attack on date code. */
static int
instr_date_at(const char *s)
{
	int	y, m, d;

	if (s[4] != '-' || s[7] != '-')
		return 0;
	if ((y = instr_digits(s, 4)) < 0 || (m = instr_digits(s + 5, 2)) < 0 ||
	    (d = instr_digits(s + 8, 2)) < 0)
		return 0;
	if (y < 2000 || y > 2099 || m < 1 || m > 12)
		return 0;
	return d >= 1 && d <= instr_days_in_month(y, m);
}

int
instr_date_ok(const char *s)
{
	if (s == NULL || strnlen(s, 11) != 10)
		return 0;
	return instr_date_at(s);
}

int
instr_time_ok(const char *s)
{
	size_t	n, i;
	int	h, mi, se;

	/* date-time = full-date "T" HH:MM:SS [.frac] (Z / (+|-)HH:MM), with
	 * upper-case T and Z only: the canonical form is signed, so one
	 * spelling per instant. */
	if (s == NULL || (n = strnlen(s, INSTR_TIME_MAX)) >= INSTR_TIME_MAX ||
	    n < 20)
		return 0;
	if (!instr_date_at(s) || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return 0;
	if ((h = instr_digits(s + 11, 2)) < 0 ||
	    (mi = instr_digits(s + 14, 2)) < 0 ||
	    (se = instr_digits(s + 17, 2)) < 0)
		return 0;
	/* RFC 3339 §5.6 allows second 60 (a leap second). */
	if (h > 23 || mi > 59 || se > 60)
		return 0;
	i = 19;
	if (s[i] == '.') {
		i++;
		while (i < n && instr_is_digit(s[i]) && i < 30)
			i++;
		if (i == 20 || (i < n && instr_is_digit(s[i])))
			return 0;	/* no digits, or more than 10 */
	}
	if (s[i] == 'Z')
		return i + 1 == n;
	if (s[i] != '+' && s[i] != '-')
		return 0;
	if (n - i != 6 || s[i + 3] != ':')
		return 0;
	if ((h = instr_digits(s + i + 1, 2)) < 0 ||
	    (mi = instr_digits(s + i + 4, 2)) < 0)
		return 0;
	return h <= 23 && mi <= 59;
}

/* GB 32100-2015 character set: digits and upper-case letters without I, O,
 * S, V and Z. The index of a character is its value. */
static const char	instr_uscc_chars[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* First character (registration authority) and the type codes the second
 * character may take under it: GB 32100-2015 Table 1 (1, 5, 9, Y) and the
 * authorities added by its amendments (2, 3, 4, 6, 7, 8, A, N), so that
 * every code actually issued to an employer passes. */
static const struct {
	char		 authority;
	const char	*types;
} instr_uscc_types[] = {
	{ '1', "1239" },	/* 机构编制: 机关, 事业单位, 群众团体, 其他 */
	{ '2', "19" },		/* 外交 */
	{ '3', "123459" },	/* 司法行政: 律所, 公证处, ... */
	{ '4', "19" },		/* 文化 */
	{ '5', "1239" },	/* 民政: 社团, 民非, 基金会, 其他 */
	{ '6', "129" },		/* 旅游 */
	{ '7', "129" },		/* 宗教 */
	{ '8', "19" },		/* 工会 */
	{ '9', "123" },		/* 工商: 企业, 个体工商户, 农民专业合作社 */
	{ 'A', "19" },		/* 中央军委改革和编制办公室 */
	{ 'N', "1239" },	/* 农业: 集体经济组织 */
	{ 'Y', "1" },		/* 其他 */
};

int
instr_uscc_ok(const char *s)
{
	static const int	 w[17] = { 1, 3, 9, 27, 19, 26, 16, 17, 20, 29,
				    25, 13, 8, 24, 10, 30, 28 };
	const char		*p;
	size_t			 i;
	int			 sum = 0, check, types_ok = 0;

	if (s == NULL || strnlen(s, INSTR_USCC_LEN) != INSTR_USCC_LEN - 1)
		return 0;
	for (i = 0; i < nitems(instr_uscc_types); i++)
		if (s[0] == instr_uscc_types[i].authority &&
		    strchr(instr_uscc_types[i].types, s[1]) != NULL &&
		    s[1] != '\0')
			types_ok = 1;
	if (!types_ok)
		return 0;
	/* Characters 3-8: the registering authority's GB/T 2260 area. */
	if (instr_digits(s + 2, 6) < 0)
		return 0;
	for (i = 0; i < 17; i++) {
		if ((p = strchr(instr_uscc_chars, s[i])) == NULL || s[i] == '\0')
			return 0;
		sum += (int)(p - instr_uscc_chars) * w[i];
	}
	check = 31 - sum % 31;
	if (check == 31)
		check = 0;
	return s[17] == instr_uscc_chars[check];
}

int
instr_benefit_ok(const char *s, int *employer)
{
	size_t	i;

	if (employer != NULL)
		*employer = 0;
	if (s == NULL)
		return 0;
	for (i = 0; i < nitems(instr_fund_benefits); i++)
		if (strcmp(s, instr_fund_benefits[i]) == 0)
			return 1;
	for (i = 0; i < nitems(instr_employer_benefits); i++)
		if (strcmp(s, instr_employer_benefits[i]) == 0) {
			if (employer != NULL)
				*employer = 1;
			return 0;
		}
	return 0;
}

void
instr_free(struct instr *in)
{
	if (in == NULL)
		return;
	switch (in->kind) {
	case INSTR_COLLECTION:
		free(in->u.collection.items);
		break;
	case INSTR_BANK_STATUS:
		free(in->u.bank_status.tx);
		break;
	case INSTR_BANK_NOTIFICATION:
		free(in->u.bank_notification.entries);
		break;
	default:
		break;
	}
	memset(in, 0, sizeof(*in));
}

const char *
instr_kind_name(enum instr_kind k)
{
	switch (k) {
	case INSTR_COLLECTION:		return "collection";
	case INSTR_REMITTANCE:		return "remittance";
	case INSTR_PLAN:		return "plan";
	case INSTR_REVIEW:		return "review";
	case INSTR_DISBURSEMENT:	return "disbursement";
	case INSTR_BANK_STATUS:		return "bank-status";
	case INSTR_BANK_NOTIFICATION:	return "bank-notification";
	case INSTR_ACCOUNT_CHANGE:	return "account-change";
	case INSTR_ACCOUNT_REVIEW:	return "account-review";
	}
	return "unknown";
}

const char *
instr_account_action_name(enum instr_account_action a)
{
	switch (a) {
	case INSTR_ACCT_ADD:		return "add";
	case INSTR_ACCT_CHANGE:		return "change";
	case INSTR_ACCT_RETIRE:		return "retire";
	}
	return "?";
}

int
instr_kind_parse(const char *s, enum instr_kind *k)
{
	enum instr_kind	i;

	for (i = INSTR_COLLECTION; i <= INSTR_KIND_LAST; i++)
		if (strcmp(s, instr_kind_name(i)) == 0) {
			*k = i;
			return 0;
		}
	return -1;
}

/*
 * Building the JSON value. Every setter records a failure in *ok instead of
 * returning it, so a kind's fields read as one list; the value is thrown away
 * if anything failed. Strings are read with strnlen over their array size so
 * an unterminated field cannot be over-read, and json_stringn refuses bytes
 * that are not UTF-8.
 */

static void
instr_set(json_t *o, const char *key, json_t *v, int *ok)
{
	if (v == NULL || json_object_set_new(o, key, v) != 0)
		*ok = 0;
}

static void
instr_set_str(json_t *o, const char *key, const char *s, size_t sz, int *ok)
{
	instr_set(o, key, json_stringn(s, strnlen(s, sz)), ok);
}

/* Optional fields are omitted when empty: one canonical form per content. */
static void
instr_set_opt(json_t *o, const char *key, const char *s, size_t sz, int *ok)
{
	if (s[0] != '\0')
		instr_set_str(o, key, s, sz, ok);
}

static void
instr_set_int(json_t *o, const char *key, int64_t v, int *ok)
{
	instr_set(o, key, json_integer((json_int_t)v), ok);
}

#define SET_STR(o, k, f, ok)	instr_set_str(o, k, f, sizeof(f), ok)
#define SET_OPT(o, k, f, ok)	instr_set_opt(o, k, f, sizeof(f), ok)

/* Appends a new object to arr and returns it (borrowed), or NULL. */
static json_t *
instr_append_obj(json_t *arr, int *ok)
{
	json_t	*o;

	if ((o = json_object()) == NULL || json_array_append_new(arr, o) != 0) {
		*ok = 0;
		return NULL;
	}
	return o;
}

static void
instr_json_collection(json_t *o, const struct instr_collection *c, int *ok)
{
	json_t	*arr, *it;
	size_t	 i;

	SET_STR(o, "city_code", c->city, ok);
	SET_STR(o, "period", c->period, ok);
	SET_STR(o, "collected_at", c->collected_at, ok);
	SET_STR(o, "currency", c->currency, ok);
	instr_set_int(o, "total_fen", c->total_fen, ok);
	instr_set_int(o, "count", c->count, ok);
	if ((arr = json_array()) == NULL) {
		*ok = 0;
		return;
	}
	instr_set(o, "items", arr, ok);
	if (c->nitems > 0 && c->items == NULL)
		*ok = 0;
	for (i = 0; *ok && i < c->nitems; i++) {
		if ((it = instr_append_obj(arr, ok)) == NULL)
			break;
		SET_STR(it, "employer_id", c->items[i].employer_id, ok);
		SET_STR(it, "employer_name", c->items[i].employer_name, ok);
		instr_set_int(it, "insured", c->items[i].insured, ok);
		instr_set_int(it, "amount_fen", c->items[i].amount_fen, ok);
	}
}

static void
instr_json_remittance(json_t *o, const struct instr_remittance *r, int *ok)
{
	SET_STR(o, "city_code", r->city, ok);
	SET_STR(o, "period", r->period, ok);
	instr_set_int(o, "amount_fen", r->amount_fen, ok);
	SET_STR(o, "from_account", r->from_account, ok);
	SET_STR(o, "to_account", r->to_account, ok);
	SET_STR(o, "value_date", r->value_date, ok);
}

static void
instr_json_plan(json_t *o, const struct instr_plan *p, int *ok)
{
	json_t	*arr, *it;
	size_t	 i;

	SET_STR(o, "city_code", p->city, ok);
	SET_STR(o, "period", p->period, ok);
	if (p->nitems > INSTR_MAX_PLAN_ITEMS || (arr = json_array()) == NULL) {
		*ok = 0;
		return;
	}
	instr_set(o, "items", arr, ok);
	for (i = 0; *ok && i < p->nitems; i++) {
		if ((it = instr_append_obj(arr, ok)) == NULL)
			break;
		SET_STR(it, "benefit", p->items[i].benefit, ok);
		instr_set_int(it, "amount_fen", p->items[i].amount_fen, ok);
	}
	instr_set_int(o, "total_fen", p->total_fen, ok);
	SET_STR(o, "approved_by", p->approved_by, ok);
	SET_STR(o, "approved_at", p->approved_at, ok);
	SET_OPT(o, "amends", p->amends, ok);
}

static void
instr_json_review(json_t *o, const struct instr_review *r, int *ok)
{
	SET_STR(o, "plan_id", r->plan_id, ok);
	instr_set(o, "decision", json_string(r->approved ? "approved" :
	    "rejected"), ok);
	if (r->approved)
		instr_set_int(o, "approved_total_fen", r->approved_total_fen, ok);
	SET_STR(o, "reviewed_by", r->reviewed_by, ok);
	SET_STR(o, "reviewed_at", r->reviewed_at, ok);
	SET_OPT(o, "comment", r->comment, ok);
}

static void
instr_json_disbursement(json_t *o, const struct instr_disbursement *d,
    int *ok)
{
	json_t	*arr, *it;
	size_t	 i;

	SET_STR(o, "requested_execution_date", d->requested_execution_date, ok);
	if (d->nlines > INSTR_MAX_LINES || (arr = json_array()) == NULL) {
		*ok = 0;
		return;
	}
	instr_set(o, "lines", arr, ok);
	for (i = 0; *ok && i < d->nlines; i++) {
		if ((it = instr_append_obj(arr, ok)) == NULL)
			break;
		SET_STR(it, "plan_id", d->lines[i].plan_id, ok);
		instr_set_int(it, "amount_fen", d->lines[i].amount_fen, ok);
	}
	SET_OPT(o, "bank", d->bank, ok);
}

static void
instr_json_bank_status(json_t *o, const struct instr_bank_status *b, int *ok)
{
	json_t	*arr, *it;
	size_t	 i;

	SET_STR(o, "original_msg_id", b->original_msg_id, ok);
	SET_OPT(o, "group_status", b->group_status, ok);
	SET_OPT(o, "group_reason", b->group_reason, ok);
	if ((arr = json_array()) == NULL) {
		*ok = 0;
		return;
	}
	instr_set(o, "transactions", arr, ok);
	if (b->ntx > 0 && b->tx == NULL)
		*ok = 0;
	for (i = 0; *ok && i < b->ntx; i++) {
		if ((it = instr_append_obj(arr, ok)) == NULL)
			break;
		SET_STR(it, "end_to_end_id", b->tx[i].end_to_end_id, ok);
		SET_STR(it, "status", b->tx[i].status, ok);
		SET_OPT(it, "reason", b->tx[i].reason, ok);
		SET_OPT(it, "bank_reference", b->tx[i].bank_reference, ok);
	}
}

static void
instr_json_bank_notification(json_t *o, const struct instr_bank_notification *b,
    int *ok)
{
	json_t	*arr, *it;
	size_t	 i;

	if ((arr = json_array()) == NULL) {
		*ok = 0;
		return;
	}
	instr_set(o, "entries", arr, ok);
	if (b->nentries > 0 && b->entries == NULL)
		*ok = 0;
	for (i = 0; *ok && i < b->nentries; i++) {
		if ((it = instr_append_obj(arr, ok)) == NULL)
			break;
		SET_STR(it, "account", b->entries[i].account, ok);
		instr_set(it, "credit_debit", json_string(b->entries[i].credit ?
		    "CRDT" : "DBIT"), ok);
		instr_set_int(it, "amount_fen", b->entries[i].amount_fen, ok);
		SET_STR(it, "booking_date", b->entries[i].booking_date, ok);
		SET_OPT(it, "end_to_end_id", b->entries[i].end_to_end_id, ok);
		SET_OPT(it, "reference", b->entries[i].reference, ok);
	}
}

static void
instr_json_account_change(json_t *o, const struct instr_account_change *c,
    int *ok)
{
	const struct instr_account	*a = &c->account;
	json_t				*acct;

	instr_set(o, "action", json_string(instr_account_action_name(
	    c->action)), ok);
	if ((acct = json_object()) == NULL) {
		*ok = 0;
		return;
	}
	instr_set(o, "account", acct, ok);
	SET_STR(acct, "name", a->name, ok);
	if (c->action != INSTR_ACCT_RETIRE) {
		SET_STR(acct, "number", a->number, ok);
		SET_STR(acct, "cnaps", a->cnaps, ok);
		SET_STR(acct, "holder", a->holder, ok);
		SET_STR(acct, "role", a->role, ok);
		SET_STR(acct, "city_code", a->city, ok);
		SET_OPT(acct, "bank", a->bank, ok);
	}
	SET_STR(o, "reason", c->reason, ok);
	SET_STR(o, "effective_date", c->effective_date, ok);
	SET_STR(o, "proposed_by", c->proposed_by, ok);
	SET_STR(o, "proposed_at", c->proposed_at, ok);
}

static void
instr_json_account_review(json_t *o, const struct instr_account_review *r,
    int *ok)
{
	instr_set(o, "decision", json_string(r->approved ? "approved" :
	    "rejected"), ok);
	SET_STR(o, "reviewed_by", r->reviewed_by, ok);
	SET_STR(o, "reviewed_at", r->reviewed_at, ok);
	SET_OPT(o, "comment", r->comment, ok);
}

int
instr_canonical(const struct instr *in, char **out, size_t *len)
{
	json_t	*o;
	int	 ok = 1, rc;

	if (in == NULL || out == NULL || len == NULL)
		return -1;
	if ((o = json_object()) == NULL)
		return -1;
	instr_set(o, "kind", json_string(instr_kind_name(in->kind)), &ok);
	SET_STR(o, "id", in->id, &ok);
	switch (in->kind) {
	case INSTR_COLLECTION:
		instr_json_collection(o, &in->u.collection, &ok);
		break;
	case INSTR_REMITTANCE:
		instr_json_remittance(o, &in->u.remittance, &ok);
		break;
	case INSTR_PLAN:
		instr_json_plan(o, &in->u.plan, &ok);
		break;
	case INSTR_REVIEW:
		instr_json_review(o, &in->u.review, &ok);
		break;
	case INSTR_DISBURSEMENT:
		instr_json_disbursement(o, &in->u.disbursement, &ok);
		break;
	case INSTR_BANK_STATUS:
		instr_json_bank_status(o, &in->u.bank_status, &ok);
		break;
	case INSTR_BANK_NOTIFICATION:
		instr_json_bank_notification(o, &in->u.bank_notification, &ok);
		break;
	case INSTR_ACCOUNT_CHANGE:
		instr_json_account_change(o, &in->u.account_change, &ok);
		break;
	case INSTR_ACCOUNT_REVIEW:
		instr_json_account_review(o, &in->u.account_review, &ok);
		break;
	default:
		ok = 0;
	}
	/* jcs_serialize refuses integers beyond 2^53 (I-JSON), so an amount
	 * the canonical form cannot carry exactly fails here, not silently. */
	rc = ok ? jcs_serialize(o, out, len) : -1;
	if (!ok)
		log_warnx("%s: %s instruction cannot be represented", __func__,
		    instr_kind_name(in->kind));
	json_decref(o);
	return rc;
}
