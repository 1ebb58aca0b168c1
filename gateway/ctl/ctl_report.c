/* gatewayctl report and alerts: the reconciliation of a month and the early
 * warnings, read from the keeper's database opened read-only (the same
 * queries the gateway answers GET /v1/reports and /v1/alerts with). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "adapters/instr.h"
#include "config.h"
#include "ctl/ctl.h"
#include "ctl/ctl_report.h"
#include "keeper/alerts.h"
#include "keeper/report.h"
#include "log.h"
#include "sqltrace.h"
#include "util.h"

#define REPORT_CONF	"/etc/gateway/gateway.conf"

sqlite3 *
report_open(const char *conf, struct config **cfp)
{
	struct config	*cf;
	sqlite3		*db;
	char		 uri[CFG_PATH_MAX + 32];

	if ((cf = config_load(conf ? conf : REPORT_CONF)) == NULL)
		return NULL;
	if (str_printf(uri, sizeof(uri), "file:%s?mode=ro",
	    cf->keeper.database) == -1 ||
	    sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
	    NULL) != SQLITE_OK) {
		fprintf(stderr, "cannot open %s\n", cf->keeper.database);
		config_free(cf);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	sqltrace_attach(db);
	*cfp = cf;
	return db;
}

static void
report_fen(char *dst, size_t dsz, json_int_t fen)
{
	if (instr_fen_to_yuan(fen < 0 ? -fen : fen, dst + (fen < 0), dsz -
	    (fen < 0)) == -1)
		str_copy(dst, dsz, "?");
	else if (fen < 0)
		dst[0] = '-';
}

/* The table an operator reads: yuan, one line per city, flags last. */
static void
report_print(const json_t *rec)
{
	static const char *const cols[] = { "collected_fen", "remitted_fen",
	    "arrived_fen", "planned_fen", "reviewed_fen", "disbursed_fen",
	    "settled_fen" };
	const json_t	*row, *f, *fund = json_object_get(rec, "fund");
	char		 y[32];
	size_t		 i, j, k;

	printf("Reconciliation %s (yuan)\n", json_string_value(json_object_get(
	    rec, "period")));
	printf("%-7s %14s %14s %14s %14s %14s %14s %14s  %s\n", "city",
	    "collected", "remitted", "arrived", "planned", "reviewed",
	    "disbursed", "settled", "flags");
	json_array_foreach(json_object_get(rec, "cities"), i, row) {
		printf("%-7s", json_string_value(json_object_get(row,
		    "city_code")));
		for (k = 0; k < nitems(cols); k++) {
			report_fen(y, sizeof(y), json_integer_value(
			    json_object_get(row, cols[k])));
			printf(" %14s", y);
		}
		printf(" ");
		json_array_foreach(json_object_get(row, "flags"), j, f)
			printf(" %s", json_string_value(f));
		printf("\n");
	}
	printf("%-7s", "total");
	for (k = 0; k < nitems(cols); k++) {
		report_fen(y, sizeof(y), json_integer_value(json_object_get(
		    json_object_get(rec, "totals"), cols[k])));
		printf(" %14s", y);
	}
	printf("\n");
	json_array_foreach(json_object_get(rec, "unmatched_arrivals"), i, row) {
		report_fen(y, sizeof(y), json_integer_value(json_object_get(row,
		    "amount_fen")));
		printf("unmatched arrival: %s on %s, %s, reference %s\n", y,
		    json_string_value(json_object_get(row, "account")),
		    json_string_value(json_object_get(row, "booking_date")),
		    json_string_value(json_object_get(row, "reference")));
	}
	report_fen(y, sizeof(y), json_integer_value(json_object_get(fund,
	    "balance_fen")));
	printf("fund balance %s yuan, payment capacity ", y);
	if (json_is_real(json_object_get(fund, "capacity_months")))
		printf("%.2f months", json_real_value(json_object_get(fund,
		    "capacity_months")));
	else
		printf("unbounded (nothing paid yet)");
	printf("; %s\n", json_is_true(json_object_get(rec, "clean")) ?
	    "clean" : "NOT CLEAN");
}

