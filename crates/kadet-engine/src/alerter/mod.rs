//! Deduplication into alerts, on event time, with Panther's semantics: the
//! [`Alerter`], shared by `scan` and `serve`.
//!
//! Matches with the same RuleID and window key (the dedup string and the
//! event's cluster, [`window_key`](crate::window::window_key)) share an
//! [`AlertWindow`](crate::window::AlertWindow), which opens at its first
//! match and lasts `DedupPeriodMinutes`; a match after it closes opens a new
//! window.
//!
//! Out-of-order input: matches wait in a small reorder buffer until the
//! event-time watermark (the latest event time seen) has moved `lateness`
//! past them, and are then applied in time order. So any disorder up to
//! `lateness` gives exactly the windows a sorted input gives, and the same
//! alert ids in every mode. A match later than that is still counted, in
//! the window that is open for its key, and reported in the `late_matches`
//! statistic. Windows are freed once the watermark has passed their end plus
//! `lateness`, so memory follows the number of open windows, not the input.
//!
//! A rule that `Follows` another ([`kadet_rules::follow`]) counts a match only
//! while the other rule's window for the match's key is open; the join, in
//! event order like everything here, is [`crate::follow`].
//!
//! When an alert is raised ([`EmitAt`]): `scan` raises it when its window
//! closes, with the window's final count; `serve` raises it as soon as the
//! window reaches its threshold (the count at that moment), once.
//!
//! For `serve`, the alerter records what changed since the last
//! [`Alerter::take_changes`] (windows written or closed, matches buffered or
//! applied), so the store can commit exactly that with the journal offset,
//! and [`Alerter::restore`] rebuilds it after a restart.

mod closing;
mod correlate;
mod explain;
mod first_seen;
#[cfg(test)]
mod tests;

use crate::alert::Alert;
use crate::matches::Match;
use crate::window::AlertWindow;
use closing::Closing;
pub use closing::DEFAULT_MAX_KEYS_PER_RULE;
use kadet_event::EventTime;
use kadet_rules::Rule;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};

pub use crate::window::{alert_id, window_key, EVENTS_CAP, SUMMARY_CAP};

/// When a window becomes an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitAt {
    /// When the window closes, with its final count (`scan`).
    Close,
    /// As soon as the window reaches its threshold, once (`serve`).
    Threshold,
}

/// Counters the alerter keeps.
#[derive(Debug, Default, Clone, Copy)]
pub struct AlertStats {
    /// Matches applied.
    pub matches: u64,
    /// Matches later than the lateness bound.
    pub late_matches: u64,
    /// Windows that closed below their Threshold.
    pub below_threshold: u64,
    /// Windows of `CreateAlert: false` rules that reached their threshold
    /// (signals: counted, never raised as alerts).
    pub signals: u64,
    /// Matches of `Follows` rules with no open lead window: dropped.
    pub unfollowed: u64,
    /// Matches of `FirstSeen` rules whose value was not new (or that came
    /// while the rule was learning): dropped.
    pub known_values: u64,
    /// Windows closed early because their rule held its limit of open
    /// windows ([`Alerter::with_max_keys_per_rule`]) and a new key came.
    pub evicted: u64,
}

/// A match waiting in the reorder buffer, as stored: (sequence, RuleID, match).
pub type Buffered = (u64, String, Match);

/// A window's key: rule index and window key ([`window_key`]).
type Key = (usize, String);

/// What changed since the last [`Alerter::take_changes`].
#[derive(Debug, Default)]
pub struct Changes {
    /// Windows opened or updated, as they are now.
    pub windows: Vec<AlertWindow>,
    /// Windows closed and dropped: (RuleID, window key).
    pub closed: Vec<(String, String)>,
    /// Matches now waiting in the reorder buffer: (sequence, RuleID, match).
    pub buffered: Vec<Buffered>,
    /// Sequences of buffered matches that were applied since.
    pub released: Vec<u64>,
}

