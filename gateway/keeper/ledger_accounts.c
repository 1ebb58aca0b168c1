/* Where money goes, under dual control (the ledger's side of regbook.h): a
 * proposal is checked against the latest registry and kept; a review by
 * another agency approves it into the registry book, from its date, or
 * rejects it. Payments read the registry of their own date; one to an
 * account changed shortly before raises an alert. The file seeds the book
 * once; a file that later differs is refused, never loaded. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/instr.h"
#include "adapters/instr_parse.h"
#include "ipc.h"
#include "keeper/alerts.h"
#include "keeper/entry.h"
#include "keeper/inspect.h"
#include "keeper/ledger_int.h"
#include "keeper/regbook.h"
#include "keeper/registry.h"
#include "keeper/store.h"
#include "log.h"
#include "util.h"

static const char ledger_accounts_schema[] =
    /* A proposal and, once reviewed, its review. Grows with registry
     * changes (a few a month), never with the log. */
    "CREATE TABLE IF NOT EXISTS account_changes ("
    "  id TEXT PRIMARY KEY, action TEXT NOT NULL, name TEXT NOT NULL,"
    "  effective_date TEXT NOT NULL, since TEXT, state INTEGER NOT NULL,"
    "  agency TEXT NOT NULL, proposed_by TEXT NOT NULL,"
    "  reason TEXT NOT NULL, entry INTEGER NOT NULL, before TEXT,"
    "  after TEXT, review_agency TEXT, reviewed_by TEXT, comment TEXT,"
    "  review_entry INTEGER, canon BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS account_changes_by_state ON account_changes"
    "  (state, id);";

enum ledger_acs {
	LA_INSERT, LA_FIND, LA_CANON, LA_REVIEW, LA_LIST, LA_LIST_STATE,
	LA_COUNT
};

static const char *const ledger_acs_sql[LA_COUNT] = {
	[LA_INSERT] = "INSERT INTO account_changes (id, action, name, "
	    "effective_date, state, agency, proposed_by, reason, entry, before, "
	    "after, canon) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[LA_FIND] = "SELECT state, agency, effective_date FROM account_changes "
	    "WHERE id = ?",
	[LA_CANON] = "SELECT canon FROM account_changes WHERE id = ?",
	[LA_REVIEW] = "UPDATE account_changes SET state = ?, since = ?, "
	    "review_agency = ?, reviewed_by = ?, comment = ?, review_entry = ? "
	    "WHERE id = ?",
	[LA_LIST] = "SELECT id, action, name, effective_date, since, state, "
	    "agency, proposed_by, reason, entry, before, after, review_agency, "
	    "reviewed_by, comment, review_entry FROM account_changes ORDER BY id",
	[LA_LIST_STATE] = "SELECT id, action, name, effective_date, since, "
	    "state, agency, proposed_by, reason, entry, before, after, "
	    "review_agency, reviewed_by, comment, review_entry FROM "
	    "account_changes WHERE state = ? ORDER BY id",
};

struct ledger_accounts {
	struct regbook	*book;
	struct registry	*file;		/* the file's, for seeding and reloads */
	sqlite3_stmt	*s[LA_COUNT];
};

/* Today's date (UTC, as every date the keeper writes) into dst (11 bytes). */
static void
ledger_accounts_today(char *dst)
{
	char	t[40];

	entry_time(t, sizeof(t));
	t[10] = '\0';
	(void)str_copy(dst, INSTR_DATE_LEN, t);
}

/* Days from a to b (YYYY-MM-DD, checked dates). */
static long
ledger_accounts_days(const char *a, const char *b)
{
	struct tm	ta, tb;

	memset(&ta, 0, sizeof(ta));
	memset(&tb, 0, sizeof(tb));
	if (strptime(a, "%Y-%m-%d", &ta) == NULL ||
	    strptime(b, "%Y-%m-%d", &tb) == NULL)
		return 0;
	return (long)((timegm(&tb) - timegm(&ta)) / 86400);
}

static void
ledger_accounts_say(const void *arg, const char *line)
{
	log_warnx("%s: %s", (const char *)arg, line);
}

