/* The finance side's JSON messages: a city's remittance advice and the
 * province's review of an expenditure plan (DESIGN §2). */
#ifndef GW_FINANCE_H
#define GW_FINANCE_H

#include <stddef.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"

/*
 * A remittance advice (POST /v1/remittances) of len bytes at body, at most
 * max, into *out (INSTR_REMITTANCE; it owns nothing, instr_free is still
 * safe). caller_city is the city bound to the sender's certificate: a body
 * naming another city is refused with 403 "city-mismatch". Other refusals
 * are those of json_parse_object and json_get_* (400/413/422), plus 422
 * "bad-id", "bad-city", "bad-period", "bad-account", "bad-date" and
 * "same-account". 0, or -1 with err filled and *out zeroed.
 */
int	finance_parse_remittance(const char *body, size_t len, size_t max,
	    const char *caller_city, struct instr *out,
	    struct adapter_error *err);

/*
 * A plan review (POST /v1/plans/{plan_id}/review) into *out (INSTR_REVIEW,
 * id = plan_id). plan_id comes from the URL path and must be an id (422
 * "bad-id", field "plan_id", not a body pointer). decision is "approved" or
 * "rejected" (422 "bad-decision"); approved_total_fen is required when
 * approved (422 "missing-field") and refused when rejected (422
 * "forbidden-field"); reviewed_at is RFC 3339 (422 "bad-time"). Whether the
 * total is within the plan is the keeper's check (it knows the plan).
 * 0, or -1 with err filled and *out zeroed.
 */
int	finance_parse_review(const char *body, size_t len, size_t max,
	    const char *plan_id, struct instr *out, struct adapter_error *err);

#endif
