# core/bench/lib.sh -- what the bench scripts share; sourced after they set
# OUT (their output directory). Processes they start append their pid to
# $OUT/pids; bench_cleanup stops them all.

bench_cleanup() {  # TERM every recorded process, then KILL what is left
    pids=$(cat "$OUT/pids" 2>/dev/null)
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
}

wait_port() {  # LOGFILE PATTERN -> the port logged after PATTERN (5 s at most)
    i=0
    while [ $i -lt 100 ]; do
        p=$(sed -n "s/.*$2\([0-9][0-9]*\).*/\1/p" "$1" 2>/dev/null | head -n 1)
        [ -n "$p" ] && { echo "$p"; return 0; }
        sleep 0.05; i=$((i + 1))
    done
    return 1
}

bench_run() {  # NAME PORT -> "throughput p50_us p99_us" of N=4, W=100 for $SECS s
    build/smppgw bench --quiet --sessions 4 --window 100 --duration "$SECS" --json "127.0.0.1:$2" \
        > "$OUT/$1.json" 2> "$OUT/$1.err"
    tr -d '\n' < "$OUT/$1.json" |
        sed -n 's/.*"throughput": *\([0-9.]*\).*"p50_us": *\([0-9]*\).*"p99_us": *\([0-9]*\).*/\1 \2 \3/p'
}

bench_port() {  # PID LOGFILE -> the SMPP port: from "listening on" in LOGFILE, or (when the
                # log level hides that line) PID's first listening TCP socket (5 s at most)
    i=0
    while [ $i -lt 100 ]; do
        p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$2" 2>/dev/null | head -n 1)
        if [ -z "$p" ]; then
            for ino in $(ls -l /proc/"$1"/fd 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p'); do
                hex=$(awk -v ino="$ino" '$4 == "0A" && $10 == ino { split($2, a, ":"); print a[2] }' \
                      /proc/"$1"/net/tcp)
                [ -n "$hex" ] && { p=$(printf '%d' "0x$hex"); break; }
            done
        fi
        [ -n "$p" ] && { echo "$p"; return 0; }
        sleep 0.05; i=$((i + 1))
    done
    return 1
}

cpu_ticks() {  # PID -> the whole process's user + system time in clock ticks (smsc.sh reads its loop thread's)
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null
}
