#!/usr/bin/env bash
# stack.sh — the local stack that tests, `make run` and benchmarks run against.
#
#   stack.sh start [COMPONENT...]   start the components (default: all available) under
#                                   $QS_STACK_DIR (default: a new /tmp/qs-stack.XXXX); print
#                                   the directory on stdout, progress on stderr; return once
#                                   every component answers
#   stack.sh stop [DIR]             stop everything recorded in DIR/pids and remove DIR
#                                   (kept when QS_KEEP_STACK=1)
#   stack.sh env [DIR]              print DIR/env (a file of `export NAME=value` lines)
#   stack.sh status [DIR]           one line per recorded process: name, pid, running or not
#
# Components, each on a free loopback port:
#   redis      redis-server, AOF on, no RDB snapshots
#   reg-plain  docker-registry without auth (plays the CI cluster registry / a generic source)
#   reg-basic  docker-registry with htpasswd (user ci-robot, random password)
#   reg-token  docker-registry with token auth (plays quay.io; the quay emulator is its token
#              server: realm http://127.0.0.1:<quay>/v2/auth, service quay.local,
#              issuer quay-emulator, ES256 key generated per stack)
#   quay       build/<variant>/bin/quay-emulator   (default: only if built)
#   kube       build/<variant>/bin/kube-emulator   (default: only if built)
#   koji       build/<variant>/bin/koji-emulator   (default: only if built): hub at
#              $QS_KOJI_URL (…/kojihub), top directory $QS_KOJI_ROOT_URL served from the
#              directory $QS_KOJI_ROOT (tests put archives there); the fixture
#              $QS_KOJI_FIXTURE has the builds omps-op-1.0-1 (typeinfo archive),
#              omps-legacy-2.0-3 (legacy key + getBuildLogs), omps-noop-1.0-1 (not an
#              operator image) and omps-nolog-1.0-1 (legacy key, archive not in the logs); their
#              archive paths are $QS_KOJI_ROOT/packages/<name>/<version>/<release>/files/
#              operator-manifests/operator_manifests.zip and, for the legacy build,
#              .../data/logs/noarch/operator_manifests.zip
#   greenwave  build/<variant>/bin/greenwave-emulator (default: only if built): Greenwave's
#              decision API at $QS_GREENWAVE_URL (…/api/v1.0/decision, /about); no decisions
#              are stored, so every build misses its required test until a test stores one
#              (PUT /_emulator/decisions, see tests/emulators/README.md)
# VARIANT (or QS_VARIANT) picks build/<variant>/bin; default release.
# QS_STACK_TIMEOUT: seconds each component gets to answer (default 30).
set -euo pipefail
QS_PROG=stack
# shellcheck source=tests/stack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_COMPONENTS=(redis reg-plain reg-basic reg-token quay kube koji greenwave)
MARKER=.qs-stack

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

stack_dir_arg() { # DIR from $1 or $QS_STACK_DIR
    local d=${1:-${QS_STACK_DIR:-}}
    [ -n "$d" ] || qs_die "no stack directory: pass it or set QS_STACK_DIR"
    printf '%s\n' "$d"
}

# ---------------------------------------------------------------------------------------------
# configuration files

registry_config() { # NAME PORT [AUTH-YAML]
    local name=$1 port=$2 auth=${3:-}
    local d=$QS_STACK_DIR/$name
    mkdir -p "$d/data"
    cat >"$d/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $d/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: quayside-test-secret-$name
$auth
YAML
}

