//! Alert latency probes: while the load runs, one batch every `--probe-ms`
//! holds a single long-lived token request by a user named
//! `kadet-probe-<run>-<n>` (a new dedup string, so a new alert each time).
//! The time of its `200` is kept, the alert files (`--alerts`, the file
//! sinks of the instances) are tailed, and the latency of a probe is the
//! time from its `200` to the first line naming it.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the probes of one run saw.
pub struct Probes {
    marker: String,
    acked: Mutex<HashMap<u64, Instant>>,
    /// When each probe's first alert was seen.
    seen: Mutex<HashMap<u64, Instant>>,
    /// The `alert_id`s of the probes' alerts, and how many lines repeated
    /// one (an alert delivered more than once).
    delivered: Mutex<(HashSet<String>, u64)>,
}

impl Probes {
    /// Probes of the run `run` (unique per run, so a second run against the
    /// same server is not confused by the first one's alerts).
    pub fn new(run: u64) -> Probes {
        Probes {
            marker: format!("kadet-probe-{run}-"),
            acked: Mutex::default(),
            seen: Mutex::default(),
            delivered: Mutex::default(),
        }
    }

    /// The body of probe `n`, stamped now.
    fn body(&self, n: u64) -> String {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let user = format!("{}{n}", self.marker);
        let event = serde_json::json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request",
            "auditID": user, "stage": "ResponseComplete",
            "requestURI": "/api/v1/namespaces/probe/serviceaccounts/probe/token", "verb": "create",
            "user": { "username": user, "groups": ["system:authenticated"] },
            "sourceIPs": ["198.51.100.77"], "userAgent": "kubectl/v1.29.3",
            "objectRef": { "resource": "serviceaccounts", "namespace": "probe", "name": "probe", "apiVersion": "v1", "subresource": "token" },
            "responseStatus": { "code": 201 },
            "requestObject": { "kind": "TokenRequest", "spec": { "expirationSeconds": 946080000 } },
            "requestReceivedTimestamp": now, "stageTimestamp": now
        });
        serde_json::json!({ "kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": [event] })
            .to_string()
    }

    /// Sends a probe every `every` until `stop`, round robin over `urls`;
    /// a refused or failed probe is sent again, to the next URL (an
    /// instance may have died), until it is accepted.
    pub async fn send(
        self: Arc<Self>,
        client: reqwest::Client,
        urls: Vec<String>,
        token: Option<String>,
        every: Duration,
        stop: Arc<AtomicBool>,
    ) {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(every).await;
            n += 1;
            let mut to = n as usize;
            while !stop.load(Ordering::Relaxed) {
                let url = &urls[to % urls.len()];
                let mut req = client
                    .post(url)
                    .header("Content-Type", "application/json")
                    .body(self.body(n));
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let at = Instant::now();
                        if let Ok(mut a) = self.acked.lock() {
                            a.insert(n, at);
                        }
                        break;
                    }
                    _ => {
                        to += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await
                    }
                }
            }
        }
    }

    /// Tails `files` every 2 ms until `done`, noting when each probe's
    /// alert first appears.
    pub fn watch(&self, files: &[PathBuf], done: &AtomicBool) {
        let mut offsets = vec![0u64; files.len()];
        let mut carry: Vec<Vec<u8>> = vec![Vec::new(); files.len()];
        while !done.load(Ordering::Relaxed) {
            for (i, path) in files.iter().enumerate() {
                let Ok(mut f) = std::fs::File::open(path) else {
                    continue;
                };
                if f.seek(SeekFrom::Start(offsets[i])).is_err() {
                    continue;
                }
                let mut new = Vec::new();
                let Ok(read) = f.read_to_end(&mut new) else {
                    continue;
                };
                offsets[i] += read as u64;
                carry[i].extend_from_slice(&new);
                if let Some(end) = carry[i].iter().rposition(|b| *b == b'\n') {
                    let lines: Vec<u8> = carry[i].drain(..=end).collect();
                    for line in String::from_utf8_lossy(&lines).lines() {
                        self.note(line);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Notes the probes one alert line names.
    fn note(&self, line: &str) {
        let now = Instant::now();
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        let named: Vec<u64> = line
            .match_indices(&self.marker)
            .filter_map(|(at, _)| {
                let digits: String = line[at + self.marker.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            })
            .collect();
        if named.is_empty() {
            return;
        }
        for n in named {
            seen.entry(n).or_insert(now);
        }
        let id = line
            .split_once(r#""alert_id":""#)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(id, _)| id.to_string());
        if let (Some(id), Ok(mut d)) = (id, self.delivered.lock()) {
            if !d.0.insert(id) {
                d.1 += 1;
            }
        }
    }

    /// Probes accepted whose alert has not been seen yet.
    pub fn missing(&self) -> usize {
        let (Ok(acked), Ok(seen)) = (self.acked.lock(), self.seen.lock()) else {
            return 0;
        };
        acked.keys().filter(|n| !seen.contains_key(n)).count()
    }

    /// One line: the latency from `200` to alert over the probes.
    pub fn report(&self) -> String {
        let (Ok(acked), Ok(seen)) = (self.acked.lock(), self.seen.lock()) else {
            return "alert latency: unknown (a lock was poisoned)".into();
        };
        let mut ms: Vec<f64> = acked
            .iter()
            .filter_map(|(n, ack)| {
                seen.get(n)
                    .map(|s| s.saturating_duration_since(*ack).as_secs_f64() * 1000.0)
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            ms.get(((ms.len() as f64 * p) as usize).min(ms.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0.0)
        };
        let again = self.delivered.lock().map_or(0, |d| d.1);
        format!(
            "alert latency over {} probes: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {} without an alert, {} alert lines repeated",
            ms.len(),
            pct(0.50),
            pct(0.99),
            ms.last().copied().unwrap_or(0.0),
            acked.len() - ms.len(),
            again
        )
    }
}
