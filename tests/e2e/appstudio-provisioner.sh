#!/usr/bin/env bash
# appstudio-provisioner.sh — the appstudio-provisioner end to end: the Quay emulator's REST API
# (organizations, repositories, robots, permissions, plans) whose /v2/auth is the token server
# of a real docker-registry, the Kubernetes emulator (Secrets, TokenReview, SAR), real Redis,
# and skopeo pushing with the credentials the provisioner wrote into the Secrets.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BIN=$QS_BIN/appstudio-provisioner
SK=(skopeo --command-timeout 60s)
[ -x "$BIN" ] || qs_die "appstudio-provisioner binary missing: $BIN (run make)"
for c in redis reg-token quay kube; do
    if ! has_component "$c"; then
        skip "appstudio-provisioner end to end" "the stack has no $c"
        e2e_done
    fi
done

# ---------------------------------------------------------------------------- helpers

REDIS=$QS_REDIS_URL/5 # a database of our own: other e2e scripts share the server
RUN=$(qs_rand 3)      # unique names: the stack may be reused
WS=ws-$RUN
PREFIX=e2e-
ORG=$PREFIX$WS
QUAY_TOKEN=$(qs_rand 24)
PLATFORM=$(qs_rand 24)
P=(-H "Authorization: Bearer $PLATFORM")
KUBE=(-H "Authorization: Bearer $QS_KUBE_SA_TOKEN")

