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
/* --body-template: files per run, their size, {{ID}} per file, and the id
 * prefix. An id is PREFIX-CCCC-SSSSSSSSSSSS (connection in hex, sequence in
 * decimal): with a 16-character prefix that is 34 characters, inside the
 * gateway's 35-character id limit. */
#define LOADGEN_MAX_TEMPLATES	8
#define LOADGEN_MAX_TEMPLATE	(1024u * 1024)
#define LOADGEN_MAX_IDS		16
#define LOADGEN_ID_PREFIX_MAX	16
#define LOADGEN_ID_LEN_MAX	(LOADGEN_ID_PREFIX_MAX + 18)

/* One --body-template: a body file whose {{ID}} placeholders are replaced by
 * a fresh id in every request, sent to its own path with its own client
 * certificate (each defaults to the run's). With vary=FILE, its {{VAR}}
 * placeholders take the lines of FILE in turn, for fields that must differ
 * between requests but cannot be made up (a city and a month, say). */
struct loadgen_template {
	char			 spec[4096];	/* the argument, split in place */
	const char		*file;
	const char		*path;		/* NULL: the URL's path */
	const char		*cert;		/* NULL: --cert */
	const char		*key;		/* NULL: --key */
	const char		*ctype;		/* NULL: --content-type */
	const char		*vary;		/* values for {{VAR}}, or NULL */
};

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
	uint64_t		 warmup_ms;	/* --warmup: first part of -d, not counted */
	uint64_t		 timeout_ms;
	int			 new_conn;
	int			 json;
	int			 help;		/* -h: usage on stdout, exit 0 */
	const char		*method;
	uint64_t		 body_bytes;
	const char		*headers[LOADGEN_MAX_HEADERS];
	size_t			 nheaders;
	const char		*ctype;		/* --content-type */
	unsigned		 expect;	/* --expect: 0 is any 2xx */
	uint64_t		 rate;		/* --rate: 0 is unpaced */
	uint64_t		 pace_us;	/* --rate: one connection's interval */
	char			 id_prefix[LOADGEN_ID_PREFIX_MAX + 1];
	size_t			 id_len;	/* length of every generated id */
	struct loadgen_template	 tpl[LOADGEN_MAX_TEMPLATES];
	size_t			 ntpl;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
};

/* Fills o from argv and resolves the URL's address. 0, or -1 after logging. */
int	loadgen_opts_parse(struct loadgen_opts *o, int argc, char **argv);
void	loadgen_opts_usage(FILE *fp);

#endif
