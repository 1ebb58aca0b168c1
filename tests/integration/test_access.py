"""Who may read what (issue 11): an audit entry's bytes and its proof bundle go only to
the parties to it (the agency that caused it, the receivers of its deliveries), admin and
the auditor; everyone else gets the 404 of a missing entry, as for transfers. Checkpoints,
proofs and leaf hashes stay open to every agency. The auditor reads everything and writes
nothing.

Run: cd tests/integration && python3 -m unittest -v test_access   (after make)
"""

import json
import unittest

import harness as h
import messages as M


class AccessCase(h.GatewayTestCase):
    scope = "class"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # One city's remittance: caused by finance-city-620100, delivered to finance.
        r = cls.env.https("POST", "/v1/remittances", who="finance-city-620100",
                          body=M.remittance("ACC-REM-1"), headers=M.json_headers())
        if r.status != 202:
            raise AssertionError("remittance refused: %r" % r)
        cls.index = r.json()["audit_index"]

    def assertRefused(self, r, status, code):
        """The keeper's refusals (as a missing entry's) carry the code, no request id."""
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json()["code"], code, r)

    def get(self, path, who):
        return self.env.https("GET", path, who=who)

    def entry(self, who, index=None):
        return self.get("/audit/entries/%d" % (self.index if index is None else index), who)

    def bundle(self, who, index=None):
        """The proof bundle, once a checkpoint covers the entry (admin sees it first)."""
        i = self.index if index is None else index
        h.wait_until(lambda: self.get("/audit/proof/bundle?index=%d" % i, "admin").status
                     == 200, h.IO_TIMEOUT, what="a checkpoint covering entry %d" % i)
        return self.get("/audit/proof/bundle?index=%d" % i, who)

    def delivery_entry(self):
        """The audit index of the remittance's delivery to finance."""
        def attempt():
            t = self.get("/v1/transfers/ACC-REM-1", "admin").json()
            made = [a for d in t["deliveries"] for a in d.get("attempts_made", [])]
            return made[0]["audit_index"] if made else None
        return h.wait_until(attempt, h.IO_TIMEOUT, what="the remittance's delivery")


class EntryAccess(AccessCase):

    def test_parties_read_the_entry(self):
        for who in ("finance-city-620100", "finance", "admin", "auditor"):
            with self.subTest(who=who):
                r = self.entry(who)
                self.assertEqual(r.status, 200, r)
                e = json.loads(r.body)
                self.assertEqual((e["kind"], e["agency"]),
                                 ("instruction", "finance-city-620100"))

    def test_others_get_404_as_for_transfers(self):
        for who in ("bank", "finance-city-620200", "tax", "hrss"):
            with self.subTest(who=who):
                self.assertRefused(self.entry(who), 404, "no-entry")
                self.assertRefused(self.bundle(who), 404, "no-entry")
                self.assertEqual(self.get("/v1/transfers/ACC-REM-1", who).status, 404)
        # Refused exactly as an index past the end of the log is.
        self.assertEqual(self.entry("bank", 1 << 40).json()["code"], "no-entry")

    def test_bundle_goes_to_parties(self):
        for who in ("finance-city-620100", "finance", "auditor"):
            with self.subTest(who=who):
                r = self.bundle(who)
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.body.startswith(b"c2sp.org/tlog-proof@v1\n"), r.body[:40])

    def test_delivery_entry_follows_its_instruction(self):
        i = self.delivery_entry()
        r = self.entry("finance", i)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(json.loads(r.body)["kind"], "delivery")
        self.assertEqual(self.entry("finance-city-620100", i).status, 200)
        self.assertRefused(self.entry("bank", i), 404, "no-entry")

    def test_own_exchange_is_readable_by_its_agency_only(self):
        r = self.env.https("GET", "/pass/bank/own/" + h.token(), who="bank")
        self.assertEqual(r.status, 200, r)
        rid = r.header("X-Gateway-Request-Id")
        line = h.wait_until(lambda: next((l for l in self.env.access_log_lines()
                                          if l.get("request_id") == rid
                                          and l.get("audit_index") is not None), None),
                            h.IO_TIMEOUT, what="the audit index of %s" % rid)
        self.assertEqual(self.entry("bank", line["audit_index"]).status, 200)
        self.assertRefused(self.entry("finance", line["audit_index"]), 404,
                            "no-entry")

    def test_proofs_and_checkpoints_stay_open_to_every_agency(self):
        self.bundle("admin")
        for who in ("bank", "tax", "finance-city-620200"):
            with self.subTest(who=who):
                self.assertEqual(self.get("/audit/checkpoint", who).status, 200)
                r = self.get("/audit/proof/inclusion?index=%d" % self.index, who)
                self.assertEqual(r.status, 200, r)
                self.assertIn("leaf_hash", r.json())
                r = self.get("/audit/proof/consistency?old=1", who)
                self.assertEqual(r.status, 200, r)


class Auditor(AccessCase):

    def test_reads_transfers_reports_and_alerts(self):
        for path in ("/v1/transfers/ACC-REM-1", "/v1/reports/reconciliation?period=2024-05",
                     "/v1/alerts"):
            with self.subTest(path=path):
                r = self.get(path, "auditor")
                self.assertEqual(r.status, 200, r)

    def test_writes_nothing(self):
        for path, body, hdrs in (("/v1/remittances", M.remittance("ACC-AUD-1"), M.json_headers()),
                                 ("/v1/plans", M.plan("ACC-AUD-2"), M.json_headers()),
                                 ("/v1/plans/ACC-AUD-2/review", M.review(), M.json_headers()),
                                 ("/v1/disbursements", b"{}", M.json_headers()),
                                 ("/v1/collections", M.collection("ACC-AUD-3"),
                                  M.xml_headers()),
                                 ("/v1/bank/status", b"<x/>", M.xml_headers()),
                                 ("/v1/bank/notifications", b"<x/>", M.xml_headers())):
            with self.subTest(path=path):
                r = self.env.https("POST", path, who="auditor", body=body, headers=hdrs)
                self.assertEqual(r.status, 403, r)
                self.assertIn(b"role-not-allowed", r.body)
        # A passthrough route, and the admin action.
        r = self.env.https("POST", "/pass/finance/x", who="auditor", body=b"{}",
                           headers=M.json_headers())
        self.assertJsonError(r, 403, "role-not-allowed")
        r = self.env.https("POST", "/admin/outbox/1/retry", who="auditor", admin=True)
        self.assertJsonError(r, 403, "role-not-allowed")
        self.assertEqual(self.get("/v1/transfers/ACC-AUD-1", "admin").status, 404)


if __name__ == "__main__":
    unittest.main()