emu() { curl -s --max-time 10 -X "$2" -H 'Content-Type: application/json' ${4:+--data "$4"} "$1$3"; }
wait_for() { # wait_for SECONDS CMD... — until CMD succeeds
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# start_prov NAME VAR=VAL... — sets U (its URL), PLOG, PPID_
start_prov() {
    local name=$1 port
    shift
    port=$(qs_free_ports 1)
    U=http://127.0.0.1:$port
    PLOG=$QS_LOG_DIR/appstudio-provisioner-$name-$RUN.log # a reused stack keeps older logs
    qs_spawn "provisioner-$name" "$PLOG" env LISTEN_ADDR="127.0.0.1:$port" REDIS_URL="$REDIS" \
        QUAY_URL="$QS_QUAY_URL" QUAY_TOKEN_FILE="$E2E_TMP/quay-token" QUAY_REGISTRY="$QS_REG_TOKEN" \
        KUBE_API_URL="$QS_KUBE_URL" KUBE_TOKEN_FILE="$E2E_TMP/kube-token" \
        API_TOKEN_FILE="$E2E_TMP/api-token" ORG_PREFIX="$PREFIX" RETRY_BACKOFF=300ms \
        AUTH_CACHE_TTL=0 LOG_LEVEL=debug QUAY_DEBUG=true "$@" "$BIN"
    PPID_=$QS_LAST_PID
    qs_wait_http "provisioner-$name" "$U/healthz" "$PPID_" "$PLOG" 200 20
}

api() { # api METHOD PATH [BODY] — with the platform token; prints the body
    curl -s --max-time 10 -X "$1" "${P[@]}" -H 'Content-Type: application/json' ${3:+--data "$3"} "$U$2"
}
comp() { api GET "/api/v1/workspaces/$1/components/$2"; }
state_is() { [ "$(comp "$1" "$2" | jq -r .state)" = "$3" ]; }
gone() { [ "$(curl -s -o /dev/null -w '%{http_code}' "${P[@]}" "$U/api/v1/workspaces/$1/components/$2")" = 404 ]; }
quay_state() { emu "$QS_QUAY_URL" GET /_emulator/state; }
ws_gone() { [ "$(curl -s -o /dev/null -w '%{http_code}' "${P[@]}" "$U/api/v1/workspaces/$1")" = 404 ]; }
quay_calls() { emu "$QS_QUAY_URL" GET /_emulator/calls; }
# robot_token ORG SHORT — the robot's current token, as Quay's API gives it to the management token
robot_token() {
    curl -s --max-time 10 -H "Authorization: Bearer $(cat "$E2E_TMP/quay-token")" \
        "$QS_QUAY_URL/api/v1/organization/$1/robots/$2" | jq -r .token
}
# consistent ORG COMPONENT NAMESPACE — exactly one robot pair for the component, and both
# Secrets hold the tokens Quay has now
consistent() {
    local org=$1 c=$2 ns=$3
    [ "$(quay_state | jq -r --arg p "$org+${c}_" --arg o "$org" \
        '[.organizations[$o].robots[].name | select(startswith($p))] | sort | join(" ")')" = \
        "$org+${c}_pull $org+${c}_push" ] || return 1
    [ "$(secret "$ns" "$c-image-push" | jq -r '.auths[].auth' | base64 -d)" = \
        "$org+${c}_push:$(robot_token "$org" "${c}_push")" ] || return 1
    [ "$(secret "$ns" "$c-image-pull" | jq -r '.auths[].auth' | base64 -d)" = \
        "$org+${c}_pull:$(robot_token "$org" "${c}_pull")" ]
}
# ours_in NAMESPACE — how many Secrets of ours the namespace holds
ours_in() {
    curl -s "${KUBE[@]}" "$QS_KUBE_URL/api/v1/namespaces/$1/secrets?labelSelector=app.kubernetes.io/managed-by=appstudio-provisioner" |
        jq '.items | length'
}
# secret NS NAME — the Secret's .dockerconfigjson, decoded
secret() {
    curl -s --max-time 10 "${KUBE[@]}" "$QS_KUBE_URL/api/v1/namespaces/$1/secrets/$2" |
        jq -r '.data[".dockerconfigjson"] // empty' | base64 -d
}
# authfile NS NAME FILE — write the Secret's config as a skopeo authfile
authfile() { secret "$1" "$2" >"$3" && [ -s "$3" ]; }
auth_of() { jq -r '.auths[].auth' "$1" | base64 -d; } # "user:token"
push() { # push AUTHFILE REPO TAG
    "${SK[@]}" copy -q --dest-tls-verify=false --dest-authfile "$1" "oci:$E2E_TMP/img" \
        "docker://$QS_REG_TOKEN/$2:$3"
}
inspect() { "${SK[@]}" inspect --raw --tls-verify=false --authfile "$1" "docker://$QS_REG_TOKEN/$2:$3"; }
# matches_schema SCHEMA-FILE — is the JSON on stdin valid (JSON Schema, or an OpenAPI document's
# components.schemas.Component with nullable turned into JSON Schema's null type)?
matches_schema() {
    python3 -c '
import json, sys, jsonschema, yaml
doc = yaml.safe_load(open(sys.argv[1]))
if "openapi" in doc:
    def fix(s):
        if isinstance(s, dict):
            if s.pop("nullable", False) and "type" in s:
                s["type"] = [s["type"], "null"]
            for v in s.values():
                fix(v)
        return s
    doc = fix(doc["components"]["schemas"]["Component"])
jsonschema.validate(json.load(sys.stdin), doc)' "$1"
}

# ---------------------------------------------------------------------------- setup

printf '%s\n' "$QUAY_TOKEN" >"$E2E_TMP/quay-token"
printf '%s' "$QS_KUBE_SA_TOKEN" >"$E2E_TMP/kube-token"
printf '%s\n' "$PLATFORM" >"$E2E_TMP/api-token"
emu "$QS_QUAY_URL" POST /_emulator/api_tokens "{\"token\":\"$QUAY_TOKEN\",\"user\":\"appstudio\"}" >/dev/null
redis-cli -u "$REDIS" FLUSHDB >/dev/null
emu "$QS_QUAY_URL" DELETE /_emulator/faults >/dev/null # (a script stopped half-way may leave some)
emu "$QS_KUBE_URL" DELETE /_emulator/faults >/dev/null
tests/tools/mkimage.sh "$E2E_TMP/img" --layers 1 --size 128K --seed "prov-$RUN" >/dev/null

start_prov main
MAIN_LOG=$PLOG
check "readyz: Redis, Quay and Kubernetes reachable" wait_for 10 curl -sf "$U/readyz"
check "--healthcheck (the image's HEALTHCHECK) answers 0" env LISTEN_ADDR="${U#http://}" "$BIN" --healthcheck
expect_match "--help lists every setting" 'ORG_MODE.*QUAY_ORGANIZATION.*NAMESPACE_TEMPLATE.*KEEP_REPOSITORIES.*PROVISIONER_WORKERS' \
    "$("$BIN" --help | tr '\n' ' ')"

# ---------------------------------------------------------------------------- provision

resp=$(api PUT "/api/v1/workspaces/$WS/components/backend" '{"visibility":"public"}')
expect_eq "PUT component answers provisioning at once" provisioning "$(jq -r .state <<<"$resp")"
check "the component becomes ready" wait_for 20 state_is "$WS" backend ready
st=$(quay_state)
expect_eq "the organization exists" "$ORG" "$(jq -r --arg o "$ORG" '.organizations | keys[] | select(. == $o)' <<<"$st")"
expect_eq "the repository exists, public" true "$(jq -r --arg r "$ORG/backend" '.repositories[$r].is_public' <<<"$st")"
expect_eq "both robots exist" "$ORG+backend_pull $ORG+backend_push" \
    "$(jq -r --arg o "$ORG" '[.organizations[$o].robots[].name] | sort | join(" ")' <<<"$st")"
expect_eq "the push robot may write, the pull robot read" "write read" \
    "$(jq -r --arg r "$ORG/backend" --arg o "$ORG" '.repositories[$r].permissions | "\(.[$o + "+backend_push"]) \(.[$o + "+backend_pull"])"' <<<"$st")"
view=$(comp "$WS" backend)
expect_eq "the status names the image" "$QS_REG_TOKEN/$ORG/backend" "$(jq -r .image.url <<<"$view")"
expect_eq "the status names the credentials" "backend-image-push backend-image-pull $ORG+backend_push $ORG+backend_pull" \
    "$(jq -r '.credentials | "\(.push_secret) \(.pull_secret) \(.push_robot) \(.pull_robot)"' <<<"$view")"
check "generated_at is set" test "$(jq -r .credentials.generated_at <<<"$view")" != null

check "the push Secret exists in the workspace's namespace" authfile "$WS" backend-image-push "$E2E_TMP/push.json"
expect_eq "its key is the repository" "$QS_REG_TOKEN/$ORG/backend" "$(jq -r '.auths | keys[0]' "$E2E_TMP/push.json")"
sec=$(curl -s "${KUBE[@]}" "$QS_KUBE_URL/api/v1/namespaces/$WS/secrets/backend-image-push")
expect_eq "it is a dockerconfigjson Secret labelled as ours" "kubernetes.io/dockerconfigjson appstudio-provisioner" \
    "$(jq -r '"\(.type) \(.metadata.labels["app.kubernetes.io/managed-by"])"' <<<"$sec")"
expect_eq "its user is the push robot" "$ORG+backend_push" "$(auth_of "$E2E_TMP/push.json" | cut -d: -f1)" # (never print the token)
check "skopeo pushes with the push Secret's credentials" push "$E2E_TMP/push.json" "$ORG/backend" v1
check "and the image is there" inspect "$E2E_TMP/push.json" "$ORG/backend" v1
check "the pull Secret exists" authfile "$WS" backend-image-pull "$E2E_TMP/pull.json"
check "the pull Secret's robot may pull" inspect "$E2E_TMP/pull.json" "$ORG/backend" v1
if push "$E2E_TMP/pull.json" "$ORG/backend" v2 >/dev/null 2>&1; then
    e2e__not_ok "the pull Secret's robot may not push"
else
    e2e__ok "the pull Secret's robot may not push"
fi
ev=$(redis-cli -u "$REDIS" XRANGE quayside:events - + | grep -F "\"repository\":\"backend\"" | grep -F "\"namespace\":\"$ORG\"" || true)
expect_eq "a repository.created event names the repository" "repository.created $QS_QUAY_URL" \
    "$(jq -r '"repository.created http://\(.quay)"' <<<"$ev" 2>/dev/null | head -n 1)"
expect_eq "the event carries workspace, component and visibility" "$WS backend public" \
    "$(jq -r '"\(.workspace) \(.component) \(.visibility)"' <<<"$ev" 2>/dev/null | head -n 1)"
check "the event matches proto/repository-created-event.schema.json" \
    matches_schema "$QS_ROOT/proto/repository-created-event.schema.json" <<<"$(head -n 1 <<<"$ev")"
check "the component view matches the OpenAPI document" \
    matches_schema "$QS_ROOT/proto/appstudio-provisioner.openapi.yaml" <<<"$view"

# ---------------------------------------------------------------------------- repeat = no-op

emu "$QS_QUAY_URL" DELETE /_emulator/writes >/dev/null
emu "$QS_KUBE_URL" DELETE /_emulator/calls >/dev/null
gen=$(api PUT "/api/v1/workspaces/$WS/components/backend" '{"visibility":"public"}' | jq -r .generation)
check "the repeated PUT becomes ready" wait_for 20 state_is "$WS" backend ready
expect_eq "the repeated PUT was run (observed generation $gen)" "$gen" "$(comp "$WS" backend | jq -r .observed_generation)"
expect_eq "repeating the PUT wrote nothing to Quay" "[]" "$(emu "$QS_QUAY_URL" GET /_emulator/writes | jq -c .)"
expect_eq "repeating the PUT only read the Secrets" "GET GET" \
    "$(emu "$QS_KUBE_URL" GET /_emulator/calls | jq -r '[to_entries[] | select(.key | contains("/secrets")) | .key | split(" ")[0]] | join(" ")')"
expect_eq "repeating published no second event" 1 \
    "$(redis-cli -u "$REDIS" XRANGE quayside:events - + | grep -F "\"namespace\":\"$ORG\"" | grep -cF '"repository":"backend"')"