int
ledger_accounts_open(struct ledger *l)
{
	struct ledger_accounts	*la;
	int			 i;

	if ((la = calloc(1, sizeof(*la))) == NULL)
		return -1;
	l->acc = la;
	if (l->cf->keeper.accounts[0] != '\0' &&
	    registry_load(l->cf->keeper.accounts, &la->file) == -1) {
		log_warnx("%s: cannot load the account registry %s", __func__,
		    l->cf->keeper.accounts);
		return -1;
	}
	if (sqlite3_exec(l->db, ledger_accounts_schema, NULL, NULL, NULL) !=
	    SQLITE_OK)
		return ledger_fail(l, "account_changes");
	for (i = 0; i < LA_COUNT; i++)
		if (sqlite3_prepare_v3(l->db, ledger_acs_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &la->s[i], NULL) != SQLITE_OK)
			return ledger_fail(l, ledger_acs_sql[i]);
	if (regbook_open(l->db, 0, &la->book) == -1)
		return -1;
	if (la->file != NULL && !regbook_empty(la->book)) {
		char	today[INSTR_DATE_LEN];
		size_t	n;

		/* The log decides; a file that says otherwise is named, and
		 * its accounts are not used. */
		ledger_accounts_today(today);
		n = regbook_diff(regbook_at(la->book, today), la->file,
		    ledger_accounts_say, "start-up: accounts file");
		if (n > 0)
			log_warnx("start-up: the accounts file differs from the "
			    "registry in the audit log in %zu place%s; the "
			    "log's registry is in force (gatewayctl accounts "
			    "lists it; changes go through POST "
			    "/v1/accounts/changes)", n, n == 1 ? "" : "s");
	}
	return 0;
}

void
ledger_accounts_free(struct ledger *l)
{
	int	i;

	if (l->acc == NULL)
		return;
	for (i = 0; i < LA_COUNT; i++)
		sqlite3_finalize(l->acc->s[i]);
	regbook_free(l->acc->book);
	registry_free(l->acc->file);
	free(l->acc);
	l->acc = NULL;
}

const struct registry *
ledger_registry(struct ledger *l, const char *date)
{
	return regbook_at(l->acc->book, date);
}

int
ledger_accounts_seed(struct ledger *l)
{
	struct ledger_accounts		*la = l->acc;
	const struct registry_account	*a;
	json_t				*e, *arr;
	char				 t[40];
	uint64_t			 index;
	size_t				 i;

	if (la->file == NULL || !regbook_empty(la->book))
		return 0;
	if ((arr = json_array()) == NULL)
		return -1;
	for (i = 0; (a = registry_at(la->file, i)) != NULL; i++)
		if (json_array_append_new(arr, regbook_account_json(a)) != 0) {
			json_decref(arr);
			return -1;
		}
	entry_time(t, sizeof(t));
	e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "kind", "registry",
	    "time", t, "source", "keeper", "reason", "initial", "file",
	    l->cf->keeper.accounts, "accounts", arr);
	if (ledger_append(l, e, &index) == -1 ||
	    regbook_seed(la->book, la->file, index) == -1 ||
	    inspect_mark(l->db, "registry", index) == -1)
		return -1;
	log_info("the account registry of %zu accounts from %s is now the "
	    "log's (entry %llu)", registry_count(la->file),
	    l->cf->keeper.accounts, (unsigned long long)index);
	return 0;
}

int
ledger_set_registry(struct ledger *l, struct registry *reg)
{
	struct ledger_accounts	*la = l->acc;
	char			 today[INSTR_DATE_LEN];
	size_t			 n;

	ledger_accounts_today(today);
	if (regbook_empty(la->book)) {
		registry_free(la->file);
		la->file = reg;
		return 0;	/* seeded at the next start or batch */
	}
	n = regbook_diff(regbook_at(la->book, today), reg, ledger_accounts_say,
	    "reload: accounts file");
	if (n > 0) {
		log_warnx("reload: the accounts file differs from the registry "
		    "in the audit log in %zu place%s: refused, the log's "
		    "registry stays in force; a registry change is proposed "
		    "with POST /v1/accounts/changes and approved by another "
		    "agency", n, n == 1 ? "" : "s");
		registry_free(reg);
		return -1;
	}
	registry_free(la->file);
	la->file = reg;
	return 0;
}

