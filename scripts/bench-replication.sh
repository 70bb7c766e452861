#!/usr/bin/env bash
# make bench-replication: what async replication costs and how it behaves, on one 3-node
# cluster of real processes (Debian etcd, scripts/cluster.sh), in one run:
#   1. SET throughput and p99 into a table with 3 replicas vs a table with 1, redis-benchmark
#      straight at node 1 (-c 50 -r 100000, -P 1 and -P 16);
#   2. follower lag during the 3-replica runs: INFO replication's max_lag of every node,
#      sampled every 100 ms, p50/p99/max in log entries;
#   3. failover unavailability window: kill -9 node 3 (default --lease-ttl), time until every
#      slot of the 3-replica table has a live leader again;
#   4. full sync speed, on a second cluster whose nodes keep 2 s of log: with node 3 down,
#      BENCH_SYNC_KEYS values of 1 KiB are written and the logs trimmed, node 3 restarts, and
#      the time until it stores every key gives MiB/s.
# Writes bench/results-replication.md. Env: BENCH_REQUESTS (200000), BENCH_SYNC_KEYS (100000).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prog=bench-replication
tmp=$(mktemp -d /tmp/pika-bench-replication.XXXXXX)
# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
trap cl_cleanup EXIT
trap 'exit 130' INT TERM HUP

requests=${BENCH_REQUESTS:-200000}
sync_keys=${BENCH_SYNC_KEYS:-100000}
out=${BENCH_OUT:-$root/bench/results-replication.md}

# The full sync's cluster first (every process must be up while clusters start): it keeps
# only 2 s of log, a retention that would cost the throughput runs (every node trims every
# slot's log twice a second), so it is a cluster of its own, idle until the end.
cl_node_args=(--slot-log-max-age 2s --slot-log-trim-interval 500ms)
cl_table=r3 cl_replicas=3
cl_cluster fs 3
FS_TABLE=$CL_TABLE_ID FS_PORTS=("${CL_PORTS[@]}") FS_PIDS=("${CL_NODE_PIDS[@]}") FS_ETCD=$CL_ETCD
cl_node_args=()
cl_table=r1 cl_replicas=1
cl_cluster rep 3
r1=$CL_TABLE_ID
cl_pikactl "$CL_HTTP" table create r3 --slots 1024 --replicas 3 >/dev/null
r3=$(cl_pikactl "$CL_HTTP" --json table show r3 | awk -F'[:,]' '/^ *"id":/ { gsub(/ /, "", $2); print $2; exit }')
for i in "${!CL_PORTS[@]}"; do
  cl_wait "node$((i + 1)): SELECT $r3" "${CL_NODE_PIDS[$i]}" cl_select_ok "${CL_PORTS[$i]}" "$r3"
done
port=${CL_PORTS[0]}

# bench DB P: "rps p99" of redis-benchmark SET into table DB at pipeline depth P.
bench() {
  redis-benchmark -h 127.0.0.1 -p "$port" --dbnum "$1" -c 50 -n "$requests" -r 100000 -t set -P "$2" --csv 2>/dev/null |
    awk -F'"' '$2 == "SET" { print $4, $14 }'
}

# sample_lag FILE: append every node's max follower lag every 100 ms until killed.
sample_lag() {
  while :; do
    for p in "${CL_PORTS[@]}"; do
      redis-cli -h 127.0.0.1 -p "$p" INFO replication 2>/dev/null | tr -d '\r' |
        awk -F'max_lag=' '/pika_follower/ { split($2, a, ","); if (a[1] > m) m = a[1] } END { print m + 0 }'
    done >>"$1"
    sleep 0.1
  done
}

