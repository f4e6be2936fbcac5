//! Integration tests: the real `kadet` binary on real and written inputs.

use assert_cmd::Command;
use std::io::Write;
use std::path::PathBuf;

fn kadet() -> Command {
    let mut c = Command::cargo_bin("kadet").expect("binary builds");
    c.env_remove("RUST_LOG");
    c
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn seed_rule() -> String {
    root()
        .join("rules/kubernetes/k8s_serviceaccount_token_created.yml")
        .display()
        .to_string()
}

fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn seed_test_logs_give_five_matches_with_panthers_strings() {
    let out = kadet()
        .args([
            "scan",
            "--emit",
            "matches",
            "--format",
            "jsonl",
            "--rules",
            &seed_rule(),
            &data("seed_tests.jsonl"),
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = lines(&out.stdout);
    assert_eq!(m.len(), 5);
    let titles: Vec<&str> = m
        .iter()
        .map(|v| v["title"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        titles,
        [
            "[attacker@example.com] created long-lived token for service account [production/persistence-sa]",
            "[persistence-user@example.com] created long-lived token for service account [default/backdoor-sa]",
            "[attacker@example.com] created long-lived token for service account [default/attacker-sa]",
            "[admin@example.com] created long-lived token for service account [kube-system/escalation-sa]",
            "[system:kube-controller-manager] created long-lived token for service account [production/app-sa]",
        ]
    );
    assert_eq!(
        m[0]["dedup"],
        "k8s_token_created_attacker@example.com_production_persistence-sa"
    );
    assert_eq!(
        m[1]["dedup"],
        "k8s_token_created_persistence-user@example.com_default_backdoor-sa"
    );
    assert_eq!(m[1]["log_type"], "Azure.MonitorActivity");
    assert_eq!(m[1]["cluster"], "aks-cluster");
    assert_eq!(m[0]["severity"], "INFO");
    assert!(m[0]["location"]
        .as_str()
        .unwrap_or("")
        .ends_with("seed_tests.jsonl:1"));
    for v in &m {
        assert_eq!(v["rule_id"], "Kubernetes.ServiceAccount.TokenCreated");
    }
}

#[test]
fn seed_test_logs_group_into_one_alert_per_dedup_string() {
    let out = kadet()
        .args([
            "scan",
            "--format",
            "jsonl",
            "--rules",
            &seed_rule(),
            &data("seed_tests.jsonl"),
        ])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let alerts = lines(&out.stdout);
    assert_eq!(alerts.len(), 5);
    for a in &alerts {
        assert_eq!(a["event_count"], 1);
        assert_eq!(a["first_seen"], serde_json::Value::Null);
        assert_eq!(a["events"].as_array().map(Vec::len), Some(1));
        assert_eq!(a["events_cap"], 10);
        assert_eq!(a["alert_id"].as_str().map(str::len), Some(32));
    }
}

/// A TokenRequest by `user` at minute `min` after 2026-11-02T10:00Z.
fn token_event(user: &str, min: u32, id: &str) -> String {
    let (h, m) = (10 + min / 60, min % 60);
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","verb":"create","user":{{"username":"{user}"}},"objectRef":{{"resource":"serviceaccounts","subresource":"token","namespace":"prod","name":"sa"}},"responseStatus":{{"code":201}},"stageTimestamp":"2026-11-02T{h:02}:{m:02}:00.000000Z"}}"#
    )
}

fn write_temp(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

#[test]
fn dedup_windows_run_on_event_time() {
    let dir = tempfile::tempdir().expect("tmp");
    let evs = [
        token_event("u@x", 0, "a1"),
        token_event("u@x", 20, "a2"),
        token_event("u@x", 50, "a3"),
        token_event("u@x", 61, "a4"),
    ];
    let f = write_temp(&dir, "a.jsonl", &(evs.join("\n") + "\n"));
    let out = kadet()
        .args(["scan", "--format", "jsonl", "--rules", &seed_rule(), &f])
        .output()
        .expect("runs");
    let alerts = lines(&out.stdout);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["event_count"], 3);
    assert_eq!(alerts[0]["first_seen"], "2026-11-02T10:00:00.000000Z");
    assert_eq!(alerts[0]["last_seen"], "2026-11-02T10:50:00.000000Z");
    assert_eq!(alerts[1]["event_count"], 1);
    assert_eq!(alerts[1]["first_seen"], "2026-11-02T11:01:00.000000Z");
    assert_ne!(alerts[0]["alert_id"], alerts[1]["alert_id"]);

    // The same events out of order (within the lateness bound) give the same alerts.
    let shuffled = [
        evs[2].clone(),
        evs[0].clone(),
        evs[1].clone(),
        evs[3].clone(),
    ];
    let g = write_temp(&dir, "b.jsonl", &(shuffled.join("\n") + "\n"));
    let out2 = kadet()
        .args(["scan", "--format", "jsonl", "--rules", &seed_rule(), &g])
        .output()
        .expect("runs");
    let alerts2 = lines(&out2.stdout);
    assert_eq!(alerts2.len(), 2);
    for (a, b) in alerts.iter().zip(&alerts2) {
        assert_eq!(a["alert_id"], b["alert_id"]);
        assert_eq!(a["event_count"], b["event_count"]);
    }
}

#[test]
fn threshold_holds_back_alerts_until_reached() {
    let dir = tempfile::tempdir().expect("tmp");
    let rule = std::fs::read_to_string(seed_rule()).expect("seed").replace(
        "DedupPeriodMinutes: 60",
        "DedupPeriodMinutes: 60\nThreshold: 3",
    );
    let rule_path = write_temp(&dir, "rule.yml", &rule);
    let two = write_temp(
        &dir,
        "two.jsonl",
        &format!(
            "{}\n{}\n",
            token_event("u@x", 0, "a"),
            token_event("u@x", 5, "b")
        ),
    );
    let out = kadet()
        .args(["scan", "--format", "jsonl", "--rules", &rule_path, &two])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(lines(&out.stdout).is_empty());
    let three = write_temp(
        &dir,
        "three.jsonl",
        &format!(
            "{}\n{}\n{}\n",
            token_event("u@x", 0, "a"),
            token_event("u@x", 5, "b"),
            token_event("u@x", 9, "c")
        ),
    );
    let out = kadet()
        .args(["scan", "--format", "jsonl", "--rules", &rule_path, &three])
        .output()
        .expect("runs");
    let alerts = lines(&out.stdout);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["event_count"], 3);
}

#[test]
fn a_broken_rule_stops_the_run_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let rule = std::fs::read_to_string(seed_rule()).expect("seed").replace(
        "DedupPeriodMinutes: 60",
        "DedupPeriodMinutes: 60\nThreshhold: 3",
    );
    let rule_path = write_temp(&dir, "rule.yml", &rule);
    let line = rule
        .lines()
        .position(|l| l.starts_with("Threshhold"))
        .expect("typo line")
        + 1;
    let out = kadet()
        .args(["scan", "--rules", &rule_path, &data("seed_tests.jsonl")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("rule.yml:{line}:")), "{err}");
    assert!(err.contains("Threshhold"), "{err}");
    assert!(out.stdout.is_empty());

    let bad_cond = std::fs::read_to_string(seed_rule())
        .expect("seed")
        .replacen("Condition: Equals", "Condition: Equalz", 1);
    let p = write_temp(&dir, "cond.yml", &bad_cond);
    let out = kadet().args(["test", &p]).output().expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("cond.yml:") && err.contains("Equalz"), "{err}");
}

