/* Unit tests for the courier: the order checks table-driven, then the real
 * process (forked, on a socketpair) delivering to a mutual-TLS test server
 * in this process, with outcomes, request bytes, keep-alive, timeouts, the
 * sandbox and the exit codes checked. */
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "courier/courier.h"
#include "courier/validate.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

#define CERTS		"certs/dev"
#define SRV_MAX_CONNS	32
#define SRV_MAX_REQS	64
#define SRV_REQ_MAX	16384
#define WAIT_MS		20000	/* longest wait for an answer */
#define BIG_BODY	(1024 * 1024 + 1)

/* ---- the test upstream: blocking OpenSSL, one thread per connection ---- */

struct seen {
	unsigned	conn;		/* which connection, from 0 */
	unsigned	nth;		/* which request on it, from 0 */
	size_t		len;
	char		raw[SRV_REQ_MAX];
	char		cn[64];		/* client certificate CN */
};

struct srv {
	SSL_CTX		*ctx;
	int		 lfd;
	int		 stop[2];
	int		 running;
	uint16_t	 port;
	pthread_t	 acceptor;
	pthread_mutex_t	 mu;
	pthread_t	 threads[SRV_MAX_CONNS];
	unsigned	 nconns;
	struct seen	 reqs[SRV_MAX_REQS];
	unsigned	 nreqs;
};

struct srv_conn {
	struct srv	*s;
	int		 fd;
	unsigned	 index;
};

struct fx {
	int		 certs;		/* certs/dev is there */
	struct config	*cf;
	struct srv	 srv;
	pid_t		 child;
	int		 sock;		/* the keeper's end */
};

