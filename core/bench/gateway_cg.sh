#!/bin/sh
# core/bench/gateway_cg.sh -- instructions a message of the store-and-forward
# gateway (own ids, its store a file with sync "normal") with each message's
# receipt: valgrind's callgrind on the gateway while `smppgw bench --sessions
# 4 --window 100 --count N --dlr` goes through it to an SMSC that sends each
# receipt at once (core/bench/dlr_smsc.lua). Instructions do not move with
# the machine's load, so two builds compare where clock figures cannot:
#   sh core/bench/gateway_cg.sh [N]      (default 20000; `make bench-callgrind`)
#   SMPPGW_TREE=/path/to/other/checkout  measures that built tree instead
# Prints "instructions a message: I (everything the process ran, start-up
# included, over N)", then the same less the store's expiry sweep (it runs
# when a run crosses its interval: 6,000 a message more in a run it lands
# in) and the ESME handler's run less core.gw_queue (the gateway's Lua on
# the submit path). Every process stopped on exit.
set -u
cd "$(dirname "$0")/../.." || exit 1
HERE=$PWD
TREE=${SMPPGW_TREE:-$PWD}
N=${1:-20000}
OUT=$HERE/build/bench-gateway-cg
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP
command -v valgrind > /dev/null || { echo "gateway_cg.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }

cat > "$OUT/smsc.lua" <<CONF
return { script = "$TREE/core/bench/dlr_smsc.lua", log = { level = "info" }, store = { path = ":memory:" },
         session = { receive_window = 1000, window = 1000 },
         accounts = { { system_id = "smppclient1", password = "password" } } }
CONF
"$TREE/build/smppgw" run "$OUT/smsc.lua" -l 127.0.0.1:0 --http 127.0.0.1:0 > "$OUT/smsc.log" 2>&1 &
echo $! >> "$OUT/pids"
SMSC=$(wait_port "$OUT/smsc.log" "listening on 127\.0\.0\.1:") || { cat "$OUT/smsc.log" >&2; exit 1; }
cat > "$OUT/gw.lua" <<CONF
return { script = "$TREE/scripts/gateway.lua", log = { level = "info" },
         store = { path = "$OUT/gw.db", sync = "normal" },
         session = { receive_window = 1000, window = 1000 },
         accounts = { { system_id = "smppclient1", password = "password" } },
         upstreams = { { name = "smsc", port = $SMSC, system_id = "smppclient1", password = "password",
                         binds = 4, window = 100, wait = 5 } },
         gateway = { message_id = "own", routes = { { prefix = "", to = { "smsc" } } } } }
CONF
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
    "$TREE/build/smppgw" run "$OUT/gw.lua" -l 127.0.0.1:0 --http 127.0.0.1:0 > "$OUT/gw.log" 2>&1 &
GW=$!
echo $GW >> "$OUT/pids"
i=0                                   # under valgrind the start takes seconds
while ! grep -q "upstream smsc: bind 4 up" "$OUT/gw.log" && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(wait_port "$OUT/gw.log" "listening on 127\.0\.0\.1:") || { cat "$OUT/gw.log" >&2; exit 1; }
"$TREE/build/smppgw" bench --sessions 4 --window 100 --count "$N" --dlr "127.0.0.1:$PORT" > "$OUT/bench.txt" 2>&1
kill -TERM "$GW"
wait "$GW"
grep -q "receipts $N (0 unmatched, 0 missing)" "$OUT/bench.txt" || { echo "gateway_cg.sh: not every receipt came:" >&2; cat "$OUT/bench.txt" >&2; exit 1; }
TOTAL=$(callgrind_annotate "$OUT/callgrind.out" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
echo "instructions a message: $((TOTAL / N)) (everything the process ran, start-up included, over $N)"
callgrind_annotate --inclusive=yes "$OUT/callgrind.out" 2>/dev/null > "$OUT/inclusive.txt"
incl() { sed -n "s/^ *\([0-9,]*\) .*$1 \[.*/\1/p" "$OUT/inclusive.txt" | head -n 1 | tr -d ,; }
EXPIRY=$(incl 'store__expire_messages'); EXPIRY=${EXPIRY:-0}
RESUME=$(incl '???:lua_resume'); QUEUE=$(incl 'l_gw_queue')
echo "  less the expiry sweep: $(((TOTAL - EXPIRY) / N)); the handler's run less core.gw_queue: $(((${RESUME:-0} - ${QUEUE:-0}) / N))"
