"""The keeper asks witnesses (issue 13): two real witnessd processes, each with its own
key, cosign every checkpoint the gateway issues; the gateway serves them; a witness
that is down delays the quorum and loses nothing; a rollback (the database and the
checkpoint file restored together) and a fork (a restored log that grew again with
other entries) are caught by the witnesses' state: no more checkpoints, /readyz
fails, instructions get 503 log-frozen, and a log-fork alert is in the log.

Run: python3 -m unittest -v tests/integration/test_witness_keeper.py
"""

import base64
import json
import os
import shutil
import statistics
import subprocess
import time
import unittest

import harness as h
import keeperlib as K
import messages as M
from witnesslib import WITNESSD, Witness

ORIGIN = "gateway.test/audit"      # harness.GatewayConfig's origin and log key


def log_vkey():
    pub_pem = subprocess.run(["openssl", "pkey", "-in", os.path.join(h.CERTS, "log.key"),
                              "-pubout"], check=True, capture_output=True,
                             timeout=10).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub_pem,
                         check=True, capture_output=True, timeout=10).stdout
    raw = der[-32:]
    return "%s+%s+%s" % (ORIGIN, K.note_key_hash(ORIGIN, raw).hex(),
                         base64.b64encode(b"\x01" + raw).decode())


class WitnessedGateway(unittest.TestCase):
    """Per test: two witnesses and a gateway (finance stub) asking both."""

    quorum = 2

    def setUp(self):
        h.require_environment()
        if not os.access(WITNESSD, os.X_OK):
            raise RuntimeError("%s is missing: run make _build build-san" % WITNESSD)
        # A generous upstream timeout: these tests count exchanges, and a
        # stub slowed by a loaded machine must not turn one into a 504.
        self.env = h.Env(stubs=("finance",), down_upstream=False, upstream_timeout="30s")
        self.addCleanup(self._cleanup)
        vkey = log_vkey()
        self.witnesses = [Witness(self.env.dir, vkey, name="witness.itest.local/%s" % n,
                                  origin=ORIGIN, subdir="witness-" + n)
                          for n in ("w1", "w2")]
        for w in self.witnesses:
            w.start()
        self.env.cfg_kw["witnesses"] = [(n, w.port, w.vkey) for n, w in
                                        zip(("w1", "w2"), self.witnesses)]
        self.env.cfg_kw["keeper"] = [("witness_quorum", str(self.quorum))]
        self.env.start()

    def _cleanup(self):
        out = self.env.gateway.stderr_text() if self.env.gateway else ""
        for w in self.witnesses:
            w.stop()
            if w.proc is not None:
                out += w.old_stderr + w.proc.stderr_text()
                w.proc.close_files()
        self.env.stop()
        if h.SANITIZER_ERRORS.search(out):
            self.fail("sanitizer report:\n%s" % out[-4000:])

    # -- helpers ------------------------------------------------------------------

    def passthrough(self, n, tag):
        for i in range(n):
            r = self.env.https("GET", "/pass/finance/%s/%d" % (tag, i))
            self.assertEqual(r.status, 200, r)

    def entries(self):
        return int(self.metric("gateway_audit_entries"))

    def metric(self, name):
        text = self.env.https("GET", "/metrics", who="admin", admin=True).body.decode()
        for ln in text.splitlines():
            if ln.startswith(name + " ") or ln.startswith(name + "{"):
                return ln.rsplit(" ", 1)[1]
        return None

    def checkpoint(self, cosigned=False):
        r = self.env.https("GET", "/audit/checkpoint" + ("/cosigned" if cosigned else ""))
        return K.Checkpoint(r.body) if r.status == 200 else None

    def wait_cosigned(self, size, timeout=20.0):
        def ok():
            cp = self.checkpoint(cosigned=True)
            return cp if cp is not None and cp.size >= size else None
        return h.wait_until(ok, timeout, interval=0.05,
                            what="a cosigned checkpoint covering %d entries" % size)

    def assert_cosignatures(self, cp, witnesses):
        """Each witness's cosignature line, checked with openssl over the spec's
        message, on the checkpoint as served."""
        for w in witnesses:
            mine = [s for s in cp.sigs if s[0] == w.name]
            self.assertEqual(len(mine), 1, "%s: %r" % (w.name, cp.text))
            _, kid, rest = mine[0]
            self.assertEqual(kid.hex(), w.vkey.split("+")[1])
            t = int.from_bytes(rest[:8], "big")
            msg = os.path.join(w.dir, "cosigned-msg")
            sig = os.path.join(w.dir, "cosigned-sig")
            with open(msg, "wb") as f:
                f.write(("cosignature/v1\ntime %d\n" % t + cp.body).encode())
            with open(sig, "wb") as f:
                f.write(rest[8:])
            v = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", w.pub,
                                "-rawin", "-in", msg, "-sigfile", sig],
                               capture_output=True, timeout=10)
            self.assertEqual(v.returncode, 0, "%s's cosignature does not verify" % w.name)

    def snapshot(self):
        """The log's files as they are (gateway stopped): database and checkpoint."""
        d = os.path.join(self.env.dir, "snapshot")
        os.makedirs(d)
        for f in ("audit.db", "audit.db-wal", "audit.db-shm", "checkpoint"):
            p = os.path.join(self.env.dir, f)
            if os.path.exists(p):
                shutil.copy2(p, os.path.join(d, f))
        return d

    def restore(self, d):
        for f in ("audit.db", "audit.db-wal", "audit.db-shm", "checkpoint"):
            p = os.path.join(self.env.dir, f)
            if os.path.exists(p):
                os.unlink(p)
            if os.path.exists(os.path.join(d, f)):
                shutil.copy2(os.path.join(d, f), p)

    def assert_frozen(self):
        h.wait_until(lambda: self.metric("gateway_log_frozen") == "1", 30,
                     what="gateway_log_frozen 1")
        r = self.env.https("GET", "/readyz", who="admin", admin=True)
        self.assertEqual(r.status, 503, r)
        self.assertIn(b'"log":"frozen"', r.body)
        r = self.env.https("POST", "/v1/collections", who="tax",
                           body=M.collection("WK-FROZEN-%d" % time.time_ns()),
                           headers=M.xml_headers())
        self.assertEqual(r.status, 503, r)
        self.assertIn(b"log-frozen", r.body)
        alerts = self.env.https("GET", "/v1/alerts", who="finance").json()["alerts"]
        self.assertTrue([a for a in alerts if a["rule"] == "log-fork"], alerts)
        # No checkpoint is signed over the suspect log any more.
        frozen_at = self.checkpoint().size
        self.passthrough(3, "after-freeze")
        time.sleep(2)
        self.assertEqual(self.checkpoint().size, frozen_at)
        self.assertGreater(self.entries(), frozen_at)


