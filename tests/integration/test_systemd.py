"""systemd integration: `make install DESTDIR=...`, the installed tree, and the unit.

- installs into a temporary DESTDIR (whose name has a space, to catch unquoted
  paths) with `make install` (build/gatewayd and build/gatewayctl must exist:
  `make _build`), and checks the tree, its modes, and that nothing was written
  to the real system paths;
- `systemd-analyze verify` on the installed unit (with its ExecStart binary
  pointed at the installed copy, since /usr/sbin/gatewayd need not exist here)
  must print nothing about the unit;
- `systemd-analyze security --offline=true --root=DESTDIR` must rate its
  exposure at most 2.0, and every check it does not pass must be one of the
  documented, accepted ones;
- the sysusers.d and tmpfiles.d snippets are applied to a copy of the tree
  (`systemd-sysusers --root`, `systemd-tmpfiles --root --create`) and the
  resulting owners and modes are checked (as root; otherwise sysusers only);
- where PID 1 is systemd (/run/systemd/system exists) and we are root, a copy
  of the unit under a unique name is started, reloaded and stopped. That part
  alone is skipped elsewhere, with the reason: systemd-analyze missing is a
  failure, never a skip (scripts/deps.sh installs systemd).

Python 3 standard library only.
"""

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

MAX_EXPOSURE = 2.0
UNIT = "gatewayd.service"
# Default install layout (Makefile variables).
SBIN = "/usr/sbin"
BIN = "/usr/bin"
ETC = "/etc/gateway"
STATE = "/var/lib/gateway"
UNITDIR = "/lib/systemd/system"
SYSUSERS = "/usr/lib/sysusers.d/gateway.conf"
TMPFILES = "/usr/lib/tmpfiles.d/gateway.conf"

# What `systemd-analyze security` may still count against the unit, and why.
ACCEPTED_EXPOSURE = {
    "PrivateNetwork": "a network gateway needs the host's network",
    "RestrictAddressFamilies_AF_INET_INET6": "TCP/TLS to agencies and upstreams",
    "RestrictAddressFamilies_AF_UNIX": "IPC socketpairs and sd_notify",
    "IPAddressDeny": "peer networks are site-specific: a drop-in (see the unit)",
    "RootDirectoryOrRootImage": "runs from the host's /usr",
    "DeviceAllow": "ProtectClock= itself adds char-rtc:r",
}


