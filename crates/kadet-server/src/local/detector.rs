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
//! decoding or evaluation panics becomes a dead letter and is passed over,
//! and so does a stored window that no longer reads. A record that kills
//! the process outright (an allocation failure aborts, an OOM kill) is found
//! by the crash-loop guard ([`super::crash_marker`]) and, after
//! [`QUARANTINE_AFTER`] crashes, kept as a dead letter instead of replayed
//! at every start. Only the
//! store failing (disk full, I/O error) stops detection; `/readyz` then
//! answers 503 until a pass commits again.

use super::crash_marker::{CrashGuard, Mark, QUARANTINE_AFTER};
use super::journal::Shared;
use super::store::{Pass, Quarantined, Store};
use crate::active_rules::ActiveRules;
use crate::core::batch::Batch;
use crate::core::dead_letter::{DeadLetter, DeadLetterFile, DeadLetters, Kind};
use crate::core::detection::{count_evaluation, count_evictions, Timing};
use crate::metrics::{Counter, Gauge, Metrics};
use anyhow::{Context, Result};
use kadet_engine::pipeline::{ChunkResult, Evaluator, ScanOptions};
use kadet_engine::{Alerter, EmitAt};
use kadet_event::SkipReason;
use kadet_rules::Rule;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Evaluates the journal into the store.
pub struct Detector {
    active: Arc<ActiveRules>,
    opts: ScanOptions,
    timing: Timing,
    store: Store,
    guard: CrashGuard,
    journal: Arc<Shared>,
    metrics: Arc<Metrics>,
    sinks: Vec<String>,
    dead_letters: DeadLetterFile,
    up: Arc<AtomicBool>,
    /// Notified when new outbox rows were committed.
    pub on_alert: Box<dyn Fn() + Send>,
}

/// The evaluator and alerter of one rule set (one generation of
/// [`ActiveRules`]), with the journal position.
struct Generation<'r> {
    rules: &'r [Rule],
    eval: Evaluator<'r>,
    alerter: Alerter<'r>,
    offset: u64,
    /// Windows closed early, as counted in the metrics so far.
    evicted: u64,
}

/// Why a generation stopped.
enum Exit {
    /// Stop the detector.
    Stop,
    /// Another rule set is in force.
    Reload,
}

