/* witnessd: a C2SP tlog-witness for the gateway's audit log (and any log that
 * signs checkpoints with an Ed25519 signed-note key), run by an agency. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "log.h"
#include "net/tls.h"
#include "witness/witness.h"
#include "witness/witness_http.h"

#define WITNESSD_CONF	"/etc/gateway/witness.conf"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: witnessd [-dt] [-c file]\n"
	    "  -c file  configuration (default " WITNESSD_CONF ")\n"
	    "  -d       debug logging\n"
	    "  -t       test the configuration, certificates and key; exit\n");
	exit(2);
}

static void
witnessd_signal(evutil_socket_t sig, short what, void *arg)
{
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(arg);
}

/* What -t proves beyond the file: the key and the TLS material load. */
static int
witnessd_check(const struct witness_config *wc, struct cosig_key *key)
{
	char	err[512], vkey[NOTE_VKEY_MAX];
	SSL_CTX	*ctx;

	if (cosig_key_load(key, wc->key, wc->name) == -1) {
		fprintf(stderr, "%s: cannot use key %s (Ed25519 PEM, mode 0600)\n",
		    wc->cf->path, wc->key);
		return -1;
	}
	if ((ctx = tls_server_ctx(&wc->listener, "witnessd", err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "%s: [listener]: %s\n", wc->cf->path, err);
		cosig_key_free(key);
		return -1;
	}
	SSL_CTX_free(ctx);
	if (cosig_key_vkey(key, vkey, sizeof(vkey)) == -1) {
		cosig_key_free(key);
		return -1;
	}
	log_info("witness %s, vkey %s, %zu logs", wc->name, vkey, wc->nlogs);
	return 0;
}

static int
witnessd_run(struct witness *w)
{
	struct event_base	*base;
	struct event		*sigs[2] = { NULL, NULL };
	struct witness_http	*h = NULL;
	int			 rc = 1;

	if (witness_db_open(&w->db, w->cf->database, w->cf->history) == -1)
		return 1;
	if ((base = event_base_new()) == NULL) {
		log_warnx("%s: event_base_new", __func__);
		goto out;
	}
	sigs[0] = evsignal_new(base, SIGTERM, witnessd_signal, base);
	sigs[1] = evsignal_new(base, SIGINT, witnessd_signal, base);
	if (sigs[0] == NULL || sigs[1] == NULL || evsignal_add(sigs[0], NULL) ||
	    evsignal_add(sigs[1], NULL)) {
		log_warnx("%s: cannot catch signals", __func__);
		goto out;
	}
	if ((h = witness_http_start(base, w)) == NULL)
		goto out;
	if (event_base_dispatch(base) == -1)
		log_warnx("%s: event loop failed", __func__);
	else
		rc = 0;
out:
	witness_http_stop(h);
	if (sigs[0] != NULL)
		event_free(sigs[0]);
	if (sigs[1] != NULL)
		event_free(sigs[1]);
	if (base != NULL)
		event_base_free(base);
	witness_db_close(&w->db);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct witness_config	*wc;
	struct witness		 w;
	const char		*file = WITNESSD_CONF;
	int			 ch, test = 0, debug = 0, rc;

	while ((ch = getopt(argc, argv, "c:dt")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 't':
			test = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("witness", debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	/* A client going away mid-answer must not kill the witness. */
	signal(SIGPIPE, SIG_IGN);

	if ((wc = witness_config_load(file)) == NULL) {
		fprintf(stderr, "%s: configuration has errors\n", file);
		return 1;
	}
	memset(&w, 0, sizeof(w));
	w.cf = wc;
	if (witnessd_check(wc, &w.key) == -1) {
		fprintf(stderr, "%s: configuration has errors\n", file);
		witness_config_free(wc);
		return 1;
	}
	if (test) {
		printf("configuration OK\n");
		rc = 0;
	} else
		rc = witnessd_run(&w);
	cosig_key_free(&w.key);
	witness_config_free(wc);
	return rc;
}
