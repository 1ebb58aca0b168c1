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
/* Idempotency keys remembered (--idempotency-max-keys), and the longest key
 * taken: the courier's are far shorter. */
#define STUB_INBOX_DEFAULT_KEYS	1000000
#define STUB_INBOX_KEY_MAX	256

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
struct sign_key;

struct stub_cfg {
	char			 name[STUB_NAME_MAX];
	const char		*listen;
	const char		*cert;
	const char		*key;
	const char		*ca;
	const char		*record;
	const char		*save_bodies;	/* --save-bodies DIR, or NULL */
	const char		*verify_key_path;	/* --verify-key PEM */
	const char		*sm2_id;	/* --sm2-id, for an SM2 key */
	struct sign_key		*verify_key;	/* owned; bank mode when set */
	uint64_t		 idem_max_keys;
	struct stub_mode	 mode;		/* default for requests */
	uint64_t		 delay_ms;	/* default for a bare "delay" */
	int			 status;	/* status of "answer" */
	int			 fail_status;	/* default for a bare "fail" */
	int			 threads;
	int			 quiet;
	SSL_CTX			*ssl;
	int			 record_fd;	/* -1 when not recording */
	int			 keep_body;	/* save-bodies or bank mode */
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
	int		 keep_body;	/* hold the body too, not only hash it */
	uint8_t		*body;		/* owned; body_bytes of it when kept */
	size_t		 body_cap;
	uint64_t	 body_bytes;
	char		 body_sha256[65];
	int		 err_status;	/* set by a callback that refuses */
	const char	*err_code;
};

/* An answer prepared when its request is dispatched, so the record line has
 * its status and an idempotent replay is the same bytes; sent at once or
 * after a delay. */
struct stub_resp {
	int		 status;
	const char	*ctype;		/* a static string */
	uint8_t		*body;		/* owned (malloc); NULL when len is 0 */
	size_t		 len;
	int		 replayed;	/* adds Idempotent-Replayed: true */
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
int		 stub_req_init(struct stub_req *req, int keep_body);
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
size_t		 stub_req_header_count(const struct stub_req *req,
		    const char *name);

/* stub_json.c */
int		 stub_json_str(struct evbuffer *buf, const char *s);

/* stub_reply.c */
void		 stub_reply_init(void);
int		 stub_reply_continue(struct evbuffer *out);
void		 stub_reply_resp_clear(struct stub_resp *r);
int		 stub_reply_resp_take(struct stub_resp *r, int status,
		    const char *ctype, struct evbuffer *body);
int		 stub_reply_resp_answer(struct stub_resp *r,
		    const struct stub_cfg *cfg, const struct stub_req *req,
		    const char *client_cn, uint64_t conn_id, int status);
int		 stub_reply_resp_error(struct stub_resp *r,
		    const struct stub_cfg *cfg, int status, const char *code,
		    const char *msg, const char *request_id);
int		 stub_reply_send(struct evbuffer *out, const struct stub_cfg *cfg,
		    const struct stub_resp *r, int keep_alive, int head);
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
	uint64_t		 seq;		/* stub-wide: stub_record_seq */
	uint64_t		 conn_seq;	/* the request's number on conn */
	const struct stub_req	*req;
	const char		*client_cn;
	const char		*client_spki;
	const struct stub_mode	*mode;
	int			 big;
	int			 status;	/* 0 when nothing is answered */
	const char		*idempotency_key;	/* NULL: none */
	int			 replayed;
	const char		*signature;	/* "ok", a reason, NULL */
	const char		*file_signature;	/* the same, File-Signature */
};
int		 stub_record_open(const char *path);
void		 stub_record_seq_start(uint64_t last);
uint64_t	 stub_record_seq(void);
int		 stub_record_write(const struct stub_cfg *cfg,
		    const struct stub_record_info *info);

/* stub_inbox.c */
enum stub_inbox_outcome {
	STUB_INBOX_NEW,		/* first time: stored if 2xx */
	STUB_INBOX_REPLAY,	/* same key, same body: the stored answer */
	STUB_INBOX_REUSED,	/* same key, another body */
	STUB_INBOX_FULL,	/* new key, but the store is at its bound */
};
int		 stub_inbox_init(uint64_t max_keys);
void		 stub_inbox_free(void);
int		 stub_inbox_key(const char *hdr, char *out, size_t outsz);
int		 stub_inbox_claim(const char *key, const char *body_sha256,
		    struct stub_resp *resp, enum stub_inbox_outcome *outcome);

/* stub_save.c */
int		 stub_save_init(const char *dir, uint64_t *last_seq);
int		 stub_save_write(const struct stub_cfg *cfg, uint64_t seq,
		    const struct stub_req *req);

/* stub_bank.c */
int		 stub_bank_load(struct stub_cfg *cfg);
void		 stub_bank_free(struct stub_cfg *cfg);
const char	*stub_bank_verify(const struct stub_cfg *cfg,
		    const struct stub_req *req);
const char	*stub_bank_verify_file(const struct stub_cfg *cfg,
		    const struct stub_req *req);
int		 stub_bank_pain002(const struct stub_cfg *cfg,
		    const struct stub_req *req, uint64_t seq,
		    struct stub_resp *resp);

/* stub_conn.c */
void		 stub_conn_accept(struct evconnlistener *lev, evutil_socket_t fd,
		    struct sockaddr *sa, int salen, void *arg);
void		 stub_conn_free_all(struct stub_worker *w);

#endif
