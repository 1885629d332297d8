#!/bin/sh
# spec/run.sh OUT_DIR [BUSTED_ARGS...] -- the busted suite as `make test`
# and `make asan-suite` run it: one busted process per spec file, SPEC_JOBS
# of them at a time (default 4: the specs mostly wait on sockets), the
# slowest files of the last run first. Prints one TAP stream, the files in
# name order and the tests numbered through, then exits non-zero if
# anything failed.
#
# SPEC_FILES="spec/a_spec.lua ..." runs only those. Each file gets
# SPEC_TIMEOUT seconds (default 300). A file whose busted exits non-zero
# without a failing test (a crash, a timeout) adds a "not ok" line, and so
# do processes still running and files left in the temporary directory
# after the last file: specs stop what they start and remove what they
# write (spec/helpers/cleanup.lua), and this checks it. OUT_DIR keeps each
# file's TAP, standard error and time; TMPDIR points into it while the
# specs run.
set -u

if [ "${1:-}" = "--one" ]; then
    # one spec file (run by xargs below): OUT_DIR MARK FILE BUSTED_ARGS...
    out=$2 mark=$3 file=$4
    shift 4
    name=$(echo "$file" | tr / _)
    t0=$(date +%s%N)
    SMPPGW_SPEC_RUN=$mark TMPDIR=$out/tmp timeout -k 10 "${SPEC_TIMEOUT:-300}" luajit /usr/bin/busted -o TAP "$@" "$file" \
        > "$out/$name.tap" 2> "$out/$name.err"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "$rc" > "$out/$name.rc"
    echo "$ms" > "$out/$name.ms"
    printf '# %-32s %4d ok %3d not ok %6d ms\n' "$file" "$(grep -ac '^ok [0-9]' "$out/$name.tap")" \
        "$(grep -ac '^not ok [0-9]' "$out/$name.tap")" "$ms"
    exit 0
fi

out=${1:?usage: spec/run.sh OUT_DIR [BUSTED_ARGS...]}
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/*.tap "$out"/*.err "$out"/*.rc
rm -rf "$out/tmp"
mkdir "$out/tmp"
files=${SPEC_FILES:-$(find spec -name '*_spec.lua' | sort)}

# Every process the specs start inherits this mark in its environment (the
# busted processes get it, this script does not); none may outlive them.
mark="$$-$(date +%s%N)"

# -- Run: longest first (times of the previous run), SPEC_JOBS at once ----------
for f in $files; do
    echo "$(cat "$out/$(echo "$f" | tr / _).ms" 2>/dev/null || echo 0) $f"
done | sort -rn | cut -d' ' -f2 |
    xargs -P "${SPEC_JOBS:-4}" -I{} sh "$0" --one "$out" "$mark" {} "$@"

# The marked processes still alive, as "pid command" lines (none expected).
left_running() {
    grep -lzx "SMPPGW_SPEC_RUN=$mark" /proc/[0-9]*/environ 2>/dev/null |
        while read -r e; do
            p=${e#/proc/}
            p=${p%/environ}
            echo "$p $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)"
        done
}

# -- One TAP stream ------------------------------------------------------------
n=0
failed=0
for f in $files; do
    name=$(echo "$f" | tr / _)
    echo "# $f"
    touch "$out/$name.tap" "$out/$name.err"
    awk -v n="$n" '/^(not )?ok [0-9]+/ { n++; sub(/ok [0-9]+/, "ok " n); print; next }
                   /^1\.\.[0-9]+$/ { next }
                   { print }
                   END { print n > "/dev/stderr" }' "$out/$name.tap" 2> "$out/count"
    n=$(cat "$out/count")
    rc=$(cat "$out/$name.rc" 2>/dev/null || echo "none")
    if [ "$rc" != 0 ] && ! grep -aq '^not ok [0-9]' "$out/$name.tap"; then
        n=$((n + 1))
        case $rc in
            124|137) why="timed out after ${SPEC_TIMEOUT:-300} s" ;;
            *) why="busted exited with status $rc" ;;
        esac
        echo "not ok $n - $f: $why"
    fi
    grep -aq '^not ok [0-9]' "$out/$name.tap" && failed=1
    [ "$rc" = 0 ] || failed=1
    # what busted or a helper said on stderr, as TAP comments
    sed 's/^/# stderr: /' "$out/$name.err"
done

# -- Nothing left behind ---------------------------------------------------------
i=0
while [ -n "$(left_running)" ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
left=$(left_running)
if [ -n "$left" ]; then
    n=$((n + 1))
    failed=1
    echo "not ok $n - processes left running after the specs (now killed):"
    echo "$left" | sed 's/^/#   /'
    echo "$left" | while read -r p _; do kill -9 "$p" 2>/dev/null; done
fi
if [ -n "$(ls -A "$out/tmp")" ]; then
    n=$((n + 1))
    failed=1
    echo "not ok $n - files left in the temporary directory $out/tmp (now removed):"
    find "$out/tmp" -mindepth 1 | head -20 | sed 's/^/#   /'
    rm -rf "$out/tmp"
fi
echo "1..$n"
exit $failed
