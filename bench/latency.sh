#!/usr/bin/env bash
# Alert latency of `kadet serve`: the time from a batch's `200` to its alert
# in a file sink, at idle and at 50% and 90% of the load each mode sustains,
# in single-process mode and in cluster mode with 1 and 2 instances (one
# local nats-server, R1), beside `kadet scan --threads 2` on the same events.
#
# For each mode it starts kadet (and nats-server) on free loopback ports
# with throwaway state and default settings apart from the intake cap, then:
#   1. sustainable rate: crates/kadet-server/examples/load.rs as fast as the
#      server takes it for SUSTAIN_SECS, intake capped (single:
#      max_backlog_bytes; cluster: max_pending) so that batches over the cap
#      get 429 and the accepted rate is the rate detection keeps up with;
#      then it waits until everything accepted has been evaluated;
#   2. latency: for LATENCY_SECS at idle (probes only), then at 50% and 90%
#      of that rate (paced load), a probe batch every PROBE_MS holding one
#      long-lived token request under a new user name, so a new alert; the
#      load tool tails the file sinks and times each probe from its `200`
#      to the first alert line naming it.
# It prints one table.
#
# Environment:
#   SUSTAIN_SECS      seconds of unpaced load for the sustainable rate (default 20)
#   LATENCY_SECS      seconds per latency step                          (default 20)
#   PROBE_MS          milliseconds between probes                       (default 200)
#   CONNECTIONS       client connections                                (default 8)
#   BATCH             events per request                                (default 400)
#   MAX_BACKLOG_BYTES single-process intake cap                         (default 67108864)
#   MAX_PENDING       cluster intake cap, in batches                    (default 300)
#   SCAN_BATCHES      batches written for the `kadet scan` row          (default 2000)
#   SETUPS            modes, in order (default "single cluster1 cluster2 failover";
#                     "failover": 2 instances at 50% of the load cluster2
#                     sustained (or FAILOVER_RATE), the instance holding the
#                     applier killed with SIGKILL after FAILOVER_SECS/4;
#                     its row gives the probes' latency over the whole run,
#                     so the max is how long the slowest acknowledged batch
#                     waited for its alert across the failover)
#   FAILOVER_SECS     length of the failover run                        (default 40)
#   FAILOVER_RATE     its load in events/s (default: half of cluster2's sustained rate)
#   NATS_SERVER       nats-server binary (default: PATH, then /usr/sbin)
#   SKIP_BUILD=1      use the binaries already built
#   KEEP=1            keep the work directory (logs, configs, alerts)
set -euo pipefail

cd "$(dirname "$0")/.."

SUSTAIN_SECS="${SUSTAIN_SECS:-20}"
LATENCY_SECS="${LATENCY_SECS:-20}"
PROBE_MS="${PROBE_MS:-200}"
CONNECTIONS="${CONNECTIONS:-8}"
BATCH="${BATCH:-400}"
MAX_BACKLOG_BYTES="${MAX_BACKLOG_BYTES:-67108864}"
MAX_PENDING="${MAX_PENDING:-300}"
SCAN_BATCHES="${SCAN_BATCHES:-2000}"
SETUPS="${SETUPS:-single cluster1 cluster2 failover}"
FAILOVER_SECS="${FAILOVER_SECS:-40}"
FAILOVER_RATE="${FAILOVER_RATE:-}"
BENCH_NAME=latency
# shellcheck source=bench/serve-lib.sh
. bench/serve-lib.sh

ROWS=()
row() { ROWS+=("$(printf '%-20s %14s %22s %22s %22s' "$@")"); }
row "mode" "sustained ev/s" "idle p50/p99/max ms" "50% p50/p99/max ms" "90% p50/p99/max ms"

# probe_figures FILE: "p50/p99/max" of the probes in a load report, with
# " (N missing)" if some probes got no alert and " (N repeated)" if an
# alert line came more than once.
probe_figures() {
    sed -n 's/^alert latency over [0-9]* probes: p50 \([0-9]*\) ms, p99 \([0-9]*\) ms, max \([0-9]*\) ms; \([0-9]*\) without an alert, \([0-9]*\) alert lines repeated.*/\1\/\2\/\3 \4 \5/p' "$1" |
        awk '{ printf "%s%s%s", $1, ($2 > 0 ? " (" $2 " missing)" : ""), ($3 > 0 ? " (" $3 " repeated)" : "") }'
}

