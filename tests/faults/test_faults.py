"""Fault injection against the real daemon: what a user notices when things break.

  1. kill -9 of a relay worker, of the keeper, and of the whole process group
     (then a restart) at random moments under load: nothing acknowledged is lost,
     nothing is doubled, the log verifies, service comes back.
  2. the keeper's file system fills up: 503 audit-unavailable, nothing half-written,
     service resumes once space is back.
  3. thousands of slow and idle TLS connections from one agency: another agency is
     still served (latency figures printed), the slow ones get 408 at request_timeout
     and the idle ones are closed at idle_timeout.
  4. upstream resets and hangs mixed with normal requests: 502, 504, 200, no worker
     crash, the upstream pool recovers.
  5. SIGHUP with a broken configuration under load: nothing fails, the refusal names
     file:line, a later good reload works.

FAULTS_MODE=short (default, for make check) or full (make faults); see faultlib.py.
Run: tests/faults/run.sh   (or python3 -m unittest discover -s tests/faults -v)
"""

import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import unittest

import faultlib as F
from faultlib import h, fig, say

CRASH_LINES = re.compile(r"(killed by signal \d+|exited with status \d+)")


class FaultCase(unittest.TestCase):
    """Starts its own FaultEnv per test; always stops it (and fails on sanitizer reports)."""

    env = None

    def start_env(self, **kw):
        F.require_environment()
        env = F.FaultEnv(**kw)
        self.addCleanup(self._cleanup, env)
        self.env = env.start()
        return env

    def _cleanup(self, env):
        if env.gateway is not None and env.gateway.alive():
            env.gateway.stop(grace=5.0)
        text = "".join(p.stderr_text() for p in env.procs())
        failed = self._failed()
        if failed:
            for p in env.procs():
                if p.name.startswith("gatewayd"):
                    sys.stderr.write("\n---- %s stderr (tail) ----\n%s\n"
                                     % (p.name, p.stderr_tail(60)))
        env.stop()
        if h.LEAK_REPORT.search(text):
            say("warning: LeakSanitizer report in a process's stderr (%s)", self.id())
        m = h.SANITIZER_ERRORS.search(text)
        if m:
            i = m.start()
            self.fail("sanitizer report in a process's stderr:\n%s" % text[max(0, i - 200):i + 4000])

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if outcome is not None and not getattr(outcome, "success", True):
            return True
        if result is not None:
            for t, _ in list(result.failures) + list(result.errors):
                if t is self:
                    return True
        return False

    def crash_lines(self, env, start=0):
        return [ln for ln in env.parent_log()[start:].splitlines() if CRASH_LINES.search(ln)]


# ---------------------------------------------------------------------------
# 1. kill -9 under load

