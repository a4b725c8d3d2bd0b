#!/usr/bin/env bash
# proxy.sh — the proxy end to end: real skopeo and curl as clients, a real docker-registry as
# upstream (Bearer auth with the Quay emulator as token server, and again with htpasswd Basic
# auth), the Kubernetes emulator as the cluster that reviews tokens.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REPO=openshift/ci
TAG=ci_ci-operator_latest
BIN=$QS_BIN/proxy
SKOPEO=(skopeo --command-timeout 60s)
[ -x "$BIN" ] || qs_die "proxy binary missing: $BIN (run make)"

# ---------------------------------------------------------------------------- helpers

# start_proxy NAME VAR=VAL... — start a proxy with the stack's defaults overridden by the
# given variables; sets P_URL, P_HOST, P_LOG, P_PID. Waits for /healthz.
start_proxy() {
    local name=$1
    shift
    local port
    port=$(qs_free_ports 1)
    local dir=$E2E_TMP/$name
    mkdir -p "$dir"
    printf '%s\n' "$QS_ROBOT_USER" >"$dir/robot-user"
    printf '%s\n' "$QS_ROBOT_PASS" >"$dir/robot-pass"
    qs_rand 32 >"$dir/token-secret"
    printf '%s' "$QS_KUBE_SA_TOKEN" >"$dir/kube-token"
    P_HOST=127.0.0.1:$port
    P_URL=http://$P_HOST
    P_LOG=$QS_STACK_DIR/logs/proxy-$name.log
    P_DIR=$dir
    qs_spawn "proxy-$name" "$P_LOG" env \
        LISTEN_ADDR="$P_HOST" EXPOSED_HOST="$P_HOST" \
        UPSTREAM_URL="http://$QS_REG_TOKEN" UPSTREAM_REPOSITORY="$REPO" \
        ROBOT_USERNAME_FILE="$dir/robot-user" ROBOT_PASSWORD_FILE="$dir/robot-pass" \
        TOKEN_SECRET_FILE="$dir/token-secret" KUBE_API_URL="$QS_KUBE_URL" \
        KUBE_TOKEN_FILE="$dir/kube-token" LOG_LEVEL=debug ROBOT_TOKEN_CHECK_INTERVAL=1s \
        "$@" "$BIN"
    P_PID=$QS_LAST_PID
    qs_wait_http "proxy-$name" "$P_URL/healthz" "$P_PID" "$P_LOG" 200 20
}

wait_ready() { qs_wait_http proxy "$1/readyz" "$2" "$3" 200 "${4:-20}"; }

# token URL USER PASS — log in at URL's /v2/auth; prints the token (empty on failure)
login_token() {
    curl -s --max-time 10 -u "$2:$3" "$1/v2/auth?service=x&scope=repository:$REPO:pull" |
        jq -r '.token // empty'
}

emu() { # emu URL METHOD PATH [JSON] — call an emulator's control API
    curl -s --max-time 5 -X "$2" -H 'Content-Type: application/json' ${4:+--data "$4"} "$1$3"
}

calls() { # calls URL KEY — how many times an emulator saw "METHOD path"
    emu "$1" GET /_emulator/calls | jq -r --arg k "$2" '.[$k] // 0'
}

metric() { # metric URL NAME_WITH_LABELS — the value of one series
    curl -s --max-time 5 "$1/metrics" | awk -v k="$2" '$1 == k {print $2; found=1} END {if (!found) print 0}'
}

# ---------------------------------------------------------------------------- test data

IMG=$E2E_TMP/img
tests/tools/mkimage.sh "$IMG" --layers 2 --size 1M --seed proxy-e2e >/dev/null
tests/tools/push-image.sh "$IMG" "docker://$QS_REG_TOKEN/$REPO:$TAG" \
    --dest-creds "$QS_PUSHER_USER:$QS_PUSHER_PASS"
tests/tools/push-image.sh "$IMG" "docker://$QS_REG_TOKEN/other/repo:$TAG" \
    --dest-creds "$QS_PUSHER_USER:$QS_PUSHER_PASS"
MANIFEST_DIGEST=$("${SKOPEO[@]}" inspect --tls-verify=false --creds "$QS_PUSHER_USER:$QS_PUSHER_PASS" \
    --format '{{.Digest}}' "docker://$QS_REG_TOKEN/$REPO:$TAG")

