#!/usr/bin/env python3
"""make soak: a simulated year of the province through one gateway, at an accelerated pace.

Twelve months, each: the month scenario of all 14 cities (collections in UTF-8, GBK and
GB18030, remittances, plans, reviews, disbursements to the bank, pain.002 settlement,
camt.054 arrivals; its reconciliation must come out clean), while loadgen keeps a steady
stream of passthrough exchanges and a paced stream of collections (the acknowledgement
latency measured is theirs: a 202 is sent only after the durable commit) until the log has
grown by a twelfth of SOAK_ENTRIES. As in a province, exchanges make most of the log: the
collections come at SOAK_INSTR_RATE a second (default 50, about one entry in a hundred
here). One row per month: database and WAL size, bytes on disk per entry, entries/s, p99
acknowledgement latency (of all the month's collections, and of its worst ten seconds),
keeper RSS, the longest periodic tasks of the keeper (signing and
recording a checkpoint; writing and syncing its file; the minute's watches) and the
longest WAL checkpoint so far; at the end the time of `gatewayctl audit verify` over the
whole log (release build, a checkpoint about every second) and how many instruction
signatures it checked.

Goals checked at the end (exit 1 if one is missed): the WAL never above its limit, the last
month's p99 within 1.5x of the first, keeper RSS flat (anonymous memory; the last within
1.25x of the first half-year's: SQLite's page cache fills first), every month reconciles clean, verify >= 500,000 entries/s.

Environment: SOAK_ENTRIES (default 20000000), SOAK_CONNS (passthrough connections, 24),
SOAK_INSTR_CONNS (collection connections, 4), SOAK_INSTR_RATE (collections a second, 50;
0: as fast as they are answered), SOAK_PT_RATE (passthrough exchanges a second, 20000:
about two thirds of the ~30,000 a second this 2-core machine carries flat out, which
still keeps both cores busy with the load generator and stubs on them; 0: as fast as
they are answered), SOAK_DIR (where the state goes; default a
temporary folder under TMPDIR, removed unless SOAK_KEEP=1: keep it on a real disk).
Output: the table on stdout and in build/soak/soak.md.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
os.environ.setdefault("GATEWAYD", os.path.join(REPO, "build", "gatewayd"))
os.environ.setdefault("STUBD", os.path.join(REPO, "build", "stubd"))
os.environ.setdefault("GATEWAYCTL", os.path.join(REPO, "build", "gatewayctl"))
sys.path.insert(0, os.path.join(REPO, "tests", "scenarios"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import month as S            # noqa: E402
from month import h, M       # noqa: E402

ENTRIES = int(os.environ.get("SOAK_ENTRIES", "20000000"))
CONNS = int(os.environ.get("SOAK_CONNS", "24"))
INSTR_CONNS = int(os.environ.get("SOAK_INSTR_CONNS", "4"))
INSTR_RATE = int(os.environ.get("SOAK_INSTR_RATE", "50"))
PT_RATE = int(os.environ.get("SOAK_PT_RATE", "20000"))
LOADGEN = os.path.join(REPO, "build", "loadgen")
CTL = os.environ["GATEWAYCTL"]
CHUNK = 10          # seconds of loadgen between looks at the log's size
WAL_LIMIT = 64 << 20


def metric(text, name):
    m = re.search(r"^%s(?:\{[^}]*\})? ([0-9.e+-]+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else 0.0


def percentile(hist, pct):
    """pct percent of the merged [upper_us, count] buckets at or below: ms."""
    n = sum(hist.values())
    if n == 0:
        return 0.0
    rank, seen = max(1, -(-n * pct // 100)), 0
    for upper in sorted(hist):
        seen += hist[upper]
        if seen >= rank:
            return upper / 1000.0
    return 0.0


def mib(n):
    return "%.1f" % (n / 1048576.0)


class WalSampler(threading.Thread):
    """The -wal file's size every 10 ms; max since the last take()."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.max = 0
        self.max_ever = 0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                n = os.stat(self.path).st_size
            except FileNotFoundError:
                n = 0
            self.max = max(self.max, n)
            self.max_ever = max(self.max_ever, n)
            time.sleep(0.01)

    def take(self):
        m, self.max = self.max, 0
        return m


def keeper_pid(env):
    pids = re.findall(r'"keeper started \(pid (\d+)\)', env.gateway.stderr_text())
    return int(pids[-1]) if pids else None


def rss_mib(pid):
    """(anonymous, file-backed) resident MiB: the keeper maps its database, so the
    file-backed part grows with the file up to the map's size (mmap_size), while the
    anonymous part is its own memory (heap, page cache) and must stay flat."""
    out = {"RssAnon:": 0.0, "RssFile:": 0.0}
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                k = ln.split(":")[0] + ":"
                if k in out:
                    out[k] = int(ln.split()[1]) / 1024.0
    except OSError:
        pass
    return out["RssAnon:"], out["RssFile:"]


