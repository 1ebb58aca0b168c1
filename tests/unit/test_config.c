/* Unit tests for config: config_load on files written to a temporary folder.
 * A good file gives the expected structure; every validation error returns
 * NULL and prints "FILE:LINE: message" on stderr, with the right line. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "util.h"
#include "net/tls.h"

#define PIN_A	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define PIN_B	"b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
#define PIN_C	"C0FFEE00C0FFEE00C0FFEE00C0FFEE00C0FFEE00C0FFEE00C0FFEE00C0FFEE00"
#define PIN_D	"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

#define ERRMAX	16384

struct fixture {
	char	dir[64];
	char	path[128];
	char	err[ERRMAX];	/* what config_load printed on stderr */
};

static int
setup(void **state)
{
	struct fixture	*fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	str_copy(fx->dir, sizeof(fx->dir), "/tmp/gw-test-config.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	str_printf(fx->path, sizeof(fx->path), "%s/gw.conf", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;
	char		 p[160];

	unlink(fx->path);
	str_printf(p, sizeof(p), "%s/stderr", fx->dir);
	unlink(p);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void
write_text(const char *path, const char *text)
{
	FILE	*fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

/* config_load(file) with stderr captured into fx->err. */
static struct config *
load_file(struct fixture *fx, const char *file)
{
	struct config	*cf;
	char		 errpath[160];
	int		 fd, saved;
	ssize_t		 n;

	str_printf(errpath, sizeof(errpath), "%s/stderr", fx->dir);
	fd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	cf = config_load(file);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, fx->err, sizeof(fx->err) - 1);
	assert_true(n >= 0);
	fx->err[n] = '\0';
	close(fd);
	unlink(errpath);
	return cf;
}

static struct config *
load_text(struct fixture *fx, const char *text)
{
	write_text(fx->path, text);
	return load_file(fx, fx->path);
}

/* The first stderr line that starts with "PATH:LINE: ", or NULL. */
static const char *
error_at(const struct fixture *fx, int line)
{
	char		 prefix[200];
	const char	*p = fx->err;
	size_t		 pl;

	str_printf(prefix, sizeof(prefix), "%s:%d: ", fx->path, line);
	pl = strlen(prefix);
	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, pl) == 0)
			return p + pl;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return NULL;
}

/* Whether some message at that line contains what. */
static int
error_has(const struct fixture *fx, int line, const char *what)
{
	char		 prefix[200];
	const char	*p = fx->err, *nl;
	size_t		 pl;

	str_printf(prefix, sizeof(prefix), "%s:%d: ", fx->path, line);
	pl = strlen(prefix);
	while (p != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		if (nl != NULL && strncmp(p, prefix, pl) == 0 &&
		    memmem(p + pl, (size_t)(nl - p) - pl, what, strlen(what)) !=
		    NULL)
			return 1;
		p = nl != NULL ? nl + 1 : NULL;
	}
	return 0;
}

/* Loading text fails, with what reported at line (or, if alt_line is not 0,
 * at alt_line: errors about a whole section may name the section header or
 * the section's first key). */
static void
expect_error2(struct fixture *fx, const char *text, int line, int alt_line,
    const char *what)
{
	struct config	*cf = load_text(fx, text);

	if (cf != NULL) {
		config_free(cf);
		fail_msg("config accepted; expected line %d: %s\n--- config:\n%s",
		    line, what, text);
	}
	if (!error_has(fx, line, what) &&
	    (alt_line == 0 || !error_has(fx, alt_line, what)))
		fail_msg("expected \"%s:%d: ...%s...\"; stderr was:\n%s",
		    fx->path, line, what, fx->err);
}

static void
expect_error(struct fixture *fx, const char *text, int line, const char *what)
{
	expect_error2(fx, text, line, 0, what);
}

/* ---- a minimal good file, to which each error case appends ---- */

#define MIN_CONF \
	"[listener agency]\n"			/* 1 */ \
	"listen = 127.0.0.1:8443\n"		/* 2 */ \
	"cert = gw.crt\n"			/* 3 */ \
	"key = gw.key\n"			/* 4 */ \
	"ca = ca.crt\n"				/* 5 */ \
	"[listener admin]\n"			/* 6 */ \
	"listen = 127.0.0.1:8444\n"		/* 7 */ \
	"cert = gw.crt\n"			/* 8 */ \
	"key = gw.key\n"			/* 9 */ \
	"ca = ca.crt\n"				/* 10 */ \
	"[keeper]\n"				/* 11 */ \
	"database = gw.db\n"			/* 12 */ \
	"checkpoint_file = checkpoint\n"	/* 13 */ \
	"origin = gateway.test/log\n"		/* 14 */ \
	"log_key = log.key\n"			/* 15 */ \
	"[agency tax]\n"			/* 16 */ \
	"role = tax\n"				/* 17 */ \
	"pin = " PIN_A "\n"			/* 18 */ \
	"[upstream finance]\n"			/* 19 */ \
	"url = https://127.0.0.1:9441\n"	/* 20 */ \
	"ca = ca.crt\n"				/* 21 */ \
	"cert = c.crt\n"			/* 22 */ \
	"key = c.key\n"				/* 23 */
#define M	23	/* lines in MIN_CONF: appended line k is M + k */

static void
test_minimal(void **state)
{
	struct fixture	*fx = *state;
	struct config	*cf = load_text(fx, MIN_CONF);

	if (cf == NULL)
		fail_msg("minimal config refused:\n%s", fx->err);
	assert_string_equal(fx->err, "");
	/* Defaults. */
	assert_int_equal(cf->workers, 1);
	assert_int_equal(cf->shutdown_timeout_ms, 10000);
	assert_string_equal(cf->access_log, "-");
	assert_int_equal(cf->listeners[LISTENER_AGENCY].min_proto, TLS_PROTO_1_2);
	assert_int_equal(cf->limits.max_header_bytes, 16384);
	assert_int_equal(cf->limits.max_headers, 64);
	assert_int_equal(cf->limits.max_body, 1048576);
	assert_int_equal(cf->limits.request_timeout_ms, 10000);
	assert_int_equal(cf->limits.idle_timeout_ms, 60000);
	assert_int_equal(cf->upstreams[0].connect_timeout_ms, 2000);
	assert_int_equal(cf->upstreams[0].timeout_ms, 30000);
	assert_int_equal(cf->upstreams[0].idle_timeout_ms, 4000);
	assert_int_equal(cf->upstreams[0].pool, 16);
	assert_int_equal(cf->nroutes, 0);
	/* Hostile clients: the handshake budget derives from the others. */
	assert_int_equal(cf->listeners[LISTENER_AGENCY].send_timeout_ms, 60000);
	assert_int_equal(cf->limits.handshake_timeout_ms, 5000);
	assert_int_equal(cf->limits.max_handshakes, 256);
	assert_int_equal(cf->limits.max_handshakes_per_address, 128);
	config_free(cf);
}

