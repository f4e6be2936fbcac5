//! Cluster mode's side of pulled sources: one reader per source (or per
//! member of a Kafka source) across the instances, by a lease on each
//! ([`SourceLeases`]), and checkpoints in
//! the state bucket ([`BucketCheckpoints`]), written with compare-and-set
//! so that a reader that lost its lease cannot move a checkpoint back.

use super::lease::Lease;
use super::Nats;
use crate::sources::checkpoint::Checkpoints;
use crate::sources::claim::{Claims, Held};
use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The key of a source's lease and of its checkpoint.
fn key(source: &str) -> String {
    format!("source.{source}")
}

/// This instance's leases on pulled sources.
pub struct SourceLeases {
    nats: Nats,
    holder: String,
    held: Mutex<HashMap<String, (Lease, Instant)>>,
}

impl SourceLeases {
    /// Leases held by `holder` (the instance's name).
    pub fn new(nats: Nats, holder: String) -> SourceLeases {
        SourceLeases {
            nats,
            holder,
            held: Mutex::new(HashMap::new()),
        }
    }

    fn renew_every(&self) -> Duration {
        Duration::from_secs(self.nats.cfg.lease_secs) / 3
    }

    async fn take_or_keep(&self, source: &str) -> Held {
        let mut held = self.held.lock().await;
        if let Some((lease, renewed)) = held.get_mut(source) {
            if renewed.elapsed() < self.renew_every() {
                return Held::Kept;
            }
            if lease.renew().await {
                *renewed = Instant::now();
                return Held::Kept;
            }
            tracing::warn!(source, "lost the source's lease; another instance reads it");
            held.remove(source);
            return Held::Elsewhere;
        }
        let Ok(kv) = self.nats.lease().await else {
            return Held::Elsewhere;
        };
        let mut lease = Lease::of(kv, &key(source), self.holder.clone());
        if lease.acquire().await {
            tracing::info!(source, "took the source's lease: this instance reads it");
            held.insert(source.to_string(), (lease, Instant::now()));
            Held::Taken
        } else {
            Held::Elsewhere
        }
    }
}

impl Claims for SourceLeases {
    fn hold<'a>(&'a self, source: &'a str) -> BoxFuture<'a, Held> {
        Box::pin(self.take_or_keep(source))
    }

    fn release<'a>(&'a self, source: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some((mut lease, _)) = self.held.lock().await.remove(source) {
                lease.release().await;
            }
        })
    }

    fn lasts(&self) -> Duration {
        Duration::from_secs(self.nats.cfg.lease_secs)
    }
}

/// Checkpoints as keys of the state bucket (`source.NAME`), each written
/// only over the revision this instance last read or wrote.
pub struct BucketCheckpoints {
    nats: Nats,
    revisions: Mutex<HashMap<String, u64>>,
}

impl BucketCheckpoints {
    /// The checkpoints of the cluster.
    pub fn new(nats: Nats) -> BucketCheckpoints {
        BucketCheckpoints {
            nats,
            revisions: Mutex::new(HashMap::new()),
        }
    }
}

impl Checkpoints for BucketCheckpoints {
    fn load<'a>(&'a self, source: &'a str) -> BoxFuture<'a, Result<Option<serde_json::Value>>> {
        Box::pin(async move {
            let kv = self.nats.state().await?;
            let entry = kv
                .entry(key(source))
                .await
                .context("reading the source's checkpoint")?;
            let mut revisions = self.revisions.lock().await;
            match entry {
                Some(e) if !e.value.is_empty() => {
                    revisions.insert(source.to_string(), e.revision);
                    Ok(Some(serde_json::from_slice(&e.value).with_context(
                        || format!("the checkpoint of source {source} is not JSON"),
                    )?))
                }
                _ => {
                    revisions.remove(source);
                    Ok(None)
                }
            }
        })
    }

    fn save<'a>(
        &'a self,
        source: &'a str,
        value: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let kv = self.nats.state().await?;
            let bytes = serde_json::to_vec(value)?;
            let mut revisions = self.revisions.lock().await;
            let written = match revisions.get(source) {
                Some(rev) => kv
                    .update(key(source), bytes.into(), *rev)
                    .await
                    .map_err(|e| e.to_string()),
                None => kv
                    .create(key(source), bytes.into())
                    .await
                    .map_err(|e| e.to_string()),
            };
            let rev = written.map_err(|e| {
                anyhow::anyhow!("the checkpoint moved under this reader (another instance reads the source now): {e}")
            })?;
            revisions.insert(source.to_string(), rev);
            Ok(())
        })
    }
}