write_fixtures() {
    mkdir -p "$QS_STACK_DIR/quay" "$QS_STACK_DIR/kube"
    QS_ROBOT_USER='openshift+ci_pull'
    QS_ROBOT_PASS=$(qs_rand)
    QS_PUSHER_USER=pusher
    QS_PUSHER_PASS=$(qs_rand)
    QS_KUBE_SA_TOKEN=$(qs_rand 24)
    QS_TOKEN_ALICE=$(qs_rand 24)
    QS_TOKEN_BOB=$(qs_rand 24)
    QS_TOKEN_SA=$(qs_rand 24)
    QS_QUAY_FIXTURE=$QS_STACK_DIR/quay/fixture.json
    QS_KUBE_FIXTURE=$QS_STACK_DIR/kube/fixture.json
    cat >"$QS_QUAY_FIXTURE" <<JSON
{
  "accounts": [
    {"username": "$QS_ROBOT_USER", "password": "$QS_ROBOT_PASS", "robot": true,
     "grants": [{"repository": "openshift/ci", "actions": ["pull"]}]},
    {"username": "$QS_PUSHER_USER", "password": "$QS_PUSHER_PASS", "robot": false,
     "grants": [{"repository": "*", "actions": ["pull", "push", "delete"]}]}
  ]
}
JSON
    cat >"$QS_KUBE_FIXTURE" <<JSON
{
  "service_account_token": "$QS_KUBE_SA_TOKEN",
  "users": [
    {"token": "$QS_TOKEN_ALICE", "username": "alice", "uid": "u-alice",
     "groups": ["system:authenticated", "devs"]},
    {"token": "$QS_TOKEN_BOB", "username": "bob", "uid": "u-bob",
     "groups": ["system:authenticated"]},
    {"token": "$QS_TOKEN_SA", "username": "system:serviceaccount:ci:puller", "uid": "u-sa",
     "groups": ["system:serviceaccounts"]}
  ],
  "permissions": [
    {"user": "alice", "namespace": "ocp", "verb": "get", "group": "image.openshift.io",
     "resource": "imagestreams", "subresource": "layers"}
  ]
}
JSON
}

write_env() {
    local f=$QS_STACK_DIR/env tmp
    tmp=$f.tmp
    {
        echo "# quayside local stack — source this file"
        local v
        for v in QS_STACK_DIR QS_ROOT QS_VARIANT QS_BIN QS_COMPONENTS QS_LOG_DIR \
            QS_REDIS_URL QS_REDIS_PORT \
            QS_REG_PLAIN QS_REG_BASIC QS_REG_BASIC_USER QS_REG_BASIC_PASS QS_REG_BASIC_HTPASSWD \
            QS_REG_TOKEN QS_QUAY_URL QS_QUAY_TOKEN_REALM QS_QUAY_TOKEN_SERVICE \
            QS_QUAY_TOKEN_ISSUER QS_TOKEN_KEY QS_TOKEN_CERT \
            QS_KUBE_URL QS_KUBE_SA_TOKEN \
            QS_ROBOT_USER QS_ROBOT_PASS QS_PUSHER_USER QS_PUSHER_PASS \
            QS_TOKEN_ALICE QS_TOKEN_BOB QS_TOKEN_SA \
            QS_QUAY_FIXTURE QS_KUBE_FIXTURE \
            QS_KOJI_URL QS_KOJI_ROOT_URL QS_KOJI_ROOT QS_KOJI_FIXTURE \
            QS_GREENWAVE_URL; do
            local val=${!v-}
            printf "export %s='%s'\n" "$v" "${val//\'/\'\\\'\'}"
        done
    } >"$tmp"
    mv -f "$tmp" "$f"
}

