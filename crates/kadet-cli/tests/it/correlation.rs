//! Panther correlation rules through the real binary: `kadet test` runs
//! their `RuleOutputs` tests (and a wrong expectation fails), shapes kadet
//! does not run are refused with their file and line, a correlation whose
//! steps are not loaded is left out of a scan with a warning, and the
//! built-in correlation fires on the attack chain's two steps.

use assert_cmd::Command;
use std::path::PathBuf;

fn kadet() -> Command {
    let mut c = Command::cargo_bin("kadet").expect("binary builds");
    c.env_remove("RUST_LOG");
    c
}

fn conformance() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kadet-rules/tests/correlation")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn kadet_test_runs_correlation_tests_and_a_wrong_expectation_fails() {
    let out = kadet()
        .arg("test")
        .arg(conformance())
        .output()
        .expect("runs");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("3 rules tested") && stdout.contains("13 passed, 0 failed"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let original =
        std::fs::read_to_string(conformance().join("token_not_reviewed.yml")).expect("read");
    let flipped = original.replacen(
        "  - Name: Created, never approved\n    ExpectedResult: true",
        "  - Name: Created, never approved\n    ExpectedResult: false",
        1,
    );
    assert_ne!(flipped, original);
    std::fs::write(dir.path().join("r.yml"), flipped).expect("write");
    let out = kadet().arg("test").arg(dir.path()).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .contains("FAIL  Conformance.Correlation.BindingNotReviewed / Created, never approved")
            && stdout.contains("expected false, got true"),
        "{stdout}"
    );
}

#[test]
fn shapes_kadet_does_not_run_are_refused_with_their_place() {
    let dir = tempfile::tempdir().expect("tmp");
    let rule = "AnalysisType: correlation_rule\nRuleID: X\nDetection:\n  - Sequence:\n      - ID: a\n        RuleID: A\n        Absence: true\n      - ID: b\n        RuleID: B\n    Transitions:\n      - ID: t\n        From: a\n        To: b\n";
    std::fs::write(dir.path().join("x.yml"), rule).expect("write");
    let out = kadet().arg("test").arg(dir.path()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("x.yml:7:") && err.contains("Absence on the last step of a Sequence only"),
        "{err}"
    );
    let skipping = "AnalysisType: correlation_rule\nRuleID: Y\nDetection:\n  - Sequence:\n      - ID: a\n        RuleID: A\n      - ID: b\n        RuleID: B\n      - ID: c\n        RuleID: C\n    Transitions:\n      - ID: t\n        From: a\n        To: c\n";
    std::fs::write(dir.path().join("x.yml"), skipping).expect("write");
    let out = kadet().arg("test").arg(dir.path()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("none from \"a\" to \"b\""), "{err}");
}

#[test]
fn a_correlation_without_its_steps_is_left_out_of_a_scan_with_a_warning() {
    let log = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/minted_token.jsonl");
    let out = kadet()
        .args(["scan", "--rules"])
        .arg(conformance())
        .arg(&log)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("Conformance.Correlation.RepeatedDenialsThenSuccess is left out: it builds on Conformance.Denied, Conformance.Allowed, which is not enabled"),
        "{err}"
    );
}

#[test]
fn the_built_in_account_correlation_joins_three_steps_on_the_account() {
    let log =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/serviceaccount_chain.jsonl");
    let alerts: Vec<serde_json::Value> = crate::common::scan_alerts([&log])
        .into_iter()
        .filter(|a| a["rule_id"] == "Kadet.Correlation.ServiceAccountBoundThenTokenMinted")
        .collect();
    assert_eq!(
        alerts.len(),
        1,
        "prod/backup only: the second token is for another account"
    );
    let a = &alerts[0];
    assert_eq!(a["severity"], "CRITICAL");
    assert_eq!(
        a["context"]["correlated_on"],
        serde_json::json!(["prod", "backup"])
    );
    assert_eq!(
        a["context"]["completed_by"],
        "Kubernetes.ServiceAccount.TokenCreated"
    );
    assert_eq!(a["first_seen"], "2026-04-02T08:09:00.000000Z");
}
