/* The ledger: the keeper's side of every instruction. Inside the group
 * commit's transaction it re-reads the relay's canonical bytes, refuses
 * duplicates and what the fund's rules forbid, signs, appends the audit
 * entry, records the state and queues the deliveries; nothing of it is
 * visible (or acknowledged) before the commit. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "adapters/hrss.h"
#include "adapters/instr.h"
#include "adapters/instr_parse.h"
#include "adapters/jcs.h"
#include "adapters/pain001.h"
#include "ipc.h"
#include "keeper/alerts.h"
#include "keeper/entry.h"
#include "keeper/ledger.h"
#include "keeper/merkle.h"
#include "keeper/outbox.h"
#include "keeper/registry.h"
#include "keeper/report.h"
#include "keeper/sign.h"
#include "keeper/store.h"
#include "metrics.h"
#include "log.h"
#include "net/httpsig.h"
#include "util.h"

/* Where deliveries go on the receiving systems. */
#define LEDGER_PATH_PAIN001	"/inbox/pain.001"
#define LEDGER_PATH_STATUS	"/inbox/status"

static const char *const ledger_state_names[LS_COUNT] = {
	"accepted", "delivered", "parked", "submitted", "approved",
	"rejected", "sent", "in-progress", "settled", "bank-rejected",
	"recorded", "superseded",
};

enum ledger_event {
	LE_DELIVERED, LE_PARKED, LE_APPROVED, LE_REJECTED, LE_BANK_PENDING,
	LE_BANK_SETTLED, LE_BANK_REJECTED, LE_SUPERSEDED
};

static const char ledger_schema[] =
    "CREATE TABLE IF NOT EXISTS instructions ("
    "  kind TEXT NOT NULL, id TEXT NOT NULL,"
    "  digest BLOB NOT NULL, agency TEXT NOT NULL,"
    "  city TEXT, period TEXT, amount INTEGER NOT NULL DEFAULT 0,"
    "  approved INTEGER, disbursed INTEGER NOT NULL DEFAULT 0, bank TEXT,"
    "  state INTEGER NOT NULL, entry INTEGER NOT NULL,"
    "  status INTEGER NOT NULL, receipt BLOB NOT NULL,"
    "  value_date TEXT,"
    "  PRIMARY KEY (kind, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS instructions_cp ON instructions "
    "  (kind, city, period);"
    "CREATE TABLE IF NOT EXISTS payments ("
    "  e2e TEXT PRIMARY KEY, disbursement TEXT NOT NULL,"
    "  line INTEGER NOT NULL, plan TEXT NOT NULL, city TEXT NOT NULL,"
    "  period TEXT NOT NULL,"
    "  amount INTEGER NOT NULL, account TEXT NOT NULL,"
    "  status TEXT NOT NULL, reason TEXT, bank_ref TEXT) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS payments_of ON payments (disbursement, line);"
    "CREATE INDEX IF NOT EXISTS payments_cp ON payments (city, period);"
    /* Credits and debits banks report (camt.054); a credit to the
     * province-special account is matched to the remittance it pays. */
    "CREATE TABLE IF NOT EXISTS arrivals ("
    "  notification TEXT NOT NULL, n INTEGER NOT NULL,"
    "  account TEXT NOT NULL, amount INTEGER NOT NULL,"
    "  booking_date TEXT NOT NULL, e2e TEXT, reference TEXT,"
    "  remittance TEXT, city TEXT, period TEXT,"
    /* 1: a credit to the province-special account nobody explains. */
    "  unmatched INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (notification, n)) WITHOUT ROWID;";

enum ledger_stmt {
	LG_FIND, LG_INSERT, LG_STATE, LG_REVIEW, LG_DISBURSED, LG_PAY_ADD,
	LG_PAY_GET, LG_PAY_SET, LG_PAY_OF, LG_PAY_SUM, LG_BY_ID, LG_SUM_CP,
	LG_CURRENT_PLAN, LG_CARRY, LG_YEAR_SPENT, LG_ARRIVAL, LG_OVERDUE,
	LG_COUNT
};

static const char *const ledger_sql[LG_COUNT] = {
	[LG_FIND] = "SELECT digest, status, receipt, entry, state, agency, "
	    "city, period, amount, approved, disbursed, bank "
	    "FROM instructions WHERE kind = ? AND id = ?",
	[LG_INSERT] = "INSERT INTO instructions (kind, id, digest, agency, "
	    "city, period, amount, bank, state, entry, status, receipt, "
	    "value_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[LG_STATE] = "UPDATE instructions SET state = ? WHERE kind = ? AND id = ?",
	[LG_REVIEW] = "UPDATE instructions SET state = ?, approved = ? "
	    "WHERE kind = 'plan' AND id = ?",
	[LG_DISBURSED] = "UPDATE instructions SET disbursed = disbursed + ? "
	    "WHERE kind = 'plan' AND id = ?",
	[LG_PAY_ADD] = "INSERT INTO payments (e2e, disbursement, line, plan, "
	    "city, amount, account, status, period) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, 'PDNG', ?)",
	[LG_PAY_GET] = "SELECT disbursement, status, plan, amount FROM payments "
	    "WHERE e2e = ?",
	[LG_PAY_SET] = "UPDATE payments SET status = ?, reason = ?, "
	    "bank_ref = ? WHERE e2e = ?",
	[LG_PAY_OF] = "SELECT e2e, line, plan, city, amount, account, status, "
	    "reason, bank_ref FROM payments WHERE disbursement = ? ORDER BY line",
	[LG_PAY_SUM] = "SELECT count(*), coalesce(sum(status IN ('ACSC', "
	    "'ACCC')), 0), coalesce(sum(status = 'RJCT'), 0) FROM payments "
	    "WHERE disbursement = ?",
	[LG_BY_ID] = "SELECT kind FROM instructions WHERE id = ? ORDER BY kind",
	[LG_SUM_CP] = "SELECT coalesce(sum(amount), 0) FROM instructions "
	    "WHERE kind = ? AND city = ? AND period = ?",
	/* The plan of a city and period that stands (not superseded). */
	[LG_CURRENT_PLAN] = "SELECT id FROM instructions WHERE kind = 'plan' "
	    "AND city = ? AND period = ? AND state != ?",
	[LG_CARRY] = "UPDATE instructions SET disbursed = ? WHERE kind = "
	    "'plan' AND id = ?",
	/* What a city's payments took in a year (rejected ones gave it back). */
	[LG_YEAR_SPENT] = "SELECT coalesce(sum(amount), 0) FROM payments "
	    "WHERE city = ? AND substr(period, 1, 4) = ? AND status != 'RJCT'",
	[LG_ARRIVAL] = "INSERT INTO arrivals (notification, n, account, "
	    "amount, booking_date, e2e, reference, remittance, city, period, "
	    "unmatched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	/* Collections whose city remitted less than they amount to. */
	[LG_OVERDUE] = "SELECT c.city, c.period, sum(c.amount), (SELECT "
	    "coalesce(sum(r.amount), 0) FROM instructions r WHERE r.kind = "
	    "'remittance' AND r.city = c.city AND r.period = c.period) FROM "
	    "instructions c WHERE c.kind = 'collection' GROUP BY c.city, "
	    "c.period",
};

struct ledger {
	const struct config	*cf;
	struct store		*st;
	sqlite3			*db;
	sqlite3_stmt		*s[LG_COUNT];
	struct outbox		*ob;
	struct sign_key		*key;			/* signs instructions */
	struct sign_key		*bank_keys[CFG_MAX_BANKS];
	struct registry		*reg;			/* NULL: none configured */
	struct alerts		*al;
	/* Read before the sandbox, which leaves the keeper no certificates. */
	struct metrics_cert	 certs[64];
	size_t			 ncerts;
};

/* One stored instruction (LG_FIND). */
struct ledger_row {
	uint8_t			 digest[32];
	int			 status;
	char			*receipt;	/* owned */
	size_t			 rlen;
	uint64_t		 entry;
	enum ledger_state	 state;
	char			 agency[CFG_NAME_MAX];
	char			 city[8];
	char			 period[8];
	int64_t			 amount, approved, disbursed;
	char			 bank[CFG_NAME_MAX];
};

/* What one exchange is about, for its entry. */
struct ledger_ctx {
	struct ledger			*l;
	unsigned			 slot;
	const struct ipc_instr		*m;
	struct instr			 in;
	const char			*canon;
	size_t				 clen;
	char				 digest_hex[65];
	json_t				*instr_json;	/* owned */
	/* Disbursements: the period of each line's plan. */
	char				 line_period[INSTR_MAX_LINES][8];
};

static int
ledger_fail(struct ledger *l, const char *what)
{
	log_warnx("ledger: %s: %s", what, sqlite3_errmsg(l->db));
	return -1;
}

/*
 * The one place an instruction changes state. Events that do not apply to
 * a state leave it as it is (a bank may report before the courier does).
 */
static int
ledger_transition(enum instr_kind kind, enum ledger_state from,
    enum ledger_event ev, enum ledger_state *to)
{
	*to = from;
	switch (kind) {
	case INSTR_PLAN:
		if (ev == LE_SUPERSEDED && from != LS_SUPERSEDED)
			*to = LS_SUPERSEDED;
		else if (from == LS_SUBMITTED && ev == LE_APPROVED)
			*to = LS_APPROVED;
		else if (from == LS_SUBMITTED && ev == LE_REJECTED)
			*to = LS_REJECTED;
		break;
	case INSTR_DISBURSEMENT:
		if (from == LS_SETTLED || from == LS_BANK_REJECTED)
			break;
		if (ev == LE_BANK_SETTLED)
			*to = LS_SETTLED;
		else if (ev == LE_BANK_REJECTED)
			*to = LS_BANK_REJECTED;
		else if (ev == LE_BANK_PENDING)
			*to = LS_IN_PROGRESS;
		else if (ev == LE_DELIVERED &&
		    (from == LS_ACCEPTED || from == LS_PARKED))
			*to = LS_SENT;
		else if (ev == LE_PARKED && from == LS_ACCEPTED)
			*to = LS_PARKED;
		break;
	case INSTR_COLLECTION:
	case INSTR_REMITTANCE:
	case INSTR_REVIEW:
		if (ev == LE_DELIVERED &&
		    (from == LS_ACCEPTED || from == LS_PARKED))
			*to = LS_DELIVERED;
		else if (ev == LE_PARKED && from == LS_ACCEPTED)
			*to = LS_PARKED;
		break;
	case INSTR_BANK_STATUS:
	case INSTR_BANK_NOTIFICATION:
		break;
	}
	return *to == from ? 0 : 1;
}

