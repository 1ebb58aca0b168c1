"""Limits: header size and count, body size, slow senders, idle keep-alive, and the
per-agency connection cap. Small limits are configured so the tests are quick."""

import os
import signal
import socket
import ssl
import time
import unittest

import harness
from harness import GatewayTestCase, request_bytes, token

LIMITS = {
    "max_header_bytes": "4096",
    "max_headers": "20",
    "max_body": "65536",
    "request_timeout": "2s",
    "idle_timeout": "3s",
    "max_connections": "64",
    "max_connections_per_agency": "4",
}
REQUEST_TIMEOUT = 2.0
IDLE_TIMEOUT = 3.0


def get(path, extra=()):
    return request_bytes("GET", path, [("Host", "localhost")] + list(extra))


class LimitsTest(GatewayTestCase):
    scope = "class"
    env_kw = {"limits": LIMITS}

    def one(self, data, who="finance"):
        with self.env.raw(who) as c:
            c.send(data)
            r = c.read_response()
            if r.status in (413, 414, 431):
                # Unread bytes remain: the connection cannot go on.
                self.assertTrue(c.closed_by_peer(), "connection left open after %d" % r.status)
        return r, True

    # -- headers -----------------------------------------------------------------------

    def test_headers_under_limits_pass(self):
        hdrs = [("X-H%02d" % i, "v" * 100) for i in range(15)]    # 16 headers, ~1.8 KB
        r, _ = self.one(get("/pass/finance/x/" + token(), hdrs))
        self.assertEqual(r.status, 200, r)

    def test_too_many_header_bytes_431(self):
        t = token()
        r, closed = self.one(get("/pass/finance/x/" + t, [("X-Big", "a" * 5000)]))
        self.assertJsonError(r, 431)
        self.assertEqual(self.env.stubs["finance"].records_with(t), [])

    def test_header_bytes_spread_over_headers_431(self):
        t = token()
        hdrs = [("X-H%02d" % i, "b" * 400) for i in range(12)]     # 12 headers, ~5 KB
        r, _ = self.one(get("/pass/finance/x/" + t, hdrs))
        self.assertJsonError(r, 431)

    def test_long_request_line_refused(self):
        t = token()
        r, _ = self.one(get("/pass/finance/x/" + t + "?" + "q" * 5000))
        self.assertIn(r.status, (414, 431), r)
        self.assertEqual(self.env.stubs["finance"].records_with(t), [])

    def test_too_many_headers_431(self):
        t = token()
        hdrs = [("X-H%02d" % i, "v") for i in range(25)]
        r, _ = self.one(get("/pass/finance/x/" + t, hdrs))
        self.assertJsonError(r, 431)
        self.assertEqual(self.env.stubs["finance"].records_with(t), [])

    # -- bodies ------------------------------------------------------------------------

    def test_body_at_limit_passes(self):
        body = b"z" * 65536
        r = self.env.https("POST", "/pass/finance/x/" + token(), body=body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["body_bytes"], 65536)

    def test_body_content_length_too_large_413(self):
        t = token()
        # Only the head: the gateway must refuse from Content-Length alone.
        with self.env.raw("finance") as c:
            c.send(request_bytes("POST", "/pass/finance/x/" + t,
                                 [("Host", "localhost"), ("Content-Length", "70000")]))
            r = c.read_response()
            self.assertJsonError(r, 413)
            self.assertTrue(c.closed_by_peer(), "connection left open after 413")
        self.assertEqual(self.env.stubs["finance"].records_with(t), [])

    def test_body_chunked_too_large_413(self):
        t = token()
        with self.env.raw("finance") as c:
            c.send(request_bytes("POST", "/pass/finance/x/" + t,
                                 [("Host", "localhost"), ("Transfer-Encoding", "chunked")]))
            chunk = b"1000\r\n" + b"c" * 0x1000 + b"\r\n"
            c.send_until_answer([chunk] * 20 + [b"0\r\n\r\n"])   # 81920 bytes > 65536
            r = c.read_response()
        self.assertJsonError(r, 413)

    # -- slow clients ----------------------------------------------------------------

    def test_slow_headers_408(self):
        with self.env.raw("finance") as c:
            c.settimeout(REQUEST_TIMEOUT + 4)
            c.send(b"GET /pass/finance/x/" + token().encode() + b" HTTP/1.1\r\nHost: loc")
            t0 = time.monotonic()
            r = c.read_response()
            elapsed = time.monotonic() - t0
            self.assertEqual(r.status, 408, r)
            self.assertTrue(REQUEST_TIMEOUT - 0.5 <= elapsed <= REQUEST_TIMEOUT + 2,
                            "408 after %.2fs; request_timeout is %.1fs" % (elapsed, REQUEST_TIMEOUT))
            self.assertTrue(c.closed_by_peer(), "connection not closed after 408")

    def test_slow_headers_trickle_408(self):
        """A sender trickling header bytes does not reset the request deadline."""
        with self.env.raw("finance") as c:
            c.settimeout(0.25)
            c.send(b"GET /pass/finance/x/" + token().encode() + b" HTTP/1.1\r\n")
            t0 = time.monotonic()
            got = b""
            while time.monotonic() - t0 < REQUEST_TIMEOUT + 3:
                try:
                    c.send(b"X-A: b\r\n"[:4])
                    c.send(b"X-A: b\r\n"[4:])
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    break
                try:
                    data = c.sock.recv(65536)
                    if not data:
                        break
                    got += data
                    break
                except socket.timeout:
                    continue
                except (ConnectionResetError, ssl.SSLError):
                    break
            elapsed = time.monotonic() - t0
        self.assertLess(elapsed, REQUEST_TIMEOUT + 2.5,
                        "a trickling sender kept the connection %.1fs" % elapsed)
        if got:
            self.assertTrue(got.startswith(b"HTTP/1.1 408") or got.startswith(b"HTTP/1.1 431"),
                            got[:100])

    def test_slow_body_408(self):
        with self.env.raw("finance") as c:
            c.settimeout(REQUEST_TIMEOUT + 4)
            c.send(request_bytes("POST", "/pass/finance/x/" + token(),
                                 [("Host", "localhost"), ("Content-Length", "100")], b"0123456789"))
            t0 = time.monotonic()
            r = c.read_response()
            elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 408, r)
        self.assertLess(elapsed, REQUEST_TIMEOUT + 2, "408 after %.2fs" % elapsed)

    def test_idle_keepalive_closed(self):
        with self.env.raw("finance") as c:
            c.send(get("/pass/finance/x/" + token()))
            self.assertEqual(c.read_response().status, 200)
            t0 = time.monotonic()
            c.settimeout(IDLE_TIMEOUT + 4)
            try:
                data = c.read_to_eof()
            except socket.timeout:
                self.fail("idle keep-alive connection still open after %.1fs" % (IDLE_TIMEOUT + 4))
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            elapsed = time.monotonic() - t0
        self.assertTrue(IDLE_TIMEOUT - 0.5 <= elapsed <= IDLE_TIMEOUT + 2,
                        "idle connection closed after %.2fs; idle_timeout is %.1fs"
                        % (elapsed, IDLE_TIMEOUT))
        self.assertTrue(data == b"" or data.startswith(b"HTTP/1.1 408"),
                        "unexpected bytes on idle close: %r" % data[:200])

    def test_keepalive_below_idle_timeout_kept(self):
        """A connection used again before idle_timeout stays open: requests 1.5s apart."""
        with self.env.raw("finance") as c:
            for i in range(2):
                c.send(get("/pass/finance/x/" + token()))
                self.assertEqual(c.read_response().status, 200)
                if i == 0:
                    time.sleep(IDLE_TIMEOUT / 2)   # deliberately idle, below idle_timeout

    def test_silent_tcp_connection_closed(self):
        """A client that connects and never starts TLS is not kept forever."""
        sock = socket.create_connection((harness.LOCAL, self.env.agency_port), timeout=REQUEST_TIMEOUT + 4)
        try:
            t0 = time.monotonic()
            try:
                data = sock.recv(100)
            except socket.timeout:
                self.fail("a silent TCP connection was still open after %.0fs"
                          % (REQUEST_TIMEOUT + 4))
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"")
            self.assertLess(time.monotonic() - t0, REQUEST_TIMEOUT + 3)
        finally:
            sock.close()

    def test_partial_client_hello_closed(self):
        sock = socket.create_connection((harness.LOCAL, self.env.agency_port), timeout=REQUEST_TIMEOUT + 4)
        try:
            sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")   # ClientHello, cut short
            t0 = time.monotonic()
            try:
                while sock.recv(100):
                    pass
            except socket.timeout:
                self.fail("a half ClientHello kept the connection open %.0fs" % (REQUEST_TIMEOUT + 4))
            except ConnectionResetError:
                pass
            self.assertLess(time.monotonic() - t0, REQUEST_TIMEOUT + 3)
        finally:
            sock.close()

    # -- connection caps -------------------------------------------------------------

    def test_per_agency_cap_503(self):
        conns = []
        try:
            for _ in range(4):
                c = self.env.raw("finance")
                conns.append(c)
                c.send(get("/pass/finance/cap/" + token()))
                self.assertEqual(c.read_response().status, 200)
            # The fifth concurrent connection of the same agency.
            fifth = self.env.raw("finance")
            conns.append(fifth)
            t = token()
            # The gateway may answer as soon as it knows the agency (before the request):
            # listen first, so our request does not race its close.
            fifth.send_until_answer([get("/pass/finance/cap/" + t)], pause=0.5)
            r = fifth.read_response()
            self.assertJsonError(r, 503)
            self.assertIsNotNone(r.header("Retry-After"), "503 without Retry-After: %r" % r)
            self.assertEqual(self.env.stubs["finance"].records_with(t), [])
            # Another agency is still served.
            r = self.env.https("GET", "/pass/hrss/x/" + token(), who="hrss")
            self.assertEqual(r.status, 200, "another agency refused while finance is capped: %r" % r)
            # The four first connections still work.
            for c in conns[:4]:
                c.send(get("/pass/finance/cap/" + token()))
                self.assertEqual(c.read_response().status, 200)
            # Closing one frees a slot.
            conns[0].close()

            def served():
                try:
                    return self.env.https("GET", "/pass/finance/x/" + token()).status == 200
                except OSError:
                    return False
            harness.wait_until(served, 5, interval=0.1, what="a freed per-agency slot")
        finally:
            for c in conns:
                c.close()


