"""Integration test harness: real gatewayd and stubd processes, real sockets, real TLS.

Python 3 standard library only. Everything a test starts is put in its own process
group and killed when the test (or the test class) ends.

Environment:
  GATEWAYD   gateway binary (default build/san/gatewayd)
  STUBD      stub upstream binary (default build/san/stubd)
  GW_CERTS   development PKI folder (default certs/dev, made by `make pki`)
  GW_TEST_KEEP=1   keep the temporary folders (configs, logs, stub records)
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def _path_from_env(var, default):
    p = os.environ.get(var) or default
    return p if os.path.isabs(p) else os.path.join(REPO, p)


GATEWAYD = _path_from_env("GATEWAYD", "build/san/gatewayd")
STUBD = _path_from_env("STUBD", "build/san/stubd")
CERTS = _path_from_env("GW_CERTS", "certs/dev")
# Configurations written in temporary folders have no schemas beside them.
os.environ.setdefault("GW_SCHEMAS", os.path.join(REPO, "config", "schemas"))

IO_TIMEOUT = 5.0          # every socket operation
READY_TIMEOUT = 10.0      # processes must listen within this
LOCAL = "127.0.0.1"

AGENCY_CERTS = ("tax", "finance", "hrss", "finance-city-620100",
                "finance-city-620200", "bank", "admin", "auditor")
NEGATIVE_CERTS = ("expired", "revoked", "rogue", "unpinned")
REQUIRED_FILES = (["ca.crt", "crl.pem", "gateway.crt", "gateway.key",
                   "gateway-client.crt", "gateway-client.key", "signing.key",
                   "bank-sign.key", "bank-sign.pub"]
                  + ["%s.%s" % (n, e) for n in AGENCY_CERTS + NEGATIVE_CERTS
                     for e in ("crt", "key")]
                  + ["stub-%s.%s" % (n, e) for n in ("finance", "hrss", "bank")
                     for e in ("crt", "key")])

# Sanitizer reports that make a test fail when they show up in a process's stderr.
SANITIZER_ERRORS = re.compile(
    r"ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer|"
    r"AddressSanitizer:DEADLYSIGNAL|Sanitizer CHECK failed")
LEAK_REPORT = re.compile(r"ERROR: LeakSanitizer")


def cert(name):
    return os.path.join(CERTS, name + ".crt")


def key(name):
    return os.path.join(CERTS, name + ".key")


def ca_file():
    return os.path.join(CERTS, "ca.crt")


def require_environment():
    """Fails loudly (never skips) when a binary or the PKI is missing."""
    problems = []
    for what, path, hint in (("gateway", GATEWAYD, "make build-san (or set GATEWAYD)"),
                             ("stub server", STUBD, "make build-san (or set STUBD)")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            problems.append("%s binary %s is missing or not executable: run %s"
                            % (what, path, hint))
    missing = [f for f in REQUIRED_FILES if not os.path.isfile(os.path.join(CERTS, f))]
    if missing:
        problems.append("PKI folder %s lacks %s: run make pki (or set GW_CERTS)"
                        % (CERTS, ", ".join(missing)))
    if problems:
        raise RuntimeError("integration environment incomplete:\n  " + "\n  ".join(problems))


def spki_sha256_hex(cert_path):
    """SHA-256 of the certificate's SubjectPublicKeyInfo (what the gateway pins), via openssl."""
    pub = subprocess.run(["openssl", "x509", "-in", cert_path, "-pubkey", "-noout"],
                         check=True, capture_output=True, timeout=10).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True, timeout=10).stdout
    return hashlib.sha256(der).hexdigest()


def token():
    return uuid.uuid4().hex[:16]


# ---------------------------------------------------------------------------
# ports and readiness

def free_port():
    """A TCP port that was free a moment ago on 127.0.0.1.

    Only a moment ago: something else may take it before our server binds it. gatewayd
    and stubd refuse a port someone listens on (they would otherwise share it through
    SO_REUSEPORT), and readiness waits for the server's own line, never for "some
    listener on the port"; Env.start chooses new ports when the gateway's were taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCAL, 0))
        return s.getsockname()[1]


def port_open(port, host=LOCAL):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Polls pred() until it returns a true value; returns it, or raises AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def _live_procs(field, value):
    """Live (not zombie) pids whose /proc stat field after the state (0: ppid,
    1: process group) equals value."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1 + field]) == value:
            out.append(int(d))
    return out