/* The state of change id: 1 and its fields, 0 if none, -1. */
static int
ledger_change_find(struct ledger *l, const char *id, int *state,
    char *agency, size_t asz, char *effective)
{
	sqlite3_stmt	*st = l->acc->s[LA_FIND];
	int		 rc;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*state = sqlite3_column_int(st, 0);
		(void)str_copy(agency, asz, ledger_text(st, 1));
		(void)str_copy(effective, INSTR_DATE_LEN, ledger_text(st, 2));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ledger_fail(l, "account change");
	return rc == SQLITE_ROW;
}

/* The proposal of change id, read back from its canonical bytes into *in
 * (the caller's, instr_free). 0 or -1. */
static int
ledger_change_instr(struct ledger *l, const char *id, struct instr *in)
{
	sqlite3_stmt		*st = l->acc->s[LA_CANON];
	struct adapter_error	 err;
	int			 rc;

	memset(&err, 0, sizeof(err));
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		rc = instr_parse_canonical(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), INSTR_ACCOUNT_CHANGE, in,
		    &err);
	else
		rc = -1;
	sqlite3_reset(st);
	if (rc == -1)
		log_warnx("%s: account change %s cannot be read back: %s",
		    __func__, id, err.code);
	return rc;
}

/* Refuses a change that cannot apply to the latest registry. */
static int
ledger_change_fits(struct ledger_ctx *x, const struct instr_account_change *c,
    struct registry_account *before, struct ledger_reply *r, int *refused)
{
	char	code[32], why[256];
	int	rc;

	if ((rc = regbook_check(x->l->acc->book, c, before, code, sizeof(code),
	    why, sizeof(why))) == -1)
		return -1;
	if (rc == 1) {
		*refused = 1;
		return ledger_refuse(x, 422, code, why, r);
	}
	return 0;
}

int
ledger_check_account_change(struct ledger_ctx *x, struct ledger_reply *r,
    int *refused)
{
	const struct instr_account_change	*c = &x->in->u.account_change;
	struct registry_account			 before;
	char					 today[INSTR_DATE_LEN];

	*refused = 0;
	ledger_accounts_today(today);
	/* Payments already made keep the registry they were made with. */
	if (strcmp(c->effective_date, today) < 0) {
		*refused = 1;
		return ledger_refuse(x, 422, "effective-date-past",
		    "a registry change takes effect today or later", r);
	}
	return ledger_change_fits(x, c, &before, r, refused);
}

int
ledger_account_change_done(struct ledger_ctx *x, uint64_t index)
{
	const struct instr_account_change	*c = &x->in->u.account_change;
	sqlite3_stmt				*st = x->l->acc->s[LA_INSERT];
	struct registry_account			 before, after;
	char					 code[32], why[256];
	char					*b = NULL, *a = NULL;
	json_t					*o;
	int					 rc;

	/* Checked a moment ago in this transaction: this only recovers the
	 * account as it is, for the record. */
	if (regbook_check(x->l->acc->book, c, &before, code, sizeof(code), why,
	    sizeof(why)) == -1)
		return -1;
	if (before.name[0] != '\0' && (o = regbook_account_json(&before)) !=
	    NULL) {
		b = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(o);
	}
	if (c->action != INSTR_ACCT_RETIRE) {
		memset(&after, 0, sizeof(after));
		(void)str_copy(after.name, sizeof(after.name), c->account.name);
		(void)str_copy(after.number, sizeof(after.number),
		    c->account.number);
		(void)str_copy(after.cnaps, sizeof(after.cnaps), c->account.cnaps);
		(void)str_copy(after.holder, sizeof(after.holder),
		    c->account.holder);
		(void)registry_role_parse(c->account.role, &after.role);
		(void)str_copy(after.city, sizeof(after.city), c->account.city);
		(void)str_copy(after.bank, sizeof(after.bank), c->account.bank);
		if ((o = regbook_account_json(&after)) != NULL) {
			a = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
			json_decref(o);
		}
	}
	sqlite3_bind_text(st, 1, x->in->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, instr_account_action_name(c->action), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->account.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c->effective_date, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, LS_SUBMITTED);
	sqlite3_bind_text(st, 6, x->m->agency, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, c->proposed_by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, c->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)index);
	if (b != NULL)
		sqlite3_bind_text(st, 10, b, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 10);
	if (a != NULL)
		sqlite3_bind_text(st, 11, a, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 11);
	sqlite3_bind_blob(st, 12, x->canon, (int)x->clen, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	free(a);
	free(b);
	return rc == SQLITE_DONE ? 0 : ledger_fail(x->l, "account change");
}

