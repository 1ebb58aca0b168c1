/* Unit tests for the trust manifest (gateway/trust.c): ordering, one row per
 * path, the keeper's checks, what changed between two manifests, file digests,
 * and the hand-over from the parent to the keeper. */
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "ipc.h"
#include "log.h"
#include "trust.h"
#include "util.h"

static void
digest(uint8_t h[32], int v)
{
	memset(h, v, 32);
}

static void
add(struct trust_manifest *m, const char *role, const char *path, int v)
{
	uint8_t	h[32];

	digest(h, v);
	assert_int_equal(trust_add(m, role, path, h), 0);
}

static void
test_sort_and_one_row_per_path(void **state)
{
	struct trust_manifest	m = { .reason = TRUST_START };

	add(&m, "crl", "/etc/gw/crl.pem", 1);
	add(&m, "ca", "/etc/gw/ca.crt", 2);
	/* Used for two purposes: listed once, under the role sorting first. */
	add(&m, "cert", "/etc/gw/ca.crt", 2);
	add(&m, "config", "/etc/gw/gateway.conf", 3);
	add(&m, "pin", "[agency tax] pin aa", 4);
	/* Not sorted, a path twice: the keeper refuses it as it is. */
	assert_int_equal(trust_valid(&m), 0);
	trust_sort(&m);
	assert_int_equal(m.n, 4);
	assert_string_equal(m.files[0].path, "/etc/gw/ca.crt");
	assert_string_equal(m.files[0].role, "ca");
	assert_string_equal(m.files[1].path, "/etc/gw/crl.pem");
	assert_string_equal(m.files[2].path, "/etc/gw/gateway.conf");
	/* Bytewise, as SQLite orders the kept manifest: '[' after '/'. */
	assert_string_equal(m.files[3].path, "[agency tax] pin aa");
	assert_int_equal(trust_valid(&m), 1);
	m.reason = 7;
	assert_int_equal(trust_valid(&m), 0);
	trust_free(&m);
}

static void
test_add_refuses_what_cannot_be_logged(void **state)
{
	struct trust_manifest	m = { .reason = TRUST_RELOAD };
	uint8_t			h[32];
	char			longp[IPC_TRUST_PATH_MAX + 1];

	digest(h, 0);
	assert_int_equal(trust_add(&m, "", "/a", h), -1);
	assert_int_equal(trust_add(&m, "ca", "", h), -1);
	assert_int_equal(trust_add(&m, "a-role-that-is-too-long", "/a", h), -1);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(trust_add(&m, "ca", longp, h), -1);
	/* Not UTF-8: the entry could not hold it. */
	assert_int_equal(trust_add(&m, "schema", "/s/\xff.xsd", h), -1);
	assert_int_equal(m.n, 0);
	trust_free(&m);
}

/* Grows as needed: thousands of files, none dropped. */
static void
test_grows(void **state)
{
	struct trust_manifest	m = { .reason = TRUST_START };
	char			p[32];
	int			i;

	for (i = 3000; i > 0; i--) {
		assert_int_equal(str_printf(p, sizeof(p), "/s/%05d.xsd", i), 0);
		add(&m, "schema", p, i & 0xff);
	}
	trust_sort(&m);
	assert_int_equal(m.n, 3000);
	assert_string_equal(m.files[0].path, "/s/00001.xsd");
	assert_int_equal(trust_valid(&m), 1);
	trust_free(&m);
}

static json_t *
change(const char *path, const char *role, const char *before,
    const char *after)
{
	return json_pack("{s:s, s:s, s:s?, s:s?}", "path", path, "role", role,
	    "before", before, "after", after);
}

