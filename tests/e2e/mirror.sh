#!/usr/bin/env bash
# mirror.sh — the mirror service end to end: image streams in the Kubernetes emulator and a
# _config.yaml as sources, a real docker-registry without auth as the source, a real one with
# Bearer auth (the Quay emulator as token server) as the destination, real Redis for the
# queue, skopeo to check the results.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BIN=$QS_BIN/mirror
SK=(skopeo --command-timeout 60s)
[ -x "$BIN" ] || qs_die "mirror binary missing: $BIN (run make)"
DEST_REPO=openshift/ci
PUSH=(--dest-creds "$QS_PUSHER_USER:$QS_PUSHER_PASS")
DCREDS=(--creds "$QS_PUSHER_USER:$QS_PUSHER_PASS")

# ---------------------------------------------------------------------------- helpers

emu() { curl -s --max-time 5 -X "$2" -H 'Content-Type: application/json' ${4:+--data "$4"} "$1$3"; }
raw_digest() { # raw_digest REF [creds...] — sha256 of the manifest bytes as served
    local ref=$1
    shift
    "${SK[@]}" inspect --raw --tls-verify=false "$@" "docker://$ref" 2>/dev/null | sha256sum | cut -d' ' -f1
}
layout_digest() { jq -r '.manifests[0].digest' "$1/index.json"; }

# start_mirror NAME VAR=VAL... — sets M_URL, M_PID, M_LOG
start_mirror() {
    local name=$1
    shift
    local port
    port=$(qs_free_ports 1)
    M_URL=http://127.0.0.1:$port
    M_LOG=$QS_LOG_DIR/mirror-$name.log
    qs_spawn "mirror-$name" "$M_LOG" env LISTEN_ADDR="127.0.0.1:$port" REDIS_URL="$REDIS" \
        DESTINATION_REPOSITORY="$QS_REG_TOKEN/$DEST_REPO" SOURCE_REGISTRY="$QS_REG_PLAIN" \
        REGISTRY_AUTH_FILE="$E2E_TMP/auth.json" KUBE_API_URL="$QS_KUBE_URL" \
        KUBE_TOKEN_FILE="$E2E_TMP/kube-token" API_TOKEN_FILE="$E2E_TMP/api-token" \
        LOG_LEVEL=debug MIRROR_WORKERS=2 "$@" "$BIN"
    M_PID=$QS_LAST_PID
    qs_wait_http "mirror-$name" "$M_URL/api/health" "$M_PID" "$M_LOG" 200 20
}

summary() { curl -s --max-time 5 "$1/api/v1/mirrors?action=summarize"; }
wait_for() { # wait_for SECONDS CMD... — until CMD succeeds
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.3
    done
}
queue_empty() { [ "$(summary "$1" | jq -r '.total')" = 0 ]; }
has_tag() { "${SK[@]}" inspect --raw --tls-verify=false "${DCREDS[@]}" "docker://$QS_REG_TOKEN/$DEST_REPO:$1" >/dev/null 2>&1; }
metric() { curl -s --max-time 5 "$1/metrics" | awk -v k="$2" '$1 == k {print $2; f=1} END {if (!f) print 0}'; }

# ---------------------------------------------------------------------------- setup

REDIS=$QS_REDIS_URL
printf '{"auths":{"%s":{"auth":"%s"}}}' "$QS_REG_TOKEN" \
    "$(printf '%s:%s' "$QS_PUSHER_USER" "$QS_PUSHER_PASS" | base64 -w0)" >"$E2E_TMP/auth.json"
printf '%s' "$QS_KUBE_SA_TOKEN" >"$E2E_TMP/kube-token"
API_TOKEN=$(qs_rand 24)
printf '%s\n' "$API_TOKEN" >"$E2E_TMP/api-token"

# Source images: two single-platform images sharing base layers, and a 2-platform index.
tests/tools/mkimage.sh "$E2E_TMP/op" --layers 2 --size 512K --base-layers 2 --seed m-op >/dev/null
tests/tools/mkimage.sh "$E2E_TMP/cli" --layers 1 --size 512K --base-layers 2 --seed m-cli >/dev/null
tests/tools/mkimage.sh "$E2E_TMP/multi" --layers 1 --size 256K --seed m-multi \
    --platforms linux/amd64,linux/arm64 >/dev/null
