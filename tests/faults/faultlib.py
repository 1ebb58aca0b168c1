"""Helpers for the fault-injection suite (tests/faults/).

Python 3 standard library only. Reuses tests/integration/harness.py (processes,
stubs, configuration, TLS clients) without changing it.

Environment (besides harness.py's GATEWAYD, STUBD, GW_CERTS, GW_TEST_KEEP):
  FAULTS_MODE   short (default; for make check) or full (the figures of make faults)
  GATEWAYCTL    gatewayctl binary (default build/gatewayctl)
  FAULTS_SEED   seed of the random kill points (default: random, printed)
"""

import errno
import http.client
import json
import os
import random
import re
import resource
import selectors
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness as h  # noqa: E402  (the path above must come first)

GATEWAYCTL = h._path_from_env("GATEWAYCTL", "build/gatewayctl")
MODE = os.environ.get("FAULTS_MODE", "short")
if MODE not in ("short", "full"):
    raise RuntimeError("FAULTS_MODE must be short or full, not %r" % MODE)

# Every figure a test uses, per mode.
FIGURES = {
    "short": {
        "kills_per_kind": 3,          # test 1: relay kills, keeper kills, group kills
        "load_threads": 3,
        "slow_conns": 200,            # test 3: connections from the slow agency
        "measured_requests": 50,      # test 3: requests of the unaffected agency
        "slow_request_timeout": 5,    # seconds; opening n connections takes ~15 ms each
        "slow_idle_timeout": 10,      # (ASan build), so idle_timeout leaves room for it
        "upstream_rounds": 40,        # test 4: requests per load thread
        "reload_seconds": 1.0,        # test 5: load before/after each reload
    },
    "full": {
        "kills_per_kind": 20,
        "load_threads": 4,
        "slow_conns": 2000,
        "measured_requests": 200,
        "slow_request_timeout": 30,
        "slow_idle_timeout": 75,
        "upstream_rounds": 200,
        "reload_seconds": 5.0,
    },
}[MODE]


def fig(name):
    return FIGURES[name]


def say(fmt, *args):
    """One line of figures on stderr (unittest's own output goes there too)."""
    sys.stderr.write(("\n[faults/%s] " % MODE) + (fmt % args if args else fmt) + "\n")
    sys.stderr.flush()


