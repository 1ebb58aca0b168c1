#!/usr/bin/env bash
# Transfer API benchmark (`make bench`): accepted, signed and durably logged instructions per
# second through the whole HTTP path (mTLS, relay worker, adapter, keeper group commit with
# synchronous=FULL, 202 receipt), then `gatewayctl audit verify` over the log they made.
#
# Runs, each against a gateway started for it with an empty audit log (the keeper's checks
# read what earlier runs left), after a one-second warm-up, with a unique id in every request
# (a resubmitted id would measure the replay path instead):
#   coll-1  POST /v1/collections, PremiumCollection XML of 1 item (tax)
#   coll-3  POST /v1/collections, the 3-item sample collection (tax)
#   mix     the 3-item collections, remittances (finance-city-620100) and plans (hrss), on
#           3/6, 2/6 and 1/6 of the connections, from ONE loadgen process (one TLS context per
#           client certificate), so the rate and the latency percentiles are those of the mix;
#           plans are the rarest (one per city and month, as in the fund: see below)
# A run counts only 202 answers; it prints instructions/s, p50/p99 acknowledgement latency,
# errors, the keeper's mean group-commit batch (from /metrics) and the CPU each process used.
# After the warm-up and after each run the script waits until the courier has delivered the
# backlog to the stubs (the audit log stops growing), so every run starts from an empty outbox,
# and reports how fast that backlog drained; then it stops the gateway and checks its log
# with `gatewayctl audit verify` (at least one entry per 202).
#
# Environment: INSTR_SECONDS (per run, default BENCH_SECONDS or 10), INSTR_CONNS (keep-alive
# connections, 64), INSTR_THREADS (loadgen threads, 1), INSTR_WORKERS (relay workers, 2),
# INSTR_DRAIN (longest wait in seconds for the courier's backlog after a run, 300; 0: none),
# INSTR_PORT_BASE (18543: agency +0, admin +1, stubs finance/hrss/bank +7/+8/+9),
# INSTR_ACCESS_LOG (1: an access line per request, to a file), INSTR_SANDBOX (yes: the roles'
# seccomp and Landlock confinement, as deployed; no only to tell its cost), INSTR_KEEP (1: keep the
# temporary folder), BENCH_CERTS (certs/dev), BENCH_GATEWAYD (build/gatewayd), TMPDIR (where
# the temporary folder and so the database go: keep it on a real disk, not tmpfs).
# Output: a table on stdout, build/bench/instr.md, and build/bench/instr.tsv (one line per run
# under the run's date, machine and command). Exit status 0 when every run got 202s
# only and each audit log verifies with at least as many entries as 202s, 1 otherwise.
# Builds nothing: make build/gatewayd build/gatewayctl build/loadgen build/stubd first.
# shellcheck disable=SC2317 # cleanup runs from the trap
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build
CERTS=${BENCH_CERTS:-$ROOT/certs/dev}
export GW_SCHEMAS=${GW_SCHEMAS:-$ROOT/config/schemas}
SECS=${INSTR_SECONDS:-${BENCH_SECONDS:-10}}
CONNS=${INSTR_CONNS:-64}
LG_THREADS=${INSTR_THREADS:-1}
WORKERS=${INSTR_WORKERS:-2}
ACCESS_LOG=${INSTR_ACCESS_LOG:-1}
DRAIN=${INSTR_DRAIN:-300}
SANDBOX=${INSTR_SANDBOX:-yes}
BASE=${INSTR_PORT_BASE:-18543}
GW_PORT=$BASE
ADMIN_PORT=$((BASE + 1))
FIN_PORT=$((BASE + 7))
HRSS_PORT=$((BASE + 8))
BANK_PORT=$((BASE + 9))
LOADGEN=$BUILD/loadgen
GATEWAYD=${BENCH_GATEWAYD:-$BUILD/gatewayd}
CTL=$BUILD/gatewayctl
STUBD=$BUILD/stubd
MD=$BUILD/bench/instr.md
TSV=$BUILD/bench/instr.tsv
# shellcheck source=tests/bench/meta.sh disable=SC1091
. "$ROOT/tests/bench/meta.sh"
bench_meta_init tests/bench/instr.sh
HZ=$(getconf CLK_TCK)

status=0
PIDS=()
TMP=""
GW_PID=""

say() { printf 'instr: %s\n' "$*" >&2; }

