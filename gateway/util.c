/* Small bounded helpers shared by every role. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

int
str_copy(char *dst, size_t dsz, const char *src)
{
	size_t	n = strlen(src);

	if (dsz == 0)
		return -1;
	if (n >= dsz) {
		memcpy(dst, src, dsz - 1);
		dst[dsz - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int
str_append(char *dst, size_t dsz, const char *src)
{
	size_t	n = strnlen(dst, dsz);

	if (n >= dsz)
		return -1;
	return str_copy(dst + n, dsz - n, src);
}

int
str_printf(char *dst, size_t dsz, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(dst, dsz, fmt, ap);
	va_end(ap);
	return (n < 0 || (size_t)n >= dsz) ? -1 : 0;
}

int
str_ieq(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

char *
str_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long	 v;
	char			*end;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *out)
{
	char			 num[32];
	const char		*unit;
	uint64_t		 v, mul;
	size_t			 n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	unit = s + n;
	if (*unit == '\0' || strcmp(unit, "s") == 0)
		mul = 1000;
	else if (strcmp(unit, "ms") == 0)
		mul = 1;
	else if (strcmp(unit, "m") == 0)
		mul = 60000;
	else if (strcmp(unit, "h") == 0)
		mul = 3600000;
	else
		return -1;
	if (parse_u64(num, 0, max_ms / mul, &v) == -1)
		return -1;
	*out = v * mul;
	return 0;
}

void
hex_encode(char *dst, const unsigned char *src, size_t len)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < len; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 0xf];
	}
	dst[2 * len] = '\0';
}

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(unsigned char *out, size_t outlen, const char *hex)
{
	size_t	i;
	int	hi, lo;

	if (strlen(hex) != 2 * outlen)
		return -1;
	for (i = 0; i < outlen; i++) {
		if ((hi = hex_nibble(hex[2 * i])) < 0 ||
		    (lo = hex_nibble(hex[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

char *
json_escape(char *dst, size_t dsz, const char *src)
{
	size_t		 o = 0;
	const unsigned char *p;
	char		 tmp[8];
	const char	*rep;
	size_t		 rl;

	if (dsz == 0)
		return dst;
	for (p = (const unsigned char *)src; *p != '\0'; p++) {
		rep = tmp;
		switch (*p) {
		case '"':  rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
			else {
				tmp[0] = (char)*p;
				tmp[1] = '\0';
			}
		}
		rl = strlen(rep);
		if (o + rl >= dsz)
			break;
		memcpy(dst + o, rep, rl);
		o += rl;
	}
	dst[o] = '\0';
	return dst;
}

int
fsync_dir(const char *path)
{
	char	dir[4096];
	int	fd, rc = 0;

	if (str_copy(dir, sizeof(dir), path) == -1) {
		log_warnx("%s: path too long: %s", __func__, path);
		return -1;
	}
	if ((fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("%s: %s", __func__, dir);
		return -1;
	}
	if (fsync(fd) == -1) {
		log_warn("%s: fsync %s", __func__, dir);
		rc = -1;
	}
	if (close(fd) == -1 && rc == 0) {
		log_warn("%s: close %s", __func__, dir);
		rc = -1;
	}
	return rc;
}

uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
