/* gatewayctl audit: the audit log's command line (verify lives in
 * ctl_audit_verify.c), its checkpoints, entries and proofs, and offline
 * checking of a tlog-proof bundle with nothing but the log's public key. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config.h"
#include "ctl/ctl.h"
#include "ctl/ctl_audit.h"
#include "keeper/merkle.h"
#include "keeper/note.h"
#include "keeper/sign.h"
#include "keeper/store.h"
#include "log.h"
#include "util.h"

#define AUDIT_CONF		"/etc/gateway/gateway.conf"

char *
audit_read_file(const char *path, size_t *len)
{
	return audit_read_file_max(path, AUDIT_MAX_FILE, len);
}

char *
audit_read_file_max(const char *path, size_t max, size_t *len)
{
	char	*buf = NULL, *nb;
	int	 fd, saved;
	ssize_t	 n = 0;
	size_t	 have = 0, cap = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	/* Grows as it reads; one byte past the maximum proves the file is
	 * larger, refused rather than cut. */
	for (;;) {
		if (have == cap) {
			cap = cap ? 2 * cap : 65536;
			if (cap > max + 1)
				cap = max + 1;
			if (have == cap) {
				errno = EFBIG;
				n = -1;
				break;
			}
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				n = -1;
				break;
			}
			buf = nb;
		}
		if ((n = read(fd, buf + have, cap - have)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		have += (size_t)n;
	}
	saved = errno;
	close(fd);
	if (n == -1) {
		free(buf);
		errno = saved;
		return NULL;
	}
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return NULL;
	buf[have] = '\0';
	*len = have;
	return buf;
}

void
audit_vsay(char *dst, size_t dsz, const char *fmt, va_list ap)
{
	int	n = vsnprintf(dst, dsz, fmt, ap);

	/* Names and numbers are short; if one was not, say so visibly. */
	if ((n < 0 || (size_t)n >= dsz) && dsz > 4)
		memcpy(dst + dsz - 4, "...", 4);
}

void
audit_say(char *dst, size_t dsz, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	audit_vsay(dst, dsz, fmt, ap);
	va_end(ap);
}

int
audit_vkey_load(const char *arg, uint8_t alg, struct note_verifier *v)
{
	char	*text;
	size_t	 len;
	int	 rc;

	/* A file holding the vkey on its first line, or the vkey itself. */
	if ((text = audit_read_file_max(arg, AUDIT_MAX_KEYFILE, &len)) != NULL) {
		text[strcspn(text, "\r\n")] = '\0';
		rc = note_verifier_parse_alg(v, text, alg);
		free(text);
	} else
		rc = note_verifier_parse_alg(v, arg, alg);
	if (rc == -1)
		fprintf(stderr, "bad verifier key %s\n", arg);
	return rc;
}

int
audit_config_verifier(const struct config *cf, struct note_verifier *v)
{
	struct sign_key		*k = NULL;
	struct note_signer	 s;

	if (sign_key_load_private(cf->keeper.log_key, &k) == -1 ||
	    note_signer_from_pkey(&s, cf->keeper.origin, k->pkey) == -1) {
		sign_key_free(k);
		fprintf(stderr, "cannot read the log key %s; give --vkey\n",
		    cf->keeper.log_key);
		return -1;
	}
	note_signer_verifier(&s, v);
	note_signer_free(&s);
	sign_key_free(k);
	return 0;
}

/* The verifier key: --vkey (a vkey string or a file holding one), or the
 * config's log key (origin and public half of log_key). */
static int
audit_load_verifier(struct audit_opts *o, struct config *cf)
{
	if (o->vkey != NULL) {
		if (audit_vkey_load(o->vkey, NOTE_ALG_ED25519, &o->verifier) == -1)
			return -1;
		o->has_verifier = 1;
		return 0;
	}
	if (cf == NULL)
		return 0;
	if (audit_config_verifier(cf, &o->verifier) == -1)
		return -1;
	o->has_verifier = 1;
	return 0;
}

int
audit_load_key(const char *path, struct sign_key **out)
{
	char	*text;
	size_t	 len;
	int	 pub;

	if ((text = audit_read_file(path, &len)) == NULL)
		return -1;
	pub = strstr(text, "-----BEGIN PUBLIC KEY-----") != NULL;
	free(text);
	return pub ? sign_key_load_public(path, out) :
	    sign_key_load_private(path, out);
}

/* The instruction signing keys: the configured one (signing_key, or
 * log_key when there is none) and every --skey (public or private PEM). */
