//! Hardening of `kadet serve`: no secret reaches the disk, the state is
//! private whatever the umask, a record or stored row that kadet fails on
//! is quarantined while detection goes on, and deliveries follow sink names.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;

const PLANTED: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IlBMQU5URUQifQ.planted-token-value.c2lnbmF0dXJl";
const SECRET_DATA: &str = "cGxhbnRlZC1wYXNzd29yZA==";

/// A RequestResponse-level TokenRequest whose response holds a minted token,
/// and a Secret created with data, in one EventList.
fn secret_batch() -> String {
    let token = serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": "5e0c3a1b-0000-4000-8000-000000000001", "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/ci/serviceaccounts/deployer/token", "verb": "create",
        "user": {"username": "mallory", "groups": ["system:authenticated"]},
        "sourceIPs": ["198.51.100.7"], "userAgent": "kubectl/v1.30.1",
        "objectRef": {"resource": "serviceaccounts", "namespace": "ci", "name": "deployer", "apiVersion": "v1", "subresource": "token"},
        "responseStatus": {"metadata": {}, "code": 201},
        "requestObject": {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "spec": {"expirationSeconds": 315360000}},
        "responseObject": {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "spec": {"expirationSeconds": 315360000}, "status": {"token": PLANTED, "expirationTimestamp": "2036-11-02T10:00:00Z"}},
        "requestReceivedTimestamp": ts(0, 0), "stageTimestamp": ts(0, 10)
    });
    let secret = serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": "5e0c3a1b-0000-4000-8000-000000000002", "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/shop/secrets", "verb": "create",
        "user": {"username": "mallory"}, "sourceIPs": ["198.51.100.7"],
        "objectRef": {"resource": "secrets", "namespace": "shop", "name": "db", "apiVersion": "v1"},
        "responseStatus": {"code": 201},
        "requestObject": {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "db"}, "data": {"password": SECRET_DATA}},
        "responseObject": {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "db"}, "data": {"password": SECRET_DATA}},
        "requestReceivedTimestamp": ts(5, 0), "stageTimestamp": ts(5, 10)
    });
    let on_secret = |n: u64, verb: &str, body: serde_json::Value| {
        serde_json::json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
            "auditID": format!("5e0c3a1b-0000-4000-8000-00000000001{n}"), "stage": "ResponseComplete",
            "requestURI": "/api/v1/namespaces/shop/secrets/db", "verb": verb,
            "user": {"username": "mallory"}, "sourceIPs": ["198.51.100.7"],
            "objectRef": {"resource": "secrets", "namespace": "shop", "name": "db", "apiVersion": "v1"},
            "responseStatus": {"code": 200},
            "requestObject": body,
            "requestReceivedTimestamp": ts(6 + n, 0), "stageTimestamp": ts(6 + n, 10)
        })
    };
    let applied = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "data": {"password": SECRET_DATA}}).to_string();
    // The shapes a Secret takes in a request body besides the object itself.
    let merge_patch = on_secret(
        1,
        "patch",
        serde_json::json!({"data": {"password": SECRET_DATA}}),
    );
    let json_patch = on_secret(
        2,
        "patch",
        serde_json::json!([{"op": "replace", "path": "/data/password", "value": SECRET_DATA}]),
    );
    let last_applied = on_secret(
        3,
        "update",
        serde_json::json!({
            "kind": "Secret", "apiVersion": "v1", "data": {"password": SECRET_DATA},
            "metadata": {"name": "db", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied}}
        }),
    );
    let review = serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": "5e0c3a1b-0000-4000-8000-000000000020", "stage": "ResponseComplete",
        "requestURI": "/apis/authentication.k8s.io/v1/tokenreviews", "verb": "create",
        "user": {"username": "system:serviceaccount:kube-system:proxy"}, "sourceIPs": ["10.0.0.9"],
        "objectRef": {"resource": "tokenreviews", "apiGroup": "authentication.k8s.io", "apiVersion": "v1"},
        "responseStatus": {"code": 201},
        "requestObject": {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "spec": {"token": PLANTED}},
        "requestReceivedTimestamp": ts(20, 0), "stageTimestamp": ts(20, 10)
    });
    event_list(&[token, secret, merge_patch, json_patch, last_applied, review])
}

