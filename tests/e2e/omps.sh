#!/usr/bin/env bash
# omps.sh — the omps service end to end: real curl uploads (`curl -F file=@...`) against the
# omps binary, with the stack's Quay emulator (App Registry + changevisibility), Koji emulator
# (builds of the stack's fixture, archives put under $QS_KOJI_ROOT), Greenwave emulator (more
# instances with the Greenwave gate on) and Redis (push lock, event stream). What Quay
# received is read back from the emulator (the pushed tar.gz, the visibility, call counts).
# Each run uses its own organizations, so it can share a stack.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

BIN=$QS_BIN/omps
MKZIP=$QS_BIN/mkzip
MANIFESTS=$QS_ROOT/tests/tools/omps-manifests.sh
[ -x "$BIN" ] || qs_die "omps binary missing: $BIN (run make)"
[ -x "$MKZIP" ] || qs_die "mkzip missing: $MKZIP (run make)"
for c in redis quay koji; do
    has_component "$c" || qs_die "the stack has no $c (omps needs redis, quay and koji)"
done

RUN=$(qs_rand 3)
ORG=e2e$RUN        # private organization
PUB=e2epub$RUN     # public: true with an OAuth token
SFX=e2esfx$RUN     # package_name_suffix, replace_registry, csv_annotations
TOKEN="basic $(qs_rand 20)"   # the users' CNR token (any text; passed verbatim)
RO_TOKEN=ro-$(qs_rand 20)     # may only pull
OAUTH=oauth-$(qs_rand 20)     # the public organization's application token

# ---------------------------------------------------------------------------- helpers

emu() { curl -s --max-time 10 -X "$2" -H 'Content-Type: application/json' ${4:+--data "$4"} "$1$3"; }
# post PATH [CURL_ARGS...] — POST to omps with the token; sets CODE and R (the body)
post() {
    local path=$1
    shift
    local out=$E2E_TMP/resp
    CODE=$(curl -s -o "$out" -w '%{http_code}' --max-time 60 -X POST -H "Authorization: $TOKEN" \
        "$@" "$OMPS$path" || true)
    R=$(cat "$out")
}
del() { # del PATH — DELETE with the token; sets CODE and R
    local out=$E2E_TMP/resp
    CODE=$(curl -s -o "$out" -w '%{http_code}' --max-time 60 -X DELETE -H "Authorization: $TOKEN" \
        "$OMPS$1" || true)
    R=$(cat "$out")
}
field() { jq -r "$1" <<<"$2"; }
releases() { emu "$QS_QUAY_URL" GET /_emulator/appr/repos | jq -c --arg k "$1" '.[$k].releases // []'; }
visibility() { emu "$QS_QUAY_URL" GET /_emulator/appr/repos | jq -r --arg k "$1" '.[$k].visibility // "none"'; }
calls() { emu "$QS_QUAY_URL" GET /_emulator/calls | jq -r --arg k "$1" '.[$k] // 0'; }
blob() { curl -s --max-time 10 -o "$2" "$QS_QUAY_URL/_emulator/appr/$1/blob"; }

# ---------------------------------------------------------------------------- setup

emu "$QS_QUAY_URL" POST /_emulator/appr/tokens \
    "{\"token\":\"$TOKEN\",\"orgs\":[\"$ORG\",\"$PUB\",\"$SFX\"]}" >/dev/null
emu "$QS_QUAY_URL" POST /_emulator/appr/tokens \
    "{\"token\":\"$RO_TOKEN\",\"orgs\":[\"$ORG\"],\"actions\":[\"pull\"]}" >/dev/null
emu "$QS_QUAY_URL" POST /_emulator/appr/tokens \
    "{\"token\":\"$OAUTH\",\"orgs\":[\"$PUB\"],\"actions\":[\"admin\"]}" >/dev/null
(umask 077 && printf '%s\n' "$OAUTH" >"$E2E_TMP/oauth-token")
cat >"$E2E_TMP/omps.yaml" <<EOF
organizations:
  $ORG: {}
  $PUB:
    public: true
    oauth_token_file: $E2E_TMP/oauth-token
  $SFX:
    package_name_suffix: -sfx
    replace_registry:
      - {old: quay.io/quayside/, new: registry.example.com/mirror/}
      - {old: '(demo-operator):v([0-9.]+)', new: '\1@v\2', regexp: true}
    csv_annotations:
      - {name: marketplace.openshift.io/remote-workflow, value: 'https://marketplace.example.com/{package_name}'}
default_release_version: 1.0.0
EOF

"$MANIFESTS" flat "$E2E_TMP/flat"
"$MANIFESTS" nested "$E2E_TMP/nested"
"$MKZIP" "$E2E_TMP/flat.zip" "$E2E_TMP/flat"
"$MKZIP" "$E2E_TMP/nested.zip" "$E2E_TMP/nested"
"$MANIFESTS" flat "$E2E_TMP/concur" concur
"$MKZIP" "$E2E_TMP/concur.zip" "$E2E_TMP/concur"

PORT=$(qs_free_ports 1)
OMPS=http://127.0.0.1:$PORT
LOG=$QS_LOG_DIR/omps-e2e.log
qs_spawn omps-e2e "$LOG" env LISTEN_ADDR="127.0.0.1:$PORT" QUAY_URL="$QS_QUAY_URL" \
    KOJIHUB_URL="$QS_KOJI_URL" KOJIROOT_URL="$QS_KOJI_ROOT_URL" REDIS_URL="$QS_REDIS_URL" \
    OMPS_CONF_FILE="$E2E_TMP/omps.yaml" REQUEST_TIMEOUT=10s WORKERS_NUM=8 LOG_LEVEL=debug "$BIN"
OMPS_PID=$QS_LAST_PID
qs_wait_http omps "$OMPS/healthz" "$OMPS_PID" "$LOG" 200 20

# ---------------------------------------------------------------------------- basics

expect_status "$OMPS/readyz" 200
r=$(curl -s "$OMPS/v2/health/ping")
expect_eq "health/ping: Quay and Koji work" "true true true" \
    "$(jq -r '[.ok, .services.quay.ok, .services.koji.ok] | join(" ")' <<<"$r")"
