/* Admission of client connections: the handshake budget and its
 * per-address share, the connection caps and their refusal, and the
 * lingering close that takes a finished connection out of the caps. */
#include <sys/socket.h>

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "relay/conn_int.h"
#include "relay/identity.h"
#include "relay/relay.h"
#include "metrics.h"
#include "runtime.h"
#include "util.h"

void
conn_refused(struct relay *r, enum listener_kind kind,
    enum metrics_conn_refusal why)
{
	atomic_fetch_add_explicit(&r->ms->conn_refused[kind][why], 1,
	    memory_order_relaxed);
}

/* Whether one more unauthenticated connection from peer fits. The walk is
 * bounded by the worker's handshake budget, never by the connections. */
int
conn_handshake_admit(struct relay *r, const char *peer)
{
	struct relay_conn	*c;
	unsigned		 n = 0;

	TAILQ_FOREACH(c, &r->handshakes, hs_entry)
		if (strcmp(c->peer, peer) == 0 && ++n >= r->hs_per_address)
			return 0;
	return 1;
}

/* The connection is authenticated, or going away: out of the budget. */
void
conn_handshake_leave(struct relay_conn *c)
{
	if (c->state != CONN_HANDSHAKE)
		return;
	TAILQ_REMOVE(&c->r->handshakes, c, hs_entry);
	c->r->nhandshakes--;
}

/* The connection no longer counts under the caps (it ends, or lingers). */
void
conn_uncount(struct relay_conn *c)
{
	struct relay	*r = c->r;

	if (c->counted_agency)
		atomic_fetch_sub(&r->rt->shm->slot[r->slot].agency[c->agency], 1);
	if (c->counted)
		atomic_fetch_sub(&r->rt->shm->slot[r->slot].total, 1);
	c->counted_agency = c->counted = 0;
}

/* Over a cap: the 503 goes out at once, before any request, and the slot
 * is given back as soon as it is flushed. Waiting for a request would let
 * a connection that never sends one hold the slot until idle_timeout. No
 * exchange took place, so there is an access line but no audit entry. */
static void
conn_refuse_capacity(struct relay_conn *c)
{
	char	body[512], line[2048];
	int	n;

	relay_request_id(c->r, c->rid, sizeof(c->rid));
	c->start_ms = now_ms();
	c->status = 503;
	c->code = "over-capacity";
	c->close_after = 1;
	conn_refused(c->r, c->kind, CONN_REFUSED_CAPACITY);
	if ((n = http_error_body(body, sizeof(body), c->code,
	    "too many connections, retry later", c->rid)) < 0)
		n = 0;
	c->bytes_out = (uint64_t)n;
	http_write_simple(bufferevent_get_output(c->bev), 503,
	    "application/json", body, (size_t)n, c->rid, 1, 1, NULL);
	access_format(c, line, sizeof(line));
	access_write(c->r, line, 0, 0);
	conn_set_state(c, CONN_CLOSING);
}

void
conn_handshake_done(struct relay_conn *c)
{
	struct relay	*r = c->r;
	SSL		*ssl = bufferevent_openssl_get_ssl(c->bev);
	unsigned	 n;

	atomic_fetch_add_explicit(&r->ms->handshakes[c->kind], 1,
	    memory_order_relaxed);
	conn_handshake_leave(c);
	atomic_fetch_add(&r->rt->shm->slot[r->slot].total, 1);
	c->counted = 1;
	if (runtime_conns_total(r->rt->shm, r->cf->workers) >
	    r->cf->limits.max_connections)
		c->over_capacity = 1;
	c->agency = identity_of_ssl(r->cf, ssl);
	if (c->agency < 0)
		atomic_fetch_add_explicit(&r->ms->unpinned, 1,
		    memory_order_relaxed);
	if (c->agency >= 0) {
		atomic_fetch_add(&r->rt->shm->slot[r->slot].agency[c->agency], 1);
		n = runtime_conns_agency(r->rt->shm, r->cf->workers, c->agency);
		c->counted_agency = 1;
		if (n > r->cf->limits.max_connections_per_agency)
			c->over_capacity = 1;
	} else
		log_info("%s: %s presented a certificate pinned to no agency",
		    __func__, c->peer);
	conn_set_state(c, CONN_IDLE);
	if (c->over_capacity)
		conn_refuse_capacity(c);
}

static void
conn_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_conn	*c = arg;
	char			 buf[16384];
	ssize_t			 n;
	int			 i;

	/* A few reads per wake-up: a fast sender cannot hog the loop. */
	for (i = 0; i < 4; i++) {
		if ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_free(c);	/* the client closed too (or reset) */
		return;
	}
}

/* nginx's lingering close: the answer is complete; close_notify and a FIN
 * follow it, then what the client still sends is read and dropped until
 * it closes, for CONN_LINGER_MS at most. Closing with unread bytes would
 * make the kernel send a reset, which can destroy the answer before the
 * client reads it. The connection leaves the caps: it will not be used
 * again, and a flood of refusals must not crowd out the agencies. */
void
conn_linger(struct relay_conn *c)
{
	struct relay	*r = c->r;
	SSL		*ssl = bufferevent_openssl_get_ssl(c->bev);
	int		 fd = bufferevent_getfd(c->bev);

	if (r->nlinger >= CONN_MAX_LINGER || fd == -1 ||
	    (c->linger_ev = event_new(r->base, fd, EV_READ | EV_PERSIST,
	    conn_linger_cb, c)) == NULL) {
		conn_free(c);
		return;
	}
	if (ssl != NULL) {
		SSL_shutdown(ssl);
		ERR_clear_error();
	}
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	shutdown(fd, SHUT_WR);
	conn_uncount(c);
	r->nlinger++;
	conn_set_state(c, CONN_LINGER);
	if (event_add(c->linger_ev, NULL) == -1)
		conn_free(c);
}
