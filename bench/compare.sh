#!/usr/bin/env bash
# IM side by side with ejabberd, and the raw relay as the ceiling: the same load
# generator runs M1 (idle connections) and M3 (1:1 latency at fixed rates) against
#   - IM       `im serve` (all-in-one) on MariaDB, rate limits off;
#   - ejabberd Debian's package, archive (mod_mam) and accounts in MariaDB
#              (bench/ejabberd/start.sh), spoken to over XMPP;
#   - relay    `im-bench relay`: WebSocket forwarding, no auth, no storage;
# each server pinned to one CPU and the generator to another, a fresh server per
# scenario, and prints the ratios IM / ejabberd (memory per connection, end-to-end p99
# per rate, server CPU per 1,000 messages) with the relay's numbers beside them.
#
#   cargo build --release -p im -p im-bench
#   bench/compare.sh                       # everything, reports in $OUT
#   bench/compare.sh summarize DIR         # the table again, from DIR's reports
#
# Environment (defaults in brackets):
#   BIN_DIR        where im and im-bench are [$CARGO_TARGET_DIR/release, else target/release]
#   OUT            report directory [/var/cache/im/compare/<date-time>]
#   SERVICES       which servers to run, in order ["im ejabberd relay"]
#   SERVER_CPU, BENCH_CPU   taskset CPUs of the server and of the generator [1, 0]
#   M1_USERS, M1_DURATION, M1_HEARTBEAT        [2000, 20s, 10s]
#   M3_USERS, M3_RATES, M3_DURATION, M3_DRAIN  [200, 200,500,1000, 10s, 20s]
#   IM_HTTP, IM_ADMIN  IM's listeners [127.0.0.1:28080, 127.0.0.1:28081]
#   IM_DB_PREFIX   IM's databases are <prefix>_<service>, dropped after each run [bench_cmp]
#   EJ_PORT        ejabberd's c2s port [15222]; see bench/ejabberd/start.sh for the rest
#   RELAY_ADDR     [127.0.0.1:29100]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

