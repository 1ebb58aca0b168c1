/* The registry book (regbook.h): versions of accounts in a small table and
 * in memory, replayed in order to give the registry of any date. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "adapters/instr.h"
#include "keeper/regbook.h"
#include "keeper/registry.h"
#include "log.h"
#include "util.h"

static const char regbook_schema[] =
    /* One row per account and version: the initial registry's (since '')
     * and one per approved change, made by the audit entry `entry`. */
    "CREATE TABLE IF NOT EXISTS account_versions ("
    "  entry INTEGER NOT NULL, name TEXT NOT NULL, since TEXT NOT NULL,"
    "  retired INTEGER NOT NULL DEFAULT 0, number TEXT, cnaps TEXT,"
    "  holder TEXT, role TEXT, city TEXT, bank TEXT, change TEXT,"
    "  PRIMARY KEY (entry, name)) WITHOUT ROWID;";

struct regbook_version {
	char			since[INSTR_DATE_LEN];	/* "" initial */
	uint64_t		entry;
	int			retired;
	char			change[INSTR_ID_MAX];	/* "" initial */
	struct registry_account	acc;
};

struct regbook {
	sqlite3			*db;
	sqlite3_stmt		*ins;
	struct regbook_version	*v;	/* in order of (since, entry) */
	size_t			 n, cap;
	char			 cache_date[INSTR_DATE_LEN];
	struct registry		*cache;	/* regbook_at(cache_date) */
};