def loadgen(env, seconds, prefix, template):
    url = "https://%s:%d" % (h.LOCAL, env.agency_port)
    tax = "cert=%s,key=%s,type=application/xml,path=/v1/collections" % (
        h.cert("tax"), h.key("tax"))
    rate = ["--rate", str(INSTR_RATE)] if INSTR_RATE > 0 else []
    pt_rate = ["--rate", str(PT_RATE)] if PT_RATE > 0 else []
    procs = [
        subprocess.Popen([LOADGEN, "--url", url + "/pass/finance/soak", "--cert",
                          h.cert("finance"), "--key", h.key("finance"), "--ca", h.ca_file(),
                          "-c", str(CONNS), "-d", "%ds" % seconds, "--json"] + pt_rate,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL),
        subprocess.Popen([LOADGEN, "--url", url + "/v1/collections", "--cert", h.cert("tax"),
                          "--key", h.key("tax"), "--ca", h.ca_file(), "-c", str(INSTR_CONNS),
                          "-d", "%ds" % seconds, "--expect", "202", "--id-prefix", prefix,
                          "--body-template", template + "," + tax, "--json"] + rate,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL),
    ]
    outs = [p.communicate(timeout=seconds + 120)[0] for p in procs]
    try:
        return [json.loads(o) for o in outs]
    except ValueError:
        return [{}, {}]


