/* The access log: one JSON line per exchange (agency, route, status, bytes,
 * duration, request id, audit index), written whole with one write(2). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
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

void
access_write(struct relay *r, const char *line, int indexed, uint64_t index)
{
	char	buf[2200];
	int	n;

	if (indexed)
		n = snprintf(buf, sizeof(buf), "%s,\"audit_index\":%llu}\n", line,
		    (unsigned long long)index);
	else
		n = snprintf(buf, sizeof(buf), "%s,\"audit_index\":null}\n", line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = (int)sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	(void)!write(r->rt->access_fd, buf, (size_t)n);
}
