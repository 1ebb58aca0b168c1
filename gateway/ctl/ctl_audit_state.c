/* gatewayctl audit verify, the fund's part: the state the keeper's rules
 * read (instructions, plan totals, payments, outbox rows and attempts)
 * re-derived from the entries alone, as gateway/keeper/ledger*.c and
 * outbox.c derive it, then compared with the tables, naming the first
 * difference. Derived rows live in temporary tables of the verifier's
 * read-only connection: memory grows with the fund, not with the log. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ctl/ctl_audit.h"
#include "keeper/ledger.h"
#include "keeper/totals.h"
#include "util.h"

static const char audit_state_schema[] =
    "CREATE TEMP TABLE v_instr (kind TEXT NOT NULL, id TEXT NOT NULL,"
    "  digest BLOB NOT NULL, agency TEXT NOT NULL, city TEXT, period TEXT,"
    "  amount INTEGER NOT NULL, entry INTEGER NOT NULL,"
    "  status INTEGER NOT NULL,"
    /* NULL: a state the log alone does not settle (deliveries, the bank's
     * progress), not compared. */
    "  state INTEGER, approved INTEGER, disbursed INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (kind, id)) WITHOUT ROWID;"
    "CREATE TEMP TABLE v_pay (e2e TEXT PRIMARY KEY,"
    "  disbursement TEXT NOT NULL, line INTEGER NOT NULL,"
    "  plan TEXT NOT NULL, amount INTEGER NOT NULL, status TEXT NOT NULL,"
    "  entry INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX temp.v_pay_of ON v_pay (disbursement, line);"
    "CREATE TEMP TABLE v_attempt (seq INTEGER NOT NULL,"
    "  attempt INTEGER NOT NULL, ok INTEGER NOT NULL,"
    "  entry INTEGER NOT NULL, PRIMARY KEY (seq, attempt)) WITHOUT ROWID;"
    "CREATE TEMP TABLE v_outbox (seq INTEGER PRIMARY KEY,"
    "  state INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    "  entry INTEGER NOT NULL);";

enum audit_state_stmt {
	AS_FIND, AS_INSERT, AS_REVIEW, AS_ACCOUNT_REVIEW, AS_SUPERSEDE, AS_CARRY,
	AS_DISBURSED,
	AS_PAY_ADD, AS_PAY_GET, AS_PAY_SET, AS_PAY_OF, AS_ATTEMPT, AS_OUTBOX,
	AS_REQUEUE, AS_COUNT
};

static const char *const audit_state_sql[AS_COUNT] = {
	[AS_FIND] = "SELECT city, period, disbursed FROM temp.v_instr "
	    "WHERE kind = ? AND id = ?",
	[AS_INSERT] = "INSERT INTO temp.v_instr (kind, id, digest, agency, city, "
	    "period, amount, entry, status, state) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[AS_REVIEW] = "UPDATE temp.v_instr SET state = ?, approved = ? "
	    "WHERE kind = 'plan' AND id = ?",
	[AS_ACCOUNT_REVIEW] = "UPDATE temp.v_instr SET state = ? WHERE kind = "
	    "'account-change' AND id = ?",
	[AS_SUPERSEDE] = "UPDATE temp.v_instr SET state = ? WHERE kind = 'plan' "
	    "AND id = ?",
	[AS_CARRY] = "UPDATE temp.v_instr SET disbursed = ? WHERE kind = 'plan' "
	    "AND id = ?",
	[AS_DISBURSED] = "UPDATE temp.v_instr SET disbursed = disbursed + ? "
	    "WHERE kind = 'plan' AND id = ?",
	[AS_PAY_ADD] = "INSERT INTO temp.v_pay (e2e, disbursement, line, plan, "
	    "amount, status, entry) VALUES (?, ?, ?, ?, ?, 'PDNG', ?)",
	[AS_PAY_GET] = "SELECT status, plan, amount FROM temp.v_pay "
	    "WHERE e2e = ?",
	[AS_PAY_SET] = "UPDATE temp.v_pay SET status = ? WHERE e2e = ?",
	/* As the keeper: a group status speaks for the first 64 lines. */
	[AS_PAY_OF] = "SELECT e2e FROM temp.v_pay WHERE disbursement = ? "
	    "ORDER BY line LIMIT 64",
	[AS_ATTEMPT] = "INSERT INTO temp.v_attempt (seq, attempt, ok, entry) "
	    "VALUES (?, ?, ?, ?)",
	[AS_OUTBOX] = "INSERT OR REPLACE INTO temp.v_outbox (seq, state, "
	    "attempts, entry) VALUES (?, ?, ?, ?)",
	[AS_REQUEUE] = "UPDATE temp.v_outbox SET state = 0, entry = ?2 "
	    "WHERE seq = ?1 AND state = 2",
};

