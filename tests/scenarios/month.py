"""One month of the province's work-injury insurance fund, for all 14 cities, driven
through the real gateway and stub agencies (DESIGN.md sections 1 and 2).

The month: the tax bureau sends several collection batches per city (UTF-8, GBK and
GB18030); each city's finance bureau remits exactly what was collected (some cities in
two parts, each part sent once the batches it covers are in), with a value date before
the due day; HRSS submits one plan per city (fund-paid items only) and finance approves
it (some for less than planned); HRSS disburses the approved amounts in several
disbursements whose lines mix cities; the bank stub receives the pain.001 files and
reports every payment settled (pain.002 ACSC); the bank notifies the province-special
account's credits (camt.054), one per remittance. Then the reconciliation is fetched.

Standard library only; imports ../integration's harness and messages. Used by
test_scenarios.py and demo.py; `python3 tests/scenarios/month.py` runs one month on a
fresh gateway and prints its reconciliation JSON.
"""

import concurrent.futures
import datetime
import json
import os
import random
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness as h      # noqa: E402
import messages as M     # noqa: E402

# The 14 pooling areas (DESIGN §1), in code order.
CITIES = ("620100", "620200", "620300", "620400", "620500", "620600", "620700",
          "620800", "620900", "621000", "621100", "621200", "622900", "623000")

# Every agency of the scenarios: the fixed ones plus one finance bureau per city.
AGENCIES = ("tax", "finance", "hrss", "bank", "admin") + tuple(
    "finance-city-" + c for c in CITIES)

FUND_BENEFITS = ("medical", "meal-allowance", "travel", "assistive-devices",
                 "nursing-care", "disability-lump-sum", "disability-allowance",
                 "medical-lump-sum", "funeral", "dependants-pension", "death-lump-sum",
                 "assessment-fees", "prevention")
EMPLOYER_PAID = ("suspension-wages", "disability-allowance-5-6", "employment-subsidy")

DUE_DAY = 10          # the gateway's default remittance_due_day
WORKERS = 8           # client threads: requests in flight at once

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class ScenarioError(AssertionError):
    """An agency got another answer than the scenario expects."""


# ---------------------------------------------------------------------------
# calendar

def current_period():
    """This month on the local clock, YYYY-MM: nothing of it is overdue yet."""
    return time.strftime("%Y-%m")


