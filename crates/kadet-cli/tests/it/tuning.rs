//! Tuning files, through the real binary: an exclusion silences exactly the
//! events it names, an expired entry stops applying, changes show in
//! `rules show` with their source, `explain` says when tuning decided, and
//! `kadet test` runs a tuning file's own tests.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn kadet() -> Command {
    Command::cargo_bin("kadet").expect("binary builds")
}

fn chain() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/attack-chain/compromise.jsonl")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

/// Excludes the deletion of kube-system's events, or expires it.
fn tuning(expires: &str) -> String {
    format!(
        "AnalysisType: tuning\nTuning:\n  - Rules: [\"Kadet.Events.*\"]\n    Reason: kube-system events are pruned by our janitor job\n    Expires: {expires}\n    Exclude:\n      - KeyPath: objectRef.namespace\n        Condition: Equals\n        Value: kube-system\n"
    )
}

fn alerts(args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let out = kadet()
        .args(["scan", "--format", "jsonl"])
        .args(args)
        .arg(chain())
        .output()
        .expect("runs");
    assert!(out.status.success());
    let alerts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    (alerts, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn deletions(alerts: &[serde_json::Value]) -> Vec<String> {
    alerts
        .iter()
        .filter(|a| a["rule_id"] == "Kadet.Events.Deleted")
        .map(|a| {
            a["context"]["namespace"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

#[test]
fn an_exclusion_silences_exactly_what_it_names_and_is_counted() {
    let dir = tempfile::tempdir().expect("tmp");
    let (plain, _) = alerts(&[]);
    let mut before = deletions(&plain);
    before.sort();
    assert_eq!(before, ["kube-system", "web"]);
    let t = write(dir.path(), "t.yml", &tuning("2999-12-31"));
    let (tuned, err) = alerts(&["--tuning", &t]);
    assert_eq!(deletions(&tuned), ["web"]);
    assert_eq!(tuned.len(), plain.len() - 1, "nothing else changed");
    assert!(
        err.contains("suppressed by tuning: Kadet.Events.Deleted by ") && err.contains("t.yml:3 1"),
        "{err}"
    );
}

#[test]
fn an_expired_entry_stops_applying_with_a_warning() {
    let dir = tempfile::tempdir().expect("tmp");
    let t = write(dir.path(), "t.yml", &tuning("2020-01-01"));
    let (tuned, err) = alerts(&["--tuning", &t]);
    assert_eq!(deletions(&tuned).len(), 2);
    assert!(
        err.contains("t.yml:3: tuning entry expired on 2020-01-01; it no longer applies"),
        "{err}"
    );
}

#[test]
fn changes_show_with_their_source_and_explain_names_the_exclusion() {
    let dir = tempfile::tempdir().expect("tmp");
    let t = write(
        dir.path(),
        "t.yml",
        "AnalysisType: tuning\nTuning:\n  - Rules: [Kubernetes.Pod.Exec]\n    Reason: see every exec (SEC-88)\n    Enabled: true\n    Severity: Low\n    DedupPeriodMinutes: 30\n",
    );
    let out = kadet()
        .args(["rules", "show", "Kubernetes.Pod.Exec", "--tuning", &t])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("t.yml:3: severity LOW (see every exec (SEC-88))"),
        "{text}"
    );
    assert!(text.contains("t.yml:3: enabled"), "{text}");
    assert!(text.contains("t.yml:3: dedup period 30 minutes"), "{text}");
    // The disabled rule, enabled by tuning, now alerts.
    let (tuned, _) = alerts(&["--tuning", &t]);
    let exec: Vec<&serde_json::Value> = tuned
        .iter()
        .filter(|a| a["rule_id"] == "Kubernetes.Pod.Exec")
        .collect();
    assert!(!exec.is_empty());
    assert!(exec.iter().all(|a| a["severity"] == "LOW"));

    let x = write(dir.path(), "x.yml", &tuning("2999-12-31"));
    let event = dir.path().join("event.jsonl");
    let line = std::fs::read_to_string(chain())
        .expect("chain")
        .lines()
        .find(|l| l.contains("deletecollection") && l.contains("kube-system"))
        .expect("the deletion")
        .to_string();
    std::fs::write(&event, line).expect("write");
    let out = kadet()
        .args(["explain", "--rule", "Kadet.Events.Deleted", "--tuning", &x])
        .arg(&event)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("=> SUPPRESSED by tuning") && text.contains("x.yml:3"),
        "{text}"
    );
}

#[test]
fn a_tuning_file_carries_tests_and_problems_are_positioned() {
    let dir = tempfile::tempdir().expect("tmp");
    let event = std::fs::read_to_string(chain())
        .expect("chain")
        .lines()
        .find(|l| l.contains("deletecollection") && l.contains("kube-system"))
        .expect("the deletion")
        .to_string();
    let mut text = tuning("2999-12-31");
    text.push_str(&format!(
        "Tests:\n  - Name: janitor deletions no longer alert\n    RuleID: Kadet.Events.Deleted\n    ExpectedResult: false\n    Log: {event}\n  - Name: this one is wrong on purpose\n    RuleID: Kadet.Events.Deleted\n    ExpectedResult: true\n    Log: {event}\n"
    ));
    let t = write(dir.path(), "t.yml", &text);
    let out = kadet()
        .args(["test", "--tuning", &t, "--filter", "Kadet.Events"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("PASS  Kadet.Events.Deleted / janitor deletions no longer alert"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL  Kadet.Events.Deleted / this one is wrong on purpose"),
        "{stdout}"
    );
    // The failure names the tuning entry that took the match away.
    assert!(
        stdout.contains(&format!(
            "suppressed by the tuning entry at {t}:3 (Reason: kube-system events are pruned"
        )),
        "{stdout}"
    );
    let bad = write(
        dir.path(),
        "bad.yml",
        "AnalysisType: tuning\nTuning:\n  - Rules: [X]\n    Reason: r\n    Severity: Loud\n",
    );
    let out = kadet()
        .args(["scan", "--tuning", &bad])
        .arg(chain())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yml:3: Severity \"Loud\""), "{err}");
}
