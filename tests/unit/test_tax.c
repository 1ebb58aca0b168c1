/* Unit tests for adapters/tax: PremiumCollection batches in UTF-8, GBK and
 * GB18030, every refusal the contract names, and the XML receipt. */
#include <iconv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/tree.h>

#include "adapters/instr.h"
#include "adapters/tax.h"
#include "adapters/xml.h"
#include "util.h"

/* ---- building documents ---- */

struct sbuf {
	char	*p;
	size_t	 n, cap;
};

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list	ap;
	int	k;

	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		assert_true(k >= 0);
		if ((size_t)k < b->cap - b->n)
			break;
		b->cap = (b->cap + (size_t)k) * 2;
		assert_non_null(b->p = realloc(b->p, b->cap));
	}
	b->n += (size_t)k;
}

static void
sb_init(struct sbuf *b)
{
	b->cap = 4096;
	b->n = 0;
	assert_non_null(b->p = malloc(b->cap));
	b->p[0] = '\0';
}

/* The fields of a batch; NULL header fields are left out. */
struct batch {
	const char	*decl;		/* encoding in the declaration, or NULL */
	const char	*ns;
	const char	*batch_id, *city, *period, *at, *currency, *total;
	const char	*count;
	const char	*items;		/* the Item elements, verbatim */
};

#define NS	"urn:gateway:tax:collection:1"

#define ITEM(id, name, insured, amount) \
	"<Item><EmployerId>" id "</EmployerId><EmployerName>" name \
	"</EmployerName><Insured>" insured "</Insured><Amount>" amount \
	"</Amount></Item>\n"

#define ITEMS3 \
	ITEM("91620100MA71AB12C4", "兰州市第一建筑工程有限公司", "120", \
	    "12345.67") \
	ITEM("91620102224331102U", "甘肃陇原物流有限责任公司", "35", \
	    "2000.00") \
	ITEM("12620000438000123F", "兰州大学第二医院", "800", "80000.33")

static struct batch
good(void)
{
	struct batch	b = {
		NULL, NS, "TAX-2024-05-620100-001", "620100", "2024-05",
		"2024-06-03T09:30:00+08:00", "CNY", "94346.00", "3", ITEMS3,
	};

	return b;
}

static char *
render(const struct batch *b, size_t *len)
{
	struct sbuf	s;

	sb_init(&s);
	if (b->decl != NULL)
		sb_add(&s, "<?xml version=\"1.0\" encoding=\"%s\"?>\n", b->decl);
	sb_add(&s, "<PremiumCollection xmlns=\"%s\">\n", b->ns);
	if (b->batch_id)
		sb_add(&s, "<BatchId>%s</BatchId>\n", b->batch_id);
	if (b->city)
		sb_add(&s, "<CityCode>%s</CityCode>\n", b->city);
	if (b->period)
		sb_add(&s, "<Period>%s</Period>\n", b->period);
	if (b->at)
		sb_add(&s, "<CollectedAt>%s</CollectedAt>\n", b->at);
	if (b->currency)
		sb_add(&s, "<Currency>%s</Currency>\n", b->currency);
	if (b->total)
		sb_add(&s, "<TotalAmount>%s</TotalAmount>\n", b->total);
	if (b->count)
		sb_add(&s, "<Count>%s</Count>\n", b->count);
	sb_add(&s, "%s</PremiumCollection>\n", b->items);
	*len = s.n;
	return s.p;
}

/* UTF-8 text to cs with the system's iconv, independently of the code
 * under test. The caller frees. */
static char *
conv(const char *utf8, size_t il, const char *cs, size_t *outlen)
{
	iconv_t	 cd = iconv_open(cs, "UTF-8");
	size_t	 ol = il * 4 + 1;
	char	*buf = malloc(ol), *ip = (char *)(uintptr_t)utf8, *op = buf;

	assert_true(cd != (iconv_t)-1);
	assert_non_null(buf);
	assert_true(iconv(cd, &ip, &il, &op, &ol) != (size_t)-1);
	iconv_close(cd);
	*outlen = (size_t)(op - buf);
	return buf;
}

