"""`gatewayd -t -c FILE`: configuration OK / one error per line with file:line."""

import os
import re
import shutil
import subprocess
import tempfile
import types
import unittest

import harness


class ConfigTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_environment()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gw-itest-cfg-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        stubs = {n: types.SimpleNamespace(port=harness.free_port())
                 for n in ("finance", "hrss", "bank")}
        self.cfg = harness.GatewayConfig(self.dir, harness.free_port(), harness.free_port(),
                                         stubs, down_port=harness.free_port())

    def check(self, text, name="gateway.conf"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([harness.GATEWAYD, "-t", "-c", path], capture_output=True,
                           timeout=20, cwd=self.dir, stdin=subprocess.DEVNULL)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        return p.returncode, out, path

    def replace(self, section, k, new_line):
        lines = list(self.cfg.lines)
        n = self.cfg.line_of(section, k)
        lines[n - 1] = new_line
        return "\n".join(lines) + "\n", n

    def insert_after(self, section, k, new_line):
        lines = list(self.cfg.lines)
        n = self.cfg.line_of(section, k)
        lines.insert(n, new_line)
        return "\n".join(lines) + "\n", n + 1

    def assert_error_at(self, text, lines, *, words=()):
        """Exit 1 and a message "FILE:LINE" for one of lines (the key's line, or for
        errors found after parsing, its section's header line)."""
        code, out, path = self.check(text, "bad.conf")
        self.assertEqual(code, 1, "exit code %r for a bad config; output:\n%s" % (code, out))
        self.assertNotIn("configuration OK", out)
        if isinstance(lines, int):
            lines = (lines,)
        pat = r"(%s|%s):(%s)\b" % (re.escape(path), re.escape(os.path.basename(path)),
                                   "|".join(str(n) for n in lines))
        self.assertRegex(out, pat, "no message naming %s:%s; output:\n%s" % (path, lines, out))
        for w in words:
            self.assertIn(w.lower(), out.lower(), out)
        return out

    def test_good_config(self):
        code, out, _ = self.check(self.cfg.text())
        self.assertEqual(code, 0, out)
        self.assertIn("configuration OK", out)

    def test_repo_config(self):
        """config/gateway.conf as shipped (needs certs/dev from make pki)."""
        p = subprocess.run([harness.GATEWAYD, "-t", "-c",
                            os.path.join(harness.REPO, "config", "gateway.conf")],
                           capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("configuration OK", out)

    def test_unknown_key(self):
        text, n = self.insert_after("limits", "max_body", "max_bodyy = 10")
        self.assert_error_at(text, n)

    def test_unknown_key_in_gateway_section(self):
        text, n = self.insert_after("gateway", "workers", "wrokers = 2")
        self.assert_error_at(text, n)

    def test_unknown_section(self):
        lines = list(self.cfg.lines) + ["", "[bogus thing]", "a = b"]
        self.assert_error_at("\n".join(lines) + "\n", (len(lines) - 1, len(lines)))

    def test_missing_cert_file(self):
        text, n = self.replace("listener agency", "cert", "cert = %s/nope.crt" % self.dir)
        self.assert_error_at(text, (n, self.cfg.line_of("listener agency")))

    def test_missing_upstream_key_file(self):
        text, n = self.replace("upstream hrss", "key", "key = %s/nope.key" % self.dir)
        self.assert_error_at(text, (n, self.cfg.line_of("upstream hrss")))

    def test_missing_pin_cert_file(self):
        text, n = self.replace("agency tax", "pin_cert", "pin_cert = %s/nope.crt" % self.dir)
        self.assert_error_at(text, (n, self.cfg.line_of("agency tax")))

    def test_route_unknown_upstream(self):
        text, n = self.replace("route hrss-passthrough", "upstream", "upstream = nosuch")
        self.assert_error_at(text, (n, self.cfg.line_of("route hrss-passthrough")))

    def test_bad_pin_not_hex(self):
        text, n = self.replace("agency bank", "pin_cert", "pin = " + "zz" * 32)
        self.assert_error_at(text, n)

    def test_bad_pin_short(self):
        text, n = self.replace("agency bank", "pin_cert", "pin = " + "ab" * 31)
        self.assert_error_at(text, n)

    def test_good_pin_accepted(self):
        text, _ = self.replace("agency bank", "pin_cert",
                               "pin = " + harness.spki_sha256_hex(harness.cert("bank")))
        code, out, _ = self.check(text)
        self.assertEqual(code, 0, out)
        self.assertIn("configuration OK", out)

    def test_same_pin_two_agencies(self):
        text, n = self.replace("agency bank", "pin_cert", "pin_cert = " + harness.cert("tax"))
        self.assert_error_at(text, (n, self.cfg.line_of("agency bank"),
                                    self.cfg.line_of("agency tax", "pin_cert"),
                                    self.cfg.line_of("agency tax")))

    def test_world_readable_key_refused(self):
        loose = os.path.join(self.dir, "loose.key")
        shutil.copy(harness.key("gateway"), loose)
        os.chmod(loose, 0o644)
        text, n = self.replace("listener admin", "key", "key = " + loose)
        self.assert_error_at(text, (n, self.cfg.line_of("listener admin")))

    def test_unknown_role(self):
        text, n = self.replace("agency bank", "role", "role = banker")
        self.assert_error_at(text, n)

    def test_bad_limit_value(self):
        text, n = self.replace("limits", "max_body", "max_body = -1")
        self.assert_error_at(text, n)

    def test_bad_duration(self):
        text, n = self.replace("limits", "request_timeout", "request_timeout = 5 parsecs")
        self.assert_error_at(text, n)

    def test_bad_method(self):
        text, n = self.replace("route finance-passthrough", "methods", "methods = GET, FETCH")
        self.assert_error_at(text, n)

    def test_several_errors_reported(self):
        lines = list(self.cfg.lines)
        a = self.cfg.line_of("limits", "max_body")
        b = self.cfg.line_of("agency bank", "role")
        lines[a - 1] = "max_body = lots"
        lines[b - 1] = "role = banker"
        out = self.assert_error_at("\n".join(lines) + "\n", a)
        self.assertRegex(out, r"bad\.conf:%d\b" % b, "only the first error was reported:\n" + out)

    def test_missing_file(self):
        p = subprocess.run([harness.GATEWAYD, "-t", "-c", os.path.join(self.dir, "absent.conf")],
                           capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("absent.conf", (p.stdout + p.stderr).decode("utf-8", "replace"))

    def test_relative_paths_from_config_folder(self):
        """Relative paths are taken from the config file's folder, not the cwd."""
        sub = os.path.join(self.dir, "etc")
        os.mkdir(sub)
        link = os.path.join(self.dir, "pki")
        os.symlink(harness.CERTS, link)
        text = self.cfg.text().replace(harness.CERTS + "/", "../pki/")
        path = os.path.join(sub, "rel.conf")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([harness.GATEWAYD, "-t", "-c", path], capture_output=True,
                           timeout=20, cwd="/", stdin=subprocess.DEVNULL)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("configuration OK", out)


if __name__ == "__main__":
    unittest.main()
