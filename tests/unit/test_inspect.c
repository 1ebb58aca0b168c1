/* Unit tests for keeper/inspect: the month's window found by bisection on
 * the log, every section picked up by its index (trust marks and account
 * changes too, which the daemon does not write yet), and the HTML and CSV
 * escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "config.h"
#include "keeper/alerts.h"
#include "keeper/inspect.h"
#include "keeper/store.h"
#include "keeper/totals.h"
#include "log.h"

/* The ledger's tables the report and the totals' triggers read (as
 * ledger.c creates them). */
static const char test_ledger_schema[] =
    "CREATE TABLE instructions ("
    "  kind TEXT NOT NULL, id TEXT NOT NULL,"
    "  digest BLOB NOT NULL, agency TEXT NOT NULL,"
    "  city TEXT, period TEXT, amount INTEGER NOT NULL DEFAULT 0,"
    "  approved INTEGER, disbursed INTEGER NOT NULL DEFAULT 0, bank TEXT,"
    "  state INTEGER NOT NULL, entry INTEGER NOT NULL,"
    "  status INTEGER NOT NULL, receipt BLOB NOT NULL,"
    "  value_date TEXT,"
    "  PRIMARY KEY (kind, id)) WITHOUT ROWID;"
    "CREATE TABLE payments ("
    "  e2e TEXT PRIMARY KEY, disbursement TEXT NOT NULL,"
    "  line INTEGER NOT NULL, plan TEXT NOT NULL, city TEXT NOT NULL,"
    "  period TEXT NOT NULL, amount INTEGER NOT NULL, account TEXT NOT NULL,"
    "  status TEXT NOT NULL, reason TEXT, bank_ref TEXT) WITHOUT ROWID;"
    "CREATE TABLE arrivals ("
    "  notification TEXT NOT NULL, n INTEGER NOT NULL,"
    "  account TEXT NOT NULL, amount INTEGER NOT NULL,"
    "  booking_date TEXT NOT NULL, e2e TEXT, reference TEXT,"
    "  remittance TEXT, city TEXT, period TEXT,"
    "  unmatched INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (notification, n)) WITHOUT ROWID;"
    "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, state INTEGER);";