static void
expect(const char *doc, size_t len, const char *cs, int status,
    const char *code, const char *field)
{
	struct adapter_error	e = { 0 };
	struct instr		in;

	memset(&in, 0x5a, sizeof(in));
	if (tax_parse(doc, len, cs, &in, &e) == 0) {
		instr_free(&in);
		fail_msg("accepted, wanted %s", code);
	}
	if (e.status != status || strcmp(e.code, code) != 0)
		fail_msg("got %d %s [%s] (%s), wanted %d %s", e.status, e.code,
		    e.field, e.detail, status, code);
	if (field != NULL && strcmp(e.field, field) != 0)
		fail_msg("%s: field %s, wanted %s", code, e.field, field);
	/* A refused batch leaves nothing behind. */
	assert_int_equal(in.kind, 0);
	assert_null(in.u.collection.items);
}

static void
expect_batch(const struct batch *b, const char *cs, int status,
    const char *code, const char *field)
{
	char	*doc;
	size_t	 len;

	doc = render(b, &len);
	expect(doc, len, cs, status, code, field);
	free(doc);
}

static void
check_good(const struct instr *in)
{
	const struct instr_collection	*c = &in->u.collection;

	assert_int_equal(in->kind, INSTR_COLLECTION);
	assert_string_equal(in->id, "TAX-2024-05-620100-001");
	assert_string_equal(c->city, "620100");
	assert_string_equal(c->period, "2024-05");
	assert_string_equal(c->collected_at, "2024-06-03T09:30:00+08:00");
	assert_string_equal(c->currency, "CNY");
	assert_true(c->total_fen == 9434600);
	assert_int_equal(c->count, 3);
	assert_int_equal(c->nitems, 3);
	assert_string_equal(c->items[0].employer_id, "91620100MA71AB12C4");
	assert_string_equal(c->items[0].employer_name,
	    "兰州市第一建筑工程有限公司");
	assert_int_equal(c->items[0].insured, 120);
	assert_true(c->items[0].amount_fen == 1234567);
	assert_string_equal(c->items[1].employer_name,
	    "甘肃陇原物流有限责任公司");
	assert_true(c->items[1].amount_fen == 200000);
	assert_string_equal(c->items[2].employer_id, "12620000438000123F");
	assert_int_equal(c->items[2].insured, 800);
	assert_true(c->items[2].amount_fen == 8000033);
}

/* ---- accepted ---- */

static void
test_utf8(void **state)
{
	struct batch		 b = good();
	struct adapter_error	 e = { 0 };
	struct instr		 in;
	char			*doc;
	size_t			 len;

	doc = render(&b, &len);
	assert_int_equal(tax_parse(doc, len, NULL, &in, &e), 0);
	check_good(&in);
	instr_free(&in);
	assert_int_equal(tax_parse(doc, len, "utf-8", &in, &e), 0);
	instr_free(&in);
	free(doc);
	b.decl = "UTF-8";
	doc = render(&b, &len);
	assert_int_equal(tax_parse(doc, len, "UTF-8", &in, &e), 0);
	check_good(&in);
	instr_free(&in);
	free(doc);
}

static void
test_gbk_and_gb18030(void **state)
{
	static const char *const	cs[] = { "GBK", "GB18030" };
	struct batch			 b;
	struct adapter_error		 e = { 0 };
	struct instr			 in;
	char				*utf8, *raw;
	size_t				 len, rlen, i;

	for (i = 0; i < nitems(cs); i++) {
		/* Declared in the document, and told by Content-Type. */
		b = good();
		b.decl = cs[i];
		utf8 = render(&b, &len);
		raw = conv(utf8, len, cs[i], &rlen);
		assert_null(memmem(raw, rlen, "兰州", strlen("兰州")));
		assert_int_equal(tax_parse(raw, rlen, NULL, &in, &e), 0);
		check_good(&in);
		instr_free(&in);
		assert_int_equal(tax_parse(raw, rlen, cs[i], &in, &e), 0);
		check_good(&in);
		instr_free(&in);
		/* Declared one way, told another. */
		expect(raw, rlen, "UTF-8", 415, "bad-encoding", NULL);
		expect(raw, rlen, i == 0 ? "GB18030" : "GBK", 415,
		    "bad-encoding", NULL);
		free(raw);
		free(utf8);
		/* Content-Type only, no declaration. */
		b.decl = NULL;
		utf8 = render(&b, &len);
		raw = conv(utf8, len, cs[i], &rlen);
		assert_int_equal(tax_parse(raw, rlen, cs[i], &in, &e), 0);
		check_good(&in);
		instr_free(&in);
		/* Neither: read as UTF-8, which these bytes are not. */
		expect(raw, rlen, NULL, 400, "bad-encoding", NULL);
		free(raw);
		free(utf8);
	}
}