static void
test_diff(void **state)
{
	struct trust_manifest	 a = { .reason = TRUST_START };
	struct trust_manifest	 b = { .reason = TRUST_RELOAD };
	json_t			*d, *want;
	char			 h1[65], h2[65], h3[65], h4[65];
	uint8_t			 h[32];

	add(&a, "ca", "/ca.crt", 1);
	add(&a, "crl", "/crl.pem", 2);
	add(&a, "registry", "/accounts.conf", 3);
	add(&a, "cert", "/old.crt", 4);
	trust_sort(&a);
	add(&b, "ca", "/ca.crt", 1);		/* the same */
	add(&b, "crl", "/crl.pem", 9);		/* new digest */
	add(&b, "schema", "/accounts.conf", 3);	/* same digest, new role */
	add(&b, "cert", "/new.crt", 4);		/* added; /old.crt removed */
	trust_sort(&b);
	digest(h, 2);
	hex_encode(h1, h, 32);
	digest(h, 9);
	hex_encode(h2, h, 32);
	digest(h, 3);
	hex_encode(h3, h, 32);
	digest(h, 4);
	hex_encode(h4, h, 32);
	want = json_pack("[o, o, o, o]",
	    change("/accounts.conf", "schema", h3, h3),
	    change("/crl.pem", "crl", h1, h2),
	    change("/new.crt", "cert", NULL, h4),
	    change("/old.crt", "cert", h4, NULL));
	assert_non_null(want);
	d = trust_diff(&a, &b);
	assert_non_null(d);
	assert_true(json_equal(d, want));
	json_decref(d);
	json_decref(want);
	/* Nothing changed: an empty list. */
	d = trust_diff(&b, &b);
	assert_int_equal(json_array_size(d), 0);
	json_decref(d);
	/* From nothing: every file is new. */
	trust_free(&a);
	d = trust_diff(&a, &b);
	assert_int_equal(json_array_size(d), b.n);
	json_decref(d);
	trust_free(&b);
}

static void
test_file_digest_and_json(void **state)
{
	struct trust_manifest	 m = { .reason = TRUST_START };
	char			 path[] = "/tmp/test_trust.XXXXXX";
	json_t			*j;
	int			 fd;

	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	assert_int_equal(trust_add_file(&m, "ca", path), 0);
	assert_int_equal(trust_add_file(&m, "ca", "/nonexistent/ca.crt"), -1);
	unlink(path);
	assert_int_equal(m.n, 1);
	j = trust_files_json(&m);
	assert_non_null(j);
	/* SHA-256("abc"), FIPS 180-2's example. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(j,
	    0), "sha256")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
	    "b410ff61f20015ad");
	assert_string_equal(json_string_value(json_object_get(json_array_get(j,
	    0), "role")), "ca");
	json_decref(j);
	trust_free(&m);
}

/* The parent's send and the keeper's receive over a socketpair like the
 * control channel; a message that is not a sorted manifest is refused. */
static void
test_send_recv(void **state)
{
	struct trust_manifest	 m = { .reason = TRUST_RELOAD }, got;
	uint32_t		 slot;
	void			*buf;
	int			 sv[2], fd;

	assert_non_null(buf = malloc(IPC_MAX_PAYLOAD));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	add(&m, "crl", "/b", 1);
	add(&m, "ca", "/a", 2);
	trust_sort(&m);
	assert_int_equal(trust_send(sv[0], &m), 0);
	assert_int_equal(ipc_recv_fd(sv[1], &slot, &fd), 0);
	assert_true(slot == IPC_SLOT_TRUST);
	assert_int_equal(trust_recv(fd, buf, &got), 0);
	assert_int_equal(got.reason, TRUST_RELOAD);
	assert_int_equal(got.n, 2);
	assert_memory_equal(got.files, m.files, 2 * sizeof(*m.files));
	trust_free(&got);

	/* Out of order (the keeper never sorts what it is given). */
	m.files[0] = m.files[1];
	assert_int_equal(str_copy(m.files[1].path, sizeof(m.files[1].path), "/a"),
	    0);
	assert_int_equal(trust_send(sv[0], &m), 0);
	assert_int_equal(ipc_recv_fd(sv[1], &slot, &fd), 0);
	assert_int_equal(trust_recv(fd, buf, &got), -1);
	/* An empty manifest is still one: a start with no files to list. */
	trust_free(&m);
	m.reason = TRUST_START;
	assert_int_equal(trust_send(sv[0], &m), 0);
	assert_int_equal(ipc_recv_fd(sv[1], &slot, &fd), 0);
	assert_int_equal(trust_recv(fd, buf, &got), 0);
	assert_int_equal(got.n, 0);
	trust_free(&got);
	close(sv[0]);
	close(sv[1]);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sort_and_one_row_per_path),
		cmocka_unit_test(test_add_refuses_what_cannot_be_logged),
		cmocka_unit_test(test_grows),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_file_digest_and_json),
		cmocka_unit_test(test_send_recv),
	};

	log_init("test_trust", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