tests/tools/mkimage.sh "$E2E_TMP/supp" --layers 1 --size 256K --seed m-supp >/dev/null
tests/tools/push-image.sh "$E2E_TMP/op" "docker://$QS_REG_PLAIN/ci/ci-operator:latest"
tests/tools/push-image.sh "$E2E_TMP/cli" "docker://$QS_REG_PLAIN/ocp/4.22:cli"
tests/tools/push-image.sh "$E2E_TMP/multi" "docker://$QS_REG_PLAIN/ocp/4.22:multi"
tests/tools/push-image.sh "$E2E_TMP/supp" "docker://$QS_REG_PLAIN/external/tool:v1"
OP=$(layout_digest "$E2E_TMP/op")
CLI=$(layout_digest "$E2E_TMP/cli")
MULTI=$(layout_digest "$E2E_TMP/multi")

emu "$QS_KUBE_URL" PUT /_emulator/imagestreams \
    "{\"namespace\":\"ci\",\"name\":\"ci-operator\",\"tags\":[{\"tag\":\"latest\",\"image\":\"$OP\"}]}" >/dev/null
emu "$QS_KUBE_URL" PUT /_emulator/imagestreams \
    "{\"namespace\":\"ocp\",\"name\":\"4.22\",\"tags\":[{\"tag\":\"cli\",\"image\":\"$CLI\"},{\"tag\":\"multi\",\"image\":\"$MULTI\"},{\"tag\":\"ignored\",\"image\":\"$CLI\"}]}" >/dev/null

cat >"$E2E_TMP/config.yaml" <<EOF
supplementalCIImages:
  external/tool:v1:
    image: $QS_REG_PLAIN/external/tool:v1
  ci/missing:v1:
    image: $QS_REG_PLAIN/external/does-not-exist:v1
ignoredSources:
- image: registry.fedoraproject.org/fedora:latest
  reason: not ours
EOF

# ---------------------------------------------------------------------------- first sync

check "a bad config is refused with every error" bash -c \
    "! '$BIN' --validate-config <(printf 'supplementalCIImages:\n  bad:\n    as: x\nunknownKey: 1\n') 2>&1 | grep -c . | grep -qx 1"
start_mirror main IMAGESTREAM_NAMESPACES=ci,ocp IMAGESTREAM_IGNORE_TAGS=ocp/4.22:ignored \
    MIRROR_CONFIG="$E2E_TMP/config.yaml" SYNC_INTERVAL=3600s
MAIN_URL=$M_URL MAIN_LOG=$M_LOG MAIN_PID=$M_PID
check "the first sync drains the queue" wait_for 90 queue_empty "$MAIN_URL"
expect_eq "ci/ci-operator:latest mirrored byte for byte" "${OP#sha256:}" \
    "$(raw_digest "$QS_REG_TOKEN/$DEST_REPO:ci_ci-operator_latest" "${DCREDS[@]}")"
expect_eq "ocp/4.22:cli mirrored byte for byte" "${CLI#sha256:}" \
    "$(raw_digest "$QS_REG_TOKEN/$DEST_REPO:ocp_4.22_cli" "${DCREDS[@]}")"
expect_eq "the index is mirrored whole (same digest)" "${MULTI#sha256:}" \
    "$(raw_digest "$QS_REG_TOKEN/$DEST_REPO:ocp_4.22_multi" "${DCREDS[@]}")"
expect_eq "the index keeps every platform" "amd64 arm64" \
    "$("${SK[@]}" inspect --raw --tls-verify=false "${DCREDS[@]}" "docker://$QS_REG_TOKEN/$DEST_REPO:ocp_4.22_multi" |
        jq -r '[.manifests[].platform.architecture] | sort | join(" ")')"