static int
srv_write(SSL *ssl, const char *p, size_t len)
{
	int	n;

	while (len > 0) {
		n = SSL_write(ssl, p, len > 65536 ? 65536 : (int)len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
srv_say(SSL *ssl, const char *text)
{
	return srv_write(ssl, text, strlen(text));
}

/* One whole request (the courier never pipelines); its length, 0 at EOF. */
static size_t
srv_read_request(SSL *ssl, char *buf, size_t size)
{
	size_t		 len = 0, need = 0, head, i;
	const char	*end, *cl;
	char		 num[24];
	uint64_t	 clen;
	int		 n;

	for (;;) {
		if (need == 0 &&
		    (end = memmem(buf, len, "\r\n\r\n", 4)) != NULL) {
			head = (size_t)(end - buf) + 4;
			clen = 0;
			cl = memmem(buf, head, "\r\nContent-Length: ", 18);
			if (cl != NULL) {
				cl += 18;
				for (i = 0; i < sizeof(num) - 1 &&
				    cl[i] >= '0' && cl[i] <= '9'; i++)
					num[i] = cl[i];
				num[i] = '\0';
				if (parse_u64(num, 0, SRV_REQ_MAX, &clen) == -1)
					return 0;
			}
			need = head + clen;
		}
		if (need != 0 && len >= need)
			return need;
		if (len == size)
			return 0;
		if ((n = SSL_read(ssl, buf + len, (int)(size - len))) <= 0)
			return 0;
		len += (size_t)n;
	}
}

/* What the upstream does is chosen by the path. 0 to keep the connection,
 * -1 to close it. */
static int
srv_answer(SSL *ssl, const char *path, unsigned nth)
{
	char	buf[256], *big;
	int	rc;

	if (strncmp(path, "/ok", 3) == 0)
		return srv_say(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
		    "\r\nok");
	if (strncmp(path, "/status/", 8) == 0) {
		str_printf(buf, sizeof(buf), "HTTP/1.1 %.3s Whatever\r\n"
		    "Content-Length: 1\r\n\r\nx", path + 8);
		return srv_say(ssl, buf);
	}
	if (strncmp(path, "/stale", 6) == 0) {
		/* A kept-alive connection the peer has given up on. */
		if (nth > 0)
			return -1;
		return srv_say(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
		    "\r\nok");
	}
	if (strncmp(path, "/chunked", 8) == 0)
		return srv_say(ssl, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
		    "chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n");
	if (strncmp(path, "/continue", 9) == 0)
		return srv_say(ssl, "HTTP/1.1 100 Continue\r\n\r\n"
		    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
	if (strncmp(path, "/garbage", 8) == 0)
		return srv_say(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
		    "Content-Length: 3\r\n\r\nok");
	if (strncmp(path, "/big", 4) == 0) {
		if ((big = malloc(BIG_BODY)) == NULL)
			return -1;
		memset(big, 'a', BIG_BODY);
		str_printf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n"
		    "Content-Length: %d\r\n\r\n", BIG_BODY);
		rc = srv_say(ssl, buf) == 0 && srv_write(ssl, big, BIG_BODY) ==
		    0 ? 0 : -1;
		free(big);
		return rc;
	}
	if (strncmp(path, "/hang", 5) == 0) {
		/* Never answers: waits for the courier to give up. */
		while (SSL_read(ssl, buf, sizeof(buf)) > 0)
			;
		return -1;
	}
	return -1;	/* "/close" and anything else: no answer at all */
}

static void *
srv_conn_main(void *arg)
{
	struct srv_conn	*sc = arg;
	struct srv	*s = sc->s;
	struct seen	*rec;
	SSL		*ssl;
	X509		*peer;
	char		 buf[SRV_REQ_MAX], path[256], cn[64] = "";
	size_t		 len, plen;
	unsigned	 nth;

	if ((ssl = SSL_new(s->ctx)) == NULL)
		goto out;
	SSL_set_fd(ssl, sc->fd);
	if (SSL_accept(ssl) != 1)
		goto done;
	if ((peer = SSL_get0_peer_certificate(ssl)) != NULL)
		X509_NAME_get_text_by_NID(X509_get_subject_name(peer),
		    NID_commonName, cn, sizeof(cn));
	for (nth = 0; (len = srv_read_request(ssl, buf, sizeof(buf))) > 0;
	    nth++) {
		path[0] = '\0';
		if (len > 5 && memcmp(buf, "POST ", 5) == 0) {
			for (plen = 0; plen < sizeof(path) - 1 &&
			    5 + plen < len && buf[5 + plen] != ' '; plen++)
				path[plen] = buf[5 + plen];
			path[plen] = '\0';
		}
		/* Recorded before the answer, so a test that has the
		 * outcome sees the request. */
		pthread_mutex_lock(&s->mu);
		if (s->nreqs < SRV_MAX_REQS) {
			rec = &s->reqs[s->nreqs++];
			rec->conn = sc->index;
			rec->nth = nth;
			rec->len = len;
			memcpy(rec->raw, buf, len);
			str_copy(rec->cn, sizeof(rec->cn), cn);
		}
		pthread_mutex_unlock(&s->mu);
		if (srv_answer(ssl, path, nth) == -1)
			break;
	}
	SSL_shutdown(ssl);
done:
	SSL_free(ssl);
out:
	close(sc->fd);
	free(sc);
	ERR_clear_error();
	return NULL;
}

static void *
srv_accept_main(void *arg)
{
	struct srv	*s = arg;
	struct srv_conn	*sc;
	struct pollfd	 pfd[2];
	struct timeval	 tv = { 30, 0 };
	int		 fd;

	for (;;) {
		pfd[0].fd = s->lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = s->stop[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			break;
		if (pfd[1].revents != 0)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		if ((fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		/* A bound on a stuck test, not part of any check. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		pthread_mutex_lock(&s->mu);
		if (s->nconns == SRV_MAX_CONNS ||
		    (sc = calloc(1, sizeof(*sc))) == NULL) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			continue;
		}
		sc->s = s;
		sc->fd = fd;
		sc->index = s->nconns;
		if (pthread_create(&s->threads[s->nconns], NULL, srv_conn_main,
		    sc) != 0) {
			free(sc);
			close(fd);
		} else
			s->nconns++;
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

/* Listens on an ephemeral loopback port; the threads start later, after
 * the courier is forked (no thread may hold an OpenSSL lock at fork). */
static int
srv_init(struct srv *s)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->lfd = s->stop[0] = s->stop[1] = -1;
	pthread_mutex_init(&s->mu, NULL);
	if ((s->ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(s->ctx,
	    CERTS "/stub-bank.crt") != 1 ||
	    SSL_CTX_use_PrivateKey_file(s->ctx, CERTS "/stub-bank.key",
	    SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(s->ctx, CERTS "/ca.crt", NULL) != 1)
		return -1;
	/* The gateway must show its client certificate. */
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	if (pipe2(s->stop, O_CLOEXEC) == -1 ||
	    (s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s->lfd, 64) == -1 ||
	    getsockname(s->lfd, (struct sockaddr *)&sin, &slen) == -1)
		return -1;
	s->port = ntohs(sin.sin_port);
	return 0;
}

static void
srv_start(struct srv *s)
{
	assert_int_equal(pthread_create(&s->acceptor, NULL, srv_accept_main,
	    s), 0);
	s->running = 1;
}

/* Connection threads end when the courier's side closes: call after the
 * courier has exited. */
static void
srv_free(struct srv *s)
{
	unsigned	i, n;

	if (s->running) {
		(void)!write(s->stop[1], "x", 1);
		pthread_join(s->acceptor, NULL);
		pthread_mutex_lock(&s->mu);
		n = s->nconns;
		pthread_mutex_unlock(&s->mu);
		for (i = 0; i < n; i++)
			pthread_join(s->threads[i], NULL);
	}
	if (s->lfd != -1)
		close(s->lfd);
	if (s->stop[0] != -1)
		close(s->stop[0]);
	if (s->stop[1] != -1)
		close(s->stop[1]);
	SSL_CTX_free(s->ctx);
	pthread_mutex_destroy(&s->mu);
}

static unsigned
srv_nreqs(struct srv *s)
{
	unsigned	n;

	pthread_mutex_lock(&s->mu);
	n = s->nreqs;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static unsigned
srv_nconns(struct srv *s)
{
	unsigned	n;

	pthread_mutex_lock(&s->mu);
	n = s->nconns;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ---- the courier under test ---- */

/* A port nothing listens on: bound, read, closed. */
static uint16_t
dead_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void
upstream_set(struct cfg_upstream *u, const char *name, uint16_t port)
{
	char	hostport[32];

	memset(u, 0, sizeof(*u));
	str_copy(u->name, sizeof(u->name), name);
	str_printf(u->url, sizeof(u->url), "https://127.0.0.1:%u",
	    (unsigned)port);
	str_copy(u->host, sizeof(u->host), "127.0.0.1");
	u->port = port;
	str_printf(hostport, sizeof(hostport), "127.0.0.1:%u", (unsigned)port);
	assert_int_equal(config_parse_addr(hostport, &u->addr, &u->addrlen), 0);
	str_copy(u->ca, sizeof(u->ca), CERTS "/ca.crt");
	str_copy(u->cert, sizeof(u->cert), CERTS "/gateway-client.crt");
	str_copy(u->key, sizeof(u->key), CERTS "/gateway-client.key");
	u->connect_timeout_ms = 3000;
	u->timeout_ms = 10000;
	u->idle_timeout_ms = 60000;
	u->pool = 4;
}

static int
setup(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	fx->child = -1;
	fx->sock = -1;
	*state = fx;
	fx->certs = access(CERTS "/.complete", F_OK) == 0;
	if (!fx->certs)
		return 0;
	if (srv_init(&fx->srv) == -1 ||
	    (fx->cf = calloc(1, sizeof(*fx->cf))) == NULL)
		return -1;
	fx->cf->uid = (uid_t)-1;
	fx->cf->gid = (gid_t)-1;
	fx->cf->sandbox = 0;
	/* 0: the test server; 1: nothing listening. */
	upstream_set(&fx->cf->upstreams[0], "bank", fx->srv.port);
	upstream_set(&fx->cf->upstreams[1], "nobody", dead_port());
	fx->cf->nupstreams = 2;
	return 0;
}

static int
exited_with(int status, int code)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code;
}

/* Waits up to ms for the child; its wait status, or -1 if it is still
 * running. */
static int
child_wait(struct fx *fx, int ms)
{
	int	status, i;

	for (i = 0; i <= ms / 10; i++) {
		if (waitpid(fx->child, &status, WNOHANG) == fx->child) {
			fx->child = -1;
			return status;
		}
		usleep(10000);
	}
	return -1;
}

/* A courier still running is told the keeper is gone: it must exit 0 (in
 * sanitizer builds LeakSanitizer aborts it if courier_free missed any). */
static int
teardown(void **state)
{
	struct fx	*fx = *state;
	int		 status = 0, rc = 0;

	if (fx->sock != -1)
		close(fx->sock);
	if (fx->child > 0 && (status = child_wait(fx, 5000)) == -1) {
		kill(fx->child, SIGKILL);
		waitpid(fx->child, NULL, 0);
	}
	if (status != 0) {	/* 0: exited with 0 */
		print_error("courier wait status %#x at teardown\n", status);
		rc = -1;
	}
	if (fx->certs)
		srv_free(&fx->srv);
	free(fx->cf);
	free(fx);
	return rc;
}

/* Forks the courier on a socketpair; probe, if set, goes into its
 * environment (GATEWAY_SANDBOX_PROBE). The server threads start after. */
static void
spawn(struct fx *fx, int sandbox, const char *probe)
{
	int	sv[2];

	if (!fx->certs)
		skip();
	fx->cf->sandbox = sandbox;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	fflush(NULL);
	fx->child = fork();
	assert_true(fx->child != -1);
	if (fx->child == 0) {
		close(sv[0]);
		if (probe != NULL)
			setenv("GATEWAY_SANDBOX_PROBE", probe, 1);
		/* exit, not _exit: LeakSanitizer checks the child too. */
		exit(courier_main(fx->cf, sv[1]));
	}
	close(sv[1]);
	fx->sock = sv[0];
	srv_start(&fx->srv);
}

/* Each order in an epoch of its own unless a test says otherwise: the
 * keeper starts a new epoch after every failure, so independent orders
 * never skip one another. */
static uint32_t	order_epoch;

static void
order_init(struct ipc_deliver *d, uint64_t seq, uint32_t upstream,
    const char *path)
{
	memset(d, 0, sizeof(*d));
	d->seq = seq;
	d->upstream = upstream;
	d->attempt = 1;
	d->epoch = ++order_epoch;
	str_copy(d->path, sizeof(d->path), path);
	str_copy(d->ctype, sizeof(d->ctype), "application/json");
	str_printf(d->idempotency_key, sizeof(d->idempotency_key), "DSB-%llu",
	    (unsigned long long)seq);
}

static void
write_all(int fd, const void *p, size_t len)
{
	const char	*s = p;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, s, len);
		assert_true(n > 0);
		s += n;
		len -= (size_t)n;
	}
}

/* Sends a message of any type and size (to test the courier's checks). */
static void
send_raw(struct fx *fx, uint16_t type, uint64_t id, const void *p,
    size_t len, const void *body, size_t blen)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 n;

	assert_non_null(b);
	assert_int_equal(ipc_send2(b, type, id, p, len, body, blen), 0);
	n = evbuffer_get_length(b);
	write_all(fx->sock, evbuffer_pullup(b, -1), n);
	evbuffer_free(b);
}

static void
send_order(struct fx *fx, uint64_t id, const struct ipc_deliver *d,
    const char *body)
{
	send_raw(fx, IPC_DELIVER, id, d, sizeof(*d), body,
	    body != NULL ? strlen(body) : 0);
}

static void
read_full(int fd, void *p, size_t len)
{
	struct pollfd	 pfd;
	char		*s = p;
	ssize_t		 n;

	while (len > 0) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
		n = read(fd, s, len);
		assert_true(n > 0);
		s += n;
		len -= (size_t)n;
	}
}

static void
recv_result(struct fx *fx, struct ipc_hdr *h, struct ipc_delivered *r)
{
	read_full(fx->sock, h, sizeof(*h));
	assert_int_equal(h->version, IPC_VERSION);
	assert_int_equal(h->type, IPC_DELIVERED);
	assert_int_equal(h->len, sizeof(*r));
	read_full(fx->sock, r, sizeof(*r));
	assert_non_null(memchr(r->error, '\0', sizeof(r->error)));
}

/* One order, its answer: the id and seq must come back. */
static void
deliver(struct fx *fx, const struct ipc_deliver *d, const char *body,
    struct ipc_delivered *r)
{
	struct ipc_hdr	h;
	uint64_t	id = d->seq + 1000;

	send_order(fx, id, d, body);
	recv_result(fx, &h, r);
	assert_int_equal(h.id, id);
	assert_int_equal(r->seq, d->seq);
}

static void
sha256_of(const char *p, size_t len, uint8_t out[32])
{
	unsigned int	olen = 0;

	assert_int_equal(EVP_Digest(p, len, out, &olen, EVP_sha256(), NULL), 1);
}

/* ---- the order checks ---- */

static void
test_validate(void **state)
{
	static const struct {
		const char	*path, *ctype, *key, *headers;
		uint32_t	 upstream, attempt;
		int		 ok;
	} cases[] = {
		{ "/v1/pay", "application/xml", "K1", "", 0, 1, 1 },
		{ "/v1/pay?x=1&y=%20", "application/xml; charset=GB18030",
		    "DSB-2024.01_a", "Content-Digest: sha-256=:AA=:\r\n"
		    "Signature: sig1=:BB=:\r\n", 1, 7, 1 },
		{ "/", "a/b", "k", "X-Odd_Name!: v a l u e\r\n", 0, 1, 1 },
		/* Upstream, attempt. */
		{ "/v1", "a/b", "k", "", 2, 1, 0 },
		{ "/v1", "a/b", "k", "", UINT32_MAX, 1, 0 },
		{ "/v1", "a/b", "k", "", 0, 0, 0 },
		/* Path. */
		{ "", "a/b", "k", "", 0, 1, 0 },
		{ "v1", "a/b", "k", "", 0, 1, 0 },
		{ "http://x/v1", "a/b", "k", "", 0, 1, 0 },
		{ "/v 1", "a/b", "k", "", 0, 1, 0 },
		{ "/v1\r\nX: y", "a/b", "k", "", 0, 1, 0 },
		{ "/v1\n", "a/b", "k", "", 0, 1, 0 },
		{ "/v1\t", "a/b", "k", "", 0, 1, 0 },
		{ "/v1#frag", "a/b", "k", "", 0, 1, 0 },
		{ "/v\x7f", "a/b", "k", "", 0, 1, 0 },
		{ "/v\xc3\xa9", "a/b", "k", "", 0, 1, 0 },
		/* Content type. */
		{ "/v1", "", "k", "", 0, 1, 0 },
		{ "/v1", "a/b\r\nX: y", "k", "", 0, 1, 0 },
		{ "/v1", "a/b\x01", "k", "", 0, 1, 0 },
		/* Idempotency key. */
		{ "/v1", "a/b", "", "", 0, 1, 0 },
		{ "/v1", "a/b", "k\"", "", 0, 1, 0 },
		{ "/v1", "a/b", "k\\", "", 0, 1, 0 },
		{ "/v1", "a/b", "k\n", "", 0, 1, 0 },
		/* Headers. */
		{ "/v1", "a/b", "k", "X: v\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "X: v\r", 0, 1, 0 },
		{ "/v1", "a/b", "k", "X: v", 0, 1, 0 },
		{ "/v1", "a/b", "k", "X: v\r\n\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "X v\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", ": v\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "X Y: v\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", " X: v\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "X:\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "X:   \r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "X: a\tb\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "X: a\x01" "b\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "X: caf\xc3\xa9\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "X: a\r\nY: b\nZ: c\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "Content-Length: 5\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "transfer-encoding: chunked\r\n", 0, 1,
		    0 },
		{ "/v1", "a/b", "k", "HOST: evil\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "Idempotency-Key: \"x\"\r\n", 0, 1, 0 },
		{ "/v1", "a/b", "k", "Connection: close\r\n", 0, 1, 0 },
	};
	struct ipc_deliver	 d;
	const char		*why;
	size_t			 i;
	int			 rc;

	for (i = 0; i < nitems(cases); i++) {
		memset(&d, 0, sizeof(d));
		d.upstream = cases[i].upstream;
		d.attempt = cases[i].attempt;
		assert_int_equal(str_copy(d.path, sizeof(d.path),
		    cases[i].path), 0);
		assert_int_equal(str_copy(d.ctype, sizeof(d.ctype),
		    cases[i].ctype), 0);
		assert_int_equal(str_copy(d.idempotency_key,
		    sizeof(d.idempotency_key), cases[i].key), 0);
		assert_int_equal(str_copy(d.headers, sizeof(d.headers),
		    cases[i].headers), 0);
		why = NULL;
		rc = validate_deliver(&d, sizeof(d) + 3, 2, &why);
		if (rc != (cases[i].ok ? 0 : -1))
			fail_msg("case %zu (%s | %s | %s | %s): got %d (%s)", i,
			    cases[i].path, cases[i].ctype, cases[i].key,
			    cases[i].headers, rc, why ? why : "");
		if (rc == -1)
			assert_non_null(why);
	}
}

static void
test_validate_framing(void **state)
{
	struct ipc_deliver	 d;
	const char		*why;

	order_init(&d, 1, 0, "/v1");
	assert_int_equal(validate_deliver(&d, sizeof(d), 1, &why), 0);
	assert_int_equal(validate_deliver(&d, sizeof(d) - 1, 1, &why), -1);
	assert_int_equal(validate_deliver(&d, 0, 1, &why), -1);
	/* No upstream configured: nothing is deliverable. */
	assert_int_equal(validate_deliver(&d, sizeof(d), 0, &why), -1);
	/* Strings must end inside their arrays. */
	memset(d.path, 'a', sizeof(d.path));
	d.path[0] = '/';
	assert_int_equal(validate_deliver(&d, sizeof(d), 1, &why), -1);
	order_init(&d, 1, 0, "/v1");
	memset(d.idempotency_key, 'k', sizeof(d.idempotency_key));
	assert_int_equal(validate_deliver(&d, sizeof(d), 1, &why), -1);
	order_init(&d, 1, 0, "/v1");
	memset(d.headers, 'h', sizeof(d.headers));
	assert_int_equal(validate_deliver(&d, sizeof(d), 1, &why), -1);
	order_init(&d, 1, 0, "/v1");
	memset(d.ctype, 'c', sizeof(d.ctype));
	assert_int_equal(validate_deliver(&d, sizeof(d), 1, &why), -1);
}

/* ---- deliveries ---- */

static void
test_ok_request_bytes(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;
	const char		*body = "{\"amount_fen\":42}";
	char			 want[2048];
	uint8_t			 sha[32];

	spawn(fx, 0, NULL);
	order_init(&d, 7, 0, "/ok/v1/pain001?bank=gs");
	str_copy(d.ctype, sizeof(d.ctype), "application/xml; charset=GB18030");
	str_copy(d.idempotency_key, sizeof(d.idempotency_key), "DSB-2024-0001");
	str_copy(d.headers, sizeof(d.headers),
	    "Content-Digest: sha-256="
	    ":X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\r\n"
	    "Signature-Input: sig1=(\"content-digest\");keyid=\"gw-2024\"\r\n"
	    "Signature: sig1=:AAAA:\r\n");
	deliver(fx, &d, body, &r);
	assert_int_equal(r.outcome, DELIVERY_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.error, "");
	sha256_of("ok", 2, sha);
	assert_memory_equal(r.response_sha256, sha, 32);

	assert_int_equal(srv_nreqs(&fx->srv), 1);
	str_printf(want, sizeof(want),
	    "POST /ok/v1/pain001?bank=gs HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%u\r\n"
	    "Content-Type: application/xml; charset=GB18030\r\n"
	    "Content-Length: %zu\r\n"
	    "Idempotency-Key: \"DSB-2024-0001\"\r\n"
	    "Content-Digest: sha-256="
	    ":X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\r\n"
	    "Signature-Input: sig1=(\"content-digest\");keyid=\"gw-2024\"\r\n"
	    "Signature: sig1=:AAAA:\r\n"
	    "\r\n%s", (unsigned)fx->srv.port, strlen(body), body);
	assert_int_equal(fx->srv.reqs[0].len, strlen(want));
	assert_memory_equal(fx->srv.reqs[0].raw, want, strlen(want));
	/* Mutual TLS: the gateway's client certificate was shown. */
	assert_string_equal(fx->srv.reqs[0].cn, "gateway");
}

static void
test_keepalive(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;
	uint64_t		 seq;

	spawn(fx, 0, NULL);
	for (seq = 1; seq <= 3; seq++) {
		order_init(&d, seq, 0, "/ok");
		deliver(fx, &d, "{}", &r);
		assert_int_equal(r.outcome, DELIVERY_OK);
	}
	/* One connection, kept alive and reused. */
	assert_int_equal(srv_nconns(&fx->srv), 1);
	assert_int_equal(srv_nreqs(&fx->srv), 3);
	assert_int_equal(fx->srv.reqs[2].nth, 2);
	/* Empty body: Content-Length 0. */
	order_init(&d, 9, 0, "/ok");
	deliver(fx, &d, NULL, &r);
	assert_int_equal(r.outcome, DELIVERY_OK);
	assert_non_null(memmem(fx->srv.reqs[3].raw, fx->srv.reqs[3].len,
	    "\r\nContent-Length: 0\r\n", 21));
}

static void
test_status_outcomes(void **state)
{
	static const struct {
		int		status;
		uint32_t	outcome;
	} cases[] = {
		{ 200, DELIVERY_OK }, { 201, DELIVERY_OK },
		{ 202, DELIVERY_OK }, { 299, DELIVERY_OK },
		{ 503, DELIVERY_RETRY }, { 500, DELIVERY_RETRY },
		{ 502, DELIVERY_RETRY }, { 504, DELIVERY_RETRY },
		{ 408, DELIVERY_RETRY }, { 425, DELIVERY_RETRY },
		{ 429, DELIVERY_RETRY }, { 302, DELIVERY_RETRY },
		{ 422, DELIVERY_REFUSED }, { 400, DELIVERY_REFUSED },
		{ 401, DELIVERY_REFUSED }, { 403, DELIVERY_REFUSED },
		{ 404, DELIVERY_REFUSED }, { 409, DELIVERY_REFUSED },
		{ 413, DELIVERY_REFUSED },
	};
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;
	char			 path[32];
	uint8_t			 sha[32];
	size_t			 i;

	spawn(fx, 0, NULL);
	sha256_of("x", 1, sha);
	for (i = 0; i < nitems(cases); i++) {
		str_printf(path, sizeof(path), "/status/%d", cases[i].status);
		order_init(&d, 100 + i, 0, path);
		deliver(fx, &d, "{}", &r);
		if (r.outcome != cases[i].outcome)
			fail_msg("status %d: outcome %u (%s)", cases[i].status,
			    r.outcome, r.error);
		assert_int_equal(r.status, cases[i].status);
		assert_memory_equal(r.response_sha256, sha, 32);
		if (cases[i].outcome == DELIVERY_OK)
			assert_string_equal(r.error, "");
		else
			assert_true(r.error[0] != '\0');
	}
	/* Every answer was complete: one connection throughout. */
	assert_int_equal(srv_nconns(&fx->srv), 1);
}

static void
test_response_shapes(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;
	uint8_t			 sha[32], zero[32];

	spawn(fx, 0, NULL);
	memset(zero, 0, sizeof(zero));
	order_init(&d, 1, 0, "/chunked");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_OK);
	sha256_of("hello", 5, sha);
	assert_memory_equal(r.response_sha256, sha, 32);

	/* 100 Continue is skipped; the final answer counts. */
	order_init(&d, 2, 0, "/continue");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_OK);
	assert_int_equal(r.status, 201);

	/* Duplicate Content-Length: a malformed answer, try again later. */
	order_init(&d, 3, 0, "/garbage");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_RETRY);
	assert_non_null(strstr(r.error, "malformed response"));
	assert_memory_equal(r.response_sha256, zero, 32);

	/* A body over 1 MiB is not read to the end. */
	order_init(&d, 4, 0, "/big");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_RETRY);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.error, "1 MiB"));
}

static void
test_close_without_answer(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;

	spawn(fx, 0, NULL);
	order_init(&d, 5, 0, "/close");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_RETRY);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.error, "before any response"));
	/* A new connection is not tried again within the attempt. */
	assert_int_equal(srv_nreqs(&fx->srv), 1);
}

