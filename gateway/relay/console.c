/* The supervision console on the admin listener: who may use which admin
 * path, the page's files (embedded in the binary, see console_assets.S), the
 * caller's view (GET /v1/console) and the log's health (GET /v1/health). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "relay/relay.h"
#include "runtime.h"
#include "util.h"

/* Every page of the console gets these: nothing but the gateway's own
 * files and APIs, no inline script or style, no framing. */
#define CONSOLE_CSP	"Content-Security-Policy: default-src 'none'; " \
	"script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; base-uri 'none'; form-action 'none'; " \
	"frame-ancestors 'none'\r\n"
#define CONSOLE_HEADERS	CONSOLE_CSP "X-Content-Type-Options: nosniff\r\n" \
	"Referrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n" \
	"Cross-Origin-Resource-Policy: same-origin\r\n"

/* console_assets.S: each file between its symbol and symbol_end. */
extern const char console_index_html[], console_index_html_end[];
extern const char console_app_js[], console_app_js_end[];
extern const char console_app_css[], console_app_css_end[];
extern const char console_favicon_svg[], console_favicon_svg_end[];

static const struct console_asset {
	const char	*path;
	const char	*ctype;
	const char	*start;
	const char	*end;
} console_assets[] = {
	{ "/", "text/html; charset=utf-8", console_index_html,
	    console_index_html_end },
	{ "/console/app.js", "text/javascript; charset=utf-8", console_app_js,
	    console_app_js_end },
	{ "/console/app.css", "text/css; charset=utf-8", console_app_css,
	    console_app_css_end },
	{ "/console/favicon.svg", "image/svg+xml", console_favicon_svg,
	    console_favicon_svg_end },
};

/* Strong validators, made once per worker from the bytes: a new binary
 * with other files gets other tags. */
static char	console_etags[nitems(console_assets)][24];

static int
console_role_in(enum role role, unsigned roles)
{
	return (roles & (1u << role)) != 0;
}

#define CONSOLE_READERS	((1u << ROLE_ADMIN) | (1u << ROLE_AUDITOR) | \
	(1u << ROLE_FINANCE) | (1u << ROLE_HRSS))
#define CONSOLE_OPERATORS ((1u << ROLE_ADMIN) | (1u << ROLE_AUDITOR))

static int
console_path_is(const char *url, size_t len, const char *path)
{
	return strlen(path) == len && memcmp(url, path, len) == 0;
}

int
console_admit(struct relay_conn *c, enum role role, const char *url,
    size_t len)
{
	const char	*q = memchr(url, '?', len);
	size_t		 n = q ? (size_t)(q - url) : len;
	unsigned	 need;

	if (!console_role_in(role, CONSOLE_READERS)) {
		conn_reply_error(c, 403, "role-not-allowed", "the admin listener "
		    "is for admin, auditor, finance and hrss");
		return -1;
	}
	if (n >= 7 && memcmp(url, "/admin/", 7) == 0)
		need = 1u << ROLE_ADMIN;
	else if (console_path_is(url, n, "/metrics") ||
	    console_path_is(url, n, "/healthz") ||
	    console_path_is(url, n, "/readyz") ||
	    console_path_is(url, n, "/v1/health"))
		need = CONSOLE_OPERATORS;
	else
		/* The page, the read APIs (whose own rules apply next: the
		 * keeper decides who is a party) and the audit API. */
		need = CONSOLE_READERS;
	if (!console_role_in(role, need)) {
		conn_reply_error(c, 403, "role-not-allowed",
		    "this admin path is not open to the caller's role");
		return -1;
	}
	/* Instructions are sent to the agency listener: here only reads. */
	if (n >= 4 && memcmp(url, "/v1/", 4) == 0 &&
	    c->req.method != HTTP_GET && c->req.method != HTTP_HEAD) {
		conn_reply_error(c, 405, "method-not-allowed",
		    "the admin listener serves reads of /v1/ only");
		return -1;
	}
	return 0;
}

int
console_local(const char *url, size_t len)
{
	const char	*q = memchr(url, '?', len);
	size_t		 n = q ? (size_t)(q - url) : len;

	return console_path_is(url, n, "/v1/health") ||
	    console_path_is(url, n, "/v1/console");
}

static const char *
console_etag(struct relay_conn *c, size_t i)
{
	const struct console_asset	*a = &console_assets[i];
	unsigned char			 md[EVP_MAX_MD_SIZE];
	unsigned int			 mdlen;

	if (console_etags[i][0] == '\0') {
		if (EVP_Digest(a->start, (size_t)(a->end - a->start), md, &mdlen,
		    c->r->sha256, NULL) != 1 || mdlen < 8)
			return NULL;
		/* "..." around 16 hex digits of SHA-256. */
		if (str_printf(console_etags[i], sizeof(console_etags[i]),
		    "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", md[0], md[1], md[2],
		    md[3], md[4], md[5], md[6], md[7]) == -1)
			return NULL;
	}
	return console_etags[i];
}

