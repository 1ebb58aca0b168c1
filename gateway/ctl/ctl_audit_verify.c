/* gatewayctl audit verify: the whole log re-checked offline and read-only:
 * every entry re-hashed, the tree rebuilt against the stored subtree hashes,
 * every checkpoint's signature and root, and the checkpoint file. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/ctl_audit.h"
#include "keeper/merkle.h"
#include "keeper/note.h"
#include "keeper/store.h"
#include "util.h"

#define AUDIT_MAX_CPS		65536

struct audit_cp {
	uint64_t	size;
	uint8_t		root[MERKLE_HASH_LEN];
	int		checked;
};

struct audit_verify {
	struct audit_opts	*o;
	struct merkle_frontier	 f;
	struct store_nodes	*nodes;
	struct audit_cp		*cps;
	size_t			 ncps, next_cp;
	uint64_t		 bad_index;
	const char		*bad;
};

static int
audit_verify_cp(void *arg, uint64_t size, const char *note, size_t len)
{
	struct audit_verify	*v = arg;
	struct note_checkpoint	 c;

	if (v->ncps == AUDIT_MAX_CPS)
		return 0;
	if (!v->o->has_verifier ||
	    note_checkpoint_open(note, len, &v->o->verifier, 1, &c) == -1) {
		fprintf(stderr, "checkpoint at size %llu: signature does not "
		    "verify with the log key\n", (unsigned long long)size);
		v->bad = "checkpoint signature";
		return 1;
	}
	if (c.size != size) {
		fprintf(stderr, "checkpoint at size %llu: the note says size "
		    "%llu\n", (unsigned long long)size,
		    (unsigned long long)c.size);
		v->bad = "checkpoint size";
		return 1;
	}
	v->cps[v->ncps].size = size;
	memcpy(v->cps[v->ncps].root, c.root, MERKLE_HASH_LEN);
	v->ncps++;
	return 0;
}

/* Compares the roots of checkpoints that end at the current size. */
static int
audit_verify_roots(struct audit_verify *v)
{
	uint8_t	root[MERKLE_HASH_LEN];

	while (v->next_cp < v->ncps && v->cps[v->next_cp].size == v->f.size) {
		merkle_frontier_root(&v->f, root);
		if (memcmp(root, v->cps[v->next_cp].root, MERKLE_HASH_LEN) != 0) {
			fprintf(stderr, "checkpoint at size %llu: its root does not "
			    "match the entries\n",
			    (unsigned long long)v->f.size);
			v->bad = "checkpoint root";
			v->bad_index = v->f.size - 1;
			return 1;
		}
		v->cps[v->next_cp++].checked = 1;
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

	if (index != v->f.size) {
		fprintf(stderr, "entry %llu is missing (next stored index is "
		    "%llu)\n", (unsigned long long)v->f.size,
		    (unsigned long long)index);
		v->bad = "missing entry";
		v->bad_index = v->f.size;
		return 1;
	}
	if (leaf == NULL || memcmp(h, leaf, MERKLE_HASH_LEN) != 0) {
		fprintf(stderr, "entry %llu: its content does not match its "
		    "stored leaf hash\n", (unsigned long long)index);
		v->bad = "entry content";
		v->bad_index = index;
		return 1;
	}
	if (merkle_frontier_append(&v->f, h, done, &n) == -1)
		return 1;
	/* Every subtree this leaf completed must be stored as computed. */
	for (l = 1; l < n; l++) {
		at = v->f.size - (UINT64_C(1) << l);
		if (store_nodes_next(v->nodes, (unsigned)l, &pos, stored) != 1 ||
		    pos != at >> l ||
		    memcmp(stored, done + l * MERKLE_HASH_LEN,
		    MERKLE_HASH_LEN) != 0) {
			fprintf(stderr, "entry %llu: the stored tree node at level "
			    "%zu is missing or wrong\n",
			    (unsigned long long)index, l);
			v->bad = "tree node";
			v->bad_index = index;
			return 1;
		}
	}
	return audit_verify_roots(v);
}

/* Pipelined scan: the main thread reads rows from SQLite and checks them in
 * order (stored leaf, tree nodes, checkpoint roots); a second thread computes
 * the leaf hashes of the next batch meanwhile. SHA-256 over the entries and
 * SQLite's row reads cost about the same, so two cores halve the time. */
#define AUDIT_BATCH	4096

struct audit_batch {
	size_t		 n, used, cap;
	uint64_t	 idx[AUDIT_BATCH];
	uint8_t		 stored[AUDIT_BATCH][MERKLE_HASH_LEN];
	uint8_t		 hash[AUDIT_BATCH][MERKLE_HASH_LEN];
	char		 hasleaf[AUDIT_BATCH];
	size_t		 off[AUDIT_BATCH + 1];
	uint8_t		*data;
	int		 state;		/* 0 free, 1 submitted, 2 hashed */
};

struct audit_pipe {
	struct audit_verify	*v;
	struct audit_batch	 b[2];
	int			 cur;
	pthread_t		 th;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 stop, failed;
};

static void *
audit_hasher(void *arg)
{
	struct audit_pipe	*p = arg;
	struct audit_batch	*b;
	size_t			 i;
	int			 k = 0;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->b[k].state != 1 && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->b[k].state != 1) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		pthread_mutex_unlock(&p->mu);
		b = &p->b[k];
		for (i = 0; i < b->n; i++)
			merkle_leaf_hash(b->data + b->off[i], b->off[i + 1] -
			    b->off[i], b->hash[i]);
		pthread_mutex_lock(&p->mu);
		b->state = 2;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		k ^= 1;
	}
}