class Cosigning(WitnessedGateway):

    def test_every_checkpoint_cosigned_and_served(self):
        self.passthrough(5, "a")
        cp = self.wait_cosigned(self.entries() - 1)
        self.assert_cosignatures(cp, self.witnesses)
        # The newest checkpoint carries its cosignatures too, once they came.
        latest = self.checkpoint()
        self.assertGreaterEqual(latest.size, cp.size)
        self.assertGreaterEqual(int(self.metric("gateway_audit_cosigned_size")), cp.size)
        # Proofs default to the cosigned checkpoint once it covers the entry.
        r = self.env.https("GET", "/audit/proof/inclusion?index=1")
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertLessEqual(doc["tree_size"], int(self.metric("gateway_audit_cosigned_size")))
        # The delay from an exchange to a checkpoint with the quorum over it.
        delays = []
        for i in range(20):
            t0 = time.monotonic()
            self.passthrough(1, "delay-%d" % i)
            self.wait_cosigned(self.entries())
            delays.append(time.monotonic() - t0)
        delays.sort()
        asks = int(self.metric("gateway_witness_requests_total"))
        spent = float(self.metric("gateway_witness_keeper_seconds_total"))
        self.assertGreater(asks, 0)
        print("\n[cosigning delay, 2 witnesses: p50 %.0f ms, max of 20 %.0f ms; keeper time "
              "per checkpoint (2 requests, 2 cosignatures) %.0f us over %d requests]"
              % (statistics.median(delays) * 1000, delays[-1] * 1000,
                 spent / asks * 2 * 1e6, asks))
        # Both witnesses hold what the log says they cosigned.
        for w in self.witnesses:
            r, doc = w.get_json("/latest?origin=" + ORIGIN.replace("/", "%2F"))
            self.assertEqual(r.status, 200, r)
        rc = subprocess.run([K.GATEWAYCTL, "audit", "verify", "-c", self.env.config_path],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(rc.returncode, 0, rc.stdout + rc.stderr)

    def test_receipt_commits_to_the_cosigned_log(self):
        rid = "WK-RCPT-%d" % time.time_ns()
        r = self.env.https("POST", "/v1/collections", who="tax", body=M.collection(rid),
                           headers=M.xml_headers())
        self.assertEqual(r.status, 202, r)

        def proven():
            g = self.env.https("GET", "/v1/receipts/collection/" + rid, who="tax")
            self.assertEqual(g.status, 200, g)
            doc = g.json()
            return doc if doc["proof"] and doc["proof"]["cosigned"] else None
        doc = h.wait_until(proven, 20, interval=0.1, what="a receipt with a cosigned proof")
        rec, proof = doc["receipt"], doc["proof"]
        self.assertEqual((rec["kind"], rec["id"], rec["log"]), ("collection", rid, ORIGIN))
        # The receipt's own signature covers its index and leaf hash (JCS of the
        # receipt without it), by the instruction signing key: checked by openssl.
        unsigned = {k: v for k, v in rec.items() if k != "receipt_signature"}
        msg = os.path.join(self.env.dir, "receipt-msg")
        sig = os.path.join(self.env.dir, "receipt-sig")
        with open(msg, "wb") as f:
            f.write(json.dumps(unsigned, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode())
        with open(sig, "wb") as f:
            f.write(base64.b64decode(rec["receipt_signature"]["value"]))
        pub = os.path.join(h.CERTS, "signing.pub")
        v = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub,
                            "-rawin", "-in", msg, "-sigfile", sig],
                           capture_output=True, timeout=10)
        self.assertEqual(v.returncode, 0, "receipt_signature does not verify")
        with open(msg, "wb") as f:
            f.write(json.dumps(dict(unsigned, audit_index=rec["audit_index"] + 1),
                               sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode())
        v = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub,
                            "-rawin", "-in", msg, "-sigfile", sig],
                           capture_output=True, timeout=10)
        self.assertNotEqual(v.returncode, 0, "a receipt with another index verified")
        # The proof: the receipt's leaf, in the cosigned checkpoint's tree.
        self.assertEqual((proof["index"], proof["leaf_hash"]),
                         (rec["audit_index"], rec["leaf_hash"]))
        cp = K.Checkpoint(proof["checkpoint"])
        self.assertEqual(cp.size, proof["tree_size"])
        self.assertTrue(K.verify_inclusion(proof["index"], proof["tree_size"],
                                           base64.b64decode(proof["leaf_hash"]),
                                           [base64.b64decode(x) for x in proof["hashes"]],
                                           cp.root))
        self.assert_cosignatures(cp, self.witnesses)
        # Another agency sees no receipt of the tax bureau's.
        g = self.env.https("GET", "/v1/receipts/collection/" + rid, who="bank")
        self.assertEqual(g.status, 404, g)
        g = self.env.https("GET", "/v1/receipts/nosuchkind/" + rid, who="tax")
        self.assertEqual(g.status, 404, g)

    def test_witness_down_delays_quorum_and_loses_nothing(self):
        self.passthrough(3, "b")
        before = self.wait_cosigned(self.entries())
        self.witnesses[1].kill9()
        self.passthrough(10, "c")
        n = self.entries()
        h.wait_until(lambda: self.checkpoint().size >= n, 10,
                     what="a checkpoint over the new entries")
        time.sleep(2)
        # With a quorum of two, one witness cannot make a checkpoint cosigned.
        self.assertEqual(self.checkpoint(cosigned=True).size, before.size)
        self.witnesses[1].start()
        cp = self.wait_cosigned(self.entries(), timeout=90)
        self.assert_cosignatures(cp, self.witnesses)
        self.assertEqual(self.metric("gateway_log_frozen"), "0")

    def test_rollback_is_caught(self):
        self.passthrough(3, "r1")
        self.wait_cosigned(self.entries())
        self.env.gateway.stop()
        snap = self.snapshot()
        self.env.start_gateway()
        self.passthrough(20, "r2")
        self.wait_cosigned(self.entries())
        self.env.gateway.stop()
        # Database and checkpoint file restored together: the keeper's own
        # start-up check passes, the witnesses know better.
        self.restore(snap)
        self.env.start_gateway()
        self.passthrough(2, "r3")
        self.assert_frozen()
        self.assertIn("it was rolled back", self.env.gateway.stderr_text())
        # The freeze is in the log: a restart does not lift it, before any
        # witness has been asked again.
        self.env.gateway.stop()
        self.env.start_gateway()
        self.assertEqual(self.metric("gateway_log_frozen"), "1")
        r = self.env.https("POST", "/v1/collections", who="tax",
                           body=M.collection("WK-HELD-%d" % time.time_ns()),
                           headers=M.xml_headers())
        self.assertEqual(r.status, 503, r)
        self.assertIn(b"log-frozen", r.body)
        self.passthrough(2, "r4")
        time.sleep(2)
        self.assertEqual(self.metric("gateway_log_frozen"), "1")
        # Only the witnesses' quorum lifts it: here the operator judges the
        # witnesses' state wrong and starts them afresh, they cosign this log,
        # and instructions are accepted again (a log-thawed alert records it).
        self.env.gateway.stop()
        for w in self.witnesses:
            w.kill9()
            for suffix in ("", "-journal", "-wal", "-shm"):
                if os.path.exists(w.database + suffix):
                    os.unlink(w.database + suffix)
            w.start()
        self.env.start_gateway()
        self.passthrough(2, "r5")
        h.wait_until(lambda: self.metric("gateway_log_frozen") == "0", 90,
                     what="the freeze lifted by the witnesses' quorum")
        r = self.env.https("POST", "/v1/collections", who="tax",
                           body=M.collection("WK-THAWED-%d" % time.time_ns()),
                           headers=M.xml_headers())
        self.assertEqual(r.status, 202, r)
        alerts = self.env.https("GET", "/v1/alerts", who="finance").json()["alerts"]
        self.assertTrue([a for a in alerts if a["rule"] == "log-thawed"], alerts)


