/* Idempotency-Key memory of stubd (draft-ietf-httpapi-idempotency-key-header):
 * key -> body hash and the answer given, shared by every worker thread. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#include "stub.h"

/* Stored answers are small (a JSON echo, a pain.002), but a test may send a
 * million keys: bound the bytes as well as the keys. */
#define STUB_INBOX_MAX_BYTES	(1024ull * 1024 * 1024)
#define STUB_INBOX_MIN_BUCKETS	1024

struct stub_inbox_entry {
	struct stub_inbox_entry	*next;
	uint64_t		 hash;
	char			 body_sha256[65];
	int			 status;
	const char		*ctype;		/* a static string */
	uint8_t			*body;		/* owned */
	size_t			 len;
	char			 key[];		/* NUL-terminated */
};

/* Everything below is guarded by stub_inbox_mtx: worker threads share the
 * store, since a retry may arrive on another connection and thread. */
static pthread_mutex_t		  stub_inbox_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct stub_inbox_entry	**stub_inbox_tab;	/* owned */
static size_t			  stub_inbox_nbuckets;	/* a power of 2 */
static size_t			  stub_inbox_count;
static uint64_t			  stub_inbox_bytes;
static uint64_t			  stub_inbox_max_keys = STUB_INBOX_DEFAULT_KEYS;

/* FNV-1a: keys come from the gateway under test, not from an adversary, so
 * a keyed hash against flooding is not needed here. */
