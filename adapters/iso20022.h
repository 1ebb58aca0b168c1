/* What the ISO 20022 messages of the China profile (DESIGN §2) share: the
 * three official schemas, the reading path, CNAPS codes, accounts, amounts. */
#ifndef GW_ISO20022_H
#define GW_ISO20022_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "adapters/adapter.h"

#define ISO20022_PAIN001_NS	"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
#define ISO20022_PAIN002_NS	"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
#define ISO20022_CAMT054_NS	"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
/* Schemas live in <schema dir>/iso20022/<message>.xsd. */
#define ISO20022_SCHEMA_SUBDIR	"iso20022"
/* A bank file of INSTR_MAX_TX transactions is well under this. */
#define ISO20022_MAX_BYTES	((size_t)4 << 20)
#define ISO20022_CNAPS_LEN	13	/* 12 digits, plus NUL */

enum iso20022_msg {
	ISO20022_PAIN001,	/* pain.001.001.09: disbursement files out */
	ISO20022_PAIN002,	/* pain.002.001.10: payment status in */
	ISO20022_CAMT054,	/* camt.054.001.08: debit/credit notices in */
	ISO20022_NMSG
};

struct xml_schema;

/* Loads the three official schemas from dir/iso20022/ (dir NULL:
 * xml_schema_dir()) once for the process. Call before sandboxing; the
 * readers and the writer call it themselves with NULL if nobody did.
 * 0 or -1 with err filled (500). */
int	iso20022_init(const char *dir, struct adapter_error *err);
/* Frees the schemas (tests, shutdown). */
void	iso20022_fini(void);

/* The message's name ("pain.001.001.09") and namespace. */
const char	*iso20022_name(enum iso20022_msg);
const char	*iso20022_ns(enum iso20022_msg);
/* The loaded schema of msg (iso20022_init first), or NULL with err. */
const struct xml_schema	*iso20022_schema(enum iso20022_msg msg,
			    struct adapter_error *err);

/* Reads a message: hardened parse (charset is the Content-Type parameter
 * or NULL), root Document in msg's namespace (400 "wrong-namespace",
 * "wrong-root"), validation against the official schema. Returns the
 * document (the caller's, xmlFreeDoc) or NULL with err filled. */
xmlDoc	*iso20022_read(const void *buf, size_t len, const char *charset,
	    enum iso20022_msg msg, struct adapter_error *err);

/* A CNAPS bank code: exactly 12 digits. */
int	iso20022_cnaps_ok(const char *);
/* An account number fit for Othr/Id: 1-34 printable ASCII characters, no
 * blanks (Max34Text, as the registry holds them). */
int	iso20022_account_ok(const char *);
/* An xs:decimal amount to fen, exactly: digits, optionally a point and
 * digits, nothing but zeros past the second decimal, at most INSTR_MAX_FEN.
 * 0 or -1. */
int	iso20022_decimal_to_fen(const char *s, int64_t *fen);
/* Reads an ActiveOrHistoricCurrencyAndAmount element: Ccy must be CNY
 * (422 "bad-currency"), the value exact in fen (422 "bad-amount"). */
int	iso20022_amount(const xmlNode *amt, int64_t *fen, const char *field,
	    struct adapter_error *err);

#endif