def children_of(pid):
    """Pids whose parent is pid (from /proc)."""
    return _live_procs(0, pid)


def group_members(pgid):
    """Live (not zombie) pids in process group pgid (from /proc)."""
    return _live_procs(1, pgid)


def tail(path, lines=40, start=0):
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except OSError as e:
        return "<cannot read %s: %s>" % (path, e)
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


# ---------------------------------------------------------------------------
# processes

class Proc:
    """A child process in its own process group, with stdout and stderr in files."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.argv = argv
        self.stdout_path = os.path.join(workdir, name + ".stdout")
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        full_env = dict(os.environ)
        # Sanitizers: report, do not hide; leaks are reported but only fail the tests
        # that check exit codes.
        full_env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        full_env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if env:
            full_env.update(env)
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                      stderr=self._err, cwd=workdir, env=full_env,
                                      start_new_session=True)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def returncode(self):
        return self.popen.poll()

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill_group(self):
        """SIGKILLs the whole process group (the process and any child it forked) and
        waits until every member is gone: a worker still dying holds its sockets, and the
        next server on the same port must not start beside it."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.wait(5)
        wait_until(lambda: not group_members(self.pid), 10, what="process group %d of %s "
                   "to be gone" % (self.pid, self.name))

    def stop(self, grace=3.0):
        """SIGTERM, wait up to grace seconds, then SIGKILL the group. Returns the exit code."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.wait(grace)
        self.kill_group()
        self.close_files()
        return self.popen.returncode

    def close_files(self):
        for f in (self._out, self._err):
            try:
                f.close()
            except OSError:
                pass

    def stderr_size(self):
        try:
            return os.path.getsize(self.stderr_path)
        except OSError:
            return 0

    def stderr_text(self, start=0):
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stdout_text(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_tail(self, lines=40, start=0):
        return tail(self.stderr_path, lines, start)


class Stub:
    """One stubd upstream (tests/stubs/)."""

    def __init__(self, name, workdir, port=None, mode=None, delay_ms=None, host=LOCAL,
                 cert_name=None, args=()):
        self.name = name
        self.host = host
        self.port = port or free_port()
        self.record_path = os.path.join(workdir, "stub-%s.record.jsonl" % name)
        cert_name = cert_name or "stub-" + name
        argv = [STUBD, "--listen", "%s:%d" % (host, self.port),
                "--cert", cert(cert_name), "--key", key(cert_name),
                "--ca", ca_file(), "--name", name, "--record", self.record_path]
        if mode:
            argv += ["--mode", mode]
        if delay_ms is not None:
            argv += ["--delay-ms", str(delay_ms)]
        argv += list(args)
        self.argv = argv
        self.workdir = workdir
        self.proc = Proc("stub-" + name, argv, workdir)

    def restart(self):
        """Starts the stub again on the same port (after stop())."""
        self.proc = Proc("stub-" + self.name, self.argv, self.workdir)
        self.wait_ready()

    def ready(self):
        """Its own line, not a listener on the port: that could be anyone's."""
        if not self.proc.alive():
            raise RuntimeError("stub %s exited with %s before listening:\n%s"
                               % (self.name, self.proc.returncode(), self.proc.stderr_tail()))
        return ("stubd %s listening on " % self.name) in (self.proc.stdout_text()
                                                        + self.proc.stderr_text())

    def wait_ready(self):
        wait_until(self.ready, READY_TIMEOUT, what="stub %s on port %d" % (self.name, self.port))

    def records(self):
        """Every request the stub recorded so far (list of dicts)."""
        out = []
        try:
            with open(self.record_path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return out
        for line in data.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                pass   # a line being written right now
        return out

    def records_with(self, needle):
        return [r for r in self.records() if needle in str(r.get("path", ""))]

    def wait_record(self, needle, count=1, timeout=IO_TIMEOUT):
        """Waits until at least count records have needle in their path; returns them."""
        return wait_until(lambda: (lambda rs: rs if len(rs) >= count else None)(
            self.records_with(needle)), timeout,
            what="stub %s to record %d request(s) with %r" % (self.name, count, needle))

    def stop(self):
        return self.proc.stop(grace=2.0)


def record_conn_id(rec):
    """The stub's upstream connection id in a record (name tolerant)."""
    for k in ("conn_id", "connection_id", "connection", "conn"):
        if k in rec:
            return rec[k]
    raise KeyError("stub record has no connection id field: %r" % sorted(rec))


def record_headers(rec):
    """[(name, value), ...] as received by the stub."""
    return [(h[0], h[1]) for h in rec.get("headers", [])]


def header_values(headers, name):
    n = name.lower()
    return [v for (k, v) in headers if k.lower() == n]


# ---------------------------------------------------------------------------
# configuration

DEFAULT_LIMITS = {
    "max_header_bytes": "16384",
    "max_headers": "64",
    "max_body": "1048576",
    "request_timeout": "5s",
    "idle_timeout": "10s",
    "max_connections": "256",
    "max_connections_per_agency": "64",
}


def agency_role(name):
    """(role, city) of an agency certificate name: "finance-city-NNNNNN" is role
    finance-city bound to city NNNNNN; any other name is its own role, no city."""
    m = re.match(r"^finance-city-([0-9]{6})$", name)
    if m:
        return ("finance-city", m.group(1))
    return (name, None)


class GatewayConfig:
    """Builds a gateway.conf with absolute paths; remembers the line of every key."""

    def __init__(self, workdir, agency_port, admin_port, stubs, *, workers=2,
                 shutdown_timeout="5s", limits=None, upstream_timeout="5s",
                 slow_upstream_timeout="1s", down_port=None, access_log=None,
                 extra_routes=(), extra_upstreams=(), agencies=None,
                 bank_charset="GB18030", bank_key="bank-sign.key", courier=None,
                 accounts=None, rules=None, keeper=(), listener_extra=None,
                 witnesses=(), upstream_pool=8):
        self.workdir = workdir
        self.agency_port = agency_port
        self.admin_port = admin_port
        self.access_log = access_log or os.path.join(workdir, "access.log")
        self.lines = []
        self.key_lines = {}
        lim = dict(DEFAULT_LIMITS)
        lim.update(limits or {})
        section = None

        def sec(name):
            nonlocal section
            self.lines.append("")
            self.lines.append("[%s]" % name)
            section = name
            self.key_lines[(section, None)] = len(self.lines)

        def kv(k, v):
            self.lines.append("%s = %s" % (k, v))
            self.key_lines.setdefault((section, k), len(self.lines))

        self.lines.append("# written by tests/integration/harness.py")
        sec("gateway")
        kv("workers", workers)
        kv("shutdown_timeout", shutdown_timeout)
        kv("access_log", self.access_log)
        # The keeper's audit log lives in the test's own folder.
        sec("keeper")
        kv("database", os.path.join(workdir, "audit.db"))
        kv("checkpoint_file", os.path.join(workdir, "checkpoint"))
        kv("origin", "gateway.test/audit")
        kv("log_key", os.path.join(CERTS, "log.key"))
        kv("signing_key", os.path.join(CERTS, "signing.key"))
        kv("accounts", accounts or os.path.join(REPO, "config", "accounts.conf"))
        for k, v in keeper:
            kv(k, v)
        for lname, port in (("agency", agency_port), ("admin", admin_port)):
            sec("listener " + lname)
            kv("listen", "%s:%d" % (LOCAL, port))
            kv("cert", cert("gateway"))
            kv("key", key("gateway"))
            kv("ca", ca_file())
            kv("crl", os.path.join(CERTS, "crl.pem"))
            kv("min_protocol", "TLSv1.2")
            for k, v in (listener_extra or {}).items():
                kv(k, v)
        for a in (agencies or AGENCY_CERTS):
            sec("agency " + a)
            role, city = agency_role(a)
            kv("role", role)
            if city:
                kv("city", city)
            kv("pin_cert", cert(a))
        ups = []
        for name, stub in stubs.items():
            ups.append((name, getattr(stub, "host", LOCAL), stub.port, upstream_timeout))
        if "finance" in stubs:
            # Same stub, short timeout: for the 504 test.
            ups.append(("slow", LOCAL, stubs["finance"].port, slow_upstream_timeout))
        if down_port:
            ups.append(("down", LOCAL, down_port, "2s"))
        ups = [(n, "https://%s:%d" % (h, p), t) for (n, h, p, t) in ups] + list(extra_upstreams)
        # An extra upstream may carry a dict of further keys as a 4th item.
        for name, url, tmo, *more in ups:
            sec("upstream " + name)
            kv("url", url)
            kv("ca", ca_file())
            kv("crl", os.path.join(CERTS, "crl.pem"))
            kv("cert", cert("gateway-client"))
            kv("key", key("gateway-client"))
            kv("connect_timeout", "2s")
            kv("timeout", tmo)
            kv("pool", upstream_pool)
            for k, v in (more[0] if more else {}).items():
                kv(k, v)
        # Witnesses (name, port, cosignature vkey), each behind its own upstream.
        for name, port, vkey in witnesses:
            sec("upstream witness-" + name)
            kv("url", "https://%s:%d" % (LOCAL, port))
            kv("ca", ca_file())
            kv("crl", os.path.join(CERTS, "crl.pem"))
            kv("cert", cert("gateway-client"))
            kv("key", key("gateway-client"))
            kv("connect_timeout", "2s")
            kv("timeout", "5s")
            kv("pool", 2)
            sec("witness " + name)
            kv("upstream", "witness-" + name)
            kv("key", vkey)
        routes = []
        if "finance" in stubs:
            routes += [("finance-passthrough", "/pass/finance/", "GET, POST, PUT",
                        "finance, finance-city, tax", "finance"),
                       ("stub-tools", "/__stub/", "GET", "finance", "finance"),
                       ("slow", "/pass/slow/", "GET, POST", "finance", "slow")]
        if "hrss" in stubs:
            routes.append(("hrss-passthrough", "/pass/hrss/", "GET, POST, PUT",
                           "hrss, finance", "hrss"))
        if "bank" in stubs:
            routes.append(("bank-passthrough", "/pass/bank/", "GET, POST", "bank, hrss", "bank"))
        if down_port:
            routes.append(("down", "/pass/down/", "GET, POST", "finance", "down"))
        routes += list(extra_routes)
        for name, prefix, methods, rroles, upstream in routes:
            sec("route " + name)
            kv("prefix", prefix)
            kv("methods", methods)
            kv("roles", rroles)
            kv("upstream", upstream)
        # Deliveries: finance and hrss notices, the bank's files.
        sec("courier")
        if "finance" in stubs:
            kv("finance", "finance")
        if "hrss" in stubs:
            kv("hrss", "hrss")
        for k, v in (courier or {"max_attempts": 5, "retry_min": "100ms",
                                 "retry_max": "1s"}).items():
            kv(k, v)
        if "bank" in stubs and "bank" in (agencies or AGENCY_CERTS):
            sec("bank bank")
            kv("upstream", "bank")
            kv("charset", bank_charset)
            kv("signing_key", os.path.join(CERTS, bank_key))
        if rules:
            sec("rules")
            for k, v in rules:
                kv(k, v)
        sec("limits")
        for k in ("max_header_bytes", "max_headers", "max_body", "request_timeout",
                  "idle_timeout", "max_connections", "max_connections_per_agency"):
            kv(k, lim[k])
        for k in sorted(set(lim) - set(DEFAULT_LIMITS)):
            kv(k, lim[k])

    def text(self):
        return "\n".join(self.lines) + "\n"

    def line_of(self, section, k=None):
        return self.key_lines[(section, k)]

    def write(self, path):
        with open(path, "w") as f:
            f.write(self.text())
        return path


# ---------------------------------------------------------------------------
# the whole system under test

class PortTaken(RuntimeError):
    """gatewayd refused to start: another process listens on one of its ports."""


class Env:
    """Stubs (finance, hrss, bank) plus one gateway, in a temporary folder."""

    def __init__(self, *, stubs=("finance", "hrss", "bank"), down_upstream=True, extra_stubs=None,
                 stub_args=None, **cfg_kw):
        require_environment()
        self.dir = tempfile.mkdtemp(prefix="gw-itest-")
        os.chmod(self.dir, 0o755)    # the gateway may open its files after dropping root
        self.stub_names = stubs
        self.extra_stubs = extra_stubs or {}    # name -> Stub keyword arguments
        self.stub_args = stub_args or {}        # name -> extra stubd arguments
        self.down_upstream = down_upstream
        self.cfg_kw = cfg_kw
        self.stubs = {}
        self.gateway = None
        self.config = None
        self.config_path = os.path.join(self.dir, "gateway.conf")
        self.agency_port = free_port()
        self.admin_port = free_port()
        self.down_port = free_port() if down_upstream else None

    def start(self):
        try:
            for n in self.stub_names:
                self.stubs[n] = Stub(n, self.dir, args=self.stub_args.get(n, ()))
            for n, kw in self.extra_stubs.items():
                self.stubs[n] = Stub(n, self.dir, **kw)
            for s in self.stubs.values():
                s.wait_ready()
            for attempt in range(3):
                self.config = GatewayConfig(self.dir, self.agency_port, self.admin_port,
                                            self.stubs, down_port=self.down_port,
                                            **self.cfg_kw)
                self.config.write(self.config_path)
                try:
                    self.start_gateway()
                    break
                except PortTaken:
                    # Taken between free_port() and gatewayd's bind: choose again.
                    self.gateway.stop()
                    self.agency_port, self.admin_port = free_port(), free_port()
            else:
                raise RuntimeError("gatewayd found its ports taken three times")
        except BaseException:
            self.stop()
            raise
        return self

    def start_gateway(self):
        """Starts gatewayd and waits for its own "ready" line: a listener on the port
        proves nothing (a server of the previous test still dying, or anyone else's)."""
        self.gateway = Proc("gatewayd", [GATEWAYD, "-c", self.config_path], self.dir)
        self.gateway_generation = getattr(self, "gateway_generation", 0) + 1
        line = "gatewayd ready: agency %s:%d, admin %s:%d" % (
            LOCAL, self.agency_port, LOCAL, self.admin_port)

        def ready():
            if not self.gateway.alive():
                err = self.gateway.stderr_tail()
                if "another process listens there" in err:
                    raise PortTaken(err)
                raise RuntimeError("gatewayd exited with %s during start-up; stderr:\n%s"
                                   % (self.gateway.returncode(), err))
            return line in self.gateway.stderr_text()
        try:
            wait_until(ready, READY_TIMEOUT, what="gatewayd to listen on %d and %d"
                       % (self.agency_port, self.admin_port))
        except AssertionError:
            raise RuntimeError("gatewayd did not listen within %.0fs; stderr:\n%s"
                               % (READY_TIMEOUT, self.gateway.stderr_tail()))

    def restart_gateway(self):
        if self.gateway:
            self.gateway.stop()
        self.start_gateway()

    def stop(self):
        if self.gateway:
            self.gateway.stop(grace=3.0)
        for s in self.stubs.values():
            s.stop()
        if os.environ.get("GW_TEST_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            sys.stderr.write("\n[kept %s]\n" % self.dir)

    def procs(self):
        out = [s.proc for s in self.stubs.values()]
        if self.gateway:
            out.append(self.gateway)
        return out

    def access_log_lines(self):
        out = []
        try:
            with open(self.config.access_log, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return out
        for line in data.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    # -- clients --------------------------------------------------------------

    def https(self, method, path, *, who="finance", body=None, headers=None, admin=False,
              timeout=IO_TIMEOUT, **ctx_kw):
        return https_request(self.admin_port if admin else self.agency_port, method, path,
                             who=who, body=body, headers=headers, timeout=timeout, **ctx_kw)

    def raw(self, who="finance", *, admin=False, **kw):
        return RawTLS(self.admin_port if admin else self.agency_port, who, **kw)


# ---------------------------------------------------------------------------
# clients

def client_context(who=None, *, max_version=None, min_version=None, check_server=True):
    """An SSLContext presenting certs/dev/<who>.crt (None: no client certificate)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca_file())
    if check_server:
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if who:
        ctx.load_cert_chain(cert(who), key(who))
    if max_version:
        ctx.maximum_version = max_version
    if min_version:
        ctx.minimum_version = min_version
    return ctx


class Response:
    def __init__(self, status, reason, headers, body, version=b"HTTP/1.1"):
        self.status = status
        self.reason = reason
        self.headers = headers       # [(name, value)] as str
        self.body = body
        self.version = version

    def header(self, name, default=None):
        v = header_values(self.headers, name)
        return v[0] if v else default

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %s %r headers=%r body=%r>" % (
            self.status, self.reason, self.headers, self.body[:300])


def https_request(port, method, path, *, who="finance", body=None, headers=None,
                  timeout=IO_TIMEOUT, encode_chunked=False, **ctx_kw):
    """One request over a fresh connection with http.client; returns Response."""
    ctx = client_context(who, **ctx_kw)
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {},
                     encode_chunked=encode_chunked)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.getheaders(), data)
    finally:
        conn.close()


class ConnectionClosed(Exception):
    pass


class RawTLS:
    """A raw TLS connection for writing exact bytes and reading HTTP responses."""

    def __init__(self, port, who="finance", *, max_version=None, session=None,
                 timeout=IO_TIMEOUT, handshake=True, context=None):
        self.ctx = context or client_context(who, max_version=max_version)
        raw = socket.create_connection((LOCAL, port), timeout=timeout)
        self.sock = self.ctx.wrap_socket(raw, server_hostname="localhost",
                                         do_handshake_on_connect=False, session=session)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.received = b""          # everything read so far, for failure messages
        self.eof = False
        if handshake:
            try:
                self.sock.do_handshake()
            except BaseException:
                self.sock.close()
                raise

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(65536)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        if len(self.received) < 65536:
            self.received += chunk[:65536]
        return True

    def read_until(self, marker, limit=1 << 20):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise AssertionError("no %r within %d bytes" % (marker, limit))
            if not self._fill():
                raise ConnectionClosed("connection closed before %r (have %r)"
                                       % (marker, self.buf[:200]))
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionClosed("connection closed after %d of %d bytes"
                                       % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def poll(self, timeout):
        """Reads whatever arrives within timeout; True if something (or EOF) came."""
        if self.buf or self.eof:
            return True
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            self._fill()
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(old)

    def send_until_answer(self, pieces, pause=0.02):
        """Sends pieces one by one, stopping as soon as the peer answers (or closes):
        a server that refuses mid-body and closes must not get more bytes that would
        turn its close into a reset that destroys the answer."""
        for p in pieces:
            if self.poll(pause):
                return
            try:
                self.send(p)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                return

    def read_to_eof(self):
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def read_response(self, head_request=False):
        """Reads one HTTP/1.x response (status line, headers, body)."""
        head = self.read_until(b"\r\n\r\n", limit=1 << 20)
        lines = head[:-4].split(b"\r\n")
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        version, status, reason = m.group(1), int(m.group(2)), m.group(3).decode("latin-1")
        headers = []
        for ln in lines[1:]:
            name, sep, value = ln.partition(b":")
            if not sep:
                raise AssertionError("bad response header line %r" % ln)
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        te = [v.lower() for (k, v) in headers if k.lower() == "transfer-encoding"]
        cl = [v for (k, v) in headers if k.lower() == "content-length"]
        if head_request or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif te:
            if te[-1] != "chunked":
                raise AssertionError("unexpected Transfer-Encoding %r" % te)
            body = b""
            while True:
                size_line = self.read_until(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    # trailers until empty line
                    while self.read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                body += self.read_exact(size)
                if self.read_exact(2) != b"\r\n":
                    raise AssertionError("bad chunk terminator")
        elif cl:
            if len(set(cl)) != 1:
                raise AssertionError("response with several Content-Length %r" % cl)
            body = self.read_exact(int(cl[0]))
        else:
            body = self.read_to_eof()
        return Response(status, reason, headers, body, version)

    def closed_by_peer(self, timeout=IO_TIMEOUT):
        """True if the peer closes (EOF or reset) within timeout, with no further data;
        raises AssertionError if it sends more bytes, False if it stays open."""
        self.sock.settimeout(timeout)
        try:
            data = self.read_to_eof()
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True
        if data:
            raise AssertionError("unexpected bytes after the response: %r" % data[:200])
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def request_bytes(method, path, headers=(), body=b"", version="HTTP/1.1"):
    """Serializes a request with CRLF line endings (headers: sequence of (k, v))."""
    out = "%s %s %s\r\n" % (method, path, version)
    for k, v in headers:
        out += "%s: %s\r\n" % (k, v)
    out += "\r\n"
    data = out.encode("latin-1")
    return data + (body.encode("latin-1") if isinstance(body, str) else body)


def handshake_outcome(port, who, *, max_version=None, timeout=IO_TIMEOUT):
    """Tries a connection with cert `who` and one request.

    Returns ("refused", detail) when the TLS layer refused it (handshake error, alert,
    reset or EOF with no HTTP bytes) or ("http", Response) when an HTTP response came
    back. Hanging until the timeout raises AssertionError."""
    ctx = client_context(who, max_version=max_version)
    raw = socket.create_connection((LOCAL, port), timeout=timeout)
    s = ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    s.settimeout(timeout)
    try:
        try:
            s.do_handshake()
        except ssl.SSLError as e:
            return ("refused", "handshake: %s" % e)
        except (ConnectionResetError, BrokenPipeError) as e:
            return ("refused", "handshake: %r" % e)
        except socket.timeout:
            raise AssertionError("TLS handshake hung for %.0fs" % timeout)
        # TLS 1.3: the server judges the client certificate after the client's
        # handshake is done; its verdict arrives as an alert on the first read.
        try:
            s.sendall(request_bytes("GET", "/pass/finance/x/" + token(),
                                    [("Host", "localhost")]))
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
            return ("refused", "write: %s" % e)
        buf = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                if b"\r\n\r\n" in buf:
                    break
        except socket.timeout:
            raise AssertionError("no TLS alert and no HTTP response within %.0fs (got %r)"
                                 % (timeout, buf[:200]))
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
            if not buf:
                return ("refused", "read: %s" % e)
        if not buf:
            return ("refused", "EOF without data")
        return ("http", buf)
    finally:
        s.close()


# ---------------------------------------------------------------------------
# base test case

class GatewayTestCase(unittest.TestCase):
    """Starts the system per test (scope "test") or once per class (scope "class").

    Subclasses set env_kw (keyword arguments of Env) and scope."""

    scope = "test"
    env_kw = {}
    env = None

    @classmethod
    def setUpClass(cls):
        require_environment()
        if cls.scope == "class":
            cls.env = Env(**cls.env_kw).start()

    @classmethod
    def tearDownClass(cls):
        if cls.scope == "class" and cls.env:
            cls.env.stop()
            cls.env = None

    def setUp(self):
        if self.scope == "test":
            self.env = Env(**self.env_kw).start()
        elif not self.env.gateway.alive():
            # A previous test killed it: start it again (that test has already failed).
            self.env.restart_gateway()
        self._marks = {p.stderr_path: p.stderr_size() for p in self.env.procs()}
        self.addCleanup(self._check_processes)

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        if not getattr(outcome, "success", True):
            return True
        result = getattr(outcome, "result", None)
        if result is not None:
            for test, _ in list(getattr(result, "failures", [])) + list(getattr(result, "errors", [])):
                if test is self or getattr(test, "test_case", None) is self:
                    return True
        return False

    def _check_processes(self):
        env = self.env
        problems = []
        try:
            for p in env.procs():
                new = p.stderr_text(self._marks.get(p.stderr_path, 0))
                if SANITIZER_ERRORS.search(new):
                    problems.append("sanitizer report in %s stderr:\n%s"
                                    % (p.name, "\n".join(new.splitlines()[-60:])))
                elif LEAK_REPORT.search(new):
                    sys.stderr.write("\n[warning: LeakSanitizer report in %s stderr]\n" % p.name)
            if env.gateway and not env.gateway.alive() and not getattr(self, "gateway_may_exit", False):
                problems.append("gatewayd exited (code %s) during the test"
                                % env.gateway.returncode())
            if self._failed() or problems:
                for p in env.procs():
                    if p.name == "gatewayd" or problems:
                        sys.stderr.write("\n---- %s stderr (this test) ----\n%s\n" % (
                            p.name, p.stderr_tail(40, self._marks.get(p.stderr_path, 0))))
        finally:
            if self.scope == "test":
                env.stop()
                self.env = None
        if problems:
            self.fail("\n".join(problems))

    # -- assertions -------------------------------------------------------------

    def assertJsonError(self, resp, status, code=None):
        self.assertEqual(resp.status, status, "expected %d, got %r" % (status, resp))
        ctype = (resp.header("Content-Type") or "").lower()
        self.assertIn("json", ctype, "error response is not JSON: %r" % resp)
        try:
            doc = resp.json()
        except ValueError:
            self.fail("error body is not JSON: %r" % resp.body)
        self.assertIsInstance(doc, dict)
        for k in ("error", "code", "request_id"):
            self.assertIn(k, doc, "error JSON lacks %r: %r" % (k, doc))
        self.assertTrue(doc["code"], "empty error code: %r" % doc)
        if code is not None:
            self.assertEqual(doc["code"], code, "error code: %r" % doc)
        return doc


# ---------------------------------------------------------------------------
# a scripted upstream, for responses stubd will not send

class ScriptedUpstream:
    """A TLS upstream (stub-finance certificate) that answers each request with the
    bytes respond(path, conn_index, request_index) returns (None: close at once).

    Used for malformed upstream responses. One thread per connection."""

    def __init__(self, respond):
        self.respond = respond
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert("stub-finance"), key("stub-finance"))
        self.ctx.load_verify_locations(ca_file())
        self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((LOCAL, 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.requests = []           # (conn_index, request_index, method, path)
        self.nconns = 0
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.nconns += 1
                n = self.nconns
            threading.Thread(target=self._serve, args=(s, n), daemon=True).start()

    def _serve(self, raw, conn_index):
        raw.settimeout(10)
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        buf = b""
        i = 0
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                method, path = lines[0].split(b" ")[:2]
                cl = 0
                chunked = False
                for ln in lines[1:]:
                    k, _, v = ln.partition(b":")
                    if k.strip().lower() == b"content-length":
                        cl = int(v.strip())
                    if k.strip().lower() == b"transfer-encoding":
                        chunked = b"chunked" in v.lower()
                if chunked:
                    while not buf.endswith(b"0\r\n\r\n"):
                        d = s.recv(65536)
                        if not d:
                            return
                        buf += d
                    buf = b""
                else:
                    while len(buf) < cl:
                        d = s.recv(65536)
                        if not d:
                            return
                        buf += d
                    buf = buf[cl:]
                i += 1
                p = path.decode("latin-1")
                with self.lock:
                    self.requests.append((conn_index, i, method.decode(), p))
                out = self.respond(p, conn_index, i)
                if out is None:
                    return
                s.sendall(out)
                if b"Connection: close" in out.split(b"\r\n\r\n")[0]:
                    try:
                        s.unwrap()          # close_notify: a clean end of the body
                    except (OSError, ssl.SSLError):
                        pass
                    return
        except (OSError, ValueError, ssl.SSLError):
            return
        finally:
            try:
                s.close()
            except OSError:
                pass

    def paths(self):
        with self.lock:
            return [r[3] for r in self.requests]

    def stop(self):
        self.stopped = True
        try:
            self.lsock.close()
        except OSError:
            pass
