#!/usr/bin/env bash
# Passthrough benchmark (`make bench`): the same mTLS load through the gateway, HAProxy and nginx on
# loopback, each relaying over mTLS to the same stub upstream, at several connection counts (a
# concurrency sweep); prints a table and writes build/bench/relay.tsv (every point) and relay.md.
#
# Environment: BENCH_SECONDS (measured seconds per front end, mode and connection count, default
# 10), BENCH_ROUNDS (interleaved rounds the seconds are split into, 5), BENCH_CONNS (keep-alive
# connections of the headline table, 32), BENCH_HS_CONNS (--new-conn connections of the headline
# table, 16), BENCH_CONNS_LIST (keep-alive sweep, "1 4 16 64 256"; BENCH_CONNS is added),
# BENCH_HS_CONNS_LIST (handshake sweep, "1 4 16 64"; BENCH_HS_CONNS is added), BENCH_WARMUP_MS
# (keep-alive rounds: first part not counted, connection set-up, 500), BENCH_POOL (idle upstream
# connections the gateway and nginx keep, default the largest count of the sweeps; HAProxy keeps
# all), BENCH_THREADS (loadgen threads, 1), BENCH_PORT_BASE
# (18443: gateway +0, HAProxy +1, nginx +2, gateway admin +3, stub +7), BENCH_CERTS (certs/dev),
# BENCH_STUB_THREADS (1), BENCH_ACCESS_LOG (1: every front end writes one access line per request),
# BENCH_KEEP (1: keep the temporary folder with configurations, logs and raw results),
# BENCH_GATEWAYD (the daemon to measure, default build/gatewayd).
# Exit status: 0 when all three front ends ran cleanly, 1 otherwise (the others are still measured).
# shellcheck disable=SC2317 # functions run from traps and as "start_$name"
# `make bench` runs this with sh; it needs bash (arrays), which Debian always has.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build
CERTS=${BENCH_CERTS:-$ROOT/certs/dev}
export GW_SCHEMAS=${GW_SCHEMAS:-$ROOT/config/schemas}
SECS=${BENCH_SECONDS:-10}
KA_CONNS=${BENCH_CONNS:-32}
HS_CONNS=${BENCH_HS_CONNS:-16}
ROUNDS=${BENCH_ROUNDS:-5}
LG_THREADS=${BENCH_THREADS:-1}
STUB_THREADS=${BENCH_STUB_THREADS:-1}
ACCESS_LOG=${BENCH_ACCESS_LOG:-1}
BASE=${BENCH_PORT_BASE:-18443}
GW_PORT=$BASE
HA_PORT=$((BASE + 1))
NG_PORT=$((BASE + 2))
ADMIN_PORT=$((BASE + 3))
STUB_PORT=$((BASE + 7))
URL_PATH=/pass/finance/ping
LOADGEN=$BUILD/loadgen
GATEWAYD=${BENCH_GATEWAYD:-$BUILD/gatewayd}
MD=$BUILD/bench/relay.md
TSV=$BUILD/bench/relay.tsv
WARM_MS=${BENCH_WARMUP_MS:-500}
# shellcheck source=tests/bench/meta.sh disable=SC1091
. "$ROOT/tests/bench/meta.sh"
bench_meta_init tests/bench/run.sh
# Two workers everywhere: the machine has two cores (shared with the load generator).
WORKERS=2

status=0
PIDS=()
TMP=""

say() { printf 'bench: %s\n' "$*" >&2; }

