"""Hostile-peer suite, upstream side (issue 11): a scripted upstream that answers with
exact bytes (1xx/204/304 with lengths, HEAD + 103, early answers, endless and trickling
bodies, resets mid-body, keep-alive connections it drops), and what the client and the
audit log must see. Each test names the issue item it guards."""

import re
import signal
import socket
import ssl
import struct
import threading
import time
import unittest

import harness
from harness import GatewayTestCase, token

UPSTREAM_TIMEOUT = "6s"
# Shorter than the upstream timeout: the client's own deadline fires first.
LIMITS = {"request_timeout": "2s"}


def fresh(path):
    b = ("fresh:" + path).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
            % len(b)) + b


def forged(status_line):
    """status_line, Content-Length: 60, then 60 bytes that are a complete response of
    their own: what a desynchronised relay hands to the client's next request."""
    inner = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Forged: 1234\r\n\r\nFORGED"
    assert len(inner) == 60, len(inner)
    return status_line + b"\r\nContent-Length: 60\r\n\r\n" + inner


class Conn:
    """One upstream-side connection: buffered reads of the relay's requests."""

    def __init__(self, sock, index):
        self.s = sock
        self.index = index
        self.buf = b""
        self.served = 0
        self.last_path = ""

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def read_until(self, marker):
        while marker not in self.buf:
            self.fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self):
        head = self.read_until(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        method, path = lines[0].split(b" ")[:2]
        headers = []
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            headers.append((k.strip().decode("latin-1").lower(), v.strip().decode("latin-1")))
        return method.decode(), path.decode("latin-1"), headers

    def read_body(self, headers):
        h = dict(headers)
        if h.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    while self.read_until(b"\r\n") != b"\r\n":
                        pass
                    return body
                body += self.read_exact(size)
                self.read_exact(2)
        return self.read_exact(int(h.get("content-length", "0")))

    def drain(self):
        """Reads until the relay closes its side."""
        try:
            while True:
                self.fill()
                self.buf = b""
        except (EOFError, OSError, ssl.SSLError):
            pass

    def send(self, data):
        self.s.sendall(data)


class HostileUpstream(harness.ScriptedUpstream):
    """A TLS upstream (stub-finance certificate). The last path segment's name (before
    "-<token>") picks a do_<name> method that may write anything, read or not, stall or
    reset; it returns True to serve the connection's next request. stop() refuses new
    connections; those open stay served."""

    def __init__(self):
        # Set before the accept loop starts (in ScriptedUpstream.__init__).
        self.cond = threading.Condition()
        self.events = []              # (what, conn_index, method, path)
        self.drop_reused = False      # a keep-alive connection's next request is dropped
        self.gates = {}               # path -> Event a script waits on
        self.heads = {}               # path -> the request headers it got
        super().__init__(None)

    def record(self, what, conn, method="", path=""):
        with self.cond:
            self.events.append((what, conn.index, method, path))
            self.cond.notify_all()

    def seen(self, what, path=None):
        with self.cond:
            return [e for e in self.events if e[0] == what and (path is None or e[3] == path)]

    def wait_event(self, what, path=None, timeout=20.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [e for e in self.events if e[0] == what and (path is None or e[3] == path)]
                if got:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("upstream: no %r for %r within %.0fs; events %r"
                                         % (what, path, timeout, self.events[-10:]))
                self.cond.wait(left)

    def gate(self, path):
        with self.cond:
            return self.gates.setdefault(path, threading.Event())

    def _serve(self, raw, index):
        raw.settimeout(30)
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        c = Conn(s, index)
        try:
            while True:
                try:
                    method, path, headers = c.read_head()
                except EOFError:
                    # The relay closed a kept-alive connection.
                    self.record("closed-idle", c, "", c.last_path)
                    return
                if c.served and self.drop_reused:
                    # Its keep-alive timer fired as the request came: no answer.
                    self.record("dropped", c, method, path)
                    return
                c.served += 1
                c.last_path = path
                with self.cond:
                    self.heads[path] = headers
                self.record("request", c, method, path)
                name = path.rstrip("/").rsplit("/", 1)[-1].rsplit("-", 1)[0].replace("-", "_")
                handler = getattr(self, "do_" + name, self.do_default)
                if not handler(c, method, path, headers):
                    return
        except (OSError, EOFError, ValueError, ssl.SSLError):
            return
        finally:
            try:
                s.close()
            except OSError:
                pass

    # -- scripts ------------------------------------------------------------------

    def do_default(self, c, method, path, headers):
        c.read_body(headers)
        c.send(fresh(path))
        return True

    def do_s304_forged(self, c, method, path, headers):
        c.send(forged(b"HTTP/1.1 304 Not Modified"))
        return True

    def do_s204_forged(self, c, method, path, headers):
        c.send(forged(b"HTTP/1.1 204 No Content"))
        return True

    def do_s304_idle(self, c, method, path, headers):
        # Compliant: a 304 may carry the length the 200 would have had.
        c.send(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\n\r\n')
        return True

    def do_s100_length(self, c, method, path, headers):
        c.send(b"HTTP/1.1 100 Continue\r\nContent-Length: 60\r\n\r\n" + fresh(path))
        return True

    def do_s103_length(self, c, method, path, headers):
        c.send(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n"
               b"Content-Length: 60\r\n\r\n" + fresh(path))
        return True

    def do_head103(self, c, method, path, headers):
        c.send(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
               b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
        return True

    def do_early_stream(self, c, method, path, headers):
        # Answers at the head, streaming, and reads the body afterwards.
        c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"A" * 30000)
        c.drain()
        self.record("relay-closed", c, method, path)
        return False

    def do_early_stall(self, c, method, path, headers):
        c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"A" * 10)
        c.drain()
        self.record("relay-closed", c, method, path)
        return False

    def do_endless(self, c, method, path, headers):
        c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"4000\r\n" + b"E" * 0x4000 + b"\r\n"
        try:
            while True:
                c.send(chunk)
        except (OSError, ssl.SSLError):
            self.record("relay-closed", c, method, path)
        return False

    def do_trickle(self, c, method, path, headers):
        c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n")
        for i in range(20):
            time.sleep(0.05)
            c.send(b"abcdefghijklmnopqrst"[i:i + 1])
        return True

    def do_hang(self, c, method, path, headers):
        c.drain()                                 # never answers
        return False

    def do_reset(self, c, method, path, headers):
        c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"R" * 100)
        # Reset once the client has the head: an earlier reset would destroy
        # the bytes in flight and make it a plain 502.
        self.gate(path).wait(20)
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False


def wait_closed(c):
    """Reads until the gateway closes the connection (a cut counts)."""
    c.settimeout(30)
    try:
        c.read_to_eof()
    except (ConnectionResetError, ssl.SSLError):
        pass


def request_id(resp_or_head):
    m = re.search(rb"X-Gateway-Request-Id: ([^\r\n]+)", resp_or_head)
    return m.group(1).decode() if m else None


class HostileUpstreamTest(GatewayTestCase):
    scope = "class"

    @classmethod
    def setUpClass(cls):
        harness.require_environment()
        cls.upstream = HostileUpstream()
        cls.env_kw = {
            "limits": LIMITS,
            "extra_upstreams": [("hostile", "https://127.0.0.1:%d" % cls.upstream.port,
                                 UPSTREAM_TIMEOUT)],
            "extra_routes": [("hostile", "/pass/hostile/", "GET, HEAD, POST", "finance",
                              "hostile")],
        }
        try:
            super().setUpClass()
        except BaseException:
            cls.upstream.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.upstream.stop()

    def path(self, name):
        return "/pass/hostile/%s-%s" % (name, token())

    def get(self, c, path, method="GET"):
        c.send(harness.request_bytes(method, path, [("Host", "localhost")]))
        return c.read_response(head_request=(method == "HEAD"))

    def assert_next_is_fresh(self, c, what):
        """The client's next request on the same connection gets its own answer."""
        p = self.path("ok")
        try:
            r = self.get(c, p)
        except harness.ConnectionClosed:
            self.fail("%s: the connection was cut instead of answering the next request; "
                      "received %r" % (what, c.received[-300:]))
        self.assertNotEqual(r.body, b"FORGED", "%s: the next request got the forged "
                            "response the upstream smuggled in a body" % what)
        self.assertEqual(r.status, 200, "%s: next answer %r" % (what, r))
        self.assertEqual(r.body, ("fresh:" + p).encode(), what)

    def audit_index_of(self, rid):
        """Waits for the exchange's access log line; its audit index (None if none)."""
        def line():
            for ln in self.env.access_log_lines():
                if ln.get("request_id") == rid:
                    return ln
            return None
        ln = harness.wait_until(line, 20, what="an access log line for %s" % rid)
        return ln.get("audit_index")

    def gateway_log(self):
        return self.env.gateway.stderr_text(self._marks.get(self.env.gateway.stderr_path, 0))

    def assert_others_served(self):
        r = self.env.https("GET", "/pass/finance/x/" + token(), who="finance")
        self.assertEqual(r.status, 200, r)

    # -- item 2: 1xx, 204 and 304 end at their head ---------------------------------

    def test_item2_304_204_with_length_do_not_forge_next_response(self):
        """304 (or 204) + Content-Length: 60 + 60 bytes that form a response: the client's
        next request must get its own answer, not the forged one."""
        for name, status in (("s304-forged", 304), ("s204-forged", 204)):
            with self.env.raw("finance") as c:
                r = self.get(c, self.path(name))
                self.assertEqual(r.status, status, r)
                self.assertIsNone(r.header("Content-Length"), "relayed with a length: %r" % r)
                self.assert_next_is_fresh(c, "%d with Content-Length 60" % status)

    def test_item2_compliant_304_with_length_and_no_body(self):
        """A 304 with Content-Length: 1234 and no body: the next request is answered, not
        held until the upstream timeout cuts the connection."""
        with self.env.raw("finance") as c:
            r = self.get(c, self.path("s304-idle"))
            self.assertEqual(r.status, 304, r)
            self.assert_next_is_fresh(c, "compliant 304")

    def test_item2_interim_with_length(self):
        """1xx with a Content-Length: the bytes after its head are the final response."""
        for name in ("s100-length", "s103-length"):
            with self.env.raw("finance") as c:
                p = self.path(name)
                r = self.get(c, p)
                self.assertEqual(r.status, 200, "%s: %r" % (name, r))
                self.assertEqual(r.body, ("fresh:" + p).encode(), name)
                self.assert_next_is_fresh(c, name)

    # -- item 3: HEAD keeps its semantics after an interim response ------------------

    def test_item3_head_after_103(self):
        with self.env.raw("finance") as c:
            r = self.get(c, self.path("head103"), method="HEAD")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("Content-Length"), "1000", r)
            self.assert_next_is_fresh(c, "HEAD after 103")

    # -- item 7: no 400 spliced into a streaming response ----------------------------

    def test_item7_malformed_body_after_early_response_closes(self):
        p = self.path("early-stream")
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("POST", p, [("Host", "localhost"),
                                                     ("Transfer-Encoding", "chunked")])
                   + b"7530\r\n" + b"B" * 30000 + b"\r\n")
            head = c.read_until(b"\r\n\r\n")
            self.assertIn(b"200 OK", head)
            rid = request_id(head)
            c.read_exact(1000)                       # the response is streaming
            c.send(b"zz\r\nnot a chunk\r\n\r\n")     # the rest of the body is malformed
            try:
                rest = c.read_to_eof()
            except (ConnectionResetError, ssl.SSLError):
                rest = c.buf
        self.assertFalse(b"HTTP/1.1 400" in rest, "a 400 was spliced into the streaming "
                         "response: %r" % rest[-300:])
        self.assertLess(len(rest), 100000 - 1000, "the response was completed")
        self.assertFalse(rest.strip(b"A"), "not the upstream's body: %r" % rest[-200:])
        log = harness.wait_until(
            lambda: re.search(r"request %s from \S+ dropped: (.*)" % rid, self.gateway_log()),
            20, what="the gateway's log of the drop")
        self.assertIn("chunk", log.group(1).lower(), log.group(0))
        self.assertIsNotNone(self.audit_index_of(rid), "no audit entry for %s" % rid)
        self.upstream.wait_event("relay-closed", p)
        self.assert_others_served()

    # -- item 8: every exchange has an audit entry -----------------------------------

    def test_item8_timeout_after_early_answer_is_audited(self):
        p = self.path("early-stall")
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("POST", p, [("Host", "localhost"),
                                                     ("Content-Length", "1000")], b"x" * 10))
            head = c.read_until(b"\r\n\r\n")
            rid = request_id(head)
            wait_closed(c)
        self.assertIsNotNone(self.audit_index_of(rid), "exchange %s freed without an audit "
                             "entry" % rid)
        self.upstream.wait_event("relay-closed", p)

    def test_item8_stalled_xml_refusal_is_audited(self):
        with self.env.raw("tax") as c:
            c.send(harness.request_bytes("POST", "/v1/collections", [
                ("Host", "localhost"), ("Content-Type", "text/plain"),
                ("Content-Length", "1000")], b"<x>"))
            r = c.read_response()
            self.assertEqual(r.status, 415, r)
            self.assertIn("xml", (r.header("Content-Type") or "").lower(), r)
            rid = r.header("X-Gateway-Request-Id")
            wait_closed(c)
        self.assertIsNotNone(self.audit_index_of(rid), "XML refusal %s without an audit "
                             "entry" % rid)

    # -- what the upstream learns about the client --------------------------------------

    def test_forwarded_is_the_gateways_view(self):
        """Forwarded and X-Forwarded-* from the client are dropped; the upstream gets the
        gateway's own view: the client's address, over https."""
        p = self.path("ok")
        r = self.env.https("GET", p, headers={
            "Forwarded": "for=6.6.6.6;proto=http;host=evil.test",
            "X-Forwarded-For": "6.6.6.6, 7.7.7.7", "X-Forwarded-Proto": "http",
            "X-Forwarded-Host": "evil.test", "X-Real-IP": "6.6.6.6"})
        self.assertEqual(r.status, 200, r)
        got = self.upstream.heads[p]
        self.assertEqual(harness.header_values(got, "forwarded"),
                         ["for=%s;proto=https" % harness.LOCAL], got)
        self.assertEqual(harness.header_values(got, "x-forwarded-for"), [harness.LOCAL], got)
        self.assertEqual(harness.header_values(got, "x-forwarded-proto"), ["https"], got)
        for name in ("x-forwarded-host", "x-real-ip"):
            self.assertEqual(harness.header_values(got, name), [], got)

    # -- endless, trickling and reset bodies -------------------------------------------

    def test_endless_body_client_leaves(self):
        p = self.path("endless")
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("GET", p, [("Host", "localhost")]))
            c.read_until(b"\r\n\r\n")
            got = 0
            while got < 1 << 20 and c._fill():
                got += len(c.buf)
                c.buf = b""
            self.assertGreaterEqual(got, 1 << 20, "the endless body stopped")
        # The client went away: the relay lets go of the upstream too.
        self.upstream.wait_event("relay-closed", p)
        self.assert_others_served()

    def test_trickling_body_relayed(self):
        with self.env.raw("finance") as c:
            r = self.get(c, self.path("trickle"))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"abcdefghijklmnopqrst")
            self.assert_next_is_fresh(c, "trickle")

    def test_reset_mid_body(self):
        with self.env.raw("finance") as c:
            p = self.path("reset")
            c.send(harness.request_bytes("GET", p, [("Host", "localhost")]))
            head = c.read_until(b"\r\n\r\n")
            self.upstream.gate(p).set()
            self.assertIn(b"Content-Length: 1000", head)
            rid = request_id(head)
            try:
                body = c.read_to_eof()
            except (ConnectionResetError, ssl.SSLError):
                body = c.buf
            self.assertLess(len(body), 1000, "a reset body was relayed as complete")
        self.assertIsNotNone(self.audit_index_of(rid))
        self.assert_others_served()


