//! First-seen values through the real binary (`tests/data/first_seen.jsonl`):
//! kadet learns for a day (a week for Secrets), then reports a service
//! account's new public address and a person's first Secret read, once, in
//! one scan or across two with `--state`.

use crate::common::scan_alerts;
use std::ffi::OsStr;
use std::path::Path;

fn data() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/first_seen.jsonl")
}

fn first_seen_alerts(files: &[&Path], state: Option<&Path>) -> Vec<(String, String)> {
    let mut got = Vec::new();
    for f in files {
        let mut args: Vec<&OsStr> = Vec::new();
        if let Some(s) = state {
            args.extend([OsStr::new("--state"), s.as_os_str()]);
        }
        args.push(f.as_os_str());
        for a in scan_alerts(args) {
            let id = a["rule_id"].as_str().unwrap_or("");
            if id == "Kadet.ServiceAccount.NewPublicSourceAddress"
                || id == "Kadet.Secret.FirstReadByPerson"
            {
                let value = a["context"]["first_seen"]["value"].as_str().unwrap_or("?");
                let user = a["context"]["username"].as_str().unwrap_or("?");
                got.push((id.to_string(), format!("{user}: {value}")));
            }
        }
    }
    got
}

fn want() -> Vec<(String, String)> {
    vec![
        (
            "Kadet.ServiceAccount.NewPublicSourceAddress".to_string(),
            "system:serviceaccount:ci:deployer: 185.199.110.153".to_string(),
        ),
        (
            "Kadet.Secret.FirstReadByPerson".to_string(),
            "bob@example.com: secrets".to_string(),
        ),
    ]
}

#[test]
fn new_values_are_reported_once_after_learning_and_known_ones_never() {
    // Day one is learning: its addresses and alice's read are remembered,
    // not reported. Day nine: 81.2.69.160 and alice are known; the new
    // address (twice) and bob's first read are reported once each.
    assert_eq!(first_seen_alerts(&[&data()], None), want());
}

#[test]
fn a_state_file_keeps_what_was_learned_between_scans() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(data()).expect("data");
    let (day1, day9): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.contains("\"d1-"));
    let (f1, f9) = (dir.path().join("day1.jsonl"), dir.path().join("day9.jsonl"));
    std::fs::write(&f1, day1.join("\n") + "\n").expect("write");
    std::fs::write(&f9, day9.join("\n") + "\n").expect("write");
    let state = dir.path().join("kadet.state");
    assert_eq!(first_seen_alerts(&[&f1, &f9], Some(&state)), want());
    // Day nine alone has learned nothing: everything is still learning.
    assert!(first_seen_alerts(&[&f9], None).is_empty());
}

/// `tests/data/first_seen_more.jsonl`: eight days of a cluster. After a
/// week of learning, mallory's DaemonSet opens a namespace nobody used (its
/// Pod a minute later is no longer new; the controllers' Pods and a
/// ConfigMap do not count), and a service account is refused two kinds of
/// resource it never was (one alert, two events); bob's refusal was learned,
/// the scheduler is the control plane, and carol's Pod was refused by
/// admission, not by the authorizer.
#[test]
fn a_new_namespace_and_a_first_denial_are_reported_after_learning() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/first_seen_more.jsonl");
    let got: Vec<(String, String, u64)> =
        scan_alerts([OsStr::new("--include-disabled"), data.as_os_str()])
            .into_iter()
            .filter(|a| {
                a["rule_id"] == "Kadet.Namespace.FirstWorkload"
                    || a["rule_id"] == "Kadet.Authorization.FirstDenialForResource"
            })
            .map(|a| {
                (
                    a["rule_id"].as_str().unwrap_or("").to_string(),
                    a["dedup"].as_str().unwrap_or("").to_string(),
                    a["event_count"].as_u64().unwrap_or(0),
                )
            })
            .collect();
    assert_eq!(
        got,
        [
            (
                "Kadet.Namespace.FirstWorkload".to_string(),
                "kadet_new_workload_namespace::kube-monitoring".to_string(),
                1
            ),
            (
                "Kadet.Authorization.FirstDenialForResource".to_string(),
                "kadet_first_denial::system:serviceaccount:prod:api".to_string(),
                2
            ),
        ]
    );
    // Off by default: without --include-disabled only the namespace.
    let default: Vec<String> = scan_alerts([data.as_os_str()])
        .into_iter()
        .filter_map(|a| a["rule_id"].as_str().map(str::to_string))
        .filter(|id| id.starts_with("Kadet.Namespace.") || id.starts_with("Kadet.Authorization."))
        .collect();
    assert_eq!(default, ["Kadet.Namespace.FirstWorkload"]);
}