/*
 * Each query lists the differences of one table as (entry, text), the
 * entry being where the log's account of that row begins (the table's own
 * when the log has none); the first of all is named.
 */
static const char *const audit_state_diff[] = {
	/* Instructions the log accepted, as the table holds them. */
	"SELECT v.entry, v.kind || ' ' || v.id || ': ' || CASE"
	"  WHEN i.kind IS NULL THEN 'accepted in the log, missing from the "
	"instructions table'"
	"  WHEN i.digest IS NOT v.digest THEN 'digest differs'"
	"  WHEN i.entry IS NOT v.entry THEN 'entry ' || quote(i.entry) || "
	"' in the table, ' || v.entry || ' in the log'"
	"  WHEN i.agency IS NOT v.agency THEN 'agency ' || quote(i.agency) || "
	"' in the table, ' || quote(v.agency) || ' in the log'"
	"  WHEN i.city IS NOT v.city OR i.period IS NOT v.period THEN "
	"'city and period differ'"
	"  WHEN i.amount IS NOT v.amount THEN 'amount ' || quote(i.amount) || "
	"' in the table, ' || v.amount || ' in the log'"
	"  WHEN i.status IS NOT v.status THEN 'status ' || quote(i.status) || "
	"' in the table, ' || v.status || ' in the log'"
	"  WHEN v.state IS NOT NULL AND i.state IS NOT v.state THEN 'state ' || "
	"quote(i.state) || ' in the table, ' || v.state || ' in the log'"
	"  WHEN i.approved IS NOT v.approved THEN 'approved total ' || "
	"quote(i.approved) || ' in the table, ' || quote(v.approved) || "
	"' in the log'"
	"  WHEN i.disbursed IS NOT v.disbursed THEN 'disbursed total ' || "
	"quote(i.disbursed) || ' in the table, ' || v.disbursed || ' in the log'"
	"  END AS what FROM temp.v_instr v LEFT JOIN main.instructions i"
	"  ON i.kind = v.kind AND i.id = v.id WHERE what IS NOT NULL "
	"UNION ALL "
	"SELECT i.entry, i.kind || ' ' || i.id || ': in the instructions table, "
	"never accepted in the log' FROM main.instructions i WHERE NOT EXISTS "
	"(SELECT 1 FROM temp.v_instr v WHERE v.kind = i.kind AND v.id = i.id) "
	"ORDER BY 1 LIMIT 1",
	/* Payments of accepted disbursements. */
	"SELECT v.entry, 'payment ' || v.e2e || ': ' || CASE"
	"  WHEN p.e2e IS NULL THEN 'in the log, missing from the payments table'"
	"  WHEN p.disbursement IS NOT v.disbursement OR p.line IS NOT v.line "
	"OR p.plan IS NOT v.plan THEN 'disbursement, line or plan differs'"
	"  WHEN p.amount IS NOT v.amount THEN 'amount ' || quote(p.amount) || "
	"' in the table, ' || v.amount || ' in the log'"
	"  WHEN p.status IS NOT v.status THEN 'status ' || quote(p.status) || "
	"' in the table, ' || v.status || ' in the log'"
	"  END AS what FROM temp.v_pay v LEFT JOIN main.payments p"
	"  ON p.e2e = v.e2e WHERE what IS NOT NULL "
	"UNION ALL "
	"SELECT coalesce((SELECT entry FROM main.instructions WHERE kind = "
	"'disbursement' AND id = p.disbursement), 0), 'payment ' || p.e2e || "
	"': in the payments table, never in the log' FROM main.payments p "
	"WHERE NOT EXISTS (SELECT 1 FROM temp.v_pay v WHERE v.e2e = p.e2e) "
	"ORDER BY 1 LIMIT 1",
	/* Delivery attempts. */
	"SELECT v.entry, 'outbox row ' || v.seq || ' attempt ' || v.attempt || "
	"': ' || CASE"
	"  WHEN a.seq IS NULL THEN 'in the log, missing from the attempts table'"
	"  WHEN a.ok IS NOT v.ok THEN 'outcome differs'"
	"  WHEN a.entry IS NOT v.entry THEN 'entry ' || quote(a.entry) || "
	"' in the table, ' || v.entry || ' in the log'"
	"  END AS what FROM temp.v_attempt v LEFT JOIN main.attempts a"
	"  ON a.seq = v.seq AND a.attempt = v.attempt WHERE what IS NOT NULL "
	"UNION ALL "
	"SELECT a.entry, 'outbox row ' || a.seq || ' attempt ' || a.attempt || "
	"': in the attempts table, never in the log' FROM main.attempts a "
	"WHERE NOT EXISTS (SELECT 1 FROM temp.v_attempt v WHERE v.seq = a.seq "
	"AND v.attempt = a.attempt) ORDER BY 1 LIMIT 1",
	/* Outbox rows: delivered, parked or pending as their attempts say. */
	"SELECT coalesce(v.entry, 0), 'outbox row ' || o.seq || ': ' || CASE"
	"  WHEN o.state IS NOT coalesce(v.state, 0) THEN 'state ' || o.state || "
	"' in the table, ' || coalesce(v.state, 0) || ' in the log'"
	"  WHEN o.attempts IS NOT coalesce(v.attempts, 0) THEN 'attempts ' || "
	"o.attempts || ' in the table, ' || coalesce(v.attempts, 0) || "
	"' in the log'"
	"  END AS what FROM main.outbox o LEFT JOIN temp.v_outbox v"
	"  ON v.seq = o.seq WHERE what IS NOT NULL "
	"UNION ALL "
	"SELECT v.entry, 'outbox row ' || v.seq || ': attempted in the log, "
	"missing from the outbox table' FROM temp.v_outbox v WHERE NOT EXISTS "
	"(SELECT 1 FROM main.outbox o WHERE o.seq = v.seq) ORDER BY 1 LIMIT 1",
};

