//! Delivery from the outbox: one worker thread per sink. An alert leaves the
//! outbox only once every sink has confirmed it (or dead-lettered it).
//!
//! Delivery is at least once; `alert_id` lets receivers drop repeats. For a
//! file sink a restart also looks in the file for alerts that were written
//! just before a crash but not yet confirmed, so the file holds each alert
//! once.

use crate::config::{SinkConfig, StreamFormat, WebhookFormat};
use crate::detector::{open_store, WindowState};
use crate::metrics::Metrics;
use anyhow::{Context, Result};
use kadet_engine::{Alert, JsonLinesSink, OcsfSink, Sink};
use kadet_rules::Rule;
use rusqlite::{params, Connection};
use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{self, BufRead, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

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
    index: usize,
    name: String,
    target: Target,
    conn: Connection,
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
    /// A worker for sink `index`.
    pub fn new(
        index: usize,
        cfg: &SinkConfig,
        store: &Path,
        state_dir: &Path,
        rules: &'static [Rule],
        metrics: Arc<Metrics>,
        rt: tokio::runtime::Handle,
    ) -> Result<Worker> {
        let conn = open_store(store)?;
        let target = match cfg {
            SinkConfig::Stdout { format } => Target::Stream {
                out: Box::new(io::stdout()),
                format: *format,
            },
            SinkConfig::File { path, format } => {
                let seen = ids_in_file(path)
                    .with_context(|| format!("cannot read sink file {}", path.display()))?;
                if !seen.is_empty() {
                    // Written before a crash but not yet confirmed: confirm now.
                    let mut stmt =
                        conn.prepare("SELECT alert_id FROM deliveries WHERE sink = ?1")?;
                    let pending: Vec<String> = stmt
                        .query_map([index as i64], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                    drop(stmt);
                    for id in pending.iter().filter(|id| seen.contains(*id)) {
                        confirm(&conn, id, index)?;
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
            index,
            name: cfg.name(index),
            target,
            conn,
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
        let now = now_ms();
        let due: Vec<(String, String, i64)> = {
            let mut stmt = self.conn.prepare(
                "SELECT d.alert_id, o.state, d.attempts FROM deliveries d JOIN outbox o ON o.alert_id = d.alert_id
                 WHERE d.sink = ?1 AND d.next_at <= ?2 ORDER BY d.seq LIMIT 256",
            )?;
            let rows = stmt.query_map(params![self.index as i64, now], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (id, state, attempts) in &due {
            let w: WindowState = match serde_json::from_str(state) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(alert_id = %id, error = %e, "unreadable outbox entry; dropped");
                    confirm(&self.conn, id, self.index)?;
                    continue;
                }
            };
            let rule = self.rules.iter().find(|r| r.id == w.rule_id);
            let alert = w.to_alert(rule);
            match self.deliver(&alert) {
                Ok(()) => {
                    confirm(&self.conn, id, self.index)?;
                    self.metrics
                        .inc("kadet_sink_deliveries_total", &[("sink", &self.name)]);
                }
                Err(e) => {
                    self.metrics
                        .inc("kadet_sink_failures_total", &[("sink", &self.name)]);
                    let attempts = attempts + 1;
                    match &self.target {
                        Target::Webhook {
                            max_attempts,
                            backoff_ms,
                            dead_letter,
                            ..
                        } if attempts < i64::from(*max_attempts) => {
                            let delay = backoff_ms
                                .saturating_mul(1u64 << (attempts - 1).clamp(0, 20))
                                .min(300_000);
                            tracing::warn!(sink = %self.name, alert_id = %id, attempt = attempts, retry_in_ms = delay, error = %e, "delivery failed");
                            let _ = dead_letter;
                            self.conn.execute(
                                "UPDATE deliveries SET attempts = ?3, next_at = ?4 WHERE alert_id = ?1 AND sink = ?2",
                                params![id, self.index as i64, attempts, now_ms() + delay as i64],
                            )?;
                        }
                        Target::Webhook { dead_letter, .. } => {
                            tracing::error!(sink = %self.name, alert_id = %id, attempts, error = %e, "delivery failed; writing to the dead-letter file");
                            let line = render_stream(&alert, StreamFormat::Jsonl, self.rules)?;
                            let mut f = OpenOptions::new()
                                .create(true)
                                .append(true)
                                .open(dead_letter)?;
                            f.write_all(&line)?;
                            f.sync_data()?;
                            self.metrics
                                .inc("kadet_sink_dead_letters_total", &[("sink", &self.name)]);
                            confirm(&self.conn, id, self.index)?;
                        }
                        Target::Stream { .. } => {
                            tracing::error!(sink = %self.name, alert_id = %id, error = %e, "writing an alert failed; will retry");
                            return Ok(Duration::from_secs(1));
                        }
                    }
                }
            }
        }
        if due.len() == 256 {
            return Ok(Duration::ZERO);
        }
        let next: Option<i64> = self.conn.query_row(
            "SELECT MIN(next_at) FROM deliveries WHERE sink = ?1",
            [self.index as i64],
            |r| r.get(0),
        )?;
        Ok(match next {
            Some(n) => Duration::from_millis((n - now_ms()).clamp(0, 1000) as u64),
            None => Duration::from_secs(1),
        })
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

/// Marks an alert delivered to `sink`; drops it from the outbox when no sink waits for it.
/// Both deletes are one transaction: a crash between them would otherwise
/// leave an outbox entry that no sink waits for, pending for ever.
fn confirm(conn: &Connection, id: &str, sink: usize) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "DELETE FROM deliveries WHERE alert_id = ?1 AND sink = ?2",
        params![id, sink as i64],
    )?;
    tx.execute("DELETE FROM outbox WHERE alert_id = ?1 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE alert_id = ?1)", [id])?;
    tx.commit()?;
    Ok(())
}

/// Brings the outbox in line with the configured sinks at startup:
/// deliveries owed to sinks no longer configured (index `>= sinks`) are
/// dropped, and so are outbox entries that no sink waits for (left by an
/// older version that confirmed in two steps). Returns how many of each.
pub fn repair_outbox(conn: &mut Connection, sinks: usize) -> Result<(usize, usize)> {
    let tx = conn.transaction()?;
    let gone = tx.execute("DELETE FROM deliveries WHERE sink >= ?1", [sinks as i64])?;
    let orphans = tx.execute(
        "DELETE FROM outbox WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = outbox.alert_id)",
        [],
    )?;
    tx.commit()?;
    Ok((gone, orphans))
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

/// Alerts waiting in the outbox.
pub fn pending(conn: &Connection) -> i64 {
    conn.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
        .unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_store(&dir.path().join("s.sqlite")).unwrap();
        (dir, conn)
    }

    fn owe(conn: &Connection, id: &str, sinks: &[i64]) {
        conn.execute(
            "INSERT INTO outbox (alert_id, state, seq) VALUES (?1, '{}', 1)",
            [id],
        )
        .unwrap();
        for s in sinks {
            conn.execute(
                "INSERT INTO deliveries (alert_id, sink, attempts, next_at, seq) VALUES (?1, ?2, 0, 0, 1)",
                params![id, s],
            )
            .unwrap();
        }
    }

    #[test]
    fn confirm_drops_the_outbox_entry_with_the_last_delivery() {
        let (_d, conn) = store();
        owe(&conn, "a", &[0, 1]);
        confirm(&conn, "a", 0).unwrap();
        assert_eq!(pending(&conn), 1, "sink 1 still waits");
        confirm(&conn, "a", 1).unwrap();
        assert_eq!(pending(&conn), 0);
    }

    #[test]
    fn repair_drops_orphans_and_deliveries_for_removed_sinks() {
        let (_d, mut conn) = store();
        owe(&conn, "orphan", &[]);
        owe(&conn, "removed-sink-only", &[2]);
        owe(&conn, "kept", &[0, 2]);
        let (gone, orphans) = repair_outbox(&mut conn, 1).unwrap();
        assert_eq!((gone, orphans), (2, 2));
        assert_eq!(pending(&conn), 1);
        let left: String = conn
            .query_row("SELECT alert_id FROM outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, "kept");
        assert_eq!(repair_outbox(&mut conn, 1).unwrap(), (0, 0));
    }
}