#[test]
fn bad_input_is_reported_with_location_and_the_rest_is_scanned() {
    let dir = tempfile::tempdir().expect("tmp");
    // The rule reads this body (a node's token): too deep for a tree.
    let deep_read = format!(
        "{{\"kind\":\"Event\",\"stage\":\"ResponseComplete\",\"verb\":\"create\",\"user\":{{\"username\":\"system:node:n1\"}},\"objectRef\":{{\"resource\":\"serviceaccounts\",\"subresource\":\"token\"}},\"requestObject\":{{\"spec\":{}{}}}}}",
        "[".repeat(300),
        "]".repeat(300)
    );
    let mut text = format!(
        "{}\nnot json at all\n{{\"kind\":\"Event\",\"verb\":\n{}\n{}\n{{\"kind\":\"Event\",\"verb\":\"get\",\"requestObject\":{}{}}}\n",
        token_event("a@x", 0, "1"),
        token_event("b@x", 1, "2"),
        deep_read,
        // No rule reads this one's body: it costs nothing and is no error.
        "[".repeat(300),
        "]".repeat(300)
    )
    .into_bytes();
    text.extend_from_slice(b"{\"kind\":\"Event\",\"verb\":\"\xff\xfe\"}\n");
    // A match whose body no rule read holds a number no parser takes: the
    // whole parse for the alert refuses it, and it is skipped, not counted.
    let unread = token_event("c@x", 2, "3").replacen('{', "{\"responseObject\":{\"n\":1e400},", 1);
    text.extend_from_slice(format!("{unread}\n").as_bytes());
    let f = dir.path().join("bad.jsonl");
    std::fs::write(&f, &text).expect("write");
    let f = f.display().to_string();
    let out = kadet()
        .args([
            "scan",
            "--no-prefilter",
            "--format",
            "jsonl",
            "--rules",
            &seed_rule(),
            &f,
        ])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert_eq!(lines(&out.stdout).len(), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.jsonl:2: malformed-json"), "{err}");
    assert!(err.contains("bad.jsonl:3: malformed-json"), "{err}");
    assert!(err.contains("bad.jsonl:5: too-deep"), "{err}");
    assert!(!err.contains("bad.jsonl:6:"), "{err}");
    assert!(err.contains("bad.jsonl:7: invalid-utf8"), "{err}");
    assert!(err.contains("bad.jsonl:8: malformed-json"), "{err}");
    assert!(err.contains("events parsed: Kubernetes.Audit 3\n"), "{err}");
    assert!(err.contains("skipped: "), "{err}");
}

#[test]
fn cat_decodes_every_dataset_record_except_the_invalid_falco_trace() {
    for (dir, events) in [
        ("datasets/falco-k8s-audit-traces", 51),
        ("datasets/audit2rbac-demo", 37),
        ("datasets/rbac-tool-auditgen", 6),
    ] {
        let out = kadet().args(["cat", &data(dir)]).output().expect("runs");
        assert!(out.status.success());
        let evs = lines(&out.stdout);
        assert_eq!(evs.len(), events, "{dir}");
        let err = String::from_utf8_lossy(&out.stderr);
        let skipped: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("kadet: skipped"))
            .collect();
        if dir.contains("falco") {
            assert_eq!(skipped.len(), 1, "{err}");
            assert!(
                skipped[0].contains("fal_01_003.json:1: unknown-shape"),
                "{err}"
            );
        } else {
            assert!(skipped.is_empty(), "{err}");
        }
    }
}

