//! `kadet serve` end to end: the real binary over HTTPS with a real client.

use crate::common::*;
use base64::Engine;
use std::io::Write;
use std::process::Command;
use std::time::Duration;

const TOKEN: &str = "kadet-test-token-0123456789abcdef";

fn attack_batch() -> (String, Vec<serde_json::Value>) {
    let items = vec![
        benign_event(1, &ts(0, 1)),
        token_event(
            2,
            "arn:aws:sts::123456789012:assumed-role/dev-ops/mallory",
            "kube-system",
            "clusterrole-aggregation-controller",
            &ts(1, 5),
        ),
        benign_event(3, &ts(2, 0)),
    ];
    (event_list(&items), items)
}

fn expected_ids(dir: &std::path::Path, items: &[serde_json::Value]) -> Vec<String> {
    let f = dir.join("events.jsonl");
    let text: String = items.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&f, text).unwrap();
    scan_ids(&f)
}

fn sink_ids(dir: &std::path::Path) -> Vec<String> {
    ids_of(&std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap_or_default())
}

#[test]
fn bearer_token_accepted_and_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let cfg = tls_config(dir.path(), &pki, Some(TOKEN), false, "");
    let s = Server::start(&cfg, dir.path());
    let c = pki.client(None);
    let (body, items) = attack_batch();
    let post = |token: Option<&str>| {
        let mut r = c
            .post(s.url("/v1/audit"))
            .header("Content-Type", "application/json")
            .body(body.clone());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().unwrap()
    };
    assert_eq!(post(None).status(), 401);
    assert_eq!(
        post(Some("kadet-test-token-0123456789abcdeX")).status(),
        401
    );
    assert_eq!(post(Some("short")).status(), 401);
    let ok = post(Some(TOKEN));
    assert_eq!(ok.status(), 200);
    let v: serde_json::Value = ok.json().unwrap();
    assert_eq!(v["accepted"], 3);
    // An AKS diagnostic batch on /v1/aks.
    let aks = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/aks-diagnostics.json"
    ))
    .unwrap();
    let r = c
        .post(s.url("/v1/aks"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(aks)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<serde_json::Value>().unwrap()["accepted"]
        .as_u64()
        .is_some_and(|n| n > 0));
    // Health needs no credentials; metrics do.
    assert_eq!(c.get(s.url("/healthz")).send().unwrap().status(), 200);
    assert_eq!(c.get(s.url("/readyz")).send().unwrap().status(), 200);
    assert_eq!(c.get(s.url("/metrics")).send().unwrap().status(), 401);
    let m = wait_idle(&c, &s, Some(TOKEN));
    assert_eq!(
        metric(&m, "kadet_unauthenticated_total{endpoint=\"/v1/audit\"}"),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "kadet_events_accepted_total{endpoint=\"/v1/audit\"}"),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "kadet_alerts_total{rule=\"Kubernetes.ServiceAccount.TokenCreated\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert!(
        m.contains("kadet_request_duration_seconds_bucket{endpoint=\"/v1/audit\""),
        "{m}"
    );
    let want = expected_ids(dir.path(), &items);
    assert_eq!(want.len(), 1);
    assert_eq!(sink_ids(dir.path()), want);
    // Secrets never reach the logs: the server's stderr is checked in
    // `config_errors_and_clean_shutdown`; here the token must not be in the state dir's text files.
    assert!(!std::fs::read_to_string(dir.path().join("alerts.jsonl"))
        .unwrap()
        .contains(TOKEN));
    let status = s.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn mtls_accepted_and_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let cfg = tls_config(dir.path(), &pki, None, true, "");
    let s = Server::start(&cfg, dir.path());
    let (body, _) = attack_batch();
    let post = |c: &reqwest::blocking::Client| {
        c.post(s.url("/v1/audit"))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
    };
    // A certificate from the configured CA.
    assert_eq!(
        post(&pki.client(Some(&pki.client_identity)))
            .unwrap()
            .status(),
        200
    );
    // No certificate: 401.
    assert_eq!(post(&pki.client(None)).unwrap().status(), 401);
    // A certificate from another CA: the handshake fails.
    assert!(post(&pki.client(Some(&pki.rogue_identity))).is_err());
    let m = wait_idle(&pki.client(Some(&pki.client_identity)), &s, None);
    assert_eq!(
        metric(&m, "kadet_unauthenticated_total{endpoint=\"/v1/audit\"}"),
        Some(1.0),
        "{m}"
    );
    assert!(
        metric(&m, "kadet_tls_handshake_failures_total").unwrap_or(0.0) >= 1.0,
        "{m}"
    );
}