static int
ledger_kind_parse(const char *s, enum instr_kind *k)
{
	enum instr_kind	i;

	for (i = INSTR_COLLECTION; i <= INSTR_BANK_NOTIFICATION; i++)
		if (strcmp(s, instr_kind_name(i)) == 0) {
			*k = i;
			return 0;
		}
	return -1;
}

int
ledger_open(const struct config *cf, struct store *st, struct ledger **out)
{
	struct ledger	*l;
	const char	*kp;
	size_t		 i;
	int		 j;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	l->cf = cf;
	l->st = st;
	l->db = store_db(st);
	kp = cf->keeper.signing_key[0] ? cf->keeper.signing_key :
	    cf->keeper.log_key;
	if (sign_key_load_private(kp, &l->key) == -1) {
		log_warnx("%s: cannot load the instruction signing key %s",
		    __func__, kp);
		goto fail;
	}
	for (i = 0; i < cf->nbanks; i++) {
		const struct cfg_bank *b = &cf->banks[i];

		if (sign_key_load_private(b->signing_key, &l->bank_keys[i]) == -1) {
			log_warnx("%s: bank %s: cannot load %s", __func__,
			    b->name, b->signing_key);
			goto fail;
		}
		if (b->has_sm2_id && (l->bank_keys[i]->alg != SIGN_ALG_SM2 ||
		    sign_key_set_sm2_id(l->bank_keys[i], b->sm2_id,
		    strlen(b->sm2_id)) == -1)) {
			log_warnx("%s: bank %s: sm2_id needs an SM2 key", __func__,
			    b->name);
			goto fail;
		}
	}
	if (cf->keeper.accounts[0] != '\0' &&
	    registry_load(cf->keeper.accounts, &l->reg) == -1) {
		log_warnx("%s: cannot load the account registry %s", __func__,
		    cf->keeper.accounts);
		goto fail;
	}
	if (sqlite3_exec(l->db, ledger_schema, NULL, NULL, NULL) != SQLITE_OK) {
		ledger_fail(l, "schema");
		goto fail;
	}
	for (j = 0; j < LG_COUNT; j++)
		if (sqlite3_prepare_v3(l->db, ledger_sql[j], -1,
		    SQLITE_PREPARE_PERSISTENT, &l->s[j], NULL) != SQLITE_OK) {
			ledger_fail(l, ledger_sql[j]);
			goto fail;
		}
	if (outbox_open(l->db, cf, &l->ob) == -1 || alerts_open(st, &l->al) == -1)
		goto fail;
	l->ncerts = metrics_collect_certs(cf, l->certs, nitems(l->certs));
	if (cf->courier.finance == -1)
		log_warnx("no [courier] finance upstream: nothing is delivered "
		    "to finance");
	if (cf->courier.hrss == -1)
		log_warnx("no [courier] hrss upstream: nothing is delivered "
		    "to hrss");
	*out = l;
	return 0;
fail:
	ledger_free(l);
	return -1;
}

void
ledger_free(struct ledger *l)
{
	size_t	i;
	int	j;

	if (l == NULL)
		return;
	for (j = 0; j < LG_COUNT; j++)
		sqlite3_finalize(l->s[j]);
	outbox_free(l->ob);
	alerts_free(l->al);
	sign_key_free(l->key);
	for (i = 0; i < CFG_MAX_BANKS; i++)
		sign_key_free(l->bank_keys[i]);
	registry_free(l->reg);
	free(l);
}

void
ledger_set_registry(struct ledger *l, struct registry *reg)
{
	registry_free(l->reg);
	l->reg = reg;
}

struct outbox *
ledger_outbox(struct ledger *l)
{
	return l->ob;
}

static const char *
ledger_text(sqlite3_stmt *st, int col)
{
	const unsigned char	*t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

/* 1 and row filled (row->receipt the caller's), 0 if absent, -1. */
static int
ledger_find(struct ledger *l, const char *kind, const char *id,
    struct ledger_row *row)
{
	sqlite3_stmt	*st = l->s[LG_FIND];
	int		 rc, n;

	memset(row, 0, sizeof(*row));
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW || sqlite3_column_bytes(st, 0) != 32) {
		sqlite3_reset(st);
		return ledger_fail(l, "find");
	}
	memcpy(row->digest, sqlite3_column_blob(st, 0), 32);
	row->status = sqlite3_column_int(st, 1);
	n = sqlite3_column_bytes(st, 2);
	if ((row->receipt = malloc((size_t)n + 1)) == NULL) {
		sqlite3_reset(st);
		return -1;
	}
	memcpy(row->receipt, sqlite3_column_blob(st, 2), (size_t)n);
	row->receipt[n] = '\0';
	row->rlen = (size_t)n;
	row->entry = (uint64_t)sqlite3_column_int64(st, 3);
	n = sqlite3_column_int(st, 4);
	row->state = n >= 0 && n < LS_COUNT ? (enum ledger_state)n : LS_ACCEPTED;
	str_copy(row->agency, sizeof(row->agency), ledger_text(st, 5));
	str_copy(row->city, sizeof(row->city), ledger_text(st, 6));
	str_copy(row->period, sizeof(row->period), ledger_text(st, 7));
	row->amount = sqlite3_column_int64(st, 8);
	row->approved = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 9);
	row->disbursed = sqlite3_column_int64(st, 10);
	str_copy(row->bank, sizeof(row->bank), ledger_text(st, 11));
	sqlite3_reset(st);
	return 1;
}

static int
ledger_step(struct ledger *l, enum ledger_stmt which, const char *what)
{
	int	rc = sqlite3_step(l->s[which]);

	sqlite3_reset(l->s[which]);
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, what);
}

static int
ledger_set_state(struct ledger *l, const char *kind, const char *id,
    enum ledger_state s)
{
	sqlite3_stmt	*st = l->s[LG_STATE];

	sqlite3_bind_int(st, 1, (int)s);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
	return ledger_step(l, LG_STATE, "state");
}

/* Applies ev to the stored instruction (kind, id), if it is there. */
static int
ledger_event(struct ledger *l, enum instr_kind kind, const char *id,
    enum ledger_event ev)
{
	struct ledger_row	row;
	enum ledger_state	to;
	int			rc;

	if ((rc = ledger_find(l, instr_kind_name(kind), id, &row)) != 1)
		return rc;
	free(row.receipt);
	if (ledger_transition(kind, row.state, ev, &to) == 0)
		return 0;
	return ledger_set_state(l, instr_kind_name(kind), id, to);
}

/* Base64 of len bytes into a new string (the caller's). */
static char *
ledger_b64(const uint8_t *p, size_t len)
{
	char	*s;

	if ((s = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, p, (int)len);
	return s;
}

/* {"alg", "key_id", "value"} of k's signature over msg; NULL on failure. */
static json_t *
ledger_sign(const struct sign_key *k, const void *msg, size_t len)
{
	uint8_t	 sig[SIGN_MAX_SIG];
	size_t	 slen;
	char	*b64;
	json_t	*o;

	if (sign_sign(k, msg, len, sig, sizeof(sig), &slen) == -1 ||
	    (b64 = ledger_b64(sig, slen)) == NULL)
		return NULL;
	o = json_pack("{s:s, s:s, s:s}", "alg", sign_alg_name(k->alg),
	    "key_id", k->key_id, "value", b64);
	free(b64);
	return o;
}

/* The fields every entry of an exchange carries. */
static json_t *
ledger_entry_base(struct ledger_ctx *x, const char *kind)
{
	char	t[40], src[32], h[65];

	entry_time(t, sizeof(t));
	str_printf(src, sizeof(src), "relay/%u", x->slot);
	hex_encode(h, x->m->request_sha256, 32);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:I, s:s}}",
	    "kind", kind, "time", t, "source", src,
	    "agency", x->m->agency, "request_id", x->m->request_id,
	    "request", "bytes", (json_int_t)x->m->request_bytes, "sha256", h);
}

/* Serializes e (taken) and appends it; *index its position. */
static int
ledger_append(struct ledger *l, json_t *e, uint64_t *index)
{
	char	*buf;
	size_t	 len;
	int	 rc;

	if (e == NULL)
		return -1;
	rc = jcs_serialize(e, &buf, &len);
	json_decref(e);
	if (rc == -1)
		return -1;
	rc = store_append(l->st, buf, len, index);
	free(buf);
	return rc;
}

static void
ledger_reply_text(struct ledger_reply *r, int status, const char *code,
    const char *detail)
{
	r->status = status;
	str_copy(r->code, sizeof(r->code), code);
	r->body = strdup(detail);
	r->blen = r->body ? strlen(r->body) : 0;
}

/* A refusal by a rule: logged with the instruction, nothing else changes.
 * Refusals that are early warnings (DESIGN §1) also raise an alert, its
 * figures (taken) saying why; the refusal's entry records both. */
