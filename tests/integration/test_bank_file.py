"""Bank files verifiable on their own (issue 13, part 4): each pain.001 the gateway delivers
carries, beside its RFC 9421 transport signature, a File-Signature header with a detached
signature by the bank key over the file's exact bytes. A bank that archives the file and
that header verifies it later with openssl and the public key alone, by the very commands
README.md gives (checked here word for word), for SM2 (the development bank key), Ed25519
and ECDSA P-256; one flipped byte of the file fails. The audit entry records the same
signature.

Run: python3 -m unittest tests.integration.test_bank_file -v   (after make)
"""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import harness as h
import httpsig_check
import messages as M

README = os.path.join(h.REPO, "README.md")
# README.md's commands, run as written in a folder holding pain001.xml (the archived
# file), file-signature.txt (its File-Signature header value) and bank-sign.pub.
EXTRACT = ("sed -n 's/.*sig=:\\([A-Za-z0-9+/=]*\\):.*/\\1/p' file-signature.txt"
           " | base64 -d > pain001.sig")
VERIFY = {
    "sm2": "openssl pkeyutl -verify -pubin -inkey bank-sign.pub -rawin -digest sm3 "
           "-pkeyopt distid:1234567812345678 -in pain001.xml -sigfile pain001.sig",
    "ed25519": "openssl pkeyutl -verify -pubin -inkey bank-sign.pub -rawin "
               "-in pain001.xml -sigfile pain001.sig",
    "ecdsa-p256": "openssl pkeyutl -verify -pubin -inkey bank-sign.pub -rawin -digest sha256 "
                  "-in pain001.xml -sigfile pain001.sig",
}
# README.md's other way for ECDSA P-256, given inline.
DGST = "openssl dgst -sha256 -verify bank-sign.pub -signature pain001.sig pain001.xml"
# README.md's key id of bank-sign.pub, given inline.
KEYID = "openssl pkey -pubin -in bank-sign.pub -outform DER | sha256sum | cut -c1-16"
# alg="...", keyid="...", [distid="...", ]sig=:...: (an RFC 8941 Dictionary).
HEADER = re.compile(r'^alg="([a-z0-9-]+)", keyid="([0-9a-f]{16})"(?:, distid="([^"\\]*)")?, '
                    r'sig=:([A-Za-z0-9+/]+={0,2}):$')


