//! A Sigma rule's metadata, kadet's `kadet:` extension key, and the
//! [`Rule`] built from both.
//!
//! | Sigma | kadet |
//! |---|---|
//! | `id` (else `name`) | RuleID |
//! | `title` | display name, and the alert title unless `kadet.title` |
//! | `level` | severity (`informational` → Info; Medium when absent) |
//! | `status` | status; `deprecated` and `unsupported` rules are disabled |
//! | `tags` | tags, and ATT&CK entries under Reports |
//! | `description`, first of `references` | description, reference |
//! | `fields` | alert context: each field's value |
//! | `author`, `date`, `modified`, `references`, `falsepositives`, `license` | kept in [`SigmaMeta`](crate::annotations::SigmaMeta), shown by `rules show`, carried into alerts |

use super::attack;
use super::document::Document;
use super::fields::Logsource;
use crate::annotations::SigmaMeta;
use crate::path::FieldPath;
use crate::rule::{ContextValue, Rule, RuleFormat, Severity};
use crate::source::LoadError;
use crate::template::Template;
use crate::Expr;
use serde::Deserialize;
use serde_norway::Value as Yaml;
use std::collections::BTreeMap;

/// The `kadet:` key of a Sigma rule (Sigma allows extra top-level keys).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KadetExtension {
    /// Field names whose values form the dedup string (default: the fields
    /// the detection names; for a correlation, its `group-by`).
    pub dedup: Option<Vec<String>>,
    /// Alert window length in minutes (default 60; a correlation's timespan).
    pub dedup_period_minutes: Option<u32>,
    /// Alert title template (`{user.username} ...`), default the title.
    pub title: Option<String>,
}

/// A scalar or a list of scalars as strings.
pub fn strings(v: Option<&Yaml>) -> Vec<String> {
    match v {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Sequence(items)) => items.iter().filter_map(text).collect(),
        Some(other) => text(other).into_iter().collect(),
    }
}

fn text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Tagged(t) => text(&t.value),
        _ => None,
    }
}

/// One string-valued top-level key.
pub fn string(doc: &Document<'_>, key: &str) -> Option<String> {
    doc.get(key).and_then(text)
}

/// The parts of a rule every Sigma document kind shares.
pub struct Common {
    /// RuleID.
    pub id: String,
    /// Metadata.
    pub meta: SigmaMeta,
    /// The `kadet:` key.
    pub ext: KadetExtension,
    /// Severity from `level`.
    pub severity: Severity,
    /// Title.
    pub title: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
}

/// Reads the metadata shared by detection and correlation rules.
pub fn common(doc: &Document<'_>) -> Result<Common, LoadError> {
    let id = string(doc, "id")
        .or_else(|| string(doc, "name"))
        .ok_or_else(|| {
            doc.error(
                doc.key_line("title").or(Some(doc.first_line)),
                None,
                "a Sigma rule needs an `id` (or a `name`): kadet uses it as the RuleID",
            )
        })?;
    let level = string(doc, "level");
    let severity = match &level {
        None => Severity::Medium,
        Some(l) => Severity::parse(l).ok_or_else(|| {
            doc.error(
                doc.key_line("level"),
                None,
                format!("unknown level {l:?} (informational, low, medium, high, critical)"),
            )
        })?,
    };
    let ext = match doc.get("kadet") {
        None => KadetExtension::default(),
        Some(v) => serde_norway::from_value(v.clone()).map_err(|e| {
            doc.error(
                doc.key_line("kadet"),
                None,
                format!("kadet: {e} (the keys are dedup, dedup_period_minutes, title)"),
            )
        })?,
    };
    let author = {
        let a = strings(doc.get("author"));
        (!a.is_empty()).then(|| a.join(", "))
    };
    let meta = SigmaMeta {
        id: string(doc, "id"),
        name: string(doc, "name"),
        author,
        date: string(doc, "date"),
        modified: string(doc, "modified"),
        license: string(doc, "license"),
        level,
        references: strings(doc.get("references")),
        falsepositives: strings(doc.get("falsepositives")),
        ..SigmaMeta::default()
    };
    Ok(Common {
        id,
        meta,
        ext,
        severity,
        title: string(doc, "title"),
        status: string(doc, "status"),
        description: string(doc, "description"),
        tags: strings(doc.get("tags")),
    })
}

