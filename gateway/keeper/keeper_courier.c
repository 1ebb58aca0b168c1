/* The keeper's side of the courier: its channel, the outcomes it reports,
 * and the window of rows each upstream has at the courier, filled in order
 * from the outbox (a failure opens a new epoch, so nothing overtakes it). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ipc.h"
#include "keeper/keeper_int.h"
#include "keeper/outbox.h"
#include "log.h"
#include "util.h"

/* Forgets the row seq sent to the courier. Returns its upstream, or -1 if
 * it was not sent. */
int
keeper_sent_remove(struct keeper *k, uint64_t seq)
{
	unsigned	u, i;

	for (u = 0; u < CFG_MAX_UPSTREAMS; u++)
		for (i = 0; i < k->ninflight[u]; i++) {
			if (k->inflight[u][i].seq != seq)
				continue;
			memmove(&k->inflight[u][i], &k->inflight[u][i + 1],
			    (k->ninflight[u] - i - 1) * sizeof(k->inflight[u][0]));
			k->ninflight[u]--;
			return (int)u;
		}
	return -1;
}

void
keeper_courier_gone(struct keeper *k)
{
	if (k->courier != NULL)
		bufferevent_free(k->courier);
	k->courier = NULL;
	k->courier_gen++;
	memset(k->ninflight, 0, sizeof(k->ninflight));
	/* What was in flight is sent again to the next courier: receivers
	 * honour Idempotency-Key, so a delivery made but not reported is
	 * not made twice. */
	memset(k->inflight, 0, sizeof(k->inflight));
	keeper_witness_reset(k);
}

static void
keeper_courier_event(struct bufferevent *bev, short what, void *arg)
{
	log_warnx("courier channel closed");
	keeper_courier_gone(arg);
}

/* One outcome from the courier. A failure starts a new epoch for its
 * upstream at once: nothing sent after it may be delivered before it is
 * retried. A skipped row was not attempted: nothing to log, it just leaves
 * the window (1 is returned). Everything else is recorded in the next
 * commit. */
static int
keeper_outcome(struct keeper *k, uint64_t id, const struct ipc_delivered *d)
{
	struct keeper_item	*it;
	uint32_t		 epoch;
	unsigned		 i;
	int			 u;

	if (d->outcome == DELIVERY_SKIPPED) {
		keeper_sent_remove(k, d->seq);
		return 1;
	}
	for (u = 0; u < (int)CFG_MAX_UPSTREAMS; u++)
		for (i = 0; i < k->ninflight[u]; i++)
			if (k->inflight[u][i].seq == d->seq &&
			    d->outcome != DELIVERY_OK) {
				epoch = k->inflight[u][i].epoch;
				if (epoch == k->epoch[u])
					k->epoch[u]++;
			}
	it = keeper_item_add(k, &k->chans[0], id, KI_DELIVERED, NULL, 0);
	it->gen = k->courier_gen;
	it->m.del = *d;
	keeper_item_added(k);
	return 0;
}

static void
keeper_courier_read(struct bufferevent *bev, void *arg)
{
	struct keeper		*k = arg;
	struct ipc_hdr		 h;
	int			 rc, skipped = 0;

	while (k->courier != NULL &&
	    (rc = ipc_recv(bufferevent_get_input(bev), &h, k->msg)) != 0) {
		if (rc == 1 && h.type == IPC_WITNESSED &&
		    h.len == sizeof(struct ipc_witnessed)) {
			keeper_witnessed(k, k->msg);
			continue;
		}
		if (rc == -1 || h.type != IPC_DELIVERED ||
		    h.len != sizeof(struct ipc_delivered)) {
			log_warnx("%s: bad message from the courier", __func__);
			keeper_courier_gone(k);
			return;
		}
		if (keeper_outcome(k, h.id, k->msg) == 1)
			skipped = 1;
	}
	/* Skipped rows are free to go again (after the failed one). */
	if (skipped)
		keeper_outbox_kick(k);
}

