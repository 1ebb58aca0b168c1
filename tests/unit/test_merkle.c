/* Unit tests for keeper/merkle: the shared RFC 6962 vectors (roots, inclusion and
 * consistency cases) and properties of generated proofs over small trees. */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "log.h"
#include "util.h"
#include "keeper/merkle.h"

#define H		MERKLE_HASH_LEN
#define MAX_FILE	(64 * 1024)
#define MAX_CASES	512
#define PROP_MAX	70

/* ---- vector file helpers ---- */

static const char *
shared_dir(void)
{
	const char	*d = getenv("GW_SHARED");

	return d != NULL && *d != '\0' ? d : "../shared";
}

static char *
read_text(const char *path, size_t *len)
{
	FILE	*fp;
	char	*buf;
	size_t	 n;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	buf = malloc(MAX_FILE + 1);
	assert_non_null(buf);
	n = fread(buf, 1, MAX_FILE + 1, fp);
	fclose(fp);
	assert_true(n <= MAX_FILE);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

/* Standard base64 into out (at most max bytes): the decoded length, or -1. */
static int
b64_decode(const char *s, uint8_t *out, size_t max)
{
	uint8_t		buf[256];
	size_t		len = strlen(s), pad = 0;
	int		n;

	if (len == 0)
		return 0;
	if (len % 4 != 0 || len / 4 * 3 > sizeof(buf))
		return -1;
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n < pad || (size_t)n - pad > max)
		return -1;
	memcpy(out, buf, (size_t)n - pad);
	return n - (int)pad;
}

/*
 * Roots of the vectors. The verifier takes 32-byte hashes. As in
 * transparency-dev/merkle, whose cases these are, the leaf hash and the proof
 * elements must be exactly 32 bytes (json_hash, json_proof), while roots are
 * only compared: the "additional" cases use short placeholders ("don't care")
 * for roots where only equality matters. A root of at most 32 bytes is
 * therefore zero-padded, which keeps equal values equal and different ones
 * different (and a short root never equals a real 32-byte one).
 */
static int
json_root(json_t *obj, const char *key, uint8_t out[H])
{
	json_t	*v = json_object_get(obj, key);

	memset(out, 0, H);
	if (!json_is_string(v))
		return -1;
	return b64_decode(json_string_value(v), out, H) < 0 ? -1 : 0;
}

static int
json_hash(json_t *obj, const char *key, uint8_t out[H])
{
	json_t	*v = json_object_get(obj, key);

	if (!json_is_string(v))
		return -1;
	return b64_decode(json_string_value(v), out, H) == H ? 0 : -1;
}

static int
json_proof(json_t *obj, uint8_t (*proof)[H], size_t max, size_t *n)
{
	json_t	*arr = json_object_get(obj, "proof"), *v;
	size_t	 i;

	*n = 0;
	if (json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > max)
		return -1;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) ||
		    b64_decode(json_string_value(v), proof[i], H) != H)
			return -1;
	}
	*n = json_array_size(arr);
	return 0;
}

/*
 * jansson keeps integers as long long, and the vectors use 2^64-1 as a leaf
 * index: the four size fields are read from the text and blanked to 0 before
 * jansson parses the rest.
 */
static int
take_u64(char *text, const char *key, uint64_t *out)
{
	char	 quoted[32], num[24], *p, *q;
	size_t	 n;

	snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	if ((p = strstr(text, quoted)) == NULL)
		return -1;
	p += strlen(quoted);
	while (*p == ' ' || *p == '\n' || *p == '\t')
		p++;
	if (*p++ != ':')
		return -1;
	while (*p == ' ' || *p == '\n' || *p == '\t')
		p++;
	for (q = p; *q >= '0' && *q <= '9'; q++)
		;
	n = (size_t)(q - p);
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, p, n);
	num[n] = '\0';
	if (parse_u64(num, 0, UINT64_MAX, out) == -1)
		return -1;
	p[0] = '0';
	memset(p + 1, ' ', n - 1);
	return 0;
}

struct case_list {
	char	*path[MAX_CASES];
	size_t	 n;
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
walk_json(const char *dir, struct case_list *cl)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[PATH_MAX];
	size_t		 len;

