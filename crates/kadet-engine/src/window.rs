//! [`AlertWindow`]: one dedup window, the unit of alerting. Matches with the
//! same RuleID, dedup string and cluster share a window ([`window_key`]:
//! unlike Panther, the same attack in two clusters is two alerts); it opens
//! at its first match,
//! lasts `DedupPeriodMinutes` of event time, and is an alert once its match
//! count (or, with `DistinctBy`, its number of distinct values) reaches
//! `Threshold`.
//!
//! This is the one window type of every mode: `scan` keeps windows in
//! memory, `serve` in SQLite, cluster mode in JetStream KV. Its stored form
//! is versioned ([`AlertWindow::to_stored`], [`AlertWindow::from_stored`]).

use crate::alert::{Alert, EventRef};
use crate::matches::{Actor, Match, Target};
use kadet_event::{EventTime, LogType};
use kadet_rules::{Rule, Severity};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// How many event references an alert keeps.
pub const EVENTS_CAP: usize = 10;
/// How many distinct values per summary attribute an alert keeps.
pub const SUMMARY_CAP: usize = 20;
/// The version of [`AlertWindow`]'s stored form.
pub const WINDOW_VERSION: u32 = 1;

/// An open dedup window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertWindow {
    /// RuleID.
    pub rule_id: String,
    /// DisplayName, else RuleID (kept so an alert can be rendered after its
    /// rule is gone).
    pub rule_name: String,
    /// Dedup string.
    pub dedup: String,
    /// Event time of the first match.
    pub start: EventTime,
    /// `start` plus the rule's dedup period.
    pub end: EventTime,
    /// Latest match time.
    pub last_time: EventTime,
    /// Matches in the window.
    pub count: u64,
    /// `DistinctBy` values seen; only as many as the threshold needs are
    /// kept, since reaching it is all they decide.
    pub distinct: BTreeSet<String>,
    /// Highest severity among the matches.
    pub severity: Severity,
    /// Title of the first match.
    pub title: String,
    /// The first matching events (at most [`EVENTS_CAP`]).
    pub events: Vec<EventRef>,
    /// Log types of the matches.
    pub log_types: BTreeSet<LogType>,
    /// Distinct values per `SummaryAttributes` entry, in rule order.
    pub summary: Vec<Vec<serde_json::Value>>,
    /// Some match carried its own event time.
    pub any_time: bool,
    /// Cluster of the first match.
    pub cluster: Option<String>,
    /// Alert context of the first match.
    pub context: serde_json::Map<String, serde_json::Value>,
    /// Actor of the first match.
    pub actor: Actor,
    /// Target of the first match.
    pub target: Target,
    /// True once the alert was raised (`serve` raises it at the threshold).
    pub notified: bool,
    /// For a lead window ([`kadet_rules::follow`]): source addresses its
    /// followers' matches came from (at most [`SUMMARY_CAP`]).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub seen_addresses: BTreeSet<String>,
    /// For a lead window: user agents of its followers' matches (at most
    /// [`SUMMARY_CAP`]).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub seen_user_agents: BTreeSet<String>,
    /// For a rule whose count slides ([`Rule::sliding`]): the recent match
    /// times and the most that fell within one span.
    #[serde(default, skip_serializing_if = "Sliding::is_empty")]
    pub sliding: Sliding,
}

/// The recent match times of a sliding count, at most `Threshold` of them,
/// none older than one span before the newest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sliding {
    /// Match times within one span of the newest, oldest first.
    pub recent: Vec<EventTime>,
    /// The most matches seen within one span.
    pub peak: u64,
}

impl Sliding {
    fn is_empty(&self) -> bool {
        self.recent.is_empty() && self.peak == 0
    }

    /// Counts a match at `t`: keeps the times within `span` of the newest,
    /// at most `keep` of them.
    fn add(&mut self, t: EventTime, span_us: i64, keep: usize) {
        let at = self.recent.partition_point(|x| *x <= t);
        self.recent.insert(at, t);
        let newest = self.recent.last().copied().unwrap_or(t);
        self.recent
            .retain(|x| x.0 > newest.0.saturating_sub(span_us));
        if self.recent.len() > keep {
            let extra = self.recent.len() - keep;
            self.recent.drain(..extra);
        }
        self.peak = self.peak.max(self.recent.len() as u64);
    }
}

/// When a window opened at `t` by match `m` ends: after the rule's dedup
/// period, or sooner when `DedupPeriodSecondsFrom` gave a shorter one.
fn window_end(rule: &Rule, t: EventTime, m: &Match) -> EventTime {
    let period = t.plus_minutes(i64::from(rule.dedup_period_minutes));
    match m.outcome.period_seconds {
        Some(secs) => period.min(EventTime(
            t.0.saturating_add(secs.saturating_mul(1_000_000)),
        )),
        None => period,
    }
}

