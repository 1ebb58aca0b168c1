/* Reads the INI configuration with libinih into one validated struct config;
 * every error names file:line so `gatewayd -t` output can be acted on. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "config_parse.h"
#include "log.h"
#include "net/tls.h"
#include "util.h"

static const char *const config_roles[ROLE_COUNT] = {
	[ROLE_TAX] = "tax", [ROLE_FINANCE] = "finance",
	[ROLE_FINANCE_CITY] = "finance-city", [ROLE_HRSS] = "hrss",
	[ROLE_BANK] = "bank", [ROLE_ADMIN] = "admin",
	[ROLE_AUDITOR] = "auditor",
};

static const struct { const char *name; unsigned bit; } config_methods[] = {
	{ "GET", METHOD_GET }, { "HEAD", METHOD_HEAD }, { "POST", METHOD_POST },
	{ "PUT", METHOD_PUT }, { "DELETE", METHOD_DELETE },
	{ "PATCH", METHOD_PATCH }, { "OPTIONS", METHOD_OPTIONS },
};

/* Parser state: inih gives no line numbers to the handler, so the reader
 * counts the lines it hands over. */

/* "FILE:LINE: <what>message" on stderr. */
static void
config_report(const struct config *cf, int line, const char *what,
    const char *fmt, va_list ap)
{
	char	msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s:%d: %s%s\n", cf->path, line, what, msg);
}

void
config_error(struct config *cf, int line, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	config_report(cf, line, "", fmt, ap);
	va_end(ap);
	cf->nerrors++;
}

void
config_warn(const struct config *cf, int line, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	config_report(cf, line, "warning: ", fmt, ap);
	va_end(ap);
}

const char *
config_role_name(enum role r)
{
	return (r >= 0 && r < ROLE_COUNT) ? config_roles[r] : "?";
}

int
config_role_parse(const char *name, enum role *out)
{
	int	i;

	for (i = 0; i < ROLE_COUNT; i++)
		if (strcmp(name, config_roles[i]) == 0) {
			*out = (enum role)i;
			return 0;
		}
	return -1;
}

unsigned
config_method_bit(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < nitems(config_methods); i++)
		if (strlen(config_methods[i].name) == len &&
		    memcmp(config_methods[i].name, name, len) == 0)
			return config_methods[i].bit;
	return 0;
}

/* Resolves a path relative to the config file's folder. */
static int
config_path(struct config_parse *p, char *dst, size_t dsz, const char *v)
{
	if (v[0] == '/' || p->cf->dir[0] == '\0')
		return str_copy(dst, dsz, v);
	return str_printf(dst, dsz, "%s/%s", p->cf->dir, v);
}

int
config_duration(struct config_parse *p, const char *v, uint64_t *out)
{
	/* A day is far beyond any sensible timeout here. */
	if (parse_duration_ms(v, 86400000ULL, out) == -1) {
		config_error(p->cf, p->line, "bad duration \"%s\" (e.g. 10s, 250ms)",
		    v);
		return -1;
	}
	return 0;
}

