/* IPC between roles: length-prefixed, versioned, typed messages over
 * socketpairs. Payloads are fixed C structs whose strings are checked to be
 * NUL-terminated within their arrays; a peer sending a bad message is cut off. */
#ifndef GW_IPC_H
#define GW_IPC_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define IPC_VERSION		1
/* A collection of INSTR_MAX_ITEMS items in canonical JSON fits. */
#define IPC_MAX_PAYLOAD		(4 * 1024 * 1024)

enum ipc_type {
	IPC_PASSTHROUGH = 1,	/* relay -> keeper: struct ipc_passthrough */
	IPC_APPENDED,		/* keeper -> relay: struct ipc_appended */
	IPC_AUDIT_QUERY,	/* relay -> keeper: struct ipc_audit_query */
	IPC_AUDIT_REPLY,	/* keeper -> relay: struct ipc_audit_reply + body */
	IPC_CHANNEL,		/* parent -> keeper: a relay channel (fd passed) */
	IPC_INSTR,		/* relay -> keeper: struct ipc_instr + canonical */
	IPC_INSTR_REPLY,	/* keeper -> relay: struct ipc_instr_reply + body */
	IPC_TRANSFER_QUERY,	/* relay -> keeper: struct ipc_transfer_query;
				   answered with IPC_AUDIT_REPLY */
	IPC_DELIVER,		/* keeper -> courier: struct ipc_deliver + body */
	IPC_DELIVERED,		/* courier -> keeper: struct ipc_delivered */
	IPC_OUTBOX_RETRY,	/* relay -> keeper: struct ipc_outbox_retry;
				   answered with IPC_INSTR_REPLY */
	IPC_REPORT_QUERY,	/* relay -> keeper: struct ipc_report_query;
				   answered with IPC_AUDIT_REPLY */
	IPC_WITNESS_ADD,	/* keeper -> courier: struct ipc_witness_add +
				   the add-checkpoint request body */
	IPC_WITNESSED,		/* courier -> keeper: struct ipc_witnessed */
	IPC_TRUST,		/* parent -> keeper, in a file passed as
				   IPC_SLOT_TRUST: struct ipc_trust + files */
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
	AUDIT_CHECKPOINT = 1,	/* the latest signed checkpoint, with its
				   cosignatures; a = 1: the latest cosigned */
	AUDIT_INCLUSION,	/* a = index, b = tree size (0: latest) */
	AUDIT_CONSISTENCY,	/* a = old size, b = new size (0: latest) */
	AUDIT_ENTRY,		/* a = index */
	AUDIT_BUNDLE,		/* a = index: c2sp.org/tlog-proof@v1 */
};

/* agency and role say who asks: the keeper decides who may read an entry
 * (AUDIT_ENTRY, AUDIT_BUNDLE); proofs and checkpoints are for everyone. */
struct ipc_audit_query {
	uint32_t	what;
	uint32_t	role;
	uint64_t	a, b;
	char		agency[64];
};

/* Followed by the body bytes (len - sizeof header struct). */
struct ipc_audit_reply {
	int32_t		status;		/* HTTP status for the relay to use */
	uint32_t	pad;
	char		ctype[64];
	char		code[48];	/* error code when status >= 400 */
};

/* An instruction the relay parsed and checked: its canonical JSON (RFC 8785)
 * follows. The keeper parses it again, never trusting the relay's JSON, and
 * takes the caller's identity from here (the relay got it from the verified
 * certificate). */
struct ipc_instr {
	char		request_id[24];
	char		agency[64];	/* the caller's agency name */
	uint32_t	role;		/* enum role */
	uint32_t	kind;		/* enum instr_kind */
	char		city[8];	/* the city bound to the caller, or "" */
	uint64_t	request_bytes;
	uint8_t		request_sha256[32];	/* of the raw body */
};

enum {
	IPC_INSTR_REPLAYED = 1 << 0,	/* the original receipt of a duplicate */
};

/* The keeper's verdict: status 202 (accepted; the receipt JSON follows),
 * 200 (bank status and notifications), the same status and receipt again
 * for a duplicate (IPC_INSTR_REPLAYED), or >= 400 with code (the rule or
 * reason) and the detail text following. */
struct ipc_instr_reply {
	int32_t		status;
	uint32_t	flags;
	uint64_t	index;		/* the audit entry of this exchange */
	char		code[48];
};

/* GET /v1/transfers/{id}[?kind=K]: who asks and what. */
struct ipc_transfer_query {
	char		agency[64];
	uint32_t	role;
	uint32_t	kind;		/* 0: any kind */
	char		id[40];
	uint32_t	receipt;	/* 1: GET /v1/receipts/{kind}/{id} */
	uint32_t	pad;
};

/* One delivery attempt of an outbox row; the body follows. headers holds
 * extra "Name: value\r\n" lines the keeper made (Content-Digest,
 * Signature-Input, Signature, File-Signature); the courier adds Host,
 * Content-Type, Content-Length and Idempotency-Key itself. */
