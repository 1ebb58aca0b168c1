"""The keeper's WAL checkpointer copies the WAL back into the database file.

Its connection used to checkpoint before it ever read the database, so SQLite did not
know the file was in WAL mode and every checkpoint did nothing: the database file kept
its first page, the WAL grew without end and every recovery read all of it. Found by
the power-cut test (tests/faults/test_powercut.py).

Run: GATEWAYD=build/gatewayd STUBD=build/stubd GW_SHARED=../shared PYTHONPATH=tests/integration \
     python3 -m unittest -v tests/integration/test_wal_backfill.py
"""

import os
import unittest

import keeperlib as K


class WalBackfill(unittest.TestCase):

    def setUp(self):
        K.require_environment()
        self.env = K.KeeperEnv(workers=1).start()
        self.addCleanup(self.env.stop)

    def test_a_fresh_log_is_copied_back_under_load(self):
        env = self.env
        first = os.path.getsize(env.database)

        def copied_back():
            env.passthrough(20, prefix="wal")
            return os.path.getsize(env.database) > first
        K.wait_until(copied_back, 60, interval=0.05,
                     what="the database file to grow beyond its first %d bytes" % first)
        rc, out, err = env.verify()
        self.assertEqual(rc, 0, out + err)


if __name__ == "__main__":
    unittest.main()
