/* The keeper's SQLite store. Entries and the hashes of complete subtrees are
 * written in one transaction per group commit; triggers, an authorizer and
 * defensive mode refuse edits, the Merkle tree and checkpoints reveal them. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "keeper/merkle.h"
#include "keeper/store.h"
#include "log.h"
#include "sqltrace.h"
#include "util.h"

static const char store_schema[] =
    "CREATE TABLE IF NOT EXISTS entries ("
    "  idx INTEGER PRIMARY KEY,"
    "  leaf BLOB NOT NULL CHECK (length(leaf) = 32),"
    "  data BLOB NOT NULL);"
    /* Hash of the complete subtree [pos * 2^level, (pos + 1) * 2^level);
     * level 0 is entries.leaf. */
    "CREATE TABLE IF NOT EXISTS nodes ("
    "  level INTEGER NOT NULL, pos INTEGER NOT NULL,"
    "  hash BLOB NOT NULL CHECK (length(hash) = 32),"
    "  PRIMARY KEY (level, pos)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS checkpoints ("
    "  size INTEGER PRIMARY KEY, time INTEGER NOT NULL, note BLOB NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS entries_next BEFORE INSERT ON entries"
    "  WHEN NEW.idx IS NOT (SELECT coalesce(max(idx) + 1, 0) FROM entries)"
    "  BEGIN SELECT RAISE(ABORT, 'audit entries are appended at max+1'); END;"
    "CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS nodes_no_update BEFORE UPDATE ON nodes"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS nodes_no_delete BEFORE DELETE ON nodes"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

enum store_stmt {
	ST_INSERT_ENTRY, ST_INSERT_NODE, ST_LEAF, ST_NODE, ST_ENTRY,
	ST_INSERT_CP, ST_LATEST_CP, ST_CP_AT, ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO, ST_COUNT
};

static const char *const store_sql[ST_COUNT] = {
	[ST_INSERT_ENTRY] = "INSERT INTO entries (idx, leaf, data) VALUES (?, ?, ?)",
	[ST_INSERT_NODE] = "INSERT INTO nodes (level, pos, hash) VALUES (?, ?, ?)",
	[ST_LEAF] = "SELECT leaf FROM entries WHERE idx = ?",
	[ST_NODE] = "SELECT hash FROM nodes WHERE level = ? AND pos = ?",
	[ST_ENTRY] = "SELECT data FROM entries WHERE idx = ?",
	[ST_INSERT_CP] = "INSERT INTO checkpoints (size, time, note) "
	    "VALUES (?, strftime('%s', 'now'), ?)",
	[ST_LATEST_CP] = "SELECT size, note FROM checkpoints "
	    "WHERE size = (SELECT max(size) FROM checkpoints)",
	[ST_CP_AT] = "SELECT size, note FROM checkpoints WHERE size = ?",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT item",
	[ST_RELEASE] = "RELEASE item",
	[ST_ROLLBACK_TO] = "ROLLBACK TO item",
};

struct store {
	sqlite3		*db;
	sqlite3_stmt	*st[ST_COUNT];
	int		 readonly;
	/* Committed state: size and the frontier (pending left siblings). */
	uint64_t	 size;
	uint8_t		 frontier[MERKLE_MAX_LEVELS][MERKLE_HASH_LEN];
	/* The same during a transaction, applied on commit. */
	uint64_t	 tx_size;
	uint8_t		 tx_frontier[MERKLE_MAX_LEVELS][MERKLE_HASH_LEN];
	/* The leaf hash of the last entry appended in this transaction
	 * (index tx_size - 1), when leaf_ok. */
	uint8_t		 tx_leaf[MERKLE_HASH_LEN];
	int		 leaf_ok;
	/* The same at the last savepoint. */
	uint64_t	 sp_size;
	uint8_t		 sp_frontier[MERKLE_MAX_LEVELS][MERKLE_HASH_LEN];
};

