/* Unit tests for gatewayctl receipt: receipts and checkpoints built in memory
 * with test keys, checked offline; every one-bit change of a saved receipt
 * refused; check-consistency's extension, rollback, fork and bad proofs. */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "adapters/jcs.h"
#include "ctl/ctl.h"
#include "ctl/ctl_audit.h"
#include "ctl/ctl_receipt.h"
#include "keeper/merkle.h"
#include "keeper/note.h"
#include "keeper/sign.h"
#include "log.h"
#include "util.h"
#include "witness/cosig.h"

#define ORIGIN		"test.gateway.local/receipts"
#define NWIT		3
#define NLEAVES		7
#define INDEX		5
#define T0		1764900000

struct fixture {
	char			 dir[64];
	struct sign_key		*logk, *otherk, *signer;
	struct note_signer	 log, other;
	struct cosig_key	 wit[NWIT];
	struct merkle_mem	 tree, fork;
	struct receipt_keys	 keys;	/* log, signer, every witness, quorum NWIT */
};

static void
entry(uint64_t i, int fork, uint8_t h[MERKLE_HASH_LEN])
{
	char	e[64];

	assert_int_equal(str_printf(e, sizeof(e), "{\"kind\":\"test\",\"n\":%llu%s}",
	    (unsigned long long)i, fork ? ",\"fork\":true" : ""), 0);
	assert_int_equal(merkle_leaf_hash(e, strlen(e), h), 0);
}

