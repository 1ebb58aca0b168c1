/* gatewayctl outbox: the deliveries the keeper owes. "list" reads the
 * database read-only; "retry" asks the running gateway (admin listener,
 * mutual TLS) to re-queue a parked row, since only the keeper writes. */
#include <sys/socket.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sqlite3.h>

#include "config.h"
#include "ctl/ctl.h"
#include "log.h"
#include "sqltrace.h"
#include "util.h"

#define OUTBOX_CONF		"/etc/gateway/gateway.conf"
#define OUTBOX_MAX_ANSWER	(64 * 1024)

struct outbox_opts {
	const char	*conf;
	const char	*cert, *key, *host;
	int		 all;		/* list delivered rows too */
};

static void
outbox_usage(void)
{
	fprintf(stderr,
	    "usage: gatewayctl outbox list [--all] [-c conf]\n"
	    "       gatewayctl outbox retry SEQ --cert FILE --key FILE "
	    "[--host NAME] [-c conf]\n"
	    "  list   pending and parked deliveries (--all: delivered too)\n"
	    "  retry  re-queue a parked delivery through the admin listener,\n"
	    "         with an admin client certificate\n");
}

static int
outbox_list(const struct config *cf, int all)
{
	static const char *const states[] = { "pending", "delivered", "parked" };
	sqlite3		*db;
	sqlite3_stmt	*st;
	char		 uri[CFG_PATH_MAX + 32];
	int		 rc, n = 0, s;

	if (str_printf(uri, sizeof(uri), "file:%s?mode=ro",
	    cf->keeper.database) == -1 ||
	    sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
	    NULL) != SQLITE_OK) {
		fprintf(stderr, "cannot open %s\n", cf->keeper.database);
		return CTL_EXIT_FAIL;
	}
	sqltrace_attach(db);
	/* Without --all only the rows still open, through their index: the
	 * delivered history grows every day. */
	if (sqlite3_prepare_v2(db, all ? "SELECT seq, state, kind, id, "
	    "upstream, attempts, coalesce(last_status, 0), coalesce(last_error, "
	    "'') FROM outbox ORDER BY seq" : "SELECT seq, state, kind, id, "
	    "upstream, attempts, coalesce(last_status, 0), coalesce(last_error, "
	    "'') FROM outbox INDEXED BY outbox_open WHERE state != 1 ORDER BY "
	    "seq", -1, &st,
	    NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", cf->keeper.database,
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return CTL_EXIT_FAIL;
	}
	printf("%-8s %-9s %-13s %-35s %-10s %8s %6s %s\n", "SEQ", "STATE",
	    "KIND", "ID", "UPSTREAM", "ATTEMPTS", "STATUS", "LAST ERROR");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s = sqlite3_column_int(st, 1);
		printf("%-8lld %-9s %-13s %-35s %-10s %8d %6d %s\n",
		    (long long)sqlite3_column_int64(st, 0),
		    s >= 0 && s <= 2 ? states[s] : "?",
		    (const char *)sqlite3_column_text(st, 2),
		    (const char *)sqlite3_column_text(st, 3),
		    (const char *)sqlite3_column_text(st, 4),
		    sqlite3_column_int(st, 5), sqlite3_column_int(st, 6),
		    (const char *)sqlite3_column_text(st, 7));
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "%s: cannot read the outbox\n",
		    cf->keeper.database);
		return CTL_EXIT_FAIL;
	}
	fprintf(stderr, "%d row%s\n", n, n == 1 ? "" : "s");
	return CTL_EXIT_OK;
}

/* One request to the admin listener over mutual TLS; prints the answer's
 * body and returns its HTTP status (0 if none). */
