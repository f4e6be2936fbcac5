#!/usr/bin/env bash
# Throughput benchmark of kadet on a synthetic cluster-day corpus.
#
# Builds kadet and kadet-bench, generates (or reuses) a raw audit-log corpus,
# and prints one table comparing `wc -l`, the seed rule alone and the built-in
# rule pack (1 thread and all threads), a lean Python reference of the seed
# rule, and the pack with SigmaHQ's Kubernetes rules (rules/sigma) added.
# Each timing is the best of $RUNS runs with a warm page cache.
#
# Environment:
#   EVENTS     corpus size in events          (default 1500000)
#   SEED       generator seed                 (default 42)
#   RUNS       runs per command, best is kept (default 3)
#   BENCH_DIR  where the corpus and logs go   (default /tmp/kadet-bench)
#   SKIP_BUILD set to 1 to use already-built binaries
#   SKIP_S3    set to 1 to skip the S3 rows
#   S3_SERVER  the S3 server of the S3 rows, on loopback: moto (default;
#              pip install 'moto[server]') or s3s-fs (cargo install s3s-fs
#              --version 0.14.1 --features binary; it serves files as they
#              are, but streams an object at about 90 MB/s, so it measures
#              itself more than kadet: see BENCHMARKS.md)
set -euo pipefail

cd "$(dirname "$0")/.."

EVENTS="${EVENTS:-1500000}"
SEED="${SEED:-42}"
RUNS="${RUNS:-3}"
BENCH_DIR="${BENCH_DIR:-/tmp/kadet-bench}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
KADET="${KADET:-$TARGET_DIR/release/kadet}"
KADET_BENCH="${KADET_BENCH:-$TARGET_DIR/release/kadet-bench}"
SEED_RULE="rules/kubernetes/k8s_serviceaccount_token_created.yml"
NPROC="$(nproc)"
CORPUS="$BENCH_DIR/corpus.jsonl"
STAMP="$BENCH_DIR/corpus.args"
mkdir -p "$BENCH_DIR"

# ---------------------------------------------------------------- build ----
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "== building (release)" >&2
    if ! cargo build --release -p kadet-cli -p kadet-bench >&2; then
        echo "!! building kadet-cli failed; building kadet-bench alone, kadet rows will say FAILED" >&2
        cargo build --release -p kadet-bench >&2
    fi
fi
if [[ ! -x "$KADET_BENCH" ]]; then
    echo "error: $KADET_BENCH not found (build it, or unset SKIP_BUILD)" >&2
    exit 1
fi

