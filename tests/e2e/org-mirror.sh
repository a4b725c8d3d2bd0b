#!/usr/bin/env bash
# org-mirror.sh — the org-mirror service end to end: two Quay emulator instances started here
# (source and destination, REST API v1 with tokens and a write log), the stack's Redis (a
# database of its own), and for copy mode the stack's real registries with the mirror
# service's workers doing the copies. Checks, in order:
#   - 250 source repositories (3 pages): the first run creates and configures every one, with
#     the exact mirror config; a second run writes nothing; RECREATE_MIRROR_CONFIG PUTs all;
#     a rotated source password is PUT to every mirror by itself, once
#   - DRY_RUN writes nothing, and its plan (served and logged) names every kind of change
#   - a refused source token and a missing robot fail their organisations — clear errors in
#     GET /api/v1/orgs and a non-zero --once — while the other organisation goes on
#   - SIGTERM stops --once promptly; DEBUG=true logs every Quay call
#   - injected 503s and 429s are retried; a repository.created event is mirrored in seconds
#   - the HTTP API's errors (401/403/404/405/409, JSON; two POSTs at once: one run) and metrics
#   - a Quay answering an HTML 500 page or garbage JSON fails the organisation cleanly
#   - ORG_MIRROR_CONFIG: another destination organization, robot, globs, interval, visibility
#   - MODE=copy: tags matching the globs land in the destination registry, digests equal
#   - no token or password in any log
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BIN=$QS_BIN/org-mirror
EMU=$QS_BIN/quay-emulator
[ -x "$BIN" ] || qs_die "org-mirror binary missing: $BIN (run make)"
[ -x "$EMU" ] || qs_die "quay emulator missing: $EMU (run make)"
REDIS=$QS_REDIS_URL/9 # a database of our own (other e2e scripts use others): queue, status, events
redis-cli -u "$REDIS" flushdb >/dev/null
OM_PIDS=()
stop_ours() { # the long-running processes this script started (the stack stops the rest)
    local p
    for p in "${OM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
}
trap 'stop_ours; rm -rf -- "$E2E_TMP"' EXIT

# ---------------------------------------------------------------------------- helpers

