/* The transfer API (DESIGN §2) on a relay worker: each endpoint open to one
 * role, the body read whole (within the limits), parsed and checked by its
 * adapter, and the canonical instruction handed to the keeper; the answer
 * (receipt or refusal) comes back only once the keeper's commit holds it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "adapters/accounts.h"
#include "adapters/camt054.h"
#include "adapters/finance.h"
#include "adapters/hrss.h"
#include "adapters/instr.h"
#include "adapters/pain002.h"
#include "adapters/tax.h"
#include "config.h"
#include "ipc.h"
#include "log.h"
#include "relay/relay.h"
#include "relay/transfer.h"
#include "util.h"

enum transfer_ep {
	TE_COLLECTIONS,
	TE_REMITTANCES,
	TE_PLANS,
	TE_REVIEW,		/* /v1/plans/{plan_id}/review */
	TE_DISBURSEMENTS,
	TE_BANK_STATUS,
	TE_BANK_NOTIFICATIONS,
	TE_TRANSFERS,		/* GET /v1/transfers/{id} */
	TE_RECEIPTS,		/* GET /v1/receipts/{kind}/{id} */
	TE_REPORT,		/* GET /v1/reports/reconciliation?period= */
	TE_ALERTS,		/* GET /v1/alerts[?since=N] */
	TE_ACCOUNT_CHANGES,	/* POST /v1/accounts/changes */
	TE_ACCOUNT_REVIEW,	/* /v1/accounts/changes/{id}/review */
	TE_ACCOUNTS,		/* GET /v1/accounts */
	TE_ACCOUNT_LIST,	/* GET /v1/accounts/changes[?state=] */
	TE_INSPECTION,		/* GET /v1/reports/inspection?period= */
};

#define TR(r)	(1u << (r))

enum transfer_body { TB_JSON, TB_XML };

static const struct transfer_def {
	const char		*path;
	enum transfer_ep	 ep;
	unsigned		 roles;		/* TR(enum role) */
	enum instr_kind		 kind;
	enum transfer_body	 body;
} transfer_defs[] = {
	{ "/v1/collections", TE_COLLECTIONS, TR(ROLE_TAX), INSTR_COLLECTION,
	    TB_XML },
	{ "/v1/remittances", TE_REMITTANCES, TR(ROLE_FINANCE_CITY),
	    INSTR_REMITTANCE, TB_JSON },
	{ "/v1/plans", TE_PLANS, TR(ROLE_HRSS), INSTR_PLAN, TB_JSON },
	{ "/v1/plans/*/review", TE_REVIEW, TR(ROLE_FINANCE), INSTR_REVIEW,
	    TB_JSON },
	{ "/v1/disbursements", TE_DISBURSEMENTS, TR(ROLE_HRSS),
	    INSTR_DISBURSEMENT, TB_JSON },
	{ "/v1/bank/status", TE_BANK_STATUS, TR(ROLE_BANK), INSTR_BANK_STATUS,
	    TB_XML },
	{ "/v1/bank/notifications", TE_BANK_NOTIFICATIONS, TR(ROLE_BANK),
	    INSTR_BANK_NOTIFICATION, TB_XML },
	/* Where money goes: the fund's two authorities, each the other's
	 * second person (the keeper refuses a review by the proposer). */
	{ "/v1/accounts/changes", TE_ACCOUNT_CHANGES,
	    TR(ROLE_FINANCE) | TR(ROLE_HRSS), INSTR_ACCOUNT_CHANGE, TB_JSON },
	{ "/v1/accounts/changes/*/review", TE_ACCOUNT_REVIEW,
	    TR(ROLE_FINANCE) | TR(ROLE_HRSS), INSTR_ACCOUNT_REVIEW, TB_JSON },
};

struct transfer {
	const struct transfer_def	*def;
	enum transfer_ep		 read;	/* a GET endpoint */
	char				 name[48];	/* for the log */
	char				 path_id[INSTR_ID_MAX];	/* {id} */
	char				 charset[32];	/* "" if none given */
	struct evbuffer			*body;
};

