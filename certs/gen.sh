#!/bin/sh
# Development PKI for the fund gateway: DEVELOPMENT AND TESTS ONLY.
#
#   sh certs/gen.sh certs/dev
#
# Makes a root CA, an issuing CA, an agency intermediate CA (not in ca.crt),
# the gateway's server and client certificates, one client certificate per
# agency (the auditor's from the agency intermediate, with the chain), stub
# upstream server certificates, negative material (expired, revoked, rogue,
# unpinned, a revoked stub server), CRLs and pins.txt in the given folder. See
# certs/README.md for the file list.
#
# Idempotent: if the folder already holds a complete set made by this version of
# the generator (.complete is written last and records a checksum of gen.sh and
# openssl-ca.cnf), and the set is not about to expire, it does nothing. Otherwise
# it removes the files it knows and makes everything again. Files it does not
# know are left alone.
set -eu

die() {
	echo "certs/gen.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: sh certs/gen.sh OUTPUT_FOLDER"
[ -n "$1" ] || die "empty output folder"

here=$(cd "$(dirname "$0")" && pwd)
cnf="$here/openssl-ca.cnf"
[ -r "$cnf" ] || die "missing $cnf"
command -v openssl >/dev/null 2>&1 || die "openssl not found"

# Everything made here is readable by its owner only.
umask 077

# Agencies: name | organization. CN = name.
CITIES="620100 620200 620300 620400 620500 620600 620700 620800 620900 621000 621100 621200 622900 623000"
AGENCIES="tax finance hrss bank admin auditor"
for c in $CITIES; do AGENCIES="$AGENCIES finance-city-$c"; done
agency_org() {
	case $1 in
	tax) echo "Gansu Provincial Tax Service" ;;
	finance) echo "Gansu Provincial Department of Finance" ;;
	hrss) echo "Gansu Provincial Social Insurance Agency" ;;
	finance-city-620100) echo "Lanzhou Municipal Finance Bureau" ;;
	finance-city-620200) echo "Jiayuguan Municipal Finance Bureau" ;;
	finance-city-*) echo "Municipal Finance Bureau ${1#finance-city-}" ;;
	bank) echo "Bank of Gansu" ;;
	admin) echo "Gansu Work-Injury Insurance Fund Gateway Operations" ;;
	auditor) echo "Gansu Provincial Audit Office" ;;
	*) die "unknown agency $1" ;;
	esac
}
# Servers on loopback for development: stub agencies and the witnesses.
STUBS="stub-finance stub-hrss stub-bank witness-1-tls witness-2-tls"
# Agencies whose certificates come from the agency intermediate.
VIA_AGENCY_CA="auditor"

# Every file of a complete set (besides .complete).
FILES="root-ca.crt root-ca.key issuing-ca.crt issuing-ca.key ca.crt
agency-ca.crt agency-ca.key stub-revoked.crt stub-revoked.key
gateway.crt gateway.key gateway-fullchain.crt gateway-client.crt gateway-client.key
expired.crt expired.key revoked.crt revoked.key crl.pem
rogue-ca.crt rogue-ca.key rogue.crt rogue.key unpinned.crt unpinned.key pins.txt
log.key log.pub signing.key signing.pub bank-sign.key bank-sign.pub
witness-1.key witness-1.vkey witness-2.key witness-2.vkey"
for n in $AGENCIES; do FILES="$FILES $n.crt $n.key $n.pem"; done
for n in $STUBS; do FILES="$FILES $n.crt $n.key"; done

# Identifies the generator version; a change to it regenerates the set.
stamp=$(cat "$here/gen.sh" "$cnf" | cksum)

mkdir -p "$1"
out=$(cd "$1" && pwd)
[ "$out" != "/" ] || die "refusing to use / as output folder"

set_is_complete() {
	[ -f "$out/.complete" ] || return 1
	[ "$(cat "$out/.complete")" = "$stamp" ] || return 1
	for f in $FILES; do
		[ -s "$out/$f" ] || return 1
	done
	# Leaf certificates and the CRL are made together with the same lifetime:
	# regenerate when they are within 30 days of their end.
	openssl x509 -in "$out/gateway.crt" -noout -checkend 2592000 >/dev/null 2>&1 || return 1
	return 0
}

if set_is_complete; then
	exit 0
fi

# Partial, stale or absent: remove what we know and start again.
rm -f "$out/.complete"
for f in $FILES; do rm -f "$out/$f"; done
rm -rf "$out/.work"
chmod 700 "$out"

work="$out/.work"
mkdir -p "$work"
log="$work/log"
: >"$log"
PKI_OUT=$out
PKI_WORK=$work
export PKI_OUT PKI_WORK

# Run a command quietly; on failure show its output and stop.
run() {
	if ! "$@" >>"$log" 2>&1; then
		cat "$log" >&2
		die "failed: $*"
	fi
}

cadb() {
	mkdir -p "$work/$1/newcerts"
	: >"$work/$1/index.txt"
	echo 1000 >"$work/$1/crlnumber"
}

