/* Unit tests for keeper/registry: the development registry, files written to
 * a temporary folder (every refusal prints "FILE:LINE: message" with the
 * right line and fails the load), and the lookups. Run from the repository
 * root (config/accounts.conf is read relative to it). */
#include <sys/stat.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keeper/registry.h"
#include "log.h"
#include "util.h"

#define DEV_REGISTRY	"config/accounts.conf"
/* Room for every message of the 257-account file (about 1,300 lines). */
#define ERRMAX		(1 << 20)
#define BIG		100000	/* bytes of the longest line tried */

static const char *const cities[14] = {
	"620100", "620200", "620300", "620400", "620500", "620600", "620700",
	"620800", "620900", "621000", "621100", "621200", "622900", "623000",
};

struct fixture {
	char	dir[64];
	char	path[128];
	char	err[ERRMAX];	/* what registry_load printed on stderr */
};

static int
setup(void **state)
{
	struct fixture	*fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	str_copy(fx->dir, sizeof(fx->dir), "/tmp/gw-test-registry.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	str_printf(fx->path, sizeof(fx->path), "%s/accounts.conf", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;
	char		 p[160];

	unlink(fx->path);
	str_printf(p, sizeof(p), "%s/stderr", fx->dir);
	unlink(p);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void
write_bytes(const char *path, const char *text, size_t len)
{
	FILE	*fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* registry_load(file) with stderr captured into fx->err; 0 or -1. */
static int
load_file(struct fixture *fx, const char *file, struct registry **reg)
{
	char	errpath[160];
	int	fd, saved, rc;
	ssize_t	n;

	str_printf(errpath, sizeof(errpath), "%s/stderr", fx->dir);
	fd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	rc = registry_load(file, reg);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, fx->err, sizeof(fx->err) - 1);
	assert_true(n >= 0);
	fx->err[n] = '\0';
	close(fd);
	unlink(errpath);
	return rc;
}

static int
load_text(struct fixture *fx, const char *text, struct registry **reg)
{
	write_bytes(fx->path, text, strlen(text));
	return load_file(fx, fx->path, reg);
}

/* Whether some message at that line contains what. */
static int
error_has(const struct fixture *fx, int line, const char *what)
{
	char		 prefix[200];
	const char	*p = fx->err, *nl;
	size_t		 pl;

	str_printf(prefix, sizeof(prefix), "%s:%d: ", fx->path, line);
	pl = strlen(prefix);
	while (p != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		if (nl != NULL && strncmp(p, prefix, pl) == 0 &&
		    memmem(p + pl, (size_t)(nl - p) - pl, what, strlen(what)) !=
		    NULL)
			return 1;
		p = nl != NULL ? nl + 1 : NULL;
	}
	return 0;
}

/* Number of lines on stderr. */
static int
error_lines(const struct fixture *fx)
{
	const char	*p;
	int		 n = 0;

	for (p = fx->err; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	return n;
}

/* Loading text fails, leaves *out NULL, and reports what at line. */
static void
expect_error(struct fixture *fx, const char *text, int line, const char *what)
{
	struct registry	*reg = (struct registry *)&reg;	/* not NULL */

	if (load_text(fx, text, &reg) == 0) {
		registry_free(reg);
		fail_msg("registry accepted; expected line %d: %s\n--- file:\n%s",
		    line, what, text);
	}
	assert_null(reg);
	if (!error_has(fx, line, what))
		fail_msg("expected \"%s:%d: ...%s...\"; stderr was:\n%s",
		    fx->path, line, what, fx->err);
}

static struct registry *
expect_ok(struct fixture *fx, const char *text)
{
	struct registry	*reg = NULL;

	if (load_text(fx, text, &reg) == -1)
		fail_msg("registry refused:\n%s--- file:\n%s", fx->err, text);
	assert_non_null(reg);
	assert_string_equal(fx->err, "");
	return reg;
}

/* ---- files: a minimal good one, to which each case appends ---- */

/* Six lines: header, number, cnaps, holder, role, city. */
#define ACC(name, number, cnaps, holder, role, city)			\
	"[account " name "]\n"						\
	"number = " number "\n"						\
	"cnaps = " cnaps "\n"						\
	"holder = " holder "\n"						\
	"role = " role "\n"						\
	"city = " city "\n"

#define HOLDER_PS	"甘肃省财政厅社会保险基金财政专户"
#define HOLDER_LZ	"兰州市社会保险事业管理局支出户"
#define MIN_REG	ACC("ps", "1000001", "102821000019", HOLDER_PS,		\
	    "province-special", "620000")
#define M	6	/* lines of MIN_REG */

/* An account appended to MIN_REG: its header is line M + 1, its number
 * M + 2, cnaps M + 3, holder M + 4, role M + 5, city M + 6. */
#define CE(name, number, city)						\
	ACC(name, number, "102821000118", HOLDER_LZ, "city-expenditure", city)

/* ---- the development registry ---- */

static void
test_dev_registry(void **state)
{
	struct fixture			*fx = *state;
	struct registry			*reg = NULL;
	const struct registry_account	*a, *b;
	size_t				 i;

	if (access(DEV_REGISTRY, R_OK) == -1)
		fail_msg("cannot read %s: run from the repository root",
		    DEV_REGISTRY);
	if (load_file(fx, DEV_REGISTRY, &reg) == -1)
		fail_msg("%s refused:\n%s", DEV_REGISTRY, fx->err);
	assert_string_equal(fx->err, "");
	assert_int_equal(registry_count(reg), 30);

	a = registry_find(reg, REG_PROVINCE_SPECIAL, NULL);
	assert_non_null(a);
	assert_string_equal(a->city, "620000");
	assert_string_equal(a->bank, "bank");
	a = registry_find(reg, REG_PROVINCE_EXPENDITURE, NULL);
	assert_non_null(a);
	assert_string_equal(a->city, "620000");

	for (i = 0; i < nitems(cities); i++) {
		a = registry_find(reg, REG_CITY_SPECIAL, cities[i]);
		b = registry_find(reg, REG_CITY_EXPENDITURE, cities[i]);
		if (a == NULL || b == NULL)
			fail_msg("city %s lacks its %s account", cities[i],
			    a == NULL ? "city-special" : "city-expenditure");
		assert_string_equal(a->city, cities[i]);
		assert_string_equal(b->city, cities[i]);
		assert_int_equal(a->role, REG_CITY_SPECIAL);
		assert_int_equal(b->role, REG_CITY_EXPENDITURE);
		assert_string_not_equal(a->number, b->number);
	}
	for (i = 0; i < registry_count(reg); i++) {
		a = registry_at(reg, i);
		assert_non_null(a);
		assert_string_equal(a->bank, "bank");
		assert_int_equal(strlen(a->cnaps), 12);
		assert_true(a->holder[0] != '\0');
		assert_true(a->line > 0);
		assert_ptr_equal(registry_by_number(reg, a->number), a);
	}
	assert_null(registry_at(reg, 30));
	registry_free(reg);
}

/* ---- good files ---- */

static void
test_minimal(void **state)
{
	struct fixture			*fx = *state;
	struct registry			*reg;
	const struct registry_account	*a;

	reg = expect_ok(fx, MIN_REG);
	assert_int_equal(registry_count(reg), 1);
	a = registry_at(reg, 0);
	assert_string_equal(a->name, "ps");
	assert_string_equal(a->number, "1000001");
	assert_string_equal(a->cnaps, "102821000019");
	assert_string_equal(a->holder, HOLDER_PS);
	assert_int_equal(a->role, REG_PROVINCE_SPECIAL);
	assert_string_equal(a->city, "620000");
	assert_string_equal(a->bank, "");	/* optional */
	assert_int_equal(a->line, 1);
	registry_free(reg);
}

/* Comments (whole-line and inline), blank and indented lines, CRLF, a byte
 * order mark, blanks around '=' and in the header, a trailing comment on the
 * header, no newline at the end. */
static void
test_syntax_accepted(void **state)
{
	struct fixture			*fx = *state;
	struct registry			*reg;
	const struct registry_account	*a;
	char				 text[1024], h[141];

	reg = expect_ok(fx, "\xef\xbb\xbf# development\r\n"
	    "; another comment\r\n"
	    "\r\n"
	    "  [account   ps ]  ; the province\r\n"
	    "number=AB-12/34 ; Max34Text allows '/'\r\n"
	    "\tcnaps   =   102821000019\r\n"
	    "holder = 甘肃省 财政厅;专户\r\n"
	    "role = province-special ; 省级财政专户\r\n"
	    "city = 620000\r\n"
	    "bank = bank-2.a_b");
	a = registry_at(reg, 0);
	assert_non_null(a);
	assert_string_equal(a->name, "ps");
	assert_string_equal(a->number, "AB-12/34");
	assert_string_equal(a->cnaps, "102821000019");
	assert_string_equal(a->holder, "甘肃省 财政厅;专户");
	assert_string_equal(a->bank, "bank-2.a_b");
	assert_int_equal(a->line, 4);
	registry_free(reg);

	/* A holder of exactly 140 characters: 140 ASCII letters. */
	memset(h, 'h', 140);
	h[140] = '\0';
	str_printf(text, sizeof(text), "%s[account x]\nnumber = 9\n"
	    "cnaps = 102821000118\nholder = %s\nrole = city-special\n"
	    "city = 620100\n", MIN_REG, h);
	reg = expect_ok(fx, text);
	assert_int_equal(strlen(registry_at(reg, 1)->holder), 140);
	registry_free(reg);
}

/* ---- lookups ---- */

static void
test_lookups(void **state)
{
	struct fixture			*fx = *state;
	struct registry			*reg;
	const struct registry_account	*a;
	enum registry_role		 r;

	reg = expect_ok(fx, MIN_REG
	    ACC("pe", "1000002", "102821000027", "甘肃省社会保险事业管理局支出户",
		"province-expenditure", "620000")
	    ACC("lz-s", "2000001", "102821000118", "兰州市财政局社会保险基金财政专户",
		"city-special", "620100")
	    CE("lz-e", "2000002", "620100")
	    CE("gn-e", "3000002", "623000")
	    "bank = bank\n");
	assert_int_equal(registry_count(reg), 5);

	a = registry_find(reg, REG_PROVINCE_SPECIAL, NULL);
	assert_non_null(a);
	assert_string_equal(a->name, "ps");
	/* Province roles ignore the city, whatever it is. */
	assert_ptr_equal(registry_find(reg, REG_PROVINCE_SPECIAL, "620100"), a);
	assert_string_equal(registry_find(reg, REG_PROVINCE_EXPENDITURE,
	    "x")->name, "pe");

	assert_string_equal(registry_find(reg, REG_CITY_SPECIAL,
	    "620100")->name, "lz-s");
	assert_string_equal(registry_find(reg, REG_CITY_EXPENDITURE,
	    "620100")->name, "lz-e");
	a = registry_find(reg, REG_CITY_EXPENDITURE, "623000");
	assert_non_null(a);
	assert_string_equal(a->name, "gn-e");
	assert_string_equal(a->bank, "bank");
	assert_int_equal(a->line, M + 19);
	/* No city-special registered for Gannan, no account for Baiyin. */
	assert_null(registry_find(reg, REG_CITY_SPECIAL, "623000"));
	assert_null(registry_find(reg, REG_CITY_EXPENDITURE, "620400"));
	assert_null(registry_find(reg, REG_CITY_EXPENDITURE, "620000"));
	assert_null(registry_find(reg, REG_CITY_EXPENDITURE, NULL));
	assert_null(registry_find(reg, (enum registry_role)0, "620100"));
	assert_null(registry_find(reg, (enum registry_role)99, NULL));

	assert_string_equal(registry_by_number(reg, "2000002")->name, "lz-e");
	assert_string_equal(registry_by_number(reg, "1000001")->name, "ps");
	assert_null(registry_by_number(reg, "200000"));
	assert_null(registry_by_number(reg, "20000021"));
	assert_null(registry_by_number(reg, ""));
	assert_null(registry_by_number(reg, NULL));

	assert_string_equal(registry_at(reg, 0)->name, "ps");
	assert_string_equal(registry_at(reg, 4)->name, "gn-e");
	assert_null(registry_at(reg, 5));
	assert_null(registry_at(reg, (size_t)-1));
	registry_free(reg);

	assert_int_equal(registry_count(NULL), 0);
	assert_null(registry_at(NULL, 0));
	assert_null(registry_find(NULL, REG_PROVINCE_SPECIAL, NULL));
	assert_null(registry_by_number(NULL, "1"));
	registry_free(NULL);

	for (r = REG_PROVINCE_SPECIAL; r <= REG_CITY_EXPENDITURE; r++) {
		enum registry_role	back = (enum registry_role)0;

		assert_int_equal(registry_role_parse(registry_role_name(r),
		    &back), 0);
		assert_int_equal(back, r);
	}
	assert_string_equal(registry_role_name(REG_CITY_SPECIAL),
	    "city-special");
	assert_string_equal(registry_role_name((enum registry_role)0), "?");
	assert_string_equal(registry_role_name((enum registry_role)5), "?");
	assert_int_equal(registry_role_parse("Province-Special", &r), -1);
	assert_int_equal(registry_role_parse("province-special ", &r), -1);
	assert_int_equal(registry_role_parse("", &r), -1);
	assert_int_equal(registry_role_parse(NULL, &r), -1);
}

/* ---- refusals: each names its line ---- */

static void
test_unknown_key(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_REG "colour = red\n", M + 1,
	    "unknown key \"colour\"");
	expect_error(fx, MIN_REG "Number = 1\n", M + 1, "unknown key \"Number\"");
	expect_error(fx, MIN_REG "number = 1000009\n", M + 1, "given twice");
	expect_error(fx, "number = 1\n" MIN_REG, 1, "outside any [account]");
}

static void
test_missing_key(void **state)
{
	struct fixture	*fx = *state;
	static const char *const keys[] = {
		"number", "cnaps", "holder", "role", "city"
	};
	char		 text[2048], want[64];
	size_t		 i;

	for (i = 0; i < nitems(keys); i++) {
		str_printf(text, sizeof(text), "%s[account x]\n"
		    "%snumber = 2000001\n%scnaps = 102821000118\n"
		    "%sholder = " HOLDER_LZ "\n%srole = city-expenditure\n"
		    "%scity = 620100\n", MIN_REG,
		    i == 0 ? "#" : "", i == 1 ? "#" : "", i == 2 ? "#" : "",
		    i == 3 ? "#" : "", i == 4 ? "#" : "");
		str_printf(want, sizeof(want), "account x: missing \"%s\"",
		    keys[i]);
		expect_error(fx, text, M + 1, want);
		assert_int_equal(error_lines(fx), 1);
	}
	/* A section with no key at all, then the end of the file. */
	expect_error(fx, MIN_REG "[account empty]\n", M + 1,
	    "account empty: missing \"number\"");
	assert_true(error_has(fx, M + 1, "missing \"city\""));
	/* No province-special at all; an empty file. */
	expect_error(fx, CE("e", "2", "620100"), 1,
	    "no province-special account");
	expect_error(fx, "", 1, "no province-special account");
}

static void
test_bad_cnaps(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_REG ACC("x", "2", "10282100011", HOLDER_LZ,
	    "city-expenditure", "620100"), M + 3, "cnaps must be exactly 12");
	expect_error(fx, MIN_REG ACC("x", "2", "1028210001181", HOLDER_LZ,
	    "city-expenditure", "620100"), M + 3, "cnaps must be exactly 12");
	expect_error(fx, MIN_REG ACC("x", "2", "10282100011A", HOLDER_LZ,
	    "city-expenditure", "620100"), M + 3, "cnaps must be exactly 12");
	expect_error(fx, MIN_REG ACC("x", "2", "１02821000118", HOLDER_LZ,
	    "city-expenditure", "620100"), M + 3, "cnaps must be exactly 12");
	expect_error(fx, MIN_REG ACC("x", "2", "102821 000118", HOLDER_LZ,
	    "city-expenditure", "620100"), M + 3, "cnaps must be exactly 12");
	expect_error(fx, MIN_REG ACC("x", "2", "", HOLDER_LZ,
	    "city-expenditure", "620100"), M + 3, "cnaps must be exactly 12");
}

