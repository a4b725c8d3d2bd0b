#!/usr/bin/env bash
# valgrind.sh — run criterion test binaries under valgrind memcheck, one job at a time.
# Fails on memory errors and definite leaks in our code (libmicrohttpd's and glibc's thread-local
# allocations show as "possibly lost" and are not counted). Prints "N passed, M failed".
set -uo pipefail
pass=0
fail=0
logdir=${TMPDIR:-/tmp}/qs-valgrind
# Tests skip their timing and RSS bounds under memcheck (its slowdown and shadow memory).
export QS_UNDER_VALGRIND=1
mkdir -p "$logdir"
for t in "$@"; do
    name=$(basename "$t")
    # Trace our own binaries only: system tools the tests start (bash, redis-server, the Go
    # docker-registry, skopeo) are not ours to check and do not run cleanly under memcheck.
    if timeout 900 valgrind -q --trace-children=yes --trace-children-skip='/usr/*,/bin/*,/sbin/*' \
        --leak-check=full \
        --errors-for-leak-kinds=definite --error-exitcode=9 "$t" -j1 >"$logdir/$name.log" 2>&1; then
        pass=$((pass + 1))
        printf '  PASS %s\n' "$name"
    else
        fail=$((fail + 1))
        printf '  FAIL %s (log: %s)\n' "$name" "$logdir/$name.log"
        grep -E '==[0-9]+== ' "$logdir/$name.log" | head -n 20 | sed 's/^/    /'
    fi
done
printf '%d passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
