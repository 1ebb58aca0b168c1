/* Load-generator connection: non-blocking OpenSSL under edge-triggered epoll, one
 * request in flight, llhttp for the framing (Content-Length, chunked, close). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>

#include "log.h"
#include "util.h"
#include "loadgen_clock.h"
#include "loadgen_conn.h"
#include "loadgen_tls.h"

/* After a connect or TLS failure, wait before retrying so a dead server does
 * not turn the generator into a busy loop. */
#define LOADGEN_CONN_BACKOFF_US	10000u
/* Errors logged per kind, over all threads: enough to diagnose, not a flood. */
#define LOADGEN_CONN_LOG_MAX	3

static atomic_uint	loadgen_conn_logged[LOADGEN_ERR_MAX];

static int
loadgen_conn_on_headers_complete(llhttp_t *p)
{
	struct loadgen_conn	*c = p->data;

	c->status = (unsigned)llhttp_get_status_code(p);
	c->keep_alive = llhttp_should_keep_alive(p);
	return 0;
}

static int
loadgen_conn_on_message_complete(llhttp_t *p)
{
	struct loadgen_conn	*c = p->data;

	c->complete = 1;
	/* Stop here: bytes after the response would be a protocol error. */
	return HPE_PAUSED;
}

/* One read-only callback table for every parser of every thread. */
static llhttp_settings_t	loadgen_conn_settings;
static pthread_once_t		loadgen_conn_settings_once = PTHREAD_ONCE_INIT;

static void
loadgen_conn_settings_init(void)
{
	llhttp_settings_init(&loadgen_conn_settings);
	loadgen_conn_settings.on_headers_complete = loadgen_conn_on_headers_complete;
	loadgen_conn_settings.on_message_complete = loadgen_conn_on_message_complete;
}

int
loadgen_conn_init(struct loadgen_conn *c, struct loadgen_env *env,
    unsigned index)
{
	memset(c, 0, sizeof(*c));
	c->env = env;
	c->fd = -1;
	c->index = index;
	c->tpl = (unsigned)(index % env->nreqs);
	c->req = &env->reqs[c->tpl];
	c->ctx = env->ctxs[c->tpl];
	(void)pthread_once(&loadgen_conn_settings_once, loadgen_conn_settings_init);
	/* Ids change per request, and OpenSSL wants the very same bytes again
	 * when a write is retried: each connection rewrites its own copy. */
	if (c->req->nids > 0 || c->req->nvars > 0) {
		if ((c->wbuf = malloc(c->req->len)) == NULL) {
			log_warn("%s: malloc", __func__);
			return -1;
		}
		memcpy(c->wbuf, c->req->buf, c->req->len);
	}
	return 0;
}

void
loadgen_conn_free(struct loadgen_conn *c)
{
	free(c->wbuf);
	c->wbuf = NULL;
}

/* Puts a fresh id in the connection's copy of its request: the run's prefix,
 * the connection (hex, 4 digits: LOADGEN_MAX_CONNS fits) and a sequence
 * (12 decimal digits), so ids never repeat across connections or threads,
 * and all have the same length (Content-Length is fixed); and the next
 * vary= value, if the template has one. */
static void
loadgen_conn_stamp(struct loadgen_conn *c)
{
	const struct loadgen_opts	*o = c->env->opts;
	char				 id[LOADGEN_ID_LEN_MAX + 1];

	c->stamp = 0;
	if (c->wbuf == NULL)
		return;
	/* Cannot fail: the prefix is at most LOADGEN_ID_PREFIX_MAX long, the
	 * index under 0x10000 and the sequence wraps below 10^12. */
	(void)str_printf(id, sizeof(id), "%s-%04x-%012llu", o->id_prefix,
	    c->index & 0xffffu, (unsigned long long)(c->seq % 1000000000000ULL));
	c->seq++;
	loadgen_request_stamp(c->req, c->wbuf, id, o->id_len);
	if (loadgen_request_vary(c->req, c->wbuf))
		c->env->stats->tpl_repeats[c->tpl]++;
}

void
loadgen_conn_close(struct loadgen_conn *c)
{
	struct linger	lg = { 1, 0 };

	if (c->ssl != NULL) {
		/* close_notify for a clean end; the answer is not awaited. */
		if (SSL_is_init_finished(c->ssl)) {
			ERR_clear_error();
			(void)SSL_shutdown(c->ssl);
		}
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1) {
		/* In --new-conn mode, close with RST: thousands of client-side
		 * TIME_WAIT sockets per second would exhaust the ephemeral ports. */
		if (c->env->opts->new_conn)
			(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c->fd);
		c->fd = -1;
	}
	c->state = LOADGEN_CONN_IDLE;
	c->timing = 0;
}

