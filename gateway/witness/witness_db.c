/* witnessd's state in one SQLite file: the latest cosigned checkpoint per log,
 * a bounded history of what was cosigned, and conflicting checkpoints kept as
 * evidence. Rollback journal with synchronous=FULL: see README (witness). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "log.h"
#include "util.h"
#include "witness/witness.h"

static const char witness_db_schema[] =
    "CREATE TABLE IF NOT EXISTS latest ("
    " origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,"
    " time INTEGER NOT NULL, note TEXT NOT NULL,"
    " nhistory INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS history ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL,"
    " size INTEGER NOT NULL, root BLOB NOT NULL, time INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS history_origin ON history (origin, seq);"
    "CREATE TABLE IF NOT EXISTS evidence ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL,"
    " size INTEGER NOT NULL, time INTEGER NOT NULL, reason TEXT NOT NULL,"
    " note TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS evidence_origin ON evidence (origin, seq);";

static int
witness_db_exec(struct witness_db *d, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(d->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("%s: %s: %s", __func__, sql, err != NULL ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static sqlite3_stmt *
witness_db_prepare(struct witness_db *d, const char *sql)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("%s: %s: %s", __func__, sql, sqlite3_errmsg(d->db));
		return NULL;
	}
	return st;
}

/* Steps a statement that returns no row, then finalizes it. */
static int
witness_db_done(struct witness_db *d, sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		log_warnx("%s: %s", __func__, sqlite3_errmsg(d->db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
witness_db_open(struct witness_db *d, const char *path, uint64_t history)
{
	memset(d, 0, sizeof(*d));
	d->history = history;
	if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		log_warnx("%s: %s: %s", __func__, path,
		    d->db != NULL ? sqlite3_errmsg(d->db) : "out of memory");
		witness_db_close(d);
		return -1;
	}
	/* One writer, one thread, a few commits a second: a rollback journal
	 * keeps the state one file with nothing to checkpoint, and FULL
	 * syncs every commit before a cosignature leaves. */
	if (witness_db_exec(d, "PRAGMA journal_mode=DELETE;"
	    "PRAGMA synchronous=FULL;") == -1 ||
	    sqlite3_busy_timeout(d->db, 5000) != SQLITE_OK ||
	    witness_db_exec(d, witness_db_schema) == -1) {
		witness_db_close(d);
		return -1;
	}
	return 0;
}

void
witness_db_close(struct witness_db *d)
{
	if (d->db != NULL)
		sqlite3_close(d->db);
	d->db = NULL;
}

int
witness_db_begin(struct witness_db *d)
{
	return witness_db_exec(d, "BEGIN IMMEDIATE");
}

int
witness_db_commit(struct witness_db *d)
{
	if (witness_db_exec(d, "COMMIT") == -1) {
		witness_db_rollback(d);
		return -1;
	}
	return 0;
}

void
witness_db_rollback(struct witness_db *d)
{
	if (!sqlite3_get_autocommit(d->db))
		(void)witness_db_exec(d, "ROLLBACK");
}

int
witness_db_latest(struct witness_db *d, const char *origin,
    struct witness_latest *l)
{
	sqlite3_stmt	*st;
	int		 rc, found = -1;

	if ((st = witness_db_prepare(d, "SELECT size, root, time FROM latest "
	    "WHERE origin = ?")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) != MERKLE_HASH_LEN ||
		    sqlite3_column_int64(st, 0) < 0) {
			log_warnx("%s: corrupt state for %s", __func__, origin);
			goto out;
		}
		l->size = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(l->root, sqlite3_column_blob(st, 1), MERKLE_HASH_LEN);
		l->time = (uint64_t)sqlite3_column_int64(st, 2);
		found = 1;
	} else if (rc == SQLITE_DONE)
		found = 0;
	else
		log_warnx("%s: %s", __func__, sqlite3_errmsg(d->db));
out:
	sqlite3_finalize(st);
	return found;
}

/* Drops the oldest history rows of origin beyond the bound: each is one
 * seek down the (origin, seq) index, never a scan. At most two per call,
 * so a lowered bound is reached gradually. */
static int
witness_db_prune(struct witness_db *d, const char *origin)
{
	sqlite3_stmt	*st;
	int		 i;

	for (i = 0; i < 2; i++) {
		if ((st = witness_db_prepare(d, "DELETE FROM history WHERE seq = "
		    "(SELECT seq FROM history WHERE origin = ?1 ORDER BY seq "
		    "LIMIT 1) AND (SELECT nhistory FROM latest WHERE origin = ?1)"
		    " > ?2")) == NULL)
			return -1;
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)d->history);
		if (witness_db_done(d, st) == -1)
			return -1;
		if (sqlite3_changes(d->db) == 0)
			break;
		if ((st = witness_db_prepare(d, "UPDATE latest SET nhistory = "
		    "nhistory - 1 WHERE origin = ?")) == NULL)
			return -1;
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
		if (witness_db_done(d, st) == -1)
			return -1;
	}
	return 0;
}