wait_for() { # wait_for SECONDS CMD... — until CMD succeeds
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

start_emu() { # start_emu NAME — sets EMU_URL, EMU_HOST
    local pf=$E2E_TMP/emu-$1.port
    : >"$QS_LOG_DIR/org-mirror-emu-$1.log" # logs of an earlier run on the same stack
    qs_spawn "quay-$1" "$QS_LOG_DIR/org-mirror-emu-$1.log" env QUAY_EMU_LISTEN=127.0.0.1:0 \
        EMU_PORT_FILE="$pf" "$EMU"
    OM_PIDS+=("$QS_LAST_PID")
    wait_for 10 test -s "$pf" || qs_die "quay emulator $1 did not start"
    EMU_HOST=127.0.0.1:$(cat "$pf")
    EMU_URL=http://$EMU_HOST
    qs_wait_http "quay-$1" "$EMU_URL/_emulator/health" "$QS_LAST_PID" "$QS_LOG_DIR/org-mirror-emu-$1.log"
}

emu() { curl -s --max-time 20 -X "$2" -H 'Content-Type: application/json' ${4:+--data "$4"} "$1$3"; }
emu_file() { curl -s --max-time 20 -X POST -H 'Content-Type: application/json' --data-binary "@$3" "$1$2"; }
dst_api() { curl -s --max-time 10 -X "$1" -H "Authorization: Bearer $DST_TOKEN" ${3:+--data "$3"} "$DST/api/v1$2"; }
writes() { emu "$DST" GET /_emulator/writes; }
nwrites() { writes | jq length; }
state() { emu "$DST" GET /_emulator/state; }

# seed_repos URL NS PREFIX COUNT — COUNT repositories PREFIX000.. in NS
seed_repos() {
    jq -n --arg ns "$2" --arg p "$3" --argjson n "$4" \
        '{repositories: [range(0; $n) | {namespace: $ns, name: ($p + (. | tostring | ("000" + .)[-3:]))}]}' \
        >"$E2E_TMP/seed.json"
    emu_file "$1" /_emulator/seed "$E2E_TMP/seed.json" >/dev/null
}

SEC=$E2E_TMP/secrets
mkdir -p "$SEC/src" "$SEC/dst" "$SEC/robots" "$SEC/creds"
SRC_TOKEN=$(qs_rand 24)
DST_TOKEN=$(qs_rand 24)
BAD_TOKEN=$(qs_rand 24)
SVC_PASS=$(qs_rand 20)
SVC_PASS2=$(qs_rand 22) # the rotated one
API_TOKEN=$(qs_rand 24)
printf '%s\n' "$API_TOKEN" >"$E2E_TMP/api-token"
printf 'svc-reader\n' >"$SEC/creds/quay_username"
printf '%s\n' "$SVC_PASS" >"$SEC/creds/quay_password"
for org in acme badtok norobot; do
    printf '%s\n' "$DST_TOKEN" >"$SEC/dst/$org"
    printf 'mirror\n' >"$SEC/robots/$org" # a short name: org+mirror
done
printf '%s\n' "$SRC_TOKEN" >"$SEC/src/acme"
printf '%s\n' "$SRC_TOKEN" >"$SEC/src/norobot"
printf '%s\n' "$BAD_TOKEN" >"$SEC/src/badtok" # not known to the source
printf 'acme+mirror\n' >"$SEC/robots/acme"   # the full form works too

start_emu source
SRC=$EMU_URL SRC_HOST=$EMU_HOST
start_emu destination
DST=$EMU_URL
emu "$SRC" POST /_emulator/api_tokens "{\"token\":\"$SRC_TOKEN\",\"user\":\"reader\",\"scopes\":[\"repo:read\"]}" >/dev/null
emu "$DST" POST /_emulator/api_tokens "{\"token\":\"$DST_TOKEN\",\"user\":\"mirror-admin\",\"scopes\":[\"repo:read\",\"repo:write\",\"repo:admin\",\"repo:create\",\"org:admin\"]}" >/dev/null
emu "$SRC" POST /_emulator/seed '{"organizations":["acme","badtok","norobot"]}' >/dev/null
seed_repos "$SRC" acme app 250
seed_repos "$SRC" badtok b 3
seed_repos "$SRC" norobot n 3
emu "$DST" POST /_emulator/seed \
    '{"organizations":["acme","badtok","norobot"],"robots":[{"org":"acme","short":"mirror"},{"org":"badtok","short":"mirror"}]}' >/dev/null

COMMON=(REDIS_URL="$REDIS" SOURCE_REGISTRY="http://$SRC_HOST" DESTINATION_REGISTRY="$DST"
    SOURCE_TOKENS_DIR="$SEC/src" DESTINATION_TOKENS_DIR="$SEC/dst" ROBOT_NAMES_DIR="$SEC/robots"
    QUAY_USERNAME_FILE="$SEC/creds/quay_username" QUAY_PASSWORD_FILE="$SEC/creds/quay_password"
    "TAG_GLOB='[ \"v*\", \"latest\" ]'" VERIFY_TLS=false RETRY_BACKOFF=200ms)
ONCE_LOG=$QS_LOG_DIR/org-mirror-once.log
: >"$ONCE_LOG"
once() { # once VAR=VAL... — org-mirror --once; its exit status
    printf '\n=== --once %s\n' "$*" >>"$ONCE_LOG"
    env LISTEN_ADDR="127.0.0.1:0" "${COMMON[@]}" "$@" "$BIN" --once >>"$ONCE_LOG" 2>&1
}
start_service() { # start_service NAME VAR=VAL... — sets SVC_URL, SVC_PID, SVC_LOG
    local name=$1 port
    shift
    port=$(qs_free_ports 1)
    SVC_URL=http://127.0.0.1:$port
    SVC_LOG=$QS_LOG_DIR/org-mirror-$name.log
    : >"$SVC_LOG"
    qs_spawn "org-mirror-$name" "$SVC_LOG" env LISTEN_ADDR="127.0.0.1:$port" "${COMMON[@]}" \
        API_TOKEN_FILE="$E2E_TMP/api-token" "$@" "$BIN"
    SVC_PID=$QS_LAST_PID
    OM_PIDS+=("$SVC_PID")
    qs_wait_http "org-mirror-$name" "$SVC_URL/healthz" "$SVC_PID" "$SVC_LOG" 200 20
}
stop_service() {
    kill -TERM "$SVC_PID" 2>/dev/null || true
    wait_for 20 bash -c "! kill -0 $SVC_PID 2>/dev/null" || true
}
org_status() { curl -s --max-time 5 "$SVC_URL/api/v1/orgs/$1"; }
run_finished() { # run_finished ORG MIN_GENERATION
    [ "$(org_status "$1" | jq -r --argjson g "$2" '(.generation >= $g) and (.running == false)')" = true ]
}

# ---------------------------------------------------------------------------- configuration

check "--help lists the seed's variables" bash -c "'$BIN' --help | grep -q RECREATE_MIRROR_CONFIG"
out=$(env SOURCE_REGISTRY=ftp://x TAG_GLOB='[]' SYNC_INTERVAL=0 ORGANIZATIONS=acme "$BIN" --once 2>&1 || echo "exit=$?")
expect_match "config errors are all listed, exit 2" 'SOURCE_REGISTRY.*TAG_GLOB.*exit=2' "$(tr '\n' ' ' <<<"$out")"
expect_match "a missing token file is named" 'no source API token for organization ghost' \
    "$(env "${COMMON[@]}" ORGANIZATIONS=ghost "$BIN" --once 2>&1 || true)"

# ---------------------------------------------------------------------------- first run

emu "$DST" DELETE /_emulator/writes >/dev/null
check "the first run exits 0" once ORGANIZATIONS=acme
w=$(writes)
expect_eq "it created 250 repositories (3 source pages)" 250 \
    "$(jq '[.[] | select(.method == "POST" and .path == "/api/v1/repository" and .status == 201)] | length' <<<"$w")"
expect_eq "it POSTed 250 mirror configs" 250 \
    "$(jq '[.[] | select(.method == "POST" and (.path | endswith("/mirror")) and .status == 201)] | length' <<<"$w")"
expect_eq "every new mirror got sync-now" 250 \
    "$(jq '[.[] | select(.path | endswith("/mirror/sync-now")) | select(.status == 204)] | length' <<<"$w")"
expect_eq "nothing else was written" 750 "$(jq length <<<"$w")"
expect_eq "new repositories are private" 0 \
    "$(jq '[.[] | select(.path == "/api/v1/repository") | select(.body.visibility != "private")] | length' <<<"$w")"
s=$(state)
expect_eq "all 250 are in state MIRROR" 250 \
    "$(jq '[.repositories | to_entries[] | select(.key | startswith("acme/")) | select(.value.state == "MIRROR")] | length' <<<"$s")"
expect_eq "every mirror config is exactly the wanted one" 250 "$(jq --arg h "$SRC_HOST" '[.repositories | to_entries[] |
    select(.key | startswith("acme/")) | select(.value.mirror.external_reference == ($h + "/" + .key)
      and .value.mirror.robot_username == "acme+mirror" and .value.mirror.external_registry_username == "svc-reader"
      and .value.mirror.has_password == true and .value.mirror.is_enabled == true
      and .value.mirror.sync_interval == 600 and .value.mirror.skopeo_timeout_interval == 300
      and .value.mirror.root_rule == {"rule_kind":"tag_glob_csv","rule_value":["v*","latest"]}
      and .value.mirror.external_registry_config.verify_tls == false
      and (.value.mirror.sync_start_date | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))
      and .value.permissions["acme+mirror"] == "write")] | length' <<<"$s")"
