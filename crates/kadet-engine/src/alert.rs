//! [`Alert`]: what kadet reports, in every mode and every output format:
//! one dedup window that reached its threshold, with the rule's metadata,
//! the first matching events ([`EventRef`]) and summary values.

use crate::matches::{Actor, Target};
use kadet_event::EventTime;
use kadet_rules::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A reference to a matching event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    /// `file:line` or `file:line#record`.
    pub location: String,
    /// auditID.
    pub audit_id: Option<String>,
}

/// A finished alert (or signal).
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Stable id: hash of rule id, dedup string and window start.
    pub alert_id: String,
    /// RuleID.
    pub rule_id: String,
    /// DisplayName (or RuleID).
    pub rule_name: String,
    /// Highest severity among the matches.
    pub severity: Severity,
    /// Title of the first match.
    pub title: String,
    /// Dedup string.
    pub dedup: String,
    /// Matches in the window.
    pub event_count: u64,
    /// Event time of the first match (RFC 3339), when known.
    pub first_seen: Option<String>,
    /// Event time of the last match.
    pub last_seen: Option<String>,
    /// Log types of the matches.
    pub log_types: Vec<&'static str>,
    /// Cluster of the first match that names one.
    pub cluster: Option<String>,
    /// Alert context of the first match.
    pub context: serde_json::Map<String, serde_json::Value>,
    /// SummaryAttributes with their distinct values (at most 20 each).
    pub summary: BTreeMap<String, Vec<serde_json::Value>>,
    /// Reports (framework → ids).
    pub reports: BTreeMap<String, Vec<String>>,
    /// Reference.
    pub reference: Option<String>,
    /// Runbook.
    pub runbook: Option<String>,
    /// A Sigma rule's metadata (author, references, false positives, ...):
    /// the Detection Rule License asks alerts to name the author.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma: Option<Box<kadet_rules::sigma::SigmaMeta>>,
    /// The first matching events (at most `events_cap`).
    pub events: Vec<EventRef>,
    /// The cap on `events`.
    pub events_cap: usize,
    /// True when more matches than `events_cap` exist.
    pub events_truncated: bool,
    /// True for `CreateAlert: false` rules.
    #[serde(skip)]
    pub signal: bool,
    /// Actor of the first match (for OCSF).
    #[serde(skip)]
    pub actor: Actor,
    /// Target of the first match (for OCSF).
    #[serde(skip)]
    pub target: Target,
    /// Window start, for ordering.
    #[serde(skip)]
    pub window_start: EventTime,
}
