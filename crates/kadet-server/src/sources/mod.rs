//! Sources configured as `[[sources]]`: audit logs that the clouds' log
//! services push to kadet ([`pubsub_push`]) or that kadet pulls from them
//! ([`cloudwatch`], [`kafka`]). Each source reports its progress ([`Health`]) for
//! `/readyz`, the log and the metrics; pulled sources keep a checkpoint
//! that moves only once what was read is stored ([`checkpoint`]), and are
//! read by one instance at a time ([`claim`]).

pub mod checkpoint;
pub mod claim;
pub mod cloudwatch;
pub mod kafka;
pub mod oidc;
pub mod pubsub_push;

use crate::config::sources::SourceConfig;
use crate::core::intake::Intake;
use crate::metrics::Metrics;
use checkpoint::Checkpoints;
use pubsub_push::PushSource;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How one source is doing.
pub struct Health {
    name: String,
    stuck_after: Option<Duration>,
    since: Mutex<Instant>,
    last_error: Mutex<Option<String>>,
    reported: AtomicBool,
}

impl Health {
    /// A source that has made no progress yet; stuck after `stuck_after_secs`
    /// without any (never when 0).
    pub fn new(name: &str, stuck_after_secs: u64) -> Health {
        Health {
            name: name.to_string(),
            stuck_after: (stuck_after_secs > 0).then(|| Duration::from_secs(stuck_after_secs)),
            since: Mutex::new(Instant::now()),
            last_error: Mutex::new(None),
            reported: AtomicBool::new(false),
        }
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The source read or stored something, or learnt there was nothing new.
    pub fn progressed(&self) {
        if let Ok(mut s) = self.since.lock() {
            *s = Instant::now();
        }
        if let Ok(mut e) = self.last_error.lock() {
            *e = None;
        }
        if self.reported.swap(false, Ordering::AcqRel) {
            tracing::info!(source = %self.name, "source moving again");
        }
    }

    /// The source failed (it retries); the message shows while it is stuck.
    pub fn failed(&self, message: impl Into<String>) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(message.into());
        }
    }

    /// Why the source counts as stuck, when it does.
    pub fn stuck(&self) -> Option<String> {
        let after = self.stuck_after?;
        let idle = self.since.lock().ok()?.elapsed();
        if idle < after {
            return None;
        }
        let cause = self
            .last_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .unwrap_or_else(|| "nothing arrived".into());
        Some(format!(
            "source {:?} has made no progress for {} s: {cause}",
            self.name,
            idle.as_secs()
        ))
    }

    /// Logs the source's becoming stuck once per episode.
    fn report(&self) {
        if let Some(why) = self.stuck() {
            if !self.reported.swap(true, Ordering::AcqRel) {
                tracing::error!(source = %self.name, "{why}");
            }
        }
    }
}

/// The configured sources, as the HTTP front and `/readyz` see them.
#[derive(Default)]
pub struct Sources {
    push: BTreeMap<String, Arc<PushSource>>,
    health: Mutex<Vec<Arc<Health>>>,
}

impl Sources {
    /// The push sources of the config (pulled ones join when they start,
    /// [`Sources::watch`]).
    pub fn from_config(cfgs: &[SourceConfig]) -> anyhow::Result<Sources> {
        let mut out = Sources::default();
        for cfg in cfgs {
            if let SourceConfig::PubsubPush(p) = cfg {
                let s = Arc::new(PushSource::new(p)?);
                out.watch(s.health.clone());
                out.push.insert(p.name.clone(), s);
            }
        }
        Ok(out)
    }

    /// Adds the health of a started pulled source.
    pub fn watch(&self, health: Arc<Health>) {
        if let Ok(mut h) = self.health.lock() {
            h.push(health);
        }
    }

    fn watched(&self) -> Vec<Arc<Health>> {
        self.health.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// The push source of this name.
    pub fn push(&self, name: &str) -> Option<&Arc<PushSource>> {
        self.push.get(name)
    }

    /// Why some sources are stuck; empty when none is.
    pub fn stuck(&self) -> Vec<String> {
        self.watched().iter().filter_map(|h| h.stuck()).collect()
    }

    /// Sets the `kadet_source_stuck` gauge of every source.
    pub fn gauges(&self, metrics: &crate::metrics::Metrics) {
        for h in self.watched() {
            let stuck = if h.stuck().is_some() { 1.0 } else { 0.0 };
            metrics.set_gauge(
                crate::metrics::Gauge::SourceStuck,
                &[("source", h.name())],
                stuck,
            );
        }
    }

    /// Logs each source that became stuck, every 5 s, until the runtime
    /// stops.
    pub async fn report_stuck(self: Arc<Self>) {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            for h in self.watched() {
                h.report();
            }
        }
    }
}

