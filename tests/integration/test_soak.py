"""A short soak: the WAL stays under its limit while the log grows by ~300,000 entries.

Steady passthrough exchanges and collections (XML, through the tax adapter) from loadgen
against a gateway whose `[keeper] wal_limit` is small (4 MiB, so that the WAL starts over
many times), while a thread samples the size of `audit.db-wal` every 10 ms. It asserts the
largest size seen is within the limit, that the checkpointer restarted the WAL, that it
never reported itself over the limit, and that `gatewayctl audit verify` accepts the log.

The load runs the release build (build/gatewayd, build/loadgen) whatever GATEWAYD says:
it is a load test, and the sanitizer build is too slow to make the entries in time.
Environment: GW_SOAK_ENTRIES (default 300000), GW_SOAK_MAX_SECONDS (default 240).
`make soak` (tests/soak/soak.py) is the long form with the whole fund's traffic.
"""

import os
import re
import subprocess
import sys
import threading
import time
import unittest

import harness as H
import messages as M

ENTRIES = int(os.environ.get("GW_SOAK_ENTRIES", "300000"))
MAX_SECONDS = float(os.environ.get("GW_SOAK_MAX_SECONDS", "240"))
WAL_LIMIT = 4 << 20
RELEASE = os.path.join(H.REPO, "build")
LOADGEN = os.path.join(RELEASE, "loadgen")
CTL = os.path.join(RELEASE, "gatewayctl")