class TotalConnectionCapTest(GatewayTestCase):
    """max_connections: past the total, 503 with Retry-After for anyone."""
    scope = "test"
    env_kw = {"limits": dict(LIMITS, max_connections="6", max_connections_per_agency="4")}

    def test_total_cap_503(self):
        conns = []
        try:
            for who in ("finance", "finance", "finance", "hrss", "hrss", "tax"):
                c = self.env.raw(who)
                conns.append(c)
                prefix = "/pass/hrss/" if who == "hrss" else "/pass/finance/"
                c.send(get(prefix + "x/" + token()))
                self.assertEqual(c.read_response().status, 200, who)
            extra = self.env.raw("bank")
            conns.append(extra)
            extra.send_until_answer([get("/pass/bank/x/" + token())], pause=0.5)
            r = extra.read_response()
            self.assertJsonError(r, 503)
            self.assertIsNotNone(r.header("Retry-After"), r)
            conns[0].close()

            def served():
                try:
                    return self.env.https("GET", "/pass/bank/x/" + token(), who="bank").status == 200
                except OSError:
                    return False
            harness.wait_until(served, 5, interval=0.1, what="a freed connection slot")
        finally:
            for c in conns:
                c.close()


class LimitsSingleWorkerCapTest(GatewayTestCase):
    """The same cap with one worker: separates a per-worker count from a missing one."""
    scope = "test"
    env_kw = {"limits": LIMITS, "workers": 1}

    test_per_agency_cap_503 = LimitsTest.test_per_agency_cap_503

    def test_worker_crash_releases_agency_slots(self):
        """A relay worker that dies holding connections must not leave them counted:
        after the parent restarts it, the agency is served again."""
        conns = []
        try:
            for _ in range(4):
                c = self.env.raw("finance")
                conns.append(c)
                c.send(get("/pass/finance/crash/" + token()))
                self.assertEqual(c.read_response().status, 200)
            workers = harness.children_of(self.env.gateway.pid)
            self.assertTrue(workers, "no relay worker found")
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
        finally:
            for c in conns:
                c.close()
        harness.wait_until(lambda: (lambda k: k and not set(k) & set(workers))(
            harness.children_of(self.env.gateway.pid)), 5, what="the parent to restart its worker")
        statuses = []

        def served():
            try:
                r = self.env.https("GET", "/pass/finance/x/" + token())
            except OSError as e:
                statuses.append(repr(e))
                return False
            statuses.append(r.status)
            return r.status == 200
        try:
            harness.wait_until(served, 5, interval=0.2, what="finance to be served again")
        except AssertionError:
            self.fail("agency finance still refused after its connections' worker died "
                      "(per-agency count leaked): statuses %r" % statuses[-5:])


if __name__ == "__main__":
    unittest.main()
