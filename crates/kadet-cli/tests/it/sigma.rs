//! Sigma rules through the real `kadet` binary: loading beside Panther
//! rules, `test` with sidecar files, `rules list`/`show`, `explain`, scans
//! with correlations, output snapshots and load errors.

use assert_cmd::Command;
use std::path::PathBuf;

fn kadet() -> Command {
    let mut c = Command::cargo_bin("kadet").expect("binary builds");
    c.env_remove("RUST_LOG");
    c
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sigmahq() -> String {
    root().join("rules/sigma").display().to_string()
}

fn conformance() -> String {
    root()
        .join("crates/kadet-rules/tests/sigma")
        .display()
        .to_string()
}

/// Ten events: five forbidden requests by eve, four by mallory, and an
/// exec into a pod by alice.
fn events() -> String {
    format!(
        "{}/tests/data/sigma_events.jsonl",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn kadet_test_runs_the_sidecar_tests() {
    let out = kadet()
        .args(["test", "-q", &sigmahq()])
        .output()
        .expect("runs");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("20 rules tested"), "{stdout}");
    assert!(stdout.contains(", 0 failed"), "{stdout}");
    let out = kadet()
        .args(["test", "-q", &conformance()])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stdout));
}

#[test]
fn a_failing_sidecar_test_names_the_rule_and_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = root().join("rules/sigma/kubernetes_audit_deployment_deleted.yml");
    std::fs::copy(&rule, dir.path().join("r.yml")).expect("copy");
    std::fs::write(
        dir.path().join("r.tests.yml"),
        "Tests:\n  - Name: flipped\n    ExpectedResult: false\n    Log: {\"verb\": \"delete\", \"objectRef\": {\"resource\": \"deployments\"}}\n",
    )
    .expect("write");
    let out = kadet().arg("test").arg(dir.path()).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FAIL  40967487-139b-4811-81d9-c9767a92aa5a / flipped"),
        "{stdout}"
    );
    assert!(stdout.contains("r.yml"), "{stdout}");
    // A sidecar given on its own is pointed at its rule file.
    let out = kadet()
        .arg("test")
        .arg(dir.path().join("r.tests.yml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("sidecar test file"));
}

#[test]
fn rules_list_shows_both_formats_and_builtin_adds_the_pack() {
    let out = kadet()
        .args(["rules", "list", "--rules", "builtin", "--rules", &sigmahq()])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().next().unwrap_or("").contains("Format"),
        "{stdout}"
    );
    let seed = stdout
        .lines()
        .find(|l| l.starts_with("Kubernetes.ServiceAccount.TokenCreated "))
        .expect("built-in rule listed");
    assert!(seed.contains(" panther "), "{seed}");
    let exec = stdout
        .lines()
        .find(|l| l.starts_with("a1b0ca4e-7835-413e-8471-3ff2b8a66be6"))
        .expect("Sigma rule listed");
    assert!(exec.contains(" sigma "), "{exec}");
    assert!(
        exec.ends_with("Potential Remote Command Execution In Pod Container"),
        "{exec}"
    );
    let builtin_only = kadet().args(["rules", "list"]).output().expect("runs");
    let n = |s: &str| {
        s.lines()
            .last()
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
    };
    assert_eq!(n(&stdout), n(&text(&builtin_only.stdout)) + 20);
}