/* The running totals the rules and reports read (fund_totals, kept by the
 * keeper's triggers) against the rows they sum, which the queries above
 * hold to the log: the first city and month whose figure differs. Skipped
 * for a database from before the totals. */
static const char audit_state_totals[] =
    "WITH s (w, period, city, amount, n) AS (" TOTALS_SUMS("main.") ") "
    "SELECT coalesce((SELECT max(entry) FROM main.instructions i WHERE "
    "i.city = x.city AND i.period = x.period), 0), 'fund total ' || x.w || "
    "' of ' || x.city || ' ' || x.period || ': ' || x.t || ' in the totals, ' "
    "|| x.s || ' in the rows it sums' FROM (SELECT t.what w, t.city, t.period, "
    "t.amount t, coalesce(s.amount, 0) s FROM main.fund_totals t LEFT JOIN s "
    "ON s.w = t.what AND s.period = t.period AND s.city = t.city "
    "UNION ALL SELECT s.w, s.city, s.period, 0, s.amount FROM s WHERE NOT "
    "EXISTS (SELECT 1 FROM main.fund_totals t WHERE t.what = s.w AND "
    "t.period = s.period AND t.city = s.city)) x WHERE x.t != x.s "
    "ORDER BY 1 LIMIT 1";

/* The tables each difference query reads: a database without them (a
 * keeper that never ran its ledger) must have nothing to compare. */
