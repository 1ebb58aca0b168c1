/* gatewayctl receipt: an agency's offline checks of what the keeper served it,
 * with public keys only: a receipt (the keeper's signature, the entry's
 * inclusion in a signed checkpoint the witnesses cosigned), and a newer
 * checkpoint's consistency with the last one the agency kept. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "adapters/jcs.h"
#include "config.h"
#include "ctl/ctl.h"
#include "ctl/ctl_audit.h"
#include "ctl/ctl_receipt.h"
#include "keeper/merkle.h"
#include "keeper/note.h"
#include "keeper/sign.h"
#include "util.h"
#include "witness/cosig.h"

#define RECEIPT_CONF		"/etc/gateway/gateway.conf"
/* A signed note's signature lines start with an em dash and a space. */
#define RECEIPT_SIG_PREFIX	"\xe2\x80\x94 "
#define RECEIPT_SIG_PREFIX_LEN	4

#define receipt_bad(r, ...)	audit_say((r)->why, sizeof((r)->why), __VA_ARGS__)

int
receipt_witness_add(struct receipt_keys *k, const struct note_verifier *v)
{
	size_t	i;

	for (i = 0; i < k->nwitnesses; i++)
		if (memcmp(k->witnesses[i].pub, v->pub, NOTE_PUB_LEN) == 0)
			return 0;
	if (k->nwitnesses == RECEIPT_MAX_WITNESSES)
		return -1;
	k->witnesses[k->nwitnesses++] = *v;
	return 0;
}

/* 1 if the note has a signature line naming v (its name and key id), so
 * that a failing cosig_verify means an altered cosignature, not a missing
 * one. Malformed lines name nobody. */
static int
receipt_cosig_present(const struct note_verifier *v, const char *note,
    size_t len)
{
	uint8_t		 raw[NOTE_MAX_LEN];
	const char	*line, *nl, *sp, *end = note + len;
	size_t		 split, n, nlen = strlen(v->name), rawlen;
	uint32_t	 id;

	for (split = len - 1; split > 0; split--)
		if (note[split] == '\n' && note[split - 1] == '\n')
			break;
	if (split == 0)
		return 0;
	for (line = note + split + 1; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			return 0;
		n = (size_t)(nl - line);
		if (n < RECEIPT_SIG_PREFIX_LEN || memcmp(line, RECEIPT_SIG_PREFIX,
		    RECEIPT_SIG_PREFIX_LEN) != 0)
			continue;
		line += RECEIPT_SIG_PREFIX_LEN;
		n -= RECEIPT_SIG_PREFIX_LEN;
		if ((sp = memchr(line, ' ', n)) == NULL ||
		    (size_t)(sp - line) != nlen || memcmp(line, v->name, nlen) != 0)
			continue;
		if (note_b64_decode(sp + 1, n - nlen - 1, raw, sizeof(raw),
		    &rawlen) == -1 || rawlen < 4)
			continue;
		id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
		    (uint32_t)raw[2] << 8 | raw[3];
		if (id == v->id)
			return 1;
	}
	return 0;
}

int
receipt_checkpoint_verify(const struct receipt_keys *k, const char *note,
    size_t len, struct note_checkpoint *c, size_t *ncosigs, char *why,
    size_t whysz)
{
	size_t	i, n = 0;

	if (len < 2 || len > NOTE_MAX_LEN || memchr(note, '\0', len) != NULL ||
	    note_checkpoint_open(note, len, &k->log, 1, c) == -1) {
		audit_say(why, whysz, "the checkpoint is not signed by the log "
		    "key %s+%08x", k->log.name, k->log.id);
		return -1;
	}
	if (k->origin[0] != '\0' && strcmp(c->origin, k->origin) != 0) {
		audit_say(why, whysz, "the checkpoint is of log \"%s\", not of "
		    "\"%s\"", c->origin, k->origin);
		return -1;
	}
	for (i = 0; i < k->nwitnesses; i++) {
		if (cosig_verify(&k->witnesses[i], note, len, NULL) == 0)
			n++;
		else if (receipt_cosig_present(&k->witnesses[i], note, len)) {
			audit_say(why, whysz, "the cosignature of witness %s "
			    "does not verify (altered)", k->witnesses[i].name);
			return -1;
		}
	}
	*ncosigs = n;
	if (n < k->quorum) {
		audit_say(why, whysz, "the checkpoint at size %llu has %zu of the "
		    "%llu witness cosignatures needed", (unsigned long long)c->size,
		    n, (unsigned long long)k->quorum);
		return -1;
	}
	return 0;
}

