#!/bin/sh
# Builds every tests/fuzz/fuzz_*.c as a libFuzzer program with ASan and UBSan
# into build/fuzz/, then runs each for SECONDS (default 60).
#   sh tests/fuzz/run.sh [SECONDS]
# A target names the gateway sources and libraries it needs in its leading
# comment ("FUZZ_SOURCES: ..." and "FUZZ_LIBS: ..."; default: the HTTP set).
# Seeds: tests/fuzz/corpus/NAME/ (NAME = the file name without "fuzz_");
# dictionary: tests/fuzz/NAME.dict. New inputs go to build/fuzz/corpus/NAME/,
# crashes to build/fuzz/artifacts/. Exits non-zero if a build or a run fails.
# Environment: FUZZ_CC (clang), FUZZ_CFLAGS (extra compiler flags),
# FUZZ_ARGS (extra libFuzzer flags, e.g. -jobs=2).
set -u
cd "$(dirname "$0")/../.." || exit 1

secs=${1:-60}
cc=${FUZZ_CC:-clang}
out=build/fuzz
llhttp_inc=/usr/share/include/llhttp
llhttp_src=/usr/share/llhttp
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -I. -Igateway \
-I$llhttp_inc $(pkg-config --cflags libevent openssl 2>/dev/null) ${FUZZ_CFLAGS:-}"
default_sources="gateway/net/http.c gateway/net/http_header.c gateway/util.c gateway/log.c"
default_libs="-levent"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

mkdir -p "$out/obj/llhttp" "$out/artifacts" || exit 1

# llhttp is third-party generated code: instrumented for coverage, warnings
# off, and in its strict variant as the Makefile builds it (LLHTTP_CFLAGS).
for f in llhttp api http; do
	if ! $cc -std=c17 -g -O1 -fsanitize=fuzzer-no-link $san -w \
	    -DLLHTTP_STRICT_MODE=1 -I"$llhttp_inc" -c "$llhttp_src/$f.c" \
	    -o "$out/obj/llhttp/$f.o"; then
		echo "fuzz: cannot build llhttp ($f.c)" >&2
		exit 1
	fi
done
llhttp_objs="$out/obj/llhttp/llhttp.o $out/obj/llhttp/api.o $out/obj/llhttp/http.o"

# The value of "KEY: ..." in a target's leading comment, if any.
directive() {
	sed -n "s/^[ *]*$1:[ ]*//p" "$2" | head -n 1
}

status=0
summary=""
for src in tests/fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	prog=$(basename "$src" .c)
	name=${prog#fuzz_}
	sources=$(directive FUZZ_SOURCES "$src")
	libs=$(directive FUZZ_LIBS "$src")
	[ -n "$sources" ] || sources=$default_sources
	[ -n "$libs" ] || libs=$default_libs

	objs=""
	ok=1
	for s in $sources; do
		o="$out/obj/$prog/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')"
		mkdir -p "$(dirname "$o")"
		# shellcheck disable=SC2086
		if ! $cc $cflags -Wall -Wextra -Wno-unused-parameter \
		    -fsanitize=fuzzer-no-link $san -c "$s" -o "$o"; then
			ok=0
			break
		fi
		objs="$objs $o"
	done
	# shellcheck disable=SC2086
	if [ "$ok" -eq 0 ] || ! $cc $cflags -Wall -Wextra -Wno-unused-parameter \
	    -fsanitize=fuzzer $san "$src" $objs $llhttp_objs -o "$out/$prog" \
	    $libs; then
		echo "fuzz: cannot build $prog" >&2
		status=1
		summary="$summary
$prog: BUILD FAILED"
		continue
	fi

	work="$out/corpus/$name"
	seeds="tests/fuzz/corpus/$name"
	mkdir -p "$work"
	set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$out/artifacts/$prog-"
	[ -f "tests/fuzz/$name.dict" ] && set -- "$@" -dict="tests/fuzz/$name.dict"
	set -- "$@" "$work"
	[ -d "$seeds" ] && set -- "$@" "$seeds"
	log="$out/$prog.log"
	echo "fuzz: $prog for ${secs}s (log: $log)"
	# shellcheck disable=SC2086
	"$out/$prog" ${FUZZ_ARGS:-} "$@" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		line="$prog: ok, ${execs:-?} runs, ${rate:-?} exec/s, ${cov:-cov: ?}"
	else
		status=1
		line="$prog: FAILED (exit $rc), ${execs:-?} runs, ${rate:-?} exec/s"
		grep -E '^==[0-9]+==ERROR|runtime error|^SUMMARY|Test unit written' \
		    "$log" | head -n 5 | sed 's/^/    /'
		tail -n 30 "$log" | sed 's/^/    /' >&2
	fi
	echo "$line"
	summary="$summary
$line"
done

if [ -z "$summary" ]; then
	echo "fuzz: no targets in tests/fuzz/" >&2
	exit 1
fi
echo "fuzz summary:$summary"
exit "$status"
