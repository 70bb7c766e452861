#!/usr/bin/env bash
# A local pika-node cluster of real processes on loopback: Debian's etcd, N pika-nodes joined
# to it, a table spread over all of them, and HAProxy (TCP, round-robin) in front of their RESP
# ports standing in for LVS. Every port is free when chosen, every directory is under one
# mktemp dir, and everything started is stopped on exit.
#
# By hand:
#   scripts/cluster.sh up [N]       start an N-node cluster (default 3), print its addresses,
#                                   stay in the foreground until Ctrl-C, then stop everything
#   (build first: make build; or set PIKA_NODE_BIN / PIKACTL_BIN)
#
# From a script (scripts/bench-cluster.sh does this):
#   root=REPO; prog=NAME; tmp=$(mktemp -d ...)
#   . "$root/scripts/cluster.sh"       # defines the cl_* functions below; also sources lib.sh
#   trap cl_cleanup EXIT; trap 'exit 130' INT TERM HUP
#   cl_cluster c3 3                    # etcd + 3 nodes + the table; sets CL_PORTS (RESP ports),
#                                      # CL_HTTP (first node's HTTP address), CL_ETCD, CL_TABLE_ID
#   cl_haproxy lb "${CL_PORTS[@]}"     # sets CL_LB_PORT
#   cl_spawn NAME CMD...               # any other process, stopped by cl_cleanup; sets CL_PID
#   cl_check                           # exits with the log of any started process that died
#
# Environment:
#   PIKA_NODE_BIN    pika-node binary (default bin/pika-node, built by make build)
#   PIKACTL_BIN      pikactl binary (default bin/pikactl)
#   ETCD_BIN         etcd binary (default /usr/bin/etcd, Debian's etcd-server)
#   CLUSTER_NAME     the pika cluster name in etcd (--cluster, default bench)
#   CLUSTER_TABLE    table created over all nodes (default bench)
#   CLUSTER_SLOTS    its slot count (default 1024)
#   CLUSTER_REPLICAS its replica count (default 1)
#   CLUSTER_MODE     its mode, async or raft (default async)
#   CLUSTER_NODE_ARGS extra pika-node flags, e.g. "--block-cache-mb 64 --log-level warn"
#   CLUSTER_TIMEOUT  seconds to wait for etcd, a node or HAProxy to serve (default 60)
#   CLUSTER_HAPROXY_CHECK  1: HAProxy TCP-checks the nodes every second and skips dead ones
#                    (default 0: no checks, a dead node's share of new connections fails)
#   KEEP_TMP         1: keep the temp dir (data and logs) on exit and say where it is

if [ -z "${root:-}" ]; then
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fi
prog=${prog:-cluster}
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

cl_pika_bin=${PIKA_NODE_BIN:-$root/bin/pika-node}
cl_pikactl_bin=${PIKACTL_BIN:-$root/bin/pikactl}
cl_etcd_bin=${ETCD_BIN:-/usr/bin/etcd}
cl_name=${CLUSTER_NAME:-bench}
cl_table=${CLUSTER_TABLE:-bench}
cl_slots=${CLUSTER_SLOTS:-1024}
cl_replicas=${CLUSTER_REPLICAS:-1}
cl_mode=${CLUSTER_MODE:-async}
cl_timeout=${CLUSTER_TIMEOUT:-60}
read -r -a cl_node_args <<<"${CLUSTER_NODE_ARGS:-}"

# Every process started, in start order: pid, name, log file, kind (etcd or other).
cl_pids=()
cl_names=()
cl_logs=()
cl_kinds=()
# Ports handed out by cl_port, so two picks made before either server binds never collide.
cl_reserved=" "

# cl_die MSG...: print and exit 1 (the EXIT trap stops everything).
cl_die() {
  echo "$prog: $*" >&2
  exit 1
}

# cl_require TOOL...: each is on PATH (or an executable path).
cl_require() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || cl_die "$t not found (make build; scripts/install-deps.sh installs etcd-server, haproxy, redis-tools)"
  done
}

# cl_port [OFFSET...]: echo a free port P (P+OFFSET free too) not handed out before.
# Call it as p=$(cl_port ...); cl_reserve "$p" ... to record it (a $(...) cannot).
cl_port() {
  local p off ok
  for _ in $(seq 100); do
    p=$(free_port "$@") || return 1
    ok=1
    for off in 0 "$@"; do
      case "$cl_reserved" in *" $((p + off)) "*) ok=0 ;; esac
    done
    if [ "$ok" = 1 ]; then echo "$p"; return 0; fi
  done
  echo "$prog: no free port" >&2
  return 1
}

# cl_take [OFFSET...]: pick a port like cl_port and reserve it with its offsets; sets CL_P.
cl_take() {
  local off
  CL_P=$(cl_port "$@") || cl_die "no free port"
  for off in 0 "$@"; do cl_reserved+="$((CL_P + off)) "; done
}

