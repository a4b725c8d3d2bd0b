#!/usr/bin/env bash
# tests/bench/proxy/run.sh — the proxy against a direct pull and against nginx, in one run.
#
# usage: tests/bench/proxy/run.sh        (or: make bench / tests/bench/run.sh proxy)
#
# Starts its own stack (reg-token: docker-registry with Bearer auth, the quay emulator as its
# token server, the kube emulator), the proxy, and nginx (two servers: the registry recipe with
# proxy_buffering off, and proxy_buffering on with 16 x 64 KiB buffers), all on free loopback
# ports; stops everything on exit. Measures, each path with the same upstream and auth:
#   1. GET of a 256 MiB blob: direct (robot's token from the quay emulator), proxy (proxy token),
#      nginx unbuffered, nginx buffered; QS_BENCH_RUNS rounds (default 5) after one discarded
#      warm-up round, paths interleaved within a round; median MB/s (10^6 bytes/s)
#   2. peak RSS (VmHWM) of a fresh proxy after a 1 GiB blob streamed through it twice: once to
#      /dev/null, once through sha256sum (a slower reader; the digest is checked)
#   3. manifest GET rate, 16 connections (wrk -t2 -c16 -d5s), QS_BENCH_WRK_RUNS rounds
#      (default 5), median requests/s. GET, not HEAD: wrk waits for a body after a HEAD answer
#      that carries Content-Length.
# Beside 1 and 3, the CPU time of the process(es) between client and registry (the proxy;
# nginx's master and workers) per GB carried and per request: less noisy than rates on a
# shared machine.
# Prints one "proxy bench: ..." line per figure and whether each goal is met. Exit status 0
# even when a goal is missed; 1 when something broke (a service died, a request failed, a
# transfer came back short or with the wrong digest, wrk saw errors).
#
# Environment: QS_BENCH_CACHE (default /tmp/qs-bench-cache) keeps the generated 256 MiB and
# 1 GiB images between runs; QS_BENCH_RUNS, QS_BENCH_WRK_RUNS, QS_BENCH_WRK_SECONDS (5);
# QS_BENCH_KEEP=1 keeps the work directory (logs) even on success.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"
QS_PROG=bench-proxy
unset QS_STACK_DIR
# shellcheck source=tests/stack/lib.sh
. tests/stack/lib.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

REPO=openshift/ci
ACCEPT='application/vnd.oci.image.manifest.v1+json'
CACHE=${QS_BENCH_CACHE:-/tmp/qs-bench-cache}
RUNS=${QS_BENCH_RUNS:-5}
WRK_RUNS=${QS_BENCH_WRK_RUNS:-5}
WRK_SECONDS=${QS_BENCH_WRK_SECONDS:-5}
BIN=$QS_BIN/proxy

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || qs_die "QS_BENCH_RUNS must be a positive number"
[[ $WRK_RUNS =~ ^[1-9][0-9]*$ ]] || qs_die "QS_BENCH_WRK_RUNS must be a positive number"
[[ $WRK_SECONDS =~ ^[1-9][0-9]*$ ]] || qs_die "QS_BENCH_WRK_SECONDS must be a positive number"
[ -x "$BIN" ] || qs_die "proxy binary missing: $BIN (run make)"
for t in curl jq wrk nginx skopeo sha256sum timeout flock awk; do
    command -v "$t" >/dev/null 2>&1 || qs_die "$t not found (run scripts/deps.sh)"
done

# shellcheck disable=SC2317 # called by bench__cleanup (tests/bench/lib.sh) at exit
bench_cleanup_extra() { rm -rf -- "$STACK/reg-token/data"; } # the pushed blobs: 1.3 GiB
bench_workdir proxy stack # BROKE: something broke but we could carry on: exit 1 at the end
STACK=$WORK/stack



vm_kib() { # PID FIELD -> KiB
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}
# cpu_ticks PID... -> utime+stime of the processes, in clock ticks (summed)
cpu_ticks() {
    local p t=0 v
    for p in "$@"; do
        v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) || v=0
        t=$((t + ${v:-0}))
    done
    printf '%s\n' "$t"
}
HZ=$(getconf CLK_TCK)
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ---------------------------------------------------------------------------- stack

t_start=$SECONDS
qs_info "starting the stack (reg-token, quay, kube) in $STACK"
QS_STACK_DIR=$STACK tests/stack/stack.sh start reg-token quay kube >/dev/null
# shellcheck source=/dev/null
. "$STACK/env"
export QS_STACK_DIR=$STACK
LOGS=$QS_LOG_DIR

