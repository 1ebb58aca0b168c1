#!/usr/bin/env python3
"""Other agencies' success rate and latency while hostile clients flood the relay.

Starts the stubs and a gateway (GATEWAYD, STUBD, GW_CERTS as for the integration
tests; release binaries by default), then measures requests of the agencies hrss, bank
and tax (one new TLS connection each, from 127.0.0.1) three times: quiet, with 2,000
hostile connections open (800 half-open TLS from 127.0.0.2, 600 never-sending of
finance-city-620100 from 127.0.0.3, 600 never-reading of finance from 127.0.0.4), and
with 10,000 plain TCP connections from 127.0.0.2 that never send a ClientHello.

    GATEWAYD=build/gatewayd STUBD=build/stubd python3 tests/bench/hostile.py [-n 300]

Only the limits every version of gatewayd knows are configured, so the same script
measures an older build for comparison.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
os.environ.setdefault("GATEWAYD", os.path.join(HERE, "..", "..", "build", "gatewayd"))
os.environ.setdefault("STUBD", os.path.join(HERE, "..", "..", "build", "stubd"))

import harness                      # noqa: E402
import test_hostile_clients as H    # noqa: E402

LIMITS = {"max_connections": "512", "max_connections_per_agency": "64",
          "request_timeout": "20s", "idle_timeout": "60s"}
OTHERS = (("hrss", "/pass/hrss/"), ("bank", "/pass/bank/"), ("tax", "/pass/finance/"))


def measure(env, n):
    """n requests round-robin over the other agencies: (ok, total, p50 ms, p99 ms)."""
    lat, ok = [], 0
    for i in range(n):
        who, prefix = OTHERS[i % len(OTHERS)]
        t0 = time.monotonic()
        try:
            r = env.https("GET", prefix + "x/" + harness.token(), who=who, timeout=3)
            good = r.status == 200
        except OSError:
            good = False
        lat.append((time.monotonic() - t0) * 1000)
        ok += good
    lat.sort()
    return ok, n, lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def close_all(socks):
    for s in socks:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=300, help="requests per measurement")
    args = ap.parse_args()
    H.raise_nofile(16384)
    env = harness.Env(limits=LIMITS).start()
    rows = []
    try:
        measure(env, 10)                      # warm-up
        rows.append(("quiet",) + measure(env, args.n))
        socks = H.open_tcp_flood(env.agency_port, "127.0.0.2", 800, batch=200,
                                 hello=H.PARTIAL_HELLO)
        socks += H.open_tls_flood(env.agency_port, "127.0.0.3", "finance-city-620100", 600)
        socks += H.open_tls_flood(env.agency_port, "127.0.0.4", "finance", 600,
                                  request=H.get("/__stub/big?bytes=%d" % H.BIG))
        try:
            rows.append(("2,000 hostile (%d opened)" % len(socks),) + measure(env, args.n))
        finally:
            close_all(socks)
        time.sleep(6)                         # lingering closes and timeouts settle
        socks = H.open_tcp_flood(env.agency_port, "127.0.0.2", 10000)
        try:
            rows.append(("10,000 silent TCP (%d opened)" % len(socks),)
                        + measure(env, args.n))
        finally:
            close_all(socks)
    finally:
        env.stop()
    print("gateway: %s" % harness.GATEWAYD)
    print("%-34s %9s %8s %8s" % ("other agencies' requests", "success", "p50 ms", "p99 ms"))
    for name, ok, n, p50, p99 in rows:
        print("%-34s %8.1f%% %8.1f %8.1f" % (name, 100.0 * ok / n, p50, p99))


if __name__ == "__main__":
    main()
