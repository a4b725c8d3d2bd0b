# shellcheck shell=bash
# tests/stack/lib.sh — helpers shared by the local stack, the test harness, e2e tests and
# benchmarks. Source it; it defines functions and a few variables and runs nothing else.
#
#   qs_free_ports N                  N distinct free loopback TCP ports, one per line
#   qs_spawn NAME LOG CMD...         start CMD in the background (own session, stdin closed,
#                                    stdout+stderr to LOG), record it in $QS_STACK_DIR/pids;
#                                    sets QS_LAST_PID
#   qs_wait_http NAME URL PID LOG [CODES] [TIMEOUT]
#                                    poll URL until its status is one of CODES (default 200);
#                                    fail early if PID dies; on failure print LOG's tail
#   qs_wait_redis NAME PORT PID LOG [TIMEOUT]
#   qs_stop_recorded DIR             TERM (then KILL) every process recorded in DIR/pids
#   qs_pid_alive PID [STARTTIME]     0 if PID runs (not a zombie) and, if given, started then
#   qs_rand [BYTES]                  random lowercase hex (default 16 bytes -> 32 chars)
#   qs_die MSG / qs_info MSG         messages on stderr, prefixed with $QS_PROG
#
# Processes are identified by pid AND start time (field 22 of /proc/PID/stat), so a stop never
# kills an unrelated process that got a recycled pid.

QS_ROOT=${QS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
QS_VARIANT=${QS_VARIANT:-${VARIANT:-release}}
QS_BIN=${QS_BIN:-$QS_ROOT/build/$QS_VARIANT/bin}
QS_PROG=${QS_PROG:-$(basename "$0")}
QS_LAST_PID=

qs_info() { printf '%s: %s\n' "$QS_PROG" "$*" >&2; }
qs_die() {
    printf '%s: error: %s\n' "$QS_PROG" "$*" >&2
    exit 1
}

qs_rand() {
    local n=${1:-16}
    od -An -N"$n" -tx1 /dev/urandom | tr -d ' \n'
}

# The freeport tool: a built one if any variant has it, else compiled on the spot (plain libc).
qs__freeport_bin() {
    local c
    for c in "$QS_BIN/freeport" "$QS_ROOT"/build/*/bin/freeport; do
        if [ -x "$c" ]; then
            printf '%s\n' "$c"
            return 0
        fi
    done
    local cache
    cache=${TMPDIR:-/tmp}/qs-freeport.$(id -u)
    if [ ! -x "$cache" ] || [ "$QS_ROOT/tests/tools/freeport.c" -nt "$cache" ]; then
        "${CC:-cc}" -std=c11 -O1 -o "$cache.$$" "$QS_ROOT/tests/tools/freeport.c" 2>/dev/null &&
            mv -f "$cache.$$" "$cache" || return 1
    fi
    printf '%s\n' "$cache"
}

qs_free_ports() {
    local n=${1:-1} fp
    if fp=$(qs__freeport_bin) && "$fp" "$n"; then
        return 0
    fi
    # Last resort: random ports below the ephemeral range that nothing listens on.
    local used p got=0
    used=$(ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://')
    local picked=" "
    while [ "$got" -lt "$n" ]; do
        p=$((20000 + RANDOM % 12000))
        if ! grep -qx "$p" <<<"$used" && [[ $picked != *" $p "* ]]; then
            picked+="$p "
            printf '%s\n' "$p"
            got=$((got + 1))
        fi
    done
}

qs__starttime() { # field 22 of /proc/PID/stat; the comm field (2) may contain spaces
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    # after "comm) ", field 3 (state) is the first word; starttime is field 22 -> word 20
    # shellcheck disable=SC2086 # split on purpose
    set -- $stat
    printf '%s\n' "${20}"
}

qs_pid_alive() {
    local pid=$1 want=${2:-} stat state
    [ -n "$pid" ] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    state=${stat%% *}
    [ "$state" != Z ] && [ "$state" != X ] || return 1
    if [ -n "$want" ]; then
        [ "$(qs__starttime "$pid")" = "$want" ] || return 1
    fi
    return 0
}

qs_spawn() {
    local name=$1 log=$2
    shift 2
    [ -n "${QS_STACK_DIR:-}" ] || qs_die "qs_spawn: QS_STACK_DIR is not set"
    mkdir -p "$(dirname "$log")"
    # setsid: the process gets its own session, so a Ctrl-C in the terminal or the end of the
    # calling script does not reach it; the stop command (a trap in the tests) ends it.
    setsid "$@" </dev/null >>"$log" 2>&1 &
    QS_LAST_PID=$!
    local st
    st=$(qs__starttime "$QS_LAST_PID" || true)
    printf '%s %s %s\n' "$name" "$QS_LAST_PID" "${st:-0}" >>"$QS_STACK_DIR/pids"
}

qs_log_tail() {
    local log=$1
    if [ -s "$log" ]; then
        printf -- '----- last lines of %s -----\n' "$log" >&2
        tail -n "${QS_LOG_TAIL:-25}" "$log" >&2
        printf -- '-----\n' >&2
    else
        printf '(%s is empty)\n' "$log" >&2
    fi
}

qs_wait_http() {
    local name=$1 url=$2 pid=$3 log=$4 codes=${5:-200} timeout=${6:-${QS_STACK_TIMEOUT:-30}}
    local deadline=$((SECONDS + timeout)) code
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null || true)
        if [[ " $codes " == *" $code "* ]]; then
            return 0
        fi
        if ! qs_pid_alive "$pid"; then
            qs_info "$name exited before answering at $url"
            qs_log_tail "$log"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            qs_info "$name did not answer $url with HTTP ${codes// //} within ${timeout}s (last: ${code:-none})"
            qs_log_tail "$log"
            return 1
        fi
        sleep 0.1
    done
}

qs_wait_redis() {
    local name=$1 port=$2 pid=$3 log=$4 timeout=${5:-${QS_STACK_TIMEOUT:-30}}
    local deadline=$((SECONDS + timeout))
    while :; do
        if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
            return 0
        fi
        if ! qs_pid_alive "$pid"; then
            qs_info "$name exited before answering PING on port $port"
            qs_log_tail "$log"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            qs_info "$name did not answer PING on port $port within ${timeout}s"
            qs_log_tail "$log"
            return 1
        fi
        sleep 0.1
    done
}

# Stop every process recorded in DIR/pids: TERM in reverse start order, up to
# QS_STOP_GRACE seconds (default 10) for all of them to go, then KILL what is left.
qs_stop_recorded() {
    local f=$1/pids
    [ -f "$f" ] || return 0
    local -a pids=() names=()
    local name pid st
    while read -r name pid st; do
        [ -n "${pid:-}" ] || continue
        if qs_pid_alive "$pid" "$([ "${st:-0}" != 0 ] && echo "$st")"; then
            pids=("$pid" "${pids[@]}")
            names=("$name" "${names[@]}")
        fi
    done <"$f"
    local i
    for i in "${!pids[@]}"; do
        kill -TERM "${pids[$i]}" 2>/dev/null || true
    done
    local deadline=$((SECONDS + ${QS_STOP_GRACE:-10})) left
    while :; do
        left=()
        for i in "${!pids[@]}"; do
            if qs_pid_alive "${pids[$i]}"; then left+=("$i"); fi
        done
        [ "${#left[@]}" -gt 0 ] || break
        if [ "$SECONDS" -ge "$deadline" ]; then
            for i in "${left[@]}"; do
                qs_info "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM; killing it"
                kill -KILL "${pids[$i]}" 2>/dev/null || true
            done
            break
        fi
        sleep 0.05
    done
    : >"$f"
}
