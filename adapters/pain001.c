/* pain.001.001.09 writer, China profile: CNAPS agents, BBAN accounts, CNY,
 * purpose SSBE, CtrlSum/Cdtr/CdtrAcct/CdtrAgt always; checked after writing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "adapters/pain001.h"
#include "adapters/xml.h"
#include "util.h"

#define PAIN001_PURPOSE		"SSBE"	/* social security benefit */
#define PAIN001_MAX_TEXT	140	/* Max140Text, in characters */

/* Builds a tree; the first allocation failure clears ok and every later
 * call becomes a no-op, so the builder reads top to bottom. */
struct pain001_tree {
	int	ok;
};

static xmlNode *
pain001_el(struct pain001_tree *t, xmlNode *parent, const char *name,
    const char *text)
{
	xmlNode	*n;

	if (!t->ok || parent == NULL) {
		t->ok = 0;
		return NULL;
	}
	if ((n = xml_add(parent, name, text)) == NULL)
		t->ok = 0;
	return n;
}

/* Amount in yuan with Ccy="CNY". */
static void
pain001_amount(struct pain001_tree *t, xmlNode *parent, const char *name,
    int64_t fen)
{
	char	 yuan[32];
	xmlNode	*n;

	if (instr_fen_to_yuan(fen, yuan, sizeof(yuan)) == -1) {
		t->ok = 0;
		return;
	}
	if ((n = pain001_el(t, parent, name, yuan)) != NULL &&
	    xmlNewProp(n, (const xmlChar *)"Ccy", (const xmlChar *)"CNY") ==
	    NULL)
		t->ok = 0;
}

/* A bank identified by its CNAPS code (no BIC in the China profile). */
static void
pain001_agent(struct pain001_tree *t, xmlNode *parent, const char *name,
    const char *cnaps)
{
	xmlNode	*fin, *mmb;

	fin = pain001_el(t, pain001_el(t, parent, name, NULL), "FinInstnId",
	    NULL);
	mmb = pain001_el(t, fin, "ClrSysMmbId", NULL);
	pain001_el(t, pain001_el(t, mmb, "ClrSysId", NULL), "Cd", "CNAPS");
	pain001_el(t, mmb, "MmbId", cnaps);
}

/* An account as Othr/Id with SchmeNm/Cd BBAN (no IBAN in China). */
static void
pain001_account(struct pain001_tree *t, xmlNode *parent, const char *name,
    const char *account)
{
	xmlNode	*acct, *othr;

	acct = pain001_el(t, parent, name, NULL);
	othr = pain001_el(t, pain001_el(t, acct, "Id", NULL), "Othr", NULL);
	pain001_el(t, othr, "Id", account);
	pain001_el(t, pain001_el(t, othr, "SchmeNm", NULL), "Cd", "BBAN");
	pain001_el(t, acct, "Ccy", "CNY");
}

static void
pain001_party(struct pain001_tree *t, xmlNode *parent, const char *name,
    const char *party)
{
	pain001_el(t, pain001_el(t, parent, name, NULL), "Nm", party);
}

