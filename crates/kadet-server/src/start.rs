//! Starting and stopping `kadet serve`: the config, the private state
//! directory, the store and journal, the sink workers, the detector, the
//! rule reloader, the listener, and an orderly shutdown.

use crate::active_rules::{self, ActiveRules};
use crate::config::Config;
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::{detector, journal, server, sinks, state_dir, store, ServeOptions};
use anyhow::{Context, Result};
use kadet_engine::pipeline::ScanOptions;
use kadet_event::{DecodeOptions, InputFormat, ReadOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KADET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// The config file, or the embedded defaults.
pub fn load_config(opts: &ServeOptions) -> Result<Config> {
    match &opts.config {
        Some(p) => Config::load(p),
        None => Ok(Config::default()),
    }
}

/// How the detector evaluates: as `scan` does, one thread, secrets redacted.
fn scan_options(cfg: &Config) -> ScanOptions {
    ScanOptions {
        threads: 1,
        decode: DecodeOptions {
            format: InputFormat::Auto,
            max_event_bytes: cfg.limits.max_event_bytes,
            cluster: None,
        },
        read: ReadOptions::default(),
        redact: true,
        prefilter: true,
    }
}

fn timing(cfg: &Config) -> detector::Timing {
    let d = &cfg.detection;
    detector::Timing {
        lateness_us: i64::try_from(d.lateness_secs)
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000),
        idle_release: (d.idle_release_secs > 0).then(|| Duration::from_secs(d.idle_release_secs)),
    }
}

