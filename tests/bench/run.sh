#!/usr/bin/env bash
# tests/bench/run.sh — the benchmark harness behind `make bench`.
#
# usage: tests/bench/run.sh [NAME...]
#
# Runs tests/bench/NAME/run.sh for every NAME given, or every tests/bench/*/run.sh in name
# order. Builds nothing (`make bench` has already run `make all`). Each benchmark starts and
# stops what it needs and prints one "<name> bench: ..." line per figure; they are repeated at
# the end, ready to paste into the docs. Benchmarks never assert on absolute times: a missed
# goal is reported, not failed. The exit status is 1 if a benchmark broke (exited non-zero or
# timed out), 2 on a usage error.
#
# Environment: QS_BENCH_TIMEOUT (seconds per benchmark, default 900); the benchmarks' own
# variables (see each tests/bench/*/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
QS_PROG=bench
# shellcheck source=tests/stack/lib.sh
. tests/stack/lib.sh

TIMEOUT=${QS_BENCH_TIMEOUT:-900}
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || qs_die "QS_BENCH_TIMEOUT must be a positive number"

case ${1:-} in
-h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
esac

NAMES=()
if [ "$#" -gt 0 ]; then
    for n in "$@"; do
        n=${n%/}
        n=${n#tests/bench/}
        if [ ! -x "tests/bench/$n/run.sh" ]; then
            printf 'bench: no benchmark %s (known: %s)\n' "$n" \
                "$(cd tests/bench && ls -d -- */ 2>/dev/null | tr -d / | tr '\n' ' ')" >&2
            exit 2
        fi
        NAMES+=("$n")
    done
else
    for f in tests/bench/*/run.sh; do
        [ -x "$f" ] || continue
        n=${f#tests/bench/}
        NAMES+=("${n%/run.sh}")
    done
fi
[ "${#NAMES[@]}" -gt 0 ] || qs_die "no benchmarks found under tests/bench/"

OUT=$(mktemp -d "${TMPDIR:-/tmp}/qs-bench.XXXXXX")
trap 'rm -rf -- "$OUT"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

FAILED=()
for n in "${NAMES[@]}"; do
    printf '=== bench %s\n' "$n"
    t0=$SECONDS
    rc=0
    # --foreground: Ctrl-C still reaches the benchmark; on timeout its TERM trap stops what it started.
    timeout --foreground --kill-after=30 "$TIMEOUT" "tests/bench/$n/run.sh" 2>&1 | tee "$OUT/$n.log" || rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        printf 'bench: %s timed out after %s s\n' "$n" "$TIMEOUT" >&2
    fi
    if [ "$rc" -ne 0 ]; then
        FAILED+=("$n (exit $rc)")
    fi
    printf '=== bench %s: %s in %d s\n' "$n" "$([ "$rc" -eq 0 ] && echo ok || echo BROKEN)" $((SECONDS - t0))
done

printf '\n=== summary\n'
for n in "${NAMES[@]}"; do
    grep -E '^[A-Za-z0-9_-]+ bench: ' "$OUT/$n.log" || printf '%s bench: no figures\n' "$n"
done
if [ "${#FAILED[@]}" -gt 0 ]; then
    printf 'broken: %s\n' "${FAILED[*]}"
    exit 1
fi
