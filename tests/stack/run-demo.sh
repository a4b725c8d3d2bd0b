#!/usr/bin/env bash
# run-demo.sh — `make run`: the whole local stack plus every built service, left running in
# the background in .stack/ (gitignored), with demo data, and how to try it.
#   tests/stack/run-demo.sh          (re)start: stops a previous demo first
#   tests/stack/run-demo.sh --stop   stop everything and remove .stack/ (`make stop`)
# Demo data: a 2-platform image pushed to the registry that plays quay.io (reg-token, as the
# emulator's `pusher`; reg-plain when the quay emulator is not built) as
# openshift/ci:ci_ci-operator_latest.
# Services (release build): proxy on 127.0.0.1:8400 in front of that repository; mirror on
# 127.0.0.1:8090 copying an image stream and a supplemental image into it.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
QS_PROG=run
export VARIANT=release QS_VARIANT=release
# shellcheck source=tests/stack/lib.sh
. tests/stack/lib.sh
DIR=$ROOT/.stack
PROXY_ADDR=127.0.0.1:8400
MIRROR_ADDR=127.0.0.1:8090
DEMO_REF=openshift/ci:ci_ci-operator_latest

stop_demo() {
    if [ -d "$DIR" ]; then
        QS_KEEP_STACK=0 tests/stack/stack.sh stop "$DIR"
    else
        qs_info "no demo running (.stack/ does not exist)"
    fi
}

case ${1:-} in
--stop)
    stop_demo
    exit 0
    ;;
"") ;;
*) qs_die "usage: run-demo.sh [--stop]" ;;
esac

# idempotent: a second `make run` restarts cleanly
if [ -d "$DIR" ]; then
    qs_info "stopping the previous demo"
    stop_demo
fi
if ss -Htln "sport = :${PROXY_ADDR##*:}" 2>/dev/null | grep -q .; then
    qs_die "port ${PROXY_ADDR##*:} is already in use (ss -tlnp 'sport = :${PROXY_ADDR##*:}')"
fi

QS_STACK_DIR=$DIR tests/stack/stack.sh start >/dev/null
# shellcheck source=/dev/null
. "$DIR/env"
export QS_STACK_DIR=$DIR
fail() {
    qs_info "$*; stopping the demo (make run again after fixing; logs were in $DIR/logs)"
    QS_KEEP_STACK=1 tests/stack/stack.sh stop "$DIR" >/dev/null 2>&1 || true
    exit 1
}

# --- demo data
if [[ " $QS_COMPONENTS " == *" quay "* ]]; then
    UPSTREAM=$QS_REG_TOKEN
    creds=(--dest-creds "$QS_PUSHER_USER:$QS_PUSHER_PASS")
else
    qs_info "quay emulator not built: the demo image goes to reg-plain (no auth)"
    UPSTREAM=$QS_REG_PLAIN
    creds=()
fi
qs_info "pushing a generated 2-platform image to $UPSTREAM/$DEMO_REF"
tests/tools/mkimage.sh "$DIR/demo-image" --layers 2 --size 1M --seed quayside-demo \
    --platforms linux/amd64,linux/arm64 >/dev/null || fail "mkimage failed"
tests/tools/push-image.sh "$DIR/demo-image" "docker://$UPSTREAM/$DEMO_REF" "${creds[@]}" ||
    fail "pushing the demo image failed"

