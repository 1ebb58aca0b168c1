/* Unit tests for the keeper's ledger (gateway/keeper/ledger.c with outbox.c,
 * alerts.c, report.c, store.c, registry.c): every rule of the fund (DESIGN
 * §1) at its boundary, through the real ledger_instr over a real SQLite store
 * in a temporary folder, each instruction in its own transaction as the
 * keeper's group commit runs it (store_begin, store_savepoint, ledger_instr,
 * store_release, store_commit). The configuration is a gateway.conf written
 * there and read with config_load; the account registry is the development
 * one (config/accounts.conf), the keys and certificates those of certs/dev
 * (`make pki`). Checked through the ledger's own answers: the reply (status,
 * rule, receipt, flags), the transfer view (ledger_transfer), the
 * reconciliation and the alerts (ledger_report) and the audit log's size.
 * Run from the repository root: paths like config/accounts.conf are relative
 * to it. */
#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"
#include "adapters/iso20022.h"
#include "adapters/tax.h"
#include "config.h"
#include "ipc.h"
#include "keeper/ledger.h"
#include "keeper/outbox.h"
#include "keeper/registry.h"
#include "keeper/report.h"
#include "keeper/sign.h"
#include "keeper/signer.h"
#include "keeper/store.h"
#include "log.h"
#include "util.h"

#define LT_ACCOUNTS		"config/accounts.conf"
#define LT_SCHEMAS		"config/schemas"

/* Two pooling areas most tests use, and accounts of config/accounts.conf
 * spelled out where a test is about the exact number. */
#define LT_LZ			"620100"	/* Lanzhou */
#define LT_JYG			"620200"	/* Jiayuguan */
#define LT_JC			"620300"	/* Jinchang */
#define LT_BY			"620400"	/* Baiyin */
#define LT_PROVINCE_SPECIAL	"270362000010000017"
#define LT_PROVINCE_EXPEND	"270362000020000015"
#define LT_LZ_SPECIAL		"270362010010000115"
#define LT_LZ_EXPEND		"270362010020000113"
#define LT_JYG_SPECIAL		"270362020010000122"
#define LT_JYG_EXPEND		"270362020020000120"
#define LT_UNKNOWN_ACCOUNT	"999900000000000001"
/* A GB 32100-2015 code whose check character is right. */
#define LT_USCC			"91350100M000100Y43"
/* The second bank's pin: no certificate, only an agency to answer as. */
#define LT_BANK2_PIN \
	"b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"

/* Who submits: what the relay would put in struct ipc_instr from the
 * verified certificate. */
struct lt_party {
	enum role	 role;
	const char	*agency;
	const char	*city;		/* bound city, "" if none */
};

static const struct lt_party lt_tax = { ROLE_TAX, "tax", "" };
static const struct lt_party lt_finance = { ROLE_FINANCE, "finance", "" };
static const struct lt_party lt_hrss = { ROLE_HRSS, "hrss", "" };
static const struct lt_party lt_bank = { ROLE_BANK, "bank", "" };
static const struct lt_party lt_bank2 = { ROLE_BANK, "bank2", "" };
/* A review sent under the plan submitter's own name (dual control). */
static const struct lt_party lt_hrss_as_reviewer = { ROLE_FINANCE, "hrss", "" };
static const struct lt_party lt_cities[] = {
	{ ROLE_FINANCE_CITY, "finance-city-620100", LT_LZ },
	{ ROLE_FINANCE_CITY, "finance-city-620200", LT_JYG },
	{ ROLE_FINANCE_CITY, "finance-city-620300", LT_JC },
	{ ROLE_FINANCE_CITY, "finance-city-620400", LT_BY },
};

/* One test's ledger: a temporary folder with gateway.conf and audit.db. */
struct lt {
	char			 dir[64];
	char			 conf[128];
	char			 db[128];
	struct config		*cf;
	struct store		*st;
	struct ledger		*lg;
	struct registry		*reg;
	unsigned		 nreq;
	struct ledger_reply	 reply;		/* the last answer */
};

/* The repository root (the tests run from it): absolute paths for the
 * configuration written in the temporary folder. */
static char lt_root[PATH_MAX];

/* ---- fixture ---- */