static void
test_gbk_literal_bytes(void **state)
{
	/* 甘肃 (B8CA CBE0) 建筑 (BDA8 D6FE) 有限公司 (D3D0 CFDE B9AB CBBE) in
	 * GBK, written out as bytes. */
	static const char	doc[] =
	    "<?xml version=\"1.0\" encoding=\"GBK\"?>"
	    "<PremiumCollection xmlns=\"" NS "\"><BatchId>B1</BatchId>"
	    "<CityCode>620200</CityCode><Period>2024-01</Period>"
	    "<CollectedAt>2024-02-01T00:00:00Z</CollectedAt>"
	    "<Currency>CNY</Currency><TotalAmount>0.05</TotalAmount>"
	    "<Count>1</Count><Item><EmployerId>91620200MA72XY3450</EmployerId>"
	    "<EmployerName>\xb8\xca\xcb\xe0\xbd\xa8\xd6\xfe\xd3\xd0\xcf\xde"
	    "\xb9\xab\xcb\xbe</EmployerName><Insured>1</Insured>"
	    "<Amount>0.05</Amount></Item></PremiumCollection>";
	struct adapter_error	e = { 0 };
	struct instr		in;

	assert_int_equal(tax_parse(doc, sizeof(doc) - 1, "GBK", &in, &e), 0);
	assert_string_equal(in.u.collection.items[0].employer_name,
	    "甘肃建筑有限公司");
	assert_true(in.u.collection.total_fen == 5);
	instr_free(&in);
}

static void
test_gb18030_four_byte_name(void **state)
{
	struct batch		 b = good();
	struct adapter_error	 e = { 0 };
	struct instr		 in;
	char			*utf8, *raw;
	size_t			 len, rlen;

	/* U+20000 exists in GB18030 (four bytes) but not in GBK. */
	b.decl = "GB18030";
	b.total = "1.00";
	b.count = "1";
	b.items = ITEM("91620100MA71AB12C4", "𠀀记商贸有限公司", "1", "1.00");
	utf8 = render(&b, &len);
	raw = conv(utf8, len, "GB18030", &rlen);
	assert_non_null(memmem(raw, rlen, "\x95\x32\x82\x36", 4));
	assert_int_equal(tax_parse(raw, rlen, "GB18030", &in, &e), 0);
	assert_string_equal(in.u.collection.items[0].employer_name,
	    "𠀀记商贸有限公司");
	instr_free(&in);
	free(raw);
	free(utf8);
}

static void
test_max_items(void **state)
{
	struct batch		 b = good();
	struct adapter_error	 e = { 0 };
	struct instr		 in;
	struct sbuf		 items;
	char			*doc;
	size_t			 len, i;

	sb_init(&items);
	for (i = 0; i < INSTR_MAX_ITEMS; i++)
		sb_add(&items, ITEM("91620100MA71AB12C4", "兰州某公司", "2",
		    "0.01"));
	b.items = items.p;
	b.total = "100.00";
	b.count = "10000";
	doc = render(&b, &len);
	assert_int_equal(tax_parse(doc, len, NULL, &in, &e), 0);
	assert_int_equal(in.u.collection.nitems, INSTR_MAX_ITEMS);
	assert_true(in.u.collection.total_fen == 10000);
	instr_free(&in);
	free(doc);
	/* One more item is past every bound. */
	sb_add(&items, ITEM("91620100MA71AB12C4", "兰州某公司", "2", "0.01"));
	b.items = items.p;
	b.total = "100.01";
	doc = render(&b, &len);
	expect(doc, len, NULL, 413, "too-many-elements", NULL);
	free(doc);
	free(items.p);
}

/* ---- refused ---- */

static void
test_malformed(void **state)
{
	struct batch	 b = good();
	char		*doc;
	size_t		 len;

	doc = render(&b, &len);
	expect(doc, len - 10, NULL, 400, "malformed", NULL);
	expect("<PremiumCollection", 18, NULL, 400, "malformed", NULL);
	expect("not xml at all", 14, NULL, 400, "malformed", NULL);
	free(doc);
	b.items = "<Item><EmployerId>&bogus;</EmployerId></Item>";
	expect_batch(&b, NULL, 400, "malformed", NULL);
	b.items = "<Item>";
	expect_batch(&b, NULL, 400, "malformed", NULL);
}