impl Detector {
    /// A detector for the rules in `active`, writing to `store`, for the
    /// named `sinks`; records and stored state it cannot process become
    /// dead letters in `dead_letters` (`guard` finds the records that killed
    /// the last run). `up` is cleared while the store fails.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        active: Arc<ActiveRules>,
        opts: ScanOptions,
        timing: Timing,
        store: Store,
        guard: CrashGuard,
        journal: Arc<Shared>,
        metrics: Arc<Metrics>,
        sinks: Vec<String>,
        dead_letters: DeadLetterFile,
        up: Arc<AtomicBool>,
    ) -> Self {
        Detector {
            active,
            opts,
            timing,
            store,
            guard,
            journal,
            metrics,
            sinks,
            dead_letters,
            up,
            on_alert: Box::new(|| {}),
        }
    }

    /// Builds the evaluator and alerter for `rules` from the store: the
    /// windows and buffered matches of rules that still exist carry over.
    fn generation<'r>(&mut self, rules: &'r [Rule]) -> Result<Generation<'r>> {
        let (windows, bad_windows) = self.store.load_windows()?;
        let (buffered, bad_matches) = self.store.load_buffered()?;
        for q in bad_windows.iter().chain(&bad_matches) {
            self.quarantine_state(q);
        }
        let mut alerter = Alerter::with(rules, self.timing.lateness, EmitAt::Threshold)
            .with_max_keys_per_rule(self.timing.max_keys_per_rule)
            .restore(self.store.watermark()?, windows, buffered);
        // Windows and matches of rules that are gone are dropped now.
        let dropped = alerter.take_changes();
        if !dropped.closed.is_empty() || !dropped.released.is_empty() {
            let offset = self.store.journal_offset()?;
            self.store.commit(
                &Pass {
                    changes: dropped,
                    watermark: alerter.watermark(),
                    offset,
                    ..Pass::default()
                },
                &self.sinks,
            )?;
        }
        Ok(Generation {
            rules,
            eval: Evaluator::new(rules, &self.opts),
            alerter,
            offset: self.store.journal_offset()?,
            evicted: 0,
        })
    }

    /// Runs until `stop` is set and the journal is caught up (or
    /// `stop_now`), switching to a new rule set between passes when one is
    /// put in force. A pass that cannot be committed is retried every
    /// second, with the detector marked down meanwhile.
    pub fn run(&mut self, stop: &AtomicBool, stop_now: &AtomicBool) {
        loop {
            let loaded = self.active.current();
            let mut gen = match self.generation(&loaded.rules) {
                Ok(g) => g,
                Err(e) => {
                    self.store_failed(&e);
                    if stop_now.load(Ordering::Acquire) {
                        return;
                    }
                    continue;
                }
            };
            match self.run_generation(&mut gen, loaded.generation, stop, stop_now) {
                Exit::Stop => return,
                Exit::Reload => {
                    tracing::info!(hash = %self.active.current().hash, "detector switched to the new rules")
                }
            }
        }
    }

    fn run_generation(
        &mut self,
        gen: &mut Generation<'_>,
        generation: u64,
        stop: &AtomicBool,
        stop_now: &AtomicBool,
    ) -> Exit {
        while !stop_now.load(Ordering::Acquire) {
            if self.active.generation() != generation {
                return Exit::Reload;
            }
            let work = if self.journal.durable() > gen.offset {
                Work::Records
            } else if gen.alerter.idle_due(self.timing.idle_release) {
                Work::Idle
            } else if stop.load(Ordering::Acquire) {
                return Exit::Stop;
            } else {
                self.journal
                    .wait_beyond(gen.offset, Duration::from_millis(200));
                continue;
            };
            match self.pass(gen, work) {
                Ok(()) => {
                    if !self.up.swap(true, Ordering::AcqRel) {
                        tracing::info!("the store commits again; detection resumed");
                    }
                    self.metrics.set_gauge(Gauge::DetectorUp, &[], 1.0);
                }
                Err(e) => {
                    self.store_failed(&e);
                    // The pass exists only in memory: start over from the store.
                    return Exit::Reload;
                }
            }
        }
        Exit::Stop
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
    }

    /// One pass: read a run of records (or, idle, release the buffer),
    /// evaluate, commit.
    fn pass(&mut self, gen: &mut Generation<'_>, work: Work) -> Result<()> {
        let (results, next, applied) = match work {
            Work::Records => self.evaluate_records(gen)?,
            Work::Idle => {
                gen.alerter.release_if_idle(self.timing.idle_release);
                (Vec::new(), gen.offset, Vec::new())
            }
        };
        for r in &results {
            gen.alerter.feed(r.matches.iter().cloned(), r.max_time);
        }
        let raised = gen.alerter.drain_raised();
        let pass = Pass {
            changes: gen.alerter.take_changes(),
            alerts: raised,
            watermark: gen.alerter.watermark(),
            offset: next,
            applied,
        };
        let new_alerts = self
            .store
            .commit(&pass, &self.sinks)
            .context("committing a detector pass")?;
        gen.offset = next;
        self.journal.set_processed(next);
        self.count(gen, &results, &pass);
        count_evictions(&self.metrics, &gen.alerter, &mut gen.evicted);
        if new_alerts > 0 {
            (self.on_alert)();
        }
        Ok(())
    }

    /// Reads and evaluates the next run of journal records; a record
    /// evaluated before (a batch resent by a client that got no answer) is
    /// passed over. The run is marked as in evaluation first and its
    /// records evaluated on `threads` threads side by side; records the
    /// last run died on are marked and evaluated one at a time, and one that
    /// killed it [`QUARANTINE_AFTER`] times is kept as a dead letter.
    /// Results come back in journal order whatever the threads.
    fn evaluate_records(
        &mut self,
        gen: &mut Generation<'_>,
    ) -> Result<(Vec<ChunkResult>, u64, Vec<[u8; 32]>)> {
        let (records, next) = self
            .journal
            .read_from(gen.offset, 8 << 20)
            .context("reading the journal")?;
        self.mark(gen.offset, next, 0, false)?;
        let ends: Vec<u64> = records
            .iter()
            .skip(1)
            .map(|(at, _)| *at)
            .chain([next])
            .collect();
        let mut todo = Vec::with_capacity(records.len());
        let mut applied: Vec<[u8; 32]> = Vec::with_capacity(records.len());
        for ((at, entry), end) in records.into_iter().zip(ends) {
            let digest = entry.digest();
            if applied.contains(&digest) || self.store.applied(&digest)? {
                self.metrics.inc(Counter::DuplicateRecords, &[]);
                continue;
            }
            applied.push(digest);
            let suspect = self.guard.suspect.crashes_of(at);
            if let Some(crashes) = suspect.filter(|c| *c >= QUARANTINE_AFTER) {
                self.quarantine_record(&entry.origin(at), crashes, &entry.doc);
                continue;
            }
            todo.push(Pending {
                at,
                end,
                entry,
                suspect,
            });
        }
        let results = if todo.iter().any(|p| p.suspect.is_some()) {
            self.evaluate_one_by_one(&gen.eval, &todo, next)?
        } else {
            evaluate_side_by_side(&gen.eval, &todo, self.opts.threads)
        };
        for (r, p) in results.iter().zip(&todo) {
            for s in r
                .skips
                .iter()
                .filter(|s| s.reason == SkipReason::InternalError)
            {
                self.dead_letter_record(&s.location.to_string(), &s.message, &p.entry.doc);
            }
        }
        Ok((results, next, applied))
    }

    /// Evaluates a run holding records the last run died on: each suspect
    /// alone under its own mark, so that a crash names it.
    fn evaluate_one_by_one(
        &self,
        eval: &Evaluator<'_>,
        todo: &[Pending],
        next: u64,
    ) -> Result<Vec<ChunkResult>> {
        let mut results = Vec::with_capacity(todo.len());
        for p in todo {
            if let Some(crashes) = p.suspect {
                self.mark(p.at, p.end, crashes, true)?;
            }
            results.push(p.evaluate(eval));
            if p.suspect.is_some() && p.end < next {
                self.mark(p.end, next, 0, false)?;
            }
        }
        Ok(results)
    }

    /// Marks journal offsets `[start, end)` as in evaluation.
    fn mark(&self, start: u64, end: u64, crashes: u32, single: bool) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        self.guard
            .marker
            .set(Mark {
                start,
                end,
                crashes,
                single,
            })
            .context("writing the crash-loop mark (state/evaluating)")
    }

    /// Keeps a record that killed the detector `crashes` times as a dead
    /// letter; it is not evaluated again.
    fn quarantine_record(&self, origin: &str, crashes: u32, doc: &[u8]) {
        self.metrics.inc(Counter::PoisonRecords, &[]);
        let reason = format!(
            "the detector died {crashes} times while evaluating this record (out of memory, or a crash kadet could not catch); it is kept here and not evaluated again"
        );
        tracing::error!(location = %origin, %reason, file = %self.dead_letters.0.display(), "record kept as a dead letter");
        self.keep(DeadLetter::new(
            Kind::Record,
            reason,
            origin,
            DeadLetter::text(doc),
        ));
    }

    fn count(&self, gen: &Generation<'_>, results: &[ChunkResult], pass: &Pass) {
        for r in results {
            count_evaluation(&self.metrics, gen.rules, r);
        }
        for (a, _) in &pass.alerts {
            self.metrics.inc(Counter::Alerts, &[("rule", &a.rule_id)]);
        }
        self.metrics.set_gauge(
            Gauge::JournalBacklogBytes,
            &[],
            self.journal.backlog() as f64,
        );
        self.metrics
            .set_gauge(Gauge::BufferedMatches, &[], gen.alerter.buffered() as f64);
    }

    fn dead_letter_record(&self, location: &str, reason: &str, doc: &[u8]) {
        self.metrics.inc(Counter::PoisonRecords, &[]);
        tracing::error!(%location, %reason, file = %self.dead_letters.0.display(), "record kept as a dead letter");
        self.keep(DeadLetter::new(
            Kind::Record,
            reason,
            location,
            DeadLetter::text(doc),
        ));
    }

    fn quarantine_state(&self, q: &Quarantined) {
        self.metrics
            .inc(Counter::QuarantinedState, &[("table", q.table)]);
        tracing::error!(table = q.table, key = %q.key, reason = %q.reason, file = %self.dead_letters.0.display(), "stored state kept as a dead letter");
        self.keep(DeadLetter::new(
            Kind::State,
            q.reason.clone(),
            format!("{} {}", q.table, q.key),
            q.state.clone().into(),
        ));
    }

    fn keep(&self, letter: DeadLetter) {
        if let Err(e) = self.dead_letters.put(&letter) {
            tracing::error!(error = %format!("{e:#}"), "cannot keep a dead letter");
        }
    }
}

