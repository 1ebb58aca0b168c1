"""The transfer API end to end (DESIGN.md sections 2 and 3): every agency's message through
the real daemon, keeper and courier to the stub agencies, the bank file checked with xmllint
and openssl only, and every refusal with its status, reason, audit entry and nothing queued.

Run: python3 -m unittest tests.integration.test_transfers -v   (after make)
"""

import json
import os
import re
import sqlite3
import subprocess
import time
import unittest

import harness as h
import httpsig_check
import messages as M

GATEWAYCTL = h._path_from_env("GATEWAYCTL", "build/gatewayctl")
PAIN001_XSD = os.path.join(h.REPO, "config", "schemas", "iso20022", "pain.001.001.09.xsd")
OFFICIAL_PAIN001_XSD = os.path.join(h.REPO, "..", "shared", "schemas", "iso20022",
                                    "pain.001.001.09.xsd")


class TransferCase(unittest.TestCase):
    """One gateway with finance, HRSS and a bank stub that verifies signatures."""

    @classmethod
    def setUpClass(cls):
        h.require_environment()
        cls.saved = None
        cls.env = h.Env(stub_args={"bank": ["--verify-key", os.path.join(h.CERTS,
                                                                         "bank-sign.pub")]})
        cls.saved = os.path.join(cls.env.dir, "bank-bodies")
        os.makedirs(cls.saved)
        cls.env.stub_args["bank"] += ["--save-bodies", cls.saved]
        cls.env.start()

    @classmethod
    def tearDownClass(cls):
        err = cls.env.gateway.stderr_text() if cls.env.gateway else ""
        cls.env.stop()
        if h.SANITIZER_ERRORS.search(err):
            raise AssertionError("sanitizer report in gatewayd's stderr:\n%s" % err[-4000:])

    # -- helpers --------------------------------------------------------------

    def post(self, who, path, body, headers=None):
        return self.env.https("POST", path, who=who, body=body,
                              headers=headers or M.json_headers())

    def get_transfer(self, tid, who="admin", kind=None):
        q = "/v1/transfers/" + tid + ("?kind=" + kind if kind else "")
        return self.env.https("GET", q, who=who)

    def entry_of(self, r):
        """The audit entry recorded for the exchange that answered r."""
        rid = r.header("X-Gateway-Request-Id")
        line = h.wait_until(lambda: next((l for l in self.env.access_log_lines()
                                          if l.get("request_id") == rid), None),
                            h.IO_TIMEOUT, what="access line of %s" % rid)
        idx = line.get("audit_index")
        self.assertIsNotNone(idx, "exchange %s has no audit entry: %r" % (rid, line))
        e = self.env.https("GET", "/audit/entries/%d" % idx, who="admin")
        self.assertEqual(e.status, 200, e)
        return json.loads(e.body)

    def deliveries(self, stub, path):
        return [r for r in self.env.stubs[stub].records() if r.get("path") == path]

    def db(self, sql):
        """One value from the live database, read-only."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.env.dir, "audit.db"),
                             uri=True, timeout=5)
        try:
            return db.execute(sql).fetchone()[0]
        finally:
            db.close()

    def verify_log(self):
        r = subprocess.run([GATEWAYCTL, "audit", "verify", "-c", self.env.config_path],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout


class EndToEnd(TransferCase):

    def test_the_month_of_one_city(self):
        env = self.env
        fin, hrss, bank = env.stubs["finance"], env.stubs["hrss"], env.stubs["bank"]

        # Tax: one batch in UTF-8, one in GBK; finance hears of both.
        r = self.post("tax", "/v1/collections", M.collection("E2E-TAX-UTF8"), M.xml_headers())
        self.assertEqual(r.status, 202, r)
        self.assertIn(b"<Status>accepted</Status>", r.body)
        gbk = M.collection("E2E-TAX-GBK", encoding="GBK")
        self.assertNotEqual(gbk, M.collection("E2E-TAX-GBK"))    # really GBK bytes
        r = self.post("tax", "/v1/collections", gbk, M.xml_headers("GBK"))
        self.assertEqual(r.status, 202, r)
        self.assertIn("GBK", r.header("Content-Type"))
        self.assertIn("<BatchId>E2E-TAX-GBK</BatchId>".encode("GBK"), r.body)
        fin.wait_record("/inbox/collection", count=2)

        # Finance-city remits in full; finance receives the advice.
        r = self.post("finance-city-620100", "/v1/remittances", M.remittance("E2E-REM-1"))
        self.assertEqual(r.status, 202, r)
        fin.wait_record("/inbox/remittance")

        # HRSS plans, finance reviews (dual control), HRSS disburses.
        r = self.post("hrss", "/v1/plans", M.plan("E2E-PLAN-1"))
        self.assertEqual(r.status, 202, r)
        fin.wait_record("/inbox/plan")
        r = self.post("finance", "/v1/plans/E2E-PLAN-1/review", M.review(total=600000))
        self.assertEqual(r.status, 202, r)
        hrss.wait_record("/inbox/review")
        r = self.post("hrss", "/v1/disbursements",
                      M.disbursement("E2E-DISB-1", [("E2E-PLAN-1", 600000)]))
        self.assertEqual(r.status, 202, r)
        receipt = r.json()
        self.assertEqual(receipt["kind"], "disbursement")

        # The bank stub got one pain.001 and verified its signature itself.
        rec = bank.wait_record("/inbox/pain.001")[0]
        self.assertEqual(rec.get("signature"), "ok", rec)
        with open(os.path.join(self.saved, "%d.body" % rec["seq"]), "rb") as f:
            body = f.read()
        with open(os.path.join(self.saved, "%d.headers.json" % rec["seq"])) as f:
            hdrs = json.load(f)
        self.assertIn(b"encoding=\"GB18030\"", body[:80])
        # The official schema accepts it, and openssl alone verifies the signature with
        # nothing but the public key.
        xsd = OFFICIAL_PAIN001_XSD if os.path.exists(OFFICIAL_PAIN001_XSD) else PAIN001_XSD
        x = subprocess.run(["xmllint", "--noout", "--schema", xsd, "-"], input=body,
                           capture_output=True, timeout=30)
        self.assertEqual(x.returncode, 0, x.stderr)
        self.assertTrue(httpsig_check.verify(os.path.join(h.CERTS, "bank-sign.pub"), "POST",
                                             "/inbox/pain.001", hdrs, body))
        # "created" is the Unix time of signing (RFC 9421 section 2.3).
        created = int(re.search(r";created=(\d+)", hdrs["signature-input"]).group(1))
        self.assertLess(abs(created - time.time()), 300, hdrs["signature-input"])
        # Payee from the registry, never from the request.
        self.assertIn(M.LANZHOU_EXPENDITURE.encode(), body)
        e2e = re.search(rb"<EndToEndId>([^<]+)</EndToEndId>", body).group(1).decode()

        # The bank reports settlement; hrss and finance are told; the transfer is settled.
        r = self.post("bank", "/v1/bank/status",
                      M.pain002("E2E-STS-1", "E2E-DISB-1", [(e2e, "ACSC", None)]),
                      M.xml_headers())
        self.assertEqual(r.status, 200, r)
        hrss.wait_record("/inbox/status")
        fin.wait_record("/inbox/status")
        t = h.wait_until(lambda: (lambda t: t if t["proof"] else None)(
            self.get_transfer("E2E-DISB-1", who="hrss").json()), 5.0,
            what="a checkpoint covering the disbursement")
        self.assertEqual(t["state"], "settled")
        self.assertEqual(t["payments"][0]["status"], "ACSC")
        self.assertEqual(t["deliveries"][0]["state"], "delivered")
        self.assertEqual(t["receipt"], receipt)
        # The bank it was sent to sees it; another agency's role does not.
        self.assertEqual(self.get_transfer("E2E-DISB-1", who="bank").status, 200)
        self.assertEqual(self.get_transfer("E2E-DISB-1", who="tax").status, 404)

        # Every delivery carried its Idempotency-Key and arrived once.
        for stub in (fin, hrss, bank):
            keys = [r.get("idempotency_key") for r in stub.records()
                    if r.get("path", "").startswith("/inbox/")]
            self.assertTrue(all(keys), keys)
            self.assertEqual(len(keys), len(set(keys)), keys)

        # Every step is an audit entry, and the log verifies.
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(env.dir, "audit.db"), uri=True)
        kinds = [json.loads(d)["kind"] for (d,) in db.execute("SELECT data FROM entries")]
        instr = [json.loads(d)["instruction"]["kind"] for (d,) in
                 db.execute("SELECT data FROM entries") if b'"kind":"instruction"' in d]
        db.close()
        self.assertEqual(sorted(instr), sorted(["collection", "collection", "remittance",
                                                "plan", "review", "disbursement",
                                                "bank-status"]))
        self.assertGreaterEqual(kinds.count("delivery"), 8)
        self.verify_log()


class Idempotency(TransferCase):

    def test_same_id_same_content_returns_the_original_receipt(self):
        body = M.plan("IDEM-PLAN-1", city="620200")
        a = self.post("hrss", "/v1/plans", body)
        self.assertEqual(a.status, 202, a)
        b = self.post("hrss", "/v1/plans", body)
        self.assertEqual(b.status, 202, b)
        self.assertEqual(a.body, b.body)
        self.assertEqual(b.header("Idempotent-Replayed"), "true")
        self.assertEqual(self.entry_of(b)["kind"], "replay")
        # The same batch in GBK is the same instruction: the same receipt (in GBK).
        u = self.post("tax", "/v1/collections", M.collection("IDEM-TAX-1"), M.xml_headers())
        g = self.post("tax", "/v1/collections", M.collection("IDEM-TAX-1", encoding="GBK"),
                      M.xml_headers("GBK"))
        self.assertEqual((u.status, g.status), (202, 202))
        self.assertEqual(u.body.decode("UTF-8").replace("UTF-8", "GBK"),
                         g.body.decode("GBK"))
        time.sleep(0.5)
        self.assertEqual(len([r for r in self.env.stubs["finance"].records()
                              if "IDEM-PLAN-1" in r.get("idempotency_key", "")]), 1)

    def test_same_id_other_content_is_a_conflict_and_an_alert(self):
        a = self.post("hrss", "/v1/plans", M.plan("IDEM-PLAN-2", city="620300"))
        self.assertEqual(a.status, 202, a)
        b = self.post("hrss", "/v1/plans", M.plan("IDEM-PLAN-2", city="620300",
                                                   items=(("medical", 500001),)))
        self.assertEqual(b.status, 409, b)
        self.assertEqual(b.json()["code"], "duplicate-conflict")
        e = self.entry_of(b)
        self.assertEqual((e["kind"], e["rule"], e["alert"]),
                         ("refusal", "duplicate-conflict", "duplicate-id-different-content"))
        self.assertEqual(e["original_index"], a.json()["audit_index"])
        t = self.get_transfer("IDEM-PLAN-2", kind="plan").json()
        self.assertEqual(t["amount_fen"], 620000)   # the first one stands


class Refusals(TransferCase):
    """Each refusal: the status, the machine-readable reason, an audit entry of it, and
    nothing enqueued (no transfer, no delivery)."""

    def refuse(self, who, path, body, headers, status, code, tid=None):
        before = self.db("SELECT count(*) FROM outbox")
        r = self.post(who, path, body, headers)
        self.assertEqual(r.status, status, r)
        if r.header("Content-Type", "").startswith("application/xml"):
            self.assertIn(("<Code>%s</Code>" % code).encode(), r.body, r)
            self.assertIn(b"<Status>refused</Status>", r.body)
        else:
            self.assertEqual(r.json()["code"], code, r)
        e = self.entry_of(r)
        self.assertEqual(e["kind"], "refusal", e)
        self.assertEqual(e.get("rule") or e.get("code"), code, e)
        if tid:
            self.assertEqual(self.get_transfer(tid).status, 404)
        self.assertEqual(self.db("SELECT count(*) FROM outbox"), before)
        return r

    def test_tax_collection_refusals(self):
        X = M.xml_headers()
        good = M.collection("REF-TAX-1")
        cases = [
            (b"<PremiumCollection", 400, "malformed"),
            (good.replace(M.TAX_NS.encode(), b"urn:other"), 400, "wrong-namespace"),
            (M.collection("REF-TAX-1", total="1.00"), 422, "total-mismatch"),
            (M.collection("REF-TAX-1", count=4), 422, "count-mismatch"),
            (M.collection("REF-TAX-1", items=(("91620100MA71AB12C5", "X", 1, "1.00"),)),
             422, "bad-credit-code"),
            (M.collection("REF-TAX-1", items=(("91620100MA71AB12C4", "X", 1, "1.5"),)),
             400, "schema-invalid"),
            (M.collection("REF-TAX-1", city="620171"), 422, "unknown-city"),
            (good.replace(b"<BatchId>", b"<Extra>1</Extra><BatchId>"), 400, "schema-invalid"),
            (b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY e "x">]>' + good.split(b"?>", 1)[1],
             400, "doctype"),
            (good.replace(b"<Count>", b"\x00<Count>"), 400, "nul-byte"),
        ]
        for body, status, code in cases:
            with self.subTest(code=code):
                self.refuse("tax", "/v1/collections", body, X, status, code, "REF-TAX-1")
        with self.subTest(code="too-large"):
            big = good.replace(b"</PremiumCollection>", b"<!--" + b"x" * (1 << 20) +
                               b"-->" + b"</PremiumCollection>")
            r = self.post("tax", "/v1/collections", big, X)
            self.assertEqual(r.status, 413, r)
        with self.subTest(code="role-not-allowed"):
            self.refuse("hrss", "/v1/collections", good, X, 403, "role-not-allowed")
        with self.subTest(code="unsupported-media-type"):
            self.refuse("tax", "/v1/collections", good, M.json_headers(), 415,
                        "unsupported-media-type")

    def test_finance_json_refusals(self):
        J = M.json_headers()
        good = M.remittance("REF-REM-1")
        cases = [
            (b'{"remittance_id":', 400, "malformed"),
            (good.replace(b'"amount_fen": 9434600', b'"amount_fen": 94346.00'), 422,
             "float-amount"),
            (good.replace(b"{", b'{"remittance_id": "REF-REM-1", ', 1), 400, "duplicate-key"),
            (good.replace(b'"period"', b'"\\u0000period"'), 400, "nul-byte"),
            (good.replace(b"}", b', "extra": 1}'), 422, "unknown-field"),
            (M.remittance("REF-REM-1", city="620200"), 403, "city-mismatch"),
            (M.remittance("REF-REM-1", from_account=M.LANZHOU_EXPENDITURE), 422,
             "edge-not-allowed"),
            (M.remittance("REF-REM-1", from_account="999999999"), 422,
             "payer-not-in-registry"),
            (M.remittance("REF-REM-1", to_account="999999999"), 422,
             "payee-not-in-registry"),
        ]
        for body, status, code in cases:
            with self.subTest(code=code):
                self.refuse("finance-city-620100", "/v1/remittances", body, J, status, code,
                            "REF-REM-1")
        with self.subTest(code="nul-raw"):
            self.refuse("finance-city-620100", "/v1/remittances",
                        good.replace(b"REF-REM-1", b"REF\x00REM"), J, 400, "nul-byte")
        with self.subTest(code="role-not-allowed"):
            self.refuse("hrss", "/v1/remittances", good, J, 403, "role-not-allowed")

    def test_hrss_and_review_refusals(self):
        J = M.json_headers()
        self.refuse("hrss", "/v1/plans", M.plan("REF-PLAN-1", items=(
            ("suspension-wages", 100),)), J, 422, "employer-paid-item", "REF-PLAN-1")
        self.refuse("hrss", "/v1/plans", M.plan("REF-PLAN-1", total=1), J, 422,
                    "total-mismatch", "REF-PLAN-1")
        self.refuse("finance", "/v1/plans/NO-SUCH-PLAN/review", M.review(total=1), J, 422,
                    "unknown-plan")
        r = self.post("hrss", "/v1/plans", M.plan("REF-PLAN-2", city="620400"))
        self.assertEqual(r.status, 202, r)
        self.refuse("finance", "/v1/plans/REF-PLAN-2/review", M.review(total=620001), J, 422,
                    "review-exceeds-plan")
        self.refuse("hrss", "/v1/disbursements",
                    M.disbursement("REF-DISB-1", [("REF-PLAN-2", 100)]), J, 422,
                    "plan-not-approved", "REF-DISB-1")
        self.refuse("hrss", "/v1/plans/REF-PLAN-2/review", M.review(total=1), J, 403,
                    "role-not-allowed")
        r = self.post("finance", "/v1/plans/REF-PLAN-2/review", M.review(total=620000))
        self.assertEqual(r.status, 202, r)
        # Exactly the approved amount passes; one fen more is refused.
        self.refuse("hrss", "/v1/disbursements",
                    M.disbursement("REF-DISB-2", [("REF-PLAN-2", 620001)]), J, 422,
                    "plan-exceeded", "REF-DISB-2")
        r = self.post("hrss", "/v1/disbursements",
                      M.disbursement("REF-DISB-3", [("REF-PLAN-2", 620000)]))
        self.assertEqual(r.status, 202, r)
        self.refuse("hrss", "/v1/disbursements",
                    M.disbursement("REF-DISB-4", [("REF-PLAN-2", 1)]), J, 422,
                    "plan-exceeded", "REF-DISB-4")

    def test_bank_refusals(self):
        X = M.xml_headers()
        self.refuse("bank", "/v1/bank/status",
                    M.pain002("REF-STS-1", "NO-SUCH-FILE", [("E1", "ACSC", None)]), X, 422,
                    "unknown-payment", "REF-STS-1")
        self.refuse("bank", "/v1/bank/status",
                    M.pain002("REF-STS-1", "X").replace(M.PAIN002_NS.encode(), b"urn:x"), X,
                    400, "wrong-namespace")
        self.refuse("hrss", "/v1/bank/status", M.pain002("REF-STS-1", "X", group="ACSC"), X,
                    403, "role-not-allowed")

    def test_bank_notification_refusals(self):
        X = M.xml_headers()
        good = M.camt054("REF-NTF-1", M.PROVINCE_SPECIAL,
                         [(100, "CRDT", "2024-06-05", None, "x")])
        self.refuse("bank", "/v1/bank/notifications", good.replace(
            M.CAMT054_NS.encode(), b"urn:x"), X, 400, "wrong-namespace", "REF-NTF-1")
        self.refuse("bank", "/v1/bank/notifications", good.replace(
            b"<Cd>BOOK</Cd>", b"<Cd>PDNG</Cd>"), X, 422, "not-booked", "REF-NTF-1")
        self.refuse("bank", "/v1/bank/notifications", good.replace(b'Ccy="CNY"', b'Ccy="USD"'),
                    X, 422, "bad-currency", "REF-NTF-1")
        self.refuse("finance", "/v1/bank/notifications", good, X, 403, "role-not-allowed")
        r = self.post("bank", "/v1/bank/notifications", good, X)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "recorded")

    def test_unknown_endpoint_and_method(self):
        r = self.env.https("GET", "/v1/collections", who="tax")
        self.assertEqual(r.status, 405, r)
        r = self.post("tax", "/v1/nothing", b"{}")
        self.assertEqual(r.status, 404, r)
        r = self.get_transfer("NO-SUCH-ID")
        self.assertEqual(r.status, 404, r)
        r = self.get_transfer("bad%20id")
        self.assertIn(r.status, (400, 404))


if __name__ == "__main__":
    unittest.main()
