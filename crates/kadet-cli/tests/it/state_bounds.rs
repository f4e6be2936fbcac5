//! The per-rule limit on open windows through the real binary: at the
//! limit a rule closes its window that would close first, `scan` still
//! reports every alert, and the summary says how many windows closed early.

use crate::common::kadet_ok;

/// Token requests by `n` different people (one seed-rule window each).
fn token_requests(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"a{i}","stage":"ResponseComplete","verb":"create","user":{{"username":"person{i}@example.com"}},"sourceIPs":["10.0.0.9"],"objectRef":{{"resource":"serviceaccounts","subresource":"token","namespace":"ns","name":"sa"}},"responseStatus":{{"code":201}},"requestObject":{{"kind":"TokenRequest","spec":{{"expirationSeconds":31536000}}}},"requestReceivedTimestamp":"2026-11-02T10:{i:02}:00Z","stageTimestamp":"2026-11-02T10:{i:02}:00Z"}}"#
            ) + "\n"
        })
        .collect()
}

fn scan(extra: &[&str], input: &str) -> (Vec<String>, String) {
    let out = kadet_ok(
        ["scan", "--format", "jsonl"]
            .iter()
            .chain(extra)
            .chain(&["-"]),
        Some(input),
    );
    let users = crate::common::json_lines(&out.stdout)
        .into_iter()
        .filter(|a| a["rule_id"] == "Kubernetes.ServiceAccount.TokenCreated")
        .map(|a| a["title"].as_str().unwrap_or("").to_string())
        .collect();
    (users, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_rule_at_its_key_limit_closes_windows_early_and_loses_no_alert() {
    let input = token_requests(5);
    let (all, summary) = scan(&[], &input);
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(!summary.contains("closed early"), "{summary}");

    let (bounded, summary) = scan(&["--max-keys-per-rule", "2"], &input);
    let (mut a, mut b) = (all.clone(), bounded.clone());
    a.sort();
    b.sort();
    assert_eq!(a, b, "the same alerts, some raised early");
    let early: u64 = summary
        .lines()
        .find_map(|l| l.split_once("windows closed early, their rule at --max-keys-per-rule: "))
        .and_then(|(_, n)| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count of windows closed early: {summary}"));
    assert!(early >= 3, "five keys, two kept: {summary}");
}