/* Handshake limits: derived from small caps, kept when given, checked. */
static void
test_handshake_limits(void **state)
{
	struct fixture	*fx = *state;
	struct config	*cf;

	cf = load_text(fx, MIN_CONF "[limits]\nmax_connections = 8\n"
	    "max_connections_per_agency = 4\nrequest_timeout = 2s\n");
	if (cf == NULL)
		fail_msg("refused:\n%s", fx->err);
	assert_int_equal(cf->limits.max_handshakes, 16);
	assert_int_equal(cf->limits.max_handshakes_per_address, 8);
	assert_int_equal(cf->limits.handshake_timeout_ms, 2000);
	config_free(cf);
	cf = load_text(fx, MIN_CONF "[limits]\nhandshake_timeout = 3s\n"
	    "max_handshakes = 40\nmax_handshakes_per_address = 3\n");
	if (cf == NULL)
		fail_msg("refused:\n%s", fx->err);
	assert_int_equal(cf->limits.handshake_timeout_ms, 3000);
	assert_int_equal(cf->limits.max_handshakes, 40);
	assert_int_equal(cf->limits.max_handshakes_per_address, 3);
	config_free(cf);
	expect_error(fx, MIN_CONF "[limits]\nmax_handshakes = 4\n"
	    "max_handshakes_per_address = 5\n", 1,
	    "max_handshakes_per_address exceeds max_handshakes");
}

/* ---- the full good file ---- */

#define GOOD_CONF \
	"# A comment\n" \
	"; another\n" \
	"[gateway]\n" \
	"workers = 3\n" \
	"shutdown_timeout = 250ms\n" \
	"access_log = logs/access.log\n" \
	"\n" \
	"[listener agency]\n" \
	"listen = 127.0.0.1:8443\n" \
	"cert = certs/gw.crt\n" \
	"key = certs/gw.key\n" \
	"ca = /etc/gw/ca.crt\n" \
	"crl = certs/crl.pem\n" \
	"min_protocol = TLSv1.3\n" \
	"[listener admin]\n" \
	"listen = [::1]:8444\n" \
	"cert = certs/gw.crt\n" \
	"key = certs/gw.key\n" \
	"ca = certs/ca.crt\n" \
	"[keeper]\n" \
	"database = state/gw.db\n" \
	"checkpoint_file = state/checkpoint\n" \
	"origin = gateway.test/log\n" \
	"log_key = keys/log.key\n" \
	"[agency tax]\n" \
	"role = tax\n" \
	"pin = " PIN_A "\n" \
	"[agency finance-city-620500]\n" \
	"role = finance-city\n" \
	"city = 620500\n" \
	"pin = " PIN_B "\n" \
	"pin = " PIN_C "\n" \
	"[agency hrss]\n" \
	"role = hrss\n" \
	"pin = " PIN_D "\n" \
	"[upstream finance]\n" \
	"url = https://127.0.0.1:9441\n" \
	"ca = certs/ca.crt\n" \
	"cert = certs/client.crt\n" \
	"key = /abs/client.key\n" \
	"connect_timeout = 1500ms\n" \
	"timeout = 2m\n" \
	"idle_timeout = 2500ms\n" \
	"pool = 8\n" \
	"[upstream hrss]\n" \
	"url = https://localhost:9442/\n" \
	"ca = certs/ca.crt\n" \
	"cert = certs/client.crt\n" \
	"key = certs/client.key\n" \
	"[route finance]\n" \
	"prefix = /pass/finance/\n" \
	"methods = GET, POST\n" \
	"roles = finance, tax\n" \
	"upstream = finance\n" \
	"[route hrss]\n" \
	"prefix = /pass/hrss/\n" \
	"roles = hrss , finance-city,admin\n" \
	"upstream = hrss\n" \
	"[route options]\n" \
	"prefix = /pass/finance/options/\n" \
	"methods = OPTIONS,HEAD,PUT,DELETE,PATCH\n" \
	"roles = bank\n" \
	"upstream = finance\n" \
	"[limits]\n" \
	"max_header_bytes = 8192\n" \
	"max_headers = 32\n" \
	"max_body = 65536\n" \
	"request_timeout = 5s\n" \
	"idle_timeout = 1h\n" \
	"max_connections = 100\n" \
	"max_connections_per_agency = 10\n"

static void
pin_of(const char *hex, unsigned char out[32])
{
	assert_int_equal(hex_decode(out, 32, hex), 0);
}

