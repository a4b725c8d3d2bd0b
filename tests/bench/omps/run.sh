#!/usr/bin/env bash
# tests/bench/omps/run.sh — omps under load: pushes of valid 1 MiB zips from 8 concurrent
# clients, and zip bombs refused quickly with bounded memory.
#
# usage: tests/bench/omps/run.sh       (or: make bench / tests/bench/run.sh omps)
#
# Starts its own Redis, Quay emulator (App Registry) and omps (WORKERS_NUM=8) on free loopback
# ports and stops them on exit. Two parts:
#   1. pushes: 8 clients (curl -F file=@..., one after the other per client) push a valid flat
#      zip of 1 MiB (the manifests + 1 MiB of stored random padding) without a version:
#        distinct    each client its own package (bench0..bench7): pushes run in parallel
#        same-repo   every client the same package: the Redis lock serialises them, each gets
#                    its own version
#      QS_BENCH_OMPS_PUSHES per client (default 25), QS_BENCH_RUNS rounds (default 3);
#      requests/s (pushes / wall time), p50 and p99 of the request time, medians over rounds.
#      Every push must answer 200 and Quay must hold every release (else BROKEN).
#   2. zip bombs, against a freshly started omps (after one valid push as warm-up), each sent
#      QS_BENCH_OMPS_BOMBS times (default 20) one after the other:
#        declared     1 GiB of zeros (about 1 MiB compressed), declared honestly
#        lying        100 MiB of zeros declaring 1 KiB (caught while inflating)
#        entries      10 000 empty entries
#        nested       a zip holding a zip of 1 GiB of zeros (inner archives are plain files:
#                     extracted as 1 MiB, then refused for lack of a packageName)
#      the largest request time (goal ≤ 50 ms) and omps's peak RSS growth over the warm-up's
#      (VmHWM; goal ≤ 25 MiB). Every bomb must be answered 400.
# Prints one "omps bench: ..." line per figure and whether each goal is met; exit status 0 even
# when a goal is missed, 1 when something broke.
#
# Environment: QS_BENCH_RUNS (3), QS_BENCH_OMPS_PUSHES (25), QS_BENCH_OMPS_BOMBS (20),
# QS_BENCH_LOG_LEVEL (warn; omps's LOG_LEVEL), QS_BENCH_KEEP=1 keeps the work directory.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"
QS_PROG=bench-omps
unset QS_STACK_DIR
# shellcheck source=tests/stack/lib.sh
. tests/stack/lib.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

RUNS=${QS_BENCH_RUNS:-3}
PUSHES=${QS_BENCH_OMPS_PUSHES:-25}
BOMBS=${QS_BENCH_OMPS_BOMBS:-20}
LOG_LEVEL=${QS_BENCH_LOG_LEVEL:-warn}
CLIENTS=8
BIN=$QS_BIN/omps
MKZIP=$QS_BIN/mkzip
EMU=$QS_BIN/quay-emulator
for v in RUNS PUSHES BOMBS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || qs_die "$v must be a positive number (got '${!v}')"
done
for b in "$BIN" "$MKZIP" "$EMU"; do [ -x "$b" ] || qs_die "$b missing (run make)"; done
for t in curl jq redis-server redis-cli openssl awk; do
    command -v "$t" >/dev/null 2>&1 || qs_die "$t not found (run scripts/deps.sh)"
done

bench_workdir omps
export QS_STACK_DIR=$WORK # qs_spawn records what it starts in $WORK/pids

pct() { # pct P — the P-th percentile (nearest rank) of the numbers on stdin
    sort -g | awk -v p="$1" '{a[NR] = $1} END {
        if (NR == 0) { print "nan"; exit }
        r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR; print a[r] }'
}
ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
report() {
    printf 'omps bench: %s\n' "$*"
    printf 'omps bench: %s\n' "$*" >>"$WORK/figures"
}

# ---------------------------------------------------------------------------- the parts

mapfile -t ports < <(qs_free_ports 2)
REDIS_PORT=${ports[0]}
QUAY_PORT=${ports[1]}
qs_spawn redis "$LOGS/redis.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
    --appendonly no
