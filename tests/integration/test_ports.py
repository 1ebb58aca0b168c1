"""Ports are never shared by accident (issue 11, the flaky Idempotency tests): with
SO_REUSEPORT any process of the same user can join a port's listeners, and the kernel
then splits connections between unrelated servers; when the other one goes, its share
is reset ("connection reset by peer"), and if ours never got the port, the next
connection is refused. gatewayd refuses to start on a port someone listens on, and the
harness waits for its own server's "ready" line, choosing new ports when they were taken.

Run: cd tests/integration && python3 -m unittest -v test_ports   (after make)
"""

import os
import shutil
import socket
import subprocess
import tempfile
import types
import unittest

import harness as h


def squatter():
    """A listener as gatewayd's own are made (SO_REUSEPORT), on a fresh port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((h.LOCAL, 0))
    s.listen(16)
    return s


class PortSharing(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        h.require_environment()

    def test_gatewayd_refuses_a_port_someone_listens_on(self):
        for listener in ("agency", "admin"):
            with self.subTest(listener=listener):
                sq = squatter()
                self.addCleanup(sq.close)
                d = tempfile.mkdtemp(prefix="gw-itest-ports-")
                self.addCleanup(shutil.rmtree, d, True)
                ports = {"agency": h.free_port(), "admin": h.free_port()}
                ports[listener] = sq.getsockname()[1]
                stubs = {"finance": types.SimpleNamespace(port=h.free_port())}
                path = h.GatewayConfig(d, ports["agency"], ports["admin"], stubs).write(
                    os.path.join(d, "gateway.conf"))
                p = subprocess.run([h.GATEWAYD, "-c", path], capture_output=True, text=True,
                                   timeout=60, cwd=d, stdin=subprocess.DEVNULL)
                self.assertNotEqual(p.returncode, 0, "gatewayd shared port %d with another "
                                    "process:\n%s" % (ports[listener], p.stderr[-2000:]))
                self.assertIn("cannot listen on %s:%d (another process listens there)"
                              % (h.LOCAL, ports[listener]), p.stderr)
                # Nothing of ours ever reached the squatter.
                sq.settimeout(0)
                with self.assertRaises(BlockingIOError):
                    sq.accept()

    def test_env_chooses_new_ports_when_its_were_taken(self):
        sq = squatter()
        self.addCleanup(sq.close)
        env = h.Env(stubs=("finance",), down_upstream=False)
        env.agency_port = sq.getsockname()[1]
        env.start()
        self.addCleanup(env.stop)
        self.assertNotEqual(env.agency_port, sq.getsockname()[1])
        r = env.https("GET", "/pass/finance/x/" + h.token(), who="finance")
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