# cl_spawn NAME CMD...: start CMD in the background with its output in $tmp/NAME.log; sets CL_PID.
# Not in a $(...): the process must be this shell's child for cl_cleanup to wait for it.
cl_spawn() {
  local name=$1 kind=other
  shift
  [ "$(basename "$1")" = "$(basename "$cl_etcd_bin")" ] && kind=etcd
  if [[ $- != *m* ]] && command -v setsid >/dev/null; then
    # In a session of its own: Ctrl-C in the terminal reaches only this shell, whose cleanup
    # stops the nodes before their etcd. (Without job control the child is no group leader,
    # so setsid execs in place and $! is the process itself.)
    setsid "$@" >"$tmp/$name.log" 2>&1 &
  else
    "$@" >"$tmp/$name.log" 2>&1 &
  fi
  CL_PID=$!
  cl_pids+=("$CL_PID")
  cl_names+=("$name")
  cl_logs+=("$tmp/$name.log")
  cl_kinds+=("$kind")
}

# cl_log_tail I [LINES]: the end of process I's log, to stderr.
cl_log_tail() {
  echo "---- last ${2:-30} lines of ${cl_logs[$1]}" >&2
  tail -n "${2:-30}" "${cl_logs[$1]}" >&2 || true
}

# cl_alive_or_die PID: exit with its log if the process PID (started by cl_spawn) has exited.
cl_alive_or_die() {
  local i rc
  kill -0 "$1" 2>/dev/null && return 0
  for i in "${!cl_pids[@]}"; do
    if [ "${cl_pids[$i]}" = "$1" ]; then
      wait "$1" 2>/dev/null && rc=0 || rc=$?
      echo "$prog: ${cl_names[$i]} (pid $1) exited with status $rc" >&2
      cl_log_tail "$i"
      break
    fi
  done
  exit 1
}

# cl_check: every process started is still running, else exit with the dead one's log.
cl_check() {
  local pid
  for pid in "${cl_pids[@]}"; do cl_alive_or_die "$pid"; done
}

# cl_wait WHAT PID CMD...: run CMD every 0.1 s until it succeeds; exit if any started process
# dies, or after $cl_timeout seconds with the log of PID (the process waited for).
cl_wait() {
  local what=$1 pid=$2 deadline=$((SECONDS + cl_timeout)) i
  shift 2
  until "$@" >/dev/null 2>&1; do
    cl_check
    if [ $SECONDS -ge $deadline ]; then
      echo "$prog: $what: not ready after ${cl_timeout}s" >&2
      for i in "${!cl_pids[@]}"; do
        [ "${cl_pids[$i]}" = "$pid" ] && cl_log_tail "$i"
      done
      cl_die "giving up (KEEP_TMP=1 keeps every log)"
    fi
    sleep 0.1
  done
}

# cl_etcd NAME: start Debian's etcd on free ports; sets CL_ETCD (host:port).
cl_etcd() {
  local name=$1 c p
  cl_take; c=$CL_P
  cl_take; p=$CL_P
  mkdir -p "$tmp/$name"
  cl_spawn "$name" "$cl_etcd_bin" --name e1 --data-dir "$tmp/$name/data" \
    --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
    --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
    --initial-cluster "e1=http://127.0.0.1:$p" --log-level warn
  CL_ETCD=127.0.0.1:$c
  cl_wait "$name" "$CL_PID" cl_etcd_healthy "$c"
}
cl_etcd_healthy() { curl -sf --max-time 2 "http://127.0.0.1:$1/health" | grep -q '"health":"true"'; }

# cl_node NAME ETCD: start a pika-node (RESP, peer = +10000, HTTP = +20000 on free ports)
# joined to ETCD; sets CL_PID and CL_PORT. Does not wait.
cl_node() {
  local name=$1 etcd=$2
  cl_take 10000 20000
  CL_PORT=$CL_P
  cl_spawn "$name" "$cl_pika_bin" start --port "$CL_PORT" --bind 127.0.0.1 --data "$tmp/$name" \
    --etcd "$etcd" --cluster "$cl_name" "${cl_node_args[@]}"
}
cl_node_healthy() { curl -s --max-time 2 "http://127.0.0.1:$1/healthz" | grep -q '"status": *"ok"'; }

# cl_pikactl HTTPADDR ARGS...: pikactl against a node's HTTP address, with the admin token
# the cluster's first manager wrote (CL_TOKEN_FILE, once cl_cluster found it).
cl_pikactl() {
  local http=$1
  shift
  "$cl_pikactl_bin" --server "$http" --timeout 30s ${CL_TOKEN_FILE:+--token-file "$CL_TOKEN_FILE"} "$@"
}