# sustained URL...: unpaced load; prints the accepted events/s.
sustained() {
    local args=() u
    for u in "$@"; do args+=(--url "$u"); done
    "$LOAD" "${args[@]}" --connections "$CONNECTIONS" --batch "$BATCH" --seconds "$SUSTAIN_SECS" >"$WORK/sustain.out"
    sed -n 's/^accepted \([0-9]*\) events\/s.*/\1/p' "$WORK/sustain.out"
}

# probed RATE ALERT-FILES URLS: paced load at RATE events/s (0: probes
# only) with probes; prints the probe figures.
probed() {
    local rate=$1 files=$2 urls=$3 args=() x conns=$CONNECTIONS
    for x in $files; do args+=(--alerts "$x"); done
    for x in $urls; do args+=(--url "$x"); done
    ((rate > 0)) || conns=0
    "$LOAD" "${args[@]}" --connections "$conns" --batch "$BATCH" --seconds "$LATENCY_SECS" \
        --rate "$rate" --probe-ms "$PROBE_MS" >"$WORK/probe.out"
    cat "$WORK/probe.out" >>"$WORK/notes"
    probe_figures "$WORK/probe.out"
}

# latency_steps LABEL SUSTAINED FILES URLS WAIT-FN
latency_steps() {
    local label=$1 s=$2 files=$3 urls=$4 drained=$5 idle half most
    echo "== $label: latency at idle" >&2
    idle="$(probed 0 "$files" "$urls")"
    "$drained"
    echo "== $label: latency at 50% ($((s / 2)) events/s)" >&2
    half="$(probed $((s / 2)) "$files" "$urls")"
    "$drained"
    echo "== $label: latency at 90% ($((s * 9 / 10)) events/s)" >&2
    most="$(probed $((s * 9 / 10)) "$files" "$urls")"
    row "$label" "$s" "$idle" "$half" "$most"
}

wait_single_drained() {
    local t0=$SECONDS
    while (($(metric "$SINGLE_PORT" kadet_journal_backlog_bytes) > 0)); do
        ((SECONDS - t0 < DRAIN_TIMEOUT)) || break
        sleep 0.5
    done
}

wait_cluster_drained() {
    local t0=$SECONDS stored
    stored="$(stream_last KADET_AUDIT)"
    while (($(applied) < stored)); do
        ((SECONDS - t0 < DRAIN_TIMEOUT)) || break
        sleep 0.5
    done
}

run_single() {
    KADET_PIDS=()
    local dir="$WORK/single"
    mkdir -p "$dir"
    SINGLE_PORT="$(free_port)"
    single_config "$dir/kadet.toml" "$SINGLE_PORT" "$dir"
    start_kadet "$dir/kadet.toml" "$dir/kadet.log" "$SINGLE_PORT"
    local url="http://127.0.0.1:$SINGLE_PORT/v1/audit" s
    echo "== single-process: sustainable rate ($SUSTAIN_SECS s)" >&2
    s="$(sustained "$url")"
    SINGLE_RATE=$s
    wait_single_drained
    latency_steps "single-process" "$s" "$dir/alerts.jsonl" "$url" wait_single_drained
    stop_all
}

# start_instances DIR N: one nats-server and N kadet instances in cluster
# mode; sets INSTANCE_PORTS, and INSTANCE_URLS and INSTANCE_FILES (their
# intake URLs and alert files, space-separated).
start_instances() {
    local dir=$1 n=$2 i port
    start_nats "$dir/nats" 1
    INSTANCE_PORTS=()
    INSTANCE_URLS=""
    INSTANCE_FILES=""
    for ((i = 0; i < n; i++)); do
        port="$(free_port)"
        INSTANCE_PORTS+=("$port")
        INSTANCE_URLS+=" http://127.0.0.1:$port/v1/audit"
        INSTANCE_FILES+=" $dir/alerts-$i.jsonl"
        cluster_config "$dir/kadet-$i.toml" "$port" "$dir/state-$i" "$dir/alerts-$i.jsonl"
        start_kadet "$dir/kadet-$i.toml" "$dir/kadet-$i.log" "$port"
    done
}

