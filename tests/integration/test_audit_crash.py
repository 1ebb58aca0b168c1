"""Crash safety of the audit log: kill -9 the keeper, or everything, under load.

After every crash: every exchange whose access-log line carries an audit_index is in
the database at that index with the same request id, `gatewayctl audit verify`
passes, and the checkpoint fetched before the crash is consistent with the one after
(consistency proof from /audit/proof/consistency, checked in Python).

Environment: GW_CRASH_CYCLES (default 20 per test).
Run: python3 -m unittest discover -s tests/integration -p 'test_audit_crash*.py' -v
"""

import base64
import json
import os
import random
import re
import signal
import sys
import time
import unittest

import keeperlib as K

CYCLES = int(os.environ.get("GW_CRASH_CYCLES", "20"))


class CrashCase(unittest.TestCase):

    def setUp(self):
        K.require_environment()
        self.env = K.KeeperEnv(workers=2, shutdown_timeout="1s").start()
        self.load = K.Load(self.env, threads=3)
        self.rng = random.Random(os.environ.get("GW_CRASH_SEED", None))
        self.stats = {"kills": 0, "acked_checked": 0, "lost": 0, "verified": 0,
                      "consistency_checked": 0}
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        self.load.stop()
        env, self.env = self.env, None
        if env is not None:
            out = env.all_stderr()
            env.stop()
            if K.harness.SANITIZER_ERRORS.search(out):
                self.fail("sanitizer report in gatewayd's stderr:\n%s" % out[-4000:])

    def report(self, what):
        sys.stderr.write("\n[%s: %d kills, %d acknowledged entries checked, %d lost, "
                         "%d verify runs, %d consistency proofs; load: %d answers, %r, "
                         "%d client errors]\n" % (
                             what, self.stats["kills"], self.stats["acked_checked"],
                             self.stats["lost"], self.stats["verified"],
                             self.stats["consistency_checked"], self.load.sent,
                             self.load.statuses, self.load.errors))

    # -- checks ----------------------------------------------------------------

    def check_log(self, cp_before):
        env = self.env
        acked = env.acknowledged()
        entries = env.entries()
        lost = []
        for i, rid in sorted(acked.items()):
            data = entries.get(i)
            if data is None or json.loads(data).get("request_id") != rid:
                lost.append((i, rid, data[:120] if data else None))
        self.stats["acked_checked"] = len(acked)
        self.stats["lost"] = len(lost)
        self.assertEqual(lost, [], "acknowledged entries lost or changed after a crash")
        self.assertEqual(sorted(entries), list(range(len(entries))), "holes in the log")

        rc, out, err = env.verify()
        self.assertEqual(rc, 0, "audit verify after a crash: %s %s" % (out, err))
        self.stats["verified"] += 1

        if cp_before is None:
            return
        cp_after = env.wait_checkpoint(cp_before.size, timeout=10)
        for cp in (cp_before, cp_after):
            self.assertTrue(K.verify_checkpoint_signature(cp, env.log_pub, env.dir), cp.text)
        r, doc = env.json_get("/audit/proof/consistency?old=%d&new=%d"
                              % (cp_before.size, cp_after.size))
        self.assertEqual(r.status, 200, r)
        proof = [base64.b64decode(h) for h in doc["hashes"]]
        self.assertTrue(K.verify_consistency(cp_before.size, cp_after.size, cp_before.root,
                                             cp_after.root, proof),
                        "checkpoint %d before the crash is not consistent with %d after"
                        % (cp_before.size, cp_after.size))
        self.stats["consistency_checked"] += 1

    def wait_acks_flowing(self, timeout=60.0):
        """Until new exchanges get audit indexes (the restarted roles serve)."""
        n0 = len(self.env.acknowledged())
        K.wait_until(lambda: len(self.env.acknowledged()) > n0 + 5, timeout, interval=0.05,
                     what="acknowledged exchanges after the restart")

    def latest_checkpoint(self):
        try:
            return self.env.checkpoint()
        except OSError:
            return None


class TestKillKeeper(CrashCase):

    def workers_started(self):
        return len(re.findall(r'"msg":"relay worker \d+ started',
                              self.env.gateway.stderr_text()))

    def test_kill_keeper_under_load(self):
        env = self.env
        self.load.start()
        self.wait_acks_flowing()
        for cycle in range(CYCLES):
            time.sleep(self.rng.uniform(0.05, 0.6))
            cp_before = self.latest_checkpoint()
            pid = env.keeper_pid()
            self.assertIsNotNone(pid, "no keeper pid in the parent's log")
            started = self.workers_started()
            os.kill(pid, signal.SIGKILL)
            self.stats["kills"] += 1
            # The parent starts a new keeper, then new workers with fresh channels.
            K.wait_until(lambda: env.keeper_pid() not in (None, pid), 10, interval=0.05,
                         what="a new keeper after killing %d" % pid)
            K.wait_until(lambda: self.workers_started() >= started + env.workers, 15,
                         interval=0.05, what="relay workers restarted after the keeper")
            self.wait_acks_flowing()
            self.assertTrue(env.gateway.alive(), "gatewayd died with its keeper")
            # Quiesce the load for the checks, then resume.
            self.load.stop()
            self.check_log(cp_before)
            self.load.start()
        self.load.stop()
        self.check_log(None)
        self.report("keeper kill -9")
        self.assertGreaterEqual(self.stats["kills"], CYCLES)


class TestKillEverything(CrashCase):

    def test_kill_process_group_under_load(self):
        env = self.env
        for cycle in range(CYCLES):
            self.load.start()
            if cycle == 0:
                self.wait_acks_flowing()
            time.sleep(self.rng.uniform(0.1, 0.6))
            cp_before = self.latest_checkpoint()
            env.kill_gateway()
            self.stats["kills"] += 1
            self.load.stop()
            env.start_gateway()
            self.check_log(cp_before)
        self.report("process group kill -9")
        self.assertGreaterEqual(self.stats["kills"], CYCLES)


if __name__ == "__main__":
    unittest.main()