#[test]
fn mtls_client_names_limit_which_certificates_count() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let (body, _) = attack_batch();
    // The test client's certificate is CN and DNS SAN "kube-apiserver".
    for (names, want) in [
        (r#"["audit-forwarder"]"#, 401),
        (r#"["audit-forwarder", "kube-apiserver"]"#, 200),
    ] {
        let cfg = tls_config(dir.path(), &pki, None, true, "");
        let text = std::fs::read_to_string(&cfg).unwrap().replacen(
            "client_ca_file",
            &format!("client_names = {names}\nclient_ca_file"),
            1,
        );
        std::fs::write(&cfg, text).unwrap();
        let s = Server::start(&cfg, dir.path());
        let got = pki
            .client(Some(&pki.client_identity))
            .post(s.url("/v1/audit"))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .unwrap()
            .status();
        assert_eq!(got, want, "client_names = {names}");
        assert!(s.terminate().success());
    }
    // Names without a client CA to verify them: refused at start.
    let cfg = tls_config(dir.path(), &pki, Some(TOKEN), false, "");
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "[tls]\n",
        "[tls]\nclient_names = [\"x\"]\n",
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    let out = std::process::Command::new(kadet_bin())
        .args(["serve", "--check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("client_names needs client_ca_file"), "{err}");
}

#[test]
fn hostile_input_413_415_400_and_oversized_event() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let cfg = tls_config(
        dir.path(),
        &pki,
        Some(TOKEN),
        false,
        "max_body_bytes = 65536\nmax_event_bytes = 8192\n",
    );
    let s = Server::start(&cfg, dir.path());
    let c = pki.client(None);
    let post = |ct: &str, body: Vec<u8>| {
        c.post(s.url("/v1/audit"))
            .bearer_auth(TOKEN)
            .header("Content-Type", ct)
            .body(body)
            .send()
            .unwrap()
    };

    // 413: declared length over the limit, and a chunked body over it.
    let big = vec![b' '; 70_000];
    assert_eq!(post("application/json", big.clone()).status(), 413);
    let stream = reqwest::blocking::Body::new(ChunkReader(vec![b' '; 20 * 8192], 0));
    let r = c
        .post(s.url("/v1/audit"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body(stream)
        .send();
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }

    // 415.
    assert_eq!(post("text/plain", b"{}".to_vec()).status(), 415);
    assert_eq!(
        c.post(s.url("/v1/audit"))
            .bearer_auth(TOKEN)
            .body("{}")
            .send()
            .unwrap()
            .status(),
        415
    );

    // 400 with where.
    let r = post(
        "application/json",
        b"{\"kind\":\"EventList\",\"items\":[\n{\"verb\":\"get\"},\n{\"verb\" \"x\"}]}".to_vec(),
    );
    assert_eq!(r.status(), 400);
    let msg = r.text().unwrap();
    assert!(msg.contains("line 3, column 9"), "{msg}");

    // An oversized single event is dropped; the rest of the batch is kept.
    let (_, mut items) = attack_batch();
    let mut huge = benign_event(99, &ts(1, 0));
    huge["requestObject"] = serde_json::json!({ "pad": "x".repeat(10_000) });
    items.insert(1, huge);
    let r = post("application/json", event_list(&items).into_bytes());
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(3), Some(1))
    );
    let m = wait_idle(&c, &s, Some(TOKEN));
    assert_eq!(
        metric(&m, "kadet_events_rejected_total{reason=\"too-large\"}"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "kadet_batches_rejected_total{reason=\"body-too-large\"}"
        )
        .map(|v| v >= 1.0),
        Some(true),
        "{m}"
    );
    assert_eq!(sink_ids(dir.path()).len(), 1);
    // gzip Content-Encoding: accepted; a gzip bomb over the limit: 413.
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let (small, _) = attack_batch();
    let send_gz = |body: Vec<u8>| {
        c.post(s.url("/v1/audit"))
            .bearer_auth(TOKEN)
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .body(body)
            .send()
            .unwrap()
    };
    assert_eq!(send_gz(gz(small.as_bytes())).status(), 200);
    assert_eq!(send_gz(gz(&vec![b' '; 4 << 20])).status(), 413);
    let r = c
        .post(s.url("/v1/audit"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "br")
        .body(small)
        .send()
        .unwrap();
    assert_eq!(r.status(), 415);
    // The server is still fine.
    assert_eq!(c.get(s.url("/healthz")).send().unwrap().status(), 200);
}

/// A body that trickles out of a Vec.
struct ChunkReader(Vec<u8>, usize);
impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len() - self.1).min(4096);
        buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
        self.1 += n;
        Ok(n)
    }
}

