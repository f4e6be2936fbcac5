//! `kadet test`: running a rule's `Tests` offline.

use crate::rule::{Outcome, Rule, Severity};
use kadet_event::{BodyShape, CollectSink, Decoder, Location, LogType, RawEvent, SourceMeta};
use std::sync::Arc;

/// The result of one test.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// RuleID.
    pub rule_id: String,
    /// Test name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// ExpectedResult.
    pub expected: bool,
    /// What the rule said.
    pub matched: bool,
    /// Each mismatch, as "what: expected X, got Y".
    pub problems: Vec<String>,
    /// The outcome, when the rule matched.
    pub outcome: Option<Outcome>,
}

/// Evaluates a rule against one log given as JSON text, through the same
/// decoders as `kadet scan` (a `p_log_type` picks Panther's decoding).
/// Returns whether any event in it matched, and the first match's outcome.
pub fn evaluate_json(
    rule: &Rule,
    json: &[u8],
    name: &str,
) -> Result<(bool, Option<Outcome>), String> {
    evaluate(rule, json, name).map(|e| (e.matched, e.outcome))
}

/// What a rule made of a test log.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Some event of the log matched (and no exclusion suppressed it).
    pub matched: bool,
    /// The first match's outcome.
    pub outcome: Option<Outcome>,
    /// When no event matched but one was suppressed: the tuning exclusion
    /// that suppressed it (index into `rule.exclusions`).
    pub suppressed_by: Option<usize>,
}

impl Evaluation {
    /// Why an expected match did not come, when a tuning entry took it
    /// away: the entry's `file:line` and reason.
    pub fn suppression(&self, rule: &Rule) -> Option<String> {
        let x = rule.exclusions.get(self.suppressed_by?)?;
        Some(format!(
            "suppressed by the tuning entry at {} (Reason: {})",
            x.label, x.reason
        ))
    }
}

/// Evaluates a rule against one log given as JSON text, as
/// [`evaluate_json`] does, and says which tuning exclusion suppressed a
/// match when one did.
pub fn evaluate(rule: &Rule, json: &[u8], name: &str) -> Result<Evaluation, String> {
    let decoder = Decoder::default();
    let mut sink = CollectSink::default();
    let loc = Location::line(Arc::from(name), 1);
    decoder.decode(json, &loc, &mut sink);
    if sink.events.is_empty() {
        match sink.skipped.first() {
            // Panther runs a rule on whatever its test log is; so does kadet,
            // reading an unrecognised object as an event of the rule's first log type.
            Some(s)
                if s.reason == kadet_event::SkipReason::UnknownShape
                    && json.trim_ascii_start().starts_with(b"{") =>
            {
                let log_type = rule
                    .log_types
                    .first()
                    .and_then(|t| LogType::from_name(t))
                    .unwrap_or(LogType::KubernetesAudit);
                sink.events.push(RawEvent {
                    meta: SourceMeta {
                        log_type,
                        cluster: None,
                        source_time: None,
                        location: loc.clone(),
                    },
                    body: std::borrow::Cow::Borrowed(json),
                    shape: BodyShape::Foreign,
                    record: None,
                });
            }
            Some(s) => {
                return Err(format!(
                    "the test log cannot be decoded: {}: {}",
                    s.reason, s.message
                ))
            }
            None => return Ok(Evaluation::default()),
        }
    }
    let mut out = Evaluation::default();
    for raw in &sink.events {
        let mut ev = raw
            .parse()
            .map_err(|e| format!("the test log cannot be decoded: {e}"))?;
        kadet_event::redact::redact_event(&mut ev.audit);
        match rule.verdict(&ev) {
            crate::Verdict::Match => {
                out.matched = true;
                out.outcome = Some(rule.outcome(&ev));
                return Ok(out);
            }
            crate::Verdict::Suppressed(i) => {
                out.suppressed_by.get_or_insert(i);
            }
            crate::Verdict::NoMatch => {}
        }
    }
    Ok(out)
}

/// Runs every test of a rule.
pub fn run_rule_tests(rule: &Rule) -> Vec<TestResult> {
    rule.tests
        .iter()
        .map(|t| {
            let json = serde_json::to_vec(&t.Log).unwrap_or_default();
            let mut problems = Vec::new();
            let evaluated = match evaluate(rule, &json, &format!("{}#{}", rule.source, t.Name)) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(e);
                    Evaluation::default()
                }
            };
            let (matched, outcome) = (evaluated.matched, evaluated.outcome.clone());
            if matched != t.ExpectedResult {
                problems.push(format!(
                    "match: expected {}, got {}",
                    t.ExpectedResult, matched
                ));
                problems.extend(evaluated.suppression(rule));
            }
            if let (true, Some(o)) = (matched && t.ExpectedResult, &outcome) {
                if let Some(want) = &t.ExpectedTitle {
                    if *want != o.title {
                        problems.push(format!("title: expected {want:?}, got {:?}", o.title));
                    }
                }
                if let Some(want) = &t.ExpectedDedup {
                    if *want != o.dedup {
                        problems.push(format!("dedup: expected {want:?}, got {:?}", o.dedup));
                    }
                }
                if let Some(want) = &t.ExpectedSeverity {
                    match Severity::parse(want) {
                        Some(s) if s == o.severity => {}
                        Some(_) => problems.push(format!(
                            "severity: expected {}, got {}",
                            want.to_uppercase(),
                            o.severity
                        )),
                        None => problems.push(format!("severity: {want:?} is not a severity")),
                    }
                }
            }
            TestResult {
                rule_id: rule.id.clone(),
                name: t.Name.clone(),
                passed: problems.is_empty(),
                expected: t.ExpectedResult,
                matched,
                problems,
                outcome,
            }
        })
        .collect()
}