expect_eq "health/ping: keys sorted as Flask's jsonify" "ok services status greenwave koji quay" \
    "$(jq -r '[keys_unsorted[], (.services | keys_unsorted[])] | join(" ")' <<<"$r")"
expect_eq "about: the versions, keys sorted" '{"operatorcourier":"2.1.10","version":"11.2"}' \
    "$(curl -s "$OMPS/v1/about")"
r=$(curl -s -X POST -F "file=@$E2E_TMP/flat.zip" "$OMPS/v2/$ORG/zipfile")
expect_eq "no Authorization header: 403 before anything else, keys sorted" \
    "{\"error\":\"OMPSAuthorizationHeaderRequired\",\"message\":\"Request contains no 'Authorization' header\",\"status\":403}" \
    "$r"
r=$(curl -s -X POST -H "Authorization: tok$(printf '\001')en" -F "file=@$E2E_TMP/flat.zip" \
    "$OMPS/v2/$ORG/zipfile")
expect_eq "an Authorization with control characters: 400, not forwarded" \
    "400 BadRequest The 'Authorization' header contains control characters" \
    "$(jq -r '"\(.status) \(.error) \(.message)"' <<<"$r")"
expect_status "$OMPS/v2/$ORG/zipfile" 403 -X POST
r=$(curl -s "$OMPS/v2/nope")
expect_eq "unknown route: JSON 404" "404 NotFound" "$(jq -r '"\(.status) \(.error)"' <<<"$r")"
r=$(curl -s -X PUT "$OMPS/v2/$ORG/zipfile")
expect_eq "wrong method: JSON 405" "405 MethodNotAllowed" "$(jq -r '"\(.status) \(.error)"' <<<"$r")"

# ---------------------------------------------------------------------------- flat push

post "/v2/$ORG/zipfile" -F "file=@$E2E_TMP/flat.zip"
r=$R
expect_eq "flat v2 push: 200" 200 "$CODE"
expect_eq "flat v2 push: repository = packageName, default version for a new package" \
    "$ORG marketplace 1.0.0" "$(jq -r '"\(.organization) \(.repo) \(.version)"' <<<"$r")"
expect_eq "flat v2 push: extracted_files, sorted" '["crd.yml","csv.yaml","packages.yaml"]' \
    "$(jq -c .extracted_files <<<"$r")"
expect_eq "flat v2 push: keys sorted" "extracted_files organization repo version" \
    "$(jq -r 'keys_unsorted | join(" ")' <<<"$r")"
blob "$ORG/marketplace/1.0.0" "$E2E_TMP/flat.tgz"
listing=$(tar tzf "$E2E_TMP/flat.tgz" 2>&1 || true)
expect_match "the pushed blob is <repo>-<random>/ with bundle.yaml" \
    '^marketplace-[a-z0-9_]{8}/'$'\n''marketplace-[a-z0-9_]{8}/bundle\.yaml$' "$listing"
mkdir -p "$E2E_TMP/flat.out"
tar xzf "$E2E_TMP/flat.tgz" -C "$E2E_TMP/flat.out"
bundle=$(cat "$E2E_TMP"/flat.out/marketplace-*/bundle.yaml)
expect_match "bundle.yaml: data with the three lists as literal strings" \
    '^data:'$'\n''  clusterServiceVersions: \|'$'\n''    - apiVersion: operators.coreos.com/v1alpha1' "$bundle"
expect_match "bundle.yaml: the CRD" $'\n''  customResourceDefinitions: \|'$'\n''    - apiVersion: apiextensions.k8s.io/v1beta1' "$bundle"
expect_match "bundle.yaml: the package, keys sorted" \
    $'\n''  packages: \|'$'\n''    - channels:'$'\n''      - currentCSV: marketplace-operator.v0.0.1'$'\n''        name: alpha'$'\n''      packageName: marketplace' "$bundle"
expect_eq "a private organization's repository stays private" private "$(visibility "$ORG/marketplace")"

# ---------------------------------------------------------------------------- versions

post "/v2/$ORG/zipfile" -F "file=@$E2E_TMP/flat.zip"
r=$R
expect_eq "a second push without a version: next major" 2.0.0 "$(field .version "$r")"
post "/v1/$ORG/marketplace/zipfile/2.5.1" -F "file=@$E2E_TMP/flat.zip"
r=$R
expect_eq "v1 push with an explicit version" "200 2.5.1" "$CODE $(field .version "$r")"
post "/v1/$ORG/marketplace/zipfile" -F "file=@$E2E_TMP/flat.zip"
r=$R
expect_eq "auto-version over existing releases: 2.5.1 -> 3.0.0" 3.0.0 "$(field .version "$r")"
post "/v2/$ORG/zipfile/2.5.1" -F "file=@$E2E_TMP/flat.zip"
r=$R
expect_eq "an existing version: 500 QuayCourierError with Quay's answer" \
    "500 QuayCourierError Failed to push manifest: package exists already package-exists" \
    "$CODE $(jq -r '"\(.error) \(.message) \(.quay_response.error.code)"' <<<"$r")"
post "/v2/$ORG/zipfile/1.01.0" -F "file=@$E2E_TMP/flat.zip"
r=$R
expect_eq "an invalid version: 400 OMPSInvalidVersionFormat" "400 OMPSInvalidVersionFormat" \
    "$CODE $(field .error "$r")"
expect_match "the message quotes the rule" "must match regexp '\^\(0\|\[1-9\]\[0-9\]\*\)" "$(field .message "$r")"
post "/v1/$ORG/othername/zipfile" -F "file=@$E2E_TMP/flat.zip"
r=$R
expect_eq "v1: a repository other than the packageName fails courier's check" \
    "400 PackageValidationError" "$CODE $(field .error "$r")"
expect_match "... with courier's message in validation_info" \
    'packageName \(marketplace\) in bundle does not match repository name \(othername\)' \
    "$(jq -r '.validation_info.errors[]' <<<"$r")"

# ---------------------------------------------------------------------------- nested push

