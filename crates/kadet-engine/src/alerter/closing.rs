//! When open windows close, rule by rule, and how many each rule holds:
//! the bound on a rule's state. A rule at its limit of open windows makes
//! room for a new key by closing its window that would close first, as if
//! its time were up (its alert, if due, is raised then, as at any close).

use kadet_event::EventTime;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Default for [`Closing::max_keys_per_rule`]: at about 7 KB per window
/// (BENCHMARKS.md, "Memory of the state") about 0.7 GB for one rule.
pub const DEFAULT_MAX_KEYS_PER_RULE: usize = 100_000;

/// Closing times of the open windows, one queue per rule. An entry is a
/// window's close time and key; entries of windows since closed or moved
/// are stale and skipped by the caller.
pub(super) struct Closing {
    queues: Vec<BinaryHeap<Reverse<(EventTime, String)>>>,
    /// Open windows per rule.
    open: Vec<usize>,
    /// Open windows one rule may hold.
    pub max_keys_per_rule: usize,
}

impl Closing {
    /// Empty queues for `rules` rules.
    pub fn new(rules: usize) -> Closing {
        Closing {
            queues: (0..rules).map(|_| BinaryHeap::new()).collect(),
            open: vec![0; rules],
            max_keys_per_rule: DEFAULT_MAX_KEYS_PER_RULE,
        }
    }

    /// A window of `rule` closes at `end`.
    pub fn push(&mut self, rule: usize, end: EventTime, key: String) {
        self.queues[rule].push(Reverse((end, key)));
    }

    /// A window of `rule` was opened (`true`) or dropped (`false`).
    pub fn count(&mut self, rule: usize, opened: bool) {
        let n = &mut self.open[rule];
        *n = if opened {
            n.saturating_add(1)
        } else {
            n.saturating_sub(1)
        };
    }

    /// True when `rule` holds as many windows as it may.
    pub fn full(&self, rule: usize) -> bool {
        self.open[rule] >= self.max_keys_per_rule.max(1)
    }

    /// The entry that closes first among those closing at or before
    /// `frontier`, over all rules (ties: the lower rule index first), taken
    /// off its queue.
    pub fn pop_due(&mut self, frontier: EventTime) -> Option<(EventTime, usize, String)> {
        let (rule, _) = self
            .queues
            .iter()
            .enumerate()
            .filter_map(|(i, q)| q.peek().map(|Reverse((t, _))| (i, *t)))
            .filter(|(_, t)| *t <= frontier)
            .min_by_key(|(i, t)| (*t, *i))?;
        let Reverse((t, key)) = self.queues[rule].pop()?;
        Some((t, rule, key))
    }

    /// The entry of `rule` that closes first, taken off its queue.
    pub fn pop_rule(&mut self, rule: usize) -> Option<(EventTime, String)> {
        self.queues[rule].pop().map(|Reverse(e)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_entries_come_in_time_order_across_rules() {
        let mut c = Closing::new(3);
        c.push(2, EventTime(5), "a".into());
        c.push(0, EventTime(7), "b".into());
        c.push(1, EventTime(5), "c".into());
        c.push(0, EventTime(9), "d".into());
        assert_eq!(c.pop_due(EventTime(4)), None);
        let order: Vec<_> = std::iter::from_fn(|| c.pop_due(EventTime(8))).collect();
        assert_eq!(
            order,
            [
                (EventTime(5), 1, "c".to_string()),
                (EventTime(5), 2, "a".to_string()),
                (EventTime(7), 0, "b".to_string())
            ]
        );
        assert_eq!(c.pop_rule(0), Some((EventTime(9), "d".to_string())));
        assert_eq!(c.pop_rule(0), None);
    }

    #[test]
    fn a_rule_is_full_at_its_limit() {
        let mut c = Closing::new(2);
        c.max_keys_per_rule = 2;
        c.count(0, true);
        assert!(!c.full(0));
        c.count(0, true);
        assert!(c.full(0) && !c.full(1));
        c.count(0, false);
        assert!(!c.full(0));
        c.count(1, false);
        assert!(!c.full(1), "never below zero");
    }
}
