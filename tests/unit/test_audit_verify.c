/* Unit tests for gatewayctl audit verify over a real database file built
 * with the store API: 70,000 checkpoints (past the old 65,536 cap) with a
 * bad one at the end, and the bounded file reader refusing, not cutting. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/ctl_audit.h"
#include "keeper/merkle.h"
#include "keeper/note.h"
#include "keeper/sign.h"
#include "keeper/store.h"
#include "log.h"
#include "util.h"

#define ORIGIN		"test.gateway.local/audit"
/* Past the 65,536 checkpoints the verifier used to stop at. */
#define NCPS		70000

struct fixture {
	char			 dir[64];
	char			 base[128];
	struct note_signer	 signer, other;
	struct sign_key		*k, *k2;
	struct merkle_frontier	 f;	/* of the base: NCPS - 1 entries */
};

static void
entry_text(uint64_t i, char *buf, size_t sz, size_t *len)
{
	assert_int_equal(str_printf(buf, sz, "{\"kind\":\"test\",\"n\":%llu}",
	    (unsigned long long)i), 0);
	*len = strlen(buf);
}

/* Appends entry f->size and the checkpoint at the new size, signed by s
 * over root (the true root when NULL). */
static void
append_one(struct store *st, struct merkle_frontier *f,
    const struct note_signer *s, const uint8_t *root)
{
	char		 e[64], text[512], note[NOTE_MAX_LEN];
	uint8_t		 h[MERKLE_HASH_LEN], r[MERKLE_HASH_LEN];
	size_t		 elen, tlen, nlen;
	uint64_t	 idx;

	entry_text(f->size, e, sizeof(e), &elen);
	assert_int_equal(store_append(st, e, elen, &idx), 0);
	assert_int_equal(idx, f->size);
	assert_int_equal(merkle_leaf_hash(e, elen, h), 0);
	assert_int_equal(merkle_frontier_append(f, h, NULL, NULL), 0);
	merkle_frontier_root(f, r);
	assert_int_equal(note_checkpoint_format(ORIGIN, f->size, root ? root : r,
	    NULL, 0, text, sizeof(text), &tlen), 0);
	assert_int_equal(note_sign_note(s, text, tlen, note, sizeof(note),
	    &nlen), 0);
	assert_int_equal(store_checkpoint_add(st, f->size, note, nlen), 0);
}

static int
setup(void **state)
{
	struct fixture	*t = calloc(1, sizeof(*t));
	struct store	*st;
	uint64_t	 i;

	assert_non_null(t);
	log_init("test", LOG_LVL_ERROR);
	str_copy(t->dir, sizeof(t->dir), "/tmp/gw-test-verify.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(str_printf(t->base, sizeof(t->base), "%s/base.db",
	    t->dir), 0);
	assert_int_equal(sign_key_generate(SIGN_ALG_ED25519, &t->k), 0);
	assert_int_equal(sign_key_generate(SIGN_ALG_ED25519, &t->k2), 0);
	assert_int_equal(note_signer_from_pkey(&t->signer, ORIGIN, t->k->pkey), 0);
	/* Another key under the same name: its signatures must not pass. */
	assert_int_equal(note_signer_from_pkey(&t->other, ORIGIN, t->k2->pkey), 0);
	merkle_frontier_init(&t->f);
	assert_int_equal(store_open(t->base, 0, &st), 0);
	assert_int_equal(store_begin(st), 0);
	for (i = 0; i < NCPS - 1; i++)
		append_one(st, &t->f, &t->signer, NULL);
	assert_int_equal(store_commit(st), 0);
	store_close(st);
	*state = t;
	return 0;
}

static void
rm(const char *dir, const char *name)
{
	char	p[256];

	if (str_printf(p, sizeof(p), "%s/%s", dir, name) == 0)
		unlink(p);
}

