//! Snapshot tests of every output format, on fixed inputs. Paths are
//! relative so snapshots are the same on every machine.

use assert_cmd::Command;

fn run(args: &[&str]) -> String {
    let rules = format!("{}/../../rules/kubernetes/k8s_serviceaccount_token_created.yml", env!("CARGO_MANIFEST_DIR"));
    let out = Command::cargo_bin("kadet")
        .expect("binary")
        .current_dir(format!("{}/tests/data", env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .args(["--rules", &rules, "--quiet", "seed_tests.jsonl", "eventlist.json", "aks-object-log.json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
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
    assert_eq!(run(&["scan", "--format", "jsonl"]), run(&["scan", "--format", "jsonl", "--threads", "3"]));
}
