//! What single-process mode and cluster mode share, and all they share:
//!
//! - [`batch`]: an accepted [`Batch`](batch::Batch), its
//!   [`Source`](batch::Source) and its digest;
//! - [`ingest`]: from received bytes to documents fit to store (checked,
//!   unwrapped, oversized events dropped, secrets redacted), for the HTTP
//!   front and the pulled sources alike;
//! - [`intake`]: the [`Intake`](intake::Intake) each mode gives the HTTP
//!   front and the sources;
//! - [`detection`]: how matches become alerts in time, and what evaluating
//!   a batch is counted as;
//! - [`delivery`]: the one delivery policy of every sink;
//! - [`dead_letter`]: what could not be processed, in one shape.

pub mod batch;
pub mod dead_letter;
pub mod delivery;
pub mod detection;
pub mod ingest;
pub mod intake;