# --------------------------------------------------------------- corpus ----
want="events=$EVENTS seed=$SEED shape=raw"
if [[ -s "$CORPUS" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    echo "== reusing $CORPUS ($want)" >&2
else
    echo "== generating $CORPUS ($want)" >&2
    rm -f "$STAMP"
    "$KADET_BENCH" gen --events "$EVENTS" --seed "$SEED" --shape raw --out "$CORPUS.tmp"
    mv "$CORPUS.tmp" "$CORPUS"
    echo "$want" > "$STAMP"
fi
BYTES="$(stat -c %s "$CORPUS")"
echo "== warming the page cache" >&2
cat "$CORPUS" > /dev/null

# --------------------------------------------------------------- timing ----
HAVE_TIME=0
if [[ -x /usr/bin/time ]] && /usr/bin/time -f '%e %M' -o /dev/null true 2>/dev/null; then
    HAVE_TIME=1
fi
TFILE="$(mktemp)"
trap 'rm -f "$TFILE"' EXIT

# measure NAME CMD...: sets SECS (best wall seconds) and RSS_KB (peak RSS of
# that run, empty if unknown); returns non-zero if any run failed. The
# command's stdout goes to $BENCH_DIR/NAME.out, its stderr to NAME.err.
measure() {
    local name="$1"
    shift
    local out="$BENCH_DIR/$name.out" err="$BENCH_DIR/$name.err"
    local i secs rss
    SECS=""
    RSS_KB=""
    for ((i = 0; i < RUNS; i++)); do
        if [[ "$HAVE_TIME" == 1 ]]; then
            if ! /usr/bin/time -f '%e %M' -o "$TFILE" "$@" >"$out" 2>"$err"; then
                return 1
            fi
            read -r secs rss < <(tail -n 1 "$TFILE")
        else
            local TIMEFORMAT=%R
            if ! { time "$@" >"$out" 2>"$err"; } 2>"$TFILE"; then
                return 1
            fi
            secs="$(tail -n 1 "$TFILE")"
            rss=""
        fi
        if [[ -z "$SECS" ]] || awk -v a="$secs" -v b="$SECS" 'BEGIN { exit !(a < b) }'; then
            SECS="$secs"
            RSS_KB="$rss"
        fi
    done
}

# Results, indexed by row key.
declare -A R_SECS R_RSS R_OK
LABELS=()
KEYS=()

row() {
    local key="$1" label="$2"
    shift 2
    KEYS+=("$key")
    LABELS+=("$label")
    echo "== $label" >&2
    if measure "$key" "$@"; then
        R_OK[$key]=1
        R_SECS[$key]="$SECS"
        R_RSS[$key]="$RSS_KB"
    else
        R_OK[$key]=0
        echo "   FAILED (see $BENCH_DIR/$key.err)" >&2
    fi
}

row wc "(a) wc -l" wc -l "$CORPUS"
row seed1 "(b) kadet, seed rule, 1 thread" \
    "$KADET" scan --threads 1 --rules "$SEED_RULE" --format jsonl --output /dev/null "$CORPUS"
row seedN "(c) kadet, seed rule, $NPROC threads" \
    "$KADET" scan --threads "$NPROC" --rules "$SEED_RULE" --format jsonl --output /dev/null "$CORPUS"
row pack1 "(d) kadet, built-in pack, 1 thread" \
    "$KADET" scan --threads 1 --format jsonl --output /dev/null "$CORPUS"
row packN "(e) kadet, built-in pack, $NPROC threads" \
    "$KADET" scan --threads "$NPROC" --format jsonl --output /dev/null "$CORPUS"
row python "(f) python3 reference_seed.py" python3 bench/reference_seed.py "$CORPUS"
row sigma1 "(g) kadet, pack + SigmaHQ rules, 1 thread" \
    "$KADET" scan --threads 1 --rules builtin --rules rules/sigma --format jsonl --output /dev/null "$CORPUS"

# ------------------------------------------------------------- S3 rows ----
# The corpus cut in parts (as archives are: many objects), scanned from a
# local directory and from S3 on loopback, on the same machine: the server
# takes CPU from kadet, so the ratio is a floor. moto keeps the uploaded
# parts in memory; s3s-fs serves the parts' files as they are (hard links,
# no upload).
S3_ROWS=0
S3_SERVER="${S3_SERVER:-moto}"
S3_BIN=moto_server
[[ "$S3_SERVER" == s3s-fs ]] && S3_BIN=s3s-fs
if [[ "${SKIP_S3:-0}" != 1 ]] && command -v "$S3_BIN" >/dev/null 2>&1; then
    S3_ROWS=1
    PARTS="$BENCH_DIR/parts"
    if [[ ! -f "$PARTS/.from" || "$(cat "$PARTS/.from")" != "$want" ]]; then
        rm -rf "$PARTS"
        mkdir -p "$PARTS"
        split -C 128M -d -a 3 --additional-suffix=.jsonl "$CORPUS" "$PARTS/part-"
        echo "$want" > "$PARTS/.from"
    fi
    S3_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    if [[ "$S3_SERVER" == s3s-fs ]]; then
        S3_ROOT="$BENCH_DIR/s3s-root"
        rm -rf "$S3_ROOT"
        mkdir -p "$S3_ROOT/bench/parts"
        ln "$PARTS"/part-*.jsonl "$S3_ROOT/bench/parts/"
        s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key bench --secret-key bench \
            "$S3_ROOT" >"$BENCH_DIR/s3s-fs.log" 2>&1 &
    else
        moto_server -H 127.0.0.1 -p "$S3_PORT" >"$BENCH_DIR/moto.log" 2>&1 &
    fi
    S3_PID=$!
    trap 'rm -f "$TFILE"; kill "$S3_PID" 2>/dev/null || true' EXIT
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break
        sleep 0.1
    done
    if [[ "$S3_SERVER" == moto ]]; then
        curl -s -f -X PUT "http://127.0.0.1:$S3_PORT/bench" >/dev/null
        echo "== uploading $(ls "$PARTS" | wc -l) parts to moto" >&2
        for f in "$PARTS"/part-*.jsonl; do
            curl -s -f -T "$f" "http://127.0.0.1:$S3_PORT/bench/parts/$(basename "$f")" >/dev/null
        done
    fi
    S3_ENV=(env AWS_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" AWS_ALLOW_HTTP=true
        AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1)
    row dir1 "(h) kadet, pack, 1 thread, parts on disk" \
        "$KADET" scan --threads 1 --format jsonl --output /dev/null "$PARTS"
    row s31 "(i) kadet, pack, 1 thread, parts in S3 ($S3_SERVER)" \
        "${S3_ENV[@]}" "$KADET" scan --threads 1 --format jsonl --output /dev/null s3://bench/parts/
    row dirN "(j) kadet, pack, $NPROC threads, parts on disk" \
        "$KADET" scan --threads "$NPROC" --format jsonl --output /dev/null "$PARTS"
    row s3N "(k) kadet, pack, $NPROC threads, parts in S3 ($S3_SERVER)" \
        "${S3_ENV[@]}" "$KADET" scan --threads "$NPROC" --format jsonl --output /dev/null s3://bench/parts/
    kill "$S3_PID" 2>/dev/null || true
fi

EVENTS_COUNTED="$(awk '{ print $1; exit }' "$BENCH_DIR/wc.out" 2>/dev/null || true)"
if [[ -z "$EVENTS_COUNTED" ]]; then
    EVENTS_COUNTED="$EVENTS"
fi

mbps() { awk -v b="$BYTES" -v s="$1" 'BEGIN { if (s > 0) printf "%.1f", b / 1e6 / s; else print "inf" }'; }
evps() { awk -v e="$EVENTS_COUNTED" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", e / s; else print "inf" }'; }
ratio() { # ratio A B FMT: A/B, or n/a if either row failed
    local a="$1" b="$2" fmt="$3"
    if [[ "${R_OK[$a]:-0}" == 1 && "${R_OK[$b]:-0}" == 1 ]]; then
        awk -v x="${R_SECS[$a]}" -v y="${R_SECS[$b]}" -v f="$fmt" 'BEGIN { if (y > 0) printf f, x / y; else print "n/a" }'
    else
        echo "n/a"
    fi
}

# ---------------------------------------------------------------- table ----
echo
printf 'corpus: %s (%s events, %.1f MB, seed %s), best of %s runs, %s cores\n' \
    "$CORPUS" "$EVENTS_COUNTED" "$(awk -v b="$BYTES" 'BEGIN { print b / 1e6 }')" "$SEED" "$RUNS" "$NPROC"
if [[ "$HAVE_TIME" != 1 ]]; then
    echo "note: /usr/bin/time not found, wall times from bash's time and no peak RSS (apt-get install time)"
fi
printf '%-42s %10s %10s %14s %12s\n' "command" "wall s" "MB/s" "events/s" "peak RSS MB"
printf '%-42s %10s %10s %14s %12s\n' "------------------------------------------" "----------" "----------" "--------------" "------------"
for i in "${!KEYS[@]}"; do
    k="${KEYS[$i]}"
    if [[ "${R_OK[$k]}" == 1 ]]; then
        s="${R_SECS[$k]}"
        rss="n/a"
        if [[ -n "${R_RSS[$k]}" ]]; then
            rss="$(awk -v r="${R_RSS[$k]}" 'BEGIN { printf "%.1f", r / 1024 }')"
        fi
        printf '%-42s %10s %10s %14s %12s\n' "${LABELS[$i]}" "$s" "$(mbps "$s")" "$(evps "$s")" "$rss"
    else
        printf '%-42s %10s %10s %14s %12s\n' "${LABELS[$i]}" "FAILED" "-" "-" "-"
    fi
done
echo
# wc -l time / kadet time: how close the seed rule gets to just reading lines.
pct="$(ratio wc seed1 '%.4f')"
if [[ "$pct" != n/a ]]; then
    pct="$(awk -v r="$pct" 'BEGIN { printf "%.0f%%", 100 * r }')"
fi
pack1="n/a"
packN="n/a"
[[ "${R_OK[pack1]}" == 1 ]] && pack1="$(mbps "${R_SECS[pack1]}")"
[[ "${R_OK[packN]}" == 1 ]] && packN="$(mbps "${R_SECS[packN]}")"
printf '%-52s %s\n' "seed rule, 1 thread, speed relative to wc -l:" "$pct"
printf '%-52s %s\n' "seed rule, 1 thread, speed-up over python:" "$(ratio python seed1 '%.1fx')"
printf '%-52s %s\n' "seed rule, $NPROC threads over 1 thread:" "$(ratio seed1 seedN '%.2fx')"
printf '%-52s %s\n' "built-in pack MB/s (1 thread / $NPROC threads):" "$pack1 / $packN"
sigma1="n/a"
[[ "${R_OK[sigma1]}" == 1 ]] && sigma1="$(mbps "${R_SECS[sigma1]}")"
printf '%-52s %s\n' "pack + SigmaHQ rules MB/s (1 thread):" "$sigma1"
if [[ "$S3_ROWS" == 1 ]]; then
    printf '%-52s %s\n' "S3 speed relative to disk (1 thread / $NPROC threads):" \
        "$(ratio dir1 s31 '%.2f') / $(ratio dirN s3N '%.2f')"
fi
if [[ "${R_OK[python]}" == 1 ]]; then
    printf '%-52s %s\n' "python reference result:" "$(tail -n 1 "$BENCH_DIR/python.out")"
fi
