#!/bin/sh
# conf/cluster/run.sh -- `make cluster`: a local cluster on loopback to try:
# Redis (6390), the reference SMSC (2776), gateway nodes A (2775) and B
# (2785), their HTTP APIs on 8775 and 8785. Logs and stores in
# var/cluster/. Ctrl-C stops everything.
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=var/cluster
mkdir -p "$OUT" || exit 1
: > "$OUT/pids"
stop() {
    for p in $(cat "$OUT/pids"); do kill -TERM "$p" 2>/dev/null; done
    for p in $(cat "$OUT/pids"); do wait "$p" 2>/dev/null; done
    echo "cluster stopped"
}
trap 'stop; exit 0' INT TERM

redis-server --port 6390 --bind 127.0.0.1 --dir "$PWD/$OUT" --save '' --appendonly no > "$OUT/redis.log" 2>&1 &
echo $! >> "$OUT/pids"
build/smppgw run conf/cluster/smsc.lua > "$OUT/smsc.log" 2>&1 &
echo $! >> "$OUT/pids"
build/smppgw run conf/cluster/node_a.lua > "$OUT/node_a.log" 2>&1 &
echo $! >> "$OUT/pids"
build/smppgw run conf/cluster/node_b.lua > "$OUT/node_b.log" 2>&1 &
echo $! >> "$OUT/pids"
sleep 1
for p in $(cat "$OUT/pids"); do
    kill -0 "$p" 2>/dev/null || { echo "a process did not start; see $OUT/*.log" >&2; tail -n 5 "$OUT"/*.log >&2; stop; exit 1; }
done
cat <<TXT
cluster up: Redis 127.0.0.1:6390, SMSC 127.0.0.1:2776, gateway nodes 127.0.0.1:2775 (A) and :2785 (B)
  build/smppgw send 127.0.0.1:2775 --from 447700900001 --to 447700900002 --text "via A" --wait-dlr 5
  build/smppgw bench --rate 100 --duration 5 127.0.0.1:2775 & build/smppgw bench --rate 100 --duration 5 127.0.0.1:2785
      (smppclient1 may send 50/s over both nodes: the rest is ESME_RTHROTTLED)
  curl -s 127.0.0.1:8775/stats | grep -o '"cluster".*'      (the link to Redis, the shared buckets)
  logs: $OUT/*.log        Ctrl-C stops everything
TXT
wait
