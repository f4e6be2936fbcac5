//! Helpers for the `kadet serve` integration tests: the real `kadet` binary,
//! test certificates made with rcgen, and generated audit events.

#![allow(dead_code)]

/// Real `nats-server` processes (single node and 3-node cluster) for the
/// cluster-mode tests.
pub mod nats;

/// moto in server mode, for the AWS APIs.
pub mod moto;

/// tansu, a Kafka-protocol broker.
pub mod tansu;

/// Pub/Sub push as Google sends it: a JWKS, tokens, envelopes.
pub mod pubsub;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Once;
use std::time::{Duration, Instant, SystemTime};

static BUILD: Once = Once::new();

fn newest_mtime(dir: &Path, newest: &mut SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.file_name()
            .is_some_and(|n| n == "target" || n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if p.is_dir() {
            newest_mtime(&p, newest);
        } else if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
            if m > *newest {
                *newest = m;
            }
        }
    }
}

/// The `kadet` binary. `cargo test --workspace` builds it; when it is
/// missing or older than the sources (`cargo test -p kadet-server` after an
/// edit), it is built here first.
pub fn kadet_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf();
    let bin = profile_dir.join(format!("kadet{}", std::env::consts::EXE_SUFFIX));
    BUILD.call_once(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut newest = SystemTime::UNIX_EPOCH;
        newest_mtime(&root.join("crates"), &mut newest);
        newest_mtime(&root.join("rules"), &mut newest);
        let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
        if built.is_some_and(|b| b >= newest) {
            return;
        }
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "-p", "kadet-cli", "--bin", "kadet"]);
        // target/debug is the dev profile; any other folder is named after
        // its profile (release, release-tests).
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some(profile) => {
                cmd.args(["--profile", profile]);
            }
        }
        // Variables cargo set for this test would make build scripts that
        // track them (ring tracks CARGO_MANIFEST_DIR) rebuild everything.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("CARGO_PKG_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_MANIFEST_LINKS",
                ]
                .contains(&k.as_str())
            {
                cmd.env_remove(&k);
            }
        }
        cmd.current_dir(&root);
        let status = cmd
            .status()
            .expect("running cargo build for the kadet binary");
        assert!(status.success(), "cargo build -p kadet-cli failed");
    });
    bin
}

/// Test PKI: a CA, a server certificate for 127.0.0.1, a client
/// certificate from the CA, and one from an unrelated CA.
pub struct Pki {
    pub ca_pem: String,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub ca_file: PathBuf,
    pub client_identity: Vec<u8>,
    pub rogue_identity: Vec<u8>,
}

fn ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let cert = p.self_signed(&key).expect("self-signed CA");
    (cert, key)
}

fn leaf(
    names: &[&str],
    client: bool,
    issuer: &rcgen::Certificate,
    issuer_key: &rcgen::KeyPair,
) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut p =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("params");
    p.distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    p.extended_key_usages = vec![if client {
        rcgen::ExtendedKeyUsagePurpose::ClientAuth
    } else {
        rcgen::ExtendedKeyUsagePurpose::ServerAuth
    }];
    let cert = p.signed_by(&key, issuer, issuer_key).expect("signed");
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        let (ca_cert, ca_key) = ca("kadet test CA");
        let (rogue_cert, rogue_key) = ca("rogue CA");
        let (scert, skey) = leaf(&["127.0.0.1", "localhost"], false, &ca_cert, &ca_key);
        let (ccert, ckey) = leaf(&["kube-apiserver"], true, &ca_cert, &ca_key);
        let (rcert, rkey) = leaf(&["kube-apiserver"], true, &rogue_cert, &rogue_key);
        let server_cert = dir.join("server.crt");
        let server_key = dir.join("server.key");
        let ca_file = dir.join("ca.crt");
        std::fs::write(&server_cert, &scert).unwrap();
        std::fs::write(&server_key, &skey).unwrap();
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        Pki {
            ca_pem: ca_cert.pem(),
            server_cert,
            server_key,
            ca_file,
            client_identity: format!("{ccert}{ckey}").into_bytes(),
            rogue_identity: format!("{rcert}{rkey}").into_bytes(),
        }
    }

    /// An HTTPS client trusting the test CA, optionally with a client identity.
    pub fn client(&self, identity: Option<&[u8]>) -> reqwest::blocking::Client {
        let mut b = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(20));
        if let Some(id) = identity {
            b = b.identity(reqwest::Identity::from_pem(id).unwrap());
        }
        b.build().unwrap()
    }
}

