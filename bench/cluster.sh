#!/usr/bin/env bash
# Ingest benchmark of `kadet serve`: single-process mode against cluster
# mode on NATS JetStream with 1 and 2 instances, all on this machine.
#
# For each setup it starts what is needed on free loopback ports with
# throwaway state (a fresh nats-server with JetStream in a temp store for
# each cluster run), drives it with crates/kadet-server/examples/load.rs
# (audit EventList batches, every body different, connections spread over
# the instances), then waits until everything accepted has been evaluated
# (and, in cluster mode, applied). It prints one table.
#
# "Sustained": intake is capped (single: [limits] max_backlog_bytes; cluster:
# [cluster] max_pending), and batches over the cap get 429 and are retried,
# so the accepted rate is the rate detection keeps up with. The table also
# shows how many events were evaluated during the load window, the largest
# backlog seen, and how long the rest took to drain after the load stopped.
#
# Environment:
#   SECS              load duration per setup, seconds  (default 40)
#   CONNECTIONS       client connections                (default 8)
#   BATCH             events per request                (default 400)
#   MAX_BACKLOG_BYTES single-process intake cap         (default 67108864)
#   MAX_PENDING       cluster intake cap, in batches    (default 300, about
#                     64 MiB of 400-event batches)
#   DETECT_WORKERS    [cluster] detect_workers          (default 2)
#   SETUPS            which setups, in order            (default "single cluster1 cluster2
#                     cluster1-r3 cluster2-r3"; "clusterN" runs N instances on one
#                     NATS node, "clusterN-r3" on a 3-node NATS cluster with R3
#                     streams, all on this machine)
#   NATS_SERVER       nats-server binary                (default: PATH, then /usr/sbin)
#   SKIP_BUILD=1      use the binaries already built
#   KEEP=1            keep the work directory (logs, configs)
set -euo pipefail

cd "$(dirname "$0")/.."

SECS="${SECS:-40}"
CONNECTIONS="${CONNECTIONS:-8}"
BATCH="${BATCH:-400}"
MAX_BACKLOG_BYTES="${MAX_BACKLOG_BYTES:-67108864}"
MAX_PENDING="${MAX_PENDING:-300}"
DETECT_WORKERS="${DETECT_WORKERS:-2}"
SETUPS="${SETUPS:-single cluster1 cluster2 cluster1-r3 cluster2-r3}"
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

WORK="$(mktemp -d /tmp/kadet-cluster-bench.XXXXXX)"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
    if [[ "${KEEP:-0}" == 1 ]]; then
        echo "work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# Stops the processes started so far (between setups).
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

# run_load URL... -> load output in $WORK/load.out; sets ACCEPTED_RATE, P50, P99, REFUSED
run_load() {
    local args=()
    local u
    for u in "$@"; do args+=(--url "$u"); done
    "$LOAD" "${args[@]}" --connections "$CONNECTIONS" --batch "$BATCH" --seconds "$SECS" >"$WORK/load.out"
    ACCEPTED_RATE="$(sed -n 's/^accepted \([0-9]*\) events\/s.*/\1/p' "$WORK/load.out")"
    P50="$(sed -n 's/.*p50 \([0-9.]*\) ms.*/\1/p' "$WORK/load.out")"
    P99="$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' "$WORK/load.out")"
    REFUSED="$(sed -n 's/.* \([0-9]*\) refused or failed.*/\1/p' "$WORK/load.out")"
    LOAD_SECS="$(sed -n 's/.* \([0-9.]*\) s: .*/\1/p' "$WORK/load.out")"
}

