#!/usr/bin/env python3
"""Builds the raw seed corpora in fuzz/seeds-raw/<target>/ from the datasets
(shared/datasets, or the copies under crates/kadet-cli/tests/data/datasets)
and the repository's own test data, examples and rules. `cargo fuzz cmin`
then minimises them into fuzz/corpus/<target>/ (see docs/testing.md).

Usage: python3 fuzz/scripts/make_seeds.py [DATASETS_DIR]

It also writes fuzz/corpus/LICENSES/SOURCES.tsv: for each file of the
committed corpora that is one of these seeds unchanged, the source it came
from (the other files were found by the fuzzer, mutating those seeds).
"""
import base64, gzip, hashlib, json, os, subprocess, sys, pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATASETS = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent.parent / "shared" / "datasets"
if not DATASETS.is_dir():
    DATASETS = pathlib.Path("/work/shared/datasets")
OUT = ROOT / "fuzz" / "seeds-raw"


SEEDS = {}  # (target, sha1) -> source tag


def put(target, data, tag):
    if isinstance(data, str):
        data = data.encode()
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha1(data).hexdigest()
    SEEDS.setdefault((target, sha), tag)
    (d / f"{tag}-{sha[:12]}").write_bytes(data)


def zstd(data):
    try:
        return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def lines(path, limit=None):
    out = [l for l in path.read_bytes().split(b"\n") if l.strip()]
    return out[:limit] if limit else out


# Records: one line or one document each, tagged by source.
records = []
falco = DATASETS / "falco-k8s-audit-traces"
for f in sorted(falco.glob("*.json")):
    records.append(("falco", f.read_bytes()))
for f in sorted((DATASETS / "rbac-tool-auditgen").glob("*.json")):
    records.append(("rbactool", f.read_bytes()))
for l in lines(DATASETS / "audit2rbac-demo" / "demo.log", 12):
    records.append(("audit2rbac", l))
golden = [json.loads(l) for l in lines(DATASETS / "panther-k8s-golden" / "golden.jsonl")]
for g in golden:
    log = dict(g["log"])
    log.setdefault("p_log_type", g["log_type"])
    records.append(("panther", json.dumps(log).encode()))
    records.append(("panther-raw", json.dumps(g["log"]).encode()))
for f in ["aks-diagnostics.json", "eks-cloudwatch.json"]:
    records.append(("example", (ROOT / "examples" / f).read_bytes()))
for l in lines(ROOT / "examples" / "eks-cloudwatch-firehose.txt"):
    records.append(("example-b64gz", l))
for l in lines(ROOT / "examples" / "eks-cluster-audit.jsonl", 40):
    records.append(("example", l))
for f in sorted((ROOT / "crates/kadet-cli/tests/data").glob("*.json")):
    records.append(("testdata", f.read_bytes()))
for l in lines(ROOT / "crates/kadet-cli/tests/data/seed_tests.jsonl"):
    records.append(("testdata", l))
# Shapes the sources above lack: EventList, array, exported CloudWatch
# line, control message, AKS log as a string and as an object.
ev = lines(ROOT / "examples" / "eks-cluster-audit.jsonl", 1)[0].decode()
records += [
    ("shape", '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[%s,%s]}' % (ev, ev)),
    ("shape", "[%s]" % ev),
    ("shape", "2024-05-01T10:00:00.000Z " + ev),
    ("shape", '{"messageType":"CONTROL_MESSAGE","logEvents":[]}'),
    ("shape", json.dumps({"records": [{"category": "kube-audit", "resourceId": "/x/managedClusters/c1", "properties": {"log": ev}}]})),
    ("shape", json.dumps({"records": [{"category": "kube-audit", "properties": {"log": json.loads(ev)}}]})),
    ("shape", json.dumps({"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/prod/cluster", "logEvents": [{"id": "1", "timestamp": 1714557600000, "message": ev}]})),
    ("shape", b"\xef\xbb\xbf" + ev.encode()),
]
records = [(t, d.encode() if isinstance(d, str) else d) for t, d in records]
gz = lambda d: gzip.compress(d, mtime=0)
b64gz = lambda d: base64.b64encode(gz(d))

for tag, r in records:
    put("decode", r, tag)
    put("redact", r, tag)
    put("template", b"{user.username|'<UNKNOWN>'} {objectRef.resource!upper}\0" + r, tag)
    put("ingest", r, tag)

# chunk_reader and scan_prefilter: whole files (first byte of chunk_reader
# inputs: chunk and record limits).
files = [("falco", f.read_bytes()) for f in sorted(falco.glob("*.json"))[:10]]
files += [("audit2rbac", b"\n".join(lines(DATASETS / "audit2rbac-demo" / "demo.log")) + b"\n")]
files += [("example", (ROOT / "examples" / f).read_bytes()) for f in ["aks-diagnostics.json", "eks-cloudwatch.json", "eks-cloudwatch-firehose.txt"]]
cluster = lines(ROOT / "examples" / "eks-cluster-audit.jsonl")
for i in range(0, min(len(cluster), 400), 40):
    files.append(("example", b"\n".join(cluster[i:i + 40]) + b"\n"))
