#!/bin/sh
# Runs the test suites and prints one closing line "N passed, N failed".
#   run-tests.sh            unit (plain and ASan+UBSan), integration, scenarios,
#                           faults (short)
#   run-tests.sh unit       unit tests, plain build only
#   run-tests.sh integration
#   run-tests.sh hostile    the hostile-peer suite (integration, test_hostile_*)
#   run-tests.sh scenarios  month scenarios of all 14 cities (tests/scenarios)
#   run-tests.sh faults     fault-injection suite, short form (root)
set -u
cd "$(dirname "$0")/.."
what=${1:-all}
passed=0
failed=0
failures=""
tests_passed=0
tests_failed=0
tests_skipped=0

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export GW_SHARED="${GW_SHARED:-../shared}"

# Counts the test cases a runner reported (cmocka or Python unittest) into
# tests_passed and tests_failed; a runner that dies without a count is one
# failure.
count() {
	log=$1
	ok=$2
	n=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	if [ -z "$n$f" ]; then
		r=$(sed -n 's/^Ran \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
		bad=$(sed -n 's/^FAILED (\(.*\))$/\1/p' "$log" | tail -n 1 |
		    tr ',' '\n' | sed -n 's/.*\(failures\|errors\)=\([0-9]*\).*/\2/p' |
		    awk '{ s += $1 } END { print s + 0 }')
		skip=$(sed -n 's/^OK (skipped=\([0-9]*\))$/\1/p;s/.*skipped=\([0-9]*\).*/\1/p' \
		    "$log" | tail -n 1)
		if [ -n "$r" ]; then
			n=$((r - bad - ${skip:-0}))
			f=$bad
			tests_skipped=$((tests_skipped + ${skip:-0}))
		fi
	fi
	n=${n:-0}
	f=${f:-0}
	if [ "$ok" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# it failed without saying which test
	fi
	tests_passed=$((tests_passed + n))
	tests_failed=$((tests_failed + f))
}

run() {
	name=$1
	shift
	log="build/test-logs/$(echo "$name" | tr '/ ' '__').log"
	mkdir -p build/test-logs
	if "$@" >"$log" 2>&1; then
		passed=$((passed + 1))
		count "$log" 0
		echo "PASS $name"
	else
		failed=$((failed + 1))
		failures="$failures $name"
		count "$log" 1
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

if [ "$what" = hostile ]; then
	GATEWAYD=${GATEWAYD:-build/san/gatewayd} STUBD=${STUBD:-build/san/stubd} \
	    run "hostile" python3 -m unittest discover -s tests/integration \
	    -p 'test_hostile_*.py' -v
	sed -n '/^Ran /p;/^OK/p;/^FAILED/p' build/test-logs/hostile.log
fi

if [ "$what" = all ] || [ "$what" = scenarios ]; then
	GATEWAYD=${GATEWAYD:-build/san/gatewayd} STUBD=${STUBD:-build/san/stubd} \
	    run "scenarios" python3 -m unittest discover -s tests/scenarios \
	    -p 'test_*.py' -v
	sed -n '/^Ran /p;/^OK/p;/^FAILED/p' build/test-logs/scenarios.log
fi

# The fault-injection suite in its short form (make faults runs the full one).
if [ "$what" = all ] || [ "$what" = faults ]; then
	run "faults" env FAULTS_MODE=short sh tests/faults/run.sh
	sed -n '/^\[faults\//p;/^Ran /p;/^OK/p;/^FAILED/p' build/test-logs/faults.log
fi

if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
	echo "no tests found" >&2
	exit 1
fi
[ -n "$failures" ] && echo "failed suites:$failures"
echo "suites: $passed passed, $failed failed"
if [ "$tests_skipped" -gt 0 ]; then
	echo "$tests_passed passed, $tests_failed failed, $tests_skipped skipped"
else
	echo "$tests_passed passed, $tests_failed failed"
fi
[ "$failed" -eq 0 ]