summarize() {
    python3 - "$1" <<'PY'
import json, os, sys

out = sys.argv[1]
services = [("im", "IM"), ("ejabberd", "ejabberd"), ("relay", "relay")]

def load(service, scenario):
    path = os.path.join(out, f"{service}-{scenario}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)

def server(step, key):
    usage = (step or {}).get("server") or {}
    return usage.get(key)

def database(step, key):
    usage = (step or {}).get("database") or {}
    return usage.get(key)

def server_and_db_per_1000(step):
    if not step or not step.get("acked"):
        return None
    cpu = server(step, "cpu_seconds")
    db = database(step, "cpu_seconds")
    if cpu is None or db is None:
        return None
    return (cpu + db) * 1000.0 / step["acked"]

def latency(step, name, key="p99_ms"):
    return ((step or {}).get("latency") or {}).get(name, {}).get(key)

rows = []  # (label, {service: value}, unit format)
m1 = {s: load(s, "m1") for s, _ in services}
m1_step = {s: (r["steps"][0] if r else None) for s, r in m1.items()}
rows.append(("M1 connections held", {s: (st or {}).get("connections") for s, st in m1_step.items()}, "{:.0f}"))
rows.append(("M1 memory per connection KiB", {s: (st or {}).get("memory_per_connection_kib") for s, st in m1_step.items()}, "{:.1f}"))
rows.append(("M1 idle server CPU %", {s: server(st, "cpu_percent") for s, st in m1_step.items()}, "{:.2f}"))
rows.append(("M1 ping p99 ms", {s: latency(st, "ping") for s, st in m1_step.items()}, "{:.2f}"))
rows.append(("M1 handshake p99 ms", {s: latency(st, "handshake") for s, st in m1_step.items()}, "{:.2f}"))

m3 = {s: load(s, "m3") for s, _ in services}
labels = []
for report in m3.values():
    for step in (report or {}).get("steps", []):
        if step["label"] not in labels:
            labels.append(step["label"])
def m3_step(service, label):
    for step in (m3[service] or {}).get("steps", []):
        if step["label"] == label:
            return step
    return None
for label in labels:
    steps = {s: m3_step(s, label) for s, _ in services}
    rows.append((f"M3 {label} end-to-end p50 ms", {s: latency(st, "end_to_end", "p50_ms") for s, st in steps.items()}, "{:.2f}"))
    rows.append((f"M3 {label} end-to-end p99 ms", {s: latency(st, "end_to_end") for s, st in steps.items()}, "{:.2f}"))
    rows.append((f"M3 {label} ack p99 ms", {s: latency(st, "ack") for s, st in steps.items()}, "{:.2f}"))
    rows.append((f"M3 {label} throughput /s", {s: (st or {}).get("throughput_per_s") for s, st in steps.items()}, "{:.1f}"))
    rows.append((f"M3 {label} server CPU s /1000 msg", {s: server(st, "cpu_seconds_per_1000_messages") for s, st in steps.items()}, "{:.3f}"))
    rows.append((f"M3 {label} server+MariaDB CPU s /1000 msg", {s: server_and_db_per_1000(st) for s, st in steps.items()}, "{:.3f}"))
    rows.append((f"M3 {label} lost/unanswered/dup/reord", {s: (None if st is None else "{}/{}/{}/{}".format(st["lost"], st["unanswered"], st["duplicates"], st["reordered"])) for s, st in steps.items()}, "{}"))

def cell(value, fmt):
    if value is None:
        return "-"
    return fmt.format(value) if not isinstance(value, str) else value

def ratio(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
        return f"{a / b:.2f}"
    return "-"

header = ["", "IM", "ejabberd", "relay", "IM/ejabberd", "IM/relay"]
table = [header]
for label, values, fmt in rows:
    table.append([label] + [cell(values.get(s), fmt) for s, _ in services]
                 + [ratio(values.get("im"), values.get("ejabberd")), ratio(values.get("im"), values.get("relay"))])
widths = [max(len(row[i]) for row in table) for i in range(len(header))]
lines = []
for row in table:
    lines.append("  ".join(row[0].ljust(widths[0]) if i == 0 else row[i].rjust(widths[i]) for i in range(len(row))))
text = "\n".join(lines)
print(text)
with open(os.path.join(out, "summary.txt"), "w") as f:
    f.write(text + "\n")
PY
}

if [[ ${1:-} == summarize ]]; then
    summarize "${2:?usage: compare.sh summarize DIR}"
    exit 0
fi

BIN_DIR=${BIN_DIR:-${CARGO_TARGET_DIR:-$repo/target}/release}
OUT=${OUT:-/var/cache/im/compare/$(date +%Y%m%d-%H%M%S)}
SERVICES=${SERVICES:-im ejabberd relay}
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
M1_USERS=${M1_USERS:-2000}
M1_DURATION=${M1_DURATION:-20s}
M1_HEARTBEAT=${M1_HEARTBEAT:-10s}
M3_USERS=${M3_USERS:-200}
M3_RATES=${M3_RATES:-200,500,1000}
M3_DURATION=${M3_DURATION:-10s}
M3_DRAIN=${M3_DRAIN:-20s}
IM_HTTP=${IM_HTTP:-127.0.0.1:28080}
IM_ADMIN=${IM_ADMIN:-127.0.0.1:28081}
IM_DB_PREFIX=${IM_DB_PREFIX:-bench_cmp}
RELAY_ADDR=${RELAY_ADDR:-127.0.0.1:29100}
export EJ_PORT=${EJ_PORT:-15222}
export EJ_CPU=$SERVER_CPU
export EJ_USERS=$((M1_USERS > M3_USERS ? M1_USERS : M3_USERS))
mysql=(mysql -h 127.0.0.1 -P 3306 -u root --batch --skip-column-names)

needed=(im-bench)
[[ " $SERVICES " == *" im "* ]] && needed+=(im)
for binary in "${needed[@]}"; do
    [[ -x $BIN_DIR/$binary ]] || {
        echo "compare.sh: no $BIN_DIR/$binary: cargo build --release -p im -p im-bench" >&2
        exit 1
    }
done
[[ $IM_DB_PREFIX =~ ^[A-Za-z0-9_]+$ ]] || { echo "compare.sh: bad IM_DB_PREFIX" >&2; exit 2; }
mkdir -p "$OUT"
ulimit -n 20000 # both sides of every connection are on this machine
db_pid=$(pgrep -xo mariadbd || pgrep -xo mysqld || true)
db_args=()
[[ -n $db_pid ]] && db_args=(--db-pid "$db_pid")

server_pid=""
stop_server() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
drop_im_databases() {
    local names
    names=$("${mysql[@]}" -e "SHOW DATABASES LIKE '${IM_DB_PREFIX}\\_%'")
    for name in $names; do
        "${mysql[@]}" -e "DROP DATABASE \`$name\`"
    done
}
cleanup() {
    stop_server
    EJ_DROP_DB=1 "$here/ejabberd/stop.sh" >/dev/null 2>&1 || true
    drop_im_databases || true
}
trap cleanup EXIT

generator() {
    taskset -c "$BENCH_CPU" "$BIN_DIR/im-bench" "$@"
}

scenario_args() {
    case $1 in
        m1) echo m1 --users "$M1_USERS" --duration "$M1_DURATION" --heartbeat "$M1_HEARTBEAT" ;;
        m3) echo m3 --users "$M3_USERS" --rate "$M3_RATES" --duration "$M3_DURATION" --drain "$M3_DRAIN" ;;
    esac
}