static int
setup(void **state)
{
	struct fixture		*t = calloc(1, sizeof(*t));
	struct sign_key		*wk;
	struct note_verifier	 v;
	uint8_t			 h[MERKLE_HASH_LEN];
	char			 name[32];
	uint64_t		 i;
	int			 w;

	assert_non_null(t);
	log_init("test", LOG_LVL_ERROR);
	str_copy(t->dir, sizeof(t->dir), "/tmp/gw-test-receipt.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(sign_key_generate(SIGN_ALG_ED25519, &t->logk), 0);
	assert_int_equal(sign_key_generate(SIGN_ALG_ED25519, &t->otherk), 0);
	assert_int_equal(sign_key_generate(SIGN_ALG_ED25519, &t->signer), 0);
	assert_int_equal(note_signer_from_pkey(&t->log, ORIGIN, t->logk->pkey), 0);
	assert_int_equal(note_signer_from_pkey(&t->other, ORIGIN,
	    t->otherk->pkey), 0);
	for (w = 0; w < NWIT; w++) {
		assert_int_equal(sign_key_generate(SIGN_ALG_ED25519, &wk), 0);
		assert_int_equal(str_printf(name, sizeof(name), "witness-%d.test",
		    w), 0);
		assert_int_equal(cosig_key_from_pkey(&t->wit[w], name, wk->pkey), 0);
		sign_key_free(wk);
		cosig_key_verifier(&t->wit[w], &v);
		assert_int_equal(receipt_witness_add(&t->keys, &v), 0);
		/* The same key again counts once. */
		assert_int_equal(receipt_witness_add(&t->keys, &v), 0);
	}
	assert_int_equal(t->keys.nwitnesses, NWIT);
	t->keys.quorum = NWIT;
	note_signer_verifier(&t->log, &t->keys.log);
	t->keys.signers[t->keys.nsigners++] = t->signer;
	merkle_mem_init(&t->tree);
	merkle_mem_init(&t->fork);
	for (i = 0; i < NLEAVES; i++) {
		entry(i, 0, h);
		assert_int_equal(merkle_mem_append(&t->tree, h), 0);
		/* The fork shares the entry of the receipt, not the rest. */
		entry(i, i != INDEX, h);
		assert_int_equal(merkle_mem_append(&t->fork, h), 0);
	}
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*t = *state;
	char		 cmd[128];
	int		 w;

	for (w = 0; w < NWIT; w++)
		cosig_key_free(&t->wit[w]);
	note_signer_free(&t->log);
	note_signer_free(&t->other);
	sign_key_free(t->logk);
	sign_key_free(t->otherk);
	sign_key_free(t->signer);
	merkle_mem_free(&t->tree);
	merkle_mem_free(&t->fork);
	assert_int_equal(str_printf(cmd, sizeof(cmd), "rm -rf %s", t->dir), 0);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

/* A checkpoint of m's first size leaves, signed by s, cosigned by the
 * witnesses whose bit is set in cosigners. Returns a new string. */
static char *
checkpoint(struct fixture *t, struct merkle_mem *m, uint64_t size,
    const struct note_signer *s, unsigned cosigners)
{
	uint8_t		 root[MERKLE_HASH_LEN];
	char		 body[512], line[NOTE_SIGLINE_MAX], *note;
	size_t		 blen, nlen;
	int		 w;

	assert_non_null(note = malloc(NOTE_MAX_LEN));
	assert_int_equal(merkle_root(merkle_mem_subtree, m, size, root), 0);
	assert_int_equal(note_checkpoint_format(ORIGIN, size, root, NULL, 0, body,
	    sizeof(body), &blen), 0);
	assert_int_equal(note_sign_note(s, body, blen, note, NOTE_MAX_LEN,
	    &nlen), 0);
	for (w = 0; w < NWIT; w++)
		if (cosigners & (1u << w)) {
			assert_int_equal(cosig_sign(&t->wit[w], T0 + (uint64_t)w,
			    body, blen, line, sizeof(line)), 0);
			assert_int_equal(str_append(note, NOTE_MAX_LEN, line), 0);
		}
	return note;
}

static json_t *
b64_hash(const uint8_t h[MERKLE_HASH_LEN])
{
	char	b[64];

	assert_int_equal(note_b64_encode(b, sizeof(b), h, MERKLE_HASH_LEN), 0);
	return json_string(b);
}

static json_t *
signature(const struct sign_key *k, const void *msg, size_t len)
{
	uint8_t	sig[SIGN_MAX_SIG];
	char	b[128];
	size_t	slen;

	assert_int_equal(sign_sign(k, msg, len, sig, sizeof(sig), &slen), 0);
	assert_int_equal(note_b64_encode(b, sizeof(b), sig, slen), 0);
	return json_pack("{s:s, s:s, s:s}", "alg", sign_alg_name(k->alg),
	    "key_id", k->key_id, "value", b);
}

/* The saved answer of GET /v1/receipts/collection/C-1 as the keeper
 * serves it (compact, sorted keys): the proof of entry INDEX of m's first
 * NLEAVES against checkpoint note (NULL: the proof is null). */
static char *
receipt_file(struct fixture *t, struct merkle_mem *m, const char *note,
    size_t *len)
{
	static const char	 instr[] = "{\"id\":\"C-1\",\"kind\":\"collection\"}";
	uint8_t			 leaf[MERKLE_HASH_LEN];
	uint8_t			 proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	char			*canon, *out;
	size_t			 clen, n, i;
	json_t			*rc, *hs, *pf, *root;

	assert_int_equal(merkle_mem_subtree(m, INDEX, 0, leaf), 0);
	rc = json_pack("{s:s, s:s, s:s, s:I, s:o, s:s, s:s, s:o}", "status",
	    "accepted", "kind", "collection", "id", "C-1", "audit_index",
	    (json_int_t)INDEX, "leaf_hash", b64_hash(leaf), "log", ORIGIN,
	    "digest", "sha-256:00112233445566778899aabbccddeeff00112233445566778899"
	    "aabbccddeeff", "signature", signature(t->signer, instr,
	    sizeof(instr) - 1));
	assert_non_null(rc);
	assert_int_equal(jcs_serialize(rc, &canon, &clen), 0);
	json_object_set_new(rc, "receipt_signature", signature(t->signer, canon,
	    clen));
	free(canon);
	if (note != NULL) {
		assert_int_equal(merkle_inclusion_proof(merkle_mem_subtree, m,
		    INDEX, NLEAVES, proof[0], MERKLE_MAX_PROOF, &n), 0);
		assert_non_null(hs = json_array());
		for (i = 0; i < n; i++)
			json_array_append_new(hs, b64_hash(proof[i]));
		pf = json_pack("{s:I, s:I, s:o, s:o, s:s, s:b}", "index",
		    (json_int_t)INDEX, "tree_size", (json_int_t)NLEAVES,
		    "leaf_hash", b64_hash(leaf), "hashes", hs, "checkpoint", note,
		    "cosigned", 1);
	} else
		pf = json_null();
	assert_non_null(root = json_pack("{s:o, s:o}", "receipt", rc, "proof",
	    pf));
	assert_non_null(out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS));
	json_decref(root);
	*len = strlen(out);
	return out;
}

static void
test_good_receipt(void **state)
{
	struct fixture		*t = *state;
	struct receipt_info	 r;
	char			*note = checkpoint(t, &t->tree, NLEAVES, &t->log, 7);
	char			*file;
	size_t			 len;

	file = receipt_file(t, &t->tree, note, &len);
	assert_int_equal(receipt_verify(&t->keys, file, len, &r), 0);
	assert_string_equal(r.why, "");
	assert_string_equal(r.kind, "collection");
	assert_string_equal(r.id, "C-1");
	assert_string_equal(r.status, "accepted");
	assert_string_equal(r.origin, ORIGIN);
	assert_int_equal(r.index, INDEX);
	assert_int_equal(r.size, NLEAVES);
	assert_int_equal(r.cosigs, NWIT);
	free(file);
	free(note);
}

/* The acceptance criterion: a receipt refuses each one-byte change. Every
 * bit of every byte is flipped in turn (8 changes per byte); whatever still
 * parses as JSON must still be refused. */
static void
test_every_one_byte_change_refused(void **state)
{
	struct fixture		*t = *state;
	struct receipt_info	 r;
	char			*note = checkpoint(t, &t->tree, NLEAVES, &t->log, 7);
	char			*file, *copy;
	size_t			 len, i, parsed = 0;
	json_t			*j;
	int			 bit;

	file = receipt_file(t, &t->tree, note, &len);
	assert_non_null(copy = malloc(len + 1));
	for (i = 0; i < len; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(copy, file, len + 1);
			copy[i] = (char)(copy[i] ^ (1 << bit));
			if ((j = json_loadb(copy, len, 0, NULL)) != NULL) {
				parsed++;
				json_decref(j);
			}
			if (receipt_verify(&t->keys, copy, len, &r) == 0)
				fail_msg("byte %zu bit %d changed ('%c' -> '%c') "
				    "and still verified", i, bit, file[i], copy[i]);
			assert_true(r.why[0] != '\0');
		}
	/* Many changes must have parsed, or the loop proved little. */
	print_message("%zu bytes, %zu changes, %zu of them still JSON, all "
	    "refused\n", len, len * 8, parsed);
	assert_true(parsed > len);
	free(copy);
	free(file);
	free(note);
}

static void
test_short_of_quorum_refused(void **state)
{
	struct fixture		*t = *state;
	struct receipt_info	 r;
	struct receipt_keys	 k = t->keys;
	char			*note = checkpoint(t, &t->tree, NLEAVES, &t->log,
				    1u | 4u);
	char			*file;
	size_t			 len;

	file = receipt_file(t, &t->tree, note, &len);
	assert_int_equal(receipt_verify(&t->keys, file, len, &r), -1);
	assert_non_null(strstr(r.why, "2 of the 3 witness cosignatures"));
	/* Two of three is enough where the quorum is two. */
	k.quorum = 2;
	assert_int_equal(receipt_verify(&k, file, len, &r), 0);
	assert_int_equal(r.cosigs, 2);
	free(file);
	free(note);
}

/* A fork (the same log key, another root at the same size) and another log
 * key: neither checkpoint holds the receipt's entry for this log. */
static void
test_other_log_refused(void **state)
{
	struct fixture		*t = *state;
	struct receipt_info	 r;
	char			*fork = checkpoint(t, &t->fork, NLEAVES, &t->log, 7);
	char			*other = checkpoint(t, &t->tree, NLEAVES, &t->other,
				    7);
	char			*file;
	size_t			 len;

	file = receipt_file(t, &t->tree, fork, &len);
	assert_int_equal(receipt_verify(&t->keys, file, len, &r), -1);
	assert_non_null(strstr(r.why, "NOT included"));
	free(file);
	file = receipt_file(t, &t->tree, other, &len);
	assert_int_equal(receipt_verify(&t->keys, file, len, &r), -1);
	assert_non_null(strstr(r.why, "not signed by the log key"));
	free(file);
	free(fork);
	free(other);
}

static void
test_null_proof_refused(void **state)
{
	struct fixture		*t = *state;
	struct receipt_info	 r;
	char			*file;
	size_t			 len;

	file = receipt_file(t, &t->tree, NULL, &len);
	assert_int_equal(receipt_verify(&t->keys, file, len, &r), -1);
	assert_non_null(strstr(r.why, "no checkpoint covers it yet"));
	free(file);
}

/* The answer of GET /audit/proof/consistency?old=m&new=n2 over tree. */
static char *
consistency_file(struct merkle_mem *tree, uint64_t m, uint64_t n2,
    int corrupt, size_t *len)
{
	uint8_t		 proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t		 n, i;
	json_t		*hs, *o;
	char		*out;

	assert_int_equal(merkle_consistency_proof(merkle_mem_subtree, tree, m,
	    n2, proof[0], MERKLE_MAX_PROOF, &n), 0);
	assert_true(n > 0);
	if (corrupt)
		proof[n - 1][0] ^= 1;
	assert_non_null(hs = json_array());
	for (i = 0; i < n; i++)
		json_array_append_new(hs, b64_hash(proof[i]));
	assert_non_null(o = json_pack("{s:I, s:I, s:o}", "old_size",
	    (json_int_t)m, "new_size", (json_int_t)n2, "hashes", hs));
	assert_non_null(out = json_dumps(o, JSON_COMPACT));
	json_decref(o);
	*len = strlen(out);
	return out;
}

static void
test_consistency(void **state)
{
	struct fixture	*t = *state;
	char		*c4 = checkpoint(t, &t->tree, 4, &t->log, 7);
	char		*c7 = checkpoint(t, &t->tree, NLEAVES, &t->log, 7);
	char		*f7 = checkpoint(t, &t->fork, NLEAVES, &t->log, 7);
	char		*f4 = checkpoint(t, &t->fork, 4, &t->log, 7);
	const char	*other = "{\"old_size\":3,\"new_size\":7,\"hashes\":[]}";
	char		*p47, *bad, *fp, why[AUDIT_WHY_MAX];
	size_t		 plen, blen, fplen;
	uint64_t	 m, n2;

	p47 = consistency_file(&t->tree, 4, NLEAVES, 0, &plen);
	bad = consistency_file(&t->tree, 4, NLEAVES, 1, &blen);
	fp = consistency_file(&t->fork, 4, NLEAVES, 0, &fplen);
	/* An extension with its proof. */
	assert_int_equal(receipt_extends(&t->keys, c4, strlen(c4), c7,
	    strlen(c7), p47, plen, &m, &n2, why, sizeof(why)), 0);
	assert_int_equal(m, 4);
	assert_int_equal(n2, NLEAVES);
	/* Nothing kept yet: the new one is taken as it verifies. */
	assert_int_equal(receipt_extends(&t->keys, NULL, 0, c7, strlen(c7),
	    NULL, 0, &m, &n2, why, sizeof(why)), 0);
	/* The same checkpoint again. */
	assert_int_equal(receipt_extends(&t->keys, c7, strlen(c7), c7,
	    strlen(c7), NULL, 0, &m, &n2, why, sizeof(why)), 0);
	/* Smaller: a rollback. */
	assert_int_equal(receipt_extends(&t->keys, c7, strlen(c7), c4,
	    strlen(c4), NULL, 0, &m, &n2, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "rolled back"));
	/* Same size, another root: a fork. */
	assert_int_equal(receipt_extends(&t->keys, c7, strlen(c7), f7,
	    strlen(f7), NULL, 0, &m, &n2, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "forked"));
	/* A proof with one hash altered. */
	assert_int_equal(receipt_extends(&t->keys, c4, strlen(c4), c7,
	    strlen(c7), bad, blen, &m, &n2, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "does not verify"));
	/* The fork's own (valid) proof does not join our 4 to its 7. */
	assert_int_equal(receipt_extends(&t->keys, c4, strlen(c4), f7,
	    strlen(f7), fp, fplen, &m, &n2, why, sizeof(why)), -1);
	assert_int_equal(receipt_extends(&t->keys, f4, strlen(f4), c7,
	    strlen(c7), p47, plen, &m, &n2, why, sizeof(why)), -1);
	/* A proof of other sizes, and none at all. */
	assert_int_equal(receipt_extends(&t->keys, c4, strlen(c4), c7,
	    strlen(c7), other, strlen(other), &m, &n2, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not from 4 to 7"));
	assert_int_equal(receipt_extends(&t->keys, c4, strlen(c4), c7,
	    strlen(c7), NULL, 0, &m, &n2, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "consistency proof from 4 to 7 is needed"));
	free(c4);
	free(c7);
	free(f7);
	free(f4);
	free(p47);
	free(bad);
	free(fp);
}

static void
write_file(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *
read_text(const char *path)
{
	size_t	len;
	char	*s = audit_read_file(path, &len);

	assert_non_null(s);
	return s;
}

/* The command: it replaces the state file on success only. */
static void
test_consistency_command(void **state)
{
	struct fixture		*t = *state;
	struct note_verifier	 v;
	char			*c4 = checkpoint(t, &t->tree, 4, &t->log, 7);
	char			*c7 = checkpoint(t, &t->tree, NLEAVES, &t->log, 7);
	char			*p47, *s;
	char			 vkey[NOTE_VKEY_MAX], wkey[NWIT][NOTE_VKEY_MAX];
	char			 st[128], n4[128], n7[128], pf[128];
	char			 a0[] = "receipt", a1[] = "check-consistency";
	char			 a2[] = "--state", a3[] = "--vkey";
	char			 aw[] = "--witness";
	char			*argv[16];
	size_t			 plen;
	int			 argc, w;

	p47 = consistency_file(&t->tree, 4, NLEAVES, 0, &plen);
	note_signer_verifier(&t->log, &v);
	assert_int_equal(note_verifier_format(&v, vkey, sizeof(vkey)), 0);
	for (w = 0; w < NWIT; w++)
		assert_int_equal(cosig_key_vkey(&t->wit[w], wkey[w],
		    sizeof(wkey[w])), 0);
	assert_int_equal(str_printf(st, sizeof(st), "%s/state", t->dir), 0);
	assert_int_equal(str_printf(n4, sizeof(n4), "%s/c4", t->dir), 0);
	assert_int_equal(str_printf(n7, sizeof(n7), "%s/c7", t->dir), 0);
	assert_int_equal(str_printf(pf, sizeof(pf), "%s/p47.json", t->dir), 0);
	write_file(n4, c4);
	write_file(n7, c7);
	write_file(pf, p47);
	unlink(st);

	argc = 0;
	argv[argc++] = a0;
	argv[argc++] = a1;
	argv[argc++] = a2;
	argv[argc++] = st;
	argv[argc++] = a3;
	argv[argc++] = vkey;
	for (w = 0; w < NWIT; w++) {
		argv[argc++] = aw;
		argv[argc++] = wkey[w];
	}
	/* First run: nothing kept, c4 taken. */
	argv[argc] = n4;
	argv[argc + 1] = NULL;
	assert_int_equal(ctl_receipt_command.run(argc + 1, argv), CTL_EXIT_OK);
	assert_string_equal(s = read_text(st), c4);
	free(s);
	/* 4 -> 7 without the proof: refused, the state untouched. */
	argv[argc] = n7;
	assert_int_equal(ctl_receipt_command.run(argc + 1, argv), CTL_EXIT_FAIL);
	assert_string_equal(s = read_text(st), c4);
	free(s);
	/* With it: accepted and kept. */
	argv[argc + 1] = pf;
	argv[argc + 2] = NULL;
	assert_int_equal(ctl_receipt_command.run(argc + 2, argv), CTL_EXIT_OK);
	assert_string_equal(s = read_text(st), c7);
	free(s);
	/* Back to 4: a rollback, the state untouched. */
	argv[argc] = n4;
	argv[argc + 1] = NULL;
	assert_int_equal(ctl_receipt_command.run(argc + 1, argv), CTL_EXIT_FAIL);
	assert_string_equal(s = read_text(st), c7);
	free(s);
	/* No new checkpoint named: a usage error. */
	argv[argc] = NULL;
	assert_int_equal(ctl_receipt_command.run(argc, argv), CTL_EXIT_USAGE);
	free(c4);
	free(c7);
	free(p47);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_receipt),
		cmocka_unit_test(test_every_one_byte_change_refused),
		cmocka_unit_test(test_short_of_quorum_refused),
		cmocka_unit_test(test_other_log_refused),
		cmocka_unit_test(test_null_proof_refused),
		cmocka_unit_test(test_consistency),
		cmocka_unit_test(test_consistency_command),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
