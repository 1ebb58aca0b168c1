/* The hardened JSON reader every JSON adapter uses (DESIGN §4): bounded
 * parsing over jansson and strict field getters that report JSON pointers. */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "adapters/adapter.h"

/* Deepest nesting accepted (the top-level value is depth 1). The messages
 * need 3; the bound keeps hostile input far from jansson's own limit. */
#define JSON_MAX_DEPTH		32
/* Largest amount in a JSON message: INSTR_MAX_FEN, further bounded to 2^53-1
 * because the canonical form (RFC 8785, I-JSON) cannot carry more exactly. */
#define JSON_MAX_AMOUNT		INT64_C(9007199254740991)
/* Longest JSON pointer reported; longer ones are cut (adapter_error.field). */
#define JSON_PTR_MAX		128

/* Validates a string field: 1 if acceptable, 0 if not (the instr_*_ok
 * predicates have this shape). */
typedef int (*json_check_fn)(const char *);

/*
 * Parses len bytes at buf (need not be NUL-terminated) into *root. Refused
 * before jansson sees them: more than max bytes (413 "too-large"), any NUL
 * byte (400 "nul-byte"), nesting deeper than JSON_MAX_DEPTH (400
 * "too-deep"). jansson then refuses duplicate keys (400 "duplicate-key"),
 * "\u0000" in strings or keys (400 "nul-byte"), invalid UTF-8 (400
 * "bad-utf8"), numbers it cannot represent (400 "number-overflow"),
 * trailing bytes other than white space (400 "trailing-data") and any other
 * syntax error (400 "malformed"). Any JSON value is accepted at the top.
 * On success *root is the caller's (json_decref). 0 or -1 (err filled).
 */
int	json_parse_body(const char *buf, size_t len, size_t max, json_t **root,
	    struct adapter_error *err);
/* json_parse_body, and the value must be an object (422 "wrong-type"). */
int	json_parse_object(const char *buf, size_t len, size_t max,
	    json_t **root, struct adapter_error *err);

/* Refuses the first member of obj whose name is not in names (a
 * NULL-terminated list): 422 "unknown-field", field = ptr/name. ptr is the
 * JSON pointer of obj ("" for the root). 0 or -1. */
int	json_check_fields(const json_t *obj, const char *ptr,
	    const char *const *names, struct adapter_error *err);

/*
 * The required string member name of obj into dst (size dsz): missing
 * (422 "missing-field"), not a string (422 "wrong-type"), empty, longer than
 * dsz - 1 bytes, or refused by check (422 bad_code; without check: "empty"
 * or "too-long"), or holding a control character (422 "control-char").
 * check may be NULL. On failure dst is "". 0 or -1.
 */
int	json_get_string(const json_t *obj, const char *ptr, const char *name,
	    char *dst, size_t dsz, json_check_fn check, const char *bad_code,
	    struct adapter_error *err);
/* Like json_get_string, but an absent member leaves dst "" and succeeds;
 * a present one (even "") must pass check when check is given. */
int	json_get_opt_string(const json_t *obj, const char *ptr,
	    const char *name, char *dst, size_t dsz, json_check_fn check,
	    const char *bad_code, struct adapter_error *err);

/* The required amount member name of obj in fen: a JSON integer (a real
 * such as 100.0 or 1e2 is 422 "float-amount", anything else 422
 * "wrong-type"), not negative (422 "negative-amount"), at most
 * JSON_MAX_AMOUNT (422 "amount-too-large"). 0 or -1. */
int	json_get_amount(const json_t *obj, const char *ptr, const char *name,
	    int64_t *fen, struct adapter_error *err);
/* True if obj has a member called name (whatever its value). */
int	json_has(const json_t *obj, const char *name);

/* The required array member name of obj, with min..max elements (422
 * "missing-field", "wrong-type", "too-few", "too-many"). *arr is borrowed
 * from obj. 0 or -1. */
int	json_get_array(const json_t *obj, const char *ptr, const char *name,
	    size_t min, size_t max, json_t **arr, struct adapter_error *err);
/* Element i of arr (at pointer ptr) as an object (422 "wrong-type"); its
 * pointer "ptr/i" goes into eptr (JSON_PTR_MAX bytes). *elem is borrowed.
 * 0 or -1. */
int	json_get_element(const json_t *arr, const char *ptr, size_t i,
	    json_t **elem, char *eptr, struct adapter_error *err);

/* The JSON pointer ptr/name into dst (JSON_PTR_MAX bytes), name escaped per
 * RFC 6901 (~0, ~1) and control bytes shown as '?'; cut if too long. */
void	json_ptr(char *dst, const char *ptr, const char *name);

#endif
