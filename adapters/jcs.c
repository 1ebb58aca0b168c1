/* RFC 8785 canonical JSON: object members sorted by the UTF-16 code units of
 * their names, no insignificant whitespace, minimal string escapes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/jcs.h"
#include "log.h"

#define JCS_MAX_DEPTH	64
#define JCS_MAX_OUT	(16 * 1024 * 1024)

struct jcs_buf {
	char		*p;
	size_t		 len, cap;
	int		 failed;
	/* jcs_serialize_with: one more member of the outer object, whose
	 * value is copied as it is. */
	const char	*raw_key, *raw;
	size_t		 rawlen;
};

static void
jcs_put(struct jcs_buf *b, const char *s, size_t n)
{
	size_t	ncap;
	char	*np;

	if (b->failed)
		return;
	if (n > JCS_MAX_OUT - b->len) {
		b->failed = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
jcs_string(struct jcs_buf *b, const char *s, size_t n)
{
	static const char	hex[] = "0123456789abcdef";
	char			esc[7];
	size_t			i, start = 0;
	unsigned char		c;

	jcs_put(b, "\"", 1);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jcs_put(b, s + start, i - start);
		start = i + 1;
		switch (c) {
		case '"':  jcs_put(b, "\\\"", 2); break;
		case '\\': jcs_put(b, "\\\\", 2); break;
		case '\b': jcs_put(b, "\\b", 2); break;
		case '\f': jcs_put(b, "\\f", 2); break;
		case '\n': jcs_put(b, "\\n", 2); break;
		case '\r': jcs_put(b, "\\r", 2); break;
		case '\t': jcs_put(b, "\\t", 2); break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			jcs_put(b, esc, 6);
		}
	}
	jcs_put(b, s + start, n - start);
	jcs_put(b, "\"", 1);
}

/* Next UTF-16 code unit of a UTF-8 string (jansson has validated it). */
static unsigned
jcs_utf16_next(const unsigned char **p, unsigned *pending)
{
	const unsigned char	*s = *p;
	uint32_t		 cp;

	if (*pending) {
		unsigned lo = *pending;

		*pending = 0;
		return lo;
	}
	if (s[0] < 0x80) {
		cp = s[0];
		*p += 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		*p += 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 |
		    (s[2] & 0x3f);
		*p += 3;
	} else {
		cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
		    (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		*p += 4;
	}
	if (cp < 0x10000)
		return cp;
	cp -= 0x10000;
	*pending = 0xdc00 | (cp & 0x3ff);
	return 0xd800 | (cp >> 10);
}

static int
jcs_key_cmp(const void *a, const void *b)
{
	const unsigned char	*x = *(const unsigned char *const *)a;
	const unsigned char	*y = *(const unsigned char *const *)b;
	unsigned		 px = 0, py = 0, cx, cy;

	while ((*x != '\0' || px) && (*y != '\0' || py)) {
		cx = jcs_utf16_next(&x, &px);
		cy = jcs_utf16_next(&y, &py);
		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
	if (*x == '\0' && !px)
		return (*y == '\0' && !py) ? 0 : -1;
	return 1;
}

static void
jcs_value(struct jcs_buf *b, const json_t *v, int depth)
{
	char		 num[32];
	const char	**keys;
	const char	*k, *raw;
	json_t		*m;
	size_t		 i, n;
	json_int_t	 iv;

	if (depth > JCS_MAX_DEPTH) {
		b->failed = 1;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		raw = depth == 0 ? b->raw_key : NULL;
		n = json_object_size(v);
		if ((keys = calloc(n + 1, sizeof(*keys))) == NULL) {
			b->failed = 1;
			return;
		}
		i = 0;
		json_object_foreach((json_t *)(uintptr_t)v, k, m)
			keys[i++] = k;
		if (raw != NULL)
			keys[n++] = raw;
		qsort(keys, n, sizeof(*keys), jcs_key_cmp);
		jcs_put(b, "{", 1);
		for (i = 0; i < n; i++) {
			if (i > 0)
				jcs_put(b, ",", 1);
			jcs_string(b, keys[i], strlen(keys[i]));
			jcs_put(b, ":", 1);
			/* The raw member is told by its pointer: the object's
			 * own keys are jansson's copies. */
			if (keys[i] == raw)
				jcs_put(b, b->raw, b->rawlen);
			else
				jcs_value(b, json_object_get(v, keys[i]),
				    depth + 1);
		}
		jcs_put(b, "}", 1);
		free(keys);
		break;
	case JSON_ARRAY:
		jcs_put(b, "[", 1);
		for (i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				jcs_put(b, ",", 1);
			jcs_value(b, json_array_get(v, i), depth + 1);
		}
		jcs_put(b, "]", 1);
		break;
	case JSON_STRING:
		jcs_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		iv = json_integer_value(v);
		/* I-JSON: beyond 2^53 a number is no longer exact. */
		if (iv > 9007199254740991LL || iv < -9007199254740991LL) {
			b->failed = 1;
			return;
		}
		snprintf(num, sizeof(num), "%lld", (long long)iv);
		jcs_put(b, num, strlen(num));
		break;
	case JSON_TRUE:
		jcs_put(b, "true", 4);
		break;
	case JSON_FALSE:
		jcs_put(b, "false", 5);
		break;
	case JSON_NULL:
		jcs_put(b, "null", 4);
		break;
	case JSON_REAL:
		b->failed = 1;	/* no floats, ever */
		break;
	}
}

/* Serializes v into a new buffer, with b's raw member if it has one. */
static int
jcs_finish(struct jcs_buf *b, const json_t *v, char **out, size_t *len)
{
	jcs_value(b, v, 0);
	if (b->failed || b->p == NULL) {
		free(b->p);
		log_warnx("%s: value cannot be canonicalized", __func__);
		return -1;
	}
	*out = b->p;
	*len = b->len;
	return 0;
}

int
jcs_serialize_with(const json_t *v, const char *key, const char *raw,
    size_t rawlen, char **out, size_t *len)
{
	struct jcs_buf	b;

	/* Two members of one name would not be JSON any reader agrees on. */
	if (!json_is_object(v) || json_object_get(v, key) != NULL) {
		log_warnx("%s: no room for member %s", __func__, key);
		return -1;
	}
	memset(&b, 0, sizeof(b));
	b.raw_key = key;
	b.raw = raw;
	b.rawlen = rawlen;
	return jcs_finish(&b, v, out, len);
}

int
jcs_serialize(const json_t *v, char **out, size_t *len)
{
	struct jcs_buf	b;

	memset(&b, 0, sizeof(b));
	return jcs_finish(&b, v, out, len);
}
