#!/usr/bin/env bash
# Stops the ejabberd node started by bench/ejabberd/start.sh (same environment).
# With EJ_DROP_DB=1 it also drops its MariaDB database and database user.
set -uo pipefail

EJ_DIR=${EJ_DIR:-/var/cache/im/ejabberd}
EJ_DB=${EJ_DB:-bench_ejabberd}
EJ_DB_USER=${EJ_DB_USER:-bench_ejabberd}
pidfile=$EJ_DIR/ejabberd.pid
ctl=(setpriv --reuid=ejabberd --regid=ejabberd --init-groups env HOME=/var/lib/ejabberd
     ejabberdctl --config-dir "$EJ_DIR/etc" --config "$EJ_DIR/etc/ejabberd.yml"
     --ctl-config "$EJ_DIR/etc/ejabberdctl.cfg" --logs "$EJ_DIR/log" --spool "$EJ_DIR/spool")

if [[ -s $pidfile ]]; then
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        (cd "$EJ_DIR/spool" && timeout 30 "${ctl[@]}" stop) >/dev/null 2>&1 || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "stop.sh: ejabberd ($pid) did not stop; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
fi
if [[ ${EJ_DROP_DB:-0} == 1 ]]; then
    mysql -h "${MYSQL_HOST:-127.0.0.1}" -P "${MYSQL_PORT:-3306}" -u root \
        -e "DROP DATABASE IF EXISTS \`$EJ_DB\`; DROP USER IF EXISTS '$EJ_DB_USER'@'127.0.0.1'"
fi
