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
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

build/smppgw run conf/smppgw.lua -l 127.0.0.1:0 --http 127.0.0.1:0 > "$OUT/smsc.log" 2>&1 &
echo $! >> "$OUT/pids"
build/example_server 0 > "$OUT/trivial.log" 2>&1 &
echo $! >> "$OUT/pids"
SMSC=$(wait_port "$OUT/smsc.log" "listening on 127\.0\.0\.1:") || { echo "tools.sh: smppgw did not start" >&2; exit 1; }
TRIV=$(wait_port "$OUT/trivial.log" "listening on 127\.0\.0\.1:") || { echo "tools.sh: example_server did not start" >&2; exit 1; }

set -- $(bench_run smsc "$SMSC"); S_T=${1:-0} S_50=${2:-0} S_99=${3:-0}
set -- $(bench_run trivial "$TRIV"); T_T=${1:-0} T_50=${2:-0} T_99=${3:-0}
echo "== smppgw bench (core/bench/tools.sh): N=4, W=100, ${SECS} s each"
printf '%-44s %12s %9s %9s\n' "peer" "msgs/s" "p50 us" "p99 us"
printf '%-44s %12.0f %9s %9s\n' "reference SMSC (conf/smppgw.lua)" "$S_T" "$S_50" "$S_99"
printf '%-44s %12.0f %9s %9s\n' "trivial C responder (example_server): ceiling" "$T_T" "$T_50" "$T_99"
