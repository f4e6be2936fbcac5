//! Delivery from the outbox: one worker thread per sink. An alert leaves the
//! outbox only once every sink has confirmed it (or dead-lettered it).
//!
//! Delivery is at least once; `alert_id` lets receivers drop repeats. For a
//! file sink a restart also looks in the file for alerts that were written
//! just before a crash but not yet confirmed, so the file holds each alert
//! once.

use super::file_ids::ids_in_file;
use super::target::Target;
use crate::active_rules::ActiveRules;
use crate::config::SinkConfig;
use crate::metrics::{Counter, Metrics};
use crate::now_ms;
use crate::store::{outbox, Store};
use anyhow::{Context, Result};
use kadet_engine::{Alert, AlertWindow};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// A sink worker.
pub struct Worker {
    name: String,
    target: Target,
    store: Store,
    rules: Arc<ActiveRules>,
    metrics: Arc<Metrics>,
    rt: tokio::runtime::Handle,
}

impl Worker {
    /// A worker for the sink configured as `cfg`, under its name.
    pub fn new(
        cfg: &SinkConfig,
        store: &Path,
        state_dir: &Path,
        rules: Arc<ActiveRules>,
        metrics: Arc<Metrics>,
        rt: tokio::runtime::Handle,
    ) -> Result<Worker> {
        let store = Store::connect(store)?;
        let name = cfg.name().to_string();
        if let SinkConfig::File { path, .. } = cfg {
            let seen = ids_in_file(path)
                .with_context(|| format!("cannot read sink file {}", path.display()))?;
            // Written before a crash but not yet confirmed: confirm now.
            for id in outbox::owed_to(store.conn(), &name)?
                .iter()
                .filter(|id| seen.contains(*id))
            {
                outbox::confirm(store.conn(), id, &name)?;
            }
        }
        Ok(Worker {
            target: Target::open(cfg, state_dir)?,
            name,
            store,
            rules,
            metrics,
            rt,
        })
    }

    /// Delivers until `stop`; `wake` says new alerts are waiting. At stop,
    /// one last round is made for what is due.
    pub fn run(&mut self, wake: mpsc::Receiver<()>, stop: &AtomicBool) {
        loop {
            let stopping = stop.load(Ordering::Acquire);
            let wait = match self.round() {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(sink = %self.name, error = %format!("{e:#}"), "sink round failed");
                    Duration::from_secs(1)
                }
            };
            if stopping {
                return;
            }
            let _ = wake.recv_timeout(wait);
        }
    }

    /// Delivers what is due; returns how long to sleep.
    fn round(&mut self) -> Result<Duration> {
        const BATCH: usize = 256;
        let rules = self.rules.current();
        let due = outbox::due(self.store.conn(), &self.name, now_ms(), BATCH)?;
        for d in &due {
            let w = match AlertWindow::from_stored(&d.state) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(sink = %self.name, alert_id = %d.alert_id, error = %e, "unreadable outbox entry; dropped");
                    outbox::confirm(self.store.conn(), &d.alert_id, &self.name)?;
                    continue;
                }
            };
            let alert = w.to_alert(rules.rules.iter().find(|r| r.id == w.rule_id));
            match self.target.deliver(&alert, &rules.rules, &self.rt) {
                Ok(()) => {
                    outbox::confirm(self.store.conn(), &d.alert_id, &self.name)?;
                    self.metrics
                        .inc(Counter::SinkDeliveries, &[("sink", &self.name)]);
                }
                Err(e) => {
                    self.metrics
                        .inc(Counter::SinkFailures, &[("sink", &self.name)]);
                    if let Some(wait) = self.failed(&d.alert_id, d.attempts + 1, &alert, &e)? {
                        return Ok(wait);
                    }
                }
            }
        }
        if due.len() == BATCH {
            return Ok(Duration::ZERO);
        }
        Ok(match outbox::next_due(self.store.conn(), &self.name)? {
            Some(n) => Duration::from_millis((n - now_ms()).clamp(0, 1000) as u64),
            None => Duration::from_secs(1),
        })
    }

    /// After a failed delivery: retry later, or dead-letter it once the
    /// attempts are spent (webhooks); stream sinks retry the whole round in
    /// a second (returned as the wait).
    fn failed(
        &mut self,
        id: &str,
        attempts: i64,
        alert: &Alert,
        e: &anyhow::Error,
    ) -> Result<Option<Duration>> {
        let Target::Webhook(hook) = &self.target else {
            tracing::error!(sink = %self.name, alert_id = %id, error = %e, "writing an alert failed; will retry");
            return Ok(Some(Duration::from_secs(1)));
        };
        if attempts < i64::from(hook.max_attempts) {
            let delay = hook
                .backoff_ms
                .saturating_mul(1u64 << (attempts - 1).clamp(0, 20))
                .min(300_000);
            tracing::warn!(sink = %self.name, alert_id = %id, attempt = attempts, retry_in_ms = delay, error = %e, "delivery failed");
            outbox::retry_later(
                self.store.conn(),
                id,
                &self.name,
                attempts,
                now_ms() + delay as i64,
            )?;
            return Ok(None);
        }
        tracing::error!(sink = %self.name, alert_id = %id, attempts, error = %e, "delivery failed; writing to the dead-letter file");
        hook.dead_letter(alert, &self.rules.current().rules)?;
        self.metrics
            .inc(Counter::SinkDeadLetters, &[("sink", &self.name)]);
        outbox::confirm(self.store.conn(), id, &self.name)?;
        Ok(None)
    }
}
