/* POST /add-checkpoint (C2SP tlog-witness): parse, check the log's signature
 * and the client's pin, check consistency with the stored state, store, and
 * only then cosign. A witness never cosigns two roots for one size. */
#include <string.h>

#include "log.h"
#include "util.h"
#include "relay/identity.h"
#include "witness/witness.h"

#define WITNESS_CTYPE_TEXT	"text/plain; charset=utf-8"

static void
witness_add_refuse(struct witness_reply *r, int status, const char *code)
{
	r->status = status;
	r->code = code;
	r->ctype = WITNESS_CTYPE_TEXT;
	/* cannot truncate: codes are short */
	(void)str_printf(r->body, sizeof(r->body), "%s\n", code);
	r->len = strlen(r->body);
}

/* The parsed request: old size, proof, and the note that follows. */
struct witness_req {
	uint64_t	 old;
	uint8_t		 proof[WITNESS_MAX_PROOF][MERKLE_HASH_LEN];
	size_t		 nproof;
	const char	*note;
	size_t		 notelen;
};

/* The body's head: "old N", the proof lines, a blank line. 0 or -1. */
static int
witness_add_parse(const char *body, size_t len, struct witness_req *q)
{
	const char	*line = body, *nl, *end = body + len;
	char		 num[24];
	size_t		 n, hl;

	memset(q, 0, sizeof(*q));
	if ((nl = memchr(line, '\n', len)) == NULL)
		return -1;
	n = (size_t)(nl - line);
	/* canonical decimal: no sign, no leading zero */
	if (n < 5 || n - 4 >= sizeof(num) || memcmp(line, "old ", 4) != 0 ||
	    (line[4] == '0' && n > 5))
		return -1;
	memcpy(num, line + 4, n - 4);
	num[n - 4] = '\0';
	if (parse_u64(num, 0, INT64_MAX, &q->old) == -1)
		return -1;
	for (line = nl + 1; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			return -1;
		if (nl == line) {
			q->note = nl + 1;
			q->notelen = (size_t)(end - q->note);
			return q->notelen > 0 ? 0 : -1;
		}
		if (q->nproof == WITNESS_MAX_PROOF ||
		    note_b64_decode(line, (size_t)(nl - line), q->proof[q->nproof],
		    MERKLE_HASH_LEN, &hl) == -1 || hl != MERKLE_HASH_LEN)
			return -1;
		q->nproof++;
	}
	return -1;
}

/* Checks the checkpoint against the stored state st (unused when q->old is
 * 0): NULL if it extends it, or why not (a 422). */
static const char *
witness_add_consistent(const struct witness_req *q,
    const struct note_checkpoint *cp, const struct witness_latest *st)
{
	uint8_t	empty[MERKLE_HASH_LEN];

	merkle_empty_root(empty);
	if (cp->size == 0 && memcmp(cp->root, empty, MERKLE_HASH_LEN) != 0)
		return "empty-tree-root";
	if (q->old == 0)
		return q->nproof == 0 ? NULL : "proof-not-empty";
	if (q->old == cp->size)
		return q->nproof == 0 && memcmp(st->root, cp->root,
		    MERKLE_HASH_LEN) == 0 ? NULL : "root-conflict";
	if (merkle_verify_consistency(q->old, cp->size, st->root, cp->root,
	    q->proof[0], q->nproof) == -1)
		return "bad-consistency-proof";
	return NULL;
}

/* Signs, stores with the cosignature, commits: the caller's transaction is
 * open; on failure it is rolled back. */
static int
witness_add_commit(struct witness *w, const struct note_checkpoint *cp,
    const struct witness_req *q, size_t textlen, uint64_t now, int new_size,
    struct witness_reply *r)
{
	struct witness_latest	l;
	char			note[NOTE_MAX_LEN + NOTE_SIGLINE_MAX];
	size_t			sl;