static const char *const audit_state_tables[] = {
	"instructions", "payments", "attempts", "outbox",
};

struct audit_state {
	sqlite3		*db;
	sqlite3_stmt	*s[AS_COUNT];
	int		 any;		/* a fact was applied */
	/* The newest trust entry so far: its index and its files. */
	struct trust_manifest	 trust;
	uint64_t	 trust_last;
	int		 has_trust;
};

static int
audit_state_fail(struct audit_state *a, const char *what)
{
	fprintf(stderr, "audit verify: fund state: %s: %s\n", what,
	    sqlite3_errmsg(a->db));
	return -1;
}

int
audit_state_open(sqlite3 *db, struct audit_state **out)
{
	struct audit_state	*a;
	int			 i;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	a->db = db;
	if (sqlite3_exec(db, audit_state_schema, NULL, NULL, NULL) != SQLITE_OK) {
		audit_state_fail(a, "temporary tables");
		free(a);
		return -1;
	}
	for (i = 0; i < AS_COUNT; i++)
		if (sqlite3_prepare_v3(db, audit_state_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &a->s[i], NULL) != SQLITE_OK) {
			audit_state_fail(a, audit_state_sql[i]);
			audit_state_close(a);
			return -1;
		}
	*out = a;
	return 0;
}

void
audit_state_close(struct audit_state *a)
{
	int	i;

	if (a == NULL)
		return;
	for (i = 0; i < AS_COUNT; i++)
		sqlite3_finalize(a->s[i]);
	trust_free(&a->trust);
	free(a);
}

/* Steps statement which once (a write); 0 or -1. */
static int
audit_state_step(struct audit_state *a, enum audit_state_stmt which)
{
	int	rc = sqlite3_step(a->s[which]);

	sqlite3_reset(a->s[which]);
	sqlite3_clear_bindings(a->s[which]);
	return rc == SQLITE_DONE ? 0 : audit_state_fail(a,
	    audit_state_sql[which]);
}

static void
audit_state_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, col, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, col);
}

/* The derived plan (or any instruction): 1 (city, period, disbursed
 * set), 0 if the log never accepted it, -1. */
