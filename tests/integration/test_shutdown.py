"""SIGTERM: stop accepting, drain in-flight requests within shutdown_timeout, exit 0."""

import os
import signal
import socket
import ssl
import threading
import time
import unittest

import harness
from harness import GatewayTestCase, token

SHUTDOWN_TIMEOUT = 4.0


def new_connection_refused(port):
    """True if a new client gets no service: TCP refused, or TLS never completes."""
    try:
        c = harness.RawTLS(port, "finance", timeout=2.0)
    except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError, ssl.SSLError,
            socket.timeout, OSError):
        return True
    try:
        c.send(harness.request_bytes("GET", "/pass/finance/x/" + token(), [("Host", "h")]))
        r = c.read_response()
        return False if r.status == 200 else True
    except (harness.ConnectionClosed, ConnectionResetError, BrokenPipeError, ssl.SSLError,
            socket.timeout, OSError):
        return True
    finally:
        c.close()


def group_gone(pgid):
    try:
        os.killpg(pgid, 0)
        return False
    except ProcessLookupError:
        return True


class ShutdownTest(GatewayTestCase):
    scope = "test"
    env_kw = {"shutdown_timeout": "4s"}
    gateway_may_exit = True

    def in_flight(self, delay_ms, path_token):
        out = {}

        def run():
            try:
                out["resp"] = self.env.https("GET", "/pass/finance/drain/" + path_token,
                                             headers={"X-Stub-Mode": "delay=%d" % delay_ms},
                                             timeout=15)
            except Exception as e:      # reported by the test
                out["error"] = e
        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th, out

    def wait_upstream_received(self, t):
        """Polls until the request is at the stub (it records on arrival or on answer;
        fall back to seeing the upstream TCP connection established)."""
        stub = self.env.stubs["finance"]

        def arrived():
            return stub.records_with(t) or _established_to(stub.port)
        harness.wait_until(arrived, 5, what="the in-flight request to reach the stub")

    def test_sigterm_drains_in_flight_request(self):
        gw = self.env.gateway
        t = token()
        th, out = self.in_flight(2000, t)
        self.wait_upstream_received(t)
        t0 = time.monotonic()
        gw.signal(signal.SIGTERM)
        # New connections are refused while the old request is still in flight.
        harness.wait_until(lambda: new_connection_refused(self.env.agency_port), 3,
                           interval=0.1, what="new connections to be refused after SIGTERM")
        self.assertTrue(th.is_alive() or "resp" in out)
        th.join(15)
        self.assertNotIn("error", out, "in-flight request failed: %r" % out.get("error"))
        r = out["resp"]
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["path"], "/pass/finance/drain/" + t)
        code = gw.wait(SHUTDOWN_TIMEOUT + 2)
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(code, "gatewayd still running %.1fs after SIGTERM" % elapsed)
        self.assertEqual(code, 0, "gatewayd exit code after SIGTERM; stderr:\n%s"
                         % gw.stderr_tail(30))
        harness.wait_until(lambda: group_gone(gw.pid), 3,
                           what="every gatewayd process to exit")
        self.assertFalse(harness.port_open(self.env.admin_port), "admin port still open")

    def test_sigterm_idle_connection_does_not_delay_exit(self):
        gw = self.env.gateway
        c = self.env.raw("finance")
        try:
            c.send(harness.request_bytes("GET", "/pass/finance/x/" + token(), [("Host", "h")]))
            self.assertEqual(c.read_response().status, 200)
            t0 = time.monotonic()
            gw.signal(signal.SIGTERM)
            code = gw.wait(SHUTDOWN_TIMEOUT + 2)
            elapsed = time.monotonic() - t0
            self.assertEqual(code, 0, "exit code %r" % code)
            self.assertLess(elapsed, SHUTDOWN_TIMEOUT,
                            "an idle keep-alive connection held the shutdown for %.1fs" % elapsed)
            self.assertTrue(c.closed_by_peer(2), "idle connection not closed on shutdown")
        finally:
            c.close()



class ShutdownDeadlineTest(ShutdownTest):
    env_kw = {"shutdown_timeout": "1500ms"}

    # Only the deadline test runs here.
    test_sigterm_drains_in_flight_request = None
    test_sigterm_idle_connection_does_not_delay_exit = None

    def test_sigterm_deadline(self):
        """A request longer than shutdown_timeout does not keep the gateway alive."""
        limit = 1.5
        gw = self.env.gateway
        t = token()
        th, out = self.in_flight(6000, t)
        self.wait_upstream_received(t)
        t0 = time.monotonic()
        gw.signal(signal.SIGTERM)
        code = gw.wait(limit + 3)
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(code, "gatewayd ignored shutdown_timeout (still running after %.1fs)"
                             % elapsed)
        self.assertLess(elapsed, limit + 1.5, "exit %.1fs after SIGTERM; shutdown_timeout %.1fs"
                        % (elapsed, limit))
        harness.wait_until(lambda: group_gone(gw.pid), 3, what="every gatewayd process to exit")
        th.join(10)
        self.assertNotIn("resp", out, "a 6s request completed in a %.1fs drain" % limit)


def _established_to(port):
    """An ESTABLISHED TCP connection to 127.0.0.1:port exists (from /proc/net/tcp)."""
    hexport = "%04X" % port
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                local, state = parts[1], parts[3]
                if local.endswith(":" + hexport) and state == "01":
                    return True
    except OSError:
        return False
    return False


if __name__ == "__main__":
    unittest.main()
