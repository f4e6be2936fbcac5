//! A whole intrusion across events (`tests/intrusion/`): a token minted by a
//! person, used an hour later from a new public address, then used for a
//! privileged binding. The use alert names the minting, the sequence alert
//! ties the binding to the token, and the platform doing the same kinds of
//! steps raises nothing.

use crate::common::scan_alerts;
use serde_json::Value;
use std::path::PathBuf;

fn scan(file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/intrusion")
        .join(file);
    scan_alerts([path])
}

fn by_rule<'a>(alerts: &'a [Value], id: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["rule_id"] == id).collect()
}

#[test]
fn the_use_names_the_minting_and_the_binding_completes_the_sequence() {
    let alerts = scan("minted_token_to_binding.jsonl");
    let uses = by_rule(&alerts, "Kadet.ServiceAccount.MintedTokenUsed");
    assert_eq!(
        uses.len(),
        1,
        "two uses from one address: one alert\n{alerts:#?}"
    );
    let u = uses[0];
    assert_eq!(u["severity"], "CRITICAL");
    assert_eq!(u["event_count"], 2);
    let f = &u["context"]["follows"];
    assert_eq!(f["user"], "alice@example.com");
    assert_eq!(f["time"], "2026-05-04T10:00:00.000000Z");
    assert_eq!(f["source_ips"], serde_json::json!(["10.20.30.40"]));
    assert_eq!(f["audit_id"], "i-01");
    assert_eq!(f["minutes_after"], 60);
    let why = f["escalated_by"].to_string();
    assert!(
        why.contains("new source address 81.2.69.160") && why.contains("new user agent curl/8.5.0"),
        "{why}"
    );

    let seq = by_rule(
        &alerts,
        "Kadet.Correlation.MintedTokenUsedForPrivilegedBinding",
    );
    assert_eq!(seq.len(), 1, "{alerts:#?}");
    assert_eq!(seq[0]["severity"], "CRITICAL");
    assert_eq!(seq[0]["first_seen"], "2026-05-04T11:02:00.000000Z");
    assert_eq!(
        seq[0]["context"]["completed_by"],
        "Kadet.RBAC.PrivilegedBinding"
    );
    let mut rules: Vec<&str> = alerts
        .iter()
        .filter_map(|a| a["rule_id"].as_str())
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            "Kadet.Correlation.MintedTokenUsedForPrivilegedBinding",
            "Kadet.RBAC.PrivilegedBinding",
            "Kadet.ServiceAccount.MintedTokenUsed",
            "Kubernetes.ClusterRoleBinding.Privileged",
            "Kubernetes.ServiceAccount.TokenCreated",
            "Kubernetes.System.Principal.PublicIP",
        ],
        "exactly the alerts of tests/intrusion/README.md"
    );
}

#[test]
fn the_platform_doing_the_same_kinds_of_steps_raises_nothing() {
    let alerts = scan("platform_twins.jsonl");
    assert!(alerts.is_empty(), "{alerts:#?}");
}
