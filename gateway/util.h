/* Small bounded helpers shared by every role: strings, numbers, hex, JSON escaping. */
#ifndef GW_UTIL_H
#define GW_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Copies src into dst (size dsz), always NUL-terminated. Returns 0, or -1 if
 * src did not fit (dst then holds a truncated copy). */
int	str_copy(char *dst, size_t dsz, const char *src);
/* Appends like strlcat; returns 0, or -1 on truncation. */
int	str_append(char *dst, size_t dsz, const char *src);
/* snprintf that reports truncation: 0 on success, -1 if it did not fit. */
int	str_printf(char *dst, size_t dsz, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Case-insensitive equality of a counted string and a C string. */
int	str_ieq(const char *a, size_t alen, const char *b);
/* Trims ASCII blanks at both ends in place; returns s. */
char	*str_trim(char *s);

/* Parses a whole decimal string into [min, max]. 0 on success, -1 otherwise
 * (empty, sign, junk, overflow, out of range). */
int	parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parses "250ms", "10s", "2m", "1h" or a bare number of seconds into
 * milliseconds, at most max_ms. 0 on success, -1 otherwise. */
int	parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *out);

/* Lower-case hex of len bytes into dst (needs 2*len+1). */
void	hex_encode(char *dst, const unsigned char *src, size_t len);
/* Decodes exactly outlen bytes from hex (either case); 0 or -1. */
int	hex_decode(unsigned char *out, size_t outlen, const char *hex);

/* Escapes src as the inside of a JSON string into dst (size dsz), truncating
 * cleanly; control characters become \u00XX. Returns dst. */
char	*json_escape(char *dst, size_t dsz, const char *src);

/* fsyncs the folder that holds path, so that a name created or renamed in it
 * survives a power cut. 0, or -1 with the reason logged. */
int	fsync_dir(const char *path);

/* Monotonic clock in milliseconds, and in microseconds. */
uint64_t	now_ms(void);
uint64_t	now_us(void);
/* Milliseconds since the epoch (wall clock): for times that are stored and
 * must mean the same after a reboot. */
uint64_t	wall_ms(void);

#endif
