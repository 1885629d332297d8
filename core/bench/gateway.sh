#!/bin/sh
# core/bench/gateway.sh -- the gateway hop of `make bench`, in one run:
# submit_sm round trips from build/smppgw bench (N=4, W=100) straight to an
# smppgw SMSC (the baseline) and through an smppgw gateway in front of the
# same SMSC: store and forward (message_id "own", the store's sync
# "normal": accepted = stored, then forwarded from the queue), and the
# "upstream" policy (the ESME waits for the upstream); then receipts: the
# load asks for them (--dlr), an SMSC sends one per message at once, and
# the gateway maps each back to its own id.
# Everything on 127.0.0.1; every wait bounded; every process stopped on exit.
#   BENCH_SECONDS  seconds per run (default 3)
#   BENCH_PERF     1: record `perf` of the store-and-forward gateway (if installed)
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=build/bench-gateway
SECS=${BENCH_SECONDS:-3}
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1

# start() runs in $(...) subshells: the pids go to a file, not a variable.
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

# start NAME CONF: smppgw on an ephemeral port; prints the port.
start() {
    build/smppgw run "$2" -l 127.0.0.1:0 --http 127.0.0.1:0 > "$OUT/$1.log" 2>&1 &
    echo $! >> "$OUT/pids"
    echo $! > "$OUT/$1.pid"
    wait_port "$OUT/$1.log" "listening on 127\.0\.0\.1:" && return 0
    echo "gateway.sh: $1 did not start:" >&2
    cat "$OUT/$1.log" >&2
    exit 1
}

# bound NAME: wait until the gateway's 4 binds to its upstream are up.
bound() {
    i=0
    while ! grep -q "upstream smsc: bind 4 up" "$OUT/$1.log" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
}

# The SMSCs: the bench script (answers with a counter), and one that also
# sends each message's receipt at once (for the receipt runs).
cat > "$OUT/smsc.lua" <<CONF
return { script = "$PWD/scripts/bench.lua", log = { level = "info" }, store = { path = ":memory:" },
         session = { receive_window = 1000 },
         accounts = { { system_id = "smppclient1", password = "password" } } }
CONF
cat > "$OUT/smsc-dlr.lua" <<CONF
return { script = "$PWD/core/bench/dlr_smsc.lua", log = { level = "info" }, store = { path = ":memory:" },
         session = { receive_window = 1000, window = 1000 },
         accounts = { { system_id = "smppclient1", password = "password" } } }
CONF

# gateway NAME POLICY SMSC_PORT: a gateway config in front of the SMSC.
gateway() {
    cat > "$OUT/$1.lua" <<CONF
return { script = "$PWD/scripts/gateway.lua", log = { level = "info" },
         store = { path = "$PWD/$OUT/$1.db", sync = "normal" },
         session = { receive_window = 1000, window = 1000 },
         accounts = { { system_id = "smppclient1", password = "password" } },
         upstreams = { { name = "smsc", port = $3, system_id = "smppclient1", password = "password",
                         binds = 4, window = 100, wait = 5 } },
         gateway = { message_id = "$2", routes = { { prefix = "", to = { "smsc" } } } } }
CONF
}

SMSC=$(start smsc "$OUT/smsc.lua") || exit 1
DLR=$(start smsc-dlr "$OUT/smsc-dlr.lua") || exit 1
gateway own own "$SMSC"
gateway upstream upstream "$SMSC"
gateway own-dlr own "$DLR"
OWN=$(start own "$OUT/own.lua") || exit 1
UPS=$(start upstream "$OUT/upstream.lua") || exit 1
ODLR=$(start own-dlr "$OUT/own-dlr.lua") || exit 1
bound own; bound upstream; bound own-dlr

# cpu PID: user + system seconds the process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

