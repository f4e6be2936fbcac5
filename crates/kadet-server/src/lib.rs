//! `kadet serve`: real-time detection from the kube-apiserver audit webhook,
//! EKS audit logs through Kinesis Data Firehose, and AKS diagnostic batches.
//!
//! The data path, each step durable before the next:
//!
//! 1. [`server`]: HTTPS with bearer-token and/or client-certificate auth;
//!    bodies are checked ([`ingest`]) and only what passes is journaled;
//! 2. [`journal`]: CRC-framed records in segment files, fsynced with group
//!    commit *before* the client gets its 2xx;
//! 3. [`detector`]: reads the journal in order, evaluates it with the same
//!    decoders and rules as `kadet scan`, and keeps windows, thresholds and
//!    the alert outbox in SQLite, committed together with the journal offset;
//! 4. [`sinks`]: deliver the outbox (stdout, files, webhooks) at least once,
//!    idempotent by `alert_id`.

#![warn(missing_docs)]

pub mod active_rules;
pub mod check;
pub mod cluster;
pub mod config;
pub mod detector;
pub mod ingest;
pub mod intake;
pub mod journal;
pub mod metrics;
pub mod server;
pub mod sinks;
pub mod startup;
pub mod state_dir;
pub mod store;

pub use startup::run;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What the command line gives.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Config file; `None`: the embedded defaults.
    pub config: Option<PathBuf>,
    /// Allow a non-loopback listener without TLS and auth.
    pub insecure_listen: bool,
}