/* Waits for batch k to be hashed, then checks it in order. */
static int
audit_pipe_check(struct audit_pipe *p, int k)
{
	struct audit_batch	*b = &p->b[k];
	size_t			 i;
	int			 rc = 0;

	pthread_mutex_lock(&p->mu);
	while (b->state == 1)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	if (b->state != 2)
		return 0;
	for (i = 0; i < b->n && rc == 0; i++)
		rc = audit_check_entry(p->v, b->idx[i],
		    b->hasleaf[i] ? b->stored[i] : NULL, b->hash[i]);
	b->n = b->used = 0;
	b->state = 0;
	return rc;
}

static void
audit_pipe_submit(struct audit_pipe *p, int k)
{
	pthread_mutex_lock(&p->mu);
	p->b[k].state = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static int
audit_pipe_row(void *arg, uint64_t index, const uint8_t *leaf,
    const void *data, size_t len)
{
	struct audit_pipe	*p = arg;
	struct audit_batch	*b = &p->b[p->cur];
	uint8_t			*nd;

	if (b->used + len > b->cap) {
		size_t n = (b->used + len) * 2;

		if ((nd = realloc(b->data, n)) == NULL)
			return 1;
		b->data = nd;
		b->cap = n;
	}
	b->idx[b->n] = index;
	b->hasleaf[b->n] = leaf != NULL;
	if (leaf != NULL)
		memcpy(b->stored[b->n], leaf, MERKLE_HASH_LEN);
	memcpy(b->data + b->used, data, len);
	b->off[b->n] = b->used;
	b->used += len;
	b->off[++b->n] = b->used;
	if (b->n < AUDIT_BATCH)
		return 0;
	audit_pipe_submit(p, p->cur);
	p->cur ^= 1;
	/* The other batch was submitted before this one: check it now. */
	return audit_pipe_check(p, p->cur);
}

static int
audit_verify_entries(struct store *st, struct audit_verify *v)
{
	struct audit_pipe	*p;
	int			 rc;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	p->v = v;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->th, NULL, audit_hasher, p) != 0) {
		free(p);
		return -1;
	}
	rc = store_each_entry(st, audit_pipe_row, p);
	if (rc == 0 && p->b[p->cur].n > 0) {
		audit_pipe_submit(p, p->cur);
		p->cur ^= 1;
		rc = audit_pipe_check(p, p->cur);
		if (rc == 0)
			rc = audit_pipe_check(p, p->cur ^ 1);
	} else if (rc == 0)
		rc = audit_pipe_check(p, p->cur ^ 1);
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	free(p->b[0].data);
	free(p->b[1].data);
	free(p);
	return rc;
}

/* The checkpoint file is read before the database snapshot is taken: the
 * keeper writes it only after committing what it covers, so the snapshot
 * always holds at least that much even while the keeper appends. */
