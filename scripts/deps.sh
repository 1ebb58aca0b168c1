#!/bin/sh
# Installs the Debian packages the build and the tests need (DESIGN §6), only when
# some are missing. Non-interactive and idempotent: safe to run before every build.
set -eu

PKGS="build-essential pkg-config openssl libssl-dev libevent-dev node-llhttp
libxml2-dev libxml2-utils libjansson-dev libsqlite3-dev sqlite3 libinih-dev
libseccomp-dev libsystemd-dev libcmocka-dev curl clang libclang-rt-14-dev
python3 haproxy nginx prometheus systemd iproute2 chromium libnss3-tools
fonts-wqy-microhei"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# chromium and libnss3-tools serve the console's browser test (a client
# certificate in an NSS database); fonts-wqy-microhei draws the cities' names
# in its screenshots (a bare Debian has no CJK font). haproxy and nginx are comparison baselines
# only; their packages must not start services that would hold ports the
# tests use.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	$SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
	made_policy=1
fi
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
[ "$made_policy" -eq 0 ] || $SUDO rm -f /usr/sbin/policy-rc.d