static int
outbox_admin(const struct config *cf, const struct outbox_opts *o,
    const char *request)
{
	const struct cfg_listener	*l = &cf->listeners[LISTENER_ADMIN];
	SSL_CTX				*ctx = NULL;
	SSL				*ssl = NULL;
	char				*buf = NULL, *body;
	size_t				 len = 0;
	int				 fd = -1, n, status = 0;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_load_verify_locations(ctx, l->ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "cannot load %s, %s or %s\n", l->ca, o->cert,
		    o->key);
		goto done;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1 || connect(fd, (const struct sockaddr *)&l->addr, l->addrlen) ==
	    -1) {
		fprintf(stderr, "cannot connect to the admin listener %s\n",
		    l->listen);
		goto done;
	}
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set1_host(ssl, o->host) != 1 ||
	    SSL_set_tlsext_host_name(ssl, o->host) != 1 ||
	    SSL_connect(ssl) != 1) {
		fprintf(stderr, "TLS with the admin listener failed: %s\n",
		    ERR_reason_error_string(ERR_get_error()));
		goto done;
	}
	if (SSL_write(ssl, request, (int)strlen(request)) <= 0 ||
	    (buf = malloc(OUTBOX_MAX_ANSWER + 1)) == NULL)
		goto done;
	while (len < OUTBOX_MAX_ANSWER && (n = SSL_read(ssl, buf + len,
	    (int)(OUTBOX_MAX_ANSWER - len))) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	if (len < 12 || strncmp(buf, "HTTP/1.1 ", 9) != 0 ||
	    buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' ||
	    buf[11] < '0' || buf[11] > '9') {
		fprintf(stderr, "no HTTP answer from the admin listener\n");
		goto done;
	}
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if ((body = strstr(buf, "\r\n\r\n")) != NULL)
		printf("%s", body + 4);
done:
	free(buf);
	if (ssl != NULL) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
	if (fd != -1)
		close(fd);
	return status;
}

static int
outbox_retry(const struct config *cf, const struct outbox_opts *o,
    uint64_t seq)
{
	char	req[256];
	int	status;

	if (o->cert == NULL || o->key == NULL) {
		fprintf(stderr, "retry needs --cert and --key (an admin "
		    "client certificate)\n");
		return CTL_EXIT_USAGE;
	}
	if (str_printf(req, sizeof(req), "POST /admin/outbox/%llu/retry "
	    "HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close"
	    "\r\n\r\n", (unsigned long long)seq, o->host) == -1) {
		fprintf(stderr, "retry: host name too long\n");
		return CTL_EXIT_USAGE;
	}
	status = outbox_admin(cf, o, req);
	return status == 200 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

static int
outbox_run(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "host", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct outbox_opts	 o = { .host = "localhost" };
	struct config		*cf;
	const char		*sub;
	uint64_t		 seq = 0;
	int			 ch, rc;

	if (argc < 2) {
		outbox_usage();
		return CTL_EXIT_USAGE;
	}
	sub = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o.conf = optarg;
			break;
		case 'a':
			o.all = 1;
			break;
		case 'C':
			o.cert = optarg;
			break;
		case 'K':
			o.key = optarg;
			break;
		case 'H':
			o.host = optarg;
			break;
		default:
			outbox_usage();
			return CTL_EXIT_USAGE;
		}
	}
	if (strcmp(sub, "retry") == 0) {
		if (optind != argc - 1 ||
		    parse_u64(argv[optind], 1, INT64_MAX, &seq) == -1) {
			outbox_usage();
			return CTL_EXIT_USAGE;
		}
	} else if (strcmp(sub, "list") != 0 || optind != argc) {
		outbox_usage();
		return CTL_EXIT_USAGE;
	}
	if ((cf = config_load(o.conf ? o.conf : OUTBOX_CONF)) == NULL)
		return CTL_EXIT_FAIL;
	rc = seq ? outbox_retry(cf, &o, seq) : outbox_list(cf, o.all);
	config_free(cf);
	return rc;
}

const struct ctl_command ctl_outbox_command = {
	.name = "outbox",
	.synopsis = "list|retry ...",
	.help = "show pending and parked deliveries; re-queue a parked one",
	.run = outbox_run,
};
