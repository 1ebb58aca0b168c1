"""Request smuggling shapes (DESIGN §3): every ambiguous request is refused with 400
and the connection closed. Raw bytes over TLS with the finance certificate."""

import unittest

import harness
from harness import GatewayTestCase, token

CRLF = "\r\n"


def head(t, *lines, method="POST", version="HTTP/1.1"):
    return ("%s /pass/finance/s/%s %s\r\nHost: localhost\r\n" % (method, t, version)
            + "".join(l + CRLF for l in lines) + CRLF)


# name -> (function of token returning the raw request, statuses accepted, "header"
# when the gateway must refuse before forwarding anything upstream).
CASES = {
    # Content-Length and Transfer-Encoding
    "cl_and_te": (lambda t: head(t, "Content-Length: 5", "Transfer-Encoding: chunked")
                  + "0\r\n\r\n", (400,), True),
    "te_and_cl": (lambda t: head(t, "Transfer-Encoding: chunked", "Content-Length: 5")
                  + "0\r\n\r\n", (400,), True),
    "duplicate_cl_same": (lambda t: head(t, "Content-Length: 5", "Content-Length: 5") + "hello",
                          (400,), True),
    "duplicate_cl_different": (lambda t: head(t, "Content-Length: 5", "Content-Length: 6")
                               + "hello!", (400,), True),
    "cl_list": (lambda t: head(t, "Content-Length: 5, 5") + "hello", (400,), True),
    "cl_plus": (lambda t: head(t, "Content-Length: +5") + "hello", (400,), True),
    "cl_trailing_junk": (lambda t: head(t, "Content-Length: 5a") + "hello", (400,), True),
    "cl_blank": (lambda t: head(t, "Content-Length:  ") + "hello", (400,), True),
    "cl_negative": (lambda t: head(t, "Content-Length: -1") + "hello", (400,), True),
    "cl_hex": (lambda t: head(t, "Content-Length: 0x5") + "hello", (400,), True),
    "cl_huge": (lambda t: head(t, "Content-Length: 99999999999999999999999") + "hello",
                (400, 413), True),
    # Transfer-Encoding other than chunked
    "te_gzip": (lambda t: head(t, "Transfer-Encoding: gzip") + "hello", (400,), True),
    "te_chunked_identity": (lambda t: head(t, "Transfer-Encoding: chunked, identity")
                            + "0\r\n\r\n", (400,), True),
    "te_xchunked": (lambda t: head(t, "Transfer-Encoding: xchunked") + "0\r\n\r\n", (400,), True),
    "te_identity": (lambda t: head(t, "Transfer-Encoding: identity") + "hello", (400,), True),
    "te_chunked_twice": (lambda t: head(t, "Transfer-Encoding: chunked", "Transfer-Encoding: chunked")
                         + "0\r\n\r\n", (400,), True),
    "te_chunked_vertical_tab": (lambda t: head(t, "Transfer-Encoding:\x0bchunked") + "0\r\n\r\n",
                                (400,), True),
    "te_in_http10": (lambda t: head(t, "Transfer-Encoding: chunked", version="HTTP/1.0")
                     + "5\r\nhello\r\n0\r\n\r\n", (400,), True),
    # obs-fold, NUL, bare CR / LF
    "obs_fold": (lambda t: head(t, "X-Folded: a", " b", method="GET"), (400,), True),
    "obs_fold_tab": (lambda t: head(t, "X-Folded: a", "\tb", method="GET"), (400,), True),
    "obs_fold_content_length": (lambda t: head(t, "Content-Length:", " 5") + "hello", (400,), True),
    "space_before_first_header": (lambda t: "GET /pass/finance/s/%s HTTP/1.1\r\n Host: localhost"
                                  "\r\n\r\n" % t, (400,), True),
    "space_before_colon": (lambda t: head(t, "Content-Length : 5") + "hello", (400,), True),
    "space_in_header_name": (lambda t: head(t, "X Foo: bar", method="GET"), (400,), True),
    "header_without_colon": (lambda t: head(t, "X-Foo bar", method="GET"), (400,), True),
    "nul_in_header_value": (lambda t: head(t, "X-Nul: a\x00b", method="GET"), (400,), True),
    "nul_in_header_name": (lambda t: head(t, "X-N\x00ul: ab", method="GET"), (400,), True),
    "bare_lf_everywhere": (lambda t: "GET /pass/finance/s/%s HTTP/1.1\nHost: localhost\n\n" % t,
                           (400,), True),
    "bare_lf_one_header": (lambda t: "GET /pass/finance/s/%s HTTP/1.1\r\nHost: localhost\n"
                           "X-A: b\r\n\r\n" % t, (400,), True),
    "bare_lf_request_line": (lambda t: "GET /pass/finance/s/%s HTTP/1.1\nHost: localhost\r\n\r\n"
                             % t, (400,), True),
    "bare_cr_in_value": (lambda t: head(t, "X-A: b\rc", method="GET"), (400,), True),
    "bare_cr_line_end": (lambda t: "GET /pass/finance/s/%s HTTP/1.1\r\nHost: localhost\r"
                         "X-A: b\r\n\r\n" % t, (400,), True),
    # request line
    "version_http2": (lambda t: head(t, method="GET", version="HTTP/2.0"), (400, 505), True),
    "version_1_257": (lambda t: head(t, method="GET", version="HTTP/1.257"), (400, 505), True),
    "version_01_1": (lambda t: head(t, method="GET", version="HTTP/01.1"), (400, 505), True),
    "version_lowercase": (lambda t: head(t, method="GET", version="http/1.1"), (400, 505), True),
    "version_missing": (lambda t: "GET /pass/finance/s/%s\r\nHost: localhost\r\n\r\n" % t,
                        (400, 505), True),
    "tab_after_method": (lambda t: "GET\t/pass/finance/s/%s HTTP/1.1\r\nHost: localhost\r\n\r\n"
                         % t, (400,), True),
    "tab_before_version": (lambda t: "GET /pass/finance/s/%s\tHTTP/1.1\r\nHost: localhost\r\n\r\n"
                           % t, (400,), True),
    "double_space_request_line": (lambda t: "GET  /pass/finance/s/%s HTTP/1.1\r\nHost: localhost"
                                  "\r\n\r\n" % t, (400,), True),
    "duplicate_host": (lambda t: head(t, "Host: other", method="GET"), (400,), True),
    # chunk framing
    "chunk_size_0x": (lambda t: head(t, "Transfer-Encoding: chunked") + "0x5\r\nhello\r\n0\r\n\r\n",
                      (400,), False),
    "chunk_size_plus": (lambda t: head(t, "Transfer-Encoding: chunked") + "+5\r\nhello\r\n0\r\n\r\n",
                        (400,), False),
    "chunk_size_space_before_ext": (lambda t: head(t, "Transfer-Encoding: chunked")
                                    + "5 ;a=b\r\nhello\r\n0\r\n\r\n", (400,), False),
    "chunk_size_trailing_space": (lambda t: head(t, "Transfer-Encoding: chunked")
                                  + "5 \r\nhello\r\n0\r\n\r\n", (400,), False),
    "chunk_missing_crlf": (lambda t: head(t, "Transfer-Encoding: chunked") + "5\r\nhello0\r\n\r\n",
                           (400,), False),
    "chunk_bare_lf": (lambda t: head(t, "Transfer-Encoding: chunked") + "5\nhello\n0\n\n",
                      (400,), False),
    "chunk_size_overflow": (lambda t: head(t, "Transfer-Encoding: chunked")
                            + "fffffffffffffffffffff1\r\nhello\r\n0\r\n\r\n", (400, 413), False),
    "chunk_size_negative": (lambda t: head(t, "Transfer-Encoding: chunked")
                            + "-5\r\nhello\r\n0\r\n\r\n", (400,), False),
}


