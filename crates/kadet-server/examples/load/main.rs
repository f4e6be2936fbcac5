//! Load generator for `kadet serve`: POSTs audit `EventList` batches like
//! kube-apiserver's webhook backend, from several concurrent connections,
//! and reports accepted events per second and acknowledgement latency.
//!
//! ```sh
//! cargo run --release -p kadet-server --example load -- \
//!     --url http://127.0.0.1:9765/v1/audit --connections 8 --batch 400 --seconds 20
//! ```
//!
//! Options: `--url` (repeat it to spread the connections over several
//! instances, round robin), `--connections N`, `--batch EVENTS`,
//! `--seconds S`, `--token T` (bearer), `--insecure` (accept any server
//! certificate), `--rate EVENTS` (events per second over all connections;
//! default: as fast as the server takes them).
//!
//! Alert latency: `--probe-ms MS` sends a probe batch every MS
//! milliseconds and `--alerts FILE` (repeatable: the file sinks to watch)
//! tells where its alerts land; the report then gives the time from each
//! probe's `200` to its alert (see [`probe`]). `--drain-secs S` (default
//! 30) is how long to wait for the last probes' alerts after the load.
//!
//! `--dump N` writes N of the batch bodies to standard output, one per
//! line, and sends nothing: the same events for `kadet scan`.
//!
//! Every request body is different (its `metadata.resourceVersion` is the
//! request's number, counted from the start time in microseconds): kadet
//! stores a batch resent with the same bytes once and does not evaluate it
//! again, so repeating bodies would measure that shortcut instead of
//! detection.

mod probe;