static void
test_doctype_and_entities(void **state)
{
	static const char	laughs[] =
	    "<?xml version=\"1.0\"?><!DOCTYPE PremiumCollection ["
	    "<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">"
	    "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
	    "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>"
	    "<PremiumCollection xmlns=\"" NS "\"><BatchId>&d;</BatchId>"
	    "</PremiumCollection>";
	static const char	xxe[] =
	    "<?xml version=\"1.0\"?><!DOCTYPE PremiumCollection ["
	    "<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
	    "<PremiumCollection xmlns=\"" NS "\"><BatchId>B</BatchId>"
	    "<CityCode>620100</CityCode><Period>2024-05</Period>"
	    "<CollectedAt>2024-06-03T09:30:00Z</CollectedAt>"
	    "<Currency>CNY</Currency><TotalAmount>1.00</TotalAmount>"
	    "<Count>1</Count><Item><EmployerId>91620100MA71AB12C4</EmployerId>"
	    "<EmployerName>&xxe;</EmployerName><Insured>1</Insured>"
	    "<Amount>1.00</Amount></Item></PremiumCollection>";
	static const char	ext[] =
	    "<!DOCTYPE PremiumCollection SYSTEM \"http://127.0.0.1:9/x.dtd\">"
	    "<PremiumCollection xmlns=\"" NS "\"/>";
	static const char	lower[] =
	    "<!doctype PremiumCollection><PremiumCollection xmlns=\"" NS "\"/>";

	expect(laughs, sizeof(laughs) - 1, NULL, 400, "doctype", NULL);
	expect(xxe, sizeof(xxe) - 1, NULL, 400, "doctype", NULL);
	expect(ext, sizeof(ext) - 1, NULL, 400, "doctype", NULL);
	expect(lower, sizeof(lower) - 1, NULL, 400, "doctype", NULL);
}

static void
test_wrong_namespace_and_root(void **state)
{
	struct batch	 b = good();
	char		*doc;
	size_t		 len;

	b.ns = "urn:gateway:tax:collection:2";
	expect_batch(&b, NULL, 400, "wrong-namespace", "/PremiumCollection");
	b.ns = "";
	expect_batch(&b, NULL, 400, "wrong-namespace", "/PremiumCollection");
	b.ns = "urn:gateway:tax:receipt:1";
	expect_batch(&b, NULL, 400, "wrong-namespace", "/PremiumCollection");
	b = good();
	doc = render(&b, &len);
	/* The right namespace on the wrong root. */
	expect("<Receipt xmlns=\"" NS "\"/>", strlen("<Receipt xmlns=\"" NS
	    "\"/>"), NULL, 400, "wrong-root", NULL);
	free(doc);
}

