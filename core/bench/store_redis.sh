#!/bin/sh
# core/bench/store_redis.sh -- the gateway's messages in Redis
# (cluster.store) against the embedded SQLite store, in `make bench` (and
# alone: `make bench-store-redis`): submit_sm with receipts asked for
# (`smppgw bench --dlr`, N=4, W=100, BENCH_SECONDS (5) s) through one
# gateway in front of an SMSC that sends each receipt at once; the
# gateway's store is SQLite (sync normal), then Redis with appendfsync
# always (what the guarantee needs), then appendfsync everysec. Per run:
# accepted/s, receipts delivered, p99 of the submits and of the receipts (ms), the gateway's CPU per message, the
# commands the gateway sent to Redis per message and the round trips they
# took (pipelined writes, /stats cluster.redis.commands and round_trips,
# the forwarders' and deliverers' polls included), and Redis' own count
# (INFO's total_commands_processed: the scripts' inner commands too).
# Logs and JSON in build/bench-store-redis/.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=build/bench-store-redis
SECS=${BENCH_SECONDS:-5}
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

free_port() { luajit -e 'local s = require("socket").bind("127.0.0.1", 0); local _, p = s:getsockname(); print(p); s:close()'; }
commands() { redis-cli -p "$RPORT" info stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'; }
# Redis' CPU seconds (user + sys) so far
rcpu() { redis-cli -p "$RPORT" info cpu | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.3f", s }'; }
# the gateway's own count: "commands round_trips" from /stats (0 0 without Redis)
sent() {
    curl -s "http://127.0.0.1:$1/stats" | luajit -e 'local ok, s = pcall(require("cjson").decode, io.read("*a"))
        local r = ok and s.cluster and s.cluster.redis or {}
        print(string.format("%d %d", r.commands or 0, r.round_trips or 0))'
}

cat > "$OUT/smsc.lua" <<CONF
return { script = "$PWD/core/bench/dlr_smsc.lua", log = { level = "warn" }, store = { path = ":memory:" },
         session = { receive_window = 1000, window = 1000 },
         accounts = { { system_id = "gw", password = "gw" } } }
CONF
SPORT=$(free_port)
build/smppgw run "$OUT/smsc.lua" -l "127.0.0.1:$SPORT" > "$OUT/smsc.log" 2>&1 &
echo $! >> "$OUT/pids"

# redis FSYNC: a fresh redis-server with the append-only file synced so
RPORT=
redis() {
    [ -n "$RPORT" ] && { redis-cli -p "$RPORT" shutdown nosave > /dev/null 2>&1; sleep 0.3; }
    RPORT=$(free_port)
    rm -rf "$OUT/redis-$1" && mkdir -p "$OUT/redis-$1"
    redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$PWD/$OUT/redis-$1" --save '' --appendonly yes \
        --appendfsync "$1" > "$OUT/redis-$1.log" 2>&1 &
    echo $! >> "$OUT/pids"
    i=0
    until redis-cli -p "$RPORT" ping > /dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt 100 ] && { echo "store_redis.sh: redis-server did not start" >&2; exit 1; }; sleep 0.05
    done
}

# run LABEL STORE_LUA -> "accepted_per_s receipts cpu_us_per_msg redis_cmds_per_msg sent_cmds_per_msg
#                         round_trips_per_msg"
run() {
    port=$(free_port) hport=$(free_port)
    cat > "$OUT/$1.lua" <<CONF
return { script = "$PWD/scripts/gateway.lua", log = { level = "warn" }, $2
         session = { receive_window = 1000, window = 1000 },
         accounts = { { system_id = "smppclient1", password = "password" } },
         upstreams = { { name = "smsc", port = $SPORT, system_id = "gw", password = "gw", binds = 4, window = 100 } },
         gateway = { routes = { { prefix = "", to = { "smsc" } } } } }
CONF
    build/smppgw run "$OUT/$1.lua" -l "127.0.0.1:$port" --http "127.0.0.1:$hport" > "$OUT/$1.log" 2>&1 &
    pid=$!
    echo "$pid" >> "$OUT/pids"
    bench_port "$pid" "$OUT/$1.log" > /dev/null || { echo "store_redis.sh: $1 did not start" >&2; return 1; }
    i=0                                             # the 4 binds to the SMSC
    until curl -s "http://127.0.0.1:$hport/stats" | tr -d '\n ' | grep -q '"sessions":4'; do
        i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.05
    done
    st=$(sent "$hport"); g0=${st% *} t0=${st#* }
    k0=$(commands) c0=$(cpu_ticks "$pid") r0=$(rcpu)
    build/smppgw bench --quiet --json --dlr --sessions 4 --window 100 --duration "$SECS" "127.0.0.1:$port" \
        > "$OUT/$1.json" 2> "$OUT/$1.err"
    c1=$(cpu_ticks "$pid") k1=$(commands) r1=$(rcpu)
    [ -n "$RPORT" ] && redis-cli -p "$RPORT" info commandstats > "$OUT/$1.commandstats" 2>&1
    st=$(sent "$hport"); g1=${st% *} t1=${st#* }
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    j=$(tr -d '\n ' < "$OUT/$1.json")
    f() { echo "$j" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
    echo "$(f ok) $(f seconds) $(f receipts) $(f p99_us) $(f receipt_p99_us)" |
    awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" -v k0="${k0:-0}" -v k1="${k1:-0}" \
        -v g0="$g0" -v g1="$g1" -v t0="$t0" -v t1="$t1" -v r0="$r0" -v r1="$r1" \
        '{ printf "%d %d %.1f %.1f %.2f %.3f %.1f %.1f %.1f\n", ($2 > 0 ? $1 / $2 : 0), $3,
                  ($1 > 0 ? (b - a) / hz * 1e6 / $1 : 0),
                  ($1 > 0 ? (k1 - k0) / $1 : 0), ($1 > 0 ? (g1 - g0) / $1 : 0), ($1 > 0 ? (t1 - t0) / $1 : 0),
                  ($1 > 0 ? (r1 - r0) * 1e6 / $1 : 0), $4 / 1000, $5 / 1000 }'
}

redis always
set -- $(run sqlite "store = { path = \"$PWD/$OUT/gw.db\", sync = \"normal\" },") || exit 1
S_T=${1:-0} S_R=${2:-0} S_C=${3:-0} S_P=${8:-0} S_Q=${9:-0}
set -- $(run redis-always "cluster = { redis = \"127.0.0.1:$RPORT\", store = true },") || exit 1
A_T=${1:-0} A_R=${2:-0} A_C=${3:-0} A_K=${4:-0} A_G=${5:-0} A_RT=${6:-0} A_RC=${7:-0} A_P=${8:-0} A_Q=${9:-0}
redis everysec
set -- $(run redis-everysec "cluster = { redis = \"127.0.0.1:$RPORT\", store = true },") || exit 1
E_T=${1:-0} E_R=${2:-0} E_C=${3:-0} E_K=${4:-0} E_G=${5:-0} E_RT=${6:-0} E_RC=${7:-0} E_P=${8:-0} E_Q=${9:-0}

echo "== The gateway's store: SQLite vs Redis (core/bench/store_redis.sh, ${SECS} s, N=4 W=100, receipts asked)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
F='  %-28s %10s %8s %9s %10s %10s %10s %9s %10s %10s %10s\n'
printf "$F" "store" "accepted/s" "x SQLite" "receipts" "p99 ms" "rcpt p99" "CPU us/msg" "cmds/msg" "trips/msg" \
    "Redis cmds" "Redis us"
printf "$F" "SQLite file, sync normal" "$S_T" "1.00" "$S_R" "$S_P" "$S_Q" "$S_C" "-" "-" "-" "-"
printf "$F" "Redis, appendfsync always" "$A_T" "$(ratio "$A_T" "$S_T")" "$A_R" "$A_P" "$A_Q" "$A_C" "$A_G" "$A_RT" \
    "$A_K" "$A_RC"
printf "$F" "Redis, appendfsync everysec" "$E_T" "$(ratio "$E_T" "$S_T")" "$E_R" "$E_P" "$E_Q" "$E_C" "$E_G" "$E_RT" \
    "$E_K" "$E_RC"