use probe::Probes;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Opts {
    urls: Vec<String>,
    connections: usize,
    batch: usize,
    seconds: u64,
    token: Option<String>,
    insecure: bool,
    rate: f64,
    probe_ms: u64,
    alerts: Vec<PathBuf>,
    drain_secs: u64,
    dump: Option<u64>,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        urls: Vec::new(),
        connections: 8,
        batch: 400,
        seconds: 20,
        token: None,
        insecure: false,
        rate: 0.0,
        probe_ms: 0,
        alerts: Vec::new(),
        drain_secs: 30,
        dump: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--url" => o.urls.push(val()?),
            "--connections" => {
                o.connections = val()?.parse().map_err(|e| format!("--connections: {e}"))?
            }
            "--batch" => o.batch = val()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--seconds" => o.seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--token" => o.token = Some(val()?),
            "--insecure" => o.insecure = true,
            "--rate" => o.rate = val()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--probe-ms" => o.probe_ms = val()?.parse().map_err(|e| format!("--probe-ms: {e}"))?,
            "--alerts" => o.alerts.push(PathBuf::from(val()?)),
            "--drain-secs" => {
                o.drain_secs = val()?.parse().map_err(|e| format!("--drain-secs: {e}"))?
            }
            "--dump" => o.dump = Some(val()?.parse().map_err(|e| format!("--dump: {e}"))?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.urls.is_empty() {
        o.urls.push("http://127.0.0.1:9765/v1/audit".into());
    }
    if o.probe_ms > 0 && o.alerts.is_empty() {
        return Err("--probe-ms needs --alerts FILE (where the alerts land)".into());
    }
    Ok(o)
}

/// A batch of `n` events starting at sequence `seq`: mostly reads, one in
/// fifty a long-lived token request (a match for the built-in pack). The
/// text is split where the request number goes (see [`Body::with_number`]).
fn batch(seq: u64, n: usize) -> Body {
    let mut items = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let id = seq * n as u64 + i;
        let secs = id / 100;
        let t = format!(
            "2026-11-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            1 + (secs / 86400) % 28,
            secs % 86400 / 3600,
            secs % 3600 / 60,
            secs % 60,
            id % 1_000_000
        );
        let ev = if id.is_multiple_of(50) {
            serde_json::json!({
                "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request",
                "auditID": format!("load-{id}"), "stage": "ResponseComplete",
                "requestURI": format!("/api/v1/namespaces/ns{}/serviceaccounts/sa{}/token", id % 7, id % 11),
                "verb": "create",
                "user": { "username": format!("user{}", id % 13), "groups": ["system:authenticated"] },
                "sourceIPs": ["198.51.100.23"], "userAgent": "kubectl/v1.29.3",
                "objectRef": { "resource": "serviceaccounts", "namespace": format!("ns{}", id % 7), "name": format!("sa{}", id % 11), "apiVersion": "v1", "subresource": "token" },
                "responseStatus": { "code": 201 },
                "requestObject": { "kind": "TokenRequest", "spec": { "expirationSeconds": 946080000 } },
                "requestReceivedTimestamp": t, "stageTimestamp": t
            })
        } else {
            serde_json::json!({
                "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                "auditID": format!("load-{id}"), "stage": "ResponseComplete",
                "requestURI": "/api/v1/namespaces/default/pods?limit=500", "verb": "list",
                "user": { "username": "system:serviceaccount:monitoring:prometheus", "groups": ["system:serviceaccounts"] },
                "sourceIPs": ["10.0.4.17"], "userAgent": "prometheus/2.51.0",
                "objectRef": { "resource": "pods", "namespace": "default", "apiVersion": "v1" },
                "responseStatus": { "code": 200 },
                "requestReceivedTimestamp": t, "stageTimestamp": t
            })
        };
        items.push(ev);
    }
    let items = serde_json::Value::Array(items).to_string();
    Body {
        head:
            r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{"resourceVersion":""#
                .into(),
        tail: format!(r#""}},"items":{items}}}"#),
    }
}

/// A request body made before the run, in two parts around the request
/// number, so that every request sends different bytes at the cost of a copy.
struct Body {
    head: String,
    tail: String,
}

impl Body {
    fn len(&self) -> usize {
        self.head.len() + self.tail.len() + 8
    }

    fn with_number(&self, n: u64) -> String {
        let n = n.to_string();
        let mut s = String::with_capacity(self.head.len() + n.len() + self.tail.len());
        s.push_str(&self.head);
        s.push_str(&n);
        s.push_str(&self.tail);
        s
    }
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    if let Some(n) = o.dump {
        dump(n, o.batch);
        return;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(run(o));
}

async fn run(o: Opts) {
    let client = match reqwest::Client::builder()
        .danger_accept_invalid_certs(o.insecure)
        .pool_max_idle_per_host(o.connections)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("load: {e}");
            return;
        }
    };
    // Bodies are made up front so the client's own JSON work is not timed.
    let bodies: Arc<Vec<Body>> = Arc::new((0..256).map(|i| batch(i, o.batch)).collect());
    let body_bytes: usize = bodies.iter().map(Body::len).sum::<usize>() / bodies.len();
    // Request numbers start at the current time in microseconds, so that a
    // second run against the same server sends new bodies too.
    let first = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let seq = Arc::new(AtomicU64::new(first));
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let started = Instant::now();
    // With --rate, connection c sends its k-th batch at `started + k * gap`.
    let gap = (o.rate > 0.0)
        .then(|| Duration::from_secs_f64(o.connections as f64 * o.batch as f64 / o.rate));
    let probes = Arc::new(Probes::new(first));
    let watching = Arc::new(AtomicBool::new(false));
    let watcher = (o.probe_ms > 0).then(|| {
        let (probes, files, done) = (probes.clone(), o.alerts.clone(), watching.clone());
        std::thread::spawn(move || probes.watch(&files, &done))
    });
    let prober = (o.probe_ms > 0).then(|| {
        tokio::spawn(probes.clone().send(
            client.clone(),
            o.urls.clone(),
            o.token.clone(),
            Duration::from_millis(o.probe_ms),
            stop.clone(),
        ))
    });
    let mut tasks = Vec::new();
    for c in 0..o.connections {
        let (client, bodies, seq, accepted, refused, stop, latencies) = (
            client.clone(),
            bodies.clone(),
            seq.clone(),
            accepted.clone(),
            refused.clone(),
            stop.clone(),
            latencies.clone(),
        );
        let url = o.urls[c % o.urls.len()].clone();
        let (token, n) = (o.token.clone(), o.batch as u64);
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let start = tokio::time::Instant::now();
            let mut k = 0u32;
            while !stop.load(Ordering::Relaxed) {
                if let Some(gap) = gap {
                    tokio::time::sleep_until(start + gap * k).await;
                    k += 1;
                }
                let i = seq.fetch_add(1, Ordering::Relaxed);
                let body = bodies[i as usize % bodies.len()].with_number(i);
                let mut req = client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(body);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let t0 = Instant::now();
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        mine.push(t0.elapsed().as_secs_f64());
                        accepted.fetch_add(n, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        if r.status().as_u16() == 429 {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                    Err(_) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            if let Ok(mut l) = latencies.lock() {
                l.extend(mine);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(o.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(p) = prober {
        let _ = p.await;
    }
    let drain_until = Instant::now() + Duration::from_secs(o.drain_secs);
    while watcher.is_some() && probes.missing() > 0 && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watching.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        let _ = w.join();
    }
    let mut l = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
            * 1000.0
    };
    let events = accepted.load(Ordering::Relaxed);
    println!(
        "{} connections to {} URL(s), {} events/batch (~{} KiB), {:.1} s: {} batches acknowledged, {} refused or failed",
        o.connections,
        o.urls.len(),
        o.batch,
        body_bytes / 1024,
        elapsed,
        l.len(),
        refused.load(Ordering::Relaxed)
    );
    println!(
        "accepted {:.0} events/s ({:.1} MiB/s); ack latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        events as f64 / elapsed,
        (l.len() * body_bytes) as f64 / elapsed / 1048576.0,
        pct(0.50),
        pct(0.99),
        l.last().copied().unwrap_or(0.0) * 1000.0
    );
    if o.probe_ms > 0 {
        println!("{}", probes.report());
    }
}

/// Writes `n` batch bodies of `events` events, one per line.
fn dump(n: u64, events: usize) {
    use std::io::Write;
    let bodies: Vec<Body> = (0..256).map(|i| batch(i, events)).collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..n {
        let line = bodies[i as usize % bodies.len()].with_number(i);
        if writeln!(out, "{line}").is_err() {
            return;
        }
    }
    let _ = out.flush();
}