/* A base64 hash: strict (one encoding per value, so an altered character
 * cannot decode to the same bytes) and exactly MERKLE_HASH_LEN bytes. */
static int
receipt_hash(json_t *s, uint8_t out[MERKLE_HASH_LEN])
{
	size_t	n;

	if (!json_is_string(s) || note_b64_decode(json_string_value(s),
	    json_string_length(s), out, MERKLE_HASH_LEN, &n) == -1 ||
	    n != MERKLE_HASH_LEN)
		return -1;
	return 0;
}

/* The keeper's receipt_signature over the canonical receipt without it. */
static int
receipt_signature(const struct receipt_keys *k, json_t *rc,
    struct receipt_info *r)
{
	const char	*alg, *kid, *val;
	uint8_t		 sig[SIGN_MAX_SIG];
	json_t		*copy;
	char		*canon;
	size_t		 i, clen, slen;
	int		 ok;

	/* Strict: it is the one member the signature cannot cover. */
	if (json_unpack_ex(json_object_get(rc, "receipt_signature"), NULL,
	    JSON_STRICT, "{s:s, s:s, s:s}", "alg", &alg, "key_id", &kid,
	    "value", &val) == -1) {
		receipt_bad(r, "the receipt has no receipt_signature, or a "
		    "malformed one");
		return -1;
	}
	for (i = 0; i < k->nsigners; i++)
		if (strcmp(k->signers[i]->key_id, kid) == 0)
			break;
	if (i == k->nsigners) {
		receipt_bad(r, "the receipt is signed by key %s, not by a key "
		    "given (--skey or -c)", kid);
		return -1;
	}
	if (strcmp(alg, sign_alg_name(k->signers[i]->alg)) != 0 ||
	    note_b64_decode(val, strlen(val), sig, sizeof(sig), &slen) == -1) {
		receipt_bad(r, "the receipt signature is malformed");
		return -1;
	}
	if ((copy = json_copy(rc)) == NULL ||
	    json_object_del(copy, "receipt_signature") == -1 ||
	    jcs_serialize(copy, &canon, &clen) == -1) {
		json_decref(copy);
		receipt_bad(r, "the receipt has no canonical form (RFC 8785)");
		return -1;
	}
	json_decref(copy);
	ok = sign_verify(k->signers[i], canon, clen, sig, slen) == 0;
	free(canon);
	if (!ok) {
		receipt_bad(r, "the receipt signature does not verify with key "
		    "%s", kid);
		return -1;
	}
	return 0;
}

/* The receipt object: its signature first (everything else in it is what
 * was signed), then the members the proof is compared with. */
static int
receipt_object(const struct receipt_keys *k, json_t *rc,
    struct receipt_info *r, json_int_t *index, uint8_t leaf[MERKLE_HASH_LEN],
    const char **log)
{
	const char	*status, *kind, *id, *digest, *salg, *skid, *sval;
	json_t		*lh, *sig;

	if (!json_is_object(rc)) {
		receipt_bad(r, "the receipt is not an object");
		return -1;
	}
	if (receipt_signature(k, rc, r) == -1)
		return -1;
	if (json_unpack(rc, "{s:s, s:s, s:s, s:I, s:o, s:s, s:s, s:o}",
	    "status", &status, "kind", &kind, "id", &id, "audit_index", index,
	    "leaf_hash", &lh, "log", log, "digest", &digest,
	    "signature", &sig) == -1 || *index < 0 ||
	    receipt_hash(lh, leaf) == -1 ||
	    json_unpack(sig, "{s:s, s:s, s:s}", "alg", &salg, "key_id", &skid,
	    "value", &sval) == -1) {
		receipt_bad(r, "the receipt lacks a member or has a malformed "
		    "one (status, kind, id, audit_index, leaf_hash, log, digest, "
		    "signature)");
		return -1;
	}
	if (str_copy(r->status, sizeof(r->status), status) == -1 ||
	    str_copy(r->kind, sizeof(r->kind), kind) == -1 ||
	    str_copy(r->id, sizeof(r->id), id) == -1) {
		receipt_bad(r, "the receipt's status, kind or id is too long");
		return -1;
	}
	r->index = (uint64_t)*index;
	return 0;
}