expect_eq "the POST carried the password (redacted in the emulator's log)" "<redacted>" \
    "$(jq -r '[.[] | select(.method == "POST" and (.path | endswith("/mirror")))][0].body.external_registry_password' <<<"$w")"

# ---------------------------------------------------------------------------- second run

emu "$DST" DELETE /_emulator/writes >/dev/null
check "the second run exits 0" once ORGANIZATIONS=acme
expect_eq "the second run writes nothing" 0 "$(nwrites)"
expect_match "and reports 250 unchanged" '"unchanged":250' "$(grep '"run done"' "$ONCE_LOG" | tail -n 1)"

emu "$DST" DELETE /_emulator/writes >/dev/null
check "RECREATE_MIRROR_CONFIG=true exits 0 (with DEBUG=true)" once ORGANIZATIONS=acme RECREATE_MIRROR_CONFIG=true DEBUG=true
expect_eq "DEBUG=true logs every call (the PUTs among them)" 250 \
    "$(grep '"msg":"quay api call"' "$ONCE_LOG" | grep -c '"method":"PUT"' || true)"
w=$(writes)
expect_eq "RECREATE_MIRROR_CONFIG PUTs every config" 250 \
    "$(jq '[.[] | select(.method == "PUT" and (.path | endswith("/mirror")) and .status == 201)] | length' <<<"$w")"
expect_eq "... and writes nothing else" 250 "$(jq length <<<"$w")"
expect_eq "each PUT carries username and password (a changed password reaches Quay)" 250 \
    "$(jq '[.[] | select(.body.external_registry_username == "svc-reader" and .body.external_registry_password == "<redacted>")] | length' <<<"$w")"

# a rotated source password reaches every mirror by itself: Quay never shows the password, but
# the account's fingerprint (kept since the last complete run) changed
printf '%s\n' "$SVC_PASS2" >"$SEC/creds/quay_password.new"
mv "$SEC/creds/quay_password.new" "$SEC/creds/quay_password"
emu "$DST" DELETE /_emulator/writes >/dev/null
check "a run after the password was rotated exits 0" once ORGANIZATIONS=acme
w=$(writes)
expect_eq "it PUTs every config again, with username and (new) password" 250 \
    "$(jq '[.[] | select(.method == "PUT" and (.path | endswith("/mirror")) and .status == 201)
        | select(.body.external_registry_username == "svc-reader" and .body.external_registry_password == "<redacted>")] | length' <<<"$w")"
