/* Result printing for the load generator. Rates count successes only (2xx, or
 * the --expect status), over
 * the fixed run time, so a server that fails fast cannot look fast. */
#include <stdint.h>

#include "util.h"
#include "loadgen_report.h"

static const double	loadgen_report_pcts[] = { 50.0, 90.0, 99.0, 99.9 };
static const char *const loadgen_report_pct_text[] = { "p50", "p90", "p99", "p99.9" };
static const char *const loadgen_report_pct_json[] = { "p50", "p90", "p99", "p99_9" };

static uint64_t
loadgen_report_errors(const struct loadgen_stats *st)
{
	uint64_t	n = 0;
	size_t		i;

	for (i = 0; i < LOADGEN_ERR_MAX; i++)
		n += st->errors[i];
	return n;
}

static double
loadgen_report_ms(uint64_t us)
{
	return (double)us / 1000.0;
}

void
loadgen_report_text(FILE *fp, const struct loadgen_opts *o,
    const struct loadgen_stats *st, double secs)
{
	size_t	i;

	fprintf(fp, "loadgen %s\n", o->url);
	fprintf(fp, "  mode         %s, %u connections, %u thread%s, %.2f s\n",
	    o->new_conn ? "new connection per request" : "keep-alive", o->conns,
	    o->threads, o->threads == 1 ? "" : "s", secs);
	fprintf(fp, "  requests     %llu completed, %llu 2xx (1xx %llu, 3xx %llu, "
	    "4xx %llu, 5xx %llu)\n", (unsigned long long)st->responses,
	    (unsigned long long)st->ok, (unsigned long long)st->status_class[1],
	    (unsigned long long)st->status_class[3],
	    (unsigned long long)st->status_class[4],
	    (unsigned long long)st->status_class[5]);
	fprintf(fp, "  errors       %llu (",
	    (unsigned long long)loadgen_report_errors(st));
	for (i = 0; i < LOADGEN_ERR_MAX; i++)
		fprintf(fp, "%s%s %llu", i == 0 ? "" : ", ",
		    loadgen_stats_err_name((enum loadgen_err)i),
		    (unsigned long long)st->errors[i]);
	fprintf(fp, ")\n");
	fprintf(fp, "  connections  %llu handshakes, %llu reopened, %llu requests "
	    "in flight at the end\n", (unsigned long long)st->handshakes,
	    (unsigned long long)st->reconnects, (unsigned long long)st->in_flight);
	for (i = 0; i < o->ntpl; i++)
		fprintf(fp, "  template %zu   %s: %llu completed, %llu succeeded, "
		    "%llu vary= repeats\n", i, o->tpl[i].file,
		    (unsigned long long)st->tpl_responses[i],
		    (unsigned long long)st->tpl_ok[i],
		    (unsigned long long)st->tpl_repeats[i]);
	if (o->expect != 0)
		fprintf(fp, "  throughput   %.1f requests/s (status %u), %.1f "
		    "handshakes/s\n", (double)st->ok / secs, o->expect,
		    (double)st->handshakes / secs);
	else
		fprintf(fp, "  throughput   %.1f requests/s (2xx), %.1f handshakes/s\n",
		    (double)st->ok / secs, (double)st->handshakes / secs);
	fprintf(fp, "  latency ms  %s", o->expect != 0 ? " (successes)" : "");
	for (i = 0; i < nitems(loadgen_report_pcts); i++)
		fprintf(fp, " %s %.3f", loadgen_report_pct_text[i], loadgen_report_ms(
		    loadgen_hist_percentile(&st->latency, loadgen_report_pcts[i])));
	fprintf(fp, " max %.3f mean %.3f\n", loadgen_report_ms(st->latency.max_us),
	    loadgen_hist_mean_us(&st->latency) / 1000.0);
}

/* Per template: its file and what its connections got, so a mix can be
 * told apart; nothing without templates. */
static void
loadgen_report_json_templates(FILE *fp, const struct loadgen_opts *o,
    const struct loadgen_stats *st)
{
	char	file[8200];
	size_t	i;

	if (o->ntpl == 0)
		return;
	fprintf(fp, ",\"templates\":[");
	for (i = 0; i < o->ntpl; i++)
		fprintf(fp, "%s{\"file\":\"%s\",\"requests\":%llu,\"ok\":%llu,"
		    "\"repeats\":%llu}", i == 0 ? "" : ",",
		    json_escape(file, sizeof(file), o->tpl[i].file),
		    (unsigned long long)st->tpl_responses[i],
		    (unsigned long long)st->tpl_ok[i],
		    (unsigned long long)st->tpl_repeats[i]);
	fprintf(fp, "]");
}

void
loadgen_report_json(FILE *fp, const struct loadgen_opts *o,
    const struct loadgen_stats *st, double secs)
{
	char		 url[4200];
	const char	*sep;
	size_t		 i;

	fprintf(fp, "{\"url\":\"%s\",\"mode\":\"%s\",\"connections\":%u,\"threads\":%u,"
	    "\"duration_s\":%.3f,\"requests\":%llu,\"ok\":%llu,\"status\":{",
	    json_escape(url, sizeof(url), o->url),
	    o->new_conn ? "new-conn" : "keep-alive", o->conns, o->threads, secs,
	    (unsigned long long)st->responses, (unsigned long long)st->ok);
	for (i = 1; i < 6; i++)
		fprintf(fp, "%s\"%zuxx\":%llu", i == 1 ? "" : ",", i,
		    (unsigned long long)st->status_class[i]);
	fprintf(fp, "},\"errors\":{");
	for (i = 0; i < LOADGEN_ERR_MAX; i++)
		fprintf(fp, "\"%s\":%llu,", loadgen_stats_err_name((enum loadgen_err)i),
		    (unsigned long long)st->errors[i]);
	fprintf(fp, "\"total\":%llu},\"handshakes\":%llu,\"reconnects\":%llu,"
	    "\"in_flight\":%llu,\"rps\":%.1f,\"handshakes_per_s\":%.1f,\"latency_ms\":{",
	    (unsigned long long)loadgen_report_errors(st),
	    (unsigned long long)st->handshakes, (unsigned long long)st->reconnects,
	    (unsigned long long)st->in_flight,
	    (double)st->ok / secs, (double)st->handshakes / secs);
	for (i = 0; i < nitems(loadgen_report_pcts); i++)
		fprintf(fp, "\"%s\":%.3f,", loadgen_report_pct_json[i], loadgen_report_ms(
		    loadgen_hist_percentile(&st->latency, loadgen_report_pcts[i])));
	fprintf(fp, "\"max\":%.3f,\"mean\":%.3f},\"expect\":%u",
	    loadgen_report_ms(st->latency.max_us),
	    loadgen_hist_mean_us(&st->latency) / 1000.0, o->expect);
	/* [bucket's highest us, count] for every non-empty bucket: a caller
	 * merges runs into one distribution (a percentile of percentiles is
	 * not one). */
	fprintf(fp, ",\"latency_hist\":[");
	for (i = 0, sep = ""; i < LOADGEN_HIST_BUCKETS; i++)
		if (st->latency.counts[i] > 0) {
			fprintf(fp, "%s[%llu,%llu]", sep,
			    (unsigned long long)loadgen_hist_upper(i),
			    (unsigned long long)st->latency.counts[i]);
			sep = ",";
		}
	fprintf(fp, "]");
	loadgen_report_json_templates(fp, o, st);
	fprintf(fp, "}\n");
}
