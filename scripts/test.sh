#!/usr/bin/env bash
# The project's one test entry point (README, .ci/run): on a fresh machine it installs
# and starts what the tests need, then runs formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A persistent target directory keeps rebuilds incremental across clean clones.
if [ -z "${CARGO_TARGET_DIR:-}" ] && is_root; then
  export CARGO_TARGET_DIR=/var/cache/im/target
  mkdir -p "$CARGO_TARGET_DIR"
fi
# Backends are mandatory here: a run that skipped MariaDB or Redis proves nothing.
export IM_TEST_REQUIRE_BACKENDS=1
export IM_TEST_MYSQL_URL="${IM_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
export IM_TEST_REDIS_URL="${IM_TEST_REDIS_URL:-redis://127.0.0.1:6379}"

wait_port() { # name port
  for _ in $(seq 1 60); do port_open "$2" && return 0; sleep 0.5; done
  echo "$1 did not open port $2" >&2; return 1
}

ensure_mariadb() {
  port_open 3306 && return 0
  log "starting MariaDB"
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    is_root || { echo "MariaDB is not running on 127.0.0.1:3306 and cannot be installed without root" >&2; return 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  fi
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_port MariaDB 3306
}

ensure_redis() {
  port_open 6379 && return 0
  log "starting Redis"
  if ! command -v redis-server >/dev/null 2>&1; then
    is_root || { echo "Redis is not running on 127.0.0.1:6379 and cannot be installed without root" >&2; return 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port Redis 6379
}

apt_install() { # packages…
  is_root || { echo "missing $*, and cannot install it without root" >&2; return 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Tools and state kept across runs (a brand-new machine builds them once).
CACHE_DIR="${IM_CACHE_DIR:-/var/cache/im}"
if ! mkdir -p "$CACHE_DIR" 2>/dev/null || [ ! -w "$CACHE_DIR" ]; then
  CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/im"
  mkdir -p "$CACHE_DIR"
fi
mkdir -p "$CACHE_DIR/logs"

ensure_protoc() { # etcd-client generates its gRPC code at build time
  command -v protoc >/dev/null 2>&1 && return 0
  log "installing protoc"
  apt_install protobuf-compiler
}

ensure_etcd() {
  export IM_TEST_ETCD_URL="${IM_TEST_ETCD_URL:-etcd://127.0.0.1:2379}"
  port_open 2379 && return 0
  log "starting etcd"
  command -v etcd >/dev/null 2>&1 || apt_install etcd-server
  rm -rf "$CACHE_DIR/etcd-test"
  nohup etcd --name im-test --data-dir "$CACHE_DIR/etcd-test" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 >"$CACHE_DIR/logs/etcd.log" 2>&1 &
  wait_port etcd 2379
}

# tansu: a Kafka-protocol broker, built once from crates.io (15-25 min on 2 cores) with
# the in-memory storage engine. The cluster suite starts private brokers with it; the
# Kafka adapter's tests use the shared one started here on 9092.
TANSU_VERSION=0.6.0
ensure_tansu() {
  local bin="$CACHE_DIR/tools/bin/tansu"
  if [ -n "${IM_TEST_TANSU:-}" ] && [ -x "$IM_TEST_TANSU" ]; then
    bin="$IM_TEST_TANSU"
  elif command -v tansu >/dev/null 2>&1; then
    bin="$(command -v tansu)"
  elif [ ! -x "$bin" ]; then
    log "building the tansu broker (once; 15-25 min on 2 cores)"
    # A test broker carries little load: trade its speed for a shorter build (opt-level 1,
    # no debug info, many codegen units) on a brand-new machine.
    CARGO_TARGET_DIR="$CACHE_DIR/tansu-target" CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
      CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
      cargo install tansu --version "$TANSU_VERSION" \
      --features dynostore --locked --root "$CACHE_DIR/tools"
    rm -rf "$CACHE_DIR/tansu-target" # 3+ GB of intermediate files, not needed again
  fi
  export IM_TEST_TANSU="$bin"
  export IM_TEST_KAFKA_URL="${IM_TEST_KAFKA_URL:-kafka://127.0.0.1:9092}"
  port_open 9092 && return 0
  log "starting tansu on 127.0.0.1:9092"
  nohup "$bin" broker --listener-url tcp://127.0.0.1:9092 --advertised-listener-url tcp://127.0.0.1:9092 \
    --storage-engine memory://tansu/ >"$CACHE_DIR/logs/tansu.log" 2>&1 &
  wait_port tansu 9092
}

ensure_nextest() {
  command -v cargo-nextest >/dev/null 2>&1 && return 0
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
}

log "backends"
ensure_mariadb
ensure_redis
ensure_protoc
ensure_etcd
ensure_tansu
ensure_nextest

log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests (SQLite, MariaDB, Redis, Kafka protocol, etcd; the cluster suite)"
cargo nextest run --workspace --locked --no-fail-fast
