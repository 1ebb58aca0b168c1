/* What the ledger shows: GET /v1/transfers/{id} (state, receipt,
 * deliveries, payments, an inclusion proof) and the reports and alerts. */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "keeper/alerts.h"
#include "keeper/cosigs.h"
#include "keeper/inspect.h"
#include "keeper/ledger_int.h"
#include "keeper/outbox.h"
#include "keeper/report.h"
#include "keeper/store.h"
#include "util.h"

/* Whether the caller (agency, role) is a party to the instruction: the
 * agency that sent it, the receivers of its deliveries, admin and the
 * auditor. */
static int
ledger_party(const char *agency, unsigned role, enum instr_kind kind,
    const struct ledger_row *row)
{
	unsigned	roles = 0;

	if (role == ROLE_ADMIN || role == ROLE_AUDITOR ||
	    strcmp(agency, row->agency) == 0)
		return 1;
	switch (kind) {
	case INSTR_COLLECTION:
	case INSTR_REMITTANCE:
		roles = 1u << ROLE_FINANCE;
		break;
	case INSTR_PLAN:
	case INSTR_REVIEW:
	case INSTR_BANK_STATUS:
	case INSTR_ACCOUNT_CHANGE:
	case INSTR_ACCOUNT_REVIEW:
		roles = 1u << ROLE_FINANCE | 1u << ROLE_HRSS;
		break;
	case INSTR_DISBURSEMENT:
		roles = 1u << ROLE_FINANCE | 1u << ROLE_HRSS;
		if (strcmp(agency, row->bank) == 0)
			return 1;
		break;
	case INSTR_BANK_NOTIFICATION:
		roles = 1u << ROLE_FINANCE;
		break;
	}
	return role < ROLE_COUNT && (roles & 1u << role) != 0;
}

/* The instruction an entry is about, for the kinds of entry that share
 * their instruction's parties (its acceptance, a replay of it, a delivery
 * of it): 1 and kind and id set, or 0. */
static int
ledger_entry_instr(json_t *e, const char *ekind, const char **kind,
    const char **id)
{
	json_t	*in;

	if (strcmp(ekind, "instruction") == 0 || strcmp(ekind, "delivery") == 0) {
		in = json_object_get(e, "instruction");
		*kind = json_string_value(json_object_get(in, "kind"));
		*id = json_string_value(json_object_get(in, "id"));
	} else if (strcmp(ekind, "replay") == 0) {
		*kind = json_string_value(json_object_get(e, "instruction_kind"));
		*id = json_string_value(json_object_get(e, "id"));
	} else
		return 0;
	return *kind != NULL && *id != NULL;
}

int
ledger_entry_party(struct ledger *l, const char *agency, unsigned role,
    const char *entry, size_t len)
{
	struct ledger_row	 row;
	enum instr_kind		 k;
	json_t			*e;
	const char		*ekind, *who, *ikind, *iid;
	int			 rc = 0;

	if (role == ROLE_ADMIN || role == ROLE_AUDITOR)
		return 1;
	if ((e = json_loadb(entry, len, 0, NULL)) == NULL)
		return -1;
	ekind = json_string_value(json_object_get(e, "kind"));
	who = json_string_value(json_object_get(e, "agency"));
	if (who != NULL && strcmp(who, agency) == 0)
		rc = 1;		/* the agency that caused it */
	else if (ekind == NULL)
		rc = 0;
	else if (strcmp(ekind, "alert") == 0)
		/* An alert of its own: for those who read /v1/alerts. */
		rc = role == ROLE_FINANCE || role == ROLE_HRSS;
	else if (ledger_entry_instr(e, ekind, &ikind, &iid) &&
	    instr_kind_parse(ikind, &k) == 0 &&
	    (rc = ledger_find(l, ikind, iid, &row)) == 1) {
		rc = ledger_party(agency, role, k, &row);
		free(row.receipt);
	}
	json_decref(e);
	return rc;
}

static json_t *
ledger_payments(struct ledger *l, const char *id)
{
	sqlite3_stmt	*st = l->s[LG_PAY_OF];
	json_t		*arr = json_array(), *p;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (arr != NULL && sqlite3_step(st) == SQLITE_ROW) {
		p = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}",
		    "end_to_end_id", ledger_text(st, 0),
		    "plan_id", ledger_text(st, 2), "city_code", ledger_text(st, 3),
		    "amount_fen", (json_int_t)sqlite3_column_int64(st, 4),
		    "account", ledger_text(st, 5), "status", ledger_text(st, 6));
		if (p != NULL && sqlite3_column_type(st, 7) == SQLITE_TEXT)
			json_object_set_new(p, "reason",
			    json_string(ledger_text(st, 7)));
		if (p != NULL && sqlite3_column_type(st, 8) == SQLITE_TEXT)
			json_object_set_new(p, "bank_reference",
			    json_string(ledger_text(st, 8)));
		json_array_append_new(arr, p);
	}
	sqlite3_reset(st);
	return arr;
}

