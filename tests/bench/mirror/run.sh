#!/usr/bin/env bash
# tests/bench/mirror/run.sh — the mirror service against skopeo and the destination's own
# ingest limit, in one run.
#
# usage: tests/bench/mirror/run.sh       (or: make bench / tests/bench/run.sh mirror)
#
# Starts its own Redis and docker-registry instances (no auth, plain HTTP, free loopback ports)
# and stops them on exit. The source registry's storage is kept in the cache, so the images
# are pushed once. Three parts:
#   1. full copy: 50 images x 4 layers of 8 MiB (2 base layers shared by all) from the source
#      repository bench/ci (tags t00..t49) into a FRESH destination registry per run:
#        quayside          mirror --once, 50 supplementalCIImages entries -> openshift/ci:bench_ci_tNN
#        skopeo-sync       skopeo sync bench/ci -> openshift (= openshift/ci:tNN, one repo, 50 tags)
#        skopeo-copy-loop  skopeo copy --all per image, one after the other -> openshift/ci:bench_ci_tNN
#        ingest-limit      the same 152 blobs (102 layers, 50 configs) pushed straight in with
#                          POST + monolithic PUT, QS_BENCH_INGEST_PARALLEL at a time (push-blobs.sh)
#      QS_BENCH_RUNS rounds (default 3), contenders interleaved (order rotated each round);
#      median wall time and peak RSS (/usr/bin/time -f '%e %M'); skopeo's blob-info cache is
#      deleted before every skopeo run. The first quayside and skopeo-sync results are checked:
#      every destination tag's `skopeo inspect --raw` digest equals the source's.
#   2. no-op resync of 1000 tags: the source repository noop/ci holds 1000 tags over 10 images;
#      a fresh destination gets the 10 images by `mirror --once`, then the same manifest bytes
#      under every tag both tools compare (openshift/ci:noop_ci_nNNNN for quayside,
#      openshift/ci:nNNNN for skopeo sync). Then QS_BENCH_RUNS rounds of: head-limit (the
#      same 2000 manifest HEADs from one curl, 16 at a time), `mirror --once` with the
#      1000-entry config (2 HEADs per tag), `skopeo sync noop/ci -> openshift`; both tools
#      must copy nothing.
#   3. peak RSS while six 512 MiB blobs stream at once: one image of 6 layers of 512 MiB,
#      `mirror --once` with COPY_CONCURRENCY=6 into a fresh destination; the destination's
#      upload sessions are sampled to show how many streams really ran at once. Skipped with a
#      message when less than 10 GiB are free.
# Prints one "mirror bench: ..." line per figure and whether each goal is met. Exit status 0
# even when a goal is missed; 1 when something broke (a service did not start, a copy failed or
# timed out, a digest differs, a no-op copied something).
#
# Environment: QS_BENCH_CACHE (default /tmp/qs-bench-cache; this benchmark uses .../mirror:
# ~8 GiB with part 3), QS_BENCH_RUNS (3), QS_BENCH_MIRROR_PARTS ("full noop rss"),
# QS_BENCH_MIRROR_WORKERS (4), QS_BENCH_COPY_CONCURRENCY (6), QS_BENCH_INGEST_PARALLEL (6),
# QS_BENCH_LOG_LEVEL (info; the mirror's LOG_LEVEL), QS_BENCH_KEEP=1 keeps the work directory.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"
QS_PROG=bench-mirror
unset QS_STACK_DIR
# shellcheck source=tests/stack/lib.sh
. tests/stack/lib.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

CACHE=${QS_BENCH_CACHE:-/tmp/qs-bench-cache}/mirror
RUNS=${QS_BENCH_RUNS:-3}
PARTS=${QS_BENCH_MIRROR_PARTS:-full noop rss}
WORKERS=${QS_BENCH_MIRROR_WORKERS:-4}
CONC=${QS_BENCH_COPY_CONCURRENCY:-6}
INGEST_PAR=${QS_BENCH_INGEST_PARALLEL:-6}
LOG_LEVEL=${QS_BENCH_LOG_LEVEL:-info}
BIN=$QS_BIN/mirror
NIMG=50         # part 1 images
NOOP_TAGS=1000  # part 2 tags
NOOP_IMAGES=10  # part 2 distinct images (the first NOOP_IMAGES of part 1)
BIG_LAYERS=6    # part 3
MT_OCI=application/vnd.oci.image.manifest.v1+json
# the mirror's Accept list for manifest HEADs (libshared QS_MANIFEST_ACCEPT)
ACCEPT_ALL="application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, $MT_OCI, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v1+prettyjws, application/vnd.docker.distribution.manifest.v1+json"
SK=(skopeo --command-timeout 300s)

