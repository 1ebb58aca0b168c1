/* camt.054.001.08 reader: booked debits and credits on the fund's accounts,
 * amounts exact in fen, after validation against the official schema. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "adapters/camt054.h"
#include "adapters/iso20022.h"
#include "adapters/xml.h"
#include "util.h"

#define CAMT054_NS	ISO20022_CAMT054_NS
#define CAMT054_NTF	"/Document/BkToCstmrDbtCdtNtfctn/Ntfctn"

/* What one Ntry says before it is split per transaction. */
struct camt054_ntry {
	int64_t		amount_fen;
	int		credit;
	char		booking_date[INSTR_DATE_LEN];
};

/* The TxDtls of an entry, across all its NtryDtls, in order. */
static const xmlNode *
camt054_first_tx(const xmlNode *ntry)
{
	const xmlNode	*d, *tx;

	for (d = xml_child(ntry, CAMT054_NS, "NtryDtls"); d != NULL;
	    d = xml_next(d))
		if ((tx = xml_child(d, CAMT054_NS, "TxDtls")) != NULL)
			return tx;
	return NULL;
}

static const xmlNode *
camt054_next_tx(const xmlNode *tx)
{
	const xmlNode	*n, *d;

	if ((n = xml_next(tx)) != NULL)
		return n;
	for (d = xml_next(tx->parent); d != NULL; d = xml_next(d))
		if ((n = xml_child(d, CAMT054_NS, "TxDtls")) != NULL)
			return n;
	return NULL;
}

static size_t
camt054_ntxs(const xmlNode *ntry)
{
	const xmlNode	*tx;
	size_t		 n = 0;

	for (tx = camt054_first_tx(ntry); tx != NULL; tx = camt054_next_tx(tx))
		n++;
	return n;
}

static int
camt054_credit(const xmlNode *parent, int *credit, const char *field,
    struct adapter_error *err)
{
	char	ind[8];

	if (xml_child_text(parent, CAMT054_NS, "CdtDbtInd", 1, ind,
	    sizeof(ind), field, err) == -1)
		return -1;
	if (strcmp(ind, "CRDT") != 0 && strcmp(ind, "DBIT") != 0) {
		adapter_fail(err, 400, "schema-invalid", field,
		    "CdtDbtInd is CRDT or DBIT");
		return -1;
	}
	*credit = strcmp(ind, "CRDT") == 0;
	return 0;
}

/* The booked, non-reversed entry's amount, direction and booking date. */
static int
camt054_ntry(const xmlNode *ntry, const char *path, struct camt054_ntry *e,
    struct adapter_error *err)
{
	const xmlNode	*bk, *dt;
	char		 field[160], text[48];

	str_printf(field, sizeof(field), "%s/Amt", path);
	if (iso20022_amount(xml_child(ntry, CAMT054_NS, "Amt"), &e->amount_fen,
	    field, err) == -1)
		return -1;
	str_printf(field, sizeof(field), "%s/CdtDbtInd", path);
	if (camt054_credit(ntry, &e->credit, field, err) == -1)
		return -1;
	str_printf(field, sizeof(field), "%s/RvslInd", path);
	if (xml_child_text(ntry, CAMT054_NS, "RvslInd", 0, text, sizeof(text),
	    field, err) == -1)
		return -1;
	/* A reversal undoes an earlier entry; nothing here matches it. */
	if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0) {
		adapter_fail(err, 422, "reversal", field,
		    "reversal entries are not accepted");
		return -1;
	}
	/* Pending or information-only entries move no money yet. */
	str_printf(field, sizeof(field), "%s/Sts/Cd", path);
	if (xml_child_text(xml_child(ntry, CAMT054_NS, "Sts"), CAMT054_NS, "Cd",
	    0, text, sizeof(text), field, err) == -1)
		return -1;
	if (strcmp(text, "BOOK") != 0) {
		adapter_fail(err, 422, "not-booked", field,
		    "only booked entries (BOOK) are accepted");
		return -1;
	}
	str_printf(field, sizeof(field), "%s/BookgDt", path);
	bk = xml_child(ntry, CAMT054_NS, "BookgDt");
	text[0] = '\0';
	if ((dt = xml_child(bk, CAMT054_NS, "Dt")) != NULL ||
	    (dt = xml_child(bk, CAMT054_NS, "DtTm")) != NULL) {
		if (xml_text(dt, text, sizeof(text), field, err) == -1)
			return -1;
		/* Of a date-time, the date as the bank wrote it. */
		text[INSTR_DATE_LEN - 1] = '\0';
	}
	if (!instr_date_ok(text)) {
		adapter_fail(err, 422, "missing-booking-date", field,
		    "a booked entry has a booking date");
		return -1;
	}
	str_copy(e->booking_date, sizeof(e->booking_date), text);
	return 0;
}

