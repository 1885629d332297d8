#!/bin/sh
# core/bench/binds.sh -- a bound session's answer times at 1,000 submit_sm/s
# while 16 connections bind with a hashed password (PBKDF2, 100,000
# iterations) in a loop, against the same load without the flood, in one
# run: no flood; the flood with the defaults (verified passwords cached);
# the flood with the cache off (every bind hashes, on the thread pool).
# Everything on 127.0.0.1; every process started here is stopped on exit.
#   BENCH_SECONDS  seconds per run (default 5)
#   SMPPGW         the binary to measure (default build/smppgw)
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=build/bench-binds
SECS=${BENCH_SECONDS:-5}
BIN=${SMPPGW:-build/smppgw}
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
. core/bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

HASH=$(build/smppgw passwd flood-pw) || exit 1

# run NAME SECURITY FLOOD(0|1) -> "p50_us p99_us sent ok binds_per_s"
run() {
    cat > "$OUT/$1.lua" <<CONF
return { script = "$PWD/scripts/bench.lua", log = { level = "warn" },
         session = { receive_window = 1000 }, security = $2,
         accounts = { { system_id = "smppclient1", password = "password" },
                      { system_id = "flood", password = "$HASH" } } }
CONF
    $BIN run "$OUT/$1.lua" -l 127.0.0.1:0 > "$OUT/$1.log" 2>&1 &
    pid=$!
    echo $pid >> "$OUT/pids"
    port=$(wait_port "$OUT/$1.log" "listening on 127\.0\.0\.1:") || {
        # the log level hides the line: ask the kernel for the listening port
        sleep 0.5
        port=$(ss -ltnpH 2>/dev/null | sed -n "s/.*127\.0\.0\.1:\([0-9]*\) .*pid=$pid,.*/\1/p" | head -n 1)
    }
    [ -n "$port" ] || { echo "binds.sh: $1: smppgw did not start" >&2; cat "$OUT/$1.log" >&2; exit 1; }
    if [ "$3" = 1 ]; then
        luajit core/bench/bindflood.lua "$port" flood flood-pw 16 $((SECS + 2)) > "$OUT/$1-flood.out" 2>&1 &
        echo $! >> "$OUT/pids"
        sleep 1                                   # the flood is under way before measuring
    fi
    build/smppgw bench --quiet --sessions 1 --window 10 --rate 1000 --duration "$SECS" --json \
        "127.0.0.1:$port" > "$OUT/$1.json" 2> "$OUT/$1.err"
    [ "$3" = 1 ] && wait $(tail -n 1 "$OUT/pids") 2>/dev/null
    kill -TERM $pid 2>/dev/null
    wait $pid 2>/dev/null
    lat=$(tr -d '\n' < "$OUT/$1.json" |
        sed -n 's/.*"sent": *\([0-9]*\).*"ok": *\([0-9]*\).*"p50_us": *\([0-9]*\).*"p99_us": *\([0-9]*\).*/\3 \4 \1 \2/p')
    flood=$(sed -n 's/.*per_s \([0-9.]*\).*/\1/p' "$OUT/$1-flood.out" 2>/dev/null)
    echo "${lat:-0 0 0 0} ${flood:-0}"
}

set -- $(run quiet "{}" 0);                         Q50=$1 Q99=$2 QS=$3 QOK=$4
set -- $(run flood "{}" 1);                         F50=$1 F99=$2 FS=$3 FOK=$4 FB=$5
set -- $(run nocache "{ verify_cache_ttl = 0 }" 1); N50=$1 N99=$2 NS=$3 NOK=$4 NB=$5

echo "== binds (core/bench/binds.sh): 1 session at 1,000 submit_sm/s, W=10, ${SECS} s each; flood: 16 connections binding in a loop (PBKDF2 100,000)"
printf '%-40s %9s %9s %11s %12s\n' "run" "p50 us" "p99 us" "ok/sent" "flood binds/s"
printf '%-40s %9s %9s %11s %12s\n' "no flood" "$Q50" "$Q99" "$QOK/$QS" "-"
printf '%-40s %9s %9s %11s %12s\n' "flood, verified passwords cached" "$F50" "$F99" "$FOK/$FS" "$FB"
printf '%-40s %9s %9s %11s %12s\n' "flood, cache off (every bind hashes)" "$N50" "$N99" "$NOK/$NS" "$NB"
awk -v q="$Q99" -v f="$F99" -v n="$N99" 'BEGIN { if (q > 0) printf "p99 with flood / without: %.2f (cached), %.2f (cache off); target <= 2\n", f / q, n / q }'
