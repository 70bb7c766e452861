#!/usr/bin/env bash
# Throughput and p99 latency of a 3-node pika-node cluster behind HAProxy (TCP, round-robin, standing
# in for LVS) against a 1-node cluster and redis-server (AOF, fsync every second), with
# redis-benchmark, on this machine, in one run. Each cluster has its own Debian etcd and a table
# `bench` (1024 slots, 1 replica) spread over its nodes; redis-benchmark SELECTs it (--dbnum).
# Writes bench/results-cluster.md, puts a short section linking to it (with the targets) at the
# end of bench/results.md, and prints the table.
#
# Usage: scripts/bench-cluster.sh        (make bench-cluster builds first)
# Environment:
#   BENCH_REQUESTS requests per test (default $BENCH_N or 200000; e.g. 20000 for a quick check)
#   BENCH_C        parallel clients (default 50)
#   BENCH_R        key space for -r (default 100000)
#   BENCH_TESTS    redis-benchmark -t list (default set,get,incr,lpush,mset)
#   BENCH_PIPES    pipeline depths (default "1 16")
#   BENCH_NODES    nodes in the cluster behind HAProxy (default 3)
#   BENCH_TIMEOUT  seconds allowed for one redis-benchmark run (default 1800)
#   PIKA_NODE_BIN  pika-node binary (default bin/pika-node); PIKACTL_BIN likewise (bin/pikactl)
#   BENCH_OUT      results file the summary goes to (default bench/results.md)
#   BENCH_CLUSTER_OUT  the full report (default bench/results-cluster.md)
#   KEEP_TMP=1     keep the temp dir (data, logs, redis-benchmark output) on exit
#   and scripts/cluster.sh's CLUSTER_* variables (CLUSTER_NODE_ARGS for extra pika-node flags).
#
# Targets (issue 5), printed next to the figures, informative only (a miss does not fail the
# script): the cluster's throughput >= 0.7x of the 1-node cluster's, every test and depth; its
# p99 at -P 1 < 3x of the 1-node cluster's.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=${BENCH_REQUESTS:-${BENCH_N:-200000}}
clients=${BENCH_C:-50}
keyspace=${BENCH_R:-100000}
tests=${BENCH_TESTS:-set,get,incr,lpush,mset}
pipes=${BENCH_PIPES:-1 16}
nodes=${BENCH_NODES:-3}
bench_timeout=${BENCH_TIMEOUT:-1800}
out=${BENCH_OUT:-$root/bench/results.md}
out_cluster=${BENCH_CLUSTER_OUT:-$root/bench/results-cluster.md}
rps_target=0.7 # cluster rps / 1-node rps, at least
p99_target=3   # cluster p99 / 1-node p99 at -P 1, below

[[ "$nodes" =~ ^[1-9][0-9]*$ ]] || { echo "bench-cluster: BENCH_NODES must be a positive number" >&2; exit 2; }
for tool in redis-server redis-cli redis-benchmark haproxy curl; do
  command -v "$tool" >/dev/null || { echo "bench-cluster: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pika-bench-cluster.XXXXXX")
prog=bench-cluster
# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
trap cl_cleanup EXIT
trap 'exit 130' INT TERM HUP