#[test]
fn slow_loris_is_cut_off() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = String::new();
    cfg.push_str("[listen]\naddress = \"127.0.0.1:0\"\n[state]\n");
    cfg.push_str(&format!("dir = {:?}\n", dir.path().join("state")));
    cfg.push_str("[limits]\nheader_read_timeout_secs = 1\nbody_read_timeout_secs = 1\n");
    cfg.push_str(&format!(
        "[[sinks]]\ntype = \"file\"\npath = {:?}\n",
        dir.path().join("alerts.jsonl")
    ));
    let p = dir.path().join("k.toml");
    std::fs::write(&p, cfg).unwrap();
    let s = Server::start(&p, dir.path());
    // Headers that never finish.
    let mut a = std::net::TcpStream::connect(&s.addr).unwrap();
    a.write_all(b"POST /v1/audit HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    a.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let started = std::time::Instant::now();
    let _ = a.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "header timeout did not fire"
    );
    // A body that never finishes.
    let mut b = std::net::TcpStream::connect(&s.addr).unwrap();
    b.write_all(b"POST /v1/audit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"items\":[").unwrap();
    b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut resp = String::new();
    let _ = b.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    // Still serving.
    let c = reqwest::blocking::Client::new();
    assert_eq!(c.get(s.url("/healthz")).send().unwrap().status(), 200);
}

#[test]
fn backpressure_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let cfg = tls_config(
        dir.path(),
        &pki,
        Some(TOKEN),
        false,
        "max_backlog_bytes = 1000\nretry_after_secs = 7\n",
    );
    let s = Server::start(&cfg, dir.path());
    let c = pki.client(None);
    let (body, _) = attack_batch();
    let post = || {
        c.post(s.url("/v1/audit"))
            .bearer_auth(TOKEN)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .unwrap()
    };
    assert_eq!(post().status(), 200);
    wait_idle(&c, &s, Some(TOKEN));
    // Stall the detector: hold the store's write lock, as a stuck disk would.
    let store = rusqlite::Connection::open(dir.path().join("state/kadet.sqlite")).unwrap();
    store.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert_eq!(post().status(), 200);
    let r = post();
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    assert_eq!(c.get(s.url("/readyz")).send().unwrap().status(), 503);
    store.execute_batch("COMMIT").unwrap();
    drop(store);
    wait_idle(&c, &s, Some(TOKEN));
    assert_eq!(post().status(), 200);
}

fn firehose_record(payload: &str) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(payload.as_bytes()).unwrap();
    base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
}

