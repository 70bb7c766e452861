# Helpers shared by the benchmark scripts; source it, with $root (the
# repository) and $tmp (a scratch directory) set and $prog naming the caller.

# port_free P: nothing listens on 127.0.0.1:P.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port [OFFSET...]: a random port P with P and P+OFFSET free.
free_port() {
  local p off ok
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 25000))
    ok=1
    for off in 0 "$@"; do
      port_free $((p + off)) || { ok=0; break; }
    done
    if [ "$ok" = 1 ]; then echo "$p"; return 0; fi
  done
  echo "$prog: no free port" >&2
  return 1
}

# pika_binary: the pika-node to run: $PIKA_NODE_BIN, or a fresh build in $tmp.
pika_binary() {
  if [ -n "${PIKA_NODE_BIN:-}" ]; then
    echo "$PIKA_NODE_BIN"
    return
  fi
  echo "$prog: building pika-node" >&2
  (cd "$root" && GOTOOLCHAIN=local go build -o "$tmp/pika-node" ./cmd/pika-node) >&2
  echo "$tmp/pika-node"
}