post "/v2/$ORG/zipfile/0.9.2" -F "file=@$E2E_TMP/nested.zip"
r=$R
expect_eq "nested push: 200, repository etcd" "200 etcd 0.9.2" "$CODE $(jq -r '"\(.repo) \(.version)"' <<<"$r")"
expect_eq "nested push: extracted_files" \
    '["0.6.1/etcdcluster.crd.yaml","0.6.1/etcdoperator.v0.6.1.clusterserviceversion.yaml","0.9.2/etcdcluster.crd.yaml","0.9.2/etcdoperator.v0.9.2.clusterserviceversion.yaml","art.yaml","etcd.package.yaml"]' \
    "$(jq -c .extracted_files <<<"$r")"
blob "$ORG/etcd/0.9.2" "$E2E_TMP/nested.tgz"
mkdir -p "$E2E_TMP/nested.out"
tar xzf "$E2E_TMP/nested.tgz" -C "$E2E_TMP/nested.out"
top=$(find "$E2E_TMP/nested.out" -mindepth 1 -maxdepth 1)
expect_match "the nested blob has one top directory etcd-<random>" '/etcd-[a-z0-9_]{8}$' "$top"
expect_eq "the nested blob is the tree as uploaded, without art.yaml" \
    "0.6.1/etcdcluster.crd.yaml 0.6.1/etcdoperator.v0.6.1.clusterserviceversion.yaml 0.9.2/etcdcluster.crd.yaml 0.9.2/etcdoperator.v0.9.2.clusterserviceversion.yaml etcd.package.yaml" \
    "$(cd "$top" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
check "nested files arrive byte for byte" diff -r -x art.yaml "$E2E_TMP/nested" "$top"

# ---------------------------------------------------------------------------- concurrency

# Every push to "concur" is held 300 ms by the emulator, so without the lock all eight would
# read the same releases and pick the same version.
emu "$QS_QUAY_URL" POST /_emulator/faults \
    "{\"path_prefix\":\"/cnr/api/v1/packages/$ORG/concur\",\"method\":\"POST\",\"status\":0,\"delay_ms\":300,\"count\":-1}" >/dev/null
pids=()
for i in 1 2 3 4 5 6 7 8; do
    curl -s --max-time 60 -X POST -H "Authorization: $TOKEN" -F "file=@$E2E_TMP/concur.zip" \
        -o "$E2E_TMP/concur.$i" -w '%{http_code}\n' "$OMPS/v2/$ORG/zipfile" >"$E2E_TMP/concur.$i.code" &
    pids+=($!)
done
wait "${pids[@]}"
emu "$QS_QUAY_URL" DELETE /_emulator/faults >/dev/null
expect_eq "eight concurrent pushes without a version all succeed" "200 200 200 200 200 200 200 200" \
    "$(cat "$E2E_TMP"/concur.?.code | tr '\n' ' ' | sed 's/ $//')"
expect_eq "... with eight distinct versions 1.0.0 .. 8.0.0" "1.0.0 2.0.0 3.0.0 4.0.0 5.0.0 6.0.0 7.0.0 8.0.0" \
    "$(jq -r .version "$E2E_TMP"/concur.? | sort -V | tr '\n' ' ' | sed 's/ $//')"
expect_eq "Quay holds the eight releases" 8 "$(releases "$ORG/concur" | jq length)"
expect_match "the lock waits were measured" 'omps_push_lock_wait_seconds_count [1-9]' "$(curl -s "$OMPS/metrics")"

# ---------------------------------------------------------------------------- publish

emu "$QS_QUAY_URL" DELETE /_emulator/calls >/dev/null
post "/v2/$PUB/zipfile" -F "file=@$E2E_TMP/flat.zip"
r=$R
expect_eq "push to a public organization" "200 1.0.0" "$CODE $(field .version "$r")"
expect_eq "changevisibility was called once with the OAuth token" 1 \
    "$(calls "POST /api/v1/repository/$PUB/marketplace/changevisibility")"
expect_eq "the repository is public" public "$(visibility "$PUB/marketplace")"
post "/v2/$ORG/zipfile" -F "file=@$E2E_TMP/flat.zip"
expect_eq "no changevisibility for a private organization" 0 \
    "$(calls "POST /api/v1/repository/$ORG/marketplace/changevisibility")"

# ---------------------------------------------------------------------------- organization rules

post "/v2/$SFX/zipfile" -F "file=@$E2E_TMP/flat.zip"
r=$R
expect_eq "package_name_suffix: the repository is the suffixed packageName" "200 marketplace-sfx" \
    "$CODE $(field .repo "$r")"
blob "$SFX/marketplace-sfx/1.0.0" "$E2E_TMP/sfx.tgz"
mkdir -p "$E2E_TMP/sfx.out"
tar xzf "$E2E_TMP/sfx.tgz" -C "$E2E_TMP/sfx.out"
sb=$(cat "$E2E_TMP"/sfx.out/marketplace-sfx-*/bundle.yaml)
expect_match "the package in the bundle has the suffix" 'packageName: marketplace-sfx' "$sb"
expect_match "replace_registry (plain, then regexp) rewrote the images" \
    'image: registry.example.com/mirror/demo-operator@v0.0.1' "$sb"
if grep -q 'quay.io/quayside' <<<"$sb"; then e2e__not_ok "no old registry is left"; else e2e__ok "no old registry is left"; fi
expect_match "csv_annotations with {package_name}" \
    'marketplace.openshift.io/remote-workflow: https://marketplace.example.com/marketplace-sfx' "$sb"

# ---------------------------------------------------------------------------- refusals

post "/v2/$ORG/zipfile"
r=$R
expect_eq "no file: 400 OMPSExpectedFileError" '400 OMPSExpectedFileError No field "file" in uploaded data' \
    "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$r")"
post "/v2/$ORG/zipfile" -F "other=@$E2E_TMP/flat.zip"
r=$R
expect_eq "another field name: OMPSExpectedFileError" "400 OMPSExpectedFileError" "$CODE $(field .error "$r")"
cp "$E2E_TMP/flat.zip" "$E2E_TMP/flat.tar"
post "/v2/$ORG/zipfile" -F "file=@$E2E_TMP/flat.tar"
r=$R
expect_eq "not a .zip name: OMPSUploadedFileError" "400 OMPSUploadedFileError Uploaded file extension \".tar\" is not any of {'.zip'}" \
    "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$r")"