# ---------------------------------------------------------------------------- rotation

old_gen_at=$(comp "$WS" backend | jq -r .credentials.generated_at)
sleep 1 # generated_at has a resolution of one second
api POST "/api/v1/workspaces/$WS/components/backend/rotate" >/dev/null
check "the rotation finishes" wait_for 20 state_is "$WS" backend ready
if inspect "$E2E_TMP/push.json" "$ORG/backend" v1 >/dev/null 2>&1; then
    e2e__not_ok "after rotation the old push token fails"
else
    e2e__ok "after rotation the old push token fails"
fi
if inspect "$E2E_TMP/pull.json" "$ORG/backend" v1 >/dev/null 2>&1; then
    e2e__not_ok "after rotation the old pull token fails"
else
    e2e__ok "after rotation the old pull token fails"
fi
check "the rewritten push Secret" authfile "$WS" backend-image-push "$E2E_TMP/push2.json"
check "the new push Secret pushes" push "$E2E_TMP/push2.json" "$ORG/backend" v2
pull_new() { authfile "$WS" backend-image-pull "$E2E_TMP/pull2.json" && inspect "$E2E_TMP/pull2.json" "$ORG/backend" v2; }
check "the new pull Secret pulls" pull_new
check "generated_at moved on" test "$(comp "$WS" backend | jq -r .credentials.generated_at)" != "$old_gen_at"