# Ends the process groups this script started (each under setsid), politely first, then by
# force; removes the temporary folder unless INSTR_KEEP=1.
cleanup() {
	local pid _ alive
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	done
	for _ in $(seq 50); do
		alive=0
		for pid in "${PIDS[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ "$alive" -eq 0 ] && break
		sleep 0.1
	done
	for pid in "${PIDS[@]}"; do
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ -n "$TMP" ] && [ "${INSTR_KEEP:-0}" = 1 ]; then
		say "kept $TMP"
	elif [ -n "$TMP" ]; then
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts "$@" in a new session with output to log file $1; sets STARTED_PID.
start() {
	local log=$1
	shift
	setsid "$@" >"$log" 2>&1 </dev/null &
	STARTED_PID=$!
	PIDS+=("$STARTED_PID")
}

# Waits until port $1 accepts connections while process $2 lives (10 s at most).
wait_port() {
	local _
	for _ in $(seq 100); do
		port_open "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# First value of a numeric field in loadgen's one-line JSON (the top-level one: "ok", "rps",
# "p50", "total" ... come before the per-template objects).
jnum() { printf '%s\n' "$1" | grep -o "\"$2\":[0-9.]*" | head -n 1 | cut -d: -f2; }

# CPU ticks (user + system) a process has used; 0 once it is gone.
ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return 0; }
	# Fields after the command name, which is in parentheses: utime and stime are 12 and 13.
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo $((${12} + ${13}))
}

# CPU ticks of this shell's waited-for children (loadgen runs): cutime + cstime.
child_ticks() {
	local s
	s=$(cat /proc/$$/stat)
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo $((${14} + ${15}))
}

# Busy and total jiffies of the whole machine ("busy total"), from /proc/stat: what else runs
# on this shared machine shows as busy time no process of the benchmark used.
machine_ticks() {
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i
		print t - $5 - $6, t; exit }' /proc/stat
}

# A Prometheus sample from the admin listener (0 when it cannot be read).
metric() {
	local v
	v=$(curl -s --max-time 5 --cacert "$CERTS/ca.crt" --cert "$CERTS/admin.crt" \
		--key "$CERTS/admin.key" "https://127.0.0.1:$ADMIN_PORT/metrics" 2>/dev/null |
		awk -v m="$1" '$1 == m { print $2; exit }') || true
	echo "${v:-0}"
}

# ---- preconditions ---------------------------------------------------------------------------

case $SANDBOX in
yes | no) ;;
*)
	say "INSTR_SANDBOX must be yes or no (got '$SANDBOX')"
	exit 1
	;;
esac
case $DRAIN in
'' | *[!0-9]*)
	say "INSTR_DRAIN must be a number of seconds (got '$DRAIN')"
	exit 1
	;;
esac
for v in "$SECS" "$CONNS" "$LG_THREADS" "$WORKERS" "$BASE"; do
	case $v in
	'' | *[!0-9]* | 0)
		say "INSTR_* settings must be positive integers (got '$v')"
		exit 1
		;;
	esac
done
if [ "$CONNS" -lt 6 ]; then
	say "INSTR_CONNS must be at least 6 (the mix spreads six templates)"
	exit 1
fi
for f in "$LOADGEN" "$GATEWAYD" "$CTL" "$STUBD"; do
	if [ ! -x "$f" ]; then
		say "missing $f (run: make build/gatewayd build/gatewayctl build/loadgen build/stubd)"
		exit 1
	fi
done
for f in ca.crt crl.pem gateway.crt gateway.key gateway-client.crt gateway-client.key \
	log.key signing.key bank-sign.key tax.crt tax.key hrss.crt hrss.key finance.crt \
	finance-city-620100.crt finance-city-620100.key admin.crt admin.key bank.crt \
	stub-finance.crt stub-finance.key stub-hrss.crt stub-hrss.key stub-bank.crt stub-bank.key; do
	if [ ! -s "$CERTS/$f" ]; then
		say "missing $CERTS/$f (run: make pki)"
		exit 1
	fi
done
if [ ! -r "$ROOT/config/accounts.conf" ]; then
	say "missing $ROOT/config/accounts.conf"
	exit 1
fi
command -v curl >/dev/null || say "curl not installed: no group-commit figures"
for p in $GW_PORT $ADMIN_PORT $FIN_PORT $HRSS_PORT $BANK_PORT; do
	if port_open "$p"; then
		say "port $p is in use; set INSTR_PORT_BASE"
		exit 1
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gw-instr.XXXXXX")
chmod 700 "$TMP"
mkdir -p "$TMP/keys"
# The keeper refuses keys others can read: private copies, whatever the checkout's modes.
(umask 077 && cp "$CERTS/log.key" "$CERTS/signing.key" "$CERTS/bank-sign.key" "$TMP/keys/")
FS=$(df -PT "$TMP" 2>/dev/null | awk 'NR == 2 { print $2 " on " $7 }')

