/* The outbox tables: rows waiting for the courier, their state and every
 * attempt made. Ordinary (mutable) tables: the audit log holds the record of
 * each attempt, these hold only what is still to do. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "keeper/outbox.h"
#include "log.h"
#include "util.h"

static const char outbox_schema[] =
    "CREATE TABLE IF NOT EXISTS outbox ("
    "  seq INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL, id TEXT NOT NULL,"
    "  upstream TEXT NOT NULL,"
    "  path TEXT NOT NULL, ctype TEXT NOT NULL, idem TEXT NOT NULL,"
    "  headers TEXT NOT NULL, body BLOB NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    /* Attempts made before the last re-queue: the budget starts there. */
    "  base INTEGER NOT NULL DEFAULT 0,"
    "  next_at INTEGER NOT NULL DEFAULT 0,"
    "  last_status INTEGER, last_error TEXT);"
    "CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (upstream, state, seq);"
    "CREATE INDEX IF NOT EXISTS outbox_instr ON outbox (kind, id);"
    /* Rows still to deliver or parked: the gauges count these alone, not
     * the delivered history. */
    "CREATE INDEX IF NOT EXISTS outbox_open ON outbox (state) WHERE state != 1;"
    "CREATE TABLE IF NOT EXISTS attempts ("
    "  seq INTEGER NOT NULL, attempt INTEGER NOT NULL,"
    "  time INTEGER NOT NULL, ok INTEGER NOT NULL, status INTEGER,"
    "  error TEXT, entry INTEGER NOT NULL,"
    "  PRIMARY KEY (seq, attempt)) WITHOUT ROWID;";

enum outbox_stmt {
	OB_INSERT, OB_GET, OB_ATTEMPT, OB_HISTORY, OB_SET,
	OB_REQUEUE, OB_UNDELIVERED, OB_COUNTS, OB_OF, OB_PENDING, OB_COUNT
};

#define OUTBOX_COLS	"seq, kind, id, upstream, path, ctype, idem, headers, " \
			"body, attempts, next_at, state, base"

static const char *const outbox_sql[OB_COUNT] = {
	[OB_INSERT] = "INSERT INTO outbox (kind, id, upstream, path, ctype, "
	    "idem, headers, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[OB_GET] = "SELECT " OUTBOX_COLS " FROM outbox WHERE seq = ?",
	[OB_ATTEMPT] = "INSERT INTO attempts (seq, attempt, time, ok, status, "
	    "error, entry) VALUES (?, ?, ?, ?, ?, ?, ?)",
	[OB_HISTORY] = "SELECT time, ok, status, error, entry, attempt "
	    "FROM attempts WHERE seq = ? ORDER BY attempt",
	[OB_SET] = "UPDATE outbox SET state = ?, attempts = ?, next_at = ?, "
	    "last_status = ?, last_error = ? WHERE seq = ?",
	[OB_REQUEUE] = "UPDATE outbox SET state = 0, base = attempts, next_at = 0 "
	    "WHERE seq = ? AND state = 2",
	[OB_UNDELIVERED] = "SELECT count(*) FROM outbox WHERE kind = ? AND "
	    "id = ? AND state != 1",
	[OB_COUNTS] = "SELECT coalesce(sum(state = 0), 0), "
	    "coalesce(sum(state = 2), 0) FROM outbox WHERE state != 1",
	[OB_PENDING] = "SELECT seq, next_at FROM outbox WHERE upstream = ? "
	    "AND state = 0 ORDER BY seq LIMIT ?",
	[OB_OF] = "SELECT seq, upstream, state, attempts, next_at, path "
	    "FROM outbox WHERE kind = ? AND id = ? ORDER BY seq",
};

struct outbox {
	sqlite3			*db;
	sqlite3_stmt		*st[OB_COUNT];
	const struct config	*cf;
};

static int
outbox_fail(struct outbox *o, const char *what)
{
	log_warnx("outbox: %s: %s", what, sqlite3_errmsg(o->db));
	return -1;
}

int
outbox_open(sqlite3 *db, const struct config *cf, struct outbox **out)
{
	struct outbox	*o;
	int		 i;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return -1;
	o->db = db;
	o->cf = cf;
	if (sqlite3_exec(db, outbox_schema, NULL, NULL, NULL) != SQLITE_OK) {
		outbox_fail(o, "schema");
		free(o);
		return -1;
	}
	for (i = 0; i < OB_COUNT; i++)
		if (sqlite3_prepare_v3(db, outbox_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &o->st[i], NULL) != SQLITE_OK) {
			outbox_fail(o, outbox_sql[i]);
			outbox_free(o);
			return -1;
		}
	*out = o;
	return 0;
}

void
outbox_free(struct outbox *o)
{
	int	i;

	if (o == NULL)
		return;
	for (i = 0; i < OB_COUNT; i++)
		sqlite3_finalize(o->st[i]);
	free(o);
}