static void
test_nothing_listening(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;

	spawn(fx, 0, NULL);
	order_init(&d, 6, 1, "/ok");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_RETRY);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.error, "cannot connect"));
}

/* A pooled connection the upstream gave up on: the attempt goes on over a
 * new connection and succeeds. */
static void
test_stale_connection(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;

	spawn(fx, 0, NULL);
	order_init(&d, 1, 0, "/stale");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_OK);
	order_init(&d, 2, 0, "/stale");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_OK);
	assert_int_equal(srv_nconns(&fx->srv), 2);
	assert_int_equal(srv_nreqs(&fx->srv), 3);
	/* The same request, key included, on both connections. */
	assert_int_equal(fx->srv.reqs[1].len, fx->srv.reqs[2].len);
	assert_memory_equal(fx->srv.reqs[1].raw, fx->srv.reqs[2].raw,
	    fx->srv.reqs[1].len);
	assert_int_equal(fx->srv.reqs[2].nth, 0);
}

static void
test_deadline(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;

	if (!fx->certs)
		skip();
	fx->cf->upstreams[0].timeout_ms = 300;
	spawn(fx, 0, NULL);
	order_init(&d, 1, 0, "/hang");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_RETRY);
	assert_int_equal(r.status, 0);
	/* libevent's coarse clock may fire a tick before now_ms() says. */
	assert_true(r.duration_ms >= 290);
	assert_true(r.duration_ms < 5000);
	assert_non_null(strstr(r.error, "300 ms"));
}

