//! The result of evaluating one accepted batch: what detection hands the
//! applier, one message on the results stream per batch of the audit
//! stream (also for a batch that held no match, or could not be processed,
//! so that the applier knows nothing is missing before it).

use kadet_engine::Match;
use kadet_event::EventTime;
use serde::{Deserialize, Serialize};

/// The version of the result form.
pub const RESULT_VERSION: u32 = 1;

/// One batch's result.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BatchResult {
    /// The form's version.
    pub v: u32,
    /// The batch's sequence in the audit stream.
    pub seq: u64,
    /// Its matches, in input order, each with its RuleID.
    pub matches: Vec<(String, Match)>,
    /// The latest event time among its events.
    pub max_time: Option<EventTime>,
    /// Set when the batch could not be processed (it went to the dead-letter
    /// stream); it then holds no matches.
    pub failed: Option<String>,
}

impl BatchResult {
    /// The message id of a batch's result: a result published twice (a
    /// redelivered batch) is stored once.
    pub fn message_id(seq: u64) -> String {
        format!("result-{seq}")
    }

    /// Reads a result, refusing unknown versions.
    pub fn parse(payload: &[u8]) -> Result<BatchResult, String> {
        let r: BatchResult = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        if r.v != RESULT_VERSION {
            return Err(format!(
                "result version {}; this kadet reads {RESULT_VERSION}",
                r.v
            ));
        }
        Ok(r)
    }
}