/* An inclusion proof of entry index in the newest cosigned checkpoint, or
 * while none covers it in the newest checkpoint (with the cosignatures it
 * has), or null while no checkpoint covers it yet. */
static json_t *
ledger_proof(struct ledger *l, uint64_t index)
{
	uint8_t	 proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN], leaf[MERKLE_HASH_LEN];
	char	*note = NULL, *b, *full;
	size_t	 nlen, n, i, flen;
	uint64_t size = 0, cs;
	json_t	*o = NULL, *hs;
	int	 rc;

	if (cosigs_latest(l->db, &cs) == -1)
		return json_null();
	if (cs > index) {
		size = cs;
		rc = store_checkpoint_at(l->st, size, &note, &nlen);
	} else
		rc = store_checkpoint_latest(l->st, &note, &nlen, &size);
	if (rc != 0 || size <= index || cosigs_note(l->db, size, note, nlen,
	    &full, &flen) == -1) {
		free(note);
		return json_null();
	}
	free(note);
	note = full;
	if (store_subtree(l->st, index, 0, leaf) == -1 ||
	    merkle_inclusion_proof(store_subtree, l->st, index, size, proof[0],
	    MERKLE_MAX_PROOF, &n) == -1 || (hs = json_array()) == NULL) {
		free(note);
		return json_null();
	}
	for (i = 0; i < n; i++) {
		b = ledger_b64(proof[i], MERKLE_HASH_LEN);
		json_array_append_new(hs, b ? json_string(b) : json_null());
		free(b);
	}
	b = ledger_b64(leaf, MERKLE_HASH_LEN);
	o = json_pack("{s:I, s:I, s:s, s:o, s:s, s:b}", "index",
	    (json_int_t)index, "tree_size", (json_int_t)size, "leaf_hash",
	    b ? b : "", "hashes", hs, "checkpoint", note, "cosigned", cs == size);
	free(b);
	free(note);
	return o ? o : json_null();
}

static void
ledger_answer(struct ipc_audit_reply *r, int status, const char *code,
    const char *detail, char **body, size_t *blen)
{
	json_t	*o;

	r->status = status;
	str_copy(r->ctype, sizeof(r->ctype), "application/json");
	str_copy(r->code, sizeof(r->code), code);
	o = json_pack("{s:s, s:s}", "error", detail, "code", code);
	*body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	*blen = *body ? strlen(*body) : 0;
	json_decref(o);
}

void
ledger_transfer(struct ledger *l, const struct ipc_transfer_query *q,
    struct ipc_audit_reply *r, char **body, size_t *blen)
{
	struct ledger_row	 row;
	enum instr_kind		 kind = (enum instr_kind)q->kind, k;
	json_t			*o, *rec;
	int			 n = 0, rc;

	memset(r, 0, sizeof(*r));
	*body = NULL;
	*blen = 0;
	if (!ipc_str_ok(q->agency, sizeof(q->agency)) ||
	    !ipc_str_ok(q->id, sizeof(q->id)) || !instr_id_ok(q->id)) {
		ledger_answer(r, 400, "bad-id", "not an instruction id", body,
		    blen);
		return;
	}
	if (q->kind == 0) {
		/* Without a kind the id must name one instruction the caller
		 * may see: one primary-key lookup per kind (instructions
		 * have no index by id alone). */
		for (k = INSTR_COLLECTION; k <= INSTR_KIND_LAST; k++) {
			memset(&row, 0, sizeof(row));
			if (ledger_find(l, instr_kind_name(k), q->id, &row) ==
			    1 && ledger_party(q->agency, q->role, k, &row)) {
				kind = k;
				n++;
			}
			free(row.receipt);
		}
		if (n > 1) {
			ledger_answer(r, 409, "ambiguous-id", "several kinds of "
			    "instruction have this id: add ?kind=", body, blen);
			return;
		}
	}
	if (n == 0 && q->kind == 0)
		rc = 0;
	else if ((rc = ledger_find(l, instr_kind_name(kind), q->id, &row)) == 1 &&
	    !ledger_party(q->agency, q->role, kind, &row)) {
		free(row.receipt);
		rc = 0;
	}
	if (rc != 1) {
		ledger_answer(r, rc == 0 ? 404 : 500, rc == 0 ? "no-transfer" :
		    "internal", rc == 0 ? "no such transfer" :
		    "the ledger cannot be read", body, blen);
		return;
	}
	rec = json_loadb(row.receipt, row.rlen, 0, NULL);
	if (q->receipt)
		o = json_pack("{s:o, s:o}", "receipt", rec ? rec : json_null(),
		    "proof", ledger_proof(l, row.entry));
	else
		o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o}",
		    "kind", instr_kind_name(kind), "id", q->id,
		    "state", ledger_state_names[row.state], "agency",
		    row.agency, "audit_index", (json_int_t)row.entry,
		    "receipt", rec ? rec : json_null(),
		    "deliveries", outbox_of(l->ob, instr_kind_name(kind),
		    q->id), "proof", ledger_proof(l, row.entry));
	if (o != NULL && !q->receipt && kind == INSTR_DISBURSEMENT)
		json_object_set_new(o, "payments", ledger_payments(l, q->id));
	if (o != NULL && !q->receipt && kind == INSTR_PLAN) {
		json_object_set_new(o, "amount_fen", json_integer(row.amount));
		json_object_set_new(o, "approved_fen", row.approved >= 0 ?
		    json_integer(row.approved) : json_null());
		json_object_set_new(o, "disbursed_fen",
		    json_integer(row.disbursed));
	}
	free(row.receipt);
	*body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (*body == NULL) {
		ledger_answer(r, 500, "internal", "out of memory", body, blen);
		return;
	}
	*blen = strlen(*body);
	r->status = 200;
	str_copy(r->ctype, sizeof(r->ctype), "application/json");
}

