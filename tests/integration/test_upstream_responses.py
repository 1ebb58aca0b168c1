"""Malformed or hostile upstream responses (parsed strictly too, DESIGN §3): the client
gets 502 or a cut connection, never a desynchronised stream, and a connection that
carried a bad response is never reused."""

import unittest

import harness
from harness import GatewayTestCase, token


def resp(*header_lines, body=b"", status="200 OK"):
    head = ("HTTP/1.1 %s\r\n" % status + "".join(h + "\r\n" for h in header_lines) + "\r\n")
    return head.encode("latin-1") + body


def fresh(path):
    b = ("fresh:" + path).encode()
    return resp("Content-Type: text/plain", "Content-Length: %d" % len(b), body=b)


POISON = resp("Content-Length: 6", body=b"POISON")

# Script: the last path segment's name (before "-<token>") picks the answer.
SCRIPTS = {
    "cl-te": lambda p: resp("Content-Length: 5", "Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
    "dup-cl": lambda p: resp("Content-Length: 5", "Content-Length: 6", body=b"hello!"),
    "bad-cl": lambda p: resp("Content-Length: 5a", body=b"hello"),
    "te-gzip": lambda p: resp("Transfer-Encoding: gzip", body=b"hello"),
    "bare-lf": lambda p: b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",
    "nul-header": lambda p: resp("X-A: a\x00b", "Content-Length: 5", body=b"hello"),
    "obs-fold": lambda p: resp("X-A: a", " b", "Content-Length: 5", body=b"hello"),
    "bad-status": lambda p: b"HTTP/1.1 20 OK\r\nContent-Length: 5\r\n\r\nhello",
    "bad-version": lambda p: b"HTTP/1.257 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "bad-chunk": lambda p: resp("Transfer-Encoding: chunked", body=b"0x5\r\nhello\r\n0\r\n\r\n"),
    "switching": lambda p: resp("Upgrade: h2c", "Connection: Upgrade", status="101 Switching Protocols"),
    "huge-header": lambda p: resp("X-Big: " + "a" * 200000, "Content-Length: 5", body=b"hello"),
    "garbage": lambda p: b"\x16\x03\x01garbage\r\n\r\n",
    # Valid but unusual framings, relayed intact.
    "until-close": lambda p: resp("Content-Type: text/plain", "Connection: close",
                                  body=b"read-until-close body"),
    "interim-100": lambda p: resp(status="100 Continue") + fresh(p),
    "chunked-ext": lambda p: resp("Transfer-Encoding: chunked",
                                  body=b"5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"),
    # Desync attempts.
    "extra-response": lambda p: resp("Content-Length: 2", body=b"ok") + POISON,
    "short-body": lambda p: resp("Content-Length: 100", "Connection: close", body=b"short"),
    "resp-hop": lambda p: resp("Connection: close, X-Secret-Hop", "X-Secret-Hop: leak",
                               "Keep-Alive: timeout=1", "Content-Length: 2", body=b"ok"),
}

BAD = ("cl-te", "dup-cl", "bad-cl", "te-gzip", "bare-lf", "nul-header", "obs-fold", "bad-status",
       "bad-version", "bad-chunk", "switching", "huge-header", "garbage")


# Faults found only in the body: once the head is relayed, a cut is the only honest
# answer, so a closed connection without a (complete) response is accepted there.
BODY_LEVEL = ("bad-chunk",)


def respond(path, conn_index, request_index):
    name = path.rstrip("/").rsplit("/", 1)[-1].rsplit("-", 1)[0]
    f = SCRIPTS.get(name)
    return f(path) if f else fresh(path)


class UpstreamResponseTest(GatewayTestCase):
    scope = "class"

    @classmethod
    def setUpClass(cls):
        harness.require_environment()
        cls.upstream = harness.ScriptedUpstream(respond)
        cls.env_kw = {
            "extra_upstreams": [("scripted", "https://127.0.0.1:%d" % cls.upstream.port, "1500ms")],
            "extra_routes": [("scripted", "/pass/scripted/", "GET, POST", "finance", "scripted")],
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

    def get(self, name):
        path = "/pass/scripted/%s-%s" % (name, token())
        return path, self.env.https("GET", path)

    def assert_fresh_after(self):
        """The next requests get their own answers (no stale bytes from a bad response)."""
        for _ in range(3):
            path, r = self.get("ok")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, ("fresh:" + path).encode(),
                             "the answer belongs to something else: %r" % r.body[:100])

    def run_bad(self, name):
        path = "/pass/scripted/%s-%s" % (name, token())
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("GET", path, [("Host", "localhost")]))
            try:
                r = c.read_response()
            except harness.ConnectionClosed:
                r = None
            except TimeoutError:
                self.fail("%s: neither 502 nor a cut within %.0fs; received %r"
                          % (name, harness.IO_TIMEOUT, c.received[:300]))
            except AssertionError as e:
                self.fail("%s: the gateway relayed an invalid response (%s); received %r"
                          % (name, e, c.received[:300]))
        if r is not None or name not in BODY_LEVEL:
            # Head-level faults are known before anything is sent: a clean 502.
            self.assertIsNotNone(r, "%s: no 502; the client received %r, then the connection "
                                 "was cut" % (name, c.received[:300]))
            self.assertJsonError(r, 502)
        self.assert_fresh_after()

    def test_control_plain(self):
        path, r = self.get("ok")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, ("fresh:" + path).encode())

    def test_until_close_body_relayed(self):
        path, r = self.get("until-close")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"read-until-close body")
        self.assert_fresh_after()

    def test_interim_100_then_final(self):
        path, r = self.get("interim-100")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, ("fresh:" + path).encode())
        self.assert_fresh_after()

    def test_chunked_with_extension_and_trailer(self):
        path, r = self.get("chunked-ext")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"hello world")
        self.assert_fresh_after()

    def test_extra_bytes_after_response_not_reused(self):
        """A response followed by a second, unrequested one: the pooled connection must
        not hand 'POISON' to the next request."""
        path, r = self.get("extra-response")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"ok")
        for _ in range(4):
            p2, r2 = self.get("ok")
            self.assertNotEqual(r2.body, b"POISON", "response queue poisoned: pooled upstream "
                                "connection reused with unread bytes")
            self.assertEqual(r2.body, ("fresh:" + p2).encode(), r2)

    def test_short_body_not_completed(self):
        """Content-Length 100 but 5 bytes then close: the client must see a failure."""
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("GET", "/pass/scripted/short-body-" + token(),
                                         [("Host", "h")]))
            try:
                r = c.read_response()
            except harness.ConnectionClosed:
                return                              # cut connection: right
            self.assertEqual(r.status, 502, "a truncated upstream body was relayed as complete: %r" % r)

    def test_response_hop_by_hop_removed(self):
        path, r = self.get("resp-hop")
        self.assertEqual(r.status, 200, r)
        names = [k.lower() for k, _ in r.headers]
        self.assertNotIn("x-secret-hop", names, r.headers)
        self.assertNotIn("keep-alive", names, r.headers)


def _add():
    for name in BAD:
        def t(self, name=name):
            self.run_bad(name)
        t.__name__ = "test_bad_response_%s_502" % name.replace("-", "_")
        setattr(UpstreamResponseTest, t.__name__, t)


_add()

if __name__ == "__main__":
    unittest.main()
