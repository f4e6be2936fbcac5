# What bench/cluster.sh and bench/latency.sh share: the binaries, a work
# directory cleaned up at exit (kept with KEEP=1), and helpers to start
# nats-server and kadet on free loopback ports and read their metrics.
# Sourced, with BENCH_NAME set, from the repository root.
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
KADET="$TARGET_DIR/release/kadet"
LOAD="$TARGET_DIR/release/examples/load"
DRAIN_TIMEOUT=300

if [[ -z "${NATS_SERVER:-}" ]]; then
    NATS_SERVER="$(command -v nats-server || true)"
    [[ -n "$NATS_SERVER" ]] || NATS_SERVER=/usr/sbin/nats-server
fi
[[ -x "$NATS_SERVER" ]] || { echo "nats-server not found (apt-get install nats-server, or set NATS_SERVER)" >&2; exit 1; }
for tool in curl jq python3; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "== building (release)" >&2
    cargo build --release -p kadet-cli -p kadet-server --example load >&2
fi

WORK="$(mktemp -d "/tmp/kadet-$BENCH_NAME-bench.XXXXXX")"
PIDS=()

# Stops the processes started so far (between setups, and at exit).
stop_all() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
}

cleanup() {
    stop_all
    if [[ "${KEEP:-0}" == 1 ]]; then
        echo "work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_ok URL SECONDS: until URL answers 2xx.
wait_ok() {
    local deadline=$((SECONDS + $2))
    until curl -sf -o /dev/null "$1"; do
        ((SECONDS < deadline)) || { echo "$1 not ready after $2 s" >&2; return 1; }
        sleep 0.2
    done
}

# metric PORT NAME: the sum of a metric's samples on an instance (0 if none).
metric() {
    curl -s "http://127.0.0.1:$1/metrics" |
        awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f\n", s + 0 }'
}

# The last message of a KV key, read with JetStream's direct get (plain
# NATS protocol, so that no NATS client is needed).
kv_get() { # PORT BUCKET KEY
    python3 - "$@" <<'EOF'
import socket, sys
port, bucket, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
f = s.makefile("rb")
f.readline()
s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n'
          b"SUB _INBOX.bench 1\r\n"
          + f"PUB $JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.{key} _INBOX.bench 0\r\n\r\n".encode())
while True:
    line = f.readline().decode().strip()
    if line.startswith("PING"):
        s.sendall(b"PONG\r\n")
    elif line.startswith("HMSG"):
        h, t = map(int, line.split()[-2:])
        print(f.read(t)[h:].decode())
        break
    elif line.startswith("-ERR") or not line:
        sys.exit(1)
EOF
}

# applied: batches the applier has applied (from the saved state, at most
# snapshot_interval_ms old).
applied() {
    local next
    next="$(kv_get "$NATS_PORT" KADET_STATE applier 2>/dev/null | jq -r '.next_seq // 1' 2>/dev/null || echo 1)"
    echo $((${next:-1} - 1))
}

# The largest of a number read from each node's monitoring port (replicas
# of an R3 stream may lag a little; the leader has the highest).
max_over_nodes() { # JQ-PATH-QUERY
    local m best=0 v
    for m in "${NATS_MONS[@]}"; do
        v="$(curl -s "http://127.0.0.1:$m/jsz?streams=true&consumers=true" | jq -r "$1" 2>/dev/null || echo 0)"
        [[ "$v" =~ ^[0-9]+$ ]] && ((v > best)) && best=$v
    done
    echo "$best"
}

# stream_last STREAM: the stream's last sequence.
stream_last() {
    max_over_nodes "[.account_details[]?.stream_detail[]? | select(.name == \"$1\") | .state.last_seq] | first // 0"
}

# pending: batches not yet evaluated or in flight (num_pending +
# num_ack_pending of the detection consumer).
pending() {
    max_over_nodes '[.account_details[]?.stream_detail[]? | select(.name == "KADET_AUDIT") | .consumer_detail[]? | select(.name == "kadet-detect") | .num_pending + .num_ack_pending] | first // 0'
}

# start_nats DIR NODES: one node, or a cluster of NODES with routes between
# them. Sets NATS_URLS (TOML list), NATS_PORT (a client port), NATS_MONS.
start_nats() {
    local dir=$1 nodes=$2 i
    local cports=() routes=""
    NATS_MONS=()
    NATS_PIDS=()
    NATS_URLS=""
    NATS_PORT=""
    for ((i = 0; i < nodes; i++)); do cports+=("$(free_port)"); done
    for ((i = 0; i < nodes; i++)); do routes+="${routes:+,}nats://127.0.0.1:${cports[$i]}"; done
    for ((i = 0; i < nodes; i++)); do
        local port mon
        port="$(free_port)"
        mon="$(free_port)"
        mkdir -p "$dir/n$i"
        local cluster_args=()
        if ((nodes > 1)); then
            cluster_args=(-n "n$i" --cluster_name kadet-bench --cluster "nats://127.0.0.1:${cports[$i]}" --routes "$routes")
        fi
        "$NATS_SERVER" -a 127.0.0.1 -p "$port" -m "$mon" -js -sd "$dir/n$i/store" "${cluster_args[@]}" \
            >"$dir/n$i/nats.log" 2>&1 &
        PIDS+=($!)
        NATS_PIDS+=($!)
        NATS_MONS+=("$mon")
        NATS_URLS+="${NATS_URLS:+, }\"nats://127.0.0.1:$port\""
        [[ -n "$NATS_PORT" ]] || NATS_PORT=$port
    done
    for mon in "${NATS_MONS[@]}"; do wait_ok "http://127.0.0.1:$mon/healthz" 60; done
}

# start_kadet CONFIG LOG PORT
start_kadet() {
    KADET_LOG=warn "$KADET" serve --config "$1" >"$2" 2>&1 &
    PIDS+=($!)
    KADET_PIDS+=($!)
    wait_ok "http://127.0.0.1:$3/readyz" 60
}

# cluster_config FILE PORT STATE-DIR ALERTS-FILE [EXTRA-LINE...]: an
# instance's config in cluster mode on the NATS servers started last
# ($NATS_URLS), intake capped at $MAX_PENDING batches.
cluster_config() {
    local file=$1 port=$2 state=$3 alerts=$4 extra
    shift 4
    {
        cat <<EOF
[listen]
address = "127.0.0.1:$port"
[state]
dir = "$state"
[limits]
retry_after_secs = 1
[[sinks]]
type = "file"
path = "$alerts"
[cluster]
nats_url = [$NATS_URLS]
max_pending = $MAX_PENDING
EOF
        for extra in "$@"; do echo "$extra"; done
    } >"$file"
}

# single_config FILE PORT DIR: a single-process instance's config, state and
# alerts in DIR, intake capped at $MAX_BACKLOG_BYTES of journal backlog.
single_config() {
    cat >"$1" <<EOF
[listen]
address = "127.0.0.1:$2"
[state]
dir = "$3/state"
[limits]
max_backlog_bytes = $MAX_BACKLOG_BYTES
retry_after_secs = 1
[[sinks]]
type = "file"
path = "$3/alerts.jsonl"
EOF
}
