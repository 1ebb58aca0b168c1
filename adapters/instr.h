/* The canonical instruction: one C model for every kind of money instruction
 * the gateway carries, whatever format it arrived in, and its canonical JSON
 * (RFC 8785, amounts as integer fen) that is signed and logged. */
#ifndef GW_INSTR_H
#define GW_INSTR_H

#include <stddef.h>
#include <stdint.h>

#define INSTR_ID_MAX		36	/* 1-35 of [A-Za-z0-9._-], plus NUL */
#define INSTR_CITY_LEN		7	/* 6 digits, plus NUL */
#define INSTR_PERIOD_LEN	8	/* YYYY-MM, plus NUL */
#define INSTR_DATE_LEN		11	/* YYYY-MM-DD, plus NUL */
#define INSTR_TIME_MAX		40	/* RFC 3339 */
#define INSTR_NAME_MAX		256	/* UTF-8 names and free text */
#define INSTR_ACCOUNT_MAX	35	/* ISO 20022 Max34Text, plus NUL */
#define INSTR_USCC_LEN		19	/* GB 32100-2015: 18 chars, plus NUL */
#define INSTR_BENEFIT_MAX	32
#define INSTR_MAX_ITEMS		10000	/* collection items per batch */
#define INSTR_MAX_PLAN_ITEMS	16	/* one per benefit code */
#define INSTR_MAX_LINES		64	/* disbursement lines */
#define INSTR_MAX_TX		1000	/* bank status / notification entries */
/* Largest amount in fen: 2^53 - 1, the largest integer canonical JSON
 * (I-JSON, RFC 8785) carries exactly; about 90 trillion yuan. */
#define INSTR_MAX_FEN		INT64_C(9007199254740991)

enum instr_kind {
	INSTR_COLLECTION = 1,	/* tax: premiums collected in a city for a month */
	INSTR_REMITTANCE,	/* finance-city: full remittance to the province */
	INSTR_PLAN,		/* hrss: monthly expenditure plan of a city */
	INSTR_REVIEW,		/* finance: review of a plan (dual control) */
	INSTR_DISBURSEMENT,	/* hrss: pay plans from the province-special */
	INSTR_BANK_STATUS,	/* bank: pain.002 payment status */
	INSTR_BANK_NOTIFICATION,/* bank: camt.054 debit/credit notification */
	INSTR_ACCOUNT_CHANGE,	/* finance, hrss: propose a registry change */
	INSTR_ACCOUNT_REVIEW	/* the other agency: approve or reject it */
};
#define INSTR_KIND_LAST		INSTR_ACCOUNT_REVIEW

struct instr_collection_item {
	char		employer_id[INSTR_USCC_LEN];
	char		employer_name[INSTR_NAME_MAX];
	uint32_t	insured;
	int64_t		amount_fen;
};

struct instr_collection {
	char				 city[INSTR_CITY_LEN];
	char				 period[INSTR_PERIOD_LEN];
	char				 collected_at[INSTR_TIME_MAX];
	char				 currency[4];		/* CNY */
	int64_t				 total_fen;
	uint32_t			 count;
	size_t				 nitems;
	struct instr_collection_item	*items;		/* owned */
};

struct instr_remittance {
	char		city[INSTR_CITY_LEN];
	char		period[INSTR_PERIOD_LEN];
	int64_t		amount_fen;
	char		from_account[INSTR_ACCOUNT_MAX];
	char		to_account[INSTR_ACCOUNT_MAX];
	char		value_date[INSTR_DATE_LEN];
};

struct instr_plan_item {
	char		benefit[INSTR_BENEFIT_MAX];
	int64_t		amount_fen;
};

struct instr_plan {
	char			city[INSTR_CITY_LEN];
	char			period[INSTR_PERIOD_LEN];
	size_t			nitems;
	struct instr_plan_item	items[INSTR_MAX_PLAN_ITEMS];
	int64_t			total_fen;
	char			approved_by[INSTR_NAME_MAX];
	char			approved_at[INSTR_TIME_MAX];
	char			amends[INSTR_ID_MAX];		/* "" if none */
};

struct instr_review {
	char		plan_id[INSTR_ID_MAX];
	int		approved;		/* 1 approved, 0 rejected */
	int64_t		approved_total_fen;	/* -1 when rejected */
	char		reviewed_by[INSTR_NAME_MAX];
	char		reviewed_at[INSTR_TIME_MAX];
	char		comment[INSTR_NAME_MAX];	/* "" if none */
};

struct instr_disbursement_line {
	char		plan_id[INSTR_ID_MAX];
	int64_t		amount_fen;
};

struct instr_disbursement {
	char				requested_execution_date[INSTR_DATE_LEN];
	size_t				nlines;
	struct instr_disbursement_line	lines[INSTR_MAX_LINES];
	char				bank[64];		/* "" if default */
};

/* One transaction's status in a pain.002 (ISO codes). */
struct instr_tx_status {
	char		end_to_end_id[INSTR_ID_MAX];
	char		status[5];		/* RCVD ACTC ACCP ACSP ACSC ACCC RJCT */
	char		reason[5];		/* ISO reason code, "" if none */
	char		bank_reference[141];	/* Max140Text, "" if none */
};

