"""make demo: one clean month of all 14 cities through a fresh gateway and stub agencies
(release binaries when the Makefile sets GATEWAYD and STUBD), then the month's
reconciliation table and the alerts as an operator sees them with gatewayctl.

Exit status: 0 when the month is clean, 1 otherwise (or when a step was refused)."""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import ctl                 # noqa: E402
import month as S          # noqa: E402


def main():
    period = S.current_period()
    print("gateway %s, stubs %s" % (os.path.relpath(S.h.GATEWAYD, S.h.REPO),
                                    os.path.relpath(S.h.STUBD, S.h.REPO)))
    t0 = time.monotonic()
    env = S.start_env()
    try:
        print("fresh gateway in %s (started in %.2fs)" % (env.dir, time.monotonic() - t0))
        month = S.Month(period, tag="DEMO")
        run = S.MonthRun(env, month)
        print("running %s: %d cities, %d collection batches, %d remittances, %d plans, "
              "%d disbursements" % (period, len(month.cities),
                                    sum(len(c.batches) for c in month.cities.values()),
                                    sum(len(c.parts) for c in month.cities.values()),
                                    len(month.cities), len(month.disbursements)))
        try:
            run.run()
        except S.ScenarioError as e:
            print("the month stopped: %s" % e)
            return 1
        for name, secs in run.timings:
            print("  %-30s %6.2fs" % (name, secs))
        print()
        print("$ gatewayctl report reconciliation --period %s -c gateway.conf" % period)
        rep = ctl.report(env.config_path, period)
        sys.stdout.write(rep.stdout + rep.stderr)
        print()
        print("$ gatewayctl alerts -c gateway.conf")
        al = ctl.alerts(env.config_path)
        sys.stdout.write(al.stdout + al.stderr or "(no alerts)\n")
        return 0 if rep.returncode == 0 else 1
    finally:
        env.stop()


if __name__ == "__main__":
    sys.exit(main())