static int
ledger_refuse_alert(struct ledger_ctx *x, int status, const char *rule,
    const char *detail, struct ledger_reply *r, const char *city,
    const char *period, json_t *figures)
{
	json_t	*e = ledger_entry_base(x, "refusal");
	int	 raised, rc = -1;

	if (e == NULL)
		goto done;
	json_object_set_new(e, "rule", json_string(rule));
	json_object_set_new(e, "status", json_integer(status));
	json_object_set_new(e, "detail", json_string(detail));
	if (x->instr_json != NULL)
		json_object_set(e, "instruction", x->instr_json);
	if (figures != NULL) {
		json_object_set_new(e, "alert", json_string(rule));
		json_object_set(e, "figures", figures);
	}
	if (ledger_append(x->l, e, &r->index) == -1)
		goto done;
	if (figures != NULL && alerts_raise(x->l->al, rule, city, period,
	    x->in.id, json_incref(figures), r->index, &raised) == -1)
		goto done;
	ledger_reply_text(r, status, rule, detail);
	rc = 0;
done:
	json_decref(figures);
	return rc;
}

static int
ledger_refuse(struct ledger_ctx *x, int status, const char *rule,
    const char *detail, struct ledger_reply *r)
{
	return ledger_refuse_alert(x, status, rule, detail, r, NULL, NULL, NULL);
}

/* The sum of amounts of kind for a city and period. */
static int
ledger_sum(struct ledger *l, const char *kind, const char *city,
    const char *period, int64_t *sum)
{
	sqlite3_stmt	*st = l->s[LG_SUM_CP];
	int		 rc;

	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, city, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, period, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*sum = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : ledger_fail(l, "sum");
}

/* The due date of a period's remittance: the configured day of the next
 * month, as YYYY-MM-DD into dst (11 bytes). */
static int
ledger_due_date(const struct ledger *l, const char *period, char *dst)
{
	char	next[8];

	if (report_next_period(period, next) == -1)
		return -1;
	return str_printf(dst, 11, "%s-%02u", next, l->cf->rules.due_day);
}

/* The delivery envelope of DESIGN §2 (the caller frees *out). */
static int
ledger_envelope(struct ledger_ctx *x, json_t *sig, uint64_t index, char **out,
    size_t *len)
{
	json_t	*env;
	int	 rc;

	env = json_pack("{s:O, s:O, s:I}", "instruction", x->instr_json,
	    "signature", sig, "audit_index", (json_int_t)index);
	if (env == NULL)
		return -1;
	rc = jcs_serialize(env, out, len);
	json_decref(env);
	return rc;
}

static int
ledger_queue(struct ledger_ctx *x, int upstream, const char *path,
    const char *ctype, const char *idem, const char *headers,
    const void *body, size_t blen)
{
	uint64_t	seq;

	if (upstream < 0)
		return 0;	/* not configured: logged at start-up */
	return outbox_add(x->l->ob, instr_kind_name(x->in.kind), x->in.id,
	    upstream, path, ctype, idem, headers, body, blen, &seq);
}

/* ----- the fund's rules, per kind ----- */

static int
ledger_check_remittance(struct ledger_ctx *x, struct ledger_reply *r,
    int *refused)
{
	const struct instr_remittance	*rm = &x->in.u.remittance;
	const struct registry_account	*from, *to;

	*refused = 0;
	if (x->l->reg == NULL)
		return 0;
	from = registry_by_number(x->l->reg, rm->from_account);
	to = registry_by_number(x->l->reg, rm->to_account);
	if (from == NULL || to == NULL) {
		*refused = 1;
		return ledger_refuse(x, 422, from == NULL ? "payer-not-in-registry" :
		    "payee-not-in-registry", from == NULL ?
		    "from_account is not in the account registry" :
		    "to_account is not in the account registry", r);
	}
	if (from->role != REG_CITY_SPECIAL || strcmp(from->city, rm->city) != 0 ||
	    to->role != REG_PROVINCE_SPECIAL) {
		*refused = 1;
		return ledger_refuse(x, 422, "edge-not-allowed",
		    "a remittance goes from the city's special account to the "
		    "province-special account", r);
	}
	return 0;
}

