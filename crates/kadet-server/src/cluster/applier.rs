//! The applier: the one instance at a time that turns batch results into
//! alerts. Every instance runs it; the holder of the lease applies, the
//! others wait to take over.
//!
//! It reads the results stream in order from where the saved state says,
//! and applies each batch's matches in the order the batches were accepted
//! (audit-stream sequence), holding a result back until every earlier one
//! is in: the same order as the single-process journal, and so the same
//! windows and `alert_id`s as `scan`. Alerts go to the alerts stream with
//! `alert_id` as the message id (one alert, once, even when a new holder
//! replays results the old one had applied). The state is saved every
//! `snapshot_interval_ms` by compare-and-set, after renewing the lease; a
//! new holder first claims the state (see [`state::claim`]), so a refused
//! save means the lease was lost, and this instance stops applying at once.

use super::lease::Lease;
use super::result::BatchResult;
use super::state::{self, Body, Header, SaveError};
use super::Nats;
use crate::active_rules::{ActiveRules, Loaded};
use crate::core::detection::{count_evictions, Timing};
use crate::metrics::{Counter, Gauge, Metrics};
use anyhow::{Context, Result};
use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::message::PublishMessage;
use futures_util::StreamExt;
use kadet_engine::{Alerter, EmitAt};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The applier of one instance.
pub struct Applier {
    /// The cluster.
    pub nats: Nats,
    /// The runtime NATS calls run on.
    pub rt: tokio::runtime::Handle,
    /// The rules.
    pub active: Arc<ActiveRules>,
    /// Reorder buffer and idle release, as in single-process `serve`.
    pub timing: Timing,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// This instance's name in the lease.
    pub holder: String,
}

/// Results waiting for an earlier one: batch sequence → (results-stream
/// sequence, result).
type Waiting = BTreeMap<u64, (u64, BatchResult)>;

impl Applier {
    /// Takes the lease when it is free and applies while holding it, until
    /// `stop`.
    pub fn run(&self, stop: &AtomicBool) {
        let lease_every = self.lease_every();
        let mut lease = loop {
            match self.rt.block_on(self.nats.lease()) {
                Ok(kv) => break Lease::new(kv, self.holder.clone()),
                Err(_) if !stop.load(Ordering::Acquire) => {
                    std::thread::sleep(Duration::from_secs(1))
                }
                Err(_) => return,
            }
        };
        while !stop.load(Ordering::Acquire) {
            self.metrics.set_gauge(Gauge::ClusterApplier, &[], 0.0);
            // After a failure this instance may still hold the lease.
            let holds = lease.held() && self.rt.block_on(lease.renew());
            if !holds && !self.rt.block_on(lease.acquire()) {
                std::thread::sleep(lease_every);
                continue;
            }
            self.metrics.set_gauge(Gauge::ClusterApplier, &[], 1.0);
            tracing::info!(holder = %self.holder, "this instance applies results now");
            if let Err(e) = self.lead(&mut lease, stop) {
                tracing::error!(error = %format!("{e:#}"), "the applier stopped; another instance takes over");
                // Let another instance try at once: the cause may be this
                // instance's alone.
                self.rt.block_on(lease.release());
                std::thread::sleep(lease_every);
            }
            if stop.load(Ordering::Acquire) || !lease.held() {
                self.rt.block_on(lease.release());
            }
        }
        self.metrics.set_gauge(Gauge::ClusterApplier, &[], 0.0);
    }

