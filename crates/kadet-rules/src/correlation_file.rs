//! A Panther `correlation_rule` file: its model as written (unknown keys are
//! errors) and its compilation into a [`Rule`] whose detection never matches
//! an event and whose [`Correlation`] the engine runs on its steps' matches.

use crate::compile::CompileError;
use crate::correlation::{err, Correlation, CorrelationTest, FieldRef, Pattern, Step, Transition};
use crate::rule::{Rule, RuleFormat, Severity};
use serde::Deserialize;
use serde_norway::Value as Yaml;
use std::collections::BTreeMap;

/// A correlation rule file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct CorrelationFile {
    pub AnalysisType: String,
    pub RuleID: Option<String>,
    pub DisplayName: Option<String>,
    pub Enabled: Option<bool>,
    pub Status: Option<String>,
    pub Severity: Option<String>,
    pub Description: Option<String>,
    pub Runbook: Option<String>,
    pub Reference: Option<String>,
    #[serde(default)]
    pub Reports: BTreeMap<String, Vec<Yaml>>,
    #[serde(default)]
    pub Tags: Vec<String>,
    pub DedupPeriodMinutes: Option<u32>,
    #[serde(default)]
    pub OutputIds: Vec<String>,
    pub Detection: Option<Vec<DetectionRaw>>,
    #[serde(default)]
    pub Tests: Vec<CorrelationTestRaw>,
}

/// One `Detection` entry: a `Sequence` or a `Group` with its settings.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct DetectionRaw {
    pub Sequence: Option<Vec<StepRaw>>,
    pub Group: Option<Vec<StepRaw>>,
    pub Transitions: Option<Vec<TransitionRaw>>,
    pub MatchCriteria: Option<BTreeMap<String, Vec<CriterionRaw>>>,
    pub LookbackWindowMinutes: Option<u32>,
    pub Schedule: Option<Yaml>,
    pub EventEvaluationOrder: Option<String>,
}

/// A step (`Sequence`) or group (`Group`).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct StepRaw {
    pub ID: String,
    pub RuleID: String,
    pub MinMatchCount: Option<u32>,
    pub Absence: Option<bool>,
}

/// A `Transitions` entry.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct TransitionRaw {
    pub ID: Option<String>,
    pub From: String,
    pub To: String,
    pub WithinTimeFrameMinutes: Option<u32>,
    #[serde(default)]
    pub Match: Vec<MatchRaw>,
}

/// A transition's `Match` entry: `On`, or `From` and `To`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct MatchRaw {
    pub On: Option<String>,
    pub From: Option<String>,
    pub To: Option<String>,
}

/// A `MatchCriteria` entry: which field of which group.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct CriterionRaw {
    pub GroupID: String,
    pub Match: String,
}

/// A correlation rule's unit test: the steps' matches, by field and value.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct CorrelationTestRaw {
    pub Name: String,
    pub ExpectedResult: bool,
    #[serde(default)]
    pub RuleOutputs: Vec<RuleOutputRaw>,
}

/// One step's matches in a test: field → value → times (RFC 3339, or a
/// number of minutes from an arbitrary origin).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct RuleOutputRaw {
    pub ID: String,
    pub Matches: BTreeMap<String, serde_norway::Mapping>,
}

/// The default look-back when a rule gives none: one day.
const DEFAULT_LOOKBACK_MINUTES: u32 = 1440;

