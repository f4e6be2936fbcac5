//! The detector: reads the journal in order, evaluates it exactly as `scan`
//! does, and keeps dedup windows, thresholds and the alert outbox in SQLite.
//!
//! Each pass reads a run of journal records, applies all their matches, and
//! commits the new window state, the new outbox rows and the journal read
//! offset in one SQLite transaction. A crash at any point therefore either
//! loses the whole pass (it is redone from the old offset after restart) or
//! keeps it whole: nothing is counted twice and nothing is lost.
//!
//! Windows follow the alert semantics of `scan` on event time: a window per
//! (rule, dedup string) opens at its first match, lasts the rule's
//! `DedupPeriodMinutes`, and turns into an alert when its count (or distinct
//! count) reaches `Threshold`. Unlike `scan`, the alert is raised the moment
//! the threshold is reached; later matches in the window update its count in
//! the store without a second notification. Matches are applied in journal
//! order (no reorder buffer), so the alert ids equal `scan`'s whenever each
//! key's matches arrive in event-time order.

use crate::journal::Shared;
use crate::metrics::Metrics;
use anyhow::{Context, Result};
use kadet_engine::alert::{alert_id, EventRef, EVENTS_CAP, SUMMARY_CAP};
use kadet_engine::matches::{Actor, Target};
use kadet_engine::pipeline::{Evaluator, ScanOptions};
use kadet_engine::{Alert, Match};
use kadet_event::{Chunk, EventTime, LogType};
use kadet_rules::{Rule, Severity};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Opens the store, creating its tables.
pub fn open_store(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=FULL;
         CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS windows (
             rule_id TEXT NOT NULL, dedup TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
             notified INTEGER NOT NULL, state TEXT NOT NULL, PRIMARY KEY (rule_id, dedup));
         CREATE INDEX IF NOT EXISTS windows_end ON windows (end);
         CREATE TABLE IF NOT EXISTS distinct_values (
             rule_id TEXT NOT NULL, dedup TEXT NOT NULL, start INTEGER NOT NULL, value TEXT NOT NULL,
             PRIMARY KEY (rule_id, dedup, start, value)) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS alerts (
             alert_id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, raised_at INTEGER NOT NULL, event_count INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS outbox (alert_id TEXT PRIMARY KEY, state TEXT NOT NULL, seq INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS deliveries (
             alert_id TEXT NOT NULL, sink INTEGER NOT NULL, attempts INTEGER NOT NULL, next_at INTEGER NOT NULL,
             seq INTEGER NOT NULL, PRIMARY KEY (alert_id, sink));",
    )?;
    Ok(conn)
}

/// Reads an integer from `meta`.
pub fn meta_get(conn: &Connection, key: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn meta_set(tx: &Transaction<'_>, key: &str, v: i64) -> rusqlite::Result<()> {
    tx.execute("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", params![key, v])?;
    Ok(())
}

/// A window, as stored (and, once its threshold is reached, as the alert).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowState {
    /// Rule id.
    pub rule_id: String,
    /// Rule display name.
    pub rule_name: String,
    /// Title of the first match.
    pub title: String,
    /// Dedup string.
    pub dedup: String,
    /// Highest severity name.
    pub severity: String,
    /// Window start (µs).
    pub start: i64,
    /// Window end (µs).
    pub end: i64,
    /// Latest match time (µs).
    pub last_time: i64,
    /// Matches.
    pub count: u64,
    /// Distinct values (DistinctBy).
    pub distinct: u64,
    /// Some match had its own time.
    pub any_time: bool,
    /// The first matching events.
    pub events: Vec<(String, Option<String>)>,
    /// Log type names.
    pub log_types: Vec<String>,
    /// SummaryAttributes values.
    pub summary: Vec<Vec<serde_json::Value>>,
    /// Cluster of the first match.
    pub cluster: Option<String>,
    /// Context of the first match.
    pub context: serde_json::Map<String, serde_json::Value>,
    /// Actor of the first match: user, source IPs, user agent.
    pub actor: (Option<String>, Vec<String>, Option<String>),
    /// Target of the first match: verb, resource, subresource, namespace, name.
    pub target: [Option<String>; 5],
}

impl WindowState {
    /// The alert id, as `scan` computes it.
    pub fn alert_id(&self) -> String {
        alert_id(&self.rule_id, &self.dedup, EventTime(self.start))
    }

    /// The engine's alert, for the sinks.
    pub fn to_alert(&self, rule: Option<&Rule>) -> Alert {
        let summary = rule
            .map(|r| {
                r.summary_attributes
                    .iter()
                    .cloned()
                    .zip(self.summary.iter().cloned())
                    .collect()
            })
            .unwrap_or_default();
        let mut log_types: Vec<&'static str> = self
            .log_types
            .iter()
            .filter_map(|n| LogType::from_name(n))
            .map(LogType::name)
            .collect();
        log_types.sort_by_key(|n| LogType::from_name(n));
        Alert {
            alert_id: self.alert_id(),
            rule_id: self.rule_id.clone(),
            rule_name: self.rule_name.clone(),
            severity: Severity::parse(&self.severity).unwrap_or(Severity::Info),
            title: self.title.clone(),
            dedup: self.dedup.clone(),
            event_count: self.count,
            first_seen: self.any_time.then(|| EventTime(self.start).to_rfc3339()),
            last_seen: self
                .any_time
                .then(|| EventTime(self.last_time).to_rfc3339()),
            log_types,
            cluster: self.cluster.clone(),
            context: self.context.clone(),
            summary,
            reports: rule.map(|r| r.reports.clone()).unwrap_or_default(),
            reference: rule.and_then(|r| r.reference.clone()),
            runbook: rule.and_then(|r| r.runbook.clone()),
            sigma: rule.and_then(|r| r.sigma.clone()),
            events_truncated: self.count > self.events.len() as u64,
            events: self
                .events
                .iter()
                .map(|(l, a)| EventRef {
                    location: l.clone(),
                    audit_id: a.clone(),
                })
                .collect(),
            events_cap: EVENTS_CAP,
            signal: rule.is_some_and(|r| !r.create_alert),
            actor: Actor {
                user: self.actor.0.clone(),
                source_ips: self.actor.1.clone(),
                user_agent: self.actor.2.clone(),
            },
            target: Target {
                verb: self.target[0].clone(),
                resource: self.target[1].clone(),
                subresource: self.target[2].clone(),
                namespace: self.target[3].clone(),
                name: self.target[4].clone(),
            },
            window_start: EventTime(self.start),
        }
    }

    fn open(rule: &Rule, t: EventTime, m: &Match) -> WindowState {
        WindowState {
            rule_id: rule.id.clone(),
            rule_name: rule.display_name.clone().unwrap_or_else(|| rule.id.clone()),
            title: m.outcome.title.clone(),
            dedup: m.outcome.dedup.clone(),
            severity: m.outcome.severity.name().to_string(),
            start: t.0,
            end: t.plus_minutes(i64::from(rule.dedup_period_minutes)).0,
            last_time: t.0,
            count: 0,
            distinct: 0,
            any_time: false,
            events: Vec::new(),
            log_types: Vec::new(),
            summary: vec![Vec::new(); rule.summary_attributes.len()],
            cluster: m.cluster.clone(),
            context: m.outcome.context.clone(),
            actor: (
                m.actor.user.clone(),
                m.actor.source_ips.clone(),
                m.actor.user_agent.clone(),
            ),
            target: [
                m.target.verb.clone(),
                m.target.resource.clone(),
                m.target.subresource.clone(),
                m.target.namespace.clone(),
                m.target.name.clone(),
            ],
        }
    }

    fn add(&mut self, t: EventTime, m: &Match) {
        self.count += 1;
        self.last_time = self.last_time.max(t.0);
        self.any_time |= m.time.is_some();
        let sev = Severity::parse(&self.severity).unwrap_or(Severity::Info);
        if m.outcome.severity > sev {
            self.severity = m.outcome.severity.name().to_string();
        }
        if self.events.len() < EVENTS_CAP {
            self.events
                .push((m.location.to_string(), m.audit_id.clone()));
        }
        let lt = m.log_type.name().to_string();
        if !self.log_types.contains(&lt) {
            self.log_types.push(lt);
        }
        for (i, v) in m.summary.iter().enumerate() {
            if let Some(slot) = self.summary.get_mut(i) {
                if !v.is_null() && slot.len() < SUMMARY_CAP && !slot.contains(v) {
                    slot.push(v.clone());
                }
            }
        }
    }

    fn reached(&self, rule: &Rule) -> bool {
        let n = if rule.distinct_by.is_some() {
            self.distinct
        } else {
            self.count
        };
        n >= u64::from(rule.threshold)
    }
}

/// Evaluates the journal into the store.
pub struct Detector<'r> {
    rules: &'r [Rule],
    eval: Evaluator<'r>,
    conn: Connection,
    journal: Arc<Shared>,
    metrics: Arc<Metrics>,
    sinks: usize,
    watermark: Option<EventTime>,
    /// Notified when new outbox rows were committed.
    pub on_alert: Box<dyn Fn() + Send>,
}

