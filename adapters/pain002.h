/* A bank's payment status report, ISO 20022 pain.002.001.10, read into an
 * INSTR_BANK_STATUS after validation against the official schema. */
#ifndef GW_PAIN002_H
#define GW_PAIN002_H

#include <stddef.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"

/* Parses buf (charset: the Content-Type parameter or NULL). out->id is the
 * report's GrpHdr/MsgId; original_msg_id and group_status come from
 * OrgnlGrpInfAndSts (whose OrgnlMsgNmId must be pain.001.001.09); one tx
 * per TxInfAndSts of every OrgnlPmtInfAndSts, with OrgnlEndToEndId and
 * TxSts required, the first StsRsnInf/Rsn/Cd and AcctSvcrRef. Statuses are
 * RCVD ACTC ACCP ACSP ACSC ACCC RJCT (and PART, PDNG for the group) (422
 * "bad-status"), reasons four characters of [A-Z0-9] (422 "bad-reason").
 * A report with neither a group status nor a transaction is refused (422
 * "no-status"). On success out->u.bank_status.tx is the caller's
 * (instr_free); on failure out is zeroed and err filled. 0 or -1. */
int	pain002_parse(const void *buf, size_t len, const char *charset,
	    struct instr *out, struct adapter_error *err);

#endif