# show ARGS...: a command line for the report, with ports and the temp dir made generic.
show() {
  local s="" a p
  for a in "$@"; do
    [ -n "$a" ] || a='""'
    s+="$a "
  done
  s=${s% }
  s=${s//$tmp/TMP}
  s=${s//$cl_pika_bin/pika-node}
  for p in $cl_reserved; do
    s=$(sed -E "s/(^|[^0-9])$p([^0-9]|\$)/\\1PORT\\2/g" <<<"$s")
  done
  echo "$s"
}

# ---- start: redis-server, the 1-node cluster, the N-node cluster and HAProxy in front of it
cl_take
redis_port=$CL_P
mkdir -p "$tmp/redis"
redis_cmd=(redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp/redis" --save ""
  --appendonly yes --appendfsync everysec --daemonize no)
cl_spawn redis "${redis_cmd[@]}"
redis_pid=$CL_PID
cl_wait redis "$redis_pid" cl_ping "$redis_port"

cl_cluster single 1
single_port=${CL_PORTS[0]}
single_table=$CL_TABLE_ID
single_cmd=("$cl_pika_bin" start --port "$single_port" --bind 127.0.0.1 --data "$tmp/single-node1"
  --etcd "$CL_ETCD" --cluster "$cl_name" "${cl_node_args[@]}")

cl_cluster multi "$nodes"
multi_ports=("${CL_PORTS[@]}")
multi_table=$CL_TABLE_ID
multi_http=$CL_HTTP
[ "$single_table" = "$multi_table" ] || cl_die "table $cl_table has id $single_table on one node and $multi_table on $nodes: --dbnum differs"
table_id=$multi_table
cl_haproxy haproxy "${multi_ports[@]}"
lb_port=$CL_LB_PORT
lb_checks="no health checks"
[ "${CLUSTER_HAPROXY_CHECK:-0}" = 1 ] && lb_checks="TCP health check every second"

# ---- routing check: keys written through HAProxy (a connection each, so spread over the
# nodes) read back from every node directly. With forwarding every read finds its key; without,
# about 1 in $nodes does, and the cluster figures below measure no routing at all.
check_keys=20
found=0
for i in $(seq "$check_keys"); do
  redis-cli -h 127.0.0.1 -p "$lb_port" -n "$table_id" SET "bench-cluster:check:$i" "v$i" >/dev/null
done
for port in "${multi_ports[@]}"; do
  for i in $(seq "$check_keys"); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" -n "$table_id" GET "bench-cluster:check:$i")" = "v$i" ]; then
      found=$((found + 1))
    fi
  done
done
check_total=$((check_keys * nodes))
routing="$found of $check_total reads found"
if [ "$found" != "$check_total" ]; then
  routing+=" — NOT ROUTED: nodes serve keys from their own storage, so the cluster figures are not meaningful"
fi
echo "bench-cluster: routing check: $routing" >&2

# flush SERVER: empty what the next run writes to (FLUSHALL empties the selected table; on every
# node of the cluster, whether or not it is forwarded). A refusal is reported, not fatal.
flush() {
  local port ports reply
  case "$1" in
    redis) ports=("$redis_port") ;;
    single) ports=("$single_port") ;;
    multi) ports=("${multi_ports[@]}") ;;
  esac
  for port in "${ports[@]}"; do
    reply=$(redis-cli -h 127.0.0.1 -p "$port" -n "$table_id" FLUSHALL 2>&1) || true
    [ "$reply" = OK ] || echo "bench-cluster: FLUSHALL on 127.0.0.1:$port ($1) answered: $reply" >&2
  done
}

# ---- run redis-benchmark: server x pipeline depth, same parameters
results=$tmp/results.csv # server,pipeline,test,rps,p50,p95,p99
: >"$results"
bench_cmds=()
for p in $pipes; do
  for server in redis single multi; do
    case $server in
      redis) port=$redis_port ;;
      single) port=$single_port ;;
      multi) port=$lb_port ;;
    esac
    cl_check
    flush "$server"
    cmd=(redis-benchmark -h 127.0.0.1 -p "$port" --dbnum "$table_id" -c "$clients" -n "$n" -r "$keyspace" -P "$p" -t "$tests" --csv)
    bench_cmds+=("$(show "${cmd[@]}")")
    echo "bench-cluster: $server -P $p" >&2
    if ! timeout --kill-after=10 "$bench_timeout" "${cmd[@]}" >"$tmp/bench-$server-$p.csv" 2>"$tmp/bench-$server-$p.err"; then
      echo "bench-cluster: redis-benchmark against $server -P $p failed:" >&2
      cat "$tmp/bench-$server-$p.err" >&2
      cl_check
      exit 1
    fi
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    awk -F'","' -v s="$server" -v p="$p" 'NR > 1 && NF >= 8 {
        gsub(/"/, "", $1); gsub(/"/, "", $8)
        printf "%s,%s,%s,%s,%s,%s,%s\n", s, p, $1, $2, $5, $6, $7
      }' "$tmp/bench-$server-$p.csv" >>"$results"
  done
