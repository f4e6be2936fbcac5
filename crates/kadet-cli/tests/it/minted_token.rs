//! A minted token followed to its use, through the real binary: `kadet scan`
//! of a log where alice mints two tokens and they are used, from the same
//! place, from elsewhere, after expiry and a day later
//! (`tests/data/minted_token.jsonl`).

use crate::common::scan_alerts;
use assert_cmd::Command;
use serde_json::Value;

fn log() -> String {
    format!(
        "{}/tests/data/minted_token.jsonl",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The `Kadet.ServiceAccount.MintedTokenUsed` alerts of a scan, in order.
fn uses(args: &[&str]) -> Vec<Value> {
    let log = log();
    let args = args.iter().copied().chain([log.as_str()]);
    scan_alerts(args)
        .into_iter()
        .filter(|a| a["rule_id"] == "Kadet.ServiceAccount.MintedTokenUsed")
        .collect()
}

fn summary(a: &Value) -> (String, String, u64) {
    let ip = a["context"]["sourceIPs"][0]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let sev = a["severity"].as_str().unwrap_or("?").to_string();
    (ip, sev, a["event_count"].as_u64().unwrap_or(0))
}

#[test]
fn each_use_of_a_live_minted_token_is_an_alert_naming_the_minting() {
    let alerts = uses(&[]);
    let got: Vec<_> = alerts.iter().map(summary).collect();
    assert_eq!(
        got,
        [
            ("10.20.30.40".to_string(), "MEDIUM".to_string(), 2),
            ("10.99.0.7".to_string(), "CRITICAL".to_string(), 1),
            ("81.2.69.160".to_string(), "CRITICAL".to_string(), 1),
        ],
        "the same place twice; elsewhere with curl; from the internet a day later. \
         Not: carol's token after it expired, a token minted before the log, a pod's own token"
    );
    for a in &alerts {
        let f = &a["context"]["follows"];
        assert_eq!(f["user"], "alice@example.com");
        assert_eq!(f["namespace"], "prod");
        assert_eq!(f["name"], "deployer");
        assert_eq!(f["time"], "2026-03-01T10:00:00.000000Z");
        assert_eq!(f["source_ips"][0], "10.20.30.40");
        assert_eq!(f["audit_id"], "a0000000-0000-4000-8000-000000000001");
        assert!(a["title"].as_str().is_some_and(
            |t| t.contains("(after: [alice@example.com] minted a token for [prod/deployer]")
        ));
    }
    let late = alerts[2]["context"]["follows"]["escalated_by"].to_string();
    assert!(
        late.contains("new source address 81.2.69.160") && late.contains("used 25 h after"),
        "{late}"
    );
}

#[test]
fn a_tuned_bound_forgets_a_token_before_it_expires() {
    let dir = tempfile::tempdir().expect("tmp");
    let tuning = dir.path().join("t.yml");
    std::fs::write(
        &tuning,
        "AnalysisType: tuning\nTuning:\n  - Rules: [Kadet.ServiceAccount.TokenMinted]\n    Reason: follow minted tokens for an hour only\n    DedupPeriodMinutes: 60\n",
    )
    .expect("write");
    let alerts = uses(&["--tuning", &tuning.display().to_string()]);
    let ips: Vec<_> = alerts.iter().map(|a| summary(a).0).collect();
    assert_eq!(
        ips,
        ["10.20.30.40", "10.99.0.7"],
        "the use a day later is past the bound"
    );
}

#[test]
fn a_follower_without_its_lead_is_refused_or_left_out_with_a_warning() {
    let rules = format!(
        "{}/../../rules/kadet/kadet_serviceaccount_minted_token_used.yml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::cargo_bin("kadet")
        .expect("binary builds")
        .args(["scan", "--rules", &rules])
        .arg(log())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kadet_serviceaccount_minted_token_used.yml:")
            && err.contains("no rule \"Kadet.ServiceAccount.TokenMinted\" is loaded"),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let tuning = dir.path().join("t.yml");
    std::fs::write(
        &tuning,
        "AnalysisType: tuning\nTuning:\n  - Rules: [Kadet.ServiceAccount.TokenMinted]\n    Reason: not wanted\n    Enabled: false\n",
    )
    .expect("write");
    let out = Command::cargo_bin("kadet")
        .expect("binary builds")
        .args(["scan", "--format", "jsonl", "--tuning"])
        .arg(&tuning)
        .arg(log())
        .output()
        .expect("runs");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Kadet.ServiceAccount.MintedTokenUsed is left out: it builds on Kadet.ServiceAccount.TokenMinted, which is not enabled"),
        "{err}"
    );
}

#[test]
fn a_state_file_carries_the_minting_from_one_daily_scan_to_the_next() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(log()).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    let (day1, day2) = (dir.path().join("day1.jsonl"), dir.path().join("day2.jsonl"));
    std::fs::write(&day1, lines[..2].join("\n") + "\n").expect("write");
    std::fs::write(&day2, lines[2..].join("\n") + "\n").expect("write");
    let state = dir.path().join("kadet.state");
    let run = |file: &std::path::Path| -> Vec<Value> {
        scan_alerts([
            std::ffi::OsStr::new("--state"),
            state.as_os_str(),
            file.as_os_str(),
        ])
    };
    let first = run(&day1);
    let rules = |alerts: &[Value]| -> Vec<String> {
        alerts
            .iter()
            .map(|a| a["rule_id"].as_str().unwrap_or("?").to_string())
            .collect()
    };
    assert_eq!(
        rules(&first),
        [
            "Kubernetes.ServiceAccount.TokenCreated",
            "Kubernetes.ServiceAccount.TokenCreated"
        ],
        "day one: the two mintings"
    );
    assert!(state.is_file());
    let second = run(&day2);
    let uses: Vec<&Value> = second
        .iter()
        .filter(|a| a["rule_id"] == "Kadet.ServiceAccount.MintedTokenUsed")
        .collect();
    assert_eq!(
        uses.len(),
        3,
        "day two follows day one's tokens: {second:#?}"
    );
    assert_eq!(uses[0]["context"]["follows"]["user"], "alice@example.com");
    assert!(
        !rules(&second).contains(&"Kubernetes.ServiceAccount.TokenCreated".to_string()),
        "day one's alerts are not raised again"
    );
    // Without the state file, day two alone follows nothing.
    assert!(uses_without_state(&day2).is_empty());

    std::fs::write(&state, "not a state file").expect("write");
    let out = Command::cargo_bin("kadet")
        .expect("binary builds")
        .args(["scan", "--state"])
        .arg(&state)
        .arg(&day2)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kadet.state: not a kadet state file"), "{err}");
}

fn uses_without_state(file: &std::path::Path) -> Vec<Value> {
    scan_alerts([file])
        .into_iter()
        .filter(|a| a["rule_id"] == "Kadet.ServiceAccount.MintedTokenUsed")
        .collect()
}