static int
lt_setup(void **state)
{
	struct lt	*t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	str_copy(t->dir, sizeof(t->dir), "/tmp/gw-test-ledger.XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	str_printf(t->conf, sizeof(t->conf), "%s/gateway.conf", t->dir);
	str_printf(t->db, sizeof(t->db), "%s/audit.db", t->dir);
	*state = t;
	return 0;
}

static int
lt_teardown(void **state)
{
	struct lt	*t = *state;
	struct dirent	*de;
	DIR		*d;
	char		 p[PATH_MAX];

	free(t->reply.body);
	ledger_free(t->lg);
	store_close(t->st);
	config_free(t->cf);
	registry_free(t->reg);
	if ((d = opendir(t->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (str_printf(p, sizeof(p), "%s/%s", t->dir,
			    de->d_name) == 0)
				unlink(p);
		}
		closedir(d);
	}
	rmdir(t->dir);
	free(t);
	return 0;
}

/* gateway.conf with every section the ledger reads; rules is the body of
 * [rules] (may be ""). */
static void
lt_write_conf(const struct lt *t, const char *rules)
{
	static const struct { const char *name, *role, *city; } agencies[] = {
		{ "tax", "tax", NULL },
		{ "finance", "finance", NULL },
		{ "hrss", "hrss", NULL },
		{ "bank", "bank", NULL },
		{ "finance-city-620100", "finance-city", LT_LZ },
		{ "finance-city-620200", "finance-city", LT_JYG },
		{ "finance-city-620300", "finance-city", LT_JC },
		{ "finance-city-620400", "finance-city", LT_BY },
		{ "admin", "admin", NULL },
	};
	static const struct { const char *name; unsigned port; } ups[] = {
		{ "finance", 19441 }, { "hrss", 19442 }, { "bank", 19443 },
	};
	static const struct { const char *name; unsigned port; } lis[] = {
		{ "agency", 18443 }, { "admin", 18444 },
	};
	const char	*r = lt_root;
	FILE		*fp;
	size_t		 i;

	assert_non_null(fp = fopen(t->conf, "w"));
	fprintf(fp, "[gateway]\nworkers = 1\nsandbox = no\n\n");
	for (i = 0; i < nitems(lis); i++)
		fprintf(fp, "[listener %s]\nlisten = 127.0.0.1:%u\n"
		    "cert = %s/certs/dev/gateway.crt\n"
		    "key = %s/certs/dev/gateway.key\n"
		    "ca = %s/certs/dev/ca.crt\n\n", lis[i].name, lis[i].port,
		    r, r, r);
	fprintf(fp, "[keeper]\ndatabase = %s\ncheckpoint_file = %s/checkpoint\n"
	    "origin = test.gateway.local/audit\n"
	    "log_key = %s/certs/dev/log.key\n"
	    "signing_key = %s/certs/dev/signing.key\n"
	    "accounts = %s/%s\n\n", t->db, t->dir, r, r, r, LT_ACCOUNTS);
	for (i = 0; i < nitems(agencies); i++) {
		fprintf(fp, "[agency %s]\nrole = %s\n", agencies[i].name,
		    agencies[i].role);
		if (agencies[i].city != NULL)
			fprintf(fp, "city = %s\n", agencies[i].city);
		fprintf(fp, "pin_cert = %s/certs/dev/%s.crt\n\n", r,
		    agencies[i].name);
	}
	fprintf(fp, "[agency bank2]\nrole = bank\npin = %s\n\n", LT_BANK2_PIN);
	for (i = 0; i < nitems(ups); i++)
		fprintf(fp, "[upstream %s]\nurl = https://127.0.0.1:%u\n"
		    "ca = %s/certs/dev/ca.crt\n"
		    "cert = %s/certs/dev/gateway-client.crt\n"
		    "key = %s/certs/dev/gateway-client.key\n\n", ups[i].name,
		    ups[i].port, r, r, r);
	fprintf(fp, "[courier]\nfinance = finance\nhrss = hrss\n\n");
	fprintf(fp, "[bank bank]\nupstream = bank\ncharset = GB18030\n"
	    "signing_key = %s/certs/dev/bank-sign.key\n\n", r);
	fprintf(fp, "[rules]\n%s\n", rules);
	assert_int_equal(fclose(fp), 0);
}

/* Opens the test's ledger with rules (the body of [rules]). */
static struct lt *
lt_open(void **state, const char *rules)
{
	struct lt	*t = *state;

	lt_write_conf(t, rules);
	assert_non_null(t->cf = config_load(t->conf));
	assert_int_equal(store_open(t->db, 0, &t->st), 0);
	assert_int_equal(ledger_open(t->cf, t->st, &t->lg), 0);
	/* As the keeper's start does: the file's registry becomes the log's. */
	assert_int_equal(store_begin(t->st), 0);
	assert_int_equal(ledger_accounts_seed(t->lg), 0);
	assert_int_equal(store_commit(t->st), 0);
	assert_int_equal(registry_load(LT_ACCOUNTS, &t->reg), 0);
	return t;
}

/* Most tests keep the capacity warning out of the way. */
static struct lt *
lt_open_quiet(void **state)
{
	return lt_open(state, "capacity_months = 0");
}

static const struct lt_party *
lt_city(const char *city)
{
	size_t	i;

	for (i = 0; i < nitems(lt_cities); i++)
		if (strcmp(lt_cities[i].city, city) == 0)
			return &lt_cities[i];
	fail_msg("no finance-city party for %s", city);
	return NULL;
}

/* The registry's account number of that role (and city). */
static const char *
lt_account(const struct lt *t, enum registry_role role, const char *city)
{
	const struct registry_account	*a;

	assert_non_null(a = registry_find(t->reg, role, city));
	return a->number;
}

/* ---- one exchange ---- */

/* Runs canonical bytes of kind as the keeper does, in their own
 * transaction; the answer is t->reply. ledger_instr's result: -1 (the store
 * refused it, the keeper answers 503) rolls the transaction back. */
static int
lt_exchange(struct lt *t, const struct lt_party *p, enum instr_kind kind,
    const char *canon, size_t len)
{
	struct ipc_instr	m;
	int			rc;

	memset(&m, 0, sizeof(m));
	str_printf(m.request_id, sizeof(m.request_id), "lt-%u", ++t->nreq);
	str_copy(m.agency, sizeof(m.agency), p->agency);
	str_copy(m.city, sizeof(m.city), p->city);
	m.role = (uint32_t)p->role;
	m.kind = (uint32_t)kind;
	m.request_bytes = len;
	SHA256((const unsigned char *)canon, len, m.request_sha256);
	free(t->reply.body);
	memset(&t->reply, 0, sizeof(t->reply));
	if (store_begin(t->st) == -1 || store_savepoint(t->st) == -1)
		return -1;
	rc = ledger_instr(t->lg, 0, &m, canon, len, &t->reply);
	if (rc == 0 && store_release(t->st) == 0 && store_commit(t->st) == 0)
		return 0;
	store_rollback_savepoint(t->st);
	store_rollback(t->st);
	return -1;
}

/* Submits in; the store must take it (whatever the verdict). */
static int
lt_submit(struct lt *t, const struct lt_party *p, const struct instr *in)
{
	char	*canon = NULL;
	size_t	 len = 0;
	int	 rc;

	assert_int_equal(instr_canonical(in, &canon, &len), 0);
	rc = lt_exchange(t, p, in->kind, canon, len);
	free(canon);
	if (rc != 0)
		fail_msg("%s %s: ledger_instr failed (the store refused it: "
		    "the keeper would answer 503)", instr_kind_name(in->kind),
		    in->id);
	return t->reply.status;
}

/* in is refused with status and rule: one audit entry (this exchange's),
 * no replay flag. in is freed. */
static void
lt_refused(struct lt *t, const struct lt_party *p, struct instr *in,
    int status, const char *rule)
{
	uint64_t	before = store_size(t->st);

	lt_submit(t, p, in);
	if (t->reply.status != status || strcmp(t->reply.code, rule) != 0)
		fail_msg("%s %s: %d %s, expected %d %s",
		    instr_kind_name(in->kind), in->id, t->reply.status,
		    t->reply.code, status, rule);
	assert_int_equal(t->reply.flags, 0);
	assert_true(store_size(t->st) == before + 1);
	assert_true(t->reply.index == before);
	assert_non_null(t->reply.body);
	instr_free(in);
}

/* in is accepted (202; 200 "recorded" for bank reports) with a receipt
 * naming it and this exchange's entry. in is freed. */
static void
lt_accepted(struct lt *t, const struct lt_party *p, struct instr *in)
{
	int		 bank = in->kind == INSTR_BANK_STATUS ||
			    in->kind == INSTR_BANK_NOTIFICATION;
	uint64_t	 before = store_size(t->st);
	json_t		*rec;

	lt_submit(t, p, in);
	if (t->reply.status != (bank ? 200 : 202))
		fail_msg("%s %s: refused %d %s (%.*s)",
		    instr_kind_name(in->kind), in->id, t->reply.status,
		    t->reply.code, (int)t->reply.blen,
		    t->reply.body ? t->reply.body : "");
	assert_int_equal(t->reply.flags, 0);
	assert_string_equal(t->reply.code, "");
	assert_true(t->reply.index == before);
	assert_non_null(rec = json_loadb(t->reply.body, t->reply.blen, 0,
	    NULL));
	assert_string_equal(json_string_value(json_object_get(rec, "status")),
	    bank ? "recorded" : "accepted");
	assert_string_equal(json_string_value(json_object_get(rec, "kind")),
	    instr_kind_name(in->kind));
	assert_string_equal(json_string_value(json_object_get(rec, "id")),
	    in->id);
	assert_true(json_integer_value(json_object_get(rec, "audit_index")) ==
	    (json_int_t)t->reply.index);
	assert_non_null(json_object_get(rec, "signature"));
	json_decref(rec);
	instr_free(in);
}

/* ---- instructions ---- */

static void
lt_collection(struct instr *in, const char *id, const char *city,
    const char *period, int64_t fen)
{
	struct instr_collection	*c = &in->u.collection;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_COLLECTION;
	str_copy(in->id, sizeof(in->id), id);
	str_copy(c->city, sizeof(c->city), city);
	str_copy(c->period, sizeof(c->period), period);
	str_copy(c->collected_at, sizeof(c->collected_at),
	    "2024-01-31T16:00:00Z");
	str_copy(c->currency, sizeof(c->currency), "CNY");
	c->total_fen = fen;
	c->count = 1;
	c->nitems = 1;
	assert_non_null(c->items = calloc(1, sizeof(*c->items)));
	str_copy(c->items[0].employer_id, sizeof(c->items[0].employer_id),
	    LT_USCC);
	str_copy(c->items[0].employer_name, sizeof(c->items[0].employer_name),
	    "兰州测试机械有限公司");
	c->items[0].insured = 12;
	c->items[0].amount_fen = fen;
}

static void
lt_remittance(struct instr *in, const char *id, const char *city,
    const char *period, int64_t fen, const char *from, const char *to,
    const char *value_date)
{
	struct instr_remittance	*r = &in->u.remittance;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_REMITTANCE;
	str_copy(in->id, sizeof(in->id), id);
	str_copy(r->city, sizeof(r->city), city);
	str_copy(r->period, sizeof(r->period), period);
	r->amount_fen = fen;
	str_copy(r->from_account, sizeof(r->from_account), from);
	str_copy(r->to_account, sizeof(r->to_account), to);
	str_copy(r->value_date, sizeof(r->value_date), value_date);
}

static void
lt_plan(struct instr *in, const char *id, const char *city,
    const char *period, int64_t fen, const char *amends)
{
	struct instr_plan	*p = &in->u.plan;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_PLAN;
	str_copy(in->id, sizeof(in->id), id);
	str_copy(p->city, sizeof(p->city), city);
	str_copy(p->period, sizeof(p->period), period);
	p->nitems = 1;
	str_copy(p->items[0].benefit, sizeof(p->items[0].benefit), "medical");
	p->items[0].amount_fen = fen;
	p->total_fen = fen;
	str_copy(p->approved_by, sizeof(p->approved_by), "省社会保险事业管理局");
	str_copy(p->approved_at, sizeof(p->approved_at),
	    "2024-02-01T08:00:00Z");
	str_copy(p->amends, sizeof(p->amends), amends ? amends : "");
}

/* A review of plan: approved_fen >= 0 approves that much, -1 rejects. */
static void
lt_review(struct instr *in, const char *plan, int64_t approved_fen)
{
	struct instr_review	*r = &in->u.review;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_REVIEW;
	str_copy(in->id, sizeof(in->id), plan);
	str_copy(r->plan_id, sizeof(r->plan_id), plan);
	r->approved = approved_fen >= 0;
	r->approved_total_fen = approved_fen >= 0 ? approved_fen : -1;
	str_copy(r->reviewed_by, sizeof(r->reviewed_by), "省财政厅社会保障处");
	str_copy(r->reviewed_at, sizeof(r->reviewed_at),
	    "2024-02-02T08:00:00Z");
}

/* A disbursement of n lines (plan, amount) to the default bank. */
static void
lt_disbursement(struct instr *in, const char *id,
    const struct instr_disbursement_line *lines, size_t n)
{
	struct instr_disbursement	*d = &in->u.disbursement;

	assert_true(n >= 1 && n <= INSTR_MAX_LINES);
	memset(in, 0, sizeof(*in));
	in->kind = INSTR_DISBURSEMENT;
	str_copy(in->id, sizeof(in->id), id);
	str_copy(d->requested_execution_date,
	    sizeof(d->requested_execution_date), "2024-02-05");
	memcpy(d->lines, lines, n * sizeof(*lines));
	d->nlines = n;
}

static void
lt_disbursement1(struct instr *in, const char *id, const char *plan,
    int64_t fen)
{
	struct instr_disbursement_line	l;

	memset(&l, 0, sizeof(l));
	str_copy(l.plan_id, sizeof(l.plan_id), plan);
	l.amount_fen = fen;
	lt_disbursement(in, id, &l, 1);
}

/* A pain.002 for disbursement orig: transaction statuses, or (n == 0) a
 * group status for every payment of the file. */
static void
lt_status(struct instr *in, const char *id, const char *orig,
    const char *group, const struct instr_tx_status *tx, size_t n)
{
	struct instr_bank_status	*b = &in->u.bank_status;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_BANK_STATUS;
	str_copy(in->id, sizeof(in->id), id);
	str_copy(b->original_msg_id, sizeof(b->original_msg_id), orig);
	str_copy(b->group_status, sizeof(b->group_status), group ? group : "");
	if (n > 0) {
		assert_non_null(b->tx = calloc(n, sizeof(*b->tx)));
		memcpy(b->tx, tx, n * sizeof(*tx));
	}
	b->ntx = n;
}

static void
lt_status1(struct instr *in, const char *id, const char *orig,
    const char *e2e, const char *status, const char *reason)
{
	struct instr_tx_status	tx;

	memset(&tx, 0, sizeof(tx));
	str_copy(tx.end_to_end_id, sizeof(tx.end_to_end_id), e2e);
	str_copy(tx.status, sizeof(tx.status), status);
	str_copy(tx.reason, sizeof(tx.reason), reason ? reason : "");
	str_copy(tx.bank_reference, sizeof(tx.bank_reference), "BR-0001");
	lt_status(in, id, orig, NULL, &tx, 1);
}

/* A camt.054 of one entry. */
static void
lt_notification1(struct instr *in, const char *id, const char *account,
    int credit, int64_t fen, const char *booking_date, const char *e2e,
    const char *reference)
{
	struct instr_bank_notification	*b = &in->u.bank_notification;
	struct instr_bank_entry		*e;

	memset(in, 0, sizeof(*in));
	in->kind = INSTR_BANK_NOTIFICATION;
	str_copy(in->id, sizeof(in->id), id);
	assert_non_null(e = calloc(1, sizeof(*e)));
	str_copy(e->account, sizeof(e->account), account);
	e->credit = credit;
	e->amount_fen = fen;
	str_copy(e->booking_date, sizeof(e->booking_date), booking_date);
	str_copy(e->end_to_end_id, sizeof(e->end_to_end_id), e2e ? e2e : "");
	str_copy(e->reference, sizeof(e->reference), reference ? reference : "");
	b->entries = e;
	b->nentries = 1;
}

/* ---- accepted steps, for the state a test starts from ---- */

static void
lt_collect(struct lt *t, const char *id, const char *city,
    const char *period, int64_t fen)
{
	struct instr	in;

	lt_collection(&in, id, city, period, fen);
	lt_accepted(t, &lt_tax, &in);
}

/* The city's full remittance: city-special to province-special. */
static void
lt_remit(struct lt *t, const char *id, const char *city, const char *period,
    int64_t fen, const char *value_date)
{
	struct instr	in;

	lt_remittance(&in, id, city, period, fen,
	    lt_account(t, REG_CITY_SPECIAL, city),
	    lt_account(t, REG_PROVINCE_SPECIAL, NULL), value_date);
	lt_accepted(t, lt_city(city), &in);
}

static void
lt_submit_plan(struct lt *t, const char *id, const char *city,
    const char *period, int64_t fen, const char *amends)
{
	struct instr	in;

	lt_plan(&in, id, city, period, fen, amends);
	lt_accepted(t, &lt_hrss, &in);
}

static void
lt_submit_review(struct lt *t, const char *plan, int64_t approved_fen)
{
	struct instr	in;

	lt_review(&in, plan, approved_fen);
	lt_accepted(t, &lt_finance, &in);
}

/* A plan of total fen, approved for approved_fen. */
static void
lt_approved_plan(struct lt *t, const char *id, const char *city,
    const char *period, int64_t fen, int64_t approved_fen)
{
	lt_submit_plan(t, id, city, period, fen, NULL);
	lt_submit_review(t, id, approved_fen);
}

static void
lt_disburse(struct lt *t, const char *id, const char *plan, int64_t fen)
{
	struct instr	in;

	lt_disbursement1(&in, id, plan, fen);
	lt_accepted(t, &lt_hrss, &in);
}

/* ---- what the ledger shows ---- */

/* GET /v1/transfers/{id}?kind= as admin: the JSON text (the caller's). */
static char *
lt_transfer_text(struct lt *t, enum instr_kind kind, const char *id)
{
	struct ipc_transfer_query	q;
	struct ipc_audit_reply		r;
	char				*body = NULL;
	size_t				 blen = 0;

	memset(&q, 0, sizeof(q));
	str_copy(q.agency, sizeof(q.agency), "admin");
	q.role = ROLE_ADMIN;
	q.kind = (uint32_t)kind;
	str_copy(q.id, sizeof(q.id), id);
	ledger_transfer(t->lg, &q, &r, &body, &blen);
	assert_non_null(body);
	if (r.status != 200)
		fail_msg("transfer %s %s: %d %s", instr_kind_name(kind), id,
		    r.status, body);
	assert_true(strlen(body) == blen);
	return body;
}

static json_t *
lt_transfer(struct lt *t, enum instr_kind kind, const char *id)
{
	char	*body = lt_transfer_text(t, kind, id);
	json_t	*o = json_loads(body, 0, NULL);

	free(body);
	assert_non_null(o);
	return o;
}

static void
lt_assert_state(struct lt *t, enum instr_kind kind, const char *id,
    const char *state)
{
	json_t	*o = lt_transfer(t, kind, id);

	if (strcmp(json_string_value(json_object_get(o, "state")), state) != 0)
		fail_msg("%s %s is %s, expected %s", instr_kind_name(kind), id,
		    json_string_value(json_object_get(o, "state")), state);
	json_decref(o);
}

/* A plan's amount_fen, approved_fen (-1 for null) or disbursed_fen. */
static int64_t
lt_plan_figure(struct lt *t, const char *plan, const char *name)
{
	json_t	*o = lt_transfer(t, INSTR_PLAN, plan), *v;
	int64_t	 n;

	v = json_object_get(o, name);
	assert_non_null(v);
	n = json_is_null(v) ? -1 : (int64_t)json_integer_value(v);
	json_decref(o);
	return n;
}

/* The payments of a disbursement (a new reference). */
static json_t *
lt_payments(struct lt *t, const char *disbursement)
{
	json_t	*o = lt_transfer(t, INSTR_DISBURSEMENT, disbursement), *p;

	p = json_object_get(o, "payments");
	assert_true(json_is_array(p));
	json_incref(p);
	json_decref(o);
	return p;
}

/* The end-to-end id of line i of a disbursement into dst. */
static void
lt_e2e(struct lt *t, const char *disbursement, size_t i, char *dst,
    size_t dsz)
{
	json_t	*p = lt_payments(t, disbursement);

	assert_true(i < json_array_size(p));
	assert_int_equal(str_copy(dst, dsz, json_string_value(json_object_get(
	    json_array_get(p, i), "end_to_end_id"))), 0);
	json_decref(p);
}

static char *
lt_report_text(struct lt *t, enum ipc_report_what what, const char *period)
{
	struct ipc_report_query	q;
	struct ipc_audit_reply	r;
	char			*body = NULL;
	size_t			 blen = 0;

	memset(&q, 0, sizeof(q));
	q.what = (uint32_t)what;
	if (period != NULL)
		str_copy(q.period, sizeof(q.period), period);
	ledger_report(t->lg, &q, &r, &body, &blen);
	assert_non_null(body);
	if (r.status != 200)
		fail_msg("report %d %s: %d %s", (int)what,
		    period ? period : "", r.status, body);
	return body;
}

/* The reconciliation of period, as JSON. */
static json_t *
lt_recon(struct lt *t, const char *period)
{
	char	*body = lt_report_text(t, REPORT_RECONCILIATION, period);
	json_t	*o = json_loads(body, 0, NULL);

	free(body);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "period")),
	    period);
	return o;
}

static const json_t *
lt_recon_city(const json_t *rec, const char *city)
{
	const json_t	*row;
	size_t		 i;

	json_array_foreach(json_object_get(rec, "cities"), i, row)
		if (strcmp(json_string_value(json_object_get(row, "city_code")),
		    city) == 0)
			return row;
	fail_msg("no city %s in the reconciliation", city);
	return NULL;
}

static int64_t
lt_figure(const json_t *rec, const char *city, const char *column)
{
	const json_t	*v = json_object_get(lt_recon_city(rec, city), column);

	assert_true(json_is_integer(v));
	return (int64_t)json_integer_value(v);
}

/* Whether flag is among a city's flags (city NULL: the report's own). */
static int
lt_flagged(const json_t *rec, const char *city, const char *flag)
{
	const json_t	*flags, *f;
	size_t		 i;

	flags = json_object_get(city ? lt_recon_city(rec, city) : rec, "flags");
	assert_true(json_is_array(flags));
	json_array_foreach(flags, i, f)
		if (strcmp(json_string_value(f), flag) == 0)
			return 1;
	return 0;
}

static size_t
lt_nflags(const json_t *rec, const char *city)
{
	return json_array_size(json_object_get(city ?
	    lt_recon_city(rec, city) : rec, "flags"));
}

/* Every alert (GET /v1/alerts), a new reference to the array. */
static json_t *
lt_alerts(struct lt *t)
{
	char	*body = lt_report_text(t, REPORT_ALERTS, NULL);
	json_t	*o = json_loads(body, 0, NULL), *a;

	free(body);
	assert_non_null(o);
	a = json_object_get(o, "alerts");
	assert_true(json_is_array(a));
	json_incref(a);
	json_decref(o);
	return a;
}

