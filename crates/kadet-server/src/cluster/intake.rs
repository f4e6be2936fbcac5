//! Cluster intake: an accepted batch is published to the audit stream, with
//! its cluster name in a header and a message id derived from its content,
//! and the client is answered only after JetStream acknowledged it.

use super::nats::CLUSTER_HEADER;
use super::Nats;
use crate::core::batch::Batch;
use crate::core::intake::{Intake, StoreError};
use crate::metrics::{Gauge, Metrics};
use async_nats::jetstream::message::PublishMessage;
use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Publishes accepted batches.
pub struct ClusterIntake {
    nats: Nats,
    metrics: Arc<Metrics>,
    /// Batches not yet evaluated (the detection consumer's lag), as last seen.
    pending: Arc<AtomicU64>,
}

impl ClusterIntake {
    /// Intake over `nats`; starts watching the consumer's lag on `rt`.
    pub fn new(nats: Nats, metrics: Arc<Metrics>, rt: &tokio::runtime::Handle) -> ClusterIntake {
        let pending = Arc::new(AtomicU64::new(0));
        rt.spawn(watch_lag(nats.clone(), pending.clone()));
        ClusterIntake {
            nats,
            metrics,
            pending,
        }
    }

    /// True while connected to NATS.
    pub fn connected(&self) -> bool {
        self.nats.connected()
    }

    /// Why new batches must wait, when they must: too many not yet evaluated.
    pub fn backpressure(&self) -> Option<String> {
        let pending = self.pending.load(Ordering::Acquire);
        let max = self.nats.cfg.max_pending;
        (pending > max).then(|| {
            format!("{pending} batches wait for evaluation, over the limit of {max}; retry later")
        })
    }

    /// Room a batch's headers and message id take in a NATS message.
    const HEADER_ROOM: usize = 512;

    /// Refuses, before anything is published, a batch larger than the NATS
    /// server takes in one message: it would be refused on every retry.
    fn check_size(&self, entries: &[Batch]) -> Result<(), StoreError> {
        let max = self.nats.client.server_info().max_payload;
        let cluster = |e: &Batch| e.cluster.as_ref().map_or(0, String::len);
        match entries
            .iter()
            .find(|e| max > 0 && e.doc.len() + cluster(e) + Self::HEADER_ROOM > max)
        {
            Some(e) => Err(StoreError::TooLarge(format!(
                "a batch of {} bytes is over the NATS server's message limit of {max} bytes \
                 (max_payload); send smaller batches or raise max_payload",
                e.doc.len()
            ))),
            None => Ok(()),
        }
    }

    /// Publishes the batches, each retried until JetStream acknowledges it
    /// or the publish timeout passes (a failover answers "no stream" for a
    /// few seconds; the same message id makes retries safe).
    pub async fn publish(&self, entries: Vec<Batch>) -> Result<(), StoreError> {
        self.check_size(&entries)?;
        let budget = Duration::from_millis(self.nats.cfg.publish_timeout_ms);
        for e in entries {
            let id = e.id();
            let subject = self.nats.audit_subject(e.source.name());
            let started = Instant::now();
            loop {
                let mut headers = async_nats::HeaderMap::new();
                if let Some(c) = &e.cluster {
                    headers.insert(CLUSTER_HEADER, c.as_str());
                }
                let msg = PublishMessage::build()
                    .headers(headers)
                    .payload(e.doc.clone().into());
                match self.nats.publish(subject.clone(), &id, msg).await {
                    Ok(_) => {
                        self.metrics
                            .observe_publish(started.elapsed().as_secs_f64());
                        break;
                    }
                    Err(err) if started.elapsed() < budget => {
                        tracing::debug!(error = %format!("{err:#}"), "publish failed; retrying");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(err) => {
                        return Err(StoreError::Unavailable(format!(
                            "JetStream did not acknowledge the batch within {} ms: {err:#}",
                            budget.as_millis()
                        )))
                    }
                }
            }
        }
        Ok(())
    }
}

impl Intake for ClusterIntake {
    fn backpressure(&self) -> Option<String> {
        ClusterIntake::backpressure(self)
    }

    /// In cluster mode backpressure is global, so it does not count:
    /// failing readiness on every instance at once would leave the Service
    /// without endpoints, and the API server would get refused connections
    /// instead of `429`.
    fn ready(&self) -> bool {
        self.connected()
    }

    fn store(&self, batches: Vec<Batch>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.publish(batches))
    }

    fn gauges(&self, metrics: &Metrics) {
        metrics.set_gauge(
            Gauge::ClusterPending,
            &[],
            self.pending.load(Ordering::Acquire) as f64,
        );
        metrics.set_gauge(
            Gauge::ClusterConnected,
            &[],
            if self.connected() { 1.0 } else { 0.0 },
        );
    }
}

/// Reads the detection consumer's lag every second.
async fn watch_lag(nats: Nats, pending: Arc<AtomicU64>) {
    loop {
        if let Ok(mut c) = nats.detect_consumer().await {
            if let Ok(info) = c.info().await {
                pending.store(
                    info.num_pending + info.num_ack_pending as u64,
                    Ordering::Release,
                );
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
