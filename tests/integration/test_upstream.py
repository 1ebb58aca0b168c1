"""Upstream failures: down (502), slow (504), reset (502), and that the pool is not
poisoned afterwards. The "slow" upstream is the finance stub with timeout = 1s."""

import time
import unittest

import harness
from harness import GatewayTestCase, token

UPSTREAM_TIMEOUT = 1.0


class UpstreamFailureTest(GatewayTestCase):
    scope = "class"
    env_kw = {"slow_upstream_timeout": "1s"}

    def stub(self):
        return self.env.stubs["finance"]

    def assert_healthy(self, prefix="/pass/finance/"):
        for _ in range(3):
            t = token()
            r = self.env.https("GET", prefix + "ok/" + t)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["path"], prefix + "ok/" + t,
                             "answer belongs to another request: the pool handed out a stale "
                             "upstream connection")

    def test_upstream_down_502(self):
        t0 = time.monotonic()
        r = self.env.https("GET", "/pass/down/x/" + token())
        self.assertJsonError(r, 502)
        self.assertLess(time.monotonic() - t0, 3.0)
        r = self.env.https("POST", "/pass/down/x/" + token(), body=b"payload")
        self.assertJsonError(r, 502)

    def test_upstream_slow_504(self):
        t = token()
        t0 = time.monotonic()
        r = self.env.https("GET", "/pass/slow/x/" + t, headers={"X-Stub-Mode": "delay=2500"})
        elapsed = time.monotonic() - t0
        self.assertJsonError(r, 504)
        self.assertTrue(UPSTREAM_TIMEOUT - 0.2 <= elapsed < UPSTREAM_TIMEOUT + 1.2,
                        "504 after %.2fs; upstream timeout is %.1fs" % (elapsed, UPSTREAM_TIMEOUT))
        # Right after, and after the late answer would have arrived: fresh answers only.
        self.assert_healthy("/pass/slow/")
        time.sleep(max(0.0, 2.7 - (time.monotonic() - t0)))   # past the stub's late answer
        self.assert_healthy("/pass/slow/")

    def test_upstream_hang_504(self):
        t0 = time.monotonic()
        r = self.env.https("POST", "/pass/slow/x/" + token(), body=b"{}",
                           headers={"X-Stub-Mode": "hang"})
        self.assertJsonError(r, 504)
        self.assertLess(time.monotonic() - t0, UPSTREAM_TIMEOUT + 1.2)
        self.assert_healthy("/pass/slow/")

    def test_upstream_within_timeout_200(self):
        r = self.env.https("GET", "/pass/slow/x/" + token(), headers={"X-Stub-Mode": "delay=300"})
        self.assertEqual(r.status, 200, r)

    def test_upstream_reset_502(self):
        t = token()
        r = self.env.https("GET", "/pass/finance/x/" + t, headers={"X-Stub-Mode": "reset"})
        self.assertJsonError(r, 502)
        self.stub().wait_record(t)
        self.assert_healthy()

    def test_upstream_reset_on_reused_connection(self):
        """A reset on a pooled connection gives 502 (POST is not retried) and nothing stale."""
        self.assert_healthy()
        r = self.env.https("POST", "/pass/finance/x/" + token(), body=b"x",
                           headers={"X-Stub-Mode": "reset"})
        self.assertJsonError(r, 502)
        self.assert_healthy()

    def test_upstream_error_status_relayed_not_502(self):
        r = self.env.https("GET", "/pass/finance/x/" + token(), headers={"X-Stub-Mode": "fail=503"})
        self.assertEqual(r.status, 503, r)

    def test_keepalive_client_survives_upstream_error(self):
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("GET", "/pass/down/x/" + token(), [("Host", "h")]))
            self.assertEqual(c.read_response().status, 502)
            t = token()
            c.send(harness.request_bytes("GET", "/pass/finance/x/" + t, [("Host", "h")]))
            try:
                r = c.read_response()
            except harness.ConnectionClosed:
                return    # closing after a 502 is acceptable
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["path"], "/pass/finance/x/" + t)


class UpstreamVerificationTest(GatewayTestCase):
    """The gateway verifies the upstream's certificate chain and host name (DESIGN §4)."""
    scope = "class"
    env_kw = {
        "extra_stubs": {
            "rogue": {"cert_name": "rogue"},                 # chain to another CA
            "wrongname": {"host": "127.0.0.2", "cert_name": "stub-finance"},  # names 127.0.0.1
        },
        "extra_routes": [
            ("rogue", "/pass/rogue/", "GET", "finance", "rogue"),
            ("wrongname", "/pass/wrongname/", "GET", "finance", "wrongname"),
        ],
    }

    def test_upstream_with_untrusted_certificate_502(self):
        t = token()
        r = self.env.https("GET", "/pass/rogue/x/" + t)
        self.assertJsonError(r, 502)
        self.assertEqual(self.env.stubs["rogue"].records_with(t), [],
                         "the gateway sent a request to an upstream it cannot authenticate")

    def test_upstream_with_wrong_host_name_502(self):
        t = token()
        r = self.env.https("GET", "/pass/wrongname/x/" + t)
        self.assertJsonError(r, 502)
        self.assertEqual(self.env.stubs["wrongname"].records_with(t), [],
                         "the gateway did not check the upstream's host name")

    def test_control_direct_connection_works(self):
        """The stub on 127.0.0.2 itself works (the 502 above is about its name)."""
        stub = self.env.stubs["wrongname"]
        ctx = harness.client_context("gateway-client", check_server=False)
        import http.client
        conn = http.client.HTTPSConnection("127.0.0.2", stub.port, context=ctx, timeout=5)
        try:
            conn.request("GET", "/x")
            self.assertEqual(conn.getresponse().status, 200)
        finally:
            conn.close()


class UpstreamStoppedTest(GatewayTestCase):
    """A stub that was up and then stops: pooled connections are dead; 502, then recovery."""
    scope = "test"

    def test_upstream_stops_then_returns(self):
        stub = self.env.stubs["hrss"]
        r = self.env.https("GET", "/pass/hrss/x/" + token(), who="hrss")
        self.assertEqual(r.status, 200, r)
        port = stub.port
        stub.stop()
        r = self.env.https("GET", "/pass/hrss/x/" + token(), who="hrss")
        self.assertJsonError(r, 502)
        # Start it again on the same port.
        new = harness.Stub("hrss", self.env.dir, port=port)
        self.env.stubs["hrss"] = new
        new.wait_ready()
        self._marks[new.proc.stderr_path] = 0
        t = token()
        r = self.env.https("GET", "/pass/hrss/x/" + t, who="hrss")
        self.assertEqual(r.status, 200, r)
        new.wait_record(t)


if __name__ == "__main__":
    unittest.main()