/* The alerts of rule (and city and period, when not NULL). */
static size_t
lt_alert_count(struct lt *t, const char *rule, const char *city,
    const char *period)
{
	json_t	*a = lt_alerts(t), *e;
	size_t	 i, n = 0;

	json_array_foreach(a, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "rule")),
		    rule) != 0)
			continue;
		if (city != NULL && strcmp(json_string_value(json_object_get(e,
		    "city_code")), city) != 0)
			continue;
		if (period != NULL && strcmp(json_string_value(json_object_get(e,
		    "period")), period) != 0)
			continue;
		n++;
	}
	json_decref(a);
	return n;
}

/* The one alert of rule for (city, period): a new reference. */
static json_t *
lt_alert(struct lt *t, const char *rule, const char *city,
    const char *period)
{
	json_t	*a = lt_alerts(t), *e, *found = NULL;
	size_t	 i;

	assert_int_equal(lt_alert_count(t, rule, city, period), 1);
	json_array_foreach(a, i, e)
		if (strcmp(json_string_value(json_object_get(e, "rule")),
		    rule) == 0 && strcmp(json_string_value(json_object_get(e,
		    "city_code")), city) == 0 && strcmp(json_string_value(
		    json_object_get(e, "period")), period) == 0)
			found = e;
	assert_non_null(found);
	json_incref(found);
	json_decref(a);
	return found;
}

static int64_t
lt_int(const json_t *o, const char *name)
{
	const json_t	*v = json_object_get(o, name);

	if (!json_is_integer(v))
		fail_msg("\"%s\" is not an integer", name);
	return (int64_t)json_integer_value(v);
}

static const char *
lt_str(const json_t *o, const char *name)
{
	const json_t	*v = json_object_get(o, name);

	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", name);
	return json_string_value(v);
}

/* ledger_watch in its own transaction. */
static void
lt_watch(struct lt *t)
{
	assert_int_equal(store_begin(t->st), 0);
	assert_int_equal(ledger_watch(t->lg), 0);
	assert_int_equal(store_commit(t->st), 0);
}

/* ================= remittance ================= */

/* The city's city-special account to the province-special: accepted,
 * recorded for the reconciliation, nothing to warn about. */
static void
test_remittance_accepted(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	json_t		*rec, *tr;

	lt_collect(t, "C-LZ-2401", LT_LZ, "2024-01", 1234567);
	lt_remittance(&in, "R-LZ-2401", LT_LZ, "2024-01", 1234567,
	    LT_LZ_SPECIAL, LT_PROVINCE_SPECIAL, "2024-02-08");
	lt_accepted(t, lt_city(LT_LZ), &in);
	tr = lt_transfer(t, INSTR_REMITTANCE, "R-LZ-2401");
	assert_string_equal(lt_str(tr, "state"), "accepted");
	assert_string_equal(lt_str(tr, "agency"), "finance-city-620100");
	/* One delivery queued, to finance. */
	assert_int_equal(json_array_size(json_object_get(tr, "deliveries")), 1);
	json_decref(tr);
	rec = lt_recon(t, "2024-01");
	assert_true(lt_figure(rec, LT_LZ, "collected_fen") == 1234567);
	assert_true(lt_figure(rec, LT_LZ, "remitted_fen") == 1234567);
	assert_int_equal(lt_nflags(rec, LT_LZ), 0);
	json_decref(rec);
	assert_int_equal(lt_alert_count(t, "short-remittance", NULL, NULL), 0);
	assert_int_equal(lt_alert_count(t, "late-remittance", NULL, NULL), 0);
}

/* Both accounts must be in the registry; the payer is checked first. */
static void
test_remittance_not_in_registry(void **state)
{
	static const struct {
		const char	*from, *to, *rule;
	} cases[] = {
		{ LT_UNKNOWN_ACCOUNT, LT_PROVINCE_SPECIAL, "payer-not-in-registry" },
		{ LT_LZ_SPECIAL, LT_UNKNOWN_ACCOUNT, "payee-not-in-registry" },
		{ LT_UNKNOWN_ACCOUNT, "999900000000000002",
		    "payer-not-in-registry" },
		/* Near a real number is not in it. */
		{ "270362010010000116", LT_PROVINCE_SPECIAL,
		    "payer-not-in-registry" },
	};
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	json_t		*rec;
	char		 id[INSTR_ID_MAX];
	size_t		 i;

	for (i = 0; i < nitems(cases); i++) {
		str_printf(id, sizeof(id), "R-REG-%zu", i);
		lt_remittance(&in, id, LT_LZ, "2024-01", 100, cases[i].from,
		    cases[i].to, "2024-02-05");
		lt_refused(t, lt_city(LT_LZ), &in, 422, cases[i].rule);
	}
	rec = lt_recon(t, "2024-01");
	assert_true(lt_figure(rec, LT_LZ, "remitted_fen") == 0);
	json_decref(rec);
}

/* Only city-special (of the remitting city) to province-special. */
static void
test_remittance_edge_not_allowed(void **state)
{
	static const struct {
		const char	*city, *from, *to;
	} cases[] = {
		/* From the city's expenditure account. */
		{ LT_LZ, LT_LZ_EXPEND, LT_PROVINCE_SPECIAL },
		/* From another city's special account. */
		{ LT_LZ, LT_JYG_SPECIAL, LT_PROVINCE_SPECIAL },
		/* To a city account: special, expenditure. */
		{ LT_LZ, LT_LZ_SPECIAL, LT_JYG_SPECIAL },
		{ LT_LZ, LT_LZ_SPECIAL, LT_LZ_EXPEND },
		/* To the province's expenditure account. */
		{ LT_LZ, LT_LZ_SPECIAL, LT_PROVINCE_EXPEND },
		/* From the province's accounts. */
		{ LT_LZ, LT_PROVINCE_EXPEND, LT_PROVINCE_SPECIAL },
		{ LT_LZ, LT_PROVINCE_SPECIAL, LT_LZ_SPECIAL },
		/* Jiayuguan's own account for Lanzhou's remittance. */
		{ LT_JYG, LT_LZ_SPECIAL, LT_PROVINCE_SPECIAL },
	};
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	char		 id[INSTR_ID_MAX];
	size_t		 i;

	for (i = 0; i < nitems(cases); i++) {
		str_printf(id, sizeof(id), "R-EDGE-%zu", i);
		lt_remittance(&in, id, cases[i].city, "2024-01", 100,
		    cases[i].from, cases[i].to, "2024-02-05");
		lt_refused(t, lt_city(cases[i].city), &in, 422,
		    "edge-not-allowed");
	}
	/* The same edge the right way round goes through. */
	lt_remittance(&in, "R-EDGE-OK", LT_JYG, "2024-01", 100, LT_JYG_SPECIAL,
	    LT_PROVINCE_SPECIAL, "2024-02-05");
	lt_accepted(t, lt_city(LT_JYG), &in);
}

/* Remitted less than collected warns (with the figures); exactly the
 * collected amount does not. */
static void
test_remittance_short_alert(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	json_t		*a, *fig;
	uint64_t	 before;

	lt_collect(t, "C-LZ", LT_LZ, "2024-01", 100000);
	lt_collect(t, "C-JYG", LT_JYG, "2024-01", 100000);
	/* Short by one fen: accepted, with an alert entry of its own. */
	before = store_size(t->st);
	lt_remit(t, "R-LZ", LT_LZ, "2024-01", 99999, "2024-02-05");
	assert_true(store_size(t->st) == before + 2);
	a = lt_alert(t, "short-remittance", LT_LZ, "2024-01");
	fig = json_object_get(a, "figures");
	assert_true(lt_int(fig, "collected_fen") == 100000);
	assert_true(lt_int(fig, "remitted_fen") == 99999);
	assert_string_equal(lt_str(fig, "remittance_id"), "R-LZ");
	assert_true(lt_int(a, "audit_index") == (int64_t)before + 1);
	json_decref(a);
	/* Exactly what was collected: no alert, one entry. */
	before = store_size(t->st);
	lt_remit(t, "R-JYG", LT_JYG, "2024-01", 100000, "2024-02-05");
	assert_true(store_size(t->st) == before + 1);
	assert_int_equal(lt_alert_count(t, "short-remittance", LT_JYG, NULL), 0);
	assert_int_equal(lt_alert_count(t, "short-remittance", NULL, NULL), 1);
}

/* Late is after the due day, the 10th of the next month by default; the
 * due day itself is on time. */
static void
test_remittance_late_default_due_day(void **state)
{
	static const struct {
		const char	*period, *value_date;
		int		 late;
		const char	*due;
	} cases[] = {
		{ "2024-01", "2024-02-10", 0, "2024-02-10" },
		{ "2024-02", "2024-03-11", 1, "2024-03-10" },
		{ "2024-03", "2024-04-01", 0, "2024-04-10" },
		/* The year turns. */
		{ "2024-12", "2025-01-10", 0, "2025-01-10" },
		{ "2024-11", "2024-12-11", 1, "2024-12-10" },
		/* Long after: still late. */
		{ "2024-04", "2025-05-01", 1, "2024-05-10" },
	};
	struct lt	*t = lt_open_quiet(state);
	json_t		*a, *rec;
	char		 id[INSTR_ID_MAX];
	size_t		 i;

	assert_int_equal(t->cf->rules.due_day, 10);
	for (i = 0; i < nitems(cases); i++) {
		str_printf(id, sizeof(id), "R-LATE-%zu", i);
		lt_collect(t, id + 2, LT_LZ, cases[i].period, 500);
		lt_remit(t, id, LT_LZ, cases[i].period, 500,
		    cases[i].value_date);
		assert_int_equal(lt_alert_count(t, "late-remittance", LT_LZ,
		    cases[i].period), cases[i].late);
		rec = lt_recon(t, cases[i].period);
		assert_int_equal(lt_flagged(rec, LT_LZ, "late-remittance"),
		    cases[i].late);
		json_decref(rec);
		if (!cases[i].late)
			continue;
		a = lt_alert(t, "late-remittance", LT_LZ, cases[i].period);
		assert_string_equal(lt_str(json_object_get(a, "figures"),
		    "due_date"), cases[i].due);
		assert_string_equal(lt_str(json_object_get(a, "figures"),
		    "value_date"), cases[i].value_date);
		json_decref(a);
	}
}

/* [rules] remittance_due_day moves the due day. */
static void
test_remittance_late_configured_due_day(void **state)
{
	static const struct {
		const char	*period, *value_date;
		int		 late;
	} cases[] = {
		/* Late with the default 10th, on time with the 25th. */
		{ "2024-01", "2024-02-11", 0 },
		{ "2024-02", "2024-03-25", 0 },
		{ "2024-03", "2024-04-26", 1 },
		{ "2024-12", "2025-01-26", 1 },
	};
	struct lt	*t = lt_open(state,
			    "capacity_months = 0\nremittance_due_day = 25");
	json_t		*a;
	char		 id[INSTR_ID_MAX];
	size_t		 i;

	assert_int_equal(t->cf->rules.due_day, 25);
	for (i = 0; i < nitems(cases); i++) {
		str_printf(id, sizeof(id), "R-DUE25-%zu", i);
		lt_remit(t, id, LT_JYG, cases[i].period, 700,
		    cases[i].value_date);
		assert_int_equal(lt_alert_count(t, "late-remittance", LT_JYG,
		    cases[i].period), cases[i].late);
	}
	a = lt_alert(t, "late-remittance", LT_JYG, "2024-03");
	assert_string_equal(lt_str(json_object_get(a, "figures"), "due_date"),
	    "2024-04-25");
	json_decref(a);
}

/* ================= plans ================= */

/* One plan stands per city and month. */
static void
test_plan_exists(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	json_t		*rec;

	lt_submit_plan(t, "P-LZ-2403", LT_LZ, "2024-03", 500000, NULL);
	lt_assert_state(t, INSTR_PLAN, "P-LZ-2403", "submitted");
	lt_plan(&in, "P-LZ-2403-B", LT_LZ, "2024-03", 400000, NULL);
	lt_refused(t, &lt_hrss, &in, 422, "plan-exists");
	/* A rejected plan still stands: a new one must amend it. */
	lt_submit_review(t, "P-LZ-2403", -1);
	lt_assert_state(t, INSTR_PLAN, "P-LZ-2403", "rejected");
	lt_plan(&in, "P-LZ-2403-C", LT_LZ, "2024-03", 400000, NULL);
	lt_refused(t, &lt_hrss, &in, 422, "plan-exists");
	/* Another city, another month: their own plans. */
	lt_submit_plan(t, "P-JYG-2403", LT_JYG, "2024-03", 300000, NULL);
	lt_submit_plan(t, "P-LZ-2404", LT_LZ, "2024-04", 200000, NULL);
	rec = lt_recon(t, "2024-03");
	assert_true(lt_figure(rec, LT_LZ, "planned_fen") == 500000);
	assert_true(lt_figure(rec, LT_JYG, "planned_fen") == 300000);
	json_decref(rec);
}

/* An amendment naming the standing plan replaces it. */
static void
test_plan_amendment(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	json_t		*rec;

	lt_approved_plan(t, "P1", LT_LZ, "2024-03", 500000, 450000);
	lt_submit_plan(t, "P1-A", LT_LZ, "2024-03", 600000, "P1");
	lt_assert_state(t, INSTR_PLAN, "P1", "superseded");
	lt_assert_state(t, INSTR_PLAN, "P1-A", "submitted");
	/* Only the standing plan counts; nothing is reviewed any more. */
	rec = lt_recon(t, "2024-03");
	assert_true(lt_figure(rec, LT_LZ, "planned_fen") == 600000);
	assert_true(lt_figure(rec, LT_LZ, "reviewed_fen") == 0);
	json_decref(rec);
	/* The amendment is reviewed and amended in turn. */
	lt_submit_review(t, "P1-A", 600000);
	lt_assert_state(t, INSTR_PLAN, "P1-A", "approved");
	lt_submit_plan(t, "P1-B", LT_LZ, "2024-03", 550000, "P1-A");
	lt_assert_state(t, INSTR_PLAN, "P1-A", "superseded");
	lt_assert_state(t, INSTR_PLAN, "P1", "superseded");
	lt_assert_state(t, INSTR_PLAN, "P1-B", "submitted");
}

