/* The registry of the fund's accounts (DESIGN §1): loaded and validated once
 * from an INI file; every payee the keeper uses is looked up here, never taken
 * from a request. */
#ifndef GW_KEEPER_REGISTRY_H
#define GW_KEEPER_REGISTRY_H

#include <stddef.h>
#include <stdio.h>

#include "adapters/instr.h"

#define REGISTRY_MAX		256	/* accounts per file */
#define REGISTRY_NAME_MAX	64	/* section and bank names, plus NUL */
#define REGISTRY_NUMBER_MAX	35	/* ISO 20022 Max34Text, plus NUL */
#define REGISTRY_CNAPS_LEN	13	/* 12 digits, plus NUL */
/* ISO 20022 Max140Text counts characters; holder[] also bounds the bytes
 * (INSTR_NAME_MAX - 1), as every other name the gateway carries. */
#define REGISTRY_HOLDER_CHARS	140
#define REGISTRY_PROVINCE	"620000"	/* the city of the province roles */

enum registry_role {
	REG_PROVINCE_SPECIAL = 1,	/* 省级财政专户: receives remittances */
	REG_CITY_SPECIAL,		/* a city's 财政专户: remits to the province */
	REG_PROVINCE_EXPENDITURE,	/* provincial agency 支出户 */
	REG_CITY_EXPENDITURE		/* a city agency's 支出户: disbursements */
};

/* One account; plain data, owned by its registry. */
struct registry_account {
	char			name[REGISTRY_NAME_MAX];	/* [account NAME] */
	char			number[REGISTRY_NUMBER_MAX];	/* Othr/Id */
	char			cnaps[REGISTRY_CNAPS_LEN];	/* bank's CNAPS */
	char			holder[INSTR_NAME_MAX];		/* UTF-8 */
	enum registry_role	role;
	char			city[INSTR_CITY_LEN];	/* 620000 for province roles */
	/* The bank agency ([agency NAME], role bank, in gateway.conf) holding
	 * the account, "" if not given. The registry does not see gateway.conf:
	 * checking that the agency exists is the caller's. */
	char			bank[REGISTRY_NAME_MAX];
	int			line;		/* of its section header */
};

struct registry;	/* opaque */

/* Loads and validates the whole file at path. Every error is printed as
 * "PATH:LINE: message" on stderr, all of them, and then the load fails (-1,
 * *out NULL). On success (0) *out is the caller's, to release with
 * registry_free. A loaded registry is never changed: lookups may be shared
 * freely by readers (changes go to a copy, registry_dup). */
int	registry_load(const char *path, struct registry **out);
/* The same from an open stream (the keeper gets the file as a descriptor
 * on reload: its sandbox lets it open nothing); path names it in errors.
 * fp stays the caller's. */
int	registry_load_fp(FILE *fp, const char *path, struct registry **out);
void	registry_free(struct registry *);

size_t	registry_count(const struct registry *);
/* The i-th account in file order, or NULL past the end. Pointers stay valid
 * until registry_free. */
const struct registry_account	*registry_at(const struct registry *, size_t i);
/* The one account of that role (and, for the city roles, of that city;
 * province roles ignore city), or NULL. Unambiguous: the load refuses a
 * second account of a role for the same city. */
const struct registry_account	*registry_find(const struct registry *,
	    enum registry_role, const char *city);
/* The account with that exact number, or NULL. */
const struct registry_account	*registry_by_number(const struct registry *,
	    const char *number);

/* An empty registry, or a copy of one, for changes that come from the log
 * rather than a file: the caller's (registry_free); NULL if out of memory. */
struct registry	*registry_new(void);
struct registry	*registry_dup(const struct registry *);
/* Puts a (copied) in place of the account of the same name, or adds it,
 * after the checks a file's account passes (values, the role's city, a
 * number or role slot held by another account). 0, or -1 with why. */
int	registry_put(struct registry *, const struct registry_account *a,
	    char *why, size_t whysz);
/* Removes the account of that name: 0, or -1 if there is none. */
int	registry_remove(struct registry *, const char *name);
const struct registry_account	*registry_by_name(const struct registry *,
	    const char *name);

/* "province-special", ...; "?" for anything else. */
const char	*registry_role_name(enum registry_role);
/* The role of that exact name: 0, or -1 if unknown. */
int		 registry_role_parse(const char *, enum registry_role *);

#endif
