#!/usr/bin/env python3
"""Check example_valid.json against detection_finding.schema.json, and check
that a few broken copies of it are rejected.

    python3 -m venv /tmp/ocsfvenv && /tmp/ocsfvenv/bin/pip install jsonschema
    /tmp/ocsfvenv/bin/python validate.py
"""
import copy
import json
import sys
from pathlib import Path

from jsonschema import Draft202012Validator

HERE = Path(__file__).parent
schema = json.loads((HERE / "detection_finding.schema.json").read_text())
example = json.loads((HERE / "example_valid.json").read_text())
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def mutate(f):
    e = copy.deepcopy(example)
    f(e)
    return e


def errors(inst):
    return sorted(v.iter_errors(inst), key=lambda e: list(e.absolute_path))


bad = {
    "finding_info.uid removed": mutate(lambda e: e["finding_info"].pop("uid")),
    "severity_id = 9": mutate(lambda e: e.__setitem__("severity_id", 9)),
    "class_uid = 2003": mutate(lambda e: e.__setitem__("class_uid", 2003)),
    "type_uid 200402 with activity_id 1": mutate(lambda e: e.__setitem__("type_uid", 200402)),
    "metadata.product removed": mutate(lambda e: e["metadata"].pop("product")),
    "time as string": mutate(lambda e: e.__setitem__("time", "2024-05-14T09:21:07Z")),
    "src_endpoint.ip not an IP": mutate(lambda e: e["evidences"][0]["src_endpoint"].__setitem__("ip", "not-an-ip")),
    "top-level src_endpoint (not in 1.3.0 class)": mutate(lambda e: e.__setitem__("src_endpoint", {"ip": "198.51.100.23"})),
    "resource without name or uid": mutate(lambda e: e["resources"].append({"type": "pods"})),
}

ok = True
errs = errors(example)
print(f"example_valid.json: {'VALID' if not errs else 'INVALID'}")
for e in errs:
    ok = False
    print(f"  {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}")
for name, inst in bad.items():
    errs = errors(inst)
    print(f"{name}: {'rejected' if errs else 'ACCEPTED (unexpected)'}")
    for e in errs[:3]:
        print(f"  {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:160]}")
    ok &= bool(errs)
print("all checks passed" if ok else "CHECKS FAILED")
sys.exit(0 if ok else 1)
