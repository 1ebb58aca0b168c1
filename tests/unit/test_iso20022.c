/* Unit tests for the ISO 20022 adapters: pain.001 in three charsets checked
 * by xmllint, pain.002 and camt.054 samples read field by field, refusals. */
#include <iconv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/tree.h>

#include "adapters/camt054.h"
#include "adapters/instr.h"
#include "adapters/iso20022.h"
#include "adapters/pain001.h"
#include "adapters/pain002.h"
#include "adapters/xml.h"
#include "util.h"

#define P1	ISO20022_PAIN001_NS

/* ---- helpers ---- */

struct sbuf {
	char	*p;
	size_t	 n, cap;
};

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list	ap;
	int	k;

	if (b->p == NULL) {
		b->cap = 4096;
		assert_non_null(b->p = malloc(b->cap));
	}
	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		assert_true(k >= 0);
		if ((size_t)k < b->cap - b->n)
			break;
		b->cap = (b->cap + (size_t)k) * 2;
		assert_non_null(b->p = realloc(b->p, b->cap));
	}
	b->n += (size_t)k;
}

static char *
conv(const char *utf8, size_t il, const char *cs, size_t *outlen)
{
	iconv_t	 cd = iconv_open(cs, "UTF-8");
	size_t	 ol = il * 4 + 1;
	char	*buf = malloc(ol), *ip = (char *)(uintptr_t)utf8, *op = buf;

	assert_true(cd != (iconv_t)-1);
	assert_non_null(buf);
	assert_true(iconv(cd, &ip, &il, &op, &ol) != (size_t)-1);
	iconv_close(cd);
	*outlen = (size_t)(op - buf);
	return buf;
}

/* Runs xmllint on bytes against an official schema: 1 valid, 0 not. */
static int
xmllint_valid(const char *buf, size_t len, const char *xsd)
{
	char	 path[] = "/tmp/test_iso20022.XXXXXX", cmd[1024];
	int	 fd, rc;

	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	assert_int_equal(str_printf(cmd, sizeof(cmd),
	    "xmllint --noout --nonet --schema '%s/iso20022/%s' '%s' "
	    ">/dev/null 2>&1", xml_schema_dir(), xsd, path), 0);
	rc = system(cmd);
	unlink(path);
	assert_true(rc != -1 && WIFEXITED(rc));
	return WEXITSTATUS(rc) == 0;
}

/* The text at a path of element names under node (NULL-terminated). */
static const char *
at(const xmlNode *node, const char *ns, char *buf, size_t bsz, ...)
{
	va_list		 ap;
	const char	*name;

	va_start(ap, bsz);
	while ((name = va_arg(ap, const char *)) != NULL)
		node = xml_child(node, ns, name);
	va_end(ap);
	assert_non_null(node);
	assert_int_equal(xml_text(node, buf, bsz, "", NULL), 0);
	return buf;
}

/* ---- pain.001 ---- */

struct disb {
	struct instr		d;
	struct pain001_input	in;
};

static void
line(struct disb *x, const char *e2e, int64_t fen, const char *name,
    const char *acct, const char *bank, const char *city, const char *plan)
{
	struct instr_disbursement	*db = &x->d.u.disbursement;
	struct pain001_line		*l = &x->in.lines[x->in.nlines++];

	str_copy(db->lines[db->nlines].plan_id,
	    sizeof(db->lines[db->nlines].plan_id), plan);
	db->lines[db->nlines++].amount_fen = fen;
	str_copy(l->end_to_end_id, sizeof(l->end_to_end_id), e2e);
	l->amount_fen = fen;
	str_copy(l->creditor_name, sizeof(l->creditor_name), name);
	str_copy(l->creditor_account, sizeof(l->creditor_account), acct);
	str_copy(l->creditor_bank, sizeof(l->creditor_bank), bank);
	str_copy(l->city, sizeof(l->city), city);
	str_copy(l->plan_id, sizeof(l->plan_id), plan);
}

static struct disb *
disb(void)
{
	struct disb	*x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->d.kind = INSTR_DISBURSEMENT;
	str_copy(x->d.id, sizeof(x->d.id), "DISB-2024-06-0001");
	str_copy(x->d.u.disbursement.requested_execution_date,
	    sizeof(x->d.u.disbursement.requested_execution_date), "2024-06-12");
	str_copy(x->in.msg_id, sizeof(x->in.msg_id), "MSG-DISB-0001");
	str_copy(x->in.created_at, sizeof(x->in.created_at),
	    "2024-06-11T09:00:00+08:00");
	str_copy(x->in.debtor_name, sizeof(x->in.debtor_name),
	    "甘肃省财政厅社会保险基金财政专户");
	str_copy(x->in.debtor_account, sizeof(x->in.debtor_account),
	    "27010101040012345");
	str_copy(x->in.debtor_bank, sizeof(x->in.debtor_bank), "103821000015");
	line(x, "E2E-0001", 123456789, "兰州市社会保险事业管理局", 
	    "62050161080100000123", "105821000018", "620100",
	    "PLAN-620100-2024-06");
	line(x, "E2E-0002", 50000000, "嘉峪关市社会保险事业管理局",
	    "2708020109024567890", "102822000012", "620200",
	    "PLAN-620200-2024-06");
	line(x, "E2E-0003", 7, "甘南藏族自治州社会保险事业管理局",
	    "62001234567890123456", "103829000017", "623000",
	    "PLAN-623000-2024-06");
	return x;
}