declare -A rps p99
lagfile=$tmp/lag.txt
: >"$lagfile"
for P in 1 16; do
  echo "$prog: SET -P $P into replicas=1" >&2
  read -r rps[1,$P] p99[1,$P] < <(bench "$r1" "$P")
  echo "$prog: SET -P $P into replicas=3" >&2
  sample_lag "$lagfile" &
  sampler=$!
  read -r rps[3,$P] p99[3,$P] < <(bench "$r3" "$P")
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
done
lag=$(sort -n "$lagfile" | awk '{ v[NR] = $1 }
  END {
    if (NR == 0) { print "n/a"; exit }
    i50 = int(NR * 0.5) + 1; i99 = int(NR * 0.99) + 1; if (i99 > NR) i99 = NR
    printf "p50 %d, p99 %d, max %d (%d samples)", v[i50], v[i99], v[NR], NR
  }')

# Failover window.
echo "$prog: kill -9 node 3, waiting for every slot of r3 to have a live leader" >&2
victim_port=${CL_PORTS[2]}
t0=$(date +%s.%N)
kill -KILL "${CL_NODE_PIDS[2]}"
http2=127.0.0.1:$((CL_PORTS[1] + 20000))
all_led() {
  local js
  # The victim must be seen dead first (its lease expired), then every slot led by a live node.
  cl_pikactl "$http2" --json node list 2>/dev/null | grep -q '"alive": false' || return 1
  js=$(cl_pikactl "$http2" --json slot show r3 2>/dev/null) || return 1
  ! echo "$js" | grep -q '"leader_alive": false'
}
deadline=$((SECONDS + 60))
until all_led; do
  [ $SECONDS -lt $deadline ] || cl_die "failover: slots of r3 still without a live leader after 60 s"
  sleep 0.05
done
window=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')

# Full sync, on the second cluster.
r3=$FS_TABLE
CL_PORTS=("${FS_PORTS[@]}")
victim_port=${CL_PORTS[2]}
kill -KILL "${FS_PIDS[2]}"
http2=127.0.0.1:$((CL_PORTS[1] + 20000))
deadline=$((SECONDS + 60))
until all_led; do
  [ $SECONDS -lt $deadline ] || cl_die "full sync cluster: no failover after 60 s"
  sleep 0.05
done
# Write while node 3 is down, let the logs trim, restart it.
echo "$prog: writing $sync_keys values of 1 KiB with node 3 down" >&2
redis-benchmark -h 127.0.0.1 -p "${CL_PORTS[1]}" --dbnum "$r3" -c 50 -n "$sync_keys" -r 100000000 -d 1024 -t set -P 16 -q >"$tmp/sync-load.txt" 2>&1 || cl_die "loading the full sync data failed: $(tail -3 "$tmp/sync-load.txt")"
# The bench's --slot-log-max-age is 2 s: wait until the logs keep one entry per slot at most.
log_entries() { curl -s "http://127.0.0.1:$(($1 + 20000))/metrics" | awk '$1 ~ /^pika_slot_log_entries\{table="r3"/ { print $2 }'; }
deadline=$((SECONDS + 60))
until [ "$(log_entries "${CL_PORTS[1]}")" -le 1024 ] 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || cl_die "the slot logs were not trimmed in 60 s"
  sleep 0.2
done
keys_of() { curl -s "http://127.0.0.1:$(($1 + 20000))/metrics" | awk -v id="$r3" '$1 ~ "^pika_keys\\{table=\"r3\"" { print $2 }'; }
want=$(keys_of "${CL_PORTS[1]}")
echo "$prog: restarting node 3 ($want keys to copy)" >&2
t0=$(date +%s.%N)
cl_spawn fs-node3-again "$cl_pika_bin" start --port "$victim_port" --bind 127.0.0.1 --data "$tmp/fs-node3" \
  --etcd "$FS_ETCD" --cluster "$cl_name" --slot-log-max-age 2s --slot-log-trim-interval 500ms
deadline=$((SECONDS + 300))
until [ "$(keys_of "$victim_port" 2>/dev/null)" = "$want" ]; do
  [ $SECONDS -lt $deadline ] || cl_die "node 3 did not converge in 300 s"
  sleep 0.1
done
sync_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
syncs=$(grep -c "full sync of a slot" "$tmp/fs-node3-again.log" || true)
mb=$(awk -v k="$want" 'BEGIN { printf "%.1f", k * 1040 / 1048576 }')
mbps=$(awk -v m="$mb" -v s="$sync_s" 'BEGIN { printf "%.1f", m / s }')

{
  echo "# Replication benchmark (make bench-replication)"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); pika-node $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
  echo "- Host: \`$(uname -a)\`, CPU: $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), nproc $(nproc)"
  echo "- 3 pika-node processes and Debian's etcd on this machine (scripts/cluster.sh), default flags;"
  echo "  redis-benchmark -c 50 -n $requests -r 100000 SET at node 1 (2/3 of keys forwarded, in both tables)."
  echo "- Every replica of a table lives on this one 2-core machine: replicas=3 does three times the write"
  echo "  work on the same cores, so the ratio measures that as much as replication's own cost."
  echo
  echo "| -P | replicas=1 rps | replicas=3 rps | 3/1 (target >= 0.8) | replicas=1 p99 ms | replicas=3 p99 ms |"
  echo "|---:|---:|---:|---:|---:|---:|"
  for P in 1 16; do
    ratio=$(awk -v a="${rps[3,$P]}" -v b="${rps[1,$P]}" 'BEGIN { printf "%.2f", a / b }')
    echo "| $P | ${rps[1,$P]} | ${rps[3,$P]} | $ratio | ${p99[1,$P]} | ${p99[3,$P]} |"
  done
  echo
  echo "- Follower lag during the replicas=3 runs (max over followers, log entries, every 100 ms): $lag"
  echo "- Failover: kill -9 of node 3 (default --lease-ttl 3s): every slot of r3 led by a live node after **${window} s** (target < 5 s)"
  echo "- Full sync (second cluster, \`--slot-log-max-age 2s --slot-log-trim-interval 500ms\`): node 3 restarted after the logs were trimmed: $want keys (~$mb MiB of 1 KiB values) copied in $sync_s s = **$mbps MiB/s** ($syncs slot syncs logged)"
} >"$out"
cat "$out"
echo "$prog: wrote $out" >&2
