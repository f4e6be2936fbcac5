#!/usr/bin/env python3
"""Verify a signed kadet webhook delivery (X-Kadet-Signature).

Usage in a receiver: call verify(key, request.headers["X-Kadet-Signature"],
raw_body_bytes) before trusting the alert, then drop alerts whose alert_id
was already processed (deliveries are at least once).

From the command line (used by kadet's tests):
    verify_kadet_signature.py KEY_FILE HEADER BODY_FILE [NOW]
exits 0 when the signature is valid, 1 otherwise.
"""

import hashlib
import hmac
import sys
import time

TOLERANCE_SECONDS = 300  # reject deliveries signed more than 5 minutes away


def verify(key: bytes, header: str, body: bytes, now=None) -> bool:
    fields = {}
    signatures = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "v1":
            signatures.append(value)
        else:
            fields[name] = value
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    now = int(time.time()) if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return False  # too old (a replay) or from a skewed clock
    expected = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in signatures)


if __name__ == "__main__":
    key = open(sys.argv[1], "rb").read().splitlines()[0].strip()
    body = open(sys.argv[3], "rb").read()
    now = int(sys.argv[4]) if len(sys.argv) > 4 else None
    sys.exit(0 if verify(key, sys.argv[2], body, now) else 1)
