/* witnessd's configuration: [witness], [listener], [limits] and one
 * [log ORIGIN] per log, read with the gateway's parser helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"
#include "log.h"
#include "net/tls.h"
#include "util.h"
#include "witness/witness.h"

static void
witness_config_witness_kv(struct config_parse *p, struct witness_config *wc,
    const char *k, const char *v)
{
	if (strcmp(k, "name") == 0) {
		if (!note_name_valid(v))
			config_error(p->cf, p->line, "name must be a key name: 1 "
			    "to %d bytes, no spaces, no '+'", NOTE_NAME_MAX);
		else
			config_set_text(p, wc->name, sizeof(wc->name), v, "name");
	} else if (strcmp(k, "key") == 0)
		config_set_path(p, wc->key, sizeof(wc->key), v);
	else if (strcmp(k, "database") == 0)
		config_set_path(p, wc->database, sizeof(wc->database), v);
	else if (strcmp(k, "history") == 0)
		config_number(p, v, 1, WITNESS_HISTORY_MAX, &wc->history);
	else
		config_error(p->cf, p->line, "unknown key \"%s\" in [witness]", k);
}

static void
witness_config_limits_kv(struct config_parse *p, struct witness_config *wc,
    const char *k, const char *v)
{
	if (strcmp(k, "max_body") == 0)
		config_number(p, v, 1024, WITNESS_MAX_BODY, &wc->max_body);
	else if (strcmp(k, "request_timeout") == 0) {
		if (config_duration(p, v, &wc->request_timeout_ms) == 0 &&
		    wc->request_timeout_ms == 0)
			config_error(p->cf, p->line, "request_timeout must not be 0");
	} else if (strcmp(k, "max_connections") == 0)
		config_number(p, v, 1, 100000, &wc->max_connections);
	else
		config_error(p->cf, p->line, "unknown key \"%s\" in [limits]", k);
}

static void
witness_config_log_kv(struct config_parse *p, struct witness_log *lg,
    const char *k, const char *v)
{
	if (strcmp(k, "vkey") == 0) {
		if (note_verifier_parse(&lg->vkey, v) == -1)
			config_error(p->cf, p->line, "vkey must be a signed-note "
			    "Ed25519 verifier key (name+id+key)");
		else if (strcmp(lg->vkey.name, lg->origin) != 0)
			config_error(p->cf, p->line, "vkey name \"%s\" is not the "
			    "log's origin", lg->vkey.name);
		else
			lg->has_vkey = 1;
	} else if (!config_pin_kv(p, lg->pins, &lg->npins, k, v))
		config_error(p->cf, p->line, "unknown key \"%s\" in a log", k);
}

/* The gateway's parser state with the witness configuration it fills. */
struct witness_parse {
	struct config_parse	 p;	/* first: handlers get &p */
	struct witness_config	*wc;
};

static int
witness_config_section(struct config_parse *p, const char *kind,
    const char *name)
{
	struct witness_config	*wc = ((struct witness_parse *)p)->wc;
	struct witness_log	*lg;
	size_t			 i;

	p->cur = NULL;
	if (strcmp(kind, "witness") == 0 || strcmp(kind, "listener") == 0 ||
	    strcmp(kind, "limits") == 0) {
		if (name != NULL) {
			config_error(p->cf, p->line, "[%s] takes no name", kind);
			return -1;
		}
		return 0;
	}
	if (strcmp(kind, "log") != 0 || name == NULL) {
		config_error(p->cf, p->line, "unknown section [%s%s%s]", kind,
		    name != NULL ? " " : "", name != NULL ? name : "");
		return -1;
	}
	if (!note_name_valid(name)) {
		config_error(p->cf, p->line, "log origin \"%s\" is not a valid "
		    "key name", name);
		return -1;
	}
	for (i = 0; i < wc->nlogs; i++)
		if (strcmp(wc->logs[i].origin, name) == 0) {
			config_error(p->cf, p->line, "log %s defined twice", name);
			return -1;
		}
	if (wc->nlogs == WITNESS_MAX_LOGS) {
		config_error(p->cf, p->line, "more than %d logs", WITNESS_MAX_LOGS);
		return -1;
	}
	lg = &wc->logs[wc->nlogs++];
	lg->line = p->line;
	(void)str_copy(lg->origin, sizeof(lg->origin), name);	/* checked */
	p->cur = lg;
	return 0;
}

