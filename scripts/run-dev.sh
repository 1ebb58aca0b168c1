#!/bin/sh
# `make run`: the gateway with the development config on loopback, plus stub
# finance, HRSS and bank agencies behind it. Ctrl-C stops everything.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
pki="$top/certs/dev"
state="$top/var"
mkdir -p "$state"

pids=""
stop() {
	trap - INT TERM EXIT
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop INT TERM EXIT

port=9441
for name in finance hrss bank; do
	build/stubd --listen "127.0.0.1:$port" --cert "$pki/stub-$name.crt" \
	    --key "$pki/stub-$name.key" --ca "$pki/ca.crt" --name "$name" \
	    --record "$state/stub-$name.jsonl" --quiet 2>>"$state/stubs.log" &
	pids="$pids $!"
	port=$((port + 1))
done

# Two witnesses of the audit log (config/gateway.conf names them and their
# keys, made by `make pki`); their configuration needs this machine's log key.
logvkey=$(build/gatewayctl audit vkey -c config/gateway.conf)
for w in 1 2; do
	cat >"$state/witness-$w.conf" <<CONF
# written by scripts/run-dev.sh (see config/witness.conf for every key)
[witness]
name = witness-$w.dev.gateway.local
key = $pki/witness-$w.key
database = $state/witness-$w.db

[listener]
listen = 127.0.0.1:945$w
cert = $pki/witness-$w-tls.crt
key = $pki/witness-$w-tls.key
ca = $pki/ca.crt
crl = $pki/crl.pem

[log gateway.dev.local/audit]
vkey = $logvkey
pin_cert = $pki/gateway-client.crt
CONF
	build/witnessd -t -c "$state/witness-$w.conf" >/dev/null
	build/witnessd -c "$state/witness-$w.conf" 2>>"$state/witnesses.log" &
	pids="$pids $!"
done

# The supervision console's users import their certificate and key into a
# browser as PKCS#12 (password "dev"); written here, never into certs/dev.
for who in admin auditor finance hrss; do
	openssl pkcs12 -export -in "$pki/$who.crt" -inkey "$pki/$who.key" \
	    -name "gateway $who (development)" -passout pass:dev \
	    -out "$state/$who.p12"
done

build/gatewayd -t -c config/gateway.conf
build/gatewayd -c config/gateway.conf &
pids="$pids $!"

# Wait until the agency listener answers.
i=0
until curl -s -o /dev/null --cacert "$pki/ca.crt" --cert "$pki/finance.crt" \
    --key "$pki/finance.key" https://127.0.0.1:8443/ 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 50 ] || { echo "gatewayd did not come up" >&2; exit 1; }
	sleep 0.1
done

period=$(date -u +%Y-%m)
value_date=$(date -u +%Y-%m-%d)

cat <<MSG

gateway agency listener: https://127.0.0.1:8443/  (mutual TLS, agency certificates)
gateway admin listener:  https://127.0.0.1:8444/  (mutual TLS: admin, auditor, finance, hrss)

Supervision console: https://127.0.0.1:8444/
  first import a certificate into the browser (README, "The supervision console"):
  $state/admin.p12 (or auditor.p12, finance.p12, hrss.p12), password "dev",
  and trust $pki/ca.crt for websites
stub agencies: finance 127.0.0.1:9441, hrss 127.0.0.1:9442, bank 127.0.0.1:9443
stub records:  $state/stub-*.jsonl
witnesses:     127.0.0.1:9451, 127.0.0.1:9452 (log: $state/witnesses.log)

The newest checkpoint both witnesses cosigned (signed note: the log's line, then theirs):
curl --cacert $pki/ca.crt --cert $pki/finance.crt --key $pki/finance.key https://127.0.0.1:8443/audit/checkpoint/cosigned

A remittance advice from Lanzhou's finance bureau: signed, logged, delivered to the finance stub
(send it twice: the same receipt comes back):
curl --cacert $pki/ca.crt --cert $pki/finance-city-620100.crt --key $pki/finance-city-620100.key \\
  -H 'Content-Type: application/json' https://127.0.0.1:8443/v1/remittances -d \\
  '{"remittance_id":"R-DEMO-1","city_code":"620100","period":"$period","amount_fen":9434600,
    "from_account":"270362010010000115","to_account":"270362000010000017","value_date":"$value_date"}'

The month's reconciliation and the transfer (as finance):
curl --cacert $pki/ca.crt --cert $pki/finance.crt --key $pki/finance.key "https://127.0.0.1:8443/v1/reports/reconciliation?period=$period"
curl --cacert $pki/ca.crt --cert $pki/finance.crt --key $pki/finance.key https://127.0.0.1:8443/v1/transfers/R-DEMO-1
build/gatewayctl report reconciliation --period $period -c config/gateway.conf

A passthrough request as the finance agency, through the gateway to the finance stub:
curl --cacert $pki/ca.crt --cert $pki/finance.crt --key $pki/finance.key https://127.0.0.1:8443/pass/finance/hello

Readiness, as admin:
curl --cacert $pki/ca.crt --cert $pki/admin.crt --key $pki/admin.key https://127.0.0.1:8444/readyz

Ctrl-C stops the gateway and the stubs.
MSG
wait
