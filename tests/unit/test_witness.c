/* Unit tests for witnessd: cosignature/v1 byte for byte (the spec's example and
 * a vector made with an independent implementation), key ids, and the
 * add-checkpoint state machine over a real state file. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "log.h"
#include "util.h"
#include "keeper/merkle.h"
#include "keeper/note.h"
#include "witness/cosig.h"
#include "witness/witness.h"

#define EM_DASH		"\xe2\x80\x94"

/* tlog-cosignature.md's example checkpoint body and its witness line. */
static const char spec_body[] =
    "example.com/behind-the-sofa\n20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
static const char spec_b64[] =
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nP"
    "Zqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
/* The spec's example of the signed message. */
static const char spec_message[] =
    "cosignature/v1\ntime 1679315147\n"
    "example.com/behind-the-sofa\n20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

/* The public test seed of the shared signed-note vector "neumann", used as a
 * witness key named witness.example.com/w1. The key id, vkey and the
 * cosignature at the spec's time were computed with Python's hashlib and
 * cryptography (Ed25519 is deterministic), not with this code. */
static const char neumann_seed_b64[] =
    "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char vec_vkey[] =
    "witness.example.com/w1+d46a2b1b+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char vec_line[] =
    EM_DASH " witness.example.com/w1 1GorGwAAAABkGFDLJeR//pqzhnEKVvEm2wWbh2RJ6oru5"
    "+cUUfm5X9NnlaGr8aSH9QE5RVZD4QGlxl2F5UpVIIi94p178KLfqPPsAA==\n";

static void
neumann_key(struct cosig_key *k)
{
	uint8_t		 raw[40];
	size_t		 n;
	EVP_PKEY	*pk;

	assert_int_equal(note_b64_decode(neumann_seed_b64,
	    strlen(neumann_seed_b64), raw, sizeof(raw), &n), 0);
	assert_int_equal(n, 33);
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw + 1, 32);
	assert_non_null(pk);
	assert_int_equal(cosig_key_from_pkey(k, "witness.example.com/w1", pk), 0);
	EVP_PKEY_free(pk);
}

static void
test_spec_example(void **state)
{
	char			 hdr[COSIG_HEADER_MAX], msg[512], note[512];
	uint8_t			 raw[128];
	size_t			 n;
	uint64_t		 t = 0;
	int			 i;
	struct note_verifier	 v;

	/* The example line frames a timestamped Ed25519 cosignature: key id,
	 * big-endian time, 64 signature bytes. */
	assert_int_equal(note_b64_decode(spec_b64, strlen(spec_b64), raw,
	    sizeof(raw), &n), 0);
	assert_int_equal(n, COSIG_RAW_LEN);
	assert_memory_equal(raw, "\x8d\x66\xcf\x3f", 4);
	for (i = 0; i < 8; i++)
		t = t << 8 | raw[4 + i];
	assert_int_equal(t, 1679315147);
	/* Our signed message at that time is the spec's byte for byte. */
	assert_int_equal(cosig_header(t, hdr, sizeof(hdr)), 0);
	assert_int_equal(str_printf(msg, sizeof(msg), "%s%s", hdr, spec_body), 0);
	assert_string_equal(msg, spec_message);
	/* The spec publishes no key for witness.example.com/w1: a key of that
	 * name but another id is not its signer, and its line is ignored
	 * (the note has no cosignature by us) rather than failing. */
	assert_int_equal(note_verifier_parse_alg(&v, vec_vkey, COSIG_ALG), 0);
	assert_int_not_equal(v.id, 0x8d66cf3f);
	assert_int_equal(str_printf(note, sizeof(note), "%s\n" EM_DASH
	    " witness.example.com/w1 %s\n", spec_body, spec_b64), 0);
	assert_int_equal(cosig_verify(&v, note, strlen(note), NULL), -1);
	/* ...while forcing that id makes it a known key whose signature fails. */
	v.id = 0x8d66cf3f;
	assert_int_equal(cosig_verify(&v, note, strlen(note), NULL), -1);
}

