//! Snapshot tests of every output format, on fixed inputs. Paths are
//! relative so snapshots are the same on every machine.

use assert_cmd::Command;

fn run(args: &[&str]) -> String {
    let rules = format!(
        "{}/../../rules/kubernetes/k8s_serviceaccount_token_created.yml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::cargo_bin("kadet")
        .expect("binary")
        .current_dir(format!("{}/tests/data", env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .args([
            "--rules",
            &rules,
            "--quiet",
            "seed_tests.jsonl",
            "eventlist.json",
            "aks-object-log.json",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn jsonl_alerts() {
    insta::assert_snapshot!(run(&["scan", "--format", "jsonl"]));
}

#[test]
fn jsonl_matches() {
    insta::assert_snapshot!(run(&["scan", "--format", "jsonl", "--emit", "matches"]));
}

#[test]
fn table_alerts() {
    insta::assert_snapshot!(run(&["scan", "--format", "table"]));
}

#[test]
fn ocsf_alerts() {
    insta::assert_snapshot!(run(&["scan", "--format", "ocsf"]));
}

#[test]
fn same_input_same_bytes() {
    assert_eq!(
        run(&["scan", "--format", "jsonl"]),
        run(&["scan", "--format", "jsonl", "--threads", "3"])
    );
}

/// Every OCSF line validates against the vendored OCSF 1.3.0 Detection
/// Finding schema (crates/kadet-engine/tests/data/ocsf/).
#[test]
fn ocsf_output_validates_against_the_schema() {
    let schema_text = std::fs::read_to_string(format!(
        "{}/../kadet-engine/tests/data/ocsf/detection_finding.schema.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("vendored schema");
    let schema: serde_json::Value = serde_json::from_str(&schema_text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let out = run(&["scan", "--format", "ocsf"]);
    let mut n = 0;
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:?}\n{line}");
        n += 1;
    }
    assert_eq!(n, 7);
    // And the schema does reject a broken finding.
    let mut bad: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("a line")).expect("JSON");
    bad["severity_id"] = serde_json::json!(9);
    assert!(!validator.is_valid(&bad));
}