# cl_alive_nodes HTTPADDR: how many nodes the cluster sees alive.
cl_alive_nodes() { cl_pikactl "$1" --json node list 2>/dev/null | grep -c '"alive": *true' || true; }
cl_nodes_alive() { [ "$(cl_alive_nodes "$1")" = "$2" ]; }
cl_select_ok() { [ "$(redis-cli -h 127.0.0.1 -p "$1" SELECT "$2" 2>/dev/null)" = OK ]; }

# cl_cluster NAME N: etcd, N nodes, all healthy and registered, and the table $cl_table over
# them (ids of the nodes leading its slots checked: all N). Sets CL_ETCD, CL_PORTS, CL_NODE_PIDS,
# CL_HTTP and CL_TABLE_ID; logs under $tmp/NAME-*.log.
cl_cluster() {
  local name=$1 n=$2 i out leaders
  cl_require "$cl_etcd_bin" "$cl_pika_bin" "$cl_pikactl_bin" curl redis-cli
  echo "$prog: $name: etcd and $n pika-node(s)" >&2
  cl_etcd "$name-etcd"
  CL_PORTS=()
  CL_NODE_PIDS=()
  for i in $(seq "$n"); do
    cl_node "$name-node$i" "$CL_ETCD"
    CL_PORTS+=("$CL_PORT")
    CL_NODE_PIDS+=("$CL_PID")
    # The first node bootstraps db0 and wins the manager role; start the others once it serves.
    # It wrote the cluster's admin token to its data directory: pikactl's writes need it
    # (exported as PIKA_ADMIN_TOKEN for the tools that call the API, movebench).
    if [ "$i" = 1 ]; then
      cl_wait "$name-node1 /healthz" "$CL_PID" cl_node_healthy $((CL_PORT + 20000))
      CL_TOKEN_FILE=$tmp/$name-node1/admin.token
      cl_wait "$name-node1 admin token" "$CL_PID" test -s "$CL_TOKEN_FILE"
      PIKA_ADMIN_TOKEN=$(head -n 1 "$CL_TOKEN_FILE")
      export PIKA_ADMIN_TOKEN
    fi
  done
  for i in "${!CL_PORTS[@]}"; do
    cl_wait "$name-node$((i + 1)) /healthz" "${CL_NODE_PIDS[$i]}" cl_node_healthy $((CL_PORTS[i] + 20000))
  done
  CL_HTTP=127.0.0.1:$((CL_PORTS[0] + 20000))
  cl_wait "$name: $n nodes alive in 'pikactl node list'" "${CL_NODE_PIDS[0]}" cl_nodes_alive "$CL_HTTP" "$n"

  if ! out=$(cl_pikactl "$CL_HTTP" table create "$cl_table" --slots "$cl_slots" --replicas "$cl_replicas" --mode "$cl_mode" 2>&1); then
    cl_die "$name: pikactl table create $cl_table failed: $out"
  fi
  out=$(cl_pikactl "$CL_HTTP" --json table show "$cl_table" 2>&1) || cl_die "$name: pikactl table show $cl_table failed: $out"
  CL_TABLE_ID=$(echo "$out" | awk -F'[:,]' '/^ *"id":/ { gsub(/ /, "", $2); print $2; exit }')
  [ -n "$CL_TABLE_ID" ] || cl_die "$name: no id in 'pikactl --json table show $cl_table': $out"
  out=$(cl_pikactl "$CL_HTTP" --json slot show "$cl_table" 2>&1) || cl_die "$name: pikactl slot show $cl_table failed: $out"
  leaders=$(echo "$out" | awk -F'"' '/^ *"leader":/ { print $4 }' | sort -u | grep -c . || true)
  [ "$leaders" = "$n" ] || cl_die "$name: table $cl_table's slots are led by $leaders node(s), want $n"
  # Every node must know the table before clients SELECT it there.
  for i in "${!CL_PORTS[@]}"; do
    cl_wait "$name-node$((i + 1)): SELECT $CL_TABLE_ID" "${CL_NODE_PIDS[$i]}" cl_select_ok "${CL_PORTS[$i]}" "$CL_TABLE_ID"
  done
  echo "$prog: $name: table $cl_table (id $CL_TABLE_ID, $cl_slots slots) led by all $n node(s)" >&2
}

