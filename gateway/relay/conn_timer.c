/* A client connection's deadlines: the timer each state arms, send_timeout
 * on a client that stops reading, and what happens when either runs out. */
#include <stdatomic.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "relay/conn_int.h"
#include "relay/relay.h"
#include "metrics.h"
#include "util.h"

void
conn_arm(struct relay_conn *c, uint64_t ms)
{
	struct timeval	tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

/* How long an exchange may wait without progress: a passthrough as long
 * as its upstream's connect and read timeouts allow (so they hold while the
 * upstream is paused for a client that reads nothing), anything else
 * send_timeout. */
uint64_t
conn_wait_ms(const struct relay_conn *c)
{
	const struct cfg_upstream	*u;

	if (c->px != NULL && c->route != NULL) {
		u = &c->r->cf->upstreams[c->route->upstream];
		return u->connect_timeout_ms + u->timeout_ms;
	}
	return c->r->cf->listeners[c->kind].send_timeout_ms;
}

/* A client that takes nothing of what is queued for it for send_timeout is
 * dropped: a reader that never reads must not hold an exchange. */
void
conn_send_timeout(struct relay_conn *c)
{
	uint64_t	ms = c->r->cf->listeners[c->kind].send_timeout_ms;
	struct timeval	tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	bufferevent_set_timeouts(c->bev, NULL, &tv);
}

/* send_timeout: the client took nothing of its answer for that long. The
 * exchange ends, with its upstream connection, and the log says why. */
void
conn_send_timed_out(struct relay_conn *c)
{
	atomic_fetch_add_explicit(&c->r->ms->send_timeouts[c->kind], 1,
	    memory_order_relaxed);
	log_info("%s: request %s from %s: the client read nothing for %llu ms",
	    __func__, c->rid, c->peer, (unsigned long long)
	    c->r->cf->listeners[c->kind].send_timeout_ms);
	if (c->state == CONN_READING || c->state == CONN_WAITING) {
		c->code = "send-timeout";
		if (c->status == 0)
			c->status = 499;
		audit_exchange(c);
	}
	conn_free(c);
}

/* The wait deadline: progress since it was armed (the client took bytes,
 * or the answer grew) re-arms it; otherwise the exchange ends. */
static void
conn_wait_timed_out(struct relay_conn *c)
{
	uint64_t	now = now_ms(), limit = conn_wait_ms(c);
	size_t		out;

	out = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (out != c->wait_out)
		c->progress_ms = now;
	c->wait_out = out;
	if (now - c->progress_ms < limit) {
		conn_arm(c, limit - (now - c->progress_ms));
		return;
	}
	if (c->px != NULL && c->status == 0) {
		proxy_free(c->px);
		c->px = NULL;
		conn_reply_error(c, 504, "upstream-timeout",
		    "no progress on the exchange in time");
		return;
	}
	c->code = "wait-timeout";
	if (c->status == 0)
		c->status = 504;
	conn_abort(c, "no progress on the exchange in time");
}

void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_conn	*c = arg;

	switch (c->state) {
	case CONN_READING:
		if (c->px != NULL) {
			proxy_free(c->px);
			c->px = NULL;
		}
		if (c->status == 0) {
			c->close_after = 1;
			conn_reply_error(c, 408, "request-timeout",
			    "request not received in time");
			return;
		}
		/* Answered early (an upstream's response, a refusal at the
		 * head) but the body never came: still an exchange to log. */
		if (c->code == NULL)
			c->code = "request-timeout";
		conn_abort(c, "the rest of the request body did not come in time");
		return;
	case CONN_HANDSHAKE:
		atomic_fetch_add_explicit(&c->r->ms->tls_failures[c->kind]
		    [TLS_FAIL_TIMEOUT], 1, memory_order_relaxed);
		log_info("%s: TLS handshake with %s timed out", __func__, c->peer);
		conn_free(c);
		return;
	case CONN_WAITING:
		conn_wait_timed_out(c);
		return;
	case CONN_IDLE:
	case CONN_CLOSING:
	case CONN_LINGER:
		conn_free(c);
		return;
	}
}
