/* A bank's debit/credit notification, ISO 20022 camt.054.001.08, read into
 * an INSTR_BANK_NOTIFICATION after validation against the official schema. */
#ifndef GW_CAMT054_H
#define GW_CAMT054_H

#include <stddef.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"

/* Parses buf (charset: the Content-Type parameter or NULL). out->id is the
 * notification's GrpHdr/MsgId. Every Ntry of every Ntfctn gives an entry:
 * the account (Acct/Id/Othr/Id; 422 "bad-account" for an IBAN), the amount
 * exactly in fen (Ccy CNY), CRDT/DBIT, the booking date (BookgDt/Dt or the
 * date of BookgDt/DtTm), and from NtryDtls/TxDtls the Refs/EndToEndId
 * ("NOTPROVIDED" read as none) and the first RmtInf/Ustrd. A batch entry
 * with several TxDtls gives one entry per TxDtls, each with its own Amt,
 * which must add up to the entry's (422 "amount-mismatch"). Only booked
 * entries (Sts/Cd BOOK; 422 "not-booked") and no reversals (RvslInd; 422
 * "reversal") are accepted; at least one entry is required (422
 * "no-entries"), at most INSTR_MAX_TX. On success
 * out->u.bank_notification.entries is the caller's (instr_free); on failure
 * out is zeroed and err filled. 0 or -1. */
int	camt054_parse(const void *buf, size_t len, const char *charset,
	    struct instr *out, struct adapter_error *err);

#endif