/// The number of values [`secret_batch`] holds that must be redacted.
const PLANTED_VALUES: f64 = 8.0;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn no_secret_reaches_the_disk_and_the_state_is_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = plain_config(dir.path(), "");
    let s = Server::start_with(&cfg, dir.path(), &[], Some(0o000));
    let c = reqwest::blocking::Client::new();
    assert_eq!(post_audit(&s, &secret_batch()), 200);
    // A key twice in one object: which copy counts is ambiguous, refused.
    let twice = format!(
        r#"{{"kind":"Event","verb":"update","objectRef":{{"resource":"secrets"}},"requestObject":{{"kind":"Secret","data":{{"password":"x"}},"data":{{"password":"{SECRET_DATA}"}}}}}}"#
    );
    assert_eq!(post_audit(&s, &twice), 400);
    let metrics = wait_idle(&c, &s, None);
    assert_eq!(
        metric(&metrics, "kadet_intake_redactions_total "),
        Some(PLANTED_VALUES)
    );
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert!(
        alerts.contains("Kubernetes.ServiceAccount.TokenCreated"),
        "{alerts}"
    );
    let state = dir.path().join("state");
    let files = files_under(&state);
    assert!(files.len() >= 2, "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for planted in [PLANTED, SECRET_DATA] {
            assert!(
                memchr::memmem::find(&bytes, planted.as_bytes()).is_none(),
                "{planted} found in {}",
                f.display()
            );
        }
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("journal")), 0o700);
    assert!(!alerts.contains(PLANTED) && !alerts.contains(SECRET_DATA));
    assert!(!s.log().contains(PLANTED) && !s.log().contains(SECRET_DATA));
    assert!(s.terminate().success());
}

#[test]
fn a_state_directory_others_can_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let cfg = plain_config(dir.path(), "");
    let out = std::process::Command::new(kadet_bin())
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("writable by other users"), "{err}");
}

fn attack(id: u64, user: &str, secs: u64) -> serde_json::Value {
    token_event(id, user, "ci", "deployer", &ts(secs, 0))
}

#[test]
fn a_record_kadet_fails_on_is_quarantined_and_detection_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = plain_config(dir.path(), "");
    let env = [("KADET_FAULT_INJECT_PANIC", "POISON-PILL")];
    let s = Server::start_with(&cfg, dir.path(), &env, None);
    let c = reqwest::blocking::Client::new();
    let mut poison = attack(1, "before", 0);
    poison["userAgent"] = "POISON-PILL".into();
    assert_eq!(post_audit(&s, &event_list(&[poison])), 200);
    assert_eq!(post_audit(&s, &event_list(&[attack(2, "after", 60)])), 200);
    let metrics = wait_idle(&c, &s, None);
    assert_eq!(metric(&metrics, "kadet_poison_records_total "), Some(1.0));
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert!(
        alerts.contains("[after]"),
        "the record after the poison alerts"
    );
    assert!(!alerts.contains("[before]"));
    let q = std::fs::read_to_string(dir.path().join("state/dead-letter.jsonl")).unwrap();
    let entry: serde_json::Value = serde_json::from_str(q.lines().next().unwrap()).unwrap();
    assert_eq!(entry["kind"], "record");
    assert!(entry["origin"]
        .as_str()
        .unwrap()
        .starts_with("/v1/audit, accepted "));
    assert!(entry["reason"].as_str().unwrap().contains("fault injected"));
    assert!(entry["payload"].as_str().unwrap().contains("POISON-PILL"));
    assert_eq!(
        c.get(s.url("/readyz")).send().unwrap().status().as_u16(),
        200
    );
    // The poison is not replayed after a restart.
    assert!(s.terminate().success());
    let s = Server::start_with(&cfg, dir.path(), &env, None);
    assert_eq!(post_audit(&s, &event_list(&[attack(3, "later", 120)])), 200);
    let metrics = wait_idle(&c, &s, None);
    assert_eq!(metric(&metrics, "kadet_poison_records_total "), None);
    assert!(std::fs::read_to_string(dir.path().join("alerts.jsonl"))
        .unwrap()
        .contains("[later]"));
}

