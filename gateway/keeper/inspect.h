/* The inspection report a supervisor files for one month (issue 12): the
 * reconciliation, every alert and how it ended, every registry and trust
 * change, every refusal by rule, each with its audit index. The keeper
 * answers GET /v1/reports/inspection with it, gatewayctl inspect reads it
 * from a read-only database; neither ever scans the log. */
#ifndef GW_INSPECT_H
#define GW_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct sqlite3;
struct cfg_rules;

/* Creates the tables and indexes the report reads (refusals, marks, alerts
 * by period) on the keeper's database, after the alerts table exists. */
int	inspect_init(struct sqlite3 *db);

/* Inside the transaction that appended a refusal's entry: indexes it by
 * the fund month it is about (period, or "" when the instruction names
 * none: the report then places it by its time). kind, id, agency, city and
 * period may be NULL. 0 or -1. */
int	inspect_refusal(struct sqlite3 *db, uint64_t entry, const char *time,
	    const char *rule, int status, const char *kind, const char *id,
	    const char *agency, const char *city, const char *period);

/* Inside the transaction that appended entry: lists it as a change the
 * inspection must show (kind "trust": the trust manifest of a start or
 * reload; "registry": the initial account registry). The report finds
 * these only through their marks. */
int	inspect_mark(struct sqlite3 *db, const char *kind, uint64_t entry);

/* The entries appended during period (UTC, by the entries' own "time"):
 * [*lo, *hi), found by bisection on the log (O(log n) reads, no scan);
 * *size is the log's size as read.
 * Entries are appended in time order; a wall clock stepped back can move
 * a boundary by the entries written in the step. 0 or -1. */
int	inspect_window(struct sqlite3 *db, const char *period, uint64_t *lo,
	    uint64_t *hi, uint64_t *size);

/* The report of period (YYYY-MM) as {"period", "window": {"first_index",
 * "end_index"}, "log_size", "empty", "reconciliation":
 * <report_reconciliation>, "alerts": [{..., "audit_index", "state":
 * "closed"|"open"|"not-recorded", "ended"}], "changes": [{"audit_index",
 * "time", "kind", "id", "agency", "detail"}], "refusals": [{"audit_index",
 * "time", "rule", "status", "kind", "id", "agency", "city_code",
 * "period"}] (by rule, then index), "refusals_by_rule": {rule: n}}. Alerts
 * and refusals are the fund month's, and those of no month raised during
 * it; changes are those logged during it. NULL on error; the caller owns
 * it. */
json_t	*inspect_report(struct sqlite3 *db, const struct cfg_rules *,
	    const char *period);

/* The report as one self-contained HTML document (inline CSS, no script,
 * no outside resource), and as RFC 4180 CSV (CRLF, a header row, the
 * section in the first column). Amounts in yuan with two decimals. The
 * caller frees *out. 0 or -1. */
int	inspect_html(const json_t *rep, char **out, size_t *len);
int	inspect_csv(const json_t *rep, char **out, size_t *len);

#endif
