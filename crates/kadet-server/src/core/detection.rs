//! What both modes share about detection: how matches become alerts in
//! time ([`Timing`]) and what evaluating one batch is counted as
//! ([`count_evaluation`]).

use crate::config::Detection;
use crate::metrics::{Counter, Metrics};
use kadet_engine::pipeline::ChunkResult;
use kadet_engine::Alerter;
use kadet_rules::Rule;
use std::collections::BTreeMap;
use std::time::Duration;

/// How matches turn into alerts in `serve`, in either mode.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Event-time disorder handled exactly.
    pub lateness: Duration,
    /// After this long (wall clock) without event time moving on, buffered
    /// matches are applied anyway (`None`: never).
    pub idle_release: Option<Duration>,
    /// Open windows one rule may hold (`[detection] max_keys_per_rule`).
    pub max_keys_per_rule: usize,
}

impl Timing {
    /// From `[detection]`.
    pub fn from_config(d: &Detection) -> Timing {
        Timing {
            lateness: Duration::from_secs(d.lateness_secs),
            idle_release: (d.idle_release_secs > 0)
                .then(|| Duration::from_secs(d.idle_release_secs)),
            max_keys_per_rule: d.max_keys_per_rule,
        }
    }
}

/// Counts the windows `alerter` closed early at its per-rule limit since
/// the last call (`counted`: how many were counted before).
pub fn count_evictions(m: &Metrics, alerter: &Alerter<'_>, counted: &mut u64) {
    let evicted = alerter.stats.evicted;
    if evicted > *counted {
        m.add(Counter::WindowsEvicted, &[], evicted - *counted);
        tracing::warn!(
            total = evicted,
            "alert windows closed early: a rule holds [detection] max_keys_per_rule windows"
        );
    }
    *counted = evicted;
}

/// Counts what evaluating one batch gave: events by log type, skips by
/// reason (the first few logged), matches by rule, tuning suppressions by
/// rule and entry.
pub fn count_evaluation(m: &Metrics, rules: &[Rule], r: &ChunkResult) {
    for (lt, n) in &r.stats.events_by_type {
        m.add(Counter::EventsEvaluated, &[("log_type", lt.name())], *n);
    }
    for (reason, n) in &r.stats.skipped {
        m.add(Counter::RecordsSkipped, &[("reason", reason.name())], *n);
    }
    for s in r.skips.iter().take(5) {
        tracing::warn!(reason = s.reason.name(), location = %s.location, "skipped record");
    }
    let mut matched: BTreeMap<usize, u64> = BTreeMap::new();
    for mt in &r.matches {
        *matched.entry(mt.rule).or_default() += 1;
    }
    for (rule, n) in matched {
        m.add(Counter::Matches, &[("rule", &rules[rule].id)], n);
    }
    for ((rule, x), n) in &r.stats.suppressed {
        let rule = &rules[*rule];
        let entry = rule.exclusions.get(*x).map_or("?", |e| e.label.as_str());
        m.add(
            Counter::TuningSuppressed,
            &[("rule", &rule.id), ("entry", entry)],
            *n,
        );
    }
}
