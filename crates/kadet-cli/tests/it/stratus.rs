//! Every Stratus Red Team Kubernetes technique is detected by the built-in
//! pack: each event in tests/stratus/ raises the rule tests/stratus/README.md
//! maps it to.

use assert_cmd::Command;
use std::path::PathBuf;

const TECHNIQUES: [&str; 8] = [
    "k8s.persistence.create-token",
    "k8s.credential-access.dump-secrets",
    "k8s.credential-access.steal-serviceaccount-token",
    "k8s.persistence.create-admin-clusterrole",
    "k8s.persistence.create-client-certificate",
    "k8s.privilege-escalation.hostpath-volume",
    "k8s.privilege-escalation.nodes-proxy",
    "k8s.privilege-escalation.privileged-pod",
];

#[test]
fn every_stratus_technique_is_detected() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/stratus");
    let table = std::fs::read_to_string(dir.join("README.md")).expect("mapping table");
    for t in TECHNIQUES {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| `{t}`")))
            .unwrap_or_else(|| panic!("README.md maps {t}"));
        let rules_cell = row
            .trim_matches('|')
            .split('|')
            .nth(2)
            .expect("rule column");
        let rule = rules_cell.split('`').nth(1).expect("a RuleID in backticks");
        let out = Command::cargo_bin("kadet")
            .expect("binary")
            .args(["scan", "--emit", "matches", "--format", "jsonl", "--quiet"])
            .arg(dir.join(format!("{t}.jsonl")))
            .output()
            .expect("runs");
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        let fired: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["rule_id"].as_str().map(str::to_string))
            .collect();
        assert!(
            fired.iter().any(|r| r == rule),
            "{t}: expected {rule}, got {fired:?}"
        );
    }
}
