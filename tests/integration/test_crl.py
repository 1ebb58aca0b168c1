"""Revocation lists (issue 11): a listener without a CRL is a warning at start-up and in
`gatewayd -t`; every CRL's nextUpdate is a metric and, within 3 days, an alert; upstream
server certificates are checked against the upstream's CRL (a revoked one is a 502).

Run: cd tests/integration && python3 -m unittest -v test_crl   (after make)
"""

import os
import re
import subprocess
import unittest

import harness as h

# The CAs of the development PKI (certs/gen.sh); a CRL of each, for CRL_CHECK_ALL.
CAS = ("issuing-ca", "root-ca", "agency-ca")


def short_crls(folder, hours):
    """A CRL file like crl.pem (nothing revoked) whose CRLs lapse in `hours`."""
    out = os.path.join(folder, "soon-crl.pem")
    with open(out, "wb") as f:
        for ca in CAS:
            db = os.path.join(folder, "crl-" + ca)
            os.makedirs(db, exist_ok=True)
            open(os.path.join(db, "index.txt"), "w").close()
            with open(os.path.join(db, "crlnumber"), "w") as n:
                n.write("1000\n")
            cnf = os.path.join(db, "ca.cnf")
            with open(cnf, "w") as c:
                c.write("[ca]\ndefault_ca = x\n[x]\ndatabase = %s/index.txt\n"
                        "crlnumber = %s/crlnumber\ndefault_md = sha256\n" % (db, db))
            r = subprocess.run(["openssl", "ca", "-batch", "-config", cnf, "-gencrl",
                                "-cert", h.cert(ca), "-keyfile", h.key(ca),
                                "-crlhours", str(hours)], capture_output=True, timeout=30)
            if r.returncode != 0:
                raise AssertionError("openssl ca -gencrl: %s" % r.stderr.decode())
            f.write(r.stdout)
    return out


class ListenerWithoutCrl(h.GatewayTestCase):
    scope = "test"

    def without_crl(self):
        c = self.env.config
        c.lines[c.line_of("listener agency", "crl") - 1] = "# no crl"
        c.write(self.env.config_path)

    def test_warned_by_config_test_and_at_start(self):
        self.without_crl()
        r = subprocess.run([h.GATEWAYD, "-t", "-c", self.env.config_path],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)
        warn = "%s:%d: warning: listener agency has no crl" % (
            self.env.config_path, self.env.config.line_of("listener agency"))
        self.assertIn(warn, r.stderr)
        self.assertNotIn("listener admin has no crl", r.stderr)
        self.env.restart_gateway()
        h.wait_until(lambda: warn in self.env.gateway.stderr_text(), h.IO_TIMEOUT,
                     what="the warning at start-up")

    def test_no_warning_with_crls(self):
        r = subprocess.run([h.GATEWAYD, "-t", "-c", self.env.config_path],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("warning", r.stderr)


class CrlNextUpdate(h.GatewayTestCase):
    scope = "test"

    def test_metric_and_alert_before_it_lapses(self):
        soon = short_crls(self.env.dir, 24)
        c = self.env.config
        c.lines[c.line_of("listener agency", "crl") - 1] = "crl = " + soon
        c.write(self.env.config_path)
        self.env.restart_gateway()
        m = self.env.https("GET", "/metrics", who="admin", admin=True)
        self.assertEqual(m.status, 200, m)
        got = {f: float(v) for f, v in re.findall(
            r'^gateway_crl_next_update_seconds\{file="([^"]+)"\} (-?[0-9.]+)$',
            m.body.decode(), re.M)}
        self.assertIn(soon, got, m.body.decode())
        self.assertTrue(0 < got[soon] <= 24 * 3600, got)
        self.assertGreater(got[os.path.join(h.CERTS, "crl.pem")], 30 * 86400, got)

        def alerts():
            a = self.env.https("GET", "/v1/alerts", who="auditor").json()["alerts"]
            return [x for x in a if x["rule"] == "crl-next-update"] or None
        got = h.wait_until(alerts, 10, what="a crl-next-update alert")
        self.assertEqual([x["subject"] for x in got], [soon])
        self.assertLessEqual(got[0]["figures"]["seconds_left"], 24 * 3600)
        # Still served: the CRL has not lapsed.
        self.assertEqual(self.env.https("GET", "/v1/alerts", who="finance").status, 200)


class RevokedUpstream(h.GatewayTestCase):
    scope = "class"
    env_kw = {"extra_stubs": {"revoked": {"cert_name": "stub-revoked"}},
              "extra_routes": [("revoked", "/pass/revoked/", "GET", "finance", "revoked")]}

    def test_revoked_server_certificate_is_502(self):
        r = self.env.https("GET", "/pass/revoked/x/" + h.token(), who="finance")
        self.assertJsonError(r, 502, "upstream-unavailable")
        self.assertEqual(self.env.stubs["revoked"].records(), [])
        # The same path to a good upstream goes through.
        self.assertEqual(self.env.https("GET", "/pass/finance/x/" + h.token(),
                                        who="finance").status, 200)


if __name__ == "__main__":
    unittest.main()
