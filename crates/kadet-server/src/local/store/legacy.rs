//! Reading the window JSON of schema version 0 (kadet 0.1.0), for the
//! migration to version 1.

use kadet_engine::alert::EventRef;
use kadet_engine::matches::{Actor, Target};
use kadet_engine::AlertWindow;
use kadet_event::{EventTime, LogType};
use kadet_rules::Severity;
use serde::Deserialize;
use std::collections::BTreeSet;

/// A window as version 0 stored it.
#[derive(Deserialize)]
struct WindowV0 {
    rule_id: String,
    rule_name: String,
    title: String,
    dedup: String,
    severity: String,
    start: i64,
    end: i64,
    last_time: i64,
    count: u64,
    any_time: bool,
    events: Vec<(String, Option<String>)>,
    log_types: Vec<String>,
    summary: Vec<Vec<serde_json::Value>>,
    cluster: Option<String>,
    context: serde_json::Map<String, serde_json::Value>,
    actor: (Option<String>, Vec<String>, Option<String>),
    target: [Option<String>; 5],
}

/// Converts a version-0 window; `distinct` are its `DistinctBy` values,
/// which version 0 kept in a table of their own.
pub fn window(
    text: &str,
    distinct: BTreeSet<String>,
    notified: bool,
) -> Result<AlertWindow, serde_json::Error> {
    let w: WindowV0 = serde_json::from_str(text)?;
    let [verb, resource, subresource, namespace, name] = w.target;
    Ok(AlertWindow {
        rule_id: w.rule_id,
        rule_name: w.rule_name,
        dedup: w.dedup,
        start: EventTime(w.start),
        end: EventTime(w.end),
        last_time: EventTime(w.last_time),
        count: w.count,
        distinct,
        severity: Severity::parse(&w.severity).unwrap_or(Severity::Info),
        title: w.title,
        events: w
            .events
            .into_iter()
            .map(|(location, audit_id)| EventRef { location, audit_id })
            .collect(),
        log_types: w
            .log_types
            .iter()
            .filter_map(|n| LogType::from_name(n))
            .collect(),
        summary: w.summary,
        any_time: w.any_time,
        cluster: w.cluster,
        context: w.context,
        actor: Actor {
            user: w.actor.0,
            source_ips: w.actor.1,
            user_agent: w.actor.2,
        },
        target: Target {
            verb,
            resource,
            subresource,
            namespace,
            name,
        },
        notified,
        seen_addresses: BTreeSet::new(),
        seen_user_agents: BTreeSet::new(),
        sliding: Default::default(),
    })
}
