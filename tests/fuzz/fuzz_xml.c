/* libFuzzer target for the XML adapters: tax_parse, pain002_parse and
 * camt054_parse on untrusted bytes. Besides memory safety and leaks
 * (ASan/UBSan/LSan) it checks invariants: a refusal always names a client
 * error (400, 413, 415, 422) and leaves the instruction empty; an accepted
 * instruction is internally consistent and has a canonical form; a refusal
 * always makes a valid tax receipt.
 *
 * Input layout: byte 0 picks the reader (mod 3), byte 1 the Content-Type
 * charset (none, UTF-8, GBK, GB18030, bogus); the document starts at byte 2.
 *
 * The adapters are compiled into this file because tests/fuzz/run.sh
 * compiles FUZZ_SOURCES without libxml2's include path, while the target's
 * own compile line gets FUZZ_LIBS (which carries it).
 *
 * FUZZ_SOURCES: gateway/util.c gateway/log.c adapters/adapter.c adapters/instr.c adapters/jcs.c
 * FUZZ_LIBS: -I/usr/include/libxml2 -lxml2 -ljansson
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/xml.c"
#include "adapters/xml_charset.c"
#include "adapters/iso20022.c"
#include "adapters/tax.c"
#include "adapters/pain002.c"
#include "adapters/camt054.c"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define PREFIX	2

static const char *const	fuzz_charsets[] = {
	NULL, "UTF-8", "GBK", "GB18030", "x-bogus",
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct adapter_error	e = { 0 };

	/* Schemas are parsed once, as the relay does before sandboxing. */
	if (tax_init(NULL, &e) == -1 || iso20022_init(NULL, &e) == -1) {
		fprintf(stderr, "fuzz_xml: cannot load schemas (run from the "
		    "repository root or set GW_SCHEMAS): %s\n", e.detail);
		abort();
	}
	return 0;
}

static void
fuzz_check_collection(const struct instr *in)
{
	const struct instr_collection	*c = &in->u.collection;
	int64_t				 sum = 0;
	size_t				 i;

	if (in->kind != INSTR_COLLECTION || c->nitems != c->count ||
	    c->nitems == 0 || c->nitems > INSTR_MAX_ITEMS ||
	    !instr_city_ok(c->city) || !instr_id_ok(in->id))
		abort();
	for (i = 0; i < c->nitems; i++) {
		if (!instr_uscc_ok(c->items[i].employer_id) ||
		    c->items[i].amount_fen < 0)
			abort();
		sum += c->items[i].amount_fen;
	}
	if (sum != c->total_fen)
		abort();
}

static void
fuzz_check_status(const struct instr *in)
{
	const struct instr_bank_status	*b = &in->u.bank_status;
	size_t				 i;

	if (in->kind != INSTR_BANK_STATUS || b->ntx > INSTR_MAX_TX ||
	    (b->ntx == 0 && b->group_status[0] == '\0') ||
	    (b->ntx > 0 && b->tx == NULL))
		abort();
	for (i = 0; i < b->ntx; i++)
		if (!instr_id_ok(b->tx[i].end_to_end_id) ||
		    strlen(b->tx[i].status) != 4)
			abort();
}

static void
fuzz_check_notification(const struct instr *in)
{
	const struct instr_bank_notification	*b = &in->u.bank_notification;
	size_t					 i;

	if (in->kind != INSTR_BANK_NOTIFICATION || b->nentries == 0 ||
	    b->nentries > INSTR_MAX_TX)
		abort();
	for (i = 0; i < b->nentries; i++)
		if (b->entries[i].amount_fen < 0 ||
		    b->entries[i].amount_fen > INSTR_MAX_FEN ||
		    !instr_date_ok(b->entries[i].booking_date) ||
		    (b->entries[i].credit != 0 && b->entries[i].credit != 1))
			abort();
}

/* Whatever a refusal says must fit in a well-formed receipt. */
static void
fuzz_receipt(const struct adapter_error *why, const char *cs)
{
	struct tax_receipt	 r = { 0 };
	struct adapter_error	 e = { 0 };
	char			*out;
	size_t			 len;
	xmlDoc			*doc;
	const struct xml_limits	 lim = { 1 << 16, 8, 64 };

	r.batch_id = why->field;	/* any text from the refusal */
	r.status = TAX_REFUSED;
	r.error = why;
	if (xml_charset_name(cs) == NULL)
		cs = NULL;
	if (tax_receipt(&r, cs, &out, &len, &e) == -1)
		abort();
	if ((doc = xml_parse(out, len, cs, &lim, &e)) == NULL)
		abort();
	xmlFreeDoc(doc);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adapter_error	 e = { 0 };
	struct instr		 in;
	const char		*cs;
	char			*canon;
	size_t			 clen;
	int			 rc, which;

	if (size < PREFIX)
		return 0;
	which = data[0] % 3;
	cs = fuzz_charsets[data[1] % nitems(fuzz_charsets)];
	data += PREFIX;
	size -= PREFIX;
	memset(&in, 0, sizeof(in));
	if (which == 0)
		rc = tax_parse(data, size, cs, &in, &e);
	else if (which == 1)
		rc = pain002_parse(data, size, cs, &in, &e);
	else
		rc = camt054_parse(data, size, cs, &in, &e);
	if (rc == -1) {
		if (e.status != 400 && e.status != 413 && e.status != 415 &&
		    e.status != 422) {
			fprintf(stderr, "refused with %d %s: %s\n", e.status,
			    e.code, e.detail);
			abort();
		}
		if (in.kind != 0 || in.u.collection.items != NULL)
			abort();
		fuzz_receipt(&e, cs);
		return 0;
	}
	if (which == 0)
		fuzz_check_collection(&in);
	else if (which == 1)
		fuzz_check_status(&in);
	else
		fuzz_check_notification(&in);
	/* What is accepted can be signed: it has a canonical form. */
	if (instr_canonical(&in, &canon, &clen) == -1)
		abort();
	free(canon);
	instr_free(&in);
	return 0;
}