# ---------------------------------------------------------------------------- images

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 900 9 || qs_die "could not lock $CACHE/.lock"
qs_info "generating (or reusing) the 256 MiB and 1 GiB images in $CACHE"
tests/tools/mkimage.sh "$CACHE/blob-256m" --layers 1 --size 256M --seed qs-bench-256m >/dev/null
tests/tools/mkimage.sh "$CACHE/blob-1g" --layers 1 --size 1G --seed qs-bench-1g >/dev/null
read -r L256 L256_SIZE _ <"$CACHE/blob-256m/layers.txt"
read -r L1G L1G_SIZE _ <"$CACHE/blob-1g/layers.txt"

qs_info "pushing both to reg-token as $REPO:bench and $REPO:bench-1g"
t0=$SECONDS
tests/tools/push-image.sh "$CACHE/blob-256m" "docker://$QS_REG_TOKEN/$REPO:bench" \
    --dest-creds "$QS_PUSHER_USER:$QS_PUSHER_PASS"
tests/tools/push-image.sh "$CACHE/blob-1g" "docker://$QS_REG_TOKEN/$REPO:bench-1g" \
    --dest-creds "$QS_PUSHER_USER:$QS_PUSHER_PASS"
flock -u 9
qs_info "pushed in $((SECONDS - t0)) s"

# ---------------------------------------------------------------------------- services

# start_proxy NAME: a proxy in front of reg-token; sets P_URL, P_PID, P_LOG
start_proxy() {
    local name=$1 port dir
    port=$(qs_free_ports 1)
    dir=$WORK/proxy-$name
    mkdir -p "$dir"
    printf '%s\n' "$QS_ROBOT_USER" >"$dir/robot-user"
    printf '%s\n' "$QS_ROBOT_PASS" >"$dir/robot-pass"
    qs_rand 32 >"$dir/token-secret"
    printf '%s' "$QS_KUBE_SA_TOKEN" >"$dir/kube-token"
    P_URL=http://127.0.0.1:$port
    P_LOG=$LOGS/proxy-$name.log
    qs_spawn "proxy-$name" "$P_LOG" env \
        LISTEN_ADDR="127.0.0.1:$port" EXPOSED_HOST="127.0.0.1:$port" \
        UPSTREAM_URL="http://$QS_REG_TOKEN" UPSTREAM_REPOSITORY="$REPO" \
        ROBOT_USERNAME_FILE="$dir/robot-user" ROBOT_PASSWORD_FILE="$dir/robot-pass" \
        TOKEN_SECRET_FILE="$dir/token-secret" KUBE_API_URL="$QS_KUBE_URL" \
        KUBE_TOKEN_FILE="$dir/kube-token" TOKEN_VALIDITY=1800s LOG_LEVEL=info \
        "$BIN"
    P_PID=$QS_LAST_PID
    qs_wait_http "proxy-$name" "$P_URL/readyz" "$P_PID" "$P_LOG" 200 30 ||
        qs_die "proxy-$name did not become ready"
}

proxy_token() { # URL -> a proxy token for the robot
    local tok
    tok=$(curl -s --max-time 10 -u "$QS_ROBOT_USER:$QS_ROBOT_PASS" \
        "$1/v2/auth?service=proxy&scope=repository:$REPO:pull" | jq -r '.token // empty')
    [ -n "$tok" ] || qs_die "could not log in at the proxy $1"
    printf '%s\n' "$tok"
}

start_proxy main
PROXY=$P_URL PROXY_PID=$P_PID PROXY_LOG=$P_LOG
PTOK=$(proxy_token "$PROXY")

DTOK=$(curl -s --max-time 10 -u "$QS_ROBOT_USER:$QS_ROBOT_PASS" \
    "$QS_QUAY_URL/v2/auth?service=$QS_QUAY_TOKEN_SERVICE&scope=repository:$REPO:pull" |
    jq -r '.token // .access_token // empty')
[ -n "$DTOK" ] || qs_die "could not get a registry token from the quay emulator"
DIRECT=http://$QS_REG_TOKEN

NGX_DIR=$WORK/nginx
mkdir -p "$NGX_DIR/tmp"
mapfile -t ports < <(qs_free_ports 2)
NGX_PU=${ports[0]} NGX_PB=${ports[1]}
sed -e "s|@DIR@|$NGX_DIR|g" -e "s|@UPSTREAM@|$QS_REG_TOKEN|g" \
    -e "s|@PORT_UNBUF@|$NGX_PU|g" -e "s|@PORT_BUF@|$NGX_PB|g" \
    "$HERE/nginx.conf.in" >"$NGX_DIR/nginx.conf"