class BankFileSignature(unittest.TestCase):

    def deliver(self, alg):
        """Runs a gateway whose bank key is of alg (the development SM2 key, or a new one),
        disburses once and returns (pub, body, File-Signature value, audit entry)."""
        h.require_environment()
        if alg == "sm2":
            key, pub = "bank-sign.key", os.path.join(h.CERTS, "bank-sign.pub")
        else:
            keys = tempfile.mkdtemp(prefix="gw-bankfile-keys-")
            self.addCleanup(shutil.rmtree, keys, True)
            key = os.path.join(keys, "bank-sign.key")
            pub = httpsig_check.generate_key(alg, key)
        env = h.Env(bank_key=key, stub_args={"bank": ["--verify-key", pub]})
        saved = os.path.join(env.dir, "bank-bodies")
        os.makedirs(saved)
        env.stub_args["bank"] += ["--save-bodies", saved]
        env.start()
        self.addCleanup(self.stop, env)

        def post(who, path, body):
            r = env.https("POST", path, who=who, body=body, headers=M.json_headers())
            self.assertEqual(r.status, 202, r)

        post("hrss", "/v1/plans", M.plan("BF-PLAN-1"))
        post("finance", "/v1/plans/BF-PLAN-1/review", M.review(total=500000))
        post("hrss", "/v1/disbursements", M.disbursement("BF-DISB-1", [("BF-PLAN-1", 500000)]))
        rec = env.stubs["bank"].wait_record("/inbox/pain.001")[0]
        # The stub bank checked the transport signature as before, and the file's.
        self.assertEqual(rec.get("signature"), "ok", rec)
        self.assertEqual(rec.get("file_signature"), "ok", rec)
        with open(os.path.join(saved, "%d.body" % rec["seq"]), "rb") as f:
            body = f.read()
        with open(os.path.join(saved, "%d.headers.json" % rec["seq"])) as f:
            hdrs = json.load(f)
        self.assertIn("file-signature", hdrs, hdrs)
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(env.dir, "audit.db"), uri=True,
                             timeout=5)
        try:
            entries = [json.loads(d) for (d,) in db.execute("SELECT data FROM entries")]
        finally:
            db.close()
        entry = next(e for e in entries if e.get("kind") == "instruction"
                     and e["instruction"]["kind"] == "disbursement")
        return pub, body, hdrs["file-signature"], entry

    def stop(self, env):
        err = env.gateway.stderr_text() if env.gateway else ""
        env.stop()
        if h.SANITIZER_ERRORS.search(err):
            self.fail("sanitizer report in gatewayd's stderr:\n%s" % err[-4000:])

    def run_sh(self, folder, command):
        return subprocess.run(["sh", "-c", command], cwd=folder, capture_output=True,
                              text=True, timeout=30)

    def check(self, alg):
        pub, body, value, entry = self.deliver(alg)
        m = HEADER.match(value)
        self.assertIsNotNone(m, value)
        self.assertEqual(m.group(1), alg)
        self.assertEqual(m.group(2), httpsig_check.key_info(pub)[1])
        self.assertEqual(m.group(3), httpsig_check.SM2_DEFAULT_ID if alg == "sm2" else None)

        # The audit entry holds the same signature.
        fs = entry["file"]["file_signature"]
        self.assertEqual((fs["alg"], fs["key_id"], fs["value"]),
                         (alg, m.group(2), m.group(4)))
        self.assertEqual(fs.get("sm2_id"), m.group(3))

        # What a bank archived: the file's bytes, the header's value, the public key.
        folder = tempfile.mkdtemp(prefix="gw-bankfile-")
        self.addCleanup(shutil.rmtree, folder, True)
        with open(os.path.join(folder, "pain001.xml"), "wb") as f:
            f.write(body)
        with open(os.path.join(folder, "file-signature.txt"), "w") as f:
            f.write(value + "\n")
        shutil.copy(pub, os.path.join(folder, "bank-sign.pub"))
        r = self.run_sh(folder, KEYID)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, m.group(2)), r.stderr)
        r = self.run_sh(folder, EXTRACT)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_sh(folder, VERIFY[alg])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Signature Verified Successfully", r.stdout)
        if alg == "ecdsa-p256":
            r = self.run_sh(folder, DGST)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("Verified OK", r.stdout)

        # One byte off, and the same command refuses it.
        flipped = bytearray(body)
        flipped[len(flipped) // 2] ^= 0x01
        with open(os.path.join(folder, "pain001.xml"), "wb") as f:
            f.write(bytes(flipped))
        r = self.run_sh(folder, VERIFY[alg])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("Signature Verification Failure", r.stdout + r.stderr)
        if alg == "ecdsa-p256":
            r = self.run_sh(folder, DGST)
            self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("Verification failure", r.stdout + r.stderr)

    def test_readme_gives_these_commands(self):
        with open(README) as f:
            text = f.read()
        for command in [EXTRACT] + list(VERIFY.values()):
            self.assertTrue("    " + command + "\n" in text, command)
        for command in (DGST, KEYID):
            self.assertIn("`" + command + "`", text)

    def test_sm2_file_verified_with_the_public_key_alone(self):
        self.check("sm2")

    def test_ed25519_file_verified_with_the_public_key_alone(self):
        self.check("ed25519")

    def test_ecdsa_p256_file_verified_with_the_public_key_alone(self):
        self.check("ecdsa-p256")


if __name__ == "__main__":
    unittest.main()
