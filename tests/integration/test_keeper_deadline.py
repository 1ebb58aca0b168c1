"""Every wait a relay makes on the keeper has a deadline (issue 11): with the keeper stopped,
audit reads, transfer queries and instructions are answered 503 audit-unavailable after
request_timeout instead of hanging, and once the keeper runs again its late answers are
dropped and new requests are served."""

import os
import re
import signal
import unittest

import harness
import messages as M
from harness import GatewayTestCase, token


class KeeperDeadlineTest(GatewayTestCase):
    scope = "test"
    env_kw = {"limits": {"request_timeout": "2s"}, "workers": 1}

    def keeper_pid(self):
        pids = harness.wait_until(
            lambda: re.findall(r"keeper started \(pid (\d+)\)", self.env.gateway.stderr_text()),
            harness.READY_TIMEOUT, what="the keeper's pid in the gateway's log")
        return int(pids[-1])

    def stop_keeper(self):
        pid = self.keeper_pid()
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(os.kill, pid, signal.SIGCONT)
        return pid

    def test_stopped_keeper_answers_503_then_recovers(self):
        self.assertEqual(self.env.https("GET", "/pass/finance/x/" + token()).status, 200)
        self.wait_checkpoint()
        pid = self.stop_keeper()
        asks = [
            ("GET", "/audit/checkpoint", "finance", None, None),
            ("GET", "/v1/transfers/REM-%s" % token()[:8], "finance-city-620100", None, None),
            ("POST", "/v1/remittances", "finance-city-620100",
             M.remittance("DL-%s" % token()[:8]), M.json_headers()),
        ]
        for method, path, who, body, headers in asks:
            r = self.env.https(method, path, who=who, body=body, headers=headers, timeout=30)
            self.assertJsonError(r, 503, "audit-unavailable")
        os.kill(pid, signal.SIGCONT)
        # The late answers go nowhere; the next requests get their own.
        self.assertIn(b"gateway.test/audit", self.wait_checkpoint().body)

    def wait_checkpoint(self):
        return harness.wait_until(lambda: (lambda r: r if r.status == 200 else None)(
            self.env.https("GET", "/audit/checkpoint", timeout=30)), 30, interval=0.2,
            what="/audit/checkpoint to answer 200")


if __name__ == "__main__":
    unittest.main()
