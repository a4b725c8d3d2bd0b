#!/usr/bin/env bash
# tests/run.sh — the test harness behind `make test`, `make asan` and `make test-unit`.
#
# usage: tests/run.sh [--variant release|asan] [--only unit|integration|e2e]
#
# Per variant: build everything (make -k -j2 VARIANT=<v> all; a build failure counts as one
# failure and the tests that did build still run), run the criterion unit binaries
# build/<v>/tests/test_*, start the local stack (tests/stack/stack.sh), run the integration
# binaries build/<v>/tests/itest_* and every executable tests/e2e/*.sh against it, stop the
# stack. Without --variant: release, then asan (ASan+UBSan); with --only and no --variant:
# release only.
#
# Counting: each criterion binary's "Synthesis: ... Passing: P | Failing: F" line (a binary that
# dies without one counts one failure); each "ok - " / "not ok - " line of an e2e script (an e2e
# script that exits non-zero without a "not ok" line counts one failure); a sanitizer report
# in any *.log under the stack directory (components, and services that e2e scripts start with
# their logs in $QS_LOG_DIR) counts one failure per log. The last line printed
# is exactly "N passed, M failed"; the exit status is 1 if anything failed.
#
# Environment: QS_TEST_TIMEOUT (seconds per test binary or script, default 600),
# QS_KEEP_STACK=1 (keep the stack directory after the run), QS_MAKE_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
QS_PROG=tests
# shellcheck source=tests/stack/lib.sh
. tests/stack/lib.sh

VARIANTS=()
ONLY=
while [ "$#" -gt 0 ]; do
    case $1 in
    --variant)
        case ${2:-} in release | asan) VARIANTS=("$2") ;; *) qs_die "--variant release|asan" ;; esac
        shift 2
        ;;
    --only)
        case ${2:-} in unit | integration | e2e) ONLY=$2 ;; *) qs_die "--only unit|integration|e2e" ;; esac
        shift 2
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) qs_die "unknown argument '$1' (see --help)" ;;
    esac
done
if [ "${#VARIANTS[@]}" -eq 0 ]; then
    if [ -n "$ONLY" ]; then VARIANTS=(release); else VARIANTS=(release asan); fi
fi
TIMEOUT=${QS_TEST_TIMEOUT:-600}

PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()    # "what: log path" lines for the end summary
TIMINGS=()     # "phase seconds"
STACK_DIR=

if [ -t 1 ]; then
    C_OK=$'\e[32m' C_BAD=$'\e[31m' C_DIM=$'\e[2m' C_OFF=$'\e[0m'
else
    C_OK='' C_BAD='' C_DIM='' C_OFF=''
fi

say() { printf '%s\n' "$*"; }
now_ms() { date +%s%3N; }
secs_since() { # START_MS -> "12.3"
    local d=$(($(now_ms) - $1))
    printf '%d.%d' $((d / 1000)) $(((d % 1000) / 100))
}
phase_begin() {
    PHASE=$1
    PHASE_T0=$(now_ms)
    say ""
    say "=== $PHASE"
}
phase_end() {
    local t
    t=$(secs_since "$PHASE_T0")
    TIMINGS+=("$PHASE ${t}s")
    say "--- $PHASE: ${t}s"
}
fail_note() { # WHAT LOG
    FAILURES+=("$1: $2")
    if [ -s "$2" ]; then
        say "${C_DIM}----- last lines of $2${C_OFF}"
        tail -n "${QS_FAIL_TAIL:-40}" "$2"
        say "${C_DIM}-----${C_OFF}"
    fi
}