expect_eq "... and writes nothing else" 250 "$(jq length <<<"$w")"
expect_match "... and says why" '"msg":"the source account \(or the destination token\) changed' "$(cat "$ONCE_LOG")"
emu "$DST" DELETE /_emulator/writes >/dev/null
check "the run after it exits 0" once ORGANIZATIONS=acme
expect_eq "... and writes nothing" 0 "$(nwrites)"

# ---------------------------------------------------------------------------- dry run + API

# drift: 3 repositories gone, 2 configs changed, 1 READ_ONLY, 1 NORMAL without a config
for r in app010 app011 app012 app013; do dst_api DELETE "/repository/acme/$r" >/dev/null; done
dst_api POST /repository '{"namespace":"acme","repository":"app013","visibility":"private","description":"by hand"}' >/dev/null
for r in app020 app021; do dst_api PUT "/repository/acme/$r/mirror" '{"sync_interval":60}' >/dev/null; done
dst_api PUT /repository/acme/app030/changestate '{"state":"READ_ONLY"}' >/dev/null
emu "$DST" DELETE /_emulator/writes >/dev/null
g0=$(redis-cli -u "$REDIS" GET org-mirror:org:acme:gen) # the runs so far
start_service dry ORGANIZATIONS=acme DRY_RUN=true SYNC_INTERVAL=600
# acme ran seconds ago (status in Redis): the scheduler waits for its interval, so ask for a run
expect_status "$SVC_URL/api/v1/orgs/acme/sync" 202 -X POST -H "Authorization: Bearer $API_TOKEN"
check "the dry run finishes" wait_for 30 run_finished acme $((g0 + 1))
expect_eq "DRY_RUN writes nothing" 0 "$(nwrites)"
plan=$(curl -s "$SVC_URL/api/v1/orgs/acme/plan")
expect_eq "the plan: 3 create, 1 configure, 2 update, 1 skip, 243 unchanged" "3 1 2 1 243 true" \
    "$(jq -r '[([.repositories[] | select(.action == "create")] | length), ([.repositories[] | select(.action == "configure")] | length),
        ([.repositories[] | select(.action == "update")] | length), ([.repositories[] | select(.action == "skip")] | length),
        ([.repositories[] | select(.action == "unchanged")] | length), .dry_run] | map(tostring) | join(" ")' <<<"$plan")"
expect_eq "the plan names the right repositories" "app010 app011 app012|app013|app020 app021|app030" \
    "$(jq -r '[(["create","configure","update","skip"][] as $a | [.repositories[] | select(.action == $a) | .repository] | join(" "))] | join("|")' <<<"$plan")"
expect_eq "an update says which field differs" '["sync_interval"]' \
    "$(jq -c '.repositories[] | select(.repository == "app020") | .changes' <<<"$plan")"
expect_match "a skip says why" 'READ_ONLY' "$(jq -r '.repositories[] | select(.repository == "app030") | .reason' <<<"$plan")"
expect_eq "the plan is logged, one line per repository" 250 "$(grep -c '"msg":"plan"' "$SVC_LOG" || true)"
expect_match "a logged plan line" '"msg":"plan","org":"acme","repository":"app020","action":"update","outcome":"updated","state":"MIRROR","changes":"sync_interval"' \
    "$(grep '"repository":"app020"' "$SVC_LOG")"
st=$(org_status acme)
expect_eq "GET /api/v1/orgs/acme counts the plan" "250 247 3 1 2 243 1 0 true" \
    "$(jq -r '[.source, .destination, .created, .configured, .updated, .unchanged, .skipped, .failed, .dry_run] | map(tostring) | join(" ")' <<<"$st")"
expect_status "$SVC_URL/api/v1/orgs/nope/plan" 404
expect_status "$SVC_URL/api/v1/orgs/acme/sync" 401 -X POST
expect_status "$SVC_URL/api/v1/orgs/acme/sync" 401 -X POST -H "Authorization: Bearer wrong"
expect_status "$SVC_URL/api/v1/orgs/nope/sync" 404 -X POST -H "Authorization: Bearer $API_TOKEN"
expect_status "$SVC_URL/api/v1/orgs" 405 -X DELETE
expect_eq "an unknown path is a JSON 404" "404 not_found" \
    "$(curl -s "$SVC_URL/api/v1/nope" | jq -r '"\(.status) \(.error)"')"
expect_eq "a wrong method is a JSON 405" "405 method_not_allowed" \
    "$(curl -s -X PUT "$SVC_URL/api/v1/orgs/acme/plan" | jq -r '"\(.status) \(.error)"')"
