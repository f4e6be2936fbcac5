//! Day two of `kadet serve`: rules reload without a restart (SIGHUP and file
//! changes; a broken file keeps the old rules; no 5xx and no lost batch while
//! it happens), and signed webhook deliveries that verify with the
//! documented method.

use crate::common::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rule(id: &str, user: &str) -> String {
    format!(
        "AnalysisType: rule\nRuleID: {id}\nSeverity: High\nLogTypes: [Kubernetes.Audit]\n\
         Detection:\n  - KeyPath: user.username\n    Condition: Equals\n    Value: {user}\n\
         AlertTitle: \"{id} [{{auditID}}]\"\nDedup: \"{{auditID}}\"\n"
    )
}

fn denial(id: u64, user: &str, secs: u64) -> serde_json::Value {
    serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
        "auditID": format!("e{id}"), "verb": "get", "user": {"username": user},
        "objectRef": {"resource": "pods", "namespace": "default"},
        "responseStatus": {"code": 403}, "stageTimestamp": ts(secs, 0)
    })
}

fn alerts(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap_or_default()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn metrics(s: &Server) -> String {
    reqwest::blocking::get(s.url("/metrics"))
        .and_then(|r| r.text())
        .unwrap_or_default()
}

fn sighup(s: &Server) {
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn rules_reload_on_sighup_and_on_change_and_a_broken_file_keeps_the_old_set() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("a.yml"), rule("Test.A", "alice")).unwrap();
    let cfg = plain_config(
        dir.path(),
        &format!("[rules]\npaths = [{rules:?}]\nwatch_interval_ms = 200\n"),
    );
    let s = Server::start(&cfg, dir.path());
    // Load during the whole test: every batch must be answered 200.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let base = s.base.clone();
    let load = {
        let (stop, sent) = (stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let c = reqwest::blocking::Client::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Acquire) {
                i += 1;
                let body = event_list(&[denial(1_000_000 + i, "nobody", 0)]);
                let status = c
                    .post(format!("{base}/v1/audit"))
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                assert_eq!(status, 200, "batch {i} during reloads");
                sent.fetch_add(1, Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    assert_eq!(post_audit(&s, &event_list(&[denial(1, "alice", 1)])), 200);
    wait_for("Test.A's alert", || {
        alerts(dir.path()).contains("Test.A [e1]")
    });
    let hash_a = metric_line(&metrics(&s), "kadet_rules_info{");

    // A broken file, then SIGHUP: the old rules go on.
    std::fs::write(
        rules.join("b.yml"),
        "AnalysisType: rule\nRuleID: Test.B\nSeverty: High\n",
    )
    .unwrap();
    sighup(&s);
    wait_for("the failed reload", || {
        metric(&metrics(&s), "kadet_rules_reload_failed ") == Some(1.0)
    });
    assert!(
        s.log().contains("b.yml:3"),
        "the log names the file and line"
    );
    assert_eq!(post_audit(&s, &event_list(&[denial(2, "alice", 2)])), 200);
    wait_for("Test.A still alerting", || {
        alerts(dir.path()).contains("Test.A [e2]")
    });
    assert_eq!(metric_line(&metrics(&s), "kadet_rules_info{"), hash_a);

    // Fixed on disk: picked up within seconds, without a signal.
    std::fs::write(rules.join("b.yml"), rule("Test.B", "bob")).unwrap();
    wait_for("the reload", || {
        metric(&metrics(&s), "kadet_rules_generation ") == Some(2.0)
    });
    assert_ne!(metric_line(&metrics(&s), "kadet_rules_info{"), hash_a);
    assert_eq!(
        metric(&metrics(&s), "kadet_rules_reload_failed "),
        Some(0.0)
    );
    assert_eq!(
        post_audit(
            &s,
            &event_list(&[denial(3, "bob", 3), denial(4, "alice", 4)])
        ),
        200
    );
    wait_for("both rules alerting", || {
        let a = alerts(dir.path());
        a.contains("Test.B [e3]") && a.contains("Test.A [e4]")
    });
    stop.store(true, Ordering::Release);
    load.join().expect("no 5xx during the reloads");
    // No batch lost: every one was journaled, and the journal is evaluated.
    let m = wait_idle(&reqwest::blocking::Client::new(), &s, None);
    let accepted = metric(&m, "kadet_events_accepted_total{endpoint=\"/v1/audit\"} ");
    let total = sent.load(Ordering::Acquire) + 4;
    assert_eq!(accepted, Some(total as f64));
    assert_eq!(metric(&m, "kadet_journal_backlog_bytes "), Some(0.0));
    assert!(s.terminate().success());
}

fn metric_line(text: &str, prefix: &str) -> String {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or("")
        .to_string()
}

#[test]
fn webhook_deliveries_are_signed_and_verify_with_the_documented_method() {
    use kadet_server::sinks::signature::{verify, Refused};
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("signing-key");
    std::fs::write(&key_file, "whsec-2f4b8d1e9a7c\n").unwrap();
    let (url, rx) = receiver_with_headers();
    let cfg = plain_config(
        dir.path(),
        &format!("[[sinks]]\ntype = \"webhook\"\nurl = {url:?}\nsigning_key_file = {key_file:?}\n"),
    );
    let s = Server::start(&cfg, dir.path());
    let attack = token_event(1, "mallory", "ci", "deployer", &ts(0, 0));
    assert_eq!(post_audit(&s, &event_list(&[attack])), 200);
    let (headers, body) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a delivery");
    let header = headers
        .iter()
        .find(|(k, _)| k == "x-kadet-signature")
        .map(|(_, v)| v.clone())
        .expect("signed");
    let key = b"whsec-2f4b8d1e9a7c";
    let now = kadet_server::now_ms() / 1000;
    assert_eq!(verify(key, &header, body.as_bytes(), now, 300), Ok(()));
    let changed = body.replace("mallory", "mallorx");
    assert_eq!(
        verify(key, &header, changed.as_bytes(), now, 300),
        Err(Refused::Mismatch)
    );
    assert_eq!(
        verify(key, &header, body.as_bytes(), now + 3600, 300),
        Err(Refused::Stale)
    );
    // The Python example in docs/ agrees.
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok()
    {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/examples/verify_kadet_signature.py");
        let body_file = dir.path().join("body.json");
        let python = |body: &str, at: i64| {
            std::fs::write(&body_file, body).unwrap();
            std::process::Command::new("python3")
                .arg(&script)
                .arg(&key_file)
                .arg(&header)
                .arg(&body_file)
                .arg(at.to_string())
                .status()
                .unwrap()
                .success()
        };
        assert!(python(&body, now), "valid");
        assert!(!python(&changed, now), "changed body");
        assert!(!python(&body, now + 3600), "old timestamp");
    }
    assert!(s.terminate().success());
}

#[test]
fn a_request_names_the_cluster_of_events_that_name_none() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = plain_config(dir.path(), "");
    // The default for requests that name none.
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "[listen]\n",
        "[listen]\ncluster = \"fallback\"\n",
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    let s = Server::start(&cfg, dir.path());
    let c = reqwest::blocking::Client::new();
    let post = |path: &str, id: u64, user: &str| {
        c.post(s.url(path))
            .header("Content-Type", "application/json")
            .body(event_list(&[token_event(
                id,
                user,
                "ci",
                "deployer",
                &ts(id, 0),
            )]))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post("/v1/audit?cluster=prod-eu-1", 1, "ann"), 200);
    assert_eq!(post("/v1/audit", 2, "ben"), 200);
    assert_eq!(post("/v1/audit?cluster=bad%20name", 3, "cy"), 400);
    // The path form, which kube-apiserver's webhook client keeps.
    assert_eq!(post("/v1/audit/prod-us-2", 4, "dee"), 200);
    assert_eq!(post("/v1/audit/bad%20name", 5, "eli"), 400);
    wait_idle(&c, &s, None);
    let got: Vec<serde_json::Value> = alerts(dir.path())
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cluster_of = |user: &str| {
        got.iter()
            .find(|a| {
                a["title"]
                    .as_str()
                    .unwrap_or("")
                    .contains(&format!("[{user}]"))
            })
            .map(|a| a["cluster"].clone())
    };
    assert_eq!(cluster_of("ann"), Some("prod-eu-1".into()));
    assert_eq!(cluster_of("ben"), Some("fallback".into()));
    assert_eq!(cluster_of("cy"), None);
    assert_eq!(cluster_of("dee"), Some("prod-us-2".into()));
    assert_eq!(cluster_of("eli"), None);
    // An event's location says where its batch came from and when.
    let dee = got
        .iter()
        .find(|a| a["cluster"] == "prod-us-2")
        .and_then(|a| a["events"][0]["location"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        dee.starts_with("/v1/audit/prod-us-2, accepted 20")
            && dee.contains(", batch ")
            && dee.ends_with("#0"),
        "{dee}"
    );
    assert!(s.terminate().success());
}

#[test]
fn tuning_applies_in_serve_counts_what_it_suppresses_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("a.yml"), rule("Test.A", "alice")).unwrap();
    let tuning = dir.path().join("tuning.yml");
    let exclude = "AnalysisType: tuning\nTuning:\n  - Rules: [\"Test.*\"]\n    Reason: alice's denials are a known probe\n    Exclude:\n      - KeyPath: objectRef.namespace\n        Condition: Equals\n        Value: default\n";
    std::fs::write(&tuning, exclude).unwrap();
    let cfg = plain_config(
        dir.path(),
        &format!("[rules]\npaths = [{rules:?}]\ntuning = [{tuning:?}]\nwatch_interval_ms = 200\n"),
    );
    let s = Server::start(&cfg, dir.path());
    let c = reqwest::blocking::Client::new();
    assert_eq!(post_audit(&s, &event_list(&[denial(1, "alice", 1)])), 200);
    let m = wait_idle(&c, &s, None);
    let entry = format!("{}:3", tuning.display());
    let suppressed = format!("kadet_tuning_suppressed_total{{rule=\"Test.A\",entry=\"{entry}\"}} ");
    assert_eq!(metric(&m, &suppressed), Some(1.0), "{m}");
    assert!(!alerts(dir.path()).contains("Test.A"));
    // The exclusion removed: picked up without a restart.
    std::fs::write(&tuning, "AnalysisType: tuning\nTuning: []\n").unwrap();
    wait_for("the reload", || {
        metric(&metrics(&s), "kadet_rules_generation ") == Some(2.0)
    });
    assert_eq!(post_audit(&s, &event_list(&[denial(2, "alice", 2)])), 200);
    wait_for("the alert", || alerts(dir.path()).contains("Test.A [e2]"));
    assert!(s.terminate().success());
}

#[test]
fn by_default_an_alert_leaves_with_its_batch_and_a_late_earlier_match_joins_it() {
    let dir = tempfile::tempdir().unwrap();
    let alerts_file = dir.path().join("alerts.jsonl");
    let cfg = dir.path().join("kadet.toml");
    // No [detection]: the defaults.
    std::fs::write(
        &cfg,
        format!(
            "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n[[sinks]]\ntype = \"file\"\npath = {alerts_file:?}\n",
            dir.path().join("state")
        ),
    )
    .unwrap();
    let s = Server::start(&cfg, dir.path());
    let later = token_event(2, "eve", "ci", "deployer", &ts(30, 0));
    let earlier = token_event(1, "eve", "ci", "deployer", &ts(0, 0));
    let other = benign_event(3, &ts(31, 0));
    assert_eq!(
        post_audit(&s, &event_list(&[later.clone(), other.clone()])),
        200
    );
    // The alert does not wait for event time to move on, nor for idle time
    // (60 s before): the next pass raises it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        let ids = ids_of(&std::fs::read_to_string(&alerts_file).unwrap_or_default());
        if let Some(id) = ids.first() {
            break id.clone();
        }
        assert!(Instant::now() < deadline, "no alert yet\n{}", s.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    // A match that arrives later with an earlier time joins the open window:
    // no second alert, the same id.
    assert_eq!(
        post_audit(&s, &event_list(std::slice::from_ref(&earlier))),
        200
    );
    let c = reqwest::blocking::Client::new();
    wait_idle(&c, &s, None);
    let ids = ids_of(&std::fs::read_to_string(&alerts_file).unwrap());
    assert_eq!(ids, std::slice::from_ref(&first));
    assert!(s.terminate().success());
    // scan --lateness-secs 0 reads the same events in the same order alike.
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, format!("{later}\n{other}\n{earlier}\n")).unwrap();
    let out = std::process::Command::new(kadet_bin())
        .args(["scan", "-q", "--format", "jsonl", "--lateness-secs", "0"])
        .arg(&events)
        .output()
        .unwrap();
    assert_eq!(ids_of(&String::from_utf8_lossy(&out.stdout)), [first]);
}

#[test]
fn standard_webhooks_signatures_cover_the_id_and_verify_independently() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    // A key as the spec writes it: whsec_ and base64.
    let raw_key = b"kadet-standard-webhooks-test-key-0123";
    let b64 = base64::engine::general_purpose::STANDARD;
    let key_file = dir.path().join("signing-key");
    std::fs::write(&key_file, format!("whsec_{}\n", b64.encode(raw_key))).unwrap();
    let (url, rx) = receiver_with_headers();
    let cfg = plain_config(
        dir.path(),
        &format!(
            "[[sinks]]\ntype = \"webhook\"\nurl = {url:?}\nsigning_key_file = {key_file:?}\nsignature = \"standard-webhooks\"\n"
        ),
    );
    let s = Server::start(&cfg, dir.path());
    let attack = token_event(1, "mallory", "ci", "deployer", &ts(0, 0));
    assert_eq!(post_audit(&s, &event_list(&[attack])), 200);
    let (headers, body) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a delivery");
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name}: {headers:?}"))
    };
    let (id, t, sig) = (
        get("webhook-id"),
        get("webhook-timestamp"),
        get("webhook-signature"),
    );
    let alert: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alert["alert_id"], id.as_str());
    assert!(!headers.iter().any(|(k, _)| k == "x-kadet-signature"));
    // Recomputed outside kadet, as a receiver's library would.
    let script = "import base64, hashlib, hmac, sys\n\
        key, msg = base64.b64decode(sys.argv[1]), sys.argv[2].encode() + open(sys.argv[3], 'rb').read()\n\
        print('v1,' + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode())";
    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, &body).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", script, &b64.encode(raw_key), &format!("{id}.{t}.")])
        .arg(&body_file)
        .output()
        .expect("python3");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), sig);
    assert!(s.terminate().success());
}

