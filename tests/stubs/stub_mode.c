/* Behaviour modes of stubd: the --mode default and the per-request
 * X-Stub-Mode override share one syntax, parsed here. */
#include <string.h>

#include "util.h"

#include "stub.h"

/* Delays are bounded so a typo cannot park a connection for days. */
#define STUB_MODE_MAX_DELAY_MS	3600000ull

static const char *const stub_mode_names[] = {
	[STUB_MODE_ANSWER] = "answer",
	[STUB_MODE_DELAY] = "delay",
	[STUB_MODE_FAIL] = "fail",
	[STUB_MODE_HANG] = "hang",
	[STUB_MODE_RESET] = "reset",
};

const char *
stub_mode_name(enum stub_mode_kind kind)
{
	if ((size_t)kind >= nitems(stub_mode_names))
		return "unknown";
	return stub_mode_names[kind];
}

/*
 * "answer", "delay[=MS]", "fail[=STATUS]", "hang" or "reset". A bare "delay"
 * or "fail" takes its argument from the command line defaults in cfg.
 * Returns 0, or -1 (without logging: a bad header is the client's problem,
 * answered with 400 by the caller).
 */
int
stub_mode_parse(const char *s, const struct stub_cfg *cfg, struct stub_mode *out)
{
	const char	*arg;
	size_t		 klen;
	uint64_t	 v;
	size_t		 i;

	arg = strchr(s, '=');
	klen = arg != NULL ? (size_t)(arg - s) : strlen(s);
	if (arg != NULL)
		arg++;
	for (i = 0; i < nitems(stub_mode_names); i++)
		if (str_ieq(s, klen, stub_mode_names[i]))
			break;
	if (i == nitems(stub_mode_names))
		return -1;
	memset(out, 0, sizeof(*out));
	out->kind = (enum stub_mode_kind)i;
	switch (out->kind) {
	case STUB_MODE_DELAY:
		out->delay_ms = cfg->delay_ms;
		if (arg != NULL) {
			if (parse_u64(arg, 0, STUB_MODE_MAX_DELAY_MS, &v) == -1)
				return -1;
			out->delay_ms = v;
		}
		return 0;
	case STUB_MODE_FAIL:
		out->status = cfg->fail_status;
		if (arg != NULL) {
			/* No 1xx: an interim response would not end the
			 * exchange and the client would wait forever. */
			if (parse_u64(arg, 200, 599, &v) == -1)
				return -1;
			out->status = (int)v;
		}
		return 0;
	default:
		return arg == NULL ? 0 : -1;
	}
}