static void
test_bad_number(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_REG CE("x", "2703 6201", "620100"), M + 2,
	    "number must be 1-34");
	expect_error(fx, MIN_REG CE("x", "2703\t6201", "620100"), M + 2,
	    "number must be 1-34");
	/* 35 characters; 34 are fine. */
	expect_error(fx, MIN_REG CE("x", "12345678901234567890123456789012345",
	    "620100"), M + 2, "number must be 1-34");
	registry_free(expect_ok(fx, MIN_REG
	    CE("x", "1234567890123456789012345678901234", "620100")));
	expect_error(fx, MIN_REG CE("x", "账号62", "620100"), M + 2,
	    "number must be 1-34");
	expect_error(fx, MIN_REG CE("x", "", "620100"), M + 2,
	    "number must be 1-34");
}

static void
test_bad_role(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_REG ACC("x", "2", "102821000118", HOLDER_LZ,
	    "city", "620100"), M + 5, "unknown role \"city\"");
	expect_error(fx, MIN_REG ACC("x", "2", "102821000118", HOLDER_LZ,
	    "City-Expenditure", "620100"), M + 5, "unknown role");
	expect_error(fx, MIN_REG ACC("x", "2", "102821000118", HOLDER_LZ,
	    "", "620100"), M + 5, "unknown role \"\"");
	/* A refused value is echoed with its control bytes masked. */
	expect_error(fx, MIN_REG ACC("x", "2", "102821000118", HOLDER_LZ,
	    "a\x1b[2Jb", "620100"), M + 5, "unknown role \"a?[2Jb\"");
}

