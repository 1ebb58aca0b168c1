/* gatewayctl audit verify, the worker's part of an entry: what it says about
 * the fund (instructions, delivery outcomes, re-queues) and about the files
 * in force (trust entries), with the keeper's signature over each
 * instruction checked against the key it names. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "adapters/instr_parse.h"
#include "adapters/jcs.h"
#include "ctl/ctl_audit.h"
#include "keeper/sign.h"
#include "trust.h"
#include "util.h"

/* The top-level kinds that move the fund's state, or say who may move it
 * (trust). An entry holds its own kind as "kind":"<name>" byte for byte
 * (canonical JSON), so entries with none of these (most of a busy log) are
 * never parsed. */
static const char *const audit_fact_kinds[] = {
	"instruction", "delivery", "outbox-retry", "trust",
};

static int
audit_fact_wanted(const char *p, size_t len)
{
	static const char	 key[] = "\"kind\":\"";
	const char		*end = p + len, *q;
	size_t			 i, n;

	while ((q = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
		q += sizeof(key) - 1;
		for (i = 0; i < nitems(audit_fact_kinds); i++) {
			n = strlen(audit_fact_kinds[i]);
			if ((size_t)(end - q) > n && memcmp(q,
			    audit_fact_kinds[i], n) == 0 && q[n] == '"')
				return 1;
		}
		p = q;
	}
	return 0;
}

#define audit_fact_bad(f, ...)	audit_say((f)->problem, sizeof((f)->problem), \
				    __VA_ARGS__)

/* The keeper's signature over the canonical instruction (ledger_sign):
 * by a key we hold, of the algorithm it names, valid. */
static void
audit_fact_signature(struct audit_fact *f, json_t *sig, const char *canon,
    size_t clen, struct sign_key *const *keys, size_t nkeys)
{
	const char	*alg = NULL, *kid = NULL, *val = NULL;
	uint8_t		 raw[SIGN_MAX_SIG + 3];
	size_t		 i, rlen;

	if (json_unpack(sig, "{s:s, s:s, s:s}", "alg", &alg, "key_id", &kid,
	    "value", &val) == -1) {
		audit_fact_bad(f, "its instruction signature is missing or "
		    "malformed");
		return;
	}
	for (i = 0; i < nkeys; i++)
		if (strcmp(keys[i]->key_id, kid) == 0)
			break;
	if (i == nkeys) {
		audit_fact_bad(f, "its instruction is signed by key %s, which "
		    "verify was not given (-c or --skey)", kid);
		return;
	}
	if (strcmp(alg, sign_alg_name(keys[i]->alg)) != 0 ||
	    audit_b64_decode(val, strlen(val), raw, sizeof(raw), &rlen) == -1 ||
	    sign_verify(keys[i], canon, clen, raw, rlen) == -1) {
		audit_fact_bad(f, "its instruction signature does not verify "
		    "with key %s", kid);
		return;
	}
	f->signed_checked = 1;
}

static void
audit_fact_instr(struct audit_fact *f, json_t *e, struct sign_key *const *keys,
    size_t nkeys)
{
	json_t			*in = json_object_get(e, "instruction");
	struct adapter_error	 err;
	enum instr_kind		 kind;
	const char		*k, *digest, *agency;
	char			*canon = NULL, hex[65];
	size_t			 clen;

	f->type = AF_INSTR;
	if (json_unpack(e, "{s:s, s:s}", "digest", &digest, "agency",
	    &agency) == -1 || !json_is_object(in) ||
	    json_unpack(in, "{s:s}", "kind", &k) == -1 ||
	    instr_kind_parse(k, &kind) == -1 ||
	    str_copy(f->agency, sizeof(f->agency), agency) == -1) {
		audit_fact_bad(f, "an instruction entry without its instruction, "
		    "kind, digest or agency");
		return;
	}
	/* The keeper signed the relay's canonical bytes; the entry holds
	 * them parsed, and canonical JSON gives them back exactly. */
	if (jcs_serialize(in, &canon, &clen) == -1) {
		audit_fact_bad(f, "its instruction is not canonical JSON");
		return;
	}
	SHA256((const unsigned char *)canon, clen, f->digest);
	hex_encode(hex, f->digest, 32);
	if (strcmp(hex, digest) != 0)
		audit_fact_bad(f, "its digest is not the instruction's");
	else
		audit_fact_signature(f, json_object_get(e, "signature"), canon,
		    clen, keys, nkeys);
	memset(&err, 0, sizeof(err));
	if (f->problem[0] == '\0' &&
	    instr_parse_canonical(canon, clen, kind, &f->in, &err) == -1)
		audit_fact_bad(f, "its instruction does not parse as the keeper "
		    "parses it");
	free(canon);
}

