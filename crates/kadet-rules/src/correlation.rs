//! Panther correlation rules (`AnalysisType: correlation_rule`), read as
//! they are written and run as matches arrive.
//!
//! A correlation rule names other rules (usually signals, `CreateAlert:
//! false`) and says how their matches must line up:
//!
//! - `Sequence`: steps in order, each a RuleID with an optional
//!   `MinMatchCount`; `Transitions` from each step to the next, with
//!   `WithinTimeFrameMinutes` and `Match` (`On: field`, or `From`/`To` fields
//!   whose values must meet); the last step may be an `Absence` ("A not
//!   followed by B within the time frame").
//! - `Group`: rules that must all match (each `MinMatchCount` times) within
//!   the look-back window, joined by `MatchCriteria`; a group with
//!   `Absence: true` must not match.
//! - `LookbackWindowMinutes`: the whole correlation fits in it.
//!
//! A field is read from a step rule's match: `p_alert_context.X` is the
//! match's alert context, anything else a path in its event. A list value
//! meets another value when they share an element (Panther's "list on list"
//! intersection). `Schedule` and `EventEvaluationOrder` are accepted and
//! need nothing: kadet evaluates in event order as matches arrive.
//!
//! Shapes kadet does not run are refused at load with their position, never
//! loaded to stay silent: transitions that do not go from each step to the
//! next, an `Absence` step anywhere but last in a `Sequence`, a group left out
//! of a match criterion. The file's model and its compilation into a rule are
//! [`crate::correlation_file`]; the engine side is `kadet_engine::correlate`.

use crate::compile::CompileError;
use crate::path::FieldPath;

/// Where a correlation reads a value from a step rule's match.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldRef {
    /// `p_alert_context.KEY`: the match's alert context.
    Context(String),
    /// Any other path: the match's event.
    Event(FieldPath),
}

impl FieldRef {
    /// Reads a field name as written.
    pub fn parse(text: &str, at: &str) -> Result<FieldRef, CompileError> {
        let text = text.trim();
        if let Some(key) = text.strip_prefix("p_alert_context.") {
            return Ok(FieldRef::Context(key.to_string()));
        }
        FieldPath::parse(text)
            .map(FieldRef::Event)
            .map_err(|e| err(at, format!("{text:?}: {e}"), Some(text)))
    }

    /// The text of an event path (the key a match stores its value under).
    pub fn event_text(&self) -> Option<String> {
        match self {
            FieldRef::Event(p) => Some(p.to_string()),
            FieldRef::Context(_) => None,
        }
    }
}

/// One step of a sequence, or one group.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// `ID`.
    pub id: String,
    /// The rule whose matches make the step.
    pub rule_id: String,
    /// Matches needed (`MinMatchCount`, default 1).
    pub min_matches: u32,
    /// `Absence: true`: the step must not happen.
    pub absent: bool,
}

/// How a sequence moves from one step to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// Minutes from the step's completion to the next step's.
    pub within_minutes: u32,
    /// Field of the step, field of the next step: their values must meet.
    pub pairs: Vec<(FieldRef, FieldRef)>,
}

/// What a correlation rule looks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// Steps in order; `transitions[i]` goes from step `i` to `i + 1`.
    Sequence {
        /// The steps.
        steps: Vec<Step>,
        /// One per step but the last.
        transitions: Vec<Transition>,
    },
    /// All groups (absent ones: none) for the same criteria values.
    Group {
        /// The groups.
        groups: Vec<Step>,
        /// Per group, the field of each criterion (criteria in name order).
        criteria: Vec<Vec<FieldRef>>,
    },
}

/// A compiled correlation: the pattern, its window and its tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    /// The pattern.
    pub pattern: Pattern,
    /// `LookbackWindowMinutes`: the whole correlation fits in it.
    pub lookback_minutes: u32,
    /// The tests as written.
    pub tests: Vec<CorrelationTest>,
}

/// A correlation test: matches of the steps, and whether an alert follows.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationTest {
    /// `Name`.
    pub name: String,
    /// `ExpectedResult`.
    pub expected: bool,
    /// (step ID, field as written, value, times as written).
    pub matches: Vec<(String, String, String, Vec<String>)>,
}

impl Correlation {
    /// The steps or groups.
    pub fn steps(&self) -> &[Step] {
        match &self.pattern {
            Pattern::Sequence { steps, .. } => steps,
            Pattern::Group { groups, .. } => groups,
        }
    }

    /// The pattern in words, one line each, for `kadet rules show`.
    pub fn describe(&self) -> Vec<String> {
        let field = |f: &FieldRef| match f {
            FieldRef::Context(k) => format!("p_alert_context.{k}"),
            FieldRef::Event(p) => p.to_string(),
        };
        let step = |s: &Step| {
            let mut t = format!("{:?}: {}", s.id, s.rule_id);
            if s.min_matches > 1 {
                t.push_str(&format!(", {} matches", s.min_matches));
            }
            if s.absent {
                t.push_str(", must NOT happen");
            }
            t
        };
        let mut out = Vec::new();
        match &self.pattern {
            Pattern::Sequence { steps, transitions } => {
                out.push("Sequence:".to_string());
                for (i, s) in steps.iter().enumerate() {
                    out.push(format!("  {}. {}", i + 1, step(s)));
                    if let Some(t) = transitions.get(i) {
                        let on: Vec<String> = t
                            .pairs
                            .iter()
                            .map(|(a, b)| format!("{} = {}", field(a), field(b)))
                            .collect();
                        out.push(format!(
                            "     then within {} min, where {}",
                            t.within_minutes,
                            if on.is_empty() {
                                "anything".into()
                            } else {
                                on.join(" and ")
                            }
                        ));
                    }
                }
            }
            Pattern::Group { groups, criteria } => {
                out.push("Group (any order):".to_string());
                for (g, fields) in groups.iter().zip(criteria) {
                    let on: Vec<String> = fields.iter().map(field).collect();
                    out.push(format!("  - {} on [{}]", step(g), on.join(", ")));
                }
            }
        }
        out.push(format!(
            "All within {} min (LookbackWindowMinutes).",
            self.lookback_minutes
        ));
        out
    }

    /// Every event path the correlation reads from the matches of `rule_id`.
    pub fn event_fields_of(&self, rule_id: &str) -> Vec<FieldPath> {
        let mut out: Vec<FieldPath> = Vec::new();
        let mut add = |f: &FieldRef| {
            if let FieldRef::Event(p) = f {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        };
        match &self.pattern {
            Pattern::Sequence { steps, transitions } => {
                for (i, t) in transitions.iter().enumerate() {
                    for (from, to) in &t.pairs {
                        if steps[i].rule_id == rule_id {
                            add(from);
                        }
                        if steps[i + 1].rule_id == rule_id {
                            add(to);
                        }
                    }
                }
            }
            Pattern::Group { groups, criteria } => {
                for (g, fields) in groups.iter().zip(criteria) {
                    if g.rule_id == rule_id {
                        fields.iter().for_each(&mut add);
                    }
                }
            }
        }
        out
    }
}

/// A compile error at `at`, found in the file by `needle`.
pub(crate) fn err(at: &str, message: impl Into<String>, needle: Option<&str>) -> CompileError {
    CompileError {
        at: at.to_string(),
        message: message.into(),
        needle: needle.map(str::to_string),
    }
}
