#!/bin/sh
# core/bench/receipts.sh -- receipts under pressure, part of `make bench`:
# 1. the reference SMSC (conf/smppgw.lua's settings: receipt_delay 1 s,
#    window 10, max_backlog 10,000; its store a file under $OUT) under
#    `smppgw bench --sessions 4 --window 100 --duration $SECS --dlr`:
#    submits accepted and pushed back, receipts delivered (none may be
#    missing), refusals counted, log lines, RSS;
# 2. a scripted upstream (core/bench/receipt_flood.lua) replays $FLOOD
#    receipts for unknown ids to a gateway: how long, what it was
#    answered, the early table's level, the slowest /stats meanwhile, the
#    gateway's Lua heap and RSS.
# Everything on 127.0.0.1; every process stopped on exit.
#   BENCH_SECONDS  seconds of submits in 1 (default 20)
#   BENCH_FLOOD    receipts in 2 (default 300000)
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=build/bench-receipts
SECS=${BENCH_SECONDS:-20}
FLOOD=${BENCH_FLOOD:-300000}
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

# start NAME CONF: smppgw on ephemeral ports; sets $PORT, $HTTP, $PID.
start() {
    build/smppgw run "$2" -l 127.0.0.1:0 --http 127.0.0.1:0 > "$OUT/$1.log" 2>&1 &
    PID=$!
    echo $PID >> "$OUT/pids"
    PORT=$(wait_port "$OUT/$1.log" "listening on 127\.0\.0\.1:") &&
        HTTP=$(wait_port "$OUT/$1.log" "dashboard on http:\/\/127\.0\.0\.1:") && return 0
    echo "receipts.sh: $1 did not start:" >&2
    cat "$OUT/$1.log" >&2
    exit 1
}
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
stats() { curl -s -m 5 "http://127.0.0.1:$1/stats"; }

echo "== Receipts under pressure (core/bench/receipts.sh)"

# 1. The reference SMSC under bench --dlr
sed -e "s#\"../scripts/smsc.lua\"#\"$PWD/scripts/smsc.lua\"#" -e "s#\"../var/smppgw.db\"#\"$PWD/$OUT/smsc.db\"#" \
    conf/smppgw.lua > "$OUT/smsc.lua"
start smsc "$OUT/smsc.lua"
SMSC=$PID
maxrss=0
( while kill -0 $SMSC 2>/dev/null; do rss $SMSC; sleep 1; done > "$OUT/smsc.rss" ) &
build/smppgw bench --quiet --json --sessions 4 --window 100 --duration "$SECS" --dlr "127.0.0.1:$PORT" \
    > "$OUT/dlr.json" 2> "$OUT/dlr.err"
stats "$HTTP" > "$OUT/smsc-stats.json"
maxrss=$(sort -n "$OUT/smsc.rss" | tail -n 1)
python3 - "$OUT/dlr.json" "$OUT/smsc-stats.json" "$OUT/smsc.log" "$maxrss" <<'PY'
import json, os, sys
b, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
o, g = s["outbox"], s["gauges"]
print("bench --dlr %s s: %d submits, %d ESME_ROK (%.0f/s), %s pushed back; receipts %d of %d (p50 %.1f s, p99 %.1f s), missing %d"
      % (b["seconds"], b["sent"], b["ok"], b["ok"] / b["seconds"], b["failed_by"], b["receipts"], b["ok"],
         b["receipt_p50_us"] / 1e6, b["receipt_p99_us"] / 1e6, b["ok"] - b["receipts"]))
print("  outbox: posted %d, refused full %d (waited with their messages: %d), delivered %d, refused by the ESME %d, left %d;"
      " push-back refusals %d" % (o["posted"], o.get("full", 0), g["smsc_receipts_deferred"]["value"], o["delivered"],
                                  o["refused"], s["store"]["outbox"]["value"], g["smsc_backlog_refusals"]["value"]))
lines = sum(1 for _ in open(sys.argv[3]))
print("  log %d lines (%d octets), RSS at most %s KiB, Lua heap %d KiB"
      % (lines, os.path.getsize(sys.argv[3]), sys.argv[4], s["totals"]["lua_heap_bytes"] // 1024))
PY
kill $SMSC; wait $SMSC 2>/dev/null

# 2. A flood of unmatchable receipts
cat > "$OUT/up.lua" <<CONF
return { script = "$PWD/core/bench/receipt_flood.lua", log = { level = "info" }, store = { path = ":memory:" },
         session = { window = 100 }, smsc = { params = { count = $FLOOD, tasks = 100 } },
         accounts = { { system_id = "gw", password = "gwpw" } } }
CONF
start up "$OUT/up.lua"
UPPORT=$PORT
cat > "$OUT/gw.lua" <<CONF
return { script = "$PWD/scripts/gateway.lua", log = { level = "info" },
         store = { path = "$PWD/$OUT/gw.db", sync = "normal" },
         accounts = { { system_id = "esme1", password = "pw1" } },
         upstreams = { { name = "U", port = $UPPORT, system_id = "gw", password = "gwpw", binds = 1, window = 100 } },
         gateway = { routes = { { name = "all", prefix = "", to = { "U" } } } } }
CONF
start gw "$OUT/gw.lua"
GW=$PID
heap0=$(stats "$HTTP" | sed -n 's/.*"lua_heap_bytes":\([0-9]*\).*/\1/p')
slow=0; i=0
while ! grep -q "flood done" "$OUT/up.log" && [ $i -lt 1200 ]; do
    t=$(curl -s -m 5 -o /dev/null -w "%{time_total}" "http://127.0.0.1:$HTTP/stats")
    slow=$(echo "$t $slow" | awk '{ print ($1 > $2) ? $1 : $2 }')
    sleep 0.05; i=$((i + 1))
done
stats "$HTTP" > "$OUT/gw-stats.json"
python3 - "$OUT/gw-stats.json" "$OUT/up.log" "$heap0" "$slow" "$(rss $GW)" "$OUT/gw.log" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1]))
done = [l for l in open(sys.argv[2]) if "flood done" in l]
print("flood: " + (done[0].split("flood done: ")[1].strip() if done else "did not finish"))
u = s["gateway"]["queues"]["U"]
print("  early table %d of %d, kept %d, refused %d; slowest /stats meanwhile %.1f ms; Lua heap %d -> %d KiB; RSS %s KiB; log %d lines"
      % (s["store"]["early"]["value"], s["store"]["early"]["limit"], u["receipts_early"], u["receipts_unmatched"],
         float(sys.argv[4]) * 1000, int(sys.argv[3] or 0) // 1024, s["totals"]["lua_heap_bytes"] // 1024, sys.argv[5],
         sum(1 for _ in open(sys.argv[6]))))
PY
