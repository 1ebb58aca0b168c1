"""Exactly-once delivery (DESIGN.md section 3): an upstream down for a while, parked rows
and their re-queueing, and kill -9 of the courier and of the keeper in the middle of
deliveries. Receivers are stubs that honour Idempotency-Key; a delivery counts once per key.

Run: python3 -m unittest tests.integration.test_deliveries -v   (after make)
"""

import collections
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
import unittest

import harness as h
import messages as M

GATEWAYCTL = h._path_from_env("GATEWAYCTL", "build/gatewayctl")


class DeliveryCase(unittest.TestCase):

    def start(self, **kw):
        h.require_environment()
        self.env = h.Env(**kw).start()
        self.addCleanup(self.stop)

    def stop(self):
        err = self.env.gateway.stderr_text() if self.env.gateway else ""
        self.env.stop()
        if h.SANITIZER_ERRORS.search(err):
            self.fail("sanitizer report in gatewayd's stderr:\n%s" % err[-4000:])

    def post(self, who, path, body, headers=None):
        return self.env.https("POST", path, who=who, body=body,
                              headers=headers or M.json_headers())

    def db(self, sql, *args):
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.env.dir, "audit.db"),
                             uri=True, timeout=5)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def role_pid(self, role):
        pids = re.findall(r'"msg":"%s started \(pid (\d+)\)' % role,
                          self.env.gateway.stderr_text())
        return int(pids[-1]) if pids else None

    def first_deliveries(self, stub, prefix):
        """Idempotency keys of the stub's first (not replayed) deliveries, in order."""
        return [r["idempotency_key"] for r in self.env.stubs[stub].records()
                if r.get("path", "").startswith(prefix) and r.get("status") in (200, 202)
                and not r.get("replayed")]

    def approved_plan(self, pid, city, amount):
        self.assertEqual(self.post("hrss", "/v1/plans", M.plan(pid, city=city, items=(
            ("medical", amount),))).status, 202)
        r = self.post("finance", "/v1/plans/%s/review" % pid, M.review(total=amount))
        self.assertEqual(r.status, 202, r)

    def verify_log(self):
        r = subprocess.run([GATEWAYCTL, "audit", "verify", "-c", self.env.config_path],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class Outage(DeliveryCase):

    def test_bank_down_then_back_every_file_once_in_order(self):
        self.start(courier={"max_attempts": 1000, "retry_min": "50ms", "retry_max": "400ms"})
        bank = self.env.stubs["bank"]
        self.approved_plan("OUT-PLAN", "620500", 10000)
        bank.stop()
        ids = ["OUT-D-%02d" % i for i in range(8)]
        for d in ids:
            r = self.post("hrss", "/v1/disbursements", M.disbursement(d, [("OUT-PLAN", 100)]))
            self.assertEqual(r.status, 202, r)
        # While the bank is down the courier keeps trying, and every try is logged.
        h.wait_until(lambda: len(self.db("SELECT 1 FROM attempts WHERE ok = 0")) >= 4, 10,
                     what="failed attempts to be logged")
        self.assertEqual(self.db("SELECT count(*) FROM outbox WHERE upstream = 'bank' "
                                 "AND state = 0")[0][0], len(ids))
        bank.restart()
        keys = h.wait_until(lambda: (lambda k: k if len(k) >= len(ids) else None)(
            self.first_deliveries("bank", "/inbox/pain.001")), 20,
            what="every queued file to reach the bank")
        time.sleep(0.5)
        keys = self.first_deliveries("bank", "/inbox/pain.001")
        self.assertEqual(keys, ["disbursement:" + d for d in ids])    # once each, in order
        for i, d in enumerate(ids):
            t = self.env.https("GET", "/v1/transfers/" + d, who="hrss").json()
            self.assertEqual(t["state"], "sent")
            # The head of the queue took the failures; the rows behind it waited.
            self.assertGreaterEqual(t["deliveries"][0]["attempts"], 2 if i == 0 else 1)
        self.verify_log()


class Parking(DeliveryCase):

    def test_parked_after_max_attempts_then_retried_by_the_operator(self):
        self.start(courier={"max_attempts": 2, "retry_min": "50ms", "retry_max": "100ms"})
        self.approved_plan("PARK-PLAN", "620600", 500)
        self.env.stubs["bank"].stop()
        r = self.post("hrss", "/v1/disbursements", M.disbursement("PARK-D", [("PARK-PLAN", 500)]))
        self.assertEqual(r.status, 202, r)
        h.wait_until(lambda: self.db("SELECT state FROM outbox WHERE id = 'PARK-D'")[0][0] == 2,
                     10, what="the row to be parked")
        alerts = [json.loads(d) for (d,) in self.db("SELECT data FROM entries")
                  if b'"alert":"delivery-parked"' in d]
        self.assertEqual(len(alerts), 1)
        listed = [a for a in self.env.https("GET", "/v1/alerts", who="hrss").json()["alerts"]
                  if a["rule"] == "delivery-parked"]
        self.assertEqual(len(listed), 1, listed)
        last_attempt = self.db("SELECT entry FROM attempts WHERE seq = (SELECT seq FROM "
                               "outbox WHERE id = 'PARK-D') ORDER BY attempt DESC")[0][0]
        self.assertEqual((listed[0]["figures"]["id"], listed[0]["audit_index"]),
                         ("PARK-D", last_attempt))
        t = self.env.https("GET", "/v1/transfers/PARK-D", who="hrss").json()
        self.assertEqual((t["state"], t["deliveries"][0]["state"]), ("parked", "parked"))
        out = subprocess.run([GATEWAYCTL, "outbox", "list", "-c", self.env.config_path],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("PARK-D", out.stdout)
        self.assertIn("parked", out.stdout)
        seq = t["deliveries"][0]["seq"]
        self.env.stubs["bank"].restart()
        ctl = [GATEWAYCTL, "outbox", "retry", str(seq), "-c", self.env.config_path,
               "--cert", h.cert("admin"), "--key", h.key("admin")]
        out = subprocess.run(ctl, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        h.wait_until(lambda: self.first_deliveries("bank", "/inbox/pain.001"), 10,
                     what="the re-queued file to be delivered")
        t = h.wait_until(lambda: (lambda t: t if t.get("state") == "sent" else None)(
            self.env.https("GET", "/v1/transfers/PARK-D", who="hrss").json()), 5,
            what="the transfer to be sent")
        # A row that is not parked cannot be re-queued.
        out = subprocess.run(ctl, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("not-parked", out.stdout + out.stderr)
        self.verify_log()


class Kills(DeliveryCase):
    """kill -9 of a role while deliveries are in flight: every acknowledged instruction
    is delivered, and no key is delivered twice (first deliveries counted per key)."""

    ROUNDS = int(os.environ.get("GW_KILL_ROUNDS", "5"))

    def run_kills(self, role):
        self.start(stub_args={"finance": ["--mode", "delay", "--delay-ms", "20"]},
                   courier={"max_attempts": 1000, "retry_min": "20ms", "retry_max": "200ms"})
        acked, stop = [], threading.Event()

        def submit(tag):
            n = 0
            while not stop.is_set():
                rid = "K-%s-%s-%05d" % (role[:1], tag, n)
                n += 1
                try:
                    r = self.post("finance-city-620100", "/v1/remittances",
                                  M.remittance(rid, amount=n))
                except OSError:
                    time.sleep(0.05)
                    continue
                if r.status == 202:
                    acked.append(rid)
                elif r.status != 503:
                    raise AssertionError(r)
        threads = [threading.Thread(target=submit, args=(t,)) for t in "ab"]
        for t in threads:
            t.start()
        try:
            for _ in range(self.ROUNDS):
                # Kill once the role has acknowledged more since the last kill: a
                # fixed pause would count on the machine's speed.
                before = len(acked)
                h.wait_until(lambda: len(acked) >= before + 5, 60, interval=0.05,
                             what="instructions acknowledged between kills")
                pid = self.role_pid(role)
                self.assertIsNotNone(pid)
                os.kill(pid, signal.SIGKILL)
                h.wait_until(lambda: self.role_pid(role) not in (None, pid), 10,
                             what="the %s to be restarted" % role)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertGreater(len(acked), 20)
        want = ["remittance:" + r for r in acked]
        got = h.wait_until(lambda: (lambda k: k if set(want) <= set(k) else None)(
            self.first_deliveries("finance", "/inbox/remittance")), 60,
            what="every acknowledged remittance to be delivered")
        time.sleep(0.5)
        got = self.first_deliveries("finance", "/inbox/remittance")
        dup = [k for k, n in collections.Counter(got).items() if n > 1]
        self.assertEqual(dup, [], "delivered twice")
        self.assertLessEqual(set(want), set(got), "acknowledged but not delivered")
        replays = [r for r in self.env.stubs["finance"].records() if r.get("replayed")]
        self.verify_log()
        return len(acked), len(replays)

    def test_kill_courier_mid_delivery(self):
        n, replays = self.run_kills("courier")
        print("courier kills: %d acknowledged, delivered once each, %d replays absorbed"
              % (n, replays))

    def test_kill_keeper_mid_delivery(self):
        n, replays = self.run_kills("keeper")
        print("keeper kills: %d acknowledged, delivered once each, %d replays absorbed"
              % (n, replays))


if __name__ == "__main__":
    unittest.main()