qs_wait_redis redis "$REDIS_PORT" "$QS_LAST_PID" "$LOGS/redis.log" || qs_die "redis did not start"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -keyout "$WORK/token.key" -out "$WORK/token.crt" -subj /CN=bench >/dev/null 2>&1 ||
    qs_die "openssl failed"
TOKEN=bench-$(qs_rand 16)
printf '{"appr_tokens":[{"token":"%s","orgs":["bench"]}]}\n' "$TOKEN" >"$WORK/quay.json"
qs_spawn quay "$LOGS/quay.log" env QUAY_EMU_LISTEN="127.0.0.1:$QUAY_PORT" \
    QUAY_EMU_TOKEN_KEY="$WORK/token.key" QUAY_EMU_FIXTURE="$WORK/quay.json" QUAY_EMU_LOG_LEVEL=warn \
    "$EMU"
QUAY=http://127.0.0.1:$QUAY_PORT
qs_wait_http quay "$QUAY/_emulator/health" "$QS_LAST_PID" "$LOGS/quay.log" 200 20 ||
    qs_die "the quay emulator did not start"

OMPS_PID='' OMPS=''
omps_start() { # omps_start NAME
    [ -z "$OMPS_PID" ] || { kill -TERM "$OMPS_PID" 2>/dev/null || true; sleep 0.3; }
    local port
    port=$(qs_free_ports 1)
    OMPS=http://127.0.0.1:$port
    qs_spawn "omps-$1" "$LOGS/omps-$1.log" env LISTEN_ADDR="127.0.0.1:$port" QUAY_URL="$QUAY" \
        KOJIHUB_URL=http://127.0.0.1:9/kojihub KOJIROOT_URL=http://127.0.0.1:9/ \
        REDIS_URL="redis://127.0.0.1:$REDIS_PORT" WORKERS_NUM=8 LOG_LEVEL="$LOG_LEVEL" "$BIN"
    OMPS_PID=$QS_LAST_PID
    qs_wait_http "omps-$1" "$OMPS/healthz" "$OMPS_PID" "$LOGS/omps-$1.log" 200 20 ||
        qs_die "omps did not start"
}

# one 1 MiB zip per package
mkzip_1mib() { # mkzip_1mib PACKAGE OUT
    local d=$WORK/m-$1
    tests/tools/omps-manifests.sh flat "$d" "$1"
    "$MKZIP" "$2.tmp" "$d"
    local pad=$((1048576 - $(stat -c %s "$2.tmp") - 200))
    "$MKZIP" "$2" "$d" --random padding.bin="$pad"
    rm -f "$2.tmp"
}
for c in $(seq 0 $((CLIENTS - 1))); do mkzip_1mib "bench$c" "$WORK/bench$c.zip"; done
mkzip_1mib benchsame "$WORK/benchsame.zip"
qs_info "zip size: $(stat -c %s "$WORK/bench0.zip") bytes"

client() { # client ZIP OUT — PUSHES pushes, one "code seconds" line each
    local i
    for ((i = 0; i < PUSHES; i++)); do
        curl -s -o /dev/null --max-time 120 -w '%{http_code} %{time_total}\n' -X POST \
            -H "Authorization: $TOKEN" -F "file=@$1" "$OMPS/v2/bench/zipfile" >>"$2" || echo "000 0" >>"$2"
    done
}