/* The path without its query; "PREFIX/{id}/review" fills id. */
static const struct transfer_def *
transfer_match(const char *url, size_t len, char *id, size_t idsz)
{
	const char	*q = memchr(url, '?', len), *star;
	size_t		 n = q ? (size_t)(q - url) : len, i, pre, idn;

	for (i = 0; i < nitems(transfer_defs); i++) {
		const char *p = transfer_defs[i].path;

		if ((star = strchr(p, '*')) != NULL) {
			/* PREFIX id "/review", the id without a slash */
			pre = (size_t)(star - p);
			if (n <= pre + 7 || memcmp(url, p, pre) != 0 ||
			    memcmp(url + n - 7, "/review", 7) != 0)
				continue;
			idn = n - pre - 7;
			if (idn >= idsz || memchr(url + pre, '/', idn) != NULL)
				continue;
			memcpy(id, url + pre, idn);
			id[idn] = '\0';
			return &transfer_defs[i];
		}
		if (strlen(p) == n && memcmp(url, p, n) == 0)
			return &transfer_defs[i];
	}
	return NULL;
}

/* Content-Type: the media type must be the endpoint's; the charset
 * parameter (XML) is kept for the adapter. 0 or -1. */
static int
transfer_ctype(struct relay_conn *c, struct transfer *t)
{
	const char	*v, *semi, *cs;
	size_t		 len, mlen, i, cslen;
	char		 mt[64];

	if ((v = http_msg_header(&c->req, "Content-Type", &len)) == NULL)
		return -1;
	semi = memchr(v, ';', len);
	mlen = semi ? (size_t)(semi - v) : len;
	while (mlen > 0 && (v[mlen - 1] == ' ' || v[mlen - 1] == '\t'))
		mlen--;
	if (mlen >= sizeof(mt))
		return -1;
	for (i = 0; i < mlen; i++)
		mt[i] = (char)(v[i] | 0x20);
	mt[mlen] = '\0';
	if (t->def->body == TB_JSON)
		return strcmp(mt, "application/json") == 0 ? 0 : -1;
	if (strcmp(mt, "application/xml") != 0 && strcmp(mt, "text/xml") != 0)
		return -1;
	/* The charset parameter itself, never "charset=" found inside
	 * another parameter's value; other parameters are ignored. */
	switch (http_media_param(v, len, "charset", &cs, &cslen)) {
	case 0:
		return 0;
	case 1:
		if (cslen == 0 || cslen >= sizeof(t->charset) ||
		    memchr(cs, '\\', cslen) != NULL)
			return -1;
		memcpy(t->charset, cs, cslen);
		t->charset[cslen] = '\0';
		return 0;
	default:
		return -1;
	}
}

void
transfer_free(struct transfer *t)
{
	if (t == NULL)
		return;
	if (t->body != NULL)
		evbuffer_free(t->body);
	free(t);
}

const char *
transfer_name(const struct transfer *t)
{
	return t->name;
}

/* Refuses in the caller's language: an XML receipt for the tax bureau,
 * JSON for everyone else. */
static void
transfer_refuse(struct relay_conn *c, int status, const char *code,
    const char *field, const char *detail)
{
	struct transfer		*t = c->xfer;
	struct adapter_error	 e, werr;
	struct tax_receipt	 rc;
	char			*out;
	size_t			 olen;

	if (t == NULL || t->def == NULL || t->def->ep != TE_COLLECTIONS) {
		conn_reply_error(c, status, code, detail);
		return;
	}
	memset(&e, 0, sizeof(e));
	memset(&werr, 0, sizeof(werr));
	adapter_fail(&e, status, code, field, "%s", detail);
	memset(&rc, 0, sizeof(rc));
	rc.status = TAX_REFUSED;
	rc.error = &e;
	if (tax_receipt(&rc, t->charset[0] ? t->charset : NULL, &out, &olen,
	    &werr) == -1) {
		conn_reply_error(c, status, code, detail);
		return;
	}
	c->code = code;
	if (status == 400 || status == 413)
		c->close_after = 1;
	conn_reply(c, status, "application/xml; charset=UTF-8", out, olen);
	free(out);
}

/* The read endpoints: 0 if url is one (answered in transfer_done, or
 * refused here), -1 if not. */