/* The proof object: the same entry, its inclusion path, the checkpoint. */
static int
receipt_proof(const struct receipt_keys *k, json_t *pf, json_int_t index,
    const uint8_t leaf[MERKLE_HASH_LEN], const char *log,
    struct receipt_info *r)
{
	uint8_t			 pleaf[MERKLE_HASH_LEN];
	uint8_t			 hashes[MERKLE_MAX_PROOF * MERKLE_HASH_LEN];
	struct note_checkpoint	 c;
	json_int_t		 pindex, size;
	json_t			*lh, *hs;
	const char		*note;
	size_t			 i, n, nlen;
	int			 cosigned;

	if (json_is_null(pf)) {
		receipt_bad(r, "no checkpoint covers it yet: fetch it again "
		    "later");
		return -1;
	}
	/* Strict: the proof is not signed, so no member may be renamed. */
	if (json_unpack_ex(pf, NULL, JSON_STRICT,
	    "{s:I, s:I, s:o, s:o, s:s%, s:b}", "index", &pindex, "tree_size",
	    &size, "leaf_hash", &lh, "hashes", &hs, "checkpoint", &note, &nlen,
	    "cosigned", &cosigned) == -1 || !json_is_array(hs) ||
	    receipt_hash(lh, pleaf) == -1) {
		receipt_bad(r, "the proof lacks a member or has a malformed one "
		    "(index, tree_size, leaf_hash, hashes, checkpoint, cosigned)");
		return -1;
	}
	if (pindex != index || memcmp(pleaf, leaf, MERKLE_HASH_LEN) != 0) {
		receipt_bad(r, "the proof is of another entry than the receipt "
		    "(index or leaf hash)");
		return -1;
	}
	if ((n = json_array_size(hs)) > MERKLE_MAX_PROOF) {
		receipt_bad(r, "the proof has %zu hashes, more than any tree "
		    "needs", n);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (receipt_hash(json_array_get(hs, i),
		    hashes + i * MERKLE_HASH_LEN) == -1) {
			receipt_bad(r, "the proof's hash %zu is malformed", i);
			return -1;
		}
	if (receipt_checkpoint_verify(k, note, nlen, &c, &r->cosigs, r->why,
	    sizeof(r->why)) == -1)
		return -1;
	r->size = c.size;
	str_copy(r->origin, sizeof(r->origin), c.origin);	/* same bound */
	if (size < 0 || (uint64_t)size != c.size) {
		receipt_bad(r, "the proof's tree_size %lld is not the "
		    "checkpoint's %llu", (long long)size,
		    (unsigned long long)c.size);
		return -1;
	}
	if (strcmp(c.origin, log) != 0) {
		receipt_bad(r, "the checkpoint is of log \"%s\", the receipt of "
		    "\"%s\"", c.origin, log);
		return -1;
	}
	return audit_inclusion_check(note, nlen, &k->log, (uint64_t)index, leaf,
	    hashes, n, &c, r->why, sizeof(r->why));
}

int
receipt_verify(const struct receipt_keys *k, const char *text, size_t len,
    struct receipt_info *r)
{
	json_error_t	 err;
	json_t		*root, *rc = NULL, *pf = NULL;
	json_int_t	 index = 0;
	uint8_t		 leaf[MERKLE_HASH_LEN];
	const char	*log = NULL;
	int		 ret = -1;