head -c 5000 /dev/urandom >"$E2E_TMP/junk.zip"
post "/v2/$ORG/zipfile" -F "file=@$E2E_TMP/junk.zip"
r=$R
expect_eq "not a zip: 400 OMPSUploadedFileError" "400 OMPSUploadedFileError" "$CODE $(field .error "$r")"
"$MKZIP" "$E2E_TMP/big.zip" "$E2E_TMP/flat" --random padding.bin=3145728
post "/v2/$ORG/zipfile" -F "file=@$E2E_TMP/big.zip"
r=$R
expect_eq "an upload over MAX_CONTENT_LENGTH: 413 in OMPS's shape" \
    "413 413 RequestEntityTooLarge The data value transmitted exceeds the capacity limit." \
    "$CODE $(jq -r '"\(.status) \(.error) \(.message)"' <<<"$r")"
"$MKZIP" "$E2E_TMP/bomb.zip" "$E2E_TMP/flat" --zeros bomb.bin=1073741824
post "/v2/$ORG/zipfile" -F "file=@$E2E_TMP/bomb.zip"
r=$R
expect_match "a zip bomb (1 GiB of zeros in 1 MiB): refused" \
    '^400 OMPSUploadedFileError Uncompressed archive is larger than limit \(10737[0-9]{5}B>20971520B\)$' \
    "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$r")"
"$MKZIP" "$E2E_TMP/slip.zip" "$E2E_TMP/flat" --entry ../../evil.yaml="$E2E_TMP/flat/crd.yml"
post "/v2/$ORG/zipfile" -F "file=@$E2E_TMP/slip.zip"
r=$R
expect_eq "an entry escaping the directory: refused" "400 OMPSUploadedFileError" "$CODE $(field .error "$r")"
expect_match "... naming the entry" '\.\./\.\./evil\.yaml' "$(field .message "$r")"
expect_match "zip refusals are counted by reason" 'omps_zip_rejected_total\{reason="too_large"\} [1-9]' "$(curl -s "$OMPS/metrics")"

# a CSV without spec.install: courier's errors and warnings in validation_info
cp -r "$E2E_TMP/flat" "$E2E_TMP/invalid"
sed -i '/^  install:/,/^      clusterPermissions/d; /^    description: A demo/d' "$E2E_TMP/invalid/csv.yaml"
"$MKZIP" "$E2E_TMP/invalid.zip" "$E2E_TMP/invalid"
post "/v2/$ORG/zipfile/9.9.9" -F "file=@$E2E_TMP/invalid.zip"
r=$R
expect_eq "an invalid bundle: 400 PackageValidationError" \
    "400 PackageValidationError Failed to push manifest: Resulting bundle is invalid, input yaml is improperly defined." \
    "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$r")"
expect_eq "validation_info.errors" '["csv spec.install not defined"]' "$(jq -c .validation_info.errors <<<"$r")"
expect_eq "validation_info.warnings" '["csv metadata.annotations.description not defined"]' \
    "$(jq -c .validation_info.warnings <<<"$r")"
expect_eq "nothing was pushed" '[]' "$(jq -c '[.[] | select(. == "9.9.9")]' <<<"$(releases "$ORG/marketplace")")"
printf 'channels: []\n' >"$E2E_TMP/nopkg.yaml"
"$MKZIP" "$E2E_TMP/nopkg.zip" --entry pkg.yaml="$E2E_TMP/nopkg.yaml"
post "/v2/$ORG/zipfile" -F "file=@$E2E_TMP/nopkg.zip"
r=$R
expect_eq "no packageName: 400 PackageValidationError" \
    "400 PackageValidationError Could not find packageName in manifests." \
    "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$r")"
saved=$TOKEN
TOKEN=$RO_TOKEN
post "/v2/$ORG/zipfile/7.7.7" -F "file=@$E2E_TMP/flat.zip"
r=$R
TOKEN=$saved
expect_eq "a token without push rights: 403 QuayAuthorizationError with Quay's answer" \
    "403 QuayAuthorizationError forbidden" "$CODE $(jq -r '"\(.error) \(.quay_response.error.code)"' <<<"$r")"

# ---------------------------------------------------------------------------- Koji

KOJI_ZIP=packages/omps-op/1.0/1/files/operator-manifests/operator_manifests.zip
LEGACY_ZIP=packages/omps-legacy/2.0/3/data/logs/noarch/operator_manifests.zip
mkdir -p "$(dirname "$QS_KOJI_ROOT/$KOJI_ZIP")" "$(dirname "$QS_KOJI_ROOT/$LEGACY_ZIP")"
"$MANIFESTS" flat "$E2E_TMP/kojiop" kojiop
"$MKZIP" "$QS_KOJI_ROOT/$KOJI_ZIP" "$E2E_TMP/kojiop"
cp "$QS_KOJI_ROOT/$KOJI_ZIP" "$QS_KOJI_ROOT/$LEGACY_ZIP"
post "/v2/$ORG/koji/omps-op-1.0-1"
r=$R
expect_eq "Koji build (typeinfo archive): pushed with its nvr" "200 kojiop 1.0.0 omps-op-1.0-1" \
    "$CODE $(jq -r '"\(.repo) \(.version) \(.nvr)"' <<<"$r")"
expect_eq "... extracted_files" '["crd.yml","csv.yaml","packages.yaml"]' "$(jq -c .extracted_files <<<"$r")"
expect_eq "... keys sorted (nvr after extracted_files)" "extracted_files nvr organization repo version" \
    "$(jq -r 'keys_unsorted | join(" ")' <<<"$r")"
post "/v1/$ORG/kojiop/koji/omps-legacy-2.0-3/4.1.0"
r=$R
expect_eq "Koji build (legacy archive in the build logs), v1 with a version" "200 kojiop 4.1.0 omps-legacy-2.0-3" \
    "$CODE $(jq -r '"\(.repo) \(.version) \(.nvr)"' <<<"$r")"