static int
audit_state_find(struct audit_state *a, const char *kind, const char *id,
    char city[INSTR_CITY_LEN], char period[INSTR_PERIOD_LEN],
    int64_t *disbursed)
{
	sqlite3_stmt	*st = a->s[AS_FIND];
	const char	*c, *p;
	int		 rc;

	sqlite3_bind_text(st, 1, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c = (const char *)sqlite3_column_text(st, 0);
		p = (const char *)sqlite3_column_text(st, 1);
		if (str_copy(city, INSTR_CITY_LEN, c ? c : "") == -1 ||
		    str_copy(period, INSTR_PERIOD_LEN, p ? p : "") == -1)
			rc = SQLITE_MISMATCH;
		*disbursed = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : audit_state_fail(a, "find");
}

/* A payment's new status; a rejected payment gives its plan the room back
 * (ledger_pay_set). 0, 1 (no such payment), -1. */
static int
audit_state_pay(struct audit_state *a, const char *e2e, const char *status)
{
	sqlite3_stmt	*st = a->s[AS_PAY_GET];
	char		 old[8] = "", plan[INSTR_ID_MAX] = "";
	int64_t		 amount = 0, back = 0;
	int		 rc;

	sqlite3_bind_text(st, 1, e2e, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    (str_copy(old, sizeof(old), (const char *)sqlite3_column_text(st,
	    0)) == -1 || str_copy(plan, sizeof(plan),
	    (const char *)sqlite3_column_text(st, 1)) == -1))
		rc = SQLITE_MISMATCH;
	amount = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW)
		return audit_state_fail(a, "payment");
	if (strcmp(status, "RJCT") == 0 && strcmp(old, "RJCT") != 0)
		back = -amount;
	else if (strcmp(status, "RJCT") != 0 && strcmp(old, "RJCT") == 0)
		back = amount;
	if (back != 0) {
		sqlite3_bind_int64(a->s[AS_DISBURSED], 1, back);
		sqlite3_bind_text(a->s[AS_DISBURSED], 2, plan, -1,
		    SQLITE_TRANSIENT);
		if (audit_state_step(a, AS_DISBURSED) == -1)
			return -1;
	}
	sqlite3_bind_text(a->s[AS_PAY_SET], 1, status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(a->s[AS_PAY_SET], 2, e2e, -1, SQLITE_TRANSIENT);
	return audit_state_step(a, AS_PAY_SET);
}

/* A bank's payment status report (ledger_apply_status). */
static int
audit_state_status(struct audit_state *a, const struct instr_bank_status *b,
    char *why, size_t whysz)
{
	sqlite3_stmt	*st = a->s[AS_PAY_OF];
	char		 e2e[64][INSTR_ID_MAX];
	size_t		 i, k = 0;
	int		 rc;

	for (i = 0; i < b->ntx; i++) {
		if ((rc = audit_state_pay(a, b->tx[i].end_to_end_id,
		    b->tx[i].status)) == -1)
			return -1;
		if (rc == 1) {
			audit_say(why, whysz, "a status report for payment %s, "
			    "which no accepted disbursement made",
			    b->tx[i].end_to_end_id);
			return 1;
		}
	}
	if (b->ntx > 0 || b->group_status[0] == '\0')
		return 0;
	sqlite3_bind_text(st, 1, b->original_msg_id, -1, SQLITE_TRANSIENT);
	while (k < nitems(e2e) && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if (str_copy(e2e[k++], INSTR_ID_MAX,
		    (const char *)sqlite3_column_text(st, 0)) == -1)
			rc = SQLITE_MISMATCH;
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return audit_state_fail(a, "payments of");
	for (i = 0; i < k; i++)
		if (audit_state_pay(a, e2e[i], b->group_status) == -1)
			return -1;
	return 0;
}

/* What ledger_accept stores for an instruction, and its side effects on
 * others. */
static int
audit_state_instr(struct audit_state *a, uint64_t index,
    const struct audit_fact *f, char *why, size_t whysz)
{
	const struct instr	*in = &f->in;
	sqlite3_stmt		*st = a->s[AS_INSERT];
	char			 city[INSTR_CITY_LEN] = "",
				 period[INSTR_PERIOD_LEN] = "",
				 e2e[INSTR_ID_MAX];
	const char		*c = NULL, *p = NULL, *kind = instr_kind_name(in->kind);
	int64_t			 amount = 0, carried = 0;
	int			 state = -1, status = 202, rc;
	size_t			 i;

	if ((rc = audit_state_find(a, kind, in->id, city, period,
	    &carried)) != 0) {
		if (rc == 1)
			audit_say(why, whysz, "%s %s accepted a second time",
			    kind, in->id);
		return rc;
	}
	switch (in->kind) {
	case INSTR_COLLECTION:
		c = in->u.collection.city;
		p = in->u.collection.period;
		amount = in->u.collection.total_fen;
		break;
	case INSTR_REMITTANCE:
		c = in->u.remittance.city;
		p = in->u.remittance.period;
		amount = in->u.remittance.amount_fen;
		break;
	case INSTR_PLAN:
		c = in->u.plan.city;
		p = in->u.plan.period;
		amount = in->u.plan.total_fen;
		state = LS_SUBMITTED;
		break;
	case INSTR_REVIEW:
		if ((rc = audit_state_find(a, "plan", in->u.review.plan_id, city,
		    period, &carried)) != 1) {
			if (rc == 0)
				audit_say(why, whysz, "review %s of plan %s, "
				    "which the log never accepted", in->id,
				    in->u.review.plan_id);
			return rc == 0 ? 1 : -1;
		}
		c = city;
		p = period;
		amount = in->u.review.approved ?
		    in->u.review.approved_total_fen : 0;
		break;
	case INSTR_DISBURSEMENT:
		for (i = 0; i < in->u.disbursement.nlines; i++)
			amount += in->u.disbursement.lines[i].amount_fen;
		break;
	case INSTR_BANK_STATUS:
	case INSTR_BANK_NOTIFICATION:
		state = LS_RECORDED;
		status = 200;
		break;
	case INSTR_ACCOUNT_CHANGE:
		state = LS_SUBMITTED;
		break;
	case INSTR_ACCOUNT_REVIEW:
		if ((rc = audit_state_find(a, "account-change", in->id, city,
		    period, &carried)) != 1) {
			if (rc == 0)
				audit_say(why, whysz, "review of account change "
				    "%s, which the log never accepted", in->id);
			return rc == 0 ? 1 : -1;
		}
		state = LS_RECORDED;
		break;
	}
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, in->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, f->digest, sizeof(f->digest), SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, f->agency, -1, SQLITE_TRANSIENT);
	audit_state_text(st, 5, c);
	audit_state_text(st, 6, p);
	sqlite3_bind_int64(st, 7, amount);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)index);
	sqlite3_bind_int(st, 9, status);
	if (state >= 0)
		sqlite3_bind_int(st, 10, state);
	if (audit_state_step(a, AS_INSERT) == -1)
		return -1;

	switch (in->kind) {
	case INSTR_ACCOUNT_REVIEW:
		st = a->s[AS_ACCOUNT_REVIEW];
		sqlite3_bind_int(st, 1, in->u.account_review.approved ?
		    LS_APPROVED : LS_REJECTED);
		sqlite3_bind_text(st, 2, in->id, -1, SQLITE_TRANSIENT);
		return audit_state_step(a, AS_ACCOUNT_REVIEW);
	case INSTR_REVIEW:
		st = a->s[AS_REVIEW];
		sqlite3_bind_int(st, 1, in->u.review.approved ? LS_APPROVED :
		    LS_REJECTED);
		if (in->u.review.approved)
			sqlite3_bind_int64(st, 2, in->u.review.approved_total_fen);
		sqlite3_bind_text(st, 3, in->u.review.plan_id, -1,
		    SQLITE_TRANSIENT);
		return audit_state_step(a, AS_REVIEW);
	case INSTR_PLAN:
		if (in->u.plan.amends[0] == '\0')
			return 0;
		/* ledger_amend: the old plan is superseded, what it paid
		 * counts against the new one. */
		if ((rc = audit_state_find(a, "plan", in->u.plan.amends, city,
		    period, &carried)) != 1) {
			if (rc == 0)
				audit_say(why, whysz, "plan %s amends plan %s, "
				    "which the log never accepted", in->id,
				    in->u.plan.amends);
			return rc == 0 ? 1 : -1;
		}
		sqlite3_bind_int(a->s[AS_SUPERSEDE], 1, LS_SUPERSEDED);
		sqlite3_bind_text(a->s[AS_SUPERSEDE], 2, in->u.plan.amends, -1,
		    SQLITE_TRANSIENT);
		sqlite3_bind_int64(a->s[AS_CARRY], 1, carried);
		sqlite3_bind_text(a->s[AS_CARRY], 2, in->id, -1,
		    SQLITE_TRANSIENT);
		if (audit_state_step(a, AS_SUPERSEDE) == -1)
			return -1;
		return audit_state_step(a, AS_CARRY);
	case INSTR_DISBURSEMENT:
		for (i = 0; i < in->u.disbursement.nlines; i++) {
			const struct instr_disbursement_line *ln =
			    &in->u.disbursement.lines[i];

			ledger_e2e(in->id, i, e2e, sizeof(e2e));
			st = a->s[AS_PAY_ADD];
			sqlite3_bind_text(st, 1, e2e, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, in->id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 3, (sqlite3_int64)i);
			sqlite3_bind_text(st, 4, ln->plan_id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 5, ln->amount_fen);
			sqlite3_bind_int64(st, 6, (sqlite3_int64)index);
			if (audit_state_step(a, AS_PAY_ADD) == -1)
				return -1;
			sqlite3_bind_int64(a->s[AS_DISBURSED], 1, ln->amount_fen);
			sqlite3_bind_text(a->s[AS_DISBURSED], 2, ln->plan_id, -1,
			    SQLITE_TRANSIENT);
			if (audit_state_step(a, AS_DISBURSED) == -1)
				return -1;
		}
		return 0;
	case INSTR_BANK_STATUS:
		return audit_state_status(a, &in->u.bank_status, why, whysz);
	default:
		return 0;
	}
}