/// Turns matches into alerts.
pub struct Alerter<'r> {
    rules: &'r [Rule],
    /// Per rule, the index of the rule it follows (`Follows`), if any.
    leads: Vec<Option<usize>>,
    /// The correlation rules, with their steps resolved.
    correlations: Vec<correlate::Resolved>,
    lateness_us: i64,
    emit: EmitAt,
    watermark: Option<EventTime>,
    applied_up_to: Option<EventTime>,
    seq: u64,
    pending: BinaryHeap<Reverse<(EventTime, u64)>>,
    pending_matches: HashMap<u64, Match>,
    /// Open windows, boxed: a window is large, and a table of a million of
    /// them (followed tokens, first-seen values) should hold pointers.
    open: HashMap<Key, Box<AlertWindow>>,
    closing: Closing,
    ready: Vec<(Alert, AlertWindow)>,
    /// When the watermark last moved on (wall clock), for idle release.
    last_advance: Instant,
    /// Change tracking (serve only).
    tracking: Option<Tracking>,
    /// Counters.
    pub stats: AlertStats,
}

#[derive(Default)]
struct Tracking {
    dirty: HashSet<Key>,
    closed: Vec<(String, String)>,
    buffered: Vec<u64>,
    released: Vec<u64>,
}

impl<'r> Alerter<'r> {
    /// An alerter for `scan`: `lateness` of disorder handled exactly,
    /// alerts when windows close.
    pub fn new(rules: &'r [Rule], lateness: Duration) -> Self {
        Self::with(rules, lateness, EmitAt::Close)
    }

    /// An alerter with a lateness bound and the moment alerts are raised.
    pub fn with(rules: &'r [Rule], lateness: Duration, emit: EmitAt) -> Self {
        let leads = rules
            .iter()
            .map(|r| {
                r.follows
                    .as_ref()
                    .and_then(|f| kadet_rules::index_of(rules, &f.rule_id))
            })
            .collect();
        Alerter {
            rules,
            leads,
            correlations: correlate::resolve(rules),
            lateness_us: i64::try_from(lateness.as_micros()).unwrap_or(i64::MAX),
            emit,
            watermark: None,
            applied_up_to: None,
            seq: 0,
            pending: BinaryHeap::new(),
            pending_matches: HashMap::new(),
            open: HashMap::new(),
            closing: Closing::new(rules.len()),
            ready: Vec::new(),
            last_advance: Instant::now(),
            tracking: None,
            stats: AlertStats::default(),
        }
    }

    /// At most `n` open windows per rule (dedup keys, followed tokens,
    /// first-seen values, correlation state): a rule at the limit closes
    /// its window that would close first to open a new one, counted in
    /// [`AlertStats::evicted`]. Default: [`DEFAULT_MAX_KEYS_PER_RULE`].
    pub fn with_max_keys_per_rule(mut self, n: usize) -> Self {
        self.closing.max_keys_per_rule = n;
        self
    }

    /// Rebuilds an alerter from stored state, recording changes from now on
    /// (see [`Alerter::take_changes`]). Windows and matches of rules that
    /// are no longer loaded are dropped (and reported as closed/released).
    pub fn restore(
        mut self,
        watermark: Option<EventTime>,
        windows: Vec<AlertWindow>,
        buffered: Vec<Buffered>,
    ) -> Self {
        let mut tracking = Tracking::default();
        let index: HashMap<&str, usize> = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        self.watermark = watermark;
        for w in windows {
            match index.get(w.rule_id.as_str()) {
                Some(&i) => {
                    self.closing.push(i, w.close_at(&self.rules[i]), w.key());
                    if self.open.insert((i, w.key()), Box::new(w)).is_none() {
                        self.closing.count(i, true);
                    }
                }
                None => tracking.closed.push((w.rule_id.clone(), w.key())),
            }
        }
        for (seq, rule_id, mut m) in buffered {
            self.seq = self.seq.max(seq);
            match index.get(rule_id.as_str()) {
                Some(&i) => {
                    m.rule = i;
                    let t = m.time.or(self.watermark).unwrap_or(EventTime(0));
                    self.pending.push(Reverse((t, seq)));
                    self.pending_matches.insert(seq, m);
                }
                None => tracking.released.push(seq),
            }
        }
        self.tracking = Some(tracking);
        self
    }

