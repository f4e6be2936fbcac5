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

use super::result::BatchResult;
use super::state::{self, Body, Header, Lease, SaveError};
use super::Nats;
use crate::active_rules::{ActiveRules, Loaded};
use crate::detector::Timing;
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
        let lease_every = Duration::from_secs(self.nats.cfg.lease_secs) / 3;
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
        let state_kv = self.rt.block_on(self.nats.state())?;
        let mut saved = self.rt.block_on(state::load(&state_kv))?;
        // Fence off any earlier holder before applying anything.
        let token = state::applier_token();
        match self
            .rt
            .block_on(state::claim(&state_kv, &mut saved, &token))
        {
            Ok(_) => {}
            Err(SaveError::Conflict) => {
                self.metrics.inc(Counter::ClusterCasConflicts, &[]);
                anyhow::bail!("the alert state changed while this instance took it over");
            }
            Err(SaveError::Other(e)) => return Err(e).context("taking the alert state over"),
        }
        let mut header = saved.header;
        let mut revision = saved.revision;
        let mut body = saved.body;
        let mut loaded = self.active.current();
        let mut alerter = self.alerter(&loaded, header.watermark, &mut body);
        let stream = self
            .rt
            .block_on(self.nats.js.get_stream(&self.nats.cfg.results_stream))?;
        let consumer = self
            .rt
            .block_on(stream.create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: header.resume.max(1),
                },
                ..Default::default()
            }))?;
        let mut messages = self.rt.block_on(consumer.messages())?;
        let mut waiting = Waiting::new();
        let mut last_seen = header.resume.saturating_sub(1);
        let (mut renewed, mut saved_at) = (Instant::now(), Instant::now());
        let mut gap_since: Option<Instant> = None;
        let mut last_advance = Instant::now();
        let lease_every = Duration::from_secs(self.nats.cfg.lease_secs) / 3;
        let save_every = Duration::from_millis(self.nats.cfg.snapshot_interval_ms.max(50));
        while !stop.load(Ordering::Acquire) {
            if renewed.elapsed() >= lease_every {
                if !self.rt.block_on(lease.renew()) {
                    self.metrics.inc(Counter::ClusterCasConflicts, &[]);
                    tracing::warn!("the applier lease was lost");
                    return Ok(());
                }
                renewed = Instant::now();
            }
            if self.active.generation() != loaded.generation {
                let (watermark, windows, buffered) = alerter.state();
                body = Body {
                    windows: windows.iter().map(|w| w.to_stored()).collect(),
                    buffered,
                };
                loaded = self.active.current();
                alerter = self.alerter(&loaded, watermark, &mut body);
            }
            let next = self.rt.block_on(async {
                tokio::time::timeout(Duration::from_millis(200), messages.next()).await
            });
            if let Ok(Some(Ok(m))) = next {
                let rs_seq = m.info().map(|i| i.stream_sequence).unwrap_or(last_seen + 1);
                last_seen = rs_seq;
                match BatchResult::parse(&m.payload) {
                    Ok(r) if r.seq >= header.next_seq => {
                        waiting.insert(r.seq, (rs_seq, r));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "unreadable result; skipped"),
                }
            } else if let Ok(Some(Err(e))) = next {
                return Err(anyhow::anyhow!("reading the results: {e}"));
            }
            let before = alerter.watermark();
            self.apply_ready(&mut alerter, &mut waiting, &mut header.next_seq);
            if alerter.watermark() > before {
                last_advance = Instant::now();
            }
            self.skip_stuck_gap(&mut waiting, &mut header.next_seq, &mut gap_since);
            if alerter.buffered() > 0
                && self
                    .timing
                    .idle_release
                    .is_some_and(|d| last_advance.elapsed() >= d)
            {
                alerter.release_idle();
                last_advance = Instant::now();
            }
            self.raise(&mut alerter)?;
            let _ = alerter.take_changes();
            if saved_at.elapsed() >= save_every {
                // A holder paused past its lease learns it here, before
                // writing; the claim fences it off even if it does not.
                if !self.rt.block_on(lease.renew()) {
                    self.metrics.inc(Counter::ClusterCasConflicts, &[]);
                    tracing::warn!("the applier lease was lost");
                    return Ok(());
                }
                renewed = Instant::now();
                header.resume = waiting
                    .values()
                    .map(|(rs, _)| *rs)
                    .min()
                    .unwrap_or(last_seen + 1);
                match self.save(&state_kv, &mut header, &alerter, revision) {
                    Ok(rev) => revision = rev,
                    Err(SaveError::Conflict) => {
                        self.metrics.inc(Counter::ClusterCasConflicts, &[]);
                        tracing::warn!(
                            "another instance saved the alert state: this one stops applying"
                        );
                        return Ok(());
                    }
                    Err(SaveError::Other(e)) => return Err(e).context("saving the alert state"),
                }
                saved_at = Instant::now();
                self.metrics
                    .set_gauge(Gauge::BufferedMatches, &[], alerter.buffered() as f64);
            }
        }
        // Stopping: save what was applied, so the next holder replays less.
        header.resume = waiting
            .values()
            .map(|(rs, _)| *rs)
            .min()
            .unwrap_or(last_seen + 1);
        let _ = self.save(&state_kv, &mut header, &alerter, revision);
        Ok(())
    }

    fn alerter<'r>(
        &self,
        loaded: &'r Loaded,
        watermark: Option<kadet_event::EventTime>,
        body: &mut Body,
    ) -> Alerter<'r> {
        Alerter::with(&loaded.rules, self.timing.lateness_us, EmitAt::Threshold).restore(
            watermark,
            body.windows(),
            std::mem::take(&mut body.buffered),
        )
    }

    /// Applies the waiting results that are next in line.
    fn apply_ready(&self, alerter: &mut Alerter<'_>, waiting: &mut Waiting, next_seq: &mut u64) {
        while let Some((_, r)) = waiting.remove(next_seq) {
            for (rule_id, mut m) in r.matches {
                let Some(i) = alerter.rule_index(&rule_id) else {
                    self.metrics
                        .inc(Counter::ClusterUnknownRuleMatches, &[("rule", &rule_id)]);
                    tracing::warn!(rule = %rule_id, "a match of a rule this applier does not have was dropped");
                    continue;
                };
                m.rule = i;
                alerter.push(m);
            }
            if let Some(t) = r.max_time {
                alerter.observe_time(t);
            }
            *next_seq += 1;
        }
    }

    /// A batch whose result never comes (its message was lost or deleted)
    /// must not hold the rest back for ever: once later results have waited
    /// longer than any redelivery could take, it is skipped, with an error.
    fn skip_stuck_gap(
        &self,
        waiting: &mut Waiting,
        next_seq: &mut u64,
        since: &mut Option<Instant>,
    ) {
        if waiting.is_empty() || waiting.contains_key(next_seq) {
            *since = None;
            return;
        }
        let started = *since.get_or_insert_with(Instant::now);
        let c = &self.nats.cfg;
        let bound = Duration::from_secs(c.ack_wait_secs * (c.max_deliver.max(1) as u64 + 1) + 30);
        if started.elapsed() >= bound {
            tracing::error!(
                batch = *next_seq,
                "no result came for this batch; it is skipped"
            );
            self.metrics
                .inc(Counter::ClusterDeadLetters, &[("kind", "missing-result")]);
            *next_seq += 1;
            *since = None;
        }
    }

    /// Publishes the alerts raised so far; `alert_id` is the message id.
    fn raise(&self, alerter: &mut Alerter<'_>) -> Result<()> {
        for (alert, window) in alerter.drain_raised() {
            if alert.signal {
                continue;
            }
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

    fn save(
        &self,
        kv: &async_nats::jetstream::kv::Store,
        header: &mut Header,
        alerter: &Alerter<'_>,
        revision: u64,
    ) -> Result<u64, SaveError> {
        let (watermark, windows, buffered) = alerter.state();
        header.watermark = watermark;
        let body = Body {
            windows: windows.iter().map(|w| w.to_stored()).collect(),
            buffered,
        };
        self.rt.block_on(state::save(kv, header, &body, revision))
    }
}
