/* Audit entries as canonical JSON. Fields come from typed IPC messages and
 * are checked here: a relay cannot smuggle arbitrary JSON into the log. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "adapters/jcs.h"
#include "ipc.h"
#include "keeper/entry.h"
#include "log.h"
#include "util.h"

void
entry_time(char *dst, size_t dsz)
{
	struct timespec	ts;
	struct tm	tm;
	char		base[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	str_printf(dst, dsz, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

static json_t *
entry_str(const char *s)
{
	/* An empty field is recorded as null, not as "". */
	return s[0] ? json_string(s) : json_null();
}

int
entry_passthrough(const struct ipc_passthrough *p, unsigned slot, char **out,
    size_t *len)
{
	json_t	*o, *path;
	char	 t[40], src[32], hreq[65], hresp[65];
	int	 rc;

	if (!ipc_str_ok(p->request_id, sizeof(p->request_id)) ||
	    !ipc_str_ok(p->agency, sizeof(p->agency)) ||
	    !ipc_str_ok(p->route, sizeof(p->route)) ||
	    !ipc_str_ok(p->upstream, sizeof(p->upstream)) ||
	    !ipc_str_ok(p->method, sizeof(p->method)) ||
	    !ipc_str_ok(p->path, sizeof(p->path)) ||
	    !ipc_str_ok(p->code, sizeof(p->code)) ||
	    p->status < 100 || p->status > 599) {
		log_warnx("%s: malformed exchange record", __func__);
		return -1;
	}
	entry_time(t, sizeof(t));
	str_printf(src, sizeof(src), "relay/%u", slot);
	hex_encode(hreq, p->request_sha256, 32);
	hex_encode(hresp, p->response_sha256, 32);
	/* json_string refuses invalid UTF-8: the relay sends paths as it
	 * received them, and one that is not UTF-8 is recorded as null. */
	if ((path = json_string(p->path)) == NULL)
		path = json_null();
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i,"
	    " s:{s:I, s:s}, s:{s:I, s:s}, s:I}",
	    "kind", p->upstream[0] ? "passthrough" : "refusal",
	    "time", t, "source", src,
	    "request_id", entry_str(p->request_id),
	    "agency", entry_str(p->agency),
	    "route", entry_str(p->route),
	    "upstream", entry_str(p->upstream),
	    "method", entry_str(p->method),
	    "path", path,
	    "code", entry_str(p->code),
	    "status", (int)p->status,
	    "request", "bytes", (json_int_t)p->request_bytes, "sha256", hreq,
	    "response", "bytes", (json_int_t)p->response_bytes, "sha256", hresp,
	    "duration_ms", (json_int_t)p->duration_ms);
	if (o == NULL) {
		log_warnx("%s: cannot build the entry", __func__);
		return -1;
	}
	rc = jcs_serialize(o, out, len);
	json_decref(o);
	return rc;
}