# The Koji emulator's builds (see the header); archives are files under $QS_KOJI_ROOT.
koji_fixture() { # DIR
    QS_KOJI_ROOT=$1/root
    QS_KOJI_FIXTURE=$1/fixture.json
    mkdir -p "$QS_KOJI_ROOT"
    cat >"$QS_KOJI_FIXTURE" <<'JSON'
{
  "api_version": 1,
  "builds": [
    {"nvr": "omps-op-1.0-1", "id": 101, "build_id": 101, "name": "omps-op", "version": "1.0",
     "release": "1", "volume_name": "DEFAULT",
     "extra": {"typeinfo": {"operator-manifests": {"archive": "operator_manifests.zip"}}}},
    {"nvr": "omps-legacy-2.0-3", "id": 102, "build_id": 102, "name": "omps-legacy",
     "version": "2.0", "release": "3", "volume_name": null,
     "extra": {"operator_manifests_archive": "operator_manifests.zip"},
     "logs": [{"name": "build.log", "dir": "noarch",
               "path": "packages/omps-legacy/2.0/3/data/logs/noarch/build.log"},
              {"name": "operator_manifests.zip", "dir": "noarch",
               "path": "packages/omps-legacy/2.0/3/data/logs/noarch/operator_manifests.zip"}]},
    {"nvr": "omps-noop-1.0-1", "id": 103, "build_id": 103, "name": "omps-noop",
     "version": "1.0", "release": "1", "volume_name": "DEFAULT", "extra": {"container_koji_task_id": 7}},
    {"nvr": "omps-nolog-1.0-1", "id": 104, "build_id": 104, "name": "omps-nolog",
     "version": "1.0", "release": "1", "volume_name": "DEFAULT",
     "extra": {"operator_manifests_archive": "operator_manifests.zip"},
     "logs": [{"name": "build.log", "dir": "noarch",
               "path": "packages/omps-nolog/1.0/1/data/logs/noarch/build.log"}]}
  ]
}
JSON
}

# ---------------------------------------------------------------------------------------------
# start

want() { [[ " ${COMPONENTS[*]} " == *" $1 "* ]]; }