post "/v2/$ORG/koji/omps-nothere-1.0-1"
r=$R
expect_eq "Koji: unknown build" "404 KojiNVRBuildNotFound NVR not found: omps-nothere-1.0-1" \
    "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$r")"
post "/v2/$ORG/koji/omps-noop-1.0-1"
r=$R
expect_eq "Koji: not an operator image" "400 KojiNotAnOperatorImage Not an operator image: omps-noop-1.0-1" \
    "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$r")"
post "/v2/$ORG/koji/omps-nolog-1.0-1"
r=$R
expect_eq "Koji: archive missing from the build" \
    "500 KojiManifestsArchiveNotFound Expected archive 'operator_manifests.zip' with manifests not found in build: omps-nolog-1.0-1" \
    "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$r")"
post "/v2/$ORG/koji/omps-op-1.0-1/1.2"
r=$R
expect_eq "Koji with an invalid version: 400" "400 OMPSInvalidVersionFormat" "$CODE $(field .error "$r")"
emu "${QS_KOJI_ROOT_URL%/}" POST /_emulator/faults '{"path_prefix":"/kojihub","status":503,"count":-1}' >/dev/null
post "/v2/$ORG/koji/omps-op-1.0-1"
r=$R
emu "${QS_KOJI_ROOT_URL%/}" DELETE /_emulator/faults >/dev/null
expect_eq "Koji hub down: 500 KojiError" "500 KojiError" "$CODE $(field .error "$r")"

# ---------------------------------------------------------------------------- delete

del "/v2/$ORG/marketplace/2.0.0"
r=$R
expect_eq "delete one release, keys sorted" "200 {\"deleted\":[\"2.0.0\"],\"organization\":\"$ORG\",\"repo\":\"marketplace\"}" \
    "$CODE $R"
expect_eq "... it is gone from Quay" '[]' "$(releases "$ORG/marketplace" | jq -c '[.[] | select(. == "2.0.0")]')"
before=$(releases "$ORG/marketplace")
del "/v1/$ORG/marketplace"
r=$R
expect_eq "delete all releases: each one Quay listed" "200 $before" "$CODE $(jq -c .deleted <<<"$r")"
expect_eq "... none left" '[]' "$(releases "$ORG/marketplace")"
del "/v2/$ORG/marketplace"
r=$R
expect_eq "delete all again: 404 QuayPackageNotFound" "404 QuayPackageNotFound Package $ORG/marketplace not found" \
    "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$r")"
del "/v2/$ORG/etcd/5.5.5"
r=$R
expect_eq "delete an unknown release: 404 with Quay's message" \
    "404 QuayPackageNotFound package $ORG/etcd doesn't exist, v: 5.5.5, type: helm" \
    "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$r")"
expect_status "$OMPS/v2/$ORG/etcd" 403 -X DELETE

# ---------------------------------------------------------------------------- Quay down

emu "$QS_QUAY_URL" POST /_emulator/faults '{"path_prefix":"/cnr","status":503,"count":-1}' >/dev/null
post "/v2/$ORG/zipfile" -F "file=@$E2E_TMP/flat.zip"
r=$R
expect_eq "Quay down, no version: 500 QuayPackageError (listing the releases)" "500 QuayPackageError" \
    "$CODE $(field .error "$r")"
expect_match "... in requests' words" 'Cannot retrieve information about package .*/marketplace: 503 Server Error' \
    "$(field .message "$r")"
post "/v2/$ORG/zipfile/1.0.0" -F "file=@$E2E_TMP/flat.zip"
r=$R
expect_eq "Quay down, explicit version: 500 QuayCourierError" "500 QuayCourierError" "$CODE $(field .error "$r")"
del "/v2/$ORG/etcd/0.9.2"
r=$R
expect_eq "Quay down, delete: 500 QuayPackageError" "500 QuayPackageError" "$CODE $(field .error "$r")"
expect_status "$OMPS/v1/health/ping" 503
emu "$QS_QUAY_URL" DELETE /_emulator/faults >/dev/null
expect_status "$OMPS/v1/health/ping" 200

# ---------------------------------------------------------------------------- events, metrics, logs

events=$(redis-cli -u "$QS_REDIS_URL" XREVRANGE quayside:events + - COUNT 200 2>/dev/null |
    grep -F "\"organization\":\"$PUB\"" || true)
expect_match "a manifests.pushed event for the public push" \
    "\"repository\":\"marketplace\",\"version\":\"1.0.0\".*\"published\":true" "$events"
nevents=$(redis-cli -u "$QS_REDIS_URL" XREVRANGE quayside:events + - COUNT 500 2>/dev/null |
    grep -cF "\"organization\":\"$ORG\",\"repository\":\"concur\"" || true)
expect_eq "one event per concurrent push" 8 "$nevents"
expect_match "pushes are counted by source and result" \
    'omps_pushes_total\{source="koji",result="KojiNVRBuildNotFound"\} 1' "$(curl -s "$OMPS/metrics")"
leaks=0
for secret in "$TOKEN" "$RO_TOKEN" "$OAUTH"; do
    if grep -qF -- "${secret#basic }" "$LOG"; then leaks=$((leaks + 1)); fi
done
expect_eq "no token appears in omps's log" 0 "$leaks"
expect_match "the log is JSON lines" '^\{"ts":' "$(head -n 1 "$LOG")"

# ---------------------------------------------------------------------------- Greenwave

# A second instance with the Greenwave gate on, against the stack's Greenwave emulator (the
# first one has no `greenwave` key: the gate is off there). Koji archives are those above.
if has_component greenwave; then
    GW=$QS_GREENWAVE_URL
    GWCTX=osbs_push_$RUN
    gw_calls() { emu "$GW" GET /_emulator/calls | jq -r --arg k "$1" '.[$k] // 0'; }
    # gw_push OMPS_URL PATH — POST a Koji push to that instance; sets CODE and R
    gw_push() {
        local out=$E2E_TMP/resp
        CODE=$(curl -s -o "$out" -w '%{http_code}' --max-time 60 -X POST -H "Authorization: $TOKEN" \
            "$1$2" || true)
        R=$(cat "$out")
    }
    cat >"$E2E_TMP/omps-gw.yaml" <<EOF
