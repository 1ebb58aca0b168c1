/* Unit tests for registry changes: the adapter (adapters/accounts.c, body and
 * canonical form) and the registry book (keeper/regbook.c: versions by date,
 * the checks a change passes, the differences a file is refused with, and
 * what survives a reopen), on the development registry and an in-memory
 * database. Run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "adapters/accounts.h"
#include "adapters/instr.h"
#include "adapters/instr_parse.h"
#include "keeper/regbook.h"
#include "keeper/registry.h"
#include "log.h"
#include "util.h"

#define DEV_REGISTRY	"config/accounts.conf"
#define NAME		"jinchang-expenditure"
#define OLD		"270362030020000137"
#define NEW		"270362030020009995"

static const char change_body[] =
    "{\"id\":\"AC-1\",\"action\":\"change\",\"account\":{\"name\":\"" NAME "\","
    "\"number\":\"" NEW "\",\"cnaps\":\"102823000124\",\"holder\":\"金昌\","
    "\"role\":\"city-expenditure\",\"city_code\":\"620300\",\"bank\":\"bank\"},"
    "\"reason\":\"moved\",\"effective_date\":\"2026-12-10\","
    "\"proposed_by\":\"王芳\",\"proposed_at\":\"2026-12-01T09:00:00+08:00\"}";

static const char review_body[] =
    "{\"decision\":\"rejected\",\"reviewed_by\":\"李明\","
    "\"reviewed_at\":\"2026-12-01T10:00:00Z\"}";

static void
parse_change(const char *body, struct instr *in)
{
	struct adapter_error	err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(accounts_parse_change(body, strlen(body), 65536, in,
	    &err), 0);
}

static void
test_parse_roundtrip(void **state)
{
	struct adapter_error	 err;
	struct instr		 in, back;
	char			*canon;
	size_t			 len;

	(void)state;
	parse_change(change_body, &in);
	assert_int_equal(in.kind, INSTR_ACCOUNT_CHANGE);
	assert_int_equal(in.u.account_change.action, INSTR_ACCT_CHANGE);
	assert_string_equal(in.u.account_change.account.number, NEW);
	assert_int_equal(instr_canonical(&in, &canon, &len), 0);
	memset(&err, 0, sizeof(err));
	assert_int_equal(instr_parse_canonical(canon, len, INSTR_ACCOUNT_CHANGE,
	    &back, &err), 0);
	assert_string_equal(back.u.account_change.account.holder, "金昌");
	assert_string_equal(back.id, "AC-1");
	free(canon);
	instr_free(&in);
	instr_free(&back);

	memset(&err, 0, sizeof(err));
	assert_int_equal(accounts_parse_review(review_body, strlen(review_body),
	    65536, "AC-1", &in, &err), 0);
	assert_int_equal(in.u.account_review.approved, 0);
	assert_int_equal(instr_canonical(&in, &canon, &len), 0);
	assert_int_equal(instr_parse_canonical(canon, len, INSTR_ACCOUNT_REVIEW,
	    &back, &err), 0);
	assert_string_equal(back.id, "AC-1");
	free(canon);
	instr_free(&in);
	instr_free(&back);
}

static void
expect_refused(const char *body, const char *code)
{
	struct adapter_error	err;
	struct instr		in;

	memset(&err, 0, sizeof(err));
	assert_int_equal(accounts_parse_change(body, strlen(body), 65536, &in,
	    &err), -1);
	assert_string_equal(err.code, code);
}

static void
test_parse_refusals(void **state)
{
	(void)state;
	expect_refused("{\"id\":\"AC-1\",\"action\":\"move\"}", "bad-action");
	/* A retirement names the account only. */
	expect_refused("{\"id\":\"AC-1\",\"action\":\"retire\",\"account\":"
	    "{\"name\":\"a\",\"number\":\"1\"},\"reason\":\"r\","
	    "\"effective_date\":\"2026-12-10\",\"proposed_by\":\"p\","
	    "\"proposed_at\":\"2026-12-01T09:00:00Z\"}", "forbidden-field");
	expect_refused("{\"id\":\"AC-1\",\"action\":\"add\",\"account\":"
	    "{\"name\":\"a b\"}}", "bad-account-name");
	expect_refused("{\"id\":\"AC-1\",\"action\":\"add\",\"account\":"
	    "{\"name\":\"a\",\"number\":\"1\",\"cnaps\":\"12\"}}", "bad-cnaps");
	expect_refused("{\"id\":\"AC-1\",\"action\":\"add\",\"account\":[]}",
	    "wrong-type");
	expect_refused("{\"id\":\"AC-1\",\"action\":\"add\",\"account\":"
	    "{\"name\":\"a\",\"number\":\"1\",\"cnaps\":\"102823000124\","
	    "\"holder\":\"h\",\"role\":\"city-expenditure\",\"city_code\":"
	    "\"999999\"}}", "bad-city");
	expect_refused("{\"id\":\"AC-1\",\"action\":\"add\",\"extra\":1}",
	    "unknown-field");
}

struct fixture {
	sqlite3		*db;
	struct registry	*file;
	struct regbook	*book;
};

static int
setup(void **state)
{
	struct fixture	*fx = calloc(1, sizeof(*fx));

	if (fx == NULL || sqlite3_open(":memory:", &fx->db) != SQLITE_OK ||
	    registry_load(DEV_REGISTRY, &fx->file) == -1 ||
	    regbook_open(fx->db, 0, &fx->book) == -1)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	regbook_free(fx->book);
	registry_free(fx->file);
	sqlite3_close(fx->db);
	free(fx);
	return 0;
}

static const char *
number_on(struct regbook *b, const char *date)
{
	const struct registry_account	*a;

	a = registry_by_name(regbook_at(b, date), NAME);
	return a ? a->number : "(none)";
}

