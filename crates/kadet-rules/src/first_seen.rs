//! First-seen values: kadet's `FirstSeen` rule key. A match counts only when
//! its value is new for its group: not seen for the group within
//! `ForgetAfterMinutes`, once the rule has watched for `LearningMinutes`.
//!
//! This is Elastic's `new_terms` (a history window: `ForgetAfterMinutes`)
//! and Datadog's "new value" (a learning period: `LearningMinutes`; forget
//! after: `ForgetAfterMinutes`). The state is windows, like every other
//! (`kadet_engine::alerter`): one per (group, value) seen, ending that long
//! after it was last seen, and one per rule and cluster for the learning
//! period, so it is kept by `serve`, cluster mode and `scan --state`.

use crate::compile::{key_spec_raw, CompileError};
use crate::model::FirstSeenRaw;
use crate::path::FieldPath;

/// A compiled `FirstSeen`.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstSeen {
    /// The fields whose values name the group (none: one group).
    pub group_by: Vec<FieldPath>,
    /// The field whose value must be new for the group.
    pub value: FieldPath,
    /// Nothing is new until the rule has watched this long (event time).
    pub learning_minutes: u32,
    /// A value not seen for this long is forgotten.
    pub forget_after_minutes: u32,
}

impl FirstSeen {
    /// Compiles `FirstSeen` as written.
    pub fn compile(raw: &FirstSeenRaw) -> Result<FirstSeen, CompileError> {
        let group_by = raw
            .GroupBy
            .iter()
            .enumerate()
            .map(|(i, k)| key_spec_raw(k, &format!("FirstSeen.GroupBy[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let forget = raw.ForgetAfterMinutes.unwrap_or(30 * 24 * 60);
        if forget == 0 {
            return Err(CompileError {
                at: "FirstSeen.ForgetAfterMinutes".into(),
                message: "ForgetAfterMinutes is at least 1".into(),
                needle: Some("ForgetAfterMinutes".into()),
            });
        }
        Ok(FirstSeen {
            group_by,
            value: key_spec_raw(&raw.Value, "FirstSeen.Value")?,
            learning_minutes: raw.LearningMinutes.unwrap_or(7 * 24 * 60),
            forget_after_minutes: forget,
        })
    }
}
