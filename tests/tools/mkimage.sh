#!/usr/bin/env bash
# mkimage.sh — generate a test image as an OCI layout, offline, from random bytes.
#
# usage: mkimage.sh OUT_DIR [--layers N] [--size BYTES] [--seed S]
#                           [--platforms os/arch[/variant],...]
#                           [--base-layers DIR|COUNT] [--base-seed S] [--layers-only] [--force]
#
#   --layers N        N own layers per platform (default 1), each a gzip -1 tar holding one
#                     file of BYTES pseudo-random bytes
#   --size BYTES      bytes per layer file (default 1024; K/M/G suffixes = KiB/MiB/GiB)
#   --seed S          make the output reproducible (same options + seed -> same digests) and
#                     let a second run with the same options reuse OUT_DIR as it is
#   --platforms LIST  one image manifest per platform plus an OCI index listing them with
#                     their platform; without it: one linux/amd64 manifest
#   --base-layers X   put shared base layers below the own layers of every platform:
#                       DIR   the layers listed in DIR/layers.txt (blobs in DIR/blobs/sha256),
#                             e.g. made by `mkimage.sh DIR --layers-only --layers 2 --size 8M`
#                       COUNT that many layers generated from --base-seed (default
#                             "quayside-base"): every image made with the same COUNT, size
#                             and base seed shares them byte for byte
#   --layers-only     write only the layer blobs and layers.txt (a base-layer set)
#   --force           overwrite a non-empty OUT_DIR that mkimage did not make
#
# Output: OUT_DIR/oci-layout, OUT_DIR/index.json (one entry, annotated
# org.opencontainers.image.ref.name=latest, pointing at the manifest or index),
# OUT_DIR/blobs/sha256/*, and OUT_DIR/layers.txt ("<digest> <size> <diff_id>" per layer).
# Prints the digest of the top manifest (or index) on stdout. Push with push-image.sh.
#
# Layer bytes are AES-256-CTR keystream keyed by sha256(seed/name), so they are incompressible
# and cheap to make; tars are deterministic (ustar, mtime 0, uid/gid 0, gzip -n).
set -euo pipefail

die() {
    printf 'mkimage: error: %s\n' "$*" >&2
    exit 1
}
usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

[ "$#" -ge 1 ] || usage
case $1 in -h | --help) usage ;; -*) die "first argument must be OUT_DIR" ;; esac
OUT=$1
shift
NLAYERS=1 SIZE=1024 SEED='' PLATFORMS=linux/amd64 MULTI=0 BASE='' BASE_SEED=quayside-base
LAYERS_ONLY=0 FORCE=0
while [ "$#" -gt 0 ]; do
    case $1 in
    --layers) NLAYERS=${2:?--layers needs a value}; shift 2 ;;
    --size) SIZE=${2:?--size needs a value}; shift 2 ;;
    --seed) SEED=${2:?--seed needs a value}; shift 2 ;;
    --platforms) PLATFORMS=${2:?--platforms needs a value}; MULTI=1; shift 2 ;;
    --base-layers) BASE=${2:?--base-layers needs a value}; shift 2 ;;
    --base-seed) BASE_SEED=${2:?--base-seed needs a value}; shift 2 ;;
    --layers-only) LAYERS_ONLY=1; shift ;;
    --force) FORCE=1; shift ;;
    -h | --help) usage ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
[[ $NLAYERS =~ ^[0-9]+$ ]] || die "--layers must be a number, got '$NLAYERS'"
SIZE=$(numfmt --from=iec "$SIZE" 2>/dev/null) || die "--size: not a size: '$SIZE'"
[ "$SIZE" -ge 0 ] || die "--size must be >= 0"
for t in openssl gzip tar sha256sum numfmt; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found"
done

PARAMS="v1 layers=$NLAYERS size=$SIZE seed=$SEED platforms=$PLATFORMS multi=$MULTI base=$BASE"
PARAMS+=" base_seed=$BASE_SEED layers_only=$LAYERS_ONLY"
if [ -d "$BASE" ] && [ -f "$BASE/layers.txt" ]; then
    PARAMS+=" base_sum=$(sha256sum <"$BASE/layers.txt" | cut -c1-16)"
fi

if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ]; then
    if [ -n "$SEED" ] && [ -f "$OUT/.mkimage" ] && [ "$(cat "$OUT/.mkimage")" = "$PARAMS" ] &&
        [ -f "$OUT/digest" ]; then
        cat "$OUT/digest" # same reproducible options: the layout is already there
        exit 0
    fi
    [ -f "$OUT/.mkimage" ] || [ "$FORCE" = 1 ] ||
        die "$OUT exists, is not empty and was not made by mkimage (use --force)"
    rm -rf -- "${OUT:?}/blobs" "$OUT/index.json" "$OUT/oci-layout" "$OUT/layers.txt" \
        "$OUT/digest" "$OUT/.mkimage"
fi
[ -n "$SEED" ] || SEED=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
mkdir -p "$OUT/blobs/sha256"
BLOBS=$OUT/blobs/sha256
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
: >"$WORK/layers.txt"

sha() { sha256sum "$1" | cut -d' ' -f1; }
fsize() { stat -c %s "$1"; }

# put FILE into the blob store; sets BLOB_DIGEST, BLOB_SIZE
put_blob() {
    BLOB_DIGEST=sha256:$(sha "$1")
    BLOB_SIZE=$(fsize "$1")
    mv -f "$1" "$BLOBS/${BLOB_DIGEST#sha256:}"
}