organizations:
  $ORG: {}
greenwave:
  url: $GW
  context: $GWCTX
  product_version: cvp-$RUN
EOF
    # the builds are the stack's; forget decisions an earlier run stored for them
    emu "$GW" PUT /_emulator/decisions '{"omps-op-1.0-1": null, "omps-legacy-2.0-3": null}' >/dev/null
    PORT3=$(qs_free_ports 1)
    OMPS3=http://127.0.0.1:$PORT3
    LOG3=$QS_LOG_DIR/omps-e2e-greenwave.log
    qs_spawn omps-e2e-gw "$LOG3" env LISTEN_ADDR="127.0.0.1:$PORT3" QUAY_URL="$QS_QUAY_URL" \
        KOJIHUB_URL="$QS_KOJI_URL" KOJIROOT_URL="$QS_KOJI_ROOT_URL" REDIS_URL="$QS_REDIS_URL" \
        OMPS_CONF_FILE="$E2E_TMP/omps-gw.yaml" REQUEST_TIMEOUT=5s "$BIN"
    OMPS3_PID=$QS_LAST_PID
    check "omps starts with greenwave configured" qs_wait_http omps-gw "$OMPS3/healthz" \
        "$OMPS3_PID" "$LOG3" 200 20
    expect_match "... and logs the gate" '"msg":"Greenwave configured: Koji builds must satisfy its policies".*"context":"'"$GWCTX"'"' \
        "$(grep -F 'Greenwave configured' "$LOG3" || true)"
    expect_match "the instance without it warns as the original" '"level":"warn".*"msg":"Greenwave is not configured!"' \
        "$(grep -F 'Greenwave is not configured!' "$LOG" || true)"

    r=$(curl -s "$OMPS3/v2/health/ping")
    expect_eq "health/ping includes Greenwave (GET /api/v1.0/about)" \
        '200 true {"details":"It works!","ok":true}' \
        "$(jq -r '"\(.status) \(.ok)"' <<<"$r") $(jq -c -S .services.greenwave <<<"$r")"
    expect_eq "health/ping without Greenwave: null" null "$(curl -s "$OMPS/v2/health/ping" | jq -c .services.greenwave)"

    # not configured: no decision is asked
    emu "$GW" DELETE /_emulator/calls >/dev/null
    post "/v2/$ORG/koji/omps-op-1.0-1/5.0.0"
    expect_eq "without greenwave a Koji push goes through" "200 5.0.0" "$CODE $(field .version "$R")"
    expect_eq "... and Greenwave is not called" 0 "$(gw_calls "POST /api/v1.0/decision")"

    # satisfied
    emu "$GW" PUT /_emulator/decisions \
        '{"omps-op-1.0-1": {"policies_satisfied": true, "summary": "All required tests passed", "unsatisfied_requirements": []}}' >/dev/null
    emu "$GW" DELETE /_emulator/decisions/requests >/dev/null
    gw_push "$OMPS3" "/v2/$ORG/koji/omps-op-1.0-1/6.0.0"
    expect_eq "policies satisfied: the push succeeds" "200 kojiop 6.0.0 omps-op-1.0-1" \
        "$CODE $(jq -r '"\(.repo) \(.version) \(.nvr)"' <<<"$R")"
    expect_eq "... after asking Greenwave exactly as OMPS does" \
        "[{\"decision_context\":\"$GWCTX\",\"product_version\":\"cvp-$RUN\",\"subject_identifier\":\"omps-op-1.0-1\",\"subject_type\":\"koji_build\"}]" \
        "$(emu "$GW" GET /_emulator/decisions/requests | jq -c -S .)"
    expect_eq "... and Quay has the release" '["6.0.0"]' "$(releases "$ORG/kojiop" | jq -c '[.[] | select(. == "6.0.0")]')"
    emu "$GW" DELETE /_emulator/calls >/dev/null
    CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 -X POST -H "Authorization: $TOKEN" \
        -F "file=@$E2E_TMP/flat.zip" "$OMPS3/v2/$ORG/zipfile/6.2.0" || true)
    expect_eq "zip uploads are not gated" "200 0" "$CODE $(gw_calls "POST /api/v1.0/decision")"

    # unsatisfied: a build Greenwave has no results for, then a stored failing decision
    gw_push "$OMPS3" "/v2/$ORG/koji/omps-legacy-2.0-3/7.0.0"
    expect_eq "policies not satisfied: 400 GreenwaveUnsatisfiedError" \
        "400 GreenwaveUnsatisfiedError Policies for nvr omps-legacy-2.0-3 were not satisfied" \
        "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$R")"
    expect_eq "... with greenwave_response, Greenwave's decision" \
        "false 1 of 1 required test results missing test-result-missing omps-legacy-2.0-3" \
        "$(jq -r '[.greenwave_response.policies_satisfied, .greenwave_response.summary, .greenwave_response.unsatisfied_requirements[0].type, .greenwave_response.unsatisfied_requirements[0].subject_identifier] | map(tostring) | join(" ")' <<<"$R")"
    expect_eq "... and nothing reached Quay" '[]' "$(releases "$ORG/kojiop" | jq -c '[.[] | select(. == "7.0.0")]')"
    failing='{"policies_satisfied": false, "summary": "1 of 2 required tests failed", "applicable_policies": ["osbs_operator_manifests"], "satisfied_requirements": [], "unsatisfied_requirements": [{"item": {"item": "omps-legacy-2.0-3", "type": "koji_build"}, "subject_type": "koji_build", "subject_identifier": "omps-legacy-2.0-3", "testcase": "dist.abicheck", "result_id": 12, "type": "test-result-failed", "scenario": null}]}'
    emu "$GW" PUT /_emulator/decisions "{\"omps-legacy-2.0-3\": $failing}" >/dev/null
    gw_push "$OMPS3" "/v1/$ORG/kojiop/koji/omps-legacy-2.0-3/7.0.0"
    expect_eq "a failing decision (v1 route): 400 with exactly Greenwave's answer" \
        "400 GreenwaveUnsatisfiedError $(jq -c -S . <<<"$failing")" \
        "$CODE $(jq -r .error <<<"$R") $(jq -c -S .greenwave_response <<<"$R")"

    # Greenwave failing
    emu "$GW" DELETE /_emulator/calls >/dev/null
    emu "$GW" POST /_emulator/faults '{"path_prefix":"/api/v1.0/decision","status":500,"count":-1}' >/dev/null
    gw_push "$OMPS3" "/v2/$ORG/koji/omps-op-1.0-1/8.0.0"
    emu "$GW" DELETE /_emulator/faults >/dev/null
    expect_eq "Greenwave answering 500: 500 GreenwaveError" \
        "500 GreenwaveError Greenwave unexpected response code: 500" \
        "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$R")"
    expect_eq "... with its body as greenwave_response" '{"message":"fault injected by the emulator"}' \
        "$(jq -c .greenwave_response <<<"$R")"
    expect_eq "... after the shared client's retries (4 attempts)" 4 "$(gw_calls "POST /api/v1.0/decision")"
    emu "$GW" PUT /_emulator/decisions '{"omps-op-1.0-1": {"summary": "no verdict"}}' >/dev/null
    gw_push "$OMPS3" "/v2/$ORG/koji/omps-op-1.0-1/8.0.0"
    expect_eq "an answer without policies_satisfied: 500 GreenwaveError" \
        "500 GreenwaveError Missing key 'policies_satisfied' in answer for nvr omps-op-1.0-1 {\"summary\":\"no verdict\"}" \
        "$CODE $(jq -r '"\(.error) \(.message) \(.greenwave_response | tojson)"' <<<"$R")"

    # download first: a missing NVR is the same error with or without Greenwave
    emu "$GW" DELETE /_emulator/calls >/dev/null
    gw_push "$OMPS3" "/v2/$ORG/koji/omps-nothere-1.0-1"
    expect_eq "an unknown NVR with Greenwave on: 404 KojiNVRBuildNotFound" \
        "404 KojiNVRBuildNotFound NVR not found: omps-nothere-1.0-1" "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$R")"
    post "/v2/$ORG/koji/omps-nothere-1.0-1"
    expect_eq "... the same with it off" "404 KojiNVRBuildNotFound NVR not found: omps-nothere-1.0-1" \
        "$CODE $(jq -r '"\(.error) \(.message)"' <<<"$R")"
    expect_eq "... and Greenwave was not asked" 0 "$(gw_calls "POST /api/v1.0/decision")"
    gw_push "$OMPS3" "/v2/$ORG/koji/omps-noop-1.0-1"
    expect_eq "not an operator image: Koji's error before Greenwave's" "400 KojiNotAnOperatorImage 0" \
        "$CODE $(field .error "$R") $(gw_calls "POST /api/v1.0/decision")"

    # health with Greenwave failing
    emu "$GW" POST /_emulator/faults '{"path_prefix":"/api/v1.0/about","status":503,"count":-1}' >/dev/null
    CODE=$(curl -s -o "$E2E_TMP/ping" -w '%{http_code}' "$OMPS3/v1/health/ping" || true)
    emu "$GW" DELETE /_emulator/faults >/dev/null
    expect_eq "health/ping with Greenwave failing: 503, ok false" "503 503 false true true" \
        "$CODE $(jq -r '[.status, .ok, .services.quay.ok, .services.koji.ok] | map(tostring) | join(" ")' "$E2E_TMP/ping")"
    expect_eq "... naming Greenwave's failure" \
        "false Failed to get Greenwave version: 503 Server Error: Service Unavailable for url: $GW/api/v1.0/about" \
        "$(jq -r '"\(.services.greenwave.ok) \(.services.greenwave.details)"' "$E2E_TMP/ping")"
    expect_status "$OMPS3/v2/health/ping" 200

    # Greenwave down: an instance pointed at a port nobody listens on
    DEAD=$(qs_free_ports 1)
    PORT4=$(qs_free_ports 1)
    OMPS4=http://127.0.0.1:$PORT4
    sed "s|url: .*|url: http://127.0.0.1:$DEAD/|" "$E2E_TMP/omps-gw.yaml" >"$E2E_TMP/omps-gw-down.yaml"
    qs_spawn omps-e2e-gw-down "$QS_LOG_DIR/omps-e2e-gw-down.log" env LISTEN_ADDR="127.0.0.1:$PORT4" \
        QUAY_URL="$QS_QUAY_URL" KOJIHUB_URL="$QS_KOJI_URL" KOJIROOT_URL="$QS_KOJI_ROOT_URL" \
        REDIS_URL="$QS_REDIS_URL" OMPS_CONF_FILE="$E2E_TMP/omps-gw-down.yaml" REQUEST_TIMEOUT=5s "$BIN"
    OMPS4_PID=$QS_LAST_PID
    check "an instance whose Greenwave is down starts" qs_wait_http omps-gw-down "$OMPS4/healthz" \
        "$OMPS4_PID" "$QS_LOG_DIR/omps-e2e-gw-down.log" 200 20
    gw_push "$OMPS4" "/v2/$ORG/koji/omps-op-1.0-1/9.0.0"
    expect_eq "Greenwave down: 500 GreenwaveError, greenwave_response {}" "500 GreenwaveError {}" \
        "$CODE $(jq -r '"\(.error) \(.greenwave_response | tojson)"' <<<"$R")"
    expect_match "... \"Request failed: <why>\"" '^Request failed: .+' "$(field .message "$R")"
    r=$(curl -s "$OMPS4/v2/health/ping")
    expect_match "... and health/ping says so (503)" \
        '^503 false Failed to get Greenwave version: .+' \
        "$(jq -r '"\(.status) \(.services.greenwave.ok) \(.services.greenwave.details)"' <<<"$r")"
    kill -TERM "$OMPS4_PID"

    leaks=0
    if grep -qF -- "${TOKEN#basic }" "$LOG3"; then leaks=1; fi
    expect_eq "no token in the Greenwave instance's log" 0 "$leaks"
    expect_match "Greenwave refusals are counted" \
        'omps_pushes_total\{source="koji",result="GreenwaveUnsatisfiedError"\} 2' "$(curl -s "$OMPS3/metrics")"
    kill -TERM "$OMPS3_PID"

    printf 'greenwave:\n  url: %s\n  product_version: p\n  colour: blue\n' "$GW" >"$E2E_TMP/gw-bad.yaml"
    out=$(env OMPS_CONF_FILE="$E2E_TMP/gw-bad.yaml" LISTEN_ADDR=127.0.0.1:0 "$BIN" 2>&1 || echo "exit=$?")
    expect_match "a bad greenwave mapping stops the start (exit 2)" 'exit=2' "$out"
    expect_match "... naming the unknown key" 'greenwave.colour: unknown key' "$out"
    expect_match "... and the missing one" 'greenwave.context is required' "$out"
