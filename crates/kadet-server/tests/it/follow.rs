//! Detection across events, across a `kill -9`: the first steps are
//! acknowledged, the server dies, and the rest sent to the restarted server
//! raise the alerts `kadet scan` gives for the whole log. A minted token
//! followed to its use (`Follows`), and a three-step correlation rule.

use crate::common::*;
use std::collections::BTreeSet;

#[test]
fn a_minting_remembered_before_a_kill_9_is_followed_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let evs = minted_token_events();
    let all = dir.path().join("all.jsonl");
    std::fs::write(
        &all,
        evs.iter().map(|e| format!("{e}\n")).collect::<String>(),
    )
    .unwrap();
    let want: BTreeSet<String> = scan_ids(&all).into_iter().collect();
    let scanned = std::process::Command::new(kadet_bin())
        .args(["scan", "-q", "--format", "jsonl"])
        .arg(&all)
        .output()
        .unwrap();
    let uses = follow_ids(&String::from_utf8_lossy(&scanned.stdout));
    assert_eq!(uses.len(), 3, "the log's three followed uses");

    let cfg = dir.path().join("kadet.toml");
    let alerts_file = dir.path().join("alerts.jsonl");
    std::fs::write(
        &cfg,
        format!(
            "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n[[sinks]]\ntype = \"file\"\npath = {alerts_file:?}\n",
            dir.path().join("state")
        ),
    )
    .unwrap();
    let client = reqwest::blocking::Client::new();
    let (mints, rest) = evs.split_at(2);
    let s = Server::start(&cfg, dir.path());
    assert_eq!(post_audit(&s, &event_list(mints)), 200);
    wait_idle(&client, &s, None);
    s.kill9();

    let s = Server::start(&cfg, dir.path());
    for e in rest {
        assert_eq!(post_audit(&s, &event_list(std::slice::from_ref(e))), 200);
    }
    wait_idle(&client, &s, None);
    let text = std::fs::read_to_string(&alerts_file).unwrap_or_default();
    let got: BTreeSet<String> = ids_of(&text).into_iter().collect();
    assert_eq!(got, want, "the alerts of kadet scan\n{}", s.log());
    assert_eq!(follow_ids(&text), uses, "each use alerted once, in order");
    assert!(s.terminate().success());
}

#[test]
fn a_correlation_begun_before_a_kill_9_completes_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kadet-cli/tests/data/serviceaccount_chain.jsonl");
    let evs: Vec<serde_json::Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let all = dir.path().join("all.jsonl");
    std::fs::write(
        &all,
        evs.iter().map(|e| format!("{e}\n")).collect::<String>(),
    )
    .unwrap();
    let want: BTreeSet<String> = scan_ids(&all).into_iter().collect();
    let cfg = dir.path().join("kadet.toml");
    let alerts_file = dir.path().join("alerts.jsonl");
    std::fs::write(
        &cfg,
        format!(
            "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n[[sinks]]\ntype = \"file\"\npath = {alerts_file:?}\n",
            dir.path().join("state")
        ),
    )
    .unwrap();
    let client = reqwest::blocking::Client::new();
    let s = Server::start(&cfg, dir.path());
    // Created and bound: two of the three steps.
    assert_eq!(post_audit(&s, &event_list(&evs[..2])), 200);
    wait_idle(&client, &s, None);
    s.kill9();
    let s = Server::start(&cfg, dir.path());
    assert_eq!(post_audit(&s, &event_list(&evs[2..])), 200);
    wait_idle(&client, &s, None);
    let text = std::fs::read_to_string(&alerts_file).unwrap_or_default();
    let got: BTreeSet<String> = ids_of(&text).into_iter().collect();
    assert_eq!(got, want, "the alerts of kadet scan\n{}", s.log());
    assert!(
        text.contains("Kadet.Correlation.ServiceAccountBoundThenTokenMinted"),
        "the correlation completed after the restart"
    );
    assert!(s.terminate().success());
}