static void
test_good(void **state)
{
	struct fixture		*fx = *state;
	struct config		*cf = load_text(fx, GOOD_CONF);
	char			 want[CFG_PATH_MAX];
	unsigned char		 pin[32];
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const struct cfg_route	*r;

	if (cf == NULL)
		fail_msg("good config refused:\n%s", fx->err);
	assert_string_equal(fx->err, "");
	assert_string_equal(cf->path, fx->path);
	assert_string_equal(cf->dir, fx->dir);

	/* [gateway] */
	assert_int_equal(cf->workers, 3);
	assert_int_equal(cf->shutdown_timeout_ms, 250);
	str_printf(want, sizeof(want), "%s/logs/access.log", fx->dir);
	assert_string_equal(cf->access_log, want);

	/* listeners: relative paths against the file's folder */
	const struct cfg_listener *la = &cf->listeners[LISTENER_AGENCY];
	assert_true(la->configured);
	assert_string_equal(la->listen, "127.0.0.1:8443");
	sin = (const struct sockaddr_in *)&la->addr;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 8443);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(la->addrlen, sizeof(struct sockaddr_in));
	str_printf(want, sizeof(want), "%s/certs/gw.crt", fx->dir);
	assert_string_equal(la->cert, want);
	str_printf(want, sizeof(want), "%s/certs/gw.key", fx->dir);
	assert_string_equal(la->key, want);
	assert_string_equal(la->ca, "/etc/gw/ca.crt");	/* absolute: kept */
	str_printf(want, sizeof(want), "%s/certs/crl.pem", fx->dir);
	assert_string_equal(la->crl, want);
	assert_int_equal(la->min_proto, TLS_PROTO_1_3);
	const struct cfg_listener *lm = &cf->listeners[LISTENER_ADMIN];
	assert_true(lm->configured);
	sin6 = (const struct sockaddr_in6 *)&lm->addr;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 8444);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_int_equal(lm->addrlen, sizeof(struct sockaddr_in6));
	assert_string_equal(lm->crl, "");
	assert_int_equal(lm->min_proto, TLS_PROTO_1_2);

	/* keeper */
	str_printf(want, sizeof(want), "%s/state/gw.db", fx->dir);
	assert_string_equal(cf->keeper.database, want);
	str_printf(want, sizeof(want), "%s/keys/log.key", fx->dir);
	assert_string_equal(cf->keeper.log_key, want);
	assert_string_equal(cf->keeper.origin, "gateway.test/log");

	/* agencies */
	assert_int_equal(cf->nagencies, 3);
	assert_string_equal(cf->agencies[0].name, "tax");
	assert_int_equal(cf->agencies[0].role, ROLE_TAX);
	assert_string_equal(cf->agencies[0].city, "");
	assert_int_equal(cf->agencies[0].npins, 1);
	pin_of(PIN_A, pin);
	assert_memory_equal(cf->agencies[0].pins[0], pin, 32);
	assert_string_equal(cf->agencies[1].name, "finance-city-620500");
	assert_int_equal(cf->agencies[1].role, ROLE_FINANCE_CITY);
	assert_string_equal(cf->agencies[1].city, "620500");
	assert_int_equal(cf->agencies[1].npins, 2);
	pin_of(PIN_B, pin);
	assert_memory_equal(cf->agencies[1].pins[0], pin, 32);
	pin_of(PIN_C, pin);		/* upper-case hex */
	assert_memory_equal(cf->agencies[1].pins[1], pin, 32);
	assert_int_equal(cf->agencies[2].role, ROLE_HRSS);
	/* [agency hrss] is at line 33, its first key at 34 */
	assert_true(cf->agencies[2].line == 33 || cf->agencies[2].line == 34);

	/* upstreams */
	assert_int_equal(cf->nupstreams, 2);
	const struct cfg_upstream *u = &cf->upstreams[0];
	assert_string_equal(u->name, "finance");
	assert_string_equal(u->url, "https://127.0.0.1:9441");
	assert_string_equal(u->host, "127.0.0.1");
	assert_int_equal(u->port, 9441);
	sin = (const struct sockaddr_in *)&u->addr;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 9441);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	str_printf(want, sizeof(want), "%s/certs/client.crt", fx->dir);
	assert_string_equal(u->cert, want);
	assert_string_equal(u->key, "/abs/client.key");
	assert_int_equal(u->connect_timeout_ms, 1500);
	assert_int_equal(u->timeout_ms, 120000);
	assert_int_equal(u->idle_timeout_ms, 2500);
	assert_int_equal(u->pool, 8);
	u = &cf->upstreams[1];
	assert_string_equal(u->host, "localhost");
	assert_int_equal(u->port, 9442);
	sin = (const struct sockaddr_in *)&u->addr;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(u->connect_timeout_ms, 2000);
	assert_int_equal(u->timeout_ms, 30000);
	assert_int_equal(u->pool, 16);

	/* routes */
	assert_int_equal(cf->nroutes, 3);
	r = &cf->routes[0];
	assert_string_equal(r->name, "finance");
	assert_string_equal(r->prefix, "/pass/finance/");
	assert_int_equal(r->prefix_len, strlen("/pass/finance/"));
	assert_int_equal(r->methods, METHOD_GET | METHOD_POST);
	assert_int_equal(r->roles, (1u << ROLE_FINANCE) | (1u << ROLE_TAX));
	assert_int_equal(r->upstream, 0);
	r = &cf->routes[1];
	assert_string_equal(r->prefix, "/pass/hrss/");
	/* no methods: the default set (no OPTIONS) */
	assert_int_equal(r->methods, METHOD_GET | METHOD_HEAD | METHOD_POST |
	    METHOD_PUT | METHOD_DELETE | METHOD_PATCH);
	assert_int_equal(r->roles, (1u << ROLE_HRSS) |
	    (1u << ROLE_FINANCE_CITY) | (1u << ROLE_ADMIN));
	assert_int_equal(r->upstream, 1);
	r = &cf->routes[2];
	assert_int_equal(r->methods, METHOD_OPTIONS | METHOD_HEAD | METHOD_PUT |
	    METHOD_DELETE | METHOD_PATCH);
	assert_int_equal(r->roles, 1u << ROLE_BANK);
	assert_int_equal(r->upstream, 0);

	/* limits, durations in ms */
	assert_int_equal(cf->limits.max_header_bytes, 8192);
	assert_int_equal(cf->limits.max_headers, 32);
	assert_int_equal(cf->limits.max_body, 65536);
	assert_int_equal(cf->limits.request_timeout_ms, 5000);
	assert_int_equal(cf->limits.idle_timeout_ms, 3600000);
	assert_int_equal(cf->limits.max_connections, 100);
	assert_int_equal(cf->limits.max_connections_per_agency, 10);
	config_free(cf);
}

static void
test_workers_auto(void **state)
{
	struct fixture	*fx = *state;
	struct config	*cf = load_text(fx, MIN_CONF "[gateway]\nworkers = auto\n");

	if (cf == NULL)
		fail_msg("refused:\n%s", fx->err);
	assert_true(cf->workers >= 1 && cf->workers <= CFG_MAX_WORKERS);
	config_free(cf);
}

/*
 * Regression guard, once a bug (config_net.c, config_upstream_url): an IPv6 literal upstream,
 * "https://[::1]:9441", cannot be configured: the port is only split off when
 * the host does not start with '[', so host becomes "[::1]:9441", port 443,
 * and config_parse_addr("[::1]:9441:443") fails with "upstream host must be
 * an IP address or localhost". Listeners accept "[::1]:port". Suggested fix:
 * for a host starting with '[', take the port after "]:" and strip the
 * brackets from u->host (keeping them in the "host:port" given to
 * config_parse_addr).
 */
static void
test_upstream_ipv6(void **state)
{
	struct fixture		*fx = *state;
	struct config		*cf;
	const struct sockaddr_in6 *sin6;

	cf = load_text(fx, MIN_CONF "[upstream v6]\nurl = https://[::1]:9441\n"
	    "ca = ca.crt\ncert = c.crt\nkey = c.key\n");
	if (cf == NULL)
		fail_msg("regression: IPv6 upstream refused:\n%s", fx->err);
	sin6 = (const struct sockaddr_in6 *)&cf->upstreams[1].addr;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 9441);
	assert_int_equal(cf->upstreams[1].port, 9441);
	config_free(cf);
}

/* A config file named without a folder resolves paths against ".". */
static void
test_relative_to_cwd(void **state)
{
	struct fixture	*fx = *state;
	struct config	*cf;
	char		 cwd[PATH_MAX];

	write_text(fx->path, MIN_CONF);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	cf = load_file(fx, "gw.conf");
	assert_int_equal(chdir(cwd), 0);
	if (cf == NULL)
		fail_msg("refused:\n%s", fx->err);
	assert_string_equal(cf->listeners[LISTENER_AGENCY].cert, "./gw.crt");
	config_free(cf);
}

