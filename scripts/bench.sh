#!/usr/bin/env bash
# Throughput and p99 latency of pika-node against redis-server (AOF, fsync every second), with
# redis-benchmark, on this machine, in one run. Writes bench/results.md and prints the table.
#
# Usage: scripts/bench.sh
# Environment:
#   BENCH_N        requests per test (default 200000; use e.g. 2000 for a quick check)
#   BENCH_C        parallel clients (default 50)
#   BENCH_R        key space for -r (default 100000)
#   BENCH_TESTS    redis-benchmark -t list (default set,get,incr,lpush,rpop,sadd,hset,zadd,mset)
#   BENCH_PIPES    pipeline depths (default "1 16")
#   BENCH_TIMEOUT  seconds allowed for one redis-benchmark run (default 1800)
#   PIKA_NODE_BIN  use this binary instead of building ./cmd/pika-node
#   BENCH_OUT      results file (default bench/results.md)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=${BENCH_N:-200000}
clients=${BENCH_C:-50}
keyspace=${BENCH_R:-100000}
tests=${BENCH_TESTS:-set,get,incr,lpush,rpop,sadd,hset,zadd,mset}
pipes=${BENCH_PIPES:-1 16}
bench_timeout=${BENCH_TIMEOUT:-1800}
out=${BENCH_OUT:-$root/bench/results.md}

for tool in redis-server redis-cli redis-benchmark go; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pika-bench.XXXXXX")
prog=bench
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# wait_ping PORT PID NAME: poll PING until PONG, failing if the process dies or 60s pass.
wait_ping() {
  local port=$1 pid=$2 name=$3 deadline=$((SECONDS + 60))
  until [ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ]; do
    kill -0 "$pid" 2>/dev/null || { echo "bench: $name exited during startup; log:" >&2; tail -20 "$tmp/$name.log" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "bench: $name did not answer PING within 60s" >&2; exit 1; }
    sleep 0.05
  done
}

# show ARGS...: a command line for the report, with ports and the temp dir made generic.
show() {
  local s="" a port
  for a in "$@"; do
    [ -n "$a" ] || a='""'
    s+="$a "
  done
  s=${s% }
  s=${s//$tmp/TMP}
  for port in ${pika_port:-} ${redis_port:-}; do
    s=${s//" $port "/" PORT "}
    s=${s//" $port"/" PORT"}
  done
  echo "$s"
}

# ---- build and start both servers
pika_bin=$(pika_binary)

pika_port=$(free_port 10000 20000)
mkdir -p "$tmp/pika"
pika_cmd=("$pika_bin" start --port "$pika_port" --data "$tmp/pika/data" --etcd-listen "127.0.0.1:$(free_port)" --etcd-peer-listen "127.0.0.1:$(free_port)")
"${pika_cmd[@]}" >"$tmp/pika.log" 2>&1 &
pika_pid=$!
pids+=("$pika_pid")

redis_port=$(free_port)
mkdir -p "$tmp/redis"
redis_cmd=(redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp/redis" --save ""
  --appendonly yes --appendfsync everysec --daemonize no)
"${redis_cmd[@]}" >"$tmp/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")

wait_ping "$pika_port" "$pika_pid" pika
wait_ping "$redis_port" "$redis_pid" redis

# ---- run redis-benchmark: server x pipeline depth, same parameters
results=$tmp/results.csv # server,pipeline,test,rps,p50,p95,p99
: >"$results"
bench_cmds=()
for p in $pipes; do
  for server in redis pika; do
    if [ "$server" = redis ]; then port=$redis_port; pid=$redis_pid; else port=$pika_port; pid=$pika_pid; fi
    kill -0 "$pid" 2>/dev/null || { echo "bench: $server is not running; log:" >&2; tail -20 "$tmp/$server.log" >&2; exit 1; }
    redis-cli -h 127.0.0.1 -p "$port" FLUSHALL >/dev/null
    cmd=(redis-benchmark -h 127.0.0.1 -p "$port" -c "$clients" -n "$n" -r "$keyspace" -P "$p" -t "$tests" --csv)
    bench_cmds+=("$(show "${cmd[@]}")")
    echo "bench: $server -P $p" >&2
    if ! timeout --kill-after=10 "$bench_timeout" "${cmd[@]}" >"$tmp/bench-$server-$p.csv" 2>"$tmp/bench-$server-$p.err"; then
      echo "bench: redis-benchmark against $server failed:" >&2
      cat "$tmp/bench-$server-$p.err" >&2
      exit 1
    fi
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    awk -F'","' -v s="$server" -v p="$p" 'NR > 1 && NF >= 8 {
        gsub(/"/, "", $1); gsub(/"/, "", $8)
        printf "%s,%s,%s,%s,%s,%s,%s\n", s, p, $1, $2, $5, $6, $7
      }' "$tmp/bench-$server-$p.csv" >>"$results"
  done
done
[ -s "$results" ] || { echo "bench: no results parsed" >&2; exit 1; }

# ---- table: one row per test and pipeline depth
table=$(awk -F, '
  { key = $3 SUBSEP $2
    if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
    rps[$1, key] = $4; p99[$1, key] = $7 }
  function ratio(a, b) { return (a == "" || b == "" || a + 0 == 0) ? "n/a" : sprintf("%.2f", b / a) }
  END {
    print "| test | -P | redis rps | pika rps | pika/redis rps | redis p99 ms | pika p99 ms | pika/redis p99 |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= nk; i++) {
      split(order[i], kp, SUBSEP)
      k = order[i]
      printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", kp[1], kp[2],
        rps["redis", k], rps["pika", k], ratio(rps["redis", k], rps["pika", k]),
        p99["redis", k], p99["pika", k], ratio(p99["redis", k], p99["pika", k])
    }
  }' "$results")

echo
echo "$table"
echo

# ---- bench/results.md (capacity sections written by bench-capacity.sh are kept)
mkdir -p "$(dirname "$out")"
kept=""
if [ -f "$out" ]; then
  kept=$(awk '/^## Capacity/ { keep = 1 } keep' "$out")
fi
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
{
  echo "# pika-node benchmarks"
  echo
  echo "## Throughput and latency: pika-node vs redis-server"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "- Host: \`$(uname -a)\`"
  echo "- CPU: ${cpu:-unknown}, nproc $(nproc)"
  echo "- pika-node $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown): \`pika-node start --port PORT --data DIR\` (defaults)"
  echo "- redis-server $(redis-server --version | awk '{ print $3 }' | sed 's/^v=//'): \`$(show "${redis_cmd[@]}")\`"
  echo "- Load: redis-benchmark, $clients clients, $n requests per test, random keys over $keyspace (\`-r\`),"
  echo "  client and servers on the same machine; FLUSHALL before each run. MSET sets 10 keys per request."
  echo
  echo "$table"
  echo
  echo "Commands (PORT is the server's port):"
  echo
  echo '```'
  printf '%s\n' "${bench_cmds[@]}" | awk '!seen[$0]++'
  echo '```'
  if [ -n "$kept" ]; then
    echo
    echo "$kept"
  fi
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "bench: wrote $out" >&2