static int
store_fail(struct store *s, const char *what)
{
	log_warnx("store: %s: %s", what, sqlite3_errmsg(s->db));
	return -1;
}

/* Denies schema changes once the schema is in place: mistakes caught here,
 * tampering caught by the tree. */
static int
store_authorizer(void *arg, int action, const char *a, const char *b,
    const char *c, const char *d)
{
	switch (action) {
	case SQLITE_DROP_TABLE:
	case SQLITE_DROP_TEMP_TABLE:
	case SQLITE_DROP_TRIGGER:
	case SQLITE_DROP_TEMP_TRIGGER:
	case SQLITE_DROP_INDEX:
	case SQLITE_DROP_VIEW:
	case SQLITE_ALTER_TABLE:
	case SQLITE_DROP_VTABLE:
		return SQLITE_DENY;
	case SQLITE_DELETE:
	case SQLITE_UPDATE:
		if (a != NULL && (strcmp(a, "entries") == 0 ||
		    strcmp(a, "nodes") == 0 || strcmp(a, "checkpoints") == 0))
			return SQLITE_DENY;
		return SQLITE_OK;
	default:
		return SQLITE_OK;
	}
}

static int
store_blob32(sqlite3_stmt *st, int col, uint8_t out[MERKLE_HASH_LEN])
{
	if (sqlite3_column_bytes(st, col) != MERKLE_HASH_LEN)
		return -1;
	memcpy(out, sqlite3_column_blob(st, col), MERKLE_HASH_LEN);
	return 0;
}

int
store_subtree(void *arg, uint64_t start, unsigned level,
    uint8_t out[MERKLE_HASH_LEN])
{
	struct store	*s = arg;
	sqlite3_stmt	*st;
	int		 rc = -1;

	if (level == 0) {
		st = s->st[ST_LEAF];
		sqlite3_bind_int64(st, 1, (sqlite3_int64)start);
	} else {
		st = s->st[ST_NODE];
		sqlite3_bind_int(st, 1, (int)level);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)(start >> level));
	}
	if (sqlite3_step(st) == SQLITE_ROW && store_blob32(st, 0, out) == 0)
		rc = 0;
	else
		log_warnx("%s: no hash for [%llu, +2^%u)", __func__,
		    (unsigned long long)start, level);
	sqlite3_reset(st);
	return rc;
}

/* Rebuilds the frontier of the committed size from stored subtrees. */
static int
store_load_frontier(struct store *s)
{
	uint64_t	start = 0;
	int		level;

	for (level = MERKLE_MAX_LEVELS - 1; level >= 0; level--) {
		if ((s->size >> level & 1) == 0)
			continue;
		if (store_subtree(s, start, (unsigned)level,
		    s->frontier[level]) == -1)
			return -1;
		start += UINT64_C(1) << level;
	}
	return 0;
}

