#!/bin/sh
# Fault-injection suite: kill -9 of each role under load, a full audit file system,
# thousands of slow and idle connections, upstream resets and hangs, a broken reload,
# power cuts (test_powercut.py: 5 short, 50 full).
#   FAULTS_MODE=short   a few kills and connections (make check; under a minute)
#   FAULTS_MODE=full    the full figures (make faults; about 5 minutes; the default here)
# Extra arguments go to unittest (e.g. -k TestDiskFull). Exits non-zero on failure.
# Needs root (tmpfs mount), build/san/gatewayd, build/san/stubd, build/gatewayctl,
# build/powercut.so and the development PKI (make build-san _build pki).
set -eu
cd "$(dirname "$0")/../.."
export FAULTS_MODE="${FAULTS_MODE:-full}"
export GATEWAYD="${GATEWAYD:-build/san/gatewayd}"
export STUBD="${STUBD:-build/san/stubd}"
export GATEWAYCTL="${GATEWAYCTL:-build/gatewayctl}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if [ "$(id -u)" != 0 ]; then
	echo "tests/faults/run.sh: must run as root (the disk-full test mounts a tmpfs)" >&2
	exit 1
fi
start=$(date +%s)
rc=0
python3 -m unittest discover -s tests/faults -p 'test_*.py' -v "$@" || rc=$?
echo "faults ($FAULTS_MODE): $(( $(date +%s) - start ))s, exit $rc" >&2
exit $rc
