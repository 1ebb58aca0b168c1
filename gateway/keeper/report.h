/* Reports over the ledger: the monthly reconciliation per city (DESIGN §1:
 * collected, remitted, arrived, planned, reviewed, disbursed, settled, with
 * flags) and the fund's payment capacity. Read-only: the keeper answers
 * with them live and gatewayctl on a read-only copy of the database. */
#ifndef GW_REPORT_H
#define GW_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct sqlite3;
struct cfg_rules;

#define REPORT_NCITIES	14

/* The 14 pooling areas' codes and names, in code order. */
extern const char *const report_city_codes[REPORT_NCITIES];
extern const char *const report_city_names[REPORT_NCITIES];

/* The reconciliation of period (YYYY-MM): {"period", "clean", "flags",
 * "cities": [{city_code, name, collected_fen, remitted_fen, arrived_fen,
 * planned_fen, reviewed_fen, disbursed_fen, settled_fen, flags}],
 * "totals": {...}, "unmatched_arrivals": [...], "fund": {...}}. NULL on
 * error; the caller owns it. */
json_t	*report_reconciliation(struct sqlite3 *db, const struct cfg_rules *,
	    const char *period);
/* The same as CSV (one line per city, flags joined by ';'); the caller
 * frees *out. 0 or -1. */
int	 report_csv(const json_t *rec, char **out, size_t *len);
/* The fund's balance, average monthly expenditure over the last 12 months
 * with payments, and capacity in months (negative when overdrawn;
 * meaningless, and *monthly 0, while nothing was spent). */
int	 report_capacity(struct sqlite3 *db, int64_t *balance,
	    int64_t *monthly, double *months);
/* Whether an alert of rule was raised for (city, period). */
int	 report_alerted_rule(struct sqlite3 *db, const char *rule,
	    const char *city, const char *period);
/* "YYYY-MM" plus one month into dst (8 bytes). 0 or -1. */
int	 report_next_period(const char *period, char *dst);

#endif