/// The stored form: the window and its version.
#[derive(Serialize, Deserialize)]
struct Stored<W> {
    v: u32,
    #[serde(flatten)]
    window: W,
}

/// A stored window kadet cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowFormatError(pub String);

impl fmt::Display for WindowFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WindowFormatError {}

impl AlertWindow {
    /// Opens a window at event time `t` for the rule's match `m`.
    pub fn open(rule: &Rule, t: EventTime, m: &Match) -> AlertWindow {
        AlertWindow {
            rule_id: rule.id.clone(),
            rule_name: rule.display_name.clone().unwrap_or_else(|| rule.id.clone()),
            dedup: m.outcome.dedup.clone(),
            start: t,
            end: window_end(rule, t, m),
            last_time: t,
            count: 0,
            distinct: BTreeSet::new(),
            severity: m.outcome.severity,
            title: m.outcome.title.clone(),
            events: Vec::new(),
            log_types: BTreeSet::new(),
            summary: vec![Vec::new(); rule.summary_attributes.len()],
            any_time: false,
            cluster: m.cluster.clone(),
            context: m.outcome.context.clone(),
            actor: m.actor.clone(),
            target: m.target.clone(),
            notified: false,
            seen_addresses: BTreeSet::new(),
            seen_user_agents: BTreeSet::new(),
            sliding: Sliding::default(),
        }
    }

    /// Drops what only an alert would show (title, context, events, summary,
    /// actor and target), for a window kept as state alone: a first-seen
    /// value's, which never becomes an alert, needs its times and count.
    pub fn keep_only_times(&mut self) {
        self.title = String::new();
        self.context = serde_json::Map::new();
        self.events = Vec::new();
        for values in &mut self.summary {
            *values = Vec::new();
        }
        self.actor = Actor::default();
        self.target = Target::default();
    }

    /// When the alerter drops the window: at its end, or, for a sliding
    /// count, one span later, so that a match after the end still counts the
    /// recent ones before it ([`AlertWindow::carry_from`]).
    pub fn close_at(&self, rule: &Rule) -> EventTime {
        if rule.sliding {
            self.end.plus_minutes(i64::from(rule.dedup_period_minutes))
        } else {
            self.end
        }
    }

    /// Starts a sliding count with the recent match times of the window
    /// before it (those within one span of `t` survive in
    /// [`AlertWindow::add`]).
    pub fn carry_from(&mut self, before: &AlertWindow) {
        self.sliding.recent = before.sliding.recent.clone();
    }

    /// Records where a follower's match came from, within the caps.
    pub fn note_follower(&mut self, m: &Match) {
        for ip in &m.actor.source_ips {
            if self.seen_addresses.len() < SUMMARY_CAP {
                self.seen_addresses.insert(ip.clone());
            }
        }
        if let Some(ua) = &m.actor.user_agent {
            if self.seen_user_agents.len() < SUMMARY_CAP {
                self.seen_user_agents.insert(ua.clone());
            }
        }
    }

    /// True when a match at `t` belongs in this window (it has not ended).
    pub fn covers(&self, t: EventTime) -> bool {
        t < self.end
    }

    /// Counts match `m` at event time `t`.
    pub fn add(&mut self, rule: &Rule, t: EventTime, m: &Match) {
        self.count += 1;
        if rule.sliding {
            let span = i64::from(rule.dedup_period_minutes).saturating_mul(60_000_000);
            let keep = usize::try_from(rule.threshold).unwrap_or(usize::MAX);
            self.sliding.add(t, span, keep);
        }
        self.last_time = self.last_time.max(t);
        self.any_time |= m.time.is_some();
        self.severity = self.severity.max(m.outcome.severity);
        if let Some(d) = &m.outcome.distinct {
            // Only as many values as the condition can tell apart are kept.
            let keep = match rule.max_count {
                Some(max) => u64::from(max) + 1,
                None => u64::from(rule.threshold),
            };
            if (self.distinct.len() as u64) < keep {
                self.distinct.insert(d.clone());
            }
        }
        if self.events.len() < EVENTS_CAP {
            self.events.push(EventRef {
                location: m.location.to_string(),
                audit_id: m.audit_id.clone(),
            });
        }
        self.log_types.insert(m.log_type);
        for (slot, v) in self.summary.iter_mut().zip(&m.summary) {
            if !v.is_null() && slot.len() < SUMMARY_CAP && !slot.contains(v) {
                slot.push(v.clone());
            }
        }
    }

