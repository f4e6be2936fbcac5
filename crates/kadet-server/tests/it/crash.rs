//! Crash safety: stream batches, `kill -9` the server mid-stream, restart,
//! resend what was not acknowledged (as kube-apiserver does), and compare the
//! alerts with `kadet scan` on the same events.

use crate::common::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "crash-test-token";
const USERS: [&str; 7] = ["alice", "bob", "carol", "dave", "erin", "frank", "mallory"];
const SAS: [(&str, &str); 4] = [
    ("kube-system", "clusterrole-aggregation-controller"),
    ("default", "builder"),
    ("shop", "cart"),
    ("ci", "deployer"),
];

/// Events over about 3 hours of event time, in time order; one in five is a
/// long-lived token request, so keys see several 60-minute windows.
fn events() -> Vec<serde_json::Value> {
    (0..4000u64)
        .map(|i| {
            let t = ts(i * 3, i % 1000);
            if i % 5 == 0 {
                let k = (i / 5) as usize;
                let user = format!(
                    "arn:aws:sts::123456789012:assumed-role/dev/{}",
                    USERS[k % USERS.len()]
                );
                let (ns, sa) = SAS[(k / USERS.len()) % SAS.len()];
                token_event(i, &user, ns, sa, &t)
            } else {
                benign_event(i, &t)
            }
        })
        .collect()
}

#[test]
fn kill_9_mid_stream_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    // Small segments so that compaction happens during the test.
    let cfg = tls_config(
        dir.path(),
        &pki,
        Some(TOKEN),
        false,
        "segment_bytes = 262144\n",
    );
    let evs = events();
    let batches: Vec<String> = evs.chunks(100).map(event_list).collect();
    let all = dir.path().join("all.jsonl");
    std::fs::write(
        &all,
        evs.iter().map(|e| format!("{e}\n")).collect::<String>(),
    )
    .unwrap();
    let want: BTreeSet<String> = scan_ids(&all).into_iter().collect();
    assert!(
        want.len() > 20,
        "the corpus should give many alerts, got {}",
        want.len()
    );

    let client = pki.client(None);
    let send = |s: &str, body: &String| -> bool {
        client
            .post(format!("{s}/v1/audit"))
            .bearer_auth(TOKEN)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    };

    let server = Server::start(&cfg, dir.path());
    let base = server.base.clone();
    // The API server sends batches one after another; acknowledged ones are done.
    let acked = Arc::new(AtomicUsize::new(0));
    let sender = {
        let acked = acked.clone();
        let batches = batches.clone();
        let client = client.clone();
        std::thread::spawn(move || {
            for b in &batches {
                let ok = client
                    .post(format!("{base}/v1/audit"))
                    .bearer_auth(TOKEN)
                    .header("Content-Type", "application/json")
                    .body(b.clone())
                    .send()
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if !ok {
                    return;
                }
                acked.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while acked.load(Ordering::SeqCst) < batches.len() / 2 {
        std::thread::sleep(Duration::from_millis(2));
    }
    server.kill9();
    sender.join().unwrap();
    let done = acked.load(Ordering::SeqCst);
    assert!(done < batches.len(), "the kill should land mid-stream");

    // Restart on the same state and resend everything not acknowledged.
    let server = Server::start(&cfg, dir.path());
    for b in &batches[done..] {
        let mut tries = 0;
        while !send(&server.base, b) {
            tries += 1;
            assert!(tries < 50, "resend keeps failing");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    wait_idle(&client, &server, Some(TOKEN));
    let got = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    let ids = ids_of(&got);
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), unique.len(), "an alert_id was delivered twice");
    assert_eq!(unique, want, "alerts differ from kadet scan");
    // Processed journal segments are compacted away.
    let segs = std::fs::read_dir(dir.path().join("state/journal"))
        .unwrap()
        .count();
    assert!(segs <= 2, "{segs} journal segments left");
    assert!(server.terminate().success());
}
