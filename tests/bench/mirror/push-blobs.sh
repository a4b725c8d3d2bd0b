#!/usr/bin/env bash
# push-blobs.sh — push blobs straight into a registry, as fast as its ingest allows: the
# destination ingest limit of the mirror benchmark.
#
# usage: push-blobs.sh [-j N] HOST:PORT REPO BLOB_FILE...
#
# Every BLOB_FILE is named by its sha256 hex digest (an OCI layout's blobs/sha256/<hex>).
# Two curl processes, no shell per blob:
#   1. N parallel POST /v2/REPO/blobs/uploads/ open one upload session per blob (sessions are
#      interchangeable: the digest is only named by the PUT);
#   2. N parallel monolithic PUTs <Location>&digest=sha256:<hex> with the file as body
#      (Content-Length known, no Expect: 100-continue), each expected to answer 201.
# -j N: transfers at once (default 6). Plain HTTP (loopback registries). Prints
# "<blobs> <bytes>" on stdout; exits 1 when a POST or PUT did not succeed.
set -euo pipefail

die() {
    printf 'push-blobs: error: %s\n' "$*" >&2
    exit 1
}
PAR=6
if [ "${1:-}" = -j ]; then
    PAR=${2:?-j needs a number}
    shift 2
fi
[[ $PAR =~ ^[1-9][0-9]*$ ]] || die "-j must be a positive number"
[ "$#" -ge 3 ] || die "usage: push-blobs.sh [-j N] HOST:PORT REPO BLOB_FILE..."
REG=$1 REPO=$2
shift 2

TMP=$(mktemp -d "${TMPDIR:-/tmp}/push-blobs.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT

# 1. upload sessions
n=$#
{
    printf 'request = "POST"\nheader = "Content-Length: 0"\n'
    printf 'write-out = "%%{http_code} %%header{location}\\n"\n'
    for ((i = 0; i < n; i++)); do
        printf 'url = "http://%s/v2/%s/blobs/uploads/"\n' "$REG" "$REPO"
        printf 'output = "/dev/null"\n'
    done
} >"$TMP/post.cfg"
curl -sS --no-progress-meter -Z --parallel-immediate --parallel-max "$PAR" --max-time 60 -K "$TMP/post.cfg" >"$TMP/post.out" ||
    die "POSTs failed"
awk '$1 == 202 && $2 != "" {print $2}' "$TMP/post.out" | tr -d '\r' >"$TMP/locations"
[ "$(wc -l <"$TMP/locations")" -eq "$n" ] ||
    die "only $(wc -l <"$TMP/locations") of $n POSTs answered 202 with a Location"

# 2. monolithic PUTs, one per blob, into the sessions in any order
{
    printf 'header = "Expect:"\nheader = "Content-Type: application/octet-stream"\n'
    printf 'write-out = "%%{http_code} %%{size_upload}\\n"\n'
    mapfile -t locs <"$TMP/locations"
    i=0
    for f in "$@"; do
        hex=$(basename "$f")
        [[ $hex =~ ^[0-9a-f]{64}$ ]] || die "$f is not named by a sha256 digest"
        loc=${locs[$i]}
        i=$((i + 1))
        case $loc in /*) loc=http://$REG$loc ;; esac
        case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
        printf 'url = "%s%sdigest=sha256:%s"\nupload-file = "%s"\noutput = "/dev/null"\n' \
            "$loc" "$sep" "$hex" "$f"
    done
} >"$TMP/put.cfg"
curl -sS --no-progress-meter -Z --parallel-immediate --parallel-max "$PAR" --max-time 300 -K "$TMP/put.cfg" >"$TMP/put.out" ||
    die "PUTs failed"
ok=$(awk '$1 == 201' "$TMP/put.out" | wc -l)
[ "$ok" -eq "$n" ] || die "only $ok of $n PUTs answered 201 ($(awk '$1 != 201 {print $1}' "$TMP/put.out" | sort | uniq -c | tr '\n' ' '))"
awk -v n="$n" '{b += $2} END {printf "%d %d\n", n, b}' "$TMP/put.out"