static void
test_bad_city(void **state)
{
	struct fixture	*fx = *state;

	/* Lanzhou New Area is a statistical code, not a pooling area. */
	expect_error(fx, MIN_REG CE("x", "2", "620171"), M + 6,
	    "city \"620171\" is neither 620000");
	expect_error(fx, MIN_REG CE("x", "2", "999999"), M + 6, "is neither");
	expect_error(fx, MIN_REG CE("x", "2", "62010"), M + 6, "is neither");
	expect_error(fx, MIN_REG CE("x", "2", "lanzhou"), M + 6, "is neither");
	/* A city role on the province's code. */
	expect_error(fx, MIN_REG CE("x", "2", "620000"), M + 6,
	    "needs one of the 14 pooling areas");
	/* Province roles with a city code. */
	expect_error(fx, ACC("ps", "1", "102821000019", HOLDER_PS,
	    "province-special", "620100"), 6, "must have city 620000");
	expect_error(fx, MIN_REG ACC("pe", "2", "102821000027", HOLDER_PS,
	    "province-expenditure", "623000"), M + 6,
	    "must have city 620000");
}

static void
test_role_unique(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_REG ACC("ps2", "2", "102821000019", HOLDER_PS,
	    "province-special", "620000"), M + 5,
	    "a second province-special account (the first is ps, line 1)");
	expect_error(fx, MIN_REG
	    ACC("pe", "2", "102821000027", HOLDER_PS, "province-expenditure",
		"620000")
	    ACC("pe2", "3", "102821000027", HOLDER_PS, "province-expenditure",
		"620000"), M + 11, "a second province-expenditure account");
	expect_error(fx, MIN_REG CE("a", "2", "620100") CE("b", "3", "620100"),
	    M + 11, "a second city-expenditure account for city 620100");
	expect_error(fx, MIN_REG
	    ACC("a", "2", "102821000118", HOLDER_LZ, "city-special", "622900")
	    CE("b", "3", "620100")
	    ACC("c", "4", "102821000118", HOLDER_LZ, "city-special", "622900"),
	    M + 17, "a second city-special account for city 622900");
	/* One of each city role per city, in several cities: fine. */
	registry_free(expect_ok(fx, MIN_REG
	    CE("a", "2", "620100") CE("b", "3", "620200")
	    ACC("c", "4", "102821000118", HOLDER_LZ, "city-special", "620100")));
}