void
outbox_row_clear(struct outbox_row *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int
outbox_upstream_index(const struct outbox *o, const char *name)
{
	size_t	i;

	for (i = 0; i < o->cf->nupstreams; i++)
		if (strcmp(o->cf->upstreams[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const char *
outbox_text(sqlite3_stmt *st, int col)
{
	const unsigned char	*t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

/* Copies the current row of st (OUTBOX_COLS) into r. */
static int
outbox_read_row(struct outbox *o, sqlite3_stmt *st, struct outbox_row *r,
    enum outbox_state *state)
{
	int	n;

	memset(r, 0, sizeof(*r));
	r->seq = (uint64_t)sqlite3_column_int64(st, 0);
	if (str_copy(r->kind, sizeof(r->kind), outbox_text(st, 1)) == -1 ||
	    str_copy(r->id, sizeof(r->id), outbox_text(st, 2)) == -1 ||
	    str_copy(r->path, sizeof(r->path), outbox_text(st, 4)) == -1 ||
	    str_copy(r->ctype, sizeof(r->ctype), outbox_text(st, 5)) == -1 ||
	    str_copy(r->idem, sizeof(r->idem), outbox_text(st, 6)) == -1 ||
	    str_copy(r->headers, sizeof(r->headers), outbox_text(st, 7)) == -1) {
		log_warnx("%s: row %llu does not fit", __func__,
		    (unsigned long long)r->seq);
		return -1;
	}
	/* A row for an upstream the configuration no longer has waits. */
	r->upstream = outbox_upstream_index(o, outbox_text(st, 3));
	n = sqlite3_column_bytes(st, 8);
	if ((r->body = malloc((size_t)n + 1)) == NULL)
		return -1;
	if (n > 0)
		memcpy(r->body, sqlite3_column_blob(st, 8), (size_t)n);
	r->body[n] = '\0';
	r->blen = (size_t)n;
	r->attempts = (unsigned)sqlite3_column_int(st, 9);
	r->next_at = (uint64_t)sqlite3_column_int64(st, 10);
	if (state != NULL)
		*state = (enum outbox_state)sqlite3_column_int(st, 11);
	r->base = (unsigned)sqlite3_column_int(st, 12);
	return 0;
}

int
outbox_add(struct outbox *o, const char *kind, const char *id, int upstream,
    const char *path, const char *ctype, const char *idem, const char *headers,
    const void *body, size_t blen, uint64_t *seq)
{
	sqlite3_stmt	*st = o->st[OB_INSERT];
	int		 rc;

	if (upstream < 0 || (size_t)upstream >= o->cf->nupstreams)
		return -1;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, o->cf->upstreams[upstream].name, -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 4, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, ctype, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, idem, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, headers, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 8, body, (int)blen, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return outbox_fail(o, "insert");
	*seq = (uint64_t)sqlite3_last_insert_rowid(o->db);
	return 0;
}

int
outbox_pending(struct outbox *o, int upstream, unsigned max, uint64_t *seq,
    uint64_t *due)
{
	sqlite3_stmt	*st = o->st[OB_PENDING];
	int		 rc, n = 0;

	sqlite3_bind_text(st, 1, o->cf->upstreams[upstream].name, -1,
	    SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && (unsigned)n < max) {
		seq[n] = (uint64_t)sqlite3_column_int64(st, 0);
		due[n] = (uint64_t)sqlite3_column_int64(st, 1);
		n++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? n :
	    outbox_fail(o, "pending");
}

int
outbox_get(struct outbox *o, uint64_t seq, struct outbox_row *row,
    enum outbox_state *state)
{
	sqlite3_stmt	*st = o->st[OB_GET];
	int		 rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = outbox_read_row(o, st, row, state) == 0 ? 1 : -1;
	else
		rc = rc == SQLITE_DONE ? 0 : outbox_fail(o, "get");
	sqlite3_reset(st);
	return rc;
}

int
outbox_last_attempt(const struct outbox *o, const struct outbox_row *r)
{
	return r->attempts + 1 - r->base >= o->cf->courier.max_attempts;
}

uint64_t
outbox_backoff_ms(const struct cfg_courier *c, unsigned failures)
{
	uint64_t	d = c->retry_min_ms, half;
	uint32_t	r = 0;
	unsigned	i;

	for (i = 1; i < failures && d < c->retry_max_ms; i++)
		d *= 2;
	if (d > c->retry_max_ms)
		d = c->retry_max_ms;
	/* Equal jitter: upstreams coming back are not hit by every row of
	 * every gateway at the same instant, yet the wait never collapses. */
	half = d / 2;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = 0;
	return d - half + (half ? r % (half + 1) : 0);
}

int
outbox_attempted(struct outbox *o, const struct outbox_row *row,
    enum outbox_state state, int ok, int refused, int status,
    const char *error, uint64_t entry, int *parked, uint64_t *next_at)
{
	enum outbox_state	 to;
	sqlite3_stmt		*st;
	uint64_t		 now = wall_ms(), next = 0, seq = row->seq;
	unsigned		 n = row->attempts + 1;
	int			 rc;

	*parked = 0;
	if (state != OUTBOX_PENDING)
		return -1;
	if (ok)
		to = OUTBOX_DELIVERED;
	else if (refused || outbox_last_attempt(o, row)) {
		to = OUTBOX_PARKED;
		*parked = 1;
	} else {
		to = OUTBOX_PENDING;
		next = now + outbox_backoff_ms(&o->cf->courier, n - row->base);
	}
	st = o->st[OB_SET];
	sqlite3_bind_int(st, 1, (int)to);
	sqlite3_bind_int(st, 2, (int)n);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)next);
	sqlite3_bind_int(st, 4, status);
	if (error != NULL && error[0] != '\0')
		sqlite3_bind_text(st, 5, error, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)seq);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return outbox_fail(o, "update");
	st = o->st[OB_ATTEMPT];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	sqlite3_bind_int(st, 2, (int)n);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	sqlite3_bind_int(st, 4, ok);
	sqlite3_bind_int(st, 5, status);
	if (error != NULL && error[0] != '\0')
		sqlite3_bind_text(st, 6, error, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)entry);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return outbox_fail(o, "attempt");
	if (next_at != NULL)
		*next_at = next;
	return 0;
}

int
outbox_requeue(struct outbox *o, uint64_t seq)
{
	sqlite3_stmt	*st = o->st[OB_REQUEUE];
	int		 rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return outbox_fail(o, "requeue");
	return sqlite3_changes(o->db) == 1 ? 1 : 0;
}

int
outbox_all_delivered(struct outbox *o, const char *kind, const char *id)
{
	sqlite3_stmt	*st = o->st[OB_UNDELIVERED];
	int		 rc;

	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = sqlite3_column_int(st, 0) == 0;
	else
		rc = outbox_fail(o, "undelivered");
	sqlite3_reset(st);
	return rc;
}

int
outbox_counts(struct outbox *o, uint64_t *pending, uint64_t *parked)
{
	sqlite3_stmt	*st = o->st[OB_COUNTS];
	int		 rc = -1;

	if (sqlite3_step(st) == SQLITE_ROW) {
		*pending = (uint64_t)sqlite3_column_int64(st, 0);
		*parked = (uint64_t)sqlite3_column_int64(st, 1);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

json_t *
outbox_history(struct outbox *o, uint64_t seq)
{
	sqlite3_stmt	*st = o->st[OB_HISTORY];
	json_t		*arr = json_array(), *a;
	int		 rc;

	if (arr == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = json_pack("{s:I, s:I, s:b, s:I, s:I}",
		    "attempt", (json_int_t)sqlite3_column_int(st, 5),
		    "time_ms", (json_int_t)sqlite3_column_int64(st, 0),
		    "ok", sqlite3_column_int(st, 1),
		    "status", (json_int_t)sqlite3_column_int(st, 2),
		    "audit_index", (json_int_t)sqlite3_column_int64(st, 4));
		if (a != NULL && sqlite3_column_type(st, 3) == SQLITE_TEXT)
			json_object_set_new(a, "error",
			    json_string(outbox_text(st, 3)));
		if (a == NULL || json_array_append_new(arr, a) != 0) {
			rc = SQLITE_ERROR;
			break;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

json_t *
outbox_of(struct outbox *o, const char *kind, const char *id)
{
	static const char *const states[] = { "pending", "delivered", "parked" };
	sqlite3_stmt	*st = o->st[OB_OF];
	json_t		*arr = json_array(), *a, *h;
	uint64_t	 seqs[64];
	size_t		 n = 0, i;
	int		 rc, s;

	if (arr == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < nitems(seqs)) {
		s = sqlite3_column_int(st, 2);
		seqs[n++] = (uint64_t)sqlite3_column_int64(st, 0);
		a = json_pack("{s:I, s:s, s:s, s:s, s:I}",
		    "seq", (json_int_t)sqlite3_column_int64(st, 0),
		    "upstream", outbox_text(st, 1),
		    "path", outbox_text(st, 5),
		    "state", s >= 0 && s <= 2 ? states[s] : "?",
		    "attempts", (json_int_t)sqlite3_column_int(st, 3));
		if (a == NULL || json_array_append_new(arr, a) != 0) {
			rc = SQLITE_ERROR;
			break;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		json_decref(arr);
		return NULL;
	}
	/* The history statement is another cursor: read it once this one
	 * is reset. */
	for (i = 0; i < n; i++) {
		if ((h = outbox_history(o, seqs[i])) == NULL) {
			json_decref(arr);
			return NULL;
		}
		json_object_set_new(json_array_get(arr, i), "attempts_made", h);
	}
	return arr;
}