/* End-to-end id and remittance information of one TxDtls. */
static int
camt054_refs(const xmlNode *tx, const char *path, struct instr_bank_entry *be,
    struct adapter_error *err)
{
	char	field[192];

	str_printf(field, sizeof(field), "%s/Refs/EndToEndId", path);
	if (xml_child_text(xml_child(tx, CAMT054_NS, "Refs"), CAMT054_NS,
	    "EndToEndId", 0, be->end_to_end_id, sizeof(be->end_to_end_id),
	    field, err) == -1)
		return -1;
	/* ISO's placeholder for "the payer gave none". */
	if (strcmp(be->end_to_end_id, "NOTPROVIDED") == 0)
		be->end_to_end_id[0] = '\0';
	if (be->end_to_end_id[0] != '\0' && !instr_id_ok(be->end_to_end_id)) {
		adapter_fail(err, 422, "bad-end-to-end-id", field,
		    "1-35 characters of [A-Za-z0-9._-]");
		return -1;
	}
	str_printf(field, sizeof(field), "%s/RmtInf/Ustrd", path);
	return xml_child_text(xml_child(tx, CAMT054_NS, "RmtInf"), CAMT054_NS,
	    "Ustrd", 0, be->reference, sizeof(be->reference), field, err);
}

static void
camt054_base(struct instr_bank_entry *be, const char *account,
    const struct camt054_ntry *e)
{
	str_copy(be->account, sizeof(be->account), account);
	be->credit = e->credit;
	be->amount_fen = e->amount_fen;
	str_copy(be->booking_date, sizeof(be->booking_date), e->booking_date);
}

/* Fills the entries of one Ntry at out: one per TxDtls, or one if none. */
static int
camt054_split(const xmlNode *ntry, const char *path, const char *account,
    struct instr_bank_entry *out, struct adapter_error *err)
{
	struct camt054_ntry	 e;
	const xmlNode		*tx, *amt;
	char			 tpath[160], field[192];
	size_t			 n, k;
	int64_t			 sum = 0, fen;
	int			 credit;

	if (camt054_ntry(ntry, path, &e, err) == -1)
		return -1;
	if ((n = camt054_ntxs(ntry)) == 0) {
		camt054_base(&out[0], account, &e);
		return 0;
	}
	tx = camt054_first_tx(ntry);
	for (k = 0; k < n; k++, tx = camt054_next_tx(tx)) {
		camt054_base(&out[k], account, &e);
		str_printf(tpath, sizeof(tpath), "%s/NtryDtls/TxDtls[%zu]",
		    path, k + 1);
		if (camt054_refs(tx, tpath, &out[k], err) == -1)
			return -1;
		str_printf(field, sizeof(field), "%s/CdtDbtInd", tpath);
		if (xml_child(tx, CAMT054_NS, "CdtDbtInd") != NULL) {
			if (camt054_credit(tx, &credit, field, err) == -1)
				return -1;
			if (credit != e.credit) {
				adapter_fail(err, 422, "direction-mismatch",
				    field, "a transaction goes the other way "
				    "than its entry");
				return -1;
			}
		}
		str_printf(field, sizeof(field), "%s/Amt", tpath);
		if ((amt = xml_child(tx, CAMT054_NS, "Amt")) == NULL) {
			if (n == 1)
				continue;	/* the entry's amount */
			adapter_fail(err, 422, "missing-amount", field,
			    "each transaction of a batch entry has an amount");
			return -1;
		}
		if (iso20022_amount(amt, &fen, field, err) == -1)
			return -1;
		if (n == 1 && fen != e.amount_fen) {
			adapter_fail(err, 422, "amount-mismatch", field,
			    "the transaction and its entry differ");
			return -1;
		}
		/* A running sum past the largest amount cannot equal the
		 * entry's; stopping there also keeps it from wrapping. */
		if (fen > INSTR_MAX_FEN - sum) {
			adapter_fail(err, 422, "amount-mismatch", path,
			    "the transactions do not add up to the entry");
			return -1;
		}
		out[k].amount_fen = fen;
		sum += fen;
	}
	if (n > 1 && sum != e.amount_fen) {
		adapter_fail(err, 422, "amount-mismatch", path,
		    "the transactions do not add up to the entry");
		return -1;
	}
	return 0;
}

/* The account a notification is about: Othr/Id in the China profile. */
static int
camt054_account(const xmlNode *ntf, const char *path, char *dst, size_t dsz,
    struct adapter_error *err)
{
	const xmlNode	*acct, *othr;
	char		 field[128], ccy[8];