static void
test_missing_file(void **state)
{
	struct fixture	*fx = *state;
	char		 p[160];

	str_printf(p, sizeof(p), "%s/nothere.conf", fx->dir);
	assert_null(load_file(fx, p));
	assert_non_null(strstr(fx->err, p));
}

/* ---- every validation error, at its line ---- */

static void
test_unknown_key(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_CONF "[gateway]\nworkers = 2\nfrobnicate = 1\n",
	    M + 3, "unknown key \"frobnicate\"");
	expect_error(fx, MIN_CONF "[limits]\nmax_bodies = 1\n", M + 2,
	    "unknown key \"max_bodies\"");
	expect_error(fx, MIN_CONF "[agency x]\nrole = hrss\npin = " PIN_B
	    "\ncolour = red\n", M + 4, "unknown key \"colour\"");
	expect_error(fx, MIN_CONF "[route r]\nprefix = /r/\nroles = tax\n"
	    "upstream = finance\nmethod = GET\n", M + 5, "unknown key \"method\"");
	expect_error(fx, MIN_CONF "pool_size = 3\n", M + 1,
	    "unknown key \"pool_size\"");
	/* Keys are case-sensitive. */
	expect_error(fx, MIN_CONF "[gateway]\nWorkers = 2\n", M + 2,
	    "unknown key \"Workers\"");
}

/* Values too long for their field are refused, never stored cut: a route
 * naming an upstream with 3 more bytes was routed to the 63-byte one. */
static void
test_too_long(void **state)
{
	struct fixture	*fx = *state;
	char		 text[4096], name[64];

	memset(name, 'u', 63);
	name[63] = '\0';
	assert_int_equal(str_printf(text, sizeof(text), "%s[upstream %s]\n"
	    "url = https://127.0.0.1:9442\nca = ca.crt\ncert = c.crt\n"
	    "key = c.key\n[route r]\nprefix = /r/\nroles = tax\n"
	    "upstream = %szzz\n", MIN_CONF, name, name), 0);
	expect_error(fx, text, M + 9, "upstream longer than 63 bytes");
	assert_int_equal(str_printf(text, sizeof(text), "%s[upstream %s]\n"
	    "url = https://127.0.0.1:9442\nca = ca.crt\ncert = c.crt\n"
	    "key = c.key\n[courier]\nfinance = %szzz\n", MIN_CONF, name,
	    name), 0);
	expect_error(fx, text, M + 7, "finance longer than 63 bytes");
}

static void
test_unknown_section(void **state)
{
	struct fixture	*fx = *state;

	expect_error2(fx, MIN_CONF "[bogus thing]\nkey = 1\n", M + 1, M + 2,
	    "unknown section");
	expect_error2(fx, MIN_CONF "[listener other]\nlisten = 127.0.0.1:1\n",
	    M + 1, M + 2, "listener must be");
	expect_error2(fx, MIN_CONF "[gateway extra]\nworkers = 1\n", M + 1, M + 2,
	    "takes no name");
	expect_error2(fx, MIN_CONF "[agency bad/name]\nrole = tax\n", M + 1,
	    M + 2, "bad agency name");
}

static void
test_bad_pin(void **state)
{
	struct fixture	*fx = *state;

	/* 'g' is not hex */
	expect_error(fx, MIN_CONF "[agency x]\nrole = hrss\npin = "
	    "g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
	    M + 3, "pin must be 64 hex");
	/* 63 and 66 digits */
	expect_error(fx, MIN_CONF "[agency x]\nrole = hrss\npin = "
	    "0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
	    M + 3, "pin must be 64 hex");
	expect_error(fx, MIN_CONF "[agency x]\nrole = hrss\npin = " PIN_B "00\n",
	    M + 3, "pin must be 64 hex");
	/* a colon-separated fingerprint is not accepted either */
	expect_error(fx, MIN_CONF "[agency x]\nrole = hrss\npin = sha256:" PIN_B
	    "\n", M + 3, "pin must be 64 hex");
	/* more than CFG_MAX_PINS pins */
	expect_error(fx, MIN_CONF "[agency x]\nrole = hrss\n"
	    "pin = " PIN_B "\npin = " PIN_C "\npin = " PIN_D "\n"
	    "pin = 1111111111111111111111111111111111111111111111111111111111111111\n"
	    "pin = 2222222222222222222222222222222222222222222222222222222222222222\n",
	    M + 7, "more than 4 pins");
	/* an agency without any pin */
	expect_error2(fx, MIN_CONF "[agency x]\nrole = hrss\n", M + 1, M + 2,
	    "at least one pin");
}

static void
test_pin_cert_missing(void **state)
{
	struct fixture	*fx = *state;
	char		 what[200];

	str_printf(what, sizeof(what), "cannot read a certificate from %s/"
	    "certs/nothere.crt", fx->dir);
	expect_error(fx, MIN_CONF "[agency x]\nrole = hrss\n"
	    "pin_cert = certs/nothere.crt\n", M + 3, what);
	/* a file that is not a certificate: the config itself */
	str_printf(what, sizeof(what), "cannot read a certificate from %s",
	    fx->path);
	expect_error(fx, MIN_CONF "[agency x]\nrole = hrss\npin_cert = gw.conf\n",
	    M + 3, what);
}

static void
test_route_unknown_upstream(void **state)
{
	struct fixture	*fx = *state;

	expect_error2(fx, MIN_CONF "[route r]\nprefix = /r/\nroles = tax\n"
	    "upstream = nowhere\n", M + 1, M + 2, "unknown upstream \"nowhere\"");
	/* no upstream at all */
	expect_error2(fx, MIN_CONF "[route r]\nprefix = /r/\nroles = tax\n",
	    M + 1, M + 2, "unknown upstream");
	/* case matters */
	expect_error2(fx, MIN_CONF "[route r]\nprefix = /r/\nroles = tax\n"
	    "upstream = Finance\n", M + 1, M + 2, "unknown upstream \"Finance\"");
}

