/* Command-line parsing for the load generator: every number through
 * parse_u64 / parse_duration_ms, every limit checked before the run starts. */
#include <getopt.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "loadgen_opts.h"
#include "loadgen_url.h"

enum {
	LOADGEN_OPT_URL = 256, LOADGEN_OPT_CERT, LOADGEN_OPT_KEY, LOADGEN_OPT_CA,
	LOADGEN_OPT_NEWCONN, LOADGEN_OPT_METHOD, LOADGEN_OPT_BODY,
	LOADGEN_OPT_HEADER, LOADGEN_OPT_JSON, LOADGEN_OPT_TIMEOUT, LOADGEN_OPT_SNI,
	LOADGEN_OPT_TEMPLATE, LOADGEN_OPT_CTYPE, LOADGEN_OPT_EXPECT,
	LOADGEN_OPT_IDPREFIX, LOADGEN_OPT_RATE, LOADGEN_OPT_WARMUP
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
	{ "body-template", required_argument, NULL, LOADGEN_OPT_TEMPLATE },
	{ "content-type", required_argument, NULL, LOADGEN_OPT_CTYPE },
	{ "expect",	required_argument, NULL, LOADGEN_OPT_EXPECT },
	{ "id-prefix",	required_argument, NULL, LOADGEN_OPT_IDPREFIX },
	{ "rate",	required_argument, NULL, LOADGEN_OPT_RATE },
	{ "warmup",	required_argument, NULL, LOADGEN_OPT_WARMUP },
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
	    "               [--body-template FILE[,path=P][,cert=F][,key=F][,type=T]\n"
	    "                                     [,vary=F]]...\n"
	    "               [--content-type TYPE] [--expect STATUS] [--id-prefix STR]\n"
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
	    "  --body-template    POST this file as the body; every {{ID}} in it is\n"
	    "                     replaced by an id unique to the request (PREFIX-\n"
	    "                     CCCC-SSSSSSSSSSSS: connection, sequence). Repeat it\n"
	    "                     (up to %u) for a mix: connection i uses template\n"
	    "                     i mod N, with that template's path (default: the\n"
	    "                     URL's), client certificate and key (default --cert,\n"
	    "                     --key) and Content-Type (default --content-type).\n"
	    "                     vary=F: each request replaces every {{VAR}} by\n"
	    "                     the next line of F (lines of equal length; after\n"
	    "                     the last, the first again, counted as repeats)\n"
	    "  --content-type     Content-Type of the bodies (default\n"
	    "                     application/octet-stream)\n"
	    "  --expect STATUS    count only answers with this status as successes\n"
	    "                     (default: any 2xx); latency is then theirs only\n"
	    "  --id-prefix STR    1-%u of [A-Za-z0-9._] starting the ids (default\n"
	    "                     from the time and the process id, so runs differ)\n"
	    "  --rate N           at most N requests a second over all connections,\n"
	    "                     each connection sending on its own schedule (keep-\n"
	    "                     alive only, to the millisecond: above about 1,000\n"
	    "                     a second per connection, add connections);\n"
	    "                     default: as fast as answers come\n"
	    "  --warmup DURATION  the first DURATION of -d is not counted (connection\n"
	    "                     set-up, pools filling); rates are over the rest\n"
	    "Exit status: 0 if at least one request succeeded, 1 if none,\n"
	    "2 on usage or set-up errors.\n", LOADGEN_MAX_TEMPLATES,
	    LOADGEN_ID_PREFIX_MAX);
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

/* Characters of the gateway's ids ([A-Za-z0-9._-]); the prefix leaves out
 * '-', which separates the parts of a generated id. */
static int
loadgen_opts_id_prefix(struct loadgen_opts *o, const char *s)
{
	const char	*p;

	if (*s == '\0' || strlen(s) > LOADGEN_ID_PREFIX_MAX) {
		log_warnx("%s: --id-prefix: 1 to %u characters", __func__,
		    LOADGEN_ID_PREFIX_MAX);
		return -1;
	}
	for (p = s; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || *p == '.' || *p == '_')) {
			log_warnx("%s: --id-prefix: only [A-Za-z0-9._]", __func__);
			return -1;
		}
	return str_copy(o->id_prefix, sizeof(o->id_prefix), s);
}

/* A request target or header value we paste into the request: no blanks
 * or line breaks, which would let a typo become a second request. */
static int
loadgen_opts_clean(const char *what, const char *v, const char *bad)
{
	if (*v == '\0' || strpbrk(v, bad) != NULL) {
		log_warnx("%s: %s '%s' is empty or has a blank or line break",
		    __func__, what, v);
		return -1;
	}
	return 0;
}