/// Store keys.
const K_OFFSET: &str = "journal_offset";
const K_WATERMARK: &str = "watermark";
const K_SEQ: &str = "outbox_seq";

impl<'r> Detector<'r> {
    /// A detector over `rules` writing to `conn`, for `sinks` sinks.
    pub fn new(
        rules: &'r [Rule],
        opts: &ScanOptions,
        conn: Connection,
        journal: Arc<Shared>,
        metrics: Arc<Metrics>,
        sinks: usize,
    ) -> Result<Self> {
        let watermark = meta_get(&conn, K_WATERMARK)?.map(EventTime);
        Ok(Detector {
            rules,
            eval: Evaluator::new(rules, opts),
            conn,
            journal,
            metrics,
            sinks,
            watermark,
            on_alert: Box::new(|| {}),
        })
    }

    /// Runs until `stop` is set and the journal is caught up (or `stop_now`).
    pub fn run(&mut self, stop: &AtomicBool, stop_now: &AtomicBool) -> Result<()> {
        loop {
            if stop_now.load(Ordering::Acquire) {
                return Ok(());
            }
            let offset = meta_get(&self.conn, K_OFFSET)?.unwrap_or(0) as u64;
            if self.journal.durable() > offset {
                self.pass(offset)?;
                continue;
            }
            if stop.load(Ordering::Acquire) {
                return Ok(());
            }
            self.journal.wait_beyond(offset, Duration::from_millis(200));
        }
    }