class TestKill9(FaultCase):

    def test_kill9_each_role_under_load(self):
        per_kind = fig("kills_per_kind")
        env = self.start_env(workers=2, shutdown_timeout="2s",
                             limits={"max_connections": "512",
                                     "max_connections_per_agency": "256",
                                     "request_timeout": "5s", "idle_timeout": "30s"})
        seed, R = F.rng()
        # Paced so that every acknowledged exchange can be looked up through the
        # audit API after every kill (unpaced, the load makes ~1,000 exchanges/s).
        load = F.Load(env, threads=fig("load_threads"), pace=0.01)
        self.addCleanup(load.stop)
        load.start()
        h.wait_until(lambda: load.ok_count() >= 10, 15, what="load to get answers")

        kinds = ["relay"] * per_kind + ["keeper"] * per_kind + ["group"] * per_kind
        R.shuffle(kinds)
        self.kills = {"relay": 0, "keeper": 0, "group": 0}
        self.checked = {}        # audit_index -> request_id, verified against the log
        self.rids = set()
        self.lines_seen = 0
        self.doubled = []
        self.lost = []
        recovery = {"relay": [], "keeper": [], "group": []}
        history = []
        kill_times = []          # (monotonic time, kind)

        for n, kind in enumerate(kinds):
            time.sleep(R.uniform(0.05, 0.8))
            history.append(kind)
            ok_before = load.ok_count()
            if kind == "relay":
                workers = env.worker_pids()
                self.assertTrue(workers, "no live relay worker to kill")
                slot = R.choice(sorted(workers))
                starts = env.count(r'"msg":"relay worker %d started' % slot)
                t0 = time.monotonic()
                os.kill(workers[slot], signal.SIGKILL)
                kill_times.append((t0, kind))
                h.wait_until(lambda: env.count(r'"msg":"relay worker %d started' % slot) > starts,
                             10, interval=0.02, what="relay worker %d restarted" % slot)
            elif kind == "keeper":
                pid = env.keeper_pid()
                starts = env.count(r'"msg":"relay worker \d+ started')
                t0 = time.monotonic()
                os.kill(pid, signal.SIGKILL)
                kill_times.append((t0, kind))
                h.wait_until(lambda: env.keeper_pid() not in (None, pid), 10, interval=0.02,
                             what="a new keeper after killing %d" % pid)
                # ... and then every worker restarted with a channel to it.
                h.wait_until(lambda: env.count(r'"msg":"relay worker \d+ started')
                             >= starts + 2, 20, interval=0.02,
                             what="relay workers restarted after the keeper")
            else:
                t0 = time.monotonic()
                env.kill_group()
                kill_times.append((t0, kind))
                env.start_gateway()
            self.kills[kind] += 1
            self.assertTrue(env.gateway.alive(), "gatewayd died after a %s kill" % kind)
            F.wait_serving(env, timeout=20)
            # The load's own connections get answers again too.
            h.wait_until(lambda: load.ok_count() > ok_before + 3, 20, interval=0.05,
                         what="the load to be served again after a %s kill (history %s)"
                         % (kind, history))
            recovery[kind].append(time.monotonic() - t0)
            self.check_access_log(env, "after kill %d (%s; history %s; seed %s)"
                                  % (n + 1, kind, history, seed))
            sys.stderr.write("  kill %d/%d %-6s served again after %.2fs; %d acknowledged "
                             "exchanges checked so far\n"
                             % (n + 1, len(kinds), kind, recovery[kind][-1], len(self.checked)))

        load.stop()
        # Settle: every exchange answered by now has its access line.
        time.sleep(0.5)
        self.check_access_log(env, "at the end")
        rc = env.gateway.stop(grace=10.0)
        self.assertEqual(rc, 0, "gatewayd did not stop cleanly (seed %s)" % seed)
        vrc, out, err = env.verify()
        self.assertEqual(vrc, 0, "gatewayctl audit verify: %s %s" % (out, err))
        self.assertIn("audit log OK", out + err)

        # Tallies straight from the database (the daemon is stopped).
        db = env.db_request_ids()
        self.assertEqual([i for i, _ in db], list(range(len(db))), "holes in the log")
        rid_count = {}
        for _, rid in db:
            if rid is None:     # each start's trust entry, no exchange
                continue
            rid_count[rid] = rid_count.get(rid, 0) + 1
        doubled_db = sorted(r for r, k in rid_count.items() if k > 1)
        in_db = set(rid_count)
        for ln in env.access_log_lines():
            i = ln.get("audit_index")
            if i is not None:
                self.assertTrue(i < len(db) and db[i][1] == ln.get("request_id"),
                                "access line %r does not match the stopped log" % ln)
        served = [a for a in load.answers if a[0]]
        unaudited = {}
        unaudited_200_by_kill = {"relay": 0, "keeper": 0, "group": 0}
        for a in served:
            if a[0] not in in_db:
                unaudited[a[1]] = unaudited.get(a[1], 0) + 1
                if a[1] == 200 and kill_times:
                    nearest = min(kill_times, key=lambda k: abs(k[0] - a[3]))
                    unaudited_200_by_kill[nearest[1]] += 1
        null_lines = sum(1 for ln in env.access_log_lines()
                         if ln.get("audit_index") is None and ln.get("listener") == "agency"
                         and not ln.get("path", "").startswith("/audit/"))
        say("kill -9 under load (seed %s): kills relay=%d keeper=%d group=%d; "
            "acknowledged exchanges checked=%d, lost=%d, doubled=%d (access log) / %d (database); "
            "log entries=%d; load answers=%d %s, client transport errors=%d; "
            "answered but not in the log (by status)=%s, those 200s by nearest kill=%s, "
            "agency access lines with audit_index null=%d; "
            "recovery s (max) relay=%.2f keeper=%.2f group=%.2f; verify OK",
            seed, self.kills["relay"], self.kills["keeper"], self.kills["group"],
            len(self.checked), len(self.lost), len(self.doubled), len(doubled_db), len(db),
            len(load.answers), dict(sorted(load.statuses.items())), load.errors,
            unaudited, unaudited_200_by_kill, null_lines,
            max(recovery["relay"] or [0]), max(recovery["keeper"] or [0]),
            max(recovery["group"] or [0]))
        self.assertEqual(doubled_db, [], "request ids with two entries in the log")
        self.assertEqual(load.wrong_body, [], "answers that belong to another request")
        for kind in self.kills:
            self.assertGreaterEqual(self.kills[kind], per_kind)

    def test_kill9_parent_alone(self):
        """The parent dies alone (OOM killer, kill -9 of the main pid): its keeper and
        workers must not outlive it, or a restarted gatewayd shares the listening ports
        (SO_REUSEPORT) with orphans that can no longer audit anything."""
        env = self.start_env(workers=2, shutdown_timeout="2s",
                             limits={"request_timeout": "5s", "idle_timeout": "30s"})
        F.wait_serving(env)
        kids = h.children_of(env.gateway.pid)
        self.assertGreaterEqual(len(kids), 3, "expected a keeper and two workers")
        os.kill(env.gateway.pid, signal.SIGKILL)
        env.gateway.wait(5)

        def orphans():
            out = []
            for pid in kids:
                try:
                    with open("/proc/%d/stat" % pid) as f:
                        if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                            out.append(pid)
                except OSError:
                    pass
            return out
        deadline = time.monotonic() + 5
        while orphans() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = orphans()
        # What a user sees: the supervisor starts gatewayd again.
        env.start_gateway()
        ctx = h.client_context("finance")
        statuses = {}
        for i in range(40):
            c = F.KeepAlive(env, context=ctx)
            try:
                st = c.request("GET", "/pass/finance/after-parent/%d" % i)[0]
            except F.TRANSPORT_ERRORS as e:
                st = type(e).__name__
            finally:
                c.close()
            statuses[st] = statuses.get(st, 0) + 1
        for pid in left:           # they are not in the new gateway's process group
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        say("kill -9 of the parent alone: roles still running 5s later=%d of %d; after a "
            "restart, 40 new requests got %s", len(left), len(kids), statuses)
        self.assertEqual(left, [], "keeper/workers outlived their parent by 5s")
        self.assertEqual(statuses, {200: 40}, "requests failed after the restart")

    def check_access_log(self, env, when):
        lines = env.access_log_lines()
        new = lines[self.lines_seen:]
        self.lines_seen = len(lines)
        for ln in new:
            i = ln.get("audit_index")
            if i is None:
                continue
            rid = ln.get("request_id")
            if rid in self.rids:
                self.doubled.append(("request id logged twice", rid))
            self.rids.add(rid)
            if i in self.checked:
                self.doubled.append((i, self.checked[i], rid))
                continue
            e = env.entry(i)
            if e is None or e.get("request_id") != rid:
                self.lost.append((i, rid, e))
            self.checked[i] = rid
        self.assertEqual(self.doubled, [], "audit index acknowledged twice %s" % when)
        self.assertEqual(self.lost, [], "acknowledged entries missing or different %s" % when)