# cl_haproxy NAME PORT...: HAProxy in TCP mode, round-robin over 127.0.0.1:PORT...; waits until
# PING through it answers; sets CL_LB_PORT and CL_PID.
cl_haproxy() {
  local name=$1 cfg i=0 port check="" maxconn
  shift
  cl_require haproxy redis-cli
  [ "${CLUSTER_HAPROXY_CHECK:-0}" = 1 ] && check=" check inter 1s"
  cl_take
  CL_LB_PORT=$CL_P
  cfg=$tmp/$name.cfg
  # Two descriptors a connection; HAProxy refuses to start if it cannot raise its limit that far.
  maxconn=$(ulimit -Hn)
  if [ "$maxconn" = unlimited ] || [ "$maxconn" -gt 8300 ]; then maxconn=4096; else maxconn=$(((maxconn - 100) / 2)); fi
  {
    echo "# Written by scripts/cluster.sh: a TCP round-robin balancer standing in for LVS."
    echo "global"
    echo "  maxconn $maxconn"
    echo "defaults"
    echo "  mode tcp"
    echo "  timeout connect 1s"
    echo "  timeout client 1h"
    echo "  timeout server 1h"
    echo "  maxconn $maxconn"
    echo "frontend resp"
    echo "  bind 127.0.0.1:$CL_LB_PORT"
    echo "  default_backend nodes"
    echo "backend nodes"
    echo "  balance roundrobin"
    for port in "$@"; do
      i=$((i + 1))
      echo "  server node$i 127.0.0.1:$port$check"
    done
  } >"$cfg"
  haproxy -c -q -f "$cfg" >"$tmp/$name.check" 2>&1 || { cat "$tmp/$name.check" >&2; cl_die "$name: haproxy rejects $cfg"; }
  cl_spawn "$name" haproxy -f "$cfg" -db
  cl_wait "$name: PING through HAProxy" "$CL_PID" cl_ping "$CL_LB_PORT"
}
cl_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = PONG ]; }

# cl_stop KIND: SIGTERM the started processes of KIND (etcd or other), wait up to 10 s,
# then SIGKILL what is left, and reap them.
cl_stop() {
  local want=$1 i pid left deadline=$((SECONDS + 10))
  for i in "${!cl_pids[@]}"; do
    [ "${cl_kinds[$i]}" = "$want" ] || continue
    kill -TERM "${cl_pids[$i]}" 2>/dev/null || true
  done
  while :; do
    left=0
    for i in "${!cl_pids[@]}"; do
      [ "${cl_kinds[$i]}" = "$want" ] || continue
      kill -0 "${cl_pids[$i]}" 2>/dev/null && left=1
    done
    [ "$left" = 1 ] && [ $SECONDS -lt $deadline ] || break
    sleep 0.1
  done
  for i in "${!cl_pids[@]}"; do
    [ "${cl_kinds[$i]}" = "$want" ] || continue
    pid=${cl_pids[$i]}
    if kill -0 "$pid" 2>/dev/null; then
      echo "$prog: ${cl_names[$i]} (pid $pid) still running 10s after SIGTERM; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
}

# cl_cleanup: stop everything started (nodes, HAProxy and others first, etcd last, so nodes
# can revoke their leases), then remove $tmp unless KEEP_TMP=1. For the EXIT trap.
cl_cleanup() {
  local rc=$?
  trap - INT TERM HUP
  cl_stop other
  cl_stop etcd
  if [ "${KEEP_TMP:-0}" = 1 ]; then
    echo "$prog: kept $tmp (data and logs)" >&2
  else
    rm -rf "$tmp"
  fi
  return $rc
}

# ---- scripts/cluster.sh up [N]
cl_main() {
  set -euo pipefail
  case "${1:-}" in
    up) ;;
    *) echo "usage: scripts/cluster.sh up [N]   (see the top of the script)" >&2; exit 2 ;;
  esac
  local n=${2:-3}
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "cluster: N must be a positive number, not '$n'" >&2; exit 2; }
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/pika-cluster.XXXXXX")
  trap cl_cleanup EXIT
  trap 'exit 130' INT TERM HUP
  cl_cluster "c$n" "$n"
  cl_haproxy haproxy "${CL_PORTS[@]}"
  local i
  echo
  echo "cluster '$cl_name' up: $n node(s), table $cl_table = id $CL_TABLE_ID (redis-cli -n $CL_TABLE_ID)"
  echo "  etcd:     $CL_ETCD            pikactl --etcd $CL_ETCD --cluster $cl_name status"
  for i in "${!CL_PORTS[@]}"; do
    echo "  node$((i + 1)):    RESP 127.0.0.1:${CL_PORTS[$i]}  peer :$((CL_PORTS[i] + 10000))  HTTP 127.0.0.1:$((CL_PORTS[i] + 20000))  pid ${CL_NODE_PIDS[$i]}"
  done
  echo "  HAProxy:  127.0.0.1:$CL_LB_PORT      redis-cli -p $CL_LB_PORT -n $CL_TABLE_ID"
  echo "  pikactl:  $cl_pikactl_bin --server $CL_HTTP --token-file $CL_TOKEN_FILE status"
  echo "  logs and data: $tmp"
  echo "Ctrl-C stops everything."
  while :; do
    cl_check
    sleep 1
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  cl_main "$@"
fi
