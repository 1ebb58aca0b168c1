/* Loads the account registry (registry.h): a bounded line reader in front of
 * libinih that owns line numbers and section headers, then strict checks. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "adapters/accounts.h"
#include "adapters/instr.h"
#include "adapters/iso20022.h"
#include "keeper/registry.h"
#include "log.h"
#include "util.h"

enum registry_key {
	REG_K_NUMBER, REG_K_CNAPS, REG_K_HOLDER, REG_K_ROLE, REG_K_CITY,
	REG_K_BANK, REG_K_COUNT
};

static const char *const registry_keys[REG_K_COUNT] = {
	[REG_K_NUMBER] = "number", [REG_K_CNAPS] = "cnaps",
	[REG_K_HOLDER] = "holder", [REG_K_ROLE] = "role",
	[REG_K_CITY] = "city", [REG_K_BANK] = "bank",
};

/* Every key but bank must be given. */
#define REG_K_REQUIRED	((1u << REG_K_BANK) - 1)

static const char *const registry_roles[] = {
	[REG_PROVINCE_SPECIAL] = "province-special",
	[REG_CITY_SPECIAL] = "city-special",
	[REG_PROVINCE_EXPENDITURE] = "province-expenditure",
	[REG_CITY_EXPENDITURE] = "city-expenditure",
};

struct registry {
	size_t			n;
	struct registry_account	acc[REGISTRY_MAX];
};

/* Parser state. inih tells its handler neither line numbers nor where a
 * section starts (and cuts long lines and long section names), so the reader
 * reads every physical line itself, counts it, parses section headers, and
 * hands inih only "key = value" lines. */
struct registry_parse {
	const char		*path;
	FILE			*fp;
	int			 line;
	int			 nerrors;
	int			 in_section;	/* a header was seen, even a bad one */
	struct registry		*reg;
	struct registry_account	*cur;	/* NULL outside a good section */
	int			 cur_bad;	/* cur has an error: no cross-checks */
	unsigned		 seen;		/* keys of cur, 1 << registry_key */
	int			 keyline[REG_K_COUNT];
	unsigned char		 ok[REGISTRY_MAX];	/* passed every check */
	int			 nprovince;	/* roles = province-special seen */
};