#[test]
fn an_unreadable_stored_window_is_quarantined_at_start() {
    let dir = tempfile::tempdir().unwrap();
    // A threshold rule, so a window stays open between the two runs.
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("r.yml"),
        "AnalysisType: rule\nRuleID: Test.Twice\nSeverity: High\nThreshold: 2\nLogTypes: [Kubernetes.Audit]\n\
         Detection:\n  - KeyPath: objectRef.subresource\n    Condition: Equals\n    Value: token\n\
         AlertTitle: \"[{user.username}] twice\"\nDedup: \"{user.username}\"\n",
    )
    .unwrap();
    let cfg = plain_config(dir.path(), &format!("[rules]\npaths = [{:?}]\n", rules));
    let c = reqwest::blocking::Client::new();
    let s = Server::start(&cfg, dir.path());
    assert_eq!(post_audit(&s, &event_list(&[attack(1, "eve", 0)])), 200);
    assert_eq!(post_audit(&s, &event_list(&[attack(2, "bob", 10)])), 200);
    wait_idle(&c, &s, None);
    assert!(s.terminate().success());
    // An upgrade gone wrong: eve's stored window no longer reads.
    let db = rusqlite::Connection::open(dir.path().join("state/kadet.sqlite")).unwrap();
    let n = db
        .execute(
            "UPDATE windows SET state = '{\"v\":1,\"rule_id\":7}' WHERE window_key = 'eve'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let s = Server::start(&cfg, dir.path());
    assert_eq!(post_audit(&s, &event_list(&[attack(3, "bob", 20)])), 200);
    let metrics = wait_idle(&c, &s, None);
    assert_eq!(
        metric(
            &metrics,
            "kadet_quarantined_state_total{table=\"windows\"} "
        ),
        Some(1.0)
    );
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert!(
        alerts.contains("[bob] twice"),
        "detection goes on: {alerts}"
    );
    let q = std::fs::read_to_string(dir.path().join("state/dead-letter.jsonl")).unwrap();
    let entry: serde_json::Value = serde_json::from_str(q.lines().next().unwrap()).unwrap();
    assert_eq!(entry["kind"], "state", "{q}");
    assert!(
        entry["origin"].as_str().unwrap().starts_with("windows "),
        "{q}"
    );
    assert!(q.contains("eve"), "{q}");
}

#[test]
fn reordered_sinks_keep_their_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.jsonl");
    let (url, rx) = receiver();
    let file = format!("[[sinks]]\ntype = \"file\"\nname = \"one\"\npath = {one:?}\n");
    let hook = |url: &str| {
        format!("[[sinks]]\ntype = \"webhook\"\nname = \"two\"\nurl = {url:?}\nbackoff_ms = 50\nmax_attempts = 50\n")
    };
    let config = |sinks: String| {
        let text = format!(
            "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n[detection]\nlateness_secs = 1\nidle_release_secs = 1\n{sinks}",
            dir.path().join("state")
        );
        let p = dir.path().join("kadet.toml");
        std::fs::write(&p, text).unwrap();
        p
    };
    // Sink "two" is down: its delivery stays owed.
    let cfg = config(format!("{file}{}", hook("http://127.0.0.1:9/down")));
    let s = Server::start(&cfg, dir.path());
    assert_eq!(post_audit(&s, &event_list(&[attack(1, "eve", 0)])), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&one)
        .unwrap_or_default()
        .contains("[eve]")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "sink one never got it"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(s.terminate().success());
    // The sinks swap places and "two" is up.
    let cfg = config(format!("{}{file}", hook(&url)));
    let s = Server::start(&cfg, dir.path());
    let body = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the delivery owed to two went to two");
    assert!(body.contains("[eve]"));
    wait_idle(&reqwest::blocking::Client::new(), &s, None);
    let in_one = std::fs::read_to_string(&one)
        .unwrap()
        .matches("[eve]")
        .count();
    assert_eq!(in_one, 1, "and one did not get it again");
    assert!(rx.try_recv().is_err(), "two got it once");
    assert!(s.terminate().success());
}

#[test]
fn a_second_serve_on_the_same_state_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = plain_config(dir.path(), "");
    let first = Server::start(&cfg, dir.path());
    let out = std::process::Command::new(kadet_bin())
        .args(["serve", "--config"])
        .arg(&cfg)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "the second one must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is in use by another kadet (pid") && err.contains("its own [state] dir"),
        "{err}"
    );
    // The first one goes on, and once it is gone the directory is free.
    assert_eq!(post_audit(&first, &event_list(&[attack(1, "eve", 0)])), 200);
    assert!(first.terminate().success());
    let again = Server::start(&cfg, dir.path());
    assert_eq!(
        post_audit(&again, &event_list(&[attack(2, "eve", 10)])),
        200
    );
}