/* A trust entry names the trust entry before it and says what changed
 * since: both must be what the log holds, so that who could do what at any
 * index can be replayed from the log alone. */
static int
audit_state_trust(struct audit_state *a, uint64_t index,
    const struct audit_fact *f, char *why, size_t whysz)
{
	struct ipc_trust_file	*files = NULL;
	json_t			*d;
	size_t			 n = f->trust.n;
	int			 same;

	if (f->has_prev != a->has_trust || (f->has_prev &&
	    f->prev != a->trust_last)) {
		if (a->has_trust)
			audit_say(why, whysz, "a trust entry that does not name "
			    "trust entry %llu as its previous one",
			    (unsigned long long)a->trust_last);
		else
			audit_say(why, whysz, "the first trust entry names a "
			    "previous one");
		return 1;
	}
	if ((d = trust_diff(&a->trust, &f->trust)) == NULL)
		return -1;
	same = json_equal(d, f->changed);
	json_decref(d);
	if (!same) {
		audit_say(why, whysz, "a trust entry whose changes are not the "
		    "difference of its files from those of %s",
		    a->has_trust ? "the trust entry before it" : "none");
		return 1;
	}
	if (n > 0 && (files = malloc(n * sizeof(*files))) == NULL)
		return -1;
	if (n > 0)
		memcpy(files, f->trust.files, n * sizeof(*files));
	trust_free(&a->trust);
	a->trust.files = files;
	a->trust.n = a->trust.cap = n;
	a->trust.reason = f->trust.reason;
	a->trust_last = index;
	a->has_trust = 1;
	return 0;
}

