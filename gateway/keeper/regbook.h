/* The registry book: the account registry as the audit log holds it, the
 * initial registry and every approved change, each in force from its date.
 * The file (registry.h) only seeds it; after that, where money goes changes
 * only by an instruction that a second agency approved. */
#ifndef GW_KEEPER_REGBOOK_H
#define GW_KEEPER_REGBOOK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "adapters/instr.h"
#include "keeper/registry.h"

/* A date after every date the fund uses: the registry once every approved
 * change is in force. */
#define REGBOOK_LATEST	"9999-12-31"

struct regbook;

/* Creates the table in db (unless readonly: gatewayctl) and loads every
 * version (a few per account: the table grows with approved changes, not
 * with the log). *out is the caller's (regbook_free). 0 or -1. */
int	regbook_open(sqlite3 *db, int readonly, struct regbook **out);
void	regbook_free(struct regbook *);
/* Whether the log holds no registry yet. */
int	regbook_empty(const struct regbook *);

/* Inside a transaction: reg becomes the initial registry, made by the audit
 * entry at index entry. 0 or -1. */
int	regbook_seed(struct regbook *, const struct registry *reg,
	    uint64_t entry);

/* The registry in force on date (YYYY-MM-DD, or REGBOOK_LATEST); NULL if the
 * log holds none or memory ran out. Valid until the next call. */
const struct registry	*regbook_at(struct regbook *, const char *date);

/* Whether c can be applied to the latest registry: 0 if so, with *before
 * the account as it is (zeroed for an add); 1 if not, with code and why
 * (account-exists, no-such-account, bad-role, account-conflict,
 * no-province-special); -1 if memory ran out. */
int	regbook_check(struct regbook *, const struct instr_account_change *c,
	    struct registry_account *before, char *code, size_t codesz,
	    char *why, size_t whysz);

/* Inside a transaction, once regbook_check passed: c is in force from
 * since (YYYY-MM-DD, not before any earlier version's), made by the entry
 * at index entry. 0 or -1. */
int	regbook_apply(struct regbook *, const struct instr_account_change *c,
	    const char *change_id, const char *since, uint64_t entry);

/* The date (into since, 11 bytes) from which the newest version of the
 * account name in force on date holds; "" for the initial registry. 1 if
 * the account is known on date, else 0. */
int	regbook_since(const struct regbook *, const char *name,
	    const char *date, char *since);
/* The latest version's date: a new one may not start before it. */
const char	*regbook_last_since(const struct regbook *);

/* The registry in force on date as {"date", "accounts": [{name, number,
 * cnaps, holder, role, city_code, bank, effective_date, change, index}]},
 * index being the entry that made each account what it is. NULL on error;
 * the caller's. */
json_t	*regbook_json(struct regbook *, const char *date);

/* An account as JSON (for entries and the change list); NULL on error. */
json_t	*regbook_account_json(const struct registry_account *);

/* Every difference between the log's registry and a file's, one line each
 * through fn; the number of differences. */
size_t	regbook_diff(const struct registry *log, const struct registry *file,
	    void (*fn)(const void *, const char *), const void *arg);

#endif
