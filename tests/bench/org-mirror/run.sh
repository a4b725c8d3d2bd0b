#!/usr/bin/env bash
# tests/bench/org-mirror/run.sh — org-mirror against the reference script's sequential pass,
# one organisation of 1000 repositories, every Quay call delayed 5 ms.
#
# usage: tests/bench/org-mirror/run.sh      (or: make bench / tests/bench/run.sh org-mirror)
#
# Starts its own Redis and two quay-emulator instances (source and destination, REST API v1,
# free loopback ports) and stops them on exit. The source holds org `bench` with 1000
# repositories (10 pages); the destination has the organisation and its robot. Both emulators
# get a delay-only fault: every /api/v1 call waits 5 ms (count -1). Then QS_BENCH_RUNS rounds
# (default 3), the two contenders' order swapped each round, each on a fresh destination
# (POST /_emulator/seed after DELETE /_emulator/rest) and a flushed Redis:
#   quayside    `org-mirror --once` (QUAY_CONCURRENCY=16, the service's default), then again: the no-op run
#   sequential  `org-mirror --sequential`, then again: the reference script's algorithm as a
#               C loop — list the source (all pages), then per repository GET the destination
#               repository, create it + POST its mirror + sync-now when missing, nothing when
#               it is in MIRROR state — one call at a time, same client and HTTP stack (so the
#               ratio measures the design, not curl's process start)
# Wall times of whole processes (/usr/bin/time). Checked every round: after a first run the
# destination has 1000 repositories in state MIRROR; a quayside no-op writes nothing (the
# emulator's write log). Prints one "org-mirror bench: ..." line per figure and whether each
# goal is met (first run <= 10 s, no-op <= 2 s, >= 8x faster than the sequential pass).
# Exit status 0 even when a goal is missed; 1 when something broke.
#
# Environment: QS_BENCH_RUNS (3), QS_BENCH_ORGM_REPOS (1000), QS_BENCH_ORGM_DELAY_MS (5),
# QS_BENCH_ORGM_CONCURRENCY (16, the service's default), QS_BENCH_KEEP=1 keeps the work directory.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"
QS_PROG=bench-org-mirror
unset QS_STACK_DIR
# shellcheck source=tests/stack/lib.sh
. tests/stack/lib.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

RUNS=${QS_BENCH_RUNS:-3}
NREPOS=${QS_BENCH_ORGM_REPOS:-1000}
DELAY=${QS_BENCH_ORGM_DELAY_MS:-5}
CONC=${QS_BENCH_ORGM_CONCURRENCY:-16}
BIN=$QS_BIN/org-mirror
EMU=$QS_BIN/quay-emulator
for v in RUNS NREPOS CONC; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || qs_die "$v must be a positive number (got '${!v}')"
done
[[ $DELAY =~ ^[0-9]+$ ]] || qs_die "QS_BENCH_ORGM_DELAY_MS must be a number"
[ -x "$BIN" ] || qs_die "org-mirror binary missing: $BIN (run make)"
[ -x "$EMU" ] || qs_die "quay emulator missing: $EMU (run make)"
[ -x /usr/bin/time ] || qs_die "/usr/bin/time not found (apt-get install time)"
for t in curl jq redis-server redis-cli timeout awk; do
    command -v "$t" >/dev/null 2>&1 || qs_die "$t not found (run scripts/deps.sh)"
done

bench_workdir orgm
export QS_STACK_DIR=$WORK # qs_spawn records what it starts in $WORK/pids

med() { tr ' ' '\n' <<<"$1" | { grep . || true; } | median; }
fmt_s() { awk -v s="$1" 'BEGIN { printf (s < 10 ? "%.2f" : "%.1f"), s }'; }

# timed LOG CMD... — sets T_SECS; returns CMD's status
timed() {
    local log=$1 rc=0
    shift
    printf '\n$ %s\n' "$*" >>"$log"
    /usr/bin/time -f '%e' -o "$WORK/time.out" timeout -k 5 300 "$@" >>"$log" 2>&1 || rc=$?
    T_SECS=$(tail -n 1 "$WORK/time.out")
    return "$rc"
}

# ---------------------------------------------------------------------------- set up

REDIS_PORT=$(qs_free_ports 1)
qs_spawn redis "$LOGS/redis.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$WORK"
qs_wait_redis redis "$REDIS_PORT" "$QS_LAST_PID" "$LOGS/redis.log" || qs_die "redis did not start"
REDIS=redis://127.0.0.1:$REDIS_PORT

start_emu() { # start_emu NAME — sets EMU_HOST
    local pf=$WORK/$1.port i
    qs_spawn "quay-$1" "$LOGS/emu-$1.log" env QUAY_EMU_LISTEN=127.0.0.1:0 EMU_PORT_FILE="$pf" "$EMU"
    for ((i = 0; i < 100; i++)); do
        [ -s "$pf" ] && break
        sleep 0.1
    done
    [ -s "$pf" ] || qs_die "quay emulator $1 did not start"
    EMU_HOST=127.0.0.1:$(cat "$pf")
}
emu() { curl -sf --max-time 60 -X "$2" -H 'Content-Type: application/json' ${4:+--data "$4"} "http://$1$3"; }
start_emu source
SRC=$EMU_HOST
start_emu destination
DST=$EMU_HOST