start_im() {
    if curl -s -o /dev/null "http://$IM_ADMIN/readyz"; then
        echo "compare.sh: something already listens on $IM_ADMIN; set IM_HTTP and IM_ADMIN" >&2
        return 1
    fi
    drop_im_databases
    taskset -c "$SERVER_CPU" env \
        IM__GATEWAY__RATE_LIMITS__ENABLED=false \
        IM__DATABASE__URL="mysql://root@127.0.0.1:3306/${IM_DB_PREFIX}_{service}" \
        IM__LOG__FORMAT=json IM_LOG=warn \
        MALLOC_MMAP_THRESHOLD_=131072 MIMALLOC_PURGE_DELAY=0 \
        "$BIN_DIR/im" --data-dir "$OUT/im-data" serve --http-addr "$IM_HTTP" --admin-addr "$IM_ADMIN" \
        >>"$OUT/im-server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 900); do
        curl -sf "http://$IM_ADMIN/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "compare.sh: im did not become ready; see $OUT/im-server.log" >&2
    return 1
}

run_im() {
    start_im
    # shellcheck disable=SC2046
    if ! generator --target "http://$IM_HTTP" --server-pid "$server_pid" "${db_args[@]}" \
        --json "$OUT/im-$1.json" $(scenario_args "$1") \
        | tee "$OUT/im-$1.txt"; then
        echo "compare.sh: $1 against im failed" >&2
    fi
    stop_server
    rm -rf "$OUT/im-data"
    drop_im_databases
}

run_ejabberd() {
    local pid
    pid=$("$here/ejabberd/start.sh" | sed -n 's/^EJABBERD_PID=//p')
    [[ -n $pid ]] || { echo "compare.sh: ejabberd did not start" >&2; return 1; }
    # shellcheck disable=SC2046
    if ! generator --protocol xmpp --target "127.0.0.1:$EJ_PORT" --server-pid "$pid" "${db_args[@]}" \
        --json "$OUT/ejabberd-$1.json" $(scenario_args "$1") \
        | tee "$OUT/ejabberd-$1.txt"; then
        echo "compare.sh: $1 against ejabberd failed" >&2
    fi
    EJ_DROP_DB=1 "$here/ejabberd/stop.sh"
}

run_relay() {
    taskset -c "$SERVER_CPU" "$BIN_DIR/im-bench" relay --listen "$RELAY_ADDR" >"$OUT/relay-server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        grep -q "relay listening" "$OUT/relay-server.log" 2>/dev/null && break
        sleep 0.1
    done
    # shellcheck disable=SC2046
    if ! generator --protocol relay --target "ws://$RELAY_ADDR" --server-pid "$server_pid" \
        --json "$OUT/relay-$1.json" $(scenario_args "$1") \
        | tee "$OUT/relay-$1.txt"; then
        echo "compare.sh: $1 against relay failed" >&2
    fi
    stop_server
}

echo "compare.sh: reports in $OUT (server on CPU $SERVER_CPU, generator on CPU $BENCH_CPU)"
for service in $SERVICES; do
    for scenario in m1 m3; do
        echo "== $service $scenario"
        # the machine may be shared: keep its load beside the reports
        echo "$service $scenario start $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/load.txt"
        "run_$service" "$scenario"
        echo "$service $scenario end   $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/load.txt"
    done
done
echo
summarize "$OUT"
