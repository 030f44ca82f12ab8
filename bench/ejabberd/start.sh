#!/usr/bin/env bash
# Starts Debian's ejabberd (apt package `ejabberd`, 23.01 on Debian 12) for the IM
# comparison, as its own node with its own config, spool and log directories, on
# 127.0.0.1 only, with accounts and the message archive in MariaDB.
#
#   bench/ejabberd/start.sh            # prints EJABBERD_PID=<beam.smp pid> at the end
#
# Environment (defaults in brackets):
#   EJ_DIR     working directory: config, spool, logs, pid file [/var/cache/im/ejabberd]
#   EJ_PORT    c2s port on 127.0.0.1 [5222]
#   EJ_DOMAIN  XMPP domain [localhost]
#   EJ_DB      MariaDB database, dropped and re-created [bench_ejabberd]
#   EJ_USERS   accounts PREFIX0..PREFIX(N-1) to create [2000]
#   EJ_PREFIX, EJ_PASSWORD   account names and their password [bench, bench]
#   EJ_CPU     CPU list the node is pinned to with taskset; empty: not pinned [1]
#   MYSQL_HOST, MYSQL_PORT   MariaDB (user root, no password) [127.0.0.1, 3306]
#   EJ_DB_USER, EJ_DB_PASSWORD   the MariaDB account ejabberd uses, created here with
#              rights on EJ_DB only [bench_ejabberd, bench]: ejabberd's MySQL driver
#              cannot log in without a password, so it cannot be root here
#
# Stop it with bench/ejabberd/stop.sh (same environment).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
EJ_DIR=${EJ_DIR:-/var/cache/im/ejabberd}
EJ_PORT=${EJ_PORT:-5222}
EJ_DOMAIN=${EJ_DOMAIN:-localhost}
EJ_DB=${EJ_DB:-bench_ejabberd}
EJ_USERS=${EJ_USERS:-2000}
EJ_PREFIX=${EJ_PREFIX:-bench}
EJ_PASSWORD=${EJ_PASSWORD:-bench}
EJ_CPU=${EJ_CPU-1}
EJ_DB_USER=${EJ_DB_USER:-bench_ejabberd}
EJ_DB_PASSWORD=${EJ_DB_PASSWORD:-bench}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
mysql=(mysql -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u root --batch --skip-column-names)

for name in "$EJ_DB" "$EJ_PREFIX" "$EJ_PASSWORD" "$EJ_DOMAIN" "$EJ_DB_USER" "$EJ_DB_PASSWORD"; do
    [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "start.sh: unsafe value: $name" >&2; exit 2; }
done
[[ $EJ_USERS =~ ^[0-9]+$ && $EJ_USERS -gt 0 ]] || { echo "start.sh: EJ_USERS must be a positive number" >&2; exit 2; }

if ! command -v ejabberdctl >/dev/null || ! compgen -G "/usr/lib/erlang/lib/p1_mysql-*" >/dev/null; then
    # erlang-p1-mysql (the MySQL driver) is only "Suggested" by the ejabberd package
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ejabberd erlang-p1-mysql
fi
schema=/usr/share/ejabberd/sql/mysql.sql
[[ -f $schema ]] || { echo "start.sh: no $schema (is ejabberd installed?)" >&2; exit 1; }

"$here/stop.sh" >/dev/null 2>&1 || true

# working directories, owned by the ejabberd user ejabberdctl runs the node as
mkdir -p "$EJ_DIR/etc" "$EJ_DIR/spool" "$EJ_DIR/log"
rm -rf "${EJ_DIR:?}/spool/"* "${EJ_DIR:?}/log/"*
sed -e "s/@PORT@/$EJ_PORT/g" -e "s/@DB@/$EJ_DB/g" -e "s/@DOMAIN@/$EJ_DOMAIN/g" \
    -e "s/@DB_USER@/$EJ_DB_USER/g" -e "s/@DB_PASSWORD@/$EJ_DB_PASSWORD/g" \
    "$here/ejabberd.yml.in" > "$EJ_DIR/etc/ejabberd.yml"
cp /etc/ejabberd/inetrc "$EJ_DIR/etc/inetrc"
# Our own ejabberdctl.cfg: Debian's (/etc/default/ejabberd) points at /etc/ejabberd.
cat > "$EJ_DIR/etc/ejabberdctl.cfg" <<CFG
ERLANG_NODE=ejabberd-bench@localhost
INET_DIST_INTERFACE=127.0.0.1
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
EJABBERD_PID_PATH=$EJ_DIR/ejabberd.pid
EJABBERD_BYPASS_WARNINGS=true
CFG
chown -R ejabberd:ejabberd "$EJ_DIR"
chmod 700 "$EJ_DIR/etc"

# database: ejabberd's MySQL schema (the one for new_sql_schema: false), and accounts
"${mysql[@]}" -e "DROP DATABASE IF EXISTS \`$EJ_DB\`; CREATE DATABASE \`$EJ_DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
"${mysql[@]}" -e "CREATE USER IF NOT EXISTS '$EJ_DB_USER'@'127.0.0.1' IDENTIFIED BY '$EJ_DB_PASSWORD'; GRANT ALL PRIVILEGES ON \`$EJ_DB\`.* TO '$EJ_DB_USER'@'127.0.0.1'"
"${mysql[@]}" "$EJ_DB" < "$schema"
# MariaDB's sequence engine makes the N rows in one statement.
"${mysql[@]}" "$EJ_DB" -e "INSERT INTO users (username, password) SELECT CONCAT('$EJ_PREFIX', seq), '$EJ_PASSWORD' FROM seq_0_to_$((EJ_USERS - 1))"
echo "start.sh: $("${mysql[@]}" "$EJ_DB" -e 'SELECT COUNT(*) FROM users') accounts in $EJ_DB" >&2

# Run as root, ejabberdctl switches to the ejabberd user through su, whose PAM session
# resets the open-file limit to 1024 (the node then fails near 1,000 connections):
# switch without PAM instead, so the node keeps this shell's limit, raised here.
ulimit -n "$(ulimit -Hn)"
ctl=(setpriv --reuid=ejabberd --regid=ejabberd --init-groups env HOME=/var/lib/ejabberd
     ejabberdctl --config-dir "$EJ_DIR/etc" --config "$EJ_DIR/etc/ejabberd.yml"
     --ctl-config "$EJ_DIR/etc/ejabberdctl.cfg" --logs "$EJ_DIR/log" --spool "$EJ_DIR/spool")
pin=()
[[ -n $EJ_CPU ]] && pin=(taskset -c "$EJ_CPU")
# the detached node inherits the CPU affinity and the open-file limit of this shell
(cd "$EJ_DIR/spool" && "${pin[@]}" "${ctl[@]}" start)
if ! "${ctl[@]}" started; then
    echo "start.sh: ejabberd did not start; its log:" >&2
    tail -n 50 "$EJ_DIR/log/"*.log >&2 || true
    exit 1
fi
for _ in $(seq 1 50); do
    [[ -s $EJ_DIR/ejabberd.pid ]] && break
    sleep 0.1
done
pid=$(cat "$EJ_DIR/ejabberd.pid")
echo "start.sh: ejabberd node pid $pid, open-file limit $(awk '/Max open files/ {print $4}' "/proc/$pid/limits")" >&2
# wait for the c2s listener
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$EJ_PORT") 2>/dev/null && break
    sleep 0.1
done
echo "EJABBERD_PID=$pid"
