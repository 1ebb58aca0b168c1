/* The configuration parser's shared state and helpers (config.c reads the
 * file; config_net.c the listener, agency and upstream sections;
 * config_fund.c the sections of deliveries, banks and the fund's rules):
 * for gateway/config*.c and witnessd's configuration only. */
#ifndef GW_CONFIG_PARSE_H
#define GW_CONFIG_PARSE_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"

struct config_parse {
	struct config	*cf;
	FILE		*fp;
	int		 line;
	char		 kind[CFG_NAME_MAX];	/* "" before the first section */
	int		 bad_section;		/* reported; skip its keys */
	void		*cur;		/* the agency/upstream/route being filled */
	char		*linebuf;	/* getline's, freed by config_parse_file */
	size_t		 linecap;
	/* If set, a "[kind name]" header (name NULL if absent) is handed to
	 * it instead of the gateway's sections: 0 if the section is good (it
	 * sets cur), -1 once it has reported why not. For witnessd. */
	int		(*section_fn)(struct config_parse *, const char *kind,
			    const char *name);
};

/* Sets cf->path to file and cf->dir to its folder (relative paths in the
 * file are resolved from there). -1 (reported) if the path is too long. */
int	config_set_file(struct config *cf, const char *file);
/* Reads file with inih, one physical line at a time, counting lines and
 * tracking sections in p (p->cf set by the caller); handler gets every key
 * (inih's handler signature, user = p). Errors go through config_error; -1
 * only if the file cannot be opened (reported). */
int	config_parse_file(struct config_parse *p, const char *file,
	    int (*handler)(void *, const char *, const char *, const char *));

/* Each reports a bad value at the current line; 0 or -1. */
int	config_duration(struct config_parse *, const char *v, uint64_t *out);
int	config_number(struct config_parse *, const char *v, uint64_t min,
	    uint64_t max, uint64_t *out);
/* Stores v into dst as given; too long is a config error (never cut). */
void	config_set_text(struct config_parse *, char *dst, size_t dsz,
	    const char *v, const char *what);
int	config_set_path(struct config_parse *, char *dst, size_t dsz,
	    const char *v);

/* config_net.c: one key of a [listener NAME], [agency NAME] or
 * [upstream NAME]. */
void	config_listener_kv(struct config_parse *, struct cfg_listener *,
	    const char *k, const char *v);
void	config_agency_kv(struct config_parse *, struct cfg_agency *,
	    const char *k, const char *v);
void	config_upstream_kv(struct config_parse *, struct cfg_upstream *,
	    const char *k, const char *v);

/* A "pin = HEX" or "pin_cert = FILE" key into pins[*npins] (SPKI SHA-256):
 * 1 if k was one of them (errors reported), 0 if not. */
int	config_pin_kv(struct config_parse *, unsigned char pins[CFG_MAX_PINS][32],
	    int *npins, const char *k, const char *v);

/* config_fund.c: one key of [courier], [rules] or a [bank NAME]. */
void	config_courier_kv(struct config_parse *, const char *k, const char *v);
void	config_rules_kv(struct config_parse *, const char *k, const char *v);
void	config_bank_kv(struct config_parse *, struct cfg_bank *, const char *k,
	    const char *v);

#endif
