/* Charsets for the XML layer: the agencies' UTF-8, GB18030 and GBK turned
 * into strict UTF-8 with iconv before libxml2 sees a byte. */
#include <errno.h>
#include <iconv.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapters/xml.h"
#include "log.h"
#include "util.h"

/* How far into a document its XML declaration may reach. */
#define XML_DECL_MAX		256

static const char *const	xml_charsets[] = { "UTF-8", "GB18030", "GBK" };

const char *
xml_charset_name(const char *name)
{
	size_t	i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < nitems(xml_charsets); i++)
		if (strcasecmp(name, xml_charsets[i]) == 0)
			return xml_charsets[i];
	return NULL;
}

/* ---- charsets ---- */

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF. Returns the offset of the first bad byte, or n if all good. */
size_t
xml_utf8_check(const unsigned char *s, size_t n)
{
	size_t		i = 0, k, need;
	uint32_t	cp, min;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			need = 1;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			need = 2;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			need = 3;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return i;
		if (n - i <= need)
			return i;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += need + 1;
	}
	return n;
}

static int
xml_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A character of an encoding name (XML 1.0 production EncName). */
static int
xml_is_name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* The encoding named by a leading XML declaration, copied into name.
 * 1 found, 0 no declaration or none named in it, -1 a declaration that
 * does not end or names something that is not an encoding name. The
 * declaration is ASCII in every charset accepted here. */
static int
xml_declared(const unsigned char *p, size_t len, char *name, size_t nsz)
{
	size_t		end, i, k;
	unsigned char	q;

	if (len < 6 || memcmp(p, "<?xml", 5) != 0 || !xml_is_space(p[5]))
		return 0;
	for (end = 5; end + 1 < len && end < XML_DECL_MAX; end++)
		if (p[end] == '?' && p[end + 1] == '>')
			break;
	if (end + 1 >= len || end >= XML_DECL_MAX)
		return -1;
	for (i = 5; i + 8 <= end; i++)
		if (xml_is_space(p[i - 1]) && memcmp(p + i, "encoding", 8) == 0)
			break;
	if (i + 8 > end)
		return 0;
	i += 8;
	while (i < end && xml_is_space(p[i]))
		i++;
	if (i >= end || p[i++] != '=')
		return -1;
	while (i < end && xml_is_space(p[i]))
		i++;
	if (i >= end || (p[i] != '"' && p[i] != '\''))
		return -1;
	q = p[i++];
	for (k = 0; i < end && p[i] != q; i++, k++) {
		if (k + 1 >= nsz || !xml_is_name_char(p[i]))
			return -1;
		name[k] = (char)p[i];
	}
	if (i >= end || k == 0)
		return -1;
	name[k] = '\0';
	return 1;
}

/* Picks the document's charset from its declaration and the Content-Type
 * charset (DESIGN §2: UTF-8, GB18030 or GBK). */
static const char *
xml_pick_charset(const unsigned char *in, size_t len, const char *charset,
    int bom, struct adapter_error *err)
{
	char		 declared[40];
	const char	*d = NULL, *c = NULL;
	int		 rc;

	rc = xml_declared(in, len, declared, sizeof(declared));
	if (rc == -1) {
		adapter_fail(err, 400, "malformed", "", "bad XML declaration");
		return NULL;
	}
	if (rc == 1 && (d = xml_charset_name(declared)) == NULL) {
		adapter_fail(err, 415, "bad-encoding", "",
		    "unsupported encoding \"%s\"", declared);
		return NULL;
	}
	if (charset != NULL && (c = xml_charset_name(charset)) == NULL) {
		adapter_fail(err, 415, "bad-encoding", "",
		    "unsupported charset \"%.40s\"", charset);
		return NULL;
	}
	if (d != NULL && c != NULL && d != c) {
		adapter_fail(err, 415, "bad-encoding", "",
		    "document declares %s, Content-Type says %s", d, c);
		return NULL;
	}
	if (d == NULL)
		d = c != NULL ? c : "UTF-8";
	/* A UTF-8 byte order mark on a document said to be in another
	 * charset: one of the two is wrong. */
	if (bom && strcmp(d, "UTF-8") != 0) {
		adapter_fail(err, 415, "bad-encoding", "",
		    "UTF-8 byte order mark on a %s document", d);
		return NULL;
	}
	return d;
}

