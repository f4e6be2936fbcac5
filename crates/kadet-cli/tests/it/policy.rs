//! `kadet policy`: the Policy it writes leaves no rule blind, the Policy in
//! docs/serve.md blinds only the rule it says it does, and a Policy
//! kube-apiserver would refuse is an error naming the file.

use assert_cmd::Command;
use std::path::PathBuf;

fn kadet() -> Command {
    let mut c = Command::cargo_bin("kadet").expect("binary");
    c.env_remove("RUST_LOG");
    c
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_written_policy_leaves_every_rule_seeing() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        vec!["policy"],
        vec![
            "policy",
            "--include-disabled",
            "--rules",
            "builtin",
            "--rules",
            "../../rules/sigma",
        ],
    ] {
        let out = kadet().args(&args).output().expect("runs");
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
            .args(&args)
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
