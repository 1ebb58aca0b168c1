/* Unit tests for adapters/xml: charsets, DOCTYPE and entity attacks, limits,
 * schema loading confined to local files, validation errors, writing. */
#include <errno.h>
#include <iconv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <libxml/tree.h>

#include "adapters/xml.h"
#include "util.h"

static const struct xml_limits	lim = { 1 << 20, 16, 1000 };

/* UTF-8 text converted to cs with the system's iconv: test input built
 * independently of the code under test. The caller frees. */
static char *
conv(const char *utf8, const char *cs, size_t *outlen)
{
	iconv_t	 cd = iconv_open(cs, "UTF-8");
	size_t	 il = strlen(utf8), ol = il * 4 + 1;
	char	*buf = malloc(ol), *ip = (char *)(uintptr_t)utf8, *op = buf;

	assert_true(cd != (iconv_t)-1);
	assert_non_null(buf);
	assert_true(iconv(cd, &ip, &il, &op, &ol) != (size_t)-1);
	iconv_close(cd);
	*op = '\0';
	*outlen = (size_t)(op - buf);
	return buf;
}

static xmlDoc *
parse_str(const char *s, const char *cs, struct adapter_error *e)
{
	memset(e, 0, sizeof(*e));
	return xml_parse(s, strlen(s), cs, &lim, e);
}

static void
expect_refused(const char *s, size_t len, const char *cs, int status,
    const char *code)
{
	struct adapter_error	e = { 0 };
	xmlDoc			*doc;

	doc = xml_parse(s, len, cs, &lim, &e);
	if (doc != NULL) {
		xmlFreeDoc(doc);
		fail_msg("accepted: %.60s", s);
	}
	if (e.status != status || strcmp(e.code, code) != 0)
		fail_msg("%.60s: got %d %s (%s), want %d %s", s, e.status,
		    e.code, e.detail, status, code);
}

static void
expect_refused_str(const char *s, const char *cs, int status, const char *code)
{
	expect_refused(s, strlen(s), cs, status, code);
}

/* The text of the root's child name (no namespace). */
static void
assert_child(xmlDoc *doc, const char *name, const char *want)
{
	char			buf[256];
	struct adapter_error	e = { 0 };

	assert_int_equal(xml_child_text(xmlDocGetRootElement(doc), NULL, name,
	    1, buf, sizeof(buf), name, &e), 0);
	assert_string_equal(buf, want);
}

/* ---- charsets ---- */

static void
test_charset_names(void **state)
{
	assert_string_equal(xml_charset_name("utf-8"), "UTF-8");
	assert_string_equal(xml_charset_name("gb18030"), "GB18030");
	assert_string_equal(xml_charset_name("Gbk"), "GBK");
	assert_null(xml_charset_name("UTF-16"));
	assert_null(xml_charset_name("GB2312"));
	assert_null(xml_charset_name("ISO-8859-1"));
	assert_null(xml_charset_name("UTF8"));
	assert_null(xml_charset_name(""));
	assert_null(xml_charset_name(NULL));
}

static void
test_gbk_literal_bytes(void **state)
{
	/* 甘肃 in GBK is B8 CA CB E0; written out here, not by iconv. */
	static const char	doc_gbk[] =
	    "<?xml version=\"1.0\" encoding=\"GBK\"?><a><n>\xb8\xca\xcb\xe0</n></a>";
	struct adapter_error	e;
	xmlDoc			*doc;

	assert_non_null(doc = parse_str(doc_gbk, NULL, &e));
	assert_child(doc, "n", "甘肃");
	xmlFreeDoc(doc);
	/* The same bytes with the charset given by Content-Type only. */
	assert_non_null(doc = parse_str(
	    "<a><n>\xb8\xca\xcb\xe0</n></a>", "gbk", &e));
	assert_child(doc, "n", "甘肃");
	xmlFreeDoc(doc);
}