# ---------------------------------------------------------------------------
# 2. the keeper's file system is full

class TestDiskFull(FaultCase):

    TMPFS_SIZE = "16m"

    def test_database_directory_out_of_space(self):
        d = tempfile.mkdtemp(prefix="gw-faults-db-")
        os.chmod(d, 0o755)
        F.mount_tmpfs(d, self.TMPFS_SIZE)
        self.addCleanup(os.rmdir, d)
        self.addCleanup(F.umount, d)       # runs before rmdir, after the env's cleanup
        env = self.start_env(keeper_dir=d, workers=2,
                             limits={"request_timeout": "5s", "idle_timeout": "30s"})
        self.assertTrue(os.path.exists(env.database), "the database is not on the tmpfs")
        keeper0 = env.keeper_pid()
        c = F.KeepAlive(env)
        self.addCleanup(c.close)
        for i in range(20):
            self.assertEqual(c.request("GET", "/pass/finance/before/%d" % i)[0], 200)
        h.wait_until(lambda: os.path.exists(env.checkpoint_file), 5,
                     what="the checkpoint file on the tmpfs")

        # Fresh entries not yet covered by a checkpoint when the space runs out: the
        # checkpoint that is due then fails too.
        for i in range(5):
            self.assertEqual(c.request("GET", "/pass/finance/due/%d" % i)[0], 200)
        filler = os.path.join(d, "filler")
        filled = F.fill(filler)
        t_full = time.monotonic()
        # Exchanges already on their way may still be served (their entries are
        # refused); new ones must get 503 audit-unavailable.
        served_while_full = 0
        first = None
        tries = 0
        while time.monotonic() - t_full < 30:
            tries += 1
            try:
                st, hdrs, body = c.request("GET", "/pass/finance/full/%d/%s"
                                           % (tries, h.token()))
            except F.TRANSPORT_ERRORS:
                continue    # the keeper stopped: its relay workers drain
            if st == 503:
                first = (st, hdrs, body)
                break
            self.assertEqual(st, 200, body)
            served_while_full += 1
        self.assertIsNotNone(first, "no 503 within 30s of the disk filling up "
                                    "(%d requests served)" % served_while_full)
        st, hdrs, body = first
        doc = json.loads(body)
        self.assertEqual(doc.get("code"), "audit-unavailable", doc)
        self.assertIn("retry-after", hdrs, "503 without Retry-After: %r" % hdrs)
        self.assertIn("json", hdrs.get("content-type", ""))

        # Still full: every new exchange is refused, over several of the keeper's
        # once-a-second space checks.
        # The failed commit stopped the keeper (it does not write again over what may
        # be durable); the new one waits for room with the relays refusing exchanges.
        # The new keeper may say so before the parent logs its pid: wait for both.
        h.wait_until(lambda: "exited with status 75" in env.parent_log() and
                     "the previous keeper could not write" in env.all_gateway_stderr() and
                     env.keeper_pid() not in (None, keeper0), 20,
                     what="the keeper to stop on the full disk and a new one to start")
        refused = 1
        keeper = env.keeper_pid()
        log0, cpu0, t_win = self.keeper_lines(env), F.cpu_seconds(keeper), time.monotonic()
        t_end = time.monotonic() + 2.5
        while time.monotonic() < t_end:
            try:
                st, hdrs, body = c.request("GET", "/pass/finance/full/%s" % h.token())
            except F.TRANSPORT_ERRORS:
                continue    # the relay workers of the old keeper draining
            self.assertEqual(st, 503, "served while the audit log cannot be written: %r"
                             % body[:200])
            self.assertEqual(json.loads(body).get("code"), "audit-unavailable")
            refused += 1
            time.sleep(0.05)
        self.assertEqual(env.keeper_pid(), keeper, "the keeper restarted again while full")
        win = time.monotonic() - t_win
        keeper_rate = (self.keeper_lines(env) - log0) / win
        keeper_cpu = 100.0 * (F.cpu_seconds(keeper) - cpu0) / win
        refused_metric = env.metric("gateway_audit_refused_total")

        os.unlink(filler)
        t_free = time.monotonic()
        resumed = None
        while time.monotonic() - t_free < 15:
            try:
                st, _, _ = c.request("GET", "/pass/finance/after/%s" % h.token())
            except F.TRANSPORT_ERRORS:
                st = None
            if st == 200:
                resumed = time.monotonic() - t_free
                break
            time.sleep(0.05)
        self.assertIsNotNone(resumed, "not serving 15s after the space came back")
        after = []
        for i in range(20):
            st, hdrs, _ = c.request("GET", "/pass/finance/after/%d" % i)
            self.assertEqual(st, 200)
            after.append(hdrs.get("x-gateway-request-id"))
        # ... and those exchanges are in the log again.
        def indexed():
            by_rid = {ln.get("request_id"): ln.get("audit_index") for ln in env.access_log_lines()}
            return all(by_rid.get(r) is not None for r in after)
        h.wait_until(indexed, 10, interval=0.1, what="audit indexes for the exchanges after "
                     "the space came back")
        lines = env.access_log_lines()
        null_lines = sum(1 for ln in lines if ln.get("audit_index") is None)

        rc = env.gateway.stop(grace=10.0)
        self.assertEqual(rc, 0, "gatewayd did not stop cleanly")
        vrc, out, err = env.verify()
        self.assertEqual(vrc, 0, "audit verify after the disk-full episode: %s %s" % (out, err))
        self.assertIn("audit log OK", out + err)
        db = env.db_request_ids()
        in_db = {rid for _, rid in db}
        for ln in lines:
            if ln.get("audit_index") is not None:
                self.assertEqual(db[ln["audit_index"]][1], ln["request_id"])
        # The files the episode left behind (database, WAL, checkpoint file) are
        # taken back by a new daemon, which serves and extends the log.
        env.start_gateway()
        c2 = F.KeepAlive(env)
        self.addCleanup(c2.close)
        st, hdrs, _ = c2.request("GET", "/pass/finance/restarted/" + h.token())
        self.assertEqual(st, 200, "not serving after a restart on the same files")
        rid = hdrs.get("x-gateway-request-id")
        # The restart logs the files in force first (a trust entry), then the exchange.
        h.wait_until(lambda: any(ln.get("request_id") == rid and
                                 ln.get("audit_index") == len(db) + 1
                                 for ln in env.access_log_lines()), 10, interval=0.1,
                     what="the first exchange after the restart at index %d" % (len(db) + 1))
        c2.close()
        self.assertEqual(env.gateway.stop(grace=10.0), 0)
        vrc, out, err = env.verify()
        self.assertEqual(vrc, 0, "audit verify after the restart: %s %s" % (out, err))
        say("disk full (tmpfs %s, filler %d bytes): served after the fill before the first "
            "503=%d, 503 audit-unavailable=%d, gateway_audit_refused_total=%s, access lines "
            "without audit index=%d, resumed %.2fs after the filler was removed, log entries=%d, "
            "verify OK, restart on the same files OK; while full the keeper logged %.0f "
            "lines/s and used %.0f%% CPU", self.TMPFS_SIZE, filled, served_while_full, refused,
            refused_metric, null_lines, resumed, len(db), keeper_rate, keeper_cpu)
        self.assertTrue(all(r in in_db for r in after))
        # About 20 refused exchanges a second make a few keeper lines each; a keeper
        # retrying its checkpoint in a loop makes thousands (and burns a core).
        self.assertLess(keeper_rate, 200, "the keeper logged %.0f lines/s (%.0f%% CPU) while "
                        "the disk was full" % (keeper_rate, keeper_cpu))

    @staticmethod
    def keeper_lines(env):
        return env.parent_log().count('"role":"keeper"')


