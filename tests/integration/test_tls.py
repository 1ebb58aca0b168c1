"""TLS identity: refused handshakes, unknown pins, the admin listener, and session
resumption that must not skip authorization."""

import ssl
import unittest

import harness
from harness import GatewayTestCase, header_values, record_headers, token

TLS12 = ssl.TLSVersion.TLSv1_2
TLS13 = ssl.TLSVersion.TLSv1_3


class HandshakeTest(GatewayTestCase):
    scope = "class"

    def expect_refused(self, who, max_version=None, admin=False):
        port = self.env.admin_port if admin else self.env.agency_port
        kind, detail = harness.handshake_outcome(port, who, max_version=max_version)
        self.assertEqual(kind, "refused",
                         "certificate %r was not refused at the TLS layer; the gateway answered %r"
                         % (who, detail))
        return detail

    def test_valid_cert_handshake_tls13(self):
        with self.env.raw("finance") as c:
            self.assertEqual(c.sock.version(), "TLSv1.3")
            c.send(harness.request_bytes("GET", "/pass/finance/x/" + token(), [("Host", "h")]))
            self.assertEqual(c.read_response().status, 200)

    def test_valid_cert_handshake_tls12(self):
        with self.env.raw("finance", max_version=TLS12) as c:
            self.assertEqual(c.sock.version(), "TLSv1.2")
            cipher = c.sock.cipher()[0]
            self.assertTrue("ECDHE" in cipher and ("GCM" in cipher or "CHACHA20" in cipher),
                            "TLS 1.2 cipher %s is not ECDHE with AEAD" % cipher)
            c.send(harness.request_bytes("GET", "/pass/finance/x/" + token(), [("Host", "h")]))
            self.assertEqual(c.read_response().status, 200)

    def test_tls12_non_aead_cipher_refused(self):
        ctx = harness.client_context("finance", max_version=TLS12)
        ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:AES128-SHA")
        with self.assertRaises((ssl.SSLError, ConnectionResetError)):
            harness.RawTLS(self.env.agency_port, context=ctx)

    def test_unpinned_cert_gets_403_unknown_agency(self):
        t = token()
        with self.env.raw("unpinned") as c:      # the handshake itself succeeds
            c.send(harness.request_bytes("GET", "/pass/finance/x/" + t, [("Host", "h")]))
            r = c.read_response()
        self.assertJsonError(r, 403, "unknown-agency")
        self.assertEqual(self.env.stubs["finance"].records_with(t), [])

    def test_unpinned_cert_gets_403_tls12(self):
        r = self.env.https("GET", "/pass/finance/x/" + token(), who="unpinned", max_version=TLS12)
        self.assertJsonError(r, 403, "unknown-agency")

    def test_unpinned_cert_on_admin_listener_403(self):
        r = self.env.https("GET", "/healthz", who="unpinned", admin=True)
        self.assertEqual(r.status, 403, r)


def _add_refusal_tests():
    for who in (None, "rogue", "expired", "revoked"):
        for vname, ver in (("tls13", None), ("tls12", TLS12)):
            label = who or "no_client_cert"

            def t(self, who=who, ver=ver):
                self.expect_refused(who, max_version=ver)
            t.__name__ = "test_refused_%s_%s" % (label, vname)
            t.__doc__ = "%s (%s): TLS refusal, no HTTP response" % (label, vname)
            setattr(HandshakeTest, t.__name__, t)

        def t_admin(self, who=who):
            self.expect_refused(who, admin=True)
        t_admin.__name__ = "test_refused_%s_admin_listener" % (who or "no_client_cert")
        setattr(HandshakeTest, t_admin.__name__, t_admin)


_add_refusal_tests()


class AdminListenerTest(GatewayTestCase):
    scope = "class"
    env_kw = {"down_upstream": False}    # every upstream up: /readyz can be 200

    def test_healthz_admin_200(self):
        r = self.env.https("GET", "/healthz", who="admin", admin=True)
        self.assertEqual(r.status, 200, r)

    def test_readyz_admin_200(self):
        r = self.env.https("GET", "/readyz", who="admin", admin=True)
        self.assertEqual(r.status, 200, r)

    def test_non_admin_agency_on_admin_listener_403(self):
        for who in ("finance", "hrss", "bank", "tax"):
            with self.subTest(who=who):
                r = self.env.https("GET", "/healthz", who=who, admin=True)
                self.assertJsonError(r, 403)

    def test_admin_listener_does_not_relay(self):
        t = token()
        r = self.env.https("GET", "/pass/finance/x/" + t, who="admin", admin=True)
        self.assertIn(r.status, (403, 404), r)
        self.assertEqual(self.env.stubs["finance"].records_with(t), [])


class ReadinessTest(GatewayTestCase):
    """/readyz follows the upstreams: 503 while one is down, 200 again once it is back."""
    scope = "test"
    env_kw = {"down_upstream": False}

    def readyz(self):
        return self.env.https("GET", "/readyz", who="admin", admin=True).status

    def test_readyz_follows_upstream(self):
        self.assertEqual(self.readyz(), 200)
        stub = self.env.stubs["hrss"]
        port = stub.port
        stub.stop()
        harness.wait_until(lambda: self.readyz() == 503, 5, interval=0.2,
                           what="/readyz to answer 503 with upstream hrss down")
        healthz = self.env.https("GET", "/healthz", who="admin", admin=True)
        self.assertEqual(healthz.status, 200, "liveness must not depend on upstreams")
        new = harness.Stub("hrss", self.env.dir, port=port)
        self.env.stubs["hrss"] = new
        self._marks[new.proc.stderr_path] = 0
        new.wait_ready()
        harness.wait_until(lambda: self.readyz() == 200, 5, interval=0.2,
                           what="/readyz to answer 200 again")


