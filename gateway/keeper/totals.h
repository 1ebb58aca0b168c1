/* The fund's running totals per figure, month and city (table fund_totals),
 * kept by triggers inside the ledger's own transactions. */
#ifndef GW_TOTALS_H
#define GW_TOTALS_H

struct sqlite3;

/* What fund_totals holds, summed from the rows themselves: (w, period, city,
 * sum, n) per figure, month and city, with S the schema prefix ("" or
 * "main."). The keeper builds the totals of an older database with it, and
 * `audit verify` holds the totals to it. */
#define TOTALS_SUMS(S) \
	"SELECT w, period, city, sum(a), count(*) FROM (" \
	" SELECT 'collected' w, period, city, amount a FROM " S "instructions" \
	"  WHERE kind = 'collection'" \
	" UNION ALL SELECT 'remitted', period, city, amount FROM " S \
	"instructions WHERE kind = 'remittance'" \
	" UNION ALL SELECT 'planned', period, city, amount FROM " S \
	"instructions WHERE kind = 'plan' AND state != 11" \
	" UNION ALL SELECT 'reviewed', period, city, coalesce(approved, 0)" \
	"  FROM " S "instructions WHERE kind = 'plan' AND state = 4" \
	" UNION ALL SELECT 'disbursed', period, city, amount FROM " S \
	"payments WHERE status != 'RJCT'" \
	" UNION ALL SELECT 'settled', period, city, amount FROM " S \
	"payments WHERE status IN ('ACSC', 'ACCC')" \
	" UNION ALL SELECT 'arrived', period, city, amount FROM " S \
	"arrivals WHERE remittance IS NOT NULL)" \
	" WHERE city IS NOT NULL AND period IS NOT NULL GROUP BY w, period, city"

/* Creates the table and its triggers; a database from before them gets its
 * totals built from the history once. Call after the ledger's tables exist.
 * 0 or -1. */
int	totals_init(struct sqlite3 *db);

#endif
