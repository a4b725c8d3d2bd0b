# shellcheck shell=bash
# demo/appstudio-provisioner.sh — `make run` snippet (sourced by tests/stack/run-demo.sh, see the
# comment above its snippet loop): the appstudio-provisioner on 127.0.0.1:8092 against the
# stack's Quay emulator (REST API v1; its /v2/auth is the token server of reg-token, so the
# robots it creates push there), the Kubernetes emulator (Secrets, TokenReview, SAR) and Redis.
# Organizations are demo-<workspace>. The platform token is .stack/provisioner/api-token; the
# stack's user alice may also call it for the workspace "team-a" (she may create secrets there).
PROV_ADDR=127.0.0.1:8092
if [ ! -x build/release/bin/appstudio-provisioner ]; then
    qs_info "build/release/bin/appstudio-provisioner not built; the provisioner not started"
elif [ -z "$QS_QUAY_URL" ] || [ -z "$QS_KUBE_URL" ] || [ -z "$QS_REDIS_URL" ] || [ -z "$QS_REG_TOKEN" ]; then
    qs_info "the provisioner needs the quay and kube emulators, reg-token and redis; not started"
elif ss -Htln "sport = :${PROV_ADDR##*:}" 2>/dev/null | grep -q .; then
    qs_info "port ${PROV_ADDR##*:} is in use; the provisioner not started"
else
    psec=$DIR/provisioner
    mkdir -p "$psec"
    (
        umask 077
        printf 'demo-quay-%s\n' "$(qs_rand 16)" >"$psec/quay-token"
        printf 'demo-platform-%s\n' "$(qs_rand 16)" >"$psec/api-token"
        printf '%s' "$QS_KUBE_SA_TOKEN" >"$psec/kube-token"
    )
    curl -s -X POST -H 'Content-Type: application/json' \
        --data "{\"token\":\"$(cat "$psec/quay-token")\",\"user\":\"appstudio\"}" \
        "$QS_QUAY_URL/_emulator/api_tokens" >/dev/null || fail "registering the provisioner's Quay token failed"
    curl -s -X POST -H 'Content-Type: application/json' \
        --data '{"user":"alice","namespace":"team-a","verb":"create","group":"","resource":"secrets"}' \
        "$QS_KUBE_URL/_emulator/permissions" >/dev/null || fail "granting alice secrets in team-a failed"
    qs_spawn appstudio-provisioner "$DIR/logs/appstudio-provisioner.log" env \
        LISTEN_ADDR="$PROV_ADDR" REDIS_URL="$QS_REDIS_URL" QUAY_URL="$QS_QUAY_URL" \
        QUAY_TOKEN_FILE="$psec/quay-token" QUAY_REGISTRY="$QS_REG_TOKEN" ORG_PREFIX=demo- \
        KUBE_API_URL="$QS_KUBE_URL" KUBE_TOKEN_FILE="$psec/kube-token" \
        API_TOKEN_FILE="$psec/api-token" LOG_LEVEL=info "$ROOT/build/release/bin/appstudio-provisioner"
    qs_wait_http appstudio-provisioner "http://$PROV_ADDR/healthz" "$QS_LAST_PID" \
        "$DIR/logs/appstudio-provisioner.log" 200 20 || fail "the provisioner did not start"
    started+=("appstudio-provisioner http://$PROV_ADDR  (log .stack/logs/appstudio-provisioner.log; platform token in .stack/provisioner/api-token)")
    # shellcheck disable=SC2016 # printed for the user to run
    HOWTO+=(
        '# appstudio-provisioner: a Quay organization per workspace, a repository, robots and Secrets per component'
        'P="Authorization: Bearer $(cat .stack/provisioner/api-token)"'
        "curl -s -X PUT -H \"\$P\" -d '{\"visibility\":\"public\"}' http://$PROV_ADDR/api/v1/workspaces/team-a/components/backend | jq ."
        "curl -s -H \"\$P\" http://$PROV_ADDR/api/v1/workspaces/team-a/components/backend | jq '{state, image, credentials}'"
        "curl -s -H \"Authorization: Bearer \$QS_TOKEN_ALICE\" http://$PROV_ADDR/api/v1/workspaces/team-a/components | jq '.components[].state'"
        "curl -s -H \"Authorization: Bearer \$QS_TOKEN_BOB\" http://$PROV_ADDR/api/v1/workspaces/team-a/components   # 403"
        'curl -s -H "Authorization: Bearer $QS_KUBE_SA_TOKEN" $QS_KUBE_URL/api/v1/namespaces/team-a/secrets/backend-image-push | jq -r ".data[\".dockerconfigjson\"]" | base64 -d > /tmp/push-auth.json'
        "skopeo copy --all --dest-tls-verify=false --dest-authfile /tmp/push-auth.json oci:.stack/demo-image docker://$QS_REG_TOKEN/demo-team-a/backend:v1"
        "curl -s -X POST -H \"\$P\" http://$PROV_ADDR/api/v1/workspaces/team-a/components/backend/rotate | jq .state"
        "curl -s -X PATCH -H \"\$P\" -d '{\"visibility\":\"private\"}' http://$PROV_ADDR/api/v1/workspaces/team-a/components/backend | jq .state"
        'curl -s "$QS_QUAY_URL/_emulator/state" | jq .'
        "curl -s -X DELETE -H \"\$P\" http://$PROV_ADDR/api/v1/workspaces/team-a | jq .state"
        "curl -s http://$PROV_ADDR/metrics | grep ^provisioner_"
    )
fi
