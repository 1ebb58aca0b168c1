"""Power cuts, not only kill -9: the keeper's folder loses what no fsync covered.

gatewayd runs with build/powercut.so preloaded (tests/crash/powercut.c): every write,
truncation, create, rename and unlink in the keeper's folder (database, WAL, checkpoint
file) leaves an undo record first, every fsync a sync mark. Under passthrough and
instruction load the whole process group is killed at a random moment, or (every other
cut) once the keeper has stopped right before a random one of its I/O operations, then
tests/crash/replay.py undoes a random part of the unsynced writes (per sector, in any
order), of the unsynced renames and creates, and removes the -shm file: the folder as a
reboot would find it. The daemon is started again and must accept its state, and:
  - every acknowledged exchange (access-log audit_index) is in the log with its request
    id; every entry a reader saw before the cut, and every entry checked after an earlier
    cut, has the same bytes; the log has no holes;
  - every instruction receipt (202) is returned again by GET /v1/transfers/ID;
  - `gatewayctl audit verify` passes;
  - every checkpoint seen before any cut (file and API) is in the database byte for byte,
    the checkpoint file catches up with the database, and consistency proofs link this
    cut's checkpoints to the one after it.
FAULTS_MODE=short: 5 cuts (make check); full: 50 (make faults). FAULTS_SEED repeats a run.
"""

import base64
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "crash")]
import faultlib as F  # noqa: E402
import replay  # noqa: E402

h = F.h
import keeperlib as K  # noqa: E402  (harness's folder is on the path now)
import messages as M  # noqa: E402

CUTS = {"short": 5, "full": 50}[F.MODE]
SHIM = os.path.abspath(os.environ.get("POWERCUT_SO", os.path.join(h.REPO, "build",
                                                                  "powercut.so")))


class Instructions:
    """One thread sending remittances from a city; keeps every receipt it got (202)."""

    def __init__(self, env, tag):
        self.env, self.tag = env, tag
        self.receipts = {}
        self.stop_ev = threading.Event()
        self.thread = None

    def _run(self):
        c = F.KeepAlive(self.env, "finance-city-620100")
        n = 0
        while not self.stop_ev.is_set():
            n += 1
            rid = "PC-%s-%d" % (self.tag, n)
            try:
                st, _, body = c.request("POST", "/v1/remittances", M.json_headers(),
                                        M.remittance(rid, amount=100 + n))
            except F.TRANSPORT_ERRORS:
                time.sleep(0.02)
                continue
            if st == 202:
                self.receipts[rid] = json.loads(body)
            time.sleep(0.01)
        c.close()

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stop_ev.set()
        if self.thread is not None:
            self.thread.join(15)


