//! Sigma rules: SigmaHQ's Kubernetes and GKE audit rules run unchanged,
//! compiled into kadet's [`Expr`](crate::Expr) tree so they get the
//! prefilter, the evaluator, alerts, `explain` and `serve` like Panther
//! rules. `docs/sigma.md` is the reference.
//!
//! - [`document`]: multi-document YAML files and error positions;
//! - [`fields`]: the log sources kadet serves and field-name mapping;
//! - [`condition`]: the condition grammar;
//! - [`modifiers`], [`pattern`] and [`values`]: modifiers, wildcards, and a
//!   field's values compiled to an expression;
//! - [`detection`]: search identifiers and the condition as one expression;
//! - [`meta`] and [`attack`]: metadata, the `kadet:` key, ATT&CK tags;
//! - [`correlation`]: correlation rules (`event_count`, `value_count`, and
//!   the temporal types in its child module);
//! - [`load`]: whole files, correlations across files, sidecar tests.

pub mod attack;
pub mod condition;
pub mod correlation;
pub mod detection;
pub mod document;
pub mod fields;
pub mod load;
pub mod meta;
pub mod modifiers;
pub mod pattern;
pub mod values;

pub use crate::annotations::SigmaMeta;

use serde_norway::Value as Yaml;

/// True when a YAML document has the shape of a Sigma rule or correlation
/// (`detection`, `logsource` or `correlation`) and no Panther `AnalysisType`.
pub fn looks_like_sigma(doc: &Yaml) -> bool {
    doc.get("AnalysisType").is_none()
        && ["detection", "logsource", "correlation"]
            .iter()
            .any(|k| doc.get(*k).is_some())
}
