"""Registry changes under dual control, through the real daemon (issue 12, part 1): a change
proposed by one agency and approved by another takes effect on its date, the proposer's own
agency cannot approve it, a rejection changes nothing, a payment during the cooling-off period
raises an alert, and an edited accounts.conf never changes where money goes.

Run: python3 -m unittest tests.integration.test_account_changes -v   (after make)
"""

import datetime
import json
import os
import shutil
import signal
import subprocess
import unittest

import harness as h
import messages as M

SRC = os.path.join(h.REPO, "config", "accounts.conf")
NAME = "jinchang-expenditure"
OLD = "270362030020000137"      # its number in the development file
NEW = "270362030020009995"
GATEWAYCTL = h._path_from_env("GATEWAYCTL", "build/gatewayctl")


def day(offset):
    return (datetime.datetime.now(datetime.timezone.utc).date()
            + datetime.timedelta(days=offset)).isoformat()


def change(cid, effective, number=NEW, action="change", name=NAME, **acct):
    account = {"name": name}
    if action != "retire":
        account.update({"number": number, "cnaps": "102823000124",
                        "holder": "金昌市社会保险事业管理局支出户", "role": "city-expenditure",
                        "city_code": "620300", "bank": "bank"})
        account.update(acct)
    return json.dumps({"id": cid, "action": action, "account": account,
                       "reason": "the agency moved its expenditure account",
                       "effective_date": effective, "proposed_by": "王芳",
                       "proposed_at": "2026-12-01T09:00:00+08:00"},
                      ensure_ascii=False).encode()


def review(approved=True):
    return json.dumps({"decision": "approved" if approved else "rejected",
                       "reviewed_by": "李明", "reviewed_at": "2026-12-01T10:00:00+08:00"},
                      ensure_ascii=False).encode()


