/* gatewayctl audit verify: the whole log re-checked offline and read-only,
 * streaming, with nothing capped: every entry re-hashed, the tree rebuilt
 * against the stored subtree hashes, every checkpoint's signature and root,
 * every instruction's signature, the fund's state re-derived and compared
 * with its tables, and the checkpoint file. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "ctl/ctl.h"
#include "ctl/ctl_audit.h"
#include "keeper/merkle.h"
#include "keeper/note.h"
#include "keeper/store.h"
#include "util.h"

/*
 * Pipeline: the main thread reads rows (entries, and the checkpoints that
 * end among them) from SQLite into batches; worker threads hash the
 * entries, check checkpoint and instruction signatures and read what
 * entries say about the fund, in any order; the main thread then checks
 * each batch in log order (stored leaf, tree nodes, checkpoint roots, the
 * fund's state). A ring of batches bounds the memory whatever the log's
 * length.
 */
#define AUDIT_BATCH		4096
#define AUDIT_BATCH_BYTES	(16u << 20)
#define AUDIT_MAX_WORKERS	8

/* A checkpoint ending inside a batch: its note until a worker read it. */
struct audit_cpn {
	uint64_t	 size;
	char		*note;		/* owned */
	size_t		 len;
	uint8_t		 root[MERKLE_HASH_LEN];
	int		 bad;		/* 1 signature, 2 size */
};

enum audit_bstate { AB_FREE, AB_SUBMITTED, AB_CLAIMED, AB_DONE };

struct audit_batch {
	size_t			 n, used, cap;
	uint64_t		 idx[AUDIT_BATCH];
	uint8_t			 stored[AUDIT_BATCH][MERKLE_HASH_LEN];
	uint8_t			 hash[AUDIT_BATCH][MERKLE_HASH_LEN];
	char			 hasleaf[AUDIT_BATCH];
	size_t			 off[AUDIT_BATCH + 1];
	struct audit_fact	*fact[AUDIT_BATCH];
	uint8_t			*data;
	struct audit_cpn	*cps;
	size_t			 ncps, cpcap;
	enum audit_bstate	 state;
	int			 failed;	/* a worker ran out of memory */
};

struct audit_verify {
	struct audit_opts	*o;
	struct merkle_frontier	 f;
	struct store_nodes	*nodes;
	struct audit_state	*fund;
	sqlite3_stmt		*cpcur;		/* checkpoints by size */
	struct audit_cpn	 cpnext;	/* peeked; note NULL: none */
	uint64_t		 total, ncps, nsigs;
	/* The first problem. */
	const char		*bad;
	uint64_t		 bad_index;
	char			 why[AUDIT_WHY_MAX];
	char			 detail[AUDIT_WHY_MAX];	/* a part's own words */
	/* Progress on a terminal. */
	int			 progress;
	uint64_t		 shown_ms;
	/* The ring. */
	struct audit_batch	*b;
	size_t			 nb, cur, head, nout, nth;
	pthread_t		 th[AUDIT_MAX_WORKERS];
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 stop;
};

/* Records the first problem (what: a short name; the detail goes to
 * stderr and the JSON); returns 1 to stop the scan. */
