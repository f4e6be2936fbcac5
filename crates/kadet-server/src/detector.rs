//! The detector: reads the journal in order, evaluates it exactly as `scan`
//! does, and keeps dedup windows, thresholds and the alert outbox in the
//! store.
//!
//! Each pass reads a run of journal records, feeds their matches to the
//! same [`Alerter`] `scan` uses (windows applied in event-time order after a
//! reorder buffer of `lateness`), and commits what changed, the new outbox
//! rows and the journal read offset in one transaction. A crash at any point
//! either loses the whole pass (it is redone from the old offset after
//! restart) or keeps it whole: nothing is counted twice and nothing is lost.
//! Unlike `scan`, an alert is raised the moment its window reaches the
//! threshold (once its matches have passed the reorder buffer).
//!
//! What fails inside kadet costs one record, never detection: a record whose
//! decoding or evaluation panics is written to the quarantine file and
//! passed over, and so is a stored window that no longer reads. Only the
//! store failing (disk full, I/O error) stops detection; `/readyz` then
//! answers 503 until a pass commits again.

use crate::journal::Shared;
use crate::metrics::{Counter, Gauge, Metrics};
use crate::store::{Pass, Quarantined, Store};
use anyhow::{Context, Result};
use kadet_engine::pipeline::{ChunkResult, Evaluator, ScanOptions};
use kadet_engine::{Alerter, EmitAt};
use kadet_event::{Chunk, SkipReason};
use kadet_rules::Rule;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the detector turns matches into alerts.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Event-time disorder handled exactly, in microseconds.
    pub lateness_us: i64,
    /// After this long without new records, buffered matches are applied
    /// anyway (`None`: never).
    pub idle_release: Option<Duration>,
}

/// Evaluates the journal into the store.
pub struct Detector<'r> {
    rules: &'r [Rule],
    eval: Evaluator<'r>,
    alerter: Alerter<'r>,
    timing: Timing,
    store: Store,
    journal: Arc<Shared>,
    metrics: Arc<Metrics>,
    sinks: Vec<String>,
    quarantine: PathBuf,
    offset: u64,
    last_record: Instant,
    up: Arc<AtomicBool>,
    /// Notified when new outbox rows were committed.
    pub on_alert: Box<dyn Fn() + Send>,
}