codes=$(for _ in 1 2; do http_status "$SVC_URL/api/v1/orgs/acme/sync" -X POST -H "Authorization: Bearer $API_TOKEN"; echo; done | tr '\n' ' ')
expect_eq "POST sync: 202, then 409 while that run goes on" "202 409 " "$codes"
check "the requested run finishes" wait_for 30 run_finished acme $((g0 + 2))
sync_pids=()
for i in 1 2; do # both at the same instant: one run, the other refused (not queued)
    { http_status "$SVC_URL/api/v1/orgs/acme/sync" -X POST -H "Authorization: Bearer $API_TOKEN"; echo; } >"$E2E_TMP/sync$i" &
    sync_pids+=("$!")
done
wait "${sync_pids[@]}"
expect_eq "two POST sync at once: one 202, one 409" "202 409" "$(cat "$E2E_TMP"/sync[12] | sort | tr '\n' ' ' | xargs)"
check "that run finishes" wait_for 30 run_finished acme $((g0 + 3))
expect_eq "exactly one run was started by them" $((g0 + 3)) "$(org_status acme | jq .generation)"
{ # the API's answers go through the secret check at the end
    curl -s "$SVC_URL/api/v1/orgs"
    curl -s "$SVC_URL/api/v1/orgs/acme/plan"
    curl -s "$SVC_URL/metrics"
} >"$QS_LOG_DIR/org-mirror-api-answers.log"
expect_eq "still nothing written" 0 "$(nwrites)"
expect_status "$SVC_URL/readyz" 200
m=$(curl -s "$SVC_URL/metrics")
expect_match "metrics: repositories per outcome" 'org_mirror_repositories\{org="acme",outcome="unchanged"\} 243' "$m"
expect_match "metrics: destination repositories per state" 'org_mirror_destination_repositories\{org="acme",state="READ_ONLY"\} 1' "$m"
expect_match "metrics: calls per Quay" "quay_api_requests_total\\{quay=\"$SRC_HOST\",method=\"GET\",status=\"200\"\\} [1-9]" "$m"
expect_match "metrics: run durations" 'org_mirror_run_duration_seconds_count\{org="acme"\} [1-9]' "$m"
stop_service
start_service noapi ORGANIZATIONS=acme DRY_RUN=true API_TOKEN_FILE=
expect_status "$SVC_URL/api/v1/orgs/acme/sync" 403 -X POST -H "Authorization: Bearer $API_TOKEN"
stop_service

# ---------------------------------------------------------------------------- failing orgs

emu "$DST" DELETE /_emulator/writes >/dev/null
rc=0
once ORGANIZATIONS=acme,badtok,norobot || rc=$?
expect_eq "--once exits 1 when an organization failed" 1 "$rc"
w=$(writes)
expect_eq "acme went on: its 3 missing repositories were created" 3 \
    "$(jq '[.[] | select(.method == "POST" and .path == "/api/v1/repository" and .status == 201)] | length' <<<"$w")"
expect_eq "acme's changed configs were PUT back, its NORMAL one POSTed" "2 1" \
    "$(jq -r '[([.[] | select(.method == "PUT" and (.path | test("app02[01]/mirror$")))] | length),
        ([.[] | select(.method == "POST" and (.path | endswith("app013/mirror")))] | length)] | map(tostring) | join(" ")' <<<"$w")"
expect_eq "nothing was written for the failed organizations" 0 \
    "$(jq '[.[] | select(.path | test("/(badtok|norobot)/"))] | length' <<<"$w")"
start_service status ORGANIZATIONS=acme,badtok,norobot SYNC_INTERVAL=600
orgs=$(curl -s "$SVC_URL/api/v1/orgs")
expect_match "badtok: the refused source token is the error" \
    "the source API token for badtok was refused by $SRC_HOST.*HTTP 401" \
    "$(jq -r '.organizations[] | select(.organization == "badtok") | .last_error' <<<"$orgs")"
expect_match "norobot: the missing robot is the error" \
    "the robot norobot\\+mirror does not exist in the destination organization norobot" \
    "$(jq -r '.organizations[] | select(.organization == "norobot") | .last_error' <<<"$orgs")"
expect_eq "acme: ok, no error" "ok null 250" \
    "$(jq -r '.organizations[] | select(.organization == "acme") | [.result, .last_error, .source] | map(tostring) | join(" ")' <<<"$orgs")"
expect_eq "the failed organizations' results say failed" "failed failed" \
    "$(jq -r '[.organizations[] | select(.organization != "acme") | .result] | join(" ")' <<<"$orgs")"
stop_service

# ---------------------------------------------------------------------------- broken answers

