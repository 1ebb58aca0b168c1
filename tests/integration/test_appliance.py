"""The hardened appliance: sandboxed roles, live reload, Prometheus metrics.

Each test runs the real daemon with real certificates; the sandbox tests make
a worker try a forbidden call (GATEWAY_SANDBOX_PROBE) and watch the parent
restart it.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import harness as h


def parent_log(env):
    return env.gateway.stderr_text()


def role_pids(env):
    """The parent's children: {"keeper": [pid], "courier": [pid], "relay": [pids]}."""
    text = parent_log(env)
    keeper = [int(p) for p in re.findall(r"keeper started \(pid (\d+)\)", text)]
    courier = [int(p) for p in re.findall(r"courier started \(pid (\d+)\)", text)]
    kids = set(h.children_of(env.gateway.pid))
    relays = [p for p in kids if p not in keeper and p not in courier]
    return {"keeper": [p for p in keeper if p in kids],
            "courier": [p for p in courier if p in kids], "relay": relays}


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


class Metrics(unittest.TestCase):
    def setUp(self):
        self.env = h.Env().start()

    def tearDown(self):
        self.env.stop()

    def test_metrics_pass_promtool_and_count(self):
        env = self.env
        for _ in range(3):
            self.assertEqual(env.https("GET", "/pass/finance/m").status, 200)
        self.assertEqual(env.https("GET", "/pass/finance/m", who="hrss").status, 403)
        with self.assertRaises((OSError, h.ssl.SSLError)):
            env.https("GET", "/pass/finance/m", who="expired")
        # The audit entries become durable and checkpointed within ~1 s: the initial
        # account registry and the start's trust entry, then the 4 exchanges.
        h.wait_until(lambda: "gateway_audit_checkpoint_size 6" in
                     env.https("GET", "/metrics", who="admin", admin=True).body.decode(),
                     5, what="a checkpoint covering the start's 2 entries and the 4 exchanges")
        r = env.https("GET", "/metrics", who="admin", admin=True)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"))
        text = r.body.decode()
        if shutil.which("promtool") is None:
            self.fail("promtool is missing (Debian package prometheus; scripts/deps.sh)")
        p = subprocess.run(["promtool", "check", "metrics"], input=r.body,
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        want = [
            r'gateway_requests_total\{route="finance-passthrough",role="finance",'
            r'status="200"\} 3',
            r'gateway_requests_total\{route="finance-passthrough",role="hrss",'
            r'status="403"\} 1',
            r'gateway_tls_handshake_failures_total\{listener="agency",'
            r'reason="expired"\} 1',
            r'gateway_audit_entries 6',
            r'gateway_trust_entries_total 1',
            r'gateway_certificate_expiry_seconds\{file="[^"]*gateway\.crt"\} \d+',
            r'gateway_request_duration_seconds_count\{route="finance-passthrough"\} 4',
            r'gateway_workers_alive 2',
        ]
        for pattern in want:
            self.assertRegex(text, pattern)

    def test_head_gets_no_body_and_keeps_the_connection(self):
        # Two HEADs and a GET on one keep-alive connection: a body after a
        # HEAD answer would be read as the next response.
        ctx = h.client_context("admin")
        conn = h.http.client.HTTPSConnection("localhost", self.env.admin_port, context=ctx,
                                             timeout=h.IO_TIMEOUT)
        try:
            for method in ("HEAD", "HEAD", "GET"):
                conn.request(method, "/healthz")
                r = conn.getresponse()
                body = r.read()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.getheader("Content-Length"), "16")
                self.assertEqual(body, b"" if method == "HEAD" else b'{"status":"ok"}\n')
        finally:
            conn.close()

    def test_metrics_admin_only(self):
        r = self.env.https("GET", "/metrics", who="finance", admin=True)
        self.assertEqual(r.status, 403)


