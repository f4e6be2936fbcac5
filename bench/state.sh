#!/usr/bin/env bash
# Memory of the state detection across events keeps: KEYS tokens minted by
# people, each remembered by Kadet.ServiceAccount.TokenMinted while it lives
# (one window per token id), and KEYS people each reading Secrets for the
# first time, each remembered by Kadet.Secret.FirstReadByPerson (one
# first-seen value per person), against as many ordinary requests of the
# same size that leave no state. Prints the peak resident memory of
# `kadet scan --threads 1` on each and the difference per tracked key.
#
# Environment:
#   KEYS       tokens minted (default 1000000)
#   KADET      the binary (default target/release/kadet)
#   BENCH_DIR  where the inputs go (default /tmp/kadet-bench-state)
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS="${KEYS:-1000000}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
KADET="${KADET:-$TARGET_DIR/release/kadet}"
BENCH_DIR="${BENCH_DIR:-/tmp/kadet-bench-state}"
mkdir -p "$BENCH_DIR"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cargo build --release -q -p kadet-cli >&2
fi
python3 - "$KEYS" "$BENCH_DIR" <<'PY'
import json, sys, uuid, datetime
keys, out = int(sys.argv[1]), sys.argv[2]
start = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)
# Six days for all of them: every token (seven-day lifetime) is still alive
# at the end, so every window is held at once.
step = 6 * 86400 / max(keys, 1)
def when(i):
    t = start + datetime.timedelta(seconds=i * step)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
def event(i, kind):
    minted = kind == "minted"
    user = f"dev{i % 100}@example.com"
    ns, sa = f"team{i % 50}", f"deployer{i % 20}"
    e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
         "auditID": str(uuid.UUID(int=i)), "stage": "ResponseComplete", "verb": "create",
         "user": {"username": user, "groups": ["system:authenticated"]},
         "sourceIPs": [f"10.{i % 200}.{i % 250}.{i % 240 + 1}"],
         "userAgent": "kubectl/v1.31.0 (linux/amd64) kubernetes/9edcffc",
         "responseStatus": {"metadata": {}, "code": 201},
         "requestReceivedTimestamp": when(i), "stageTimestamp": when(i)}
    if kind == "seen":
        user = f"person{i}@example.com"
        e["user"]["username"] = user
        e["verb"] = "get"
        e["responseStatus"]["code"] = 200
        e["requestURI"] = f"/api/v1/namespaces/{ns}/secrets/settings-{i % 20}"
        e["objectRef"] = {"resource": "secrets", "namespace": ns, "name": f"settings-{i % 20}", "apiVersion": "v1"}
        e["annotations"] = {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed by RoleBinding \"dev/team\""}
    elif minted:
        e["requestURI"] = f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"
        e["objectRef"] = {"resource": "serviceaccounts", "namespace": ns, "name": sa, "subresource": "token", "apiVersion": "v1"}
        e["annotations"] = {"authentication.kubernetes.io/issued-credential-id": f"JTI={uuid.UUID(int=i + (1 << 64))}",
                            "authorization.k8s.io/decision": "allow"}
    else:
        e["requestURI"] = f"/api/v1/namespaces/{ns}/configmaps/settings-{i % 20}"
        e["objectRef"] = {"resource": "configmaps", "namespace": ns, "name": f"settings-{i % 20}", "apiVersion": "v1"}
        e["annotations"] = {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed by RoleBinding \"dev/team\""}
    return json.dumps(e, separators=(",", ":"))
for name in ("minted", "seen", "plain"):
    with open(f"{out}/{name}.jsonl", "w") as f:
        for i in range(keys):
            f.write(event(i, name) + "\n")
PY
peak() {
    /usr/bin/time -f "%M" "$KADET" scan --threads 1 --max-keys-per-rule "$((KEYS + 1))" --format jsonl --output /dev/null "$1" 2>&1 >/dev/null | tail -1
}
plain=$(peak "$BENCH_DIR/plain.jsonl")
minted=$(peak "$BENCH_DIR/minted.jsonl")
seen=$(peak "$BENCH_DIR/seen.jsonl")
python3 - "$KEYS" "$plain" "$minted" "$seen" <<'PY'
import sys
keys, plain, minted, seen = (int(a) for a in sys.argv[1:5])
print(f"keys tracked:                     {keys}")
print(f"peak RSS, no state:               {plain / 1024:.0f} MiB")
print(f"peak RSS, {keys} tokens:         {minted / 1024:.0f} MiB")
print(f"per token:                        {(minted - plain) * 1024 / keys:.0f} bytes")
print(f"peak RSS, {keys} first-seen:     {seen / 1024:.0f} MiB")
print(f"per first-seen value:             {(seen - plain) * 1024 / keys:.0f} bytes")
PY