# Ends the process groups this script started (each server runs under setsid, so its
# workers go too), politely first, then by force; removes the temporary folder.
cleanup() {
	local pid _
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	done
	for _ in $(seq 50); do
		local alive=0
		for pid in "${PIDS[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ "$alive" -eq 0 ] && break
		sleep 0.1
	done
	for pid in "${PIDS[@]}"; do
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	if [ -n "$TMP" ] && [ "${BENCH_KEEP:-0}" = 1 ]; then
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

# Value of a numeric field of loadgen's one-line JSON ("rps", "p99", "ok", "total", ...).
jnum() { printf '%s\n' "$1" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"; }

# Runs loadgen against port $1 with the client certificate of the finance agency.
loadgen() {
	local port=$1
	shift
	"$LOADGEN" --url "https://127.0.0.1:$port$URL_PATH" --cert "$CERTS/finance.crt" \
		--key "$CERTS/finance.key" --ca "$CERTS/ca.crt" -t "$LG_THREADS" --json "$@" \
		2>>"$TMP/loadgen.log"
}

# ---- preconditions ---------------------------------------------------------------------------

# conns_list LIST EXTRA: the counts of LIST (spaces or commas) and EXTRA, sorted, once each.
conns_list() {
	printf '%s %s\n' "$1" "$2" | tr ', ' '\n' | grep -v '^$' | sort -n -u | tr '\n' ' '
}
KA_LIST=$(conns_list "${BENCH_CONNS_LIST:-1 4 16 64 256}" "$KA_CONNS")
HS_LIST=$(conns_list "${BENCH_HS_CONNS_LIST:-1 4 16 64}" "$HS_CONNS")
case $WARM_MS in
'' | *[!0-9]*)
	say "BENCH_WARMUP_MS must be a number of milliseconds (got '$WARM_MS')"
	exit 1
	;;
esac
# Idle upstream connections the gateway and nginx keep (HAProxy keeps every one by default):
# enough for the largest count of the sweep, or they would open and close upstream
# connections all the time above it and the sweep would measure their pool size.
POOL=${BENCH_POOL:-$(printf '%s %s\n' "$KA_LIST" "$HS_LIST" | tr ' ' '\n' | sort -n | tail -n 1)}
# shellcheck disable=SC2086 # the lists are words
for v in "$POOL" "$SECS" "$ROUNDS" "$KA_CONNS" "$HS_CONNS" "$LG_THREADS" "$STUB_THREADS" "$BASE" \
	$KA_LIST $HS_LIST; do
	case $v in
	'' | *[!0-9]* | 0)
		say "BENCH_* settings must be positive integers (got '$v')"
		exit 1
		;;
	esac
done

for f in ca.crt crl.pem gateway.crt gateway.key gateway-client.crt gateway-client.key \
	finance.crt finance.key stub-finance.crt stub-finance.key; do
	if [ ! -s "$CERTS/$f" ]; then
		say "missing $CERTS/$f (run: sh certs/gen.sh certs/dev)"
		exit 1
	fi
done
if [ ! -x "$LOADGEN" ]; then
	say "missing $LOADGEN (run: make build/loadgen)"
	exit 1
fi
for p in $GW_PORT $HA_PORT $NG_PORT $ADMIN_PORT $STUB_PORT; do
	if port_open "$p"; then
		say "port $p is in use; set BENCH_PORT_BASE"
		exit 1
	fi
done
command -v haproxy >/dev/null || say "haproxy not installed: its row will be empty"
command -v nginx >/dev/null || say "nginx not installed: its row will be empty"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gw-bench.XXXXXX") || exit 1
chmod 700 "$TMP"
# HAProxy wants certificate and key in one PEM file.
umask 077
cat "$CERTS/gateway.crt" "$CERTS/gateway.key" >"$TMP/gateway.pem"
cat "$CERTS/gateway-client.crt" "$CERTS/gateway-client.key" >"$TMP/gateway-client.pem"
umask 022

# ---- the upstream ------------------------------------------------------------------------------

