/* Hardened JSON over jansson: size, NUL and depth checked on the raw bytes,
 * strict decoding, and field getters that name the offending JSON pointer. */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"
#include "adapters/json.h"
#include "util.h"

_Static_assert(JSON_MAX_AMOUNT <= INSTR_MAX_FEN,
    "a JSON amount must fit the instruction model");
_Static_assert(JSON_PTR_MAX <= sizeof(((struct adapter_error *)0)->field),
    "a pointer must fit adapter_error.field");

/* Strict decoding: duplicate keys refused; "\u0000" refused (no
 * JSON_ALLOW_NUL); trailing data refused (no JSON_DISABLE_EOF_CHECK); integers
 * stay integers (no JSON_DECODE_INT_AS_REAL) so amounts can be told from
 * reals. JSON_DECODE_ANY only so the conformance corpus's scalar documents
 * parse; the adapters ask for an object (json_parse_object). */
#define JSON_LOAD_FLAGS	(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* Nesting of the bytes, counting [ and { outside strings. For valid JSON it
 * is the real depth; for invalid JSON jansson refuses the bytes anyway, so
 * the scan only has to be an upper bound where it matters. Runs before
 * jansson so a deep document never reaches its recursive parser. */
static int
json_depth_ok(const char *buf, size_t len, int max)
{
	size_t	i;
	int	depth = 0, in_str = 0;

	for (i = 0; i < len; i++) {
		if (in_str) {
			if (buf[i] == '\\')
				i++;		/* the escaped byte is not a quote */
			else if (buf[i] == '"')
				in_str = 0;
			continue;
		}
		switch (buf[i]) {
		case '"':
			in_str = 1;
			break;
		case '[':
		case '{':
			if (++depth > max)
				return 0;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return 1;
}

/* jansson's reason for people, printable ASCII only: its "near '...'" part
 * quotes input bytes, and the refusal is written into a JSON error body. */
static void
json_clean_text(char *dst, size_t dsz, const char *src)
{
	size_t	i;

	for (i = 0; i + 1 < dsz && src[i] != '\0'; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	if (dsz > 0)
		dst[i] = '\0';
}

int
json_parse_body(const char *buf, size_t len, size_t max, json_t **root,
    struct adapter_error *err)
{
	json_error_t	 je;
	json_t		*v;
	const char	*code;
	char		 text[sizeof(je.text)];
	int		 status = 400;

	*root = NULL;
	if (len > max) {
		adapter_fail(err, 413, "too-large", "",
		    "body of %zu bytes exceeds %zu", len, max);
		return -1;
	}
	if (buf == NULL || len == 0) {
		adapter_fail(err, 400, "malformed", "", "empty body");
		return -1;
	}
	/* jansson's length-based reader stops quietly at some NULs; refuse
	 * them all so no two readers can see different documents. */
	if (memchr(buf, '\0', len) != NULL) {
		adapter_fail(err, 400, "nul-byte", "", "NUL byte in body");
		return -1;
	}
	if (!json_depth_ok(buf, len, JSON_MAX_DEPTH)) {
		adapter_fail(err, 400, "too-deep", "",
		    "nesting deeper than %d", JSON_MAX_DEPTH);
		return -1;
	}
	if ((v = json_loadb(buf, len, JSON_LOAD_FLAGS, &je)) != NULL) {
		*root = v;
		return 0;
	}
	switch (json_error_code(&je)) {
	case json_error_duplicate_key:
		code = "duplicate-key";
		break;
	case json_error_null_character:
	case json_error_null_byte_in_key:
		code = "nul-byte";
		break;
	case json_error_invalid_utf8:
		code = "bad-utf8";
		break;
	case json_error_end_of_input_expected:
		code = "trailing-data";
		break;
	case json_error_numeric_overflow:
		code = "number-overflow";
		break;
	case json_error_stack_overflow:
		code = "too-deep";
		break;
	case json_error_out_of_memory:
		code = "no-memory";
		status = 503;
		break;
	default:
		code = "malformed";
		break;
	}
	json_clean_text(text, sizeof(text), je.text);
	adapter_fail(err, status, code, "", "%s (line %d, column %d)", text,
	    je.line, je.column);
	return -1;
}

int
json_parse_object(const char *buf, size_t len, size_t max, json_t **root,
    struct adapter_error *err)
{
	if (json_parse_body(buf, len, max, root, err) == -1)
		return -1;
	if (!json_is_object(*root)) {
		adapter_fail(err, 422, "wrong-type", "", "body is not an object");
		json_decref(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}

/* Length of the UTF-8 sequence led by c (jansson has validated keys). */
static size_t
json_utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		return 2;
	if ((c & 0xf0) == 0xe0)
		return 3;
	return 4;
}

void
json_ptr(char *dst, const char *ptr, const char *name)
{
	const unsigned char	*p;
	size_t			 o, n, i;
	char			 tmp[4];

	(void)str_copy(dst, JSON_PTR_MAX, ptr);	/* cut if too long */
	o = strlen(dst);
	if (o + 1 >= JSON_PTR_MAX)
		return;
	dst[o++] = '/';
	/* Whole characters only, so a cut pointer stays valid UTF-8. */
	for (p = (const unsigned char *)name; *p != '\0'; p += n) {
		n = json_utf8_len(*p);
		if (*p == '~' || *p == '/') {
			tmp[0] = '~';
			tmp[1] = *p == '~' ? '0' : '1';
			i = 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			tmp[0] = '?';
			i = 1;
		} else {
			for (i = 0; i < n; i++) {
				if (p[i] == '\0')
					goto done;	/* not UTF-8 after all */
				tmp[i] = (char)p[i];
			}
		}
		if (o + i >= JSON_PTR_MAX)
			break;
		memcpy(dst + o, tmp, i);
		o += i;
	}
done:
	dst[o] = '\0';
}

int
json_check_fields(const json_t *obj, const char *ptr,
    const char *const *names, struct adapter_error *err)
{
	const char	*key;
	json_t		*v;
	size_t		 i;
	char		 fp[JSON_PTR_MAX];
	char		 shown[64];

	json_object_foreach((json_t *)(uintptr_t)obj, key, v) {
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (names[i] == NULL) {
			json_ptr(fp, ptr, key);
			json_clean_text(shown, sizeof(shown), key);
			adapter_fail(err, 422, "unknown-field", fp,
			    "unknown field \"%s\"", shown);
			return -1;
		}
	}
	return 0;
}

int
json_has(const json_t *obj, const char *name)
{
	return json_object_get(obj, name) != NULL;
}

static int
json_string_member(const json_t *obj, const char *ptr, const char *name,
    int required, char *dst, size_t dsz, json_check_fn check,
    const char *bad_code, struct adapter_error *err)
{
	const json_t	*v;
	const char	*s;
	char		 fp[JSON_PTR_MAX];
	size_t		 n, i;

	if (dsz == 0)
		return -1;
	dst[0] = '\0';
	json_ptr(fp, ptr, name);
	if ((v = json_object_get(obj, name)) == NULL) {
		if (!required)
			return 0;
		adapter_fail(err, 422, "missing-field", fp, "%s is required",
		    fp);
		return -1;
	}
	if (!json_is_string(v)) {
		adapter_fail(err, 422, "wrong-type", fp, "%s must be a string",
		    fp);
		return -1;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	/* An empty optional free-text field means "none"; an empty required
	 * one, or one with a format, is a refusal. */
	if (n == 0 && (required || check != NULL)) {
		adapter_fail(err, 422, bad_code ? bad_code : "empty", fp,
		    "%s is empty", fp);
		return -1;
	}
	if (n >= dsz) {
		adapter_fail(err, 422, bad_code ? bad_code : "too-long", fp,
		    "%s is longer than %zu bytes", fp, dsz - 1);
		return -1;
	}
	for (i = 0; i < n; i++) {
		/* Also catches an embedded NUL from a value not built by
		 * json_parse_body, which strlen-based code would cut. */
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			adapter_fail(err, 422, check && bad_code ? bad_code :
			    "control-char", fp, "%s holds a control character",
			    fp);
			return -1;
		}
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	if (check != NULL && !check(dst)) {
		adapter_fail(err, 422, bad_code ? bad_code : "bad-value", fp,
		    "%s is not valid", fp);
		dst[0] = '\0';
		return -1;
	}
	return 0;
}

int
json_get_string(const json_t *obj, const char *ptr, const char *name,
    char *dst, size_t dsz, json_check_fn check, const char *bad_code,
    struct adapter_error *err)
{
	return json_string_member(obj, ptr, name, 1, dst, dsz, check,
	    bad_code, err);
}

int
json_get_opt_string(const json_t *obj, const char *ptr, const char *name,
    char *dst, size_t dsz, json_check_fn check, const char *bad_code,
    struct adapter_error *err)
{
	return json_string_member(obj, ptr, name, 0, dst, dsz, check,
	    bad_code, err);
}

int
json_get_amount(const json_t *obj, const char *ptr, const char *name,
    int64_t *fen, struct adapter_error *err)
{
	const json_t	*v;
	json_int_t	 iv;
	char		 fp[JSON_PTR_MAX];

	json_ptr(fp, ptr, name);
	if ((v = json_object_get(obj, name)) == NULL) {
		adapter_fail(err, 422, "missing-field", fp, "%s is required",
		    fp);
		return -1;
	}
	/* jansson reads any number with a fraction or an exponent as a real,
	 * so 100.0 and 1e2 land here even though their value is whole. */
	if (json_is_real(v)) {
		adapter_fail(err, 422, "float-amount", fp,
		    "%s must be an integer number of fen", fp);
		return -1;
	}
	if (!json_is_integer(v)) {
		adapter_fail(err, 422, "wrong-type", fp,
		    "%s must be an integer number of fen", fp);
		return -1;
	}
	iv = json_integer_value(v);
	if (iv < 0) {
		adapter_fail(err, 422, "negative-amount", fp,
		    "%s is negative", fp);
		return -1;
	}
	if (iv > JSON_MAX_AMOUNT) {
		adapter_fail(err, 422, "amount-too-large", fp,
		    "%s exceeds %lld", fp, (long long)JSON_MAX_AMOUNT);
		return -1;
	}
	*fen = (int64_t)iv;
	return 0;
}

int
json_get_array(const json_t *obj, const char *ptr, const char *name,
    size_t min, size_t max, json_t **arr, struct adapter_error *err)
{
	json_t	*v;
	char	 fp[JSON_PTR_MAX];
	size_t	 n;

	*arr = NULL;
	json_ptr(fp, ptr, name);
	if ((v = json_object_get(obj, name)) == NULL) {
		adapter_fail(err, 422, "missing-field", fp, "%s is required",
		    fp);
		return -1;
	}
	if (!json_is_array(v)) {
		adapter_fail(err, 422, "wrong-type", fp, "%s must be an array",
		    fp);
		return -1;
	}
	n = json_array_size(v);
	if (n < min) {
		adapter_fail(err, 422, "too-few", fp,
		    "%s needs at least %zu elements", fp, min);
		return -1;
	}
	if (n > max) {
		adapter_fail(err, 422, "too-many", fp,
		    "%s has more than %zu elements", fp, max);
		return -1;
	}
	*arr = v;
	return 0;
}

int
json_get_element(const json_t *arr, const char *ptr, size_t i,
    json_t **elem, char *eptr, struct adapter_error *err)
{
	json_t	*v;

	*elem = NULL;
	if (str_printf(eptr, JSON_PTR_MAX, "%s/%zu", ptr, i) == -1) {
		adapter_fail(err, 422, "too-deep", "", "pointer too long");
		return -1;
	}
	if ((v = json_array_get(arr, i)) == NULL || !json_is_object(v)) {
		adapter_fail(err, 422, "wrong-type", eptr,
		    "element must be an object");
		return -1;
	}
	*elem = v;
	return 0;
}
