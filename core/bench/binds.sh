#!/bin/sh
# core/bench/binds.sh -- a bound session's answer times at 1,000 submit_sm/s
# while 16 connections bind with a hashed password (PBKDF2, 100,000
# iterations) in a loop, against the same load without the flood, in one
# run: no flood; the flood with the defaults (verified passwords cached);
# the flood with the cache off (every bind hashes, on the thread pool).
# Everything on 127.0.0.1; every process started here is stopped on exit.
#   BENCH_SECONDS  seconds per run (default 5)
#   BENCH_ROUNDS   rounds of the three runs (default 3; medians are printed)
#   SMPPGW         the binary to measure (default build/smppgw)
#   BENCH_NOCACHE  0 leaves out the cache-off run (a binary without
#                  security.verify_cache_ttl, such as an older build)
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=build/bench-binds
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
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
    port=$(bench_port $pid "$OUT/$1.log") || { echo "binds.sh: $1: smppgw did not start" >&2; cat "$OUT/$1.log" >&2; exit 1; }
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

# median and least of the arguments
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
least() { printf '%s\n' "$@" | sort -n | head -n 1; }

# ROUNDS rounds of the three runs, interleaved, so that load from elsewhere
# on the machine falls on all three alike; the medians are printed.
QP50="" QP99="" FP50="" FP99="" NP50="" NP99="" FB="" NB="" LOST=0
r=0
while [ $r -lt "$ROUNDS" ]; do
    r=$((r + 1))
    set -- $(run quiet "{}" 0);                         QP50="$QP50 $1" QP99="$QP99 $2"; [ "$3" = "$4" ] || LOST=1
    set -- $(run flood "{}" 1);                         FP50="$FP50 $1" FP99="$FP99 $2" FB="$FB $5"; [ "$3" = "$4" ] || LOST=1
    if [ "${BENCH_NOCACHE:-1}" != 0 ]; then
        set -- $(run nocache "{ verify_cache_ttl = 0 }" 1); NP50="$NP50 $1" NP99="$NP99 $2" NB="$NB $5"; [ "$3" = "$4" ] || LOST=1
    fi
    echo "binds.sh: round $r: p99 us quiet$(echo $QP99 | awk '{print " " $NF}'), flood$(echo $FP99 | awk '{print " " $NF}'), cache off$(echo $NP99 | awk '{print " " $NF}')" >&2
done
Q50=$(median $QP50) Q99=$(median $QP99) F50=$(median $FP50) F99=$(median $FP99)
N50=$(median $NP50) N99=$(median $NP99) FBM=$(median $FB) NBM=$(median $NB)
N50=${N50:--} N99=${N99:--} NBM=${NBM:--}
QL=$(least $QP99) FL=$(least $FP99) NL=$(least $NP99); NL=${NL:--}

echo "== binds (core/bench/binds.sh): 1 session at 1,000 submit_sm/s, W=10, ${SECS} s per run, median of $ROUNDS rounds;"
echo "   flood: 16 connections from one address binding in a loop with a hashed password (PBKDF2, 100,000)"
echo "   (other load on the machine lands on single rounds: the least p99 of the rounds is shown too)"
printf '%-40s %8s %8s %12s %14s\n' "run" "p50 us" "p99 us" "least p99" "flood binds/s"
printf '%-40s %8s %8s %12s %14s\n' "no flood" "$Q50" "$Q99" "$QL" "-"
printf '%-40s %8s %8s %12s %14s\n' "flood (defaults: cached, paced)" "$F50" "$F99" "$FL" "$FBM"
printf '%-40s %8s %8s %12s %14s\n' "flood, cache off (every bind hashes)" "$N50" "$N99" "$NL" "$NBM"
awk -v q="$Q99" -v f="$F99" -v n="$N99" -v ql="$QL" -v fl="$FL" -v nl="$NL" 'BEGIN {
    if (q > 0) printf "p99 with the flood / without, medians: %.2f (defaults), %s (cache off); least: %.2f, %s; target <= 2\n",
        f / q, (n > 0 ? sprintf("%.2f", n / q) : "-"), fl / ql, (nl > 0 ? sprintf("%.2f", nl / ql) : "-") }'
[ "$LOST" = 0 ] || echo "binds.sh: some submit_sm were not answered ESME_ROK (see $OUT)" >&2
