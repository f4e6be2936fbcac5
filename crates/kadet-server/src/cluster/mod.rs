//! Cluster mode: many `kadet serve` instances on NATS JetStream, each doing
//! all the work, none of them special for long. Switched on by `[cluster]`
//! in the config; without it `serve` runs as one process with its journal.
//!
//! The data path (`docs/cluster.md` has the picture):
//!
//! 1. **Intake** ([`intake`]): an accepted batch is redacted and published to
//!    the audit stream with a message id derived from its content; the
//!    client gets `200` only after JetStream's acknowledgement, `503` if it
//!    does not come. A batch the API server resends is dropped by
//!    JetStream's duplicate window instead of counting twice.
//! 2. **Detection** ([`detect`]): every instance pulls batches from one
//!    durable consumer and evaluates them (the CPU-heavy part, so it scales
//!    with instances). Each batch's matches go to the results stream as one
//!    message, then the batch is acked. A batch an instance died on is
//!    redelivered to another after `ack_wait`; one that keeps failing goes
//!    to the dead-letter stream after `max_deliver` deliveries.
//! 3. **Alerting** ([`applier`]): one instance at a time, holder of a lease
//!    in the state bucket, applies the results in the order the batches were
//!    accepted, with the same [`Alerter`](kadet_engine::Alerter) as `scan`
//!    and single-process `serve`, so every mode raises the same alerts with
//!    the same `alert_id`s. Its state (windows, reorder buffer) is saved in
//!    the state bucket with compare-and-set on the revision: a new holder
//!    resumes from it and replays the results after it, and a former holder
//!    that lost its lease cannot overwrite it. Alerts go to the alerts
//!    stream with `alert_id` as the message id: raised once.
//! 4. **Delivery** ([`deliver`]): each sink has a durable consumer on the
//!    alerts stream, shared by all instances.
//!
//! Pulled sources ([`sources`]) are read by one instance at a time, the
//! holder of the source's lease; their checkpoints are in the state bucket.

pub mod applier;
pub mod dead_letters;
pub mod deliver;
pub mod detect;
pub mod intake;
pub mod lease;
pub mod nats;
pub mod node;
pub mod result;
pub mod sources;
pub mod state;

pub use crate::config::cluster::{ClusterConfig, Urls};
pub use intake::ClusterIntake;
pub use nats::Nats;