check "the arm64 child of the index is at the destination" "${SK[@]}" inspect --tls-verify=false \
    "${DCREDS[@]}" --override-arch arm64 "docker://$QS_REG_TOKEN/$DEST_REPO:ocp_4.22_multi"
DATE_TAG="$(date -u +%Y%m%d)_sha256_${OP#sha256:}"
check "the date-digest tag exists too ($DATE_TAG)" has_tag "$DATE_TAG"
check "the supplemental image is mirrored" has_tag external_tool_v1
if has_tag ocp_4.22_ignored; then e2e__not_ok "the ignore list wins"; else e2e__ok "the ignore list wins"; fi
expect_match "a missing source is skipped and logged" 'source image missing: skipped' "$(cat "$MAIN_LOG")"
expect_eq "nothing failed" 0 "$(summary "$MAIN_URL" | jq -r '.failed')"
copied1=$(metric "$MAIN_URL" mirror_bytes_copied_total)
expect_match "bytes were copied" '^[1-9]' "$copied1"
m=$(curl -s "$MAIN_URL/metrics")
expect_match "the original's duration metric is exposed" \
    'quay_io_ci_images_distributor_image_mirroring_duration_seconds_count\{state="success"\} [1-9]' "$m"
expect_match "the original's queue depth metric is exposed" 'quay_io_ci_images_distributor_mirror_queue_depth 0' "$m"
expect_match "shared base layers are skipped, not copied twice" 'mirror_blobs_total\{outcome="skipped"\} [1-9]' "$m"

# ---------------------------------------------------------------------------- second sync

kill -TERM "$MAIN_PID"
wait_for 20 bash -c "! kill -0 $MAIN_PID 2>/dev/null" || true
start_mirror second IMAGESTREAM_NAMESPACES=ci,ocp IMAGESTREAM_IGNORE_TAGS=ocp/4.22:ignored \
    MIRROR_CONFIG="$E2E_TMP/config.yaml"
SECOND_URL=$M_URL
check "the second pass finishes" wait_for 30 grep -q '"msg":"sync pass done"' "$M_LOG"
expect_match "a second sync queues nothing" '"queued":"0"' "$(grep '"sync pass done"' "$M_LOG" | tail -1)"
expect_eq "a second sync copies nothing" 0 "$(metric "$SECOND_URL" mirror_bytes_copied_total)"

once() { # once VAR=VAL... — `mirror --once` with the common settings
    env LISTEN_ADDR="127.0.0.1:$(qs_free_ports 1)" REDIS_URL="$REDIS" \
        DESTINATION_REPOSITORY="$QS_REG_TOKEN/$DEST_REPO" SOURCE_REGISTRY="$QS_REG_PLAIN" \
        REGISTRY_AUTH_FILE="$E2E_TMP/auth.json" "$@" "$BIN" --once >>"$QS_LOG_DIR/mirror-once.log" 2>&1
}
check "mirror --once exits 0 when everything is in sync" once MIRROR_CONFIG="$E2E_TMP/config.yaml"
tests/tools/mkimage.sh "$E2E_TMP/once" --layers 1 --size 128K --seed m-once >/dev/null
tests/tools/push-image.sh "$E2E_TMP/once" "docker://$QS_REG_PLAIN/external/once:v1"
printf 'supplementalCIImages:\n  ci/once:v1:\n    image: %s/external/once:v1\n' "$QS_REG_PLAIN" >"$E2E_TMP/once.yaml"
check "mirror --once copies what differs and exits 0" once MIRROR_CONFIG="$E2E_TMP/once.yaml"
check "the --once copy is at the destination" has_tag ci_once_v1
printf 'supplementalCIImages:\n  ci/gone:v1:\n    image: %s/external/once@sha256:%064d\n' "$QS_REG_PLAIN" 0 >"$E2E_TMP/gone.yaml"
check "mirror --once with a missing source skips it and exits 0" once MIRROR_CONFIG="$E2E_TMP/gone.yaml"

# ---------------------------------------------------------------------------- backup tags

