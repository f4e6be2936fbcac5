//! The rules `serve` runs, replaceable while it runs (hot reload): on SIGHUP,
//! and when a rule file changes on disk, the new set is compiled and
//! validated first; a broken file keeps the old set running, with the file,
//! line and error in the log and a metric set. The detector switches sets
//! between two passes, so no record is evaluated half by the old set and
//! half by the new one.

use crate::config::Rules as RulesConfig;
use crate::metrics::{Counter, Gauge, Metrics};
use kadet_rules::{LoadErrors, Rule};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// A loaded rule set.
#[derive(Debug)]
pub struct Loaded {
    /// The rules, enabled ones only unless the config includes disabled ones.
    pub rules: Vec<Rule>,
    /// A hash of the rule files' contents (the built-in pack: its version).
    pub hash: String,
    /// 1 for the set loaded at start, then one more per reload.
    pub generation: u64,
}

/// The current rule set, shared by the detector, the sinks and the reloader.
pub struct ActiveRules {
    current: RwLock<Arc<Loaded>>,
    generation: AtomicU64,
}

impl ActiveRules {
    /// Starts with `first`.
    pub fn new(mut first: Loaded) -> ActiveRules {
        first.generation = 1;
        ActiveRules {
            current: RwLock::new(Arc::new(first)),
            generation: AtomicU64::new(1),
        }
    }

    /// The set in force.
    pub fn current(&self) -> Arc<Loaded> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The generation in force (cheap: the detector checks it every pass).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Puts `next` in force.
    pub fn replace(&self, mut next: Loaded) {
        let mut slot = match self.current.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        next.generation = slot.generation + 1;
        let generation = next.generation;
        *slot = Arc::new(next);
        self.generation.store(generation, Ordering::Release);
    }
}

/// Loads and compiles the configured rules, with the tuning applied (its
/// warnings, such as expired entries, are logged).
pub fn load(cfg: &RulesConfig) -> Result<Loaded, LoadErrors> {
    let (set, warnings) = kadet_rules::load_tuned(
        &cfg.paths,
        &cfg.tuning,
        &kadet_rules::LoadOptions {
            include_disabled: cfg.include_disabled,
            format: cfg.format.source_format(),
            keep_unlinked: false,
        },
        kadet_rules::loader::today(),
    )?;
    for w in warnings {
        tracing::warn!("rules: {w}");
    }
    Ok(Loaded {
        rules: set.rules,
        hash: content_hash(&watched(cfg)),
        generation: 0,
    })
}

/// The rule and tuning paths, which a change to reloads.
fn watched(cfg: &RulesConfig) -> Vec<PathBuf> {
    cfg.paths.iter().chain(&cfg.tuning).cloned().collect()
}

/// A short hash of kadet's version (the built-in pack) and every rule and
/// tuning file's path and contents, in path order.
pub fn content_hash(paths: &[PathBuf]) -> String {
    let mut h = Sha256::new();
    h.update(concat!("kadet ", env!("CARGO_PKG_VERSION")).as_bytes());
    for f in rule_files(paths) {
        h.update(f.display().to_string().as_bytes());
        h.update([0]);
        if let Ok(bytes) = std::fs::read(&f) {
            h.update(&bytes);
        }
        h.update([0]);
    }
    hex::encode(&h.finalize()[..6])
}

/// Every file under `paths`, sorted.
fn rule_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        if p.is_dir() {
            if let Ok(entries) = std::fs::read_dir(p) {
                for e in entries.flatten() {
                    walk(&e.path(), out);
                }
            }
        } else {
            out.push(p.to_path_buf());
        }
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out);
    }
    out.sort();
    out
}

/// What the files under `paths` look like now: each path with its size and
/// modification time. A change means "reload".
fn snapshot(paths: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    rule_files(paths)
        .into_iter()
        .map(|f| {
            let meta = std::fs::metadata(&f).ok();
            let size = meta.as_ref().map_or(0, |m| m.len());
            let mtime = meta.and_then(|m| m.modified().ok());
            (f, size, mtime)
        })
        .collect()
}

/// Watches the rule files and reloads on a change or when `hup` fires,
/// until `stop`; polls every `interval`.
pub fn watch(
    cfg: RulesConfig,
    active: Arc<ActiveRules>,
    metrics: Arc<Metrics>,
    hup: std::sync::mpsc::Receiver<()>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    interval: Duration,
) {
    let mut seen = snapshot(&watched(&cfg));
    publish_info(&metrics, &active.current());
    while !stop.load(Ordering::Acquire) {
        let signalled = match hup.recv_timeout(interval) {
            Ok(()) => true,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => false,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let now = snapshot(&watched(&cfg));
        if !signalled && now == seen {
            continue;
        }
        seen = now;
        reload(
            &cfg,
            &active,
            &metrics,
            if signalled { "SIGHUP" } else { "file change" },
        );
    }
}

/// One reload attempt.
pub fn reload(cfg: &RulesConfig, active: &ActiveRules, metrics: &Metrics, why: &str) {
    match load(cfg) {
        Ok(next) => {
            let old = active.current();
            tracing::info!(
                trigger = why,
                rules = next.rules.len(),
                hash = %next.hash,
                previous = %old.hash,
                "rules reloaded"
            );
            active.replace(next);
            metrics.inc(Counter::RuleReloads, &[("result", "ok")]);
            metrics.set_gauge(Gauge::RulesReloadFailed, &[], 0.0);
            publish_info(metrics, &active.current());
        }
        Err(errors) => {
            for e in &errors.0 {
                tracing::error!(trigger = why, "rule error: {e}");
            }
            tracing::error!(
                trigger = why,
                problems = errors.0.len(),
                "rules not reloaded; the previous rules keep running"
            );
            metrics.inc(Counter::RuleReloads, &[("result", "failed")]);
            metrics.set_gauge(Gauge::RulesReloadFailed, &[], 1.0);
        }
    }
}

fn publish_info(metrics: &Metrics, loaded: &Loaded) {
    metrics.clear_gauge(Gauge::RulesInfo);
    metrics.set_gauge(
        Gauge::RulesInfo,
        &[
            ("hash", &loaded.hash),
            ("rules", &loaded.rules.len().to_string()),
        ],
        1.0,
    );
    metrics.set_gauge(Gauge::RulesGeneration, &[], loaded.generation as f64);
}
