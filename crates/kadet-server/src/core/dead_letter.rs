//! Dead letters: what kadet could not process, in one shape in both modes.
//! A record kadet failed on, a batch instances kept dying on, a stored
//! state row that no longer reads, and an alert no delivery attempt got
//! through all become a [`DeadLetter`]: single-process mode appends it to
//! `<state dir>/dead-letter.jsonl` (fsynced), cluster mode publishes it to
//! the dead-letter stream (subject `<stream>.<kind>`). Nothing is dropped
//! without one.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file dead letters go to in single-process mode, in the state
/// directory.
pub const DEAD_LETTER_FILE: &str = "dead-letter.jsonl";

/// What could not be processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One record of a batch: evaluating it failed inside kadet.
    Record,
    /// A whole batch: instances kept dying on it (cluster mode).
    Batch,
    /// A stored row (a window, a buffered match) that no longer reads.
    State,
    /// An alert a sink gave up delivering.
    Alert,
}

impl Kind {
    /// The name in the JSON and in subjects and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Record => "record",
            Kind::Batch => "batch",
            Kind::State => "state",
            Kind::Alert => "alert",
        }
    }
}

/// One dead letter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// What it is.
    pub kind: Kind,
    /// Why it could not be processed.
    pub reason: String,
    /// Where it came from: a record's location (`/v1/audit, accepted …, batch <offset>#<n>`), a
    /// batch's sequence, a stored row's table and key, an alert's sink.
    pub origin: String,
    /// When kadet gave up on it (RFC 3339, UTC).
    pub at: String,
    /// The thing itself: the record's or state's text, or the alert.
    pub payload: serde_json::Value,
}

impl DeadLetter {
    /// A dead letter given up on now.
    pub fn new(
        kind: Kind,
        reason: impl Into<String>,
        origin: impl Into<String>,
        payload: serde_json::Value,
    ) -> DeadLetter {
        DeadLetter {
            kind,
            reason: reason.into(),
            origin: origin.into(),
            at: now_rfc3339(),
            payload,
        }
    }

    /// Bytes as text (lossy) for the payload.
    pub fn text(bytes: &[u8]) -> serde_json::Value {
        String::from_utf8_lossy(bytes).into_owned().into()
    }

    /// One JSON line.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                r#"{{"kind":"{}","reason":"unrenderable: {e}"}}"#,
                self.kind.name()
            )
        });
        line.push('\n');
        line
    }

    /// Appends it to `path` (a private file) and syncs it.
    pub fn append_to(&self, path: &Path) -> std::io::Result<()> {
        let mut f = crate::state_dir::open_private_append(path)?;
        f.write_all(self.to_line().as_bytes())?;
        f.sync_data()
    }
}

/// Where a mode puts its dead letters.
pub trait DeadLetters: Send + Sync {
    /// Keeps `d` durably; an error means it was not kept.
    fn put(&self, d: &DeadLetter) -> anyhow::Result<()>;
}

/// Dead letters appended to a file (single-process mode, and a webhook
/// sink's `dead_letter` file in either mode).
pub struct DeadLetterFile(pub PathBuf);

impl DeadLetterFile {
    /// Single-process mode's dead letters: [`DEAD_LETTER_FILE`] in the
    /// state directory.
    pub fn in_state_dir(dir: &Path) -> DeadLetterFile {
        DeadLetterFile(dir.join(DEAD_LETTER_FILE))
    }
}

impl DeadLetters for DeadLetterFile {
    fn put(&self, d: &DeadLetter) -> anyhow::Result<()> {
        use anyhow::Context;
        d.append_to(&self.0)
            .with_context(|| format!("cannot write the dead-letter file {}", self.0.display()))
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_with_every_field() {
        let d = DeadLetter::new(Kind::Record, "boom", "audit:0#1", DeadLetter::text(b"{}"));
        let line = d.to_line();
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["kind"], "record");
        assert_eq!(v["origin"], "audit:0#1");
        assert_eq!(v["payload"], "{}");
        assert!(v["at"].as_str().unwrap().ends_with('Z'));
    }
}