    /// Applies results while the lease holds.
    fn lead(&self, lease: &mut Lease, stop: &AtomicBool) -> Result<()> {
        let (mut term, mut body) = self.take_over()?;
        let mut loaded = self.active.current();
        let mut alerter = self.alerter(&loaded, term.header.watermark, &mut body);
        let mut messages = self.replay_from(term.header.resume)?;
        let mut evicted = 0;
        while !stop.load(Ordering::Acquire) {
            if !term.keep_lease(self, lease, false) {
                return Ok(());
            }
            if self.active.generation() != loaded.generation {
                let (watermark, windows, buffered) = alerter.state();
                body = Body {
                    windows: windows.iter().map(|w| w.to_stored()).collect(),
                    buffered,
                };
                let idle_since = alerter.idle_since();
                loaded = self.active.current();
                alerter = self.alerter(&loaded, watermark, &mut body);
                evicted = 0;
                alerter.set_idle_since(idle_since);
            }
            let next = self.rt.block_on(async {
                tokio::time::timeout(Duration::from_millis(200), messages.next()).await
            });
            match next {
                Ok(Some(Ok(m))) => term.receive(&m),
                Ok(Some(Err(e))) => return Err(anyhow::anyhow!("reading the results: {e}")),
                _ => {}
            }
            term.apply_ready(self, &mut alerter);
            term.skip_stuck_gap(self);
            alerter.release_if_idle(self.timing.idle_release);
            self.raise(&mut alerter)?;
            count_evictions(&self.metrics, &alerter, &mut evicted);
            let _ = alerter.take_changes();
            if term.saved_at.elapsed() >= self.save_every() {
                // A holder paused past its lease learns it here, before
                // writing; the claim fences it off even if it does not.
                if !term.keep_lease(self, lease, true) {
                    return Ok(());
                }
                if !term.save(self, &alerter)? {
                    return Ok(());
                }
                self.metrics
                    .set_gauge(Gauge::BufferedMatches, &[], alerter.buffered() as f64);
            }
        }
        // Stopping: save what was applied, so the next holder replays less.
        let _ = term.save(self, &alerter);
        Ok(())
    }

    /// Loads the saved state and claims it, fencing off any earlier holder
    /// before anything is applied.
    fn take_over(&self) -> Result<(Term, Body)> {
        let kv = self.rt.block_on(self.nats.state())?;
        let mut saved = self.rt.block_on(state::load(&kv))?;
        let token = state::applier_token();
        match self.rt.block_on(state::claim(&kv, &mut saved, &token)) {
            Ok(_) => {}
            Err(SaveError::Conflict) => {
                self.metrics.inc(Counter::ClusterCasConflicts, &[]);
                anyhow::bail!("the alert state changed while this instance took it over");
            }
            Err(SaveError::Other(e)) => return Err(e).context("taking the alert state over"),
        }
        let last_seen = saved.header.resume.saturating_sub(1);
        let term = Term {
            kv,
            header: saved.header,
            revision: saved.revision,
            waiting: Waiting::new(),
            last_seen,
            gap_since: None,
            renewed: Instant::now(),
            saved_at: Instant::now(),
        };
        Ok((term, saved.body))
    }

    /// The results from `resume` on, in order.
    fn replay_from(&self, resume: u64) -> Result<async_nats::jetstream::consumer::pull::Ordered> {
        let stream = self
            .rt
            .block_on(self.nats.js.get_stream(&self.nats.cfg.results_stream))?;
        let consumer = self
            .rt
            .block_on(stream.create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: resume.max(1),
                },
                ..Default::default()
            }))?;
        Ok(self.rt.block_on(consumer.messages())?)
    }

    fn lease_every(&self) -> Duration {
        Duration::from_secs(self.nats.cfg.lease_secs) / 3
    }

    fn save_every(&self) -> Duration {
        Duration::from_millis(self.nats.cfg.snapshot_interval_ms.max(50))
    }

    fn alerter<'r>(
        &self,
        loaded: &'r Loaded,
        watermark: Option<kadet_event::EventTime>,
        body: &mut Body,
    ) -> Alerter<'r> {
        Alerter::with(&loaded.rules, self.timing.lateness, EmitAt::Threshold)
            .with_max_keys_per_rule(self.timing.max_keys_per_rule)
            .restore(
                watermark,
                body.windows(),
                std::mem::take(&mut body.buffered),
            )
    }

    /// Publishes the alerts raised so far; `alert_id` is the message id.
    fn raise(&self, alerter: &mut Alerter<'_>) -> Result<()> {
        for (alert, window) in alerter.drain_raised() {
            let payload = window.to_stored().into_bytes();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let publish = PublishMessage::build().payload(payload.clone().into());
                let sent = self.rt.block_on(self.nats.publish(
                    self.nats.alerts_subject(),
                    &alert.alert_id,
                    publish,
                ));
                match sent {
                    Ok(_) => break,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(100))
                    }
                    Err(e) => return Err(e).context("publishing an alert"),
                }
            }
            self.metrics
                .inc(Counter::Alerts, &[("rule", &alert.rule_id)]);
        }
        Ok(())
    }
}

