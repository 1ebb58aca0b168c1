"""One writer per log, one owner per port: a second gatewayd refuses to start.

A second instance with the same configuration (the same audit log) must not open the
database with a second keeper, and one with its own state must not share the first one's
ports through SO_REUSEPORT. Both exit non-zero with a message that says why (naming the pid
that holds the log), and the first keeps serving, alone.
"""

import os
import re
import shutil
import subprocess
import unittest

import harness as H


class SecondInstance(H.GatewayTestCase):

    @classmethod
    def setUpClass(cls):
        cls.env = H.Env().start()

    @classmethod
    def tearDownClass(cls):
        cls.env.stop()

    def run_second(self, config_path):
        p = subprocess.run([H.GATEWAYD, "-c", config_path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60, cwd=self.env.dir)
        return p.returncode, p.stdout.decode(errors="replace")

    def assert_first_serves_alone(self):
        r = self.env.https("GET", "/pass/finance/alone")
        self.assertEqual(r.status, 200)
        # Every listening socket on the agency port belongs to the first gatewayd's family.
        ours = {self.env.gateway.pid} | set(H.children_of(self.env.gateway.pid))
        out = subprocess.run(["ss", "-Hltnp", "sport = :%d" % self.env.agency_port],
                             stdout=subprocess.PIPE, text=True).stdout
        pids = {int(p) for p in re.findall(r"pid=(\d+)", out)}
        self.assertTrue(pids, out)
        self.assertLessEqual(pids, ours, out)

    def test_same_state_is_refused_naming_the_holder(self):
        code, out = self.run_second(self.env.config_path)
        self.assertNotEqual(code, 0, out)
        m = re.search(r"in use by another gatewayd \(keeper pid (\d+), gatewayd pid (\d+)\)",
                      out)
        self.assertIsNotNone(m, out)
        self.assertEqual(int(m.group(2)), self.env.gateway.pid)
        self.assertIn(int(m.group(1)), H.children_of(self.env.gateway.pid))
        self.assert_first_serves_alone()

    def test_same_port_is_refused(self):
        # Its own audit log and checkpoint, the first one's ports.
        d = os.path.join(self.env.dir, "second")
        os.makedirs(d, exist_ok=True)
        text = H.GatewayConfig(d, self.env.agency_port, self.env.admin_port,
                               self.env.stubs).text()
        path = os.path.join(d, "gateway.conf")
        with open(path, "w") as f:
            f.write(text)
        try:
            code, out = self.run_second(path)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        self.assertNotEqual(code, 0, out)
        self.assertRegex(out, r"cannot listen on 127\.0\.0\.1:%d \(another process listens "
                              r"there\)" % self.env.agency_port)
        self.assert_first_serves_alone()


if __name__ == "__main__":
    unittest.main()
