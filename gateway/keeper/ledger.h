/* The ledger: what the keeper does with an instruction inside a group
 * commit's transaction (duplicate check, the fund's rules, signature, audit
 * entry, state, outbox rows), with delivery outcomes and the transfer view. */
#ifndef GW_LEDGER_H
#define GW_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct ipc_instr;
struct ipc_delivered;
struct ipc_transfer_query;
struct ipc_audit_reply;
struct outbox;
struct store;

struct ledger;

/* An instruction's life; every change goes through ledger.c's transition
 * function. The numbers are stored in the database: never renumber. */
enum ledger_state {
	LS_ACCEPTED = 0,	/* signed, logged, deliveries queued */
	LS_DELIVERED = 1,	/* every delivery taken */
	LS_PARKED = 2,		/* a delivery gave up: an operator must act */
	LS_SUBMITTED = 3,	/* plan: waiting for finance's review */
	LS_APPROVED = 4,	/* plan: reviewed and approved */
	LS_REJECTED = 5,	/* plan: reviewed and rejected */
	LS_SENT = 6,		/* disbursement: the bank took the file */
	LS_IN_PROGRESS = 7,	/* disbursement: the bank reports progress */
	LS_SETTLED = 8,		/* disbursement: every payment settled */
	LS_BANK_REJECTED = 9,	/* disbursement: the bank rejected a payment */
	LS_RECORDED = 10,	/* bank reports: nothing more to happen */
	LS_SUPERSEDED = 11,	/* plan: replaced by an amendment */
	LS_COUNT
};

/* The answer to one instruction. */
struct ledger_reply {
	int		 status;	/* 202, 200, or >= 400 */
	unsigned	 flags;		/* IPC_INSTR_REPLAYED */
	uint64_t	 index;		/* the entry of this exchange */
	char		 code[48];	/* the rule or reason when >= 400 */
	char		*body;		/* receipt or detail: the caller's (free) */
	size_t		 blen;
};

/* Loads the signing keys (instructions, banks) and the account registry,
 * creates the ledger and outbox tables in st's database. Before the
 * sandbox: it reads files. *out is the caller's (ledger_free). */
int	ledger_open(const struct config *, struct store *, struct ledger **out);
void	ledger_free(struct ledger *);
struct outbox	*ledger_outbox(struct ledger *);
struct registry;
/* A reload's account registry (taken): accepted only if it says what the
 * log's registry says (0); otherwise each difference is logged and it is
 * refused (-1): the registry changes only through reviewed instructions. */
int	ledger_set_registry(struct ledger *, struct registry *);
/* Inside a transaction, at start-up: the first time, the file's registry
 * becomes the log's (an entry of kind "registry"); after that, a file that
 * differs is named in the log and not used. 0 or -1. */
int	ledger_accounts_seed(struct ledger *);

/* Inside a transaction. Appends this exchange's audit entry whatever the
 * verdict (accepted, replayed, refused) and, when accepted, the
 * instruction's state and outbox rows. -1 only when the store fails (the
 * whole batch is rolled back); a refusal is 0 with reply->status >= 400.
 * slot names the relay for the entry's source. */
int	ledger_instr(struct ledger *, unsigned slot, const struct ipc_instr *,
	    const char *canon, size_t len, struct ledger_reply *reply);

/* The same in two steps, so that the first runs in a signing thread while
 * the committing thread writes (keeper.c): ledger_prep_new keeps canon
 * (len bytes, which must outlive the prep; kind as the relay said), its
 * job parses, hashes and signs it, and once signer_wait has returned for
 * it ledger_instr_prepared does the rest inside the transaction. NULL when
 * memory runs out. The prep is the caller's (ledger_prep_free). */
struct ledger_prep;
struct signer_job;
struct ledger_prep	*ledger_prep_new(struct ledger *, unsigned kind,
	    const char *canon, size_t len);
