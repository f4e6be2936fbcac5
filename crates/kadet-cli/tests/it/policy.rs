//! `kadet policy`: the Policy it writes leaves no rule blind, the Policy in
//! docs/serve.md blinds only the rule it says it does, and a Policy
//! kube-apiserver would refuse is an error naming the file. kube-apiserver's
//! own loader (`kube-audit-policy-check`, built by .ci/run from Debian's
//! kubernetes source) accepts every Policy kadet writes or documents, and
//! refuses exactly the Policies `kadet policy --check` refuses.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn kadet() -> Command {
    let mut c = Command::cargo_bin("kadet").expect("binary");
    c.env_remove("RUST_LOG");
    c
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `kadet policy` runs the tests judge: the built-in pack, and
/// everything kadet ships (disabled rules and the Sigma rules too).
const POLICY_RUNS: [&[&str]; 2] = [
    &["policy"],
    &[
        "policy",
        "--include-disabled",
        "--rules",
        "builtin",
        "--rules",
        "../../rules/sigma",
    ],
];

#[test]
fn the_written_policy_leaves_every_rule_seeing() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in POLICY_RUNS {
        let out = kadet().args(args).output().expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            text.contains("apiVersion: audit.k8s.io/v1\nkind: Policy\n"),
            "{text}"
        );
        assert!(text
            .lines()
            .all(|l| l.len() <= 80 || !l.trim_start().starts_with('#')));
        let file = dir.path().join("policy.yaml");
        std::fs::write(&file, &text).expect("writes");
        let check = kadet()
            .args(args)
            .arg("--check")
            .arg(&file)
            .output()
            .expect("runs");
        assert!(
            check.status.success(),
            "{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        assert!(check.stdout.is_empty());
    }
}

#[test]
fn the_documented_policy_blinds_only_the_configmap_rule() {
    let serve = std::fs::read_to_string(root().join("docs/serve.md")).expect("serve.md");
    let start = serve
        .find("# /etc/kubernetes/audit/policy.yaml")
        .expect("policy in serve.md");
    let end = start + serve[start..].find("```").expect("end of block");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("policy.yaml");
    std::fs::write(&file, &serve[start..end]).expect("writes");
    let out = kadet()
        .args(["policy", "--check"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let blind: Vec<&str> = text.lines().collect();
    assert_eq!(blind.len(), 1, "{text}");
    assert!(
        blind[0].starts_with(
            "Kadet.ConfigMap.CredentialKeys: configmaps (create, update, patch) logged at Metadata"
        ),
        "{text}"
    );
}

#[test]
fn a_policy_the_api_server_would_refuse_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Everything\n",
    )
    .expect("writes");
    let out = kadet()
        .args(["policy", "--check"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml"), "{err}");
    assert!(err.contains("unknown level \"Everything\""), "{err}");
}

/// kube-apiserver's audit-policy loader on `files`: for each, accepted or
/// refused, with its words.
fn kube_apiserver_loads(files: &[PathBuf]) -> Vec<(bool, String)> {
    let out = std::process::Command::new("kube-audit-policy-check")
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "kube-audit-policy-check ({e}): .ci/run builds it with \
                 .ci/install-kube-audit-policy-check.sh DIR; put DIR/bin on PATH"
            )
        });
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let verdicts: Vec<(bool, String)> = files
        .iter()
        .map(|f| {
            let head = format!("{}: ", f.display());
            let at = text
                .find(&head)
                .unwrap_or_else(|| panic!("no verdict on {}: {text}", f.display()));
            let rest = &text[at + head.len()..];
            (
                rest.starts_with("accepted"),
                rest.lines().next().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        out.status.code(),
        Some(if verdicts.iter().all(|v| v.0) { 0 } else { 1 }),
        "{text}"
    );
    verdicts
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, text).expect("writes");
    file
}

#[test]
fn kube_apiserver_loads_every_policy_kadet_writes_or_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for (i, args) in POLICY_RUNS.iter().enumerate() {
        let out = kadet().args(*args).output().expect("runs");
        assert!(out.status.success());
        let name = format!("written-{i}.yaml");
        files.push(write(
            dir.path(),
            &name,
            &String::from_utf8_lossy(&out.stdout),
        ));
    }
    let serve = std::fs::read_to_string(root().join("docs/serve.md")).expect("serve.md");
    let start = serve
        .find("# /etc/kubernetes/audit/policy.yaml")
        .expect("policy in serve.md");
    let end = start + serve[start..].find("```").expect("end of block");
    files.push(write(dir.path(), "serve-md.yaml", &serve[start..end]));
    for (file, (accepted, words)) in files.iter().zip(kube_apiserver_loads(&files)) {
        assert!(accepted, "{}: {words}", file.display());
        assert!(!words.contains(": 0 rules"), "{words}");
    }
}

