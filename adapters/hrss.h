/* The HRSS side's JSON messages: expenditure plans and disbursement
 * requests in, disbursement status notices out (DESIGN §2). */
#ifndef GW_HRSS_H
#define GW_HRSS_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"

/*
 * An expenditure plan (POST /v1/plans) of len bytes at body, at most max,
 * into *out (INSTR_PLAN; owns nothing). Refusals beyond those of
 * json_parse_object and json_get_* (400/413/422): 422 "bad-id",
 * "bad-city", "bad-period", "bad-time", "bad-benefit", "employer-paid-item"
 * (a benefit the employer pays), "duplicate-benefit" (one item per code),
 * "total-mismatch" (total_fen is not the sum of the items) and "bad-amends"
 * (a plan cannot amend itself). 0, or -1 with err filled and *out zeroed.
 */
int	hrss_parse_plan(const char *body, size_t len, size_t max,
	    struct instr *out, struct adapter_error *err);

/*
 * A disbursement request (POST /v1/disbursements) into *out
 * (INSTR_DISBURSEMENT; owns nothing). Refusals beyond the helpers': 422
 * "bad-id", "bad-date", "zero-amount" (a line paying nothing),
 * "duplicate-line" (two lines for one plan). 0, or -1 with err filled and
 * *out zeroed.
 */
int	hrss_parse_disbursement(const char *body, size_t len, size_t max,
	    struct instr *out, struct adapter_error *err);

/* What the gateway tells hrss and finance about one disbursement
 * transaction (DESIGN §2 "status notice"). Empty reason / bank_reference are
 * omitted. */
struct hrss_notice {
	char		disbursement_id[INSTR_ID_MAX];
	char		end_to_end_id[INSTR_ID_MAX];
	char		status[5];		/* ISO status code, e.g. ACSC */
	char		reason[5];		/* ISO reason code, "" if none */
	/* The bank's AcctSvcrRef as the status report holds it: the same
	 * size, so it is never cut on the way (34 bytes cut a Max35Text). */
	char		bank_reference[141];
	uint64_t	audit_index;
};
_Static_assert(sizeof(((struct hrss_notice *)0)->bank_reference) ==
    sizeof(((struct instr_tx_status *)0)->bank_reference),
    "a status notice carries the bank's whole reference");

/* The notice's canonical JSON (RFC 8785) into *out (the caller's, free),
 * *len bytes. Refuses bad ids, a status or reason that is not an ISO code
 * shape, and an audit index beyond 2^53-1. 0 or -1. */
int	hrss_status_notice(const struct hrss_notice *n, char **out,
	    size_t *len);

#endif
