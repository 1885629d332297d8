#!/bin/sh
# core/bench/runstore.sh -- what idle sessions cost the busy ones, in
# `make bench`: the time of GET /stats and the receipt delivery latency of
# the reference SMSC (scripts/smsc.lua, receipts at once: receipt_delay 0),
# first with no other session, then with BENCH_IDLE idle bound sessions of
# another account. Receipts go through the store (smpp.post -> the
# account's outbox -> its receivers), so the second run shows whether
# finding a receipt's receiver, or building /stats, walks every session.
#
# Environment:
#   BENCH_IDLE      idle bound sessions (default 10000)
#   BENCH_SECONDS   seconds of traffic per receipt run (default 5)
#   BENCH_RATE      submit_sm/s of the receipt runs (default 1000)
#   BENCH_OLD_TREE  another checkout with a build (its build/smppgw and
#                   scripts/smsc.lua) measured the same way first, e.g. the
#                   previous release, for a before/after in one run
# Everything on 127.0.0.1; every wait bounded; every process stopped on
# exit. Logs and JSON in build/bench-runstore/.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=build/bench-runstore
IDLE=${BENCH_IDLE:-10000}
SECS=${BENCH_SECONDS:-5}
RATE=${BENCH_RATE:-1000}
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

# Each idle session is a socket here and one in the load generator.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
limit=$(ulimit -n)
if [ "$limit" != unlimited ] && [ "$limit" -lt $((2 * IDLE + 200)) ]; then
    IDLE=$(((limit - 200) / 2))
    echo "runstore.sh: open files limited to $limit: $IDLE idle sessions" >&2
fi

# median FILE: the middle value of one number per line.
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maximum() { sort -n "$1" | tail -n 1; }

# stats_time NAME HTTP_PORT PATH: 20 sequential GETs; prints "median_ms max_ms bytes".
stats_time() {
    : > "$OUT/$1.times"
    i=0
    while [ $i -lt 20 ]; do
        curl -s -o "$OUT/$1.body" -w '%{time_total}\n' "http://127.0.0.1:$2$3" |
            awk '{ printf "%.3f\n", $1 * 1000 }' >> "$OUT/$1.times"
        i=$((i + 1))
    done
    echo "$(median "$OUT/$1.times") $(maximum "$OUT/$1.times") $(wc -c < "$OUT/$1.body")"
}

# receipts NAME PORT: one run at RATE with receipts; prints "sent receipts p50_us p99_us".
receipts() {
    build/smppgw bench --quiet --json --dlr --rate "$RATE" --window 100 --duration "$SECS" \
        "127.0.0.1:$2" > "$OUT/$1.json" 2> "$OUT/$1.err"
    tr -d '\n' < "$OUT/$1.json" | sed -n 's/.*"sent":\([0-9]*\).*"receipts":\([0-9]*\).*"receipt_p50_us":\([0-9]*\),"receipt_p99_us":\([0-9]*\).*/\1 \2 \3 \4/p'
}

# measure LABEL TREE: the whole run against TREE's build/smppgw.
measure() {
    label=$1 tree=$2
    cat > "$OUT/$label.lua" <<CONF
return { script = "$tree/scripts/smsc.lua", log = { level = "info" },
         http = { listen = "127.0.0.1:0" },
         session = { receive_window = 1000, window = 100 },
         limits = { max_connections = $((IDLE + 1000)), max_per_address = 0 },
         accounts = { { system_id = "smppclient1", password = "password" },
                      { system_id = "idle", password = "password" } },
         smsc = { receipt_delay = 0, echo = "off" } }
CONF
    "$tree/build/smppgw" run "$OUT/$label.lua" -l 127.0.0.1:0 > "$OUT/$label.log" 2>&1 &
    gw=$!
    echo "$gw" >> "$OUT/pids"
    port=$(wait_port "$OUT/$label.log" "listening on 127\.0\.0\.1:") || { cat "$OUT/$label.log" >&2; return 1; }
    http=$(wait_port "$OUT/$label.log" "dashboard on http:..127\.0\.0\.1:") || return 1

    set -- $(stats_time "$label-stats-0" "$http" /stats)
    s0_med=$1 s0_max=$2 s0_size=$3
    set -- $(receipts "$label-dlr-0" "$port")
    r0="$*"

    build/smppgw bench --quiet --idle "$IDLE" --system-id idle --password password "127.0.0.1:$port" \
        > "$OUT/$label-idle.out" 2> "$OUT/$label-idle.err" &
    idle=$!
    echo "$idle" >> "$OUT/pids"
    i=0
    while ! grep -q '^bound ' "$OUT/$label-idle.out" && kill -0 "$idle" 2>/dev/null && [ $i -lt 1200 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    bound=$(sed -n 's/^bound \([0-9]*\) of.*/\1/p' "$OUT/$label-idle.out")
    set -- $(stats_time "$label-stats-idle" "$http" /stats)
    s1_med=$1 s1_max=$2 s1_size=$3
    set -- $(stats_time "$label-page-idle" "$http" "/stats?sessions=1&limit=100")
    p1_med=$1 p1_max=$2 p1_size=$3
    set -- $(receipts "$label-dlr-idle" "$port")
    r1="$*"
    kill -TERM "$idle" 2>/dev/null
    wait "$idle" 2>/dev/null
    kill -TERM "$gw" 2>/dev/null
    wait "$gw" 2>/dev/null

    printf '%-8s %-28s %10s %10s %12s\n' "$label" "GET /stats, no idle session" "$s0_med" "$s0_max" "$s0_size"
    printf '%-8s %-28s %10s %10s %12s\n' "$label" "GET /stats, ${bound:-0} idle" "$s1_med" "$s1_max" "$s1_size"
    [ "$label" = old ] || printf '%-8s %-28s %10s %10s %12s\n' "$label" "  ?sessions=1&limit=100" "$p1_med" "$p1_max" "$p1_size"
    echo "$label receipts, no idle session: sent/receipts/p50_us/p99_us $r0" >> "$OUT/receipts.txt"
    echo "$label receipts, ${bound:-0} idle: sent/receipts/p50_us/p99_us $r1" >> "$OUT/receipts.txt"
}

echo "== Idle sessions (core/bench/runstore.sh): $IDLE idle bound sessions of another account"
printf '%-8s %-28s %10s %10s %12s\n' build request "median ms" "max ms" "bytes"
: > "$OUT/receipts.txt"
if [ -n "${BENCH_OLD_TREE:-}" ]; then
    measure old "$(cd "$BENCH_OLD_TREE" && pwd)" || echo "runstore.sh: the old build's run failed" >&2
fi
measure this "$PWD" || exit 1
echo "== Receipt latency at $RATE submit_sm/s, receipt_delay 0, $SECS s (from the submit to the receipt)"
printf '%-8s %-14s %8s %9s %9s %9s\n' build idle sent receipts "p50 us" "p99 us"
awk '{ idle = ($3 == "no") ? 0 : $3; printf "%-8s %-14s %8s %9s %9s %9s\n", $1, idle, $(NF-3), $(NF-2), $(NF-1), $NF }' \
    "$OUT/receipts.txt"