static void
test_duplicates(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_REG CE("x", "1000001", "620100"), M + 2,
	    "number 1000001 already used by account ps (line 1)");
	expect_error(fx, MIN_REG CE("a", "2", "620100") CE("b", "2", "620200"),
	    M + 8, "already used by account a");
	/* Sections: adjacent and not. */
	expect_error(fx, MIN_REG CE("ps", "2", "620100"), M + 1,
	    "account ps defined twice (first at line 1)");
	expect_error(fx, MIN_REG CE("a", "2", "620100") CE("a", "3", "620200"),
	    M + 7, "account a defined twice");
}

static void
test_bad_holder(void **state)
{
	struct fixture	*fx = *state;
	static const char *const bad_utf8[] = {
		"兰州\xe5\x85",		/* cut short */
		"\xc0\xaf",		/* overlong '/' */
		"\xe0\x80\xaf",		/* overlong, three bytes */
		"ab\xed\xa0\x80",	/* a surrogate */
		"\xf4\x90\x80\x80",	/* past U+10FFFF */
		"\x80x",		/* a lone continuation byte */
		"\xff",
		"\xe5\x85\xb0\xe5",	/* valid, then cut */
		"GBK \xc0\xbc\xd6\xdd",	/* 兰州 in GBK, not UTF-8 */
	};
	static const struct {
		const char	*holder, *what;
	} bad_ctl[] = {
		{ "a\x01z", "control character (U+0001)" },
		{ "a\tz", "control character (U+0009)" },
		{ "a\x1b[31mz", "control character (U+001B)" },
		{ "a\x7fz", "control character (U+007F)" },
		{ "a\xc2\x85z", "control character (U+0085)" },
		{ "兰州\xe2\x80\xae户支", "formatting mark (U+202E)" },
		{ "a\xe2\x80\xa8z", "formatting mark (U+2028)" },
		{ "a\xe2\x81\xa6z", "formatting mark (U+2066)" },
	};
	char		 text[1024], h[160];
	size_t		 i;

	for (i = 0; i < nitems(bad_utf8); i++) {
		str_printf(text, sizeof(text), "%s[account x]\nnumber = 2\n"
		    "cnaps = 102821000118\nholder = %s\nrole = city-special\n"
		    "city = 620100\n", MIN_REG, bad_utf8[i]);
		expect_error(fx, text, M + 4, "holder is not valid UTF-8");
	}
	for (i = 0; i < nitems(bad_ctl); i++) {
		str_printf(text, sizeof(text), "%s[account x]\nnumber = 2\n"
		    "cnaps = 102821000118\nholder = %s\nrole = city-special\n"
		    "city = 620100\n", MIN_REG, bad_ctl[i].holder);
		expect_error(fx, text, M + 4, bad_ctl[i].what);
	}
	expect_error(fx, MIN_REG ACC("x", "2", "102821000118", "",
	    "city-special", "620100"), M + 4, "holder is empty");
	/* 141 characters. */
	memset(h, 'h', 141);
	h[141] = '\0';
	str_printf(text, sizeof(text), "%s[account x]\nnumber = 2\n"
	    "cnaps = 102821000118\nholder = %s\nrole = city-special\n"
	    "city = 620100\n", MIN_REG, h);
	expect_error(fx, text, M + 4, "holder longer than 140 characters");
}