else
    skip "Greenwave checks" "the stack has no greenwave emulator (make builds it)"
fi

# ---------------------------------------------------------------------------- start and stop

printf 'organizations:\n  x:\n    public: true\n    colour: blue\nkojihub: typo\n' >"$E2E_TMP/bad.yaml"
out=$(env OMPS_CONF_FILE="$E2E_TMP/bad.yaml" LISTEN_ADDR=127.0.0.1:0 "$BIN" 2>&1 || echo "exit=$?")
expect_match "a bad config file stops the start (exit 2)" 'exit=2' "$out"
expect_match "... naming every problem" 'organizations.x.colour: unknown key' "$out"
expect_match "... all of them" 'kojihub: unknown key' "$out"
expect_match "... including a public org without a token" 'organizations.x: public: true needs oauth_token' "$out"
out=$(env CA_URL="$QS_KOJI_ROOT_URL/packages/no-such-ca.pem" LISTEN_ADDR=127.0.0.1:0 \
    REDIS_URL="$QS_REDIS_URL" "$BIN" 2>&1 || echo "exit=$?")
expect_match "an unreachable CA_URL stops the start with a clear message" \
    'CA_URL .*no-such-ca.pem: cannot fetch the certificate.*exit=2' "$(tr '\n' ' ' <<<"$out")"
