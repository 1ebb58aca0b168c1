/* gatewayctl accounts: the account registry the audit log holds, on a date,
 * each account with the entry that made it what it is (the initial
 * registry's entry, or the review that approved its last change). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "adapters/instr.h"
#include "config.h"
#include "ctl/ctl.h"
#include "ctl/ctl_report.h"
#include "keeper/entry.h"
#include "keeper/regbook.h"
#include "util.h"

static void
accounts_print(const json_t *reg)
{
	const json_t	*a;
	size_t		 i;

	printf("registry in force on %s\n",
	    json_string_value(json_object_get(reg, "date")));
	printf("%-26s %-20s %-6s %-20s %-12s %-10s %-8s %s\n", "NAME", "ROLE",
	    "CITY", "NUMBER", "CNAPS", "SINCE", "ENTRY", "HOLDER");
	json_array_foreach(json_object_get(reg, "accounts"), i, a) {
		const char *since = json_string_value(json_object_get(a,
		    "effective_date"));

		printf("%-26s %-20s %-6s %-20s %-12s %-10s %-8lld %s\n",
		    json_string_value(json_object_get(a, "name")),
		    json_string_value(json_object_get(a, "role")),
		    json_string_value(json_object_get(a, "city_code")),
		    json_string_value(json_object_get(a, "number")),
		    json_string_value(json_object_get(a, "cnaps")),
		    since ? since : "initial",
		    (long long)json_integer_value(json_object_get(a, "index")),
		    json_string_value(json_object_get(a, "holder")));
	}
}

static int
accounts_run(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "date", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct config	*cf = NULL;
	struct regbook	*book = NULL;
	const char	*conf = NULL, *date = NULL;
	char		 now[40];
	sqlite3		*db;
	json_t		*reg = NULL;
	int		 ch, js = 0, rc = CTL_EXIT_FAIL;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'd':
			date = optarg;
			break;
		case 'j':
			js = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || (date != NULL && !instr_date_ok(date)))
		goto usage;
	if (date == NULL) {
		entry_time(now, sizeof(now));
		now[10] = '\0';
		date = now;
	}
	if ((db = report_open(conf, &cf)) == NULL)
		return CTL_EXIT_FAIL;
	if (regbook_open(db, 1, &book) == -1 ||
	    (reg = regbook_json(book, date)) == NULL)
		fprintf(stderr, "cannot read the registry from the audit "
		    "database\n");
	else if (json_array_size(json_object_get(reg, "accounts")) == 0)
		fprintf(stderr, "the audit log holds no account registry yet\n");
	else {
		if (js) {
			json_dumpf(reg, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			putchar('\n');
		} else
			accounts_print(reg);
		rc = CTL_EXIT_OK;
	}
	json_decref(reg);
	regbook_free(book);
	sqlite3_close(db);
	config_free(cf);
	return rc;
usage:
	fprintf(stderr, "usage: gatewayctl accounts [--date YYYY-MM-DD] "
	    "[--json] [-c conf]\n");
	return CTL_EXIT_USAGE;
}

const struct ctl_command ctl_accounts_command = {
	.name = "accounts",
	.synopsis = "[--date YYYY-MM-DD] [--json] [-c conf]",
	.help = "the account registry in force, each account with its entry",
	.run = accounts_run,
};