/* A line longer than the limit is refused whole, at its own line: never
 * split (its tail would be parsed as a line of its own), and the lines
 * after it keep their numbers. 198 bytes are fine. */
static void
test_long_line(void **state)
{
	struct fixture	*fx = *state;
	struct registry	*reg;
	char		 text[2048], pad[256], *big;
	size_t		 tl;

	/* "# " and 196 bytes: 198, the longest line allowed. */
	memset(pad, 'x', 196);
	pad[196] = '\0';
	str_printf(text, sizeof(text), "# %s\n%s", pad, MIN_REG);
	registry_free(expect_ok(fx, text));

	/* One byte more; the tail "role = city-special" must not count. */
	memset(pad, 'x', 197);
	str_printf(text, sizeof(text), "%s# %.*s%s\ncolour = red\n", MIN_REG,
	    178, pad, "role = city-special");
	expect_error(fx, text, M + 1, "line longer than 198 bytes");
	assert_true(error_has(fx, M + 2, "unknown key \"colour\""));
	assert_int_equal(error_lines(fx), 2);

	/* A holder line of 199 bytes and more: the line's error, and the
	 * holder is missing. */
	memset(pad, 'x', 190);
	pad[190] = '\0';
	str_printf(text, sizeof(text), "%s[account x]\nnumber = 2\n"
	    "cnaps = 102821000118\nholder = %s\nrole = city-special\n"
	    "city = 620100\n", MIN_REG, pad);
	expect_error(fx, text, M + 4, "line longer than 198 bytes");
	assert_true(error_has(fx, M + 1, "missing \"holder\""));

	/* Far longer than any buffer: still one line, then the next. */
	tl = strlen(MIN_REG);
	assert_non_null(big = malloc(tl + BIG + 16));
	memcpy(big, MIN_REG, tl);
	memset(big + tl, 'y', BIG);
	memcpy(big + tl + BIG, "\nfoo = 1\n", 9);
	write_bytes(fx->path, big, tl + BIG + 9);
	free(big);
	reg = (struct registry *)&reg;
	assert_int_equal(load_file(fx, fx->path, &reg), -1);
	assert_null(reg);
	assert_true(error_has(fx, M + 1, "line longer than 198 bytes"));
	assert_true(error_has(fx, M + 2, "unknown key \"foo\""));
	assert_int_equal(error_lines(fx), 2);
}

