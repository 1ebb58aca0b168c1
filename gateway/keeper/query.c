/* Audit queries, answered from the store alone: every proof is made from
 * stored complete-subtree hashes in O(log n) reads. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ipc.h"
#include "keeper/cosigs.h"
#include "keeper/merkle.h"
#include "keeper/note.h"
#include "keeper/query.h"
#include "keeper/store.h"
#include "log.h"
#include "util.h"

/* A proof answer: a few fields and at most MERKLE_MAX_PROOF hashes of 44
 * base64 characters, quoted and separated. */
#define QUERY_PROOF_BODY	(256 + MERKLE_MAX_PROOF * 48)

static void
query_error(struct ipc_audit_reply *r, char **body, size_t *blen, int status,
    const char *code, const char *detail)
{
	char	buf[512];

	r->status = status;
	str_copy(r->ctype, sizeof(r->ctype), "application/json");
	str_copy(r->code, sizeof(r->code), code);
	/* code and detail are this file's own constants: they fit. */
	if (str_printf(buf, sizeof(buf), "{\"error\":\"%s\",\"code\":\"%s\"}\n",
	    detail, code) == -1)
		str_copy(buf, sizeof(buf), "{\"error\":\"internal\"}\n");
	*body = strdup(buf);
	*blen = *body ? strlen(*body) : 0;
}

static void
query_b64(char *dst, const uint8_t h[MERKLE_HASH_LEN])
{
	EVP_EncodeBlock((unsigned char *)dst, h, MERKLE_HASH_LEN);
}

/* Appends "h1","h2",... as a JSON array body part. 0, or -1 when out
 * did not hold it (the answer must then be an error, never cut). */
static int
query_hashes(char *out, size_t outsz, const uint8_t (*p)[MERKLE_HASH_LEN],
    size_t n)
{
	char	b[48], item[56];
	size_t	i;
	int	rc;

	rc = str_append(out, outsz, "[");
	for (i = 0; i < n && rc == 0; i++) {
		query_b64(b, p[i]);
		if ((rc = str_printf(item, sizeof(item), "%s\"%s\"", i ? "," : "",
		    b)) == 0)
			rc = str_append(out, outsz, item);
	}
	return rc == 0 ? str_append(out, outsz, "]") : -1;
}

static void
query_ok(struct ipc_audit_reply *r, const char *ctype, char *buf,
    char **body, size_t *blen)
{
	r->status = 200;
	str_copy(r->ctype, sizeof(r->ctype), ctype);
	*body = buf;
	*blen = strlen(buf);
}

/* A body that did not fit where it was built: a bug, answered as one. */
static void
query_cut(struct ipc_audit_reply *r, char *buf, char **body, size_t *blen)
{
	log_warnx("query: an answer did not fit its buffer");
	free(buf);
	query_error(r, body, blen, 500, "answer-too-large",
	    "the answer did not fit");
}

/* The newest checkpoint's size, or 0 when there is none yet. */
static uint64_t
query_cp_size(struct store *st, char **note, size_t *len)
{
	uint64_t	size = 0;

	*note = NULL;
	if (store_checkpoint_latest(st, note, len, &size) != 0)
		return 0;
	return size;
}

/* The newest checkpoint (or the newest cosigned one) with the witnesses'
 * cosignatures after its own signature. */
static void
query_checkpoint(struct store *st, int cosigned, struct ipc_audit_reply *r,
    char **body, size_t *blen)
{
	char		*note = NULL, *full;
	size_t		 len, flen;
	uint64_t	 size = 0;
	int		 rc;

	if (cosigned) {
		if ((rc = cosigs_latest(store_db(st), &size)) == 0)
			rc = size == 0 ? 1 : store_checkpoint_at(st, size, &note,
			    &len);
	} else
		rc = store_checkpoint_latest(st, &note, &len, &size);
	if (rc == 1) {
		query_error(r, body, blen, 404, "no-checkpoint", cosigned ?
		    "no checkpoint has the witnesses' quorum yet" :
		    "no checkpoint has been issued yet");
		return;
	}
	if (rc == -1 || cosigs_note(store_db(st), size, note, len, &full,
	    &flen) == -1) {
		free(note);
		query_error(r, body, blen, 500, "internal",
		    "cannot read the checkpoint");
		return;
	}
	free(note);
	query_ok(r, "text/plain; charset=utf-8", full, body, blen);
}