static int
transfer_read_head(struct relay_conn *c, struct transfer *t, const char *url,
    size_t len)
{
	const struct cfg_agency	*ag = &c->r->cf->agencies[c->agency];
	const char		*q = memchr(url, '?', len);
	size_t			 n = q ? (size_t)(q - url) : len;

	if (len >= 14 && memcmp(url, "/v1/transfers/", 14) == 0) {
		t->read = TE_TRANSFERS;
		str_copy(t->name, sizeof(t->name), "v1/transfers");
	} else if (len >= 13 && memcmp(url, "/v1/receipts/", 13) == 0) {
		t->read = TE_RECEIPTS;
		str_copy(t->name, sizeof(t->name), "v1/receipts");
	} else if (n == 26 && memcmp(url, "/v1/reports/reconciliation", 26) ==
	    0) {
		t->read = TE_REPORT;
		str_copy(t->name, sizeof(t->name), "v1/reports");
	} else if (n == 10 && memcmp(url, "/v1/alerts", 10) == 0) {
		t->read = TE_ALERTS;
		str_copy(t->name, sizeof(t->name), "v1/alerts");
	} else if (n == 12 && memcmp(url, "/v1/accounts", 12) == 0) {
		t->read = TE_ACCOUNTS;
		str_copy(t->name, sizeof(t->name), "v1/accounts");
	} else if (n == 20 && memcmp(url, "/v1/accounts/changes", 20) == 0 &&
	    c->req.method != HTTP_POST) {
		t->read = TE_ACCOUNT_LIST;
		str_copy(t->name, sizeof(t->name), "v1/accounts/changes");
	} else if (n == 22 && memcmp(url, "/v1/reports/inspection", 22) == 0) {
		t->read = TE_INSPECTION;
		str_copy(t->name, sizeof(t->name), "v1/reports");
	} else
		return -1;
	if (c->req.method != HTTP_GET && c->req.method != HTTP_HEAD)
		conn_reply_error(c, 405, "method-not-allowed",
		    "this endpoint is read with GET");
	/* The inspection lists every agency's refusals and the gateway's
	 * trust changes: it is the supervisor's, not a party's. */
	else if (t->read == TE_INSPECTION && ag->role != ROLE_ADMIN &&
	    ag->role != ROLE_AUDITOR)
		conn_reply_error(c, 403, "role-not-allowed",
		    "the inspection report is for admin and auditor");
	/* Reports and alerts are for the fund's authorities and auditors. */
	else if (t->read != TE_TRANSFERS && t->read != TE_RECEIPTS &&
	    ag->role != ROLE_FINANCE &&
	    ag->role != ROLE_HRSS && ag->role != ROLE_ADMIN &&
	    ag->role != ROLE_AUDITOR)
		conn_reply_error(c, 403, "role-not-allowed",
		    "reports are for finance, hrss, admin and auditor");
	return 0;
}

/* "name=value" from a query string into dst: 0, 1 if absent, -1 if too
 * long. */
static int
transfer_param(const char *url, size_t len, const char *name, char *dst,
    size_t dsz)
{
	const char	*q = memchr(url, '?', len), *end = url + len, *p, *e;
	size_t		 nl = strlen(name);

	for (p = q ? q + 1 : end; p < end; p = e + 1) {
		if ((e = memchr(p, '&', (size_t)(end - p))) == NULL)
			e = end;
		if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 &&
		    p[nl] == '=') {
			if ((size_t)(e - p) - nl - 1 >= dsz)
				return -1;
			memcpy(dst, p + nl + 1, (size_t)(e - p) - nl - 1);
			dst[(size_t)(e - p) - nl - 1] = '\0';
			return 0;
		}
	}
	return 1;
}

static void
transfer_report(struct relay_conn *c, struct transfer *t, const char *url,
    size_t len)
{
	struct ipc_report_query	 q;
	const char		*acc;
	char			 since[24];
	size_t			 alen;

	memset(&q, 0, sizeof(q));
	if (t->read == TE_REPORT || t->read == TE_INSPECTION) {
		q.what = t->read == TE_REPORT ? REPORT_RECONCILIATION :
		    REPORT_INSPECTION;
		if (transfer_param(url, len, "period", q.period,
		    sizeof(q.period)) != 0 || !instr_period_ok(q.period)) {
			conn_reply_error(c, 400, "bad-period",
			    "give ?period=YYYY-MM");
			return;
		}
		/* CSV only when asked for by name (an operator's spreadsheet). */
		acc = http_msg_header(&c->req, "Accept", &alen);
		q.csv = acc != NULL && alen >= 8 && memmem(acc, alen, "text/csv",
		    8) != NULL;
		/* The inspection also as the document a supervisor files. */
		if (t->read == TE_INSPECTION && !q.csv && acc != NULL &&
		    alen >= 9 && memmem(acc, alen, "text/html", 9) != NULL)
			q.csv = 2;
	} else if (t->read == TE_ACCOUNTS) {
		q.what = REPORT_ACCOUNTS;
		if (transfer_param(url, len, "date", q.date, sizeof(q.date)) ==
		    -1 || (q.date[0] != '\0' && !instr_date_ok(q.date))) {
			conn_reply_error(c, 400, "bad-date",
			    "give ?date=YYYY-MM-DD, or nothing for today");
			return;
		}
	} else if (t->read == TE_ACCOUNT_LIST) {
		q.what = REPORT_ACCOUNT_CHANGES;
		if (transfer_param(url, len, "state", q.state, sizeof(q.state)) ==
		    -1 || (q.state[0] != '\0' && strcmp(q.state, "submitted") !=
		    0 && strcmp(q.state, "approved") != 0 &&
		    strcmp(q.state, "rejected") != 0)) {
			conn_reply_error(c, 400, "bad-query", "state is "
			    "submitted, approved or rejected");
			return;
		}
	} else {
		q.what = REPORT_ALERTS;
		if (transfer_param(url, len, "since", since, sizeof(since)) ==
		    0 && parse_u64(since, 0, INT64_MAX, &q.since) == -1) {
			conn_reply_error(c, 400, "bad-query", "since is a number");
			return;
		}
	}
	audit_report_query(c, &q);
}

