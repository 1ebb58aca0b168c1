/* The trust manifest (issue 12): the SHA-256 of every file that decides who
 * may do what or where money goes, built by the parent at start-up and at
 * each reload, handed to the keeper, which logs it (keeper/trustlog.c). */
#ifndef GW_TRUST_H
#define GW_TRUST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ipc.h"

struct config;

/* Grows as needed: no count of files is too many, only a manifest past
 * IPC_MAX_PAYLOAD, which trust_send refuses. */
struct trust_manifest {
	struct ipc_trust_file	*files;
	size_t			 n, cap;
	uint32_t		 reason;	/* enum ipc_trust_reason */
};

/* "start" or "reload"; NULL for anything else. */
const char	*trust_reason_name(uint32_t reason);

/* Adds (role, path, sha256). 0, or -1 (logged) if a field is too long or
 * memory ran out. */
int	trust_add(struct trust_manifest *, const char *role, const char *path,
	    const uint8_t sha256[32]);
/* Adds path with the SHA-256 of its bytes. 0, or -1 (logged) if it cannot
 * be read. */
int	trust_add_file(struct trust_manifest *, const char *role,
	    const char *path);
/* Sorts by path (bytewise, as SQLite's BINARY collation does); a path given
 * twice is kept once, with the role that sorts first. */
void	trust_sort(struct trust_manifest *);
/* Whether m is sorted by path with each path once and every field a
 * non-empty string: what the keeper demands of the parent's manifest. */
int	trust_valid(const struct trust_manifest *);
void	trust_free(struct trust_manifest *);

/* The parent's manifest of cf: the configuration file, the certificates,
 * CAs and CRLs of listeners and upstreams, agencies' pins, witnesses' keys,
 * the account registry and every schema (*.xsd) under the schemas folder.
 * The keeper adds the public halves of the keys it holds. 0, or -1 (logged)
 * when a file cannot be read: the start or the reload is refused. */
int	trust_build(const struct config *cf, uint32_t reason,
	    struct trust_manifest *m);

/* Hands m to the keeper on its control socket: one IPC_TRUST message in a
 * memory file passed as IPC_SLOT_TRUST. 0 or -1 (logged). */
int	trust_send(int ctl_fd, const struct trust_manifest *m);
/* The keeper's side: reads the IPC_TRUST message from fd (closed here)
 * into m, checked (trust_valid). buf holds IPC_MAX_PAYLOAD bytes. 0 or -1
 * (logged). */
int	trust_recv(int fd, void *buf, struct trust_manifest *m);

/* [{"role","path","sha256"}...] of m, in its order. NULL when out of
 * memory or a path is not UTF-8. */
json_t	*trust_files_json(const struct trust_manifest *m);
/* What changed from before to after (both sorted, trust_valid), by path:
 * [{"path","role","before","after"}...] in path order, before null for a
 * file added, after null for one removed; a file whose digest or role
 * changed has both. NULL when out of memory. */
json_t	*trust_diff(const struct trust_manifest *before,
	    const struct trust_manifest *after);

#endif
