//! Single-process intake: an accepted batch is appended to the journal and
//! fsynced (group commit) before the client is answered.

use super::journal::Journal;
use crate::core::batch::Batch;
use crate::core::intake::{Intake, StoreError};
use crate::metrics::{Gauge, Metrics};
use futures_util::future::BoxFuture;

/// The journal, as intake sees it.
pub struct JournalIntake {
    /// The journal.
    pub journal: Journal,
    /// Journal bytes not yet evaluated above which intake answers `429`.
    pub max_backlog: u64,
}

impl Intake for JournalIntake {
    fn backpressure(&self) -> Option<String> {
        let backlog = self.journal.shared.backlog();
        let max = self.max_backlog;
        (backlog > max).then(|| {
            format!("journal backlog {backlog} bytes is over the limit of {max}; retry later")
        })
    }

    fn ready(&self) -> bool {
        self.backpressure().is_none()
    }

    fn store(&self, batches: Vec<Batch>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.journal
                .append(batches)
                .await
                .map(|_| ())
                .map_err(|e| StoreError::Unavailable(format!("cannot write the journal: {e}")))
        })
    }

    fn gauges(&self, metrics: &Metrics) {
        metrics.set_gauge(
            Gauge::JournalBacklogBytes,
            &[],
            self.journal.shared.backlog() as f64,
        );
    }
}
