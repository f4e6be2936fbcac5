//! The one start path of `kadet serve`.
//!
//! [`prepare`] checks everything that can be checked before anything
//! starts (the config, TLS material, token and key files, the rules, the
//! sinks' files, the cluster's files, the state directory) and collects
//! every problem at its file and line; `--check-config` runs it and stops
//! ([`crate::check`]). [`run`] runs it too, then starts the mode
//! (single-process, [`crate::local`], or cluster, [`crate::cluster`]), the
//! rule reloader and the listener, and stops them in order.

use crate::active_rules::{self, ActiveRules, Loaded};
use crate::config::Config;
use crate::core::detection::Timing;
use crate::core::intake::{Intake, PendingIntake};
use crate::http::{self, AuthCheck};
use crate::metrics::Metrics;
use crate::problem::{ConfigText, Problem, Problems};
use crate::sources::checkpoint::CheckpointFiles;
use crate::sources::claim::Alone;
use crate::sources::kafka::members::Members;
use crate::sources::{Places, Pullers, Sources};
use crate::{cluster, local, sinks, sources, state_dir, ServeOptions};
use anyhow::{Context, Result};
use kadet_engine::pipeline::ScanOptions;
use kadet_event::{DecodeOptions, InputFormat, ReadOptions};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use tokio_rustls::rustls;

/// Everything `serve` needs, checked, before anything starts.
pub struct Prepared {
    /// The configuration.
    pub cfg: Config,
    /// The listen address.
    pub addr: SocketAddr,
    /// Who may send.
    pub auth: AuthCheck,
    /// The TLS server config, when `[tls]` is set.
    pub tls: Option<rustls::ServerConfig>,
    /// The rules, compiled.
    pub rules: Loaded,
    /// What is allowed but unwise (weak or open secret files), at its
    /// file and line.
    pub warnings: Vec<Problem>,
}

/// Reads the config (or the embedded defaults) and checks everything that
/// can be checked without starting; every problem is returned, each at its
/// file and line.
pub fn prepare(opts: &ServeOptions) -> Result<Prepared, Problems> {
    let (origin, text) = match &opts.config {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => (p.display().to_string(), t),
            Err(e) => {
                return Err(Problems(vec![Problem::new(
                    p.display().to_string(),
                    format!("cannot read: {e}"),
                )]))
            }
        },
        None => ("(built-in defaults)".to_string(), String::new()),
    };
    let cfg = Config::parse(&text, &origin)?;
    let at = ConfigText {
        origin: &origin,
        text: &text,
    };
    let mut problems = Vec::new();
    let addr = cfg.address().map_err(|e| {
        Problems(vec![Problem::new(
            at.key("[listen]", "address"),
            format!("{e:#}"),
        )])
    })?;
    if let Err(e) = http::check_exposure(&cfg, addr, opts.insecure_listen) {
        problems.push(Problem::new(at.section("[listen]", 0), e.to_string()));
    }
    let tls = match cfg.tls.as_ref().map(http::tls_config).transpose() {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem::new(at.section("[tls]", 0), format!("{e:#}")));
            None
        }
    };
    let auth = match AuthCheck::from_config(&cfg) {
        Ok(a) => Some(a),
        Err(e) => {
            problems.push(Problem::new(at.section("[auth]", 0), format!("{e:#}")));
            None
        }
    };
    for (i, s) in cfg.sinks.iter().enumerate() {
        for message in sinks::problems(s) {
            problems.push(Problem::new(
                at.section("[[sinks]]", i),
                format!("sink {:?}: {message}", s.name()),
            ));
        }
    }
    if let Some(c) = &cfg.cluster {
        for (key, message) in c.file_problems() {
            problems.push(Problem::new(at.key("[cluster]", key), message));
        }
    }
    for (i, s) in cfg.sources.iter().enumerate() {
        if let crate::config::sources::SourceConfig::Kafka(k) = s {
            if let Err(e) = sources::kafka::settings(k) {
                problems.push(Problem::new(
                    at.section("[[sources]]", i),
                    format!("sources {:?}: {e:#}", s.name()),
                ));
            }
        }
    }
    let (weak, unwise) = crate::secret_files::weaknesses(&cfg);
    let at_finding = |f: &crate::secret_files::Finding| {
        Problem::new(
            at.section(f.section, f.index),
            format!("{}: {}", f.key, f.message),
        )
    };
    problems.extend(weak.iter().map(at_finding));
    let warnings: Vec<Problem> = unwise.iter().map(at_finding).collect();
    if let Err(m) = state_dir::check(&cfg.state.dir) {
        problems.push(Problem::new(at.section("[state]", 0), m));
    }
    let rules = match active_rules::load(&cfg.rules) {
        Ok(r) => Some(r),
        Err(errors) => {
            problems.extend(errors.0.into_iter().map(|e| {
                let mut at = e.file.clone();
                if let Some(l) = e.line {
                    at.push_str(&format!(":{l}"));
                    if let Some(c) = e.column {
                        at.push_str(&format!(":{c}"));
                    }
                }
                Problem::new(at, e.message)
            }));
            None
        }
    };
    match (auth, rules) {
        (Some(auth), Some(rules)) if problems.is_empty() => Ok(Prepared {
            cfg,
            addr,
            auth,
            tls,
            rules,
            warnings,
        }),
        _ => Err(Problems(problems)),
    }
}