tests/tools/mkimage.sh "$E2E_TMP/op2" --layers 1 --size 128K --seed m-op2 >/dev/null
tests/tools/push-image.sh "$E2E_TMP/op2" "docker://$QS_REG_PLAIN/ci/ci-operator:next"
OP2=$(layout_digest "$E2E_TMP/op2")
emu "$QS_KUBE_URL" PUT /_emulator/imagestreams \
    "{\"namespace\":\"ci\",\"name\":\"ci-operator\",\"tags\":[{\"tag\":\"latest\",\"image\":\"$OP2\"}]}" >/dev/null
# its own Redis database: the long-running instance's workers (no BACKUP_TAGS) share the default one
check "with BACKUP_TAGS the new image is mirrored" once REDIS_URL="$REDIS/3" IMAGESTREAM_NAMESPACES=ci BACKUP_TAGS=true \
    KUBE_API_URL="$QS_KUBE_URL" KUBE_TOKEN_FILE="$E2E_TMP/kube-token"
expect_eq "the tag now points at the new image" "${OP2#sha256:}" \
    "$(raw_digest "$QS_REG_TOKEN/$DEST_REPO:ci_ci-operator_latest" "${DCREDS[@]}")"
backup=$("${SK[@]}" list-tags --tls-verify=false "${DCREDS[@]}" "docker://$QS_REG_TOKEN/$DEST_REPO" |
    jq -r '.Tags[] | select(test("^[0-9]{14}_prune___ci_images_mirror__ci_ci-operator_latest$"))' | head -n 1)
expect_match "the old image was tagged before the overwrite" '_prune___ci_images_mirror__' "$backup"
expect_eq "the backup tag holds the old image" "${OP#sha256:}" \
    "$(raw_digest "$QS_REG_TOKEN/$DEST_REPO:$backup" "${DCREDS[@]}")"

# ---------------------------------------------------------------------------- the API

expect_status "$SECOND_URL/api/v1/mirrors" 400
expect_status "$SECOND_URL/api/v1/mirrors?action=nope" 400
expect_status "$SECOND_URL/api/v1/mirrors?action=show&limit=0" 400
expect_status "$SECOND_URL/api/v1/mirrors?action=show&limit=abc" 400
expect_status "$SECOND_URL/api/v1/mirrors?action=show&limit=5" 200
expect_eq "health answers ok" true "$(curl -s "$SECOND_URL/api/health" | jq -r '.ok')"
expect_status "$SECOND_URL/api/v1/mirrors" 401 -X POST -H 'Content-Type: application/json' \
    --data '{"source":"a/b:c","destination":"d/e:f"}'
expect_status "$SECOND_URL/api/v1/mirrors" 401 -X POST -H "Authorization: Bearer wrong" --data '{}'
expect_status "$SECOND_URL/api/v1/mirrors" 400 -X POST -H "Authorization: Bearer $API_TOKEN" --data '{nope'
expect_status "$SECOND_URL/api/v1/mirrors" 400 -X POST -H "Authorization: Bearer $API_TOKEN" \
    --data '{"source":"x","destination":"no-tag/here"}'
resp=$(curl -s -X POST -H "Authorization: Bearer $API_TOKEN" --data \
    "{\"source\":\"$QS_REG_PLAIN/external/tool:v1\",\"destination\":\"$QS_REG_TOKEN/$DEST_REPO:from_api\"}" \
    "$SECOND_URL/api/v1/mirrors")
expect_eq "POST /api/v1/mirrors enqueues" added "$(jq -r '.result' <<<"$resp")"
check "the API's task is mirrored" wait_for 30 has_tag from_api

# ---------------------------------------------------------------------------- 5xx then success

emu "$QS_QUAY_URL" DELETE /_emulator/calls >/dev/null
emu "$QS_QUAY_URL" POST /_emulator/faults '{"path_prefix":"/v2/auth","status":503,"count":2}' >/dev/null
curl -s -X POST -H "Authorization: Bearer $API_TOKEN" --data \
    "{\"source\":\"$QS_REG_PLAIN/external/tool:v1\",\"destination\":\"$QS_REG_TOKEN/retry/repo:v1\"}" \
    "$SECOND_URL/api/v1/mirrors" >/dev/null
