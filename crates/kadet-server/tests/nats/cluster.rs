//! Cluster mode against real `nats-server`s the tests start: instances of
//! `kadet serve` with `[cluster]` sharing intake, detection and delivery.
//!
//! - crash: 3 instances, one NATS; `kill -9` one mid-stream: every
//!   acknowledged attack alerted, each alert raised once, the same set as
//!   `kadet scan`;
//! - broker restart: NATS restarted (file store) mid-stream: nothing
//!   acknowledged is lost;
//! - broker node loss: a 3-node NATS cluster with R3 streams loses a node:
//!   intake and detection go on;
//! - contention: instances matching the same dedup key at once: one alert
//!   for the window, with the right event count;
//! - redelivery: a batch delivered twice counts once (and a batch resent by
//!   its client is stored once);
//! - state across a death: a minted token, the first steps of a
//!   correlation and a learning week of first-seen values, sent to an
//!   instance killed with `-9`, are followed, completed and known by the
//!   survivor.

use crate::common::nats::{NatsCluster, NatsServer};
use crate::common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// A config for instance `i` of a cluster on `urls`, alerting to `hook`.
fn config(dir: &Path, i: usize, urls: &[String], replicas: usize, hook: &str) -> PathBuf {
    let urls: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
    let text = format!(
        "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n\
         [detection]\nlateness_secs = 2\nidle_release_secs = 1\n\
         [cluster]\nnats_url = [{}]\nreplicas = {replicas}\nack_wait_secs = 3\nmax_deliver = 4\n\
         lease_secs = 3\nsnapshot_interval_ms = 200\npublish_timeout_ms = 15000\n\
         [[sinks]]\ntype = \"webhook\"\nurl = {hook:?}\nbackoff_ms = 50\n",
        dir.join(format!("state-{i}")),
        urls.join(", ")
    );
    let p = dir.join(format!("kadet-{i}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// `n` instances of a cluster on `urls`, alerting to `hook`.
fn instances(
    dir: &Path,
    n: usize,
    urls: &[String],
    replicas: usize,
    hook: &str,
) -> Vec<Option<Server>> {
    (0..n)
        .map(|i| Some(Server::start(&config(dir, i, urls, replicas, hook), dir)))
        .collect()
}

/// Alert ids delivered so far, with how often each came.
fn collect(rx: &Receiver<Received>, got: &mut BTreeMap<String, usize>) {
    while let Ok((_, body)) = rx.try_recv() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
            if let Some(id) = v["alert_id"].as_str() {
                *got.entry(id.to_string()).or_default() += 1;
            }
        }
    }
}

/// Waits until the delivered ids are `want` (or time runs out).
fn wait_alerts(rx: &Receiver<Received>, want: &BTreeSet<String>) -> BTreeMap<String, usize> {
    let mut got = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        collect(rx, &mut got);
        if got.keys().cloned().collect::<BTreeSet<_>>() == *want {
            // A little longer, for repeats to show.
            std::thread::sleep(Duration::from_secs(2));
            collect(rx, &mut got);
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    got
}

/// Token requests among benign events, over a few hours of event time.
fn events(n: u64) -> Vec<serde_json::Value> {
    const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "mallory"];
    (0..n)
        .map(|i| {
            let t = ts(i * 4, i % 1000);
            if i % 5 == 0 {
                let user = USERS[(i / 5) as usize % USERS.len()];
                let ns = ["ci", "shop", "kube-system"][(i / 25) as usize % 3];
                token_event(i, user, ns, "deployer", &t)
            } else {
                benign_event(i, &t)
            }
        })
        .collect()
}

fn scan_want(dir: &Path, evs: &[serde_json::Value]) -> BTreeSet<String> {
    let all = dir.join("all.jsonl");
    std::fs::write(
        &all,
        evs.iter().map(|e| format!("{e}\n")).collect::<String>(),
    )
    .unwrap();
    scan_ids(&all).into_iter().collect()
}

/// Posts batches in turn to the live instances, retrying elsewhere when one
/// does not answer 200 (as a load balancer in front of them would).
fn send_all(servers: &[Option<Server>], batches: &[String]) {
    for (i, b) in batches.iter().enumerate() {
        let mut tries = 0;
        loop {
            let live: Vec<&Server> = servers.iter().flatten().collect();
            let s = live[(i + tries) % live.len()];
            if post_audit(s, b) == 200 {
                break;
            }
            tries += 1;
            assert!(tries < 200, "batch {i} keeps failing");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn crash_kill_9_one_instance_mid_stream_loses_nothing() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"));
    let (hook, rx) = receiver_with_headers();
    let evs = events(1500);
    let want = scan_want(dir.path(), &evs);
    assert!(want.len() > 20, "{}", want.len());
    let batches: Vec<String> = evs.chunks(50).map(event_list).collect();
    let mut servers = instances(dir.path(), 3, &[nats.url()], 1, &hook);
    let (first, rest) = batches.split_at(batches.len() / 2);
    send_all(&servers, first);
    if let Some(s) = servers[1].take() {
        s.kill9();
    }
    send_all(&servers, rest);
    let got = wait_alerts(&rx, &want);
    assert_alerts_once(&got, &want, "");
}

#[test]
fn broker_restart_mid_stream_loses_nothing_acknowledged() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let mut nats = NatsServer::start(&dir.path().join("nats"));
    let (hook, rx) = receiver_with_headers();
    let evs = events(1000);
    let want = scan_want(dir.path(), &evs);
    let batches: Vec<String> = evs.chunks(50).map(event_list).collect();
    let servers = instances(dir.path(), 2, &[nats.url()], 1, &hook);
    let (first, rest) = batches.split_at(batches.len() / 2);
    send_all(&servers, first);
    nats.stop();
    nats.restart();
    send_all(&servers, rest);
    let got = wait_alerts(&rx, &want);
    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), want);
}

