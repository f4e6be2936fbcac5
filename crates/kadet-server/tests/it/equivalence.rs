//! `scan` ≡ `serve`, by property: random event streams (several rules,
//! dedup keys and thresholds, event times out of order within the lateness
//! bound, batches of random size) give the same alerts, with the same
//! `alert_id`s, from `kadet scan` and from `kadet serve` killed (`kill -9`)
//! and restarted at random points, with unacknowledged batches resent as
//! the API server does.

use crate::common::*;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;

/// Three rules: one alert per match, a threshold of three denials per user
/// in five minutes, and two distinct namespaces per user in ten.
const RULES: &str = "
AnalysisType: rule
RuleID: Prop.Token
Severity: High
LogTypes: [Kubernetes.Audit]
DedupPeriodMinutes: 15
Detection:
  - KeyPath: objectRef.subresource
    Condition: Equals
    Value: token
AlertTitle: \"[{user.username}] token\"
Dedup: \"{user.username}\"
";

const THRESHOLD: &str = "
AnalysisType: rule
RuleID: Prop.Denied
Severity: Medium
LogTypes: [Kubernetes.Audit]
DedupPeriodMinutes: 5
Threshold: 3
Detection:
  - KeyPath: responseStatus.code
    Condition: Equals
    Value: 403
AlertTitle: \"[{user.username}] denied\"
Dedup: \"{user.username}\"
";

const DISTINCT: &str = "
AnalysisType: rule
RuleID: Prop.Spread
Severity: Low
LogTypes: [Kubernetes.Audit]
DedupPeriodMinutes: 10
Threshold: 2
DistinctBy:
  KeyPath: objectRef.namespace
Detection:
  - Key: verb
    Condition: Equals
    Value: delete
AlertTitle: \"[{user.username}] deletes across namespaces\"
Dedup: \"{user.username}\"
";

const USERS: [&str; 3] = ["ann", "ben", "cy"];
const NAMESPACES: [&str; 3] = ["a", "b", "c"];

/// One generated event: (kind 0..4, user, namespace, seconds, jitter).
type Spec = (u8, usize, usize, u64, i64);

fn event(i: usize, spec: &Spec) -> serde_json::Value {
    let (kind, user, ns, _, _) = *spec;
    let (verb, sub, code) = match kind {
        0 => ("create", Some("token"), 201),
        1 => ("get", None, 403),
        2 => ("delete", None, 200),
        _ => ("list", None, 200),
    };
    let mut object = serde_json::json!({"resource": "serviceaccounts", "namespace": NAMESPACES[ns], "name": "sa"});
    if let Some(s) = sub {
        object["subresource"] = s.into();
    }
    serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
        "auditID": format!("00000000-0000-4000-8000-{i:012}"),
        "verb": verb, "user": {"username": USERS[user]}, "objectRef": object,
        "responseStatus": {"code": code},
    })
}

/// Events with times: a walk forward of 0..30 s per event, each time moved
/// by up to ±25 s, so no event is more than 50 s older than any event
/// before it: within a 1-minute lateness bound.
fn events(specs: &[Spec]) -> Vec<serde_json::Value> {
    let mut base = 0u64;
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            base += spec.3;
            let secs = (base as i64 + 100 + spec.4).max(0) as u64;
            let mut e = event(i, spec);
            e["stageTimestamp"] = ts(secs, i as u64 % 1000).into();
            e
        })
        .collect()
}

fn write_rules(dir: &Path) -> std::path::PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for (name, text) in [("t.yml", RULES), ("d.yml", THRESHOLD), ("s.yml", DISTINCT)] {
        std::fs::write(rules.join(name), text).unwrap();
    }
    rules
}

fn scan(dir: &Path, rules: &Path, evs: &[serde_json::Value]) -> BTreeSet<String> {
    let file = dir.join("all.jsonl");
    let text: String = evs.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(kadet_bin())
        .args([
            "scan",
            "-q",
            "--format",
            "jsonl",
            "--lateness-secs",
            "60",
            "--rules",
        ])
        .arg(rules)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    ids_of(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .collect()
}

fn serve(dir: &Path, rules: &Path, batches: &[String], kills: &BTreeSet<usize>) -> Vec<String> {
    let cfg = dir.join("kadet.toml");
    std::fs::write(
        &cfg,
        format!(
            "[listen]\naddress = \"127.0.0.1:0\"\n[rules]\npaths = [{rules:?}]\n[state]\ndir = {:?}\n\
             [detection]\nlateness_secs = 60\nidle_release_secs = 3\n\
             [[sinks]]\ntype = \"file\"\npath = {:?}\n",
            dir.join("state"),
            dir.join("alerts.jsonl")
        ),
    )
    .unwrap();
    let mut server = Server::start(&cfg, dir);
    for (i, b) in batches.iter().enumerate() {
        if kills.contains(&i) {
            server.kill9();
            server = Server::start(&cfg, dir);
        }
        let mut tries = 0;
        while post_audit(&server, b) != 200 {
            tries += 1;
            assert!(tries < 50, "batch {i} keeps failing");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    wait_idle(&reqwest::blocking::Client::new(), &server, None);
    assert!(server.terminate().success());
    ids_of(&std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap_or_default())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn serve_killed_at_random_gives_the_alerts_scan_gives(
        specs in prop::collection::vec(
            (0u8..4, 0usize..USERS.len(), 0usize..NAMESPACES.len(), 0u64..30, -25i64..=25),
            20..120,
        ),
        cuts in prop::collection::vec(1usize..12, 1..40),
        kills in prop::collection::btree_set(1usize..30, 0..3),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rules = write_rules(dir.path());
        let evs = events(&specs);
        let want = scan(dir.path(), &rules, &evs);
        // Batches of the sizes in `cuts`, cycling.
        let mut batches = Vec::new();
        let mut at = 0;
        for size in cuts.iter().cycle() {
            if at >= evs.len() {
                break;
            }
            let end = (at + size).min(evs.len());
            batches.push(event_list(&evs[at..end]));
            at = end;
        }
        let kills: BTreeSet<usize> = kills.into_iter().filter(|k| *k < batches.len()).collect();
        let got = serve(dir.path(), &rules, &batches, &kills);
        let unique: BTreeSet<String> = got.iter().cloned().collect();
        prop_assert_eq!(got.len(), unique.len(), "an alert was delivered twice");
        prop_assert_eq!(unique, want);
    }
}
