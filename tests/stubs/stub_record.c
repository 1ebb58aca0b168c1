/* The --record file: one JSON line per fully received request, so tests can
 * assert exactly what crossed the wire from the gateway to this upstream. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#include "stub.h"

/* Request numbers, unique across worker threads: a record line's seq, and
 * the name of its --save-bodies files. */
static atomic_uint_fast64_t	stub_record_serial;

/* Numbering continues after last (at start-up, before any thread: the
 * highest seq already in the --save-bodies folder, so a restarted stub
 * never overwrites what an earlier run saved). */
void
stub_record_seq_start(uint64_t last)
{
	atomic_store(&stub_record_serial, last);
}

/* The next request number, from 1. */
uint64_t
stub_record_seq(void)
{
	return atomic_fetch_add(&stub_record_serial, 1) + 1;
}

/* O_APPEND: every write lands at the end, so lines from several worker
 * threads (or several stubs sharing a file) never overwrite each other. */
int
stub_record_open(const char *path)
{
	int	fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644)) == -1) {
		log_warn("%s: open %s", __func__, path);
		return -1;
	}
	return fd;
}

static int
stub_record_time(char *dst, size_t dsz)
{
	struct timespec	ts;
	struct tm	tm;
	char		base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -1;
	return str_printf(dst, dsz, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

static int
stub_record_build(struct evbuffer *b, const struct stub_cfg *cfg,
    const struct stub_record_info *info)
{
	const struct stub_req	*req = info->req;
	char			 ts[48];
	size_t			 i;

	if (stub_record_time(ts, sizeof(ts)) == -1)
		ts[0] = '\0';
	if (evbuffer_add_printf(b, "{\"time\":\"%s\",\"stub\":", ts) < 0 ||
	    stub_json_str(b, cfg->name) == -1 ||
	    evbuffer_add_printf(b, ",\"conn\":%" PRIu64 ",\"seq\":%" PRIu64
	    ",\"conn_seq\":%" PRIu64 ",\"method\":", info->conn_id, info->seq,
	    info->conn_seq) < 0 ||
	    stub_json_str(b, req->method) == -1 ||
	    evbuffer_add_printf(b, ",\"path\":") < 0 ||
	    stub_json_str(b, stub_req_url(req)) == -1 ||
	    evbuffer_add_printf(b, ",\"headers\":[") < 0)
		return -1;
	for (i = 0; i < req->nhdrs; i++) {
		if (evbuffer_add_printf(b, "%s[", i > 0 ? "," : "") < 0 ||
		    stub_json_str(b, stub_req_hname(req, i)) == -1 ||
		    evbuffer_add(b, ",", 1) == -1 ||
		    stub_json_str(b, stub_req_hvalue(req, i)) == -1 ||
		    evbuffer_add(b, "]", 1) == -1)
			return -1;
	}
	if (evbuffer_add_printf(b, "],\"body_bytes\":%" PRIu64
	    ",\"body_sha256\":\"%s\",\"client_cn\":", req->body_bytes,
	    req->body_sha256) < 0 ||
	    stub_json_str(b, info->client_cn) == -1 ||
	    evbuffer_add_printf(b, ",\"client_spki_sha256\":\"%s\",\"mode\":\"%s\""
	    ",\"delay_ms\":%" PRIu64 ",\"status\":%d,\"big\":%s"
	    ",\"idempotency_key\":", info->client_spki,
	    stub_mode_name(info->mode->kind),
	    info->mode->kind == STUB_MODE_DELAY ? info->mode->delay_ms : 0,
	    info->status, info->big ? "true" : "false") < 0)
		return -1;
	if ((info->idempotency_key != NULL ?
	    stub_json_str(b, info->idempotency_key) :
	    evbuffer_add(b, "null", 4)) == -1 ||
	    evbuffer_add_printf(b, ",\"replayed\":%s,\"signature\":",
	    info->replayed ? "true" : "false") < 0 ||
	    (info->signature != NULL ? stub_json_str(b, info->signature) :
	    evbuffer_add(b, "null", 4)) == -1 ||
	    evbuffer_add(b, ",\"file_signature\":",
	    sizeof(",\"file_signature\":") - 1) == -1 ||
	    (info->file_signature != NULL ? stub_json_str(b,
	    info->file_signature) : evbuffer_add(b, "null", 4)) == -1 ||
	    evbuffer_add(b, "}\n", 2) == -1)
		return -1;
	return 0;
}

/* Writes the line with a single write(2) so concurrent lines stay whole. */
int
stub_record_write(const struct stub_cfg *cfg,
    const struct stub_record_info *info)
{
	struct evbuffer	*b;
	unsigned char	*line;
	size_t		 len;
	ssize_t		 n;
	int		 rc = -1;

	if (cfg->record_fd == -1)
		return 0;
	if ((b = evbuffer_new()) == NULL) {
		log_warnx("%s: evbuffer_new failed", __func__);
		return -1;
	}
	if (stub_record_build(b, cfg, info) == -1) {
		log_warnx("%s: cannot build record line", __func__);
		goto done;
	}
	len = evbuffer_get_length(b);
	if ((line = evbuffer_pullup(b, -1)) == NULL) {
		log_warnx("%s: evbuffer_pullup failed", __func__);
		goto done;
	}
	do {
		n = write(cfg->record_fd, line, len);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		log_warn("%s: write %s", __func__, cfg->record);
		goto done;
	}
	if ((size_t)n != len) {
		log_warnx("%s: short write to %s (%zd of %zu)", __func__,
		    cfg->record, n, len);
		goto done;
	}
	rc = 0;
done:
	evbuffer_free(b);
	return rc;
}