static int
audit_verify_file(struct audit_opts *o, const char *text, size_t len,
    int read_errno, uint64_t size, struct store *st)
{
	struct note_checkpoint	 c;
	uint8_t			 root[MERKLE_HASH_LEN];

	if (o->cpfile[0] == '\0')
		return 0;
	if (text == NULL) {
		if (read_errno == ENOENT && size == 0)
			return 0;
		fprintf(stderr, "checkpoint file %s: cannot read it\n", o->cpfile);
		return -1;
	}
	if (note_checkpoint_open(text, len, &o->verifier, 1, &c) == -1 ||
	    c.size > size || store_root(st, c.size, root) == -1 ||
	    memcmp(root, c.root, MERKLE_HASH_LEN) != 0) {
		fprintf(stderr, "checkpoint file %s: not a checkpoint of this "
		    "log (the database was rolled back, truncated or swapped)\n",
		    o->cpfile);
		return -1;
	}
	return 0;
}

int
audit_verify(struct audit_opts *o)
{
	struct store		*st;
	struct audit_verify	 v;
	char			*cptext = NULL;
	size_t			 cplen = 0;
	int			 cperrno = 0;
	uint64_t		 pos, t0 = now_ms(), ms;
	uint8_t			 h[MERKLE_HASH_LEN];
	unsigned		 l;
	int			 rc = 0;

	if (!o->has_verifier) {
		fprintf(stderr, "audit verify: need the log key (-c or --vkey)\n");
		return CTL_EXIT_USAGE;
	}
	if (o->cpfile[0] != '\0') {
		cptext = audit_read_file(o->cpfile, &cplen);
		cperrno = errno;
	}
	if (store_open(o->dbpath, 1, &st) == -1) {
		fprintf(stderr, "audit verify: cannot open %s\n", o->dbpath);
		free(cptext);
		return CTL_EXIT_FAIL;
	}
	memset(&v, 0, sizeof(v));
	v.o = o;
	merkle_frontier_init(&v.f);
	if ((v.cps = calloc(AUDIT_MAX_CPS, sizeof(*v.cps))) == NULL ||
	    store_nodes_open(st, &v.nodes) == -1)
		rc = -1;
	if (rc == 0 && store_each_checkpoint(st, audit_verify_cp, &v) != 0)
		rc = -1;
	if (rc == 0 && audit_verify_entries(st, &v) != 0)
		rc = -1;
	/* Nothing may be stored beyond what the entries account for. */
	for (l = 1; rc == 0 && l < MERKLE_MAX_LEVELS; l++)
		if (store_nodes_next(v.nodes, l, &pos, h) != 0) {
			fprintf(stderr, "tree node at level %u position %llu has no "
			    "entries under it\n", l, (unsigned long long)pos);
			v.bad = "extra tree node";
			rc = -1;
		}
	if (rc == 0 && v.next_cp != v.ncps) {
		fprintf(stderr, "checkpoint at size %llu: beyond the %llu entries "
		    "in the log (entries were removed)\n",
		    (unsigned long long)v.cps[v.next_cp].size,
		    (unsigned long long)v.f.size);
		v.bad = "truncated log";
		v.bad_index = v.f.size;
		rc = -1;
	}
	if (rc == 0 && audit_verify_file(o, cptext, cplen, cperrno, v.f.size,
	    st) == -1) {
		v.bad = "checkpoint file";
		rc = -1;
	}
	ms = now_ms() - t0;
	store_nodes_close(v.nodes);
	store_close(st);
	free(v.cps);
	free(cptext);
	if (rc != 0) {
		if (v.bad != NULL)
			printf("audit log BAD: %s; first bad index %llu\n", v.bad,
			    (unsigned long long)v.bad_index);
		else
			printf("audit log BAD: cannot read it\n");
		return CTL_EXIT_FAIL;
	}
	printf("audit log OK: %llu entries, %zu checkpoints verified, "
	    "%llu ms (%.0f entries/s)\n", (unsigned long long)v.f.size, v.ncps,
	    (unsigned long long)ms, ms ? (double)v.f.size * 1000.0 / (double)ms :
	    (double)v.f.size * 1000.0);
	return CTL_EXIT_OK;
}