# ---------------------------------------------------------------------------- visibility

api PATCH "/api/v1/workspaces/$WS/components/backend" '{"visibility":"private"}' >/dev/null
check "PATCH visibility finishes" wait_for 20 state_is "$WS" backend ready
expect_eq "the repository is private now" false "$(quay_state | jq -r --arg r "$ORG/backend" '.repositories[$r].is_public')"
expect_eq "the status says private" private "$(comp "$WS" backend | jq -r .image.visibility)"
api PUT "/api/v1/workspaces/$WS/components/backend" >/dev/null
check "a PUT without a visibility finishes" wait_for 20 state_is "$WS" backend ready
expect_eq "and keeps the repository private (DEFAULT_VISIBILITY is for new components)" false \
    "$(quay_state | jq -r --arg r "$ORG/backend" '.repositories[$r].is_public')"

# ---------------------------------------------------------------------------- Quay's plan limit

WS402=plan-$RUN
emu "$QS_QUAY_URL" PUT /_emulator/plans "{\"namespace\":\"$PREFIX$WS402\",\"private_repos\":0}" >/dev/null
api PUT "/api/v1/workspaces/$WS402/components/secret-app" '{"visibility":"private"}' >/dev/null
check "a private repository over the plan fails" wait_for 20 state_is "$WS402" secret-app failed
expect_match "with Quay's 402 in a clear message" 'payment required \(402\).*private repositories' \
    "$(comp "$WS402" secret-app | jq -r .message)"
expect_match "which ends with Quay's own message" ': Payment Required$' "$(comp "$WS402" secret-app | jq -r .message)"
api PUT "/api/v1/workspaces/$WS402/components/open-app" '{"visibility":"public"}' >/dev/null
check "a public repository in that organization is fine" wait_for 20 state_is "$WS402" open-app ready
api PATCH "/api/v1/workspaces/$WS402/components/open-app" '{"visibility":"private"}' >/dev/null
check "making it private over the plan fails" wait_for 20 state_is "$WS402" open-app failed
expect_match "with the 402 of the visibility change" 'change visibility: payment required \(402\)' \
    "$(comp "$WS402" open-app | jq -r .message)"
expect_eq "and the repository stays public, as the status says" "true public" \
    "$(quay_state | jq -r --arg r "$PREFIX$WS402/open-app" '.repositories[$r].is_public') $(comp "$WS402" open-app | jq -r .image.visibility)"

# ---------------------------------------------------------------------------- Quay 502 twice

emu "$QS_QUAY_URL" DELETE /_emulator/calls >/dev/null
emu "$QS_QUAY_URL" POST /_emulator/faults '{"path_prefix":"/api/v1/repository","method":"POST","status":502,"count":2}' >/dev/null
api PUT "/api/v1/workspaces/$WS/components/flaky" >/dev/null
check "Quay answering 502 twice: the component still becomes ready" wait_for 30 state_is "$WS" flaky ready
expect_eq "the repository create was tried three times" 3 \
    "$(emu "$QS_QUAY_URL" GET /_emulator/calls | jq -r '.["POST /api/v1/repository"] // 0')"
emu "$QS_QUAY_URL" DELETE /_emulator/faults >/dev/null

# ---------------------------------------------------------------------------- Kubernetes down

emu "$QS_KUBE_URL" DELETE /_emulator/calls >/dev/null
emu "$QS_KUBE_URL" POST /_emulator/faults "{\"path_prefix\":\"/api/v1/namespaces/$WS/secrets\",\"status\":503,\"count\":6}" >/dev/null
api PUT "/api/v1/workspaces/$WS/components/k8s-down" >/dev/null
check "the Kubernetes API down for a while: the component becomes ready" wait_for 60 state_is "$WS" k8s-down ready
expect_match "the run was retried by the queue" '"msg":"run failed, will retry".*"component":"k8s-down"' "$(cat "$MAIN_LOG")"
check "its Secret exists afterwards" authfile "$WS" k8s-down-image-push "$E2E_TMP/k8s.json"
emu "$QS_KUBE_URL" DELETE /_emulator/faults >/dev/null