SEC=$WORK/secrets
mkdir -p "$SEC/src" "$SEC/dst" "$SEC/robots"
SRC_TOKEN=$(qs_rand 24) DST_TOKEN=$(qs_rand 24)
printf '%s\n' "$SRC_TOKEN" >"$SEC/src/bench"
printf '%s\n' "$DST_TOKEN" >"$SEC/dst/bench"
printf 'mirror\n' >"$SEC/robots/bench"
printf 'svc\n' >"$SEC/username"
printf 'pw\n' >"$SEC/password"
emu "$SRC" POST /_emulator/api_tokens "{\"token\":\"$SRC_TOKEN\",\"user\":\"reader\",\"scopes\":[\"repo:read\"]}" >/dev/null
emu "$DST" POST /_emulator/api_tokens "{\"token\":\"$DST_TOKEN\",\"user\":\"admin\"}" >/dev/null
jq -n --argjson n "$NREPOS" '{organizations: ["bench"],
    repositories: [range(0; $n) | {namespace: "bench", name: ("repo" + (. | tostring))}]}' >"$WORK/seed.json"
curl -sf --max-time 60 -X POST --data-binary "@$WORK/seed.json" "http://$SRC/_emulator/seed" >/dev/null ||
    qs_die "seeding the source failed"
for h in "$SRC" "$DST"; do
    [ "$DELAY" -eq 0 ] || emu "$h" POST /_emulator/faults \
        "{\"path_prefix\":\"/api/v1\",\"status\":0,\"delay_ms\":$DELAY,\"count\":-1}" >/dev/null
done

fresh_destination() {
    emu "$DST" DELETE /_emulator/rest >/dev/null
    emu "$DST" POST /_emulator/seed '{"organizations":["bench"],"robots":[{"org":"bench","short":"mirror"}]}' >/dev/null
    redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
}
mirrored() { # how many bench/* repositories the destination has in state MIRROR
    emu "$DST" GET /_emulator/state |
        jq '[.repositories | to_entries[] | select(.key | startswith("bench/")) | select(.value.state == "MIRROR")] | length'
}
writes() { emu "$DST" GET /_emulator/writes | jq length; }
orgm() { # orgm LOG ARGS... — org-mirror from a clean environment
    local log=$1
    shift
    timed "$log" env -i PATH="$PATH" REDIS_URL="$REDIS" SOURCE_REGISTRY="http://$SRC" \
        DESTINATION_REGISTRY="http://$DST" ORGANIZATIONS=bench SOURCE_TOKENS_DIR="$SEC/src" \
        DESTINATION_TOKENS_DIR="$SEC/dst" ROBOT_NAMES_DIR="$SEC/robots" \
        QUAY_USERNAME_FILE="$SEC/username" QUAY_PASSWORD_FILE="$SEC/password" \
        QUAY_CONCURRENCY="$CONC" LISTEN_ADDR="127.0.0.1:$(qs_free_ports 1)" "$BIN" "$@"
}

# ---------------------------------------------------------------------------- rounds

QF='' QN='' SF='' SN=''
qs_info "$RUNS rounds: $NREPOS repositories, ${DELAY} ms per Quay call, QUAY_CONCURRENCY=$CONC"
for ((round = 0; round < RUNS; round++)); do
    if ((round % 2)); then order=(sequential quayside); else order=(quayside sequential); fi
    for c in "${order[@]}"; do
        fresh_destination
        case $c in
        quayside)
            if orgm "$LOGS/quayside-first-$round.log" --once; then QF+="$T_SECS "; else broke "quayside first run failed (round $round)"; fi
            t1=$T_SECS
            [ "$(mirrored)" = "$NREPOS" ] || broke "quayside: the destination does not have $NREPOS mirrors"
            emu "$DST" DELETE /_emulator/writes >/dev/null
            if orgm "$LOGS/quayside-noop-$round.log" --once; then QN+="$T_SECS "; else broke "quayside no-op run failed (round $round)"; fi
            [ "$(writes)" = 0 ] || broke "the quayside no-op run wrote something"
            qs_info "  round $((round + 1)) quayside: first $t1 s, no-op $T_SECS s"
            ;;
        sequential)
            if orgm "$LOGS/sequential-first-$round.log" --sequential; then SF+="$T_SECS "; else broke "sequential first pass failed (round $round)"; fi
            t1=$T_SECS
            [ "$(mirrored)" = "$NREPOS" ] || broke "sequential: the destination does not have $NREPOS mirrors"
            if orgm "$LOGS/sequential-noop-$round.log" --sequential; then SN+="$T_SECS "; else broke "sequential no-op pass failed (round $round)"; fi
            qs_info "  round $((round + 1)) sequential: first $t1 s, no-op $T_SECS s"
            ;;
        esac
    done
done

MQF=$(med "$QF") MQN=$(med "$QN") MSF=$(med "$SF") MSN=$(med "$SN")
RF=$(ratio "$MSF" "$MQF") RN=$(ratio "$MSN" "$MQN")
printf '\n'
printf 'org-mirror bench: first run %s repos  quayside %s s  sequential %s s (%sx faster)  [median of %s; goals <= 10 s: %s, >= 8x: %s; %s ms per call, QUAY_CONCURRENCY=%s; sequential = org-mirror --sequential, the reference script'"'"'s loop in C]\n' \
    "$NREPOS" "$(fmt_s "$MQF")" "$(fmt_s "$MSF")" "$RF" "$RUNS" "$(goal le "$MQF" 10)" "$(goal ge "$RF" 8)" "$DELAY" "$CONC"
printf 'org-mirror bench: no-op run %s repos  quayside %s s  sequential %s s (%sx faster)  [median of %s; goals <= 2 s: %s, >= 8x: %s; quayside compares every mirror config (1 GET each), the sequential pass only GETs each repository]\n' \
    "$NREPOS" "$(fmt_s "$MQN")" "$(fmt_s "$MSN")" "$RN" "$RUNS" "$(goal le "$MQN" 2)" "$(goal ge "$RN" 8)"
exit "$BROKE"
