#!/usr/bin/env python3
"""Lean reference implementation of kadet's seed rule, for benchmarks.

Reads raw Kubernetes audit events (one JSON object per line) from the file
given as the first argument and counts the events the rule
`k8s_serviceaccount_token_created` matches: a service account token created
through the TokenRequest API by someone other than a kubelet or a platform
component working in a system namespace.

Prints `events=N matches=M`. Standard library only.
"""

import json
import sys

SYSTEM_NAMESPACES = frozenset(("kube-system", "gke-system", "kube-node-lease", "kube-public"))
SYSTEM_USERS = frozenset(("masterclient", "aksService"))
# The spec lists ".iam.gserviceaccount.com" as a *prefix*; it is kept as
# written so this script and kadet agree on the same rule.
SYSTEM_PREFIXES = (
    ".iam.gserviceaccount.com",
    "system:serviceaccount:kube-system:",
    "eks:",
    "masterclient",
    "gke-",
    "azure-",
)
FINAL_STAGES = ("ResponseComplete", "Panic")


def is_system_principal(user):
    if user in SYSTEM_USERS or user.startswith(SYSTEM_PREFIXES):
        return True
    return user.startswith("system:") and "serviceaccount" not in user


def failed(event):
    status = event.get("responseStatus")
    if not isinstance(status, dict):
        return False
    code = status.get("code")
    if isinstance(code, bool) or not isinstance(code, (int, float)):
        return False
    return code >= 400 or 1 <= code <= 16


def matches(event):
    if event.get("verb") != "create":
        return False
    ref = event.get("objectRef")
    if not isinstance(ref, dict):
        return False
    if ref.get("resource") != "serviceaccounts" or ref.get("subresource") != "token":
        return False
    stage = event.get("stage")
    if stage is not None and stage not in FINAL_STAGES:
        return False
    if failed(event):
        return False
    user = event.get("user")
    username = user.get("username", "") if isinstance(user, dict) else ""
    if not isinstance(username, str):
        username = ""
    if username.startswith("system:node:"):
        return False
    if is_system_principal(username) and ref.get("namespace") in SYSTEM_NAMESPACES:
        return False
    return True


def main(argv):
    if len(argv) != 2:
        print("usage: reference_seed.py EVENTS.jsonl", file=sys.stderr)
        return 2
    events = 0
    hits = 0
    loads = json.loads
    with open(argv[1], "rb") as f:
        for line in f:
            if not line.strip():
                continue
            events += 1
            try:
                event = loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and matches(event):
                hits += 1
    print(f"events={events} matches={hits}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
