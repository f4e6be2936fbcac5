//! Cluster mode started while NATS is down: the listener answers at once
//! (`/healthz` alive, `/readyz` and ingest `503` with the reason, naming
//! the server and the cause), and batches are taken once JetStream is up.

use crate::common::nats::NatsServer;
use crate::common::*;
use std::time::{Duration, Instant};

fn get(s: &Server, path: &str) -> (u16, String) {
    match reqwest::blocking::get(s.url(path)) {
        Ok(r) => (r.status().as_u16(), r.text().unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

#[test]
fn with_nats_down_the_listener_answers_and_ingest_waits_for_jetstream() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let mut nats = NatsServer::start(&dir.path().join("nats"));
    let url = nats.url();
    nats.stop();
    let alerts = dir.path().join("alerts.jsonl");
    let cfg = dir.path().join("kadet.toml");
    std::fs::write(
        &cfg,
        format!(
            "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n\
             [detection]\nlateness_secs = 2\nidle_release_secs = 1\n\
             [cluster]\nnats_url = {url:?}\nreplicas = 1\npublish_timeout_ms = 1000\n\
             [[sinks]]\ntype = \"file\"\npath = {alerts:?}\n",
            dir.path().join("state"),
        ),
    )
    .unwrap();
    kadet_bin();
    let started = Instant::now();
    let s = Server::start_listening(&cfg, dir.path());
    let (health, _) = get(&s, "/healthz");
    let (ready, why) = get(&s, "/readyz");
    let within = started.elapsed();
    assert_eq!(health, 200, "{}", s.log());
    assert_eq!(ready, 503, "{why}");
    assert!(why.contains(&url), "/readyz names the server: {why}");
    assert!(within < Duration::from_secs(2), "answered after {within:?}");

    // The cause, once a connection has failed: in /readyz, in the refusal
    // of a batch, and in the log.
    let attack = event_list(&[token_event(1, "eve", "ci", "deployer", &ts(0, 0))]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, why) = get(&s, "/readyz");
        if why.contains("refused") {
            break;
        }
        assert!(Instant::now() < deadline, "no cause in /readyz: {why}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let refused = reqwest::blocking::Client::new()
        .post(s.url("/v1/audit"))
        .header("Content-Type", "application/json")
        .body(attack.clone())
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 503);
    let body = refused.text().unwrap();
    assert!(body.contains(&url) && body.contains("refused"), "{body}");
    let log = s.log();
    assert!(
        log.contains(&url) && log.contains("refused") && !log.contains("IO error"),
        "{log}"
    );

    // NATS comes up: the batch is taken and alerted.
    nats.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    while post_audit(&s, &attack) != 200 {
        assert!(Instant::now() < deadline, "never accepted\n{}", s.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(get(&s, "/readyz").0, 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    while ids_of(&std::fs::read_to_string(&alerts).unwrap_or_default()).is_empty() {
        assert!(Instant::now() < deadline, "no alert\n{}", s.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(s.terminate().success());
}

#[test]
fn stopped_while_waiting_for_nats_it_exits_cleanly() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let port = crate::common::nats::free_port();
    let cfg = dir.path().join("kadet.toml");
    std::fs::write(
        &cfg,
        format!(
            "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n\
             [cluster]\nnats_url = \"nats://127.0.0.1:{port}\"\n",
            dir.path().join("state"),
        ),
    )
    .unwrap();
    let s = Server::start_listening(&cfg, dir.path());
    std::thread::sleep(Duration::from_millis(500));
    let status = s.terminate();
    assert!(status.success(), "{status:?}");
}