# ---------------------------------------------------------------------------
# 2b. a sync of the audit log fails (the disk reports a failed write-back)

class TestSyncFails(FaultCase):
    """fsync/fdatasync fail with EIO (build/failsync.so) at a commit: the keeper must not
    write again over what may be durable. It stops, the parent starts a new one from the
    files, the failed batch is answered 503 (never acknowledged), and the log verifies."""

    def test_failed_sync_at_commit_restarts_the_keeper(self):
        shim = os.path.join(h.REPO, "build", "failsync.so")
        if not os.path.exists(shim):
            self.skipTest("needs build/failsync.so (make)")
        F.require_environment()
        env = F.FaultEnv(workers=2)
        trigger = os.path.join(env.dir, "failsync-now")
        env.gateway_env = {
            "LD_PRELOAD": shim, "GW_FAILSYNC": trigger,
            # The sanitizer runtime need not come first: the shim only wraps two calls.
            "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
        self.addCleanup(self._cleanup, env)
        self.env = env.start()
        c = F.KeepAlive(env)
        self.addCleanup(c.close)
        before = []
        for i in range(10):
            st, hdrs, _ = c.request("GET", "/pass/finance/sync-before/%d" % i)
            self.assertEqual(st, 200)
            before.append(hdrs.get("x-gateway-request-id"))

        def indexed(rids):
            idx = {ln.get("request_id"): ln.get("audit_index") for ln in env.access_log_lines()}
            return all(idx.get(r) is not None for r in rids)
        h.wait_until(lambda: indexed(before), 15, interval=0.1,
                     what="audit indexes of the exchanges before")
        keeper0 = env.keeper_pid()

        open(trigger, "w").close()
        refused = None
        t0 = time.monotonic()
        while refused is None and time.monotonic() - t0 < 20:
            try:
                st, hdrs, body = c.request("GET", "/pass/finance/sync-failing/" + h.token())
            except F.TRANSPORT_ERRORS:
                continue
            if st == 503:
                refused = (hdrs.get("x-gateway-request-id"), json.loads(body).get("code"))
            else:
                self.assertEqual(st, 200, body)
        self.assertIsNotNone(refused, "no 503 within 20 s of the syncs failing")
        self.assertEqual(refused[1], "audit-unavailable")
        h.wait_until(lambda: re.search(r'"keeper \(pid %d\) exited with status 75"'
                                       % keeper0, env.parent_log()) is not None, 20,
                     what="the keeper to stop on the failed sync")
        self.assertIn("the audit log's storage failed", env.all_gateway_stderr())

        os.unlink(trigger)
        after = []
        t1 = time.monotonic()
        while len(after) < 10 and time.monotonic() - t1 < 30:
            try:
                st, hdrs, _ = c.request("GET", "/pass/finance/sync-after/" + h.token())
            except F.TRANSPORT_ERRORS:
                time.sleep(0.1)
                continue
            if st == 200:
                after.append(hdrs.get("x-gateway-request-id"))
            else:
                time.sleep(0.1)
        self.assertEqual(len(after), 10, "not serving 30 s after the syncs work again")
        self.assertNotEqual(env.keeper_pid(), keeper0, "the keeper was not restarted")

        h.wait_until(lambda: indexed(after), 15, interval=0.1,
                     what="audit indexes of the exchanges after")
        lines = env.access_log_lines()
        failed = [ln for ln in lines if ln.get("request_id") == refused[0]]
        self.assertTrue(failed and all(ln.get("audit_index") is None for ln in failed),
                        "the refused exchange was acknowledged: %r" % failed)
        self.assertEqual(env.gateway.stop(grace=10.0), 0)
        vrc, out, err = env.verify()
        self.assertEqual(vrc, 0, "audit verify after the failed sync: %s %s" % (out, err))
        db = dict(env.db_request_ids())
        acked = [ln for ln in lines if ln.get("audit_index") is not None]
        for ln in acked:
            self.assertEqual(db.get(ln["audit_index"]), ln["request_id"])
        say("failed sync at commit: 503 audit-unavailable for the failed batch, keeper "
            "restarted (exit 75), %d acknowledged entries all in the log, verify OK", len(acked))


# ---------------------------------------------------------------------------
# 3. slow and idle connections from one agency

class TestSlowConnections(FaultCase):

    def measure(self, env, n, who="hrss"):
        """n requests of `who`, each on a new connection; ([seconds], [non-200])."""
        ctx = h.client_context(who)
        lat, bad = [], []
        for i in range(n):
            c = F.KeepAlive(env, who, timeout=10.0, context=ctx)
            t0 = time.monotonic()
            try:
                st, _, body = c.request("GET", "/pass/hrss/lat/%d/%s" % (i, h.token()))
            except F.TRANSPORT_ERRORS as e:
                bad.append(repr(e))
                continue
            finally:
                c.close()
            lat.append(time.monotonic() - t0)
            if st != 200:
                bad.append((st, body[:200]))
        return lat, bad

    def test_slow_and_idle_connections(self):
        n = fig("slow_conns")
        m = fig("measured_requests")
        rt = fig("slow_request_timeout")
        it = fig("slow_idle_timeout")
        nofile = F.raise_nofile(2 * n + 1024)
        self.assertGreaterEqual(nofile, n + 256, "RLIMIT_NOFILE too low for %d connections" % n)
        # Every client here is 127.0.0.1: the handshake budgets per address are
        # raised to the whole budget, as for agencies behind one NAT address. With
        # the default share (64 a worker) a loaded machine, whose workers finish
        # handshakes later than the clients do, refused some of the 48 in flight.
        env = self.start_env(workers=2, stubs=("finance", "hrss"), down_upstream=False,
                             limits={"max_connections": str(max(8192, 2 * n)),
                                     "max_connections_per_agency": "4096",
                                     "max_handshakes": "1024",
                                     "max_handshakes_per_address": "1024",
                                     "request_timeout": "%ds" % rt,
                                     "idle_timeout": "%ds" % it})
        self.measure(env, 10)     # warm-up: the first handshakes are slower
        base_lat, base_bad = self.measure(env, m)
        self.assertEqual(base_bad, [])

        slow = F.SlowClients(env.agency_port, "finance", n)
        self.addCleanup(slow.stop)
        open_s = slow.open(timeout=max(120, it - 5))
        self.assertEqual(slow.failed_open, [], "connections that could not be opened")
        early = [(c.i, c.how, c.got[:100]) for c in slow.conns if c.state == "closed"]
        self.assertEqual(early, [], "connections closed or refused while opening "
                         "(refusals by reason: %s)" % [
                             (r, env.metric('gateway_connections_refused_total{listener="agency",'
                                            'reason="%s"}' % r))
                             for r in ("over-capacity", "per-address", "evicted")])
        self.assertLess(open_s, it - 3, "opening took %.1fs: too long for idle_timeout %ds "
                        "(the first idle connections would close during the measurement)"
                        % (open_s, it))
        gauge = env.metric("gateway_connections_open")
        slow.start()
        slow.start_trickle()
        t_loaded = time.monotonic()
        lat, bad = self.measure(env, m)
        measure_s = time.monotonic() - t_loaded
        still_open = slow.open_count()
        self.assertEqual(bad, [], "the other agency's requests failed")

        # Now the slow ones must go: 408 at request_timeout, idle ones at idle_timeout.
        deadline = time.monotonic() + max(rt, it) + 20
        h.wait_until(lambda: slow.open_count() == 0 or time.monotonic() > deadline,
                     max(rt, it) + 25, interval=0.5, what="slow connections to be closed")
        slow.stop()
        trickle = [c for c in slow.conns if c.kind == "trickle"]
        idle = [c for c in slow.conns if c.kind == "idle"]
        t_408 = [c.t_end - c.t_first for c in trickle if c.how == "408" and c.t_first]
        bad_trickle = [(c.i, c.how, c.got[:80]) for c in trickle
                       if c.how != "408" or c.t_first is None]
        t_idle = [c.t_end - c.t_ready for c in idle if c.how in ("eof", "reset")]
        bad_idle = [(c.i, c.how, c.got[:80]) for c in idle if c.how not in ("eof", "reset")]
        # A busy worker's timers may fire up to one event-loop pass early (libevent
        # arms them from the time cached at the start of the pass).
        early_408 = [x for x in t_408 if x < rt - 1.0]
        early_idle = [x for x in t_idle if x < it - 1.0]
        bodies = [c.got for c in trickle if c.how == "408"][:1]

        say("slow connections: %d from finance (%d trickling a header byte a second, %d idle "
            "after TLS), opened in %.1fs, gateway_connections_open=%s, still open after the "
            "measurement=%d; hrss latency over %d requests (new connection each): "
            "baseline p50=%.1fms p99=%.1fms, with the slow connections p50=%.1fms p99=%.1fms "
            "(%.1fs); 408 after %.1f-%.1fs (request_timeout %ds, %d/%d), idle closed after "
            "%.1f-%.1fs (idle_timeout %ds, %d/%d)",
            n, len(trickle), len(idle), open_s, gauge, still_open, m,
            1000 * F.percentile(base_lat, 50), 1000 * F.percentile(base_lat, 99),
            1000 * F.percentile(lat, 50), 1000 * F.percentile(lat, 99), measure_s,
            min(t_408 or [0]), max(t_408 or [0]), rt, len(t_408), len(trickle),
            min(t_idle or [0]), max(t_idle or [0]), it, len(t_idle), len(idle))
        self.assertEqual(bad_trickle[:10], [], "trickling connections not ended by a 408")
        self.assertEqual(bad_idle[:10], [], "idle connections not closed silently")
        self.assertEqual(early_408, [], "408 before request_timeout")
        self.assertEqual(early_idle, [], "idle connections closed before idle_timeout")
        self.assertLess(max(t_408), rt + 10, "408 long after request_timeout")
        self.assertLess(max(t_idle), it + 10, "idle connections kept long after idle_timeout")
        self.assertIn(b'"request-timeout"', bodies[0])
        self.assertGreaterEqual(still_open, n * 9 // 10,
                                "the slow connections were not held during the measurement")
        self.assertEqual(self.crash_lines(env), [])


# ---------------------------------------------------------------------------
# 4. upstream resets and hangs under load

class TestUpstreamFaults(FaultCase):

    UPSTREAM_TIMEOUT = 1.0

    def test_resets_and_hangs_under_load(self):
        env = self.start_env(workers=2, stubs=("finance",), down_upstream=False,
                             slow_upstream_timeout="1s", upstream_timeout="5s",
                             limits={"request_timeout": "5s", "idle_timeout": "30s"})
        rounds = fig("upstream_rounds")
        nthreads = fig("load_threads")
        lock = threading.Lock()
        results = []             # (kind, status, code, seconds, path_ok)
        errors = []

        def run(n):
            c = F.KeepAlive(env, "finance", timeout=10.0)
            for i in range(rounds):
                k = (i + 3 * n) % 10
                if k == 0:
                    kind, path, hdr = "reset", "/pass/finance/reset/", {"X-Stub-Mode": "reset"}
                elif k == 5:
                    kind, path, hdr = "hang", "/pass/slow/hang/", {"X-Stub-Mode": "hang"}
                elif k % 2:
                    kind, path, hdr = "normal", "/pass/finance/ok/", {}
                else:
                    kind, path, hdr = "normal", "/pass/slow/ok/", {}
                path += "%d/%d/%s" % (n, i, h.token())
                post = i % 3 == 0
                t0 = time.monotonic()
                try:
                    st, hdrs, body = c.request("POST" if post else "GET", path, headers=hdr,
                                               body=b"p" * 100 if post else None)
                except F.TRANSPORT_ERRORS as e:
                    with lock:
                        errors.append((kind, path, repr(e)))
                    continue
                dt = time.monotonic() - t0
                code = None
                ok = None
                try:
                    doc = json.loads(body)
                    code = doc.get("code")
                    if st == 200:
                        ok = doc.get("path") == path
                except ValueError:
                    pass
                with lock:
                    results.append((kind, st, code, dt, ok))
            c.close()

        threads = [threading.Thread(target=run, args=(n,)) for n in range(nthreads)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(rounds * 3 + 60)
        phase_s = time.monotonic() - t0

        def of(kind):
            return [r for r in results if r[0] == kind]
        resets, hangs, normal = of("reset"), of("hang"), of("normal")
        bad_resets = [r for r in resets if r[1] != 502]
        bad_hangs = [r for r in hangs if r[1] != 504 or r[2] != "upstream-timeout"
                     or not (self.UPSTREAM_TIMEOUT - 0.2 <= r[3] < self.UPSTREAM_TIMEOUT + 2.5)]
        bad_normal = [r for r in normal if r[1] != 200 or not r[4]]
        normal_lat = [r[3] for r in normal] or [0]

        # The pool afterwards: sequential requests on one connection are answered
        # correctly and reuse pooled upstream connections.
        stub = env.stubs["finance"]
        c = F.KeepAlive(env, "finance")
        pool_paths = []
        for prefix in ("/pass/finance/pool/", "/pass/slow/pool/"):
            for i in range(10):
                p = prefix + "%d/%s" % (i, h.token())
                st, _, body = c.request("GET", p)
                self.assertEqual(st, 200, body)
                self.assertEqual(json.loads(body).get("path"), p, "stale upstream answer")
                pool_paths.append(p)
        c.close()
        recs = {}
        for p in pool_paths:
            for r in stub.wait_record(p):
                recs[p] = h.record_conn_id(r)
        distinct = {pre: len({recs[p] for p in pool_paths if p.startswith(pre)})
                    for pre in ("/pass/finance/pool/", "/pass/slow/pool/")}
        crashes = self.crash_lines(env)
        say("upstream faults (%d threads, %.1fs): resets=%d (502: %d), hangs=%d (504 "
            "upstream-timeout in time: %d, %.2f-%.2fs), normal=%d (200 with the right body: "
            "%d, p50=%.1fms p99=%.1fms), client transport errors=%d; afterwards 10+10 "
            "sequential requests used %d and %d upstream connections; worker crashes=%d",
            nthreads, phase_s, len(resets), len(resets) - len(bad_resets), len(hangs),
            len(hangs) - len(bad_hangs), min([r[3] for r in hangs] or [0]),
            max([r[3] for r in hangs] or [0]), len(normal), len(normal) - len(bad_normal),
            1000 * F.percentile(normal_lat, 50), 1000 * F.percentile(normal_lat, 99),
            len(errors), distinct["/pass/finance/pool/"], distinct["/pass/slow/pool/"],
            len(crashes))
        self.assertEqual(errors[:10], [], "requests without an answer")
        self.assertEqual(len(results), rounds * nthreads)
        self.assertEqual(bad_resets[:10], [], "upstream resets not answered 502")
        self.assertEqual(bad_hangs[:10], [], "upstream hangs not answered 504 in time")
        self.assertEqual(bad_normal[:10], [], "normal requests disturbed by the faults")
        self.assertEqual(crashes, [], "a worker died")
        for pre, k in distinct.items():
            self.assertLess(k, 10, "no upstream connection reused for %s after the faults" % pre)


# ---------------------------------------------------------------------------
# 5. a broken configuration reloaded under load

class TestBrokenReload(FaultCase):

    def test_broken_reload_under_load(self):
        env = self.start_env(workers=2, stubs=("finance", "hrss"), down_upstream=False,
                             limits={"request_timeout": "5s", "idle_timeout": "30s"})
        secs = fig("reload_seconds")
        with open(env.config_path) as f:
            good = f.read()
        lock = threading.Lock()
        results = []
        stop = threading.Event()

        def load(n):
            ctx = h.client_context("finance")
            i = 0
            while not stop.is_set():
                i += 1
                c = F.KeepAlive(env, "finance", timeout=10.0, context=ctx)
                try:
                    st = c.request("GET", "/pass/finance/reload/%d/%d" % (n, i))[0]
                except F.TRANSPORT_ERRORS as e:
                    st = repr(e)
                finally:
                    c.close()
                with lock:
                    results.append(st)

        threads = [threading.Thread(target=load, args=(n,)) for n in range(fig("load_threads"))]
        for t in threads:
            t.start()
        try:
            self.assertEqual(env.https("GET", "/pass/finance/r", who="tax").status, 200)
            time.sleep(secs)
            # Two kinds of breakage, each with the line it is on.
            lines = good.splitlines()
            li = lines.index("[limits]")
            broken = [
                ("bad value", lines[:li + 1] + ["request_timeout = soon"] + lines[li + 1:],
                 li + 2, r'bad duration "soon"'),
                ("unknown key", lines + ["no_such_limit = 1"], len(lines) + 1,
                 r'unknown key "no_such_limit"'),
            ]
            refusals = []
            for what, text, lineno, msg in broken:
                with open(env.config_path, "w") as f:
                    f.write("\n".join(text) + "\n")
                start = len(env.parent_log())
                env.gateway.signal(signal.SIGHUP)
                h.wait_until(lambda: "reload: the new configuration has errors" in
                             env.parent_log()[start:], 10,
                             what="the parent to refuse the %s" % what)
                log = env.parent_log()[start:]
                want = r"%s:%d: .*%s" % (re.escape(env.config_path), lineno, msg)
                self.assertRegex(log, want, "the refusal does not name file:line")
                refusals.append(re.search(want, log).group(0))
                time.sleep(secs)
                self.assertEqual(env.https("GET", "/pass/finance/r", who="tax").status, 200,
                                 "the broken configuration took effect")
            # A good reload (tax loses the finance route) still works afterwards.
            with open(env.config_path, "w") as f:
                f.write(good.replace("roles = finance, finance-city, tax",
                                     "roles = finance, finance-city"))
            start = len(env.parent_log())
            env.gateway.signal(signal.SIGHUP)
            h.wait_until(lambda: "reload: done" in env.parent_log()[start:], 10,
                         what="the good reload")
            time.sleep(secs)
            self.assertEqual(env.https("GET", "/pass/finance/r", who="tax").status, 403,
                             "the good reload did not take effect")
        finally:
            stop.set()
            for t in threads:
                t.join(15)
        failed = [r for r in results if r != 200]
        crashes = self.crash_lines(env)
        say("broken reload under load: %d requests, %d not 200; refusals logged: %s; "
            "good reload afterwards applied; worker crashes=%d",
            len(results), len(failed), refusals, len(crashes))
        self.assertGreater(len(results), 20)
        self.assertEqual(failed[:10], [], "requests failed around the reloads")
        self.assertEqual(crashes, [])


if __name__ == "__main__":
    unittest.main()