	memset(r, 0, sizeof(*r));
	/* Duplicate members refused: a second "proof" must not hide the
	 * first. */
	if (len > RECEIPT_MAX_FILE || (root = json_loadb(text, len,
	    JSON_REJECT_DUPLICATES, &err)) == NULL) {
		receipt_bad(r, "not a receipt answer (JSON)");
		return -1;
	}
	if (json_unpack_ex(root, NULL, JSON_STRICT, "{s:o, s:o}", "receipt",
	    &rc, "proof", &pf) == -1)
		receipt_bad(r, "not a receipt answer: want exactly \"receipt\" "
		    "and \"proof\"");
	else if (receipt_object(k, rc, r, &index, leaf, &log) == 0 &&
	    receipt_proof(k, pf, index, leaf, log, r) == 0)
		ret = 0;
	json_decref(root);
	return ret;
}

/* A GET /audit/proof/consistency answer: its sizes must be the two
 * checkpoints'. */
static int
receipt_consistency_proof(const char *text, size_t len, uint64_t m,
    uint64_t n2, uint8_t *hashes, size_t *n, char *why, size_t whysz)
{
	json_error_t	 err;
	json_t		*root, *hs = NULL;
	json_int_t	 a = -1, b = -1;
	size_t		 i, hl;
	int		 rc = -1;

	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err)) ==
	    NULL || json_unpack_ex(root, NULL, JSON_STRICT, "{s:I, s:I, s:o}",
	    "old_size", &a, "new_size", &b, "hashes", &hs) == -1 ||
	    !json_is_array(hs) || json_array_size(hs) > MERKLE_MAX_PROOF) {
		audit_say(why, whysz, "the consistency proof is not a "
		    "/audit/proof/consistency answer");
		goto done;
	}
	if (a < 0 || b < 0 || (uint64_t)a != m || (uint64_t)b != n2) {
		audit_say(why, whysz, "the consistency proof is from %lld to "
		    "%lld, not from %llu to %llu", (long long)a, (long long)b,
		    (unsigned long long)m, (unsigned long long)n2);
		goto done;
	}
	*n = json_array_size(hs);
	for (i = 0; i < *n; i++)
		if (!json_is_string(json_array_get(hs, i)) || note_b64_decode(
		    json_string_value(json_array_get(hs, i)),
		    json_string_length(json_array_get(hs, i)),
		    hashes + i * MERKLE_HASH_LEN, MERKLE_HASH_LEN, &hl) == -1 ||
		    hl != MERKLE_HASH_LEN) {
			audit_say(why, whysz, "the consistency proof's hash %zu "
			    "is malformed", i);
			goto done;
		}
	rc = 0;
done:
	json_decref(root);
	return rc;
}

int
receipt_extends(const struct receipt_keys *k, const char *oldn,
    size_t oldlen, const char *newn, size_t newlen, const char *proof,
    size_t plen, uint64_t *oldsize, uint64_t *newsize, char *why, size_t whysz)
{
	struct note_checkpoint	 oc, nc;
	uint8_t			 hashes[MERKLE_MAX_PROOF * MERKLE_HASH_LEN];
	char			 sub[AUDIT_WHY_MAX];
	size_t			 ncos, n = 0;

	*oldsize = *newsize = 0;
	if (receipt_checkpoint_verify(k, newn, newlen, &nc, &ncos, sub,
	    sizeof(sub)) == -1) {
		audit_say(why, whysz, "the new checkpoint: %s", sub);
		return -1;
	}
	*newsize = nc.size;
	if (oldn == NULL)
		return 0;
	if (receipt_checkpoint_verify(k, oldn, oldlen, &oc, &ncos, sub,
	    sizeof(sub)) == -1) {
		audit_say(why, whysz, "the kept checkpoint: %s", sub);
		return -1;
	}
	*oldsize = oc.size;
	if (strcmp(oc.origin, nc.origin) != 0) {
		audit_say(why, whysz, "the checkpoints are of two logs (\"%s\", "
		    "\"%s\")", oc.origin, nc.origin);
		return -1;
	}
	if (nc.size < oc.size) {
		audit_say(why, whysz, "the new checkpoint is smaller (%llu < "
		    "%llu): the log was rolled back", (unsigned long long)nc.size,
		    (unsigned long long)oc.size);
		return -1;
	}
	if (nc.size == oc.size) {
		if (memcmp(nc.root, oc.root, MERKLE_HASH_LEN) != 0) {
			audit_say(why, whysz, "two roots for size %llu: the log "
			    "forked", (unsigned long long)nc.size);
			return -1;
		}
		return 0;
	}
	/* Every tree extends the empty one; RFC 9162 has no proof for it. */
	if (oc.size == 0)
		return 0;
	if (proof == NULL) {
		audit_say(why, whysz, "a consistency proof from %llu to %llu is "
		    "needed (GET /audit/proof/consistency?old=%llu&new=%llu)",
		    (unsigned long long)oc.size, (unsigned long long)nc.size,
		    (unsigned long long)oc.size, (unsigned long long)nc.size);
		return -1;
	}
	if (receipt_consistency_proof(proof, plen, oc.size, nc.size, hashes, &n,
	    why, whysz) == -1)
		return -1;
	if (merkle_verify_consistency(oc.size, nc.size, oc.root, nc.root, hashes,
	    n) == -1) {
		audit_say(why, whysz, "the consistency proof from %llu to %llu "
		    "does not verify: the new tree does not extend the kept one",
		    (unsigned long long)oc.size, (unsigned long long)nc.size);
		return -1;
	}
	return 0;
}

