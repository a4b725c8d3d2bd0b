# shellcheck shell=bash
# demo/omps.sh — `make run` snippet (sourced by tests/stack/run-demo.sh, see the comment above
# its snippet loop): omps on 127.0.0.1:8080 against the stack's Quay emulator (App Registry),
# Koji emulator and Redis. Two organizations: `demo` (private) and `demo-public` (public: true,
# made public with an OAuth token). A CNR token for both is registered with the Quay emulator
# and kept in .stack/omps/token; demo archives are generated into .stack/omps/, and the Koji
# build omps-op-1.0-1 of the stack's fixture gets one too.
OMPS_ADDR=127.0.0.1:8080
if [ ! -x build/release/bin/omps ]; then
    qs_info "build/release/bin/omps not built; omps not started"
elif [ -z "$QS_QUAY_URL" ] || [ -z "$QS_KOJI_URL" ] || [ -z "$QS_REDIS_URL" ]; then
    qs_info "omps needs the quay and koji emulators and redis; omps not started"
elif ss -Htln "sport = :${OMPS_ADDR##*:}" 2>/dev/null | grep -q .; then
    qs_info "port ${OMPS_ADDR##*:} is in use; omps not started"
else
    osec=$DIR/omps
    mkdir -p "$osec"
    (
        umask 077
        printf 'demo-%s\n' "$(qs_rand 16)" >"$osec/token"
        printf 'demo-oauth-%s\n' "$(qs_rand 16)" >"$osec/oauth-token"
    )
    omps_token=$(cat "$osec/token")
    curl -s -X POST -H 'Content-Type: application/json' \
        --data "{\"token\":\"$omps_token\",\"orgs\":[\"demo\",\"demo-public\"]}" \
        "$QS_QUAY_URL/_emulator/appr/tokens" >/dev/null || fail "registering the omps demo token failed"
    curl -s -X POST -H 'Content-Type: application/json' \
        --data "{\"token\":\"$(cat "$osec/oauth-token")\",\"orgs\":[\"demo-public\"],\"actions\":[\"admin\"]}" \
        "$QS_QUAY_URL/_emulator/appr/tokens" >/dev/null || fail "registering the omps OAuth token failed"
    cat >"$osec/omps.yaml" <<EOF
organizations:
  demo: {}
  demo-public:
    public: true
    oauth_token_file: $osec/oauth-token
EOF
    tests/tools/omps-manifests.sh flat "$osec/manifests" >/dev/null
    tests/tools/omps-manifests.sh nested "$osec/nested" >/dev/null
    build/release/bin/mkzip "$osec/manifests.zip" "$osec/manifests" || fail "mkzip failed"
    build/release/bin/mkzip "$osec/nested.zip" "$osec/nested" || fail "mkzip failed"
    koji_zip=$QS_KOJI_ROOT/packages/omps-op/1.0/1/files/operator-manifests/operator_manifests.zip
    mkdir -p "$(dirname "$koji_zip")"
    cp "$osec/manifests.zip" "$koji_zip"
    qs_spawn omps "$DIR/logs/omps.log" env LISTEN_ADDR="$OMPS_ADDR" QUAY_URL="$QS_QUAY_URL" \
        KOJIHUB_URL="$QS_KOJI_URL" KOJIROOT_URL="$QS_KOJI_ROOT_URL" REDIS_URL="$QS_REDIS_URL" \
        OMPS_CONF_FILE="$osec/omps.yaml" LOG_LEVEL=info "$ROOT/build/release/bin/omps"
    qs_wait_http omps "http://$OMPS_ADDR/healthz" "$QS_LAST_PID" "$DIR/logs/omps.log" 200 20 ||
        fail "omps did not start"
    started+=("omps   http://$OMPS_ADDR  (log .stack/logs/omps.log; CNR token in .stack/omps/token)")
    # shellcheck disable=SC2016 # printed for the user to run
    HOWTO+=(
        '# omps: push operator manifests (TOKEN is a CNR token the Quay emulator knows)'
        'TOKEN=$(cat .stack/omps/token)'
        "curl -X POST -H \"Authorization: \${TOKEN}\" -F \"file=@.stack/omps/manifests.zip\" http://$OMPS_ADDR/v2/demo/zipfile"
        "curl -X POST -H \"Authorization: \${TOKEN}\" -F \"file=@.stack/omps/manifests.zip\" http://$OMPS_ADDR/v1/demo/marketplace/zipfile/1.1.5"
        "curl -X POST -H \"Authorization: \${TOKEN}\" -F \"file=@.stack/omps/nested.zip\" http://$OMPS_ADDR/v2/demo-public/zipfile"
        "curl -X POST -H \"Authorization: \${TOKEN}\" http://$OMPS_ADDR/v2/demo/koji/omps-op-1.0-1"
        "curl -s -H \"Authorization: \${TOKEN}\" \"\$QS_QUAY_URL/cnr/api/v1/packages?namespace=demo\" | jq '.[] | {name, releases}'"
        'curl -s "$QS_QUAY_URL/_emulator/appr/repos" | jq .'
        "curl -X DELETE -H \"Authorization: \${TOKEN}\" http://$OMPS_ADDR/v2/demo/marketplace/1.1.5"
        "curl -X DELETE -H \"Authorization: \${TOKEN}\" http://$OMPS_ADDR/v2/demo/marketplace"
        "curl -s http://$OMPS_ADDR/v2/health/ping | jq ."
        "redis-cli -u \"\$QS_REDIS_URL\" XREVRANGE quayside:events + - COUNT 3"
    )
fi
