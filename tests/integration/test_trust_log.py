"""Every change of trust is in the audit log (issue 12, part 2): each start and each
reload that takes effect appends one "trust" entry with the SHA-256 of every file that
decides who may do what (configuration, certificates, CA, CRL, registry, schemas), the
pins, and the public halves of the keeper's keys, with what changed since the previous
trust entry, across restarts. A refused reload logs nothing.

Run: python3 -m unittest tests.integration.test_trust_log -v   (after make)
"""

import glob
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import unittest

import harness as h

SRC_ACCOUNTS = os.path.join(h.REPO, "config", "accounts.conf")
GATEWAYCTL = h._path_from_env("GATEWAYCTL", "build/gatewayctl")


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def public_half_sha256(key_path):
    """SHA-256 of the DER SubjectPublicKeyInfo, by openssl (not our C code)."""
    der = subprocess.run(["openssl", "pkey", "-in", key_path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True, timeout=10).stdout
    return hashlib.sha256(der).hexdigest()


class TrustLog(unittest.TestCase):

    def setUp(self):
        h.require_environment()
        self.env = h.Env(stubs=("finance", "hrss", "bank"))
        # The registry is the test's own, so that it can change it.
        self.accounts = os.path.join(self.env.dir, "accounts.conf")
        shutil.copy(SRC_ACCOUNTS, self.accounts)
        self.env.cfg_kw["accounts"] = self.accounts
        self.env.start()
        self.addCleanup(self.env.stop)
        self.database = os.path.join(self.env.dir, "audit.db")

    # -- the log, read behind the daemon's back ------------------------------------

    def trust_entries(self):
        """[(index, entry)] of kind trust, in log order."""
        c = sqlite3.connect("file:%s?mode=ro" % self.database, uri=True, timeout=10)
        try:
            rows = c.execute("SELECT idx, data FROM entries ORDER BY idx").fetchall()
        finally:
            c.close()
        out = []
        for i, d in rows:
            e = json.loads(bytes(d))
            if e.get("kind") == "trust":
                out.append((i, e))
        return out

    def wait_trust(self, n):
        """Waits until the log holds n trust entries; returns them."""
        return h.wait_until(lambda: (lambda t: t if len(t) >= n else None)(
            self.trust_entries()), 10, what="%d trust entries" % n)

    def reload(self, outcome):
        """SIGHUP, then waits for the parent to say how the reload ended."""
        mark = self.env.gateway.stderr_size()
        self.env.gateway.signal(signal.SIGHUP)
        return h.wait_until(lambda: (lambda t: t if outcome in t else None)(
            self.env.gateway.stderr_text(mark)), 10, what="reload: %s" % outcome)

    def metric(self, name):
        r = self.env.https("GET", "/metrics", who="admin", admin=True)
        self.assertEqual(r.status, 200, r)
        for line in r.body.decode().splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        self.fail("no metric %s" % name)

    def files_of(self, entry):
        return {f["path"]: (f["role"], f["sha256"]) for f in entry["files"]}

    def read(self, path):
        with open(path) as f:
            return f.read()

    def append(self, path, text):
        with open(path, "a") as f:
            f.write(text)

    # -- the tests -----------------------------------------------------------------

    def test_start_entry_holds_the_digests_of_the_files_in_force(self):
        (idx, e), = self.wait_trust(1)
        self.assertEqual((e["reason"], e["source"], e["previous"]), ("start", "keeper", None))
        files = self.files_of(e)
        expect = {
            self.env.config_path: "config",
            h.ca_file(): "ca",
            os.path.join(h.CERTS, "crl.pem"): "crl",
            h.cert("gateway"): "cert",
            h.cert("gateway-client"): "cert",
            self.accounts: "registry",
        }
        schemas = glob.glob(os.path.join(os.environ["GW_SCHEMAS"], "**", "*.xsd"),
                            recursive=True)
        self.assertGreaterEqual(len(schemas), 5)
        for p in schemas:
            expect[p] = "schema"
        for path, role in expect.items():
            self.assertIn(path, files, "no digest of %s" % path)
            self.assertEqual(files[path], (role, sha256_file(path)), path)
        # Keys: the public halves only, as openssl derives them.
        keys = {
            os.path.join(h.CERTS, "log.key"): "log-key",
            os.path.join(h.CERTS, "signing.key"): "signing-key",
            os.path.join(h.CERTS, "bank-sign.key"): "bank-key",
        }
        for path, role in keys.items():
            self.assertEqual(files.get(path), (role, public_half_sha256(path)), path)
            self.assertNotEqual(files[path][1], sha256_file(path),
                                "the private key file itself was hashed")
        # Each agency's pin, the SPKI digest that admits it.
        pins = {p: d for p, (r, d) in files.items() if r == "pin"}
        for a in h.AGENCY_CERTS:
            pin = h.spki_sha256_hex(h.cert(a))
            self.assertEqual(pins.get("[agency %s] pin %s" % (a, pin)), pin, a)
        # Sorted by path, each path once; the first entry ever: everything is new.
        paths = [f["path"] for f in e["files"]]
        self.assertEqual(paths, sorted(set(paths), key=lambda s: s.encode()))
        self.assertEqual([(c["path"], c["before"], c["after"]) for c in e["changed"]],
                         [(f["path"], None, f["sha256"]) for f in e["files"]])
        self.assertEqual(self.metric("gateway_trust_entries_total"), 1)

    def test_reload_names_exactly_what_changed(self):
        (start_idx, start), = self.wait_trust(1)
        before = sha256_file(self.accounts)
        self.append(self.accounts, "# a new line: the registry's digest changes\n")
        self.reload("reload: done")
        (_, _), (idx, e) = self.wait_trust(2)
        self.assertEqual((e["reason"], e["previous"]), ("reload", start_idx))
        self.assertEqual(e["changed"], [{"path": self.accounts, "role": "registry",
                                         "before": before,
                                         "after": sha256_file(self.accounts)}])
        self.assertEqual(self.files_of(e)[self.accounts][1], sha256_file(self.accounts))

        # The configuration itself: a comment is enough to change its digest.
        cbefore = sha256_file(self.env.config_path)
        self.append(self.env.config_path, "# reviewed\n")
        self.reload("reload: done")
        entries = self.wait_trust(3)
        (idx3, e3) = entries[2]
        self.assertEqual(e3["previous"], idx)
        self.assertEqual(e3["changed"], [{"path": self.env.config_path, "role": "config",
                                          "before": cbefore,
                                          "after": sha256_file(self.env.config_path)}])

        # A reload is an event even when nothing changed.
        self.reload("reload: done")
        (idx4, e4) = self.wait_trust(4)[3]
        self.assertEqual((e4["reason"], e4["previous"], e4["changed"]), ("reload", idx3, []))
        self.assertEqual(e4["files"], e3["files"])
        self.assertEqual(self.metric("gateway_trust_entries_total"), 4)

    def test_refused_reload_logs_nothing(self):
        (start_idx, _), = self.wait_trust(1)
        good = self.read(self.env.config_path)
        with open(self.env.config_path, "w") as f:
            f.write(good.replace("[gateway]", "[gateway]\nno_such_key = 1", 1))
        self.reload("the new configuration has errors")
        # A broken registry is refused too, and logs nothing either.
        with open(self.env.config_path, "w") as f:
            f.write(good)
        registry = self.read(self.accounts)
        with open(self.accounts, "w") as f:
            f.write(registry.replace("cnaps = 102823", "cnaps = 1x2823"))
        self.reload("has errors")
        with open(self.accounts, "w") as f:
            f.write(registry)
        # The next reload that takes effect follows the start entry directly, and
        # nothing changed against it: what was refused was never in force.
        self.reload("reload: done")
        entries = self.wait_trust(2)
        self.assertEqual(len(entries), 2)
        idx, e = entries[1]
        self.assertEqual((e["reason"], e["previous"], e["changed"]), ("reload", start_idx, []))

    def test_restart_compares_with_the_last_logged_manifest(self):
        self.wait_trust(1)
        self.append(self.accounts, "# changed before a reload\n")
        self.reload("reload: done")
        (ridx, reload_entry) = self.wait_trust(2)[1]
        self.env.gateway.stop()
        before = sha256_file(self.env.config_path)
        self.append(self.env.config_path, "# changed while stopped\n")
        self.env.start_gateway()
        (idx, e) = self.wait_trust(3)[2]
        self.assertEqual((e["reason"], e["previous"]), ("start", ridx))
        self.assertEqual(e["changed"], [{"path": self.env.config_path, "role": "config",
                                         "before": before,
                                         "after": sha256_file(self.env.config_path)}])
        # The log with its trust entries verifies: each names the one before it and
        # its changes are the difference of their files.
        self.env.gateway.stop()
        r = self.verify()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(b"audit log OK", r.stdout)
        # The keeper's own record of the newest trust entry is checked against the log.
        c = sqlite3.connect(self.database)
        try:
            c.execute("UPDATE trust_last SET entry = ?", (ridx,))
            c.commit()
        finally:
            c.close()
        r = self.verify()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(b"trust_last names entry %d, but the log's newest trust entry is %d"
                      % (ridx, idx), r.stdout + r.stderr)

    def verify(self):
        return subprocess.run([GATEWAYCTL, "audit", "verify", "-c", self.env.config_path],
                              capture_output=True, timeout=120)


if __name__ == "__main__":
    unittest.main()