static void
test_route_other_errors(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_CONF "[route r]\nprefix = r/\nroles = tax\n"
	    "upstream = finance\n", M + 2, "prefix must start with /");
	expect_error(fx, MIN_CONF "[route r]\nprefix = /r/\nroles = tax, clerk\n"
	    "upstream = finance\n", M + 3, "unknown role \"clerk\"");
	expect_error(fx, MIN_CONF "[route r]\nprefix = /r/\nroles = tax\n"
	    "methods = GET, TRACE\nupstream = finance\n", M + 4,
	    "unknown method \"TRACE\"");
	expect_error(fx, MIN_CONF "[route r]\nprefix = /r/\nroles = tax\n"
	    "methods = get\nupstream = finance\n", M + 4,
	    "unknown method \"get\"");
	expect_error2(fx, MIN_CONF "[route r]\nprefix = /r/\nupstream = finance\n",
	    M + 1, M + 2, "roles is required");
	expect_error2(fx, MIN_CONF "[route r]\nroles = tax\nupstream = finance\n",
	    M + 1, M + 2, "prefix is required");
}

static void
test_duplicate_pin(void **state)
{
	struct fixture	*fx = *state;

	expect_error2(fx, MIN_CONF "[agency hrss]\nrole = hrss\npin = " PIN_A "\n",
	    M + 1, M + 2, "pin already used by agency tax");
	/* a second pin equal to another agency's, in another case */
	expect_error2(fx, MIN_CONF "[agency hrss]\nrole = hrss\npin = " PIN_B "\n"
	    "pin = 00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\n",
	    M + 1, M + 2, "pin already used by agency tax");
}

static void
test_city(void **state)
{
	struct fixture	*fx = *state;
	static const char *const bad[] = {
		"620171", "620000", "62010", "6201000", "110000", "abcdef", "",
		" 620100x",
	};
	char		text[4096];
	size_t		i;

	/* finance-city without city */
	expect_error2(fx, MIN_CONF "[agency fc]\nrole = finance-city\npin = "
	    PIN_B "\n", M + 1, M + 2, "needs its city");
	/* city on an agency of another role */
	expect_error2(fx, MIN_CONF "[agency h]\nrole = hrss\ncity = 620100\n"
	    "pin = " PIN_B "\n", M + 1, M + 2,
	    "only finance-city agencies have a city");
	/* city not among the 14 */
	for (i = 0; i < nitems(bad); i++) {
		str_printf(text, sizeof(text), "%s[agency fc]\nrole = finance-city\n"
		    "city = %s\npin = " PIN_B "\n", MIN_CONF, bad[i]);
		expect_error(fx, text, M + 3, "14 pooling-area city codes");
	}
}

/* Every one of the 14 codes is a valid city. */
static void
test_all_cities(void **state)
{
	struct fixture	*fx = *state;
	static const char *const codes[] = {
		"620100", "620200", "620300", "620400", "620500", "620600",
		"620700", "620800", "620900", "621000", "621100", "621200",
		"622900", "623000",
	};
	char		 text[16384];
	size_t		 i;
	struct config	*cf;

	str_copy(text, sizeof(text), MIN_CONF);
	for (i = 0; i < nitems(codes); i++) {
		char	sec[256];

		str_printf(sec, sizeof(sec), "[agency fc-%s]\nrole = finance-city\n"
		    "city = %s\npin = %064zx\n", codes[i], codes[i], i + 1);
		assert_int_equal(str_append(text, sizeof(text), sec), 0);
	}
	cf = load_text(fx, text);
	if (cf == NULL)
		fail_msg("refused:\n%s", fx->err);
	assert_int_equal(cf->nagencies, 15);
	for (i = 0; i < nitems(codes); i++)
		assert_string_equal(cf->agencies[i + 1].city, codes[i]);
	config_free(cf);
}

static void
test_bad_duration(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_CONF "[gateway]\nshutdown_timeout = 10x\n", M + 2,
	    "bad duration \"10x\"");
	expect_error(fx, MIN_CONF "[gateway]\nshutdown_timeout = 1.5s\n", M + 2,
	    "bad duration");
	expect_error(fx, MIN_CONF "[limits]\nrequest_timeout = -1s\n", M + 2,
	    "bad duration");
	expect_error(fx, MIN_CONF "[limits]\nidle_timeout = 25h\n", M + 2,
	    "bad duration");	/* over a day */
	expect_error(fx, MIN_CONF "[limits]\nidle_timeout =\n", M + 2,
	    "bad duration");
	expect_error(fx, "[upstream u]\nurl = https://127.0.0.1:1\n"
	    "timeout = 2d\n" MIN_CONF, 3, "bad duration \"2d\"");
	expect_error(fx, MIN_CONF "connect_timeout = 10 s\n", M + 1,
	    "bad duration");
}

static void
test_bad_number(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_CONF "[gateway]\nworkers = 0\n", M + 2,
	    "\"0\" is not a number in [1, 64]");
	expect_error(fx, MIN_CONF "[gateway]\nworkers = 65\n", M + 2,
	    "is not a number");
	expect_error(fx, MIN_CONF "[gateway]\nworkers = many\n", M + 2,
	    "is not a number");
	expect_error(fx, MIN_CONF "[limits]\nmax_headers = 3\n", M + 2,
	    "is not a number in [4, 1024]");
	expect_error(fx, MIN_CONF "[limits]\nmax_header_bytes = 16k\n", M + 2,
	    "is not a number");
	expect_error(fx, MIN_CONF "[limits]\nmax_body = -1\n", M + 2,
	    "is not a number");
	expect_error(fx, MIN_CONF "[limits]\nmax_connections = 0x10\n", M + 2,
	    "is not a number");
	expect_error(fx, MIN_CONF "pool = 4097\n", M + 1, "is not a number");
	/* cross-check of two limits: reported at line 1 */
	expect_error(fx, MIN_CONF "[limits]\nmax_connections = 10\n"
	    "max_connections_per_agency = 11\n", 1,
	    "max_connections_per_agency exceeds max_connections");
}

static void
test_missing_listener(void **state)
{
	struct fixture	*fx = *state;
	const char	*min = MIN_CONF;
	const char	*admin = strstr(min, "[listener admin]");
	const char	*keeper = strstr(min, "[keeper]");
	char		 text[4096];

	/* Without [listener admin]. */
	str_printf(text, sizeof(text), "%.*s%s", (int)(admin - min), min, keeper);
	expect_error(fx, text, 1, "no [listener admin] section");
	/* Without [listener agency]. */
	expect_error(fx, admin, 1, "no [listener agency] section");
	/* A listener without its cert */
	str_printf(text, sizeof(text), "[listener agency]\nlisten = 127.0.0.1:8443\n"
	    "key = gw.key\nca = ca.crt\n%s", admin);
	expect_error2(fx, text, 1, 2, "cert, key and ca are required");
	/* A listener without listen */
	str_printf(text, sizeof(text), "[listener agency]\ncert = gw.crt\n"
	    "key = gw.key\nca = ca.crt\n%s", admin);
	expect_error2(fx, text, 1, 2, "listen is required");
	/* A bad listen address */
	str_printf(text, sizeof(text), "[listener agency]\nlisten = localhost:https\n"
	    "cert = gw.crt\nkey = gw.key\nca = ca.crt\n%s", admin);
	expect_error(fx, text, 2, "bad listen address");
	str_printf(text, sizeof(text), "[listener agency]\nlisten = 8443\n"
	    "cert = gw.crt\nkey = gw.key\nca = ca.crt\n%s", admin);
	expect_error(fx, text, 2, "bad listen address");
}

