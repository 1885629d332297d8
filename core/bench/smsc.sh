#!/bin/sh
# core/bench/smsc.sh -- the reference SMSC on the store, in `make bench`:
#  1. the default configuration (conf/smppgw.lua, its store in build/)
#     offered 10,000 submit_sm/s for BENCH_SMSC_SECONDS (15) s, N=4 W=100:
#     latency p50 .. max, and the RSS once those 150,000 messages are in;
#  2. saturation, N=4 W=100, BENCH_SECONDS (5) s each: the trivial script
#     (conf/bench.lua) and the reference SMSC with sync normal, full and
#     ":memory:", each as a share of the trivial one in the same run;
#     the server's CPU time per message beside it (steadier than wall
#     time on a machine shared with other work).
#
# Environment:
#   BENCH_SMSC_SECONDS  seconds of the 10,000/s run (default 15)
#   BENCH_SECONDS       seconds of each saturation run (default 5)
#   BENCH_OLD_TREE      another checkout with a build (its build/smppgw,
#                       conf/ and scripts/), measured the same way first:
#                       a before/after in one run
# Everything on 127.0.0.1; every wait bounded; every process stopped on
# exit. Logs, configurations and JSON in build/bench-smsc/.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=build/bench-smsc
RATE_SECS=${BENCH_SMSC_SECONDS:-15}
SECS=${BENCH_SECONDS:-5}
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" "$2"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/task/$1/stat" 2>/dev/null; }   # the loop thread's
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# start LABEL TREE CONF: run TREE's smppgw on CONF; sets PID and PORT.
start() {
    "$2/build/smppgw" run "$3" -l 127.0.0.1:0 --http 127.0.0.1:0 > "$OUT/$1.log" 2>&1 &
    PID=$!
    echo "$PID" >> "$OUT/pids"
    PORT=$(bench_port "$PID" "$OUT/$1.log") || { echo "smsc.sh: $1 did not start:" >&2; cat "$OUT/$1.log" >&2; return 1; }
}

stop() {
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# conf LABEL TREE SCRIPT_CONF STORE_PATH SYNC: a configuration that is
# TREE's SCRIPT_CONF (conf/smppgw.lua or conf/bench.lua) with its store
# at STORE_PATH with SYNC; prints its path.
conf() {
    cat > "$OUT/$1.lua" <<CONF
local c = dofile("$2/conf/$3")
c.script = "$2/scripts/" .. c.script:match("([^/]+)\$")
c.store = { path = "$4", sync = "$5" }
return c
CONF
    echo "$OUT/$1.lua"
}

# saturate LABEL TREE CONF: one saturation run; prints "throughput cpu_us_per_msg p99_us".
saturate() {
    start "$1" "$2" "$3" || return 1
    c0=$(cpu_ticks "$PID")
    build/smppgw bench --quiet --json --sessions 4 --window 100 --duration "$SECS" "127.0.0.1:$PORT" \
        > "$OUT/$1.json" 2> "$OUT/$1.err"
    c1=$(cpu_ticks "$PID")
    stop "$PID"
    awk -v t="$(field throughput "$OUT/$1.json")" -v n="$(field ok "$OUT/$1.json")" -v a="$c0" -v b="$c1" \
        -v hz="$(getconf CLK_TCK)" -v p="$(field p99_us "$OUT/$1.json")" \
        'BEGIN { printf "%d %.2f %d\n", t, (n > 0 ? (b - a) / hz * 1e6 / n : 0), p }'
}

# measure LABEL TREE: both parts against TREE's build.
measure() {
    label=$1 tree=$2
    # 1. the default configuration at 10,000/s
    start "$label-rate" "$tree" "$(conf "$label-rate" "$tree" smppgw.lua "$PWD/$OUT/$label-rate.db" normal)" || return 1
    build/smppgw bench --quiet --json --sessions 4 --window 100 --rate 10000 --duration "$RATE_SECS" \
        "127.0.0.1:$PORT" > "$OUT/$label-rate.json" 2> "$OUT/$label-rate.err"
    rss=$(rss_kb "$PID")
    stop "$PID"
    f="$OUT/$label-rate.json"
    printf '%-6s %-30s %9s %9s %9s %9s %9s %9s\n' "$label" "10,000/s default config" "$(field ok "$f")" \
        "$(field p50_us "$f")" "$(field p99_us "$f")" "$(field p999_us "$f")" "$(field max_us "$f")" \
        "$((rss / 1024))" >> "$OUT/rate.txt"
    # 2. saturation
    set -- $(saturate "$label-trivial" "$tree" "$(conf "$label-trivial" "$tree" bench.lua "$PWD/$OUT/$label-trivial.db" normal)")
    base=${1:-0}
    echo "$label trivial $*" >> "$OUT/sat.txt"
    for sync in normal full memory; do
        path="$PWD/$OUT/$label-$sync.db"
        [ "$sync" = memory ] && path=":memory:"
        s=$sync
        [ "$sync" = memory ] && s=normal
        set -- $(saturate "$label-smsc-$sync" "$tree" "$(conf "$label-smsc-$sync" "$tree" smppgw.lua "$path" "$s")")
        echo "$label smsc-$sync $* $(awk -v a="${1:-0}" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b }')" \
            >> "$OUT/sat.txt"
    done
}

: > "$OUT/rate.txt"
: > "$OUT/sat.txt"
if [ -n "${BENCH_OLD_TREE:-}" ]; then
    measure old "$(cd "$BENCH_OLD_TREE" && pwd)" || echo "smsc.sh: the old build's run failed" >&2
fi
measure this "$PWD" || exit 1
echo "== Reference SMSC at 10,000 submit_sm/s, N=4 W=100, $RATE_SECS s (core/bench/smsc.sh); latency in us"
printf '%-6s %-30s %9s %9s %9s %9s %9s %9s\n' build run ok p50 p99 p99.9 max "RSS MiB"
cat "$OUT/rate.txt"
echo "== Saturation, N=4 W=100, $SECS s each: submit_sm/s, the server loop's CPU per message, p99"
printf '%-6s %-14s %12s %12s %9s %12s\n' build peer "round trips/s" "CPU us/msg" "p99 us" "/trivial"
awk '{ printf "%-6s %-14s %12s %12s %9s %12s\n", $1, $2, $3, $4, $5, $6 }' "$OUT/sat.txt"