cmd_start() {
    local explicit=0
    if [ "$#" -gt 0 ]; then
        explicit=1
        COMPONENTS=("$@")
    else
        COMPONENTS=("${ALL_COMPONENTS[@]}")
    fi
    local c
    for c in "${COMPONENTS[@]}"; do
        [[ " ${ALL_COMPONENTS[*]} " == *" $c "* ]] ||
            qs_die "unknown component '$c' (known: ${ALL_COMPONENTS[*]})"
    done

    local emu
    for emu in quay kube koji greenwave; do
        if want "$emu" && [ ! -x "$QS_BIN/$emu-emulator" ]; then
            if [ "$explicit" = 1 ]; then
                qs_die "$emu: $QS_BIN/$emu-emulator is not built (make VARIANT=$QS_VARIANT)"
            fi
            qs_info "$emu: $QS_BIN/$emu-emulator not built; skipping"
            local -a keep=()
            for c in "${COMPONENTS[@]}"; do [ "$c" = "$emu" ] || keep+=("$c"); done
            COMPONENTS=("${keep[@]}")
        fi
    done
    for c in redis-server docker-registry htpasswd openssl curl redis-cli setsid; do
        command -v "$c" >/dev/null 2>&1 || qs_die "$c not found (run scripts/deps.sh)"
    done

    if [ -n "${QS_STACK_DIR:-}" ]; then
        mkdir -p "$QS_STACK_DIR"
        QS_STACK_DIR=$(cd "$QS_STACK_DIR" && pwd)
        if [ -f "$QS_STACK_DIR/pids" ]; then
            local name pid st
            while read -r name pid st; do
                if qs_pid_alive "$pid" "$st"; then
                    qs_die "a stack is already running in $QS_STACK_DIR ($name, pid $pid); stop it first"
                fi
            done <"$QS_STACK_DIR/pids"
        fi
    else
        QS_STACK_DIR=$(mktemp -d /tmp/qs-stack.XXXX)
    fi
    export QS_STACK_DIR
    touch "$QS_STACK_DIR/$MARKER"
    : >"$QS_STACK_DIR/pids"
    QS_LOG_DIR=$QS_STACK_DIR/logs
    mkdir -p "$QS_LOG_DIR"
    QS_BIN=$(cd "$(dirname "$QS_BIN")" 2>/dev/null && pwd)/$(basename "$QS_BIN")

    local -a ports
    mapfile -t ports < <(qs_free_ports 7)
    [ "${#ports[@]}" -eq 7 ] || qs_die "could not get free ports"
    local p_redis=${ports[0]} p_plain=${ports[1]} p_basic=${ports[2]} p_token=${ports[3]}
    local p_quay=${ports[4]} p_kube=${ports[5]} p_koji=${ports[6]}

    write_fixtures
    # Every variable write_env exports (via ${!v}) starts empty; a skipped component leaves it so.
    # shellcheck disable=SC2034
    {
        QS_REDIS_URL='' QS_REDIS_PORT='' QS_REG_PLAIN='' QS_REG_BASIC='' QS_REG_TOKEN=''
        QS_QUAY_URL='' QS_KUBE_URL='' QS_TOKEN_KEY='' QS_TOKEN_CERT='' QS_REG_BASIC_HTPASSWD=''
        QS_KOJI_URL='' QS_KOJI_ROOT_URL='' QS_KOJI_ROOT='' QS_KOJI_FIXTURE=''
    }
    QS_REG_BASIC_USER=ci-robot
    QS_REG_BASIC_PASS=$(qs_rand)
    QS_QUAY_TOKEN_REALM=http://127.0.0.1:$p_quay/v2/auth
    QS_QUAY_TOKEN_SERVICE=quay.local
    QS_QUAY_TOKEN_ISSUER=quay-emulator

    # Launch everything first, then wait for each: startup overlaps.
    local -A pid_of=()
    if want redis; then
        mkdir -p "$QS_STACK_DIR/redis"
        qs_spawn redis "$QS_LOG_DIR/redis.log" redis-server --port "$p_redis" --bind 127.0.0.1 \
            --dir "$QS_STACK_DIR/redis" --appendonly yes --save '' --daemonize no --logfile ''
        pid_of[redis]=$QS_LAST_PID
        # shellcheck disable=SC2034 # exported by write_env
        QS_REDIS_PORT=$p_redis
        # shellcheck disable=SC2034
        QS_REDIS_URL=redis://127.0.0.1:$p_redis
    fi
    if want reg-plain; then
        registry_config reg-plain "$p_plain"
        qs_spawn reg-plain "$QS_LOG_DIR/reg-plain.log" \
            docker-registry serve "$QS_STACK_DIR/reg-plain/config.yml"
        pid_of[reg-plain]=$QS_LAST_PID
        QS_REG_PLAIN=127.0.0.1:$p_plain
    fi
    if want reg-basic; then
        mkdir -p "$QS_STACK_DIR/reg-basic"
        QS_REG_BASIC_HTPASSWD=$QS_STACK_DIR/reg-basic/htpasswd
        htpasswd -Bbn "$QS_REG_BASIC_USER" "$QS_REG_BASIC_PASS" >"$QS_REG_BASIC_HTPASSWD" 2>/dev/null ||
            qs_die "htpasswd failed"
        registry_config reg-basic "$p_basic" "auth:
  htpasswd:
    realm: basic-realm
    path: $QS_REG_BASIC_HTPASSWD"
        qs_spawn reg-basic "$QS_LOG_DIR/reg-basic.log" \
            docker-registry serve "$QS_STACK_DIR/reg-basic/config.yml"
        pid_of[reg-basic]=$QS_LAST_PID
        QS_REG_BASIC=127.0.0.1:$p_basic
    fi
    if want reg-token || want quay; then
        mkdir -p "$QS_STACK_DIR/reg-token"
        QS_TOKEN_KEY=$QS_STACK_DIR/reg-token/token.key
        QS_TOKEN_CERT=$QS_STACK_DIR/reg-token/token.crt
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$QS_TOKEN_KEY" -out "$QS_TOKEN_CERT" -days 3650 \
            -subj "/CN=$QS_QUAY_TOKEN_ISSUER" >"$QS_LOG_DIR/openssl.log" 2>&1 ||
            {
                qs_log_tail "$QS_LOG_DIR/openssl.log"
                qs_die "openssl could not generate the token signing key"
            }
    fi
    if want reg-token; then
        registry_config reg-token "$p_token" "auth:
  token:
    realm: $QS_QUAY_TOKEN_REALM
    service: $QS_QUAY_TOKEN_SERVICE
    issuer: $QS_QUAY_TOKEN_ISSUER
    rootcertbundle: $QS_TOKEN_CERT"
        qs_spawn reg-token "$QS_LOG_DIR/reg-token.log" \
            docker-registry serve "$QS_STACK_DIR/reg-token/config.yml"
        pid_of[reg-token]=$QS_LAST_PID
        QS_REG_TOKEN=127.0.0.1:$p_token
    fi
    if want quay; then
        qs_spawn quay "$QS_LOG_DIR/quay-emulator.log" env \
            QUAY_EMU_LISTEN="127.0.0.1:$p_quay" \
            QUAY_EMU_TOKEN_KEY="$QS_TOKEN_KEY" \
            QUAY_EMU_TOKEN_CERT="$QS_TOKEN_CERT" \
            QUAY_EMU_ISSUER="$QS_QUAY_TOKEN_ISSUER" \
            QUAY_EMU_SERVICE="$QS_QUAY_TOKEN_SERVICE" \
            QUAY_EMU_FIXTURE="$QS_QUAY_FIXTURE" \
            "$QS_BIN/quay-emulator"
        pid_of[quay]=$QS_LAST_PID
        QS_QUAY_URL=http://127.0.0.1:$p_quay
    fi
    if want kube; then
        qs_spawn kube "$QS_LOG_DIR/kube-emulator.log" env \
            KUBE_EMU_LISTEN="127.0.0.1:$p_kube" \
            KUBE_EMU_FIXTURE="$QS_KUBE_FIXTURE" \
            "$QS_BIN/kube-emulator"
        pid_of[kube]=$QS_LAST_PID
        QS_KUBE_URL=http://127.0.0.1:$p_kube
    fi
    if want koji; then
        koji_fixture "$QS_STACK_DIR/koji"
        qs_spawn koji "$QS_LOG_DIR/koji-emulator.log" env \
            KOJI_EMU_LISTEN="127.0.0.1:$p_koji" \
            KOJI_EMU_FIXTURE="$QS_KOJI_FIXTURE" \
            KOJI_EMU_ROOT="$QS_KOJI_ROOT" \
            "$QS_BIN/koji-emulator"
        pid_of[koji]=$QS_LAST_PID
        # shellcheck disable=SC2034 # exported by write_env
        QS_KOJI_URL=http://127.0.0.1:$p_koji/kojihub
        QS_KOJI_ROOT_URL=http://127.0.0.1:$p_koji/
    fi
    QS_GREENWAVE_URL=''
    if want greenwave; then # port 0: it writes the port it bound to $EMU_PORT_FILE
        mkdir -p "$QS_STACK_DIR/greenwave"
        qs_spawn greenwave "$QS_LOG_DIR/greenwave-emulator.log" env \
            GREENWAVE_EMU_LISTEN=127.0.0.1:0 \
            EMU_PORT_FILE="$QS_STACK_DIR/greenwave/port" \
            "$QS_BIN/greenwave-emulator"
        pid_of[greenwave]=$QS_LAST_PID
    fi
    QS_COMPONENTS="${COMPONENTS[*]}"

    local ok=1
    want redis && { qs_wait_redis redis "$p_redis" "${pid_of[redis]}" "$QS_LOG_DIR/redis.log" || ok=0; }
    want reg-plain && { qs_wait_http reg-plain "http://$QS_REG_PLAIN/v2/" "${pid_of[reg-plain]}" \
        "$QS_LOG_DIR/reg-plain.log" "200" || ok=0; }
    want reg-basic && { qs_wait_http reg-basic "http://$QS_REG_BASIC/v2/" "${pid_of[reg-basic]}" \
        "$QS_LOG_DIR/reg-basic.log" "401" || ok=0; }
    want reg-token && { qs_wait_http reg-token "http://$QS_REG_TOKEN/v2/" "${pid_of[reg-token]}" \
        "$QS_LOG_DIR/reg-token.log" "401" || ok=0; }
    want quay && { qs_wait_http quay "$QS_QUAY_URL/_emulator/health" "${pid_of[quay]}" \
        "$QS_LOG_DIR/quay-emulator.log" "200" || ok=0; }
    want kube && { qs_wait_http kube "$QS_KUBE_URL/_emulator/health" "${pid_of[kube]}" \
        "$QS_LOG_DIR/kube-emulator.log" "200" || ok=0; }
    want koji && { qs_wait_http koji "${QS_KOJI_ROOT_URL}_emulator/health" "${pid_of[koji]}" \
        "$QS_LOG_DIR/koji-emulator.log" "200" || ok=0; }
    if want greenwave; then
        local gw_port='' i
        for ((i = 0; i < ${QS_STACK_TIMEOUT:-30} * 10; i++)); do
            gw_port=$(cat "$QS_STACK_DIR/greenwave/port" 2>/dev/null || true)
            [ -n "$gw_port" ] || ! qs_pid_alive "${pid_of[greenwave]}" && break
            sleep 0.1
        done
        if [ -n "$gw_port" ]; then
            QS_GREENWAVE_URL=http://127.0.0.1:$gw_port
            qs_wait_http greenwave "$QS_GREENWAVE_URL/_emulator/health" "${pid_of[greenwave]}" \
                "$QS_LOG_DIR/greenwave-emulator.log" "200" || ok=0
        else
            qs_info "greenwave: the emulator wrote no port"
            qs_log_tail "$QS_LOG_DIR/greenwave-emulator.log"
            ok=0
        fi
    fi

    if [ "$ok" != 1 ]; then
        qs_info "stack failed to start; stopping what did start (logs kept in $QS_STACK_DIR)"
        qs_stop_recorded "$QS_STACK_DIR"
        exit 1
    fi
    write_env
    qs_info "up: ${QS_COMPONENTS} in $QS_STACK_DIR (env: $QS_STACK_DIR/env)"
    printf '%s\n' "$QS_STACK_DIR"
}

