#!/usr/bin/env bash
# The built-in pack on a corpus whose mix it was not tuned for.
#
# Takes bench/run.sh's synthetic corpus (generating it if needed) and writes
# a second one in which every record with a request body, and every
# TokenRequest, appears SKEW times (default 10), cut to the first corpus's
# size. Then times `kadet scan --threads 1` with the built-in pack on both,
# and with a second binary (OLD_KADET, optional) for a before/after ratio.
# Timings are CPU seconds (user + system), best of $RUNS, runs interleaved:
# on a shared machine wall time varies by a third from one run to the next.
#
# Environment:
#   EVENTS     corpus size in events (default 500000)
#   SKEW       repetition of body and TokenRequest records (default 10)
#   RUNS       runs per command (default 5)
#   KADET      the binary to measure (default target/release/kadet)
#   OLD_KADET  a binary to compare with (optional)
#   BENCH_DIR  where corpora go (default /tmp/kadet-bench-mix)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${EVENTS:-500000}"
SKEW="${SKEW:-10}"
RUNS="${RUNS:-5}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
KADET="${KADET:-$TARGET_DIR/release/kadet}"
BENCH_DIR="${BENCH_DIR:-/tmp/kadet-bench-mix}"
mkdir -p "$BENCH_DIR"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cargo build --release -q -p kadet-cli -p kadet-bench >&2
fi
CORPUS="$BENCH_DIR/corpus.jsonl"
SKEWED="$BENCH_DIR/skewed.jsonl"
if [[ ! -s "$CORPUS" ]]; then
    "$TARGET_DIR/release/kadet-bench" gen --events "$EVENTS" --seed 42 --shape raw --out "$CORPUS" -q
fi
python3 - "$CORPUS" "$SKEWED" "$SKEW" <<'PY'
import os, sys
src, dst, skew = sys.argv[1], sys.argv[2], int(sys.argv[3])
limit = os.path.getsize(src)
written = 0
with open(src, "rb") as f, open(dst, "wb") as out:
    for line in f:
        heavy = b'"requestObject"' in line or b'serviceaccounts/token' in line
        for _ in range(skew if heavy else 1):
            if written + len(line) > limit:
                sys.exit(0)
            out.write(line)
            written += len(line)
PY
python3 - "$KADET" "${OLD_KADET:-}" "$CORPUS" "$SKEWED" "$RUNS" <<'PY'
import os, resource, subprocess, sys
new, old, corpus, skewed, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
binaries = [("kadet", new)] + ([("old kadet", old)] if old else [])
def cpu(binary, path):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([binary, "scan", "--threads", "1", "--format", "jsonl", "--output", "/dev/null", path],
                   stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
best = {}
for _ in range(runs):
    for name, binary in binaries:
        for label, path in (("bench corpus", corpus), ("skewed corpus", skewed)):
            t = cpu(binary, path)
            best[(name, label)] = min(best.get((name, label), 1e9), t)
print(f"{'binary':<12} {'corpus':<14} {'CPU s':>7} {'MB/s (CPU)':>11}")
for (name, label), t in best.items():
    mb = os.path.getsize(corpus if label == "bench corpus" else skewed) / 1e6
    print(f"{name:<12} {label:<14} {t:7.2f} {mb / t:11.0f}")
if old:
    for label in ("bench corpus", "skewed corpus"):
        print(f"kadet / old kadet, {label}: {best[('old kadet', label)] / best[('kadet', label)]:.2f}")
PY
