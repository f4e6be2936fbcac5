//! kadet's rules: Panther-compatible YAML rule files with Simple Detection
//! logic, and Sigma rules, compiled once into the same fast form.
//!
//! - [`model`]: the file format as written (serde models; unknown keys are errors);
//! - [`loader`]: reading files, directories and the built-in pack into a [`RuleSet`];
//! - [`compile`] and [`expr`]: match expressions compiled to an [`Expr`] tree and evaluated;
//! - [`path`]: key specifiers (`Key`, `KeyPath`, `DeepKey`);
//! - [`template`]: `AlertTitle` / `Dedup` / context templates;
//! - [`rule`]: a compiled [`Rule`] and the [`Outcome`] of a match;
//! - [`sigma`]: Sigma rules and correlations compiled to the same [`Rule`];
//! - [`prefilter`]: the literal prefilter that rejects records before parsing;
//! - [`testing`]: running a rule's Tests offline;
//! - [`tuning`]: tuning files (exclusions, severity, dedup, threshold, enabled) applied to shipped rules;
//! - [`explain`]: why an event matched or not, and rules in words;
//! - [`audit_policy`]: the audit Policy the rules need, written or checked.

#![warn(missing_docs)]

pub mod annotations;
pub mod audit_policy;
pub mod compile;
pub mod correlation;
pub mod correlation_file;
pub mod explain;
pub mod expr;
pub mod first_seen;
pub mod follow;
pub mod loader;
pub mod model;
pub mod path;
pub mod prefilter;
pub mod rule;
pub mod set;
pub mod sigma;
pub mod source;
pub mod template;
pub mod testing;
pub mod tuning;
pub mod user_regex;

pub use expr::Expr;
pub use loader::{
    load_builtin, load_paths, load_rules, load_rules_with, load_tuned, LoadOptions, SourceFormat,
};
pub use prefilter::{LineHit, LineVerdict, Prefilter, RuleMask};
pub use rule::{by_id, index_of, Outcome, Rule, RuleFormat, Severity, Verdict};
pub use set::RuleSet;
pub use source::{LoadError, LoadErrors, Source};
