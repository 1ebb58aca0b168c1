/* The access log: one JSON line per exchange (agency, route, status, bytes,
 * duration, request id, audit index), written whole with one write(2). */
#include <sys/socket.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "config.h"
#include "metrics.h"
#include "relay/relay.h"
#include "runtime.h"
#include "util.h"

void
access_format(struct relay_conn *c, char *dst, size_t dsz)
{
	const struct config	*cf = c->r->cf;
	const char		*url = "", *method = "", *agency = "-";
	const char		*role = "-", *route = "-", *upstream = "-";
	char			 path[512], epath[1100], ts[40];
	size_t			 ulen = 0;
	struct timespec		 now;
	struct tm		 tm;

	if (c->req.url_len > 0)
		url = http_msg_url(&c->req, &ulen);
	if (c->req.head_done)
		method = http_msg_method_name(&c->req);
	if (ulen >= sizeof(path))
		ulen = sizeof(path) - 1;
	memcpy(path, url, ulen);
	path[ulen] = '\0';
	json_escape(epath, sizeof(epath), path);
	if (c->agency >= 0) {
		agency = cf->agencies[c->agency].name;
		role = config_role_name(cf->agencies[c->agency].role);
	}
	if (c->route != NULL) {
		route = c->route->name;
		upstream = cf->upstreams[c->route->upstream].name;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	str_printf(dst, dsz, "{\"time\":\"%s.%03ldZ\","
	    "\"type\":\"access\",\"request_id\":\"%s\",\"listener\":\"%s\","
	    "\"peer\":\"%s\",\"agency\":\"%s\",\"role\":\"%s\","
	    "\"method\":\"%s\",\"path\":\"%s\",\"route\":\"%s\","
	    "\"upstream\":\"%s\",\"status\":%d,\"code\":\"%s\",\"bytes_in\":%llu,"
	    "\"bytes_out\":%llu,\"duration_ms\":%llu", ts,
	    now.tv_nsec / 1000000, c->rid,
	    c->kind == LISTENER_ADMIN ? "admin" : "agency", c->peer, agency,
	    role, method, epath, route, upstream, c->status,
	    c->code ? c->code : "", (unsigned long long)c->req.body_bytes,
	    (unsigned long long)c->bytes_out,
	    (unsigned long long)(now_ms() - c->start_ms));
}

/* Lines are gathered and written together, at the end of the loop pass or
 * once 32 KiB wait: one write(2) for many exchanges, each line still whole
 * (O_APPEND writes do not interleave). The log never blocks the loop (see
 * proc_access_nonblocking): what it does not take waits for it to become
 * writable, up to ACCESS_MAX_BUF; lines past that are dropped and counted
 * (gateway_access_log_dropped_total). */
#define ACCESS_FLUSH_AT	(32 * 1024)
#define ACCESS_MAX_BUF	(1024 * 1024)

static void
access_dropped(struct relay *r, const char *p, size_t len)
{
	uint64_t	n = 0;
	const char	*nl;

	while (len > 0 && (nl = memchr(p, '\n', len)) != NULL) {
		n++;
		len -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	atomic_fetch_add_explicit(&r->ms->access_dropped, n,
	    memory_order_relaxed);
}

static void	access_flush_cb(evutil_socket_t, short, void *);

void
access_flush(struct relay *r)
{
	struct evbuffer	*b = r->access_buf;
	int		 fd = r->rt->access_fd;
	const char	*p;
	size_t		 len;
	ssize_t		 n;

	while (b != NULL && (len = evbuffer_get_length(b)) > 0) {
		p = (const char *)evbuffer_pullup(b, (ssize_t)len);
		n = r->rt->access_sock ? send(fd, p, len, MSG_DONTWAIT |
		    MSG_NOSIGNAL) : write(fd, p, len);
		if (n > 0) {
			evbuffer_drain(b, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			/* Retried once the log takes bytes again. */
			if (r->access_wev == NULL)
				r->access_wev = event_new(r->base, fd, EV_WRITE,
				    access_flush_cb, r);
			if (r->access_wev != NULL &&
			    event_add(r->access_wev, NULL) == 0)
				return;
		}
		/* Broken for good, or no way to wait: the log is not worth a
		 * stall. */
		access_dropped(r, p, len);
		evbuffer_drain(b, len);
		return;
	}
}

static void
access_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	access_flush(arg);
}

int
access_init(struct relay *r)
{
	if ((r->access_buf = evbuffer_new()) == NULL ||
	    (r->access_ev = event_new(r->base, -1, 0, access_flush_cb, r)) == NULL)
		return -1;
	/* The lowest of the base's three priorities (everything else gets
	 * the middle one): after the exchanges of this pass are logged. */
	event_priority_set(r->access_ev, 2);
	return 0;
}

void
access_free(struct relay *r)
{
	access_flush(r);
	if (r->access_ev != NULL)
		event_free(r->access_ev);
	if (r->access_wev != NULL)
		event_free(r->access_wev);
	if (r->access_buf != NULL)
		evbuffer_free(r->access_buf);
	r->access_ev = r->access_wev = NULL;
	r->access_buf = NULL;
}

void
access_write(struct relay *r, const char *line, int indexed, uint64_t index)
{
	size_t	queued;

	if (r->access_buf == NULL)
		return;
	queued = evbuffer_get_length(r->access_buf);
	if (queued >= ACCESS_MAX_BUF) {
		atomic_fetch_add_explicit(&r->ms->access_dropped, 1,
		    memory_order_relaxed);
		return;
	}
	if (indexed)
		evbuffer_add_printf(r->access_buf, "%s,\"audit_index\":%llu}\n",
		    line, (unsigned long long)index);
	else
		evbuffer_add_printf(r->access_buf, "%s,\"audit_index\":null}\n",
		    line);
	if (r->access_wev != NULL && event_pending(r->access_wev, EV_WRITE,
	    NULL))
		return;		/* the log is full: wait until it is writable */
	if (evbuffer_get_length(r->access_buf) >= ACCESS_FLUSH_AT)
		access_flush(r);
	else
		event_active(r->access_ev, 0, 0);
}