class PooledUpstreamTest(GatewayTestCase):
    """Pooled keep-alive connections to an upstream: how long they idle, what happens
    when the upstream dropped one, and what /readyz may conclude from one. One worker,
    so every request meets the same pool."""

    scope = "test"
    # The upstream's own keep-alive is endless here; the relay's idle limit decides.
    IDLE = {"hostile-quick": {"idle_timeout": "1s"}, "hostile": {"idle_timeout": "60s"}}

    def setUp(self):
        self.upstream = HostileUpstream()
        self.addCleanup(self.upstream.stop)
        url = "https://127.0.0.1:%d" % self.upstream.port
        ups = [(n, url, UPSTREAM_TIMEOUT, self.IDLE[n]) for n in self.IDLE]
        ups.append(("hostile-default", url, UPSTREAM_TIMEOUT))
        self.env_kw = {
            "workers": 1, "down_upstream": False, "extra_upstreams": ups,
            "extra_routes": [(n, "/pass/%s/" % n, "GET, HEAD, POST, PUT", "finance", n)
                             for n in list(self.IDLE) + ["hostile-default"]],
        }
        super().setUp()

    def path(self, upstream, name):
        return "/pass/%s/%s-%s" % (upstream, name, token())

    def test_idle_timeout_configured(self):
        """idle_timeout = 1s: the relay closes the pooled connection itself."""
        p = self.path("hostile-quick", "ok")
        self.assertEqual(self.env.https("GET", p).status, 200)
        self.upstream.wait_event("closed-idle", p, timeout=20)

    def test_idle_timeout_default_below_common_keepalive(self):
        """Without idle_timeout the relay still lets go of an idle connection before the
        5 s keep-alive common among servers (it used to keep it 60 s)."""
        p = self.path("hostile-default", "ok")
        self.assertEqual(self.env.https("GET", p).status, 200)
        self.upstream.wait_event("closed-idle", p, timeout=20)

    def warm(self):
        self.upstream.drop_reused = False
        p = self.path("hostile", "warm")
        self.assertEqual(self.env.https("GET", p).status, 200)
        # From now on the upstream drops a kept-alive connection as a request comes.
        self.upstream.drop_reused = True

    def test_stale_pooled_connection_idempotent_retried_once(self):
        self.warm()
        p = self.path("hostile", "ok")
        r = self.env.https("GET", p)
        self.assertEqual(r.status, 200, "a GET on a pooled connection the upstream had "
                         "dropped was not sent again: %r" % r)
        self.assertEqual(r.body, ("fresh:" + p).encode())
        self.assertEqual(len(self.upstream.seen("dropped", p)), 1)
        self.assertEqual(len(self.upstream.seen("request", p)), 1)

    def test_stale_pooled_connection_post_not_replayed(self):
        self.warm()
        p = self.path("hostile", "ok")
        r = self.env.https("POST", p, body=b"pay once", headers={"Content-Type": "text/plain"})
        self.assertJsonError(r, 502, "upstream-unavailable")
        self.assertEqual(len(self.upstream.seen("dropped", p)), 1)
        self.assertEqual(self.upstream.seen("request", p), [], "the POST was sent again")

    def readyz(self):
        return self.env.https("GET", "/readyz", who="admin", admin=True)

    def test_readyz_is_a_real_check(self):
        """An idle pooled connection is no proof the upstream takes connections now."""
        self.assertEqual(self.env.https("GET", self.path("hostile", "ok")).status, 200)
        self.assertEqual(self.readyz().status, 200)
        self.upstream.stop()
        r = self.readyz()
        self.assertEqual(r.status, 503, "/readyz trusted an idle pooled connection: %r" % r)
        self.assertEqual(r.json()["upstreams"]["hostile"], "down", r)


