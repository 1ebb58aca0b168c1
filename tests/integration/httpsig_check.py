"""What a bank can do with only the gateway's public key: check a delivered file's
Content-Digest (RFC 9530) and HTTP message signature (RFC 9421, the gateway's profile,
see gateway/net/httpsig.h) with Python's standard library and the openssl command line.

Written apart from gateway/net/httpsig.c on purpose: it is the independent second
implementation the end-to-end tests compare the gateway against.

  verify(pub_pem, method, path, headers, body)  -> True, or raises SignatureError(reason)
  sign(key_pem, method, path, ctype, body, ...)  -> the three header values (for tests)

Command line:
  python3 httpsig_check.py --selftest
  python3 httpsig_check.py --verify PUB.pem METHOD PATH HEADERS.json BODY_FILE
      (HEADERS.json: an object of lower-case names to values, as stubd --save-bodies
      writes it)
"""

import base64
import binascii
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

COMPONENTS = ("@method", "@path", "content-type", "content-digest")
LABEL = "sig1"
SM2_DEFAULT_ID = "1234567812345678"
# Our names for the alg parameter; SM2 has no registered RFC 9421 name and is sent
# without one.
ALG_NAMES = {"ed25519": "ed25519", "ecdsa-p256": "ecdsa-p256-sha256", "sm2": None}
OPENSSL_TIMEOUT = 20


class SignatureError(Exception):
    """A refused message; args[0] is the reason, named like httpsig_verify's."""

    def __init__(self, reason, detail=""):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self):
        return self.reason + (": " + self.detail if self.detail else "")


def _openssl(args, data=None):
    return subprocess.run(["openssl"] + args, input=data, capture_output=True,
                          timeout=OPENSSL_TIMEOUT)


# ---------------------------------------------------------------------------
# keys

def key_info(pem_path, private=False):
    """(algorithm, keyid) of a PEM key: algorithm is "ed25519", "ecdsa-p256" or "sm2";
    keyid is the hex of the first 8 bytes of SHA-256 of the DER SubjectPublicKeyInfo,
    as gateway/keeper/sign.h defines it."""
    args = ["pkey", "-in", pem_path, "-outform", "DER"]
    args += ["-pubout"] if private else ["-pubin"]
    r = _openssl(args)
    if r.returncode != 0:
        raise SignatureError("bad-key", r.stderr.decode("utf-8", "replace").strip())
    der = r.stdout
    r = _openssl(["asn1parse", "-inform", "DER"], der)
    if r.returncode != 0:
        raise SignatureError("bad-key", "asn1parse failed")
    oids = [ln.rsplit(":", 1)[-1].strip() for ln in r.stdout.decode().splitlines()
            if "OBJECT" in ln]
    if "ED25519" in oids:
        alg = "ed25519"
    elif "sm2" in oids or "SM2" in oids:
        alg = "sm2"
    elif "prime256v1" in oids:
        alg = "ecdsa-p256"
    else:
        raise SignatureError("bad-key", "not Ed25519, ECDSA P-256 or SM2: %r" % oids)
    return alg, hashlib.sha256(der).hexdigest()[:16]


# ---------------------------------------------------------------------------
# ECDSA: RFC 9421 sends raw r||s, openssl wants DER

def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der_int(v):
    b = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
    if b[0] & 0x80:
        b = b"\x00" + b
    return b"\x02" + _der_len(len(b)) + b


def ecdsa_raw_to_der(raw):
    if len(raw) != 64:
        raise SignatureError("bad-signature", "ECDSA P-256 signature of %d bytes" % len(raw))
    r = int.from_bytes(raw[:32], "big")
    s = int.from_bytes(raw[32:], "big")
    body = _der_int(r) + _der_int(s)
    return b"\x30" + _der_len(len(body)) + body


