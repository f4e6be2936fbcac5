//! Rules that follow another rule: kadet's `Follows` extension.
//!
//! A follower's match counts only while the rule it follows (the *lead*)
//! holds an open window whose dedup string equals the value of the
//! follower's `Key` in the event, in the same cluster. The lead's windows
//! are the state: they open at the lead's match, last its dedup period (or
//! less, with `DedupPeriodSecondsFrom`), and are kept, saved and restored
//! like every other window in `scan`, `serve` and cluster mode.
//!
//! The seed use: `Kadet.ServiceAccount.TokenMinted` (a signal, one window per
//! issued token id, as long as the token lives) is the lead of
//! `Kadet.ServiceAccount.MintedTokenUsed` (a request made with that token).
//! The engine joins them (`kadet_engine::alerter`), names the lead's event in
//! the alert, and raises the severity one level per [`Escalation`] that
//! holds.

use crate::compile::{key_spec_raw, CompileError};
use crate::model::FollowsRaw;
use crate::path::FieldPath;

/// A follower's link to its lead.
#[derive(Debug, Clone, PartialEq)]
pub struct Follows {
    /// The lead's RuleID.
    pub rule_id: String,
    /// The field of the follower's event whose value is the lead window's
    /// dedup string.
    pub key: FieldPath,
    /// What raises the severity.
    pub escalation: Escalation,
}

/// Conditions on a follower's match, judged against the lead's window;
/// each that holds raises the severity one level (up to Critical).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Escalation {
    /// No source address of the match was seen in the lead's event or in an
    /// earlier follower match of the same lead window.
    pub new_source_address: bool,
    /// The user agent was not seen there either.
    pub new_user_agent: bool,
    /// The match is more than this many minutes after the lead's event.
    pub minutes_after: Option<u32>,
}

impl Follows {
    /// Compiles `Follows` as written.
    pub fn compile(raw: &FollowsRaw) -> Result<Follows, CompileError> {
        let rule_id = raw.RuleID.trim();
        if rule_id.is_empty() {
            return Err(CompileError {
                at: "Follows.RuleID".into(),
                message: "Follows needs the RuleID of the rule it follows".into(),
                needle: None,
            });
        }
        let e = &raw.EscalateWhen;
        if e.MinutesAfter == Some(0) {
            return Err(CompileError {
                at: "Follows.EscalateWhen.MinutesAfter".into(),
                message: "MinutesAfter is at least 1".into(),
                needle: None,
            });
        }
        Ok(Follows {
            rule_id: rule_id.to_string(),
            key: key_spec_raw(&raw.Key, "Follows.Key")?,
            escalation: Escalation {
                new_source_address: e.NewSourceAddress,
                new_user_agent: e.NewUserAgent,
                minutes_after: e.MinutesAfter,
            },
        })
    }
}
