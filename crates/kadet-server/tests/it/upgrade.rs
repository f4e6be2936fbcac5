//! Upgrade-safe state: a state directory written by kadet 0.1.0 (the last
//! release before stored state carried versions, `tests/fixtures/state-v0`)
//! opens with the current kadet, which migrates it; a state directory from
//! a newer kadet is refused.

use crate::common::*;
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The fixture in a temporary directory, with a config whose second sink
/// (a webhook in 0.1.0, down then) now points at `webhook`.
fn fixture(dir: &Path, webhook: &str) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v0");
    copy_dir(&src, dir);
    let cfg = format!(
        "[listen]\naddress = \"127.0.0.1:0\"\n[rules]\npaths = [\"rules\"]\n[state]\ndir = \"state\"\n\
         [detection]\nlateness_secs = 1\nidle_release_secs = 1\n\
         [[sinks]]\ntype = \"file\"\npath = \"alerts.jsonl\"\n\
         [[sinks]]\ntype = \"webhook\"\nurl = {webhook:?}\nbackoff_ms = 50\n"
    );
    let p = dir.join("kadet.toml");
    std::fs::write(&p, cfg).unwrap();
    p
}

fn denied(id: u64, minute: u32) -> serde_json::Value {
    serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": format!("d{id}"),
        "stage": "ResponseComplete", "verb": "get",
        "requestURI": "/api/v1/namespaces/kube-system/secrets",
        "user": {"username": "eve"}, "sourceIPs": ["203.0.113.9"],
        "objectRef": {"resource": "secrets", "namespace": "kube-system", "apiVersion": "v1"},
        "responseStatus": {"code": 403},
        "stageTimestamp": format!("2026-11-02T10:{minute:02}:00.000000Z")
    })
}

#[test]
fn a_state_directory_of_kadet_0_1_0_opens_and_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let (url, rx) = receiver();
    let cfg = fixture(dir.path(), &url);
    let s = Server::start(&cfg, dir.path());
    // The token alert 0.1.0 still owed to its second sink arrives there.
    let body = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the owed delivery");
    let alert: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alert["alert_id"], "9d1c0175bb02a243a2aba4b3fc3deec6");
    // eve's window (2 of 3 denials) carried over: the third raises the
    // alert with the id scan gives for the window starting at 10:00.
    assert_eq!(post_audit(&s, &event_list(&[denied(3, 4)])), 200);
    wait_idle(&reqwest::blocking::Client::new(), &s, None);
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    let ids = ids_of(&alerts);
    assert_eq!(ids.len(), 2, "{alerts}");
    assert_eq!(
        ids[0], "9d1c0175bb02a243a2aba4b3fc3deec6",
        "written by 0.1.0"
    );
    let events = dir.path().join("events.jsonl");
    let all: String = ["d1", "d2"]
        .iter()
        .enumerate()
        .map(|(i, _)| format!("{}\n", denied(i as u64 + 1, i as u32 * 2)))
        .chain(std::iter::once(format!("{}\n", denied(3, 4))))
        .collect();
    std::fs::write(&events, all).unwrap();
    let scan = std::process::Command::new(kadet_bin())
        .args(["scan", "-q", "--format", "jsonl", "--rules"])
        .arg(dir.path().join("rules"))
        .arg(&events)
        .output()
        .unwrap();
    let want = ids_of(&String::from_utf8_lossy(&scan.stdout));
    assert_eq!(want.len(), 1);
    assert_eq!(ids[1], want[0]);
    assert!(s.terminate().success());
    let db = rusqlite::Connection::open(dir.path().join("state/kadet.sqlite")).unwrap();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
}

#[test]
fn a_state_directory_of_a_newer_kadet_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = fixture(dir.path(), "http://127.0.0.1:9/alerts");
    let db = rusqlite::Connection::open(dir.path().join("state/kadet.sqlite")).unwrap();
    db.pragma_update(None, "user_version", 99).unwrap();
    drop(db);
    let out = std::process::Command::new(kadet_bin())
        .args(["serve", "--config"])
        .arg(&cfg)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("written by a newer kadet (schema version 99"),
        "{err}"
    );
}
