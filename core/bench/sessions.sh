#!/bin/sh
# core/bench/sessions.sh -- the session bench of `make bench`: submit_sm round
# trips and latency through build/smppgw (conf/bench.lua) against the pure C
# baseline build/example_server, then smppgw's memory per idle bound session.
#
# Everything runs on 127.0.0.1; every wait is bounded; every process started
# here is stopped (SIGTERM, then SIGKILL) on the way out. Logs and the JSON of
# each run are kept in build/bench-sessions/. Environment:
#   BENCH_SECONDS   seconds per throughput run (default 3)
#   BENCH_IDLE      idle sessions of the memory test (default 10000)
set -u
cd "$(dirname "$0")/../.." || exit 1

B=build
LOAD="$B/smppgw bench --quiet"
OUT=$B/bench-sessions
SECS=${BENCH_SECONDS:-3}
IDLE=${BENCH_IDLE:-10000}
PIDS=""          # processes started here and still running
STATUS=0         # 1 once a run failed

for f in $B/example_server $B/smppgw; do
    [ -x "$f" ] || { echo "sessions.sh: $f is missing (run make)" >&2; exit 1; }
done
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1

# stop PID: SIGTERM, up to 15 s for a graceful exit (unbinds), then SIGKILL.
stop() {
    kill -TERM "$1" 2>/dev/null
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$1" 2>/dev/null; then
        echo "sessions.sh: process $1 ignored SIGTERM for 15 s: SIGKILL" >&2
        kill -KILL "$1" 2>/dev/null
    fi
    wait "$1" 2>/dev/null
    PIDS=$(echo " $PIDS " | sed "s/ $1 / /")
}

