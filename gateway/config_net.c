/* The network-and-trust sections of the configuration: [listener NAME],
 * [agency NAME] and [upstream NAME], and the ip:port addresses they name. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <string.h>

#include "config.h"
#include "config_parse.h"
#include "net/tls.h"
#include "util.h"

/* The 14 pooling areas of DESIGN §1: a finance-city agency is bound to one. */
static const char *const config_cities[] = {
	"620100", "620200", "620300", "620400", "620500", "620600", "620700",
	"620800", "620900", "621000", "621100", "621200", "622900", "623000",
};

int
config_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char			 host[128];
	const char		*colon, *hs = s;
	size_t			 hl;
	uint64_t		 port;
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if ((colon = strrchr(s, ':')) == NULL)
		return -1;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 2 || s[hl - 1] != ']')
			return -1;
		hs = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (parse_u64(colon + 1, 1, 65535, &port) == -1)
		return -1;
	if (strcmp(host, "localhost") == 0)
		str_copy(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

void
config_listener_kv(struct config_parse *p, struct cfg_listener *l,
    const char *k, const char *v)
{
	if (strcmp(k, "listen") == 0) {
		config_set_text(p, l->listen, sizeof(l->listen), v, "listen");
		if (config_parse_addr(v, &l->addr, &l->addrlen) == -1)
			config_error(p->cf, p->line,
			    "bad listen address \"%s\" (want ip:port)", v);
	} else if (strcmp(k, "cert") == 0)
		config_set_path(p, l->cert, sizeof(l->cert), v);
	else if (strcmp(k, "key") == 0)
		config_set_path(p, l->key, sizeof(l->key), v);
	else if (strcmp(k, "ca") == 0)
		config_set_path(p, l->ca, sizeof(l->ca), v);
	else if (strcmp(k, "crl") == 0)
		config_set_path(p, l->crl, sizeof(l->crl), v);
	else if (strcmp(k, "min_protocol") == 0) {
		if (strcmp(v, "TLSv1.2") == 0)
			l->min_proto = TLS_PROTO_1_2;
		else if (strcmp(v, "TLSv1.3") == 0)
			l->min_proto = TLS_PROTO_1_3;
		else
			config_error(p->cf, p->line,
			    "min_protocol must be TLSv1.2 or TLSv1.3");
	} else if (strcmp(k, "tickets") == 0) {
		if (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0)
			l->tickets = strcmp(v, "yes") == 0;
		else
			config_error(p->cf, p->line, "tickets must be yes or no");
	} else if (strcmp(k, "send_timeout") == 0) {
		if (config_duration(p, v, &l->send_timeout_ms) == 0 &&
		    l->send_timeout_ms == 0)
			config_error(p->cf, p->line,
			    "send_timeout must not be 0");
	} else
		config_error(p->cf, p->line, "unknown key \"%s\" in a listener", k);
}

void
config_agency_kv(struct config_parse *p, struct cfg_agency *a, const char *k,
    const char *v)
{
	int	i;

	if (strcmp(k, "role") == 0) {
		if (config_role_parse(v, &a->role) == -1)
			config_error(p->cf, p->line, "unknown role \"%s\"", v);
		else
			a->has_role = 1;
	} else if (strcmp(k, "city") == 0) {
		for (i = 0; i < (int)nitems(config_cities); i++)
			if (strcmp(v, config_cities[i]) == 0)
				break;
		if (i == (int)nitems(config_cities))
			config_error(p->cf, p->line,
			    "\"%s\" is not one of the 14 pooling-area city codes", v);
		else
			str_copy(a->city, sizeof(a->city), v);
	} else if (!config_pin_kv(p, a->pins, &a->npins, k, v))
		config_error(p->cf, p->line, "unknown key \"%s\" in an agency", k);
}

int
config_pin_kv(struct config_parse *p, unsigned char pins[CFG_MAX_PINS][32],
    int *npins, const char *k, const char *v)
{
	char	path[CFG_PATH_MAX];

	if (strcmp(k, "pin") != 0 && strcmp(k, "pin_cert") != 0)
		return 0;
	if (*npins == CFG_MAX_PINS) {
		config_error(p->cf, p->line, "more than %d pins", CFG_MAX_PINS);
		return 1;
	}
	if (strcmp(k, "pin") == 0) {
		if (hex_decode(pins[*npins], 32, v) == -1) {
			config_error(p->cf, p->line,
			    "pin must be 64 hex digits (SPKI SHA-256)");
			return 1;
		}
	} else {
		if (config_set_path(p, path, sizeof(path), v) == -1)
			return 1;
		if (tls_spki_sha256_file(path, pins[*npins]) == -1) {
			config_error(p->cf, p->line,
			    "cannot read a certificate from %s", path);
			return 1;
		}
	}
	(*npins)++;
	return 1;
}

/* "https://host:port" only: upstreams are always mutual TLS. */
static void
config_upstream_url(struct config_parse *p, struct cfg_upstream *u,
    const char *v)
{
	const char	*h, *colon, *slash;
	char		 hostport[300];
	size_t		 hl;
	uint64_t	 port = 443;

	config_set_text(p, u->url, sizeof(u->url), v, "url");
	if (strncmp(v, "https://", 8) != 0) {
		config_error(p->cf, p->line, "upstream url must start with https://");
		return;
	}
	h = v + 8;
	slash = strchr(h, '/');
	hl = slash ? (size_t)(slash - h) : strlen(h);
	if (slash != NULL && strcmp(slash, "/") != 0) {
		config_error(p->cf, p->line,
		    "upstream url takes no path (routes keep the request path)");
		return;
	}
	if (hl == 0 || hl >= sizeof(u->host)) {
		config_error(p->cf, p->line, "bad upstream host");
		return;
	}
	memcpy(u->host, h, hl);
	u->host[hl] = '\0';
	if (u->host[0] == '[') {
		/* "[v6]" or "[v6]:port": the brackets are not the name. */
		char *rb = strchr(u->host, ']');

		if (rb == NULL || (rb[1] != '\0' && rb[1] != ':')) {
			config_error(p->cf, p->line, "bad upstream host");
			return;
		}
		if (rb[1] == ':' && parse_u64(rb + 2, 1, 65535, &port) == -1) {
			config_error(p->cf, p->line, "bad upstream port");
			return;
		}
		*rb = '\0';
		memmove(u->host, u->host + 1, strlen(u->host));
	} else if ((colon = strrchr(u->host, ':')) != NULL) {
		if (parse_u64(colon + 1, 1, 65535, &port) == -1) {
			config_error(p->cf, p->line, "bad upstream port");
			return;
		}
		u->host[colon - u->host] = '\0';
	}
	u->port = (uint16_t)port;
	/* Addresses are resolved here, once: workers do no DNS at run time. */
	if (str_printf(hostport, sizeof(hostport), strchr(u->host, ':') ?
	    "[%s]:%u" : "%s:%u", u->host, (unsigned)u->port) == -1 ||
	    config_parse_addr(hostport, &u->addr, &u->addrlen) == -1)
		config_error(p->cf, p->line,
		    "upstream host must be an IP address or localhost");
}

void
config_upstream_kv(struct config_parse *p, struct cfg_upstream *u,
    const char *k, const char *v)
{
	uint64_t	n;

	if (strcmp(k, "url") == 0)
		config_upstream_url(p, u, v);
	else if (strcmp(k, "ca") == 0)
		config_set_path(p, u->ca, sizeof(u->ca), v);
	else if (strcmp(k, "crl") == 0)
		config_set_path(p, u->crl, sizeof(u->crl), v);
	else if (strcmp(k, "cert") == 0)
		config_set_path(p, u->cert, sizeof(u->cert), v);
	else if (strcmp(k, "key") == 0)
		config_set_path(p, u->key, sizeof(u->key), v);
	else if (strcmp(k, "connect_timeout") == 0)
		config_duration(p, v, &u->connect_timeout_ms);
	else if (strcmp(k, "timeout") == 0)
		config_duration(p, v, &u->timeout_ms);
	else if (strcmp(k, "idle_timeout") == 0)
		config_duration(p, v, &u->idle_timeout_ms);
	else if (strcmp(k, "pool") == 0) {
		if (config_number(p, v, 0, 4096, &n) == 0)
			u->pool = (unsigned)n;
	} else
		config_error(p->cf, p->line, "unknown key \"%s\" in an upstream", k);
}
