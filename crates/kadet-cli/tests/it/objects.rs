//! `kadet scan` of object storage, against a real S3 API: moto's server
//! mode (PyPI `moto[server]`), started on a free loopback port. The layouts
//! are the ones the clouds write audit logs in: a CloudWatch Logs export,
//! Kinesis Data Firehose delivery of CloudWatch subscription records, AKS
//! diagnostic settings to a storage account, and a GKE log sink to Cloud
//! Storage. The alerts must be the ones a scan of the same files on local
//! disk gives.

use assert_cmd::Command;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A moto server, stopped when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[server]'; .ci/run installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, url }
    }

    /// Creates a bucket and puts objects in it (moto checks no signature).
    fn bucket(&self, name: &str, objects: &[(String, Vec<u8>)]) {
        let http = reqwest::blocking::Client::new();
        let ok = |r: reqwest::blocking::Response| assert!(r.status().is_success(), "{r:?}");
        ok(http.put(format!("{}/{name}", self.url)).send().unwrap());
        for (key, body) in objects {
            ok(http
                .put(format!("{}/{name}/{key}", self.url))
                .body(body.clone())
                .send()
                .unwrap());
        }
    }

    /// `kadet` with the environment an S3-compatible endpoint needs.
    fn kadet(&self) -> Command {
        let mut c = Command::cargo_bin("kadet").expect("binary builds");
        c.env_remove("RUST_LOG")
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1");
        c
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn example_events() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/eks-cluster-audit.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn stage_time(event: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(event).unwrap();
    v["stageTimestamp"]
        .as_str()
        .unwrap_or("2026-11-02T00:00:00Z")
        .to_string()
}

/// The four layouts, each holding the example day's events (key, bytes).
fn layouts() -> Vec<(String, Vec<u8>)> {
    let events = example_events();
    // CloudWatch Logs export to S3: gzip, `<timestamp> <message>` lines.
    let export: String = events
        .iter()
        .map(|e| format!("{} {e}\n", stage_time(e)))
        .collect();
    // Firehose to S3: each record is a gzip'd CloudWatch subscription
    // payload, written back to back.
    let mut firehose = Vec::new();
    for (i, chunk) in events.chunks(60).enumerate() {
        let payload = serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "123456789012",
            "logGroup": "/aws/eks/firehose-eks/cluster",
            "logStream": "kube-apiserver-audit-0123", "subscriptionFilters": ["kadet"],
            "logEvents": chunk.iter().enumerate().map(|(j, m)| serde_json::json!({
                "id": format!("{i}{j}"), "timestamp": 1793599200000u64 + j as u64, "message": m,
            })).collect::<Vec<_>>(),
        });
        firehose.extend(gzip(payload.to_string().as_bytes()));
    }
    // AKS diagnostic settings to a storage account: one record per line.
    let resource = "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-PROD";
    let aks: String = events
        .iter()
        .map(|e| {
            serde_json::json!({
                "time": stage_time(e), "resourceId": resource, "category": "kube-audit",
                "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
                "properties": { "log": e, "stream": "stdout", "pod": "kube-apiserver-0" },
            })
            .to_string()
                + "\n"
        })
        .collect();
    let gke =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gke-token.json"))
            .unwrap();
    vec![
        (
            "exportedlogs/8f2b/kube-apiserver-audit-0123/000000.gz".into(),
            gzip(export.as_bytes()),
        ),
        (
            "firehose/2026/11/02/14/kadet-1-2026-11-02-14-00-00-3f1e".into(),
            firehose,
        ),
        (
            format!("insights-logs-kube-audit/resourceId={resource}/y=2026/m=11/d=02/h=14/m=00/PT1H.json"),
            aks.into_bytes(),
        ),
        (
            "cloudaudit.googleapis.com/activity/2026/11/02/14:00:00_14:59:59_S0.json".into(),
            gke,
        ),
    ]
}