/// Drops what the outbox owes to sinks no longer configured, and entries
/// no sink waits for.
fn repair_outbox(store: &mut store::Store, sinks: &[String]) -> Result<()> {
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

/// The background threads of one-process mode and how to stop them.
struct LocalWorkers {
    stop_detector: Arc<AtomicBool>,
    stop_now: Arc<AtomicBool>,
    stop_sinks: Arc<AtomicBool>,
    sink_wakers: Vec<mpsc::Sender<()>>,
    sink_threads: Vec<JoinHandle<()>>,
    detector: JoinHandle<()>,
    writer: JoinHandle<()>,
}

/// What runs besides the listener, by mode.
enum Mode {
    /// One process: journal, SQLite, detector, sink workers.
    Local(LocalWorkers),
    /// Cluster mode on NATS JetStream.
    Cluster(crate::cluster::node::ClusterWorkers),
}

/// The parts the listener needs from the mode.
struct Started {
    mode: Mode,
    intake: Intake,
    detector_up: Arc<AtomicBool>,
    outbox_pending: Box<dyn Fn() -> i64 + Send + Sync>,
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(opts: ServeOptions) -> Result<()> {
    init_logging();
    let cfg = load_config(&opts)?;
    let addr = cfg.address()?;
    server::check_exposure(&cfg, addr, opts.insecure_listen)?;
    let auth = server::AuthCheck::from_config(&cfg)?;
    let tls = cfg.tls.as_ref().map(server::tls_config).transpose()?;
    let loaded = active_rules::load(&cfg.rules).context("not starting")?;
    let rule_count = loaded.rules.len();
    let active = Arc::new(ActiveRules::new(loaded));
    state_dir::prepare(&cfg.state.dir)?;
    let metrics = Arc::new(Metrics::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kadet-serve")
        .build()?;
    let (hup_tx, hup_rx) = mpsc::channel();
    let stop_reloader = Arc::new(AtomicBool::new(false));
    let reloader = {
        let (rules_cfg, act, met, sr) = (
            cfg.rules.clone(),
            active.clone(),
            metrics.clone(),
            stop_reloader.clone(),
        );
        let interval = Duration::from_millis(cfg.rules.watch_interval_ms.max(100));
        std::thread::Builder::new()
            .name("kadet-reloader".into())
            .spawn(move || active_rules::watch(rules_cfg, act, met, hup_rx, sr, interval))?
    };
    let started = if cfg.cluster.is_some() {
        start_cluster(&cfg, &active, &metrics, rt.handle())?
    } else {
        start_local(&cfg, &active, &metrics, rt.handle())?
    };
    let app = Arc::new(server::App {
        intake: started.intake,
        metrics: metrics.clone(),
        limits: cfg.limits.clone(),
        auth,
        ready: AtomicBool::new(false),
        detector_up: started.detector_up,
        inflight: tokio::sync::Semaphore::new(cfg.limits.max_concurrent_requests),
        cluster: cfg.listen.cluster.clone(),
        outbox_pending: started.outbox_pending,
    });
    let state_dir = cfg.state.dir.clone();
    let result = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(rules = rule_count, state = %state_dir.display(), "listening on {local} ({scheme})");
        app.ready.store(true, Ordering::Release);
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(Arc::new(t)));
        tokio::spawn(forward_hangups(hup_tx));
        server::serve(listener, acceptor, app.clone(), shutdown_signal()).await
    });
    // Every acknowledged batch is already durable; stop the intake once the
    // last handle goes, then let detection catch up (bounded) and the sinks
    // deliver what is due.
    drop(app);
    match started.mode {
        Mode::Local(w) => stop_local(w, Duration::from_secs(cfg.limits.shutdown_grace_secs)),
        Mode::Cluster(w) => w.stop(),
    }
    stop_reloader.store(true, Ordering::Release);
    let _ = reloader.join();
    tracing::info!("stopped");
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// Cluster mode: intake publishes to JetStream; detection, the applier and
/// delivery run on every instance.
fn start_cluster(
    cfg: &Config,
    active: &Arc<ActiveRules>,
    metrics: &Arc<Metrics>,
    rt: &tokio::runtime::Handle,
) -> Result<Started> {
    let (intake, workers) =
        crate::cluster::node::start(cfg, scan_options(cfg), timing(cfg), active, metrics, rt)?;
    Ok(Started {
        mode: Mode::Cluster(workers),
        intake: Intake::Cluster(Box::new(intake)),
        detector_up: Arc::new(AtomicBool::new(true)),
        outbox_pending: Box::new(|| 0),
    })
}

/// One-process mode: the journal, the SQLite store, the detector and one
/// worker per sink.
fn start_local(
    cfg: &Config,
    active: &Arc<ActiveRules>,
    metrics: &Arc<Metrics>,
    rt: &tokio::runtime::Handle,
) -> Result<Started> {
    let state_dir = &cfg.state.dir;
    let store_path = state_dir.join("kadet.sqlite");
    let sink_names = cfg.sink_names();
    let mut store = store::Store::open(&store_path, &sink_names)?;
    repair_outbox(&mut store, &sink_names)?;
    let (journal, writer) = journal::Journal::open(
        &state_dir.join("journal"),
        store.journal_offset()?,
        cfg.limits.segment_bytes,
    )
    .with_context(|| format!("cannot open the journal in {}", state_dir.display()))?;
    let stop_sinks = Arc::new(AtomicBool::new(false));
    let mut sink_wakers = Vec::new();
    let mut sink_threads = Vec::new();
    for s in &cfg.sinks {
        let mut w = sinks::Worker::new(
            s,
            &store_path,
            state_dir,
            active.clone(),
            metrics.clone(),
            rt.clone(),
        )?;
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
    let mut det = detector::Detector::new(
        active.clone(),
        scan_options(cfg),
        timing(cfg),
        store,
        journal.shared.clone(),
        metrics.clone(),
        sink_names,
        state_dir.join("quarantine.jsonl"),
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
    let probe = std::sync::Mutex::new(store::Store::connect(&store_path)?);
    Ok(Started {
        mode: Mode::Local(LocalWorkers {
            stop_detector,
            stop_now,
            stop_sinks,
            sink_wakers,
            sink_threads,
            detector,
            writer,
        }),
        intake: Intake::Journal {
            journal,
            max_backlog: cfg.limits.max_backlog_bytes,
        },
        detector_up,
        outbox_pending: Box::new(move || {
            probe
                .lock()
                .map_or(-1, |s| store::outbox::pending(s.conn()))
        }),
    })
}

/// Stops the one-process workers in order: the journal writer (bounded),
/// the detector (given `grace` to catch up), then the sinks (one last
/// round each).
fn stop_local(w: LocalWorkers, grace: Duration) {
    // A request still running past the grace period keeps a handle; it was
    // not acknowledged, so there is nothing to wait for beyond a moment.
    let writer_deadline = Instant::now() + Duration::from_secs(2);
    while !w.writer.is_finished() && Instant::now() < writer_deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    w.stop_detector.store(true, Ordering::Release);
    let deadline = Instant::now() + grace;
    while !w.detector.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    w.stop_now.store(true, Ordering::Release);
    let _ = w.detector.join();
    w.stop_sinks.store(true, Ordering::Release);
    for wk in &w.sink_wakers {
        let _ = wk.send(());
    }
    for t in w.sink_threads {
        let _ = t.join();
    }
}

/// Forwards each SIGHUP to the rule reloader.
async fn forward_hangups(tx: mpsc::Sender<()>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; rules reload on file changes only");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the rules");
        if tx.send(()).is_err() {
            return;
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("signal received");
}
