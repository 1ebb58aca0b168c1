/* Relay workers: one event loop per process, terminating agency mutual TLS,
 * parsing strict HTTP/1.1, authorizing and proxying passthrough routes. */
#ifndef GW_RELAY_H
#define GW_RELAY_H

#include <sys/queue.h>

#include <stdint.h>

#include "config.h"
#include "net/http.h"

struct bufferevent;
struct event;
struct event_base;
struct evconnlistener;
struct evbuffer;
struct runtime;
struct upstream_pool;
struct proxy;
struct admin_probe;
struct audit_wait;
struct audit_pending;
struct metrics_slot;
typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_md_st EVP_MD;

/* A client connection's life; every change goes through conn_set_state. */
enum conn_state {
	CONN_HANDSHAKE,		/* TLS handshake in progress */
	CONN_IDLE,		/* between requests (keep-alive) */
	CONN_READING,		/* reading a request (and streaming its body) */
	CONN_WAITING,		/* request read, response in progress */
	CONN_CLOSING,		/* flushing the last response, then close */
	CONN_LINGER,		/* answered and shut down: discarding input */
};

struct relay;

struct relay_conn {
	TAILQ_ENTRY(relay_conn)	 entry;
	TAILQ_ENTRY(relay_conn)	 hs_entry;	/* in relay.handshakes */
	struct relay		*r;
	enum listener_kind	 kind;
	enum conn_state		 state;
	struct bufferevent	*bev;
	struct event		*timer;
	struct http_msg		 req;
	uint64_t		 serial;
	char			 peer[64];

	int			 agency;	/* index, or -1 if unpinned */
	int			 counted_agency;
	int			 over_capacity;
	int			 eof;		/* client sent close_notify */
	int			 linger;	/* drop input, then close */
	int			 counted;	/* in the total (authenticated) */
	struct event		*linger_ev;
	uint64_t		 progress_ms;	/* last progress, waiting */
	size_t			 wait_out;	/* output queued then */

	/* The current exchange. */
	char			 rid[24];
	uint64_t		 start_ms;
	const struct cfg_route	*route;
	struct proxy		*px;
	int			 status;	/* answered status, for the log */
	uint64_t		 bytes_out;
	int			 local_reply;	/* answered by us, body ignored */
	int			 close_after;
	int			 read_paused;	/* backpressure from the upstream */
	unsigned		 served;	/* exchanges answered */
	int			 in_feed;	/* inside the parser's callbacks */
	int			 resume_pending;
	int			 proxied;	/* the upstream got the request */
	int			 audit_req;	/* a GET /audit/... */
	const char		*code;		/* our refusal code, if any */
	struct admin_probe	*probe;		/* a /readyz check in flight */
	struct audit_wait	*audit;		/* an /audit query in flight */
	struct transfer		*xfer;		/* a /v1/ exchange */
	int			 logged;	/* the keeper logged it ... */
	uint64_t		 logged_index;	/* ... at this index */
	EVP_MD_CTX		*md_req;	/* body digests for the log */
	EVP_MD_CTX		*md_resp;
};

TAILQ_HEAD(relay_conns, relay_conn);

struct relay {
	struct event_base	*base;
	struct runtime		*rt;
	struct config		*cf;
	unsigned		 slot;
	struct evconnlistener	*lis[LISTENER_COUNT];
	struct relay_conns	 conns;
	unsigned		 nconns;
	/* Unauthenticated connections, oldest first, and their budget. */
	TAILQ_HEAD(, relay_conn) handshakes;
	unsigned		 nhandshakes, hs_budget, hs_per_address;
	unsigned		 nlinger;
	int			 draining;
	struct event		*ev_term, *ev_int, *ev_drain;
	struct upstream_pool	*pools[CFG_MAX_UPSTREAMS];
	uint64_t		 serial;
	char			 id_prefix[9];
	/* The channel to the keeper and what waits on it, in order. */
	struct bufferevent	*keeper;
	uint64_t		 ipc_id;
	TAILQ_HEAD(, audit_pending) appends;
	TAILQ_HEAD(, audit_pending) queries;
	TAILQ_HEAD(, audit_pending) instrs;
	unsigned		 npending;
	void			*ipc_msg;
	/* Fetched once: an implicit fetch per digest takes a global lock. */
	EVP_MD			*sha256;
	struct metrics_slot	*ms;		/* this worker's counters */
	struct evbuffer		*access_buf;	/* access lines not yet written */
	struct event		*access_ev;
	struct event		*access_wev;	/* waits for a full log */
};

/* Runs a relay worker for listener slot `slot` until SIGTERM drains it;
 * keeper_fd is its channel to the keeper. */
