/* Hardened libxml2 use (DESIGN §4): no DTD, no entity expansion, no network,
 * no file access but the schemas loaded at start-up, bounded documents. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlschemas.h>

#include "adapters/xml.h"
#include "util.h"

/* The only options documents from outside are parsed with. IGNORE_ENC is
 * there because xml_to_utf8 has already converted the bytes: the declared
 * encoding no longer describes them. */
#define XML_PARSE_FLAGS		(XML_PARSE_NONET | XML_PARSE_IGNORE_ENC)
/* How far into the document an XML declaration may reach. */

struct xml_schema {
	xmlSchema	*schema;	/* owned */
};

/* Where the first libxml2 error of one operation goes. */
struct xml_capture {
	struct adapter_error	*err;
	int			 status;
	const char		*code;
	int			 seen;
};

static pthread_once_t	xml_once = PTHREAD_ONCE_INIT;
/* Set only on the thread loading a schema, for the time it loads: the
 * directory the entity loader may read from. Everywhere else it is NULL and
 * the loader refuses everything. */
static _Thread_local const char	*xml_load_root;


static void
xml_silent_generic(void *ctx, const char *msg, ...)
{
	/* libxml2 would print to stderr; errors are reported through
	 * adapter_error instead. */
}

static void
xml_silent_structured(void *ctx, xmlErrorPtr e)
{
}

/* libxml2's error handlers are per thread: set them on every entry so no
 * thread ever writes libxml2 messages to stderr. */
static void
xml_quiet(void)
{
	xmlSetGenericErrorFunc(NULL, xml_silent_generic);
	xmlSetStructuredErrorFunc(NULL, xml_silent_structured);
}

static xmlParserInputPtr
xml_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	char		 real[PATH_MAX];
	const char	*path = url;
	size_t		 n;

	/* Outside schema loading nothing is ever fetched: not a DTD, not an
	 * entity, not an xsi:schemaLocation. */
	if (xml_load_root == NULL || url == NULL)
		return NULL;
	if (strncmp(url, "file://", 7) == 0)
		path = url + 7;
	else if (strchr(url, ':') != NULL)
		return NULL;		/* any other scheme: network */
	if (realpath(path, real) == NULL)
		return NULL;
	n = strlen(xml_load_root);
	if (strncmp(real, xml_load_root, n) != 0 || real[n] != '/')
		return NULL;
	return xmlNewInputFromFile(ctxt, real);
}

static void
xml_init_once(void)
{
	xmlInitParser();
	xmlSetExternalEntityLoader(xml_loader);
}

void
xml_init(void)
{
	pthread_once(&xml_once, xml_init_once);
	xml_quiet();
}

const char *
xml_schema_dir(void)
{
	const char	*d = getenv("GW_SCHEMAS");

	return (d != NULL && *d != '\0') ? d : "config/schemas";
}

/* ---- error capture ---- */

/* The path of node as /Name/Name[k]/..., local names only (every document
 * here has one namespace), an index where a name repeats among siblings. */
static void
xml_path(const xmlNode *node, char *dst, size_t dsz)
{
	const xmlNode	*chain[64], *s;
	char		 seg[96];
	size_t		 depth = 0, k, same;
	const char	*attr = NULL;

	dst[0] = '\0';
	if (node != NULL && node->type == XML_ATTRIBUTE_NODE) {
		attr = (const char *)node->name;
		node = node->parent;
	}
	while (node != NULL && node->type == XML_ELEMENT_NODE &&
	    depth < nitems(chain)) {
		chain[depth++] = node;
		node = node->parent;
	}
	while (depth > 0) {
		node = chain[--depth];
		k = 0;
		same = 0;
		s = node->parent != NULL ? node->parent->children : node;
		for (; s != NULL; s = s->next) {
			if (s->type != XML_ELEMENT_NODE ||
			    !xmlStrEqual(s->name, node->name))
				continue;
			same++;
			if (s == node)
				k = same;
		}
		if (same > 1)
			str_printf(seg, sizeof(seg), "/%s[%zu]",
			    (const char *)node->name, k);
		else
			str_printf(seg, sizeof(seg), "/%s",
			    (const char *)node->name);
		/* A path too long for the field keeps its head. */
		if (str_append(dst, dsz, seg) == -1)
			return;
	}
	if (attr != NULL) {
		str_append(dst, dsz, "/@");
		str_append(dst, dsz, attr);
	}
}

