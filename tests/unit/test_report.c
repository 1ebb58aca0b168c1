/* Unit tests for keeper/report's CSV: every row whole, and a row that does
 * not fit its line refused rather than written cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "keeper/report.h"
#include "log.h"

static json_t *
report_with_flags(size_t nflags)
{
	json_t	*flags = json_array(), *row;
	size_t	 i;

	for (i = 0; i < nflags; i++)
		json_array_append_new(flags, json_string("remittance-short"));
	row = json_pack("{s:s, s:o}", "city_code", "620100", "flags", flags);
	return json_pack("{s:s, s:[o]}", "period", "2024-05", "cities", row);
}

static void
test_csv_whole(void **state)
{
	json_t	*rec = report_with_flags(2);
	char	*out;
	size_t	 len;

	assert_int_equal(report_csv(rec, &out, &len), 0);
	assert_non_null(strstr(out, "2024-05,620100,"));
	assert_non_null(strstr(out, ",remittance-short;remittance-short\r\n"));
	assert_int_equal(len, strlen(out));
	free(out);
	json_decref(rec);
}

/* Flags past the line's room: the old code wrote the row with its flags
 * cut short and answered 200. */
static void
test_csv_refuses_cut_row(void **state)
{
	json_t	*rec = report_with_flags(40);
	char	*out = NULL;
	size_t	 len;

	assert_int_equal(report_csv(rec, &out, &len), -1);
	assert_null(out);
	json_decref(rec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_whole),
		cmocka_unit_test(test_csv_refuses_cut_row),
	};

	log_init("test", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
