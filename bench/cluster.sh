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
BENCH_NAME=cluster
# shellcheck source=bench/serve-lib.sh
. bench/serve-lib.sh

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
    single_config "$dir/kadet.toml" "$port" "$dir"
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
    # The detector spreads each pass over short-lived threads: their CPU is
    # in the process's total, not among the threads still alive.
    echo "-- single-process: CPU seconds over the run: $(cpu_total "${KADET_PIDS[@]}") in all; by live thread: $(cpu_by_thread "${KADET_PIDS[@]}")" >>"$WORK/notes"
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
        cluster_config "$dir/kadet-$i.toml" "$port" "$dir/state-$i" "$dir/alerts-$i.jsonl" \
            "replicas = $nodes" "detect_workers = $DETECT_WORKERS"
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