/* amends must name a plan of the same city and month. */
static void
test_plan_bad_amends(void **state)
{
	static const struct {
		const char	*amends, *city, *period;
	} cases[] = {
		{ "P-JYG", LT_LZ, "2024-03" },		/* another city */
		{ "P-LZ-04", LT_LZ, "2024-03" },	/* another month */
		{ "NO-SUCH-PLAN", LT_LZ, "2024-03" },	/* unknown */
		/* A standing plan, but of another city than the amendment. */
		{ "P-LZ", LT_JYG, "2024-03" },
	};
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	char		 id[INSTR_ID_MAX];
	size_t		 i;

	lt_submit_plan(t, "P-LZ", LT_LZ, "2024-03", 1000, NULL);
	lt_submit_plan(t, "P-JYG", LT_JYG, "2024-03", 1000, NULL);
	lt_submit_plan(t, "P-LZ-04", LT_LZ, "2024-04", 1000, NULL);
	for (i = 0; i < nitems(cases); i++) {
		str_printf(id, sizeof(id), "A-BAD-%zu", i);
		lt_plan(&in, id, cases[i].city, cases[i].period, 2000,
		    cases[i].amends);
		lt_refused(t, &lt_hrss, &in, 422, "bad-amends");
	}
	lt_assert_state(t, INSTR_PLAN, "P-LZ", "submitted");
	lt_assert_state(t, INSTR_PLAN, "P-JYG", "submitted");
	lt_assert_state(t, INSTR_PLAN, "P-LZ-04", "submitted");
}

/* A superseded plan can be neither amended again nor paid. */
static void
test_plan_superseded(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;

	lt_approved_plan(t, "P1", LT_LZ, "2024-03", 1000, 1000);
	lt_submit_plan(t, "P1-A", LT_LZ, "2024-03", 1200, "P1");
	lt_plan(&in, "P1-B", LT_LZ, "2024-03", 1300, "P1");
	lt_refused(t, &lt_hrss, &in, 422, "plan-superseded");
	lt_disbursement1(&in, "D-OLD", "P1", 1);
	lt_refused(t, &lt_hrss, &in, 422, "plan-superseded");
	/* The standing one may be amended. */
	lt_submit_plan(t, "P1-B", LT_LZ, "2024-03", 1300, "P1-A");
	lt_assert_state(t, INSTR_PLAN, "P1-A", "superseded");
	assert_true(lt_plan_figure(t, "P1", "disbursed_fen") == 0);
}

/* ================= reviews ================= */

static void
test_review_unknown_plan(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;

	lt_review(&in, "NO-SUCH-PLAN", 100);
	lt_refused(t, &lt_finance, &in, 422, "unknown-plan");
	lt_review(&in, "NO-SUCH-PLAN", -1);
	lt_refused(t, &lt_finance, &in, 422, "unknown-plan");
}

/* At most the plan's total: total + 1 refused, total accepted. */
static void
test_review_exceeds_plan(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	json_t		*rec;

	lt_submit_plan(t, "P1", LT_LZ, "2024-03", 1000, NULL);
	lt_review(&in, "P1", 1001);
	lt_refused(t, &lt_finance, &in, 422, "review-exceeds-plan");
	lt_assert_state(t, INSTR_PLAN, "P1", "submitted");
	assert_true(lt_plan_figure(t, "P1", "approved_fen") == -1);
	lt_submit_review(t, "P1", 1000);
	lt_assert_state(t, INSTR_PLAN, "P1", "approved");
	assert_true(lt_plan_figure(t, "P1", "approved_fen") == 1000);
	rec = lt_recon(t, "2024-03");
	assert_true(lt_figure(rec, LT_LZ, "reviewed_fen") == 1000);
	json_decref(rec);
	/* Less than the total is fine too. */
	lt_submit_plan(t, "P2", LT_JYG, "2024-03", 1000, NULL);
	lt_submit_review(t, "P2", 999);
	assert_true(lt_plan_figure(t, "P2", "approved_fen") == 999);
}

/* A plan is reviewed once. The review's id is its plan's, so a second
 * review of an approved plan is a conflicting duplicate (409); a plan that
 * is not waiting (superseded before review) is plan-already-reviewed
 * (409). */
static void
test_review_already_reviewed(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;

	lt_approved_plan(t, "P1", LT_LZ, "2024-03", 1000, 800);
	lt_review(&in, "P1", 900);
	lt_refused(t, &lt_finance, &in, 409, "duplicate-conflict");
	lt_review(&in, "P1", -1);
	lt_refused(t, &lt_finance, &in, 409, "duplicate-conflict");
	assert_true(lt_plan_figure(t, "P1", "approved_fen") == 800);
	lt_assert_state(t, INSTR_PLAN, "P1", "approved");
	/* Superseded while waiting: no longer reviewable. */
	lt_submit_plan(t, "P2", LT_JYG, "2024-03", 1000, NULL);
	lt_submit_plan(t, "P2-A", LT_JYG, "2024-03", 1100, "P2");
	lt_review(&in, "P2", 1000);
	lt_refused(t, &lt_finance, &in, 409, "plan-already-reviewed");
	lt_review(&in, "P2", -1);
	lt_refused(t, &lt_finance, &in, 409, "plan-already-reviewed");
	lt_assert_state(t, INSTR_PLAN, "P2", "superseded");
}

/* Dual control: the plan's submitter cannot review it. */
static void
test_review_same_agency(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;

	lt_submit_plan(t, "P1", LT_LZ, "2024-03", 1000, NULL);
	lt_review(&in, "P1", 1000);
	lt_refused(t, &lt_hrss_as_reviewer, &in, 422, "same-agency-review");
	lt_review(&in, "P1", -1);
	lt_refused(t, &lt_hrss_as_reviewer, &in, 422, "same-agency-review");
	lt_assert_state(t, INSTR_PLAN, "P1", "submitted");
	/* Finance's review of the same plan goes through. */
	lt_submit_review(t, "P1", 1000);
	lt_assert_state(t, INSTR_PLAN, "P1", "approved");
}

/* An amendment inherits what was paid under the plan it replaces: its
 * approval cannot be below that. */
static void
test_review_below_disbursed(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;

	lt_approved_plan(t, "P1", LT_LZ, "2024-03", 1000, 1000);
	lt_disburse(t, "D1", "P1", 600);
	lt_submit_plan(t, "P1-A", LT_LZ, "2024-03", 2000, "P1");
	assert_true(lt_plan_figure(t, "P1-A", "disbursed_fen") == 600);
	lt_review(&in, "P1-A", 599);
	lt_refused(t, &lt_finance, &in, 422, "review-below-disbursed");
	lt_assert_state(t, INSTR_PLAN, "P1-A", "submitted");
	lt_submit_review(t, "P1-A", 600);
	lt_assert_state(t, INSTR_PLAN, "P1-A", "approved");
	/* Approved 600, 600 already paid: nothing more. */
	lt_disbursement1(&in, "D2", "P1-A", 1);
	lt_refused(t, &lt_hrss, &in, 422, "plan-exceeded");
}

/* ================= disbursements ================= */

/* Only an approved plan is paid. */
static void
test_disbursement_plan_not_approved(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;

	lt_submit_plan(t, "P-SUB", LT_LZ, "2024-03", 1000, NULL);
	lt_disbursement1(&in, "D1", "P-SUB", 1);
	lt_refused(t, &lt_hrss, &in, 422, "plan-not-approved");
	lt_submit_plan(t, "P-REJ", LT_JYG, "2024-03", 1000, NULL);
	lt_submit_review(t, "P-REJ", -1);
	lt_disbursement1(&in, "D2", "P-REJ", 1);
	lt_refused(t, &lt_hrss, &in, 422, "plan-not-approved");
	lt_disbursement1(&in, "D3", "NO-SUCH-PLAN", 1);
	lt_refused(t, &lt_hrss, &in, 422, "unknown-plan");
	assert_true(lt_plan_figure(t, "P-SUB", "disbursed_fen") == 0);
	assert_true(lt_plan_figure(t, "P-REJ", "disbursed_fen") == 0);
}

/* Never more than approved: exactly the approved amount passes, one fen
 * more does not, however it is split. */
static void
test_disbursement_plan_exceeded(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	json_t		*rec;

	/* One disbursement: approved 1000 of a total of 1500. */
	lt_approved_plan(t, "P1", LT_LZ, "2024-03", 1500, 1000);
	lt_disbursement1(&in, "D1", "P1", 1001);
	lt_refused(t, &lt_hrss, &in, 422, "plan-exceeded");
	lt_disburse(t, "D1", "P1", 1000);
	assert_true(lt_plan_figure(t, "P1", "disbursed_fen") == 1000);
	lt_disbursement1(&in, "D1-MORE", "P1", 1);
	lt_refused(t, &lt_hrss, &in, 422, "plan-exceeded");
	/* Two disbursements: the second is refused by one fen. */
	lt_approved_plan(t, "P2", LT_JYG, "2024-03", 1000, 1000);
	lt_disburse(t, "D2", "P2", 600);
	lt_disbursement1(&in, "D3", "P2", 401);
	lt_refused(t, &lt_hrss, &in, 422, "plan-exceeded");
	lt_disburse(t, "D3", "P2", 400);
	lt_disbursement1(&in, "D4", "P2", 1);
	lt_refused(t, &lt_hrss, &in, 422, "plan-exceeded");
	assert_true(lt_plan_figure(t, "P2", "disbursed_fen") == 1000);
	/* One line over its plan takes the whole file down. */
	{
		struct instr_disbursement_line	lines[2];

		lt_approved_plan(t, "P3", LT_JC, "2024-03", 500, 500);
		memset(lines, 0, sizeof(lines));
		str_copy(lines[0].plan_id, sizeof(lines[0].plan_id), "P3");
		lines[0].amount_fen = 500;
		str_copy(lines[1].plan_id, sizeof(lines[1].plan_id), "P2");
		lines[1].amount_fen = 1;
		lt_disbursement(&in, "D5", lines, 2);
		lt_refused(t, &lt_hrss, &in, 422, "plan-exceeded");
		assert_true(lt_plan_figure(t, "P3", "disbursed_fen") == 0);
	}
	rec = lt_recon(t, "2024-03");
	assert_true(lt_figure(rec, LT_LZ, "disbursed_fen") == 1000);
	assert_true(lt_figure(rec, LT_JYG, "disbursed_fen") == 1000);
	assert_true(lt_figure(rec, LT_JC, "disbursed_fen") == 0);
	json_decref(rec);
}

/* A refusal for exceeding the plan is an early warning, with figures; its
 * audit entry is the refusal's. */
static void
test_disbursement_plan_exceeded_alert(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	json_t		*a, *fig;

	lt_approved_plan(t, "P1", LT_LZ, "2024-03", 2000, 1000);
	lt_disburse(t, "D1", "P1", 300);
	assert_int_equal(lt_alert_count(t, "plan-exceeded", NULL, NULL), 0);
	lt_disbursement1(&in, "D2", "P1", 701);
	lt_refused(t, &lt_hrss, &in, 422, "plan-exceeded");
	a = lt_alert(t, "plan-exceeded", LT_LZ, "2024-03");
	fig = json_object_get(a, "figures");
	assert_string_equal(lt_str(fig, "plan_id"), "P1");
	assert_true(lt_int(fig, "approved_fen") == 1000);
	assert_true(lt_int(fig, "disbursed_fen") == 300);
	assert_true(lt_int(fig, "requested_fen") == 701);
	assert_string_equal(lt_str(a, "subject"), "D2");
	assert_true(lt_int(a, "audit_index") == (int64_t)t->reply.index);
	json_decref(a);
}

/* [rules] budget = CITY YEAR YUAN: what a city's payments may take in a
 * year; exactly the budget passes, one fen more does not; per city and per
 * year. */
static void
test_disbursement_budget(void **state)
{
	struct lt	*t = lt_open(state,
			    "capacity_months = 0\nbudget = 620100 2024 1000.00");
	struct instr	 in;
	json_t		*a, *fig;

	assert_int_equal(t->cf->rules.nbudgets, 1);
	assert_true(t->cf->rules.budgets[0].fen == 100000);
	lt_approved_plan(t, "P-LZ-01", LT_LZ, "2024-01", 200000, 200000);
	lt_approved_plan(t, "P-LZ-02", LT_LZ, "2024-02", 200000, 200000);
	lt_disbursement1(&in, "D1", "P-LZ-01", 100001);
	lt_refused(t, &lt_hrss, &in, 422, "budget-exceeded");
	a = lt_alert(t, "budget-exceeded", LT_LZ, "2024-01");
	fig = json_object_get(a, "figures");
	assert_string_equal(lt_str(fig, "year"), "2024");
	assert_true(lt_int(fig, "budget_fen") == 100000);
	assert_true(lt_int(fig, "spent_fen") == 0);
	assert_true(lt_int(fig, "requested_fen") == 100001);
	json_decref(a);
	assert_true(lt_plan_figure(t, "P-LZ-01", "disbursed_fen") == 0);
	/* In two parts, across two plans of the year: the last fen is one
	 * too many. */
	lt_disburse(t, "D1", "P-LZ-01", 60000);
	lt_disbursement1(&in, "D2", "P-LZ-02", 40001);
	lt_refused(t, &lt_hrss, &in, 422, "budget-exceeded");
	lt_disburse(t, "D2", "P-LZ-02", 40000);
	lt_disbursement1(&in, "D3", "P-LZ-02", 1);
	lt_refused(t, &lt_hrss, &in, 422, "budget-exceeded");
	/* Another city, another year: no budget of theirs is touched. */
	lt_approved_plan(t, "P-JYG-01", LT_JYG, "2024-01", 500000, 500000);
	lt_disburse(t, "D4", "P-JYG-01", 500000);
	lt_approved_plan(t, "P-LZ-2501", LT_LZ, "2025-01", 500000, 500000);
	lt_disburse(t, "D5", "P-LZ-2501", 500000);
	lt_approved_plan(t, "P-LZ-2312", LT_LZ, "2023-12", 300000, 300000);
	lt_disburse(t, "D6", "P-LZ-2312", 300000);
	/* And 2024 is still full for Lanzhou. */
	lt_disbursement1(&in, "D7", "P-LZ-02", 1);
	lt_refused(t, &lt_hrss, &in, 422, "budget-exceeded");
}

