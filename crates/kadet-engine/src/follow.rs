//! What a follower's match carries once joined to its lead's window
//! ([`kadet_rules::follow`]): the lead's event in the alert context and the
//! title, and the severity raised one level per escalation that holds.
//!
//! The [`Alerter`](crate::Alerter) finds the lead window and calls [`join`];
//! both run in event order in every mode, so `scan`, `serve` and cluster
//! mode give the same alert for the same input.

use crate::matches::Match;
use crate::window::AlertWindow;
use kadet_event::EventTime;
use kadet_rules::follow::Escalation;
use serde_json::{json, Value};

/// Names the lead window `lead` in match `m` (at event time `t`) and raises
/// its severity: one level per escalation of `esc` that holds, judged
/// before `m` is recorded in the lead.
pub fn join(lead: &AlertWindow, esc: &Escalation, t: EventTime, m: &mut Match) {
    let minutes_after = t.0.saturating_sub(lead.start.0).max(0) / 60_000_000;
    let reasons = escalations(lead, esc, minutes_after, m);
    m.outcome.severity = m.outcome.severity.raised(reasons.len());
    let first = lead.events.first();
    let follows = json!({
        "rule_id": lead.rule_id,
        "title": lead.title,
        "time": lead.start.to_rfc3339(),
        "user": lead.actor.user,
        "source_ips": lead.actor.source_ips,
        "user_agent": lead.actor.user_agent,
        "namespace": lead.target.namespace,
        "name": lead.target.name,
        "audit_id": first.and_then(|e| e.audit_id.clone()),
        "location": first.map(|e| e.location.clone()),
        "context": Value::Object(lead.context.clone()),
        "minutes_after": minutes_after,
        "escalated_by": reasons,
    });
    m.outcome.context.insert("follows".into(), follows);
    m.outcome.title = format!(
        "{} (after: {}, {} earlier)",
        m.outcome.title,
        lead.title,
        elapsed(minutes_after)
    );
}

/// The escalations of `esc` that hold for `m`, as words for the alert.
fn escalations(lead: &AlertWindow, esc: &Escalation, minutes_after: i64, m: &Match) -> Vec<String> {
    let mut reasons = Vec::new();
    let ips = &m.actor.source_ips;
    let known_ip =
        |ip: &String| lead.actor.source_ips.contains(ip) || lead.seen_addresses.contains(ip);
    if esc.new_source_address && !ips.is_empty() && !ips.iter().any(known_ip) {
        reasons.push(format!("new source address {}", ips.join(", ")));
    }
    if let (true, Some(ua)) = (esc.new_user_agent, &m.actor.user_agent) {
        let known =
            lead.actor.user_agent.as_ref() == Some(ua) || lead.seen_user_agents.contains(ua);
        if !known {
            reasons.push(format!("new user agent {ua}"));
        }
    }
    if let Some(limit) = esc.minutes_after {
        if minutes_after > i64::from(limit) {
            reasons.push(format!("used {} after", elapsed(minutes_after)));
        }
    }
    reasons
}

