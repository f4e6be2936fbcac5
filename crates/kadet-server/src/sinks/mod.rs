//! The sinks alerts go to, shared by both modes: the destinations
//! ([`target`]: stdout, files, webhooks, with signed webhook deliveries,
//! [`signature`]), what a file sink already holds ([`file_ids`]), and the
//! checks `--check-config` makes of a sink's files ([`problems`]). When and
//! how often to deliver is [`crate::core::delivery`]'s.

pub mod file_ids;
pub mod signature;
pub mod target;

pub use target::Target;

use crate::config::SinkConfig;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

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

/// What is wrong with one sink's files.
pub fn problems(s: &SinkConfig) -> Vec<String> {
    let mut out = Vec::new();
    match s {
        SinkConfig::Stdout { .. } => {}
        SinkConfig::File { path, .. } => {
            if let Some(m) = writable_dir_problem(path) {
                out.push(format!("path {}: {m}", path.display()));
            }
        }
        SinkConfig::Webhook {
            token_file,
            signing_key_file,
            dead_letter,
            ..
        } => {
            for (what, file) in [
                ("token_file", token_file),
                ("signing_key_file", signing_key_file),
            ] {
                if let Some(f) = file {
                    if let Err(e) = read_token(f) {
                        out.push(format!("{what}: {e:#}"));
                    }
                }
            }
            if let Some(p) = dead_letter {
                if let Some(m) = writable_dir_problem(p) {
                    out.push(format!("dead_letter {}: {m}", p.display()));
                }
            }
        }
    }
    out
}

/// Whether a file can be created at `path`: its directory must exist.
fn writable_dir_problem(path: &Path) -> Option<String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some(format!("{} is not a directory", dir.display())),
        Err(e) => Some(format!("directory {}: {e}", dir.display())),
    }
}