static int
audit_load_keys(struct audit_opts *o, struct config *cf)
{
	const char	*kp;
	size_t		 i;

	if (cf != NULL) {
		kp = cf->keeper.signing_key[0] ? cf->keeper.signing_key :
		    cf->keeper.log_key;
		if (sign_key_load_private(kp, &o->keys[o->nkeys]) == -1) {
			fprintf(stderr, "audit: cannot read the instruction "
			    "signing key %s; give --skey\n", kp);
			return -1;
		}
		o->nkeys++;
	}
	for (i = 0; i < o->nskey_paths; i++) {
		if (o->nkeys == AUDIT_MAX_KEYS) {
			fprintf(stderr, "audit: at most %d signing keys\n",
			    AUDIT_MAX_KEYS);
			return -1;
		}
		if (audit_load_key(o->skey_paths[i], &o->keys[o->nkeys]) == -1) {
			fprintf(stderr, "audit: cannot read the signing key %s\n",
			    o->skey_paths[i]);
			return -1;
		}
		o->nkeys++;
	}
	return 0;
}

static void
audit_free_keys(struct audit_opts *o)
{
	size_t	i;

	for (i = 0; i < o->nkeys; i++)
		sign_key_free(o->keys[i]);
	o->nkeys = 0;
}

static int
audit_setup(struct audit_opts *o, int need_db, int need_key)
{
	struct config	*cf = NULL;
	int		 rc;

	if (o->conf != NULL || o->db == NULL) {
		if ((cf = config_load(o->conf ? o->conf : AUDIT_CONF)) == NULL)
			return -1;
		str_copy(o->dbpath, sizeof(o->dbpath), cf->keeper.database);
		str_copy(o->cpfile, sizeof(o->cpfile), cf->keeper.checkpoint_file);
	}
	if (o->db != NULL)
		str_copy(o->dbpath, sizeof(o->dbpath), o->db);
	if (need_db && o->dbpath[0] == '\0') {
		fprintf(stderr, "audit: no database (give -c or --db)\n");
		config_free(cf);
		return -1;
	}
	rc = need_key ? audit_load_verifier(o, cf) : 0;
	if (rc == 0 && need_key && need_db)
		rc = audit_load_keys(o, cf);
	config_free(cf);
	return rc;
}

/* ---- checkpoint, show, proof --------------------------------------------- */

static int
audit_checkpoint(struct audit_opts *o)
{
	struct store	*st;
	char		*note;
	size_t		 len;
	uint64_t	 size;
	int		 rc;

	if (store_open(o->dbpath, 1, &st) == -1)
		return CTL_EXIT_FAIL;
	rc = store_checkpoint_latest(st, &note, &len, &size);
	store_close(st);
	if (rc != 0) {
		fprintf(stderr, "audit checkpoint: none yet\n");
		return CTL_EXIT_FAIL;
	}
	fwrite(note, 1, len, stdout);
	free(note);
	return CTL_EXIT_OK;
}

static int
audit_show(struct audit_opts *o)
{
	struct store	*st;
	char		*data;
	size_t		 len;
	int		 rc;

	if (!o->has_index)
		return CTL_EXIT_USAGE;
	if (store_open(o->dbpath, 1, &st) == -1)
		return CTL_EXIT_FAIL;
	rc = store_entry(st, o->index, &data, &len);
	store_close(st);
	if (rc == -1) {
		fprintf(stderr, "audit show: no entry %llu\n",
		    (unsigned long long)o->index);
		return CTL_EXIT_FAIL;
	}
	fwrite(data, 1, len, stdout);
	fputc('\n', stdout);
	free(data);
	return CTL_EXIT_OK;
}

static void
audit_b64(const uint8_t *h, char out[48])
{
	EVP_EncodeBlock((unsigned char *)out, h, MERKLE_HASH_LEN);
}

/* Without --size: a tlog-proof bundle against the newest checkpoint (the
 * entry as its extra data). With --size: the bare inclusion path. */
