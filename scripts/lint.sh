#!/usr/bin/env bash
# lint.sh — static analysis behind `make lint`: cppcheck, then clang-tidy (checks in
# .clang-tidy), on libshared, services, the emulators and the test tools. Warnings are errors.
# Unit and integration tests are left out: criterion's macros are not worth the noise.
# Usage: scripts/lint.sh [FILE.c...]   (default: every .c under the directories above)
# LINT_JOBS (default 2) clang-tidy processes run at once.
set -euo pipefail
cd "$(dirname "$0")/.."

DIRS=(libshared services tests/emulators tests/tools)
for t in cppcheck clang-tidy pkg-config; do
    command -v "$t" >/dev/null 2>&1 || {
        echo "lint: $t not found (run scripts/deps.sh)" >&2
        exit 1
    }
done

if [ "$#" -gt 0 ]; then
    FILES=("$@")
else
    mapfile -t FILES < <(find "${DIRS[@]}" -name '*.c' -type f 2>/dev/null | sort)
fi
if [ "${#FILES[@]}" -eq 0 ]; then
    echo "lint: no C files" >&2
    exit 0
fi
INCS=(-Ilibshared/include -Itests/emulators/common -Iservices)
# varFuncNullUB is suppressed: qs_log() and friends take NULL-terminated key/value lists, and
# in C (glibc) NULL is ((void *)0), so the sentinel is well defined.
rc=0

echo "lint: cppcheck (${#FILES[@]} files)"
if ! cppcheck --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
    --std=c11 -D_GNU_SOURCE -q -j "${LINT_JOBS:-2}" \
    --suppress=missingIncludeSystem --suppress=unmatchedSuppression \
    --suppress=varFuncNullUB \
    "${INCS[@]}" "${FILES[@]}"; then
    echo "lint: cppcheck found problems" >&2
    rc=1
fi

echo "lint: clang-tidy (${#FILES[@]} files, ${LINT_JOBS:-2} at a time)"
PKGS="libmicrohttpd libcurl jansson libzip hiredis yaml-0.1 libcrypto criterion"
# shellcheck disable=SC2086 # word splitting of pkg-config output is intended
read -r -a PKG_CFLAGS <<<"$(pkg-config --cflags $PKGS 2>/dev/null || true)"
CFLAGS=(-std=c11 -D_GNU_SOURCE "${INCS[@]}" "${PKG_CFLAGS[@]}")
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! printf '%s\0' "${FILES[@]}" |
    xargs -0 -r -I{} -P "${LINT_JOBS:-2}" \
        clang-tidy --quiet --config-file=.clang-tidy {} -- "${CFLAGS[@]}" \
        >"$out" 2>&1; then
    rc=1
fi
# clang-tidy prints "N warnings generated." chatter on stderr; show only the findings.
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Use -system-headers' "$out" || true
echo "lint: clang-format (every tracked .c/.h; fix with make format)"
while IFS= read -r -d '' f; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "lint: $f is not formatted (run: make format)" >&2
        rc=1
    fi
done < <(git ls-files -z '*.c' '*.h')
if [ "$rc" -ne 0 ]; then
    echo "lint: FAILED" >&2
else
    echo "lint: clean"
fi
exit "$rc"
