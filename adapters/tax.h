/* The tax bureau's contract (DESIGN §2): PremiumCollection batches in
 * (XML, UTF-8/GB18030/GBK) as INSTR_COLLECTION, XML receipts out. */
#ifndef GW_TAX_H
#define GW_TAX_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"

#define TAX_NS			"urn:gateway:tax:collection:1"
#define TAX_RECEIPT_NS		"urn:gateway:tax:receipt:1"
#define TAX_SCHEMA_FILE		"tax-collection.xsd"
/* 10000 items of a few hundred bytes each, with room for indentation. */
#define TAX_MAX_BYTES		((size_t)8 << 20)

/* Loads dir/tax-collection.xsd (dir NULL: xml_schema_dir()) once for the
 * process; later calls do nothing. Call before sandboxing; tax_parse calls
 * it itself with NULL if nobody did. 0 or -1 with err filled (500). */
int	tax_init(const char *dir, struct adapter_error *err);
/* Frees the schema (tests, shutdown). */
void	tax_fini(void);

/* Parses and checks one PremiumCollection: charset conversion (charset is
 * the Content-Type parameter or NULL), XSD validation, then the rules the
 * schema cannot state: items sum to TotalAmount (422 "total-mismatch"),
 * their number is Count (422 "count-mismatch"), every EmployerId has a
 * valid GB 32100-2015 check character (422 "bad-credit-code"), CityCode is
 * a pooling area (422 "unknown-city"), Period and CollectedAt are real
 * (422 "bad-period", "bad-time"). On success out is an INSTR_COLLECTION
 * whose id is BatchId and whose items are the caller's (instr_free). On
 * failure out is zeroed and err names the first reason, with the XML path
 * of the field in err->field. 0 or -1. */
int	tax_parse(const void *buf, size_t len, const char *charset,
	    struct instr *out, struct adapter_error *err);

enum tax_status {
	TAX_ACCEPTED = 1,
	TAX_DUPLICATE,		/* the same batch again: the original receipt */
	TAX_REFUSED
};

/* What a receipt says. Strings are borrowed for the call. */
struct tax_receipt {
	const char			*batch_id;	/* NULL: unknown */
	enum tax_status			 status;
	int				 has_index;	/* audit_index given */
	uint64_t			 audit_index;
	/* Accepted and duplicate: the gateway's signature over the canonical
	 * instruction, its key id and the digest of the request bytes. */
	const char			*signature;
	const char			*key_id;
	const char			*digest;
	/* Refused: why. */
	const struct adapter_error	*error;
};

/* Writes the receipt (urn:gateway:tax:receipt:1, root Receipt: BatchId,
 * Status, AuditIndex, then Signature/KeyId/Digest or Error/Code, Field,
 * Detail) in charset (NULL: UTF-8). *out is the caller's (free).
 * 0 or -1 with err filled (500). */
int	tax_receipt(const struct tax_receipt *r, const char *charset,
	    char **out, size_t *outlen, struct adapter_error *err);

#endif