# ---- the request templates ({{ID}}: a fresh id per request, from loadgen) ----------------------

# One item: TotalAmount is that item's Amount, Count 1.
cat >"$TMP/coll-1.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<PremiumCollection xmlns="urn:gateway:tax:collection:1">
<BatchId>{{ID}}</BatchId>
{{VAR}}
<CollectedAt>2024-06-03T09:30:00+08:00</CollectedAt>
<Currency>CNY</Currency>
<TotalAmount>12345.67</TotalAmount>
<Count>1</Count>
<Item><EmployerId>91620100MA71AB12C4</EmployerId><EmployerName>兰州市第一建筑工程有限公司</EmployerName><Insured>120</Insured><Amount>12345.67</Amount></Item>
</PremiumCollection>
EOF
# The 3-item sample collection of the smoke test.
cat >"$TMP/coll-3.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<PremiumCollection xmlns="urn:gateway:tax:collection:1">
<BatchId>{{ID}}</BatchId>
{{VAR}}
<CollectedAt>2024-06-03T09:30:00+08:00</CollectedAt>
<Currency>CNY</Currency>
<TotalAmount>94346.00</TotalAmount>
<Count>3</Count>
<Item><EmployerId>91620100MA71AB12C4</EmployerId><EmployerName>兰州市第一建筑工程有限公司</EmployerName><Insured>120</Insured><Amount>12345.67</Amount></Item>
<Item><EmployerId>91620102224331102U</EmployerId><EmployerName>甘肃陇原物流有限责任公司</EmployerName><Insured>35</Insured><Amount>2000.00</Amount></Item>
<Item><EmployerId>12620000438000123F</EmployerId><EmployerName>兰州大学第二医院</EmployerName><Insured>800</Insured><Amount>80000.33</Amount></Item>
</PremiumCollection>
EOF
# Lanzhou's special account to the province-special account (both in config/accounts.conf),
# paid by the 5th of the next month (before the due day: no late-remittance alert).
printf '%s' '{"remittance_id":"{{ID}}","city_code":"620100",{{VAR}},"amount_fen":9434600,"from_account":"270362010010000115","to_account":"270362000010000017"}' \
	>"$TMP/remittance.json"
# Cities, months and the keys that must or should differ between requests.
# Every month used is after the current year: a past month with collections and no full
# remittance is overdue, and the keeper's minutely early-warning scan would spend the run
# raising late-remittance alerts (realistic, but not what this measures).
CITIES="620100 620200 620300 620400 620500 620600 620700 620800 620900 621000 621100 621200 622900 623000"
Y0=$(($(date +%Y) + 1))
if [ "$Y0" -gt 2090 ]; then
	say "the gateway takes periods up to 2099: too few months left after $Y0"
	exit 1
fi
# One plan stands per city and month (another needs "amends"): each plan takes the next city
# and month of a list (loadgen's vary=), the warm-up from the first five years (840), the mix
# from the others up to 2099, the last year the gateway accepts (11,424 plans from 2027). Past
# the end of its list a run would repeat them, and the repeats are refused (counted as errors
# and reported).
printf '%s' '{"plan_id":"{{ID}}",{{VAR}},"items":[{"benefit":"medical","amount_fen":500000}],"total_fen":500000,"approved_by":"Gansu SIA","approved_at":"2024-06-01T10:00:00+08:00"}' \
	>"$TMP/plan.json"
# plan_months FIRST LAST: every city and month of those years, one a line.
plan_months() {
	local y m c
	for y in $(seq "$1" "$2"); do
		for c in $CITIES; do
			for m in 01 02 03 04 05 06 07 08 09 10 11 12; do
				printf '"city_code":"%s","period":"%s-%s"\n' "$c" "$y" "$m"
			done
		done
	done
}
plan_months "$Y0" $((Y0 + 4)) >"$TMP/plans-warm.vary"
plan_months $((Y0 + 5)) 2099 >"$TMP/plans-mix.vary"
# Collections and remittances are spread over cities and months too, as in the fund's real
# traffic: every remittance sums what was collected and remitted for its city and month, so a
# single city-month holding every instruction of the benchmark would measure those sums
# growing with the run (quadratic), not the path. Collections cycle through every city and
# month, remittances (Lanzhou's certificate: Lanzhou only) through Lanzhou's months.
awk -v cities="$CITIES" -v y0="$Y0" 'BEGIN {
	n = split(cities, c, " ")
	for (y = y0; y <= 2099; y++)
		for (m = 1; m <= 12; m++)
			for (i = 1; i <= n; i++)
				printf "<CityCode>%s</CityCode><Period>%d-%02d</Period>\n", c[i], y, m
}' >"$TMP/collections.vary"
# The value date (the 5th of the next month, before the due day) must be a date the gateway
# accepts (up to 2099): the last month is 2099-11.
awk -v y0="$Y0" 'BEGIN {
	for (y = y0; y <= 2099; y++)
		for (m = 1; m <= 12; m++) {
			if (y == 2099 && m == 12)
				continue
			printf "\"period\":\"%d-%02d\",\"value_date\":\"%d-%02d-05\"\n", y, m,
				m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1
		}
}' >"$TMP/remittances.vary"

