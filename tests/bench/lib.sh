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
