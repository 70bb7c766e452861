#!/usr/bin/env bash
# Multi-key units against redis-server, one pika-node and a 3-node cluster (through HAProxy), in
# one run: MSET of 10 keys and MULTI with 4 SETs and EXEC (go-redis TxPipelined, as applications
# send it), with each unit's keys in one slot (a hash tag) or spread over random slots (on one
# node: several slots it leads; on 3 nodes: slots of every node, the units across nodes of
# docs/transactions.md). Load: bench/txnbench. Writes bench/results-txn.md and a section at the
# end of bench/results.md, and prints the table. With BENCH_TXN_OPS=script2 (make bench-script)
# it measures EVALSHA of a 2-key script (GET, INCR, SET) instead, into bench/results-script.md.
#
# Usage: scripts/bench-txn.sh        (make bench-txn builds first)
# Environment:
#   BENCH_SECONDS  seconds per run (default 10)
#   BENCH_C        concurrent clients (default 32)
#   BENCH_NODES    nodes of the cluster (default 3)
#   BENCH_TXN_MODE the table's mode: async (default), or raft (1 replica on one node, 3 on the
#                  cluster; every unit over several slots runs across their raft groups)
#   BENCH_TXN_OPS  the units measured (default "mset10 multi4"; "script2": make bench-script)
#   PIKA_NODE_BIN, PIKACTL_BIN, BENCH_OUT (default bench/results.md),
#   BENCH_TXN_OUT  the full report (default bench/results-txn.md; raft: results-txn-raft.md),
#                  KEEP_TMP=1,
#   and scripts/cluster.sh's CLUSTER_* variables.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${BENCH_SECONDS:-10}
clients=${BENCH_C:-32}
nodes=${BENCH_NODES:-3}
out=${BENCH_OUT:-$root/bench/results.md}
mode=${BENCH_TXN_MODE:-async}
txn_ops=${BENCH_TXN_OPS:-mset10 multi4}
case $mode in
  async) out_txn=${BENCH_TXN_OUT:-$root/bench/results-txn.md} ;;
  raft) out_txn=${BENCH_TXN_OUT:-$root/bench/results-txn-raft.md} ;;
  *) echo "bench-txn: BENCH_TXN_MODE must be async or raft" >&2; exit 2 ;;
esac
what="Multi-key units (MSET, MULTI/EXEC)"
[ "$txn_ops" = script2 ] && what="Scripts (EVALSHA of a 2-key script)"
for tool in redis-server redis-cli haproxy curl; do
  command -v "$tool" >/dev/null || { echo "bench-txn: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pika-bench-txn.XXXXXX")
prog=bench-txn
# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
trap cl_cleanup EXIT
trap 'exit 130' INT TERM HUP

(cd "$root" && GOTOOLCHAIN=local go build -o "$tmp/txnbench" ./bench/txnbench)

cl_take
redis_port=$CL_P
mkdir -p "$tmp/redis"
cl_spawn redis redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp/redis" --save "" \
  --appendonly yes --appendfsync everysec --daemonize no
cl_wait redis "$CL_PID" cl_ping "$redis_port"

cl_mode=$mode
cl_replicas=1
cl_cluster single 1
single_port=${CL_PORTS[0]}
single_pids=("${CL_NODE_PIDS[@]}")
table_id=$CL_TABLE_ID
[ "$mode" = raft ] && cl_replicas=$((nodes < 3 ? nodes : 3))
cl_cluster multi "$nodes"
multi_ports=("${CL_PORTS[@]}")
multi_pids=("${CL_NODE_PIDS[@]}")
[ "$table_id" = "$CL_TABLE_ID" ] || cl_die "the table's id differs between the clusters"
cl_haproxy haproxy "${multi_ports[@]}"
lb_port=$CL_LB_PORT