for v in RUNS WORKERS CONC INGEST_PAR; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || qs_die "$v must be a positive number (got '${!v}')"
done
for p in $PARTS; do
    case $p in full | noop | rss) ;; *) qs_die "QS_BENCH_MIRROR_PARTS: unknown part '$p' (full noop rss)" ;; esac
done
want_part() { [[ " $PARTS " == *" $1 "* ]]; }
[ -x "$BIN" ] || qs_die "mirror binary missing: $BIN (run make)"
[ -x /usr/bin/time ] || qs_die "/usr/bin/time not found (apt-get install time)"
for t in curl jq skopeo docker-registry redis-server redis-cli sha256sum timeout flock awk df; do
    command -v "$t" >/dev/null 2>&1 || qs_die "$t not found (run scripts/deps.sh)"
done
if [ "$(id -u)" = 0 ]; then
    SKOPEO_CACHE=/var/lib/containers/cache/blob-info-cache-v1.boltdb
else
    SKOPEO_CACHE=${XDG_DATA_HOME:-$HOME/.local/share}/containers/cache/blob-info-cache-v1.boltdb
fi

# shellcheck disable=SC2317 # called by bench__cleanup (tests/bench/lib.sh) at exit
bench_cleanup_extra() {
    [ -z "${SAMPLER_PID:-}" ] || kill "$SAMPLER_PID" 2>/dev/null || true
    rm -rf -- "$WORK/dst" # destination storage: up to 3 GiB
}
bench_workdir mirror
export QS_STACK_DIR=$WORK # qs_spawn records what it starts in $WORK/pids

# ---------------------------------------------------------------------------- small helpers

med() { tr ' ' '\n' <<<"$1" | { grep . || true; } | median; } # med "1.2 3.4 2.2"
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; } # KiB -> MiB
fmt_s() { awk -v s="$1" 'BEGIN { printf (s < 10 ? "%.2f" : "%.1f"), s }'; }
free_kib() { df -Pk "$1" | awk 'NR == 2 {print $4}'; }

# stop_pid PID: TERM, up to 10 s, then KILL (only processes this script started)
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 200; i++)); do
        qs_pid_alive "$pid" || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# timed LOG LIMIT CMD... — run CMD under /usr/bin/time and timeout; sets T_SECS, T_KIB;
# returns CMD's exit status (124 on timeout)
timed() {
    local log=$1 limit=$2 rc=0
    shift 2
    printf '\n$ %s\n' "$*" >>"$log"
    /usr/bin/time -f '%e %M' -o "$WORK/time.out" timeout -k 5 "$limit" "$@" >>"$log" 2>&1 || rc=$?
    read -r T_SECS T_KIB < <(tail -n 1 "$WORK/time.out")
    [ "$rc" -ne 124 ] || qs_info "timed out after $limit s: $*"
    return "$rc"
}

# reg_start NAME DATA_DIR: a docker-registry without auth (reference/registry.md 5.2);
# sets R_HOST, R_PID
reg_start() {
    local name=$1 data=$2 port dir=$WORK/reg-$1
    port=$(qs_free_ports 1)
    mkdir -p "$dir" "$data"
    cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: quayside-bench-secret-$name
YAML
    qs_spawn "$name" "$LOGS/$name.log" docker-registry serve "$dir/config.yml"
    R_PID=$QS_LAST_PID
    R_HOST=127.0.0.1:$port
    qs_wait_http "$name" "http://$R_HOST/v2/" "$R_PID" "$LOGS/$name.log" 200 30 ||
        qs_die "registry $name did not start"
}

# dest_start NAME: a destination registry on fresh storage; sets DST, DST_PID, DST_DATA
dest_start() {
    DST_DATA=$WORK/dst/$1
    rm -rf -- "$DST_DATA"
    reg_start "$1" "$DST_DATA"
    DST=$R_HOST DST_PID=$R_PID
}
dest_stop() {
    stop_pid "$DST_PID"
    rm -rf -- "$DST_DATA"
}

flush_redis() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" FLUSHALL >/dev/null; }
forget_skopeo_blobs() { rm -f -- "$SKOPEO_CACHE"; }

