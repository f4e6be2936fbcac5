//! What goes wrong while reading records, and what is passed over on purpose:
//! [`Skip`] (a record that could not be read, with where and why),
//! [`DecodeError`] (the same before its location is known), and the reason
//! enums that summaries count.

use crate::location::Location;
use std::fmt;

/// Why a record or event was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Not valid JSON.
    MalformedJson,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// Nesting deeper than the parser's limit (128).
    TooDeep,
    /// Larger than the configured size limit.
    TooLarge,
    /// Valid JSON that is no audit record kadet knows.
    UnknownShape,
    /// A compressed or base64 payload that could not be decoded.
    BadEncoding,
    /// Reading the input failed (truncated gzip, I/O error).
    ReadError,
    /// kadet itself failed on the record (a bug): it is passed over so the
    /// rest is still read.
    InternalError,
}

impl SkipReason {
    /// Kebab-case name used in summaries.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::MalformedJson => "malformed-json",
            SkipReason::InvalidUtf8 => "invalid-utf8",
            SkipReason::TooDeep => "too-deep",
            SkipReason::TooLarge => "too-large",
            SkipReason::UnknownShape => "unknown-shape",
            SkipReason::BadEncoding => "bad-encoding",
            SkipReason::ReadError => "read-error",
            SkipReason::InternalError => "internal-error",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Records deliberately passed over: not errors, but counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IgnoreReason {
    /// CloudWatch Logs `CONTROL_MESSAGE`.
    ControlMessage,
    /// Azure diagnostic record of a category other than kube-audit(-admin).
    NonAuditCategory,
    /// GKE entry of a service other than `k8s.io`.
    NonKubernetesService,
    /// An event discarded by the prefilter before parsing.
    Prefiltered,
    /// An event outside the run's time window (`--since`, `--until`), or
    /// without a time when the run has one.
    OutsideWindow,
}

impl IgnoreReason {
    /// Kebab-case name used in summaries.
    pub fn name(self) -> &'static str {
        match self {
            IgnoreReason::ControlMessage => "control-message",
            IgnoreReason::NonAuditCategory => "non-audit-category",
            IgnoreReason::NonKubernetesService => "non-kubernetes-service",
            IgnoreReason::Prefiltered => "prefiltered",
            IgnoreReason::OutsideWindow => "outside-time-window",
        }
    }
}

/// A diagnostic for a skipped record: where, why, and what exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    /// Where the record is.
    pub location: Location,
    /// The category of the problem.
    pub reason: SkipReason,
    /// A one-line description.
    pub message: String,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.reason, self.message)
    }
}

/// An error while decoding one event.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// The category.
    pub reason: SkipReason,
    /// A one-line description.
    pub message: String,
}

impl DecodeError {
    /// Classifies a JSON parser error.
    pub fn from_json(e: serde_json::Error) -> DecodeError {
        Self::from_json_ref(&e)
    }

    /// [`DecodeError::from_json`] of a borrowed error.
    pub fn from_json_ref(e: &serde_json::Error) -> DecodeError {
        let text = e.to_string();
        let reason = if text.contains("recursion limit") {
            SkipReason::TooDeep
        } else if text.contains("unicode") || text.contains("UTF-8") || text.contains("utf-8") {
            SkipReason::InvalidUtf8
        } else if e.is_data() {
            SkipReason::UnknownShape
        } else {
            SkipReason::MalformedJson
        };
        DecodeError {
            reason,
            message: text,
        }
    }

    /// A shape error.
    pub fn shape(message: impl Into<String>) -> DecodeError {
        DecodeError {
            reason: SkipReason::UnknownShape,
            message: message.into(),
        }
    }

    /// Attaches a location.
    pub fn at(self, location: Location) -> Skip {
        Skip {
            location,
            reason: self.reason,
            message: self.message,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

impl std::error::Error for DecodeError {}
