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
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

# start NAME CONF: smppgw on an ephemeral port; prints the port.
start() {
    build/smppgw run "$2" -l 127.0.0.1:0 > "$OUT/$1.log" 2>&1 &
    echo $! >> "$OUT/pids"
    wait_port "$OUT/$1.log" "listening on 127\.0\.0\.1:" && return 0
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

set -- $(bench_run direct "$SMSC"); D_T=${1:-0} D_50=${2:-0} D_99=${3:-0}
set -- $(bench_run gateway "$GW");  G_T=${1:-0} G_50=${2:-0} G_99=${3:-0}

echo "== gateway hop (core/bench/gateway.sh): N=4, W=100, ${SECS} s each, all on this machine"
printf '%-34s %12s %9s %9s\n' "path" "msgs/s" "p50 us" "p99 us"
printf '%-34s %12.0f %9s %9s\n' "load -> SMSC (baseline)" "$D_T" "$D_50" "$D_99"
printf '%-34s %12.0f %9s %9s\n' "load -> gateway -> SMSC" "$G_T" "$G_50" "$G_99"
awk -v d="$D_T" -v g="$G_T" 'BEGIN { if (d > 0) printf "gateway / direct throughput: %.2f (target >= 0.50)\n", g / d }'
