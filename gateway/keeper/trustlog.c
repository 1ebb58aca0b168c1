/* Trust entries: the files (and keys) in force at each start-up and reload,
 * logged with what changed since the previous trust entry. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "adapters/jcs.h"
#include "config.h"
#include "keeper/entry.h"
#include "keeper/inspect.h"
#include "keeper/sign.h"
#include "keeper/store.h"
#include "keeper/trustlog.h"
#include "log.h"
#include "trust.h"
#include "util.h"

/* The manifest of the last trust entry, and that entry's index: one row. */
static const char trustlog_schema[] =
    "CREATE TABLE IF NOT EXISTS trust_files ("
    "  path TEXT PRIMARY KEY, role TEXT NOT NULL, sha256 TEXT NOT NULL)"
    "  WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS trust_last ("
    "  one INTEGER PRIMARY KEY CHECK (one = 1), entry INTEGER NOT NULL);";

enum { TL_FILES, TL_LAST, TL_CLEAR, TL_INSERT, TL_SET_LAST, TL_COUNT };

static const char *const trustlog_sql[TL_COUNT] = {
	[TL_FILES] = "SELECT path, role, sha256 FROM trust_files ORDER BY path",
	[TL_LAST] = "SELECT entry FROM trust_last WHERE one = 1",
	[TL_CLEAR] = "DELETE FROM trust_files",
	[TL_INSERT] = "INSERT INTO trust_files (path, role, sha256) "
	    "VALUES (?, ?, ?)",
	[TL_SET_LAST] = "INSERT OR REPLACE INTO trust_last (one, entry) "
	    "VALUES (1, ?)",
};

struct trustlog {
	struct store		*st;
	sqlite3			*db;
	sqlite3_stmt		*s[TL_COUNT];
	/* The public halves of the keys this keeper holds: they change only
	 * with a restart of the keeper. */
	struct trust_manifest	 keys;
};

/* The SHA-256 of the DER SubjectPublicKeyInfo of the key in path (a private
 * key file: only its public half is hashed, the key id's basis), as role. */
static int
trustlog_key(struct trustlog *t, const char *role, const char *path)
{
	struct sign_key	*k;
	unsigned char	*der = NULL;
	uint8_t		 h[32];
	unsigned int	 hl = 0;
	int		 n, ok;

	if (sign_key_load_private(path, &k) == -1) {
		log_warnx("trust: cannot load the key %s", path);
		return -1;
	}
	n = i2d_PUBKEY(k->pkey, &der);
	ok = n > 0 && EVP_Digest(der, (size_t)n, h, &hl, EVP_sha256(),
	    NULL) == 1 && hl == sizeof(h);
	OPENSSL_free(der);
	sign_key_free(k);
	if (!ok) {
		log_warnx("trust: cannot hash the public half of %s", path);
		return -1;
	}
	return trust_add(&t->keys, role, path, h);
}

int
trustlog_open(const struct config *cf, struct store *st, struct trustlog **out)
{
	struct trustlog	*t;
	size_t		 i;
	int		 j;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->st = st;
	t->db = store_db(st);
	/* Without signing_key the log key signs instructions too: listed
	 * once, as the log key. */
	if (trustlog_key(t, "log-key", cf->keeper.log_key) == -1 ||
	    (cf->keeper.signing_key[0] != '\0' && trustlog_key(t,
	    "signing-key", cf->keeper.signing_key) == -1))
		goto fail;
	for (i = 0; i < cf->nbanks; i++)
		if (trustlog_key(t, "bank-key", cf->banks[i].signing_key) == -1)
			goto fail;
	trust_sort(&t->keys);
	if (sqlite3_exec(t->db, trustlog_schema, NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(t->db));
		goto fail;
	}
	for (j = 0; j < TL_COUNT; j++)
		if (sqlite3_prepare_v3(t->db, trustlog_sql[j], -1,
		    SQLITE_PREPARE_PERSISTENT, &t->s[j], NULL) != SQLITE_OK) {
			log_warnx("%s: %s", __func__, sqlite3_errmsg(t->db));
			goto fail;
		}
	*out = t;
	return 0;
fail:
	trustlog_free(t);
	return -1;
}

