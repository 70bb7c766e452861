#!/usr/bin/env bash
# Installs the Debian packages pika-node needs to build, run and test.
# Idempotent: packages already present are not reinstalled, apt-get update runs only when needed.
# Usage: scripts/install-deps.sh            (build + test dependencies)
set -euo pipefail

pkgs=(
  # RocksDB and the compression libraries grocksdb links against.
  librocksdb-dev libsnappy-dev zlib1g-dev libbz2-dev liblz4-dev libzstd-dev
  # cgo toolchain.
  gcc g++ make pkg-config
  # The oracle for the differential suite and the load generator for benchmarks.
  redis-server redis-tools
  # Later issues: a real external etcd and a TCP load balancer for multi-node tests.
  etcd-server haproxy
  # A second language's client library, in its default configuration (redis-py's pipelines
  # are MULTI ... EXEC blocks), for the client tests; run with Debian's /usr/bin/python3.
  python3-redis
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged services on install; our tests start their own instances.
for svc in redis-server etcd haproxy; do
  if command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
  if command -v service >/dev/null 2>&1; then $sudo service "$svc" stop >/dev/null 2>&1 || true; fi
done