push_round() { # push_round MODE ROUND — sets RPS, P50, P99
    local mode=$1 r=$2 c pids=() t0 t1 zip
    rm -f "$WORK"/lat.*
    t0=$(date +%s%N)
    for c in $(seq 0 $((CLIENTS - 1))); do
        zip=$WORK/bench$c.zip
        [ "$mode" = same-repo ] && zip=$WORK/benchsame.zip
        client "$zip" "$WORK/lat.$c" &
        pids+=($!)
    done
    wait "${pids[@]}"
    t1=$(date +%s%N)
    local total ok
    total=$(cat "$WORK"/lat.* | wc -l)
    ok=$(awk '$1 == 200' "$WORK"/lat.* | wc -l)
    [ "$ok" = "$total" ] || broke "$mode round $r: $((total - ok)) of $total pushes failed (see $LOGS)"
    RPS=$(awk -v n="$total" -v ns="$((t1 - t0))" 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
    P50=$(awk '{print $2}' "$WORK"/lat.* | pct 50)
    P99=$(awk '{print $2}' "$WORK"/lat.* | pct 99)
}

part_pushes() {
    omps_start pushes
    local mode r rps p50 p99
    for mode in distinct same-repo; do
        rps='' p50='' p99=''
        for ((r = 1; r <= RUNS; r++)); do
            curl -s -X DELETE "$QUAY/_emulator/appr" >/dev/null
            push_round "$mode" "$r"
            rps+="$RPS " p50+="$P50 " p99+="$P99 "
            qs_info "$mode round $r: $RPS req/s, p50 $(ms "$P50") ms, p99 $(ms "$P99") ms"
        done
        local want=$((CLIENTS * PUSHES)) have
        if [ "$mode" = distinct ]; then
            have=$(curl -s "$QUAY/_emulator/appr/repos" | jq '[.[].releases | length] | add')
        else
            have=$(curl -s "$QUAY/_emulator/appr/repos" | jq '.["bench/benchsame"].releases | length')
        fi
        [ "$have" = "$want" ] || broke "$mode: Quay holds $have releases, expected $want"
        report "pushes ($mode, $CLIENTS clients x $PUSHES, 1 MiB zip): $(tr ' ' '\n' <<<"$rps" | grep . | median) req/s," \
            "p50 $(ms "$(tr ' ' '\n' <<<"$p50" | grep . | median)") ms," \
            "p99 $(ms "$(tr ' ' '\n' <<<"$p99" | grep . | median)") ms (median of $RUNS rounds)"
    done
    report "omps peak RSS during the pushes: $((($(hwm_kib "$OMPS_PID") + 512) / 1024)) MiB"
}

part_bombs() {
    local b=$WORK/bombs
    mkdir -p "$b/many"
    for i in $(seq 10000); do : >"$b/many/f$i"; done
    "$MKZIP" "$b/declared.zip" --zeros bomb.bin=1073741824
    "$MKZIP" "$b/lying.zip" --zeros bomb.yaml=104857600 --declare bomb.yaml=1024
    "$MKZIP" "$b/entries.zip" "$b/many"
    "$MKZIP" "$b/nested.zip" --entry inner.zip="$b/declared.zip"
    omps_start bombs
    curl -s -o /dev/null -X POST -H "Authorization: $TOKEN" -F "file=@$WORK/bench0.zip" \
        "$OMPS/v2/bench/zipfile/99.0.0" # warm-up: one valid push
    local base case i worst code
    base=$(hwm_kib "$OMPS_PID")
    for case in declared lying entries nested; do
        : >"$b/$case.lat"
        for ((i = 0; i < BOMBS; i++)); do
            curl -s -o "$b/$case.out" --max-time 60 -w '%{http_code} %{time_total}\n' -X POST \
                -H "Authorization: $TOKEN" -F "file=@$b/$case.zip" "$OMPS/v2/bench/zipfile" >>"$b/$case.lat"
        done
        code=$(awk '{print $1}' "$b/$case.lat" | sort -u | tr '\n' ' ')
        [ "$code" = "400 " ] || broke "bomb $case: answered $code(expected 400; $(cat "$b/$case.out"))"
        worst=$(awk '{print $2}' "$b/$case.lat" | pct 100)
        report "zip bomb $case ($(stat -c %s "$b/$case.zip") bytes): p50 $(ms "$(awk '{print $2}' "$b/$case.lat" | pct 50)") ms," \
            "max $(ms "$worst") ms over $BOMBS — goal ≤ 50 ms: $(goal le "$(ms "$worst")" 50)" \
            "($(jq -r .message "$b/$case.out" | cut -c1-80))"
    done
    local growth
    growth=$(awk -v a="$(hwm_kib "$OMPS_PID")" -v b="$base" 'BEGIN { printf "%.1f", (a - b) / 1024 }')
    report "zip bombs: peak RSS growth $growth MiB over the warm-up's $((base / 1024)) MiB — goal ≤ 25 MiB: $(goal le "$growth" 25)"
}

part_pushes
part_bombs
qs_info "done"
if [ "$BROKE" -ne 0 ]; then exit 1; fi