run_cluster() { # INSTANCES
    KADET_PIDS=()
    local n=$1 dir="$WORK/cluster$1"
    mkdir -p "$dir"
    start_instances "$dir" "$n"
    local files=$INSTANCE_FILES urls=$INSTANCE_URLS
    local label="cluster, $n instance(s)" s
    echo "== $label: sustainable rate ($SUSTAIN_SECS s)" >&2
    # shellcheck disable=SC2086
    s="$(sustained $urls)"
    ((n != 2)) || CLUSTER2_RATE=$s
    wait_cluster_drained
    latency_steps "$label" "$s" "$files" "$urls" wait_cluster_drained
    stop_all
}

# The failover run: two instances under paced load with probes; the one
# holding the applier lease is killed with SIGKILL a quarter of the way in.
run_failover() {
    KADET_PIDS=()
    local dir="$WORK/failover" files urls
    local rate="${FAILOVER_RATE:-$((${CLUSTER2_RATE:-100000} / 2))}"
    mkdir -p "$dir"
    start_instances "$dir" 2
    files=$INSTANCE_FILES
    urls=$INSTANCE_URLS
    local ports=("${INSTANCE_PORTS[@]}")
    local args=() x
    for x in $files; do args+=(--alerts "$x"); done
    for x in $urls; do args+=(--url "$x"); done
    echo "== failover: 2 instances at $rate events/s for $FAILOVER_SECS s, the applier killed after $((FAILOVER_SECS / 4)) s" >&2
    "$LOAD" "${args[@]}" --connections "$CONNECTIONS" --batch "$BATCH" --seconds "$FAILOVER_SECS" \
        --rate "$rate" --probe-ms "$PROBE_MS" --drain-secs 120 >"$WORK/failover.out" &
    local load=$!
    sleep $((FAILOVER_SECS / 4))
    local victim=0
    (($(metric "${ports[1]}" kadet_cluster_applier) == 1)) && victim=1
    kill -9 "${KADET_PIDS[$victim]}"
    echo "-- failover: killed instance $victim (the applier) at $(date +%T)" >>"$WORK/notes"
    wait "$load"
    cat "$WORK/failover.out" >>"$WORK/notes"
    row "failover (kill -9)" "$rate" "" "$(probe_figures "$WORK/failover.out")" ""
    stop_all
}

touch "$WORK/notes"
SINGLE_RATE=""
CLUSTER2_RATE=""
for setup in $SETUPS; do
    case "$setup" in
    single) run_single ;;
    cluster*) run_cluster "${setup#cluster}" ;;
    failover) run_failover ;;
    *) echo "unknown setup $setup" >&2; exit 2 ;;
    esac
done

echo "== kadet scan --threads 2 on $SCAN_BATCHES of the same batches" >&2
"$LOAD" --dump "$SCAN_BATCHES" --batch "$BATCH" >"$WORK/events.jsonl"
cat "$WORK/events.jsonl" >/dev/null
t0="$(date +%s.%N)"
"$KADET" scan --threads 2 --quiet "$WORK/events.jsonl" >/dev/null
t1="$(date +%s.%N)"
SCAN_RATE="$(awk -v a="$t0" -v b="$t1" -v n="$((SCAN_BATCHES * BATCH))" 'BEGIN { printf "%.0f", n / (b - a) }')"

echo
echo "kadet serve alert latency, from the 200 to the alert in a file sink; $CONNECTIONS connections," \
    "$BATCH events/request, a probe every $PROBE_MS ms, $LATENCY_SECS s per step;" \
    "$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${ROWS[@]}"
echo "kadet scan --threads 2, same events: $SCAN_RATE events/s"
if [[ -n "$SINGLE_RATE" ]]; then
    awk -v s="$SINGLE_RATE" -v c="$SCAN_RATE" 'BEGIN { printf "single-process serve sustained %.0f%% of it\n", 100 * s / c }'
fi
echo
cat "$WORK/notes"