class DrainDeadlineTest(GatewayTestCase):
    """Item 8 at shutdown: an exchange still open at the drain deadline is cut, and
    still gets its audit entry."""

    scope = "test"
    gateway_may_exit = True

    def setUp(self):
        self.upstream = HostileUpstream()
        self.addCleanup(self.upstream.stop)
        self.env_kw = {
            "shutdown_timeout": "1s",
            "extra_upstreams": [("hostile", "https://127.0.0.1:%d" % self.upstream.port,
                                 "30s")],
            "extra_routes": [("hostile", "/pass/hostile/", "GET", "finance", "hostile")],
        }
        super().setUp()

    def test_exchange_cut_at_drain_deadline_is_audited(self):
        p = "/pass/hostile/hang-%s" % token()
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("GET", p, [("Host", "localhost")]))
            self.upstream.wait_event("request", p)
            self.env.gateway.signal(signal.SIGTERM)
            self.assertIsNotNone(self.env.gateway.wait(30), "gatewayd did not exit")
        lines = [ln for ln in self.env.access_log_lines() if ln.get("path") == p]
        self.assertEqual(len(lines), 1, "no access log line for the cut exchange: %r" % lines)
        self.assertIsNotNone(lines[0].get("audit_index"), "cut without an audit entry: %r"
                             % lines[0])


if __name__ == "__main__":
    unittest.main()