class TestShim(unittest.TestCase):
    """The shim and the replay on their own: a Python child with the shim preloaded
    writes, syncs and renames; the cut must undo exactly what no sync covered."""

    CHILD = r"""
import os, sys
d = sys.argv[1]
def put(name, data, off=0, sync=False):
    fd = os.open(os.path.join(d, name), os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, data, off)
    if sync:
        os.fsync(fd)
    os.close(fd)
def dirsync():
    fd = os.open(d, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
put("data", b"A" * 4096, sync=True)
dirsync()
put("data", b"B" * 1024, 512)           # two sectors, never synced
put("data", b"C" * 600, 4096)           # grows the file, never synced
put("cp.tmp", b"new", sync=True)
os.rename(os.path.join(d, "cp.tmp"), os.path.join(d, "cp"))
put("gone", b"G", sync=True)
dirsync()
put("synced", b"S" * 100, sync=True)    # synced, but its name never is
os.unlink(os.path.join(d, "gone"))      # folder not synced
put("cp.tmp", b"newer", sync=True)
os.rename(os.path.join(d, "cp.tmp"), os.path.join(d, "cp"))   # folder not synced
os._exit(0)
"""

    def setUp(self):
        if not os.path.isfile(SHIM):
            raise RuntimeError("%s is missing: make build/powercut.so" % SHIM)

    def run_child(self):
        d = tempfile.mkdtemp(prefix="gw-powercut-shim-")
        self.addCleanup(shutil.rmtree, d, True)
        env = dict(os.environ, LD_PRELOAD=SHIM, POWERCUT_DIR=d)
        r = K.subprocess.run([sys.executable, "-c", self.CHILD, d], env=env,
                             capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return d

    def read(self, d, name):
        try:
            with open(os.path.join(d, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def test_nothing_unsynced_survives_the_harshest_cut(self):
        d = self.run_child()
        st = replay.power_cut(d, random.Random(1), keep=0.0)
        self.assertEqual(self.read(d, "data"), b"A" * 4096, st)
        self.assertIsNone(self.read(d, "synced"), "a name no folder sync covered")
        self.assertEqual(self.read(d, "cp"), b"new")
        self.assertEqual(self.read(d, "gone"), b"G")
        # No cp.tmp: the second one's name was never synced either.
        self.assertEqual(sorted(os.listdir(d)), ["cp", "data", "gone"])

    def test_everything_survives_the_mildest_cut(self):
        d = self.run_child()
        replay.power_cut(d, random.Random(1), keep=1.0)
        self.assertEqual(self.read(d, "data"),
                         b"A" * 512 + b"B" * 1024 + b"A" * 2560 + b"C" * 600)
        self.assertEqual(self.read(d, "synced"), b"S" * 100)
        self.assertEqual(self.read(d, "cp"), b"newer")
        self.assertEqual(sorted(os.listdir(d)), ["cp", "data", "synced"])

    def test_sectors_are_lost_one_by_one(self):
        seen = set()
        for seed in range(12):
            d = self.run_child()
            replay.power_cut(d, random.Random(seed), keep=0.5)
            data = self.read(d, "data")
            self.assertIn(len(data), (4096, 4696))
            sectors = tuple(data[i:i + 512][:1] for i in range(0, len(data), 512))
            self.assertTrue(all(s in (b"A", b"B", b"C", b"\0") for s in sectors), sectors)
            seen.add(sectors[1:3])
        # Either B sector may be there without the other.
        self.assertTrue({(b"A", b"B"), (b"B", b"A")} & seen, seen)


class TestPowerCut(unittest.TestCase):

    def setUp(self):
        F.require_environment()
        if not os.path.isfile(SHIM):
            raise RuntimeError("%s is missing: make build/powercut.so" % SHIM)
        self.folder = tempfile.mkdtemp(prefix="gw-powercut-")
        os.chmod(self.folder, 0o755)
        env = F.FaultEnv(keeper_dir=self.folder, workers=2,
                         limits={"request_timeout": "5s", "idle_timeout": "30s"})
        asan = os.environ.get("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.gateway_env = {"LD_PRELOAD": SHIM, "POWERCUT_DIR": self.folder,
                           # The shim comes before the ASan runtime; that is fine here.
                           "ASAN_OPTIONS": asan + ":verify_asan_link_order=0"}
        self.addCleanup(self._cleanup, env)
        self.env = env
        self.log_pub = os.path.join(h.CERTS, "log.pub")
        self.seen = {}         # checkpoint size -> note text, every one seen so far
        self.checked = {}      # index -> entry bytes, every one checked so far
        self.receipts = {}     # remittance id -> receipt
        self.figures = {"cuts": 0, "acked_checked": 0, "lost": 0, "instructions_checked": 0,
                        "visible_checked": 0, "proofs": 0, "sectors_undone": 0,
                        "names_undone": 0, "pending_writes": 0, "at_op": 0}

    def _cleanup(self, env):
        text = env.all_gateway_stderr()
        env.stop()
        if os.environ.get("GW_TEST_KEEP") != "1":
            shutil.rmtree(self.folder, ignore_errors=True)
        m = h.SANITIZER_ERRORS.search(text)
        if m:
            self.fail("sanitizer report in gatewayd's stderr:\n%s"
                      % text[max(0, m.start() - 200):m.start() + 4000])

    # -- reading the state --------------------------------------------------------------

    def acknowledged(self):
        """{audit_index: request_id} of every exchange answered with an index."""
        out = {}
        for ln in self.env.access_log_lines():
            if ln.get("audit_index") is not None:
                out[ln["audit_index"]] = ln.get("request_id")
        return out

    def db(self, sql):
        c = K.sqlite3.connect("file:%s?mode=ro" % self.env.database, uri=True, timeout=10)
        try:
            return c.execute(sql).fetchall()
        finally:
            c.close()

    def entries(self):
        return {i: bytes(d) for i, d in self.db("SELECT idx, data FROM entries")}

    def file_checkpoint(self):
        return K.read_checkpoint_file(self.env.checkpoint_file)

    def api_checkpoint(self):
        st, body = self.env.admin_get("/audit/checkpoint")
        return K.Checkpoint(body) if st == 200 else None

    # -- one cut --------------------------------------------------------------------------

    def cut(self, n, R, keep=None):
        """Load, kill -9 of the group at a random moment or at a random I/O operation
        of the keeper (every other cut), a power cut, a restart. Returns (what a
        reader saw before the cut, the checkpoints seen, the cut's figures); raises
        RuntimeError if gatewayd refuses to start."""
        env = self.env
        load = F.Load(env, threads=2, pace=0.002)
        instr = Instructions(env, "%d-%s" % (n, h.token()[:6]))
        n0 = len(self.acknowledged())
        load.start()
        instr.start()
        try:
            h.wait_until(lambda: len(self.acknowledged()) > n0 + 5 and instr.receipts, 20,
                         interval=0.05, what="acknowledged exchanges and instructions")
            time.sleep(R.uniform(0.05, 1.0))
            # What a reader saw before the cut was committed: it must stay.
            visible = self.entries()
            cps = [cp for cp in (self.file_checkpoint(), self.api_checkpoint())
                   if cp is not None]
            at_op = n % 2 == 1
            if at_op:
                # A few thousand records a second under this load.
                replay.freeze_at(self.folder, R.randint(1, 2000))
                try:
                    h.wait_until(lambda: replay.frozen(self.folder), 20, interval=0.02,
                                 what="the keeper to stop at the chosen operation")
                    self.figures["at_op"] += 1
                except AssertionError:
                    pass            # too little I/O: a cut at this moment then
            else:
                time.sleep(R.uniform(0.0, 0.3))
            env.kill_group()
        finally:
            load.stop()
            instr.stop()
        self.receipts.update(instr.receipts)
        for cp in cps:
            self.seen[cp.size] = cp.text
        st = replay.power_cut(self.folder, R, keep)
        for k in ("sectors_undone", "names_undone", "pending_writes"):
            self.figures[k] += st[k]
        self.figures["cuts"] += 1
        env.start_gateway()
        return visible, cps, st

    def problems(self, visible, cps):
        """What is wrong with the restarted gateway's log, as a list of strings."""
        env, fig, out = self.env, self.figures, []
        entries = self.entries()
        if sorted(entries) != list(range(len(entries))):
            out.append("holes in the log")
        acked = self.acknowledged()
        if len(acked) < fig["acked_checked"]:
            out.append("the access log lost lines: %d, %d before"
                       % (len(acked), fig["acked_checked"]))
        lost = [i for i, rid in acked.items() if entries.get(i) is None or
                json.loads(entries[i]).get("request_id") != rid]
        fig["acked_checked"], fig["lost"] = len(acked), len(lost)
        if lost:
            out.append("%d acknowledged entries lost or changed, first %r"
                       % (len(lost), sorted(lost)[:5]))
        changed = [i for i, d in list(visible.items()) + list(self.checked.items())
                   if entries.get(i) != d]
        if changed:
            out.append("%d entries seen before lost or changed" % len(changed))
        fig["visible_checked"] += len(visible)
        self.checked.update(entries)

        admin = F.KeepAlive(env, "admin")
        for rid, receipt in sorted(self.receipts.items()):
            st, _, body = admin.request("GET", "/v1/transfers/" + rid)
            if st != 200 or json.loads(body).get("receipt") != receipt:
                out.append("instruction %s: %d %r" % (rid, st, body[:200]))
        admin.close()
        fig["instructions_checked"] = len(self.receipts)

        rc, o, e = env.verify()
        if rc != 0:
            out.append("audit verify: %s %s" % (o, e))

        rows = dict((s, bytes(n).decode()) for s, n in
                    self.db("SELECT size, note FROM checkpoints"))
        for size, text in self.seen.items():
            if rows.get(size) != text:
                out.append("checkpoint %d seen before a cut is not in the database" % size)
        # The file catches up with the database.
        size = len(entries)
        try:
            latest = h.wait_until(lambda: (lambda cp: cp if cp and cp.size >= size else None)(
                self.file_checkpoint()), 20, interval=0.05,
                what="a checkpoint file covering %d entries" % size)
        except AssertionError as e:
            return out + [str(e)]
        if not K.verify_checkpoint_signature(latest, self.log_pub, env.dir):
            out.append("bad signature on the checkpoint file")
        for cp in cps:
            if cp.size > latest.size:
                out.append("checkpoint %d before the cut, %d after" % (cp.size, latest.size))
                continue
            st, body = env.admin_get("/audit/proof/consistency?old=%d&new=%d"
                                     % (cp.size, latest.size))
            proof = [base64.b64decode(x) for x in json.loads(body)["hashes"]] \
                if st == 200 else []
            if st != 200 or not K.verify_consistency(cp.size, latest.size, cp.root,
                                                     latest.root, proof):
                out.append("checkpoint %d before the cut is not consistent with %d after"
                           % (cp.size, latest.size))
            fig["proofs"] += 1
        return out

    # -- the tests ------------------------------------------------------------------------

    def test_power_cuts_under_load(self):
        seed, R = F.rng()
        self.env.start()
        for n in range(CUTS):
            visible, cps, st = self.cut(n, R)
            self.assertEqual(self.problems(visible, cps), [],
                             "after cut %d of seed %s (%r)" % (n, seed, st))
        f = self.figures
        F.say("power cuts: %d cuts (%d at a chosen I/O operation; seed %s), %d acknowledged "
              "entries checked, %d lost, %d instructions checked, %d entries seen before "
              "a cut checked, %d consistency proofs; undone: %d unsynced writes, "
              "%d sectors, %d names", f["cuts"], f["at_op"], seed, f["acked_checked"],
              f["lost"], f["instructions_checked"],
              f["visible_checked"], f["proofs"], f["pending_writes"], f["sectors_undone"],
              f["names_undone"])
        self.assertEqual(f["cuts"], CUTS)

    def test_a_missing_fsync_is_caught(self):
        """The same checks with the syncs of the database and its WAL turned into
        no-ops: they must fail (the checkpoint file, still synced, is then ahead)."""
        seed, R = F.rng()
        self.env.gateway_env["POWERCUT_SKIP_SYNC"] = os.path.basename(self.env.database)
        self.env.start()
        try:
            visible, cps, st = self.cut(0, R, keep=0.0)
        except RuntimeError as e:       # gatewayd refused what it found
            F.say("missing fsync caught: gatewayd refused to start (seed %s): %s", seed,
                  " ".join(re.findall(r'"msg":"([^"]*)"', str(e))[-2:])[:300])
            return
        found = self.problems(visible, cps)
        self.assertNotEqual(found, [], "a cut lost the database's unsynced writes and "
                            "nothing noticed (seed %s)" % seed)
        F.say("missing fsync caught (seed %s): %s", seed, "; ".join(found)[:300])


if __name__ == "__main__":
    unittest.main()