/* A payment the bank rejected spent nothing: its amount is back in the
 * year's budget. */
static void
test_disbursement_budget_rejected_gives_back(void **state)
{
	struct lt	*t = lt_open(state,
			    "capacity_months = 0\nbudget = 620100 2024 10.00");
	struct instr	 in;
	char		 e2e[INSTR_ID_MAX];

	lt_approved_plan(t, "P-LZ-01", LT_LZ, "2024-01", 1000, 1000);
	lt_approved_plan(t, "P-LZ-02", LT_LZ, "2024-02", 1000, 1000);
	lt_disburse(t, "D1", "P-LZ-01", 1000);
	lt_disbursement1(&in, "D2", "P-LZ-02", 1);
	lt_refused(t, &lt_hrss, &in, 422, "budget-exceeded");
	/* Accepted by the bank so far: still spent. */
	lt_e2e(t, "D1", 0, e2e, sizeof(e2e));
	lt_status1(&in, "S1", "D1", e2e, "ACSP", NULL);
	lt_accepted(t, &lt_bank, &in);
	lt_disbursement1(&in, "D2", "P-LZ-02", 1);
	lt_refused(t, &lt_hrss, &in, 422, "budget-exceeded");
	/* Rejected: the whole 10.00 is free again, and no more. */
	lt_status1(&in, "S2", "D1", e2e, "RJCT", "AC04");
	lt_accepted(t, &lt_bank, &in);
	lt_assert_state(t, INSTR_DISBURSEMENT, "D1", "bank-rejected");
	lt_disbursement1(&in, "D2", "P-LZ-02", 1001);
	lt_refused(t, &lt_hrss, &in, 422, "plan-exceeded");
	lt_disburse(t, "D2", "P-LZ-02", 1000);
}

/*
 * The budget is for the whole disbursement, not each line alone: two lines
 * for two plans of the same city and year that each fit but together
 * exceed it must be refused. (ledger_check_budget checks each line against
 * what the payments table held before this disbursement, so the lines of one
 * file do not count against each other.)
 */
static void
test_disbursement_budget_lines_add_up(void **state)
{
	struct lt			*t = lt_open(state,
					    "capacity_months = 0\n"
					    "budget = 620100 2024 10.00");
	struct instr_disbursement_line	 lines[2];
	struct instr			 in;

	lt_approved_plan(t, "P-LZ-01", LT_LZ, "2024-01", 600, 600);
	lt_approved_plan(t, "P-LZ-02", LT_LZ, "2024-02", 600, 600);
	memset(lines, 0, sizeof(lines));
	str_copy(lines[0].plan_id, sizeof(lines[0].plan_id), "P-LZ-01");
	lines[0].amount_fen = 600;
	str_copy(lines[1].plan_id, sizeof(lines[1].plan_id), "P-LZ-02");
	lines[1].amount_fen = 401;
	lt_disbursement(&in, "D1", lines, 2);
	lt_refused(t, &lt_hrss, &in, 422, "budget-exceeded");
	/* 600 + 400 is exactly the budget. */
	lines[1].amount_fen = 400;
	lt_disbursement(&in, "D1", lines, 2);
	lt_accepted(t, &lt_hrss, &in);
}

/* The payee is the city's expenditure account from the registry; each
 * line is a pending payment of its plan's city and month. */
static void
test_disbursement_payee_from_registry(void **state)
{
	struct lt			*t = lt_open_quiet(state);
	struct instr_disbursement_line	 lines[2];
	struct instr			 in;
	json_t				*tr, *p, *pay;
	size_t				 i;
	static const struct {
		const char	*plan, *city, *account;
		int64_t		 fen;
	} want[] = {
		{ "P-LZ", LT_LZ, LT_LZ_EXPEND, 70000 },
		{ "P-JYG", LT_JYG, LT_JYG_EXPEND, 30001 },
	};

	lt_approved_plan(t, "P-LZ", LT_LZ, "2024-03", 70000, 70000);
	lt_approved_plan(t, "P-JYG", LT_JYG, "2024-03", 40000, 40000);
	memset(lines, 0, sizeof(lines));
	for (i = 0; i < nitems(want); i++) {
		str_copy(lines[i].plan_id, sizeof(lines[i].plan_id),
		    want[i].plan);
		lines[i].amount_fen = want[i].fen;
	}
	lt_disbursement(&in, "D-TWO", lines, 2);
	lt_accepted(t, &lt_hrss, &in);
	tr = lt_transfer(t, INSTR_DISBURSEMENT, "D-TWO");
	assert_string_equal(lt_str(tr, "state"), "accepted");
	/* One pain.001 queued for the bank. */
	assert_int_equal(json_array_size(json_object_get(tr, "deliveries")), 1);
	p = json_object_get(tr, "payments");
	assert_int_equal(json_array_size(p), 2);
	json_array_foreach(p, i, pay) {
		assert_string_equal(lt_str(pay, "plan_id"), want[i].plan);
		assert_string_equal(lt_str(pay, "city_code"), want[i].city);
		assert_string_equal(lt_str(pay, "account"), want[i].account);
		assert_string_equal(lt_str(pay, "account"),
		    lt_account(t, REG_CITY_EXPENDITURE, want[i].city));
		assert_true(lt_int(pay, "amount_fen") == want[i].fen);
		assert_string_equal(lt_str(pay, "status"), "PDNG");
		assert_true(strlen(lt_str(pay, "end_to_end_id")) <= 35);
	}
	assert_string_not_equal(lt_str(json_array_get(p, 0), "end_to_end_id"),
	    lt_str(json_array_get(p, 1), "end_to_end_id"));
	json_decref(tr);
	assert_true(lt_plan_figure(t, "P-LZ", "disbursed_fen") == 70000);
	assert_true(lt_plan_figure(t, "P-JYG", "disbursed_fen") == 30001);
}

/* The queued pain.001 row (the caller clears it). */
static void
lt_pain001_row(struct lt *t, struct outbox_row *row)
{
	enum outbox_state	st;
	uint64_t		seq;

	for (seq = 1; seq < 64; seq++) {
		memset(row, 0, sizeof(*row));
		if (outbox_get(ledger_outbox(t->lg), seq, row, &st) == 1 &&
		    strcmp(row->path, "/inbox/pain.001") == 0)
			return;
		outbox_row_clear(row);
	}
	fail_msg("no pain.001 in the outbox");
}

/*
 * The bank file carries a detached signature over its exact bytes in
 * File-Signature, by the bank's key (the development one is SM2), that the
 * public key alone verifies and that fails for a file one bit off; the audit
 * entry records the same signature.
 */
static void
test_disbursement_file_signature(void **state)
{
	struct lt		*t = lt_open_quiet(state);
	struct outbox_row	 row;
	struct sign_key		*pub = NULL;
	json_t			*e, *fs;
	char			*data = NULL, want[128], b64[128];
	const char		*v, *end;
	uint8_t			 sig[SIGN_MAX_SIG + 3];
	size_t			 dlen = 0, n;
	int			 slen;

	lt_approved_plan(t, "P-LZ", LT_LZ, "2024-03", 70000, 70000);
	lt_disburse(t, "D-SIG", "P-LZ", 70000);
	assert_int_equal(sign_key_load_public("certs/dev/bank-sign.pub", &pub),
	    0);
	assert_int_equal(pub->alg, SIGN_ALG_SM2);

	/* The header: alg, the bank key's id, the GM/T default id, sig. */
	lt_pain001_row(t, &row);
	assert_non_null(v = strstr(row.headers, "\r\nFile-Signature: "));
	v += strlen("\r\nFile-Signature: ");
	assert_non_null(end = strstr(v, "\r\n"));
	assert_int_equal(str_printf(want, sizeof(want), "alg=\"sm2\", keyid=\"%s\", "
	    "distid=\"" SIGN_SM2_DEFAULT_ID "\", sig=:", pub->key_id), 0);
	assert_true(strncmp(v, want, strlen(want)) == 0);
	v += strlen(want);
	assert_true(end - v >= 2 && end[-1] == ':');
	n = (size_t)(end - v - 1);
	assert_true(n < sizeof(b64) && n % 4 == 0);
	memcpy(b64, v, n);
	b64[n] = '\0';
	assert_true((slen = EVP_DecodeBlock(sig, (const unsigned char *)b64,
	    (int)n)) > 0);
	slen -= (b64[n - 1] == '=') + (b64[n - 2] == '=');

	/* Verified over the exact bytes delivered; one flipped bit fails. */
	assert_int_equal(sign_verify(pub, row.body, row.blen, sig,
	    (size_t)slen), 0);
	row.body[row.blen / 2] ^= 0x01;
	assert_int_equal(sign_verify(pub, row.body, row.blen, sig,
	    (size_t)slen), -1);

	/* The audit entry holds the same signature, alg, key id and SM2 id. */
	assert_int_equal(store_entry(t->st, t->reply.index, &data, &dlen), 0);
	assert_non_null(e = json_loadb(data, dlen, 0, NULL));
	assert_non_null(fs = json_object_get(json_object_get(e, "file"),
	    "file_signature"));
	assert_string_equal(lt_str(fs, "alg"), "sm2");
	assert_string_equal(lt_str(fs, "key_id"), pub->key_id);
	assert_string_equal(lt_str(fs, "sm2_id"), SIGN_SM2_DEFAULT_ID);
	assert_string_equal(lt_str(fs, "value"), b64);
	json_decref(e);
	free(data);
	outbox_row_clear(&row);
	sign_key_free(pub);
}

/* ================= duplicates ================= */

/* The same id and content again: the original receipt, byte for byte,
 * marked as a replay, logged, and nothing done twice. */
static void
test_duplicate_same_content(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	char		*first;
	size_t		 flen;
	uint64_t	 before, orig;
	json_t		*rec;

	lt_collect(t, "C1", LT_LZ, "2024-01", 5000);
	lt_remittance(&in, "R1", LT_LZ, "2024-01", 5000, LT_LZ_SPECIAL,
	    LT_PROVINCE_SPECIAL, "2024-02-05");
	assert_int_equal(lt_submit(t, lt_city(LT_LZ), &in), 202);
	orig = t->reply.index;
	assert_non_null(first = malloc(t->reply.blen));
	memcpy(first, t->reply.body, t->reply.blen);
	flen = t->reply.blen;
	before = store_size(t->st);
	assert_int_equal(lt_submit(t, lt_city(LT_LZ), &in), 202);
	assert_int_equal(t->reply.flags, IPC_INSTR_REPLAYED);
	assert_true(t->reply.blen == flen);
	assert_memory_equal(t->reply.body, first, flen);
	assert_true(t->reply.index == before);
	assert_true(t->reply.index != orig);
	assert_true(store_size(t->st) == before + 1);
	free(first);
	instr_free(&in);
	rec = lt_recon(t, "2024-01");
	assert_true(lt_figure(rec, LT_LZ, "remitted_fen") == 5000);
	json_decref(rec);
	/* A disbursement replayed pays nothing more. */
	lt_approved_plan(t, "P1", LT_LZ, "2024-01", 1000, 1000);
	lt_disbursement1(&in, "D1", "P1", 1000);
	assert_int_equal(lt_submit(t, &lt_hrss, &in), 202);
	assert_int_equal(lt_submit(t, &lt_hrss, &in), 202);
	assert_int_equal(t->reply.flags, IPC_INSTR_REPLAYED);
	instr_free(&in);
	assert_true(lt_plan_figure(t, "P1", "disbursed_fen") == 1000);
}

/* An exchange's message as the keeper receives it from a relay. */
static void
lt_msg(struct ipc_instr *m, const struct lt_party *p, enum instr_kind kind,
    const char *rid, size_t len)
{
	memset(m, 0, sizeof(*m));
	str_copy(m->request_id, sizeof(m->request_id), rid);
	str_copy(m->agency, sizeof(m->agency), p->agency);
	str_copy(m->city, sizeof(m->city), p->city);
	m->role = (uint32_t)p->role;
	m->kind = (uint32_t)kind;
	m->request_bytes = len;
}

/* The keeper's way: instructions prepared on signing threads, then one
 * transaction, their receipts stored at its end. The same id and content
 * twice in one batch: the replay gets the receipt still being signed, byte
 * for byte, and the row holds that receipt once the batch commits. */