class AccountChanges(unittest.TestCase):

    def setUp(self):
        h.require_environment()
        self.env = h.Env(stub_args={"bank": []})
        self.accounts = os.path.join(self.env.dir, "accounts.conf")
        shutil.copy(SRC, self.accounts)
        self.env.cfg_kw["accounts"] = self.accounts
        self.env.start()
        self.addCleanup(self.env.stop)
        self.post("hrss", "/v1/plans", M.plan("AC-P", city="620300", items=(("medical", 100000),)),
                  202)
        self.post("finance", "/v1/plans/AC-P/review", M.review(total=100000), 202)

    def post(self, who, path, body, status):
        r = self.env.https("POST", path, who=who, body=body, headers=M.json_headers())
        self.assertEqual(r.status, status, r)
        return r.json()

    def get(self, path, who="auditor"):
        r = self.env.https("GET", path, who=who)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def payee(self, did, date):
        self.post("hrss", "/v1/disbursements",
                  M.disbursement(did, [("AC-P", 100)], requested_execution_date=date), 202)
        return self.get("/v1/transfers/" + did, who="hrss")["payments"][0]["account"]

    def number_on(self, date):
        accts = self.get("/v1/accounts?date=" + date)["accounts"]
        return [a for a in accts if a["name"] == NAME][0]

    def alerts(self, rule):
        return [a for a in self.get("/v1/alerts")["alerts"] if a["rule"] == rule]

    def test_approved_change_takes_effect_on_its_date(self):
        later = day(3)
        r = self.post("finance", "/v1/accounts/changes", change("AC-1", later), 202)
        proposal_index = r["audit_index"]
        # Proposed, not yet in force on any date.
        self.assertEqual(self.number_on(later)["number"], OLD)
        pending = self.get("/v1/accounts/changes?state=submitted")["changes"]
        self.assertEqual([c["id"] for c in pending], ["AC-1"])
        self.assertEqual(pending[0]["before"]["number"], OLD)
        self.assertEqual(pending[0]["after"]["number"], NEW)
        self.assertEqual(pending[0]["index"], proposal_index)

        r = self.post("hrss", "/v1/accounts/changes/AC-1/review", review(), 202)
        review_index = r["audit_index"]
        ch = self.get("/v1/accounts/changes")["changes"][0]
        self.assertEqual((ch["state"], ch["in_force_from"], ch["review"]["agency"],
                          ch["review"]["index"]), ("approved", later, "hrss", review_index))

        # Before its date the old account is paid; from its date the new one.
        today = self.number_on(day(0))
        self.assertEqual(today["number"], OLD)
        self.assertIsNone(today["change"])
        on = self.number_on(later)
        self.assertEqual((on["number"], on["change"], on["index"], on["effective_date"]),
                         (NEW, "AC-1", review_index, later))
        self.assertEqual(self.payee("AC-D1", day(1)), OLD)
        self.assertEqual(self.payee("AC-D2", later), NEW)

        # Both agencies and the auditor see the change as an alert pointing at the review.
        changed = self.alerts("payee-account-changed")
        self.assertEqual(len(changed), 1, changed)
        self.assertEqual(changed[0]["audit_index"], review_index)
        self.assertEqual(changed[0]["figures"]["before"]["number"], OLD)
        self.assertEqual(changed[0]["figures"]["after"]["number"], NEW)
        # Paid on the very day it changed: inside the cooling-off period.
        cool = self.alerts("payee-cooling-off")
        self.assertEqual(len(cool), 1, cool)
        self.assertEqual((cool[0]["figures"]["account"], cool[0]["figures"]["days"]), (NAME, 0))
        # The payment before the change raised none: it paid the account of its own date.
        self.assertNotIn("AC-D1", json.dumps(cool))

        # gatewayctl lists the registry with the entry that made each account what it is.
        out = subprocess.run([GATEWAYCTL, "accounts", "-c", self.env.config_path, "--date",
                              later], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        line = [ln for ln in out.stdout.splitlines() if NAME in ln][0]
        self.assertIn(NEW, line)
        self.assertIn(str(review_index), line)
        self.assertEqual(self.env_verify(), 0)

        # The month's inspection lists the initial registry, the proposal and the review.
        out = subprocess.run([GATEWAYCTL, "inspect", "-c", self.env.config_path, "--period",
                              day(0)[:7], "--format", "json"], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        changes = {(c["kind"], c["id"]): c["audit_index"]
                   for c in json.loads(out.stdout)["changes"]}
        self.assertEqual(changes[("account-change", "AC-1")], proposal_index)
        self.assertEqual(changes[("account-review", "AC-1")], review_index)
        self.assertIn("registry", [k for k, _ in changes])

    def env_verify(self):
        out = subprocess.run([GATEWAYCTL, "audit", "verify", "-c", self.env.config_path],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        return out.returncode

    def test_the_proposing_agency_cannot_approve(self):
        self.post("finance", "/v1/accounts/changes", change("AC-2", day(1)), 202)
        r = self.post("finance", "/v1/accounts/changes/AC-2/review", review(), 422)
        self.assertEqual(r["code"], "same-agency-review")
        ch = self.get("/v1/accounts/changes")["changes"][0]
        self.assertEqual((ch["state"], ch["review"]), ("submitted", None))
        self.assertEqual(self.number_on(day(1))["number"], OLD)
        # Roles outside the fund's two authorities can neither propose nor review.
        self.post("tax", "/v1/accounts/changes", change("AC-3", day(1)), 403)
        self.post("auditor", "/v1/accounts/changes/AC-2/review", review(), 403)

    def test_rejected_change_changes_nothing(self):
        self.post("hrss", "/v1/accounts/changes", change("AC-4", day(0)), 202)
        self.post("finance", "/v1/accounts/changes/AC-4/review", review(False), 202)
        ch = self.get("/v1/accounts/changes?state=rejected")["changes"]
        self.assertEqual([c["id"] for c in ch], ["AC-4"])
        self.assertIsNone(ch[0]["in_force_from"])
        self.assertEqual(self.number_on(day(0))["number"], OLD)
        self.assertEqual(self.payee("AC-D3", day(0)), OLD)
        self.assertEqual(self.alerts("payee-account-changed"), [])
        # Reviewed once: a second review is the same instruction id, another content.
        self.post("hrss", "/v1/accounts/changes/AC-4/review", review(True), 409)

    def test_refusals_name_the_rule(self):
        cases = [
            (change("AC-5", day(-1)), "effective-date-past"),
            (change("AC-6", day(1), action="add"), "account-exists"),
            (change("AC-7", day(1), name="no-such"), "no-such-account"),
            # Another account's number: a payee is never two accounts.
            (change("AC-8", day(1), number="270362030020000111"), None),
            (change("AC-9", day(1), role="province-special", city_code="620000"),
             "account-conflict"),
            (change("AC-10", day(1), role="treasurer"), "bad-role"),
        ]
        with open(self.accounts) as f:
            other = [ln.split("=")[1].strip() for ln in f if ln.startswith("number")][0]
        cases[3] = (change("AC-8", day(1), number=other), "account-conflict")
        for body, code in cases:
            r = self.post("finance", "/v1/accounts/changes", body, 422)
            self.assertEqual(r["code"], code, body)
        self.assertEqual(self.get("/v1/accounts/changes")["changes"], [])
        # Retiring the only province-special account would leave remittances nowhere.
        r = self.post("finance", "/v1/accounts/changes",
                      change("AC-11", day(1), action="retire", name="province-special"), 422)
        self.assertIn(r["code"], ("no-province-special", "no-such-account"))

    def test_edited_file_does_not_change_where_money_goes(self):
        with open(self.accounts) as f:
            text = f.read()
        with open(self.accounts, "w") as f:
            f.write(text.replace(OLD, NEW))
        mark = self.env.gateway.stderr_size()
        self.env.gateway.signal(signal.SIGHUP)
        log = h.wait_until(lambda: (lambda t: t if "differs from the registry" in t else None)(
            self.env.gateway.stderr_text(mark)), 10, what="the reload to be refused")
        msgs = [json.loads(ln)["msg"] for ln in log.splitlines() if ln.startswith("{")]
        self.assertIn("reload: accounts file: account %s: number is \"%s\" in the log's "
                      "registry, \"%s\" in the file" % (NAME, OLD, NEW), msgs)
        self.assertEqual(self.payee("AC-D4", day(0)), OLD)
        # A restart with the edited file: the log's registry stays in force.
        self.env.restart_gateway()
        self.assertEqual(self.payee("AC-D5", day(0)), OLD)
        self.assertIn("the log's registry is in force", self.env.gateway.stderr_text())

    def test_initial_registry_is_an_entry(self):
        import sqlite3
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.env.dir, "audit.db"),
                             uri=True)
        try:
            rows = [json.loads(r[0]) for r in db.execute("SELECT data FROM entries")]
        finally:
            db.close()
        seeds = [e for e in rows if e.get("kind") == "registry"]
        self.assertEqual(len(seeds), 1)
        names = [a["name"] for a in seeds[0]["accounts"]]
        self.assertIn(NAME, names)
        self.assertEqual(len(names), 30)
        accts = self.get("/v1/accounts")["accounts"]
        self.assertEqual(len(accts), 30)


if __name__ == "__main__":
    unittest.main()