# ---------------------------------------------------------------------------- callers

A_URL="$U/api/v1/workspaces/$WS/components/backend"
expect_status "$A_URL" 401
expect_status "$A_URL" 401 -H "Authorization: Bearer not-a-token"
expect_status "$A_URL" 403 -H "Authorization: Bearer $QS_TOKEN_BOB"
emu "$QS_KUBE_URL" POST /_emulator/permissions \
    "{\"user\":\"alice\",\"namespace\":\"$WS\",\"verb\":\"create\",\"group\":\"\",\"resource\":\"secrets\"}" >/dev/null
expect_status "$A_URL" 200 -H "Authorization: Bearer $QS_TOKEN_ALICE"
expect_status "$U/api/v1/workspaces/other-$RUN/components/backend" 403 -H "Authorization: Bearer $QS_TOKEN_ALICE"
expect_eq "a caller without the SAR cannot provision" 403 \
    "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $QS_TOKEN_BOB" "$U/api/v1/workspaces/$WS/components/bobs")"
check "and nothing was recorded for it" gone "$WS" bobs
expect_eq "a refusal is JSON" forbidden "$(curl -s -H "Authorization: Bearer $QS_TOKEN_BOB" "$A_URL" | jq -r .error)"

# the platform's token rotates with its file (a Secret update swaps the file)
PLATFORM2=$(qs_rand 20)
printf '%s\n' "$PLATFORM2" >"$E2E_TMP/api-token.new"
mv "$E2E_TMP/api-token.new" "$E2E_TMP/api-token"
expect_status "$A_URL" 200 -H "Authorization: Bearer $PLATFORM2"
expect_status "$A_URL" 401 "${P[@]}"
P=(-H "Authorization: Bearer $PLATFORM2")
expect_status "$A_URL" 200 "${P[@]}"

# the Quay management token too: the old one revoked, the file rewritten, work goes on
QUAY_TOKEN2=$(qs_rand 24)
emu "$QS_QUAY_URL" POST /_emulator/api_tokens "{\"token\":\"$QUAY_TOKEN2\",\"user\":\"appstudio\"}" >/dev/null
printf '%s\n' "$QUAY_TOKEN2" >"$E2E_TMP/quay-token.new"
mv "$E2E_TMP/quay-token.new" "$E2E_TMP/quay-token"
emu "$QS_QUAY_URL" DELETE "/_emulator/api_tokens/$QUAY_TOKEN" >/dev/null
api PUT "/api/v1/workspaces/$WS/components/after-rotation" >/dev/null
check "a rotated QUAY_TOKEN_FILE is used at once" wait_for 20 state_is "$WS" after-rotation ready

# ---------------------------------------------------------------------------- bad input

expect_status "$A_URL" 400 -X PATCH "${P[@]}" --data '{"visibility":"secret"}'
expect_status "$A_URL" 400 -X PATCH "${P[@]}" --data '{"visibility":"public","extra":1}'
expect_status "$A_URL" 400 -X PATCH "${P[@]}" --data '{nope'
expect_status "$U/api/v1/workspaces/Upper/components/x" 400 -X PUT "${P[@]}"
expect_status "$U/api/v1/workspaces/$WS/components/nothing" 404 "${P[@]}"
expect_status "$A_URL" 413 -X PATCH "${P[@]}" --data "{\"visibility\":\"$(head -c 8000 /dev/zero | tr '\0' a)\"}"
# bad_input NAME EXPECTED-STATUS EXPECTED-ERROR CURL-ARGS... — a JSON error with that status
bad_input() {
    local name=$1 want=$2 code=$3 out
    shift 3
    out=$(curl -s --max-time 10 -w '\n%{http_code}' "${P[@]}" "$@")
    expect_eq "$name" "$want $code" "$(tail -n 1 <<<"$out") $(sed '$d' <<<"$out" | jq -r .error 2>/dev/null)"
}
bad_input "a visibility of the wrong type is 400" 400 invalid_visibility -X PUT --data '{"visibility":1}' "$A_URL"
bad_input "a null visibility is 400" 400 invalid_visibility -X PATCH --data '{"visibility":null}' "$A_URL"
bad_input "a body that is not an object is 400" 400 invalid_body -X PUT --data '["public"]' "$A_URL"
bad_input "an unknown key is 400" 400 invalid_body -X PUT --data '{"visbility":"public"}' "$A_URL"
bad_input "a PATCH without visibility is 400" 400 invalid_visibility -X PATCH --data '{}' "$A_URL"
bad_input "rotate with a body is 400" 400 invalid_body -X POST --data '{"now":true}' "$A_URL/rotate"
bad_input "PUT of a workspace with a body is 400" 400 invalid_body -X PUT --data '{"org":"x"}' "$U/api/v1/workspaces/$WS"
bad_input "a component name that is not ASCII is 400" 400 invalid_component "$U/api/v1/workspaces/$WS/components/%C3%A9t%C3%A9"
bad_input "a 300-character component name is 400" 400 invalid_component \
    "$U/api/v1/workspaces/$WS/components/$(head -c 300 /dev/zero | tr '\0' a)"