#[test]
fn cat_maps_every_source_to_the_canonical_event() {
    // EventList, with the minted token redacted.
    let out = kadet()
        .args(["cat", &data("eventlist.json")])
        .output()
        .expect("runs");
    let evs = lines(&out.stdout);
    assert_eq!(evs.len(), 2);
    assert_eq!(
        evs[1]["location"],
        format!("{}:1#1", data("eventlist.json"))
    );
    assert_eq!(
        evs[1]["event"]["responseObject"]["status"]["token"],
        "[REDACTED]"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("FAKESIGNATURE"));
    let out = kadet()
        .args(["cat", "--no-redact", &data("eventlist.json")])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAKESIGNATURE"));

    // AKS batch with an object-form log; the kube-apiserver record is ignored.
    let out = kadet()
        .args(["cat", &data("aks-object-log.json")])
        .output()
        .expect("runs");
    let evs = lines(&out.stdout);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["log_type"], "Azure.MonitorActivity");
    assert_eq!(evs[0]["cluster"], "aks-prod");
    assert_eq!(evs[0]["event"]["objectRef"]["subresource"], "token");

    // GKE TokenRequest.
    let out = kadet()
        .args(["cat", &data("gke-token.json")])
        .output()
        .expect("runs");
    let evs = lines(&out.stdout);
    assert_eq!(evs.len(), 1);
    let e = &evs[0]["event"];
    assert_eq!(evs[0]["cluster"], "gke-demo");
    assert_eq!(e["verb"], "create");
    assert_eq!(e["user"]["username"], "trudy@example.com");
    assert_eq!(e["objectRef"]["namespace"], "default");
    assert_eq!(e["objectRef"]["name"], "builder");
    assert_eq!(e["objectRef"]["subresource"], "token");
    assert_eq!(e["sourceIPs"][0], "198.51.100.9");
    assert_eq!(e["requestObject"]["spec"]["expirationSeconds"], 946080000);
    assert_eq!(evs[0]["event_time"], "2026-11-02T09:10:00.900000Z");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