stop_stack() {
    if [ -n "$STACK_DIR" ]; then
        tests/stack/stack.sh stop "$STACK_DIR" || true
        STACK_DIR=
    fi
}
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_criterion VARIANT BIN LOGDIR
run_criterion() {
    local bin=$2 name log t0 rc=0
    name=$(basename "$bin")
    log=$3/$name.log
    t0=$(now_ms)
    timeout --kill-after=10 "$TIMEOUT" "$bin" >"$log" 2>&1 || rc=$?
    local syn p=0 f=0
    syn=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'Synthesis: Tested: [0-9]+' | tail -n 1 || true)
    if [[ $syn =~ Passing:\ ([0-9]+)\ \|\ Failing:\ ([0-9]+) ]]; then
        p=${BASH_REMATCH[1]}
        f=${BASH_REMATCH[2]}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # e.g. leaks reported at exit
    else
        f=1
        [ "$rc" -ne 124 ] || say "  $name: timed out after ${TIMEOUT}s"
    fi
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if [ "$f" -eq 0 ]; then
        say "  ${C_OK}PASS${C_OFF} $name  ($p tests, $(secs_since "$t0")s)"
    else
        say "  ${C_BAD}FAIL${C_OFF} $name  ($p passed, $f failed, exit $rc, $(secs_since "$t0")s)"
        fail_note "$1/$name" "$log"
    fi
}

# run_e2e VARIANT SCRIPT LOGDIR
run_e2e() {
    local script=$2 name log t0 rc=0
    name=$(basename "$script" .sh)
    log=$3/e2e-$name.log
    t0=$(now_ms)
    say "  -- e2e $name"
    set +e
    QS_STACK_DIR=$STACK_DIR timeout --kill-after=10 "$TIMEOUT" bash "$script" </dev/null 2>&1 |
        tee "$log" | sed -n 's/^\(not ok - \|ok - \)/    &/p'
    rc=${PIPESTATUS[0]}
    set -e
    local p f s
    p=$(grep -c '^ok - ' "$log" || true)
    s=$(grep -c '^ok - .*# SKIP' "$log" || true)
    f=$(grep -c '^not ok - ' "$log" || true)
    p=$((p - s))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        say "    ${C_BAD}not ok${C_OFF} - $name exited with status $rc"
    fi
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    SKIPPED=$((SKIPPED + s))
    if [ "$f" -eq 0 ]; then
        say "  ${C_OK}PASS${C_OFF} e2e $name  ($p ok, $s skipped, $(secs_since "$t0")s)"
    else
        say "  ${C_BAD}FAIL${C_OFF} e2e $name  ($p ok, $f not ok, $(secs_since "$t0")s)"
        fail_note "$1/e2e/$name" "$log"
    fi
}