static const struct xml_limits	plim = { 1 << 20, 40, 10000 };

static void
check_pain001(const char *out, size_t len, const char *cs)
{
	struct adapter_error	 e = { 0 };
	xmlDoc			*doc;
	xmlNode			*init, *pmt, *tx, *amt;
	char			 b[256];
	xmlChar			*ccy;

	assert_non_null(doc = xml_parse(out, len, cs, &plim, &e));
	init = xml_child(xmlDocGetRootElement(doc), P1, "CstmrCdtTrfInitn");
	assert_string_equal(at(init, P1, b, sizeof(b), "GrpHdr", "MsgId",
	    NULL), "MSG-DISB-0001");
	assert_string_equal(at(init, P1, b, sizeof(b), "GrpHdr", "NbOfTxs",
	    NULL), "3");
	assert_string_equal(at(init, P1, b, sizeof(b), "GrpHdr", "CtrlSum",
	    NULL), "1734567.96");
	assert_string_equal(at(init, P1, b, sizeof(b), "GrpHdr", "InitgPty",
	    "Nm", NULL), "甘肃省财政厅社会保险基金财政专户");
	pmt = xml_child(init, P1, "PmtInf");
	assert_null(xml_next(pmt));
	assert_string_equal(at(pmt, P1, b, sizeof(b), "PmtInfId", NULL),
	    "DISB-2024-06-0001");
	assert_string_equal(at(pmt, P1, b, sizeof(b), "PmtMtd", NULL), "TRF");
	assert_string_equal(at(pmt, P1, b, sizeof(b), "NbOfTxs", NULL), "3");
	assert_string_equal(at(pmt, P1, b, sizeof(b), "CtrlSum", NULL),
	    "1734567.96");
	assert_string_equal(at(pmt, P1, b, sizeof(b), "ReqdExctnDt", "Dt",
	    NULL), "2024-06-12");
	assert_string_equal(at(pmt, P1, b, sizeof(b), "DbtrAcct", "Id", "Othr",
	    "Id", NULL), "27010101040012345");
	assert_string_equal(at(pmt, P1, b, sizeof(b), "DbtrAcct", "Id", "Othr",
	    "SchmeNm", "Cd", NULL), "BBAN");
	assert_string_equal(at(pmt, P1, b, sizeof(b), "DbtrAgt", "FinInstnId",
	    "ClrSysMmbId", "ClrSysId", "Cd", NULL), "CNAPS");
	assert_string_equal(at(pmt, P1, b, sizeof(b), "DbtrAgt", "FinInstnId",
	    "ClrSysMmbId", "MmbId", NULL), "103821000015");
	tx = xml_child(pmt, P1, "CdtTrfTxInf");
	assert_string_equal(at(tx, P1, b, sizeof(b), "PmtId", "EndToEndId",
	    NULL), "E2E-0001");
	amt = xml_child(xml_child(tx, P1, "Amt"), P1, "InstdAmt");
	assert_int_equal(xml_text(amt, b, sizeof(b), "", NULL), 0);
	assert_string_equal(b, "1234567.89");
	ccy = xmlGetNoNsProp(amt, (const xmlChar *)"Ccy");
	assert_string_equal((const char *)ccy, "CNY");
	xmlFree(ccy);
	assert_string_equal(at(tx, P1, b, sizeof(b), "CdtrAgt", "FinInstnId",
	    "ClrSysMmbId", "MmbId", NULL), "105821000018");
	assert_string_equal(at(tx, P1, b, sizeof(b), "Cdtr", "Nm", NULL),
	    "兰州市社会保险事业管理局");
	assert_string_equal(at(tx, P1, b, sizeof(b), "CdtrAcct", "Id", "Othr",
	    "Id", NULL), "62050161080100000123");
	assert_string_equal(at(tx, P1, b, sizeof(b), "Purp", "Cd", NULL),
	    "SSBE");
	assert_string_equal(at(tx, P1, b, sizeof(b), "RmtInf", "Ustrd", NULL),
	    "plan PLAN-620100-2024-06 city 620100");
	tx = xml_next(xml_next(tx));
	assert_string_equal(at(tx, P1, b, sizeof(b), "Amt", "InstdAmt", NULL),
	    "0.07");
	assert_string_equal(at(tx, P1, b, sizeof(b), "Cdtr", "Nm", NULL),
	    "甘南藏族自治州社会保险事业管理局");
	assert_null(xml_next(tx));
	xmlFreeDoc(doc);
}

