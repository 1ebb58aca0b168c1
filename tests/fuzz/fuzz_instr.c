/* libFuzzer target for instr_parse_canonical, the keeper's reader of the
 * canonical instructions the relay sends: the whole input is the bytes.
 * Besides memory safety and leaks (ASan/UBSan/LSan) it checks invariants: a
 * refusal has a known status and a code and leaves the instruction zeroed;
 * an accepted input is exactly instr_canonical of what was read, is
 * accepted again when its own kind is wanted and refused ("wrong-kind")
 * when another is.
 *
 * adapters/adapter.c (adapter_fail) also holds adapter_init, which needs
 * libxml2 and the XML adapters; tests/fuzz/run.sh compiles FUZZ_SOURCES
 * without libxml2's include path, so, as in fuzz_xml.c, those are compiled
 * into this file, whose own compile line gets FUZZ_LIBS (which carries it).
 *
 * FUZZ_SOURCES: adapters/instr_parse.c adapters/json.c adapters/instr.c adapters/jcs.c gateway/util.c gateway/log.c
 * FUZZ_LIBS: -I/usr/include/libxml2 -lxml2 -ljansson
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.c"
#include "adapters/xml.c"
#include "adapters/xml_charset.c"
#include "adapters/iso20022.c"
#include "adapters/tax.c"

#include "adapters/adapter.h"
#include "adapters/instr.h"
#include "adapters/instr_parse.h"
#include "log.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* instr_canonical warns on what it cannot write. */
	log_init("fuzz_instr", LOG_LVL_ERROR);
	return 0;
}

static void
fuzz_instr_refused(int rc, const struct adapter_error *e,
    const struct instr *in)
{
	static const struct instr	zero;

	if (rc != -1)
		abort();
	if (e->status != 400 && e->status != 413 && e->status != 422 &&
	    e->status != 503)
		abort();
	if (e->code[0] == '\0' || memcmp(in, &zero, sizeof(zero)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adapter_error	 e;
	struct instr		 in, again;
	const char		*buf = (const char *)data;
	char			*c;
	size_t			 clen;
	enum instr_kind		 other;
	int			 rc;

	memset(&e, 0, sizeof(e));
	rc = instr_parse_canonical(buf, size, 0, &in, &e);
	if (rc != 0) {
		fuzz_instr_refused(rc, &e, &in);
		return 0;
	}
	if (e.status != 0 || !instr_id_ok(in.id))
		abort();
	/* The promise the keeper relies on: these are the canonical bytes
	 * of exactly what was read. */
	if (instr_canonical(&in, &c, &clen) != 0)
		abort();
	if (clen != size || memcmp(c, data, size) != 0)
		abort();
	free(c);

	memset(&e, 0, sizeof(e));
	if (instr_parse_canonical(buf, size, in.kind, &again, &e) != 0)
		abort();
	instr_free(&again);
	other = in.kind == INSTR_COLLECTION ? INSTR_REMITTANCE :
	    INSTR_COLLECTION;
	memset(&e, 0, sizeof(e));
	rc = instr_parse_canonical(buf, size, other, &again, &e);
	fuzz_instr_refused(rc, &e, &again);
	if (strcmp(e.code, "wrong-kind") != 0)
		abort();
	instr_free(&in);
	return 0;
}