# --- services
started=()
if [ -x build/release/bin/proxy ]; then
    sec=$DIR/proxy
    mkdir -p "$sec"
    (
        umask 077
        printf '%s' "$QS_ROBOT_USER" >"$sec/robot-username"
        printf '%s' "$QS_ROBOT_PASS" >"$sec/robot-password"
        qs_rand 32 >"$sec/token-secret"
        printf '%s' "$QS_KUBE_SA_TOKEN" >"$sec/kube-token"
    )
    penv=(
        LISTEN_ADDR="$PROXY_ADDR"
        EXPOSED_HOST="$PROXY_ADDR"
        UPSTREAM_URL="http://$UPSTREAM"
        UPSTREAM_REPOSITORY=openshift/ci
        ROBOT_USERNAME_FILE="$sec/robot-username"
        ROBOT_PASSWORD_FILE="$sec/robot-password"
        TOKEN_SECRET_FILE="$sec/token-secret"
        KUBE_TOKEN_FILE="$sec/kube-token"
        LOG_LEVEL=info
    )
    if [ -n "$QS_KUBE_URL" ]; then
        penv+=(KUBE_API_URL="$QS_KUBE_URL")
    else
        qs_info "kube emulator not built: the proxy has no cluster API to validate tokens"
        penv+=(KUBE_API_URL=http://127.0.0.1:9)
    fi
    if [ -n "$QS_REDIS_URL" ]; then penv+=(REDIS_URL="$QS_REDIS_URL"); fi
    qs_spawn proxy "$DIR/logs/proxy.log" env "${penv[@]}" "$ROOT/build/release/bin/proxy"
    qs_wait_http proxy "http://$PROXY_ADDR/healthz" "$QS_LAST_PID" "$DIR/logs/proxy.log" 200 20 ||
        fail "the proxy did not start"
    ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$PROXY_ADDR/readyz" || true)
    started+=("proxy  http://$PROXY_ADDR  (readyz: $ready; log .stack/logs/proxy.log)")
else
    qs_info "build/release/bin/proxy not built; no services started"
fi

if [ -x build/release/bin/mirror ] && [ -n "$QS_KUBE_URL" ] && [ -n "$QS_REDIS_URL" ]; then
    msec=$DIR/mirror
    mkdir -p "$msec"
    tests/tools/mkimage.sh "$DIR/demo-source" --layers 2 --size 512K --seed quayside-demo-src \
        >/dev/null || fail "mkimage failed"
    tests/tools/push-image.sh "$DIR/demo-source" "docker://$QS_REG_PLAIN/ci/mirror-demo:latest" ||
        fail "pushing the mirror's demo source failed"
    tests/tools/push-image.sh "$DIR/demo-source" "docker://$QS_REG_PLAIN/external/tool:v1" ||
        fail "pushing the mirror's demo source failed"
    src_digest=$(jq -r '.manifests[0].digest' "$DIR/demo-source/index.json")
    curl -s -X PUT -H 'Content-Type: application/json' --data \
        "{\"namespace\":\"ci\",\"name\":\"mirror-demo\",\"tags\":[{\"tag\":\"latest\",\"image\":\"$src_digest\"}]}" \
        "$QS_KUBE_URL/_emulator/imagestreams" >/dev/null || fail "seeding image streams failed"
    (
        umask 077
        printf '{"auths":{"%s":{"auth":"%s"}}}' "$UPSTREAM" \
            "$(printf '%s:%s' "$QS_PUSHER_USER" "$QS_PUSHER_PASS" | base64 -w0)" >"$msec/auth.json"
        printf '%s' "$QS_KUBE_SA_TOKEN" >"$msec/kube-token"
        qs_rand 24 >"$msec/api-token"
    )
    printf 'supplementalCIImages:\n  external/tool:v1:\n    image: %s/external/tool:v1\n' \
        "$QS_REG_PLAIN" >"$msec/config.yaml"
    qs_spawn mirror "$DIR/logs/mirror.log" env LISTEN_ADDR="$MIRROR_ADDR" REDIS_URL="$QS_REDIS_URL" \
        DESTINATION_REPOSITORY="$UPSTREAM/openshift/ci" SOURCE_REGISTRY="$QS_REG_PLAIN" \
        IMAGESTREAM_NAMESPACES=ci MIRROR_CONFIG="$msec/config.yaml" \
        REGISTRY_AUTH_FILE="$msec/auth.json" KUBE_API_URL="$QS_KUBE_URL" \
        KUBE_TOKEN_FILE="$msec/kube-token" API_TOKEN_FILE="$msec/api-token" SYNC_INTERVAL=300s \
        LOG_LEVEL=info "$ROOT/build/release/bin/mirror"
    qs_wait_http mirror "http://$MIRROR_ADDR/api/health" "$QS_LAST_PID" "$DIR/logs/mirror.log" 200 20 ||
        fail "the mirror did not start"
    started+=("mirror http://$MIRROR_ADDR  (log .stack/logs/mirror.log; API token in .stack/mirror/api-token)")
fi

# Services added later each have a snippet in tests/stack/demo/<service>.sh, sourced here in
# this script's context (DIR, ROOT, UPSTREAM, creds, the .stack/env variables, fail, qs_spawn,
# qs_wait_http). A snippet starts its service when it is built, appends one line to `started`
# and its "how to try it" lines to HOWTO.
HOWTO=()
for snippet in tests/stack/demo/*.sh; do
    [ -e "$snippet" ] || continue
    # shellcheck source=/dev/null
    . "$snippet"
done

# --- how to try it
cat <<EOT

quayside demo is running in .stack/ (stop it with: make stop)
  components: $QS_COMPONENTS
  redis       $QS_REDIS_URL
  reg-plain   http://$QS_REG_PLAIN     (no auth)
  reg-basic   http://$QS_REG_BASIC     (Basic: \$QS_REG_BASIC_USER / \$QS_REG_BASIC_PASS)
  reg-token   http://$QS_REG_TOKEN     (Bearer from ${QS_QUAY_URL:-the quay emulator, not built})
  kube API    ${QS_KUBE_URL:-(kube emulator not built)}
  logs        .stack/logs/
  demo image  $UPSTREAM/$DEMO_REF
EOT
for s in "${started[@]}"; do printf '  service     %s\n' "$s"; done
cat <<'EOT'

Try it (first: source .stack/env):
EOT
if [ -x build/release/bin/proxy ]; then
    cat <<EOT
  # alice may pull (get imagestreams/layers in ocp); bob may not
  skopeo inspect --tls-verify=false --creds "alice:\$QS_TOKEN_ALICE" docker://$PROXY_ADDR/$DEMO_REF
  skopeo inspect --tls-verify=false --creds "bob:\$QS_TOKEN_BOB" docker://$PROXY_ADDR/$DEMO_REF
  skopeo copy --src-tls-verify=false --src-creds "alice:\$QS_TOKEN_ALICE" docker://$PROXY_ADDR/$DEMO_REF oci:/tmp/pulled:latest
  curl -s http://$PROXY_ADDR/metrics | head -20
  curl -s http://$PROXY_ADDR/readyz
EOT
fi
if [ -x build/release/bin/mirror ]; then
    cat <<EOT
  # the mirror copied ci/mirror-demo:latest (an image stream) and external/tool:v1 (the config)
  curl -s "http://$MIRROR_ADDR/api/v1/mirrors?action=summarize" | jq .
  skopeo inspect --tls-verify=false --creds "\$QS_PUSHER_USER:\$QS_PUSHER_PASS" docker://$UPSTREAM/openshift/ci:ci_mirror-demo_latest | jq .Digest
  curl -s -X POST -H "Authorization: Bearer \$(cat .stack/mirror/api-token)" --data '{"source":"$QS_REG_PLAIN/external/tool:v1","destination":"$UPSTREAM/openshift/ci:by_hand"}' http://$MIRROR_ADDR/api/v1/mirrors
  curl -s "http://$MIRROR_ADDR/api/v1/mirrors?action=show&limit=10" | jq .
EOT
fi
for line in "${HOWTO[@]}"; do printf '  %s\n' "$line"; done
pull_creds=''
# shellcheck disable=SC2016 # printed for the user to run after sourcing .stack/env
if [ "${#creds[@]}" -gt 0 ]; then pull_creds=' --creds "$QS_PUSHER_USER:$QS_PUSHER_PASS"'; fi
cat <<EOT
  skopeo inspect --raw --tls-verify=false$pull_creds docker://$UPSTREAM/$DEMO_REF | jq .
  redis-cli -u "\$QS_REDIS_URL" ping
EOT