static int __attribute__((format(printf, 4, 5)))
audit_problem(struct audit_verify *v, uint64_t index, const char *what,
    const char *fmt, ...)
{
	va_list	ap;

	if (v->bad != NULL)
		return 1;
	v->bad = what;
	v->bad_index = index;
	va_start(ap, fmt);
	audit_vsay(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	if (v->progress)
		fputc('\n', stderr);
	fprintf(stderr, "%s\n", v->why);
	return 1;
}

/* ---- checkpoints, read alongside the entries --------------------------- */

/* Peeks the next checkpoint into v->cpnext (note NULL at the end). */
static int
audit_cp_fetch(struct audit_verify *v)
{
	int	rc;

	memset(&v->cpnext, 0, sizeof(v->cpnext));
	if ((rc = sqlite3_step(v->cpcur)) == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return -1;
	v->cpnext.size = (uint64_t)sqlite3_column_int64(v->cpcur, 0);
	v->cpnext.len = (size_t)sqlite3_column_bytes(v->cpcur, 1);
	if ((v->cpnext.note = malloc(v->cpnext.len + 1)) == NULL)
		return -1;
	if (v->cpnext.len > 0)
		memcpy(v->cpnext.note, sqlite3_column_blob(v->cpcur, 1),
		    v->cpnext.len);
	v->cpnext.note[v->cpnext.len] = '\0';
	return 0;
}

/* Moves the checkpoints that end at or before size into batch b. */
static int
audit_cp_attach(struct audit_verify *v, struct audit_batch *b, uint64_t size)
{
	struct audit_cpn	*n;

	while (v->cpnext.note != NULL && v->cpnext.size <= size) {
		if (b->ncps == b->cpcap) {
			size_t cap = b->cpcap ? 2 * b->cpcap : 16;

			if ((n = reallocarray(b->cps, cap, sizeof(*n))) == NULL)
				return -1;
			b->cps = n;
			b->cpcap = cap;
		}
		b->cps[b->ncps++] = v->cpnext;
		if (audit_cp_fetch(v) == -1)
			return -1;
	}
	return 0;
}

/* ---- the ordered checks ------------------------------------------------- */

/* Compares the roots of checkpoints that end at the current size. */
static int
audit_check_cps(struct audit_verify *v, struct audit_batch *b, size_t *k)
{
	uint8_t			 root[MERKLE_HASH_LEN];
	struct audit_cpn	*c;

	for (; *k < b->ncps && b->cps[*k].size <= v->f.size; (*k)++) {
		c = &b->cps[*k];
		if (c->bad == 1)
			return audit_problem(v, c->size ? c->size - 1 : 0,
			    "checkpoint signature", "checkpoint at size %llu: "
			    "signature does not verify with the log key",
			    (unsigned long long)c->size);
		if (c->bad == 2 || c->size != v->f.size)
			return audit_problem(v, c->size ? c->size - 1 : 0,
			    "checkpoint size", "checkpoint at size %llu: the note "
			    "says another size, or no entry ends there",
			    (unsigned long long)c->size);
		merkle_frontier_root(&v->f, root);
		if (memcmp(root, c->root, MERKLE_HASH_LEN) != 0)
			return audit_problem(v, v->f.size - 1, "checkpoint root",
			    "checkpoint at size %llu: its root does not match "
			    "the entries", (unsigned long long)v->f.size);
		v->ncps++;
		v->nsigs++;
	}
	return 0;
}

static int
audit_check_entry(struct audit_verify *v, uint64_t index, const uint8_t *leaf,
    const uint8_t h[MERKLE_HASH_LEN])
{
	uint8_t			 stored[MERKLE_HASH_LEN];
	uint8_t			 done[MERKLE_MAX_LEVELS * MERKLE_HASH_LEN];
	size_t			 n, l;
	uint64_t		 pos, at;

	if (index != v->f.size)
		return audit_problem(v, v->f.size, "missing entry", "entry %llu "
		    "is missing (next stored index is %llu)",
		    (unsigned long long)v->f.size, (unsigned long long)index);
	if (leaf == NULL || memcmp(h, leaf, MERKLE_HASH_LEN) != 0)
		return audit_problem(v, index, "entry content", "entry %llu: its "
		    "content does not match its stored leaf hash",
		    (unsigned long long)index);
	if (merkle_frontier_append(&v->f, h, done, &n) == -1)
		return -1;
	/* Every subtree this leaf completed must be stored as computed. */
	for (l = 1; l < n; l++) {
		at = v->f.size - (UINT64_C(1) << l);
		if (store_nodes_next(v->nodes, (unsigned)l, &pos, stored) != 1 ||
		    pos != at >> l ||
		    memcmp(stored, done + l * MERKLE_HASH_LEN,
		    MERKLE_HASH_LEN) != 0)
			return audit_problem(v, index, "tree node", "entry %llu: "
			    "the stored tree node at level %zu is missing or "
			    "wrong", (unsigned long long)index, l);
	}
	return 0;
}

static void
audit_progress(struct audit_verify *v, int last)
{
	uint64_t	now = now_ms();
	unsigned	pct, i;
	char		bar[41];

	if (!v->progress || (!last && now - v->shown_ms < 200))
		return;
	v->shown_ms = now;
	pct = v->total ? (unsigned)(v->f.size * 100 / v->total) : 100;
	for (i = 0; i < 40; i++)
		bar[i] = i < pct * 40 / 100 ? '#' : '.';
	bar[40] = '\0';
	fprintf(stderr, "\r[%s] %3u%% %llu/%llu entries", bar, pct,
	    (unsigned long long)v->f.size, (unsigned long long)v->total);
	if (last)
		fputc('\n', stderr);
}

/* Frees what batch b holds; it is then free again. */
static void
audit_batch_clear(struct audit_batch *b)
{
	size_t	i;

	for (i = 0; i < b->n; i++) {
		audit_fact_free(b->fact[i]);
		b->fact[i] = NULL;
	}
	for (i = 0; i < b->ncps; i++)
		free(b->cps[i].note);
	b->n = b->used = b->ncps = 0;
	b->failed = 0;
}

/* Checks batch b in order, then clears it. */
static int
audit_check_batch(struct audit_verify *v, struct audit_batch *b)
{
	struct audit_fact	*f;
	size_t			 i, k = 0;
	int			 rc = b->failed ? -1 : 0;

	for (i = 0; i < b->n && rc == 0; i++) {
		rc = audit_check_entry(v, b->idx[i], b->hasleaf[i] ?
		    b->stored[i] : NULL, b->hash[i]);
		if (rc == 0 && (f = b->fact[i]) != NULL) {
			if (f->problem[0] != '\0')
				rc = audit_problem(v, b->idx[i], "entry",
				    "entry %llu: %s", (unsigned long long)b->idx[i],
				    f->problem);
			else if ((rc = audit_state_apply(v->fund, b->idx[i], f,
			    v->detail, sizeof(v->detail))) == 1)
				rc = audit_problem(v, b->idx[i], "fund state",
				    "entry %llu: %s", (unsigned long long)b->idx[i],
				    v->detail);
			v->nsigs += (uint64_t)f->signed_checked;
		}
		if (rc == 0)
			rc = audit_check_cps(v, b, &k);
	}
	if (rc == 0)
		rc = audit_check_cps(v, b, &k);
	audit_batch_clear(b);
	audit_progress(v, 0);
	return rc;
}

/* ---- workers -------------------------------------------------------------- */

static void
audit_work(struct audit_verify *v, struct audit_batch *b)
{
	struct note_checkpoint	 c;
	struct audit_cpn	*cp;
	size_t			 i;

	for (i = 0; i < b->n; i++) {
		merkle_leaf_hash(b->data + b->off[i], b->off[i + 1] - b->off[i],
		    b->hash[i]);
		if (audit_fact_read(b->data + b->off[i], b->off[i + 1] -
		    b->off[i], v->o->keys, v->o->nkeys, &b->fact[i]) == -1)
			b->failed = 1;
	}
	for (i = 0; i < b->ncps; i++) {
		cp = &b->cps[i];
		if (note_checkpoint_open(cp->note, cp->len, &v->o->verifier, 1,
		    &c) == -1)
			cp->bad = 1;
		else if (c.size != cp->size)
			cp->bad = 2;
		else
			memcpy(cp->root, c.root, MERKLE_HASH_LEN);
	}
}

static void *
audit_worker(void *arg)
{
	struct audit_verify	*v = arg;
	struct audit_batch	*b;
	size_t			 i;

	pthread_mutex_lock(&v->mu);
	for (;;) {
		for (b = NULL, i = 0; i < v->nb && b == NULL; i++)
			if (v->b[i].state == AB_SUBMITTED)
				b = &v->b[i];
		if (b == NULL) {
			if (v->stop)
				break;
			pthread_cond_wait(&v->cv, &v->mu);
			continue;
		}
		b->state = AB_CLAIMED;
		pthread_mutex_unlock(&v->mu);
		audit_work(v, b);
		pthread_mutex_lock(&v->mu);
		b->state = AB_DONE;
		pthread_cond_broadcast(&v->cv);
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

/* Waits for the oldest batch, checks it (or, after a problem, only
 * clears it) and frees its slot. */
static int
audit_pipe_drain(struct audit_verify *v, int check)
{
	struct audit_batch	*b = &v->b[v->head];

	pthread_mutex_lock(&v->mu);
	while (b->state != AB_DONE)
		pthread_cond_wait(&v->cv, &v->mu);
	pthread_mutex_unlock(&v->mu);
	v->head = (v->head + 1) % v->nb;
	v->nout--;
	b->state = AB_FREE;
	if (check)
		return audit_check_batch(v, b);
	audit_batch_clear(b);
	return 0;
}

static int
audit_pipe_submit(struct audit_verify *v)
{
	pthread_mutex_lock(&v->mu);
	v->b[v->cur].state = AB_SUBMITTED;
	pthread_cond_broadcast(&v->cv);
	pthread_mutex_unlock(&v->mu);
	v->cur = (v->cur + 1) % v->nb;
	if (++v->nout < v->nb)
		return 0;
	return audit_pipe_drain(v, 1);
}

static int
audit_pipe_row(void *arg, uint64_t index, const uint8_t *leaf,
    const void *data, size_t len)
{
	struct audit_verify	*v = arg;
	struct audit_batch	*b = &v->b[v->cur];
	uint8_t			*nd;
	size_t			 cap;

	if (b->used + len > b->cap) {
		cap = (b->used + len) * 2;
		if ((nd = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = nd;
		b->cap = cap;
	}
	b->idx[b->n] = index;
	b->hasleaf[b->n] = leaf != NULL;
	if (leaf != NULL)
		memcpy(b->stored[b->n], leaf, MERKLE_HASH_LEN);
	if (len > 0)
		memcpy(b->data + b->used, data, len);
	b->off[b->n] = b->used;
	b->used += len;
	b->off[++b->n] = b->used;
	if (index < UINT64_MAX && audit_cp_attach(v, b, index + 1) == -1)
		return -1;
	/* Big entries fill a batch sooner: memory follows the entries' size,
	 * not the log's length. */
	if (b->n < AUDIT_BATCH && b->used < AUDIT_BATCH_BYTES)
		return 0;
	return audit_pipe_submit(v);
}

static int
audit_verify_entries(struct store *st, struct audit_verify *v)
{
	long	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t	i;
	int	rc;

	v->nth = ncpu < 1 ? 1 : ncpu > AUDIT_MAX_WORKERS ? AUDIT_MAX_WORKERS :
	    (size_t)ncpu;
	v->nb = v->nth + 2;
	if ((v->b = calloc(v->nb, sizeof(*v->b))) == NULL)
		return -1;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	for (i = 0; i < v->nth; i++)
		if (pthread_create(&v->th[i], NULL, audit_worker, v) != 0)
			break;
	v->nth = i;
	rc = v->nth == 0 ? -1 : store_each_entry(st, audit_pipe_row, v);
	if (rc == 0 && v->b[v->cur].n > 0)
		rc = audit_pipe_submit(v);
	while (v->nout > 0) {
		int r = audit_pipe_drain(v, rc == 0);

		if (rc == 0)
			rc = r;
	}
	pthread_mutex_lock(&v->mu);
	v->stop = 1;
	pthread_cond_broadcast(&v->cv);
	pthread_mutex_unlock(&v->mu);
	for (i = 0; i < v->nth; i++)
		pthread_join(v->th[i], NULL);
	for (i = 0; i < v->nb; i++) {
		audit_batch_clear(&v->b[i]);	/* what a stop left unsent */
		free(v->b[i].data);
		free(v->b[i].cps);
	}
	free(v->b);
	pthread_cond_destroy(&v->cv);
	pthread_mutex_destroy(&v->mu);
	return rc;
}

/* ---- the rest ------------------------------------------------------------- */

/* The checkpoint file is read before the database snapshot is taken: the
 * keeper writes it only after committing what it covers, so the snapshot
 * always holds at least that much even while the keeper appends. */
static int
audit_verify_file(struct audit_verify *v, const char *text, size_t len,
    int read_errno, struct store *st)
{
	struct audit_opts	*o = v->o;
	struct note_checkpoint	 c;
	uint8_t			 root[MERKLE_HASH_LEN];

	if (o->cpfile[0] == '\0')
		return 0;
	if (text == NULL) {
		if (read_errno == ENOENT && v->f.size == 0)
			return 0;
		return audit_problem(v, v->f.size, "checkpoint file",
		    "checkpoint file %s: cannot read it", o->cpfile);
	}
	if (note_checkpoint_open(text, len, &o->verifier, 1, &c) == -1 ||
	    c.size > v->f.size || store_root(st, c.size, root) == -1 ||
	    memcmp(root, c.root, MERKLE_HASH_LEN) != 0)
		return audit_problem(v, v->f.size, "checkpoint file",
		    "checkpoint file %s: not a checkpoint of this log (the "
		    "database was rolled back, truncated or swapped)", o->cpfile);
	v->nsigs++;
	return 0;
}

/* After the entries: nothing stored beyond them, no checkpoint past them,
 * and the fund's tables as the entries say. */
static int
audit_verify_rest(struct audit_verify *v)
{
	uint64_t	pos, at = 0;
	uint8_t		h[MERKLE_HASH_LEN];
	unsigned	l;
	int		rc;

	for (l = 1; l < MERKLE_MAX_LEVELS; l++)
		if ((rc = store_nodes_next(v->nodes, l, &pos, h)) != 0)
			return rc == -1 ? -1 : audit_problem(v, v->f.size,
			    "extra tree node", "tree node at level %u position "
			    "%llu has no entries under it", l,
			    (unsigned long long)pos);
	if (v->cpnext.note != NULL)
		return audit_problem(v, v->f.size, "truncated log", "checkpoint "
		    "at size %llu: beyond the %llu entries in the log (entries "
		    "were removed)", (unsigned long long)v->cpnext.size,
		    (unsigned long long)v->f.size);
	if ((rc = audit_state_compare(v->fund, &at, v->detail,
	    sizeof(v->detail))) == 1)
		return audit_problem(v, at, "fund state", "the fund's tables "
		    "differ from the log: %s", v->detail);
	return rc;
}

static void
audit_report(const struct audit_opts *o, const struct audit_result *r,
    int rc)
{
	json_t		*j;
	char		*s;
	double		 rate = (double)r->entries * 1000.0 /
			    (double)(r->ms ? r->ms : 1);

	if (o->json) {
		j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:f}", "result",
		    rc == 0 ? "ok" : rc == 1 ? "bad" : "error",
		    "entries", (json_int_t)r->entries, "checkpoints",
		    (json_int_t)r->checkpoints, "signatures",
		    (json_int_t)r->signatures, "ms", (json_int_t)r->ms,
		    "entries_per_s", rate);
		if (j != NULL)
			json_object_set_new(j, "first_problem", rc == 0 ?
			    json_null() : json_pack("{s:s, s:I, s:s}", "what",
			    rc == 1 ? r->what : "cannot read the log", "index",
			    (json_int_t)r->index, "detail", rc == 1 ? r->why :
			    "the database could not be read to the end"));
		if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL) {
			json_decref(j);
			printf("{\"result\":\"error\"}\n");
			return;
		}
		printf("%s\n", s);
		free(s);
		json_decref(j);
		return;
	}
	if (rc == 0)
		printf("audit log OK: %llu entries, %llu checkpoints verified, "
		    "%llu ms (%.0f entries/s), %llu signatures checked\n",
		    (unsigned long long)r->entries,
		    (unsigned long long)r->checkpoints,
		    (unsigned long long)r->ms, rate,
		    (unsigned long long)r->signatures);
	else if (rc == 1)
		printf("audit log BAD: %s; first bad index %llu: %s\n", r->what,
		    (unsigned long long)r->index, r->why);
	else
		printf("audit log BAD: cannot read it\n");
}

int
audit_verify_run(struct audit_opts *o, struct audit_result *r)
{
	struct store		*st;
	struct audit_verify	*v;
	char			*cptext = NULL;
	size_t			 cplen = 0;
	int			 cperrno = 0;
	uint64_t		 t0 = now_ms();
	int			 rc = 0;

	memset(r, 0, sizeof(*r));
	if (o->cpfile[0] != '\0') {
		cptext = audit_read_file(o->cpfile, &cplen);
		cperrno = errno;
	}
	if (store_open(o->dbpath, 1, &st) == -1) {
		fprintf(stderr, "audit verify: cannot open %s\n", o->dbpath);
		free(cptext);
		return -1;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		store_close(st);
		free(cptext);
		return -1;
	}
	v->o = o;
	v->total = store_size(st);
	v->progress = isatty(STDERR_FILENO);
	merkle_frontier_init(&v->f);
	if (store_nodes_open(st, &v->nodes) == -1 ||
	    audit_state_open(store_db(st), &v->fund) == -1 ||
	    sqlite3_prepare_v2(store_db(st), "SELECT size, note FROM checkpoints "
	    "ORDER BY size", -1, &v->cpcur, NULL) != SQLITE_OK ||
	    audit_cp_fetch(v) == -1)
		rc = -1;
	if (rc == 0)
		rc = audit_verify_entries(st, v);
	if (rc == 0)
		rc = audit_verify_rest(v);
	if (rc == 0)
		rc = audit_verify_file(v, cptext, cplen, cperrno, st);
	audit_progress(v, 1);
	r->entries = v->f.size;
	r->checkpoints = v->ncps;
	r->signatures = v->nsigs;
	r->ms = now_ms() - t0;
	if (v->bad != NULL) {
		rc = 1;
		r->what = v->bad;
		r->index = v->bad_index;
		memcpy(r->why, v->why, sizeof(r->why));
	} else if (rc != 0)
		rc = -1;
	free(v->cpnext.note);
	sqlite3_finalize(v->cpcur);
	audit_state_close(v->fund);
	store_nodes_close(v->nodes);
	store_close(st);
	free(cptext);
	free(v);
	return rc;
}

int
audit_verify(struct audit_opts *o)
{
	struct audit_result	r;
	int			rc;

	if (!o->has_verifier) {
		fprintf(stderr, "audit verify: need the log key (-c or --vkey)\n");
		return CTL_EXIT_USAGE;
	}
	rc = audit_verify_run(o, &r);
	audit_report(o, &r, rc);
	return rc == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}
