/* The ledger's parts (ledger.c: the transaction; ledger_entry.c: what it
 * logs; ledger_rules.c: the fund's rules and bank files; ledger_delivery.c:
 * delivery outcomes; ledger_view.c: transfers and reports) share these: not
 * for use outside gateway/keeper/ledger*.c. */
#ifndef GW_LEDGER_INT_H
#define GW_LEDGER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "adapters/adapter.h"
#include "adapters/instr.h"
#include "adapters/pain001.h"
#include "config.h"
#include "keeper/ledger.h"
#include "keeper/sign.h"
#include "keeper/signer.h"
#include "metrics.h"

struct alerts;
struct ipc_instr;
struct ledger_accounts;
struct outbox;
struct registry;
struct sign_key;
struct store;

/* Where deliveries go on the receiving systems. */
#define LEDGER_PATH_PAIN001	"/inbox/pain.001"
#define LEDGER_PATH_STATUS	"/inbox/status"

extern const char *const ledger_state_names[LS_COUNT];

enum ledger_event {
	LE_DELIVERED, LE_PARKED, LE_APPROVED, LE_REJECTED, LE_BANK_PENDING,
	LE_BANK_SETTLED, LE_BANK_REJECTED, LE_SUPERSEDED
};

enum ledger_stmt {
	LG_FIND, LG_INSERT, LG_STATE, LG_REVIEW, LG_DISBURSED, LG_PAY_ADD,
	LG_PAY_GET, LG_PAY_SET, LG_PAY_OF, LG_PAY_SUM, LG_SUM_CP,
	LG_CURRENT_PLAN, LG_CARRY, LG_YEAR_SPENT, LG_ARRIVAL, LG_OVERDUE,
	LG_RECEIPT, LG_COUNT
};

struct ledger {
	const struct config	*cf;
	struct store		*st;
	sqlite3			*db;
	sqlite3_stmt		*s[LG_COUNT];
	struct outbox		*ob;
	struct sign_key		*key;			/* signs instructions */
	struct sign_key		*bank_keys[CFG_MAX_BANKS];
	struct ledger_accounts	*acc;			/* ledger_accounts.c */
	struct alerts		*al;
	/* Signs receipts while the committer goes on (NULL: signed when
	 * needed); the receipts of the transaction not yet stored. */
	struct signer		*signer;
	struct ledger_pending	**pending;
	size_t			 npending, maxpending;
	/* A witness gave evidence of a rollback or a fork: new instructions
	 * are refused until an operator acts. */
	int			 frozen;
	/* Read before the sandbox, which leaves the keeper no certificates. */
	struct metrics_cert	 certs[64];
	size_t			 ncerts;
};

/* One stored instruction (LG_FIND). */
struct ledger_row {
	uint8_t			 digest[32];
	int			 status;
	char			*receipt;	/* owned */
	size_t			 rlen;
	uint64_t		 entry;
	enum ledger_state	 state;
	char			 agency[CFG_NAME_MAX];
	char			 city[8];
	char			 period[8];
	int64_t			 amount, approved, disbursed;
	char			 bank[CFG_NAME_MAX];
};

/* What ledger_prep_run makes of an instruction, in a signing thread. */
struct ledger_prep {
	struct signer_job	 job;
	const struct sign_key	*key;
	enum instr_kind		 kind;
	const char		*canon;		/* the item's */
	size_t			 len;
	int			 parsed;	/* 0: in and root; -1: err */
	struct instr		 in;
	json_t			*root;		/* owned */
	struct adapter_error	 err;
	uint8_t			 digest[32];
	uint8_t			 sig[SIGN_MAX_SIG];
	size_t			 siglen;	/* 0: signing failed */
};

/* An accepted instruction's receipt while its signature is made: the row
 * is inserted with an empty receipt, written at the end of the batch. */
struct ledger_pending {
	struct signer_job	 job;
	const struct sign_key	*key;
	char			 kind[24];
	char			 id[INSTR_ID_MAX];
	json_t			*o;		/* without its signature */
	char			*msg;		/* o's canonical bytes */
	size_t			 mlen;
	uint8_t			 sig[SIGN_MAX_SIG];
	size_t			 siglen;	/* 0: signing failed */
	char			*receipt;	/* once made */
	size_t			 rlen;
	struct ledger_reply	*r;		/* whose body it becomes */
};

/* What one exchange is about, for its entry. */
struct ledger_ctx {
	struct ledger			*l;
	unsigned			 slot;
	const struct ipc_instr		*m;
	struct instr			*in;		/* the prep's */
	const struct ledger_prep	*prep;
	const char			*canon;
	size_t				 clen;
	char				 digest_hex[65];
	json_t				*instr_json;	/* owned */
	/* Disbursements: the period of each line's plan. */
	char				 line_period[INSTR_MAX_LINES][8];
};

/* ledger.c */
int	ledger_fail(struct ledger *l, const char *what);
const char	*ledger_text(sqlite3_stmt *st, int col);
int	ledger_find(struct ledger *l, const char *kind, const char *id,
	    struct ledger_row *row);
