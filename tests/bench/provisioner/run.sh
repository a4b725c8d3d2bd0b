#!/usr/bin/env bash
# tests/bench/provisioner/run.sh — the appstudio-provisioner provisioning 200 components.
#
# usage: tests/bench/provisioner/run.sh   (or: make bench / tests/bench/run.sh provisioner)
#
# Starts its own stack (Redis, the Quay emulator, the Kubernetes emulator) on free loopback
# ports and stops it on exit. The Quay emulator answers every /api/v1 call 5 ms late (a
# delay-only fault, count -1), as a remote Quay would. Each of QS_BENCH_RUNS rounds (default
# 3) starts a fresh provisioner (PROVISIONER_WORKERS=4, its own Redis database, new workspace
# names so every organization, repository, robot and Secret is new) and measures:
#   1. first provisioning: 200 PUTs (20 workspaces x 10 components) sent 8 at a time, until
#      all 200 components are "ready" (polled every 20 ms in the provisioner's state index);
#   2. repeat: the same 200 PUTs again, until all are ready again — a no-op: the Quay write
#      log must stay empty.
# Reported beside the medians: Quay calls per component, and the floor those calls set at
# 5 ms each spread over 4 workers. Goal (issue 6): all 200 ready in <= 5 s. A missed goal is
# reported, not failed; exit 1 only when something broke (a component failed, a timeout, a
# process died, the repeat wrote to Quay).
#
# Environment: QS_BENCH_RUNS (3), QS_BENCH_PROV_WORKERS (4), QS_BENCH_PROV_DELAY_MS (5),
# QS_BENCH_KEEP=1 keeps the work directory (logs) even on success.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"
QS_PROG=bench-provisioner
unset QS_STACK_DIR
# shellcheck source=tests/stack/lib.sh
. tests/stack/lib.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

RUNS=${QS_BENCH_RUNS:-3}
WORKERS=${QS_BENCH_PROV_WORKERS:-4}
DELAY_MS=${QS_BENCH_PROV_DELAY_MS:-5}
NWS=20
NCOMP=10
TOTAL=$((NWS * NCOMP))
GOAL_S=5
BIN=$QS_BIN/appstudio-provisioner

for v in RUNS WORKERS DELAY_MS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || qs_die "QS_BENCH_* values must be positive numbers ($v)"
done
[ "$RUNS" -le 14 ] || qs_die "QS_BENCH_RUNS: at most 14 (one Redis database per round)"
[ -x "$BIN" ] || qs_die "appstudio-provisioner binary missing: $BIN (run make)"
for t in curl jq redis-cli awk; do
    command -v "$t" >/dev/null 2>&1 || qs_die "$t not found (run scripts/deps.sh)"
done

bench_workdir provisioner stack
STACK=$WORK/stack

QS_STACK_DIR=$STACK tests/stack/stack.sh start redis quay kube >/dev/null
# shellcheck source=/dev/null
. "$STACK/env"
export QS_STACK_DIR=$STACK

QUAY_TOKEN=$(qs_rand 24)
PLATFORM=$(qs_rand 24)
printf '%s\n' "$QUAY_TOKEN" >"$WORK/quay-token"
printf '%s' "$QS_KUBE_SA_TOKEN" >"$WORK/kube-token"
printf '%s\n' "$PLATFORM" >"$WORK/api-token"
emu() { curl -s --max-time 10 -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "$QS_QUAY_URL$2"; }
emu POST /_emulator/api_tokens "{\"token\":\"$QUAY_TOKEN\",\"user\":\"appstudio\"}" >/dev/null
emu POST /_emulator/faults "{\"path_prefix\":\"/api/v1\",\"status\":0,\"count\":-1,\"delay_ms\":$DELAY_MS}" >/dev/null

