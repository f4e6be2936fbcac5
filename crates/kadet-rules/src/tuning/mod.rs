//! Tuning without forking: a tuning file changes what shipped rules alert on
//! (exclusions written in the rule condition language, severity, dedup
//! period, threshold, enabled) without copying or editing them, so that
//! upgrades of the rules keep coming.
//!
//! ```yaml
//! AnalysisType: tuning
//! Tuning:
//!   - Rules: [Kubernetes.Secrets.DumpAllNamespaces]   # RuleIDs or globs (*, ?)
//!     Reason: velero reads every Secret for its nightly backup (CHG-1234)
//!     Expires: 2027-06-30                             # optional; then it stops applying
//!     Exclude:
//!       - KeyPath: user.username
//!         Condition: Equals
//!         Value: system:serviceaccount:velero:velero
//! Tests:
//!   - Name: velero no longer alerts
//!     RuleID: Kubernetes.Secrets.DumpAllNamespaces
//!     ExpectedResult: false
//!     Log: {...}
//! ```
//!
//! [`TuningFile::load`] reads and checks a file (every problem with file and
//! line); [`apply`] applies entries to a rule set, recording each change on
//! the rule ([`Rule::tuning`](crate::Rule)) with its file, line and reason.

mod apply;
mod model;

pub use apply::{apply, Applied};
pub use model::{TuningEntry, TuningFile, TuningTest};

pub use crate::annotations::{Exclusion, TuningNote};

/// True when the glob `pattern` (`*` any run, `?` one character) matches
/// `id` whole.
pub fn glob_matches(pattern: &str, id: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = id.chars().collect();
    go(&p, &s)
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs() {
        assert!(glob_matches("Kadet.*", "Kadet.Events.Deleted"));
        assert!(glob_matches("*.Pod.*", "Kubernetes.Pod.Exec"));
        assert!(glob_matches("Kubernetes.Pod.Exe?", "Kubernetes.Pod.Exec"));
        assert!(glob_matches("Exact.Id", "Exact.Id"));
        assert!(!glob_matches("Kadet.*", "Kubernetes.Pod.Exec"));
        assert!(!glob_matches("Kubernetes.Pod", "Kubernetes.Pod.Exec"));
    }
}