/* Several orders at once: one upstream's are delivered one after the other,
 * in order (a hanging one holds those behind it), while another upstream's
 * go on meanwhile; each is answered exactly once. */
static void
test_in_order_per_upstream(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;
	struct ipc_hdr		 h;
	struct pollfd		 pfd;
	unsigned		 seen = 0;
	uint64_t		 seq, last = 0;

	spawn(fx, 0, NULL);
	for (seq = 1; seq <= 8; seq++) {
		order_init(&d, seq, seq == 8 ? 1 : 0, seq == 3 ? "/hang" :
		    "/ok");
		d.epoch = 1;
		send_order(fx, seq, &d, "{}");
	}
	/* 1 and 2 in that order; 8 (the other upstream) whenever. */
	for (seq = 1; seq <= 3; seq++) {
		recv_result(fx, &h, &r);
		assert_int_equal(h.id, r.seq);
		assert_true(r.seq == 1 || r.seq == 2 || r.seq == 8);
		assert_false(seen & (1U << r.seq));
		seen |= 1U << r.seq;
		if (r.seq != 8) {
			assert_true(r.seq > last);
			last = r.seq;
		}
		assert_int_equal(r.outcome, r.seq == 8 ? DELIVERY_RETRY :
		    DELIVERY_OK);
	}
	/* 4 to 7 wait behind the hanging 3. */
	pfd.fd = fx->sock;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 300), 0);
	/* Closing the channel ends them all; the courier exits 0. */
	close(fx->sock);
	fx->sock = -1;
	assert_true(exited_with(child_wait(fx, 3000), 0));
}

