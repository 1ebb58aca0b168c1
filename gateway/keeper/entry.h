/* Audit entries: the canonical JSON (RFC 8785) of what crossed the gateway. */
#ifndef GW_ENTRY_H
#define GW_ENTRY_H

#include <stddef.h>

struct ipc_passthrough;

/* Builds the entry for one relay exchange seen by relay worker `slot`. The
 * keeper stamps the time. *out is the caller's (free). 0 or -1 (bad fields). */
int	entry_passthrough(const struct ipc_passthrough *, unsigned slot,
	    char **out, size_t *len);
/* RFC 3339 UTC time with milliseconds into dst (at least 32 bytes). */
void	entry_time(char *dst, size_t dsz);

#endif