static void
test_versions_by_date(void **state)
{
	struct fixture		*fx = *state;
	struct registry_account	 before;
	struct instr		 in;
	char			 code[32], why[256], since[11];

	assert_true(regbook_empty(fx->book));
	assert_null(regbook_at(fx->book, "2026-12-01"));
	assert_int_equal(regbook_seed(fx->book, fx->file, 7), 0);
	assert_string_equal(number_on(fx->book, "2000-01-01"), OLD);

	parse_change(change_body, &in);
	assert_int_equal(regbook_check(fx->book, &in.u.account_change, &before,
	    code, sizeof(code), why, sizeof(why)), 0);
	assert_string_equal(before.number, OLD);
	assert_int_equal(regbook_apply(fx->book, &in.u.account_change, "AC-1",
	    "2026-12-10", 42), 0);
	assert_string_equal(number_on(fx->book, "2026-12-09"), OLD);
	assert_string_equal(number_on(fx->book, "2026-12-10"), NEW);
	assert_string_equal(number_on(fx->book, REGBOOK_LATEST), NEW);
	assert_int_equal(regbook_since(fx->book, NAME, "2026-12-11", since), 1);
	assert_string_equal(since, "2026-12-10");
	assert_int_equal(regbook_since(fx->book, NAME, "2026-12-09", since), 1);
	assert_string_equal(since, "");
	assert_string_equal(regbook_last_since(fx->book), "2026-12-10");

	/* Retired: known before its date, gone from it. */
	in.u.account_change.action = INSTR_ACCT_RETIRE;
	assert_int_equal(regbook_check(fx->book, &in.u.account_change, &before,
	    code, sizeof(code), why, sizeof(why)), 0);
	assert_int_equal(regbook_apply(fx->book, &in.u.account_change, "AC-2",
	    "2026-12-20", 43), 0);
	assert_string_equal(number_on(fx->book, "2026-12-19"), NEW);
	assert_string_equal(number_on(fx->book, "2026-12-20"), "(none)");
	assert_int_equal(regbook_since(fx->book, NAME, "2026-12-21", since), 0);

	/* What the table holds, a new keeper reads back the same. */
	regbook_free(fx->book);
	assert_int_equal(regbook_open(fx->db, 1, &fx->book), 0);
	assert_string_equal(number_on(fx->book, "2026-12-09"), OLD);
	assert_string_equal(number_on(fx->book, "2026-12-15"), NEW);
	assert_string_equal(number_on(fx->book, "2026-12-25"), "(none)");
}

static void
expect_code(struct regbook *b, struct instr *in, const char *code)
{
	struct registry_account	before;
	char			got[32] = "", why[256] = "";

	assert_int_equal(regbook_check(b, &in->u.account_change, &before, got,
	    sizeof(got), why, sizeof(why)), 1);
	assert_string_equal(got, code);
	assert_true(why[0] != '\0');
}

static void
test_checks(void **state)
{
	struct fixture			*fx = *state;
	struct instr_account_change	*c;
	struct instr			 in;
	const struct registry_account	*other;

	assert_int_equal(regbook_seed(fx->book, fx->file, 7), 0);
	parse_change(change_body, &in);
	c = &in.u.account_change;
	c->action = INSTR_ACCT_ADD;
	expect_code(fx->book, &in, "account-exists");
	c->action = INSTR_ACCT_CHANGE;
	str_copy(c->account.name, sizeof(c->account.name), "nobody");
	expect_code(fx->book, &in, "no-such-account");
	str_copy(c->account.name, sizeof(c->account.name), NAME);
	other = registry_at(fx->file, 0);
	str_copy(c->account.number, sizeof(c->account.number), other->number);
	expect_code(fx->book, &in, "account-conflict");
	str_copy(c->account.number, sizeof(c->account.number), NEW);
	str_copy(c->account.role, sizeof(c->account.role), "treasurer");
	expect_code(fx->book, &in, "bad-role");
	/* A province role in a city, and a second province-special. */
	str_copy(c->account.role, sizeof(c->account.role), "province-special");
	expect_code(fx->book, &in, "account-conflict");
	str_copy(c->account.city, sizeof(c->account.city), "620000");
	expect_code(fx->book, &in, "account-conflict");
	c->action = INSTR_ACCT_RETIRE;
	str_copy(c->account.name, sizeof(c->account.name), "province-special");
	expect_code(fx->book, &in, "no-province-special");
}

static void
say(const void *arg, const char *line)
{
	char	*dst = (char *)(uintptr_t)arg;

	str_append(dst, 4096, line);
	str_append(dst, 4096, "\n");
}

static void
test_diff(void **state)
{
	struct fixture		*fx = *state;
	struct registry		*edited;
	struct registry_account	 a;
	char			 out[4096] = "", why[128];

	assert_int_equal(regbook_diff(fx->file, fx->file, say, out), 0);
	assert_non_null(edited = registry_dup(fx->file));
	a = *registry_by_name(edited, NAME);
	str_copy(a.number, sizeof(a.number), NEW);
	assert_int_equal(registry_put(edited, &a, why, sizeof(why)), 0);
	assert_int_equal(registry_remove(edited, "province-special"), 0);
	assert_int_equal(regbook_diff(fx->file, edited, say, out), 2);
	assert_non_null(strstr(out, "account " NAME ": number is \"" OLD
	    "\" in the log's registry, \"" NEW "\" in the file"));
	assert_non_null(strstr(out, "account province-special: in the log's "
	    "registry, not in the file"));
	registry_free(edited);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_roundtrip),
		cmocka_unit_test(test_parse_refusals),
		T(test_versions_by_date),
		T(test_checks),
		T(test_diff),
	};
#undef T

	log_init("test_regbook", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
