/* Agency identity: the verified client certificate's SPKI SHA-256, pinned to
 * exactly one configured agency. */
#ifndef GW_IDENTITY_H
#define GW_IDENTITY_H

struct config;
typedef struct ssl_st SSL;

/* 1 if spki is one of pins[0..npins), else 0. Constant-time compares. */
int	identity_pinned(const unsigned char pins[][32], int npins,
	    const unsigned char spki[32]);
/* The verified peer certificate's SPKI SHA-256 of a completed handshake
 * (resumed sessions re-verified against the current CA and CRL first): 0, or
 * -1 if there is none or it no longer verifies. */
int	identity_peer_spki(SSL *, unsigned char spki[32]);
/* Index of the agency whose pin equals spki, or -1. Constant-time compares. */
int	identity_lookup(const struct config *, const unsigned char spki[32]);
/* Index of the agency behind a completed handshake, or -1 if the peer
 * certificate is missing or pinned to no agency. Resumed sessions are
 * re-verified against the current CA and CRL first. */
int	identity_of_ssl(const struct config *, SSL *);

#endif
