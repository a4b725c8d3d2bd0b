# shellcheck shell=bash
# tests/e2e/lib.sh — assertion helpers for end-to-end scripts (real clients against the stack).
#
# An e2e script is any executable tests/e2e/*.sh; tests/run.sh runs it with QS_STACK_DIR set.
# Start it with:
#     #!/usr/bin/env bash
#     set -euo pipefail
#     . "$(dirname "$0")/lib.sh"        # sources $QS_STACK_DIR/env and tests/stack/lib.sh
#     ... checks ...
#     e2e_done                          # summary; exit status 1 if any check failed
#
# Every check prints one TAP-like line, which the harness counts:
#     ok - NAME          not ok - NAME          ok - NAME # SKIP reason
# followed, for a failure, by the command's output as "# " lines.
#
#   check NAME CMD...               pass if CMD exits 0 (its output shown only on failure)
#   expect_eq NAME EXPECTED ACTUAL  pass if the strings are equal
#   expect_match NAME REGEX ACTUAL  pass if ACTUAL matches the bash regex
#   expect_status URL CODE [CURL_ARGS...]   pass if the HTTP status of URL is CODE (the
#                                   check is named after URL and CODE only: args may hold secrets)
#   http_status URL [CURL_ARGS...]  print the HTTP status code of URL (000 if no answer)
#   skip NAME REASON                record a skipped check
#   has_component NAME              true if the stack runs NAME (redis, reg-plain, quay, ...)
#   e2e_done                        print "# N passed, M failed[, K skipped]" and exit
# Also available (tests/stack/lib.sh): qs_free_ports, qs_spawn (processes it starts are
# stopped with the stack), qs_wait_http, qs_log_tail, qs_rand.
# E2E_TMP is a scratch directory removed when the script exits.

if [ -z "${QS_STACK_DIR:-}" ] || [ ! -f "$QS_STACK_DIR/env" ]; then
    printf 'e2e: QS_STACK_DIR is not set or has no env file; start the stack first:\n' >&2
    # shellcheck disable=SC2016 # printed literally
    printf '  export QS_STACK_DIR=$(tests/stack/stack.sh start) && %s\n' "$0" >&2
    exit 2
fi
# shellcheck source=/dev/null
. "$QS_STACK_DIR/env"
QS_PROG=$(basename "$0" .sh)
# shellcheck source=tests/stack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../stack/lib.sh"

E2E_PASS=0
E2E_FAIL=0
E2E_SKIP=0
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/qs-e2e.XXXXXX")
trap 'rm -rf -- "$E2E_TMP"' EXIT

e2e__ok() {
    E2E_PASS=$((E2E_PASS + 1))
    printf 'ok - %s\n' "$1"
}
e2e__not_ok() {
    E2E_FAIL=$((E2E_FAIL + 1))
    printf 'not ok - %s\n' "$1"
}
e2e__show() { # indent a file's (or stdin's) last lines as TAP comments
    tail -n "${E2E_SHOW_LINES:-20}" "${1:--}" | sed 's/^/#   /'
}

check() {
    local name=$1
    shift
    local out=$E2E_TMP/check.out
    if "$@" >"$out" 2>&1; then
        e2e__ok "$name"
    else
        local rc=$?
        e2e__not_ok "$name"
        # only the program's name: arguments may carry credentials (--creds user:token)
        printf '#   command: %s (arguments not shown)\n#   exit status: %s\n' "$1" "$rc"
        e2e__show "$out"
    fi
}

expect_eq() {
    if [ "$2" = "$3" ]; then
        e2e__ok "$1"
    else
        e2e__not_ok "$1"
        printf '#   expected: %s\n#   actual:   %s\n' "$2" "$3"
    fi
}

expect_match() {
    if [[ $3 =~ $2 ]]; then
        e2e__ok "$1"
    else
        e2e__not_ok "$1"
        printf '#   expected to match: %s\n#   actual: %s\n' "$2" "$3" | e2e__show
    fi
}

http_status() {
    local url=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' --max-time "${E2E_HTTP_TIMEOUT:-10}" "$@" "$url" ||
        true
}

expect_status() {
    local url=$1 code=$2
    shift 2
    local got
    got=$(http_status "$url" "$@")
    expect_eq "GET ${url} -> ${code}" "$code" "$got"
}

skip() {
    E2E_SKIP=$((E2E_SKIP + 1))
    printf 'ok - %s # SKIP %s\n' "$1" "$2"
}

has_component() { [[ " ${QS_COMPONENTS:-} " == *" $1 "* ]]; }

e2e_done() {
    printf '# %s passed, %s failed, %s skipped\n' "$E2E_PASS" "$E2E_FAIL" "$E2E_SKIP"
    if [ "$E2E_FAIL" -eq 0 ]; then exit 0; fi
    exit 1
}