if grep -v '^[[:space:]]*#' "$NGX_DIR/nginx.conf" | grep -q '@[A-Z_]*@'; then qs_die "nginx.conf: unfilled placeholder"; fi
# As root, nginx's workers would run as nobody, who cannot enter the private work directory
# (the buffered server spills to proxy_temp_path there): keep them root.
NGX_ARGS=(-p "$NGX_DIR" -e "$NGX_DIR/error.log" -c "$NGX_DIR/nginx.conf")
if [ "$(id -u)" = 0 ]; then NGX_ARGS+=(-g 'user root root;'); fi
nginx -t -q "${NGX_ARGS[@]}" >"$LOGS/nginx-t.log" 2>&1 || {
    qs_log_tail "$LOGS/nginx-t.log"
    qs_die "nginx rejects the generated config"
}
qs_spawn nginx "$LOGS/nginx.log" nginx "${NGX_ARGS[@]}"
NGX_PID=$QS_LAST_PID
NGX_U=http://127.0.0.1:$NGX_PU
NGX_B=http://127.0.0.1:$NGX_PB
qs_wait_http nginx "$NGX_U/v2/" "$NGX_PID" "$NGX_DIR/error.log" 401 20 || qs_die "nginx did not start"
qs_wait_http nginx "$NGX_B/v2/" "$NGX_PID" "$NGX_DIR/error.log" 401 20 || qs_die "nginx did not start"

NGX_PIDS="$NGX_PID $(ps -o pid= --ppid "$NGX_PID" | tr '\n' ' ')" # master + workers

# The paths: name, base URL, token; MID: the processes between client and registry

PATHS=(direct proxy nginx-unbuf nginx-buf)
declare -A URL=([direct]=$DIRECT [proxy]=$PROXY [nginx-unbuf]=$NGX_U [nginx-buf]=$NGX_B)
declare -A TOK=([direct]=$DTOK [proxy]=$PTOK [nginx-unbuf]=$DTOK [nginx-buf]=$DTOK)
declare -A MID=([direct]='' [proxy]=$PROXY_PID [nginx-unbuf]=$NGX_PIDS [nginx-buf]=$NGX_PIDS)
declare -A CPU=() # ticks the middle processes spent during a path's measured runs

# Every path answers the manifest and the same digest before anything is measured.
for p in "${PATHS[@]}"; do
    out=$(curl -s -o /dev/null -D - --max-time 10 -H "Authorization: Bearer ${TOK[$p]}" \
        -H "Accept: $ACCEPT" "${URL[$p]}/v2/$REPO/manifests/bench" | tr -d '\r')
    code=$(awk 'NR == 1 {print $2}' <<<"$out")
    [ "$code" = 200 ] || qs_die "$p: GET manifest answered ${code:-nothing}, not 200"
    dg=$(awk 'tolower($1) == "docker-content-digest:" {print $2}' <<<"$out")
    [ -z "${MDIGEST:-}" ] || [ "$dg" = "$MDIGEST" ] || qs_die "$p: manifest digest $dg != $MDIGEST"
    MDIGEST=$dg
done

# ---------------------------------------------------------------------------- 1. blob throughput

# blob_get NAME DIGEST SIZE -> "bytes_per_s seconds"; fails if the answer is not a full 200
blob_get() {
    local p=$1 out code size speed t
    out=$(curl -s -o /dev/null --max-time 120 -H "Authorization: Bearer ${TOK[$p]}" \
        -w '%{http_code} %{size_download} %{speed_download} %{time_total}' \
        "${URL[$p]}/v2/$REPO/blobs/$2") || true
    read -r code size speed t <<<"$out"
    if [ "${code:-}" != 200 ] || [ "${size:-}" != "$3" ]; then
        qs_info "$p: blob GET answered ${code:-nothing} with ${size:-0} of $3 bytes"
        return 1
    fi
    printf '%s %s\n' "$speed" "$t"
}

qs_info "blob throughput: 256 MiB, 1 warm-up + $RUNS rounds over ${PATHS[*]}"
declare -A SPEEDS=()
for ((round = 0; round <= RUNS; round++)); do
    for p in "${PATHS[@]}"; do
        # shellcheck disable=SC2086 # a list of pids
        c0=$(cpu_ticks ${MID[$p]})
        r=$(blob_get "$p" "$L256" "$L256_SIZE") || qs_die "$p: blob GET failed"
        [ "$round" -eq 0 ] && continue
        # shellcheck disable=SC2086
        CPU[$p]=$((${CPU[$p]:-0} + $(cpu_ticks ${MID[$p]}) - c0))
        SPEEDS[$p]+="${r%% *} "
    done
