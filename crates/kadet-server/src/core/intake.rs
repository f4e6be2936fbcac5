//! Where accepted batches go before the client gets its `200`: each mode
//! has one [`Intake`] (the local journal, or the JetStream stream). Both
//! store durably first and tell when intake must push back.

use super::batch::Batch;
use crate::metrics::Metrics;
use futures_util::future::BoxFuture;

/// Why a batch was not stored; nothing of it was acknowledged.
#[derive(Debug)]
pub enum StoreError {
    /// The store failed or did not answer in time: try again (`503`).
    Unavailable(String),
    /// The batch can never be stored as it is (over NATS' message size
    /// limit): the client must send less (`413`).
    TooLarge(String),
}

/// The durable store of accepted batches, as the HTTP front sees it.
pub trait Intake: Send + Sync {
    /// Why new batches must wait (`429`), when they must.
    fn backpressure(&self) -> Option<String>;

    /// True while batches can be stored (for `/readyz`).
    fn ready(&self) -> bool;

    /// Stores batches durably; an error means nothing was acknowledged,
    /// and says why.
    fn store(&self, batches: Vec<Batch>) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Sets the intake gauges.
    fn gauges(&self, metrics: &Metrics);
}