static void
test_url_not_https(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_CONF "[upstream u]\nurl = http://127.0.0.1:9441\n"
	    "ca = ca.crt\ncert = c.crt\nkey = c.key\n", M + 2,
	    "must start with https://");
	expect_error(fx, MIN_CONF "[upstream u]\nurl = HTTPS://127.0.0.1:9441\n"
	    "ca = ca.crt\ncert = c.crt\nkey = c.key\n", M + 2,
	    "must start with https://");
	expect_error(fx, MIN_CONF "[upstream u]\nurl = https://127.0.0.1:9441/x\n"
	    "ca = ca.crt\ncert = c.crt\nkey = c.key\n", M + 2, "takes no path");
	expect_error(fx, MIN_CONF "[upstream u]\nurl = https://127.0.0.1:0\n"
	    "ca = ca.crt\ncert = c.crt\nkey = c.key\n", M + 2, "bad upstream port");
	expect_error(fx, MIN_CONF "[upstream u]\nurl = https://127.0.0.1:65536\n"
	    "ca = ca.crt\ncert = c.crt\nkey = c.key\n", M + 2, "bad upstream port");
	expect_error(fx, MIN_CONF "[upstream u]\nurl = https://bank.example:443\n"
	    "ca = ca.crt\ncert = c.crt\nkey = c.key\n", M + 2,
	    "must be an IP address");
	expect_error2(fx, MIN_CONF "[upstream u]\nurl = https://127.0.0.1:9\n"
	    "cert = c.crt\nkey = c.key\n", M + 1, M + 2,
	    "url, ca, cert and key are required");
}

static void
test_duplicate_prefix(void **state)
{
	struct fixture	*fx = *state;

	expect_error2(fx, MIN_CONF
	    "[route one]\nprefix = /pass/\nroles = tax\nupstream = finance\n"
	    "[route two]\nprefix = /pass/\nroles = tax\nupstream = finance\n",
	    M + 5, M + 6, "prefix /pass/ already used by route one");
}

static void
test_duplicate_agency(void **state)
{
	struct fixture	*fx = *state;

	/* [agency tax] is in MIN_CONF; a second one after [upstream finance] */
	expect_error2(fx, MIN_CONF "[agency tax]\nrole = tax\npin = " PIN_B "\n",
	    M + 1, M + 2, "agency tax defined twice");
	/* (not adjacent to the first: see test_duplicate_agency_adjacent) */
	expect_error2(fx, MIN_CONF "[limits]\nmax_body = 5\n"
	    "[upstream finance]\nurl = https://127.0.0.1:1\n",
	    M + 3, M + 4, "upstream finance defined twice");
	expect_error2(fx, MIN_CONF "[listener admin]\nlisten = 127.0.0.1:1\n",
	    M + 1, M + 2, "listener admin defined twice");
}

static void
test_other_errors(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_CONF "[agency x]\nrole = clerk\npin = " PIN_B "\n",
	    M + 2, "unknown role \"clerk\"");
	expect_error2(fx, MIN_CONF "[agency x]\npin = " PIN_B "\n", M + 1, M + 2,
	    "role is required");
	expect_error(fx, MIN_CONF "[limits]\nmax_body = 1\n[listener admin]\n"
	    "min_protocol = TLSv1.1\n", M + 4, "min_protocol must be");
}

/* Every error in a file is reported, each at its line. */
static void
test_all_errors_reported(void **state)
{
	struct fixture	*fx = *state;
	struct config	*cf;

	cf = load_text(fx, MIN_CONF
	    "[gateway]\n"			/* M+1 */
	    "workers = none\n"			/* M+2 */
	    "shutdown_timeout = 5y\n"		/* M+3 */
	    "[agency x]\n"			/* M+4 */
	    "role = hrss\n"			/* M+5 */
	    "pin = 12\n"			/* M+6 */
	    "pin = " PIN_B "\n"			/* M+7 */
	    "[limits]\n"			/* M+8 */
	    "max_body = lots\n");		/* M+9 */
	assert_null(cf);
	assert_true(error_has(fx, M + 2, "is not a number"));
	assert_true(error_has(fx, M + 3, "bad duration"));
	assert_true(error_has(fx, M + 6, "pin must be"));
	assert_true(error_has(fx, M + 9, "is not a number"));
	assert_null(error_at(fx, M + 7));
}

static void
test_syntax_error(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_CONF "[gateway\n", M + 1, "syntax error");
	expect_error(fx, MIN_CONF "[gateway]\nworkers\n", M + 2, "syntax error");
}

/*
 * Regression guard, once a bug (config.c, config_reader): inih (Debian build, INI_MAX_LINE 200)
 * hands the reader a 200-byte buffer; config_reader returns fgets' partial line
 * and counts it as a line, and inih parses the rest of the physical line as a
 * new line. The tail of a long comment therefore becomes live configuration:
 * below, "role = admin" at the end of a 211-character comment turns the tax
 * agency into an admin. Every line number after a long line is also off by
 * one. Suggested fix: in config_reader, when the chunk does not end in '\n'
 * (and is not the end of the file), consume the rest of the physical line
 * and report "line too long" at that line (or read whole lines with getline
 * and refuse those that do not fit); count a line only once.
 */
static void
test_long_line(void **state)
{
	struct fixture	*fx = *state;
	struct config	*cf;
	char		 text[8192], pad[256];
	int		 role = ROLE_TAX, line_ok;

	memset(pad, 'x', 197);
	pad[197] = '\0';
	str_printf(text, sizeof(text), "%s[agency a]\nrole = tax\n"
	    "# %srole = admin\npin = " PIN_B "\n", MIN_CONF, pad);
	cf = load_text(fx, text);
	if (cf != NULL) {
		role = cf->agencies[1].role;
		config_free(cf);
	}

	/* The line after a long comment is reported with its own number. */
	str_printf(text, sizeof(text), "%s# %s\n[gateway]\nfrobnicate = 1\n",
	    MIN_CONF, pad);
	cf = load_text(fx, text);
	assert_null(cf);
	line_ok = error_has(fx, M + 3, "unknown key \"frobnicate\"");

	if (role != ROLE_TAX || !line_ok)
		fail_msg("regression: %s%s%s", role != ROLE_TAX ?
		    "the tail of a long comment set the role to " : "",
		    role != ROLE_TAX ? config_role_name((enum role)role) : "",
		    line_ok ? "" : "; error lines after a long line are off "
		    "(want line M+3)");
}