impl<'r> Detector<'r> {
    /// A detector over `rules` writing to `store`, for the named `sinks`;
    /// records and stored state it cannot process go to `quarantine`.
    /// `up` is cleared while the store fails.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rules: &'r [Rule],
        opts: &ScanOptions,
        timing: Timing,
        store: Store,
        journal: Arc<Shared>,
        metrics: Arc<Metrics>,
        sinks: Vec<String>,
        quarantine: PathBuf,
        up: Arc<AtomicBool>,
    ) -> Result<Self> {
        let mut d = Detector {
            rules,
            eval: Evaluator::new(rules, opts),
            alerter: Alerter::with(rules, timing.lateness_us, EmitAt::Threshold),
            timing,
            store,
            journal,
            metrics,
            sinks,
            quarantine,
            offset: 0,
            last_record: Instant::now(),
            up,
            on_alert: Box::new(|| {}),
        };
        d.reload()?;
        Ok(d)
    }

    /// Rebuilds the in-memory state from the store (at start, and after a
    /// pass failed to commit, whose changes exist only in memory).
    fn reload(&mut self) -> Result<()> {
        let (windows, bad_windows) = self.store.load_windows()?;
        let (buffered, bad_matches) = self.store.load_buffered()?;
        for q in bad_windows.iter().chain(&bad_matches) {
            self.quarantine_state(q);
        }
        self.alerter = Alerter::with(self.rules, self.timing.lateness_us, EmitAt::Threshold)
            .restore(self.store.watermark()?, windows, buffered);
        self.offset = self.store.journal_offset()?;
        Ok(())
    }

    /// Runs until `stop` is set and the journal is caught up (or `stop_now`).
    /// A pass that cannot be committed is retried every second, with the
    /// detector marked down meanwhile.
    pub fn run(&mut self, stop: &AtomicBool, stop_now: &AtomicBool) {
        while !stop_now.load(Ordering::Acquire) {
            let work = if self.journal.durable() > self.offset {
                Work::Records
            } else if self.idle_due() {
                Work::Idle
            } else if stop.load(Ordering::Acquire) {
                return;
            } else {
                self.journal
                    .wait_beyond(self.offset, Duration::from_millis(200));
                continue;
            };
            match self.pass(work) {
                Ok(()) => {
                    if !self.up.swap(true, Ordering::AcqRel) {
                        tracing::info!("the store commits again; detection resumed");
                    }
                    self.metrics.set_gauge(Gauge::DetectorUp, &[], 1.0);
                }
                Err(e) => self.store_failed(&e),
            }
        }
    }

    fn idle_due(&self) -> bool {
        self.alerter.buffered() > 0
            && self
                .timing
                .idle_release
                .is_some_and(|d| self.last_record.elapsed() >= d)
    }

    fn store_failed(&mut self, e: &anyhow::Error) {
        self.up.store(false, Ordering::Release);
        self.metrics.set_gauge(Gauge::DetectorUp, &[], 0.0);
        self.metrics.inc(Counter::StoreErrors, &[]);
        tracing::error!(
            error = %format!("{e:#}"),
            "detection stopped: the store cannot be written. Acknowledged events stay in the journal; \
             free disk space or fix the state directory's volume, and detection resumes by itself"
        );
        std::thread::sleep(Duration::from_secs(1));
        if let Err(e) = self.reload() {
            tracing::error!(error = %format!("{e:#}"), "cannot read the store back");
        }
    }

    /// One pass: read a run of records (or, idle, release the buffer),
    /// evaluate, commit.
    fn pass(&mut self, work: Work) -> Result<()> {
        let (results, next, applied) = match work {
            Work::Records => self.evaluate_records()?,
            Work::Idle => {
                self.alerter.release_idle();
                (Vec::new(), self.offset, Vec::new())
            }
        };
        for r in &results {
            for m in &r.matches {
                self.alerter.push(m.clone());
            }
            if let Some(t) = r.max_time {
                self.alerter.observe_time(t);
            }
        }
        let raised: Vec<_> = self
            .alerter
            .drain_raised()
            .into_iter()
            .filter(|(a, _)| !a.signal)
            .collect();
        let pass = Pass {
            changes: self.alerter.take_changes(),
            alerts: raised,
            watermark: self.alerter.watermark(),
            offset: next,
            applied,
        };
        let new_alerts = self
            .store
            .commit(&pass, &self.sinks)
            .context("committing a detector pass")?;
        self.offset = next;
        self.journal.set_processed(next);
        self.count(&results, &pass);
        if new_alerts > 0 {
            (self.on_alert)();
        }
        Ok(())
    }

    /// Reads and evaluates the next run of journal records; a record
    /// evaluated before (a batch resent by a client that got no answer) is
    /// passed over.
    fn evaluate_records(&mut self) -> Result<(Vec<ChunkResult>, u64, Vec<[u8; 32]>)> {
        let (records, next) = self
            .journal
            .read_from(self.offset, 8 << 20)
            .context("reading the journal")?;
        self.last_record = Instant::now();
        let mut results = Vec::with_capacity(records.len());
        let mut applied: Vec<[u8; 32]> = Vec::with_capacity(records.len());
        for (at, source, doc) in records {
            let digest = record_digest(source.name(), &doc);
            if applied.contains(&digest) || self.store.applied(&digest)? {
                self.metrics.inc(Counter::DuplicateRecords, &[]);
                continue;
            }
            applied.push(digest);
            let r = self.eval.process(Chunk::Document {
                file: Arc::from(source.name()),
                line: at,
                data: doc.clone(),
            });
            for s in r
                .skips
                .iter()
                .filter(|s| s.reason == SkipReason::InternalError)
            {
                self.quarantine_record(&s.location.to_string(), &s.message, &doc);
            }
            results.push(r);
        }
        Ok((results, next, applied))
    }

    fn count(&self, results: &[ChunkResult], pass: &Pass) {
        let m = &self.metrics;
        let mut matched: BTreeMap<usize, u64> = BTreeMap::new();
        for r in results {
            for (lt, n) in &r.stats.events_by_type {
                m.add(Counter::EventsEvaluated, &[("log_type", lt.name())], *n);
            }
            for (reason, n) in &r.stats.skipped {
                m.add(Counter::RecordsSkipped, &[("reason", reason.name())], *n);
            }
            for s in r.skips.iter().take(5) {
                tracing::warn!(reason = s.reason.name(), location = %s.location, "skipped record");
            }
            for mt in &r.matches {
                *matched.entry(mt.rule).or_default() += 1;
            }
        }
        for (rule, n) in matched {
            m.add(Counter::Matches, &[("rule", &self.rules[rule].id)], n);
        }
        for (a, _) in &pass.alerts {
            m.inc(Counter::Alerts, &[("rule", &a.rule_id)]);
        }
        m.set_gauge(
            Gauge::JournalBacklogBytes,
            &[],
            self.journal.backlog() as f64,
        );
        m.set_gauge(Gauge::BufferedMatches, &[], self.alerter.buffered() as f64);
    }

    fn quarantine_record(&self, location: &str, reason: &str, doc: &[u8]) {
        self.metrics.inc(Counter::PoisonRecords, &[]);
        tracing::error!(%location, %reason, file = %self.quarantine.display(), "record quarantined");
        self.write_quarantine(&serde_json::json!({
            "kind": "record",
            "location": location,
            "reason": reason,
            "record": String::from_utf8_lossy(doc),
        }));
    }

    fn quarantine_state(&self, q: &Quarantined) {
        self.metrics
            .inc(Counter::QuarantinedState, &[("table", q.table)]);
        tracing::error!(table = q.table, key = %q.key, reason = %q.reason, file = %self.quarantine.display(), "stored state quarantined");
        self.write_quarantine(&serde_json::json!({
            "kind": q.table,
            "key": q.key,
            "reason": q.reason,
            "state": q.state,
        }));
    }

    fn write_quarantine(&self, entry: &serde_json::Value) {
        let line = format!("{entry}\n");
        let written = crate::state_dir::open_private_append(&self.quarantine)
            .and_then(|mut f| f.write_all(line.as_bytes()).and_then(|()| f.sync_data()));
        if let Err(e) = written {
            tracing::error!(error = %e, file = %self.quarantine.display(), "cannot write the quarantine file");
        }
    }
}

/// The digest that recognises a record sent twice: its source and bytes.
fn record_digest(source: &str, doc: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    h.update([0]);
    h.update(doc);
    h.finalize().into()
}

/// What a pass does.
#[derive(Clone, Copy)]
enum Work {
    /// Evaluate new journal records.
    Records,
    /// No records for a while: release the reorder buffer.
    Idle,
}
