//! Correlation rules in the alerter ([`kadet_rules::correlation`]): the
//! matches of step rules move sequences and groups on, in event order, and a
//! completed one becomes a match of the correlation rule, alerted like any
//! other (its own dedup window, its `alert_id`).
//!
//! The state is windows of the correlation rule under internal keys, so it is
//! kept, saved and restored with every other window in `scan`, `serve` and
//! cluster mode:
//!
//! - `c<j>` + key: matches counted towards step `j`'s `MinMatchCount`, for a
//!   chain that started at the window's start;
//! - `r<j>` + key: step `j` done at the window's `last_time`; the next step
//!   may follow until the window's end (its time frame, within the look-back);
//!   when the next step is an `Absence`, the window closing unbroken is the
//!   alert;
//! - `g<k>` + key: group `k`'s matches for one set of criteria values;
//! - `d` + key: a group correlation waiting for its absent groups' time to
//!   pass.
//!
//! Keys are the values the transition or criteria read, one per field,
//! joined; a field holding a list gives one key per element (at most
//! [`MAX_KEYS`] per match).

use super::Alerter;
use crate::matches::Match;
use crate::window::{window_key, AlertWindow};
use kadet_event::EventTime;
use kadet_rules::correlation::{Correlation, FieldRef, Pattern};
use kadet_rules::Outcome;

/// Most keys one match may stand for (a list field's elements, combined
/// over the fields a transition reads).
pub const MAX_KEYS: usize = 16;

/// Marks an internal window's dedup string; no rule's dedup string starts
/// with it (a control character).
const INTERNAL: char = '\u{1e}';
/// Separates values inside a key.
const SEP: char = '\u{1f}';

/// Where a correlation rule's steps are, resolved against the loaded rules.
#[derive(Debug, Clone)]
pub(super) struct Resolved {
    /// The correlation rule's index.
    pub rule: usize,
    /// Per step or group, the index of its rule (`None`: not loaded).
    pub steps: Vec<Option<usize>>,
}

/// The correlation rules among `rules`, with their steps resolved.
pub(super) fn resolve(rules: &[kadet_rules::Rule]) -> Vec<Resolved> {
    rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let c = r.correlation.as_ref()?;
            Some(Resolved {
                rule: i,
                steps: c
                    .steps()
                    .iter()
                    .map(|s| kadet_rules::index_of(rules, &s.rule_id))
                    .collect(),
            })
        })
        .collect()
}

/// The values of `field` in match `m`, as text (empty ones left out).
fn values(m: &Match, field: &FieldRef) -> Vec<String> {
    let mut vs = match field {
        FieldRef::Context(k) => m
            .outcome
            .context
            .get(k)
            .map(crate::matches::json_texts)
            .unwrap_or_default(),
        FieldRef::Event(p) => m.fields.get(&p.to_string()).cloned().unwrap_or_default(),
    };
    vs.retain(|v| !v.is_empty());
    vs
}

/// The keys match `m` stands for over `fields`: one value of each field,
/// joined; every combination, at most [`MAX_KEYS`]. No fields: one empty
/// key. A field without a value: no key.
fn keys<'f>(m: &Match, fields: impl IntoIterator<Item = &'f FieldRef>) -> Vec<String> {
    let mut out = vec![String::new()];
    for (i, f) in fields.into_iter().enumerate() {
        let vs = values(m, f);
        let mut next = Vec::new();
        for prefix in &out {
            for v in &vs {
                if next.len() == MAX_KEYS {
                    break;
                }
                next.push(if i == 0 {
                    v.clone()
                } else {
                    format!("{prefix}{SEP}{v}")
                });
            }
        }
        out = next;
    }
    out.sort();
    out.dedup();
    out
}

/// The dedup string of an internal window of kind `kind` for `key`.
pub(super) fn internal(kind: &str, key: &str) -> String {
    format!("{INTERNAL}{kind}{SEP}{key}")
}

/// The key of an internal window (the part after its kind), or `None` for a
/// window the correlation rule alerted with.
pub(super) fn internal_kind(dedup: &str) -> Option<(&str, &str)> {
    dedup.strip_prefix(INTERNAL)?.split_once(SEP)
}

