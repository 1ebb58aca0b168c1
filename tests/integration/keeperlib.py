"""Helpers for the audit-log (keeper) integration tests.

Python 3 standard library only (plus the openssl command for Ed25519 checks).
Reuses harness.py for processes, stubs, TLS clients and readiness; writes its
own configuration with a [keeper] section so each test has its own database,
checkpoint file and access log in its own temporary folder.

Environment (besides harness.py's):
  GATEWAYCTL   gatewayctl binary (default build/gatewayctl)
"""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import harness
from harness import (LOCAL, Proc, Stub, ca_file, cert, key, free_port, port_open,
                     wait_until, client_context, Response)

GATEWAYD = harness.GATEWAYD
STUBD = harness.STUBD
CERTS = harness.CERTS
GATEWAYCTL = harness._path_from_env("GATEWAYCTL", "build/gatewayctl")
ORIGIN = "audit.itest.local/log"

AGENCIES = (("finance", "finance", None), ("tax", "tax", None), ("hrss", "hrss", None),
            ("finance-city-620100", "finance-city", "620100"), ("admin", "admin", None))


def require_environment():
    harness.require_environment()
    problems = []
    if not (os.path.isfile(GATEWAYCTL) and os.access(GATEWAYCTL, os.X_OK)):
        problems.append("gatewayctl %s is missing: run make _build (or set GATEWAYCTL)"
                        % GATEWAYCTL)
    if not os.path.isfile(os.path.join(CERTS, "log.key")):
        problems.append("%s/log.key is missing: run make pki" % CERTS)
    if problems:
        raise RuntimeError("audit test environment incomplete:\n  " + "\n  ".join(problems))


# ---------------------------------------------------------------------------
# RFC 6962 / RFC 9162 hashing and proof verification, independent of the C code

def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_pow2_below(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root_of(leaves):
    """RFC 6962 MTH over a list of leaf hashes (recursive definition)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _largest_pow2_below(n)
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def all_nodes(leaves):
    """Every complete subtree hash at level >= 1: {(level, pos): hash}."""
    out = {}
    level, cur = 0, list(leaves)
    while len(cur) > 1:
        nxt = [node_hash(cur[i], cur[i + 1]) for i in range(0, len(cur) - 1, 2)]
        level += 1
        for pos, h in enumerate(nxt):
            out[(level, pos)] = h
        cur = nxt
    return out


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 2.1.3.2. True if leaf is at index of the tree of size with root."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 2.1.4.2."""
    if size1 == 0 or size1 > size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 & (size1 - 1) == 0:     # a power of two: the old root starts the path
        proof = [root1] + list(proof)
    if not proof:
        return False
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


# ---------------------------------------------------------------------------
# C2SP checkpoints (signed notes)

class Checkpoint:
    def __init__(self, text):
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        self.text = text
        body, sep, sigs = text.partition("\n\n")
        if not sep:
            raise ValueError("not a signed note: %r" % text[:200])
        self.body = body + "\n"
        lines = body.split("\n")
        if len(lines) < 3:
            raise ValueError("checkpoint body too short: %r" % body)
        self.origin = lines[0]
        if not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
            raise ValueError("bad tree size %r" % lines[1])
        self.size = int(lines[1])
        self.root = base64.b64decode(lines[2], validate=True)
        if len(self.root) != 32:
            raise ValueError("root is not 32 bytes")
        self.sigs = []
        for ln in sigs.split("\n"):
            if not ln:
                continue
            m = re.fullmatch(r"\u2014 (\S+) (\S+)", ln)
            if not m:
                raise ValueError("bad signature line %r" % ln)
            raw = base64.b64decode(m.group(2), validate=True)
            self.sigs.append((m.group(1), raw[:4], raw[4:]))

    def __repr__(self):
        return "<Checkpoint %s size=%d>" % (self.origin, self.size)


def read_checkpoint_file(path):
    """The Checkpoint in a keeper's checkpoint file, or None if there is no file."""
    try:
        with open(path, "rb") as f:
            return Checkpoint(f.read())
    except FileNotFoundError:
        return None


def ed25519_raw_public(pub_pem_path):
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub_pem_path, "-outform", "DER"],
                         check=True, capture_output=True, timeout=10).stdout
    return der[-32:]


def note_key_hash(name, raw_pub):
    """C2SP signed-note key id: first 4 bytes of SHA-256(name || 0x0A || 0x01 || key)."""
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + raw_pub).digest()[:4]