/// A running `kadet serve`.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub base: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `kadet serve --config <config>` and waits until it listens.
    pub fn start(config: &Path, cwd: &Path) -> Server {
        Server::start_with(config, cwd, &[], None)
    }

    /// Starts the server with extra environment variables and, when given,
    /// under that umask; its log lines are kept ([`Server::log`]).
    pub fn start_with(
        config: &Path,
        cwd: &Path,
        env: &[(&str, &str)],
        umask: Option<u32>,
    ) -> Server {
        let server = Server::spawn(config, cwd, env, umask);
        server.wait_joined();
        server
    }

    /// Starts the server and returns once it listens.
    fn spawn(config: &Path, cwd: &Path, env: &[(&str, &str)], umask: Option<u32>) -> Server {
        Server::spawn_after(config, cwd, env, umask.map(|m| format!("umask {m:03o}")))
    }

    /// Starts `kadet serve` under a limit on its data memory (`ulimit -d`,
    /// which counts the heap and private mappings: an allocation past it
    /// fails, as under a container's memory limit), and waits until it
    /// listens.
    pub fn start_with_memory_limit(config: &Path, cwd: &Path, bytes: u64) -> Server {
        Server::spawn_after(
            config,
            cwd,
            &[],
            Some(format!("ulimit -d {}", bytes / 1024)),
        )
    }

    /// Starts the server, after the shell commands `setup` when given.
    fn spawn_after(
        config: &Path,
        cwd: &Path,
        env: &[(&str, &str)],
        setup: Option<String>,
    ) -> Server {
        let mut cmd = match setup {
            Some(setup) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("{setup} && exec \"$0\" \"$@\""))
                    .arg(kadet_bin());
                c
            }
            None => Command::new(kadet_bin()),
        };
        cmd.args(["serve", "--config"]).arg(config);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .current_dir(cwd)
            .env("KADET_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kadet serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut l) = kept.lock() {
                    l.push(line.clone());
                }
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let scheme = if rest.contains("(https)") {
                        "https"
                    } else {
                        "http"
                    };
                    if let Some(tx) = tx.take() {
                        let _ = tx.send((addr, scheme));
                    }
                }
                if std::env::var_os("KADET_TEST_ECHO").is_some() {
                    eprintln!("[serve] {line}");
                }
            }
        });
        let (addr, scheme) = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("kadet serve did not start listening");
            }
        };
        let base = format!("{scheme}://{addr}");
        Server {
            child,
            addr,
            base,
            log,
        }
    }

    /// Starts the server and returns once it listens, without waiting for
    /// cluster mode to join ([`Server::start`] waits).
    pub fn start_listening(config: &Path, cwd: &Path) -> Server {
        Server::spawn(config, cwd, &[], None)
    }

    /// A cluster-mode server listens before it has joined the cluster
    /// (`/readyz` says it is waiting for NATS): waits until it has, for up
    /// to 60 s. Any other answer, or none, ends the wait.
    fn wait_joined(&self) {
        let client = reqwest::blocking::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Ok(r) = client.get(self.url("/readyz")).send() else {
                return;
            };
            let body = r.text().unwrap_or_default();
            if !body.contains("waiting for NATS") && !body.contains("joining the cluster") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// kill -9.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait; returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("kadet serve did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config with TLS, optional token and optional client CA, a file sink.
pub fn tls_config(
    dir: &Path,
    pki: &Pki,
    token: Option<&str>,
    mtls: bool,
    extra_limits: &str,
) -> PathBuf {
    let mut c = String::new();
    c.push_str("[listen]\naddress = \"127.0.0.1:0\"\n\n[tls]\n");
    c.push_str(&format!(
        "cert_file = {:?}\nkey_file = {:?}\n",
        pki.server_cert, pki.server_key
    ));
    if mtls {
        c.push_str(&format!("client_ca_file = {:?}\n", pki.ca_file));
    }
    if let Some(t) = token {
        let tf = dir.join("token");
        std::fs::write(&tf, format!("{t}\n")).unwrap();
        c.push_str(&format!("\n[auth]\ntoken_file = {tf:?}\n"));
    }
    c.push_str(&format!("\n[state]\ndir = {:?}\n", dir.join("state")));
    c.push_str(&format!(
        "\n[limits]\nheader_read_timeout_secs = 2\nbody_read_timeout_secs = 2\n{extra_limits}\n"
    ));
    // A short reorder buffer, released soon when the test stops sending.
    c.push_str("\n[detection]\nlateness_secs = 2\nidle_release_secs = 1\n");
    c.push_str(&format!(
        "\n[[sinks]]\ntype = \"file\"\npath = {:?}\n",
        dir.join("alerts.jsonl")
    ));
    let p = dir.join("kadet.toml");
    std::fs::write(&p, c).unwrap();
    p
}

/// Timestamp `secs` seconds after 2026-11-02T10:00:00Z.
pub fn ts(secs: u64, micros: u64) -> String {
    let total = 10 * 3600 + secs;
    let (d, rem) = (2 + total / 86400, total % 86400);
    format!(
        "2026-11-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A long-lived token request by `user` for service account `ns/sa`.
pub fn token_event(id: u64, user: &str, ns: &str, sa: &str, t: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request",
        "auditID": format!("00000000-0000-4000-8000-{id:012}"),
        "stage": "ResponseComplete",
        "requestURI": format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"),
        "verb": "create",
        "user": { "username": user, "groups": ["system:authenticated"] },
        "sourceIPs": ["198.51.100.23"],
        "userAgent": "kubectl/v1.29.3 (linux/amd64) kubernetes/6813625",
        "objectRef": { "resource": "serviceaccounts", "namespace": ns, "name": sa, "apiVersion": "v1", "subresource": "token" },
        "responseStatus": { "metadata": {}, "code": 201 },
        "requestObject": { "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {},
            "spec": { "audiences": null, "expirationSeconds": 946080000, "boundObjectRef": null }, "status": { "token": "" } },
        "requestReceivedTimestamp": t, "stageTimestamp": t,
        "annotations": { "authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "" }
    })
}

/// A benign list request.
pub fn benign_event(id: u64, t: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": format!("00000000-0000-4000-9000-{id:012}"),
        "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/default/pods?limit=500", "verb": "list",
        "user": { "username": "system:serviceaccount:monitoring:prometheus", "groups": ["system:serviceaccounts"] },
        "sourceIPs": ["10.0.4.17"], "userAgent": "prometheus/2.51.0",
        "objectRef": { "resource": "pods", "namespace": "default", "apiVersion": "v1" },
        "responseStatus": { "metadata": {}, "code": 200 },
        "requestReceivedTimestamp": t, "stageTimestamp": t
    })
}