	if (cosig_sign(&w->key, now, q->note, textlen, r->body,
	    sizeof(r->body)) == -1)
		return -1;
	sl = strlen(r->body);
	if (q->notelen + sl > sizeof(note)) {
		log_warnx("%s: checkpoint too large to keep", __func__);
		return -1;
	}
	memcpy(note, q->note, q->notelen);
	memcpy(note + q->notelen, r->body, sl);
	l.size = cp->size;
	memcpy(l.root, cp->root, MERKLE_HASH_LEN);
	l.time = now;
	if (witness_db_store(&w->db, cp->origin, &l, note, q->notelen + sl,
	    new_size) == -1 || witness_db_commit(&w->db) == -1)
		return -1;
	r->status = 200;
	r->code = NULL;
	r->ctype = WITNESS_CTYPE_TEXT;
	r->len = sl;
	return 0;
}

void
witness_add_checkpoint(struct witness *w, const unsigned char spki[32],
    const char *body, size_t len, uint64_t now, struct witness_reply *r)
{
	struct witness_req		 q;
	const struct witness_log	*lg;
	struct note_checkpoint		 cp;
	struct witness_latest		 st;
	const char			*nl, *why;
	size_t				 textlen;
	int				 have;

	memset(r, 0, sizeof(*r));
	if (witness_add_parse(body, len, &q) == -1) {
		witness_add_refuse(r, 400, "bad-request-body");
		return;
	}
	if ((nl = memchr(q.note, '\n', q.notelen)) == NULL ||
	    (lg = witness_config_log(w->cf, q.note, (size_t)(nl - q.note))) == NULL) {
		witness_add_refuse(r, 404, "unknown-log");
		return;
	}
	if (!identity_pinned((const unsigned char (*)[32])lg->pins, lg->npins,
	    spki)) {
		log_warnx("add-checkpoint for %s from a client not pinned for it",
		    lg->origin);
		witness_add_refuse(r, 403, "client-not-pinned");
		return;
	}
	if (note_verify(q.note, q.notelen, &lg->vkey, 1, &textlen) == -1) {
		witness_add_refuse(r, 403, "bad-log-signature");
		return;
	}
	/* Sizes are stored as SQLite integers: at most 2^63 - 1. */
	if (note_checkpoint_parse(q.note, textlen, &cp) == -1 ||
	    cp.size > INT64_MAX) {
		witness_add_refuse(r, 400, "bad-checkpoint");
		return;
	}
	if (q.old > cp.size) {
		witness_add_refuse(r, 400, "old-size-above-checkpoint");
		return;
	}
	/* Check and store in one transaction: no other request can move the
	 * state in between (the spec's rollback race). */
	if (witness_db_begin(&w->db) == -1 ||
	    (have = witness_db_latest(&w->db, cp.origin, &st)) == -1)
		goto fail;
	if (q.old != (have ? st.size : 0)) {
		witness_db_rollback(&w->db);
		r->status = 409;
		r->code = "old-size-mismatch";
		r->ctype = "text/x.tlog.size";
		(void)str_printf(r->body, sizeof(r->body), "%ju\n",
		    (uintmax_t)(have ? st.size : 0));
		r->len = strlen(r->body);
		return;
	}
	if ((why = witness_add_consistent(&q, &cp, &st)) != NULL) {
		/* Signed by the log, yet not an extension of what we cosigned:
		 * evidence of a fork (or a broken log), kept and logged. */
		log_warnx("refused checkpoint of %s at size %ju (stored %ju): %s",
		    cp.origin, (uintmax_t)cp.size, (uintmax_t)q.old, why);
		if (q.old > 0 && witness_db_evidence(&w->db, cp.origin, cp.size,
		    q.note, q.notelen, now, why) == -1)
			goto fail;
		if (witness_db_commit(&w->db) == -1)
			goto fail;
		witness_add_refuse(r, 422, why);
		return;
	}
	if (witness_add_commit(w, &cp, &q, textlen, now,
	    !have || cp.size != st.size, r) == -1)
		goto fail;
	log_info("cosigned %s at size %ju", cp.origin, (uintmax_t)cp.size);
	return;
fail:
	witness_db_rollback(&w->db);
	memset(r, 0, sizeof(*r));
	witness_add_refuse(r, 500, "state-unavailable");
}