int	relay_main(struct runtime *, unsigned slot, int keeper_fd);
/* Makes a new request id into dst (24 bytes). */
void	relay_request_id(struct relay *, char *dst, size_t dsz);
void	relay_conn_gone(struct relay *);
void	relay_drain(struct relay *);

/* conn.c */
/* Most connections of a worker discarding input before their close at
 * once; past it a connection is closed at once (a reset is then possible). */
#define CONN_MAX_LINGER		1024
void	conn_accept(struct relay *, enum listener_kind, int fd,
	    const struct sockaddr *, int socklen);
void	conn_free(struct relay_conn *);
/* Queues a complete local response and ends the exchange. */
void	conn_reply_error(struct relay_conn *, int status, const char *code,
	    const char *detail);
void	conn_reply(struct relay_conn *, int status, const char *ctype,
	    const char *body, size_t len);
/* The same with extra header lines (each ending in CRLF), or NULL. */
void	conn_reply_extra(struct relay_conn *, int status, const char *ctype,
	    const char *body, size_t len, const char *extra);
/* The exchange's response is fully queued: log it and go on. */
void	conn_exchange_done(struct relay_conn *);
/* Drops the connection now (after a response could not be completed). */
void	conn_abort(struct relay_conn *, const char *why);
/* Backpressure: stop or resume reading the client. */
void	conn_pause_read(struct relay_conn *, int pause);
void	conn_drain(struct relay_conn *);
/* Whether the response should close the connection. */
int	conn_wants_close(const struct relay_conn *);

/* proxy.c: a passthrough exchange between a client and an upstream. */
int	proxy_start(struct relay_conn *);
int	proxy_body(struct proxy *, const char *, size_t);
int	proxy_body_done(struct proxy *);
void	proxy_free(struct proxy *);
/* The client drained its output: resume reading the upstream. */
void	proxy_client_drained(struct proxy *);

/* admin.c: the admin listener's own endpoints. */
void	admin_request(struct relay_conn *);
/* The connection is going away: its probe must not answer it. */
void	admin_probe_detach(struct admin_probe *);

/* console.c: the supervision console on the admin listener. */
/* Whether the caller's role may use this admin-listener path and method;
 * -1 with a refusal queued, 0 to go on. */
int	console_admit(struct relay_conn *, enum role, const char *url,
	    size_t len);
/* Whether url is one of the console's own JSON endpoints (/v1/health,
 * /v1/console), answered here rather than by the transfer API. */
int	console_local(const char *url, size_t len);
/* Serves the page's files and the console's JSON endpoints: 0 if url
 * (without its query) is one, -1 if not. */
int	console_request(struct relay_conn *, const char *url, size_t len);

/* access.c: formats the exchange's access log line (without the closing
 * brace) into dst; writes a line with its audit index (or null). */
void	access_format(struct relay_conn *, char *dst, size_t dsz);
void	access_write(struct relay *, const char *line, int indexed,
	    uint64_t index);
int	access_init(struct relay *);
void	access_flush(struct relay *);
void	access_free(struct relay *);

/* audit.c: the keeper channel. */
/* Most appends a worker lets wait for the keeper before refusing work. */
#define AUDIT_MAX_PENDING	8192
int	audit_init(struct relay *, int fd);
void	audit_free(struct relay *);
/* Records the finished exchange: an audit entry for the agency listener's
 * exchanges (not audit reads), then the access log line with its index. */
void	audit_exchange(struct relay_conn *);
/* Serves GET /audit/... from the keeper; 0 if url is an audit path it
 * handled (the reply comes later), -1 if not an audit path. */
int	audit_request(struct relay_conn *, const char *url, size_t len);
void	audit_wait_detach(struct audit_wait *);
struct ipc_instr;
struct ipc_transfer_query;
/* Sends an instruction (canonical bytes) to the keeper; the connection
 * waits for transfer_reply. 0, or -1 if the keeper cannot take it. */
int	audit_instr(struct relay_conn *, const struct ipc_instr *,
	    const char *canon, size_t len);
struct ipc_report_query;
/* Asks the keeper for a report or the alerts; the answer goes to the
 * client. */
void	audit_report_query(struct relay_conn *, const struct ipc_report_query *);
/* Asks the keeper to re-queue a parked outbox row (admin). */
void	audit_outbox_retry(struct relay_conn *, uint64_t seq);
/* Asks the keeper about a transfer; the answer goes to the client. */
void	audit_transfer_query(struct relay_conn *,
	    const struct ipc_transfer_query *);
int	audit_backlogged(const struct relay *);

#endif
