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
/* The same for object v with one more member, key, whose value is raw
 * (rawlen bytes): JSON already in canonical form (jcs_serialize's output,
 * or bytes checked to be it), copied as they are rather than parsed and
 * serialized again. v must not hold key. 0 or -1. */
int	jcs_serialize_with(const json_t *v, const char *key, const char *raw,
	    size_t rawlen, char **out, size_t *len);

#endif