bad_input "a workspace that makes no namespace is 400" 400 invalid_workspace \
    "$U/api/v1/workspaces/$(head -c 70 /dev/zero | tr '\0' a)/components/x"
bad_input "PATCH of an unknown component is 404" 404 not_found -X PATCH --data '{"visibility":"public"}' "$U/api/v1/workspaces/$WS/components/nothing"
bad_input "rotating an unknown component is 404" 404 not_found -X POST "$U/api/v1/workspaces/$WS/components/nothing/rotate"
bad_input "deleting an unknown component is 404" 404 not_found -X DELETE "$U/api/v1/workspaces/$WS/components/nothing"
bad_input "an unknown workspace is 404" 404 not_found "$U/api/v1/workspaces/none-$RUN/components"
bad_input "POST on a component is 405" 405 method_not_allowed -X POST "$A_URL"
bad_input "PUT on the component list is 405" 405 method_not_allowed -X PUT "$U/api/v1/workspaces/$WS/components"
check "the provisioner is still up after all that" curl -sf "$U/healthz"

# ---------------------------------------------------------------------------- concurrency

# every Quay call 150 ms late, so requests arrive while runs are in flight
emu "$QS_QUAY_URL" POST /_emulator/faults '{"path_prefix":"/api/v1/","status":0,"delay_ms":150,"count":-1}' >/dev/null
api PUT "/api/v1/workspaces/$WS/components/race" '{"visibility":"public"}' >/dev/null
bg=() # (a bare `wait` would wait for the provisioner too)
for _ in 1 2 3 4 5; do
    api PUT "/api/v1/workspaces/$WS/components/race" '{"visibility":"public"}' >/dev/null &
    bg+=($!)
    api POST "/api/v1/workspaces/$WS/components/race/rotate" >/dev/null &
    bg+=($!)
    sleep 0.2
done
wait "${bg[@]}"
check "concurrent PUTs and rotations settle ready" wait_for 60 state_is "$WS" race ready
check "one robot pair, and both Secrets hold Quay's current tokens" consistent "$ORG" race "$WS"

api DELETE "/api/v1/workspaces/$WS/components/race" >/dev/null &
bg=($!)
sleep 0.1
put_status=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "${P[@]}" "$U/api/v1/workspaces/$WS/components/race")
wait "${bg[@]}"
expect_match "a PUT during a DELETE is refused (409) or runs after it (202)" '^(409|202)$' "$put_status"
settled() { gone "$WS" race || state_is "$WS" race ready; }
check "PUT during DELETE settles" wait_for 60 settled
if gone "$WS" race; then
    expect_eq "PUT during DELETE: nothing of the component is left" "0 0" \
        "$(quay_state | jq -r --arg o "$ORG" '[.organizations[$o].robots[].name | select(startswith($o + "+race_"))] | length') $(secret "$WS" race-image-push | wc -c)"
else
    check "PUT during DELETE: one robot pair, Secrets match Quay" consistent "$ORG" race "$WS"
fi

# a workspace deleted while its components are being provisioned
WSR=race-$RUN
for c in one two three; do api PUT "/api/v1/workspaces/$WSR/components/$c" >/dev/null; done
wait_for 10 bash -c "curl -s $QS_QUAY_URL/_emulator/calls | grep -q 'robots/one_push'" || true
api DELETE "/api/v1/workspaces/$WSR" >/dev/null
check "a workspace deleted mid-provisioning goes" wait_for 60 ws_gone "$WSR"
sleep 0.5 # a run that was still going would write now
st=$(quay_state)
expect_eq "no organization, repository or robot of it is left" "null 0" \
    "$(jq -r --arg o "$PREFIX$WSR" '"\(.organizations[$o]) \([.repositories | keys[] | select(startswith($o + "/"))] | length)"' <<<"$st")"
expect_eq "no Secret of it is left" 0 "$(ours_in "$WSR")"
expect_eq "no record of it is left" "" "$(redis-cli -u "$REDIS" --scan --pattern "prov:*$WSR*")"
emu "$QS_QUAY_URL" DELETE /_emulator/faults >/dev/null