/// A webhook receiver that takes `hold` to answer each request; it counts
/// the requests and the most it held at once.
fn slow_receiver(hold: Duration) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (done, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let now = Arc::new(AtomicUsize::new(0));
    let (d, m) = (done.clone(), most.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (d, m, now) = (d.clone(), m.clone(), now.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let held = now.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(held, Ordering::SeqCst);
                std::thread::sleep(hold);
                now.fetch_sub(1, Ordering::SeqCst);
                d.fetch_add(1, Ordering::SeqCst);
                let mut conn = reader.into_inner();
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            });
        }
    });
    (url, done, most)
}

#[test]
fn a_slow_receiver_gets_several_deliveries_at_once_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (url, done, most) = slow_receiver(Duration::from_millis(800));
    let cfg = plain_config(
        dir.path(),
        &format!("[[sinks]]\ntype = \"webhook\"\nurl = {url:?}\nmax_in_flight = 3\n"),
    );
    let s = Server::start(&cfg, dir.path());
    let attacks: Vec<serde_json::Value> = (0..6)
        .map(|i| token_event(i, &format!("user{i}"), "ci", "deployer", &ts(i, 0)))
        .collect();
    assert_eq!(post_audit(&s, &event_list(&attacks)), 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.load(Ordering::SeqCst) < 6 {
        assert!(
            Instant::now() < deadline,
            "{} delivered\n{}",
            done.load(Ordering::SeqCst),
            s.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let most = most.load(Ordering::SeqCst);
    assert!((2..=3).contains(&most), "{most} in flight at most");
    assert!(s.terminate().success());
}
