"""gatewayctl audit verify over a real fund's log, and answers of any size: a
collection of thousands of items makes an entry of hundreds of kilobytes whose proof
bundle must come back whole through the daemon; the keeper's signature over an
instruction, edited inside a consistently rewritten log, and the fund's tables, edited
behind the log's back on a copy, are both found and named.

Run: python3 -m unittest discover -s tests/integration -p test_audit_verify.py -v
"""

import base64
import json
import os
import re
import sqlite3
import subprocess
import unittest

import harness as h
import keeperlib as K
import messages as M

GATEWAYCTL = h._path_from_env("GATEWAYCTL", "build/gatewayctl")
SIGNING_PUB = os.path.join(h.CERTS, "signing.pub")
BIG_ITEMS = 3000


class VerifyCase(unittest.TestCase):
    """One gateway; one month of a city, with a collection of BIG_ITEMS items."""

    LONG_REF = "R" * 35       # AcctSvcrRef: Max35Text in pain.002.001.10
    LONG_PLAN = "V-PLAN-" + "L" * 28     # the longest id: 35 characters

    @classmethod
    def setUpClass(cls):
        h.require_environment()
        cls.env = h.Env()
        cls.env.start()
        try:
            cls.month()
        except BaseException:
            cls.env.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        err = cls.env.gateway.stderr_text() if cls.env.gateway else ""
        cls.env.stop()
        if h.SANITIZER_ERRORS.search(err):
            raise AssertionError("sanitizer report in gatewayd's stderr:\n%s" % err[-4000:])

    @classmethod
    def post(cls, who, path, body, headers=None):
        r = cls.env.https("POST", path, who=who, body=body,
                          headers=headers or M.json_headers())
        if r.status not in (200, 202):
            raise AssertionError("%s %s: %r" % (who, path, r))
        return r.json() if r.header("Content-Type", "").startswith("application/json") \
            else r

    @classmethod
    def month(cls):
        env = cls.env
        fin = env.stubs["finance"]
        items = [M.ITEMS[i % len(M.ITEMS)] for i in range(BIG_ITEMS)]
        r = cls.post("tax", "/v1/collections", M.collection("V-TAX-BIG", items=items),
                     M.xml_headers())
        cls.big_index = int(re.search(rb"<AuditIndex>(\d+)</AuditIndex>", r.body).group(1)) \
            if b"<AuditIndex>" in r.body else None
        fin.wait_record("/inbox/collection")
        cls.post("hrss", "/v1/plans", M.plan("V-PLAN-1"))
        cls.post("finance", "/v1/plans/V-PLAN-1/review", M.review(total=600000))
        # A review whose path names a plan id 5 bytes too long was applied to
        # the plan named by its first 35 (the id was cut to fit).
        cls.post("hrss", "/v1/plans", M.plan(cls.LONG_PLAN, period="2024-08"))
        cls.long_review = env.https("POST", "/v1/plans/%sEXTRA/review" % cls.LONG_PLAN,
                                    who="finance", body=M.review(total=600000),
                                    headers=M.json_headers())
        cls.post("hrss", "/v1/plans", M.plan("V-PLAN-2", period="2024-07"))
        cls.post("finance", "/v1/plans/V-PLAN-2/review", M.review(total=400000))
        cls.post("hrss", "/v1/disbursements",
                 M.disbursement("V-DISB-1", [("V-PLAN-1", 300000), ("V-PLAN-2", 200000)]))
        env.stubs["bank"].wait_record("/inbox/pain.001")
        e2e = [row[0] for row in cls.query("SELECT e2e FROM payments WHERE disbursement = "
                                           "'V-DISB-1' ORDER BY line")]
        # One paid, one rejected: the plan gets the rejected one's room back.
        # The rejection carries the longest reference a bank may give.
        status = M.pain002("V-STS-1", "V-DISB-1", [(e2e[0], "ACSC", None),
                                                   (e2e[1], "RJCT", "AC04")])
        status = status.replace(b"<AcctSvcrRef>BK%s<" % e2e[1][-6:].encode(),
                                b"<AcctSvcrRef>%s<" % cls.LONG_REF.encode())
        cls.post("bank", "/v1/bank/status", status, M.xml_headers())
        env.stubs["hrss"].wait_record("/inbox/status", count=2)
        if cls.big_index is None:
            cls.big_index = cls.query("SELECT entry FROM instructions WHERE kind = "
                                      "'collection' AND id = 'V-TAX-BIG'")[0][0]
        # Every delivery attempt logged, and a checkpoint over all of it.
        h.wait_until(lambda: cls.query("SELECT count(*) FROM outbox WHERE state = 0")[0][0]
                     == 0, h.IO_TIMEOUT, what="every delivery made")
        size = cls.query("SELECT max(idx) + 1 FROM entries")[0][0]
        h.wait_until(lambda: cls.query("SELECT coalesce(max(size), 0) FROM checkpoints")[0][0]
                     >= size, h.IO_TIMEOUT, what="a checkpoint over the month")
        cls.vkey = cls.ctl("audit", "vkey", "-c", env.config_path).stdout.strip()

    @classmethod
    def query(cls, sql):
        db = sqlite3.connect("file:%s?mode=ro" % cls.database(), uri=True, timeout=10)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    @classmethod
    def database(cls):
        return os.path.join(cls.env.dir, "audit.db")

    @classmethod
    def ctl(cls, *args):
        return subprocess.run([GATEWAYCTL] + list(args), capture_output=True, text=True,
                              timeout=120)

    # -- helpers --------------------------------------------------------------

    def copy(self, name):
        """A consistent copy of the live database (SQLite's backup)."""
        path = os.path.join(self.env.dir, name)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
        src = sqlite3.connect("file:%s?mode=ro" % self.database(), uri=True, timeout=10)
        dst = sqlite3.connect(path)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        return path

    def verify_copy(self, path):
        """verify --json over a copy: (exit code, the JSON object)."""
        r = self.ctl("audit", "verify", "--json", "--db", path, "--vkey", self.vkey,
                     "--skey", SIGNING_PUB)
        return r.returncode, json.loads(r.stdout)

    def rewrite_entry(self, path, index, edit):
        """Replaces entry index with edit(bytes), its leaf and every tree node
        recomputed, as an attacker with write access would: only what is signed
        can tell."""
        c = sqlite3.connect(path)
        try:
            for t in ("entries_no_update", "nodes_no_update"):
                c.execute("DROP TRIGGER IF EXISTS %s" % t)
            entries = [bytes(d) for (d,) in c.execute("SELECT data FROM entries ORDER BY idx")]
            entries[index] = edit(entries[index])
            leaves = [K.leaf_hash(e) for e in entries]
            c.execute("BEGIN")
            c.execute("UPDATE entries SET data = ?, leaf = ? WHERE idx = ?",
                      (entries[index], leaves[index], index))
            for (level, pos), hsh in K.all_nodes(leaves).items():
                c.execute("UPDATE nodes SET hash = ? WHERE level = ? AND pos = ?",
                          (hsh, level, pos))
            c.execute("COMMIT")
        finally:
            c.close()

    def edit_table(self, path, *sql):
        c = sqlite3.connect(path)
        try:
            for s in sql:
                self.assertEqual(c.execute(s).rowcount, 1, s)
            c.commit()
        finally:
            c.close()