static void
query_inclusion(struct store *st, uint64_t index, uint64_t size,
    struct ipc_audit_reply *r, char **body, size_t *blen)
{
	uint8_t		 proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	uint8_t		 leaf[MERKLE_HASH_LEN];
	char		 lb[48], *buf;
	size_t		 n;

	if (size == 0 || size > store_size(st) || index >= size) {
		query_error(r, body, blen, 404, "out-of-range",
		    "index must be below size, and size at most the log's size");
		return;
	}
	if (store_subtree(st, index, 0, leaf) == -1 ||
	    merkle_inclusion_proof(store_subtree, st, index, size, proof[0],
	    MERKLE_MAX_PROOF, &n) == -1 ||
	    (buf = malloc(QUERY_PROOF_BODY)) == NULL) {
		query_error(r, body, blen, 500, "internal", "cannot make the proof");
		return;
	}
	query_b64(lb, leaf);
	if (str_printf(buf, QUERY_PROOF_BODY, "{\"index\":%llu,\"tree_size\":"
	    "%llu,\"leaf_hash\":\"%s\",\"hashes\":", (unsigned long long)index,
	    (unsigned long long)size, lb) == -1 ||
	    query_hashes(buf, QUERY_PROOF_BODY, proof, n) == -1 ||
	    str_append(buf, QUERY_PROOF_BODY, "}\n") == -1) {
		query_cut(r, buf, body, blen);
		return;
	}
	query_ok(r, "application/json", buf, body, blen);
}

static void
query_consistency(struct store *st, uint64_t m, uint64_t n2,
    struct ipc_audit_reply *r, char **body, size_t *blen)
{
	uint8_t		 proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t		 n;
	char		*buf;

	if (m == 0 || m > n2 || n2 > store_size(st)) {
		query_error(r, body, blen, 404, "out-of-range",
		    "need 0 < old <= new <= the log's size");
		return;
	}
	if (merkle_consistency_proof(store_subtree, st, m, n2, proof[0],
	    MERKLE_MAX_PROOF, &n) == -1 ||
	    (buf = malloc(QUERY_PROOF_BODY)) == NULL) {
		query_error(r, body, blen, 500, "internal", "cannot make the proof");
		return;
	}
	if (str_printf(buf, QUERY_PROOF_BODY, "{\"old_size\":%llu,\"new_size\":"
	    "%llu,\"hashes\":", (unsigned long long)m,
	    (unsigned long long)n2) == -1 ||
	    query_hashes(buf, QUERY_PROOF_BODY, proof, n) == -1 ||
	    str_append(buf, QUERY_PROOF_BODY, "}\n") == -1) {
		query_cut(r, buf, body, blen);
		return;
	}
	query_ok(r, "application/json", buf, body, blen);
}

/* c2sp.org/tlog-proof@v1: index, inclusion path, blank line, checkpoint.
 * The body is sized from its parts (the entry may be megabytes), so it is
 * whole or not sent at all. */
