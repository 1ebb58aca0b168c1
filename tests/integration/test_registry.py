"""The account registry file on reload (SIGHUP): the same file is accepted; a valid file that
says something else is refused with its differences (the registry changes only through
reviewed instructions, test_account_changes.py); a broken one is refused; money keeps going
where the log's registry says (DESIGN.md section 1).

Run: python3 -m unittest tests.integration.test_registry -v   (after make)
"""

import os
import shutil
import signal
import unittest

import harness as h
import messages as M

SRC = os.path.join(h.REPO, "config", "accounts.conf")
OLD = "270362030020000137"      # Jinchang (620300) city-expenditure in the development file
NEW = "270362030020009995"


class RegistryReload(unittest.TestCase):

    def setUp(self):
        h.require_environment()
        self.env = h.Env(stub_args={"bank": []})
        self.accounts = os.path.join(self.env.dir, "accounts.conf")
        shutil.copy(SRC, self.accounts)
        self.env.cfg_kw["accounts"] = self.accounts
        self.env.start()
        self.addCleanup(self.env.stop)

    def post(self, who, path, body):
        return self.env.https("POST", path, who=who, body=body, headers=M.json_headers())

    def disburse(self, did, pid):
        r = self.post("hrss", "/v1/disbursements", M.disbursement(did, [(pid, 100)]))
        self.assertEqual(r.status, 202, r)
        t = self.env.https("GET", "/v1/transfers/" + did, who="hrss").json()
        return t["payments"][0]["account"]

    def reload(self):
        mark = self.env.gateway.stderr_size()
        self.env.gateway.signal(signal.SIGHUP)
        return h.wait_until(lambda: (lambda t: t if "reload:" in t and (
            "says what the log's registry says" in t or "has errors" in t or
            "differs from the registry" in t) else None)(
            self.env.gateway.stderr_text(mark)), 10, what="the reload to be reported")

    def test_only_the_same_registry_is_accepted_on_reload(self):
        with open(self.accounts) as f:
            text = f.read()
        self.assertIn(OLD, text, "the development registry changed: update OLD")
        self.assertEqual(self.post("hrss", "/v1/plans", M.plan("REG-P", city="620300", items=(
            ("medical", 1000),))).status, 202)
        self.assertEqual(self.post("finance", "/v1/plans/REG-P/review",
                                   M.review(total=1000)).status, 202)
        self.assertEqual(self.disburse("REG-D1", "REG-P"), OLD)

        log = self.reload()
        self.assertIn("registry file of 30 accounts says what the log's registry says", log)

        with open(self.accounts, "w") as f:
            f.write(text.replace(OLD, NEW))
        log = self.reload()
        self.assertIn("differs from the registry in the audit log in 1 place: refused", log)
        self.assertEqual(self.disburse("REG-D2", "REG-P"), OLD)

        # A broken file: the parent refuses the reload, the keeper keeps its registry.
        with open(self.accounts, "w") as f:
            f.write(text.replace("cnaps = 102823", "cnaps = 1x2823"))
        log = self.reload()
        self.assertIn("has errors", log)
        self.assertEqual(self.disburse("REG-D3", "REG-P"), OLD)


if __name__ == "__main__":
    unittest.main()