MULTI=$E2E_TMP/multi
tests/tools/mkimage.sh "$MULTI" --layers 1 --size 256K --seed proxy-e2e-multi \
    --platforms linux/amd64,linux/arm64 >/dev/null
tests/tools/push-image.sh "$MULTI" "docker://$QS_REG_TOKEN/$REPO:multi" \
    --dest-creds "$QS_PUSHER_USER:$QS_PUSHER_PASS"
MULTI_DIGEST=$("${SKOPEO[@]}" inspect --raw --tls-verify=false --creds "$QS_PUSHER_USER:$QS_PUSHER_PASS" \
    "docker://$QS_REG_TOKEN/$REPO:multi" | sha256sum | cut -d' ' -f1)

BIG=$E2E_TMP/big
tests/tools/mkimage.sh "$BIG" --layers 1 --size 64M --seed proxy-e2e-big >/dev/null
tests/tools/push-image.sh "$BIG" "docker://$QS_REG_TOKEN/$REPO:big" \
    --dest-creds "$QS_PUSHER_USER:$QS_PUSHER_PASS"
BIG_LAYER=$(awk 'NR==1 {print $1}' "$BIG/layers.txt")

# ---------------------------------------------------------------------------- main proxy

start_proxy main TOKEN_REVIEW_TTL=2s
MAIN_URL=$P_URL MAIN_HOST=$P_HOST MAIN_LOG=$P_LOG MAIN_PID=$P_PID MAIN_DIR=$P_DIR
check "readyz turns 200 once the robot token is held" wait_ready "$MAIN_URL" "$MAIN_PID" "$MAIN_LOG"

# The challenge on /v2/ without credentials
hdrs=$(curl -s -D - -o "$E2E_TMP/body" --max-time 5 "$MAIN_URL/v2/")
expect_match "GET /v2/ without credentials is 401" '^HTTP/1.1 401' "$hdrs"
expect_match "challenge points at our /v2/auth" \
    "[Ww][Ww][Ww]-[Aa]uthenticate: Bearer realm=\"http://$MAIN_HOST/v2/auth\",service=\"$MAIN_HOST\"" "$hdrs"
expect_match "challenge carries Docker-Distribution-Api-Version" \
    'Docker-Distribution-Api-Version: registry/2.0' "$hdrs"
expect_eq "401 body is a registry error" UNAUTHORIZED "$(jq -r '.errors[0].code' "$E2E_TMP/body")"
expect_status "$MAIN_URL/v2/$REPO/manifests/$TAG" 401

# Logins
resp=$(curl -s --max-time 10 -u "alice:$QS_TOKEN_ALICE" "$MAIN_URL/v2/auth?service=$MAIN_HOST")
expect_eq "cluster user login answers token and access_token alike" true \
    "$(jq -r '.token != null and .token == .access_token' <<<"$resp")"
expect_eq "login answers expires_in" 300 "$(jq -r '.expires_in' <<<"$resp")"
expect_match "login answers issued_at (RFC 3339)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' \
    "$(jq -r '.issued_at' <<<"$resp")"
ALICE_JWT=$(jq -r '.token' <<<"$resp")
expect_status "$MAIN_URL/v2/" 200 -H "Authorization: Bearer $ALICE_JWT"
expect_status "$MAIN_URL/v2/auth" 401 -u "alice:wrong-token"
expect_status "$MAIN_URL/v2/auth" 401 -u "bob:$QS_TOKEN_BOB"   # authenticated, SAR denies
expect_status "$MAIN_URL/v2/auth" 200 -u "puller:$QS_TOKEN_SA" # service accounts need no SAR
expect_status "$MAIN_URL/v2/auth" 200 -u "$QS_ROBOT_USER:$QS_ROBOT_PASS"
expect_status "$MAIN_URL/v2/auth" 401 -u "$QS_ROBOT_USER:not-the-password"
expect_status "$MAIN_URL/v2/auth" 401
expect_status "$MAIN_URL/v2/auth" 401 -H "Authorization: Basic !!!notbase64"
# A username with a colon: split at the first colon, the rest is the password
expect_status "$MAIN_URL/v2/auth" 401 -u "al:ice:$QS_TOKEN_ALICE"
expect_status "$MAIN_URL/v2/" 401 -H "Authorization: Bearer not.a.jwt"
expect_status "$MAIN_URL/v2/" 401 -H "Authorization: Bearer "

