//! `FirstSeen` rules in the alerter ([`kadet_rules::first_seen`]): a match
//! counts only when its value is new for its group, once the rule has
//! watched for its learning period.
//!
//! The state is internal windows of the rule (as for correlations), so it
//! is kept, saved and restored with every other window:
//!
//! - `L`: since when the rule has watched, per cluster (it never ends);
//! - `v` + group + value: a value seen for a group; it ends a forget period
//!   after the value was last seen, and a value whose window has ended is
//!   new again.

use super::correlate::internal;
use super::Alerter;
use crate::matches::Match;
use crate::window::{window_key, AlertWindow};
use kadet_event::EventTime;
use kadet_rules::first_seen::FirstSeen;

fn minutes(n: u32) -> i64 {
    i64::from(n) * 60_000_000
}

/// The internal window that says since when a rule has watched.
fn learning_key() -> String {
    internal("L", "")
}

/// The internal window of a value seen for a group.
fn seen_key(group: &str, value: &str) -> String {
    internal("v", &format!("{group}\u{1f}{value}"))
}

/// What a `FirstSeen` verdict at time `t` depends on, read before the match
/// is applied: the one reading of that state, for the verdict and for
/// `kadet explain`.
pub(super) struct Watch<'a> {
    /// Since when the rule has watched (`t` for its first match).
    pub since: EventTime,
    /// When its learning period is over.
    pub learned_at: EventTime,
    /// The window of the value for the group, if it is known at `t`.
    pub known: Option<&'a AlertWindow>,
}

impl Watch<'_> {
    /// Learning over and the value not known: the match counts.
    pub fn is_new(&self, t: EventTime) -> bool {
        t >= self.learned_at && self.known.is_none()
    }
}

