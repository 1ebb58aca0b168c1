/* The reconciliation report and the fund's payment capacity, computed from
 * the ledger's tables with plain SQL (one grouped query per figure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "adapters/instr.h"
#include "config.h"
#include "keeper/ledger.h"
#include "keeper/report.h"
#include "log.h"
#include "util.h"

const char *const report_city_codes[REPORT_NCITIES] = {
	"620100", "620200", "620300", "620400", "620500", "620600", "620700",
	"620800", "620900", "621000", "621100", "621200", "622900", "623000",
};

const char *const report_city_names[REPORT_NCITIES] = {
	"兰州市", "嘉峪关市", "金昌市", "白银市", "天水市", "武威市", "张掖市",
	"平凉市", "酒泉市", "庆阳市", "定西市", "陇南市", "临夏回族自治州",
	"甘南藏族自治州",
};

enum report_col {
	RC_COLLECTED, RC_REMITTED, RC_ARRIVED, RC_PLANNED, RC_REVIEWED,
	RC_DISBURSED, RC_SETTLED, RC_COUNT
};

static const char *const report_col_names[RC_COUNT] = {
	"collected_fen", "remitted_fen", "arrived_fen", "planned_fen",
	"reviewed_fen", "disbursed_fen", "settled_fen",
};

/* Each figure per city for one period (?1), from the running totals: a
 * superseded plan no longer counts, a plan's reviewed figure is what finance
 * approved, a payment the bank rejected was never disbursed. */
static const char *const report_what[RC_COUNT] = {
	[RC_COLLECTED] = "collected", [RC_REMITTED] = "remitted",
	[RC_ARRIVED] = "arrived", [RC_PLANNED] = "planned",
	[RC_REVIEWED] = "reviewed", [RC_DISBURSED] = "disbursed",
	[RC_SETTLED] = "settled",
};

int
report_next_period(const char *period, char *dst)
{
	uint64_t	y, m;
	char		ys[5], ms[3];

	if (!instr_period_ok(period))
		return -1;
	memcpy(ys, period, 4);
	ys[4] = '\0';
	memcpy(ms, period + 5, 2);
	ms[2] = '\0';
	if (parse_u64(ys, 2000, 2099, &y) == -1 || parse_u64(ms, 1, 12, &m) == -1)
		return -1;
	if (++m == 13) {
		m = 1;
		y++;
	}
	return str_printf(dst, 8, "%04llu-%02llu", (unsigned long long)y,
	    (unsigned long long)m);
}

static int
report_city_index(const char *city)
{
	int	i;

	for (i = 0; i < REPORT_NCITIES; i++)
		if (strcmp(report_city_codes[i], city) == 0)
			return i;
	return -1;
}