int
store_open(const char *path, int readonly, struct store **out)
{
	struct store	*s;
	sqlite3_stmt	*st;
	int		 i, flags;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->readonly = readonly;
	flags = readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		log_warnx("%s: %s: %s", __func__, path, s->db ?
		    sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqltrace_attach(s->db);
	/* Verification scans the whole file: map it rather than pread 4 KiB
	 * pages one system call at a time. */
	if (readonly)
		sqlite3_exec(s->db, "PRAGMA mmap_size=2147418112;", NULL, NULL,
		    NULL);
	sqlite3_busy_timeout(s->db, 5000);
	/* Sorts, statement journals and temporary indexes stay in memory: the
	 * keeper's sandbox lets it write only its own folders, not /var/tmp. */
	sqlite3_exec(s->db, "PRAGMA temp_store=MEMORY;", NULL, NULL, NULL);
	/* The writer keeps the hot pages (the tree's right edge, the indexes)
	 * in its cache and reads the rest through a map: every pread is a
	 * system call, and they were a tenth of the keeper's time. */
	if (!readonly && sqlite3_exec(s->db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL;PRAGMA recursive_triggers=ON;"
	    "PRAGMA cache_size=-65536;PRAGMA mmap_size=1073741824;",
	    NULL, NULL, NULL) != SQLITE_OK) {
		store_fail(s, "pragmas");
		goto fail;
	}
	if (!readonly && sqlite3_exec(s->db, store_schema, NULL, NULL, NULL) !=
	    SQLITE_OK) {
		store_fail(s, "schema");
		goto fail;
	}
	sqlite3_set_authorizer(s->db, store_authorizer, NULL);
	for (i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(s->db, store_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			store_fail(s, store_sql[i]);
			goto fail;
		}
	/* A reader sees one snapshot from here to store_close: the size,
	 * the entries, the nodes and the checkpoints all agree even while
	 * the keeper appends. */
	if (readonly && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		store_fail(s, "begin");
		goto fail;
	}
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(idx) + 1, 0) "
	    "FROM entries", -1, &st, NULL) != SQLITE_OK) {
		store_fail(s, "size");
		goto fail;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		s->size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (store_load_frontier(s) == -1) {
		log_warnx("%s: %s: the stored tree is incomplete", __func__, path);
		goto fail;
	}
	s->tx_size = s->size;
	*out = s;
	return 0;
fail:
	store_close(s);
	return -1;
}

void
store_close(struct store *s)
{
	int	i;

	if (s == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->readonly && s->db != NULL && sqlite3_get_autocommit(s->db) == 0)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(s->db);
	free(s);
}

int
store_wal_limit(struct store *s, uint64_t limit, int manual)
{
	char	sql[64];

	if (manual)
		sqlite3_wal_autocheckpoint(s->db, 0);
	/* Each time the WAL starts over, the first commit cuts the file back
	 * to a quarter of the limit (the size at which it is restarted). */
	if (str_printf(sql, sizeof(sql), "PRAGMA journal_size_limit=%llu",
	    (unsigned long long)(limit / 4)) == -1 ||
	    sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(s, "journal_size_limit");
	return 0;
}

sqlite3 *
store_db(struct store *s)
{
	return s->db;
}

uint64_t
store_size(const struct store *s)
{
	return s->size;
}

static int
store_exec(struct store *s, enum store_stmt which)
{
	sqlite3_stmt	*st = s->st[which];
	int		 rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_begin(struct store *s)
{
	if (store_exec(s, ST_BEGIN) == -1)
		return store_fail(s, "begin");
	s->tx_size = s->size;
	memcpy(s->tx_frontier, s->frontier, sizeof(s->frontier));
	s->leaf_ok = 0;
	return 0;
}

int
store_commit(struct store *s)
{
	if (store_exec(s, ST_COMMIT) == -1) {
		store_fail(s, "commit");
		store_rollback(s);
		return -1;
	}
	s->size = s->tx_size;
	memcpy(s->frontier, s->tx_frontier, sizeof(s->frontier));
	return 0;
}

void
store_rollback(struct store *s)
{
	if (sqlite3_get_autocommit(s->db) == 0)
		store_exec(s, ST_ROLLBACK);
	s->tx_size = s->size;
	s->leaf_ok = 0;
}

int
store_savepoint(struct store *s)
{
	if (store_exec(s, ST_SAVEPOINT) == -1)
		return store_fail(s, "savepoint");
	s->sp_size = s->tx_size;
	memcpy(s->sp_frontier, s->tx_frontier, sizeof(s->tx_frontier));
	return 0;
}

int
store_release(struct store *s)
{
	return store_exec(s, ST_RELEASE) == 0 ? 0 : store_fail(s, "release");
}

int
store_rollback_savepoint(struct store *s)
{
	if (store_exec(s, ST_ROLLBACK_TO) == -1 ||
	    store_exec(s, ST_RELEASE) == -1)
		return store_fail(s, "rollback to savepoint");
	s->tx_size = s->sp_size;
	memcpy(s->tx_frontier, s->sp_frontier, sizeof(s->tx_frontier));
	s->leaf_ok = 0;
	return 0;
}

static int
store_insert_node(struct store *s, unsigned level, uint64_t pos,
    const uint8_t hash[MERKLE_HASH_LEN])
{
	sqlite3_stmt	*st = s->st[ST_INSERT_NODE];
	int		 rc;

	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)pos);
	sqlite3_bind_blob(st, 3, hash, MERKLE_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "insert node");
}