/// One term of this instance as the applier: the state it took over, and
/// where it is in the results.
struct Term {
    kv: async_nats::jetstream::kv::Store,
    header: Header,
    /// The state header's revision (for compare-and-set).
    revision: u64,
    /// Results that came before an earlier one.
    waiting: Waiting,
    /// The last results-stream sequence read.
    last_seen: u64,
    /// Since when the next batch's result is missing while later ones wait.
    gap_since: Option<Instant>,
    renewed: Instant,
    saved_at: Instant,
}

impl Term {
    /// Renews the lease when a third of it has passed, or now with
    /// `force`; false when it was lost.
    fn keep_lease(&mut self, a: &Applier, lease: &mut Lease, force: bool) -> bool {
        if !force && self.renewed.elapsed() < a.lease_every() {
            return true;
        }
        if !a.rt.block_on(lease.renew()) {
            a.metrics.inc(Counter::ClusterCasConflicts, &[]);
            tracing::warn!("the applier lease was lost");
            return false;
        }
        self.renewed = Instant::now();
        true
    }

    /// Takes in one message of the results stream.
    fn receive(&mut self, m: &async_nats::jetstream::Message) {
        let rs_seq = m
            .info()
            .map(|i| i.stream_sequence)
            .unwrap_or(self.last_seen + 1);
        self.last_seen = rs_seq;
        match BatchResult::parse(&m.payload) {
            Ok(r) if r.seq >= self.header.next_seq => {
                self.waiting.insert(r.seq, (rs_seq, r));
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "unreadable result; skipped"),
        }
    }

    /// Applies the waiting results that are next in line.
    fn apply_ready(&mut self, a: &Applier, alerter: &mut Alerter<'_>) {
        while let Some((_, r)) = self.waiting.remove(&self.header.next_seq) {
            let mut matches = Vec::with_capacity(r.matches.len());
            for (rule_id, mut m) in r.matches {
                let Some(i) = alerter.rule_index(&rule_id) else {
                    a.metrics
                        .inc(Counter::ClusterUnknownRuleMatches, &[("rule", &rule_id)]);
                    tracing::warn!(rule = %rule_id, "a match of a rule this applier does not have was dropped");
                    continue;
                };
                m.rule = i;
                matches.push(m);
            }
            alerter.feed(matches, r.max_time);
            self.header.next_seq += 1;
        }
    }

    /// A batch whose result never comes (its message was lost or deleted)
    /// must not hold the rest back for ever: once later results have waited
    /// longer than any redelivery could take, it is skipped, with an error.
    fn skip_stuck_gap(&mut self, a: &Applier) {
        if self.waiting.is_empty() || self.waiting.contains_key(&self.header.next_seq) {
            self.gap_since = None;
            return;
        }
        let started = *self.gap_since.get_or_insert_with(Instant::now);
        let c = &a.nats.cfg;
        let bound = Duration::from_secs(c.ack_wait_secs * (c.max_deliver.max(1) as u64 + 1) + 30);
        if started.elapsed() >= bound {
            tracing::error!(
                batch = self.header.next_seq,
                "no result came for this batch; it is skipped"
            );
            a.metrics
                .inc(Counter::ClusterDeadLetters, &[("kind", "missing-result")]);
            self.header.next_seq += 1;
            self.gap_since = None;
        }
    }

    /// Saves the state by compare-and-set; `Ok(false)` when another
    /// instance saved it since (this one lost its lease and stops).
    fn save(&mut self, a: &Applier, alerter: &Alerter<'_>) -> Result<bool> {
        self.header.resume = self
            .waiting
            .values()
            .map(|(rs, _)| *rs)
            .min()
            .unwrap_or(self.last_seen + 1);
        let (watermark, windows, buffered) = alerter.state();
        self.header.watermark = watermark;
        let body = Body {
            windows: windows.iter().map(|w| w.to_stored()).collect(),
            buffered,
        };
        match a.rt.block_on(state::save(
            &self.kv,
            &mut self.header,
            &body,
            self.revision,
        )) {
            Ok(rev) => {
                self.revision = rev;
                self.saved_at = Instant::now();
                Ok(true)
            }
            Err(SaveError::Conflict) => {
                a.metrics.inc(Counter::ClusterCasConflicts, &[]);
                tracing::warn!("another instance saved the alert state: this one stops applying");
                Ok(false)
            }
            Err(SaveError::Other(e)) => Err(e).context("saving the alert state"),
        }
    }
}