# an HTML 500 page from the source (a proxy in front of Quay), after the client's retries
emu "$SRC" POST /_emulator/faults '{"path_prefix":"/api/v1/repository","method":"GET","status":500,"count":-1,"body":"<html><body><h1>500 Internal Server Error</h1></body></html>"}' >/dev/null
rc=0
once ORGANIZATIONS=acme || rc=$?
expect_eq "a source answering HTML 500 pages fails the organization (exit 1)" 1 "$rc"
last=$(grep '"run done"' "$ONCE_LOG" | tail -n 1)
expect_match "... with Quay's status as the error" '"last_error":"listing the source organization on [^"]*HTTP 500' "$last"
expect_eq "... and no HTML in it" 0 "$(grep -c '<html' <<<"$last" || true)"
emu "$SRC" DELETE /_emulator/faults >/dev/null
# garbage JSON from the destination's listing
emu "$DST" POST /_emulator/faults '{"path_prefix":"/api/v1/repository","method":"GET","status":200,"count":-1,"body":"{\"repositories\": [tru"}' >/dev/null
emu "$DST" DELETE /_emulator/writes >/dev/null
rc=0
once ORGANIZATIONS=acme || rc=$?
expect_eq "a destination answering garbage JSON fails the organization (exit 1)" 1 "$rc"
expect_match "... with a clear error" '"last_error":"listing the destination organization on [^"]*not JSON' \
    "$(grep '"run done"' "$ONCE_LOG" | tail -n 1)"
emu "$DST" DELETE /_emulator/faults >/dev/null
expect_eq "... and nothing was written" 0 "$(nwrites)"

# ---------------------------------------------------------------------------- SIGTERM

# every destination read takes 3 s: a run of 250 repositories in 2 lanes would take minutes
emu "$DST" POST /_emulator/faults '{"path_prefix":"/api/v1/repository/acme/","method":"GET","status":0,"delay_ms":3000,"count":-1}' >/dev/null
printf '\n=== --once, SIGTERM\n' >>"$ONCE_LOG"
t0=$SECONDS
env LISTEN_ADDR=127.0.0.1:0 "${COMMON[@]}" ORGANIZATIONS=acme QUAY_CONCURRENCY=2 GRACE_PERIOD=10s \
    "$BIN" --once >>"$ONCE_LOG" 2>&1 &
once_pid=$!
sleep 1.5
kill -TERM "$once_pid"
rc=0
wait "$once_pid" || rc=$?
expect_eq "SIGTERM stops --once promptly, exit 1" "1 yes" "$rc $([ $((SECONDS - t0)) -le 10 ] && echo yes || echo no)"
expect_match "the run says it was interrupted" '"result":"interrupted"' "$(grep '"run done"' "$ONCE_LOG" | tail -n 1)"
emu "$DST" DELETE /_emulator/faults >/dev/null

# ---------------------------------------------------------------------------- retries

seed_repos "$SRC" acme retry 1 # acme/retry000
emu "$DST" DELETE /_emulator/calls >/dev/null
emu "$DST" POST /_emulator/faults '{"path_prefix":"/api/v1/repository","method":"POST","status":503,"count":2}' >/dev/null
emu "$DST" POST /_emulator/faults '{"path_prefix":"/api/v1/repository/acme/retry000/mirror","method":"POST","status":429,"count":2}' >/dev/null
check "a run through two 503s and two 429s exits 0" once ORGANIZATIONS=acme
calls=$(emu "$DST" GET /_emulator/calls)
expect_eq "the create was tried 3 times, the mirror POST 3 times" "3 3" \
    "$(jq -r '[."POST /api/v1/repository", ."POST /api/v1/repository/acme/retry000/mirror"] | map(tostring) | join(" ")' <<<"$calls")"
expect_eq "the repository is mirrored" MIRROR "$(state | jq -r '.repositories["acme/retry000"].state')"
emu "$DST" DELETE /_emulator/faults >/dev/null
# a 503 that lasts: retried by the queue with backoff, then reported failed
seed_repos "$SRC" acme down 1
emu "$DST" POST /_emulator/faults '{"path_prefix":"/api/v1/repository","method":"POST","status":503,"count":-1}' >/dev/null
rc=0
once ORGANIZATIONS=acme MAX_ATTEMPTS=2 || rc=$?
expect_eq "a repository that keeps failing fails its run" 1 "$rc"
expect_match "its error is Quay's status" 'down000.*HTTP 503' "$(grep '"run done"' "$ONCE_LOG" | tail -n 1)"
emu "$DST" DELETE /_emulator/faults >/dev/null

# ---------------------------------------------------------------------------- two replicas