/* Characters of a UTF-8 string (the schema's lengths count characters). */
static size_t
pain001_chars(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int
pain001_name_ok(const char *s)
{
	size_t	n = pain001_chars(s);

	return n >= 1 && n <= PAIN001_MAX_TEXT;
}

static int
pain001_check_line(const struct instr_disbursement_line *dl,
    const struct pain001_line *l, size_t k, struct adapter_error *err)
{
	if (!instr_id_ok(l->end_to_end_id))
		adapter_fail(err, 500, "pain001-input", "end_to_end_id",
		    "line %zu: bad end-to-end id", k);
	else if (l->amount_fen <= 0 || l->amount_fen > INSTR_MAX_FEN)
		adapter_fail(err, 500, "pain001-input", "amount_fen",
		    "line %zu: amount out of range", k);
	else if (l->amount_fen != dl->amount_fen ||
	    strcmp(l->plan_id, dl->plan_id) != 0)
		adapter_fail(err, 500, "pain001-input", "lines",
		    "line %zu does not match the disbursement", k);
	else if (!pain001_name_ok(l->creditor_name))
		adapter_fail(err, 500, "pain001-input", "creditor_name",
		    "line %zu: creditor name of 1-140 characters", k);
	else if (!iso20022_account_ok(l->creditor_account))
		adapter_fail(err, 500, "pain001-input", "creditor_account",
		    "line %zu: bad creditor account", k);
	else if (!iso20022_cnaps_ok(l->creditor_bank))
		adapter_fail(err, 500, "pain001-input", "creditor_bank",
		    "line %zu: creditor bank is not a CNAPS code", k);
	else if (!instr_city_ok(l->city))
		adapter_fail(err, 500, "pain001-input", "city",
		    "line %zu: unknown city", k);
	else
		return 0;
	return -1;
}

/* Everything the file will say, checked before a byte is written; *sum is
 * the control sum in fen. */
static int
pain001_check(const struct instr *d, const struct pain001_input *in,
    int64_t *sum, struct adapter_error *err)
{
	const struct instr_disbursement	*db = &d->u.disbursement;
	size_t				 i, j;

	*sum = 0;
	if (d->kind != INSTR_DISBURSEMENT || !instr_id_ok(d->id) ||
	    !instr_date_ok(db->requested_execution_date)) {
		adapter_fail(err, 500, "pain001-input", "",
		    "not a valid disbursement");
		return -1;
	}
	if (!instr_id_ok(in->msg_id) || !instr_time_ok(in->created_at) ||
	    !pain001_name_ok(in->debtor_name) ||
	    !iso20022_account_ok(in->debtor_account) ||
	    !iso20022_cnaps_ok(in->debtor_bank)) {
		adapter_fail(err, 500, "pain001-input", "",
		    "bad header or debtor");
		return -1;
	}
	if (in->nlines == 0 || in->nlines > INSTR_MAX_LINES ||
	    in->nlines != db->nlines) {
		adapter_fail(err, 500, "pain001-input", "lines",
		    "%zu lines for a disbursement of %zu", in->nlines,
		    db->nlines);
		return -1;
	}
	for (i = 0; i < in->nlines; i++) {
		if (pain001_check_line(&db->lines[i], &in->lines[i], i + 1,
		    err) == -1)
			return -1;
		/* The bank answers per end-to-end id: they must be unique. */
		for (j = 0; j < i; j++)
			if (strcmp(in->lines[i].end_to_end_id,
			    in->lines[j].end_to_end_id) == 0) {
				adapter_fail(err, 500, "pain001-input",
				    "end_to_end_id",
				    "line %zu repeats an end-to-end id", i + 1);
				return -1;
			}
		if (in->lines[i].amount_fen > INSTR_MAX_FEN - *sum) {
			adapter_fail(err, 500, "pain001-input", "amount_fen",
			    "control sum out of range");
			return -1;
		}
		*sum += in->lines[i].amount_fen;
	}
	return 0;
}

static void
pain001_tx(struct pain001_tree *t, xmlNode *pmt, const struct pain001_line *l)
{
	xmlNode	*tx;
	char	 ustrd[PAIN001_MAX_TEXT + 1];

	tx = pain001_el(t, pmt, "CdtTrfTxInf", NULL);
	pain001_el(t, pain001_el(t, tx, "PmtId", NULL), "EndToEndId",
	    l->end_to_end_id);
	pain001_amount(t, pain001_el(t, tx, "Amt", NULL), "InstdAmt",
	    l->amount_fen);
	pain001_agent(t, tx, "CdtrAgt", l->creditor_bank);
	pain001_party(t, tx, "Cdtr", l->creditor_name);
	pain001_account(t, tx, "CdtrAcct", l->creditor_account);
	pain001_el(t, pain001_el(t, tx, "Purp", NULL), "Cd", PAIN001_PURPOSE);
	/* Tells the city agency which plan the money is for. */
	if (str_printf(ustrd, sizeof(ustrd), "plan %s city %s", l->plan_id,
	    l->city) == -1)
		t->ok = 0;
	pain001_el(t, pain001_el(t, tx, "RmtInf", NULL), "Ustrd", ustrd);
}

static xmlDoc *
pain001_build(const struct instr *d, const struct pain001_input *in,
    int64_t sum)
{
	struct pain001_tree	 t = { 1 };
	xmlDoc			*doc;
	xmlNode			*root, *init, *hdr, *pmt;
	char			 n[24], yuan[32];
	size_t			 i;

	if ((doc = xml_new_doc(ISO20022_PAIN001_NS, "Document", &root)) == NULL)
		return NULL;
	if (str_printf(n, sizeof(n), "%zu", in->nlines) == -1 ||
	    instr_fen_to_yuan(sum, yuan, sizeof(yuan)) == -1)
		t.ok = 0;
	init = pain001_el(&t, root, "CstmrCdtTrfInitn", NULL);
	hdr = pain001_el(&t, init, "GrpHdr", NULL);
	pain001_el(&t, hdr, "MsgId", in->msg_id);
	pain001_el(&t, hdr, "CreDtTm", in->created_at);
	pain001_el(&t, hdr, "NbOfTxs", n);
	pain001_el(&t, hdr, "CtrlSum", yuan);
	pain001_party(&t, hdr, "InitgPty", in->debtor_name);

	pmt = pain001_el(&t, init, "PmtInf", NULL);
	pain001_el(&t, pmt, "PmtInfId", d->id);
	pain001_el(&t, pmt, "PmtMtd", "TRF");
	pain001_el(&t, pmt, "NbOfTxs", n);
	pain001_el(&t, pmt, "CtrlSum", yuan);
	pain001_el(&t, pain001_el(&t, pain001_el(&t, pmt, "PmtTpInf", NULL),
	    "CtgyPurp", NULL), "Cd", PAIN001_PURPOSE);
	pain001_el(&t, pain001_el(&t, pmt, "ReqdExctnDt", NULL), "Dt",
	    d->u.disbursement.requested_execution_date);
	pain001_party(&t, pmt, "Dbtr", in->debtor_name);
	pain001_account(&t, pmt, "DbtrAcct", in->debtor_account);
	pain001_agent(&t, pmt, "DbtrAgt", in->debtor_bank);
	for (i = 0; i < in->nlines; i++)
		pain001_tx(&t, pmt, &in->lines[i]);
	if (!t.ok) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

/* NbOfTxs and CtrlSum of a group header or payment information block
 * against what the file holds. */
static int
pain001_totals_ok(const xmlNode *blk, size_t ntx, int64_t sum)
{
	char		nb[24], cs[48];
	uint64_t	v;
	int64_t		fen;

	if (xml_child_text(blk, ISO20022_PAIN001_NS, "NbOfTxs", 1, nb,
	    sizeof(nb), "NbOfTxs", NULL) == -1 ||
	    xml_child_text(blk, ISO20022_PAIN001_NS, "CtrlSum", 1, cs,
	    sizeof(cs), "CtrlSum", NULL) == -1)
		return 0;
	return parse_u64(nb, 0, UINT64_MAX, &v) == 0 && v == ntx &&
	    iso20022_decimal_to_fen(cs, &fen) == 0 && fen == sum;
}

/* Reads back the bytes about to be signed: well-formed in their declared
 * charset, valid against the official schema, totals that add up. */
static int
pain001_verify(const char *buf, size_t len, const char *charset,
    size_t nlines, int64_t sum, struct adapter_error *err)
{
	struct adapter_error	 e = { 0 };
	const char		*ns = ISO20022_PAIN001_NS;
	xmlDoc			*doc;
	xmlNode			*init, *pmt, *tx, *amt;
	size_t			 ntx = 0;
	int64_t			 fen = 0, total = 0;
	int			 ok;

	if ((doc = iso20022_read(buf, len, charset, ISO20022_PAIN001,
	    &e)) == NULL) {
		adapter_fail(err, 500, "pain001-invalid", e.field, "%s: %s",
		    e.code, e.detail);
		return -1;
	}
	init = xml_child(xmlDocGetRootElement(doc), ns, "CstmrCdtTrfInitn");
	pmt = xml_child(init, ns, "PmtInf");
	ok = pmt != NULL && xml_next(pmt) == NULL;
	for (tx = xml_child(pmt, ns, "CdtTrfTxInf"); ok && tx != NULL;
	    tx = xml_next(tx)) {
		amt = xml_child(xml_child(tx, ns, "Amt"), ns, "InstdAmt");
		ok = iso20022_amount(amt, &fen, "InstdAmt", &e) == 0 &&
		    xml_child(tx, ns, "Cdtr") != NULL &&
		    xml_child(tx, ns, "CdtrAcct") != NULL &&
		    xml_child(tx, ns, "CdtrAgt") != NULL;
		total += ok ? fen : 0;
		ntx++;
	}
	ok = ok && ntx == nlines && total == sum &&
	    pain001_totals_ok(xml_child(init, ns, "GrpHdr"), ntx, total) &&
	    pain001_totals_ok(pmt, ntx, total);
	xmlFreeDoc(doc);
	if (!ok) {
		adapter_fail(err, 500, "pain001-invalid", "",
		    "written file does not add up");
		return -1;
	}
	return 0;
}

int
pain001_write(const struct instr *d, const struct pain001_input *in,
    const char *charset, char **out, size_t *outlen,
    struct adapter_error *err)
{
	const char	*cs;
	xmlDoc		*doc;
	char		*buf;
	size_t		 len;
	int64_t		 sum;

	*out = NULL;
	*outlen = 0;
	if ((cs = xml_charset_name(charset != NULL ? charset : "UTF-8")) ==
	    NULL) {
		adapter_fail(err, 500, "bad-encoding", "",
		    "no such bank charset");
		return -1;
	}
	if (iso20022_schema(ISO20022_PAIN001, err) == NULL ||
	    pain001_check(d, in, &sum, err) == -1)
		return -1;
	if ((doc = pain001_build(d, in, sum)) == NULL) {
		adapter_fail(err, 500, "pain001-invalid", "",
		    "cannot build the file (text not valid for XML?)");
		return -1;
	}
	if (xml_serialize(doc, cs, &buf, &len, err) == -1) {
		xmlFreeDoc(doc);
		return -1;
	}
	xmlFreeDoc(doc);
	if (pain001_verify(buf, len, cs, in->nlines, sum, err) == -1) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = len;
	return 0;
}
