"""The audit log end to end: API, proofs checked independently in Python, and tampering
with a real log behind the daemon's back (DESIGN.md section 5).

Run: python3 -m unittest discover -s tests/integration -p 'test_audit*.py' -v
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import unittest

import keeperlib as K


def b64(s):
    return base64.b64decode(s, validate=True)


class AuditCase(unittest.TestCase):
    """One KeeperEnv per test; every process is killed in tearDown."""

    def setUp(self):
        K.require_environment()
        self.env = K.KeeperEnv().start()
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        env, self.env = self.env, None
        if env is not None:
            out = env.all_stderr()
            env.stop()
            if K.harness.SANITIZER_ERRORS.search(out):
                self.fail("sanitizer report in gatewayd's stderr:\n%s" % out[-4000:])

    # -- helpers --------------------------------------------------------------

    def traffic(self, n, prefix="x", who="finance"):
        res = self.env.passthrough(n, who=who, prefix=prefix)
        for rid, path, status, method in res:
            self.assertEqual(status, 200, path)
            self.assertTrue(rid and re.fullmatch(r"[0-9a-f]{16}", rid), rid)
        return res

    def signed_checkpoint(self, size):
        cp = self.env.wait_checkpoint(size)
        self.assertEqual(cp.origin, K.ORIGIN)
        self.assertTrue(K.verify_checkpoint_signature(cp, self.env.log_pub, self.env.dir),
                        "checkpoint signature does not verify with openssl:\n%s" % cp.text)
        return cp

    def entry(self, i, who="finance", admin=False):
        r = self.env.request("GET", "/audit/entries/%d" % i, who=who, admin=admin)
        self.assertEqual(r.status, 200, r)
        self.assertIn("application/json", r.header("Content-Type", ""))
        return r.body


class TestAuditAPI(AuditCase):

    def test_entries_proofs_and_access_log(self):
        env = self.env
        base = env.base     # the start-up's trust entry comes first
        res = self.traffic(12)
        cp1 = self.signed_checkpoint(base + 12)
        self.assertEqual(cp1.size, base + 12, "only our 12 exchanges are in the log")

        # Entries: canonical JSON, fields as the exchange happened.
        leaves = []
        by_rid = {}
        for i in range(cp1.size):
            if i < base:
                # Trust entries are for the operators and auditors, not the agencies.
                self.assertEqual(env.request("GET", "/audit/entries/%d" % i).status, 404)
                raw = self.entry(i, who="admin", admin=True)
            else:
                raw = self.entry(i)
            doc = json.loads(raw)
            canon = json.dumps(doc, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode("utf-8")
            self.assertEqual(raw, canon, "entry %d is not canonical JSON" % i)
            leaves.append(K.leaf_hash(raw))
            if i < base:
                self.assertEqual(doc["kind"], "trust", "entry %d comes before the exchanges" % i)
                continue
            by_rid[doc["request_id"]] = (i, doc)
        self.assertEqual(K.root_of(leaves), cp1.root,
                         "the checkpoint root is not the RFC 6962 root of the entries")
        for n, (rid, path, status, method) in enumerate(res):
            self.assertIn(rid, by_rid, "no entry for request %s" % rid)
            i, doc = by_rid[rid]
            self.assertEqual(i, base + n, "entries are not in request order")
            self.assertEqual(doc["kind"], "passthrough")
            self.assertEqual(doc["agency"], "finance")
            self.assertEqual(doc["path"], path)
            self.assertEqual(doc["method"], method)
            self.assertEqual(doc["status"], status)
            self.assertEqual(doc["route"], "finance-passthrough")
            self.assertEqual(doc["upstream"], "finance")
            body = b"" if method == "GET" else ("body-%d" % n).encode()
            self.assertEqual(doc["request"]["bytes"], len(body))
            self.assertEqual(doc["request"]["sha256"], hashlib.sha256(body).hexdigest())
            self.assertRegex(doc["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

        # Access log: every exchange's line carries its entry's index.
        lines = {ln["request_id"]: ln for ln in env.access_lines()
                 if ln.get("path", "").startswith("/pass/")}
        for rid, (i, doc) in by_rid.items():
            self.assertIn(rid, lines, "no access line for %s" % rid)
            self.assertEqual(lines[rid]["audit_index"], i)
        # Audit reads are not audited and carry a null index.
        reads = [ln for ln in env.access_lines() if ln.get("path", "").startswith("/audit/")]
        self.assertTrue(reads)
        self.assertTrue(all(ln["audit_index"] is None for ln in reads))

        # Inclusion proofs, explicit size and the default (checkpoint) size.
        for i in range(cp1.size):
            for q in ("/audit/proof/inclusion?index=%d&size=%d" % (i, cp1.size),
                      "/audit/proof/inclusion?index=%d" % i):
                r, doc = env.json_get(q)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(doc["index"], i)
                self.assertEqual(doc["tree_size"], cp1.size)
                self.assertEqual(b64(doc["leaf_hash"]), leaves[i])
                proof = [b64(h) for h in doc["hashes"]]
                self.assertTrue(K.verify_inclusion(i, cp1.size, leaves[i], proof, cp1.root),
                                "inclusion proof for %d does not verify: %r" % (i, doc))
                # A proof for the wrong leaf must not verify.
                self.assertFalse(K.verify_inclusion(i, cp1.size, leaves[(i + 1) % cp1.size],
                                                    proof, cp1.root))

        # A tlog-proof bundle, checked offline by gatewayctl with the vkey alone.
        vkey = env.vkey()
        self.assertTrue(vkey.startswith(K.ORIGIN + "+"), vkey)
        vkey_path = os.path.join(env.dir, "log.vkey")
        with open(vkey_path, "w") as f:
            f.write(vkey + "\n")
        for i in (base, base + 5, cp1.size - 1):
            r = env.request("GET", "/audit/proof/bundle?index=%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.body.startswith(b"c2sp.org/tlog-proof@v1\n"), r.body[:80])
            bundle = os.path.join(env.dir, "bundle-%d" % i)
            with open(bundle, "wb") as f:
                f.write(r.body)
            rc, out, err = env.ctl("audit", "verify-proof", bundle, "--vkey", vkey_path)
            self.assertEqual(rc, 0, "verify-proof failed: %s %s" % (out, err))
            self.assertIn("proof OK: entry %d" % i, out)
            # The same bundle with one byte of the entry changed must fail.
            text = r.body.decode()
            extra = re.search(r"^extra (\S+)$", text, re.M).group(1)
            entry = bytearray(b64(extra))
            entry[10] ^= 1
            bad = text.replace(extra, base64.b64encode(bytes(entry)).decode())
            with open(bundle + ".bad", "w") as f:
                f.write(bad)
            rc, out, err = env.ctl("audit", "verify-proof", bundle + ".bad", "--vkey", vkey_path)
            self.assertNotEqual(rc, 0, "a tampered bundle verified: %s" % out)
            self.assertIn("NOT included", err)

        # More traffic, a newer checkpoint, and a consistency proof between the two.
        self.traffic(9, prefix="y")
        cp2 = self.signed_checkpoint(base + 21)
        self.assertEqual(cp2.size, base + 21)
        all_leaves = [K.leaf_hash(self.entry(i, who="admin", admin=True))
                      for i in range(cp2.size)]
        self.assertEqual(all_leaves[:cp1.size], leaves, "old entries changed")
        self.assertEqual(K.root_of(all_leaves), cp2.root)
        for old in range(1, cp2.size + 1):
            r, doc = env.json_get("/audit/proof/consistency?old=%d&new=%d" % (old, cp2.size))
            self.assertEqual(r.status, 200, r)
            self.assertEqual((doc["old_size"], doc["new_size"]), (old, cp2.size))
            proof = [b64(h) for h in doc["hashes"]]
            old_root = K.root_of(all_leaves[:old])
            if old == cp1.size:
                self.assertEqual(old_root, cp1.root)
            self.assertTrue(K.verify_consistency(old, cp2.size, old_root, cp2.root, proof),
                            "consistency %d -> %d does not verify: %r" % (old, cp2.size, doc))
            if old == cp1.size:
                self.assertFalse(K.verify_consistency(old, cp2.size, cp2.root, cp2.root,
                                                      proof))

        # Admin listener and other agencies see the same log.
        for who, admin in (("admin", True), ("tax", False), ("hrss", False)):
            cp = env.checkpoint(who=who, admin=admin)
            self.assertIsNotNone(cp, who)
            self.assertEqual((cp.size, cp.root), (cp2.size, cp2.root))

        rc, out, err = env.verify()
        self.assertEqual(rc, 0, "audit verify failed on a live log: %s %s" % (out, err))
        self.assertIn("audit log OK: %d entries" % (base + 21), out)

    def assertJsonError(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertIn("json", r.header("Content-Type", "").lower(), r)
        doc = json.loads(r.body)
        self.assertIn("error", doc)
        self.assertTrue(doc.get("code"), doc)
        return doc

    def test_bad_queries(self):
        env = self.env
        self.traffic(4)
        n = env.base + 4    # the log: the start-up's trust entry, then 4 exchanges
        self.signed_checkpoint(n)
        not_found = ["/audit/entries/%d" % n, "/audit/entries/9223372036854775807",
                     "/audit/proof/inclusion?index=%d&size=%d" % (n, n),
                     "/audit/proof/inclusion?index=0&size=%d" % (n + 1),
                     "/audit/proof/inclusion?index=99",
                     "/audit/proof/consistency?old=2&new=%d" % (n + 1),
                     "/audit/proof/consistency?old=3&new=2",
                     "/audit/proof/bundle?index=%d" % n,
                     "/audit/nothing-here"]
        for p in not_found:
            self.assertJsonError(env.request("GET", p), 404)
        malformed = ["/audit/entries/abc", "/audit/entries/-1", "/audit/entries/1x",
                     "/audit/entries/%2B1", "/audit/entries/0x1",
                     "/audit/entries/99999999999999999999999",
                     "/audit/proof/inclusion", "/audit/proof/inclusion?index=",
                     "/audit/proof/inclusion?index=1.0",
                     "/audit/proof/inclusion?index=1&size=two",
                     "/audit/proof/consistency", "/audit/proof/consistency?new=2",
                     "/audit/proof/consistency?old=a&new=2",
                     "/audit/proof/bundle", "/audit/proof/bundle?index=-3"]
        for p in malformed:
            self.assertJsonError(env.request("GET", p), 400)
        for m, p in (("POST", "/audit/checkpoint"), ("PUT", "/audit/entries/0"),
                     ("DELETE", "/audit/entries/0"),
                     ("POST", "/audit/proof/inclusion?index=0&size=4"),
                     ("POST", "/audit/proof/bundle?index=0")):
            self.assertJsonError(env.request(m, p, body=b"{}" if m != "DELETE" else None), 405)
        # The same through the admin listener.
        self.assertJsonError(env.request("GET", "/audit/entries/%d" % n, who="admin",
                                         admin=True), 404)
        self.assertJsonError(env.request("GET", "/audit/entries/x", who="admin", admin=True), 400)
        self.assertJsonError(env.request("POST", "/audit/checkpoint", who="admin", admin=True,
                                         body=b""), 405)
        # None of these reads or refusals became an entry.
        cp = env.checkpoint()
        self.assertEqual(cp.size, n)
        self.assertEqual(len(env.entries()), n)


class TestAuditShutdown(AuditCase):

    def test_graceful_stop_audits_every_exchange(self):
        """SIGTERM under load: every exchange answered is in the log, and its access
        line carries its index (null is only for a keeper that refused)."""
        env = self.env
        load = K.Load(env, threads=6).start()
        try:
            K.wait_until(lambda: len(env.acknowledged()) > 200, 20, interval=0.05,
                         what="some acknowledged exchanges")
            env.gateway.signal(K.signal.SIGTERM)
            rc = env.gateway.wait(20)
        finally:
            load.stop()
        self.assertEqual(rc, 0, env.gateway.stderr_tail())
        lines = [ln for ln in env.access_lines() if ln.get("path", "").startswith("/pass/")]
        self.assertGreater(len(lines), 200)
        by_rid = {}
        for i, data in env.exchanges().items():
            by_rid[json.loads(data)["request_id"]] = i
        unindexed = [ln["request_id"] for ln in lines if ln["audit_index"] is None]
        missing = [ln["request_id"] for ln in lines if ln["request_id"] not in by_rid]
        wrong = [ln["request_id"] for ln in lines if ln["audit_index"] is not None
                 and by_rid.get(ln["request_id"]) != ln["audit_index"]]
        self.assertEqual((missing, unindexed, wrong), ([], [], []),
                         "of %d exchanges answered before the stop: %d have no audit entry, "
                         "%d have a null audit_index, %d a wrong one"
                         % (len(lines), len(missing), len(unindexed), len(wrong)))
        rc, out, err = env.verify()
        self.assertEqual(rc, 0, out + err)

    def test_reload_audits_every_exchange(self):
        """SIGHUP under load: the old workers drain, and nothing they answered is
        missing from the log (checked before any stop)."""
        env = self.env

        def started():
            return len(re.findall(r'"msg":"relay worker \d+ started',
                                  env.gateway.stderr_text()))
        load = K.Load(env, threads=6).start()
        try:
            K.wait_until(lambda: len(env.acknowledged()) > 200, 20, interval=0.05,
                         what="some acknowledged exchanges")
            n0 = started()
            env.gateway.signal(K.signal.SIGHUP)
            K.wait_until(lambda: started() >= n0 + env.workers, 20, interval=0.05,
                         what="new workers after the reload")
            n1 = len(env.acknowledged())
            K.wait_until(lambda: len(env.acknowledged()) > n1 + 100, 20, interval=0.05,
                         what="exchanges on the new workers")
        finally:
            load.stop()
        # Old workers are gone once their drain ends (shutdown_timeout 2s).
        K.time.sleep(3)
        self.assertTrue(env.gateway.alive())
        lines = [ln for ln in env.access_lines() if ln.get("path", "").startswith("/pass/")]
        by_rid = {json.loads(d)["request_id"]: i for i, d in env.exchanges().items()}
        unindexed = [ln["request_id"] for ln in lines if ln["audit_index"] is None]
        missing = [ln["request_id"] for ln in lines if ln["request_id"] not in by_rid]
        self.assertEqual((missing, unindexed), ([], []),
                         "of %d exchanges around a reload: %d have no audit entry, %d a null "
                         "audit_index" % (len(lines), len(missing), len(unindexed)))


class TestAuditTamper(AuditCase):
    """Edits a real log with Python's sqlite3 while the daemon is stopped."""

    N = 24

    def build_log(self):
        """The start-up's trust entry, three batches, three checkpoints, clean stop; the
        log verifies. self.size is the log's size."""
        b = self.env.base
        self.size = b + self.N
        self.traffic(8, prefix="a")
        self.signed_checkpoint(b + 8)
        self.traffic(8, prefix="b")
        self.signed_checkpoint(b + 16)
        self.traffic(8, prefix="c")
        self.signed_checkpoint(self.size)
        self.stop_daemon()
        rc, out, err = self.env.verify()
        self.assertEqual(rc, 0, "the untouched log does not verify: %s %s" % (out, err))
        self.assertIn("audit log OK: %d entries" % self.size, out)

    def stop_daemon(self):
        rc = self.env.stop_gateway()
        self.assertEqual(rc, 0, "gatewayd did not stop cleanly:\n%s"
                         % self.env.gateway.stderr_tail())

    def assertVerifyFails(self, *needles):
        rc, out, err = self.env.verify()
        self.assertNotEqual(rc, 0, "audit verify passed a tampered log: %s" % out)
        text = out + err
        for n in needles:
            self.assertRegex(text, n)
        return text

    def assertStartRefused(self, *needles):
        g = self.env.launch_gateway()
        rc = g.wait(30)
        self.assertIsNotNone(rc, "gatewayd keeps running on a tampered log:\n%s"
                             % g.stderr_tail())
        self.assertEqual(rc, 1, g.stderr_tail())
        text = g.stderr_text()
        for n in needles:
            self.assertRegex(text, n)
        self.assertFalse(K.port_open(self.env.agency_port), "the agency listener is open")
        return text

    def assertStarts(self):
        self.env.start_gateway()
        self.assertTrue(self.env.gateway.alive())

    def sql(self, *stmts):
        c = self.env.db()
        try:
            for s in stmts:
                if isinstance(s, tuple):
                    c.execute(*s)
                else:
                    c.execute(s)
        finally:
            c.close()

    def drop_triggers(self):
        self.sql("DROP TRIGGER IF EXISTS entries_no_update",
                 "DROP TRIGGER IF EXISTS entries_no_delete",
                 "DROP TRIGGER IF EXISTS entries_next", "DROP TRIGGER IF EXISTS nodes_no_update",
                 "DROP TRIGGER IF EXISTS nodes_no_delete",
                 "DROP TRIGGER IF EXISTS checkpoints_no_delete")

    def test_triggers_refuse_edits(self):
        """Without dropping them, the triggers refuse edits even from outside."""
        self.traffic(3)
        self.signed_checkpoint(self.env.base + 3)
        self.stop_daemon()
        import sqlite3
        for s in ("UPDATE entries SET data = x'00' WHERE idx = 1",
                  "DELETE FROM entries WHERE idx = 2",
                  "INSERT INTO entries (idx, leaf, data) VALUES (7, zeroblob(32), x'00')",
                  "DELETE FROM nodes", "UPDATE checkpoints SET note = x'00'",
                  "DELETE FROM checkpoints"):
            with self.assertRaises(sqlite3.DatabaseError, msg=s):
                self.sql(s)
        rc, out, err = self.env.verify()
        self.assertEqual(rc, 0, out + err)

    def test_a_changed_byte(self):
        self.build_log()
        k = 9
        data = bytearray(self.env.entries()[k])
        at = data.index(b'"status":200') + len('"status":2')
        data[at] = ord("1")          # "status":210
        self.drop_triggers()
        self.sql(("UPDATE entries SET data = ? WHERE idx = ?", (bytes(data), k)))
        text = self.assertVerifyFails(r"entry %d: its content does not match" % k,
                                      r"first bad index %d\b" % k)
        self.assertNotRegex(text, r"first bad index (?!%d\b)" % k)

    def test_b_deleted_row(self):
        self.build_log()
        k = 13
        self.drop_triggers()
        self.sql(("DELETE FROM entries WHERE idx = ?", (k,)))
        self.assertVerifyFails(r"entry %d is missing" % k, r"missing entry; first bad index %d\b" % k)

    def truncate(self, keep, drop_checkpoints):
        self.drop_triggers()
        stmts = [("DELETE FROM entries WHERE idx >= ?", (keep,)),
                 ("DELETE FROM nodes WHERE (pos + 1) * (1 << level) > ?", (keep,))]
        if drop_checkpoints:
            stmts.append(("DELETE FROM checkpoints WHERE size > ?", (keep,)))
        self.sql(*stmts)

    def test_c_truncated_keeping_checkpoints(self):
        self.build_log()
        keep = self.size - 5
        self.truncate(keep, drop_checkpoints=False)
        self.assertVerifyFails(r"checkpoint at size %d: beyond the %d entries"
                               % (self.size, keep),
                               r"truncated log; first bad index %d\b" % keep)
        self.assertStartRefused(r"holds %d entries but the checkpoint in \S+ covers %d"
                                % (keep, self.size), r"rolled back or truncated",
                                r"refusing to start")

    def test_c_truncated_with_its_checkpoints(self):
        """A careful attacker also removes the later checkpoints: the file still knows."""
        self.build_log()
        keep = 16
        self.truncate(keep, drop_checkpoints=True)
        # The database alone is self-consistent now; the checkpoint file is not.
        rc, out, err = self.env.ctl("audit", "verify", "--db", self.env.database,
                                    "--vkey", self.env.vkey())
        self.assertEqual(rc, 0, "the truncated database is internally consistent: %s %s"
                         % (out, err))
        self.assertVerifyFails(r"checkpoint file \S+: not a checkpoint of this log",
                               r"rolled back, truncated or swapped")
        self.assertStartRefused(r"holds %d entries but the checkpoint in \S+ covers %d"
                                % (keep, self.size), r"rolled back or truncated")

    def test_d_older_copy(self):
        self.traffic(10, prefix="a")
        old = self.env.base + 10
        self.signed_checkpoint(old)
        self.stop_daemon()
        snap = self.env.snapshot("old")
        self.assertStarts()     # another trust entry
        self.traffic(10, prefix="b")
        new = self.env.base + 10
        self.signed_checkpoint(new)
        self.stop_daemon()
        self.env.restore(snap)
        self.assertVerifyFails(r"checkpoint file \S+: not a checkpoint of this log")
        self.assertStartRefused(r"holds %d entries but the checkpoint in \S+ covers %d"
                                % (old, new), r"rolled back or truncated")

    def test_e_consistent_rewrite(self):
        """Entry edited, its leaf and every node recomputed: the signatures catch it."""
        self.build_log()
        k = 5
        entries = self.env.entries()
        data = bytearray(entries[k])
        at = data.index(b'"agency":"finance"') + len('"agency":"')
        data[at:at + 7] = b"FINANCE"    # same length, still valid canonical JSON
        entries[k] = bytes(data)
        leaves = [K.leaf_hash(entries[i]) for i in range(self.size)]
        nodes = K.all_nodes(leaves)
        self.drop_triggers()
        c = self.env.db()
        try:
            c.execute("BEGIN")
            c.execute("UPDATE entries SET data = ?, leaf = ? WHERE idx = ?",
                      (entries[k], leaves[k], k))
            for (level, pos), h in nodes.items():
                c.execute("UPDATE nodes SET hash = ? WHERE level = ? AND pos = ?",
                          (h, level, pos))
            c.execute("COMMIT")
            stored = {(l, p): bytes(h) for l, p, h in c.execute(
                "SELECT level, pos, hash FROM nodes")}
        finally:
            c.close()
        self.assertEqual(stored, nodes, "the rewrite must leave a self-consistent tree")
        text = self.assertVerifyFails(r"checkpoint at size \d+: its root does not match",
                                      r"checkpoint root")
        # The first checkpoint covering entry k is the one reported (8, 16 and 24
        # exchanges after the trust entry).
        self.assertRegex(text, r"checkpoint at size %d: its root" % (self.env.base + 8))
        self.assertStartRefused(r"first %d entries do not hash to the root" % self.size,
                                r"altered or swapped", r"refusing to start")
        # Removing every checkpoint row too: the database alone then looks fine, the
        # checkpoint file does not. (The refused start re-created the triggers.)
        self.drop_triggers()
        self.sql("DELETE FROM checkpoints")
        rc, out, err = self.env.ctl("audit", "verify", "--db", self.env.database,
                                    "--vkey", self.env.vkey())
        self.assertEqual(rc, 0, "without checkpoints the rewritten database is "
                         "self-consistent: %s %s" % (out, err))
        self.assertVerifyFails(r"checkpoint file \S+: not a checkpoint of this log")
        self.assertStartRefused(r"altered or swapped")

    def test_f_checkpoint_file_deleted(self):
        self.build_log()
        os.unlink(self.env.checkpoint_file)
        self.assertVerifyFails(r"checkpoint file \S+: cannot read it")
        self.assertStartRefused(r"checkpoint file \S+ is missing but the audit log holds %d "
                                r"entries" % self.size, r"refusing to start")

    def test_checkpoint_file_from_another_key(self):
        """A checkpoint file not signed by this log's key is refused."""
        self.build_log()
        with open(self.env.checkpoint_file) as f:
            text = f.read()
        cp = K.Checkpoint(text)
        forged = text.replace("\n%d\n" % cp.size, "\n%d\n" % (cp.size - 1), 1)
        with open(self.env.checkpoint_file, "w") as f:
            f.write(forged)
        self.assertVerifyFails(r"checkpoint file \S+: not a checkpoint of this log")
        self.assertStartRefused(r"not signed by this log's key", r"refusing to start")

    def test_untouched_log_restarts(self):
        """Control: the same steps without tampering start again and keep appending."""
        self.build_log()
        self.assertStarts()
        self.assertEqual(self.env.base, self.size + 1, "one trust entry for the restart")
        self.traffic(3, prefix="d")
        cp = self.signed_checkpoint(self.size + 4)
        self.assertEqual(cp.size, self.size + 4)


if __name__ == "__main__":
    unittest.main()
