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

ensure_nextest() {
  command -v cargo-nextest >/dev/null 2>&1 && return 0
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
}

log "backends"
ensure_mariadb
ensure_redis
ensure_nextest

log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests (SQLite, MariaDB, Redis)"
cargo nextest run --workspace --locked --no-fail-fast
