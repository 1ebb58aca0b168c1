/* One load-generator connection: a non-blocking state machine (connect, TLS
 * handshake, write the request, read and parse the response) driven by epoll. */
#ifndef LOADGEN_CONN_H
#define LOADGEN_CONN_H

#include <stdint.h>
#include <openssl/ssl.h>

#include "llhttp.h"
#include "loadgen_opts.h"
#include "loadgen_request.h"
#include "loadgen_stats.h"

/* What the connections of one thread share; owned by the worker. */
struct loadgen_env {
	const struct loadgen_opts	*opts;
	const struct loadgen_request	*reqs;		/* one per template, or one */
	SSL_CTX *const			*ctxs;		/* one per request */
	size_t				 nreqs;
	struct loadgen_stats		*stats;
	int				 epfd;
	uint64_t			 end_us;	/* no new connection after this */
	/* One TLS record; responses are parsed as they arrive, so one read
	 * buffer per thread serves every connection. */
	char				 rbuf[16384];
};

enum loadgen_conn_state {
	LOADGEN_CONN_IDLE,
	LOADGEN_CONN_CONNECTING,
	LOADGEN_CONN_HANDSHAKE,
	LOADGEN_CONN_PACED,		/* --rate: waiting for next_us */
	LOADGEN_CONN_WRITING,
	LOADGEN_CONN_READING
};

struct loadgen_conn {
	struct loadgen_env	*env;
	const struct loadgen_request *req;	/* what this connection sends */
	SSL_CTX			*ctx;		/* with the request's certificate */
	char			*wbuf;		/* own copy of req when it has ids */
	unsigned		 index;		/* over all threads: part of ids */
	unsigned		 tpl;		/* index of req in env->reqs */
	uint64_t		 seq;		/* ids made on this connection */
	int			 stamp;		/* the next write needs a new id */
	int			 fd;
	SSL			*ssl;
	llhttp_t		 parser;
	enum loadgen_conn_state	 state;
	uint64_t		 start_us;	/* latency origin of this request */
	uint64_t		 deadline_us;	/* --timeout for the current exchange */
	uint64_t		 retry_us;	/* when IDLE after an error: reopen at */
	uint64_t		 next_us;	/* --rate: the next request's slot */
	uint64_t		 done_on_conn;	/* responses on this connection */
	uint64_t		 got;		/* response bytes read so far */
	int			 timing;	/* start_us is set for this request */
	int			 complete;
	int			 keep_alive;
	int			 opened;
	unsigned		 status;
};

/* Sets up connection number index (over all threads): its request is
 * env->reqs[index % nreqs]. 0, or -1 after logging. */
int	loadgen_conn_init(struct loadgen_conn *c, struct loadgen_env *env,
	    unsigned index);
/* Frees what init allocated; the connection must be closed. */
void	loadgen_conn_free(struct loadgen_conn *c);
/* Opens the connection (non-blocking); the rest happens in loadgen_conn_event. */
void	loadgen_conn_start(struct loadgen_conn *c, uint64_t now);
void	loadgen_conn_event(struct loadgen_conn *c, uint32_t events);
/* Timeouts, delayed reopening and paced requests; called every few
 * milliseconds. */
void	loadgen_conn_tick(struct loadgen_conn *c, uint64_t now);
void	loadgen_conn_close(struct loadgen_conn *c);
/* Whether a request (or, with --new-conn, its connection) is under way. */
int	loadgen_conn_busy(const struct loadgen_conn *c);

#endif