class Sandbox(unittest.TestCase):
    def start(self, probe=None):
        env = h.Env(stubs=("finance",), down_upstream=False)
        env.start_gateway_orig = env.start_gateway
        if probe:
            def start_gateway():
                env.gateway = h.Proc("gatewayd", [h.GATEWAYD, "-c", env.config_path],
                                     env.dir, env={"GATEWAY_SANDBOX_PROBE": probe})
                h.wait_until(lambda: h.port_open(env.agency_port), h.READY_TIMEOUT,
                             what="gatewayd to listen")
            env.start_gateway = start_gateway
        self.env = env.start()
        return self.env

    def tearDown(self):
        self.env.stop()

    def test_roles_are_sandboxed(self):
        env = self.start()
        # A request proves the workers are past their set-up.
        self.assertEqual(env.https("GET", "/pass/finance/s").status, 200)
        h.wait_until(lambda: len(role_pids(env)["relay"]) == 2 and role_pids(env)["keeper"]
                     and role_pids(env)["courier"], 5, what="keeper, courier and two workers")

        def sandboxed():
            for pid in sum(role_pids(env).values(), []):
                st = proc_status(pid)
                if st["NoNewPrivs"].strip() != "1" or st["Seccomp"].strip() != "2":
                    return False
            return True
        h.wait_until(sandboxed, 5, what="every role under no_new_privs and a seccomp filter")
        self.assertEqual(env.https("GET", "/pass/finance/s").status, 200)

    def probe(self, what):
        env = self.start(probe=what)
        # The first worker tries the forbidden call, dies, and is restarted.
        h.wait_until(lambda: re.search(r"relay worker 0 \(pid \d+\) (killed by signal 31|"
                                       r"exited with status 159)", parent_log(env)),
                     8, what="the parent to log the sandboxed worker's death")
        h.wait_until(lambda: len(re.findall(r"relay worker 0 started", parent_log(env))) >= 2,
                     8, what="worker 0 to be restarted")
        self.assertNotIn("was NOT refused", parent_log(env))
        for _ in range(6):
            self.assertEqual(env.https("GET", "/pass/finance/after").status, 200)

    def test_open_is_refused(self):
        self.probe("open")

    def test_exec_is_refused(self):
        self.probe("exec")

    def test_unix_socket_is_refused(self):
        self.probe("unix-socket")


class Reload(unittest.TestCase):
    def setUp(self):
        self.env = h.Env(stubs=("finance", "hrss"), down_upstream=False).start()

    def tearDown(self):
        self.env.stop()

    def edit_config(self, fn):
        with open(self.env.config_path) as f:
            text = f.read()
        with open(self.env.config_path, "w") as f:
            f.write(fn(text))

    def hup(self, expect):
        start = len(parent_log(self.env))
        self.env.gateway.signal(signal.SIGHUP)
        h.wait_until(lambda: re.search(expect, parent_log(self.env)[start:]), 8,
                     what="reload to log %r" % expect)

    def test_good_reload_under_load_drops_nothing(self):
        env = self.env
        self.assertEqual(env.https("GET", "/pass/finance/r", who="tax").status, 200)
        stop = threading.Event()
        results = []

        def load():
            while not stop.is_set():
                try:
                    results.append(env.https("GET", "/pass/finance/load").status)
                except Exception as e:     # a failed request is what we look for
                    results.append(repr(e))
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        self.edit_config(lambda t: t.replace("roles = finance, finance-city, tax",
                                             "roles = finance, finance-city"))
        self.hup(r"reload: done")
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(10)
        self.assertGreater(len(results), 20)
        failed = [r for r in results if r != 200]
        self.assertEqual(failed, [], "requests failed during the reload")
        # New connections use the new configuration.
        self.assertEqual(env.https("GET", "/pass/finance/r", who="tax").status, 403)
        h.wait_until(lambda: "has drained" in parent_log(env), 8,
                     what="the old workers to drain")

    def test_bad_reload_keeps_serving(self):
        env = self.env
        self.edit_config(lambda t: t + "\n[limits]\nno_such_limit = 1\n")
        self.hup(r"reload: the new configuration has errors")
        self.assertRegex(parent_log(env), r"gateway\.conf:\d+: unknown key \"no_such_limit\"")
        for _ in range(5):
            self.assertEqual(env.https("GET", "/pass/finance/still").status, 200)
        self.assertEqual(env.https("GET", "/pass/finance/r", who="tax").status, 200)

    def test_reload_unpins_an_agency(self):
        env = self.env
        self.assertEqual(env.https("GET", "/pass/hrss/x", who="hrss").status, 200)
        pin = h.spki_sha256_hex(h.cert("unpinned"))

        def unpin_hrss(text):
            # hrss's certificate is replaced by one it does not hold.
            return re.sub(r"(\[agency hrss\]\nrole = hrss\n)pin_cert = \S+",
                          r"\1pin = " + pin, text)
        self.edit_config(unpin_hrss)
        self.hup(r"reload: done")
        r = env.https("GET", "/pass/hrss/x", who="hrss")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.json()["code"], "unknown-agency")


if __name__ == "__main__":
    unittest.main()