static void
test_key_id_and_vector(void **state)
{
	struct cosig_key	 k;
	struct note_verifier	 v, v1;
	char			 vkey[NOTE_VKEY_MAX], line[NOTE_SIGLINE_MAX];
	char			 note[512];
	uint64_t		 t = 0;
	uint32_t		 id01;
	size_t			 n;

	neumann_key(&k);
	/* Key id: SHA-256(name || 0x0A || 0x04 || pub)[:4]. */
	assert_int_equal(k.id, 0xd46a2b1b);
	assert_int_equal(note_key_id("witness.example.com/w1", k.signer.pub,
	    &id01), 0);
	assert_int_not_equal(id01, k.id);	/* type byte separates them */
	assert_int_equal(cosig_key_vkey(&k, vkey, sizeof(vkey)), 0);
	assert_string_equal(vkey, vec_vkey);
	/* A 0x04 vkey is not an Ed25519 signed-note key, and vice versa. */
	assert_int_equal(note_verifier_parse(&v1, vkey), -1);

	assert_int_equal(cosig_sign(&k, 1679315147, spec_body,
	    strlen(spec_body), line, sizeof(line)), 0);
	assert_string_equal(line, vec_line);
	/* A zero timestamp is never signed. */
	assert_int_equal(cosig_sign(&k, 0, spec_body, strlen(spec_body), line,
	    sizeof(line)), -1);

	/* Verification from the vkey alone, as a log or inspector does. */
	assert_int_equal(note_verifier_parse_alg(&v, vec_vkey, COSIG_ALG), 0);
	assert_int_equal(str_printf(note, sizeof(note), "%s\n%s", spec_body,
	    vec_line), 0);
	assert_int_equal(cosig_verify(&v, note, strlen(note), &t), 0);
	assert_int_equal(t, 1679315147);
	/* Any one-byte change of the body or signature is refused. */
	for (n = 0; n < strlen(note); n++) {
		if (note[n] == '\n' || (unsigned char)note[n] >= 0x80)
			continue;
		note[n] ^= 0x01;
		assert_int_equal(cosig_verify(&v, note, strlen(note), NULL), -1);
		note[n] ^= 0x01;
	}
	cosig_key_free(&k);
}

/* The state machine: a witness over a temporary state file, one log whose
 * checkpoints are made from an in-memory tree. */
struct fx {
	char			 dir[64];
	char			 db[96];
	struct witness_config	 cf;
	struct witness		 w;
	struct note_signer	 log;
	struct merkle_mem	 tree;
	unsigned char		 pin[32], other[32];
	uint64_t		 now;
};

static EVP_PKEY *
ed25519_new(void)
{
	EVP_PKEY	*pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	assert_non_null(pk);
	return pk;
}

