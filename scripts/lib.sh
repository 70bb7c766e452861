# Helpers shared by the benchmark scripts; source it, with $root (the
# repository) and $tmp (a scratch directory) set and $prog naming the caller.

# port_free P: nothing listens on 127.0.0.1:P.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port [OFFSET...]: a random port P with P and P+OFFSET free, all below
# Linux's ephemeral range (32768-) so that no client connection takes one
# of them before the server binds it.
free_port() {
  local p off ok max=0
  for off in "$@"; do [ "$off" -gt "$max" ] && max=$off; done
  for _ in $(seq 500); do
    p=$((10000 + RANDOM % (32767 - max - 10000)))
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
