"""A witnessd process for tests: its own folder, key and configuration, pinned to
the gateway's client certificate for one log.

Environment: WITNESSD, the witnessd binary (default build/san/witnessd).
"""

import base64
import json
import os
import re
import signal
import subprocess

import harness
import keeperlib as K
from harness import LOCAL, Proc, ca_file, cert, key, free_port, port_open, wait_until

WITNESSD = harness._path_from_env("WITNESSD", "build/san/witnessd")
WITNESS_NAME = "witness.itest.local/w1"
# The log submits with the gateway's client certificate (as the keeper will).
LOG_CLIENT = "gateway-client"


def b64(s):
    return base64.b64decode(s, validate=True)


class Witness:
    """A witnessd in its own folder, with its own key, pinned to LOG_CLIENT for the
    gateway's log."""

    def __init__(self, workdir, log_vkey, name=None, origin=K.ORIGIN, subdir="witness"):
        self.name = name or WITNESS_NAME
        self.dir = os.path.join(workdir, subdir)
        os.makedirs(self.dir)
        self.port = free_port()
        self.key = os.path.join(self.dir, "witness.key")
        self.config = os.path.join(self.dir, "witness.conf")
        self.database = os.path.join(self.dir, "witness.db")
        r = subprocess.run([K.GATEWAYCTL, "keygen", "--out", self.key,
                            "--witness-name", self.name],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("gatewayctl keygen failed: %s" % r.stderr)
        self.vkey = re.search(r"^witness_vkey: (\S+)$", r.stdout, re.M).group(1)
        self.pub = os.path.join(self.dir, "witness.pub")
        pem = re.search(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----\n",
                        r.stdout, re.S).group(0)
        with open(self.pub, "w") as f:
            f.write(pem)
        L = ["[witness]", "name = %s" % self.name, "key = %s" % self.key,
             "database = %s" % self.database, "history = 100",
             "", "[listener]", "listen = %s:%d" % (LOCAL, self.port),
             "cert = %s" % cert("gateway"), "key = %s" % key("gateway"),
             "ca = %s" % ca_file(), "crl = %s" % os.path.join(K.CERTS, "crl.pem"),
             "", "[limits]", "max_body = 8192", "request_timeout = 10s",
             "", "[log %s]" % origin, "vkey = %s" % log_vkey,
             "pin_cert = %s" % cert(LOG_CLIENT), ""]
        with open(self.config, "w") as f:
            f.write("\n".join(L))
        self.proc = None
        self.generation = 0
        self.old_stderr = ""      # of the processes killed, for sanitizer reports

    def check(self):
        return subprocess.run([WITNESSD, "-t", "-c", self.config], capture_output=True,
                              text=True, timeout=60)

    def start(self):
        self.generation += 1
        self.proc = Proc("witnessd-%d" % self.generation, [WITNESSD, "-c", self.config],
                         self.dir)
        wait_until(lambda: port_open(self.port) or not self.proc.alive(),
                   harness.READY_TIMEOUT, what="witnessd listening")
        if not self.proc.alive():
            raise AssertionError("witnessd exited:\n%s" % self.proc.stderr_tail())
        return self

    def kill9(self):
        self.proc.signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc.kill_group()
        self.old_stderr += self.proc.stderr_text()
        self.proc.close_files()

    def stop(self):
        if self.proc is not None:
            self.proc.stop()

    def request(self, method, path, body=None, who=LOG_CLIENT):
        return harness.https_request(self.port, method, path, who=who, body=body)

    def add(self, old, proof, note, who=LOG_CLIENT):
        body = "old %d\n" % old + "".join(p + "\n" for p in proof) + "\n" + note
        return self.request("POST", "/add-checkpoint", body.encode(), who=who)

    def get_json(self, path):
        r = self.request("GET", path)
        return r, (json.loads(r.body) if r.status == 200 else None)