set -- $(bench_run direct "$SMSC");  D_T=${1:-0} D_50=${2:-0} D_99=${3:-0}
C0=$(cpu "$(cat "$OUT/own.pid")")
if [ "${BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
    perf record -g -o "$OUT/perf.data" -p "$(cat "$OUT/own.pid")" -- sleep "$SECS" > /dev/null 2>&1 &
    PERF=$!
fi
set -- $(bench_run own "$OWN");      O_T=${1:-0} O_50=${2:-0} O_99=${3:-0}
C1=$(cpu "$(cat "$OUT/own.pid")")
OWN_HTTP=$(sed -n 's|.*dashboard on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$OUT/own.log" | head -n 1)
curl -s "http://127.0.0.1:$OWN_HTTP/stats" > "$OUT/own-stats.json" 2>/dev/null
[ -n "${PERF:-}" ] && wait "$PERF"
set -- $(bench_run upstream "$UPS"); U_T=${1:-0} U_50=${2:-0} U_99=${3:-0}
# receipts: the same load asking for them; their count and latency
build/smppgw bench --quiet --sessions 4 --window 100 --duration "$SECS" --dlr --json "127.0.0.1:$DLR" \
    > "$OUT/direct-dlr.json" 2> "$OUT/direct-dlr.err"
build/smppgw bench --quiet --sessions 4 --window 100 --duration "$SECS" --dlr --json "127.0.0.1:$ODLR" \
    > "$OUT/own-dlr.json" 2> "$OUT/own-dlr.err"
ODLR_HTTP=$(sed -n 's|.*dashboard on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$OUT/own-dlr.log" | head -n 1)
curl -s "http://127.0.0.1:$ODLR_HTTP/stats" > "$OUT/own-dlr-stats.json" 2>/dev/null
dlr() {  # FILE -> "throughput receipts receipt_p50 receipt_p99 sent"
    tr -d '\n ' < "$1" | sed -n 's/.*"sent":\([0-9]*\).*"throughput":\([0-9.]*\).*"receipts":\([0-9]*\).*"receipt_p50_us":\([0-9]*\).*"receipt_p99_us":\([0-9]*\).*/\2 \3 \4 \5 \1/p'
}
set -- $(dlr "$OUT/direct-dlr.json"); DD_T=${1:-0} DD_R=${2:-0} DD_50=${3:-0} DD_99=${4:-0}
set -- $(dlr "$OUT/own-dlr.json");    OD_T=${1:-0} OD_R=${2:-0} OD_50=${3:-0} OD_99=${4:-0}
# the store-and-forward gateway's commits: messages per commit, and their time
COMMITS=$(tr -d '\n ' < "$OUT/own-stats.json" | sed -n 's/.*"store":{.*"commits":\([0-9]*\).*/\1/p')
CMS=$(tr -d '\n ' < "$OUT/own-stats.json" | sed -n 's/.*"commit_ms":{[^}]*"avg":\([0-9.e-]*\).*/\1/p')

echo "== gateway hop (core/bench/gateway.sh): N=4, W=100, ${SECS} s each, all on this machine"
printf '%-48s %12s %9s %9s\n' "path" "msgs/s" "p50 us" "p99 us"
printf '%-48s %12.0f %9s %9s\n' "load -> SMSC (baseline)" "$D_T" "$D_50" "$D_99"
printf '%-48s %12.0f %9s %9s\n' "load -> gateway (own ids, stored) -> SMSC" "$O_T" "$O_50" "$O_99"
printf '%-48s %12.0f %9s %9s\n' "load -> gateway (upstream ids) -> SMSC" "$U_T" "$U_50" "$U_99"
awk -v d="$D_T" -v o="$O_T" -v u="$U_T" -v c0="$C0" -v c1="$C1" -v s="$SECS" 'BEGIN {
    if (d > 0) printf "gateway / direct: own %.2f, upstream %.2f (target >= 0.50)\n", o / d, u / d
    if (o > 0) printf "store-and-forward gateway: %.1f us of CPU per message (%.2f s in %d s)\n", (c1 - c0) * 1e6 / (o * s), c1 - c0, s }'
[ -n "${COMMITS:-}" ] && awk -v n="$COMMITS" -v o="$O_T" -v s="$SECS" -v ms="${CMS:-0}" 'BEGIN {
    if (n > 0) printf "  its commits: %d, %.0f messages each, %.2f ms each on average\n", n, o * s / n, ms }'
echo "receipts (--dlr; the SMSC sends each at once):"
printf '%-48s %12s %9s %12s %12s\n' "path" "msgs/s" "receipts" "rcpt p50 us" "rcpt p99 us"
printf '%-48s %12.0f %9s %12s %12s\n' "load -> SMSC" "$DD_T" "$DD_R" "$DD_50" "$DD_99"
printf '%-48s %12.0f %9s %12s %12s\n' "load -> gateway (own ids) -> SMSC" "$OD_T" "$OD_R" "$OD_50" "$OD_99"
RELAYED=$(tr -d '\n ' < "$OUT/own-dlr-stats.json" | sed -n 's/.*"receipts_relayed":\([0-9]*\).*/\1/p')
POSTED=$(tr -d '\n ' < "$OUT/own-dlr-stats.json" | grep -o '"outbox":{[^}]*"posted":[0-9]*' | sed -n 's/.*"posted":\([0-9]*\)$/\1/p' | head -n 1)
echo "  receipts handed straight to the ESME: ${RELAYED:-?}; through the outbox: ${POSTED:-?}"
[ -n "${PERF:-}" ] && echo "perf data of the store-and-forward gateway: $OUT/perf.data (perf report -i ...)"
exit 0
