#!/usr/bin/env bash
# make bench-move: slot moves on a cluster of real processes (Debian etcd, scripts/cluster.sh):
# table big (8 slots, 1 replica, async) over 2 nodes, then a third node joins; bench/movebench
#   1. fills slot 0 with BENCH_MOVE_MB (1024) MB and the other slots with 16 MB each;
#   2. runs a steady SET/GET load (16 go-redis clients through node 1, every slot but 0, plus 4
#      clients writing slot 0) for 10 s;
#   3. moves slot 0 to node 3 under that load: copy speed (the slot's bytes over the time from the
#      move's start until the leader's full sync is over), the time until the target caught up
#      with the log, the hand-over step's length, and the latency of the slot-0 writers during
#      the move vs before (the write pause the hand-over costs);
#   4. runs `pikactl rebalance big` under the load: throughput during it vs steady.
# redis-server is not involved: every figure is pika-node against itself (before/during).
# Writes bench/results-move.md and a section of bench/results.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prog=bench-move
tmp=$(mktemp -d /tmp/pika-bench-move.XXXXXX)
# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
trap cl_cleanup EXIT
trap 'exit 130' INT TERM HUP

mb=${BENCH_MOVE_MB:-1024}
# How the rebalance runs: paced, as an operator protecting clients would run it.
rebalance_args=${BENCH_REBALANCE_ARGS:---concurrency 1 --limit-mbps 20}
out=${BENCH_OUT:-$root/bench/results-move.md}

cl_table=big cl_slots=8 cl_replicas=1
cl_cluster mv 2
echo "$prog: a third node joins" >&2
cl_node mv-node3 "$CL_ETCD"
n3_port=$CL_PORT
cl_wait "mv-node3 /healthz" "$CL_PID" cl_node_healthy $((n3_port + 20000))
cl_wait "3 nodes alive" "${CL_NODE_PIDS[0]}" cl_nodes_alive "$CL_HTTP" 3
n3_id=$(curl -s "http://127.0.0.1:$((n3_port + 20000))/healthz" | sed -n 's/.*"node": *"\([^"]*\)".*/\1/p')
[ -n "$n3_id" ] || cl_die "no node id from node 3's /healthz"

bin=$tmp/movebench
(cd "$root" && go build -o "$bin" ./bench/movebench) || cl_die "building bench/movebench failed"
echo "$prog: filling slot 0 with $mb MB, then steady load, the move, the rebalance" >&2
res=$("$bin" -addr "127.0.0.1:${CL_PORTS[0]}" -http "$CL_HTTP" -pikactl "$cl_pikactl_bin" -table big -to "$n3_id" -mb "$mb" -rebalance-args "$rebalance_args" 2>"$tmp/movebench.err") ||
  cl_die "movebench failed: $(tail -20 "$tmp/movebench.err")"
cl_check
declare -A r
for kv in $res; do r[${kv%%=*}]=${kv#*=}; done

{
  echo "# Slot move benchmark (make bench-move)"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); pika-node $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
  echo "- Host: \`$(uname -a)\`, CPU: $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), nproc $(nproc)"
  echo "- 3 pika-node processes and Debian's etcd on this machine, default flags; table big: 8 slots, 1 replica,"
  echo "  async, on 2 nodes; node 3 joins empty. Load: 16 go-redis clients through node 1 (SET/GET 1:1, 256 B,"
  echo "  slots 1-7) plus 4 clients writing slot 0 (bench/movebench)."
  echo
  echo "| figure | value | target |"
  echo "|---|---:|---|"
  echo "| slot 0 size (RocksDB estimate) | $(awk -v b="${r[slot_bytes]}" 'BEGIN { printf "%.0f MB", b / 1e6 }') | about 1 GB |"
  echo "| copy speed: the full sync (node ${r[from]:0:8}… -> node 3; from the move's start until the leader's INFO shows it over) | **${r[sync_mbps]} MB/s** (${r[sync_s]} s) | >= 100 MB/s |"
  echo "| copy and catch-up (until the target is within 64 entries of the log the slot-0 writers kept growing) | ${r[copy_s]} s | |"
  echo "| whole move (add, copy, hand-over, remove) | ${r[move_s]} s | |"
  echo "| hand-over step (fence to new leader published) | ${r[handover_ms]} ms | |"
  echo "| slot-0 write latency before the move: p99 / max | ${r[slot0_p99_before_ms]} / ${r[slot0_max_before_ms]} ms | |"
  echo "| slot-0 write latency during the move: p99 / max | ${r[slot0_p99_ms]} / **${r[slot0_max_ms]} ms** | pause < 100 ms |"
  echo "| other slots during the move vs steady: p99 / max | ${r[move_p99_ms]} / ${r[move_max_ms]} ms vs ${r[steady_p99_ms]} / ${r[steady_max_ms]} ms | |"
  echo "| client errors (steady / move / slot 0 / rebalance) | ${r[steady_errs]} / ${r[move_errs]} / ${r[slot0_errs]} / ${r[rebalance_errs]} | 0 |"
  echo "| throughput during \`pikactl rebalance big $rebalance_args\` (${r[rebalance_s]} s) vs steady | **${r[rebalance_ratio]}x** (${r[rebalance_ops]} vs ${r[steady_ops]} ops/s) | >= 0.7x |"
  echo
  echo "Filling slot 0 ran at ${r[fill_mbps]} MB/s (pipelined SETs of 4 KiB through node 1)."
} >"$out"
cat "$out"
echo "$prog: wrote $out" >&2

# A summary section at the end of bench/results.md (an earlier one replaced; bench.sh keeps what
# follows its Capacity heading).
summary=${BENCH_SUMMARY:-$root/bench/results.md}
section=$(cat <<EOS
## Slot moves (make bench-move; full table in bench/results-move.md)

$(date -u '+%Y-%m-%d %H:%M UTC'), this machine ($(nproc) cores), 3 pika-node processes + Debian etcd, a slot of
$(awk -v b="${r[slot_bytes]}" 'BEGIN { printf "%.0f MB", b / 1e6 }') moved under a 20-client load:

| figure | result | target |
|---|---:|---|
| copy speed (full sync, loopback) | ${r[sync_mbps]} MB/s (then ${r[copy_s]} s in all with the log catch-up) | >= 100 MB/s |
| slot-0 write latency during the move, max (the hand-over pause) | ${r[slot0_max_ms]} ms (p99 ${r[slot0_p99_ms]}; before: ${r[slot0_max_before_ms]} / ${r[slot0_p99_before_ms]}) | < 100 ms |
| throughput during \`pikactl rebalance $rebalance_args\` vs steady | ${r[rebalance_ratio]}x | >= 0.7x |
| client errors | ${r[steady_errs]} / ${r[move_errs]} / ${r[slot0_errs]} / ${r[rebalance_errs]} | 0 |
EOS
)
kept=""
if [ -f "$summary" ]; then
  kept=$(awk '/^## Slot moves/ { skip = 1; next } /^## / { skip = 0 } !skip' "$summary")
fi
printf '%s\n\n%s\n' "$kept" "$section" >"$summary"
echo "$prog: summary in $summary" >&2
