//! Cluster delivery: each sink has a durable consumer on the alerts stream,
//! shared by all instances, so a delivery survives the loss of the instance
//! that was making it (the alert is redelivered after the consumer's ack
//! wait). A failed webhook delivery is retried with backoff (a negative
//! ack with a delay) and dead-lettered after `max_attempts`; stdout and
//! file sinks write on whichever instance pulled the alert.

use super::Nats;
use crate::active_rules::ActiveRules;
use crate::config::SinkConfig;
use crate::metrics::{Counter, Metrics};
use crate::sinks::Target;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{AckKind, Message};
use futures_util::StreamExt;
use kadet_engine::AlertWindow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The delivery worker of one sink on one instance.
pub struct DeliverWorker {
    name: String,
    target: Target,
    nats: Nats,
    rt: tokio::runtime::Handle,
    active: Arc<ActiveRules>,
    metrics: Arc<Metrics>,
}

impl DeliverWorker {
    /// A worker for the sink configured as `cfg`.
    pub fn new(
        cfg: &SinkConfig,
        state_dir: &Path,
        nats: Nats,
        rt: tokio::runtime::Handle,
        active: Arc<ActiveRules>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<DeliverWorker> {
        Ok(DeliverWorker {
            name: cfg.name().to_string(),
            target: Target::open(cfg, state_dir)?,
            nats,
            rt,
            active,
            metrics,
        })
    }

    /// Delivers until `stop`.
    pub fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Acquire) {
            let consumer = match self.rt.block_on(self.nats.sink_consumer(&self.name)) {
                Ok(c) => c,
                Err(_) => {
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            while !stop.load(Ordering::Acquire) {
                let batch = self.fetch(&consumer);
                for msg in batch {
                    self.deliver(msg);
                }
            }
        }
    }

    /// Pulls the next alerts. A webhook takes them one at a time: each
    /// attempt may take its whole timeout, and alerts held behind slow
    /// attempts would pass the consumer's ack wait and come again.
    fn fetch(&self, consumer: &PullConsumer) -> Vec<Message> {
        let max = match self.target {
            Target::Webhook(_) => 1,
            _ => 32,
        };
        self.rt.block_on(async {
            let mut out = Vec::new();
            let Ok(mut batch) = consumer
                .batch()
                .max_messages(max)
                .expires(Duration::from_secs(1))
                .messages()
                .await
            else {
                tokio::time::sleep(Duration::from_millis(500)).await;
                return out;
            };
            while let Some(Ok(m)) = batch.next().await {
                out.push(m);
            }
            out
        })
    }

    fn deliver(&mut self, msg: Message) {
        let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
        if delivered > 1 {
            self.metrics
                .inc(Counter::ClusterRedeliveries, &[("stream", "alerts")]);
        }
        let window = match std::str::from_utf8(&msg.payload)
            .map_err(|e| e.to_string())
            .and_then(|t| AlertWindow::from_stored(t).map_err(|e| e.to_string()))
        {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(sink = %self.name, error = %e, "unreadable alert; dropped");
                let _ = self.rt.block_on(msg.ack_with(AckKind::Term));
                return;
            }
        };
        let rules = self.active.current();
        let alert = window.to_alert(rules.rules.iter().find(|r| r.id == window.rule_id));
        let outcome = self.target.deliver(&alert, &rules.rules, &self.rt);
        let ack = match outcome {
            Ok(()) => {
                self.metrics
                    .inc(Counter::SinkDeliveries, &[("sink", &self.name)]);
                AckKind::Ack
            }
            Err(e) => {
                self.metrics
                    .inc(Counter::SinkFailures, &[("sink", &self.name)]);
                self.after_failure(&alert, delivered, &e)
            }
        };
        if let Err(e) = self.rt.block_on(msg.ack_with(ack)) {
            tracing::warn!(sink = %self.name, error = %e, "cannot ack an alert; it may come again");
        }
    }

    /// A failed delivery: retried later, or dead-lettered once a webhook's
    /// attempts are spent.
    fn after_failure(
        &self,
        alert: &kadet_engine::Alert,
        delivered: i64,
        e: &anyhow::Error,
    ) -> AckKind {
        let Target::Webhook(hook) = &self.target else {
            tracing::error!(sink = %self.name, alert_id = %alert.alert_id, error = %e, "writing an alert failed; will retry");
            return AckKind::Nak(Some(Duration::from_secs(1)));
        };
        if delivered < i64::from(hook.max_attempts) {
            let delay = hook
                .backoff_ms
                .saturating_mul(1u64 << (delivered - 1).clamp(0, 20))
                .min(300_000);
            tracing::warn!(sink = %self.name, alert_id = %alert.alert_id, attempt = delivered, retry_in_ms = delay, error = %e, "delivery failed");
            return AckKind::Nak(Some(Duration::from_millis(delay)));
        }
        tracing::error!(sink = %self.name, alert_id = %alert.alert_id, attempts = delivered, error = %e, "delivery failed; writing to the dead-letter file");
        if let Err(e) = hook.dead_letter(alert, &self.active.current().rules) {
            tracing::error!(sink = %self.name, error = %format!("{e:#}"), "cannot write the dead-letter file; will retry");
            return AckKind::Nak(Some(Duration::from_secs(5)));
        }
        self.metrics
            .inc(Counter::SinkDeadLetters, &[("sink", &self.name)]);
        AckKind::Ack
    }
}