static void
console_asset(struct relay_conn *c, size_t i)
{
	const struct console_asset	*a = &console_assets[i];
	const char			*tag, *inm;
	char				 extra[sizeof(CONSOLE_HEADERS) + 96];
	size_t				 ilen;

	if ((tag = console_etag(c, i)) == NULL) {
		conn_reply_error(c, 500, "internal", "cannot digest the file");
		return;
	}
	if (str_printf(extra, sizeof(extra), "%sETag: %s\r\n"
	    "Cache-Control: no-cache\r\n", CONSOLE_HEADERS, tag) == -1) {
		conn_reply_error(c, 500, "internal", "headers too long");
		return;
	}
	/* The browser revalidates each time (no-cache); an unchanged file
	 * costs a 304 without its bytes. */
	inm = http_msg_header(&c->req, "If-None-Match", &ilen);
	conn_reply_extra(c, inm != NULL && memmem(inm, ilen, tag,
	    strlen(tag)) != NULL ? 304 : 200, a->ctype, a->start,
	    (size_t)(a->end - a->start), extra);
}

static void
console_json(struct relay_conn *c, const char *body, size_t len)
{
	conn_reply_extra(c, 200, "application/json", body, len,
	    "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n");
}

/* GET /v1/console: who the caller is and what the page may show them,
 * and the log's verifier key (the browser checks proofs with it). Registry
 * changes are for everyone here: finance and hrss propose and review them. */
static void
console_whoami(struct relay_conn *c)
{
	const struct cfg_agency	*ag = &c->r->cf->agencies[c->agency];
	int			 op = console_role_in(ag->role,
				    CONSOLE_OPERATORS);
	/* Room for any escaped origin and key: never a cut value. */
	char			 body[4096], origin[6 * 256], vkey[6 * CFG_VKEY_MAX];

	json_escape(origin, sizeof(origin), c->r->cf->keeper.origin);
	json_escape(vkey, sizeof(vkey), c->r->rt->log_vkey);
	if (str_printf(body, sizeof(body), "{\"agency\":\"%s\",\"role\":\"%s\","
	    "\"log\":{\"origin\":\"%s\",\"vkey\":\"%s\"},\"sees\":{\"health\":%s,"
	    "\"registry\":true,\"reports\":true,\"alerts\":true}}\n", ag->name,
	    config_role_name(ag->role), origin, vkey, op ? "true" : "false") ==
	    -1) {
		conn_reply_error(c, 500, "internal", "answer too long");
		return;
	}
	console_json(c, body, strlen(body));
}

/* GET /v1/health: the log's figures the keeper keeps in shared memory for
 * /metrics, as JSON for the page (admin and auditor). */
static void
console_health(struct relay_conn *c)
{
	const struct metrics_keeper	*k = c->r->rt->kmetrics;
	const struct config		*cf = c->r->cf;
	char				 body[4096], item[CFG_NAME_MAX + 64];
	long long			 now = (long long)time(NULL);
	long long			 ct = atomic_load(&k->checkpoint_time);
	long long			 st = atomic_load(&k->cosigned_time);
	size_t				 i;
	int				 rc;

	rc = str_printf(body, sizeof(body), "{\"time\":%lld,\"log\":{"
	    "\"size\":%llu,\"frozen\":%s,\"writable\":%s},\"checkpoint\":{"
	    "\"size\":%llu,\"time\":%lld,\"age_seconds\":%lld},\"cosigned\":{"
	    "\"size\":%llu,\"time\":%lld,\"quorum\":%llu},\"wal\":{\"bytes\":%llu,"
	    "\"limit_bytes\":%llu,\"over_limit\":%s},\"outbox\":{\"pending\":%llu,"
	    "\"parked\":%llu},\"witnesses\":[", now,
	    (unsigned long long)atomic_load(&k->entries),
	    atomic_load(&k->log_frozen) ? "true" : "false",
	    atomic_load(&k->unwritable) ? "false" : "true",
	    (unsigned long long)atomic_load(&k->checkpoint_size), ct,
	    ct > 0 ? now - ct : -1LL,
	    (unsigned long long)atomic_load(&k->cosigned_size), st,
	    (unsigned long long)cf->keeper.witness_quorum,
	    (unsigned long long)atomic_load(&k->wal_bytes),
	    (unsigned long long)atomic_load(&k->wal_limit),
	    atomic_load(&k->wal_over_limit) ? "true" : "false",
	    (unsigned long long)atomic_load(&k->outbox_pending),
	    (unsigned long long)atomic_load(&k->outbox_parked));
	for (i = 0; rc == 0 && i < cf->nwitnesses; i++) {
		rc = str_printf(item, sizeof(item), "%s{\"name\":\"%s\","
		    "\"size\":%llu}", i ? "," : "", cf->witnesses[i].name,
		    (unsigned long long)atomic_load(&k->witness_size[i]));
		rc = rc == 0 ? str_append(body, sizeof(body), item) : rc;
	}
	if (rc == 0)
		rc = str_append(body, sizeof(body), "]}\n");
	if (rc == -1) {
		conn_reply_error(c, 500, "internal", "answer too long");
		return;
	}
	console_json(c, body, strlen(body));
}

int
console_request(struct relay_conn *c, const char *url, size_t len)
{
	size_t	i;

	if (console_path_is(url, len, "/v1/health")) {
		console_health(c);
		return 0;
	}
	if (console_path_is(url, len, "/v1/console")) {
		console_whoami(c);
		return 0;
	}
	for (i = 0; i < nitems(console_assets); i++)
		if (console_path_is(url, len, console_assets[i].path)) {
			console_asset(c, i);
			return 0;
		}
	return -1;
}
