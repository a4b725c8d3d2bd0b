#!/usr/bin/env bash
# stack_smoke.sh — the local stack itself works: Redis answers, the three registries answer
# /v2/ with the expected auth challenge, the emulators are healthy, and images made by
# mkimage.sh survive a push and pull byte for byte (single- and multi-platform; and through
# the real Bearer token flow when the quay emulator is up).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
TOOLS=$QS_ROOT/tests/tools

# --- redis
if has_component redis; then
    expect_eq "redis answers PING" PONG "$(redis-cli -h 127.0.0.1 -p "$QS_REDIS_PORT" ping 2>&1)"
else
    skip "redis answers PING" "redis not in the stack"
fi

# --- registries: /v2/ and challenges
headers() { curl -s -D - -o /dev/null --max-time 10 "$@"; }
challenge() { headers "$1" | tr -d '\r' | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p'; }

expect_status "http://$QS_REG_PLAIN/v2/" 200

expect_status "http://$QS_REG_BASIC/v2/" 401
expect_eq "reg-basic challenges with Basic" 'Basic realm="basic-realm"' \
    "$(challenge "http://$QS_REG_BASIC/v2/")"
expect_eq "reg-basic accepts ci-robot" 200 \
    "$(http_status "http://$QS_REG_BASIC/v2/" -u "$QS_REG_BASIC_USER:$QS_REG_BASIC_PASS")"
expect_eq "reg-basic rejects a wrong password" 401 \
    "$(http_status "http://$QS_REG_BASIC/v2/" -u "$QS_REG_BASIC_USER:wrong")"

expect_status "http://$QS_REG_TOKEN/v2/" 401
expect_eq "reg-token challenges with Bearer at the quay emulator" \
    "Bearer realm=\"$QS_QUAY_TOKEN_REALM\",service=\"$QS_QUAY_TOKEN_SERVICE\"" \
    "$(challenge "http://$QS_REG_TOKEN/v2/")"
if has_component quay; then
    expect_eq "token realm is the quay emulator" "$QS_QUAY_URL/v2/auth" "$QS_QUAY_TOKEN_REALM"
    expect_status "$QS_QUAY_URL/_emulator/health" 200
else
    skip "token realm is the quay emulator" "quay emulator not built"
fi
if has_component kube; then
    expect_status "$QS_KUBE_URL/_emulator/health" 200
else
    skip "kube emulator healthy" "kube emulator not built"
fi

# --- images round-trip
img=$E2E_TMP/img
multi=$E2E_TMP/multi
check "mkimage: 2-layer image" "$TOOLS/mkimage.sh" "$img" --layers 2 --size 256K
check "mkimage: 2-platform index" "$TOOLS/mkimage.sh" "$multi" --layers 1 --size 64K \
    --platforms linux/amd64,linux/arm64 --base-layers 1
want_img=$(jq -r '.manifests[0].digest' "$img/index.json")
want_multi=$(jq -r '.manifests[0].digest' "$multi/index.json")

raw_digest() { # docker://REF [skopeo args] -> sha256:<digest of the raw manifest>
    local ref=$1
    shift
    printf 'sha256:%s' "$(skopeo inspect --raw --tls-verify=false "$@" "$ref" | sha256sum | cut -d' ' -f1)"
}

check "skopeo pushes the image to reg-plain" \
    "$TOOLS/push-image.sh" "$img" "docker://$QS_REG_PLAIN/smoke/single:latest"
expect_eq "reg-plain returns the manifest byte for byte" "$want_img" \
    "$(raw_digest "docker://$QS_REG_PLAIN/smoke/single:latest" || true)"
expect_eq "reg-plain serves the manifest under its digest" 200 \
    "$(http_status "http://$QS_REG_PLAIN/v2/smoke/single/manifests/$want_img" \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json')"

check "skopeo pushes the index to reg-plain" \
    "$TOOLS/push-image.sh" "$multi" "docker://$QS_REG_PLAIN/smoke/multi:latest"
expect_eq "reg-plain returns the index byte for byte" "$want_multi" \
    "$(raw_digest "docker://$QS_REG_PLAIN/smoke/multi:latest" || true)"
expect_eq "the index lists both platforms" "linux/amd64 linux/arm64" \
    "$(skopeo inspect --raw --tls-verify=false "docker://$QS_REG_PLAIN/smoke/multi:latest" |
        jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(" ")' || true)"

check "skopeo pushes to reg-basic with credentials" \
    "$TOOLS/push-image.sh" "$img" "docker://$QS_REG_BASIC/smoke/single:latest" \
    --dest-creds "$QS_REG_BASIC_USER:$QS_REG_BASIC_PASS"
expect_eq "reg-basic returns the manifest byte for byte" "$want_img" \
    "$(raw_digest "docker://$QS_REG_BASIC/smoke/single:latest" \
        --creds "$QS_REG_BASIC_USER:$QS_REG_BASIC_PASS" || true)"

if has_component quay; then
    check "skopeo pushes to reg-token as pusher (Bearer flow)" \
        "$TOOLS/push-image.sh" "$multi" "docker://$QS_REG_TOKEN/smoke/multi:latest" \
        --dest-creds "$QS_PUSHER_USER:$QS_PUSHER_PASS"
    expect_eq "reg-token returns the index byte for byte" "$want_multi" \
        "$(raw_digest "docker://$QS_REG_TOKEN/smoke/multi:latest" \
            --creds "$QS_PUSHER_USER:$QS_PUSHER_PASS" || true)"
    expect_eq "reg-token refuses an anonymous pull" 401 \
        "$(http_status "http://$QS_REG_TOKEN/v2/smoke/multi/manifests/latest")"
else
    skip "skopeo pushes to reg-token as pusher (Bearer flow)" "quay emulator not built"
fi

e2e_done
