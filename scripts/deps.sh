#!/usr/bin/env bash
# deps.sh — install the Debian packages quayside needs to build, test, lint, run and benchmark.
#
# Idempotent and quick when everything is there: one dpkg-query for the whole list, and apt-get
# (update once, then install) only for what is missing. Runs as root or through sudo.
# Service starts are suppressed during the install (policy-rc.d), so installing redis-server,
# nginx or docker-registry never leaves a system daemon listening on a well-known port.
# DEPS_DRY_RUN=1 only prints what would be installed.
set -euo pipefail

PKGS=(
    # build
    build-essential pkg-config
    libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libzip-dev libhiredis-dev
    libcriterion-dev libyaml-dev libssl-dev zlib1g-dev
    # local stack and real clients
    redis-server docker-registry skopeo nginx apache2-utils curl jq openssl
    # static checks of compose.yaml and the kustomize layout
    docker-compose
    # benchmarks
    wrk hyperfine time
    # lint / format / memory checks
    clang-format clang-tidy cppcheck valgrind shellcheck
    # process and socket tools used by the stack scripts
    procps iproute2
)

log() { printf 'deps: %s\n' "$*" >&2; }

installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PKGS[@]}" 2>/dev/null || true)
missing=()
for p in "${PKGS[@]}"; do
    if ! grep -qE "^${p} ii" <<<"$installed"; then
        missing+=("$p")
    fi
done
# kubectl (for `kubectl kustomize`): any kubectl on PATH will do; Debian ships it in
# kubernetes-client (bookworm: 1.20, with kustomize v2 built in).
if ! command -v kubectl >/dev/null 2>&1; then
    missing+=(kubernetes-client)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    log "all ${#PKGS[@]} packages present"
    exit 0
fi

if [ "${DEPS_DRY_RUN:-0}" = 1 ]; then
    log "would install: ${missing[*]}"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        log "missing: ${missing[*]}"
        log "not root and no sudo: install them as root and re-run"
        exit 1
    fi
fi

log "installing: ${missing[*]}"
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    own_policy=1
fi
cleanup() { if [ "$own_policy" = 1 ]; then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
log "done"