static void
loadgen_conn_log(const char *func, enum loadgen_err kind, const char *why)
{
	if (atomic_fetch_add(&loadgen_conn_logged[kind], 1) < LOADGEN_CONN_LOG_MAX)
		log_warnx("%s: %s error: %s", func, loadgen_stats_err_name(kind), why);
}

static void	loadgen_conn_reopen(struct loadgen_conn *c, uint64_t now);

/* Counts the error, drops the connection and opens another (later, for
 * errors that a retry right away would only repeat). */
static void
loadgen_conn_fail(struct loadgen_conn *c, const char *func, enum loadgen_err kind,
    const char *why)
{
	uint64_t	now = loadgen_clock_us();

	c->env->stats->errors[kind]++;
	loadgen_conn_log(func, kind, why);
	loadgen_conn_close(c);
	if (kind == LOADGEN_ERR_CONNECT || kind == LOADGEN_ERR_TLS)
		c->retry_us = now + LOADGEN_CONN_BACKOFF_US;
	else
		loadgen_conn_reopen(c, now);
}

static void
loadgen_conn_fail_errno(struct loadgen_conn *c, const char *func,
    enum loadgen_err kind, const char *what, int err)
{
	char	why[160];

	(void)str_printf(why, sizeof(why), "%s: %s", what, strerror(err));
	loadgen_conn_fail(c, func, kind, why);
}

static void
loadgen_conn_fail_tls(struct loadgen_conn *c, const char *func, int sslerr,
    const char *what)
{
	enum loadgen_err	kind;
	char			why[300], detail[256];

	if (sslerr == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		/* The socket failed under TLS: a reset, or an EOF (errno 0). */
		kind = c->state == LOADGEN_CONN_HANDSHAKE ? LOADGEN_ERR_TLS :
		    LOADGEN_ERR_IO;
		if (errno != 0)
			loadgen_conn_fail_errno(c, func, kind, what, errno);
		else {
			(void)str_printf(why, sizeof(why), "%s: closed by the peer",
			    what);
			loadgen_conn_fail(c, func, kind, why);
		}
		return;
	}
	loadgen_tls_why(c->ssl, detail, sizeof(detail));
	(void)str_printf(why, sizeof(why), "%s: %s", what, detail);
	loadgen_conn_fail(c, func, sslerr == SSL_ERROR_SSL ||
	    c->state == LOADGEN_CONN_HANDSHAKE ? LOADGEN_ERR_TLS : LOADGEN_ERR_IO, why);
}

static void
loadgen_conn_open(struct loadgen_conn *c, uint64_t now)
{
	const struct loadgen_opts	*o = c->env->opts;
	struct epoll_event		 ev;
	int				 one = 1;

	c->retry_us = 0;
	/* Whatever the last connection sent may have been accepted: a retry
	 * carries a new id, so the run never measures the replay path. */
	c->stamp = 1;
	if (c->opened && !o->new_conn)
		c->env->stats->reconnects++;
	c->opened = 1;
	c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		loadgen_conn_fail_errno(c, __func__, LOADGEN_ERR_CONNECT,
		    "socket", errno);
		return;
	}
	/* Requests are written whole; Nagle would only add delay. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	llhttp_init(&c->parser, HTTP_RESPONSE, &loadgen_conn_settings);
	c->parser.data = c;
	c->done_on_conn = 0;
	c->deadline_us = now + o->timeout_ms * 1000u;
	/* With --new-conn the connection and handshake are part of the latency. */
	if (o->new_conn) {
		c->start_us = now;
		c->timing = 1;
	}
	if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addrlen) == 0)
		c->state = LOADGEN_CONN_HANDSHAKE;
	else if (errno == EINPROGRESS)
		c->state = LOADGEN_CONN_CONNECTING;
	else {
		loadgen_conn_fail_errno(c, __func__, LOADGEN_ERR_CONNECT,
		    "connect", errno);
		return;
	}
	/* Edge-triggered on both directions, registered once, so no epoll_ctl
	 * per request. No edge is lost: the state machine runs until OpenSSL
	 * reports WANT_READ/WANT_WRITE, except right after a request is written,
	 * where the answer still to come raises the next edge. Adding a writable
	 * socket reports EPOLLOUT at once, which starts the handshake. */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(c->env->epfd, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		loadgen_conn_fail_errno(c, __func__, LOADGEN_ERR_CONNECT,
		    "epoll_ctl", errno);
}