static void
test_gb18030_four_byte(void **state)
{
	/* U+20000 is four bytes in GB18030 (95 32 82 36) and absent from
	 * GBK. */
	static const char	doc_gb[] =
	    "<?xml version='1.0' encoding='GB18030'?><a><n>\x95\x32\x82\x36"
	    "\xb8\xca</n></a>";
	struct adapter_error	e;
	xmlDoc			*doc;
	char			*raw;
	size_t			 n;

	assert_non_null(doc = parse_str(doc_gb, "GB18030", &e));
	assert_child(doc, "n", "\xf0\xa0\x80\x80甘");
	xmlFreeDoc(doc);
	raw = conv("<?xml version=\"1.0\" encoding=\"GB18030\"?>"
	    "<a><n>兰州市第一建筑工程有限公司𠀀</n></a>", "GB18030", &n);
	memset(&e, 0, sizeof(e));
	assert_non_null(doc = xml_parse(raw, n, NULL, &lim, &e));
	assert_child(doc, "n", "兰州市第一建筑工程有限公司𠀀");
	xmlFreeDoc(doc);
	free(raw);
}

static void
test_utf8_default_and_bom(void **state)
{
	struct adapter_error	e;
	xmlDoc			*doc;

	assert_non_null(doc = parse_str("<a><n>甘肃</n></a>", NULL, &e));
	assert_child(doc, "n", "甘肃");
	xmlFreeDoc(doc);
	assert_non_null(doc = parse_str("\xef\xbb\xbf<?xml version=\"1.0\" "
	    "encoding=\"utf-8\"?><a><n>x</n></a>", "UTF-8", &e));
	assert_child(doc, "n", "x");
	xmlFreeDoc(doc);
	/* A BOM says UTF-8; a GBK declaration after it contradicts it. */
	expect_refused_str("\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"GBK\"?>"
	    "<a/>", NULL, 415, "bad-encoding");
}

static void
test_charset_disagreement(void **state)
{
	expect_refused_str("<?xml version=\"1.0\" encoding=\"GBK\"?><a/>",
	    "UTF-8", 415, "bad-encoding");
	expect_refused_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?><a/>",
	    "GB18030", 415, "bad-encoding");
	expect_refused_str("<?xml version=\"1.0\" encoding=\"GB18030\"?><a/>",
	    "GBK", 415, "bad-encoding");
	/* Same charset, other case: agreement. */
	{
		struct adapter_error	e;
		xmlDoc			*doc = parse_str(
		    "<?xml version=\"1.0\" encoding=\"gbk\"?><a/>", "GBK", &e);

		assert_non_null(doc);
		xmlFreeDoc(doc);
	}
}

static void
test_unsupported_charsets(void **state)
{
	expect_refused_str("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
	    NULL, 415, "bad-encoding");
	expect_refused_str("<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>",
	    NULL, 415, "bad-encoding");
	expect_refused_str("<?xml version=\"1.0\" encoding=\"GB2312\"?><a/>",
	    NULL, 415, "bad-encoding");
	expect_refused_str("<a/>", "latin1", 415, "bad-encoding");
	expect_refused_str("<a/>", "", 415, "bad-encoding");
	/* A declaration that never ends or names no encoding properly. */
	expect_refused_str("<?xml version=\"1.0\" encoding=\"GBK\"<a/>", NULL,
	    400, "malformed");
	expect_refused_str("<?xml version=\"1.0\" encoding=GBK?><a/>", NULL,
	    400, "malformed");
	expect_refused_str("<?xml version=\"1.0\" encoding=\"G B K\"?><a/>",
	    NULL, 400, "malformed");
}