def verify_checkpoint_signature(cp, pub_pem_path, workdir):
    """Checks the Ed25519 signature with `openssl pkeyutl` (independent of our C code)."""
    raw_pub = ed25519_raw_public(pub_pem_path)
    kh = note_key_hash(cp.origin, raw_pub)
    mine = [s for s in cp.sigs if s[0] == cp.origin and s[1] == kh]
    if not mine:
        return False
    body = os.path.join(workdir, "note-body.%d" % threading.get_ident())
    sig = os.path.join(workdir, "note-sig.%d" % threading.get_ident())
    with open(body, "wb") as f:
        f.write(cp.body.encode("utf-8"))
    with open(sig, "wb") as f:
        f.write(mine[0][2])
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub_pem_path,
                        "-rawin", "-in", body, "-sigfile", sig],
                       capture_output=True, timeout=10)
    return r.returncode == 0 and b"Success" in r.stdout


def is_trust(data):
    """Whether an entry's bytes are a trust entry (canonical JSON: one "kind" key)."""
    return b'"kind":"trust"' in data


# ---------------------------------------------------------------------------
# the system: one stub upstream and one gateway with its own audit log

def write_config(path, workdir, agency_port, admin_port, stub_port, *, access_log,
                 database, checkpoint_file, log_key, workers=2, shutdown_timeout="2s"):
    L = ["# written by tests/integration/keeperlib.py", "",
         "[gateway]", "workers = %d" % workers, "shutdown_timeout = %s" % shutdown_timeout,
         "access_log = %s" % access_log]
    for name, port in (("agency", agency_port), ("admin", admin_port)):
        L += ["", "[listener %s]" % name, "listen = %s:%d" % (LOCAL, port),
              "cert = %s" % cert("gateway"), "key = %s" % key("gateway"),
              "ca = %s" % ca_file(), "crl = %s" % os.path.join(CERTS, "crl.pem"),
              "min_protocol = TLSv1.2"]
    L += ["", "[keeper]", "database = %s" % database,
          "checkpoint_file = %s" % checkpoint_file, "origin = %s" % ORIGIN,
          "log_key = %s" % log_key]
    for name, role, city in AGENCIES:
        L += ["", "[agency %s]" % name, "role = %s" % role]
        if city:
            L.append("city = %s" % city)
        L.append("pin_cert = %s" % cert(name))
    L += ["", "[upstream finance]", "url = https://%s:%d" % (LOCAL, stub_port),
          "ca = %s" % ca_file(), "cert = %s" % cert("gateway-client"),
          "key = %s" % key("gateway-client"), "connect_timeout = 2s", "timeout = 5s",
          "pool = 16",
          "", "[route finance-passthrough]", "prefix = /pass/finance/",
          "methods = GET, POST, PUT", "roles = finance, finance-city, tax",
          "upstream = finance",
          "", "[limits]", "max_header_bytes = 16384", "max_headers = 64",
          "max_body = 1048576", "request_timeout = 5s", "idle_timeout = 30s",
          "max_connections = 512", "max_connections_per_agency = 256", ""]
    with open(path, "w") as f:
        f.write("\n".join(L))


