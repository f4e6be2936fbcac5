//! `kadet test`: runs rules' unit tests offline.

use super::args::{RuleFormatArg, RuleSource};
use super::EXIT_FINDINGS;
use anyhow::Result;
use clap::Args;
use kadet_rules::testing::{evaluate, TestResult};
use kadet_rules::tuning::TuningFile;
use kadet_rules::RuleSet;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// `kadet test` arguments.
#[derive(Args)]
pub struct TestArgs {
    /// Rule files or directories, Panther or Sigma (default: the built-in
    /// pack; `builtin` names it among others).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Only rules whose RuleID contains this, or that have this tag.
    #[arg(long)]
    filter: Option<String>,
    /// Print only failures and the summary.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Tuning files: rules' tests run with the tuning applied, and the
    /// files' own tests run too (repeatable).
    #[arg(long, value_name = "FILE")]
    tuning: Vec<PathBuf>,
    /// How rule files are read (a Sigma file's tests are in
    /// `<file>.tests.yml` beside it).
    #[arg(long, value_enum, default_value = "auto")]
    rule_format: RuleFormatArg,
}

/// Runs the tests; exit status 1 when one fails.
pub fn run(a: TestArgs) -> Result<ExitCode> {
    let source = RuleSource {
        rules: a.paths.clone(),
        include_disabled: true,
        tuning: a.tuning.clone(),
        rule_format: a.rule_format,
        keep_unlinked: true,
    };
    let set = source.load()?;
    let mut rules = 0usize;
    let mut tally = Tally::default();
    let mut out = io::stdout().lock();
    for rule in &set.rules {
        if let Some(f) = &a.filter {
            if !rule.id.contains(f.as_str()) && !rule.tags.iter().any(|t| t.eq_ignore_ascii_case(f))
            {
                continue;
            }
        }
        rules += 1;
        for r in kadet_rules::testing::run_rule_tests(rule) {
            tally.report(&mut out, &r, &rule.source, a.quiet)?;
        }
        for r in correlation_tests(rule) {
            tally.report(&mut out, &r, &rule.source, a.quiet)?;
        }
    }
    for path in &a.tuning {
        let file = kadet_rules::tuning::TuningFile::load(path)?;
        for r in tuning_tests(&set, &file) {
            tally.report(&mut out, &r, &file.source, a.quiet)?;
        }
    }
    writeln!(out, "{rules} rules tested")?;
    writeln!(out, "{} passed, {} failed", tally.passed, tally.failed)?;
    out.flush()?;
    Ok(if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FINDINGS)
    })
}

/// Tests passed and failed so far.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    /// Counts one result and prints it (a pass only when not `quiet`).
    fn report(
        &mut self,
        out: &mut impl Write,
        r: &TestResult,
        source: &str,
        quiet: bool,
    ) -> io::Result<()> {
        if r.passed {
            self.passed += 1;
            if !quiet {
                writeln!(out, "PASS  {} / {}", r.rule_id, r.name)?;
            }
            Ok(())
        } else {
            self.failed += 1;
            print_failure(out, r, source)
        }
    }
}

/// Runs a correlation rule's tests (`RuleOutputs`) through the engine.
fn correlation_tests(rule: &kadet_rules::Rule) -> Vec<TestResult> {
    let Some(corr) = rule.correlation.as_deref() else {
        return Vec::new();
    };
    corr.tests
        .iter()
        .map(|t| {
            let mut r = TestResult {
                rule_id: rule.id.clone(),
                name: t.name.clone(),
                passed: false,
                expected: t.expected,
                matched: false,
                problems: Vec::new(),
                outcome: None,
            };
            match kadet_engine::correlation_test::run(rule, t) {
                Ok(alerted) => {
                    r.matched = alerted;
                    r.passed = alerted == t.expected;
                    if !r.passed {
                        r.problems.push(format!(
                            "ExpectedResult: expected {}, got {}",
                            t.expected, alerted
                        ));
                    }
                }
                Err(e) => r.problems.push(e),
            }
            r
        })
        .collect()
}

/// Runs a tuning file's own tests against the tuned rules.
fn tuning_tests(set: &RuleSet, file: &TuningFile) -> Vec<TestResult> {
    file.tests
        .iter()
        .map(|t| {
            let name = format!("{} (tuning {})", t.Name, file.source);
            let mut r = TestResult {
                rule_id: t.RuleID.clone(),
                name,
                passed: false,
                expected: t.ExpectedResult,
                matched: false,
                problems: Vec::new(),
                outcome: None,
            };
            let Some(rule) = set.get(&t.RuleID) else {
                r.problems.push(format!("no rule {:?} is loaded", t.RuleID));
                return r;
            };
            let json = serde_json::to_vec(&t.Log).unwrap_or_default();
            match evaluate(rule, &json, &r.name) {
                Ok(e) => {
                    r.matched = e.matched;
                    r.passed = e.matched == t.ExpectedResult;
                    if !r.passed {
                        r.problems.push(format!(
                            "ExpectedResult: expected {}, got {}",
                            t.ExpectedResult, e.matched
                        ));
                        r.problems.extend(e.suppression(rule));
                    }
                    r.outcome = e.outcome;
                }
                Err(e) => r.problems.push(e),
            }
            r
        })
        .collect()
}

fn print_failure(out: &mut impl Write, r: &TestResult, source: &str) -> io::Result<()> {
    writeln!(out, "FAIL  {} / {}", r.rule_id, r.name)?;
    for p in &r.problems {
        writeln!(out, "      {p}")?;
    }
    if let Some(o) = &r.outcome {
        writeln!(
            out,
            "      (rule gave: title {:?}, dedup {:?}, severity {})",
            o.title, o.dedup, o.severity
        )?;
    }
    writeln!(out, "      in {source}")
}
