/* The canonical instruction read back: the keeper rebuilds struct instr from
 * the canonical JSON the relay sends, trusting none of it. */
#ifndef GW_INSTR_PARSE_H
#define GW_INSTR_PARSE_H

#include <stddef.h>

#include <jansson.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"

/* Largest canonical instruction accepted: the IPC payload limit (a
 * collection of INSTR_MAX_ITEMS items fits). */
#define INSTR_PARSE_MAX		((size_t)4 << 20)

/*
 * Rebuilds *out from canonical instruction bytes (as instr_canonical writes
 * them). Uses the hardened JSON helpers of adapters/json.h (no NUL, no
 * duplicate keys, bounded depth/size, no floats), refuses unknown or missing
 * fields, checks every field with the same validators the adapters use
 * (instr_id_ok, instr_city_ok, instr_period_ok, instr_date_ok, instr_time_ok,
 * instr_uscc_ok, instr_benefit_ok, amount ranges 0..INSTR_MAX_FEN, array
 * bounds INSTR_MAX_ITEMS/INSTR_MAX_PLAN_ITEMS/INSTR_MAX_LINES/INSTR_MAX_TX,
 * string array sizes), and finally re-serializes with instr_canonical and
 * requires the result to equal the input byte for byte (so non-canonical
 * key order, whitespace or escapes are refused). If want_kind is non-zero
 * the kind must be that one. On success *out is the caller's (instr_free);
 * on failure *out is zeroed and err says why (field = JSON pointer). 0 or -1.
 *
 * Refusals: those of json_parse_object (400 "malformed", "nul-byte",
 * "duplicate-key", "bad-utf8", "trailing-data", "number-overflow",
 * "too-deep"; 413 "too-large" beyond INSTR_PARSE_MAX) and of the json_get_*
 * helpers (422 "unknown-field", "missing-field", "wrong-type", "too-few",
 * "too-many", "too-long", "empty", "control-char", "float-amount",
 * "negative-amount", "amount-too-large"); 422 "bad-kind", "wrong-kind"
 * (not want_kind), "bad-id", "bad-city", "bad-period", "bad-time",
 * "bad-date", "bad-currency", "bad-count", "bad-insured",
 * "bad-credit-code", "bad-account", "bad-benefit", "employer-paid-item",
 * "bad-decision", "forbidden-field", "bad-status", "bad-reason",
 * "bad-end-to-end-id", "bad-credit-debit"; the rules between fields the
 * adapters enforce, 422 "count-mismatch", "total-mismatch",
 * "duplicate-benefit", "bad-amends", "same-account", "id-mismatch",
 * "zero-amount", "duplicate-line", "duplicate-end-to-end-id", "no-status";
 * 400 "not-canonical" when the bytes are not instr_canonical's; 503
 * "no-memory".
 */
int	instr_parse_canonical(const char *buf, size_t len,
	    enum instr_kind want_kind, struct instr *out,
	    struct adapter_error *err);
/* The same, and on success *root (the caller's: json_decref) is the object
 * buf holds, so that the caller need not parse buf a second time. */
int	instr_parse_canonical_root(const char *buf, size_t len,
	    enum instr_kind want_kind, struct instr *out, json_t **root,
	    struct adapter_error *err);

#endif
