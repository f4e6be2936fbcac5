//! The alerter's own behaviour for rules with an upper bound (Sigma `lt`,
//! `lte`, `eq`, ranges): judged when the window closes, in `serve`'s
//! emit-at-threshold mode too.

use super::{Alerter, EmitAt};
use crate::matches::Match;
use kadet_event::EventTime;
use kadet_rules::Rule;
use std::time::Duration;

fn bounded_rule() -> Vec<Rule> {
    let text = "AnalysisType: rule\nRuleID: R\nThreshold: 2\nDedupPeriodMinutes: 10\nDetection:\n  - Key: verb\n    Condition: Exists\n";
    let mut rules = kadet_rules::loader::load_sources(
        Vec::new(),
        vec![kadet_rules::loader::Source {
            name: "r.yml".into(),
            text: text.into(),
        }],
    )
    .expect("rule loads")
    .rules;
    rules[0].max_count = Some(3);
    rules
}

fn at(rules: &[Rule], key: &str, minute: i64) -> Match {
    Match::bare(0, &rules[0], key, EventTime(minute * 60_000_000))
}

#[test]
fn an_upper_bound_is_judged_at_close_even_when_alerting_at_the_threshold() {
    let rules = bounded_rule();
    let mut a = Alerter::with(&rules, Duration::ZERO, EmitAt::Threshold);
    a.feed([at(&rules, "two", 0), at(&rules, "two", 1)], None);
    a.feed((2..6).map(|m| at(&rules, "four", m)), None);
    assert!(
        a.drain_alerts().is_empty(),
        "nothing is decided before the windows close"
    );
    a.observe_time(EventTime(30 * 60_000_000));
    let alerts = a.drain_alerts();
    let keys: Vec<&str> = alerts.iter().map(|x| x.dedup.as_str()).collect();
    assert_eq!(keys, ["two"], "2 is within [2, 3]; 4 is over");
    a.observe_time(EventTime(60 * 60_000_000));
    assert!(a.drain_alerts().is_empty(), "raised once");
}