/*
 * Regression guard, once a bug (config.c, config_handler): a new section is recognised only
 * when its name differs from the previous section's, because the Debian inih
 * is not built with INI_CALL_HANDLER_ON_NEW_SECTION. Two consecutive sections
 * with the same name are silently merged: no "defined twice" error, the
 * second agency's role overwrites the first's and its pins are added to it.
 * Suggested fix: have config_reader note every line whose first non-blank
 * character is '[' (set p->new_section and p->section_line), and in
 * config_handler start a new section when that flag is set, not only when
 * the name changes; section-level errors can then also name the header line.
 */
static void
test_duplicate_agency_adjacent(void **state)
{
	struct fixture	*fx = *state;
	struct config	*cf;

	cf = load_text(fx, MIN_CONF
	    "[agency x]\nrole = hrss\npin = " PIN_B "\n"
	    "[agency x]\nrole = admin\npin = " PIN_C "\n");
	if (cf != NULL) {
		config_free(cf);
		fail_msg("regression: two adjacent [agency x] sections were "
		    "merged into one agency");
	}
	assert_true(error_has(fx, M + 4, "agency x defined twice") ||
	    error_has(fx, M + 5, "agency x defined twice"));
}

/*
 * Regression guard, once a bug (same cause as above): a section with no keys never reaches
 * config_handler, so an unknown section, or an agency left empty by mistake,
 * is silently ignored instead of reported.
 */
static void
test_empty_section_reported(void **state)
{
	struct fixture	*fx = *state;
	struct config	*cf;

	cf = load_text(fx, MIN_CONF "[bogus thing]\n[agency empty]\n");
	if (cf != NULL) {
		config_free(cf);
		fail_msg("regression: empty [bogus thing] and [agency empty] "
		    "sections were accepted");
	}
	assert_true(error_has(fx, M + 1, "unknown section"));
	assert_true(error_has(fx, M + 2, "agency empty"));
}

/*
 * Regression guard, once a bug (config.c, config_handler / config_name_ok): inih keeps at most
 * 49 characters of a section header (MAX_SECTION 50 in ini.c) and truncates
 * the rest silently, so "[agency NAME]" with a NAME longer than 42 characters
 * (which config_name_ok allows up to 63) is loaded under a shortened name, and
 * two agencies whose names differ only after that point are the same agency
 * (merged when adjacent, "defined twice" otherwise). Were inih not to cut, the
 * copy into kind[CFG_NAME_MAX] would refuse names of 57+ characters with
 * "section name too long". Suggested fix: in config_reader, refuse a section
 * header longer than what inih keeps ("section name too long" at its line),
 * or cap names at 42 characters in config_name_ok; either way, never cut a
 * name silently.
 */
static void
test_long_agency_name(void **state)
{
	struct fixture	*fx = *state;
	struct config	*cf;
	char		 text[4096], name[CFG_NAME_MAX];

	memset(name, 'a', CFG_NAME_MAX - 1);
	name[CFG_NAME_MAX - 1] = '\0';
	str_printf(text, sizeof(text), "%s[agency %s]\nrole = hrss\npin = " PIN_B
	    "\n", MIN_CONF, name);
	cf = load_text(fx, text);
	if (cf != NULL) {
		char got[CFG_NAME_MAX];

		str_copy(got, sizeof(got), cf->agencies[1].name);
		config_free(cf);
		if (strcmp(got, name) != 0)
			fail_msg("regression: a %d-character agency name was "
			    "silently cut to %zu characters", CFG_NAME_MAX - 1,
			    strlen(got));
	}
	/* One more character is too long: refused. */
	str_printf(text, sizeof(text), "%s[agency %sb]\nrole = hrss\npin = " PIN_B
	    "\n", MIN_CONF, name);
	cf = load_text(fx, text);
	if (cf != NULL) {
		config_free(cf);
		fail_msg("regression: a %d-character agency name was accepted",
		    CFG_NAME_MAX);
	}
}

/* ---- deliveries, banks and the fund's rules ---- */

#define BANK_AGENCY \
	"[agency bank]\nrole = bank\npin = " PIN_B "\n"	/* M+1..M+3 */

static void
test_delivery_sections(void **state)
{
	struct fixture	*fx = *state;
	struct config	*cf;

	cf = load_text(fx, MIN_CONF BANK_AGENCY
	    "[courier]\nfinance = finance\nmax_attempts = 3\n"
	    "retry_min = 50ms\nretry_max = 2s\n"
	    "[bank bank]\nupstream = finance\ncharset = GBK\n"
	    "signing_key = keys/bank.key\nsm2_id = 1234567812345678\n"
	    "[rules]\ncapacity_months = 4\nremittance_due_day = 15\n"
	    "budget = 620100 2026 1500000.00\nbudget = 620200 2026 0.01\n");
	if (cf == NULL)
		fail_msg("refused:\n%s", fx->err);
	assert_int_equal(cf->courier.finance, 0);
	assert_int_equal(cf->courier.hrss, -1);
	assert_int_equal(cf->courier.max_attempts, 3);
	assert_int_equal(cf->courier.retry_min_ms, 50);
	assert_int_equal(cf->courier.retry_max_ms, 2000);
	assert_int_equal(cf->nbanks, 1);
	assert_int_equal(cf->banks[0].agency, 1);
	assert_int_equal(cf->banks[0].upstream, 0);
	assert_string_equal(cf->banks[0].charset, "GBK");
	assert_true(cf->banks[0].has_sm2_id);
	assert_int_equal(cf->rules.capacity_months, 4);
	assert_int_equal(cf->rules.due_day, 15);
	assert_int_equal(cf->rules.nbudgets, 2);
	assert_string_equal(cf->rules.budgets[0].city, "620100");
	assert_int_equal(cf->rules.budgets[0].year, 2026);
	assert_int_equal(cf->rules.budgets[0].fen, 150000000);
	assert_int_equal(cf->rules.budgets[1].fen, 1);
	config_free(cf);

	/* Defaults. */
	cf = load_text(fx, MIN_CONF);
	assert_non_null(cf);
	assert_int_equal(cf->courier.max_attempts, 8);
	assert_int_equal(cf->rules.capacity_months, 6);
	assert_int_equal(cf->rules.due_day, 10);
	config_free(cf);
}

