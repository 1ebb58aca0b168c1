/* Account registry changes (accounts.h): the proposal and the review, from
 * an agency's body and from the canonical form, read by the same code. */
#include <string.h>

#include <jansson.h>

#include "adapters/accounts.h"
#include "adapters/adapter.h"
#include "adapters/instr.h"
#include "adapters/iso20022.h"
#include "adapters/json.h"
#include "util.h"

static const char *const accounts_change_fields[] = {
	"id", "action", "account", "reason", "effective_date", "proposed_by",
	"proposed_at", NULL
};
static const char *const accounts_change_canon_fields[] = {
	"kind", "id", "action", "account", "reason", "effective_date",
	"proposed_by", "proposed_at", NULL
};
static const char *const accounts_account_fields[] = {
	"name", "number", "cnaps", "holder", "role", "city_code", "bank", NULL
};
static const char *const accounts_retire_fields[] = { "name", NULL };
static const char *const accounts_review_fields[] = {
	"decision", "reviewed_by", "reviewed_at", "comment", NULL
};
static const char *const accounts_review_canon_fields[] = {
	"kind", "id", "decision", "reviewed_by", "reviewed_at", "comment", NULL
};

int
accounts_name_ok(const char *s)
{
	size_t	i;
	char	c;

	for (i = 0; s[i] != '\0'; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return i > 0 && i < INSTR_ACCT_NAME_MAX;
}

/* The shape of a registry role name; which names exist is the keeper's. */
static int
accounts_role_shape_ok(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
			return 0;
	return i > 0;
}

/* The province (620000) or one of the 14 pooling areas. */
static int
accounts_city_ok(const char *s)
{
	return strcmp(s, "620000") == 0 || instr_city_ok(s);
}

static int
accounts_account(const json_t *root, struct instr_account_change *c,
    struct adapter_error *err)
{
	struct instr_account	*a = &c->account;
	json_t			*o = json_object_get(root, "account");

	if (o == NULL) {
		adapter_fail(err, 422, "missing-field", "/account",
		    "the account is missing");
		return -1;
	}
	if (!json_is_object(o)) {
		adapter_fail(err, 422, "wrong-type", "/account",
		    "the account is an object");
		return -1;
	}
	if (c->action == INSTR_ACCT_RETIRE) {
		/* A retirement names the account and nothing else: details
		 * that would not be used must not look as if they were. */
		if (json_check_fields(o, "/account", accounts_retire_fields,
		    err) == -1) {
			str_copy(err->code, sizeof(err->code), "forbidden-field");
			return -1;
		}
		return json_get_string(o, "/account", "name", a->name,
		    sizeof(a->name), accounts_name_ok, "bad-account-name", err);
	}
	if (json_check_fields(o, "/account", accounts_account_fields,
	    err) == -1 ||
	    json_get_string(o, "/account", "name", a->name, sizeof(a->name),
	    accounts_name_ok, "bad-account-name", err) == -1 ||
	    json_get_string(o, "/account", "number", a->number,
	    sizeof(a->number), iso20022_account_ok, "bad-account", err) == -1 ||
	    json_get_string(o, "/account", "cnaps", a->cnaps, sizeof(a->cnaps),
	    iso20022_cnaps_ok, "bad-cnaps", err) == -1 ||
	    json_get_string(o, "/account", "holder", a->holder,
	    sizeof(a->holder), NULL, NULL, err) == -1 ||
	    json_get_string(o, "/account", "role", a->role, sizeof(a->role),
	    accounts_role_shape_ok, "bad-role", err) == -1 ||
	    json_get_string(o, "/account", "city_code", a->city,
	    sizeof(a->city), accounts_city_ok, "bad-city", err) == -1 ||
	    json_get_opt_string(o, "/account", "bank", a->bank, sizeof(a->bank),
	    accounts_name_ok, "bad-bank", err) == -1)
		return -1;
	return 0;
}

/* Every member of a proposal but "kind" and "id". */
static int
accounts_change_body(const json_t *root, struct instr *in,
    struct adapter_error *err)
{
	struct instr_account_change	*c = &in->u.account_change;
	char				 action[16];

	if (json_get_string(root, "", "action", action, sizeof(action), NULL,
	    "bad-action", err) == -1)
		return -1;
	if (strcmp(action, "add") == 0)
		c->action = INSTR_ACCT_ADD;
	else if (strcmp(action, "change") == 0)
		c->action = INSTR_ACCT_CHANGE;
	else if (strcmp(action, "retire") == 0)
		c->action = INSTR_ACCT_RETIRE;
	else {
		adapter_fail(err, 422, "bad-action", "/action",
		    "action must be \"add\", \"change\" or \"retire\"");
		return -1;
	}
	if (accounts_account(root, c, err) == -1 ||
	    json_get_string(root, "", "reason", c->reason, sizeof(c->reason),
	    NULL, NULL, err) == -1 ||
	    json_get_string(root, "", "effective_date", c->effective_date,
	    sizeof(c->effective_date), instr_date_ok, "bad-date", err) == -1 ||
	    json_get_string(root, "", "proposed_by", c->proposed_by,
	    sizeof(c->proposed_by), NULL, NULL, err) == -1 ||
	    json_get_string(root, "", "proposed_at", c->proposed_at,
	    sizeof(c->proposed_at), instr_time_ok, "bad-time", err) == -1)
		return -1;
	return 0;
}

/* Every member of a review but "kind" and "id". */
static int
accounts_review_body(const json_t *root, struct instr *in,
    struct adapter_error *err)
{
	struct instr_account_review	*rv = &in->u.account_review;
	char				 decision[16];

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
	if (json_get_string(root, "", "reviewed_by", rv->reviewed_by,
	    sizeof(rv->reviewed_by), NULL, NULL, err) == -1 ||
	    json_get_string(root, "", "reviewed_at", rv->reviewed_at,
	    sizeof(rv->reviewed_at), instr_time_ok, "bad-time", err) == -1 ||
	    json_get_opt_string(root, "", "comment", rv->comment,
	    sizeof(rv->comment), NULL, NULL, err) == -1)
		return -1;
	return 0;
}

int
accounts_parse_change(const char *body, size_t len, size_t max,
    struct instr *out, struct adapter_error *err)
{
	json_t	*root = NULL;
	int	 rc = -1;

	memset(out, 0, sizeof(*out));
	out->kind = INSTR_ACCOUNT_CHANGE;
	if (json_parse_object(body, len, max, &root, err) == 0 &&
	    json_check_fields(root, "", accounts_change_fields, err) == 0 &&
	    json_get_string(root, "", "id", out->id, sizeof(out->id),
	    instr_id_ok, "bad-id", err) == 0)
		rc = accounts_change_body(root, out, err);
	json_decref(root);
	if (rc == -1)
		instr_free(out);
	return rc;
}

int
accounts_parse_review(const char *body, size_t len, size_t max,
    const char *change_id, struct instr *out, struct adapter_error *err)
{
	json_t	*root = NULL;
	int	 rc = -1;

	memset(out, 0, sizeof(*out));
	out->kind = INSTR_ACCOUNT_REVIEW;
	/* The path names the change; the router passes it through unchecked. */
	if (!instr_id_ok(change_id)) {
		adapter_fail(err, 422, "bad-id", "change_id",
		    "the change id in the path is not an id");
		return -1;
	}
	(void)str_copy(out->id, sizeof(out->id), change_id);
	if (json_parse_object(body, len, max, &root, err) == 0 &&
	    json_check_fields(root, "", accounts_review_fields, err) == 0)
		rc = accounts_review_body(root, out, err);
	json_decref(root);
	if (rc == -1)
		instr_free(out);
	return rc;
}

int
accounts_canonical_change(const json_t *root, struct instr *in,
    struct adapter_error *err)
{
	if (json_check_fields(root, "", accounts_change_canon_fields,
	    err) == -1)
		return -1;
	return accounts_change_body(root, in, err);
}

int
accounts_canonical_review(const json_t *root, struct instr *in,
    struct adapter_error *err)
{
	if (json_check_fields(root, "", accounts_review_canon_fields,
	    err) == -1)
		return -1;
	return accounts_review_body(root, in, err);
}
