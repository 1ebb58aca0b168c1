/* Command line of the load generator: what to hit, how hard, and with which
 * TLS material. */
#ifndef LOADGEN_OPTS_H
#define LOADGEN_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define LOADGEN_MAX_HEADERS	32
#define LOADGEN_MAX_CONNS	10000
#define LOADGEN_MAX_THREADS	64
#define LOADGEN_MAX_BODY	(64u * 1024 * 1024)

struct loadgen_opts {
	const char		*url;
	char			 host[256];	/* from the URL, IPv6 without brackets */
	char			 port[8];
	char			 path[2048];
	char			 host_header[300];	/* host[:port] as sent */
	const char		*sni;		/* --sni: name verified and sent */
	int			 host_is_ip;
	const char		*cert;
	const char		*key;
	const char		*ca;
	unsigned		 conns;
	unsigned		 threads;
	uint64_t		 duration_ms;
	uint64_t		 timeout_ms;
	int			 new_conn;
	int			 json;
	int			 help;		/* -h: usage on stdout, exit 0 */
	const char		*method;
	uint64_t		 body_bytes;
	const char		*headers[LOADGEN_MAX_HEADERS];
	size_t			 nheaders;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
};

/* Fills o from argv and resolves the URL's address. 0, or -1 after logging. */
int	loadgen_opts_parse(struct loadgen_opts *o, int argc, char **argv);
void	loadgen_opts_usage(FILE *fp);

#endif