# build/stubd when built, else an nginx stand-in with the same mTLS contract.
start_stub() {
	if [ -x "$BUILD/stubd" ]; then
		start "$TMP/stub.log" "$BUILD/stubd" --listen "127.0.0.1:$STUB_PORT" \
			--cert "$CERTS/stub-finance.crt" --key "$CERTS/stub-finance.key" \
			--ca "$CERTS/ca.crt" --name finance --quiet --threads "$STUB_THREADS"
		STUB_KIND=stubd
	else
		mkdir -p "$TMP/stub"
		cat >"$TMP/stub/nginx.conf" <<-EOF
		worker_processes $STUB_THREADS;
		pid $TMP/stub/nginx.pid;
		error_log $TMP/stub/error.log warn;
		$( [ "$(id -u)" -eq 0 ] && echo "user root root;" )
		events { worker_connections 4096; }
		http {
		  access_log off;
		  client_body_temp_path $TMP/stub/body; proxy_temp_path $TMP/stub/proxy;
		  fastcgi_temp_path $TMP/stub/fcgi; uwsgi_temp_path $TMP/stub/uwsgi;
		  scgi_temp_path $TMP/stub/scgi;
		  server {
		    listen 127.0.0.1:$STUB_PORT ssl;
		    ssl_certificate $CERTS/stub-finance.crt;
		    ssl_certificate_key $CERTS/stub-finance.key;
		    ssl_protocols TLSv1.3;
		    ssl_client_certificate $CERTS/ca.crt;
		    ssl_verify_client on;
		    ssl_verify_depth 2;
		    keepalive_requests 1000000;
		    keepalive_timeout 120s;
		    location / {
		      default_type application/json;
		      return 200 '{"agency":"finance","ok":true}\n';
		    }
		  }
		}
		EOF
		start "$TMP/stub.log" nginx -p "$TMP/stub" -c "$TMP/stub/nginx.conf" -g 'daemon off;'
		STUB_KIND="nginx stand-in (build/stubd not built)"
	fi
	if ! wait_port "$STUB_PORT" "$STARTED_PID"; then
		say "the stub upstream did not start:"
		tail -n 20 "$TMP/stub.log" >&2
		exit 1
	fi
}

# ---- the three front ends ----------------------------------------------------------------------

gateway_conf() {
	local log=/dev/null
	[ "$ACCESS_LOG" = 1 ] && log=$TMP/gateway-access.log
	cat <<-EOF
	# Generated by tests/bench/run.sh: one listener, one upstream, one route.
	[gateway]
	workers = $WORKERS
	shutdown_timeout = 2s
	access_log = $log

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

	[agency finance]
	role = finance
	pin_cert = $CERTS/finance.crt

	[upstream finance]
	url = https://127.0.0.1:$STUB_PORT
	ca = $CERTS/ca.crt
	cert = $CERTS/gateway-client.crt
	key = $CERTS/gateway-client.key
	connect_timeout = 2s
	timeout = 10s
	pool = $POOL

	[route finance-passthrough]
	prefix = /pass/finance/
	methods = GET, POST
	roles = finance
	upstream = finance

	[limits]
	max_header_bytes = 16384
	max_headers = 64
	max_body = 1048576
	request_timeout = 10s
	idle_timeout = 60s
	max_connections = 4096
	max_connections_per_agency = 4096
	# All the load comes from one address, 256 connections at once at the top of the
	# sweep: HAProxy and nginx have no handshake budget, so none here either.
	max_handshakes = 4096
	max_handshakes_per_address = 4096

	# The audit log and its key live in the temporary folder (on disk, like /tmp here).
	[keeper]
	database = $TMP/state/gateway.db
	checkpoint_file = $TMP/state/checkpoint
	origin = bench.gateway.local/audit
	log_key = $TMP/state/log.key
	EOF
	gateway_conf_extra
}

# Sections of config/gateway.conf of kinds written above are replaced; deliveries
# ([courier], [bank]) and witnesses name upstreams this bench does not define (and are
# not what it measures), so they are left out; any other kind (added to the gateway
# later) is copied with relative paths made absolute, so the bench keeps starting
# while the configuration grows.
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

start_gateway() {
	if [ ! -x "$GATEWAYD" ]; then
		say "gateway: $GATEWAYD is not built"
		return 1
	fi
	mkdir -p "$TMP/state"
	chmod 700 "$TMP/state"
	if ! (umask 077 && openssl genpkey -algorithm ED25519 -out "$TMP/state/log.key" 2>/dev/null); then
		say "gateway: cannot make an Ed25519 log key"
		return 1
	fi
	gateway_conf >"$TMP/gateway.conf"
	start "$TMP/gateway.log" "$GATEWAYD" -c "$TMP/gateway.conf"
	if ! wait_port "$GW_PORT" "$STARTED_PID"; then
		say "gateway: $GATEWAYD did not start; its log ends with:"
		tail -n 15 "$TMP/gateway.log" >&2
		return 1
	fi
}

