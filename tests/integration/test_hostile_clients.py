"""Hostile clients (issue 11, items 4, 5 and 9, and the connection lifecycle): clients
that never read, never send or half-close, connection floods before and after
authentication, the lingering close after an error, 100 Continue to HTTP/1.0, and
request targets and Content-Types built to slip past the checks. Wire level, with the
exact bytes; no timing thresholds (conditions are awaited with generous deadlines).

The floods come from other loopback addresses (127.0.0.2 and up) than the agencies
whose requests must still succeed (127.0.0.1), as an attacker's would on a network.
"""

import os
import resource
import socket
import ssl
import sys
import time
import unittest

import harness
import messages as M
from harness import GatewayTestCase, request_bytes, token

HERE = os.path.dirname(os.path.abspath(__file__))

SEND_TIMEOUT = 1.0
HANDSHAKE_TIMEOUT = 1.0
DEADLINE = 30.0            # generous: every wait below is for a condition
BIG = 20000000             # bytes a never-reading client asks for
PARTIAL_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"   # a ClientHello, cut short
LISTENER = {"send_timeout": "%dms" % (SEND_TIMEOUT * 1000)}


def get(path, extra=()):
    return request_bytes("GET", path, [("Host", "localhost")] + list(extra))


def raise_nofile(want):
    """Raises this process's descriptor limit towards want (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def tcp_from(src, port, rcvbuf=None, blocking=True):
    """A TCP connection to the gateway from source address src."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.bind((src, 0))
        if blocking:
            s.settimeout(harness.IO_TIMEOUT)
            s.connect((harness.LOCAL, port))
        else:
            s.setblocking(False)
            s.connect_ex((harness.LOCAL, port))
    except BaseException:
        s.close()
        raise
    return s


def tls_from(src, port, who, rcvbuf=None, **ctx_kw):
    """A TLS connection (handshake done) from source address src."""
    ctx = harness.client_context(who, **ctx_kw)
    raw = tcp_from(src, port, rcvbuf)
    try:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise
    s.settimeout(harness.IO_TIMEOUT)
    return s


def peer_closed(sock, timeout):
    """Reads and drops until the peer closes (EOF or reset): True, or False at timeout."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        return False
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        pass
    return True


class BioTLS:
    """A TLS client over memory BIOs: the test decides when each record leaves, so the
    request and close_notify can go out in one write, as gnutls-cli sends them."""

    def __init__(self, port, who, version):
        ctx = harness.client_context(who, min_version=version, max_version=version)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname="localhost")
        self.sock = socket.create_connection((harness.LOCAL, port), timeout=harness.IO_TIMEOUT)
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                self._fill()
        self._flush()

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if data:
            self.inc.write(data)
        else:
            self.inc.write_eof()
        return data

    def send_then_close_notify(self, data):
        self.obj.write(data)
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass      # close_notify is queued; we do not wait for the server's
        self._flush()

    def read_all(self):
        """Everything the server sends until its close_notify or EOF."""
        got = b""
        while True:
            try:
                while True:
                    chunk = self.obj.read(65536)
                    if not chunk:
                        return got
                    got += chunk
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return got
            except ssl.SSLError:
                return got
            try:
                if not self._fill():
                    continue
            except (ConnectionResetError, socket.timeout):
                return got

    def close(self):
        self.sock.close()


def response_of(data):
    """(status, headers dict lower-cased, body) of one complete HTTP/1.1 response."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    return status, headers, body