#[test]
fn rules_show_has_the_sigma_metadata() {
    let out = kadet()
        .args([
            "rules",
            "show",
            "597a7e84-187d-458b-9e4f-2f5a0e676711",
            "--rules",
            &sigmahq(),
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for want in [
        "Kubernetes Potential Enumeration Activity",
        "Author       uniqu3-us3r",
        "Condition    selection_status and 1 of selection_request_*",
        "References   https://www.nccgroup.com/research/detection-engineering-for-kubernetes-clusters/",
        "False pos.   Authorized administrative maintenance via kubectl",
        "(sigma)",
        "TA0002:T1609",
        "Prefilter: a record must contain",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in\n{stdout}");
    }
}

#[test]
fn explain_walks_a_sigma_condition() {
    let out = kadet()
        .args([
            "explain",
            "--rules",
            &sigmahq(),
            "--rule",
            "a1b0ca4e-7835-413e-8471-3ff2b8a66be6",
            &events(),
        ])
        .output()
        .expect("runs");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("✓ selection:"), "{stdout}");
    assert!(
        stdout.contains("objectRef.subresource equals \"exec\" — found \"exec\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("=> MATCH: Potential Remote Command Execution In Pod Container"),
        "{stdout}"
    );
}

#[test]
fn scans_run_sigma_and_panther_rules_side_by_side() {
    let out = kadet()
        .args([
            "scan",
            "--format",
            "jsonl",
            "--rules",
            "builtin",
            "--rules",
            &sigmahq(),
            &events(),
            &format!("{}/tests/data/seed_tests.jsonl", env!("CARGO_MANIFEST_DIR")),
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let alerts = lines(&out.stdout);
    let sigma = alerts
        .iter()
        .find(|a| a["rule_id"] == "a1b0ca4e-7835-413e-8471-3ff2b8a66be6")
        .expect("the Sigma exec rule alerts");
    assert!(
        alerts
            .iter()
            .any(|a| a["rule_id"] == "Kubernetes.ServiceAccount.TokenCreated"),
        "the built-in seed rule alerts too"
    );
    assert_eq!(sigma["sigma"]["author"], "Leo Tsaousis (@laripping)");
    assert_eq!(sigma["dedup"], "create:pods:exec");
    assert!(alerts
        .iter()
        .filter(|a| a["rule_id"] == "Kubernetes.ServiceAccount.TokenCreated")
        .all(|a| a["sigma"].is_null()));
}

/// Scans a file of tests/data with one conformance rule file: the alerts
/// and standard error.
fn scan_with_conformance_rule(rule: &str, events: &str) -> (Vec<serde_json::Value>, String) {
    let out = kadet()
        .current_dir(format!("{}/tests/data", env!("CARGO_MANIFEST_DIR")))
        .args([
            "scan",
            "--format",
            "jsonl",
            "--rules",
            &format!("{}/{rule}", conformance()),
            events,
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    (lines(&out.stdout), text(&out.stderr))
}

#[test]
fn an_event_count_correlation_alerts_once_the_count_is_reached() {
    let (alerts, stderr) =
        scan_with_conformance_rule("correlation_event_count.yml", "sigma_events.jsonl");
    // eve: 5 forbidden requests in 5 minutes (gte 5); mallory: 4. The base
    // rule is counted, so it gives signals, not alerts.
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["rule_id"], "conf-many-forbidden");
    assert_eq!(alerts[0]["dedup"], "eve");
    assert_eq!(alerts[0]["event_count"], 5);
    assert_eq!(alerts[0]["severity"], "HIGH");
    assert!(stderr.contains("signals"), "{stderr}");
}

#[test]
fn a_value_count_correlation_counts_distinct_values() {
    let (alerts, _) =
        scan_with_conformance_rule("correlation_value_count.yml", "sigma_value_count.jsonl");
    // eve reads three different Secrets (gte 3 distinct names); mallory reads
    // one Secret five times: five events, one value.
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["rule_id"], "conf-many-secrets");
    assert_eq!(alerts[0]["dedup"], "eve");
    assert_eq!(alerts[0]["severity"], "HIGH");
}

#[test]
fn load_errors_name_file_line_and_feature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wide.yml");
    std::fs::write(
        &path,
        "title: t\nid: x\nlogsource: {product: kubernetes, service: audit}\ndetection:\n  selection:\n    verb: create\n    requestURI|wide|contains: x\n  condition: selection\n",
    )
    .expect("write");
    let out = kadet()
        .args(["scan", "--rules"])
        .arg(&path)
        .arg(events())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:7:16: ", path.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"wide\" modifier is not supported"),
        "{stderr}"
    );
    // Forced to Panther, the same file is not a rule at all.
    let out = kadet()
        .args(["rules", "list", "--rule-format", "panther", "--rules"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("AnalysisType"));
}

fn snapshot_scan(format: &str) -> String {
    let out = kadet()
        .current_dir(format!("{}/tests/data", env!("CARGO_MANIFEST_DIR")))
        .args([
            "scan",
            "--quiet",
            "--format",
            format,
            "--rules",
            "../../../../rules/sigma/kubernetes_audit_exec_into_container.yml",
            "--rules",
            "../../../kadet-rules/tests/sigma/correlation_event_count.yml",
            "sigma_events.jsonl",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn sigma_jsonl_alerts() {
    insta::assert_snapshot!(snapshot_scan("jsonl"));
}

#[test]
fn sigma_ocsf_alerts() {
    insta::assert_snapshot!(snapshot_scan("ocsf"));
}

/// OCSF findings of Sigma rules validate against the vendored OCSF 1.3.0
/// schema, including ATT&CK entries with a tactic and no technique.
#[test]
fn sigma_ocsf_validates_against_the_schema() {
    let schema_text = std::fs::read_to_string(format!(
        "{}/../kadet-engine/tests/data/ocsf/detection_finding.schema.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("vendored schema");
    let schema: serde_json::Value = serde_json::from_str(&schema_text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cronjob.json");
    std::fs::write(
        &path,
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"cronjobs","namespace":"default","apiGroup":"batch","apiVersion":"v1"},"stageTimestamp":"2024-05-01T10:00:00Z"}"#,
    )
    .expect("write");
    let mut out = snapshot_scan("ocsf");
    let cron = kadet()
        .args(["scan", "--quiet", "--format", "ocsf", "--rules", &sigmahq()])
        .arg(&path)
        .output()
        .expect("runs");
    out.push_str(&text(&cron.stdout));
    let mut lone_tactic = false;
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:?}\n{line}");
        lone_tactic |= v["finding_info"]["attacks"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["technique"].is_null()));
    }
    assert!(lone_tactic, "{out}");
}

#[test]
fn temporal_correlations_relate_rules_in_order_or_in_any_order() {
    let (alerts, _) =
        scan_with_conformance_rule("correlation_temporal.yml", "sigma_temporal.jsonl");
    let mut got: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            let rule = a["rule_id"].as_str().unwrap_or("?").to_string();
            let who = a["context"]["correlated_on"][0]
                .as_str()
                .unwrap_or("?")
                .to_string();
            (rule, who)
        })
        .collect();
    got.sort();
    // eve lists Secrets then opens a shell; mallory opens the shell first;
    // bob's shell comes 24 minutes after his list, past the timespan. The
    // two base rules are signals (no generate).
    assert_eq!(
        got,
        [
            ("conf-secrets-and-shell".to_string(), "eve".to_string()),
            ("conf-secrets-and-shell".to_string(), "mallory".to_string()),
            ("conf-secrets-then-shell".to_string(), "eve".to_string()),
        ],
        "{alerts:#?}"
    );
}

#[test]
fn a_count_range_is_judged_when_the_window_closes() {
    let (alerts, _) =
        scan_with_conformance_rule("correlation_count_range.yml", "sigma_events.jsonl");
    // gte 2, lte 4 within 10 minutes: mallory's 4 denials qualify, eve's 5 do
    // not (too many), though eve passed through 2, 3 and 4 on the way.
    let who: Vec<&str> = alerts
        .iter()
        .filter(|a| a["rule_id"] == "conf-few-denied")
        .filter_map(|a| a["dedup"].as_str())
        .collect();
    assert_eq!(who, ["mallory"], "{alerts:#?}");
}

#[test]
fn an_event_count_burst_that_straddles_two_windows_still_fires() {
    let (alerts, _) =
        scan_with_conformance_rule("correlation_event_count.yml", "sigma_straddle.jsonl");
    // eve: 10:07, 10:08, 10:11, 10:12 and 10:13 are five within 10 minutes,
    // though the window that opened at 10:00 holds three of her six and the
    // next one three. mallory never has five within 10 minutes.
    let who: Vec<&str> = alerts.iter().filter_map(|a| a["dedup"].as_str()).collect();
    assert_eq!(who, ["eve"], "{alerts:#?}");
}

#[test]
fn aliases_group_a_count_by_a_different_field_in_each_rule() {
    let (alerts, _) = scan_with_conformance_rule("correlation_aliases.yml", "sigma_aliases.jsonl");
    // eve is denied twice herself and once while admin impersonates her:
    // three for eve. admin's own two denials are two (grouped by
    // user.username alone, the impersonated one would have made admin three).
    let who: Vec<&str> = alerts.iter().filter_map(|a| a["dedup"].as_str()).collect();
    assert_eq!(who, ["eve"], "{alerts:#?}");
    assert_eq!(alerts[0]["event_count"], 3);
}
