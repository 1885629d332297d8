#!/bin/sh
# core/bench/gateway.sh -- the gateway hop of `make bench`: submit_sm round
# trips from build/smppgw bench straight to an smppgw SMSC (the baseline) and
# through an smppgw gateway in front of the same SMSC, in one run.
# Everything on 127.0.0.1; every wait bounded; every process stopped on exit.
#   BENCH_SECONDS  seconds per run (default 3)
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=build/bench-gateway
SECS=${BENCH_SECONDS:-3}
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1

# start() runs in $(...) subshells: the pids go to a file, not a variable.
cleanup() {
    PIDS=$(cat "$OUT/pids" 2>/dev/null)
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# start NAME CONF: smppgw on an ephemeral port; prints the port.
start() {
    build/smppgw run "$2" -l 127.0.0.1:0 > "$OUT/$1.log" 2>&1 &
    echo $! >> "$OUT/pids"
    i=0
    while [ $i -lt 100 ]; do
        p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$OUT/$1.log" 2>/dev/null | head -n 1)
        [ -n "$p" ] && { echo "$p"; return 0; }
        sleep 0.05
        i=$((i + 1))
    done
    echo "gateway.sh: $1 did not start:" >&2
    cat "$OUT/$1.log" >&2
    exit 1
}

cat > "$OUT/smsc.lua" <<CONF
return { script = "$PWD/scripts/bench.lua", log = { level = "info" },
         session = { receive_window = 1000 },
         accounts = { { system_id = "smppclient1", password = "password" } } }
CONF
SMSC=$(start smsc "$OUT/smsc.lua") || exit 1

cat > "$OUT/gateway.lua" <<CONF
return { script = "$PWD/scripts/gateway.lua", log = { level = "info" },
         session = { receive_window = 1000 },
         accounts = { { system_id = "smppclient1", password = "password" } },
         upstreams = { { name = "smsc", port = $SMSC, system_id = "smppclient1", password = "password",
                         binds = 4, window = 100, wait = 5 } },
         gateway = { message_id = "upstream", routes = { { prefix = "", to = { "smsc" } } } } }
CONF
GW=$(start gateway "$OUT/gateway.lua") || exit 1
i=0
while ! grep -q "upstream smsc: bind 4 up" "$OUT/gateway.log" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

run() {  # NAME PORT -> "throughput p50 p99"
    build/smppgw bench --quiet --sessions 4 --window 100 --duration "$SECS" --json "127.0.0.1:$2" \
        > "$OUT/$1.json" 2> "$OUT/$1.err"
    tr -d '\n' < "$OUT/$1.json" | sed -n 's/.*"throughput": *\([0-9.]*\).*"p50_us": *\([0-9]*\).*"p99_us": *\([0-9]*\).*/\1 \2 \3/p'
}
set -- $(run direct "$SMSC"); D_T=${1:-0} D_50=${2:-0} D_99=${3:-0}
set -- $(run gateway "$GW");  G_T=${1:-0} G_50=${2:-0} G_99=${3:-0}

echo "== gateway hop (core/bench/gateway.sh): N=4, W=100, ${SECS} s each, all on this machine"
printf '%-34s %12s %9s %9s\n' "path" "msgs/s" "p50 us" "p99 us"
printf '%-34s %12.0f %9s %9s\n' "load -> SMSC (baseline)" "$D_T" "$D_50" "$D_99"
printf '%-34s %12.0f %9s %9s\n' "load -> gateway -> SMSC" "$G_T" "$G_50" "$G_99"
awk -v d="$D_T" -v g="$G_T" 'BEGIN { if (d > 0) printf "gateway / direct throughput: %.2f (target >= 0.50)\n", g / d }'
