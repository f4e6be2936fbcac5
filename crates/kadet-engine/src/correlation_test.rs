//! A correlation rule's own tests (`Tests` with `RuleOutputs`), run by the
//! same [`Alerter`] that runs the rule in `scan` and `serve`: each listed
//! match of a step becomes a match of a stand-in signal rule with the
//! given field value, in time order, and the test passes when an alert of
//! the correlation rule comes out as `ExpectedResult` says.

use crate::alerter::Alerter;
use crate::matches::Match;
use kadet_event::EventTime;
use kadet_rules::correlation::{Correlation, CorrelationTest};
use kadet_rules::path::FieldPath;
use kadet_rules::Rule;
use std::time::Duration;

/// Runs one test of correlation rule `rule`: whether it alerted, or what is
/// wrong with the test.
pub fn run(rule: &Rule, test: &CorrelationTest) -> Result<bool, String> {
    let corr = rule
        .correlation
        .as_deref()
        .ok_or_else(|| format!("{} is not a correlation rule", rule.id))?;
    let rules = stand_ins(rule, corr);
    // One match per step and time: the fields listed for the same step at
    // the same time are one event's (a transition may read several).
    let mut matches: Vec<(EventTime, usize, Match)> = Vec::new();
    for (order, (step_id, field, value, times)) in test.matches.iter().enumerate() {
        let step = corr
            .steps()
            .iter()
            .find(|s| &s.id == step_id)
            .ok_or_else(|| {
                format!("RuleOutputs names {step_id:?}, which is no step of the rule")
            })?;
        let index = kadet_rules::index_of(&rules, &step.rule_id).unwrap_or(0);
        for time in times {
            let t = parse_time(time)
                .ok_or_else(|| format!("{time:?} is neither RFC 3339 nor a number of minutes"))?;
            let same = matches
                .iter_mut()
                .find(|(at, _, m)| *at == t && m.rule == index);
            let m = match same {
                Some((_, _, m)) => m,
                None => {
                    matches.push((
                        t,
                        order,
                        Match::bare(index, &rules[index], &rules[index].id, t),
                    ));
                    let Some((_, _, m)) = matches.last_mut() else {
                        continue;
                    };
                    m
                }
            };
            set_field(m, field, value)?;
        }
    }
    matches.sort_by_key(|(t, order, _)| (*t, *order));
    let mut alerter = Alerter::new(&rules, Duration::ZERO);
    let mut last = EventTime(0);
    for (t, _, m) in matches {
        last = last.max(t);
        alerter.feed([m], Some(t));
    }
    // Let event time pass every window, so that absences are decided.
    let frames = corr.lookback_minutes.saturating_mul(3).saturating_add(1);
    alerter.observe_time(last.plus_minutes(i64::from(frames)));
    Ok(alerter.finish_all().iter().any(|a| a.rule_id == rule.id))
}

/// The correlation rule and a signal rule standing for each of its steps'
/// rules, reading the fields the correlation reads.
fn stand_ins(rule: &Rule, corr: &Correlation) -> Vec<Rule> {
    let mut rules = vec![rule.clone()];
    for step in corr.steps() {
        if kadet_rules::index_of(&rules, &step.rule_id).is_some() {
            continue;
        }
        let mut s = rule.clone();
        s.id = step.rule_id.clone();
        s.display_name = None;
        s.correlation = None;
        s.create_alert = false;
        s.join_fields = corr.event_fields_of(&step.rule_id);
        rules.push(s);
    }
    rules
}

fn parse_time(text: &str) -> Option<EventTime> {
    if let Ok(minutes) = text.trim().parse::<f64>() {
        return Some(EventTime((minutes * 60_000_000.0) as i64));
    }
    EventTime::parse(text.trim())
}

/// Gives a stand-in match a field's value: `p_alert_context.X` in its alert
/// context, any other path among its event fields.
fn set_field(m: &mut Match, field: &str, value: &str) -> Result<(), String> {
    match field.trim().strip_prefix("p_alert_context.") {
        Some(key) => {
            m.outcome
                .context
                .insert(key.to_string(), serde_json::Value::String(value.into()));
        }
        None => {
            let path = FieldPath::parse(field.trim()).map_err(|e| format!("{field:?}: {e}"))?;
            m.fields
                .entry(path.to_string())
                .or_default()
                .push(value.to_string());
        }
    }
    Ok(())
}