#[test]
fn cloudwatch_payloads_compressed_files_and_stdin() {
    use base64::Engine;
    let dir = tempfile::tempdir().expect("tmp");
    let msg = token_event("cw@x", 0, "cw1");
    let payload = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/eks/prod-eks/cluster",
        "logStream": "kube-apiserver-audit-1", "subscriptionFilters": ["kadet"],
        "logEvents": [{"id": "1", "timestamp": 1793613600000u64, "message": msg}]
    });
    let control = serde_json::json!({"messageType": "CONTROL_MESSAGE", "logGroup": "", "logEvents": [{"id": "", "timestamp": 0, "message": "CWL CONTROL MESSAGE: Checking health of destination"}]});
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD.encode(gzip(v.to_string().as_bytes()))
    };
    let f = write_temp(
        &dir,
        "firehose.txt",
        &format!("{}\n{}\n{}\n", b64(&payload), b64(&control), payload),
    );
    let out = kadet()
        .args([
            "scan",
            "--emit",
            "matches",
            "--format",
            "jsonl",
            "--rules",
            &seed_rule(),
            &f,
        ])
        .output()
        .expect("runs");
    let m = lines(&out.stdout);
    assert_eq!(m.len(), 2, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(m[0]["cluster"], "prod-eks");
    assert_eq!(m[0]["log_type"], "Amazon.EKS.Audit");
    assert!(String::from_utf8_lossy(&out.stderr).contains("control-message 1"));

    // .gz and .zst files, and stdin.
    let raw = format!("{}\n", token_event("z@x", 0, "z1"));
    std::fs::write(dir.path().join("a.jsonl.gz"), gzip(raw.as_bytes())).expect("write");
    std::fs::write(
        dir.path().join("b.jsonl.zst"),
        zstd::encode_all(raw.as_bytes(), 3).expect("zstd"),
    )
    .expect("write");
    for name in ["a.jsonl.gz", "b.jsonl.zst"] {
        let p = dir.path().join(name).display().to_string();
        let out = kadet()
            .args([
                "scan",
                "--emit",
                "matches",
                "--format",
                "jsonl",
                "--rules",
                &seed_rule(),
                &p,
            ])
            .output()
            .expect("runs");
        assert_eq!(lines(&out.stdout).len(), 1, "{name}");
    }
    let out = kadet()
        .args([
            "scan",
            "--emit",
            "matches",
            "--format",
            "jsonl",
            "--rules",
            &seed_rule(),
            "-",
        ])
        .write_stdin(raw)
        .output()
        .expect("runs");
    assert_eq!(lines(&out.stdout).len(), 1);

    // A truncated gzip is reported, and what came before it is kept.
    let many: String = (0..3000)
        .map(|i| token_event(&format!("t{i}@x"), 0, &i.to_string()) + "\n")
        .collect();
    let gz = gzip(many.as_bytes());
    std::fs::write(dir.path().join("cut.jsonl.gz"), &gz[..gz.len() / 2]).expect("write");
    let p = dir.path().join("cut.jsonl.gz").display().to_string();
    let out = kadet()
        .args([
            "scan",
            "--emit",
            "matches",
            "--format",
            "jsonl",
            "--rules",
            &seed_rule(),
            &p,
        ])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let got = lines(&out.stdout).len();
    assert!(got > 0 && got < 3000, "{got}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-error"));
}

#[test]
fn threads_do_not_change_the_output() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = String::new();
    for i in 0..20_000u32 {
        if i % 97 == 0 {
            text += &token_event(&format!("u{}@x", i % 7), i / 400, &i.to_string());
        } else {
            text += &format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"get","auditID":"{i}","user":{{"username":"system:node:n1"}},"objectRef":{{"resource":"pods","namespace":"default","name":"p{i}"}},"responseStatus":{{"code":200}}}}"#
            );
        }
        text.push('\n');
    }
    let f = write_temp(&dir, "many.jsonl", &text);
    let run = |threads: &str| {
        kadet()
            .args([
                "scan",
                "--threads",
                threads,
                "--format",
                "jsonl",
                "--rules",
                &seed_rule(),
                &f,
            ])
            .output()
            .expect("runs")
            .stdout
    };
    let one = run("1");
    assert!(!one.is_empty());
    assert_eq!(one, run("2"));
    assert_eq!(one, run("4"));
}

