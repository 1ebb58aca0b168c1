/* The fund's running totals per figure, month and city (table fund_totals),
 * kept by triggers inside the ledger's own transactions. */
#ifndef GW_TOTALS_H
#define GW_TOTALS_H

struct sqlite3;

/* Creates the table and its triggers; a database from before them gets its
 * totals built from the history once. Call after the ledger's tables exist.
 * 0 or -1. */
int	totals_init(struct sqlite3 *db);

#endif
