//! The alerter's own behaviour: rules with an upper bound (Sigma `lt`,
//! `lte`, `eq`, ranges) judged when the window closes, in `serve`'s
//! emit-at-threshold mode too; sliding counts; the per-rule key limit.

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

/// An event_count-like rule: 3 matches within 10 minutes, counted sliding.
fn sliding_rule() -> Vec<Rule> {
    let mut rules = bounded_rule();
    rules[0].max_count = None;
    rules[0].threshold = 3;
    rules[0].sliding = true;
    rules
}

#[test]
fn a_sliding_count_catches_a_burst_that_straddles_two_windows() {
    let rules = sliding_rule();
    // The window opens at 0 and ends at 10; 8, 11 and 12 are three matches
    // within 10 minutes, two in each fixed window.
    let burst = [0, 8, 11, 12];
    for emit in [EmitAt::Close, EmitAt::Threshold] {
        let mut a = Alerter::with(&rules, Duration::ZERO, emit);
        a.feed(burst.iter().map(|m| at(&rules, "eve", *m)), None);
        let alerts = a.finish_all();
        assert_eq!(alerts.len(), 1, "{emit:?}: {alerts:?}");
        assert_eq!(
            alerts[0].first_seen.as_deref(),
            Some("1970-01-01T00:11:00.000000Z")
        );
    }
    // Spread out, no span of 10 minutes holds three.
    let mut a = Alerter::new(&rules, Duration::ZERO);
    a.feed(
        [0, 5, 20, 31].iter().map(|m| at(&rules, "mallory", *m)),
        None,
    );
    assert!(a.finish_all().is_empty());
    // Without sliding, the same burst gives nothing: two in each window.
    let mut fixed = sliding_rule();
    fixed[0].sliding = false;
    let mut a = Alerter::new(&fixed, Duration::ZERO);
    a.feed(burst.iter().map(|m| at(&fixed, "eve", *m)), None);
    assert!(a.finish_all().is_empty());
}

#[test]
fn a_sliding_count_survives_a_restart_mid_burst() {
    let rules = sliding_rule();
    let mut first = Alerter::with(&rules, Duration::ZERO, EmitAt::Threshold).restore(
        None,
        Vec::new(),
        Vec::new(),
    );
    first.feed([0, 8].iter().map(|m| at(&rules, "eve", *m)), None);
    let (watermark, windows, buffered) = first.state();
    let stored: Vec<_> = windows
        .iter()
        .map(|w| crate::window::AlertWindow::from_stored(&w.to_stored()).expect("reads"))
        .collect();
    let mut second = Alerter::with(&rules, Duration::ZERO, EmitAt::Threshold)
        .restore(watermark, stored, buffered);
    second.feed([11, 12].iter().map(|m| at(&rules, "eve", *m)), None);
    assert_eq!(
        second.drain_alerts().len(),
        1,
        "8 was kept across the restart: 8, 11 and 12 are within 10 minutes"
    );
}

#[test]
fn a_rule_at_its_key_limit_closes_the_window_that_would_close_first() {
    let mut rules = bounded_rule();
    rules[0].max_count = None;
    rules[0].threshold = 1;
    // Alerts at close (scan): an evicted window still gives its alert.
    let mut a = Alerter::new(&rules, Duration::ZERO).with_max_keys_per_rule(2);
    a.feed(
        [at(&rules, "a", 0), at(&rules, "b", 1), at(&rules, "c", 2)],
        None,
    );
    assert_eq!(a.open_windows(), 2, "at most two keys");
    assert_eq!(a.stats.evicted, 1);
    let early: Vec<String> = a.drain_alerts().into_iter().map(|x| x.dedup).collect();
    assert_eq!(
        early,
        ["a"],
        "the oldest window closed early, with its alert"
    );
    // A key already open does not evict anything.
    a.feed([at(&rules, "b", 3), at(&rules, "c", 3)], None);
    assert_eq!(a.stats.evicted, 1);
    let rest: Vec<String> = a.finish_all().into_iter().map(|x| x.dedup).collect();
    assert_eq!(rest, ["b", "c"]);

    // Alerting at the threshold (serve): a key evicted and seen again
    // within its old window opens a new window, so it alerts again; that is
    // the price of the bound.
    let mut a = Alerter::with(&rules, Duration::ZERO, EmitAt::Threshold).with_max_keys_per_rule(1);
    a.feed(
        [at(&rules, "a", 0), at(&rules, "b", 1), at(&rules, "a", 2)],
        None,
    );
    let raised: Vec<String> = a.drain_alerts().into_iter().map(|x| x.dedup).collect();
    assert_eq!(raised, ["a", "b", "a"]);
    assert_eq!((a.open_windows(), a.stats.evicted), (1, 2));
}