    /// True when the window's count (or number of distinct values) is within
    /// the rule's bounds: at least its threshold and at most its
    /// `max_count`.
    pub fn reached(&self, rule: &Rule) -> bool {
        let n = if rule.distinct_by.is_some() {
            self.distinct.len() as u64
        } else if rule.sliding {
            self.sliding.peak
        } else {
            self.count
        };
        n >= u64::from(rule.threshold) && rule.max_count.is_none_or(|m| n <= u64::from(m))
    }

    /// The window's key within its rule: the dedup string and the
    /// cluster ([`window_key`]).
    pub fn key(&self) -> String {
        window_key(&self.dedup, self.cluster.as_deref())
    }

    /// The alert id: the same in every mode for the same window.
    pub fn alert_id(&self) -> String {
        alert_id(&self.rule_id, &self.key(), self.start)
    }

    /// The alert this window stands for; `rule` adds its metadata (summary
    /// names, reports, reference, runbook) when it is still loaded.
    pub fn to_alert(&self, rule: Option<&Rule>) -> Alert {
        let summary: BTreeMap<String, Vec<serde_json::Value>> = rule
            .map(|r| {
                r.summary_attributes
                    .iter()
                    .cloned()
                    .zip(self.summary.iter().cloned())
                    .collect()
            })
            .unwrap_or_default();
        Alert {
            alert_id: self.alert_id(),
            rule_id: self.rule_id.clone(),
            rule_name: self.rule_name.clone(),
            severity: self.severity,
            title: self.title.clone(),
            dedup: self.dedup.clone(),
            event_count: self.count,
            first_seen: self.any_time.then(|| self.start.to_rfc3339()),
            last_seen: self.any_time.then(|| self.last_time.to_rfc3339()),
            log_types: self.log_types.iter().map(|l| l.name()).collect(),
            cluster: self.cluster.clone(),
            context: self.context.clone(),
            summary,
            reports: rule.map(|r| r.reports.clone()).unwrap_or_default(),
            reference: rule.and_then(|r| r.reference.clone()),
            runbook: rule.and_then(|r| r.runbook.clone()),
            sigma: rule.and_then(|r| r.sigma.clone()),
            events_truncated: self.count > self.events.len() as u64,
            events: self.events.clone(),
            events_cap: EVENTS_CAP,
            signal: rule.is_some_and(|r| !r.create_alert),
            actor: self.actor.clone(),
            target: self.target.clone(),
            window_start: self.start,
        }
    }

    /// The stored form: JSON with the version ([`WINDOW_VERSION`]).
    pub fn to_stored(&self) -> String {
        serde_json::to_string(&Stored {
            v: WINDOW_VERSION,
            window: self,
        })
        .unwrap_or_default()
    }

    /// Reads a stored window, refusing a version this kadet does not know.
    pub fn from_stored(text: &str) -> Result<AlertWindow, WindowFormatError> {
        #[derive(Deserialize)]
        struct Version {
            v: Option<u32>,
        }
        let version = serde_json::from_str::<Version>(text)
            .map_err(|e| WindowFormatError(format!("not a stored window: {e}")))?
            .v;
        match version {
            Some(WINDOW_VERSION) => serde_json::from_str::<Stored<AlertWindow>>(text)
                .map(|s| s.window)
                .map_err(|e| WindowFormatError(format!("stored window v{WINDOW_VERSION}: {e}"))),
            Some(v) => Err(WindowFormatError(format!(
                "stored window version {v} is newer than this kadet reads ({WINDOW_VERSION})"
            ))),
            None => Err(WindowFormatError("stored window without a version".into())),
        }
    }
}

/// Where a window's key puts the cluster after the dedup string.
const CLUSTER_SEPARATOR: char = '\u{1f}';

/// The key that decides which window a match joins, within its rule: the
/// rule's dedup string, and the cluster the event came from when it names
/// one. Panther's dedup strings mostly leave the cluster out; kadet keeps
/// clusters apart so that an attack in one cluster is never folded into an
/// alert about another. Events without a cluster keep the dedup string
/// alone as their key (so their alert ids are Panther-shaped).
pub fn window_key(dedup: &str, cluster: Option<&str>) -> String {
    match cluster {
        Some(c) => format!("{dedup}{CLUSTER_SEPARATOR}{c}"),
        None => dedup.to_string(),
    }
}

