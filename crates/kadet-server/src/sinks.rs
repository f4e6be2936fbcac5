//! Delivery from the outbox: one worker thread per sink. An alert leaves the
//! outbox only once every sink has confirmed it (or dead-lettered it).
//!
//! Delivery is at least once; `alert_id` lets receivers drop repeats. For a
//! file sink a restart also looks in the file for alerts that were written
//! just before a crash but not yet confirmed, so the file holds each alert
//! once.

use crate::config::{SinkConfig, StreamFormat, WebhookFormat};
use crate::metrics::{Counter, Metrics};
use crate::now_ms;
use crate::store::{outbox, Store};
use anyhow::{Context, Result};
use kadet_engine::{Alert, AlertWindow, JsonLinesSink, OcsfSink, Sink};
use kadet_rules::Rule;
use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{self, BufRead, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

enum Target {
    Stream {
        out: Box<dyn Write + Send>,
        format: StreamFormat,
    },
    Webhook {
        client: reqwest::Client,
        url: String,
        format: WebhookFormat,
        token: Option<String>,
        max_attempts: u32,
        backoff_ms: u64,
        dead_letter: PathBuf,
    },
}

/// A sink worker.
pub struct Worker {
    name: String,
    target: Target,
    store: Store,
    rules: &'static [Rule],
    metrics: Arc<Metrics>,
    rt: tokio::runtime::Handle,
}

/// Renders an alert for a stream sink with the engine's sinks.
fn render_stream(a: &Alert, format: StreamFormat, rules: &[Rule]) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    match format {
        StreamFormat::Jsonl => {
            let mut s = JsonLinesSink::new(&mut buf);
            s.alert(a)?;
            s.finish()?;
        }
        StreamFormat::Ocsf => {
            let mut s = OcsfSink::new(&mut buf, rules);
            s.alert(a)?;
            s.finish()?;
        }
    }
    Ok(buf)
}

fn slack_text(a: &Alert) -> String {
    let mut t = format!(
        "*[{}]* {}\nrule: `{}`  events: {}",
        a.severity.name(),
        a.title,
        a.rule_id,
        a.event_count
    );
    if let Some(c) = &a.cluster {
        t.push_str(&format!("  cluster: {c}"));
    }
    if let Some(f) = &a.first_seen {
        t.push_str(&format!("\nfirst seen: {f}"));
    }
    t.push_str(&format!("\nalert_id: {}", a.alert_id));
    t
}

/// The alert ids already in a JSON-lines file (kadet alerts or OCSF
/// findings), after cutting off a torn last line.
fn ids_in_file(path: &Path) -> io::Result<HashSet<String>> {
    let mut ids = HashSet::new();
    let mut f = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(e),
    };
    let mut good = 0u64;
    {
        let mut r = io::BufReader::new(&mut f);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = r.read_until(b'\n', &mut line)?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            good += n as u64;
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) {
                let id = v
                    .get("alert_id")
                    .or_else(|| v.pointer("/finding_info/uid"))
                    .and_then(|v| v.as_str());
                if let Some(id) = id {
                    ids.insert(id.to_string());
                }
            }
        }
    }
    if f.seek(SeekFrom::End(0))? != good {
        f.set_len(good)?;
        f.sync_all()?;
    }
    Ok(ids)
}

