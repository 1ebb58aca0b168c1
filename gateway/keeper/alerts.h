/* Early-warning alerts (DESIGN §1): each one an audit entry and a row that
 * GET /v1/alerts and `gatewayctl alerts` list; raised once per rule and
 * subject (a city and period, a certificate, an instruction id). */
#ifndef GW_ALERTS_H
#define GW_ALERTS_H

#include <stdint.h>

#include <jansson.h>

struct alerts;
struct sqlite3;
struct store;

/* Creates the table and prepares statements on the store's database. *out
 * is the caller's (alerts_free). */
int	alerts_open(struct store *, struct alerts **out);
void	alerts_free(struct alerts *);

/*
 * Inside a transaction: raises rule for (city, period, subject) unless it
 * was raised already. figures (taken, even on failure; NULL fails) are the
 * numbers behind it. entry is
 * the audit entry that already records it (a refusal), or UINT64_MAX to
 * append an alert entry of its own. *raised says whether it is new. 0, or
 * -1 if the store failed.
 */
int	alerts_raise(struct alerts *, const char *rule, const char *city,
	    const char *period, const char *subject, json_t *figures,
	    uint64_t entry, int *raised);

/* Every alert after id since (0: all), oldest first, as
 * {"alerts":[{id, time, rule, city_code, period, subject, figures,
 * audit_index}]}; works on a read-only handle too. NULL on error; the
 * caller owns the result. */
json_t	*alerts_list(struct sqlite3 *db, uint64_t since);

#endif