check "--help lists the settings" bash -c "'$BIN' --help | grep -q WORKERS_NUM"
mkdir -p "$QS_KOJI_ROOT/packages/e2e-ca"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -keyout "$E2E_TMP/ca.key" -out "$QS_KOJI_ROOT/packages/e2e-ca/ca-$RUN.pem" \
    -subj "/CN=omps-e2e-ca" >/dev/null 2>&1
printf '<html>not a certificate</html>\n' >"$QS_KOJI_ROOT/packages/e2e-ca/junk-$RUN.pem"
out=$(env CA_URL="${QS_KOJI_ROOT_URL}packages/e2e-ca/junk-$RUN.pem" LISTEN_ADDR=127.0.0.1:0 \
    REDIS_URL="$QS_REDIS_URL" "$BIN" 2>&1 || echo "exit=$?")
expect_match "a CA_URL that is no certificate stops the start" \
    'no PEM certificate.*exit=2' "$(tr '\n' ' ' <<<"$out")"

# A second instance: trusts a CA from CA_URL, and WORKERS_NUM=1 handles one push at a time.
PORT2=$(qs_free_ports 1)
OMPS2=http://127.0.0.1:$PORT2
qs_spawn omps-e2e-2 "$QS_LOG_DIR/omps-e2e-2.log" env LISTEN_ADDR="127.0.0.1:$PORT2" \
    QUAY_URL="$QS_QUAY_URL" KOJIHUB_URL="$QS_KOJI_URL" KOJIROOT_URL="$QS_KOJI_ROOT_URL" \
    REDIS_URL="$QS_REDIS_URL" OMPS_CONF_FILE="$E2E_TMP/omps.yaml" WORKERS_NUM=1 \
    CA_URL="${QS_KOJI_ROOT_URL}packages/e2e-ca/ca-$RUN.pem" "$BIN"
OMPS2_PID=$QS_LAST_PID
check "omps starts with a valid CA_URL" qs_wait_http omps-2 "$OMPS2/healthz" "$OMPS2_PID" \
    "$QS_LOG_DIR/omps-e2e-2.log" 200 20
"$MANIFESTS" flat "$E2E_TMP/w1" workers1
"$MKZIP" "$E2E_TMP/w1.zip" "$E2E_TMP/w1"
emu "$QS_QUAY_URL" POST /_emulator/faults \
    "{\"path_prefix\":\"/cnr/api/v1/packages/$ORG/workers1\",\"method\":\"POST\",\"status\":0,\"delay_ms\":400,\"count\":-1}" >/dev/null
start=$(date +%s%N)
pids=()
for v in 1.0.0 2.0.0 3.0.0; do
    curl -s -o /dev/null --max-time 60 -X POST -H "Authorization: $TOKEN" -F "file=@$E2E_TMP/w1.zip" \
        "$OMPS2/v2/$ORG/zipfile/$v" &
    pids+=($!)
done
wait "${pids[@]}"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
emu "$QS_QUAY_URL" DELETE /_emulator/faults >/dev/null
expect_eq "WORKERS_NUM=1: the three pushes all happened" 3 "$(releases "$ORG/workers1" | jq length)"
if [ "$elapsed_ms" -ge 1200 ]; then
    e2e__ok "WORKERS_NUM=1: three 400 ms pushes ran one after the other (${elapsed_ms} ms)"
else
    e2e__not_ok "WORKERS_NUM=1: three 400 ms pushes ran one after the other (${elapsed_ms} ms)"
fi
kill -TERM "$OMPS2_PID"

kill -TERM "$OMPS_PID"
for _ in $(seq 50); do kill -0 "$OMPS_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$OMPS_PID" 2>/dev/null; then e2e__not_ok "SIGTERM stops omps"; else e2e__ok "SIGTERM stops omps"; fi
expect_match "... after logging it" '"msg":"stopped"' "$(tail -n 3 "$LOG")"

e2e_done