int
ledger_check_account_review(struct ledger_ctx *x, struct ledger_row *change,
    struct ledger_reply *r, int *refused)
{
	struct instr		 prop;
	struct registry_account	 before;
	char			 agency[CFG_NAME_MAX], effective[INSTR_DATE_LEN];
	int			 state = 0, rc;

	*refused = 1;
	memset(change, 0, sizeof(*change));
	if ((rc = ledger_change_find(x->l, x->in->id, &state, agency,
	    sizeof(agency), effective)) == -1)
		return -1;
	if (rc == 0)
		return ledger_refuse(x, 422, "unknown-change",
		    "no account change with this id", r);
	/* Dual control: the second person is of another agency. */
	if (strcmp(agency, x->m->agency) == 0)
		return ledger_refuse(x, 422, "same-agency-review", "the agency "
		    "that proposed a registry change cannot review it", r);
	if (state != LS_SUBMITTED)
		return ledger_refuse(x, 409, "change-already-reviewed",
		    "this account change was reviewed already", r);
	if (x->in->u.account_review.approved) {
		/* The registry may have moved since the proposal: the change
		 * is checked again against what it would now replace. */
		if (ledger_change_instr(x->l, x->in->id, &prop) == -1)
			return -1;
		*refused = 0;
		rc = ledger_change_fits(x, &prop.u.account_change, &before, r,
		    refused);
		instr_free(&prop);
		if (rc == -1 || *refused)
			return rc;
	}
	(void)str_copy(change->agency, sizeof(change->agency), agency);
	(void)str_copy(change->period, sizeof(change->period), effective);
	*refused = 0;
	return 0;
}

int
ledger_account_review_done(struct ledger_ctx *x, uint64_t index)
{
	const struct instr_account_review	*rv = &x->in->u.account_review;
	struct ledger_accounts			*la = x->l->acc;
	sqlite3_stmt				*st = la->s[LA_REVIEW];
	struct registry_account			 before;
	struct instr				 prop;
	const struct instr_account_change	*c;
	char					 since[INSTR_DATE_LEN], code[32],
						 why[256];
	const char				*last;
	json_t					*fig;
	int					 rc, raised;

	if (ledger_event(x->l, INSTR_ACCOUNT_CHANGE, x->in->id, rv->approved ?
	    LE_APPROVED : LE_REJECTED) == -1)
		return -1;
	memset(&prop, 0, sizeof(prop));
	since[0] = '\0';
	if (rv->approved) {
		if (ledger_change_instr(x->l, x->in->id, &prop) == -1)
			return -1;
		c = &prop.u.account_change;
		/* In force from its date, never before today or before a
		 * version already in the book: no payment made, and no later
		 * version, ever reads a registry that changed under it. */
		ledger_accounts_today(since);
		if (strcmp(c->effective_date, since) > 0)
			(void)str_copy(since, sizeof(since), c->effective_date);
		last = regbook_last_since(la->book);
		if (strcmp(last, since) > 0)
			(void)str_copy(since, sizeof(since), last);
		rc = regbook_check(la->book, c, &before, code, sizeof(code), why,
		    sizeof(why));
		if (rc == 0)
			rc = regbook_apply(la->book, c, x->in->id, since, index);
		/* Where a payee's money goes changed: both agencies and the
		 * auditors read the alerts. */
		fig = json_pack("{s:s, s:s, s:s, s:o*, s:o*, s:s, s:s}",
		    "change_id", x->in->id, "action",
		    instr_account_action_name(c->action), "account",
		    c->account.name, "before", before.name[0] ?
		    regbook_account_json(&before) : NULL, "after",
		    c->action != INSTR_ACCT_RETIRE ?
		    json_pack("{s:s, s:s, s:s}", "number", c->account.number,
		    "cnaps", c->account.cnaps, "holder", c->account.holder) : NULL,
		    "effective_date", since, "approved_by", x->m->agency);
		if (rc == 0)
			rc = alerts_raise(x->l->al, "payee-account-changed",
			    before.name[0] ? before.city : c->account.city,
			    since, x->in->id, fig, index, &raised);
		else
			json_decref(fig);
		instr_free(&prop);
		if (rc != 0)
			return -1;
	}
	sqlite3_bind_int(st, 1, rv->approved ? LS_APPROVED : LS_REJECTED);
	if (since[0] != '\0')
		sqlite3_bind_text(st, 2, since, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, x->m->agency, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, rv->reviewed_by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, rv->comment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)index);
	sqlite3_bind_text(st, 7, x->in->id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : ledger_fail(x->l, "account review");
}

