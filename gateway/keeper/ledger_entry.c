/* What the ledger writes into the audit log for an exchange: the entry of an
 * accepted instruction's parts (signature, receipt), of a refusal (with its
 * alert), and of a replayed or conflicting duplicate. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "adapters/jcs.h"
#include "ipc.h"
#include "keeper/alerts.h"
#include "keeper/entry.h"
#include "keeper/inspect.h"
#include "keeper/ledger_int.h"
#include "keeper/sign.h"
#include "keeper/store.h"
#include "log.h"
#include "util.h"

/* {"alg", "key_id", "value"} of k's signature over msg; NULL on failure. */
json_t *
ledger_sign(const struct sign_key *k, const void *msg, size_t len)
{
	uint8_t	 sig[SIGN_MAX_SIG];
	size_t	 slen;

	if (sign_sign(k, msg, len, sig, sizeof(sig), &slen) == -1)
		return NULL;
	return ledger_sig_json(k, sig, slen);
}

json_t *
ledger_sig_json(const struct sign_key *k, const uint8_t *sig, size_t slen)
{
	char	*b64;
	json_t	*o;

	if (slen == 0 || (b64 = ledger_b64(sig, slen)) == NULL)
		return NULL;
	o = json_pack("{s:s, s:s, s:s}", "alg", sign_alg_name(k->alg),
	    "key_id", k->key_id, "value", b64);
	free(b64);
	return o;
}

/* The fields every entry of an exchange carries. */
json_t *
ledger_entry_base(struct ledger_ctx *x, const char *kind)
{
	char	t[40], src[32], h[65];

	entry_time(t, sizeof(t));
	str_printf(src, sizeof(src), "relay/%u", x->slot);
	hex_encode(h, x->m->request_sha256, 32);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:I, s:s}}",
	    "kind", kind, "time", t, "source", src,
	    "agency", x->m->agency, "request_id", x->m->request_id,
	    "request", "bytes", (json_int_t)x->m->request_bytes, "sha256", h);
}

/* Serializes e (taken) and appends it; *index its position. */
int
ledger_append(struct ledger *l, json_t *e, uint64_t *index)
{
	char	*buf;
	size_t	 len;
	int	 rc;

	if (e == NULL)
		return -1;
	rc = jcs_serialize(e, &buf, &len);
	json_decref(e);
	if (rc == -1)
		return -1;
	rc = store_append(l->st, buf, len, index);
	free(buf);
	return rc;
}

/* The same for an entry about x's instruction, which it carries as its
 * member "instruction" once the bytes were parsed: they passed
 * instr_parse_canonical, so they are the canonical form of the parsed
 * JSON and go in as they are, not serialized a second time. */
int
ledger_append_instr(struct ledger_ctx *x, json_t *e, uint64_t *index)
{
	char	*buf;
	size_t	 len;
	int	 rc;

	if (e == NULL)
		return -1;
	if (x->instr_json == NULL)
		return ledger_append(x->l, e, index);
	rc = jcs_serialize_with(e, "instruction", x->canon, x->clen, &buf,
	    &len);
	json_decref(e);
	if (rc == -1)
		return -1;
	rc = store_append(x->l->st, buf, len, index);
	free(buf);
	return rc;
}

void
ledger_reply_text(struct ledger_reply *r, int status, const char *code,
    const char *detail)
{
	r->status = status;
	str_copy(r->code, sizeof(r->code), code);
	r->body = strdup(detail);
	r->blen = r->body ? strlen(r->body) : 0;
}

/* A member of the instruction's JSON, or NULL. */
static const char *
ledger_instr_str(const struct ledger_ctx *x, const char *key)
{
	return json_string_value(json_object_get(x->instr_json, key));
}

/* Indexes the refusal at entry for the inspection report: by the fund
 * month it is about (the rule's, else the instruction's), in the same
 * transaction as its entry. */
static int
ledger_index_refusal(struct ledger_ctx *x, uint64_t entry, const char *time,
    const char *rule, int status, const char *city, const char *period)
{
	return inspect_refusal(x->l->db, entry, time, rule, status,
	    instr_kind_name((enum instr_kind)x->m->kind), x->in->id,
	    x->m->agency, city && city[0] ? city : ledger_instr_str(x,
	    "city_code"), period && period[0] ? period : ledger_instr_str(x,
	    "period"));
}

/* A refusal by a rule: logged with the instruction, nothing else changes.
 * Refusals that are early warnings (DESIGN §1) also raise an alert, its
 * figures (taken) saying why; the refusal's entry records both. */