static void
test_pain001_charsets_xmllint(void **state)
{
	static const char *const	cs[] = { "UTF-8", "GB18030", "GBK" };
	struct disb			*x = disb();
	struct adapter_error		 e = { 0 };
	char				*out, *name, decl[64];
	size_t				 len, nlen, i;

	for (i = 0; i < nitems(cs); i++) {
		assert_int_equal(pain001_write(&x->d, &x->in, cs[i], &out, &len,
		    &e), 0);
		assert_int_equal(strlen(out), len);
		str_printf(decl, sizeof(decl),
		    "<?xml version=\"1.0\" encoding=\"%s\"?>", cs[i]);
		assert_memory_equal(out, decl, strlen(decl));
		/* The names are in the bank's own charset. */
		name = conv("甘南藏族自治州", strlen("甘南藏族自治州"), cs[i],
		    &nlen);
		assert_non_null(memmem(out, len, name, nlen));
		free(name);
		/* An independent validator agrees with the built-in check. */
		assert_true(xmllint_valid(out, len, "pain.001.001.09.xsd"));
		check_pain001(out, len, cs[i]);
		free(out);
	}
	free(x);
}

static void
test_pain001_xmllint_catches_tampering(void **state)
{
	struct disb		*x = disb();
	struct adapter_error	 e = { 0 };
	char			*out, *p;
	size_t			 len;

	assert_int_equal(pain001_write(&x->d, &x->in, NULL, &out, &len, &e), 0);
	/* The check above is not vacuous: a broken file fails it. */
	assert_non_null(p = strstr(out, "<PmtMtd>TRF</PmtMtd>"));
	memcpy(p, "<PmtMtd>XXX</PmtMtd>", 20);
	assert_false(xmllint_valid(out, len, "pain.001.001.09.xsd"));
	free(out);
	free(x);
}

static void
test_pain001_limits(void **state)
{
	struct disb		*x = disb();
	struct adapter_error	 e = { 0 };
	char			*out, e2e[16];
	size_t			 len, i;

	/* The most lines, the largest control sum. */
	x->in.nlines = 0;
	x->d.u.disbursement.nlines = 0;
	for (i = 0; i < INSTR_MAX_LINES; i++) {
		str_printf(e2e, sizeof(e2e), "E2E-%zu", i);
		line(x, e2e, i == 0 ? INSTR_MAX_FEN - (INSTR_MAX_LINES - 1) : 1,
		    "兰州市社会保险事业管理局", "62050161080100000123",
		    "105821000018", "620100", "PLAN-1");
	}
	assert_int_equal(pain001_write(&x->d, &x->in, "GBK", &out, &len, &e),
	    0);
	assert_non_null(strstr(out, "<NbOfTxs>64</NbOfTxs>"));
	assert_non_null(strstr(out, "<CtrlSum>90071992547409.91</CtrlSum>"));
	assert_true(xmllint_valid(out, len, "pain.001.001.09.xsd"));
	free(out);
	/* One fen more and the control sum is past the largest amount. */
	x->in.lines[1].amount_fen = 2;
	x->d.u.disbursement.lines[1].amount_fen = 2;
	memset(&e, 0, sizeof(e));
	assert_int_equal(pain001_write(&x->d, &x->in, NULL, &out, &len, &e),
	    -1);
	assert_null(out);
	assert_int_equal(e.status, 500);
	free(x);
}

/* Each mutation makes the writer refuse: the keeper handed it something
 * wrong, and no file must come out. */
static void
test_pain001_refusals(void **state)
{
	struct disb		*x;
	struct adapter_error	 e;
	char			*out, longname[512];
	size_t			 len, i, k;

	for (k = 0; k < 17; k++) {
		x = disb();
		switch (k) {
		case 0: x->d.kind = INSTR_PLAN; break;
		case 1: x->in.nlines = 2; break;
		case 2: x->in.lines[1].amount_fen = 50000001; break;
		case 3: str_copy(x->in.lines[2].plan_id, INSTR_ID_MAX, "P-X");
			break;
		case 4: str_copy(x->in.lines[0].creditor_bank,
			    ISO20022_CNAPS_LEN, "10582100001"); break;
		case 5: str_copy(x->in.lines[0].creditor_account,
			    INSTR_ACCOUNT_MAX, "6205 0161"); break;
		case 6: str_copy(x->in.lines[2].end_to_end_id, INSTR_ID_MAX,
			    "E2E-0001"); break;
		case 7: x->in.lines[0].amount_fen = 0;
			x->d.u.disbursement.lines[0].amount_fen = 0; break;
		case 8: str_copy(x->in.created_at, INSTR_TIME_MAX, "yesterday");
			break;
		case 9: str_copy(x->in.debtor_bank, ISO20022_CNAPS_LEN,
			    "CNAPS1234567"); break;
		case 10:
			longname[0] = '\0';
			for (i = 0; i < 141; i++)
				str_append(longname, sizeof(longname), "x");
			str_copy(x->in.lines[1].creditor_name, INSTR_NAME_MAX,
			    longname);
			break;
		case 11: str_copy(x->in.lines[1].creditor_name, INSTR_NAME_MAX,
			    "bell\x07"); break;
		case 12: str_copy(x->in.lines[1].city, INSTR_CITY_LEN,
			    "620171"); break;
		case 13: str_copy(x->d.u.disbursement.requested_execution_date,
			    INSTR_DATE_LEN, "2024-02-30"); break;
		case 14: str_copy(x->in.msg_id, INSTR_ID_MAX, "MSG 1"); break;
		case 15: x->in.lines[0].amount_fen = -5;
			x->d.u.disbursement.lines[0].amount_fen = -5; break;
		case 16: x->in.debtor_name[0] = '\0'; break;
		}
		memset(&e, 0, sizeof(e));
		if (pain001_write(&x->d, &x->in, NULL, &out, &len, &e) != -1)
			fail_msg("mutation %zu accepted", k);
		assert_null(out);
		assert_int_equal(e.status, 500);
		free(x);
	}
	x = disb();
	memset(&e, 0, sizeof(e));
	assert_int_equal(pain001_write(&x->d, &x->in, "Big5", &out, &len, &e),
	    -1);
	free(x);
}

