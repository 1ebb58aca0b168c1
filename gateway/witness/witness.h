/* witnessd: the server side of C2SP tlog-witness for the logs it is configured
 * with (configuration, durable state, the add-checkpoint decision). */
#ifndef GW_WITNESS_H
#define GW_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "keeper/note.h"
#include "keeper/merkle.h"
#include "witness/cosig.h"

#define WITNESS_MAX_LOGS	64
/* The spec: a client sends at most 63 proof lines. */
#define WITNESS_MAX_PROOF	63
/* "old N\n", 63 proof lines of 45 bytes, a blank line and the note. */
#define WITNESS_MAX_BODY	(32 + WITNESS_MAX_PROOF * 45 + 1 + NOTE_MAX_LEN)
/* Conflicting checkpoints kept per log as evidence (the log key signed
 * them); more are logged only. */
#define WITNESS_MAX_EVIDENCE	100
/* Largest history a log may be given, and what /history lists at most. */
#define WITNESS_HISTORY_MAX	10000000
#define WITNESS_HISTORY_DEFAULT	10000
#define WITNESS_LIST_MAX	1000

struct sqlite3;

/* A [log ORIGIN] section: the log's checkpoint key and who may submit. */
struct witness_log {
	int			line;
	char			origin[NOTE_NAME_MAX + 1];
	struct note_verifier	vkey;		/* type 0x01 */
	int			has_vkey;
	unsigned char		pins[CFG_MAX_PINS][32];
	int			npins;
};

struct witness_config {
	/* The gateway's parser state: path, dir and error count (the rest
	 * of it is unused). Owned. */
	struct config		*cf;
	struct cfg_listener	 listener;
	char			 name[NOTE_NAME_MAX + 1];	/* cosigner name */
	char			 key[CFG_PATH_MAX];
	char			 database[CFG_PATH_MAX];
	uint64_t		 history;		/* per log */
	uint64_t		 max_body;
	uint64_t		 request_timeout_ms;
	uint64_t		 max_connections;
	struct witness_log	 logs[WITNESS_MAX_LOGS];
	size_t			 nlogs;
};

/* witness_config.c: reads and checks FILE (errors on stderr as FILE:LINE);
 * NULL if anything was wrong. Free with witness_config_free. */
struct witness_config	*witness_config_load(const char *file);
void			 witness_config_free(struct witness_config *);
const struct witness_log *witness_config_log(const struct witness_config *,
			    const char *origin, size_t len);

/* witness_db.c: the state, one SQLite file. */
struct witness_db {
	struct sqlite3	*db;
	uint64_t	 history;	/* rows kept per log */
};

/* The latest cosigned checkpoint of a log. */
struct witness_latest {
	uint64_t	size;
	uint8_t		root[MERKLE_HASH_LEN];
	uint64_t	time;
};

int	witness_db_open(struct witness_db *, const char *path, uint64_t history);
void	witness_db_close(struct witness_db *);
int	witness_db_begin(struct witness_db *);
int	witness_db_commit(struct witness_db *);
void	witness_db_rollback(struct witness_db *);
/* 1 with *st filled, 0 if the log was never cosigned, -1 on error. */
int	witness_db_latest(struct witness_db *, const char *origin,
	    struct witness_latest *st);
/* Records a cosigned checkpoint (note: the checkpoint with the log's and our
 * signatures); a new size also goes to the history, pruned to its bound. */
int	witness_db_store(struct witness_db *, const char *origin,
	    const struct witness_latest *st, const char *note, size_t len,
	    int new_size);
/* Keeps a signed checkpoint that conflicts with the state (bounded). */
int	witness_db_evidence(struct witness_db *, const char *origin,
	    uint64_t size, const char *note, size_t len, uint64_t time,
	    const char *reason);
/* The latest cosigned checkpoint of origin with the log's signatures and
 * ours (malloc'ed, the caller frees), NULL if none (or on error, logged). */
char	*witness_db_latest_note(struct witness_db *, const char *origin);
/* JSON documents (malloc'ed, the caller frees): the latest of origin (NULL
 * with *found 0 if none) and its history, newest first, at most limit. */
char	*witness_db_latest_json(struct witness_db *, const char *origin,
	    int *found);
char	*witness_db_history_json(struct witness_db *, const char *origin,
	    uint64_t limit);

/* The running witness: configuration, key and state. */
struct witness {
	const struct witness_config	*cf;
	struct cosig_key		 key;
	struct witness_db		 db;
};

/* What add-checkpoint answers. */
struct witness_reply {
	int		 status;
	const char	*code;		/* machine-readable reason if not 200 */
	const char	*ctype;
	char		 body[NOTE_SIGLINE_MAX + 32];
	size_t		 len;
};

/*
 * witness_add.c: POST /add-checkpoint. body[0..len) is the request body,
 * spki the verified client certificate's SPKI SHA-256 and now the time in
 * seconds. Fills r with the answer; the state is durable before a 200
 * (with the cosignature) is produced.
 */
void	witness_add_checkpoint(struct witness *, const unsigned char spki[32],
	    const char *body, size_t len, uint64_t now, struct witness_reply *r);

#endif