static void
test_bad_section(void **state)
{
	struct fixture		*fx = *state;
	struct registry		*reg;
	static const char	 nul_text[] = MIN_REG "bank = ok\0 x\n";

	expect_error(fx, MIN_REG "[bank x]\nnumber = 1\n", M + 1,
	    "unknown section [bank]");
	assert_int_equal(error_lines(fx), 1);	/* its keys are skipped */
	expect_error(fx, MIN_REG "[account]\n", M + 1, "bad account name \"\"");
	expect_error(fx, MIN_REG "[account a b]\n", M + 1,
	    "bad account name \"a b\"");
	expect_error(fx, MIN_REG "[account a/b]\n", M + 1, "bad account name");
	expect_error(fx, MIN_REG "[account x\n", M + 1, "bad section header");
	expect_error(fx, MIN_REG "[account x] y\n", M + 1,
	    "text after the section header");
	/* 63 characters are fine, 64 are not (and never cut silently). */
	registry_free(expect_ok(fx, MIN_REG CE("a123456789012345678901234567890"
	    "12345678901234567890123456789012", "2", "620100")));
	expect_error(fx, MIN_REG CE("a123456789012345678901234567890"
	    "123456789012345678901234567890123", "2", "620100"), M + 1,
	    "bad account name");
	/* Lines that are not "key = value". */
	expect_error(fx, MIN_REG "just text\n", M + 1, "expected \"key = value\"");
	expect_error(fx, MIN_REG "number: 5\n", M + 1, "expected \"key = value\"");
	expect_error(fx, MIN_REG "= 5\n", M + 1, "expected \"key = value\"");
	expect_error(fx, MIN_REG "bank x = y\n", M + 1,
	    "expected \"key = value\"");
	/* A NUL byte would hide the rest of the line from any C string. */
	write_bytes(fx->path, nul_text, sizeof(nul_text) - 1);
	reg = (struct registry *)&reg;
	assert_int_equal(load_file(fx, fx->path, &reg), -1);
	assert_null(reg);
	assert_true(error_has(fx, M + 1, "NUL byte"));
	expect_error(fx, MIN_REG "bank = bank x\n", M + 1,
	    "bad bank agency name \"bank x\"");
	expect_error(fx, MIN_REG "bank =\n", M + 1, "bad bank agency name");
}