/* ---- pain.002 ---- */

static struct sbuf
p2(const char *decl, const char *name, const char *grp, const char *txs)
{
	struct sbuf	s = { 0 };

	if (decl != NULL)
		sb_add(&s, "<?xml version=\"1.0\" encoding=\"%s\"?>\n", decl);
	sb_add(&s, "<Document xmlns=\"%s\">\n<CstmrPmtStsRpt>\n"
	    "<GrpHdr><MsgId>STS-20240612-0001</MsgId>"
	    "<CreDtTm>2024-06-12T16:00:00+08:00</CreDtTm></GrpHdr>\n"
	    "<OrgnlGrpInfAndSts><OrgnlMsgId>MSG-DISB-0001</OrgnlMsgId>"
	    "<OrgnlMsgNmId>%s</OrgnlMsgNmId>%s</OrgnlGrpInfAndSts>\n",
	    ISO20022_PAIN002_NS, name, grp);
	if (txs != NULL)
		sb_add(&s, "<OrgnlPmtInfAndSts><OrgnlPmtInfId>DISB-2024-06-0001"
		    "</OrgnlPmtInfId>%s</OrgnlPmtInfAndSts>\n", txs);
	sb_add(&s, "</CstmrPmtStsRpt>\n</Document>\n");
	return s;
}

#define TX(e2e, sts, extra) \
	"<TxInfAndSts><OrgnlEndToEndId>" e2e "</OrgnlEndToEndId><TxSts>" sts \
	"</TxSts>" extra "</TxInfAndSts>\n"
#define AC04 \
	"<StsRsnInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>账户已销户</AddtlInf>" \
	"</StsRsnInf>"

static void
test_pain002_acsc(void **state)
{
	struct adapter_error	 e = { 0 };
	struct instr		 in;
	struct instr_bank_status *b = &in.u.bank_status;
	struct sbuf		 doc;

	doc = p2(NULL, "pain.001.001.09", "<GrpSts>ACSC</GrpSts>",
	    TX("E2E-0001", "ACSC", "<AcctSvcrRef>BK20240612000123</AcctSvcrRef>"));
	assert_int_equal(pain002_parse(doc.p, doc.n, NULL, &in, &e), 0);
	assert_int_equal(in.kind, INSTR_BANK_STATUS);
	assert_string_equal(in.id, "STS-20240612-0001");
	assert_string_equal(b->original_msg_id, "MSG-DISB-0001");
	assert_string_equal(b->group_status, "ACSC");
	assert_int_equal(b->ntx, 1);
	assert_string_equal(b->tx[0].end_to_end_id, "E2E-0001");
	assert_string_equal(b->tx[0].status, "ACSC");
	assert_string_equal(b->tx[0].reason, "");
	assert_string_equal(b->tx[0].bank_reference, "BK20240612000123");
	instr_free(&in);
	free(doc.p);
}

static void
test_pain002_rjct_ac04(void **state)
{
	static const char *const	cs[] = { "UTF-8", "GBK", "GB18030" };
	struct adapter_error		 e = { 0 };
	struct instr			 in;
	struct instr_bank_status	*b = &in.u.bank_status;
	struct sbuf			 doc;
	char				*raw;
	size_t				 rlen, i;

	for (i = 0; i < nitems(cs); i++) {
		doc = p2(cs[i], "pain.001.001.09", "<GrpSts>PART</GrpSts>",
		    TX("E2E-0001", "ACSC", "") TX("E2E-0002", "RJCT", AC04
		    "<AcctSvcrRef>BK-RJ-2</AcctSvcrRef>"));
		raw = conv(doc.p, doc.n, cs[i], &rlen);
		assert_int_equal(pain002_parse(raw, rlen, cs[i], &in, &e), 0);
		assert_string_equal(b->group_status, "PART");
		assert_int_equal(b->ntx, 2);
		assert_string_equal(b->tx[0].status, "ACSC");
		assert_string_equal(b->tx[0].bank_reference, "");
		assert_string_equal(b->tx[1].end_to_end_id, "E2E-0002");
		assert_string_equal(b->tx[1].status, "RJCT");
		assert_string_equal(b->tx[1].reason, "AC04");
		assert_string_equal(b->tx[1].bank_reference, "BK-RJ-2");
		instr_free(&in);
		free(raw);
		free(doc.p);
	}
}