impl Worker {
    /// A worker for the sink configured as `cfg`, under its name.
    pub fn new(
        cfg: &SinkConfig,
        store: &Path,
        state_dir: &Path,
        rules: &'static [Rule],
        metrics: Arc<Metrics>,
        rt: tokio::runtime::Handle,
    ) -> Result<Worker> {
        let store = Store::connect(store)?;
        let name = cfg.name().to_string();
        let target = match cfg {
            SinkConfig::Stdout { format, .. } => Target::Stream {
                out: Box::new(io::stdout()),
                format: *format,
            },
            SinkConfig::File { path, format, .. } => {
                let seen = ids_in_file(path)
                    .with_context(|| format!("cannot read sink file {}", path.display()))?;
                if !seen.is_empty() {
                    // Written before a crash but not yet confirmed: confirm now.
                    let pending = outbox::owed_to(store.conn(), &name)?;
                    for id in pending.iter().filter(|id| seen.contains(*id)) {
                        outbox::confirm(store.conn(), id, &name)?;
                    }
                }
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open sink file {}", path.display()))?;
                Target::Stream {
                    out: Box::new(f),
                    format: *format,
                }
            }
            SinkConfig::Webhook {
                url,
                format,
                token_file,
                max_attempts,
                backoff_ms,
                timeout_secs,
                dead_letter,
                ..
            } => {
                let token = match token_file {
                    Some(p) => Some(read_token(p)?),
                    None => None,
                };
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(*timeout_secs))
                    .build()
                    .context("building the webhook HTTP client")?;
                Target::Webhook {
                    client,
                    url: url.clone(),
                    format: *format,
                    token,
                    max_attempts: *max_attempts,
                    backoff_ms: *backoff_ms,
                    dead_letter: dead_letter
                        .clone()
                        .unwrap_or_else(|| state_dir.join("dead-letter.jsonl")),
                }
            }
        };
        Ok(Worker {
            name,
            target,
            store,
            rules,
            metrics,
            rt,
        })
    }

    /// Delivers until `stop`; `wake` says new alerts are waiting. At stop,
    /// one last round is made for what is due.
    pub fn run(&mut self, wake: mpsc::Receiver<()>, stop: &AtomicBool) {
        loop {
            let stopping = stop.load(Ordering::Acquire);
            let wait = match self.round() {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(sink = %self.name, error = %format!("{e:#}"), "sink round failed");
                    Duration::from_secs(1)
                }
            };
            if stopping {
                return;
            }
            let _ = wake.recv_timeout(wait);
        }
    }

    /// Delivers what is due; returns how long to sleep.
    fn round(&mut self) -> Result<Duration> {
        const BATCH: usize = 256;
        let due = outbox::due(self.store.conn(), &self.name, now_ms(), BATCH)?;
        for d in &due {
            let w = match AlertWindow::from_stored(&d.state) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(sink = %self.name, alert_id = %d.alert_id, error = %e, "unreadable outbox entry; dropped");
                    outbox::confirm(self.store.conn(), &d.alert_id, &self.name)?;
                    continue;
                }
            };
            let rule = self.rules.iter().find(|r| r.id == w.rule_id);
            let alert = w.to_alert(rule);
            match self.deliver(&alert) {
                Ok(()) => {
                    outbox::confirm(self.store.conn(), &d.alert_id, &self.name)?;
                    self.metrics
                        .inc(Counter::SinkDeliveries, &[("sink", &self.name)]);
                }
                Err(e) => {
                    self.metrics
                        .inc(Counter::SinkFailures, &[("sink", &self.name)]);
                    if let Some(wait) = self.failed(&d.alert_id, d.attempts + 1, &alert, &e)? {
                        return Ok(wait);
                    }
                }
            }
        }
        if due.len() == BATCH {
            return Ok(Duration::ZERO);
        }
        Ok(match outbox::next_due(self.store.conn(), &self.name)? {
            Some(n) => Duration::from_millis((n - now_ms()).clamp(0, 1000) as u64),
            None => Duration::from_secs(1),
        })
    }

    /// After a failed delivery: retry later, or dead-letter it once the
    /// attempts are spent (webhooks); stream sinks retry the whole round in
    /// a second (returned as the wait).
    fn failed(
        &mut self,
        id: &str,
        attempts: i64,
        alert: &Alert,
        e: &anyhow::Error,
    ) -> Result<Option<Duration>> {
        match &self.target {
            Target::Webhook {
                max_attempts,
                backoff_ms,
                ..
            } if attempts < i64::from(*max_attempts) => {
                let delay = backoff_ms
                    .saturating_mul(1u64 << (attempts - 1).clamp(0, 20))
                    .min(300_000);
                tracing::warn!(sink = %self.name, alert_id = %id, attempt = attempts, retry_in_ms = delay, error = %e, "delivery failed");
                outbox::retry_later(
                    self.store.conn(),
                    id,
                    &self.name,
                    attempts,
                    now_ms() + delay as i64,
                )?;
                Ok(None)
            }
            Target::Webhook { dead_letter, .. } => {
                tracing::error!(sink = %self.name, alert_id = %id, attempts, error = %e, "delivery failed; writing to the dead-letter file");
                let line = render_stream(alert, StreamFormat::Jsonl, self.rules)?;
                let mut f = crate::state_dir::open_private_append(dead_letter)?;
                f.write_all(&line)?;
                f.sync_data()?;
                self.metrics
                    .inc(Counter::SinkDeadLetters, &[("sink", &self.name)]);
                outbox::confirm(self.store.conn(), id, &self.name)?;
                Ok(None)
            }
            Target::Stream { .. } => {
                tracing::error!(sink = %self.name, alert_id = %id, error = %e, "writing an alert failed; will retry");
                Ok(Some(Duration::from_secs(1)))
            }
        }
    }

    fn deliver(&mut self, a: &Alert) -> Result<()> {
        match &mut self.target {
            Target::Stream { out, format } => {
                let buf = render_stream(a, *format, self.rules)?;
                out.write_all(&buf)?;
                out.flush()?;
                Ok(())
            }
            Target::Webhook {
                client,
                url,
                format,
                token,
                ..
            } => {
                // reqwest's timers need the runtime's context.
                let _rt = self.rt.enter();
                let body = match format {
                    WebhookFormat::Json => serde_json::to_value(a)?,
                    WebhookFormat::Ocsf => kadet_engine::ocsf::detection_finding(
                        a,
                        self.rules.iter().find(|r| r.id == a.rule_id),
                    ),
                    WebhookFormat::Slack => serde_json::json!({ "text": slack_text(a) }),
                };
                let mut req = client
                    .post(url.as_str())
                    .json(&body)
                    .header("X-Kadet-Alert-Id", a.alert_id.as_str());
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                // Webhook URLs often carry a secret (Slack's do): keep it out of errors and logs.
                let resp = self
                    .rt
                    .block_on(async move { req.send().await })
                    .map_err(|e| anyhow::anyhow!("{}", e.without_url()))?;
                let status = resp.status();
                if status.is_success() {
                    Ok(())
                } else {
                    anyhow::bail!("HTTP {status}")
                }
            }
        }
    }
}

/// Reads a token file: the first line, trimmed.
pub fn read_token(p: &Path) -> Result<String> {
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read token file {}", p.display()))?;
    let t = text.lines().next().unwrap_or("").trim().to_string();
    if t.is_empty() {
        anyhow::bail!("token file {} is empty", p.display());
    }
    Ok(t)
}