check "a registry answering 503 twice is retried and the mirror succeeds" wait_for 60 \
    "${SK[@]}" inspect --raw --tls-verify=false "${DCREDS[@]}" "docker://$QS_REG_TOKEN/retry/repo:v1"
expect_match "the token server saw the retries" '^([3-9]|[1-9][0-9]+)$' \
    "$(emu "$QS_QUAY_URL" GET /_emulator/calls | jq -r '."GET /v2/auth" // 0')"
emu "$QS_QUAY_URL" DELETE /_emulator/faults >/dev/null

# ---------------------------------------------------------------------------- wrong bytes

tests/tools/mkimage.sh "$E2E_TMP/bad" --layers 1 --size 64K --seed m-bad >/dev/null
tests/tools/push-image.sh "$E2E_TMP/bad" "docker://$QS_REG_PLAIN/broken/image:v1"
BAD_LAYER=$(awk 'NR==1 {print $1}' "$E2E_TMP/bad/layers.txt")
blob_file=$(find "$QS_STACK_DIR" -path "*blobs/sha256/*/${BAD_LAYER#sha256:}/data" | head -n 1)
# same length, different bytes: the registry serves what is on disk
head -c "$(stat -c %s "$blob_file")" /dev/urandom >"$blob_file"
curl -s -X POST -H "Authorization: Bearer $API_TOKEN" --data \
    "{\"source\":\"$QS_REG_PLAIN/broken/image:v1\",\"destination\":\"$QS_REG_TOKEN/$DEST_REPO:broken\"}" \
    "$SECOND_URL/api/v1/mirrors" >/dev/null
check "a blob with wrong bytes dead-letters its task" wait_for 30 bash -c \
    "[ \"\$(curl -s '$SECOND_URL/api/v1/mirrors?action=summarize' | jq -r .failed)\" = 1 ]"
expect_match "the failure names the digest" 'digest|match' \
    "$(curl -s "$SECOND_URL/api/v1/mirrors?action=failed" | jq -r '.mirrors[0].last_error')"
if has_tag broken; then e2e__not_ok "nothing is tagged after a digest error"; else e2e__ok "nothing is tagged after a digest error"; fi
resp=$(curl -s -X POST -H "Authorization: Bearer $API_TOKEN" "$SECOND_URL/api/v1/mirrors/retry")
expect_eq "retry requeues the dead task" 1 "$(jq -r '.retried' <<<"$resp")"

# ---------------------------------------------------------------------------- a worker dies

REDIS2_PORT=$(qs_free_ports 1)
mkdir -p "$E2E_TMP/redis2"
qs_spawn redis2 "$QS_LOG_DIR/redis2.log" redis-server --port "$REDIS2_PORT" --bind 127.0.0.1 \
    --dir "$E2E_TMP/redis2" --appendonly yes --save ''
R2_PID=$QS_LAST_PID
qs_wait_redis redis2 "$REDIS2_PORT" "$R2_PID" "$QS_LOG_DIR/redis2.log"
REDIS=redis://127.0.0.1:$REDIS2_PORT
tests/tools/mkimage.sh "$E2E_TMP/big" --layers 1 --size 96M --seed m-big >/dev/null
tests/tools/push-image.sh "$E2E_TMP/big" "docker://$QS_REG_PLAIN/big/image:v1"
start_mirror victim MIRROR_ROLE=worker MIRROR_WORKERS=1 TASK_TIMEOUT=3s COPY_CONCURRENCY=1
VICTIM_PID=$M_PID VICTIM_URL=$M_URL
curl -s -X POST -H "Authorization: Bearer $API_TOKEN" --data \
    "{\"source\":\"$QS_REG_PLAIN/big/image:v1\",\"destination\":\"$QS_REG_TOKEN/$DEST_REPO:big\"}" \
    "$VICTIM_URL/api/v1/mirrors" >/dev/null
