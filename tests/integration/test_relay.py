"""Relay core: allowed requests reach the upstream intact, routing refusals, identity
headers, hop-by-hop headers, keep-alive and pipelining, the access log."""

import hashlib
import http.client
import os
import threading
import time
import unittest

import harness
from harness import GatewayTestCase, header_values, record_headers, token


BIG_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def sha(b):
    return hashlib.sha256(b).hexdigest()


class RelayTest(GatewayTestCase):
    scope = "class"
    env_kw = {}

    def stub(self, name="finance"):
        return self.env.stubs[name]

    # -- allowed ------------------------------------------------------------------

    def check_forwarded(self, rec, agency="finance"):
        hdrs = record_headers(rec)
        self.assertEqual(header_values(hdrs, "X-Gateway-Agency"), [agency],
                         "stub saw X-Gateway-Agency %r" % header_values(hdrs, "X-Gateway-Agency"))
        rid = header_values(hdrs, "X-Gateway-Request-Id")
        self.assertEqual(len(rid), 1, "stub saw X-Gateway-Request-Id %r" % rid)
        self.assertTrue(rid[0].strip(), "empty X-Gateway-Request-Id")
        self.assertEqual(rec.get("client_cn"), "gateway",
                         "the gateway did not present gateway-client.crt upstream: %r" % rec)
        self.assertEqual(rec.get("client_spki_sha256", rec.get("client_spki")),
                         harness.spki_sha256_hex(harness.cert("gateway-client")),
                         "upstream client certificate SPKI")
        return rid[0]

    def test_get_reaches_stub(self):
        t = token()
        path = "/pass/finance/x/" + t
        r = self.env.https("GET", path)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["stub"], "finance")
        self.assertEqual(doc["method"], "GET")
        self.assertEqual(doc["path"], path, "path not forwarded unchanged")
        self.assertEqual(doc["body_bytes"], 0)
        [rec] = self.stub().wait_record(t)
        self.assertEqual(rec["method"], "GET")
        rid = self.check_forwarded(rec)
        self.assertEqual(doc.get("agency"), "finance")
        self.assertEqual(doc.get("request_id"), rid)

    def test_query_string_forwarded(self):
        t = token()
        path = "/pass/finance/x/%s?a=1&b=%%2F&c" % t
        r = self.env.https("GET", path)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["path"], path)

    def test_post_content_length_intact(self):
        t = token()
        body = os.urandom(300000)
        r = self.env.https("POST", "/pass/finance/x/" + t, body=body,
                           headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["method"], "POST")
        self.assertEqual(doc["body_bytes"], len(body))
        self.assertEqual(doc["body_sha256"], sha(body))
        [rec] = self.stub().wait_record(t)
        self.assertEqual(rec["body_sha256"], sha(body))
        self.check_forwarded(rec)
        self.assertEqual(header_values(record_headers(rec), "Content-Type"),
                         ["application/octet-stream"], "end-to-end header not forwarded")

    def test_post_chunked_intact(self):
        t = token()
        parts = [os.urandom(n) for n in (1, 1000, 65536, 7, 120000, 3)]
        body = b"".join(parts)
        r = self.env.https("POST", "/pass/finance/x/" + t, body=iter(parts),
                           encode_chunked=True)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["body_bytes"], len(body))
        self.assertEqual(doc["body_sha256"], sha(body))
        [rec] = self.stub().wait_record(t)
        self.assertEqual(rec["body_sha256"], sha(body))
        self.check_forwarded(rec)

    def test_put_empty_body(self):
        t = token()
        r = self.env.https("PUT", "/pass/finance/x/" + t, body=b"")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["method"], "PUT")
        self.assertEqual(r.json()["body_bytes"], 0)

    def test_other_allowed_roles(self):
        for who in ("tax", "finance-city-620100", "finance-city-620200"):
            with self.subTest(who=who):
                t = token()
                r = self.env.https("GET", "/pass/finance/x/" + t, who=who)
                self.assertEqual(r.status, 200, r)
                [rec] = self.stub().wait_record(t)
                self.check_forwarded(rec, agency=who)
        t = token()
        r = self.env.https("POST", "/pass/bank/x/" + t, who="hrss", body=b"{}")
        self.assertEqual(r.status, 200, r)
        [rec] = self.stub("bank").wait_record(t)
        self.check_forwarded(rec, agency="hrss")

    def test_upstream_status_and_body_relayed(self):
        t = token()
        r = self.env.https("GET", "/pass/finance/x/" + t, headers={"X-Stub-Mode": "fail=409"})
        self.assertEqual(r.status, 409, r)
        self.stub().wait_record(t)
        # The same status straight from the stub, for the body.
        direct = harness.https_request(self.stub().port, "GET", "/pass/finance/x/" + t,
                                       who="gateway-client", headers={"X-Stub-Mode": "fail=409"})
        self.assertEqual(direct.status, 409)
        got, want = r.json(), direct.json()
        got.pop("request_id", None)
        want.pop("request_id", None)
        self.assertEqual(got, want, "body of a non-2xx answer not relayed as-is")

    def _big(self, query):
        t = token()
        path = "/__stub/big?bytes=5000000%s&t=%s" % (query, t)
        r = self.env.https("GET", path, timeout=30)
        self.assertEqual(r.status, 200, r.status)
        # stubd's body: byte i is ALPHABET[i % 64] (tests/stubs/stub_reply.c).
        expected = (BIG_ALPHABET * (5000000 // 64 + 1))[:5000000]
        self.assertEqual(len(r.body), 5000000, "relayed body length")
        self.assertEqual(sha(r.body), sha(expected), "relayed body differs from the stub's")
        self.stub().wait_record(t)

    def test_big_response_content_length(self):
        self._big("")

    def test_big_response_chunked(self):
        self._big("&chunked=1")

    # -- refused by routing ---------------------------------------------------------

    def test_wrong_role_403(self):
        t = token()
        r = self.env.https("GET", "/pass/finance/x/" + t, who="hrss")
        doc = self.assertJsonError(r, 403)
        self.assertNotEqual(doc["code"], "unknown-agency")
        self.assertIn("request_id", doc)
        # Also a POST with a body, and a bank certificate.
        r = self.env.https("POST", "/pass/finance/x/" + t, who="bank", body=b"x" * 100)
        self.assertJsonError(r, 403)
        self.assertEqual(self.stub().records_with(t), [], "refused request reached the upstream")

    def test_admin_cert_not_allowed_on_passthrough(self):
        t = token()
        r = self.env.https("GET", "/pass/finance/x/" + t, who="admin")
        self.assertJsonError(r, 403)
        self.assertEqual(self.stub().records_with(t), [])

    def test_unknown_path_404(self):
        t = token()
        for path in ("/nope/" + t, "/pass/finance", "/pass/financex/" + t, "/", "/PASS/finance/" + t):
            with self.subTest(path=path):
                r = self.env.https("GET", path)
                self.assertJsonError(r, 404)
        self.assertEqual(self.stub().records_with(t), [])

    def test_method_not_allowed_405(self):
        t = token()
        for m in ("DELETE", "PATCH", "OPTIONS"):
            with self.subTest(method=m):
                r = self.env.https(m, "/pass/finance/x/" + t)
                self.assertJsonError(r, 405)
        r = self.env.https("POST", "/__stub/x/" + t)     # route allows GET only
        self.assertJsonError(r, 405)
        self.assertEqual(self.stub().records_with(t), [])

    def test_405_has_allow_header(self):
        r = self.env.https("DELETE", "/pass/finance/x/" + token())
        self.assertEqual(r.status, 405, r)
        allow = r.header("Allow")
        self.assertIsNotNone(allow, "405 without Allow (RFC 9110 15.5.6 MUST): %r" % r)
        self.assertEqual({a.strip() for a in allow.split(",")}, {"GET", "POST", "PUT"})

    # -- identity and hop-by-hop headers -------------------------------------------

    def test_identity_and_hop_by_hop_headers_stripped(self):
        t = token()
        req = harness.request_bytes("GET", "/pass/finance/x/" + t, [
            ("Host", "localhost"),
            ("X-Gateway-Agency", "admin"),
            ("x-gateway-agency", "hrss"),
            ("X-Gateway-Request-Id", "forged"),
            ("X-Gateway-Role", "admin"),
            ("Connection", "keep-alive, X-Hop-Secret"),
            ("X-Hop-Secret", "leak"),
            ("Keep-Alive", "timeout=99"),
            ("TE", "trailers"),
            ("Upgrade", "websocket"),
            ("Proxy-Connection", "keep-alive"),
            ("X-End-To-End", "kept"),
        ])
        with self.env.raw("finance") as c:
            c.send(req)
            r = c.read_response()
        self.assertEqual(r.status, 200, r)
        [rec] = self.stub().wait_record(t)
        hdrs = record_headers(rec)
        self.assertEqual(header_values(hdrs, "X-Gateway-Agency"), ["finance"], hdrs)
        rid = header_values(hdrs, "X-Gateway-Request-Id")
        self.assertEqual(len(rid), 1, hdrs)
        self.assertNotEqual(rid[0], "forged")
        for name, value in hdrs:
            if name.lower().startswith("x-gateway-"):
                self.assertNotIn(value, ("admin", "forged", "hrss"),
                                 "client identity header reached the upstream: %s: %s" % (name, value))
        for hop in ("X-Hop-Secret", "Keep-Alive", "TE", "Upgrade", "Proxy-Connection"):
            self.assertEqual(header_values(hdrs, hop), [],
                             "hop-by-hop header %s forwarded: %r" % (hop, hdrs))
        for v in header_values(hdrs, "Connection"):
            self.assertNotIn("x-hop-secret", v.lower(), hdrs)
        self.assertEqual(header_values(hdrs, "X-End-To-End"), ["kept"], hdrs)
        self.assertEqual(r.json().get("agency"), "finance")

    def test_identity_in_trailer_not_forwarded(self):
        """A chunked body's trailer section cannot carry identity headers upstream."""
        t = token()
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("POST", "/pass/finance/x/" + t, [
                ("Host", "localhost"), ("Transfer-Encoding", "chunked"), ("Trailer", "X-Gateway-Agency")],
                b"5\r\nhello\r\n0\r\nX-Gateway-Agency: admin\r\nX-Gateway-Request-Id: forged\r\n\r\n"))
            r = c.read_response()
        self.assertIn(r.status, (200, 400), r)
        if r.status == 200:
            [rec] = self.stub().wait_record(t)
            hdrs = record_headers(rec)
            self.assertEqual(header_values(hdrs, "X-Gateway-Agency"), ["finance"], hdrs)
            self.assertNotIn("forged", header_values(hdrs, "X-Gateway-Request-Id"), hdrs)

    def test_underscore_identity_header_not_forwarded(self):
        """X_Gateway_Agency is the same variable as X-Gateway-Agency to CGI/WSGI-style
        upstreams (HTTP_X_GATEWAY_AGENCY): it must not reach them."""
        t = token()
        r = self.env.https("GET", "/pass/finance/x/" + t,
                           headers={"X_Gateway_Agency": "admin", "X_Gateway_Request_Id": "forged"})
        self.assertIn(r.status, (200, 400), r)
        if r.status == 200:
            [rec] = self.stub().wait_record(t)
            for name, value in record_headers(rec):
                norm = name.lower().replace("_", "-")
                if norm in ("x-gateway-agency", "x-gateway-request-id"):
                    self.assertNotIn(value, ("admin", "forged"),
                                     "identity header spelled with underscores reached the "
                                     "upstream: %s: %s" % (name, value))

    def test_response_hop_by_hop_not_leaked_and_request_id_consistent(self):
        t = token()
        r = self.env.https("GET", "/pass/finance/x/" + t)
        self.assertEqual(r.status, 200)
        [rec] = self.stub().wait_record(t)
        rid = header_values(record_headers(rec), "X-Gateway-Request-Id")[0]
        # Two requests get two different ids.
        t2 = token()
        self.env.https("GET", "/pass/finance/x/" + t2)
        [rec2] = self.stub().wait_record(t2)
        rid2 = header_values(record_headers(rec2), "X-Gateway-Request-Id")[0]
        self.assertNotEqual(rid, rid2, "request ids repeat")

    # -- keep-alive ---------------------------------------------------------------------

    def test_keepalive_sequential_and_upstream_reuse(self):
        ctx = harness.client_context("finance")
        conn = http.client.HTTPSConnection("localhost", self.env.agency_port, context=ctx,
                                           timeout=harness.IO_TIMEOUT)
        toks = [token() for _ in range(4)]
        try:
            socks = set()
            for i, t in enumerate(toks):
                body = ("body-%d" % i).encode() if i % 2 else None
                conn.request("POST" if body else "GET", "/pass/finance/ka/" + t, body=body)
                resp = conn.getresponse()
                data = resp.read()
                self.assertEqual(resp.status, 200, data)
                self.assertEqual(harness.json.loads(data)["path"], "/pass/finance/ka/" + t)
                socks.add(id(conn.sock))
                self.assertIsNotNone(conn.sock, "gateway closed the keep-alive connection")
            self.assertEqual(len(socks), 1, "client connection was not kept alive")
        finally:
            conn.close()
        ids = [harness.record_conn_id(self.stub().wait_record(t)[0]) for t in toks]
        self.assertEqual(len(set(ids)), 1,
                         "gateway did not reuse its upstream connection: conn ids %r" % ids)

    def test_pipelined_requests_answered_in_order(self):
        toks = [token() for _ in range(3)]
        data = (harness.request_bytes("GET", "/pass/finance/p/" + toks[0], [("Host", "localhost")])
                + harness.request_bytes("POST", "/pass/finance/p/" + toks[1],
                                        [("Host", "localhost"), ("Content-Length", "5")], b"hello")
                + harness.request_bytes("GET", "/pass/finance/p/" + toks[2], [("Host", "localhost")]))
        with self.env.raw("finance") as c:
            c.send(data)
            for t in toks:
                r = c.read_response()
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["path"], "/pass/finance/p/" + t,
                                 "pipelined responses out of order")
            self.assertEqual(r.json()["path"], "/pass/finance/p/" + toks[2])
            # The connection is still usable afterwards.
            t4 = token()
            c.send(harness.request_bytes("GET", "/pass/finance/p/" + t4, [("Host", "localhost")]))
            r = c.read_response()
            self.assertEqual(r.json()["path"], "/pass/finance/p/" + t4)
        rec = self.stub().wait_record(toks[1])[0]
        self.assertEqual(rec["body_sha256"], sha(b"hello"))

    def test_many_pipelined_requests(self):
        toks = [token() for _ in range(50)]
        data = b"".join(harness.request_bytes("GET", "/pass/finance/pp/" + t, [("Host", "localhost")])
                        for t in toks)
        with self.env.raw("finance", timeout=15) as c:
            c.send(data)
            for t in toks:
                r = c.read_response()
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["path"], "/pass/finance/pp/" + t, "out of order")

    def test_connection_close_honoured(self):
        t = token()
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("GET", "/pass/finance/x/" + t,
                                         [("Host", "localhost"), ("Connection", "close")]))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertTrue(c.closed_by_peer(), "gateway kept the connection after Connection: close")

    def test_pipelined_after_connection_close_not_executed(self):
        t1, t2 = token(), token()
        data = (harness.request_bytes("GET", "/pass/finance/x/" + t1,
                                      [("Host", "localhost"), ("Connection", "close")])
                + harness.request_bytes("GET", "/pass/finance/x/" + t2, [("Host", "localhost")]))
        with self.env.raw("finance") as c:
            c.send(data)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertTrue(c.closed_by_peer(), "more data after the Connection: close answer")
        self.stub().wait_record(t1)
        self.assertEqual(self.stub().records_with(t2), [],
                         "a request pipelined after Connection: close was executed")

    def test_http10_request(self):
        t = token()
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("GET", "/pass/finance/x/" + t, [("Host", "localhost")],
                                         version="HTTP/1.0"))
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertTrue(c.closed_by_peer(), "HTTP/1.0 connection without keep-alive not closed")

    def test_missing_host_400(self):
        t = token()
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("GET", "/pass/finance/x/" + t, []))
            r = c.read_response()
            self.assertEqual(r.status, 400, r)
        self.assertEqual(self.stub().records_with(t), [])

    # -- request targets ------------------------------------------------------------------

    def test_dot_segments_do_not_escape_route(self):
        """tax may use /pass/finance/ but not /pass/hrss/: no spelling reaches hrss."""
        t = token()
        for path in ("/pass/finance/../hrss/" + t, "/pass/finance/%2e%2e/hrss/" + t,
                     "/pass/finance/..%2fhrss/" + t, "/pass/finance/./../../pass/hrss/" + t):
            with self.subTest(path=path):
                r = self.env.https("GET", path, who="tax")
                self.assertIn(r.status, (200, 400, 403, 404), r)
        self.assertEqual(self.stub("hrss").records_with(t), [], "a dot-segment path reached hrss")

    def test_absolute_form_target(self):
        """An absolute-form target is refused or routed by its path, never by its authority."""
        t = token()
        with self.env.raw("tax") as c:
            c.send(harness.request_bytes("GET", "https://localhost/pass/hrss/" + t,
                                         [("Host", "localhost")]))
            r = c.read_response()
        self.assertIn(r.status, (400, 403, 404), r)
        self.assertEqual(self.stub("hrss").records_with(t), [])

    def test_asterisk_and_connect_refused(self):
        for line in ("OPTIONS * HTTP/1.1", "CONNECT localhost:443 HTTP/1.1"):
            with self.subTest(line=line):
                with self.env.raw("finance") as c:
                    c.send((line + "\r\nHost: localhost\r\n\r\n").encode())
                    r = c.read_response()
                self.assertIn(r.status, (400, 404, 405), r)

    # -- Expect, concurrency, aborted clients -------------------------------------------

    def test_expect_100_continue(self):
        t = token()
        body = os.urandom(5000)
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("POST", "/pass/finance/x/" + t, [
                ("Host", "localhost"), ("Content-Length", str(len(body))),
                ("Expect", "100-continue")]))
            if c.poll(1.5):
                interim = c.read_response()
                self.assertEqual(interim.status, 100, "expected 100 Continue, got %r" % interim)
            c.send(body)
            r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["body_sha256"], sha(body))

    def test_concurrent_requests(self):
        results, errors = [], []

        def worker(i):
            try:
                for _ in range(5):
                    t = token()
                    body = os.urandom(1000 + i)
                    r = self.env.https("POST", "/pass/finance/c/" + t, body=body, timeout=15)
                    ok = (r.status == 200 and r.json()["path"] == "/pass/finance/c/" + t
                          and r.json()["body_sha256"] == sha(body))
                    results.append(ok or r)
            except Exception as e:     # reported below
                errors.append(e)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertEqual(errors, [])
        bad = [r for r in results if r is not True]
        self.assertEqual(bad, [], "wrong answers under concurrency")
        self.assertEqual(len(results), 80)

    def assert_still_serving(self):
        t = token()
        r = self.env.https("GET", "/pass/finance/x/" + t)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["path"], "/pass/finance/x/" + t)

    def test_client_aborts_during_big_response(self):
        for _ in range(3):
            with self.env.raw("finance") as c:
                c.send(harness.request_bytes("GET", "/__stub/big?bytes=50000000&t=" + token(),
                                             [("Host", "localhost")]))
                c.read_until(b"\r\n\r\n")
                c.read_exact(200000)
        self.assert_still_serving()

    def test_client_aborts_during_request_body(self):
        for _ in range(3):
            with self.env.raw("finance") as c:
                c.send(harness.request_bytes("POST", "/pass/finance/x/" + token(), [
                    ("Host", "localhost"), ("Content-Length", "500000")], b"a" * 100000))
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("POST", "/pass/finance/x/" + token(), [
                ("Host", "localhost"), ("Transfer-Encoding", "chunked")], b"10000\r\n" + b"b" * 30000))
        self.assert_still_serving()

    def test_client_aborts_while_upstream_pending(self):
        t = token()
        with self.env.raw("finance") as c:
            c.send(harness.request_bytes("GET", "/pass/finance/x/" + t, [
                ("Host", "localhost"), ("X-Stub-Mode", "delay=700")]))
            self.stub().wait_record(t)
        self.assert_still_serving()
        # After the stub answers the abandoned request (700 ms), nothing stale is handed out.
        time.sleep(0.9)
        for _ in range(3):
            self.assert_still_serving()

    # -- access log ----------------------------------------------------------------------

    def test_access_log_line(self):
        t = token()
        r = self.env.https("POST", "/pass/finance/x/" + t, body=b"0123456789")
        self.assertEqual(r.status, 200)
        rid = r.json()["request_id"]
        self.assertTrue(rid)

        def find():
            for line in self.env.access_log_lines():
                if rid in [str(v) for v in line.values()]:
                    return line
            return None
        line = harness.wait_until(find, 5, what="access log line with request id %s" % rid)
        flat = {k.lower(): v for k, v in line.items()}
        self.assertEqual(flat.get("agency"), "finance", line)
        self.assertEqual(flat.get("route"), "finance-passthrough", line)
        self.assertEqual(int(flat.get("status")), 200, line)
        self.assertTrue(any(k.startswith("bytes") or k.endswith("bytes") for k in flat), line)
        self.assertTrue(any(k.startswith("duration") for k in flat), line)
        # A refusal is logged too.
        r = self.env.https("GET", "/pass/finance/x/" + token(), who="hrss")
        self.assertEqual(r.status, 403)
        rid = r.json().get("request_id")
        if rid:
            harness.wait_until(find, 5, what="access log line for the 403 (%s)" % rid)


if __name__ == "__main__":
    unittest.main()
