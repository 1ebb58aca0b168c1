/* URL handling for the load generator: only https://host[:port]/path, since
 * every target speaks mutual TLS. Resolution happens once, before the clock starts. */
#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "loadgen_url.h"

int
loadgen_url_parse(struct loadgen_opts *o, const char *url)
{
	static const char	 scheme[] = "https://";
	const char		*p, *hend, *pstart, *path;
	unsigned char		 ip[16];
	uint64_t		 port;
	size_t			 hlen;
	char			 portbuf[8];

	if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
		log_warnx("%s: url must start with https://", __func__);
		return -1;
	}
	p = url + sizeof(scheme) - 1;
	path = strchr(p, '/');
	if (path == NULL)
		path = p + strlen(p);
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(path - p));
		if (hend == NULL) {
			log_warnx("%s: unterminated [IPv6] host", __func__);
			return -1;
		}
		p++;
		pstart = hend + 1;
	} else {
		hend = memchr(p, ':', (size_t)(path - p));
		if (hend == NULL)
			hend = path;
		pstart = hend;
	}
	hlen = (size_t)(hend - p);
	if (hlen == 0 || hlen >= sizeof(o->host)) {
		log_warnx("%s: bad host length", __func__);
		return -1;
	}
	memcpy(o->host, p, hlen);
	o->host[hlen] = '\0';
	if (pstart < path) {
		if (*pstart != ':' || (size_t)(path - pstart - 1) >= sizeof(portbuf)) {
			log_warnx("%s: bad port", __func__);
			return -1;
		}
		memcpy(portbuf, pstart + 1, (size_t)(path - pstart - 1));
		portbuf[path - pstart - 1] = '\0';
		if (parse_u64(portbuf, 1, 65535, &port) == -1) {
			log_warnx("%s: bad port '%s'", __func__, portbuf);
			return -1;
		}
	} else
		port = 443;
	if (str_printf(o->port, sizeof(o->port), "%u", (unsigned)port) == -1)
		return -1;
	if (str_copy(o->path, sizeof(o->path), *path == '\0' ? "/" : path) == -1) {
		log_warnx("%s: path too long", __func__);
		return -1;
	}
	if (strpbrk(o->path, " \t\r\n") != NULL) {
		log_warnx("%s: path contains blanks or line breaks", __func__);
		return -1;
	}
	o->host_is_ip = inet_pton(AF_INET, o->host, ip) == 1 ||
	    inet_pton(AF_INET6, o->host, ip) == 1;
	/* RFC 9110 7.2: Host is host[:port], with the port only when not default. */
	if (str_printf(o->host_header, sizeof(o->host_header), "%s%s%s%s%s",
	    strchr(o->host, ':') != NULL ? "[" : "", o->host,
	    strchr(o->host, ':') != NULL ? "]" : "", port == 443 ? "" : ":",
	    port == 443 ? "" : o->port) == -1) {
		log_warnx("%s: host too long", __func__);
		return -1;
	}
	return 0;
}

int
loadgen_url_resolve(struct loadgen_opts *o)
{
	struct addrinfo	 hints, *res;
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(o->host, o->port, &hints, &res);
	if (rc != 0) {
		log_warnx("%s: %s:%s: %s", __func__, o->host, o->port, gai_strerror(rc));
		return -1;
	}
	/* The first address only: a benchmark must hit one fixed endpoint. */
	if (res->ai_addrlen > sizeof(o->addr)) {
		freeaddrinfo(res);
		log_warnx("%s: address too long", __func__);
		return -1;
	}
	memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
	o->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