# ---------------------------------------------------------------------------------------------

cmd_stop() {
    local d
    d=$(stack_dir_arg "${1:-}")
    if [ ! -d "$d" ]; then
        qs_info "$d does not exist; nothing to stop"
        return 0
    fi
    [ -f "$d/$MARKER" ] || qs_die "$d is not a stack directory (no $MARKER); refusing to touch it"
    qs_stop_recorded "$d"
    if [ "${QS_KEEP_STACK:-0}" = 1 ]; then
        qs_info "stopped; kept $d"
    else
        rm -rf -- "$d"
        qs_info "stopped; removed $d"
    fi
}

cmd_env() {
    local d
    d=$(stack_dir_arg "${1:-}")
    [ -f "$d/env" ] || qs_die "$d/env not found (is the stack started?)"
    cat "$d/env"
}

cmd_status() {
    local d name pid st
    d=$(stack_dir_arg "${1:-}")
    [ -f "$d/pids" ] || qs_die "$d/pids not found"
    while read -r name pid st; do
        if qs_pid_alive "$pid" "$st"; then
            printf '%-10s %8s running\n' "$name" "$pid"
        else
            printf '%-10s %8s stopped\n' "$name" "$pid"
        fi
    done <"$d/pids"
}

[ "$#" -ge 1 ] || usage
cmd=$1
shift
case $cmd in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
env) cmd_env "$@" ;;
status) cmd_status "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
