"""Month scenarios through the real gateway and stubs (DESIGN.md section 1): a clean month
of all 14 cities that reconciles to the fen, and a month with every kind of fault the
fund's rules and early warnings must catch, each on a fresh gateway.

Run: python3 -m unittest discover -s tests/scenarios -v   (after make build-san; the
harness defaults to build/san binaries, GATEWAYD/STUBD/GATEWAYCTL override them)
"""

import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import ctl                 # noqa: E402
import month as S          # noqa: E402
from month import h, M     # noqa: E402

FIGURES = ("collected_fen", "remitted_fen", "arrived_fen", "planned_fen", "reviewed_fen",
           "disbursed_fen", "settled_fen")


class ScenarioCase(unittest.TestCase):
    """One fresh gateway (all 14 cities configured) per class; its wall time, start to
    stop, is written to stderr."""

    rules = None

    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        cls.env = S.start_env(rules=cls.rules)
        cls.fund = S.Fund(cls.env)
        cls.conf = cls.env.config_path

    @classmethod
    def tearDownClass(cls):
        err = cls.env.gateway.stderr_text() if cls.env.gateway else ""
        cls.env.stop()
        sys.stderr.write("\n[%s: %.2fs wall time, gateway start to stop]\n"
                         % (cls.__name__, time.monotonic() - cls.t0))
        if h.SANITIZER_ERRORS.search(err):
            raise AssertionError("sanitizer report in gatewayd's stderr:\n%s" % err[-4000:])

    def assertStatus(self, resp, status):
        self.assertEqual(resp.status, status, resp)
        return resp

    def assertAuditVerifies(self):
        r = ctl.audit_verify(self.conf)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def assertReportsAgree(self, rec, period):
        """HTTP JSON == gatewayctl --json; HTTP CSV == gatewayctl --csv == the JSON."""
        rc, ctl_rec = ctl.report_json(self.conf, period)
        self.assertEqual(ctl_rec, rec)
        r = ctl.report(self.conf, period, "csv")
        self.assertEqual(r.returncode, 0 if rec["clean"] else 1, r.stderr)
        self.assertEqual(ctl.csv_rows(r.stdout), ctl.json_rows(rec))
        self.assertEqual(self.fund.report_csv(period), r.stdout)
        return rc


class CleanMonth(ScenarioCase):
    """Every city collects, remits in full on time, is planned, approved, disbursed and
    settled: the reconciliation is clean to the fen and nothing raises an alert."""

    def test_clean_month_of_14_cities(self):
        month = S.Month(S.current_period(), tag="CLEAN")
        run = S.MonthRun(self.env, month)
        rec = run.run()
        sys.stderr.write("\n" + "\n".join("  %-30s %6.2fs" % t for t in run.timings) + "\n")

        # Every city's figures as built, and the totals their sums.
        self.assertEqual([c["city_code"] for c in rec["cities"]], list(S.CITIES))
        for row in rec["cities"]:
            with self.subTest(city=row["city_code"]):
                want = month.expected(row["city_code"])
                self.assertEqual({k: row[k] for k in want}, want)
                self.assertEqual(row["collected_fen"], row["remitted_fen"])
                self.assertEqual(row["remitted_fen"], row["arrived_fen"])
                self.assertEqual(row["reviewed_fen"], row["disbursed_fen"])
                self.assertEqual(row["disbursed_fen"], row["settled_fen"])
                self.assertLessEqual(row["reviewed_fen"], row["planned_fen"])
        for k in FIGURES:
            self.assertEqual(rec["totals"][k], sum(c[k] for c in rec["cities"]), k)
        self.assertEqual((rec["period"], rec["clean"], rec["flags"], rec["unmatched_arrivals"]),
                         (month.period, True, [], []))
        fund = rec["fund"]
        self.assertEqual(fund["balance_fen"],
                         rec["totals"]["remitted_fen"] - rec["totals"]["disbursed_fen"])
        self.assertGreaterEqual(fund["capacity_months"], fund["capacity_threshold_months"])
        self.assertEqual(self.fund.alerts(), [])

        # The bank's files: each payment's end-to-end id is in the file it received,
        # paid to the city's expenditure account from the registry, and settled.
        for did, lines in month.disbursements:
            with self.subTest(disbursement=did):
                pays = run.payments[did]
                self.assertEqual(sorted((p["plan_id"], p["amount_fen"]) for p in pays),
                                 sorted(lines))
                self.assertEqual(sorted(S.e2e_ids_in(run.files[did])),
                                 sorted(p["end_to_end_id"].encode() for p in pays))
                for p in pays:
                    self.assertEqual(p["status"], "ACSC")
                    self.assertEqual(p["account"], M.account("city-expenditure",
                                                             p["city_code"]))
                    self.assertIn(p["account"].encode(), run.files[did])

        # gatewayctl: the table (exit 0, clean), its CSV and JSON match the gateway's.
        r = ctl.report(self.conf, month.period)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for city in S.CITIES:
            self.assertIn(city, r.stdout)
        self.assertIn("; clean", r.stdout)
        self.assertEqual(self.assertReportsAgree(rec, month.period), 0)
        a = ctl.alerts(self.conf)
        self.assertEqual((a.returncode, a.stdout), (0, ""), a.stderr)
        self.assertAuditVerifies()