static void
test_invalid_sequences(void **state)
{
	/* GBK: a lead byte with a bad trail, a lead byte at the end. */
	expect_refused_str("<a>\x81\x20</a>", "GBK", 400, "bad-encoding");
	expect_refused_str("<a/>\xb8", "GBK", 400, "bad-encoding");
	expect_refused_str("<a>\xff\xff</a>", "GBK", 400, "bad-encoding");
	/* GB18030: a four-byte sequence cut short. */
	expect_refused_str("<a>\x95\x32\x82</a>", "GB18030", 400,
	    "bad-encoding");
	expect_refused_str("<a/>\x95\x32", "GB18030", 400, "bad-encoding");
	/* UTF-8: overlong, surrogate, past U+10FFFF, stray continuation,
	 * truncated. */
	expect_refused_str("<a>\xc0\xaf</a>", NULL, 400, "bad-encoding");
	expect_refused_str("<a>\xe0\x80\xaf</a>", NULL, 400, "bad-encoding");
	expect_refused_str("<a>\xed\xa0\x80</a>", NULL, 400, "bad-encoding");
	expect_refused_str("<a>\xf4\x90\x80\x80</a>", NULL, 400,
	    "bad-encoding");
	expect_refused_str("<a>\x80</a>", NULL, 400, "bad-encoding");
	expect_refused_str("<a/>\xe7\x94", NULL, 400, "bad-encoding");
	/* GBK bytes sent as UTF-8. */
	expect_refused_str("<a>\xb8\xca\xcb\xe0</a>", "UTF-8", 400,
	    "bad-encoding");
}

static void
test_nul_and_size(void **state)
{
	static const char	nul[] = "<a>x\0y</a>";
	struct adapter_error	e = { 0 };
	const struct xml_limits	small = { 16, 16, 100 };
	xmlDoc			*doc;
	char			*big;

	expect_refused(nul, sizeof(nul) - 1, NULL, 400, "nul-byte");
	expect_refused("\0<a/>", 5, NULL, 400, "nul-byte");
	expect_refused(nul, sizeof(nul) - 1, "GBK", 400, "nul-byte");
	expect_refused("", 0, NULL, 400, "malformed");
	expect_refused("\xef\xbb\xbf", 3, NULL, 400, "malformed");
	expect_refused("\xef\xbb\xbf", 3, "GBK", 400, "malformed");
	assert_null(doc = xml_parse("<a>0123456789abcdef</a>", 23, NULL,
	    &small, &e));
	assert_int_equal(e.status, 413);
	assert_string_equal(e.code, "too-large");
	/* Exactly at the cap is fine. */
	memset(&e, 0, sizeof(e));
	assert_non_null(doc = xml_parse("<a>012345678</a>", 16, NULL, &small,
	    &e));
	xmlFreeDoc(doc);
	/* A large document under the default cap. */
	big = malloc(1 << 20);
	assert_non_null(big);
	memset(big, 'x', 1 << 20);
	memcpy(big, "<a>", 3);
	memcpy(big + (1 << 20) - 4, "</a>", 4);
	memset(&e, 0, sizeof(e));
	assert_non_null(doc = xml_parse(big, 1 << 20, NULL, &lim, &e));
	xmlFreeDoc(doc);
	memset(&e, 0, sizeof(e));
	assert_null(xml_parse(big, (1 << 20) - 1, NULL, &small, &e));
	assert_int_equal(e.status, 413);
	free(big);
}

/* ---- DOCTYPE, entities, XInclude ---- */

static void
test_doctype_refused(void **state)
{
	static const char *const	docs[] = {
		/* billion laughs */
		"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		"<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
		"<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
		"]><lolz>&lol3;</lolz>",
		/* external entity */
		"<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "
		"\"file:///etc/passwd\">]><foo>&xxe;</foo>",
		/* external DTD, over the network */
		"<!DOCTYPE foo SYSTEM \"http://127.0.0.1:9/evil.dtd\"><foo/>",
		/* parameter entity */
		"<!DOCTYPE foo [<!ENTITY % p SYSTEM \"file:///etc/passwd\">%p;]>"
		"<foo/>",
		/* any case, any spacing */
		"<!doctype foo><foo/>",
		"<!DocType foo><foo/>",
		"<?xml version=\"1.0\"?>\n<!-- c -->\n<!DOCTYPE foo><foo/>",
	};
	size_t	i;

	for (i = 0; i < nitems(docs); i++)
		expect_refused_str(docs[i], NULL, 400, "doctype");
}