# EC P-256 key and request (or self-signed certificate) in one call.
KEYOPTS="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -noenc"

# selfsigned NAME SUBJECT: a self-signed CA valid 10 years.
selfsigned() {
	# shellcheck disable=SC2086
	run openssl req -config "$cnf" -new -x509 $KEYOPTS -keyout "$out/$1.key" \
		-subj "$2" -days 3650 -extensions v3_root -out "$out/$1.crt"
}

# issue CA NAME SUBJECT EXTENSIONS [openssl ca options...]
issue() {
	_ca=$1 _name=$2 _subj=$3 _ext=$4
	shift 4
	# shellcheck disable=SC2086
	run openssl req -config "$cnf" -new $KEYOPTS -keyout "$out/$_name.key" \
		-subj "$_subj" -out "$work/$_name.csr"
	run openssl ca -config "$cnf" -name "$_ca" -batch -notext -extensions "$_ext" \
		-in "$work/$_name.csr" -out "$out/$_name.crt" "$@"
}

C="/C=CN/ST=Gansu"
DEV="Fund Gateway Development"

# ---- CAs --------------------------------------------------------------------
cadb root
cadb issuing
cadb agency
cadb rogue
selfsigned root-ca "$C/O=$DEV/CN=Fund Gateway Dev Root CA"
issue CA_root issuing-ca "$C/O=$DEV/CN=Fund Gateway Dev Issuing CA" v3_issuing -days 3650
issue CA_root agency-ca "/C=CN/O=$(agency_org auditor)/CN=Audit Office Dev Agency CA" \
	v3_issuing -days 3650
cat "$out/issuing-ca.crt" "$out/root-ca.crt" >"$out/ca.crt"

# ---- gateway ----------------------------------------------------------------
issue CA_issuing gateway "$C/O=$DEV/CN=localhost" server_ext -days 825
cat "$out/gateway.crt" "$out/issuing-ca.crt" >"$out/gateway-fullchain.crt"
issue CA_issuing gateway-client "$C/O=$DEV/CN=gateway" client_ext -days 825

# ---- agencies ---------------------------------------------------------------
# An agency behind the intermediate sends it: its .crt is the leaf, then the
# intermediate (what a client presents).
for n in $AGENCIES; do
	case " $VIA_AGENCY_CA " in
	*" $n "*)
		issue CA_agency "$n" "/C=CN/O=$(agency_org "$n")/CN=$n" client_ext -days 825
		cat "$out/agency-ca.crt" >>"$out/$n.crt"
		;;
	*) issue CA_issuing "$n" "/C=CN/O=$(agency_org "$n")/CN=$n" client_ext -days 825 ;;
	esac
	cat "$out/$n.crt" "$out/$n.key" >"$out/$n.pem"
done

# ---- stub upstream servers --------------------------------------------------
for n in $STUBS; do
	issue CA_issuing "$n" "$C/O=$DEV/CN=$n" stub_server_ext -days 825
done

# ---- negative material ------------------------------------------------------
issue CA_issuing expired "/C=CN/O=$(agency_org tax)/CN=expired" client_ext \
	-startdate 20200101000000Z -enddate 20210101000000Z
issue CA_issuing revoked "/C=CN/O=$(agency_org tax)/CN=revoked" client_ext -days 825
issue CA_issuing unpinned "/C=CN/O=Unknown Agency/CN=stranger" client_ext -days 825
issue CA_issuing stub-revoked "$C/O=$DEV/CN=stub-revoked" stub_server_ext -days 825
run openssl ca -config "$cnf" -name CA_issuing -batch -revoke "$out/revoked.crt" \
	-crl_reason keyCompromise
run openssl ca -config "$cnf" -name CA_issuing -batch -revoke "$out/stub-revoked.crt" \
	-crl_reason keyCompromise
run openssl ca -config "$cnf" -name CA_issuing -batch -gencrl -crldays 825 \
	-out "$work/issuing.crl"
run openssl ca -config "$cnf" -name CA_root -batch -gencrl -crldays 825 \
	-out "$work/root.crl"
run openssl ca -config "$cnf" -name CA_agency -batch -gencrl -crldays 825 \
	-out "$work/agency.crl"
cat "$work/issuing.crl" "$work/root.crl" "$work/agency.crl" >"$out/crl.pem"

selfsigned rogue-ca "/C=CN/O=Not The Fund/CN=Rogue CA"
issue CA_rogue rogue "/C=CN/O=$(agency_org tax)/CN=tax" client_ext -days 825