# cpu_by_thread PID...: CPU seconds used so far by the processes' threads,
# summed by thread name (digits dropped: kadet-detect-0 and -1 together).
cpu_by_thread() {
    local tick p t
    tick="$(getconf CLK_TCK)"
    for p in "$@"; do
        for t in /proc/"$p"/task/*; do
            [[ -r "$t/stat" ]] || continue
            local name stat
            name="$(tr -d '0-9' <"$t/comm")"
            stat="$(cat "$t/stat")"
            # Fields after the ")" that closes the name: utime is the 12th, stime the 13th.
            echo "$name ${stat##*) }"
        done
    done | awk -v tick="$tick" '{ cpu[$1] += ($13 + $14) / tick } END { for (n in cpu) printf "%s %.1f\n", n, cpu[n] }' |
        sort -k2 -nr | awk '{ printf "%s%s %s s", (NR > 1 ? ", " : ""), $1, $2 } END { print "" }'
}

# cpu_total PID...: CPU seconds used so far by the processes.
cpu_total() {
    local tick p sum=0 stat
    tick="$(getconf CLK_TCK)"
    for p in "$@"; do
        stat="$(cat /proc/"$p"/stat 2>/dev/null)" || continue
        sum=$(awk -v s="${stat##*) }" -v acc="$sum" 'BEGIN { split(s, f, " "); print acc + f[12] + f[13] }')
    done
    awk -v s="$sum" -v tick="$tick" 'BEGIN { printf "%.1f", s / tick }'
}

ROWS=()
row() { ROWS+=("$(printf '%-22s %12s %12s %12s %9s %9s %12s %8s %8s' "$@")"); }
row "setup" "accepted/s" "evaluated/s" "applied/s" "p50 ms" "p99 ms" "max backlog" "drain s" "429s"

# ------------------------------------------------------------ single ----
run_single() {
    KADET_PIDS=()
    local dir="$WORK/single" port
    mkdir -p "$dir"
    port="$(free_port)"
    cat >"$dir/kadet.toml" <<EOF
[listen]
address = "127.0.0.1:$port"
[state]
dir = "$dir/state"
[limits]
max_backlog_bytes = $MAX_BACKLOG_BYTES
retry_after_secs = 1
[[sinks]]
type = "file"
path = "$dir/alerts.jsonl"
EOF
    start_kadet "$dir/kadet.toml" "$dir/kadet.log" "$port"
    echo "== single-process: load for $SECS s" >&2
    local maxb=0
    (
        while sleep 1; do metric "$port" kadet_journal_backlog_bytes; done >"$dir/backlog.samples"
    ) &
    local sampler=$!
    run_load "http://127.0.0.1:$port/v1/audit"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    # Evaluated during the window: accepted minus what was still in the
    # journal (all batches are the same size, so bytes convert to events).
    local acc appended backlog
    acc="$(metric "$port" kadet_events_accepted_total)"
    appended="$(metric "$port" kadet_journal_appended_bytes_total)"
    backlog="$(metric "$port" kadet_journal_backlog_bytes)"
    local evaluated=$((acc - (appended > 0 ? backlog * acc / appended : 0)))
    maxb="$(sort -n "$dir/backlog.samples" | tail -1)"
    local t0=$SECONDS
    while (($(metric "$port" kadet_journal_backlog_bytes) > 0)); do
        ((SECONDS - t0 < DRAIN_TIMEOUT)) || break
        sleep 0.5
    done
    local drain=$((SECONDS - t0))
    echo "-- single-process: CPU seconds by thread over the run: $(cpu_by_thread "${KADET_PIDS[@]}")" >>"$WORK/notes"
    row "single-process" "$ACCEPTED_RATE" "$(awk -v e="$evaluated" -v s="$LOAD_SECS" 'BEGIN { printf "%.0f", e / s }')" "-" \
        "$P50" "$P99" "$((maxb / 1048576)) MiB" "$drain" "$REFUSED"
    stop_all
}

# ----------------------------------------------------------- cluster ----
run_cluster() { # INSTANCES NATS-NODES
    KADET_PIDS=()
    local n=$1 nodes=$2 dir="$WORK/cluster$1-$2" i
    mkdir -p "$dir"
    start_nats "$dir/nats" "$nodes"
    local ports=() urls=()
    for ((i = 0; i < n; i++)); do
        local port
        port="$(free_port)"
        ports+=("$port")
        urls+=("http://127.0.0.1:$port/v1/audit")
        cat >"$dir/kadet-$i.toml" <<EOF
[listen]
address = "127.0.0.1:$port"
[state]
dir = "$dir/state-$i"
[limits]
retry_after_secs = 1
[[sinks]]
type = "file"
path = "$dir/alerts-$i.jsonl"
[cluster]
nats_url = [$NATS_URLS]
replicas = $nodes
max_pending = $MAX_PENDING
detect_workers = $DETECT_WORKERS
EOF
        start_kadet "$dir/kadet-$i.toml" "$dir/kadet-$i.log" "$port"
    done
    local label="cluster, $n instance(s)"
    ((nodes == 1)) || label="cluster, $n inst., R$nodes"
    echo "== $label: load for $SECS s" >&2
    (
        while sleep 1; do pending; done >"$dir/pending.samples"
    ) &
    local sampler=$!
    run_load "${urls[@]}"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    # Evaluated: results published (one per batch, stored once); applied:
    # the applier's saved position.
    # Read in this order, so that applied <= results <= stored.
    local stored results done_
    done_="$(applied)"
    results="$(stream_last KADET_RESULTS)"
    stored="$(stream_last KADET_AUDIT)"
    local maxp
    maxp="$(sort -n "$dir/pending.samples" | tail -1)"
    local t0=$SECONDS
    while (($(applied) < stored)); do
        ((SECONDS - t0 < DRAIN_TIMEOUT)) || break
        sleep 0.5
    done
    local drain=$((SECONDS - t0))
    local per_s='BEGIN { printf "%.0f", b * n / s }'
    row "$label" "$ACCEPTED_RATE" \
        "$(awk -v b="$results" -v n="$BATCH" -v s="$LOAD_SECS" "$per_s")" \
        "$(awk -v b="$done_" -v n="$BATCH" -v s="$LOAD_SECS" "$per_s")" \
        "$P50" "$P99" "${maxp:-0} batches" "$drain" "$REFUSED"
    # Where the time went, for the notes.
    {
        echo "-- $label: stored $stored batches, results $results, applied $done_ at the end of the load"
        for ((i = 0; i < n; i++)); do
            local p=${ports[$i]}
            echo "   instance $i: applier=$(metric "$p" kadet_cluster_applier)" \
                "publish acks: $(metric "$p" kadet_jetstream_publish_seconds_count)," \
                "mean $(curl -s "http://127.0.0.1:$p/metrics" | awk '$1 == "kadet_jetstream_publish_seconds_sum" { s = $2 } $1 == "kadet_jetstream_publish_seconds_count" { c = $2 } END { if (c) printf "%.2f", s / c * 1000; else printf "-" }') ms;" \
                "redeliveries $(metric "$p" kadet_cluster_redeliveries_total)," \
                "CAS conflicts $(metric "$p" kadet_cluster_cas_conflicts_total)," \
                "alerts raised $(metric "$p" kadet_alerts_total)"
            echo "   instance $i CPU seconds by thread: $(cpu_by_thread "${KADET_PIDS[$i]}")"
        done
        echo "   nats-server CPU seconds: $(cpu_total "${NATS_PIDS[@]}")"
    } >>"$WORK/notes"
    stop_all
}

touch "$WORK/notes"
for setup in $SETUPS; do
    case "$setup" in
    single) run_single ;;
    cluster*-r3) n="${setup#cluster}"; run_cluster "${n%-r3}" 3 ;;
    cluster*) run_cluster "${setup#cluster}" 1 ;;
    *) echo "unknown setup $setup" >&2; exit 2 ;;
    esac
done

echo
echo "kadet serve ingest, $CONNECTIONS connections, $BATCH events/request, $SECS s per setup;" \
    "$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "caps: single max_backlog_bytes=$MAX_BACKLOG_BYTES; cluster max_pending=$MAX_PENDING batches," \
    "detect_workers=$DETECT_WORKERS; $("$NATS_SERVER" --version 2>&1 | head -1), file store, one node (R1) unless R3 is said"
printf '%s\n' "${ROWS[@]}"
cat "$WORK/notes"
