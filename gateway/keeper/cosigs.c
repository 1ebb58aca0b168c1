/* Witnesses' cosignatures: rows keyed by the checkpoint's size first, so a
 * checkpoint's cosignatures are one index range; append-only like the
 * checkpoints they sign. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "keeper/cosigs.h"
#include "keeper/store.h"
#include "log.h"
#include "util.h"

static const char cosigs_schema[] =
    "CREATE TABLE IF NOT EXISTS cosignatures ("
    "  size INTEGER NOT NULL, witness TEXT NOT NULL, time INTEGER NOT NULL,"
    "  line TEXT NOT NULL, PRIMARY KEY (size, witness)) WITHOUT ROWID;"
    /* One row per witness: what it holds, without a scan of the above. */
    "CREATE TABLE IF NOT EXISTS witness_sizes ("
    "  witness TEXT PRIMARY KEY, size INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS cosigned (size INTEGER PRIMARY KEY);"
    /* Freezes on a witness's evidence and what lifted them: the newest
     * row says whether instructions are refused, across restarts. */
    "CREATE TABLE IF NOT EXISTS freezes ("
    "  id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
    "  event TEXT NOT NULL CHECK (event IN ('freeze', 'thaw')),"
    "  witness TEXT NOT NULL, why TEXT NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS cosignatures_no_update BEFORE UPDATE ON "
    "  cosignatures BEGIN SELECT RAISE(ABORT, 'cosignatures are append-only');"
    "  END;"
    "CREATE TRIGGER IF NOT EXISTS cosignatures_no_delete BEFORE DELETE ON "
    "  cosignatures BEGIN SELECT RAISE(ABORT, 'cosignatures are append-only');"
    "  END;"
    "CREATE TRIGGER IF NOT EXISTS freezes_no_update BEFORE UPDATE ON freezes"
    "  BEGIN SELECT RAISE(ABORT, 'freezes are append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS freezes_no_delete BEFORE DELETE ON freezes"
    "  BEGIN SELECT RAISE(ABORT, 'freezes are append-only'); END;";

enum {
	CS_INSERT, CS_COUNT_SIZE, CS_HOLDS, CS_MARK, CS_WITNESS, CS_FREEZE,
	CS_FROZEN, CS_N
};

static const char *const cosigs_sql[CS_N] = {
	[CS_INSERT] = "INSERT OR IGNORE INTO cosignatures (size, witness, time, "
	    "line) VALUES (?, ?, ?, ?)",
	[CS_COUNT_SIZE] = "SELECT count(*) FROM cosignatures WHERE size = ?",
	[CS_HOLDS] = "INSERT INTO witness_sizes (witness, size) VALUES (?, ?) "
	    "ON CONFLICT (witness) DO UPDATE SET size = excluded.size",
	[CS_MARK] = "INSERT OR IGNORE INTO cosigned (size) VALUES (?)",
	[CS_WITNESS] = "SELECT size FROM witness_sizes WHERE witness = ?",
	[CS_FREEZE] = "INSERT INTO freezes (time, event, witness, why) "
	    "VALUES (strftime('%s', 'now'), ?, ?, ?)",
	[CS_FROZEN] = "SELECT event = 'freeze' FROM freezes ORDER BY id DESC "
	    "LIMIT 1",
};

struct cosigs {
	sqlite3		*db;
	sqlite3_stmt	*s[CS_N];
};