    /// Applies every match waiting in the reorder buffer now, without moving
    /// event time on: the end of a `scan --state` run, whose input is done.
    pub fn apply_buffered(&mut self) {
        let lateness = std::mem::replace(&mut self.lateness_us, 0);
        self.release(false);
        self.lateness_us = lateness;
    }

    /// Stops recording changes (for a caller that saves the whole state with
    /// [`Alerter::state`] instead of [`Alerter::take_changes`]).
    pub fn without_tracking(mut self) -> Self {
        self.tracking = None;
        self
    }

    /// Everything the alerter holds (watermark, open windows, the reorder
    /// buffer), to save and later hand to [`Alerter::restore`].
    pub fn state(&self) -> (Option<EventTime>, Vec<AlertWindow>, Vec<Buffered>) {
        let windows = self.open.values().map(|w| (**w).clone()).collect();
        let mut buffered: Vec<Buffered> = self
            .pending_matches
            .iter()
            .map(|(seq, m)| (*seq, self.rules[m.rule].id.clone(), m.clone()))
            .collect();
        buffered.sort_by_key(|b| b.0);
        (self.watermark, windows, buffered)
    }

    /// The index of the rule with this id, among the alerter's rules.
    pub fn rule_index(&self, rule_id: &str) -> Option<usize> {
        kadet_rules::index_of(self.rules, rule_id)
    }

    /// The event-time watermark: the latest event time seen.
    pub fn watermark(&self) -> Option<EventTime> {
        self.watermark
    }

    /// Matches waiting in the reorder buffer.
    pub fn buffered(&self) -> usize {
        self.pending_matches.len()
    }

    /// Advances the watermark with an event time seen in the input (matching or not).
    pub fn observe_time(&mut self, t: EventTime) {
        if self.watermark.is_none_or(|w| t > w) {
            self.advance(t);
            self.release(false);
        }
    }

    fn advance(&mut self, t: EventTime) {
        self.watermark = Some(t);
        self.last_advance = Instant::now();
    }

    /// Feeds one chunk's (or batch's) matches, in input order, then its
    /// latest event time: event time moves on only once the chunk's
    /// matches are in, so that disorder inside a chunk is ordered.
    pub fn feed(&mut self, matches: impl IntoIterator<Item = Match>, max_time: Option<EventTime>) {
        for m in matches {
            self.push(m);
        }
        if let Some(t) = max_time {
            self.observe_time(t);
        }
    }

    /// Adds a match.
    pub fn push(&mut self, m: Match) {
        if let Some(t) = m.time {
            if self.watermark.is_none_or(|w| t > w) {
                self.advance(t);
            }
        }
        let t = m.time.or(self.watermark).unwrap_or(EventTime(0));
        self.seq += 1;
        self.pending.push(Reverse((t, self.seq)));
        self.pending_matches.insert(self.seq, m);
        if let Some(tr) = &mut self.tracking {
            tr.buffered.push(self.seq);
        }
        self.release(false);
    }

    /// Applies pending matches up to the watermark minus lateness, and closes
    /// windows that ended before it.
    fn release(&mut self, all: bool) {
        let frontier = match (all, self.watermark) {
            (true, _) => EventTime(i64::MAX),
            (false, Some(w)) => EventTime(w.0.saturating_sub(self.lateness_us)),
            (false, None) => return,
        };
        while let Some(Reverse((t, seq))) = self.pending.peek().copied() {
            if t > frontier {
                break;
            }
            self.pending.pop();
            if let Some(m) = self.pending_matches.remove(&seq) {
                if let Some(tr) = &mut self.tracking {
                    tr.released.push(seq);
                }
                self.apply(t, m);
            }
        }
        while let Some((end, rule, dedup)) = self.closing.pop_due(frontier) {
            let key = (rule, dedup);
            let rule = &self.rules[key.0];
            if self.open.get(&key).is_some_and(|w| w.close_at(rule) == end) {
                self.close(&key);
            }
        }
    }

    fn apply(&mut self, t: EventTime, mut m: Match) {
        if self.rules[m.rule].follows.is_some() && !self.join_lead(t, &mut m) {
            self.stats.unfollowed += 1;
            return;
        }
        if self.rules[m.rule].first_seen.is_some() && !self.first_seen(t, &mut m) {
            self.stats.known_values += 1;
            return;
        }
        self.stats.matches += 1;
        if self.applied_up_to.is_some_and(|a| t < a) {
            self.stats.late_matches += 1;
        }
        if self.applied_up_to.is_none_or(|a| t > a) {
            self.applied_up_to = Some(t);
        }
        self.apply_to_window(t, m);
    }

