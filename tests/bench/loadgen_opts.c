/* Command-line parsing for the load generator: every number through
 * parse_u64 / parse_duration_ms, every limit checked before the run starts. */
#include <getopt.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "loadgen_opts.h"
#include "loadgen_url.h"

enum {
	LOADGEN_OPT_URL = 256, LOADGEN_OPT_CERT, LOADGEN_OPT_KEY, LOADGEN_OPT_CA,
	LOADGEN_OPT_NEWCONN, LOADGEN_OPT_METHOD, LOADGEN_OPT_BODY,
	LOADGEN_OPT_HEADER, LOADGEN_OPT_JSON, LOADGEN_OPT_TIMEOUT, LOADGEN_OPT_SNI
};

static const struct option loadgen_opts_long[] = {
	{ "url",	required_argument, NULL, LOADGEN_OPT_URL },
	{ "cert",	required_argument, NULL, LOADGEN_OPT_CERT },
	{ "key",	required_argument, NULL, LOADGEN_OPT_KEY },
	{ "ca",		required_argument, NULL, LOADGEN_OPT_CA },
	{ "connections", required_argument, NULL, 'c' },
	{ "duration",	required_argument, NULL, 'd' },
	{ "threads",	required_argument, NULL, 't' },
	{ "new-conn",	no_argument,	   NULL, LOADGEN_OPT_NEWCONN },
	{ "method",	required_argument, NULL, LOADGEN_OPT_METHOD },
	{ "body-bytes",	required_argument, NULL, LOADGEN_OPT_BODY },
	{ "header",	required_argument, NULL, LOADGEN_OPT_HEADER },
	{ "json",	no_argument,	   NULL, LOADGEN_OPT_JSON },
	{ "timeout",	required_argument, NULL, LOADGEN_OPT_TIMEOUT },
	{ "sni",	required_argument, NULL, LOADGEN_OPT_SNI },
	{ "help",	no_argument,	   NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

void
loadgen_opts_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loadgen --url https://HOST[:PORT]/PATH --cert FILE --key FILE\n"
	    "               --ca FILE [-c CONNS] [-d SECONDS] [-t THREADS] [--new-conn]\n"
	    "               [--method GET|POST] [--body-bytes N]\n"
	    "               [--header 'Name: value']...\n"
	    "               [--timeout DURATION] [--sni NAME] [--json]\n"
	    "  -c, --connections  concurrent connections (default 32)\n"
	    "  -d, --duration     run time: seconds, or 500ms, 10s, 1m (default 10s)\n"
	    "  -t, --threads      threads, each with its own event loop (default 1)\n"
	    "  --new-conn         a new TCP+TLS connection (full handshake, no\n"
	    "                     resumption) per request, sent with Connection: close\n"
	    "  --body-bytes N     request body of N bytes (implies Content-Length)\n"
	    "  --timeout          per-request deadline (default 5s), then an error\n"
	    "  --sni NAME         name sent as SNI and verified in the server's\n"
	    "                     certificate\n"
	    "                     (default: the URL host, matched as a name or an IP)\n"
	    "  --json             one JSON object on stdout instead of text\n"
	    "Exit status: 0 if at least one request got a 2xx answer, 1 if none,\n"
	    "2 on usage or set-up errors.\n");
}

/* Defaults chosen to match the bench script's keep-alive run. */
static void
loadgen_opts_defaults(struct loadgen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->conns = 32;
	o->threads = 1;
	o->duration_ms = 10000;
	o->timeout_ms = 5000;
	o->method = "GET";
}

static int
loadgen_opts_check(struct loadgen_opts *o)
{
	if (o->url == NULL || o->cert == NULL || o->key == NULL || o->ca == NULL) {
		log_warnx("%s: --url, --cert, --key and --ca are required", __func__);
		return -1;
	}
	if (strcmp(o->method, "GET") != 0 && strcmp(o->method, "POST") != 0) {
		log_warnx("%s: --method must be GET or POST", __func__);
		return -1;
	}
	if (o->threads > o->conns)
		o->threads = o->conns;
	if (loadgen_url_parse(o, o->url) == -1 || loadgen_url_resolve(o) == -1)
		return -1;
	return 0;
}

int
loadgen_opts_parse(struct loadgen_opts *o, int argc, char **argv)
{
	uint64_t	v;
	int		ch;

	loadgen_opts_defaults(o);
	while ((ch = getopt_long(argc, argv, "c:d:t:h", loadgen_opts_long, NULL)) != -1) {
		switch (ch) {
		case LOADGEN_OPT_URL:
			o->url = optarg;
			break;
		case LOADGEN_OPT_CERT:
			o->cert = optarg;
			break;
		case LOADGEN_OPT_KEY:
			o->key = optarg;
			break;
		case LOADGEN_OPT_CA:
			o->ca = optarg;
			break;
		case 'c':
			if (parse_u64(optarg, 1, LOADGEN_MAX_CONNS, &v) == -1) {
				log_warnx("%s: -c: 1 to %u", __func__, LOADGEN_MAX_CONNS);
				return -1;
			}
			o->conns = (unsigned)v;
			break;
		case 'd':
			if (parse_duration_ms(optarg, 3600000, &o->duration_ms) == -1 ||
			    o->duration_ms == 0) {
				log_warnx("%s: -d: a duration up to 1h", __func__);
				return -1;
			}
			break;
		case 't':
			if (parse_u64(optarg, 1, LOADGEN_MAX_THREADS, &v) == -1) {
				log_warnx("%s: -t: 1 to %u", __func__,
				    LOADGEN_MAX_THREADS);
				return -1;
			}
			o->threads = (unsigned)v;
			break;
		case LOADGEN_OPT_NEWCONN:
			o->new_conn = 1;
			break;
		case LOADGEN_OPT_METHOD:
			o->method = optarg;
			break;
		case LOADGEN_OPT_BODY:
			if (parse_u64(optarg, 0, LOADGEN_MAX_BODY,
			    &o->body_bytes) == -1) {
				log_warnx("%s: --body-bytes: 0 to %u", __func__,
				    LOADGEN_MAX_BODY);
				return -1;
			}
			break;
		case LOADGEN_OPT_HEADER:
			if (o->nheaders >= LOADGEN_MAX_HEADERS || strlen(optarg) > 1000) {
				log_warnx("%s: at most %u headers of 1000 bytes",
				    __func__, LOADGEN_MAX_HEADERS);
				return -1;
			}
			o->headers[o->nheaders++] = optarg;
			break;
		case LOADGEN_OPT_JSON:
			o->json = 1;
			break;
		case LOADGEN_OPT_TIMEOUT:
			if (parse_duration_ms(optarg, 600000, &o->timeout_ms) == -1 ||
			    o->timeout_ms == 0) {
				log_warnx("%s: --timeout: a duration up to 10m",
				    __func__);
				return -1;
			}
			break;
		case LOADGEN_OPT_SNI:
			o->sni = optarg;
			break;
		case 'h':
			o->help = 1;
			return -1;
		default:
			return -1;
		}
	}
	if (optind != argc) {
		log_warnx("%s: unexpected argument '%s'", __func__, argv[optind]);
		return -1;
	}
	return loadgen_opts_check(o);
}
