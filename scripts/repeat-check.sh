#!/bin/sh
# Runs `make check` N times in a row on a fresh clone of the current commit, as
# a new user would, and stops at the first failure (issue 11: ten in a row).
#
#   scripts/repeat-check.sh N
#
# The clone goes to a temporary folder with ../shared beside it (a link to
# GW_SHARED, default the ../shared of this checkout). Uncommitted changes are
# not in it. On success the folder is removed; on a failure it is kept, with
# the run's output and build/test-logs, and its path printed.
set -eu

die() {
	echo "repeat-check: $*" >&2
	exit 2
}

[ $# -eq 1 ] || die "usage: scripts/repeat-check.sh N"
case $1 in
'' | *[!0-9]*) die "N must be a positive number" ;;
esac
n=$1
[ "$n" -ge 1 ] || die "N must be a positive number"

here=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "${GW_SHARED:-$here/../shared}" 2>/dev/null && pwd) ||
	die "no shared folder at ${GW_SHARED:-$here/../shared} (set GW_SHARED)"
commit=$(git -C "$here" rev-parse HEAD)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/repeat-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

git clone -q --no-hardlinks "$here" "$tmp/repo"
git -C "$tmp/repo" checkout -q --detach "$commit"
ln -s "$shared" "$tmp/shared"
echo "repeat-check: $(git -C "$tmp/repo" log -1 --oneline) in $tmp"

i=1
while [ "$i" -le "$n" ]; do
	log="$tmp/run-$i.log"
	start=$(date +%s)
	if (cd "$tmp/repo" && GW_SHARED=../shared make check) >"$log" 2>&1; then
		echo "repeat-check: run $i of $n passed ($(($(date +%s) - start)) s):" \
		    "$(tail -n 1 "$log")"
	else
		trap - EXIT INT TERM
		tail -n 40 "$log"
		echo "repeat-check: run $i of $n FAILED; output in $log," \
		    "test logs in $tmp/repo/build/test-logs"
		exit 1
	fi
	i=$((i + 1))
done
echo "repeat-check: $n of $n runs passed"
