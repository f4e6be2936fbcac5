//! `kadet rules list` and `kadet rules show`.

use super::args::RuleSource;
use anyhow::{bail, Result};
use clap::Subcommand;
use kadet_rules::explain::{exclusions, indicators, render};
use kadet_rules::rule::ContextValue;
use kadet_rules::{Rule, RuleSet};
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// `kadet rules` subcommands.
#[derive(Subcommand)]
pub enum RulesCommand {
    /// One line per rule: id, severity, log types, status, tests.
    List(RuleSource),
    /// A rule in words: metadata, logic, exclusions, indicators, outputs.
    Show {
        /// RuleID.
        id: String,
        #[command(flatten)]
        source: RuleSource,
    },
}

/// Runs `rules list` or `rules show`.
pub fn run(command: RulesCommand) -> Result<ExitCode> {
    match command {
        RulesCommand::List(source) => list(&source),
        RulesCommand::Show { id, source } => show(&id, &source),
    }
}

fn list(source: &RuleSource) -> Result<ExitCode> {
    let set = source.with_disabled().load()?;
    // One line per rule, aligned, never wrapped: easy to read and to grep.
    let width = set
        .rules
        .iter()
        .map(|r| r.id.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let statuses: Vec<String> = set.rules.iter().map(status).collect();
    let status_width = statuses.iter().map(String::len).max().unwrap_or(6).max(6);
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{:<width$}  {:<7}  {:<8}  {:<11}  {:>5}  {:<status_width$}  Name",
        "RuleID", "Format", "Severity", "Sources", "Tests", "Status"
    )?;
    for (r, status) in set.rules.iter().zip(&statuses) {
        writeln!(
            out,
            "{:<width$}  {:<7}  {:<8}  {:<11}  {:>5}  {status:<status_width$}  {}",
            r.id,
            r.format.name(),
            r.severity.name(),
            short_log_types(&r.log_types),
            r.tests.len(),
            r.display_name.as_deref().unwrap_or("-"),
        )?;
    }
    writeln!(out, "{} rules", set.rules.len())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A rule's status as `rules list` shows it: its `Status`, whether it is
/// disabled, and whether it is a signal (it matches, but alerts only
/// through a correlation, or not at all).
fn status(r: &kadet_rules::Rule) -> String {
    let mut status = match (&r.status, r.enabled) {
        (Some(s), true) => s.clone(),
        (None, true) => "enabled".into(),
        (Some(s), false) => format!("{s}, disabled"),
        (None, false) => "disabled".into(),
    };
    if !r.create_alert {
        status.push_str(", signal");
    }
    status
}

/// `Amazon.EKS.Audit, GCP.AuditLog` → `EKS GKE`; no log types (or all
/// four) → `all`.
fn short_log_types(types: &[String]) -> String {
    if types.is_empty() || types.len() == kadet_event::LogType::ALL.len() {
        return "all".into();
    }
    types
        .iter()
        .map(|t| match t.as_str() {
            "Kubernetes.Audit" => "k8s",
            "Amazon.EKS.Audit" => "EKS",
            "Azure.MonitorActivity" => "AKS",
            "GCP.AuditLog" => "GKE",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn show(id: &str, source: &RuleSource) -> Result<ExitCode> {
    let set = source.with_disabled().load()?;
    let rule = find_rule(&set, id)?;
    let mut out = io::stdout().lock();
    out.write_all(show_rule(rule).as_bytes())?;
    if !rule.tuning.is_empty() {
        writeln!(out, "\nTuning (this rule as tuned)\n")?;
        for note in &rule.tuning {
            writeln!(out, "  {note}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The rule with this id, or an error naming the ids that look like it.
pub fn find_rule<'s>(set: &'s RuleSet, id: &str) -> Result<&'s Rule> {
    if let Some(rule) = set.get(id) {
        return Ok(rule);
    }
    let wanted = id.to_ascii_lowercase();
    let close: Vec<&str> = set
        .rules
        .iter()
        .map(|r| r.id.as_str())
        .filter(|r| {
            let r = r.to_ascii_lowercase();
            r.contains(&wanted) || wanted.contains(&r) || last_part(&r) == last_part(&wanted)
        })
        .take(5)
        .collect();
    if close.is_empty() {
        bail!(
            "no rule {id:?} among the {} loaded (see `kadet rules list`)",
            set.rules.len()
        )
    }
    bail!("no rule {id:?}; did you mean {}?", close.join(", "))
}

/// A table that fits the terminal, or `$COLUMNS` (default 80) in a pipe
/// or on a terminal that reports no usable width (0 columns).
fn new_table<const N: usize>(header: [&str; N]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(header);
    let usable = |w: u16| w >= kadet_engine::sink::MIN_TABLE_WIDTH;
    let terminal = io::stdout().is_terminal().then(|| t.width()).flatten();
    let width = terminal
        .filter(|&w| usable(w))
        .or_else(|| super::scan::table_width().filter(|&w| usable(w)))
        .unwrap_or(kadet_engine::sink::FALLBACK_TABLE_WIDTH);
    t.set_width(width);
    t
}

fn last_part(id: &str) -> &str {
    id.rsplit('.').next().unwrap_or(id)
}

fn table(rows: &[kadet_rules::explain::FieldRow], out: &mut String) {
    if rows.is_empty() {
        out.push_str("(none)\n");
        return;
    }
    let mut t = new_table(["Field", "Kind", "Values"]);
    for r in rows {
        t.add_row(vec![r.field.clone(), r.kind.clone(), r.values.clone()]);
    }
    let _ = writeln!(out, "{t}");
}

/// A Sigma rule's metadata, in `rules show`'s key/value lines.
fn sigma_lines(meta: &kadet_rules::sigma::SigmaMeta, o: &mut String) {
    let mut line = |key: &str, value: &str| {
        let _ = writeln!(o, "{key:<12} {value}");
    };
    if let Some(a) = &meta.author {
        line("Author", a);
    }
    match (&meta.date, &meta.modified) {
        (Some(d), Some(m)) => line("Date", &format!("{d} (modified {m})")),
        (Some(d), None) => line("Date", d),
        (None, Some(m)) => line("Modified", m),
        (None, None) => {}
    }
    if let Some(l) = &meta.license {
        line("License", l);
    }
    if !meta.logsource.is_empty() {
        let parts: Vec<String> = meta
            .logsource
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        line("Logsource", &parts.join(", "));
    }
    for (i, c) in meta.condition.iter().enumerate() {
        line(if i == 0 { "Condition" } else { "" }, c);
    }
    if !meta.correlates.is_empty() {
        line("Correlates", &meta.correlates.join(", "));
    }
    for (i, r) in meta.references.iter().enumerate() {
        line(if i == 0 { "References" } else { "" }, r);
    }
    for (i, f) in meta.falsepositives.iter().enumerate() {
        line(if i == 0 { "False pos." } else { "" }, f);
    }
}

/// A rule presented like a detection catalog page.
fn show_rule(rule: &Rule) -> String {
    let mut o = String::new();
    let pf = kadet_rules::Prefilter::build(std::slice::from_ref(rule));
    let _ = writeln!(o, "{}\n", rule.display_name.as_deref().unwrap_or(&rule.id));
    let _ = writeln!(o, "RuleID       {}", rule.id);
    let _ = writeln!(
        o,
        "Status       {}{}",
        rule.status.as_deref().unwrap_or("-"),
        if rule.enabled { "" } else { " (disabled)" }
    );
    let _ = writeln!(o, "Severity     {}", rule.severity);
    let _ = writeln!(o, "Log types    {}", rule.log_types.join(", "));
    let _ = writeln!(o, "Tags         {}", rule.tags.join(", "));
    let _ = writeln!(
        o,
        "Dedup        {} minutes, threshold {}",
        rule.dedup_period_minutes, rule.threshold
    );
    if let (Some(r), None) = (&rule.reference, &rule.sigma) {
        let _ = writeln!(o, "Reference    {r}");
    }
    let _ = writeln!(o, "Source       {} ({})", rule.source, rule.format);
    for (k, ids) in &rule.reports {
        let _ = writeln!(o, "Reports      {k}: {}", ids.join(", "));
    }
    if let Some(meta) = &rule.sigma {
        sigma_lines(meta, &mut o);
    }
    if let Some(d) = &rule.description {
        let _ = writeln!(o, "\n{}", d.trim());
    }
    if let Some(c) = &rule.correlation {
        let _ = writeln!(o, "\nCorrelation (runs as the steps' matches arrive)\n");
        for line in c.describe() {
            let _ = writeln!(o, "{line}");
        }
        return o;
    }
    let _ = writeln!(o, "\nDetection logic\n");
    match pf.rule_literals.first().cloned().flatten() {
        Some(clauses) => {
            let text: Vec<String> = clauses
                .iter()
                .map(|c| format!("({})", c.join(" | ")))
                .collect();
            let _ = writeln!(o, "Prefilter: a record must contain {}", text.join(" and "));
        }
        None => {
            let _ = writeln!(o, "Prefilter: none (every record is evaluated)");
        }
    }
    let _ = writeln!(o, "{}", render(&rule.detection));
    if !rule.dynamic_severities.is_empty() {
        let _ = writeln!(o, "\nDynamic severity\n");
        for (sev, e) in &rule.dynamic_severities {
            let _ = writeln!(o, "{sev} when {}", render(e));
        }
    }
    let _ = writeln!(
        o,
        "\nExclusions (conditions under a top-level None: what the rule suppresses)\n"
    );
    table(&exclusions(&rule.detection), &mut o);
    let _ = writeln!(o, "\nIndicators (what the rule looks for)\n");
    table(&indicators(&rule.detection), &mut o);
    let _ = writeln!(o, "\nOutput fields\n");
    let mut t = new_table(["Field", "Source"]);
    t.add_row(vec![
        "title".to_string(),
        rule.title
            .as_ref()
            .map_or_else(|| "DisplayName".to_string(), |t| t.text.clone()),
    ]);
    let dedup = match (&rule.dedup, rule.group_by.is_empty(), &rule.title) {
        (Some(t), _, _) => t.text.clone(),
        (None, false, _) => {
            let names: Vec<String> = rule.group_by.iter().map(|p| p.to_string()).collect();
            format!("values of {}", names.join(", "))
        }
        (None, true, Some(_)) => "title".to_string(),
        (None, true, None) => "rule id".to_string(),
    };
    t.add_row(vec!["dedup".to_string(), dedup]);
    for (k, v) in &rule.context {
        let src = match v {
            ContextValue::Path(p) => p.to_string(),
            ContextValue::Template(t) => format!("template {:?}", t.text),
            ContextValue::Literal(l) => format!("literal {l}"),
        };
        t.add_row(vec![k.clone(), src]);
    }
    let _ = writeln!(o, "{t}");
    if let Some(rb) = &rule.runbook {
        let _ = writeln!(o, "\nRunbook\n\n{}", rb.trim());
    }
    let _ = writeln!(o, "\nTests: {}", rule.tests.len());
    o
}