#[test]
fn test_command_reports_pass_and_fail() {
    let out = kadet().args(["test", &seed_rule()]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text
        .contains("PASS  Kubernetes.ServiceAccount.TokenCreated / AKS long-lived token created"));
    assert!(text.lines().any(|l| l.ends_with(" passed, 0 failed")));

    let dir = tempfile::tempdir().expect("tmp");
    let flipped = std::fs::read_to_string(seed_rule())
        .expect("seed")
        .replacen(
            "  - Name: Failed token creation (excluded)\n    ExpectedResult: false",
            "  - Name: Failed token creation (excluded)\n    ExpectedResult: true",
            1,
        );
    let p = write_temp(&dir, "flipped.yml", &flipped);
    let out = kadet().args(["test", &p]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "FAIL  Kubernetes.ServiceAccount.TokenCreated / Failed token creation (excluded)"
        ),
        "{text}"
    );
    assert!(text.contains("match: expected true, got false"), "{text}");
    assert!(text.lines().any(|l| l.ends_with(" passed, 1 failed")));

    let out = kadet()
        .args(["test", "--filter", "Nothing.Matches.This", &seed_rule()])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 passed, 0 failed"));
}

#[test]
fn explain_shows_each_condition() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = write_temp(&dir, "ev.json", &token_event("system:node:n1", 0, "x"));
    let out = kadet()
        .args([
            "explain",
            "--rule",
            "Kubernetes.ServiceAccount.TokenCreated",
            "--rules",
            &seed_rule(),
            &f,
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("✓ verb Equals \"create\" — found \"create\""),
        "{text}"
    );
    assert!(text.contains("node_principal"), "{text}");
    assert!(text.contains("=> NO MATCH"), "{text}");
    let g = write_temp(&dir, "ev2.json", &token_event("mallory@x", 0, "y"));
    let out = kadet()
        .args([
            "explain",
            "--rule",
            "Kubernetes.ServiceAccount.TokenCreated",
            "--rules",
            &seed_rule(),
            &g,
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "=> MATCH: [mallory@x] created long-lived token for service account [prod/sa]"
        ),
        "{text}"
    );
}