# make_layer NAME KEYSEED -> appends "digest size diffid" to $WORK/layers.txt, prints that line
make_layer() {
    local name=$1 keyseed=$2 key d
    key=$(printf '%s' "$keyseed/$name" | sha256sum | cut -d' ' -f1)
    d=$WORK/root
    rm -rf "$d"
    mkdir -p "$d"
    head -c "$SIZE" /dev/zero |
        openssl enc -aes-256-ctr -K "$key" -iv 00000000000000000000000000000000 -nosalt \
            >"$d/$name.bin"
    chmod 0644 "$d/$name.bin"
    tar --format=ustar --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$d" \
        -cf "$WORK/layer.tar" "$name.bin"
    local diffid
    diffid=sha256:$(sha "$WORK/layer.tar")
    gzip -1 -n -c "$WORK/layer.tar" >"$WORK/layer.tar.gz"
    rm -f "$WORK/layer.tar" "$d/$name.bin"
    put_blob "$WORK/layer.tar.gz"
    printf '%s %s %s\n' "$BLOB_DIGEST" "$BLOB_SIZE" "$diffid" | tee -a "$WORK/layers.txt"
}

# ---- base layers -> $WORK/base.txt
: >"$WORK/base.txt"
if [ -n "$BASE" ]; then
    if [[ $BASE =~ ^[0-9]+$ ]]; then
        for ((i = 0; i < BASE; i++)); do
            make_layer "base-$i" "$BASE_SEED/size=$SIZE" >>"$WORK/base.txt"
        done
    else
        [ -f "$BASE/layers.txt" ] || die "--base-layers: $BASE/layers.txt not found"
        while read -r dg sz di; do
            [ -n "$dg" ] || continue
            src=$BASE/blobs/sha256/${dg#sha256:}
            [ -f "$src" ] || die "--base-layers: blob $src missing"
            [ -f "$BLOBS/${dg#sha256:}" ] || ln "$src" "$BLOBS/" 2>/dev/null || cp "$src" "$BLOBS/"
            printf '%s %s %s\n' "$dg" "$sz" "$di" | tee -a "$WORK/layers.txt" >>"$WORK/base.txt"
        done <"$BASE/layers.txt"
    fi
fi

# ---- one image manifest per platform
MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_INDEX=application/vnd.oci.image.index.v1+json
MT_CONFIG=application/vnd.oci.image.config.v1+json
MT_LAYER=application/vnd.oci.image.layer.v1.tar+gzip
IFS=, read -r -a PLATS <<<"$PLATFORMS"
index_entries=()
for plat in "${PLATS[@]}"; do
    IFS=/ read -r os arch variant <<<"$plat"
    if [ -z "$os" ] || [ -z "$arch" ]; then die "--platforms: '$plat' is not os/arch[/variant]"; fi
    : >"$WORK/own.txt"
    for ((i = 0; i < NLAYERS; i++)); do
        make_layer "layer-$i" "$SEED/$plat" >>"$WORK/own.txt"
    done
    [ "$LAYERS_ONLY" = 1 ] && continue

    diffids='' layers=''
    while read -r dg sz di; do
        [ -n "$dg" ] || continue
        diffids+="${diffids:+,}\"$di\""
        layers+="${layers:+,}{\"mediaType\":\"$MT_LAYER\",\"digest\":\"$dg\",\"size\":$sz}"
    done < <(cat "$WORK/base.txt" "$WORK/own.txt")

    platjson="\"architecture\":\"$arch\",\"os\":\"$os\"${variant:+,\"variant\":\"$variant\"}"
    printf '{%s,"created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Labels":{"io.quayside.seed":"%s"}},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
        "$platjson" "$SEED" "$diffids" >"$WORK/config.json"
    put_blob "$WORK/config.json"
    printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%s},"layers":[%s]}' \
        "$MT_MANIFEST" "$MT_CONFIG" "$BLOB_DIGEST" "$BLOB_SIZE" "$layers" >"$WORK/manifest.json"
    put_blob "$WORK/manifest.json"
    index_entries+=("{\"mediaType\":\"$MT_MANIFEST\",\"digest\":\"$BLOB_DIGEST\",\"size\":$BLOB_SIZE,\"platform\":{$platjson}}")
done

awk '!seen[$1]++' "$WORK/layers.txt" >"$OUT/layers.txt"

if [ "$LAYERS_ONLY" = 1 ]; then
    top=
else
    if [ "$MULTI" = 1 ]; then
        entries=$(IFS=,; printf '%s' "${index_entries[*]}")
        printf '{"schemaVersion":2,"mediaType":"%s","manifests":[%s]}' "$MT_INDEX" "$entries" \
            >"$WORK/index.json"
        put_blob "$WORK/index.json"
        top_type=$MT_INDEX
    else
        top_type=$MT_MANIFEST # BLOB_* still describe the single manifest
    fi
    top=$BLOB_DIGEST
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}\n' \
        "$top_type" "$BLOB_DIGEST" "$BLOB_SIZE" >"$OUT/index.json"
fi
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$OUT/oci-layout"
printf '%s\n' "$top" >"$OUT/digest"
printf '%s\n' "$PARAMS" >"$OUT/.mkimage"
printf '%s\n' "$top"
