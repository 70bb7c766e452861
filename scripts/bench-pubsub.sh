#!/usr/bin/env bash
# Pub/sub against redis-server, one pika-node and a 3-node cluster, in one run: one publisher
# (PUBLISH after PUBLISH, each waiting for its reply) to 50 subscribers of one channel. On the
# cluster the publisher is connected to node 1 and the subscribers round robin to every node, so
# two thirds of every message's deliveries happen on other nodes (docs/pubsub.md). Load:
# bench/pubsubbench. Writes bench/results-pubsub.md and a section at the end of
# bench/results.md, and prints the table.
#
# Usage: scripts/bench-pubsub.sh     (make bench-pubsub builds first)
# Environment:
#   BENCH_SECONDS      seconds per run (default 10)
#   BENCH_SUBSCRIBERS  subscribers (default 50)
#   BENCH_NODES        nodes of the cluster (default 3)
#   PIKA_NODE_BIN, PIKACTL_BIN, BENCH_OUT (default bench/results.md), KEEP_TMP=1,
#   and scripts/cluster.sh's CLUSTER_* variables.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${BENCH_SECONDS:-10}
subs=${BENCH_SUBSCRIBERS:-50}
nodes=${BENCH_NODES:-3}
out=${BENCH_OUT:-$root/bench/results.md}
out_pubsub=$root/bench/results-pubsub.md
for tool in redis-server redis-cli curl; do
  command -v "$tool" >/dev/null || { echo "bench-pubsub: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pika-bench-pubsub.XXXXXX")
prog=bench-pubsub
# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
trap cl_cleanup EXIT
trap 'exit 130' INT TERM HUP

(cd "$root" && GOTOOLCHAIN=local go build -o "$tmp/pubsubbench" ./bench/pubsubbench)

cl_take
redis_port=$CL_P
mkdir -p "$tmp/redis"
cl_spawn redis redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp/redis" --save "" \
  --appendonly yes --appendfsync everysec --daemonize no
cl_wait redis "$CL_PID" cl_ping "$redis_port"

cl_replicas=1
cl_cluster single 1
single_port=${CL_PORTS[0]}
table_id=$CL_TABLE_ID
cl_cluster multi "$nodes"
multi_ports=("${CL_PORTS[@]}")
[ "$table_id" = "$CL_TABLE_ID" ] || cl_die "the table's id differs between the clusters"

results=$tmp/results.txt # server msgs/s delivered/s lost
: >"$results"
for server in redis single multi; do
  case $server in
    redis) pub=127.0.0.1:$redis_port sub=127.0.0.1:$redis_port db=0 ;;
    single) pub=127.0.0.1:$single_port sub=127.0.0.1:$single_port db=$table_id ;;
    multi)
      pub=127.0.0.1:${multi_ports[0]} db=$table_id
      sub=$(printf '127.0.0.1:%s,' "${multi_ports[@]}")
      sub=${sub%,}
      ;;
  esac
  cl_check
  echo "bench-pubsub: $server" >&2
  line=$("$tmp/pubsubbench" -pub "$pub" -sub "$sub" -db "$db" -subscribers "$subs" -for "${secs}s" 2>"$tmp/err-$server") ||
    { cat "$tmp/err-$server" >&2; exit 1; }
  echo "$server $line" >>"$results"
done
cl_check

table=$(awk -v nodes="$nodes" -v subs="$subs" '
  { msgs[$1] = $2; deliv[$1] = $3; lost[$1] = $4 }
  function ratio(a, b) { return (a + 0 == 0) ? "n/a" : sprintf("%.2f", b / a) }
  END {
    print "| server | messages/s published | messages/s delivered (" subs " subscribers) | vs redis | messages lost |"
    print "|---|---:|---:|---:|---:|"
    printf "| redis-server | %s | %s | 1.00 | %s |\n", msgs["redis"], deliv["redis"], lost["redis"]
    printf "| pika-node, 1 node | %s | %s | %s | %s |\n", msgs["single"], deliv["single"], ratio(msgs["redis"], msgs["single"]), lost["single"]
    printf "| pika-node, %d nodes (subscribers on every node) | %s | %s | %s | %s |\n", nodes, msgs["multi"], deliv["multi"], ratio(msgs["redis"], msgs["multi"]), lost["multi"]
  }' "$results")

echo
echo "$table"
date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
commit=$("$cl_pika_bin" --version 2>/dev/null | awk '{ print $NF }')
[ -n "$commit" ] || commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
{
  echo "# Pub/sub: pika-node vs redis-server"
  echo
  echo "Written by \`make bench-pubsub\` (scripts/bench-pubsub.sh); rewritten on each run."
  echo
  echo "- Date: $date; host \`$(uname -n)\`, CPU ${cpu:-unknown}, nproc $(nproc); pika-node $commit"
  echo "- Load: bench/pubsubbench: one publisher (go-redis, PUBLISH after PUBLISH, 64-byte messages),"
  echo "  $subs subscribers of one channel (raw RESP readers), ${secs} s per run; clients, servers and"
  echo "  etcd on the same machine. \"$nodes nodes\": the publisher on node 1, the subscribers round"
  echo "  robin over the $nodes nodes (each message travels to the other nodes, docs/pubsub.md)."
  echo
  echo "$table"
} >"$out_pubsub"
{
  echo
  echo "## Pub/sub (scripts/bench-pubsub.sh), $date"
  echo
  echo "Full report: [results-pubsub.md](results-pubsub.md)."
  echo
  echo "$table"
} >>"$out"
echo "bench-pubsub: wrote $out_pubsub and a section of $out" >&2
