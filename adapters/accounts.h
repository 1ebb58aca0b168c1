/* Changes to the account registry as instructions (dual control): a
 * proposal by one agency, a review by another, strict JSON both ways. */
#ifndef GW_ACCOUNTS_H
#define GW_ACCOUNTS_H

#include <stddef.h>

#include <jansson.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"

/*
 * A proposal (POST /v1/accounts/changes) of len bytes at body, at most max,
 * into *out (INSTR_ACCOUNT_CHANGE):
 *   {"id", "action": "add"|"change"|"retire",
 *    "account": {"name", "number", "cnaps", "holder", "role", "city_code",
 *                "bank"?}  (retire: {"name"} only),
 *    "reason", "effective_date": "YYYY-MM-DD", "proposed_by", "proposed_at"}
 * Refusals: json_parse_object's and json_get_*'s, 422 "bad-id",
 * "bad-action", "bad-account-name", "bad-account", "bad-cnaps", "bad-city",
 * "bad-bank", "bad-date", "bad-time", "forbidden-field" (account details on
 * a retirement). Whether the role and city fit, and whether the account
 * exists, is the keeper's check: it holds the registry. 0 or -1 (err).
 */
int	accounts_parse_change(const char *body, size_t len, size_t max,
	    struct instr *out, struct adapter_error *err);

/*
 * A review (POST /v1/accounts/changes/{id}/review) into *out
 * (INSTR_ACCOUNT_REVIEW, id = the change's id from the path):
 *   {"decision": "approved"|"rejected", "reviewed_by", "reviewed_at",
 *    "comment"?}
 * Refusals as finance_parse_review's. 0 or -1 (err).
 */
int	accounts_parse_review(const char *body, size_t len, size_t max,
	    const char *change_id, struct instr *out, struct adapter_error *err);

/* The canonical forms' members after "kind" and "id" (instr_parse.c):
 * root is the whole canonical object. 0 or -1 (err). */
int	accounts_canonical_change(const json_t *root, struct instr *in,
	    struct adapter_error *err);
int	accounts_canonical_review(const json_t *root, struct instr *in,
	    struct adapter_error *err);

/* A registry name (account or bank agency): 1-63 of [A-Za-z0-9._-]. */
int	accounts_name_ok(const char *);

#endif
