//! Starting and stopping one cluster instance: connect, create what is
//! missing, then the detection workers, the applier and the sink workers.

use super::applier::Applier;
use super::dead_letters::StreamDeadLetters;
use super::deliver::DeliverWorker;
use super::detect::DetectWorker;
use super::sources::{BucketCheckpoints, SourceLeases};
use super::{ClusterIntake, Nats};
use crate::active_rules::ActiveRules;
use crate::config::Config;
use crate::core::delivery::Delivery;
use crate::core::detection::Timing;
use crate::core::intake::PendingIntake;
use crate::metrics::Metrics;
use anyhow::{Context, Result};
use kadet_engine::pipeline::ScanOptions;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The threads of a cluster instance, stopped in order.
pub struct ClusterWorkers {
    stop_detect: Arc<AtomicBool>,
    stop_applier: Arc<AtomicBool>,
    stop_deliver: Arc<AtomicBool>,
    detect: Vec<JoinHandle<()>>,
    applier: JoinHandle<()>,
    deliver: Vec<JoinHandle<()>>,
}

/// A started cluster instance: its intake, its workers, and what its
/// pulled sources use.
pub struct ClusterNode {
    /// Publishes accepted batches to the audit stream.
    pub intake: ClusterIntake,
    /// The threads.
    pub workers: ClusterWorkers,
    /// Checkpoints of pulled sources, in the state bucket.
    pub checkpoints: Arc<BucketCheckpoints>,
    /// The leases on pulled sources.
    pub claims: Arc<SourceLeases>,
}

/// This instance's name in the applier lease: the host name (the pod name
/// in Kubernetes) and the process id.
fn holder() -> String {
    format!("{}-{}", crate::host_name(), std::process::id())
}

/// Connects, creates the topology (retrying while NATS is unreachable or
/// the cluster elects its leaders, and saying why in `pending` and in the
/// log), and starts the workers; `None` when `stop` turned true first.
#[allow(clippy::too_many_arguments)]
pub fn start(
    cfg: &Config,
    opts: ScanOptions,
    timing: Timing,
    active: &Arc<ActiveRules>,
    metrics: &Arc<Metrics>,
    rt: &tokio::runtime::Handle,
    pending: &PendingIntake,
    stop: &AtomicBool,
) -> Result<Option<ClusterNode>> {
    let ccfg = cfg.cluster.as_ref().context("no [cluster] section")?;
    pending.waiting_for(format!(
        "waiting for NATS JetStream at {}",
        super::nats::shown_urls(ccfg)
    ));
    let nats = rt.block_on(Nats::connect(ccfg))?;
    let sinks = cfg.sink_names();
    let mut told: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Acquire) {
            return Ok(None);
        }
        match rt.block_on(nats.ensure(&sinks)) {
            Ok(()) => break,
            Err(e) => {
                let why = rt.block_on(nats.why_waiting(&e));
                pending.waiting_for(format!("waiting for NATS JetStream: {why}"));
                if told.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!("waiting for NATS JetStream: {why}");
                    told = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    tracing::info!(urls = ?ccfg.nats_url.list(), replicas = ccfg.replicas, "joined the cluster");
    let intake = ClusterIntake::new(nats.clone(), metrics.clone(), rt);
    let dead_letters = Arc::new(StreamDeadLetters {
        nats: nats.clone(),
        rt: rt.clone(),
    });
    let stop_detect = Arc::new(AtomicBool::new(false));
    let mut detect = Vec::new();
    for i in 0..ccfg.detect_workers {
        let w = DetectWorker {
            nats: nats.clone(),
            rt: rt.clone(),
            active: active.clone(),
            opts: opts.clone(),
            metrics: metrics.clone(),
            dead_letters: dead_letters.clone(),
        };
        let stop = stop_detect.clone();
        detect.push(
            std::thread::Builder::new()
                .name(format!("kadet-detect-{i}"))
                .spawn(move || w.run(&stop))?,
        );
    }
    let stop_applier = Arc::new(AtomicBool::new(false));
    let applier = Applier {
        nats: nats.clone(),
        rt: rt.clone(),
        active: active.clone(),
        timing,
        metrics: metrics.clone(),
        holder: holder(),
    };
    let stop = stop_applier.clone();
    let applier = std::thread::Builder::new()
        .name("kadet-applier".into())
        .spawn(move || applier.run(&stop))?;
    let stop_deliver = Arc::new(AtomicBool::new(false));
    let mut deliver = Vec::new();
    for s in &cfg.sinks {
        let delivery = Delivery::new(
            s,
            dead_letters.clone(),
            active.clone(),
            metrics.clone(),
            rt.clone(),
        )?;
        let mut w = DeliverWorker {
            delivery,
            nats: nats.clone(),
            rt: rt.clone(),
            metrics: metrics.clone(),
        };
        let stop = stop_deliver.clone();
        deliver.push(
            std::thread::Builder::new()
                .name(format!("kadet-deliver-{}", s.name()))
                .spawn(move || w.run(&stop))?,
        );
    }
    Ok(Some(ClusterNode {
        intake,
        workers: ClusterWorkers {
            stop_detect,
            stop_applier,
            stop_deliver,
            detect,
            applier,
            deliver,
        },
        checkpoints: Arc::new(BucketCheckpoints::new(nats.clone())),
        claims: Arc::new(SourceLeases::new(nats, holder())),
    }))
}

impl ClusterWorkers {
    /// Stops detection (batches in progress finish and are acked, the rest
    /// wait in the stream for the other instances), then the applier (it
    /// saves the state and hands the lease over), then delivery.
    pub fn stop(self) {
        self.stop_detect.store(true, Ordering::Release);
        for t in self.detect {
            let _ = t.join();
        }
        self.stop_applier.store(true, Ordering::Release);
        let _ = self.applier.join();
        self.stop_deliver.store(true, Ordering::Release);
        for t in self.deliver {
            let _ = t.join();
        }
    }
}