done
cl_check
[ -s "$results" ] || { echo "bench-cluster: no results parsed" >&2; exit 1; }

# ---- table: one row per test and pipeline depth; the targets next to the ratios they judge
table=$(awk -F, -v nodes="$nodes" -v rt="$rps_target" -v pt="$p99_target" '
  { key = $3 SUBSEP $2
    if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
    rps[$1, key] = $4; p99[$1, key] = $7 }
  function ratio(a, b) { return (a == "" || b == "" || a + 0 == 0) ? "n/a" : sprintf("%.2f", b / a) }
  function judge(r, ok) { return r == "n/a" ? r : r " " (ok ? "PASS" : "MISS") }
  END {
    print "| test | -P | redis rps | 1 node rps | " nodes " nodes rps | " nodes "/1 rps (>= " rt ") | " nodes "/redis rps | redis p99 ms | 1 node p99 ms | " nodes " nodes p99 ms | " nodes "/1 p99 (< " pt " at -P 1) | " nodes "/redis p99 |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= nk; i++) {
      split(order[i], kp, SUBSEP)
      k = order[i]
      r = ratio(rps["single", k], rps["multi", k])
      q = ratio(p99["single", k], p99["multi", k])
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", kp[1], kp[2],
        rps["redis", k], rps["single", k], rps["multi", k], judge(r, r + 0 >= rt),
        ratio(rps["redis", k], rps["multi", k]),
        p99["redis", k], p99["single", k], p99["multi", k],
        (kp[2] == 1 ? judge(q, q + 0 < pt) : q),
        ratio(p99["redis", k], p99["multi", k])
    }
  }' "$results")

