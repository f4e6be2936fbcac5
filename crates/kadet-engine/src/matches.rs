//! A rule match: what the pipeline hands to the alerter and to `--emit matches`.

use kadet_event::{CanonicalEvent, EventTime, Location, LogType, Value};
use kadet_rules::{Outcome, Rule, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who did it and to what, taken from the event for OCSF and tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// `user.username`.
    pub user: Option<String>,
    /// `sourceIPs`.
    pub source_ips: Vec<String>,
    /// `userAgent`.
    pub user_agent: Option<String>,
}

/// The object a request touched.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// `verb`.
    pub verb: Option<String>,
    /// `objectRef.resource`.
    pub resource: Option<String>,
    /// `objectRef.subresource`.
    pub subresource: Option<String>,
    /// `objectRef.namespace`.
    pub namespace: Option<String>,
    /// `objectRef.name`.
    pub name: Option<String>,
}

/// One (event, rule) match. Its stored form (serde) leaves out the rule
/// index, which only means something in one loaded rule set: whoever
/// stores a match stores its rule id beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Match {
    /// Index of the rule in the rule set.
    #[serde(skip)]
    pub rule: usize,
    /// Title, dedup, severity, context.
    pub outcome: Outcome,
    /// Event time.
    pub time: Option<EventTime>,
    /// Where the event is.
    pub location: Location,
    /// `auditID`.
    pub audit_id: Option<String>,
    /// Log type of the source.
    pub log_type: LogType,
    /// Cluster name.
    pub cluster: Option<String>,
    /// Values of the rule's SummaryAttributes, in order.
    pub summary: Vec<serde_json::Value>,
    /// Event fields correlation rules read from this match
    /// ([`kadet_rules::Rule::join_fields`]), each as its values' texts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Vec<String>>,
    /// Actor.
    pub actor: Actor,
    /// Target.
    pub target: Target,
}

fn s(ev: &CanonicalEvent<'_>, keys: &[&str]) -> Option<String> {
    ev.str_at(keys).map(str::to_string)
}

impl Match {
    /// Builds the match record for a rule that matched `ev`.
    pub fn new(rule_index: usize, rule: &Rule, ev: &CanonicalEvent<'_>) -> Match {
        let outcome = rule.outcome(ev);
        let summary = rule
            .summary_attributes
            .iter()
            .map(|attr| {
                let found = kadet_rules::path::FieldPath::parse(attr)
                    .map(|p| p.resolve_event(ev).to_json())
                    .unwrap_or(serde_json::Value::Null);
                if found.is_null() {
                    outcome
                        .context
                        .get(attr)
                        .cloned()
                        .unwrap_or(serde_json::Value::Null)
                } else {
                    found
                }
            })
            .collect();
        let source_ips = ev
            .audit
            .get("sourceIPs")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let fields = rule
            .join_fields
            .iter()
            .map(|p| (p.to_string(), json_texts(&p.resolve_event(ev).to_json())))
            .collect();
        Match {
            rule: rule_index,
            outcome,
            fields,
            time: ev.time,
            location: ev.meta.location.clone(),
            audit_id: ev.audit_id().map(str::to_string),
            log_type: ev.meta.log_type,
            cluster: ev.cluster().map(str::to_string),
            summary,
            actor: Actor {
                user: s(ev, &["user", "username"]),
                source_ips,
                user_agent: s(ev, &["userAgent"]),
            },
            target: Target {
                verb: s(ev, &["verb"]),
                resource: s(ev, &["objectRef", "resource"]),
                subresource: s(ev, &["objectRef", "subresource"]),
                namespace: s(ev, &["objectRef", "namespace"]),
                name: s(ev, &["objectRef", "name"]),
            },
        }
    }

    /// A match of rule `rule_index` at `time` with no event behind it: title
    /// and dedup string `key`, the rule's severity, nothing else. For matches
    /// made from other matches' data (correlation tests) and for tests.
    pub fn bare(rule_index: usize, rule: &Rule, key: &str, time: EventTime) -> Match {
        Match {
            rule: rule_index,
            outcome: Outcome {
                title: key.to_string(),
                dedup: key.to_string(),
                severity: rule.severity,
                context: Default::default(),
                distinct: None,
                follow_key: None,
                period_seconds: None,
                first_seen: None,
            },
            time: Some(time),
            location: Location::line(std::sync::Arc::from("-"), 0),
            audit_id: None,
            log_type: LogType::KubernetesAudit,
            cluster: None,
            summary: Vec::new(),
            fields: BTreeMap::new(),
            actor: Actor::default(),
            target: Target::default(),
        }
    }

    /// Severity of this match.
    pub fn severity(&self) -> Severity {
        self.outcome.severity
    }
}

/// A JSON value as the texts a correlation compares: a scalar's text, or
/// each scalar element of a list (nested lists and objects are left out).
pub fn json_texts(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Null | serde_json::Value::Object(_) => Vec::new(),
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a
            .iter()
            .filter(|x| !x.is_array() && !x.is_object())
            .flat_map(json_texts)
            .collect(),
        other => vec![other.to_string()],
    }
}

/// The `--emit matches` record.
#[derive(Debug, Serialize)]
pub struct MatchRecord<'a> {
    /// RuleID.
    pub rule_id: &'a str,
    /// Title.
    pub title: &'a str,
    /// Dedup string.
    pub dedup: &'a str,
    /// Severity.
    pub severity: &'static str,
    /// True for rules with `CreateAlert: false`.
    pub signal: bool,
    /// Cluster.
    pub cluster: Option<&'a str>,
    /// Log type.
    pub log_type: &'static str,
    /// Event time (RFC 3339).
    pub event_time: Option<String>,
    /// Alert context.
    pub context: &'a serde_json::Map<String, serde_json::Value>,
    /// `file:line` or `file:line#record`.
    pub location: String,
    /// auditID.
    pub audit_id: Option<&'a str>,
    /// A Sigma rule's metadata (its author, as its license asks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma: Option<&'a kadet_rules::sigma::SigmaMeta>,
}

impl<'a> MatchRecord<'a> {
    /// The record for a match.
    pub fn new(m: &'a Match, rule: &'a Rule) -> Self {
        MatchRecord {
            rule_id: &rule.id,
            title: &m.outcome.title,
            dedup: &m.outcome.dedup,
            severity: m.outcome.severity.name(),
            signal: !rule.create_alert,
            cluster: m.cluster.as_deref(),
            log_type: m.log_type.name(),
            event_time: m.time.map(|t| t.to_rfc3339()),
            context: &m.outcome.context,
            location: m.location.to_string(),
            audit_id: m.audit_id.as_deref(),
            sigma: rule.sigma.as_deref(),
        }
    }
}