haproxy_conf() {
	local log="" httplog=""
	if [ "$ACCESS_LOG" = 1 ]; then
		log="log stdout format raw local0 info"
		httplog="option httplog"
	fi
	cat <<-EOF
	global
	    nbthread $WORKERS
	    maxconn 4096
	    $log
	    # Same TLS as the gateway: 1.3 only, no tickets, no session cache.
	    ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets
	    ssl-default-server-options ssl-min-ver TLSv1.3
	    tune.ssl.cachesize 0

	defaults
	    mode http
	    log global
	    $httplog
	    timeout connect 2s
	    timeout client 60s
	    timeout server 10s
	    timeout http-request 10s
	    timeout http-keep-alive 60s

	frontend agency
	    bind 127.0.0.1:$HA_PORT ssl crt $TMP/gateway.pem ca-file $CERTS/ca.crt crl-file $CERTS/crl.pem verify required alpn http/1.1
	    # The gateway's route: this prefix, for the finance agency only.
	    http-request deny deny_status 404 unless { path_beg /pass/finance/ }
	    http-request deny deny_status 403 unless { ssl_c_s_dn(CN) -m str finance }
	    default_backend finance

	backend finance
	    http-reuse always
	    server stub 127.0.0.1:$STUB_PORT ssl verify required ca-file $CERTS/ca.crt crt $TMP/gateway-client.pem sni str(localhost) verifyhost localhost alpn http/1.1
	EOF
}

start_haproxy() {
	command -v haproxy >/dev/null || return 1
	haproxy_conf >"$TMP/haproxy.cfg"
	start "$TMP/haproxy.log" haproxy -db -f "$TMP/haproxy.cfg"
	if ! wait_port "$HA_PORT" "$STARTED_PID"; then
		say "haproxy did not start:"
		tail -n 15 "$TMP/haproxy.log" >&2
		return 1
	fi
}

nginx_conf() {
	local log="access_log off;"
	[ "$ACCESS_LOG" = 1 ] && log="access_log $TMP/nginx/access.log;"
	cat <<-EOF
	worker_processes $WORKERS;
	pid $TMP/nginx/nginx.pid;
	error_log $TMP/nginx/error.log warn;
	$( [ "$(id -u)" -eq 0 ] && echo "user root root;" )
	events { worker_connections 8192; }
	http {
	  $log
	  client_body_temp_path $TMP/nginx/body; proxy_temp_path $TMP/nginx/proxy;
	  fastcgi_temp_path $TMP/nginx/fcgi; uwsgi_temp_path $TMP/nginx/uwsgi;
	  scgi_temp_path $TMP/nginx/scgi;
	  upstream finance {
	    server 127.0.0.1:$STUB_PORT;
	    keepalive $POOL;
	    keepalive_requests 1000000;
	  }
	  server {
	    listen 127.0.0.1:$NG_PORT ssl;
	    ssl_certificate $CERTS/gateway.crt;
	    ssl_certificate_key $CERTS/gateway.key;
	    ssl_protocols TLSv1.3;
	    ssl_session_tickets off;
	    ssl_session_cache off;
	    ssl_client_certificate $CERTS/ca.crt;
	    ssl_crl $CERTS/crl.pem;
	    ssl_verify_client on;
	    ssl_verify_depth 2;
	    keepalive_requests 1000000;
	    keepalive_timeout 60s;
	    location /pass/finance/ {
	      if (\$ssl_client_s_dn !~ "(^|,)CN=finance(,|$)") { return 403; }
	      proxy_pass https://finance;
	      proxy_http_version 1.1;
	      proxy_set_header Connection "";
	      proxy_ssl_certificate $CERTS/gateway-client.crt;
	      proxy_ssl_certificate_key $CERTS/gateway-client.key;
	      proxy_ssl_trusted_certificate $CERTS/ca.crt;
	      proxy_ssl_verify on;
	      proxy_ssl_verify_depth 2;
	      proxy_ssl_name localhost;
	      proxy_ssl_server_name on;
	      proxy_ssl_protocols TLSv1.3;
	      proxy_ssl_session_reuse on;
	    }
	    location / { return 404; }
	  }
	}
	EOF
}

start_nginx() {
	command -v nginx >/dev/null || return 1
	mkdir -p "$TMP/nginx"
	nginx_conf >"$TMP/nginx/nginx.conf"
	start "$TMP/nginx.log" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;'
	if ! wait_port "$NG_PORT" "$STARTED_PID"; then
		say "nginx did not start:"
		tail -n 15 "$TMP/nginx.log" "$TMP/nginx/error.log" >&2
		return 1
	fi
}