fn minutes(n: u32) -> i64 {
    i64::from(n) * 60_000_000
}

impl Alerter<'_> {
    /// Moves every correlation that has `m`'s rule among its steps on.
    pub(super) fn correlate(&mut self, t: EventTime, m: &Match) {
        if self.correlations.is_empty() {
            return;
        }
        let rules = self.rules;
        for ci in 0..self.correlations.len() {
            let c = &self.correlations[ci];
            let (cr, steps) = (c.rule, c.steps.clone());
            let Some(corr) = rules[cr].correlation.as_deref() else {
                continue;
            };
            for (j, _) in steps
                .iter()
                .enumerate()
                .filter(|(_, s)| **s == Some(m.rule))
            {
                match &corr.pattern {
                    Pattern::Sequence { .. } => self.sequence_step(cr, corr, j, t, m),
                    Pattern::Group { .. } => self.group_match(cr, corr, j, t, m),
                }
            }
        }
    }

    fn sequence_step(&mut self, cr: usize, corr: &Correlation, j: usize, t: EventTime, m: &Match) {
        let Pattern::Sequence { steps, transitions } = &corr.pattern else {
            return;
        };
        if j == 0 {
            let fields = transitions[0].pairs.iter().map(|(from, _)| from);
            for key in keys(m, fields) {
                self.count_step(cr, corr, j, &key, None, t, m);
            }
            return;
        }
        let incoming = transitions[j - 1].pairs.iter().map(|(_, to)| to);
        for key in keys(m, incoming) {
            let ready = (
                cr,
                window_key(
                    &internal(&format!("r{}", j - 1), &key),
                    m.cluster.as_deref(),
                ),
            );
            let Some(r) = self.open.get(&ready) else {
                continue;
            };
            if !r.covers(t) || t < r.last_time {
                continue;
            }
            if steps[j].absent {
                // The step that must not follow did: the chain is broken.
                self.drop_internal(&ready);
                continue;
            }
            let chain_start = r.start;
            self.count_step(cr, corr, j, &key, Some(chain_start), t, m);
        }
    }

    /// Counts `m` towards step `j` for `key`; completes the step when it
    /// reaches its `MinMatchCount`.
    #[allow(clippy::too_many_arguments)]
    fn count_step(
        &mut self,
        cr: usize,
        corr: &Correlation,
        j: usize,
        key: &str,
        chain_start: Option<EventTime>,
        t: EventTime,
        m: &Match,
    ) {
        let Pattern::Sequence { steps, transitions } = &corr.pattern else {
            return;
        };
        let start = chain_start.unwrap_or(t);
        let end = EventTime(start.0.saturating_add(minutes(corr.lookback_minutes)));
        let w = self.internal_window(cr, &internal(&format!("c{j}"), key), start, end, t, m);
        if w.count < u64::from(steps[j].min_matches) {
            return;
        }
        let chain_start = w.start;
        if j + 1 == steps.len() {
            self.raise_correlation(cr, key, t, m);
            return;
        }
        let next = &transitions[j];
        let frame_end = EventTime(t.0.saturating_add(minutes(next.within_minutes)));
        let end = frame_end.min(EventTime(
            chain_start.0.saturating_add(minutes(corr.lookback_minutes)),
        ));
        let outgoing = next.pairs.iter().map(|(from, _)| from);
        for out in keys(m, outgoing) {
            let name = internal(&format!("r{j}"), &out);
            self.internal_window(cr, &name, chain_start, end, t, m);
        }
    }

    fn group_match(&mut self, cr: usize, corr: &Correlation, k: usize, t: EventTime, m: &Match) {
        let Pattern::Group { groups, criteria } = &corr.pattern else {
            return;
        };
        let lookback = minutes(corr.lookback_minutes);
        for key in keys(m, &criteria[k]) {
            // An absent group's match must be seen by decisions up to a
            // look-back after it, so it is kept twice as long.
            let keep = if groups[k].absent {
                2 * lookback
            } else {
                lookback
            };
            let end = EventTime(t.0.saturating_add(keep));
            let w = self.internal_window(cr, &internal(&format!("g{k}"), &key), t, end, t, m);
            if groups[k].absent || w.count < u64::from(groups[k].min_matches) {
                continue;
            }
            self.check_group(cr, corr, &key, t, m);
        }
    }

    /// Every present group done for `key` within the look-back: the alert,
    /// or, with absent groups, a decision once their time has passed.
    fn check_group(&mut self, cr: usize, corr: &Correlation, key: &str, t: EventTime, m: &Match) {
        let Pattern::Group { groups, .. } = &corr.pattern else {
            return;
        };
        let lookback = minutes(corr.lookback_minutes);
        let mut earliest = t;
        for (g, step) in groups.iter().enumerate().filter(|(_, s)| !s.absent) {
            let wk = (
                cr,
                window_key(&internal(&format!("g{g}"), key), m.cluster.as_deref()),
            );
            match self.open.get(&wk) {
                Some(w)
                    if w.count >= u64::from(step.min_matches) && t.0 - w.start.0 <= lookback =>
                {
                    earliest = earliest.min(w.start);
                }
                _ => return,
            }
        }
        if groups.iter().any(|g| g.absent) {
            let end = EventTime(earliest.0.saturating_add(lookback));
            self.internal_window(cr, &internal("d", key), earliest, end, t, m);
        } else {
            self.raise_correlation(cr, key, t, m);
        }
    }

    /// Opens (or reopens, when ended) the internal window `name` of
    /// correlation rule `cr` with the given span, counts `m` in it and
    /// returns it. An open window whose span is asked to end later is
    /// extended (a step completed again moves its time frame on).
    pub(super) fn internal_window(
        &mut self,
        cr: usize,
        name: &str,
        start: EventTime,
        end: EventTime,
        t: EventTime,
        m: &Match,
    ) -> &AlertWindow {
        let rule = &self.rules[cr];
        let key = (cr, window_key(name, m.cluster.as_deref()));
        if self.open.get(&key).is_some_and(|w| !w.covers(t)) {
            self.drop_internal(&key);
        }
        if !self.open.contains_key(&key) {
            self.make_room(cr);
        }
        if let Some(tr) = &mut self.tracking {
            tr.dirty.insert(key.clone());
        }
        let closing = &mut self.closing;
        let w = self.open.entry(key.clone()).or_insert_with(|| {
            let mut w = Box::new(AlertWindow::open(rule, t, m));
            w.dedup = name.to_string();
            w.start = start;
            w.end = end;
            closing.push(key.0, end, key.1.clone());
            closing.count(key.0, true);
            w
        });
        if end > w.end {
            w.end = end;
            closing.push(key.0, end, key.1);
        }
        w.add(rule, t, m);
        w.last_time = t;
        w
    }

    /// Drops an internal window without an alert.
    fn drop_internal(&mut self, key: &(usize, String)) {
        if let Some(w) = self.open.remove(key) {
            self.closing.count(key.0, false);
            if let Some(tr) = &mut self.tracking {
                tr.dirty.remove(key);
                tr.closed.push((w.rule_id.clone(), w.key()));
            }
        }
    }

    /// An internal window of a correlation rule has ended (event time passed
    /// it, or the input ended). Returns true when that raises the alert: a
    /// step left unfollowed by an absent last step, or a group decision
    /// with no absent group seen, decided only once its time has passed.
    pub(super) fn internal_window_ended(&mut self, cr: usize, w: &AlertWindow) -> bool {
        let Some(corr) = self.rules[cr].correlation.as_deref() else {
            return false;
        };
        let Some((kind, key)) = internal_kind(&w.dedup) else {
            return false;
        };
        if self.watermark.is_none_or(|wm| wm < w.end) {
            return false;
        }
        let fires = match &corr.pattern {
            Pattern::Sequence { steps, .. } => {
                let last = steps.len() - 1;
                kind == format!("r{}", last - 1) && steps[last].absent
            }
            Pattern::Group { groups, .. } => {
                kind == "d"
                    && !groups.iter().enumerate().any(|(g, s)| {
                        s.absent && {
                            let name = internal(&format!("g{g}"), key);
                            self.open
                                .contains_key(&(cr, window_key(&name, w.cluster.as_deref())))
                        }
                    })
            }
        };
        if fires {
            let m = window_match(cr, w);
            self.raise_correlation(cr, key, w.last_time, &m);
        }
        fires
    }

    /// The correlation rule's own match for `key`, completed by `m` at `t`:
    /// counted in its dedup window like any match.
    fn raise_correlation(&mut self, cr: usize, key: &str, t: EventTime, m: &Match) {
        let rule = &self.rules[cr];
        let mut context = serde_json::Map::new();
        let values: Vec<&str> = key.split(SEP).filter(|v| !v.is_empty()).collect();
        context.insert("correlated_on".into(), serde_json::json!(values));
        if m.rule != cr {
            context.insert(
                "completed_by".into(),
                serde_json::json!(self.rules[m.rule].id),
            );
        }
        let title = rule.display_name.clone().unwrap_or_else(|| rule.id.clone());
        let dedup = if values.is_empty() {
            rule.id.clone()
        } else {
            values.join(" ")
        };
        let cm = Match {
            rule: cr,
            outcome: Outcome {
                title: if values.is_empty() {
                    title
                } else {
                    format!("{title} [{}]", values.join(", "))
                },
                dedup,
                severity: rule.severity,
                context,
                distinct: None,
                follow_key: None,
                period_seconds: None,
                first_seen: None,
            },
            time: Some(t),
            summary: Vec::new(),
            fields: Default::default(),
            ..m.clone()
        };
        self.apply_to_window(t, cm);
    }
}

