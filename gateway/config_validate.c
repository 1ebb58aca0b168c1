/* Cross-section checks of a configuration once the whole file is read:
 * required keys, references between sections, pins naming one agency. */
#include <string.h>

#include "config.h"
#include "witness/cosig.h"

static void
config_check_listener(struct config *cf, struct cfg_listener *l,
    const char *name)
{
	if (!l->configured) {
		config_error(cf, 1, "no [listener %s] section", name);
		return;
	}
	if (l->listen[0] == '\0')
		config_error(cf, l->line, "listener %s: listen is required", name);
	if (l->cert[0] == '\0' || l->key[0] == '\0' || l->ca[0] == '\0')
		config_error(cf, l->line,
		    "listener %s: cert, key and ca are required", name);
}

static int
config_upstream_index(const struct config *cf, const char *name)
{
	size_t	i;

	for (i = 0; i < cf->nupstreams; i++)
		if (strcmp(cf->upstreams[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Deliveries: the courier's upstreams and every bank's agency, upstream
 * and key. */
static void
config_validate_delivery(struct config *cf)
{
	struct cfg_courier	*c = &cf->courier;
	size_t			 i, j;

	if (c->finance_name[0] != '\0' &&
	    (c->finance = config_upstream_index(cf, c->finance_name)) == -1)
		config_error(cf, c->line, "courier: unknown upstream \"%s\"",
		    c->finance_name);
	if (c->hrss_name[0] != '\0' &&
	    (c->hrss = config_upstream_index(cf, c->hrss_name)) == -1)
		config_error(cf, c->line, "courier: unknown upstream \"%s\"",
		    c->hrss_name);
	if (c->retry_min_ms == 0 || c->retry_min_ms > c->retry_max_ms)
		config_error(cf, c->line ? c->line : 1,
		    "courier: retry_min must be above 0 and at most retry_max");
	for (i = 0; i < cf->nbanks; i++) {
		struct cfg_bank *b = &cf->banks[i];

		for (j = 0; j < cf->nagencies; j++)
			if (strcmp(cf->agencies[j].name, b->name) == 0)
				b->agency = (int)j;
		if (b->agency == -1 || cf->agencies[b->agency].role != ROLE_BANK)
			config_error(cf, b->line,
			    "bank %s: no agency of role bank has that name",
			    b->name);
		if ((b->upstream = config_upstream_index(cf,
		    b->upstream_name)) == -1)
			config_error(cf, b->line, "bank %s: unknown upstream \"%s\"",
			    b->name, b->upstream_name);
		if (b->signing_key[0] == '\0')
			config_error(cf, b->line, "bank %s: signing_key is required",
			    b->name);
	}
}

/* Witnesses: each through a known upstream, with a cosignature key; the
 * quorum is at most their number (every one of them unless set). */
static void
config_validate_witnesses(struct config *cf)
{
	struct note_verifier	 v;
	size_t			 i, j;

	for (i = 0; i < cf->nwitnesses; i++) {
		struct cfg_witness *w = &cf->witnesses[i];

		if ((w->upstream = config_upstream_index(cf,
		    w->upstream_name)) == -1)
			config_error(cf, w->line,
			    "witness %s: unknown upstream \"%s\"", w->name,
			    w->upstream_name);
		/* Its own upstream: the courier queues a delivery upstream's
		 * orders behind one another, and a witness must not wait
		 * behind a bank (or hold one up). */
		for (j = 0; j < cf->nbanks; j++)
			if (w->upstream != -1 &&
			    w->upstream == cf->banks[j].upstream)
				config_error(cf, w->line, "witness %s: upstream "
				    "%s is bank %s's", w->name, w->upstream_name,
				    cf->banks[j].name);
		if (w->upstream != -1 && (w->upstream == cf->courier.finance ||
		    w->upstream == cf->courier.hrss))
			config_error(cf, w->line, "witness %s: upstream %s is "
			    "the courier's", w->name, w->upstream_name);
		if (note_verifier_parse_alg(&v, w->key, COSIG_ALG) == -1)
			config_error(cf, w->line, "witness %s: key must be its "
			    "cosignature verifier key (name+id+base64, type "
			    "0x04), as `gatewayctl keygen --witness-name` "
			    "prints it", w->name);
	}
	if (cf->keeper.witness_quorum == 0)
		cf->keeper.witness_quorum = cf->nwitnesses;
	else if (cf->keeper.witness_quorum > cf->nwitnesses)
		config_error(cf, cf->keeper.witness_quorum_line,
		    "witness_quorum %llu is more than the %zu witnesses",
		    (unsigned long long)cf->keeper.witness_quorum,
		    cf->nwitnesses);
}

/* Unset handshake budgets: a quarter of max_connections, from 16 to 256,
 * and half of that (8 at least) from one address, so that one address
 * alone never fills the budget while a burst of new connections from one
 * agency still fits. The handshake deadline: request_timeout up to 5s. */
static void
config_validate_handshakes(struct cfg_limits *l)
{
	if (l->max_handshakes == 0) {
		l->max_handshakes = l->max_connections / 4;
		if (l->max_handshakes < 16)
			l->max_handshakes = 16;
		if (l->max_handshakes > 256)
			l->max_handshakes = 256;
	}
	if (l->max_handshakes_per_address == 0) {
		l->max_handshakes_per_address = l->max_handshakes / 2;
		if (l->max_handshakes_per_address < 8)
			l->max_handshakes_per_address = 8;
	}
	if (l->handshake_timeout_ms == 0)
		l->handshake_timeout_ms = l->request_timeout_ms < 5000 ?
		    l->request_timeout_ms : 5000;
}

void
config_validate(struct config *cf)
{
	size_t	i, j;
	int	k, m;

	config_check_listener(cf, &cf->listeners[LISTENER_AGENCY], "agency");
	config_check_listener(cf, &cf->listeners[LISTENER_ADMIN], "admin");
	for (i = 0; i < cf->nagencies; i++) {
		struct cfg_agency *a = &cf->agencies[i];

		if (!a->has_role)
			config_error(cf, a->line, "agency %s: role is required",
			    a->name);
		if (a->npins == 0)
			config_error(cf, a->line,
			    "agency %s: at least one pin or pin_cert is required",
			    a->name);
		if (a->has_role && a->role == ROLE_FINANCE_CITY && a->city[0] == '\0')
			config_error(cf, a->line,
			    "agency %s: a finance-city agency needs its city", a->name);
		if (a->has_role && a->role != ROLE_FINANCE_CITY && a->city[0] != '\0')
			config_error(cf, a->line,
			    "agency %s: only finance-city agencies have a city",
			    a->name);
		/* A pin must name exactly one agency. */
		for (j = 0; j < i; j++)
			for (k = 0; k < a->npins; k++)
				for (m = 0; m < cf->agencies[j].npins; m++)
					if (memcmp(a->pins[k],
					    cf->agencies[j].pins[m], 32) == 0)
						config_error(cf, a->line,
						    "agency %s: pin already used by "
						    "agency %s", a->name,
						    cf->agencies[j].name);
	}
	for (i = 0; i < cf->nupstreams; i++) {
		struct cfg_upstream *u = &cf->upstreams[i];

		if (u->url[0] == '\0' || u->ca[0] == '\0' || u->cert[0] == '\0' ||
		    u->key[0] == '\0')
			config_error(cf, u->line,
			    "upstream %s: url, ca, cert and key are required",
			    u->name);
	}
	for (i = 0; i < cf->nroutes; i++) {
		struct cfg_route *r = &cf->routes[i];

		if (r->prefix[0] == '\0')
			config_error(cf, r->line, "route %s: prefix is required",
			    r->name);
		if (r->roles == 0)
			config_error(cf, r->line, "route %s: roles is required",
			    r->name);
		if (r->methods == 0)
			r->methods = METHOD_GET | METHOD_HEAD | METHOD_POST |
			    METHOD_PUT | METHOD_DELETE | METHOD_PATCH;
		for (j = 0; j < cf->nupstreams; j++)
			if (strcmp(cf->upstreams[j].name, r->upstream_name) == 0)
				r->upstream = (int)j;
		if (r->upstream == -1)
			config_error(cf, r->line, "route %s: unknown upstream \"%s\"",
			    r->name, r->upstream_name);
		for (j = 0; j < i; j++)
			if (strcmp(cf->routes[j].prefix, r->prefix) == 0)
				config_error(cf, r->line,
				    "route %s: prefix %s already used by route %s",
				    r->name, r->prefix, cf->routes[j].name);
	}
	if (cf->keeper.line == 0)
		config_error(cf, 1, "no [keeper] section");
	else if (cf->keeper.database[0] == '\0' ||
	    cf->keeper.checkpoint_file[0] == '\0' ||
	    cf->keeper.origin[0] == '\0' || cf->keeper.log_key[0] == '\0')
		config_error(cf, cf->keeper.line,
		    "keeper: database, checkpoint_file, origin and log_key are required");
	config_validate_delivery(cf);
	config_validate_witnesses(cf);
	if (cf->limits.max_connections_per_agency > cf->limits.max_connections)
		config_error(cf, 1,
		    "max_connections_per_agency exceeds max_connections");
	config_validate_handshakes(&cf->limits);
	if (cf->limits.max_handshakes_per_address > cf->limits.max_handshakes)
		config_error(cf, 1,
		    "max_handshakes_per_address exceeds max_handshakes");
}