    /// Counts a match in its rule's window (opening one when none covers
    /// it), raises the alert at the threshold in `serve`, and moves the
    /// correlations the rule is a step of on.
    fn apply_to_window(&mut self, t: EventTime, m: Match) {
        let rule = &self.rules[m.rule];
        let key = (m.rule, window_key(&m.outcome.dedup, m.cluster.as_deref()));
        let mut before = None;
        if self.open.get(&key).is_some_and(|w| !w.covers(t)) {
            before = self
                .open
                .get(&key)
                .filter(|_| rule.sliding)
                .map(|w| (**w).clone());
            self.close(&key);
        }
        if !self.open.contains_key(&key) {
            self.make_room(key.0);
        }
        let w = self.open.entry(key.clone()).or_insert_with(|| {
            let mut w = Box::new(AlertWindow::open(rule, t, &m));
            if let Some(b) = &before {
                w.carry_from(b);
            }
            self.closing.push(key.0, w.close_at(rule), key.1.clone());
            self.closing.count(key.0, true);
            w
        });
        w.add(rule, t, &m);
        // A rule with an upper bound is judged when its window closes.
        let at_threshold = self.emit == EmitAt::Threshold && rule.max_count.is_none();
        if at_threshold && !w.notified && w.reached(rule) {
            w.notified = true;
            self.ready.push((w.to_alert(Some(rule)), (**w).clone()));
        }
        if let Some(tr) = &mut self.tracking {
            tr.dirty.insert(key);
        }
        self.correlate(t, &m);
    }

    /// Where a follower's match looks for its lead's window: the lead rule
    /// and the match's follow key on its cluster. `None` when the rule
    /// follows nothing or the match has no key.
    fn lead_key(&self, m: &Match) -> Option<(usize, String)> {
        let lead = self.leads[m.rule]?;
        let key = m.outcome.follow_key.as_deref()?;
        Some((lead, window_key(key, m.cluster.as_deref())))
    }

    /// Joins a follower's match to its lead's open window (same key, same
    /// cluster, not ended): names the lead in the match and raises its
    /// severity per the rule's escalations. False when there is no such
    /// window.
    fn join_lead(&mut self, t: EventTime, m: &mut Match) -> bool {
        let rules = self.rules;
        let (Some(follows), Some(lead_key)) = (rules[m.rule].follows.as_ref(), self.lead_key(m))
        else {
            return false;
        };
        let Some(w) = self.open.get_mut(&lead_key) else {
            return false;
        };
        if !w.covers(t) {
            return false;
        }
        crate::follow::join(w, &follows.escalation, t, m);
        w.note_follower(m);
        if let Some(tr) = &mut self.tracking {
            tr.dirty.insert(lead_key);
        }
        true
    }

    /// Closes the windows of `rule` that would close first until it holds
    /// fewer than its limit, so that a new key can open.
    fn make_room(&mut self, rule: usize) {
        while self.closing.full(rule) {
            let Some((end, dedup)) = self.closing.pop_rule(rule) else {
                return;
            };
            let key = (rule, dedup);
            if self
                .open
                .get(&key)
                .is_some_and(|w| w.close_at(&self.rules[rule]) == end)
            {
                self.stats.evicted += 1;
                self.close(&key);
            }
        }
    }

    /// Drops a window, raising its alert when it closes the `scan` way.
    fn close(&mut self, key: &Key) {
        let Some(w) = self.open.remove(key) else {
            return;
        };
        self.closing.count(key.0, false);
        let rule = &self.rules[key.0];
        if correlate::internal_kind(&w.dedup).is_some() {
            if let Some(tr) = &mut self.tracking {
                tr.dirty.remove(key);
                tr.closed.push((w.rule_id.clone(), w.key()));
            }
            self.internal_window_ended(key.0, &w);
            return;
        }
        if !w.reached(rule) {
            self.stats.below_threshold += 1;
        } else if self.emit == EmitAt::Close || (rule.max_count.is_some() && !w.notified) {
            let mut w = w.clone();
            w.notified = true;
            self.ready.push((w.to_alert(Some(rule)), *w));
        }
        if let Some(tr) = &mut self.tracking {
            tr.dirty.remove(key);
            tr.closed.push((w.rule_id.clone(), w.key()));
        }
    }

