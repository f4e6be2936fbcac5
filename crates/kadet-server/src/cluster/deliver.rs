//! Cluster delivery: each sink has a durable consumer on the alerts stream,
//! shared by all instances, so a delivery survives the loss of the instance
//! that was making it (the alert is redelivered after the consumer's ack
//! wait). Each alert goes through the shared [`Delivery`] policy; a retry
//! is a negative ack with the policy's delay, and the next attempt may run
//! on any instance.

use super::Nats;
use crate::core::delivery::{Delivery, Outcome};
use crate::metrics::{Counter, Metrics};
use crate::sinks::Target;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{AckKind, Message};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The delivery worker of one sink on one instance.
pub struct DeliverWorker {
    /// The sink's deliveries.
    pub delivery: Delivery,
    /// The cluster.
    pub nats: Nats,
    /// The runtime NATS calls run on.
    pub rt: tokio::runtime::Handle,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

impl DeliverWorker {
    /// Delivers until `stop`.
    pub fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Acquire) {
            let consumer = match self
                .rt
                .block_on(self.nats.sink_consumer(self.delivery.name()))
            {
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
        let max = match self.delivery.target() {
            Target::Webhook(_) => 1,
            _ => 32,
        };
        self.rt.block_on(super::nats::pull_now(consumer, max))
    }

    fn deliver(&mut self, msg: Message) {
        let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
        if delivered > 1 {
            self.metrics
                .inc(Counter::ClusterRedeliveries, &[("stream", "alerts")]);
        }
        let outcome = match std::str::from_utf8(&msg.payload) {
            Ok(stored) => self
                .delivery
                .attempt(stored, u32::try_from(delivered).unwrap_or(1)),
            Err(e) => {
                tracing::error!(sink = %self.delivery.name(), error = %e, "unreadable alert; dropped");
                Outcome::Unreadable
            }
        };
        let ack = match outcome {
            Outcome::Unreadable => AckKind::Term,
            Outcome::Retry { after, .. } => AckKind::Nak(Some(after)),
            Outcome::Delivered | Outcome::DeadLettered => AckKind::Ack,
        };
        if let Err(e) = self.rt.block_on(msg.ack_with(ack)) {
            tracing::warn!(sink = %self.delivery.name(), error = %e, "cannot ack an alert; it may come again");
        }
    }
}
