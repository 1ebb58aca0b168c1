"""Checkpoints keep coming after a failed write of the checkpoint file.

The keeper commits a checkpoint row, then replaces the file. Here the file write fails
(a folder sits where the temporary file goes, so open() fails even as root) after the
row is in: once the folder is gone the file must catch up at the same size, follow
larger sizes, hold the very note of the database's newest row, and a restart (clean
or kill -9) must accept the state.

Run: GATEWAYD=build/gatewayd STUBD=build/stubd GW_SHARED=../shared \
     python3 -m unittest -v tests/integration/test_checkpoint_retry.py
"""

import os
import unittest

import keeperlib as K


class CheckpointRetry(unittest.TestCase):

    def setUp(self):
        K.require_environment()
        self.env = K.KeeperEnv(workers=1).start()
        self.addCleanup(self._cleanup)
        self.blocker = self.env.checkpoint_file + ".tmp"
        # The log's size as the test expects it: each start's trust entry, then
        # the exchanges sent.
        self.sent = self.env.base

    def _cleanup(self):
        env, self.env = self.env, None
        if os.path.isdir(self.blocker):
            os.rmdir(self.blocker)
        out = env.all_stderr()
        env.stop()
        if K.harness.SANITIZER_ERRORS.search(out):
            self.fail("sanitizer report in gatewayd's stderr:\n%s" % out[-4000:])

    # -- helpers ----------------------------------------------------------------

    def file_checkpoint(self):
        return K.read_checkpoint_file(self.env.checkpoint_file)

    def db_latest(self):
        """(size, note bytes) of the database's newest checkpoint row, or None."""
        c = self.env.db(readonly=True)
        try:
            return c.execute("SELECT size, note FROM checkpoints "
                             "ORDER BY size DESC LIMIT 1").fetchone()
        finally:
            c.close()

    def exchange(self, n, prefix):
        """n passthrough exchanges; returns the log's size once all n are in it (an
        exchange is logged after its answer)."""
        self.sent += n
        self.env.passthrough(n, prefix=prefix)
        K.wait_until(lambda: len(self.env.entries()) == self.sent, 20, interval=0.05,
                     what="%d audit entries" % self.sent)
        return self.sent

    def wait_file(self, size):
        """Until the file holds a checkpoint of exactly size; it must then be the
        database's newest row, byte for byte."""
        def ok():
            cp = self.file_checkpoint()
            return cp if cp is not None and cp.size == size else None
        cp = K.wait_until(ok, 20, interval=0.1, what="the checkpoint file at %d" % size)
        size_db, note = self.db_latest()
        self.assertEqual(size_db, size)
        self.assertEqual(bytes(note).decode(), cp.text)
        self.assertTrue(K.verify_checkpoint_signature(cp, self.env.log_pub, self.env.dir))
        return cp

    def fail_file_writes(self, n):
        """Blocks the file, adds n entries, waits until their row is committed
        and the file write has failed; returns the new size."""
        before = self.file_checkpoint()
        os.mkdir(self.blocker)
        size = self.exchange(n, "blocked")
        K.wait_until(lambda: (self.db_latest() or (0,))[0] == size, 20, interval=0.1,
                     what="a checkpoint row for %d entries" % size)
        K.wait_until(lambda: "checkpoint failed" in self.env.gateway.stderr_text(), 20,
                     interval=0.1, what="the keeper to report the failed write")
        after = self.file_checkpoint()
        self.assertEqual(after.text if after else None, before.text if before else None,
                         "the file moved although it could not be written")
        return size

    def check_restart(self, kill):
        if kill:
            self.env.kill_gateway()
        else:
            self.assertEqual(self.env.stop_gateway(), 0)
        self.env.start_gateway()
        self.sent = self.env.base
        self.wait_file(self.sent)
        rc, out, err = self.env.verify()
        self.assertEqual(rc, 0, "audit verify: %s %s" % (out, err))

    # -- tests --------------------------------------------------------------------

    def test_same_then_larger_sizes_after_a_failed_write(self):
        env = self.env
        self.wait_file(self.exchange(5, "first"))
        size = self.fail_file_writes(3)
        # No new entries: the file must catch up at the size already in the table.
        os.rmdir(self.blocker)
        self.wait_file(size)
        self.assertIn("checkpoints resumed", env.gateway.stderr_text())
        self.wait_file(self.exchange(4, "after"))
        self.check_restart(kill=False)

    def test_restart_with_the_file_behind_the_database(self):
        env = self.env
        self.wait_file(self.exchange(4, "first"))
        self.fail_file_writes(2)
        env.kill_gateway()
        os.rmdir(self.blocker)
        # Start-up accepts a file behind the database and brings it forward.
        env.start_gateway()
        self.sent = env.base
        self.wait_file(self.sent)
        self.wait_file(self.exchange(3, "later"))
        self.check_restart(kill=True)


if __name__ == "__main__":
    unittest.main()