# Pull with skopeo: cluster user, robot, denied user
check "skopeo inspects through the proxy with a cluster token" \
    "${SKOPEO[@]}" inspect --tls-verify=false --creds "alice:$QS_TOKEN_ALICE" "docker://$MAIN_HOST/$REPO:$TAG"
got=$("${SKOPEO[@]}" inspect --tls-verify=false --creds "alice:$QS_TOKEN_ALICE" --format '{{.Digest}}' \
    "docker://$MAIN_HOST/$REPO:$TAG" 2>&1 || true)
expect_eq "digest through the proxy equals the upstream's" "$MANIFEST_DIGEST" "$got"
check "skopeo copies the image through the proxy (blobs verified)" \
    "${SKOPEO[@]}" copy --src-tls-verify=false --src-creds "alice:$QS_TOKEN_ALICE" \
    "docker://$MAIN_HOST/$REPO:$TAG" "dir:$E2E_TMP/pulled"
got=$("${SKOPEO[@]}" inspect --raw --tls-verify=false --creds "alice:$QS_TOKEN_ALICE" \
    "docker://$MAIN_HOST/$REPO:multi" 2>&1 | sha256sum | cut -d' ' -f1)
expect_eq "a multi-platform index passes byte for byte (every Accept line forwarded)" "$MULTI_DIGEST" "$got"
check "skopeo copies every platform of an index through the proxy" \
    "${SKOPEO[@]}" copy --all --src-tls-verify=false --src-creds "alice:$QS_TOKEN_ALICE" \
    "docker://$MAIN_HOST/$REPO:multi" "oci:$E2E_TMP/pulled-multi:multi"
check "skopeo pulls with the robot's own credentials" \
    "${SKOPEO[@]}" inspect --tls-verify=false --creds "$QS_ROBOT_USER:$QS_ROBOT_PASS" "docker://$MAIN_HOST/$REPO:$TAG"
if "${SKOPEO[@]}" inspect --tls-verify=false --creds "bob:$QS_TOKEN_BOB" "docker://$MAIN_HOST/$REPO:$TAG" \
    >"$E2E_TMP/bob.out" 2>&1; then
    e2e__not_ok "a user the SAR denies cannot pull"
else
    expect_match "a user the SAR denies cannot pull" 'unauthorized|401|authentication required' \
        "$(tr 'A-Z' 'a-z' <"$E2E_TMP/bob.out")"
fi

# Repositories, methods, paths
expect_status "$MAIN_URL/v2/other/repo/manifests/$TAG" 403 -H "Authorization: Bearer $ALICE_JWT"
expect_eq "403 is a registry DENIED error" DENIED "$(curl -s -H "Authorization: Bearer $ALICE_JWT" \
    "$MAIN_URL/v2/other/repo/manifests/$TAG" | jq -r '.errors[0].code')"
expect_status "$MAIN_URL/v2/_catalog" 403 -H "Authorization: Bearer $ALICE_JWT"
expect_status "$MAIN_URL/v2/$REPO/blobs/uploads/" 405 -X POST -H "Authorization: Bearer $ALICE_JWT"
expect_status "$MAIN_URL/v2/$REPO/manifests/$TAG" 405 -X PUT -H "Authorization: Bearer $ALICE_JWT" \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data '{}'
expect_status "$MAIN_URL/v2/$REPO/manifests/$TAG" 405 -X DELETE -H "Authorization: Bearer $ALICE_JWT"
if "${SKOPEO[@]}" copy --dest-tls-verify=false --dest-creds "alice:$QS_TOKEN_ALICE" \
    "oci:$IMG:latest" "docker://$MAIN_HOST/$REPO:pushed" >"$E2E_TMP/push.out" 2>&1; then
    e2e__not_ok "a push through the proxy is refused"
else
    e2e__ok "a push through the proxy is refused"
fi

