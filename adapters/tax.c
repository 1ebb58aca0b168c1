/* The tax bureau's PremiumCollection in (XSD first, then the rules a schema
 * cannot state) and its XML receipt out. */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "adapters/tax.h"
#include "adapters/xml.h"
#include "util.h"

#define TAX_ROOT	"/PremiumCollection"
/* Root, 7 header fields, and an Item with 4 fields per item. */
#define TAX_MAX_ELEMENTS	(1 + 7 + 5 * INSTR_MAX_ITEMS)
/* Longest text a receipt field carries (the schema's maxLength). */
#define TAX_RECEIPT_TEXT	512

static const struct xml_limits	tax_limits = {
	TAX_MAX_BYTES, 8, TAX_MAX_ELEMENTS
};

static pthread_mutex_t		 tax_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct xml_schema	*tax_schema;	/* owned; set once */

int
tax_init(const char *dir, struct adapter_error *err)
{
	char	path[1024];
	int	rc = 0;

	pthread_mutex_lock(&tax_mtx);
	if (tax_schema == NULL) {
		if (dir == NULL)
			dir = xml_schema_dir();
		if (str_printf(path, sizeof(path), "%s/%s", dir,
		    TAX_SCHEMA_FILE) == -1) {
			adapter_fail(err, 500, "schema-load", "",
			    "schema path too long");
			rc = -1;
		} else if ((tax_schema = xml_schema_load(path, err)) == NULL)
			rc = -1;
	}
	pthread_mutex_unlock(&tax_mtx);
	return rc;
}

void
tax_fini(void)
{
	pthread_mutex_lock(&tax_mtx);
	xml_schema_free(tax_schema);
	tax_schema = NULL;
	pthread_mutex_unlock(&tax_mtx);
}

/* The right root in the right namespace, told apart so a sender sees
 * which of the two it got wrong. */
static int
tax_check_root(const xmlNode *root, struct adapter_error *err)
{
	if (xml_is(root, TAX_NS, "PremiumCollection"))
		return 0;
	if (strcmp((const char *)root->name, "PremiumCollection") == 0)
		adapter_fail(err, 400, "wrong-namespace", TAX_ROOT,
		    "PremiumCollection must be in namespace %s", TAX_NS);
	else
		adapter_fail(err, 400, "wrong-root", "",
		    "the root element must be PremiumCollection");
	return -1;
}

static int
tax_amount(const char *text, int64_t *fen, const char *field,
    struct adapter_error *err)
{
	if (instr_yuan_to_fen(text, fen) == -1) {
		adapter_fail(err, 422, "bad-amount", field,
		    "amount must be yuan with two decimals");
		return -1;
	}
	return 0;
}

static int
tax_read_item(const xmlNode *item, size_t k, struct instr_collection_item *it,
    struct adapter_error *err)
{
	char		path[128], text[32];
	uint64_t	v;

	str_printf(path, sizeof(path), TAX_ROOT "/Item[%zu]/EmployerId", k);
	if (xml_child_text(item, TAX_NS, "EmployerId", 1, it->employer_id,
	    sizeof(it->employer_id), path, err) == -1)
		return -1;
	if (!instr_uscc_ok(it->employer_id)) {
		adapter_fail(err, 422, "bad-credit-code", path,
		    "not a valid unified social credit code (GB 32100-2015)");
		return -1;
	}
	str_printf(path, sizeof(path), TAX_ROOT "/Item[%zu]/EmployerName", k);
	if (xml_child_text(item, TAX_NS, "EmployerName", 1, it->employer_name,
	    sizeof(it->employer_name), path, err) == -1)
		return -1;
	str_printf(path, sizeof(path), TAX_ROOT "/Item[%zu]/Insured", k);
	if (xml_child_text(item, TAX_NS, "Insured", 1, text, sizeof(text),
	    path, err) == -1)
		return -1;
	if (parse_u64(text, 1, 9999999, &v) == -1) {
		adapter_fail(err, 422, "bad-insured", path,
		    "number of insured workers out of range");
		return -1;
	}
	it->insured = (uint32_t)v;
	str_printf(path, sizeof(path), TAX_ROOT "/Item[%zu]/Amount", k);
	if (xml_child_text(item, TAX_NS, "Amount", 1, text, sizeof(text), path,
	    err) == -1)
		return -1;
	return tax_amount(text, &it->amount_fen, path, err);
}

