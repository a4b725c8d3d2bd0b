# shellcheck shell=bash
# demo/org-mirror.sh — `make run` snippet (sourced by tests/stack/run-demo.sh, see the comment
# above its snippet loop): org-mirror on 127.0.0.1:8091 mirroring the organization `demo-src` of
# the stack's Quay emulator (seeded here with 12 repositories) into a second Quay emulator
# started here as the destination (organization demo-src, robot demo-src+mirror). The stack's
# Redis, shared with the other services (queue, status, and the event stream the
# appstudio-provisioner publishes repository.created on). Secrets in .stack/org-mirror/ laid out
# as the seed's Secrets are mounted: source-tokens/, destination-tokens/, robots/, credentials/.
ORGM_ADDR=127.0.0.1:8091
if [ ! -x build/release/bin/org-mirror ] || [ ! -x build/release/bin/quay-emulator ]; then
    qs_info "build/release/bin/org-mirror or quay-emulator not built; org-mirror not started"
elif [ -z "$QS_QUAY_URL" ] || [ -z "$QS_REDIS_URL" ]; then
    qs_info "org-mirror needs the quay emulator and redis; org-mirror not started"
elif ss -Htln "sport = :${ORGM_ADDR##*:}" 2>/dev/null | grep -q .; then
    qs_info "port ${ORGM_ADDR##*:} is in use; org-mirror not started"
else
    omsec=$DIR/org-mirror
    mkdir -p "$omsec/source-tokens" "$omsec/destination-tokens" "$omsec/robots" "$omsec/credentials"
    (
        umask 077
        printf 'demo-src-%s\n' "$(qs_rand 16)" >"$omsec/source-tokens/demo-src"
        printf 'demo-dst-%s\n' "$(qs_rand 16)" >"$omsec/destination-tokens/demo-src"
        printf 'mirror\n' >"$omsec/robots/demo-src"
        printf 'demo-reader\n' >"$omsec/credentials/quay_username"
        printf 'demo-%s\n' "$(qs_rand 12)" >"$omsec/credentials/quay_password"
        printf 'demo-api-%s\n' "$(qs_rand 16)" >"$omsec/api-token"
    )
    jpost() { curl -s -f -X POST -H 'Content-Type: application/json' --data "$2" "$1" >/dev/null; }
    # the destination: a Quay emulator of its own
    qs_spawn org-mirror-destination "$DIR/logs/org-mirror-destination.log" env \
        QUAY_EMU_LISTEN=127.0.0.1:0 EMU_PORT_FILE="$omsec/destination.port" \
        "$ROOT/build/release/bin/quay-emulator"
    for _ in $(seq 50); do [ -s "$omsec/destination.port" ] && break; sleep 0.1; done
    [ -s "$omsec/destination.port" ] || fail "the org-mirror's destination emulator did not start"
    ORGM_DST=http://127.0.0.1:$(cat "$omsec/destination.port")
    jpost "$QS_QUAY_URL/_emulator/api_tokens" \
        "{\"token\":\"$(cat "$omsec/source-tokens/demo-src")\",\"user\":\"demo-reader\",\"scopes\":[\"repo:read\"]}" ||
        fail "registering the org-mirror's source token failed"
    jpost "$QS_QUAY_URL/_emulator/seed" "$(jq -nc '{organizations: ["demo-src"],
        repositories: [range(1; 13) | {namespace: "demo-src", name: ("app-" + tostring)}]}')" ||
        fail "seeding demo-src failed"
    jpost "$ORGM_DST/_emulator/api_tokens" \
        "{\"token\":\"$(cat "$omsec/destination-tokens/demo-src")\",\"user\":\"demo-admin\"}" ||
        fail "registering the org-mirror's destination token failed"
    jpost "$ORGM_DST/_emulator/seed" '{"organizations":["demo-src"],"robots":[{"org":"demo-src","short":"mirror"}]}' ||
        fail "seeding the destination failed"
    qs_spawn org-mirror "$DIR/logs/org-mirror.log" env LISTEN_ADDR="$ORGM_ADDR" \
        REDIS_URL="$QS_REDIS_URL" SOURCE_REGISTRY="$QS_QUAY_URL" DESTINATION_REGISTRY="$ORGM_DST" \
        ORGANIZATIONS=demo-src "TAG_GLOB=[ \"*\" ]" SYNC_INTERVAL=600 \
        SOURCE_TOKENS_DIR="$omsec/source-tokens" DESTINATION_TOKENS_DIR="$omsec/destination-tokens" \
        ROBOT_NAMES_DIR="$omsec/robots" QUAY_USERNAME_FILE="$omsec/credentials/quay_username" \
        QUAY_PASSWORD_FILE="$omsec/credentials/quay_password" API_TOKEN_FILE="$omsec/api-token" \
        VERIFY_TLS=false LOG_LEVEL=info "$ROOT/build/release/bin/org-mirror"
    qs_wait_http org-mirror "http://$ORGM_ADDR/healthz" "$QS_LAST_PID" "$DIR/logs/org-mirror.log" 200 20 ||
        fail "org-mirror did not start"
    started+=("org-mirror http://$ORGM_ADDR  (demo-src -> $ORGM_DST; log .stack/logs/org-mirror.log; API token in .stack/org-mirror/api-token)")
    # shellcheck disable=SC2016 # printed for the user to run
    HOWTO+=(
        "# org-mirror: the organization demo-src of \$QS_QUAY_URL mirrored into $ORGM_DST"
        "curl -s http://$ORGM_ADDR/api/v1/orgs | jq '.organizations[] | {organization, result, source, destination, created, unchanged, last_error}'"
        "curl -s http://$ORGM_ADDR/api/v1/orgs/demo-src/plan | jq '.repositories[] | {repository, action, outcome}'"
        "curl -s $ORGM_DST/_emulator/state | jq '.repositories[\"demo-src/app-1\"].mirror'"
        "curl -s -X POST -H 'Content-Type: application/json' -d '{\"repositories\":[{\"namespace\":\"demo-src\",\"name\":\"app-new\"}]}' \$QS_QUAY_URL/_emulator/seed"
        "redis-cli -u \$QS_REDIS_URL XADD quayside:events '*' type repository.created data \"{\\\"quay\\\":\\\"\${QS_QUAY_URL#http://}\\\",\\\"namespace\\\":\\\"demo-src\\\",\\\"repository\\\":\\\"app-new\\\"}\" ts 0"
        "curl -s $ORGM_DST/_emulator/state | jq '.repositories[\"demo-src/app-new\"].state'   # MIRROR within a second"
        "curl -s -X POST -H \"Authorization: Bearer \$(cat .stack/org-mirror/api-token)\" http://$ORGM_ADDR/api/v1/orgs/demo-src/sync"
        "curl -s http://$ORGM_ADDR/metrics | grep '^org_mirror_'"
    )
fi
