/* The configuration's sections for the money the gateway moves: where the
 * courier delivers and how it retries ([courier]), each bank's files ([bank
 * NAME]), and the fund's figures ([rules]: capacity, due day, budgets). */
#include <stdio.h>
#include <string.h>

#include "adapters/instr.h"
#include "config.h"
#include "config_parse.h"
#include "util.h"

void
config_courier_kv(struct config_parse *p, const char *k, const char *v)
{
	struct cfg_courier	*c = &p->cf->courier;

	if (strcmp(k, "finance") == 0)
		config_set_text(p, c->finance_name, sizeof(c->finance_name), v,
		    "finance");
	else if (strcmp(k, "hrss") == 0)
		config_set_text(p, c->hrss_name, sizeof(c->hrss_name), v, "hrss");
	else if (strcmp(k, "max_attempts") == 0)
		config_number(p, v, 1, 1000, &c->max_attempts);
	else if (strcmp(k, "retry_min") == 0)
		config_duration(p, v, &c->retry_min_ms);
	else if (strcmp(k, "retry_max") == 0)
		config_duration(p, v, &c->retry_max_ms);
	else
		config_error(p->cf, p->line, "unknown key \"%s\" in [courier]", k);
}

/* "budget = CITY YEAR YUAN": a city's annual expenditure budget. */
static void
config_budget(struct config_parse *p, const char *v)
{
	struct cfg_rules	*r = &p->cf->rules;
	struct cfg_budget	*b;
	char			 city[16], year[16], yuan[32];
	uint64_t		 y;
	size_t			 i;

	if (sscanf(v, "%15s %15s %31s", city, year, yuan) != 3 ||
	    !instr_city_ok(city) || parse_u64(year, 2000, 2099, &y) == -1) {
		config_error(p->cf, p->line,
		    "budget wants \"CITY YEAR YUAN\", e.g. 620100 2024 1500000.00");
		return;
	}
	if (r->nbudgets == CFG_MAX_BUDGETS) {
		config_error(p->cf, p->line, "too many budgets");
		return;
	}
	b = &r->budgets[r->nbudgets];
	if (instr_yuan_to_fen(yuan, &b->fen) == -1) {
		config_error(p->cf, p->line, "budget amount \"%s\" is not yuan "
		    "with two decimals", yuan);
		return;
	}
	for (i = 0; i < r->nbudgets; i++)
		if (strcmp(r->budgets[i].city, city) == 0 &&
		    r->budgets[i].year == y)
			config_error(p->cf, p->line, "budget for %s %llu given twice",
			    city, (unsigned long long)y);
	str_copy(b->city, sizeof(b->city), city);
	b->year = (unsigned)y;
	r->nbudgets++;
}

void
config_rules_kv(struct config_parse *p, const char *k, const char *v)
{
	struct cfg_rules	*r = &p->cf->rules;
	uint64_t		 n;

	if (strcmp(k, "capacity_months") == 0) {
		if (config_number(p, v, 0, 120, &n) == 0)
			r->capacity_months = (unsigned)n;
	} else if (strcmp(k, "remittance_due_day") == 0) {
		if (config_number(p, v, 1, 28, &n) == 0)
			r->due_day = (unsigned)n;
	} else if (strcmp(k, "account_cooling_off") == 0) {
		if (config_number(p, v, 0, 365, &n) == 0)
			r->cooling_off_days = (unsigned)n;
	} else if (strcmp(k, "budget") == 0)
		config_budget(p, v);
	else
		config_error(p->cf, p->line, "unknown key \"%s\" in [rules]", k);
}

void
config_bank_kv(struct config_parse *p, struct cfg_bank *b, const char *k,
    const char *v)
{
	if (strcmp(k, "upstream") == 0)
		config_set_text(p, b->upstream_name, sizeof(b->upstream_name), v,
		    "upstream");
	else if (strcmp(k, "charset") == 0) {
		if (strcmp(v, "UTF-8") != 0 && strcmp(v, "GB18030") != 0 &&
		    strcmp(v, "GBK") != 0)
			config_error(p->cf, p->line,
			    "charset must be UTF-8, GB18030 or GBK");
		else
			str_copy(b->charset, sizeof(b->charset), v);
	} else if (strcmp(k, "signing_key") == 0)
		config_set_path(p, b->signing_key, sizeof(b->signing_key), v);
	else if (strcmp(k, "sm2_id") == 0) {
		if (str_copy(b->sm2_id, sizeof(b->sm2_id), v) == -1)
			config_error(p->cf, p->line, "sm2_id too long");
		b->has_sm2_id = 1;
	} else
		config_error(p->cf, p->line, "unknown key \"%s\" in a bank", k);
}
