#!/usr/bin/env bash
# check-static.sh — static checks of the deployment files (make check-static; run by CI):
#   - compose.yaml parses and validates (docker-compose config -q; no Docker engine needed)
#   - every kustomize directory under deploy/base/* and deploy/overlays/* builds
#     (kubectl kustomize; works with kubectl 1.20's kustomize v2 and with newer ones)
#   - every service has a Dockerfile (services/<svc>/main.c -> services/<svc>/Dockerfile) that
#     is multi-stage, ends as a non-root USER, and has a HEALTHCHECK or a USER (hadolint is not
#     packaged for Debian, so this is a small grep-based sanity check)
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
ok() { printf 'check-static: ok   %s\n' "$*"; }
bad() {
    printf 'check-static: FAIL %s\n' "$*" >&2
    failed=1
}
need() { command -v "$1" >/dev/null 2>&1 || {
    echo "check-static: $1 not found (run scripts/deps.sh)" >&2
    exit 1
}; }
need docker-compose
need kubectl

# --- compose
if [ -f compose.yaml ]; then
    if out=$(docker-compose -f compose.yaml config -q 2>&1); then
        ok "compose.yaml"
    else
        bad "compose.yaml: $out"
    fi
else
    bad "compose.yaml missing"
fi

# --- kustomize
# Newer kustomize warns that `bases`/`patchesStrategicMerge` are deprecated; we keep them on
# purpose (kubectl 1.20 needs them), so those warnings are not shown.
dirs=()
for d in deploy/base deploy/base/* deploy/overlays/*; do
    [ -d "$d" ] && [ -f "$d/kustomization.yaml" ] && dirs+=("$d")
done
[ "${#dirs[@]}" -gt 0 ] || bad "no kustomization.yaml under deploy/"
for d in "${dirs[@]}"; do
    if out=$(kubectl kustomize "$d" 2>&1 >/dev/null); then
        ok "kustomize $d"
    else
        bad "kustomize $d:"
        printf '%s\n' "$out" | grep -v "^# Warning: '[a-zA-Z]*' is deprecated" >&2 || true
    fi
done
for d in deploy/base/* deploy/overlays/*; do
    [ -d "$d" ] && [ ! -f "$d/kustomization.yaml" ] && bad "$d has no kustomization.yaml"
done

# --- Dockerfiles
for main in services/*/main.c; do
    [ -f "$main" ] || continue
    svc=$(basename "$(dirname "$main")")
    df=services/$svc/Dockerfile
    if [ ! -f "$df" ]; then
        bad "$df missing"
        continue
    fi
    problems=()
    [ "$(grep -c -E '^FROM[[:space:]]' "$df")" -ge 2 ] || problems+=("not multi-stage")
    last_user=$(grep -E '^USER[[:space:]]+' "$df" | tail -n 1 | awk '{print $2}')
    has_hc=$(grep -c -E '^HEALTHCHECK[[:space:]]' "$df" || true)
    if [ -z "$last_user" ] && [ "$has_hc" -eq 0 ]; then
        problems+=("neither USER nor HEALTHCHECK")
    fi
    case ${last_user%%:*} in
    "") ;;
    root | 0) problems+=("runs as root (USER $last_user)") ;;
    esac
    if grep -q -E '^ADD[[:space:]]+https?://' "$df"; then problems+=("ADD of a URL"); fi
    if grep -q -E 'latest([[:space:]]|$)' <(grep -E '^FROM' "$df"); then problems+=("FROM :latest"); fi
    if grep -E 'apt-get install' "$df" | grep -v -q -- '--no-install-recommends'; then
        problems+=("apt-get install without --no-install-recommends")
    fi
    if [ "${#problems[@]}" -eq 0 ]; then
        ok "$df"
    else
        bad "$df: $(IFS=';' && printf '%s' "${problems[*]}" | sed 's/;/; /g')"
    fi
done

if [ "$failed" -ne 0 ]; then
    echo "check-static: FAILED" >&2
    exit 1
fi
echo "check-static: all passed"
