/* Prometheus metrics: per-worker counters in shared memory, summed and
 * rendered on GET /metrics by whichever worker serves the scrape. */
#include <sys/mman.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "util.h"

static const int metrics_statuses[METRICS_NSTATUS] = {
	200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405,
	408, 409, 413, 417, 422, 429, 431, 499, 500, 502, 503, 504, 505,
};

/* Upper bounds in milliseconds. */
static const unsigned metrics_buckets[METRICS_NBUCKETS] = {
	1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000,
};

static const char *const metrics_tls_reasons[TLS_FAIL_COUNT] = {
	"no-certificate", "untrusted", "expired", "revoked", "protocol",
	"timeout", "other",
};

static const char *const metrics_refusals[CONN_REFUSED_COUNT] = {
	[CONN_REFUSED_CAPACITY] = "over-capacity",
	[CONN_REFUSED_ADDRESS] = "per-address",
	[CONN_REFUSED_EVICTED] = "evicted",
};
static const char *const metrics_listeners[LISTENER_COUNT] = {
	"agency", "admin",
};

struct metrics *
metrics_map(unsigned nslots)
{
	struct metrics	*m;
	size_t		 len = sizeof(*m) + nslots * sizeof(m->slot[0]);

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (m == MAP_FAILED) {
		log_warn("%s: mmap", __func__);
		return NULL;
	}
	m->nslots = nslots;
	return m;
}

void
metrics_unmap(struct metrics *m)
{
	if (m != NULL)
		munmap(m, sizeof(*m) + m->nslots * sizeof(m->slot[0]));
}