#[test]
fn losing_a_broker_node_of_three_stops_nothing() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = NatsCluster::start(&dir.path().join("nats"), 3);
    let (hook, rx) = receiver_with_headers();
    let evs = events(600);
    let want = scan_want(dir.path(), &evs);
    let batches: Vec<String> = evs.chunks(50).map(event_list).collect();
    let urls = cluster.urls();
    let servers = instances(dir.path(), 2, &urls, 3, &hook);
    let (first, rest) = batches.split_at(batches.len() / 2);
    send_all(&servers, first);
    cluster.kill9(0);
    send_all(&servers, rest);
    let got = wait_alerts(&rx, &want);
    let ids = got.keys().cloned().collect::<BTreeSet<_>>();
    if ids != want {
        for s in servers.iter().flatten() {
            eprintln!("--- instance log\n{}", s.log());
        }
    }
    assert_eq!(ids, want);
}

/// A rule that alerts once `n` token requests by one user fall in an hour.
fn threshold_rule(dir: &Path, n: u32) -> PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("r.yml"),
        format!(
            "AnalysisType: rule\nRuleID: Test.Many\nSeverity: High\nThreshold: {n}\nLogTypes: [Kubernetes.Audit]\n\
             Detection:\n  - KeyPath: objectRef.subresource\n    Condition: Equals\n    Value: token\n\
             AlertTitle: \"[{{user.username}}] many\"\nDedup: \"{{user.username}}\"\n"
        ),
    )
    .unwrap();
    rules
}

