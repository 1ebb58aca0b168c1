/* pain.002.001.10 reader: the bank's status of each transaction of a
 * disbursement file, after validation against the official schema. */
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "adapters/iso20022.h"
#include "adapters/pain002.h"
#include "adapters/xml.h"
#include "util.h"

#define PAIN002_NS	ISO20022_PAIN002_NS
#define PAIN002_RPT	"/Document/CstmrPmtStsRpt"

/* DESIGN §2's statuses; a group may also be partly accepted or pending. */
static const char *const	pain002_tx_status[] = {
	"RCVD", "ACTC", "ACCP", "ACSP", "ACSC", "ACCC", "RJCT",
};
static const char *const	pain002_group_only[] = { "PART", "PDNG" };

static int
pain002_status_ok(const char *s, int group)
{
	size_t	i;

	for (i = 0; i < nitems(pain002_tx_status); i++)
		if (strcmp(s, pain002_tx_status[i]) == 0)
			return 1;
	for (i = 0; group && i < nitems(pain002_group_only); i++)
		if (strcmp(s, pain002_group_only[i]) == 0)
			return 1;
	return 0;
}

/* ISO external reason codes are four upper-case letters or digits. */
static int
pain002_reason_ok(const char *s)
{
	size_t	i;

	for (i = 0; i < 4; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return s[4] == '\0';
}

/* The first StsRsnInf/Rsn of parent, as its ISO code ("" if none). */
static int
pain002_reason(const xmlNode *parent, char *dst, size_t dsz, const char *path,
    struct adapter_error *err)
{
	const xmlNode	*inf, *rsn = NULL;
	char		 field[128];

	dst[0] = '\0';
	for (inf = xml_child(parent, PAIN002_NS, "StsRsnInf"); inf != NULL;
	    inf = xml_next(inf))
		if ((rsn = xml_child(inf, PAIN002_NS, "Rsn")) != NULL)
			break;
	if (rsn == NULL)
		return 0;
	str_printf(field, sizeof(field), "%s/StsRsnInf/Rsn/Cd", path);
	if (xml_child(rsn, PAIN002_NS, "Cd") == NULL) {
		adapter_fail(err, 422, "bad-reason", field,
		    "the reason must be an ISO code (Cd), not proprietary");
		return -1;
	}
	if (xml_child_text(rsn, PAIN002_NS, "Cd", 1, dst, dsz, field,
	    err) == -1)
		return -1;
	if (!pain002_reason_ok(dst)) {
		adapter_fail(err, 422, "bad-reason", field,
		    "not an ISO reason code");
		return -1;
	}
	return 0;
}

static int
pain002_tx(const xmlNode *txn, const char *path, struct instr_tx_status *tx,
    struct adapter_error *err)
{
	char	field[128];

	str_printf(field, sizeof(field), "%s/OrgnlEndToEndId", path);
	if (xml_child(txn, PAIN002_NS, "OrgnlEndToEndId") == NULL) {
		adapter_fail(err, 422, "missing-field", field,
		    "every transaction status names its end-to-end id");
		return -1;
	}
	if (xml_child_text(txn, PAIN002_NS, "OrgnlEndToEndId", 1,
	    tx->end_to_end_id, sizeof(tx->end_to_end_id), field, err) == -1)
		return -1;
	if (!instr_id_ok(tx->end_to_end_id)) {
		adapter_fail(err, 422, "bad-end-to-end-id", field,
		    "not an end-to-end id the gateway issued");
		return -1;
	}
	str_printf(field, sizeof(field), "%s/TxSts", path);
	if (xml_child(txn, PAIN002_NS, "TxSts") == NULL) {
		adapter_fail(err, 422, "missing-field", field,
		    "every transaction status has a TxSts");
		return -1;
	}
	if (xml_child_text(txn, PAIN002_NS, "TxSts", 1, tx->status,
	    sizeof(tx->status), field, err) == -1)
		return -1;
	if (!pain002_status_ok(tx->status, 0)) {
		adapter_fail(err, 422, "bad-status", field,
		    "unknown transaction status");
		return -1;
	}
	if (pain002_reason(txn, tx->reason, sizeof(tx->reason), path,
	    err) == -1)
		return -1;
	str_printf(field, sizeof(field), "%s/AcctSvcrRef", path);
	return xml_child_text(txn, PAIN002_NS, "AcctSvcrRef", 0,
	    tx->bank_reference, sizeof(tx->bank_reference), field, err);
}

static int
pain002_txs(const xmlNode *rpt, struct instr_bank_status *b,
    struct adapter_error *err)
{
	const xmlNode	*pmt, *txn;
	char		 path[128];
	size_t		 n = 0, i, j, p;

	for (pmt = xml_child(rpt, PAIN002_NS, "OrgnlPmtInfAndSts");
	    pmt != NULL; pmt = xml_next(pmt))
		for (txn = xml_child(pmt, PAIN002_NS, "TxInfAndSts");
		    txn != NULL; txn = xml_next(txn))
			if (++n > INSTR_MAX_TX) {
				adapter_fail(err, 422, "too-many-transactions",
				    PAIN002_RPT, "more than %d transactions",
				    INSTR_MAX_TX);
				return -1;
			}
	if (n == 0)
		return 0;
	if ((b->tx = calloc(n, sizeof(*b->tx))) == NULL) {
		adapter_fail(err, 500, "internal", "", "out of memory");
		return -1;
	}
	b->ntx = n;
	i = 0;
	p = 0;
	for (pmt = xml_child(rpt, PAIN002_NS, "OrgnlPmtInfAndSts");
	    pmt != NULL; pmt = xml_next(pmt)) {
		p++;
		j = 0;
		for (txn = xml_child(pmt, PAIN002_NS, "TxInfAndSts");
		    txn != NULL; txn = xml_next(txn)) {
			str_printf(path, sizeof(path), PAIN002_RPT
			    "/OrgnlPmtInfAndSts[%zu]/TxInfAndSts[%zu]", p, ++j);
			if (pain002_tx(txn, path, &b->tx[i], err) == -1)
				return -1;
			i++;
		}
	}
	/* Two statuses for one transaction in one report: which is it? */
	for (i = 1; i < n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(b->tx[i].end_to_end_id,
			    b->tx[j].end_to_end_id) == 0) {
				adapter_fail(err, 422,
				    "duplicate-end-to-end-id", PAIN002_RPT,
				    "%s has two statuses",
				    b->tx[i].end_to_end_id);
				return -1;
			}
	return 0;
}

static int
pain002_read(const xmlNode *root, struct instr *out, struct adapter_error *err)
{
	struct instr_bank_status	*b = &out->u.bank_status;
	const xmlNode			*rpt, *grp;
	char				 name[40];

	out->kind = INSTR_BANK_STATUS;
	rpt = xml_child(root, PAIN002_NS, "CstmrPmtStsRpt");
	grp = xml_child(rpt, PAIN002_NS, "OrgnlGrpInfAndSts");
	if (xml_child_text(xml_child(rpt, PAIN002_NS, "GrpHdr"), PAIN002_NS,
	    "MsgId", 1, out->id, sizeof(out->id), PAIN002_RPT "/GrpHdr/MsgId",
	    err) == -1 ||
	    xml_child_text(grp, PAIN002_NS, "OrgnlMsgId", 1, b->original_msg_id,
	    sizeof(b->original_msg_id),
	    PAIN002_RPT "/OrgnlGrpInfAndSts/OrgnlMsgId", err) == -1 ||
	    xml_child_text(grp, PAIN002_NS, "OrgnlMsgNmId", 1, name,
	    sizeof(name), PAIN002_RPT "/OrgnlGrpInfAndSts/OrgnlMsgNmId",
	    err) == -1 ||
	    xml_child_text(grp, PAIN002_NS, "GrpSts", 0, b->group_status,
	    sizeof(b->group_status), PAIN002_RPT "/OrgnlGrpInfAndSts/GrpSts",
	    err) == -1)
		return -1;
	/* The id is the idempotency key of the report. */
	if (!instr_id_ok(out->id)) {
		adapter_fail(err, 422, "bad-id", PAIN002_RPT "/GrpHdr/MsgId",
		    "1-35 characters of [A-Za-z0-9._-]");
		return -1;
	}
	if (!instr_id_ok(b->original_msg_id)) {
		adapter_fail(err, 422, "bad-id",
		    PAIN002_RPT "/OrgnlGrpInfAndSts/OrgnlMsgId",
		    "not a message id the gateway issued");
		return -1;
	}
	if (strcmp(name, "pain.001.001.09") != 0) {
		adapter_fail(err, 422, "wrong-original",
		    PAIN002_RPT "/OrgnlGrpInfAndSts/OrgnlMsgNmId",
		    "the gateway sends pain.001.001.09 only");
		return -1;
	}
	if (b->group_status[0] != '\0' && !pain002_status_ok(b->group_status,
	    1)) {
		adapter_fail(err, 422, "bad-status",
		    PAIN002_RPT "/OrgnlGrpInfAndSts/GrpSts",
		    "unknown group status");
		return -1;
	}
	/* A whole-file refusal (RJCT FF01, say) carries its reason here. */
	if (pain002_reason(grp, b->group_reason, sizeof(b->group_reason),
	    PAIN002_RPT "/OrgnlGrpInfAndSts", err) == -1)
		return -1;
	if (pain002_txs(rpt, b, err) == -1)
		return -1;
	if (b->group_status[0] == '\0' && b->ntx == 0) {
		adapter_fail(err, 422, "no-status", PAIN002_RPT,
		    "neither a group status nor a transaction status");
		return -1;
	}
	return 0;
}

int
pain002_parse(const void *buf, size_t len, const char *charset,
    struct instr *out, struct adapter_error *err)
{
	xmlDoc	*doc;
	int	 rc;

	memset(out, 0, sizeof(*out));
	if ((doc = iso20022_read(buf, len, charset, ISO20022_PAIN002,
	    err)) == NULL)
		return -1;
	rc = pain002_read(xmlDocGetRootElement(doc), out, err);
	xmlFreeDoc(doc);
	if (rc == -1)
		instr_free(out);
	return rc;
}
