"""The inspection report (issue 12, part 4) through the real daemon: a month with a short
remittance, a conflicting duplicate and a disbursement past its plan, then
`gatewayctl inspect --period` as HTML and CSV and GET /v1/reports/inspection, each
alert and refusal with the audit index the log holds it at; a bad period is a usage
error; a month with nothing is a report that says so.

Run: python3 -m unittest tests.integration.test_inspect -v   (after make)
"""

import csv
import io
import json
import os
import re
import subprocess
import unittest

import harness as h
import messages as M

GATEWAYCTL = h._path_from_env("GATEWAYCTL", "build/gatewayctl")
PERIOD = "2024-06"
CITY = "620100"


class Inspection(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        h.require_environment()
        cls.env = h.Env()
        cls.env.start()
        cls.month()

    @classmethod
    def tearDownClass(cls):
        err = cls.env.gateway.stderr_text() if cls.env.gateway else ""
        cls.env.stop()
        if h.SANITIZER_ERRORS.search(err):
            raise AssertionError("sanitizer report in gatewayd's stderr:\n%s" % err[-4000:])

    @classmethod
    def post(cls, who, path, body, headers=None):
        return cls.env.https("POST", path, who=who, body=body,
                             headers=headers or M.json_headers())

    @classmethod
    def expect(cls, r, status):
        if r.status != status:
            raise AssertionError("expected %d: %r" % (status, r))
        return r

    @classmethod
    def month(cls):
        """The month of one city, with a refusal and alerts."""
        post, ok = cls.post, cls.expect
        ok(post("tax", "/v1/collections", M.collection("INS-TAX-1", period=PERIOD),
                M.xml_headers()), 202)
        # One yuan short: the short-remittance alert, still open.
        ok(post("finance-city-620100", "/v1/remittances",
                M.remittance("INS-REM-1", period=PERIOD, amount=9434500)), 202)
        ok(post("hrss", "/v1/plans", M.plan("INS-PLAN-1", period=PERIOD)), 202)
        ok(post("finance", "/v1/plans/INS-PLAN-1/review", M.review(total=620000)), 202)
        # One fen past the approved plan: refused by plan-exceeded, an alert.
        r = ok(post("hrss", "/v1/disbursements",
                    M.disbursement("INS-DISB-1", [("INS-PLAN-1", 620001)])), 422)
        assert r.json()["code"] == "plan-exceeded", r
        # The same plan id with other content: duplicate-conflict, an alert.
        r = ok(post("hrss", "/v1/plans", M.plan("INS-PLAN-1", period=PERIOD,
                                                items=(("medical", 1),))), 409)
        alerts = cls.env.https("GET", "/v1/alerts", who="auditor").json()["alerts"]
        cls.alerts = {a["rule"]: a for a in alerts}
        for rule in ("short-remittance", "plan-exceeded", "duplicate-id-different-content"):
            assert rule in cls.alerts, alerts

    def ctl(self, *args):
        return subprocess.run([GATEWAYCTL, "inspect", "-c", self.env.config_path] +
                              list(args), capture_output=True, timeout=60)

    def entry(self, index):
        r = self.env.https("GET", "/audit/entries/%d" % index, who="admin")
        self.assertEqual(r.status, 200, r)
        return json.loads(r.body)

    def test_csv_holds_the_alerts_and_refusals_with_their_entries(self):
        out = os.path.join(self.env.dir, "inspection.csv")
        r = self.ctl("--period", PERIOD, "--format", "csv", "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            raw = f.read()
        self.assertTrue(raw.startswith(b"section,audit_index,time,"), raw[:80])
        self.assertNotIn(b"\n", raw.replace(b"\r\n", b""))   # RFC 4180 line ends
        rows = list(csv.DictReader(io.StringIO(raw.decode("UTF-8"), newline="")))
        by = lambda s: [x for x in rows if x["section"] == s]    # noqa: E731

        rec = {x["city_code"]: x for x in by("reconciliation")}
        self.assertEqual(len(rec), 15)                          # 14 cities and the total
        self.assertEqual(rec[CITY]["city_name"], "兰州市")
        self.assertEqual((rec[CITY]["collected"], rec[CITY]["remitted"],
                          rec[CITY]["planned"], rec[CITY]["reviewed"]),
                         ("94346.00", "94345.00", "6200.00", "6200.00"))
        self.assertIn("short-remittance", rec[CITY]["flags"])

        alerts = {x["rule_or_kind"]: x for x in by("alert")}
        for rule, a in self.alerts.items():
            if a["period"] != PERIOD:
                continue
            self.assertIn(rule, alerts)
            self.assertEqual(int(alerts[rule]["audit_index"]), a["audit_index"])
        self.assertEqual(alerts["short-remittance"]["state"], "open")
        self.assertIn("still short", alerts["short-remittance"]["ended"])
        self.assertIn("collected: 94346.00 yuan", alerts["short-remittance"]["figures"])
        self.assertEqual(alerts["plan-exceeded"]["state"], "closed")

        refusals = {x["rule_or_kind"]: x for x in by("refusal")}
        self.assertEqual(set(refusals), {"plan-exceeded", "duplicate-conflict"})
        idx = int(refusals["plan-exceeded"]["audit_index"])
        self.assertEqual(idx, self.alerts["plan-exceeded"]["audit_index"])
        e = self.entry(idx)
        self.assertEqual((e["kind"], e["rule"], e["instruction"]["id"]),
                         ("refusal", "plan-exceeded", "INS-DISB-1"))
        self.assertEqual(refusals["plan-exceeded"]["subject_or_id"], "INS-DISB-1")
        self.assertEqual(refusals["plan-exceeded"]["status"], "422")
        e = self.entry(int(refusals["duplicate-conflict"]["audit_index"]))
        self.assertEqual((e["kind"], e["rule"]), ("refusal", "duplicate-conflict"))

    def test_html_is_self_contained_and_holds_the_same(self):
        r = self.ctl("--period", PERIOD)
        self.assertEqual(r.returncode, 0, r.stderr)
        html = r.stdout.decode("UTF-8")
        self.assertTrue(html.startswith("<!DOCTYPE html>"), html[:40])
        self.assertIn('<meta charset="utf-8">', html)
        self.assertIn("兰州市", html)
        self.assertNotIn("<script", html)
        self.assertNotRegex(html, r"(src|href)=|https?:|@import|url\(")
        idx = self.alerts["plan-exceeded"]["audit_index"]
        self.assertRegex(html, r'<td>plan-exceeded</td><td class="n">%d</td>' % idx)
        self.assertIn("94346.00", html)
        # The gateway serves the same report, as a document to the auditor.
        g = self.env.https("GET", "/v1/reports/inspection?period=" + PERIOD, who="auditor",
                           headers={"Accept": "text/html"})
        self.assertEqual(g.status, 200, g)
        self.assertTrue(g.header("Content-Type").startswith("text/html"), g)
        strip = lambda s: re.sub(r"Figures as of the log's size \d+", "", s)   # noqa: E731
        self.assertEqual(strip(g.body.decode("UTF-8")), strip(html))

    def test_gateway_json_and_csv(self):
        r = self.ctl("--period", PERIOD, "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        mine = json.loads(r.stdout)
        g = self.env.https("GET", "/v1/reports/inspection?period=" + PERIOD, who="admin")
        self.assertEqual(g.status, 200, g)
        theirs = g.json()
        for k in ("alerts", "refusals", "refusals_by_rule", "changes", "reconciliation"):
            self.assertEqual(theirs[k], mine[k], k)
        self.assertEqual(theirs["refusals_by_rule"],
                         {"duplicate-conflict": 1, "plan-exceeded": 1})
        c = self.env.https("GET", "/v1/reports/inspection?period=" + PERIOD, who="auditor",
                           headers={"Accept": "text/csv"})
        self.assertEqual(c.status, 200, c)
        self.assertIn(b"\r\nrefusal,", c.body)
        # The supervisor's report: not for the parties.
        for who in ("finance", "hrss", "tax"):
            self.assertEqual(self.env.https("GET", "/v1/reports/inspection?period=" + PERIOD,
                                            who=who).status, 403, who)
        self.assertEqual(self.env.https("GET", "/v1/reports/inspection?period=2024-13",
                                        who="auditor").status, 400)

    def test_bad_period_is_a_usage_error(self):
        for args in (["--period", "2024-13"], ["--period", "2024-6"], ["--period", "junk"],
                     [], ["--period", PERIOD, "--format", "pdf"]):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(b"usage: gatewayctl inspect --period YYYY-MM", r.stderr)
            self.assertEqual(r.stdout, b"")
        r = self.ctl("--period", "2024-13")
        self.assertIn(b'bad period "2024-13"', r.stderr)

    def test_a_period_with_nothing_says_so(self):
        r = self.ctl("--period", "2031-01")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Nothing was recorded for this period", r.stdout.decode("UTF-8"))
        self.assertIn("No alert.", r.stdout.decode("UTF-8"))
        r = self.ctl("--period", "2031-01", "--format", "csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.DictReader(io.StringIO(r.stdout.decode("UTF-8"), newline="")))
        self.assertEqual(rows[0]["section"], "report")
        self.assertEqual(rows[0]["state"], "empty")
        self.assertEqual([x for x in rows if x["section"] in ("alert", "refusal", "change")],
                         [])


if __name__ == "__main__":
    unittest.main()