# ---- measuring ---------------------------------------------------------------------------------

NAMES=(gateway haproxy nginx)
declare -A PORT=([gateway]=$GW_PORT [haproxy]=$HA_PORT [nginx]=$NG_PORT)
declare -A UP KA_RPS KA_P99 HS_RPS HS_P99 NOTE

# One warm-up second through the whole chain (opens upstream connections); a front end
# that cannot answer 2xx here is left out.
smoke() {
	local name=$1 out
	out=$(loadgen "${PORT[$name]}" -c 16 -d 1)
	if [ "$(jnum "$out" ok)" = "" ] || [ "$(jnum "$out" ok)" = 0 ]; then
		say "$name: no 2xx answer through it; see below"
		printf '%s\n' "$out" >&2
		tail -n 5 "$TMP/loadgen.log" >&2
		return 1
	fi
}

# Per-round results, "rps p99 errors" lines appended per front end, mode and connection
# count, and the non-zero error kinds ("status:3 io:1 ") of every round.
declare -A ROUNDS_OUT ERRKINDS
# Summaries per front end, mode and connection count.
declare -A SW_RPS SW_P99 SW_ERRS

# run_round NAME MODE CONNS MS: one loadgen run, its numbers appended to ROUNDS_OUT.
run_round() {
	local name=$1 mode=$2 conns=$3 ms=$4 out rps p99 errs key=$1,$2,$3
	if [ "$mode" = ka ]; then
		out=$(loadgen "${PORT[$name]}" -c "$conns" -d "$((ms + WARM_MS))ms" --warmup "${WARM_MS}ms")
	else
		out=$(loadgen "${PORT[$name]}" -c "$conns" -d "${ms}ms" --new-conn)
	fi
	rps=$(jnum "$out" rps)
	p99=$(jnum "$out" p99)
	errs=$(jnum "$out" total)
	[ -n "$rps" ] || { rps=0; p99=0; errs=1; }
	# No answer at all in a round (a stall shorter than loadgen's timeout): one error.
	if [ "$(jnum "$out" ok)" = 0 ]; then
		errs=$((errs + 1))
		ERRKINDS[$key]="${ERRKINDS[$key]:-}no-answer:1 "
	fi
	ERRKINDS[$key]="${ERRKINDS[$key]:-}$(printf '%s' "$out" |
		sed -n 's/.*"errors":{\([^}]*\)}.*/\1/p' | tr ',' '\n' | tr -d '"' |
		grep -v -e ':0$' -e '^total:' | tr '\n' ' ')"
	ROUNDS_OUT[$key]="${ROUNDS_OUT[$key]:-}$rps $p99 $errs"$'\n'
	printf '%s\n' "$out" >>"$TMP/results.jsonl"
}