results=$tmp/results.csv # server,op,keys,ops,p50,p99,failed,cpu
# cpu_ticks PID...: the CPU time (user + system, clock ticks) the processes used so far.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  echo "$t"
}
hz=$(getconf CLK_TCK)
: >"$results"
for op in $txn_ops; do
  for keys in tag spread; do
    for server in redis single multi; do
      case $server in
        redis) port=$redis_port pids=() ;;
        single) port=$single_port pids=("${single_pids[@]}") ;;
        multi) port=$lb_port pids=("${multi_pids[@]}") ;;
      esac
      ticks0=$(cpu_ticks "${pids[@]}")
      cl_check
      echo "bench-txn: $server $op $keys" >&2
      line=$("$tmp/txnbench" -addr "127.0.0.1:$port" -db "$table_id" -op "$op" -keys "$keys" \
        -clients "$clients" -for "${secs}s" 2>"$tmp/err-$server-$op-$keys") ||
        { cat "$tmp/err-$server-$op-$keys" >&2; exit 1; }
      read -r ops p50 p99 failed <<<"$line"
      # The pika-node processes' CPU per unit, in ms (every node of the cluster together).
      cpu=$(awk -v t=$(($(cpu_ticks "${pids[@]}") - ticks0)) -v hz="$hz" -v ops="$ops" -v secs="$secs" \
        'BEGIN { printf "%.2f", (ops > 0) ? t / hz * 1000 / (ops * secs) : 0 }')
      echo "$server,$op,$keys,$ops,$p50,$p99,$failed,$cpu" >>"$results"
    done
  done
done
cl_check

table=$(awk -F, -v nodes="$nodes" '
  { key = $2 SUBSEP $3; if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
    ops[$1, key] = $4; p99[$1, key] = $6; failed[$1, key] = $7; cpu[$1, key] = $8 }
  function ratio(a, b) { return (a + 0 == 0) ? "n/a" : sprintf("%.2f", b / a) }
  END {
    print "| unit | keys | redis ops/s | 1 node ops/s | " nodes " nodes ops/s | 1 node / redis | " nodes " nodes / redis | redis p99 ms | 1 node p99 ms | " nodes " nodes p99 ms | CPU ms per unit (1 node, " nodes " nodes) | failed (1 node, " nodes " nodes) |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
    for (i = 1; i <= nk; i++) {
      k = order[i]; split(k, kp, SUBSEP)
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s, %s | %s, %s |\n",
        (kp[1] == "mset10" ? "MSET of 10 keys" : kp[1] == "script2" ? "EVALSHA, 2 keys (GET, INCR, SET)" : "MULTI, 4 SETs, EXEC"),
        (kp[2] == "tag" ? "one slot (hash tag)" : "random slots"),
        ops["redis", k], ops["single", k], ops["multi", k],
        ratio(ops["redis", k], ops["single", k]), ratio(ops["redis", k], ops["multi", k]),
        p99["redis", k], p99["single", k], p99["multi", k], cpu["single", k], cpu["multi", k],
        failed["single", k], failed["multi", k]
    }
  }' "$results")

echo
echo "$table"
date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
commit=$("$cl_pika_bin" --version 2>/dev/null | awk '{ print $NF }')
[ -n "$commit" ] || commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
{
  echo "# $what, $mode tables: pika-node vs redis-server"
  echo
  echo "Written by \`make bench-txn\` or \`make bench-script\` (scripts/bench-txn.sh); rewritten on each run."
  echo
  echo "- Date: $date; host \`$(uname -n)\`, CPU ${cpu:-unknown}, nproc $(nproc); pika-node $commit"
  echo "- Load: bench/txnbench (go-redis), $clients clients, ${secs} s per run, 100 000 keys; clients,"
  echo "  servers, etcd and HAProxy on the same machine. redis-server with AOF (everysec). \"1 node\": one"
  echo "  pika-node (table \`$cl_table\`, $mode, $cl_slots slots, 1 replica); \"$nodes nodes\": a cluster of $nodes with the"
  echo "  table's slots spread over them ($cl_replicas replica(s)), clients through HAProxy (TCP round robin)."
  echo "- CPU ms per unit: the user + system time of the pika-node processes (every node of the"
  echo "  cluster together; /proc/PID/stat) during the run, divided by the units done."
  if [ "$mode" = raft ]; then
    echo "- \"random slots\": every unit spans raft groups (one per slot) and runs as a unit across them,"
    echo "  on one node too (lock and copy with ReadIndex, evaluate, prepare, decide, apply: each a raft"
    echo "  entry of the slots' groups; docs/transactions.md, \"Raft tables\")."
  else
    echo "- \"random slots\" on $nodes nodes: nearly every unit spans nodes and runs as a unit across them"
    echo "  (lock and copy, evaluate, prepare, decide, apply: docs/transactions.md)."
  fi
  echo
  echo "$table"
} >"$out_txn"
{
  echo
  echo "## $what, $mode tables (scripts/bench-txn.sh), $date"
  echo
  echo "Full report: [$(basename "$out_txn")]($(basename "$out_txn"))."
  echo
  echo "$table"
} >>"$out"
echo "bench-txn: wrote $out_txn and a section of $out" >&2