static int
audit_proof(struct audit_opts *o)
{
	struct store	*st;
	uint8_t		 proof[MERKLE_MAX_PROOF * MERKLE_HASH_LEN];
	char		*note = NULL, *entry = NULL, *b64 = NULL, b[48];
	size_t		 nlen, elen, n, i;
	uint64_t	 size;
	int		 rc = CTL_EXIT_FAIL;

	if (!o->has_index)
		return CTL_EXIT_USAGE;
	if (store_open(o->dbpath, 1, &st) == -1)
		return CTL_EXIT_FAIL;
	if (o->has_size)
		size = o->size;
	else if (store_checkpoint_latest(st, &note, &nlen, &size) != 0) {
		fprintf(stderr, "audit proof: no checkpoint yet\n");
		goto done;
	}
	if (o->index >= size || size > store_size(st) ||
	    merkle_inclusion_proof(store_subtree, st, o->index, size, proof,
	    MERKLE_MAX_PROOF, &n) == -1) {
		fprintf(stderr, "audit proof: index %llu is not in a tree of "
		    "size %llu\n", (unsigned long long)o->index,
		    (unsigned long long)size);
		goto done;
	}
	if (note != NULL) {
		if (store_entry(st, o->index, &entry, &elen) == -1 ||
		    (b64 = malloc(4 * (elen / 3 + 1) + 1)) == NULL)
			goto done;
		EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)entry,
		    (int)elen);
		printf("c2sp.org/tlog-proof@v1\nextra %s\nindex %llu\n", b64,
		    (unsigned long long)o->index);
	} else
		printf("index %llu\nsize %llu\n", (unsigned long long)o->index,
		    (unsigned long long)size);
	for (i = 0; i < n; i++) {
		audit_b64(proof + i * MERKLE_HASH_LEN, b);
		printf("%s\n", b);
	}
	if (note != NULL)
		printf("\n%s", note);
	rc = CTL_EXIT_OK;
done:
	free(note);
	free(entry);
	free(b64);
	store_close(st);
	return rc;
}

/* ---- verify-proof -------------------------------------------------------- */

int
audit_b64_decode(const char *s, size_t len, uint8_t *out, size_t max,
    size_t *olen)
{
	int	n, pad = 0;

	if (len == 0 || len % 4 != 0 || (len / 4) * 3 > max)
		return -1;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len)) < 0)
		return -1;
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	*olen = (size_t)n - (size_t)pad;
	return 0;
}

int
audit_inclusion_check(const char *note, size_t len,
    const struct note_verifier *v, uint64_t index,
    const uint8_t leaf[MERKLE_HASH_LEN], const uint8_t *proof, size_t n,
    struct note_checkpoint *c, char *why, size_t whysz)
{
	if (note_checkpoint_open(note, len, v, 1, c) == -1) {
		audit_say(why, whysz, "the checkpoint is not signed by %s",
		    v->name);
		return -1;
	}
	if (merkle_verify_inclusion(index, c->size, leaf, proof, n,
	    c->root) == -1) {
		audit_say(why, whysz, "the entry is NOT included at index %llu "
		    "of the checkpointed tree", (unsigned long long)index);
		return -1;
	}
	return 0;
}

static int
audit_verify_proof(struct audit_opts *o, const char *file)
{
	char			*text, *p, *nl, *entry = NULL;
	size_t			 len, n = 0, elen = 0, hl;
	uint8_t			 proof[MERKLE_MAX_PROOF * MERKLE_HASH_LEN], leaf[32];
	uint64_t		 index;
	struct note_checkpoint	 c;
	char			 why[AUDIT_WHY_MAX];
	int			 rc = CTL_EXIT_FAIL;

	if (!o->has_verifier) {
		fprintf(stderr, "audit verify-proof: need --vkey\n");
		return CTL_EXIT_USAGE;
	}
	if ((text = audit_read_file(file, &len)) == NULL) {
		fprintf(stderr, "audit verify-proof: cannot read %s\n", file);
		return CTL_EXIT_FAIL;
	}
	p = text;
	if (strncmp(p, "c2sp.org/tlog-proof@v1\n", 23) != 0)
		goto bad;
	p += 23;
	if (strncmp(p, "extra ", 6) == 0) {
		if ((nl = strchr(p, '\n')) == NULL ||
		    (entry = malloc((size_t)(nl - p))) == NULL ||
		    audit_b64_decode(p + 6, (size_t)(nl - p - 6),
		    (uint8_t *)entry, (size_t)(nl - p), &elen) == -1)
			goto bad;
		p = nl + 1;
	}
	if (strncmp(p, "index ", 6) != 0 || (nl = strchr(p, '\n')) == NULL)
		goto bad;
	*nl = '\0';
	if (parse_u64(p + 6, 0, INT64_MAX, &index) == -1)
		goto bad;
	for (p = nl + 1; *p != '\n'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL || n == MERKLE_MAX_PROOF ||
		    audit_b64_decode(p, (size_t)(nl - p),
		    proof + n * MERKLE_HASH_LEN, MERKLE_HASH_LEN + 2, &hl) == -1 ||
		    hl != MERKLE_HASH_LEN)
			goto bad;
		n++;
	}
	p++;
	if (entry == NULL) {
		fprintf(stderr, "the bundle carries no entry to check\n");
		goto done;
	}
	merkle_leaf_hash(entry, elen, leaf);
	if (audit_inclusion_check(p, len - (size_t)(p - text), &o->verifier,
	    index, leaf, proof, n, &c, why, sizeof(why)) == -1) {
		fprintf(stderr, "%s\n", why);
		goto done;
	}
	printf("proof OK: entry %llu is in %s at tree size %llu\n",
	    (unsigned long long)index, c.origin, (unsigned long long)c.size);
	fwrite(entry, 1, elen, stdout);
	fputc('\n', stdout);
	rc = CTL_EXIT_OK;
	goto done;