static void	registry_error(struct registry_parse *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
registry_error(struct registry_parse *p, int line, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s:%d: %s\n", p->path, line, msg);
	p->nerrors++;
}

/* A value fit to echo in an error: printable ASCII only (a refused value may
 * hold control bytes meant for the terminal), cut at 40 characters. */
static const char *
registry_printable(char *dst, size_t dsz, const char *src)
{
	size_t	i;

	for (i = 0; src[i] != '\0' && i + 1 < dsz && i < 40; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
	if (src[i] != '\0' && i >= 3)
		memcpy(dst + i - 3, "...", 3);
	return dst;
}

static int
registry_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* [A-Za-z0-9._-], spelled out: isalnum() would follow the locale. */
static int
registry_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Section and bank names are checked as an account change's are. */
_Static_assert(REGISTRY_NAME_MAX == INSTR_ACCT_NAME_MAX,
    "accounts_name_ok bounds registry names");

const char *
registry_role_name(enum registry_role r)
{
	if (r < REG_PROVINCE_SPECIAL || r > REG_CITY_EXPENDITURE)
		return "?";
	return registry_roles[r];
}

int
registry_role_parse(const char *s, enum registry_role *out)
{
	int	r;

	if (s == NULL)
		return -1;
	for (r = REG_PROVINCE_SPECIAL; r <= REG_CITY_EXPENDITURE; r++)
		if (strcmp(s, registry_roles[r]) == 0) {
			*out = (enum registry_role)r;
			return 0;
		}
	return -1;
}

static int
registry_province_role(enum registry_role r)
{
	return r == REG_PROVINCE_SPECIAL || r == REG_PROVINCE_EXPENDITURE;
}

/* Decodes one strict UTF-8 sequence (RFC 3629: no overlong form, no
 * surrogate, nothing past U+10FFFF) at s into *cp: its length, or 0 if
 * invalid. s is NUL-terminated, and NUL is never a continuation byte, so
 * this never reads past the end. */
static size_t
registry_utf8_next(const unsigned char *s, uint32_t *cp)
{
	size_t		need, k;
	uint32_t	min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
		*cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		*cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		*cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	for (k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[k] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return need + 1;
}

/* The holder goes into pain.001 Cdtr/Nm (Max140Text) and into reports: strict
 * UTF-8, 1-140 characters, no control character, and none of the marks
 * (bidi overrides, isolates, line separators) that make a name display as
 * something other than what it is. 0, or -1 with why. */
static int
registry_holder_check(const char *v, char *why, size_t whysz)
{
	const unsigned char	*s = (const unsigned char *)v;
	size_t			 off = 0, n, nchars = 0;
	uint32_t		 cp;

	if (v[0] == '\0') {
		str_copy(why, whysz, "holder is empty");
		return -1;
	}
	if (strlen(v) >= INSTR_NAME_MAX) {
		str_printf(why, whysz, "holder longer than %d bytes",
		    INSTR_NAME_MAX - 1);
		return -1;
	}
	while (s[off] != '\0') {
		if ((n = registry_utf8_next(s + off, &cp)) == 0) {
			str_printf(why, whysz,
			    "holder is not valid UTF-8 (byte %zu)", off + 1);
			return -1;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			str_printf(why, whysz,
			    "holder contains a control character (U+%04X)",
			    (unsigned)cp);
			return -1;
		}
		if ((cp >= 0x200e && cp <= 0x200f) ||
		    (cp >= 0x2028 && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069)) {
			str_printf(why, whysz,
			    "holder contains a formatting mark (U+%04X)",
			    (unsigned)cp);
			return -1;
		}
		off += n;
		nchars++;
	}
	if (nchars > REGISTRY_HOLDER_CHARS) {
		str_printf(why, whysz, "holder longer than %d characters",
		    REGISTRY_HOLDER_CHARS);
		return -1;
	}
	return 0;
}

static int
registry_holder_ok(struct registry_parse *p, const char *v)
{
	char	why[128];

	if (registry_holder_check(v, why, sizeof(why)) == 0)
		return 0;
	registry_error(p, p->line, "%s", why);
	return -1;
}

/* Checks one value and stores it in the current account: 0, or -1 after
 * reporting why. */
static int
registry_value(struct registry_parse *p, enum registry_key k, const char *v)
{
	struct registry_account	*a = p->cur;
	char			 q[48];

	switch (k) {
	case REG_K_NUMBER:
		/* The very checks pain.001 applies (Othr/Id, Max34Text, no
		 * blank), so that every registered payee can be paid. */
		if (!iso20022_account_ok(v)) {
			registry_error(p, p->line, "number must be 1-%d "
			    "printable ASCII characters, no blank",
			    REGISTRY_NUMBER_MAX - 1);
			return -1;
		}
		return str_copy(a->number, sizeof(a->number), v);
	case REG_K_CNAPS:
		if (!iso20022_cnaps_ok(v)) {
			registry_error(p, p->line, "cnaps must be exactly %d "
			    "digits", REGISTRY_CNAPS_LEN - 1);
			return -1;
		}
		return str_copy(a->cnaps, sizeof(a->cnaps), v);
	case REG_K_HOLDER:
		if (registry_holder_ok(p, v) == -1)
			return -1;
		return str_copy(a->holder, sizeof(a->holder), v);
	case REG_K_ROLE:
		if (registry_role_parse(v, &a->role) == -1) {
			registry_error(p, p->line, "unknown role \"%s\" (one of "
			    "province-special, city-special, "
			    "province-expenditure, city-expenditure)",
			    registry_printable(q, sizeof(q), v));
			return -1;
		}
		if (a->role == REG_PROVINCE_SPECIAL)
			p->nprovince++;
		return 0;
	case REG_K_CITY:
		/* Which of the two the role needs is checked at the end of
		 * the section, when both are known. */
		if (strcmp(v, REGISTRY_PROVINCE) != 0 && !instr_city_ok(v)) {
			registry_error(p, p->line, "city \"%s\" is neither "
			    REGISTRY_PROVINCE " (the province) nor one of the "
			    "14 pooling areas", registry_printable(q, sizeof(q), v));
			return -1;
		}
		return str_copy(a->city, sizeof(a->city), v);
	case REG_K_BANK:
		if (!accounts_name_ok(v)) {
			registry_error(p, p->line, "bad bank agency name \"%s\"",
			    registry_printable(q, sizeof(q), v));
			return -1;
		}
		return str_copy(a->bank, sizeof(a->bank), v);
	default:
		return -1;
	}
}

/* The checks that need the whole section, then those against the accounts
 * before it; an account that passes them all is marked ok and takes part in
 * the checks of the accounts after it. */
static void
registry_section_end(struct registry_parse *p)
{
	struct registry_account	*a = p->cur, *b;
	size_t			 i, idx;
	int			 k;

	if (a == NULL)
		return;
	p->cur = NULL;
	idx = (size_t)(a - p->reg->acc);
	for (k = 0; k < REG_K_COUNT; k++)
		if ((REG_K_REQUIRED & (1u << k)) && !(p->seen & (1u << k))) {
			registry_error(p, a->line, "account %s: missing \"%s\"",
			    a->name, registry_keys[k]);
			p->cur_bad = 1;
		}
	if (p->cur_bad)
		return;
	if (registry_province_role(a->role) &&
	    strcmp(a->city, REGISTRY_PROVINCE) != 0) {
		registry_error(p, p->keyline[REG_K_CITY], "account %s: a %s "
		    "account must have city " REGISTRY_PROVINCE ", not %s",
		    a->name, registry_role_name(a->role), a->city);
		return;
	}
	if (!registry_province_role(a->role) && !instr_city_ok(a->city)) {
		registry_error(p, p->keyline[REG_K_CITY], "account %s: a %s "
		    "account needs one of the 14 pooling areas, not %s",
		    a->name, registry_role_name(a->role), a->city);
		return;
	}
	for (i = 0; i < idx; i++) {
		if (!p->ok[i])
			continue;
		b = &p->reg->acc[i];
		if (strcmp(a->number, b->number) == 0) {
			registry_error(p, p->keyline[REG_K_NUMBER],
			    "account %s: number %s already used by account %s "
			    "(line %d)", a->name, a->number, b->name, b->line);
			p->cur_bad = 1;
		}
		/* One account per role (and city): lookups never guess. */
		if (a->role == b->role && (registry_province_role(a->role) ||
		    strcmp(a->city, b->city) == 0)) {
			registry_error(p, p->keyline[REG_K_ROLE],
			    "account %s: a second %s account%s%s (the first is "
			    "%s, line %d)", a->name, registry_role_name(a->role),
			    registry_province_role(a->role) ? "" : " for city ",
			    registry_province_role(a->role) ? "" : a->city,
			    b->name, b->line);
			p->cur_bad = 1;
		}
	}
	if (!p->cur_bad)
		p->ok[idx] = 1;
}

/* A line whose first non-blank is '[': ends the current section and starts
 * the one it names, "[account NAME]" being the only kind. */
static void
registry_section_line(struct registry_parse *p, char *s)
{
	struct registry_account	*a;
	char			*end, *name, *t, q[48];
	size_t			 i;

	registry_section_end(p);
	p->in_section = 1;	/* keys after a bad header are not "outside" */
	p->cur_bad = 0;
	p->seen = 0;
	memset(p->keyline, 0, sizeof(p->keyline));
	if ((end = strchr(s, ']')) == NULL) {
		registry_error(p, p->line, "bad section header");
		return;
	}
	for (t = end + 1; registry_blank(*t); t++)
		;
	if (*t != '\0' && *t != ';' && *t != '#') {
		registry_error(p, p->line, "text after the section header");
		return;
	}
	*end = '\0';
	/* "[KIND NAME]": KIND runs to the first blank. */
	for (t = s + 1; *t != '\0' && !registry_blank(*t); t++)
		;
	for (name = t; registry_blank(*name); name++)
		;
	*t = '\0';
	if (strcmp(s + 1, "account") != 0) {
		registry_error(p, p->line, "unknown section [%s] (only "
		    "[account NAME])", registry_printable(q, sizeof(q), s + 1));
		return;
	}
	for (t = end; t > name && registry_blank(t[-1]); t--)
		;
	*t = '\0';
	if (!accounts_name_ok(name)) {
		registry_error(p, p->line, "bad account name \"%s\" (1-%d of "
		    "A-Z a-z 0-9 . _ -)", registry_printable(q, sizeof(q), name),
		    REGISTRY_NAME_MAX - 1);
		return;
	}
	for (i = 0; i < p->reg->n; i++)
		if (strcmp(p->reg->acc[i].name, name) == 0) {
			registry_error(p, p->line, "account %s defined twice "
			    "(first at line %d)", name, p->reg->acc[i].line);
			return;
		}
	if (p->reg->n == REGISTRY_MAX) {
		registry_error(p, p->line, "more than %d accounts",
		    REGISTRY_MAX);
		return;
	}
	a = &p->reg->acc[p->reg->n++];
	memset(a, 0, sizeof(*a));
	str_copy(a->name, sizeof(a->name), name);	/* fits: name_ok */
	a->line = p->line;
	p->cur = a;
}

/* Hands inih one physical line at a time, read into its own buffer with a
 * bound: a longer line is reported and skipped whole, never split (inih's
 * fgets would parse the tail as a line of its own). Comments, blanks and
 * headers are dealt with here and reach inih as empty lines; key lines reach
 * it without leading blanks, so that inih never takes one for the
 * continuation of the key before. */
static char *
registry_reader(char *buf, int num, void *arg)
{
	struct registry_parse	*p = arg;
	size_t			 len = 0, max;
	int			 c, nul = 0;
	char			*s, *eq, *t;

	if (num < 3)
		return NULL;	/* never: inih passes INI_MAX_LINE (200) */
	/* As config.c: a line of num - 2 bytes and its NUL fit with a byte to
	 * spare, so config files and the registry share one limit. */
	max = (size_t)num - 2;
	while ((c = getc(p->fp)) != EOF && c != '\n') {
		if (c == '\0')
			nul = 1;
		if (len < max)
			buf[len] = (char)c;
		if (len <= max)
			len++;	/* max + 1 means too long */
	}
	if (c == EOF && ferror(p->fp)) {
		registry_error(p, p->line + 1, "read error: %s",
		    strerror(errno));
		return NULL;
	}
	if (c == EOF && len == 0)
		return NULL;
	p->line++;
	if (len > max) {
		registry_error(p, p->line, "line longer than %zu bytes", max);
		buf[0] = '\0';
		return buf;
	}
	buf[len] = '\0';
	if (nul) {
		registry_error(p, p->line, "NUL byte in the line");
		buf[0] = '\0';
		return buf;
	}
	s = buf;
	if (p->line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;		/* a UTF-8 byte order mark */
	while (registry_blank(*s))
		s++;
	if (*s == '\0' || *s == '#' || *s == ';') {
		buf[0] = '\0';
		return buf;
	}
	if (*s == '[') {
		registry_section_line(p, s);
		buf[0] = '\0';
		return buf;
	}
	/* "key = value", key of [A-Za-z0-9._-] (the handler knows which):
	 * anything else (no '=', inih's "key: value") is a syntax error,
	 * reported here so that every one is, not only inih's first. */
	for (t = s; registry_name_char(*t); t++)
		;
	eq = t;
	while (registry_blank(*eq))
		eq++;
	if (t == s || *eq != '=') {
		registry_error(p, p->line, "expected \"key = value\"");
		buf[0] = '\0';
		return buf;
	}
	memmove(buf, s, strlen(s) + 1);
	return buf;
}

static int
registry_handler(void *arg, const char *section, const char *k, const char *v)
{
	struct registry_parse	*p = arg;
	int			 i;

	if (!p->in_section) {
		registry_error(p, p->line, "\"%s\" is outside any [account] "
		    "section", k);
		return 1;
	}
	if (p->cur == NULL)
		return 1;	/* the header was reported; skip its keys */
	for (i = 0; i < REG_K_COUNT; i++)
		if (strcmp(k, registry_keys[i]) == 0)
			break;
	if (i == REG_K_COUNT) {
		registry_error(p, p->line, "unknown key \"%s\"", k);
		p->cur_bad = 1;
		return 1;
	}
	if (p->seen & (1u << i)) {
		registry_error(p, p->line, "\"%s\" given twice (first at line "
		    "%d)", k, p->keyline[i]);
		p->cur_bad = 1;
		return 1;
	}
	p->seen |= 1u << i;
	p->keyline[i] = p->line;
	if (registry_value(p, (enum registry_key)i, v) == -1)
		p->cur_bad = 1;
	return 1;	/* keep going: report every error, not just the first */
}

int
registry_load_fp(FILE *fp, const char *path, struct registry **out)
{
	struct registry_parse	 p;
	struct registry		*reg;
	int			 rc;

	*out = NULL;
	if ((reg = calloc(1, sizeof(*reg))) == NULL) {
		log_warn("%s: calloc", __func__);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.reg = reg;
	p.fp = fp;
	rc = ini_parse_stream(registry_reader, &p, registry_handler, &p);
	if (rc > 0)
		registry_error(&p, rc, "syntax error");
	else if (rc < 0)
		registry_error(&p, p.line, "cannot parse the file");
	registry_section_end(&p);
	if (p.nprovince == 0)
		registry_error(&p, 1, "no province-special account");
	if (p.nerrors > 0) {
		free(reg);
		return -1;
	}
	*out = reg;
	return 0;
}

int
registry_load(const char *path, struct registry **out)
{
	FILE	*fp;
	int	 rc;

	*out = NULL;
	/* "e": close-on-exec, so no child the process may start inherits it. */
	if ((fp = fopen(path, "re")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = registry_load_fp(fp, path, out);
	fclose(fp);
	return rc;
}

void
registry_free(struct registry *reg)
{
	/* Account numbers are not secrets: nothing to zero. */
	free(reg);
}

size_t
registry_count(const struct registry *reg)
{
	return reg == NULL ? 0 : reg->n;
}

const struct registry_account *
registry_at(const struct registry *reg, size_t i)
{
	if (reg == NULL || i >= reg->n)
		return NULL;
	return &reg->acc[i];
}

const struct registry_account *
registry_find(const struct registry *reg, enum registry_role role,
    const char *city)
{
	size_t	i;
	int	province = registry_province_role(role);

	if (reg == NULL || (!province && city == NULL))
		return NULL;
	for (i = 0; i < reg->n; i++)
		if (reg->acc[i].role == role &&
		    (province || strcmp(reg->acc[i].city, city) == 0))
			return &reg->acc[i];
	return NULL;
}

const struct registry_account *
registry_by_number(const struct registry *reg, const char *number)
{
	size_t	i;

	if (reg == NULL || number == NULL)
		return NULL;
	for (i = 0; i < reg->n; i++)
		if (strcmp(reg->acc[i].number, number) == 0)
			return &reg->acc[i];
	return NULL;
}

struct registry *
registry_new(void)
{
	struct registry	*reg;

	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		log_warn("%s: calloc", __func__);
	return reg;
}

struct registry *
registry_dup(const struct registry *src)
{
	struct registry	*reg;

	if ((reg = registry_new()) != NULL && src != NULL)
		memcpy(reg, src, sizeof(*reg));
	return reg;
}

const struct registry_account *
registry_by_name(const struct registry *reg, const char *name)
{
	size_t	i;

	if (reg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < reg->n; i++)
		if (strcmp(reg->acc[i].name, name) == 0)
			return &reg->acc[i];
	return NULL;
}

/* The checks a file's account passes, for one that comes another way. */
int
registry_put(struct registry *reg, const struct registry_account *a,
    char *why, size_t whysz)
{
	const struct registry_account	*b;
	size_t				 i, at = reg->n;

	if (!accounts_name_ok(a->name)) {
		str_copy(why, whysz, "bad account name");
		return -1;
	}
	if (!iso20022_account_ok(a->number)) {
		str_copy(why, whysz, "number must be 1-34 printable ASCII "
		    "characters, no blank");
		return -1;
	}
	if (!iso20022_cnaps_ok(a->cnaps)) {
		str_copy(why, whysz, "cnaps must be exactly 12 digits");
		return -1;
	}
	if (registry_holder_check(a->holder, why, whysz) == -1)
		return -1;
	if (a->role < REG_PROVINCE_SPECIAL || a->role > REG_CITY_EXPENDITURE) {
		str_copy(why, whysz, "unknown role");
		return -1;
	}
	if (registry_province_role(a->role) ?
	    strcmp(a->city, REGISTRY_PROVINCE) != 0 : !instr_city_ok(a->city)) {
		str_printf(why, whysz, "a %s account needs %s",
		    registry_role_name(a->role), registry_province_role(a->role) ?
		    "city " REGISTRY_PROVINCE : "one of the 14 pooling areas");
		return -1;
	}
	if (a->bank[0] != '\0' && !accounts_name_ok(a->bank)) {
		str_copy(why, whysz, "bad bank agency name");
		return -1;
	}
	for (i = 0; i < reg->n; i++) {
		b = &reg->acc[i];
		if (strcmp(b->name, a->name) == 0) {
			at = i;
			continue;
		}
		if (strcmp(a->number, b->number) == 0) {
			str_printf(why, whysz, "number %s already used by "
			    "account %s", a->number, b->name);
			return -1;
		}
		if (a->role == b->role && (registry_province_role(a->role) ||
		    strcmp(a->city, b->city) == 0)) {
			str_printf(why, whysz, "account %s already holds that "
			    "role%s%s", b->name, registry_province_role(a->role) ?
			    "" : " for city ", registry_province_role(a->role) ?
			    "" : a->city);
			return -1;
		}
	}
	if (at == REGISTRY_MAX) {
		str_printf(why, whysz, "more than %d accounts", REGISTRY_MAX);
		return -1;
	}
	reg->acc[at] = *a;
	if (at == reg->n)
		reg->n++;
	return 0;
}

int
registry_remove(struct registry *reg, const char *name)
{
	size_t	i;

	for (i = 0; i < reg->n; i++)
		if (strcmp(reg->acc[i].name, name) == 0) {
			/* File order is kept: lookups and listings read it. */
			memmove(&reg->acc[i], &reg->acc[i + 1],
			    (reg->n - i - 1) * sizeof(reg->acc[0]));
			reg->n--;
			return 0;
		}
	return -1;
}
