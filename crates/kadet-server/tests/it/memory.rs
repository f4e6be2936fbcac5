//! `kadet serve` under the memory limit the shipped manifests set (1 GiB):
//! hostile or merely large bodies cost their answer, never the process.
//! Concurrent maximal bodies are admitted as far as
//! `max_intake_memory_bytes` allows (the rest get `429` and are sent
//! again, as the API server does), a body of millions of tiny items is
//! refused as it is read, and the process stays up and ready.

use crate::common::*;
use std::time::{Duration, Instant};

const LIMIT: u64 = 1 << 30;

/// A `[limits]` body just under 15 MiB of token requests, each carrying a
/// 3 KiB annotation, numbered from `first`.
fn big_body(first: u64) -> (String, u64) {
    let pad = "x".repeat(3000);
    let mut items = Vec::new();
    let mut size = 0;
    let mut id = first;
    while size < 15 << 20 {
        let mut e = token_event(
            id,
            &format!("u{}", id % 50),
            "ci",
            "deployer",
            &ts(id % 3600, 0),
        );
        e["annotations"] = serde_json::json!({ "example.com/pad": pad });
        let text = e.to_string();
        size += text.len() + 1;
        items.push(text);
        id += 1;
    }
    (
        format!("{{\"kind\":\"EventList\",\"items\":[{}]}}", items.join(",")),
        id - first,
    )
}

fn peak_rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn under_the_manifests_memory_limit_large_and_hostile_bodies_cost_only_their_answer() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = plain_config(dir.path(), "");
    let mut s = Server::start_with_memory_limit(&cfg, dir.path(), LIMIT);
    let pid = s.child.id();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let post = |body: &str| -> u16 {
        client
            .post(s.url("/v1/audit"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    // Eight maximal bodies at once; refused ones are sent again.
    let made: Vec<(String, u64)> = (0..8).map(|i| big_body(i * 100_000)).collect();
    let sent: u64 = made.iter().map(|(_, n)| n).sum();
    let bodies: Vec<String> = made.into_iter().map(|(b, _)| b).collect();
    let mut refused = 0;
    std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|b| {
                scope.spawn(|| {
                    let deadline = Instant::now() + Duration::from_secs(180);
                    let mut tries = 0;
                    loop {
                        let code = post(b);
                        if code == 200 {
                            return tries;
                        }
                        assert_eq!(code, 429, "a maximal body is taken or postponed");
                        assert!(Instant::now() < deadline, "never taken");
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(200));
                    }
                })
            })
            .collect();
        for h in handles {
            refused += h.join().unwrap();
        }
    });
    // 16 MiB of tiny items: refused as it is read.
    let tiny = format!("[{}0]", "0,".repeat((15 << 20) / 2));
    assert_eq!(post(&tiny), 413);
    let metrics = wait_idle(&client, &s, None);
    assert!(
        s.child.try_wait().ok().flatten().is_none(),
        "kadet died under the limit:\n{}",
        s.log()
    );
    assert_eq!(
        client
            .get(s.url("/readyz"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let peak = peak_rss(pid);
    assert!(peak < LIMIT, "peak RSS {peak} bytes");
    let evaluated = metric(&metrics, "kadet_events_evaluated_total{");
    assert_eq!(
        evaluated,
        Some(sent as f64),
        "every event of every body evaluated"
    );
    eprintln!(
        "peak RSS {} MiB, {refused} postponed, {sent} events",
        peak >> 20
    );
    assert!(s.terminate().success());
}