check "the victim takes the task" wait_for 20 bash -c \
    "[ \"\$(curl -s '$VICTIM_URL/api/v1/mirrors?action=summarize' | jq -r .in_progress)\" = 1 ]"
{ kill -KILL "$VICTIM_PID" && wait "$VICTIM_PID"; } 2>/dev/null || true
# Redis restarts with the task in progress: the AOF keeps it
redis-cli -p "$REDIS2_PORT" shutdown >/dev/null 2>&1 || true
wait_for 10 bash -c "! kill -0 $R2_PID 2>/dev/null" || true
qs_spawn redis2b "$QS_LOG_DIR/redis2.log" redis-server --port "$REDIS2_PORT" --bind 127.0.0.1 \
    --dir "$E2E_TMP/redis2" --appendonly yes --save ''
qs_wait_redis redis2b "$REDIS2_PORT" "$QS_LAST_PID" "$QS_LOG_DIR/redis2.log"
start_mirror rescuer MIRROR_ROLE=worker MIRROR_WORKERS=1 TASK_TIMEOUT=3s
expect_eq "the queue survived the Redis restart" 1 "$(summary "$M_URL" | jq -r '.total')"
check "another worker reclaims and finishes the killed worker's task" wait_for 60 has_tag big
expect_eq "the reclaimed copy is intact" "$(layout_digest "$E2E_TMP/big" | cut -d: -f2)" \
    "$(raw_digest "$QS_REG_TOKEN/$DEST_REPO:big" "${DCREDS[@]}")"
check "the reclaimed task is acked" wait_for 20 queue_empty "$M_URL"

# ---------------------------------------------------------------------------- SIGTERM mid-copy
# A worker stopped past its grace period abandons the copy and exits at once, without freeing
# what the copy still uses (the ASan run would report a use-after-free); the task is reclaimed.
REDIS=redis://127.0.0.1:$REDIS2_PORT/3
emu "$QS_QUAY_URL" POST /_emulator/faults \
    '{"path_prefix":"/v2/auth","status":0,"delay_ms":4000,"count":1}' >/dev/null
start_mirror leaver MIRROR_ROLE=worker MIRROR_WORKERS=1 GRACE_PERIOD=0s TASK_TIMEOUT=3s
LEAVER_PID=$M_PID LEAVER_URL=$M_URL LEAVER_LOG=$M_LOG
curl -s -X POST -H "Authorization: Bearer $API_TOKEN" --data \
    "{\"source\":\"$QS_REG_PLAIN/big/image:v1\",\"destination\":\"$QS_REG_TOKEN/$DEST_REPO:leaver\"}" \
    "$LEAVER_URL/api/v1/mirrors" >/dev/null
check "the leaver takes the task" wait_for 20 bash -c \
    "[ \"\$(curl -s '$LEAVER_URL/api/v1/mirrors?action=summarize' | jq -r .in_progress)\" = 1 ]"
kill -TERM "$LEAVER_PID"
check "SIGTERM past GRACE_PERIOD: the worker exits at once" wait_for 3 bash -c \
    "! kill -0 $LEAVER_PID 2>/dev/null"
leaver_rc=0
wait "$LEAVER_PID" 2>/dev/null || leaver_rc=$?
expect_eq "it exits with status 0" 0 "$leaver_rc"
expect_match "it says the copy was abandoned" 'copies abandoned' "$(cat "$LEAVER_LOG")"
emu "$QS_QUAY_URL" DELETE /_emulator/faults >/dev/null
start_mirror heir MIRROR_ROLE=worker MIRROR_WORKERS=1 TASK_TIMEOUT=3s
check "another worker reclaims and finishes the abandoned task" wait_for 60 has_tag leaver

# ---------------------------------------------------------------------------- secrets

leaks=0
for secret in "$QS_PUSHER_PASS" "$API_TOKEN" "$QS_KUBE_SA_TOKEN"; do
    if grep -rqF -- "$secret" "$QS_LOG_DIR"/mirror-*.log; then leaks=$((leaks + 1)); fi
done
expect_eq "no secret appears in any mirror log" 0 "$leaks"

e2e_done