static void
test_schema_violations(void **state)
{
	struct batch	b;

	b = good();
	b.count = NULL;
	expect_batch(&b, NULL, 400, "schema-invalid", NULL);
	b = good();
	b.currency = "USD";
	expect_batch(&b, NULL, 400, "schema-invalid", "/PremiumCollection/Currency");
	b = good();
	b.city = "62010";
	expect_batch(&b, NULL, 400, "schema-invalid", "/PremiumCollection/CityCode");
	b = good();
	b.period = "2024-13";
	expect_batch(&b, NULL, 400, "schema-invalid", "/PremiumCollection/Period");
	b = good();
	b.batch_id = "TAX 2024";
	expect_batch(&b, NULL, 400, "schema-invalid", "/PremiumCollection/BatchId");
	b = good();
	b.at = "2024-06-03 09:30:00";
	expect_batch(&b, NULL, 400, "schema-invalid",
	    "/PremiumCollection/CollectedAt");
	b = good();
	b.items = "";
	expect_batch(&b, NULL, 400, "schema-invalid", NULL);
	b = good();
	b.items = ITEM("91620100MA71AB12C4", "兰州市第一建筑工程有限公司", "0",
	    "12345.67");
	expect_batch(&b, NULL, 400, "schema-invalid",
	    "/PremiumCollection/Item/Insured");
	/* Credit codes use no I, O, S, V or Z, and no lower case. */
	b.items = ITEM("91620100MA71AB12CO", "X", "1", "1.00");
	expect_batch(&b, NULL, 400, "schema-invalid",
	    "/PremiumCollection/Item/EmployerId");
	b.items = ITEM("91620100ma71ab12c4", "X", "1", "1.00");
	expect_batch(&b, NULL, 400, "schema-invalid",
	    "/PremiumCollection/Item/EmployerId");
	/* Names: not empty, no leading blank, no line break, 60 at most. */
	b.items = ITEM("91620100MA71AB12C4", "", "1", "1.00");
	expect_batch(&b, NULL, 400, "schema-invalid", NULL);
	b.items = ITEM("91620100MA71AB12C4", " 兰州", "1", "1.00");
	expect_batch(&b, NULL, 400, "schema-invalid", NULL);
	b.items = ITEM("91620100MA71AB12C4", "兰州\n公司", "1", "1.00");
	expect_batch(&b, NULL, 400, "schema-invalid", NULL);
	b.items = ITEM("91620100MA71AB12C4",
	    "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十"
	    "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一",
	    "1", "1.00");
	expect_batch(&b, NULL, 400, "schema-invalid", NULL);
	/* Out of order, unknown element, unknown attribute. */
	b.items = "<Item><EmployerName>X</EmployerName><EmployerId>"
	    "91620100MA71AB12C4</EmployerId><Insured>1</Insured>"
	    "<Amount>1.00</Amount></Item>";
	expect_batch(&b, NULL, 400, "schema-invalid", NULL);
	b.items = ITEM("91620100MA71AB12C4", "X", "1", "1.00") "<Extra/>";
	expect_batch(&b, NULL, 400, "schema-invalid", NULL);
	b.items = "<Item x=\"1\"><EmployerId>91620100MA71AB12C4</EmployerId>"
	    "<EmployerName>X</EmployerName><Insured>1</Insured>"
	    "<Amount>1.00</Amount></Item>";
	expect_batch(&b, NULL, 400, "schema-invalid", NULL);
}

static void
test_float_amounts(void **state)
{
	static const char *const	bad[] = {
		"1.5", "1e3", "1E3", "1.0e2", "1.500", "01.00", "-1.00",
		"+1.00", " 1.00", "1.00 ", "1,000.00", "1000", ".50", "1.",
		"NaN", "INF", "0x10.00", "\xef\xbc\x91.00",
		"12345678901234567.00",
	};
	struct batch	b = good();
	char		item[512];
	size_t		i;

	for (i = 0; i < nitems(bad); i++) {
		b = good();
		b.total = bad[i];
		expect_batch(&b, NULL, 400, "schema-invalid",
		    "/PremiumCollection/TotalAmount");
		str_printf(item, sizeof(item), ITEM("91620100MA71AB12C4", "X",
		    "1", "%s"), bad[i]);
		b = good();
		b.total = "1.00";
		b.count = "1";
		b.items = item;
		expect_batch(&b, NULL, 400, "schema-invalid",
		    "/PremiumCollection/Item/Amount");
	}
}

static void
test_total_mismatch(void **state)
{
	struct batch	b = good();

	b.total = "94346.01";
	expect_batch(&b, NULL, 422, "total-mismatch",
	    "/PremiumCollection/TotalAmount");
	b.total = "0.00";
	expect_batch(&b, NULL, 422, "total-mismatch",
	    "/PremiumCollection/TotalAmount");
	/* Items that add up past the largest amount (2^53 - 1 fen) are
	 * refused before the sum could mean anything. */
	b.total = "1.00";
	b.count = "2";
	b.items = ITEM("91620100MA71AB12C4", "X", "1", "90000000000000.00")
	    ITEM("91620100MA71AB12C4", "X", "1", "90000000000000.00");
	expect_batch(&b, NULL, 422, "total-mismatch",
	    "/PremiumCollection/TotalAmount");
	/* The schema's 16 digits hold more than canonical JSON carries. */
	b.items = ITEM("91620100MA71AB12C4", "X", "1", "90071992547409.92")
	    ITEM("91620100MA71AB12C4", "X", "1", "1.00");
	expect_batch(&b, NULL, 422, "bad-amount",
	    "/PremiumCollection/Item[1]/Amount");
	b = good();
	b.total = "9999999999999999.99";
	expect_batch(&b, NULL, 422, "bad-amount",
	    "/PremiumCollection/TotalAmount");
	/* The largest amount itself is fine. */
	{
		struct adapter_error	 e = { 0 };
		struct instr		 in;
		char			*doc;
		size_t			 len;

		b.total = "90071992547409.91";
		b.count = "1";
		b.items = ITEM("91620100MA71AB12C4", "X", "1",
		    "90071992547409.91");
		doc = render(&b, &len);
		assert_int_equal(tax_parse(doc, len, NULL, &in, &e), 0);
		assert_true(in.u.collection.total_fen == INSTR_MAX_FEN);
		instr_free(&in);
		free(doc);
	}
}