/// What the rule matches on and how its alerts are grouped.
pub struct Logic {
    /// The compiled detection.
    pub detection: Expr,
    /// The log types it reads.
    pub log_types: Vec<String>,
    /// Default dedup fields.
    pub dedup_fields: Vec<FieldPath>,
    /// Alert context.
    pub context: Vec<(String, ContextValue)>,
    /// Matches per window before alerting.
    pub threshold: u32,
    /// The most a window may count and still alert (see [`Rule::max_count`]).
    pub max_count: Option<u32>,
    /// Count over any span of the window's length ([`Rule::sliding`]).
    pub sliding: bool,
    /// Default window length.
    pub period_minutes: u32,
    /// Count distinct values of this field (`value_count`), not events.
    pub distinct_by: Option<FieldPath>,
}

/// Builds the [`Rule`].
pub fn build(
    doc: &Document<'_>,
    common: Common,
    logic: Logic,
    source: Logsource,
) -> Result<Rule, LoadError> {
    let Common {
        id,
        meta,
        ext,
        severity,
        title,
        status,
        description,
        tags,
    } = common;
    let ext_line = doc.key_line("kadet");
    let group_by = match &ext.dedup {
        Some(names) => names
            .iter()
            .map(|n| source.field(n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| doc.error(ext_line, None, format!("kadet.dedup: {m}")))?,
        None => logic.dedup_fields,
    };
    let alert_title = ext
        .title
        .as_deref()
        .map(Template::parse)
        .transpose()
        .map_err(|m| doc.error(ext_line, None, format!("kadet.title: {m}")))?;
    let enabled = !matches!(
        status.as_deref().map(str::to_ascii_lowercase).as_deref(),
        Some("deprecated" | "unsupported")
    );
    let attack = attack::reports(&tags);
    let mut reports = BTreeMap::new();
    if !attack.is_empty() {
        reports.insert(attack::FRAMEWORK.to_string(), attack);
    }
    let mut keys = Vec::new();
    let detection_keys = crate::rule::root_keys(&logic.detection, &mut keys).then_some(keys);
    Ok(Rule {
        id,
        display_name: title,
        enabled,
        status,
        log_types: logic.log_types,
        tags,
        severity,
        description,
        runbook: None,
        reference: meta.references.first().cloned(),
        reports,
        dedup_period_minutes: ext
            .dedup_period_minutes
            .unwrap_or(logic.period_minutes)
            .max(1),
        threshold: logic.threshold.max(1),
        max_count: logic.max_count,
        sliding: logic.sliding,
        summary_attributes: Vec::new(),
        create_alert: true,
        output_ids: Vec::new(),
        detection: logic.detection,
        title: alert_title,
        dedup: None,
        group_by,
        context: logic.context,
        dynamic_severities: Vec::new(),
        dynamic_titles: Vec::new(),
        distinct_by: logic.distinct_by,
        follows: None,
        period_seconds_from: None,
        first_seen: None,
        correlation: None,
        join_fields: Vec::new(),
        tests: Vec::new(),
        source: doc.file.to_string(),
        detection_raw: crate::model::ExprList::default(),
        detection_keys,
        exclusions: Vec::new(),
        tuning: Vec::new(),
        format: RuleFormat::Sigma,
        sigma: Some(Box::new(meta)),
    })
}

/// The alert context of a rule's `fields`: each field's value.
pub fn context(
    doc: &Document<'_>,
    source: Logsource,
) -> Result<Vec<(String, ContextValue)>, LoadError> {
    strings(doc.get("fields"))
        .into_iter()
        .map(|name| {
            let path = source
                .field(&name)
                .map_err(|m| doc.error(doc.key_line("fields"), None, format!("fields: {m}")))?;
            Ok((name, ContextValue::Path(path)))
        })
        .collect()
}
