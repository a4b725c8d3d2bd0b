#!/usr/bin/env bash
# push-image.sh — push an OCI layout made by mkimage.sh to a registry with skopeo.
#
# usage: push-image.sh OCI_DIR docker://HOST:PORT/REPO:TAG [SKOPEO_COPY_ARGS...]
#   e.g. push-image.sh /tmp/img docker://127.0.0.1:5000/openshift/ci:latest \
#            --dest-creds "$QS_PUSHER_USER:$QS_PUSHER_PASS"
#
# Runs `skopeo copy --all --dest-tls-verify=false [ARGS] oci:OCI_DIR:latest DEST`: every
# platform of an index is copied and manifests keep their bytes (and so their digests).
# QS_SKOPEO_QUIET=0 shows skopeo's progress (quiet by default).
set -euo pipefail

die() {
    printf 'push-image: error: %s\n' "$*" >&2
    exit 1
}
[ "$#" -ge 2 ] || die "usage: push-image.sh OCI_DIR docker://HOST:PORT/REPO:TAG [skopeo copy args...]"
src=$1 dest=$2
shift 2
if [ ! -f "$src/index.json" ] || [ ! -f "$src/oci-layout" ]; then die "$src is not an OCI layout"; fi
[[ $dest == docker://* ]] || die "destination must start with docker:// (got '$dest')"
command -v skopeo >/dev/null 2>&1 || die "skopeo not found (run scripts/deps.sh)"

quiet=(-q)
[ "${QS_SKOPEO_QUIET:-1}" = 1 ] || quiet=()
exec skopeo copy "${quiet[@]}" --all --dest-tls-verify=false "$@" "oci:$src:latest" "$dest"