struct fixture {
	struct store	*st;
	struct alerts	*al;
	sqlite3		*db;
	struct cfg_rules rules;
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(store_open(":memory:", 0, &f->st), 0);
	f->db = store_db(f->st);
	assert_int_equal(sqlite3_exec(f->db, test_ledger_schema, NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(totals_init(f->db), 0);
	assert_int_equal(alerts_open(f->st, &f->al), 0);
	assert_int_equal(inspect_init(f->db), 0);
	f->rules.capacity_months = 6;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	alerts_free(f->al);
	store_close(f->st);
	free(f);
	return 0;
}

/* Appends an entry of kind at time; its index. */
static uint64_t
append(struct fixture *f, const char *kind, const char *time,
    const char *extra)
{
	char		buf[512];
	uint64_t	idx;

	snprintf(buf, sizeof(buf), "{\"kind\":\"%s\",\"time\":\"%s\"%s%s}",
	    kind, time, extra ? "," : "", extra ? extra : "");
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_append(f->st, buf, strlen(buf), &idx), 0);
	assert_int_equal(store_commit(f->st), 0);
	return idx;
}

static void
exec(struct fixture *f, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(f->db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static void
test_window_by_bisection(void **state)
{
	struct fixture	*f = *state;
	uint64_t	 lo, hi, size;
	int		 i;

	/* An empty log: an empty window. */
	assert_int_equal(inspect_window(f->db, "2026-11", &lo, &hi, &size), 0);
	assert_true(lo == 0 && hi == 0 && size == 0);
	for (i = 0; i < 5; i++)
		append(f, "exchange", "2026-10-31T23:59:59.999Z", NULL);
	for (i = 0; i < 7; i++)
		append(f, "exchange", "2026-11-15T10:00:00.000Z", NULL);
	for (i = 0; i < 3; i++)
		append(f, "exchange", "2026-12-01T00:00:00.000Z", NULL);
	assert_int_equal(inspect_window(f->db, "2026-11", &lo, &hi, &size), 0);
	assert_true(lo == 5 && hi == 12 && size == 15);
	assert_int_equal(inspect_window(f->db, "2026-10", &lo, &hi, &size), 0);
	assert_true(lo == 0 && hi == 5);
	assert_int_equal(inspect_window(f->db, "2026-12", &lo, &hi, &size), 0);
	assert_true(lo == 12 && hi == 15);
	/* Months before and after the log. */
	assert_int_equal(inspect_window(f->db, "2025-01", &lo, &hi, &size), 0);
	assert_true(lo == 0 && hi == 0);
	assert_int_equal(inspect_window(f->db, "2027-01", &lo, &hi, &size), 0);
	assert_true(lo == 15 && hi == 15);
}

/* Trust manifests and account changes are picked up by kind within the
 * month; a refusal of the fund month is in, one of another is out, one of
 * no month is placed by its entry. */
static void
test_sections_by_kind_and_period(void **state)
{
	struct fixture	*f = *state;
	json_t		*rep, *ch, *rf, *al;
	uint64_t	 before, trust, change, review, ref1, ref2, ref3, ref4;
	char		 sql[512];
	int		 raised;

	before = append(f, "trust", "2026-10-20T08:00:00Z",
	    "\"reason\":\"start\",\"changed\":[]");
	assert_int_equal(inspect_mark(f->db, "trust", before), 0);
	trust = append(f, "trust", "2026-11-02T08:00:00Z", "\"reason\":"
	    "\"reload\",\"changed\":[{\"path\":\"ca.crt\",\"before\":\"aa\","
	    "\"after\":\"bb\"}],\"previous\":0");
	assert_int_equal(inspect_mark(f->db, "trust", trust), 0);
	change = append(f, "instruction", "2026-11-03T08:00:00Z",
	    "\"instruction\":{\"kind\":\"account-change\",\"id\":\"AC-1\","
	    "\"action\":\"add\"}");
	review = append(f, "instruction", "2026-11-04T08:00:00Z",
	    "\"instruction\":{\"kind\":\"account-review\",\"id\":\"AR-1\","
	    "\"change_id\":\"AC-1\",\"decision\":\"approved\"}");
	snprintf(sql, sizeof(sql), "INSERT INTO instructions (kind, id, digest, "
	    "agency, state, entry, status, receipt) VALUES ('account-change', "
	    "'AC-1', x'00', 'hrss', 3, %llu, 202, x'00'), ('account-review', "
	    "'AR-1', x'00', 'finance', 0, %llu, 202, x'00')",
	    (unsigned long long)change, (unsigned long long)review);
	exec(f, sql);
	ref1 = append(f, "refusal", "2026-11-05T08:00:00Z", NULL);
	assert_int_equal(inspect_refusal(f->db, ref1, "2026-11-05T08:00:00Z",
	    "plan-exceeded", 422, "disbursement", "D-1", "hrss", "620500",
	    "2024-06"), 0);
	ref2 = append(f, "refusal", "2026-11-05T09:00:00Z", NULL);
	assert_int_equal(inspect_refusal(f->db, ref2, "2026-11-05T09:00:00Z",
	    "plan-exceeded", 422, "disbursement", "D-2", "hrss", "620500",
	    "2024-07"), 0);
	ref3 = append(f, "refusal", "2026-11-06T09:00:00Z", NULL);
	assert_int_equal(inspect_refusal(f->db, ref3, "2026-11-06T09:00:00Z",
	    "unknown-payment", 422, "bank-status", "S-1", "bank", NULL, NULL),
	    0);
	ref4 = append(f, "refusal", "2026-11-07T09:00:00Z", NULL);
	assert_int_equal(inspect_refusal(f->db, ref4, "2026-11-07T09:00:00Z",
	    "edge-not-allowed", 422, "remittance", "R-1", "finance-620500",
	    "620500", "2024-06"), 0);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(alerts_raise(f->al, "plan-exceeded", "620500",
	    "2024-06", "D-1", json_pack("{s:I}", "requested_fen",
	    (json_int_t)620001), ref1, &raised), 0);
	assert_int_equal(store_commit(f->st), 0);
	append(f, "trust", "2026-12-01T00:00:00Z", "\"reason\":\"reload\"");

	/* The fund month 2024-06 was inspected in November 2026. */
	rep = inspect_report(f->db, &f->rules, "2024-06");
	assert_non_null(rep);
	ch = json_object_get(rep, "changes");
	assert_int_equal(json_array_size(ch), 0);	/* logged in 2026-11 */
	rf = json_object_get(rep, "refusals");
	assert_int_equal(json_array_size(rf), 2);
	/* By rule: edge-not-allowed before plan-exceeded. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(rf,
	    0), "rule")), "edge-not-allowed");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rf,
	    1), "audit_index")), ref1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rep,
	    "refusals_by_rule"), "plan-exceeded")), 1);
	al = json_object_get(rep, "alerts");
	assert_int_equal(json_array_size(al), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(al,
	    0), "audit_index")), ref1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(al,
	    0), "state")), "closed");
	assert_false(json_is_true(json_object_get(rep, "empty")));
	json_decref(rep);

	/* The month the log was written: changes and the refusal of no
	 * month, nothing of the fund months. */
	rep = inspect_report(f->db, &f->rules, "2026-11");
	assert_non_null(rep);
	ch = json_object_get(rep, "changes");
	assert_int_equal(json_array_size(ch), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ch,
	    0), "audit_index")), trust);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ch,
	    0), "kind")), "trust");
	assert_non_null(strstr(json_string_value(json_object_get(
	    json_array_get(ch, 0), "detail")), "ca.crt"));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ch,
	    1), "audit_index")), change);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ch,
	    1), "agency")), "hrss");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ch,
	    2), "audit_index")), review);
	rf = json_object_get(rep, "refusals");
	assert_int_equal(json_array_size(rf), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rf,
	    0), "audit_index")), ref3);
	json_decref(rep);
}