int
ledger_watch_cooling_off(struct ledger_ctx *x, const char *number,
    const char *date, uint64_t index)
{
	const struct registry_account	*a;
	const struct registry		*reg;
	unsigned			 days = x->l->cf->rules.cooling_off_days;
	char				 since[INSTR_DATE_LEN], subject[96];
	long				 d;
	int				 raised;

	if (days == 0 || (reg = regbook_at(x->l->acc->book, date)) == NULL ||
	    (a = registry_by_number(reg, number)) == NULL ||
	    !regbook_since(x->l->acc->book, a->name, date, since) ||
	    since[0] == '\0')
		return 0;
	if ((d = ledger_accounts_days(since, date)) >= (long)days)
		return 0;
	if (str_printf(subject, sizeof(subject), "%s/%s", x->in->id, a->name) ==
	    -1)
		return -1;
	return alerts_raise(x->l->al, "payee-cooling-off", a->city, date,
	    subject, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "account",
	    a->name, "number", a->number, "changed_on", since,
	    "execution_date", date, "days", (json_int_t)d, "cooling_off_days",
	    (json_int_t)days), index, &raised);
}

/* One account_changes row as the API shows it. */
static json_t *
ledger_change_json(sqlite3_stmt *st)
{
	json_t	*o, *before, *after, *review = NULL;
	int	 state = sqlite3_column_int(st, 5);

	before = sqlite3_column_type(st, 10) == SQLITE_NULL ? json_null() :
	    json_loads(ledger_text(st, 10), 0, NULL);
	after = sqlite3_column_type(st, 11) == SQLITE_NULL ? json_null() :
	    json_loads(ledger_text(st, 11), 0, NULL);
	if (sqlite3_column_type(st, 15) != SQLITE_NULL)
		review = json_pack("{s:s, s:s, s:s, s:b, s:s, s:I}", "id",
		    ledger_text(st, 0), "agency", ledger_text(st, 12),
		    "reviewed_by", ledger_text(st, 13), "approved",
		    state == LS_APPROVED, "comment", ledger_text(st, 14),
		    "index", (json_int_t)sqlite3_column_int64(st, 15));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:I, "
	    "s:o, s:o, s:o}", "id", ledger_text(st, 0), "action",
	    ledger_text(st, 1), "account", ledger_text(st, 2),
	    "effective_date", ledger_text(st, 3), "in_force_from",
	    sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL :
	    ledger_text(st, 4), "state", state >= 0 && state < LS_COUNT ?
	    ledger_state_names[state] : "?", "agency", ledger_text(st, 6),
	    "proposed_by", ledger_text(st, 7), "reason", ledger_text(st, 8),
	    "index", (json_int_t)sqlite3_column_int64(st, 9), "before",
	    before ? before : json_null(), "after", after ? after : json_null(),
	    "review", review ? review : json_null());
	return o;
}

json_t *
ledger_account_changes(struct ledger *l, const char *state)
{
	sqlite3_stmt	*st;
	json_t		*arr, *o;
	int		 rc, s;

	if ((arr = json_array()) == NULL)
		return NULL;
	st = l->acc->s[state[0] ? LA_LIST_STATE : LA_LIST];
	if (state[0] != '\0') {
		s = strcmp(state, "approved") == 0 ? LS_APPROVED :
		    strcmp(state, "rejected") == 0 ? LS_REJECTED : LS_SUBMITTED;
		sqlite3_bind_int(st, 1, s);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((o = ledger_change_json(st)) == NULL ||
		    json_array_append_new(arr, o) != 0)
			break;
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return NULL;
	}
	return json_pack("{s:o}", "changes", arr);
}

json_t *
ledger_accounts_json(struct ledger *l, const char *date)
{
	char	today[INSTR_DATE_LEN];

	if (date[0] == '\0') {
		ledger_accounts_today(today);
		date = today;
	}
	return regbook_json(l->acc->book, date);
}
