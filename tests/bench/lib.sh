# shellcheck shell=bash
# tests/bench/lib.sh — helpers every benchmark shares (source it after tests/stack/lib.sh).
# Figures are reported, never asserted: broke() marks a run as broken (non-zero exit), a missed
# goal only prints MISSED.

# shellcheck disable=SC2034 # BROKE is read by the benchmark that sources this file
broke() { # broke MESSAGE — something did not work (not a slow figure): the run will fail
    qs_info "BROKEN: $*"
    BROKE=1
}

median() { # median of the numbers on stdin ("nan" when none)
    sort -g | awk '{a[NR] = $1} END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
goal() { if "$@"; then echo met; else echo MISSED; fi; }

# bench_workdir NAME [SUBDIR] — the benchmark's work directory: sets WORK (a new directory),
# LOGS=$WORK/logs, BROKE=0, and traps so that on exit everything recorded in the pids file of
# $WORK/SUBDIR (default $WORK itself, where qs_spawn records with QS_STACK_DIR=$WORK) is stopped,
# then the directory removed — kept when the run failed, BROKE was set or QS_BENCH_KEEP=1. A
# benchmark may define bench_cleanup_extra (run after the stop, e.g. to drop gigabytes of blobs).
bench_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/qs-bench-$1.XXXXXX")
    LOGS=$WORK/logs
    mkdir -p "$LOGS"
    BROKE=0
    BENCH__PIDS_DIR=$WORK${2:+/$2}
    trap bench__cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

bench__cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -f "$BENCH__PIDS_DIR/pids" ]; then
        qs_stop_recorded "$BENCH__PIDS_DIR" 2>/dev/null || true
    fi
    if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra || true; fi
    if [ "$rc" -ne 0 ] || [ "${BROKE:-0}" != 0 ] || [ "${QS_BENCH_KEEP:-0}" = 1 ]; then
        qs_info "logs kept in $WORK"
    else
        rm -rf -- "$WORK"
    fi
    exit "$rc"
}
