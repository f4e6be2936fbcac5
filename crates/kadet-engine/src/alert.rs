//! Deduplication into alerts, on event time, with Panther's semantics.
//!
//! Matches with the same (RuleID, dedup string) share an [`AlertWindow`]. A
//! window opens at its first match and lasts `DedupPeriodMinutes`; a match
//! after it closes opens a new window. A window becomes an alert once its
//! match count (or, with `DistinctBy`, its number of distinct values)
//! reaches `Threshold`.
//!
//! Out-of-order input: matches wait in a small reorder buffer until the
//! event-time watermark (the latest event time seen) has moved `lateness`
//! past them, and are then applied in time order. So any disorder up to
//! `lateness` (default 10 minutes) gives exactly the alerts a sorted input
//! gives. A match later than that is still counted, in the window that is
//! open for its key, and reported in the `late_matches` statistic. Windows
//! are emitted and freed once the watermark has passed their end plus
//! `lateness`, so memory follows the number of open windows, not the input.

use crate::matches::{Actor, Match, Target};
use kadet_event::{EventTime, LogType};
use kadet_rules::{Rule, Severity};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

/// How many event references an alert keeps.
pub const EVENTS_CAP: usize = 10;
/// How many distinct values per summary attribute an alert keeps.
pub const SUMMARY_CAP: usize = 20;

/// A reference to a matching event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRef {
    /// `file:line` or `file:line#record`.
    pub location: String,
    /// auditID.
    pub audit_id: Option<String>,
}

/// A finished alert (or signal).
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Stable id: hash of rule id, dedup string and window start.
    pub alert_id: String,
    /// RuleID.
    pub rule_id: String,
    /// DisplayName (or RuleID).
    pub rule_name: String,
    /// Highest severity among the matches.
    pub severity: Severity,
    /// Title of the first match.
    pub title: String,
    /// Dedup string.
    pub dedup: String,
    /// Matches in the window.
    pub event_count: u64,
    /// Event time of the first match (RFC 3339), when known.
    pub first_seen: Option<String>,
    /// Event time of the last match.
    pub last_seen: Option<String>,
    /// Log types of the matches.
    pub log_types: Vec<&'static str>,
    /// Cluster of the first match that names one.
    pub cluster: Option<String>,
    /// Alert context of the first match.
    pub context: serde_json::Map<String, serde_json::Value>,
    /// SummaryAttributes with their distinct values (at most 20 each).
    pub summary: BTreeMap<String, Vec<serde_json::Value>>,
    /// Reports (framework → ids).
    pub reports: BTreeMap<String, Vec<String>>,
    /// Reference.
    pub reference: Option<String>,
    /// Runbook.
    pub runbook: Option<String>,
    /// A Sigma rule's metadata (author, references, false positives, ...):
    /// the Detection Rule License asks alerts to name the author.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma: Option<Box<kadet_rules::sigma::SigmaMeta>>,
    /// The first matching events (at most `events_cap`).
    pub events: Vec<EventRef>,
    /// The cap on `events`.
    pub events_cap: usize,
    /// True when more matches than `events_cap` exist.
    pub events_truncated: bool,
    /// True for `CreateAlert: false` rules.
    #[serde(skip)]
    pub signal: bool,
    /// Actor of the first match (for OCSF).
    #[serde(skip)]
    pub actor: Actor,
    /// Target of the first match (for OCSF).
    #[serde(skip)]
    pub target: Target,
    /// Window start, for ordering.
    #[serde(skip)]
    pub window_start: EventTime,
}

/// An open dedup window.
#[derive(Debug)]
pub struct AlertWindow {
    rule: usize,
    start: EventTime,
    end: EventTime,
    first: Match,
    last_time: EventTime,
    count: u64,
    distinct: BTreeSet<String>,
    severity: Severity,
    events: Vec<crate::alert::EventRef>,
    log_types: BTreeSet<LogType>,
    summary: Vec<Vec<serde_json::Value>>,
    any_time: bool,
}

impl AlertWindow {
    fn reached(&self, rule: &Rule) -> bool {
        let n = if rule.distinct_by.is_some() {
            self.distinct.len() as u64
        } else {
            self.count
        };
        n >= u64::from(rule.threshold)
    }
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
}

/// Turns matches into alerts.
pub struct Alerter<'r> {
    rules: &'r [Rule],
    lateness_us: i64,
    watermark: Option<EventTime>,
    applied_up_to: Option<EventTime>,
    seq: u64,
    pending: BinaryHeap<Reverse<(EventTime, u64)>>,
    pending_matches: HashMap<u64, Match>,
    open: HashMap<(usize, String), AlertWindow>,
    closing: BinaryHeap<Reverse<(EventTime, usize, String)>>,
    ready: Vec<Alert>,
    /// Counters.
    pub stats: AlertStats,
}

impl<'r> Alerter<'r> {
    /// An alerter for `rules`, tolerating `lateness_minutes` of disorder.
    pub fn new(rules: &'r [Rule], lateness_minutes: u32) -> Self {
        Alerter {
            rules,
            lateness_us: i64::from(lateness_minutes) * 60_000_000,
            watermark: None,
            applied_up_to: None,
            seq: 0,
            pending: BinaryHeap::new(),
            pending_matches: HashMap::new(),
            open: HashMap::new(),
            closing: BinaryHeap::new(),
            ready: Vec::new(),
            stats: AlertStats::default(),
        }
    }

    /// Advances the watermark with an event time seen in the input (matching or not).
    pub fn observe_time(&mut self, t: EventTime) {
        if self.watermark.is_none_or(|w| t > w) {
            self.watermark = Some(t);
            self.release(false);
        }
    }