/// Compiles a correlation rule file into a [`Rule`] whose detection never
/// matches an event: it alerts through [`Rule::correlation`].
pub fn compile(file: CorrelationFile, source: &str) -> Result<Rule, CompileError> {
    let id = file
        .RuleID
        .clone()
        .ok_or_else(|| err("RuleID", "RuleID is required", None))?;
    let detection = file
        .Detection
        .as_deref()
        .ok_or_else(|| err("Detection", "Detection is required", None))?;
    let [entry] = detection else {
        return Err(err(
            "Detection",
            format!(
                "a correlation rule has one Sequence or Group entry; this one has {}",
                detection.len()
            ),
            None,
        ));
    };
    let lookback_minutes = entry
        .LookbackWindowMinutes
        .unwrap_or(DEFAULT_LOOKBACK_MINUTES)
        .max(1);
    let pattern = match (&entry.Sequence, &entry.Group) {
        (Some(steps), None) => sequence(steps, entry, lookback_minutes)?,
        (None, Some(groups)) => group(groups, entry)?,
        _ => {
            return Err(err(
                "Detection[0]",
                "give either Sequence (with Transitions) or Group (with MatchCriteria)",
                None,
            ))
        }
    };
    let sev_text = file.Severity.clone().unwrap_or_else(|| "Info".into());
    let severity = Severity::parse(&sev_text).ok_or_else(|| {
        err(
            "Severity",
            format!("unknown severity {sev_text:?} (Info, Low, Medium, High, Critical)"),
            Some(&sev_text),
        )
    })?;
    let tests = file.Tests.iter().map(test).collect::<Result<Vec<_>, _>>()?;
    let reports = file
        .Reports
        .iter()
        .map(|(k, vs)| {
            let ids = vs
                .iter()
                .filter_map(|v| match v {
                    Yaml::String(s) => Some(s.clone()),
                    Yaml::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect();
            (k.clone(), ids)
        })
        .collect();
    Ok(Rule {
        id,
        display_name: file.DisplayName,
        enabled: file.Enabled.unwrap_or(true),
        status: file.Status,
        log_types: Vec::new(),
        tags: file.Tags,
        severity,
        description: file.Description,
        runbook: file.Runbook,
        reference: file.Reference,
        reports,
        dedup_period_minutes: file.DedupPeriodMinutes.unwrap_or(60).max(1),
        threshold: 1,
        max_count: None,
        sliding: false,
        summary_attributes: Vec::new(),
        create_alert: true,
        output_ids: file.OutputIds,
        detection: crate::expr::Expr::Const(false),
        title: None,
        dedup: None,
        group_by: Vec::new(),
        context: Vec::new(),
        dynamic_severities: Vec::new(),
        dynamic_titles: Vec::new(),
        distinct_by: None,
        follows: None,
        period_seconds_from: None,
        first_seen: None,
        correlation: Some(Box::new(Correlation {
            pattern,
            lookback_minutes,
            tests,
        })),
        join_fields: Vec::new(),
        tests: Vec::new(),
        source: source.to_string(),
        detection_raw: crate::model::ExprList::default(),
        detection_keys: Some(Vec::new()),
        exclusions: Vec::new(),
        tuning: Vec::new(),
        format: RuleFormat::Panther,
        sigma: None,
    })
}

fn step(raw: &StepRaw, at: &str) -> Result<Step, CompileError> {
    if raw.ID.trim().is_empty() || raw.RuleID.trim().is_empty() {
        return Err(err(at, "each entry needs an ID and a RuleID", None));
    }
    if raw.MinMatchCount == Some(0) {
        return Err(err(
            at,
            "MinMatchCount is at least 1",
            Some("MinMatchCount: 0"),
        ));
    }
    Ok(Step {
        id: raw.ID.clone(),
        rule_id: raw.RuleID.trim().to_string(),
        min_matches: raw.MinMatchCount.unwrap_or(1),
        absent: raw.Absence.unwrap_or(false),
    })
}

fn sequence(raw: &[StepRaw], entry: &DetectionRaw, lookback: u32) -> Result<Pattern, CompileError> {
    if raw.len() < 2 {
        return Err(err(
            "Detection[0].Sequence",
            "a Sequence has at least two steps",
            None,
        ));
    }
    let steps = raw
        .iter()
        .enumerate()
        .map(|(i, s)| step(s, &format!("Detection[0].Sequence[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((i, s)) = steps[..steps.len() - 1]
        .iter()
        .enumerate()
        .find(|(_, s)| s.absent)
    {
        return Err(err(
            &format!("Detection[0].Sequence[{i}]"),
            format!(
                "kadet runs Absence on the last step of a Sequence only (\"not followed by\"); step {:?} is not last",
                s.id
            ),
            Some("Absence"),
        ));
    }
    let given = entry.Transitions.as_deref().unwrap_or_default();
    let mut transitions = Vec::new();
    for i in 0..steps.len() - 1 {
        let (from, to) = (&steps[i].id, &steps[i + 1].id);
        let Some((k, t)) = given
            .iter()
            .enumerate()
            .find(|(_, t)| &t.From == from && &t.To == to)
        else {
            return Err(err(
                "Detection[0].Transitions",
                format!("kadet needs a transition from each step to the next: none from {from:?} to {to:?}"),
                None,
            ));
        };
        let at = format!("Detection[0].Transitions[{k}]");
        let mut pairs = Vec::new();
        for (j, m) in t.Match.iter().enumerate() {
            let at = format!("{at}.Match[{j}]");
            let pair = match (&m.On, &m.From, &m.To) {
                (Some(on), None, None) => (FieldRef::parse(on, &at)?, FieldRef::parse(on, &at)?),
                (None, Some(f), Some(t)) => (FieldRef::parse(f, &at)?, FieldRef::parse(t, &at)?),
                _ => return Err(err(&at, "give On, or From and To", None)),
            };
            pairs.push(pair);
        }
        transitions.push(Transition {
            within_minutes: t.WithinTimeFrameMinutes.unwrap_or(lookback).max(1),
            pairs,
        });
    }
    if given.len() != transitions.len() {
        return Err(err(
            "Detection[0].Transitions",
            "kadet runs transitions from each step to the next, one each; this list has others",
            None,
        ));
    }
    Ok(Pattern::Sequence { steps, transitions })
}

fn group(raw: &[StepRaw], entry: &DetectionRaw) -> Result<Pattern, CompileError> {
    let groups = raw
        .iter()
        .enumerate()
        .map(|(i, s)| step(s, &format!("Detection[0].Group[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    if groups.iter().all(|g| g.absent) {
        return Err(err(
            "Detection[0].Group",
            "at least one group must not be an Absence",
            None,
        ));
    }
    let mut criteria = vec![Vec::new(); groups.len()];
    for (name, entries) in entry.MatchCriteria.iter().flatten() {
        let at = format!("Detection[0].MatchCriteria.{name}");
        for (k, g) in groups.iter().enumerate() {
            let Some(c) = entries.iter().find(|c| c.GroupID == g.id) else {
                return Err(err(
                    &at,
                    format!("group {:?} has no field in this criterion", g.id),
                    Some(&format!("{name}:")),
                ));
            };
            criteria[k].push(FieldRef::parse(&c.Match, &at)?);
        }
    }
    Ok(Pattern::Group { groups, criteria })
}

fn yaml_text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        _ => None,
    }
}

fn test(raw: &CorrelationTestRaw) -> Result<CorrelationTest, CompileError> {
    let at = format!("Tests.{}", raw.Name);
    let mut matches = Vec::new();
    for out in &raw.RuleOutputs {
        for (field, values) in &out.Matches {
            for (value, times) in values {
                let value = yaml_text(value).ok_or_else(|| {
                    err(&at, "a match value is a string or a number", Some(&out.ID))
                })?;
                let Yaml::Sequence(times) = times else {
                    return Err(err(
                        &at,
                        "a match value maps to a list of times",
                        Some(&out.ID),
                    ));
                };
                let times = times
                    .iter()
                    .map(|t| {
                        yaml_text(t).ok_or_else(|| {
                            err(
                                &at,
                                "a match time is RFC 3339 text or a number of minutes",
                                Some(&out.ID),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                matches.push((out.ID.clone(), field.clone(), value, times));
            }
        }
    }
    Ok(CorrelationTest {
        name: raw.Name.clone(),
        expected: raw.ExpectedResult,
        matches,
    })
}