/* A failure skips what its upstream had queued behind it in its epoch (the
 * keeper sends those again after the failed row), and every later order of
 * that epoch; an order of a newer epoch is delivered. */
static void
test_skip_after_failure(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;
	struct ipc_hdr		 h;
	uint64_t		 seq;

	spawn(fx, 0, NULL);
	for (seq = 1; seq <= 3; seq++) {
		order_init(&d, seq, 0, seq == 1 ? "/status/503" : "/ok");
		d.epoch = 7;
		send_order(fx, seq, &d, "{}");
	}
	recv_result(fx, &h, &r);
	assert_int_equal(r.seq, 1);
	assert_int_equal(r.outcome, DELIVERY_RETRY);
	for (seq = 2; seq <= 3; seq++) {
		recv_result(fx, &h, &r);
		assert_int_equal(r.seq, seq);
		assert_int_equal(r.outcome, DELIVERY_SKIPPED);
		assert_int_equal(r.status, 0);
	}
	/* Late orders of the failed epoch are skipped too. */
	order_init(&d, 4, 0, "/ok");
	d.epoch = 7;
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_SKIPPED);
	/* The keeper's next epoch: the failed row first, then the others. */
	for (seq = 1; seq <= 3; seq++) {
		order_init(&d, seq, 0, "/ok");
		d.epoch = 8;
		deliver(fx, &d, "{}", &r);
		assert_int_equal(r.seq, seq);
		assert_int_equal(r.outcome, DELIVERY_OK);
	}
	/* Only the failed one and the new epoch reached the server. */
	assert_int_equal(srv_nreqs(&fx->srv), 4);
}

