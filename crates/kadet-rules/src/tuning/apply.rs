//! Applying tuning entries to a rule set.

use super::{glob_matches, Exclusion, TuningEntry, TuningFile, TuningNote};
use crate::compile::Compiler;
use crate::rule::{Rule, Severity};
use crate::set::RuleSet;
use crate::source::LoadError;
use serde_norway::Value as Yaml;
use time::Date;

/// What applying a tuning file did besides changing rules.
#[derive(Debug, Default, Clone)]
pub struct Applied {
    /// Entries that no longer apply (expired) and patterns that match no
    /// rule, as `file:line: message`.
    pub warnings: Vec<String>,
}

/// Applies every entry of `file` that has not expired by `today` to the
/// rules of `set`. Entries are checked whole first: a problem in one (an
/// unknown severity, an exclusion that does not compile, an entry that
/// changes nothing, a bad date) is an error with the file and line, and
/// nothing is applied.
pub fn apply(set: &mut RuleSet, file: &TuningFile, today: Date) -> Result<Applied, Vec<LoadError>> {
    let mut errors = Vec::new();
    let mut planned = Vec::new();
    for (line, entry) in &file.entries {
        let err = |message: String| LoadError {
            file: file.source.clone(),
            line: Some(*line),
            column: None,
            message,
        };
        match plan(set, entry) {
            Ok(p) => planned.push((*line, entry, p)),
            Err(m) => errors.push(err(m)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut applied = Applied::default();
    for (line, entry, plan) in planned {
        let at = format!("{}:{line}", file.source);
        if let Some(until) = plan.expires {
            if today > until {
                applied.warnings.push(format!(
                    "{at}: tuning entry expired on {until}; it no longer applies ({})",
                    entry.Reason
                ));
                continue;
            }
        }
        let targets: Vec<usize> = set
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| entry.Rules.iter().any(|p| glob_matches(p, &r.id)))
            .map(|(i, _)| i)
            .collect();
        if targets.is_empty() {
            applied.warnings.push(format!(
                "{at}: {:?} matches no rule; the entry changes nothing",
                entry.Rules
            ));
        }
        for i in targets {
            change(&mut set.rules[i], &at, entry, &plan);
        }
    }
    Ok(applied)
}

/// An entry checked and compiled, before it touches any rule.
struct Plan {
    expires: Option<Date>,
    severity: Option<Severity>,
    exclude: Option<crate::Expr>,
}

fn plan(set: &RuleSet, e: &TuningEntry) -> Result<Plan, String> {
    if e.Rules.is_empty() {
        return Err("Rules: name at least one RuleID or glob".into());
    }
    if e.Reason.trim().is_empty() {
        return Err("Reason: say why (it is shown beside every change)".into());
    }
    let changes = e.Exclude.is_some() as usize
        + e.Severity.is_some() as usize
        + e.DedupPeriodMinutes.is_some() as usize
        + e.Threshold.is_some() as usize
        + e.Enabled.is_some() as usize;
    if changes == 0 {
        return Err(
            "the entry changes nothing (give Exclude, Severity, DedupPeriodMinutes, Threshold or Enabled)"
                .into(),
        );
    }
    let expires = e.Expires.as_ref().map(parse_date).transpose()?;
    let severity = e
        .Severity
        .as_deref()
        .map(|s| {
            Severity::parse(s)
                .ok_or_else(|| format!("Severity {s:?}: one of Info, Low, Medium, High, Critical"))
        })
        .transpose()?;
    let exclude = e
        .Exclude
        .as_ref()
        .map(|x| {
            Compiler::new(&set.library)
                .list(x, "Exclude")
                .map_err(|c| format!("{}: {}", c.at, c.message))
        })
        .transpose()?;
    if e.DedupPeriodMinutes == Some(0) || e.Threshold == Some(0) {
        return Err("DedupPeriodMinutes and Threshold are at least 1".into());
    }
    Ok(Plan {
        expires,
        severity,
        exclude,
    })
}

fn parse_date(v: &Yaml) -> Result<Date, String> {
    let text = match v {
        Yaml::String(s) => s.clone(),
        other => serde_norway::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(&text, format).map_err(|_| format!("Expires {text:?}: a date, YYYY-MM-DD"))
}

fn change(rule: &mut Rule, at: &str, e: &TuningEntry, plan: &Plan) {
    let note = |change: String| TuningNote {
        source: at.to_string(),
        change,
        reason: e.Reason.clone(),
        expires: plan.expires.map(|d| d.to_string()),
    };
    if let Some(x) = &plan.exclude {
        rule.exclusions.push(Exclusion {
            label: at.to_string(),
            reason: e.Reason.clone(),
            expr: x.clone(),
        });
        rule.tuning.push(note("exclusion".into()));
        rule.refresh_detection_keys();
    }
    if let Some(s) = plan.severity {
        rule.severity = s;
        rule.dynamic_severities.clear();
        rule.tuning.push(note(format!("severity {s}")));
    }
    if let Some(m) = e.DedupPeriodMinutes {
        rule.dedup_period_minutes = m;
        rule.tuning.push(note(format!("dedup period {m} minutes")));
    }
    if let Some(t) = e.Threshold {
        rule.threshold = t;
        rule.tuning.push(note(format!("threshold {t}")));
    }
    if let Some(on) = e.Enabled {
        rule.enabled = on;
        rule.tuning
            .push(note(if on { "enabled" } else { "disabled" }.into()));
    }
}