struct signer_job	*ledger_prep_job(struct ledger_prep *);
void	ledger_prep_free(struct ledger_prep *);
int	ledger_instr_prepared(struct ledger *, unsigned slot,
	    const struct ipc_instr *, const char *canon, size_t len,
	    struct ledger_prep *, struct ledger_reply *reply);

/* The receipts of the instructions accepted in this transaction are
 * signed on the signing threads and stored here, before the commit; each
 * becomes its reply's body. -1: the store failed (roll back). Whatever
 * the result, nothing is left pending. */
int	ledger_receipts_finish(struct ledger *);
/* A transaction rolled back: its pending receipts are dropped. */
void	ledger_receipts_abandon(struct ledger *);
/* The signing threads receipts go to (NULL: none); before any instruction
 * and after signer_stop no more. */
struct signer;
void	ledger_set_signer(struct ledger *, struct signer *);

/* Inside a transaction: logs a delivery attempt's outcome and moves the
 * row and its instruction on. *parked is set when the row is parked. -1
 * when the store fails; an outcome for an unknown or settled row is logged
 * and ignored. */
int	ledger_delivered(struct ledger *, const struct ipc_delivered *,
	    uint64_t *index, int *parked);

/* Inside a transaction: an operator re-queues a parked row (logged).
 * reply->status 200, 404 (no such parked row) or 500. */
int	ledger_requeue(struct ledger *, uint64_t seq, const char *who,
	    struct ledger_reply *reply);

/* Inside a transaction: the early warnings that come with time rather
 * than with an instruction (remittances overdue, certificates about to
 * expire); each raised once. -1 if the store failed. */
int	ledger_watch(struct ledger *);
/* Inside a transaction: the WAL is past its limit (bytes of limit), once a
 * day while it lasts. -1 if the store failed. */
int	ledger_watch_wal(struct ledger *, uint64_t bytes, uint64_t limit);
/* Inside a transaction: the log-fork alert, raised once per witness, with
 * what the witness said (status, the size it holds) and why it is
 * evidence. -1 if the store failed. */
int	ledger_watch_witness(struct ledger *, const char *witness,
	    uint64_t log_size, uint64_t witness_size, int status,
	    const char *why);
/* Inside a transaction: a frozen log's witnesses cosigned size with the
 * quorum (the log extends what they hold): the log-thawed alert. */
int	ledger_watch_thaw(struct ledger *, uint64_t size, unsigned cosignatures);
/* While frozen, new instructions are refused (503 log-frozen); duplicates
 * still get their receipt. */
void	ledger_set_frozen(struct ledger *, int frozen);

/* GET /v1/transfers/{id}: the instruction's state, receipt, deliveries,
 * payments and, once a checkpoint covers its entry, an inclusion proof.
 * Only parties to it, admin and the auditor see it (404 otherwise). *body
 * is the caller's. */
void	ledger_transfer(struct ledger *, const struct ipc_transfer_query *,
	    struct ipc_audit_reply *, char **body, size_t *blen);

/* Whether the agency (of role) may read an audit entry's bytes: it caused
 * the entry, or is a party to the instruction the entry is about (as for
 * ledger_transfer), or reads alerts and the entry is one, or is admin or
 * the auditor. 1 yes, 0 no, -1 cannot tell (unreadable entry or ledger). */
int	ledger_entry_party(struct ledger *, const char *agency, unsigned role,
	    const char *entry, size_t len);
/* The end-to-end id of line i of disbursement id: unique (a hash of both),
 * at most 35 characters as ISO 20022 requires (dst: at least 36 bytes). */
void	ledger_e2e(const char *id, size_t i, char *dst, size_t dsz);

struct ipc_report_query;
/* GET /v1/reports/reconciliation and GET /v1/alerts. *body is the
 * caller's. */
void	ledger_report(struct ledger *, const struct ipc_report_query *,
	    struct ipc_audit_reply *, char **body, size_t *blen);

#endif