static int
teardown(void **state)
{
	struct fixture	*t = *state;
	const char	*names[] = { "base.db", "case.db", "case.db-wal",
			    "case.db-shm", "big" };
	size_t		 i;

	for (i = 0; i < nitems(names); i++)
		rm(t->dir, names[i]);
	rmdir(t->dir);
	note_signer_free(&t->signer);
	note_signer_free(&t->other);
	sign_key_free(t->k);
	sign_key_free(t->k2);
	free(t);
	return 0;
}

/* Copies the base database and ends it with the checkpoint at NCPS
 * signed by s over root (true root if NULL); returns the copy's path. */
static const char *
make_case(struct fixture *t, const struct note_signer *s, const uint8_t *root)
{
	static char		 path[128];
	struct merkle_frontier	 f = t->f;
	struct store		*st;
	char			 buf[65536];
	int			 in, out;
	ssize_t			 n;

	assert_int_equal(str_printf(path, sizeof(path), "%s/case.db", t->dir), 0);
	rm(t->dir, "case.db");
	rm(t->dir, "case.db-wal");
	rm(t->dir, "case.db-shm");
	assert_true((in = open(t->base, O_RDONLY)) >= 0);
	assert_true((out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
	assert_int_equal(store_open(path, 0, &st), 0);
	assert_int_equal(store_size(st), NCPS - 1);
	assert_int_equal(store_begin(st), 0);
	append_one(st, &f, s, root);
	assert_int_equal(store_commit(st), 0);
	store_close(st);
	return path;
}

static int
run_verify(struct fixture *t, const char *db, struct audit_result *r)
{
	struct audit_opts	o;

	memset(&o, 0, sizeof(o));
	assert_int_equal(str_copy(o.dbpath, sizeof(o.dbpath), db), 0);
	note_signer_verifier(&t->signer, &o.verifier);
	o.has_verifier = 1;
	return audit_verify_run(&o, r);
}

static void
test_wrong_root_at_the_end(void **state)
{
	struct fixture		*t = *state;
	struct audit_result	 r;
	uint8_t			 wrong[MERKLE_HASH_LEN];

	memset(wrong, 0x5a, sizeof(wrong));
	assert_int_equal(run_verify(t, make_case(t, &t->signer, wrong), &r), 1);
	assert_string_equal(r.what, "checkpoint root");
	assert_int_equal(r.index, NCPS - 1);
	assert_non_null(strstr(r.why, "checkpoint at size 70000"));
	/* Every checkpoint before it was checked, and every signature. */
	assert_int_equal(r.entries, NCPS);
	assert_int_equal(r.checkpoints, NCPS - 1);
	assert_int_equal(r.signatures, NCPS - 1);
}

static void
test_bad_signature_at_the_end(void **state)
{
	struct fixture		*t = *state;
	struct audit_result	 r;

	assert_int_equal(run_verify(t, make_case(t, &t->other, NULL), &r), 1);
	assert_string_equal(r.what, "checkpoint signature");
	assert_int_equal(r.index, NCPS - 1);
	assert_non_null(strstr(r.why, "checkpoint at size 70000"));
}

/* A file past the reader's maximum is refused (EFBIG), never cut. */
static void
test_read_file_refuses_big(void **state)
{
	struct fixture	*t = *state;
	char		 path[128], *text;
	size_t		 len;
	int		 fd;

	assert_int_equal(str_printf(path, sizeof(path), "%s/big", t->dir), 0);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	assert_int_equal(ftruncate(fd, AUDIT_MAX_FILE), 0);
	close(fd);
	text = audit_read_file(path, &len);
	assert_non_null(text);
	assert_int_equal(len, AUDIT_MAX_FILE);
	free(text);
	assert_true((fd = open(path, O_WRONLY)) >= 0);
	assert_int_equal(ftruncate(fd, AUDIT_MAX_FILE + 1), 0);
	close(fd);
	errno = 0;
	assert_null(audit_read_file(path, &len));
	assert_int_equal(errno, EFBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrong_root_at_the_end),
		cmocka_unit_test(test_bad_signature_at_the_end),
		cmocka_unit_test(test_read_file_refuses_big),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