struct metrics_keeper *
metrics_keeper_map(void)
{
	void	*p;

	p = mmap(NULL, sizeof(struct metrics_keeper), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static size_t
metrics_status_index(int status)
{
	size_t	i;

	for (i = 0; i < METRICS_NSTATUS; i++)
		if (metrics_statuses[i] == status)
			return i;
	return METRICS_NSTATUS;		/* other */
}

void
metrics_request(struct metrics_slot *s, int route, int role, int status,
    uint64_t ms)
{
	size_t	r = route < 0 ? 0 : (size_t)route + 1;
	size_t	ro = role < 0 ? ROLE_COUNT : (size_t)role;
	size_t	b;

	atomic_fetch_add_explicit(&s->requests[r][ro][metrics_status_index(
	    status)], 1, memory_order_relaxed);
	for (b = 0; b < METRICS_NBUCKETS && ms > metrics_buckets[b]; b++)
		;
	atomic_fetch_add_explicit(&s->latency[r][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->latency_ms_sum[r], ms,
	    memory_order_relaxed);
}

static unsigned long long
metrics_sum(const struct metrics *m, size_t off)
{
	unsigned long long	sum = 0;
	unsigned		i;

	for (i = 0; i < m->nslots; i++)
		sum += atomic_load_explicit((const atomic_ullong *)(const void *)
		    ((const char *)&m->slot[i] + off), memory_order_relaxed);
	return sum;
}

#define METRICS_SUM(m, field)	metrics_sum((m), offsetof(struct metrics_slot, field))

static const char *
metrics_route_name(const struct config *cf, size_t r)
{
	return r == 0 ? "-" : cf->routes[r - 1].name;
}

static void
metrics_requests(const struct runtime *rt, struct evbuffer *out)
{
	const struct config	*cf = rt->cf;
	const struct metrics	*m = rt->metrics;
	unsigned long long	 v, cum;
	size_t			 r, ro, st, b;
	char			 code[8];

	evbuffer_add_printf(out,
	    "# HELP gateway_requests_total Exchanges answered, by route, caller "
	    "role and status.\n# TYPE gateway_requests_total counter\n");
	for (r = 0; r <= cf->nroutes; r++)
		for (ro = 0; ro <= ROLE_COUNT; ro++)
			for (st = 0; st <= METRICS_NSTATUS; st++) {
				v = METRICS_SUM(m, requests[r][ro][st]);
				if (v == 0)
					continue;
				if (st == METRICS_NSTATUS)
					str_copy(code, sizeof(code), "other");
				else
					str_printf(code, sizeof(code), "%d",
					    metrics_statuses[st]);
				evbuffer_add_printf(out, "gateway_requests_total"
				    "{route=\"%s\",role=\"%s\",status=\"%s\"} %llu\n",
				    metrics_route_name(cf, r), ro == ROLE_COUNT ?
				    "-" : config_role_name((enum role)ro), code, v);
			}
	evbuffer_add_printf(out,
	    "# HELP gateway_request_duration_seconds Time from the first byte of "
	    "a request to its response, by route.\n"
	    "# TYPE gateway_request_duration_seconds histogram\n");
	for (r = 0; r <= cf->nroutes; r++) {
		cum = 0;
		for (b = 0; b <= METRICS_NBUCKETS; b++) {
			cum += METRICS_SUM(m, latency[r][b]);
			if (b < METRICS_NBUCKETS)
				evbuffer_add_printf(out,
				    "gateway_request_duration_seconds_bucket"
				    "{route=\"%s\",le=\"%g\"} %llu\n",
				    metrics_route_name(cf, r),
				    metrics_buckets[b] / 1000.0, cum);
			else
				evbuffer_add_printf(out,
				    "gateway_request_duration_seconds_bucket"
				    "{route=\"%s\",le=\"+Inf\"} %llu\n",
				    metrics_route_name(cf, r), cum);
		}
		evbuffer_add_printf(out, "gateway_request_duration_seconds_sum"
		    "{route=\"%s\"} %.3f\n", metrics_route_name(cf, r),
		    METRICS_SUM(m, latency_ms_sum[r]) / 1000.0);
		evbuffer_add_printf(out, "gateway_request_duration_seconds_count"
		    "{route=\"%s\"} %llu\n", metrics_route_name(cf, r), cum);
	}
}

/* A counter per listener: an array [LISTENER_COUNT] of atomic_ullong at
 * offset off in every slot. */
static void
metrics_by_listener(const struct metrics *m, struct evbuffer *out,
    const char *name, const char *help, size_t off)
{
	size_t	k;

	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name,
	    help, name);
	for (k = 0; k < LISTENER_COUNT; k++)
		evbuffer_add_printf(out, "%s{listener=\"%s\"} %llu\n", name,
		    metrics_listeners[k], metrics_sum(m, off +
		    k * sizeof(atomic_ullong)));
}

/* A counter per listener and reason: an array [LISTENER_COUNT][n] of
 * atomic_ullong at offset off in every slot. */
static void
metrics_by_reason(const struct metrics *m, struct evbuffer *out,
    const char *name, const char *help, size_t off,
    const char *const *reasons, size_t n)
{
	size_t	k, why;

	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name,
	    help, name);
	for (k = 0; k < LISTENER_COUNT; k++)
		for (why = 0; why < n; why++)
			evbuffer_add_printf(out, "%s{listener=\"%s\",reason="
			    "\"%s\"} %llu\n", name, metrics_listeners[k],
			    reasons[why], metrics_sum(m, off +
			    (k * n + why) * sizeof(atomic_ullong)));
}

static void
metrics_tls(const struct runtime *rt, struct evbuffer *out)
{
	const struct metrics	*m = rt->metrics;
	long long		 open;
	unsigned		 i;
	size_t			 k;

	metrics_by_listener(m, out, "gateway_tls_handshakes_total",
	    "Completed TLS handshakes.", offsetof(struct metrics_slot,
	    handshakes));
	metrics_by_reason(m, out, "gateway_tls_handshake_failures_total",
	    "Refused or failed TLS handshakes, by reason.",
	    offsetof(struct metrics_slot, tls_failures), metrics_tls_reasons,
	    TLS_FAIL_COUNT);
	evbuffer_add_printf(out,
	    "# HELP gateway_unpinned_clients_total Handshakes with a valid "
	    "certificate pinned to no agency.\n"
	    "# TYPE gateway_unpinned_clients_total counter\n"
	    "gateway_unpinned_clients_total %llu\n", METRICS_SUM(m, unpinned));
	evbuffer_add_printf(out,
	    "# HELP gateway_connections_open Client connections open now.\n"
	    "# TYPE gateway_connections_open gauge\n");
	for (k = 0; k < LISTENER_COUNT; k++) {
		open = 0;
		for (i = 0; i < m->nslots; i++)
			open += atomic_load_explicit(&m->slot[i].open[k],
			    memory_order_relaxed);
		evbuffer_add_printf(out, "gateway_connections_open"
		    "{listener=\"%s\"} %lld\n", metrics_listeners[k], open);
	}
	metrics_by_reason(m, out, "gateway_connections_refused_total",
	    "Client connections closed before a request, by reason.",
	    offsetof(struct metrics_slot, conn_refused), metrics_refusals,
	    CONN_REFUSED_COUNT);
	metrics_by_listener(m, out, "gateway_send_timeouts_total",
	    "Clients dropped for not reading an answer within send_timeout.",
	    offsetof(struct metrics_slot, send_timeouts));
	evbuffer_add_printf(out,
	    "# HELP gateway_access_log_dropped_total Access log lines dropped "
	    "because the log did not take them in time.\n"
	    "# TYPE gateway_access_log_dropped_total counter\n"
	    "gateway_access_log_dropped_total %llu\n",
	    METRICS_SUM(m, access_dropped));
}

/* The witnesses: what each holds, its cosignatures and failures, the
 * newest checkpoint with the quorum, and the freeze on their evidence. */
static void
metrics_witnesses(const struct runtime *rt, struct evbuffer *out)
{
	const struct metrics_keeper	*k = rt->kmetrics;
	const struct config		*cf = rt->cf;
	char				 name[CFG_NAME_MAX * 2];
	long long			 t = atomic_load(&k->cosigned_time);
	size_t				 i;

	evbuffer_add_printf(out,
	    "# HELP gateway_log_frozen 1 once a witness gave evidence of a "
	    "rollback or fork: no checkpoints or instructions until an operator "
	    "acts.\n# TYPE gateway_log_frozen gauge\ngateway_log_frozen %d\n",
	    atomic_load(&k->log_frozen));
	if (cf->nwitnesses == 0)
		return;
	evbuffer_add_printf(out,
	    "# HELP gateway_audit_cosigned_size Tree size of the newest "
	    "checkpoint with the witnesses' quorum.\n"
	    "# TYPE gateway_audit_cosigned_size gauge\n"
	    "gateway_audit_cosigned_size %llu\n",
	    (unsigned long long)atomic_load(&k->cosigned_size));
	if (t > 0)
		evbuffer_add_printf(out,
		    "# HELP gateway_audit_cosigned_age_seconds Time since a "
		    "checkpoint last reached the quorum.\n"
		    "# TYPE gateway_audit_cosigned_age_seconds gauge\n"
		    "gateway_audit_cosigned_age_seconds %lld\n",
		    (long long)time(NULL) - t);
	evbuffer_add_printf(out,
	    "# HELP gateway_witness_requests_total add-checkpoint requests the "
	    "keeper sent.\n# TYPE gateway_witness_requests_total counter\n"
	    "gateway_witness_requests_total %llu\n"
	    "# HELP gateway_witness_keeper_seconds_total Keeper time spent on "
	    "witnesses: proofs, requests, checking and recording cosignatures.\n"
	    "# TYPE gateway_witness_keeper_seconds_total counter\n"
	    "gateway_witness_keeper_seconds_total %.6f\n",
	    (unsigned long long)atomic_load(&k->witness_asks),
	    (double)atomic_load(&k->witness_us) / 1e6);
	evbuffer_add_printf(out,
	    "# HELP gateway_witness_size Tree size each witness last cosigned.\n"
	    "# TYPE gateway_witness_size gauge\n");
	for (i = 0; i < cf->nwitnesses; i++) {
		json_escape(name, sizeof(name), cf->witnesses[i].name);
		evbuffer_add_printf(out, "gateway_witness_size{witness=\"%s\"} "
		    "%llu\n", name,
		    (unsigned long long)atomic_load(&k->witness_size[i]));
	}
	evbuffer_add_printf(out,
	    "# HELP gateway_witness_cosignatures_total Cosignatures received, "
	    "and questions without one.\n"
	    "# TYPE gateway_witness_cosignatures_total counter\n");
	for (i = 0; i < cf->nwitnesses; i++) {
		json_escape(name, sizeof(name), cf->witnesses[i].name);
		evbuffer_add_printf(out, "gateway_witness_cosignatures_total{"
		    "witness=\"%s\",outcome=\"cosigned\"} %llu\n"
		    "gateway_witness_cosignatures_total{witness=\"%s\","
		    "outcome=\"failed\"} %llu\n", name,
		    (unsigned long long)atomic_load(&k->witness_cosigs[i]), name,
		    (unsigned long long)atomic_load(&k->witness_failures[i]));
	}
}

static void
metrics_keeper(const struct runtime *rt, struct evbuffer *out)
{
	const struct metrics_keeper	*k = rt->kmetrics;
	long long			 t;

	t = atomic_load(&k->checkpoint_time);
	evbuffer_add_printf(out,
	    "# HELP gateway_audit_entries Entries in the audit log.\n"
	    "# TYPE gateway_audit_entries gauge\n"
	    "gateway_audit_entries %llu\n"
	    "# HELP gateway_audit_commits_total Group commits of the audit log.\n"
	    "# TYPE gateway_audit_commits_total counter\n"
	    "gateway_audit_commits_total %llu\n"
	    "# HELP gateway_audit_refused_total Appends that could not be made "
	    "durable.\n# TYPE gateway_audit_refused_total counter\n"
	    "gateway_audit_refused_total %llu\n"
	    "# HELP gateway_audit_checkpoint_size Tree size of the newest "
	    "checkpoint.\n# TYPE gateway_audit_checkpoint_size gauge\n"
	    "gateway_audit_checkpoint_size %llu\n",
	    (unsigned long long)atomic_load(&k->entries),
	    (unsigned long long)atomic_load(&k->commits),
	    (unsigned long long)atomic_load(&k->refused),
	    (unsigned long long)atomic_load(&k->checkpoint_size));
	evbuffer_add_printf(out,
	    "# HELP gateway_instructions_total Instructions by outcome.\n"
	    "# TYPE gateway_instructions_total counter\n"
	    "gateway_instructions_total{outcome=\"accepted\"} %llu\n"
	    "gateway_instructions_total{outcome=\"replayed\"} %llu\n"
	    "gateway_instructions_total{outcome=\"refused\"} %llu\n"
	    "# HELP gateway_deliveries_total Delivery attempts by outcome.\n"
	    "# TYPE gateway_deliveries_total counter\n"
	    "gateway_deliveries_total{outcome=\"delivered\"} %llu\n"
	    "gateway_deliveries_total{outcome=\"failed\"} %llu\n"
	    "# HELP gateway_outbox_rows Deliveries waiting (pending) or given up "
	    "until an operator acts (parked).\n"
	    "# TYPE gateway_outbox_rows gauge\n"
	    "gateway_outbox_rows{state=\"pending\"} %llu\n"
	    "gateway_outbox_rows{state=\"parked\"} %llu\n"
	    "# HELP gateway_trust_entries_total Audit entries of the files in "
	    "force, at start-up and reloads.\n"
	    "# TYPE gateway_trust_entries_total counter\n"
	    "gateway_trust_entries_total %llu\n",
	    (unsigned long long)atomic_load(&k->instr_accepted),
	    (unsigned long long)atomic_load(&k->instr_replayed),
	    (unsigned long long)atomic_load(&k->instr_refused),
	    (unsigned long long)atomic_load(&k->deliveries_ok),
	    (unsigned long long)atomic_load(&k->deliveries_failed),
	    (unsigned long long)atomic_load(&k->outbox_pending),
	    (unsigned long long)atomic_load(&k->outbox_parked),
	    (unsigned long long)atomic_load(&k->trust_entries));
	evbuffer_add_printf(out,
	    "# HELP gateway_wal_bytes Size of the audit database's write-ahead "
	    "log.\n# TYPE gateway_wal_bytes gauge\ngateway_wal_bytes %llu\n"
	    "# HELP gateway_wal_limit_bytes The configured limit of the WAL "
	    "([keeper] wal_limit).\n# TYPE gateway_wal_limit_bytes gauge\n"
	    "gateway_wal_limit_bytes %llu\n"
	    "# HELP gateway_wal_checkpoint_lag_frames WAL frames committed but "
	    "not yet copied into the database.\n"
	    "# TYPE gateway_wal_checkpoint_lag_frames gauge\n"
	    "gateway_wal_checkpoint_lag_frames %llu\n"
	    "# HELP gateway_wal_checkpoints_total WAL checkpoints run.\n"
	    "# TYPE gateway_wal_checkpoints_total counter\n"
	    "gateway_wal_checkpoints_total %llu\n"
	    "# HELP gateway_wal_checkpoint_seconds_total Time spent in WAL "
	    "checkpoints.\n# TYPE gateway_wal_checkpoint_seconds_total counter\n"
	    "gateway_wal_checkpoint_seconds_total %.3f\n"
	    "# HELP gateway_wal_checkpoint_max_seconds The longest WAL "
	    "checkpoint.\n# TYPE gateway_wal_checkpoint_max_seconds gauge\n"
	    "gateway_wal_checkpoint_max_seconds %.3f\n"
	    "# HELP gateway_wal_restarts_total WAL restarts, and restarts a "
	    "reader held off.\n# TYPE gateway_wal_restarts_total counter\n"
	    "gateway_wal_restarts_total{outcome=\"done\"} %llu\n"
	    "gateway_wal_restarts_total{outcome=\"busy\"} %llu\n"
	    "# HELP gateway_wal_checkpoint_failures_total Checkpoints that "
	    "failed.\n# TYPE gateway_wal_checkpoint_failures_total counter\n"
	    "gateway_wal_checkpoint_failures_total %llu\n"
	    "# HELP gateway_wal_over_limit 1 while the WAL is past its limit "
	    "(checkpoints cannot keep up).\n# TYPE gateway_wal_over_limit gauge\n"
	    "gateway_wal_over_limit %d\n"
	    "# HELP gateway_keeper_periodic_max_seconds The longest periodic "
	    "task of the keeper: signing and recording a checkpoint, writing "
	    "and syncing its file, the minute's watches.\n"
	    "# TYPE gateway_keeper_periodic_max_seconds gauge\n"
	    "gateway_keeper_periodic_max_seconds{task=\"checkpoint\"} %.3f\n"
	    "gateway_keeper_periodic_max_seconds{task=\"checkpoint_file\"} %.3f\n"
	    "gateway_keeper_periodic_max_seconds{task=\"watch\"} %.3f\n",
	    (unsigned long long)atomic_load(&k->wal_bytes),
	    (unsigned long long)atomic_load(&k->wal_limit),
	    (unsigned long long)atomic_load(&k->wal_lag_frames),
	    (unsigned long long)atomic_load(&k->wal_checkpoints),
	    (double)atomic_load(&k->wal_checkpoint_ms) / 1000.0,
	    (double)atomic_load(&k->wal_checkpoint_max_ms) / 1000.0,
	    (unsigned long long)atomic_load(&k->wal_restarts),
	    (unsigned long long)atomic_load(&k->wal_restarts_busy),
	    (unsigned long long)atomic_load(&k->wal_failures),
	    atomic_load(&k->wal_over_limit),
	    (double)atomic_load(&k->periodic_max_ms[0]) / 1000.0,
	    (double)atomic_load(&k->periodic_max_ms[1]) / 1000.0,
	    (double)atomic_load(&k->periodic_max_ms[2]) / 1000.0);
	if (t > 0)
		evbuffer_add_printf(out,
		    "# HELP gateway_audit_checkpoint_age_seconds Age of the "
		    "newest checkpoint.\n"
		    "# TYPE gateway_audit_checkpoint_age_seconds gauge\n"
		    "gateway_audit_checkpoint_age_seconds %lld\n",
		    (long long)time(NULL) - t);
	metrics_witnesses(rt, out);
}

static void
metrics_certs(const struct runtime *rt, struct evbuffer *out)
{
	char	path[CFG_PATH_MAX * 2];
	size_t	i;

	/* Prometheus wants base units: seconds, not days. */
	evbuffer_add_printf(out,
	    "# HELP gateway_certificate_expiry_seconds Time until a configured "
	    "certificate expires (negative: expired).\n"
	    "# TYPE gateway_certificate_expiry_seconds gauge\n");
	for (i = 0; i < rt->ncerts; i++) {
		if (rt->certs[i].crl)
			continue;
		json_escape(path, sizeof(path), rt->certs[i].path);
		evbuffer_add_printf(out, "gateway_certificate_expiry_seconds"
		    "{file=\"%s\"} %.0f\n", path,
		    difftime(rt->certs[i].not_after, time(NULL)));
	}
	evbuffer_add_printf(out,
	    "# HELP gateway_crl_next_update_seconds Time until the earliest "
	    "nextUpdate of a configured CRL file (negative: lapsed).\n"
	    "# TYPE gateway_crl_next_update_seconds gauge\n");
	for (i = 0; i < rt->ncerts; i++) {
		if (!rt->certs[i].crl)
			continue;
		json_escape(path, sizeof(path), rt->certs[i].path);
		evbuffer_add_printf(out, "gateway_crl_next_update_seconds"
		    "{file=\"%s\"} %.0f\n", path,
		    difftime(rt->certs[i].not_after, time(NULL)));
	}
}

int
metrics_render(const struct runtime *rt, struct evbuffer *out)
{
	evbuffer_add_printf(out,
	    "# HELP gateway_workers_alive Relay workers running.\n"
	    "# TYPE gateway_workers_alive gauge\n"
	    "gateway_workers_alive %u\n",
	    atomic_load(&rt->shm->workers_alive));
	metrics_requests(rt, out);
	metrics_tls(rt, out);
	if (rt->kmetrics != NULL)
		metrics_keeper(rt, out);
	metrics_certs(rt, out);
	return 0;
}

/* The file to read for certs, or NULL: none named, no room, already there
 * or unreadable. The caller closes it. */
static FILE *
metrics_open(const char *file, const struct metrics_cert *certs, size_t have,
    size_t n)
{
	size_t	i;

	if (file[0] == '\0' || have == n)
		return NULL;
	for (i = 0; i < have; i++)
		if (strcmp(certs[i].path, file) == 0)
			return NULL;
	return fopen(file, "r");
}

/* Adds the first certificate of file (if readable and new) to certs. */
static size_t
metrics_cert(const char *file, struct metrics_cert *certs, size_t have,
    size_t n)
{
	FILE		*fp;
	X509		*x;
	struct tm	 tm;

	if ((fp = metrics_open(file, certs, have, n)) == NULL)
		return have;
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (x == NULL)
		return have;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
		str_copy(certs[have].path, sizeof(certs[have].path), file);
		certs[have].not_after = timegm(&tm);
		certs[have].crl = 0;
		have++;
	}
	X509_free(x);
	return have;
}