# Pass-through of registry headers: HEAD, digest, type, length, Range
hdrs=$(curl -s -I --max-time 5 -H "Authorization: Bearer $ALICE_JWT" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$MAIN_URL/v2/$REPO/manifests/$TAG")
expect_match "HEAD manifest passes Docker-Content-Digest" "Docker-Content-Digest: $MANIFEST_DIGEST" "$hdrs"
expect_match "HEAD manifest passes Content-Type" 'Content-Type: application/vnd.oci.image.manifest.v1\+json' "$hdrs"
expect_match "HEAD manifest passes Content-Length" 'Content-Length: [1-9][0-9]*' "$hdrs"
code=$(curl -s -o "$E2E_TMP/range" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $ALICE_JWT" \
    -H 'Range: bytes=0-99' "$MAIN_URL/v2/$REPO/blobs/$BIG_LAYER")
expect_eq "Range request answers 206" 206 "$code"
expect_eq "Range request answers exactly the range" 100 "$(stat -c %s "$E2E_TMP/range")"

# A 64 MiB blob streamed intact
got=$(curl -s --max-time 60 -H "Authorization: Bearer $ALICE_JWT" "$MAIN_URL/v2/$REPO/blobs/$BIG_LAYER" |
    sha256sum | cut -d' ' -f1)
expect_eq "a 64 MiB blob streams through intact (digest checked)" "${BIG_LAYER#sha256:}" "$got"

# The TokenReview cache: the cluster sees one review per token per period
CACHETOK=$(qs_rand 24)
emu "$QS_KUBE_URL" POST /_emulator/tokens \
    "{\"token\":\"$CACHETOK\",\"username\":\"system:serviceaccount:ci:cache\",\"uid\":\"u-c\",\"groups\":[]}" >/dev/null
emu "$QS_KUBE_URL" DELETE /_emulator/calls >/dev/null
for _ in 1 2 3; do login_token "$MAIN_URL" cache "$CACHETOK" >/dev/null; done
expect_eq "three logins within TOKEN_REVIEW_TTL cost one TokenReview" 1 \
    "$(calls "$QS_KUBE_URL" 'POST /apis/authentication.k8s.io/v1/tokenreviews')"

# A revoked cluster token stops working after the cache period
NEWTOK=$(qs_rand 24)
emu "$QS_KUBE_URL" POST /_emulator/tokens \
    "{\"token\":\"$NEWTOK\",\"username\":\"alice\",\"uid\":\"u-alice2\",\"groups\":[\"system:authenticated\"]}" >/dev/null
expect_status "$MAIN_URL/v2/auth" 200 -u "alice:$NEWTOK"
emu "$QS_KUBE_URL" DELETE "/_emulator/tokens/$NEWTOK" >/dev/null
expect_status "$MAIN_URL/v2/auth" 200 -u "alice:$NEWTOK" # still cached
sleep 2.5
expect_status "$MAIN_URL/v2/auth" 401 -u "alice:$NEWTOK"

# Cluster API down: 503, not 401 (and not cached: it works again afterwards)
emu "$QS_KUBE_URL" POST /_emulator/faults '{"path_prefix":"/apis/","status":503,"count":-1}' >/dev/null
expect_status "$MAIN_URL/v2/auth" 503 -u "carol:$(qs_rand 16)"
emu "$QS_KUBE_URL" DELETE /_emulator/faults >/dev/null
expect_status "$MAIN_URL/v2/auth" 401 -u "carol:$(qs_rand 16)"

# Metrics
m=$(curl -s "$MAIN_URL/metrics")
expect_match "metrics count auth decisions" 'proxy_auth_decisions_total\{via="cluster",result="allowed"\} [1-9]' "$m"
expect_match "metrics count token renewals" 'proxy_robot_token_renewals_total\{result="ok"\} [1-9]' "$m"
expect_match "metrics have the upstream latency histogram" 'proxy_upstream_latency_seconds_bucket\{kind="manifest",le=' "$m"
expect_match "metrics count requests by route and status" 'http_requests_total\{route="/v2/auth",method="GET",status="200"\}' "$m"

# ---------------------------------------------------------------------------- expiry

start_proxy short TOKEN_VALIDITY=60s
SHORT_URL=$P_URL
wait_ready "$SHORT_URL" "$P_PID" "$P_LOG" >/dev/null || true
# Forge an expired token with the proxy's own key: signature valid, exp in the past.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
hdr=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
clm=$(printf '{"sub":"alice","kid":"alice","iss":"quayside-proxy","aud":"%s","iat":%d,"nbf":%d,"exp":%d}' \
    "$P_HOST" $((now - 120)) $((now - 120)) $((now - 60)) | b64url)
sig=$(printf '%s.%s' "$hdr" "$clm" | openssl dgst -sha256 -mac HMAC -macopt "key:$(cat "$P_DIR/token-secret")" -binary | b64url)
expired="$hdr.$clm.$sig"
clm_ok=$(printf '{"sub":"alice","kid":"alice","iss":"quayside-proxy","aud":"%s","iat":%d,"nbf":%d,"exp":%d}' \
    "$P_HOST" "$now" "$now" $((now + 60)) | b64url)
sig_ok=$(printf '%s.%s' "$hdr" "$clm_ok" | openssl dgst -sha256 -mac HMAC -macopt "key:$(cat "$P_DIR/token-secret")" -binary | b64url)
expect_status "$SHORT_URL/v2/" 200 -H "Authorization: Bearer $hdr.$clm_ok.$sig_ok"
expect_status "$SHORT_URL/v2/" 401 -H "Authorization: Bearer $expired"
hdrs=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $expired" "$SHORT_URL/v2/$REPO/manifests/$TAG")
expect_match "an expired proxy token gets our own challenge, never the upstream's" \
    "error=\"invalid_token\"" "$hdrs"
# alg confusion: same claims, alg none
none="$(printf '{"alg":"none","typ":"JWT"}' | b64url).$clm_ok."
expect_status "$SHORT_URL/v2/" 401 -H "Authorization: Bearer $none"

# ---------------------------------------------------------------------------- upstream trouble

# Upstream answers 502 on token renew five times, then recovers. The HTTP client retries each
# fetch (4 attempts with backoff), so the first renewal fails; the maintainer retries it 2 s
# later and the second succeeds.
emu "$QS_QUAY_URL" POST /_emulator/faults '{"path_prefix":"/v2/auth","status":502,"count":5}' >/dev/null
emu "$QS_QUAY_URL" DELETE /_emulator/calls >/dev/null
start_proxy renew
check "after 502s on renew the robot token is obtained" wait_ready "$P_URL" "$P_PID" "$P_LOG" 40
expect_eq "the token server was asked six times" 6 "$(calls "$QS_QUAY_URL" 'GET /v2/auth')"
expect_eq "one failed renewal is counted" 1 "$(metric "$P_URL" 'proxy_robot_token_renewals_total{result="error"}')"
expect_eq "then one successful renewal" 1 "$(metric "$P_URL" 'proxy_robot_token_renewals_total{result="ok"}')"
check "pull works after recovery" "${SKOPEO[@]}" inspect --tls-verify=false \
    --creds "$QS_ROBOT_USER:$QS_ROBOT_PASS" "docker://$P_HOST/$REPO:$TAG"
emu "$QS_QUAY_URL" DELETE /_emulator/faults >/dev/null

# Upstream down: not ready, and pulls get a clear 502/503 registry error
dead=$(qs_free_ports 1)
start_proxy down UPSTREAM_URL="http://127.0.0.1:$dead"
expect_status "$P_URL/readyz" 503
tok=$(login_token "$P_URL" "$QS_ROBOT_USER" "$QS_ROBOT_PASS")
code=$(curl -s -o "$E2E_TMP/down.json" -w '%{http_code}' --max-time 20 -H "Authorization: Bearer $tok" \
    "$P_URL/v2/$REPO/manifests/$TAG")
expect_match "upstream down answers 502 or 503" '^50[23]$' "$code"
expect_eq "upstream down answers a registry error body" UNAVAILABLE "$(jq -r '.errors[0].code' "$E2E_TMP/down.json")"

# ---------------------------------------------------------------------------- Basic upstream

printf '%s\n' "$QS_REG_BASIC_USER" >"$E2E_TMP/basic-user"
printf '%s\n' "$QS_REG_BASIC_PASS" >"$E2E_TMP/basic-pass"
"${SKOPEO[@]}" copy --dest-tls-verify=false --dest-creds "$QS_REG_BASIC_USER:$QS_REG_BASIC_PASS" \
    "oci:$IMG:latest" "docker://$QS_REG_BASIC/$REPO:$TAG" >/dev/null
start_proxy basic UPSTREAM_URL="http://$QS_REG_BASIC" ROBOT_USERNAME_FILE="$E2E_TMP/basic-user" \
    ROBOT_PASSWORD_FILE="$E2E_TMP/basic-pass"
check "ready against an htpasswd (Basic) upstream" wait_ready "$P_URL" "$P_PID" "$P_LOG"
check "skopeo pulls through the proxy from a Basic-auth upstream" \
    "${SKOPEO[@]}" copy --src-tls-verify=false --src-creds "alice:$QS_TOKEN_ALICE" \
    "docker://$P_HOST/$REPO:$TAG" "dir:$E2E_TMP/pulled-basic"

# ---------------------------------------------------------------------------- TLS

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -keyout "$E2E_TMP/tls.key" -out "$E2E_TMP/tls.crt" -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
tls_port=$(qs_free_ports 1)
qs_spawn proxy-tls "$QS_STACK_DIR/logs/proxy-tls.log" env LISTEN_ADDR="127.0.0.1:$tls_port" \
    EXPOSED_HOST="127.0.0.1:$tls_port" UPSTREAM_URL="http://$QS_REG_TOKEN" \
    ROBOT_USERNAME_FILE="$MAIN_DIR/robot-user" ROBOT_PASSWORD_FILE="$MAIN_DIR/robot-pass" \
    TOKEN_SECRET_FILE="$MAIN_DIR/token-secret" KUBE_API_URL="$QS_KUBE_URL" \
    KUBE_TOKEN_FILE="$MAIN_DIR/kube-token" TLS_CERT_FILE="$E2E_TMP/tls.crt" TLS_KEY_FILE="$E2E_TMP/tls.key" \
    "$BIN"
sleep 0.5
hdrs=$(curl -s -D - -o /dev/null --max-time 5 --cacert "$E2E_TMP/tls.crt" "https://127.0.0.1:$tls_port/v2/" || true)
expect_match "HTTPS with TLS_CERT_FILE: challenge realm is https" \
    "realm=\"https://127.0.0.1:$tls_port/v2/auth\"" "$hdrs"
check "skopeo pulls over HTTPS with a cluster token" \
    "${SKOPEO[@]}" inspect --cert-dir "$E2E_TMP/certs-empty" --tls-verify=false \
    --creds "alice:$QS_TOKEN_ALICE" "docker://127.0.0.1:$tls_port/$REPO:$TAG"

# ---------------------------------------------------------------------------- secrets rotate

printf 'rotated-%s\n' "$(qs_rand 12)" >"$MAIN_DIR/token-secret.new"
mv "$MAIN_DIR/token-secret.new" "$MAIN_DIR/token-secret"
expect_status "$MAIN_URL/v2/" 401 -H "Authorization: Bearer $ALICE_JWT"
expect_status "$MAIN_URL/v2/" 200 -H "Authorization: Bearer $(login_token "$MAIN_URL" alice "$QS_TOKEN_ALICE")"

# ---------------------------------------------------------------------------- SIGTERM, secrets

kill -TERM "$MAIN_PID"
for _ in $(seq 1 50); do qs_pid_alive "$MAIN_PID" || break; sleep 0.1; done
if qs_pid_alive "$MAIN_PID"; then e2e__not_ok "SIGTERM stops the proxy"; else e2e__ok "SIGTERM stops the proxy"; fi
expect_match "the proxy logs it stopped" '"msg":"stopped"' "$(tail -n 3 "$MAIN_LOG")"

leaks=0
for secret in "$QS_ROBOT_PASS" "$QS_TOKEN_ALICE" "$QS_TOKEN_SA" "$QS_KUBE_SA_TOKEN" "$ALICE_JWT" \
    "$(cat "$MAIN_DIR/token-secret")"; do
    if grep -rqF -- "$secret" "$QS_STACK_DIR"/logs/proxy-*.log; then leaks=$((leaks + 1)); fi
done
expect_eq "no secret appears in any proxy log" 0 "$leaks"
expect_match "logs are JSON lines" '^\{"ts":"' "$(head -n 1 "$MAIN_LOG")"

e2e_done
