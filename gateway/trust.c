/* The trust manifest: which files decide who may do what and where money
 * goes, with their digests, built by the parent and logged by the keeper. */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "config.h"
#include "ipc.h"
#include "log.h"
#include "trust.h"
#include "util.h"

_Static_assert(IPC_TRUST_PATH_MAX == CFG_PATH_MAX,
    "a manifest path holds any configured path");

/* Schemas nest one or two folders deep (iso20022/); a deeper tree is more
 * likely a loop of symbolic links than schemas, and is refused. */
#define TRUST_MAX_DEPTH		8
#define TRUST_READ_CHUNK	65536

const char *
trust_reason_name(uint32_t reason)
{
	switch (reason) {
	case TRUST_START:
		return "start";
	case TRUST_RELOAD:
		return "reload";
	}
	return NULL;
}

int
trust_add(struct trust_manifest *m, const char *role, const char *path,
    const uint8_t sha256[32])
{
	struct ipc_trust_file	*f, *nf;
	json_t			*utf8;
	size_t			 ncap;

	/* The entry is JSON: a path that is not UTF-8 could not be logged,
	 * and a manifest that leaves a file out is no manifest. */
	if ((utf8 = json_string(path)) == NULL) {
		log_warnx("trust: the path %s is not UTF-8", path);
		return -1;
	}
	json_decref(utf8);
	if (m->n == m->cap) {
		ncap = m->cap == 0 ? 64 : 2 * m->cap;
		if ((nf = reallocarray(m->files, ncap, sizeof(*nf))) == NULL) {
			log_warn("%s", __func__);
			return -1;
		}
		m->files = nf;
		m->cap = ncap;
	}
	f = &m->files[m->n];
	memset(f, 0, sizeof(*f));
	if (role[0] == '\0' || path[0] == '\0' ||
	    str_copy(f->role, sizeof(f->role), role) == -1 ||
	    str_copy(f->path, sizeof(f->path), path) == -1) {
		log_warnx("trust: %s %s: empty or too long", role, path);
		return -1;
	}
	memcpy(f->sha256, sha256, sizeof(f->sha256));
	m->n++;
	return 0;
}

/* SHA-256 of the file at path into out. 0 or -1 (logged). */
static int
trust_hash_file(const char *path, uint8_t out[32])
{
	EVP_MD_CTX	*md;
	unsigned char	*buf;
	unsigned int	 olen = 0;
	ssize_t		 n;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("trust: cannot read %s", path);
		return -1;
	}
	md = EVP_MD_CTX_new();
	buf = malloc(TRUST_READ_CHUNK);
	if (md == NULL || buf == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		log_warnx("trust: cannot hash %s", path);
		goto done;
	}
	for (;;) {
		if ((n = read(fd, buf, TRUST_READ_CHUNK)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("trust: cannot read %s", path);
			goto done;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
			log_warnx("trust: cannot hash %s", path);
			goto done;
		}
	}
	if (EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 32)
		rc = 0;
	else
		log_warnx("trust: cannot hash %s", path);
done:
	free(buf);
	EVP_MD_CTX_free(md);
	close(fd);
	return rc;
}

int
trust_add_file(struct trust_manifest *m, const char *role, const char *path)
{
	uint8_t	h[32];

	if (trust_hash_file(path, h) == -1)
		return -1;
	return trust_add(m, role, path, h);
}

static int
trust_cmp(const void *a, const void *b)
{
	const struct ipc_trust_file	*x = a, *y = b;
	int				 c = strcmp(x->path, y->path);

	return c != 0 ? c : strcmp(x->role, y->role);
}

void
trust_sort(struct trust_manifest *m)
{
	size_t	i, o;

	if (m->n == 0)
		return;
	qsort(m->files, m->n, sizeof(*m->files), trust_cmp);
	for (i = 1, o = 1; i < m->n; i++) {
		if (strcmp(m->files[i].path, m->files[o - 1].path) == 0)
			continue;
		if (i != o)
			m->files[o] = m->files[i];
		o++;
	}
	m->n = o;
}

int
trust_valid(const struct trust_manifest *m)
{
	const struct ipc_trust_file	*f;
	size_t				 i;

	if (trust_reason_name(m->reason) == NULL)
		return 0;
	for (i = 0; i < m->n; i++) {
		f = &m->files[i];
		if (!ipc_str_ok(f->role, sizeof(f->role)) ||
		    !ipc_str_ok(f->path, sizeof(f->path)) ||
		    f->role[0] == '\0' || f->path[0] == '\0')
			return 0;
		if (i > 0 && strcmp(m->files[i - 1].path, f->path) >= 0)
			return 0;
	}
	return 1;
}

void
trust_free(struct trust_manifest *m)
{
	if (m == NULL)
		return;
	free(m->files);
	memset(m, 0, sizeof(*m));
}

static int
trust_has_suffix(const char *s, const char *sfx)
{
	size_t	n = strlen(s), k = strlen(sfx);

	return n > k && strcmp(s + n - k, sfx) == 0;
}

/* Every *.xsd under dir (the schemas the adapters load), folders included;
 * names starting with a dot are not schemas. */