# ---- the gateway and its upstreams -------------------------------------------------------------

upstream_conf() {
	cat <<-EOF

	[upstream $1]
	url = https://127.0.0.1:$2
	ca = $CERTS/ca.crt
	cert = $CERTS/gateway-client.crt
	key = $CERTS/gateway-client.key
	connect_timeout = 2s
	timeout = 10s
	pool = 16
	EOF
}

gateway_conf() {
	local log=/dev/null
	[ "$ACCESS_LOG" = 1 ] && log=$STATE/access.log
	cat <<-EOF
	# Generated by tests/bench/instr.sh: the transfer API of the development
	# configuration, on ports of its own, with an audit log of its own per run.
	[gateway]
	workers = $WORKERS
	shutdown_timeout = 2s
	access_log = $log
	sandbox = $SANDBOX

	[listener agency]
	listen = 127.0.0.1:$GW_PORT
	cert = $CERTS/gateway.crt
	key = $CERTS/gateway.key
	ca = $CERTS/ca.crt
	crl = $CERTS/crl.pem
	min_protocol = TLSv1.3
	tickets = no

	[listener admin]
	listen = 127.0.0.1:$ADMIN_PORT
	cert = $CERTS/gateway.crt
	key = $CERTS/gateway.key
	ca = $CERTS/ca.crt
	crl = $CERTS/crl.pem
	min_protocol = TLSv1.3
	tickets = no

	[keeper]
	database = $STATE/audit.db
	checkpoint_file = $STATE/checkpoint
	origin = bench.gateway.local/audit
	log_key = $TMP/keys/log.key
	signing_key = $TMP/keys/signing.key
	accounts = $ROOT/config/accounts.conf

	[agency tax]
	role = tax
	pin_cert = $CERTS/tax.crt

	[agency finance]
	role = finance
	pin_cert = $CERTS/finance.crt

	[agency hrss]
	role = hrss
	pin_cert = $CERTS/hrss.crt

	[agency finance-city-620100]
	role = finance-city
	city = 620100
	pin_cert = $CERTS/finance-city-620100.crt

	# The registry's accounts name this bank; nothing here sends it a disbursement.
	[agency bank]
	role = bank
	pin_cert = $CERTS/bank.crt

	[agency admin]
	role = admin
	pin_cert = $CERTS/admin.crt
	EOF
	upstream_conf finance "$FIN_PORT"
	upstream_conf hrss "$HRSS_PORT"
	upstream_conf bank "$BANK_PORT"
	cat <<-EOF

	[courier]
	finance = finance
	hrss = hrss
	max_attempts = 8
	retry_min = 200ms
	retry_max = 30s

	[bank bank]
	upstream = bank
	charset = GB18030
	signing_key = $TMP/keys/bank-sign.key

	[limits]
	max_header_bytes = 16384
	max_headers = 64
	max_body = 1048576
	request_timeout = 10s
	idle_timeout = 60s
	max_connections = 4096
	max_connections_per_agency = 4096
	EOF
	gateway_conf_extra
}