#[test]
fn firehose_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let cfg = tls_config(dir.path(), &pki, Some(TOKEN), false, "");
    let s = Server::start(&cfg, dir.path());
    let c = pki.client(None);
    let (_, items) = attack_batch();
    let log_events: Vec<serde_json::Value> = items
        .iter()
        .enumerate()
        .map(|(i, e)| serde_json::json!({ "id": format!("{i}"), "timestamp": 1_793_613_600_000u64 + i as u64, "message": e.to_string() }))
        .collect();
    let payload = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/eks/prod-east/cluster",
        "logStream": "kube-apiserver-audit-0123", "subscriptionFilters": ["kadet"], "logEvents": log_events
    })
    .to_string();
    let control = serde_json::json!({ "messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "", "subscriptionFilters": [], "logEvents": [] }).to_string();
    let body = serde_json::json!({
        "requestId": "ed4acda5-034f-9f42-bba1-f29aea6d7d8f",
        "timestamp": 1_578_090_901_599u64,
        "records": [ { "data": firehose_record(&payload) }, { "data": firehose_record(&control) } ]
    })
    .to_string();
    let send = |key: &str| {
        c.post(s.url("/v1/eks/firehose"))
            .header("Content-Type", "application/json")
            .header(
                "X-Amz-Firehose-Request-Id",
                "ed4acda5-034f-9f42-bba1-f29aea6d7d8f",
            )
            .header("X-Amz-Firehose-Access-Key", key)
            .body(body.clone())
            .send()
            .unwrap()
    };
    let bad = send("wrong");
    assert_eq!(bad.status(), 401);
    let v: serde_json::Value = bad.json().unwrap();
    assert_eq!(v["requestId"], "ed4acda5-034f-9f42-bba1-f29aea6d7d8f");
    assert!(
        v["errorMessage"].is_string() && v["timestamp"].is_u64(),
        "{v}"
    );
    let ok = send(TOKEN);
    assert_eq!(ok.status(), 200);
    assert!(ok
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json")));
    let v: serde_json::Value = ok.json().unwrap();
    assert_eq!(v["requestId"], "ed4acda5-034f-9f42-bba1-f29aea6d7d8f");
    assert!(
        v["timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_700_000_000_000),
        "{v}"
    );
    assert!(v.get("errorMessage").is_none());
    // Malformed record data: an error the way Firehose expects it.
    let r = c
        .post(s.url("/v1/eks/firehose"))
        .header("Content-Type", "application/json")
        .header("X-Amz-Firehose-Access-Key", TOKEN)
        .body(r#"{"requestId":"r-2","timestamp":1,"records":[{"data":"%%%"}]}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().unwrap();
    assert!(
        v["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("base64")),
        "{v}"
    );
    wait_idle(&c, &s, Some(TOKEN));
    // Same alert as scan on the same Firehose record, gzip+base64 as delivered.
    let f = dir.path().join("firehose.txt");
    std::fs::write(&f, format!("{}\n", firehose_record(&payload))).unwrap();
    let want = scan_ids(&f);
    assert_eq!(want.len(), 1);
    assert_eq!(sink_ids(dir.path()), want);
    let alert: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(dir.path().join("alerts.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(alert["cluster"], "prod-east");
    assert_eq!(alert["log_types"], serde_json::json!(["Amazon.EKS.Audit"]));
}

#[test]
fn config_errors_and_clean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[listen]\naddress = \"127.0.0.1:0\"\n\n[limits]\nmax_body_byts = 5\n",
    )
    .unwrap();
    let out = Command::new(kadet_bin())
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:5:") && err.contains("max_body_byts"),
        "{err}"
    );

    let open = dir.path().join("open.toml");
    std::fs::write(
        &open,
        format!(
            "[listen]\naddress = \"0.0.0.0:0\"\n[state]\ndir = {:?}\n",
            dir.path().join("s")
        ),
    )
    .unwrap();
    let out = Command::new(kadet_bin())
        .args(["serve", "--config"])
        .arg(&open)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--insecure-listen"));
}

/// A tiny HTTP receiver: answers `fail_first` requests with 500, then 200;
/// hands every body to the test.
fn receiver(fail_first: usize) -> (String, std::sync::mpsc::Receiver<(u16, String)>) {
    use std::io::{BufRead, BufReader, Read};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, conn) in l.incoming().enumerate() {
            let Ok(mut conn) = conn else { return };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let code = if n < fail_first { 500 } else { 200 };
            let _ = conn.write_all(
                format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            if tx
                .send((code, String::from_utf8_lossy(&body).into_owned()))
                .is_err()
            {
                return;
            }
        }
    });
    (url, rx)
}

#[test]
fn webhook_sink_retries_then_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let (ok_url, ok_rx) = receiver(2);
    let (bad_url, bad_rx) = receiver(usize::MAX);
    let dead = dir.path().join("dead.jsonl");
    let cfg = format!(
        "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n\
         [detection]\nlateness_secs = 1\nidle_release_secs = 1\n\
         [[sinks]]\ntype = \"webhook\"\nname = \"chat\"\nurl = {ok_url:?}\nformat = \"slack\"\nbackoff_ms = 50\n\
         [[sinks]]\ntype = \"webhook\"\nname = \"siem\"\nurl = {bad_url:?}\nmax_attempts = 2\nbackoff_ms = 50\ndead_letter = {dead:?}\n",
        dir.path().join("state")
    );
    let p = dir.path().join("k.toml");
    std::fs::write(&p, cfg).unwrap();
    let s = Server::start(&p, dir.path());
    let c = reqwest::blocking::Client::new();
    let (body, _) = attack_batch();
    let r = c
        .post(s.url("/v1/audit"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let wait = Duration::from_secs(20);
    let got: Vec<(u16, String)> = (0..3).map(|_| ok_rx.recv_timeout(wait).unwrap()).collect();
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        vec![500, 500, 200]
    );
    let slack: serde_json::Value = serde_json::from_str(&got[2].1).unwrap();
    assert!(
        slack["text"]
            .as_str()
            .is_some_and(|t| t.contains("HIGH") && t.contains("mallory")),
        "{slack}"
    );
    assert_eq!(bad_rx.recv_timeout(wait).unwrap().0, 500);
    assert_eq!(bad_rx.recv_timeout(wait).unwrap().0, 500);
    let m = wait_idle(&c, &s, None);
    assert_eq!(
        metric(&m, "kadet_sink_deliveries_total{sink=\"chat\"}"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "kadet_sink_failures_total{sink=\"chat\"}"),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "kadet_sink_dead_letters_total{sink=\"siem\"}"),
        Some(1.0),
        "{m}"
    );
    let dl = std::fs::read_to_string(&dead).unwrap();
    let letters: Vec<serde_json::Value> = dl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 1, "{dl}");
    assert_eq!(letters[0]["kind"], "alert");
    assert_eq!(letters[0]["origin"], "sink siem");
    assert!(letters[0]["payload"]["alert_id"].is_string(), "{dl}");
    assert!(
        bad_rx.try_recv().is_err(),
        "no delivery after the dead letter"
    );
}