class HostileClientsTest(GatewayTestCase):
    scope = "class"
    env_kw = {"listener_extra": LISTENER,
              "limits": {"handshake_timeout": "%dms" % (HANDSHAKE_TIMEOUT * 1000),
                         "max_body": "65536"}}

    def access_line(self, needle):
        def find():
            for line in self.env.access_log_lines():
                if needle in str(line.get("path", "")):
                    return line
            return None
        return harness.wait_until(find, DEADLINE, interval=0.1,
                                  what="an access log line for %s" % needle)

    def assert_served(self, who="hrss"):
        prefix = {"hrss": "/pass/hrss/", "bank": "/pass/bank/"}.get(who, "/pass/finance/")
        t = token()
        r = self.env.https("GET", prefix + "x/" + t, who=who)
        self.assertEqual(r.status, 200, r)
        return r

    # -- item 4: a client that never reads ---------------------------------------------

    def test_never_reading_client_is_dropped_at_send_timeout(self):
        """GET of 20 MB, then nothing read: the exchange ends at send_timeout, with its
        upstream connection, and the access log and audit say why."""
        t = token()
        path = "/__stub/big?bytes=%d&t=%s" % (BIG, t)
        s = tls_from(harness.LOCAL, self.env.agency_port, "finance", rcvbuf=16384)
        try:
            s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
            line = self.access_line(t)
            self.assertEqual(line["code"], "send-timeout", line)
            self.assertEqual(line["status"], 200, line)
            self.assertLess(line["bytes_out"], BIG, line)
            self.assertIsNotNone(line["audit_index"], "no audit entry: %r" % line)
            # The client connection is gone too: what is left to read ends early.
            got = 0
            s.settimeout(DEADLINE)
            try:
                while True:
                    d = s.recv(1 << 20)
                    if not d:
                        break
                    got += len(d)
            except (ConnectionResetError, ssl.SSLError):
                pass
            self.assertLess(got, BIG)
        finally:
            s.close()
        self.assert_served("finance")

    # -- never-sending clients -----------------------------------------------------------

    def test_never_sending_tcp_client_closed_at_handshake_timeout(self):
        s = tcp_from("127.0.0.2", self.env.agency_port)
        try:
            self.assertTrue(peer_closed(s, DEADLINE),
                            "a connection without a ClientHello was kept")
        finally:
            s.close()

    def test_never_sending_tls_client_closed(self):
        s = tls_from(harness.LOCAL, self.env.agency_port, "finance")
        try:
            self.assertTrue(peer_closed(s, DEADLINE), "an idle TLS connection was kept")
        finally:
            s.close()

    # -- item 9: TLS 1.3 half-close -----------------------------------------------------

    def half_close(self, version):
        t = token()
        c = BioTLS(self.env.agency_port, "finance", version)
        try:
            c.send_then_close_notify(b"GET /pass/finance/x/" + t.encode() +
                                     b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
            data = c.read_all()
        finally:
            c.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), "answer %r" % data[:300])
        status, headers, body = response_of(data)
        self.assertEqual(headers.get("connection"), "close", headers)
        self.assertIn(t.encode(), body)
        self.assertEqual(len(self.env.stubs["finance"].records_with(t)), 1)

    def test_half_close_tls13_answered(self):
        self.half_close(ssl.TLSVersion.TLSv1_3)

    def test_half_close_tls12_answered(self):
        self.half_close(ssl.TLSVersion.TLSv1_2)

    def test_close_notify_mid_request_is_499(self):
        """close_notify before the request is complete: nothing to answer, logged 499."""
        t = token()
        c = BioTLS(self.env.agency_port, "finance", ssl.TLSVersion.TLSv1_3)
        try:
            c.send_then_close_notify(b"POST /pass/finance/x/" + t.encode() +
                                     b" HTTP/1.1\r\nHost: localhost\r\n"
                                     b"Content-Length: 10\r\n\r\n01234")
            self.assertEqual(c.read_all(), b"")
        finally:
            c.close()
        self.assertEqual(self.access_line(t)["status"], 499)

    # -- lingering close ------------------------------------------------------------------

    def test_413_then_more_body_no_reset(self):
        """413 from Content-Length alone while the client keeps sending its body: the
        gateway closes its side (close_notify, FIN) but drains what comes, so the
        client's bytes meet no reset and the 413 stays readable."""
        t = token()
        with self.env.raw("finance") as c:
            c.send(b"POST /pass/finance/x/" + t.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
                   b"Content-Length: 70000\r\n\r\n" + b"a" * 1000)
            r = c.read_response()
            self.assertJsonError(r, 413, "body-too-large")
            errors = []
            for _ in range(16):
                c.poll(0.05)     # lets a reset, if any, arrive before the next write
                try:
                    c.send(b"a" * 4096)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as e:
                    errors.append(repr(e))
                    break
            self.assertEqual(errors, [], "the gateway reset the connection after its 413")
            self.assertTrue(c.closed_by_peer(DEADLINE), "no close after the 413")

    # -- 100 Continue and HTTP/1.0 ------------------------------------------------------

    def test_no_100_continue_to_http10(self):
        t = token()
        with self.env.raw("finance") as c:
            c.send(b"POST /pass/finance/x/" + t.encode() + b" HTTP/1.0\r\nHost: localhost\r\n"
                   b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            c.send(b"hello")
            data = c.read_to_eof()
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), "answer %r" % data[:200])
        self.assertNotIn(b"100 Continue", data)

    def test_100_continue_to_http11_kept(self):
        t = token()
        with self.env.raw("finance") as c:
            c.send(b"POST /pass/finance/x/" + t.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
                   b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            self.assertEqual(c.read_until(b"\r\n\r\n"), b"HTTP/1.1 100 Continue\r\n\r\n")
            c.send(b"hello")
            self.assertEqual(c.read_response().status, 200)

    # -- request targets ---------------------------------------------------------------

    def test_nul_and_double_encoded_dots_refused(self):
        for target in ("/pass/finance/a%00b/", "/pass/finance/%252e%252e/x/",
                       "/pass/finance/x/%252E%252E/", "/pass/finance/x/%252f",
                       "/pass/finance/x/%255c", "/pass/finance/x/%0a"):
            t = token()
            with self.env.raw("finance") as c:
                c.send(get(target + t))
                r = c.read_response()
            self.assertJsonError(r, 400, "bad-path")
            self.assertEqual(self.env.stubs["finance"].records_with(t), [], target)

    # -- Content-Type parameters ---------------------------------------------------------

    def test_charset_inside_another_parameter_ignored(self):
        """'charset=GBK' inside a quoted profile parameter is not the charset: the UTF-8
        body is read as UTF-8 and accepted."""
        body = M.collection("CT-PARAM-" + token(), declare=False)
        r = self.env.https("POST", "/v1/collections", who="tax", body=body, headers={
            "Content-Type": 'application/xml; profile="urn:x;charset=GBK"'})
        self.assertEqual(r.status, 202, r)
        r = self.env.https("POST", "/v1/collections", who="tax", body=body, headers={
            "Content-Type": "application/xml; xcharset=GBK"})
        self.assertIn(r.status, (200, 202), r)


class WaitDeadlineTest(GatewayTestCase):
    """send_timeout long (60s), the upstream's timeouts short (the "slow" upstream:
    connect 2s, read 1s): a client that reads nothing pauses the upstream, and the
    upstream's deadline still ends the exchange (it used to vanish with the pause)."""
    scope = "class"
    env_kw = {"extra_routes": [("slow-big", "/__stub/big", "GET", "finance", "slow")]}

    def test_paused_upstream_keeps_its_deadline(self):
        t = token()
        s = tls_from(harness.LOCAL, self.env.agency_port, "finance", rcvbuf=16384)
        try:
            s.sendall(b"GET /__stub/big?bytes=%d&t=%s HTTP/1.1\r\nHost: localhost\r\n\r\n"
                      % (BIG, t.encode()))

            def find():
                for line in self.env.access_log_lines():
                    if t in str(line.get("path", "")):
                        return line
                return None
            line = harness.wait_until(find, DEADLINE, interval=0.1,
                                      what="an access log line for %s" % t)
            self.assertEqual(line["code"], "wait-timeout", line)
            self.assertEqual(line["route"], "slow-big", line)
            self.assertEqual(line["status"], 200, line)
            self.assertLess(line["bytes_out"], BIG, line)
            self.assertTrue(peer_closed(s, DEADLINE))
        finally:
            s.close()


class CapsTest(GatewayTestCase):
    """Item 5 with the issue's figures: max_connections = 8."""
    scope = "test"
    env_kw = {"limits": {"max_connections": "8", "max_connections_per_agency": "4",
                         "handshake_timeout": "10s", "request_timeout": "10s",
                         "idle_timeout": "30s"}}

    def test_idle_tls_connections_of_one_agency(self):
        """One agency holding 16 idle TLS connections: the 12 (or more, should two
        workers count the same moment) over its cap are refused at once (503, logged)
        and another agency connects."""
        conns = []
        try:
            for _ in range(16):
                conns.append(tls_from("127.0.0.2", self.env.agency_port, "finance"))
            r = self.env.https("GET", "/pass/hrss/x/" + token(), who="hrss")
            self.assertEqual(r.status, 200, r)
            harness.wait_until(lambda: sum(
                1 for ln in self.env.access_log_lines() if ln.get("code") == "over-capacity"
                and ln.get("status") == 503 and ln.get("agency") == "finance") >= 12,
                DEADLINE, interval=0.1, what="12 over-capacity refusals in the access log")
        finally:
            for s in conns:
                s.close()

    def test_plain_tcp_connections_without_client_hello(self):
        """17 plain TCP connections from one address that never send a ClientHello
        leave another agency able to connect."""
        conns = []
        try:
            for _ in range(17):
                conns.append(tcp_from("127.0.0.2", self.env.agency_port))
            r = self.env.https("GET", "/pass/hrss/x/" + token(), who="hrss")
            self.assertEqual(r.status, 200, r)
        finally:
            for s in conns:
                s.close()


# -- a stalled access log ---------------------------------------------------------------

class StalledStderrProc(harness.Proc):
    """gatewayd with stderr on a pipe nobody reads (a stalled journal)."""

    def __init__(self, name, argv, workdir):
        self.name = name
        self.argv = argv
        self.stdout_path = os.path.join(workdir, name + ".stdout")
        self.stderr_path = os.path.join(workdir, name + ".stderr")   # stays empty
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.stall, w = os.pipe()
        try:
            self.popen = harness.subprocess.Popen(
                argv, stdin=harness.subprocess.DEVNULL, stdout=self._out, stderr=w,
                cwd=workdir, start_new_session=True)
        finally:
            os.close(w)
        self.pid = self.popen.pid

    def close_files(self):
        super().close_files()
        try:
            os.close(self.stall)
        except OSError:
            pass


class StalledStderrEnv(harness.Env):
    def start_gateway(self):
        self.gateway = StalledStderrProc("gatewayd", [harness.GATEWAYD, "-c",
                                                      self.config_path], self.dir)
        harness.wait_until(lambda: harness.port_open(self.agency_port)
                           and harness.port_open(self.admin_port),
                           harness.READY_TIMEOUT, what="gatewayd to listen")


class AccessLogStallTest(GatewayTestCase):
    """access_log = "-" and nobody reads stderr: the relay keeps answering, drops the
    lines the log cannot take and counts them."""
    scope = "test"

    def setUp(self):
        self.env = StalledStderrEnv(access_log="-", workers=1).start()
        self._marks = {}
        self.addCleanup(self._check_processes)

    def test_relay_answers_while_the_log_is_stalled(self):
        # About 1.5 MB of access lines: past a pipe's 64 KiB and the relay's 1 MiB.
        n, pad = 1500, "p" * 480
        with self.env.raw("finance") as c:
            for i in range(n):
                c.send(get("/pass/finance/x/%s/%d" % (pad, i)))
                self.assertEqual(c.read_response().status, 200, "request %d" % i)
        r = self.env.https("GET", "/metrics", who="admin", admin=True)
        self.assertEqual(r.status, 200, r)
        dropped = [ln for ln in r.body.decode().splitlines()
                   if ln.startswith("gateway_access_log_dropped_total ")]
        self.assertEqual(len(dropped), 1, r.body[-2000:])
        self.assertGreater(int(dropped[0].split()[1]), 0, dropped)


# -- floods --------------------------------------------------------------------------

def open_tcp_flood(port, src, n, batch=500, hello=None):
    """n TCP connections from src, opened batch by batch (each batch connected before
    the next starts); with hello, each sends those bytes. Returns the sockets."""
    socks = []
    import selectors
    sel = selectors.DefaultSelector()
    try:
        while len(socks) < n:
            pending = {}
            for _ in range(min(batch, n - len(socks))):
                s = tcp_from(src, port, blocking=False)
                socks.append(s)
                pending[s.fileno()] = s
                sel.register(s, selectors.EVENT_WRITE)
            deadline = time.monotonic() + DEADLINE
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(1.0):
                    s = key.fileobj
                    sel.unregister(s)
                    del pending[s.fileno()]
                    if hello and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        try:
                            s.send(hello)
                        except OSError:
                            pass
            for s in pending.values():
                sel.unregister(s)
    finally:
        sel.close()
    return socks


def open_tls_flood(port, src, who, n, request=None):
    """n TLS connections of agency who from src; with request, each sends it and never
    reads. Connections the gateway refuses (503, close) count as opened."""
    socks = []
    for _ in range(n):
        try:
            s = tls_from(src, port, who, rcvbuf=16384)
        except (OSError, ssl.SSLError):
            continue
        socks.append(s)
        if request:
            try:
                s.sendall(request)
            except (OSError, ssl.SSLError):
                pass
    return socks


class FloodTest(GatewayTestCase):
    """Other agencies are served while strangers and one agency flood the relay."""
    scope = "test"
    env_kw = {"listener_extra": {"send_timeout": "20s"},
              "limits": {"max_connections": "512", "max_connections_per_agency": "64",
                         "handshake_timeout": "20s", "request_timeout": "20s",
                         "idle_timeout": "60s"}}

    def setUp(self):
        nofile = raise_nofile(16384)
        self.assertGreaterEqual(nofile, 12000, "RLIMIT_NOFILE too low for the floods")
        super().setUp()

    def others_served(self, rounds=3):
        for _ in range(rounds):
            for who, prefix in (("hrss", "/pass/hrss/"), ("bank", "/pass/bank/"),
                                ("tax", "/pass/finance/")):
                r = self.env.https("GET", prefix + "x/" + token(), who=who)
                self.assertEqual(r.status, 200, "%s refused during the flood: %r" % (who, r))

    def test_10000_plain_tcp_connections_from_one_address(self):
        socks = []
        try:
            socks = open_tcp_flood(self.env.agency_port, "127.0.0.2", 10000)
            self.assertEqual(len(socks), 10000)
            self.others_served()
        finally:
            for s in socks:
                s.close()

    def test_2000_hostile_connections(self):
        """800 half-open TLS connections (a ClientHello cut short), 600 connections of
        one agency that never send a request and 600 of another that never read a big
        answer; the other agencies are served."""
        socks = []
        try:
            socks += open_tcp_flood(self.env.agency_port, "127.0.0.2", 800, batch=200,
                                    hello=PARTIAL_HELLO)
            socks += open_tls_flood(self.env.agency_port, "127.0.0.3",
                                    "finance-city-620100", 600)
            socks += open_tls_flood(self.env.agency_port, "127.0.0.4", "finance", 600,
                                    request=get("/__stub/big?bytes=%d&t=%s" % (BIG, token())))
            self.assertGreaterEqual(len(socks), 1900)
            self.others_served()
        finally:
            for s in socks:
                s.close()


if __name__ == "__main__":
    unittest.main()
