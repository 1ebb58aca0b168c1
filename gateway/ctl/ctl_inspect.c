/* gatewayctl inspect: the inspection report a supervisor files for a month
 * (reconciliation, alerts, registry and trust changes, refusals by rule),
 * as HTML or CSV, from the keeper's database opened read-only. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "adapters/instr.h"
#include "config.h"
#include "ctl/ctl.h"
#include "ctl/ctl_report.h"
#include "keeper/inspect.h"
#include "log.h"
#include "util.h"

enum inspect_format { IF_HTML, IF_CSV, IF_JSON };

/* len bytes of buf to path (stdout when NULL); 0, or -1 with the reason
 * on stderr. A file written short is removed rather than left to be
 * filed as a whole report. */
static int
inspect_write(const char *path, const char *buf, size_t len)
{
	FILE	*f = path ? fopen(path, "w") : stdout;

	if (f == NULL) {
		fprintf(stderr, "gatewayctl inspect: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (fwrite(buf, 1, len, f) != len || fflush(f) != 0 ||
	    (path != NULL && fclose(f) != 0)) {
		fprintf(stderr, "gatewayctl inspect: %s: %s\n", path ? path :
		    "stdout", strerror(errno));
		if (path != NULL)
			unlink(path);
		return -1;
	}
	return 0;
}

/* The report of period from db, in one read transaction so that every
 * section sees the same log while the keeper appends. */
static json_t *
inspect_read(sqlite3 *db, const struct config *cf, const char *period)
{
	json_t	*rep;

	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return NULL;
	rep = inspect_report(db, &cf->rules, period);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rep;
}

static int
inspect_run(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "period", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	enum inspect_format	 fmt = IF_HTML;
	struct config		*cf = NULL;
	const char		*conf = NULL, *period = NULL, *outp = NULL;
	sqlite3			*db;
	json_t			*rep;
	char			*out = NULL;
	size_t			 len = 0;
	int			 ch, rc = CTL_EXIT_FAIL;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'o':
			outp = optarg;
			break;
		case 'p':
			period = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "html") == 0)
				fmt = IF_HTML;
			else if (strcmp(optarg, "csv") == 0)
				fmt = IF_CSV;
			else if (strcmp(optarg, "json") == 0)
				fmt = IF_JSON;
			else {
				fprintf(stderr, "gatewayctl inspect: unknown "
				    "format \"%s\" (html, csv or json)\n",
				    optarg);
				goto usage;
			}
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	if (period == NULL) {
		fprintf(stderr, "gatewayctl inspect: --period is required\n");
		goto usage;
	}
	if (!instr_period_ok(period)) {
		fprintf(stderr, "gatewayctl inspect: bad period \"%s\": give "
		    "a month as YYYY-MM (e.g. 2026-11)\n", period);
		goto usage;
	}
	if ((db = report_open(conf, &cf)) == NULL)
		return CTL_EXIT_FAIL;
	if ((rep = inspect_read(db, cf, period)) == NULL)
		fprintf(stderr, "gatewayctl inspect: cannot read the log and "
		    "ledger (a database from before the inspection tables "
		    "needs one start of the keeper)\n");
	else if (fmt == IF_JSON) {
		if ((out = json_dumps(rep, JSON_INDENT(2) | JSON_SORT_KEYS)) !=
		    NULL)
			len = strlen(out);
	} else if ((fmt == IF_HTML ? inspect_html(rep, &out, &len) :
	    inspect_csv(rep, &out, &len)) == -1)
		out = NULL;
	if (out != NULL && inspect_write(outp, out, len) == 0)
		rc = CTL_EXIT_OK;
	free(out);
	json_decref(rep);
	sqlite3_close(db);
	config_free(cf);
	return rc;
usage:
	fprintf(stderr, "usage: gatewayctl inspect --period YYYY-MM "
	    "[--format html|csv|json] [-o FILE] [-c conf]\n");
	return CTL_EXIT_USAGE;
}

const struct ctl_command ctl_inspect_command = {
	.name = "inspect",
	.synopsis = "--period YYYY-MM [--format html|csv|json] [-o FILE]",
	.help = "the month's inspection report: reconciliation, alerts, "
	    "changes, refusals",
	.run = inspect_run,
};