fn init_logging() {
    use std::io::IsTerminal;
    // async-nats logs every failed connection attempt at info as "IO
    // error"; kadet says which server and why instead, so the client's own
    // lines show from warn up unless KADET_LOG names it.
    let mut directives = std::env::var("KADET_LOG").unwrap_or_else(|_| "info".into());
    if !directives.contains("async_nats") {
        directives.push_str(",async_nats=warn");
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,async_nats=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// How both modes evaluate: as `scan` does, secrets redacted; `threads`
/// is what single-process mode's detector spreads a pass over (cluster
/// mode runs `detect_workers` single-threaded workers instead).
fn scan_options(cfg: &Config) -> ScanOptions {
    ScanOptions {
        threads: match cfg.detection.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        },
        decode: DecodeOptions {
            format: InputFormat::Auto,
            max_event_bytes: cfg.limits.max_event_bytes,
            cluster: None,
        },
        read: ReadOptions::default(),
        redact: true,
        prefilter: true,
        window: Default::default(),
    }
}

/// What runs besides the listener, by mode.
enum Workers {
    /// Single-process mode.
    Local(local::node::LocalWorkers),
    /// Cluster mode on NATS JetStream.
    Cluster(cluster::node::ClusterWorkers),
}

/// A started mode: its workers and its pulled sources.
struct Started {
    workers: Workers,
    pullers: Pullers,
}

impl Started {
    /// Stops reading the sources, then the workers, in order.
    fn stop(self, rt: &tokio::runtime::Handle) {
        self.pullers.stop(rt);
        match self.workers {
            Workers::Local(w) => w.stop(),
            Workers::Cluster(w) => w.stop(),
        }
    }
}

/// What the HTTP front takes from the mode.
struct Front {
    intake: Arc<dyn Intake>,
    detector_up: Arc<AtomicBool>,
    outbox_pending: Box<dyn Fn() -> i64 + Send + Sync>,
}

/// The mode, running or still starting behind the listener.
enum Mode {
    /// Started before the listener opened (single-process mode).
    Running(Started),
    /// Starting while the listener answers (cluster mode waits for NATS):
    /// the thread gives the started mode, or nothing when stopped first or
    /// when the start failed (which `failed` then says).
    Joining {
        stop: Arc<AtomicBool>,
        thread: std::thread::JoinHandle<Option<Started>>,
    },
}

impl Mode {
    fn stop(self, rt: &tokio::runtime::Handle) {
        match self {
            Mode::Running(s) => s.stop(rt),
            Mode::Joining { stop, thread } => {
                stop.store(true, Ordering::Release);
                if let Ok(Some(s)) = thread.join() {
                    s.stop(rt);
                }
            }
        }
    }
}

/// What starting a mode needs.
struct ModeContext {
    cfg: Config,
    active: Arc<ActiveRules>,
    metrics: Arc<Metrics>,
    sources: Arc<Sources>,
    rt: tokio::runtime::Handle,
}

impl ModeContext {
    /// Starts the pulled sources into the mode's intake.
    fn start_pullers(&self, intake: &Arc<dyn Intake>, places: &Places) -> Result<Pullers> {
        sources::start_pullers(
            &self.sources,
            &self.cfg.sources,
            intake,
            places,
            &self.metrics,
            self.cfg.limits.max_event_bytes,
            &self.rt,
        )
    }
}

/// Starts the mode the config asks for: single-process mode at once,
/// cluster mode behind the listener (`fatal` gets why it could not start).
fn start_mode(ctx: ModeContext, fatal: tokio::sync::mpsc::Sender<String>) -> Result<(Front, Mode)> {
    let timing = Timing::from_config(&ctx.cfg.detection);
    if ctx.cfg.cluster.is_some() {
        return join_cluster(ctx, timing, fatal);
    }
    let cfg = &ctx.cfg;
    let node = local::node::start(
        cfg,
        scan_options(cfg),
        timing,
        &ctx.active,
        &ctx.metrics,
        &ctx.rt,
    )?;
    let intake: Arc<dyn Intake> = Arc::new(node.intake);
    let places = Places {
        checkpoints: Arc::new(CheckpointFiles::in_state_dir(&cfg.state.dir)),
        claims: Arc::new(Alone),
        instance: sources::instance_name(&cfg.state.dir),
        kafka_members: Members::OwnName,
    };
    let pullers = ctx.start_pullers(&intake, &places)?;
    let front = Front {
        intake,
        detector_up: node.detector_up,
        outbox_pending: node.outbox_pending,
    };
    let started = Started {
        workers: Workers::Local(node.workers),
        pullers,
    };
    Ok((front, Mode::Running(started)))
}

/// Cluster mode: the listener opens at once (`/healthz` alive, `/readyz`
/// and ingest `503` with the reason) while a thread joins the cluster and
/// starts the workers and the pulled sources.
fn join_cluster(
    ctx: ModeContext,
    timing: Timing,
    fatal: tokio::sync::mpsc::Sender<String>,
) -> Result<(Front, Mode)> {
    let pending = Arc::new(PendingIntake::new("joining the cluster"));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (pending, stop) = (pending.clone(), stop.clone());
        std::thread::Builder::new()
            .name("kadet-join".into())
            .spawn(move || {
                let joined = join(&ctx, timing, &pending, &stop);
                joined.unwrap_or_else(|e| {
                    let why = format!("cannot start cluster mode: {e:#}");
                    pending.waiting_for(why.clone());
                    let _ = fatal.try_send(why);
                    None
                })
            })?
    };
    let front = Front {
        intake: pending,
        detector_up: Arc::new(AtomicBool::new(true)),
        outbox_pending: Box::new(|| 0),
    };
    Ok((front, Mode::Joining { stop, thread }))
}

