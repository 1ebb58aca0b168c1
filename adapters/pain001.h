/* The disbursement file to a bank: ISO 20022 pain.001.001.09, China profile
 * (DESIGN §2), written once in the bank's charset and checked against the
 * official schema before anyone signs it. */
#ifndef GW_PAIN001_H
#define GW_PAIN001_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"
#include "adapters/iso20022.h"

/* One credit transfer: the disbursement line it pays, resolved by the
 * keeper from the plan and the account registry (never from the request). */
struct pain001_line {
	char	end_to_end_id[INSTR_ID_MAX];
	int64_t	amount_fen;			/* the disbursement line's */
	char	creditor_name[INSTR_NAME_MAX];	/* the account holder */
	char	creditor_account[INSTR_ACCOUNT_MAX];
	char	creditor_bank[ISO20022_CNAPS_LEN];	/* CNAPS code */
	char	city[INSTR_CITY_LEN];
	char	plan_id[INSTR_ID_MAX];		/* the disbursement line's */
};

/* The file's header and the debtor (the province-special account). */
struct pain001_input {
	char			msg_id[INSTR_ID_MAX];
	char			created_at[INSTR_TIME_MAX];	/* RFC 3339 */
	char			debtor_name[INSTR_NAME_MAX];
	char			debtor_account[INSTR_ACCOUNT_MAX];
	char			debtor_bank[ISO20022_CNAPS_LEN];
	size_t			nlines;
	struct pain001_line	lines[INSTR_MAX_LINES];	/* in d's order */
};

/* Builds the pain.001 of disbursement d (INSTR_DISBURSEMENT; its id is the
 * PmtInfId) from in: one PmtInf, one CdtTrfTxInf per line, NbOfTxs and
 * CtrlSum computed; in's lines must match d's lines one for one (plan and
 * amount). Serializes in charset (UTF-8, GB18030 or GBK; NULL: UTF-8),
 * then parses those bytes back and validates them against the official
 * schema and recounts NbOfTxs and CtrlSum: any failure is a bug upstream
 * and returns -1 with err filled (500). On success *out (NUL-terminated,
 * *outlen bytes without the NUL; these exact bytes are what gets signed)
 * is the caller's to free(). */
int	pain001_write(const struct instr *d, const struct pain001_input *in,
	    const char *charset, char **out, size_t *outlen,
	    struct adapter_error *err);

#endif
