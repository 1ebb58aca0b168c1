/* The courier's check of an IPC_DELIVER from the keeper: everything that goes
 * into the request head must be proven well-formed before it is written. */
#ifndef GW_COURIER_VALIDATE_H
#define GW_COURIER_VALIDATE_H

#include <stddef.h>

/* Checks one IPC_DELIVER payload: msg (len bytes) is a struct ipc_deliver
 * followed by the body. 0 if every field is usable as is, else -1 with *why
 * set to a static text saying which rule failed. */
int	validate_deliver(const void *msg, size_t len, size_t nupstreams,
	    const char **why);

#endif
