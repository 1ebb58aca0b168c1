/* JSON strings for stubd's answers and record lines, escaped with the
 * project's json_escape into an evbuffer (sized to the input, never cut). */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#include "stub.h"

/* Appends s as a quoted JSON string. Returns 0 or -1. */
int
stub_json_str(struct evbuffer *buf, const char *s)
{
	char	 small[256];
	char	*esc = small;
	size_t	 n = strlen(s), need;
	int	 rc = 0;

	/* \u00XX is the longest escape: 6 bytes per input byte, plus NUL.
	 * The head cap (64 KiB) keeps this allocation bounded. */
	if (n > STUB_MAX_HEAD * 2) {
		log_warnx("%s: string too long (%zu)", __func__, n);
		return -1;
	}
	need = 6 * n + 1;
	if (need > sizeof(small) && (esc = malloc(need)) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return -1;
	}
	json_escape(esc, need, s);
	if (evbuffer_add(buf, "\"", 1) == -1 ||
	    evbuffer_add(buf, esc, strlen(esc)) == -1 ||
	    evbuffer_add(buf, "\"", 1) == -1) {
		log_warnx("%s: evbuffer_add failed", __func__);
		rc = -1;
	}
	if (esc != small)
		free(esc);
	return rc;
}