/// Policies on either side of each check kube-apiserver makes.
const POLICIES: &[(&str, &str)] = &[
    ("minimal", "rules:\n- level: Metadata\n"),
    (
        "full",
        "omitStages: [RequestReceived]\nrules:\n\
         - level: None\n  users: [system:kube-proxy]\n  verbs: [watch]\n  \
           resources: [{group: \"\", resources: [endpoints, services, services/status]}]\n\
         - level: Request\n  userGroups: [system:authenticated]\n  namespaces: [kube-system]\n  \
           resources: [{group: rbac.authorization.k8s.io, resources: [\"*\"]}, {group: \"\", resources: [\"pods/*\", configmaps], resourceNames: [coredns]}]\n  \
           omitStages: [ResponseStarted, Panic]\n\
         - level: Metadata\n  nonResourceURLs: [\"/healthz*\", /version, \"*\"]\n\
         - level: RequestResponse\n",
    ),
    ("no rules", "rules: []\n"),
    ("unknown level", "rules:\n- level: Everything\n"),
    ("empty level", "rules:\n- level: \"\"\n"),
    ("no level", "rules:\n- verbs: [get]\n"),
    ("misspelt field", "rules:\n- level: Metadata\n  resorces: [{group: \"\"}]\n"),
    ("repeated field", "rules:\n- level: Metadata\n  level: None\n"),
    ("unknown stage", "omitStages: [RequestSent]\nrules:\n- level: Metadata\n"),
    ("unknown rule stage", "rules:\n- level: Metadata\n  omitStages: [Done]\n"),
    ("relative URL", "rules:\n- level: Metadata\n  nonResourceURLs: [healthz]\n"),
    ("inner wildcard", "rules:\n- level: Metadata\n  nonResourceURLs: [\"/api/*/x\"]\n"),
    (
        "URLs and resources",
        "rules:\n- level: Metadata\n  nonResourceURLs: [/healthz]\n  resources: [{group: \"\"}]\n",
    ),
    (
        "URLs and namespaces",
        "rules:\n- level: Metadata\n  nonResourceURLs: [/healthz]\n  namespaces: [default]\n",
    ),
    ("bad group", "rules:\n- level: Metadata\n  resources: [{group: Apps_V1}]\n"),
    (
        "names without resources",
        "rules:\n- level: Metadata\n  resources: [{group: \"\", resourceNames: [x]}]\n",
    ),
];

#[test]
fn kadet_refuses_exactly_the_policies_kube_apiserver_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files: Vec<PathBuf> = POLICIES
        .iter()
        .enumerate()
        .map(|(i, (_, body))| {
            let text = format!("apiVersion: audit.k8s.io/v1\nkind: Policy\n{body}");
            write(dir.path(), &format!("p{i}.yaml"), &text)
        })
        .collect();
    let wrong_kind = "apiVersion: audit.k8s.io/v1\nkind: Pod\nrules:\n- level: Metadata\n";
    files.push(write(dir.path(), "kind.yaml", wrong_kind));
    let wrong_version = "apiVersion: audit.k8s.io/v2\nkind: Policy\nrules:\n- level: Metadata\n";
    files.push(write(dir.path(), "version.yaml", wrong_version));
    let names: Vec<&str> = POLICIES
        .iter()
        .map(|p| p.0)
        .chain(["wrong kind", "wrong version"])
        .collect();
    let upstream = kube_apiserver_loads(&files);
    assert!(upstream.iter().any(|v| v.0) && upstream.iter().any(|v| !v.0));
    for ((file, name), (accepted, words)) in files.iter().zip(&names).zip(upstream) {
        let out = kadet()
            .args(["policy", "--check"])
            .arg(file)
            .output()
            .expect("runs");
        let loaded = out.status.code() != Some(2);
        assert_eq!(
            loaded,
            accepted,
            "{name}: kube-apiserver: {words}; kadet: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