now() { printf '%s\n' "$EPOCHREALTIME"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
fmt_s() { awk -v s="$1" 'BEGIN { if (s == "nan") print "nan"; else printf "%.2f", s }'; }

# ready_count DB — components "ready" in the state index; failed ones make it print -1
ready_count() {
    redis-cli -u "$QS_REDIS_URL/$1" HVALS prov:index:components |
        awk '$1 == "failed" {f = 1} $1 == "ready" {n++} END {print f ? -1 : n + 0}'
}

# wait_all_ready DB SINCE — prints the seconds from SINCE until all are ready, or fails
wait_all_ready() {
    local db=$1 since=$2 n deadline=$((SECONDS + 120))
    while :; do
        n=$(ready_count "$db")
        if [ "$n" = "$TOTAL" ]; then
            sub "$(now)" "$since"
            return 0
        fi
        [ "$n" != -1 ] || { qs_info "a component failed"; return 1; }
        [ "$SECONDS" -lt "$deadline" ] || { qs_info "timeout with $n of $TOTAL ready"; return 1; }
        sleep 0.02
    done
}

# the PUTs of one round as a curl config (8 at a time, one process)
puts_config() { # ROUND FILE
    {
        printf 'request = "PUT"\nheader = "Authorization: Bearer %s"\n' "$PLATFORM"
        printf 'header = "Content-Type: application/json"\ndata = "{\\"visibility\\":\\"public\\"}"\n'
        printf 'write-out = "%%{http_code}\\n"\n'
        local w c
        for ((w = 0; w < NWS; w++)); do
            for ((c = 0; c < NCOMP; c++)); do
                printf 'url = "http://%s/api/v1/workspaces/r%s-ws%02d/components/component-%02d"\noutput = "/dev/null"\n' \
                    "$ADDR" "$1" "$w" "$c"
            done
        done
    } >"$2"
}
send_puts() { # FILE — all answered 202?
    local out
    out=$(curl -sS --no-progress-meter -Z --parallel-immediate --parallel-max 8 --max-time 60 -K "$1")
    [ "$(grep -c '^202$' <<<"$out")" = "$TOTAL" ] || {
        qs_info "not every PUT was accepted: $(sort <<<"$out" | uniq -c | tr '\n' ' ')"
        return 1
    }
}
calls_total() { emu GET /_emulator/calls | jq '[to_entries[] | select(.key | contains(" /api/v1/")) | .value] | add // 0'; }

FIRST='' REPEAT='' CALLS='' REPEAT_CALLS=''
for ((round = 1; round <= RUNS; round++)); do
    emu DELETE /_emulator/rest >/dev/null # forget organizations and repositories (tokens stay)
    emu DELETE /_emulator/calls >/dev/null
    port=$(qs_free_ports 1)
    ADDR=127.0.0.1:$port
    LOG=$WORK/provisioner-$round.log
    qs_spawn "provisioner-$round" "$LOG" env LISTEN_ADDR="$ADDR" REDIS_URL="$QS_REDIS_URL/$round" \
        QUAY_URL="$QS_QUAY_URL" QUAY_TOKEN_FILE="$WORK/quay-token" KUBE_API_URL="$QS_KUBE_URL" \
        KUBE_TOKEN_FILE="$WORK/kube-token" API_TOKEN_FILE="$WORK/api-token" \
        PROVISIONER_WORKERS="$WORKERS" LOG_LEVEL=warn "$BIN"
    pid=$QS_LAST_PID
    qs_wait_http "provisioner-$round" "http://$ADDR/healthz" "$pid" "$LOG" 200 20 ||
        qs_die "the provisioner did not start (see $LOG)"
    puts_config "$round" "$WORK/puts-$round.cfg"

    t0=$(now)
    if send_puts "$WORK/puts-$round.cfg" && secs=$(wait_all_ready "$round" "$t0"); then
        FIRST+="$secs "
        calls=$(calls_total)
        CALLS+="$(awk -v c="$calls" -v n="$TOTAL" 'BEGIN { printf "%.1f", c / n }') "
        qs_info "round $round: first provisioning of $TOTAL in $secs s ($calls Quay calls)"
    else
        broke "round $round: first provisioning did not finish (see $LOG)"
        kill -TERM "$pid" 2>/dev/null || true
        continue
    fi

    emu DELETE /_emulator/writes >/dev/null
    emu DELETE /_emulator/calls >/dev/null
    t0=$(now)
    if send_puts "$WORK/puts-$round.cfg" && sleep 0.05 && secs=$(wait_all_ready "$round" "$t0"); then
        REPEAT+="$secs "
        REPEAT_CALLS+="$(awk -v c="$(calls_total)" -v n="$TOTAL" 'BEGIN { printf "%.1f", c / n }') "
        w=$(emu GET /_emulator/writes | jq length)
        [ "$w" = 0 ] || broke "round $round: the repeat wrote $w times to Quay"
        qs_info "round $round: repeat in $secs s ($w Quay writes)"
    else
        broke "round $round: the repeat did not finish (see $LOG)"
    fi
    qs_pid_alive "$pid" || broke "round $round: the provisioner died (see $LOG)"
    kill -TERM "$pid" 2>/dev/null || true
done

MF=$(tr ' ' '\n' <<<"$FIRST" | grep . | median)
MR=$(tr ' ' '\n' <<<"$REPEAT" | grep . | median)
MC=$(tr ' ' '\n' <<<"$CALLS" | grep . | median)
MRC=$(tr ' ' '\n' <<<"$REPEAT_CALLS" | grep . | median)
FLOOR=$(awk -v c="$MC" -v n="$TOTAL" -v d="$DELAY_MS" -v w="$WORKERS" 'BEGIN { if (c == "nan") print "nan"; else printf "%.2f", c * n * d / 1000 / w }')
L="provisioner bench: $TOTAL components over $NWS workspaces all ready in $(fmt_s "$MF") s"
L+=" (goal <= $GOAL_S s: $(goal le "$MF" "$GOAL_S"))"
L+="  repeat (no-op) $(fmt_s "$MR") s"
L+="  [median of $RUNS; PROVISIONER_WORKERS=$WORKERS, Quay emulator $DELAY_MS ms per call;"
L+=" $MC Quay calls per component (floor $FLOOR s at $DELAY_MS ms over $WORKERS workers),"
L+=" repeat $MRC calls per component and no Quay write; runs: ${FIRST% }; repeats: ${REPEAT% }]"
printf '\n%s\n' "$L"
exit "$BROKE"