/* More accounts than the registry holds (REGISTRY_MAX = 256). */
static void
test_too_many(void **state)
{
	struct fixture	*fx = *state;
	char		*text;
	size_t		 cap = 256 * 32 + sizeof(MIN_REG), off;
	int		 i;

	assert_non_null(text = malloc(cap));
	off = strlen(MIN_REG);
	memcpy(text, MIN_REG, off + 1);
	for (i = 0; i < 256; i++) {
		assert_int_equal(str_printf(text + off, cap - off,
		    "[account a%d]\n", i), 0);
		off += strlen(text + off);
	}
	expect_error(fx, text, M + 256, "more than 256 accounts");
	assert_true(error_has(fx, M + 255, "account a254: missing"));
	free(text);
}

/* Every error is reported, not only the first, each at its line. */
static void
test_all_errors(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, "# all wrong\n"			/* 1 */
	    "[account ps]\n"					/* 2 */
	    "number = 1 2\n"					/* 3 */
	    "cnaps = 1\n"					/* 4 */
	    "holder = \xff\n"					/* 5 */
	    "role = boss\n"					/* 6 */
	    "city = 1\n"					/* 7 */
	    "[account lz]\n"					/* 8 */
	    "colour = red\n",					/* 9 */
	    3, "number must be");
	assert_true(error_has(fx, 4, "cnaps"));
	assert_true(error_has(fx, 5, "UTF-8"));
	assert_true(error_has(fx, 6, "unknown role"));
	assert_true(error_has(fx, 7, "is neither"));
	assert_true(error_has(fx, 9, "unknown key"));
	assert_true(error_has(fx, 8, "account lz: missing \"number\""));
	assert_true(error_has(fx, 1, "no province-special account"));
}

static void
test_no_file(void **state)
{
	struct fixture	*fx = *state;
	struct registry	*reg = (struct registry *)&reg;
	char		 path[160];

	str_printf(path, sizeof(path), "%s/nonexistent.conf", fx->dir);
	assert_int_equal(load_file(fx, path, &reg), -1);
	assert_null(reg);
	assert_non_null(strstr(fx->err, "nonexistent.conf"));
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_dev_registry),
		T(test_minimal),
		T(test_syntax_accepted),
		T(test_lookups),
		T(test_unknown_key),
		T(test_missing_key),
		T(test_bad_cnaps),
		T(test_bad_number),
		T(test_bad_role),
		T(test_bad_city),
		T(test_role_unique),
		T(test_duplicates),
		T(test_bad_holder),
		T(test_long_line),
		T(test_bad_section),
		T(test_too_many),
		T(test_all_errors),
		T(test_no_file),
	};
#undef T

	log_init("test_registry", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
