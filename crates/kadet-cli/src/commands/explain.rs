//! `kadet explain`: condition by condition, why an event matches a rule or not.

use super::args::{DecodeArgs, RuleSource};
use super::events::for_each_event;
use super::rules::find_rule;
use anyhow::{bail, Result};
use clap::Args;
use kadet_event::input::expand_inputs;
use kadet_event::CanonicalEvent;
use kadet_rules::Rule;
use std::io::{self, Write};
use std::process::ExitCode;

/// `kadet explain` arguments.
#[derive(Args)]
pub struct ExplainArgs {
    /// RuleID.
    #[arg(long)]
    rule: String,
    /// A file with one event or more (any supported shape); `-` for stdin.
    event_file: String,
    #[command(flatten)]
    source: RuleSource,
    #[command(flatten)]
    decode: DecodeArgs,
}

/// Explains the rule's verdict on every event of the file.
pub fn run(a: ExplainArgs) -> Result<ExitCode> {
    let set = a.source.with_disabled().load()?;
    let rule = find_rule(&set, &a.rule)?;
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
            explain_event(&mut out, rule, ev)?;
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

fn explain_event(out: &mut impl Write, rule: &Rule, ev: &CanonicalEvent<'_>) -> io::Result<()> {
    writeln!(out, "event {} ({}):", ev.meta.location, ev.meta.log_type)?;
    if !rule.applies_to(ev.meta.log_type) {
        writeln!(
            out,
            "  ✗ rule {} does not read {} events (LogTypes: {})",
            rule.id,
            ev.meta.log_type,
            rule.log_types.join(", ")
        )?;
        return writeln!(out, "  => NO MATCH");
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
    if held {
        if let Some(x) = rule.exclusions.iter().find(|x| x.expr.eval_event(ev)) {
            writeln!(out, "  ✓ tuning exclusion {} holds ({})", x.label, x.reason)?;
            return writeln!(out, "  => SUPPRESSED by tuning ({})", x.label);
        }
        let o = rule.outcome(ev);
        writeln!(out, "  => MATCH: {}", o.title)?;
        writeln!(out, "     dedup: {}", o.dedup)?;
        writeln!(out, "     severity: {}", o.severity)
    } else {
        writeln!(out, "  => NO MATCH")
    }
}
