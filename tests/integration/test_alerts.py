"""Early warnings that come with time: a certificate the configuration names that ends
within 30 days is an alert (an audit entry and a row of GET /v1/alerts), raised once.

Run: python3 -m unittest tests.integration.test_alerts -v   (after make)
"""

import json
import os
import subprocess
import unittest

import harness as h


class CertificateExpiry(unittest.TestCase):

    def test_certificate_within_30_days_is_an_alert(self):
        h.require_environment()
        env = h.Env(stubs=("finance",), down_upstream=False)
        soon = os.path.join(env.dir, "soon-ca.crt")
        key = os.path.join(env.dir, "soon-ca.key")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", soon,
                            "-days", "10", "-subj", "/CN=soon-to-expire CA"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        # An upstream trusting that CA: its certificate is watched like every other.
        env.cfg_kw["extra_upstreams"] = [("soon", "https://127.0.0.1:1", "1s")]
        env.start()
        self.addCleanup(env.stop)
        env.config.lines[env.config.line_of("upstream soon", "ca") - 1] = "ca = " + soon
        env.config.write(env.config_path)
        env.restart_gateway()

        def alerts():
            a = env.https("GET", "/v1/alerts", who="finance").json()["alerts"]
            return [x for x in a if x["rule"] == "certificate-expiry"] or None
        got = h.wait_until(alerts, 10, what="a certificate-expiry alert")
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0]["subject"], soon)
        self.assertLess(got[0]["figures"]["seconds_left"], 11 * 86400)
        e = env.https("GET", "/audit/entries/%d" % got[0]["audit_index"], who="admin")
        self.assertEqual(json.loads(e.body)["rule"], "certificate-expiry")
        # Raised once: a restart finds it already raised.
        env.restart_gateway()
        self.assertEqual(len(h.wait_until(alerts, 10, what="alerts")), 1)
        self.assertEqual(env.https("GET", "/v1/alerts", who="tax").status, 403)


if __name__ == "__main__":
    unittest.main()