# targets: the worst case of each, as "PASS|MISS: <summary>".
targets=$(awk -F, -v rt="$rps_target" -v pt="$p99_target" '
  { key = $3 " -P " $2; rps[$1, key] = $4; p99[$1, key] = $7; if ($2 == 1) p1[key] = 1; keys[key] = 1 }
  END {
    minr = -1; maxq = -1; rmiss = 0; qmiss = 0
    for (k in keys) {
      if (rps["single", k] + 0 > 0 && rps["multi", k] != "") {
        r = rps["multi", k] / rps["single", k]
        if (r < rt) rmiss++
        if (minr < 0 || r < minr) { minr = r; mink = k }
      }
      if ((k in p1) && p99["single", k] + 0 > 0 && p99["multi", k] != "") {
        q = p99["multi", k] / p99["single", k]
        if (q >= pt) qmiss++
        if (q > maxq) { maxq = q; maxk = k }
      }
    }
    if (minr < 0) print "| throughput >= " rt "x of 1 node, every test and depth | n/a |"
    else printf "| throughput >= %sx of 1 node, every test and depth | %s: lowest %.2fx (%s), %d miss(es) |\n", rt, (rmiss ? "MISS" : "PASS"), minr, mink, rmiss
    if (maxq < 0) print "| p99 at -P 1 < " pt "x of 1 node, every test | n/a |"
    else printf "| p99 at -P 1 < %sx of 1 node, every test | %s: highest %.2fx (%s), %d miss(es) |\n", pt, (qmiss ? "MISS" : "PASS"), maxq, maxk, qmiss
  }' "$results")

echo
echo "$table"
echo
echo "| target ($nodes nodes through HAProxy vs 1 node) | result |"
echo "|---|---|"
echo "$targets"
echo
echo "Routing check: $routing"
echo

# ---- bench/results-cluster.md (the full report) and a section at the end of bench/results.md
heading="## Cluster: $nodes nodes through HAProxy vs 1 node vs redis"
date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
# What the binary was built from (make build stamps it with git describe), else the checkout's.
commit=$("$cl_pika_bin" --version 2>/dev/null | awk '{ print $NF }')
[ -n "$commit" ] || commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
mkdir -p "$(dirname "$out_cluster")" "$(dirname "$out")"
{
  echo "# pika-node cluster benchmark"
  echo
  echo "Written by \`make bench-cluster\` (scripts/bench-cluster.sh); rewritten on each run."
  echo
  echo "$heading"
  echo
  echo "- Date: $date"
  echo "- Host: \`$(uname -a)\`"
  echo "- CPU: ${cpu:-unknown}, nproc $(nproc)"
  echo "- pika-node $commit, every node started alike, each cluster with its own etcd"
  echo "  $("$cl_etcd_bin" --version | awk '/^etcd Version/ { print $3 }'): \`$(show "${single_cmd[@]}")\`"
  echo "- Table \`$cl_table\` (id $table_id) in both: \`pikactl table create $cl_table --slots $cl_slots --replicas $cl_replicas\`,"
  echo "  created once all nodes were up, so its slots are led evenly by all of them."
  echo "- \"$nodes nodes\": clients connect to HAProxy $(haproxy -v | awk 'NR == 1 { print $3 }') (\`mode tcp\`, \`balance roundrobin\`, $lb_checks),"
  echo "  which spreads the connections over the nodes' RESP ports. \"1 node\": clients connect to it directly."
  echo "- redis-server $(redis-server --version | awk '{ print $3 }' | sed 's/^v=//'): \`$(show "${redis_cmd[@]}")\`"
  echo "- Load: redis-benchmark, $clients clients, $n requests per test, random keys over $keyspace (\`-r\`),"
  echo "  \`--dbnum $table_id\` everywhere; clients, servers, etcd and HAProxy on the same machine;"
  echo "  FLUSHALL of the table (on every node) before each run. MSET sets 10 keys per request (they span"
  echo "  slots); LPUSH pushes to one key, \`mylist\`, so one node leads all of it."
  echo "- Routing check before the runs ($check_keys keys SET through HAProxy, each GET from every node directly):"
  echo "  $routing."
  echo
  echo "$table"
  echo
  echo "| target ($nodes nodes through HAProxy vs 1 node) | result |"
  echo "|---|---|"
  echo "$targets"
  echo
  echo "Commands (PORT is a port chosen free at the start; the $nodes-node runs go to HAProxy's):"
  echo
  echo '```'
  printf '%s\n' "${bench_cmds[@]}" | awk '!seen[$0]++'
  echo '```'
} >"$out_cluster.tmp"
mv "$out_cluster.tmp" "$out_cluster"
echo "bench-cluster: wrote $out_cluster" >&2

# bench/results.md: scripts/bench.sh rewrites everything above its first "## Capacity" heading and
# keeps the rest, bench-capacity.sh appends. So this section (replaced if present) goes at the end,
# and the figures themselves live in their own file, which neither touches.
link=$(realpath --relative-to="$(dirname "$out")" "$out_cluster" 2>/dev/null || echo "$out_cluster")
section=$(cat <<EOF
$heading

$date, pika-node $commit, $n requests per test, $clients clients. Full table, setup and commands:
[$(basename "$out_cluster")]($link) (written by \`make bench-cluster\`).

| target ($nodes nodes through HAProxy vs 1 node) | result |
|---|---|
$targets

Routing check: $routing.
EOF
)
kept=""
if [ -f "$out" ]; then
  # Drop an earlier "## Cluster:" section (up to the next "## " heading) and trailing blank lines.
  kept=$(awk '/^## Cluster:/ { skip = 1; next } /^## / { skip = 0 } !skip' "$out" |
    awk '{ lines[NR] = $0 } NF { last = NR } END { for (i = 1; i <= last; i++) print lines[i] }')
fi
[ -n "$kept" ] || kept="# pika-node benchmarks"
printf '%s\n\n%s\n' "$kept" "$section" >"$out.tmp"
mv "$out.tmp" "$out"
echo "bench-cluster: updated the \"${heading#\#\# }\" section of $out" >&2