/* Splits "FILE[,path=P][,cert=F][,key=F][,type=T]" into a template. */
static int
loadgen_opts_template(struct loadgen_opts *o, const char *arg)
{
	struct loadgen_template	*t;
	char			*field, *next;

	if (o->ntpl >= LOADGEN_MAX_TEMPLATES) {
		log_warnx("%s: at most %u --body-template", __func__,
		    LOADGEN_MAX_TEMPLATES);
		return -1;
	}
	t = &o->tpl[o->ntpl];
	memset(t, 0, sizeof(*t));
	if (str_copy(t->spec, sizeof(t->spec), arg) == -1) {
		log_warnx("%s: --body-template too long", __func__);
		return -1;
	}
	t->file = t->spec;
	/* Each comma ends the previous field; what follows it is "name=value". */
	for (next = strchr(t->spec, ','); next != NULL; ) {
		*next = '\0';
		field = next + 1;
		next = strchr(field, ',');
		if (next != NULL)
			*next = '\0';
		if (strncmp(field, "path=", 5) == 0)
			t->path = field + 5;
		else if (strncmp(field, "cert=", 5) == 0)
			t->cert = field + 5;
		else if (strncmp(field, "key=", 4) == 0)
			t->key = field + 4;
		else if (strncmp(field, "type=", 5) == 0)
			t->ctype = field + 5;
		else if (strncmp(field, "vary=", 5) == 0)
			t->vary = field + 5;
		else {
			log_warnx("%s: --body-template: unknown field '%s' (path=, "
			    "cert=, key=, type=, vary=)", __func__, field);
			return -1;
		}
	}
	if (*t->file == '\0') {
		log_warnx("%s: --body-template: no file", __func__);
		return -1;
	}
	if (t->path != NULL && (*t->path != '/' ||
	    loadgen_opts_clean("path", t->path, " \t\r\n") == -1))
		return -1;
	if (t->ctype != NULL && loadgen_opts_clean("type", t->ctype, "\r\n") == -1)
		return -1;
	if ((t->cert != NULL && *t->cert == '\0') ||
	    (t->key != NULL && *t->key == '\0') ||
	    (t->vary != NULL && *t->vary == '\0')) {
		log_warnx("%s: --body-template: empty cert=, key= or vary=",
		    __func__);
		return -1;
	}
	o->ntpl++;
	return 0;
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
	if (o->ntpl > 0) {
		if (o->body_bytes > 0 || strcmp(o->method, "GET") == 0) {
			log_warnx("%s: --body-template sends POST requests, without "
			    "--body-bytes", __func__);
			return -1;
		}
		/* Every template needs at least one connection to be measured. */
		if (o->conns < o->ntpl) {
			log_warnx("%s: -c must be at least the number of templates",
			    __func__);
			return -1;
		}
	}
	if (o->ctype != NULL &&
	    loadgen_opts_clean("--content-type", o->ctype, "\r\n") == -1)
		return -1;
	/* Distinct per process and second: the same gateway sees several runs. */
	if (o->id_prefix[0] == '\0' && str_printf(o->id_prefix,
	    sizeof(o->id_prefix), "lg%08llx%04x",
	    (unsigned long long)time(NULL) & 0xffffffffULL,
	    (unsigned)getpid() & 0xffffu) == -1)
		return -1;
	o->id_len = strlen(o->id_prefix) + 18;
	if (o->rate > 0) {
		/* Pacing spaces requests on a kept connection; a new connection
		 * per request would measure handshakes at their own pace. */
		if (o->new_conn) {
			log_warnx("%s: --rate needs keep-alive, not --new-conn",
			    __func__);
			return -1;
		}
		o->pace_us = (uint64_t)o->conns * 1000000u / o->rate;
	}
	if (o->warmup_ms >= o->duration_ms) {
		log_warnx("%s: --warmup must be shorter than -d", __func__);
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
	int		ch, method_set = 0;

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
			method_set = 1;
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
		case LOADGEN_OPT_TEMPLATE:
			if (loadgen_opts_template(o, optarg) == -1)
				return -1;
			/* Templates are bodies: POST unless told otherwise (and
			 * then refused in the check). */
			if (!method_set)
				o->method = "POST";
			break;
		case LOADGEN_OPT_CTYPE:
			o->ctype = optarg;
			break;
		case LOADGEN_OPT_EXPECT:
			if (parse_u64(optarg, 100, 599, &v) == -1) {
				log_warnx("%s: --expect: a status, 100 to 599",
				    __func__);
				return -1;
			}
			o->expect = (unsigned)v;
			break;
		case LOADGEN_OPT_IDPREFIX:
			if (loadgen_opts_id_prefix(o, optarg) == -1)
				return -1;
			break;
		case LOADGEN_OPT_RATE:
			if (parse_u64(optarg, 1, 1000000, &v) == -1) {
				log_warnx("%s: --rate: requests a second, 1 to "
				    "1000000", __func__);
				return -1;
			}
			o->rate = v;
			break;
		case LOADGEN_OPT_WARMUP:
			if (parse_duration_ms(optarg, 3600000, &o->warmup_ms) == -1) {
				log_warnx("%s: --warmup: a duration up to 1h", __func__);
				return -1;
			}
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
