/* The inspection report written out: one self-contained HTML document (the
 * supervisor files it as it is) and RFC 4180 CSV (for a spreadsheet). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapters/instr.h"
#include "keeper/inspect.h"
#include "log.h"
#include "util.h"

/* A growing output; err set by the first write that failed, after which
 * every write is a no-op and the whole document is refused. */
struct inspect_buf {
	char	*p;
	size_t	 len, cap;
	int	 err;
};

static void
inspect_put(struct inspect_buf *b, const char *s, size_t n)
{
	char	*np;
	size_t	 ncap;

	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 8192;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->err = 1;
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
inspect_puts(struct inspect_buf *b, const char *s)
{
	inspect_put(b, s, strlen(s));
}

static void inspect_putf(struct inspect_buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Short formatted pieces only (numbers, fixed words): longer text goes
 * through inspect_puts or an escaper. */
static void
inspect_putf(struct inspect_buf *b, const char *fmt, ...)
{
	char	line[256];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		b->err = 1;
		return;
	}
	inspect_put(b, line, (size_t)n);
}

/* Text as HTML character data or a quoted attribute value. */
static void
inspect_html_text(struct inspect_buf *b, const char *s)
{
	const char	*p, *run;

	if (s == NULL)
		return;
	for (run = p = s; *p != '\0'; p++) {
		const char *ent = NULL;

		switch (*p) {
		case '&': ent = "&amp;"; break;
		case '<': ent = "&lt;"; break;
		case '>': ent = "&gt;"; break;
		case '"': ent = "&quot;"; break;
		case '\'': ent = "&#39;"; break;
		default: break;
		}
		if (ent != NULL) {
			inspect_put(b, run, (size_t)(p - run));
			inspect_puts(b, ent);
			run = p + 1;
		}
	}
	inspect_put(b, run, (size_t)(p - run));
}

/* A CSV field: quoted when it holds a comma, a quote or a line break
 * (RFC 4180 §2), with inner quotes doubled. */
static void
inspect_csv_field(struct inspect_buf *b, const char *s, int last)
{
	const char	*p, *run;

	if (s == NULL)
		s = "";
	if (strpbrk(s, ",\"\r\n") == NULL)
		inspect_puts(b, s);
	else {
		inspect_puts(b, "\"");
		for (run = p = s; *p != '\0'; p++)
			if (*p == '"') {
				inspect_put(b, run, (size_t)(p - run + 1));
				inspect_puts(b, "\"");
				run = p + 1;
			}
		inspect_put(b, run, (size_t)(p - run));
		inspect_puts(b, "\"");
	}
	inspect_puts(b, last ? "\r\n" : ",");
}

static const char *
inspect_str(const json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* fen as yuan with two decimals into dst (at least 32 bytes). */
static void
inspect_yuan(char *dst, size_t dsz, json_int_t fen)
{
	if (instr_fen_to_yuan(fen < 0 ? -fen : fen, dst + (fen < 0),
	    dsz - (fen < 0)) == -1)
		str_copy(dst, dsz, "?");
	else if (fen < 0)
		dst[0] = '-';
}

/* An integer member as text ("" when absent). */
static void
inspect_intstr(char *dst, size_t dsz, const json_t *o, const char *key)
{
	const json_t	*v = json_object_get(o, key);

	if (json_is_integer(v))
		str_printf(dst, dsz, "%lld", (long long)json_integer_value(v));
	else
		dst[0] = '\0';
}

/* An alert's figures for a reader: "name: value" joined by "; ", amounts
 * (members ending in _fen) in yuan. The caller frees the result. */
static char *
inspect_figures(json_t *fig)
{
	struct inspect_buf	 b = { NULL, 0, 0, 0 };
	const char		*k;
	json_t			*v;
	char			 y[32], *s;
	size_t			 kl, n = 0;

	inspect_puts(&b, "");
	json_object_foreach(fig, k, v) {
		kl = strlen(k);
		if (n++ > 0)
			inspect_puts(&b, "; ");
		if (kl > 4 && strcmp(k + kl - 4, "_fen") == 0 &&
		    json_is_integer(v)) {
			inspect_put(&b, k, kl - 4);
			inspect_yuan(y, sizeof(y), json_integer_value(v));
			inspect_puts(&b, ": ");
			inspect_puts(&b, y);
			inspect_puts(&b, " yuan");
			continue;
		}
		inspect_puts(&b, k);
		inspect_puts(&b, ": ");
		if (json_is_string(v))
			inspect_puts(&b, json_string_value(v));
		else if ((s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS |
		    JSON_ENCODE_ANY)) != NULL) {
			inspect_puts(&b, s);
			free(s);
		} else
			b.err = 1;
	}
	if (b.err) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static const char *const inspect_figs[] = { "collected_fen", "remitted_fen",
    "arrived_fen", "planned_fen", "reviewed_fen", "disbursed_fen",
    "settled_fen" };

/* Flags of a reconciliation row joined by sep. */
static void
inspect_flags(struct inspect_buf *b, const json_t *row, const char *sep,
    int html)
{
	const json_t	*f;
	size_t		 i;

	json_array_foreach(json_object_get(row, "flags"), i, f) {
		if (i > 0)
			inspect_puts(b, sep);
		if (html)
			inspect_html_text(b, json_string_value(f));
		else
			inspect_puts(b, json_string_value(f));
	}
}

static const char inspect_css[] =
    "body{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\","
    "\"Microsoft YaHei\",sans-serif;margin:2em;color:#111}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;"
    "border-bottom:1px solid #999}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}"
    "th,td{border:1px solid #bbb;padding:.2em .5em;vertical-align:top}"
    "th{background:#eee;text-align:left}td.n{text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}"
    "tr.total td{font-weight:bold}code{font-size:.85em;word-break:break-all}"
    ".open{color:#a00;font-weight:bold}.closed{color:#060}"
    ".empty{font-style:italic}"
    "@media print{body{margin:0}}";

static void
inspect_html_cell(struct inspect_buf *b, const char *s, const char *cls)
{
	if (cls != NULL)
		inspect_putf(b, "<td class=\"%s\">", cls);
	else
		inspect_puts(b, "<td>");
	inspect_html_text(b, s);
	inspect_puts(b, "</td>");
}

static void
inspect_html_head(struct inspect_buf *b, const char *const *cols, size_t n)
{
	size_t	i;

	inspect_puts(b, "<table><thead><tr>");
	for (i = 0; i < n; i++) {
		inspect_puts(b, "<th>");
		inspect_html_text(b, cols[i]);
		inspect_puts(b, "</th>");
	}
	inspect_puts(b, "</tr></thead><tbody>\n");
}

static void
inspect_html_rec(struct inspect_buf *b, const json_t *rec)
{
	static const char *const cols[] = { "city", "code", "collected",
	    "remitted", "arrived", "planned", "reviewed", "disbursed",
	    "settled", "flags" };
	const json_t	*row, *fund = json_object_get(rec, "fund");
	char		 y[32];
	size_t		 i, k;

	inspect_puts(b, "<h2>1. Reconciliation per city (yuan)</h2>\n");
	inspect_html_head(b, cols, nitems(cols));
	json_array_foreach(json_object_get(rec, "cities"), i, row) {
		inspect_puts(b, "<tr>");
		inspect_html_cell(b, inspect_str(row, "name"), NULL);
		inspect_html_cell(b, inspect_str(row, "city_code"), NULL);
		for (k = 0; k < nitems(inspect_figs); k++) {
			inspect_yuan(y, sizeof(y), json_integer_value(
			    json_object_get(row, inspect_figs[k])));
			inspect_html_cell(b, y, "n");
		}
		inspect_puts(b, "<td>");
		inspect_flags(b, row, " ", 1);
		inspect_puts(b, "</td></tr>\n");
	}
	inspect_puts(b, "<tr class=\"total\"><td colspan=\"2\">total</td>");
	for (k = 0; k < nitems(inspect_figs); k++) {
		inspect_yuan(y, sizeof(y), json_integer_value(json_object_get(
		    json_object_get(rec, "totals"), inspect_figs[k])));
		inspect_html_cell(b, y, "n");
	}
	inspect_puts(b, "<td></td></tr>\n</tbody></table>\n");
	json_array_foreach(json_object_get(rec, "unmatched_arrivals"), i, row) {
		inspect_yuan(y, sizeof(y), json_integer_value(json_object_get(
		    row, "amount_fen")));
		inspect_puts(b, "<p>Unmatched arrival: ");
		inspect_html_text(b, y);
		inspect_puts(b, " yuan on ");
		inspect_html_text(b, inspect_str(row, "account"));
		inspect_puts(b, ", ");
		inspect_html_text(b, inspect_str(row, "booking_date"));
		inspect_puts(b, ", reference ");
		inspect_html_text(b, inspect_str(row, "reference"));
		inspect_puts(b, "</p>\n");
	}
	inspect_yuan(y, sizeof(y), json_integer_value(json_object_get(fund,
	    "balance_fen")));
	inspect_puts(b, "<p>Fund balance ");
	inspect_html_text(b, y);
	inspect_puts(b, " yuan; payment capacity ");
	if (json_is_real(json_object_get(fund, "capacity_months")))
		inspect_putf(b, "%.2f months", json_real_value(json_object_get(
		    fund, "capacity_months")));
	else
		inspect_puts(b, "unbounded (nothing paid yet)");
	inspect_puts(b, json_is_true(json_object_get(rec, "clean")) ?
	    "; the month is clean.</p>\n" : "; the month is NOT clean.</p>\n");
}

static void
inspect_html_alerts(struct inspect_buf *b, const json_t *al)
{
	static const char *const cols[] = { "audit index", "time", "rule",
	    "city", "period", "subject", "figures", "state", "how it ended" };
	const json_t	*a;
	char		 n[24], *fig;
	size_t		 i;

	inspect_puts(b, "<h2>2. Alerts and how they ended</h2>\n");
	if (json_array_size(al) == 0) {
		inspect_puts(b, "<p class=\"empty\">No alert.</p>\n");
		return;
	}
	inspect_html_head(b, cols, nitems(cols));
	json_array_foreach(al, i, a) {
		inspect_intstr(n, sizeof(n), a, "audit_index");
		inspect_puts(b, "<tr>");
		inspect_html_cell(b, n, "n");
		inspect_html_cell(b, inspect_str(a, "time"), NULL);
		inspect_html_cell(b, inspect_str(a, "rule"), NULL);
		inspect_html_cell(b, inspect_str(a, "city_code"), NULL);
		inspect_html_cell(b, inspect_str(a, "period"), NULL);
		inspect_html_cell(b, inspect_str(a, "subject"), NULL);
		if ((fig = inspect_figures(json_object_get(a, "figures"))) ==
		    NULL)
			b->err = 1;
		inspect_html_cell(b, fig, NULL);
		free(fig);
		inspect_html_cell(b, inspect_str(a, "state"),
		    strcmp(inspect_str(a, "state"), "open") == 0 ? "open" :
		    strcmp(inspect_str(a, "state"), "closed") == 0 ? "closed" :
		    NULL);
		inspect_html_cell(b, inspect_str(a, "ended"), NULL);
		inspect_puts(b, "</tr>\n");
	}
	inspect_puts(b, "</tbody></table>\n");
}

static void
inspect_html_changes(struct inspect_buf *b, const json_t *ch)
{
	static const char *const cols[] = { "audit index", "time", "kind",
	    "id", "agency", "what it says" };
	const json_t	*c;
	char		 n[24];
	size_t		 i;

	inspect_puts(b, "<h2>3. Registry and trust changes</h2>\n");
	if (json_array_size(ch) == 0) {
		inspect_puts(b, "<p class=\"empty\">No registry or trust change "
		    "was logged in this period.</p>\n");
		return;
	}
	inspect_html_head(b, cols, nitems(cols));
	json_array_foreach(ch, i, c) {
		inspect_intstr(n, sizeof(n), c, "audit_index");
		inspect_puts(b, "<tr>");
		inspect_html_cell(b, n, "n");
		inspect_html_cell(b, inspect_str(c, "time"), NULL);
		inspect_html_cell(b, inspect_str(c, "kind"), NULL);
		inspect_html_cell(b, inspect_str(c, "id"), NULL);
		inspect_html_cell(b, inspect_str(c, "agency"), NULL);
		inspect_puts(b, "<td><code>");
		inspect_html_text(b, inspect_str(c, "detail"));
		inspect_puts(b, "</code></td></tr>\n");
	}
	inspect_puts(b, "</tbody></table>\n");
}

static void
inspect_html_refusals(struct inspect_buf *b, const json_t *rep)
{
	static const char *const cols[] = { "rule", "audit index", "time",
	    "status", "kind", "id", "agency", "city", "period" };
	const json_t	*rf = json_object_get(rep, "refusals"), *r;
	json_t		*counts = json_object_get(rep, "refusals_by_rule"), *v;
	const char	*k;
	char		 n[24], s[24];
	size_t		 i;

	inspect_puts(b, "<h2>4. Refusals by rule</h2>\n");
	if (json_array_size(rf) == 0) {
		inspect_puts(b, "<p class=\"empty\">No instruction was refused by "
		    "a rule.</p>\n");
		return;
	}
	inspect_puts(b, "<p>");
	json_object_foreach(counts, k, v) {
		inspect_html_text(b, k);
		inspect_putf(b, ": %lld. ", (long long)json_integer_value(v));
	}
	inspect_puts(b, "</p>\n");
	inspect_html_head(b, cols, nitems(cols));
	json_array_foreach(rf, i, r) {
		inspect_intstr(n, sizeof(n), r, "audit_index");
		inspect_intstr(s, sizeof(s), r, "status");
		inspect_puts(b, "<tr>");
		inspect_html_cell(b, inspect_str(r, "rule"), NULL);
		inspect_html_cell(b, n, "n");
		inspect_html_cell(b, inspect_str(r, "time"), NULL);
		inspect_html_cell(b, s, "n");
		inspect_html_cell(b, inspect_str(r, "kind"), NULL);
		inspect_html_cell(b, inspect_str(r, "id"), NULL);
		inspect_html_cell(b, inspect_str(r, "agency"), NULL);
		inspect_html_cell(b, inspect_str(r, "city_code"), NULL);
		inspect_html_cell(b, inspect_str(r, "period"), NULL);
		inspect_puts(b, "</tr>\n");
	}
	inspect_puts(b, "</tbody></table>\n");
}

static int
inspect_done(struct inspect_buf *b, char **out, size_t *len)
{
	if (b->err || b->p == NULL) {
		log_warnx("inspect: the report cannot be written out");
		free(b->p);
		return -1;
	}
	*out = b->p;
	*len = b->len;
	return 0;
}

int
inspect_html(const json_t *rep, char **out, size_t *len)
{
	struct inspect_buf	 b = { NULL, 0, 0, 0 };
	const json_t		*w = json_object_get(rep, "window");
	json_int_t		 lo, hi;

	inspect_puts(&b, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head>"
	    "<meta charset=\"utf-8\"><title>Inspection report ");
	inspect_html_text(&b, inspect_str(rep, "period"));
	inspect_puts(&b, "</title><style>");
	inspect_puts(&b, inspect_css);
	inspect_puts(&b, "</style></head><body>\n<h1>Inspection report ");
	inspect_html_text(&b, inspect_str(rep, "period"));
	inspect_puts(&b, "</h1>\n");
	lo = json_integer_value(json_object_get(w, "first_index"));
	hi = json_integer_value(json_object_get(w, "end_index"));
	if (lo == hi)
		inspect_puts(&b, "<p>No entry was logged during the period.");
	else
		inspect_putf(&b, "<p>Entries logged during the period: indexes "
		    "%lld to %lld.", (long long)lo, (long long)hi - 1);
	inspect_putf(&b, " Figures as of the log's size %lld. Alerts and "
	    "refusals are those of the fund month, and those of no month "
	    "logged during it.</p>\n",
	    (long long)json_integer_value(json_object_get(rep, "log_size")));
	if (json_is_true(json_object_get(rep, "empty")))
		inspect_puts(&b, "<p class=\"empty\">Nothing was recorded for "
		    "this period: no figures, alerts, changes or refusals.</p>\n");
	inspect_html_rec(&b, json_object_get(rep, "reconciliation"));
	inspect_html_alerts(&b, json_object_get(rep, "alerts"));
	inspect_html_changes(&b, json_object_get(rep, "changes"));
	inspect_html_refusals(&b, rep);
	inspect_puts(&b, "</body></html>\n");
	return inspect_done(&b, out, len);
}

/* The CSV's columns: every section uses the ones that apply to it. */
enum inspect_col {
	IC_SECTION, IC_INDEX, IC_TIME, IC_CITY, IC_NAME, IC_PERIOD, IC_WHAT,
	IC_SUBJECT, IC_AGENCY, IC_STATUS, IC_STATE, IC_ENDED, IC_FIGS,
	IC_COLLECTED, IC_REMITTED, IC_ARRIVED, IC_PLANNED, IC_REVIEWED,
	IC_DISBURSED, IC_SETTLED, IC_FLAGS, IC_DETAIL, IC_COUNT
};

static const char *const inspect_cols[IC_COUNT] = {
	"section", "audit_index", "time", "city_code", "city_name", "period",
	"rule_or_kind", "subject_or_id", "agency", "status", "state", "ended",
	"figures", "collected", "remitted", "arrived", "planned", "reviewed",
	"disbursed", "settled", "flags", "detail",
};

/* One CSV record; absent fields are empty. Values are copied, so the
 * caller's buffers may be reused. */
static void
inspect_csv_row(struct inspect_buf *b, const char *const v[IC_COUNT])
{
	int	i;

	for (i = 0; i < IC_COUNT; i++)
		inspect_csv_field(b, v[i], i == IC_COUNT - 1);
}

static void
inspect_csv_rec(struct inspect_buf *b, const json_t *rep)
{
	const json_t	*rec = json_object_get(rep, "reconciliation"), *row;
	const char	*v[IC_COUNT];
	char		 y[nitems(inspect_figs)][32];
	struct inspect_buf fl = { NULL, 0, 0, 0 };
	size_t		 i, k;

	json_array_foreach(json_object_get(rec, "cities"), i, row) {
		memset(v, 0, sizeof(v));
		v[IC_SECTION] = "reconciliation";
		v[IC_CITY] = inspect_str(row, "city_code");
		v[IC_NAME] = inspect_str(row, "name");
		v[IC_PERIOD] = inspect_str(rep, "period");
		for (k = 0; k < nitems(inspect_figs); k++) {
			inspect_yuan(y[k], sizeof(y[k]), json_integer_value(
			    json_object_get(row, inspect_figs[k])));
			v[IC_COLLECTED + k] = y[k];
		}
		fl.len = 0;
		inspect_puts(&fl, "");
		inspect_flags(&fl, row, ";", 0);
		b->err |= fl.err;
		v[IC_FLAGS] = fl.p;
		inspect_csv_row(b, v);
	}
	free(fl.p);
	memset(v, 0, sizeof(v));
	v[IC_SECTION] = "reconciliation";
	v[IC_CITY] = "total";
	v[IC_PERIOD] = inspect_str(rep, "period");
	for (k = 0; k < nitems(inspect_figs); k++) {
		inspect_yuan(y[k], sizeof(y[k]), json_integer_value(
		    json_object_get(json_object_get(rec, "totals"),
		    inspect_figs[k])));
		v[IC_COLLECTED + k] = y[k];
	}
	v[IC_FLAGS] = json_is_true(json_object_get(rec, "clean")) ? "clean" :
	    "not-clean";
	inspect_csv_row(b, v);
	json_array_foreach(json_object_get(rec, "unmatched_arrivals"), i, row) {
		memset(v, 0, sizeof(v));
		v[IC_SECTION] = "unmatched-arrival";
		v[IC_TIME] = inspect_str(row, "booking_date");
		v[IC_SUBJECT] = inspect_str(row, "reference");
		inspect_yuan(y[0], sizeof(y[0]), json_integer_value(
		    json_object_get(row, "amount_fen")));
		v[IC_ARRIVED] = y[0];
		v[IC_DETAIL] = inspect_str(row, "account");
		inspect_csv_row(b, v);
	}
}

int
inspect_csv(const json_t *rep, char **out, size_t *len)
{
	struct inspect_buf	 b = { NULL, 0, 0, 0 };
	const json_t		*w = json_object_get(rep, "window"), *a;
	const char		*v[IC_COUNT];
	char			 n[24], s[24], d[160], *fig;
	size_t			 i;
	int			 k;

	for (k = 0; k < IC_COUNT; k++)
		inspect_csv_field(&b, inspect_cols[k], k == IC_COUNT - 1);
	memset(v, 0, sizeof(v));
	v[IC_SECTION] = "report";
	v[IC_PERIOD] = inspect_str(rep, "period");
	v[IC_STATE] = json_is_true(json_object_get(rep, "empty")) ? "empty" :
	    "";
	if (str_printf(d, sizeof(d), "entries %lld to %lld (end excluded); "
	    "figures as of log size %lld%s",
	    (long long)json_integer_value(json_object_get(w, "first_index")),
	    (long long)json_integer_value(json_object_get(w, "end_index")),
	    (long long)json_integer_value(json_object_get(rep, "log_size")),
	    json_is_true(json_object_get(rep, "empty")) ? "; nothing was "
	    "recorded for this period" : "") == -1)
		b.err = 1;
	v[IC_DETAIL] = d;
	inspect_csv_row(&b, v);
	inspect_csv_rec(&b, rep);
	json_array_foreach(json_object_get(rep, "alerts"), i, a) {
		memset(v, 0, sizeof(v));
		inspect_intstr(n, sizeof(n), a, "audit_index");
		if ((fig = inspect_figures(json_object_get(a, "figures"))) ==
		    NULL)
			b.err = 1;
		v[IC_SECTION] = "alert";
		v[IC_INDEX] = n;
		v[IC_TIME] = inspect_str(a, "time");
		v[IC_CITY] = inspect_str(a, "city_code");
		v[IC_PERIOD] = inspect_str(a, "period");
		v[IC_WHAT] = inspect_str(a, "rule");
		v[IC_SUBJECT] = inspect_str(a, "subject");
		v[IC_STATE] = inspect_str(a, "state");
		v[IC_ENDED] = inspect_str(a, "ended");
		v[IC_FIGS] = fig;
		inspect_csv_row(&b, v);
		free(fig);
	}
	json_array_foreach(json_object_get(rep, "changes"), i, a) {
		memset(v, 0, sizeof(v));
		inspect_intstr(n, sizeof(n), a, "audit_index");
		v[IC_SECTION] = "change";
		v[IC_INDEX] = n;
		v[IC_TIME] = inspect_str(a, "time");
		v[IC_WHAT] = inspect_str(a, "kind");
		v[IC_SUBJECT] = inspect_str(a, "id");
		v[IC_AGENCY] = inspect_str(a, "agency");
		v[IC_DETAIL] = inspect_str(a, "detail");
		inspect_csv_row(&b, v);
	}
	json_array_foreach(json_object_get(rep, "refusals"), i, a) {
		memset(v, 0, sizeof(v));
		inspect_intstr(n, sizeof(n), a, "audit_index");
		inspect_intstr(s, sizeof(s), a, "status");
		v[IC_SECTION] = "refusal";
		v[IC_INDEX] = n;
		v[IC_TIME] = inspect_str(a, "time");
		v[IC_CITY] = inspect_str(a, "city_code");
		v[IC_PERIOD] = inspect_str(a, "period");
		v[IC_WHAT] = inspect_str(a, "rule");
		v[IC_SUBJECT] = inspect_str(a, "id");
		v[IC_AGENCY] = inspect_str(a, "agency");
		v[IC_STATUS] = s;
		v[IC_DETAIL] = inspect_str(a, "kind");
		inspect_csv_row(&b, v);
	}
	return inspect_done(&b, out, len);
}