static const char *
regbook_text(sqlite3_stmt *st, int col)
{
	const unsigned char	*t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

static struct regbook_version *
regbook_grow(struct regbook *b)
{
	struct regbook_version	*v;
	size_t			 cap;

	if (b->n == b->cap) {
		cap = b->cap ? b->cap * 2 : 64;
		if ((v = reallocarray(b->v, cap, sizeof(*v))) == NULL) {
			log_warn("%s", __func__);
			return NULL;
		}
		b->v = v;
		b->cap = cap;
	}
	memset(&b->v[b->n], 0, sizeof(b->v[0]));
	return &b->v[b->n];
}

static void
regbook_forget(struct regbook *b)
{
	registry_free(b->cache);
	b->cache = NULL;
	b->cache_date[0] = '\0';
}

int
regbook_open(sqlite3 *db, int readonly, struct regbook **out)
{
	struct regbook		*b;
	struct regbook_version	*v;
	sqlite3_stmt		*st = NULL;
	int			 rc;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return -1;
	b->db = db;
	if (!readonly && (sqlite3_exec(db, regbook_schema, NULL, NULL, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v3(db, "INSERT INTO account_versions (entry, name, "
	    "since, retired, number, cnaps, holder, role, city, bank, change) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1,
	    SQLITE_PREPARE_PERSISTENT, &b->ins, NULL) != SQLITE_OK))
		goto fail;
	if (sqlite3_prepare_v2(db, "SELECT entry, name, since, retired, number, "
	    "cnaps, holder, role, city, bank, change FROM account_versions "
	    "ORDER BY since, entry", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((v = regbook_grow(b)) == NULL)
			goto fail;
		v->entry = (uint64_t)sqlite3_column_int64(st, 0);
		v->retired = sqlite3_column_int(st, 3);
		if (str_copy(v->acc.name, sizeof(v->acc.name),
		    regbook_text(st, 1)) == -1 ||
		    str_copy(v->since, sizeof(v->since), regbook_text(st, 2)) ==
		    -1 ||
		    str_copy(v->acc.number, sizeof(v->acc.number),
		    regbook_text(st, 4)) == -1 ||
		    str_copy(v->acc.cnaps, sizeof(v->acc.cnaps),
		    regbook_text(st, 5)) == -1 ||
		    str_copy(v->acc.holder, sizeof(v->acc.holder),
		    regbook_text(st, 6)) == -1 ||
		    (!v->retired && registry_role_parse(regbook_text(st, 7),
		    &v->acc.role) == -1) ||
		    str_copy(v->acc.city, sizeof(v->acc.city),
		    regbook_text(st, 8)) == -1 ||
		    str_copy(v->acc.bank, sizeof(v->acc.bank),
		    regbook_text(st, 9)) == -1 ||
		    str_copy(v->change, sizeof(v->change), regbook_text(st, 10)) ==
		    -1) {
			log_warnx("%s: account_versions: a malformed row for "
			    "entry %llu", __func__, (unsigned long long)v->entry);
			goto fail;
		}
		b->n++;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	*out = b;
	return 0;
fail:
	log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	regbook_free(b);
	return -1;
}

void
regbook_free(struct regbook *b)
{
	if (b == NULL)
		return;
	sqlite3_finalize(b->ins);
	registry_free(b->cache);
	free(b->v);
	free(b);
}

int
regbook_empty(const struct regbook *b)
{
	return b->n == 0;
}

/* Records v (already in memory at b->v[b->n]) in the table. */
static int
regbook_insert(struct regbook *b, const struct regbook_version *v)
{
	sqlite3_stmt	*st = b->ins;
	int		 rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)v->entry);
	sqlite3_bind_text(st, 2, v->acc.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, v->since, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, v->retired);
	if (v->retired) {
		int	i;

		for (i = 5; i <= 10; i++)
			sqlite3_bind_null(st, i);
	} else {
		sqlite3_bind_text(st, 5, v->acc.number, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, v->acc.cnaps, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, v->acc.holder, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, registry_role_name(v->acc.role), -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(st, 9, v->acc.city, -1, SQLITE_STATIC);
		if (v->acc.bank[0] != '\0')
			sqlite3_bind_text(st, 10, v->acc.bank, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 10);
	}
	if (v->change[0] != '\0')
		sqlite3_bind_text(st, 11, v->change, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 11);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(b->db));
		return -1;
	}
	return 0;
}

int
regbook_seed(struct regbook *b, const struct registry *reg, uint64_t entry)
{
	const struct registry_account	*a;
	struct regbook_version		*v;
	size_t				 i;

	for (i = 0; (a = registry_at(reg, i)) != NULL; i++) {
		if ((v = regbook_grow(b)) == NULL)
			return -1;
		v->entry = entry;
		v->acc = *a;
		v->acc.line = 0;
		if (regbook_insert(b, v) == -1)
			return -1;
		b->n++;
	}
	regbook_forget(b);
	return 0;
}

/* Replays the versions in force on date into a new registry (the
 * caller's); NULL if the log holds none or memory ran out. */
static struct registry *
regbook_build(const struct regbook *b, const char *date)
{
	struct registry	*reg;
	char		 why[160];
	size_t		 i;

	if (b->n == 0 || (reg = registry_new()) == NULL)
		return NULL;
	for (i = 0; i < b->n && strcmp(b->v[i].since, date) <= 0; i++) {
		if (b->v[i].retired)
			(void)registry_remove(reg, b->v[i].acc.name);
		else if (registry_put(reg, &b->v[i].acc, why, sizeof(why)) == -1)
			/* Each version was checked against the registry it
			 * followed: this is a broken table, not a bad input. */
			log_warnx("regbook: entry %llu: account %s: %s",
			    (unsigned long long)b->v[i].entry, b->v[i].acc.name,
			    why);
	}
	return reg;
}

const struct registry *
regbook_at(struct regbook *b, const char *date)
{
	if (b->cache != NULL && strcmp(b->cache_date, date) == 0)
		return b->cache;
	regbook_forget(b);
	if ((b->cache = regbook_build(b, date)) != NULL)
		str_copy(b->cache_date, sizeof(b->cache_date), date);
	return b->cache;
}

/* An instruction's account as the registry holds one: 0, or -1 if its role
 * is not a registry role. */
static int
regbook_account(const struct instr_account *in, struct registry_account *a)
{
	memset(a, 0, sizeof(*a));
	if (registry_role_parse(in->role, &a->role) == -1)
		return -1;
	(void)str_copy(a->name, sizeof(a->name), in->name);
	(void)str_copy(a->number, sizeof(a->number), in->number);
	(void)str_copy(a->cnaps, sizeof(a->cnaps), in->cnaps);
	(void)str_copy(a->holder, sizeof(a->holder), in->holder);
	(void)str_copy(a->city, sizeof(a->city), in->city);
	(void)str_copy(a->bank, sizeof(a->bank), in->bank);
	return 0;
}

int
regbook_check(struct regbook *b, const struct instr_account_change *c,
    struct registry_account *before, char *code, size_t codesz, char *why,
    size_t whysz)
{
	struct registry			*reg;
	const struct registry_account	*cur;
	struct registry_account		 a;
	int				 rc = 1;

	memset(before, 0, sizeof(*before));
	if ((reg = b->n ? regbook_build(b, REGBOOK_LATEST) :
	    registry_new()) == NULL)
		return -1;
	cur = registry_by_name(reg, c->account.name);
	if (cur != NULL)
		*before = *cur;
	if (c->action == INSTR_ACCT_ADD && cur != NULL) {
		str_copy(code, codesz, "account-exists");
		str_printf(why, whysz, "account %s exists: propose a change",
		    c->account.name);
	} else if (c->action != INSTR_ACCT_ADD && cur == NULL) {
		str_copy(code, codesz, "no-such-account");
		str_printf(why, whysz, "no account %s in the registry",
		    c->account.name);
	} else if (c->action == INSTR_ACCT_RETIRE) {
		(void)registry_remove(reg, c->account.name);
		rc = 0;
	} else if (regbook_account(&c->account, &a) == -1) {
		str_copy(code, codesz, "bad-role");
		str_copy(why, whysz, "role is one of province-special, "
		    "city-special, province-expenditure, city-expenditure");
	} else if (registry_put(reg, &a, why, whysz) == -1)
		str_copy(code, codesz, "account-conflict");
	else
		rc = 0;
	/* The fund always has the account remittances go to. */
	if (rc == 0 && registry_find(reg, REG_PROVINCE_SPECIAL, NULL) == NULL) {
		rc = 1;
		str_copy(code, codesz, "no-province-special");
		str_copy(why, whysz, "the registry would have no "
		    "province-special account");
	}
	registry_free(reg);
	return rc;
}

int
regbook_apply(struct regbook *b, const struct instr_account_change *c,
    const char *change_id, const char *since, uint64_t entry)
{
	struct regbook_version	*v;

	if ((v = regbook_grow(b)) == NULL)
		return -1;
	v->entry = entry;
	v->retired = c->action == INSTR_ACCT_RETIRE;
	if (str_copy(v->since, sizeof(v->since), since) == -1 ||
	    str_copy(v->change, sizeof(v->change), change_id) == -1)
		return -1;
	if (v->retired)
		(void)str_copy(v->acc.name, sizeof(v->acc.name),
		    c->account.name);
	else if (regbook_account(&c->account, &v->acc) == -1)
		return -1;
	if (regbook_insert(b, v) == -1)
		return -1;
	b->n++;
	regbook_forget(b);
	return 0;
}

int
regbook_since(const struct regbook *b, const char *name, const char *date,
    char *since)
{
	size_t	i;
	int	known = 0;

	since[0] = '\0';
	for (i = 0; i < b->n && strcmp(b->v[i].since, date) <= 0; i++)
		if (strcmp(b->v[i].acc.name, name) == 0) {
			known = !b->v[i].retired;
			(void)str_copy(since, INSTR_DATE_LEN, b->v[i].since);
		}
	return known;
}

const char *
regbook_last_since(const struct regbook *b)
{
	return b->n ? b->v[b->n - 1].since : "";
}

json_t *
regbook_account_json(const struct registry_account *a)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?}", "name",
	    a->name, "number", a->number, "cnaps", a->cnaps, "holder",
	    a->holder, "role", registry_role_name(a->role), "city_code",
	    a->city, "bank", a->bank[0] ? a->bank : NULL);
}