def _der_read(buf, i, tag):
    if i + 2 > len(buf) or buf[i] != tag:
        raise ValueError("tag")
    n = buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 2 or i + k > len(buf):
            raise ValueError("length")
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    if i + n > len(buf):
        raise ValueError("short")
    return buf[i:i + n], i + n


def ecdsa_der_to_raw(der):
    seq, end = _der_read(der, 0, 0x30)
    if end != len(der):
        raise ValueError("trailing bytes")
    r, i = _der_read(seq, 0, 0x02)
    s, i = _der_read(seq, i, 0x02)
    if i != len(seq):
        raise ValueError("trailing bytes")
    return (int.from_bytes(r, "big").to_bytes(32, "big")
            + int.from_bytes(s, "big").to_bytes(32, "big"))


# ---------------------------------------------------------------------------
# the profile's structured fields

def content_digest(body):
    return "sha-256=:%s:" % base64.b64encode(hashlib.sha256(body).digest()).decode()


def _sf_string(s):
    for c in s:
        if not 0x20 <= ord(c) <= 0x7E:
            raise SignatureError("bad-signature-input", "non-ASCII in a string")
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serialize_params(params):
    """The inner list after "sig1=": components, then params [(key, value)] in order."""
    out = "(" + " ".join('"%s"' % c for c in COMPONENTS) + ")"
    for k, v in params:
        out += ";%s=%s" % (k, v if isinstance(v, int) else _sf_string(v))
    return out


class _Parser:
    def __init__(self, s):
        self.s = s
        self.i = 0

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def take(self, lit):
        if not self.s.startswith(lit, self.i):
            raise SignatureError("bad-signature-input", "expected %r at %d" % (lit, self.i))
        self.i += len(lit)

    def spaces(self):
        while self.peek() == " ":
            self.i += 1

    def string(self):
        self.take('"')
        out = ""
        while True:
            c = self.peek()
            if c == "":
                raise SignatureError("bad-signature-input", "unterminated string")
            self.i += 1
            if c == '"':
                return out
            if c == "\\":
                c = self.peek()
                if c not in ('"', "\\"):
                    raise SignatureError("bad-signature-input", "bad escape")
                self.i += 1
            elif not 0x20 <= ord(c) <= 0x7E:
                raise SignatureError("bad-signature-input", "bad character in string")
            out += c

    def integer(self):
        j = self.i
        while self.peek().isdigit() and self.peek() in "0123456789":
            self.i += 1
        digits = self.s[j:self.i]
        if not digits or len(digits) > 15 or self.peek() == ".":
            raise SignatureError("bad-signature-input", "bad integer")
        return int(digits)


def parse_signature_input(value):
    """[(key, value)] of the profile's Signature-Input, or raises."""
    p = _Parser(value.strip(" \t"))
    p.take(LABEL + "=(")
    p.spaces()
    comps = []
    while p.peek() != ")":
        if len(comps) == len(COMPONENTS):
            raise SignatureError("bad-signature-input", "too many components")
        comps.append(p.string())
        if p.peek() not in (" ", ")"):
            raise SignatureError("bad-signature-input", "component parameters or junk")
        p.spaces()
    p.take(")")
    if tuple(comps) != COMPONENTS:
        raise SignatureError("bad-signature-input", "components %r" % comps)
    params = []
    while p.peek() == ";":
        p.i += 1
        p.spaces()
        j = p.i
        while p.peek() and p.peek() in "abcdefghijklmnopqrstuvwxyz0123456789_-.*":
            p.i += 1
        key = p.s[j:p.i]
        p.take("=")
        if key in [k for k, _ in params]:
            raise SignatureError("bad-signature-input", "%s twice" % key)
        if key == "created":
            params.append((key, p.integer()))
        elif key in ("keyid", "alg"):
            params.append((key, p.string()))
        else:
            raise SignatureError("bad-signature-input", "parameter %r" % key)
    if p.s[p.i:].strip(" \t"):
        raise SignatureError("bad-signature-input", "trailing %r" % p.s[p.i:])
    keys = [k for k, _ in params]
    if "created" not in keys or "keyid" not in keys:
        raise SignatureError("bad-signature-input", "created or keyid missing")
    return params


