/* The ledger: the keeper's side of every instruction. Inside the group
 * commit's transaction it re-reads the relay's canonical bytes, refuses
 * duplicates and what the fund's rules forbid, signs, appends the audit
 * entry, records the state and queues the deliveries; nothing of it is
 * visible (or acknowledged) before the commit. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "adapters/instr_parse.h"
#include "adapters/jcs.h"
#include "ipc.h"
#include "keeper/alerts.h"
#include "keeper/inspect.h"
#include "keeper/ledger_int.h"
#include "keeper/outbox.h"
#include "keeper/registry.h"
#include "keeper/store.h"
#include "keeper/totals.h"
#include "log.h"
#include "net/httpsig.h"
#include "util.h"

const char *const ledger_state_names[LS_COUNT] = {
	"accepted", "delivered", "parked", "submitted", "approved",
	"rejected", "sent", "in-progress", "settled", "bank-rejected",
	"recorded", "superseded",
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
    /* Covering the per-city, per-month sums and the standing plan: without
     * amount and state SQLite prefers scanning the kind's primary key. */
    "CREATE INDEX IF NOT EXISTS instructions_by_city ON instructions "
    "  (kind, city, period, state, amount);"
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
    "  PRIMARY KEY (notification, n)) WITHOUT ROWID;"
    /* The month's unexplained credits, for its reconciliation. */
    "CREATE INDEX IF NOT EXISTS arrivals_unmatched ON arrivals (booking_date)"
    "  WHERE unmatched = 1;";

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
	/* A figure of fund_totals ('collected', 'remitted', ...). */
	[LG_SUM_CP] = "SELECT coalesce(sum(amount), 0) FROM fund_totals "
	    "WHERE what = ? AND period = ?3 AND city = ?2",
	/* The plan of a city and period that stands (not superseded). */
	[LG_CURRENT_PLAN] = "SELECT id FROM instructions WHERE kind = 'plan' "
	    "AND city = ? AND period = ? AND state != ?",
	[LG_CARRY] = "UPDATE instructions SET disbursed = ? WHERE kind = "
	    "'plan' AND id = ?",
	/* What a city's payments took in a year (rejected ones gave it back). */
	[LG_YEAR_SPENT] = "SELECT coalesce(sum(amount), 0) FROM fund_totals "
	    "WHERE what = 'disbursed' AND period BETWEEN ?2 || '-01' AND "
	    "?2 || '-12' AND city = ?1",
	[LG_ARRIVAL] = "INSERT INTO arrivals (notification, n, account, "
	    "amount, booking_date, e2e, reference, remittance, city, period, "
	    "unmatched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	/* Months from ?1 on whose city remitted less than it collected (older
	 * ones were watched in their time): a few rows per city and month. */
	[LG_OVERDUE] = "SELECT c.city, c.period, c.amount, coalesce(r.amount, "
	    "0) FROM fund_totals c LEFT JOIN fund_totals r ON r.what = "
	    "'remitted' AND r.period = c.period AND r.city = c.city WHERE "
	    "c.what = 'collected' AND c.period >= ?1 AND c.n > 0 AND "
	    "coalesce(r.amount, 0) < c.amount "
	    "ORDER BY c.city, c.period",
	[LG_RECEIPT] = "UPDATE instructions SET receipt = ? WHERE kind = ? "
	    "AND id = ?",
};

int
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
	case INSTR_ACCOUNT_CHANGE:
		if (from == LS_SUBMITTED && ev == LE_APPROVED)
			*to = LS_APPROVED;
		else if (from == LS_SUBMITTED && ev == LE_REJECTED)
			*to = LS_REJECTED;
		break;
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
	case INSTR_ACCOUNT_REVIEW:
		break;
	}
	return *to == from ? 0 : 1;
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
	if (sqlite3_exec(l->db, ledger_schema, NULL, NULL, NULL) != SQLITE_OK) {
		ledger_fail(l, "schema");
		goto fail;
	}
	if (totals_init(l->db) == -1 || ledger_accounts_open(l) == -1)
		goto fail;
	for (j = 0; j < LG_COUNT; j++)
		if (sqlite3_prepare_v3(l->db, ledger_sql[j], -1,
		    SQLITE_PREPARE_PERSISTENT, &l->s[j], NULL) != SQLITE_OK) {
			ledger_fail(l, ledger_sql[j]);
			goto fail;
		}
	if (outbox_open(l->db, cf, &l->ob) == -1 ||
	    alerts_open(st, &l->al) == -1 || inspect_init(l->db) == -1)
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
	ledger_receipts_abandon(l);
	free(l->pending);
	for (j = 0; j < LG_COUNT; j++)
		sqlite3_finalize(l->s[j]);
	outbox_free(l->ob);
	alerts_free(l->al);
	sign_key_free(l->key);
	for (i = 0; i < CFG_MAX_BANKS; i++)
		sign_key_free(l->bank_keys[i]);
	ledger_accounts_free(l);
	free(l);
}