done
declare -A MBS=()
for p in "${PATHS[@]}"; do
    MBS[$p]=$(tr ' ' '\n' <<<"${SPEEDS[$p]}" | grep . | median | awk '{ printf "%.0f", $1 / 1e6 }')
    qs_info "  $p: $(tr ' ' '\n' <<<"${SPEEDS[$p]}" | grep . | awk '{printf "%.0f ", $1 / 1e6}')MB/s"
done
# CPU seconds the middle process(es) spent per GB (10^9 bytes) carried
cpu_per_gb() { awk -v t="${CPU[$1]:-0}" -v hz="$HZ" -v b="$L256_SIZE" -v n="$RUNS" \
    'BEGIN { printf "%.2f", t / hz / (b * n / 1e9) }'; }
R_DIRECT=$(ratio "${MBS[proxy]}" "${MBS[direct]}")
R_NGXU=$(ratio "${MBS[proxy]}" "${MBS[nginx-unbuf]}")
R_NGXB=$(ratio "${MBS[proxy]}" "${MBS[nginx-buf]}")
LINE_BLOB="proxy bench: blob 256MiB  direct ${MBS[direct]} MB/s  proxy ${MBS[proxy]} MB/s (${R_DIRECT}x direct)"
LINE_BLOB+="  nginx-unbuffered ${MBS[nginx-unbuf]} MB/s (proxy ${R_NGXU}x)"
LINE_BLOB+="  nginx-buffered ${MBS[nginx-buf]} MB/s (proxy ${R_NGXB}x)"
LINE_BLOB+="  [median of $RUNS; goal >= 0.9x direct: $(goal ge "$R_DIRECT" 0.9);"
LINE_BLOB+=" CPU s/GB: proxy $(cpu_per_gb proxy), nginx-unbuffered $(cpu_per_gb nginx-unbuf),"
LINE_BLOB+=" nginx-buffered $(cpu_per_gb nginx-buf)]"

# ---------------------------------------------------------------------------- 2. peak RSS

qs_info "peak RSS: a fresh proxy streams 1 GiB to /dev/null, then through sha256sum"
start_proxy rss
RSS_URL=$P_URL RSS_PID=$P_PID
RSS_TOK=$(proxy_token "$RSS_URL")
HWM_BASE=$(vm_kib "$RSS_PID" VmHWM)
r=$(curl -s -o /dev/null --max-time 180 -H "Authorization: Bearer $RSS_TOK" \
    -w '%{http_code} %{size_download} %{speed_download}' "$RSS_URL/v2/$REPO/blobs/$L1G") || true
read -r code size speed <<<"$r"
if [ "${code:-}" != 200 ] || [ "${size:-}" != "$L1G_SIZE" ]; then
    broke "1 GiB through the proxy: ${code:-nothing}, ${size:-0} of $L1G_SIZE bytes"
fi
HWM_NULL=$(vm_kib "$RSS_PID" VmHWM)
SPEED_NULL=$(awk -v s="${speed:-0}" 'BEGIN { printf "%.0f", s / 1e6 }')
set +o pipefail
sum=$(curl -s --max-time 180 -H "Authorization: Bearer $RSS_TOK" "$RSS_URL/v2/$REPO/blobs/$L1G" |
    sha256sum | cut -d' ' -f1)
curl_rc=${PIPESTATUS[0]}
set -o pipefail
if [ "$curl_rc" -ne 0 ]; then broke "1 GiB through sha256sum: curl exit $curl_rc"; fi
if [ "sha256:$sum" = "$L1G" ]; then DIGEST_OK="digest verified"; else
    DIGEST_OK="DIGEST MISMATCH"
    broke "1 GiB through the proxy: sha256 $sum != $L1G"
fi
qs_pid_alive "$RSS_PID" || qs_die "the proxy died while streaming 1 GiB"
HWM=$(vm_kib "$RSS_PID" VmHWM)
RSS_END=$(vm_kib "$RSS_PID" VmRSS)
HWM_MIB=$(kib_to_mib "$HWM")
LINE_RSS="proxy bench: 1GiB stream peak RSS $HWM_MIB MiB (goal < 32 MiB: $(goal ge 32768 "$HWM"))"
LINE_RSS+="  [VmHWM: fresh $(kib_to_mib "$HWM_BASE"), after /dev/null stream at $SPEED_NULL MB/s"
LINE_RSS+=" $(kib_to_mib "$HWM_NULL"), after sha256sum stream $HWM_MIB; VmRSS now $(kib_to_mib "$RSS_END") MiB; $DIGEST_OK]"
kill -TERM "$RSS_PID" 2>/dev/null || true