/* Fills fig[city][col] for one column. */
static int
report_column(sqlite3 *db, enum report_col col, const char *period,
    int64_t fig[REPORT_NCITIES][RC_COUNT])
{
	sqlite3_stmt	*st;
	int		 rc, i;

	if (sqlite3_prepare_v2(db, "SELECT city, amount FROM fund_totals WHERE "
	    "what = ? AND period = ?", -1, &st, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, report_what[col], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, period, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (sqlite3_column_type(st, 0) == SQLITE_TEXT &&
		    (i = report_city_index((const char *)
		    sqlite3_column_text(st, 0))) >= 0)
			fig[i][col] = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Whether an alert of rule was raised for (city, period). */
int
report_alerted_rule(sqlite3 *db, const char *rule, const char *city,
    const char *period)
{
	sqlite3_stmt	*st;
	int		 found = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM alerts WHERE rule = ? AND "
	    "city = ? AND period = ?", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, city, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, period, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* Credits to the fund nobody's remittance explains, booked in the month
 * after period (when that period's remittances are due). */
static json_t *
report_unmatched(sqlite3 *db, const char *period)
{
	sqlite3_stmt	*st;
	json_t		*arr = json_array(), *o;
	char		 next[8];

	if (arr == NULL || report_next_period(period, next) == -1 ||
	    sqlite3_prepare_v2(db, "SELECT notification, account, amount, "
	    "booking_date, coalesce(e2e, ''), coalesce(reference, '') FROM "
	    "arrivals WHERE unmatched = 1 AND booking_date >= ?1 || '-' AND "
	    "booking_date < ?1 || '.' ORDER BY booking_date, notification, n",
	    -1, &st, NULL) !=
	    SQLITE_OK) {
		json_decref(arr);
		return NULL;
	}
	sqlite3_bind_text(st, 1, next, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}",
		    "notification", (const char *)sqlite3_column_text(st, 0),
		    "account", (const char *)sqlite3_column_text(st, 1),
		    "amount_fen", (json_int_t)sqlite3_column_int64(st, 2),
		    "booking_date", (const char *)sqlite3_column_text(st, 3),
		    "end_to_end_id", (const char *)sqlite3_column_text(st, 4),
		    "reference", (const char *)sqlite3_column_text(st, 5));
		json_array_append_new(arr, o);
	}
	sqlite3_finalize(st);
	return arr;
}

int
report_capacity(sqlite3 *db, int64_t *balance, int64_t *monthly,
    double *months)
{
	sqlite3_stmt	*st;
	int64_t		 in = 0, out = 0, recent = 0, n = 0;
	int		 rc = -1;

	*balance = *monthly = 0;
	*months = -1;
	/* Remitted and disbursed in all, and the last twelve months that
	 * disbursed anything: a few rows per city and month. */
	if (sqlite3_prepare_v2(db, "SELECT (SELECT coalesce(sum(amount), 0) "
	    "FROM fund_totals WHERE what = 'remitted'), (SELECT "
	    "coalesce(sum(amount), 0) FROM fund_totals WHERE what = "
	    "'disbursed'), (SELECT coalesce(sum(t), 0) FROM (SELECT sum(amount) "
	    "t FROM fund_totals WHERE what = 'disbursed' GROUP BY period HAVING "
	    "sum(n) > 0 ORDER BY period DESC LIMIT 12)), (SELECT count(*) FROM "
	    "(SELECT 1 FROM fund_totals WHERE what = 'disbursed' GROUP BY "
	    "period HAVING sum(n) > 0 ORDER BY period DESC LIMIT 12))", -1, &st,
	    NULL) != SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		in = sqlite3_column_int64(st, 0);
		out = sqlite3_column_int64(st, 1);
		recent = sqlite3_column_int64(st, 2);
		n = sqlite3_column_int64(st, 3);
		rc = 0;
	}
	sqlite3_finalize(st);
	*balance = in - out;
	/* monthly stays 0 (capacity unbounded) until something is spent. */
	if (n > 0 && recent > 0) {
		*monthly = recent / n;
		*months = (double)*balance / ((double)recent / (double)n);
	}
	return rc;
}

json_t *
report_reconciliation(sqlite3 *db, const struct cfg_rules *rules,
    const char *period)
{
	int64_t		 fig[REPORT_NCITIES][RC_COUNT], tot[RC_COUNT];
	int64_t		 balance, monthly;
	double		 months;
	json_t		*o, *cities, *totals, *flags, *cf, *row, *unmatched;
	int		 c, k, clean = 1;

	memset(fig, 0, sizeof(fig));
	memset(tot, 0, sizeof(tot));
	for (k = 0; k < RC_COUNT; k++)
		if (report_column(db, (enum report_col)k, period, fig) == -1)
			return NULL;
	if ((unmatched = report_unmatched(db, period)) == NULL)
		return NULL;
	cities = json_array();
	flags = json_array();
	totals = json_object();
	for (c = 0; c < REPORT_NCITIES; c++) {
		const char *code = report_city_codes[c];

		row = json_pack("{s:s, s:s}", "city_code", code, "name",
		    report_city_names[c]);
		cf = json_array();
		for (k = 0; k < RC_COUNT; k++) {
			json_object_set_new(row, report_col_names[k],
			    json_integer(fig[c][k]));
			tot[k] += fig[c][k];
		}
		if (fig[c][RC_REMITTED] < fig[c][RC_COLLECTED])
			json_array_append_new(cf, json_string("short-remittance"));
		if (fig[c][RC_REMITTED] > fig[c][RC_COLLECTED])
			json_array_append_new(cf, json_string("excess-remittance"));
		if (report_alerted_rule(db, "late-remittance", code, period))
			json_array_append_new(cf, json_string("late-remittance"));
		if (fig[c][RC_DISBURSED] > fig[c][RC_SETTLED])
			json_array_append_new(cf,
			    json_string("unsettled-disbursement"));
		if (json_array_size(cf) > 0)
			clean = 0;
		json_object_set_new(row, "flags", cf);
		json_array_append_new(cities, row);
	}
	for (k = 0; k < RC_COUNT; k++)
		json_object_set_new(totals, report_col_names[k],
		    json_integer(tot[k]));
	if (json_array_size(unmatched) > 0) {
		json_array_append_new(flags, json_string("unmatched-arrival"));
		clean = 0;
	}
	report_capacity(db, &balance, &monthly, &months);
	o = json_pack("{s:s, s:b, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:o, s:i}}",
	    "period", period, "clean", clean, "flags", flags, "cities", cities,
	    "totals", totals, "unmatched_arrivals", unmatched,
	    "fund", "balance_fen", (json_int_t)balance,
	    "monthly_expenditure_fen", (json_int_t)monthly,
	    "capacity_months", monthly == 0 ? json_null() :
	    json_real((double)(int64_t)(months * 100) / 100.0),
	    "capacity_threshold_months", (int)rules->capacity_months);
	return o;
}

int
report_csv(const json_t *rec, char **out, size_t *len)
{
	const json_t	*cities = json_object_get(rec, "cities"), *row, *f;
	size_t		 i, j, cap = 4096 + 256 * json_array_size(cities), n = 0;
	char		*buf, line[512], fl[160];
	int		 k, rc;

	if ((buf = malloc(cap)) == NULL)
		return -1;
	/* Any part that does not fit fails the whole report: a CSV with a
	 * cut line or flag would read as a different figure. */
	rc = str_copy(buf, cap, "period,city_code");
	for (k = 0; k < RC_COUNT; k++)
		rc |= str_append(buf, cap, ",") | str_append(buf, cap,
		    report_col_names[k]);
	rc |= str_append(buf, cap, ",flags\r\n");
	json_array_foreach(cities, i, row) {
		fl[0] = '\0';
		json_array_foreach(json_object_get(row, "flags"), j, f) {
			if (j > 0)
				rc |= str_append(fl, sizeof(fl), ";");
			rc |= str_append(fl, sizeof(fl), json_string_value(f));
		}
		rc |= str_printf(line, sizeof(line), "%s,%s",
		    json_string_value(json_object_get(rec, "period")),
		    json_string_value(json_object_get(row, "city_code")));
		for (k = 0; k < RC_COUNT; k++) {
			char num[32];

			rc |= str_printf(num, sizeof(num), ",%lld", (long long)
			    json_integer_value(json_object_get(row,
			    report_col_names[k])));
			rc |= str_append(line, sizeof(line), num);
		}
		rc |= str_append(line, sizeof(line), ",");
		rc |= str_append(line, sizeof(line), fl);
		rc |= str_append(line, sizeof(line), "\r\n");
		if (rc != 0 || str_append(buf, cap, line) == -1) {
			log_warnx("%s: a line of the report does not fit", __func__);
			free(buf);
			return -1;
		}
	}
	if (rc != 0) {
		free(buf);
		return -1;
	}
	n = strlen(buf);
	*out = buf;
	*len = n;
	return 0;
}