static int
witness_config_handler(void *arg, const char *section, const char *k,
    const char *v)
{
	struct config_parse	*p = arg;
	struct witness_config	*wc = ((struct witness_parse *)p)->wc;

	if (p->kind[0] == '\0') {
		config_error(p->cf, p->line, "\"%s\" is outside any section", k);
		return 1;
	}
	if (p->bad_section)
		return 1;
	if (strcmp(p->kind, "witness") == 0)
		witness_config_witness_kv(p, wc, k, v);
	else if (strcmp(p->kind, "listener") == 0)
		config_listener_kv(p, &wc->listener, k, v);
	else if (strcmp(p->kind, "limits") == 0)
		witness_config_limits_kv(p, wc, k, v);
	else if (strcmp(p->kind, "log") == 0)
		witness_config_log_kv(p, p->cur, k, v);
	return 1;	/* report every error, not just the first */
}

/* What needs the whole file. */
static void
witness_config_validate(struct witness_config *wc)
{
	struct config	*cf = wc->cf;
	size_t		 i;

	if (wc->name[0] == '\0')
		config_error(cf, 0, "[witness] needs name (the cosigner name)");
	if (wc->key[0] == '\0')
		config_error(cf, 0, "[witness] needs key (Ed25519 PEM file)");
	if (wc->database[0] == '\0')
		config_error(cf, 0, "[witness] needs database");
	if (wc->listener.listen[0] == '\0' || wc->listener.cert[0] == '\0' ||
	    wc->listener.key[0] == '\0' || wc->listener.ca[0] == '\0')
		config_error(cf, 0, "[listener] needs listen, cert, key and ca");
	if (wc->nlogs == 0)
		config_error(cf, 0, "no [log ORIGIN] section: nothing to witness");
	for (i = 0; i < wc->nlogs; i++) {
		if (!wc->logs[i].has_vkey)
			config_error(cf, wc->logs[i].line, "log %s needs vkey",
			    wc->logs[i].origin);
		if (wc->logs[i].npins == 0)
			config_error(cf, wc->logs[i].line, "log %s needs pin or "
			    "pin_cert (the client certificate it submits with)",
			    wc->logs[i].origin);
	}
}

struct witness_config *
witness_config_load(const char *file)
{
	struct witness_config	*wc;
	struct witness_parse	 wp;

	if ((wc = calloc(1, sizeof(*wc))) == NULL ||
	    (wc->cf = calloc(1, sizeof(*wc->cf))) == NULL) {
		log_warn("%s: calloc", __func__);
		free(wc);
		return NULL;
	}
	if (config_set_file(wc->cf, file) == -1) {
		witness_config_free(wc);
		return NULL;
	}
	wc->listener.min_proto = TLS_PROTO_1_2;
	wc->listener.tickets = 1;
	wc->listener.send_timeout_ms = 30000;
	wc->history = WITNESS_HISTORY_DEFAULT;
	wc->max_body = WITNESS_MAX_BODY;
	wc->request_timeout_ms = 10000;
	wc->max_connections = 256;

	memset(&wp, 0, sizeof(wp));
	wp.p.cf = wc->cf;
	wp.p.section_fn = witness_config_section;
	wp.wc = wc;
	if (config_parse_file(&wp.p, file, witness_config_handler) == -1) {
		witness_config_free(wc);
		return NULL;
	}
	witness_config_validate(wc);
	if (wc->cf->nerrors > 0) {
		witness_config_free(wc);
		return NULL;
	}
	return wc;
}

void
witness_config_free(struct witness_config *wc)
{
	if (wc == NULL)
		return;
	free(wc->cf);
	free(wc);
}

const struct witness_log *
witness_config_log(const struct witness_config *wc, const char *origin,
    size_t len)
{
	size_t	i;

	for (i = 0; i < wc->nlogs; i++)
		if (strlen(wc->logs[i].origin) == len &&
		    memcmp(wc->logs[i].origin, origin, len) == 0)
			return &wc->logs[i];
	return NULL;
}