static int
ledger_check_plan(struct ledger_ctx *x, struct ledger_reply *r, int *refused)
{
	const struct instr_plan	*p = &x->in.u.plan;
	struct ledger_row	 row;
	int			 rc;

	sqlite3_stmt		*st = x->l->s[LG_CURRENT_PLAN];
	char			 current[INSTR_ID_MAX] = "";

	*refused = 1;
	/* One plan stands for a city and month; only an amendment naming it
	 * replaces it. */
	sqlite3_bind_text(st, 1, p->city, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->period, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, LS_SUPERSEDED);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		str_copy(current, sizeof(current), ledger_text(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ledger_fail(x->l, "current plan");
	if (p->amends[0] == '\0') {
		if (current[0] != '\0')
			return ledger_refuse(x, 422, "plan-exists", "a plan for "
			    "this city and period stands; send an amendment "
			    "(amends) naming it", r);
		*refused = 0;
		return 0;
	}
	if ((rc = ledger_find(x->l, "plan", p->amends, &row)) == -1)
		return -1;
	free(row.receipt);
	if (rc == 0 || strcmp(row.city, p->city) != 0 ||
	    strcmp(row.period, p->period) != 0)
		return ledger_refuse(x, 422, "bad-amends",
		    "an amendment must name a plan of the same city and period", r);
	if (strcmp(current, p->amends) != 0)
		return ledger_refuse(x, 422, "plan-superseded",
		    "the plan named by amends was itself amended", r);
	*refused = 0;
	return 0;
}

static int
ledger_check_review(struct ledger_ctx *x, struct ledger_row *plan,
    struct ledger_reply *r, int *refused)
{
	const struct instr_review	*rv = &x->in.u.review;
	int				 rc;

	*refused = 1;
	if ((rc = ledger_find(x->l, "plan", rv->plan_id, plan)) == -1)
		return -1;
	if (rc == 0)
		return ledger_refuse(x, 422, "unknown-plan",
		    "no such plan", r);
	/* Dual control: the reviewer is never the one who submitted. */
	if (strcmp(plan->agency, x->m->agency) == 0)
		return ledger_refuse(x, 422, "same-agency-review",
		    "a plan is reviewed by another authority than its submitter",
		    r);
	if (plan->state != LS_SUBMITTED)
		return ledger_refuse(x, 409, "plan-already-reviewed",
		    "the plan is not waiting for a review", r);
	if (rv->approved && rv->approved_total_fen > plan->amount)
		return ledger_refuse(x, 422, "review-exceeds-plan",
		    "approved_total_fen exceeds the plan's total", r);
	/* An amendment inherits what its predecessor already paid. */
	if (rv->approved && rv->approved_total_fen < plan->disbursed)
		return ledger_refuse(x, 422, "review-below-disbursed",
		    "approved_total_fen is less than already disbursed", r);
	*refused = 0;
	return 0;
}

static const struct cfg_bank *
ledger_bank(struct ledger *l, const char *name, size_t *idx)
{
	size_t	i;

	for (i = 0; i < l->cf->nbanks; i++)
		if (strcmp(l->cf->banks[i].name, name) == 0) {
			*idx = i;
			return &l->cf->banks[i];
		}
	return NULL;
}

/* An end-to-end id for line i of disbursement id: unique (a hash of both),
 * at most 35 characters as ISO 20022 requires. */
static void
ledger_e2e(const char *id, size_t i, char *dst, size_t dsz)
{
	uint8_t	h[32];
	char	hex[65], in[64];

	str_printf(in, sizeof(in), "%s/%zu", id, i);
	SHA256((const unsigned char *)in, strlen(in), h);
	hex_encode(hex, h, 12);
	str_printf(dst, dsz, "E%s-%02zu", hex, i + 1);
}

/* The city's annual budget, if one is configured: 0 within it, 1 refused
 * (logged), -1 on a store failure. Each line is checked with what the year
 * has spent so far plus the file's earlier lines for the same city. */
static int
ledger_check_budget(struct ledger_ctx *x, const char *city, const char *period,
    int64_t amount, int64_t pending, struct ledger_reply *r)
{
	const struct cfg_rules	*ru = &x->l->cf->rules;
	sqlite3_stmt		*st = x->l->s[LG_YEAR_SPENT];
	char			 year[5];
	int64_t			 spent = 0;
	size_t			 i;
	int			 rc;

	memcpy(year, period, 4);
	year[4] = '\0';
	for (i = 0; i < ru->nbudgets; i++)
		if (strcmp(ru->budgets[i].city, city) == 0 &&
		    (unsigned)(year[0] - '0') * 1000 + (unsigned)(year[1] - '0') *
		    100 + (unsigned)(year[2] - '0') * 10 +
		    (unsigned)(year[3] - '0') == ru->budgets[i].year)
			break;
	if (i == ru->nbudgets)
		return 0;
	sqlite3_bind_text(st, 1, city, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, year, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		spent = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return ledger_fail(x->l, "year spent");
	/* pending: earlier lines of the same file, for the same city-year. */
	spent += pending;
	if (spent + amount <= ru->budgets[i].fen)
		return 0;
	if (ledger_refuse_alert(x, 422, "budget-exceeded", "the city's annual "
	    "budget would be exceeded", r, city, period, json_pack("{s:s, "
	    "s:I, s:I, s:I}", "year", year, "budget_fen",
	    (json_int_t)ru->budgets[i].fen, "spent_fen", (json_int_t)spent,
	    "requested_fen", (json_int_t)amount)) == -1)
		return -1;
	return 1;
}

/* Disbursement: each line's plan approved and not exceeded, the payee
 * from the registry, the bank and its file; builds the signed pain.001. */
static int
ledger_check_disbursement(struct ledger_ctx *x, struct pain001_input *pin,
    const struct cfg_bank **bank, size_t *bidx, struct ledger_reply *r,
    int *refused)
{
	const struct instr_disbursement	*d = &x->in.u.disbursement;
	const struct registry_account	*deb, *pay;
	struct ledger_row		 plan;
	char				 msg[160];
	int64_t				 pending;
	size_t				 i, j;
	int				 rc;

	*refused = 1;
	if (x->l->reg == NULL ||
	    (deb = registry_find(x->l->reg, REG_PROVINCE_SPECIAL, NULL)) == NULL)
		return ledger_refuse(x, 503, "no-registry",
		    "no account registry is configured", r);
	if ((*bank = ledger_bank(x->l, d->bank[0] ? d->bank : deb->bank,
	    bidx)) == NULL)
		return ledger_refuse(x, 422, "unknown-bank",
		    "no configured bank by that name holds the account", r);
	memset(pin, 0, sizeof(*pin));
	str_copy(pin->msg_id, sizeof(pin->msg_id), x->in.id);
	entry_time(pin->created_at, sizeof(pin->created_at));
	str_copy(pin->debtor_name, sizeof(pin->debtor_name), deb->holder);
	str_copy(pin->debtor_account, sizeof(pin->debtor_account), deb->number);
	str_copy(pin->debtor_bank, sizeof(pin->debtor_bank), deb->cnaps);
	for (i = 0; i < d->nlines; i++) {
		const struct instr_disbursement_line *ln = &d->lines[i];
		struct pain001_line *pl = &pin->lines[i];

		if ((rc = ledger_find(x->l, "plan", ln->plan_id, &plan)) == -1)
			return -1;
		free(plan.receipt);
		str_printf(msg, sizeof(msg), "plan %s", ln->plan_id);
		if (rc == 0)
			return ledger_refuse(x, 422, "unknown-plan", msg, r);
		if (plan.state == LS_SUPERSEDED)
			return ledger_refuse(x, 422, "plan-superseded", msg, r);
		if (plan.state != LS_APPROVED)
			return ledger_refuse(x, 422, "plan-not-approved", msg, r);
		if (plan.approved < 0 ||
		    ln->amount_fen > plan.approved - plan.disbursed)
			return ledger_refuse_alert(x, 422, "plan-exceeded", msg, r,
			    plan.city, plan.period, json_pack("{s:s, s:I, s:I, "
			    "s:I}", "plan_id", ln->plan_id, "approved_fen",
			    (json_int_t)plan.approved, "disbursed_fen",
			    (json_int_t)plan.disbursed, "requested_fen",
			    (json_int_t)ln->amount_fen));
		for (j = 0, pending = 0; j < i; j++)
			if (strcmp(pin->lines[j].city, plan.city) == 0 &&
			    strncmp(x->line_period[j], plan.period, 4) == 0)
				pending += pin->lines[j].amount_fen;
		if ((rc = ledger_check_budget(x, plan.city, plan.period,
		    ln->amount_fen, pending, r)) != 0)
			return rc == 1 ? 0 : -1;
		if ((pay = registry_find(x->l->reg, REG_CITY_EXPENDITURE,
		    plan.city)) == NULL)
			return ledger_refuse(x, 422, "payee-not-in-registry", msg,
			    r);
		str_copy(x->line_period[i], sizeof(x->line_period[i]),
		    plan.period);
		ledger_e2e(x->in.id, i, pl->end_to_end_id,
		    sizeof(pl->end_to_end_id));
		pl->amount_fen = ln->amount_fen;
		str_copy(pl->creditor_name, sizeof(pl->creditor_name),
		    pay->holder);
		str_copy(pl->creditor_account, sizeof(pl->creditor_account),
		    pay->number);
		str_copy(pl->creditor_bank, sizeof(pl->creditor_bank), pay->cnaps);
		str_copy(pl->city, sizeof(pl->city), plan.city);
		str_copy(pl->plan_id, sizeof(pl->plan_id), ln->plan_id);
	}
	pin->nlines = d->nlines;
	*refused = 0;
	return 0;
}

/* The bank file: written once in the bank's charset, signed over those
 * bytes (RFC 9421 over RFC 9530's digest of them). *file is the caller's. */
static int
ledger_bank_file(struct ledger_ctx *x, const struct pain001_input *pin,
    const struct cfg_bank *bank, size_t bidx, char **file, size_t *flen,
    char *headers, size_t hsz, json_t **desc)
{
	struct adapter_error	err;
	struct httpsig_msg	hm;
	char			ctype[64], digest[HTTPSIG_DIGEST_MAX];
	char			input[HTTPSIG_INPUT_MAX], sig[HTTPSIG_SIG_MAX];
	char			hex[65];
	uint8_t			h[32];

	memset(&err, 0, sizeof(err));
	if (pain001_write(&x->in, pin, bank->charset, file, flen, &err) == -1) {
		log_warnx("%s: %s: pain.001 not written: %s %s", __func__,
		    x->in.id, err.code, err.detail);
		return -1;
	}
	str_printf(ctype, sizeof(ctype), "application/xml; charset=%s",
	    bank->charset);
	memset(&hm, 0, sizeof(hm));
	hm.method = "POST";
	hm.path = LEDGER_PATH_PAIN001;
	hm.ctype = ctype;
	hm.content_digest = digest;
	hm.created = (int64_t)(now_ms() / 1000);
	if (httpsig_content_digest(*file, *flen, digest, sizeof(digest)) == -1 ||
	    httpsig_sign(x->l->bank_keys[bidx], &hm, input, sizeof(input), sig,
	    sizeof(sig)) == -1 ||
	    str_printf(headers, hsz, "Content-Digest: %s\r\nSignature-Input: "
	    "%s\r\nSignature: %s\r\n", digest, input, sig) == -1) {
		free(*file);
		*file = NULL;
		return -1;
	}
	SHA256((const unsigned char *)*file, *flen, h);
	hex_encode(hex, h, 32);
	*desc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s}",
	    "format", "pain.001.001.09", "bank", bank->name,
	    "charset", bank->charset, "sha256", hex, "bytes", (json_int_t)*flen,
	    "content_type", ctype, "content_digest", digest,
	    "signature_input", input, "signature", sig,
	    "key_id", x->l->bank_keys[bidx]->key_id);
	return *desc ? 0 : -1;
}

/* ----- bank status ----- */

static int
ledger_pay_set(struct ledger *l, const char *e2e, const char *status,
    const char *reason, const char *ref)
{
	sqlite3_stmt	*st = l->s[LG_PAY_GET];
	char		 old[8] = "", plan[INSTR_ID_MAX] = "";
	int64_t		 amount = 0, back = 0;
	int		 rc;

	/* A payment the bank rejects never left: its plan gets the room back
	 * (and takes it again if the bank changes its mind). */
	sqlite3_bind_text(st, 1, e2e, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		str_copy(old, sizeof(old), ledger_text(st, 1));
		str_copy(plan, sizeof(plan), ledger_text(st, 2));
		amount = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return ledger_fail(l, "payment");
	if (strcmp(status, "RJCT") == 0 && strcmp(old, "RJCT") != 0)
		back = -amount;
	else if (strcmp(status, "RJCT") != 0 && strcmp(old, "RJCT") == 0)
		back = amount;
	if (back != 0) {
		st = l->s[LG_DISBURSED];
		sqlite3_bind_int64(st, 1, back);
		sqlite3_bind_text(st, 2, plan, -1, SQLITE_STATIC);
		if (ledger_step(l, LG_DISBURSED, "disbursed") == -1)
			return -1;
	}
	st = l->s[LG_PAY_SET];
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	if (reason && reason[0])
		sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	if (ref && ref[0])
		sqlite3_bind_text(st, 3, ref, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_text(st, 4, e2e, -1, SQLITE_STATIC);
	return ledger_step(l, LG_PAY_SET, "payment status");
}

/* Which disbursement the payment e2e belongs to: 1 (into d), 0, -1. */
static int
ledger_pay_owner(struct ledger *l, const char *e2e, char *d, size_t dsz)
{
	sqlite3_stmt	*st = l->s[LG_PAY_GET];
	int		 rc;

	sqlite3_bind_text(st, 1, e2e, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = str_copy(d, dsz, ledger_text(st, 0)) == 0 ? 1 : -1;
	else
		rc = rc == SQLITE_DONE ? 0 : ledger_fail(l, "payment");
	sqlite3_reset(st);
	return rc;
}

static int
ledger_check_status(struct ledger_ctx *x, struct ledger_row *d,
    struct ledger_reply *r, int *refused)
{
	const struct instr_bank_status	*b = &x->in.u.bank_status;
	char				 owner[INSTR_ID_MAX];
	size_t				 i;
	int				 rc;

	*refused = 1;
	if ((rc = ledger_find(x->l, "disbursement", b->original_msg_id, d)) == -1)
		return -1;
	if (rc == 0)
		return ledger_refuse(x, 422, "unknown-payment",
		    "OrgnlMsgId names no disbursement file", r);
	if (strcmp(d->bank, x->m->agency) != 0)
		return ledger_refuse(x, 403, "not-your-payment",
		    "the file was sent to another bank", r);
	for (i = 0; i < b->ntx; i++) {
		if ((rc = ledger_pay_owner(x->l, b->tx[i].end_to_end_id, owner,
		    sizeof(owner))) == -1)
			return -1;
		if (rc == 0 || strcmp(owner, b->original_msg_id) != 0)
			return ledger_refuse(x, 422, "unknown-payment",
			    "an OrgnlEndToEndId is not a payment of the file", r);
	}
	*refused = 0;
	return 0;
}

/* Applies the report to the payments; *ev is the disbursement's event. */
static int
ledger_apply_status(struct ledger_ctx *x, enum ledger_event *ev)
{
	const struct instr_bank_status	*b = &x->in.u.bank_status;
	sqlite3_stmt			*st;
	size_t				 i;
	int				 n, settled, rejected, rc;

	for (i = 0; i < b->ntx; i++)
		if (ledger_pay_set(x->l, b->tx[i].end_to_end_id, b->tx[i].status,
		    b->tx[i].reason, b->tx[i].bank_reference) == -1)
			return -1;
	if (b->ntx == 0 && b->group_status[0] != '\0') {
		/* A group status without transactions speaks for all. */
		char	e2e[64][INSTR_ID_MAX];
		size_t	k = 0;

		st = x->l->s[LG_PAY_OF];
		sqlite3_bind_text(st, 1, b->original_msg_id, -1, SQLITE_STATIC);
		while (k < 64 && sqlite3_step(st) == SQLITE_ROW)
			str_copy(e2e[k++], INSTR_ID_MAX, ledger_text(st, 0));
		sqlite3_reset(st);
		for (i = 0; i < k; i++)
			if (ledger_pay_set(x->l, e2e[i], b->group_status,
			    b->group_reason, NULL) == -1)
				return -1;
	}
	st = x->l->s[LG_PAY_SUM];
	sqlite3_bind_text(st, 1, b->original_msg_id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return ledger_fail(x->l, "payment sum");
	}
	n = sqlite3_column_int(st, 0);
	settled = sqlite3_column_int(st, 1);
	rejected = sqlite3_column_int(st, 2);
	sqlite3_reset(st);
	*ev = rejected > 0 ? LE_BANK_REJECTED : settled == n && n > 0 ?
	    LE_BANK_SETTLED : LE_BANK_PENDING;
	return 0;
}

/* Status notices to hrss and finance, one per transaction reported. */
static int
ledger_notices(struct ledger_ctx *x, uint64_t index)
{
	const struct instr_bank_status	*b = &x->in.u.bank_status;
	const int			 ups[2] = { x->l->cf->courier.hrss,
					    x->l->cf->courier.finance };
	struct hrss_notice		 n;
	char				*body, idem[80];
	size_t				 i, len, u;

	for (i = 0; i < b->ntx; i++) {
		memset(&n, 0, sizeof(n));
		str_copy(n.disbursement_id, sizeof(n.disbursement_id),
		    b->original_msg_id);
		str_copy(n.end_to_end_id, sizeof(n.end_to_end_id),
		    b->tx[i].end_to_end_id);
		str_copy(n.status, sizeof(n.status), b->tx[i].status);
		str_copy(n.reason, sizeof(n.reason), b->tx[i].reason);
		str_copy(n.bank_reference, sizeof(n.bank_reference),
		    b->tx[i].bank_reference);
		n.audit_index = index;
		if (hrss_status_notice(&n, &body, &len) == -1)
			return -1;
		str_printf(idem, sizeof(idem), "%s:%s", x->in.id,
		    b->tx[i].end_to_end_id);
		for (u = 0; u < 2; u++)
			if (ledger_queue(x, ups[u], LEDGER_PATH_STATUS,
			    "application/json", idem, "", body, len) == -1) {
				free(body);
				return -1;
			}
		free(body);
	}
	return 0;
}

/* ----- one instruction ----- */

static int
ledger_insert(struct ledger_ctx *x, const uint8_t digest[32], const char *city,
    const char *period, int64_t amount, const char *bank, enum ledger_state s,
    uint64_t entry, int status, const char *receipt, size_t rlen)
{
	sqlite3_stmt	*st = x->l->s[LG_INSERT];

	sqlite3_bind_text(st, 1, instr_kind_name(x->in.kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, x->in.id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, digest, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, x->m->agency, -1, SQLITE_STATIC);
	if (city)
		sqlite3_bind_text(st, 5, city, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	if (period)
		sqlite3_bind_text(st, 6, period, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, amount);
	if (bank)
		sqlite3_bind_text(st, 8, bank, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 8);
	sqlite3_bind_int(st, 9, (int)s);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)entry);
	sqlite3_bind_int(st, 11, status);
	sqlite3_bind_blob(st, 12, receipt, (int)rlen, SQLITE_STATIC);
	if (x->in.kind == INSTR_REMITTANCE)
		sqlite3_bind_text(st, 13, x->in.u.remittance.value_date, -1,
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 13);
	return ledger_step(x->l, LG_INSERT, "insert instruction");
}

/* An amendment replaces the plan it names, which keeps no further say;
 * what was already paid under it counts against the amendment. */
static int
ledger_amend(struct ledger_ctx *x, const char *old)
{
	struct ledger_row	row;
	sqlite3_stmt		*st = x->l->s[LG_CARRY];
	int			rc;

	if ((rc = ledger_find(x->l, "plan", old, &row)) != 1)
		return -1;
	free(row.receipt);
	if (ledger_event(x->l, INSTR_PLAN, old, LE_SUPERSEDED) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, row.disbursed);
	sqlite3_bind_text(st, 2, x->in.id, -1, SQLITE_STATIC);
	return ledger_step(x->l, LG_CARRY, "carry");
}

/* After a remittance: short of what tax collected for that city and month,
 * or after the due day, is an early warning (alert; reconciliation flags
 * it too). */
static int
ledger_watch_remittance(struct ledger_ctx *x, uint64_t index)
{
	const struct instr_remittance	*rm = &x->in.u.remittance;
	int64_t				 collected, remitted;
	char				 due[11];
	int				 raised;

	if (ledger_sum(x->l, "collection", rm->city, rm->period, &collected) ==
	    -1 || ledger_sum(x->l, "remittance", rm->city, rm->period,
	    &remitted) == -1)
		return -1;
	if (remitted < collected && alerts_raise(x->l->al, "short-remittance",
	    rm->city, rm->period, "", json_pack("{s:I, s:I, s:s}",
	    "collected_fen", (json_int_t)collected, "remitted_fen",
	    (json_int_t)remitted, "remittance_id", x->in.id), UINT64_MAX,
	    &raised) == -1)
		return -1;
	(void)index;
	if (ledger_due_date(x->l, rm->period, due) == 0 &&
	    strcmp(rm->value_date, due) > 0 && alerts_raise(x->l->al,
	    "late-remittance", rm->city, rm->period, "", json_pack("{s:s, s:s, "
	    "s:s}", "due_date", due, "value_date", rm->value_date,
	    "remittance_id", x->in.id), UINT64_MAX, &raised) == -1)
		return -1;
	return 0;
}

/* Payment capacity in months below the threshold is an early warning;
 * raised once per month of plans paid. */
static int
ledger_watch_capacity(struct ledger *l, const char *period)
{
	int64_t	balance, monthly;
	double	months;
	int	raised;

	char	m[32];

	/* Nothing spent yet (monthly 0): capacity is unbounded. An overdrawn
	 * fund has negative capacity, the most urgent case of all. */
	if (l->cf->rules.capacity_months == 0 ||
	    report_capacity(l->db, &balance, &monthly, &months) == -1 ||
	    monthly == 0 || months >= (double)l->cf->rules.capacity_months)
		return 0;
	/* Canonical JSON carries no floats: the figure is a decimal string. */
	str_printf(m, sizeof(m), "%.2f", months);
	return alerts_raise(l->al, "capacity-low", "", period, "",
	    json_pack("{s:I, s:I, s:s, s:i}", "balance_fen", (json_int_t)balance,
	    "monthly_expenditure_fen", (json_int_t)monthly, "capacity_months",
	    m, "threshold_months", (int)l->cf->rules.capacity_months),
	    UINT64_MAX, &raised);
}

/* A bank's notification: credits to the province-special account are
 * matched to the remittance they pay (by end-to-end id, else by the
 * remittance id in the reference); the rest are unmatched arrivals. */
static int
ledger_arrivals(struct ledger_ctx *x)
{
	const struct instr_bank_notification	*b = &x->in.u.bank_notification;
	const struct registry_account		*acct;
	struct ledger_row			 rem;
	sqlite3_stmt				*st = x->l->s[LG_ARRIVAL];
	char					 subject[64];
	const char				*by;
	size_t					 i;
	int					 matched, raised, fund;

	for (i = 0; i < b->nentries; i++) {
		const struct instr_bank_entry *en = &b->entries[i];

		acct = x->l->reg ? registry_by_number(x->l->reg, en->account) :
		    NULL;
		fund = acct != NULL && acct->role == REG_PROVINCE_SPECIAL &&
		    en->credit;
		matched = 0;
		by = NULL;
		memset(&rem, 0, sizeof(rem));
		if (fund) {
			if (en->end_to_end_id[0] != '\0' &&
			    (matched = ledger_find(x->l, "remittance",
			    en->end_to_end_id, &rem)) == 1)
				by = en->end_to_end_id;
			if (matched == 0 && instr_id_ok(en->reference) &&
			    (matched = ledger_find(x->l, "remittance",
			    en->reference, &rem)) == 1)
				by = en->reference;
			free(rem.receipt);
			if (matched == -1)
				return -1;
		}
		sqlite3_bind_text(st, 1, x->in.id, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, (int)i);
		sqlite3_bind_text(st, 3, en->account, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, en->credit ? en->amount_fen :
		    -en->amount_fen);
		sqlite3_bind_text(st, 5, en->booking_date, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, en->end_to_end_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, en->reference, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 11, fund && matched == 0);
		if (matched == 1) {
			sqlite3_bind_text(st, 8, by, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 9, rem.city, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 10, rem.period, -1,
			    SQLITE_TRANSIENT);
		} else {
			sqlite3_bind_null(st, 8);
			sqlite3_bind_null(st, 9);
			sqlite3_bind_null(st, 10);
		}
		if (ledger_step(x->l, LG_ARRIVAL, "arrival") == -1)
			return -1;
		str_printf(subject, sizeof(subject), "%s#%zu", x->in.id, i);
		if (fund && matched == 0 && alerts_raise(x->l->al, "unmatched-arrival", "", "",
		    subject, json_pack("{s:s, s:I, "
		    "s:s, s:s, s:s}", "account", en->account, "amount_fen",
		    (json_int_t)en->amount_fen, "booking_date", en->booking_date,
		    "end_to_end_id", en->end_to_end_id, "reference",
		    en->reference), UINT64_MAX, &raised) == -1)
			return -1;
	}
	return 0;
}

/* The receipt: what the caller keeps as proof of acceptance. */
static int
ledger_receipt(struct ledger_ctx *x, json_t *sig, uint64_t index,
    const char *status, char **out, size_t *len)
{
	json_t	*o;
	char	 d[80];
	int	 rc;

	str_printf(d, sizeof(d), "sha-256:%s", x->digest_hex);
	o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:O}", "status", status,
	    "kind", instr_kind_name(x->in.kind), "id", x->in.id,
	    "audit_index", (json_int_t)index, "digest", d, "signature", sig);
	if (o == NULL)
		return -1;
	rc = jcs_serialize(o, out, len);
	json_decref(o);
	return rc;
}

/* The same id again: the same content gets the original receipt byte for
 * byte; other content is a conflict and an alert. */
static int
ledger_duplicate(struct ledger_ctx *x, const uint8_t digest[32],
    struct ledger_row *orig, struct ledger_reply *r)
{
	json_t	*e;
	char	 hex[65], subject[128];
	int	 raised;

	hex_encode(hex, orig->digest, 32);
	if (CRYPTO_memcmp(digest, orig->digest, 32) == 0) {
		if ((e = ledger_entry_base(x, "replay")) == NULL)
			return -1;
		json_object_set_new(e, "instruction_kind",
		    json_string(instr_kind_name(x->in.kind)));
		json_object_set_new(e, "id", json_string(x->in.id));
		json_object_set_new(e, "digest", json_string(hex));
		json_object_set_new(e, "original_index",
		    json_integer((json_int_t)orig->entry));
		if (ledger_append(x->l, e, &r->index) == -1)
			return -1;
		r->status = orig->status;
		r->flags = IPC_INSTR_REPLAYED;
		r->body = orig->receipt;
		r->blen = orig->rlen;
		orig->receipt = NULL;
		return 0;
	}
	if ((e = ledger_entry_base(x, "refusal")) == NULL)
		return -1;
	json_object_set_new(e, "rule", json_string("duplicate-conflict"));
	json_object_set_new(e, "alert",
	    json_string("duplicate-id-different-content"));
	json_object_set_new(e, "status", json_integer(409));
	json_object_set(e, "instruction", x->instr_json);
	json_object_set_new(e, "original_index",
	    json_integer((json_int_t)orig->entry));
	json_object_set_new(e, "original_digest", json_string(hex));
	if (ledger_append(x->l, e, &r->index) == -1)
		return -1;
	/* Each conflicting attempt is its own warning: the subject names
	 * the entry, so none hides behind an earlier one. */
	str_printf(subject, sizeof(subject), "%s:%s@%llu",
	    instr_kind_name(x->in.kind), x->in.id, (unsigned long long)r->index);
	if (alerts_raise(x->l->al, "duplicate-id-different-content",
	    orig->city, orig->period, subject, json_pack("{s:s, s:s, s:s, "
	    "s:s, s:I}", "kind", instr_kind_name(x->in.kind), "id", x->in.id,
	    "original_digest", hex, "digest", x->digest_hex, "original_index",
	    (json_int_t)orig->entry), r->index, &raised) == -1)
		return -1;
	ledger_reply_text(r, 409, "duplicate-conflict",
	    "this id was already used for an instruction with other content");
	return 0;
}

/* Accepted: entry, receipt, state, side effects, deliveries. */
static int
ledger_accept(struct ledger_ctx *x, const uint8_t digest[32],
    struct ledger_reply *r)
{
	struct pain001_input	*pin = NULL;
	const struct cfg_bank	*bank = NULL;
	struct ledger_row	 other;
	enum ledger_event	 ev = LE_BANK_PENDING;
	enum ledger_state	 state = LS_ACCEPTED, to;
	json_t			*sig = NULL, *e = NULL, *file = NULL;
	char			*receipt = NULL, *body = NULL, *bfile = NULL;
	char			 headers[2048] = "", idem[80];
	const char		*city = NULL, *period = NULL;
	int64_t			 amount = 0;
	size_t			 rlen, blen, flen = 0, bidx = 0, i;
	int			 refused = 0, rc = -1, status = 202;

	memset(&other, 0, sizeof(other));
	switch (x->in.kind) {
	case INSTR_COLLECTION:
		city = x->in.u.collection.city;
		period = x->in.u.collection.period;
		amount = x->in.u.collection.total_fen;
		break;
	case INSTR_REMITTANCE:
		if (ledger_check_remittance(x, r, &refused) == -1 || refused)
			return refused ? 0 : -1;
		city = x->in.u.remittance.city;
		period = x->in.u.remittance.period;
		amount = x->in.u.remittance.amount_fen;
		break;
	case INSTR_PLAN:
		if (ledger_check_plan(x, r, &refused) == -1 || refused)
			return refused ? 0 : -1;
		city = x->in.u.plan.city;
		period = x->in.u.plan.period;
		amount = x->in.u.plan.total_fen;
		state = LS_SUBMITTED;
		break;
	case INSTR_REVIEW:
		if (ledger_check_review(x, &other, r, &refused) == -1 || refused) {
			free(other.receipt);
			return refused ? 0 : -1;
		}
		free(other.receipt);
		city = other.city;
		period = other.period;
		amount = x->in.u.review.approved ?
		    x->in.u.review.approved_total_fen : 0;
		break;
	case INSTR_DISBURSEMENT:
		if ((pin = calloc(1, sizeof(*pin))) == NULL)
			return -1;
		if (ledger_check_disbursement(x, pin, &bank, &bidx, r,
		    &refused) == -1 || refused) {
			free(pin);
			return refused ? 0 : -1;
		}
		for (i = 0; i < x->in.u.disbursement.nlines; i++)
			amount += x->in.u.disbursement.lines[i].amount_fen;
		if (ledger_bank_file(x, pin, bank, bidx, &bfile, &flen, headers,
		    sizeof(headers), &file) == -1) {
			free(pin);
			json_decref(file);
			/* A bug or a bad key, not the caller's fault: logged
			 * and refused, nothing sent. */
			return ledger_refuse(x, 500, "bank-file-failed",
			    "the bank file could not be written or signed", r);
		}
		break;
	case INSTR_BANK_STATUS:
		if (ledger_check_status(x, &other, r, &refused) == -1 || refused) {
			free(other.receipt);
			return refused ? 0 : -1;
		}
		free(other.receipt);
		state = LS_RECORDED;
		status = 200;
		break;
	case INSTR_BANK_NOTIFICATION:
		state = LS_RECORDED;
		status = 200;
		break;
	}

	if ((sig = ledger_sign(x->l->key, x->canon, x->clen)) == NULL ||
	    (e = ledger_entry_base(x, "instruction")) == NULL)
		goto done;
	json_object_set(e, "instruction", x->instr_json);
	json_object_set_new(e, "digest", json_string(x->digest_hex));
	json_object_set(e, "signature", sig);
	if (file != NULL)
		json_object_set(e, "file", file);
	rc = ledger_append(x->l, e, &r->index);
	e = NULL;
	if (rc == -1)
		goto done;
	rc = -1;
	if (ledger_receipt(x, sig, r->index, status == 202 ? "accepted" :
	    "recorded", &receipt, &rlen) == -1 ||
	    ledger_insert(x, digest, city, period, amount,
	    bank ? bank->name : NULL, state, r->index, status, receipt,
	    rlen) == -1)
		goto done;

	/* Side effects on other instructions, then the deliveries. */
	str_printf(idem, sizeof(idem), "%s:%s", instr_kind_name(x->in.kind),
	    x->in.id);
	switch (x->in.kind) {
	case INSTR_REVIEW:
		ledger_transition(INSTR_PLAN, LS_SUBMITTED,
		    x->in.u.review.approved ? LE_APPROVED : LE_REJECTED, &to);
		sqlite3_bind_int(x->l->s[LG_REVIEW], 1, (int)to);
		if (x->in.u.review.approved)
			sqlite3_bind_int64(x->l->s[LG_REVIEW], 2,
			    x->in.u.review.approved_total_fen);
		else
			sqlite3_bind_null(x->l->s[LG_REVIEW], 2);
		sqlite3_bind_text(x->l->s[LG_REVIEW], 3, x->in.u.review.plan_id,
		    -1, SQLITE_STATIC);
		if (ledger_step(x->l, LG_REVIEW, "review") == -1)
			goto done;
		break;
	case INSTR_DISBURSEMENT:
		for (i = 0; i < x->in.u.disbursement.nlines; i++) {
			sqlite3_stmt *st = x->l->s[LG_PAY_ADD];
			const struct pain001_line *pl = &pin->lines[i];

			sqlite3_bind_text(st, 1, pl->end_to_end_id, -1,
			    SQLITE_STATIC);
			sqlite3_bind_text(st, 2, x->in.id, -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 3, (int)i);
			sqlite3_bind_text(st, 4, pl->plan_id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 5, pl->city, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 6, pl->amount_fen);
			sqlite3_bind_text(st, 7, pl->creditor_account, -1,
			    SQLITE_STATIC);
			sqlite3_bind_text(st, 8, x->line_period[i], -1,
			    SQLITE_STATIC);
			if (ledger_step(x->l, LG_PAY_ADD, "payment") == -1)
				goto done;
			st = x->l->s[LG_DISBURSED];
			sqlite3_bind_int64(st, 1, pl->amount_fen);
			sqlite3_bind_text(st, 2, pl->plan_id, -1, SQLITE_STATIC);
			if (ledger_step(x->l, LG_DISBURSED, "disbursed") == -1)
				goto done;
		}
		{
			char ctype[64];

			str_printf(ctype, sizeof(ctype),
			    "application/xml; charset=%s", bank->charset);
			if (ledger_queue(x, bank->upstream, LEDGER_PATH_PAIN001,
			    ctype, idem, headers, bfile, flen) == -1)
				goto done;
		}
		if (ledger_watch_capacity(x->l, x->line_period[0]) == -1)
			goto done;
		break;
	case INSTR_PLAN:
		if (x->in.u.plan.amends[0] != '\0' &&
		    ledger_amend(x, x->in.u.plan.amends) == -1)
			goto done;
		break;
	case INSTR_REMITTANCE:
		if (ledger_watch_remittance(x, r->index) == -1)
			goto done;
		break;
	case INSTR_BANK_NOTIFICATION:
		if (ledger_arrivals(x) == -1)
			goto done;
		break;
	case INSTR_BANK_STATUS:
		if (ledger_apply_status(x, &ev) == -1 ||
		    ledger_event(x->l, INSTR_DISBURSEMENT,
		    x->in.u.bank_status.original_msg_id, ev) == -1 ||
		    ledger_notices(x, r->index) == -1)
			goto done;
		break;
	default:
		break;
	}
	if (x->in.kind == INSTR_COLLECTION || x->in.kind == INSTR_REMITTANCE ||
	    x->in.kind == INSTR_PLAN || x->in.kind == INSTR_REVIEW) {
		int	up = x->in.kind == INSTR_REVIEW ? x->l->cf->courier.hrss :
		    x->l->cf->courier.finance;
		char	path[64];

		str_printf(path, sizeof(path), "/inbox/%s",
		    instr_kind_name(x->in.kind));
		if (ledger_envelope(x, sig, r->index, &body, &blen) == -1 ||
		    ledger_queue(x, up, path, "application/json", idem, "",
		    body, blen) == -1)
			goto done;
	}
	r->status = status;
	r->body = receipt;
	r->blen = rlen;
	receipt = NULL;
	rc = 0;
done:
	if (rc == -1)
		log_warnx("%s: %s %s: the store refused it", __func__,
		    instr_kind_name(x->in.kind), x->in.id);
	json_decref(sig);
	json_decref(e);
	json_decref(file);
	free(receipt);
	free(body);
	free(bfile);
	free(pin);
	return rc;
}

/* Whether the sender's role (and a city's bound city) may send x. */
static int
ledger_sender_ok(const struct ledger_ctx *x)
{
	static const enum role	 sender[] = {
		[INSTR_COLLECTION] = ROLE_TAX,
		[INSTR_REMITTANCE] = ROLE_FINANCE_CITY,
		[INSTR_PLAN] = ROLE_HRSS,
		[INSTR_REVIEW] = ROLE_FINANCE,
		[INSTR_DISBURSEMENT] = ROLE_HRSS,
		[INSTR_BANK_STATUS] = ROLE_BANK,
		[INSTR_BANK_NOTIFICATION] = ROLE_BANK,
	};

	if ((size_t)x->in.kind >= nitems(sender) ||
	    x->m->role != (uint32_t)sender[x->in.kind])
		return 0;
	if (x->in.kind == INSTR_REMITTANCE &&
	    (!ipc_str_ok(x->m->city, sizeof(x->m->city)) ||
	    strcmp(x->m->city, x->in.u.remittance.city) != 0))
		return 0;
	return 1;
}

int
ledger_instr(struct ledger *l, unsigned slot, const struct ipc_instr *m,
    const char *canon, size_t len, struct ledger_reply *r)
{
	struct ledger_ctx	x;
	struct ledger_row	orig;
	struct adapter_error	err;
	json_error_t		jerr;
	uint8_t			digest[32];
	int			rc;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	memset(&err, 0, sizeof(err));
	x.l = l;
	x.slot = slot;
	x.m = m;
	x.canon = canon;
	x.clen = len;
	/* Never trust the relay's bytes: parse them again, strictly. */
	if (instr_parse_canonical(canon, len, (enum instr_kind)m->kind, &x.in,
	    &err) == -1) {
		log_warnx("%s: relay %u sent a bad instruction: %s %s", __func__,
		    slot, err.code, err.field);
		rc = ledger_refuse(&x, 400, "bad-instruction",
		    "the instruction is not canonical", r);
		return rc;
	}
	if ((x.instr_json = json_loadb(canon, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		instr_free(&x.in);
		return -1;
	}
	SHA256((const unsigned char *)canon, len, digest);
	hex_encode(x.digest_hex, digest, 32);
	/* The relay checked who may send what; a keeper that holds the keys
	 * checks it again rather than sign for a confused worker. */
	if (ledger_sender_ok(&x) == 0) {
		rc = ledger_refuse(&x, 403, "role-not-allowed",
		    "the sender's role may not send this instruction", r);
		json_decref(x.instr_json);
		instr_free(&x.in);
		return rc;
	}
	if ((rc = ledger_find(l, instr_kind_name(x.in.kind), x.in.id,
	    &orig)) == 1) {
		rc = ledger_duplicate(&x, digest, &orig, r);
		free(orig.receipt);
	} else if (rc == 0)
		rc = ledger_accept(&x, digest, r);
	json_decref(x.instr_json);
	instr_free(&x.in);
	return rc;
}

int
ledger_delivered(struct ledger *l, const struct ipc_delivered *d,
    uint64_t *index, int *parked)
{
	static const char *const outcomes[] = { "", "delivered", "retry",
	    "refused" };
	struct outbox_row	 row;
	enum outbox_state	 state;
	enum instr_kind		 kind;
	json_t			*e;
	char			 t[40], hex[65];
	int			 rc, ok = d->outcome == DELIVERY_OK;

	*parked = 0;
	if ((rc = outbox_get(l->ob, d->seq, &row, &state)) == -1)
		return -1;
	if (rc == 0 || state != OUTBOX_PENDING || d->outcome < DELIVERY_OK ||
	    d->outcome > DELIVERY_REFUSED) {
		if (rc == 1)
			outbox_row_clear(&row);
		log_warnx("%s: outcome for row %llu ignored", __func__,
		    (unsigned long long)d->seq);
		return 0;
	}
	entry_time(t, sizeof(t));
	hex_encode(hex, d->response_sha256, 32);
	e = json_pack("{s:s, s:s, s:s, s:I, s:{s:s, s:s}, s:s, s:s, s:I, s:s,"
	    " s:i, s:s, s:I}",
	    "kind", "delivery", "time", t, "source", "courier",
	    "outbox", (json_int_t)d->seq,
	    "instruction", "kind", row.kind, "id", row.id,
	    "upstream", (row.upstream >= 0) ?
	    l->cf->upstreams[row.upstream].name : "?",
	    "path", row.path,
	    "attempt", (json_int_t)(row.attempts + 1),
	    "outcome", outcomes[d->outcome], "status", (int)d->status,
	    "response_sha256", hex, "duration_ms", (json_int_t)d->duration_ms);
	if (e != NULL && d->outcome != DELIVERY_OK &&
	    ipc_str_ok(d->error, sizeof(d->error)))
		json_object_set_new(e, "error", json_string(d->error));
	/* Whether this attempt parks the row is known before the entry. */
	if (e != NULL && !ok && (d->outcome == DELIVERY_REFUSED ||
	    outbox_last_attempt(l->ob, &row)))
		json_object_set_new(e, "alert", json_string("delivery-parked"));
	if (ledger_append(l, e, index) == -1 ||
	    outbox_attempted(l->ob, d->seq, ok, d->outcome == DELIVERY_REFUSED,
	    d->status, ipc_str_ok(d->error, sizeof(d->error)) ? d->error : "",
	    *index, parked, NULL) == -1) {
		outbox_row_clear(&row);
		return -1;
	}
	rc = 0;
	if (ledger_kind_parse(row.kind, &kind) == 0) {
		if (*parked)
			rc = ledger_event(l, kind, row.id, LE_PARKED);
		else if (ok && outbox_all_delivered(l->ob, row.kind, row.id) == 1)
			rc = ledger_event(l, kind, row.id, LE_DELIVERED);
	}
	outbox_row_clear(&row);
	return rc;
}

/* Remittances not received in full by their due day. */
static int
ledger_watch_overdue(struct ledger *l, const char *today)
{
	sqlite3_stmt	*st = l->s[LG_OVERDUE];
	char		 city[8], period[8], due[11];
	int64_t		 collected, remitted;
	int		 rc, raised;

	/* The cursor cannot stay open while alerts append: one at a time. */
	for (;;) {
		int found = 0;

		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			str_copy(city, sizeof(city), ledger_text(st, 0));
			str_copy(period, sizeof(period), ledger_text(st, 1));
			collected = sqlite3_column_int64(st, 2);
			remitted = sqlite3_column_int64(st, 3);
			if (remitted >= collected ||
			    ledger_due_date(l, period, due) == -1 ||
			    strcmp(today, due) <= 0)
				continue;
			if (report_alerted_rule(l->db, "late-remittance", city,
			    period))
				continue;
			found = 1;
			break;
		}
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return ledger_fail(l, "overdue");
		if (!found)
			return 0;
		if (alerts_raise(l->al, "late-remittance", city, period, "",
		    json_pack("{s:s, s:I, s:I}", "due_date", due,
		    "collected_fen", (json_int_t)collected, "remitted_fen",
		    (json_int_t)remitted), UINT64_MAX, &raised) == -1)
			return -1;
	}
}

/* Certificates the configuration names that end within 30 days. */
static int
ledger_watch_certs(struct ledger *l)
{
	const struct metrics_cert *certs = l->certs;
	size_t			n = l->ncerts, i;
	time_t			now = time(NULL);
	int			raised;
	char			when[32];
	struct tm		tm;

	for (i = 0; i < n; i++) {
		if (certs[i].not_after - now > 30 * 86400)
			continue;
		gmtime_r(&certs[i].not_after, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (alerts_raise(l->al, "certificate-expiry", "", "",
		    certs[i].path, json_pack("{s:s, s:I}", "not_after", when,
		    "seconds_left", (json_int_t)(certs[i].not_after - now)),
		    UINT64_MAX, &raised) == -1)
			return -1;
	}
	return 0;
}

int
ledger_watch(struct ledger *l)
{
	char	today[40];

	entry_time(today, sizeof(today));
	today[10] = '\0';
	if (ledger_watch_overdue(l, today) == -1 || ledger_watch_certs(l) == -1)
		return -1;
	return 0;
}

int
ledger_requeue(struct ledger *l, uint64_t seq, const char *who,
    struct ledger_reply *r)
{
	json_t	*e;
	char	 t[40];
	int	 rc;

	memset(r, 0, sizeof(*r));
	if ((rc = outbox_requeue(l->ob, seq)) == -1)
		return -1;
	if (rc == 0) {
		ledger_reply_text(r, 404, "not-parked",
		    "no parked outbox row has that number");
		return 0;
	}
	entry_time(t, sizeof(t));
	e = json_pack("{s:s, s:s, s:s, s:I}", "kind", "outbox-retry",
	    "time", t, "agency", who, "outbox", (json_int_t)seq);
	if (ledger_append(l, e, &r->index) == -1)
		return -1;
	ledger_reply_text(r, 200, "", "requeued");
	return 0;
}

/* ----- the transfer view ----- */

/* Whether the caller (agency, role) is a party to the instruction. */
static int
ledger_party(struct ledger *l, const struct ipc_transfer_query *q,
    enum instr_kind kind, const struct ledger_row *row)
{
	unsigned	roles = 0;

	if (q->role == ROLE_ADMIN || strcmp(q->agency, row->agency) == 0)
		return 1;
	switch (kind) {
	case INSTR_COLLECTION:
	case INSTR_REMITTANCE:
		roles = 1u << ROLE_FINANCE;
		break;
	case INSTR_PLAN:
	case INSTR_REVIEW:
	case INSTR_BANK_STATUS:
		roles = 1u << ROLE_FINANCE | 1u << ROLE_HRSS;
		break;
	case INSTR_DISBURSEMENT:
		roles = 1u << ROLE_FINANCE | 1u << ROLE_HRSS;
		if (strcmp(q->agency, row->bank) == 0)
			return 1;
		break;
	case INSTR_BANK_NOTIFICATION:
		roles = 1u << ROLE_FINANCE;
		break;
	}
	(void)l;
	return q->role < ROLE_COUNT && (roles & 1u << q->role) != 0;
}

static json_t *
ledger_payments(struct ledger *l, const char *id)
{
	sqlite3_stmt	*st = l->s[LG_PAY_OF];
	json_t		*arr = json_array(), *p;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (arr != NULL && sqlite3_step(st) == SQLITE_ROW) {
		p = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}",
		    "end_to_end_id", ledger_text(st, 0),
		    "plan_id", ledger_text(st, 2), "city_code", ledger_text(st, 3),
		    "amount_fen", (json_int_t)sqlite3_column_int64(st, 4),
		    "account", ledger_text(st, 5), "status", ledger_text(st, 6));
		if (p != NULL && sqlite3_column_type(st, 7) == SQLITE_TEXT)
			json_object_set_new(p, "reason",
			    json_string(ledger_text(st, 7)));
		if (p != NULL && sqlite3_column_type(st, 8) == SQLITE_TEXT)
			json_object_set_new(p, "bank_reference",
			    json_string(ledger_text(st, 8)));
		json_array_append_new(arr, p);
	}
	sqlite3_reset(st);
	return arr;
}

/* An inclusion proof of entry index in the newest checkpoint, or null
 * while no checkpoint covers it yet. */
static json_t *
ledger_proof(struct ledger *l, uint64_t index)
{
	uint8_t	 proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN], leaf[MERKLE_HASH_LEN];
	char	*note = NULL, *b;
	size_t	 nlen, n, i;
	uint64_t size = 0;
	json_t	*o = NULL, *hs;

	if (store_checkpoint_latest(l->st, &note, &nlen, &size) != 0 ||
	    size <= index) {
		free(note);
		return json_null();
	}
	if (store_subtree(l->st, index, 0, leaf) == -1 ||
	    merkle_inclusion_proof(store_subtree, l->st, index, size, proof[0],
	    MERKLE_MAX_PROOF, &n) == -1 || (hs = json_array()) == NULL) {
		free(note);
		return json_null();
	}
	for (i = 0; i < n; i++) {
		b = ledger_b64(proof[i], MERKLE_HASH_LEN);
		json_array_append_new(hs, b ? json_string(b) : json_null());
		free(b);
	}
	b = ledger_b64(leaf, MERKLE_HASH_LEN);
	o = json_pack("{s:I, s:I, s:s, s:o, s:s}", "index", (json_int_t)index,
	    "tree_size", (json_int_t)size, "leaf_hash", b ? b : "",
	    "hashes", hs, "checkpoint", note);
	free(b);
	free(note);
	return o ? o : json_null();
}

static void
ledger_answer(struct ipc_audit_reply *r, int status, const char *code,
    const char *detail, char **body, size_t *blen)
{
	json_t	*o;

	r->status = status;
	str_copy(r->ctype, sizeof(r->ctype), "application/json");
	str_copy(r->code, sizeof(r->code), code);
	o = json_pack("{s:s, s:s}", "error", detail, "code", code);
	*body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	*blen = *body ? strlen(*body) : 0;
	json_decref(o);
}

void
ledger_transfer(struct ledger *l, const struct ipc_transfer_query *q,
    struct ipc_audit_reply *r, char **body, size_t *blen)
{
	struct ledger_row	 row;
	enum instr_kind		 kind = (enum instr_kind)q->kind, k;
	sqlite3_stmt		*st = l->s[LG_BY_ID];
	json_t			*o, *rec;
	int			 n = 0, rc;

	memset(r, 0, sizeof(*r));
	*body = NULL;
	*blen = 0;
	if (!ipc_str_ok(q->agency, sizeof(q->agency)) ||
	    !ipc_str_ok(q->id, sizeof(q->id)) || !instr_id_ok(q->id)) {
		ledger_answer(r, 400, "bad-id", "not an instruction id", body,
		    blen);
		return;
	}
	if (q->kind == 0) {
		/* Without a kind the id must name one instruction the caller
		 * may see. */
		sqlite3_bind_text(st, 1, q->id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			if (ledger_kind_parse(ledger_text(st, 0), &k) == 0) {
				if (ledger_find(l, instr_kind_name(k), q->id,
				    &row) == 1 && ledger_party(l, q, k, &row)) {
					kind = k;
					n++;
				}
				free(row.receipt);
			}
		sqlite3_reset(st);
		if (n > 1) {
			ledger_answer(r, 409, "ambiguous-id", "several kinds of "
			    "instruction have this id: add ?kind=", body, blen);
			return;
		}
	}
	if (n == 0 && q->kind == 0)
		rc = 0;
	else if ((rc = ledger_find(l, instr_kind_name(kind), q->id, &row)) == 1 &&
	    !ledger_party(l, q, kind, &row)) {
		free(row.receipt);
		rc = 0;
	}
	if (rc != 1) {
		ledger_answer(r, rc == 0 ? 404 : 500, rc == 0 ? "no-transfer" :
		    "internal", rc == 0 ? "no such transfer" :
		    "the ledger cannot be read", body, blen);
		return;
	}
	rec = json_loadb(row.receipt, row.rlen, 0, NULL);
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o}",
	    "kind", instr_kind_name(kind), "id", q->id,
	    "state", ledger_state_names[row.state], "agency", row.agency,
	    "audit_index", (json_int_t)row.entry,
	    "receipt", rec ? rec : json_null(),
	    "deliveries", outbox_of(l->ob, instr_kind_name(kind), q->id),
	    "proof", ledger_proof(l, row.entry));
	if (o != NULL && kind == INSTR_DISBURSEMENT)
		json_object_set_new(o, "payments", ledger_payments(l, q->id));
	if (o != NULL && kind == INSTR_PLAN) {
		json_object_set_new(o, "amount_fen", json_integer(row.amount));
		json_object_set_new(o, "approved_fen", row.approved >= 0 ?
		    json_integer(row.approved) : json_null());
		json_object_set_new(o, "disbursed_fen",
		    json_integer(row.disbursed));
	}
	free(row.receipt);
	*body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (*body == NULL) {
		ledger_answer(r, 500, "internal", "out of memory", body, blen);
		return;
	}
	*blen = strlen(*body);
	r->status = 200;
	str_copy(r->ctype, sizeof(r->ctype), "application/json");
}

