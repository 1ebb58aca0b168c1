# shellcheck shell=sh
# Sourced by the bench parts (sh or bash): the run's date, machine and command, the same
# for every part, as "# key: value" lines heading a part's TSV table (tests/bench/report.py
# reads them back) and as one Markdown sentence.
#
# bench_meta_init SCRIPT: fixes the date and the command once; the command is the part's
# script with the settings that change it (BENCH_*, INSTR_*, the keeper bench's variables)
# as they were in the environment, and "make bench" when run through tests/bench/all.sh.

bench_meta_init() {
	BENCH_META_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	BENCH_META_CMD="$(env | LC_ALL=C sort | grep -E '^(BENCH_[A-Z_]+|INSTR_[A-Z_]+|SLOTS|WINDOW|DURATION|WARMUP|VERIFY_ENTRIES|VERIFY_RUNS|TMPDIR)=' |
		grep -v -E '^BENCH_(VIA|META_[A-Z_]*)=' | sed "s/=\(.*[^A-Za-z0-9_.,:/+-].*\)$/='\1'/" | tr '\n' ' ')sh $1"
	if [ -n "${BENCH_VIA:-}" ]; then
		BENCH_META_CMD="$BENCH_META_CMD (part of $BENCH_VIA)"
	fi
	BENCH_META_KERNEL=$(uname -sr)
	BENCH_META_NPROC=$(nproc)
	BENCH_META_OPENSSL=$(openssl version 2>/dev/null | cut -d' ' -f1-2)
	BENCH_META_HAPROXY=$(haproxy -v 2>/dev/null | head -n 1 | cut -d' ' -f3)
	BENCH_META_NGINX=$(nginx -v 2>&1 | sed -n 's|.*nginx/\([^ ]*\).*|\1|p')
	BENCH_META_SQLITE=$(sqlite3 --version 2>/dev/null | cut -d' ' -f1)
	# Load of the machine when the part started: this machine is shared.
	BENCH_META_LOAD=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
}

# The "# key: value" lines (the TSV's head).
bench_meta_tsv() {
	printf '# date: %s\n# nproc: %s\n# kernel: %s\n# openssl: %s\n# haproxy: %s\n' \
		"$BENCH_META_DATE" "$BENCH_META_NPROC" "$BENCH_META_KERNEL" \
		"${BENCH_META_OPENSSL:-?}" "${BENCH_META_HAPROXY:--}"
	printf '# nginx: %s\n# sqlite: %s\n# loadavg: %s\n# command: %s\n' \
		"${BENCH_META_NGINX:--}" "${BENCH_META_SQLITE:--}" "${BENCH_META_LOAD:-?}" \
		"$BENCH_META_CMD"
}

# One Markdown paragraph: when, where, how.
bench_meta_md() {
	printf 'Run of %s, %s cores, %s; %s, HAProxy %s, nginx %s, SQLite %s; load average %s at the start.\n' \
		"$BENCH_META_DATE" "$BENCH_META_NPROC" "$BENCH_META_KERNEL" "${BENCH_META_OPENSSL:-OpenSSL ?}" \
		"${BENCH_META_HAPROXY:--}" "${BENCH_META_NGINX:--}" "${BENCH_META_SQLITE:--}" \
		"${BENCH_META_LOAD:-?}"
	# shellcheck disable=SC2016 # Markdown backquotes
	printf '\nCommand: `%s`\n' "$BENCH_META_CMD"
}
