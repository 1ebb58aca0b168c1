/* RFC 6962 / RFC 9162 Merkle tree: hashing, roots, proof generation over a
 * subtree-hash source, proof verification, and in-memory trees. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "keeper/merkle.h"

#define MERKLE_LEAF_PREFIX	0x00
#define MERKLE_NODE_PREFIX	0x01
/* Capacity of a merkle_mem before its first growth (a power of two, so every
 * level's capacity is cap >> level exactly). */
#define MERKLE_MEM_INIT_CAP	64

static const EVP_MD	*merkle_sha256;
static pthread_once_t	 merkle_sha256_once = PTHREAD_ONCE_INIT;
static __thread EVP_MD_CTX *merkle_ctx;
/* Frees a thread's context when the thread ends (verify's workers). */
static pthread_key_t merkle_ctx_key;

static void
merkle_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

/* Fetching once matters: with OpenSSL 3 an implicit fetch per digest costs more
 * than hashing 65 bytes, and audit verify hashes millions of nodes. */
static void
merkle_fetch_sha256(void)
{
	if (pthread_key_create(&merkle_ctx_key, merkle_ctx_free) == 0)
		merkle_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int
merkle_digest(const uint8_t *prefix_and_data, size_t len, const void *more,
    size_t morelen, uint8_t out[MERKLE_HASH_LEN])
{
	EVP_MD_CTX	*ctx;
	unsigned int	 outlen = 0;
	int		 ok;

	if (pthread_once(&merkle_sha256_once, merkle_fetch_sha256) != 0 ||
	    merkle_sha256 == NULL) {
		log_warnx("%s: SHA-256 is not available", __func__);
		return -1;
	}
	/* One context per thread, reused: EVP_MD_CTX_new/free per hash cost
	 * about as much as hashing a 65-byte node. */
	if ((ctx = merkle_ctx) == NULL) {
		if ((ctx = EVP_MD_CTX_new()) == NULL ||
		    pthread_setspecific(merkle_ctx_key, ctx) != 0) {
			EVP_MD_CTX_free(ctx);
			log_warnx("%s: out of memory", __func__);
			return -1;
		}
		merkle_ctx = ctx;
	}
	ok = EVP_DigestInit_ex(ctx, merkle_sha256, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, prefix_and_data, len) == 1 &&
	    (morelen == 0 || EVP_DigestUpdate(ctx, more, morelen) == 1) &&
	    EVP_DigestFinal_ex(ctx, out, &outlen) == 1 && outlen == MERKLE_HASH_LEN;
	if (!ok) {
		log_warnx("%s: SHA-256 failed", __func__);
		return -1;
	}
	return 0;
}

int
merkle_leaf_hash(const void *data, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
	const uint8_t	prefix = MERKLE_LEAF_PREFIX;

	if (data == NULL && len != 0) {
		log_warnx("%s: no data", __func__);
		return -1;
	}
	return merkle_digest(&prefix, 1, data, len, out);
}

int
merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN],
    const uint8_t right[MERKLE_HASH_LEN], uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t	buf[1 + 2 * MERKLE_HASH_LEN];

	/* Copied first so out may alias left or right. */
	buf[0] = MERKLE_NODE_PREFIX;
	memcpy(buf + 1, left, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
	return merkle_digest(buf, sizeof(buf), NULL, 0, out);
}

void
merkle_empty_root(uint8_t out[MERKLE_HASH_LEN])
{
	/* SHA-256(""): a constant, so this cannot fail. */
	static const uint8_t	empty[MERKLE_HASH_LEN] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
		0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
		0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
		0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
	};

	memcpy(out, empty, MERKLE_HASH_LEN);
}