#[test]
fn rules_list_and_show() {
    let out = kadet().args(["rules", "list"]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Kubernetes.ServiceAccount.TokenCreated"));
    let out = kadet()
        .args(["rules", "show", "Kubernetes.ServiceAccount.TokenCreated"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Detection logic"));
    assert!(text.contains("Exclusions"));
    assert!(text.contains("objectRef.namespace"));
    assert!(text.contains("system:node:"));
    let out = kadet()
        .args(["rules", "show", "No.Such.Rule"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_bundled_example_raises_exactly_the_attack() {
    let out = kadet()
        .args(["scan", "--format", "jsonl"])
        .arg(root().join("examples"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = lines(&out.stdout);
    assert_eq!(alerts.len(), 1, "only the attack alerts: {alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["rule_id"], "Kubernetes.ServiceAccount.TokenCreated");
    assert_eq!(a["severity"], "HIGH");
    assert!(a["title"]
        .as_str()
        .unwrap_or("")
        .contains("[kube-system/clusterrole-aggregation-controller]"));
    assert_eq!(a["context"]["expiration_seconds"], 946080000);
    // Every record decoded and evaluated: the same alert, and the example
    // really holds EKS and AKS logs (the prefilter passes most of them over).
    let full = kadet()
        .args(["scan", "--no-prefilter", "--format", "jsonl"])
        .arg(root().join("examples"))
        .output()
        .expect("runs");
    assert_eq!(lines(&full.stdout), alerts);
    let err = String::from_utf8_lossy(&full.stderr);
    assert!(
        err.contains("Azure.MonitorActivity") && err.contains("Amazon.EKS.Audit"),
        "{err}"
    );
}

#[test]
fn a_table_for_a_console_of_no_width_falls_back_to_80_columns() {
    let out = kadet()
        .env("COLUMNS", "0")
        .args(["scan", "-q", "--format", "table"])
        .arg(root().join("examples"))
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(
        (40..=80).contains(&widest),
        "a table {widest} columns wide:\n{text}"
    );
}

#[test]
fn rules_list_aligns_every_column_whatever_the_status() {
    let out = kadet().args(["rules", "list"]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text.lines().next().unwrap_or("");
    let name_at = header.find("Name").expect("a Name column");
    for line in text.lines().skip(1).filter(|l| !l.ends_with(" rules")) {
        assert_eq!(
            line.get(name_at - 2..name_at),
            Some("  "),
            "the Name column starts at {name_at} in every row: {line}"
        );
    }
}

#[test]
fn a_file_that_holds_no_audit_event_is_an_error_not_a_clean_scan() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("dpkg.log");
    std::fs::write(
        &log,
        "2026-11-30 10:00:01 startup archives unpack\n2026-11-30 10:00:02 install libc6:amd64 <none> 2.36\n",
    )
    .unwrap();
    let out = kadet()
        .args(["scan", "--fail-on-alerts"])
        .arg(&log)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is an audit event"), "{err}");
    // An empty file is no error, nor is a log whose records no rule reads.
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    kadet().args(["scan", "-q"]).arg(&empty).assert().success();
    let benign = dir.path().join("benign.jsonl");
    std::fs::write(
        &benign,
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"get","requestURI":"/healthz","user":{"username":"system:anonymous"}}
"#,
    )
    .unwrap();
    kadet().args(["scan", "-q"]).arg(&benign).assert().success();
    // Nor is an audit log whose every event is too large to read.
    kadet()
        .args(["scan", "-q", "--max-event-bytes", "50"])
        .arg(&benign)
        .assert()
        .success();
}

#[test]
fn the_same_attack_in_two_clusters_gives_two_alerts() {
    let dir = tempfile::tempdir().expect("tmp");
    // The same token request (same user, namespace, account: the same
    // dedup string) in the audit logs of two EKS clusters.
    let record = |cluster: &str, id: &str| {
        serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "123456789012",
            "logGroup": format!("/aws/eks/{cluster}/cluster"),
            "logStream": "kube-apiserver-audit-1", "subscriptionFilters": ["kadet"],
            "logEvents": [{"id": id, "timestamp": 1793613600000u64, "message": token_event("eve@x", 0, id)}]
        })
    };
    let f = write_temp(
        &dir,
        "fleet.jsonl",
        &format!(
            "{}\n{}\n{}\n",
            record("cluster-a", "a1"),
            record("cluster-b", "b1"),
            record("cluster-a", "a2")
        ),
    );
    let out = kadet()
        .args(["scan", "--format", "jsonl", "--rules", &seed_rule(), &f])
        .output()
        .expect("runs");
    let alerts = lines(&out.stdout);
    let got: Vec<(String, u64)> = alerts
        .iter()
        .map(|a| {
            (
                a["cluster"].as_str().unwrap_or_default().to_string(),
                a["event_count"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("cluster-a".to_string(), 2), ("cluster-b".to_string(), 1)],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(alerts[0]["dedup"], alerts[1]["dedup"]);
    assert_ne!(alerts[0]["alert_id"], alerts[1]["alert_id"]);
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_definitions() {
    let out = kadet()
        .args(["completions", "bash"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    for word in ["scan", "serve", "--fail-on-alerts", "--check-config"] {
        assert!(
            script.contains(word),
            "{word} missing from the bash completions"
        );
    }
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("kadet.bash");
    std::fs::write(&file, &out.stdout).expect("write");
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .status()
        .expect("bash runs");
    assert!(syntax.success(), "the bash script does not parse");
    assert!(
        kadet()
            .args(["completions", "tcsh"])
            .output()
            .expect("runs")
            .status
            .code()
            == Some(2)
    );

    let page = kadet().arg("man").output().expect("runs");
    assert!(page.status.success());
    let page = String::from_utf8_lossy(&page.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH kadet 1"),
        "{page}"
    );
    assert!(page.contains("serve"), "{page}");
    let pages = dir.path().join("man1");
    let out = kadet()
        .args(["man", "--dir"])
        .arg(&pages)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "kadet.1",
        "kadet-scan.1",
        "kadet-serve.1",
        "kadet-rules-show.1",
    ] {
        let text = std::fs::read_to_string(pages.join(name)).unwrap_or_default();
        assert!(text.contains(".TH"), "{name}: {text}");
    }
}
