#!/bin/sh
# core/bench/tools.sh -- smppgw bench's own ceiling: the same load (N=4,
# W=100) against the reference SMSC (conf/smppgw.lua, scripts/smsc.lua) and
# against a deliberately trivial C responder (build/example_server), in one
# run. Everything on 127.0.0.1; processes stopped on exit.
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=build/bench-tools
SECS=${BENCH_SECONDS:-3}
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
cleanup() { for p in $(cat "$OUT/pids" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

wait_port() {  # LOGFILE PATTERN -> port
    i=0
    while [ $i -lt 100 ]; do
        p=$(sed -n "s/.*$2\([0-9][0-9]*\).*/\1/p" "$1" 2>/dev/null | head -n 1)
        [ -n "$p" ] && { echo "$p"; return 0; }
        sleep 0.05; i=$((i + 1))
    done
    return 1
}

build/smppgw run conf/smppgw.lua -l 127.0.0.1:0 --http 127.0.0.1:0 > "$OUT/smsc.log" 2>&1 &
echo $! >> "$OUT/pids"
build/example_server 0 > "$OUT/trivial.log" 2>&1 &
echo $! >> "$OUT/pids"
SMSC=$(wait_port "$OUT/smsc.log" "listening on 127\.0\.0\.1:") || { echo "tools.sh: smppgw did not start" >&2; exit 1; }
TRIV=$(wait_port "$OUT/trivial.log" "listening on 127\.0\.0\.1:") || { echo "tools.sh: example_server did not start" >&2; exit 1; }

run() {  # NAME PORT
    build/smppgw bench --quiet --sessions 4 --window 100 --duration "$SECS" --json "127.0.0.1:$2" > "$OUT/$1.json"
    tr -d '\n' < "$OUT/$1.json" | sed -n 's/.*"throughput":\([0-9.]*\).*"p50_us":\([0-9]*\).*"p99_us":\([0-9]*\).*/\1 \2 \3/p'
}
set -- $(run smsc "$SMSC"); S_T=${1:-0} S_50=${2:-0} S_99=${3:-0}
set -- $(run trivial "$TRIV"); T_T=${1:-0} T_50=${2:-0} T_99=${3:-0}
echo "== smppgw bench (core/bench/tools.sh): N=4, W=100, ${SECS} s each"
printf '%-44s %12s %9s %9s\n' "peer" "msgs/s" "p50 us" "p99 us"
printf '%-44s %12.0f %9s %9s\n' "reference SMSC (conf/smppgw.lua)" "$S_T" "$S_50" "$S_99"
printf '%-44s %12.0f %9s %9s\n' "trivial C responder (example_server): ceiling" "$T_T" "$T_50" "$T_99"
