//! What state a match's verdict depends on, in words (`kadet explain`):
//! the lead window a `Follows` match needs, the learning period and the
//! known value of a `FirstSeen` match, and the dedup window the match
//! counts in. Read before the match is applied, so it is the state the
//! verdict is taken on.

use super::Alerter;
use crate::matches::Match;
use crate::window::{window_key, AlertWindow};
use kadet_event::EventTime;

impl Alerter<'_> {
    /// One line per piece of state `m`'s verdict depends on, as it is now.
    pub fn explain_state(&self, m: &Match) -> Vec<String> {
        let t = m.time.or(self.watermark).unwrap_or(EventTime(0));
        let mut lines = Vec::new();
        // The dedup window matters only for a match that gets that far.
        if self.explain_follows(m, t, &mut lines) && self.explain_first_seen(m, t, &mut lines) {
            self.explain_window(m, t, &mut lines);
        }
        self.explain_steps(m, &mut lines);
        lines
    }

    fn window_at(&self, rule: usize, key: &str, cluster: Option<&str>) -> Option<&AlertWindow> {
        self.open
            .get(&(rule, window_key(key, cluster)))
            .map(|w| &**w)
    }

    /// False when the match is dropped for want of its lead.
    fn explain_follows(&self, m: &Match, t: EventTime, lines: &mut Vec<String>) -> bool {
        let rule = &self.rules[m.rule];
        let Some(follows) = &rule.follows else {
            return true;
        };
        let lead = &follows.rule_id;
        let Some(key) = m.outcome.follow_key.as_deref() else {
            lines.push(format!(
                "follows {lead}: the event has no {} value, so nothing to follow: dropped",
                follows.key
            ));
            return false;
        };
        let open = self
            .lead_key(m)
            .and_then(|k| self.open.get(&k))
            .map(|w| &**w)
            .filter(|w| w.covers(t));
        let counts = open.is_some();
        lines.push(match open {
            Some(w) => format!(
                "follows {lead}: its window for {key:?} is open ({} to {}), raised by \"{}\": counts",
                w.start.to_rfc3339(),
                w.end.to_rfc3339(),
                w.title
            ),
            None => format!(
                "follows {lead}: no open window for {key:?} (never seen, expired, or on another cluster): dropped"
            ),
        });
        counts
    }

    /// False when the match is dropped: still learning, or a known value.
    fn explain_first_seen(&self, m: &Match, t: EventTime, lines: &mut Vec<String>) -> bool {
        let rule = &self.rules[m.rule];
        let Some(fs) = &rule.first_seen else {
            return true;
        };
        let Some((group, value)) = &m.outcome.first_seen else {
            lines.push(format!(
                "first seen: the event has no {} value: dropped",
                fs.value
            ));
            return false;
        };
        let watch = self.watch(m.rule, fs, (group, value), m.cluster.as_deref(), t);
        let (since, learned_at) = (watch.since, watch.learned_at);
        lines.push(if t >= learned_at {
            format!(
                "first seen: watching since {}; learning ({} min) over",
                since.to_rfc3339(),
                fs.learning_minutes
            )
        } else {
            format!(
                "first seen: watching since {}; still learning until {}: dropped",
                since.to_rfc3339(),
                learned_at.to_rfc3339()
            )
        });
        lines.push(
            match watch.known {
                Some(w) => format!(
                    "first seen: {value:?} is known for {group:?} (first {}, last {}; forgotten {} min after the last): not new",
                    w.start.to_rfc3339(),
                    w.last_time.to_rfc3339(),
                    fs.forget_after_minutes
                ),
                None => format!("first seen: {value:?} was not seen for {group:?}: new"),
            },
        );
        watch.is_new(t)
    }

    fn explain_window(&self, m: &Match, t: EventTime, lines: &mut Vec<String>) {
        let rule = &self.rules[m.rule];
        let dedup = &m.outcome.dedup;
        lines.push(
            match self
                .window_at(m.rule, dedup, m.cluster.as_deref())
                .filter(|w| w.covers(t))
            {
                Some(w) => format!(
                    "dedup window {dedup:?}: open since {}, {} of Threshold {} so far{}",
                    w.start.to_rfc3339(),
                    w.count,
                    rule.threshold,
                    if w.notified {
                        "; its alert was raised already"
                    } else {
                        ""
                    }
                ),
                None => format!(
                    "dedup window {dedup:?}: none open; this match opens one (Threshold {})",
                    rule.threshold
                ),
            },
        );
    }

    fn explain_steps(&self, m: &Match, lines: &mut Vec<String>) {
        let id = &self.rules[m.rule].id;
        for r in self.rules {
            let Some(c) = &r.correlation else {
                continue;
            };
            for step in c.steps().iter().filter(|s| &s.rule_id == id) {
                lines.push(format!(
                    "step {:?} of correlation {}{}",
                    step.id,
                    r.id,
                    if step.absent {
                        " (as an absence: it breaks the sequence)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
}