/// `config` with these rules and lateness.
fn config_with(
    dir: &Path,
    i: usize,
    urls: &[String],
    hook: &str,
    rules: &Path,
    lateness: u64,
) -> PathBuf {
    let cfg = config(dir, i, urls, 1, hook);
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replacen(
            "[state]",
            &format!("[rules]\npaths = [{rules:?}]\n[state]"),
            1,
        )
        .replacen(
            "lateness_secs = 2",
            &format!("lateness_secs = {lateness}"),
            1,
        );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

#[test]
fn instances_matching_one_key_at_once_raise_one_alert_with_the_right_count() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"));
    let (hook, rx) = receiver_with_headers();
    // 30 token requests by mallory within two minutes: one dedup key, one
    // window, which reaches its threshold with the 30th, whichever instance
    // counts it.
    let rules = threshold_rule(dir.path(), 30);
    let evs: Vec<serde_json::Value> = (0..30u64)
        .map(|i| token_event(i, "mallory", "ci", "deployer", &ts(i * 4, 0)))
        .collect();
    let servers: Vec<Server> = (0..3)
        .map(|i| {
            Server::start(
                &config_with(dir.path(), i, &[nats.url()], &hook, &rules, 600),
                dir.path(),
            )
        })
        .collect();
    // Three clients at once, each to its own instance, one event a batch.
    let batches: Vec<String> = evs.chunks(1).map(event_list).collect();
    std::thread::scope(|s| {
        for (k, server) in servers.iter().enumerate() {
            let mine: Vec<&String> = batches.iter().skip(k).step_by(3).collect();
            s.spawn(move || {
                for b in mine {
                    assert_eq!(post_audit(server, b), 200);
                }
            });
        }
    });
    let mut alerts: Vec<serde_json::Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        while let Ok((_, body)) = rx.try_recv() {
            alerts.push(serde_json::from_str(&body).unwrap());
        }
        if !alerts.is_empty() {
            std::thread::sleep(Duration::from_secs(3));
            while let Ok((_, body)) = rx.try_recv() {
                alerts.push(serde_json::from_str(&body).unwrap());
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["event_count"], 30);
    // The window scan finds for the same events.
    let all = dir.path().join("all.jsonl");
    std::fs::write(
        &all,
        evs.iter().map(|e| format!("{e}\n")).collect::<String>(),
    )
    .unwrap();
    let out = std::process::Command::new(kadet_bin())
        .args(["scan", "-q", "--format", "jsonl", "--rules"])
        .arg(&rules)
        .arg(&all)
        .output()
        .unwrap();
    assert_eq!(
        ids_of(&String::from_utf8_lossy(&out.stdout)),
        [alerts[0]["alert_id"].as_str().unwrap()]
    );
}

#[test]
fn a_batch_delivered_or_sent_twice_counts_once() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"));
    let (hook, rx) = receiver_with_headers();
    // A threshold of 3 on one key: counting a batch twice would alert.
    let rules = threshold_rule(dir.path(), 3);
    let cfg = config_with(dir.path(), 0, &[nats.url()], &hook, &rules, 2);
    let s = Server::start(&cfg, dir.path());
    let two = event_list(&[
        token_event(1, "eve", "ci", "deployer", &ts(0, 0)),
        token_event(2, "eve", "ci", "deployer", &ts(10, 0)),
    ]);
    // The client resends the same batch (it got no answer, say): stored once.
    assert_eq!(post_audit(&s, &two), 200);
    assert_eq!(post_audit(&s, &two), 200);
    std::thread::sleep(Duration::from_secs(4));
    let mut got = BTreeMap::new();
    collect(&rx, &mut got);
    assert!(
        got.is_empty(),
        "two matches are below the threshold: {got:?}"
    );
    // A third match raises exactly one alert.
    assert_eq!(
        post_audit(
            &s,
            &event_list(&[token_event(3, "eve", "ci", "deployer", &ts(20, 0))])
        ),
        200
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.is_empty() && Instant::now() < deadline {
        collect(&rx, &mut got);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(got.len(), 1, "{got:?}");
    let m = reqwest::blocking::get(s.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(metric(&m, "kadet_cluster_connected "), Some(1.0), "{m}");
    assert!(s.terminate().success());
}

#[test]
fn a_batch_over_the_nats_message_limit_is_refused_as_too_large() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start_with(&dir.path().join("nats"), "max_payload: 65536\n");
    let (hook, _rx) = receiver_with_headers();
    let cfg = config(dir.path(), 0, &[nats.url()], 1, &hook);
    let s = Server::start(&cfg, dir.path());
    let big: Vec<serde_json::Value> = (0..200)
        .map(|i| token_event(i, "eve", "ci", "deployer", &ts(i, 0)))
        .collect();
    let big = event_list(&big);
    assert!(big.len() > 65536, "the batch is {} bytes", big.len());
    // Answered at once with 413 (the API server stops resending), not 503.
    assert_eq!(post_audit(&s, &big), 413);
    let small = event_list(&[token_event(1, "eve", "ci", "deployer", &ts(0, 0))]);
    assert_eq!(post_audit(&s, &small), 200);
    let m = reqwest::blocking::get(s.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        m.contains("reason=\"batch-over-nats-limit\""),
        "the refusal is counted: {m}"
    );
    assert!(s.terminate().success());
}

/// Events across an instance's death: `evs[..split]` go to one instance,
/// which is killed with `-9` once some instance has evaluated them; the
/// rest go to the survivor, one event a batch. Returns `kadet scan`'s
/// alerts for all of `evs` (JSON lines) and the alert ids delivered, with
/// how often each came.
fn first_steps_sent_to_a_killed_instance(
    evs: &[serde_json::Value],
    split: usize,
) -> (String, BTreeMap<String, usize>) {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"));
    let (hook, rx) = receiver_with_headers();
    let all = dir.path().join("all.jsonl");
    std::fs::write(
        &all,
        evs.iter().map(|e| format!("{e}\n")).collect::<String>(),
    )
    .unwrap();
    let scanned = scan_output(&all);
    let want: BTreeSet<String> = ids_of(&scanned).into_iter().collect();
    let mut servers = instances(dir.path(), 2, &[nats.url()], 1, &hook);
    let (first, rest) = evs.split_at(split);
    let doomed = servers[0].as_ref().expect("instance 0");
    assert_eq!(post_audit(doomed, &event_list(first)), 200);
    // Wait until some instance has evaluated them. Whether the dead one's
    // applier saved their state or the survivor applies their results again,
    // the survivor must hold it before the rest (acceptance order).
    let deadline = Instant::now() + Duration::from_secs(60);
    let evaluated = |s: &Server| {
        let text = reqwest::blocking::get(s.url("/metrics"))
            .and_then(|r| r.text())
            .unwrap_or_default();
        metric(&text, "kadet_matches_total").unwrap_or(0.0) > 0.0
    };
    while !servers.iter().flatten().any(evaluated) {
        assert!(
            Instant::now() < deadline,
            "the first steps were not evaluated\n{}",
            doomed.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(s) = servers[0].take() {
        s.kill9();
    }
    let batches: Vec<String> = rest
        .iter()
        .map(|e| event_list(std::slice::from_ref(e)))
        .collect();
    send_all(&servers, &batches);
    let got = wait_alerts(&rx, &want);
    let ids: BTreeSet<String> = got.keys().cloned().collect();
    assert_eq!(ids, want, "the alerts of kadet scan");
    assert!(
        got.values().all(|n| *n == 1),
        "an alert came twice: {got:?}"
    );
    (scanned, got)
}

/// A minted token followed to its use across instances: the minting goes to
/// one instance, which is killed; the uses go to the other. The follow
/// state (the minting's window) lives in the applier's saved state, so the
/// survivor raises the alerts `kadet scan` gives, once each.
#[test]
fn a_minting_sent_to_a_killed_instance_is_followed_by_the_survivor() {
    let (scanned, _) = first_steps_sent_to_a_killed_instance(&minted_token_events(), 2);
    assert_eq!(follow_ids(&scanned).len(), 3, "three uses followed");
}

/// A three-step correlation across instances: the account is created and
/// bound on the instance that is killed, its token requested on the
/// survivor, which completes the sequence from the applier's state.
#[test]
fn a_correlation_begun_on_a_killed_instance_is_completed_by_the_survivor() {
    let (scanned, got) = first_steps_sent_to_a_killed_instance(&serviceaccount_chain_events(), 2);
    let sequence = ids_of_rule(
        &scanned,
        "Kadet.Correlation.ServiceAccountBoundThenTokenMinted",
    );
    assert!(!sequence.is_empty(), "the story is a sequence: {scanned}");
    assert!(sequence.iter().all(|id| got.contains_key(id)));
}

/// First-seen values across instances: the learning week's events go to the
/// instance that is killed, the rest to the survivor, which knows what was
/// learned from the applier's state (a lost state would start learning over
/// and alert nothing).
#[test]
fn first_seen_values_learned_on_a_killed_instance_are_known_to_the_survivor() {
    let (scanned, _) = first_steps_sent_to_a_killed_instance(&first_seen_events(), 3);
    assert!(
        !ids_of(&scanned).is_empty(),
        "the log has first-seen alerts"
    );
}
