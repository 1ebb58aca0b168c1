/* The fund's rules (DESIGN §1) as the ledger checks them inside the keeper's
 * transaction: remittance edges, the plan's lifecycle and dual control,
 * plan and budget limits, bank status, arrivals, and the early
 * warnings that come with an instruction or with time. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "adapters/hrss.h"
#include "ipc.h"
#include "keeper/alerts.h"
#include "keeper/entry.h"
#include "keeper/ledger_int.h"
#include "keeper/registry.h"
#include "keeper/report.h"
#include "log.h"
#include "util.h"

/* A figure of the fund's totals ("collected", "remitted") for a city and
 * period. */
static int
ledger_sum(struct ledger *l, const char *what, const char *city,
    const char *period, int64_t *sum)
{
	sqlite3_stmt	*st = l->s[LG_SUM_CP];
	int		 rc;

	sqlite3_bind_text(st, 1, what, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, city, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, period, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*sum = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : ledger_fail(l, "sum");
}

/* The due date of a period's remittance: the configured day of the next
 * month, as YYYY-MM-DD into dst (11 bytes). */
static int
ledger_due_date(const struct ledger *l, const char *period, char *dst)
{
	char	next[8];

	if (report_next_period(period, next) == -1)
		return -1;
	return str_printf(dst, 11, "%s-%02u", next, l->cf->rules.due_day);
}

int
ledger_check_remittance(struct ledger_ctx *x, struct ledger_reply *r,
    int *refused)
{
	const struct instr_remittance	*rm = &x->in->u.remittance;
	const struct registry_account	*from, *to;

	const struct registry		*reg;

	*refused = 0;
	/* The registry in force on the day the money moves. */
	if ((reg = ledger_registry(x->l, rm->value_date)) == NULL)
		return 0;
	from = registry_by_number(reg, rm->from_account);
	to = registry_by_number(reg, rm->to_account);
	if (from == NULL || to == NULL) {
		*refused = 1;
		return ledger_refuse(x, 422, from == NULL ? "payer-not-in-registry" :
		    "payee-not-in-registry", from == NULL ?
		    "from_account is not in the account registry" :
		    "to_account is not in the account registry", r);
	}
	if (from->role != REG_CITY_SPECIAL || strcmp(from->city, rm->city) != 0 ||
	    to->role != REG_PROVINCE_SPECIAL) {
		*refused = 1;
		return ledger_refuse(x, 422, "edge-not-allowed",
		    "a remittance goes from the city's special account to the "
		    "province-special account", r);
	}
	return 0;
}

int
ledger_check_plan(struct ledger_ctx *x, struct ledger_reply *r, int *refused)
{
	const struct instr_plan	*p = &x->in->u.plan;
	struct ledger_row	 row;
	int			 rc;

	sqlite3_stmt		*st = x->l->s[LG_CURRENT_PLAN];
	char			 current[INSTR_ID_MAX] = "";

	*refused = 1;
	/* One plan stands for a city and month; only an amendment naming it
	 * replaces it. */
	sqlite3_bind_text(st, 1, p->city, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->period, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, LS_SUPERSEDED);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		str_copy(current, sizeof(current), ledger_text(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ledger_fail(x->l, "current plan");
	if (p->amends[0] == '\0') {
		if (current[0] != '\0')
			return ledger_refuse(x, 422, "plan-exists", "a plan for "
			    "this city and period stands; send an amendment "
			    "(amends) naming it", r);
		*refused = 0;
		return 0;
	}
	if ((rc = ledger_find(x->l, "plan", p->amends, &row)) == -1)
		return -1;
	free(row.receipt);
	if (rc == 0 || strcmp(row.city, p->city) != 0 ||
	    strcmp(row.period, p->period) != 0)
		return ledger_refuse(x, 422, "bad-amends",
		    "an amendment must name a plan of the same city and period", r);
	if (strcmp(current, p->amends) != 0)
		return ledger_refuse(x, 422, "plan-superseded",
		    "the plan named by amends was itself amended", r);
	*refused = 0;
	return 0;
}

int
ledger_check_review(struct ledger_ctx *x, struct ledger_row *plan,
    struct ledger_reply *r, int *refused)
{
	const struct instr_review	*rv = &x->in->u.review;
	int				 rc;

	*refused = 1;
	if ((rc = ledger_find(x->l, "plan", rv->plan_id, plan)) == -1)
		return -1;
	if (rc == 0)
		return ledger_refuse(x, 422, "unknown-plan",
		    "no such plan", r);
	/* Dual control: the reviewer is never the one who submitted. */
	if (strcmp(plan->agency, x->m->agency) == 0)
		return ledger_refuse(x, 422, "same-agency-review",
		    "a plan is reviewed by another authority than its submitter",
		    r);
	if (plan->state != LS_SUBMITTED)
		return ledger_refuse(x, 409, "plan-already-reviewed",
		    "the plan is not waiting for a review", r);
	if (rv->approved && rv->approved_total_fen > plan->amount)
		return ledger_refuse(x, 422, "review-exceeds-plan",
		    "approved_total_fen exceeds the plan's total", r);
	/* An amendment inherits what its predecessor already paid. */
	if (rv->approved && rv->approved_total_fen < plan->disbursed)
		return ledger_refuse(x, 422, "review-below-disbursed",
		    "approved_total_fen is less than already disbursed", r);
	*refused = 0;
	return 0;
}

static const struct cfg_bank *
ledger_bank(struct ledger *l, const char *name, size_t *idx)
{
	size_t	i;

	for (i = 0; i < l->cf->nbanks; i++)
		if (strcmp(l->cf->banks[i].name, name) == 0) {
			*idx = i;
			return &l->cf->banks[i];
		}
	return NULL;
}

void
ledger_e2e(const char *id, size_t i, char *dst, size_t dsz)
{
	uint8_t	h[32];
	char	hex[65], in[64];

	str_printf(in, sizeof(in), "%s/%zu", id, i);
	SHA256((const unsigned char *)in, strlen(in), h);
	hex_encode(hex, h, 12);
	str_printf(dst, dsz, "E%s-%02zu", hex, i + 1);
}

/* The city's annual budget, if one is configured: 0 within it, 1 refused
 * (logged), -1 on a store failure. Each line is checked with what the year
 * has spent so far plus the file's earlier lines for the same city. */
static int
ledger_check_budget(struct ledger_ctx *x, const char *city, const char *period,
    int64_t amount, int64_t pending, struct ledger_reply *r)
{
	const struct cfg_rules	*ru = &x->l->cf->rules;
	sqlite3_stmt		*st = x->l->s[LG_YEAR_SPENT];
	char			 year[5];
	int64_t			 spent = 0;
	size_t			 i;
	int			 rc;

	memcpy(year, period, 4);
	year[4] = '\0';
	for (i = 0; i < ru->nbudgets; i++)
		if (strcmp(ru->budgets[i].city, city) == 0 &&
		    (unsigned)(year[0] - '0') * 1000 + (unsigned)(year[1] - '0') *
		    100 + (unsigned)(year[2] - '0') * 10 +
		    (unsigned)(year[3] - '0') == ru->budgets[i].year)
			break;
	if (i == ru->nbudgets)
		return 0;
	sqlite3_bind_text(st, 1, city, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, year, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		spent = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return ledger_fail(x->l, "year spent");
	/* pending: earlier lines of the same file, for the same city-year. */
	spent += pending;
	if (spent + amount <= ru->budgets[i].fen)
		return 0;
	if (ledger_refuse_alert(x, 422, "budget-exceeded", "the city's annual "
	    "budget would be exceeded", r, city, period, json_pack("{s:s, "
	    "s:I, s:I, s:I}", "year", year, "budget_fen",
	    (json_int_t)ru->budgets[i].fen, "spent_fen", (json_int_t)spent,
	    "requested_fen", (json_int_t)amount)) == -1)
		return -1;
	return 1;
}

/* Disbursement: each line's plan approved and not exceeded, the payee
 * from the registry, the bank and its file; builds the signed pain.001. */
int
ledger_check_disbursement(struct ledger_ctx *x, struct pain001_input *pin,
    const struct cfg_bank **bank, size_t *bidx, struct ledger_reply *r,
    int *refused)
{
	const struct instr_disbursement	*d = &x->in->u.disbursement;
	const struct registry_account	*deb, *pay;
	const struct registry		*reg;
	struct ledger_row		 plan;
	char				 msg[160];
	int64_t				 pending;
	size_t				 i, j;
	int				 rc;

	*refused = 1;
	/* Payees from the registry in force on the execution date. */
	if ((reg = ledger_registry(x->l, d->requested_execution_date)) ==
	    NULL || (deb = registry_find(reg, REG_PROVINCE_SPECIAL, NULL)) ==
	    NULL)
		return ledger_refuse(x, 503, "no-registry",
		    "no account registry is configured", r);
	if ((*bank = ledger_bank(x->l, d->bank[0] ? d->bank : deb->bank,
	    bidx)) == NULL)
		return ledger_refuse(x, 422, "unknown-bank",
		    "no configured bank by that name holds the account", r);
	memset(pin, 0, sizeof(*pin));
	str_copy(pin->msg_id, sizeof(pin->msg_id), x->in->id);
	entry_time(pin->created_at, sizeof(pin->created_at));
	str_copy(pin->debtor_name, sizeof(pin->debtor_name), deb->holder);
	str_copy(pin->debtor_account, sizeof(pin->debtor_account), deb->number);
	str_copy(pin->debtor_bank, sizeof(pin->debtor_bank), deb->cnaps);
	for (i = 0; i < d->nlines; i++) {
		const struct instr_disbursement_line *ln = &d->lines[i];
		struct pain001_line *pl = &pin->lines[i];

		if ((rc = ledger_find(x->l, "plan", ln->plan_id, &plan)) == -1)
			return -1;
		free(plan.receipt);
		str_printf(msg, sizeof(msg), "plan %s", ln->plan_id);
		if (rc == 0)
			return ledger_refuse(x, 422, "unknown-plan", msg, r);
		if (plan.state == LS_SUPERSEDED)
			return ledger_refuse(x, 422, "plan-superseded", msg, r);
		if (plan.state != LS_APPROVED)
			return ledger_refuse(x, 422, "plan-not-approved", msg, r);
		if (plan.approved < 0 ||
		    ln->amount_fen > plan.approved - plan.disbursed)
			return ledger_refuse_alert(x, 422, "plan-exceeded", msg, r,
			    plan.city, plan.period, json_pack("{s:s, s:I, s:I, "
			    "s:I}", "plan_id", ln->plan_id, "approved_fen",
			    (json_int_t)plan.approved, "disbursed_fen",
			    (json_int_t)plan.disbursed, "requested_fen",
			    (json_int_t)ln->amount_fen));
		for (j = 0, pending = 0; j < i; j++)
			if (strcmp(pin->lines[j].city, plan.city) == 0 &&
			    strncmp(x->line_period[j], plan.period, 4) == 0)
				pending += pin->lines[j].amount_fen;
		if ((rc = ledger_check_budget(x, plan.city, plan.period,
		    ln->amount_fen, pending, r)) != 0)
			return rc == 1 ? 0 : -1;
		if ((pay = registry_find(reg, REG_CITY_EXPENDITURE,
		    plan.city)) == NULL)
			return ledger_refuse(x, 422, "payee-not-in-registry", msg,
			    r);
		str_copy(x->line_period[i], sizeof(x->line_period[i]),
		    plan.period);
		ledger_e2e(x->in->id, i, pl->end_to_end_id,
		    sizeof(pl->end_to_end_id));
		pl->amount_fen = ln->amount_fen;
		str_copy(pl->creditor_name, sizeof(pl->creditor_name),
		    pay->holder);
		str_copy(pl->creditor_account, sizeof(pl->creditor_account),
		    pay->number);
		str_copy(pl->creditor_bank, sizeof(pl->creditor_bank), pay->cnaps);
		str_copy(pl->city, sizeof(pl->city), plan.city);
		str_copy(pl->plan_id, sizeof(pl->plan_id), ln->plan_id);
	}
	pin->nlines = d->nlines;
	*refused = 0;
	return 0;
}

static int
ledger_pay_set(struct ledger *l, const char *e2e, const char *status,
    const char *reason, const char *ref)
{
	sqlite3_stmt	*st = l->s[LG_PAY_GET];
	char		 old[8] = "", plan[INSTR_ID_MAX] = "";
	int64_t		 amount = 0, back = 0;
	int		 rc;

	/* A payment the bank rejects never left: its plan gets the room back
	 * (and takes it again if the bank changes its mind). */
	sqlite3_bind_text(st, 1, e2e, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		str_copy(old, sizeof(old), ledger_text(st, 1));
		str_copy(plan, sizeof(plan), ledger_text(st, 2));
		amount = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return ledger_fail(l, "payment");
	if (strcmp(status, "RJCT") == 0 && strcmp(old, "RJCT") != 0)
		back = -amount;
	else if (strcmp(status, "RJCT") != 0 && strcmp(old, "RJCT") == 0)
		back = amount;
	if (back != 0) {
		st = l->s[LG_DISBURSED];
		sqlite3_bind_int64(st, 1, back);
		sqlite3_bind_text(st, 2, plan, -1, SQLITE_STATIC);
		if (ledger_step(l, LG_DISBURSED, "disbursed") == -1)
			return -1;
	}
	st = l->s[LG_PAY_SET];
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	if (reason && reason[0])
		sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	if (ref && ref[0])
		sqlite3_bind_text(st, 3, ref, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_text(st, 4, e2e, -1, SQLITE_STATIC);
	return ledger_step(l, LG_PAY_SET, "payment status");
}

/* Which disbursement the payment e2e belongs to: 1 (into d), 0, -1. */
static int
ledger_pay_owner(struct ledger *l, const char *e2e, char *d, size_t dsz)
{
	sqlite3_stmt	*st = l->s[LG_PAY_GET];
	int		 rc;

	sqlite3_bind_text(st, 1, e2e, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = str_copy(d, dsz, ledger_text(st, 0)) == 0 ? 1 : -1;
	else
		rc = rc == SQLITE_DONE ? 0 : ledger_fail(l, "payment");
	sqlite3_reset(st);
	return rc;
}

int
ledger_check_status(struct ledger_ctx *x, struct ledger_row *d,
    struct ledger_reply *r, int *refused)
{
	const struct instr_bank_status	*b = &x->in->u.bank_status;
	char				 owner[INSTR_ID_MAX];
	size_t				 i;
	int				 rc;

	*refused = 1;
	if ((rc = ledger_find(x->l, "disbursement", b->original_msg_id, d)) == -1)
		return -1;
	if (rc == 0)
		return ledger_refuse(x, 422, "unknown-payment",
		    "OrgnlMsgId names no disbursement file", r);
	if (strcmp(d->bank, x->m->agency) != 0)
		return ledger_refuse(x, 403, "not-your-payment",
		    "the file was sent to another bank", r);
	for (i = 0; i < b->ntx; i++) {
		if ((rc = ledger_pay_owner(x->l, b->tx[i].end_to_end_id, owner,
		    sizeof(owner))) == -1)
			return -1;
		if (rc == 0 || strcmp(owner, b->original_msg_id) != 0)
			return ledger_refuse(x, 422, "unknown-payment",
			    "an OrgnlEndToEndId is not a payment of the file", r);
	}
	*refused = 0;
	return 0;
}

/* Applies the report to the payments; *ev is the disbursement's event. */
int
ledger_apply_status(struct ledger_ctx *x, enum ledger_event *ev)
{
	const struct instr_bank_status	*b = &x->in->u.bank_status;
	sqlite3_stmt			*st;
	size_t				 i;
	int				 n, settled, rejected, rc;

	for (i = 0; i < b->ntx; i++)
		if (ledger_pay_set(x->l, b->tx[i].end_to_end_id, b->tx[i].status,
		    b->tx[i].reason, b->tx[i].bank_reference) == -1)
			return -1;
	if (b->ntx == 0 && b->group_status[0] != '\0') {
		/* A group status without transactions speaks for all. */
		char	e2e[64][INSTR_ID_MAX];
		size_t	k = 0;

		st = x->l->s[LG_PAY_OF];
		sqlite3_bind_text(st, 1, b->original_msg_id, -1, SQLITE_STATIC);
		while (k < 64 && sqlite3_step(st) == SQLITE_ROW)
			str_copy(e2e[k++], INSTR_ID_MAX, ledger_text(st, 0));
		sqlite3_reset(st);
		for (i = 0; i < k; i++)
			if (ledger_pay_set(x->l, e2e[i], b->group_status,
			    b->group_reason, NULL) == -1)
				return -1;
	}
	st = x->l->s[LG_PAY_SUM];
	sqlite3_bind_text(st, 1, b->original_msg_id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return ledger_fail(x->l, "payment sum");
	}
	n = sqlite3_column_int(st, 0);
	settled = sqlite3_column_int(st, 1);
	rejected = sqlite3_column_int(st, 2);
	sqlite3_reset(st);
	*ev = rejected > 0 ? LE_BANK_REJECTED : settled == n && n > 0 ?
	    LE_BANK_SETTLED : LE_BANK_PENDING;
	return 0;
}

/* Status notices to hrss and finance, one per transaction reported. */
int
ledger_notices(struct ledger_ctx *x, uint64_t index)
{
	const struct instr_bank_status	*b = &x->in->u.bank_status;
	const int			 ups[2] = { x->l->cf->courier.hrss,
					    x->l->cf->courier.finance };
	struct hrss_notice		 n;
	char				*body, idem[80];
	size_t				 i, len, u;

	for (i = 0; i < b->ntx; i++) {
		memset(&n, 0, sizeof(n));
		str_copy(n.disbursement_id, sizeof(n.disbursement_id),
		    b->original_msg_id);
		str_copy(n.end_to_end_id, sizeof(n.end_to_end_id),
		    b->tx[i].end_to_end_id);
		str_copy(n.status, sizeof(n.status), b->tx[i].status);
		str_copy(n.reason, sizeof(n.reason), b->tx[i].reason);
		str_copy(n.bank_reference, sizeof(n.bank_reference),
		    b->tx[i].bank_reference);
		n.audit_index = index;
		if (hrss_status_notice(&n, &body, &len) == -1)
			return -1;
		str_printf(idem, sizeof(idem), "%s:%s", x->in->id,
		    b->tx[i].end_to_end_id);
		for (u = 0; u < 2; u++)
			if (ledger_queue(x, ups[u], LEDGER_PATH_STATUS,
			    "application/json", idem, "", body, len) == -1) {
				free(body);
				return -1;
			}
		free(body);
	}
	return 0;
}

/* An amendment replaces the plan it names, which keeps no further say;
 * what was already paid under it counts against the amendment. */
int
ledger_amend(struct ledger_ctx *x, const char *old)
{
	struct ledger_row	row;
	sqlite3_stmt		*st = x->l->s[LG_CARRY];
	int			rc;

	if ((rc = ledger_find(x->l, "plan", old, &row)) != 1)
		return -1;
	free(row.receipt);
	if (ledger_event(x->l, INSTR_PLAN, old, LE_SUPERSEDED) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, row.disbursed);
	sqlite3_bind_text(st, 2, x->in->id, -1, SQLITE_STATIC);
	return ledger_step(x->l, LG_CARRY, "carry");
}

/* After a remittance: short of what tax collected for that city and month,
 * or after the due day, is an early warning (alert; reconciliation flags
 * it too). */
int
ledger_watch_remittance(struct ledger_ctx *x, uint64_t index)
{
	const struct instr_remittance	*rm = &x->in->u.remittance;
	int64_t				 collected, remitted;
	char				 due[11];
	int				 raised;

	if (ledger_sum(x->l, "collected", rm->city, rm->period, &collected) ==
	    -1 || ledger_sum(x->l, "remitted", rm->city, rm->period,
	    &remitted) == -1)
		return -1;
	if (remitted < collected && alerts_raise(x->l->al, "short-remittance",
	    rm->city, rm->period, "", json_pack("{s:I, s:I, s:s}",
	    "collected_fen", (json_int_t)collected, "remitted_fen",
	    (json_int_t)remitted, "remittance_id", x->in->id), UINT64_MAX,
	    &raised) == -1)
		return -1;
	(void)index;
	if (ledger_due_date(x->l, rm->period, due) == 0 &&
	    strcmp(rm->value_date, due) > 0 && alerts_raise(x->l->al,
	    "late-remittance", rm->city, rm->period, "", json_pack("{s:s, s:s, "
	    "s:s}", "due_date", due, "value_date", rm->value_date,
	    "remittance_id", x->in->id), UINT64_MAX, &raised) == -1)
		return -1;
	return 0;
}

/* Payment capacity in months below the threshold is an early warning;
 * raised once per month of plans paid. */
int
ledger_watch_capacity(struct ledger *l, const char *period)
{
	int64_t	balance, monthly;
	double	months;
	int	raised;

	char	m[32];

	/* Nothing spent yet (monthly 0): capacity is unbounded. An overdrawn
	 * fund has negative capacity, the most urgent case of all. */
	if (l->cf->rules.capacity_months == 0 ||
	    report_capacity(l->db, &balance, &monthly, &months) == -1 ||
	    monthly == 0 || months >= (double)l->cf->rules.capacity_months)
		return 0;
	/* Canonical JSON carries no floats: the figure is a decimal string. */
	str_printf(m, sizeof(m), "%.2f", months);
	return alerts_raise(l->al, "capacity-low", "", period, "",
	    json_pack("{s:I, s:I, s:s, s:i}", "balance_fen", (json_int_t)balance,
	    "monthly_expenditure_fen", (json_int_t)monthly, "capacity_months",
	    m, "threshold_months", (int)l->cf->rules.capacity_months),
	    UINT64_MAX, &raised);
}

/* A bank's notification: credits to the province-special account are
 * matched to the remittance they pay (by end-to-end id, else by the
 * remittance id in the reference); the rest are unmatched arrivals. */
int
ledger_arrivals(struct ledger_ctx *x)
{
	const struct instr_bank_notification	*b = &x->in->u.bank_notification;
	const struct registry_account		*acct;
	const struct registry			*reg;
	struct ledger_row			 rem;
	sqlite3_stmt				*st = x->l->s[LG_ARRIVAL];
	char					 subject[64];
	const char				*by;
	size_t					 i;
	int					 matched, raised, fund;

	for (i = 0; i < b->nentries; i++) {
		const struct instr_bank_entry *en = &b->entries[i];

		reg = ledger_registry(x->l, en->booking_date);
		acct = reg ? registry_by_number(reg, en->account) : NULL;
		fund = acct != NULL && acct->role == REG_PROVINCE_SPECIAL &&
		    en->credit;
		matched = 0;
		by = NULL;
		memset(&rem, 0, sizeof(rem));
		if (fund) {
			if (en->end_to_end_id[0] != '\0' &&
			    (matched = ledger_find(x->l, "remittance",
			    en->end_to_end_id, &rem)) == 1)
				by = en->end_to_end_id;
			if (matched == 0 && instr_id_ok(en->reference) &&
			    (matched = ledger_find(x->l, "remittance",
			    en->reference, &rem)) == 1)
				by = en->reference;
			free(rem.receipt);
			if (matched == -1)
				return -1;
		}
		sqlite3_bind_text(st, 1, x->in->id, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, (int)i);
		sqlite3_bind_text(st, 3, en->account, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, en->credit ? en->amount_fen :
		    -en->amount_fen);
		sqlite3_bind_text(st, 5, en->booking_date, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, en->end_to_end_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, en->reference, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 11, fund && matched == 0);
		if (matched == 1) {
			sqlite3_bind_text(st, 8, by, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 9, rem.city, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 10, rem.period, -1,
			    SQLITE_TRANSIENT);
		} else {
			sqlite3_bind_null(st, 8);
			sqlite3_bind_null(st, 9);
			sqlite3_bind_null(st, 10);
		}
		if (ledger_step(x->l, LG_ARRIVAL, "arrival") == -1)
			return -1;
		str_printf(subject, sizeof(subject), "%s#%zu", x->in->id, i);
		if (fund && matched == 0 && alerts_raise(x->l->al, "unmatched-arrival", "", "",
		    subject, json_pack("{s:s, s:I, "
		    "s:s, s:s, s:s}", "account", en->account, "amount_fen",
		    (json_int_t)en->amount_fen, "booking_date", en->booking_date,
		    "end_to_end_id", en->end_to_end_id, "reference",
		    en->reference), UINT64_MAX, &raised) == -1)
			return -1;
	}
	return 0;
}

/* Whether the sender's role (and a city's bound city) may send x. */
int
ledger_sender_ok(const struct ledger_ctx *x)
{
#define R(r)	(1u << (r))
	static const unsigned	 sender[] = {
		[INSTR_COLLECTION] = R(ROLE_TAX),
		[INSTR_REMITTANCE] = R(ROLE_FINANCE_CITY),
		[INSTR_PLAN] = R(ROLE_HRSS),
		[INSTR_REVIEW] = R(ROLE_FINANCE),
		[INSTR_DISBURSEMENT] = R(ROLE_HRSS),
		[INSTR_BANK_STATUS] = R(ROLE_BANK),
		[INSTR_BANK_NOTIFICATION] = R(ROLE_BANK),
		[INSTR_ACCOUNT_CHANGE] = R(ROLE_FINANCE) | R(ROLE_HRSS),
		[INSTR_ACCOUNT_REVIEW] = R(ROLE_FINANCE) | R(ROLE_HRSS),
	};
#undef R

	if ((size_t)x->in->kind >= nitems(sender) || x->m->role >= ROLE_COUNT ||
	    (sender[x->in->kind] & (1u << x->m->role)) == 0)
		return 0;
	if (x->in->kind == INSTR_REMITTANCE &&
	    (!ipc_str_ok(x->m->city, sizeof(x->m->city)) ||
	    strcmp(x->m->city, x->in->u.remittance.city) != 0))
		return 0;
	return 1;
}

/* Remittances not received in full by their due day, over the last two
 * years of months. Candidates are gathered first: raising an alert writes,
 * which must not happen under an open cursor. */
#define LEDGER_OVERDUE_MAX	256	/* per pass; the rest the next minute */
static int
ledger_watch_overdue(struct ledger *l, const char *today)
{
	struct {
		char	city[8], period[8], due[11];
		int64_t	collected, remitted;
	}		*c;
	sqlite3_stmt	*st = l->s[LG_OVERDUE];
	char		 from[8];
	size_t		 n = 0, i;
	int		 rc, raised;

	if ((c = calloc(LEDGER_OVERDUE_MAX, sizeof(*c))) == NULL)
		return -1;
	/* YYYY-MM two years back: the year's digits minus two. */
	str_printf(from, sizeof(from), "%04d-%.2s", (today[0] - '0') * 1000 +
	    (today[1] - '0') * 100 + (today[2] - '0') * 10 + (today[3] - '0') - 2,
	    today + 5);
	sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
	while (n < LEDGER_OVERDUE_MAX && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		str_copy(c[n].city, sizeof(c[n].city), ledger_text(st, 0));
		str_copy(c[n].period, sizeof(c[n].period), ledger_text(st, 1));
		c[n].collected = sqlite3_column_int64(st, 2);
		c[n].remitted = sqlite3_column_int64(st, 3);
		if (c[n].remitted >= c[n].collected ||
		    ledger_due_date(l, c[n].period, c[n].due) == -1 ||
		    strcmp(today, c[n].due) <= 0 ||
		    report_alerted_rule(l->db, "late-remittance", c[n].city,
		    c[n].period))
			continue;
		n++;
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++)
		if (alerts_raise(l->al, "late-remittance", c[i].city,
		    c[i].period, "", json_pack("{s:s, s:I, s:I}", "due_date",
		    c[i].due, "collected_fen", (json_int_t)c[i].collected,
		    "remitted_fen", (json_int_t)c[i].remitted), UINT64_MAX,
		    &raised) == -1) {
			free(c);
			return -1;
		}
	free(c);
	return 0;
}

/* Certificates the configuration names that end within 30 days, and CRLs
 * whose nextUpdate is within 3 days: a CRL is re-published long before
 * (daily, for a week's validity, is common), and a lapsed one makes every
 * certificate of its CA fail verification. */
static int
ledger_watch_certs(struct ledger *l)
{
	const struct metrics_cert *certs = l->certs;
	size_t			n = l->ncerts, i;
	time_t			now = time(NULL);
	int			raised;
	char			when[32];
	struct tm		tm;

	for (i = 0; i < n; i++) {
		if (certs[i].not_after - now > (certs[i].crl ? 3 : 30) * 86400)
			continue;
		gmtime_r(&certs[i].not_after, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (alerts_raise(l->al, certs[i].crl ? "crl-next-update" :
		    "certificate-expiry", "", "", certs[i].path,
		    json_pack("{s:s, s:I}", certs[i].crl ? "next_update" :
		    "not_after", when, "seconds_left",
		    (json_int_t)(certs[i].not_after - now)), UINT64_MAX,
		    &raised) == -1)
			return -1;
	}
	return 0;
}

int
ledger_watch(struct ledger *l)
{
	char	today[40];

	entry_time(today, sizeof(today));
	today[10] = '\0';
	/* The first time (or after a failed first time): the file's registry
	 * becomes the log's. */
	if (ledger_accounts_seed(l) == -1 ||
	    ledger_watch_overdue(l, today) == -1 || ledger_watch_certs(l) == -1)
		return -1;
	return 0;
}

int
ledger_watch_wal(struct ledger *l, uint64_t bytes, uint64_t limit)
{
	char	today[40];
	int	raised;

	entry_time(today, sizeof(today));
	today[10] = '\0';
	return alerts_raise(l->al, "wal-over-limit", "", "", today,
	    json_pack("{s:I, s:I}", "wal_bytes", (json_int_t)bytes,
	    "wal_limit_bytes", (json_int_t)limit), UINT64_MAX, &raised);
}

void
ledger_set_frozen(struct ledger *l, int frozen)
{
	l->frozen = frozen;
}

int
ledger_watch_witness(struct ledger *l, const char *witness, uint64_t log_size,
    uint64_t witness_size, int status, const char *why)
{
	int	raised;

	return alerts_raise(l->al, "log-fork", "", "", witness,
	    json_pack("{s:s, s:I, s:I, s:i, s:s}", "witness", witness,
	    "log_size", (json_int_t)log_size, "witness_size",
	    (json_int_t)witness_size, "status", status, "why", why),
	    UINT64_MAX, &raised);
}

int
ledger_watch_thaw(struct ledger *l, uint64_t size, unsigned cosignatures)
{
	char	subject[32];
	int	raised;

	(void)str_printf(subject, sizeof(subject), "%llu",
	    (unsigned long long)size);
	return alerts_raise(l->al, "log-thawed", "", "", subject,
	    json_pack("{s:I, s:i}", "cosigned_size", (json_int_t)size,
	    "cosignatures", (int)cosignatures), UINT64_MAX, &raised);
}