static void
test_empty_period(void **state)
{
	struct fixture	*f = *state;
	json_t		*rep;
	char		*out;
	size_t		 len;

	append(f, "exchange", "2026-11-15T10:00:00.000Z", NULL);
	rep = inspect_report(f->db, &f->rules, "2031-01");
	assert_non_null(rep);
	assert_true(json_is_true(json_object_get(rep, "empty")));
	assert_int_equal(inspect_html(rep, &out, &len), 0);
	assert_non_null(strstr(out, "Nothing was recorded for this period"));
	assert_non_null(strstr(out, "兰州市"));
	free(out);
	assert_int_equal(inspect_csv(rep, &out, &len), 0);
	assert_non_null(strstr(out, "\r\nreport,,,,,2031-01,,,,,empty,"));
	free(out);
	assert_null(inspect_report(f->db, &f->rules, "2031-13"));
	json_decref(rep);
}

/* Text from the log is escaped: HTML metacharacters as entities, CSV
 * fields with commas, quotes or line breaks quoted, quotes doubled. */
static void
test_escaping(void **state)
{
	struct fixture	*f = *state;
	json_t		*rep;
	uint64_t	 e;
	char		*out;
	size_t		 len;
	int		 raised;

	e = append(f, "alert", "2026-11-15T10:00:00.000Z", NULL);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(alerts_raise(f->al, "certificate-expiry", "", "",
	    "/etc/<b>\"x\",&'y'\r\n.crt", json_pack("{s:s, s:I}", "not_after",
	    "soon, \"really\"", "amount_fen", (json_int_t)-12345), e, &raised),
	    0);
	assert_int_equal(store_commit(f->st), 0);
	rep = inspect_report(f->db, &f->rules, "2026-11");
	assert_non_null(rep);
	assert_int_equal(inspect_html(rep, &out, &len), 0);
	assert_int_equal(len, strlen(out));
	assert_non_null(strstr(out,
	    "/etc/&lt;b&gt;&quot;x&quot;,&amp;&#39;y&#39;"));
	assert_null(strstr(out, "<b>"));
	assert_null(strstr(out, "<script"));
	assert_null(strstr(out, "http"));
	assert_non_null(strstr(out, "amount: -123.45 yuan"));
	assert_non_null(strstr(out, "not-recorded"));
	free(out);
	assert_int_equal(inspect_csv(rep, &out, &len), 0);
	assert_non_null(strstr(out, ",\"/etc/<b>\"\"x\"\",&'y'\r\n.crt\","));
	assert_non_null(strstr(out, "\"amount: -123.45 yuan; not_after: soon, "
	    "\"\"really\"\"\""));
	assert_non_null(strstr(out, "reconciliation,,,620500,天水市,2026-11,"));
	free(out);
	json_decref(rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_window_by_bisection, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sections_by_kind_and_period,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_period, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
	};

	log_init("test", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
