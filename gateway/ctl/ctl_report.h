/* What gatewayctl's report commands share: the keeper's database, opened
 * read-only from the configuration. */
#ifndef GW_CTL_REPORT_H
#define GW_CTL_REPORT_H

struct config;
struct sqlite3;

/* The database of conf (NULL: /etc/gateway/gateway.conf), read-only, with
 * the loaded configuration in *cfp (the caller's: config_free); NULL, with
 * the reason on stderr, if either cannot be opened. */
struct sqlite3	*report_open(const char *conf, struct config **cfp);

#endif