/// A journal record to evaluate in this pass.
struct Pending {
    at: u64,
    end: u64,
    entry: Batch,
    /// How often the last runs died while evaluating it.
    suspect: Option<u32>,
}

impl Pending {
    fn evaluate(&self, eval: &Evaluator<'_>) -> ChunkResult {
        eval.process_document(
            Arc::from(self.entry.origin(self.at)),
            0,
            &self.entry.doc,
            self.entry.cluster.as_deref(),
        )
    }
}

/// Evaluates `todo` on up to `threads` threads, each taking the next
/// record as it finishes one; the results are in `todo`'s order. A panic
/// inside evaluation is caught per record by the evaluator, so a thread
/// only fails if kadet itself is broken; its records are then evaluated
/// again here, one by one.
fn evaluate_side_by_side(
    eval: &Evaluator<'_>,
    todo: &[Pending],
    threads: usize,
) -> Vec<ChunkResult> {
    let threads = threads.min(todo.len());
    if threads <= 1 {
        return todo.iter().map(|p| p.evaluate(eval)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<ChunkResult>> =
        std::iter::repeat_with(|| None).take(todo.len()).collect();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(p) = todo.get(i) else {
                            return done;
                        };
                        done.push((i, p.evaluate(eval)));
                    }
                })
            })
            .collect();
        for w in workers {
            for (i, r) in w.join().unwrap_or_default() {
                slots[i] = Some(r);
            }
        }
    });
    slots
        .into_iter()
        .zip(todo)
        .map(|(r, p)| r.unwrap_or_else(|| p.evaluate(eval)))
        .collect()
}

