//! What a new user meets first, through the real binary: byte-order marks,
//! closed pipes, errors for wrong paths and names, exit statuses, and the
//! cluster name of raw logs.

use assert_cmd::Command;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::Stdio;

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn kadet() -> Command {
    let mut c = Command::cargo_bin("kadet").expect("binary builds");
    c.env_remove("RUST_LOG");
    c
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn with_bom(dir: &tempfile::TempDir, name: &str, text: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, [BOM, text].concat()).expect("write");
    p
}

/// `kadet cat FILE`: the events' JSON and the skips printed on stderr.
fn cat(path: &PathBuf) -> (Vec<serde_json::Value>, String) {
    let out = kadet().arg("cat").arg(path).output().expect("runs");
    assert!(out.status.success());
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    (events, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn files_that_start_with_a_byte_order_mark_decode() {
    let dir = tempfile::tempdir().expect("tmp");
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data("aks-object-log.json")).expect("aks sample"))
            .expect("JSON");
    let aks = serde_json::to_vec_pretty(&records["records"][0]).expect("pretty");
    let (events, err) = cat(&with_bom(&dir, "aks.json", &aks));
    assert_eq!(events.len(), 1, "{err}");
    assert_eq!(events[0]["log_type"], "Azure.MonitorActivity");
    assert_eq!(events[0]["cluster"], "aks-prod");
    assert!(!err.contains("skipped"), "{err}");

    let raw = br#"{
  "kind": "Event",
  "apiVersion": "audit.k8s.io/v1",
  "verb": "create",
  "user": {"username": "bob"},
  "objectRef": {"resource": "serviceaccounts", "subresource": "token", "namespace": "ci", "name": "deployer"},
  "responseStatus": {"code": 201}
}"#;
    let (events, err) = cat(&with_bom(&dir, "raw.json", raw));
    assert_eq!(events.len(), 1, "{err}");
    assert_eq!(events[0]["event"]["user"]["username"], "bob");

    let lines = std::fs::read(data("seed_tests.jsonl")).expect("seed tests");
    let expected = lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    let (events, err) = cat(&with_bom(&dir, "lines.jsonl", &lines));
    assert_eq!(events.len(), expected, "{err}");
    assert!(!err.contains("skipped"), "{err}");

    // Compressed files are checked after decompression.
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&[BOM, &lines].concat()).expect("gzip");
        e.finish().expect("gzip")
    };
    let p = dir.path().join("lines.jsonl.gz");
    std::fs::write(&p, gz).expect("write");
    assert_eq!(cat(&p).0.len(), expected);

    // Standard input too.
    let out = kadet()
        .args(["cat", "-"])
        .write_stdin([BOM, &lines].concat())
        .output()
        .expect("runs");
    let n = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(n, expected);
}

/// Runs kadet with its standard output on a pipe, reads one line and closes
/// the pipe: kadet must exit 0 and print no error.
fn read_one_line_then_close(args: &[&str]) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kadet"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).expect("reads");
    // The reader is dropped here: the pipe is closed.
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    let status = child.wait().expect("exits");
    assert!(!first.is_empty(), "{args:?} printed nothing");
    assert_eq!(status.code(), Some(0), "{args:?}: {err}");
    assert!(
        !err.contains("error") && !err.contains("panicked"),
        "{args:?}: {err}"
    );
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let example = "examples/";
    let seed = "crates/kadet-cli/tests/data/seed_tests.jsonl";
    // Outputs far larger than a pipe's buffer, so the write does fail.
    let big = "crates/kadet-cli/tests/data/datasets";
    read_one_line_then_close(&["rules", "list"]);
    read_one_line_then_close(&["rules", "show", "Kubernetes.ServiceAccount.TokenCreated"]);
    read_one_line_then_close(&["cat", example]);
    read_one_line_then_close(&["cat", big]);
    read_one_line_then_close(&["scan", "-q", "--emit", "matches", "--no-prefilter", big]);
    read_one_line_then_close(&["scan", "--format", "table", example]);
    read_one_line_then_close(&["scan", "--format", "ocsf", seed]);
    read_one_line_then_close(&["test"]);
    read_one_line_then_close(&[
        "explain",
        "--rule",
        "Kubernetes.ServiceAccount.TokenCreated",
        seed,
    ]);
    read_one_line_then_close(&["--help"]);
}