class Fork(WitnessedGateway):

    def test_fork_is_caught(self):
        self.passthrough(3, "f1")
        self.wait_cosigned(self.entries())
        self.env.gateway.stop()
        snap = self.snapshot()
        self.env.start_gateway()
        self.passthrough(5, "branch-a")
        a = self.wait_cosigned(self.entries())
        self.env.gateway.stop()
        # The same snapshot grows again with other entries past branch a's size
        # while the witnesses are away; when they answer, the log proves from a's
        # size a root they do not hold.
        for w in self.witnesses:
            w.kill9()
        self.restore(snap)
        self.env.start_gateway()
        self.passthrough(a.size + 5 - self.entries(), "branch-b")
        n = self.entries()
        h.wait_until(lambda: self.checkpoint().size >= n, 10,
                     what="branch b checkpointed past branch a")
        self.assertGreater(n, a.size)
        for w in self.witnesses:
            w.start()
        self.assert_frozen()
        self.assertIn("a fork", self.env.gateway.stderr_text())


class QuorumOne(WitnessedGateway):
    quorum = 1

    def test_one_witness_is_enough(self):
        self.witnesses[0].kill9()
        self.passthrough(4, "q")
        cp = self.wait_cosigned(self.entries())
        self.assert_cosignatures(cp, self.witnesses[1:])


if __name__ == "__main__":
    unittest.main()