static void
test_malformed_orders(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;

	spawn(fx, 0, NULL);
	order_init(&d, 1, 0, "/ok");
	str_copy(d.headers, sizeof(d.headers), "X-A: 1\nX-B: 2\r\n");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_REFUSED);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.error, "malformed delivery");

	order_init(&d, 2, 2, "/ok");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_REFUSED);
	assert_string_equal(r.error, "malformed delivery");

	order_init(&d, 3, 0, "/ok HTTP/1.1\r\nX: y");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_REFUSED);

	order_init(&d, 4, 0, "/ok");
	str_copy(d.idempotency_key, sizeof(d.idempotency_key), "a\"b");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_REFUSED);

	order_init(&d, 5, 0, "/ok");
	memset(d.ctype, 'a', sizeof(d.ctype));
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_REFUSED);

	/* Nothing reached the upstream; the courier carries on. */
	assert_int_equal(srv_nconns(&fx->srv), 0);
	order_init(&d, 6, 0, "/ok");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_OK);
	assert_int_equal(srv_nreqs(&fx->srv), 1);
}

/* A message no answer can be given to: the courier exits non-zero. */
static void
test_short_order_exits(void **state)
{
	struct fx	*fx = *state;
	uint64_t	 seq = 1;

	spawn(fx, 0, NULL);
	send_raw(fx, IPC_DELIVER, 1, &seq, sizeof(seq), NULL, 0);
	assert_true(exited_with(child_wait(fx, 5000), 1));
}