gen=$(redis-cli -u "$REDIS" GET org-mirror:org:acme:gen)
start_service replica1 ORGANIZATIONS=acme SYNC_INTERVAL=600 RECREATE_MIRROR_CONFIG=true
R1_PID=$SVC_PID R1_LOG=$SVC_LOG R1_URL=$SVC_URL
start_service replica2 ORGANIZATIONS=acme SYNC_INTERVAL=600 RECREATE_MIRROR_CONFIG=true
expect_status "$R1_URL/api/v1/orgs/acme/sync" 202 -X POST -H "Authorization: Bearer $API_TOKEN"
check "the run coordinated by replica 1 finishes" wait_for 60 run_finished acme $((gen + 1))
n1=$(grep -c '"msg":"repository reconciled"' "$R1_LOG" || true)
n2=$(grep -c '"msg":"repository reconciled"' "$SVC_LOG" || true)
expect_match "both replicas' workers took repositories ($n1 + $n2)" '^[1-9][0-9]* [1-9][0-9]*$' "$n1 $n2"
expect_eq "together every repository once" "$(org_status acme | jq .source)" "$((n1 + n2))"
stop_service
SVC_PID=$R1_PID
stop_service

# ---------------------------------------------------------------------------- events

start_service events ORGANIZATIONS=acme SYNC_INTERVAL=600
seed_repos "$SRC" acme evt 1 # acme/evt000 appears at the source
t0=$(date +%s.%N)
redis-cli -u "$REDIS" XADD quayside:events '*' type repository.created \
    data "{\"quay\":\"https://$SRC_HOST\",\"namespace\":\"acme\",\"repository\":\"evt000\"}" \
    ts "$(date +%s%3N)" >/dev/null
redis-cli -u "$REDIS" XADD quayside:events '*' type repository.created \
    data '{"quay":"other.example.com","namespace":"acme","repository":"foreign"}' ts 0 >/dev/null
evt_mirrored() { [ "$(state | jq -r '.repositories["acme/evt000"].state')" = MIRROR ]; }
check "a repository.created event is mirrored within 10 s" wait_for 10 evt_mirrored
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
printf '# event to mirror: %s s\n' "$secs"
expect_eq "an event of another Quay is ignored" null "$(state | jq -r '.repositories["acme/foreign"].state')"
expect_match "the event is logged" '"repository.created: queued".*"evt000"' "$(cat "$SVC_LOG")"
stop_service

# ---------------------------------------------------------------------------- ORG_MIRROR_CONFIG

# per-organisation overrides: another destination organisation, its robot, globs, interval and
# visibility (the same source organisation, into a new destination one)
emu "$DST" POST /_emulator/seed '{"organizations":["acme-copy"],"robots":[{"org":"acme-copy","short":"copier"}]}' >/dev/null
cat >"$E2E_TMP/orgs.yaml" <<'YAML'
defaults:
  interval: 900
organizations:
  - name: acme
    destination: acme-copy
    robot: copier
    tag_globs: ["v1.*", "stable"]
    visibility: public
YAML
emu "$DST" DELETE /_emulator/writes >/dev/null
check "a run with ORG_MIRROR_CONFIG exits 0" once ORG_MIRROR_CONFIG="$E2E_TMP/orgs.yaml"
n_src=$(grep '"run done"' "$ONCE_LOG" | tail -n 1 | jq .source)
s=$(state)
expect_eq "every source repository is mirrored into the other organization, with the overrides" "$n_src" \
    "$(jq --arg h "$SRC_HOST" '[.repositories | to_entries[] | select(.key | startswith("acme-copy/"))
      | select(.value.state == "MIRROR" and .value.is_public == true
          and .value.mirror.external_reference == ($h + "/acme/" + (.key | ltrimstr("acme-copy/")))
          and .value.mirror.robot_username == "acme-copy+copier" and .value.mirror.sync_interval == 900
          and .value.mirror.root_rule.rule_value == ["v1.*", "stable"])] | length' <<<"$s")"
expect_eq "... created public" 0 \
    "$(writes | jq '[.[] | select(.path == "/api/v1/repository") | select(.body.visibility != "public")] | length')"
expect_eq "... and nothing was written into acme" 0 "$(writes | jq '[.[] | select(.path | test("/acme/"))] | length')"

# ---------------------------------------------------------------------------- copy mode

