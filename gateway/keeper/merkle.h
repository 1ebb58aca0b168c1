/* RFC 6962 / RFC 9162 Merkle tree hashing: roots, inclusion and consistency proofs
 * (generation over stored subtree hashes, and verification), plus in-memory trees. */
#ifndef GW_KEEPER_MERKLE_H
#define GW_KEEPER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_LEN		32
/* Largest tree we accept: 2^63 leaves. It keeps every level index below 64 and
 * bounds proofs, so all proof buffers can be fixed-size arrays. */
#define MERKLE_MAX_SIZE		(UINT64_C(1) << 63)
/* Longest proof for a tree of at most MERKLE_MAX_SIZE leaves: an inclusion path
 * has at most 63 nodes, a consistency proof at most 64. */
#define MERKLE_MAX_PROOF	64
/* Levels of complete subtrees a frontier keeps: one per bit of the size. */
#define MERKLE_MAX_LEVELS	64
/* Most leaves a merkle_mem tree holds (it keeps every node: 2 hashes per leaf,
 * 1 GiB at this bound). Bigger logs use the store or a frontier. */
#define MERKLE_MEM_MAX_LEAVES	(UINT64_C(1) << 24)

/*
 * Source of complete-subtree hashes for proof and root generation.
 *
 * Called with a range [start, start + 2^level) that is a complete subtree of
 * the tree being proved: start is a multiple of 2^level and start + 2^level is
 * at most the tree size passed to the generator. It writes the subtree's hash
 * (for level 0, the leaf hash) to out and returns 0, or returns -1 (having
 * logged why) to abort the generation. Generators make O(log n) calls per root
 * or proof, so a store that keeps the hash of every complete subtree answers
 * each with one read. arg is passed through untouched.
 */
typedef int (*merkle_subtree_fn)(void *arg, uint64_t start, unsigned level,
    uint8_t out[MERKLE_HASH_LEN]);

/* Leaf hash: SHA-256(0x00 || data). len may be 0 (data may then be NULL). */
int	merkle_leaf_hash(const void *data, size_t len, uint8_t out[MERKLE_HASH_LEN]);
/* Interior node hash: SHA-256(0x01 || left || right). */
int	merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN],
	    const uint8_t right[MERKLE_HASH_LEN], uint8_t out[MERKLE_HASH_LEN]);
/* Root of the empty tree: SHA-256 of no bytes. */
void	merkle_empty_root(uint8_t out[MERKLE_HASH_LEN]);

/* Root of the tree of the first size leaves, from O(log size) subtree reads. */
int	merkle_root(merkle_subtree_fn fn, void *arg, uint64_t size,
	    uint8_t out[MERKLE_HASH_LEN]);
/* Root of n leaf hashes held in memory (n may be 0). */
int	merkle_root_of_leaves(const uint8_t *leaves, uint64_t n,
	    uint8_t out[MERKLE_HASH_LEN]);

/*
 * Lists of hashes (leaves, proofs) are flat byte arrays: hash i is the
 * MERKLE_HASH_LEN bytes at list + i * MERKLE_HASH_LEN, as in a store's blob or
 * an array uint8_t x[N][MERKLE_HASH_LEN] passed as x[0]; max and n count
 * hashes. (Typed uint8_t (*)[N] parameters would need casts: C does not
 * convert them to const uint8_t (*)[N] implicitly.)
 */

/* Inclusion proof of leaf index in the tree of size leaves (RFC 9162 2.1.3.1),
 * leaf level first, into proof (room for max hashes); *n gets their count. */
int	merkle_inclusion_proof(merkle_subtree_fn fn, void *arg, uint64_t index,
	    uint64_t size, uint8_t *proof, size_t max, size_t *n);
/* Consistency proof from size1 to size2 leaves (RFC 9162 2.1.4.1), for
 * 0 < size1 <= size2; empty when the sizes are equal. */
int	merkle_consistency_proof(merkle_subtree_fn fn, void *arg, uint64_t size1,
	    uint64_t size2, uint8_t *proof, size_t max, size_t *n);

/* RFC 9162 2.1.3.2: 0 if leaf_hash is leaf index of the tree of size leaves
 * whose root is root, -1 otherwise (index >= size, wrong length, mismatch). */
int	merkle_verify_inclusion(uint64_t index, uint64_t size,
	    const uint8_t leaf_hash[MERKLE_HASH_LEN], const uint8_t *proof, size_t n,
	    const uint8_t root[MERKLE_HASH_LEN]);
/* RFC 9162 2.1.4.2: 0 if the tree of size2 with root2 extends the tree of size1
 * with root1, -1 otherwise. size1 == 0 is refused (an empty tree proves
 * nothing and has no checkpoint worth extending); equal sizes need an empty
 * proof and equal roots. */
int	merkle_verify_consistency(uint64_t size1, uint64_t size2,
	    const uint8_t root1[MERKLE_HASH_LEN], const uint8_t root2[MERKLE_HASH_LEN],
	    const uint8_t *proof, size_t n);

/*
 * Frontier: the incremental builder. It keeps only the roots of the complete
 * subtrees that make up the current size (one per set bit), so it rebuilds a
 * tree of any size in O(n) time and O(log n) memory. Plain value: no _free.
 */
struct merkle_frontier {
	uint64_t	size;
	/* node[l], valid only when bit l of size is set, is the hash of the
	 * complete subtree of 2^l leaves that starts at size rounded down to a
	 * multiple of 2^(l+1). */
	uint8_t		node[MERKLE_MAX_LEVELS][MERKLE_HASH_LEN];
};

void	merkle_frontier_init(struct merkle_frontier *f);
/* Appends one leaf hash. If completed is not NULL (room for MERKLE_MAX_LEVELS
 * hashes) it receives the hashes of the complete subtrees this leaf closed,
 * hash l for level l, that subtree starting at leaf (size_after - 2^l);
 * *ncompleted (if not NULL) gets their count (at least 1: the leaf itself).
 * That is what a store persists per append. */
int	merkle_frontier_append(struct merkle_frontier *f,
	    const uint8_t leaf_hash[MERKLE_HASH_LEN], uint8_t *completed,
	    size_t *ncompleted);
/* Root at the current size (the empty-tree root at size 0). */
void	merkle_frontier_root(const struct merkle_frontier *f,
	    uint8_t out[MERKLE_HASH_LEN]);

/*
 * merkle_mem: a whole tree in memory, every complete subtree hash kept per
 * level, serving merkle_subtree_fn with O(1) lookups. For tests and tools that
 * need proofs over a modest tree (at most MERKLE_MEM_MAX_LEAVES leaves).
 */
struct merkle_mem {
	uint64_t	  size;
	uint64_t	  cap;			/* leaves allocated per level 0 */
	uint8_t		(*level[MERKLE_MAX_LEVELS])[MERKLE_HASH_LEN];
};

void	merkle_mem_init(struct merkle_mem *m);
/* Appends a leaf hash, growing the arrays as needed. */
int	merkle_mem_append(struct merkle_mem *m, const uint8_t leaf_hash[MERKLE_HASH_LEN]);
/* merkle_subtree_fn over a struct merkle_mem (arg); refuses ranges past size. */
int	merkle_mem_subtree(void *arg, uint64_t start, unsigned level,
	    uint8_t out[MERKLE_HASH_LEN]);
/* Frees the level arrays (the struct itself is the caller's); m is reusable
 * after merkle_mem_init. */
void	merkle_mem_free(struct merkle_mem *m);

#endif
