#!/bin/sh
# core/bench/workers.sh -- workers = 2 against workers = 1, in `make bench`
# (and alone: `make bench-workers`): the reference SMSC (conf/smppgw.lua,
# its store ":memory:" in each worker) saturated by `smppgw bench` with
# N=8 W=100 for BENCH_SECONDS (5) s, BENCH_ROUNDS (3) rounds of both runs
# interleaved. Per run: round trips/s, p99, and the CPU time of the whole
# process tree (parent and workers) per message. Prints the medians and
# the ratios 2 workers / 1 worker. The load generator runs on the same two
# cores: the ratio is what an operator on such a machine gets, not the
# ceiling of two cores.
#
# Environment: BENCH_SECONDS, BENCH_ROUNDS. Logs and JSON in build/bench-workers/.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=build/bench-workers
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" "$2"; }
# CPU ticks (user + system) of a process and its children still running
tree_ticks() {
    t=0
    for p in $1 $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
free_port() { luajit -e 'local s = require("socket").bind("127.0.0.1", 0); local _, p = s:getsockname(); print(p); s:close()'; }

cat > "$OUT/smsc.lua" <<CONF
local c = dofile("$PWD/conf/smppgw.lua")
c.script = "$PWD/scripts/smsc.lua"
c.store = { path = ":memory:" }
c.log = { level = "warn" }
c.http = nil
return c
CONF

# run LABEL WORKERS -> "round_trips_per_s cpu_us_per_msg p99_us"
run() {
    port=$(free_port)
    build/smppgw run "$OUT/smsc.lua" -w "$2" -l "127.0.0.1:$port" > "$OUT/$1.log" 2>&1 &
    pid=$!
    echo "$pid" >> "$OUT/pids"
    i=0
    until build/smppgw bench --quiet --idle 1 --duration 0.1 "127.0.0.1:$port" > /dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt 100 ] && { echo "workers.sh: $1 did not start:" >&2; cat "$OUT/$1.log" >&2; return 1; }
        sleep 0.1
    done
    c0=$(tree_ticks "$pid")
    build/smppgw bench --quiet --json --sessions 8 --window 100 --duration "$SECS" "127.0.0.1:$port" \
        > "$OUT/$1.json" 2> "$OUT/$1.err"
    c1=$(tree_ticks "$pid")
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    awk -v t="$(field throughput "$OUT/$1.json")" -v n="$(field ok "$OUT/$1.json")" -v a="$c0" -v b="$c1" \
        -v hz="$(getconf CLK_TCK)" -v p="$(field p99_us "$OUT/$1.json")" \
        'BEGIN { printf "%d %.2f %d\n", t, (n > 0 ? (b - a) / hz * 1e6 / n : 0), p }'
}

: > "$OUT/runs.txt"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for w in 1 2; do
        res=$(run "w$w-r$r" "$w") || exit 1
        echo "$w $res" >> "$OUT/runs.txt"
    done
    r=$((r + 1))
done
median() {  # WORKERS COLUMN -> the median of that column over the rounds
    awk -v w="$1" -v c="$2" '$1 == w { print $c }' "$OUT/runs.txt" | sort -n |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
echo "== Workers, the reference SMSC (store :memory:), N=8 W=100, $SECS s, median of $ROUNDS rounds (core/bench/workers.sh)"
printf '%-10s %14s %12s %9s\n' workers "round trips/s" "CPU us/msg" "p99 us"
for w in 1 2; do printf '%-10s %14s %12s %9s\n' "$w" "$(median "$w" 2)" "$(median "$w" 3)" "$(median "$w" 4)"; done
awk -v a="$(median 2 2)" -v b="$(median 1 2)" -v c="$(median 2 3)" -v d="$(median 1 3)" \
    'BEGIN { if (b > 0 && d > 0) printf "2 workers / 1: throughput x%.2f, CPU per message x%.2f\n", a / b, c / d }'