static void
test_count_mismatch(void **state)
{
	struct batch	b = good();

	b.count = "2";
	expect_batch(&b, NULL, 422, "count-mismatch", "/PremiumCollection/Count");
	b.count = "4";
	expect_batch(&b, NULL, 422, "count-mismatch", "/PremiumCollection/Count");
	b.count = "0";
	expect_batch(&b, NULL, 400, "schema-invalid", "/PremiumCollection/Count");
	b.count = "03";
	expect_batch(&b, NULL, 400, "schema-invalid", "/PremiumCollection/Count");
	b.count = "10001";
	expect_batch(&b, NULL, 400, "schema-invalid", "/PremiumCollection/Count");
}

static void
test_bad_credit_code(void **state)
{
	struct batch	b = good();

	/* The second item's check character is off by one. */
	b.items = ITEM("91620100MA71AB12C4", "甲", "1", "12345.67")
	    ITEM("91620102224331102T", "乙", "1", "2000.00")
	    ITEM("12620000438000123F", "丙", "1", "80000.33");
	expect_batch(&b, NULL, 422, "bad-credit-code",
	    "/PremiumCollection/Item[2]/EmployerId");
	/* Right check character, unknown registering authority. */
	b.items = ITEM("91620100MA71AB12C4", "甲", "1", "12345.67")
	    ITEM("91620102224331102U", "乙", "1", "2000.00")
	    ITEM("00620000438000123F", "丙", "1", "80000.33");
	expect_batch(&b, NULL, 422, "bad-credit-code",
	    "/PremiumCollection/Item[3]/EmployerId");
}

static void
test_unknown_city_and_dates(void **state)
{
	struct batch	b = good();

	b.city = "620171";	/* Lanzhou New Area: not a pooling area */
	expect_batch(&b, NULL, 422, "unknown-city", "/PremiumCollection/CityCode");
	b.city = "620000";	/* the province itself */
	expect_batch(&b, NULL, 422, "unknown-city", "/PremiumCollection/CityCode");
	b.city = "110000";
	expect_batch(&b, NULL, 422, "unknown-city", "/PremiumCollection/CityCode");
	b = good();
	b.at = "2024-02-30T09:30:00+08:00";
	expect_batch(&b, NULL, 422, "bad-time",
	    "/PremiumCollection/CollectedAt");
	b.at = "2024-06-03T25:30:00Z";
	expect_batch(&b, NULL, 422, "bad-time",
	    "/PremiumCollection/CollectedAt");
}

static void
test_oversize_and_nul(void **state)
{
	struct batch	 b = good();
	char		*doc, *big;
	size_t		 len;

	doc = render(&b, &len);
	/* A NUL anywhere, even past the root element. */
	doc[len - 1] = '\0';
	expect(doc, len, NULL, 400, "nul-byte", NULL);
	doc[40] = '\0';
	expect(doc, len, NULL, 400, "nul-byte", NULL);
	free(doc);
	assert_non_null(big = malloc(TAX_MAX_BYTES + 1));
	memset(big, ' ', TAX_MAX_BYTES + 1);
	memcpy(big, "<a>", 3);
	expect(big, TAX_MAX_BYTES + 1, NULL, 413, "too-large", NULL);
	free(big);
}

static void
test_bad_bytes(void **state)
{
	struct batch	 b = good();
	char		*doc;
	size_t		 len;

	b.decl = "GBK";
	b.items = ITEM("91620100MA71AB12C4", "\x81\x7f", "1", "1.00");
	doc = render(&b, &len);
	expect(doc, len, NULL, 400, "bad-encoding", NULL);
	free(doc);
	b.decl = "UTF-16";
	expect_batch(&b, NULL, 415, "bad-encoding", NULL);
	b = good();
	expect_batch(&b, "ISO-8859-1", 415, "bad-encoding", NULL);
}

