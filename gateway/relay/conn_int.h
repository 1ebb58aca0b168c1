/* What the files of a client connection (conn.c, conn_timer.c,
 * conn_admit.c) share; the rest of the relay uses relay.h. */
#ifndef GW_CONN_INT_H
#define GW_CONN_INT_H

#include <stdint.h>

#include <event2/util.h>

#include "metrics.h"
#include "relay/relay.h"

/* conn.c */
void	conn_set_state(struct relay_conn *, enum conn_state);

/* conn_timer.c: deadlines. */
void	conn_arm(struct relay_conn *, uint64_t ms);
uint64_t conn_wait_ms(const struct relay_conn *);
void	conn_send_timeout(struct relay_conn *);
/* The client took nothing of its answer for send_timeout. */
void	conn_send_timed_out(struct relay_conn *);
void	conn_timer_cb(evutil_socket_t, short, void *);

/* conn_admit.c: handshake budget, caps, lingering close. */
void	conn_refused(struct relay *, enum listener_kind,
	    enum metrics_conn_refusal);
int	conn_handshake_admit(struct relay *, const char *peer);
void	conn_handshake_leave(struct relay_conn *);
void	conn_uncount(struct relay_conn *);
/* The TLS handshake succeeded: count the connection under the caps. */
void	conn_handshake_done(struct relay_conn *);
void	conn_linger(struct relay_conn *);

#endif