struct instr_bank_status {
	char			 original_msg_id[INSTR_ID_MAX];
	char			 group_status[5];	/* "" if not given */
	char			 group_reason[5];	/* "" if not given */
	size_t			 ntx;
	struct instr_tx_status	*tx;		/* owned */
};

/* One camt.054 entry. */
struct instr_bank_entry {
	char		account[INSTR_ACCOUNT_MAX];
	int		credit;			/* 1 credit, 0 debit */
	int64_t		amount_fen;
	char		booking_date[INSTR_DATE_LEN];
	char		end_to_end_id[INSTR_ID_MAX];	/* "" if none */
	char		reference[561];	/* Ustrd: Max140Text, in UTF-8 */
};

struct instr_bank_notification {
	size_t			 nentries;
	struct instr_bank_entry	*entries;	/* owned */
};

/* An account of the registry as an instruction names it; the keeper checks
 * the role and city against the registry's rules (keeper/registry.h). */
#define INSTR_ACCT_NAME_MAX	64	/* 1-63 of [A-Za-z0-9._-], plus NUL */
#define INSTR_ACCT_ROLE_MAX	24	/* "city-expenditure", plus NUL */
struct instr_account {
	char		name[INSTR_ACCT_NAME_MAX];
	char		number[INSTR_ACCOUNT_MAX];
	char		cnaps[13];			/* 12 digits */
	char		holder[INSTR_NAME_MAX];
	char		role[INSTR_ACCT_ROLE_MAX];
	char		city[INSTR_CITY_LEN];
	char		bank[INSTR_ACCT_NAME_MAX];	/* "" if none */
};

enum instr_account_action {
	INSTR_ACCT_ADD = 1,	/* a new account */
	INSTR_ACCT_CHANGE,	/* new details for an account (all of them) */
	INSTR_ACCT_RETIRE	/* the account is paid no more */
};

struct instr_account_change {
	enum instr_account_action	action;
	struct instr_account		account;	/* retire: name only */
	char				reason[INSTR_NAME_MAX];
	char				effective_date[INSTR_DATE_LEN];
	char				proposed_by[INSTR_NAME_MAX];
	char				proposed_at[INSTR_TIME_MAX];
};

/* The review of an account change; its id is the change's id. */
struct instr_account_review {
	int		approved;		/* 1 approved, 0 rejected */
	char		reviewed_by[INSTR_NAME_MAX];
	char		reviewed_at[INSTR_TIME_MAX];
	char		comment[INSTR_NAME_MAX];	/* "" if none */
};

struct instr {
	enum instr_kind	kind;
	char		id[INSTR_ID_MAX];	/* the idempotency key, per kind */
	union {
		struct instr_collection		collection;
		struct instr_remittance		remittance;
		struct instr_plan		plan;
		struct instr_review		review;
		struct instr_disbursement	disbursement;
		struct instr_bank_status	bank_status;
		struct instr_bank_notification	bank_notification;
		struct instr_account_change	account_change;
		struct instr_account_review	account_review;
	} u;
};

/* Releases what an instruction owns (item arrays) and zeroes it. */
void		 instr_free(struct instr *);
const char	*instr_kind_name(enum instr_kind);
/* "add", "change", "retire"; "?" for anything else. */
const char	*instr_account_action_name(enum instr_account_action);
/* The reverse of instr_kind_name: 0, or -1 for an unknown name. */
int		 instr_kind_parse(const char *, enum instr_kind *);

/* "12.34" (^(0|[1-9][0-9]{0,15})\.[0-9]{2}$) to 1234 fen, exactly; anything
 * else (no decimals, one decimal, leading zero, sign, spaces, exponent) is
 * refused. 0 or -1. */
int	 instr_yuan_to_fen(const char *s, int64_t *fen);
/* 1234 fen to "12.34" into dst (at least 21 bytes); 0 or -1 if negative. */
int	 instr_fen_to_yuan(int64_t fen, char *dst, size_t dsz);
/* An id of 1-35 characters of [A-Za-z0-9._-]. */
int	 instr_id_ok(const char *);
/* One of the 14 pooling-area codes of DESIGN §1. */
int	 instr_city_ok(const char *);
/* YYYY-MM with a month 01-12 and a year 2000-2099. */
int	 instr_period_ok(const char *);
/* YYYY-MM-DD, a real calendar date. */
int	 instr_date_ok(const char *);
/* RFC 3339 date-time with a time zone (Z or +hh:mm). */
int	 instr_time_ok(const char *);
/* GB 32100-2015 unified social credit code, check character verified. */
int	 instr_uscc_ok(const char *);
/* A benefit item the fund pays (DESIGN §1): 1; employer-paid item names
 * (suspension-wages, disability-allowance-5-6, employment-subsidy): 0 and
 * *employer set; unknown: 0. */
int	 instr_benefit_ok(const char *, int *employer);

/* The canonical JSON bytes of in: RFC 8785 over
 * {"kind", "id", ...fields}, amounts as integer fen. *out is the caller's
 * (free). 0 or -1. */
int	 instr_canonical(const struct instr *in, char **out, size_t *len);

#endif
