/* RFC 8785 JSON Canonicalization Scheme over jansson values: the byte form
 * that is hashed, signed and logged. */
#ifndef GW_JCS_H
#define GW_JCS_H

#include <stddef.h>

#include <jansson.h>

/* Serializes v canonically into a new buffer (*out, NUL-terminated, *len
 * bytes without the NUL); the caller frees *out. Refuses reals (amounts are
 * integers here) and integers beyond 2^53 (not exact in I-JSON). 0 or -1. */
int	jcs_serialize(const json_t *v, char **out, size_t *len);

#endif