int
transfer_head(struct relay_conn *c, const char *url, size_t len)
{
	const struct cfg_agency	*ag = &c->r->cf->agencies[c->agency];
	const struct transfer_def *def;
	struct transfer		*t;
	char			 id[64] = "";
	int			 idcut;

	if (len < 4 || memcmp(url, "/v1/", 4) != 0)
		return -1;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		conn_reply_error(c, 503, "out-of-memory", "try again");
		return 0;
	}
	c->xfer = t;
	if (transfer_read_head(c, t, url, len) == 0)
		return 0;
	if ((def = transfer_match(url, len, id, sizeof(id))) == NULL) {
		str_copy(t->name, sizeof(t->name), "v1");
		conn_reply_error(c, 404, "no-route", "no such endpoint");
		return 0;
	}
	t->def = def;
	str_printf(t->name, sizeof(t->name), "v1/%s", instr_kind_name(def->kind));
	/* An id too long for an id is refused below, never cut to another. */
	idcut = str_copy(t->path_id, sizeof(t->path_id), id) == -1;
	if ((def->roles & TR(ag->role)) == 0) {
		transfer_refuse(c, 403, "role-not-allowed", "",
		    "this endpoint is not open to the caller's role");
		return 0;
	}
	if (c->req.method != HTTP_POST) {
		transfer_refuse(c, 405, "method-not-allowed", "",
		    "this endpoint takes POST");
		return 0;
	}
	if (idcut) {
		transfer_refuse(c, 422, "bad-id", def->ep == TE_REVIEW ?
		    "plan_id" : "change_id", "the id in the path is not an id");
		return 0;
	}
	if (transfer_ctype(c, t) == -1) {
		transfer_refuse(c, 415, "unsupported-media-type", "",
		    def->body == TB_JSON ? "send application/json" :
		    "send application/xml");
		return 0;
	}
	if ((t->body = evbuffer_new()) == NULL) {
		conn_reply_error(c, 503, "out-of-memory", "try again");
		return 0;
	}
	return 0;
}

int
transfer_body(struct transfer *t, const char *p, size_t len)
{
	if (t->body == NULL)
		return 0;	/* refused at the head: the body is dropped */
	return evbuffer_add(t->body, p, len);
}

static void
transfer_query(struct relay_conn *c, const char *url, size_t len)
{
	const struct cfg_agency		*ag = &c->r->cf->agencies[c->agency];
	struct ipc_transfer_query	 q;
	const char			*qs = memchr(url, '?', len);
	size_t				 n = (qs ? (size_t)(qs - url) : len) - 14;
	enum instr_kind			 k;

	memset(&q, 0, sizeof(q));
	if (n == 0 || n >= sizeof(q.id)) {
		conn_reply_error(c, 404, "no-transfer", "no such transfer");
		return;
	}
	memcpy(q.id, url + 14, n);
	if (!instr_id_ok(q.id)) {
		conn_reply_error(c, 400, "bad-id", "not an instruction id");
		return;
	}
	if (qs != NULL) {
		size_t	ql = len - (size_t)(qs - url) - 1;

		qs++;
		if (ql <= 5 || memcmp(qs, "kind=", 5) != 0) {
			conn_reply_error(c, 400, "bad-query",
			    "the only parameter is kind");
			return;
		}
		for (k = INSTR_COLLECTION; k <= INSTR_KIND_LAST; k++)
			if (strlen(instr_kind_name(k)) == ql - 5 &&
			    memcmp(qs + 5, instr_kind_name(k), ql - 5) == 0)
				q.kind = k;
		if (q.kind == 0) {
			conn_reply_error(c, 400, "bad-query", "unknown kind");
			return;
		}
	}
	str_copy(q.agency, sizeof(q.agency), ag->name);
	q.role = ag->role;
	audit_transfer_query(c, &q);
}