static void
loadgen_conn_reopen(struct loadgen_conn *c, uint64_t now)
{
	if (now < c->env->end_us)
		loadgen_conn_open(c, now);
}

void
loadgen_conn_start(struct loadgen_conn *c, uint64_t now)
{
	const struct loadgen_opts	*o = c->env->opts;

	/* Paced connections start spread over one interval, not all at once. */
	c->next_us = now + o->pace_us * (c->index % o->conns) / o->conns;
	loadgen_conn_open(c, now);
}

/* Accounts a complete response. Returns 1 if the connection carries on with
 * the next request, 0 if it was closed (and maybe reopened on a new fd). */
static int
loadgen_conn_done(struct loadgen_conn *c)
{
	struct loadgen_stats	*st = c->env->stats;
	uint64_t		 now = loadgen_clock_us();
	unsigned		 expect = c->env->opts->expect;
	char			 why[64];
	int			 ok;

	ok = expect != 0 ? c->status == expect :
	    c->status >= 200 && c->status <= 299;
	/* With --expect the latency is that of the acknowledgements only: a
	 * quick refusal must not make the figure look better. */
	if (ok || expect == 0)
		loadgen_hist_record(&st->latency, now - c->start_us);
	st->responses++;
	st->tpl_responses[c->tpl]++;
	st->status_class[c->status / 100 < 6 ? c->status / 100 : 0]++;
	if (ok) {
		st->ok++;
		st->tpl_ok[c->tpl]++;
	} else {
		st->errors[LOADGEN_ERR_STATUS]++;
		(void)str_printf(why, sizeof(why), "HTTP status %u", c->status);
		loadgen_conn_log(__func__, LOADGEN_ERR_STATUS, why);
	}
	c->done_on_conn++;
	c->timing = 0;
	c->stamp = 1;
	if (c->env->opts->new_conn || !c->keep_alive) {
		loadgen_conn_close(c);
		loadgen_conn_reopen(c, now);
		return 0;
	}
	c->state = LOADGEN_CONN_WRITING;
	return 1;
}

/* Feeds response bytes to llhttp. 1: go on reading or writing, 0: stop
 * (waiting, or the connection was closed). */
static int
loadgen_conn_parse(struct loadgen_conn *c, size_t n)
{
	const char	*buf = c->env->rbuf;
	llhttp_errno_t	 err;
	char		 why[200];

	c->got += n;
	err = llhttp_execute(&c->parser, buf, n);
	if (err == HPE_PAUSED && c->complete) {
		if (llhttp_get_error_pos(&c->parser) != buf + n) {
			loadgen_conn_fail(c, __func__, LOADGEN_ERR_PARSE,
			    "bytes after the response");
			return 0;
		}
		llhttp_resume(&c->parser);
		return loadgen_conn_done(c);
	}
	if (err != HPE_OK) {
		(void)str_printf(why, sizeof(why), "%s: %s", llhttp_errno_name(err),
		    llhttp_get_error_reason(&c->parser));
		loadgen_conn_fail(c, __func__, LOADGEN_ERR_PARSE, why);
		return 0;
	}
	return 1;
}

/* The server closed the connection while a response was awaited. */
static void
loadgen_conn_eof(struct loadgen_conn *c)
{
	if (c->got == 0 && c->done_on_conn > 0 && !c->env->opts->new_conn) {
		/* An idle keep-alive connection the server chose to close just as
		 * the next request went out: reopen and send again, as browsers do. */
		loadgen_conn_close(c);
		loadgen_conn_reopen(c, loadgen_clock_us());
		return;
	}
	/* A body delimited by the close (no length, not chunked) ends here. */
	if (c->got > 0 && llhttp_finish(&c->parser) == HPE_PAUSED && c->complete) {
		(void)loadgen_conn_done(c);
		return;
	}
	loadgen_conn_fail(c, __func__, LOADGEN_ERR_IO, c->got == 0 ?
	    "closed before the response" : "closed in the middle of the response");
}

/* --rate: 1 if the next request must wait for its slot (the connection is
 * then PACED until the tick sends it), 0 to send now. A connection that fell
 * behind its schedule does not burst to catch up. */
static int
loadgen_conn_pace(struct loadgen_conn *c)
{
	uint64_t	iv = c->env->opts->pace_us, now;

	if (iv == 0)
		return 0;
	now = loadgen_clock_us();
	if (now < c->next_us) {
		c->state = LOADGEN_CONN_PACED;
		return 1;
	}
	c->next_us = (c->next_us + iv > now ? c->next_us : now) + iv;
	return 0;
}