/// `42 min`, `5 h`, `3 d`.
fn elapsed(minutes: i64) -> String {
    match minutes {
        m if m < 120 => format!("{m} min"),
        m if m < 2 * 24 * 60 => format!("{} h", m / 60),
        m => format!("{} d", m / (24 * 60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerter::{Alerter, EmitAt};
    use crate::matches::Actor;
    use kadet_event::{Location, LogType};
    use kadet_rules::{Outcome, Rule, Severity};
    use std::sync::Arc;
    use std::time::Duration;

    const LEAD: &str = "AnalysisType: rule\nRuleID: T.Lead\nCreateAlert: false\nDedupPeriodMinutes: 60\nDedupPeriodSecondsFrom:\n  Key: ttl\nDetection:\n  - Key: verb\n    Condition: Exists\n";
    const FOLLOWER: &str = "AnalysisType: rule\nRuleID: T.Use\nSeverity: Low\nFollows:\n  RuleID: T.Lead\n  Key:\n    Key: jti\n  EscalateWhen:\n    NewSourceAddress: true\n    NewUserAgent: true\n    MinutesAfter: 30\nDetection:\n  - Key: verb\n    Condition: Exists\n";

    fn rules() -> Vec<Rule> {
        let src = |name: &str, text: &str| kadet_rules::loader::Source {
            name: name.into(),
            text: text.into(),
        };
        kadet_rules::loader::load_sources(
            Vec::new(),
            vec![src("lead.yml", LEAD), src("use.yml", FOLLOWER)],
        )
        .expect("rules load")
        .rules
    }

    /// A match of rule `rule` (0 lead, 1 follower) at `minute`, keyed `key`,
    /// from `ip` with user agent `ua`.
    fn at(rule: usize, minute: i64, key: &str, ip: &str, ua: &str) -> Match {
        let lead = rule == 0;
        Match {
            rule,
            outcome: Outcome {
                title: if lead { "alice minted" } else { "token used" }.into(),
                dedup: if lead {
                    key.into()
                } else {
                    format!("{key} {ip}")
                },
                severity: Severity::Low,
                context: Default::default(),
                distinct: None,
                follow_key: (!lead).then(|| key.to_string()),
                period_seconds: None,
                first_seen: None,
            },
            time: Some(EventTime(minute * 60_000_000)),
            location: Location::line(Arc::from("f"), minute as u64),
            audit_id: Some(format!("audit-{minute}")),
            log_type: LogType::KubernetesAudit,
            cluster: Some("prod".into()),
            summary: Vec::new(),
            fields: Default::default(),
            actor: Actor {
                user: Some(
                    if lead {
                        "alice"
                    } else {
                        "system:serviceaccount:a:b"
                    }
                    .into(),
                ),
                source_ips: vec![ip.into()],
                user_agent: Some(ua.into()),
            },
            target: Default::default(),
        }
    }

    fn alerter(rules: &[Rule]) -> Alerter<'_> {
        Alerter::with(rules, Duration::ZERO, EmitAt::Threshold)
    }

    #[test]
    fn a_use_without_a_minting_is_dropped_and_counted() {
        let rules = rules();
        let mut a = alerter(&rules);
        a.feed([at(1, 0, "JTI=x", "10.0.0.1", "kubectl")], None);
        assert!(a.drain_alerts().is_empty());
        assert_eq!(a.stats.unfollowed, 1);
        assert_eq!(a.stats.matches, 0);
    }

    #[test]
    fn a_use_names_its_minting_and_each_escalation_raises_one_level() {
        let rules = rules();
        let mut a = alerter(&rules);
        a.feed([at(0, 0, "JTI=x", "10.0.0.1", "kubectl")], None);
        a.feed([at(1, 1, "JTI=x", "10.0.0.1", "kubectl")], None);
        let same = a.drain_alerts();
        assert_eq!(same.len(), 1, "the lead is a signal; the use is the alert");
        assert_eq!(same[0].severity, Severity::Low, "same place, same tool");
        let f = &same[0].context["follows"];
        assert_eq!(f["user"], "alice");
        assert_eq!(f["audit_id"], "audit-0");
        assert_eq!(f["minutes_after"], 1);
        assert!(same[0]
            .title
            .contains("(after: alice minted, 1 min earlier)"));

        a.feed([at(1, 45, "JTI=x", "10.9.9.9", "curl")], None);
        let moved = a.drain_alerts();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].severity, Severity::Critical, "Low + 3 levels");
        let why = moved[0].context["follows"]["escalated_by"].to_string();
        assert!(why.contains("new source address 10.9.9.9"), "{why}");
        assert!(
            why.contains("new user agent curl") && why.contains("used 45 min after"),
            "{why}"
        );

        // Once seen with this token, the address and tool are no longer new.
        a.feed([at(1, 50, "JTI=x", "10.9.9.9", "curl")], None);
        assert!(
            a.drain_alerts().is_empty(),
            "joins the open window of that address"
        );
        a.feed([at(1, 51, "JTI=x", "10.5.5.5", "curl")], None);
        let third = a.drain_alerts();
        assert_eq!(
            third[0].severity,
            Severity::High,
            "new address and late, same tool"
        );
    }

    #[test]
    fn the_minting_is_forgotten_when_the_token_expires_or_the_bound_passes() {
        let rules = rules();
        let mut a = alerter(&rules);
        let mut short = at(0, 0, "JTI=short", "10.0.0.1", "kubectl");
        short.outcome.period_seconds = Some(600);
        a.feed([short, at(0, 0, "JTI=long", "10.0.0.1", "kubectl")], None);
        a.feed([at(1, 9, "JTI=short", "10.0.0.1", "kubectl")], None);
        assert_eq!(a.drain_alerts().len(), 1, "alive for 10 minutes");
        a.feed([at(1, 11, "JTI=short", "10.0.0.2", "kubectl")], None);
        assert!(a.drain_alerts().is_empty(), "expired with the token");
        a.feed([at(1, 59, "JTI=long", "10.0.0.1", "kubectl")], None);
        assert_eq!(a.drain_alerts().len(), 1);
        a.feed([at(1, 61, "JTI=long", "10.0.0.3", "kubectl")], None);
        assert!(a.drain_alerts().is_empty(), "DedupPeriodMinutes bounds it");
        assert_eq!(a.stats.unfollowed, 2);
    }

    #[test]
    fn another_cluster_s_token_with_the_same_id_is_not_followed() {
        let rules = rules();
        let mut a = alerter(&rules);
        a.feed([at(0, 0, "JTI=x", "10.0.0.1", "kubectl")], None);
        let mut elsewhere = at(1, 1, "JTI=x", "10.0.0.1", "kubectl");
        elsewhere.cluster = Some("staging".into());
        a.feed([elsewhere], None);
        assert!(a.drain_alerts().is_empty());
    }

    #[test]
    fn the_minting_survives_a_restart_and_what_a_use_adds_is_saved() {
        let rules = rules();
        let mut first = alerter(&rules);
        first.feed([at(0, 0, "JTI=x", "10.0.0.1", "kubectl")], None);
        let (watermark, windows, buffered) = first.state();
        drop(first);
        let mut second = alerter(&rules).restore(watermark, windows, buffered);
        second.feed([at(1, 5, "JTI=x", "10.0.0.2", "kubectl")], None);
        let alerts = second.drain_alerts();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].severity, Severity::Medium, "one new address");
        let changed = second.take_changes();
        let lead = changed
            .windows
            .iter()
            .find(|w| w.rule_id == "T.Lead")
            .expect("the lead window is saved again");
        assert!(lead.seen_addresses.contains("10.0.0.2"));
        let stored = crate::window::AlertWindow::from_stored(&lead.to_stored()).expect("reads");
        assert_eq!(&stored, lead);
    }

    #[test]
    fn elapsed_time_reads_in_the_largest_sensible_unit() {
        assert_eq!(elapsed(0), "0 min");
        assert_eq!(elapsed(119), "119 min");
        assert_eq!(elapsed(120), "2 h");
        assert_eq!(elapsed(47 * 60), "47 h");
        assert_eq!(elapsed(3 * 24 * 60 + 5), "3 d");
    }
}