impl Alerter<'_> {
    /// The state a `FirstSeen` match of `rule` for (`group`, `value`) on
    /// `cluster` at `t` is judged on.
    pub(super) fn watch(
        &self,
        rule: usize,
        fs: &FirstSeen,
        (group, value): (&str, &str),
        cluster: Option<&str>,
        t: EventTime,
    ) -> Watch<'_> {
        let open_at = |key: &str| {
            self.open
                .get(&(rule, window_key(key, cluster)))
                .map(|w| &**w)
                .filter(|w| w.covers(t))
        };
        let since = open_at(&learning_key()).map_or(t, |w| w.start);
        Watch {
            since,
            learned_at: EventTime(since.0.saturating_add(minutes(fs.learning_minutes))),
            known: open_at(&seen_key(group, value)),
        }
    }

    /// Records `m`'s value for its group and says whether it is new: not
    /// seen within the forget period, and the learning period over.
    pub(super) fn first_seen(&mut self, t: EventTime, m: &mut Match) -> bool {
        let rules = self.rules;
        let (Some(fs), Some((group, value))) = (
            rules[m.rule].first_seen.as_ref(),
            m.outcome.first_seen.clone(),
        ) else {
            return false;
        };
        let cluster = m.cluster.clone();
        let watch = self.watch(m.rule, fs, (&group, &value), cluster.as_deref(), t);
        let (since, new) = (watch.since, watch.is_new(t));
        // The rule keeps watching when no match comes: the learning window
        // never ends (one per rule and cluster).
        self.internal_window(m.rule, &learning_key(), since, EventTime(i64::MAX), t, m);
        let forget = minutes(fs.forget_after_minutes);
        let seen = seen_key(&group, &value);
        self.internal_window(
            m.rule,
            &seen,
            t,
            EventTime(t.0.saturating_add(forget)),
            t,
            m,
        );
        // A value's window is state, never an alert: its times are all it
        // needs (a third of the memory per value).
        if let Some(w) = self
            .open
            .get_mut(&(m.rule, window_key(&seen, cluster.as_deref())))
        {
            w.keep_only_times();
        }
        if new {
            m.outcome.context.insert(
                "first_seen".into(),
                serde_json::json!({
                    "group": group,
                    "value": value,
                    "watched_since": since.to_rfc3339(),
                    "forget_after_minutes": fs.forget_after_minutes,
                }),
            );
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use crate::alerter::Alerter;
    use crate::matches::Match;
    use kadet_event::EventTime;
    use kadet_rules::Rule;
    use std::time::Duration;

    const RULE: &str = "AnalysisType: rule\nRuleID: F\nSeverity: Medium\nFirstSeen:\n  GroupBy:\n    - KeyPath: user.username\n  Value:\n    KeyPath: sourceIPs[0]\n  LearningMinutes: 60\n  ForgetAfterMinutes: 120\nDetection:\n  - Key: verb\n    Condition: Exists\n";

    fn rules() -> Vec<Rule> {
        kadet_rules::loader::load_sources(
            Vec::new(),
            vec![kadet_rules::loader::Source {
                name: "f.yml".into(),
                text: RULE.into(),
            }],
        )
        .expect("rule loads")
        .rules
    }

    fn at(rules: &[Rule], minute: i64, user: &str, ip: &str) -> Match {
        let mut m = Match::bare(
            0,
            &rules[0],
            &format!("{user} {ip}"),
            EventTime(minute * 60_000_000),
        );
        m.outcome.first_seen = Some((user.to_string(), ip.to_string()));
        m
    }

    fn alerts(rules: &[Rule], ms: Vec<Match>) -> Vec<String> {
        let mut a = Alerter::new(rules, Duration::ZERO);
        for m in ms {
            let t = m.time;
            a.feed([m], t);
        }
        a.finish_all().into_iter().map(|x| x.dedup).collect()
    }

    #[test]
    fn nothing_is_new_while_learning_then_only_unseen_values_are() {
        let r = rules();
        let got = alerts(
            &r,
            vec![
                at(&r, 0, "sa", "1.1.1.1"),
                at(&r, 30, "sa", "2.2.2.2"), // learning: not reported, but remembered
                at(&r, 61, "sa", "2.2.2.2"), // known
                at(&r, 62, "sa", "3.3.3.3"), // new
                at(&r, 63, "sa", "3.3.3.3"), // known now
                at(&r, 64, "bob", "2.2.2.2"), // new for bob
            ],
        );
        assert_eq!(got, ["sa 3.3.3.3", "bob 2.2.2.2"]);
    }

    #[test]
    fn a_value_not_seen_for_the_forget_period_is_new_again() {
        let r = rules();
        let got = alerts(
            &r,
            vec![
                at(&r, 0, "sa", "1.1.1.1"),
                at(&r, 70, "sa", "1.1.1.1"), // known (seen at 0, forgotten at 120)
                at(&r, 200, "sa", "1.1.1.1"), // last seen at 70: forgotten at 190
            ],
        );
        assert_eq!(got, ["sa 1.1.1.1"]);
    }

    #[test]
    fn a_value_keeps_its_times_and_nothing_an_alert_would_show() {
        let r = rules();
        let mut a = Alerter::new(&r, Duration::ZERO);
        let mut m = at(&r, 5, "sa", "1.1.1.1");
        m.outcome.title = "a long title".into();
        m.outcome
            .context
            .insert("sourceIPs".into(), "1.1.1.1".into());
        a.feed([m], Some(EventTime(5 * 60_000_000)));
        let (_, windows, _) = a.state();
        let value = windows
            .iter()
            .find(|w| w.dedup == super::seen_key("sa", "1.1.1.1"))
            .expect("the value's window");
        assert_eq!(value.start, EventTime(5 * 60_000_000));
        assert_eq!(value.count, 1);
        assert!(value.title.is_empty() && value.context.is_empty() && value.events.is_empty());
    }

    #[test]
    fn what_was_learned_survives_a_restart() {
        let r = rules();
        let mut first = Alerter::new(&r, Duration::ZERO);
        first.feed([at(&r, 0, "sa", "1.1.1.1")], Some(EventTime(0)));
        let (watermark, windows, buffered) = first.state();
        let mut second = Alerter::new(&r, Duration::ZERO).restore(watermark, windows, buffered);
        second.feed(
            [at(&r, 90, "sa", "1.1.1.1"), at(&r, 91, "sa", "4.4.4.4")],
            Some(EventTime(91 * 60_000_000)),
        );
        let got: Vec<String> = second.finish_all().into_iter().map(|x| x.dedup).collect();
        assert_eq!(
            got,
            ["sa 4.4.4.4"],
            "learned since minute 0 and 1.1.1.1 known"
        );
    }
}