int
audit_state_apply(struct audit_state *a, uint64_t index,
    const struct audit_fact *f, char *why, size_t whysz)
{
	sqlite3_stmt	*st;

	if (f->type == AF_TRUST)
		return audit_state_trust(a, index, f, why, whysz);
	a->any = 1;
	switch (f->type) {
	case AF_INSTR:
		return audit_state_instr(a, index, f, why, whysz);
	case AF_DELIVERY:
		st = a->s[AS_ATTEMPT];
		sqlite3_bind_int64(st, 1, (sqlite3_int64)f->seq);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)f->attempt);
		sqlite3_bind_int(st, 3, f->ok);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)index);
		if (sqlite3_step(st) == SQLITE_CONSTRAINT) {
			sqlite3_reset(st);
			audit_say(why, whysz, "outbox row %llu attempt %llu "
			    "logged twice", (unsigned long long)f->seq,
			    (unsigned long long)f->attempt);
			return 1;
		}
		sqlite3_reset(st);
		st = a->s[AS_OUTBOX];
		sqlite3_bind_int64(st, 1, (sqlite3_int64)f->seq);
		sqlite3_bind_int(st, 2, f->ok ? 1 : f->parked ? 2 : 0);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)f->attempt);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)index);
		return audit_state_step(a, AS_OUTBOX);
	case AF_RETRY:
		st = a->s[AS_REQUEUE];
		sqlite3_bind_int64(st, 1, (sqlite3_int64)f->seq);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
		if (audit_state_step(a, AS_REQUEUE) == -1)
			return -1;
		if (sqlite3_changes(a->db) == 1)
			return 0;
		audit_say(why, whysz, "outbox row %llu re-queued while not "
		    "parked", (unsigned long long)f->seq);
		return 1;
	default:
		return 0;
	}
}