struct ipc_deliver {
	uint64_t	seq;		/* the outbox row */
	uint32_t	upstream;	/* index into config.upstreams */
	uint32_t	attempt;	/* 1 for the first */
	/* The keeper sends an upstream's rows in order, several at a time;
	 * the courier delivers them one after the other. After a failure
	 * it skips every row of that epoch or older (DELIVERY_SKIPPED): the
	 * keeper starts a new epoch with the failed row again, so no row
	 * ever overtakes an earlier one. */
	uint32_t	epoch;
	uint32_t	pad;
	char		path[256];
	char		ctype[64];
	char		idempotency_key[80];
	char		headers[2048];
};

enum ipc_delivery_outcome {
	DELIVERY_OK = 1,	/* 2xx: delivered */
	DELIVERY_RETRY,		/* no answer, 5xx, 408, 425, 429: try again */
	DELIVERY_REFUSED,	/* another 4xx: the upstream will not take it */
	DELIVERY_SKIPPED,	/* not attempted: an earlier row failed */
};

/* What came of one attempt. The upstream's response body is not sent: the
 * keeper never parses bytes from outside; its digest is logged. */
struct ipc_delivered {
	uint64_t	seq;
	uint32_t	outcome;	/* enum ipc_delivery_outcome */
	int32_t		status;		/* HTTP status, 0 if none */
	uint64_t	duration_ms;
	uint8_t		response_sha256[32];
	char		error[128];	/* why, when not DELIVERY_OK */
};

enum ipc_report_what {
	REPORT_RECONCILIATION = 1,	/* period; csv */
	REPORT_ALERTS,			/* since */
	REPORT_ACCOUNTS,		/* date ("" today) */
	REPORT_ACCOUNT_CHANGES,		/* state ("" all) */
	REPORT_INSPECTION,		/* period; csv (or HTML) */
};

/* GET /v1/reports/reconciliation, /v1/reports/inspection and /v1/alerts. */
struct ipc_report_query {
	uint32_t	what;		/* enum ipc_report_what */
	uint32_t	csv;		/* 1: Accept: text/csv; 2: text/html
					 * (inspection only) */
	char		period[8];	/* YYYY-MM */
	uint64_t	since;		/* alerts after this id */
	char		date[12];	/* YYYY-MM-DD or "" */
	char		state[12];	/* submitted, approved, rejected or "" */
};

/* An operator re-queues a parked outbox row (admin listener). */
struct ipc_outbox_retry {
	uint64_t	seq;
	char		agency[64];	/* who asked, for the log */
};

/* Asks a witness (index into config.witnesses) to cosign the checkpoint of
 * size, proving it from old (C2SP tlog-witness add-checkpoint); the body
 * follows: "old N", the proof's lines, a blank line, the checkpoint. */
struct ipc_witness_add {
	uint32_t	witness;
	uint32_t	pad;
	uint64_t	size;
	uint64_t	old;
};

enum ipc_witness_outcome {
	WITNESS_COSIGNED = 1,	/* 200 with a cosignature line of its key */
	WITNESS_CONFLICT,	/* 409: it holds another size (witness_size) */
	WITNESS_BAD_PROOF,	/* 422: the proof does not extend its state */
	WITNESS_REFUSED,	/* another 4xx: it will not (configuration) */
	WITNESS_FAILED,		/* no answer, 5xx, a malformed answer */
};

/* What a witness said, reduced to fixed fields: the keeper never parses
 * bytes from outside, and verifies the cosignature itself. */
struct ipc_witnessed {
	uint32_t	witness;
	uint32_t	outcome;	/* enum ipc_witness_outcome */
	int32_t		status;		/* HTTP status, 0 if none */
	uint32_t	pad;
	uint64_t	size;		/* as asked */
	uint64_t	witness_size;	/* WITNESS_CONFLICT: what it holds */
	uint8_t		cosig[76];	/* key id, time, Ed25519 signature */
	char		error[128];	/* why, when not WITNESS_COSIGNED */
};

/* What the trust entries say (gateway/trust.c, keeper/trustlog.c): why the
 * parent read its files, and how many struct ipc_trust_file follow, sorted
 * by path, each path once. */
enum ipc_trust_reason {
	TRUST_START = 1,	/* the gateway started */
	TRUST_RELOAD,		/* a reload (SIGHUP) went through */
};

struct ipc_trust {
	uint32_t	reason;		/* enum ipc_trust_reason */
	uint32_t	nfiles;
};

/* One file that decides who may do what or where money goes, and the
 * SHA-256 of its bytes. path is CFG_PATH_MAX long (trust.c checks). */
#define IPC_TRUST_ROLE_MAX	16
#define IPC_TRUST_PATH_MAX	512

struct ipc_trust_file {
	char		role[IPC_TRUST_ROLE_MAX];
	char		path[IPC_TRUST_PATH_MAX];
	uint8_t		sha256[32];
};

/* The slot number under which the parent passes the courier's channel. */
#define IPC_SLOT_COURIER	UINT32_MAX
/* ... and a freshly opened account registry file, on reload. */
#define IPC_SLOT_REGISTRY	(UINT32_MAX - 1)
/* ... and a file holding one IPC_TRUST message (start-up and reloads): a
 * manifest can be larger than a socket's buffer, and the parent never
 * waits on the keeper. */
#define IPC_SLOT_TRUST		(UINT32_MAX - 2)

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