static void
audit_fact_delivery(struct audit_fact *f, json_t *e)
{
	const char	*outcome;
	json_int_t	 seq = 0, attempt = 0;

	f->type = AF_DELIVERY;
	if (json_unpack(e, "{s:I, s:I, s:s}", "outbox", &seq, "attempt",
	    &attempt, "outcome", &outcome) == -1 || seq < 0 || attempt < 1) {
		audit_fact_bad(f, "a delivery entry without its outbox row, "
		    "attempt or outcome");
		return;
	}
	f->seq = (uint64_t)seq;
	f->attempt = (uint64_t)attempt;
	f->ok = strcmp(outcome, "delivered") == 0;
	f->parked = json_object_get(e, "alert") != NULL;
}

/* A trust entry's files, as the keeper lists them (sorted by path, each
 * once, digests in lower-case hex), its "changed" and its "previous"; the
 * checker compares them with the trust entry before it. */
static void
audit_fact_trust(struct audit_fact *f, json_t *e)
{
	json_t		*files, *prev, *x, *again;
	const char	*reason = NULL, *role, *path, *hex;
	uint8_t		 h[32];
	size_t		 i;
	int		 same;

	f->type = AF_TRUST;
	f->trust.reason = TRUST_START;
	files = json_object_get(e, "files");
	prev = json_object_get(e, "previous");
	f->changed = json_incref(json_object_get(e, "changed"));
	if (json_unpack(e, "{s:s}", "reason", &reason) == -1 ||
	    (strcmp(reason, "start") != 0 && strcmp(reason, "reload") != 0) ||
	    !json_is_array(files) || !json_is_array(f->changed) ||
	    !(json_is_null(prev) || (json_is_integer(prev) &&
	    json_integer_value(prev) >= 0))) {
		audit_fact_bad(f, "a trust entry without its reason, files, "
		    "changes or previous trust entry");
		return;
	}
	f->has_prev = json_is_integer(prev);
	f->prev = f->has_prev ? (uint64_t)json_integer_value(prev) : 0;
	json_array_foreach(files, i, x) {
		if (json_unpack(x, "{s:s, s:s, s:s}", "role", &role, "path",
		    &path, "sha256", &hex) == -1 || strlen(hex) != 64 ||
		    hex_decode(h, sizeof(h), hex) == -1 ||
		    trust_add(&f->trust, role, path, h) == -1) {
			audit_fact_bad(f, "a trust entry with a malformed file");
			return;
		}
	}
	again = trust_files_json(&f->trust);
	same = again != NULL && json_equal(again, files);
	json_decref(again);
	if (!trust_valid(&f->trust) || !same)
		audit_fact_bad(f, "a trust entry whose files are not sorted by "
		    "path, each once, with lower-case digests");
}

int
audit_fact_read(const void *entry, size_t len, struct sign_key *const *keys,
    size_t nkeys, struct audit_fact **out)
{
	struct audit_fact	*f;
	json_t			*e;
	const char		*kind;
	json_int_t		 seq = 0;

	*out = NULL;
	if (!audit_fact_wanted(entry, len))
		return 0;
	/* Not JSON, or another kind: the tree vouches for it, no more. */
	if ((e = json_loadb(entry, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return 0;
	if (json_unpack(e, "{s:s}", "kind", &kind) == -1) {
		json_decref(e);
		return 0;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		json_decref(e);
		return -1;
	}
	if (strcmp(kind, "instruction") == 0)
		audit_fact_instr(f, e, keys, nkeys);
	else if (strcmp(kind, "delivery") == 0)
		audit_fact_delivery(f, e);
	else if (strcmp(kind, "outbox-retry") == 0) {
		f->type = AF_RETRY;
		if (json_unpack(e, "{s:I}", "outbox", &seq) == -1 || seq < 0)
			audit_fact_bad(f, "a re-queue entry without its outbox row");
		f->seq = (uint64_t)seq;
	} else if (strcmp(kind, "trust") == 0)
		audit_fact_trust(f, e);
	json_decref(e);
	if (f->type == AF_NONE) {
		free(f);
		return 0;
	}
	*out = f;
	return 0;
}

void
audit_fact_free(struct audit_fact *f)
{
	if (f == NULL)
		return;
	instr_free(&f->in);
	trust_free(&f->trust);
	json_decref(f->changed);
	free(f);
}