cleanup() {
    for p in $PIDS; do stop "$p"; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# listen_port PID LOG: the port of "listening on 127.0.0.1:PORT" in LOG; when
# the log level hides that line, the port of PID's listening TCP socket.
listen_port() {
    p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$2" | head -n 1)
    if [ -z "$p" ]; then
        for ino in $(ls -l /proc/"$1"/fd 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p'); do
            hex=$(awk -v ino="$ino" '$4 == "0A" && $10 == ino { split($2, a, ":"); print a[2] }' \
                  /proc/"$1"/net/tcp)
            [ -n "$hex" ] && { p=$(printf '%d' "0x$hex"); break; }
        done
    fi
    echo "$p"
}

# start NAME CMD...: run CMD in the background (output in $OUT/NAME.log) and
# wait up to 10 s for its port; sets PID and PORT.
start() {
    name=$1
    shift
    "$@" > "$OUT/$name.log" 2>&1 &
    PID=$!
    PIDS="$PIDS $PID"
    PORT=""
    i=0
    while [ -z "$PORT" ] && [ $i -lt 100 ]; do
        sleep 0.1
        kill -0 "$PID" 2>/dev/null || break
        PORT=$(listen_port "$PID" "$OUT/$name.log")
        i=$((i + 1))
    done
    if [ -z "$PORT" ]; then
        echo "sessions.sh: $name did not start listening:" >&2
        cat "$OUT/$name.log" >&2
        exit 1
    fi
}

# field KEY FILE: a number of the JSON object smppgw bench printed.
field() {
    sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2"
}

# load FILE ARGS...: one smppgw bench run (JSON in FILE), at most 90 s.
load() {
    file=$1
    shift
    if ! timeout 90 $LOAD --json "$@" "127.0.0.1:$PORT" > "$file" 2> "$file.err" \
       || [ -z "$(field throughput "$file")" ]; then
        echo "sessions.sh: smppgw bench $* failed:" >&2
        cat "$file.err" >&2
        STATUS=1
        return 1
    fi
    [ "$(field failed "$file")" = 0 ] && [ "$(field timeouts "$file")" = 0 ] || {
        echo "sessions.sh: smppgw bench $*: $(cat "$file")" >&2
        STATUS=1
    }
    return 0
}

# sweep PEER: N=1,4 x W=1,10,100, one row each (with the ratio for smppgw).
sweep() {
    load "$OUT/$1-warmup.json" --sessions 4 --window 100 --duration 1
    for n in 1 4; do
        for w in 1 10 100; do
            f="$OUT/$1-$n-$w.json"
            if load "$f" --sessions $n --window $w --duration "$SECS"; then
                tput=$(field throughput "$f")
                ratio=""
                if [ "$1" = smppgw ] && [ -s "$OUT/baseline-$n-$w.json" ]; then
                    ratio=$(awk -v a="$tput" -v b="$(field throughput "$OUT/baseline-$n-$w.json")" \
                            'BEGIN { if (b > 0) printf "%.2f", a / b }')
                fi
                printf '%-9s %2s %4s %15s %9s %9s %10s\n' "$1" $n $w "$tput" \
                    "$(field p50_us "$f")" "$(field p99_us "$f")" "$ratio"
            else
                printf '%-9s %2s %4s %15s\n' "$1" $n $w "failed"
            fi
        done
    done
}

# rate PEER: N=4 W=100 at 10,000 submit_sm/s: latency without saturation.
rate() {
    f="$OUT/$1-rate.json"
    if load "$f" --sessions 4 --window 100 --rate 10000 --duration "$SECS"; then
        printf '%-9s %15s %9s %9s %9s %9s\n' "$1" "$(field throughput "$f")" \
            "$(field p50_us "$f")" "$(field p99_us "$f")" "$(field p999_us "$f")" "$(field max_us "$f")"
    else
        printf '%-9s %15s\n' "$1" "failed"
    fi
}

echo "== Sessions: submit_sm round trips on 127.0.0.1 (build/smppgw bench, $SECS s per row)"
echo "   baseline = build/example_server (C engine, no Lua); smppgw = build/smppgw run conf/bench.lua"
printf '%-9s %2s %4s %15s %9s %9s %10s\n' peer N W "round trips/s" "p50 us" "p99 us" "smppgw/base"

start baseline $B/example_server 0
sweep baseline
rate baseline > "$OUT/rate-baseline.txt"
stop "$PID"

start smppgw $B/smppgw run conf/bench.lua -l 127.0.0.1:0
sweep smppgw
rate smppgw > "$OUT/rate-smppgw.txt"
stop "$PID"

echo "== Fixed rate: 10000 submit_sm/s, N=4 W=100, $SECS s"
printf '%-9s %15s %9s %9s %9s %9s\n' peer "round trips/s" "p50 us" "p99 us" "p99.9 us" "max us"
cat "$OUT/rate-baseline.txt" "$OUT/rate-smppgw.txt"

# -- Memory: RSS of smppgw before and after IDLE idle bound sessions ----------
# Each session is one socket in smppgw and one in smppgw bench: raise the
# descriptor limit (root may; otherwise the hard limit bounds the test).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
limit=$(ulimit -n)
if [ "$limit" != unlimited ] && [ "$limit" -lt $((IDLE + 100)) ]; then
    echo "sessions.sh: open files limited to $limit: $((limit - 100)) idle sessions instead of $IDLE" >&2
    IDLE=$((limit - 100))
fi
rss() {
    awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status
}

echo "== Memory: $IDLE idle bound sessions"
start smppgw-idle $B/smppgw run conf/bench.lua -l 127.0.0.1:0
GW=$PID
sleep 0.5
before=$(rss $GW)
$LOAD --idle "$IDLE" "127.0.0.1:$PORT" > "$OUT/idle.out" 2> "$OUT/idle.err" &
LP=$!
PIDS="$PIDS $LP"
i=0
while ! grep -q '^bound ' "$OUT/idle.out" && kill -0 $LP 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 1                                        # let smppgw settle (Lua GC steps)
after=$(rss $GW)
client=$(rss $LP)
bound=$(sed -n 's/^bound \([0-9]*\) of.*/\1/p' "$OUT/idle.out")
if [ "${bound:-0}" -gt 0 ]; then
    echo "smppgw bench: $(cat "$OUT/idle.out")"
    awk -v b="$before" -v a="$after" -v n="$bound" -v c="$client" 'BEGIN {
        printf "smppgw RSS %d kB -> %d kB: %.0f bytes per idle bound session\n", b, a, (a - b) * 1024 / n
        printf "smppgw bench RSS %d kB (C engine, client side): %.0f bytes per session at most\n", c, c * 1024 / n
    }'
    [ "$bound" = "$IDLE" ] || STATUS=1
else
    echo "sessions.sh: no idle session bound:" >&2
    cat "$OUT/idle.out" "$OUT/idle.err" >&2
    STATUS=1
fi
stop $LP
stop $GW

# Nothing started here may outlive the bench.
for p in $PIDS $GW $LP; do
    if kill -0 "$p" 2>/dev/null; then
        echo "sessions.sh: process $p is still running" >&2
        STATUS=1
    fi
done
exit $STATUS