void
ledger_set_signer(struct ledger *l, struct signer *s)
{
	l->signer = s;
}

struct outbox *
ledger_outbox(struct ledger *l)
{
	return l->ob;
}

const char *
ledger_text(sqlite3_stmt *st, int col)
{
	const unsigned char	*t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

/* 1 and row filled (row->receipt the caller's), 0 if absent, -1. */
int
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
	if (n > 0)	/* 0: a receipt of this batch, not made yet */
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

int
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
int
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
char *
ledger_b64(const uint8_t *p, size_t len)
{
	char	*s;

	if ((s = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, p, (int)len);
	return s;
}

/* The delivery envelope of DESIGN §2 (the caller frees *out). */
static int
ledger_envelope(struct ledger_ctx *x, json_t *sig, uint64_t index, char **out,
    size_t *len)
{
	json_t	*env;
	int	 rc;

	/* The instruction's canonical bytes go in as they are (see
	 * ledger_append_instr). */
	env = json_pack("{s:O, s:I}", "signature", sig, "audit_index",
	    (json_int_t)index);
	if (env == NULL)
		return -1;
	rc = jcs_serialize_with(env, "instruction", x->canon, x->clen, out,
	    len);
	json_decref(env);
	return rc;
}

int
ledger_queue(struct ledger_ctx *x, int upstream, const char *path,
    const char *ctype, const char *idem, const char *headers,
    const void *body, size_t blen)
{
	uint64_t	seq;

	if (upstream < 0)
		return 0;	/* not configured: logged at start-up */
	return outbox_add(x->l->ob, instr_kind_name(x->in->kind), x->in->id,
	    upstream, path, ctype, idem, headers, body, blen, &seq);
}

static int
ledger_insert(struct ledger_ctx *x, const uint8_t digest[32], const char *city,
    const char *period, int64_t amount, const char *bank, enum ledger_state s,
    uint64_t entry, int status, const char *receipt, size_t rlen)
{
	sqlite3_stmt	*st = x->l->s[LG_INSERT];

	sqlite3_bind_text(st, 1, instr_kind_name(x->in->kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, x->in->id, -1, SQLITE_STATIC);
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
	if (x->in->kind == INSTR_REMITTANCE)
		sqlite3_bind_text(st, 13, x->in->u.remittance.value_date, -1,
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 13);
	return ledger_step(x->l, LG_INSERT, "insert instruction");
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
	struct ledger_pending	*pend = NULL;
	char			*body = NULL, *bfile = NULL;
	char			 headers[2048] = "", idem[80];
	const char		*city = NULL, *period = NULL;
	int64_t			 amount = 0;
	size_t			 blen, flen = 0, bidx = 0, i;
	int			 refused = 0, rc = -1, status = 202;

	memset(&other, 0, sizeof(other));
	switch (x->in->kind) {
	case INSTR_COLLECTION:
		city = x->in->u.collection.city;
		period = x->in->u.collection.period;
		amount = x->in->u.collection.total_fen;
		break;
	case INSTR_REMITTANCE:
		if (ledger_check_remittance(x, r, &refused) == -1 || refused)
			return refused ? 0 : -1;
		city = x->in->u.remittance.city;
		period = x->in->u.remittance.period;
		amount = x->in->u.remittance.amount_fen;
		break;
	case INSTR_PLAN:
		if (ledger_check_plan(x, r, &refused) == -1 || refused)
			return refused ? 0 : -1;
		city = x->in->u.plan.city;
		period = x->in->u.plan.period;
		amount = x->in->u.plan.total_fen;
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
		amount = x->in->u.review.approved ?
		    x->in->u.review.approved_total_fen : 0;
		break;
	case INSTR_DISBURSEMENT:
		if ((pin = calloc(1, sizeof(*pin))) == NULL)
			return -1;
		if (ledger_check_disbursement(x, pin, &bank, &bidx, r,
		    &refused) == -1 || refused) {
			free(pin);
			return refused ? 0 : -1;
		}
		for (i = 0; i < x->in->u.disbursement.nlines; i++)
			amount += x->in->u.disbursement.lines[i].amount_fen;
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
	case INSTR_ACCOUNT_CHANGE:
		if (ledger_check_account_change(x, r, &refused) == -1 ||
		    refused)
			return refused ? 0 : -1;
		state = LS_SUBMITTED;
		break;
	case INSTR_ACCOUNT_REVIEW:
		if (ledger_check_account_review(x, &other, r, &refused) == -1 ||
		    refused)
			return refused ? 0 : -1;
		state = LS_RECORDED;
		break;
	}

	if ((sig = ledger_sig_json(x->l->key, x->prep->sig,
	    x->prep->siglen)) == NULL ||
	    (e = ledger_entry_base(x, "instruction")) == NULL)
		goto done;
	json_object_set_new(e, "digest", json_string(x->digest_hex));
	json_object_set(e, "signature", sig);
	if (file != NULL)
		json_object_set(e, "file", file);
	rc = ledger_append_instr(x, e, &r->index);
	e = NULL;
	if (rc == -1)
		goto done;
	rc = -1;
	/* The receipt is signed meanwhile and stored at the end of the
	 * batch (ledger_receipts_finish): the row holds none until then. */
	if (ledger_receipt_start(x, sig, r->index, status == 202 ? "accepted" :
	    "recorded", &pend) == -1 ||
	    ledger_insert(x, digest, city, period, amount,
	    bank ? bank->name : NULL, state, r->index, status, "", 0) == -1)
		goto done;

	/* Side effects on other instructions, then the deliveries. */
	str_printf(idem, sizeof(idem), "%s:%s", instr_kind_name(x->in->kind),
	    x->in->id);
	switch (x->in->kind) {
	case INSTR_REVIEW:
		ledger_transition(INSTR_PLAN, LS_SUBMITTED,
		    x->in->u.review.approved ? LE_APPROVED : LE_REJECTED, &to);
		sqlite3_bind_int(x->l->s[LG_REVIEW], 1, (int)to);
		if (x->in->u.review.approved)
			sqlite3_bind_int64(x->l->s[LG_REVIEW], 2,
			    x->in->u.review.approved_total_fen);
		else
			sqlite3_bind_null(x->l->s[LG_REVIEW], 2);
		sqlite3_bind_text(x->l->s[LG_REVIEW], 3, x->in->u.review.plan_id,
		    -1, SQLITE_STATIC);
		if (ledger_step(x->l, LG_REVIEW, "review") == -1)
			goto done;
		break;
	case INSTR_DISBURSEMENT:
		for (i = 0; i < x->in->u.disbursement.nlines; i++) {
			sqlite3_stmt *st = x->l->s[LG_PAY_ADD];
			const struct pain001_line *pl = &pin->lines[i];

			sqlite3_bind_text(st, 1, pl->end_to_end_id, -1,
			    SQLITE_STATIC);
			sqlite3_bind_text(st, 2, x->in->id, -1, SQLITE_STATIC);
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
		for (i = 0; i < x->in->u.disbursement.nlines; i++)
			if (ledger_watch_cooling_off(x,
			    pin->lines[i].creditor_account,
			    x->in->u.disbursement.requested_execution_date,
			    r->index) == -1)
				goto done;
		break;
	case INSTR_PLAN:
		if (x->in->u.plan.amends[0] != '\0' &&
		    ledger_amend(x, x->in->u.plan.amends) == -1)
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
	case INSTR_ACCOUNT_CHANGE:
		if (ledger_account_change_done(x, r->index) == -1)
			goto done;
		break;
	case INSTR_ACCOUNT_REVIEW:
		/* Last: it changes the registry book in memory too. */
		if (ledger_account_review_done(x, r->index) == -1)
			goto done;
		break;
	case INSTR_BANK_STATUS:
		if (ledger_apply_status(x, &ev) == -1 ||
		    ledger_event(x->l, INSTR_DISBURSEMENT,
		    x->in->u.bank_status.original_msg_id, ev) == -1 ||
		    ledger_notices(x, r->index) == -1)
			goto done;
		break;
	default:
		break;
	}
	if (x->in->kind == INSTR_COLLECTION || x->in->kind == INSTR_REMITTANCE ||
	    x->in->kind == INSTR_PLAN || x->in->kind == INSTR_REVIEW) {
		int	up = x->in->kind == INSTR_REVIEW ? x->l->cf->courier.hrss :
		    x->l->cf->courier.finance;
		char	path[64];

		str_printf(path, sizeof(path), "/inbox/%s",
		    instr_kind_name(x->in->kind));
		if (ledger_envelope(x, sig, r->index, &body, &blen) == -1 ||
		    ledger_queue(x, up, path, "application/json", idem, "",
		    body, blen) == -1)
			goto done;
	}
	if (ledger_receipt_queue(x->l, pend, r) == -1)
		goto done;
	pend = NULL;
	r->status = status;
	rc = 0;
done:
	if (rc == -1)
		log_warnx("%s: %s %s: the store refused it", __func__,
		    instr_kind_name(x->in->kind), x->in->id);
	json_decref(sig);
	json_decref(e);
	json_decref(file);
	ledger_pending_free(x->l, pend);
	free(body);
	free(bfile);
	free(pin);
	return rc;
}

/* signer_job's fn: everything about an instruction that needs no
 * database. Runs in a signing thread; reads only the prep and the key. */
static void
ledger_prep_run(void *arg)
{
	struct ledger_prep	*p = arg;

	/* Never trust the relay's bytes: parse them again, strictly. */
	p->parsed = instr_parse_canonical_root(p->canon, p->len, p->kind,
	    &p->in, &p->root, &p->err);
	if (p->parsed == -1)
		return;
	SHA256((const unsigned char *)p->canon, p->len, p->digest);
	/* Signed before the rules have spoken: a refused instruction's
	 * signature is dropped unseen, and an accepted one's is ready. */
	if (sign_sign(p->key, p->canon, p->len, p->sig, sizeof(p->sig),
	    &p->siglen) == -1)
		p->siglen = 0;
}

struct ledger_prep *
ledger_prep_new(struct ledger *l, unsigned kind, const char *canon,
    size_t len)
{
	struct ledger_prep	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	p->job.fn = ledger_prep_run;
	p->job.arg = p;
	p->key = l->key;
	p->kind = (enum instr_kind)kind;
	p->canon = canon;
	p->len = len;
	p->parsed = -1;
	return p;
}

struct signer_job *
ledger_prep_job(struct ledger_prep *p)
{
	return &p->job;
}

void
ledger_prep_free(struct ledger_prep *p)
{
	if (p == NULL)
		return;
	if (p->parsed == 0)
		instr_free(&p->in);
	json_decref(p->root);
	OPENSSL_cleanse(p->sig, sizeof(p->sig));
	free(p);
}

int
ledger_instr_prepared(struct ledger *l, unsigned slot,
    const struct ipc_instr *m, const char *canon, size_t len,
    struct ledger_prep *p, struct ledger_reply *r)
{
	struct ledger_ctx	x;
	struct ledger_row	orig;
	int			rc;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	x.l = l;
	x.slot = slot;
	x.m = m;
	x.canon = canon;
	x.clen = len;
	x.in = &p->in;
	x.prep = p;
	if (p->parsed == -1) {
		log_warnx("%s: relay %u sent a bad instruction: %s %s", __func__,
		    slot, p->err.code, p->err.field);
		return ledger_refuse(&x, 400, "bad-instruction",
		    "the instruction is not canonical", r);
	}
	/* The parse's own JSON: the bytes are not parsed a second time. */
	x.instr_json = p->root;
	hex_encode(x.digest_hex, p->digest, 32);
	/* The relay checked who may send what; a keeper that holds the keys
	 * checks it again rather than sign for a confused worker. */
	if (ledger_sender_ok(&x) == 0)
		return ledger_refuse(&x, 403, "role-not-allowed",
		    "the sender's role may not send this instruction", r);
	if ((rc = ledger_find(l, instr_kind_name(x.in->kind), x.in->id,
	    &orig)) == 1 && orig.rlen == 0) {
		/* Accepted earlier in this batch: its receipt is still being
		 * signed, and the replay gets the same bytes. */
		free(orig.receipt);
		orig.receipt = NULL;
		if (ledger_receipt_pending(l, instr_kind_name(x.in->kind),
		    x.in->id, &orig.receipt, &orig.rlen) != 1)
			rc = ledger_fail(l, "receipt of this batch");
	}
	if (rc == 1) {
		rc = ledger_duplicate(&x, p->digest, &orig, r);
		free(orig.receipt);
	} else if (rc == 0 && l->frozen)
		rc = ledger_refuse(&x, 503, "log-frozen", "a witness holds "
		    "evidence that this log was rolled back or forked: no "
		    "instruction is accepted until an operator acts", r);
	else if (rc == 0)
		rc = ledger_accept(&x, p->digest, r);
	return rc;
}

int
ledger_instr(struct ledger *l, unsigned slot, const struct ipc_instr *m,
    const char *canon, size_t len, struct ledger_reply *r)
{
	struct ledger_prep	*p;
	int			 rc;

	memset(r, 0, sizeof(*r));
	if ((p = ledger_prep_new(l, m->kind, canon, len)) == NULL)
		return -1;
	signer_wait(NULL, &p->job);
	rc = ledger_instr_prepared(l, slot, m, canon, len, p, r);
	if (rc == 0)
		rc = ledger_receipts_finish(l);
	ledger_receipts_abandon(l);
	ledger_prep_free(p);
	return rc;
}