static void
test_wrong_type_exits(void **state)
{
	struct fx		*fx = *state;
	struct ipc_appended	 a;

	spawn(fx, 0, NULL);
	memset(&a, 0, sizeof(a));
	send_raw(fx, IPC_APPENDED, 1, &a, sizeof(a), NULL, 0);
	assert_true(exited_with(child_wait(fx, 5000), 1));
}

static void
test_bad_framing_exits(void **state)
{
	struct fx	*fx = *state;
	struct ipc_hdr	 h;

	spawn(fx, 0, NULL);
	memset(&h, 0, sizeof(h));
	h.version = IPC_VERSION + 1;
	h.type = IPC_DELIVER;
	write_all(fx->sock, &h, sizeof(h));
	assert_true(exited_with(child_wait(fx, 5000), 1));
}

static void
test_channel_closed_exits_zero(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;

	spawn(fx, 0, NULL);
	order_init(&d, 1, 0, "/ok");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_OK);
	close(fx->sock);
	fx->sock = -1;
	assert_true(exited_with(child_wait(fx, 5000), 0));
}

static void
test_sigterm_exits_zero(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;

	spawn(fx, 0, NULL);
	order_init(&d, 1, 0, "/hang");
	send_order(fx, 1, &d, "{}");
	/* Until the request is at the server, the delivery is in flight. */
	while (srv_nreqs(&fx->srv) == 0)
		usleep(10000);
	assert_int_equal(kill(fx->child, SIGTERM), 0);
	assert_true(exited_with(child_wait(fx, 3000), 0));
}