static uint64_t
stub_inbox_hash(const char *s)
{
	uint64_t	h = 14695981039346656037ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

/* At start-up, before any worker thread. */
int
stub_inbox_init(uint64_t max_keys)
{
	if (max_keys == 0) {
		log_warnx("%s: the store must hold at least one key", __func__);
		return -1;
	}
	stub_inbox_max_keys = max_keys;
	stub_inbox_nbuckets = STUB_INBOX_MIN_BUCKETS;
	if ((stub_inbox_tab = calloc(stub_inbox_nbuckets,
	    sizeof(*stub_inbox_tab))) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return -1;
	}
	return 0;
}

/* At exit, after every worker thread is joined. */
void
stub_inbox_free(void)
{
	struct stub_inbox_entry	*e, *next;
	size_t			 i;

	for (i = 0; i < stub_inbox_nbuckets && stub_inbox_tab != NULL; i++) {
		for (e = stub_inbox_tab[i]; e != NULL; e = next) {
			next = e->next;
			free(e->body);
			free(e);
		}
	}
	free(stub_inbox_tab);
	stub_inbox_tab = NULL;
	stub_inbox_nbuckets = stub_inbox_count = 0;
	stub_inbox_bytes = 0;
}

/*
 * The key of an Idempotency-Key value into out (size outsz). The draft makes
 * it an sf-string ("..."); a bare value is taken as is too, since some
 * clients send one. Printable ASCII only, 1 to outsz - 1 characters, nothing
 * after the string. 0 or -1.
 */
int
stub_inbox_key(const char *hdr, char *out, size_t outsz)
{
	const unsigned char	*p = (const unsigned char *)hdr;
	size_t			 n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\\') {
				p++;
				if (*p != '"' && *p != '\\')
					return -1;
			} else if (*p < 0x20 || *p > 0x7e)
				return -1;	/* also an unterminated one */
			if (n + 1 >= outsz)
				return -1;
			out[n++] = (char)*p;
		}
		p++;
	} else {
		for (; *p > 0x20 && *p < 0x7f; p++) {
			if (n + 1 >= outsz)
				return -1;
			out[n++] = (char)*p;
		}
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' || n == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

static struct stub_inbox_entry *
stub_inbox_find(const char *key, uint64_t h)
{
	struct stub_inbox_entry	*e;

	for (e = stub_inbox_tab[h & (stub_inbox_nbuckets - 1)]; e != NULL;
	    e = e->next)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* Doubles the table when it holds more keys than buckets; a failure only
 * leaves chains longer. */
static void
stub_inbox_grow(void)
{
	struct stub_inbox_entry	**nt, *e, *next;
	size_t			  i, nn = stub_inbox_nbuckets * 2;

	if (stub_inbox_count <= stub_inbox_nbuckets ||
	    nn > stub_inbox_max_keys * 2)
		return;
	if ((nt = calloc(nn, sizeof(*nt))) == NULL) {
		log_warnx("%s: out of memory, chains grow instead", __func__);
		return;
	}
	for (i = 0; i < stub_inbox_nbuckets; i++) {
		for (e = stub_inbox_tab[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nt[e->hash & (nn - 1)];
			nt[e->hash & (nn - 1)] = e;
		}
	}
	free(stub_inbox_tab);
	stub_inbox_tab = nt;
	stub_inbox_nbuckets = nn;
}

/* A copy of e's answer into resp (replacing it), marked as a replay. */
static int
stub_inbox_copy_out(const struct stub_inbox_entry *e, struct stub_resp *resp)
{
	uint8_t	*p = NULL;

	if (e->len > 0) {
		if ((p = malloc(e->len)) == NULL) {
			log_warnx("%s: out of memory", __func__);
			return -1;
		}
		memcpy(p, e->body, e->len);
	}
	stub_reply_resp_clear(resp);
	resp->status = e->status;
	resp->ctype = e->ctype;
	resp->body = p;
	resp->len = e->len;
	resp->replayed = 1;
	return 0;
}

/* Stores key -> (body hash, a copy of resp). */
static int
stub_inbox_insert(const char *key, uint64_t h, const char *body_sha256,
    const struct stub_resp *resp)
{
	struct stub_inbox_entry	*e;
	size_t			 klen = strlen(key);

	if ((e = calloc(1, sizeof(*e) + klen + 1)) == NULL ||
	    (resp->len > 0 && (e->body = malloc(resp->len)) == NULL)) {
		log_warnx("%s: out of memory", __func__);
		free(e);
		return -1;
	}
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	(void)str_copy(e->body_sha256, sizeof(e->body_sha256), body_sha256);
	e->status = resp->status;
	e->ctype = resp->ctype;
	if (resp->len > 0)
		memcpy(e->body, resp->body, resp->len);
	e->len = resp->len;
	e->next = stub_inbox_tab[h & (stub_inbox_nbuckets - 1)];
	stub_inbox_tab[h & (stub_inbox_nbuckets - 1)] = e;
	stub_inbox_count++;
	stub_inbox_bytes += sizeof(*e) + klen + 1 + resp->len;
	stub_inbox_grow();
	return 0;
}

/*
 * The request with key and body_sha256 has been answered with *resp (not yet
 * sent). Under one lock, so two copies of a request racing on two threads
 * cannot both be new: a known key with the same body replaces *resp with a
 * copy of the answer stored first (STUB_INBOX_REPLAY); with another body
 * leaves *resp for the caller to replace with a 422 (STUB_INBOX_REUSED); an
 * unknown key is stored with a copy of *resp when *resp is a success
 * (STUB_INBOX_NEW; failures are not stored so a retry can succeed), or not
 * at all when the store is at its bound (STUB_INBOX_FULL). -1 when out of
 * memory.
 */
int
stub_inbox_claim(const char *key, const char *body_sha256,
    struct stub_resp *resp, enum stub_inbox_outcome *outcome)
{
	struct stub_inbox_entry	*e;
	uint64_t		 h = stub_inbox_hash(key);
	int			 rc = 0;

	if ((errno = pthread_mutex_lock(&stub_inbox_mtx)) != 0) {
		log_warn("%s: pthread_mutex_lock", __func__);
		return -1;
	}
	if ((e = stub_inbox_find(key, h)) != NULL) {
		if (strcmp(e->body_sha256, body_sha256) != 0)
			*outcome = STUB_INBOX_REUSED;
		else {
			*outcome = STUB_INBOX_REPLAY;
			rc = stub_inbox_copy_out(e, resp);
		}
	} else if (resp->status < 200 || resp->status > 299)
		*outcome = STUB_INBOX_NEW;
	else if (stub_inbox_count >= stub_inbox_max_keys ||
	    stub_inbox_bytes + resp->len + strlen(key) > STUB_INBOX_MAX_BYTES) {
		log_warnx("%s: store full (%zu keys, %llu bytes)", __func__,
		    stub_inbox_count, (unsigned long long)stub_inbox_bytes);
		*outcome = STUB_INBOX_FULL;
	} else {
		*outcome = STUB_INBOX_NEW;
		rc = stub_inbox_insert(key, h, body_sha256, resp);
	}
	(void)pthread_mutex_unlock(&stub_inbox_mtx);
	return rc;
}