static int
report_run(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "period", required_argument, NULL, 'p' },
		{ "csv", no_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct config	*cf = NULL;
	const char	*conf = NULL, *period = NULL;
	sqlite3		*db;
	json_t		*rec;
	char		*out;
	size_t		 len;
	int		 ch, csv = 0, js = 0, rc = CTL_EXIT_FAIL;

	if (argc < 2 || strcmp(argv[1], "reconciliation") != 0)
		goto usage;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'p':
			period = optarg;
			break;
		case 'C':
			csv = 1;
			break;
		case 'j':
			js = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || period == NULL || !instr_period_ok(period))
		goto usage;
	if ((db = report_open(conf, &cf)) == NULL)
		return CTL_EXIT_FAIL;
	if ((rec = report_reconciliation(db, &cf->rules, period)) == NULL)
		fprintf(stderr, "cannot read the ledger\n");
	else if (csv) {
		if (report_csv(rec, &out, &len) == 0) {
			fwrite(out, 1, len, stdout);
			free(out);
			rc = CTL_EXIT_OK;
		}
	} else {
		if (js)
			json_dumpf(rec, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		else
			report_print(rec);
		rc = CTL_EXIT_OK;
	}
	/* An operator's script can tell a clean month by the exit code. */
	if (rc == CTL_EXIT_OK && !json_is_true(json_object_get(rec, "clean")))
		rc = CTL_EXIT_FAIL;
	json_decref(rec);
	sqlite3_close(db);
	config_free(cf);
	return rc;
usage:
	fprintf(stderr, "usage: gatewayctl report reconciliation --period "
	    "YYYY-MM [--csv | --json] [-c conf]\n"
	    "  exit 0 when the month is clean, 1 when it has flags\n");
	return CTL_EXIT_USAGE;
}

static int
alerts_run(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct config	*cf = NULL;
	const char	*conf = NULL;
	sqlite3		*db;
	json_t		*al, *a;
	char		*fig;
	uint64_t	 since = 0;
	size_t		 i;
	int		 ch, js = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 's':
			if (parse_u64(optarg, 0, INT64_MAX, &since) == -1)
				goto usage;
			break;
		case 'j':
			js = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	if ((db = report_open(conf, &cf)) == NULL)
		return CTL_EXIT_FAIL;
	if ((al = alerts_list(db, since)) == NULL) {
		fprintf(stderr, "cannot read the alerts\n");
		sqlite3_close(db);
		config_free(cf);
		return CTL_EXIT_FAIL;
	}
	if (js)
		json_dumpf(al, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	else
		json_array_foreach(json_object_get(al, "alerts"), i, a) {
			fig = json_dumps(json_object_get(a, "figures"),
			    JSON_COMPACT | JSON_SORT_KEYS);
			printf("%lld %s %-22s %-6s %-7s %s %s (entry %lld)\n",
			    (long long)json_integer_value(json_object_get(a,
			    "id")), json_string_value(json_object_get(a, "time")),
			    json_string_value(json_object_get(a, "rule")),
			    json_string_value(json_object_get(a, "city_code")),
			    json_string_value(json_object_get(a, "period")),
			    json_string_value(json_object_get(a, "subject")),
			    fig ? fig : "", (long long)json_integer_value(
			    json_object_get(a, "audit_index")));
			free(fig);
		}
	json_decref(al);
	sqlite3_close(db);
	config_free(cf);
	return CTL_EXIT_OK;
usage:
	fprintf(stderr, "usage: gatewayctl alerts [--since ID] [--json] "
	    "[-c conf]\n");
	return CTL_EXIT_USAGE;
}

const struct ctl_command ctl_report_command = {
	.name = "report",
	.synopsis = "reconciliation --period YYYY-MM [--csv | --json]",
	.help = "the month's reconciliation per city, with its flags",
	.run = report_run,
};

const struct ctl_command ctl_alerts_command = {
	.name = "alerts",
	.synopsis = "[--since ID] [--json]",
	.help = "early-warning alerts, each with its rule, figures and entry",
	.run = alerts_run,
};