# ---------------------------------------------------------------------------- delete

api DELETE "/api/v1/workspaces/$WS/components/backend" >/dev/null
check "DELETE removes the component" wait_for 20 gone "$WS" backend
st=$(quay_state)
expect_eq "its repository is gone" null "$(jq -r --arg r "$ORG/backend" '.repositories[$r]' <<<"$st")"
expect_eq "its robots are gone" "" \
    "$(jq -r --arg o "$ORG" '[.organizations[$o].robots[].name | select(test("backend_"))] | join(" ")' <<<"$st")"
expect_eq "its Secrets are gone" "" \
    "$(curl -s "${KUBE[@]}" "$QS_KUBE_URL/api/v1/namespaces/$WS/secrets?labelSelector=app.kubernetes.io/managed-by=appstudio-provisioner" |
        jq -r '[.items[].metadata.name | select(startswith("backend-"))] | join(" ")')"
api DELETE "/api/v1/workspaces/$WS" >/dev/null
check "DELETE workspace removes it" wait_for 30 ws_gone "$WS"
st=$(quay_state)
expect_eq "the organization is gone" null "$(jq -r --arg o "$ORG" '.organizations[$o]' <<<"$st")"
expect_eq "no repository of it is left" 0 "$(jq -r --arg o "$ORG/" '[.repositories | keys[] | select(startswith($o))] | length' <<<"$st")"
expect_eq "no Secret of ours is left in the namespace" 0 "$(ours_in "$WS")"
expect_eq "no record is left in Redis" "" "$(redis-cli -u "$REDIS" --scan --pattern "prov:*$WS*")"

# ---------------------------------------------------------------------------- metrics

m=$(curl -s "$U/metrics")
printf '%s\n' "$m" >"$QS_LOG_DIR/appstudio-provisioner-metrics.log" # scanned for tokens below
expect_match "components per state are exposed (the two over the plan failed)" 'provisioner_components\{state="failed"\} 2' "$m"
expect_match "provisioning latency is exposed" 'provisioner_provisioning_seconds_count [1-9]' "$m"
expect_match "Quay calls are counted" 'quay_api_requests_total\{quay="[^"]*",method="POST",status="402"\} 2' "$m"

# ---------------------------------------------------------------------------- SIGTERM

WSS=sig-$RUN
# reached CALL — Quay has seen a call whose "METHOD path" contains CALL
reached() { quay_calls | jq -e --arg c "$1" 'keys | any(contains($c))' >/dev/null; }
stopped() { ! kill -0 "$1" 2>/dev/null; }
emu "$QS_QUAY_URL" POST /_emulator/faults \
    '{"path_prefix":"/api/v1/organization/","method":"PUT","status":0,"delay_ms":1500,"count":1}' >/dev/null
api PUT "/api/v1/workspaces/$WSS/components/graceful" >/dev/null
wait_for 10 reached robots/graceful_push || true
kill -TERM "$PPID_" 2>/dev/null || true
wait_for 30 stopped "$PPID_" || true
expect_match "SIGTERM stops it cleanly" '"msg":"stopped"' "$(tail -n 3 "$MAIN_LOG")"
expect_match "a run in flight at SIGTERM finishes first" '"msg":"component ready".*"component":"graceful"' "$(cat "$MAIN_LOG")"

emu "$QS_QUAY_URL" POST /_emulator/faults \
    '{"path_prefix":"/api/v1/organization/","method":"PUT","status":0,"delay_ms":5000,"count":1}' >/dev/null
start_prov abandon GRACE_PERIOD=300ms
api PUT "/api/v1/workspaces/$WSS/components/abandoned" >/dev/null
wait_for 10 reached robots/abandoned_push || true
t0=$SECONDS
kill -TERM "$PPID_" 2>/dev/null || true
check "past GRACE_PERIOD a run is abandoned and the process exits" wait_for 4 stopped "$PPID_"
expect_match "its task is handed back to the queue" 'runs abandoned, their tasks handed back' "$(cat "$PLOG")"
start_prov resume
check "another process takes the task at once and finishes it" wait_for 15 state_is "$WSS" abandoned ready
check "the abandoned component is consistent" consistent "$PREFIX$WSS" abandoned "$WSS"
expect_eq "the task did not wait for its visibility timeout" yes "$([ $((SECONDS - t0)) -lt 20 ] && echo yes || echo no)"
kill -TERM "$PPID_" 2>/dev/null || true
wait_for 20 stopped "$PPID_" || true
emu "$QS_QUAY_URL" DELETE /_emulator/faults >/dev/null

# ---------------------------------------------------------------------------- readiness