/* GET /v1/reports/inspection: JSON, CSV (csv 1) or HTML (csv 2). */
static void
ledger_inspection(struct ledger *l, const struct ipc_report_query *q,
    struct ipc_audit_reply *r, char **body, size_t *blen)
{
	json_t		*o;
	char		 period[8];
	const char	*ctype = "application/json";
	int		 rc = -1;

	if (!ipc_str_ok(q->period, sizeof(q->period)) ||
	    !instr_period_ok(q->period)) {
		ledger_answer(r, 400, "bad-period", "period must be YYYY-MM",
		    body, blen);
		return;
	}
	str_copy(period, sizeof(period), q->period);
	if ((o = inspect_report(l->db, &l->cf->rules, period)) != NULL) {
		if (q->csv == 1) {
			rc = inspect_csv(o, body, blen);
			ctype = "text/csv; charset=UTF-8";
		} else if (q->csv == 2) {
			rc = inspect_html(o, body, blen);
			ctype = "text/html; charset=UTF-8";
		} else if ((*body = json_dumps(o, JSON_COMPACT |
		    JSON_SORT_KEYS)) != NULL) {
			*blen = strlen(*body);
			rc = 0;
		}
		json_decref(o);
	}
	if (rc == -1) {
		*body = NULL;
		ledger_answer(r, 500, "internal", "the report cannot be made",
		    body, blen);
		return;
	}
	r->status = 200;
	str_copy(r->ctype, sizeof(r->ctype), ctype);
}

void
ledger_report(struct ledger *l, const struct ipc_report_query *q,
    struct ipc_audit_reply *r, char **body, size_t *blen)
{
	json_t	*o = NULL;
	char	 period[8];

	memset(r, 0, sizeof(r[0]));
	*body = NULL;
	*blen = 0;
	if (q->what == REPORT_RECONCILIATION) {
		if (!ipc_str_ok(q->period, sizeof(q->period)) ||
		    !instr_period_ok(q->period)) {
			ledger_answer(r, 400, "bad-period", "period must be YYYY-MM",
			    body, blen);
			return;
		}
		str_copy(period, sizeof(period), q->period);
		o = report_reconciliation(l->db, &l->cf->rules, period);
		if (o != NULL && q->csv) {
			if (report_csv(o, body, blen) == 0) {
				json_decref(o);
				r->status = 200;
				str_copy(r->ctype, sizeof(r->ctype),
				    "text/csv; charset=UTF-8");
				return;
			}
			json_decref(o);
			o = NULL;
		}
	} else if (q->what == REPORT_ALERTS)
		o = alerts_list(l->db, q->since);
	else if (q->what == REPORT_ACCOUNTS || q->what == REPORT_ACCOUNT_CHANGES) {
		if (!ipc_str_ok(q->date, sizeof(q->date)) ||
		    !ipc_str_ok(q->state, sizeof(q->state)) ||
		    (q->date[0] != '\0' && !instr_date_ok(q->date)) ||
		    (q->state[0] != '\0' && strcmp(q->state, "submitted") != 0 &&
		    strcmp(q->state, "approved") != 0 &&
		    strcmp(q->state, "rejected") != 0)) {
			ledger_answer(r, 400, "bad-query", "bad date or state",
			    body, blen);
			return;
		}
		o = q->what == REPORT_ACCOUNTS ? ledger_accounts_json(l,
		    q->date) : ledger_account_changes(l, q->state);
	} else if (q->what == REPORT_INSPECTION) {
		ledger_inspection(l, q, r, body, blen);
		return;
	}
	*body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (*body == NULL) {
		ledger_answer(r, 500, "internal", "the report cannot be made",
		    body, blen);
		return;
	}
	*blen = strlen(*body);
	r->status = 200;
	str_copy(r->ctype, sizeof(r->ctype), "application/json");
}
