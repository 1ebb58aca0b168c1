"""stubd as a delivery inbox: Idempotency-Key replays, --save-bodies, and bank mode
(--verify-key: RFC 9421 signatures checked, a File-Signature's verdict recorded, pain.001
answered with pain.002 RCVD).

The stubs run alone (no gateway) on ports 19600-19699; requests are signed here with
tests/integration/httpsig_check.py (Python and the openssl command line), so this also
shows stubd's C verifier accepting an independent signer's messages.

Run: python3 -m unittest tests.integration.test_stub_inbox -v   (after make)
"""

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness                                       # noqa: E402
import httpsig_check                                 # noqa: E402
from harness import Proc, https_request, token, wait_until   # noqa: E402

PORT_PLAIN = 19601
PORT_BANK = {"ed25519": 19602, "ecdsa-p256": 19603, "sm2": 19604}
PORT_RESTART = 19605
CLIENT = "gateway-client"
PAIN002_XSD = os.path.join(harness.REPO, "config", "schemas", "iso20022",
                           "pain.002.001.10.xsd")
PAIN002_NS = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
XML_CTYPE = "application/xml; charset=UTF-8"
PATH = "/v1/payments/pain001"


def pain001(msg_id):
    """A disbursement file as the gateway writes it (only its header matters here)."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">\n'
            '<CstmrCdtTrfInitn>\n<GrpHdr><MsgId>%s</MsgId>'
            '<CreDtTm>2024-06-12T10:00:00+08:00</CreDtTm><NbOfTxs>1</NbOfTxs>'
            '<CtrlSum>1234.56</CtrlSum><InitgPty><Nm>甘肃省社会保险事业管理局</Nm>'
            '</InitgPty></GrpHdr>\n<PmtInf><PmtInfId>DISB-%s</PmtInfId></PmtInf>\n'
            '</CstmrCdtTrfInitn>\n</Document>\n' % (msg_id, msg_id)).encode("utf-8")


class StubProc:
    """One stubd with the options under test (harness.Stub has no way to pass them)."""

    def __init__(self, name, port, workdir, extra=()):
        self.name = name
        self.port = port
        self.record_path = os.path.join(workdir, "%s.record.jsonl" % name)
        self.argv = [harness.STUBD, "--listen", "%s:%d" % (harness.LOCAL, port),
                     "--cert", harness.cert("stub-bank"), "--key", harness.key("stub-bank"),
                     "--ca", harness.ca_file(), "--name", name,
                     "--record", self.record_path] + list(extra)
        self.workdir = workdir
        self.proc = None
        self.start()

    def start(self):
        if harness.port_open(self.port):
            raise RuntimeError("port %d is taken: is another test using 19600-19699?"
                               % self.port)
        self.proc = Proc("stub-%s" % self.name, self.argv, self.workdir)

        def ready():
            if not self.proc.alive():
                raise RuntimeError("stub %s exited with %s:\n%s" % (
                    self.name, self.proc.returncode(), self.proc.stderr_tail()))
            return "listening on" in self.proc.stderr_text() and harness.port_open(self.port)
        wait_until(ready, harness.READY_TIMEOUT, what="stub %s on %d" % (self.name, self.port))

    def stop(self):
        return self.proc.stop(grace=3.0)

    def records(self):
        try:
            with open(self.record_path, "rb") as f:
                return [json.loads(ln) for ln in f.read().splitlines() if ln.strip()]
        except FileNotFoundError:
            return []

    def record_of(self, path):
        rs = [r for r in self.records() if r["path"] == path]
        if len(rs) != 1:
            raise AssertionError("%d records for %s" % (len(rs), path))
        return rs[0]

    def sanitizer_report(self):
        text = self.proc.stderr_text()
        m = harness.SANITIZER_ERRORS.search(text)
        return text[m.start():m.start() + 3000] if m else None


def post(port, path, body, headers=None):
    return https_request(port, "POST", path, who=CLIENT, body=body, headers=headers or {})


class StubInboxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_environment()
        cls.dir = tempfile.mkdtemp(prefix="gw-stub-inbox-")
        cls.stubs = []
        try:
            cls.keys = {}
            for alg in PORT_BANK:
                k = os.path.join(cls.dir, "bank-%s.key" % alg)
                cls.keys[alg] = (k, httpsig_check.generate_key(alg, k))
            k = os.path.join(cls.dir, "other.key")
            cls.other = (k, httpsig_check.generate_key("ed25519", k))
            cls.plain_saved = os.path.join(cls.dir, "plain-bodies")
            cls.plain = StubProc("plain", PORT_PLAIN, cls.dir,
                                 ["--save-bodies", cls.plain_saved])
            cls.stubs.append(cls.plain)
            cls.bank = {}
            cls.bank_saved = {}
            for alg, port in PORT_BANK.items():
                cls.bank_saved[alg] = os.path.join(cls.dir, "bank-%s-bodies" % alg)
                extra = ["--verify-key", cls.keys[alg][1], "--save-bodies",
                         cls.bank_saved[alg]]
                if alg == "sm2":
                    extra += ["--sm2-id", httpsig_check.SM2_DEFAULT_ID]
                cls.bank[alg] = StubProc("bank-" + alg, port, cls.dir, extra)
                cls.stubs.append(cls.bank[alg])
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in cls.stubs:
            s.stop()
        if os.environ.get("GW_TEST_KEEP") != "1":
            shutil.rmtree(cls.dir, ignore_errors=True)
        else:
            sys.stderr.write("\n[kept %s]\n" % cls.dir)

    def tearDown(self):
        for s in self.stubs:
            report = s.sanitizer_report()
            if report:
                self.fail("sanitizer report in stub %s:\n%s" % (s.name, report))
            self.assertTrue(s.proc.alive(), "stub %s exited" % s.name)

    # -- helpers --------------------------------------------------------------

    def signed(self, alg, body, path=PATH, ctype=XML_CTYPE, key=None, **kw):
        h = httpsig_check.sign(key or self.keys[alg][0], "POST", path, ctype, body, **kw)
        return {"Content-Type": ctype, "Content-Digest": h["content-digest"],
                "Signature-Input": h["signature-input"], "Signature": h["signature"]}

    def file_signature(self, key_alg, body, key=None, **over):
        """A File-Signature value as the gateway writes it: a detached signature over
        body by openssl (DER for ECDSA and SM2); over replaces alg, keyid or distid."""
        alg = key_alg
        key = key or self.keys[alg][0]
        bpath = os.path.join(self.dir, "file-" + token())
        with open(bpath, "wb") as f:
            f.write(body)
        args = {"ed25519": [], "ecdsa-p256": ["-digest", "sha256"],
                "sm2": ["-digest", "sm3", "-pkeyopt",
                        "distid:" + httpsig_check.SM2_DEFAULT_ID]}[alg]
        r = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin"] + args
                           + ["-in", bpath], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        params = {"alg": alg, "keyid": httpsig_check.key_info(key, private=True)[1]}
        if alg == "sm2":
            params["distid"] = httpsig_check.SM2_DEFAULT_ID
        params.update(over)
        return "".join('%s="%s", ' % kv for kv in params.items()) + \
            "sig=:%s:" % base64.b64encode(r.stdout).decode()

    def assert_error(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json()["code"], code, r)

    def assert_pain002(self, r, msg_id):
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.header("Content-Type"), XML_CTYPE)
        text = r.body.decode("utf-8")
        self.assertIn('xmlns="%s"' % PAIN002_NS, text)
        self.assertIn("<OrgnlMsgId>%s</OrgnlMsgId>" % msg_id, text)
        self.assertIn("<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>", text)
        self.assertIn("<GrpSts>RCVD</GrpSts>", text)
        path = os.path.join(self.dir, "pain002-%s.xml" % token())
        with open(path, "wb") as f:
            f.write(r.body)
        x = subprocess.run(["xmllint", "--noout", "--schema", PAIN002_XSD, path],
                           capture_output=True, timeout=30)
        self.assertEqual(x.returncode, 0, "pain.002 does not validate against %s:\n%s\n%s"
                         % (PAIN002_XSD, x.stderr.decode("utf-8", "replace"), text))

    def saved(self, folder, seq):
        with open(os.path.join(folder, "%d.body" % seq), "rb") as f:
            body = f.read()
        with open(os.path.join(folder, "%d.headers.json" % seq)) as f:
            headers = json.load(f)
        return body, headers

    # -- Idempotency-Key --------------------------------------------------------

    def test_replay_same_key_same_body(self):
        key = "disb-" + token()
        path = "/v1/deliveries/" + token()
        body = b'{"amount_fen":123456}'
        r1 = post(PORT_PLAIN, path, body, {"Idempotency-Key": '"%s"' % key})
        self.assertEqual(r1.status, 200, r1)
        self.assertIsNone(r1.header("Idempotent-Replayed"))
        # Twice more, each on a new connection: the very same answer, marked.
        for _ in range(2):
            r = post(PORT_PLAIN, path, body, {"Idempotency-Key": '"%s"' % key})
            self.assertEqual(r.status, r1.status)
            self.assertEqual(r.body, r1.body, "a replay must be the stored answer")
            self.assertEqual(r.header("Idempotent-Replayed"), "true", r)
            self.assertEqual(r.header("Content-Type"), r1.header("Content-Type"))
        recs = [x for x in self.plain.records() if x["path"] == path]
        self.assertEqual([x["idempotency_key"] for x in recs], [key] * 3)
        self.assertEqual([x["replayed"] for x in recs], [False, True, True])
        self.assertEqual([x["status"] for x in recs], [200] * 3)
        # Exactly-once, as the end-to-end tests count it.
        self.assertEqual(len({x["idempotency_key"] for x in recs if not x["replayed"]}), 1)
        self.assertEqual(len({x["seq"] for x in recs}), 3, "seq is unique per request")

    def test_same_key_other_body_422(self):
        key = token()
        path = "/v1/deliveries/" + token()
        r = post(PORT_PLAIN, path, b"first", {"Idempotency-Key": key})
        self.assertEqual(r.status, 200, r)
        r = post(PORT_PLAIN, path, b"second", {"Idempotency-Key": key})
        self.assert_error(r, 422, "idempotency-key-reused")
        self.assertIsNone(r.header("Idempotent-Replayed"))
        # The first body still gets its stored answer.
        r = post(PORT_PLAIN, path, b"first", {"Idempotency-Key": key})
        self.assertEqual((r.status, r.header("Idempotent-Replayed")), (200, "true"))
        recs = [x for x in self.plain.records() if x["path"] == path]
        self.assertEqual([(x["status"], x["replayed"]) for x in recs],
                         [(200, False), (422, False), (200, True)])

    def test_key_forms_and_failures(self):
        # A bare key and the sf-string form are the same key.
        key = token()
        path = "/v1/deliveries/" + token()
        self.assertEqual(post(PORT_PLAIN, path, b"x", {"Idempotency-Key": key}).status, 200)
        r = post(PORT_PLAIN, path, b"x", {"Idempotency-Key": '"%s"' % key})
        self.assertEqual(r.header("Idempotent-Replayed"), "true", r)
        # Unusable keys: unterminated, empty, control characters.
        for bad in ('"' + token(), '""', '"a\\b"', "a b"):
            r = post(PORT_PLAIN, "/v1/deliveries/" + token(), b"x", {"Idempotency-Key": bad})
            self.assert_error(r, 400, "bad-idempotency-key")
        # A failed answer is not stored: the retry is processed, then replayed.
        key = token()
        path = "/v1/deliveries/" + token()
        r = post(PORT_PLAIN, path, b"y", {"Idempotency-Key": key, "X-Stub-Mode": "fail=503"})
        self.assertEqual(r.status, 503, r)
        r = post(PORT_PLAIN, path, b"y", {"Idempotency-Key": key})
        self.assertEqual((r.status, r.header("Idempotent-Replayed")), (200, None), r)
        r = post(PORT_PLAIN, path, b"y", {"Idempotency-Key": key})
        self.assertEqual((r.status, r.header("Idempotent-Replayed")), (200, "true"), r)
        # No key: never a replay; GET keys are ignored.
        path = "/v1/deliveries/" + token()
        for _ in range(2):
            r = post(PORT_PLAIN, path, b"z")
            self.assertIsNone(r.header("Idempotent-Replayed"))
        r = https_request(PORT_PLAIN, "GET", path, who=CLIENT, headers={"Idempotency-Key": key})
        self.assertEqual((r.status, r.header("Idempotent-Replayed")), (200, None))
        recs = [x for x in self.plain.records() if x["path"] == path]
        self.assertEqual([x["idempotency_key"] for x in recs], [None, None, None])

    # -- --save-bodies ----------------------------------------------------------

    def test_save_bodies(self):
        path = "/v1/deliveries/" + token()
        body = bytes(range(256)) * 40 + "终".encode("utf-8")
        r = post(PORT_PLAIN, path, body, {"X-Trace": 'a "quoted" value',
                                          "Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        rec = self.plain.record_of(path)
        saved, headers = self.saved(self.plain_saved, rec["seq"])
        self.assertEqual(saved, body)
        self.assertEqual(hashlib.sha256(saved).hexdigest(), rec["body_sha256"])
        self.assertEqual(headers["x-trace"], 'a "quoted" value')
        self.assertEqual(headers["content-type"], "application/octet-stream")
        self.assertEqual(headers["content-length"], str(len(body)))
        self.assertTrue(all(k == k.lower() for k in headers), headers)
        # A bodiless request gets an empty body file.
        path = "/v1/deliveries/" + token()
        https_request(PORT_PLAIN, "GET", path, who=CLIENT)
        saved, headers = self.saved(self.plain_saved, self.plain.record_of(path)["seq"])
        self.assertEqual(saved, b"")
        self.assertIn("host", headers)

    def test_seq_continues_after_restart(self):
        folder = os.path.join(self.dir, "restart-bodies")
        s = StubProc("restart", PORT_RESTART, self.dir, ["--save-bodies", folder])
        try:
            for _ in range(3):
                post(PORT_RESTART, "/v1/r/" + token(), b"before")
            s.stop()
            s.start()
            path = "/v1/r/" + token()
            post(PORT_RESTART, path, b"after")
            seqs = [r["seq"] for r in s.records()]
            self.assertEqual(seqs, [1, 2, 3, 4], "a restarted stub overwrote saved bodies")
            self.assertEqual(self.saved(folder, 4)[0], b"after")
            self.assertEqual(self.saved(folder, 1)[0], b"before")
        finally:
            s.stop()

    # -- bank mode ----------------------------------------------------------------

    def test_bank_signed_pain001_all_algorithms(self):
        for alg, port in PORT_BANK.items():
            with self.subTest(alg=alg):
                msg_id = "MSG-" + token()
                body = pain001(msg_id)
                path = PATH + "/" + token()
                h = self.signed(alg, body, path)
                r = post(port, path, body, h)
                self.assert_pain002(r, msg_id)
                rec = self.bank[alg].record_of(path)
                self.assertEqual((rec["status"], rec["signature"]), (202, "ok"))
                # What the bank saved verifies with openssl and the public key only.
                saved, headers = self.saved(self.bank_saved[alg], rec["seq"])
                self.assertEqual(saved, body)
                self.assertTrue(httpsig_check.verify(self.keys[alg][1], "POST", path,
                                                     headers, saved))

    def test_bank_file_signature_recorded(self):
        """File-Signature is checked and its verdict recorded, never enforced: the
        transport signature alone decides the answer."""
        for alg, port in PORT_BANK.items():
            with self.subTest(alg=alg):
                body = pain001("MSG-" + token())
                cases = [(None, None), (self.file_signature(alg, body), "ok"),
                         (self.file_signature(alg, body + b" "), "bad-file-signature"),
                         (self.file_signature(alg, body, alg="ed448"), "alg-mismatch"),
                         (self.file_signature(alg, body, keyid="0" * 16), "wrong-key"),
                         ('alg="%s", sig=:AAAA:' % alg, "bad-file-signature-header")]
                if alg == "sm2":
                    cases.append((self.file_signature(alg, body, distid="1234"),
                                  "distid-mismatch"))
                for value, verdict in cases:
                    path = PATH + "/" + token()
                    h = self.signed(alg, body, path)
                    if value is not None:
                        h["File-Signature"] = value
                    self.assertEqual(post(port, path, body, h).status, 202)
                    rec = self.bank[alg].record_of(path)
                    self.assertEqual((rec["signature"], rec["file_signature"]),
                                     ("ok", verdict), value)

    def test_bank_tampered_body_401(self):
        for alg, port in PORT_BANK.items():
            with self.subTest(alg=alg):
                body = pain001("MSG-" + token())
                path = PATH + "/" + token()
                h = self.signed(alg, body, path)
                tampered = body.replace(b"1234.56", b"9234.56")
                r = post(port, path, tampered, h)
                self.assert_error(r, 401, "digest-mismatch")
                self.assertEqual(self.bank[alg].record_of(path)["signature"],
                                 "digest-mismatch")
                # The digest recomputed over the changed body: the signature breaks.
                h["Content-Digest"] = httpsig_check.content_digest(tampered)
                path2 = PATH + "/" + token()
                r = post(port, path2, tampered, dict(h))
                self.assertEqual(r.status, 401, r)

    def test_bank_wrong_key_401(self):
        body = pain001("MSG-" + token())
        path = PATH + "/" + token()
        # Signed by another key: its own keyid is not the bank's key.
        r = post(PORT_BANK["ed25519"], path, body,
                 self.signed("ed25519", body, path, key=self.other[0]))
        self.assert_error(r, 401, "wrong-key")
        self.assertEqual(self.bank["ed25519"].record_of(path)["signature"], "wrong-key")
        # ... or claiming the bank key's id.
        _, keyid = httpsig_check.key_info(self.keys["ed25519"][1])
        path = PATH + "/" + token()
        r = post(PORT_BANK["ed25519"], path, body,
                 self.signed("ed25519", body, path, key=self.other[0], keyid=keyid))
        self.assert_error(r, 401, "bad-signature")
        # An Ed25519 signature sent to the ECDSA bank.
        path = PATH + "/" + token()
        r = post(PORT_BANK["ecdsa-p256"], path, body, self.signed("ed25519", body, path))
        self.assert_error(r, 401, "wrong-key")

    def test_bank_refusals(self):
        port = PORT_BANK["ed25519"]
        body = pain001("MSG-" + token())
        path = PATH + "/" + token()
        h = self.signed("ed25519", body, path)
        # Not signed at all, or a header missing.
        self.assert_error(post(port, path, body, {"Content-Type": XML_CTYPE}), 401,
                          "missing-content-digest")
        self.assert_error(post(port, path, body, {k: v for k, v in h.items()
                                                  if k != "Signature"}),
                          401, "missing-signature")
        # Covered parts changed in transit.
        self.assert_error(post(port, path + "x", body, h), 401, "bad-signature")
        self.assert_error(post(port, path, body, dict(h, **{"Content-Type": "text/xml"})),
                          401, "bad-signature")
        self.assert_error(post(port, path, body, dict(h, **{
            "Signature-Input": h["Signature-Input"].replace("sig1=", "sig2=")})),
            401, "bad-signature-input")
        self.assert_error(post(port, path, body, dict(h, **{
            "Signature-Input": h["Signature-Input"].replace('"ed25519"', '"ecdsa-p256-sha256"')})),
            401, "alg-mismatch")
        self.assert_error(post(port, path, body, dict(h, **{"Signature": "sig1=:AA*A:"})),
                          401, "bad-signature-header")
        # GET is not checked; a signed POST that is not a pain.001 gets the JSON echo.
        r = https_request(port, "GET", "/v1/anything", who=CLIENT)
        self.assertEqual(r.status, 200, r)
        jpath = "/v1/notes/" + token()
        jbody = b'{"note":"not a pain.001"}'
        r = post(port, jpath, jbody, self.signed("ed25519", jbody, jpath,
                                                  ctype="application/json"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["path"], jpath)
        self.assertEqual(self.bank["ed25519"].record_of(jpath)["signature"], "ok")

    def test_bank_idempotent_delivery(self):
        port = PORT_BANK["sm2"]
        msg_id = "MSG-" + token()
        body = pain001(msg_id)
        path = PATH + "/" + token()
        key = "outbox-" + token()
        h = self.signed("sm2", body, path)
        h["Idempotency-Key"] = '"%s"' % key
        r1 = post(port, path, body, h)
        self.assert_pain002(r1, msg_id)
        # The courier retries (say, the answer was lost): same signed file, same key.
        r2 = post(port, path, body, self.signed("sm2", body, path) |
                  {"Idempotency-Key": '"%s"' % key})
        self.assertEqual((r2.status, r2.body), (r1.status, r1.body))
        self.assertEqual(r2.header("Idempotent-Replayed"), "true")
        self.assertEqual(r2.header("Content-Type"), XML_CTYPE)
        # Another file under the same key is refused; an unsigned retry still 401.
        other = pain001("MSG-" + token())
        r = post(port, path, other, self.signed("sm2", other, path) |
                 {"Idempotency-Key": '"%s"' % key})
        self.assert_error(r, 422, "idempotency-key-reused")
        r = post(port, path, body, {"Content-Type": XML_CTYPE, "Idempotency-Key": key})
        self.assert_error(r, 401, "missing-content-digest")
        recs = [x for x in self.bank["sm2"].records() if x["path"] == path]
        self.assertEqual([(x["status"], x["replayed"], x["signature"]) for x in recs],
                         [(202, False, "ok"), (202, True, "ok"), (422, False, "ok"),
                          (401, False, "missing-content-digest")])
        delivered = {x["idempotency_key"] for x in recs
                     if x["status"] == 202 and not x["replayed"]}
        self.assertEqual(delivered, {key})

    def test_bank_pain002_ids(self):
        # A MsgId that cannot be echoed safely is refused, not copied into XML.
        port = PORT_BANK["ecdsa-p256"]
        body = pain001("MSG&amp;1")
        path = PATH + "/" + token()
        r = post(port, path, body, self.signed("ecdsa-p256", body, path))
        self.assert_error(r, 400, "bad-pain001")
        # Two reports never share a MsgId.
        ids = []
        for _ in range(2):
            path = PATH + "/" + token()
            body = pain001("MSG-" + token())
            r = post(port, path, body, self.signed("ecdsa-p256", body, path))
            self.assertEqual(r.status, 202, r)
            ids.append(re.search(rb"<GrpHdr><MsgId>([^<]+)</MsgId>", r.body).group(1))
        self.assertNotEqual(ids[0], ids[1])


if __name__ == "__main__":
    unittest.main()
