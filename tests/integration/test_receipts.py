"""Receipts checked offline (issue 13, part 3): an agency posts a collection, saves
GET /v1/receipts/collection/ID once a checkpoint covers it, and `gatewayctl receipt
verify` checks it with public keys alone, with two real witnesses and without; an
altered receipt is refused. `gatewayctl receipt check-consistency` keeps the last
cosigned checkpoint and accepts only checkpoints that extend it.

Run: python3 -m unittest -v tests/integration/test_receipts.py
"""

import json
import os
import subprocess
import time
import unittest

import harness as h
import keeperlib as K
import messages as M
from test_witness_keeper import WitnessedGateway, log_vkey

SIGNING_PUB = os.path.join(h.CERTS, "signing.pub")


def ctl(*args):
    return subprocess.run([K.GATEWAYCTL] + list(args), capture_output=True, text=True,
                          timeout=60)


def post_and_fetch(case, env, rid, cosigned):
    """Posts collection rid as the tax bureau and returns the raw receipt answer
    once it carries a proof (a cosigned one if asked)."""
    r = env.https("POST", "/v1/collections", who="tax", body=M.collection(rid),
                  headers=M.xml_headers())
    case.assertEqual(r.status, 202, r)

    def proven():
        g = env.https("GET", "/v1/receipts/collection/" + rid, who="tax")
        case.assertEqual(g.status, 200, g)
        proof = g.json()["proof"]
        if proof is None or (cosigned and not proof["cosigned"]):
            return None
        return g.body
    return h.wait_until(proven, 30, interval=0.1, what="a receipt with a proof")


def save(env, name, data):
    path = os.path.join(env.dir, name)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