static void
test_duplicate_same_batch(void **state)
{
	struct lt		*t = lt_open_quiet(state);
	struct signer		*sg;
	struct instr		 in;
	struct ipc_instr	 m;
	struct ledger_prep	*p[3];
	struct ledger_reply	 r[3];
	char			*canon;
	size_t			 len, i;

	lt_collect(t, "C1", LT_LZ, "2024-01", 5000);
	lt_remittance(&in, "R1", LT_LZ, "2024-01", 5000, LT_LZ_SPECIAL,
	    LT_PROVINCE_SPECIAL, "2024-02-05");
	assert_int_equal(instr_canonical(&in, &canon, &len), 0);
	instr_free(&in);
	lt_msg(&m, lt_city(LT_LZ), INSTR_REMITTANCE, "lt-batch", len);
	assert_int_equal(signer_start(2, &sg), 0);
	ledger_set_signer(t->lg, sg);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 2; i++) {
		assert_non_null(p[i] = ledger_prep_new(t->lg, m.kind, canon,
		    len));
		signer_submit(sg, ledger_prep_job(p[i]));
	}
	assert_int_equal(store_begin(t->st), 0);
	for (i = 0; i < 2; i++) {
		signer_wait(sg, ledger_prep_job(p[i]));
		assert_int_equal(ledger_instr_prepared(t->lg, 0, &m, canon, len,
		    p[i], &r[i]), 0);
	}
	/* The replay's body is there at once; the original's at the end. */
	assert_int_equal(r[1].flags, IPC_INSTR_REPLAYED);
	assert_non_null(r[1].body);
	assert_null(r[0].body);
	assert_int_equal(ledger_receipts_finish(t->lg), 0);
	assert_int_equal(store_commit(t->st), 0);
	assert_int_equal(r[0].status, 202);
	assert_int_equal(r[1].status, 202);
	assert_true(r[0].blen > 0 && r[0].blen == r[1].blen);
	assert_memory_equal(r[0].body, r[1].body, r[0].blen);
	/* A later batch reads the stored receipt: the same bytes. */
	assert_non_null(p[2] = ledger_prep_new(t->lg, m.kind, canon, len));
	signer_submit(sg, ledger_prep_job(p[2]));
	signer_wait(sg, ledger_prep_job(p[2]));
	assert_int_equal(store_begin(t->st), 0);
	assert_int_equal(ledger_instr_prepared(t->lg, 0, &m, canon, len, p[2],
	    &r[2]), 0);
	assert_int_equal(ledger_receipts_finish(t->lg), 0);
	assert_int_equal(store_commit(t->st), 0);
	assert_int_equal(r[2].flags, IPC_INSTR_REPLAYED);
	assert_true(r[2].blen == r[0].blen);
	assert_memory_equal(r[2].body, r[0].body, r[0].blen);
	ledger_set_signer(t->lg, NULL);
	signer_stop(sg);
	for (i = 0; i < 3; i++) {
		ledger_prep_free(p[i]);
		free(r[i].body);
	}
	free(canon);
}

/* A batch rolled back drops its receipts: nothing is left pending for
 * the next one, and the instruction is accepted afresh when sent again. */
static void
test_receipts_abandoned(void **state)
{
	struct lt		*t = lt_open_quiet(state);
	struct instr		 in;
	struct ipc_instr	 m;
	struct ledger_prep	*p;
	struct ledger_reply	 r;
	char			*canon;
	size_t			 len;

	lt_collection(&in, "C9", LT_LZ, "2024-01", 700);
	assert_int_equal(instr_canonical(&in, &canon, &len), 0);
	lt_msg(&m, &lt_tax, INSTR_COLLECTION, "lt-abandon", len);
	assert_non_null(p = ledger_prep_new(t->lg, m.kind, canon, len));
	signer_wait(NULL, ledger_prep_job(p));
	assert_int_equal(store_begin(t->st), 0);
	assert_int_equal(ledger_instr_prepared(t->lg, 0, &m, canon, len, p,
	    &r), 0);
	assert_int_equal(r.status, 202);
	assert_null(r.body);
	ledger_receipts_abandon(t->lg);
	store_rollback(t->st);
	ledger_prep_free(p);
	free(canon);
	assert_int_equal(lt_submit(t, &lt_tax, &in), 202);
	assert_int_equal(t->reply.flags, 0);
	assert_non_null(t->reply.body);
	instr_free(&in);
}

/* The same id with other content: 409, an alert, the first one stands. */
static void
test_duplicate_conflict(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	json_t		*rec, *a;
	uint64_t	 idx1;

	lt_remit(t, "R1", LT_LZ, "2024-01", 5000, "2024-02-05");
	lt_remittance(&in, "R1", LT_LZ, "2024-01", 5001, LT_LZ_SPECIAL,
	    LT_PROVINCE_SPECIAL, "2024-02-05");
	lt_refused(t, lt_city(LT_LZ), &in, 409, "duplicate-conflict");
	idx1 = t->reply.index;
	a = lt_alert(t, "duplicate-id-different-content", LT_LZ, "2024-01");
	assert_true(lt_int(a, "audit_index") == (int64_t)idx1);
	assert_string_equal(lt_str(json_object_get(a, "figures"), "id"), "R1");
	assert_string_equal(lt_str(json_object_get(a, "figures"), "kind"),
	    "remittance");
	json_decref(a);
	/* Each conflicting attempt is its own warning. */
	lt_remittance(&in, "R1", LT_LZ, "2024-01", 5000, LT_LZ_SPECIAL,
	    LT_PROVINCE_SPECIAL, "2024-02-06");
	lt_refused(t, lt_city(LT_LZ), &in, 409, "duplicate-conflict");
	assert_int_equal(lt_alert_count(t, "duplicate-id-different-content",
	    NULL, NULL), 2);
	rec = lt_recon(t, "2024-01");
	assert_true(lt_figure(rec, LT_LZ, "remitted_fen") == 5000);
	json_decref(rec);
	/* The same id is free in another kind. */
	lt_submit_plan(t, "R1", LT_LZ, "2024-01", 100, NULL);
}

/* The keeper re-reads the relay's bytes: anything but the canonical form
 * of the kind announced is refused (400, logged), and nothing else. */
static void
test_bad_instruction(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	char		*canon = NULL, *spaced;
	size_t		 len = 0, i;
	uint64_t	 size;
	json_t		*rec;
	struct {
		enum instr_kind	 kind;
		const char	*bytes;
		size_t		 len;
	} cases[3];

	lt_remittance(&in, "R1", LT_LZ, "2024-01", 5000, LT_LZ_SPECIAL,
	    LT_PROVINCE_SPECIAL, "2024-02-05");
	assert_int_equal(instr_canonical(&in, &canon, &len), 0);
	instr_free(&in);
	assert_non_null(spaced = malloc(len + 1));
	spaced[0] = ' ';
	memcpy(spaced + 1, canon, len);
	/* Not canonical; announced as another kind; cut short. */
	cases[0].kind = INSTR_REMITTANCE;
	cases[0].bytes = spaced;
	cases[0].len = len + 1;
	cases[1].kind = INSTR_PLAN;
	cases[1].bytes = canon;
	cases[1].len = len;
	cases[2].kind = INSTR_REMITTANCE;
	cases[2].bytes = canon;
	cases[2].len = len - 1;
	for (i = 0; i < nitems(cases); i++) {
		size = store_size(t->st);
		if (lt_exchange(t, lt_city(LT_LZ), cases[i].kind,
		    cases[i].bytes, cases[i].len) != 0)
			break;
		if (t->reply.status != 400 ||
		    strcmp(t->reply.code, "bad-instruction") != 0 ||
		    store_size(t->st) != size + 1)
			break;
	}
	free(canon);
	free(spaced);
	if (i < nitems(cases))
		fail_msg("case %zu: %d %s, %llu entries", i, t->reply.status,
		    t->reply.code,
		    (unsigned long long)(store_size(t->st) - size));
	rec = lt_recon(t, "2024-01");
	assert_true(lt_figure(rec, LT_LZ, "remitted_fen") == 0);
	json_decref(rec);
	/* The id is still free. */
	lt_remit(t, "R1", LT_LZ, "2024-01", 5000, "2024-02-05");
}

/* ================= bank status ================= */

static void
test_status_unknown_payment(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;

	lt_status1(&in, "S1", "NO-SUCH-FILE", "E0001", "ACSC", NULL);
	lt_refused(t, &lt_bank, &in, 422, "unknown-payment");
	lt_status(&in, "S2", "NO-SUCH-FILE", "ACSC", NULL, 0);
	lt_refused(t, &lt_bank, &in, 422, "unknown-payment");
	/* A known file, a transaction not in it. */
	lt_approved_plan(t, "P1", LT_LZ, "2024-03", 1000, 1000);
	lt_disburse(t, "D1", "P1", 1000);
	lt_status1(&in, "S3", "D1", "E0001", "ACSC", NULL);
	lt_refused(t, &lt_bank, &in, 422, "unknown-payment");
	lt_assert_state(t, INSTR_DISBURSEMENT, "D1", "accepted");
}

/* Only the bank the file went to reports on it. */
static void
test_status_not_your_payment(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	char		 e2e[INSTR_ID_MAX];
	json_t		*p;

	lt_approved_plan(t, "P1", LT_LZ, "2024-03", 1000, 1000);
	lt_disburse(t, "D1", "P1", 1000);
	lt_e2e(t, "D1", 0, e2e, sizeof(e2e));
	lt_status1(&in, "S1", "D1", e2e, "ACSC", NULL);
	lt_refused(t, &lt_bank2, &in, 403, "not-your-payment");
	lt_status(&in, "S2", "D1", "RJCT", NULL, 0);
	lt_refused(t, &lt_bank2, &in, 403, "not-your-payment");
	lt_assert_state(t, INSTR_DISBURSEMENT, "D1", "accepted");
	p = lt_payments(t, "D1");
	assert_string_equal(lt_str(json_array_get(p, 0), "status"), "PDNG");
	json_decref(p);
	lt_status1(&in, "S1", "D1", e2e, "ACSC", NULL);
	lt_accepted(t, &lt_bank, &in);
	lt_assert_state(t, INSTR_DISBURSEMENT, "D1", "settled");
}

/* Settled once every payment is; in progress before. */
static void
test_status_settled(void **state)
{
	struct lt			*t = lt_open_quiet(state);
	struct instr_disbursement_line	 lines[2];
	struct instr			 in;
	char				 e2e[2][INSTR_ID_MAX];
	json_t				*p, *rec;

	lt_approved_plan(t, "P-LZ", LT_LZ, "2024-03", 1000, 1000);
	lt_approved_plan(t, "P-JYG", LT_JYG, "2024-03", 2000, 2000);
	memset(lines, 0, sizeof(lines));
	str_copy(lines[0].plan_id, sizeof(lines[0].plan_id), "P-LZ");
	lines[0].amount_fen = 1000;
	str_copy(lines[1].plan_id, sizeof(lines[1].plan_id), "P-JYG");
	lines[1].amount_fen = 2000;
	lt_disbursement(&in, "D1", lines, 2);
	lt_accepted(t, &lt_hrss, &in);
	lt_e2e(t, "D1", 0, e2e[0], sizeof(e2e[0]));
	lt_e2e(t, "D1", 1, e2e[1], sizeof(e2e[1]));
	lt_status1(&in, "S1", "D1", e2e[0], "ACSC", NULL);
	lt_accepted(t, &lt_bank, &in);
	lt_assert_state(t, INSTR_DISBURSEMENT, "D1", "in-progress");
	lt_assert_state(t, INSTR_BANK_STATUS, "S1", "recorded");
	rec = lt_recon(t, "2024-03");
	assert_true(lt_figure(rec, LT_LZ, "settled_fen") == 1000);
	assert_true(lt_figure(rec, LT_JYG, "settled_fen") == 0);
	assert_true(lt_flagged(rec, LT_JYG, "unsettled-disbursement"));
	assert_false(lt_flagged(rec, LT_LZ, "unsettled-disbursement"));
	json_decref(rec);
	lt_status1(&in, "S2", "D1", e2e[1], "ACSC", NULL);
	lt_accepted(t, &lt_bank, &in);
	lt_assert_state(t, INSTR_DISBURSEMENT, "D1", "settled");
	p = lt_payments(t, "D1");
	assert_string_equal(lt_str(json_array_get(p, 0), "status"), "ACSC");
	assert_string_equal(lt_str(json_array_get(p, 1), "status"), "ACSC");
	assert_string_equal(lt_str(json_array_get(p, 1), "bank_reference"),
	    "BR-0001");
	json_decref(p);
	/* A status notice for hrss and finance each. */
	{
		json_t *tr = lt_transfer(t, INSTR_BANK_STATUS, "S2");

		assert_int_equal(json_array_size(json_object_get(tr,
		    "deliveries")), 2);
		json_decref(tr);
	}
	/* A group status alone speaks for every payment. */
	lt_approved_plan(t, "P-JC", LT_JC, "2024-03", 500, 500);
	lt_disburse(t, "D2", "P-JC", 500);
	lt_status(&in, "S3", "D2", "ACSC", NULL, 0);
	lt_accepted(t, &lt_bank, &in);
	lt_assert_state(t, INSTR_DISBURSEMENT, "D2", "settled");
	rec = lt_recon(t, "2024-03");
	assert_true(json_integer_value(json_object_get(json_object_get(rec,
	    "totals"), "settled_fen")) == 3500);
	json_decref(rec);
}

/* A rejected payment makes the file bank-rejected, for good. */
static void
test_status_bank_rejected(void **state)
{
	struct lt			*t = lt_open_quiet(state);
	struct instr_disbursement_line	 lines[2];
	struct instr			 in;
	char				 e2e[2][INSTR_ID_MAX];
	json_t				*p;

	lt_approved_plan(t, "P-LZ", LT_LZ, "2024-03", 1000, 1000);
	lt_approved_plan(t, "P-JYG", LT_JYG, "2024-03", 2000, 2000);
	memset(lines, 0, sizeof(lines));
	str_copy(lines[0].plan_id, sizeof(lines[0].plan_id), "P-LZ");
	lines[0].amount_fen = 1000;
	str_copy(lines[1].plan_id, sizeof(lines[1].plan_id), "P-JYG");
	lines[1].amount_fen = 2000;
	lt_disbursement(&in, "D1", lines, 2);
	lt_accepted(t, &lt_hrss, &in);
	lt_e2e(t, "D1", 0, e2e[0], sizeof(e2e[0]));
	lt_e2e(t, "D1", 1, e2e[1], sizeof(e2e[1]));
	lt_status1(&in, "S1", "D1", e2e[1], "RJCT", "AC04");
	lt_accepted(t, &lt_bank, &in);
	lt_assert_state(t, INSTR_DISBURSEMENT, "D1", "bank-rejected");
	lt_status1(&in, "S2", "D1", e2e[0], "ACSC", NULL);
	lt_accepted(t, &lt_bank, &in);
	lt_assert_state(t, INSTR_DISBURSEMENT, "D1", "bank-rejected");
	p = lt_payments(t, "D1");
	assert_string_equal(lt_str(json_array_get(p, 0), "status"), "ACSC");
	assert_string_equal(lt_str(json_array_get(p, 1), "status"), "RJCT");
	assert_string_equal(lt_str(json_array_get(p, 1), "reason"), "AC04");
	json_decref(p);
	/* A group rejection of a one-payment file. */
	lt_approved_plan(t, "P-JC", LT_JC, "2024-03", 500, 500);
	lt_disburse(t, "D2", "P-JC", 500);
	lt_status(&in, "S3", "D2", "RJCT", NULL, 0);
	lt_accepted(t, &lt_bank, &in);
	lt_assert_state(t, INSTR_DISBURSEMENT, "D2", "bank-rejected");
}