# summarize NAME MODE CONNS: mean req/s and median p99 over the rounds, errors summed.
summarize() {
	local name=$1 mode=$2 conns=$3 sum rps p99 errs kinds key=$1,$2,$3
	sum=$(printf '%s' "${ROUNDS_OUT[$key]:-}" | sort -n -k2 | awk '
		{ rps += $1; p99[NR] = $2; errs += $3 }
		END {
			if (NR == 0) { print "0 0 0"; exit }
			m = (NR % 2) ? p99[(NR + 1) / 2] : (p99[NR / 2] + p99[NR / 2 + 1]) / 2
			printf "%.1f %.3f %d\n", rps / NR, m, errs
		}')
	read -r rps p99 errs <<<"$sum"
	SW_RPS[$key]=$rps
	SW_P99[$key]=$p99
	SW_ERRS[$key]=$errs
	if [ "$mode" = ka ] && [ "$conns" = "$KA_CONNS" ]; then
		KA_RPS[$name]=$rps
		KA_P99[$name]=$p99
	elif [ "$mode" = hs ] && [ "$conns" = "$HS_CONNS" ]; then
		HS_RPS[$name]=$rps
		HS_P99[$name]=$p99
	fi
	if [ "$errs" != 0 ]; then
		kinds=$(printf '%s' "${ERRKINDS[$key]:-}" | tr ' ' '\n' | awk -F: '
			NF == 2 { n[$1] += $2 }
			END { for (k in n) printf "%s%s %d", sep, k, n[k]; sep = ", " }')
		NOTE[$name]="${NOTE[$name]:-}${NOTE[$name]:+; }$errs errors in the $([ "$mode" = ka ] &&
			echo keep-alive || echo handshake) runs with $conns connections ($kinds)"
		status=1
	fi
}

start_stub
for name in "${NAMES[@]}"; do
	UP[$name]=0
	if "start_$name"; then
		UP[$name]=1
	else
		status=1
	fi
done
for name in "${NAMES[@]}"; do
	if [ "${UP[$name]}" = 1 ] && ! smoke "$name"; then
		UP[$name]=0
		status=1
	fi
done

UPNAMES=()
for name in "${NAMES[@]}"; do
	[ "${UP[$name]}" = 1 ] && UPNAMES+=("$name")
done
ROUND_MS=$((SECS * 1000 / ROUNDS))
[ "$ROUND_MS" -ge 500 ] || ROUND_MS=500
say "upstream: $STUB_KIND; ${#UPNAMES[@]} front ends x $ROUNDS rounds of ${ROUND_MS}ms at each" \
	"count: keep-alive with $KA_LIST connections (+${WARM_MS}ms warm-up a round)," \
	"handshakes (--new-conn) with $HS_LIST"
# Short rounds, interleaved and in a rotating order: on a shared two-core machine a
# disturbance then spreads over every front end and connection count instead of spoiling
# one of them.
for mode in ka hs; do
	if [ "$mode" = ka ]; then list=$KA_LIST; else list=$HS_LIST; fi
	for r in $(seq 0 $((ROUNDS - 1))); do
		n=${#UPNAMES[@]}
		j=0
		for conns in $list; do
			for i in $(seq 0 $((n - 1))); do
				run_round "${UPNAMES[$(((i + r + j) % n))]}" "$mode" "$conns" "$ROUND_MS"
			done
			j=$((j + 1))
		done
	done
	say "$([ "$mode" = ka ] && echo keep-alive || echo handshake) runs done"
done
for name in "${UPNAMES[@]}"; do
	for conns in $KA_LIST; do summarize "$name" ka "$conns"; done
	for conns in $HS_LIST; do summarize "$name" hs "$conns"; done
done

# ---- reporting ---------------------------------------------------------------------------------

cell() { [ "${UP[$1]}" = 1 ] && printf '%s' "$2" || printf '%s' "-"; }
ratio() {
	if [ "${UP[gateway]}" = 1 ] && [ "${UP[$2]}" = 1 ]; then
		awk -v a="$1" -v b="$3" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'
	else
		printf '%s' "-"
	fi
}

table() {
	local fmt=$1 name
	# shellcheck disable=SC2059
	printf "$fmt" "front end" "keep-alive req/s" "p99 ms" "handshakes/s" "p99 ms"
	[ "$2" = md ] && printf '|---|---:|---:|---:|---:|\n'
	for name in "${NAMES[@]}"; do
		# shellcheck disable=SC2059
		printf "$fmt" "$name" "$(cell "$name" "${KA_RPS[$name]:-}")" \
			"$(cell "$name" "${KA_P99[$name]:-}")" "$(cell "$name" "${HS_RPS[$name]:-}")" \
			"$(cell "$name" "${HS_P99[$name]:-}")"
	done
}

ratios() {
	local other
	for other in haproxy nginx; do
		printf '%sgateway / %s: keep-alive %s, handshakes %s\n' "$1" "$other" \
			"$(ratio "${KA_RPS[gateway]:-0}" "$other" "${KA_RPS[$other]:-0}")" \
			"$(ratio "${HS_RPS[gateway]:-0}" "$other" "${HS_RPS[$other]:-0}")"
	done
}

notes() {
	local name
	for name in "${NAMES[@]}"; do
		[ "${UP[$name]}" = 1 ] || printf '%s%s: not measured (did not start or answer)\n' "$1" "$name"
		[ -n "${NOTE[$name]:-}" ] && printf '%s%s: %s\n' "$1" "$name" "${NOTE[$name]}"
	done
	return 0
}

# sweep FMT MODE KIND: req/s (p99 ms) of every front end at each connection count of MODE.
sweep() {
	local fmt=$1 mode=$2 list conns name row
	if [ "$mode" = ka ]; then list=$KA_LIST; else list=$HS_LIST; fi
	# shellcheck disable=SC2059
	printf "$fmt" "connections" "${NAMES[@]}"
	[ "$3" = md ] && printf '|---:|---:|---:|---:|\n'
	for conns in $list; do
		row=()
		for name in "${NAMES[@]}"; do
			if [ "${UP[$name]}" = 1 ]; then
				row+=("${SW_RPS[$name,$mode,$conns]} (${SW_P99[$name,$mode,$conns]})")
			else
				row+=("-")
			fi
		done
		# shellcheck disable=SC2059
		printf "$fmt" "$conns" "${row[@]}"
	done
}

echo
table '%-10s %18s %9s %14s %9s\n' text
echo
ratios ""
notes ""
echo
echo "keep-alive req/s (p99 ms) by connections:"
sweep '%-12s %22s %22s %22s\n' ka text
echo
echo "handshakes/s (p99 ms) by connections:"
sweep '%-12s %22s %22s %22s\n' hs text

mkdir -p "$(dirname "$TSV")"
# Every point: one line per front end, mode and connection count (a front end that did not
# run has no lines; its "up" line says so).
{
	bench_meta_tsv
	printf '# upstream: %s\n# workers: %s\n# access_log: %s\n# rounds: %s x %s ms (keep-alive: +%s ms warm-up each)\n' \
		"$STUB_KIND" "$WORKERS" "$ACCESS_LOG" "$ROUNDS" "$ROUND_MS" "$WARM_MS"
	printf '# headline: keep-alive %s, handshakes %s connections\n' "$KA_CONNS" "$HS_CONNS"
	for name in "${NAMES[@]}"; do
		printf '# up %s: %s\n' "$name" "${UP[$name]}"
	done
	printf 'front_end\tmode\tconnections\treq_per_s\tp99_ms\terrors\n'
	for name in "${UPNAMES[@]}"; do
		for conns in $KA_LIST; do
			printf '%s\tkeep-alive\t%s\t%s\t%s\t%s\n' "$name" "$conns" \
				"${SW_RPS[$name,ka,$conns]}" "${SW_P99[$name,ka,$conns]}" "${SW_ERRS[$name,ka,$conns]}"
		done
		for conns in $HS_LIST; do
			printf '%s\thandshake\t%s\t%s\t%s\t%s\n' "$name" "$conns" \
				"${SW_RPS[$name,hs,$conns]}" "${SW_P99[$name,hs,$conns]}" "${SW_ERRS[$name,hs,$conns]}"
		done
	done
} >"$TSV"
say "wrote $TSV"
mkdir -p "$(dirname "$MD")"
{
	echo "# Passthrough relay benchmark"
	echo
	bench_meta_md
	echo
	echo "Client -> front end: mTLS (TLS 1.3, client certificate required and checked against ca.crt and" \
		"crl.pem, same server certificate, no tickets), HTTP/1.1, GET $URL_PATH with the finance" \
		"agency's certificate. Front end -> upstream ($STUB_KIND): mTLS, certificate and name verified," \
		"keep-alive pool. $WORKERS workers or threads per front end; access log" \
		"$([ "$ACCESS_LOG" = 1 ] && echo "on (one line per request, to a file)" || echo off)."
	echo "Load: tests/bench/loadgen (one thread) on the same machine, ${SECS}s per front end, mode and" \
		"connection count, as $ROUNDS interleaved rounds of $ROUND_MS ms in a rotating order (req/s: mean" \
		"of the rounds, p99: median of the rounds); keep-alive rounds leave out their first $WARM_MS ms" \
		"(connection set-up); handshakes: a new connection per request (full handshake, no resumption)." \
		"Rates count 2xx answers. Headline: keep-alive with $KA_CONNS connections, handshakes with $HS_CONNS."
	echo
	table '| %s | %s | %s | %s | %s |\n' md
	echo
	ratios "- "
	notes "- "
	echo
	echo "Keep-alive req/s (p99 ms) by connections:"
	echo
	sweep '| %s | %s | %s | %s |\n' ka md
	echo
	echo "Handshakes/s (p99 ms) by connections:"
	echo
	sweep '| %s | %s | %s | %s |\n' hs md
} >"$MD"
say "wrote $MD"
exit $status
