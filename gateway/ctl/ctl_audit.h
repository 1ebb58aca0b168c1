/* gatewayctl audit: what its files share (options, a bounded file reader,
 * and the parts of audit verify: entry facts, fund state). */
#ifndef GW_CTL_AUDIT_H
#define GW_CTL_AUDIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "adapters/instr.h"
#include "config.h"
#include "keeper/note.h"
#include "trust.h"

/* Instruction signing keys verify can hold: the configured one and every
 * --skey (keys rotated out still vouch for the entries they signed). */
#define AUDIT_MAX_KEYS		16
/* Longest first-problem text. */
#define AUDIT_WHY_MAX		512

struct sign_key;

struct audit_opts {
	const char	*conf;
	const char	*db;
	const char	*vkey;
	uint64_t	 index, size;
	int		 has_index, has_size;
	int		 json;		/* verify: one JSON object on stdout */
	char		 dbpath[CFG_PATH_MAX];
	char		 cpfile[CFG_PATH_MAX];
	struct note_verifier verifier;
	int		 has_verifier;
	/* Instruction signing keys (owned: sign_key_free). */
	const char	*skey_paths[AUDIT_MAX_KEYS];
	size_t		 nskey_paths;
	struct sign_key	*keys[AUDIT_MAX_KEYS];
	size_t		 nkeys;
};

/* Largest file audit_read_file reads: a proof bundle of the largest entry
 * (a collection of INSTR_MAX_ITEMS items, base64) fits with room. */
#define AUDIT_MAX_FILE		(64 * 1024 * 1024)

/* Reads a whole file (at most AUDIT_MAX_FILE bytes) into a new
 * NUL-terminated buffer the caller frees; NULL with errno set on failure
 * (EFBIG when the file is larger: never a silent cut). */
char	*audit_read_file(const char *path, size_t *len);
/* The same with another maximum: tools reading small files bound them
 * tighter. */
char	*audit_read_file_max(const char *path, size_t max, size_t *len);
/* Largest key file (vkey or PEM) read whole. */
#define AUDIT_MAX_KEYFILE	65536
/* A vkey of type alg (NOTE_ALG_ED25519 for the log, 0x04 for witnesses):
 * arg is a file holding it on its first line, or the vkey itself. 0 or -1
 * (said on stderr). */
int	 audit_vkey_load(const char *arg, uint8_t alg, struct note_verifier *v);
/* The log's verifier from a configuration (origin and public half of
 * log_key). 0 or -1 (said on stderr). */
int	 audit_config_verifier(const struct config *cf, struct note_verifier *v);
/* A public key PEM (SubjectPublicKeyInfo), or else a private key file. */
int	 audit_load_key(const char *path, struct sign_key **out);
/* The proof of a tlog-proof bundle or a receipt: note (len bytes) is a
 * checkpoint signed by v whose tree holds leaf at index (inclusion path
 * proof, n hashes). 0 with *c the checkpoint, or -1 with why said. */
int	 audit_inclusion_check(const char *note, size_t len,
	    const struct note_verifier *v, uint64_t index,
	    const uint8_t leaf[32], const uint8_t *proof, size_t n,
	    struct note_checkpoint *c, char *why, size_t whysz);
/* Formats a problem's text into dst; text too long for it ends in "..."
 * (a visible cut, never a silent one). */
void	 audit_say(char *dst, size_t dsz, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 audit_vsay(char *dst, size_t dsz, const char *fmt, va_list ap)
	    __attribute__((format(printf, 3, 0)));
/* Decodes len bytes of base64 into out (room for max bytes); *olen gets
 * the decoded length. 0 or -1 (bad base64, too long). */
int	 audit_b64_decode(const char *s, size_t len, uint8_t *out, size_t max,
	    size_t *olen);
/* What audit verify found. */
struct audit_result {
	uint64_t	 entries, checkpoints, signatures, ms;
	const char	*what;		/* the first problem's name, NULL if none */
	uint64_t	 index;		/* the first entry it concerns */
	char		 why[AUDIT_WHY_MAX];
};

/* Checks the whole log (o: dbpath, cpfile, verifier, keys): 0 all good,
 * 1 a problem (r->what, r->index, r->why), -1 the log cannot be read. */
int	 audit_verify_run(struct audit_opts *, struct audit_result *r);
/* gatewayctl audit verify: audit_verify_run, reported; exit code. */
int	 audit_verify(struct audit_opts *);

/*
 * What an entry says about the fund, read by a worker thread (parsing and
 * signature checks in parallel) and applied in log order by the checker.
 */
enum audit_fact_type {
	AF_NONE,		/* nothing for the fund's state */
	AF_INSTR,		/* an accepted instruction */
	AF_DELIVERY,		/* a delivery attempt's outcome */
	AF_RETRY,		/* an operator re-queued a parked row */
	AF_TRUST,		/* the files in force at a start or reload */
};

struct audit_fact {
	enum audit_fact_type	 type;
	/* Non-empty: the entry itself is bad (signature, digest, shape). */
	char			 problem[AUDIT_WHY_MAX];
	int			 signed_checked;	/* a signature verified */
	/* AF_INSTR */
	struct instr		 in;		/* owned: instr_free */
	uint8_t			 digest[32];
	char			 agency[CFG_NAME_MAX];
	/* AF_DELIVERY, AF_RETRY */
	uint64_t		 seq;
	uint64_t		 attempt;
	int			 ok, parked;
	/* AF_TRUST: its files (owned), what it says changed (owned), and
	 * the trust entry it names as the previous one. */
	struct trust_manifest	 trust;
	json_t			*changed;
	uint64_t		 prev;
	int			 has_prev;
};

/* Worker side: *out (the caller's: audit_fact_free) gets what entry
 * (len bytes) says, or NULL when it says nothing for the fund's state.
 * keys verify instruction signatures. 0, or -1 when out of memory. */
int	audit_fact_read(const void *entry, size_t len,
	    struct sign_key *const *keys, size_t nkeys, struct audit_fact **out);
void	audit_fact_free(struct audit_fact *);

/* The fund's state re-derived from the entries, in temporary tables of the
 * verifier's own (read-only) connection, then compared with the tables the
 * keeper's rules read. */
struct audit_state;
struct sqlite3;
int	audit_state_open(struct sqlite3 *, struct audit_state **out);
/* Applies the fact of entry index. 0, 1 when the entry contradicts the
 * state before it (why says how), -1 on a database error. */
int	audit_state_apply(struct audit_state *, uint64_t index,
	    const struct audit_fact *, char *why, size_t whysz);
/* 0 when the tables hold exactly what the log says, 1 with the first
 * difference (by entry) in why and *index, -1 on a database error. */
int	audit_state_compare(struct audit_state *, uint64_t *index, char *why,
	    size_t whysz);
void	audit_state_close(struct audit_state *);

#endif