# ---------------------------------------------------------------------------- 3. manifest rate

# wrk_run NAME -> "requests/s requests"; fails when wrk fails or sees errors
wrk_run() {
    local p=$1 out rps bad n
    out=$(timeout $((WRK_SECONDS + 20)) wrk -t2 -c16 -d"${WRK_SECONDS}s" --timeout 5s \
        -H "Accept: $ACCEPT" -H "Authorization: Bearer ${TOK[$p]}" \
        "${URL[$p]}/v2/$REPO/manifests/bench" 2>&1) || {
        qs_info "$p: wrk failed: $out"
        return 1
    }
    rps=$(awk '$1 == "Requests/sec:" {print $2}' <<<"$out")
    n=$(awk '$2 == "requests" && $3 == "in" {print $1}' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF} /Socket errors:/ {print "socket"}' <<<"$out")
    if [ -z "$rps" ] || [ -n "$bad" ]; then
        qs_info "$p: wrk saw errors or printed no rate:"
        printf '%s\n' "$out" | sed 's/^/    /' >&2
        [ -n "$rps" ] && printf '%s %s\n' "$rps" "${n:-0}"
        return 1
    fi
    printf '%s %s\n' "$rps" "${n:-0}"
}

qs_info "manifest GET rate: wrk -t2 -c16 -d${WRK_SECONDS}s, $WRK_RUNS rounds over ${PATHS[*]}"
declare -A RPS_ALL=() NREQ=()
CPU=()
for ((round = 1; round <= WRK_RUNS; round++)); do
    for p in "${PATHS[@]}"; do
        # shellcheck disable=SC2086 # a list of pids
        c0=$(cpu_ticks ${MID[$p]})
        if r=$(wrk_run "$p"); then :; else broke "$p: manifest GETs failed under wrk"; fi
        # shellcheck disable=SC2086
        CPU[$p]=$((${CPU[$p]:-0} + $(cpu_ticks ${MID[$p]}) - c0))
        if [ -n "$r" ]; then
            RPS_ALL[$p]+="${r% *} "
            NREQ[$p]=$((${NREQ[$p]:-0} + ${r#* }))
        fi
    done
done
# CPU milliseconds the middle process(es) spent per request
cpu_per_req() { awk -v t="${CPU[$1]:-0}" -v hz="$HZ" -v n="${NREQ[$1]:-0}" \
    'BEGIN { if (n > 0) printf "%.2f", t / hz * 1000 / n; else print "nan" }'; }
declare -A RPS=()
for p in "${PATHS[@]}"; do
    RPS[$p]=$(tr ' ' '\n' <<<"${RPS_ALL[$p]:-}" | grep . | median | awk '{ printf "%.0f", $1 }')
    qs_info "  $p: ${RPS_ALL[$p]:-none}req/s"
done
R_RPS=$(ratio "${RPS[proxy]}" "${RPS[nginx-unbuf]}")
R_RPS_D=$(ratio "${RPS[proxy]}" "${RPS[direct]}")
LINE_RPS="proxy bench: manifest GET 16 conns  direct ${RPS[direct]}/s  proxy ${RPS[proxy]}/s"
LINE_RPS+=" (${R_RPS}x nginx, ${R_RPS_D}x direct)  nginx ${RPS[nginx-unbuf]}/s  nginx-buffered ${RPS[nginx-buf]}/s"
LINE_RPS+="  [median of $WRK_RUNS x wrk -t2 -c16 -d${WRK_SECONDS}s, GET (wrk mishandles HEAD);"
LINE_RPS+=" goal >= nginx: $(goal ge "$R_RPS" 1); CPU ms/request: proxy $(cpu_per_req proxy),"
LINE_RPS+=" nginx $(cpu_per_req nginx-unbuf), nginx-buffered $(cpu_per_req nginx-buf)]"

# ---------------------------------------------------------------------------- report

qs_pid_alive "$PROXY_PID" || broke "the proxy died during the run (see $PROXY_LOG)"
qs_pid_alive "$NGX_PID" || broke "nginx died during the run"
if grep -q '"level":"error"' "$PROXY_LOG" 2>/dev/null; then
    broke "the proxy logged errors:"
    grep '"level":"error"' "$PROXY_LOG" | tail -n 5 >&2
fi

printf '%s\n' "$LINE_BLOB" "$LINE_RSS" "$LINE_RPS"
qs_info "done in $((SECONDS - t_start)) s"
exit "$BROKE"