# run_mirror LOG CONFIG DEST_HOST [VAR=VAL...]: mirror --once from a clean environment and
# an empty queue; timed
run_mirror() {
    local log=$1 cfg=$2 dst=$3
    shift 3
    flush_redis
    timed "$log" 300 env -i PATH="$PATH" HOME="$HOME" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
        MIRROR_CONFIG="$cfg" DESTINATION_REPOSITORY="$dst/openshift/ci" SOURCE_REGISTRY="$SRC" \
        LISTEN_ADDR="127.0.0.1:$(qs_free_ports 1)" MIRROR_WORKERS="$WORKERS" \
        COPY_CONCURRENCY="$CONC" LOG_LEVEL="$LOG_LEVEL" "$@" "$BIN" --once
}

# supplemental_config FILE REPO TAG...: entries REPO:TAG -> the source's REPO:TAG
supplemental_config() {
    local f=$1 repo=$2 t
    shift 2
    {
        printf 'supplementalCIImages:\n'
        for t in "$@"; do
            printf '  %s:%s:\n    image: %s/%s:%s\n' "$repo" "$t" "$SRC" "$repo" "$t"
        done
    } >"$f"
}

# raw_digest HOST/REPO:TAG — sha256 of the manifest bytes as skopeo reads them
raw_digest() {
    "${SK[@]}" inspect --raw --tls-verify=false "docker://$1" 2>/dev/null | sha256sum | cut -d' ' -f1
}