def next_period(period):
    y, m = int(period[:4]), int(period[5:])
    return "%04d-%02d" % (y + m // 12, m % 12 + 1)


def due_date(period, day=DUE_DAY):
    """The day a period's remittance is due: day of the next month, YYYY-MM-DD."""
    return "%s-%02d" % (next_period(period), day)


def day_after(date):
    d = datetime.date.fromisoformat(date) + datetime.timedelta(days=1)
    return d.isoformat()


def value_date_for(period):
    """A value date in the period's due window: today if today is in the period,
    else the first day of the month after it."""
    today = time.strftime("%Y-%m-%d")
    return today if today[:7] == period else next_period(period) + "-01"


# ---------------------------------------------------------------------------
# the month's figures

def uscc(city, serial):
    """A unified social credit code (GB 32100-2015) of an enterprise in city, with
    its check character."""
    body = "91" + city + "%09d" % serial
    s = sum(USCC_CHARS.index(ch) * w for ch, w in zip(body, USCC_WEIGHTS))
    return body + USCC_CHARS[(31 - s % 31) % 31]


def fen_sum_items(items):
    return sum(int(i[3].replace(".", "")) for i in items)


class CityMonth:
    """What one city does in the month: batches, remittance parts, plan, approval."""

    def __init__(self, city, batches, parts, plan_id, plan_items, approved):
        self.city = city
        self.batches = batches        # [(batch_id, encoding, items)]
        self.parts = parts            # [(remittance_id, amount_fen, batches_before)]
        self.plan_id = plan_id
        self.plan_items = plan_items  # [(benefit, amount_fen)]
        self.approved = approved      # fen finance approves

    @property
    def collected(self):
        return sum(fen_sum_items(items) for _, _, items in self.batches)

    @property
    def planned(self):
        return sum(a for _, a in self.plan_items)


class Month:
    """The figures of one scenario month; deterministic for a (period, tag, seed)."""

    def __init__(self, period, tag="M", seed=2026, cities=CITIES, batches_per_city=3):
        rnd = random.Random("%s/%s/%d" % (period, tag, seed))
        self.period = period
        self.tag = tag
        self.value_date = value_date_for(period)
        self.cities = {}
        encodings = ("UTF-8", "GBK", "GB18030")
        for n, city in enumerate(cities):
            batches = []
            for b in range(batches_per_city):
                items = []
                for k in range(rnd.randint(2, 4)):
                    items.append((uscc(city, rnd.randint(1, 999999999)),
                                  "甘肃测试企业%s第%d号有限公司" % (city, b * 10 + k), rnd.randint(5, 900),
                                  M.fen_to_yuan(rnd.randint(100000, 20000000))))
                batches.append(("%s-TAX-%s-%s-%d" % (tag, city, period, b + 1),
                                encodings[(n + b) % len(encodings)], items))
            total = sum(fen_sum_items(i) for _, _, i in batches)
            rid = "%s-REM-%s-%s" % (tag, city, period)
            if n % 3 == 1:
                # In two parts: the first once the first two batches are in.
                first = sum(fen_sum_items(i) for _, _, i in batches[:2])
                parts = [(rid + "-1", first, 2), (rid + "-2", total - first, len(batches))]
            else:
                parts = [(rid, total, len(batches))]
            # Spending well under income: a clean month also keeps the fund's payment
            # capacity above the 6-month threshold.
            budget = total // 12
            benefits = rnd.sample(FUND_BENEFITS, 3)
            a1, a2 = budget * 5 // 10, budget * 3 // 10
            plan_items = [(benefits[0], a1), (benefits[1], a2), (benefits[2], budget - a1 - a2)]
            approved = budget if n % 4 else budget - rnd.randint(1, budget // 10)
            self.cities[city] = CityMonth(city, batches, parts,
                                          "%s-PLAN-%s-%s" % (tag, city, period),
                                          plan_items, approved)
        # Disbursements mixing cities: 70% of every city in the first, the rest of
        # the first half of the cities in the second, of the other half in the third.
        codes = list(self.cities)
        half = len(codes) // 2
        first = [(self.cities[c].plan_id, self.cities[c].approved * 7 // 10) for c in codes]
        rest = {c: self.cities[c].approved - self.cities[c].approved * 7 // 10 for c in codes}
        self.disbursements = [
            ("%s-DISB-%s-1" % (tag, period), first),
            ("%s-DISB-%s-2" % (tag, period), [(self.cities[c].plan_id, rest[c])
                                               for c in codes[:half] if rest[c]]),
            ("%s-DISB-%s-3" % (tag, period), [(self.cities[c].plan_id, rest[c])
                                               for c in codes[half:] if rest[c]]),
        ]

    def expected(self, city):
        """The reconciliation row this month should give for city (figures in fen)."""
        cm = self.cities[city]
        return {"collected_fen": cm.collected, "remitted_fen": cm.collected,
                "arrived_fen": cm.collected, "planned_fen": cm.planned,
                "reviewed_fen": cm.approved, "disbursed_fen": cm.approved,
                "settled_fen": cm.approved, "flags": []}


# ---------------------------------------------------------------------------
# the agencies' side of the wire

def expect(resp, status, what):
    if resp.status != status:
        raise ScenarioError("%s: expected %d, got %r" % (what, status, resp))
    return resp


class Fund:
    """Every party's request to the gateway, one method per wire message (DESIGN §2).

    Each returns the harness Response; nothing here asserts but the caller's expect()."""

    def __init__(self, env):
        self.env = env

    def post(self, who, path, body, headers=None):
        return self.env.https("POST", path, who=who, body=body,
                              headers=headers or M.json_headers())

    def get(self, path, who="admin", headers=None):
        return self.env.https("GET", path, who=who, headers=headers)

    # -- messages --------------------------------------------------------------

    def collect(self, batch, city, period, items, encoding="UTF-8"):
        return self.post("tax", "/v1/collections",
                         M.collection(batch, city, period, items, encoding=encoding),
                         M.xml_headers(encoding if encoding != "UTF-8" else None))

    def remit(self, rid, city, period, amount, value_date, *, who=None,
              from_account=None, to_account=None):
        return self.post(who or "finance-city-" + city, "/v1/remittances", M.remittance(
            rid, city, amount, period,
            from_account=from_account or M.account("city-special", city),
            to_account=to_account or M.account("province-special"), value_date=value_date))

    def submit_plan(self, pid, city, period, items, who="hrss", **extra):
        return self.post(who, "/v1/plans", M.plan(pid, city, period, items, **extra))

    def review(self, pid, total, who="finance"):
        return self.post(who, "/v1/plans/%s/review" % pid, M.review(total=total))

    def disburse(self, did, lines, who="hrss"):
        return self.post(who, "/v1/disbursements", M.disbursement(
            did, lines, requested_execution_date=time.strftime("%Y-%m-%d")))

    def payments(self, did):
        """The disbursement's payments [{end_to_end_id, plan_id, city_code, amount_fen,
        account, status, ...}] from GET /v1/transfers/{id}."""
        r = expect(self.get("/v1/transfers/" + did, who="hrss"), 200, "transfer " + did)
        return r.json()["payments"]

    def bank_status(self, msg_id, did, txs):
        """pain.002: txs [(end_to_end_id, status, reason or None)]."""
        return self.post("bank", "/v1/bank/status", M.pain002(msg_id, did, txs),
                         M.xml_headers())

    def notify(self, msg_id, entries, acct=None):
        """camt.054 on the province-special account (or acct): entries
        [(amount_fen, CRDT|DBIT, booking_date, end_to_end_id, ustrd)]."""
        return self.post("bank", "/v1/bank/notifications",
                         M.camt054(msg_id, acct or M.account("province-special"), entries),
                         M.xml_headers())

    # -- reads -----------------------------------------------------------------

    def report(self, period, who="finance"):
        r = expect(self.get("/v1/reports/reconciliation?period=" + period, who=who), 200,
                   "reconciliation " + period)
        return r.json()

    def report_csv(self, period, who="finance"):
        r = expect(self.get("/v1/reports/reconciliation?period=" + period, who=who,
                            headers={"Accept": "text/csv"}), 200, "CSV reconciliation")
        return r.body.decode("utf-8")

    def alerts(self, since=0, who="admin"):
        q = "/v1/alerts" + ("?since=%d" % since if since else "")
        return expect(self.get(q, who=who), 200, "alerts").json()["alerts"]

    def audit_index(self, resp):
        """The audit index of the exchange that answered resp, from the access log
        line whose request_id is its X-Gateway-Request-Id."""
        rid = resp.header("X-Gateway-Request-Id")
        if not rid:
            raise ScenarioError("no X-Gateway-Request-Id in %r" % resp)
        line = h.wait_until(lambda: next((ln for ln in self.env.access_log_lines()
                                          if ln.get("request_id") == rid), None),
                            h.IO_TIMEOUT, what="the access log line of %s" % rid)
        if line.get("audit_index") is None:
            raise ScenarioError("exchange %s has no audit entry: %r" % (rid, line))
        return line["audit_index"]

    def entry(self, index):
        """GET /audit/entries/N (admin): the entry as a dict."""
        e = expect(self.get("/audit/entries/%d" % index), 200, "audit entry %d" % index)
        return json.loads(e.body)

    def bank_files(self, dids):
        """Waits until the bank stub received a pain.001 per disbursement id; returns
        {did: stub record}."""
        bank = self.env.stubs["bank"]

        def got():
            recs = {r.get("idempotency_key"): r for r in bank.records_with("/inbox/pain.001")
                    if r.get("status") in (200, 202)}
            return recs if all("disbursement:" + d in recs for d in dids) else None
        recs = h.wait_until(got, h.IO_TIMEOUT * 2, what="pain.001 files of %s" % (dids,))
        return {d: recs["disbursement:" + d] for d in dids}


# ---------------------------------------------------------------------------
# the environment and the run

def start_env(rules=None, **kw):
    """A fresh gateway (all 14 cities' finance bureaus configured) with finance,
    HRSS and bank stubs; the bank stub saves the bodies it receives in
    <env.dir>/bank-bodies. The caller stops it."""
    h.require_environment()
    env = h.Env(agencies=list(AGENCIES), rules=rules, **kw)
    saved = os.path.join(env.dir, "bank-bodies")
    os.makedirs(saved)
    env.bank_bodies = saved
    env.stub_args = dict(env.stub_args)
    env.stub_args["bank"] = list(env.stub_args.get("bank", ())) + ["--save-bodies", saved]
    return env.start()


def saved_body(env, record):
    with open(os.path.join(env.bank_bodies, "%d.body" % record["seq"]), "rb") as f:
        return f.read()


class MonthRun:
    """Runs a Month through the gateway with a small pool of client threads; records
    each phase's wall time in self.timings (seconds)."""

    def __init__(self, env, month, workers=WORKERS):
        self.env = env
        self.fund = Fund(env)
        self.month = month
        self.workers = workers
        self.timings = []
        self.payments = {}        # disbursement id -> payments after settlement
        self.files = {}           # disbursement id -> pain.001 bytes the bank got

    def _phase(self, name, fn, args):
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            out = list(pool.map(fn, args))
        self.timings.append((name, time.monotonic() - t0))
        return out

    # -- one task per city or disbursement ----------------------------------------

    def _income(self, cm):
        """A city's batches and remittance parts, each part after its batches."""
        f, m = self.fund, self.month
        done = 0
        for rid, amount, before in cm.parts:
            while done < before:
                batch, enc, items = cm.batches[done]
                expect(f.collect(batch, cm.city, m.period, items, enc), 202, "batch " + batch)
                done += 1
            expect(f.remit(rid, cm.city, m.period, amount, m.value_date), 202,
                   "remittance " + rid)

    def _plan(self, cm):
        f, m = self.fund, self.month
        expect(f.submit_plan(cm.plan_id, cm.city, m.period, cm.plan_items), 202,
               "plan " + cm.plan_id)
        expect(f.review(cm.plan_id, cm.approved), 202, "review of " + cm.plan_id)

    def _disburse(self, d):
        did, lines = d
        expect(self.fund.disburse(did, lines), 202, "disbursement " + did)

    def _settle(self, did):
        pays = self.fund.payments(did)
        expect(self.fund.bank_status("STS-" + did, did,
                                     [(p["end_to_end_id"], "ACSC", None) for p in pays]),
               200, "pain.002 of " + did)
        self.payments[did] = self.fund.payments(did)

    def _arrivals(self, part):
        n, cities = part
        m = self.month
        entries = [(amount, "CRDT", m.value_date, rid, rid)
                   for c in cities for rid, amount, _ in m.cities[c].parts]
        expect(self.fund.notify("%s-CAMT-%s-%d" % (m.tag, m.period, n), entries), 200,
               "camt.054 #%d" % n)

    # -- the month ----------------------------------------------------------------

    def run(self):
        """All phases in order; returns the month's reconciliation (JSON)."""
        m = self.month
        cms = list(m.cities.values())
        t0 = time.monotonic()
        self._phase("collections and remittances", self._income, cms)
        self._phase("plans and reviews", self._plan, cms)
        self._phase("disbursements", self._disburse, m.disbursements)
        dids = [d for d, _ in m.disbursements]
        t1 = time.monotonic()
        recs = self.fund.bank_files(dids)
        self.files = {d: saved_body(self.env, r) for d, r in recs.items()}
        self.timings.append(("bank receives pain.001", time.monotonic() - t1))
        self._phase("pain.002 settlement", self._settle, dids)
        codes = list(m.cities)
        self._phase("camt.054 arrivals", self._arrivals,
                    [(1, codes[:7]), (2, codes[7:])])
        t1 = time.monotonic()
        rec = self.fund.report(m.period)
        self.timings.append(("reconciliation report", time.monotonic() - t1))
        self.timings.append(("total", time.monotonic() - t0))
        return rec


def e2e_ids_in(body):
    """The EndToEndIds of a pain.001 file (any ASCII-compatible charset)."""
    return re.findall(rb"<EndToEndId>([^<]+)</EndToEndId>", body)


def main():
    env = start_env()
    try:
        run = MonthRun(env, Month(current_period()))
        rec = run.run()
        print(json.dumps(rec, ensure_ascii=False, indent=2))
        for name, secs in run.timings:
            sys.stderr.write("%-30s %6.2fs\n" % (name, secs))
    finally:
        env.stop()


if __name__ == "__main__":
    main()