DEAD=$(qs_free_ports 1)
printf 'not-a-quay-token\n' >"$E2E_TMP/bad-quay-token"
# unready NAME REASON-REGEX VAR=VAL... — /readyz answers 503 naming what is missing
unready() {
    local name=$1 why=$2 body
    shift 2
    start_prov "unready-$name" "$@"
    body=$(curl -s --max-time 15 -w ' %{http_code}' "$U/readyz")
    expect_match "/readyz is 503 when $name is not there" "$why.* 503$" "$body"
    kill -TERM "$PPID_" 2>/dev/null || true
    wait_for 20 stopped "$PPID_" || true
}
unready redis 'Redis' REDIS_URL="redis://127.0.0.1:$DEAD"
unready quay 'Quay unreachable' QUAY_URL="http://127.0.0.1:$DEAD"
unready quay-token 'Quay refuses the management token' QUAY_TOKEN_FILE="$E2E_TMP/bad-quay-token"
unready kubernetes 'Kubernetes' KUBE_API_URL="http://127.0.0.1:$DEAD"

# ---------------------------------------------------------------------------- shared mode, namespace template, kept repositories

SHARED=shared-$RUN
curl -s -X POST -H "Authorization: Bearer $QUAY_TOKEN2" -H 'Content-Type: application/json' \
    --data "{\"name\":\"$SHARED\"}" "$QS_QUAY_URL/api/v1/organization/" >/dev/null
start_prov shared ORG_MODE=shared QUAY_ORGANIZATION="$SHARED" KEEP_REPOSITORIES=true NAMESPACE_TEMPLATE="t-{workspace}"
api PUT "/api/v1/workspaces/$WS/components/front" '{"visibility":"public"}' >/dev/null
check "shared mode: the component becomes ready" wait_for 20 state_is "$WS" front ready
expect_eq "shared mode: the repository is <ws>/<component> in the one organization" true \
    "$(quay_state | jq -r --arg r "$SHARED/$WS/front" '.repositories[$r].is_public')"
expect_eq "NAMESPACE_TEMPLATE: the component's namespace" "t-$WS" "$(comp "$WS" front | jq -r .namespace)"
shared_push() { authfile "t-$WS" front-image-push "$E2E_TMP/shared.json" && push "$E2E_TMP/shared.json" "$SHARED/$WS/front" v1; }
check "shared mode: the push Secret (in the templated namespace) pushes" shared_push
expect_eq "NAMESPACE_TEMPLATE: no Secret in the workspace-named namespace" 0 "$(ours_in "$WS")"
F_URL="$U/api/v1/workspaces/$WS/components/front"
expect_status "$F_URL" 403 -H "Authorization: Bearer $QS_TOKEN_ALICE"
emu "$QS_KUBE_URL" POST /_emulator/permissions \
    "{\"user\":\"alice\",\"namespace\":\"t-$WS\",\"verb\":\"create\",\"group\":\"\",\"resource\":\"secrets\"}" >/dev/null
expect_status "$F_URL" 200 -H "Authorization: Bearer $QS_TOKEN_ALICE"
api DELETE "/api/v1/workspaces/$WS/components/front" >/dev/null
check "KEEP_REPOSITORIES: the component is deleted" wait_for 20 gone "$WS" front
st=$(quay_state)
expect_eq "KEEP_REPOSITORIES: the repository is kept" true "$(jq -r --arg r "$SHARED/$WS/front" '.repositories[$r].is_public' <<<"$st")"
expect_eq "KEEP_REPOSITORIES: the robots are not" 0 "$(jq -r --arg o "$SHARED" '[.organizations[$o].robots[]] | length' <<<"$st")"
kill -TERM "$PPID_" 2>/dev/null || true

# ---------------------------------------------------------------------------- no secret in logs

leaks=0 looked=0
for f in "$E2E_TMP"/*.json; do
    auth=$(auth_of "$f" 2>/dev/null || true)
    tok=${auth#*:}
    [ -n "$tok" ] || continue
    looked=$((looked + 1))
    for log in "$QS_LOG_DIR"/appstudio-provisioner-*.log; do
        if grep -qF "$tok" "$log"; then leaks=$((leaks + 1)); fi
    done
done
for tok in "$QUAY_TOKEN" "$QUAY_TOKEN2" "$PLATFORM" "$PLATFORM2" "$QS_TOKEN_ALICE" "$QS_TOKEN_BOB" "$QS_KUBE_SA_TOKEN"; do
    for log in "$QS_LOG_DIR"/appstudio-provisioner-*.log; do
        if grep -qF "$tok" "$log"; then leaks=$((leaks + 1)); fi
    done
done
expect_eq "no token appears in any provisioner log line or the metrics" 0 "$leaks"
expect_eq "six robot tokens were looked for (push, pull, both rotated, two more)" 6 "$looked"

e2e_done
