/* The admin listener's own endpoints: liveness and readiness (workers up,
 * every upstream reachable over mutual TLS). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "net/upstream.h"
#include "relay/relay.h"
#include "runtime.h"
#include "util.h"

struct admin_probe;

struct admin_slot {
	struct admin_probe	*p;
	struct upstream_conn	*uc;
	int			 up;
};

/* One readiness check: a connection to every upstream, in parallel. It
 * outlives its client if need be (c is then NULL). */
struct admin_probe {
	struct relay		*r;
	struct relay_conn	*c;
	unsigned		 pending;
	struct admin_slot	 slot[CFG_MAX_UPSTREAMS];
};

void
admin_probe_detach(struct admin_probe *p)
{
	p->c = NULL;
}

static void
admin_ready_reply(struct admin_probe *p)
{
	struct relay_conn	*c = p->c;
	struct relay		*r = p->r;
	char			 body[4096], item[CFG_NAME_MAX + 64];
	unsigned		 alive;
	size_t			 i;
	int			 ready, frozen;

	if (c != NULL) {
		c->probe = NULL;
		alive = atomic_load(&r->rt->shm->workers_alive);
		ready = alive >= r->cf->workers;
		str_copy(body, sizeof(body), "{\"upstreams\":{");
		for (i = 0; i < r->cf->nupstreams; i++) {
			str_printf(item, sizeof(item), "%s\"%s\":\"%s\"",
			    i ? "," : "", r->cf->upstreams[i].name,
			    p->slot[i].up ? "up" : "down");
			str_append(body, sizeof(body), item);
			ready = ready && p->slot[i].up;
		}
		/* A witness's evidence of a rollback or fork: the keeper
		 * refuses instructions until an operator acts. */
		frozen = atomic_load(&r->rt->kmetrics->log_frozen);
		ready = ready && !frozen;
		str_printf(item, sizeof(item), "},\"workers\":%u,\"log\":"
		    "\"%s\",\"status\":\"%s\"}\n", alive, frozen ? "frozen" :
		    "ok", ready ? "ready" : "not-ready");
		str_append(body, sizeof(body), item);
		conn_reply(c, ready ? 200 : 503, "application/json", body,
		    strlen(body));
	}
	free(p);
}

static void
admin_slot_done(struct admin_slot *s, int up)
{
	struct admin_probe	*p = s->p;

	s->up = up;
	if (s->uc != NULL) {
		/* A good connection warms the pool for the next request. */
		upstream_release(s->uc, up);
		s->uc = NULL;
	}
	if (--p->pending == 0)
		admin_ready_reply(p);
}

static void
admin_slot_event(struct bufferevent *bev, short what, void *arg)
{
	struct admin_slot	*s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		s->uc->connected = 1;
		admin_slot_done(s, 1);
	} else
		admin_slot_done(s, 0);
}

static void
admin_ready(struct relay_conn *c)
{
	struct relay		*r = c->r;
	struct admin_probe	*p;
	struct admin_slot	*s;
	size_t			 i;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		conn_reply_error(c, 500, "internal", "out of memory");
		return;
	}
	p->r = r;
	p->c = c;
	c->probe = p;
	p->pending = 1;		/* held until every probe is started */
	for (i = 0; i < r->cf->nupstreams; i++) {
		s = &p->slot[i];
		s->p = p;
		/* A handshake now, not an idle pooled connection: that one
		 * says only that the upstream was up when it was last used. */
		if ((s->uc = upstream_get_new(r->pools[i])) == NULL)
			continue;
		p->pending++;
		bufferevent_setcb(s->uc->bev, NULL, NULL, admin_slot_event, s);
		bufferevent_enable(s->uc->bev, EV_READ | EV_WRITE);
	}
	if (--p->pending == 0)
		admin_ready_reply(p);
}

static void
admin_metrics(struct relay_conn *c)
{
	struct evbuffer	*b;
	size_t		 len;

	if ((b = evbuffer_new()) == NULL ||
	    metrics_render(c->r->rt, b) == -1) {
		if (b != NULL)
			evbuffer_free(b);
		conn_reply_error(c, 500, "internal", "cannot render metrics");
		return;
	}
	len = evbuffer_get_length(b);
	conn_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	    (const char *)evbuffer_pullup(b, -1), len);
	evbuffer_free(b);
}

void
admin_request(struct relay_conn *c)
{
	const char	*url, *q;
	size_t		 len;
	static const char ok[] = "{\"status\":\"ok\"}\n";

	url = http_msg_url(&c->req, &len);
	if ((q = memchr(url, '?', len)) != NULL)
		len = (size_t)(q - url);
	/* POST /admin/outbox/{seq}/retry: the one admin action. */
	if (len > 20 && memcmp(url, "/admin/outbox/", 14) == 0 &&
	    memcmp(url + len - 6, "/retry", 6) == 0) {
		char		num[24];
		uint64_t	seq;

		if (c->req.method != HTTP_POST) {
			conn_reply_error(c, 405, "method-not-allowed",
			    "retry with POST");
			return;
		}
		if (len - 20 >= sizeof(num)) {
			conn_reply_error(c, 404, "no-route", "no such outbox row");
			return;
		}
		memcpy(num, url + 14, len - 20);
		num[len - 20] = '\0';
		if (parse_u64(num, 1, INT64_MAX, &seq) == -1) {
			conn_reply_error(c, 404, "no-route", "no such outbox row");
			return;
		}
		audit_outbox_retry(c, seq);
		return;
	}
	if (c->req.method != HTTP_GET && c->req.method != HTTP_HEAD) {
		conn_reply_error(c, 405, "method-not-allowed",
		    "admin endpoints are read-only");
		return;
	}
	if (len == 8 && memcmp(url, "/healthz", 8) == 0)
		conn_reply(c, 200, "application/json", ok, sizeof(ok) - 1);
	else if (len == 7 && memcmp(url, "/readyz", 7) == 0)
		admin_ready(c);
	else if (len == 8 && memcmp(url, "/metrics", 8) == 0)
		admin_metrics(c);
	else if (console_request(c, url, len) == 0)
		return;
	else
		conn_reply_error(c, 404, "no-route", "no such admin endpoint");
}