static int
trust_add_schemas(struct trust_manifest *m, const char *dir, int depth)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		 path[CFG_PATH_MAX];
	int		 rc = 0;

	if (depth > TRUST_MAX_DEPTH) {
		log_warnx("trust: schemas nest deeper than %d folders at %s",
		    TRUST_MAX_DEPTH, dir);
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		log_warn("trust: cannot list the schemas in %s", dir);
		return -1;
	}
	while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (str_printf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) == -1) {
			log_warnx("trust: path too long under %s", dir);
			rc = -1;
		} else if (stat(path, &st) == -1) {
			log_warn("trust: %s", path);
			rc = -1;
		} else if (S_ISDIR(st.st_mode))
			rc = trust_add_schemas(m, path, depth + 1);
		else if (S_ISREG(st.st_mode) && trust_has_suffix(de->d_name,
		    ".xsd"))
			rc = trust_add_file(m, "schema", path);
	}
	if (rc == 0 && errno != 0) {
		log_warn("trust: cannot list the schemas in %s", dir);
		rc = -1;
	}
	closedir(d);
	return rc;
}

/* Adds path under role unless it is not configured (""). */
static int
trust_add_opt(struct trust_manifest *m, const char *role, const char *path)
{
	return path[0] == '\0' ? 0 : trust_add_file(m, role, path);
}

/* Pins and witness keys live in the configuration (or in a file read once
 * into it): each is listed under a name saying where it is configured, with
 * the digest that decides (the pin itself, the vkey's SHA-256), so that a
 * certificate file re-issued for the same key changes nothing. */
static int
trust_add_keys(struct trust_manifest *m, const struct config *cf)
{
	const struct cfg_agency		*a;
	const struct cfg_witness	*w;
	char				 name[IPC_TRUST_PATH_MAX], hex[65];
	uint8_t				 h[32];
	unsigned int			 hlen;
	size_t				 i;
	int				 j;

	for (i = 0; i < cf->nagencies; i++) {
		a = &cf->agencies[i];
		for (j = 0; j < a->npins; j++) {
			hex_encode(hex, a->pins[j], 32);
			if (str_printf(name, sizeof(name), "[agency %s] pin %s",
			    a->name, hex) == -1 ||
			    trust_add(m, "pin", name, a->pins[j]) == -1)
				return -1;
		}
	}
	for (i = 0; i < cf->nwitnesses; i++) {
		w = &cf->witnesses[i];
		if (EVP_Digest(w->key, strlen(w->key), h, &hlen, EVP_sha256(),
		    NULL) != 1 || str_printf(name, sizeof(name),
		    "[witness %s] key", w->name) == -1 ||
		    trust_add(m, "witness-key", name, h) == -1)
			return -1;
	}
	return 0;
}

int
trust_build(const struct config *cf, uint32_t reason,
    struct trust_manifest *m)
{
	const struct cfg_listener	*l;
	const struct cfg_upstream	*u;
	size_t				 i;

	memset(m, 0, sizeof(*m));
	m->reason = reason;
	if (trust_add_file(m, "config", cf->path) == -1)
		goto fail;
	for (i = 0; i < LISTENER_COUNT; i++) {
		l = &cf->listeners[i];
		if (!l->configured)
			continue;
		if (trust_add_opt(m, "cert", l->cert) == -1 ||
		    trust_add_opt(m, "ca", l->ca) == -1 ||
		    trust_add_opt(m, "crl", l->crl) == -1)
			goto fail;
	}
	for (i = 0; i < cf->nupstreams; i++) {
		u = &cf->upstreams[i];
		if (trust_add_opt(m, "cert", u->cert) == -1 ||
		    trust_add_opt(m, "ca", u->ca) == -1 ||
		    trust_add_opt(m, "crl", u->crl) == -1)
			goto fail;
	}
	if (trust_add_keys(m, cf) == -1 ||
	    trust_add_opt(m, "registry", cf->keeper.accounts) == -1 ||
	    (cf->schemas[0] != '\0' &&
	    trust_add_schemas(m, cf->schemas, 0) == -1))
		goto fail;
	trust_sort(m);
	return 0;
fail:
	log_warnx("trust: cannot list the digests of the files in force");
	trust_free(m);
	return -1;
}

