/* gatewayd: the hardened inter-agency fund gateway's daemon. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "config.h"
#include "keeper/checkpoint.h"
#include "keeper/registry.h"
#include "keeper/sign.h"
#include "log.h"
#include "proc.h"
#include "runtime.h"

#define GATEWAYD_CONF	"/etc/gateway/gateway.conf"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: gatewayd [-dt] [-c file]\n"
	    "  -c file  configuration (default " GATEWAYD_CONF ")\n"
	    "  -d       debug logging\n"
	    "  -t       test the configuration, certificates and keys; exit\n");
	exit(2);
}

/* The keeper's keys load here too, so `-t` proves them before a restart. */
static int
main_check_keys(struct config *cf)
{
	struct checkpoint	 cp;
	struct sign_key		*k;
	struct registry		*reg;
	size_t			 i;

	if (checkpoint_init(&cp, &cf->keeper) == -1) {
		config_error(cf, cf->keeper.line, "keeper: cannot use log_key %s",
		    cf->keeper.log_key);
		return -1;
	}
	checkpoint_free(&cp);
	if (cf->keeper.signing_key[0] != '\0') {
		if (sign_key_load_private(cf->keeper.signing_key, &k) == -1) {
			config_error(cf, cf->keeper.line,
			    "keeper: cannot use signing_key %s",
			    cf->keeper.signing_key);
			return -1;
		}
		sign_key_free(k);
	}
	for (i = 0; i < cf->nbanks; i++) {
		if (sign_key_load_private(cf->banks[i].signing_key, &k) == -1) {
			config_error(cf, cf->banks[i].line,
			    "bank %s: cannot use signing_key %s",
			    cf->banks[i].name, cf->banks[i].signing_key);
			return -1;
		}
		sign_key_free(k);
	}
	if (cf->keeper.accounts[0] != '\0') {
		if (registry_load(cf->keeper.accounts, &reg) == -1) {
			config_error(cf, cf->keeper.line,
			    "keeper: the account registry %s has errors",
			    cf->keeper.accounts);
			return -1;
		}
		registry_free(reg);
	}
	return 0;
}

/* The log's vkey, for the console to serve (relay workers hold no key):
 * made once here, with the private key released at once. */
static int
main_log_vkey(struct runtime *rt)
{
	struct checkpoint	cp;
	int			rc;

	if (checkpoint_init(&cp, &rt->cf->keeper) == -1) {
		config_error(rt->cf, rt->cf->keeper.line,
		    "keeper: cannot use log_key %s", rt->cf->keeper.log_key);
		return -1;
	}
	rc = note_verifier_format(&cp.verifier, rt->log_vkey,
	    sizeof(rt->log_vkey));
	checkpoint_free(&cp);
	if (rc == -1)
		config_error(rt->cf, rt->cf->keeper.line,
		    "keeper: the log key's name is too long for a vkey");
	return rc;
}

int
main(int argc, char *argv[])
{
	struct runtime		 rt;
	struct adapter_error	 aerr;
	const char		*file = GATEWAYD_CONF;
	int		 ch, test = 0, debug = 0, rc;

	while ((ch = getopt(argc, argv, "c:dnt")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'n':	/* relayd's spelling */
		case 't':
			test = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("parent", debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);

	memset(&rt, 0, sizeof(rt));
	if ((rt.cf = config_load(file)) == NULL) {
		fprintf(stderr, "%s: configuration has errors\n", file);
		return 1;
	}
	/* Schemas and converters are loaded once here: every role inherits
	 * them, and `-t` proves them. */
	memset(&aerr, 0, sizeof(aerr));
	if (adapter_init(rt.cf->schemas, &aerr) == -1) {
		fprintf(stderr, "%s: schemas in %s: %s\n", file, rt.cf->schemas,
		    aerr.detail);
		config_free(rt.cf);
		return 1;
	}
	if (runtime_tls_load(&rt) == -1 ||
	    (test && main_check_keys(rt.cf) == -1)) {
		fprintf(stderr, "%s: configuration has errors\n", file);
		runtime_tls_free(&rt);
		config_free(rt.cf);
		return 1;
	}
	if (!test && main_log_vkey(&rt) == -1) {
		fprintf(stderr, "%s: configuration has errors\n", file);
		runtime_tls_free(&rt);
		config_free(rt.cf);
		return 1;
	}
	if (test) {
		printf("configuration OK\n");
		runtime_tls_free(&rt);
		config_free(rt.cf);
		return 0;
	}
	rc = proc_run(&rt);
	runtime_tls_free(&rt);
	config_free(rt.cf);
	return rc;
}