/* ================= reconciliation ================= */

/* A month where everything matches: every figure per city, clean. */
static void
test_reconciliation_clean_month(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	json_t		*rec, *tot;
	char		 e2e[INSTR_ID_MAX];
	size_t		 i;
	static const struct {
		const char	*column;
		int64_t		 lz, jyg;
	} want[] = {
		{ "collected_fen", 1000000, 250000 },
		{ "remitted_fen", 1000000, 250000 },
		{ "arrived_fen", 1000000, 250000 },
		{ "planned_fen", 800000, 0 },
		{ "reviewed_fen", 700000, 0 },
		{ "disbursed_fen", 700000, 0 },
		{ "settled_fen", 700000, 0 },
	};

	lt_collect(t, "C-LZ", LT_LZ, "2024-01", 600000);
	lt_collect(t, "C-LZ-2", LT_LZ, "2024-01", 400000);
	lt_collect(t, "C-JYG", LT_JYG, "2024-01", 250000);
	lt_remit(t, "R-LZ", LT_LZ, "2024-01", 1000000, "2024-02-09");
	lt_remit(t, "R-JYG", LT_JYG, "2024-01", 250000, "2024-02-10");
	lt_notification1(&in, "N1", LT_PROVINCE_SPECIAL, 1, 1000000,
	    "2024-02-09", NULL, "R-LZ");
	lt_accepted(t, &lt_bank, &in);
	lt_notification1(&in, "N2", LT_PROVINCE_SPECIAL, 1, 250000,
	    "2024-02-10", "R-JYG", NULL);
	lt_accepted(t, &lt_bank, &in);
	lt_approved_plan(t, "P-LZ", LT_LZ, "2024-01", 800000, 700000);
	lt_disburse(t, "D-LZ", "P-LZ", 700000);
	lt_e2e(t, "D-LZ", 0, e2e, sizeof(e2e));
	lt_status1(&in, "S1", "D-LZ", e2e, "ACSC", NULL);
	lt_accepted(t, &lt_bank, &in);

	rec = lt_recon(t, "2024-01");
	assert_int_equal(json_array_size(json_object_get(rec, "cities")), 14);
	tot = json_object_get(rec, "totals");
	for (i = 0; i < nitems(want); i++) {
		if (lt_figure(rec, LT_LZ, want[i].column) != want[i].lz ||
		    lt_figure(rec, LT_JYG, want[i].column) != want[i].jyg)
			fail_msg("%s: %lld %lld, expected %lld %lld",
			    want[i].column,
			    (long long)lt_figure(rec, LT_LZ, want[i].column),
			    (long long)lt_figure(rec, LT_JYG, want[i].column),
			    (long long)want[i].lz, (long long)want[i].jyg);
		assert_true(lt_figure(rec, LT_JC, want[i].column) == 0);
		assert_true(lt_int(tot, want[i].column) ==
		    want[i].lz + want[i].jyg);
	}
	assert_true(json_is_true(json_object_get(rec, "clean")));
	assert_int_equal(lt_nflags(rec, NULL), 0);
	assert_int_equal(lt_nflags(rec, LT_LZ), 0);
	assert_int_equal(lt_nflags(rec, LT_JYG), 0);
	assert_int_equal(json_array_size(json_object_get(rec,
	    "unmatched_arrivals")), 0);
	assert_string_equal(lt_str(lt_recon_city(rec, LT_LZ), "name"),
	    "兰州市");
	/* Remitted 1,250,000, paid 700,000. */
	assert_true(lt_int(json_object_get(rec, "fund"), "balance_fen") ==
	    550000);
	json_decref(rec);
	/* The month before and after have nothing. */
	rec = lt_recon(t, "2024-02");
	assert_true(json_is_true(json_object_get(rec, "clean")));
	assert_true(lt_int(json_object_get(rec, "totals"), "collected_fen") ==
	    0);
	json_decref(rec);
	assert_int_equal(lt_alert_count(t, "unmatched-arrival", NULL, NULL), 0);
}

/* Each flag of a city, and the report's own unmatched-arrival. */
static void
test_reconciliation_flags(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	json_t		*rec, *u;
	static const struct {
		const char	*city, *flag;
	} want[] = {
		{ LT_LZ, "short-remittance" },
		{ LT_JYG, "excess-remittance" },
		{ LT_JC, "late-remittance" },
		{ LT_BY, "unsettled-disbursement" },
	};
	size_t		 i;

	/* Lanzhou: short by one fen. */
	lt_collect(t, "C-LZ", LT_LZ, "2024-01", 10000);
	lt_remit(t, "R-LZ", LT_LZ, "2024-01", 9999, "2024-02-05");
	/* Jiayuguan: one fen more than collected. */
	lt_collect(t, "C-JYG", LT_JYG, "2024-01", 10000);
	lt_remit(t, "R-JYG", LT_JYG, "2024-01", 10001, "2024-02-05");
	/* Jinchang: in full, a day late. */
	lt_collect(t, "C-JC", LT_JC, "2024-01", 10000);
	lt_remit(t, "R-JC", LT_JC, "2024-01", 10000, "2024-02-11");
	/* Baiyin: remitted in full and on time, a payment not settled. */
	lt_collect(t, "C-BY", LT_BY, "2024-01", 10000);
	lt_remit(t, "R-BY", LT_BY, "2024-01", 10000, "2024-02-10");
	lt_approved_plan(t, "P-BY", LT_BY, "2024-01", 5000, 5000);
	lt_disburse(t, "D-BY", "P-BY", 5000);
	/* A credit to the fund nobody's remittance explains, booked in
	 * the month after the period. */
	lt_notification1(&in, "N1", LT_PROVINCE_SPECIAL, 1, 4242,
	    "2024-02-15", NULL, "UNKNOWN-REFERENCE");
	lt_accepted(t, &lt_bank, &in);

	rec = lt_recon(t, "2024-01");
	assert_true(json_is_false(json_object_get(rec, "clean")));
	for (i = 0; i < nitems(want); i++) {
		if (!lt_flagged(rec, want[i].city, want[i].flag) ||
		    lt_nflags(rec, want[i].city) != 1)
			fail_msg("%s: expected only %s", want[i].city,
			    want[i].flag);
	}
	assert_int_equal(lt_nflags(rec, "620500"), 0);
	assert_true(lt_flagged(rec, NULL, "unmatched-arrival"));
	u = json_object_get(rec, "unmatched_arrivals");
	assert_int_equal(json_array_size(u), 1);
	assert_true(lt_int(json_array_get(u, 0), "amount_fen") == 4242);
	assert_string_equal(lt_str(json_array_get(u, 0), "account"),
	    LT_PROVINCE_SPECIAL);
	assert_string_equal(lt_str(json_array_get(u, 0), "reference"),
	    "UNKNOWN-REFERENCE");
	json_decref(rec);
	assert_int_equal(lt_alert_count(t, "unmatched-arrival", NULL, NULL), 1);
	/* Booked in February: February's report does not list it. */
	rec = lt_recon(t, "2024-02");
	assert_false(lt_flagged(rec, NULL, "unmatched-arrival"));
	assert_true(json_is_true(json_object_get(rec, "clean")));
	json_decref(rec);
	/* Settling Baiyin's payment clears its flag. */
	{
		char e2e[INSTR_ID_MAX];

		lt_e2e(t, "D-BY", 0, e2e, sizeof(e2e));
		lt_status1(&in, "S1", "D-BY", e2e, "ACSC", NULL);
		lt_accepted(t, &lt_bank, &in);
	}
	rec = lt_recon(t, "2024-01");
	assert_int_equal(lt_nflags(rec, LT_BY), 0);
	json_decref(rec);
}

/*
 * A debit from the province-special account (the bank reporting a
 * disbursement's payment) is not money arriving: it must not make the month
 * unclean as an unmatched arrival.
 */
static void
test_reconciliation_debit_is_no_arrival(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	struct instr	 in;
	json_t		*rec;
	char		 e2e[INSTR_ID_MAX];
	size_t		 unmatched;
	int		 flagged, clean;

	lt_collect(t, "C-LZ", LT_LZ, "2024-01", 10000);
	lt_remit(t, "R-LZ", LT_LZ, "2024-01", 10000, "2024-02-05");
	lt_approved_plan(t, "P-LZ", LT_LZ, "2024-01", 5000, 5000);
	lt_disburse(t, "D-LZ", "P-LZ", 5000);
	lt_e2e(t, "D-LZ", 0, e2e, sizeof(e2e));
	lt_status1(&in, "S1", "D-LZ", e2e, "ACSC", NULL);
	lt_accepted(t, &lt_bank, &in);
	lt_notification1(&in, "N1", LT_PROVINCE_SPECIAL, 0, 5000,
	    "2024-02-06", e2e, NULL);
	lt_accepted(t, &lt_bank, &in);
	/* Read, then checked: a failure leaves nothing allocated. */
	rec = lt_recon(t, "2024-01");
	unmatched = json_array_size(json_object_get(rec, "unmatched_arrivals"));
	flagged = lt_flagged(rec, NULL, "unmatched-arrival");
	clean = json_is_true(json_object_get(rec, "clean"));
	json_decref(rec);
	assert_int_equal(unmatched, 0);
	assert_false(flagged);
	assert_true(clean);
}

/* ================= refusals change nothing ================= */

struct lt_refusal {
	const char		*name;
	const struct lt_party	*party;
	int			 status;
	const char		*rule;
	void			(*make)(const struct lt *, struct instr *);
};

static void
lt_mk_payer_unknown(const struct lt *t, struct instr *in)
{
	lt_remittance(in, "X-R1", LT_JYG, "2024-01", 100, LT_UNKNOWN_ACCOUNT,
	    LT_PROVINCE_SPECIAL, "2024-02-05");
}

static void
lt_mk_payee_unknown(const struct lt *t, struct instr *in)
{
	lt_remittance(in, "X-R2", LT_JYG, "2024-01", 100, LT_JYG_SPECIAL,
	    LT_UNKNOWN_ACCOUNT, "2024-02-05");
}

static void
lt_mk_edge(const struct lt *t, struct instr *in)
{
	lt_remittance(in, "X-R3", LT_JYG, "2024-01", 100, LT_JYG_EXPEND,
	    LT_PROVINCE_SPECIAL, "2024-02-05");
}

static void
lt_mk_remittance_conflict(const struct lt *t, struct instr *in)
{
	lt_remittance(in, "R-LZ", LT_LZ, "2024-01", 100001, LT_LZ_SPECIAL,
	    LT_PROVINCE_SPECIAL, "2024-02-05");
}

static void
lt_mk_plan_exists(const struct lt *t, struct instr *in)
{
	lt_plan(in, "X-P1", LT_LZ, "2024-01", 5000, NULL);
}

static void
lt_mk_bad_amends(const struct lt *t, struct instr *in)
{
	lt_plan(in, "X-P2", LT_LZ, "2024-01", 5000, "P-JYG");
}

static void
lt_mk_plan_superseded(const struct lt *t, struct instr *in)
{
	lt_plan(in, "X-P3", LT_JC, "2024-01", 5000, "P-JC");
}

static void
lt_mk_review_unknown(const struct lt *t, struct instr *in)
{
	lt_review(in, "X-NO-PLAN", 100);
}

static void
lt_mk_review_exceeds(const struct lt *t, struct instr *in)
{
	lt_review(in, "P-JYG", 1001);
}

static void
lt_mk_review_again(const struct lt *t, struct instr *in)
{
	lt_review(in, "P-LZ", 900);
}

static void
lt_mk_review_own(const struct lt *t, struct instr *in)
{
	lt_review(in, "P-JYG", 1000);
}

static void
lt_mk_review_not_waiting(const struct lt *t, struct instr *in)
{
	lt_review(in, "P-JC", 1000);
}

static void
lt_mk_not_approved(const struct lt *t, struct instr *in)
{
	lt_disbursement1(in, "X-D1", "P-JYG", 1);
}

static void
lt_mk_plan_exceeded(const struct lt *t, struct instr *in)
{
	lt_disbursement1(in, "X-D2", "P-LZ", 301);
}

static void
lt_mk_budget_exceeded(const struct lt *t, struct instr *in)
{
	lt_disbursement1(in, "X-D3", "P-LZ", 101);
}

static void
lt_mk_disb_unknown_plan(const struct lt *t, struct instr *in)
{
	lt_disbursement1(in, "X-D4", "X-NO-PLAN", 1);
}

static void
lt_mk_disb_superseded(const struct lt *t, struct instr *in)
{
	lt_disbursement1(in, "X-D5", "P-JC", 1);
}

static void
lt_mk_unknown_bank(const struct lt *t, struct instr *in)
{
	lt_disbursement1(in, "X-D6", "P-LZ", 1);
	str_copy(in->u.disbursement.bank, sizeof(in->u.disbursement.bank),
	    "no-such-bank");
}