# ---- pins -------------------------------------------------------------------
spki_sha256() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER |
		openssl dgst -sha256 -r | cut -d' ' -f1
}
: >"$work/pins.txt"
for n in $AGENCIES gateway-client; do
	h=$(spki_sha256 "$out/$n.crt")
	case $h in
	*[!0-9a-f]* | "") die "bad pin for $n: $h" ;;
	esac
	[ ${#h} -eq 64 ] || die "bad pin for $n: $h"
	echo "$n $h" >>"$work/pins.txt"
done
mv "$work/pins.txt" "$out/pins.txt"

# The keeper's Ed25519 key that signs audit-log checkpoints (development only).
run openssl genpkey -algorithm ed25519 -out "$out/log.key"
run openssl pkey -in "$out/log.key" -pubout -out "$out/log.pub"
# The keeper's key signing instructions (receipts), and its SM2 key signing
# disbursement files for the development bank (SM2 with SM3, DESIGN §2).
run openssl genpkey -algorithm ed25519 -out "$out/signing.key"
run openssl pkey -in "$out/signing.key" -pubout -out "$out/signing.pub"
run openssl genpkey -algorithm SM2 -out "$out/bank-sign.key"
run openssl pkey -in "$out/bank-sign.key" -pubout -out "$out/bank-sign.pub"
# Two development witnesses (`make run` starts them) and their cosignature
# verifier keys, which the development configuration names (C2SP
# tlog-cosignature: name+id+base64(0x04 || key), the id being the first 4
# bytes of SHA-256(name || 0x0A || 0x04 || key)).
for w in 1 2; do
	run openssl genpkey -algorithm ed25519 -out "$out/witness-$w.key"
	openssl pkey -in "$out/witness-$w.key" -pubout -outform DER |
		tail -c 32 >"$work/witness.pub" || die "witness-$w: no public key"
	name="witness-$w.dev.gateway.local"
	id=$({ printf '%s\n\004' "$name"; cat "$work/witness.pub"; } |
		openssl dgst -sha256 -binary | head -c 4 | od -An -tx1 | tr -d ' \n')
	b64=$({ printf '\004'; cat "$work/witness.pub"; } | base64 -w0)
	[ ${#id} -eq 8 ] && [ ${#b64} -eq 44 ] || die "witness-$w: bad vkey"
	echo "$name+$id+$b64" >"$out/witness-$w.vkey"
done

# Keys and .pem stay 0600 (umask); public material may be read by others.
cd "$out"
pub=
for f in $FILES; do
	case $f in
	*.crt | crl.pem | pins.txt | *.pub | *.vkey) pub="$pub $f" ;;
	esac
done
# shellcheck disable=SC2086
chmod 644 $pub

# ---- checks -----------------------------------------------------------------
# verify_ok PURPOSE CERT...: each must chain to ca.crt, also with full CRL checking.
# VERIFY_UNTRUSTED may name intermediates the certificates' holders send.
verify_ok() {
	_p=$1
	shift
	# shellcheck disable=SC2086
	openssl verify -purpose "$_p" -CAfile ca.crt ${VERIFY_UNTRUSTED:-} "$@" >>"$log" 2>&1 ||
		die "one of $* does not verify against ca.crt (see openssl verify -CAfile ca.crt)"
	# shellcheck disable=SC2086
	openssl verify -purpose "$_p" -crl_check_all -CAfile ca.crt -CRLfile crl.pem \
		${VERIFY_UNTRUSTED:-} "$@" >>"$log" 2>&1 || die "one of $* does not verify with crl.pem"
}
# verify_bad CERT EXPECTED_ERROR OPTIONS...: must fail, with that error.
verify_bad() {
	_c=$1 _want=$2
	shift 2
	if _res=$(openssl verify "$@" -CAfile ca.crt "$_c" 2>&1); then
		die "$_c verifies but must not"
	fi
	case $_res in
	*"$_want"*) ;;
	*) die "$_c fails for the wrong reason: $_res" ;;
	esac
}
verify_ok any issuing-ca.crt
servers="gateway.crt"
for n in $STUBS; do servers="$servers $n.crt"; done
clients="gateway.crt gateway-client.crt unpinned.crt"
via=
for n in $AGENCIES; do
	case " $VIA_AGENCY_CA " in
	*" $n "*) via="$via $n.crt" ;;
	*) clients="$clients $n.crt" ;;
	esac
done
# shellcheck disable=SC2086
verify_ok sslserver $servers
# shellcheck disable=SC2086
verify_ok sslclient $clients
# Behind the agency intermediate: they chain only with it.
for c in $via; do
	verify_bad "$c" "unable to get local issuer certificate"
	VERIFY_UNTRUSTED="-untrusted agency-ca.crt" verify_ok sslclient "$c"
done
verify_bad stub-revoked.crt "certificate revoked" -crl_check -CRLfile crl.pem
# revoked.crt is fine until the CRL is consulted.
openssl verify -purpose sslclient -CAfile ca.crt revoked.crt >>"$log" 2>&1 ||
	die "revoked.crt does not verify against ca.crt without the CRL"
verify_bad revoked.crt "certificate revoked" -crl_check -CRLfile crl.pem
verify_bad revoked.crt "certificate revoked" -crl_check_all -CRLfile crl.pem
verify_bad expired.crt "certificate has expired"
verify_bad rogue.crt "unable to get local issuer certificate"

rm -rf "$work"
echo "$stamp" >"$out/.complete"
echo "certs/gen.sh: development PKI written to $out"