static void
query_bundle(struct store *st, uint64_t index, struct ipc_audit_reply *r,
    char **body, size_t *blen)
{
	uint8_t		 proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	char		*note, *buf = NULL, b[48], *entry = NULL, *b64;
	size_t		 nlen, n, i, elen, sz, off;
	uint64_t	 size = query_cp_size(st, &note, &nlen);
	int		 rc;

	if (index >= size) {
		free(note);
		query_error(r, body, blen, 404, "not-yet-checkpointed",
		    "no checkpoint covers this index yet");
		return;
	}
	if (merkle_inclusion_proof(store_subtree, st, index, size, proof[0],
	    MERKLE_MAX_PROOF, &n) == -1) {
		free(note);
		query_error(r, body, blen, 500, "internal", "cannot make the proof");
		return;
	}
	/* The entry itself rides as the extra data: the verifier hashes it,
	 * and the inclusion proof then vouches for every byte of it. */
	if (store_entry(st, index, &entry, &elen) == -1 || elen > INT_MAX / 2 ||
	    (b64 = malloc(4 * (elen / 3 + 1) + 1)) == NULL) {
		free(entry);
		free(note);
		query_error(r, body, blen, 500, "internal", "cannot read the entry");
		return;
	}
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)entry,
	    (int)elen);
	free(entry);
	sz = 64 + strlen(b64) + 32 + n * sizeof(b) + 1 + nlen + 1;
	if ((buf = malloc(sz)) == NULL) {
		free(b64);
		free(note);
		query_error(r, body, blen, 500, "internal", "out of memory");
		return;
	}
	/* Each part is written at the end of the last: no rescans of a
	 * megabyte-long line. */
	rc = str_printf(buf, sz, "c2sp.org/tlog-proof@v1\nextra %s\n"
	    "index %llu\n", b64, (unsigned long long)index);
	free(b64);
	off = rc == 0 ? strlen(buf) : 0;
	for (i = 0; i < n && rc == 0; i++) {
		query_b64(b, proof[i]);
		rc = str_printf(buf + off, sz - off, "%s\n", b);
		off += strlen(buf + off);
	}
	if (rc == 0)
		rc = str_printf(buf + off, sz - off, "\n%s", note);
	free(note);
	if (rc == -1) {
		query_cut(r, buf, body, blen);
		return;
	}
	query_ok(r, "text/plain; charset=utf-8", buf, body, blen);
}

/* Whether the asker may read entry index: 1, or 0 with r filled. An entry
 * the asker may not read is answered as one that does not exist. */
static int
query_may_read(struct store *st, const struct ipc_audit_query *q,
    query_party_fn *party, void *arg, struct ipc_audit_reply *r,
    char **body, size_t *blen)
{
	char	*entry = NULL;
	size_t	 elen;
	int	 rc;

	if (q->a >= store_size(st))
		return 1;	/* nothing there: the query says so itself */
	if (!ipc_str_ok(q->agency, sizeof(q->agency)) ||
	    store_entry(st, q->a, &entry, &elen) == -1)
		rc = -1;
	else
		rc = party(arg, q, entry, elen);
	free(entry);
	if (rc == 1)
		return 1;
	if (rc == 0)
		query_error(r, body, blen, 404, "no-entry",
		    "no entry at this index");
	else
		query_error(r, body, blen, 500, "internal",
		    "cannot tell who may read this entry");
	return 0;
}

void
query_too_large(struct ipc_audit_reply *r, char **body, size_t *blen)
{
	memset(r, 0, sizeof(*r));
	query_error(r, body, blen, 500, "answer-too-large",
	    "the answer is larger than the keeper may send");
}

void
query_answer(struct store *st, const struct ipc_audit_query *q,
    query_party_fn *party, void *arg, struct ipc_audit_reply *r, char **body,
    size_t *blen)
{
	char		*note;
	size_t		 len;
	uint64_t	 size;

	memset(r, 0, sizeof(*r));
	*body = NULL;
	*blen = 0;
	switch (q->what) {
	case AUDIT_CHECKPOINT:
		query_checkpoint(st, q->a == 1, r, body, blen);
		return;
	case AUDIT_INCLUSION:
		size = q->b;
		/* Against the newest cosigned checkpoint once one covers the
		 * entry: a proof an agency can check with the witnesses. */
		if (size == 0 && (cosigs_latest(store_db(st), &size) == -1 ||
		    size <= q->a)) {
			size = query_cp_size(st, &note, &len);
			free(note);
		}
		query_inclusion(st, q->a, size, r, body, blen);
		return;
	case AUDIT_CONSISTENCY:
		size = q->b ? q->b : store_size(st);
		query_consistency(st, q->a, size, r, body, blen);
		return;
	case AUDIT_ENTRY:
		if (!query_may_read(st, q, party, arg, r, body, blen))
			return;
		if (q->a >= store_size(st) || store_entry(st, q->a, body, blen) == -1) {
			query_error(r, body, blen, 404, "no-entry",
			    "no entry at this index");
			return;
		}
		r->status = 200;
		str_copy(r->ctype, sizeof(r->ctype), "application/json");
		return;
	case AUDIT_BUNDLE:
		if (!query_may_read(st, q, party, arg, r, body, blen))
			return;
		query_bundle(st, q->a, r, body, blen);
		return;
	default:
		query_error(r, body, blen, 400, "bad-query", "unknown query");
	}
}
