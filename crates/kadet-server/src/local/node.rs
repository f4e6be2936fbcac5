//! Starting and stopping single-process mode: the SQLite store, the
//! journal and its writer, one outbox worker per sink, and the detector.

use super::crash_marker::CrashGuard;
use super::deliver::OutboxWorker;
use super::detector::Detector;
use super::intake::JournalIntake;
use super::journal::Journal;
use super::store::{self, Store};
use crate::active_rules::ActiveRules;
use crate::config::Config;
use crate::core::dead_letter::DeadLetterFile;
use crate::core::delivery::Delivery;
use crate::core::detection::Timing;
use crate::metrics::Metrics;
use anyhow::{Context, Result};
use kadet_engine::pipeline::ScanOptions;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The background threads of single-process mode and how to stop them.
pub struct LocalWorkers {
    stop_detector: Arc<AtomicBool>,
    stop_now: Arc<AtomicBool>,
    stop_sinks: Arc<AtomicBool>,
    sink_wakers: Vec<mpsc::Sender<()>>,
    sink_threads: Vec<JoinHandle<()>>,
    detector: JoinHandle<()>,
    writer: JoinHandle<()>,
    grace: Duration,
    /// This process's hold on the state directory, until it stops.
    _lock: crate::state_dir::DirLock,
}

/// What single-process mode gives the HTTP front.
pub struct LocalNode {
    /// The journal intake.
    pub intake: JournalIntake,
    /// The threads.
    pub workers: LocalWorkers,
    /// False while the detector cannot commit to its store.
    pub detector_up: Arc<AtomicBool>,
    /// Alerts not yet delivered to every sink.
    pub outbox_pending: Box<dyn Fn() -> i64 + Send + Sync>,
}

/// Drops what the outbox owes to sinks no longer configured, and entries
/// no sink waits for.
fn repair_outbox(store: &mut Store, sinks: &[String]) -> Result<()> {
    let (gone, orphans) = store.repair_outbox(sinks)?;
    if gone > 0 {
        tracing::warn!(
            deliveries = gone,
            "dropped deliveries owed to sinks that are no longer configured"
        );
    }
    if orphans > 0 {
        tracing::warn!(
            alerts = orphans,
            "dropped outbox entries that no sink was waiting for"
        );
    }
    Ok(())
}

/// Starts single-process mode: the store, the journal, one outbox worker
/// per sink and the detector.
pub fn start(
    cfg: &Config,
    opts: ScanOptions,
    timing: Timing,
    active: &Arc<ActiveRules>,
    metrics: &Arc<Metrics>,
    rt: &tokio::runtime::Handle,
) -> Result<LocalNode> {
    let state_dir = &cfg.state.dir;
    // One process per state directory: two journals must never interleave.
    let lock = crate::state_dir::lock(state_dir)?;
    let store_path = state_dir.join("kadet.sqlite");
    let sink_names = cfg.sink_names();
    let mut store = Store::open(&store_path, &sink_names)?;
    repair_outbox(&mut store, &sink_names)?;
    let (journal, writer) = Journal::open(
        &state_dir.join("journal"),
        store.journal_offset()?,
        cfg.limits.segment_bytes,
    )
    .with_context(|| format!("cannot open the journal in {}", state_dir.display()))?;
    let stop_sinks = Arc::new(AtomicBool::new(false));
    let mut sink_wakers = Vec::new();
    let mut sink_threads = Vec::new();
    let dead_letters = Arc::new(DeadLetterFile::in_state_dir(state_dir));
    for s in &cfg.sinks {
        let delivery = Delivery::new(
            s,
            dead_letters.clone(),
            active.clone(),
            metrics.clone(),
            rt.clone(),
        )?;
        let mut w = OutboxWorker::new(s, delivery, &store_path)?;
        let (tx, rx) = mpsc::channel::<()>();
        sink_wakers.push(tx);
        let stop = stop_sinks.clone();
        sink_threads.push(
            std::thread::Builder::new()
                .name(format!("kadet-sink-{}", s.name()))
                .spawn(move || w.run(rx, &stop))?,
        );
    }
    let detector_up = Arc::new(AtomicBool::new(true));
    let guard = CrashGuard::open(state_dir, store.journal_offset()?)
        .with_context(|| format!("cannot open {}", state_dir.join("evaluating").display()))?;
    let mut det = Detector::new(
        active.clone(),
        opts,
        timing,
        store,
        guard,
        journal.shared.clone(),
        metrics.clone(),
        sink_names,
        DeadLetterFile::in_state_dir(state_dir),
        detector_up.clone(),
    );
    let wakers = sink_wakers.clone();
    det.on_alert = Box::new(move || {
        for w in &wakers {
            let _ = w.send(());
        }
    });
    let stop_detector = Arc::new(AtomicBool::new(false));
    let stop_now = Arc::new(AtomicBool::new(false));
    let (sd, sn) = (stop_detector.clone(), stop_now.clone());
    let detector = std::thread::Builder::new()
        .name("kadet-detector".into())
        .spawn(move || det.run(&sd, &sn))?;
    let probe = std::sync::Mutex::new(Store::connect(&store_path)?);
    Ok(LocalNode {
        intake: JournalIntake {
            journal,
            max_backlog: cfg.limits.max_backlog_bytes,
        },
        workers: LocalWorkers {
            stop_detector,
            stop_now,
            stop_sinks,
            sink_wakers,
            sink_threads,
            detector,
            writer,
            grace: Duration::from_secs(cfg.limits.shutdown_grace_secs),
            _lock: lock,
        },
        detector_up,
        outbox_pending: Box::new(move || {
            probe
                .lock()
                .map_or(-1, |s| store::outbox::pending(s.conn()))
        }),
    })
}

impl LocalWorkers {
    /// Stops the workers in order: the journal writer (bounded), the
    /// detector (given the grace period to catch up), then the sinks (one
    /// last round each).
    pub fn stop(self) {
        // A request still running past the grace period keeps a handle; it
        // was not acknowledged, so there is nothing to wait for beyond a
        // moment.
        let writer_deadline = Instant::now() + Duration::from_secs(2);
        while !self.writer.is_finished() && Instant::now() < writer_deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop_detector.store(true, Ordering::Release);
        let deadline = Instant::now() + self.grace;
        while !self.detector.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop_now.store(true, Ordering::Release);
        let _ = self.detector.join();
        self.stop_sinks.store(true, Ordering::Release);
        for wk in &self.sink_wakers {
            let _ = wk.send(());
        }
        for t in self.sink_threads {
            let _ = t.join();
        }
    }
}
