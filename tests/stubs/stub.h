/* Stub upstream agency server (stubd): types and functions shared by its files.
 * Tests and benchmarks put it behind the gateway as finance, HRSS or a bank. */
#ifndef STUB_H
#define STUB_H

#include <sys/queue.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

/* Limits from the brief: the head (request line and headers) and the body. */
#define STUB_MAX_HEAD		(64u * 1024)
#define STUB_MAX_BODY		(64ull * 1024 * 1024)
/* Largest body GET /__stub/big will stream (it is generated, never held). */
#define STUB_MAX_BIG		(1ull << 40)
/* Unparsed input held while a request is still being answered; past this,
 * reading stops until the answer is out (backpressure, bounded memory). */
#define STUB_MAX_PENDING_IN	(1024u * 1024)
#define STUB_MAX_THREADS	64
#define STUB_NAME_MAX		64

enum stub_mode_kind {
	STUB_MODE_ANSWER,
	STUB_MODE_DELAY,
	STUB_MODE_FAIL,
	STUB_MODE_HANG,
	STUB_MODE_RESET,
};

struct stub_mode {
	enum stub_mode_kind	kind;
	uint64_t		delay_ms;	/* STUB_MODE_DELAY */
	int			status;		/* STUB_MODE_FAIL */
};

/* Read-only after start-up, shared by every worker thread. */
struct stub_cfg {
	char			 name[STUB_NAME_MAX];
	const char		*listen;
	const char		*cert;
	const char		*key;
	const char		*ca;
	const char		*record;
	struct stub_mode	 mode;		/* default for requests */
	uint64_t		 delay_ms;	/* default for a bare "delay" */
	int			 status;	/* status of "answer" */
	int			 fail_status;	/* default for a bare "fail" */
	int			 threads;
	int			 quiet;
	SSL_CTX			*ssl;
	int			 record_fd;	/* -1 when not recording */
};

struct stub_conn;
TAILQ_HEAD(stub_conn_list, stub_conn);

/* One per thread: its own event_base and its own listening socket. */
struct stub_worker {
	int			 idx;
	int			 fd;
	struct event_base	*base;
	struct evconnlistener	*lev;
	int			 stop_fds[2];	/* pipe: main thread -> worker */
	struct event		*stop_ev;
	pthread_t		 thread;
	int			 started;
	struct stub_conn_list	 conns;
	const struct stub_cfg	*cfg;
};

/* A header as offsets into stub_req.buf (which may move while it grows);
 * name and value are each NUL-terminated there. */
struct stub_hdr {
	uint32_t	name;
	uint32_t	value;
};

/* The request being parsed or answered on a connection (one at a time:
 * pipelined requests wait in the input buffer, so answers stay in order). */
struct stub_req {
	char		*buf;		/* url, then header names and values */
	size_t		 len;
	size_t		 cap;
	struct stub_hdr	*hdrs;
	size_t		 nhdrs;
	size_t		 hcap;
	int		 in_header;	/* a field was started, value not done */
	const char	*method;
	int		 head;		/* HEAD: answer without a body */
	int		 keep_alive;
	int		 expect_continue;
	void		*md;		/* EVP_MD_CTX, SHA-256 of the body */
	uint64_t	 body_bytes;
	char		 body_sha256[65];
	int		 err_status;	/* set by a callback that refuses */
	const char	*err_code;
};

/* Streaming state of GET /__stub/big. */
struct stub_big {
	uint64_t	left;
	int		chunked;
	int		head;
};

/* stub_mode.c */
int		 stub_mode_parse(const char *s, const struct stub_cfg *cfg,
		    struct stub_mode *out);
const char	*stub_mode_name(enum stub_mode_kind kind);

/* stub_tls.c */
SSL_CTX		*stub_tls_ctx_new(const struct stub_cfg *cfg);
int		 stub_tls_peer(SSL *ssl, char *cn, size_t cnsz, char *spki_hex,
		    size_t spkisz);

/* stub_req.c */
int		 stub_req_init(struct stub_req *req);
void		 stub_req_reset(struct stub_req *req);
void		 stub_req_free(struct stub_req *req);
int		 stub_req_append(struct stub_req *req, const char *at,
		    size_t len);
int		 stub_req_header_begin(struct stub_req *req);
int		 stub_req_header_name_end(struct stub_req *req);
int		 stub_req_header_end(struct stub_req *req);
const char	*stub_req_url(const struct stub_req *req);
const char	*stub_req_hname(const struct stub_req *req, size_t i);
const char	*stub_req_hvalue(const struct stub_req *req, size_t i);
const char	*stub_req_header(const struct stub_req *req, const char *name);
int		 stub_req_body(struct stub_req *req, const char *at, size_t len);
int		 stub_req_body_done(struct stub_req *req);

/* stub_json.c */
int		 stub_json_str(struct evbuffer *buf, const char *s);

/* stub_reply.c */
void		 stub_reply_init(void);
int		 stub_reply_continue(struct evbuffer *out);
int		 stub_reply_answer(struct evbuffer *out, const struct stub_cfg *cfg,
		    const struct stub_req *req, const char *client_cn,
		    uint64_t conn_id, int status);
int		 stub_reply_error(struct evbuffer *out, const struct stub_cfg *cfg,
		    int status, const char *code, const char *msg,
		    const char *request_id, int keep_alive, int head);
int		 stub_reply_big_parse(const char *url, uint64_t *bytes,
		    int *chunked);
int		 stub_reply_big_head(struct evbuffer *out,
		    const struct stub_cfg *cfg, const struct stub_big *big,
		    uint64_t bytes, int keep_alive);
int		 stub_reply_big_fill(struct evbuffer *out, struct stub_big *big);

/* stub_record.c */
struct stub_record_info {
	uint64_t		 conn_id;
	uint64_t		 seq;
	const struct stub_req	*req;
	const char		*client_cn;
	const char		*client_spki;
	const struct stub_mode	*mode;
	int			 big;
	int			 status;	/* 0 when nothing is answered */
};
int		 stub_record_open(const char *path);
int		 stub_record_write(const struct stub_cfg *cfg,
		    const struct stub_record_info *info);

/* stub_conn.c */
void		 stub_conn_accept(struct evconnlistener *lev, evutil_socket_t fd,
		    struct sockaddr *sa, int salen, void *arg);
void		 stub_conn_free_all(struct stub_worker *w);

#endif