/* libxml2 messages end with a newline; the detail is one line. */
static void
xml_message(const char *msg, char *dst, size_t dsz)
{
	size_t	i;

	str_copy(dst, dsz, msg != NULL ? msg : "error");
	for (i = 0; dst[i] != '\0'; i++)
		if (dst[i] == '\n' || dst[i] == '\r')
			dst[i] = ' ';
	str_trim(dst);
}

static void
xml_capture_error(struct xml_capture *cap, const xmlError *e)
{
	char	path[128], msg[200];

	/* Warnings (e.g. a relative namespace URI) do not refuse anything. */
	if (cap == NULL || cap->seen || e == NULL || e->level < XML_ERR_ERROR)
		return;
	cap->seen = 1;
	xml_path((const xmlNode *)e->node, path, sizeof(path));
	xml_message(e->message, msg, sizeof(msg));
	adapter_fail(cap->err, cap->status, cap->code, path, "line %d: %s",
	    e->line, msg);
}

/* One parse: its error capture and its running element count and depth. */
struct xml_parsing {
	struct xml_capture		 cap;
	const struct xml_limits		*lim;
	size_t				 elements, depth;
	int				 over;
	startElementNsSAX2Func		 start;	/* libxml2's tree builders */
	endElementNsSAX2Func		 end;
};

static void
xml_parse_error(void *data, xmlErrorPtr e)
{
	xmlParserCtxtPtr	 ctxt = data;
	struct xml_parsing	*p = ctxt != NULL ? ctxt->_private : NULL;

	xml_capture_error(p != NULL ? &p->cap : NULL, e);
}

/* Counts elements as they open and stops the parser at the first one past
 * the limits, so a flood of tiny elements never becomes a huge tree. */
static void
xml_sax_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
    int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
	xmlParserCtxtPtr	 ctxt = ctx;
	struct xml_parsing	*p = ctxt->_private;

	if (++p->elements > p->lim->max_elements) {
		adapter_fail(p->cap.err, 413, "too-many-elements", "",
		    "more than %zu elements", p->lim->max_elements);
		p->over = 1;
	} else if (++p->depth > p->lim->max_depth) {
		adapter_fail(p->cap.err, 400, "too-deep", "",
		    "nested deeper than %zu", p->lim->max_depth);
		p->over = 1;
	}
	if (p->over) {
		xmlStopParser(ctxt);
		return;
	}
	p->start(ctx, localname, prefix, uri, nb_namespaces, namespaces,
	    nb_attributes, nb_defaulted, attributes);
}

static void
xml_sax_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri)
{
	xmlParserCtxtPtr	 ctxt = ctx;
	struct xml_parsing	*p = ctxt->_private;

	if (p->depth > 0)
		p->depth--;
	p->end(ctx, localname, prefix, uri);
}

static void
xml_schema_error(void *data, xmlErrorPtr e)
{
	xml_capture_error(data, e);
}

/* ---- schemas ---- */

struct xml_schema *
xml_schema_load(const char *path, struct adapter_error *err)
{
	char			 dir[PATH_MAX], root[PATH_MAX];
	char			*slash;
	struct xml_capture	 cap = { err, 500, "schema-load", 0 };
	xmlSchemaParserCtxtPtr	 pctxt;
	xmlSchemaPtr		 schema;
	struct xml_schema	*s;

	xml_init();
	if (str_copy(dir, sizeof(dir), path) == -1) {
		adapter_fail(err, 500, "schema-load", "", "path too long");
		return NULL;
	}
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		str_copy(dir, sizeof(dir), ".");
	if (realpath(dir, root) == NULL) {
		adapter_fail(err, 500, "schema-load", "", "%s: %s", dir,
		    strerror(errno));
		return NULL;
	}
	if ((pctxt = xmlSchemaNewParserCtxt(path)) == NULL) {
		adapter_fail(err, 500, "schema-load", "", "%s: out of memory",
		    path);
		return NULL;
	}
	xmlSchemaSetParserStructuredErrors(pctxt, xml_schema_error, &cap);
	/* The schema and what it imports may be read, from its directory
	 * tree only, on this thread only, for this call only. */
	xml_load_root = root;
	schema = xmlSchemaParse(pctxt);
	xml_load_root = NULL;
	xmlSchemaFreeParserCtxt(pctxt);
	if (schema == NULL) {
		adapter_fail(err, 500, "schema-load", "", "%s: cannot parse",
		    path);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		xmlSchemaFree(schema);
		adapter_fail(err, 500, "schema-load", "", "out of memory");
		return NULL;
	}
	s->schema = schema;
	return s;
}