int
cosigs_open(struct store *st, struct cosigs **out)
{
	struct cosigs	*c;
	int		 i;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->db = store_db(st);
	if (sqlite3_exec(c->db, cosigs_schema, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < CS_N; i++)
		if (sqlite3_prepare_v3(c->db, cosigs_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &c->s[i], NULL) != SQLITE_OK)
			goto fail;
	*out = c;
	return 0;
fail:
	log_warnx("%s: %s", __func__, sqlite3_errmsg(c->db));
	cosigs_free(c);
	return -1;
}

void
cosigs_free(struct cosigs *c)
{
	int	i;

	if (c == NULL)
		return;
	for (i = 0; i < CS_N; i++)
		sqlite3_finalize(c->s[i]);
	free(c);
}

/* Steps a statement that returns nothing; resets it. 0 or -1. */
static int
cosigs_run(struct cosigs *c, sqlite3_stmt *st, const char *what)
{
	int	rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	log_warnx("cosigs: %s: %s", what, sqlite3_errmsg(c->db));
	return -1;
}

/* Steps st for one integer into *out (0 when there is no row). 0 or -1. */
static int
cosigs_int(struct cosigs *c, sqlite3_stmt *st, const char *what,
    int64_t *out)
{
	int	rc;

	*out = 0;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	log_warnx("cosigs: %s: %s", what, sqlite3_errmsg(c->db));
	return -1;
}

int
cosigs_add(struct cosigs *c, uint64_t size, const char *witness,
    uint64_t time, const char *line, unsigned *count)
{
	sqlite3_stmt	*st = c->s[CS_INSERT];
	int64_t		 n;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	sqlite3_bind_text(st, 2, witness, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time);
	sqlite3_bind_text(st, 4, line, -1, SQLITE_STATIC);
	if (cosigs_run(c, st, "insert cosignature") == -1)
		return -1;
	st = c->s[CS_HOLDS];
	sqlite3_bind_text(st, 1, witness, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	if (cosigs_run(c, st, "witness size") == -1)
		return -1;
	sqlite3_bind_int64(c->s[CS_COUNT_SIZE], 1, (sqlite3_int64)size);
	if (cosigs_int(c, c->s[CS_COUNT_SIZE], "count", &n) == -1)
		return -1;
	*count = (unsigned)n;
	return 0;
}

int
cosigs_mark(struct cosigs *c, uint64_t size)
{
	sqlite3_bind_int64(c->s[CS_MARK], 1, (sqlite3_int64)size);
	return cosigs_run(c, c->s[CS_MARK], "mark cosigned");
}

int
cosigs_witness_size(struct cosigs *c, const char *witness, uint64_t *size)
{
	int64_t	v;

	sqlite3_bind_text(c->s[CS_WITNESS], 1, witness, -1, SQLITE_STATIC);
	if (cosigs_int(c, c->s[CS_WITNESS], "witness size", &v) == -1)
		return -1;
	*size = (uint64_t)v;
	return 0;
}

int
cosigs_freeze(struct cosigs *c, int freeze, const char *witness,
    const char *why)
{
	sqlite3_stmt	*st = c->s[CS_FREEZE];

	sqlite3_bind_text(st, 1, freeze ? "freeze" : "thaw", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, witness, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, why, -1, SQLITE_STATIC);
	return cosigs_run(c, st, "record a freeze");
}

int
cosigs_frozen(struct cosigs *c, int *frozen)
{
	int64_t	v;

	if (cosigs_int(c, c->s[CS_FROZEN], "frozen", &v) == -1)
		return -1;
	*frozen = v != 0;
	return 0;
}

/* Prepares sql on db; 1 if the tables are not there (a database from
 * before witnesses, opened read-only), 0 or -1. */
static int
cosigs_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK)
		return 0;
	if (strstr(sqlite3_errmsg(db), "no such table") != NULL)
		return 1;
	log_warnx("cosigs: %s", sqlite3_errmsg(db));
	return -1;
}

int
cosigs_latest(sqlite3 *db, uint64_t *size)
{
	sqlite3_stmt	*st;
	int		 rc;

	*size = 0;
	if ((rc = cosigs_prepare(db, "SELECT max(size) FROM cosigned", &st)) != 0)
		return rc == 1 ? 0 : -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
cosigs_note(sqlite3 *db, uint64_t size, const char *note, size_t len,
    char **out, size_t *olen)
{
	sqlite3_stmt	*st = NULL;
	char		*buf, *nb;
	size_t		 n = len, cap = len + 1024, l;
	int		 rc;

	if ((buf = malloc(cap)) == NULL)
		return -1;
	memcpy(buf, note, len);
	if ((rc = cosigs_prepare(db, "SELECT line FROM cosignatures WHERE "
	    "size = ? ORDER BY witness", &st)) == -1) {
		free(buf);
		return -1;
	}
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			l = (size_t)sqlite3_column_bytes(st, 0);
			if (n + l + 1 > cap) {
				cap = 2 * (n + l + 1);
				if ((nb = realloc(buf, cap)) == NULL) {
					rc = SQLITE_NOMEM;
					break;
				}
				buf = nb;
			}
			memcpy(buf + n, sqlite3_column_text(st, 0), l);
			n += l;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			free(buf);
			return -1;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*olen = n;
	return 0;
}
