/* The access log: one JSON line per exchange (agency, route, status, bytes,
 * duration, request id), written whole with one write(2). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "relay/relay.h"
#include "runtime.h"
#include "util.h"

void
access_log(struct relay_conn *c)
{
	const struct config	*cf = c->r->cf;
	const char		*url = "", *method = "", *agency = "-";
	const char		*role = "-", *route = "-", *upstream = "-";
	char			 path[512], epath[1100], ts[40], line[2048];
	size_t			 ulen = 0;
	struct timespec		 now;
	struct tm		 tm;
	int			 n;

	if (c->req.head_done || c->req.url_len > 0) {
		url = http_msg_url(&c->req, &ulen);
		if (c->req.head_done)
			method = http_msg_method_name(&c->req);
	}
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
	n = snprintf(line, sizeof(line), "{\"time\":\"%s.%03ldZ\","
	    "\"type\":\"access\",\"request_id\":\"%s\",\"listener\":\"%s\","
	    "\"peer\":\"%s\",\"agency\":\"%s\",\"role\":\"%s\","
	    "\"method\":\"%s\",\"path\":\"%s\",\"route\":\"%s\","
	    "\"upstream\":\"%s\",\"status\":%d,\"bytes_in\":%llu,"
	    "\"bytes_out\":%llu,\"duration_ms\":%llu}\n", ts,
	    now.tv_nsec / 1000000, c->rid,
	    c->kind == LISTENER_ADMIN ? "admin" : "agency", c->peer, agency,
	    role, method, epath, route, upstream, c->status,
	    (unsigned long long)c->req.body_bytes,
	    (unsigned long long)c->bytes_out,
	    (unsigned long long)(now_ms() - c->start_ms));
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	(void)!write(c->r->rt->access_fd, line, (size_t)n);
}