pub fn event_list(items: &[serde_json::Value]) -> String {
    serde_json::json!({ "kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items }).to_string()
}

/// Asserts that the alerts delivered (`got`: alert id and how often it
/// came) are `want`, each once; `context` (the instances' logs, say) is
/// shown when they are not.
pub fn assert_alerts_once(
    got: &std::collections::BTreeMap<String, usize>,
    want: &std::collections::BTreeSet<String>,
    context: &str,
) {
    let ids: std::collections::BTreeSet<String> = got.keys().cloned().collect();
    assert_eq!(&ids, want, "the alerts of kadet scan:\n{context}");
    let repeated: Vec<&String> = got
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(repeated.is_empty(), "alerts delivered twice: {repeated:?}");
}

/// The alert ids `kadet scan` gives for `lines`, written to
/// `dir/all.jsonl`, when their events come from `cluster`.
pub fn scan_ids_of_lines(
    dir: &Path,
    lines: &[String],
    cluster: &str,
) -> std::collections::BTreeSet<String> {
    let all = dir.join("all.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&all, text).expect("writes the events");
    scan_ids_in_cluster(&all, cluster).into_iter().collect()
}

/// Alert ids `kadet scan` finds in a JSON-lines file of events.
pub fn scan_ids(file: &Path) -> Vec<String> {
    scan_ids_with(file, &[])
}

/// The alert ids `kadet scan` gives for `file` when its events come from
/// `cluster` (as a source configured with that cluster name reads them).
pub fn scan_ids_in_cluster(file: &Path, cluster: &str) -> Vec<String> {
    scan_ids_with(file, &["--cluster", cluster])
}

fn scan_ids_with(file: &Path, args: &[&str]) -> Vec<String> {
    ids_of(&scan_output_with(file, args))
}

/// `kadet scan`'s alerts for `file`, as JSON lines.
pub fn scan_output(file: &Path) -> String {
    scan_output_with(file, &[])
}

fn scan_output_with(file: &Path, args: &[&str]) -> String {
    let out = Command::new(kadet_bin())
        .args(["scan", "-q", "--format", "jsonl"])
        .args(args)
        .arg(file)
        .output()
        .expect("kadet scan");
    assert!(
        out.status.success(),
        "kadet scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn ids_of(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("alert JSON line");
            v["alert_id"].as_str().expect("alert_id").to_string()
        })
        .collect()
}

/// Reads a metric's value (first series whose line starts with `prefix`).
pub fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Polls `/metrics` until the journal, the reorder buffer and the outbox
/// are empty.
pub fn wait_idle(client: &reqwest::blocking::Client, s: &Server, token: Option<&str>) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut req = client.get(s.url("/metrics"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let last = match req.send() {
            Ok(r) => {
                let text = r.text().unwrap_or_default();
                if metric(&text, "kadet_journal_backlog_bytes ") == Some(0.0)
                    && metric(&text, "kadet_detector_buffered_matches ").unwrap_or(0.0) == 0.0
                    && metric(&text, "kadet_outbox_pending_alerts ") == Some(0.0)
                {
                    return text;
                }
                text
            }
            Err(e) => format!("GET /metrics failed: {e}"),
        };
        assert!(
            Instant::now() < deadline,
            "server did not go idle; last /metrics:\n{last}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plain-HTTP config on loopback with one file sink, for tests that need
/// neither TLS nor auth; `extra` is appended as written.
pub fn plain_config(dir: &Path, extra: &str) -> PathBuf {
    let c = format!(
        "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n\
         [detection]\nlateness_secs = 2\nidle_release_secs = 1\n\
         [[sinks]]\ntype = \"file\"\npath = {:?}\n{extra}",
        dir.join("state"),
        dir.join("alerts.jsonl")
    );
    let p = dir.join("kadet.toml");
    std::fs::write(&p, c).unwrap();
    p
}

/// POSTs a JSON body to `/v1/audit` without credentials; the status.
pub fn post_audit(s: &Server, body: &str) -> u16 {
    reqwest::blocking::Client::new()
        .post(s.url("/v1/audit"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// An HTTP receiver that answers 200 and hands over each body.
pub fn receiver() -> (String, std::sync::mpsc::Receiver<String>) {
    let (url, rx) = receiver_with_headers();
    let (tx, bodies) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (_, body) in rx {
            if tx.send(body).is_err() {
                return;
            }
        }
    });
    (url, bodies)
}

/// A request a receiver got: its headers (lower-cased names) and body.
pub type Received = (Vec<(String, String)>, String);

/// An HTTP receiver that answers 200 and hands over each request's headers
/// and body.
pub fn receiver_with_headers() -> (String, std::sync::mpsc::Receiver<Received>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some(h) = text.find("\r\n\r\n") {
                    let len = text[..h]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= h + 4 + len {
                        let headers = text[..h]
                            .lines()
                            .skip(1)
                            .filter_map(|l| l.split_once(':'))
                            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                            .collect();
                        let _ = tx.send((headers, text[h + 4..h + 4 + len].to_string()));
                        break;
                    }
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, rx)
}

/// `n` events, one JSON text each, over `n * 9` seconds of event time:
/// every fourth a long-lived token request by one of five users, the rest
/// benign reads.
pub fn token_requests_among_reads(n: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let t = ts(i * 9, i % 1000);
            if i % 4 == 0 {
                let user = format!(
                    "arn:aws:sts::123456789012:assumed-role/dev/u{}",
                    (i / 4) % 5
                );
                token_event(i, &user, "default", &format!("sa{}", i % 3), &t)
            } else {
                benign_event(i, &t)
            }
            .to_string()
        })
        .collect()
}

/// The events of a JSON-lines log among kadet-cli's test data, in order.
pub fn cli_data_events(name: &str) -> Vec<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kadet-cli/tests/data")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("event JSON"))
        .collect()
}

/// The minted-token log of kadet-cli's tests (alice mints two tokens, then
/// they are used): its events, in order.
pub fn minted_token_events() -> Vec<serde_json::Value> {
    cli_data_events("minted_token.jsonl")
}

/// kadet-cli's three-step story (a service account created, bound to a
/// privileged role, given a token), twice: its events, in order.
pub fn serviceaccount_chain_events() -> Vec<serde_json::Value> {
    cli_data_events("serviceaccount_chain.jsonl")
}

/// kadet-cli's first-seen log: a service account and a person watched for
/// their learning week, then a new public address, a known one, and a
/// person reading Secrets for the first time.
pub fn first_seen_events() -> Vec<serde_json::Value> {
    cli_data_events("first_seen.jsonl")
}

/// The alert ids of one rule among JSON lines.
pub fn ids_of_rule(text: &str, rule_id: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["rule_id"] == rule_id)
        .filter_map(|v| v["alert_id"].as_str().map(str::to_string))
        .collect()
}

/// Ids of the `Kadet.ServiceAccount.MintedTokenUsed` alerts among JSON lines.
pub fn follow_ids(text: &str) -> Vec<String> {
    ids_of_rule(text, "Kadet.ServiceAccount.MintedTokenUsed")
}
