//! Delivery of alerts to the configured sinks: the destinations
//! ([`target`]: stdout, files, webhooks, with signed webhook deliveries,
//! [`signature`]), and the outbox loop of one sink ([`worker`]).

pub mod file_ids;
pub mod signature;
pub mod target;
pub mod worker;

pub use target::Target;
pub use worker::Worker;

use anyhow::{Context, Result};
use std::path::Path;

/// Reads a token file: the first line, trimmed.
pub fn read_token(p: &Path) -> Result<String> {
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read token file {}", p.display()))?;
    let t = text.lines().next().unwrap_or("").trim().to_string();
    if t.is_empty() {
        anyhow::bail!("token file {} is empty", p.display());
    }
    Ok(t)
}