def main():
    # A SIGTERM (a stopped make, a supervisor) still stops the gateway and stubs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = os.environ.get("SOAK_DIR")
    if base:
        os.makedirs(base, exist_ok=True)
        os.environ["TMPDIR"] = base
    h.require_environment()
    # Next year's months: their remittances are not due yet, so the overdue watch
    # flags none of them while the month's phases are still under way.
    year = int(time.strftime("%Y")) + 1
    # Every client here comes from 127.0.0.1: the handshake budgets per address are
    # raised to the whole budget, as for a gateway behind one NAT address.
    # Each worker keeps as many idle upstream connections as there are clients, so
    # that no exchange pays a fresh upstream handshake (as a deployment would set it).
    env = S.start_env(access_log="/dev/null", workers=2, upstream_pool=CONNS + INSTR_CONNS,
                      limits={
        "max_connections": "4096", "max_connections_per_agency": "512",
        "max_handshakes": "1024", "max_handshakes_per_address": "1024"})
    sampler = WalSampler(os.path.join(env.dir, "audit.db-wal"))
    sampler.start()
    template = os.path.join(env.dir, "collection.xml")
    with open(template, "wb") as f:
        # A city and month outside the simulated year, whose reconciliation the soak
        # does not read.
        f.write(M.collection("{{ID}}", city="620100", period="%d-12" % (year - 1)))
    rows = []
    failures = []
    per_month = ENTRIES // 12
    t_start = time.monotonic()
    try:
        admin = lambda: env.https("GET", "/metrics", who="admin", admin=True).body.decode()
        entries = metric(admin(), "gateway_audit_entries")
        for m in range(1, 13):
            period = "%d-%02d" % (year, m)
            t0, e0 = time.monotonic(), entries
            run = S.MonthRun(env, S.Month(period, tag="SOAK%02d" % m))
            result = {}

            def scenario():
                try:
                    result["rec"] = run.run()
                except BaseException as e:     # reported in the month's row
                    result["error"] = e
            th = threading.Thread(target=scenario)
            th.start()
            p99s, hist, n = [], {}, 0
            while entries - e0 < per_month or th.is_alive():
                pt, ins = loadgen(env, CHUNK, "s%02d%03d" % (m, n), template)
                n += 1
                if ins.get("ok"):
                    p99s.append(ins["latency_ms"]["p99"])
                    for upper, count in ins.get("latency_hist", ()):
                        hist[upper] = hist.get(upper, 0) + count
                entries = metric(admin(), "gateway_audit_entries")
            th.join()
            rec = result.get("rec")
            clean = rec is not None and rec.get("clean") is True
            if not clean:
                print("%s: %s" % (period, result.get("error") or "flags"), flush=True)
                failures.append("%s did not reconcile clean: %s" % (
                    period, result.get("error") or [(c["city_code"], c["flags"]) for c in
                                                    (rec or {}).get("cities", ())
                                                    if c.get("flags")]))
            mt = admin()
            db = os.path.getsize(os.path.join(env.dir, "audit.db"))
            wal_max = sampler.take()
            row = {
                "month": period, "entries": int(entries),
                "db_mib": db / 1048576.0, "wal_max_mib": wal_max / 1048576.0,
                "bytes_per_entry": db / max(entries, 1),
                "rate": (entries - e0) / (time.monotonic() - t0),
                "p99_ms": percentile(hist, 99),
                "worst_p99_ms": max(p99s) if p99s else 0.0,
                "acks": sum(hist.values()),
                "rss_mib": rss_mib(keeper_pid(env) or 0)[0],
                "rss_file_mib": rss_mib(keeper_pid(env) or 0)[1],
                "periodic_ms": 1000 * metric(mt, 'gateway_keeper_periodic_max_seconds{task="checkpoint"}'),
                "cpfile_ms": 1000 * metric(mt, 'gateway_keeper_periodic_max_seconds{task="checkpoint_file"}'),
                "watch_ms": 1000 * metric(mt, 'gateway_keeper_periodic_max_seconds{task="watch"}'),
                "ckpt_ms": 1000 * metric(mt, "gateway_wal_checkpoint_max_seconds"),
                "clean": clean,
            }
            rows.append(row)
            print("%(month)s %(entries)11d entries  db %(db_mib)8.1f MiB  wal max "
                  "%(wal_max_mib)5.1f MiB  %(bytes_per_entry)6.0f B/entry  %(rate)7.0f/s  "
                  "p99 %(p99_ms)6.1f ms (worst 10 s %(worst_p99_ms)6.1f, %(acks)d acks)  keeper RSS anon %(rss_mib)6.1f MiB file %(rss_file_mib)6.1f "
                  "MiB  periodic max: checkpoint %(periodic_ms)4.0f file %(cpfile_ms)4.0f watch "
                  "%(watch_ms)4.0f ms  WAL checkpoint max %(ckpt_ms)5.0f ms  %(clean)s" % row,
                  flush=True)
        env.gateway.stop(grace=30.0)
        env.gateway = None
        t1 = time.monotonic()
        v = subprocess.run([CTL, "audit", "verify", "-c", env.config_path],
                           capture_output=True, text=True, timeout=7200)
        verify_s = time.monotonic() - t1
        verify_rate = entries / verify_s if verify_s > 0 else 0
        print("audit verify: exit %d, %d entries in %.1f s (%.0f entries/s): %s" % (
            v.returncode, entries, verify_s, verify_rate,
            (v.stdout + v.stderr).strip().splitlines()[-1:]), flush=True)
    finally:
        sampler.stopping.set()
        if env.gateway is not None:
            env.gateway.stop(grace=30.0)
        keep = os.environ.get("SOAK_KEEP") == "1"
        if keep:
            os.environ["GW_TEST_KEEP"] = "1"
        env.stop()

    first, last = rows[0], rows[-1]
    if sampler.max_ever > WAL_LIMIT:
        failures.append("the WAL reached %d bytes, over its limit %d" % (sampler.max_ever,
                                                                        WAL_LIMIT))
    if last["p99_ms"] > 1.5 * first["p99_ms"]:
        failures.append("the last month's p99 %.1f ms is over 1.5x the first's %.1f ms"
                        % (last["p99_ms"], first["p99_ms"]))
    # SQLite's page cache (64 MiB) fills during the first months: flat means the last
    # month within 1.25x of the largest of the first half-year.
    warm = max(r["rss_mib"] for r in rows[:6])
    if last["rss_mib"] > 1.25 * warm:
        failures.append("keeper anonymous RSS grew from %.1f (first half-year) to %.1f MiB"
                        % (warm, last["rss_mib"]))
    if v.returncode != 0:
        failures.append("audit verify failed: %s" % (v.stdout + v.stderr)[-500:])
    if verify_rate < 500000:
        failures.append("audit verify at %.0f entries/s, under 500,000" % verify_rate)
    # A year at 100 exchanges/s on average, at this run's bytes per entry.
    year_bytes = 100 * 86400 * 365 * last["bytes_per_entry"]

    os.makedirs(os.path.join(REPO, "build", "soak"), exist_ok=True)
    md = os.path.join(REPO, "build", "soak", "soak.md")
    with open(md, "w") as f:
        f.write("| month | entries | database MiB | WAL max MiB | bytes/entry | entries/s | "
                "p99 ack ms | worst 10 s p99 ms | keeper RSS anon MiB | keeper RSS file MiB | longest checkpoint task ms | "
                "longest checkpoint file write ms | longest watch ms | longest WAL checkpoint ms | "
                "clean |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
        for r in rows:
            f.write("| %(month)s | %(entries)d | %(db_mib).1f | %(wal_max_mib).1f | "
                    "%(bytes_per_entry).0f | %(rate).0f | %(p99_ms).1f | %(worst_p99_ms).1f | %(rss_mib).1f | "
                    "%(rss_file_mib).1f | "
                    "%(periodic_ms).0f | %(cpfile_ms).0f | %(watch_ms).0f | %(ckpt_ms).0f | "
                    "%(clean)s |\n" % r)
        f.write("\naudit verify: %d entries in %.1f s (%.0f entries/s), exit %d. Total run "
                "%.0f s. A year at 100 exchanges/s: %.0f GiB.\n" % (
                    entries, verify_s, verify_rate, v.returncode,
                    time.monotonic() - t_start, year_bytes / (1 << 30)))
    print("a year at 100 exchanges/s on average: %.0f GiB at %.0f bytes/entry"
          % (year_bytes / (1 << 30), last["bytes_per_entry"]))
    for fl in failures:
        print("GOAL MISSED: " + fl)
    print("soak: %s (table in %s)" % ("all goals met" if not failures else
                                      "%d goals missed" % len(failures), md))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
