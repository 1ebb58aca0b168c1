/* The keeper's side of the relays' channels: every message a relay worker
 * sends is read here, checked (a malformed one ends the channel), and either
 * gathered for the next group commit or, for a read-only question, answered
 * at once; the commit's answers go back the same way. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "adapters/instr.h"
#include "keeper/entry.h"
#include "keeper/keeper_int.h"
#include "keeper/ledger.h"
#include "keeper/query.h"
#include "keeper/signer.h"
#include "log.h"
#include "util.h"

static void	keeper_read(struct bufferevent *, void *);

void
keeper_chan_close(struct keeper_chan *ch)
{
	if (ch->bev != NULL) {
		bufferevent_free(ch->bev);
		ch->bev = NULL;
	}
	ch->gen++;
}

static void
keeper_chan_event(struct bufferevent *bev, short what, void *arg)
{
	struct keeper_chan	*ch = arg;

	/* The worker is gone; the parent will hand us its successor. */
	log_debug("relay channel %u closed", ch->slot);
	keeper_chan_close(ch);
}

void
keeper_reply_appended(struct keeper *k, struct keeper_item *it, int ok,
    uint64_t index, const char *error)
{
	struct keeper_chan	*ch = &k->chans[it->chan];
	struct ipc_appended	 a;

	if (ch->bev == NULL || ch->gen != it->gen)
		return;		/* the requester died; the entry stands */
	memset(&a, 0, sizeof(a));
	a.ok = ok;
	a.index = index;
	if (error != NULL)
		str_copy(a.error, sizeof(a.error), error);
	ipc_send(bufferevent_get_output(ch->bev), IPC_APPENDED, it->id, &a,
	    sizeof(a));
}

void
keeper_reply_instr(struct keeper *k, struct keeper_item *it, int ok)
{
	struct keeper_chan	*ch = &k->chans[it->chan];
	struct ipc_instr_reply	 a;
	const char		*body = it->reply.body;
	size_t			 blen = it->reply.blen;

	if (ch->bev == NULL || ch->gen != it->gen)
		return;		/* the requester died; the outcome stands */
	memset(&a, 0, sizeof(a));
	if (!ok) {
		a.status = 503;
		str_copy(a.code, sizeof(a.code), "audit-unavailable");
		body = "the audit log cannot be written";
		blen = strlen(body);
	} else {
		a.status = it->reply.status;
		a.flags = it->reply.flags;
		a.index = it->reply.index;
		str_copy(a.code, sizeof(a.code), it->reply.code);
	}
	ipc_send2(bufferevent_get_output(ch->bev), IPC_INSTR_REPLY, it->id, &a,
	    sizeof(a), body, blen);
}

static void
keeper_append(struct keeper *k, struct keeper_chan *ch, uint64_t id,
    char *data, size_t len)
{
	keeper_item_add(k, ch, id, KI_ENTRY, data, len);
	keeper_item_added(k);
}

/* An instruction from a relay: a copy of its canonical bytes waits for the
 * commit; a signing thread parses them again and signs them meanwhile. */
static int
keeper_instr(struct keeper *k, struct keeper_chan *ch, const struct ipc_hdr *h)
{
	const struct ipc_instr	*m = k->msg;
	struct keeper_item	*it;
	struct ledger_prep	*prep;
	size_t			 len = h->len - sizeof(*m);
	char			*data;

	if (!ipc_str_ok(m->request_id, sizeof(m->request_id)) ||
	    !ipc_str_ok(m->agency, sizeof(m->agency)) ||
	    !ipc_str_ok(m->city, sizeof(m->city)) || m->role >= ROLE_COUNT ||
	    m->kind < INSTR_COLLECTION || m->kind > INSTR_KIND_LAST ||
	    len == 0)
		return -1;
	if ((data = malloc(len + 1)) == NULL)
		return -1;
	memcpy(data, (const char *)k->msg + sizeof(*m), len);
	data[len] = '\0';
	/* Parsed and signed by a signing thread from now on, while the
	 * committing thread writes the batch before this one. */
	if ((prep = ledger_prep_new(k->lg, m->kind, data, len)) == NULL) {
		free(data);
		return -1;
	}
	signer_submit(k->signer, ledger_prep_job(prep));
	it = keeper_item_add(k, ch, h->id, KI_INSTR, data, len);
	it->m.instr = *m;
	it->prep = prep;
	keeper_item_added(k);
	return 0;
}

/* query_party_fn: the ledger knows the parties to what an entry is about. */
static int
keeper_entry_party(void *arg, const struct ipc_audit_query *q,
    const char *entry, size_t len)
{
	return ledger_entry_party(arg, q->agency, q->role, entry, len);
}