def _env_without_make():
    """The outer make's flags (jobserver descriptors, overrides) stay out."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    return env


def systemd_analyze():
    path = shutil.which("systemd-analyze")
    if path is None:
        raise AssertionError(
            "systemd-analyze is not installed: it is required to check the unit "
            "(apt-get install systemd; scripts/deps.sh installs it)")
    return path


def run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


def parse_unit(text):
    """{section: {key: [values in order]}}; an empty assignment resets."""
    sections, cur = {}, None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        m = re.match(r"^\[(.+)\]$", line)
        if m:
            cur = sections.setdefault(m.group(1), {})
            continue
        k, _, v = line.partition("=")
        k, v = k.strip(), v.strip()
        if v == "":
            cur[k] = []
        else:
            cur.setdefault(k, []).append(v)
    return sections


def seconds(text):
    """systemd/gateway.conf durations: 10s, 500ms, 2min, 1m, bare seconds."""
    total, pos = 0.0, 0
    text = text.strip().replace(" ", "")
    units = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
    for m in re.finditer(r"(\d+(?:\.\d+)?)([a-z]*)", text):
        if m.start() != pos or m.group(2) not in units.keys() | {""}:
            raise ValueError("bad duration %r" % text)
        total += float(m.group(1)) * units.get(m.group(2), 1)
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError("bad duration %r" % text)
    return total


def conf_value(text, section, key):
    cur = None
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"^\[(.+)\]$", line)
        if m:
            cur = m.group(1).strip()
        elif cur == section and re.match(r"^%s\s*=" % re.escape(key), line):
            return line.split("=", 1)[1].strip()
    return None


def snapshot(paths):
    out = {}
    for p in paths:
        try:
            st = os.lstat(p)
            out[p] = (st.st_ino, st.st_mtime_ns, st.st_mode)
        except FileNotFoundError:
            out[p] = None
    return out


class SystemdInstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [b for b in ("build/gatewayd", "build/gatewayctl")
                   if not os.access(os.path.join(REPO, b), os.X_OK)]
        if missing:
            raise AssertionError("%s missing: run `make _build` first" % ", ".join(missing))
        cls.tmp = tempfile.mkdtemp(prefix="gw-itest-systemd-")
        cls.dest = os.path.join(cls.tmp, "dest dir")
        real = [SBIN + "/gatewayd", BIN + "/gatewayctl", ETC, STATE,
                UNITDIR + "/" + UNIT, SYSUSERS, TMPFILES]
        cls.real_before = snapshot(real)
        cls.install = cls.make_install()
        cls.real_after = snapshot(real)
        with open(cls.path(UNITDIR, UNIT)) as f:
            cls.unit_text = f.read()
        cls.unit = parse_unit(cls.unit_text)

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("GW_TEST_KEEP"):
            print("kept", cls.tmp)
        else:
            shutil.rmtree(cls.tmp, True)

    @classmethod
    def make_install(cls):
        p = run(["make", "-C", REPO, "--no-print-directory", "install",
                 "DESTDIR=" + cls.dest], timeout=600, env=_env_without_make())
        if p.returncode != 0:
            raise AssertionError("make install DESTDIR=%r failed (%d):\n%s%s"
                                 % (cls.dest, p.returncode, p.stdout, p.stderr))
        return p

    @classmethod
    def path(cls, *parts):
        return os.path.join(cls.dest, *(q.lstrip("/") for q in parts))

    def mode(self, *parts):
        return stat.S_IMODE(os.stat(self.path(*parts)).st_mode)

    def svc(self, key):
        return self.unit.get("Service", {}).get(key, [])

    # -- the installed tree -------------------------------------------------

    def test_tree_and_modes(self):
        expect = [
            ((SBIN, "gatewayd"), 0o755, stat.S_ISREG),
            ((BIN, "gatewayctl"), 0o755, stat.S_ISREG),
            ((ETC,), 0o750, stat.S_ISDIR),
            ((ETC, "gateway.conf"), 0o640, stat.S_ISREG),
            ((ETC, "gateway.conf.example"), 0o640, stat.S_ISREG),
            ((STATE,), 0o700, stat.S_ISDIR),
            ((UNITDIR, UNIT), 0o644, stat.S_ISREG),
            ((SYSUSERS,), 0o644, stat.S_ISREG),
            ((TMPFILES,), 0o644, stat.S_ISREG),
        ]
        for parts, mode, kind in expect:
            p = self.path(*parts)
            self.assertTrue(os.path.lexists(p), "not installed: %s" % p)
            st = os.lstat(p)
            self.assertTrue(kind(st.st_mode), "%s: wrong file type" % p)
            self.assertEqual(stat.S_IMODE(st.st_mode), mode,
                             "%s: mode %o, want %o" % (p, stat.S_IMODE(st.st_mode), mode))
        for built, parts in (("build/gatewayd", (SBIN, "gatewayd")),
                             ("build/gatewayctl", (BIN, "gatewayctl"))):
            with open(os.path.join(REPO, built), "rb") as a, open(self.path(*parts), "rb") as b:
                self.assertEqual(a.read(), b.read(), "%s is not %s" % (self.path(*parts), built))
        with open(os.path.join(REPO, "config", "gateway.conf.example")) as f:
            conf = f.read()
        for name in ("gateway.conf", "gateway.conf.example"):
            with open(self.path(ETC, name)) as f:
                self.assertEqual(f.read(), conf, name)
        for src, dst in (("systemd/gatewayd.service", (UNITDIR, UNIT)),
                         ("systemd/gateway.sysusers", (SYSUSERS,)),
                         ("systemd/gateway.tmpfiles", (TMPFILES,))):
            with open(os.path.join(REPO, src)) as a, open(self.path(*dst)) as b:
                self.assertEqual(a.read(), b.read(), src)
        schemas = os.path.join(REPO, "config", "schemas")
        if os.path.isdir(schemas):
            for root, dirs, files in os.walk(schemas):
                rel = os.path.relpath(root, schemas)
                d = self.path(ETC, "schemas", rel)
                self.assertTrue(os.path.isdir(d), d)
                self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o755, d)
                for n in files:
                    self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, n)).st_mode),
                                     0o644, os.path.join(d, n))

    def test_nothing_written_outside_destdir(self):
        for p, before in self.real_before.items():
            self.assertEqual(self.real_after[p], before,
                             "make install DESTDIR=... changed %s" % p)
        out = self.install.stdout + self.install.stderr
        self.assertNotIn("systemd-sysusers /", out, "post-install ran with DESTDIR set")

    def test_reinstall_keeps_configuration(self):
        conf = self.path(ETC, "gateway.conf")
        example = self.path(ETC, "gateway.conf.example")
        with open(conf, "a") as f:
            f.write("# edited by the operator\n")
        with open(example, "a") as f:
            f.write("# stale\n")
        try:
            self.make_install()
            with open(conf) as f:
                self.assertTrue(f.read().endswith("# edited by the operator\n"),
                                "make install overwrote an existing gateway.conf")
            with open(example) as f, open(os.path.join(REPO, "config", "gateway.conf.example")) as g:
                self.assertEqual(f.read(), g.read(), "gateway.conf.example not refreshed")
        finally:
            shutil.copyfile(os.path.join(REPO, "config", "gateway.conf.example"), conf)

    # -- the unit's content -------------------------------------------------

    def test_unit_content(self):
        self.assertEqual(self.svc("Type"), ["notify"])
        self.assertEqual(self.svc("NotifyAccess"), ["main"])
        self.assertEqual(self.svc("ExecStartPre"),
                         ["/usr/sbin/gatewayd -t -c /etc/gateway/gateway.conf"])
        self.assertEqual(self.svc("ExecStart"),
                         ["/usr/sbin/gatewayd -c /etc/gateway/gateway.conf"])
        self.assertEqual(self.svc("ExecReload"), ["/bin/kill -HUP $MAINPID"])
        self.assertEqual(self.svc("Restart"), ["on-failure"])
        # The parent signals its own children in order (workers, then the
        # keeper): systemd must signal the parent alone.
        self.assertEqual(self.svc("KillMode"), ["mixed"])
        self.assertEqual(self.svc("User"), ["gateway"])
        self.assertEqual(self.svc("Group"), ["gateway"])
        self.assertEqual(self.svc("StateDirectory"), ["gateway"])
        self.assertEqual(self.svc("ConfigurationDirectory"), ["gateway"])
        self.assertEqual(self.svc("CapabilityBoundingSet"), [])
        self.assertEqual(self.svc("NoNewPrivileges"), ["yes"])
        self.assertEqual(self.svc("UMask"), ["0077"])
        self.assertEqual(self.svc("ProtectSystem"), ["strict"])
        families = " ".join(self.svc("RestrictAddressFamilies")).split()
        self.assertEqual(sorted(families), ["AF_INET", "AF_INET6", "AF_UNIX"])
        # gatewayd installs its own seccomp filters and Landlock rules.
        allowed = " ".join(f for f in self.svc("SystemCallFilter") if not f.startswith("~"))
        for call in ("@system-service", "seccomp", "landlock_create_ruleset",
                     "landlock_add_rule", "landlock_restrict_self"):
            self.assertIn(call, allowed.split(), "SystemCallFilter lacks %s" % call)
        denied = " ".join(f[1:] for f in self.svc("SystemCallFilter") if f.startswith("~"))
        self.assertNotIn("@process", denied.split(), "prctl is in @process")
        # Stop timeout above the drain deadline (+2 s the parent allows before
        # killing workers, + the keeper's last commit).
        with open(os.path.join(REPO, "config", "gateway.conf.example")) as f:
            drain = seconds(conf_value(f.read(), "gateway", "shutdown_timeout") or "10s")
        stop = self.svc("TimeoutStopSec")
        self.assertEqual(len(stop), 1, "TimeoutStopSec not set")
        self.assertGreaterEqual(seconds(stop[0]), drain + 3,
                                "TimeoutStopSec=%s too close to shutdown_timeout=%ss"
                                % (stop[0], drain))
        # WatchdogSec only once the daemon sends WATCHDOG=1.
        sends_watchdog = subprocess.run(
            ["grep", "-rqs", "WATCHDOG=1", os.path.join(REPO, "gateway")]).returncode == 0
        if not sends_watchdog:
            self.assertEqual(self.svc("WatchdogSec"), [],
                             "WatchdogSec set but gatewayd never sends WATCHDOG=1")

    def test_sysusers_and_tmpfiles_content(self):
        with open(self.path(SYSUSERS)) as f:
            users = [l.split() for l in f if l.strip() and not l.lstrip().startswith("#")]
        self.assertIn("u", [u[0] for u in users])
        u = [u for u in users if u[0] == "u"][0]
        self.assertEqual(u[1], "gateway")
        self.assertEqual(u[-1], "/var/lib/gateway")
        with open(self.path(TMPFILES)) as f:
            lines = [l.split() for l in f if l.strip() and not l.lstrip().startswith("#")]
        self.assertIn(["d", "/var/lib/gateway", "0700", "gateway", "gateway", "-"], lines)
        self.assertIn(["d", "/etc/gateway", "0750", "root", "gateway", "-"], lines)

    # -- systemd's own tools ------------------------------------------------

    def test_systemd_analyze_verify(self):
        sa = systemd_analyze()
        # The unit as installed, but with the binary it runs at the installed
        # copy; /bin/kill and the targets it names come from this host.
        vdir = os.path.join(self.tmp, "verify")
        os.makedirs(vdir, exist_ok=True)
        unit = os.path.join(vdir, UNIT)
        with open(unit, "w") as f:
            # Quoted: DESTDIR has a space on purpose.
            f.write(self.unit_text.replace("/usr/sbin/gatewayd",
                                           '"%s"' % self.path(SBIN, "gatewayd")))
        p = run([sa, "verify", "--man=no", unit])
        out = (p.stdout + p.stderr).strip()
        ours = [l for l in out.splitlines() if "gatewayd" in l or vdir in l]
        self.assertEqual(p.returncode, 0, "systemd-analyze verify failed:\n" + out)
        self.assertEqual(ours, [], "systemd-analyze verify complains:\n" + out)

    def test_systemd_analyze_security(self):
        sa = systemd_analyze()
        p = run([sa, "security", "--offline=true", "--root=" + self.dest,
                 "--no-pager", UNIT])
        out = p.stdout + p.stderr
        m = re.search(r"Overall exposure level for %s:\s*([0-9]+(?:\.[0-9]+)?)"
                      % re.escape(UNIT), out)
        self.assertIsNotNone(m, "no exposure figure in:\n" + out)
        exposure = float(m.group(1))
        self.assertLessEqual(exposure, MAX_EXPOSURE,
                             "exposure %.1f > %.1f:\n%s" % (exposure, MAX_EXPOSURE, out))
        p = run([sa, "security", "--offline=true", "--root=" + self.dest,
                 "--threshold=%d" % int(MAX_EXPOSURE * 10), "--no-pager", UNIT])
        self.assertEqual(p.returncode, 0, "--threshold check failed:\n" + p.stdout + p.stderr)
        # Nothing beyond the documented exposures.
        p = run([sa, "security", "--offline=true", "--root=" + self.dest,
                 "--json=short", "--no-pager", UNIT])
        self.assertEqual(p.returncode, 0, p.stderr)
        checks = json.loads(p.stdout)
        failing = {c["json_field"]: c["description"] for c in checks
                   if c.get("exposure") not in (None, "0", "0.0") and not c.get("set")}
        unexpected = {k: v for k, v in failing.items() if k not in ACCEPTED_EXPOSURE}
        self.assertEqual(unexpected, {}, "new exposures (exposure %.1f)" % exposure)

    def test_sysusers_and_tmpfiles_apply(self):
        root = os.path.join(self.tmp, "apply-root")
        shutil.copytree(self.dest, root, symlinks=True)
        p = run(["systemd-sysusers", "--root=" + root, self.path(SYSUSERS)]
                if os.geteuid() == 0 else
                ["systemd-sysusers", "--dry-run", "--root=" + root, self.path(SYSUSERS)])
        self.assertEqual(p.returncode, 0, "systemd-sysusers:\n" + p.stdout + p.stderr)
        self.assertIn("gateway", p.stdout + p.stderr)
        if os.geteuid() != 0:
            return          # chown needs root: the content test covers the rest
        pw = {}
        with open(os.path.join(root, "etc", "passwd")) as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                pw[fields[0]] = fields
        self.assertIn("gateway", pw)
        uid, gid, home = int(pw["gateway"][2]), int(pw["gateway"][3]), pw["gateway"][5]
        self.assertLess(uid, 1000, "not a system user")
        self.assertEqual(home, "/var/lib/gateway")
        p = run(["systemd-tmpfiles", "--root=" + root, "--create",
                 os.path.join(root, TMPFILES.lstrip("/"))])
        self.assertEqual(p.returncode, 0, "systemd-tmpfiles:\n" + p.stdout + p.stderr)
        for rel, mode, owner, group in ((STATE, 0o700, uid, gid), (ETC, 0o750, 0, gid),
                                        (ETC + "/gateway.conf", 0o640, 0, gid)):
            st = os.stat(os.path.join(root, rel.lstrip("/")))
            self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid),
                             (mode, owner, group), rel)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SystemdLiveTest(unittest.TestCase):
    """Start, reload and stop a copy of the installed unit under systemd.

    Needs PID 1 to be systemd and root. The copy differs from the installed unit
    only in names: its binary (in /run, as /tmp is private to the service), its
    configuration and state folders, and its name; every hardening line is kept.
    It uses the real "gateway" user (made with the installed sysusers.d file).
    """

    @classmethod
    def setUpClass(cls):
        if not os.path.isdir("/run/systemd/system"):
            raise unittest.SkipTest(
                "PID 1 is not systemd (/run/systemd/system is missing): the unit "
                "cannot be started on this machine; verify and security ran instead")
        if os.geteuid() != 0:
            raise AssertionError("starting a system unit needs root")
        for b in ("build/gatewayd", "build/gatewayctl"):
            if not os.access(os.path.join(REPO, b), os.X_OK):
                raise AssertionError("%s missing: run `make _build` first" % b)
        certs = os.environ.get("GW_CERTS") or os.path.join(REPO, "certs", "dev")
        if not os.path.isabs(certs):
            certs = os.path.join(REPO, certs)
        if not os.path.isfile(os.path.join(certs, "log.key")):
            raise AssertionError("development PKI missing in %s: run `make pki`" % certs)
        cls.certs = certs

    def setUp(self):
        self.name = "gatewayd-itest-%d" % os.getpid()
        self.unitname = self.name + ".service"
        self.tmp = tempfile.mkdtemp(prefix="gw-itest-systemd-live-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        dest = os.path.join(self.tmp, "dest")
        p = run(["make", "-C", REPO, "--no-print-directory", "install", "DESTDIR=" + dest],
                timeout=600, env=_env_without_make())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = run(["systemd-sysusers", os.path.join(dest, SYSUSERS.lstrip("/"))])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        self.etc = "/etc/" + self.name
        self.state = "/var/lib/" + self.name
        self.bindir = "/run/" + self.name
        self.unitfile = "/run/systemd/system/" + self.unitname
        self.addCleanup(self.cleanup)
        os.makedirs(self.bindir, 0o755)
        os.chmod(self.bindir, 0o755)
        shutil.copy2(os.path.join(dest, SBIN.lstrip("/"), "gatewayd"), self.bindir)
        os.chmod(os.path.join(self.bindir, "gatewayd"), 0o755)

        # Configuration: the development one, with absolute paths into the
        # unit's own folders and fresh loopback ports.
        os.makedirs(self.etc + "/certs", 0o750)
        shutil.chown(self.etc, "root", "gateway")
        shutil.chown(self.etc + "/certs", "root", "gateway")
        os.chmod(self.etc, 0o750)
        os.chmod(self.etc + "/certs", 0o750)
        for n in os.listdir(self.certs):
            src = os.path.join(self.certs, n)
            if not os.path.isfile(src) or n.startswith("."):
                continue
            dst = os.path.join(self.etc, "certs", n)
            shutil.copyfile(src, dst)
            if n.endswith(".key"):
                shutil.chown(dst, "gateway", "gateway")
                os.chmod(dst, 0o600)
            else:
                os.chmod(dst, 0o644)
        self.port = _free_port()
        admin = _free_port()
        with open(os.path.join(dest, ETC.lstrip("/"), "gateway.conf")) as f:
            conf = f.read()
        conf = conf.replace("../certs/dev", self.etc + "/certs")
        conf = conf.replace("../var", self.state)
        conf = re.sub(r"(?m)^workers\s*=.*$", "workers = 1", conf)
        conf = re.sub(r"(?m)^(listen\s*=\s*127\.0\.0\.1:)8443$", r"\g<1>%d" % self.port, conf)
        conf = re.sub(r"(?m)^(listen\s*=\s*127\.0\.0\.1:)8444$", r"\g<1>%d" % admin, conf)
        with open(self.etc + "/gateway.conf", "w") as f:
            f.write(conf)
        shutil.chown(self.etc + "/gateway.conf", "root", "gateway")
        os.chmod(self.etc + "/gateway.conf", 0o640)

        with open(os.path.join(dest, UNITDIR.lstrip("/"), UNIT)) as f:
            unit = f.read()
        unit = unit.replace("/usr/sbin/gatewayd", self.bindir + "/gatewayd")
        unit = unit.replace("/etc/gateway/gateway.conf", self.etc + "/gateway.conf")
        unit = re.sub(r"(?m)^StateDirectory=gateway$", "StateDirectory=" + self.name, unit)
        unit = re.sub(r"(?m)^ConfigurationDirectory=gateway$",
                      "ConfigurationDirectory=" + self.name, unit)
        unit = re.sub(r"(?m)^WantedBy=.*$", "", unit)
        with open(self.unitfile, "w") as f:
            f.write(unit)
        self.systemctl("daemon-reload")

    def cleanup(self):
        run(["systemctl", "stop", self.unitname], timeout=60)
        run(["systemctl", "reset-failed", self.unitname], timeout=30)
        if os.path.exists(self.unitfile):
            os.unlink(self.unitfile)
        run(["systemctl", "daemon-reload"], timeout=60)
        for d in (self.etc, self.state, self.bindir):
            shutil.rmtree(d, True)

    def systemctl(self, *args, timeout=120):
        p = run(["systemctl"] + list(args), timeout=timeout)
        if p.returncode != 0:
            self.fail("systemctl %s exited %d:\n%s%s\njournal:\n%s"
                      % (" ".join(args), p.returncode, p.stdout, p.stderr, self.journal()))
        return p.stdout

    def journal(self):
        p = run(["journalctl", "--no-pager", "-n", "40", "-u", self.unitname], timeout=30)
        return p.stdout

    def show(self, prop):
        return self.systemctl("show", "-p", prop, "--value", self.unitname).strip()

    def test_start_reload_stop(self):
        self.systemctl("start", self.unitname)      # Type=notify: returns after READY=1
        self.assertEqual(self.show("ActiveState"), "active", self.journal())
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass
        pid = self.show("MainPID")
        self.assertNotEqual(pid, "0")
        st = os.stat(self.state)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        self.systemctl("reload", self.unitname)
        time.sleep(1)
        self.assertEqual(self.show("ActiveState"), "active", self.journal())
        self.assertEqual(self.show("MainPID"), pid, "reload restarted the daemon")
        self.systemctl("stop", self.unitname, timeout=60)
        self.assertEqual(self.show("ActiveState"), "inactive", self.journal())
        self.assertEqual(self.show("Result"), "success", self.journal())
        self.assertEqual(self.show("ExecMainStatus"), "0", self.journal())
        self.assertTrue(any(n.startswith("audit.db") for n in os.listdir(self.state)),
                        "the keeper wrote nothing to its state folder")


if __name__ == "__main__":
    unittest.main()