# Sections of config/gateway.conf of kinds not written above (added to the gateway later) are
# copied with relative paths made absolute, so the bench keeps starting as the configuration
# grows; passthrough routes are left out (nothing here uses them), and so are witnesses
# (their upstreams are not here: the keeper's figures are without cosigning).
gateway_conf_extra() {
	local conf=$ROOT/config/gateway.conf
	[ -r "$conf" ] || return 0
	awk -v dir="$ROOT/config" '
		/^[ \t]*\[/ {
			kind = $0
			sub(/^[ \t]*\[[ \t]*/, "", kind)
			sub(/[ \t\]].*$/, "", kind)
			keep = kind !~ /^(gateway|listener|agency|upstream|route|limits|keeper|courier|bank|witness)$/
			if (keep)
				print ""
		}
		!keep || /^[ \t]*(#|$)/ { next }
		{
			line = $0
			if (match(line, /=[ \t]*/)) {
				val = substr(line, RSTART + RLENGTH)
				if (val ~ /^\.\.?\// || val ~ /^[A-Za-z0-9_.-]+\/[^ ]*$/)
					line = substr(line, 1, RSTART + RLENGTH - 1) dir "/" val
			}
			print line
		}' "$conf"
}

start_stub() {
	local name=$1 port=$2
	start "$TMP/stub-$name.log" "$STUBD" --listen "127.0.0.1:$port" \
		--cert "$CERTS/stub-$name.crt" --key "$CERTS/stub-$name.key" \
		--ca "$CERTS/ca.crt" --name "$name" --quiet
	if ! wait_port "$port" "$STARTED_PID"; then
		say "stub $name did not start:"
		tail -n 20 "$TMP/stub-$name.log" >&2
		exit 1
	fi
	STUB_PIDS="${STUB_PIDS:-} $STARTED_PID"
}

start_stub finance "$FIN_PORT"
start_stub hrss "$HRSS_PORT"
start_stub bank "$BANK_PORT"

# The roles' process ids, from the parent's log lines ("keeper started (pid N)").
role_pids() {
	sed -n "s/.*\"msg\":\"$1[^\"]* started (pid \([0-9]*\)).*/\1/p" "$STATE/gateway.log" |
		tr '\n' ' '
}

# start_gateway NAME: a gateway with an empty audit log of its own in $TMP/NAME, so that no
# run inherits the rows of another (some of the keeper's checks grow with them).
start_gateway() {
	STATE=$TMP/$1
	mkdir -p "$STATE"
	gateway_conf >"$STATE/gateway.conf"
	start "$STATE/gateway.log" "$GATEWAYD" -c "$STATE/gateway.conf"
	GW_PID=$STARTED_PID
	if ! wait_port "$GW_PORT" "$GW_PID"; then
		say "$GATEWAYD did not start; its log ends with:"
		tail -n 15 "$STATE/gateway.log" >&2
		return 1
	fi
	for _ in $(seq 50); do
		[ -n "$(role_pids courier)" ] && break
		sleep 0.1
	done
	KEEPER_PIDS=$(role_pids keeper)
	RELAY_PIDS=$(role_pids 'relay worker')
	COURIER_PIDS=$(role_pids courier)
	if [ -z "$KEEPER_PIDS" ] || [ -z "$RELAY_PIDS" ]; then
		say "cannot find the keeper and relay pids in the gateway's log: no CPU figures"
	fi
}

# Stops the gateway (politely, then its whole process group): verify then reads a log
# nobody appends to, and its entry count is final.
stop_gateway() {
	local _
	kill -TERM "$GW_PID" 2>/dev/null || true
	for _ in $(seq 150); do
		kill -0 "$GW_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$GW_PID" 2>/dev/null; then
		say "the gateway did not stop within 15 s; killed"
		kill -KILL -- "-$GW_PID" 2>/dev/null || true
	fi
	wait "$GW_PID" 2>/dev/null || true
	# The ports are probed before the next start: wait until they are closed.
	for _ in $(seq 50); do
		port_open "$GW_PORT" || break
		sleep 0.1
	done
}

# verify NAME: `gatewayctl audit verify` over the run's log, which must hold at least one entry
# per 202 of the run (warm-up included); sets VERIFY[NAME].
verify() {
	local name=$1 n ok=0
	if "$CTL" audit verify -c "$STATE/gateway.conf" >"$STATE/verify.out" 2>&1; then
		ok=1
	fi
	# The first number next to the word "entries" in verify's report.
	n=$(grep -o -i -E '[0-9]+ entries|entries[^0-9]*[0-9]+' "$STATE/verify.out" | head -n 1 |
		grep -o -E '[0-9]+' | head -n 1 || true)
	n=${n:-0}
	if [ "$ok" = 1 ] && [ "$n" -ge "${OKS[$name]}" ]; then
		VERIFY[$name]="ok: $n entries, ${OKS[$name]} 202s"
	else
		status=1
		VERIFY[$name]="FAILED (exit $([ "$ok" = 1 ] && echo 0 || echo "non-zero"), $n entries,"
		VERIFY[$name]+=" ${OKS[$name]} 202s): $(tr '\n' ' ' <"$STATE/verify.out" | cut -c1-200)"
	fi
	say "$name: audit verify ${VERIFY[$name]}"
}

# Sum of the CPU ticks of a list of pids.
sum_ticks() {
	local pid n=0
	for pid in $1; do
		n=$((n + $(ticks "$pid")))
	done
	echo "$n"
}

# ---- measuring ---------------------------------------------------------------------------------

GW_URL=https://127.0.0.1:$GW_PORT
TAX="cert=$CERTS/tax.crt,key=$CERTS/tax.key,vary=$TMP/collections.vary"
CITY="cert=$CERTS/finance-city-620100.crt,key=$CERTS/finance-city-620100.key,vary=$TMP/remittances.vary"
HRSS="cert=$CERTS/hrss.crt,key=$CERTS/hrss.key"
XML="type=application/xml"
JSON="type=application/json"
# Templates of each run (loadgen --body-template specs), by name.
declare -A SPECS=(
	[coll-1]="$TMP/coll-1.xml,path=/v1/collections,$TAX,$XML"
	[coll-3]="$TMP/coll-3.xml,path=/v1/collections,$TAX,$XML"
	[mix]="$TMP/coll-3.xml,path=/v1/collections,$TAX,$XML $TMP/remittance.json,path=/v1/remittances,$CITY,$JSON $TMP/plan.json,path=/v1/plans,$HRSS,$JSON,vary=$TMP/plans-mix.vary $TMP/coll-3.xml,path=/v1/collections,$TAX,$XML $TMP/remittance.json,path=/v1/remittances,$CITY,$JSON $TMP/coll-3.xml,path=/v1/collections,$TAX,$XML"
	[mix-warm]="$TMP/coll-3.xml,path=/v1/collections,$TAX,$XML $TMP/remittance.json,path=/v1/remittances,$CITY,$JSON $TMP/plan.json,path=/v1/plans,$HRSS,$JSON,vary=$TMP/plans-warm.vary"
)
# What warms each run up: its own templates, the mix's plans from another list.
declare -A WARM=([coll-1]=coll-1 [coll-3]=coll-3 [mix]=mix-warm)
declare -A DESC=(
	[coll-1]="collections, 1 item (XML)"
	[coll-3]="collections, 3 items (XML)"
	[mix]="mix: collections 3 items / remittances / plans"
)
RUNS=(coll-1 coll-3 mix)
declare -A RPS P50 P99 ERRS ERRKINDS BATCH CPU SHARES DRAINS REPEATS OKS VERIFY

# loadgen NAME SECONDS PREFIX [CONNS]: one run of the named templates; its JSON on stdout.
loadgen() {
	local name=$1 secs=$2 conns=${4:-$CONNS} spec
	local args=()
	for spec in ${SPECS[$name]}; do
		args+=(--body-template "$spec")
	done
	# The run's name and time make the ids unique, whatever log they go to.
	"$LOADGEN" --url "$GW_URL/v1/collections" --cert "$CERTS/tax.crt" --key "$CERTS/tax.key" \
		--ca "$CERTS/ca.crt" -c "$conns" -t "$LG_THREADS" -d "${secs}s" --expect 202 \
		--id-prefix "$3" --json "${args[@]}" 2>>"$TMP/loadgen.log" || true
}

# warm NAME: one second of the run's templates on one connection each (few plans: their list
# is short), which also opens the courier's upstream connections; a kind the gateway does not
# accept stops the run here, with the reason.
warm() {
	local name=$1 out ok
	out=$(loadgen "${WARM[$name]}" 1 "w$(date +%s)" 3)
	ok=$(jnum "$out" ok)
	OKS[$name]=$((${OKS[$name]:-0} + ${ok:-0}))
	if [ "${ok:-0}" = 0 ] || [ "$(jnum "$out" total)" != 0 ]; then
		say "$name: warm-up: not every request got 202; loadgen said:"
		printf '%s\n' "$out" >&2
		tail -n 5 "$TMP/loadgen.log" >&2
		grep -v '"type":"access"' "$STATE/gateway.log" | tail -n 5 >&2
		return 1
	fi
	printf '%s\n' "$out" >>"$TMP/results.jsonl"
}

# Waits (at most DRAIN seconds) until the audit log stops growing for a second: the courier
# has delivered every queued instruction and logged the outcome. Sets DRAINED to
# "N entries (delivery outcomes) in S s" (or "not drained after S s").
drain() {
	local e0 e prev t0 t i
	DRAINED=""
	[ "$DRAIN" -gt 0 ] || return 0
	e0=$(metric gateway_audit_entries)
	prev=$e0
	t0=$(date +%s.%N)
	for i in $(seq "$DRAIN"); do
		sleep 1
		e=$(metric gateway_audit_entries)
		if [ "$e" = "$prev" ]; then
			t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a - 1 }')
			DRAINED=$(awk -v n="$((e - e0))" -v t="$t" 'BEGIN {
				printf "%d entries (delivery outcomes) in %d s", n, t
				if (t > 0) printf " (%.0f/s)", n / t }')
			return 0
		fi
		prev=$e
	done
	DRAINED="not drained after $i s"
}

# run NAME: one measured run, with the keeper's commits and every process's CPU around it.
run() {
	local name=$1 out ok e0 c0 e1 c1 k0 r0 o0 s0 l0 k1 r1 o1 s1 l1 ms m0 m1
	e0=$(metric gateway_audit_entries)
	m0=$(machine_ticks)
	c0=$(metric gateway_audit_commits_total)
	k0=$(sum_ticks "$KEEPER_PIDS")
	r0=$(sum_ticks "$RELAY_PIDS")
	o0=$(sum_ticks "$COURIER_PIDS $GW_PID")
	s0=$(sum_ticks "$STUB_PIDS")
	l0=$(child_ticks)
	out=$(loadgen "$name" "$SECS" "${name//-/}$(date +%s)")
	k1=$(sum_ticks "$KEEPER_PIDS")
	r1=$(sum_ticks "$RELAY_PIDS")
	o1=$(sum_ticks "$COURIER_PIDS $GW_PID")
	s1=$(sum_ticks "$STUB_PIDS")
	l1=$(child_ticks)
	m1=$(machine_ticks)
	e1=$(metric gateway_audit_entries)
	c1=$(metric gateway_audit_commits_total)
	printf '%s\n' "$out" >>"$TMP/results.jsonl"
	RPS[$name]=$(jnum "$out" rps)
	P50[$name]=$(jnum "$out" p50)
	P99[$name]=$(jnum "$out" p99)
	ERRS[$name]=$(jnum "$out" total)
	[ -n "${RPS[$name]}" ] || { RPS[$name]=0; P50[$name]=0; P99[$name]=0; ERRS[$name]=1; }
	ok=$(jnum "$out" ok)
	OKS[$name]=$((${OKS[$name]:-0} + ${ok:-0}))
	if [ "${ERRS[$name]}" != 0 ] || [ "${ok:-0}" = 0 ]; then
		status=1
		ERRKINDS[$name]=$(printf '%s' "$out" | sed -n 's/.*"errors":{\([^}]*\)}.*/\1/p' |
			tr ',' '\n' | tr -d '"' | grep -v -e ':0$' -e '^total:' | tr '\n' ' ')
		ERRKINDS[$name]="${ERRKINDS[$name]}(status classes: $(printf '%s' "$out" |
			sed -n 's/.*"status":{\([^}]*\)}.*/\1/p' | tr -d '"'))"
	fi
	# Audit entries per commit over the run: instructions and the courier's delivery outcomes.
	BATCH[$name]=$(awk -v e="$((e1 - e0))" -v c="$((c1 - c0))" \
		'BEGIN { if (c > 0) printf "%.1f", e / c; else printf "-" }')
	ms=$((SECS * HZ))
	# Per process, 100% is one core; the machine's figure is of all its cores.
	CPU[$name]=$(awk -v k="$((k1 - k0))" -v r="$((r1 - r0))" -v o="$((o1 - o0))" \
		-v s="$((s1 - s0))" -v l="$((l1 - l0))" -v t="$ms" -v m0="$m0" -v m1="$m1" \
		-v n="$(nproc)" 'BEGIN {
			split(m0, a, " "); split(m1, b, " ")
			busy = b[1] - a[1]; all = b[2] - a[2]
			ours = k + r + o + s + l
			printf "keeper %d%%, relays %d%%, courier+parent %d%%, stubs %d%%, loadgen %d%%",
				100 * k / t, 100 * r / t, 100 * o / t, 100 * s / t, 100 * l / t
			if (all > 0)
				printf "; machine %d%% busy (%d cores), of which other work %d%%",
					100 * busy / all, n, 100 * (busy - ours) / all }')
	# Per kind: the mix repeats templates (coll, rem, plan, coll, rem, coll).
	SHARES[$name]=$(printf '%s' "$out" | sed -n 's/.*"templates":\[\(.*\)\].*/\1/p' |
		grep -o '"ok":[0-9]*' | cut -d: -f2 | awk '{ v[NR] = $1 }
		END { if (NR == 6) printf "%d/%d/%d", v[1] + v[4] + v[6], v[2] + v[5], v[3]
		      else { for (i = 1; i <= NR; i++) printf "%s%d", (i > 1 ? "/" : ""), v[i] } }')
	# Repeated plans are refused (plan-exists); repeated collection and remittance keys are
	# allowed and expected (the lists cycle).
	REPEATS[$name]=$(printf '%s' "$out" | grep -o '"repeats":[0-9]*' | cut -d: -f2 |
		sed -n 3p)
	say "$name: ${RPS[$name]} instructions/s, p50 ${P50[$name]} ms, p99 ${P99[$name]} ms," \
		"errors ${ERRS[$name]}, mean batch ${BATCH[$name]}; ${CPU[$name]}"
	drain
	DRAINS[$name]=$DRAINED
	[ -z "$DRAINED" ] || say "$name: courier backlog: $DRAINED"
}

say "database in $TMP ($FS); ${SECS}s per run, $CONNS connections, $WORKERS relay workers," \
	"sandbox $SANDBOX"
for name in "${RUNS[@]}"; do
	if ! start_gateway "$name"; then
		exit 1
	fi
	if ! warm "$name"; then
		exit 1
	fi
	drain
	run "$name"
	stop_gateway
	verify "$name"
done

# ---- reporting ---------------------------------------------------------------------------------

table() {
	local fmt=$1 name
	# shellcheck disable=SC2059
	printf "$fmt" "run" "instructions/s" "p50 ms" "p99 ms" "errors" "entries/commit" \
		"audit verify"
	[ "$2" = md ] && printf '|---|---:|---:|---:|---:|---:|---|\n'
	for name in "${RUNS[@]}"; do
		# shellcheck disable=SC2059
		printf "$fmt" "${DESC[$name]}" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" \
			"${ERRS[$name]}" "${BATCH[$name]}" "${VERIFY[$name]%%:*}"
	done
}

notes() {
	local name
	printf '%saccepted per kind in the mix (collections/remittances/plans): %s\n' "$1" \
		"${SHARES[mix]:-}"
	for name in "${RUNS[@]}"; do
		printf '%sCPU during %s (100%% = one core, %s cores): %s\n' "$1" "$name" "$(nproc)" \
			"${CPU[$name]}"
		[ -n "${ERRKINDS[$name]:-}" ] && printf '%s%s errors: %s\n' "$1" "$name" "${ERRKINDS[$name]}"
		[ "${REPEATS[$name]:-0}" != 0 ] && printf '%s%s: %s plans reused a city and month (list exhausted; refused as plan-exists)\n' \
			"$1" "$name" "${REPEATS[$name]}"
		[ -n "${DRAINS[$name]:-}" ] && printf '%scourier backlog after %s: %s\n' "$1" \
			"$name" "${DRAINS[$name]}"
		printf '%saudit verify after %s: %s\n' "$1" "$name" "${VERIFY[$name]}"
	done
	return 0
}

echo
table '%-46s %15s %9s %9s %7s %15s %13s\n' text
echo
notes ""

mkdir -p "$(dirname "$MD")"
{
	bench_meta_tsv
	printf '# database: %s\n# connections: %s\n# seconds: %s\n# workers: %s\n# sandbox: %s\n' \
		"$FS" "$CONNS" "$SECS" "$WORKERS" "$SANDBOX"
	printf 'run\tdescription\tinstructions_per_s\tp50_ms\tp99_ms\terrors\tentries_per_commit\taudit_verify\n'
	for name in "${RUNS[@]}"; do
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${DESC[$name]}" "${RPS[$name]}" \
			"${P50[$name]}" "${P99[$name]}" "${ERRS[$name]}" "${BATCH[$name]}" "${VERIFY[$name]}"
	done
} >"$TSV"
{
	echo "# Transfer API benchmark"
	echo
	bench_meta_md
	echo
	echo "Database on $FS."
	echo
	echo "Client -> gateway: mTLS 1.3 (client certificate pinned to its agency, no tickets)," \
		"HTTP/1.1 keep-alive, $CONNS connections from one tests/bench/loadgen process ($LG_THREADS" \
		"thread(s)), ${SECS}s per run after a 1 s warm-up, each run on a gateway of its own with an" \
		"empty audit log, a fresh instruction id in every request. $WORKERS relay workers," \
		"sandbox $SANDBOX;" \
		"access log $([ "$ACCESS_LOG" = 1 ] && echo "on (a file)" || echo off). Counted: 202 answers," \
		"each after the keeper committed the signed instruction, its audit entry and its outbox row" \
		"(synchronous=FULL, WAL, group commit); the courier delivers to stub upstreams meanwhile." \
		"Latency: of the 202s. entries/commit: audit entries per group commit over the run" \
		"(instructions and delivery outcomes)."
	echo
	table '| %s | %s | %s | %s | %s | %s | %s |\n' md
	echo
	notes "- "
} >"$MD"
say "wrote $MD"
exit $status