int
witness_db_store(struct witness_db *d, const char *origin,
    const struct witness_latest *l, const char *note, size_t len, int new_size)
{
	sqlite3_stmt	*st;

	if ((st = witness_db_prepare(d, "INSERT INTO latest (origin, size, root, "
	    "time, note, nhistory) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT (origin) DO UPDATE SET size = ?2, root = ?3, time = ?4,"
	    " note = ?5, nhistory = nhistory + ?6")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)l->size);
	sqlite3_bind_blob(st, 3, l->root, MERKLE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)l->time);
	sqlite3_bind_text(st, 5, note, (int)len, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, new_size ? 1 : 0);
	if (witness_db_done(d, st) == -1)
		return -1;
	if (!new_size)
		return 0;
	if ((st = witness_db_prepare(d, "INSERT INTO history (origin, size, root,"
	    " time) VALUES (?, ?, ?, ?)")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)l->size);
	sqlite3_bind_blob(st, 3, l->root, MERKLE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)l->time);
	if (witness_db_done(d, st) == -1)
		return -1;
	return witness_db_prune(d, origin);
}

int
witness_db_evidence(struct witness_db *d, const char *origin, uint64_t size,
    const char *note, size_t len, uint64_t time, const char *reason)
{
	sqlite3_stmt	*st;

	/* The count walks at most WITNESS_MAX_EVIDENCE index entries. */
	if ((st = witness_db_prepare(d, "INSERT INTO evidence (origin, size, "
	    "time, reason, note) SELECT ?1, ?2, ?3, ?4, ?5 WHERE (SELECT count(*)"
	    " FROM (SELECT 1 FROM evidence WHERE origin = ?1 LIMIT ?6)) < ?6"))
	    == NULL)
		return -1;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time);
	sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, note, (int)len, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, WITNESS_MAX_EVIDENCE);
	return witness_db_done(d, st);
}

/* {"size": N, "root": base64, "time": T} from columns 0..2 of st. */
static json_t *
witness_db_row_json(sqlite3_stmt *st)
{
	char	b64[48];

	if (sqlite3_column_bytes(st, 1) != MERKLE_HASH_LEN ||
	    note_b64_encode(b64, sizeof(b64), sqlite3_column_blob(st, 1),
	    MERKLE_HASH_LEN) == -1)
		return NULL;
	return json_pack("{s:I, s:s, s:I}", "size",
	    (json_int_t)sqlite3_column_int64(st, 0), "root", b64, "time",
	    (json_int_t)sqlite3_column_int64(st, 2));
}

char *
witness_db_latest_note(struct witness_db *d, const char *origin)
{
	sqlite3_stmt	*st;
	char		*out = NULL;
	int		 rc;

	if ((st = witness_db_prepare(d, "SELECT note FROM latest WHERE origin = ?"))
	    == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    (out = strdup((const char *)sqlite3_column_text(st, 0))) == NULL)
		log_warn("%s: strdup", __func__);
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		log_warnx("%s: %s", __func__, sqlite3_errmsg(d->db));
	sqlite3_finalize(st);
	return out;
}

char *
witness_db_latest_json(struct witness_db *d, const char *origin, int *found)
{
	sqlite3_stmt	*st;
	json_t		*o = NULL;
	char		*out = NULL;
	int		 rc;

	*found = 0;
	if ((st = witness_db_prepare(d, "SELECT size, root, time, note FROM "
	    "latest WHERE origin = ?")) == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*found = 1;
		if ((o = witness_db_row_json(st)) != NULL &&
		    json_object_set_new(o, "origin", json_string(origin)) == 0 &&
		    json_object_set_new(o, "checkpoint", json_string(
		    (const char *)sqlite3_column_text(st, 3))) == 0)
			out = json_dumps(o, JSON_COMPACT);
	} else if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return NULL;
	}
	if (out == NULL)
		log_warnx("%s: cannot read the state of %s", __func__, origin);
	json_decref(o);
	sqlite3_finalize(st);
	return out;
}

char *
witness_db_history_json(struct witness_db *d, const char *origin,
    uint64_t limit)
{
	sqlite3_stmt	*st;
	json_t		*o, *arr, *row;
	char		*out = NULL;
	int		 rc;

	if ((st = witness_db_prepare(d, "SELECT size, root, time FROM history "
	    "WHERE origin = ? ORDER BY seq DESC LIMIT ?")) == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	arr = json_array();
	o = json_pack("{s:s, s:o}", "origin", origin, "history", arr);
	if (o == NULL)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((row = witness_db_row_json(st)) == NULL ||
		    json_array_append_new(arr, row) == -1)
			goto out;
	if (rc == SQLITE_DONE)
		out = json_dumps(o, JSON_COMPACT);
out:
	if (out == NULL)
		log_warnx("%s: cannot list the history of %s", __func__, origin);
	json_decref(o);
	sqlite3_finalize(st);
	return out;
}