static void
test_delivery_errors(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_CONF "[courier]\nfinance = nowhere\n", M + 1,
	    "courier: unknown upstream \"nowhere\"");
	expect_error(fx, MIN_CONF "[courier]\nretry_min = 5s\nretry_max = 1s\n",
	    M + 1, "retry_min must be above 0 and at most retry_max");
	expect_error(fx, MIN_CONF "[courier]\nmax_attempts = 0\n", M + 2,
	    "not a number in [1, 1000]");
	expect_error(fx, MIN_CONF "[courier]\nspeed = fast\n", M + 2,
	    "unknown key \"speed\" in [courier]");
	/* A bank must be an agency of role bank, with an upstream and a key. */
	expect_error(fx, MIN_CONF "[bank tax]\nupstream = finance\n"
	    "signing_key = k\n", M + 1, "no agency of role bank");
	expect_error(fx, MIN_CONF BANK_AGENCY "[bank bank]\nupstream = x\n"
	    "signing_key = k\n", M + 4, "unknown upstream \"x\"");
	expect_error(fx, MIN_CONF BANK_AGENCY "[bank bank]\nupstream = finance\n",
	    M + 4, "signing_key is required");
	expect_error(fx, MIN_CONF BANK_AGENCY "[bank bank]\nupstream = finance\n"
	    "signing_key = k\ncharset = Big5\n", M + 7,
	    "charset must be UTF-8, GB18030 or GBK");
	expect_error(fx, MIN_CONF BANK_AGENCY "[bank bank]\nupstream = finance\n"
	    "signing_key = k\n[bank bank]\nupstream = finance\nsigning_key = k\n",
	    M + 7, "bank bank defined twice");
}

/* ---- witnesses ---- */

#define WITNESS_VKEY \
	"witness.test/w1+fbec8033+BH+VXzYmE1EYDl7rpVpqkYtveOI84rTXJbasE3yk4zsP"
#define WITNESS_UPSTREAM \
	"[upstream w1]\nurl = https://127.0.0.1:9451\nca = ca.crt\n" \
	"cert = c.crt\nkey = c.key\n"			/* M+1..M+5 */

static void
test_witness_sections(void **state)
{
	struct fixture	*fx = *state;
	struct config	*cf;

	cf = load_text(fx, MIN_CONF WITNESS_UPSTREAM
	    "[witness w1]\nupstream = w1\nkey = " WITNESS_VKEY "\n");
	if (cf == NULL)
		fail_msg("refused:\n%s", fx->err);
	assert_int_equal(cf->nwitnesses, 1);
	assert_int_equal(cf->witnesses[0].upstream, 1);
	assert_string_equal(cf->witnesses[0].key, WITNESS_VKEY);
	/* The quorum defaults to every witness. */
	assert_int_equal(cf->keeper.witness_quorum, 1);
	config_free(cf);
	cf = load_text(fx, MIN_CONF);
	assert_non_null(cf);
	assert_int_equal(cf->nwitnesses, 0);
	assert_int_equal(cf->keeper.witness_quorum, 0);
	config_free(cf);
}

static void
test_witness_errors(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_CONF "[witness w1]\nupstream = nowhere\nkey = "
	    WITNESS_VKEY "\n", M + 1, "witness w1: unknown upstream \"nowhere\"");
	/* A signed-note key of type 0x01 is not a cosignature key. */
	expect_error(fx, MIN_CONF WITNESS_UPSTREAM "[witness w1]\nupstream = w1\n"
	    "key = witness.test/w1+fbec8033+AX+VXzYmE1EYDl7rpVpqkYtveOI84rTXJbasE3yk4zsP\n",
	    M + 6, "key must be its cosignature verifier key");
	expect_error(fx, MIN_CONF WITNESS_UPSTREAM "[witness w1]\nupstream = w1\n",
	    M + 6, "key must be its cosignature verifier key");
	expect_error(fx, MIN_CONF WITNESS_UPSTREAM "[witness w1]\nupstream = w1\n"
	    "key = " WITNESS_VKEY "\n[keeper]\nwitness_quorum = 2\n", M + 10,
	    "witness_quorum 2 is more than the 1 witnesses");
	expect_error(fx, MIN_CONF "[courier]\nfinance = finance\n[witness w1]\n"
	    "upstream = finance\nkey = " WITNESS_VKEY "\n", M + 3,
	    "upstream finance is the courier's");
	expect_error(fx, MIN_CONF WITNESS_UPSTREAM "[witness w1]\nupstream = w1\n"
	    "key_file = /nonexistent/w1.vkey\n", M + 8, "key_file");
}

static void
test_rules_errors(void **state)
{
	struct fixture	*fx = *state;

	expect_error(fx, MIN_CONF "[rules]\nbudget = 620171 2026 1.00\n", M + 2,
	    "budget wants");
	expect_error(fx, MIN_CONF "[rules]\nbudget = 620100 1999 1.00\n", M + 2,
	    "budget wants");
	expect_error(fx, MIN_CONF "[rules]\nbudget = 620100 2026 1.5\n", M + 2,
	    "is not yuan with two decimals");
	expect_error(fx, MIN_CONF "[rules]\nbudget = 620100 2026\n", M + 2,
	    "budget wants");
	expect_error(fx, MIN_CONF "[rules]\nbudget = 620100 2026 1.00\n"
	    "budget = 620100 2026 2.00\n", M + 3, "given twice");
	expect_error(fx, MIN_CONF "[rules]\nremittance_due_day = 29\n", M + 2,
	    "not a number in [1, 28]");
	expect_error(fx, MIN_CONF "[rules]\ncapacity_months = -1\n", M + 2,
	    "not a number");
	expect_error(fx, MIN_CONF "[rules x]\n", M + 1, "[rules] takes no name");
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_minimal),
		T(test_handshake_limits),
		T(test_good),
		T(test_workers_auto),
		T(test_relative_to_cwd),
		T(test_missing_file),
		T(test_unknown_key),
		T(test_too_long),
		T(test_unknown_section),
		T(test_bad_pin),
		T(test_pin_cert_missing),
		T(test_route_unknown_upstream),
		T(test_route_other_errors),
		T(test_duplicate_pin),
		T(test_city),
		T(test_all_cities),
		T(test_bad_duration),
		T(test_bad_number),
		T(test_missing_listener),
		T(test_url_not_https),
		T(test_duplicate_prefix),
		T(test_duplicate_agency),
		T(test_other_errors),
		T(test_all_errors_reported),
		T(test_syntax_error),
		T(test_long_line),
		T(test_duplicate_agency_adjacent),
		T(test_empty_section_reported),
		T(test_long_agency_name),
		T(test_upstream_ipv6),
		T(test_delivery_sections),
		T(test_delivery_errors),
		T(test_witness_sections),
		T(test_witness_errors),
		T(test_rules_errors),
	};
#undef T

	log_init("test_config", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