void
trustlog_free(struct trustlog *t)
{
	int	i;

	if (t == NULL)
		return;
	for (i = 0; i < TL_COUNT; i++)
		sqlite3_finalize(t->s[i]);
	trust_free(&t->keys);
	free(t);
}

/* The manifest of the last trust entry into prev, and that entry's index
 * (*has 0 before the first). 0 or -1. */
static int
trustlog_previous(struct trustlog *t, struct trust_manifest *prev,
    uint64_t *last, int *has)
{
	sqlite3_stmt	*st = t->s[TL_FILES];
	const char	*path, *role, *hex;
	uint8_t		 h[32];
	int		 rc;

	memset(prev, 0, sizeof(*prev));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		path = (const char *)sqlite3_column_text(st, 0);
		role = (const char *)sqlite3_column_text(st, 1);
		hex = (const char *)sqlite3_column_text(st, 2);
		if (path == NULL || role == NULL || hex == NULL ||
		    strlen(hex) != 64 || hex_decode(h, sizeof(h), hex) == -1 ||
		    trust_add(prev, role, path, h) == -1) {
			log_warnx("%s: a malformed row in trust_files", __func__);
			rc = SQLITE_ERROR;
			break;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		goto fail;
	st = t->s[TL_LAST];
	*has = 0;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*last = (uint64_t)sqlite3_column_int64(st, 0);
		*has = 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	return 0;
fail:
	trust_free(prev);
	return -1;
}

/* Replaces the kept manifest with m, logged at index. 0 or -1. */
static int
trustlog_keep(struct trustlog *t, const struct trust_manifest *m,
    uint64_t index)
{
	sqlite3_stmt	*st;
	char		 hex[65];
	size_t		 i;
	int		 rc;

	rc = sqlite3_step(t->s[TL_CLEAR]);
	sqlite3_reset(t->s[TL_CLEAR]);
	if (rc != SQLITE_DONE)
		return -1;
	st = t->s[TL_INSERT];
	for (i = 0; i < m->n; i++) {
		hex_encode(hex, m->files[i].sha256, 32);
		sqlite3_bind_text(st, 1, m->files[i].path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, m->files[i].role, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, hex, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	st = t->s[TL_SET_LAST];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
trustlog_append(struct trustlog *t, struct trust_manifest *m, uint64_t *index)
{
	struct trust_manifest	 prev;
	json_t			*e = NULL, *files, *changed;
	const char		*reason = trust_reason_name(m->reason);
	char			 tm[40], *buf = NULL;
	size_t			 i, len, nchanged = 0;
	uint64_t		 last = 0;
	int			 has = 0, rc = -1;

	for (i = 0; i < t->keys.n; i++)
		if (trust_add(m, t->keys.files[i].role, t->keys.files[i].path,
		    t->keys.files[i].sha256) == -1)
			return -1;
	trust_sort(m);
	if (reason == NULL || !trust_valid(m)) {
		log_warnx("%s: a malformed manifest", __func__);
		return -1;
	}
	if (trustlog_previous(t, &prev, &last, &has) == -1) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(t->db));
		return -1;
	}
	files = trust_files_json(m);
	changed = trust_diff(&prev, m);
	nchanged = changed != NULL ? json_array_size(changed) : 0;
	entry_time(tm, sizeof(tm));
	if (files != NULL && changed != NULL)
		e = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:o}",
		    "kind", "trust", "time", tm, "source", "keeper",
		    "reason", reason, "files", files, "changed", changed,
		    "previous", has ? json_integer((json_int_t)last) :
		    json_null());
	json_decref(files);
	json_decref(changed);
	trust_free(&prev);
	if (e == NULL || jcs_serialize(e, &buf, &len) == -1) {
		log_warnx("%s: cannot build the entry", __func__);
		goto done;
	}
	if (store_append(t->st, buf, len, index) == -1 ||
	    trustlog_keep(t, m, *index) == -1 ||
	    inspect_mark(t->db, "trust", *index) == -1) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(t->db));
		goto done;
	}
	log_info("trust: %s: %zu files, %zu changed, entry %llu", reason, m->n,
	    nchanged, (unsigned long long)*index);
	rc = 0;
done:
	free(buf);
	json_decref(e);
	return rc;
}