void
xml_schema_free(struct xml_schema *s)
{
	if (s == NULL)
		return;
	xmlSchemaFree(s->schema);
	free(s);
}

int
xml_validate(const struct xml_schema *s, xmlDoc *doc,
    struct adapter_error *err)
{
	struct xml_capture	cap = { err, 400, "schema-invalid", 0 };
	xmlSchemaValidCtxtPtr	vctxt;
	int			rc;

	xml_init();
	if (s == NULL || doc == NULL) {
		adapter_fail(err, 500, "schema-missing", "",
		    "no schema loaded");
		return -1;
	}
	if ((vctxt = xmlSchemaNewValidCtxt(s->schema)) == NULL) {
		adapter_fail(err, 500, "internal", "", "out of memory");
		return -1;
	}
	xmlSchemaSetValidStructuredErrors(vctxt, xml_schema_error, &cap);
	rc = xmlSchemaValidateDoc(vctxt, doc);
	xmlSchemaFreeValidCtxt(vctxt);
	if (rc == 0)
		return 0;
	if (rc > 0)
		adapter_fail(err, 400, "schema-invalid", "",
		    "does not match the schema");
	else
		adapter_fail(err, 500, "internal", "",
		    "schema validation failed");
	return -1;
}

/* ---- parsing ---- */

static int
xml_has_doctype(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i + 9 <= n; i++)
		if (s[i] == '<' && strncasecmp(s + i, "<!DOCTYPE", 9) == 0)
			return 1;
	return 0;
}

/* Walks the finished tree without recursion: the limits again (the SAX
 * count stops a parse early; this checks what was built) and no node a
 * DTD could have brought. */
static int
xml_bounds(const xmlNode *root, const struct xml_limits *lim,
    struct adapter_error *err)
{
	const xmlNode	*n = root;
	size_t		 depth = 1, count = 0;

	for (;;) {
		if (n->type == XML_ELEMENT_NODE) {
			if (++count > lim->max_elements) {
				adapter_fail(err, 413, "too-many-elements", "",
				    "more than %zu elements",
				    lim->max_elements);
				return -1;
			}
			if (depth > lim->max_depth) {
				adapter_fail(err, 400, "too-deep", "",
				    "nested deeper than %zu", lim->max_depth);
				return -1;
			}
			if (n->children != NULL) {
				n = n->children;
				depth++;
				continue;
			}
		} else if (n->type == XML_ENTITY_REF_NODE ||
		    n->type == XML_DTD_NODE ||
		    n->type == XML_XINCLUDE_START) {
			/* Cannot happen without a DTD; refused if it does. */
			adapter_fail(err, 400, "doctype", "",
			    "entity or DTD node in document");
			return -1;
		}
		while (n != root && n->next == NULL) {
			n = n->parent;
			depth--;
		}
		if (n == root)
			return 0;
		n = n->next;
	}
}