/* in (len bytes of cs) to UTF-8 into a new buffer. */
static int
xml_iconv(const unsigned char *in, size_t len, const char *cs, char **out,
    size_t *outlen, struct adapter_error *err)
{
	iconv_t	 cd;
	char	*buf, *nb, *ip, *op;
	size_t	 cap, il, ol, used;

	if ((cd = iconv_open("UTF-8", cs)) == (iconv_t)-1) {
		adapter_fail(err, 415, "bad-encoding", "",
		    "no converter for %s", cs);
		return -1;
	}
	/* GBK's two bytes become at most three in UTF-8, GB18030's four
	 * stay four: twice the input always fits; grown anyway if not. */
	cap = len * 2 + 16;
	if ((buf = malloc(cap)) == NULL) {
		iconv_close(cd);
		adapter_fail(err, 500, "internal", "", "out of memory");
		return -1;
	}
	/* iconv's prototype is not const-correct; it never writes through
	 * the input pointer. */
	ip = (char *)(uintptr_t)in;
	il = len;
	op = buf;
	ol = cap - 1;
	while (il > 0) {
		if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
			continue;
		if (errno == E2BIG) {
			used = (size_t)(op - buf);
			if ((nb = realloc(buf, cap * 2)) == NULL)
				break;
			buf = nb;
			cap *= 2;
			op = buf + used;
			ol = cap - used - 1;
			continue;
		}
		adapter_fail(err, 400, "bad-encoding", "",
		    "invalid %s byte sequence at offset %zu", cs,
		    len - il);
		free(buf);
		iconv_close(cd);
		return -1;
	}
	iconv_close(cd);
	if (il > 0) {
		free(buf);
		adapter_fail(err, 500, "internal", "", "out of memory");
		return -1;
	}
	*op = '\0';
	*out = buf;
	*outlen = (size_t)(op - buf);
	return 0;
}

int
xml_to_utf8(const void *raw, size_t len, const char *charset,
    size_t max_bytes, char **out, size_t *outlen, struct adapter_error *err)
{
	const unsigned char	*in = raw;
	const char	*cs;
	char		*buf;
	size_t		 bad;
	int		 bom;

	*out = NULL;
	*outlen = 0;
	if (len > max_bytes) {
		adapter_fail(err, 413, "too-large", "",
		    "document of %zu bytes, at most %zu", len, max_bytes);
		return -1;
	}
	/* No charset accepted here has a NUL inside a character; a NUL can
	 * only be a truncation or a smuggling attempt. */
	if (memchr(in, '\0', len) != NULL) {
		adapter_fail(err, 400, "nul-byte", "", "NUL byte in document");
		return -1;
	}
	bom = len >= 3 && in[0] == 0xef && in[1] == 0xbb && in[2] == 0xbf;
	if (bom) {
		in += 3;
		len -= 3;
	}
	/* Nothing (or only a byte order mark): libxml2 would take an empty
	 * buffer for an allocation failure. */
	if (len == 0) {
		adapter_fail(err, 400, "malformed", "", "empty document");
		return -1;
	}
	if ((cs = xml_pick_charset(in, len, charset, bom, err)) == NULL)
		return -1;
	if (strcmp(cs, "UTF-8") == 0) {
		if ((bad = xml_utf8_check(in, len)) != len) {
			adapter_fail(err, 400, "bad-encoding", "",
			    "invalid UTF-8 at offset %zu", bad);
			return -1;
		}
		if ((buf = malloc(len + 1)) == NULL) {
			adapter_fail(err, 500, "internal", "", "out of memory");
			return -1;
		}
		memcpy(buf, in, len);
		buf[len] = '\0';
		*out = buf;
		*outlen = len;
		return 0;
	}
	if (xml_iconv(in, len, cs, &buf, outlen, err) == -1)
		return -1;
	/* The converter's output is checked like any UTF-8 input. */
	if (xml_utf8_check((const unsigned char *)buf, *outlen) != *outlen ||
	    memchr(buf, '\0', *outlen) != NULL) {
		free(buf);
		*outlen = 0;
		adapter_fail(err, 400, "bad-encoding", "",
		    "%s text that does not map to Unicode", cs);
		return -1;
	}
	*out = buf;
	return 0;
}


int
xml_charset_preload(void)
{
	/* Held for the life of the process: glibc unloads a gconv module
	 * once nothing uses it, and could not load it again in a sandbox. */
	static iconv_t	 held[4];
	static const char *const pairs[4][2] = {
		{ "UTF-8", "GB18030" }, { "GB18030", "UTF-8" },
		{ "UTF-8", "GBK" }, { "GBK", "UTF-8" },
	};
	size_t		 i;

	for (i = 0; i < 4; i++) {
		if (held[i] != NULL && held[i] != (iconv_t)-1)
			continue;
		if ((held[i] = iconv_open(pairs[i][0], pairs[i][1])) ==
		    (iconv_t)-1) {
			log_warn("%s: iconv_open %s from %s", __func__,
			    pairs[i][0], pairs[i][1]);
			return -1;
		}
	}
	return 0;
}
