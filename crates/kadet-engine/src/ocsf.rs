//! Alerts as OCSF Detection Findings (class_uid 2004).

use crate::alert::Alert;
use crate::attack::AttackRef;
use kadet_event::EventTime;
use kadet_rules::{Rule, Severity};
use serde_json::{json, Map, Value};

/// OCSF schema version the output follows.
pub const OCSF_VERSION: &str = "1.3.0";

/// OCSF `severity_id`: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical.
pub fn severity_id(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

fn millis(t: Option<&str>) -> Option<i64> {
    t.and_then(EventTime::parse).map(EventTime::unix_millis)
}

/// MITRE ATT&CK entries from `Reports` (`TA0003:T1098`, or a lone `TA0003`
/// or `T1098` as Sigma tags give), with their names.
fn attacks(rule: Option<&Rule>) -> Vec<Value> {
    let Some(rule) = rule else { return Vec::new() };
    let named = |uid: &str| match crate::attack::name(uid) {
        Some(name) => json!({ "uid": uid, "name": name }),
        None => json!({ "uid": uid }),
    };
    rule.report_ids("mitre")
        .into_iter()
        .filter_map(AttackRef::parse)
        .map(|r| {
            let mut a = Map::new();
            if let Some(t) = &r.tactic {
                a.insert("tactic".into(), named(t));
            }
            if let Some(t) = &r.technique {
                a.insert("technique".into(), named(t));
            }
            if let Some(t) = &r.sub_technique {
                a.insert("sub_technique".into(), named(t));
            }
            a.insert("version".into(), json!(crate::attack::ATTACK_VERSION));
            Value::Object(a)
        })
        .collect()
}

/// Maps an alert to a Detection Finding.
pub fn detection_finding(a: &Alert, rule: Option<&Rule>) -> Value {
    let (sev_id, sev_name) = severity_id(a.severity);
    let first = millis(a.first_seen.as_deref());
    let last = millis(a.last_seen.as_deref());
    let mut out = Map::new();
    out.insert("activity_id".into(), json!(1));
    out.insert("activity_name".into(), json!("Create"));
    out.insert("category_uid".into(), json!(2));
    out.insert("category_name".into(), json!("Findings"));
    out.insert("class_uid".into(), json!(2004));
    out.insert("class_name".into(), json!("Detection Finding"));
    out.insert("type_uid".into(), json!(200401));
    out.insert("type_name".into(), json!("Detection Finding: Create"));
    out.insert("severity_id".into(), json!(sev_id));
    out.insert("severity".into(), json!(sev_name));
    out.insert("status_id".into(), json!(1));
    out.insert("status".into(), json!("New"));
    out.insert("time".into(), json!(first.unwrap_or(0)));
    if let (Some(f), Some(l)) = (first, last) {
        out.insert("start_time".into(), json!(f));
        out.insert("end_time".into(), json!(l));
    }
    out.insert("count".into(), json!(a.event_count));
    out.insert("message".into(), json!(a.title));
    out.insert("finding_info".into(), finding_info(a, rule, first, last));
    out.insert(
        "metadata".into(),
        json!({
            "version": OCSF_VERSION,
            "product": { "name": "kadet", "vendor_name": "kadet", "version": env!("CARGO_PKG_VERSION") },
            "uid": a.alert_id,
        }),
    );
    let resources = resources(a);
    if !resources.is_empty() {
        out.insert("resources".into(), Value::Array(resources));
    }
    let (evidence, observables) = evidence(a);
    if !evidence.is_empty() {
        out.insert("evidences".into(), json!([Value::Object(evidence)]));
    }
    if !observables.is_empty() {
        out.insert("observables".into(), Value::Array(observables));
    }
    out.insert("unmapped".into(), unmapped(a));
    Value::Object(out)
}

/// `finding_info`: what was found, by which rule, when.
fn finding_info(a: &Alert, rule: Option<&Rule>, first: Option<i64>, last: Option<i64>) -> Value {
    let mut finding = Map::new();
    finding.insert("uid".into(), json!(a.alert_id));
    finding.insert("title".into(), json!(a.title));
    if let Some(d) = rule.and_then(|r| r.description.clone()) {
        finding.insert("desc".into(), json!(d.trim()));
    }
    if let Some(f) = first {
        finding.insert("first_seen_time".into(), json!(f));
    }
    if let Some(l) = last {
        finding.insert("last_seen_time".into(), json!(l));
    }
    finding.insert(
        "analytic".into(),
        json!({ "uid": a.rule_id, "name": a.rule_name, "type_id": 1, "type": "Rule" }),
    );
    let att = attacks(rule);
    if !att.is_empty() {
        finding.insert("attacks".into(), Value::Array(att));
    }
    if let Some(tags) = rule.map(|r| r.tags.clone()).filter(|t| !t.is_empty()) {
        finding.insert("types".into(), json!(tags));
    }
    if let Some(r) = &a.reference {
        finding.insert("src_url".into(), json!(r));
    }
    Value::Object(finding)
}

/// `resources`: the cluster and the object acted on.
fn resources(a: &Alert) -> Vec<Value> {
    let mut resources = Vec::new();
    if let Some(c) = &a.cluster {
        resources.push(json!({ "type": "Kubernetes Cluster", "name": c }));
    }
    if a.target.resource.is_some() || a.target.name.is_some() {
        let mut r = Map::new();
        if let Some(t) = &a.target.resource {
            r.insert("type".into(), json!(t));
        }
        // OCSF wants a name (or uid): a request on a collection (a list)
        // names the collection.
        if let Some(n) = a.target.name.as_ref().or(a.target.resource.as_ref()) {
            r.insert("name".into(), json!(n));
        }
        if let Some(ns) = &a.target.namespace {
            r.insert("namespace".into(), json!(ns));
        }
        resources.push(Value::Object(r));
    }
    resources
}

/// Detection Finding 1.3.0 carries who and where in `evidences`; the same
/// values are `observables`.
fn evidence(a: &Alert) -> (Map<String, Value>, Vec<Value>) {
    let mut evidence = Map::new();
    let mut observables = Vec::new();
    if let Some(u) = &a.actor.user {
        evidence.insert("actor".into(), json!({ "user": { "name": u } }));
        observables.push(json!({ "name": "evidences.actor.user.name", "type_id": 4, "type": "User Name", "value": u }));
    }
    if let Some(ip) = a.actor.source_ips.first() {
        evidence.insert("src_endpoint".into(), json!({ "ip": ip }));
        observables.push(json!({ "name": "evidences.src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": ip }));
    }
    if let Some(verb) = &a.target.verb {
        evidence.insert("api".into(), json!({ "operation": verb }));
    }
    if let Some(ua) = &a.actor.user_agent {
        evidence.insert("data".into(), json!({ "user_agent": ua }));
        observables.push(json!({ "name": "evidences.data.user_agent", "type_id": 16, "type": "HTTP User-Agent", "value": ua }));
    }
    (evidence, observables)
}

/// `unmapped`: kadet's own fields.
fn unmapped(a: &Alert) -> Value {
    let mut unmapped = Map::new();
    unmapped.insert("dedup".into(), json!(a.dedup));
    if let Some(meta) = &a.sigma {
        unmapped.insert("sigma".into(), json!(meta));
    }
    unmapped.insert("context".into(), Value::Object(a.context.clone()));
    if a.actor.source_ips.len() > 1 {
        unmapped.insert("source_ips".into(), json!(a.actor.source_ips));
    }
    Value::Object(unmapped)
}