/* ---- receipts ---- */

static struct xml_schema	*receipt_xsd;

static int
setup(void **state)
{
	struct adapter_error	e = { 0 };
	char			path[512];

	if (tax_init(NULL, &e) == -1) {
		fprintf(stderr, "tax_init: %s %s\n", e.code, e.detail);
		return -1;
	}
	str_printf(path, sizeof(path), "%s/tax-receipt.xsd", xml_schema_dir());
	receipt_xsd = xml_schema_load(path, &e);
	return receipt_xsd != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	xml_schema_free(receipt_xsd);
	tax_fini();
	return 0;
}

static const struct xml_limits	rlim = { 1 << 16, 8, 64 };

/* Checks a receipt against its schema; returns the root for reading. */
static xmlDoc *
receipt_doc(const char *out, size_t len, const char *cs)
{
	struct adapter_error	 e = { 0 };
	xmlDoc			*doc;

	doc = xml_parse(out, len, cs, &rlim, &e);
	if (doc == NULL)
		fail_msg("receipt does not parse: %s %s", e.code, e.detail);
	if (xml_validate(receipt_xsd, doc, &e) == -1)
		fail_msg("receipt invalid: %s %s", e.field, e.detail);
	return doc;
}

static void
rtext(xmlDoc *doc, const char *path1, const char *path2, const char *want)
{
	xmlNode		*n = xmlDocGetRootElement(doc);
	char		 buf[512];

	n = xml_child(n, TAX_RECEIPT_NS, path1);
	if (path2 != NULL)
		n = xml_child(n, TAX_RECEIPT_NS, path2);
	assert_non_null(n);
	assert_int_equal(xml_text(n, buf, sizeof(buf), path1, NULL), 0);
	assert_string_equal(buf, want);
}

