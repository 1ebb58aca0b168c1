/* loadgen: HTTP/1.1 load generator over mutual TLS (wrk cannot present a
 * client certificate), used by tests/bench/run.sh. Usage: loadgen --help. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loadgen_clock.h"
#include "loadgen_opts.h"
#include "loadgen_report.h"
#include "loadgen_request.h"
#include "loadgen_tls.h"
#include "loadgen_worker.h"

/* Splits the connections over the threads and runs them to the deadline.
 * 0, or -1 if a thread could not run. */
static int
loadgen_run(const struct loadgen_opts *o, const struct loadgen_request *reqs,
    SSL_CTX *const *ctxs, size_t nreqs, struct loadgen_stats *total)
{
	struct loadgen_worker	*w;
	uint64_t		 end;
	unsigned		 i, first = 0;
	int			 rc = 0;

	w = calloc(o->threads, sizeof(*w));
	if (w == NULL) {
		log_warn("%s: calloc", __func__);
		return -1;
	}
	/* One deadline for all threads, fixed before any of them starts. */
	end = loadgen_clock_us() + o->duration_ms * 1000u;
	for (i = 0; i < o->threads; i++) {
		w[i].opts = o;
		w[i].reqs = reqs;
		w[i].ctxs = ctxs;
		w[i].nreqs = nreqs;
		w[i].end_us = end;
		w[i].warm_us = o->warmup_ms > 0 ?
		    end - (o->duration_ms - o->warmup_ms) * 1000u : 0;
		w[i].first = first;
		w[i].nconns = o->conns / o->threads + (i < o->conns % o->threads);
		first += w[i].nconns;
		if (loadgen_worker_start(&w[i]) == -1) {
			rc = -1;
			break;
		}
	}
	for (i = 0; i < o->threads; i++) {
		if (!w[i].started)
			continue;
		if (loadgen_worker_join(&w[i]) == -1)
			rc = -1;
		loadgen_stats_merge(total, &w[i].stats);
	}
	free(w);
	return rc;
}

/* The requests of the run (one per --body-template, else one) and a TLS
 * context each, since templates may carry different client certificates.
 * Returns how many were built, 0 after logging on failure (all freed). */
static size_t
loadgen_setup(const struct loadgen_opts *o, struct loadgen_request *reqs,
    SSL_CTX **ctxs)
{
	size_t	i, n = o->ntpl > 0 ? o->ntpl : 1;

	for (i = 0; i < n; i++) {
		if (loadgen_request_build(o, o->ntpl > 0 ? &o->tpl[i] : NULL,
		    &reqs[i]) == -1)
			break;
		ctxs[i] = loadgen_tls_ctx_new(o, reqs[i].cert, reqs[i].key);
		if (ctxs[i] == NULL) {
			loadgen_request_free(&reqs[i]);
			break;
		}
	}
	if (i == n)
		return n;
	while (i-- > 0) {
		SSL_CTX_free(ctxs[i]);
		loadgen_request_free(&reqs[i]);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct loadgen_stats	 total;
	static struct loadgen_opts	 o;
	struct loadgen_request		 reqs[LOADGEN_MAX_TEMPLATES];
	SSL_CTX				*ctxs[LOADGEN_MAX_TEMPLATES];
	double				 secs;
	size_t				 i, n;
	int				 rc;

	log_init("loadgen", LOG_LVL_INFO);
	/* A server closing under a pending write must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (loadgen_opts_parse(&o, argc, argv) == -1) {
		loadgen_opts_usage(o.help ? stdout : stderr);
		return o.help ? 0 : 2;
	}
	if ((n = loadgen_setup(&o, reqs, ctxs)) == 0)
		return 2;
	rc = loadgen_run(&o, reqs, ctxs, n, &total);
	for (i = 0; i < n; i++) {
		SSL_CTX_free(ctxs[i]);
		loadgen_request_free(&reqs[i]);
	}
	if (rc == -1)
		return 2;
	secs = (double)(o.duration_ms - o.warmup_ms) / 1000.0;
	if (o.json)
		loadgen_report_json(stdout, &o, &total, secs);
	else
		loadgen_report_text(stdout, &o, &total, secs);
	return total.ok > 0 ? 0 : 1;
}