static void
test_pain002_group_only(void **state)
{
	struct adapter_error	 e = { 0 };
	struct instr		 in;
	struct sbuf		 doc;

	/* The whole file accepted for processing, nothing per transaction. */
	doc = p2(NULL, "pain.001.001.09", "<GrpSts>ACTC</GrpSts>", NULL);
	assert_int_equal(pain002_parse(doc.p, doc.n, NULL, &in, &e), 0);
	assert_string_equal(in.u.bank_status.group_status, "ACTC");
	assert_int_equal(in.u.bank_status.ntx, 0);
	assert_null(in.u.bank_status.tx);
	instr_free(&in);
	free(doc.p);
	/* The whole file rejected, with its reason at group level. */
	doc = p2(NULL, "pain.001.001.09", "<GrpSts>RJCT</GrpSts><StsRsnInf><Rsn>"
	    "<Cd>FF01</Cd></Rsn></StsRsnInf>", NULL);
	assert_int_equal(pain002_parse(doc.p, doc.n, NULL, &in, &e), 0);
	assert_string_equal(in.u.bank_status.group_status, "RJCT");
	instr_free(&in);
	free(doc.p);
}

static struct sbuf
lit(const char *text)
{
	struct sbuf	s = { 0 };

	sb_add(&s, "%s", text);
	return s;
}

static void
expect_p2(struct sbuf doc, int status, const char *code, const char *field)
{
	struct adapter_error	e = { 0 };
	struct instr		in;

	memset(&in, 0x5a, sizeof(in));
	if (pain002_parse(doc.p, doc.n, NULL, &in, &e) == 0) {
		instr_free(&in);
		fail_msg("accepted, wanted %s", code);
	}
	if (e.status != status || strcmp(e.code, code) != 0)
		fail_msg("got %d %s [%s] %s, wanted %d %s", e.status, e.code,
		    e.field, e.detail, status, code);
	if (field != NULL)
		assert_string_equal(e.field, field);
	assert_int_equal(in.kind, 0);
	assert_null(in.u.bank_status.tx);
	free(doc.p);
}