/* A read-only question, answered at once (between commits). */
static void
keeper_answer(struct keeper *k, struct keeper_chan *ch, const struct ipc_hdr *h)
{
	struct ipc_audit_reply	 r;
	char			*body = NULL;
	size_t			 blen = 0;

	if (h->type == IPC_AUDIT_QUERY)
		query_answer(k->st, k->msg, keeper_entry_party, k->lg, &r,
		    &body, &blen);
	else if (h->type == IPC_TRANSFER_QUERY)
		ledger_transfer(k->lg, k->msg, &r, &body, &blen);
	else
		ledger_report(k->lg, k->msg, &r, &body, &blen);
	if (ipc_send2(bufferevent_get_output(ch->bev), IPC_AUDIT_REPLY, h->id,
	    &r, sizeof(r), body, blen) == -1) {
		/* Bigger than a message may be: say so, never leave the
		 * relay waiting or send part of it. */
		free(body);
		query_too_large(&r, &body, &blen);
		ipc_send2(bufferevent_get_output(ch->bev), IPC_AUDIT_REPLY, h->id,
		    &r, sizeof(r), body, blen);
	}
	free(body);
}

/* Takes every whole message queued on a relay channel. A malformed one ends
 * the channel: the relay is not trusted to be well-behaved. */
static void
keeper_read(struct bufferevent *bev, void *arg)
{
	struct keeper_chan	*ch = arg;
	struct keeper		*k = ch->k;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct ipc_hdr		 h;
	char			*data;
	size_t			 len;
	int			 rc;

	while (ch->bev != NULL && (rc = ipc_recv(in, &h, k->msg)) != 0) {
		if (rc == -1)
			goto bad;
		switch (h.type) {
		case IPC_PASSTHROUGH:
			if (h.len != sizeof(struct ipc_passthrough))
				goto bad;
			if (entry_passthrough(k->msg, ch->slot, &data, &len) == -1) {
				struct keeper_item it;

				memset(&it, 0, sizeof(it));
				it.chan = (unsigned)(ch - k->chans);
				it.gen = ch->gen;
				it.id = h.id;
				keeper_reply_appended(k, &it, 0, 0,
				    "malformed exchange record");
				continue;
			}
			keeper_append(k, ch, h.id, data, len);
			break;
		case IPC_AUDIT_QUERY:
			if (h.len != sizeof(struct ipc_audit_query))
				goto bad;
			keeper_answer(k, ch, &h);
			break;
		case IPC_INSTR:
			if (h.len <= sizeof(struct ipc_instr) ||
			    keeper_instr(k, ch, &h) == -1)
				goto bad;
			break;
		case IPC_OUTBOX_RETRY: {
			struct keeper_item *it;

			if (h.len != sizeof(struct ipc_outbox_retry) ||
			    !ipc_str_ok(((struct ipc_outbox_retry *)k->msg)->agency,
			    sizeof(((struct ipc_outbox_retry *)k->msg)->agency)))
				goto bad;
			it = keeper_item_add(k, ch, h.id, KI_REQUEUE, NULL, 0);
			it->m.retry = *(struct ipc_outbox_retry *)k->msg;
			keeper_item_added(k);
			break;
		}
		case IPC_REPORT_QUERY:
			if (h.len != sizeof(struct ipc_report_query))
				goto bad;
			keeper_answer(k, ch, &h);
			break;
		case IPC_TRANSFER_QUERY:
			if (h.len != sizeof(struct ipc_transfer_query))
				goto bad;
			keeper_answer(k, ch, &h);
			break;
		default:
			goto bad;
		}
	}
	return;
bad:
	log_warnx("%s: relay %u sent a bad message; channel closed", __func__,
	    ch->slot);
	keeper_chan_close(ch);
}

/* A new relay worker's channel, handed over by the parent (cfd is taken). */
void
keeper_chan_open(struct keeper *k, uint32_t slot, int cfd)
{
	struct keeper_chan	*ch;
	size_t			 i;

	for (ch = NULL, i = 0; i < KEEPER_MAX_CHANS && ch == NULL; i++)
		if (k->chans[i].bev == NULL)
			ch = &k->chans[i];
	if (slot >= CFG_MAX_WORKERS || ch == NULL) {
		log_warnx("%s: no room for a channel of relay %u", __func__, slot);
		close(cfd);
		return;
	}
	ch->k = k;
	ch->slot = slot;
	if ((ch->bev = bufferevent_socket_new(k->base, cfd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(cfd);
		return;
	}
	/* Reads run before the commit (priority 1): a batch takes every
	 * record the relays have sent, in large reads, not 4 KiB ones. */
	bufferevent_priority_set(ch->bev, 0);
	bufferevent_set_max_single_read(ch->bev, KEEPER_READ_MAX);
	bufferevent_setcb(ch->bev, keeper_read, NULL, keeper_chan_event, ch);
	bufferevent_enable(ch->bev, EV_READ | EV_WRITE);
}
