/* What every adapter reports when it refuses a message: the HTTP status, a
 * machine-readable code and the field it is about. */
#ifndef GW_ADAPTER_H
#define GW_ADAPTER_H

struct adapter_error {
	int	status;		/* 400 malformed, 413 too large, 415 charset,
				   422 a rule of the contract */
	char	code[48];	/* e.g. "bad-amount", "duplicate-key" */
	char	field[128];	/* JSON pointer or XML path, "" if none */
	char	detail[256];	/* for people */
};

/* Records the first reason only; later calls keep it. */
void	adapter_fail(struct adapter_error *, int status, const char *code,
	    const char *field, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

/* Everything the adapters read from files or load lazily, done once before
 * a role enters its sandbox (which forbids files): libxml2, the schemas
 * from dir (NULL: xml_schema_dir()), and iconv's converters for the
 * charsets of DESIGN §2. 0 or -1 with err filled. */
int	adapter_init(const char *dir, struct adapter_error *);

#endif