/* Adds CRL file (if readable and new) with the earliest nextUpdate of the
 * CRLs in it: the first to lapse fails verification for its whole CA. */
static size_t
metrics_crl(const char *file, struct metrics_cert *certs, size_t have,
    size_t n)
{
	FILE		*fp;
	X509_CRL	*crl;
	const ASN1_TIME	*next;
	struct tm	 tm;
	time_t		 t, first = 0;

	if ((fp = metrics_open(file, certs, have, n)) == NULL)
		return have;
	while ((crl = PEM_read_X509_CRL(fp, NULL, NULL, NULL)) != NULL) {
		if ((next = X509_CRL_get0_nextUpdate(crl)) != NULL &&
		    ASN1_TIME_to_tm(next, &tm) == 1 &&
		    ((t = timegm(&tm)) < first || first == 0))
			first = t;
		X509_CRL_free(crl);
	}
	fclose(fp);
	ERR_clear_error();	/* the end of the file reads as an error */
	if (first == 0)
		return have;
	str_copy(certs[have].path, sizeof(certs[have].path), file);
	certs[have].not_after = first;
	certs[have].crl = 1;
	return have + 1;
}

size_t
metrics_collect_certs(const struct config *cf, struct metrics_cert *certs,
    size_t n)
{
	size_t	have = 0, i;

	for (i = 0; i < LISTENER_COUNT; i++) {
		have = metrics_cert(cf->listeners[i].cert, certs, have, n);
		have = metrics_cert(cf->listeners[i].ca, certs, have, n);
		have = metrics_crl(cf->listeners[i].crl, certs, have, n);
	}
	for (i = 0; i < cf->nupstreams; i++) {
		have = metrics_cert(cf->upstreams[i].cert, certs, have, n);
		have = metrics_cert(cf->upstreams[i].ca, certs, have, n);
		have = metrics_crl(cf->upstreams[i].crl, certs, have, n);
	}
	return have;
}
