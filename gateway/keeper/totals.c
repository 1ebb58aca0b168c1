/* The fund's running totals per figure, month and city, kept by triggers in
 * the transaction that changes an instruction, a payment or an arrival, so
 * that the rules, the watches and the reports read a few rows instead of
 * summing a history that grows every day. */
#include <assert.h>
#include <string.h>

#include <sqlite3.h>

#include "keeper/ledger.h"
#include "keeper/totals.h"
#include "log.h"

/* The triggers name the two plan states that change what a plan counts
 * for; the numbers are stored in the database and never renumbered. */
static_assert(LS_APPROVED == 4 && LS_SUPERSEDED == 11,
    "totals.c's triggers spell these states as numbers");

/* What a row counts for: 'collected', 'remitted', 'planned', 'reviewed'
 * (instructions), 'disbursed', 'settled' (payments), 'arrived' (arrivals).
 * n is how many rows count, so a month whose payments were all rejected
 * is told apart from one that has some. */
#define TOTALS_UPSERT \
	" ON CONFLICT (what, period, city) DO UPDATE SET" \
	" amount = amount + excluded.amount, n = n + excluded.n;"

#define TOTALS_INSTR(R, SIGN) \
	"INSERT INTO fund_totals (what, period, city, amount, n)" \
	" SELECT w, " R ".period, " R ".city, " SIGN " a, " SIGN " 1 FROM (" \
	" SELECT 'collected' w, " R ".amount a WHERE " R ".kind = 'collection'" \
	" UNION ALL SELECT 'remitted', " R ".amount" \
	"  WHERE " R ".kind = 'remittance'" \
	" UNION ALL SELECT 'planned', " R ".amount" \
	"  WHERE " R ".kind = 'plan' AND " R ".state != 11" \
	" UNION ALL SELECT 'reviewed', coalesce(" R ".approved, 0)" \
	"  WHERE " R ".kind = 'plan' AND " R ".state = 4)" \
	" WHERE " R ".city IS NOT NULL AND " R ".period IS NOT NULL" \
	TOTALS_UPSERT

#define TOTALS_PAY(R, SIGN) \
	"INSERT INTO fund_totals (what, period, city, amount, n)" \
	" SELECT w, " R ".period, " R ".city, " SIGN " " R ".amount, " SIGN " 1" \
	" FROM (SELECT 'disbursed' w WHERE " R ".status != 'RJCT'" \
	" UNION ALL SELECT 'settled' WHERE " R ".status IN ('ACSC', 'ACCC'))" \
	" WHERE 1" TOTALS_UPSERT

#define TOTALS_ARRIVAL(R, SIGN) \
	"INSERT INTO fund_totals (what, period, city, amount, n)" \
	" SELECT 'arrived', " R ".period, " R ".city, " SIGN " " R ".amount, " \
	SIGN " 1 WHERE " R ".remittance IS NOT NULL AND " R ".city IS NOT NULL" \
	" AND " R ".period IS NOT NULL" TOTALS_UPSERT

static const char totals_schema[] =
    "CREATE TABLE IF NOT EXISTS fund_totals ("
    "  what TEXT NOT NULL, period TEXT NOT NULL, city TEXT NOT NULL,"
    "  amount INTEGER NOT NULL, n INTEGER NOT NULL,"
    "  PRIMARY KEY (what, period, city)) WITHOUT ROWID;"
    "CREATE TRIGGER IF NOT EXISTS totals_instr_add AFTER INSERT ON instructions"
    "  BEGIN " TOTALS_INSTR("NEW", "+") " END;"
    /* A collection's delivery changes its state, not what it counts for:
     * only a plan's state matters. */
    "CREATE TRIGGER IF NOT EXISTS totals_instr_set AFTER UPDATE OF kind, city,"
    "  period, amount, approved, state ON instructions"
    "  WHEN OLD.amount IS NOT NEW.amount OR OLD.approved IS NOT NEW.approved"
    "  OR OLD.city IS NOT NEW.city OR OLD.period IS NOT NEW.period"
    "  OR OLD.kind IS NOT NEW.kind"
    "  OR (NEW.kind = 'plan' AND OLD.state IS NOT NEW.state)"
    "  BEGIN " TOTALS_INSTR("OLD", "-") TOTALS_INSTR("NEW", "+") " END;"
    "CREATE TRIGGER IF NOT EXISTS totals_pay_add AFTER INSERT ON payments"
    "  BEGIN " TOTALS_PAY("NEW", "+") " END;"
    "CREATE TRIGGER IF NOT EXISTS totals_pay_set AFTER UPDATE OF status,"
    "  amount, city, period ON payments"
    "  WHEN OLD.status IS NOT NEW.status OR OLD.amount IS NOT NEW.amount"
    "  OR OLD.city IS NOT NEW.city OR OLD.period IS NOT NEW.period"
    "  BEGIN " TOTALS_PAY("OLD", "-") TOTALS_PAY("NEW", "+") " END;"
    "CREATE TRIGGER IF NOT EXISTS totals_arrival_add AFTER INSERT ON arrivals"
    "  BEGIN " TOTALS_ARRIVAL("NEW", "+") " END;"
    "CREATE TRIGGER IF NOT EXISTS totals_arrival_set AFTER UPDATE ON arrivals"
    "  BEGIN " TOTALS_ARRIVAL("OLD", "-") TOTALS_ARRIVAL("NEW", "+") " END;";

/* A database from before the totals: one pass over the history, once. */
static const char totals_backfill[] =
    "INSERT INTO fund_totals (what, period, city, amount, n) " TOTALS_SUMS("");

int
totals_init(sqlite3 *db)
{
	sqlite3_stmt	*st;
	int		 existed;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE "
	    "type = 'table' AND name = 'fund_totals'", -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	existed = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "SAVEPOINT totals", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(db, totals_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    (!existed && sqlite3_exec(db, totals_backfill, NULL, NULL, NULL) !=
	    SQLITE_OK)) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK TO totals; RELEASE totals", NULL, NULL,
		    NULL);
		return -1;
	}
	if (sqlite3_exec(db, "RELEASE totals", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (!existed)
		log_info("fund totals built from the ledger's history");
	return 0;
fail:
	log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
	return -1;
}