static int
fx_setup(void **state)
{
	struct fx	*f = calloc(1, sizeof(*f));
	EVP_PKEY	*pk;
	uint8_t		 leaf[32];
	uint64_t	 i;

	assert_non_null(f);
	str_copy(f->dir, sizeof(f->dir), "/tmp/test_witness.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(str_printf(f->db, sizeof(f->db), "%s/w.db", f->dir), 0);
	f->cf.nlogs = 1;
	str_copy(f->cf.logs[0].origin, sizeof(f->cf.logs[0].origin),
	    "gateway.test/audit");
	pk = ed25519_new();
	assert_int_equal(note_signer_from_pkey(&f->log, "gateway.test/audit", pk),
	    0);
	EVP_PKEY_free(pk);
	note_signer_verifier(&f->log, &f->cf.logs[0].vkey);
	f->cf.logs[0].has_vkey = 1;
	memset(f->pin, 0xaa, sizeof(f->pin));
	memset(f->other, 0xbb, sizeof(f->other));
	memcpy(f->cf.logs[0].pins[0], f->pin, 32);
	f->cf.logs[0].npins = 1;
	f->w.cf = &f->cf;
	pk = ed25519_new();
	assert_int_equal(cosig_key_from_pkey(&f->w.key, "witness.test/w1", pk), 0);
	EVP_PKEY_free(pk);
	assert_int_equal(witness_db_open(&f->w.db, f->db, 3), 0);
	merkle_mem_init(&f->tree);
	for (i = 0; i < 20; i++) {
		assert_int_equal(merkle_leaf_hash(&i, sizeof(i), leaf), 0);
		assert_int_equal(merkle_mem_append(&f->tree, leaf), 0);
	}
	f->now = 1700000000;
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx	*f = *state;
	char		 path[128];

	witness_db_close(&f->w.db);
	cosig_key_free(&f->w.key);
	note_signer_free(&f->log);
	merkle_mem_free(&f->tree);
	unlink(f->db);
	str_printf(path, sizeof(path), "%s/w.db-journal", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Root of the first size leaves. */
static void
fx_root(struct fx *f, uint64_t size, uint8_t root[32])
{
	assert_int_equal(merkle_root(merkle_mem_subtree, &f->tree, size, root), 0);
}

/* An add-checkpoint body: old, the proof from old to size (bad: one bit of
 * it flipped), the checkpoint of size with root (NULL: the tree's), signed
 * by signer (NULL: the log). */
static size_t
fx_body(struct fx *f, uint64_t old, uint64_t size, const uint8_t *root,
    int bad, const struct note_signer *signer, char *out, size_t sz)
{
	uint8_t	proof[MERKLE_MAX_PROOF][32], r[32];
	char	text[256], b64[48], note[1024];
	size_t	n = 0, i, tl, nl, o;

	if (old > 0 && old < size)
		assert_int_equal(merkle_consistency_proof(merkle_mem_subtree,
		    &f->tree, old, size, proof[0], MERKLE_MAX_PROOF, &n), 0);
	if (bad && n > 0)
		proof[0][0] ^= 1;
	if (root == NULL) {
		fx_root(f, size, r);
		root = r;
	}
	assert_int_equal(note_checkpoint_format("gateway.test/audit", size, root,
	    NULL, 0, text, sizeof(text), &tl), 0);
	assert_int_equal(note_sign_note(signer != NULL ? signer : &f->log, text,
	    tl, note, sizeof(note), &nl), 0);
	assert_int_equal(str_printf(out, sz, "old %ju\n", (uintmax_t)old), 0);
	o = strlen(out);
	for (i = 0; i < n; i++) {
		assert_int_equal(note_b64_encode(b64, sizeof(b64), proof[i], 32), 0);
		assert_int_equal(str_printf(out + o, sz - o, "%s\n", b64), 0);
		o += strlen(out + o);
	}
	assert_int_equal(str_printf(out + o, sz - o, "\n%s", note), 0);
	return strlen(out);
}

static void
fx_add(struct fx *f, const unsigned char *pin, const char *body, size_t len,
    struct witness_reply *r)
{
	witness_add_checkpoint(&f->w, pin, body, len, f->now++, r);
}

/* The reply to a body, expecting status. */
static void
fx_expect(struct fx *f, uint64_t old, uint64_t size, int status)
{
	struct witness_reply	r;
	char			body[4096];
	size_t			n;

	n = fx_body(f, old, size, NULL, 0, NULL, body, sizeof(body));
	fx_add(f, f->pin, body, n, &r);
	assert_int_equal(r.status, status);
}

static void
test_state_machine(void **state)
{
	struct fx		*f = *state;
	struct witness_reply	 r;
	struct witness_latest	 st;
	struct note_verifier	 wv;
	struct note_signer	 rogue;
	EVP_PKEY		*pk;
	char			 body[4096], note[2048], *json;
	uint8_t			 other[32];
	size_t			 n, tl;
	int			 found;

	cosig_key_verifier(&f->w.key, &wv);
	/* First checkpoint: old 0, no proof. */
	n = fx_body(f, 0, 5, NULL, 0, NULL, body, sizeof(body));
	fx_add(f, f->pin, body, n, &r);
	assert_int_equal(r.status, 200);
	/* The cosignature verifies with the witness's vkey over the note. */
	tl = (size_t)(strstr(body, "\n\n") - body) + 2;	/* the note starts */
	assert_int_equal(str_printf(note, sizeof(note), "%s%.*s", body + tl,
	    (int)r.len, r.body), 0);
	assert_int_equal(cosig_verify(&wv, note, strlen(note), NULL), 0);
	assert_int_equal(witness_db_latest(&f->w.db, "gateway.test/audit", &st), 1);
	assert_int_equal(st.size, 5);

	/* Extend 5 -> 9 with a good proof. */
	fx_expect(f, 5, 9, 200);
	/* Stale old: 409 with the stored size, as text/x.tlog.size. */
	n = fx_body(f, 5, 12, NULL, 0, NULL, body, sizeof(body));
	fx_add(f, f->pin, body, n, &r);
	assert_int_equal(r.status, 409);
	assert_string_equal(r.ctype, "text/x.tlog.size");
	assert_string_equal(r.body, "9\n");
	fx_expect(f, 0, 12, 409);
	/* A tampered proof: 422, and the state stays. */
	n = fx_body(f, 9, 12, NULL, 1, NULL, body, sizeof(body));
	fx_add(f, f->pin, body, n, &r);
	assert_int_equal(r.status, 422);
	assert_int_equal(witness_db_latest(&f->w.db, "gateway.test/audit", &st), 1);
	assert_int_equal(st.size, 9);
	/* Same size, same root: cosigned again. */
	fx_expect(f, 9, 9, 200);
	/* Same size, another root: refused, never two roots for one size. */
	memset(other, 0x42, sizeof(other));
	n = fx_body(f, 9, 9, other, 0, NULL, body, sizeof(body));
	fx_add(f, f->pin, body, n, &r);
	assert_int_equal(r.status, 422);
	assert_string_equal(r.code, "root-conflict");
	/* ...and the signed conflicting checkpoint is kept as evidence. */
	{
		sqlite3_stmt	*q;

		assert_int_equal(sqlite3_prepare_v2(f->w.db.db, "SELECT count(*) "
		    "FROM evidence WHERE reason = 'root-conflict'", -1, &q, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(q, 0), 1);
		sqlite3_finalize(q);
	}
	fx_root(f, 9, other);
	assert_memory_equal(st.root, other, 32);
	/* old above the checkpoint's size: 400. */
	fx_expect(f, 9, 3, 400);
	/* Signed by another key under the log's name: 403. */
	pk = ed25519_new();
	assert_int_equal(note_signer_from_pkey(&rogue, "gateway.test/audit", pk), 0);
	EVP_PKEY_free(pk);
	n = fx_body(f, 9, 12, NULL, 0, &rogue, body, sizeof(body));
	note_signer_free(&rogue);
	fx_add(f, f->pin, body, n, &r);
	assert_int_equal(r.status, 403);
	/* A client not pinned for the log: 403. */
	n = fx_body(f, 9, 12, NULL, 0, NULL, body, sizeof(body));
	fx_add(f, f->other, body, n, &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.code, "client-not-pinned");
	/* Garbage: 400. */
	fx_add(f, f->pin, "old 01\n\nx\n", 10, &r);
	assert_int_equal(r.status, 400);
	/* Then the good one still goes through. */
	fx_expect(f, 9, 12, 200);
	fx_expect(f, 12, 20, 200);

	/* The history keeps the last 3 sizes (the fixture's bound), newest
	 * first. */
	json = witness_db_history_json(&f->w.db, "gateway.test/audit", 100);
	assert_non_null(json);
	assert_non_null(strstr(json, "{\"size\":20,"));
	assert_non_null(strstr(json, "{\"size\":12,"));
	assert_non_null(strstr(json, "{\"size\":9,"));
	assert_null(strstr(json, "{\"size\":5,"));
	assert_true(strstr(json, "{\"size\":20,") < strstr(json, "{\"size\":9,"));
	free(json);
	json = witness_db_latest_json(&f->w.db, "gateway.test/audit", &found);
	assert_int_equal(found, 1);
	assert_non_null(strstr(json, "\"size\":20"));
	free(json);
}

static void
test_unknown_origin(void **state)
{
	struct fx		*f = *state;
	struct witness_reply	 r;
	struct note_signer	 other;
	EVP_PKEY		*pk;
	char			 text[256], note[1024], body[1200];
	uint8_t			 root[32];
	size_t			 tl, nl;

	pk = ed25519_new();
	assert_int_equal(note_signer_from_pkey(&other, "other.test/log", pk), 0);
	EVP_PKEY_free(pk);
	fx_root(f, 4, root);
	assert_int_equal(note_checkpoint_format("other.test/log", 4, root, NULL,
	    0, text, sizeof(text), &tl), 0);
	assert_int_equal(note_sign_note(&other, text, tl, note, sizeof(note),
	    &nl), 0);
	note_signer_free(&other);
	assert_int_equal(str_printf(body, sizeof(body), "old 0\n\n%s", note), 0);
	fx_add(f, f->pin, body, strlen(body), &r);
	assert_int_equal(r.status, 404);
	/* Size 0 must carry the empty tree's root; old 0 takes no proof
	 * (422 both). */
	memset(root, 0x42, sizeof(root));
	tl = fx_body(f, 0, 0, root, 0, NULL, body, sizeof(body));
	fx_add(f, f->pin, body, tl, &r);
	assert_int_equal(r.status, 422);
	assert_string_equal(r.code, "empty-tree-root");
	(void)fx_body(f, 0, 4, NULL, 0, NULL, note, sizeof(note));
	/* note is "old 0\n\n..." : a proof line goes in between */
	assert_int_equal(str_printf(body, sizeof(body), "old 0\n%s\n%s",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", note + 6), 0);
	fx_add(f, f->pin, body, strlen(body), &r);
	assert_int_equal(r.status, 422);
	assert_string_equal(r.code, "proof-not-empty");
	/* Neither moved the state: a first checkpoint still needs old 0. */
	fx_expect(f, 0, 4, 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_key_id_and_vector),
		cmocka_unit_test_setup_teardown(test_state_machine, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_origin, fx_setup,
		    fx_teardown),
	};

	log_init("test", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