	acct = xml_child(ntf, CAMT054_NS, "Acct");
	othr = xml_child(xml_child(acct, CAMT054_NS, "Id"), CAMT054_NS, "Othr");
	str_printf(field, sizeof(field), "%s/Acct/Id/Othr/Id", path);
	if (othr == NULL) {
		adapter_fail(err, 422, "bad-account", field,
		    "accounts are identified by Othr/Id, not IBAN");
		return -1;
	}
	if (xml_child_text(othr, CAMT054_NS, "Id", 1, dst, dsz, field,
	    err) == -1)
		return -1;
	if (!iso20022_account_ok(dst)) {
		adapter_fail(err, 422, "bad-account", field,
		    "not an account number");
		return -1;
	}
	str_printf(field, sizeof(field), "%s/Acct/Ccy", path);
	if (xml_child_text(acct, CAMT054_NS, "Ccy", 0, ccy, sizeof(ccy), field,
	    err) == -1)
		return -1;
	if (ccy[0] != '\0' && strcmp(ccy, "CNY") != 0) {
		adapter_fail(err, 422, "bad-currency", field,
		    "the currency is CNY");
		return -1;
	}
	return 0;
}

static int
camt054_entries(const xmlNode *msg, struct instr_bank_notification *b,
    struct adapter_error *err)
{
	const xmlNode	*ntf, *ntry;
	char		 account[INSTR_ACCOUNT_MAX], npath[96], path[128];
	size_t		 n = 0, k, f, e;

	for (ntf = xml_child(msg, CAMT054_NS, "Ntfctn"); ntf != NULL;
	    ntf = xml_next(ntf))
		for (ntry = xml_child(ntf, CAMT054_NS, "Ntry"); ntry != NULL;
		    ntry = xml_next(ntry)) {
			k = camt054_ntxs(ntry);
			n += k > 0 ? k : 1;
			if (n > INSTR_MAX_TX) {
				adapter_fail(err, 422, "too-many-entries",
				    CAMT054_NTF, "more than %d entries",
				    INSTR_MAX_TX);
				return -1;
			}
		}
	if (n == 0) {
		adapter_fail(err, 422, "no-entries", CAMT054_NTF,
		    "a notification without entries");
		return -1;
	}
	if ((b->entries = calloc(n, sizeof(*b->entries))) == NULL) {
		adapter_fail(err, 500, "internal", "", "out of memory");
		return -1;
	}
	b->nentries = n;
	k = 0;
	f = 0;
	for (ntf = xml_child(msg, CAMT054_NS, "Ntfctn"); ntf != NULL;
	    ntf = xml_next(ntf)) {
		str_printf(npath, sizeof(npath), CAMT054_NTF "[%zu]", ++f);
		if (camt054_account(ntf, npath, account, sizeof(account),
		    err) == -1)
			return -1;
		e = 0;
		for (ntry = xml_child(ntf, CAMT054_NS, "Ntry"); ntry != NULL;
		    ntry = xml_next(ntry)) {
			str_printf(path, sizeof(path), "%s/Ntry[%zu]", npath,
			    ++e);
			if (camt054_split(ntry, path, account, &b->entries[k],
			    err) == -1)
				return -1;
			n = camt054_ntxs(ntry);
			k += n > 0 ? n : 1;
		}
	}
	return 0;
}

int
camt054_parse(const void *buf, size_t len, const char *charset,
    struct instr *out, struct adapter_error *err)
{
	xmlDoc		*doc;
	const xmlNode	*msg;
	int		 rc = -1;

	memset(out, 0, sizeof(*out));
	if ((doc = iso20022_read(buf, len, charset, ISO20022_CAMT054,
	    err)) == NULL)
		return -1;
	out->kind = INSTR_BANK_NOTIFICATION;
	msg = xml_child(xmlDocGetRootElement(doc), CAMT054_NS,
	    "BkToCstmrDbtCdtNtfctn");
	if (xml_child_text(xml_child(msg, CAMT054_NS, "GrpHdr"), CAMT054_NS,
	    "MsgId", 1, out->id, sizeof(out->id),
	    "/Document/BkToCstmrDbtCdtNtfctn/GrpHdr/MsgId", err) == 0) {
		/* The id is the idempotency key of the notification. */
		if (!instr_id_ok(out->id))
			adapter_fail(err, 422, "bad-id",
			    "/Document/BkToCstmrDbtCdtNtfctn/GrpHdr/MsgId",
			    "1-35 characters of [A-Za-z0-9._-]");
		else
			rc = camt054_entries(msg, &out->u.bank_notification,
			    err);
	}
	xmlFreeDoc(doc);
	if (rc == -1)
		instr_free(out);
	return rc;
}
