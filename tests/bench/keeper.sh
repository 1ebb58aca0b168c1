#!/bin/sh
# Keeper benchmark: durable appends/s and ack latency through the keeper's own
# IPC path (build/keeper_bench forks keeper_main as the parent does), then
# `gatewayctl audit verify` over a log of at least VERIFY_ENTRIES entries.
# Builds nothing: run `make _build` first (build/keeper_bench, build/gatewayctl).
#
# Environment (defaults in brackets):
#   SLOTS [8]  WINDOW [64]  DURATION [BENCH_SECONDS or 10] seconds  WARMUP [1]
#   VERIFY_ENTRIES [1000000] (0: skip)  VERIFY_RUNS [1]
#   BENCH_DIR [a fresh folder under ${TMPDIR:-/tmp}]: holds the database
#   KEEP=1 keeps BENCH_DIR; PERF=1 wraps the throughput run in `perf stat`
# Output: a markdown table on stdout and in build/bench/keeper.md; the same figures as
# "metric<TAB>value" lines under the run's date, machine and command in build/bench/keeper.tsv.
set -eu

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
# shellcheck source=tests/bench/meta.sh disable=SC1091
. "$ROOT/tests/bench/meta.sh"
bench_meta_init tests/bench/keeper.sh
BENCH=${KEEPER_BENCH:-$ROOT/build/keeper_bench}
CTL=${GATEWAYCTL:-$ROOT/build/gatewayctl}
CERTS=${GW_CERTS:-$ROOT/certs/dev}
export GW_SCHEMAS=${GW_SCHEMAS:-$ROOT/config/schemas}
SLOTS=${SLOTS:-8}
WINDOW=${WINDOW:-64}
DURATION=${DURATION:-${BENCH_SECONDS:-10}}
WARMUP=${WARMUP:-1}
VERIFY_ENTRIES=${VERIFY_ENTRIES:-1000000}
VERIFY_RUNS=${VERIFY_RUNS:-1}

for f in "$BENCH" "$CTL"; do
	if [ ! -x "$f" ]; then
		echo "keeper.sh: $f is missing: run make _build first" >&2
		exit 1
	fi
done
if [ ! -f "$CERTS/log.key" ] || [ ! -f "$CERTS/gateway.crt" ]; then
	echo "keeper.sh: $CERTS lacks log.key or gateway.crt: run make pki" >&2
	exit 1
fi

DIR=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/gw-keeper-bench.XXXXXX")}
mkdir -p "$DIR"
cleanup() {
	if [ "${KEEP:-0}" != 1 ] && [ -z "${BENCH_DIR:-}" ]; then
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT INT TERM

# The log key must be private to its owner (the keeper refuses it otherwise).
cp "$CERTS/log.key" "$DIR/log.key"
chmod 600 "$DIR/log.key"
rm -f "$DIR/audit.db" "$DIR/audit.db-wal" "$DIR/audit.db-shm" "$DIR/checkpoint" \
	"$DIR/keeper.log"

# A complete configuration (config_load validates all of it); only [keeper]
# matters to the benchmark.
cat > "$DIR/gateway.conf" <<EOF
[gateway]
workers = $SLOTS
access_log = -

[listener agency]
listen = 127.0.0.1:1
cert = $CERTS/gateway.crt
key = $CERTS/gateway.key
ca = $CERTS/ca.crt

[listener admin]
listen = 127.0.0.1:2
cert = $CERTS/gateway.crt
key = $CERTS/gateway.key
ca = $CERTS/ca.crt

[keeper]
database = $DIR/audit.db
checkpoint_file = $DIR/checkpoint
origin = bench.gateway.local/audit
log_key = $DIR/log.key

[agency finance-city-620100]
role = finance-city
city = 620100
pin_cert = $CERTS/finance-city-620100.crt

[upstream finance]
url = https://127.0.0.1:9441
ca = $CERTS/ca.crt
cert = $CERTS/gateway-client.crt
key = $CERTS/gateway-client.key

[route finance-passthrough]
prefix = /pass/finance/
roles = finance-city
upstream = finance
EOF

FS=$(df -PT "$DIR" 2>/dev/null | awk 'NR == 2 { print $2 " on " $7 }')
echo "keeper.sh: database in $DIR ($FS)" >&2

RUN="$BENCH -c $DIR/gateway.conf -s $SLOTS -w $WINDOW -d $DURATION -u $WARMUP \
	-n $VERIFY_ENTRIES -r $VERIFY_RUNS -x $CTL -l $DIR/keeper.log"
if [ "${PERF:-0}" = 1 ] && command -v perf >/dev/null 2>&1; then
	RUN="perf stat -o $DIR/perf-stat.txt -e task-clock,context-switches,cpu-migrations -- $RUN"
fi

mkdir -p build/bench
rm -f build/bench/keeper.md build/bench/keeper.tsv
# shellcheck disable=SC2086
$RUN > build/bench/keeper.out
{
	echo "## Keeper benchmark"
	echo
	bench_meta_md
	echo
	echo "Database on $FS."
	echo
	cat build/bench/keeper.out
	echo
	echo "Goals: 20000 durable appends/s; 1000000 entries/s verified."
} > build/bench/keeper.md.tmp
mv build/bench/keeper.md.tmp build/bench/keeper.md
# The table's rows as metric<TAB>value (bold marks dropped).
{
	bench_meta_tsv
	printf '# database: %s\n' "$FS"
	printf 'metric\tvalue\n'
	awk -F' [|] ' '/^[|] / && !/^[|] keeper benchmark [|]/ && !/^[|]---/ {
		k = $1; v = $2
		sub(/^[|] /, "", k); sub(/ [|]$/, "", v)
		gsub(/[*]/, "", k); gsub(/[*]/, "", v)
		printf "%s\t%s\n", k, v
	}' build/bench/keeper.out
} > build/bench/keeper.tsv
rm -f build/bench/keeper.out
cat build/bench/keeper.md
if [ -f "$DIR/perf-stat.txt" ]; then
	cat "$DIR/perf-stat.txt" >&2
fi