static void
test_pain002_refusals(void **state)
{
	struct sbuf	doc;

	expect_p2(p2(NULL, "pain.001.001.09", "",
	    TX("E2E-0001", "ACWC", "")), 422, "bad-status",
	    "/Document/CstmrPmtStsRpt/OrgnlPmtInfAndSts[1]/TxInfAndSts[1]/TxSts");
	expect_p2(p2(NULL, "pain.001.001.09", "<GrpSts>XXXX</GrpSts>", NULL),
	    422, "bad-status", NULL);
	expect_p2(p2(NULL, "pain.001.001.09", "", TX("E2E-0001", "RJCT",
	    "<StsRsnInf><Rsn><Prtry>closed</Prtry></Rsn></StsRsnInf>")),
	    422, "bad-reason", NULL);
	expect_p2(p2(NULL, "pain.001.001.09", "", TX("E2E-0001", "RJCT",
	    "<StsRsnInf><Rsn><Cd>ac04</Cd></Rsn></StsRsnInf>")), 422,
	    "bad-reason", NULL);
	expect_p2(p2(NULL, "pain.001.001.09", "",
	    "<TxInfAndSts><TxSts>ACSC</TxSts></TxInfAndSts>"), 422,
	    "missing-field", NULL);
	expect_p2(p2(NULL, "pain.001.001.09", "",
	    "<TxInfAndSts><OrgnlEndToEndId>E2E-0001</OrgnlEndToEndId>"
	    "</TxInfAndSts>"), 422, "missing-field", NULL);
	expect_p2(p2(NULL, "pain.001.001.03", "<GrpSts>ACSC</GrpSts>", NULL),
	    422, "wrong-original", NULL);
	expect_p2(p2(NULL, "pain.001.001.09", "", NULL), 422,
	    "no-status", NULL);
	expect_p2(p2(NULL, "pain.001.001.09", "", TX("E2E-0001", "ACSC", "")
	    TX("E2E-0001", "RJCT", AC04)), 422,
	    "duplicate-end-to-end-id", NULL);
	expect_p2(p2(NULL, "pain.001.001.09", "", TX("E2E 0001", "ACSC", "")),
	    422, "bad-end-to-end-id", NULL);
	/* Schema: element order, unknown element, too long a code. */
	expect_p2(p2(NULL, "pain.001.001.09", "",
	    "<TxInfAndSts><TxSts>ACSC</TxSts><OrgnlEndToEndId>E2E-0001"
	    "</OrgnlEndToEndId></TxInfAndSts>"), 400, "schema-invalid",
	    NULL);
	expect_p2(p2(NULL, "pain.001.001.09", "<Foo/>", NULL), 400,
	    "schema-invalid", NULL);
	expect_p2(p2(NULL, "pain.001.001.09", "", TX("E2E-0001", "ACSCX", "")),
	    400, "schema-invalid", NULL);
	/* Another version of pain.002, or a pain.001 sent back. */
	doc = p2(NULL, "pain.001.001.09", "<GrpSts>ACSC</GrpSts>", NULL);
	memcpy(strstr(doc.p, "pain.002.001.10"), "pain.002.001.03", 15);
	expect_p2(doc, 400, "wrong-namespace", "/Document");
	expect_p2(lit("<Document xmlns=\"" P1 "\"/>"), 400, "wrong-namespace",
	    NULL);
	expect_p2(lit("<CstmrPmtStsRpt/>"), 400, "wrong-root", NULL);
	expect_p2(lit("<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	    "<Document>&x;</Document>"), 400, "doctype", NULL);
	expect_p2(lit("<Document"), 400, "malformed", NULL);
}

/* ---- camt.054 ---- */

#define ACCT_OTHR \
	"<Acct><Id><Othr><Id>27010101040012345</Id><SchmeNm><Cd>BBAN</Cd>" \
	"</SchmeNm></Othr></Id><Ccy>CNY</Ccy></Acct>"
#define BKTX \
	"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT" \
	"</SubFmlyCd></Fmly></Domn></BkTxCd>"
#define NTRY(amt, ind, sts, date, dtls) \
	"<Ntry><Amt Ccy=\"CNY\">" amt "</Amt><CdtDbtInd>" ind "</CdtDbtInd>" \
	"<Sts><Cd>" sts "</Cd></Sts>" date BKTX dtls "</Ntry>\n"
#define DT(d)		"<BookgDt><Dt>" d "</Dt></BookgDt>"
#define TXD(body)	"<TxDtls>" body "</TxDtls>"
#define E2E(id)		"<Refs><EndToEndId>" id "</EndToEndId></Refs>"
#define USTRD(t)	"<RmtInf><Ustrd>" t "</Ustrd></RmtInf>"
#define TAMT(a, ind)	"<Amt Ccy=\"CNY\">" a "</Amt><CdtDbtInd>" ind \
			"</CdtDbtInd>"

static struct sbuf
c54(const char *acct, const char *entries)
{
	struct sbuf	s = { 0 };

	sb_add(&s, "<Document xmlns=\"%s\">\n<BkToCstmrDbtCdtNtfctn>\n"
	    "<GrpHdr><MsgId>CAMT-20240612-0001</MsgId>"
	    "<CreDtTm>2024-06-12T18:00:00+08:00</CreDtTm></GrpHdr>\n"
	    "<Ntfctn><Id>NTF-1</Id>%s\n%s</Ntfctn>\n"
	    "</BkToCstmrDbtCdtNtfctn>\n</Document>\n", ISO20022_CAMT054_NS,
	    acct, entries);
	return s;
}

static void
test_camt054_credit_and_debit(void **state)
{
	struct adapter_error		 e = { 0 };
	struct instr			 in;
	struct instr_bank_notification	*b = &in.u.bank_notification;
	struct sbuf			 doc;

	doc = c54(ACCT_OTHR,
	    /* the monthly remittance of Lanzhou arriving */
	    NTRY("9434600.00", "CRDT", "BOOK", DT("2024-06-10"),
	    "<NtryDtls>" TXD(E2E("REM-620100-2024-05")
	    USTRD("REM-620100-2024-05")) "</NtryDtls>")
	    /* a disbursement line leaving, booked with a date-time */
	    NTRY("1234567.89", "DBIT", "BOOK",
	    "<BookgDt><DtTm>2024-06-12T10:15:00+08:00</DtTm></BookgDt>",
	    "<NtryDtls>" TXD(E2E("E2E-0001") TAMT("1234567.89", "DBIT"))
	    "</NtryDtls>")
	    /* bank interest: no details at all; xs:decimal forms */
	    NTRY("12", "CRDT", "BOOK", DT("2024-06-12"), "")
	    NTRY("0.5", "CRDT", "BOOK", DT("2024-06-12"), "")
	    NTRY("3.10000", "CRDT", "BOOK", DT("2024-06-12"),
	    "<NtryDtls>" TXD(E2E("NOTPROVIDED")) "</NtryDtls>"));
	assert_int_equal(camt054_parse(doc.p, doc.n, NULL, &in, &e), 0);
	assert_int_equal(in.kind, INSTR_BANK_NOTIFICATION);
	assert_string_equal(in.id, "CAMT-20240612-0001");
	assert_int_equal(b->nentries, 5);
	assert_string_equal(b->entries[0].account, "27010101040012345");
	assert_int_equal(b->entries[0].credit, 1);
	assert_true(b->entries[0].amount_fen == 943460000);
	assert_string_equal(b->entries[0].booking_date, "2024-06-10");
	assert_string_equal(b->entries[0].end_to_end_id, "REM-620100-2024-05");
	assert_string_equal(b->entries[0].reference, "REM-620100-2024-05");
	assert_int_equal(b->entries[1].credit, 0);
	assert_true(b->entries[1].amount_fen == 123456789);
	assert_string_equal(b->entries[1].booking_date, "2024-06-12");
	assert_string_equal(b->entries[1].end_to_end_id, "E2E-0001");
	assert_string_equal(b->entries[1].reference, "");
	assert_true(b->entries[2].amount_fen == 1200);
	assert_string_equal(b->entries[2].end_to_end_id, "");
	assert_string_equal(b->entries[2].account, "27010101040012345");
	assert_true(b->entries[3].amount_fen == 50);
	assert_true(b->entries[4].amount_fen == 310);
	assert_string_equal(b->entries[4].end_to_end_id, "");
	instr_free(&in);
	free(doc.p);
}

static void
test_camt054_batch_entry(void **state)
{
	struct adapter_error		 e = { 0 };
	struct instr			 in;
	struct instr_bank_notification	*b = &in.u.bank_notification;
	struct sbuf			 doc;
	char				*raw;
	size_t				 rlen;

	/* One booked debit for a whole file: one entry per transaction, in
	 * GB18030 with Chinese remittance text that fits. */
	doc = c54(ACCT_OTHR, NTRY("1734567.96", "DBIT", "BOOK",
	    DT("2024-06-12"), "<NtryDtls>"
	    TXD(E2E("E2E-0001") TAMT("1234567.89", "DBIT") USTRD("工伤待遇"))
	    TXD(E2E("E2E-0002") TAMT("500000.00", "DBIT"))
	    "</NtryDtls><NtryDtls>"
	    TXD(E2E("E2E-0003") TAMT("0.07", "DBIT"))
	    "</NtryDtls>"));
	raw = conv(doc.p, doc.n, "GB18030", &rlen);
	assert_int_equal(camt054_parse(raw, rlen, "GB18030", &in, &e), 0);
	assert_int_equal(b->nentries, 3);
	assert_string_equal(b->entries[0].end_to_end_id, "E2E-0001");
	assert_true(b->entries[0].amount_fen == 123456789);
	assert_string_equal(b->entries[0].reference, "工伤待遇");
	assert_string_equal(b->entries[1].end_to_end_id, "E2E-0002");
	assert_true(b->entries[1].amount_fen == 50000000);
	assert_string_equal(b->entries[2].end_to_end_id, "E2E-0003");
	assert_true(b->entries[2].amount_fen == 7);
	assert_int_equal(b->entries[2].credit, 0);
	assert_string_equal(b->entries[2].booking_date, "2024-06-12");
	instr_free(&in);
	free(raw);
	free(doc.p);
}

static void
expect_c54(struct sbuf doc, int status, const char *code)
{
	struct adapter_error	e = { 0 };
	struct instr		in;

	memset(&in, 0x5a, sizeof(in));
	if (camt054_parse(doc.p, doc.n, NULL, &in, &e) == 0) {
		instr_free(&in);
		fail_msg("accepted, wanted %s", code);
	}
	if (e.status != status || strcmp(e.code, code) != 0)
		fail_msg("got %d %s [%s] %s, wanted %d %s", e.status, e.code,
		    e.field, e.detail, status, code);
	assert_int_equal(in.kind, 0);
	assert_null(in.u.bank_notification.entries);
	free(doc.p);
}

static void
test_camt054_refusals(void **state)
{
	struct sbuf	doc;

	expect_c54(c54(ACCT_OTHR, NTRY("1.001", "CRDT", "BOOK",
	    DT("2024-06-12"), "")), 422, "bad-amount");
	expect_c54(c54(ACCT_OTHR, "<Ntry><Amt Ccy=\"USD\">1.00</Amt>"
	    "<CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
	    DT("2024-06-12") BKTX "</Ntry>"), 422, "bad-currency");
	expect_c54(c54("<Acct><Id><Othr><Id>27010101040012345</Id></Othr></Id>"
	    "<Ccy>USD</Ccy></Acct>", NTRY("1.00", "CRDT", "BOOK",
	    DT("2024-06-12"), "")), 422, "bad-currency");
	expect_c54(c54("<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id>"
	    "</Acct>", NTRY("1.00", "CRDT", "BOOK", DT("2024-06-12"), "")), 422,
	    "bad-account");
	expect_c54(c54(ACCT_OTHR, NTRY("1.00", "CRDT", "PDNG",
	    DT("2024-06-12"), "")), 422, "not-booked");
	expect_c54(c54(ACCT_OTHR, "<Ntry><Amt Ccy=\"CNY\">1.00</Amt>"
	    "<CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd>"
	    "<Sts><Cd>BOOK</Cd></Sts>" DT("2024-06-12") BKTX "</Ntry>"),
	    422, "reversal");
	expect_c54(c54(ACCT_OTHR, NTRY("1.00", "CRDT", "BOOK", "", "")),
	    422, "missing-booking-date");
	/* Batch entries: transactions that do not add up, or say nothing. */
	expect_c54(c54(ACCT_OTHR, NTRY("3.00", "DBIT", "BOOK", DT("2024-06-12"),
	    "<NtryDtls>" TXD(E2E("A") TAMT("1.00", "DBIT"))
	    TXD(E2E("B") TAMT("1.00", "DBIT")) "</NtryDtls>")), 422,
	    "amount-mismatch");
	expect_c54(c54(ACCT_OTHR, NTRY("2.00", "DBIT", "BOOK", DT("2024-06-12"),
	    "<NtryDtls>" TXD(E2E("A") TAMT("1.00", "DBIT")) TXD(E2E("B"))
	    "</NtryDtls>")), 422, "missing-amount");
	expect_c54(c54(ACCT_OTHR, NTRY("2.00", "DBIT", "BOOK", DT("2024-06-12"),
	    "<NtryDtls>" TXD(E2E("A") TAMT("1.00", "DBIT"))
	    TXD(E2E("B") TAMT("1.00", "CRDT")) "</NtryDtls>")), 422,
	    "direction-mismatch");
	expect_c54(c54(ACCT_OTHR, NTRY("2.00", "DBIT", "BOOK", DT("2024-06-12"),
	    "<NtryDtls>" TXD(E2E("A") TAMT("1.99", "DBIT")) "</NtryDtls>")),
	    422, "amount-mismatch");
	expect_c54(c54(ACCT_OTHR, NTRY("2.00", "DBIT", "BOOK", DT("2024-06-12"),
	    "<NtryDtls>" TXD(E2E("A/1")) "</NtryDtls>")), 422,
	    "bad-end-to-end-id");
	expect_c54(c54(ACCT_OTHR, ""), 422, "no-entries");
	/* Schema. */
	expect_c54(c54(ACCT_OTHR, NTRY("1.00", "CR", "BOOK", DT("2024-06-12"),
	    "")), 400, "schema-invalid");
	expect_c54(c54(ACCT_OTHR, NTRY("-1.00", "CRDT", "BOOK",
	    DT("2024-06-12"), "")), 400, "schema-invalid");
	expect_c54(c54(ACCT_OTHR, NTRY("1e3", "CRDT", "BOOK",
	    DT("2024-06-12"), "")), 400, "schema-invalid");
	expect_c54(c54(ACCT_OTHR, "<Ntry><Amt Ccy=\"CNY\">1.00</Amt>"
	    "<CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts></Ntry>"),
	    400, "schema-invalid");
	doc = c54(ACCT_OTHR, NTRY("1.00", "CRDT", "BOOK", DT("2024-06-12"), ""));
	memcpy(strstr(doc.p, "camt.054.001.08"), "camt.054.001.02", 15);
	expect_c54(doc, 400, "wrong-namespace");
	doc = c54(ACCT_OTHR, NTRY("1.00", "CRDT", "BOOK", DT("2024-06-12"), ""));
	memcpy(strstr(doc.p, "CAMT-20240612-0001"), "CAMT 20240612 0001", 18);
	expect_c54(doc, 422, "bad-id");
	doc = c54(ACCT_OTHR, NTRY("1.00", "CRDT", "BOOK", DT("2024-06-12"), ""));
	doc.p[doc.n / 2] = '\0';
	expect_c54(doc, 400, "nul-byte");
}

static void
test_decimal_to_fen(void **state)
{
	static const struct {
		const char	*s;
		int64_t		 fen;
	} good[] = {
		{ "0", 0 }, { "0.00", 0 }, { "1", 100 }, { "1.5", 150 },
		{ "1.05", 105 }, { "1.050", 105 }, { "1.05000", 105 },
		{ "007.10", 710 }, { "90071992547409.91", INSTR_MAX_FEN },
		{ "00090071992547409.9100", INSTR_MAX_FEN },
	};
	static const char *const	bad[] = {
		"", ".5", "1.", "1.001", "1.0000001", "-1", "+1", "1e2", " 1",
		"1 ", "10000000000000000", "1,00", "0x1", "１",
		"90071992547409.92", "9999999999999999.99",
	};
	int64_t	fen;
	size_t	i;

	for (i = 0; i < nitems(good); i++) {
		assert_int_equal(iso20022_decimal_to_fen(good[i].s, &fen), 0);
		assert_true(fen == good[i].fen);
	}
	for (i = 0; i < nitems(bad); i++)
		if (iso20022_decimal_to_fen(bad[i], &fen) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_true(iso20022_cnaps_ok("103821000015"));
	assert_false(iso20022_cnaps_ok("10382100001"));
	assert_false(iso20022_cnaps_ok("1038210000150"));
	assert_false(iso20022_cnaps_ok("10382100001A"));
	assert_true(iso20022_account_ok("6222-0202"));
	assert_false(iso20022_account_ok(""));
	assert_false(iso20022_account_ok("6222 0202"));
	assert_false(iso20022_account_ok("12345678901234567890123456789012345"));
	assert_true(iso20022_account_ok("1234567890123456789012345678901234"));
}

static int
setup(void **state)
{
	struct adapter_error	e = { 0 };

	if (iso20022_init(NULL, &e) == -1) {
		fprintf(stderr, "iso20022_init: %s %s\n", e.code, e.detail);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	iso20022_fini();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_pain001_charsets_xmllint),
		cmocka_unit_test(test_pain001_xmllint_catches_tampering),
		cmocka_unit_test(test_pain001_limits),
		cmocka_unit_test(test_pain001_refusals),
		cmocka_unit_test(test_pain002_acsc),
		cmocka_unit_test(test_pain002_rjct_ac04),
		cmocka_unit_test(test_pain002_group_only),
		cmocka_unit_test(test_pain002_refusals),
		cmocka_unit_test(test_camt054_credit_and_debit),
		cmocka_unit_test(test_camt054_batch_entry),
		cmocka_unit_test(test_camt054_refusals),
		cmocka_unit_test(test_decimal_to_fen),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
