#!/bin/sh
# core/bench/cluster.sh -- what sharing account limits through Redis costs,
# in `make bench` (and alone: `make bench-cluster`):
#  1. the reference SMSC (store ":memory:") with one account limited to
#     BENCH_LIMIT (20,000) submit_sm/s, saturated by `smppgw bench` N=4
#     W=100 for BENCH_SECONDS (5) s: once with the limit kept in the
#     process, once kept in Redis (`cluster`); accepted/s, the server's CPU
#     per accepted message, and Redis commands per accepted message (from
#     /stats);
#  2. Redis' own rate for the bucket script (redis-benchmark, 32 commands
#     pipelined): what one Redis serves, divided by the commands per
#     message, is how many limited messages/s one Redis can serve.
# Logs and JSON in build/bench-cluster/.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=build/bench-cluster
SECS=${BENCH_SECONDS:-5}
LIMIT=${BENCH_LIMIT:-20000}
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" "$2"; }
free_port() { luajit -e 'local s = require("socket").bind("127.0.0.1", 0); local _, p = s:getsockname(); print(p); s:close()'; }

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$PWD/$OUT" --save '' --appendonly no > "$OUT/redis.log" 2>&1 &
echo $! >> "$OUT/pids"
i=0
until redis-cli -p "$RPORT" ping > /dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "cluster.sh: redis-server did not start" >&2; exit 1; }; sleep 0.05
done

# conf LABEL CLUSTER(0|1): the reference SMSC, account "bench" limited to LIMIT/s
conf() {
    cat > "$OUT/$1.lua" <<CONF
local c = dofile("$PWD/conf/smppgw.lua")
c.script = "$PWD/scripts/smsc.lua"
c.store = { path = ":memory:" }
c.log = { level = "warn" }
c.accounts = { { system_id = "bench", password = "bench", throughput = $LIMIT } }
if $2 == 1 then c.cluster = { redis = "127.0.0.1:$RPORT" } end
return c
CONF
    echo "$OUT/$1.lua"
}

# run LABEL CLUSTER -> "accepted_per_s cpu_us_per_accepted redis_cmds_per_accepted"
run() {
    port=$(free_port) hport=$(free_port)
    build/smppgw run "$(conf "$1" "$2")" -l "127.0.0.1:$port" --http "127.0.0.1:$hport" > "$OUT/$1.log" 2>&1 &
    pid=$!
    echo "$pid" >> "$OUT/pids"
    bench_port "$pid" "$OUT/$1.log" > /dev/null || { echo "cluster.sh: $1 did not start" >&2; return 1; }
    sleep 0.3                                     # the link to Redis (a bind before it is refused)
    c0=$(cpu_ticks "$pid")
    build/smppgw bench --quiet --json --sessions 4 --window 100 --duration "$SECS" --system-id bench \
        --password bench "127.0.0.1:$port" > "$OUT/$1.json" 2> "$OUT/$1.err"
    c1=$(cpu_ticks "$pid")
    curl -s "http://127.0.0.1:$hport/stats" > "$OUT/$1.stats.json"
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    cmds=$(tr -d '\n' < "$OUT/$1.stats.json" | sed -n 's/.*"redis": *{[^}]*"commands": *\([0-9]*\).*/\1/p')
    awk -v n="$(field ok "$OUT/$1.json")" -v s="$(field seconds "$OUT/$1.json")" -v a="$c0" -v b="$c1" \
        -v hz="$(getconf CLK_TCK)" -v c="${cmds:-0}" \
        'BEGIN { printf "%d %.2f %.5f\n", (s > 0 ? n / s : 0), (n > 0 ? (b - a) / hz * 1e6 / n : 0), (n > 0 ? c / n : 0) }'
}

set -- $(run local 0) || exit 1
l_rate=$1 l_cpu=$2
set -- $(run redis 1) || exit 1
r_rate=$1 r_cpu=$2 r_cmds=$3

# the bucket script, as the nodes call it, as fast as Redis takes it
SCRIPT=$(luajit -e 'package.path = "lua/?.lua;" .. package.path
    local f = assert(io.open("lua/smpp/cluster.lua")):read("*a")
    io.write((f:match("bucket = %[%[\n(.-)%]%]")))')
SHA=$(redis-cli -p "$RPORT" script load "$SCRIPT")
ops=$(redis-benchmark -p "$RPORT" -n 200000 -P 32 -q evalsha "$SHA" 1 "bench:{x}" 1000000000 1000000000 1 2>/dev/null |
      tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1)

echo "== Account limits in Redis, the reference SMSC limited to $LIMIT/s, N=4 W=100, $SECS s (core/bench/cluster.sh)"
printf '%-24s %12s %12s %16s\n' "limit kept" "accepted/s" "CPU us/msg" "Redis cmds/msg"
printf '%-24s %12s %12s %16s\n' "in the process" "$l_rate" "$l_cpu" "-"
printf '%-24s %12s %12s %16s\n' "in Redis (cluster)" "$r_rate" "$r_cpu" "$r_cmds"
echo "Redis runs the bucket script at ${ops:-?} calls/s here (redis-benchmark -P 32);"
awk -v o="${ops:-0}" -v c="$r_cmds" 'BEGIN { if (c > 0) printf "one Redis: about %.0f limited messages/s at this limit (calls/s / commands per message)\n", o / c }'