int
ledger_refuse_alert(struct ledger_ctx *x, int status, const char *rule,
    const char *detail, struct ledger_reply *r, const char *city,
    const char *period, json_t *figures)
{
	json_t	*e = ledger_entry_base(x, "refusal");
	char	 t[40];
	int	 raised, rc = -1;

	if (e == NULL || str_copy(t, sizeof(t), json_string_value(
	    json_object_get(e, "time"))) == -1) {
		json_decref(e);
		goto done;
	}
	json_object_set_new(e, "rule", json_string(rule));
	json_object_set_new(e, "status", json_integer(status));
	json_object_set_new(e, "detail", json_string(detail));
	if (figures != NULL) {
		json_object_set_new(e, "alert", json_string(rule));
		json_object_set(e, "figures", figures);
	}
	if (ledger_append_instr(x, e, &r->index) == -1 ||
	    ledger_index_refusal(x, r->index, t, rule, status, city,
	    period) == -1)
		goto done;
	if (figures != NULL && alerts_raise(x->l->al, rule, city, period,
	    x->in->id, json_incref(figures), r->index, &raised) == -1)
		goto done;
	ledger_reply_text(r, status, rule, detail);
	rc = 0;
done:
	json_decref(figures);
	return rc;
}

int
ledger_refuse(struct ledger_ctx *x, int status, const char *rule,
    const char *detail, struct ledger_reply *r)
{
	return ledger_refuse_alert(x, status, rule, detail, r, NULL, NULL, NULL);
}

/* ledger_pending's job: the receipt's signature, in a signing thread. */
static void
ledger_receipt_sign(void *arg)
{
	struct ledger_pending	*p = arg;

	if (sign_sign(p->key, p->msg, p->mlen, p->sig, sizeof(p->sig),
	    &p->siglen) == -1)
		p->siglen = 0;
}

void
ledger_pending_free(struct ledger *l, struct ledger_pending *p)
{
	if (p == NULL)
		return;
	/* The job reads msg: never freed under a signing thread. */
	signer_wait(l->signer, &p->job);
	json_decref(p->o);
	free(p->msg);
	free(p->receipt);
	free(p);
}

/* The receipt: what the caller keeps as proof of acceptance. It commits
 * to the log: its own signature covers the instruction's digest and
 * signature, the log's origin, the entry's index and its leaf hash, so a
 * receipt checked against a cosigned checkpoint shows the log it came
 * from holds the instruction there. Its signature is made by a signing
 * thread while the committer goes on (*out, the caller's: queued with
 * ledger_receipt_queue or freed with ledger_pending_free). */
int
ledger_receipt_start(struct ledger_ctx *x, json_t *sig, uint64_t index,
    const char *status, struct ledger_pending **out)
{
	struct ledger_pending	*p = NULL;
	uint8_t			 leaf[MERKLE_HASH_LEN];
	char			 d[80], *b64 = NULL;
	int			 rc = -1;

	*out = NULL;
	str_printf(d, sizeof(d), "sha-256:%s", x->digest_hex);
	if (store_leaf(x->l->st, index, leaf) == -1 ||
	    (b64 = ledger_b64(leaf, sizeof(leaf))) == NULL ||
	    (p = calloc(1, sizeof(*p))) == NULL)
		goto done;
	p->job.fn = ledger_receipt_sign;
	p->job.arg = p;
	p->key = x->l->key;
	if (str_copy(p->kind, sizeof(p->kind), instr_kind_name(x->in->kind)) ==
	    -1 || str_copy(p->id, sizeof(p->id), x->in->id) == -1)
		goto done;
	p->o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:O}", "status",
	    status, "kind", p->kind, "id", p->id,
	    "audit_index", (json_int_t)index, "leaf_hash", b64, "log",
	    x->l->cf->keeper.origin, "digest", d, "signature", sig);
	if (p->o == NULL || jcs_serialize(p->o, &p->msg, &p->mlen) == -1)
		goto done;
	signer_submit(x->l->signer, &p->job);
	*out = p;
	p = NULL;
	rc = 0;
done:
	free(b64);
	ledger_pending_free(x->l, p);
	return rc;
}

/* Waits for p's signature and makes the receipt's bytes (p->receipt). */
static int
ledger_receipt_make(struct ledger *l, struct ledger_pending *p)
{
	json_t	*rsig;

	if (p->receipt != NULL)
		return 0;
	signer_wait(l->signer, &p->job);
	if ((rsig = ledger_sig_json(l->key, p->sig, p->siglen)) == NULL ||
	    json_object_set_new(p->o, "receipt_signature", rsig) == -1)
		return -1;
	return jcs_serialize(p->o, &p->receipt, &p->rlen);
}

int
ledger_receipt_queue(struct ledger *l, struct ledger_pending *p,
    struct ledger_reply *r)
{
	struct ledger_pending	**np;
	size_t			  n;

	if (l->npending == l->maxpending) {
		n = l->maxpending ? 2 * l->maxpending : 64;
		if ((np = reallocarray(l->pending, n, sizeof(*np))) == NULL)
			return -1;
		l->pending = np;
		l->maxpending = n;
	}
	p->r = r;
	l->pending[l->npending++] = p;
	return 0;
}

