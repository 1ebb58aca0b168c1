#!/bin/sh
# `make bench`: runs every part of the benchmark, each even when another failed, then
# tests/bench/report.py (charts, and the generated sections of BENCHMARKS.md). Prints one
# summary line per part and exits 1 if any part (or the report) failed, 0 otherwise.
#
# Parts (BENCH_PARTS selects, default all, in this order):
#   relay   tests/bench/run.sh     passthrough vs HAProxy and nginx, concurrency sweep
#   keeper  tests/bench/keeper.sh  durable appends, audit verify
#   instr   tests/bench/instr.sh   instructions through the whole HTTP path
# Each writes build/bench/<part>.tsv and <part>.md; its output also goes to
# build/bench/<part>.log. build/bench/summary.tsv: part, exit status, seconds.
# BENCH_REPORT=0 skips the report (tables only); BENCH_DOCS=0 writes the charts under
# build/bench/ only, leaving BENCHMARKS.md and docs/bench/ alone.
# Builds nothing: `make bench` builds and makes the development PKI first.
set -u

cd "$(dirname "$0")/../.." || exit 1
OUT=build/bench
PARTS=${BENCH_PARTS:-relay keeper instr}
# Tells the parts' metadata they ran as part of this.
BENCH_VIA=${BENCH_VIA:-tests/bench/all.sh}
export BENCH_VIA

script_of() {
	case $1 in
	relay) echo tests/bench/run.sh ;;
	keeper) echo tests/bench/keeper.sh ;;
	instr) echo tests/bench/instr.sh ;;
	*) return 1 ;;
	esac
}

for part in $PARTS; do
	if ! script_of "$part" >/dev/null; then
		echo "bench: unknown part '$part' (relay, keeper, instr)" >&2
		exit 2
	fi
done

mkdir -p "$OUT"
# A part that fails must not leave the tables of an earlier run behind for the report.
for part in $PARTS; do
	rm -f "$OUT/$part.tsv" "$OUT/$part.md" "$OUT/$part.log"
done
rm -f "$OUT"/relay-*.svg
printf 'part\texit\tseconds\tlog\n' >"$OUT/summary.tsv"

failed=0
for part in $PARTS; do
	script=$(script_of "$part")
	echo "bench: == $part ($script) ==" >&2
	t0=$(date +%s)
	# The part's status through the pipe to tee: written to a file by the subshell.
	{
		sh "$script"
		echo $? >"$OUT/$part.status"
	} 2>&1 | tee "$OUT/$part.log"
	st=$(cat "$OUT/$part.status" 2>/dev/null || echo 1)
	rm -f "$OUT/$part.status"
	secs=$(($(date +%s) - t0))
	[ "$st" = 0 ] || failed=1
	printf '%s\t%s\t%s\t%s\n' "$part" "$st" "$secs" "$OUT/$part.log" >>"$OUT/summary.tsv"
done

report_st=skipped
if [ "${BENCH_REPORT:-1}" != 0 ]; then
	echo "bench: == report (tests/bench/report.py) ==" >&2
	if [ "${BENCH_DOCS:-1}" = 0 ]; then
		python3 tests/bench/report.py --no-docs
	else
		python3 tests/bench/report.py
	fi
	report_st=$?
	[ "$report_st" = 0 ] || failed=1
fi

echo
echo "bench: summary"
tail -n +2 "$OUT/summary.tsv" | while IFS="$(printf '\t')" read -r part st secs log; do
	if [ "$st" = 0 ]; then
		printf 'bench: %-7s ok      (%s s; %s, %s.tsv)\n' "$part" "$secs" "$log" "$OUT/$part"
	else
		printf 'bench: %-7s FAILED  (exit %s after %s s; see %s)\n' "$part" "$st" "$secs" "$log"
	fi
done
case $report_st in
0) if [ "${BENCH_DOCS:-1}" = 0 ]; then
	echo "bench: report  ok      ($OUT/*.svg; BENCHMARKS.md left alone)"
else
	echo "bench: report  ok      (BENCHMARKS.md, docs/bench/*.svg)"
fi ;;
skipped) echo "bench: report  skipped (BENCH_REPORT=0)" ;;
*) echo "bench: report  FAILED  (exit $report_st)" ;;
esac
exit "$failed"