int
trust_send(int ctl_fd, const struct trust_manifest *m)
{
	struct evbuffer		*eb;
	struct ipc_trust	 h;
	unsigned char		*p;
	size_t			 len, off = 0;
	ssize_t			 n;
	int			 fd = -1, rc = -1;

	memset(&h, 0, sizeof(h));
	h.reason = m->reason;
	h.nfiles = (uint32_t)m->n;
	if ((eb = evbuffer_new()) == NULL)
		return -1;
	/* A manifest past IPC_MAX_PAYLOAD (some 7,000 files) is refused
	 * whole here rather than logged in part. */
	if (m->n > UINT32_MAX || ipc_send2(eb, IPC_TRUST, 0, &h, sizeof(h),
	    m->files, m->n * sizeof(*m->files)) == -1) {
		log_warnx("trust: a manifest of %zu files is too large", m->n);
		goto done;
	}
	len = evbuffer_get_length(eb);
	if ((p = evbuffer_pullup(eb, -1)) == NULL ||
	    (fd = memfd_create("gateway-trust", MFD_CLOEXEC)) == -1) {
		log_warn("trust: memfd");
		goto done;
	}
	while (off < len) {
		if ((n = write(fd, p + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("trust: write");
			goto done;
		}
		off += (size_t)n;
	}
	/* The keeper reads from the start of the shared file description. */
	if (lseek(fd, 0, SEEK_SET) == -1) {
		log_warn("trust: lseek");
		goto done;
	}
	rc = ipc_send_fd(ctl_fd, IPC_SLOT_TRUST, fd);
done:
	if (fd != -1)
		close(fd);
	evbuffer_free(eb);
	return rc;
}

int
trust_recv(int fd, void *buf, struct trust_manifest *m)
{
	struct evbuffer		*eb;
	struct ipc_hdr		 hdr;
	struct ipc_trust	 h;
	unsigned char		*chunk;
	size_t			 total = 0, flen;
	ssize_t			 n;
	int			 rc = -1;

	memset(m, 0, sizeof(m[0]));
	eb = evbuffer_new();
	chunk = malloc(TRUST_READ_CHUNK);
	if (eb == NULL || chunk == NULL)
		goto done;
	/* One message, read whole: anything more than the largest one is
	 * not the parent's. */
	for (;;) {
		if ((n = read(fd, chunk, TRUST_READ_CHUNK)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("trust: read");
			goto done;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > sizeof(hdr) + IPC_MAX_PAYLOAD ||
		    evbuffer_add(eb, chunk, (size_t)n) == -1) {
			log_warnx("trust: the manifest is too large");
			goto done;
		}
	}
	if (ipc_recv(eb, &hdr, buf) != 1 || hdr.type != IPC_TRUST ||
	    evbuffer_get_length(eb) != 0 || hdr.len < sizeof(h)) {
		log_warnx("trust: the manifest is not one IPC_TRUST message");
		goto done;
	}
	memcpy(&h, buf, sizeof(h));
	flen = hdr.len - sizeof(h);
	if (flen != (size_t)h.nfiles * sizeof(*m->files)) {
		log_warnx("trust: the manifest's length is not its %u files",
		    h.nfiles);
		goto done;
	}
	m->reason = h.reason;
	if (h.nfiles > 0) {
		if ((m->files = malloc(flen)) == NULL)
			goto done;
		memcpy(m->files, (unsigned char *)buf + sizeof(h), flen);
	}
	m->n = m->cap = h.nfiles;
	if (!trust_valid(m)) {
		log_warnx("trust: the manifest is malformed or not sorted");
		trust_free(m);
		goto done;
	}
	rc = 0;
done:
	free(chunk);
	if (eb != NULL)
		evbuffer_free(eb);
	close(fd);
	return rc;
}

static json_t *
trust_digest(const struct ipc_trust_file *f)
{
	char	hex[65];

	if (f == NULL)
		return json_null();
	hex_encode(hex, f->sha256, 32);
	return json_string(hex);
}

json_t *
trust_files_json(const struct trust_manifest *m)
{
	json_t	*arr, *o;
	size_t	 i;

	if ((arr = json_array()) == NULL)
		return NULL;
	for (i = 0; i < m->n; i++) {
		o = json_pack("{s:s, s:s, s:o}", "role", m->files[i].role,
		    "path", m->files[i].path, "sha256",
		    trust_digest(&m->files[i]));
		if (o == NULL || json_array_append_new(arr, o) == -1) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* One change: b (before) or a (after) may be NULL, not both. */
static int
trust_change(json_t *arr, const struct ipc_trust_file *b,
    const struct ipc_trust_file *a)
{
	const struct ipc_trust_file	*now = a != NULL ? a : b;
	json_t				*o;

	o = json_pack("{s:s, s:s, s:o, s:o}", "path", now->path, "role",
	    now->role, "before", trust_digest(b), "after", trust_digest(a));
	return o == NULL ? -1 : json_array_append_new(arr, o);
}

json_t *
trust_diff(const struct trust_manifest *before,
    const struct trust_manifest *after)
{
	const struct ipc_trust_file	*b, *a;
	json_t				*arr;
	size_t				 i = 0, j = 0;
	int				 c, rc = 0;

	if ((arr = json_array()) == NULL)
		return NULL;
	while (rc == 0 && (i < before->n || j < after->n)) {
		b = i < before->n ? &before->files[i] : NULL;
		a = j < after->n ? &after->files[j] : NULL;
		c = b == NULL ? 1 : a == NULL ? -1 : strcmp(b->path, a->path);
		if (c < 0) {
			rc = trust_change(arr, b, NULL);
			i++;
		} else if (c > 0) {
			rc = trust_change(arr, NULL, a);
			j++;
		} else {
			if (memcmp(b->sha256, a->sha256, 32) != 0 ||
			    strcmp(b->role, a->role) != 0)
				rc = trust_change(arr, b, a);
			i++;
			j++;
		}
	}
	if (rc == -1) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}
