/* IPC between roles: length-prefixed, versioned, typed messages over
 * socketpairs. Payloads are fixed C structs whose strings are checked to be
 * NUL-terminated within their arrays; a peer sending a bad message is cut off. */
#ifndef GW_IPC_H
#define GW_IPC_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define IPC_VERSION		1
#define IPC_MAX_PAYLOAD		(256 * 1024)

enum ipc_type {
	IPC_PASSTHROUGH = 1,	/* relay -> keeper: struct ipc_passthrough */
	IPC_APPENDED,		/* keeper -> relay: struct ipc_appended */
	IPC_AUDIT_QUERY,	/* relay -> keeper: struct ipc_audit_query */
	IPC_AUDIT_REPLY,	/* keeper -> relay: struct ipc_audit_reply + body */
	IPC_CHANNEL,		/* parent -> keeper: a relay channel (fd passed) */
	IPC_TYPE_MAX
};

struct ipc_hdr {
	uint32_t	len;		/* payload bytes after the header */
	uint16_t	version;
	uint16_t	type;
	uint64_t	id;		/* matches a reply to its request */
};

/* One passthrough exchange, as the relay saw it; the keeper adds the time
 * and the source and writes the audit entry. */
struct ipc_passthrough {
	char		request_id[24];
	char		agency[64];
	char		route[64];
	char		upstream[64];
	char		method[16];
	char		path[1024];
	char		code[48];	/* our refusal code, if we answered */
	int32_t		status;
	uint32_t	pad;
	uint64_t	request_bytes;
	uint64_t	response_bytes;
	uint64_t	duration_ms;
	uint8_t		request_sha256[32];
	uint8_t		response_sha256[32];
};

struct ipc_appended {
	int32_t		ok;		/* 1: durable at index; 0: refused */
	uint32_t	pad;
	uint64_t	index;
	char		error[128];
};

enum ipc_audit_what {
	AUDIT_CHECKPOINT = 1,	/* the latest signed checkpoint */
	AUDIT_INCLUSION,	/* a = index, b = tree size (0: latest) */
	AUDIT_CONSISTENCY,	/* a = old size, b = new size (0: latest) */
	AUDIT_ENTRY,		/* a = index */
	AUDIT_BUNDLE,		/* a = index: c2sp.org/tlog-proof@v1 */
};

struct ipc_audit_query {
	uint32_t	what;
	uint32_t	pad;
	uint64_t	a, b;
};

/* Followed by the body bytes (len - sizeof header struct). */
struct ipc_audit_reply {
	int32_t		status;		/* HTTP status for the relay to use */
	uint32_t	pad;
	char		ctype[64];
	char		code[48];	/* error code when status >= 400 */
};

struct ipc_channel {
	uint32_t	slot;
	uint32_t	pad;
};

/* Queues a message on out. 0, or -1 if the payload is too big. */
int	ipc_send(struct evbuffer *out, uint16_t type, uint64_t id,
	    const void *payload, size_t len);
/* Same, with a body appended after a fixed payload struct. */
int	ipc_send2(struct evbuffer *out, uint16_t type, uint64_t id,
	    const void *payload, size_t len, const void *body, size_t blen);
/* Takes one whole message from in: 1 (hdr and payload filled; payload must
 * hold IPC_MAX_PAYLOAD bytes), 0 (incomplete), -1 (bad framing: cut off). */
int	ipc_recv(struct evbuffer *in, struct ipc_hdr *hdr, void *payload);
/* Whether a fixed char array holds a NUL-terminated string. */
int	ipc_str_ok(const char *s, size_t size);

/* Passing descriptors (parent to keeper), blocking. 0 or -1. */
int	ipc_send_fd(int sock, uint32_t slot, int fd);
int	ipc_recv_fd(int sock, uint32_t *slot, int *fd);

#endif