class FaultyMonth(ScenarioCase):
    """One month with every fault injected: each refusal by its rule name, as an audit
    entry carrying that rule, leaving the figures unchanged; each early warning as an
    alert (GET /v1/alerts and gatewayctl alerts) and a reconciliation flag.

    The keeper's same-agency-review rule cannot be reached through the API: only role
    finance may review and only role hrss may submit a plan, and agency names are
    distinct. HRSS reviewing its own plan is therefore refused earlier, by the relay,
    with 403 role-not-allowed; that is what is asserted."""

    period = S.current_period()
    year = period[:4]
    rules = [("budget", "620300 %s 1000.00" % year)]

    # One city per fault.
    SHORT, LATE, BUDGET, EXCEEDED = "620100", "620200", "620300", "620400"
    PAYEE, EXP_FROM, EXP_TO, UNSETTLED = "620500", "620600", "620700", "620800"
    EMPLOYER, AMEND, DUP = "620900", "621000", "621100"

    # -- helpers ------------------------------------------------------------------

    def figures(self):
        """Everything the reconciliation says about the period (and the fund)."""
        return self.fund.report(self.period)

    def refuse(self, send, status, rule, tid=None, alert=None):
        """send() must be refused with status and rule, audited as a refusal naming
        that rule (and alert), with every figure unchanged. Returns (index, entry)."""
        before = self.figures()
        r = send()
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json()["code"], rule, r)
        index = self.fund.audit_index(r)
        e = self.fund.entry(index)
        self.assertEqual(e["kind"], "refusal", e)
        self.assertEqual(e.get("rule") or e.get("code"), rule, e)
        if alert:
            self.assertEqual(e.get("alert"), alert, e)
        self.assertEqual(self.figures(), before, "refused %s changed the figures" % rule)
        if tid:
            self.assertEqual(self.fund.get("/v1/transfers/" + tid).status, 404)
        return index, e

    def batch(self, city, n, fen, encoding="UTF-8"):
        items = [(S.uscc(city, 1000 + n), "甘肃故障测试%s有限公司" % city, 50,
                  M.fen_to_yuan(fen))]
        self.assertStatus(self.fund.collect("F-TAX-%s-%d" % (city, n), city, self.period,
                                            items, encoding), 202)
        return fen

    def approved_plan(self, pid, city, fen, **extra):
        self.assertStatus(self.fund.submit_plan(pid, city, self.period,
                                                [("medical", fen // 2),
                                                 ("nursing-care", fen - fen // 2)],
                                                **extra), 202)
        self.assertStatus(self.fund.review(pid, fen), 202)

    def settle(self, did):
        pays = self.fund.payments(did)
        self.assertStatus(self.fund.bank_status("F-STS-" + did, did, [
            (p["end_to_end_id"], "ACSC", None) for p in pays]), 200)

    # -- the month ------------------------------------------------------------------

    def test_faulty_month(self):
        t0 = time.monotonic()
        f, P = self.fund, self.period
        vd = S.value_date_for(P)
        collected = {c: self.batch(c, 1, 50000000 + i * 1000001,
                                   ("UTF-8", "GBK", "GB18030")[i % 3])
                     for i, c in enumerate(S.CITIES)}
        remittances = []       # (rid, fen) accepted, for the bank's notification
        refusal_alerts = {}    # alert rule -> (index, entry) of the refusal raising it

        def remit(city, fen, value_date=vd, rid=None):
            rid = rid or "F-REM-%s" % city
            self.assertStatus(f.remit(rid, city, P, fen, value_date), 202)
            remittances.append((rid, fen))

        # Income: every city remits in full on time but two.
        for c in S.CITIES:
            if c not in (self.SHORT, self.LATE):
                remit(c, collected[c])
        with self.subTest(fault="short remittance"):
            remit(self.SHORT, collected[self.SHORT] - 100)
        with self.subTest(fault="late remittance"):
            remit(self.LATE, collected[self.LATE], value_date=S.day_after(S.due_date(P)))
        with self.subTest(fault="payee not in the registry"):
            self.refuse(lambda: f.remit("F-REM-BADPAYEE", self.PAYEE, P, 100, vd,
                                        to_account="270362999990000099"),
                        422, "payee-not-in-registry", "F-REM-BADPAYEE")
        with self.subTest(fault="expenditure to expenditure"):
            self.refuse(lambda: f.remit("F-REM-EXP2EXP", self.EXP_FROM, P, 100, vd,
                                        from_account=M.account("city-expenditure",
                                                               self.EXP_FROM),
                                        to_account=M.account("city-expenditure",
                                                             self.EXP_TO)),
                        422, "edge-not-allowed", "F-REM-EXP2EXP")

        # Plans: employer-paid items refused; one plan per city and month.
        with self.subTest(fault="employer-paid item"):
            for n, item in enumerate(S.EMPLOYER_PAID):
                self.refuse(lambda: f.submit_plan("F-PLAN-EMP-%d" % n, self.EMPLOYER, P,
                                                  [("medical", 1000), (item, 500)]),
                            422, "employer-paid-item", "F-PLAN-EMP-%d" % n)
        with self.subTest(fault="second plan without amends, then an amendment"):
            self.assertStatus(f.submit_plan("F-PLAN-AM-1", self.AMEND, P,
                                            [("medical", 300000)]), 202)
            self.refuse(lambda: f.submit_plan("F-PLAN-AM-2", self.AMEND, P,
                                              [("medical", 400000)]),
                        422, "plan-exists", "F-PLAN-AM-2")
            self.approved_plan("F-PLAN-AM-3", self.AMEND, 400000, amends="F-PLAN-AM-1")
            self.assertStatus(f.disburse("F-DISB-AM", [("F-PLAN-AM-3", 400000)]), 202)
            self.settle("F-DISB-AM")
        with self.subTest(fault="review by the submitter"):
            self.assertStatus(f.submit_plan("F-PLAN-EX", self.EXCEEDED, P,
                                            [("funeral", 150000)]), 202)
            self.refuse(lambda: f.review("F-PLAN-EX", 150000, who="hrss"),
                        403, "role-not-allowed")
            self.assertStatus(f.review("F-PLAN-EX", 150000), 202)

        # Disbursements.
        with self.subTest(fault="plan exceeded by one fen"):
            refusal_alerts["plan-exceeded"] = self.refuse(
                lambda: f.disburse("F-DISB-EX-OVER", [("F-PLAN-EX", 150001)]),
                422, "plan-exceeded", "F-DISB-EX-OVER", alert="plan-exceeded")
            self.assertStatus(f.disburse("F-DISB-EX", [("F-PLAN-EX", 150000)]), 202)
            self.settle("F-DISB-EX")
        with self.subTest(fault="budget exceeded"):
            self.approved_plan("F-PLAN-BU", self.BUDGET, 200000)
            # Two lines of one disbursement for the same city and year are held to the
            # budget together: 600 + 600 yuan do not pass a 1000-yuan budget.
            other = P[:5] + ("01" if P[5:] != "01" else "02")
            self.assertStatus(f.submit_plan("F-PLAN-BU-0", self.BUDGET, other,
                                            [("medical", 60000)]), 202)
            self.assertStatus(f.review("F-PLAN-BU-0", 60000), 202)
            self.refuse(lambda: f.disburse("F-DISB-BU-2L", [("F-PLAN-BU-0", 60000),
                                                            ("F-PLAN-BU", 60000)]),
                        422, "budget-exceeded", "F-DISB-BU-2L", alert="budget-exceeded")
            refusal_alerts["budget-exceeded"] = self.refuse(
                lambda: f.disburse("F-DISB-BU-OVER", [("F-PLAN-BU", 100001)]),
                422, "budget-exceeded", "F-DISB-BU-OVER", alert="budget-exceeded")
            self.assertStatus(f.disburse("F-DISB-BU", [("F-PLAN-BU", 100000)]), 202)
            self.settle("F-DISB-BU")
        with self.subTest(fault="replayed disbursement with another amount"):
            self.approved_plan("F-PLAN-DUP", self.DUP, 80000)
            first = self.assertStatus(f.disburse("F-DISB-DUP", [("F-PLAN-DUP", 60000)]), 202)
            again = self.assertStatus(f.disburse("F-DISB-DUP", [("F-PLAN-DUP", 60000)]), 202)
            self.assertEqual(again.body, first.body)
            refused = self.refuse(lambda: f.disburse("F-DISB-DUP", [("F-PLAN-DUP", 59999)]),
                                  409, "duplicate-conflict",
                                  alert="duplicate-id-different-content")
            self.assertEqual(refused[1]["original_index"], first.json()["audit_index"])
            refusal_alerts["duplicate-id-different-content"] = refused
            self.settle("F-DISB-DUP")
        with self.subTest(fault="unsettled disbursement"):
            self.approved_plan("F-PLAN-UN", self.UNSETTLED, 70000)
            self.assertStatus(f.disburse("F-DISB-UN", [("F-PLAN-UN", 70000)]), 202)
            f.bank_files(["F-DISB-UN"])     # the bank has it, and never answers

        # The bank: every remittance arrives; one credit nobody's remittance explains,
        # booked in the month after the period.
        self.assertStatus(f.notify("F-CAMT-1", [(fen, "CRDT", vd, rid, rid)
                                                for rid, fen in remittances]), 200)
        with self.subTest(fault="unmatched arrival"):
            self.assertStatus(f.notify("F-CAMT-2", [(12345, "CRDT",
                                                     S.next_period(P) + "-05", None,
                                                     "UNKNOWN-REF-1")]), 200)

        # The reconciliation: exactly the injected flags.
        rec = self.figures()
        flags = {c["city_code"]: c["flags"] for c in rec["cities"]}
        want = {c: [] for c in S.CITIES}
        want.update({self.SHORT: ["short-remittance"], self.LATE: ["late-remittance"],
                     self.UNSETTLED: ["unsettled-disbursement"]})
        self.assertEqual(flags, want)
        self.assertEqual((rec["clean"], rec["flags"]), (False, ["unmatched-arrival"]))
        self.assertEqual([(u["amount_fen"], u["reference"]) for u in rec["unmatched_arrivals"]],
                         [(12345, "UNKNOWN-REF-1")])
        row = {c["city_code"]: c for c in rec["cities"]}
        self.assertEqual(row[self.SHORT]["remitted_fen"], collected[self.SHORT] - 100)
        self.assertEqual(row[self.AMEND]["planned_fen"], 400000)    # the amendment stands
        self.assertEqual((row[self.BUDGET]["disbursed_fen"], row[self.EXCEEDED]["disbursed_fen"],
                          row[self.DUP]["disbursed_fen"]), (100000, 150000, 60000))
        self.assertEqual((row[self.UNSETTLED]["disbursed_fen"],
                          row[self.UNSETTLED]["settled_fen"]), (70000, 0))
        for c in S.CITIES:
            self.assertEqual(row[c]["arrived_fen"], row[c]["remitted_fen"], c)

        # The alerts: each expected rule, over HTTP and from gatewayctl; a refusal's
        # alert points at the refusal's own audit entry.
        alerts = f.alerts()
        got = {(a["rule"], a["city_code"]) for a in alerts}
        for rule, city in (("short-remittance", self.SHORT), ("late-remittance", self.LATE),
                           ("plan-exceeded", self.EXCEEDED), ("budget-exceeded", self.BUDGET),
                           ("unmatched-arrival", "")):
            self.assertIn((rule, city), got)
        self.assertIn("duplicate-id-different-content", {a["rule"] for a in alerts})
        for rule, (index, _) in refusal_alerts.items():
            self.assertIn(index,
                          [a["audit_index"] for a in alerts if a["rule"] == rule], rule)
        r = ctl.alerts(self.conf, as_json=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["alerts"], alerts)
        r = ctl.alerts(self.conf)
        for rule in ("short-remittance", "late-remittance", "plan-exceeded", "budget-exceeded",
                     "duplicate-id-different-content", "unmatched-arrival"):
            self.assertIn(rule, r.stdout)

        # gatewayctl's table says NOT CLEAN (exit 1); CSV and JSON agree; the log verifies.
        r = ctl.report(self.conf, P)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("NOT CLEAN", r.stdout)
        self.assertIn("unmatched arrival", r.stdout)
        self.assertEqual(self.assertReportsAgree(rec, P), 1)
        self.assertAuditVerifies()
        sys.stderr.write("\n  faulty month: %.2fs\n" % (time.monotonic() - t0))


if __name__ == "__main__":
    unittest.main()
