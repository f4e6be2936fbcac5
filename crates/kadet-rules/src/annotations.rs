//! What a compiled [`Rule`](crate::Rule) carries beyond its own logic:
//! the tuning applied to it ([`Exclusion`], [`TuningNote`]) and a Sigma
//! rule's metadata ([`SigmaMeta`]). They live apart from the loaders that
//! fill them in (`tuning`, `sigma`), so that a rule does not depend on
//! its loaders.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// A tuning exclusion on a rule: a match where it holds is suppressed.
#[derive(Debug, Clone)]
pub struct Exclusion {
    /// `file:line` of the tuning entry, for counters and messages.
    pub label: String,
    /// The entry's reason.
    pub reason: String,
    /// The compiled condition.
    pub expr: crate::Expr,
}

/// One change a tuning entry made to a rule, for `kadet rules show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TuningNote {
    /// `file:line` of the entry.
    pub source: String,
    /// What changed (`severity Low`, `exclusion`, `disabled`, ...).
    pub change: String,
    /// The entry's reason.
    pub reason: String,
    /// The entry's expiry date, when it has one (`YYYY-MM-DD`).
    pub expires: Option<String>,
}

impl fmt::Display for TuningNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.source, self.change, self.reason)?;
        if let Some(e) = &self.expires {
            write!(f, ", until {e}")?;
        }
        Ok(())
    }
}

/// What a Sigma rule says beyond its logic, kept on the [`Rule`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SigmaMeta {
    /// `id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `name` (how correlation rules refer to it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `author`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// `date`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// `modified`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// `license`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// `level` as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// `references`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// `falsepositives`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub falsepositives: Vec<String>,
    /// `logsource` (category, product, service).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub logsource: BTreeMap<String, String>,
    /// The detection's condition(s), or the correlation in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub condition: Vec<String>,
    /// For a correlation rule: the rules it counts (their RuleIDs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub correlates: Vec<String>,
}
