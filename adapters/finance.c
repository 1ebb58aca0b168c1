/* finance-city's remittance advice and finance's plan review: strict JSON
 * to struct instr, per the DESIGN §2 contract. */
#include <string.h>

#include <jansson.h>

#include "adapters/adapter.h"
#include "adapters/finance.h"
#include "adapters/instr.h"
#include "adapters/json.h"
#include "util.h"

static const char *const finance_remittance_fields[] = {
	"remittance_id", "city_code", "period", "amount_fen", "from_account",
	"to_account", "value_date", NULL
};

static const char *const finance_review_fields[] = {
	"decision", "approved_total_fen", "reviewed_by", "reviewed_at",
	"comment", NULL
};

/* An account number as the registry holds it (ISO 20022 Othr/Id, BBAN):
 * 1-34 letters, digits or hyphens. The registry decides whether it exists
 * and what role it has; this only keeps junk out of the signed form. */
static int
finance_account_ok(const char *s)
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

int
finance_parse_remittance(const char *body, size_t len, size_t max,
    const char *caller_city, struct instr *out, struct adapter_error *err)
{
	struct instr_remittance	*r = &out->u.remittance;
	json_t			*root = NULL;

	memset(out, 0, sizeof(*out));
	out->kind = INSTR_REMITTANCE;
	if (json_parse_object(body, len, max, &root, err) == -1)
		goto fail;
	if (json_check_fields(root, "", finance_remittance_fields, err) == -1 ||
	    json_get_string(root, "", "remittance_id", out->id,
	    sizeof(out->id), instr_id_ok, "bad-id", err) == -1 ||
	    json_get_string(root, "", "city_code", r->city, sizeof(r->city),
	    instr_city_ok, "bad-city", err) == -1)
		goto fail;
	/* The certificate says which city is speaking; a city may only remit
	 * its own collections. */
	if (caller_city == NULL || strcmp(caller_city, r->city) != 0) {
		adapter_fail(err, 403, "city-mismatch", "/city_code",
		    "the caller may not remit for city %s", r->city);
		goto fail;
	}
	if (json_get_string(root, "", "period", r->period, sizeof(r->period),
	    instr_period_ok, "bad-period", err) == -1 ||
	    json_get_amount(root, "", "amount_fen", &r->amount_fen, err) == -1 ||
	    json_get_string(root, "", "from_account", r->from_account,
	    sizeof(r->from_account), finance_account_ok, "bad-account",
	    err) == -1 ||
	    json_get_string(root, "", "to_account", r->to_account,
	    sizeof(r->to_account), finance_account_ok, "bad-account",
	    err) == -1 ||
	    json_get_string(root, "", "value_date", r->value_date,
	    sizeof(r->value_date), instr_date_ok, "bad-date", err) == -1)
		goto fail;
	/* No edge of DESIGN §1 goes from an account to itself. */
	if (strcmp(r->from_account, r->to_account) == 0) {
		adapter_fail(err, 422, "same-account", "/to_account",
		    "from_account and to_account are the same");
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
finance_parse_review(const char *body, size_t len, size_t max,
    const char *plan_id, struct instr *out, struct adapter_error *err)
{
	struct instr_review	*rv = &out->u.review;
	json_t			*root = NULL;
	char			 decision[16];

	memset(out, 0, sizeof(*out));
	out->kind = INSTR_REVIEW;
	/* The path names the plan; the router passes it through unchecked. */
	if (!instr_id_ok(plan_id)) {
		adapter_fail(err, 422, "bad-id", "plan_id",
		    "the plan id in the path is not an id");
		goto fail;
	}
	(void)str_copy(out->id, sizeof(out->id), plan_id);
	(void)str_copy(rv->plan_id, sizeof(rv->plan_id), plan_id);
	if (json_parse_object(body, len, max, &root, err) == -1 ||
	    json_check_fields(root, "", finance_review_fields, err) == -1 ||
	    json_get_string(root, "", "decision", decision, sizeof(decision),
	    NULL, "bad-decision", err) == -1)
		goto fail;
	if (strcmp(decision, "approved") == 0)
		rv->approved = 1;
	else if (strcmp(decision, "rejected") == 0)
		rv->approved = 0;
	else {
		adapter_fail(err, 422, "bad-decision", "/decision",
		    "decision must be \"approved\" or \"rejected\"");
		goto fail;
	}
	/* Dual control: an approval states the amount finance agrees to; a
	 * rejection carrying an amount is ambiguous, so it is refused. */
	if (rv->approved) {
		if (json_get_amount(root, "", "approved_total_fen",
		    &rv->approved_total_fen, err) == -1)
			goto fail;
	} else {
		if (json_has(root, "approved_total_fen")) {
			adapter_fail(err, 422, "forbidden-field",
			    "/approved_total_fen",
			    "a rejection carries no approved total");
			goto fail;
		}
		rv->approved_total_fen = -1;
	}
	if (json_get_string(root, "", "reviewed_by", rv->reviewed_by,
	    sizeof(rv->reviewed_by), NULL, NULL, err) == -1 ||
	    json_get_string(root, "", "reviewed_at", rv->reviewed_at,
	    sizeof(rv->reviewed_at), instr_time_ok, "bad-time", err) == -1 ||
	    json_get_opt_string(root, "", "comment", rv->comment,
	    sizeof(rv->comment), NULL, NULL, err) == -1)
		goto fail;
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	instr_free(out);
	return -1;
}
