//! Detection across events, across a `kill -9`: the first steps are
//! acknowledged, the server dies, and the rest sent to the restarted server
//! raise the alerts `kadet scan` gives for the whole log. A minted token
//! followed to its use (`Follows`), a three-step correlation rule, and
//! first-seen values learned before the kill.

use crate::common::*;
use std::collections::BTreeSet;

/// `kadet scan`'s alert ids for `evs`, and the alerts a server writes when
/// `evs[..split]` reach it in one batch, it is killed with `-9`, and the rest
/// reach the restarted server one event a batch.
fn scanned_and_served_across_a_kill(
    evs: &[serde_json::Value],
    split: usize,
) -> (BTreeSet<String>, String) {
    let dir = tempfile::tempdir().unwrap();
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
    let (first, rest) = evs.split_at(split);
    let s = Server::start(&cfg, dir.path());
    assert_eq!(post_audit(&s, &event_list(first)), 200);
    wait_idle(&client, &s, None);
    s.kill9();
    let s = Server::start(&cfg, dir.path());
    for e in rest {
        assert_eq!(post_audit(&s, &event_list(std::slice::from_ref(e))), 200);
    }
    wait_idle(&client, &s, None);
    let served = std::fs::read_to_string(&alerts_file).unwrap_or_default();
    assert!(s.terminate().success());
    (want, served)
}

#[test]
fn a_minting_remembered_before_a_kill_9_is_followed_after_the_restart() {
    let evs = minted_token_events();
    let (want, served) = scanned_and_served_across_a_kill(&evs, 2);
    let got: BTreeSet<String> = ids_of(&served).into_iter().collect();
    assert_eq!(got, want, "the alerts of kadet scan");
    assert_eq!(
        follow_ids(&served).len(),
        3,
        "each followed use alerted once"
    );
}

#[test]
fn a_correlation_begun_before_a_kill_9_completes_after_the_restart() {
    let evs = serviceaccount_chain_events();
    // Created and bound (two of the three steps) before the kill.
    let (want, served) = scanned_and_served_across_a_kill(&evs, 2);
    let got: BTreeSet<String> = ids_of(&served).into_iter().collect();
    assert_eq!(got, want, "the alerts of kadet scan");
    assert!(
        served.contains("Kadet.Correlation.ServiceAccountBoundThenTokenMinted"),
        "the correlation completed after the restart"
    );
}

#[test]
fn first_seen_values_learned_before_a_kill_9_are_known_after_the_restart() {
    // The learning week's three events before the kill; after it, a known
    // address (no alert), a new one and a person's first Secret read
    // (alerts). Learning lost in the kill would start over: no alert at all.
    let evs = first_seen_events();
    let (want, served) = scanned_and_served_across_a_kill(&evs, 3);
    assert!(!want.is_empty(), "the log has first-seen alerts");
    let got: BTreeSet<String> = ids_of(&served).into_iter().collect();
    assert_eq!(got, want, "the alerts of kadet scan");
}