    /// Alerts raised so far and not yet taken. Signals (`CreateAlert:
    /// false`) are counted in [`AlertStats::signals`] and left out.
    pub fn drain_alerts(&mut self) -> Vec<Alert> {
        self.drain_raised().into_iter().map(|(a, _)| a).collect()
    }

    /// Alerts raised so far and not yet taken, each with its window as it
    /// was when the alert was raised (what `serve` stores and delivers).
    /// Signals are counted and left out.
    pub fn drain_raised(&mut self) -> Vec<(Alert, AlertWindow)> {
        let mut raised = std::mem::take(&mut self.ready);
        let before = raised.len();
        raised.retain(|(a, _)| !a.signal);
        self.stats.signals += (before - raised.len()) as u64;
        raised
    }

    /// The input is idle: event time moves on by the lateness bound, so
    /// every buffered match is applied and windows that ended are closed.
    pub fn release_idle(&mut self) {
        if let Some(w) = self.watermark {
            self.observe_time(EventTime(w.0.saturating_add(self.lateness_us)));
        }
    }

    /// When event time last moved on (wall clock), to carry over to the
    /// alerter that replaces this one (a rule reload).
    pub fn idle_since(&self) -> Instant {
        self.last_advance
    }

    /// Carries over when event time last moved on (see
    /// [`Alerter::idle_since`]).
    pub fn set_idle_since(&mut self, at: Instant) {
        self.last_advance = at;
    }

    /// True when matches wait in the reorder buffer and event time has not
    /// moved on for `after` of wall clock.
    pub fn idle_due(&self, after: Option<Duration>) -> bool {
        self.buffered() > 0 && after.is_some_and(|d| self.last_advance.elapsed() >= d)
    }

    /// Releases the reorder buffer as [`Alerter::release_idle`] does when
    /// matches wait in it and event time has not moved on for `after` of
    /// wall clock (`None`: never): a quiet or stalled source must not hold
    /// an alert back. Returns whether it did.
    pub fn release_if_idle(&mut self, after: Option<Duration>) -> bool {
        let due = self.idle_due(after);
        if due {
            self.release_idle();
            self.last_advance = Instant::now();
        }
        due
    }

    /// What changed since the last call (empty unless built by
    /// [`Alerter::restore`]).
    pub fn take_changes(&mut self) -> Changes {
        let Some(tr) = &mut self.tracking else {
            return Changes::default();
        };
        let tr = std::mem::take(tr);
        let rules = self.rules;
        Changes {
            windows: tr
                .dirty
                .iter()
                .filter_map(|k| self.open.get(k).map(|w| (**w).clone()))
                .collect(),
            closed: tr.closed,
            buffered: tr
                .buffered
                .into_iter()
                .filter_map(|seq| {
                    let m = self.pending_matches.get(&seq)?;
                    Some((seq, rules[m.rule].id.clone(), m.clone()))
                })
                .collect(),
            released: tr.released,
        }
    }

    /// End of input: applies everything and closes every window. Alerts come
    /// out ordered by window start, then rule id, dedup string and cluster.
    pub fn finish_all(&mut self) -> Vec<Alert> {
        self.release(true);
        // Closing a correlation's window may raise its alert in a new window.
        while !self.open.is_empty() {
            let keys: Vec<Key> = self.open.keys().cloned().collect();
            for k in keys {
                self.close(&k);
            }
        }
        let mut out = self.drain_alerts();
        out.sort_by(|a, b| {
            (a.window_start, &a.rule_id, &a.dedup, &a.cluster).cmp(&(
                b.window_start,
                &b.rule_id,
                &b.dedup,
                &b.cluster,
            ))
        });
        out
    }

    /// Number of open windows (bounded-state checks).
    pub fn open_windows(&self) -> usize {
        self.open.len()
    }
}