int
store_append(struct store *s, const void *data, size_t len, uint64_t *index)
{
	sqlite3_stmt	*st = s->st[ST_INSERT_ENTRY];
	uint8_t		 h[MERKLE_HASH_LEN];
	uint64_t	 i = s->tx_size, pos;
	unsigned	 level;
	int		 rc;

	if (merkle_leaf_hash(data, len, h) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)i);
	sqlite3_bind_blob(st, 2, h, MERKLE_HASH_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, data, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, "insert entry");
	memcpy(s->tx_leaf, h, MERKLE_HASH_LEN);
	s->leaf_ok = 0;		/* until the entry's nodes are in too */
	/* Every odd position closes a pair: hash it with its pending left
	 * sibling and carry on up, storing each completed subtree. */
	for (level = 0, pos = i; pos & 1; pos >>= 1) {
		if (merkle_node_hash(s->tx_frontier[level], h, h) == -1)
			return -1;
		level++;
		if (store_insert_node(s, level, pos >> 1, h) == -1)
			return -1;
	}
	memcpy(s->tx_frontier[level], h, MERKLE_HASH_LEN);
	s->tx_size = i + 1;
	s->leaf_ok = 1;
	*index = i;
	return 0;
}

int
store_leaf(struct store *s, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	/* The entry just appended: its hash is at hand, no lookup. */
	if (s->leaf_ok && index + 1 == s->tx_size) {
		memcpy(out, s->tx_leaf, MERKLE_HASH_LEN);
		return 0;
	}
	return store_subtree(s, index, 0, out);
}

int
store_root(struct store *s, uint64_t size, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t	h[MERKLE_HASH_LEN];
	int	level, have = 0;

	if (size > s->size)
		return -1;
	if (size != s->size)
		return merkle_root(store_subtree, s, size, out);
	/* The current root folds the frontier from the smallest subtree up. */
	if (size == 0) {
		merkle_empty_root(out);
		return 0;
	}
	for (level = 0; level < MERKLE_MAX_LEVELS; level++) {
		if ((size >> level & 1) == 0)
			continue;
		if (!have) {
			memcpy(h, s->frontier[level], MERKLE_HASH_LEN);
			have = 1;
		} else if (merkle_node_hash(s->frontier[level], h, h) == -1)
			return -1;
	}
	memcpy(out, h, MERKLE_HASH_LEN);
	return 0;
}

int
store_entry(struct store *s, uint64_t index, char **data, size_t *len)
{
	sqlite3_stmt	*st = s->st[ST_ENTRY];
	int		 rc = -1, n;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
	if (sqlite3_step(st) == SQLITE_ROW) {
		n = sqlite3_column_bytes(st, 0);
		if ((*data = malloc((size_t)n + 1)) != NULL) {
			memcpy(*data, sqlite3_column_blob(st, 0), (size_t)n);
			(*data)[n] = '\0';
			*len = (size_t)n;
			rc = 0;
		}
	}
	sqlite3_reset(st);
	return rc;
}

int
store_checkpoint_add(struct store *s, uint64_t size, const char *note,
    size_t len)
{
	sqlite3_stmt	*st = s->st[ST_INSERT_CP];
	int		 rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	sqlite3_bind_blob(st, 2, note, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "insert checkpoint");
}