/// A stable alert id: hash of rule id, window key ([`window_key`]) and
/// window start.
pub fn alert_id(rule_id: &str, key: &str, start: EventTime) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    h.update([0]);
    h.update(start.0.to_be_bytes());
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kadet_event::Location;
    use kadet_rules::Outcome;
    use std::sync::Arc;

    fn rule(threshold: u32, distinct: bool) -> Rule {
        let text = format!(
            "AnalysisType: rule\nRuleID: T.W\nSeverity: Low\nThreshold: {threshold}\nDedupPeriodMinutes: 10\nSummaryAttributes: [user.username]\n{}Detection:\n  - Key: verb\n    Condition: Exists\n",
            if distinct { "DistinctBy:\n  Key: verb\n" } else { "" }
        );
        let set = kadet_rules::loader::load_sources(
            Vec::new(),
            vec![kadet_rules::loader::Source {
                name: "t.yml".into(),
                text,
            }],
        )
        .expect("rule loads");
        set.rules.into_iter().next().expect("one rule")
    }

    fn m(sev: Severity, distinct: &str, minute: i64) -> Match {
        Match {
            rule: 0,
            outcome: Outcome {
                title: "t".into(),
                dedup: "d".into(),
                severity: sev,
                context: Default::default(),
                distinct: Some(distinct.into()),
                follow_key: None,
                period_seconds: None,
                first_seen: None,
            },
            time: Some(EventTime(minute * 60_000_000)),
            location: Location::line(Arc::from("f"), minute as u64),
            audit_id: None,
            log_type: LogType::EksAudit,
            cluster: None,
            summary: vec![serde_json::json!("alice")],
            fields: Default::default(),
            actor: Actor::default(),
            target: Target::default(),
        }
    }

    #[test]
    fn threshold_counts_matches_or_distinct_values() {
        let r = rule(3, false);
        let mut w = AlertWindow::open(&r, EventTime(0), &m(Severity::Low, "a", 0));
        for i in 0..3 {
            assert!(!w.reached(&r));
            w.add(&r, EventTime(i), &m(Severity::Low, "a", i));
        }
        assert!(w.reached(&r));
        let d = rule(2, true);
        let mut w = AlertWindow::open(&d, EventTime(0), &m(Severity::Low, "a", 0));
        w.add(&d, EventTime(0), &m(Severity::Low, "a", 0));
        w.add(&d, EventTime(1), &m(Severity::Low, "a", 1));
        assert!(!w.reached(&d));
        w.add(&d, EventTime(2), &m(Severity::High, "b", 2));
        w.add(&d, EventTime(3), &m(Severity::Low, "c", 3));
        assert!(w.reached(&d));
        assert_eq!(w.distinct.len(), 2, "no more values kept than needed");
        assert_eq!(w.severity, Severity::High);
        assert_eq!(w.summary, vec![vec![serde_json::json!("alice")]]);
    }

    #[test]
    fn stored_form_round_trips_and_refuses_unknown_versions() {
        let r = rule(1, false);
        let mut w = AlertWindow::open(&r, EventTime(5), &m(Severity::Medium, "a", 0));
        w.add(&r, EventTime(5), &m(Severity::Medium, "a", 0));
        let text = w.to_stored();
        assert!(text.starts_with("{\"v\":1,"), "{text}");
        assert_eq!(AlertWindow::from_stored(&text), Ok(w.clone()));
        let newer = text.replacen("\"v\":1", "\"v\":99", 1);
        let e = AlertWindow::from_stored(&newer).expect_err("refused");
        assert!(e.0.contains("newer"), "{e}");
        assert!(AlertWindow::from_stored("{\"rule_id\":1}").is_err());
        assert_eq!(w.alert_id(), alert_id("T.W", "d", EventTime(5)));
        assert_eq!(w.to_alert(Some(&r)).event_count, 1);
    }

    #[test]
    fn the_same_attack_in_two_clusters_is_two_alerts() {
        let r = rule(1, false);
        let rules = vec![r];
        let mut alerter = crate::alerter::Alerter::new(&rules, std::time::Duration::from_secs(60));
        let at = |cluster: Option<&str>, minute: i64| {
            let mut x = m(Severity::High, "a", minute);
            x.cluster = cluster.map(str::to_string);
            x
        };
        for x in [
            at(Some("cluster-a"), 0),
            at(Some("cluster-b"), 0),
            at(Some("cluster-a"), 1),
            at(None, 2),
        ] {
            alerter.push(x);
        }
        let alerts = alerter.finish_all();
        let by_cluster: Vec<(Option<&str>, u64)> = alerts
            .iter()
            .map(|a| (a.cluster.as_deref(), a.event_count))
            .collect();
        assert_eq!(
            by_cluster,
            [(Some("cluster-a"), 2), (Some("cluster-b"), 1), (None, 1)]
        );
        let ids: BTreeSet<&str> = alerts.iter().map(|a| a.alert_id.as_str()).collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(
            alerts.iter().all(|a| a.dedup == "d"),
            "dedup strings stay Panther's"
        );
        // Without a cluster the key is the dedup string alone.
        assert_eq!(window_key("d", None), "d");
        assert_ne!(window_key("d", Some("a")), window_key("d", Some("b")));
    }
}
