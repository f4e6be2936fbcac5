//! `kadet scan` of object storage, against a real S3 API: moto's server
//! mode (PyPI `moto[server]`), started on a free loopback port. The layouts
//! are the ones the clouds write audit logs in: a CloudWatch Logs export,
//! Kinesis Data Firehose delivery of CloudWatch subscription records, AKS
//! diagnostic settings to a storage account, and a GKE log sink to Cloud
//! Storage. The alerts must be the ones a scan of the same files on local
//! disk gives. Azure Blob is tested against Azurite (npm `azurite`,
//! Microsoft's storage emulator), the AKS layout in its own container.

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

/// An Azurite blob server (npm `azurite`), in memory, stopped when dropped.
struct Azurite {
    child: Child,
    url: String,
}

/// The emulator's well-known account and key (Microsoft documents both).
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl Azurite {
    fn start() -> Azurite {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let bin = std::env::var("KADET_AZURITE").unwrap_or_else(|_| "azurite-blob".into());
        let child = std::process::Command::new(&bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args([
                "--inMemoryPersistence",
                "--silent",
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin}: {e} (npm install azurite; .ci/run installs it)"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "azurite did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Azurite {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A request signed with the account key (SharedKey), as every write
    /// to Azure Blob must be.
    fn send(&self, container: &str, blob: Option<&str>, body: Vec<u8>) {
        use base64::Engine;
        use hmac::Mac;
        let date = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .unwrap();
        let version = "2021-08-06";
        let (path, query, extra) = match blob {
            Some(b) => (
                format!("/{AZURITE_ACCOUNT}/{container}/{b}"),
                String::new(),
                "x-ms-blob-type:BlockBlob\n",
            ),
            None => (
                format!("/{AZURITE_ACCOUNT}/{container}"),
                "restype:container".to_string(),
                "",
            ),
        };
        let length = if body.is_empty() {
            String::new()
        } else {
            body.len().to_string()
        };
        let mut resource = format!("/{AZURITE_ACCOUNT}{path}");
        if !query.is_empty() {
            resource.push('\n');
            resource.push_str(&query);
        }
        let to_sign = format!(
            "PUT\n\n\n{length}\n\n\n\n\n\n\n\n\n{extra}x-ms-date:{date}\nx-ms-version:{version}\n{resource}"
        );
        let key = base64::engine::general_purpose::STANDARD
            .decode(AZURITE_KEY)
            .unwrap();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(to_sign.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let url = match blob {
            Some(_) => format!("{}{path}", self.url),
            None => format!("{}{path}?restype=container", self.url),
        };
        let mut req = reqwest::blocking::Client::new()
            .put(url)
            .header("x-ms-date", &date)
            .header("x-ms-version", version)
            .header(
                "Authorization",
                format!("SharedKey {AZURITE_ACCOUNT}:{signature}"),
            )
            .body(body);
        if blob.is_some() {
            req = req.header("x-ms-blob-type", "BlockBlob");
        }
        let r = req.send().unwrap();
        assert!(
            r.status().is_success(),
            "{}: {}",
            r.status(),
            r.text().unwrap_or_default()
        );
    }

    fn kadet(&self) -> Command {
        let mut c = Command::cargo_bin("kadet").expect("binary builds");
        c.env_remove("RUST_LOG")
            .env("AZURE_STORAGE_USE_EMULATOR", "true")
            .env("AZURITE_BLOB_STORAGE_URL", &self.url)
            .env("AZURE_STORAGE_ACCOUNT_NAME", AZURITE_ACCOUNT);
        c
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn aks_diagnostic_logs_in_azure_blob_give_the_alerts_of_the_same_files_on_disk() {
    let azurite = Azurite::start();
    let container = "insights-logs-kube-audit";
    let objects: Vec<(String, Vec<u8>)> = layouts()
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(&format!("{container}/"))?.to_string(), v)))
        .collect();
    assert_eq!(objects.len(), 1, "the AKS layout");
    azurite.send(container, None, Vec::new());
    for (key, body) in &objects {
        azurite.send(container, Some(key), body.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let local = write_local(dir.path(), &objects);
    let from_disk = Command::cargo_bin("kadet")
        .unwrap()
        .args(["scan", "-q", "--format", "jsonl"])
        .arg(&local)
        .output()
        .unwrap();
    let want = alerts(&from_disk.stdout);
    assert!(!want.is_empty(), "the AKS layout gives alerts");
    let out = azurite
        .kadet()
        .args([
            "scan",
            "-q",
            "--format",
            "jsonl",
            &format!("az://{container}"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(alerts(&out.stdout), want);
    // The same container by prefix, and a prefix with nothing under it.
    let by_prefix = azurite
        .kadet()
        .args([
            "scan",
            "-q",
            "--format",
            "jsonl",
            &format!("az://{container}/resourceId="),
        ])
        .output()
        .unwrap();
    assert_eq!(alerts(&by_prefix.stdout), want);
    let nothing = azurite
        .kadet()
        .args(["scan", "-q", &format!("az://{container}/no-such-prefix/")])
        .output()
        .unwrap();
    assert!(!nothing.status.success());
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("no-such-prefix"));
}
