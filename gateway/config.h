/* The gateway's configuration: one validated structure built from the INI file. */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <sys/socket.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_NAME_MAX		64
#define CFG_PATH_MAX		512
#define CFG_MAX_AGENCIES	256
#define CFG_MAX_PINS		4
#define CFG_MAX_UPSTREAMS	32
#define CFG_MAX_ROUTES		128
#define CFG_PREFIX_MAX		256
#define CFG_MAX_WORKERS		64
#define CFG_MAX_BANKS		16
#define CFG_MAX_BUDGETS		256
#define CFG_MAX_WITNESSES	8
/* A signed-note verifier key: name+hex id+base64 (C2SP signed-note). */
#define CFG_VKEY_MAX		(255 + 1 + 8 + 1 + 44 + 1)

enum role {
	ROLE_TAX,
	ROLE_FINANCE,
	ROLE_FINANCE_CITY,
	ROLE_HRSS,
	ROLE_BANK,
	ROLE_ADMIN,
	ROLE_AUDITOR,		/* reads everything, writes nothing */
	ROLE_COUNT
};

enum listener_kind { LISTENER_AGENCY, LISTENER_ADMIN, LISTENER_COUNT };

/* HTTP methods a route may allow, as bits. */
enum {
	METHOD_GET = 1 << 0, METHOD_HEAD = 1 << 1, METHOD_POST = 1 << 2,
	METHOD_PUT = 1 << 3, METHOD_DELETE = 1 << 4, METHOD_PATCH = 1 << 5,
	METHOD_OPTIONS = 1 << 6
};

struct cfg_listener {
	int			 configured;
	int			 line;
	char			 listen[CFG_NAME_MAX];
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 cert[CFG_PATH_MAX];
	char			 key[CFG_PATH_MAX];
	char			 ca[CFG_PATH_MAX];
	char			 crl[CFG_PATH_MAX];
	int			 min_proto;	/* TLS1_2_VERSION or TLS1_3_VERSION */
	int			 tickets;	/* TLS session tickets (resumption) */
	/* A client that takes no bytes of a pending answer for this long is
	 * dropped (nginx's send_timeout). */
	uint64_t		 send_timeout_ms;
};

struct cfg_agency {
	int		 line;
	char		 name[CFG_NAME_MAX];
	enum role	 role;
	int		 has_role;
	char		 city[7];
	unsigned char	 pins[CFG_MAX_PINS][32];
	int		 npins;
};

struct cfg_upstream {
	int			 line;
	char			 name[CFG_NAME_MAX];
	char			 url[CFG_PATH_MAX];
	char			 host[256];
	uint16_t		 port;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 ca[CFG_PATH_MAX];
	char			 crl[CFG_PATH_MAX];	/* "": not checked */
	char			 cert[CFG_PATH_MAX];
	char			 key[CFG_PATH_MAX];
	uint64_t		 connect_timeout_ms;
	uint64_t		 timeout_ms;
	uint64_t		 idle_timeout_ms;	/* pooled, unused */
	unsigned		 pool;
};

struct cfg_route {
	int		 line;
	char		 name[CFG_NAME_MAX];
	char		 prefix[CFG_PREFIX_MAX];
	size_t		 prefix_len;
	unsigned	 methods;	/* METHOD_* bits */
	unsigned	 roles;		/* 1 << enum role */
	char		 upstream_name[CFG_NAME_MAX];
	int		 upstream;	/* index into config.upstreams */
};

struct cfg_limits {
	uint64_t	max_header_bytes;
	uint64_t	max_headers;
	uint64_t	max_body;
	uint64_t	request_timeout_ms;
	uint64_t	idle_timeout_ms;
	uint64_t	max_connections;
	uint64_t	max_connections_per_agency;
	/* Connections not yet authenticated (TLS handshake in progress):
	 * their own small budget, oldest evicted when it is full, a cap per
	 * source address and a short deadline. */
	uint64_t	handshake_timeout_ms;
	uint64_t	max_handshakes;
	uint64_t	max_handshakes_per_address;
};

/* The keeper: the audit database and the keys that sign what it holds. */
struct cfg_keeper {
	int		 line;
	char		 database[CFG_PATH_MAX];
	char		 checkpoint_file[CFG_PATH_MAX];
	char		 origin[256];		/* checkpoint origin and key name */
	char		 log_key[CFG_PATH_MAX];	/* Ed25519 PEM private key */
	/* Signs instructions (receipts); "" means the log key does. */
	char		 signing_key[CFG_PATH_MAX];
	/* The fund's account registry; "" refuses disbursements. */
	char		 accounts[CFG_PATH_MAX];
	/* The WAL is restarted before it passes this many bytes. */
	uint64_t	 wal_limit;
	/* Cosignatures a checkpoint needs to count as cosigned; 0 until
	 * validated, which makes it every configured witness. */
	uint64_t	 witness_quorum;
	int		 witness_quorum_line;
};