static int
tax_read_items(const xmlNode *root, struct instr_collection *c,
    struct adapter_error *err)
{
	const xmlNode	*item;
	size_t		 n = 0, k;
	int64_t		 sum = 0;

	for (item = xml_child(root, TAX_NS, "Item"); item != NULL;
	    item = xml_next(item))
		n++;
	if (n == 0 || n > INSTR_MAX_ITEMS) {
		adapter_fail(err, 422, "bad-count", TAX_ROOT "/Item",
		    "1 to %d items", INSTR_MAX_ITEMS);
		return -1;
	}
	if ((c->items = calloc(n, sizeof(*c->items))) == NULL) {
		adapter_fail(err, 500, "internal", "", "out of memory");
		return -1;
	}
	c->nitems = n;
	item = xml_child(root, TAX_NS, "Item");
	for (k = 0; k < n; k++, item = xml_next(item)) {
		if (tax_read_item(item, k + 1, &c->items[k], err) == -1)
			return -1;
		/* Each amount is below INSTR_MAX_FEN, so this cannot wrap;
		 * a sum past the largest amount cannot equal the total. */
		sum += c->items[k].amount_fen;
		if (sum > INSTR_MAX_FEN) {
			adapter_fail(err, 422, "total-mismatch",
			    TAX_ROOT "/TotalAmount",
			    "the items add up to more than any total");
			return -1;
		}
	}
	if (c->count != n) {
		adapter_fail(err, 422, "count-mismatch", TAX_ROOT "/Count",
		    "Count is %" PRIu32 " but there are %zu items", c->count,
		    n);
		return -1;
	}
	if (sum != c->total_fen) {
		adapter_fail(err, 422, "total-mismatch",
		    TAX_ROOT "/TotalAmount", "TotalAmount is %" PRId64
		    " fen but the items add up to %" PRId64, c->total_fen, sum);
		return -1;
	}
	return 0;
}

static int
tax_read(const xmlNode *root, struct instr *out, struct adapter_error *err)
{
	struct instr_collection	*c = &out->u.collection;
	char			 total[32], count[16];
	uint64_t		 v;

	out->kind = INSTR_COLLECTION;
	if (xml_child_text(root, TAX_NS, "BatchId", 1, out->id, sizeof(out->id),
	    TAX_ROOT "/BatchId", err) == -1 ||
	    xml_child_text(root, TAX_NS, "CityCode", 1, c->city,
	    sizeof(c->city), TAX_ROOT "/CityCode", err) == -1 ||
	    xml_child_text(root, TAX_NS, "Period", 1, c->period,
	    sizeof(c->period), TAX_ROOT "/Period", err) == -1 ||
	    xml_child_text(root, TAX_NS, "CollectedAt", 1, c->collected_at,
	    sizeof(c->collected_at), TAX_ROOT "/CollectedAt", err) == -1 ||
	    xml_child_text(root, TAX_NS, "Currency", 1, c->currency,
	    sizeof(c->currency), TAX_ROOT "/Currency", err) == -1 ||
	    xml_child_text(root, TAX_NS, "TotalAmount", 1, total,
	    sizeof(total), TAX_ROOT "/TotalAmount", err) == -1 ||
	    xml_child_text(root, TAX_NS, "Count", 1, count, sizeof(count),
	    TAX_ROOT "/Count", err) == -1)
		return -1;
	/* The schema's patterns already hold these; checked again because
	 * the schema is a file an operator could edit. */
	if (!instr_id_ok(out->id)) {
		adapter_fail(err, 422, "bad-id", TAX_ROOT "/BatchId",
		    "1-35 characters of [A-Za-z0-9._-]");
		return -1;
	}
	if (!instr_city_ok(c->city)) {
		adapter_fail(err, 422, "unknown-city", TAX_ROOT "/CityCode",
		    "not one of the province's pooling areas");
		return -1;
	}
	if (!instr_period_ok(c->period)) {
		adapter_fail(err, 422, "bad-period", TAX_ROOT "/Period",
		    "not a month YYYY-MM");
		return -1;
	}
	if (!instr_time_ok(c->collected_at)) {
		adapter_fail(err, 422, "bad-time", TAX_ROOT "/CollectedAt",
		    "not an RFC 3339 date-time with a time zone");
		return -1;
	}
	if (strcmp(c->currency, "CNY") != 0) {
		adapter_fail(err, 422, "bad-currency", TAX_ROOT "/Currency",
		    "the currency is CNY");
		return -1;
	}
	if (tax_amount(total, &c->total_fen, TAX_ROOT "/TotalAmount",
	    err) == -1)
		return -1;
	if (parse_u64(count, 1, INSTR_MAX_ITEMS, &v) == -1) {
		adapter_fail(err, 422, "bad-count", TAX_ROOT "/Count",
		    "1 to %d items", INSTR_MAX_ITEMS);
		return -1;
	}
	c->count = (uint32_t)v;
	return tax_read_items(root, c, err);
}

