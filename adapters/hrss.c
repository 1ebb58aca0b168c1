/* hrss's expenditure plans and disbursement requests (strict JSON to struct
 * instr, DESIGN §2) and the status notices the gateway sends back. */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "adapters/adapter.h"
#include "adapters/hrss.h"
#include "adapters/instr.h"
#include "adapters/jcs.h"
#include "adapters/json.h"
#include "log.h"
#include "util.h"

/* The canonical form carries integers exactly up to 2^53-1 (I-JSON). */
#define HRSS_MAX_INDEX	UINT64_C(9007199254740991)

static const char *const hrss_plan_fields[] = {
	"plan_id", "city_code", "period", "items", "total_fen", "approved_by",
	"approved_at", "amends", NULL
};

static const char *const hrss_plan_item_fields[] = {
	"benefit", "amount_fen", NULL
};

static const char *const hrss_disb_fields[] = {
	"disbursement_id", "requested_execution_date", "lines", "bank", NULL
};

static const char *const hrss_line_fields[] = {
	"plan_id", "amount_fen", NULL
};

/* One plan item at element i of arr into *it. */
static int
hrss_plan_item(const json_t *arr, size_t i, struct instr_plan_item *it,
    struct adapter_error *err)
{
	json_t	*o;
	char	 ptr[JSON_PTR_MAX], fp[JSON_PTR_MAX];
	int	 employer;

	if (json_get_element(arr, "/items", i, &o, ptr, err) == -1 ||
	    json_check_fields(o, ptr, hrss_plan_item_fields, err) == -1 ||
	    json_get_string(o, ptr, "benefit", it->benefit,
	    sizeof(it->benefit), NULL, "bad-benefit", err) == -1)
		return -1;
	if (!instr_benefit_ok(it->benefit, &employer)) {
		json_ptr(fp, ptr, "benefit");
		if (employer)
			adapter_fail(err, 422, "employer-paid-item", fp,
			    "%s is paid by the employer, not the fund",
			    it->benefit);
		else
			adapter_fail(err, 422, "bad-benefit", fp,
			    "unknown benefit code");
		return -1;
	}
	return json_get_amount(o, ptr, "amount_fen", &it->amount_fen, err);
}

int
hrss_parse_plan(const char *body, size_t len, size_t max, struct instr *out,
    struct adapter_error *err)
{
	struct instr_plan	*p = &out->u.plan;
	json_t			*root = NULL, *items;
	size_t			 i, j;
	int64_t			 sum = 0;
	char			 fp[JSON_PTR_MAX];

	memset(out, 0, sizeof(*out));
	out->kind = INSTR_PLAN;
	if (json_parse_object(body, len, max, &root, err) == -1 ||
	    json_check_fields(root, "", hrss_plan_fields, err) == -1 ||
	    json_get_string(root, "", "plan_id", out->id, sizeof(out->id),
	    instr_id_ok, "bad-id", err) == -1 ||
	    json_get_string(root, "", "city_code", p->city, sizeof(p->city),
	    instr_city_ok, "bad-city", err) == -1 ||
	    json_get_string(root, "", "period", p->period, sizeof(p->period),
	    instr_period_ok, "bad-period", err) == -1 ||
	    json_get_array(root, "", "items", 1, INSTR_MAX_PLAN_ITEMS, &items,
	    err) == -1)
		goto fail;
	for (i = 0; i < json_array_size(items); i++) {
		if (hrss_plan_item(items, i, &p->items[i], err) == -1)
			goto fail;
		p->nitems = i + 1;
		/* One item per benefit code: the plan is a budget line per
		 * code, and the keeper limits disbursements per line. */
		for (j = 0; j < i; j++)
			if (strcmp(p->items[j].benefit, p->items[i].benefit) ==
			    0) {
				if (str_printf(fp, sizeof(fp),
				    "/items/%zu/benefit", i) == -1)
					fp[0] = '\0';
				adapter_fail(err, 422, "duplicate-benefit", fp,
				    "%s appears twice", p->items[i].benefit);
				goto fail;
			}
		/* Each item is at most JSON_MAX_AMOUNT (< 2^53) and there are
		 * at most 16, so the sum cannot overflow an int64_t. */
		sum += p->items[i].amount_fen;
	}
	if (json_get_amount(root, "", "total_fen", &p->total_fen, err) == -1)
		goto fail;
	if (p->total_fen != sum) {
		adapter_fail(err, 422, "total-mismatch", "/total_fen",
		    "total_fen %lld is not the sum of the items, %lld",
		    (long long)p->total_fen, (long long)sum);
		goto fail;
	}
	if (json_get_string(root, "", "approved_by", p->approved_by,
	    sizeof(p->approved_by), NULL, NULL, err) == -1 ||
	    json_get_string(root, "", "approved_at", p->approved_at,
	    sizeof(p->approved_at), instr_time_ok, "bad-time", err) == -1 ||
	    json_get_opt_string(root, "", "amends", p->amends,
	    sizeof(p->amends), instr_id_ok, "bad-id", err) == -1)
		goto fail;
	if (strcmp(p->amends, out->id) == 0) {
		adapter_fail(err, 422, "bad-amends", "/amends",
		    "a plan cannot amend itself");
		goto fail;
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	instr_free(out);
	return -1;
}

int
hrss_parse_disbursement(const char *body, size_t len, size_t max,
    struct instr *out, struct adapter_error *err)
{
	struct instr_disbursement	*d = &out->u.disbursement;
	struct instr_disbursement_line	*l;
	json_t				*root = NULL, *lines, *o;
	size_t				 i, j;
	char				 ptr[JSON_PTR_MAX], fp[JSON_PTR_MAX];

