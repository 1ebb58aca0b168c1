"""gatewayctl as the scenarios use it: the month's reconciliation (table, CSV, JSON),
the alerts, and the audit log's verification, each against a gateway.conf.

GATEWAYCTL (environment) names the binary; default build/gatewayctl."""

import csv
import io
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness as h      # noqa: E402

GATEWAYCTL = h._path_from_env("GATEWAYCTL", "build/gatewayctl")
TIMEOUT = 60


def run(conf, *args):
    """gatewayctl args -c conf; the CompletedProcess, stdout and stderr decoded as
    UTF-8 with line ends kept as written (the CSV's are CRLF)."""
    r = subprocess.run([GATEWAYCTL] + list(args) + ["-c", conf], capture_output=True,
                       timeout=TIMEOUT)
    r.stdout = r.stdout.decode("utf-8")
    r.stderr = r.stderr.decode("utf-8", "replace")
    return r


def report(conf, period, fmt=None):
    """`gatewayctl report reconciliation --period P [--csv|--json]` (exit 0 clean,
    1 with flags)."""
    return run(conf, "report", "reconciliation", "--period", period,
               *(["--" + fmt] if fmt else []))


def alerts(conf, as_json=False):
    return run(conf, "alerts", *(["--json"] if as_json else []))


def audit_verify(conf):
    return run(conf, "audit", "verify")


def csv_rows(text):
    """The reconciliation CSV as a list of dicts, figures as ints, flags as lists."""
    rows = []
    for r in csv.DictReader(io.StringIO(text, newline="")):
        row = dict(r)
        for k in list(row):
            if k.endswith("_fen"):
                row[k] = int(row[k])
        row["flags"] = [f for f in row["flags"].split(";") if f]
        rows.append(row)
    return rows


def json_rows(rec):
    """The reconciliation JSON's cities in the CSV's shape (no names)."""
    return [dict({k: v for k, v in c.items() if k != "name"}, period=rec["period"])
            for c in rec["cities"]]


def report_json(conf, period):
    r = report(conf, period, "json")
    if r.returncode not in (0, 1):
        raise AssertionError("gatewayctl report failed (%d): %s" % (r.returncode, r.stderr))
    return r.returncode, json.loads(r.stdout)
