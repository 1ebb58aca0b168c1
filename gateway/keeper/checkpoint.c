/* Signed checkpoints. The file copy outlives the database: if someone rolls
 * the database back or swaps it, the keeper refuses to start. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "keeper/checkpoint.h"
#include "keeper/sign.h"
#include "keeper/store.h"
#include "log.h"
#include "util.h"

int
checkpoint_init(struct checkpoint *cp, const struct cfg_keeper *k)
{
	struct sign_key	*key;

	memset(cp, 0, sizeof(*cp));
	str_copy(cp->origin, sizeof(cp->origin), k->origin);
	str_copy(cp->file, sizeof(cp->file), k->checkpoint_file);
	if (sign_key_load_private(k->log_key, &key) == -1) {
		log_warnx("%s: cannot load the log key %s", __func__, k->log_key);
		return -1;
	}
	if (key->alg != SIGN_ALG_ED25519 ||
	    note_signer_from_pkey(&cp->signer, k->origin, key->pkey) == -1) {
		log_warnx("%s: the log key %s must be Ed25519", __func__,
		    k->log_key);
		sign_key_free(key);
		return -1;
	}
	sign_key_free(key);
	note_signer_verifier(&cp->signer, &cp->verifier);
	return 0;
}

void
checkpoint_free(struct checkpoint *cp)
{
	note_signer_free(&cp->signer);
}

/* Replaces path with data: write a temporary file, fsync, rename, fsync the
 * folder. A crash leaves the old or the new file, never half of one; any
 * step that fails fails the whole (the caller writes it again). */
static int
checkpoint_write_file(const char *path, const char *data, size_t len)
{
	char	tmp[600];
	int	fd;

	if (str_printf(tmp, sizeof(tmp), "%s.tmp", path) == -1) {
		log_warnx("%s: path too long: %s", __func__, path);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1) {
		log_warn("%s: %s", __func__, tmp);
		return -1;
	}
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) == -1) {
		log_warn("%s: %s", __func__, tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) == -1) {
		log_warn("%s: close %s", __func__, tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		log_warn("%s: rename %s", __func__, path);
		unlink(tmp);
		return -1;
	}
	/* Until the folder is synced a power cut may bring the old file back. */
	return fsync_dir(path);
}

/* The newest checkpoint row if it is for size: committed by an earlier call
 * whose file write failed. 1 if there is none for size, 0 (note set, the
 * caller frees it) or -1. */
static int
checkpoint_committed(struct store *st, uint64_t size, char **note, size_t *len)
{
	uint64_t	lsize;
	int		rc;

	if ((rc = store_checkpoint_latest(st, note, len, &lsize)) != 0)
		return rc;
	if (lsize == size)
		return 0;
	free(*note);
	*note = NULL;
	return 1;
}

/* Signs a checkpoint of size and commits it in its own transaction. */
static int
checkpoint_sign_commit(struct checkpoint *cp, struct store *st, uint64_t size,
    char *note, size_t notesz, size_t *nlen)
{
	uint8_t		 root[MERKLE_HASH_LEN];
	char		 body[NOTE_MAX_LEN];
	size_t		 blen;

	if (store_root(st, size, root) == -1 ||
	    note_checkpoint_format(cp->origin, size, root, NULL, 0, body,
	    sizeof(body), &blen) == -1 ||
	    note_sign_note(&cp->signer, body, blen, note, notesz, nlen) == -1) {
		log_warnx("%s: cannot sign a checkpoint of size %llu", __func__,
		    (unsigned long long)size);
		return -1;
	}
	if (store_begin(st) == -1)
		return -1;
	if (store_checkpoint_add(st, size, note, *nlen) == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

int
checkpoint_issue(struct checkpoint *cp, struct store *st)
{
	char		 note[NOTE_MAX_LEN], *old = NULL;
	size_t		 nlen;
	uint64_t	 size = store_size(st), t0;
	int		 rc;

	cp->file_ms = 0;
	if (size == 0 || size == cp->size)
		return 0;
	/* The database first, then the file: start-up accepts a file behind
	 * the database and brings it forward. A row for this size already
	 * means its file write failed (sizes are unique in the table): write
	 * the very note the database holds. */
	if ((rc = checkpoint_committed(st, size, &old, &nlen)) == -1)
		return -1;
	if (rc == 1 && checkpoint_sign_commit(cp, st, size, note, sizeof(note),
	    &nlen) == -1)
		return -1;
	t0 = now_ms();
	rc = checkpoint_write_file(cp->file, old != NULL ? old : note, nlen);
	cp->file_ms = now_ms() - t0;
	free(old);
	if (rc == -1)
		return -1;
	cp->size = size;
	cp->issued_ms = now_ms();
	return 0;
}

static int
checkpoint_read_file(const char *path, char *buf, size_t bufsz, size_t *len)
{
	int	fd;
	ssize_t	n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 1 : -1;
	n = read(fd, buf, bufsz - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	*len = (size_t)n;
	return 0;
}

int
checkpoint_verify_store(struct checkpoint *cp, struct store *st)
{
	char			 buf[NOTE_MAX_LEN], *latest = NULL;
	struct note_checkpoint	 c;
	uint8_t			 root[MERKLE_HASH_LEN];
	size_t			 len, llen;
	uint64_t		 lsize, have = store_size(st);
	int			 rc;

	rc = checkpoint_read_file(cp->file, buf, sizeof(buf), &len);
	if (rc == -1) {
		log_warn("cannot read the checkpoint file %s", cp->file);
		return -1;
	}
	if (rc == 1) {
		if (have > 0) {
			log_warnx("the checkpoint file %s is missing but the audit "
			    "log holds %llu entries: refusing to start",
			    cp->file, (unsigned long long)have);
			return -1;
		}
		return 0;
	}
	if (note_checkpoint_open(buf, len, &cp->verifier, 1, &c) == -1 ||
	    strcmp(c.origin, cp->origin) != 0) {
		log_warnx("the checkpoint file %s is not signed by this log's "
		    "key for origin %s: refusing to start", cp->file, cp->origin);
		return -1;
	}
	if (c.size > have) {
		log_warnx("the audit log holds %llu entries but the checkpoint "
		    "in %s covers %llu: the database was rolled back or "
		    "truncated; refusing to start", (unsigned long long)have,
		    cp->file, (unsigned long long)c.size);
		return -1;
	}
	if (store_root(st, c.size, root) == -1 ||
	    memcmp(root, c.root, MERKLE_HASH_LEN) != 0) {
		log_warnx("the audit log's first %llu entries do not hash to the "
		    "root in %s: the database was altered or swapped; refusing "
		    "to start", (unsigned long long)c.size, cp->file);
		return -1;
	}
	cp->size = c.size;
	/* A newer checkpoint in the database than in the file means a crash
	 * between the two writes: finish the job. */
	if (store_checkpoint_latest(st, &latest, &llen, &lsize) == 0) {
		if (lsize > c.size && lsize <= have &&
		    note_checkpoint_open(latest, llen, &cp->verifier, 1, &c) == 0 &&
		    c.size == lsize && store_root(st, lsize, root) == 0 &&
		    memcmp(root, c.root, MERKLE_HASH_LEN) == 0 &&
		    checkpoint_write_file(cp->file, latest, llen) == 0)
			cp->size = lsize;
		free(latest);
	}
	return 0;
}