	memset(out, 0, sizeof(*out));
	out->kind = INSTR_DISBURSEMENT;
	if (json_parse_object(body, len, max, &root, err) == -1 ||
	    json_check_fields(root, "", hrss_disb_fields, err) == -1 ||
	    json_get_string(root, "", "disbursement_id", out->id,
	    sizeof(out->id), instr_id_ok, "bad-id", err) == -1 ||
	    json_get_string(root, "", "requested_execution_date",
	    d->requested_execution_date, sizeof(d->requested_execution_date),
	    instr_date_ok, "bad-date", err) == -1 ||
	    json_get_array(root, "", "lines", 1, INSTR_MAX_LINES, &lines,
	    err) == -1)
		goto fail;
	for (i = 0; i < json_array_size(lines); i++) {
		l = &d->lines[i];
		if (json_get_element(lines, "/lines", i, &o, ptr, err) == -1 ||
		    json_check_fields(o, ptr, hrss_line_fields, err) == -1 ||
		    json_get_string(o, ptr, "plan_id", l->plan_id,
		    sizeof(l->plan_id), instr_id_ok, "bad-id", err) == -1 ||
		    json_get_amount(o, ptr, "amount_fen", &l->amount_fen,
		    err) == -1)
			goto fail;
		d->nlines = i + 1;
		json_ptr(fp, ptr, "amount_fen");
		/* A credit transfer of nothing is refused by banks (and
		 * means a mistake upstream). */
		if (l->amount_fen == 0) {
			adapter_fail(err, 422, "zero-amount", fp,
			    "a line must pay something");
			goto fail;
		}
		/* One line per plan: each line becomes one pain.001
		 * transaction matched back to its plan by the bank status. */
		for (j = 0; j < i; j++)
			if (strcmp(d->lines[j].plan_id, l->plan_id) == 0) {
				json_ptr(fp, ptr, "plan_id");
				adapter_fail(err, 422, "duplicate-line", fp,
				    "plan %s has two lines", l->plan_id);
				goto fail;
			}
	}
	if (json_get_opt_string(root, "", "bank", d->bank, sizeof(d->bank),
	    NULL, NULL, err) == -1)
		goto fail;
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	instr_free(out);
	return -1;
}

/* 4 characters of [A-Z0-9] (ISO 20022 status and reason code shape), the
 * first a letter. */
static int
hrss_iso_code_ok(const char *s)
{
	size_t	i;

	if (strnlen(s, 5) != 4 || s[0] < 'A' || s[0] > 'Z')
		return 0;
	for (i = 1; i < 4; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

int
hrss_status_notice(const struct hrss_notice *n, char **out, size_t *len)
{
	json_t	*o;
	int	 ok = 1, rc = -1;

	/* Fields are copied out of arrays that may not be terminated: bound
	 * every read by the array size. */
	if (strnlen(n->disbursement_id, sizeof(n->disbursement_id)) ==
	    sizeof(n->disbursement_id) ||
	    strnlen(n->end_to_end_id, sizeof(n->end_to_end_id)) ==
	    sizeof(n->end_to_end_id) ||
	    strnlen(n->status, sizeof(n->status)) == sizeof(n->status) ||
	    strnlen(n->reason, sizeof(n->reason)) == sizeof(n->reason) ||
	    strnlen(n->bank_reference, sizeof(n->bank_reference)) ==
	    sizeof(n->bank_reference))
		ok = 0;
	else if (!instr_id_ok(n->disbursement_id) ||
	    !instr_id_ok(n->end_to_end_id) || !hrss_iso_code_ok(n->status) ||
	    (n->reason[0] != '\0' && !hrss_iso_code_ok(n->reason)) ||
	    n->audit_index > HRSS_MAX_INDEX)
		ok = 0;
	if (!ok) {
		log_warnx("%s: notice fields are not valid", __func__);
		return -1;
	}
	if ((o = json_pack("{s:s, s:s, s:s, s:I}",
	    "disbursement_id", n->disbursement_id,
	    "end_to_end_id", n->end_to_end_id,
	    "status", n->status,
	    "audit_index", (json_int_t)n->audit_index)) == NULL)
		return -1;
	if (n->reason[0] != '\0' &&
	    json_object_set_new(o, "reason", json_string(n->reason)) != 0)
		goto done;
	if (n->bank_reference[0] != '\0' && json_object_set_new(o,
	    "bank_reference", json_string(n->bank_reference)) != 0)
		goto done;
	rc = jcs_serialize(o, out, len);
done:
	json_decref(o);
	return rc;
}
