/* stubd --save-bodies DIR: every request's body as DIR/<seq>.body and its
 * headers as DIR/<seq>.headers.json, so tests can check delivered files. */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#include "stub.h"

/*
 * Makes dir if it does not exist, and finds the highest <seq>.body already
 * in it (0 if none) so numbering continues after a restart instead of
 * overwriting an earlier run's files. At start-up. 0 or -1.
 */
int
stub_save_init(const char *dir, uint64_t *last_seq)
{
	DIR		*d;
	struct dirent	*de;
	char		 num[32];
	const char	*dot;
	uint64_t	 v;
	size_t		 n;

	*last_seq = 0;
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		log_warn("%s: mkdir %s", __func__, dir);
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		log_warn("%s: opendir %s", __func__, dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if ((dot = strchr(de->d_name, '.')) == NULL ||
		    strcmp(dot, ".body") != 0)
			continue;
		n = (size_t)(dot - de->d_name);
		if (n == 0 || n >= sizeof(num))
			continue;
		memcpy(num, de->d_name, n);
		num[n] = '\0';
		if (parse_u64(num, 1, UINT64_MAX - 1, &v) == 0 && v > *last_seq)
			*last_seq = v;
	}
	closedir(d);
	return 0;
}

static int
stub_save_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Writes DIR/<seq><suffix> whole: into a hidden temporary name first, then
 * renamed, so a test polling the folder never reads a half-written file. */
static int
stub_save_file(const char *dir, uint64_t seq, const char *suffix,
    const void *data, size_t len)
{
	char	tmp[PATH_MAX], path[PATH_MAX];
	int	fd, rc = -1;

	if (str_printf(tmp, sizeof(tmp), "%s/.%" PRIu64 "%s.tmp", dir, seq,
	    suffix) == -1 || str_printf(path, sizeof(path), "%s/%" PRIu64 "%s",
	    dir, seq, suffix) == -1) {
		log_warnx("%s: path too long in %s", __func__, dir);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1) {
		log_warn("%s: open %s", __func__, tmp);
		return -1;
	}
	if (stub_save_write_all(fd, data, len) == -1)
		log_warn("%s: write %s", __func__, tmp);
	else
		rc = 0;
	if (close(fd) == -1 && rc == 0) {
		log_warn("%s: close %s", __func__, tmp);
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) == -1) {
		log_warn("%s: rename to %s", __func__, path);
		rc = -1;
	}
	if (rc == -1)
		(void)unlink(tmp);
	return rc;
}

/* A lower-case copy of s, the caller's to free; NULL when out of memory. */
static char *
stub_save_lower(const char *s)
{
	char	*l;
	size_t	 i;

	if ((l = strdup(s)) == NULL)
		return NULL;
	for (i = 0; l[i] != '\0'; i++)
		l[i] = (char)tolower((unsigned char)l[i]);
	return l;
}

/* The values of every header named like header i, joined by ", " (RFC 9110
 * §5.3), NUL-terminated in v (emptied first). */
static int
stub_save_joined(struct evbuffer *v, const struct stub_req *req, size_t i)
{
	const char	*name = stub_req_hname(req, i), *val;
	size_t		 j;
	int		 first = 1;

	evbuffer_drain(v, evbuffer_get_length(v));
	for (j = i; j < req->nhdrs; j++) {
		if (strcasecmp(stub_req_hname(req, j), name) != 0)
			continue;
		val = stub_req_hvalue(req, j);
		if ((!first && evbuffer_add(v, ", ", 2) == -1) ||
		    evbuffer_add(v, val, strlen(val)) == -1)
			return -1;
		first = 0;
	}
	return evbuffer_add(v, "", 1);
}

/* The headers as a JSON object of lower-case names to values; a repeated
 * header is one member, written where it first appears. */
static int
stub_save_headers_json(struct evbuffer *b, const struct stub_req *req)
{
	struct evbuffer	*v;
	char		*name = NULL;
	const char	*joined;
	size_t		 i, j;
	int		 first = 1, rc = -1;

	if ((v = evbuffer_new()) == NULL || evbuffer_add(b, "{", 1) == -1)
		goto out;
	for (i = 0; i < req->nhdrs; i++) {
		for (j = 0; j < i; j++)
			if (strcasecmp(stub_req_hname(req, j),
			    stub_req_hname(req, i)) == 0)
				break;
		if (j < i)
			continue;	/* written with the first of its name */
		if ((name = stub_save_lower(stub_req_hname(req, i))) == NULL ||
		    stub_save_joined(v, req, i) == -1 ||
		    (joined = (const char *)evbuffer_pullup(v, -1)) == NULL ||
		    (!first && evbuffer_add(b, ",", 1) == -1) ||
		    stub_json_str(b, name) == -1 ||
		    evbuffer_add(b, ":", 1) == -1 ||
		    stub_json_str(b, joined) == -1)
			goto out;
		free(name);
		name = NULL;
		first = 0;
	}
	if (evbuffer_add(b, "}\n", 2) == 0)
		rc = 0;
out:
	free(name);
	if (v != NULL)
		evbuffer_free(v);
	return rc;
}

/* Saves seq's body and headers. A failure is logged; the caller goes on. */
int
stub_save_write(const struct stub_cfg *cfg, uint64_t seq,
    const struct stub_req *req)
{
	struct evbuffer	*b;
	unsigned char	*p;
	int		 rc = -1;

	if (cfg->save_bodies == NULL)
		return 0;
	if (stub_save_file(cfg->save_bodies, seq, ".body",
	    req->body_bytes > 0 ? req->body : (const uint8_t *)"",
	    (size_t)req->body_bytes) == -1)
		return -1;
	if ((b = evbuffer_new()) == NULL) {
		log_warnx("%s: evbuffer_new failed", __func__);
		return -1;
	}
	if (stub_save_headers_json(b, req) == -1 ||
	    (p = evbuffer_pullup(b, -1)) == NULL)
		log_warnx("%s: cannot build the headers of %" PRIu64, __func__,
		    seq);
	else
		rc = stub_save_file(cfg->save_bodies, seq, ".headers.json", p,
		    evbuffer_get_length(b));
	evbuffer_free(b);
	return rc;
}