xmlDoc *
xml_parse(const void *in, size_t len, const char *charset,
    const struct xml_limits *lim, struct adapter_error *err)
{
	struct xml_parsing	 p = { { err, 400, "malformed", 0 }, lim, 0, 0,
				    0, NULL, NULL };
	xmlParserCtxtPtr	 ctxt;
	xmlDocPtr		 doc = NULL;
	xmlNodePtr		 root;
	char			*utf8;
	size_t			 n;
	int			 ok;

	xml_init();
	if (xml_to_utf8(in, len, charset, lim->max_bytes, &utf8, &n, err) == -1)
		return NULL;
	if (xml_has_doctype(utf8, n)) {
		free(utf8);
		adapter_fail(err, 400, "doctype", "", "DOCTYPE refused");
		return NULL;
	}
	if (n > INT_MAX) {
		free(utf8);
		adapter_fail(err, 413, "too-large", "", "document too large");
		return NULL;
	}
	if ((ctxt = xmlCreateMemoryParserCtxt(utf8, (int)n)) == NULL) {
		free(utf8);
		adapter_fail(err, 500, "internal", "", "out of memory");
		return NULL;
	}
	xmlCtxtUseOptions(ctxt, XML_PARSE_FLAGS);
	/* The first error, with its line, goes to err; nothing to stderr.
	 * Elements are counted as they open. */
	ctxt->_private = &p;
	ctxt->sax->serror = xml_parse_error;
	p.start = ctxt->sax->startElementNs;
	p.end = ctxt->sax->endElementNs;
	if (p.start == NULL || p.end == NULL) {
		xmlFreeParserCtxt(ctxt);
		free(utf8);
		adapter_fail(err, 500, "internal", "", "no SAX2 tree builder");
		return NULL;
	}
	ctxt->sax->startElementNs = xml_sax_start;
	ctxt->sax->endElementNs = xml_sax_end;
	xmlParseDocument(ctxt);
	ok = ctxt->wellFormed && ctxt->nsWellFormed && !p.over;
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	xmlFreeParserCtxt(ctxt);
	free(utf8);
	if (!ok || doc == NULL) {
		adapter_fail(err, 400, "malformed", "", "not well-formed XML");
		xmlFreeDoc(doc);
		return NULL;
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		adapter_fail(err, 400, "doctype", "", "DOCTYPE refused");
		xmlFreeDoc(doc);
		return NULL;
	}
	if ((root = xmlDocGetRootElement(doc)) == NULL) {
		adapter_fail(err, 400, "malformed", "", "no root element");
		xmlFreeDoc(doc);
		return NULL;
	}
	if (xml_bounds(root, lim, err) == -1) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

/* ---- writing ---- */

/* 1 if the n bytes at s are valid UTF-8 with no character XML 1.0 forbids
 * (C0 controls but tab, LF and CR; U+FFFE, U+FFFF). */
static int
xml_text_ok(const unsigned char *s, size_t n)
{
	size_t	i;

	if (xml_utf8_check(s, n) != n)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
		if (s[i] == 0x7f)
			return 0;
		/* U+FFFE and U+FFFF: EF BF BE, EF BF BF. */
		if (s[i] == 0xef && i + 2 < n && s[i + 1] == 0xbf &&
		    (s[i + 2] == 0xbe || s[i + 2] == 0xbf))
			return 0;
	}
	return 1;
}

void
xml_clean(char *s)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 n = strlen(s), i = 0, bad, k;

	while (i < n) {
		bad = i + xml_utf8_check(p + i, n - i);
		for (; i < bad; i++)
			if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' &&
			    p[i] != '\r') || p[i] == 0x7f)
				p[i] = '?';
		if (i >= n)
			break;
		/* One bad byte, and the continuation bytes that follow it. */
		p[i++] = '?';
		for (k = 0; k < 3 && i < n && (p[i] & 0xc0) == 0x80; k++)
			p[i++] = '?';
	}
	/* U+FFFE and U+FFFF are valid UTF-8 but not XML characters. */
	for (i = 0; i + 2 < n; i++)
		if (p[i] == 0xef && p[i + 1] == 0xbf &&
		    (p[i + 2] == 0xbe || p[i + 2] == 0xbf))
			p[i] = p[i + 1] = p[i + 2] = '?';
}

xmlDoc *
xml_new_doc(const char *ns, const char *name, xmlNode **root)
{
	xmlDocPtr	doc;
	xmlNodePtr	r;
	xmlNsPtr	n;

	xml_init();
	if ((doc = xmlNewDoc((const xmlChar *)"1.0")) == NULL)
		return NULL;
	if ((r = xmlNewDocNode(doc, NULL, (const xmlChar *)name, NULL)) ==
	    NULL) {
		xmlFreeDoc(doc);
		return NULL;
	}
	xmlDocSetRootElement(doc, r);
	if ((n = xmlNewNs(r, (const xmlChar *)ns, NULL)) == NULL) {
		xmlFreeDoc(doc);
		return NULL;
	}
	xmlSetNs(r, n);
	*root = r;
	return doc;
}