files.append(("golden", b"\n".join(json.dumps(dict(g["log"], p_log_type=g["log_type"])).encode() for g in golden[:60]) + b"\n"))
files.append(("golden-raw", b"\n".join(json.dumps(g["log"]).encode() for g in golden) + b"\n"))
for tag, f in files:
    put("scan_prefilter", f, tag)
    for sizes in (0x00, 0x35, 0xa8):
        put("chunk_reader", bytes([sizes]) + f, tag)
    put("chunk_reader", bytes([0x46]) + gz(f), tag + "-gz")
    z = zstd(f)
    if z:
        put("chunk_reader", bytes([0x46]) + z, tag + "-zst")

# rules_load: every rule file alone, rules with the libraries, the libraries,
# Falco's YAML (another dialect: load errors, but parser coverage),
# and YAML that attacks the parser.
libs = b"\0".join((ROOT / "rules/lib" / n).read_bytes() for n in ["common.yml", "kubernetes.yml", "kadet.yml"])
for f in sorted((ROOT / "rules").glob("*/*.yml")):
    put("rules_load", f.read_bytes(), "rule")
    if f.parent.name != "lib":
        put("rules_load", f.read_bytes() + b"\0" + libs, "rule-lib")
put("rules_load", (DATASETS / "falco-k8saudit-rules" / "k8s_audit_rules.yaml").read_bytes()[:6000], "falco-rules")
laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
prev = "a"
for c in "bcdefghi":
    laughs += f"{c}: &{c} [" + ",".join(["*" + prev] * 9) + "]\n"
    prev = c
put("rules_load", "AnalysisType: rule\nRuleID: bomb\n" + laughs + "Detection:\n  - Key: verb\n    Condition: IsIn\n    Values: *i\n", "alias-bomb")
put("rules_load", "AnalysisType: rule\nRuleID: deep\nDetection:\n  - " + "All:\n" + "".join("  " * (i + 2) + "- All:\n" for i in range(60)) + "  " * 62 + "- Key: verb\n" + "  " * 62 + "  Condition: Exists\n", "deep-all")
put("rules_load", "AnalysisType: rule\nRuleID: deepflow\nTags: " + "[" * 300 + "]" * 300 + "\n", "deep-flow")

# template: every AlertTitle, Dedup and template-valued context of the
# pack, against the sample events (no NUL) and a few records.
import re
titles = set()
for f in sorted((ROOT / "rules").glob("*/*.yml")):
    for m in re.finditer(r"^\s*(?:AlertTitle|Dedup|Title|Template):\s*(.+)$", f.read_text(), re.M):
        t = m.group(1).strip()
        if len(t) >= 2 and t[0] in "'\"" and t[-1] == t[0]:
            t = t[1:-1].replace("''", "'") if t[0] == "'" else json.loads(t)
        titles.add(t)
for t in sorted(titles):
    put("template", t, "title")
for t in ["{requestObject.spec.containers[*].securityContext.capabilities.add!only:danger!unique!sort!join:'+'}",
          "{requestURI!regex:'command=([^&]*)'!urldecode!lower|'none'}",
          "{{literal}} {sourceIPs[0]} {user.groups[*]!first} {p_log_type} {p_source_label|'?'}",
          "{protoPayload.methodName!last_segment:.} {resourceId!regex:'(?i)managedclusters/([^/]+)'}"]:
    put("template", t, "filters")

# ingest: request bodies of /v1/audit, /v1/aks and /v1/firehose.
for tag, f in files[:6]:
    put("ingest", f, tag)
    put("ingest", gz(f), tag + "-gz")
for l in lines(ROOT / "examples" / "eks-cloudwatch-firehose.txt"):
    put("ingest", json.dumps({"requestId": "r-1", "timestamp": 1, "records": [{"data": l.decode()}]}), "firehose")
payload = json.dumps({"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/prod/cluster", "logEvents": [{"id": "1", "timestamp": 1, "message": ev}]}).encode()
put("ingest", json.dumps({"requestId": "r-2", "records": [{"data": base64.b64encode(payload).decode()}, {"data": b64gz(payload + payload).decode()}]}), "firehose")
put("ingest", gz(b" " * (1 << 20)), "gzip-bomb")
put("ingest", "[" * 5000, "deep")
print("seeds in", OUT)

# Which committed corpus files are seeds, and from where.
SOURCE_OF_TAG = {
    "falco": "falco-k8s-audit-traces dataset",
    "rbactool": "rbac-tool-auditgen dataset",
    "audit2rbac": "audit2rbac-demo dataset",
    "panther": "panther-k8s-golden dataset",
    "panther-raw": "panther-k8s-golden dataset",
    "golden": "panther-k8s-golden dataset",
    "golden-raw": "panther-k8s-golden dataset",
    "falco-rules": "falco-k8saudit-rules dataset",
}
corpus = ROOT / "fuzz" / "corpus"
rows = []
for target_dir in sorted(p for p in corpus.iterdir() if p.is_dir() and p.name != "LICENSES"):
    for f in sorted(target_dir.iterdir()):
        tag = SEEDS.get((target_dir.name, f.name))
        if tag:
            base = tag.split("-gz")[0].split("-zst")[0]
            source = SOURCE_OF_TAG.get(base, "kadet repository (examples/, rules/, crates/kadet-cli/tests/data/) or written by make_seeds.py")
            rows.append(f"{target_dir.name}\t{f.name}\t{tag}\t{source}")
(corpus / "LICENSES" / "SOURCES.tsv").write_text("target\tfile\tseed\tsource\n" + "\n".join(rows) + "\n")
print(len(rows), "corpus files are unchanged seeds")
