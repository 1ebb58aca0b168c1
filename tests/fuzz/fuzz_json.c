/* libFuzzer target for the JSON adapters (json, finance, hrss, instr): the
 * input's first byte picks the parser and its limits, the rest is the body.
 * Besides memory safety and leaks (ASan/UBSan) it checks invariants: a
 * refusal has a known status, a code and a valid-UTF-8 field and detail, and
 * leaves the instruction zeroed; an accepted message has canonical bytes
 * that parse again as a JSON object and canonicalize to the same bytes.
 *
 * Byte 0: bits 0-2 the parser (mod 6: remittance, review, plan,
 * disbursement, the bare helper with its getters, the status notice); bit 3
 * a small size limit; bits 4-6 the caller's city (remittance) or plan id
 * (review).
 *
 * FUZZ_SOURCES: adapters/json.c adapters/finance.c adapters/hrss.c adapters/instr.c adapters/jcs.c adapters/adapter.c gateway/util.c gateway/log.c
 * FUZZ_LIBS: -ljansson
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapters/adapter.h"
#include "adapters/finance.h"
#include "adapters/hrss.h"
#include "adapters/instr.h"
#include "adapters/jcs.h"
#include "adapters/json.h"
#include "log.h"
#include "util.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define BIG_MAX		65536
#define SMALL_MAX	200

static const char *const cities[] = {
	"620100", "620200", "623000", "620000", "", "62010", "620100", NULL,
};
static const char *const plan_ids[] = {
	"P-1", "P-620100-2024-04", "a", "12345678901234567890123456789012345",
	"", "P 1", "P-1", NULL,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz_json", LOG_LVL_ERROR);	/* jcs warns on refusals */
	return 0;
}

static int
utf8_ok(const char *s)
{
	json_t	*v;

	if ((v = json_string(s)) == NULL)
		return 0;
	json_decref(v);
	return 1;
}

static void
check_refusal(const struct adapter_error *e, const struct instr *in)
{
	static const struct instr	zero;

	if (e->status != 400 && e->status != 403 && e->status != 413 &&
	    e->status != 422 && e->status != 503)
		abort();
	if (e->code[0] == '\0' || !utf8_ok(e->code) || !utf8_ok(e->field) ||
	    !utf8_ok(e->detail))
		abort();
	/* The error body quotes field and detail: no raw control bytes. */
	for (const char *p = e->detail; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			abort();
	if (in != NULL && memcmp(in, &zero, sizeof(zero)) != 0)
		abort();
}

/* Canonical bytes parse again as an object, and canonicalize to the same
 * bytes (RFC 8785 is idempotent). */
static void
check_canonical(const char *c, size_t clen)
{
	struct adapter_error	 e;
	json_t			*v;
	char			*again;
	size_t			 alen;

	memset(&e, 0, sizeof(e));
	if (json_parse_object(c, clen, BIG_MAX * 4, &v, &e) != 0)
		abort();
	if (jcs_serialize(v, &again, &alen) != 0)
		abort();
	if (alen != clen || memcmp(again, c, clen) != 0)
		abort();
	free(again);
	json_decref(v);
}

static void
check_accepted(const struct instr *in, enum instr_kind kind)
{
	char	*c;
	size_t	 clen, i;
	int64_t	 sum = 0;

	if (in->kind != kind || !instr_id_ok(in->id))
		abort();
	if (kind == INSTR_PLAN) {
		for (i = 0; i < in->u.plan.nitems; i++)
			sum += in->u.plan.items[i].amount_fen;
		if (sum != in->u.plan.total_fen || in->u.plan.nitems == 0)
			abort();
	}
	if (instr_canonical(in, &c, &clen) != 0)
		abort();
	check_canonical(c, clen);
	free(c);
}

/* The bare helper: parse anything, then run every getter on every member. */
static void
fuzz_helper(const char *body, size_t len, size_t max)
{
	static const char *const none[] = { NULL };
	struct adapter_error	 e;
	json_t			*v, *m, *arr, *el;
	const char		*key;
	char			 buf[INSTR_NAME_MAX], ptr[JSON_PTR_MAX];
	int64_t			 fen;
	char			*c;
	size_t			 clen, i;

	memset(&e, 0, sizeof(e));
	if (json_parse_body(body, len, max, &v, &e) != 0) {
		check_refusal(&e, NULL);
		return;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		return;
	}
	json_object_foreach(v, key, m) {
		memset(&e, 0, sizeof(e));
		(void)json_get_string(v, "/x", key, buf, sizeof(buf),
		    instr_id_ok, "bad-id", &e);
		memset(&e, 0, sizeof(e));
		(void)json_get_opt_string(v, "", key, buf, 8, NULL, NULL, &e);
		memset(&e, 0, sizeof(e));
		if (json_get_amount(v, "", key, &fen, &e) == 0 &&
		    (fen < 0 || fen > JSON_MAX_AMOUNT))
			abort();
		memset(&e, 0, sizeof(e));
		if (json_get_array(v, "", key, 0, 4, &arr, &e) == 0)
			for (i = 0; i < json_array_size(arr); i++) {
				memset(&e, 0, sizeof(e));
				if (json_get_element(arr, "/a", i, &el, ptr,
				    &e) == 0)
					(void)json_check_fields(el, ptr, none,
					    &e);
			}
		if (e.status != 0)
			check_refusal(&e, NULL);
	}
	memset(&e, 0, sizeof(e));
	if (json_check_fields(v, "", none, &e) == -1)
		check_refusal(&e, NULL);
	/* Whatever parsed without reals canonicalizes (reals are refused). */
	if (jcs_serialize(v, &c, &clen) == 0) {
		check_canonical(c, clen);
		free(c);
	}
	json_decref(v);
}

/* The notice writer over raw field bytes (unterminated arrays included). */
static void
fuzz_notice(const uint8_t *p, size_t len)
{
	struct hrss_notice	 n;
	char			*c;
	size_t			 clen;

	memset(&n, 0, sizeof(n));
	memcpy(&n, p, len < sizeof(n) ? len : sizeof(n));
	if (hrss_status_notice(&n, &c, &clen) == 0) {
		check_canonical(c, clen);
		free(c);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adapter_error	 e;
	struct instr		 in;
	const char		*body;
	size_t			 len, max;
	unsigned		 sel, pick;
	int			 rc;
	enum instr_kind		 kind;

	if (size < 1)
		return 0;
	sel = data[0] & 7;
	max = (data[0] & 8) ? SMALL_MAX : BIG_MAX;
	pick = (data[0] >> 4) & 7;
	body = (const char *)data + 1;
	len = size - 1;

	memset(&e, 0, sizeof(e));
	switch (sel % 6) {
	case 0:
		kind = INSTR_REMITTANCE;
		rc = finance_parse_remittance(body, len, max, cities[pick],
		    &in, &e);
		break;
	case 1:
		kind = INSTR_REVIEW;
		rc = finance_parse_review(body, len, max, plan_ids[pick], &in,
		    &e);
		break;
	case 2:
		kind = INSTR_PLAN;
		rc = hrss_parse_plan(body, len, max, &in, &e);
		break;
	case 3:
		kind = INSTR_DISBURSEMENT;
		rc = hrss_parse_disbursement(body, len, max, &in, &e);
		break;
	case 4:
		fuzz_helper(body, len, max);
		return 0;
	default:
		fuzz_notice(data + 1, len);
		return 0;
	}
	if (rc == 0) {
		if (e.status != 0)
			abort();
		check_accepted(&in, kind);
	} else {
		if (rc != -1)
			abort();
		check_refusal(&e, &in);
	}
	instr_free(&in);
	return 0;
}
