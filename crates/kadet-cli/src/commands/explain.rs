//! `kadet explain`: condition by condition, why an event matches a rule or
//! not; then, for a match, the state its alert depends on (the dedup
//! window, the lead a `Follows` rule needs, the values a `FirstSeen` rule
//! knows) and whether it raised the alert. The events of the file are run
//! through every loaded rule in order, as `serve` runs them, so state built
//! by earlier events (a minted token, a value seen) counts; `--state` starts
//! from a `scan --state` file.

use super::args::{DecodeArgs, RuleSource};
use super::events::for_each_event;
use super::rules::find_rule;
use anyhow::{bail, Context, Result};
use clap::Args;
use kadet_engine::{Alerter, EmitAt, Match};
use kadet_event::input::expand_inputs;
use kadet_event::CanonicalEvent;
use kadet_rules::{Rule, Verdict};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `kadet explain` arguments.
#[derive(Args)]
pub struct ExplainArgs {
    /// RuleID.
    #[arg(long)]
    rule: String,
    /// A file with one event or more (any supported shape); `-` for stdin.
    event_file: String,
    /// Start from the state a `kadet scan --state FILE` run kept (open
    /// windows, tokens being followed, values seen); read, never written.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    #[command(flatten)]
    source: RuleSource,
    #[command(flatten)]
    decode: DecodeArgs,
}

/// Explains the rule's verdict on every event of the file.
pub fn run(a: ExplainArgs) -> Result<ExitCode> {
    let set = a.source.with_disabled().load()?;
    let rule = find_rule(&set, &a.rule)?;
    let index = kadet_rules::index_of(&set.rules, &rule.id).context("the rule is loaded")?;
    let mut alerter = Alerter::with(&set.rules, Duration::ZERO, EmitAt::Threshold);
    if let Some(path) = &a.state {
        let (watermark, windows, buffered) =
            kadet_engine::state_file::load(path)?.unwrap_or_default();
        alerter = alerter
            .restore(watermark, windows, buffered)
            .without_tracking();
    }
    let inputs = expand_inputs(std::slice::from_ref(&a.event_file), Default::default())?;
    let mut out = io::stdout().lock();
    let mut seen = 0usize;
    let mut problems = Vec::new();
    for_each_event(
        inputs,
        a.decode.options(),
        |ev| {
            seen += 1;
            if !a.decode.no_redact {
                kadet_event::redact::redact_event(&mut ev.audit);
            }
            let matched = explain_event(&mut out, rule, ev)?;
            let matches = all_matches(&set.rules, ev);
            if matched {
                explain_state(&mut out, &alerter, matches.iter().find(|m| m.rule == index))?;
            }
            alerter.feed(matches, ev.time);
            let raised: Vec<String> = alerter
                .drain_raised()
                .into_iter()
                .filter(|(x, _)| x.rule_id == rule.id)
                .map(|(x, _)| x.title)
                .collect();
            for title in &raised {
                writeln!(out, "  => ALERT: {title}")?;
            }
            if matched && raised.is_empty() {
                writeln!(out, "  => no alert from this event (see the state above)")?;
            }
            Ok(())
        },
        |s| problems.push(s.to_string()),
    )?;
    out.flush()?;
    for p in &problems {
        eprintln!("kadet: skipped {p}");
    }
    if seen == 0 {
        bail!("no event found in {}", a.event_file);
    }
    Ok(ExitCode::SUCCESS)
}

/// The matches of every rule on `ev`, in rule order.
fn all_matches(rules: &[Rule], ev: &CanonicalEvent<'_>) -> Vec<Match> {
    rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.verdict(ev) == Verdict::Match)
        .map(|(i, r)| Match::new(i, r, ev))
        .collect()
}

fn explain_state(out: &mut impl Write, alerter: &Alerter<'_>, m: Option<&Match>) -> io::Result<()> {
    let Some(m) = m else {
        return Ok(());
    };
    writeln!(out, "  state before this event:")?;
    for line in alerter.explain_state(m) {
        writeln!(out, "     {line}")?;
    }
    Ok(())
}

/// The condition-by-condition verdict; true for a match that counts (not
/// suppressed by tuning).
fn explain_event(out: &mut impl Write, rule: &Rule, ev: &CanonicalEvent<'_>) -> io::Result<bool> {
    writeln!(out, "event {} ({}):", ev.meta.location, ev.meta.log_type)?;
    if !rule.applies_to(ev.meta.log_type) {
        writeln!(
            out,
            "  ✗ rule {} does not read {} events (LogTypes: {})",
            rule.id,
            ev.meta.log_type,
            rule.log_types.join(", ")
        )?;
        writeln!(out, "  => NO MATCH")?;
        return Ok(false);
    }
    let mut steps = Vec::new();
    let held = kadet_rules::explain::explain(
        &rule.detection,
        kadet_rules::expr::Scope::Event(ev),
        1,
        &mut steps,
    );
    for s in steps {
        let mark = if s.held { "✓" } else { "✗" };
        writeln!(out, "{}{mark} {}", "  ".repeat(s.depth), s.text)?;
    }
    if !held {
        writeln!(out, "  => NO MATCH")?;
        return Ok(false);
    }
    if let Some(x) = rule.exclusions.iter().find(|x| x.expr.eval_event(ev)) {
        writeln!(out, "  ✓ tuning exclusion {} holds ({})", x.label, x.reason)?;
        writeln!(out, "  => SUPPRESSED by tuning ({})", x.label)?;
        return Ok(false);
    }
    let o = rule.outcome(ev);
    writeln!(out, "  => MATCH: {}", o.title)?;
    writeln!(out, "     dedup: {}", o.dedup)?;
    writeln!(out, "     severity: {}", o.severity)?;
    Ok(true)
}
