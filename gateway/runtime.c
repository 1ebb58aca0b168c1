/* TLS material named by the config, loaded once by the parent (and by
 * `gatewayd -t`, so a config test proves certificates and keys load). */
#include <string.h>

#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "net/tls.h"
#include "runtime.h"

static const char *const runtime_sid[LISTENER_COUNT] = {
	[LISTENER_AGENCY] = "gateway-agency", [LISTENER_ADMIN] = "gateway-admin",
};
static const char *const runtime_listener[LISTENER_COUNT] = {
	[LISTENER_AGENCY] = "agency", [LISTENER_ADMIN] = "admin",
};

int
runtime_tls_load(struct runtime *rt)
{
	struct config	*cf = rt->cf;
	char		 err[512];
	size_t		 i;
	int		 k, rc = 0;

	for (k = 0; k < LISTENER_COUNT; k++) {
		/* Every listener verifies clients: without a CRL a revoked
		 * certificate is good until it expires. */
		if (cf->listeners[k].crl[0] == '\0')
			config_warn(cf, cf->listeners[k].line, "listener %s has "
			    "no crl: revoked client certificates are accepted",
			    runtime_listener[k]);
		rt->server_ctx[k] = tls_server_ctx(&cf->listeners[k],
		    runtime_sid[k], err, sizeof(err));
		if (rt->server_ctx[k] == NULL) {
			config_error(cf, cf->listeners[k].line, "%s", err);
			rc = -1;
		}
	}
	for (i = 0; i < cf->nupstreams; i++) {
		if (cf->upstreams[i].crl[0] == '\0')
			config_warn(cf, cf->upstreams[i].line, "upstream %s has no "
			    "crl: a revoked server certificate is accepted",
			    cf->upstreams[i].name);
		rt->upstream_ctx[i] = tls_client_ctx(&cf->upstreams[i], err,
		    sizeof(err));
		if (rt->upstream_ctx[i] == NULL) {
			config_error(cf, cf->upstreams[i].line, "upstream %s: %s",
			    cf->upstreams[i].name, err);
			rc = -1;
		}
	}
	rt->ncerts = metrics_collect_certs(cf, rt->certs, RUNTIME_MAX_CERTS);
	return rc;
}

void
runtime_tls_free(struct runtime *rt)
{
	size_t	i;

	for (i = 0; i < LISTENER_COUNT; i++) {
		SSL_CTX_free(rt->server_ctx[i]);
		rt->server_ctx[i] = NULL;
	}
	for (i = 0; i < CFG_MAX_UPSTREAMS; i++) {
		SSL_CTX_free(rt->upstream_ctx[i]);
		rt->upstream_ctx[i] = NULL;
	}
}

unsigned
runtime_conns_total(const struct runtime_shared *shm, unsigned n)
{
	unsigned	s, sum = 0;

	for (s = 0; s < n; s++)
		sum += atomic_load_explicit(&shm->slot[s].total,
		    memory_order_relaxed);
	return sum;
}

unsigned
runtime_conns_agency(const struct runtime_shared *shm, unsigned n, int agency)
{
	unsigned	s, sum = 0;

	for (s = 0; s < n; s++)
		sum += atomic_load_explicit(&shm->slot[s].agency[agency],
		    memory_order_relaxed);
	return sum;
}