json_t *
regbook_json(struct regbook *b, const char *date)
{
	const struct registry		*reg;
	const struct registry_account	*a;
	const struct regbook_version	*made;
	json_t				*arr, *o;
	size_t				 i, j;

	if ((arr = json_array()) == NULL)
		return NULL;
	reg = regbook_at(b, date);
	for (i = 0; reg != NULL && (a = registry_at(reg, i)) != NULL; i++) {
		made = NULL;
		for (j = 0; j < b->n && strcmp(b->v[j].since, date) <= 0; j++)
			if (strcmp(b->v[j].acc.name, a->name) == 0)
				made = &b->v[j];
		if ((o = regbook_account_json(a)) == NULL || made == NULL ||
		    json_object_set_new(o, "index",
		    json_integer((json_int_t)made->entry)) != 0 ||
		    json_object_set_new(o, "effective_date", made->since[0] ?
		    json_string(made->since) : json_null()) != 0 ||
		    json_object_set_new(o, "change", made->change[0] ?
		    json_string(made->change) : json_null()) != 0 ||
		    json_array_append_new(arr, o) != 0) {
			json_decref(o);
			json_decref(arr);
			return NULL;
		}
	}
	return json_pack("{s:s, s:o}", "date", date, "accounts", arr);
}

/* One field's difference, if any. */
static size_t
regbook_field(const char *name, const char *what, const char *log,
    const char *file, void (*fn)(const void *, const char *), const void *arg)
{
	char	line[512];

	if (strcmp(log, file) == 0)
		return 0;
	if (str_printf(line, sizeof(line), "account %s: %s is \"%s\" in the "
	    "log's registry, \"%s\" in the file", name, what, log, file) == -1)
		str_printf(line, sizeof(line), "account %s: %s differs", name,
		    what);
	fn(arg, line);
	return 1;
}

size_t
regbook_diff(const struct registry *log, const struct registry *file,
    void (*fn)(const void *, const char *), const void *arg)
{
	const struct registry_account	*a, *f;
	char				 line[160];
	size_t				 i, n = 0;

	for (i = 0; (a = registry_at(log, i)) != NULL; i++) {
		if ((f = registry_by_name(file, a->name)) == NULL) {
			str_printf(line, sizeof(line), "account %s: in the "
			    "log's registry, not in the file", a->name);
			fn(arg, line);
			n++;
			continue;
		}
		n += regbook_field(a->name, "number", a->number, f->number, fn,
		    arg);
		n += regbook_field(a->name, "cnaps", a->cnaps, f->cnaps, fn, arg);
		n += regbook_field(a->name, "holder", a->holder, f->holder, fn,
		    arg);
		n += regbook_field(a->name, "role", registry_role_name(a->role),
		    registry_role_name(f->role), fn, arg);
		n += regbook_field(a->name, "city", a->city, f->city, fn, arg);
		n += regbook_field(a->name, "bank", a->bank, f->bank, fn, arg);
	}
	for (i = 0; (f = registry_at(file, i)) != NULL; i++)
		if (registry_by_name(log, f->name) == NULL) {
			str_printf(line, sizeof(line), "account %s: in the "
			    "file, not in the log's registry", f->name);
			fn(arg, line);
			n++;
		}
	return n;
}