fn error_of(args: &[&str]) -> String {
    let out = kadet().args(args).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    assert!(out.stdout.is_empty());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn wrong_paths_and_names_get_clear_errors() {
    let err = error_of(&["scan", "/no/such/dir"]);
    assert!(
        err.contains("cannot read /no/such/dir") && err.contains("No such file"),
        "{err}"
    );
    let empty = tempfile::tempdir().expect("tmp");
    std::fs::write(empty.path().join("notes.md"), "not a log").expect("write");
    let err = error_of(&["scan", &empty.path().display().to_string()]);
    assert!(
        err.contains("no audit log files in this directory"),
        "{err}"
    );
    let err = error_of(&["rules", "show", "TokenCreated"]);
    assert!(
        err.contains("did you mean Kubernetes.ServiceAccount.TokenCreated"),
        "{err}"
    );
    let err = error_of(&["explain", "--rule", "No.Such.Rule", "-"]);
    assert!(err.contains("no rule \"No.Such.Rule\""), "{err}");
    let err = error_of(&["scan", "--rules", "/no/such/rules.yml", "examples"]);
    assert!(err.contains("/no/such/rules.yml"), "{err}");
}

#[test]
fn exit_status_says_whether_alerts_were_found_only_when_asked() {
    let example = root().join("examples");
    let plain = kadet().arg("scan").arg(&example).output().expect("runs");
    assert_eq!(plain.status.code(), Some(0));
    let gate = kadet()
        .args(["scan", "--fail-on-alerts", "-q"])
        .arg(&example)
        .output()
        .expect("runs");
    assert_eq!(gate.status.code(), Some(1));
    assert!(!gate.stdout.is_empty(), "alerts are still written");
    let quiet = tempfile::tempdir().expect("tmp");
    std::fs::write(
        quiet.path().join("a.jsonl"),
        "{\"kind\":\"Event\",\"verb\":\"get\"}\n",
    )
    .expect("write");
    let clean = kadet()
        .args(["scan", "--fail-on-alerts", "-q"])
        .arg(quiet.path())
        .output()
        .expect("runs");
    assert_eq!(clean.status.code(), Some(0));
}

#[test]
fn cluster_names_raw_records_and_never_overrides_the_source() {
    let out = kadet()
        .args(["cat", "--cluster", "prod-eu-1"])
        .arg(data("seed_tests.jsonl"))
        .output()
        .expect("runs");
    let clusters: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            v["cluster"].as_str().unwrap_or("").to_string()
        })
        .collect();
    // Panther records with p_source_label keep their own name.
    assert_eq!(clusters[0], "eks-cluster");
    assert_eq!(clusters[1], "aks-cluster");
    assert!(clusters.iter().any(|c| c == "prod-eu-1"), "{clusters:?}");
    assert!(clusters.iter().all(|c| !c.is_empty()), "{clusters:?}");
    let out = kadet()
        .args(["scan", "--format", "jsonl", "-q", "--cluster", "prod-eu-1"])
        .arg(root().join("examples/eks-cluster-audit.jsonl"))
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"cluster\":\"prod-eu-1\""), "{text}");
}

#[test]
fn a_record_kadet_fails_on_is_skipped_as_internal_error_and_the_rest_scanned() {
    let dir = tempfile::tempdir().expect("tmp");
    let lines = std::fs::read_to_string(data("seed_tests.jsonl")).expect("seed tests");
    let poisoned = lines.replacen("attacker@example.com", "POISON-PILL@example.com", 1);
    let p = dir.path().join("poisoned.jsonl");
    std::fs::write(&p, poisoned).expect("write");
    let out = kadet()
        .env("KADET_FAULT_INJECT_PANIC", "POISON-PILL")
        .args(["scan", "--emit", "matches", "--format", "jsonl", "-j", "1"])
        .arg(&p)
        .output()
        .expect("runs");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("poisoned.jsonl:1: internal-error"), "{err}");
    assert!(err.contains("skipped: internal-error 1"), "{err}");
    let matches = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"rule_id\":\"Kubernetes.ServiceAccount.TokenCreated\""))
        .count();
    assert_eq!(matches, 4, "the other four token requests still match");
}