static void
test_doctype_in_other_charsets(void **state)
{
	char	*raw;
	size_t	 n;

	raw = conv("<?xml version=\"1.0\" encoding=\"GBK\"?><!DOCTYPE a "
	    "[<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;甘</a>", "GBK",
	    &n);
	expect_refused(raw, n, NULL, 400, "doctype");
	free(raw);
}

static void
test_entities_without_dtd(void **state)
{
	struct adapter_error	e;
	xmlDoc			*doc;

	/* An undeclared entity is not well-formed; nothing is fetched. */
	expect_refused_str("<foo>&xxe;</foo>", NULL, 400, "malformed");
	expect_refused_str("<foo a=\"&xxe;\"/>", NULL, 400, "malformed");
	/* The five predefined ones and character references are fine. */
	assert_non_null(doc = parse_str("<a><n>&lt;&amp;&gt;&quot;&apos;"
	    "&#x7518;&#32899;</n></a>", NULL, &e));
	assert_child(doc, "n", "<&>\"'甘肃");
	xmlFreeDoc(doc);
}

static void
test_xinclude_not_processed(void **state)
{
	struct adapter_error	 e;
	xmlDoc			*doc;
	xmlNode			*inc;

	assert_non_null(doc = parse_str("<a xmlns:xi=\"http://www.w3.org/2001/"
	    "XInclude\"><xi:include href=\"file:///etc/passwd\" parse=\"text\"/>"
	    "</a>", NULL, &e));
	inc = xml_child(xmlDocGetRootElement(doc),
	    "http://www.w3.org/2001/XInclude", "include");
	assert_non_null(inc);
	assert_null(inc->children);	/* still an element, nothing read */
	xmlFreeDoc(doc);
}

static void
test_malformed(void **state)
{
	struct adapter_error	e;

	expect_refused_str("<a>", NULL, 400, "malformed");
	expect_refused_str("<a></b>", NULL, 400, "malformed");
	expect_refused_str("<a><b></a></b>", NULL, 400, "malformed");
	expect_refused_str("<a/><b/>", NULL, 400, "malformed");
	expect_refused_str("text", NULL, 400, "malformed");
	expect_refused_str("<a x=\"1\" x=\"2\"/>", NULL, 400, "malformed");
	expect_refused_str("<a>\x01</a>", NULL, 400, "malformed");
	/* Namespace errors are refused too. */
	expect_refused_str("<p:a/>", NULL, 400, "malformed");
	expect_refused_str("<a xmlns:p=\"urn:x\"><q:b/></a>", NULL, 400,
	    "malformed");
	/* The line of the error is reported. */
	assert_null(parse_str("<a>\n<b>\n</a>", NULL, &e));
	assert_string_equal(e.code, "malformed");
	assert_non_null(strstr(e.detail, "line 3"));
}

static void
test_limits(void **state)
{
	const struct xml_limits	shallow = { 1 << 20, 3, 1000 };
	const struct xml_limits	few = { 1 << 20, 16, 4 };
	struct adapter_error	e = { 0 };
	xmlDoc			*doc;

	assert_non_null(doc = xml_parse("<a><b><c/></b></a>", 18, NULL,
	    &shallow, &e));
	xmlFreeDoc(doc);
	assert_null(xml_parse("<a><b><c><d/></c></b></a>", 25, NULL, &shallow,
	    &e));
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, "too-deep");
	memset(&e, 0, sizeof(e));
	assert_non_null(doc = xml_parse("<a><b/><b/><b/></a>", 19, NULL, &few,
	    &e));
	xmlFreeDoc(doc);
	assert_null(xml_parse("<a><b/><b/><b/><b/></a>", 23, NULL, &few, &e));
	assert_int_equal(e.status, 413);
	assert_string_equal(e.code, "too-many-elements");
}

/* ---- schemas ---- */

static char	tmpdir[64];