/* GET /v1/receipts/{kind}/{id}: the receipt with its inclusion proof in
 * the newest cosigned checkpoint, for whoever may read the transfer. */
static void
transfer_receipt_query(struct relay_conn *c, const char *url, size_t len)
{
	const struct cfg_agency		*ag = &c->r->cf->agencies[c->agency];
	struct ipc_transfer_query	 q;
	const char			*p = url + 13, *end = url + len, *slash;
	enum instr_kind			 k;

	memset(&q, 0, sizeof(q));
	if (memchr(p, '?', (size_t)(end - p)) != NULL) {
		conn_reply_error(c, 400, "bad-query", "no parameters here");
		return;
	}
	if ((slash = memchr(p, '/', (size_t)(end - p))) != NULL)
		for (k = INSTR_COLLECTION; k <= INSTR_KIND_LAST; k++)
			if (strlen(instr_kind_name(k)) == (size_t)(slash - p) &&
			    memcmp(p, instr_kind_name(k), (size_t)(slash - p)) ==
			    0)
				q.kind = k;
	if (q.kind == 0 || (size_t)(end - slash - 1) == 0 ||
	    (size_t)(end - slash - 1) >= sizeof(q.id)) {
		conn_reply_error(c, 404, "no-receipt",
		    "no such receipt: /v1/receipts/{kind}/{id}");
		return;
	}
	memcpy(q.id, slash + 1, (size_t)(end - slash - 1));
	if (!instr_id_ok(q.id)) {
		conn_reply_error(c, 400, "bad-id", "not an instruction id");
		return;
	}
	str_copy(q.agency, sizeof(q.agency), ag->name);
	q.role = ag->role;
	q.receipt = 1;
	audit_transfer_query(c, &q);
}

/* Runs the endpoint's adapter over the whole body. 0 and *in filled, or -1
 * with err. */
static int
transfer_parse(struct relay_conn *c, struct transfer *t, const char *body,
    size_t len, struct instr *in, struct adapter_error *err)
{
	const struct cfg_agency	*ag = &c->r->cf->agencies[c->agency];
	size_t			 max = c->r->cf->limits.max_body;
	const char		*cs = t->charset[0] ? t->charset : NULL;

	switch (t->def->ep) {
	case TE_COLLECTIONS:
		return tax_parse(body, len, cs, in, err);
	case TE_REMITTANCES:
		return finance_parse_remittance(body, len, max, ag->city, in, err);
	case TE_PLANS:
		return hrss_parse_plan(body, len, max, in, err);
	case TE_REVIEW:
		return finance_parse_review(body, len, max, t->path_id, in, err);
	case TE_DISBURSEMENTS:
		return hrss_parse_disbursement(body, len, max, in, err);
	case TE_BANK_STATUS:
		return pain002_parse(body, len, cs, in, err);
	case TE_BANK_NOTIFICATIONS:
		return camt054_parse(body, len, cs, in, err);
	case TE_ACCOUNT_CHANGES:
		return accounts_parse_change(body, len, max, in, err);
	case TE_ACCOUNT_REVIEW:
		return accounts_parse_review(body, len, max, t->path_id, in,
		    err);
	case TE_ACCOUNTS:
	case TE_ACCOUNT_LIST:
	case TE_TRANSFERS:
	case TE_RECEIPTS:
	case TE_REPORT:
	case TE_ALERTS:
	case TE_INSPECTION:
		break;
	}
	adapter_fail(err, 404, "no-route", NULL, "no such endpoint");
	return -1;
}

