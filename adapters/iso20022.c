/* The official ISO 20022 schemas, loaded once, and what the pain.001 writer
 * and the pain.002 and camt.054 readers share. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/xmlmemory.h>

#include "adapters/instr.h"
#include "adapters/iso20022.h"
#include "adapters/xml.h"
#include "util.h"

/* Deep enough for structured remittance and party addresses in camt.054,
 * far below libxml2's own limit. */
#define ISO20022_MAX_DEPTH	40
/* INSTR_MAX_TX transactions with rich details each. */
#define ISO20022_MAX_ELEMENTS	100000

static const struct {
	const char	*name;
	const char	*ns;
	const char	*root;	/* the child of Document */
} iso20022_msgs[ISO20022_NMSG] = {
	[ISO20022_PAIN001] = { "pain.001.001.09", ISO20022_PAIN001_NS,
	    "CstmrCdtTrfInitn" },
	[ISO20022_PAIN002] = { "pain.002.001.10", ISO20022_PAIN002_NS,
	    "CstmrPmtStsRpt" },
	[ISO20022_CAMT054] = { "camt.054.001.08", ISO20022_CAMT054_NS,
	    "BkToCstmrDbtCdtNtfctn" },
};

static const struct xml_limits	iso20022_limits = {
	ISO20022_MAX_BYTES, ISO20022_MAX_DEPTH, ISO20022_MAX_ELEMENTS
};

static pthread_mutex_t		 iso20022_mtx = PTHREAD_MUTEX_INITIALIZER;
/* Owned; each set once. */
static struct xml_schema	*iso20022_schemas[ISO20022_NMSG];

int
iso20022_init(const char *dir, struct adapter_error *err)
{
	char	path[1024];
	size_t	i;
	int	rc = 0;

	if (dir == NULL)
		dir = xml_schema_dir();
	pthread_mutex_lock(&iso20022_mtx);
	for (i = 0; i < ISO20022_NMSG && rc == 0; i++) {
		if (iso20022_schemas[i] != NULL)
			continue;
		if (str_printf(path, sizeof(path), "%s/%s/%s.xsd", dir,
		    ISO20022_SCHEMA_SUBDIR, iso20022_msgs[i].name) == -1) {
			adapter_fail(err, 500, "schema-load", "",
			    "schema path too long");
			rc = -1;
		} else if ((iso20022_schemas[i] = xml_schema_load(path,
		    err)) == NULL)
			rc = -1;
	}
	pthread_mutex_unlock(&iso20022_mtx);
	return rc;
}

void
iso20022_fini(void)
{
	size_t	i;

	pthread_mutex_lock(&iso20022_mtx);
	for (i = 0; i < ISO20022_NMSG; i++) {
		xml_schema_free(iso20022_schemas[i]);
		iso20022_schemas[i] = NULL;
	}
	pthread_mutex_unlock(&iso20022_mtx);
}

const char *
iso20022_name(enum iso20022_msg m)
{
	return ((unsigned)m < ISO20022_NMSG) ? iso20022_msgs[m].name : "";
}

const char *
iso20022_ns(enum iso20022_msg m)
{
	return ((unsigned)m < ISO20022_NMSG) ? iso20022_msgs[m].ns : "";
}

const struct xml_schema *
iso20022_schema(enum iso20022_msg m, struct adapter_error *err)
{
	const struct xml_schema	*s;

	if ((unsigned)m >= ISO20022_NMSG) {
		adapter_fail(err, 500, "schema-missing", "", "no such message");
		return NULL;
	}
	if (iso20022_init(NULL, err) == -1)
		return NULL;
	pthread_mutex_lock(&iso20022_mtx);
	s = iso20022_schemas[m];
	pthread_mutex_unlock(&iso20022_mtx);
	return s;
}

xmlDoc *
iso20022_read(const void *buf, size_t len, const char *charset,
    enum iso20022_msg m, struct adapter_error *err)
{
	const struct xml_schema	*s;
	xmlDoc			*doc;
	xmlNode			*root;

	if ((s = iso20022_schema(m, err)) == NULL)
		return NULL;
	if ((doc = xml_parse(buf, len, charset, &iso20022_limits, err)) == NULL)
		return NULL;
	root = xmlDocGetRootElement(doc);
	if (!xml_is(root, iso20022_msgs[m].ns, "Document")) {
		if (strcmp((const char *)root->name, "Document") == 0)
			adapter_fail(err, 400, "wrong-namespace", "/Document",
			    "expected %s (%s)", iso20022_msgs[m].name,
			    iso20022_msgs[m].ns);
		else
			adapter_fail(err, 400, "wrong-root", "",
			    "the root element must be Document");
		xmlFreeDoc(doc);
		return NULL;
	}
	if (xml_validate(s, doc, err) == -1) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

int
iso20022_cnaps_ok(const char *s)
{
	size_t	i;

	for (i = 0; i < ISO20022_CNAPS_LEN - 1; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return s[i] == '\0';
}

int
iso20022_account_ok(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || s[i] > '~' || i >= 34)
			return 0;
	return i > 0;
}

int
iso20022_decimal_to_fen(const char *s, int64_t *fen)
{
	int64_t	v = 0;
	size_t	i = 0, sig = 0, dec;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		/* Leading zeros do not count; past 16 digits of yuan it is
		 * over INSTR_MAX_FEN anyway, and stopping keeps v exact. */
		if (sig == 0 && s[i] == '0')
			continue;
		if (++sig > 16)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	v *= 100;
	if (s[i] == '.') {
		i++;
		if (s[i] < '0' || s[i] > '9')
			return -1;
		for (dec = 0; s[i] >= '0' && s[i] <= '9'; i++, dec++) {
			if (dec == 0)
				v += (s[i] - '0') * 10;
			else if (dec == 1)
				v += s[i] - '0';
			else if (s[i] != '0')
				return -1;	/* not a whole number of fen */
		}
	}
	if (s[i] != '\0' || v > INSTR_MAX_FEN)
		return -1;
	*fen = v;
	return 0;
}

int
iso20022_amount(const xmlNode *amt, int64_t *fen, const char *field,
    struct adapter_error *err)
{
	char	 text[48];
	xmlChar	*ccy;
	int	 cny;

	if (amt == NULL) {
		adapter_fail(err, 400, "missing-field", field,
		    "amount is required");
		return -1;
	}
	ccy = xmlGetNoNsProp(amt, (const xmlChar *)"Ccy");
	cny = ccy != NULL && strcmp((const char *)ccy, "CNY") == 0;
	xmlFree(ccy);
	if (!cny) {
		adapter_fail(err, 422, "bad-currency", field,
		    "the currency is CNY");
		return -1;
	}
	if (xml_text(amt, text, sizeof(text), field, err) == -1)
		return -1;
	if (iso20022_decimal_to_fen(text, fen) == -1) {
		adapter_fail(err, 422, "bad-amount", field,
		    "not an exact amount in fen");
		return -1;
	}
	return 0;
}