int
receipt_state_write(const char *path, const char *note, size_t len)
{
	char	tmp[CFG_PATH_MAX + 16];
	size_t	off = 0;
	ssize_t	n;
	int	fd;

	if (str_printf(tmp, sizeof(tmp), "%s.XXXXXX", path) == -1) {
		fprintf(stderr, "%s: path too long\n", path);
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		fprintf(stderr, "%s: %s\n", tmp, strerror(errno));
		return -1;
	}
	while (off < len) {
		if ((n = write(fd, note + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	/* Synced before the rename: a power cut leaves the old state or the
	 * new one, never a short file under the state's name. */
	if (off != len || fsync(fd) == -1) {
		fprintf(stderr, "%s: %s\n", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return fsync_dir(path);
}

/* ---- the command line ---------------------------------------------------- */

struct receipt_opts {
	const char	*conf, *vkey, *state, *file, *proof;
	const char	*skeys[AUDIT_MAX_KEYS];
	size_t		 nskeys;
	const char	*witnesses[RECEIPT_MAX_WITNESSES];
	size_t		 nwitnesses;
	uint64_t	 quorum;
	int		 has_quorum, json;
};

static void
receipt_usage(void)
{
	fprintf(stderr,
	    "usage: gatewayctl receipt verify FILE [-c conf] [--vkey LOGVKEY] "
	    "[--skey SIGNER.pub]...\n"
	    "           [--witness VKEY]... [--quorum N] [--json]\n"
	    "       gatewayctl receipt check-consistency --state FILE "
	    "[-c conf] [--vkey LOGVKEY]\n"
	    "           [--witness VKEY]... [--quorum N] NEWCHECKPOINT "
	    "[PROOF.json]\n");
}

/* The keys from -c (log key, origin, signing key, witnesses and quorum
 * unless given), --vkey, --skey and --witness. 0, -1 (said), or 1 when a
 * needed key is missing (a usage error). */
static int
receipt_keys_load(const struct receipt_opts *o, int need_signer,
    struct receipt_keys *k)
{
	struct config		*cf = NULL;
	struct note_verifier	 v;
	const char		*kp;
	size_t			 i;
	int			 has_log = 0, rc = -1;

	memset(k, 0, sizeof(*k));
	if (o->conf != NULL) {
		if ((cf = config_load(o->conf)) == NULL)
			return -1;
		if (str_copy(k->origin, sizeof(k->origin), cf->keeper.origin) ==
		    -1)
			goto done;
		if (o->vkey == NULL) {
			if (audit_config_verifier(cf, &k->log) == -1)
				goto done;
			has_log = 1;
		}
		kp = cf->keeper.signing_key[0] ? cf->keeper.signing_key :
		    cf->keeper.log_key;
		if (need_signer && sign_key_load_private(kp,
		    &k->signers[k->nsigners]) == -1) {
			fprintf(stderr, "cannot read the signing key %s; give "
			    "--skey\n", kp);
			goto done;
		}
		k->nsigners += need_signer ? 1 : 0;
		for (i = 0; o->nwitnesses == 0 && i < cf->nwitnesses; i++)
			if (note_verifier_parse_alg(&v, cf->witnesses[i].key,
			    COSIG_ALG) == -1 || receipt_witness_add(k, &v) == -1) {
				fprintf(stderr, "witness %s: bad key\n",
				    cf->witnesses[i].name);
				goto done;
			}
		if (o->nwitnesses == 0 && !o->has_quorum)
			k->quorum = cf->keeper.witness_quorum;
	}
	if (o->vkey != NULL) {
		if (audit_vkey_load(o->vkey, NOTE_ALG_ED25519, &k->log) == -1)
			goto done;
		has_log = 1;
	}
	for (i = 0; i < o->nskeys; i++) {
		if (k->nsigners == AUDIT_MAX_KEYS) {
			fprintf(stderr, "at most %d signing keys\n", AUDIT_MAX_KEYS);
			goto done;
		}
		if (audit_load_key(o->skeys[i], &k->signers[k->nsigners]) == -1) {
			fprintf(stderr, "cannot read the signing key %s\n",
			    o->skeys[i]);
			goto done;
		}
		k->nsigners++;
	}
	for (i = 0; i < o->nwitnesses; i++)
		if (audit_vkey_load(o->witnesses[i], COSIG_ALG, &v) == -1 ||
		    receipt_witness_add(k, &v) == -1)
			goto done;
	if (o->has_quorum)
		k->quorum = o->quorum;
	else if (o->nwitnesses > 0 || cf == NULL)
		k->quorum = k->nwitnesses;
	if (k->quorum > k->nwitnesses) {
		fprintf(stderr, "a quorum of %llu needs at least as many "
		    "witnesses (%zu given)\n", (unsigned long long)k->quorum,
		    k->nwitnesses);
		rc = 1;
		goto done;
	}
	rc = !has_log || (need_signer && k->nsigners == 0) ? 1 : 0;
	if (rc == 1)
		fprintf(stderr, "receipt: need the log key (--vkey or -c)%s\n",
		    need_signer ? " and the signing key (--skey or -c)" : "");
done:
	config_free(cf);
	return rc;
}

static void
receipt_keys_free(struct receipt_keys *k)
{
	size_t	i;

	for (i = 0; i < k->nsigners; i++)
		sign_key_free(k->signers[i]);
	k->nsigners = 0;
}

static void
receipt_report(const struct receipt_opts *o, const struct receipt_keys *k,
    const struct receipt_info *r, int ok)
{
	json_t	*j;
	char	*s;

	if (o->json) {
		j = ok ? json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, "
		    "s:I}", "result", "ok", "status", r->status, "kind", r->kind,
		    "id", r->id, "audit_index", (json_int_t)r->index,
		    "tree_size", (json_int_t)r->size, "log", r->origin,
		    "cosignatures", (json_int_t)r->cosigs, "quorum",
		    (json_int_t)k->quorum) :
		    json_pack("{s:s, s:s}", "result", "bad", "why", r->why);
		if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL) {
			json_decref(j);
			printf("{\"result\":\"%s\"}\n", ok ? "ok" : "bad");
			return;
		}
		printf("%s\n", s);
		free(s);
		json_decref(j);
		return;
	}
	if (ok)
		printf("receipt OK: %s %s (%s) is entry %llu of %s, in its "
		    "checkpoint of size %llu with %zu of %zu witness "
		    "cosignatures (quorum %llu)\n", r->kind, r->id, r->status,
		    (unsigned long long)r->index, r->origin,
		    (unsigned long long)r->size, r->cosigs, k->nwitnesses,
		    (unsigned long long)k->quorum);
	else
		printf("receipt BAD: %s\n", r->why);
}

static int
receipt_cmd_verify(const struct receipt_opts *o)
{
	struct receipt_keys	*k;
	struct receipt_info	 r;
	char			*text;
	size_t			 len;
	int			 rc;

	/* Large: 32 witnesses' verifiers. */
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return CTL_EXIT_FAIL;
	if ((rc = receipt_keys_load(o, 1, k)) != 0) {
		receipt_keys_free(k);
		free(k);
		return rc == 1 ? CTL_EXIT_USAGE : CTL_EXIT_FAIL;
	}
	if ((text = audit_read_file_max(o->file, RECEIPT_MAX_FILE, &len)) ==
	    NULL) {
		memset(&r, 0, sizeof(r));
		receipt_bad(&r, "cannot read %s: %s", o->file, strerror(errno));
		rc = -1;
	} else
		rc = receipt_verify(k, text, len, &r);
	receipt_report(o, k, &r, rc == 0);
	free(text);
	receipt_keys_free(k);
	free(k);
	return rc == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

static int
receipt_cmd_consistency(const struct receipt_opts *o)
{
	struct receipt_keys	*k;
	char			*oldn = NULL, *newn = NULL, *proof = NULL;
	char			 why[AUDIT_WHY_MAX] = "";
	size_t			 oldlen = 0, newlen = 0, plen = 0;
	uint64_t		 m, n2;
	int			 rc;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return CTL_EXIT_FAIL;
	if ((rc = receipt_keys_load(o, 0, k)) != 0) {
		receipt_keys_free(k);
		free(k);
		return rc == 1 ? CTL_EXIT_USAGE : CTL_EXIT_FAIL;
	}
	rc = -1;
	if ((newn = audit_read_file_max(o->file, NOTE_MAX_LEN, &newlen)) ==
	    NULL)
		audit_say(why, sizeof(why), "cannot read %s: %s", o->file,
		    strerror(errno));
	else if (o->proof != NULL && (proof = audit_read_file_max(o->proof,
	    RECEIPT_MAX_FILE, &plen)) == NULL)
		audit_say(why, sizeof(why), "cannot read %s: %s", o->proof,
		    strerror(errno));
	else if ((oldn = audit_read_file_max(o->state, NOTE_MAX_LEN,
	    &oldlen)) == NULL && errno != ENOENT)
		audit_say(why, sizeof(why), "cannot read %s: %s", o->state,
		    strerror(errno));
	else if (receipt_extends(k, oldn, oldlen, newn, newlen, proof, plen, &m,
	    &n2, why, sizeof(why)) == 0) {
		/* Kept as served, cosignatures included: the next run checks
		 * it the same way. */
		if (receipt_state_write(o->state, newn, newlen) == -1)
			audit_say(why, sizeof(why), "cannot replace %s", o->state);
		else
			rc = 0;
	}
	if (rc == 0 && oldn == NULL)
		printf("consistent: (no kept checkpoint) -> %llu\n",
		    (unsigned long long)n2);
	else if (rc == 0)
		printf("consistent: %llu -> %llu\n", (unsigned long long)m,
		    (unsigned long long)n2);
	else
		printf("INCONSISTENT: %s\n", why);
	free(oldn);
	free(newn);
	free(proof);
	receipt_keys_free(k);
	free(k);
	return rc == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

static int
receipt_run(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "vkey", required_argument, NULL, 'k' },
		{ "skey", required_argument, NULL, 'K' },
		{ "witness", required_argument, NULL, 'w' },
		{ "quorum", required_argument, NULL, 'q' },
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct receipt_opts	 o;
	const char		*sub;
	int			 ch, verify;

	memset(&o, 0, sizeof(o));
	if (argc < 2)
		goto usage;
	sub = argv[1];
	if (strcmp(sub, "verify") == 0)
		verify = 1;
	else if (strcmp(sub, "check-consistency") == 0)
		verify = 0;
	else
		goto usage;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o.conf = optarg;
			break;
		case 'k':
			o.vkey = optarg;
			break;
		case 'K':
			if (o.nskeys == AUDIT_MAX_KEYS)
				goto usage;
			o.skeys[o.nskeys++] = optarg;
			break;
		case 'w':
			if (o.nwitnesses == RECEIPT_MAX_WITNESSES)
				goto usage;
			o.witnesses[o.nwitnesses++] = optarg;
			break;
		case 'q':
			if (parse_u64(optarg, 0, RECEIPT_MAX_WITNESSES,
			    &o.quorum) == -1)
				goto usage;
			o.has_quorum = 1;
			break;
		case 's':
			o.state = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind < argc)
		o.file = argv[optind++];
	if (!verify && optind < argc)
		o.proof = argv[optind++];
	if (optind != argc || o.file == NULL)
		goto usage;
	if (verify && o.state == NULL)
		return receipt_cmd_verify(&o);
	if (!verify && o.state != NULL && !o.json && o.nskeys == 0)
		return receipt_cmd_consistency(&o);
usage:
	receipt_usage();
	return CTL_EXIT_USAGE;
}

const struct ctl_command ctl_receipt_command = {
	.name = "receipt",
	.synopsis = "verify|check-consistency ...",
	.help = "check a receipt, or a newer checkpoint, offline with public keys",
	.run = receipt_run,
};
