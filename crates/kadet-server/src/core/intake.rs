//! Where accepted batches go before the client gets its `200`: the local
//! journal (one process) or the JetStream stream (cluster mode). Both store
//! durably first and tell when intake must push back.

use crate::journal::{Entry, Journal};
use crate::metrics::{Gauge, Metrics};

/// Why a batch was not stored; nothing of it was acknowledged.
#[derive(Debug)]
pub enum StoreError {
    /// The store failed or did not answer in time: try again (`503`).
    Unavailable(String),
    /// The batch can never be stored as it is (over NATS' message size
    /// limit): the client must send less (`413`).
    TooLarge(String),
}

/// The store of accepted batches.
pub enum Intake {
    /// One process: the fsynced journal.
    Journal {
        /// The journal.
        journal: Journal,
        /// Journal bytes not yet evaluated above which intake answers `429`.
        max_backlog: u64,
    },
    /// Cluster mode: the JetStream stream.
    Cluster(Box<crate::cluster::ClusterIntake>),
}

impl Intake {
    /// Why new batches must wait (`429`), when they must.
    pub fn backpressure(&self) -> Option<String> {
        match self {
            Intake::Journal {
                journal,
                max_backlog,
            } => {
                let backlog = journal.shared.backlog();
                (backlog > *max_backlog).then(|| {
                    format!(
                        "journal backlog {backlog} bytes is over the limit of {max_backlog}; retry later"
                    )
                })
            }
            Intake::Cluster(c) => c.backpressure(),
        }
    }

    /// True while batches can be stored (for `/readyz`). In cluster mode
    /// backpressure is global, so it does not count: failing readiness on
    /// every instance at once would leave the Service without endpoints,
    /// and the API server would get refused connections instead of `429`.
    pub fn ready(&self) -> bool {
        match self {
            Intake::Journal { .. } => self.backpressure().is_none(),
            Intake::Cluster(c) => c.connected(),
        }
    }

    /// Stores batches durably; an error means nothing was acknowledged,
    /// and says why.
    pub async fn store(&self, entries: Vec<Entry>) -> Result<(), StoreError> {
        match self {
            Intake::Journal { journal, .. } => journal
                .append(entries)
                .await
                .map(|_| ())
                .map_err(|e| StoreError::Unavailable(format!("cannot write the journal: {e}"))),
            Intake::Cluster(c) => c.publish(entries).await,
        }
    }

    /// Sets the intake gauges.
    pub fn gauges(&self, metrics: &Metrics) {
        match self {
            Intake::Journal { journal, .. } => metrics.set_gauge(
                Gauge::JournalBacklogBytes,
                &[],
                journal.shared.backlog() as f64,
            ),
            Intake::Cluster(c) => c.gauges(metrics),
        }
    }
}