static void
write_file(const char *dir, const char *name, const char *text)
{
	char	 path[256];
	FILE	*f;

	assert_int_equal(str_printf(path, sizeof(path), "%s/%s", dir, name), 0);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
setup_dirs(void **state)
{
	char	sub[128];

	str_copy(tmpdir, sizeof(tmpdir), "/tmp/test_xml.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	str_printf(sub, sizeof(sub), "%s/s", tmpdir);
	if (mkdir(sub, 0700) == -1)
		return -1;
	write_file(sub, "types.xsd",
	    "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "
	    "targetNamespace=\"urn:t\"><xs:simpleType name=\"Code\">"
	    "<xs:restriction base=\"xs:string\"><xs:pattern value=\"[A-Z]{3}\"/>"
	    "</xs:restriction></xs:simpleType></xs:schema>");
	write_file(sub, "main.xsd",
	    "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "
	    "xmlns:t=\"urn:t\" xmlns=\"urn:m\" targetNamespace=\"urn:m\" "
	    "elementFormDefault=\"qualified\">"
	    "<xs:import namespace=\"urn:t\" schemaLocation=\"types.xsd\"/>"
	    "<xs:element name=\"R\"><xs:complexType><xs:sequence>"
	    "<xs:element name=\"C\" type=\"t:Code\" maxOccurs=\"3\"/>"
	    "</xs:sequence></xs:complexType></xs:element></xs:schema>");
	/* Imports from outside its directory: refused. */
	write_file(tmpdir, "outside.xsd",
	    "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "
	    "targetNamespace=\"urn:t\"><xs:simpleType name=\"Code\">"
	    "<xs:restriction base=\"xs:string\"/></xs:simpleType></xs:schema>");
	write_file(sub, "escape.xsd",
	    "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "
	    "xmlns:t=\"urn:t\" targetNamespace=\"urn:m\">"
	    "<xs:import namespace=\"urn:t\" schemaLocation=\"../outside.xsd\"/>"
	    "<xs:element name=\"R\" type=\"t:Code\"/></xs:schema>");
	write_file(sub, "net.xsd",
	    "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "
	    "xmlns:t=\"urn:t\" targetNamespace=\"urn:m\">"
	    "<xs:import namespace=\"urn:t\" "
	    "schemaLocation=\"http://127.0.0.1:9/types.xsd\"/>"
	    "<xs:element name=\"R\" type=\"t:Code\"/></xs:schema>");
	write_file(sub, "passwd.xsd",
	    "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "
	    "xmlns:t=\"urn:t\" targetNamespace=\"urn:m\">"
	    "<xs:import namespace=\"urn:t\" schemaLocation=\"file:///etc/passwd\"/>"
	    "<xs:element name=\"R\" type=\"t:Code\"/></xs:schema>");
	return 0;
}

static int
teardown_dirs(void **state)
{
	static const char *const	files[] = {
		"s/types.xsd", "s/main.xsd", "s/escape.xsd", "s/net.xsd",
		"s/passwd.xsd", "outside.xsd", "s", "",
	};
	char				path[256];
	size_t				i;

	for (i = 0; i < nitems(files); i++) {
		str_printf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		remove(path);
	}
	return 0;
}

static struct xml_schema *
load(const char *name, struct adapter_error *e)
{
	char	path[256];

	memset(e, 0, sizeof(*e));
	str_printf(path, sizeof(path), "%s/s/%s", tmpdir, name);
	return xml_schema_load(path, e);
}

static void
test_schema_local_import(void **state)
{
	struct adapter_error	 e;
	struct xml_schema	*s;
	xmlDoc			*doc;

	assert_non_null(s = load("main.xsd", &e));
	assert_non_null(doc = parse_str("<R xmlns=\"urn:m\"><C>ABC</C>"
	    "<C>XYZ</C></R>", NULL, &e));
	assert_int_equal(xml_validate(s, doc, &e), 0);
	xmlFreeDoc(doc);

	/* The first violation, with its path and line. */
	assert_non_null(doc = parse_str("<R xmlns=\"urn:m\">\n<C>ABC</C>\n"
	    "<C>abc</C></R>", NULL, &e));
	assert_int_equal(xml_validate(s, doc, &e), -1);
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, "schema-invalid");
	assert_string_equal(e.field, "/R/C[2]");
	assert_non_null(strstr(e.detail, "line 3"));
	xmlFreeDoc(doc);

	/* xsi:schemaLocation in the instance is never followed. */
	assert_non_null(doc = parse_str("<R xmlns=\"urn:m\" xmlns:xsi=\"http://"
	    "www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"urn:m "
	    "http://127.0.0.1:9/x.xsd urn:m file:///etc/passwd\"><C>ABC</C></R>",
	    NULL, &e));
	assert_int_equal(xml_validate(s, doc, &e), 0);
	xmlFreeDoc(doc);
	xml_schema_free(s);
}

static void
test_schema_foreign_imports_refused(void **state)
{
	struct adapter_error	e;

	assert_null(load("escape.xsd", &e));
	assert_int_equal(e.status, 500);
	assert_string_equal(e.code, "schema-load");
	assert_null(load("net.xsd", &e));
	assert_string_equal(e.code, "schema-load");
	assert_null(load("passwd.xsd", &e));
	assert_string_equal(e.code, "schema-load");
	assert_null(load("missing.xsd", &e));
	assert_string_equal(e.code, "schema-load");
}

static void
test_schema_dir(void **state)
{
	setenv("GW_SCHEMAS", "/etc/gateway/schemas", 1);
	assert_string_equal(xml_schema_dir(), "/etc/gateway/schemas");
	unsetenv("GW_SCHEMAS");
	assert_string_equal(xml_schema_dir(), "config/schemas");
}

/* ---- writing ---- */

static void
test_serialize_charsets(void **state)
{
	static const char *const	cs[] = { "UTF-8", "GB18030", "GBK" };
	static const char *const	decl[] = {
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
		"<?xml version=\"1.0\" encoding=\"GB18030\"?>",
		"<?xml version=\"1.0\" encoding=\"GBK\"?>",
	};
	struct adapter_error	 e = { 0 };
	xmlDoc			*doc, *back;
	xmlNode			*root;
	char			*out, *want;
	size_t			 len, wlen, i;

	for (i = 0; i < nitems(cs); i++) {
		assert_non_null(doc = xml_new_doc("urn:x", "a", &root));
		assert_non_null(xml_add(root, "n", "甘肃省 <&> \"'"));
		assert_non_null(xml_add(root, "r", "𠀀"));
		assert_int_equal(xml_serialize(doc, cs[i], &out, &len, &e), 0);
		xmlFreeDoc(doc);
		assert_int_equal(strlen(out), len);
		assert_memory_equal(out, decl[i], strlen(decl[i]));
		/* The Chinese text is in the charset's own bytes. */
		want = conv("甘肃省", cs[i], &wlen);
		assert_non_null(memmem(out, len, want, wlen));
		free(want);
		/* And reads back the same, in the charset it names. */
		assert_non_null(back = xml_parse(out, len, cs[i], &lim, &e));
		root = xmlDocGetRootElement(back);
		assert_true(xml_is(root, "urn:x", "a"));
		{
			char	buf[64];

			assert_int_equal(xml_child_text(root, "urn:x", "n", 1,
			    buf, sizeof(buf), "n", &e), 0);
			assert_string_equal(buf, "甘肃省 <&> \"'");
			assert_int_equal(xml_child_text(root, "urn:x", "r", 1,
			    buf, sizeof(buf), "r", &e), 0);
			assert_string_equal(buf, "𠀀");
		}
		xmlFreeDoc(back);
		free(out);
	}
	/* GBK lacks U+20000: written as a character reference. */
	assert_non_null(doc = xml_new_doc("urn:x", "a", &root));
	assert_non_null(xml_add(root, "r", "𠀀"));
	assert_int_equal(xml_serialize(doc, "GBK", &out, &len, &e), 0);
	assert_non_null(strstr(out, "&#131072;"));
	free(out);
	assert_int_equal(xml_serialize(doc, "UTF-16", &out, &len, &e), -1);
	assert_null(out);
	xmlFreeDoc(doc);
}

static void
test_add_and_clean(void **state)
{
	xmlDoc	*doc;
	xmlNode	*root;
	char	 s[] = "ok\x01\xe7\x94|\xff\xef\xbf\xbe甘";

	assert_non_null(doc = xml_new_doc("urn:x", "a", &root));
	assert_null(xml_add(root, "n", "bell\x07"));
	assert_null(xml_add(root, "n", "\xc0\xaf"));
	assert_null(xml_add(root, "n", "\xef\xbf\xbf"));
	assert_non_null(xml_add(root, "n", "tab\tnl\n"));
	assert_non_null(xml_add(root, "n", NULL));
	xmlFreeDoc(doc);
	xml_clean(s);
	assert_string_equal(s, "ok???|????甘");
}

static void
test_child_helpers(void **state)
{
	struct adapter_error	 e;
	xmlDoc			*doc;
	xmlNode			*root, *b;
	char			 buf[4];

	assert_non_null(doc = parse_str("<a xmlns=\"urn:x\"><b>12</b><b>3"
	    "<!-- c -->4</b><c><d/></c><e><![CDATA[<5>]]></e><f>1234</f></a>",
	    NULL, &e));
	root = xmlDocGetRootElement(doc);
	assert_non_null(b = xml_child(root, "urn:x", "b"));
	assert_null(xml_child(root, NULL, "b"));	/* other namespace */
	assert_int_equal(xml_text(b, buf, sizeof(buf), "b", &e), 0);
	assert_string_equal(buf, "12");
	assert_non_null(b = xml_next(b));
	assert_int_equal(xml_text(b, buf, sizeof(buf), "b", &e), 0);
	assert_string_equal(buf, "34");
	assert_null(xml_next(b));
	assert_int_equal(xml_child_text(root, "urn:x", "e", 1, buf,
	    sizeof(buf), "e", &e), 0);
	assert_string_equal(buf, "<5>");
	/* Too long for the buffer: refused, not cut. */
	memset(&e, 0, sizeof(e));
	assert_int_equal(xml_child_text(root, "urn:x", "f", 1, buf,
	    sizeof(buf), "/a/f", &e), -1);
	assert_int_equal(e.status, 422);
	assert_string_equal(e.code, "field-too-long");
	assert_string_equal(e.field, "/a/f");
	assert_string_equal(buf, "");
	memset(&e, 0, sizeof(e));
	assert_int_equal(xml_child_text(root, "urn:x", "c", 1, buf,
	    sizeof(buf), "/a/c", &e), -1);
	assert_string_equal(e.code, "malformed");
	memset(&e, 0, sizeof(e));
	assert_int_equal(xml_child_text(root, "urn:x", "z", 1, buf,
	    sizeof(buf), "/a/z", &e), -1);
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, "missing-field");
	assert_int_equal(xml_child_text(root, "urn:x", "z", 0, buf,
	    sizeof(buf), "/a/z", NULL), 0);
	assert_string_equal(buf, "");
	xmlFreeDoc(doc);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_charset_names),
		cmocka_unit_test(test_gbk_literal_bytes),
		cmocka_unit_test(test_gb18030_four_byte),
		cmocka_unit_test(test_utf8_default_and_bom),
		cmocka_unit_test(test_charset_disagreement),
		cmocka_unit_test(test_unsupported_charsets),
		cmocka_unit_test(test_invalid_sequences),
		cmocka_unit_test(test_nul_and_size),
		cmocka_unit_test(test_doctype_refused),
		cmocka_unit_test(test_doctype_in_other_charsets),
		cmocka_unit_test(test_entities_without_dtd),
		cmocka_unit_test(test_xinclude_not_processed),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_schema_local_import),
		cmocka_unit_test(test_schema_foreign_imports_refused),
		cmocka_unit_test(test_schema_dir),
		cmocka_unit_test(test_serialize_charsets),
		cmocka_unit_test(test_add_and_clean),
		cmocka_unit_test(test_child_helpers),
	};

	xml_init();
	return cmocka_run_group_tests(tests, setup_dirs, teardown_dirs);
}