static void
lt_mk_disb_conflict(const struct lt *t, struct instr *in)
{
	lt_disbursement1(in, "D-LZ", "P-LZ", 499);
}

static void
lt_mk_status_unknown(const struct lt *t, struct instr *in)
{
	lt_status(in, "X-S1", "X-NO-FILE", "ACSC", NULL, 0);
}

static void
lt_mk_status_not_yours(const struct lt *t, struct instr *in)
{
	lt_status(in, "X-S2", "D-LZ", "ACSC", NULL, 0);
}

/* After each refusal the reconciliation and every instruction's view are
 * what they were; the audit log grew by exactly the refusal's entry. */
static void
test_refusals_change_nothing(void **state)
{
	static const struct lt_refusal cases[] = {
		{ "payer", &lt_cities[1], 422, "payer-not-in-registry",
		    lt_mk_payer_unknown },
		{ "payee", &lt_cities[1], 422, "payee-not-in-registry",
		    lt_mk_payee_unknown },
		{ "edge", &lt_cities[1], 422, "edge-not-allowed", lt_mk_edge },
		{ "remittance conflict", &lt_cities[0], 409,
		    "duplicate-conflict", lt_mk_remittance_conflict },
		{ "plan exists", &lt_hrss, 422, "plan-exists",
		    lt_mk_plan_exists },
		{ "bad amends", &lt_hrss, 422, "bad-amends", lt_mk_bad_amends },
		{ "amend superseded", &lt_hrss, 422, "plan-superseded",
		    lt_mk_plan_superseded },
		{ "review unknown", &lt_finance, 422, "unknown-plan",
		    lt_mk_review_unknown },
		{ "review exceeds", &lt_finance, 422, "review-exceeds-plan",
		    lt_mk_review_exceeds },
		{ "review again", &lt_finance, 409, "duplicate-conflict",
		    lt_mk_review_again },
		{ "review own", &lt_hrss_as_reviewer, 422,
		    "same-agency-review", lt_mk_review_own },
		{ "review superseded", &lt_finance, 409,
		    "plan-already-reviewed", lt_mk_review_not_waiting },
		{ "not approved", &lt_hrss, 422, "plan-not-approved",
		    lt_mk_not_approved },
		{ "plan exceeded", &lt_hrss, 422, "plan-exceeded",
		    lt_mk_plan_exceeded },
		{ "budget exceeded", &lt_hrss, 422, "budget-exceeded",
		    lt_mk_budget_exceeded },
		{ "disbursement unknown plan", &lt_hrss, 422, "unknown-plan",
		    lt_mk_disb_unknown_plan },
		{ "disbursement superseded", &lt_hrss, 422, "plan-superseded",
		    lt_mk_disb_superseded },
		{ "unknown bank", &lt_hrss, 422, "unknown-bank",
		    lt_mk_unknown_bank },
		{ "disbursement conflict", &lt_hrss, 409, "duplicate-conflict",
		    lt_mk_disb_conflict },
		{ "status unknown", &lt_bank, 422, "unknown-payment",
		    lt_mk_status_unknown },
		{ "status not yours", &lt_bank2, 403, "not-your-payment",
		    lt_mk_status_not_yours },
	};
	static const struct {
		enum instr_kind	 kind;
		const char	*id;
	} views[] = {
		{ INSTR_COLLECTION, "C-LZ" }, { INSTR_REMITTANCE, "R-LZ" },
		{ INSTR_PLAN, "P-LZ" }, { INSTR_REVIEW, "P-LZ" },
		{ INSTR_PLAN, "P-JYG" }, { INSTR_PLAN, "P-JC" },
		{ INSTR_PLAN, "P-JC-A" }, { INSTR_DISBURSEMENT, "D-LZ" },
	};
	struct lt	*t = lt_open(state,
			    "capacity_months = 0\nbudget = 620100 2024 6.00");
	struct instr	 in;
	char		*before[nitems(views)], *after, *rb, *ra;
	uint64_t	 size;
	size_t		 i, j;

	lt_collect(t, "C-LZ", LT_LZ, "2024-01", 100000);
	lt_remit(t, "R-LZ", LT_LZ, "2024-01", 100000, "2024-02-05");
	lt_approved_plan(t, "P-LZ", LT_LZ, "2024-01", 1000, 800);
	lt_disburse(t, "D-LZ", "P-LZ", 500);
	lt_submit_plan(t, "P-JYG", LT_JYG, "2024-01", 1000, NULL);
	lt_submit_plan(t, "P-JC", LT_JC, "2024-01", 1000, NULL);
	lt_submit_plan(t, "P-JC-A", LT_JC, "2024-01", 1000, "P-JC");
	for (i = 0; i < nitems(cases); i++) {
		for (j = 0; j < nitems(views); j++)
			before[j] = lt_transfer_text(t, views[j].kind,
			    views[j].id);
		rb = lt_report_text(t, REPORT_RECONCILIATION, "2024-01");
		size = store_size(t->st);
		cases[i].make(t, &in);
		lt_submit(t, cases[i].party, &in);
		if (t->reply.status != cases[i].status ||
		    strcmp(t->reply.code, cases[i].rule) != 0)
			fail_msg("%s: %d %s, expected %d %s", cases[i].name,
			    t->reply.status, t->reply.code, cases[i].status,
			    cases[i].rule);
		instr_free(&in);
		if (store_size(t->st) != size + 1)
			fail_msg("%s: %llu entries added", cases[i].name,
			    (unsigned long long)(store_size(t->st) - size));
		ra = lt_report_text(t, REPORT_RECONCILIATION, "2024-01");
		if (strcmp(rb, ra) != 0)
			fail_msg("%s: the reconciliation changed:\n%s\n%s",
			    cases[i].name, rb, ra);
		free(rb);
		free(ra);
		for (j = 0; j < nitems(views); j++) {
			after = lt_transfer_text(t, views[j].kind, views[j].id);
			if (strcmp(before[j], after) != 0)
				fail_msg("%s: %s %s changed:\n%s\n%s",
				    cases[i].name,
				    instr_kind_name(views[j].kind), views[j].id,
				    before[j], after);
			free(before[j]);
			free(after);
		}
	}
}

/* ================= ledger_watch ================= */

/* A collection nobody remitted by the due day: late-remittance, raised
 * once; one remitted in full, or not due yet, raises nothing. */
static void
test_watch_overdue_remittance(void **state)
{
	struct lt	*t = lt_open_quiet(state);
	json_t		*a, *rec;
	uint64_t	 size;
	size_t		 n;
	time_t		 now = time(NULL);
	struct tm	 tm;
	char		 p[8], next[8], due[11], paid[11], old[8];

	/* A month a year ago (overdue by the wall clock), and one three years
	 * ago (outside the two years the watch looks at). */
	gmtime_r(&now, &tm);
	str_printf(p, sizeof(p), "%04d-%02d", tm.tm_year + 1900 - 1, tm.tm_mon + 1);
	str_printf(old, sizeof(old), "%04d-%02d", tm.tm_year + 1900 - 3,
	    tm.tm_mon + 1);
	assert_int_equal(report_next_period(p, next), 0);
	str_printf(due, sizeof(due), "%s-10", next);
	str_printf(paid, sizeof(paid), "%s-05", next);
	lt_collect(t, "C-LZ", LT_LZ, p, 5000);
	lt_collect(t, "C-JYG", LT_JYG, p, 5000);
	lt_remit(t, "R-JYG", LT_JYG, p, 5000, paid);
	lt_collect(t, "C-JC", LT_JC, p, 5000);
	lt_remit(t, "R-JC", LT_JC, p, 4000, paid);
	lt_collect(t, "C-BY", LT_BY, "2099-12", 5000);
	lt_collect(t, "C-OLD", LT_BY, old, 5000);
	assert_int_equal(lt_alert_count(t, "late-remittance", NULL, NULL), 0);
	lt_watch(t);
	a = lt_alert(t, "late-remittance", LT_LZ, p);
	assert_string_equal(lt_str(json_object_get(a, "figures"), "due_date"),
	    due);
	assert_true(lt_int(json_object_get(a, "figures"), "collected_fen") ==
	    5000);
	assert_true(lt_int(json_object_get(a, "figures"), "remitted_fen") == 0);
	json_decref(a);
	/* Partly remitted is overdue too; paid in full, not due, or older
	 * than two years is not. */
	assert_int_equal(lt_alert_count(t, "late-remittance", LT_JC, p), 1);
	assert_int_equal(lt_alert_count(t, "late-remittance", LT_JYG, NULL), 0);
	assert_int_equal(lt_alert_count(t, "late-remittance", LT_BY, NULL), 0);
	rec = lt_recon(t, p);
	assert_true(lt_flagged(rec, LT_LZ, "late-remittance"));
	assert_false(lt_flagged(rec, LT_JYG, "late-remittance"));
	json_decref(rec);
	/* Once: a second pass raises nothing and logs nothing. */
	a = lt_alerts(t);
	n = json_array_size(a);
	json_decref(a);
	size = store_size(t->st);
	lt_watch(t);
	a = lt_alerts(t);
	assert_int_equal(json_array_size(a), n);
	json_decref(a);
	assert_true(store_size(t->st) == size);
	assert_int_equal(lt_alert_count(t, "late-remittance", NULL, NULL), 2);
}

/* ================= payment capacity ================= */

/* Below the threshold (months of average expenditure the balance pays
 * for) is an early warning; exactly at it is not. */
static void
test_capacity_low(void **state)
{
	struct lt	*t = lt_open(state, "capacity_months = 6");
	json_t		*a, *rec;

	lt_collect(t, "C-LZ", LT_LZ, "2024-01", 700000);
	lt_remit(t, "R-LZ", LT_LZ, "2024-01", 700000, "2024-02-05");
	lt_approved_plan(t, "P-LZ", LT_LZ, "2024-01", 200000, 200000);
	/* 600,000 left for 100,000 a month: six months. */
	lt_disburse(t, "D1", "P-LZ", 100000);
	assert_int_equal(lt_alert_count(t, "capacity-low", NULL, NULL), 0);
	rec = lt_recon(t, "2024-01");
	assert_true(lt_int(json_object_get(rec, "fund"),
	    "capacity_threshold_months") == 6);
	json_decref(rec);
	lt_disburse(t, "D2", "P-LZ", 1);
	a = lt_alert(t, "capacity-low", "", "2024-01");
	assert_true(lt_int(json_object_get(a, "figures"), "balance_fen") ==
	    599999);
	assert_true(lt_int(json_object_get(a, "figures"),
	    "monthly_expenditure_fen") == 100001);
	json_decref(a);
}

/*
 * A fund that paid out more than it received has the lowest capacity of
 * all: it must be warned about (report_capacity gives months < 0 for a
 * negative balance, which ledger_watch_capacity takes for "nothing spent").
 */
static void
test_capacity_overdrawn(void **state)
{
	struct lt	*t = lt_open(state, "capacity_months = 6");

	lt_approved_plan(t, "P-LZ", LT_LZ, "2024-01", 1000, 1000);
	lt_disburse(t, "D1", "P-LZ", 1000);
	assert_int_equal(lt_alert_count(t, "capacity-low", NULL, "2024-01"), 1);
}

static int
lt_group_setup(void **state)
{
	struct adapter_error	err;

	memset(&err, 0, sizeof(err));
	if (getcwd(lt_root, sizeof(lt_root)) == NULL)
		return -1;
	if (adapter_init(LT_SCHEMAS, &err) == -1) {
		fprintf(stderr, "adapter_init: %s %s\n", err.code, err.detail);
		return -1;
	}
	return 0;
}

static int
lt_group_teardown(void **state)
{
	iso20022_fini();
	tax_fini();
	return 0;
}

#define LT_TEST(f)	cmocka_unit_test_setup_teardown(f, lt_setup, lt_teardown)

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		LT_TEST(test_remittance_accepted),
		LT_TEST(test_remittance_not_in_registry),
		LT_TEST(test_remittance_edge_not_allowed),
		LT_TEST(test_remittance_short_alert),
		LT_TEST(test_remittance_late_default_due_day),
		LT_TEST(test_remittance_late_configured_due_day),
		LT_TEST(test_plan_exists),
		LT_TEST(test_plan_amendment),
		LT_TEST(test_plan_bad_amends),
		LT_TEST(test_plan_superseded),
		LT_TEST(test_review_unknown_plan),
		LT_TEST(test_review_exceeds_plan),
		LT_TEST(test_review_already_reviewed),
		LT_TEST(test_review_same_agency),
		LT_TEST(test_review_below_disbursed),
		LT_TEST(test_disbursement_plan_not_approved),
		LT_TEST(test_disbursement_plan_exceeded),
		LT_TEST(test_disbursement_plan_exceeded_alert),
		LT_TEST(test_disbursement_budget),
		LT_TEST(test_disbursement_budget_rejected_gives_back),
		LT_TEST(test_disbursement_budget_lines_add_up),
		LT_TEST(test_disbursement_payee_from_registry),
		LT_TEST(test_disbursement_file_signature),
		LT_TEST(test_duplicate_same_content),
		LT_TEST(test_duplicate_same_batch),
		LT_TEST(test_receipts_abandoned),
		LT_TEST(test_duplicate_conflict),
		LT_TEST(test_bad_instruction),
		LT_TEST(test_status_unknown_payment),
		LT_TEST(test_status_not_your_payment),
		LT_TEST(test_status_settled),
		LT_TEST(test_status_bank_rejected),
		LT_TEST(test_reconciliation_clean_month),
		LT_TEST(test_reconciliation_flags),
		LT_TEST(test_reconciliation_debit_is_no_arrival),
		LT_TEST(test_refusals_change_nothing),
		LT_TEST(test_watch_overdue_remittance),
		LT_TEST(test_capacity_low),
		LT_TEST(test_capacity_overdrawn),
	};

	log_init("test_ledger", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, lt_group_setup, lt_group_teardown);
}