static void
test_receipt_accepted(void **state)
{
	static const char *const	cs[] = { "UTF-8", "GBK", "GB18030" };
	struct tax_receipt		 r = {
		"TAX-2024-05-620100-001", TAX_ACCEPTED, 1, 4242,
		"bWVzc2FnZSBzaWduYXR1cmU=", "gw-ed25519-2024",
		"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:", NULL,
	};
	struct adapter_error		 e = { 0 };
	char				*out, decl[64];
	size_t				 len, i;
	xmlDoc				*doc;

	for (i = 0; i < nitems(cs); i++) {
		assert_int_equal(tax_receipt(&r, cs[i], &out, &len, &e), 0);
		str_printf(decl, sizeof(decl),
		    "<?xml version=\"1.0\" encoding=\"%s\"?>", cs[i]);
		assert_memory_equal(out, decl, strlen(decl));
		doc = receipt_doc(out, len, cs[i]);
		rtext(doc, "BatchId", NULL, "TAX-2024-05-620100-001");
		rtext(doc, "Status", NULL, "accepted");
		rtext(doc, "AuditIndex", NULL, "4242");
		rtext(doc, "Signature", NULL, "bWVzc2FnZSBzaWduYXR1cmU=");
		rtext(doc, "KeyId", NULL, "gw-ed25519-2024");
		rtext(doc, "Digest", NULL,
		    "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
		assert_null(xml_child(xmlDocGetRootElement(doc), TAX_RECEIPT_NS,
		    "Error"));
		xmlFreeDoc(doc);
		free(out);
	}
	r.status = TAX_DUPLICATE;
	assert_int_equal(tax_receipt(&r, NULL, &out, &len, &e), 0);
	doc = receipt_doc(out, len, NULL);
	rtext(doc, "Status", NULL, "duplicate");
	xmlFreeDoc(doc);
	free(out);
}

static void
test_receipt_refused(void **state)
{
	struct adapter_error	 why = { 0 }, e = { 0 };
	struct tax_receipt	 r = { 0 };
	char			*out, *gbk;
	size_t			 len, glen;
	xmlDoc			*doc;
	xmlNode			*root;

	adapter_fail(&why, 422, "bad-credit-code",
	    "/PremiumCollection/Item[2]/EmployerId",
	    "统一社会信用代码校验位错误 <%s>", "91620102224331102T");
	r.batch_id = "TAX-1";
	r.status = TAX_REFUSED;
	r.error = &why;
	assert_int_equal(tax_receipt(&r, "GBK", &out, &len, &e), 0);
	gbk = conv("统一社会信用代码", strlen("统一社会信用代码"), "GBK", &glen);
	assert_non_null(memmem(out, len, gbk, glen));
	free(gbk);
	doc = receipt_doc(out, len, "GBK");
	rtext(doc, "Status", NULL, "refused");
	rtext(doc, "Error", "Code", "bad-credit-code");
	rtext(doc, "Error", "Field", "/PremiumCollection/Item[2]/EmployerId");
	rtext(doc, "Error", "Detail",
	    "统一社会信用代码校验位错误 <91620102224331102T>");
	root = xmlDocGetRootElement(doc);
	assert_null(xml_child(root, TAX_RECEIPT_NS, "AuditIndex"));
	assert_null(xml_child(root, TAX_RECEIPT_NS, "Signature"));
	xmlFreeDoc(doc);
	free(out);

	/* A detail cut inside a character, a batch id with a control byte
	 * (it came from a refused request): still a valid receipt. */
	memset(&why, 0, sizeof(why));
	why.status = 400;
	str_copy(why.code, sizeof(why.code), "malformed");
	str_copy(why.detail, sizeof(why.detail), "bad \xe7\x94");
	r.batch_id = "B\x01";
	r.has_index = 1;
	r.audit_index = 7;
	assert_int_equal(tax_receipt(&r, "GB18030", &out, &len, &e), 0);
	doc = receipt_doc(out, len, NULL);
	rtext(doc, "BatchId", NULL, "B?");
	rtext(doc, "AuditIndex", NULL, "7");
	rtext(doc, "Error", "Detail", "bad ??");
	assert_null(xml_child(xml_child(xmlDocGetRootElement(doc),
	    TAX_RECEIPT_NS, "Error"), TAX_RECEIPT_NS, "Field"));
	xmlFreeDoc(doc);
	free(out);

	/* Unknown batch id: no BatchId element. */
	r.batch_id = NULL;
	assert_int_equal(tax_receipt(&r, NULL, &out, &len, &e), 0);
	doc = receipt_doc(out, len, NULL);
	assert_null(xml_child(xmlDocGetRootElement(doc), TAX_RECEIPT_NS,
	    "BatchId"));
	xmlFreeDoc(doc);
	free(out);
}

static void
test_receipt_incomplete(void **state)
{
	struct tax_receipt	 r = { "B", TAX_ACCEPTED, 1, 1, "sig", "key",
	    NULL, NULL };
	struct adapter_error	 e = { 0 };
	char			*out;
	size_t			 len;

	assert_int_equal(tax_receipt(&r, NULL, &out, &len, &e), -1);
	assert_null(out);
	assert_int_equal(e.status, 500);
	r.digest = "d";
	memset(&e, 0, sizeof(e));
	assert_int_equal(tax_receipt(&r, "Big5", &out, &len, &e), -1);
	r.status = TAX_REFUSED;		/* without an error */
	memset(&e, 0, sizeof(e));
	assert_int_equal(tax_receipt(&r, NULL, &out, &len, &e), -1);
	r.status = (enum tax_status)0;
	memset(&e, 0, sizeof(e));
	assert_int_equal(tax_receipt(&r, NULL, &out, &len, &e), -1);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_gbk_and_gb18030),
		cmocka_unit_test(test_gbk_literal_bytes),
		cmocka_unit_test(test_gb18030_four_byte_name),
		cmocka_unit_test(test_max_items),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_doctype_and_entities),
		cmocka_unit_test(test_wrong_namespace_and_root),
		cmocka_unit_test(test_schema_violations),
		cmocka_unit_test(test_float_amounts),
		cmocka_unit_test(test_total_mismatch),
		cmocka_unit_test(test_count_mismatch),
		cmocka_unit_test(test_bad_credit_code),
		cmocka_unit_test(test_unknown_city_and_dates),
		cmocka_unit_test(test_oversize_and_nul),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_receipt_accepted),
		cmocka_unit_test(test_receipt_refused),
		cmocka_unit_test(test_receipt_incomplete),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