def require_environment():
    h.require_environment()
    if not (os.path.isfile(GATEWAYCTL) and os.access(GATEWAYCTL, os.X_OK)):
        raise RuntimeError("gatewayctl %s is missing: run make (or set GATEWAYCTL)" % GATEWAYCTL)


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    xs = sorted(values)
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def raise_nofile(want):
    """Raises this process's soft RLIMIT_NOFILE (children inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if new > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------
# the system under test

class FaultEnv(h.Env):
    """harness.Env whose gateway restarts keep their own log files (gatewayd.1.stderr,
    gatewayd.2.stderr, ...), optionally with the keeper's files in another folder."""

    def __init__(self, keeper_dir=None, **kw):
        super().__init__(**kw)
        self.keeper_dir = keeper_dir
        self.gateway_env = None     # extra environment of gatewayd (LD_PRELOAD, ...)
        self.generation = 0
        self.old_gateways = []
        self.database = os.path.join(keeper_dir or self.dir, "audit.db")
        self.checkpoint_file = os.path.join(keeper_dir or self.dir, "checkpoint")
        self._admin = None
        self._admin_lock = threading.Lock()

    def _rewrite_keeper_paths(self):
        if self.keeper_dir is None:
            return
        with open(self.config_path) as f:
            text = f.read()
        text = re.sub(r"(?m)^database = .*$", "database = " + self.database, text)
        text = re.sub(r"(?m)^checkpoint_file = .*$", "checkpoint_file = " + self.checkpoint_file,
                      text)
        with open(self.config_path, "w") as f:
            f.write(text)

    def start_gateway(self):
        self._rewrite_keeper_paths()
        if self.gateway is not None:
            self.gateway.close_files()
            self.old_gateways.append(self.gateway)
        self.generation += 1
        g = h.Proc("gatewayd.%d" % self.generation, [h.GATEWAYD, "-c", self.config_path],
                   self.dir, env=self.gateway_env)
        self.gateway = g

        def ready():
            if not g.alive():
                raise RuntimeError("gatewayd exited with %s during start-up; stderr:\n%s"
                                   % (g.returncode(), g.stderr_tail()))
            return h.port_open(self.agency_port) and h.port_open(self.admin_port)
        h.wait_until(ready, 20, what="gatewayd to listen")
        h.wait_until(lambda: "gatewayd ready" in g.stderr_text(), 20,
                     what="gatewayd ready line")
        self.close_admin()
        return g

    def kill_group(self):
        """SIGKILL of the whole process group (parent, keeper, workers) at once."""
        self.gateway.kill_group()
        self.gateway.close_files()
        self.close_admin()

    def stop(self):
        self.close_admin()
        for g in self.old_gateways:
            g.stop(grace=1.0)
        super().stop()

    def all_gateway_stderr(self):
        return "".join(g.stderr_text() for g in self.old_gateways + [self.gateway] if g)

    def procs(self):
        return super().procs() + list(self.old_gateways)

    # -- roles ------------------------------------------------------------------

    def parent_log(self):
        return self.gateway.stderr_text()

    def keeper_pid(self):
        pids = re.findall(r'"role":"parent"[^\n]*"msg":"keeper started \(pid (\d+)\)',
                          self.parent_log())
        return int(pids[-1]) if pids else None

    def worker_pids(self):
        """{slot: pid} of the live relay workers (newest start line per slot)."""
        out = {}
        for slot, pid in re.findall(r'"msg":"relay worker (\d+) started \(pid (\d+)\)',
                                    self.parent_log()):
            out[int(slot)] = int(pid)
        kids = set(h.children_of(self.gateway.pid))
        return {s: p for s, p in out.items() if p in kids}

    def count(self, pattern):
        return len(re.findall(pattern, self.parent_log()))

    # -- the audit log --------------------------------------------------------------

    def close_admin(self):
        with self._admin_lock:
            if self._admin is not None:
                self._admin.close()
            self._admin = None

    def admin_get(self, path, timeout=5.0):
        """GET on the admin listener over one kept-alive connection (reopened on error)."""
        with self._admin_lock:
            for attempt in (0, 1):
                if self._admin is None:
                    self._admin = http.client.HTTPSConnection(
                        "localhost", self.admin_port, context=h.client_context("admin"),
                        timeout=timeout)
                try:
                    self._admin.request("GET", path)
                    r = self._admin.getresponse()
                    body = r.read()
                    if (r.getheader("Connection") or "").lower() == "close":
                        self._admin.close()
                        self._admin = None
                    return r.status, body
                except (OSError, http.client.HTTPException, ssl.SSLError):
                    self._admin.close()
                    self._admin = None
                    if attempt == 1:
                        raise

    def entry(self, index, timeout=15.0):
        """The audit entry at index (dict) through GET /audit/entries/N, retrying while
        roles restart; None if the keeper says there is none."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                st, body = self.admin_get("/audit/entries/%d" % index)
            except (OSError, http.client.HTTPException, ssl.SSLError) as e:
                last = repr(e)
                time.sleep(0.1)
                continue
            if st == 200:
                return json.loads(body)
            if st == 404:
                return None
            last = "%d %r" % (st, body[:200])
            time.sleep(0.1)
        raise AssertionError("GET /audit/entries/%d kept failing: %s" % (index, last))

    def metric(self, name):
        st, body = self.admin_get("/metrics")
        if st != 200:
            raise AssertionError("/metrics: %d" % st)
        total = 0.0
        found = False
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
                found = True
        return total if found else None

    def db_request_ids(self):
        """[(idx, request_id)] straight from the database, read-only (for tallies)."""
        c = sqlite3.connect("file:%s?mode=ro" % self.database, uri=True, timeout=10)
        try:
            return [(i, json.loads(bytes(d)).get("request_id"))
                    for i, d in c.execute("SELECT idx, data FROM entries ORDER BY idx")]
        finally:
            c.close()

    def ctl(self, *args, timeout=300):
        r = subprocess.run([GATEWAYCTL] + list(args), capture_output=True, timeout=timeout)
        return (r.returncode, r.stdout.decode("utf-8", "replace"),
                r.stderr.decode("utf-8", "replace"))

    def verify(self):
        """gatewayctl audit verify --db FILE --vkey "$(gatewayctl audit vkey -c CONF)"
        --skey signing.pub."""
        rc, vkey, err = self.ctl("audit", "vkey", "-c", self.config_path)
        if rc != 0:
            raise AssertionError("gatewayctl audit vkey failed (%d): %s" % (rc, err))
        # Instruction signatures are checked too: with --db, verify needs their key.
        return self.ctl("audit", "verify", "--db", self.database, "--vkey", vkey.strip(),
                        "--skey", os.path.join(h.CERTS, "signing.pub"))


# ---------------------------------------------------------------------------
# clients

class KeepAlive:
    """One client on one kept-alive connection, reconnecting after any error."""

    def __init__(self, env, who="finance", timeout=5.0, context=None):
        self.env = env
        self.who = who
        self.timeout = timeout
        self.ctx = context or h.client_context(who)
        self.conn = None

    def request(self, method, path, headers=None, body=None):
        """Returns (status, headers dict lower-cased, body); raises on transport errors."""
        if self.conn is None:
            self.conn = http.client.HTTPSConnection("localhost", self.env.agency_port,
                                                    context=self.ctx, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
        except BaseException:
            self.close()
            raise
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return r.status, hdrs, data

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


TRANSPORT_ERRORS = (OSError, http.client.HTTPException, ssl.SSLError)


class Load:
    """Threads sending passthrough requests over kept-alive connections; every answer
    is recorded, transport errors are counted (they are expected during a kill)."""

    def __init__(self, env, threads=3, who="finance", prefix="/pass/finance/load", pace=0.0):
        self.env = env
        self.pace = pace         # pause between a thread's requests (seconds)
        self.nthreads = threads
        self.who = who
        self.prefix = prefix
        self.ctx = h.client_context(who)
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = []
        self.statuses = {}
        self.errors = 0
        self.answers = []        # (request_id, status, path, monotonic time)
        self.wrong_body = []
        self.serial = 0

    def _run(self, n):
        c = KeepAlive(self.env, self.who, timeout=5.0, context=self.ctx)
        while not self.stop_ev.is_set():
            with self.lock:
                self.serial += 1
                i = self.serial
            path = "%s/%d/%d/%s" % (self.prefix, n, i, h.token())
            try:
                st, hdrs, body = c.request("POST" if i % 2 else "GET", path,
                                           body=b"x" * 64 if i % 2 else None)
            except TRANSPORT_ERRORS:
                with self.lock:
                    self.errors += 1
                time.sleep(0.02)
                continue
            with self.lock:
                self.statuses[st] = self.statuses.get(st, 0) + 1
                self.answers.append((hdrs.get("x-gateway-request-id"), st, path,
                                     time.monotonic()))
                if st == 200:
                    try:
                        if json.loads(body).get("path") != path:
                            self.wrong_body.append((path, body[:200]))
                    except ValueError:
                        self.wrong_body.append((path, body[:200]))
            if self.pace:
                time.sleep(self.pace)
        c.close()

    def start(self):
        self.stop_ev.clear()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                        for n in range(self.nthreads)]
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(15)
        self.threads = []

    def ok_count(self):
        with self.lock:
            return self.statuses.get(200, 0)


def wait_serving(env, timeout=20.0, who="finance"):
    """Until a fresh request on a new connection gets 200; returns the seconds it took."""
    t0 = time.monotonic()
    ctx = h.client_context(who)
    last = None
    while time.monotonic() - t0 < timeout:
        c = KeepAlive(env, who, timeout=3.0, context=ctx)
        try:
            st, _, _ = c.request("GET", "/pass/finance/probe/" + h.token())
            if st == 200:
                return time.monotonic() - t0
            last = st
        except TRANSPORT_ERRORS as e:
            last = repr(e)
        finally:
            c.close()
        time.sleep(0.05)
    raise AssertionError("the gateway did not serve again within %.0fs (last: %s)"
                         % (timeout, last))


# ---------------------------------------------------------------------------
# many slow or idle TLS connections, in one selector thread

class SlowConn:
    __slots__ = ("i", "sock", "kind", "state", "t_ready", "t_first", "t_end", "sent",
                 "got", "how", "payload")

    def __init__(self, i, sock, kind, payload):
        self.i = i
        self.sock = sock
        self.kind = kind             # "idle" (sends nothing) or "trickle"
        self.state = "handshake"
        self.t_ready = None          # handshake done
        self.t_first = None          # first request byte sent
        self.t_end = None            # closed by the peer
        self.sent = 0
        self.got = b""
        self.how = None              # "408", "eof", "reset", "other"
        self.payload = payload


class SlowClients:
    """n connections from one agency that complete TLS and then send nothing ("idle")
    or one header byte a second ("trickle"), never finishing the request head."""

    def __init__(self, port, who, n, trickle_every=2, in_flight=48):
        self.port = port
        self.ctx = h.client_context(who)
        self.n = n
        self.trickle_every = trickle_every     # every k-th connection trickles
        self.in_flight = in_flight
        self.sel = selectors.DefaultSelector()
        self.conns = []
        self.failed_open = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.trickling = threading.Event()
        self.thread = None

    def _new(self, i):
        raw = socket.create_connection((h.LOCAL, self.port), timeout=10)
        raw.setblocking(False)
        s = self.ctx.wrap_socket(raw, server_hostname="localhost",
                                 do_handshake_on_connect=False)
        kind = "trickle" if i % self.trickle_every == 0 else "idle"
        payload = ("GET /pass/finance/slow/%d HTTP/1.1\r\nHost: localhost\r\nX-Slow: %s"
                   % (i, "s" * 4000)).encode()
        c = SlowConn(i, s, kind, payload)
        self.conns.append(c)
        self.sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        return c

    def _handshake(self, c):
        try:
            c.sock.do_handshake()
        except ssl.SSLWantReadError:
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            return False
        except ssl.SSLWantWriteError:
            self.sel.modify(c.sock, selectors.EVENT_WRITE, c)
            return False
        except (ssl.SSLError, OSError) as e:
            self._end(c, "handshake-failed: %r" % e)
            return True
        c.state = "open"
        c.t_ready = time.monotonic()
        self.sel.modify(c.sock, selectors.EVENT_READ, c)
        return True

    def _end(self, c, how):
        if c.state == "closed":
            return
        c.state = "closed"
        c.t_end = time.monotonic()
        if c.how is None:
            c.how = how
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        try:
            c.sock.close()
        except OSError:
            pass

    def _readable(self, c):
        while True:
            try:
                d = c.sock.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                d = b""
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
                self._end(c, "reset" if not c.got else
                          ("408" if c.got.startswith(b"HTTP/1.1 408") else "other"))
                return
            if not d:
                self._end(c, "eof" if not c.got else
                          ("408" if c.got.startswith(b"HTTP/1.1 408") else "other"))
                return
            c.got += d

    def open(self, timeout=180.0):
        """Opens all n connections (at most in_flight handshakes at once)."""
        t0 = time.monotonic()
        nxt = 0
        while True:
            pending = sum(1 for c in self.conns if c.state == "handshake")
            while nxt < self.n and pending < self.in_flight:
                try:
                    self._new(nxt)
                except OSError as e:
                    self.failed_open.append((nxt, repr(e)))
                nxt += 1
                pending += 1
            if nxt >= self.n and pending == 0:
                break
            if time.monotonic() - t0 > timeout:
                raise AssertionError("opening %d connections took over %.0fs" % (self.n, timeout))
            for key, ev in self.sel.select(0.5):
                c = key.data
                if c.state == "handshake":
                    self._handshake(c)
                elif c.state == "open":
                    self._readable(c)
        return time.monotonic() - t0

    def start(self):
        """Runs the selector loop in a thread: reads what the server sends, and from
        start_trickle() on sends one byte a second on the trickling connections."""
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def start_trickle(self):
        self.trickling.set()

    def _loop(self):
        next_tick = time.monotonic()
        while not self.stop_ev.is_set():
            now = time.monotonic()
            if self.trickling.is_set() and now >= next_tick:
                next_tick = now + 1.0
                for c in self.conns:
                    if c.kind != "trickle" or c.state != "open":
                        continue
                    if c.sent >= len(c.payload):
                        continue
                    try:
                        c.sock.send(c.payload[c.sent:c.sent + 1])
                    except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                        continue
                    except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
                        self._readable(c)
                        if c.state != "closed":
                            self._end(c, "reset-on-send")
                        continue
                    if c.sent == 0:
                        c.t_first = time.monotonic()
                    c.sent += 1
            try:
                events = self.sel.select(min(0.2, max(0.0, next_tick - time.monotonic())))
            except (OSError, ValueError):
                events = []
            for key, ev in events:
                c = key.data
                if c.state == "open":
                    self._readable(c)

    def open_count(self):
        return sum(1 for c in self.conns if c.state == "open")

    def stop(self):
        self.stop_ev.set()
        if self.thread is not None:
            self.thread.join(10)
        for c in self.conns:
            if c.state != "closed":
                try:
                    c.sock.close()
                except OSError:
                    pass
                c.state = "closed"
        try:
            self.sel.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# tmpfs

def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", path],
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("mount tmpfs on %s failed: %s" % (path, r.stderr.decode()))


def umount(path):
    for attempt in range(20):
        r = subprocess.run(["umount", path], capture_output=True, timeout=30)
        if r.returncode == 0:
            return
        time.sleep(0.25)
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def fill(path, chunk=1 << 16):
    """Writes zeros to path until the file system is full; returns bytes written."""
    n = 0
    buf = b"\0" * chunk
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(buf)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if chunk > 512:
                    chunk //= 4
                    buf = buf[:chunk]
                    continue
                break
    return n


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def cpu_seconds(pid):
    """User + system CPU time of a process so far (0 if it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rng():
    seed = os.environ.get("FAULTS_SEED") or str(random.randrange(1 << 30))
    return seed, random.Random(seed)


__all__ = ["h", "MODE", "fig", "say", "FaultEnv", "KeepAlive", "Load", "SlowClients",
           "percentile", "raise_nofile", "mount_tmpfs", "umount", "fill", "free_bytes",
           "wait_serving", "require_environment", "rng", "TRANSPORT_ERRORS", "cpu_seconds"]
