//! `kadet serve`: real-time detection from the kube-apiserver audit webhook,
//! EKS audit logs through Kinesis Data Firehose, and AKS diagnostic batches.
//!
//! One server, two modes as peers over a shared core
//! (`docs/internal/architecture.md` has the picture):
//!
//! - [`start`]: the one start path: [`start::prepare`] checks everything
//!   (and is all `--check-config` runs), then the mode, the rule reloader
//!   and the listener start;
//! - [`http`]: the HTTP(S) front of both modes: TLS, authentication, the
//!   ingest endpoints, metrics and health;
//! - [`core`]: what both modes share: the accepted [`core::batch::Batch`],
//!   the [`core::intake::Intake`] each mode provides, detection timing and
//!   counting, the one delivery policy, dead letters;
//! - [`local`]: single-process mode (the default): journal, detector,
//!   SQLite store and outbox;
//! - [`cluster`]: cluster mode on NATS JetStream.
//!
//! Neither mode refers to the other: `.ci/check-modules.py` checks it.

#![warn(missing_docs)]

pub mod active_rules;
pub mod check;
pub mod cluster;
pub mod config;
pub mod core;
pub mod http;
pub mod local;
pub mod metrics;
pub mod problem;
pub mod secret_files;
pub mod sinks;
pub mod sources;
pub mod start;
pub mod state_dir;

pub use start::run;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// This machine's name (the pod name in Kubernetes): `$HOSTNAME`, else the
/// kernel's, else `kadet`. Instances name themselves after it.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "kadet".into())
}

/// What the command line gives.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Config file; `None`: the embedded defaults.
    pub config: Option<PathBuf>,
    /// Allow a non-loopback listener without TLS and auth.
    pub insecure_listen: bool,
}
