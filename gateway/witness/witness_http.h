/* witnessd's HTTPS front: mutual TLS, one request at a time per connection,
 * every wait bounded (a deadline per request, a body limit). */
#ifndef GW_WITNESS_HTTP_H
#define GW_WITNESS_HTTP_H

struct event_base;
struct witness;
struct witness_http;

/* Listens on the configured address; NULL (logged) on failure. */
struct witness_http	*witness_http_start(struct event_base *, struct witness *);
void			 witness_http_stop(struct witness_http *);

#endif