static void
loadgen_conn_drive(struct loadgen_conn *c, uint32_t events)
{
	const struct loadgen_request	*req = c->req;
	const char			*wbuf;
	socklen_t			 len;
	int				 rc, e, soerr;

	for (;;) {
		switch (c->state) {
		case LOADGEN_CONN_IDLE:
			return;
		case LOADGEN_CONN_PACED:
			/* Only the tick ends the wait; an EOF meanwhile shows
			 * at the next write. */
			return;
		case LOADGEN_CONN_CONNECTING:
			if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
				return;
			soerr = 0;
			len = sizeof(soerr);
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
				soerr = errno;
			if (soerr != 0) {
				loadgen_conn_fail_errno(c, __func__,
				    LOADGEN_ERR_CONNECT, "connect", soerr);
				return;
			}
			c->state = LOADGEN_CONN_HANDSHAKE;
			break;
		case LOADGEN_CONN_HANDSHAKE:
			if (c->ssl == NULL) {
				c->ssl = loadgen_tls_new(c->ctx, c->env->opts,
				    c->fd);
				if (c->ssl == NULL) {
					loadgen_conn_fail(c, __func__, LOADGEN_ERR_TLS,
					    "cannot create SSL");
					return;
				}
			}
			ERR_clear_error();
			errno = 0;
			rc = SSL_do_handshake(c->ssl);
			if (rc != 1) {
				e = SSL_get_error(c->ssl, rc);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return;
				loadgen_conn_fail_tls(c, __func__, e, "handshake");
				return;
			}
			c->env->stats->handshakes++;
			c->state = LOADGEN_CONN_WRITING;
			break;
		case LOADGEN_CONN_WRITING:
			if (!c->timing && loadgen_conn_pace(c))
				return;
			if (!c->timing) {
				c->start_us = loadgen_clock_us();
				c->deadline_us = c->start_us +
				    c->env->opts->timeout_ms * 1000u;
				c->timing = 1;
			}
			/* Only for a new request: a retried write must send
			 * the same bytes. */
			if (c->stamp)
				loadgen_conn_stamp(c);
			wbuf = c->wbuf != NULL ? c->wbuf : req->buf;
			ERR_clear_error();
			errno = 0;
			rc = SSL_write(c->ssl, wbuf, (int)req->len);
			if (rc <= 0) {
				e = SSL_get_error(c->ssl, rc);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return;
				if (c->done_on_conn > 0 && (e == SSL_ERROR_ZERO_RETURN ||
				    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))) {
					/* The server closed the idle keep-alive
					 * connection first: same as an EOF. */
					c->got = 0;
					loadgen_conn_eof(c);
					return;
				}
				loadgen_conn_fail_tls(c, __func__, e, "write");
				return;
			}
			c->got = 0;
			c->complete = 0;
			c->state = LOADGEN_CONN_READING;
			/* No read now: the answer cannot be there yet, and it
			 * will raise a new EPOLLIN edge when it arrives. Saves
			 * one EAGAIN read(2) per request. */
			return;
		case LOADGEN_CONN_READING:
			ERR_clear_error();
			errno = 0;
			rc = SSL_read(c->ssl, c->env->rbuf, (int)sizeof(c->env->rbuf));
			if (rc > 0) {
				if (!loadgen_conn_parse(c, (size_t)rc))
					return;
				break;
			}
			e = SSL_get_error(c->ssl, rc);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return;
			if (e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
			    errno == 0)) {
				loadgen_conn_eof(c);
				return;
			}
			loadgen_conn_fail_tls(c, __func__, e, "read");
			return;
		}
	}
}

void
loadgen_conn_event(struct loadgen_conn *c, uint32_t events)
{
	loadgen_conn_drive(c, events);
}

int
loadgen_conn_busy(const struct loadgen_conn *c)
{
	return c->state != LOADGEN_CONN_IDLE && c->timing;
}

void
loadgen_conn_tick(struct loadgen_conn *c, uint64_t now)
{
	if (c->state == LOADGEN_CONN_IDLE) {
		if (c->retry_us != 0 && now >= c->retry_us)
			loadgen_conn_reopen(c, now);
		return;
	}
	if (c->state == LOADGEN_CONN_PACED) {
		if (now >= c->next_us) {
			c->state = LOADGEN_CONN_WRITING;
			loadgen_conn_drive(c, 0);
		}
		return;
	}
	if (now >= c->deadline_us)
		loadgen_conn_fail(c, __func__, LOADGEN_ERR_TIMEOUT,
		    "no complete response in time");
}
