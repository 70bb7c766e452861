#!/usr/bin/env bash
# make bench-raft: what raft mode costs, on one 3-node cluster of real processes (Debian etcd,
# scripts/cluster.sh), in one run:
#   1. SET throughput and p99 into a raft table vs an async table, both 1024 slots x 3 replicas,
#      redis-benchmark at node 1 (-c 50 -r 100000, -P 1 and -P 16);
#   2. idle cost of quiescent groups (measured first, on the fresh cluster): a raft table of 4096
#      slots x 3 replicas (every node holds 4096 groups); once elected and quiet, node 2's CPU
#      over 30 s and its RSS;
#   3. time to elect: kill -9 node 3, time until the routing names a live leader for every slot
#      of the 1024-slot raft table (raft elects; the node that wins reports to the manager).
# Writes bench/results-raft.md. Env: BENCH_REQUESTS (200000), BENCH_IDLE_SLOTS (4096).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prog=bench-raft
tmp=$(mktemp -d /tmp/pika-bench-raft.XXXXXX)
# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
trap cl_cleanup EXIT
trap 'exit 130' INT TERM HUP

requests=${BENCH_REQUESTS:-200000}
idle_slots=${BENCH_IDLE_SLOTS:-4096}
out=${BENCH_OUT:-$root/bench/results-raft.md}

cl_table=a3 cl_replicas=3
cl_cluster raft 3
a3=$CL_TABLE_ID
port=${CL_PORTS[0]}

table_id() { cl_pikactl "$CL_HTTP" --json table show "$1" | awk -F'[:,]' '/^ *"id":/ { gsub(/ /, "", $2); print $2; exit }'; }
# elected TABLE: every slot's record has a term above the initial one (its group elected and
# the winner reported) and a live leader.
elected() {
  local js
  js=$(cl_pikactl "$CL_HTTP" --json slot show "$1" 2>/dev/null) || return 1
  ! echo "$js" | grep -q '"epoch": 1,' && ! echo "$js" | grep -q '"leader_alive": false'
}

echo "$prog: creating raft table q ($idle_slots slots x 3) for the idle measurement" >&2
t0=$(date +%s.%N)
cl_pikactl "$CL_HTTP" table create q --slots "$idle_slots" --replicas 3 --mode raft >/dev/null
cl_wait "q: every group elected" "${CL_NODE_PIDS[0]}" elected q
elect_all=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
sleep 10 # let every group quiesce (3 idle ticks) and the allocator settle
pid2=${CL_NODE_PIDS[1]}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
c0=$(cpu_ticks "$pid2")
sleep 30
c1=$(cpu_ticks "$pid2")
idle_cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz / 30 * 100 }')
rss_mb=$(awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$pid2/status")
groups=$idle_slots

echo "$prog: creating raft table r3 (1024 slots x 3)" >&2
cl_pikactl "$CL_HTTP" table create r3 --slots 1024 --replicas 3 --mode raft >/dev/null
r3=$(table_id r3)
cl_wait "r3: every group elected" "${CL_NODE_PIDS[0]}" elected r3

# bench DB P: "rps p99" of redis-benchmark SET into table DB at pipeline depth P.
bench() {
  redis-benchmark -h 127.0.0.1 -p "$port" --dbnum "$1" -c 50 -n "$requests" -r 100000 -t set -P "$2" --csv 2>/dev/null |
    awk -F'"' '$2 == "SET" { print $4, $14 }'
}
declare -A rps p99
for P in 1 16; do
  echo "$prog: SET -P $P into async a3" >&2
  read -r rps[a,$P] p99[a,$P] < <(bench "$a3" "$P")
  echo "$prog: SET -P $P into raft r3" >&2
  read -r rps[r,$P] p99[r,$P] < <(bench "$r3" "$P")
done

# The probe (bench/probe) writes 16384 keys (every slot of r3, with near certainty) through node 1
# with 32 clients for 10 s from just before the kill; its last failed write is when every slot
# was writable again.
probe=$tmp/probe
(cd "$root" && go build -o "$probe" ./bench/probe) || cl_die "building bench/probe failed"

echo "$prog: kill -9 node 3, waiting for r3's routing to name live leaders" >&2
"$probe" -addr "127.0.0.1:$port" -db "$r3" -for 10s >"$tmp/probe.out" 2>"$tmp/probe.err" &
probe_pid=$!
sleep 0.2 # the probe's clients connected and writing
t0=$(date +%s.%N)
kill -KILL "${CL_NODE_PIDS[2]}"
led_live() {
  local js
  js=$(cl_pikactl "$CL_HTTP" --json slot show r3 2>/dev/null) || return 1
  cl_pikactl "$CL_HTTP" --json node list 2>/dev/null | grep -q '"alive": false' || return 1
  ! echo "$js" | grep -q '"leader_alive": false'
}
# The raft side elects before the dead node's 3 s lease expires; the routing follows the winners' reports.
deadline=$((SECONDS + 60))
until led_live; do
  [ $SECONDS -lt $deadline ] || cl_die "r3's routing still names the dead node 60 s after the kill"
  sleep 0.05
done
routed=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
wait "$probe_pid" || cl_die "the probe failed: $(cat "$tmp/probe.err")"
read -r probe_failed probe_last probe_writes <"$tmp/probe.out"
wt=$(awk -v l="$probe_last" 'BEGIN { printf "%.2f", (l > 0.2 ? l - 0.2 : 0) }')

{
  echo "# Raft mode benchmark (make bench-raft)"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); pika-node $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
  echo "- Host: \`$(uname -a)\`, CPU: $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), nproc $(nproc)"
  echo "- 3 pika-node processes and Debian's etcd on this machine (scripts/cluster.sh), default flags;"
  echo "  redis-benchmark -c 50 -n $requests -r 100000 SET at node 1 (2/3 of keys forwarded, in both tables)."
  echo "- Both tables have 1024 slots and 3 replicas on the same three processes on one 2-core machine."
  echo
  echo "| -P | async rps | raft rps | raft/async (target >= 0.6) | async p99 ms | raft p99 ms |"
  echo "|---:|---:|---:|---:|---:|---:|"
  for P in 1 16; do
    ratio=$(awk -v a="${rps[r,$P]}" -v b="${rps[a,$P]}" 'BEGIN { printf "%.2f", a / b }')
    echo "| $P | ${rps[a,$P]} | ${rps[r,$P]} | $ratio | ${p99[a,$P]} | ${p99[r,$P]} |"
  done
  echo
  echo "- Idle (measured first, on the fresh cluster): node 2 holding $groups quiescent raft groups (plus db0 and the empty async table): **${idle_cpu}% of a core** over 30 s (target < 3%), **RSS ${rss_mb} MB** (target < 300 MB). Creating the $idle_slots-slot table until every group had elected and was routed: ${elect_all} s."
  echo "- Kill -9 of node 3 under a write load (bench/probe: 32 clients through node 1 over 16384 keys): the last failed write came **${wt} s** after the kill (target: elected in < 2 s); $probe_failed of $probe_writes writes failed. The routing showed no dead leader after ${routed} s (it waits for the dead node's 3 s lease)."
} >"$out"
cat "$out"
echo "$prog: wrote $out" >&2