class Month(VerifyCase):

    def test_bundle_of_a_large_entry_is_whole(self):
        entry = self.env.https("GET", "/audit/entries/%d" % self.big_index, who="admin")
        self.assertEqual(entry.status, 200, entry)
        self.assertGreater(len(entry.body), 200 * 1024, "the collection's entry is small")
        r = self.env.https("GET", "/audit/proof/bundle?index=%d" % self.big_index,
                           who="admin")
        self.assertEqual(r.status, 200, r)
        text = r.body.decode()
        extra = re.search(r"^extra (\S+)$", text, re.M).group(1)
        self.assertEqual(base64.b64decode(extra), entry.body)
        self.assertTrue(text.endswith("\n"), text[-200:])
        bundle = os.path.join(self.env.dir, "big.bundle")
        vkey = os.path.join(self.env.dir, "log.vkey")
        with open(bundle, "wb") as f:
            f.write(r.body)
        with open(vkey, "w") as f:
            f.write(self.vkey + "\n")
        v = self.ctl("audit", "verify-proof", bundle, "--vkey", vkey)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertIn("proof OK: entry %d" % self.big_index, v.stdout)


    def test_review_path_with_too_long_a_plan_id(self):
        r = self.long_review
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json()["code"], "bad-id", r)
        self.assertEqual(self.query("SELECT state, approved FROM instructions WHERE "
                                    "kind = 'plan' AND id = '%s'" % self.LONG_PLAN),
                         [(3, None)])     # still submitted, never reviewed

    def test_status_notice_keeps_the_whole_bank_reference(self):
        """The notices to hrss and finance carried at most 34 of its 35 characters."""
        bodies = [json.loads(b) for (b,) in self.query(
            "SELECT body FROM outbox WHERE path = '/inbox/status'")]
        refs = sorted(b.get("bank_reference", "") for b in bodies)
        self.assertEqual(len(refs), 4, bodies)
        self.assertEqual(refs[2:], [self.LONG_REF] * 2)

    def test_the_month_verifies(self):
        r = self.ctl("audit", "verify", "--json", "-c", self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["result"], "ok", out)
        self.assertIsNone(out["first_problem"])
        n_instr = self.query("SELECT count(*) FROM instructions")[0][0]
        n_cps = self.query("SELECT count(*) FROM checkpoints")[0][0]
        self.assertEqual(n_instr, 8)
        self.assertEqual(out["checkpoints"], n_cps)
        # Every checkpoint, every instruction, and the checkpoint file.
        self.assertEqual(out["signatures"], n_cps + n_instr + 1, out)
        # The rejected payment gave its room back, and the log says so too.
        self.assertEqual(self.query("SELECT id, disbursed FROM instructions WHERE kind = "
                                    "'plan' AND id IN ('V-PLAN-1', 'V-PLAN-2') ORDER BY id"),
                         [("V-PLAN-1", 300000), ("V-PLAN-2", 0)])
        # Without --json: the same, in words.
        r = self.ctl("audit", "verify", "-c", self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"^audit log OK: \d+ entries, %d checkpoints verified"
                         % n_cps)

    def test_copy_verifies_with_the_public_signing_key(self):
        path = self.copy("plain.db")
        rc, out = self.verify_copy(path)
        self.assertEqual(rc, 0, out)
        # Without the instruction key the instructions cannot be vouched for.
        r = self.ctl("audit", "verify", "--json", "--db", path, "--vkey", self.vkey)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("not given", json.loads(r.stdout)["first_problem"]["detail"])

    def test_tampered_instruction_signature(self):
        index = self.query("SELECT entry FROM instructions WHERE kind = 'review' AND "
                           "id = 'V-PLAN-1'")[0][0]
        path = self.copy("sig.db")

        def edit(data):
            e = json.loads(data)
            sig = e["signature"]["value"]
            # Another valid base64 character at the start: still the same length.
            e["signature"]["value"] = ("B" if sig[0] != "B" else "C") + sig[1:]
            out = json.dumps(e, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            self.assertEqual(len(out.encode()), len(data))
            return out.encode()
        self.rewrite_entry(path, index, edit)
        rc, out = self.verify_copy(path)
        self.assertEqual(rc, 1, out)
        p = out["first_problem"]
        self.assertEqual((p["what"], p["index"]), ("entry", index), out)
        self.assertIn("signature does not verify", p["detail"])

    def test_plan_total_edited_behind_the_log(self):
        index = self.query("SELECT entry FROM instructions WHERE kind = 'plan' AND "
                           "id = 'V-PLAN-1'")[0][0]
        path = self.copy("plan.db")
        self.edit_table(path, "UPDATE instructions SET approved = approved + 100000 "
                        "WHERE kind = 'plan' AND id = 'V-PLAN-1'")
        rc, out = self.verify_copy(path)
        self.assertEqual(rc, 1, out)
        p = out["first_problem"]
        self.assertEqual((p["what"], p["index"]), ("fund state", index), out)
        self.assertIn("plan V-PLAN-1: approved total 700000 in the table, 600000 in the log",
                      p["detail"])

    def test_running_total_edited_behind_the_log(self):
        """fund_totals (what the rules and reports read) edited alone: its rows no longer
        sum the instructions they total."""
        city, period, amount = self.query("SELECT city, period, amount FROM fund_totals "
                                          "WHERE what = 'collected' LIMIT 1")[0]
        path = self.copy("totals.db")
        self.edit_table(path, "UPDATE fund_totals SET amount = amount + 1 WHERE what = "
                        "'collected' AND city = '%s' AND period = '%s'" % (city, period))
        rc, out = self.verify_copy(path)
        self.assertEqual(rc, 1, out)
        self.assertIn("fund total collected of %s %s: %d in the totals, %d in the rows it sums"
                      % (city, period, amount + 1, amount), out["first_problem"]["detail"])

    def test_disbursed_total_edited_behind_the_log(self):
        path = self.copy("disbursed.db")
        self.edit_table(path, "UPDATE instructions SET disbursed = 500000 "
                        "WHERE kind = 'plan' AND id = 'V-PLAN-1'")
        rc, out = self.verify_copy(path)
        self.assertEqual(rc, 1, out)
        self.assertIn("disbursed total 500000 in the table, 300000 in the log",
                      out["first_problem"]["detail"])

    def test_delivery_outcome_removed_behind_the_log(self):
        seq, attempt, entry = self.query("SELECT seq, attempt, entry FROM attempts "
                                         "ORDER BY entry LIMIT 1")[0]
        path = self.copy("attempt.db")
        self.edit_table(path, "DELETE FROM attempts WHERE seq = %d AND attempt = %d"
                        % (seq, attempt))
        rc, out = self.verify_copy(path)
        self.assertEqual(rc, 1, out)
        p = out["first_problem"]
        self.assertEqual(p["index"], entry, out)
        self.assertIn("outbox row %d attempt %d: in the log, missing from the attempts "
                      "table" % (seq, attempt), p["detail"])

    def test_instruction_added_behind_the_log(self):
        path = self.copy("added.db")
        self.edit_table(path, "INSERT INTO instructions SELECT kind, 'V-FORGED', digest, "
                        "agency, city, period, amount, approved, disbursed, bank, state, "
                        "entry, status, receipt, value_date FROM instructions WHERE "
                        "kind = 'plan' AND id = 'V-PLAN-1'")
        rc, out = self.verify_copy(path)
        self.assertEqual(rc, 1, out)
        self.assertIn("plan V-FORGED: in the instructions table, never accepted in the log",
                      out["first_problem"]["detail"])


if __name__ == "__main__":
    unittest.main()