/// What a pass does.
#[derive(Clone, Copy)]
enum Work {
    /// Evaluate new journal records.
    Records,
    /// No records for a while: release the reorder buffer.
    Idle,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::active_rules::Loaded;
    use crate::core::batch::Source;
    use crate::local::journal::Journal;
    use std::time::Instant;

    /// A batch of `n` token requests by `user`, or an unreadable record.
    fn record(i: u64) -> Pending {
        let doc = if i % 7 == 3 {
            b"{not json".to_vec()
        } else {
            let items: Vec<String> = (0..=i % 5)
                .map(|k| format!(r#"{{"kind":"Event","verb":"create","objectRef":{{"resource":"serviceaccounts","subresource":"token","namespace":"n{k}","name":"s{i}"}},"user":{{"username":"u{i}"}},"requestObject":{{"spec":{{"expirationSeconds":999999999}}}},"stageTimestamp":"2026-11-02T10:00:{:02}Z"}}"#, (i * 13) % 60))
                .collect();
            format!(r#"{{"kind":"EventList","items":[{}]}}"#, items.join(",")).into_bytes()
        };
        Pending {
            at: i * 100,
            end: i * 100 + 100,
            entry: Batch::new(Source::Audit, doc),
            suspect: None,
        }
    }

    #[test]
    fn records_evaluated_side_by_side_come_back_in_journal_order() {
        let set = kadet_rules::load_builtin().unwrap();
        let eval = Evaluator::new(&set.rules, &ScanOptions::default());
        let todo: Vec<Pending> = (0..60).map(record).collect();
        let shown = |results: Vec<ChunkResult>| -> Vec<(Vec<(usize, String)>, usize)> {
            results
                .into_iter()
                .map(|r| {
                    let m = r
                        .matches
                        .iter()
                        .map(|m| (m.rule, m.outcome.dedup.clone()))
                        .collect();
                    (m, r.skips.len())
                })
                .collect()
        };
        let one = shown(evaluate_side_by_side(&eval, &todo, 1));
        assert!(
            one.iter().map(|(m, _)| m.len()).sum::<usize>() > 60,
            "the records match"
        );
        assert!(
            one.iter().any(|(_, skips)| *skips > 0),
            "and some are skipped"
        );
        for threads in [2, 3, 8, 100] {
            assert_eq!(
                shown(evaluate_side_by_side(&eval, &todo, threads)),
                one,
                "{threads} threads"
            );
        }
        assert!(evaluate_side_by_side(&eval, &[], 4).is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_store_that_cannot_be_written_marks_detection_down_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        drop(Store::open(&path, &["x".into()]).unwrap());
        let read_only = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let (journal, _writer) = Journal::open(&dir.path().join("j"), 0, 1 << 20).unwrap();
        let event = br#"{"kind":"Event","verb":"create","objectRef":{"resource":"serviceaccounts","subresource":"token","namespace":"a","name":"b"},"user":{"username":"eve"},"stageTimestamp":"2026-11-02T10:00:00Z"}"#;
        journal
            .append(vec![Batch::new(Source::Audit, event.to_vec())])
            .await
            .unwrap();
        let set = kadet_rules::load_builtin().unwrap();
        let active = Arc::new(ActiveRules::new(Loaded {
            rules: set.rules,
            hash: "h".into(),
            generation: 0,
        }));
        let metrics = Arc::new(Metrics::default());
        let up = Arc::new(AtomicBool::new(true));
        let mut det = Detector::new(
            active,
            ScanOptions::default(),
            Timing {
                lateness: Duration::ZERO,
                idle_release: None,
                max_keys_per_rule: kadet_engine::DEFAULT_MAX_KEYS_PER_RULE,
            },
            Store::from_connection(read_only),
            super::super::crash_marker::CrashGuard::open(dir.path(), 0).unwrap(),
            journal.shared.clone(),
            metrics.clone(),
            vec!["x".into()],
            DeadLetterFile(dir.path().join("q.jsonl")),
            up.clone(),
        );
        let (stop, stop_now) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (s, n) = (stop.clone(), stop_now.clone());
        let t = std::thread::spawn(move || det.run(&s, &n));
        let deadline = Instant::now() + Duration::from_secs(20);
        while metrics.get(Counter::StoreErrors, &[]) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(metrics.get(Counter::StoreErrors, &[]) > 0);
        assert!(!up.load(Ordering::Acquire), "readyz goes false");
        // Nothing was committed: the record waits in the journal.
        assert!(journal.shared.backlog() > 0);
        stop_now.store(true, Ordering::Release);
        stop.store(true, Ordering::Release);
        t.join().unwrap();
    }
}