def parse_signature(value):
    v = value.strip(" \t")
    if not v.startswith(LABEL + "=:") or not v.endswith(":") or v.count(":") != 2:
        raise SignatureError("bad-signature-header", value)
    b64 = v[len(LABEL) + 2:-1]
    try:
        raw = binascii.a2b_base64(b64.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise SignatureError("bad-signature-header", str(e))
    # strict_mode does not check the unused bits: one encoding per value only.
    if not raw or base64.b64encode(raw).decode() != b64:
        raise SignatureError("bad-signature-header", "not canonical base64")
    return raw


def _value(v, what):
    v = v.strip(" \t")
    if not v or any((ord(c) < 0x20 and c != "\t") or ord(c) > 0x7E for c in v):
        raise SignatureError("bad-component", what)
    return v


def signature_base(method, path, ctype, cdigest, params_text):
    """RFC 9421 §2.5: one line per component, then @signature-params; LF, none last."""
    path = _value(path, "@path").split("?", 1)[0]
    if not path.startswith("/"):
        raise SignatureError("bad-component", "@path")
    method = _value(method, "@method")
    if " " in method or "\t" in method:
        raise SignatureError("bad-component", "@method")
    lines = ['"@method": ' + method, '"@path": ' + path,
             '"content-type": ' + _value(ctype, "content-type"),
             '"content-digest": ' + _value(cdigest, "content-digest"),
             '"@signature-params": ' + params_text]
    return "\n".join(lines).encode("ascii")


# ---------------------------------------------------------------------------
# openssl does the cryptography

def _openssl_verify(alg, pub, base, sig, sm2_id, tmp):
    bpath = os.path.join(tmp, "base")
    spath = os.path.join(tmp, "sig")
    with open(bpath, "wb") as f:
        f.write(base)
    if alg == "ecdsa-p256":
        sig = ecdsa_raw_to_der(sig)
    with open(spath, "wb") as f:
        f.write(sig)
    if alg == "ed25519":
        args = ["pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", bpath,
                "-sigfile", spath]
    elif alg == "ecdsa-p256":
        args = ["dgst", "-sha256", "-verify", pub, "-signature", spath, bpath]
    else:
        args = ["pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-digest", "sm3",
                "-pkeyopt", "distid:" + sm2_id, "-in", bpath, "-sigfile", spath]
    r = _openssl(args)
    return r.returncode == 0


def _openssl_sign(alg, key, base, sm2_id, tmp):
    bpath = os.path.join(tmp, "base")
    spath = os.path.join(tmp, "sig")
    with open(bpath, "wb") as f:
        f.write(base)
    if alg == "ed25519":
        args = ["pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", bpath, "-out", spath]
    elif alg == "ecdsa-p256":
        args = ["dgst", "-sha256", "-sign", key, "-out", spath, bpath]
    else:
        args = ["pkeyutl", "-sign", "-inkey", key, "-rawin", "-digest", "sm3", "-pkeyopt",
                "distid:" + sm2_id, "-in", bpath, "-out", spath]
    r = _openssl(args)
    if r.returncode != 0:
        raise RuntimeError("openssl sign failed: %s" % r.stderr.decode("utf-8", "replace"))
    with open(spath, "rb") as f:
        sig = f.read()
    return ecdsa_der_to_raw(sig) if alg == "ecdsa-p256" else sig


def verify(pubkey_pem_path, method, path, headers, body, sm2_id=SM2_DEFAULT_ID):
    """Checks a received message against the gateway's profile with openssl only.

    headers: dict of lower-case names to values (content-type, content-digest,
    signature-input, signature). Returns True or raises SignatureError(reason)."""
    h = {k.lower(): v for k, v in headers.items()}
    for name in ("content-type", "content-digest", "signature-input", "signature"):
        if h.get(name) is None:
            raise SignatureError("missing-" + name)
    cd = h["content-digest"].strip(" \t")
    if not (cd.startswith("sha-256=:") and cd.endswith(":") and cd.count(":") == 2):
        raise SignatureError("bad-content-digest", cd)
    if cd != content_digest(body):
        raise SignatureError("digest-mismatch", "%s, body has %s" % (cd, content_digest(body)))
    params = parse_signature_input(h["signature-input"])
    pd = dict(params)
    alg, keyid = key_info(pubkey_pem_path)
    if pd["keyid"] != keyid:
        raise SignatureError("wrong-key", "keyid %s, key is %s" % (pd["keyid"], keyid))
    if "alg" in pd and (ALG_NAMES[alg] is None or pd["alg"] != ALG_NAMES[alg]):
        raise SignatureError("alg-mismatch", "alg %r for a %s key" % (pd["alg"], alg))
    sig = parse_signature(h["signature"])
    if alg in ("ed25519", "ecdsa-p256") and len(sig) != 64:
        raise SignatureError("bad-signature", "%d bytes" % len(sig))
    base = signature_base(method, path, h["content-type"], h["content-digest"],
                          serialize_params(params))
    with tempfile.TemporaryDirectory(prefix="httpsig-check-") as tmp:
        if not _openssl_verify(alg, pubkey_pem_path, base, sig, sm2_id, tmp):
            raise SignatureError("bad-signature", "openssl refused it")
    return True


def sign(key_pem_path, method, path, ctype, body, created=None, sm2_id=SM2_DEFAULT_ID,
         keyid=None, alg_param=True):
    """Signs like the gateway (for tests): returns {content-digest, signature-input,
    signature}. keyid overrides the key's own id; alg_param=False leaves alg out, a
    string puts that alg in."""
    alg, own = key_info(key_pem_path, private=True)
    params = [("created", int(time.time()) if created is None else created),
              ("keyid", own if keyid is None else keyid)]
    name = ALG_NAMES[alg] if alg_param is True else (alg_param or None)
    if name:
        params.append(("alg", name))
    inner = serialize_params(params)
    cd = content_digest(body)
    base = signature_base(method, path, ctype, cd, inner)
    with tempfile.TemporaryDirectory(prefix="httpsig-sign-") as tmp:
        sig = _openssl_sign(alg, key_pem_path, base, sm2_id, tmp)
    return {"content-digest": cd, "signature-input": LABEL + "=" + inner,
            "signature": "%s=:%s:" % (LABEL, base64.b64encode(sig).decode())}


def generate_key(alg, path):
    """A new private key (PEM, mode 0600) and its public key next to it (.pub)."""
    args = {"ed25519": ["-algorithm", "ed25519"],
            "ecdsa-p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "sm2": ["-algorithm", "SM2"]}[alg]
    r = _openssl(["genpkey"] + args + ["-out", path])
    if r.returncode != 0:
        raise RuntimeError("openssl genpkey failed: %s" % r.stderr.decode())
    os.chmod(path, 0o600)
    pub = path + ".pub"
    r = _openssl(["pkey", "-in", path, "-pubout", "-out", pub])
    if r.returncode != 0:
        raise RuntimeError("openssl pkey failed: %s" % r.stderr.decode())
    return pub


# ---------------------------------------------------------------------------
# self-test

def _expect(reason, fn):
    try:
        fn()
    except SignatureError as e:
        if e.reason != reason:
            raise AssertionError("expected %s, got %s" % (reason, e))
        return
    raise AssertionError("expected %s, it verified" % reason)


def selftest():
    body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:'
            b'20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn/></Document>\n')
    ctype = "application/xml; charset=UTF-8"
    path = "/v1/payments/pain001"
    assert content_digest(b'{"hello": "world"}') == \
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", "RFC 9530 example"
    raw = bytes(range(1, 65))
    assert ecdsa_der_to_raw(ecdsa_raw_to_der(raw)) == raw
    raw = b"\x00" * 31 + b"\x80" + b"\xff" * 32
    assert ecdsa_der_to_raw(ecdsa_raw_to_der(raw)) == raw
    n = 0
    with tempfile.TemporaryDirectory(prefix="httpsig-selftest-") as tmp:
        keys = {}
        for alg in ("ed25519", "ecdsa-p256", "sm2"):
            key = os.path.join(tmp, alg + ".key")
            keys[alg] = (key, generate_key(alg, key))
        for alg, (key, pub) in keys.items():
            h = sign(key, "POST", path, ctype, body, created=1718179200)
            h["content-type"] = ctype
            assert ("alg=" in h["signature-input"]) == (alg != "sm2"), h
            assert verify(pub, "POST", path, h, body)
            assert verify(pub, "POST", path + "?q=1", h, body)
            n += 2
            other = keys["sm2" if alg == "ed25519" else "ed25519"][1]
            for reason, fn in (
                    ("digest-mismatch", lambda: verify(pub, "POST", path, h, body + b" ")),
                    ("bad-signature", lambda: verify(pub, "POST", path + "x", h, body)),
                    ("bad-signature", lambda: verify(pub, "PUT", path, h, body)),
                    ("bad-signature", lambda: verify(pub, "POST", path, dict(
                        h, **{"content-type": "text/xml"}), body)),
                    ("bad-signature", lambda: verify(pub, "POST", path, dict(
                        h, **{"signature-input": h["signature-input"].replace(
                            "created=1718179200", "created=1718179201")}), body)),
                    ("wrong-key", lambda: verify(other, "POST", path, h, body)),
                    ("bad-signature-input", lambda: verify(pub, "POST", path, dict(
                        h, **{"signature-input": h["signature-input"].replace(
                            "sig1=", "sig2=")}), body)),
                    ("bad-signature-input", lambda: verify(pub, "POST", path, dict(
                        h, **{"signature-input": h["signature-input"].replace(
                            ' "content-type"', "")}), body)),
                    ("bad-signature-header", lambda: verify(pub, "POST", path, dict(
                        h, **{"signature": h["signature"][:-3] + "*=:"}), body)),
                    ("missing-signature", lambda: verify(pub, "POST", path, {
                        k: v for k, v in h.items() if k != "signature"}, body))):
                _expect(reason, fn)
                n += 1
            if alg == "sm2":
                _expect("bad-signature", lambda: verify(pub, "POST", path, h, body,
                                                        sm2_id="bank-a@example"))
                _expect("alg-mismatch", lambda: verify(pub, "POST", path, sign(
                    key, "POST", path, ctype, body, alg_param="sm2") | {
                        "content-type": ctype}, body))
            else:
                _expect("alg-mismatch", lambda: verify(pub, "POST", path, sign(
                    key, "POST", path, ctype, body,
                    alg_param="ecdsa-p256-sha256" if alg == "ed25519" else "ed25519") | {
                        "content-type": ctype}, body))
            n += 1
            # Leaving alg out is allowed (the key says the algorithm).
            h2 = sign(key, "POST", path, ctype, body, alg_param=False)
            h2["content-type"] = ctype
            assert verify(pub, "POST", path, h2, body)
            n += 1
    print("httpsig_check self-test: %d checks passed" % n)
    return 0


def main(argv):
    if argv[1:] == ["--selftest"]:
        return selftest()
    if len(argv) == 7 and argv[1] == "--verify":
        _, _, pub, method, path, hdrs, body_file = argv
        with open(hdrs) as f:
            headers = json.load(f)
        with open(body_file, "rb") as f:
            body = f.read()
        try:
            verify(pub, method, path, headers, body)
        except SignatureError as e:
            print("refused: %s" % e)
            return 1
        print("verified")
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