    /// One pass: read a run of records, evaluate, commit.
    pub fn pass(&mut self, offset: u64) -> Result<()> {
        let (records, next) = self
            .journal
            .read_from(offset, 8 << 20)
            .context("reading the journal")?;
        let rules = self.rules;
        let mut results = Vec::with_capacity(records.len());
        for (at, source, doc) in records {
            let r = self.eval.process(Chunk::Document {
                file: Arc::from(source.name()),
                line: at,
                data: doc,
            });
            results.push(r);
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut new_alerts = 0usize;
        let mut seq = meta_get(&tx, K_SEQ)?.unwrap_or(0);
        let mut matched: BTreeMap<usize, u64> = BTreeMap::new();
        let mut raised: BTreeMap<usize, u64> = BTreeMap::new();
        for r in &results {
            for m in &r.matches {
                if let Some(t) = m.time {
                    if self.watermark.is_none_or(|w| t > w) {
                        self.watermark = Some(t);
                    }
                }
                let t = m.time.or(self.watermark).unwrap_or(EventTime(0));
                *matched.entry(m.rule).or_default() += 1;
                if apply(&tx, &rules[m.rule], t, m, &mut seq, self.sinks)? {
                    new_alerts += 1;
                    *raised.entry(m.rule).or_default() += 1;
                }
            }
            if let Some(t) = r.max_time {
                if self.watermark.is_none_or(|w| t > w) {
                    self.watermark = Some(t);
                }
            }
        }
        if let Some(w) = self.watermark {
            meta_set(&tx, K_WATERMARK, w.0)?;
            // Windows that ended a day of event time ago are done with.
            let horizon = w.plus_minutes(-24 * 60).0;
            tx.execute("DELETE FROM distinct_values WHERE (rule_id, dedup, start) IN (SELECT rule_id, dedup, start FROM windows WHERE end < ?1)", [horizon])?;
            tx.execute("DELETE FROM windows WHERE end < ?1", [horizon])?;
        }
        meta_set(&tx, K_SEQ, seq)?;
        meta_set(&tx, K_OFFSET, next as i64)?;
        tx.commit()?;
        self.journal.set_processed(next);
        self.metrics
            .set_gauge("kadet_journal_backlog_bytes", self.journal.backlog() as f64);
        for r in &results {
            for (lt, n) in &r.stats.events_by_type {
                self.metrics.add(
                    "kadet_events_evaluated_total",
                    &[("log_type", lt.name())],
                    *n,
                );
            }
            for (reason, n) in &r.stats.skipped {
                self.metrics.add(
                    "kadet_records_skipped_total",
                    &[("reason", reason.name())],
                    *n,
                );
                if *reason == kadet_event::SkipReason::TooLarge {
                    self.metrics.add(
                        "kadet_events_rejected_total",
                        &[("reason", "too-large")],
                        *n,
                    );
                }
            }
            for s in r.skips.iter().take(5) {
                tracing::warn!(reason = s.reason.name(), location = %s.location, "skipped record");
            }
        }
        for (rule, n) in matched {
            self.metrics
                .add("kadet_matches_total", &[("rule", &rules[rule].id)], n);
        }
        for (rule, n) in raised {
            self.metrics
                .add("kadet_alerts_total", &[("rule", &rules[rule].id)], n);
        }
        if new_alerts > 0 {
            (self.on_alert)();
        }
        Ok(())
    }
}

/// Applies one match; true when it raised an alert.
fn apply(
    tx: &Transaction<'_>,
    rule: &Rule,
    t: EventTime,
    m: &Match,
    seq: &mut i64,
    sinks: usize,
) -> Result<bool> {
    let dedup = &m.outcome.dedup;
    let row: Option<(i64, bool, String)> = tx
        .query_row(
            "SELECT end, notified, state FROM windows WHERE rule_id = ?1 AND dedup = ?2",
            params![rule.id, dedup],
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0, r.get(2)?)),
        )
        .optional()?;
    let (mut w, mut notified) = match row {
        Some((end, notified, state)) if t.0 < end => {
            (serde_json::from_str::<WindowState>(&state)?, notified)
        }
        Some((_, _, state)) => {
            if let Ok(old) = serde_json::from_str::<WindowState>(&state) {
                tx.execute(
                    "DELETE FROM distinct_values WHERE rule_id = ?1 AND dedup = ?2 AND start = ?3",
                    params![rule.id, dedup, old.start],
                )?;
            }
            (WindowState::open(rule, t, m), false)
        }
        None => (WindowState::open(rule, t, m), false),
    };
    w.add(t, m);
    if let Some(d) = &m.outcome.distinct {
        if w.distinct < 100_000 {
            let n = tx.execute("INSERT OR IGNORE INTO distinct_values (rule_id, dedup, start, value) VALUES (?1, ?2, ?3, ?4)", params![rule.id, dedup, w.start, d])?;
            w.distinct += n as u64;
        }
    }
    let mut raised = false;
    let id = w.alert_id();
    if !notified && w.reached(rule) {
        notified = true;
        if rule.create_alert {
            let state = serde_json::to_string(&w)?;
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO alerts (alert_id, rule_id, raised_at, event_count) VALUES (?1, ?2, strftime('%s','now'), ?3)",
                params![id, rule.id, w.count as i64],
            )?;
            if inserted > 0 {
                *seq += 1;
                tx.execute(
                    "INSERT OR IGNORE INTO outbox (alert_id, state, seq) VALUES (?1, ?2, ?3)",
                    params![id, state, *seq],
                )?;
                for s in 0..sinks {
                    tx.execute("INSERT OR IGNORE INTO deliveries (alert_id, sink, attempts, next_at, seq) VALUES (?1, ?2, 0, 0, ?3)", params![id, s as i64, *seq])?;
                }
                raised = true;
            }
        }
    } else if notified {
        tx.execute(
            "UPDATE alerts SET event_count = ?2 WHERE alert_id = ?1",
            params![id, w.count as i64],
        )?;
    }
    let state = serde_json::to_string(&w)?;
    tx.execute(
        "INSERT INTO windows (rule_id, dedup, start, end, notified, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(rule_id, dedup) DO UPDATE SET start = excluded.start, end = excluded.end, notified = excluded.notified, state = excluded.state",
        params![rule.id, dedup, w.start, w.end, notified as i64, state],
    )?;
    Ok(raised)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Journal, Source};

    const RULE: &str = r#"AnalysisType: rule