void
ledger_report(struct ledger *l, const struct ipc_report_query *q,
    struct ipc_audit_reply *r, char **body, size_t *blen)
{
	json_t	*o = NULL;
	char	 period[8];

	memset(r, 0, sizeof(r[0]));
	*body = NULL;
	*blen = 0;
	if (q->what == REPORT_RECONCILIATION) {
		if (!ipc_str_ok(q->period, sizeof(q->period)) ||
		    !instr_period_ok(q->period)) {
			ledger_answer(r, 400, "bad-period", "period must be YYYY-MM",
			    body, blen);
			return;
		}
		str_copy(period, sizeof(period), q->period);
		o = report_reconciliation(l->db, &l->cf->rules, period);
		if (o != NULL && q->csv) {
			if (report_csv(o, body, blen) == 0) {
				json_decref(o);
				r->status = 200;
				str_copy(r->ctype, sizeof(r->ctype),
				    "text/csv; charset=UTF-8");
				return;
			}
			json_decref(o);
			o = NULL;
		}
	} else if (q->what == REPORT_ALERTS)
		o = alerts_list(l->db, q->since);
	*body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (*body == NULL) {
		ledger_answer(r, 500, "internal", "the report cannot be made",
		    body, blen);
		return;
	}
	*blen = strlen(*body);
	r->status = 200;
	str_copy(r->ctype, sizeof(r->ctype), "application/json");
}