class ReadinessDownUpstreamTest(GatewayTestCase):
    scope = "test"
    env_kw = {"down_upstream": True}

    def test_readyz_503_with_unreachable_upstream(self):
        r = self.env.https("GET", "/readyz", who="admin", admin=True)
        self.assertEqual(r.status, 503, r)


class ResumptionTest(GatewayTestCase):
    """A resumed session is authorized like a new one (DESIGN §4)."""

    scope = "class"

    def two_connections(self, who, max_version, path1, path2, port=None, port2=None):
        """First connection (full handshake) then a second one offering the first's
        session. Returns (resp1, resp2, reused)."""
        port = port or self.env.agency_port
        port2 = port2 or port
        ctx = harness.client_context(who, max_version=max_version)
        c1 = harness.RawTLS(port, context=ctx)
        try:
            c1.send(harness.request_bytes("GET", path1, [("Host", "h")]))
            r1 = c1.read_response()
            session = c1.sock.session
        finally:
            c1.close()
        self.assertIsNotNone(session)
        c2 = harness.RawTLS(port2, context=ctx, session=session)
        try:
            reused = c2.sock.session_reused
            c2.send(harness.request_bytes("GET", path2, [("Host", "h")]))
            r2 = c2.read_response()
        finally:
            c2.close()
        return r1, r2, reused

    def note(self, reused, what):
        if not reused:
            # Not a failure: no resumption at all is also safe (DESIGN §4, "or tickets are off").
            print("\n  note: %s: the gateway did not resume the session" % what)

    def _unpinned(self, ver):
        r1, r2, reused = self.two_connections("unpinned", ver, "/pass/finance/a/" + token(),
                                              "/pass/finance/b/" + token())
        self.assertJsonError(r1, 403, "unknown-agency")
        self.assertJsonError(r2, 403, "unknown-agency")
        self.note(reused, "unpinned %s" % ver)
        return reused

    def test_resumed_unpinned_still_403_tls12(self):
        self._unpinned(TLS12)

    def test_resumed_unpinned_still_403_tls13(self):
        self._unpinned(TLS13)

    def _finance(self, ver):
        t = token()
        r1, r2, reused = self.two_connections("finance", ver, "/pass/finance/a/" + token(),
                                              "/pass/finance/b/" + t)
        self.assertEqual(r1.status, 200, r1)
        self.assertEqual(r2.status, 200, "resumed session lost its identity: %r" % r2)
        [rec] = self.env.stubs["finance"].wait_record(t)
        self.assertEqual(header_values(record_headers(rec), "X-Gateway-Agency"), ["finance"])
        self.note(reused, "finance %s" % ver)
        return reused

    def test_resumed_finance_still_authorized_tls12(self):
        self._finance(TLS12)

    def test_resumed_finance_still_authorized_tls13(self):
        self._finance(TLS13)

    def test_resumed_behind_intermediate_tls12_and_tls13(self):
        """The auditor's certificate comes from an intermediate the gateway does not
        trust directly (certs/gen.sh): a resumed session must still chain, so the
        session has to keep what the client sent in the full handshake."""
        for ver in (TLS12, TLS13):
            with self.subTest(version=str(ver)):
                r1, r2, reused = self.two_connections("auditor", ver, "/v1/alerts",
                                                      "/v1/alerts")
                self.assertEqual(r1.status, 200, r1)
                self.assertTrue(reused, "the session was not resumed: nothing tested")
                self.assertEqual(r2.status, 200, "resumed session behind an intermediate "
                                 "lost its identity: %r" % r2)

    def test_resumed_role_still_checked(self):
        for ver in (TLS12, TLS13):
            r1, r2, reused = self.two_connections("hrss", ver, "/pass/hrss/a/" + token(),
                                                  "/pass/finance/b/" + token())
            self.assertEqual(r1.status, 200, r1)
            self.assertJsonError(r2, 403)
            self.assertNotEqual(r2.json()["code"], "unknown-agency")
            self.note(reused, "hrss %s" % ver)

    def test_session_not_resumed_across_listeners(self):
        for ver in (TLS12, TLS13):
            with self.subTest(version=str(ver)):
                r1, r2, reused = self.two_connections(
                    "admin", ver, "/healthz", "/pass/finance/x/" + token(),
                    port=self.env.admin_port, port2=self.env.agency_port)
                self.assertEqual(r1.status, 200, r1)
                self.assertFalse(reused, "a session from the admin listener was resumed on the "
                                 "agency listener (shared session id context)")
                self.assertEqual(r2.status, 403, r2)
                r1, r2, reused = self.two_connections(
                    "finance", ver, "/pass/finance/x/" + token(), "/healthz",
                    port=self.env.agency_port, port2=self.env.admin_port)
                self.assertEqual(r1.status, 200, r1)
                self.assertFalse(reused, "a session from the agency listener was resumed on the "
                                 "admin listener (shared session id context)")
                self.assertEqual(r2.status, 403, r2)


if __name__ == "__main__":
    unittest.main()
