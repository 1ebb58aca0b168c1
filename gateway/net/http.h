/* Strict HTTP/1.1 messages: llhttp (no lenient flags) plus the checks llhttp
 * leaves to us, header storage with limits, and header hygiene for proxying. */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "llhttp.h"

struct evbuffer;

struct http_header {
	uint32_t	name_off, name_len;
	uint32_t	value_off, value_len;
};

/* What went wrong with a message, for the error response. */
struct http_error {
	int		 status;	/* 400, 413, 431, ... */
	const char	*code;		/* machine-readable reason */
	const char	*detail;	/* human-readable */
};

struct http_msg;

/* Callbacks into the owner (a relay connection or an upstream exchange).
 * on_head: the head is complete and checked; 0 to go on, -1 to fail (the
 * callback sets err with http_msg_fail). on_body: a piece of body; 0 or -1.
 * on_done: message complete; parsing always pauses after it, so pipelined
 * messages wait their turn until http_msg_resume. */
struct http_cbs {
	int	(*on_head)(struct http_msg *, void *arg);
	int	(*on_body)(struct http_msg *, const char *, size_t, void *arg);
	int	(*on_done)(struct http_msg *, void *arg);
};

enum http_scan_state {
	SCAN_LINE_START, SCAN_IN_LINE, SCAN_CR, SCAN_CR_EMPTY, SCAN_DONE
};

struct http_msg {
	llhttp_t		 parser;
	const struct http_cbs	*cbs;
	void			*arg;
	int			 is_request;

	/* Limits. */
	size_t			 max_head;
	size_t			 max_headers;
	uint64_t		 max_body;

	/* Head storage: url, names and values, at most max_head bytes. */
	char			*buf;
	size_t			 buflen;
	struct http_header	*hdrs;
	size_t			 nhdrs;
	uint32_t		 url_off, url_len;
	int			 in_value;

	/* Our own scan of the raw head, ahead of llhttp. */
	enum http_scan_state	 scan;
	int			 scan_seen_line;	/* a start line was read */
	unsigned char		 scan_prev;		/* last byte scanned */
	size_t			 head_bytes;

	/* Parsed facts. */
	int			 started;	/* a byte of this message seen */
	int			 head_done;
	int			 done;
	int			 paused;
	int			 method;	/* llhttp_method_t */
	int			 status;	/* responses */
	int			 major, minor;
	int			 chunked;
	int			 has_length;
	uint64_t		 content_length;
	uint64_t		 body_bytes;
	int			 keep_alive;
	int			 expect_continue;
	int			 head_request;	/* answers a HEAD: no body, 1xx or not */
	int			 in_trailer;	/* scanning the trailer section */
	int			 trailer_pause;
	size_t			 chunk_ext_bytes;

	struct http_error	 err;
};

/* Prepares msg for a request (is_request 1) or response stream. Allocates
 * the head buffer (max_head bytes); release with http_msg_free. */
int	http_msg_init(struct http_msg *, int is_request, size_t max_head,
	    size_t max_headers, uint64_t max_body, const struct http_cbs *,
	    void *arg);
void	http_msg_free(struct http_msg *);

enum http_feed {
	HTTP_FEED_OK,		/* all bytes consumed */
	HTTP_FEED_PAUSED,	/* *used bytes consumed; resume later */
	HTTP_FEED_ERROR		/* msg->err says why; drop the connection */
};
/* Parses up to len bytes; *used says how many were consumed. */
enum http_feed	http_msg_feed(struct http_msg *, const char *, size_t,
		    size_t *used);
/* The peer closed: completes a read-until-close body. 0 or -1. */
int	http_msg_eof(struct http_msg *);
/* Resumes after the pause at the end of a message, ready for the next. */
void	http_msg_resume(struct http_msg *);
/* Records why the message is refused (the first reason wins). */
void	http_msg_fail(struct http_msg *, int status, const char *code,
	    const char *detail);

/* First value of a header (case-insensitive name) or NULL; *len set. */
const char	*http_msg_header(const struct http_msg *, const char *name,
		    size_t *len);
size_t		 http_msg_header_count(const struct http_msg *, const char *);
const char	*http_msg_url(const struct http_msg *, size_t *len);
const char	*http_msg_method_name(const struct http_msg *);
/* Header i's name and value. */
void		 http_msg_header_at(const struct http_msg *, size_t i,
		    const char **name, size_t *nlen, const char **val,
		    size_t *vlen);
/* Whether header i must not be forwarded: hop-by-hop (RFC 9110 §7.6.1, and
 * every header named in Connection), framing (we re-frame), or a header only
 * the gateway may set (X-Gateway-*, Forwarded, X-Forwarded-*, X-Real-IP). */
int		 http_msg_header_dropped(const struct http_msg *, size_t i);
/* Writes every forwardable header as "Name: value\r\n" to out. */
int		 http_msg_write_headers(const struct http_msg *,
		    struct evbuffer *out);

/* A parameter of a media type (RFC 9110 §5.6.6: "type/sub; name=value",
 * value a token or a quoted string): 1 with the value's span (quotes off,
 * backslash escapes left as they are), 0 if absent, -1 if the parameters
 * are malformed. Names are matched without case. */
int		 http_media_param(const char *v, size_t len, const char *name,
		    const char **val, size_t *vlen);

const char	*http_reason(int status);
/* Appends a complete JSON error response:
 * {"error": detail, "code": code, "request_id": rid}. Adds
 * Connection: close when close is set and Retry-After when retry > 0. */
int		 http_write_error(struct evbuffer *, int status, const char *code,
		    const char *detail, const char *rid, int close, int retry);
/* Appends a complete response with the given type and body (len bytes; a
 * NULL body sends the head alone, as for HEAD), with Connection: close when
 * close is set, Retry-After when retry > 0, and the extra header lines
 * (each ending in CRLF) if not NULL. */
int		 http_write_simple(struct evbuffer *, int status,
		    const char *ctype, const char *body, size_t len,
		    const char *rid, int close, int retry, const char *extra);
/* The JSON error body into dst; its length, or -1 if it did not fit. */
int		 http_error_body(char *dst, size_t dsz, const char *code,
		    const char *detail, const char *rid);

#endif