class KeeperEnv:
    """A finance stub and a gateway whose keeper writes var/audit.db in a temp folder."""

    def __init__(self, workers=2, shutdown_timeout="2s", stub_quiet=True):
        require_environment()
        self.dir = tempfile.mkdtemp(prefix="gw-audit-")
        os.chmod(self.dir, 0o755)
        self.var = os.path.join(self.dir, "var")
        self.database = os.path.join(self.var, "audit.db")
        self.checkpoint_file = os.path.join(self.var, "checkpoint")
        self.access_log = os.path.join(self.dir, "access.log")
        self.config_path = os.path.join(self.dir, "gateway.conf")
        # The log key, private to this test (mode 0600 as the keeper demands).
        self.log_key = os.path.join(self.dir, "log.key")
        shutil.copyfile(os.path.join(CERTS, "log.key"), self.log_key)
        os.chmod(self.log_key, 0o600)
        self.log_pub = os.path.join(self.dir, "log.pub")
        subprocess.run(["openssl", "pkey", "-in", self.log_key, "-pubout", "-out",
                        self.log_pub], check=True, capture_output=True, timeout=10)
        self.agency_port = free_port()
        self.admin_port = free_port()
        self.workers = workers
        self.shutdown_timeout = shutdown_timeout
        self.stub = None
        self.gateway = None
        self.generation = 0
        self.old_gateways = []
        # The index of this run's first entry: each start logs the files in force
        # first (a "trust" entry), so exchanges start after it.
        self.base = None

    # -- lifecycle ------------------------------------------------------------

    def start(self):
        try:
            self.stub = Stub("finance", self.dir)
            self.stub.wait_ready()
            write_config(self.config_path, self.dir, self.agency_port, self.admin_port,
                         self.stub.port, access_log=self.access_log, database=self.database,
                         checkpoint_file=self.checkpoint_file, log_key=self.log_key,
                         workers=self.workers, shutdown_timeout=self.shutdown_timeout)
            self.start_gateway()
        except BaseException:
            self.stop()
            raise
        return self

    def launch_gateway(self):
        """Starts gatewayd without waiting (for start-up refusal tests)."""
        if self.gateway is not None:
            self.old_gateways.append(self.gateway)
        self.generation += 1
        self.gateway = Proc("gatewayd.%d" % self.generation,
                            [GATEWAYD, "-c", self.config_path], self.dir)
        return self.gateway

    def start_gateway(self, timeout=15.0):
        last = self.trust_last()
        g = self.launch_gateway()

        def ready():
            if not g.alive():
                raise RuntimeError("gatewayd exited with %s during start-up; stderr:\n%s"
                                   % (g.returncode(), g.stderr_tail()))
            return port_open(self.agency_port) and port_open(self.admin_port)
        wait_until(ready, timeout, what="gatewayd to listen")
        self.base = self.wait_trust(last, timeout)
        return g

    def trust_last(self):
        """Index of the newest trust entry (the files in force at a start or a reload),
        None before the first."""
        if not os.path.exists(self.database):
            return None
        c = self.db(readonly=True)
        try:
            row = c.execute("SELECT entry FROM trust_last").fetchone()
        except sqlite3.OperationalError:     # a keeper that never logged one
            return None
        finally:
            c.close()
        return row[0] if row else None

    def wait_trust(self, last, timeout=10.0):
        """Waits for a trust entry newer than last; returns the index after it."""
        def newer():
            t = self.trust_last()
            return t + 1 if t is not None and t != last else None
        return wait_until(newer, timeout, what="the trust entry of the start or reload")

    def stop_gateway(self, grace=10.0):
        """SIGTERM and wait: the keeper commits, signs and closes the database."""
        if self.gateway is None:
            return None
        rc = self.gateway.stop(grace=grace)
        return rc

    def kill_gateway(self):
        """SIGKILL the whole process group (parent, keeper, workers) at once."""
        if self.gateway is not None:
            self.gateway.kill_group()
            self.gateway.close_files()

    def stop(self):
        for g in self.old_gateways + [self.gateway]:
            if g is not None:
                g.stop(grace=3.0)
        if self.stub is not None:
            self.stub.stop()
        if os.environ.get("GW_TEST_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            sys.stderr.write("\n[kept %s]\n" % self.dir)

    def all_stderr(self):
        return "".join(g.stderr_text() for g in self.old_gateways + [self.gateway] if g)

    def keeper_pid(self):
        """The live keeper: the newest "keeper started (pid N)" line of the parent."""
        pids = [int(m) for m in re.findall(r'"role":"parent"[^\n]*keeper started \(pid (\d+)\)',
                                           self.gateway.stderr_text())]
        return pids[-1] if pids else None

    # -- clients ----------------------------------------------------------------

    def context(self, who="finance"):
        return client_context(who)

    def request(self, method, path, who="finance", body=None, admin=False, timeout=5.0,
                headers=None):
        port = self.admin_port if admin else self.agency_port
        conn = http.client.HTTPSConnection("localhost", port, context=client_context(who),
                                           timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, r.reason, r.getheaders(), r.read())
        finally:
            conn.close()

    def passthrough(self, n, who="finance", prefix="x"):
        """n passthrough exchanges on one keep-alive connection; [(rid, path, status)]."""
        out = []
        conn = http.client.HTTPSConnection("localhost", self.agency_port,
                                           context=client_context(who), timeout=5.0)
        try:
            for i in range(n):
                path = "/pass/finance/%s/%d/%s" % (prefix, i, harness.token())
                body = None if i % 2 == 0 else ("body-%d" % i).encode()
                conn.request("GET" if body is None else "POST", path, body=body)
                r = conn.getresponse()
                r.read()
                out.append((r.getheader("X-Gateway-Request-Id"), path, r.status,
                            "GET" if body is None else "POST"))
        finally:
            conn.close()
        return out

    def checkpoint(self, admin=False, who="finance"):
        r = self.request("GET", "/audit/checkpoint", who=who, admin=admin)
        if r.status != 200:
            return None
        return Checkpoint(r.body)

    def wait_checkpoint(self, size, timeout=10.0):
        """Polls /audit/checkpoint until it covers at least size entries."""
        def ok():
            cp = self.checkpoint()
            return cp if cp is not None and cp.size >= size else None
        return wait_until(ok, timeout, interval=0.1,
                          what="a checkpoint covering %d entries" % size)

    def json_get(self, path, **kw):
        r = self.request("GET", path, **kw)
        return r, (json.loads(r.body) if r.body[:1] in (b"{", b"[") else None)

    def access_lines(self):
        out = []
        try:
            with open(self.access_log, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return out
        for line in data.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def acknowledged(self):
        """{audit_index: request_id} from the access log (lines with an index)."""
        out = {}
        for ln in self.access_lines():
            i = ln.get("audit_index")
            if i is None:
                continue
            if i in out and out[i] != ln.get("request_id"):
                raise AssertionError("audit_index %d acknowledged for two requests: %s, %s"
                                     % (i, out[i], ln.get("request_id")))
            out[i] = ln.get("request_id")
        return out

    # -- gatewayctl --------------------------------------------------------------

    def ctl(self, *args, timeout=120):
        for attempt in range(10):
            try:
                r = subprocess.run([GATEWAYCTL] + list(args), capture_output=True,
                                   timeout=timeout)
                break
            except (PermissionError, OSError) as e:
                # The binary is being relinked by a concurrent make: try again.
                if attempt == 9 or isinstance(e, subprocess.TimeoutExpired):
                    raise
                time.sleep(0.5)
        return r.returncode, r.stdout.decode("utf-8", "replace"), \
            r.stderr.decode("utf-8", "replace")

    def verify(self):
        return self.ctl("audit", "verify", "-c", self.config_path)

    def vkey(self):
        rc, out, err = self.ctl("audit", "vkey", "-c", self.config_path)
        if rc != 0:
            raise AssertionError("gatewayctl audit vkey failed (%d): %s" % (rc, err))
        return out.strip()

    # -- the database, behind the daemon's back ------------------------------------

    def db(self, readonly=False):
        if readonly:
            return sqlite3.connect("file:%s?mode=ro" % self.database, uri=True, timeout=10)
        return sqlite3.connect(self.database, timeout=10, isolation_level=None)

    def entries(self):
        """{idx: data bytes} straight from the database."""
        c = self.db(readonly=True)
        try:
            return {i: bytes(d) for i, d in c.execute("SELECT idx, data FROM entries")}
        finally:
            c.close()

    def exchanges(self):
        """{idx: data bytes} of the entries that are not trust entries."""
        return {i: d for i, d in self.entries().items() if not is_trust(d)}

    def snapshot(self, name):
        """Copies the database files (daemon stopped) to name.*; returns the folder."""
        d = os.path.join(self.dir, "snap-" + name)
        os.makedirs(d)
        for suffix in ("", "-wal", "-shm"):
            p = self.database + suffix
            if os.path.exists(p):
                shutil.copy2(p, os.path.join(d, "audit.db" + suffix))
        return d

    def restore(self, d):
        for suffix in ("", "-wal", "-shm"):
            p = self.database + suffix
            if os.path.exists(p):
                os.unlink(p)
            s = os.path.join(d, "audit.db" + suffix)
            if os.path.exists(s):
                shutil.copy2(s, p)


# ---------------------------------------------------------------------------
# steady load from a few threads over keep-alive connections

class Load:
    """Threads sending passthrough requests; counts answers; survives resets."""

    def __init__(self, env, threads=3, who="finance"):
        self.env = env
        self.nthreads = threads
        self.who = who
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.sent = 0
        self.ok = 0
        self.errors = 0
        self.statuses = {}
        self.threads = []
        self.ctx = client_context(who)

    def _run(self, n):
        conn = None
        i = 0
        while not self.stop_ev.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("localhost", self.env.agency_port,
                                                       context=self.ctx, timeout=3.0)
                i += 1
                conn.request("POST", "/pass/finance/load/%d/%d" % (n, i), body=b"x" * 64)
                r = conn.getresponse()
                r.read()
                with self.lock:
                    self.sent += 1
                    self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                    if r.status < 400:
                        self.ok += 1
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ssl.SSLError):
                with self.lock:
                    self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)
        if conn is not None:
            conn.close()

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
            t.join(10)
        self.threads = []
