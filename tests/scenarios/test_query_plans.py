"""No statement the keeper or gatewayctl runs scans a table that grows with the log.

A month of all 14 cities runs through a gateway (release or sanitizer build, as the
scenarios do) with GW_SQL_TRACE set, so that the keeper and every gatewayctl command
append each distinct statement they run to a file; the overdue watch runs at the keeper's
start and again after a restart. Then SQLite itself (the sqlite3 command, the same
library) plans every one of them against the database the month made, and the test fails
on any `SCAN` of a growing table, naming the statement and its plan. `gatewayctl audit
verify` is left out on purpose: reading everything is what it is for. The few statements
that must read a whole growing table are listed below, each with the reason.

It also checks that the running totals the rules and reports read (fund_totals, kept by
triggers) equal the sums of the rows they summarise, and that a database from before the
totals gets the same ones built at the keeper's start.
"""

import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import ctl                 # noqa: E402
import month as S          # noqa: E402
from month import h        # noqa: E402

# Tables whose rows grow with the log (and never shrink).
GROWING = ("entries", "nodes", "checkpoints", "instructions", "payments", "arrivals",
           "outbox", "attempts", "alerts", "refusals", "marks")

# Statements allowed to read a growing table whole, and why.
WHOLE_READS = [
    (r"^SELECT seq, state, kind, id, upstream, attempts, .* FROM outbox ORDER BY seq$",
     "gatewayctl outbox list --all: the operator asked for every row"),
    (r"^INSERT INTO fund_totals \(what, period, city, amount, n\) SELECT w, period, city, "
     r"sum\(a\), count\(\*\) FROM \(",
     "the totals of a database from before them, built once at the keeper's start"),
]

SQL_VERBS = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\b", re.I)