/// What a mode gives pulled sources: where checkpoints are kept, and
/// whether this instance is the one to read.
#[derive(Clone)]
pub struct Places {
    /// The checkpoints.
    pub checkpoints: Arc<dyn Checkpoints>,
    /// The claims on sources.
    pub claims: Arc<dyn claim::Claims>,
    /// This instance's name, stable across its restarts and unique among
    /// the instances ([`instance_name`]).
    pub instance: String,
    /// How Kafka sources' consumers join their groups.
    pub kafka_members: kafka::members::Members,
}

/// An instance's name: its host name and a digest of its state directory,
/// so that it is the same after a restart and differs between instances
/// (two on one host have two state directories).
pub fn instance_name(state_dir: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let host = crate::host_name();
    let dir = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    format!("{host}-{}", &hex::encode(digest)[..8])
}

/// The readers of pulled sources, running.
pub struct Pullers {
    stop: tokio::sync::watch::Sender<bool>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Pullers {
    /// Stops the readers: a page being stored finishes and moves its
    /// checkpoint; nothing later is read.
    pub fn stop(self, rt: &tokio::runtime::Handle) {
        let _ = self.stop.send(true);
        for r in self.readers {
            let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), r).await });
        }
    }
}

/// The configured sources, before any is read: push sources wait for
/// their pushes (their keys are fetched in the background), and stuck
/// sources are logged from now on.
pub fn prepare(cfgs: &[SourceConfig], rt: &tokio::runtime::Handle) -> anyhow::Result<Arc<Sources>> {
    let sources = Arc::new(Sources::from_config(cfgs)?);
    for push in sources.push.values() {
        let push = push.clone();
        rt.spawn(async move {
            if let Err(m) = push.verifier.fetch_keys().await {
                tracing::warn!(source = %push.name, "cannot fetch the OIDC keys yet: {m}");
            }
        });
    }
    rt.spawn(sources.clone().report_stuck());
    Ok(sources)
}

/// Starts the pulled sources reading into `intake`, keeping their place
/// as the mode does (`places`); their health joins `sources`.
pub fn start_pullers(
    sources: &Sources,
    cfgs: &[SourceConfig],
    intake: &Arc<dyn Intake>,
    places: &Places,
    metrics: &Arc<Metrics>,
    max_event_bytes: usize,
    rt: &tokio::runtime::Handle,
) -> anyhow::Result<Pullers> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut readers = Vec::new();
    for cfg in cfgs {
        if let SourceConfig::Cloudwatch(c) = cfg {
            let wiring = cloudwatch::Wiring {
                intake: intake.clone(),
                checkpoints: places.checkpoints.clone(),
                claims: places.claims.clone(),
                metrics: metrics.clone(),
                max_event_bytes,
            };
            let reader = rt.block_on(cloudwatch::Reader::new(c, wiring))?;
            sources.watch(reader.health());
            readers.push(rt.spawn(reader.run(stopped.clone())));
        }
        if let SourceConfig::Kafka(k) = cfg {
            let wiring = kafka::Wiring {
                intake: intake.clone(),
                claims: places.claims.clone(),
                metrics: metrics.clone(),
                max_event_bytes,
            };
            readers.extend(kafka::members::start(
                k, wiring, places, sources, rt, &stopped,
            )?);
        }
    }
    Ok(Pullers { stop, readers })
}

/// Checks that a source can be reached with the credentials it has
/// (`--check-config`); what was found, or why not.
pub async fn reach(cfg: &SourceConfig) -> Result<String, String> {
    let within = Duration::from_secs(20);
    let attempt = async {
        match cfg {
            SourceConfig::PubsubPush(p) => {
                let s = PushSource::new(p).map_err(|e| format!("{e:#}"))?;
                let n = s.verifier.fetch_keys().await?;
                Ok(format!("{n} signing keys at {}", p.jwks_url))
            }
            SourceConfig::Cloudwatch(c) => cloudwatch::check(c)
                .await
                .map(|()| format!("log group {} readable", c.group().unwrap_or_default()))
                .map_err(|e| format!("{e:#}")),
            SourceConfig::Kafka(k) => kafka::check(k).await.map_err(|e| format!("{e:#}")),
        }
    };
    tokio::time::timeout(within, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", within.as_secs())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_stuck_after_its_time_without_progress() {
        let h = Health::new("s", 0);
        assert_eq!(h.stuck(), None);
        let h = Health::new("s", 1);
        *h.since.lock().unwrap() -= Duration::from_secs(2);
        h.failed("ThrottlingException");
        let why = h.stuck().unwrap();
        assert!(
            why.contains("\"s\"") && why.contains("ThrottlingException"),
            "{why}"
        );
        h.progressed();
        assert_eq!(h.stuck(), None);
    }
}