if has_component reg-plain && has_component reg-basic && [ -x "$QS_BIN/mirror" ]; then
    CR=$QS_REDIS_URL/10 # copy mode: the mirror workers and their queue
    CO=copy$(date +%s%N | tail -c 9) # an organisation of its own: the registries outlive this script
    redis-cli -u "$CR" flushdb >/dev/null
    printf '{"auths":{"%s":{"auth":"%s"}}}' "$QS_REG_BASIC" \
        "$(printf '%s:%s' "$QS_REG_BASIC_USER" "$QS_REG_BASIC_PASS" | base64 -w0)" >"$E2E_TMP/auth.json"
    tests/tools/mkimage.sh "$E2E_TMP/c1" --layers 1 --size 256K --seed om-c1 >/dev/null
    tests/tools/mkimage.sh "$E2E_TMP/c2" --layers 1 --size 256K --seed om-c2 --platforms linux/amd64,linux/arm64 >/dev/null
    tests/tools/push-image.sh "$E2E_TMP/c1" "docker://$QS_REG_PLAIN/$CO/app1:v1"
    tests/tools/push-image.sh "$E2E_TMP/c1" "docker://$QS_REG_PLAIN/$CO/app1:latest"
    tests/tools/push-image.sh "$E2E_TMP/c2" "docker://$QS_REG_PLAIN/$CO/team/app2:v2.0"
    port=$(qs_free_ports 1)
    : >"$QS_LOG_DIR/org-mirror-copy-workers.log"
    qs_spawn mirror-workers "$QS_LOG_DIR/org-mirror-copy-workers.log" env LISTEN_ADDR="127.0.0.1:$port" \
        REDIS_URL="$CR" MIRROR_ROLE=worker MIRROR_WORKERS=2 REGISTRY_AUTH_FILE="$E2E_TMP/auth.json" \
        DESTINATION_REPOSITORY="$QS_REG_BASIC/unused/repo" SOURCE_REGISTRY="$QS_REG_PLAIN" "$QS_BIN/mirror"
    OM_PIDS+=("$QS_LAST_PID")
    qs_wait_http mirror-workers "http://127.0.0.1:$port/api/health" "$QS_LAST_PID" "$QS_LOG_DIR/org-mirror-copy-workers.log"
    copy_once() {
        printf '\n=== copy --once\n' >>"$ONCE_LOG"
        env LISTEN_ADDR=127.0.0.1:0 REDIS_URL="$CR" MODE=copy SOURCE_API=registry \
            SOURCE_REGISTRY="http://$QS_REG_PLAIN" DESTINATION_REGISTRY="http://$QS_REG_BASIC" \
            ORGANIZATIONS="$CO" TAG_GLOB='v*' REGISTRY_AUTH_FILE="$E2E_TMP/auth.json" \
            "$BIN" --once >>"$ONCE_LOG" 2>&1
    }
    check "copy mode --once exits 0" copy_once
    expect_match "copy mode queued the matching tags of both repositories" '"created":2' \
        "$(grep '"run done"' "$ONCE_LOG" | tail -n 1)"
    copied() { [ "$(curl -s "http://127.0.0.1:$port/api/v1/mirrors?action=summarize" | jq -r '"\(.total) \(.failed)"')" = "0 0" ]; }
    check "the mirror workers copy them" wait_for 60 copied
    dg() { # sha256 of the manifest bytes as served ("missing" when there is none)
        local raw
        raw=$(skopeo inspect --raw --tls-verify=false "${@:2}" "docker://$1" 2>/dev/null) || { echo missing; return; }
        printf '%s' "$raw" | sha256sum | cut -d' ' -f1
    }
    BC=(--creds "$QS_REG_BASIC_USER:$QS_REG_BASIC_PASS")
    C1=$(jq -r '.manifests[0].digest' "$E2E_TMP/c1/index.json")
    C2=$(jq -r '.manifests[0].digest' "$E2E_TMP/c2/index.json")
    expect_eq "<org>/app1:v1 at the destination, same digest" "${C1#sha256:}" \
        "$(dg "$QS_REG_BASIC/$CO/app1:v1" "${BC[@]}")"
    expect_eq "<org>/team/app2:v2.0 (an index) at the destination, same digest" "${C2#sha256:}" \
        "$(dg "$QS_REG_BASIC/$CO/team/app2:v2.0" "${BC[@]}")"
    if skopeo inspect --raw --tls-verify=false "${BC[@]}" "docker://$QS_REG_BASIC/$CO/app1:latest" >/dev/null 2>&1; then
        e2e__not_ok "a tag outside the globs is not copied"
    else
        e2e__ok "a tag outside the globs is not copied"
    fi
    check "a second copy run exits 0" copy_once
    expect_match "a second copy run queues nothing" '"unchanged":2' "$(grep '"run done"' "$ONCE_LOG" | tail -n 1)"
else
    skip "copy mode" "needs reg-plain, reg-basic and the mirror binary"
fi

# ---------------------------------------------------------------------------- secrets

leaks=0
for secret in "$SRC_TOKEN" "$DST_TOKEN" "$BAD_TOKEN" "$SVC_PASS" "$SVC_PASS2" "$API_TOKEN" "${QS_REG_BASIC_PASS:-unset-password}"; do
    if grep -qF -- "$secret" "$QS_LOG_DIR"/org-mirror-*.log; then leaks=$((leaks + 1)); fi
done
expect_eq "no token or password in any org-mirror log" 0 "$leaks"

e2e_done
