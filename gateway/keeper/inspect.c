/* The inspection report's queries: each section read through an index (the
 * month's entries found by bisection, refusals and alerts by fund month),
 * so that a report costs what the month holds, never what the log holds. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "adapters/instr.h"
#include "config.h"
#include "keeper/inspect.h"
#include "keeper/report.h"
#include "log.h"
#include "util.h"

static const char inspect_schema[] =
    /* Every refusal by a fund rule, by the fund month it is about ("" for
     * an instruction that names none); its entry holds the rest. */
    "CREATE TABLE IF NOT EXISTS refusals ("
    "  entry INTEGER PRIMARY KEY, time TEXT NOT NULL, rule TEXT NOT NULL,"
    "  status INTEGER NOT NULL, kind TEXT, id TEXT, agency TEXT, city TEXT,"
    "  period TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS refusals_by_period ON refusals (period, entry);"
    /* Entries of the rare kinds an inspection lists (trust manifests),
     * which nothing else indexes. */
    "CREATE TABLE IF NOT EXISTS marks ("
    "  kind TEXT NOT NULL, entry INTEGER NOT NULL,"
    "  PRIMARY KEY (kind, entry)) WITHOUT ROWID;"
    /* A month's alerts, and those of no month by their entry. */
    "CREATE INDEX IF NOT EXISTS alerts_by_period ON alerts (period, entry);";

/* Instruction kinds that change the account registry (dual control), kept
 * in the instructions table like plans and reviews. */
#define INSPECT_CHANGE_KINDS	"'account-change', 'account-review'"