/// Joins the cluster, starts the workers and the pulled sources, and opens
/// the intake; `None` when stopped before NATS answered.
fn join(
    ctx: &ModeContext,
    timing: Timing,
    pending: &PendingIntake,
    stop: &AtomicBool,
) -> Result<Option<Started>> {
    let cfg = &ctx.cfg;
    let Some(node) = cluster::node::start(
        cfg,
        scan_options(cfg),
        timing,
        &ctx.active,
        &ctx.metrics,
        &ctx.rt,
        pending,
        stop,
    )?
    else {
        return Ok(None);
    };
    let intake: Arc<dyn Intake> = Arc::new(node.intake);
    let places = Places {
        checkpoints: node.checkpoints,
        claims: node.claims,
        instance: sources::instance_name(&cfg.state.dir),
        kafka_members: Members::Claimed,
    };
    let pullers = match ctx.start_pullers(&intake, &places) {
        Ok(p) => p,
        Err(e) => {
            node.workers.stop();
            return Err(e);
        }
    };
    pending.open(intake);
    tracing::info!("cluster mode ready: accepting batches");
    Ok(Some(Started {
        workers: Workers::Cluster(node.workers),
        pullers,
    }))
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(opts: ServeOptions) -> Result<()> {
    init_logging();
    let Prepared {
        cfg,
        addr,
        auth,
        tls,
        rules,
        warnings,
    } = prepare(&opts).context("not starting")?;
    for w in &warnings {
        tracing::warn!("config: {w}");
    }
    let rule_count = rules.rules.len();
    let active = Arc::new(ActiveRules::new(rules));
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
    let sources = sources::prepare(&cfg.sources, rt.handle())?;
    let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::channel(1);
    let ctx = ModeContext {
        cfg: cfg.clone(),
        active: active.clone(),
        metrics: metrics.clone(),
        sources: sources.clone(),
        rt: rt.handle().clone(),
    };
    let (front, mode) = start_mode(ctx, fatal_tx)?;
    let app = Arc::new(http::App {
        intake: front.intake,
        metrics: metrics.clone(),
        limits: cfg.limits.clone(),
        auth,
        ready: AtomicBool::new(false),
        detector_up: front.detector_up,
        inflight: tokio::sync::Semaphore::new(cfg.limits.max_concurrent_requests),
        intake_memory: tokio::sync::Semaphore::new(http::intake_memory_kib(&cfg.limits) as usize),
        cluster: cfg.listen.cluster.clone(),
        outbox_pending: front.outbox_pending,
        sources,
    });
    let state_dir = cfg.state.dir.clone();
    let failed = Arc::new(std::sync::Mutex::new(None::<String>));
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
        let failed = failed.clone();
        let until = async move {
            tokio::select! {
                _ = shutdown_signal() => {}
                Some(why) = fatal_rx.recv() => {
                    if let Ok(mut f) = failed.lock() {
                        *f = Some(why);
                    }
                }
            }
        };
        http::serve(listener, acceptor, app.clone(), until).await
    });
    // Every acknowledged batch is already durable; stop the intake once the
    // last handle goes, then let detection catch up (bounded) and the sinks
    // deliver what is due.
    drop(app);
    mode.stop(rt.handle());
    stop_reloader.store(true, Ordering::Release);
    let _ = reloader.join();
    tracing::info!("stopped");
    rt.shutdown_timeout(Duration::from_secs(1));
    if let Some(why) = failed.lock().ok().and_then(|mut f| f.take()) {
        anyhow::bail!(why);
    }
    result
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
