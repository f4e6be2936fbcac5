//! `kadet policy`: the audit Policy the loaded rules need, or which rules a
//! given Policy leaves blind.

use super::args::RuleSource;
use super::EXIT_FINDINGS;
use anyhow::{Context, Result};
use clap::Args;
use kadet_rules::audit_policy::{check_policy, needs_of, write_policy};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `kadet policy` arguments.
#[derive(Args)]
pub struct PolicyArgs {
    /// Check this audit Policy (`audit.k8s.io/v1`) instead of writing one:
    /// list every rule it leaves blind, and why; exit 1 if there is one.
    #[arg(long, value_name = "POLICY.yaml")]
    check: Option<PathBuf>,
    #[command(flatten)]
    source: RuleSource,
}

/// Writes the smallest Policy for the loaded rules, or checks one.
pub fn run(a: PolicyArgs) -> Result<ExitCode> {
    let set = a.source.load()?;
    let mut needs = Vec::new();
    let mut skipped = Vec::new();
    for rule in &set.rules {
        match needs_of(rule) {
            Some(n) => needs.push(n),
            // A correlation rule reads its steps' matches: their rules' needs
            // are its needs, and they are loaded (or it is left out).
            None if rule.correlation.is_some() => {}
            None => skipped.push(rule.id.clone()),
        }
    }
    let mut out = std::io::stdout().lock();
    let Some(path) = a.check else {
        out.write_all(write_policy(&needs, &skipped).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let blind = check_policy(&text, &needs).with_context(|| format!("{}", path.display()))?;
    for b in &blind {
        writeln!(out, "{}: {}", b.rule_id, b.why)?;
    }
    out.flush()?;
    eprintln!(
        "kadet: {} of {} rules blind under {}",
        blind.len(),
        needs.len(),
        path.display()
    );
    Ok(if blind.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FINDINGS)
    })
}