int
inspect_init(sqlite3 *db)
{
	if (sqlite3_exec(db, inspect_schema, NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static void
inspect_bind_opt(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL && s[0] != '\0')
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int
inspect_refusal(sqlite3 *db, uint64_t entry, const char *time,
    const char *rule, int status, const char *kind, const char *id,
    const char *agency, const char *city, const char *period)
{
	sqlite3_stmt	*st;
	int		 rc;

	/* Prepared per refusal: refusals are rare beside the log's appends. */
	if (sqlite3_prepare_v2(db, "INSERT INTO refusals (entry, time, rule, "
	    "status, kind, id, agency, city, period) VALUES (?, ?, ?, ?, ?, ?, "
	    "?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)entry);
	sqlite3_bind_text(st, 2, time, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rule, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, status);
	inspect_bind_opt(st, 5, kind);
	inspect_bind_opt(st, 6, id);
	inspect_bind_opt(st, 7, agency);
	inspect_bind_opt(st, 8, city);
	sqlite3_bind_text(st, 9, period != NULL && instr_period_ok(period) ?
	    period : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: entry %llu: %s", __func__,
		    (unsigned long long)entry, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int
inspect_mark(sqlite3 *db, const char *kind, uint64_t entry)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO marks (kind, entry) "
	    "VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)entry);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* The "time" of entry idx into t ("" when it has none). 0 or -1. */
static int
inspect_entry_time(sqlite3_stmt *st, uint64_t idx, char *t, size_t tsz)
{
	json_t	*e;
	int	 rc = -1;

	t[0] = '\0';
	sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
	if (sqlite3_step(st) == SQLITE_ROW) {
		e = json_loadb(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), 0, NULL);
		if (json_is_string(json_object_get(e, "time")))
			str_copy(t, tsz, json_string_value(json_object_get(e,
			    "time")));
		json_decref(e);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

/* The first index in [0, size) whose time is at or after key (a period:
 * "2026-11" sorts before every time of November and after October's). */
static int
inspect_bisect(sqlite3_stmt *st, uint64_t size, const char *key,
    uint64_t *out)
{
	uint64_t	lo = 0, hi = size, mid;
	char		t[INSTR_TIME_MAX];

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (inspect_entry_time(st, mid, t, sizeof(t)) == -1)
			return -1;
		if (strcmp(t, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*out = lo;
	return 0;
}

int
inspect_window(sqlite3 *db, const char *period, uint64_t *lo, uint64_t *hi,
    uint64_t *size)
{
	sqlite3_stmt	*st;
	char		 next[8];
	int		 rc = -1;

	if (report_next_period(period, next) == -1)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(idx) + 1, 0) FROM "
	    "entries", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	*size = 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		*size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "SELECT data FROM entries WHERE idx = ?",
	    -1, &st, NULL) != SQLITE_OK)
		goto fail;
	rc = inspect_bisect(st, *size, period, lo) == 0 &&
	    inspect_bisect(st, *size, next, hi) == 0 ? 0 : -1;
	sqlite3_finalize(st);
	if (rc == -1)
		log_warnx("%s: cannot read the log's times", __func__);
	return rc;
fail:
	log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
	return -1;
}

static const char *
inspect_text(sqlite3_stmt *st, int col)
{
	const unsigned char	*t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

/* One row of the statement as an object of the given column names. */
static json_t *
inspect_row(sqlite3_stmt *st, const char *const *names, int n)
{
	json_t	*o = json_object(), *v;
	int	 i;

	for (i = 0; o != NULL && i < n; i++) {
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(st, i));
			break;
		case SQLITE_NULL:
			v = json_string("");
			break;
		default:
			v = json_string(inspect_text(st, i));
			break;
		}
		if (v == NULL || json_object_set_new(o, names[i], v) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

/* The fund month's remittance against its collections, for a city. */
static int
inspect_remitted(sqlite3 *db, const char *city, const char *period,
    int64_t *collected, int64_t *remitted)
{
	sqlite3_stmt	*st;
	int		 rc = -1;

	*collected = *remitted = 0;
	if (sqlite3_prepare_v2(db, "SELECT what, amount FROM fund_totals WHERE "
	    "what IN ('collected', 'remitted') AND period = ? AND city = ?", -1,
	    &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, period, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, city, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (strcmp(inspect_text(st, 0), "collected") == 0)
			*collected = sqlite3_column_int64(st, 1);
		else
			*remitted = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* One integer from a one-row statement with one integer parameter: 1 and
 * *out, 0 when there is no row, -1. */
static int
inspect_int(sqlite3 *db, const char *sql, int64_t arg, int64_t *out)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, arg);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static void
inspect_yuan(char *dst, size_t dsz, int64_t fen)
{
	if (instr_fen_to_yuan(fen < 0 ? -fen : fen, dst + (fen < 0),
	    dsz - (fen < 0)) == -1)
		str_copy(dst, dsz, "?");
	else if (fen < 0)
		dst[0] = '-';
}

/*
 * How an alert ended. The alerts table records when an alert was raised,
 * nothing about an end (no acknowledgement, no clearing): the state is
 * derived from what the ledger holds now where a later fact answers it
 * ("closed"/"open"), and is "not-recorded" where nothing does.
 */
static int
inspect_alert_end(sqlite3 *db, const struct cfg_rules *rules, json_t *a)
{
	const char	*rule = json_string_value(json_object_get(a, "rule"));
	const char	*state = "not-recorded";
	json_t		*fig;
	int64_t		 c, r, v, bal, monthly;
	double		 months;
	char		 how[256], y1[32], y2[32];
	int		 rc;

	str_copy(how, sizeof(how), "nothing in the log records an end");
	fig = json_loads(json_string_value(json_object_get(a, "figures")), 0,
	    NULL);
	if (strcmp(rule, "plan-exceeded") == 0 ||
	    strcmp(rule, "budget-exceeded") == 0 ||
	    strcmp(rule, "duplicate-id-different-content") == 0) {
		state = "closed";
		str_copy(how, sizeof(how), "the instruction was refused at this "
		    "entry; nothing changed");
	} else if (strcmp(rule, "short-remittance") == 0 ||
	    strcmp(rule, "late-remittance") == 0) {
		if (inspect_remitted(db, json_string_value(json_object_get(a,
		    "city_code")), json_string_value(json_object_get(a,
		    "period")), &c, &r) == -1)
			goto fail;
		inspect_yuan(y1, sizeof(y1), r);
		inspect_yuan(y2, sizeof(y2), c);
		state = r >= c ? "closed" : "open";
		if (str_printf(how, sizeof(how), "%s: %s of %s yuan remitted",
		    r >= c ? "remitted in full since" : "still short", y1,
		    y2) == -1)
			goto fail;
	} else if (strcmp(rule, "delivery-parked") == 0) {
		rc = inspect_int(db, "SELECT state FROM outbox WHERE seq = ?",
		    json_integer_value(json_object_get(fig, "outbox")), &v);
		if (rc == -1)
			goto fail;
		state = rc == 1 && v == 1 ? "closed" : "open";
		str_copy(how, sizeof(how), rc == 0 ? "the outbox row is gone" :
		    v == 1 ? "delivered after an operator's retry" : v == 0 ?
		    "queued again, not yet delivered" : "still parked");
	} else if (strcmp(rule, "log-fork") == 0) {
		rc = inspect_int(db, "SELECT entry FROM alerts WHERE rule = "
		    "'log-thawed' AND entry > ? ORDER BY entry LIMIT 1",
		    json_integer_value(json_object_get(a, "audit_index")), &v);
		if (rc == -1)
			goto fail;
		state = rc == 1 ? "closed" : "open";
		if ((rc == 1 ? str_printf(how, sizeof(how), "the witnesses' "
		    "quorum lifted the freeze at entry %lld", (long long)v) :
		    str_copy(how, sizeof(how), "the log is still frozen")) == -1)
			goto fail;
	} else if (strcmp(rule, "log-thawed") == 0) {
		state = "closed";
		str_copy(how, sizeof(how), "it ends a freeze");
	} else if (strcmp(rule, "capacity-low") == 0) {
		if (report_capacity(db, &bal, &monthly, &months) == -1)
			goto fail;
		state = monthly == 0 || months >= (double)rules->capacity_months ?
		    "closed" : "open";
		if (monthly == 0)
			str_copy(how, sizeof(how), "nothing spent: capacity "
			    "unbounded now");
		else if (str_printf(how, sizeof(how), "capacity now %.2f months "
		    "(threshold %u)", months, (unsigned)rules->capacity_months) ==
		    -1)
			goto fail;
	}
	/* The figures as the object they are, as GET /v1/alerts has them. */
	json_object_set_new(a, "figures", fig ? fig : json_object());
	json_object_set_new(a, "state", json_string(state));
	json_object_set_new(a, "ended", json_string(how));
	return 0;
fail:
	log_warnx("%s: %s: %s", __func__, rule, sqlite3_errmsg(db));
	json_decref(fig);
	return -1;
}

/* Rows of a statement bound to (period, lo, hi), each through names. */
static json_t *
inspect_rows(sqlite3 *db, const char *sql, const char *period, uint64_t lo,
    uint64_t hi, const char *const *names, int n)
{
	sqlite3_stmt	*st;
	json_t		*arr, *o;
	int		 rc = SQLITE_DONE;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		return NULL;
	}
	sqlite3_bind_text(st, 1, period, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)lo);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)hi);
	arr = json_array();
	while (arr != NULL && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((o = inspect_row(st, names, n)) == NULL ||
		    json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	if (arr != NULL && rc != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		json_decref(arr);
		arr = NULL;
	}
	sqlite3_finalize(st);
	return arr;
}

/* The month's alerts (by fund month, or by entry for those of none). */
static json_t *
inspect_alerts(sqlite3 *db, const struct cfg_rules *rules, const char *period,
    uint64_t lo, uint64_t hi)
{
	static const char *const names[] = { "id", "time", "rule",
	    "city_code", "period", "subject", "figures", "audit_index" };
	json_t	*arr, *a;
	size_t	 i;

	arr = inspect_rows(db, "SELECT id, time, rule, city, period, subject, "
	    "figures, entry FROM alerts WHERE period = ?1 UNION ALL SELECT id, "
	    "time, rule, city, period, subject, figures, entry FROM alerts "
	    "WHERE period = '' AND entry >= ?2 AND entry < ?3 ORDER BY 8, 1",
	    period, lo, hi, names, (int)nitems(names));
	json_array_foreach(arr, i, a)
		if (inspect_alert_end(db, rules, a) == -1) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

/* What an entry says, for a change's detail: its instruction, or for a
 * trust entry its reason and what changed (compact JSON, keys sorted). */
static char *
inspect_detail(const void *data, size_t len, int trust)
{
	json_t	*e, *d;
	char	*s = NULL;

	if ((e = json_loadb(data, len, 0, NULL)) == NULL)
		return NULL;
	if (trust)
		d = json_pack("{s:O?, s:O?, s:O?}", "reason", json_object_get(e,
		    "reason"), "changed", json_object_get(e, "changed"),
		    "previous", json_object_get(e, "previous"));
	else
		d = json_incref(json_object_get(e, "instruction"));
	if (d != NULL)
		s = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS |
		    JSON_ENCODE_ANY);
	json_decref(d);
	json_decref(e);
	return s;
}

/* Registry changes (account-change and account-review instructions) and
 * trust manifests logged during the month's entries, in log order. */
static json_t *
inspect_changes(sqlite3 *db, uint64_t lo, uint64_t hi)
{
	sqlite3_stmt	*st;
	json_t		*arr = json_array(), *o;
	char		*detail, t[INSTR_TIME_MAX];
	json_t		*e;
	int		 rc = SQLITE_DONE, trust;

	if (arr == NULL || sqlite3_prepare_v2(db, "SELECT i.entry, i.kind, "
	    "i.id, i.agency, e.data FROM instructions i JOIN entries e ON "
	    "e.idx = i.entry WHERE i.kind IN (" INSPECT_CHANGE_KINDS ") AND "
	    "i.entry >= ?1 AND i.entry < ?2 UNION ALL SELECT m.entry, m.kind, "
	    "'', 'gateway', e.data FROM marks m JOIN entries e ON e.idx = "
	    "m.entry WHERE m.kind IN ('trust', 'registry') AND m.entry >= ?1 "
	    "AND m.entry < ?2 "
	    "ORDER BY 1", -1, &st, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		json_decref(arr);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)lo);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)hi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* Marks (trust manifests, the initial registry) say why
		 * and what changed; instructions are shown whole. */
		trust = strcmp(inspect_text(st, 1), "trust") == 0 ||
		    strcmp(inspect_text(st, 1), "registry") == 0;
		detail = inspect_detail(sqlite3_column_blob(st, 4),
		    (size_t)sqlite3_column_bytes(st, 4), trust);
		t[0] = '\0';
		if ((e = json_loadb(sqlite3_column_blob(st, 4),
		    (size_t)sqlite3_column_bytes(st, 4), 0, NULL)) != NULL &&
		    json_is_string(json_object_get(e, "time")))
			str_copy(t, sizeof(t), json_string_value(
			    json_object_get(e, "time")));
		json_decref(e);
		o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "audit_index",
		    (json_int_t)sqlite3_column_int64(st, 0), "time", t, "kind",
		    inspect_text(st, 1), "id", inspect_text(st, 2), "agency",
		    inspect_text(st, 3), "detail", detail ? detail : "");
		free(detail);
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* Sorts refusals by rule, then by entry. */
static int
inspect_by_rule(const void *a, const void *b)
{
	const json_t	*x = *(const json_t *const *)a;
	const json_t	*y = *(const json_t *const *)b;
	int		 c = strcmp(json_string_value(json_object_get(x, "rule")),
	    json_string_value(json_object_get(y, "rule")));
	json_int_t	 i = json_integer_value(json_object_get(x, "audit_index"));
	json_int_t	 j = json_integer_value(json_object_get(y, "audit_index"));

	if (c != 0)
		return c;
	return i < j ? -1 : i > j;
}

/* The month's refusals grouped by rule, and how many each rule made. */
static int
inspect_refusals(sqlite3 *db, const char *period, uint64_t lo, uint64_t hi,
    json_t **list, json_t **counts)
{
	static const char *const names[] = { "audit_index", "time", "rule",
	    "status", "kind", "id", "agency", "city_code", "period" };
	json_t	*arr, **v, *sorted, *r;
	size_t	 i, n;
	json_int_t k;

	arr = inspect_rows(db, "SELECT entry, time, rule, status, kind, id, "
	    "agency, city, period FROM refusals WHERE period = ?1 UNION ALL "
	    "SELECT entry, time, rule, status, kind, id, agency, city, period "
	    "FROM refusals WHERE period = '' AND entry >= ?2 AND entry < ?3",
	    period, lo, hi, names, (int)nitems(names));
	if (arr == NULL)
		return -1;
	n = json_array_size(arr);
	v = calloc(n + 1, sizeof(*v));
	sorted = json_array();
	*counts = json_object();
	if (v == NULL || sorted == NULL || *counts == NULL) {
		free(v);
		json_decref(sorted);
		json_decref(*counts);
		json_decref(arr);
		return -1;
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), inspect_by_rule);
	for (i = 0; i < n; i++) {
		r = v[i];
		json_array_append(sorted, r);
		k = json_integer_value(json_object_get(*counts,
		    json_string_value(json_object_get(r, "rule"))));
		json_object_set_new(*counts, json_string_value(json_object_get(r,
		    "rule")), json_integer(k + 1));
	}
	free(v);
	json_decref(arr);
	*list = sorted;
	return 0;
}

/* Whether the month's reconciliation holds no figure and no arrival. */
static int
inspect_rec_empty(const json_t *rec)
{
	json_t		*totals = json_object_get(rec, "totals"), *v;
	const char	*k;

	json_object_foreach(totals, k, v)
		if (json_integer_value(v) != 0)
			return 0;
	return json_array_size(json_object_get(rec, "unmatched_arrivals")) == 0;
}

json_t *
inspect_report(sqlite3 *db, const struct cfg_rules *rules, const char *period)
{
	json_t		*rec = NULL, *al = NULL, *ch = NULL, *rf = NULL;
	json_t		*counts = NULL;
	uint64_t	 lo, hi, size;
	int		 empty;

	if (!instr_period_ok(period) || inspect_window(db, period, &lo, &hi,
	    &size) == -1)
		return NULL;
	if ((rec = report_reconciliation(db, rules, period)) == NULL ||
	    (al = inspect_alerts(db, rules, period, lo, hi)) == NULL ||
	    (ch = inspect_changes(db, lo, hi)) == NULL ||
	    inspect_refusals(db, period, lo, hi, &rf, &counts) == -1) {
		json_decref(rec);
		json_decref(al);
		json_decref(ch);
		return NULL;
	}
	empty = inspect_rec_empty(rec) && json_array_size(al) == 0 &&
	    json_array_size(ch) == 0 && json_array_size(rf) == 0;
	/* The figures are the ledger's as of the log's size when read. */
	return json_pack("{s:s, s:{s:I, s:I}, s:I, s:b, s:o, s:o, s:o, s:o, "
	    "s:o}", "period", period, "window", "first_index", (json_int_t)lo,
	    "end_index", (json_int_t)hi, "log_size", (json_int_t)size,
	    "empty", empty, "reconciliation", rec,
	    "alerts", al, "changes", ch, "refusals", rf, "refusals_by_rule",
	    counts);
}
