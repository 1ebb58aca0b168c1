/* gatewayctl audit: what its files share (options, a bounded file reader). */
#ifndef GW_CTL_AUDIT_H
#define GW_CTL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "keeper/note.h"

struct audit_opts {
	const char	*conf;
	const char	*db;
	const char	*vkey;
	uint64_t	 index, size;
	int		 has_index, has_size;
	char		 dbpath[CFG_PATH_MAX];
	char		 cpfile[CFG_PATH_MAX];
	struct note_verifier verifier;
	int		 has_verifier;
};

/* Reads a whole small file (at most 4 MiB) into a new NUL-terminated buffer
 * the caller frees; NULL with errno set on failure. */
char	*audit_read_file(const char *path, size_t *len);
/* gatewayctl audit verify: exit code. */
int	 audit_verify(struct audit_opts *);

#endif
