/* Hardened libxml2 use (DESIGN §4): charset conversion, capped DOCTYPE-free
 * parsing, XSD validation against local schemas, serialization, child reads. */
#ifndef GW_XML_H
#define GW_XML_H

#include <stddef.h>

#include <libxml/tree.h>

#include "adapters/adapter.h"

/* Bounds one document must stay within; every field is required. */
struct xml_limits {
	size_t	max_bytes;	/* raw body, before any conversion */
	size_t	max_depth;	/* element nesting, the root is depth 1 */
	size_t	max_elements;	/* elements in the whole document */
};

struct xml_schema;		/* an XSD parsed once, read-only afterwards */

/* Initializes libxml2 once for the process and installs the external entity
 * loader that refuses everything (schema loading excepted, see below). Safe
 * to call more than once and from several threads. */
void	xml_init(void);

/* The directory schemas are read from: $GW_SCHEMAS if set, else
 * "config/schemas" (relative to the working directory). */
const char	*xml_schema_dir(void);

/* Parses the XSD at path (a local file; xs:import/xs:include may name other
 * local files in the same directory tree, nothing else is ever loaded). Call
 * at start-up, before any sandbox closes the file system. Returns the schema
 * (the caller's, xml_schema_free) or NULL with err filled. */
struct xml_schema	*xml_schema_load(const char *path,
			    struct adapter_error *err);
void			 xml_schema_free(struct xml_schema *);

/* Validates doc against schema. On the first violation fills err (400,
 * "schema-invalid", the element's path, the line and libxml2's message) and
 * returns -1; 0 when valid. */
int	xml_validate(const struct xml_schema *, xmlDoc *doc,
	    struct adapter_error *err);

/* The canonical name of a supported charset ("UTF-8", "GB18030", "GBK";
 * compared without case), or NULL if unsupported. */
const char	*xml_charset_name(const char *name);
/* Opens (and keeps open) iconv's converters between UTF-8 and GB18030/GBK,
 * so they are loaded before a sandbox forbids reading gconv modules. */
int		 xml_charset_preload(void);

/* Converts raw document bytes to UTF-8. charset is the Content-Type charset
 * parameter or NULL. The XML declaration's encoding wins when present and
 * must agree with charset when both are given; neither means UTF-8. Refuses
 * an unsupported or disagreeing charset (415 "bad-encoding"), an invalid or
 * truncated byte sequence (400 "bad-encoding"), NUL bytes (400 "nul-byte")
 * and oversize input (413 "too-large"). *out (NUL-terminated, *outlen bytes
 * without the NUL) is the caller's to free(). 0 or -1. */
int	xml_to_utf8(const void *in, size_t len, const char *charset,
	    size_t max_bytes, char **out, size_t *outlen,
	    struct adapter_error *err);

/* The whole reading side: xml_to_utf8, then refuses any DOCTYPE (before and
 * after parsing), parses with XML_PARSE_NONET only (the declared encoding is
 * ignored: the bytes are UTF-8 by then), refuses namespace errors and
 * documents beyond lim. Returns the document (the caller's, xmlFreeDoc) or
 * NULL with err filled (400 "malformed", "doctype", "too-deep",
 * "too-many-elements"; 413 "too-large"; see xml_to_utf8). */
xmlDoc	*xml_parse(const void *in, size_t len, const char *charset,
	    const struct xml_limits *lim, struct adapter_error *err);

/* A new document whose root element, named name, is in namespace ns (as
 * the default namespace). Returns the document (the caller's, xmlFreeDoc)
 * with *root set, or NULL when out of memory. */
xmlDoc	*xml_new_doc(const char *ns, const char *name, xmlNode **root);
/* Appends to parent an element named name in parent's namespace, holding
 * text (escaped) unless text is NULL. Returns the element, or NULL when out
 * of memory or when text is not valid UTF-8 or holds characters XML 1.0
 * forbids (the document is then freed as a whole by its owner). */
xmlNode	*xml_add(xmlNode *parent, const char *name, const char *text);
/* Replaces, in place, every byte of s that is not part of a valid UTF-8
 * character allowed in XML 1.0 text by '?': for free text built from
 * messages (a detail cut in the middle of a character, say). */
void	 xml_clean(char *s);

/* Serializes doc in charset ("UTF-8", "GB18030" or "GBK") with an XML
 * declaration naming it. *out (NUL-terminated, *outlen bytes without the
 * NUL) is the caller's to free(). 0 or -1 with err filled (500). */
int	xml_serialize(xmlDoc *doc, const char *charset, char **out,
	    size_t *outlen, struct adapter_error *err);

/* 1 if node is an element named name in namespace ns, else 0. */
int	xml_is(const xmlNode *node, const char *ns, const char *name);
/* The first element child of parent named name in namespace ns, or NULL. */
xmlNode	*xml_child(const xmlNode *parent, const char *ns, const char *name);
/* The next element sibling after node with the same name and namespace. */
xmlNode	*xml_next(const xmlNode *node);
/* Copies the text of node (an element holding only text) into dst.
 * Refuses (422 "field-too-long") text of dsz bytes or more and (400
 * "malformed") an element with child elements; field names it in err.
 * 0 or -1. */
int	xml_text(const xmlNode *node, char *dst, size_t dsz, const char *field,
	    struct adapter_error *err);
/* xml_child + xml_text. A missing child is 400 "missing-field" when
 * required, else dst is set to "" and 0 returned. */
int	xml_child_text(const xmlNode *parent, const char *ns, const char *name,
	    int required, char *dst, size_t dsz, const char *field,
	    struct adapter_error *err);

/* xml_charset.c: strict UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF); the offset of the first bad byte, or n. */
size_t	xml_utf8_check(const unsigned char *s, size_t n);

#endif
