//! `kadet serve`: real-time detection from the kube-apiserver audit webhook,
//! EKS audit logs through Kinesis Data Firehose, and AKS diagnostic batches.
//!
//! The data path, each step durable before the next:
//!
//! 1. [`server`]: HTTPS with bearer-token and/or client-certificate auth;
//!    bodies are checked ([`ingest`]) and only what passes is journaled;
//! 2. [`journal`]: CRC-framed records in segment files, fsynced with group
//!    commit *before* the client gets its 2xx;
//! 3. [`detector`]: reads the journal in order, evaluates it with the same
//!    decoders and rules as `kadet scan`, and keeps windows, thresholds and
//!    the alert outbox in SQLite, committed together with the journal offset;
//! 4. [`sinks`]: deliver the outbox (stdout, files, webhooks) at least once,
//!    idempotent by `alert_id`.

#![warn(missing_docs)]

pub mod config;
pub mod detector;
pub mod ingest;
pub mod journal;
pub mod metrics;
pub mod server;
pub mod sinks;
pub mod state_dir;
pub mod store;

use anyhow::{Context, Result};
use config::Config;
use kadet_engine::pipeline::ScanOptions;
use kadet_event::{DecodeOptions, InputFormat, ReadOptions};
use kadet_rules::Rule;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What the command line gives.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Config file; `None`: the embedded defaults.
    pub config: Option<PathBuf>,
    /// Allow a non-loopback listener without TLS and auth.
    pub insecure_listen: bool,
}

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

fn load_rules(cfg: &Config) -> Result<&'static [Rule]> {
    let set = kadet_rules::load_rules(&cfg.rules.paths, cfg.rules.include_disabled)
        .context("not starting")?;
    Ok(Box::leak(set.rules.into_boxed_slice()))
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

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(opts: ServeOptions) -> Result<()> {
    init_logging();
    let cfg = match &opts.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let addr = cfg.address()?;
    server::check_exposure(&cfg, addr, opts.insecure_listen)?;
    let auth = server::AuthCheck::from_config(&cfg)?;
    let tls = match &cfg.tls {
        Some(t) => Some(server::tls_config(t)?),
        None => None,
    };
    let rules = load_rules(&cfg)?;
    let state_dir = cfg.state.dir.clone();
    state_dir::prepare(&state_dir)?;
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
    let metrics = Arc::new(metrics::Metrics::default());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kadet-serve")
        .build()?;
    let stop_detector = Arc::new(AtomicBool::new(false));
    let stop_now = Arc::new(AtomicBool::new(false));
    let stop_sinks = Arc::new(AtomicBool::new(false));

    // Sinks.
    let mut sink_wakers = Vec::new();
    let mut sink_threads = Vec::new();
    for s in &cfg.sinks {
        let mut w = sinks::Worker::new(
            s,
            &store_path,
            &state_dir,
            rules,
            metrics.clone(),
            rt.handle().clone(),
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

    // Detector.
    let detector_up = Arc::new(AtomicBool::new(true));
    let mut det = detector::Detector::new(
        rules,
        &scan_options(&cfg),
        detector::Timing {
            lateness_us: i64::try_from(cfg.detection.lateness_secs)
                .unwrap_or(i64::MAX / 1_000_000)
                .saturating_mul(1_000_000),
            idle_release: (cfg.detection.idle_release_secs > 0)
                .then(|| Duration::from_secs(cfg.detection.idle_release_secs)),
        },
        store,
        journal.shared.clone(),
        metrics.clone(),
        sink_names,
        state_dir.join("quarantine.jsonl"),
        detector_up.clone(),
    )?;
    let wakers = sink_wakers.clone();
    det.on_alert = Box::new(move || {
        for w in &wakers {
            let _ = w.send(());
        }
    });
    let (sd, sn) = (stop_detector.clone(), stop_now.clone());
    let detector_thread = std::thread::Builder::new()
        .name("kadet-detector".into())
        .spawn(move || det.run(&sd, &sn))?;

    let probe = std::sync::Mutex::new(store::Store::connect(&store_path)?);
    let app = Arc::new(server::App {
        journal,
        metrics: metrics.clone(),
        limits: cfg.limits.clone(),
        auth,
        ready: AtomicBool::new(false),
        detector_up,
        inflight: tokio::sync::Semaphore::new(cfg.limits.max_concurrent_requests),
        outbox_pending: Box::new(move || {
            probe
                .lock()
                .map_or(-1, |s| store::outbox::pending(s.conn()))
        }),
    });

    let result = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(rules = rules.len(), state = %state_dir.display(), "listening on {local} ({scheme})");
        app.ready.store(true, Ordering::Release);
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(Arc::new(t)));
        server::serve(listener, acceptor, app.clone(), shutdown_signal()).await
    });
    // Every acknowledged batch is already fsynced; stop the writer once the
    // last handle goes, then let the detector catch up (bounded) and the
    // sinks deliver what is due.
    drop(app);
    // A request still running past the grace period keeps a handle; it was
    // not acknowledged, so there is nothing to wait for beyond a moment.
    let writer_deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !writer.is_finished() && std::time::Instant::now() < writer_deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop_detector.store(true, Ordering::Release);
    let grace = Duration::from_secs(cfg.limits.shutdown_grace_secs);
    let deadline = std::time::Instant::now() + grace;
    while !detector_thread.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop_now.store(true, Ordering::Release);
    let _ = detector_thread.join();
    stop_sinks.store(true, Ordering::Release);
    for w in &sink_wakers {
        let _ = w.send(());
    }
    for t in sink_threads {
        let _ = t.join();
    }
    tracing::info!("stopped");
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
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
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("signal received");
}