/* The real sandbox (seccomp and Landlock): deliveries still work. */
static void
test_sandboxed(void **state)
{
	struct fx		*fx = *state;
	struct ipc_deliver	 d;
	struct ipc_delivered	 r;

	spawn(fx, 1, NULL);
	order_init(&d, 1, 0, "/ok");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_OK);
	order_init(&d, 2, 1, "/ok");
	deliver(fx, &d, "{}", &r);
	assert_int_equal(r.outcome, DELIVERY_RETRY);
	close(fx->sock);
	fx->sock = -1;
	assert_true(exited_with(child_wait(fx, 5000), 0));
}

/* What the sandbox forbids kills the courier (SIGSYS; sanitizer builds
 * trap and exit 159). */
static void
probe(struct fx *fx, const char *what)
{
	int	status;

	spawn(fx, 1, what);
	status = child_wait(fx, 5000);
	assert_true(status != -1);
	if (!((WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) ||
	    exited_with(status, 159)))
		fail_msg("probe %s: wait status %#x", what, status);
}

static void
test_sandbox_open(void **state)
{
	probe(*state, "open");
}

static void
test_sandbox_exec(void **state)
{
	probe(*state, "exec");
}

static void
test_sandbox_unix_socket(void **state)
{
	probe(*state, "unix-socket");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_validate_framing),
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_ok_request_bytes),
		T(test_keepalive),
		T(test_status_outcomes),
		T(test_response_shapes),
		T(test_close_without_answer),
		T(test_nothing_listening),
		T(test_stale_connection),
		T(test_deadline),
		T(test_in_order_per_upstream),
		T(test_skip_after_failure),
		T(test_malformed_orders),
		T(test_short_order_exits),
		T(test_wrong_type_exits),
		T(test_bad_framing_exits),
		T(test_channel_closed_exits_zero),
		T(test_sigterm_exits_zero),
		T(test_sandboxed),
		T(test_sandbox_open),
		T(test_sandbox_exec),
		T(test_sandbox_unix_socket),
#undef T
	};

	/* The test server writes to connections the courier may have closed. */
	signal(SIGPIPE, SIG_IGN);
	log_init("test_courier", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
