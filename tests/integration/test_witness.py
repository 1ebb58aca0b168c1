"""witnessd end to end: a real gateway's checkpoints and consistency proofs, posted
over mutual TLS to a real witnessd, cosignatures checked with openssl (independent of
the C code), refusals per C2SP tlog-witness, and the state surviving kill -9.

Environment (besides keeperlib's): WITNESSD, the witnessd binary (default
build/san/witnessd).

Run: python3 -m unittest -v tests/integration/test_witness.py
"""

import base64
import hashlib
import os
import re
import struct
import subprocess
import unittest
import urllib.parse

import harness
import keeperlib as K
from witnesslib import LOG_CLIENT, WITNESS_NAME, WITNESSD, Witness, b64


class WitnessCase(unittest.TestCase):

    def setUp(self):
        K.require_environment()
        if not os.access(WITNESSD, os.X_OK):
            raise RuntimeError("%s is missing: run make _build build-san" % WITNESSD)
        self.env = K.KeeperEnv().start()
        self.addCleanup(self._cleanup)
        self.witness = Witness(self.env.dir, self.env.vkey())
        self.witness.start()

    def _cleanup(self):
        out = ""
        if self.witness is not None:
            self.witness.stop()
            out = self.witness.old_stderr + self.witness.proc.stderr_text()
            self.witness.proc.close_files()
        self.env.stop()
        if harness.SANITIZER_ERRORS.search(out):
            self.fail("sanitizer report in witnessd's stderr:\n%s" % out[-4000:])

    # -- helpers ------------------------------------------------------------------

    def checkpoint(self, size):
        self.env.passthrough(size, prefix="w%d" % size)
        return self.env.wait_checkpoint(size)

    def grow(self, cp, n):
        self.env.passthrough(n, prefix="g%d" % cp.size)
        return self.env.wait_checkpoint(cp.size + n)

    def proof(self, old, new):
        r, doc = self.env.json_get("/audit/proof/consistency?old=%d&new=%d" % (old, new))
        self.assertEqual(r.status, 200, r)
        return doc["hashes"]

    def assert_cosigned(self, r, cp):
        """200 and one cosignature/v1 line that verifies with the witness's public key
        (openssl, not our C code) over the spec's message."""
        self.assertEqual(r.status, 200, r)
        lines = r.body.decode().splitlines()
        self.assertEqual(len(lines), 1, r.body)
        m = re.fullmatch("\u2014 (\\S+) (\\S+)", lines[0])
        self.assertIsNotNone(m, lines[0])
        self.assertEqual(m.group(1), WITNESS_NAME)
        raw = b64(m.group(2))
        self.assertEqual(len(raw), 4 + 8 + 64)
        pub = K.ed25519_raw_public(self.witness.pub)
        kid = hashlib.sha256(WITNESS_NAME.encode() + b"\n\x04" + pub).digest()[:4]
        self.assertEqual(raw[:4], kid, "key id is not SHA-256(name || 0x0A || 0x04 || key)")
        # The vkey printed by gatewayctl names the same key and id.
        name, hexid, keyb64 = self.witness.vkey.split("+", 2)
        self.assertEqual((name, hexid, b64(keyb64)), (WITNESS_NAME, kid.hex(), b"\x04" + pub))
        (t,) = struct.unpack(">Q", raw[4:12])
        self.assertGreater(t, 0)
        msg = ("cosignature/v1\ntime %d\n" % t + cp.body).encode()
        path_msg = os.path.join(self.witness.dir, "msg")
        path_sig = os.path.join(self.witness.dir, "sig")
        with open(path_msg, "wb") as f:
            f.write(msg)
        with open(path_sig, "wb") as f:
            f.write(raw[12:])
        v = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                            self.witness.pub, "-rawin", "-in", path_msg, "-sigfile",
                            path_sig], capture_output=True, timeout=10)
        self.assertEqual(v.returncode, 0, "cosignature does not verify: %r" % v.stdout)
        # A one-byte change of the cosigned body fails the same check.
        with open(path_msg, "wb") as f:
            f.write(msg.replace(b"\n%d\n" % cp.size, b"\n%d\n" % (cp.size + 1), 1))
        v = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                            self.witness.pub, "-rawin", "-in", path_msg, "-sigfile",
                            path_sig], capture_output=True, timeout=10)
        self.assertNotEqual(v.returncode, 0, "a changed checkpoint verified")
        return t

    def assert_size(self, r, size):
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.header("Content-Type"), "text/x.tlog.size")
        self.assertEqual(r.body, b"%d\n" % size)

    # -- tests ----------------------------------------------------------------------

    def test_config_check(self):
        r = self.witness.check()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)
        os.chmod(self.witness.key, 0o644)
        r = self.witness.check()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("witness.key", r.stderr)
        os.chmod(self.witness.key, 0o600)
        with open(self.witness.config, "a") as f:
            f.write("[log other.test/log]\npin = zz\n")
        r = self.witness.check()
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"witness\.conf:\d+: pin must be 64 hex digits")
        self.assertIn("log other.test/log needs vkey", r.stderr)

    def test_slow_client_deadline(self):
        """A request that never completes is dropped at request_timeout, and the
        witness goes on serving."""
        w = self.witness
        w.stop()
        w.proc.close_files()
        with open(w.config) as f:
            text = f.read()
        with open(w.config, "w") as f:
            f.write(text.replace("request_timeout = 10s", "request_timeout = 2s"))
        w.start()
        c = harness.RawTLS(w.port, who=LOG_CLIENT)
        try:
            c.send("POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: 100\r\n\r\nold 0\n")
            # Generous: the deadline is 2s; this only bounds the test.
            self.assertTrue(c.closed_by_peer(timeout=60), "a stalled request kept its connection")
        finally:
            c.close()
        r, _ = w.get_json("/latest?origin=" + urllib.parse.quote(K.ORIGIN, safe=""))
        self.assertEqual(r.status, 404, r)
        self.assertIn(b"never-cosigned", r.body)

    def test_cosign_extend_refuse_restart(self):
        w = self.witness
        cp1 = self.checkpoint(3)
        self.assert_cosigned(w.add(0, [], cp1.text), cp1)

        # Extending with the gateway's own consistency proof.
        cp2 = self.grow(cp1, 4)
        proof = self.proof(cp1.size, cp2.size)
        self.assertTrue(proof)
        self.assert_cosigned(w.add(cp1.size, proof, cp2.text), cp2)
        # Same size, same root: cosigned again.
        self.assert_cosigned(w.add(cp2.size, [], cp2.text), cp2)

        # A stale old size: 409 with the size the witness holds.
        self.assert_size(w.add(cp1.size, proof, cp2.text), cp2.size)
        self.assert_size(w.add(0, [], cp1.text), cp2.size)

        cp3 = self.grow(cp2, 5)
        proof = self.proof(cp2.size, cp3.size)
        # A tampered proof: 422, nothing cosigned.
        bad = bytearray(b64(proof[0]))
        bad[0] ^= 1
        r = w.add(cp2.size, [base64.b64encode(bytes(bad)).decode()] + proof[1:], cp3.text)
        self.assertEqual(r.status, 422, r)
        # The log's signature changed: 403.
        lines = cp3.text.split("\n")
        tampered = cp3.text.replace(lines[1] + "\n", "%d\n" % (cp3.size + 1), 1)
        self.assertEqual(w.add(cp2.size, proof, tampered).status, 403)
        # A client of the CA not pinned for this log: 403.
        r = w.add(cp2.size, proof, cp3.text, who="tax")
        self.assertEqual(r.status, 403, r)
        self.assertIn(b"client-not-pinned", r.body)
        # An unknown origin: 404; a body over max_body: 413.
        other = cp3.text.replace(K.ORIGIN, "other.itest.local/log")
        self.assertEqual(w.add(0, [], other).status, 404)
        self.assertEqual(w.request("POST", "/add-checkpoint", b"x" * 9000).status, 413)
        self.assert_size(w.add(0, [], cp3.text), cp2.size)

        # kill -9, start again: the size it reports is the one it cosigned last.
        w.kill9()
        w.start()
        r, doc = w.get_json("/latest?origin=" + urllib.parse.quote(K.ORIGIN, safe=""))
        self.assertEqual(r.status, 200, r)
        self.assertEqual((doc["origin"], doc["size"], b64(doc["root"])),
                         (K.ORIGIN, cp2.size, cp2.root))
        self.assertIn("\u2014 " + WITNESS_NAME + " ", doc["checkpoint"])
        # The spec's monitoring API serves the same note.
        mon = "/%s/checkpoint" % hashlib.sha256(K.ORIGIN.encode()).hexdigest()
        r = w.request("GET", mon)
        self.assertEqual((r.status, r.body.decode()), (200, doc["checkpoint"]))
        self.assertTrue(r.body.decode().startswith(cp2.text))
        self.assertEqual(w.request("GET", "/%s/checkpoint" % ("0" * 64)).status, 404)
        self.assert_size(w.add(0, [], cp1.text), cp2.size)
        self.assert_cosigned(w.add(cp2.size, proof, cp3.text), cp3)

        # The history lists every size cosigned, newest first.
        r, doc = w.get_json("/history?origin=%s&limit=10" %
                            urllib.parse.quote(K.ORIGIN, safe=""))
        self.assertEqual(r.status, 200, r)
        self.assertEqual([(h["size"], b64(h["root"])) for h in doc["history"]],
                         [(cp3.size, cp3.root), (cp2.size, cp2.root), (cp1.size, cp1.root)])
        r, doc = w.get_json("/history?origin=%s&limit=1" %
                            urllib.parse.quote(K.ORIGIN, safe=""))
        self.assertEqual([h["size"] for h in doc["history"]], [cp3.size])
        self.assertEqual(w.request("GET", "/history?origin=nope").status, 404)


if __name__ == "__main__":
    unittest.main()