/// (rule, alert id) of every alert in JSON lines.
fn alerts(out: &[u8]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let a: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                a["rule_id"].as_str().unwrap().to_string(),
                a["alert_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn write_local(dir: &Path, objects: &[(String, Vec<u8>)]) -> PathBuf {
    let root = dir.join("bucket");
    for (key, body) in objects {
        let p = root.join(key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    root
}

#[test]
fn every_cloud_layout_in_s3_gives_the_alerts_of_the_same_files_on_disk() {
    let moto = Moto::start();
    let objects = layouts();
    moto.bucket("audit", &objects);
    let dir = tempfile::tempdir().unwrap();
    let local = write_local(dir.path(), &objects);
    // Firehose's object has no extension a directory walk reads: name it.
    let mut local_args: Vec<PathBuf> = vec![local.clone()];
    local_args.push(local.join(&objects[1].0));
    let from_disk = Command::cargo_bin("kadet")
        .unwrap()
        .args(["scan", "-q", "--format", "jsonl"])
        .args(&local_args)
        .output()
        .unwrap();
    assert!(
        from_disk.status.success(),
        "{}",
        String::from_utf8_lossy(&from_disk.stderr)
    );
    let want = alerts(&from_disk.stdout);
    // The attack is in every layout but GKE's (its own token request).
    let token_alerts = want
        .iter()
        .filter(|(r, _)| r.ends_with("TokenCreated"))
        .count();
    assert!(token_alerts >= 3, "{want:?}");
    let from_s3 = moto
        .kadet()
        .args(["scan", "--format", "jsonl", "s3://audit/"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&from_s3.stderr);
    assert!(from_s3.status.success(), "{err}");
    assert_eq!(alerts(&from_s3.stdout), want, "{err}");
    assert!(err.contains("4 input"), "every object read: {err}");
    // One prefix, and one object named whole.
    let aks_only = moto
        .kadet()
        .args([
            "scan",
            "-q",
            "--format",
            "jsonl",
            "s3://audit/insights-logs-kube-audit",
        ])
        .output()
        .unwrap();
    assert!(aks_only.status.success());
    assert!(!alerts(&aks_only.stdout).is_empty());
    let one = moto
        .kadet()
        .args(["scan", "-q", "--format", "jsonl"])
        .arg(format!("s3://audit/{}", objects[0].0))
        .output()
        .unwrap();
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    assert!(!alerts(&one.stdout).is_empty());
}

#[test]
fn since_and_until_skip_objects_by_the_hour_in_their_key_and_events_by_time() {
    let moto = Moto::start();
    moto.bucket("audit", &layouts());
    // The day before: the keyed objects are not read, and no event of the
    // unkeyed export counts.
    let before = moto
        .kadet()
        .args([
            "scan",
            "--format",
            "jsonl",
            "--until",
            "2026-11-01",
            "s3://audit/",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&before.stderr);
    assert!(before.status.success(), "{err}");
    assert!(alerts(&before.stdout).is_empty(), "{err}");
    assert!(
        err.contains("1 input"),
        "only the export has no time in its key: {err}"
    );
    // The hour of the attack: it is found.
    let during = moto
        .kadet()
        .args([
            "scan",
            "-q",
            "--format",
            "jsonl",
            "--since",
            "2026-11-02T14:00:00Z",
            "--until",
            "2026-11-02T15:00:00Z",
            "s3://audit/",
        ])
        .output()
        .unwrap();
    assert!(during.status.success());
    assert!(alerts(&during.stdout)
        .iter()
        .any(|(r, _)| r.ends_with("TokenCreated")));
}

#[test]
fn a_missing_bucket_or_prefix_is_an_error_that_names_it() {
    let moto = Moto::start();
    moto.bucket("audit", &layouts());
    let out = moto
        .kadet()
        .args(["scan", "s3://audit/no-such-prefix"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("s3://audit/no-such-prefix: no object under this prefix"),
        "{err}"
    );
    let out = moto.kadet().args(["scan", "s3://nope/"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("s3://nope/"));
}
