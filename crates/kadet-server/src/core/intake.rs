//! Where accepted batches go before the client gets its `200`: each mode
//! has one [`Intake`] (the local journal, or the JetStream stream). Both
//! store durably first and tell when intake must push back.

use super::batch::Batch;
use crate::metrics::Metrics;
use futures_util::future::BoxFuture;
use std::sync::{Arc, Mutex, OnceLock};

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

    /// Why batches cannot be stored, for `/readyz` when [`Intake::ready`]
    /// is false.
    fn not_ready_reason(&self) -> String {
        "batches cannot be stored".into()
    }

    /// Stores batches durably; an error means nothing was acknowledged,
    /// and says why.
    fn store(&self, batches: Vec<Batch>) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Sets the intake gauges.
    fn gauges(&self, metrics: &Metrics);
}

/// The mode's intake before the mode has started: the listener answers at
/// once (`/healthz` alive, `/readyz` 503 with the reason), ingest is
/// refused with `503` and the reason, and once the mode is up every call
/// goes to its intake.
pub struct PendingIntake {
    started: OnceLock<Arc<dyn Intake>>,
    waiting: Mutex<String>,
}

impl PendingIntake {
    /// An intake that is waiting for `what`.
    pub fn new(what: impl Into<String>) -> PendingIntake {
        PendingIntake {
            started: OnceLock::new(),
            waiting: Mutex::new(what.into()),
        }
    }

    /// Says what the start is waiting for now.
    pub fn waiting_for(&self, what: impl Into<String>) {
        if let Ok(mut w) = self.waiting.lock() {
            *w = what.into();
        }
    }

    /// The mode has started: from now on batches go to `intake`.
    pub fn open(&self, intake: Arc<dyn Intake>) {
        let _ = self.started.set(intake);
    }

    fn waiting(&self) -> String {
        self.waiting
            .lock()
            .map(|w| w.clone())
            .unwrap_or_else(|_| "starting".into())
    }
}

impl Intake for PendingIntake {
    fn backpressure(&self) -> Option<String> {
        self.started.get().and_then(|i| i.backpressure())
    }

    fn ready(&self) -> bool {
        self.started.get().is_some_and(|i| i.ready())
    }

    fn not_ready_reason(&self) -> String {
        match self.started.get() {
            Some(i) => i.not_ready_reason(),
            None => self.waiting(),
        }
    }

    fn store(&self, batches: Vec<Batch>) -> BoxFuture<'_, Result<(), StoreError>> {
        match self.started.get() {
            Some(i) => i.store(batches),
            None => {
                let why = self.waiting();
                Box::pin(async move { Err(StoreError::Unavailable(why)) })
            }
        }
    }

    fn gauges(&self, metrics: &Metrics) {
        if let Some(i) = self.started.get() {
            i.gauges(metrics);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Always;
    impl Intake for Always {
        fn backpressure(&self) -> Option<String> {
            None
        }
        fn ready(&self) -> bool {
            true
        }
        fn store(&self, _: Vec<Batch>) -> BoxFuture<'_, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }
        fn gauges(&self, _: &Metrics) {}
    }

    #[tokio::test]
    async fn a_pending_intake_refuses_with_its_reason_until_opened() {
        let p = PendingIntake::new("joining");
        p.waiting_for("waiting for NATS at nats://x:4222: connection refused");
        assert!(!p.ready());
        assert!(p.not_ready_reason().contains("connection refused"));
        match p.store(Vec::new()).await {
            Err(StoreError::Unavailable(m)) => assert!(m.contains("nats://x:4222"), "{m}"),
            other => panic!("{other:?}"),
        }
        p.open(Arc::new(Always));
        assert!(p.ready());
        assert!(p.store(Vec::new()).await.is_ok());
    }
}