int	ledger_step(struct ledger *l, enum ledger_stmt which, const char *what);
int	ledger_event(struct ledger *l, enum instr_kind kind, const char *id,
	    enum ledger_event ev);
char	*ledger_b64(const uint8_t *p, size_t len);
int	ledger_queue(struct ledger_ctx *x, int upstream, const char *path,
	    const char *ctype, const char *idem, const char *headers,
	    const void *body, size_t blen);

/* ledger_entry.c */
json_t	*ledger_sign(const struct sign_key *k, const void *msg, size_t len);
/* {"alg", "key_id", "value"} of a signature k made (sig, slen bytes). */
json_t	*ledger_sig_json(const struct sign_key *k, const uint8_t *sig,
	    size_t slen);
json_t	*ledger_entry_base(struct ledger_ctx *x, const char *kind);
int	ledger_append(struct ledger *l, json_t *e, uint64_t *index);
int	ledger_append_instr(struct ledger_ctx *x, json_t *e, uint64_t *index);
void	ledger_reply_text(struct ledger_reply *r, int status, const char *code,
	    const char *detail);
int	ledger_refuse_alert(struct ledger_ctx *x, int status, const char *rule,
	    const char *detail, struct ledger_reply *r, const char *city,
	    const char *period, json_t *figures);
int	ledger_refuse(struct ledger_ctx *x, int status, const char *rule,
	    const char *detail, struct ledger_reply *r);
int	ledger_receipt_start(struct ledger_ctx *x, json_t *sig, uint64_t index,
	    const char *status, struct ledger_pending **out);
/* Waits for the signature if need be, then frees p; NULL is fine. */
void	ledger_pending_free(struct ledger *l, struct ledger_pending *p);
/* Queues p (taken on 0, still the caller's on -1): at
 * ledger_receipts_finish its receipt is stored and becomes r's body. */
int	ledger_receipt_queue(struct ledger *l, struct ledger_pending *p,
	    struct ledger_reply *r);
/* The receipt of (kind, id) accepted earlier in this transaction, whose
 * row holds none yet: 1 and a copy in *out (the caller's), 0 if there is
 * no such receipt, -1. */
int	ledger_receipt_pending(struct ledger *l, const char *kind,
	    const char *id, char **out, size_t *len);
int	ledger_duplicate(struct ledger_ctx *x, const uint8_t digest[32],
	    struct ledger_row *orig, struct ledger_reply *r);

/* ledger_rules.c */
int	ledger_check_remittance(struct ledger_ctx *x, struct ledger_reply *r,
	    int *refused);
int	ledger_check_plan(struct ledger_ctx *x, struct ledger_reply *r,
	    int *refused);
int	ledger_check_review(struct ledger_ctx *x, struct ledger_row *plan,
	    struct ledger_reply *r, int *refused);
int	ledger_check_disbursement(struct ledger_ctx *x, struct pain001_input *pin,
	    const struct cfg_bank **bank, size_t *bidx, struct ledger_reply *r,
	    int *refused);
int	ledger_bank_file(struct ledger_ctx *x, const struct pain001_input *pin,
	    const struct cfg_bank *bank, size_t bidx, char **file, size_t *flen,
	    char *headers, size_t hsz, json_t **desc);
int	ledger_check_status(struct ledger_ctx *x, struct ledger_row *d,
	    struct ledger_reply *r, int *refused);
int	ledger_apply_status(struct ledger_ctx *x, enum ledger_event *ev);
int	ledger_notices(struct ledger_ctx *x, uint64_t index);
int	ledger_amend(struct ledger_ctx *x, const char *old);
int	ledger_watch_remittance(struct ledger_ctx *x, uint64_t index);
int	ledger_watch_capacity(struct ledger *l, const char *period);
int	ledger_arrivals(struct ledger_ctx *x);
int	ledger_sender_ok(const struct ledger_ctx *x);

/* ledger_accounts.c */
int	ledger_accounts_open(struct ledger *l);
void	ledger_accounts_free(struct ledger *l);
/* The registry in force on date (YYYY-MM-DD); NULL if there is none. */
const struct registry	*ledger_registry(struct ledger *l, const char *date);
int	ledger_check_account_change(struct ledger_ctx *x, struct ledger_reply *r,
	    int *refused);
int	ledger_account_change_done(struct ledger_ctx *x, uint64_t index);
int	ledger_check_account_review(struct ledger_ctx *x,
	    struct ledger_row *change, struct ledger_reply *r, int *refused);
int	ledger_account_review_done(struct ledger_ctx *x, uint64_t index);
/* An alert when the account numbered number was changed fewer than the
 * configured days before date (a payment's execution date). */
int	ledger_watch_cooling_off(struct ledger_ctx *x, const char *number,
	    const char *date, uint64_t index);
json_t	*ledger_account_changes(struct ledger *l, const char *state);
json_t	*ledger_accounts_json(struct ledger *l, const char *date);

#endif
