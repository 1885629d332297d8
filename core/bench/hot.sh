#!/bin/sh
# core/bench/hot.sh -- the hot path in `make bench`: submit_sm round trips
# through the trivial Lua handler (conf/bench.lua) against the trivial C
# responder (build/example_server), N=4 W=100, interleaved rounds.
#
# Per round and peer: round trips/s, the server's CPU per round trip (its
# whole process, from /proc: steadier than wall time on a shared machine)
# and smppgw's throughput as a share of the C responder's in the same round.
# HOT_STRACE=1 adds one strace -c run of smppgw (syscalls per round trip,
# each way); HOT_PERF=1 one perf record of it (perf report in $OUT).
#
# Environment:
#   BENCH_SECONDS   seconds per run (default 3)
#   HOT_ROUNDS      rounds (default 3)
#   SMPPGW          another smppgw binary for the Lua side (a before/after)
# Everything on 127.0.0.1; every wait bounded; every process stopped on
# exit. Logs and JSON in build/bench-hot/.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=build/bench-hot
SECS=${BENCH_SECONDS:-3}
ROUNDS=${HOT_ROUNDS:-3}
GW=${SMPPGW:-build/smppgw}
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" "$2"; }
HZ=$(getconf CLK_TCK)

# start LABEL CMD...: sets PID and PORT.
start() {
    label=$1
    shift
    "$@" > "$OUT/$label.log" 2>&1 &
    PID=$!
    echo "$PID" >> "$OUT/pids"
    PORT=$(bench_port "$PID" "$OUT/$label.log") || { echo "hot.sh: $label did not start:" >&2; cat "$OUT/$label.log" >&2; return 1; }
}

stop() {
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# run LABEL: N=4 W=100 for SECS against PID/PORT; prints "throughput cpu_us p99_us".
run() {
    c0=$(cpu_ticks "$PID")
    build/smppgw bench --quiet --json --sessions 4 --window 100 --duration "$SECS" "127.0.0.1:$PORT" \
        > "$OUT/$1.json" 2> "$OUT/$1.err"
    c1=$(cpu_ticks "$PID")
    awk -v t="$(field throughput "$OUT/$1.json")" -v n="$(field ok "$OUT/$1.json")" -v a="$c0" -v b="$c1" \
        -v hz="$HZ" -v p="$(field p99_us "$OUT/$1.json")" \
        'BEGIN { printf "%d %.2f %d\n", t, (n > 0 ? (b - a) / hz * 1e6 / n : 0), p }'
}

echo "== Hot path: submit_sm round trips, N=4 W=100, $SECS s each, $ROUNDS rounds (load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-6s %12s %8s %12s %8s %8s\n' round "C rt/s" "C us/rt" "smppgw rt/s" "us/rt" "ratio"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    start c$r build/example_server 0 || exit 1
    run c$r > "$OUT/c$r.txt"
    stop "$PID"
    start lua$r "$GW" run conf/bench.lua -l 127.0.0.1:0 || exit 1
    run lua$r > "$OUT/lua$r.txt"
    stop "$PID"
    read -r ct cu cp < "$OUT/c$r.txt"
    read -r lt lu lp < "$OUT/lua$r.txt"
    awk -v r="$r" -v ct="$ct" -v cu="$cu" -v lt="$lt" -v lu="$lu" \
        'BEGIN { printf "%-6s %12d %8.2f %12d %8.2f %8.2f\n", r, ct, cu, lt, lu, (ct > 0 ? lt / ct : 0) }'
    r=$((r + 1))
done
echo "   (load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
# the rounds' medians: the CPU per round trip moves by a third between
# rounds on a shared VM, the C responder's with it; their ratio in the
# same round moves less
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
r=1
: > "$OUT/cpu.txt"
while [ "$r" -le "$ROUNDS" ]; do
    paste -d' ' "$OUT/lua$r.txt" "$OUT/c$r.txt" >> "$OUT/cpu.txt"
    r=$((r + 1))
done
echo "smppgw: median $(awk '{ print $2 }' "$OUT/cpu.txt" | median) us per round trip over $ROUNDS rounds" \
    "($(awk '$2 <= 1.5' "$OUT/cpu.txt" | wc -l) at most 1.5 us); its CPU per round trip over the C responder's" \
    "in the same round: median $(awk '$5 > 0 { print $2 / $5 }' "$OUT/cpu.txt" | median)"

if [ "${HOT_STRACE:-0}" = 1 ] && command -v strace > /dev/null; then
    start strace "$GW" run conf/bench.lua -l 127.0.0.1:0 || exit 1
    strace -c -f -q -p "$PID" -o "$OUT/strace.txt" &
    SP=$!
    echo "$SP" >> "$OUT/pids"
    sleep 0.5
    run strace > /dev/null
    kill -INT "$SP" 2>/dev/null
    wait "$SP" 2>/dev/null
    n=$(field ok "$OUT/strace.json")
    stop "$PID"
    echo "== Syscalls per round trip under strace ($n round trips; $OUT/strace.txt)"
    awk -v n="$n" '$NF ~ /^(read|readv|recvfrom|recvmsg)$/ { r += $4 }
                   $NF ~ /^(write|writev|sendto|sendmsg)$/ { w += $4 }
                   $NF ~ /^epoll_wait$|^epoll_pwait$/ { e += $4 }
                   END { if (n > 0) printf "reads %.4f  writes %.4f  epoll waits %.4f\n", r / n, w / n, e / n }' \
        "$OUT/strace.txt"
fi

if [ "${HOT_PERF:-0}" = 1 ] && command -v perf > /dev/null; then
    start perf "$GW" run conf/bench.lua -l 127.0.0.1:0 || exit 1
    perf record -q -g -o "$OUT/perf.data" -p "$PID" > /dev/null 2>&1 &
    PP=$!
    echo "$PP" >> "$OUT/pids"
    sleep 0.5
    run perf > /dev/null
    kill -INT "$PP" 2>/dev/null
    wait "$PP" 2>/dev/null
    stop "$PID"
    perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
        | grep -v '^#' | grep '%' | head -40 > "$OUT/perf.txt"
    echo "== perf: smppgw's top symbols ($OUT/perf.txt)"
    head -25 "$OUT/perf.txt"
fi