class SmugglingTest(GatewayTestCase):
    scope = "class"

    def run_case(self, name):
        build, statuses, before_upstream = CASES[name]
        t = token()
        data = build(t).encode("latin-1")
        with self.env.raw("finance") as c:
            c.send(data)
            try:
                r = c.read_response()
            except harness.ConnectionClosed as e:
                self.fail("no HTTP response (connection closed): %s" % e)
            except (TimeoutError, OSError) as e:
                self.fail("no HTTP response within %.0fs (the gateway waits for more bytes?): %r"
                          % (harness.IO_TIMEOUT, e))
            self.assertIn(r.status, statuses, "%s: expected %s, got %r" % (name, statuses, r))
            self.assertTrue(c.closed_by_peer(),
                            "%s: connection left open after %d" % (name, r.status))
        if before_upstream:
            self.assertEqual(self.env.stubs["finance"].records_with(t), [],
                             "%s: the request reached the upstream" % name)

    def test_control_valid_chunked_request(self):
        """The same framing done right is accepted (the cases fail for the right reason)."""
        t = token()
        data = (head(t, "Transfer-Encoding: chunked") + "5;a=b\r\nhello\r\n0\r\n\r\n").encode()
        with self.env.raw("finance") as c:
            c.send(data)
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["body_bytes"], 5)

    def test_control_valid_content_length(self):
        t = token()
        with self.env.raw("finance") as c:
            c.send((head(t, "Content-Length: 5") + "hello").encode())
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["body_bytes"], 5)

    def test_smuggled_second_request_not_executed(self):
        """CL.TE classic: the 'body' hides a second request; it must never reach the stub."""
        t, hidden = token(), token()
        inner = "GET /pass/finance/s/%s HTTP/1.1\r\nHost: localhost\r\n\r\n" % hidden
        body = "0\r\n\r\n" + inner
        data = head(t, "Content-Length: %d" % len(body), "Transfer-Encoding: chunked") + body
        with self.env.raw("finance") as c:
            c.send(data.encode())
            r = c.read_response()
            self.assertEqual(r.status, 400, r)
            self.assertTrue(c.closed_by_peer())
        self.assertEqual(self.env.stubs["finance"].records_with(hidden), [])


def _add_cases():
    for name in CASES:
        def t(self, name=name):
            self.run_case(name)
        t.__name__ = "test_" + name
        t.__doc__ = "%s -> %s and close" % (name, "/".join(map(str, CASES[name][1])))
        setattr(SmugglingTest, t.__name__, t)


_add_cases()

if __name__ == "__main__":
    unittest.main()