/* Where the courier delivers what the keeper queues, and how it retries. */
struct cfg_courier {
	int		 line;
	char		 finance_name[CFG_NAME_MAX];
	char		 hrss_name[CFG_NAME_MAX];
	int		 finance;	/* upstream index, -1 if none */
	int		 hrss;
	uint64_t	 max_attempts;	/* then the row is parked */
	uint64_t	 retry_min_ms;
	uint64_t	 retry_max_ms;
};

/* The fund's rules that are figures, not code (DESIGN §1). */
struct cfg_budget {
	char		city[7];
	unsigned	year;
	int64_t		fen;
};

struct cfg_rules {
	unsigned		capacity_months;	/* alert below this */
	unsigned		due_day;		/* of the next month */
	/* A payment to an account changed fewer days before it raises an
	 * alert (0: never). */
	unsigned		cooling_off_days;
	struct cfg_budget	budgets[CFG_MAX_BUDGETS];
	size_t			nbudgets;
};

/* A bank: the agency it is, where its files go, how they are written and
 * signed. */
struct cfg_bank {
	int		 line;
	char		 name[CFG_NAME_MAX];	/* an agency of role bank */
	int		 agency;		/* index into agencies */
	char		 upstream_name[CFG_NAME_MAX];
	int		 upstream;
	char		 charset[16];		/* UTF-8, GB18030 or GBK */
	char		 signing_key[CFG_PATH_MAX];
	char		 sm2_id[128];
	int		 has_sm2_id;
};

/* A witness the keeper asks to cosign its checkpoints (C2SP tlog-witness),
 * reached through an upstream (its URL and TLS client settings). */
struct cfg_witness {
	int		 line;
	char		 name[CFG_NAME_MAX];
	char		 upstream_name[CFG_NAME_MAX];
	int		 upstream;
	char		 key[CFG_VKEY_MAX];	/* its cosignature vkey */
};

struct config {
	char			 path[CFG_PATH_MAX];
	char			 dir[CFG_PATH_MAX];
	unsigned		 workers;
	uint64_t		 shutdown_timeout_ms;
	char			 access_log[CFG_PATH_MAX];
	char			 user[CFG_NAME_MAX];	/* roles run as this user */
	int			 sandbox;		/* seccomp and Landlock */
	char			 schemas[CFG_PATH_MAX];	/* XML schemas folder */
	uid_t			 uid;			/* of user, or -1 */
	gid_t			 gid;
	struct cfg_listener	 listeners[LISTENER_COUNT];
	struct cfg_agency	 agencies[CFG_MAX_AGENCIES];
	size_t			 nagencies;
	struct cfg_upstream	 upstreams[CFG_MAX_UPSTREAMS];
	size_t			 nupstreams;
	struct cfg_route	 routes[CFG_MAX_ROUTES];
	size_t			 nroutes;
	struct cfg_limits	 limits;
	struct cfg_keeper	 keeper;
	struct cfg_courier	 courier;
	struct cfg_rules	 rules;
	struct cfg_bank		 banks[CFG_MAX_BANKS];
	size_t			 nbanks;
	struct cfg_witness	 witnesses[CFG_MAX_WITNESSES];
	size_t			 nwitnesses;
	unsigned		 nerrors;
};

/* Reads and validates FILE. Every problem is printed to stderr as
 * "FILE:LINE: message". Returns a new config (free with config_free) or NULL
 * if anything was wrong. Certificates and keys are checked by tls_* later. */
struct config	*config_load(const char *file);
void		 config_free(struct config *);
/* Reports one error at a line of the config file (used by later checks). */
void		 config_error(struct config *, int line, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/* The same as a warning: printed, not counted as an error. */
void		 config_warn(const struct config *, int line, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/* config_validate.c: the checks that need the whole file (called by
 * config_load; errors through config_error). */
void		 config_validate(struct config *);

const char	*config_role_name(enum role);
int		 config_role_parse(const char *name, enum role *out);
/* Method name (counted) to its METHOD_* bit, 0 if unknown. */
unsigned	 config_method_bit(const char *name, size_t len);
/* Parses "host:port" or "[v6]:port" into a socket address. */
int		 config_parse_addr(const char *s, struct sockaddr_storage *ss,
		    socklen_t *len);

#endif