xmlNode *
xml_add(xmlNode *parent, const char *name, const char *text)
{
	if (text != NULL &&
	    !xml_text_ok((const unsigned char *)text, strlen(text)))
		return NULL;
	return xmlNewTextChild(parent, parent->ns, (const xmlChar *)name,
	    (const xmlChar *)text);
}

int
xml_serialize(xmlDoc *doc, const char *charset, char **out, size_t *outlen,
    struct adapter_error *err)
{
	const char	*cs;
	xmlChar		*mem = NULL;
	int		 size = 0;
	char		*buf;

	xml_init();
	*out = NULL;
	*outlen = 0;
	if ((cs = xml_charset_name(charset != NULL ? charset : "UTF-8")) ==
	    NULL) {
		adapter_fail(err, 500, "bad-encoding", "",
		    "cannot write charset \"%.40s\"", charset);
		return -1;
	}
	/* Characters the charset lacks become character references; the
	 * declaration names cs. Indented, so people reading a file in the
	 * audit trail or at the bank can follow it. */
	xmlDocDumpFormatMemoryEnc(doc, &mem, &size, cs, 1);
	if (mem == NULL || size <= 0) {
		xmlFree(mem);
		adapter_fail(err, 500, "internal", "", "cannot serialize in %s",
		    cs);
		return -1;
	}
	/* Handed over as malloc memory, whatever allocator libxml2 uses. */
	if ((buf = malloc((size_t)size + 1)) == NULL) {
		xmlFree(mem);
		adapter_fail(err, 500, "internal", "", "out of memory");
		return -1;
	}
	memcpy(buf, mem, (size_t)size);
	buf[size] = '\0';
	xmlFree(mem);
	*out = buf;
	*outlen = (size_t)size;
	return 0;
}

/* ---- reading helpers ---- */

int
xml_is(const xmlNode *node, const char *ns, const char *name)
{
	if (node == NULL || node->type != XML_ELEMENT_NODE ||
	    strcmp((const char *)node->name, name) != 0)
		return 0;
	if (ns == NULL)
		return node->ns == NULL;
	return node->ns != NULL && node->ns->href != NULL &&
	    strcmp((const char *)node->ns->href, ns) == 0;
}

xmlNode *
xml_child(const xmlNode *parent, const char *ns, const char *name)
{
	xmlNode	*c;

	if (parent == NULL)
		return NULL;
	for (c = parent->children; c != NULL; c = c->next)
		if (xml_is(c, ns, name))
			return c;
	return NULL;
}

xmlNode *
xml_next(const xmlNode *node)
{
	xmlNode		*c;
	const char	*ns;

	if (node == NULL)
		return NULL;
	ns = node->ns != NULL ? (const char *)node->ns->href : NULL;
	for (c = node->next; c != NULL; c = c->next)
		if (xml_is(c, ns, (const char *)node->name))
			return c;
	return NULL;
}

int
xml_text(const xmlNode *node, char *dst, size_t dsz, const char *field,
    struct adapter_error *err)
{
	const xmlNode	*c;
	size_t		 used = 0, n;

	if (dsz == 0)
		return -1;
	dst[0] = '\0';
	for (c = node->children; c != NULL; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			adapter_fail(err, 400, "malformed", field,
			    "element where text was expected");
			return -1;
		}
		/* Comments and processing instructions are not text. */
		if (c->type != XML_TEXT_NODE &&
		    c->type != XML_CDATA_SECTION_NODE)
			continue;
		if (c->content == NULL)
			continue;
		n = strlen((const char *)c->content);
		if (n >= dsz - used) {
			dst[0] = '\0';
			adapter_fail(err, 422, "field-too-long", field,
			    "longer than %zu bytes", dsz - 1);
			return -1;
		}
		memcpy(dst + used, c->content, n);
		used += n;
		dst[used] = '\0';
	}
	return 0;
}

int
xml_child_text(const xmlNode *parent, const char *ns, const char *name,
    int required, char *dst, size_t dsz, const char *field,
    struct adapter_error *err)
{
	const xmlNode	*c;

	if (dsz > 0)
		dst[0] = '\0';
	if ((c = xml_child(parent, ns, name)) == NULL) {
		if (!required)
			return 0;
		adapter_fail(err, 400, "missing-field", field,
		    "%s is required", name);
		return -1;
	}
	return xml_text(c, dst, dsz, field, err);
}