# verify_full HOST/REPO TAG_PREFIX: every tNN of the source's bench/ci is at
# HOST/REPO:<prefix>tNN with the same digest (skopeo inspect --raw on both sides, 4 at a time)
verify_full() {
    local dst=$1 prefix=$2 bad=0 i t s d
    # shellcheck disable=SC2016 # expanded by the inner bash
    printf '%s\n' "${TAGS[@]}" | xargs -P 4 -n 1 bash -c 'raw() { skopeo --command-timeout 60s inspect \
        --raw --tls-verify=false "docker://$1" 2>/dev/null | sha256sum | cut -c1-64; }
        echo "$3 $(raw "$0/bench/ci:$3") $(raw "$1:$2$3")"' "$SRC" "$dst" "$prefix" >"$WORK/verify.out"
    declare -A want=()
    for ((i = 0; i < NIMG; i++)); do want[${TAGS[$i]}]=${DIGESTS[$i]#sha256:}; done
    while read -r t s d; do
        if [ "$s" != "${want[$t]:-}" ] || [ "$d" != "$s" ]; then
            qs_info "  $t: source $s, destination $d, expected ${want[$t]:-?}"
            bad=$((bad + 1))
        fi
        unset "want[$t]"
    done <"$WORK/verify.out"
    [ "${#want[@]}" -eq 0 ] || bad=$((bad + ${#want[@]}))
    [ "$bad" -eq 0 ]
}

# log_ts LOG PATTERN [first|last]: the "ts" of the first/last line matching PATTERN, as
# seconds since midnight UTC (empty when none)
log_ts() {
    grep -h -- "$2" "$1" | { if [ "${3:-last}" = first ]; then head -n 1; else tail -n 1; fi; } |
        sed -n 's/.*"ts":"[0-9-]*T\([0-9]*\):\([0-9]*\):\([0-9.]*\)Z".*/\1 \2 \3/p' |
        awk '{ printf "%.3f\n", $1 * 3600 + $2 * 60 + $3 }'
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "?"; else printf "%.2f", a - b }'; }

# head_digest HOST REPO TAG — Docker-Content-Digest of a manifest HEAD, empty if none
head_digest() {
    curl -s -I --max-time 10 -H "Accept: $MT_OCI" "http://$1/v2/$2/manifests/$3" |
        tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}'
}

# put_manifests HOST REPO PREFIX FIRST LAST: the manifest of image (i % NOOP_IMAGES) under
# tag PREFIX<i, 4 digits> for i in FIRST..LAST, 8 PUTs at a time, each must answer 201
put_manifests() {
    local host=$1 repo=$2 prefix=$3 first=$4 last=$5 i cfg=$WORK/put-manifests.cfg n
    {
        printf 'header = "Content-Type: %s"\nwrite-out = "%%{http_code}\\n"\n' "$MT_OCI"
        for ((i = first; i <= last; i++)); do
            printf 'url = "http://%s/v2/%s/manifests/%s%04d"\nupload-file = "%s"\noutput = "/dev/null"\n' \
                "$host" "$repo" "$prefix" "$i" "${MANIFEST_FILES[$((i % NOOP_IMAGES))]}"
        done
    } >"$cfg"
    n=$(curl -sS --no-progress-meter -Z --parallel-immediate --parallel-max 8 --max-time 120 -K "$cfg" | grep -c '^201$' || true)
    [ "$n" -eq $((last - first + 1)) ] || qs_die "manifest PUTs to $host/$repo: $n of $((last - first + 1)) answered 201"
}

# ---------------------------------------------------------------------------- images

t_start=$SECONDS
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 900 9 || qs_die "could not lock $CACHE/.lock (another mirror benchmark running?)"

RSS_SKIP=
if want_part rss; then
    need=$((10 * 1024 * 1024))
    if [ "$(free_kib "$WORK")" -lt "$need" ] || [ "$(free_kib "$CACHE")" -lt "$need" ]; then
        RSS_SKIP="less than 10 GiB free in $WORK or $CACHE ($(($(free_kib "$WORK") / 1048576)) / $(($(free_kib "$CACHE") / 1048576)) GiB)"
        qs_info "part 3 skipped: $RSS_SKIP"
    fi
fi

qs_info "generating (or reusing) $NIMG images of 4 x 8 MiB layers in $CACHE"
t0=$SECONDS
tests/tools/mkimage.sh "$CACHE/base" --layers-only --layers 2 --size 8M --seed qs-bench-mirror-base >/dev/null
TAGS=() DIGESTS=() IMGDIRS=()
for ((i = 0; i < NIMG; i++)); do
    TAGS+=("$(printf 't%02d' "$i")")
    IMGDIRS+=("$CACHE/img-${TAGS[$i]}")
done
# two at a time (each is mostly one openssl and one gzip)
printf '%s\n' "${TAGS[@]}" | xargs -P 2 -I{} tests/tools/mkimage.sh "$CACHE/img-{}" --layers 2 \
    --size 8M --base-layers "$CACHE/base" --seed "qs-bench-mirror-{}" >/dev/null ||
    qs_die "mkimage failed"
for d in "${IMGDIRS[@]}"; do DIGESTS+=("$(cat "$d/digest")"); done
BIG_DIR=$CACHE/big-6x512m
if want_part rss && [ -z "$RSS_SKIP" ]; then
    qs_info "generating (or reusing) one image of $BIG_LAYERS x 512 MiB layers"
    BIG_DIGEST=$(tests/tools/mkimage.sh "$BIG_DIR" --layers "$BIG_LAYERS" --size 512M --seed qs-bench-mirror-big)
fi
qs_info "images ready in $((SECONDS - t0)) s"

# The blobs of part 1: base layers, own layers, configs (everything but the manifests)
declare -A seen=()
FULL_BLOBS=() MANIFEST_FILES=()
for ((i = 0; i < NIMG; i++)); do
    mf=${IMGDIRS[$i]}/blobs/sha256/${DIGESTS[$i]#sha256:}
    MANIFEST_FILES+=("$mf")
    for f in "${IMGDIRS[$i]}"/blobs/sha256/*; do
        hex=${f##*/}
        if [ "$f" = "$mf" ] || [ -n "${seen[$hex]:-}" ]; then continue; fi
        seen[$hex]=1
        FULL_BLOBS+=("$f")
    done
done
FULL_BYTES=$(stat -c %s "${FULL_BLOBS[@]}" | awk '{s += $1} END {print s}')
qs_info "part 1 moves ${#FULL_BLOBS[@]} blobs, $((FULL_BYTES / 1048576)) MiB, and $NIMG manifests"

# ---------------------------------------------------------------------------- services

qs_info "starting Redis and the source registry (storage cached in $CACHE/src-registry)"
REDIS_PORT=$(qs_free_ports 1)
mkdir -p "$WORK/redis"
qs_spawn redis "$LOGS/redis.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
    --save '' --appendonly no --dir "$WORK/redis"
qs_wait_redis redis "$REDIS_PORT" "$QS_LAST_PID" "$LOGS/redis.log" 20 || qs_die "redis did not start"
reg_start src "$CACHE/src-registry"
SRC=$R_HOST SRC_PID=$R_PID
SRC_BLOBS=$CACHE/src-registry/docker/registry/v2/blobs/sha256

t0=$SECONDS
missing=()
for ((i = 0; i < NIMG; i++)); do
    [ "$(head_digest "$SRC" bench/ci "${TAGS[$i]}")" = "${DIGESTS[$i]}" ] || missing+=("$i")
done
if [ "${#missing[@]}" -gt 0 ]; then
    qs_info "pushing ${#missing[@]} images to the source as bench/ci:tNN"
    for i in "${missing[@]}"; do
        tests/tools/push-image.sh "${IMGDIRS[$i]}" "docker://$SRC/bench/ci:${TAGS[$i]}" \
            --dest-tls-verify=false >>"$LOGS/push.log" 2>&1 || qs_die "push of ${TAGS[$i]} failed"
    done
fi
if [ -n "${BIG_DIGEST:-}" ] && [ "$(head_digest "$SRC" bench/big latest)" != "$BIG_DIGEST" ]; then
    qs_info "pushing the $BIG_LAYERS x 512 MiB image to the source as bench/big:latest"
    tests/tools/push-image.sh "$BIG_DIR" "docker://$SRC/bench/big:latest" >>"$LOGS/push.log" 2>&1 ||
        qs_die "push of the big image failed"
fi
qs_info "source ready in $((SECONDS - t0)) s"

# page cache: read what the runs read (source blobs, the layout files for the ingest limit)
warm() {
    local f hex
    for f in "${FULL_BLOBS[@]}"; do
        hex=${f##*/}
        cat "$f" "$SRC_BLOBS/${hex:0:2}/$hex/data"
    done >/dev/null 2>&1 || true
}

LINES=()

# ---------------------------------------------------------------------------- 1. full copy

if want_part full; then
    warm
    supplemental_config "$WORK/full.yaml" bench/ci "${TAGS[@]}"
    CONTENDERS=(quayside skopeo-sync skopeo-copy-loop ingest-limit)
    declare -A SECS=() KIB=()
    COPY_ARGS=(--all --src-tls-verify=false --dest-tls-verify=false)
    QS_BYTES='' TAILS=''
    qs_info "full copy: $RUNS rounds of ${CONTENDERS[*]} (fresh destination each run)"
    for ((round = 0; round < RUNS; round++)); do
        for ((k = 0; k < ${#CONTENDERS[@]}; k++)); do
            c=${CONTENDERS[$(((k + round) % ${#CONTENDERS[@]}))]}
            dest_start "dst-full-$c-$round"
            log=$LOGS/full-$c-$((round + 1)).log
            sync
            rc=0
            case $c in
            quayside)
                run_mirror "$log" "$WORK/full.yaml" "$DST" || rc=$?
                # the time the process lived on after its last copy (plus its start-up)
                span=$(sub "$(log_ts "$log" '"mirrored"')" "$(log_ts "$log" '"ts"' first)")
                TAILS+="$(sub "$T_SECS" "$span") "
                ;;
            skopeo-sync)
                forget_skopeo_blobs
                timed "$log" 300 "${SK[@]}" sync --src docker --dest docker --src-tls-verify=false \
                    --dest-tls-verify=false "$SRC/bench/ci" "$DST/openshift" || rc=$?
                ;;
            skopeo-copy-loop)
                forget_skopeo_blobs
                # shellcheck disable=SC2016 # expanded by the inner bash
                timed "$log" 600 bash -c 'src=$1 dst=$2; shift 2; for t; do
                        skopeo --command-timeout 120s copy -q '"${COPY_ARGS[*]}"' "docker://$src/bench/ci:$t" \
                            "docker://$dst/openshift/ci:bench_ci_$t" || exit 1; done' \
                    _ "$SRC" "$DST" "${TAGS[@]}" || rc=$?
                ;;
            ingest-limit)
                timed "$log" 300 "$HERE/push-blobs.sh" -j "$INGEST_PAR" "$DST" openshift/ci \
                    "${FULL_BLOBS[@]}" || rc=$?
                ;;
            esac
            if [ "$rc" -ne 0 ]; then
                broke "full copy, $c (round $((round + 1))) exited $rc (see $log)"
                tail -n 5 "$log" >&2
            else
                SECS[$c]+="$T_SECS "
                KIB[$c]+="$T_KIB "
            fi
            qs_info "  round $((round + 1)) $c: ${T_SECS} s, $(mib "$T_KIB") MiB$([ "$rc" -eq 0 ] || echo " (FAILED)")"
            if [ "$rc" -eq 0 ] && [ "$round" -eq 0 ]; then
                case $c in
                quayside)
                    # bytes the workers streamed (duplicates show up here)
                    QS_BYTES=$(grep -h '"mirrored"' "$log" | jq -rs 'map(.bytes | tonumber) | add // 0' 2>/dev/null || echo "?")
                    verify_full "$DST/openshift/ci" bench_ci_ || broke "quayside: destination digests differ from the source's"
                    ;;
                skopeo-sync)
                    verify_full "$DST/openshift/ci" "" || broke "skopeo sync: destination digests differ from the source's"
                    ;;
                esac
            fi
            dest_stop
        done
    done
    declare -A MS=() MK=()
    for c in "${CONTENDERS[@]}"; do
        MS[$c]=$(med "${SECS[$c]:-}")
        MK[$c]=$(med "${KIB[$c]:-}")
        qs_info "  $c: ${SECS[$c]:-none}s"
    done
    R_SYNC=$(ratio "${MS[quayside]}" "${MS[skopeo-sync]}")
    R_LOOP=$(ratio "${MS[quayside]}" "${MS[skopeo-copy-loop]}")
    R_LIM=$(ratio "${MS[quayside]}" "${MS[ingest-limit]}")
    # The goal: <= 0.33x skopeo sync; where that lies beyond the ingest limit, <= 1.2x the limit.
    if awk -v g="${MS[skopeo-sync]}" -v l="${MS[ingest-limit]}" 'BEGIN { exit !(0.33 * g < l) }'; then
        GOAL="goal <= 0.33x skopeo-sync ($(fmt_s "$(awk -v g="${MS[skopeo-sync]}" 'BEGIN {print 0.33 * g}')") s) lies beyond the ingest limit, so <= 1.2x ingest-limit: $(goal le "$R_LIM" 1.2)"
    else
        GOAL="goal <= 0.33x skopeo-sync: $(goal le "$R_SYNC" 0.33)"
    fi
    L="mirror bench: full copy ${NIMG}x4x8MiB  quayside $(fmt_s "${MS[quayside]}") s"
    L+="  skopeo-sync $(fmt_s "${MS[skopeo-sync]}") s (${R_SYNC}x)"
    L+="  skopeo-copy-loop $(fmt_s "${MS[skopeo-copy-loop]}") s (${R_LOOP}x)"
    L+="  ingest-limit $(fmt_s "${MS[ingest-limit]}") s (${R_LIM}x)"
    L+="  [median of $RUNS; $GOAL; RSS quayside $(mib "${MK[quayside]}") MiB, skopeo-sync $(mib "${MK[skopeo-sync]}") MiB,"
    L+=" skopeo-copy $(mib "${MK[skopeo-copy-loop]}") MiB; MIRROR_WORKERS=$WORKERS COPY_CONCURRENCY=$CONC,"
    L+=" ingest $INGEST_PAR at a time; ${#FULL_BLOBS[@]} blobs $((FULL_BYTES / 1048576)) MiB,"
    TAIL_MED=$(med "$TAILS")
    L+=" quayside streamed $(awk -v b="$QS_BYTES" 'BEGIN { printf "%.0f", b / 1048576 }') MiB and lived on"
    L+=" $TAIL_MED s after its last copy (without that: $(ratio "$(sub "${MS[quayside]}" "$TAIL_MED")" "${MS[ingest-limit]}")x ingest-limit);"
    L+=" digests verified]"
    LINES+=("$L")
fi

# ---------------------------------------------------------------------------- 2. no-op resync

if want_part noop; then
    qs_info "no-op resync: $NOOP_TAGS tags over $NOOP_IMAGES images"
    t0=$SECONDS
    NOOP_LIST=()
    for ((i = 0; i < NOOP_TAGS; i++)); do NOOP_LIST+=("$(printf 'n%04d' "$i")"); done
    # Source noop/ci: the blobs of the first NOOP_IMAGES images (mounted from bench/ci), then
    # their manifests under NOOP_TAGS tags (skipped when the cached source has them already).
    if [ "$(head_digest "$SRC" noop/ci "${NOOP_LIST[$((NOOP_TAGS - 1))]}")" != \
        "${DIGESTS[$(((NOOP_TAGS - 1) % NOOP_IMAGES))]}" ]; then
        {
            printf 'request = "POST"\nheader = "Content-Length: 0"\nwrite-out = "%%{http_code}\\n"\n'
            declare -A mseen=()
            for ((i = 0; i < NOOP_IMAGES; i++)); do
                for dg in $(jq -r '.config.digest, .layers[].digest' "${MANIFEST_FILES[$i]}"); do
                    [ -z "${mseen[$dg]:-}" ] || continue
                    mseen[$dg]=1
                    printf 'url = "http://%s/v2/noop/ci/blobs/uploads/?mount=%s&from=bench/ci"\noutput = "/dev/null"\n' "$SRC" "$dg"
                done
            done
        } >"$WORK/mount.cfg"
        out=$(curl -sS --no-progress-meter -Z --parallel-immediate --parallel-max 8 --max-time 60 -K "$WORK/mount.cfg")
        ! grep -qv '^201$' <<<"$out" || qs_die "mounting blobs into noop/ci: $(sort <<<"$out" | uniq -c | tr '\n' ' ')"
        put_manifests "$SRC" noop/ci n 0 $((NOOP_TAGS - 1))
    fi
    # Destination: the NOOP_IMAGES images copied by mirror --once, then every tag both compare
    dest_start dst-noop
    supplemental_config "$WORK/noop-prime.yaml" noop/ci "${NOOP_LIST[@]:0:NOOP_IMAGES}"
    run_mirror "$LOGS/noop-prime.log" "$WORK/noop-prime.yaml" "$DST" ||
        qs_die "mirror --once of the first $NOOP_IMAGES images failed (see $LOGS/noop-prime.log)"
    put_manifests "$DST" openshift/ci noop_ci_n "$NOOP_IMAGES" $((NOOP_TAGS - 1))
    put_manifests "$DST" openshift/ci n 0 $((NOOP_TAGS - 1))
    supplemental_config "$WORK/noop.yaml" noop/ci "${NOOP_LIST[@]}"
    # the registries' HEAD rate: the same 2000 HEADs (full Accept list) from one curl, 16 at a
    # time like the mirror's comparison threads
    {
        printf 'head\nheader = "Accept: %s"\nwrite-out = "%%{http_code}\\n"\n' "$ACCEPT_ALL"
        for t in "${NOOP_LIST[@]}"; do
            printf 'url = "http://%s/v2/noop/ci/manifests/%s"\noutput = "/dev/null"\n' "$SRC" "$t"
            printf 'url = "http://%s/v2/openshift/ci/manifests/noop_ci_%s"\noutput = "/dev/null"\n' "$DST" "$t"
        done
    } >"$WORK/heads.cfg"
    qs_info "no-op set up in $((SECONDS - t0)) s"

    NQ='' NS='' NQK='' NH='' NPASS='' NTAIL=''
    for ((round = 0; round < RUNS; round++)); do
        log=$LOGS/noop-heads-$((round + 1)).log
        if timed "$log" 60 curl -sS --no-progress-meter -Z --parallel-immediate --parallel-max 16 --max-time 50 -K "$WORK/heads.cfg" &&
            [ "$(grep -c '^200$' "$log")" -eq $((2 * NOOP_TAGS)) ]; then
            NH+="$T_SECS "
        else
            broke "the 2000 HEADs of the head limit did not all answer 200 (see $log)"
        fi
        qs_info "  round $((round + 1)) head-limit: $T_SECS s"
        log=$LOGS/noop-quayside-$((round + 1)).log
        if run_mirror "$log" "$WORK/noop.yaml" "$DST"; then
            pass=$(grep -h '"sync pass done"' "$log" | tail -n 1)
            if [ "$(jq -r '"\(.in_sync) \(.queued)"' <<<"$pass" 2>/dev/null)" = "$NOOP_TAGS 0" ]; then
                NQ+="$T_SECS " NQK+="$T_KIB "
                done_ts=$(log_ts "$log" '"sync pass done"')
                NPASS+="$(sub "$done_ts" "$(log_ts "$log" '"MIRROR_CONFIG loaded"')") "
                NTAIL+="$(sub "$T_SECS" "$(sub "$done_ts" "$(log_ts "$log" '"ts"' first)")") "
            else
                broke "no-op mirror --once did not find every tag in sync: ${pass:-no 'sync pass done' line}"
            fi
        else
            broke "no-op mirror --once failed (see $log)"
        fi
        qs_info "  round $((round + 1)) quayside: $T_SECS s, $(mib "$T_KIB") MiB"
        log=$LOGS/noop-skopeo-$((round + 1)).log
        forget_skopeo_blobs
        if timed "$log" 300 "${SK[@]}" sync --src docker --dest docker --src-tls-verify=false \
            --dest-tls-verify=false "$SRC/noop/ci" "$DST/openshift"; then
            # skopeo 1.9.3 reports copies with "Copying blob/config"; a no-op copies none
            if grep -q '^Copying \(blob\|config\)' "$log"; then
                broke "the no-op skopeo sync copied something (see $log)"
            else
                NS+="$T_SECS "
            fi
        else
            broke "no-op skopeo sync failed (see $log)"
        fi
        qs_info "  round $((round + 1)) skopeo-sync: $T_SECS s"
    done
    dest_stop
    MQ=$(med "$NQ") MSK=$(med "$NS") MH=$(med "$NH") MPASS=$(med "$NPASS")
    R_NOOP=$(ratio "$MQ" "$MSK")
    rate() { awk -v s="$1" -v n="$((2 * NOOP_TAGS))" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "nan" }'; }
    L="mirror bench: no-op resync ${NOOP_TAGS} tags  quayside $(fmt_s "$MQ") s ($(rate "$MQ") requests/s)"
    L+="  skopeo-sync $(fmt_s "$MSK") s (${R_NOOP}x)"
    L+="  head-limit $(fmt_s "$MH") s ($(rate "$MH") requests/s; quayside $(ratio "$MQ" "$MH")x)"
    L+="  [median of $RUNS; goal <= 0.1x skopeo-sync: $(goal le "$R_NOOP" 0.1)"
    if awk -v g="$MSK" -v l="$MH" 'BEGIN { exit !(0.1 * g < l) }'; then
        L+=" (0.1x = $(fmt_s "$(awk -v g="$MSK" 'BEGIN {print 0.1 * g}')") s lies beyond the head limit)"
    fi
    L+=";"
    L+=" quayside: whole process, 2 HEADs per tag, comparison pass $(fmt_s "$MPASS") s"
    L+=" ($(rate "$MPASS") HEADs/s), lived on $(med "$NTAIL") s after it, RSS $(mib "$(med "$NQK")") MiB;"
    L+=" head-limit: the same HEADs from one curl, 16 at a time;"
    L+=" skopeo: $(awk -v s="$MSK" -v n="$NOOP_TAGS" 'BEGIN { printf "%.1f", s * 1000 / n }') ms per tag]"
    LINES+=("$L")
fi

# ---------------------------------------------------------------------------- 3. peak RSS

if want_part rss; then
    if [ -n "$RSS_SKIP" ]; then
        L="mirror bench: ${BIG_LAYERS}x512MiB streams peak RSS skipped ($RSS_SKIP)"
    else
        qs_info "peak RSS: one image of $BIG_LAYERS x 512 MiB layers, COPY_CONCURRENCY=6"
        BIG_BYTES=$(awk '{s += $2} END {print s}' "$BIG_DIR/layers.txt")
        # page cache: the source's layer files
        while read -r dg _; do cat "$SRC_BLOBS/${dg:7:2}/${dg#sha256:}/data"; done <"$BIG_DIR/layers.txt" >/dev/null 2>&1 || true
        dest_start dst-rss
        supplemental_config "$WORK/big.yaml" bench/big latest
        # sample the destination's open upload sessions: how many blobs stream at once
        UPL=$DST_DATA/docker/registry/v2/repositories/openshift/ci/_uploads
        rm -f "$WORK/sampler.stop"
        (
            max=0
            while [ ! -e "$WORK/sampler.stop" ]; do
                n=$({ find "$UPL" -mindepth 1 -maxdepth 1 -type d 2>/dev/null || true; } | wc -l)
                [ "$n" -le "$max" ] || max=$n
                sleep 0.05
            done
            echo "$max" >"$WORK/sampler.max"
        ) &
        SAMPLER_PID=$!
        sync
        rc=0
        run_mirror "$LOGS/rss.log" "$WORK/big.yaml" "$DST" COPY_CONCURRENCY=6 || rc=$?
        touch "$WORK/sampler.stop"
        wait "$SAMPLER_PID" || true
        SAMPLER_PID=
        AT_ONCE=$(cat "$WORK/sampler.max" 2>/dev/null || echo "?")
        if [ "$rc" -ne 0 ]; then
            broke "mirror --once of the big image exited $rc (see $LOGS/rss.log)"
            tail -n 5 "$LOGS/rss.log" >&2
            L="mirror bench: ${BIG_LAYERS}x512MiB streams peak RSS: BROKEN (mirror exited $rc)"
        else
            d=$(raw_digest "$DST/openshift/ci:bench_big_latest")
            if [ "sha256:$d" = "$BIG_DIGEST" ]; then vd="digest verified"; else
                vd="DIGEST DIFFERS"
                broke "big image: destination digest sha256:$d != $BIG_DIGEST"
            fi
            L="mirror bench: ${BIG_LAYERS}x512MiB streams peak RSS $(mib "$T_KIB") MiB"
            L+=" (goal <= 64 MiB: $(goal le "$(mib "$T_KIB")" 64))"
            L+="  [$(awk -v b="$BIG_BYTES" 'BEGIN { printf "%.1f", b / 1073741824 }') GiB in $(fmt_s "$T_SECS") s"
            L+=" = $(awk -v b="$BIG_BYTES" -v s="$T_SECS" 'BEGIN { printf "%.0f", b / s / 1e6 }') MB/s;"
            L+=" up to $AT_ONCE uploads open at once at the destination; $vd]"
        fi
        dest_stop
    fi
    LINES+=("$L")
fi

# ---------------------------------------------------------------------------- report

qs_pid_alive "$SRC_PID" || broke "the source registry died during the run"
printf '\n'
printf '%s\n' "${LINES[@]}"
qs_info "done in $((SECONDS - t_start)) s"
exit "$BROKE"