/* 1 if the main database has table name. */
static int
audit_state_has(struct audit_state *a, const char *name)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(a->db, "SELECT 1 FROM main.sqlite_master WHERE "
	    "type = 'table' AND name = ?", -1, &st, NULL) != SQLITE_OK)
		return audit_state_fail(a, "schema");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW;
}

/* Runs one difference query: its first row, if it comes before what was
 * found so far, becomes the answer. 0, or -1 if it cannot run. */
static int
audit_state_first(struct audit_state *a, const char *sql, uint64_t *index,
    char *why, size_t whysz, int *found)
{
	sqlite3_stmt	*st;
	uint64_t	 e;
	int		 rc;

	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK)
		return audit_state_fail(a, "compare");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		e = (uint64_t)sqlite3_column_int64(st, 0);
		if (!*found || e < *index) {
			*index = e;
			if (str_copy(why, whysz, (const char *)
			    sqlite3_column_text(st, 1)) == -1)
				rc = SQLITE_TOOBIG;
			*found = 1;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return audit_state_fail(a, "compare");
	return 0;
}

/* The keeper computes the next trust entry's changes from the manifest it
 * kept (trust_files) and names trust_last's entry as its previous one:
 * that must be the log's newest trust entry. 0, or -1 on a database
 * error. */
static int
audit_state_trust_last(struct audit_state *a, uint64_t *index, char *why,
    size_t whysz, int *found)
{
	sqlite3_stmt	*st;
	uint64_t	 e = 0;
	int		 rc, has = 0;

	if ((rc = audit_state_has(a, "trust_last")) != 1)
		return rc == -1 ? -1 : 0;
	if (sqlite3_prepare_v2(a->db, "SELECT entry FROM main.trust_last",
	    -1, &st, NULL) != SQLITE_OK)
		return audit_state_fail(a, "trust_last");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		e = (uint64_t)sqlite3_column_int64(st, 0);
		has = 1;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return audit_state_fail(a, "trust_last");
	if (has == a->has_trust && (!has || e == a->trust_last))
		return 0;
	if (!*found || (has ? e : 0) < *index) {
		*index = has ? e : 0;
		if (has && a->has_trust)
			audit_say(why, whysz, "trust_last names entry %llu, but "
			    "the log's newest trust entry is %llu",
			    (unsigned long long)e,
			    (unsigned long long)a->trust_last);
		else if (has)
			audit_say(why, whysz, "trust_last names entry %llu, but "
			    "the log has no trust entry", (unsigned long long)e);
		else
			audit_say(why, whysz, "the log has trust entries but "
			    "trust_last is empty");
		*found = 1;
	}
	return 0;
}

int
audit_state_compare(struct audit_state *a, uint64_t *index, char *why,
    size_t whysz)
{
	size_t		 i;
	int		 rc, found = 0;

	for (i = 0; i < nitems(audit_state_tables); i++)
		if ((rc = audit_state_has(a, audit_state_tables[i])) != 1) {
			if (rc == -1)
				return -1;
			if (!a->any)
				return 0;
			audit_say(why, whysz, "the log moves the fund but the "
			    "database has no %s table", audit_state_tables[i]);
			*index = 0;
			return 1;
		}
	for (i = 0; i < nitems(audit_state_diff); i++)
		if (audit_state_first(a, audit_state_diff[i], index, why, whysz,
		    &found) == -1)
			return -1;
	if (audit_state_trust_last(a, index, why, whysz, &found) == -1)
		return -1;
	if ((rc = audit_state_has(a, "fund_totals")) == -1)
		return -1;
	if (rc == 1 && audit_state_has(a, "arrivals") == 1 &&
	    audit_state_first(a, audit_state_totals, index, why, whysz,
	    &found) == -1)
		return -1;
	return found;
}