int
tax_parse(const void *buf, size_t len, const char *charset,
    struct instr *out, struct adapter_error *err)
{
	xmlDoc	*doc;
	int	 rc;

	memset(out, 0, sizeof(*out));
	if (tax_init(NULL, err) == -1)
		return -1;
	if ((doc = xml_parse(buf, len, charset, &tax_limits, err)) == NULL)
		return -1;
	rc = tax_check_root(xmlDocGetRootElement(doc), err);
	if (rc == 0)
		rc = xml_validate(tax_schema, doc, err);
	if (rc == 0)
		rc = tax_read(xmlDocGetRootElement(doc), out, err);
	xmlFreeDoc(doc);
	if (rc == -1)
		instr_free(out);
	return rc;
}

/* ---- receipt ---- */

/* Adds name with text cleaned for XML (a batch id from a refused request
 * or a detail cut mid-character must not break the receipt). */
static void
tax_add(xmlNode *parent, const char *name, const char *text, int *ok)
{
	char	buf[TAX_RECEIPT_TEXT + 1];

	if (text == NULL || *text == '\0')
		return;
	if (str_copy(buf, sizeof(buf), text) == -1) {
		*ok = 0;
		return;
	}
	xml_clean(buf);
	if (xml_add(parent, name, buf) == NULL)
		*ok = 0;
}

int
tax_receipt(const struct tax_receipt *r, const char *charset, char **out,
    size_t *outlen, struct adapter_error *err)
{
	static const char *const	 status[] = {
		[TAX_ACCEPTED] = "accepted",
		[TAX_DUPLICATE] = "duplicate",
		[TAX_REFUSED] = "refused",
	};
	xmlDoc				*doc;
	xmlNode				*root, *e;
	char				 idx[24];
	int				 ok = 1, rc;

	*out = NULL;
	*outlen = 0;
	if (r->status < TAX_ACCEPTED || r->status > TAX_REFUSED ||
	    (r->status == TAX_REFUSED && (r->error == NULL ||
	    r->error->code[0] == '\0')) ||
	    (r->status != TAX_REFUSED && (r->signature == NULL ||
	    r->key_id == NULL || r->digest == NULL || *r->signature == '\0' ||
	    *r->key_id == '\0' || *r->digest == '\0'))) {
		adapter_fail(err, 500, "bad-receipt", "",
		    "incomplete receipt");
		return -1;
	}
	if ((doc = xml_new_doc(TAX_RECEIPT_NS, "Receipt", &root)) == NULL) {
		adapter_fail(err, 500, "internal", "", "out of memory");
		return -1;
	}
	tax_add(root, "BatchId", r->batch_id, &ok);
	tax_add(root, "Status", status[r->status], &ok);
	if (r->has_index) {
		str_printf(idx, sizeof(idx), "%" PRIu64, r->audit_index);
		tax_add(root, "AuditIndex", idx, &ok);
	}
	if (r->status == TAX_REFUSED) {
		if ((e = xml_add(root, "Error", NULL)) == NULL)
			ok = 0;
		else {
			tax_add(e, "Code", r->error->code, &ok);
			tax_add(e, "Field", r->error->field, &ok);
			tax_add(e, "Detail", r->error->detail, &ok);
		}
	} else {
		tax_add(root, "Signature", r->signature, &ok);
		tax_add(root, "KeyId", r->key_id, &ok);
		tax_add(root, "Digest", r->digest, &ok);
	}
	if (!ok) {
		xmlFreeDoc(doc);
		adapter_fail(err, 500, "bad-receipt", "",
		    "cannot build the receipt");
		return -1;
	}
	rc = xml_serialize(doc, charset, out, outlen, err);
	xmlFreeDoc(doc);
	return rc;
}