	d = opendir(dir);
	if (d == NULL)
		fail_msg("cannot open %s (set GW_SHARED to the shared directory)", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		assert_int_equal(str_printf(path, sizeof(path), "%s/%s", dir,
		    de->d_name), 0);
		len = strlen(de->d_name);
		if (de->d_type == DT_DIR)
			walk_json(path, cl);
		else if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
			assert_true(cl->n < MAX_CASES);
			cl->path[cl->n] = strdup(path);
			assert_non_null(cl->path[cl->n]);
			cl->n++;
		}
	}
	closedir(d);
}

static void
collect(const char *sub, struct case_list *cl)
{
	char	dir[PATH_MAX];

	memset(cl, 0, sizeof(*cl));
	assert_int_equal(str_printf(dir, sizeof(dir), "%s/vectors/merkle/%s",
	    shared_dir(), sub), 0);
	walk_json(dir, cl);
	qsort(cl->path, cl->n, sizeof(cl->path[0]), cmp_str);
}

static void
case_list_free(struct case_list *cl)
{
	size_t	i;

	for (i = 0; i < cl->n; i++)
		free(cl->path[i]);
	cl->n = 0;
}

/* ---- an independent reference: RFC 6962 MTH straight from the definition ---- */

static void
ref_mth(const uint8_t (*leaves)[H], uint64_t n, uint8_t out[H])
{
	uint8_t		l[H], r[H];
	uint64_t	k = 1;

	if (n == 0) {
		merkle_empty_root(out);
		return;
	}
	if (n == 1) {
		memcpy(out, leaves[0], H);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	ref_mth(leaves, k, l);
	ref_mth(leaves + k, n - k, r);
	assert_int_equal(merkle_node_hash(l, r, out), 0);
}

static void
leaf_for(uint64_t i, uint8_t out[H])
{
	char	buf[32];

	snprintf(buf, sizeof(buf), "leaf %ju", (uintmax_t)i);
	assert_int_equal(merkle_leaf_hash(buf, strlen(buf), out), 0);
}

/* ---- tests ---- */

static void
test_hash_basics(void **state)
{
	static const uint8_t	empty_leaf[H] = {	/* SHA-256(0x00) */
		0x6e, 0x34, 0x0b, 0x9c, 0xff, 0xb3, 0x7a, 0x98, 0x9c, 0xa5, 0x44,
		0xe6, 0xbb, 0x78, 0x0a, 0x2c, 0x78, 0x90, 0x1d, 0x3f, 0xb3, 0x37,
		0x38, 0x76, 0x85, 0x11, 0xa3, 0x06, 0x17, 0xaf, 0xa0, 0x1d,
	};
	uint8_t			h[H], e[H];
	uint8_t			buf[1 + 2 * H];
	unsigned int		n;

	assert_int_equal(merkle_leaf_hash(NULL, 0, h), 0);
	assert_memory_equal(h, empty_leaf, H);
	assert_int_equal(merkle_leaf_hash(NULL, 1, h), -1);

	/* node = SHA-256(0x01 || l || r), checked against a plain digest */
	buf[0] = 0x01;
	memset(buf + 1, 0xaa, H);
	memset(buf + 1 + H, 0xbb, H);
	assert_int_equal(EVP_Digest(buf, sizeof(buf), e, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(merkle_node_hash(buf + 1, buf + 1 + H, h), 0);
	assert_memory_equal(h, e, H);

	assert_int_equal(EVP_Digest("", 0, e, &n, EVP_sha256(), NULL), 1);
	merkle_empty_root(h);
	assert_memory_equal(h, e, H);
}

static void
test_roots_vectors(void **state)
{
	uint8_t			 leaves[16][H], want[H], got[H], data[64];
	char			 path[PATH_MAX], *text, *line, *save = NULL;
	struct merkle_mem	 mem;
	struct merkle_frontier	 f;
	uint64_t		 idx, size;
	int			 section = 0;
	size_t			 nleaves = 0, nroots = 0, dlen, i;
	char			*sp;

	assert_int_equal(str_printf(path, sizeof(path),
	    "%s/vectors/merkle/roots.txt", shared_dir()), 0);
	text = read_text(path, NULL);
	if (text == NULL)
		fail_msg("cannot read %s", path);

	merkle_mem_init(&mem);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strcmp(line, "[leaf]") == 0) {
			section = 1;
			continue;
		}
		if (strcmp(line, "[root]") == 0) {
			section = 2;
			continue;
		}
		sp = strchr(line, ' ');
		assert_non_null(sp);
		*sp++ = '\0';
		if (section == 1) {
			assert_int_equal(parse_u64(line, 0, 15, &idx), 0);
			assert_int_equal(idx, nleaves);
			dlen = strcmp(sp, "-") == 0 ? 0 : strlen(sp) / 2;
			assert_true(dlen <= sizeof(data));
			if (dlen > 0)
				assert_int_equal(hex_decode(data, dlen, sp), 0);
			assert_int_equal(merkle_leaf_hash(dlen ? data : NULL, dlen,
			    leaves[nleaves]), 0);
			assert_int_equal(merkle_mem_append(&mem, leaves[nleaves]), 0);
			nleaves++;
		} else if (section == 2) {
			assert_int_equal(parse_u64(line, 0, nleaves, &size), 0);
			assert_int_equal(hex_decode(want, H, sp), 0);

			assert_int_equal(merkle_root_of_leaves(leaves[0], size, got), 0);
			assert_memory_equal(got, want, H);
			ref_mth(leaves, size, got);
			assert_memory_equal(got, want, H);
			assert_int_equal(merkle_root(merkle_mem_subtree, &mem, size,
			    got), 0);
			assert_memory_equal(got, want, H);
			merkle_frontier_init(&f);
			for (i = 0; i < size; i++)
				assert_int_equal(merkle_frontier_append(&f, leaves[i],
				    NULL, NULL), 0);
			merkle_frontier_root(&f, got);
			assert_memory_equal(got, want, H);
			nroots++;
		}
	}
	assert_int_equal(nleaves, 8);
	assert_int_equal(nroots, 9);	/* sizes 0..8 */
	merkle_mem_free(&mem);
	free(text);
}

static void
test_inclusion_vectors(void **state)
{
	struct case_list	 cl;
	uint8_t			 root[H], leaf[H], proof[MERKLE_MAX_PROOF + 8][H];
	uint64_t		 idx, size;
	json_t			*obj, *want;
	json_error_t		 err;
	char			*text;
	size_t			 i, n, good = 0, bad = 0;
	int			 ok;

	collect("inclusion", &cl);
	assert_true(cl.n > 0);
	for (i = 0; i < cl.n; i++) {
		text = read_text(cl.path[i], NULL);
		assert_non_null(text);
		assert_int_equal(take_u64(text, "leafIdx", &idx), 0);
		assert_int_equal(take_u64(text, "treeSize", &size), 0);
		obj = json_loads(text, 0, &err);
		if (obj == NULL)
			fail_msg("%s: %s", cl.path[i], err.text);
		want = json_object_get(obj, "wantErr");
		assert_true(json_is_boolean(want));
		ok = json_root(obj, "root", root) == 0 &&
		    json_hash(obj, "leafHash", leaf) == 0 &&
		    json_proof(obj, proof, nitems(proof), &n) == 0 &&
		    merkle_verify_inclusion(idx, size, leaf,
		    proof[0], n, root) == 0;
		if (ok == json_is_true(want))
			fail_msg("%s: %s, want %s", cl.path[i],
			    ok ? "accepted" : "refused",
			    json_is_true(want) ? "refusal" : "acceptance");
		if (ok)
			good++;
		else
			bad++;
		json_decref(obj);
		free(text);
	}
	print_message("inclusion vectors: %zu accepted, %zu refused\n", good, bad);
	assert_true(good > 0 && bad > 0);
	case_list_free(&cl);
}

static void
test_consistency_vectors(void **state)
{
	struct case_list	 cl;
	uint8_t			 r1[H], r2[H], proof[MERKLE_MAX_PROOF + 8][H];
	uint64_t		 s1, s2;
	json_t			*obj, *want;
	json_error_t		 err;
	char			*text;
	size_t			 i, n, good = 0, bad = 0;
	int			 ok;

	collect("consistency", &cl);
	assert_true(cl.n > 0);
	for (i = 0; i < cl.n; i++) {
		text = read_text(cl.path[i], NULL);
		assert_non_null(text);
		assert_int_equal(take_u64(text, "size1", &s1), 0);
		assert_int_equal(take_u64(text, "size2", &s2), 0);
		obj = json_loads(text, 0, &err);
		if (obj == NULL)
			fail_msg("%s: %s", cl.path[i], err.text);
		want = json_object_get(obj, "wantErr");
		assert_true(json_is_boolean(want));
		ok = json_root(obj, "root1", r1) == 0 &&
		    json_root(obj, "root2", r2) == 0 &&
		    json_proof(obj, proof, nitems(proof), &n) == 0 &&
		    merkle_verify_consistency(s1, s2, r1, r2,
		    proof[0], n) == 0;
		if (ok == json_is_true(want))
			fail_msg("%s: %s, want %s", cl.path[i],
			    ok ? "accepted" : "refused",
			    json_is_true(want) ? "refusal" : "acceptance");
		if (ok)
			good++;
		else
			bad++;
		json_decref(obj);
		free(text);
	}
	print_message("consistency vectors: %zu accepted, %zu refused\n", good, bad);
	assert_true(good > 0 && bad > 0);
	case_list_free(&cl);
}

/* A tree of PROP_MAX leaves in memory; sizes below it are its prefixes. */
struct prop {
	struct merkle_mem	mem;
	uint8_t			leaves[PROP_MAX][H];
	uint8_t			roots[PROP_MAX + 1][H];
};

static int
prop_setup(void **state)
{
	struct prop	*p = calloc(1, sizeof(*p));
	uint64_t	 i;

	if (p == NULL)
		return -1;
	merkle_mem_init(&p->mem);
	merkle_empty_root(p->roots[0]);
	for (i = 0; i < PROP_MAX; i++) {
		leaf_for(i, p->leaves[i]);
		if (merkle_mem_append(&p->mem, p->leaves[i]) == -1)
			return -1;
		ref_mth(p->leaves, i + 1, p->roots[i + 1]);
	}
	*state = p;
	return 0;
}

static int
prop_teardown(void **state)
{
	struct prop	*p = *state;

	merkle_mem_free(&p->mem);
	free(p);
	return 0;
}

static void
test_prop_roots(void **state)
{
	struct prop		*p = *state;
	struct merkle_frontier	 f;
	uint8_t			 got[H];
	uint64_t		 n;

	merkle_frontier_init(&f);
	for (n = 0; n <= PROP_MAX; n++) {
		assert_int_equal(merkle_root(merkle_mem_subtree, &p->mem, n, got), 0);
		assert_memory_equal(got, p->roots[n], H);
		merkle_frontier_root(&f, got);
		assert_memory_equal(got, p->roots[n], H);
		assert_int_equal(merkle_root_of_leaves(p->leaves[0], n, got), 0);
		assert_memory_equal(got, p->roots[n], H);
		if (n < PROP_MAX)
			assert_int_equal(merkle_frontier_append(&f, p->leaves[n],
			    NULL, NULL), 0);
	}
	/* past the tree's size the source refuses, and the refusal propagates */
	assert_int_equal(merkle_root(merkle_mem_subtree, &p->mem, PROP_MAX + 1,
	    got), -1);
}

static void
test_prop_inclusion(void **state)
{
	struct prop	*p = *state;
	uint8_t		 proof[MERKLE_MAX_PROOF + 1][H], leaf[H];
	uint64_t	 size, idx;
	size_t		 n, j, checked = 0;

	for (size = 1; size <= PROP_MAX; size++) {
		for (idx = 0; idx < size; idx++) {
			assert_int_equal(merkle_inclusion_proof(merkle_mem_subtree,
			    &p->mem, idx, size, proof[0], MERKLE_MAX_PROOF, &n), 0);
			assert_int_equal(merkle_verify_inclusion(idx, size,
			    p->leaves[idx], proof[0], n, p->roots[size]), 0);
			checked++;

			/* a wrong leaf, index or root */
			assert_int_equal(merkle_verify_inclusion(idx, size,
			    p->leaves[(idx + 1) % PROP_MAX], proof[0], n, p->roots[size]), -1);
			if (size > 1)
				assert_int_equal(merkle_verify_inclusion(
				    (idx + 1) % size, size, p->leaves[idx], proof[0], n,
				    p->roots[size]), -1);
			assert_int_equal(merkle_verify_inclusion(idx, size,
			    p->leaves[idx], proof[0], n, p->roots[size - 1]), -1);
			assert_int_equal(merkle_verify_inclusion(size, size,
			    p->leaves[idx], proof[0], n, p->roots[size]), -1);
			/* every bit position class of every element */
			for (j = 0; j < n; j++) {
				proof[j][j % H] ^= (uint8_t)(1u << (j % 8));
				assert_int_equal(merkle_verify_inclusion(idx, size,
				    p->leaves[idx], proof[0], n, p->roots[size]), -1);
				proof[j][j % H] ^= (uint8_t)(1u << (j % 8));
			}
			/* truncated and extended proofs */
			if (n > 0)
				assert_int_equal(merkle_verify_inclusion(idx, size,
				    p->leaves[idx], proof[0], n - 1, p->roots[size]), -1);
			memcpy(proof[n], p->roots[size], H);
			assert_int_equal(merkle_verify_inclusion(idx, size,
			    p->leaves[idx], proof[0], n + 1, p->roots[size]), -1);
			/* a leaf is not its own hash's preimage: leaf hash of the
			 * leaf hash must not verify either */
			assert_int_equal(merkle_leaf_hash(p->leaves[idx], H, leaf), 0);
			assert_int_equal(merkle_verify_inclusion(idx, size, leaf, proof[0],
			    n, p->roots[size]), -1);
		}
	}
	print_message("inclusion properties: %zu proofs\n", checked);
}

static void
test_prop_consistency(void **state)
{
	struct prop	*p = *state;
	uint8_t		 proof[MERKLE_MAX_PROOF + 1][H];
	uint64_t	 s1, s2;
	size_t		 n, j, checked = 0;

	for (s2 = 1; s2 <= PROP_MAX; s2++) {
		for (s1 = 1; s1 <= s2; s1++) {
			assert_int_equal(merkle_consistency_proof(merkle_mem_subtree,
			    &p->mem, s1, s2, proof[0], MERKLE_MAX_PROOF, &n), 0);
			assert_int_equal(merkle_verify_consistency(s1, s2,
			    p->roots[s1], p->roots[s2], proof[0], n), 0);
			checked++;
			if (s1 == s2) {
				assert_int_equal(n, 0);
				if (s1 > 1)
					assert_int_equal(merkle_verify_consistency(
					    s1, s2, p->roots[s1 - 1], p->roots[s2],
					    proof[0], n), -1);
				continue;
			}
			assert_true(n > 0);
			/* wrong or swapped roots */
			assert_int_equal(merkle_verify_consistency(s1, s2,
			    p->roots[s2], p->roots[s1], proof[0], n), -1);
			assert_int_equal(merkle_verify_consistency(s1, s2,
			    p->roots[s1 - 1], p->roots[s2], proof[0], n), -1);
			assert_int_equal(merkle_verify_consistency(s1, s2,
			    p->roots[s1], p->roots[s2 - 1], proof[0], n), -1);
			/* wrong sizes with the right roots */
			assert_int_equal(merkle_verify_consistency(s1 - 1, s2,
			    p->roots[s1], p->roots[s2], proof[0], n), -1);
			assert_int_equal(merkle_verify_consistency(s2, s1,
			    p->roots[s1], p->roots[s2], proof[0], n), -1);
			/* flipped bits, truncation, extension */
			for (j = 0; j < n; j++) {
				proof[j][(j * 7) % H] ^= 0x80;
				assert_int_equal(merkle_verify_consistency(s1, s2,
				    p->roots[s1], p->roots[s2], proof[0], n), -1);
				proof[j][(j * 7) % H] ^= 0x80;
			}
			assert_int_equal(merkle_verify_consistency(s1, s2,
			    p->roots[s1], p->roots[s2], proof[0], n - 1), -1);
			memcpy(proof[n], p->roots[s1], H);
			assert_int_equal(merkle_verify_consistency(s1, s2,
			    p->roots[s1], p->roots[s2], proof[0], n + 1), -1);
		}
	}
	print_message("consistency properties: %zu proofs\n", checked);
}

/* Counts reads, to check proofs cost O(log n) subtree lookups. */
struct counting {
	struct merkle_mem	*mem;
	unsigned		 reads;
};

static int
counting_subtree(void *arg, uint64_t start, unsigned level, uint8_t out[H])
{
	struct counting	*c = arg;

	c->reads++;
	return merkle_mem_subtree(c->mem, start, level, out);
}

static void
test_read_bound(void **state)
{
	struct prop	*p = *state;
	struct counting	 c = { &p->mem, 0 };
	uint8_t		 proof[MERKLE_MAX_PROOF][H], root[H];
	uint64_t	 a, b;
	size_t		 n;

	/* sizes below 2^7: a root, a path or a consistency proof need at most
	 * 2 * 7 reads */
	for (b = 1; b <= PROP_MAX; b++) {
		c.reads = 0;
		assert_int_equal(merkle_root(counting_subtree, &c, b, root), 0);
		assert_true(c.reads <= 7);
		for (a = 0; a < b; a++) {
			c.reads = 0;
			assert_int_equal(merkle_inclusion_proof(counting_subtree, &c,
			    a, b, proof[0], MERKLE_MAX_PROOF, &n), 0);
			assert_true(c.reads <= 14);
			c.reads = 0;
			assert_int_equal(merkle_consistency_proof(counting_subtree,
			    &c, a + 1, b, proof[0], MERKLE_MAX_PROOF, &n), 0);
			assert_true(c.reads <= 14);
		}
	}
}

static void
test_bad_arguments(void **state)
{
	struct prop	*p = *state;
	uint8_t		 proof[MERKLE_MAX_PROOF][H], h[H];
	size_t		 n;

	assert_int_equal(merkle_inclusion_proof(merkle_mem_subtree, &p->mem, 5, 5,
	    proof[0], MERKLE_MAX_PROOF, &n), -1);
	assert_int_equal(merkle_inclusion_proof(merkle_mem_subtree, &p->mem, 0, 0,
	    proof[0], MERKLE_MAX_PROOF, &n), -1);
	assert_int_equal(merkle_consistency_proof(merkle_mem_subtree, &p->mem, 0, 5,
	    proof[0], MERKLE_MAX_PROOF, &n), -1);
	assert_int_equal(merkle_consistency_proof(merkle_mem_subtree, &p->mem, 6, 5,
	    proof[0], MERKLE_MAX_PROOF, &n), -1);
	/* no room: proofs need 3 hashes here */
	assert_int_equal(merkle_inclusion_proof(merkle_mem_subtree, &p->mem, 0, 8,
	    proof[0], 2, &n), -1);
	assert_int_equal(merkle_consistency_proof(merkle_mem_subtree, &p->mem, 3, 8,
	    proof[0], 2, &n), -1);
	assert_int_equal(merkle_consistency_proof(merkle_mem_subtree, &p->mem, 3, 8,
	    proof[0], 0, &n), -1);
	/* a source asked past its size refuses */
	assert_int_equal(merkle_inclusion_proof(merkle_mem_subtree, &p->mem, 0,
	    PROP_MAX + 2, proof[0], MERKLE_MAX_PROOF, &n), -1);
	assert_int_equal(merkle_mem_subtree(&p->mem, 1, 1, h), -1);
	assert_int_equal(merkle_mem_subtree(&p->mem, 64, 3, h), -1);
	assert_int_equal(merkle_mem_subtree(&p->mem, 0, 64, h), -1);
	assert_int_equal(merkle_mem_subtree(&p->mem, 0, 6, h), 0);
	assert_int_equal(merkle_root(merkle_mem_subtree, &p->mem,
	    MERKLE_MAX_SIZE + 1, h), -1);
	/* verifiers: sizes out of range, overlong proofs */
	assert_int_equal(merkle_verify_inclusion(0, MERKLE_MAX_SIZE + 1, h,
	    proof[0], 0, h), -1);
	assert_int_equal(merkle_verify_inclusion(0, 1, h,
	    proof[0], MERKLE_MAX_PROOF + 1, h), -1);
	assert_int_equal(merkle_verify_inclusion(0, 1, h,
	    proof[0], 0, h), 0);
	assert_int_equal(merkle_verify_consistency(1, UINT64_MAX, h, h,
	    proof[0], 1), -1);
}

static void
test_frontier_completed(void **state)
{
	struct prop		*p = *state;
	struct merkle_frontier	 f;
	uint8_t			 done[MERKLE_MAX_LEVELS][H], want[H];
	uint64_t		 i, newsize;
	size_t			 nc, l;

	merkle_frontier_init(&f);
	for (i = 0; i < PROP_MAX; i++) {
		assert_int_equal(merkle_frontier_append(&f, p->leaves[i], done[0],
		    &nc), 0);
		newsize = i + 1;
		/* exactly the levels l with 2^l dividing the new size */
		assert_int_equal(nc, (size_t)__builtin_ctzll(newsize) + 1);
		for (l = 0; l < nc; l++) {
			assert_int_equal(merkle_mem_subtree(&p->mem,
			    newsize - (UINT64_C(1) << l), (unsigned)l, want), 0);
			assert_memory_equal(done[l], want, H);
		}
	}
}

static void
test_frontier_large(void **state)
{
	struct merkle_frontier	f;
	struct merkle_mem	mem;
	uint8_t			leaf[H], a[H], b[H], proof[MERKLE_MAX_PROOF][H];
	uint64_t		i, nleaves = 1000000;
	size_t			n;
	struct timespec		t0, t1;
	double			secs;

	merkle_frontier_init(&f);
	merkle_mem_init(&mem);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nleaves; i++) {
		memset(leaf, 0, H);
		memcpy(leaf, &i, sizeof(i));
		assert_int_equal(merkle_frontier_append(&f, leaf, NULL, NULL), 0);
		if (i < 100000)
			assert_int_equal(merkle_mem_append(&mem, leaf), 0);
		if (i + 1 == 100000) {
			merkle_frontier_root(&f, a);
			assert_int_equal(merkle_root(merkle_mem_subtree, &mem,
			    100000, b), 0);
			assert_memory_equal(a, b, H);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("frontier: %ju leaves appended in %.2f s (information only)\n",
	    (uintmax_t)nleaves, secs);

	/* and a proof over the 100000-leaf tree verifies against it */
	memset(leaf, 0, H);
	i = 77777;
	memcpy(leaf, &i, sizeof(i));
	assert_int_equal(merkle_inclusion_proof(merkle_mem_subtree, &mem, i, 100000,
	    proof[0], MERKLE_MAX_PROOF, &n), 0);
	assert_int_equal(n, 17);
	assert_int_equal(merkle_verify_inclusion(i, 100000, leaf,
	    proof[0], n, b), 0);
	merkle_mem_free(&mem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_basics),
		cmocka_unit_test(test_roots_vectors),
		cmocka_unit_test(test_inclusion_vectors),
		cmocka_unit_test(test_consistency_vectors),
		cmocka_unit_test_setup_teardown(test_prop_roots, prop_setup,
		    prop_teardown),
		cmocka_unit_test_setup_teardown(test_prop_inclusion, prop_setup,
		    prop_teardown),
		cmocka_unit_test_setup_teardown(test_prop_consistency, prop_setup,
		    prop_teardown),
		cmocka_unit_test_setup_teardown(test_read_bound, prop_setup,
		    prop_teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, prop_setup,
		    prop_teardown),
		cmocka_unit_test_setup_teardown(test_frontier_completed, prop_setup,
		    prop_teardown),
		cmocka_unit_test(test_frontier_large),
	};

	/* the refusals under test log at debug level only; warnings from
	 * deliberate misuse stay visible */
	log_init("test_merkle", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