/* Largest power of two strictly below n (n >= 2): the RFC's split point k. */
static uint64_t
merkle_split(uint64_t n)
{
	return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/*
 * MTH of leaves [start, end), for a range that is a node of the RFC 6962 tree
 * (start a multiple of the smallest power of two >= end - start, which every
 * range reached by splitting at merkle_split() is). Such a node is its complete
 * subtrees of decreasing size, folded from the right: one read per set bit.
 */
static int
merkle_range_hash(merkle_subtree_fn fn, void *arg, uint64_t start, uint64_t end,
    uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t		part[MERKLE_MAX_LEVELS][MERKLE_HASH_LEN];
	uint64_t	pos = start, span;
	unsigned	level;
	size_t		np = 0;

	if (end <= start) {
		log_warnx("%s: empty range [%ju, %ju)", __func__, (uintmax_t)start,
		    (uintmax_t)end);
		return -1;
	}
	while (pos < end) {
		level = 63 - (unsigned)__builtin_clzll(end - pos);
		span = UINT64_C(1) << level;
		if ((pos & (span - 1)) != 0 || np == MERKLE_MAX_LEVELS) {
			log_warnx("%s: [%ju, %ju) is not a tree node", __func__,
			    (uintmax_t)start, (uintmax_t)end);
			return -1;
		}
		if (fn(arg, pos, level, part[np]) == -1)
			return -1;
		np++;
		pos += span;
	}
	while (np > 1) {
		if (merkle_node_hash(part[np - 2], part[np - 1], part[np - 2]) == -1)
			return -1;
		np--;
	}
	memcpy(out, part[0], MERKLE_HASH_LEN);
	return 0;
}

int
merkle_root(merkle_subtree_fn fn, void *arg, uint64_t size,
    uint8_t out[MERKLE_HASH_LEN])
{
	if (size > MERKLE_MAX_SIZE) {
		log_warnx("%s: tree size %ju too large", __func__, (uintmax_t)size);
		return -1;
	}
	if (size == 0) {
		merkle_empty_root(out);
		return 0;
	}
	return merkle_range_hash(fn, arg, 0, size, out);
}

int
merkle_root_of_leaves(const uint8_t *leaves, uint64_t n,
    uint8_t out[MERKLE_HASH_LEN])
{
	struct merkle_frontier	f;
	uint64_t		i;

	merkle_frontier_init(&f);
	for (i = 0; i < n; i++)
		if (merkle_frontier_append(&f, leaves + i * MERKLE_HASH_LEN, NULL,
		    NULL) == -1)
			return -1;
	merkle_frontier_root(&f, out);
	return 0;
}

/* Writes the top-down list top[0..ntop) reversed after what proof already
 * holds (*n entries): proofs list the hashes bottom-up. */
static int
merkle_emit_reversed(uint8_t (*top)[MERKLE_HASH_LEN], size_t ntop,
    uint8_t *proof, size_t max, size_t *n)
{
	size_t	i;

	if (ntop > max - *n) {
		log_warnx("%s: proof needs %zu hashes, room for %zu", __func__,
		    *n + ntop, max);
		return -1;
	}
	for (i = 0; i < ntop; i++)
		memcpy(proof + (*n)++ * MERKLE_HASH_LEN, top[ntop - 1 - i],
		    MERKLE_HASH_LEN);
	return 0;
}

int
merkle_inclusion_proof(merkle_subtree_fn fn, void *arg, uint64_t index,
    uint64_t size, uint8_t *proof, size_t max, size_t *n)
{
	uint8_t		top[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	uint64_t	s = 0, e = size, k;
	size_t		ntop = 0;

	*n = 0;
	if (size > MERKLE_MAX_SIZE || index >= size) {
		log_warnx("%s: no leaf %ju in a tree of %ju", __func__,
		    (uintmax_t)index, (uintmax_t)size);
		return -1;
	}
	/* RFC 9162 PATH(m, D[s:e]) unrolled: walk down from the root, noting the
	 * sibling of the half that holds the leaf. Only the first step to a left
	 * half can have an incomplete sibling, so this is O(log n) reads. */
	while (e - s > 1) {
		if (ntop == MERKLE_MAX_PROOF) {
			log_warnx("%s: proof too long", __func__);
			return -1;
		}
		k = merkle_split(e - s);
		if (index < s + k) {
			if (merkle_range_hash(fn, arg, s + k, e, top[ntop]) == -1)
				return -1;
			e = s + k;
		} else {
			if (merkle_range_hash(fn, arg, s, s + k, top[ntop]) == -1)
				return -1;
			s += k;
		}
		ntop++;
	}
	return merkle_emit_reversed(top, ntop, proof, max, n);
}

int
merkle_consistency_proof(merkle_subtree_fn fn, void *arg, uint64_t size1,
    uint64_t size2, uint8_t *proof, size_t max, size_t *n)
{
	uint8_t		top[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	uint64_t	s = 0, e = size2, k;
	size_t		ntop = 0;
	int		whole = 1;	/* the RFC's b: still on the left edge */

	*n = 0;
	if (size2 > MERKLE_MAX_SIZE || size1 == 0 || size1 > size2) {
		log_warnx("%s: no proof from %ju to %ju", __func__,
		    (uintmax_t)size1, (uintmax_t)size2);
		return -1;
	}
	if (size1 == size2)
		return 0;
	/* RFC 9162 SUBPROOF(m, D[s:e], b) unrolled; the recursion's base hash
	 * comes first, then the siblings bottom-up. */
	while (size1 - s != e - s) {
		if (ntop == MERKLE_MAX_PROOF) {
			log_warnx("%s: proof too long", __func__);
			return -1;
		}
		k = merkle_split(e - s);
		if (size1 - s <= k) {
			if (merkle_range_hash(fn, arg, s + k, e, top[ntop]) == -1)
				return -1;
			e = s + k;
		} else {
			if (merkle_range_hash(fn, arg, s, s + k, top[ntop]) == -1)
				return -1;
			s += k;
			whole = 0;
		}
		ntop++;
	}
	if (!whole) {
		if (max == 0) {
			log_warnx("%s: no room for the proof", __func__);
			return -1;
		}
		if (merkle_range_hash(fn, arg, s, e, proof) == -1)
			return -1;
		*n = 1;
	}
	return merkle_emit_reversed(top, ntop, proof, max, n);
}

int
merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[MERKLE_HASH_LEN], const uint8_t *proof, size_t n,
    const uint8_t root[MERKLE_HASH_LEN])
{
	uint8_t		 r[MERKLE_HASH_LEN];
	const uint8_t	*p;
	uint64_t	 fn, sn;
	size_t		 i;

	if (size > MERKLE_MAX_SIZE || index >= size || n > MERKLE_MAX_PROOF) {
		log_debug("%s: index %ju, size %ju, %zu hashes: out of range",
		    __func__, (uintmax_t)index, (uintmax_t)size, n);
		return -1;
	}
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, MERKLE_HASH_LEN);
	for (i = 0; i < n; i++) {
		p = proof + i * MERKLE_HASH_LEN;
		if (sn == 0) {
			log_debug("%s: proof too long", __func__);
			return -1;
		}
		if ((fn & 1) != 0 || fn == sn) {
			if (merkle_node_hash(p, r, r) == -1)
				return -1;
			/* Border nodes: climb past levels where this node has no
			 * right sibling (the tree's right edge). */
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else if (merkle_node_hash(r, p, r) == -1)
			return -1;
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(r, root, MERKLE_HASH_LEN) != 0) {
		log_debug("%s: proof does not lead to the root", __func__);
		return -1;
	}
	return 0;
}

int
merkle_verify_consistency(uint64_t size1, uint64_t size2,
    const uint8_t root1[MERKLE_HASH_LEN], const uint8_t root2[MERKLE_HASH_LEN],
    const uint8_t *proof, size_t n)
{
	uint8_t		fr[MERKLE_HASH_LEN], sr[MERKLE_HASH_LEN];
	const uint8_t	*c;
	uint64_t	fn, sn;
	size_t		i, first;

	if (size1 == 0 || size1 > size2 || size2 > MERKLE_MAX_SIZE ||
	    n > MERKLE_MAX_PROOF) {
		log_debug("%s: sizes %ju and %ju, %zu hashes: out of range",
		    __func__, (uintmax_t)size1, (uintmax_t)size2, n);
		return -1;
	}
	if (size1 == size2) {
		if (n != 0 || memcmp(root1, root2, MERKLE_HASH_LEN) != 0) {
			log_debug("%s: equal sizes, different trees", __func__);
			return -1;
		}
		return 0;
	}
	if (n == 0) {
		log_debug("%s: empty proof", __func__);
		return -1;
	}
	/* RFC 9162 2.1.4.2. When size1 is a power of two the old root is itself a
	 * node of the new tree and the proof omits it: start from root1. */
	if ((size1 & (size1 - 1)) == 0) {
		c = root1;
		first = 0;
	} else {
		c = proof;
		first = 1;
	}
	fn = size1 - 1;
	sn = size2 - 1;
	while ((fn & 1) != 0) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, c, MERKLE_HASH_LEN);
	memcpy(sr, c, MERKLE_HASH_LEN);
	for (i = first; i < n; i++) {
		c = proof + i * MERKLE_HASH_LEN;
		if (sn == 0) {
			log_debug("%s: proof too long", __func__);
			return -1;
		}
		if ((fn & 1) != 0 || fn == sn) {
			if (merkle_node_hash(c, fr, fr) == -1 ||
			    merkle_node_hash(c, sr, sr) == -1)
				return -1;
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else if (merkle_node_hash(sr, c, sr) == -1)
			return -1;
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(fr, root1, MERKLE_HASH_LEN) != 0 ||
	    memcmp(sr, root2, MERKLE_HASH_LEN) != 0) {
		log_debug("%s: proof does not link the roots", __func__);
		return -1;
	}
	return 0;
}

void
merkle_frontier_init(struct merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

int
merkle_frontier_append(struct merkle_frontier *f,
    const uint8_t leaf_hash[MERKLE_HASH_LEN], uint8_t *completed,
    size_t *ncompleted)
{
	uint8_t		carry[MERKLE_HASH_LEN];
	unsigned	level = 0;

	if (f->size >= MERKLE_MAX_SIZE) {
		log_warnx("%s: tree is full", __func__);
		return -1;
	}
	memcpy(carry, leaf_hash, MERKLE_HASH_LEN);
	if (completed != NULL)
		memcpy(completed, carry, MERKLE_HASH_LEN);
	/* Binary increment: each set low bit is a complete subtree that merges
	 * with the carry into one of twice the size. */
	while ((f->size >> level) & 1) {
		if (merkle_node_hash(f->node[level], carry, carry) == -1)
			return -1;
		level++;
		if (completed != NULL)
			memcpy(completed + level * MERKLE_HASH_LEN, carry,
			    MERKLE_HASH_LEN);
	}
	memcpy(f->node[level], carry, MERKLE_HASH_LEN);
	f->size++;
	if (ncompleted != NULL)
		*ncompleted = level + 1;
	return 0;
}

void
merkle_frontier_root(const struct merkle_frontier *f, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t		r[MERKLE_HASH_LEN];
	unsigned	level;
	int		have = 0;

	if (f->size == 0) {
		merkle_empty_root(out);
		return;
	}
	/* Fold the complete subtrees from the smallest (rightmost) up. A
	 * node_hash failure is an allocation failure inside OpenSSL; the frontier
	 * has no way to report it here, so it is logged and the root zeroed,
	 * which matches no real root. */
	for (level = 0; level < MERKLE_MAX_LEVELS; level++) {
		if (((f->size >> level) & 1) == 0)
			continue;
		if (!have) {
			memcpy(r, f->node[level], MERKLE_HASH_LEN);
			have = 1;
		} else if (merkle_node_hash(f->node[level], r, r) == -1) {
			log_warnx("%s: hashing failed", __func__);
			memset(out, 0, MERKLE_HASH_LEN);
			return;
		}
	}
	memcpy(out, r, MERKLE_HASH_LEN);
}

void
merkle_mem_init(struct merkle_mem *m)
{
	memset(m, 0, sizeof(*m));
}

static int
merkle_mem_grow(struct merkle_mem *m)
{
	uint8_t		(*p)[MERKLE_HASH_LEN];
	uint64_t	cap;
	unsigned	level;

	cap = m->cap == 0 ? MERKLE_MEM_INIT_CAP : m->cap * 2;
	if (cap > MERKLE_MEM_MAX_LEAVES) {
		log_warnx("%s: more than %ju leaves", __func__,
		    (uintmax_t)MERKLE_MEM_MAX_LEAVES);
		return -1;
	}
	/* A failure half way leaves some levels bigger than cap: harmless, as
	 * realloc keeps their contents and the next attempt redoes them. */
	for (level = 0; level < MERKLE_MAX_LEVELS && (cap >> level) != 0; level++) {
		p = reallocarray(m->level[level], cap >> level, MERKLE_HASH_LEN);
		if (p == NULL) {
			log_warnx("%s: out of memory", __func__);
			return -1;
		}
		m->level[level] = p;
	}
	m->cap = cap;
	return 0;
}

int
merkle_mem_append(struct merkle_mem *m, const uint8_t leaf_hash[MERKLE_HASH_LEN])
{
	uint64_t	newsize, j;
	unsigned	level;

	if (m->size == m->cap && merkle_mem_grow(m) == -1)
		return -1;
	memcpy(m->level[0][m->size], leaf_hash, MERKLE_HASH_LEN);
	/* Close every subtree this leaf completes: the one at level l when the
	 * new size is a multiple of 2^l, node j = newsize / 2^l - 1 of it. */
	newsize = m->size + 1;
	for (level = 1; level < MERKLE_MAX_LEVELS &&
	    (newsize & ((UINT64_C(1) << level) - 1)) == 0; level++) {
		j = (newsize >> level) - 1;
		if (merkle_node_hash(m->level[level - 1][2 * j],
		    m->level[level - 1][2 * j + 1], m->level[level][j]) == -1)
			return -1;
	}
	m->size = newsize;
	return 0;
}

int
merkle_mem_subtree(void *arg, uint64_t start, unsigned level,
    uint8_t out[MERKLE_HASH_LEN])
{
	const struct merkle_mem	*m = arg;
	uint64_t		 span;

	if (level >= MERKLE_MAX_LEVELS) {
		log_warnx("%s: level %u out of range", __func__, level);
		return -1;
	}
	span = UINT64_C(1) << level;
	if ((start & (span - 1)) != 0 || start > m->size || span > m->size - start) {
		log_warnx("%s: no complete subtree at %ju level %u (size %ju)",
		    __func__, (uintmax_t)start, level, (uintmax_t)m->size);
		return -1;
	}
	memcpy(out, m->level[level][start >> level], MERKLE_HASH_LEN);
	return 0;
}

void
merkle_mem_free(struct merkle_mem *m)
{
	unsigned	level;

	for (level = 0; level < MERKLE_MAX_LEVELS; level++)
		free(m->level[level]);
	memset(m, 0, sizeof(*m));
}