class ReceiptsWitnessed(WitnessedGateway):
    """Two witnesses, quorum two: receipts proven in cosigned checkpoints."""

    def witness_args(self):
        out = []
        for w in self.witnesses:
            out += ["--witness", w.vkey]
        return out

    def test_receipt_verifies_offline(self):
        rid = "RC-W-%d" % time.time_ns()
        body = post_and_fetch(self, self.env, rid, cosigned=True)
        path = save(self.env, "receipt.json", body)
        rc = ctl("receipt", "verify", path, "--vkey", log_vkey(), "--skey", SIGNING_PUB,
                 *self.witness_args())
        self.assertEqual(rc.returncode, 0, rc.stdout + rc.stderr)
        self.assertTrue(rc.stdout.startswith("receipt OK: collection %s" % rid), rc.stdout)
        self.assertIn("2 of 2 witness cosignatures", rc.stdout)
        # --json, and the keys taken from the gateway's configuration instead.
        rc = ctl("receipt", "verify", path, "-c", self.env.config_path, "--json")
        self.assertEqual(rc.returncode, 0, rc.stdout + rc.stderr)
        doc = json.loads(rc.stdout)
        self.assertEqual((doc["result"], doc["id"], doc["cosignatures"], doc["quorum"]),
                         ("ok", rid, 2, 2))
        # One witness's word is not two: a quorum above the witnesses given is a
        # usage error; one of one is enough where one is asked for.
        rc = ctl("receipt", "verify", path, "--vkey", log_vkey(), "--skey", SIGNING_PUB,
                 "--witness", self.witnesses[0].vkey, "--quorum", "2")
        self.assertEqual(rc.returncode, 2, rc.stdout + rc.stderr)
        rc = ctl("receipt", "verify", path, "--vkey", log_vkey(), "--skey", SIGNING_PUB,
                 "--witness", self.witnesses[0].vkey)
        self.assertEqual(rc.returncode, 0, rc.stdout + rc.stderr)
        self.assertIn("1 of 1 witness cosignatures", rc.stdout)
        # Altered copies, across the whole file: each refused (exit 1), none
        # accepted; unparsable ones too.
        step = max(1, len(body) // 60)
        for i in range(0, len(body), step):
            bad = bytearray(body)
            bad[i] ^= 0x01
            p = save(self.env, "receipt-bad.json", bytes(bad))
            rc = ctl("receipt", "verify", p, "--vkey", log_vkey(), "--skey", SIGNING_PUB,
                     *self.witness_args())
            self.assertEqual(rc.returncode, 1, "byte %d: %s%s" % (i, rc.stdout, rc.stderr))
            self.assertTrue(rc.stdout.startswith("receipt BAD: "), rc.stdout)

    def test_check_consistency(self):
        state = os.path.join(self.env.dir, "kept-checkpoint")
        args = ["--state", state, "--vkey", log_vkey()] + self.witness_args()
        self.passthrough(2, "a")
        cp1 = self.wait_cosigned(self.entries())
        old = save(self.env, "cp1", cp1.text)
        rc = ctl("receipt", "check-consistency", *args, old)
        self.assertEqual(rc.returncode, 0, rc.stdout + rc.stderr)
        self.assertIn("-> %d" % cp1.size, rc.stdout)
        self.passthrough(3, "b")
        cp2 = self.wait_cosigned(self.entries())
        self.assertGreater(cp2.size, cp1.size)
        new = save(self.env, "cp2", cp2.text)
        r = self.env.https("GET", "/audit/proof/consistency?old=%d&new=%d"
                           % (cp1.size, cp2.size))
        self.assertEqual(r.status, 200, r)
        proof = save(self.env, "proof.json", r.body)
        # Without the proof: refused, the kept checkpoint untouched.
        rc = ctl("receipt", "check-consistency", *args, new)
        self.assertEqual(rc.returncode, 1, rc.stdout + rc.stderr)
        self.assertTrue(rc.stdout.startswith("INCONSISTENT: "), rc.stdout)
        with open(state) as f:
            self.assertEqual(f.read(), cp1.text)
        rc = ctl("receipt", "check-consistency", *args, new, proof)
        self.assertEqual(rc.returncode, 0, rc.stdout + rc.stderr)
        self.assertEqual(rc.stdout.strip(), "consistent: %d -> %d" % (cp1.size, cp2.size))
        with open(state) as f:
            self.assertEqual(f.read(), cp2.text)
        # The older checkpoint again: a rollback.
        rc = ctl("receipt", "check-consistency", *args, old)
        self.assertEqual(rc.returncode, 1, rc.stdout + rc.stderr)
        self.assertIn("rolled back", rc.stdout)
        with open(state) as f:
            self.assertEqual(f.read(), cp2.text)


class ReceiptsUnwitnessed(unittest.TestCase):
    """No witnesses: the receipt checks against the log's signature alone."""

    def setUp(self):
        h.require_environment()
        self.env = h.Env(stubs=("finance",), down_upstream=False)
        self.addCleanup(self._cleanup)
        self.env.start()

    def _cleanup(self):
        err = self.env.gateway.stderr_text() if self.env.gateway else ""
        self.env.stop()
        if h.SANITIZER_ERRORS.search(err):
            self.fail("sanitizer report:\n%s" % err[-4000:])

    def test_receipt_verifies_with_quorum_zero(self):
        rid = "RC-U-%d" % time.time_ns()
        body = post_and_fetch(self, self.env, rid, cosigned=False)
        path = save(self.env, "receipt.json", body)
        rc = ctl("receipt", "verify", path, "--vkey", log_vkey(), "--skey", SIGNING_PUB,
                 "--quorum", "0")
        self.assertEqual(rc.returncode, 0, rc.stdout + rc.stderr)
        self.assertTrue(rc.stdout.startswith("receipt OK: collection %s" % rid), rc.stdout)
        # A receipt answer whose proof is still null says to come back later.
        doc = json.loads(body)
        doc["proof"] = None
        p = save(self.env, "receipt-early.json", json.dumps(doc))
        rc = ctl("receipt", "verify", p, "--vkey", log_vkey(), "--skey", SIGNING_PUB)
        self.assertEqual(rc.returncode, 1, rc.stdout + rc.stderr)
        self.assertIn("no checkpoint covers it yet", rc.stdout)
        # Usage errors: no signer key, no file.
        rc = ctl("receipt", "verify", path, "--vkey", log_vkey())
        self.assertEqual(rc.returncode, 2, rc.stdout + rc.stderr)
        rc = ctl("receipt", "verify", "--vkey", log_vkey(), "--skey", SIGNING_PUB)
        self.assertEqual(rc.returncode, 2, rc.stdout + rc.stderr)


if __name__ == "__main__":
    unittest.main()
