/* Delivery outcomes and operators' re-queueing, as the ledger records them:
 * an entry per attempt, the outbox row moved on, the instruction's state,
 * and an alert when a row is parked. */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "keeper/alerts.h"
#include "keeper/entry.h"
#include "keeper/ledger_int.h"
#include "keeper/outbox.h"
#include "log.h"
#include "util.h"

int
ledger_delivered(struct ledger *l, const struct ipc_delivered *d,
    uint64_t *index, int *parked)
{
	static const char *const outcomes[] = { "", "delivered", "retry",
	    "refused" };
	struct outbox_row	 row;
	enum outbox_state	 state;
	enum instr_kind		 kind;
	json_t			*e;
	char			 t[40], hex[65];
	int			 rc, ok = d->outcome == DELIVERY_OK;

	*parked = 0;
	if ((rc = outbox_get(l->ob, d->seq, &row, &state)) == -1)
		return -1;
	if (rc == 0 || state != OUTBOX_PENDING || d->outcome < DELIVERY_OK ||
	    d->outcome > DELIVERY_REFUSED) {
		if (rc == 1)
			outbox_row_clear(&row);
		log_warnx("%s: outcome for row %llu ignored", __func__,
		    (unsigned long long)d->seq);
		return 0;
	}
	entry_time(t, sizeof(t));
	hex_encode(hex, d->response_sha256, 32);
	e = json_pack("{s:s, s:s, s:s, s:I, s:{s:s, s:s}, s:s, s:s, s:I, s:s,"
	    " s:i, s:s, s:I}",
	    "kind", "delivery", "time", t, "source", "courier",
	    "outbox", (json_int_t)d->seq,
	    "instruction", "kind", row.kind, "id", row.id,
	    "upstream", (row.upstream >= 0) ?
	    l->cf->upstreams[row.upstream].name : "?",
	    "path", row.path,
	    "attempt", (json_int_t)(row.attempts + 1),
	    "outcome", outcomes[d->outcome], "status", (int)d->status,
	    "response_sha256", hex, "duration_ms", (json_int_t)d->duration_ms);
	if (e != NULL && d->outcome != DELIVERY_OK &&
	    ipc_str_ok(d->error, sizeof(d->error)))
		json_object_set_new(e, "error", json_string(d->error));
	/* Whether this attempt parks the row is known before the entry. */
	if (e != NULL && !ok && (d->outcome == DELIVERY_REFUSED ||
	    outbox_last_attempt(l->ob, &row)))
		json_object_set_new(e, "alert", json_string("delivery-parked"));
	if (ledger_append(l, e, index) == -1 ||
	    outbox_attempted(l->ob, &row, state, ok,
	    d->outcome == DELIVERY_REFUSED,
	    d->status, ipc_str_ok(d->error, sizeof(d->error)) ? d->error : "",
	    *index, parked, NULL) == -1) {
		outbox_row_clear(&row);
		return -1;
	}
	rc = 0;
	/* A parked row waits for an operator: an alert (its entry is this
	 * attempt's), one per row and park. */
	if (*parked) {
		char	subject[64];
		int	raised;

		str_printf(subject, sizeof(subject), "outbox %llu attempt %u",
		    (unsigned long long)d->seq, row.attempts + 1);
		rc = alerts_raise(l->al, "delivery-parked", "", "", subject,
		    json_pack("{s:I, s:s, s:s, s:s, s:i, s:s}", "outbox",
		    (json_int_t)d->seq, "kind", row.kind, "id", row.id,
		    "upstream", row.upstream >= 0 ?
		    l->cf->upstreams[row.upstream].name : "?", "status",
		    (int)d->status, "error", ipc_str_ok(d->error,
		    sizeof(d->error)) ? d->error : ""), *index, &raised);
	}
	if (rc == 0 && instr_kind_parse(row.kind, &kind) == 0) {
		if (*parked)
			rc = ledger_event(l, kind, row.id, LE_PARKED);
		else if (ok && outbox_all_delivered(l->ob, row.kind, row.id) == 1)
			rc = ledger_event(l, kind, row.id, LE_DELIVERED);
	}
	outbox_row_clear(&row);
	return rc;
}

int
ledger_requeue(struct ledger *l, uint64_t seq, const char *who,
    struct ledger_reply *r)
{
	json_t	*e;
	char	 t[40];
	int	 rc;

	memset(r, 0, sizeof(*r));
	if ((rc = outbox_requeue(l->ob, seq)) == -1)
		return -1;
	if (rc == 0) {
		ledger_reply_text(r, 404, "not-parked",
		    "no parked outbox row has that number");
		return 0;
	}
	entry_time(t, sizeof(t));
	e = json_pack("{s:s, s:s, s:s, s:I}", "kind", "outbox-retry",
	    "time", t, "agency", who, "outbox", (json_int_t)seq);
	if (ledger_append(l, e, &r->index) == -1)
		return -1;
	ledger_reply_text(r, 200, "", "requeued");
	return 0;
}
