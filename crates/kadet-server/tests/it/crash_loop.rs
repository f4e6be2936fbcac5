//! A batch that kills `kadet serve` outright (an abort, as a failed
//! allocation does: nothing to catch) is acknowledged, so it is in the
//! journal and every start evaluates it again. The crash-loop guard finds
//! it, and after three crashes keeps it as a dead letter: the fourth start
//! runs, and every other batch gives its alerts.

use crate::common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KILLER: &str = "KILLER-PILL";

fn attack(id: u64, user: &str, secs: u64) -> serde_json::Value {
    token_event(id, user, "ci", "deployer", &ts(secs, 0))
}

/// Starts `kadet serve` and waits for it to die within `within`; its
/// stderr, or `None` when it was still running.
fn dies_within(cfg: &std::path::Path, cwd: &std::path::Path, within: Duration) -> Option<String> {
    let mut child = Command::new(kadet_bin())
        .args(["serve", "--config"])
        .arg(cfg)
        .current_dir(cwd)
        .env("KADET_FAULT_INJECT_ABORT", KILLER)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kadet serve");
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            let out = child.wait_with_output().expect("output");
            return Some(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn a_batch_that_kills_the_process_is_quarantined_after_three_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = plain_config(dir.path(), "");
    let env = [("KADET_FAULT_INJECT_ABORT", KILLER)];
    let mut s = Server::start_with(&cfg, dir.path(), &env, None);
    let mut killer = attack(2, "killer", 30);
    killer["userAgent"] = KILLER.into();
    assert_eq!(post_audit(&s, &event_list(&[attack(1, "before", 0)])), 200);
    // Stored, then evaluated at once: the process may die before the 200
    // is written (the client then sends again, as the API server does).
    let code = post_audit(&s, &event_list(&[killer]));
    assert!(code == 200 || code == 0, "{code}");
    // The batch was acknowledged, then evaluating it killed the process.
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.child.try_wait().ok().flatten().is_none() {
        assert!(
            Instant::now() < deadline,
            "the killer batch did not kill:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Two more starts die on it: first with its run re-evaluated record by
    // record, then with it alone.
    for start in 2..=3 {
        let log = dies_within(&cfg, dir.path(), Duration::from_secs(30))
            .unwrap_or_else(|| panic!("start {start} survived the killer"));
        assert!(log.contains("fault injected"), "start {start}:\n{log}");
    }
    // The fourth start keeps it as a dead letter and goes on.
    let s = Server::start_with(&cfg, dir.path(), &env, None);
    assert_eq!(post_audit(&s, &event_list(&[attack(3, "after", 60)])), 200);
    let c = reqwest::blocking::Client::new();
    let metrics = wait_idle(&c, &s, None);
    assert_eq!(
        metric(&metrics, "kadet_poison_records_total "),
        Some(1.0),
        "{}",
        s.log()
    );
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap_or_default();
    assert!(
        alerts.contains("[before]") && alerts.contains("[after]"),
        "{alerts}"
    );
    assert!(!alerts.contains("[killer]"), "{alerts}");
    let letters = std::fs::read_to_string(dir.path().join("state/dead-letter.jsonl")).unwrap();
    let entry: serde_json::Value = serde_json::from_str(letters.lines().next().unwrap()).unwrap();
    assert_eq!(entry["kind"], "record");
    assert!(
        entry["reason"].as_str().unwrap().contains("died 3 times"),
        "{entry}"
    );
    assert!(entry["payload"].as_str().unwrap().contains(KILLER));
    assert!(s.terminate().success());
    // And it stays passed over: the next start runs and is ready.
    let mut s = Server::start_with(&cfg, dir.path(), &env, None);
    wait_idle(&c, &s, None);
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.child.try_wait().ok().flatten().is_none(), "{}", s.log());
    assert_eq!(
        c.get(s.url("/readyz")).send().unwrap().status().as_u16(),
        200
    );
    assert!(s.terminate().success());
}