int
ledger_receipt_pending(struct ledger *l, const char *kind, const char *id,
    char **out, size_t *len)
{
	struct ledger_pending	*p;
	size_t			 i;

	for (i = 0; i < l->npending; i++) {
		p = l->pending[i];
		if (strcmp(p->kind, kind) != 0 || strcmp(p->id, id) != 0)
			continue;
		if (ledger_receipt_make(l, p) == -1 ||
		    (*out = malloc(p->rlen + 1)) == NULL)
			return -1;
		memcpy(*out, p->receipt, p->rlen + 1);
		*len = p->rlen;
		return 1;
	}
	return 0;
}

int
ledger_receipts_finish(struct ledger *l)
{
	struct ledger_pending	*p;
	sqlite3_stmt		*st = l->s[LG_RECEIPT];
	size_t			 i;
	int			 rc = 0;

	for (i = 0; i < l->npending; i++) {
		p = l->pending[i];
		if (rc == 0 && ledger_receipt_make(l, p) == -1)
			rc = -1;
		if (rc == 0) {
			sqlite3_bind_blob(st, 1, p->receipt, (int)p->rlen,
			    SQLITE_STATIC);
			sqlite3_bind_text(st, 2, p->kind, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, p->id, -1, SQLITE_STATIC);
			if (ledger_step(l, LG_RECEIPT, "receipt") == -1 ||
			    sqlite3_changes(l->db) != 1)
				rc = -1;
		}
		if (rc == 0) {
			p->r->body = p->receipt;
			p->r->blen = p->rlen;
			p->receipt = NULL;
		}
		ledger_pending_free(l, p);
	}
	l->npending = 0;
	if (rc == -1)
		log_warnx("%s: the receipts could not be stored", __func__);
	return rc;
}

void
ledger_receipts_abandon(struct ledger *l)
{
	size_t	i;

	for (i = 0; i < l->npending; i++)
		ledger_pending_free(l, l->pending[i]);
	l->npending = 0;
}

/* The same id again: the same content gets the original receipt byte for
 * byte; other content is a conflict and an alert. */
int
ledger_duplicate(struct ledger_ctx *x, const uint8_t digest[32],
    struct ledger_row *orig, struct ledger_reply *r)
{
	json_t	*e;
	char	 hex[65], subject[128], t[40];
	int	 raised;

	hex_encode(hex, orig->digest, 32);
	if (CRYPTO_memcmp(digest, orig->digest, 32) == 0) {
		if ((e = ledger_entry_base(x, "replay")) == NULL)
			return -1;
		json_object_set_new(e, "instruction_kind",
		    json_string(instr_kind_name(x->in->kind)));
		json_object_set_new(e, "id", json_string(x->in->id));
		json_object_set_new(e, "digest", json_string(hex));
		json_object_set_new(e, "original_index",
		    json_integer((json_int_t)orig->entry));
		if (ledger_append(x->l, e, &r->index) == -1)
			return -1;
		r->status = orig->status;
		r->flags = IPC_INSTR_REPLAYED;
		r->body = orig->receipt;
		r->blen = orig->rlen;
		orig->receipt = NULL;
		return 0;
	}
	if ((e = ledger_entry_base(x, "refusal")) == NULL)
		return -1;
	json_object_set_new(e, "rule", json_string("duplicate-conflict"));
	json_object_set_new(e, "alert",
	    json_string("duplicate-id-different-content"));
	json_object_set_new(e, "status", json_integer(409));
	json_object_set_new(e, "original_index",
	    json_integer((json_int_t)orig->entry));
	json_object_set_new(e, "original_digest", json_string(hex));
	if (str_copy(t, sizeof(t), json_string_value(json_object_get(e,
	    "time"))) == -1) {
		json_decref(e);
		return -1;
	}
	if (ledger_append_instr(x, e, &r->index) == -1 ||
	    ledger_index_refusal(x, r->index, t, "duplicate-conflict", 409,
	    orig->city, orig->period) == -1)
		return -1;
	/* Each conflicting attempt is its own warning: the subject names
	 * the entry, so none hides behind an earlier one. */
	str_printf(subject, sizeof(subject), "%s:%s@%llu",
	    instr_kind_name(x->in->kind), x->in->id, (unsigned long long)r->index);
	if (alerts_raise(x->l->al, "duplicate-id-different-content",
	    orig->city, orig->period, subject, json_pack("{s:s, s:s, s:s, "
	    "s:s, s:I}", "kind", instr_kind_name(x->in->kind), "id", x->in->id,
	    "original_digest", hex, "digest", x->digest_hex, "original_index",
	    (json_int_t)orig->entry), r->index, &raised) == -1)
		return -1;
	ledger_reply_text(r, 409, "duplicate-conflict",
	    "this id was already used for an instruction with other content");
	return 0;
}
