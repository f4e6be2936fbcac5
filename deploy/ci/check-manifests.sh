#!/usr/bin/env bash
# Checks the deployment files in deploy/: every YAML file parses, every
# kadet.toml embedded in a ConfigMap passes `kadet serve --check-config`,
# and every nats.conf passes `nats-server -t` (when nats-server is there).
#
# The configs name files that Kubernetes Secrets provide at run time
# (/etc/kadet/...) and a state volume (/var/lib/kadet). They are checked as
# copies with those paths moved under a temporary directory, where
# throwaway stand-ins are made: a self-signed certificate, a token and a
# NATS credentials file (--check-config reads it; only NATS judges it).
#
# Usage: deploy/ci/check-manifests.sh [KADET]   (default: target/release/kadet,
# then kadet on PATH). Needs python3 with PyYAML and openssl.
set -euo pipefail

cd "$(dirname "$0")/../.."
KADET="${1:-}"
if [[ -z "$KADET" ]]; then
    if [[ -x target/release/kadet ]]; then KADET=target/release/kadet; else KADET="$(command -v kadet)"; fi
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/root"

# Stand-ins for the Secrets.
mkdir -p "$ROOT/etc/kadet/tls" "$ROOT/etc/kadet/auth" "$ROOT/etc/kadet/nats" "$ROOT/var/lib/kadet"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=kadet.kadet-system.svc -keyout "$ROOT/etc/kadet/tls/tls.key" \
    -out "$ROOT/etc/kadet/tls/tls.crt" 2>/dev/null
cp "$ROOT/etc/kadet/tls/tls.crt" "$ROOT/etc/kadet/tls/ca.crt"
head -c 32 /dev/urandom | base64 | tr -d '=+/' >"$ROOT/etc/kadet/auth/token"
printf '%s\n' "-----BEGIN NATS USER JWT-----" "stand-in" "------END NATS USER JWT------" \
    "-----BEGIN USER NKEY SEED-----" "stand-in" "------END USER NKEY SEED------" \
    >"$ROOT/etc/kadet/nats/kadet.creds"
chmod 700 "$ROOT/var/lib/kadet"

# Every YAML document parses; the embedded configs are written out.
python3 - "$WORK" <<'PY'
import pathlib, sys, yaml
work = pathlib.Path(sys.argv[1])
n = 0
for path in sorted(pathlib.Path("deploy").rglob("*.y*ml")):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    print(f"yaml ok: {path} ({len(docs)} document(s))")
    for d in docs:
        for key, text in ((d.get("data") or {}) if d.get("kind") == "ConfigMap" else {}).items():
            if key.endswith(".toml") or key.endswith(".conf"):
                n += 1
                out = work / f"{n}-{path.parent.name}-{key}"
                out.write_text(text)
PY

status=0
for f in "$WORK"/*-kadet.toml; do
    [[ -e "$f" ]] || continue
    sed -i -e "s#/etc/kadet/#$ROOT/etc/kadet/#g" -e "s#/var/lib/kadet/#$ROOT/var/lib/kadet/#g" "$f"
    echo "kadet serve --check-config: $(basename "$f")"
    "$KADET" serve --check-config --config "$f" || status=1
done
NATS_SERVER="${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
for f in "$WORK"/*-nats.conf; do
    [[ -e "$f" ]] || continue
    if [[ ! -x "$NATS_SERVER" ]]; then
        echo "nats-server not found: $(basename "$f") not checked"
        continue
    fi
    # The included accounts file comes from a Secret: an empty stand-in.
    mkdir -p "$(dirname "$f")/auth" && : >"$(dirname "$f")/auth/auth.conf"
    echo "nats-server -t: $(basename "$f")"
    POD_NAME=nats-0 "$NATS_SERVER" -c "$f" -t || status=1
done
exit $status