/* The checkpoint row st selects: 0, 1 if none, -1. */
static int
store_checkpoint_row(struct store *s, sqlite3_stmt *st, char **note,
    size_t *len, uint64_t *size)
{
	int	rc, n;

	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 1;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return store_fail(s, "read checkpoint");
	}
	*size = (uint64_t)sqlite3_column_int64(st, 0);
	n = sqlite3_column_bytes(st, 1);
	if ((*note = malloc((size_t)n + 1)) == NULL) {
		sqlite3_reset(st);
		return -1;
	}
	memcpy(*note, sqlite3_column_blob(st, 1), (size_t)n);
	(*note)[n] = '\0';
	*len = (size_t)n;
	sqlite3_reset(st);
	return 0;
}

int
store_checkpoint_latest(struct store *s, char **note, size_t *len,
    uint64_t *size)
{
	return store_checkpoint_row(s, s->st[ST_LATEST_CP], note, len, size);
}

int
store_checkpoint_at(struct store *s, uint64_t size, char **note, size_t *len)
{
	uint64_t	got;

	sqlite3_bind_int64(s->st[ST_CP_AT], 1, (sqlite3_int64)size);
	return store_checkpoint_row(s, s->st[ST_CP_AT], note, len, &got);
}

int
store_each_entry(struct store *s, int (*fn)(void *, uint64_t, const uint8_t *,
    const void *, size_t), void *arg)
{
	sqlite3_stmt	*st;
	int		 rc = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT idx, leaf, data FROM entries "
	    "ORDER BY idx", -1, &st, NULL) != SQLITE_OK)
		return store_fail(s, "scan entries");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const uint8_t *leaf = sqlite3_column_bytes(st, 1) ==
		    MERKLE_HASH_LEN ? sqlite3_column_blob(st, 1) : NULL;

		if ((rc = fn(arg, (uint64_t)sqlite3_column_int64(st, 0), leaf,
		    sqlite3_column_blob(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2))) != 0)
			break;
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc == SQLITE_ROW)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

int
store_each_checkpoint(struct store *s, int (*fn)(void *, uint64_t,
    const char *, size_t), void *arg)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(s->db, "SELECT size, note FROM checkpoints "
	    "ORDER BY size", -1, &st, NULL) != SQLITE_OK)
		return store_fail(s, "scan checkpoints");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((rc = fn(arg, (uint64_t)sqlite3_column_int64(st, 0),
		    sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1))) != 0)
			break;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : rc;
}

struct store_nodes {
	struct store	*s;
	sqlite3_stmt	*cur[MERKLE_MAX_LEVELS];
};

int
store_nodes_open(struct store *s, struct store_nodes **out)
{
	struct store_nodes	*n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -1;
	n->s = s;
	*out = n;
	return 0;
}

int
store_nodes_next(struct store_nodes *n, unsigned level, uint64_t *pos,
    uint8_t hash[MERKLE_HASH_LEN])
{
	sqlite3_stmt	*st;
	int		 rc;

	if (level == 0 || level >= MERKLE_MAX_LEVELS)
		return -1;
	if ((st = n->cur[level]) == NULL) {
		if (sqlite3_prepare_v2(n->s->db, "SELECT pos, hash FROM nodes "
		    "WHERE level = ? ORDER BY pos", -1, &st, NULL) != SQLITE_OK)
			return store_fail(n->s, "scan nodes");
		sqlite3_bind_int(st, 1, (int)level);
		n->cur[level] = st;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return store_fail(n->s, "scan nodes");
	*pos = (uint64_t)sqlite3_column_int64(st, 0);
	if (store_blob32(st, 1, hash) == -1)
		memset(hash, 0, MERKLE_HASH_LEN);	/* reported as a mismatch */
	return 1;
}

void
store_nodes_close(struct store_nodes *n)
{
	int	i;

	if (n == NULL)
		return;
	for (i = 0; i < MERKLE_MAX_LEVELS; i++)
		sqlite3_finalize(n->cur[i]);
	free(n);
}
