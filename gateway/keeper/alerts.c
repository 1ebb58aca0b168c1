/* Early-warning alerts: a mutable index (the table) over immutable facts
 * (the audit entries that carry them). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "adapters/jcs.h"
#include "keeper/alerts.h"
#include "keeper/entry.h"
#include "keeper/store.h"
#include "log.h"
#include "util.h"

static const char alerts_schema[] =
    "CREATE TABLE IF NOT EXISTS alerts ("
    "  id INTEGER PRIMARY KEY, time TEXT NOT NULL, rule TEXT NOT NULL,"
    "  city TEXT NOT NULL, period TEXT NOT NULL, subject TEXT NOT NULL,"
    "  figures TEXT NOT NULL, entry INTEGER NOT NULL,"
    "  UNIQUE (rule, city, period, subject));";

enum { AL_FIND, AL_INSERT, AL_COUNT };

static const char *const alerts_sql[AL_COUNT] = {
	[AL_FIND] = "SELECT 1 FROM alerts WHERE rule = ? AND city = ? AND "
	    "period = ? AND subject = ?",
	[AL_INSERT] = "INSERT INTO alerts (time, rule, city, period, subject, "
	    "figures, entry) VALUES (?, ?, ?, ?, ?, ?, ?)",
};

struct alerts {
	struct store	*st;
	sqlite3		*db;
	sqlite3_stmt	*s[AL_COUNT];
};

int
alerts_open(struct store *st, struct alerts **out)
{
	struct alerts	*a;
	int		 i;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	a->st = st;
	a->db = store_db(st);
	if (sqlite3_exec(a->db, alerts_schema, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < AL_COUNT; i++)
		if (sqlite3_prepare_v3(a->db, alerts_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &a->s[i], NULL) != SQLITE_OK)
			goto fail;
	*out = a;
	return 0;
fail:
	log_warnx("%s: %s", __func__, sqlite3_errmsg(a->db));
	alerts_free(a);
	return -1;
}

void
alerts_free(struct alerts *a)
{
	int	i;

	if (a == NULL)
		return;
	for (i = 0; i < AL_COUNT; i++)
		sqlite3_finalize(a->s[i]);
	free(a);
}

static void
alerts_bind_key(sqlite3_stmt *st, int first, const char *rule,
    const char *city, const char *period, const char *subject)
{
	sqlite3_bind_text(st, first, rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, first + 1, city ? city : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, first + 2, period ? period : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, first + 3, subject ? subject : "", -1,
	    SQLITE_STATIC);
}

int
alerts_raise(struct alerts *a, const char *rule, const char *city,
    const char *period, const char *subject, json_t *figures, uint64_t entry,
    int *raised)
{
	sqlite3_stmt	*st = a->s[AL_FIND];
	json_t		*e;
	char		 t[40], *fig = NULL, *buf;
	size_t		 len;
	int		 rc;

	*raised = 0;
	if (figures == NULL)
		return -1;
	alerts_bind_key(st, 1, rule, city, period, subject);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW) {
		json_decref(figures);
		return 0;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	entry_time(t, sizeof(t));
	if (entry == UINT64_MAX) {
		e = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:O}",
		    "kind", "alert", "time", t, "rule", rule,
		    "city_code", city && city[0] ? city : NULL,
		    "period", period && period[0] ? period : NULL,
		    "subject", subject && subject[0] ? subject : NULL,
		    "figures", figures);
		if (e == NULL)
			goto fail;
		rc = jcs_serialize(e, &buf, &len);
		json_decref(e);
		if (rc == -1)
			goto fail;
		rc = store_append(a->st, buf, len, &entry);
		free(buf);
		if (rc == -1)
			goto fail;
	}
	if (jcs_serialize(figures, &fig, &len) == -1)
		goto fail;
	st = a->s[AL_INSERT];
	sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
	alerts_bind_key(st, 2, rule, city, period, subject);
	sqlite3_bind_text(st, 6, fig, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)entry);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	free(fig);
	if (rc != SQLITE_DONE)
		goto fail;
	log_warnx("alert %s%s%s%s%s at entry %llu", rule, city && city[0] ?
	    " " : "", city ? city : "", period && period[0] ? " " : "",
	    period ? period : "", (unsigned long long)entry);
	*raised = 1;
	json_decref(figures);
	return 0;
fail:
	log_warnx("%s: %s", __func__, sqlite3_errmsg(a->db));
	json_decref(figures);
	return -1;
}

json_t *
alerts_list(sqlite3 *db, uint64_t since)
{
	sqlite3_stmt	*st;
	json_t		*arr, *o, *fig;
	int		 rc;

	if (sqlite3_prepare_v2(db, "SELECT id, time, rule, city, period, "
	    "subject, figures, entry FROM alerts WHERE id > ? ORDER BY id", -1,
	    &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	arr = json_array();
	while (arr != NULL && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		fig = json_loads((const char *)sqlite3_column_text(st, 6), 0,
		    NULL);
		o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:I}",
		    "id", (json_int_t)sqlite3_column_int64(st, 0),
		    "time", (const char *)sqlite3_column_text(st, 1),
		    "rule", (const char *)sqlite3_column_text(st, 2),
		    "city_code", (const char *)sqlite3_column_text(st, 3),
		    "period", (const char *)sqlite3_column_text(st, 4),
		    "subject", (const char *)sqlite3_column_text(st, 5),
		    "figures", fig ? fig : json_object(),
		    "audit_index", (json_int_t)sqlite3_column_int64(st, 7));
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	sqlite3_finalize(st);
	if (arr == NULL)
		return NULL;
	return json_pack("{s:o}", "alerts", arr);
}