int
config_number(struct config_parse *p, const char *v, uint64_t min,
    uint64_t max, uint64_t *out)
{
	if (parse_u64(v, min, max, out) == -1) {
		config_error(p->cf, p->line, "\"%s\" is not a number in [%llu, %llu]",
		    v, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	return 0;
}

int
config_set_path(struct config_parse *p, char *dst, size_t dsz, const char *v)
{
	if (config_path(p, dst, dsz, v) == -1) {
		config_error(p->cf, p->line, "path too long");
		return -1;
	}
	return 0;
}

void
config_set_text(struct config_parse *p, char *dst, size_t dsz, const char *v,
    const char *what)
{
	if (str_copy(dst, dsz, v) == -1)
		config_error(p->cf, p->line, "%s longer than %zu bytes", what,
		    dsz - 1);
}

static void
config_gateway_kv(struct config_parse *p, const char *k, const char *v)
{
	struct config	*cf = p->cf;
	uint64_t	 n;

	if (strcmp(k, "workers") == 0) {
		if (strcmp(v, "auto") == 0) {
			long c = sysconf(_SC_NPROCESSORS_ONLN);
			cf->workers = c < 1 ? 1 : (c > CFG_MAX_WORKERS ?
			    CFG_MAX_WORKERS : (unsigned)c);
		} else if (config_number(p, v, 1, CFG_MAX_WORKERS, &n) == 0)
			cf->workers = (unsigned)n;
	} else if (strcmp(k, "shutdown_timeout") == 0)
		config_duration(p, v, &cf->shutdown_timeout_ms);
	else if (strcmp(k, "user") == 0) {
		struct passwd	*pw;

		if ((pw = getpwnam(v)) == NULL)
			config_error(cf, p->line, "no such user \"%s\"", v);
		else {
			config_set_text(p, cf->user, sizeof(cf->user), v, "user");
			cf->uid = pw->pw_uid;
			cf->gid = pw->pw_gid;
		}
	} else if (strcmp(k, "sandbox") == 0) {
		if (strcmp(v, "yes") == 0)
			cf->sandbox = 1;
		else if (strcmp(v, "no") == 0)
			cf->sandbox = 0;
		else
			config_error(cf, p->line, "sandbox must be yes or no");
	}
	else if (strcmp(k, "schemas") == 0)
		config_set_path(p, cf->schemas, sizeof(cf->schemas), v);
	else if (strcmp(k, "access_log") == 0) {
		if (strcmp(v, "-") == 0)
			str_copy(cf->access_log, sizeof(cf->access_log), "-");
		else
			config_set_path(p, cf->access_log,
			    sizeof(cf->access_log), v);
	} else
		config_error(cf, p->line, "unknown key \"%s\" in [gateway]", k);
}

/* Splits a comma-separated list and calls fn on each trimmed item. */
static void
config_list(struct config_parse *p, const char *v,
    void (*fn)(struct config_parse *, struct cfg_route *, const char *),
    struct cfg_route *r)
{
	char	 buf[512], *s, *item, *save = NULL;

	if (str_copy(buf, sizeof(buf), v) == -1) {
		config_error(p->cf, p->line, "list too long");
		return;
	}
	for (s = buf; (item = strtok_r(s, ",", &save)) != NULL; s = NULL) {
		item = str_trim(item);
		if (*item != '\0')
			fn(p, r, item);
	}
}

static void
config_route_method(struct config_parse *p, struct cfg_route *r, const char *m)
{
	unsigned	bit = config_method_bit(m, strlen(m));

	if (bit == 0)
		config_error(p->cf, p->line, "unknown method \"%s\"", m);
	r->methods |= bit;
}

static void
config_route_role(struct config_parse *p, struct cfg_route *r, const char *m)
{
	enum role	role;

	if (config_role_parse(m, &role) == -1)
		config_error(p->cf, p->line, "unknown role \"%s\"", m);
	else
		r->roles |= 1u << role;
}

static void
config_route_kv(struct config_parse *p, struct cfg_route *r, const char *k,
    const char *v)
{
	if (strcmp(k, "prefix") == 0) {
		if (v[0] != '/' || str_copy(r->prefix, sizeof(r->prefix), v) == -1)
			config_error(p->cf, p->line,
			    "prefix must start with / and be shorter than %d",
			    CFG_PREFIX_MAX);
		r->prefix_len = strlen(r->prefix);
	} else if (strcmp(k, "methods") == 0)
		config_list(p, v, config_route_method, r);
	else if (strcmp(k, "roles") == 0)
		config_list(p, v, config_route_role, r);
	else if (strcmp(k, "upstream") == 0)
		config_set_text(p, r->upstream_name, sizeof(r->upstream_name), v,
		    "upstream");
	else
		config_error(p->cf, p->line, "unknown key \"%s\" in a route", k);
}

static void
config_limits_kv(struct config_parse *p, const char *k, const char *v)
{
	struct cfg_limits	*l = &p->cf->limits;

	if (strcmp(k, "max_header_bytes") == 0)
		config_number(p, v, 1024, 1048576, &l->max_header_bytes);
	else if (strcmp(k, "max_headers") == 0)
		config_number(p, v, 4, 1024, &l->max_headers);
	else if (strcmp(k, "max_body") == 0)
		config_number(p, v, 0, 1ULL << 40, &l->max_body);
	else if (strcmp(k, "request_timeout") == 0)
		config_duration(p, v, &l->request_timeout_ms);
	else if (strcmp(k, "idle_timeout") == 0)
		config_duration(p, v, &l->idle_timeout_ms);
	else if (strcmp(k, "max_connections") == 0)
		config_number(p, v, 1, 1000000, &l->max_connections);
	else if (strcmp(k, "max_connections_per_agency") == 0)
		config_number(p, v, 1, 1000000, &l->max_connections_per_agency);
	else if (strcmp(k, "handshake_timeout") == 0)
		config_duration(p, v, &l->handshake_timeout_ms);
	else if (strcmp(k, "max_handshakes") == 0)
		config_number(p, v, 1, 1000000, &l->max_handshakes);
	else if (strcmp(k, "max_handshakes_per_address") == 0)
		config_number(p, v, 1, 1000000, &l->max_handshakes_per_address);
	else
		config_error(p->cf, p->line, "unknown key \"%s\" in [limits]", k);
}

static void
config_keeper_kv(struct config_parse *p, const char *k, const char *v)
{
	struct cfg_keeper	*kp = &p->cf->keeper;

	if (kp->line == 0)
		kp->line = p->line;
	if (strcmp(k, "database") == 0)
		config_set_path(p, kp->database, sizeof(kp->database), v);
	else if (strcmp(k, "checkpoint_file") == 0)
		config_set_path(p, kp->checkpoint_file,
		    sizeof(kp->checkpoint_file), v);
	else if (strcmp(k, "log_key") == 0)
		config_set_path(p, kp->log_key, sizeof(kp->log_key), v);
	else if (strcmp(k, "signing_key") == 0)
		config_set_path(p, kp->signing_key, sizeof(kp->signing_key), v);
	else if (strcmp(k, "accounts") == 0)
		config_set_path(p, kp->accounts, sizeof(kp->accounts), v);
	else if (strcmp(k, "wal_limit") == 0)
		config_number(p, v, 1ULL << 20, 1ULL << 40, &kp->wal_limit);
	else if (strcmp(k, "witness_quorum") == 0) {
		config_number(p, v, 1, CFG_MAX_WITNESSES, &kp->witness_quorum);
		kp->witness_quorum_line = p->line;
	} else if (strcmp(k, "origin") == 0) {
		/* A signed-note key name: no spaces, no plus signs. */
		if (str_copy(kp->origin, sizeof(kp->origin), v) == -1 ||
		    strpbrk(v, " +\t") != NULL || v[0] == '\0')
			config_error(p->cf, p->line,
			    "origin must be a short name without spaces or '+'");
	} else
		config_error(p->cf, p->line, "unknown key \"%s\" in [keeper]", k);
}

/* "key_file = PATH": the witness's vkey, the file's first line (as the
 * witness's operator hands it over). */
static void
config_witness_key_file(struct config_parse *p, struct cfg_witness *w,
    const char *v)
{
	char	 path[CFG_PATH_MAX], line[CFG_VKEY_MAX + 2];
	FILE	*fp;

	if (config_set_path(p, path, sizeof(path), v) == -1)
		return;
	if ((fp = fopen(path, "r")) == NULL) {
		config_error(p->cf, p->line, "key_file %s: %s", path,
		    strerror(errno));
		return;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	line[strcspn(line, "\r\n")] = '\0';
	if (str_copy(w->key, sizeof(w->key), line) == -1)
		config_error(p->cf, p->line, "key_file %s: the first line is "
		    "too long for a vkey", path);
}

static void
config_witness_kv(struct config_parse *p, struct cfg_witness *w,
    const char *k, const char *v)
{
	if (strcmp(k, "upstream") == 0)
		config_set_text(p, w->upstream_name, sizeof(w->upstream_name), v,
		    "upstream");
	else if (strcmp(k, "key") == 0)
		config_set_text(p, w->key, sizeof(w->key), v, "key");
	else if (strcmp(k, "key_file") == 0)
		config_witness_key_file(p, w, v);
	else
		config_error(p->cf, p->line, "unknown key \"%s\" in a witness",
		    k);
}

static int
config_name_ok(const char *n)
{
	size_t	i, len = strlen(n);

	if (len == 0 || len >= CFG_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_' &&
		    n[i] != '.')
			return 0;
	return 1;
}

/* Starts a new [kind name] section: returns the object to fill, or NULL. */
static void *
config_section_begin(struct config_parse *p, const char *kind, const char *name)
{
	struct config	*cf = p->cf;
	size_t		 i;

	if (strcmp(kind, "listener") == 0) {
		struct cfg_listener *l;

		if (strcmp(name, "agency") == 0)
			l = &cf->listeners[LISTENER_AGENCY];
		else if (strcmp(name, "admin") == 0)
			l = &cf->listeners[LISTENER_ADMIN];
		else {
			config_error(cf, p->line,
			    "listener must be \"agency\" or \"admin\"");
			return NULL;
		}
		if (l->configured)
			config_error(cf, p->line, "listener %s defined twice", name);
		l->configured = 1;
		l->line = p->line;
		return l;
	}
	if (!config_name_ok(name)) {
		config_error(cf, p->line, "bad %s name \"%s\"", kind, name);
		return NULL;
	}
	if (strcmp(kind, "agency") == 0) {
		for (i = 0; i < cf->nagencies; i++)
			if (strcmp(cf->agencies[i].name, name) == 0)
				config_error(cf, p->line, "agency %s defined twice",
				    name);
		if (cf->nagencies == CFG_MAX_AGENCIES) {
			config_error(cf, p->line, "too many agencies");
			return NULL;
		}
		struct cfg_agency *a = &cf->agencies[cf->nagencies++];
		a->line = p->line;
		str_copy(a->name, sizeof(a->name), name);
		return a;
	}
	if (strcmp(kind, "upstream") == 0) {
		for (i = 0; i < cf->nupstreams; i++)
			if (strcmp(cf->upstreams[i].name, name) == 0)
				config_error(cf, p->line,
				    "upstream %s defined twice", name);
		if (cf->nupstreams == CFG_MAX_UPSTREAMS) {
			config_error(cf, p->line, "too many upstreams");
			return NULL;
		}
		struct cfg_upstream *u = &cf->upstreams[cf->nupstreams++];
		u->line = p->line;
		str_copy(u->name, sizeof(u->name), name);
		u->connect_timeout_ms = 2000;
		u->timeout_ms = 30000;
		/* Below the 5 s keep-alive common among servers (Apache,
		 * Node.js): we drop an idle connection before its peer does,
		 * not while a request is on its way. */
		u->idle_timeout_ms = 4000;
		u->pool = 16;
		return u;
	}
	if (strcmp(kind, "route") == 0) {
		if (cf->nroutes == CFG_MAX_ROUTES) {
			config_error(cf, p->line, "too many routes");
			return NULL;
		}
		struct cfg_route *r = &cf->routes[cf->nroutes++];
		r->line = p->line;
		r->upstream = -1;
		str_copy(r->name, sizeof(r->name), name);
		return r;
	}
	if (strcmp(kind, "bank") == 0) {
		for (i = 0; i < cf->nbanks; i++)
			if (strcmp(cf->banks[i].name, name) == 0)
				config_error(cf, p->line, "bank %s defined twice",
				    name);
		if (cf->nbanks == CFG_MAX_BANKS) {
			config_error(cf, p->line, "too many banks");
			return NULL;
		}
		struct cfg_bank *b = &cf->banks[cf->nbanks++];
		b->line = p->line;
		b->agency = b->upstream = -1;
		str_copy(b->name, sizeof(b->name), name);
		str_copy(b->charset, sizeof(b->charset), "UTF-8");
		return b;
	}
	if (strcmp(kind, "witness") == 0) {
		for (i = 0; i < cf->nwitnesses; i++)
			if (strcmp(cf->witnesses[i].name, name) == 0)
				config_error(cf, p->line,
				    "witness %s defined twice", name);
		if (cf->nwitnesses == CFG_MAX_WITNESSES) {
			config_error(cf, p->line, "too many witnesses");
			return NULL;
		}
		struct cfg_witness *w = &cf->witnesses[cf->nwitnesses++];
		w->line = p->line;
		w->upstream = -1;
		str_copy(w->name, sizeof(w->name), name);
		return w;
	}
	config_error(cf, p->line, "unknown section [%s %s]", kind, name);
	return NULL;
}

static int
config_handler(void *arg, const char *section, const char *k, const char *v)
{
	struct config_parse	*p = arg;

	/* Sections are tracked by config_reader, which sees every header
	 * (even of an empty section) with its full name and its own line. */
	if (p->kind[0] == '\0') {
		config_error(p->cf, p->line, "\"%s\" is outside any section", k);
		return 1;
	}
	if (p->bad_section)
		return 1;	/* the section itself was already reported */
	if (strcmp(p->kind, "gateway") == 0)
		config_gateway_kv(p, k, v);
	else if (strcmp(p->kind, "limits") == 0)
		config_limits_kv(p, k, v);
	else if (strcmp(p->kind, "keeper") == 0)
		config_keeper_kv(p, k, v);
	else if (strcmp(p->kind, "listener") == 0)
		config_listener_kv(p, p->cur, k, v);
	else if (strcmp(p->kind, "agency") == 0)
		config_agency_kv(p, p->cur, k, v);
	else if (strcmp(p->kind, "upstream") == 0)
		config_upstream_kv(p, p->cur, k, v);
	else if (strcmp(p->kind, "route") == 0)
		config_route_kv(p, p->cur, k, v);
	else if (strcmp(p->kind, "courier") == 0)
		config_courier_kv(p, k, v);
	else if (strcmp(p->kind, "rules") == 0)
		config_rules_kv(p, k, v);
	else if (strcmp(p->kind, "bank") == 0)
		config_bank_kv(p, p->cur, k, v);
	else if (strcmp(p->kind, "witness") == 0)
		config_witness_kv(p, p->cur, k, v);
	return 1;	/* keep going: report every error, not just the first */
}

/* A "[kind name]" header line: starts the section it names. */
static void
config_section_line(struct config_parse *p, const char *line)
{
	char		 hdr[CFG_NAME_MAX * 2], *end, *sp;
	const char	*name = "";

	p->cur = NULL;
	p->bad_section = 1;
	p->kind[0] = '.';	/* inside some section, even a bad one */
	p->kind[1] = '\0';
	if (str_copy(hdr, sizeof(hdr), line + 1) == -1 ||
	    (end = strchr(hdr, ']')) == NULL) {
		config_error(p->cf, p->line, "bad section header");
		return;
	}
	*end = '\0';
	if ((sp = strchr(hdr, ' ')) != NULL) {
		*sp = '\0';
		name = sp + 1;
	}
	if (str_copy(p->kind, sizeof(p->kind), hdr) == -1) {
		config_error(p->cf, p->line, "bad section header");
		return;
	}
	if (p->section_fn != NULL) {
		if (p->section_fn(p, hdr, sp != NULL ? name : NULL) == 0)
			p->bad_section = 0;
		return;
	}
	if (strcmp(hdr, "gateway") == 0 || strcmp(hdr, "limits") == 0 ||
	    strcmp(hdr, "keeper") == 0 || strcmp(hdr, "courier") == 0 ||
	    strcmp(hdr, "rules") == 0) {
		if (sp != NULL)
			config_error(p->cf, p->line, "[%s] takes no name", hdr);
		else
			p->bad_section = 0;
		if (strcmp(hdr, "keeper") == 0 && p->cf->keeper.line == 0)
			p->cf->keeper.line = p->line;
		if (strcmp(hdr, "courier") == 0 && p->cf->courier.line == 0)
			p->cf->courier.line = p->line;
		return;
	}
	if ((p->cur = config_section_begin(p, hdr, name)) != NULL)
		p->bad_section = 0;
}

/* Hands inih one physical line at a time (inih's own buffer would split a
 * long line and parse its tail as a new line), counting lines as it goes. */
static char *
config_reader(char *buf, int num, void *arg)
{
	struct config_parse	*p = arg;
	ssize_t			 n;
	const char		*t;

	if ((n = getline(&p->linebuf, &p->linecap, p->fp)) == -1)
		return NULL;
	p->line++;
	if (n >= num - 1 && p->linebuf[n - 1] == '\n')
		n--;
	if (n >= num - 1) {
		config_error(p->cf, p->line, "line longer than %d bytes", num - 2);
		str_copy(buf, (size_t)num, "\n");
		return buf;
	}
	memcpy(buf, p->linebuf, (size_t)n);
	buf[n] = '\0';
	for (t = buf; *t == ' ' || *t == '\t'; t++)
		;
	if (*t == '[')
		config_section_line(p, t);
	return buf;
}

int
config_parse_file(struct config_parse *p, const char *file,
    int (*handler)(void *, const char *, const char *, const char *))
{
	int	rc;

	if ((p->fp = fopen(file, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(config_reader, p, handler, p);
	fclose(p->fp);
	p->fp = NULL;
	free(p->linebuf);
	p->linebuf = NULL;
	if (rc > 0)
		config_error(p->cf, rc, "syntax error");
	else if (rc < 0)
		config_error(p->cf, 0, "cannot read the file");
	return 0;
}

int
config_set_file(struct config *cf, const char *file)
{
	char	*slash;

	if (str_copy(cf->path, sizeof(cf->path), file) == -1) {
		fprintf(stderr, "%s: path longer than %zu bytes\n", file,
		    sizeof(cf->path) - 1);
		return -1;
	}
	str_copy(cf->dir, sizeof(cf->dir), file);	/* same size as path */
	if ((slash = strrchr(cf->dir, '/')) != NULL)
		*slash = '\0';
	else
		str_copy(cf->dir, sizeof(cf->dir), ".");
	return 0;
}

struct config *
config_load(const char *file)
{
	struct config		*cf;
	struct config_parse	 p;

	if ((cf = calloc(1, sizeof(*cf))) == NULL) {
		log_warn("%s: calloc", __func__);
		return NULL;
	}
	if (config_set_file(cf, file) == -1) {
		free(cf);
		return NULL;
	}
	cf->workers = 1;
	cf->shutdown_timeout_ms = 10000;
	cf->sandbox = 1;
	cf->uid = (uid_t)-1;
	cf->gid = (gid_t)-1;
	str_copy(cf->access_log, sizeof(cf->access_log), "-");
	cf->listeners[LISTENER_AGENCY].min_proto = TLS_PROTO_1_2;
	cf->listeners[LISTENER_ADMIN].min_proto = TLS_PROTO_1_2;
	cf->listeners[LISTENER_AGENCY].tickets = 1;
	cf->listeners[LISTENER_ADMIN].tickets = 1;
	cf->listeners[LISTENER_AGENCY].send_timeout_ms = 60000;
	cf->listeners[LISTENER_ADMIN].send_timeout_ms = 60000;
	cf->limits = (struct cfg_limits){
		.max_header_bytes = 16384, .max_headers = 64,
		.max_body = 1048576, .request_timeout_ms = 10000,
		.idle_timeout_ms = 60000, .max_connections = 4096,
		.max_connections_per_agency = 512,
		/* The handshake limits: 0 until validated, which derives
		 * them from the others unless they are set. */
	};
	cf->keeper.wal_limit = 64ULL << 20;
	cf->rules.capacity_months = 6;
	cf->rules.due_day = 10;
	cf->rules.cooling_off_days = 14;
	cf->courier = (struct cfg_courier){
		.finance = -1, .hrss = -1, .max_attempts = 8,
		.retry_min_ms = 200, .retry_max_ms = 30000,
	};

	memset(&p, 0, sizeof(p));
	p.cf = cf;
	if (config_parse_file(&p, file, config_handler) == -1) {
		free(cf);
		return NULL;
	}
	/* Schemas ship beside the configuration unless it (or, for tools
	 * and tests, $GW_SCHEMAS) says otherwise. */
	if (cf->schemas[0] == '\0') {
		const char *env = getenv("GW_SCHEMAS");

		if ((env != NULL && env[0] != '\0') ?
		    str_copy(cf->schemas, sizeof(cf->schemas), env) == -1 :
		    str_printf(cf->schemas, sizeof(cf->schemas), "%s/schemas",
		    cf->dir) == -1)
			config_error(cf, 0, "schemas path too long");
	}
	config_validate(cf);
	if (cf->nerrors > 0) {
		config_free(cf);
		return NULL;
	}
	return cf;
}

void
config_free(struct config *cf)
{
	if (cf == NULL)
		return;
	/* Pins are public, paths too: nothing secret to zero here. */
	free(cf);
}