bad:
	fprintf(stderr, "%s: not a c2sp.org/tlog-proof@v1 bundle\n", file);
done:
	free(entry);
	free(text);
	return rc;
}

static int
audit_vkey(struct audit_opts *o)
{
	char	out[NOTE_VKEY_MAX];

	if (!o->has_verifier || note_verifier_format(&o->verifier, out,
	    sizeof(out)) == -1)
		return CTL_EXIT_FAIL;
	printf("%s\n", out);
	return CTL_EXIT_OK;
}

static void
audit_usage(void)
{
	fprintf(stderr,
	    "usage: gatewayctl audit verify [--json] [-c conf | --db file "
	    "--vkey key] [--skey pem]...\n"
	    "       gatewayctl audit checkpoint [-c conf | --db file]\n"
	    "       gatewayctl audit proof --index I [--size N] [-c conf | --db file]\n"
	    "       gatewayctl audit show I [-c conf | --db file]\n"
	    "       gatewayctl audit verify-proof BUNDLE --vkey key\n"
	    "       gatewayctl audit vkey [-c conf]\n");
}

static int
audit_run(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "vkey", required_argument, NULL, 'k' },
		{ "index", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 's' },
		{ "skey", required_argument, NULL, 'K' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_opts	 o;
	const char		*sub, *arg = NULL;
	int			 ch, need_db;

	memset(&o, 0, sizeof(o));
	if (argc < 2) {
		audit_usage();
		return CTL_EXIT_USAGE;
	}
	sub = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o.conf = optarg;
			break;
		case 'd':
			o.db = optarg;
			break;
		case 'k':
			o.vkey = optarg;
			break;
		case 'i':
			if (parse_u64(optarg, 0, INT64_MAX, &o.index) == -1)
				goto usage;
			o.has_index = 1;
			break;
		case 's':
			if (parse_u64(optarg, 1, INT64_MAX, &o.size) == -1)
				goto usage;
			o.has_size = 1;
			break;
		case 'K':
			if (o.nskey_paths == AUDIT_MAX_KEYS)
				goto usage;
			o.skey_paths[o.nskey_paths++] = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind < argc)
		arg = argv[optind++];
	if (optind != argc)
		goto usage;
	if (strcmp(sub, "show") == 0 && arg != NULL) {
		if (parse_u64(arg, 0, INT64_MAX, &o.index) == -1)
			goto usage;
		o.has_index = 1;
		arg = NULL;
	}
	if (strcmp(sub, "verify-proof") == 0) {
		if (arg == NULL || o.vkey == NULL)
			goto usage;
		if (audit_load_verifier(&o, NULL) == -1)
			return CTL_EXIT_FAIL;
		return audit_verify_proof(&o, arg);
	}
	if (arg != NULL)
		goto usage;
	need_db = strcmp(sub, "vkey") != 0;
	if (audit_setup(&o, need_db, strcmp(sub, "verify") == 0 ||
	    strcmp(sub, "vkey") == 0) == -1) {
		audit_free_keys(&o);
		return CTL_EXIT_FAIL;
	}
	if (strcmp(sub, "verify") == 0) {
		ch = audit_verify(&o);
		audit_free_keys(&o);
		return ch;
	}
	if (strcmp(sub, "checkpoint") == 0)
		return audit_checkpoint(&o);
	if (strcmp(sub, "proof") == 0)
		return o.has_index ? audit_proof(&o) : CTL_EXIT_USAGE;
	if (strcmp(sub, "show") == 0)
		return o.has_index ? audit_show(&o) : CTL_EXIT_USAGE;
	if (strcmp(sub, "vkey") == 0)
		return audit_vkey(&o);
usage:
	audit_usage();
	return CTL_EXIT_USAGE;
}

const struct ctl_command ctl_audit_command = {
	.name = "audit",
	.synopsis = "verify|checkpoint|proof|show|verify-proof|vkey ...",
	.help = "verify the audit log, print checkpoints, entries and proofs",
	.run = audit_run,
};