def metric(text, name):
    m = re.search(r"^%s(?:\{[^}]*\})? ([0-9.e+-]+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


class WalSampler(threading.Thread):
    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.max = 0
        self.samples = 0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                self.max = max(self.max, os.stat(self.path).st_size)
            except FileNotFoundError:
                pass
            self.samples += 1
            time.sleep(0.01)


@unittest.skipUnless(os.access(LOADGEN, os.X_OK), "needs build/loadgen (make)")
class ShortSoak(unittest.TestCase):

    def setUp(self):
        self.saved = H.GATEWAYD
        H.GATEWAYD = os.path.join(RELEASE, "gatewayd")
        self.env = H.Env(keeper=[("wal_limit", WAL_LIMIT)], workers=2,
                         access_log="/dev/null").start()

    def tearDown(self):
        self.env.stop()
        H.GATEWAYD = self.saved

    def loadgen(self, seconds, prefix):
        env = self.env
        url = "https://%s:%d" % (H.LOCAL, env.agency_port)
        tax = "cert=%s,key=%s,type=application/xml,path=/v1/collections" % (
            H.cert("tax"), H.key("tax"))
        template = os.path.join(env.dir, "collection.xml")
        with open(template, "wb") as f:
            f.write(M.collection("{{ID}}"))
        procs = [
            subprocess.Popen([LOADGEN, "--url", url + "/pass/finance/soak",
                              "--cert", H.cert("finance"), "--key", H.key("finance"),
                              "--ca", H.ca_file(), "-c", "24", "-d", "%ds" % seconds,
                              "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL),
            subprocess.Popen([LOADGEN, "--url", url + "/v1/collections",
                              "--cert", H.cert("tax"), "--key", H.key("tax"),
                              "--ca", H.ca_file(), "-c", "8", "-d", "%ds" % seconds,
                              "--expect", "202", "--id-prefix", prefix,
                              "--body-template", template + "," + tax, "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL),
        ]
        for p in procs:
            p.communicate(timeout=seconds + 60)

    def metrics(self):
        return self.env.https("GET", "/metrics", who="admin", admin=True).body.decode()

    def test_wal_stays_under_its_limit(self):
        wal = os.path.join(self.env.dir, "audit.db-wal")
        sampler = WalSampler(wal)
        sampler.start()
        start = time.monotonic()
        rounds = 0
        entries = 0
        try:
            while entries < ENTRIES and time.monotonic() - start < MAX_SECONDS:
                self.loadgen(5, "soak%d" % rounds)
                rounds += 1
                entries = metric(self.metrics(), "gateway_audit_entries") or 0
        finally:
            sampler.stopping.set()
            sampler.join()
        m = self.metrics()
        elapsed = time.monotonic() - start
        sys.stderr.write("\n[short soak: %d entries in %.0f s (%.0f/s); WAL at most %d bytes "
                         "(limit %d, %d samples); restarts %s done, %s held off; longest "
                         "checkpoint %s s; longest periodic tasks: checkpoint %s s, its file %s s, "
                         "watches %s s]\n" % (
                             entries, elapsed, entries / elapsed, sampler.max, WAL_LIMIT,
                             sampler.samples,
                             metric(m, 'gateway_wal_restarts_total{outcome="done"}'),
                             metric(m, 'gateway_wal_restarts_total{outcome="busy"}'),
                             metric(m, "gateway_wal_checkpoint_max_seconds"),
                             metric(m, 'gateway_keeper_periodic_max_seconds{task="checkpoint"}'),
                             metric(m, 'gateway_keeper_periodic_max_seconds{task="checkpoint_file"}'),
                             metric(m, 'gateway_keeper_periodic_max_seconds{task="watch"}')))
        self.assertGreaterEqual(entries, min(ENTRIES, 50000),
                                "the load made too few entries to say anything")
        self.assertGreater(sampler.max, 0, "the WAL file was never seen")
        self.assertLessEqual(sampler.max, WAL_LIMIT)
        self.assertGreater(metric(m, "gateway_wal_restarts_total"), 0)
        self.assertEqual(metric(m, "gateway_wal_over_limit"), 0)
        self.assertEqual(metric(m, "gateway_wal_checkpoint_failures_total"), 0)
        # The database holds what the WAL held: the log verifies.
        self.env.gateway.stop()
        self.env.gateway = None
        out = subprocess.run([CTL, "audit", "verify", "-c", self.env.config_path],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        self.assertEqual(out.returncode, 0, out.stdout.decode(errors="replace")[-2000:])

    def test_a_reader_holding_a_snapshot_is_an_alert(self):
        """A reader that keeps an old snapshot open (a long gatewayctl read) holds the WAL's
        restart off: past its limit the gateway says so (metric and alert) instead of
        stalling the writer, and once the reader is gone the WAL shrinks back."""
        import sqlite3
        db = os.path.join(self.env.dir, "audit.db")
        self.loadgen(1, "warm")
        reader = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM entries").fetchone()
        wal = os.path.join(self.env.dir, "audit.db-wal")
        try:
            t0 = time.monotonic()
            while os.stat(wal).st_size <= WAL_LIMIT and time.monotonic() - t0 < 120:
                self.loadgen(2, "held%d" % int(time.monotonic() * 1000))
            self.assertGreater(os.stat(wal).st_size, WAL_LIMIT, "the WAL never passed its limit")
            H.wait_until(lambda: metric(self.metrics(), "gateway_wal_over_limit") == 1, 10,
                         what="gateway_wal_over_limit 1")
            self.loadgen(1, "tick")     # the alert comes with the keeper's next tick

            def alerted():
                r = self.env.https("GET", "/v1/alerts", who="admin")
                return any(a["rule"] == "wal-over-limit" for a in r.json()["alerts"])
            H.wait_until(alerted, 15, interval=0.2, what="the wal-over-limit alert")
            self.assertGreater(metric(self.metrics(),
                                      'gateway_wal_restarts_total{outcome="busy"}'), 0)
        finally:
            reader.rollback()
            reader.close()
        # The reader is gone: the next restart succeeds and the file is cut back.
        t1 = time.monotonic()
        while time.monotonic() - t1 < 60:
            self.loadgen(1, "after%d" % int(time.monotonic() * 1000))
            if (os.stat(wal).st_size <= WAL_LIMIT and
                    metric(self.metrics(), "gateway_wal_over_limit") == 0):
                break
        self.assertLessEqual(os.stat(wal).st_size, WAL_LIMIT)
        self.assertEqual(metric(self.metrics(), "gateway_wal_over_limit"), 0)


if __name__ == "__main__":
    unittest.main()
