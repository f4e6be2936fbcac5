//! What an alert says: on every real log kadet has (the attack chain, the
//! Stratus detonations, the datasets), no alert of any rule, enabled or not,
//! shows a placeholder such as `<NO_P_SOURCE_LABEL>` or `<UNKNOWN_USER>` in
//! its title or dedup string, or starts or ends either with a space.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every log file the tests keep, real or recorded from a real cluster.
fn real_logs() -> Vec<PathBuf> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/datasets");
    let mut out = vec![root().join("tests/attack-chain/compromise.jsonl")];
    for dir in [
        root().join("tests/stratus"),
        data.join("falco-k8s-audit-traces"),
        data.join("audit2rbac-demo"),
        data.join("rbac-tool-auditgen"),
    ] {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let is_log =
                name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".log");
            if is_log {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `<UPPER_CASE>` words, Panther's way of saying "this field was missing".
fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let word = &after[..end];
        let upper = !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c == ' ');
        if upper {
            found.push(&rest[start..start + end + 2]);
        }
        rest = &after[end..];
    }
    found
}

#[test]
fn placeholder_finder_sees_panther_placeholders_only() {
    assert_eq!(
        placeholders("on [<NO_P_SOURCE_LABEL>] by <UNKNOWN_USER>"),
        vec!["<NO_P_SOURCE_LABEL>", "<UNKNOWN_USER>"]
    );
    assert!(placeholders("a < b and <html> and x<y>z").is_empty());
}

#[test]
fn no_alert_on_real_logs_shows_a_placeholder_or_stray_spaces() {
    let logs = real_logs();
    assert!(logs.len() > 40, "found only {} logs", logs.len());
    let args = std::iter::once(std::ffi::OsString::from("--include-disabled"))
        .chain(logs.iter().map(|l| l.clone().into_os_string()));
    let mut problems = Vec::new();
    let mut alerts = 0;
    for alert in crate::common::scan_alerts(args) {
        alerts += 1;
        let rule = alert["rule_id"].as_str().unwrap_or_default();
        for field in ["title", "dedup"] {
            let text = alert[field].as_str().unwrap_or_default();
            let found = placeholders(text);
            if !found.is_empty() {
                problems.push(format!("{rule} {field} {text:?}: {found:?}"));
            }
            if text.trim() != text {
                problems.push(format!("{rule} {field} {text:?}: spaces around it"));
            }
        }
    }
    assert!(alerts > 50, "only {alerts} alerts");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