def plan(db, sql):
    r = subprocess.run(["sqlite3", "-readonly", db, "EXPLAIN QUERY PLAN " + sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError("cannot plan %r: %s" % (sql, r.stderr))
    return r.stdout


def partial_indexes(db):
    """Indexes with a WHERE clause: a scan of one reads only the rows it holds."""
    r = subprocess.run(["sqlite3", "-readonly", db, "SELECT name FROM sqlite_schema WHERE "
                        "type = 'index' AND sql LIKE '% WHERE %'"],
                       capture_output=True, text=True, timeout=30)
    return set(r.stdout.split())


def full_scans(plan_text, partial):
    """The growing tables a plan reads whole ("SCAN t", with or without an index; a
    partial index holds only its window, and is no whole read)."""
    out = []
    for line in plan_text.splitlines():
        m = re.search(r"\bSCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", line)
        if m and m.group(1) in GROWING and m.group(2) not in partial:
            out.append(line.strip())
    return out


class QueryPlans(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.trace = tempfile.NamedTemporaryFile(prefix="gw-sqltrace-", delete=False).name
        os.environ["GW_SQL_TRACE"] = cls.trace
        cls.env = S.start_env()

    @classmethod
    def tearDownClass(cls):
        os.environ.pop("GW_SQL_TRACE", None)
        cls.env.stop()
        os.unlink(cls.trace)

    def test_no_statement_scans_a_growing_table(self):
        env = self.env
        conf = env.config_path
        month = S.Month(S.current_period(), tag="PLANS")
        S.MonthRun(env, month).run()
        fund = S.Fund(env)
        # A late remittance: an alert raised, then listed.
        late = S.day_after(S.due_date(month.period))
        S.expect(fund.remit("PLANS-LATE", S.CITIES[0], month.period, 100, late), 202,
                 "late remittance")
        S.expect(fund.get("/v1/transfers/PLANS-LATE?kind=remittance"), 200, "transfer")
        S.expect(fund.get("/v1/transfers/PLANS-LATE"), 200, "transfer")
        fund.alerts()
        fund.report(month.period)
        # The keeper's start (the watch, the gauges) on a log that has history.
        env.restart_gateway()
        fund = S.Fund(env)
        fund.report(month.period)
        for args in (["report", "reconciliation", "--period", month.period],
                     ["report", "reconciliation", "--period", month.period, "--json"],
                     ["alerts"], ["outbox", "list"], ["outbox", "list", "--all"],
                     ["inspect", "--period", month.period],
                     ["inspect", "--period", month.period, "--format", "csv"],
                     ["inspect", "--period", "2031-01", "--format", "json"],
                     ["audit", "checkpoint"], ["audit", "show", "0"],
                     ["audit", "proof", "--index", "1"]):
            r = ctl.run(conf, *args)
            self.assertIn(r.returncode, (0, 1), "gatewayctl %s: %s" % (args, r.stderr))
        env.gateway.stop()
        env.gateway = None
        db = os.path.join(env.dir, "audit.db")

        with open(self.trace) as f:
            statements = sorted({ln.strip() for ln in f if SQL_VERBS.match(ln)})
        self.assertGreater(len(statements), 30, "the trace caught too few statements")
        bad = []
        partial = partial_indexes(db)
        for sql in statements:
            scans = full_scans(plan(db, sql), partial)
            if scans and not any(re.search(p, sql) for p, _ in WHOLE_READS):
                bad.append("%s\n    %s" % (sql, "\n    ".join(scans)))
        sys.stderr.write("\n[query plans: %d statements planned, %d allowed whole reads]\n"
                         % (len(statements), len(WHOLE_READS)))
        self.assertEqual(bad, [], "statements that read a growing table whole:\n"
                         + "\n".join(bad))

        # The running totals equal what they sum.
        check = """
            SELECT what, period, city, amount FROM fund_totals WHERE n > 0 OR amount != 0
            EXCEPT SELECT w, period, city, sum(a) FROM (
              SELECT 'collected' w, period, city, amount a FROM instructions
               WHERE kind = 'collection'
              UNION ALL SELECT 'remitted', period, city, amount FROM instructions
               WHERE kind = 'remittance'
              UNION ALL SELECT 'planned', period, city, amount FROM instructions
               WHERE kind = 'plan' AND state != 11
              UNION ALL SELECT 'reviewed', period, city, coalesce(approved, 0)
               FROM instructions WHERE kind = 'plan' AND state = 4
              UNION ALL SELECT 'disbursed', period, city, amount FROM payments
               WHERE status != 'RJCT'
              UNION ALL SELECT 'settled', period, city, amount FROM payments
               WHERE status IN ('ACSC', 'ACCC')
              UNION ALL SELECT 'arrived', period, city, amount FROM arrivals
               WHERE remittance IS NOT NULL)
             WHERE city IS NOT NULL AND period IS NOT NULL GROUP BY w, period, city;"""
        r = subprocess.run(["sqlite3", "-readonly", db, check], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
        r = subprocess.run(["sqlite3", "-readonly", db,
                            "SELECT count(*) FROM fund_totals WHERE n > 0"],
                           capture_output=True, text=True, timeout=60)
        self.assertGreater(int(r.stdout), 20, "the month made too few totals")
        want = subprocess.run(["sqlite3", "-readonly", db, "SELECT * FROM fund_totals "
                               "WHERE n > 0 ORDER BY 1, 2, 3"], capture_output=True,
                              text=True, timeout=60).stdout

        # A database from before the totals: the keeper builds them from its history.
        r = subprocess.run(["sqlite3", db, "DROP TABLE fund_totals; DROP TRIGGER "
                            "totals_instr_add; DROP TRIGGER totals_instr_set; DROP TRIGGER "
                            "totals_pay_add; DROP TRIGGER totals_pay_set; DROP TRIGGER "
                            "totals_arrival_add; DROP TRIGGER totals_arrival_set;"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        env.start_gateway()
        self.assertIn("fund totals built from the ledger's history", env.gateway.stderr_text())
        env.gateway.stop()
        env.gateway = None
        got = subprocess.run(["sqlite3", "-readonly", db, "SELECT * FROM fund_totals "
                              "WHERE n > 0 ORDER BY 1, 2, 3"], capture_output=True,
                             text=True, timeout=60).stdout
        self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