RuleID: "Test.Denied.Threshold"
DisplayName: "Denied three times"
Enabled: true
LogTypes:
  - Kubernetes.Audit
Severity: Medium
DedupPeriodMinutes: 60
Threshold: 3
Detection:
  - KeyPath: responseStatus.code
    Condition: Equals
    Value: 403
"#;

    fn denied(i: u32, minute: u32) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a{i}","stage":"ResponseComplete","verb":"get","requestURI":"/api/v1/secrets","user":{{"username":"eve"}},"responseStatus":{{"code":403}},"stageTimestamp":"2026-11-02T10:{minute:02}:00.000000Z"}}"#
        )
    }

    fn outbox(conn: &Connection) -> Vec<WindowState> {
        let mut stmt = conn
            .prepare("SELECT state FROM outbox ORDER BY seq")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|s| serde_json::from_str(&s.unwrap()).unwrap())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn alert_at_threshold_once_then_count_updates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rule.yml"), RULE).unwrap();
        let set = kadet_rules::load_paths(&[dir.path().join("rule.yml")]).unwrap();
        let rules: &'static [Rule] = Box::leak(set.rules.into_boxed_slice());
        let store = dir.path().join("s.sqlite");
        let (journal, _w) = Journal::open(&dir.path().join("j"), 0, 1 << 20).unwrap();
        let metrics = Arc::new(Metrics::default());
        let mut det = Detector::new(
            rules,
            &ScanOptions::default(),
            open_store(&store).unwrap(),
            journal.shared.clone(),
            metrics.clone(),
            1,
        )
        .unwrap();
        let check = open_store(&store).unwrap();
        // Two matches: below the threshold.
        journal
            .append(vec![
                (Source::Audit, denied(1, 0).into_bytes()),
                (Source::Audit, denied(2, 5).into_bytes()),
            ])
            .await
            .unwrap();
        det.pass(0).unwrap();
        assert!(outbox(&check).is_empty());
        // The third raises the alert at once, long before the window closes.
        let end = journal
            .append(vec![(Source::Audit, denied(3, 10).into_bytes())])
            .await
            .unwrap();
        let off = meta_get(&check, K_OFFSET).unwrap().unwrap() as u64;
        det.pass(off).unwrap();
        let out = outbox(&check);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].count, 3);
        let id = out[0].alert_id();
        assert_eq!(
            id,
            alert_id(
                "Test.Denied.Threshold",
                &out[0].dedup,
                EventTime::parse("2026-11-02T10:00:00Z").unwrap()
            )
        );
        // Two more in the window: no second alert, the count moves on.
        let end2 = journal
            .append(vec![
                (Source::Audit, denied(4, 20).into_bytes()),
                (Source::Audit, denied(5, 59).into_bytes()),
            ])
            .await
            .unwrap();
        det.pass(end).unwrap();
        assert_eq!(outbox(&check).len(), 1);
        let count: i64 = check
            .query_row(
                "SELECT event_count FROM alerts WHERE alert_id = ?1",
                [&id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(count, 5);
        // A match after the window's end opens a new window, below threshold.
        journal
            .append(vec![(
                Source::Audit,
                denied(6, 0).replace("T10:00", "T11:00").into_bytes(),
            )])
            .await
            .unwrap();
        det.pass(end2).unwrap();
        assert_eq!(outbox(&check).len(), 1);
        assert_eq!(
            metrics.get("kadet_alerts_total", &[("rule", "Test.Denied.Threshold")]),
            1
        );
        assert_eq!(
            metrics.get("kadet_matches_total", &[("rule", "Test.Denied.Threshold")]),
            6
        );
        assert_eq!(journal.shared.backlog(), 0);
    }
}
