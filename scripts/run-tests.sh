#!/bin/sh
# Runs the test suites and prints one closing line "N passed, N failed".
#   run-tests.sh            unit (plain and ASan+UBSan) and integration
#   run-tests.sh unit       unit tests, plain build only
#   run-tests.sh integration
set -u
cd "$(dirname "$0")/.."
what=${1:-all}
passed=0
failed=0
failures=""

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export GW_SHARED="${GW_SHARED:-../shared}"

run() {
	name=$1
	shift
	log="build/test-logs/$(echo "$name" | tr '/ ' '__').log"
	mkdir -p build/test-logs
	if "$@" >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "PASS $name"
	else
		failed=$((failed + 1))
		failures="$failures $name"
		echo "FAIL $name (log: $log)"
		tail -n 30 "$log" | sed 's/^/    /'
	fi
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	dirs="build/tests"
	[ "$what" = all ] && dirs="build/tests build/san/tests"
	for d in $dirs; do
		for t in "$d"/test_*; do
			[ -x "$t" ] || continue
			run "$t" "$t"
		done
	done
fi

if [ "$what" = all ] || [ "$what" = integration ]; then
	GATEWAYD=${GATEWAYD:-build/san/gatewayd} STUBD=${STUBD:-build/san/stubd} \
	    run "integration" python3 -m unittest discover -s tests/integration \
	    -p 'test_*.py' -v
	sed -n '/^Ran /p;/^OK/p;/^FAILED/p' build/test-logs/integration.log
fi

if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
	echo "no tests found" >&2
	exit 1
fi
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