    /// Adds a match.
    pub fn push(&mut self, m: Match) {
        if let Some(t) = m.time {
            if self.watermark.is_none_or(|w| t > w) {
                self.watermark = Some(t);
            }
        }
        let t = m.time.or(self.watermark).unwrap_or(EventTime(0));
        self.seq += 1;
        self.pending.push(Reverse((t, self.seq)));
        self.pending_matches.insert(self.seq, m);
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
                self.apply(t, m);
            }
        }
        while let Some(Reverse((end, rule, dedup))) = self.closing.peek().cloned() {
            if end > frontier {
                break;
            }
            self.closing.pop();
            let key = (rule, dedup);
            if self.open.get(&key).is_some_and(|w| w.end == end) {
                if let Some(w) = self.open.remove(&key) {
                    self.finish(w);
                }
            }
        }
    }

    fn apply(&mut self, t: EventTime, m: Match) {
        self.stats.matches += 1;
        if self.applied_up_to.is_some_and(|a| t < a) {
            self.stats.late_matches += 1;
        }
        if self.applied_up_to.is_none_or(|a| t > a) {
            self.applied_up_to = Some(t);
        }
        let rule = &self.rules[m.rule];
        let key = (m.rule, m.outcome.dedup.clone());
        if let Some(w) = self.open.get(&key) {
            if t >= w.end {
                if let Some(w) = self.open.remove(&key) {
                    self.finish(w);
                }
            }
        }
        match self.open.get_mut(&key) {
            Some(w) => add_to(w, t, &m, rule),
            None => {
                let end = t.plus_minutes(i64::from(rule.dedup_period_minutes));
                let mut w = AlertWindow {
                    rule: m.rule,
                    start: t,
                    end,
                    last_time: t,
                    count: 0,
                    distinct: BTreeSet::new(),
                    severity: m.outcome.severity,
                    events: Vec::new(),
                    log_types: BTreeSet::new(),
                    summary: vec![Vec::new(); rule.summary_attributes.len()],
                    any_time: false,
                    first: m.clone(),
                };
                add_to(&mut w, t, &m, rule);
                self.closing.push(Reverse((end, key.0, key.1.clone())));
                self.open.insert(key, w);
            }
        }
    }

    fn finish(&mut self, w: AlertWindow) {
        let rule = &self.rules[w.rule];
        if !w.reached(rule) {
            self.stats.below_threshold += 1;
            return;
        }
        self.ready.push(build_alert(rule, w));
    }

    /// Alerts whose windows have closed so far.
    pub fn drain_ready(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.ready)
    }

    /// End of input: applies everything and closes every window. Alerts come
    /// out ordered by window start, then rule id and dedup string.
    pub fn finish_all(&mut self) -> Vec<Alert> {
        self.release(true);
        let keys: Vec<(usize, String)> = self.open.keys().cloned().collect();
        for k in keys {
            if let Some(w) = self.open.remove(&k) {
                self.finish(w);
            }
        }
        let mut out = std::mem::take(&mut self.ready);
        out.sort_by(|a, b| {
            (a.window_start, &a.rule_id, &a.dedup).cmp(&(b.window_start, &b.rule_id, &b.dedup))
        });
        out
    }

    /// Number of open windows (bounded-state checks).
    pub fn open_windows(&self) -> usize {
        self.open.len()
    }
}

fn add_to(w: &mut AlertWindow, t: EventTime, m: &Match, rule: &Rule) {
    w.count += 1;
    if t > w.last_time {
        w.last_time = t;
    }
    w.any_time |= m.time.is_some();
    if m.outcome.severity > w.severity {
        w.severity = m.outcome.severity;
    }
    if let Some(d) = &m.outcome.distinct {
        if w.distinct.len() < 100_000 {
            w.distinct.insert(d.clone());
        }
    }
    if w.events.len() < EVENTS_CAP {
        w.events.push(EventRef {
            location: m.location.to_string(),
            audit_id: m.audit_id.clone(),
        });
    }
    w.log_types.insert(m.log_type);
    for (i, v) in m.summary.iter().enumerate() {
        if let Some(slot) = w.summary.get_mut(i) {
            if !v.is_null() && slot.len() < SUMMARY_CAP && !slot.contains(v) {
                slot.push(v.clone());
            }
        }
    }
    let _ = rule;
}

/// A stable alert id.
pub fn alert_id(rule_id: &str, dedup: &str, start: EventTime) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    h.update([0]);
    h.update(dedup.as_bytes());
    h.update([0]);
    h.update(start.0.to_be_bytes());
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn build_alert(rule: &Rule, w: AlertWindow) -> Alert {
    let summary = rule
        .summary_attributes
        .iter()
        .cloned()
        .zip(w.summary)
        .collect();
    Alert {
        alert_id: alert_id(&rule.id, &w.first.outcome.dedup, w.start),
        rule_id: rule.id.clone(),
        rule_name: rule.display_name.clone().unwrap_or_else(|| rule.id.clone()),
        severity: w.severity,
        title: w.first.outcome.title.clone(),
        dedup: w.first.outcome.dedup.clone(),
        event_count: w.count,
        first_seen: w.any_time.then(|| w.start.to_rfc3339()),
        last_seen: w.any_time.then(|| w.last_time.to_rfc3339()),
        log_types: w.log_types.iter().map(|l| l.name()).collect(),
        cluster: w.first.cluster.clone(),
        context: w.first.outcome.context.clone(),
        summary,
        reports: rule.reports.clone(),
        reference: rule.reference.clone(),
        runbook: rule.runbook.clone(),
        sigma: rule.sigma.clone(),
        events_truncated: w.count > w.events.len() as u64,
        events: w.events,
        events_cap: EVENTS_CAP,
        signal: !rule.create_alert,
        actor: w.first.actor.clone(),
        target: w.first.target.clone(),
        window_start: w.start,
    }
}