void
transfer_done(struct relay_conn *c, const char *url, size_t ulen)
{
	const struct cfg_agency	*ag = &c->r->cf->agencies[c->agency];
	struct transfer		*t = c->xfer;
	struct adapter_error	 err;
	struct ipc_instr	 m;
	struct instr		 in;
	const char		*body;
	char			*canon;
	size_t			 len, clen;
	unsigned int		 dlen;

	if (t->read == TE_REPORT || t->read == TE_ALERTS ||
	    t->read == TE_ACCOUNTS || t->read == TE_ACCOUNT_LIST ||
	    t->read == TE_INSPECTION) {
		transfer_report(c, t, url, ulen);
		return;
	}
	if (t->read == TE_RECEIPTS) {
		transfer_receipt_query(c, url, ulen);
		return;
	}
	if (t->def == NULL) {
		transfer_query(c, url, ulen);
		return;
	}
	memset(&err, 0, sizeof(err));
	len = evbuffer_get_length(t->body);
	body = (const char *)evbuffer_pullup(t->body, -1);
	if (body == NULL && len > 0) {
		conn_reply_error(c, 503, "out-of-memory", "try again");
		return;
	}
	if (transfer_parse(c, t, body ? body : "", len, &in, &err) == -1) {
		transfer_refuse(c, err.status ? err.status : 400,
		    err.code[0] ? err.code : "malformed", err.field, err.detail);
		return;
	}
	if (instr_canonical(&in, &canon, &clen) == -1) {
		instr_free(&in);
		transfer_refuse(c, 500, "internal", "",
		    "the instruction cannot be serialized");
		return;
	}
	memset(&m, 0, sizeof(m));
	str_copy(m.request_id, sizeof(m.request_id), c->rid);
	str_copy(m.agency, sizeof(m.agency), ag->name);
	str_copy(m.city, sizeof(m.city), ag->city);
	m.role = ag->role;
	m.kind = in.kind;
	m.request_bytes = len;
	EVP_Digest(body ? body : "", len, m.request_sha256, &dlen,
	    c->r->sha256, NULL);
	instr_free(&in);
	if (clen + sizeof(m) > IPC_MAX_PAYLOAD) {
		free(canon);
		transfer_refuse(c, 413, "too-large", "",
		    "the instruction is too large");
		return;
	}
	if (audit_instr(c, &m, canon, clen) == -1)
		transfer_refuse(c, 503, "audit-unavailable",
		    "", "the audit log cannot take the instruction now");
	free(canon);
}

/* A tax receipt (XML) from the keeper's JSON receipt. 0 or -1. */
static int
transfer_tax_receipt(struct transfer *t, const char *json, size_t len,
    char **out, size_t *olen)
{
	struct adapter_error	 err;
	struct tax_receipt	 rc;
	json_t			*o;
	int			 ret;

	memset(&err, 0, sizeof(err));
	memset(&rc, 0, sizeof(rc));
	if ((o = json_loadb(json, len, 0, NULL)) == NULL)
		return -1;
	rc.status = TAX_ACCEPTED;
	rc.batch_id = json_string_value(json_object_get(o, "id"));
	rc.has_index = 1;
	rc.audit_index = (uint64_t)json_integer_value(json_object_get(o,
	    "audit_index"));
	rc.signature = json_string_value(json_object_get(json_object_get(o,
	    "signature"), "value"));
	rc.key_id = json_string_value(json_object_get(json_object_get(o,
	    "signature"), "key_id"));
	rc.digest = json_string_value(json_object_get(o, "digest"));
	ret = tax_receipt(&rc, t->charset[0] ? t->charset : NULL, out, olen,
	    &err);
	json_decref(o);
	return ret;
}

void
transfer_reply(struct relay_conn *c, const struct ipc_instr_reply *a,
    const char *body, size_t blen)
{
	struct transfer	*t = c->xfer;
	char		*xml, detail[256], ctype[64];
	size_t		 xlen;
	const char	*extra = (a->flags & IPC_INSTR_REPLAYED) ?
			    "Idempotent-Replayed: true\r\n" : NULL;

	c->logged = a->status != 503 || a->index != 0;
	c->logged_index = a->index;
	if (a->status >= 400) {
		str_copy(detail, sizeof(detail), "");
		if (blen < sizeof(detail)) {
			memcpy(detail, body, blen);
			detail[blen] = '\0';
		}
		transfer_refuse(c, a->status, a->code, "", detail);
		return;
	}
	if (t->def->ep == TE_COLLECTIONS) {
		if (transfer_tax_receipt(t, body, blen, &xml, &xlen) == -1) {
			conn_reply_error(c, 500, "internal",
			    "the receipt cannot be written");
			return;
		}
		str_printf(ctype, sizeof(ctype), "application/xml; charset=%s",
		    t->charset[0] ? t->charset : "UTF-8");
		conn_reply_extra(c, a->status, ctype, xml, xlen, extra);
		free(xml);
		return;
	}
	conn_reply_extra(c, a->status, "application/json", body, blen, extra);
}