run_variant() {
    local v=$1 logdir=$ROOT/build/$1/test-logs
    local -a env_v=(VARIANT="$v" QS_VARIANT="$v" QS_BIN="$ROOT/build/$v/bin")
    if [ "$v" = asan ]; then
        env_v+=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
    fi
    export "${env_v[@]}"

    phase_begin "$v: build"
    mkdir -p "$ROOT/build/$v"
    local blog=$ROOT/build/$v/build.log
    # -k: one target that does not build must not hide the results of all the others (the
    # build failure itself counts as one failure, so the run fails anyway).
    if make -k -j"${QS_MAKE_JOBS:-2}" VARIANT="$v" all >"$blog" 2>&1; then
        say "  built ($(grep -c -E '^(cc|gcc|clang) ' "$blog" || true) compile/link steps; log $blog)"
    else
        say "  ${C_BAD}FAIL${C_OFF} build ($v); running what did build"
        FAILED=$((FAILED + 1))
        fail_note "$v/build" "$blog"
    fi
    phase_end
    rm -rf "$logdir"
    mkdir -p "$logdir"

    local -a units=() itests=() e2es=()
    local f
    for f in build/"$v"/tests/test_*; do [ -x "$f" ] && [ -f "$f" ] && units+=("$f"); done
    for f in build/"$v"/tests/itest_*; do [ -x "$f" ] && [ -f "$f" ] && itests+=("$f"); done
    for f in tests/e2e/*.sh; do [ -x "$f" ] && [ -f "$f" ] && e2es+=("$f"); done

    if [ -z "$ONLY" ] || [ "$ONLY" = unit ]; then
        phase_begin "$v: unit (${#units[@]} binaries)"
        for f in "${units[@]}"; do run_criterion "$v" "$f" "$logdir"; done
        phase_end
    fi

    local need_stack=0
    { [ -z "$ONLY" ] || [ "$ONLY" = integration ]; } && [ "${#itests[@]}" -gt 0 ] && need_stack=1
    { [ -z "$ONLY" ] || [ "$ONLY" = e2e ]; } && [ "${#e2es[@]}" -gt 0 ] && need_stack=1
    [ "$need_stack" = 1 ] || return 0

    phase_begin "$v: stack start"
    local slog=$logdir/stack.log
    if ! STACK_DIR=$(env -u QS_STACK_DIR tests/stack/stack.sh start 2>"$slog"); then
        STACK_DIR=
        say "  ${C_BAD}FAIL${C_OFF} the local stack did not start"
        FAILED=$((FAILED + 1))
        fail_note "$v/stack" "$slog"
        phase_end
        return 0
    fi
    sed 's/^/  /' "$slog"
    phase_end

    if [ -z "$ONLY" ] || [ "$ONLY" = integration ]; then
        phase_begin "$v: integration (${#itests[@]} binaries)"
        (
            set -a
            # shellcheck source=/dev/null
            . "$STACK_DIR/env"
            set +a
            for f in "${itests[@]}"; do run_criterion "$v" "$f" "$logdir"; done
            printf '%s %s %s\n' "$PASSED" "$FAILED" "$SKIPPED" >"$logdir/.counts"
            printf '%s\n' "${FAILURES[@]}" >"$logdir/.failures"
        )
        read -r PASSED FAILED SKIPPED <"$logdir/.counts"
        mapfile -t FAILURES < <(grep -v '^$' "$logdir/.failures" || true)
        phase_end
    fi

    if [ -z "$ONLY" ] || [ "$ONLY" = e2e ]; then
        phase_begin "$v: e2e (${#e2es[@]} scripts)"
        for f in "${e2es[@]}"; do run_e2e "$v" "$f" "$logdir"; done
        phase_end
    fi

    phase_begin "$v: stack stop"
    stop_and_scan_stack "$v" "$logdir"
    phase_end
}

# Stop the stack, keeping its directory long enough to read the logs: a component or service
# that reported a sanitizer error (ASan/LSan/UBSan, often only at exit) counts as a failure.
stop_and_scan_stack() {
    local v=$1 logdir=$2 dir=$STACK_DIR log name
    QS_KEEP_STACK=1 tests/stack/stack.sh stop "$dir" 2>/dev/null || true
    STACK_DIR=
    while IFS= read -r -d '' log; do
        if grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|ThreadSanitizer' "$log"; then
            name=$(basename "$log" .log)
            cp "$log" "$logdir/stack-$name.log"
            say "  ${C_BAD}FAIL${C_OFF} sanitizer report in the log of $name"
            FAILED=$((FAILED + 1))
            fail_note "$v/stack/$name" "$logdir/stack-$name.log"
        fi
    done < <(find "$dir" -name '*.log' -type f -print0 2>/dev/null)
    if [ "${QS_KEEP_STACK:-0}" = 1 ]; then
        say "  kept $dir"
    elif [ -f "$dir/.qs-stack" ]; then
        rm -rf -- "$dir"
    fi
}

T0=$(now_ms)
for v in "${VARIANTS[@]}"; do
    run_variant "$v"
done

say ""
say "=== summary (${VARIANTS[*]}${ONLY:+, only $ONLY}; $(secs_since "$T0")s)"
for t in "${TIMINGS[@]}"; do say "  $t"; done
if [ "${#FAILURES[@]}" -gt 0 ]; then
    say "failures (logs):"
    for t in "${FAILURES[@]}"; do say "  $t"; done
fi
[ "$SKIPPED" -eq 0 ] || say "$SKIPPED skipped"
say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