/// A match standing for the event that completed an internal window (for an
/// alert raised when the window ends).
fn window_match(cr: usize, w: &AlertWindow) -> Match {
    let first = w.events.first();
    Match {
        rule: cr,
        outcome: Outcome {
            title: w.title.clone(),
            dedup: w.dedup.clone(),
            severity: w.severity,
            context: w.context.clone(),
            distinct: None,
            follow_key: None,
            period_seconds: None,
            first_seen: None,
        },
        time: Some(w.last_time),
        location: kadet_event::Location::line(
            std::sync::Arc::from(first.map_or("", |e| e.location.as_str())),
            0,
        ),
        audit_id: first.and_then(|e| e.audit_id.clone()),
        log_type: w
            .log_types
            .iter()
            .next()
            .copied()
            .unwrap_or(kadet_event::LogType::KubernetesAudit),
        cluster: w.cluster.clone(),
        summary: Vec::new(),
        fields: Default::default(),
        actor: w.actor.clone(),
        target: w.target.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerter::EmitAt;
    use kadet_rules::{Rule, Severity};
    use std::time::Duration;

    fn signal(id: &str) -> String {
        format!("AnalysisType: rule\nRuleID: {id}\nCreateAlert: false\nDetection:\n  - Key: verb\n    Condition: Exists\n")
    }

    /// Signals A, B and C, and the correlation rule `text`.
    fn rules(text: &str) -> Vec<Rule> {
        let src = |name: &str, text: String| kadet_rules::loader::Source {
            name: name.into(),
            text,
        };
        kadet_rules::loader::load_sources(
            Vec::new(),
            vec![
                src("a.yml", signal("A")),
                src("b.yml", signal("B")),
                src("c.yml", signal("C")),
                src("corr.yml", text.to_string()),
            ],
        )
        .expect("rules load")
        .rules
    }

    /// A match of rule `id` at `minute` whose event has `user.username` `user`.
    fn at(rules: &[Rule], id: &str, minute: i64, user: &str) -> Match {
        let rule = kadet_rules::index_of(rules, id).expect("rule");
        let mut m = Match::bare(rule, &rules[rule], id, EventTime(minute * 60_000_000));
        m.fields
            .insert("user.username".to_string(), vec![user.to_string()]);
        m
    }

    const SEQ: &str = "AnalysisType: correlation_rule\nRuleID: S\nSeverity: High\nDetection:\n  - Sequence:\n      - ID: a\n        RuleID: A\n      - ID: b\n        RuleID: B\n        MinMatchCount: 2\n    Transitions:\n      - ID: a then b\n        From: a\n        To: b\n        WithinTimeFrameMinutes: 10\n        Match:\n          - On: user.username\n    LookbackWindowMinutes: 30\n";

    fn run(rules: &[Rule], ms: Vec<Match>) -> Vec<crate::Alert> {
        let mut a = Alerter::new(rules, Duration::ZERO);
        for m in ms {
            let t = m.time;
            a.feed([m], t);
        }
        a.finish_all()
    }

    #[test]
    fn join_fields_are_linked_at_load() {
        let rules = rules(SEQ);
        let a = &rules[kadet_rules::index_of(&rules, "A").unwrap()];
        assert_eq!(a.join_fields.len(), 1);
    }

    #[test]
    fn a_sequence_alerts_when_its_steps_follow_in_time_for_the_same_key() {
        let rules = rules(SEQ);
        let r = &rules;
        let alerts = run(
            r,
            vec![
                at(r, "A", 0, "eve"),
                at(r, "B", 3, "eve"),
                at(r, "B", 5, "eve"),
            ],
        );
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].rule_id, "S");
        assert_eq!(alerts[0].severity, Severity::High);
        assert_eq!(alerts[0].title, "S [eve]");
        // One B is short of MinMatchCount; another user's Bs, or Bs too late,
        // do not count.
        assert!(run(r, vec![at(r, "A", 0, "eve"), at(r, "B", 3, "eve")]).is_empty());
        assert!(run(
            r,
            vec![
                at(r, "A", 0, "eve"),
                at(r, "B", 3, "bob"),
                at(r, "B", 4, "bob")
            ]
        )
        .is_empty());
        assert!(run(
            r,
            vec![
                at(r, "A", 0, "eve"),
                at(r, "B", 12, "eve"),
                at(r, "B", 13, "eve")
            ]
        )
        .is_empty());
        assert!(run(
            r,
            vec![
                at(r, "B", 0, "eve"),
                at(r, "B", 1, "eve"),
                at(r, "A", 2, "eve")
            ]
        )
        .is_empty());
    }

    const NOT_FOLLOWED: &str = "AnalysisType: correlation_rule\nRuleID: N\nSeverity: Medium\nDetection:\n  - Sequence:\n      - ID: a\n        RuleID: A\n      - ID: b\n        RuleID: B\n        Absence: true\n    Transitions:\n      - ID: a not followed by b\n        From: a\n        To: b\n        WithinTimeFrameMinutes: 10\n        Match:\n          - On: user.username\n    LookbackWindowMinutes: 30\n";

    #[test]
    fn a_step_not_followed_in_its_time_frame_alerts_once_the_frame_has_passed() {
        let rules = rules(NOT_FOLLOWED);
        let r = &rules;
        let lone = run(r, vec![at(r, "A", 0, "eve"), at(r, "C", 11, "x")]);
        assert_eq!(lone.len(), 1, "{lone:?}");
        assert_eq!(lone[0].rule_id, "N");
        let followed = run(
            r,
            vec![
                at(r, "A", 0, "eve"),
                at(r, "B", 4, "eve"),
                at(r, "C", 11, "x"),
            ],
        );
        assert!(followed.is_empty(), "{followed:?}");
        let by_other = run(
            r,
            vec![
                at(r, "A", 0, "eve"),
                at(r, "B", 4, "bob"),
                at(r, "C", 11, "x"),
            ],
        );
        assert_eq!(by_other.len(), 1);
        // The input ends before the frame has passed: undecided, no alert.
        assert!(run(r, vec![at(r, "A", 0, "eve"), at(r, "C", 5, "x")]).is_empty());
    }

    const THREE: &str = "AnalysisType: correlation_rule\nRuleID: T\nDetection:\n  - Sequence:\n      - ID: a\n        RuleID: A\n      - ID: b\n        RuleID: B\n      - ID: c\n        RuleID: C\n    Transitions:\n      - ID: a to b\n        From: a\n        To: b\n        Match:\n          - From: user.username\n            To: objectRef.name\n      - ID: b to c\n        From: b\n        To: c\n        Match:\n          - On: user.username\n    LookbackWindowMinutes: 30\n";

    #[test]
    fn three_steps_with_different_fields_and_list_values() {
        let rules = rules(THREE);
        let r = &rules;
        let with = |mut m: Match, field: &str, vals: &[&str]| {
            m.fields
                .insert(field.into(), vals.iter().map(|v| v.to_string()).collect());
            m
        };
        // b's object names (a list) include a's user; c is by b's user.
        let b = with(at(r, "B", 2, "mallory"), "objectRef.name", &["x", "eve"]);
        let alerts = run(
            r,
            vec![at(r, "A", 0, "eve"), b.clone(), at(r, "C", 3, "mallory")],
        );
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].rule_id, "T");
        assert!(run(
            r,
            vec![at(r, "A", 0, "eve"), b.clone(), at(r, "C", 3, "eve")]
        )
        .is_empty());
        assert!(
            run(r, vec![at(r, "A", 0, "eve"), b, at(r, "C", 31, "mallory")]).is_empty(),
            "past the look-back"
        );
    }

    const GROUP: &str = "AnalysisType: correlation_rule\nRuleID: G\nDetection:\n  - Group:\n      - ID: a\n        RuleID: A\n        MinMatchCount: 2\n      - ID: b\n        RuleID: B\n      - ID: c\n        RuleID: C\n        Absence: true\n    MatchCriteria:\n      user:\n        - GroupID: a\n          Match: user.username\n        - GroupID: b\n          Match: user.username\n        - GroupID: c\n          Match: user.username\n    LookbackWindowMinutes: 10\n";

    #[test]
    fn a_group_needs_every_present_group_in_any_order_and_no_absent_one() {
        let rules = rules(GROUP);
        let r = &rules;
        let tail = || at(r, "A", 40, "nobody");
        let hit = run(
            r,
            vec![
                at(r, "B", 0, "eve"),
                at(r, "A", 1, "eve"),
                at(r, "A", 2, "eve"),
                tail(),
            ],
        );
        assert_eq!(
            hit.iter().filter(|a| a.rule_id == "G").count(),
            1,
            "{hit:?}"
        );
        let one_a = run(r, vec![at(r, "B", 0, "eve"), at(r, "A", 1, "eve"), tail()]);
        assert!(one_a.iter().all(|a| a.rule_id != "G"));
        let absent_seen = run(
            r,
            vec![
                at(r, "C", 0, "eve"),
                at(r, "B", 1, "eve"),
                at(r, "A", 2, "eve"),
                at(r, "A", 3, "eve"),
                tail(),
            ],
        );
        assert!(
            absent_seen.iter().all(|a| a.rule_id != "G"),
            "{absent_seen:?}"
        );
        let absent_other = run(
            r,
            vec![
                at(r, "C", 0, "bob"),
                at(r, "B", 1, "eve"),
                at(r, "A", 2, "eve"),
                at(r, "A", 3, "eve"),
                tail(),
            ],
        );
        assert_eq!(absent_other.iter().filter(|a| a.rule_id == "G").count(), 1);
    }

    #[test]
    fn a_sequence_in_progress_survives_a_restart() {
        let rules = rules(SEQ);
        let r = &rules;
        let mut first = Alerter::with(r, Duration::ZERO, EmitAt::Threshold);
        first.feed([at(r, "A", 0, "eve"), at(r, "B", 1, "eve")], None);
        assert!(first.drain_alerts().is_empty());
        let (watermark, windows, buffered) = first.state();
        let mut second = Alerter::with(r, Duration::ZERO, EmitAt::Threshold)
            .restore(watermark, windows, buffered);
        second.feed([at(r, "B", 2, "eve")], None);
        let alerts = second.drain_alerts();
        assert_eq!(
            alerts.len(),
            1,
            "the second B completes the chain the first instance began"
        );
        assert_eq!(alerts[0].rule_id, "S");
    }

    #[test]
    fn list_values_meet_when_they_share_an_element_and_keys_are_bounded() {
        let rules = rules(SEQ);
        let r = &rules;
        let mut m = at(r, "A", 0, "x");
        m.fields.insert(
            "user.username".into(),
            (0..100).map(|i| format!("u{i}")).collect(),
        );
        assert_eq!(
            keys(&m, [&FieldRef::parse("user.username", "t").unwrap()]).len(),
            MAX_KEYS
        );
    }
}