/* Sends one row to the courier in upstream u's current epoch. */
static void
keeper_send(struct keeper *k, unsigned u, const struct outbox_row *row)
{
	struct ipc_deliver	d;

	memset(&d, 0, sizeof(d));
	d.seq = row->seq;
	d.upstream = u;
	d.attempt = row->attempts + 1;
	d.epoch = k->epoch[u];
	str_copy(d.path, sizeof(d.path), row->path);
	str_copy(d.ctype, sizeof(d.ctype), row->ctype);
	str_copy(d.idempotency_key, sizeof(d.idempotency_key), row->idem);
	str_copy(d.headers, sizeof(d.headers), row->headers);
	if (ipc_send2(bufferevent_get_output(k->courier), IPC_DELIVER, row->seq,
	    &d, sizeof(d), row->body, row->blen) == -1) {
		log_warnx("%s: row %llu too large to send", __func__,
		    (unsigned long long)row->seq);
		return;
	}
	k->inflight[u][k->ninflight[u]].seq = row->seq;
	k->inflight[u][k->ninflight[u]].epoch = d.epoch;
	k->ninflight[u]++;
}

/* Fills each upstream's window with its pending rows, oldest first. It
 * stops at a row waiting out its backoff (the timer is set for it) and at
 * a row sent in an older epoch whose failure is not recorded yet: nothing
 * may overtake either. */
void
keeper_outbox_kick(struct keeper *k)
{
	struct outbox_row	 row;
	struct timeval		 tv;
	uint64_t		 seqs[2 * KEEPER_WINDOW], due[2 * KEEPER_WINDOW];
	uint64_t		 now = wall_ms(), next = 0;	/* as stored */
	unsigned		 u, i, j;
	int			 n, sent, stop;

	if (k->courier == NULL)
		return;
	for (u = 0; u < k->cf->nupstreams; u++) {
		if (k->ninflight[u] == KEEPER_WINDOW)
			continue;
		n = outbox_pending(ledger_outbox(k->lg), (int)u,
		    k->ninflight[u] + KEEPER_WINDOW, seqs, due);
		for (i = 0, stop = 0; !stop && i < (unsigned)(n < 0 ? 0 : n) &&
		    k->ninflight[u] < KEEPER_WINDOW; i++) {
			for (j = 0, sent = 0; j < k->ninflight[u]; j++)
				if (k->inflight[u][j].seq == seqs[i]) {
					sent = 1;
					stop = k->inflight[u][j].epoch !=
					    k->epoch[u];
				}
			if (sent)
				continue;
			if (due[i] > now) {
				if (next == 0 || due[i] < next)
					next = due[i];
				break;
			}
			if (outbox_get(ledger_outbox(k->lg), seqs[i], &row,
			    NULL) != 1)
				break;
			keeper_send(k, u, &row);
			outbox_row_clear(&row);
		}
	}
	if (next != 0) {
		next -= now;
		tv.tv_sec = (time_t)(next / 1000);
		tv.tv_usec = (suseconds_t)(next % 1000) * 1000;
		evtimer_add(k->ev_outbox, &tv);
	}
}

void
keeper_outbox_timer(evutil_socket_t fd, short what, void *arg)
{
	keeper_outbox_kick(arg);
}

void
keeper_courier_new(struct keeper *k, int fd)
{
	keeper_courier_gone(k);
	if ((k->courier = bufferevent_socket_new(k->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		return;
	}
	bufferevent_priority_set(k->courier, 0);
	bufferevent_set_max_single_read(k->courier, KEEPER_READ_MAX);
	bufferevent_setcb(k->courier, keeper_courier_read, NULL,
	    keeper_courier_event, k);
	bufferevent_enable(k->courier, EV_READ | EV_WRITE);
	log_info("courier channel open");
	keeper_outbox_kick(k);
	keeper_witness_kick(k);
}
