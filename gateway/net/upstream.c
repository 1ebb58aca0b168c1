/* Pooled keep-alive mutual-TLS connections to one upstream. The upstream's
 * certificate and host name are verified, and our client certificate shown. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "log.h"
#include "net/upstream.h"

struct upstream_pool *
upstream_pool_new(struct event_base *base, const struct cfg_upstream *cf,
    SSL_CTX *ctx)
{
	struct upstream_pool	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("%s: calloc", __func__);
		return NULL;
	}
	p->base = base;
	p->cf = cf;
	p->ctx = ctx;
	TAILQ_INIT(&p->idle);
	return p;
}

static void
upstream_conn_free(struct upstream_conn *uc)
{
	SSL	*ssl;

	if (uc->bev != NULL) {
		ssl = bufferevent_openssl_get_ssl(uc->bev);
		if (ssl != NULL && uc->connected)
			SSL_set_shutdown(ssl, SSL_RECEIVED_SHUTDOWN);
		bufferevent_free(uc->bev);
	}
	free(uc);
}

void
upstream_pool_free(struct upstream_pool *p)
{
	struct upstream_conn	*uc;

	if (p == NULL)
		return;
	while ((uc = TAILQ_FIRST(&p->idle)) != NULL) {
		TAILQ_REMOVE(&p->idle, uc, entry);
		upstream_conn_free(uc);
	}
	free(p);
}

/* Anything from an idle connection (data, EOF, error, idle timeout) ends it. */
static void
upstream_idle_read(struct bufferevent *bev, void *arg)
{
	struct upstream_conn	*uc = arg;

	TAILQ_REMOVE(&uc->pool->idle, uc, entry);
	uc->pool->nidle--;
	upstream_conn_free(uc);
}

static void
upstream_idle_event(struct bufferevent *bev, short what, void *arg)
{
	upstream_idle_read(bev, arg);
}

static struct upstream_conn *
upstream_connect(struct upstream_pool *p)
{
	struct upstream_conn	*uc;
	SSL			*ssl;
	struct timeval		 tv;
	struct sockaddr_storage	 ss;
	int			 fd, one = 1;

	if ((uc = calloc(1, sizeof(*uc))) == NULL) {
		log_warn("%s: calloc", __func__);
		return NULL;
	}
	uc->pool = p;
	if ((ssl = SSL_new(p->ctx)) == NULL) {
		log_warnx("%s: SSL_new failed", __func__);
		free(uc);
		return NULL;
	}
	/* Verify the upstream's name (or address) and send SNI for names. */
	if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), p->cf->host) != 1) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(ssl, p->cf->host) != 1 ||
		    SSL_set_tlsext_host_name(ssl, p->cf->host) != 1) {
			log_warnx("%s: cannot set host name %s", __func__,
			    p->cf->host);
			SSL_free(ssl);
			free(uc);
			return NULL;
		}
	}
	if ((fd = socket(p->cf->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("%s: socket", __func__);
		SSL_free(ssl);
		free(uc);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	uc->bev = bufferevent_openssl_socket_new(p->base, fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (uc->bev == NULL) {
		log_warnx("%s: bufferevent_openssl_socket_new failed", __func__);
		SSL_free(ssl);
		close(fd);
		free(uc);
		return NULL;
	}
	tv.tv_sec = (time_t)(p->cf->connect_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(p->cf->connect_timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(uc->bev, &tv, &tv);
	/* libevent wants a mutable address: hand it a copy. */
	ss = p->cf->addr;
	if (bufferevent_socket_connect(uc->bev, (struct sockaddr *)&ss,
	    (int)p->cf->addrlen) == -1) {
		log_warn("%s: connect %s", __func__, p->cf->name);
		upstream_conn_free(uc);
		return NULL;
	}
	p->connects++;
	return uc;
}

struct upstream_conn *
upstream_get(struct upstream_pool *p)
{
	struct upstream_conn	*uc;

	if ((uc = TAILQ_FIRST(&p->idle)) == NULL)
		return upstream_get_new(p);
	TAILQ_REMOVE(&p->idle, uc, entry);
	p->nidle--;
	uc->reused = 1;
	p->nbusy++;
	return uc;
}

struct upstream_conn *
upstream_get_new(struct upstream_pool *p)
{
	struct upstream_conn	*uc;

	if ((uc = upstream_connect(p)) == NULL)
		return NULL;
	p->nbusy++;
	return uc;
}

struct upstream_conn *
upstream_get_fresh(struct upstream_pool *p)
{
	struct upstream_conn	*uc;

	/* The idle list gives the newest connection first. When that one
	 * was dead, the peer restarted or drops idle connections sooner than
	 * we do, so the older ones are dead too. */
	while ((uc = TAILQ_FIRST(&p->idle)) != NULL) {
		TAILQ_REMOVE(&p->idle, uc, entry);
		p->nidle--;
		upstream_conn_free(uc);
	}
	return upstream_get_new(p);
}

void
upstream_release(struct upstream_conn *uc, int reusable)
{
	struct upstream_pool	*p = uc->pool;
	uint64_t		 ms = p->cf->idle_timeout_ms;
	struct timeval		 tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	p->nbusy--;
	if (!reusable || !uc->connected || p->nidle >= p->cf->pool ||
	    ms == 0 ||
	    evbuffer_get_length(bufferevent_get_input(uc->bev)) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(uc->bev)) > 0) {
		upstream_conn_free(uc);
		return;
	}
	bufferevent_setcb(uc->bev, upstream_idle_read, NULL,
	    upstream_idle_event, uc);
	bufferevent_set_timeouts(uc->bev, &tv, NULL);
	bufferevent_enable(uc->bev, EV_READ);
	bufferevent_disable(uc->bev, EV_WRITE);
	TAILQ_INSERT_HEAD(&p->idle, uc, entry);
	p->nidle++;
}
