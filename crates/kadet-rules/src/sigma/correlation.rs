//! Sigma correlation rules, as far as they map onto kadet's alert windows.
//!
//! `type: event_count` becomes a rule whose detection is the OR of the
//! rules it names (by `id` or `name`, in any loaded file), with
//! `Threshold` from the condition (`gte: N`, or `gt: N` as N+1), the
//! window (`DedupPeriodMinutes`) from `timespan`, rounded up to whole
//! minutes, and the dedup string from the `group-by` values. Its count
//! slides ([`Rule::sliding`](crate::Rule::sliding)): N matches within any
//! span of the timespan reach it, even across two of kadet's windows.
//!
//! Unless the correlation says `generate: true`, the rules it names become
//! signals (they match but do not alert on their own), as Sigma specifies.
//! Upper bounds (`lt`, `lte`, `eq`, ranges) set [`Rule::max_count`]: such a
//! window is judged when it closes. `temporal` and `temporal_ordered` run on
//! kadet's correlation engine ([`temporal`]). The
//! `value_sum`/`avg`/`percentile`/`median` types, `neq` and correlations of
//! correlations are load errors. `aliases` ([`aliases`]) give a `group-by`
//! name a field per rule in every type.

pub mod aliases;
pub mod temporal;

use aliases::Aliases;

use super::document::Document;
use super::fields::Logsource;
use super::meta::{self, Logic};
use crate::expr::{Expr, Literal, StrOp, Test};
use crate::path::FieldPath;
use crate::rule::Rule;
use crate::source::LoadError;
use crate::template::Template;
use kadet_event::LogType;
use serde_norway::Value as Yaml;

/// A compiled Sigma detection rule a correlation may refer to.
pub struct Target<'r> {
    /// The rule.
    pub rule: &'r Rule,
    /// Its log source.
    pub source: Logsource,
    /// Its `name`, if any.
    pub name: Option<&'r str>,
    /// True for a correlation rule (which cannot be referred to).
    pub is_correlation: bool,
}

/// A compiled correlation: the rule and the indices (in the targets) of
/// the rules it counts.
pub struct Compiled {
    /// The rule.
    pub rule: Rule,
    /// Indices of the rules it counts.
    pub counts: Vec<usize>,
    /// True when those rules alert on their own too (`generate: true`).
    pub generate: bool,
}

fn key_line(doc: &Document<'_>, key: &str) -> Option<usize> {
    doc.line_after(doc.key_line("correlation"), &format!("{key}:"))
}

/// Compiles a correlation document against the rules loaded so far.
pub fn compile(doc: &Document<'_>, targets: &[Target<'_>]) -> Result<Compiled, LoadError> {
    let corr_line = doc.key_line("correlation");
    let Some(Yaml::Mapping(c)) = doc.get("correlation") else {
        return Err(doc.error(
            corr_line,
            None,
            "correlation is a mapping (type, rules, group-by, timespan, condition)",
        ));
    };
    let get = |k: &str| c.get(Yaml::String(k.into()));
    let err =
        |key: &str, message: String| doc.error(key_line(doc, key).or(corr_line), None, message);
    let kind = get("type").and_then(Yaml::as_str).unwrap_or("");
    let temporal = matches!(kind, "temporal" | "temporal_ordered");
    match kind {
        "event_count" | "value_count" | "temporal" | "temporal_ordered" => {}
        "value_sum" | "value_avg" | "value_percentile" | "value_median" => {
            return Err(err(
                "type",
                format!(
                    "correlation type {kind:?} is not supported by kadet (event_count, value_count, temporal and temporal_ordered are)"
                ),
            ))
        }
        "" => {
            return Err(err(
                "type",
                "correlation needs a type (event_count, value_count, temporal, temporal_ordered)".into(),
            ))
        }
        other => return Err(err("type", format!("unknown correlation type {other:?}"))),
    }
    let names = meta::strings(get("rules"));
    if names.is_empty() {
        return Err(err(
            "rules",
            "correlation needs rules: the ids or names of the rules it counts".into(),
        ));
    }
    let mut counts = Vec::new();
    for n in &names {
        let found: Vec<usize> = targets
            .iter()
            .enumerate()
            .filter(|(_, t)| t.rule.id == *n || t.name == Some(n.as_str()))
            .map(|(i, _)| i)
            .collect();
        match found.as_slice() {
            [] => return Err(err("rules", format!("correlation refers to {n:?}, which no loaded Sigma rule has as its id or name"))),
            [i] if targets[*i].is_correlation => {
                return Err(err("rules", format!("correlation refers to the correlation {n:?}: chained correlations are not supported by kadet")))
            }
            [i] => {
                if !counts.contains(i) {
                    counts.push(*i);
                }
            }
            _ => return Err(err("rules", format!("{n:?} names several loaded rules"))),
        }
    }
    let timespan = get("timespan").and_then(Yaml::as_str).unwrap_or("");
    let minutes = timespan_minutes(timespan).ok_or_else(|| {
        err(
            "timespan",
            format!("timespan {timespan:?} is not a number followed by s, m, h or d"),
        )
    })?;
    let generate = [get("generate"), doc.get("generate")]
        .into_iter()
        .flatten()
        .any(|g| g.as_bool() == Some(true));
    if temporal {
        let t = temporal::Temporal {
            ordered: kind == "temporal_ordered",
            spec: c,
            counts,
            minutes,
            timespan,
            generate,
        };
        return temporal::compile(doc, targets, t, &err);
    }
    let condition = count_condition(get("condition"), kind).map_err(|m| err("condition", m))?;
    let threshold = condition.threshold;
    let gcp = counts.iter().any(|&i| targets[i].source == Logsource::Gcp);
    let source = if gcp {
        Logsource::Gcp
    } else {
        Logsource::Kubernetes
    };
    let group_names = meta::strings(get("group-by"));
    let aliases = Aliases::parse(get("aliases")).map_err(|m| err("aliases", m))?;
    // With aliases, each counted rule has its own group-by fields; without,
    // the correlation's own are read from every match, as before aliases.
    let per_rule = if aliases.is_empty() {
        Vec::new()
    } else {
        counts
            .iter()
            .map(|&i| {
                let t = &targets[i];
                group_names
                    .iter()
                    .map(|n| t.source.field(aliases.field(n, t)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| err("group-by", m))?
    };
    let group_by = match per_rule.first() {
        Some(first) => first.clone(),
        None => group_names
            .iter()
            .map(|n| source.field(n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| err("group-by", m))?,
    };
    let distinct_by = condition
        .field
        .as_deref()
        .map(|f| source.field(f))
        .transpose()
        .map_err(|m| err("condition", m))?;
    let (branches, log_types) = union(&counts, targets);
    let detection = match branches.as_slice() {
        [one] => one.clone(),
        _ => Expr::Any(branches.clone()),
    };
    let mut common = meta::common(doc)?;
    let own_dedup = common.ext.dedup.is_some();
    let counted = match &condition.field {
        Some(f) => format!("value_count({f})"),
        None => "event_count".to_string(),
    };
    common.meta.condition = vec![format!(
        "{counted} >= {threshold} within {timespan}{}",
        if group_names.is_empty() {
            String::new()
        } else {
            format!(" by {}", group_names.join(", "))
        }
    )];
    common.meta.correlates = counts.iter().map(|&i| targets[i].rule.id.clone()).collect();
    let logic = Logic {
        detection,
        log_types,
        dedup_fields: group_by,
        context: Vec::new(),
        threshold,
        max_count: condition.max,
        // Sigma's time frames are not cut at fixed boundaries: an event_count
        // burst that straddles two of kadet's windows still counts. A range
        // is judged per window when it closes.
        sliding: kind == "event_count" && condition.max.is_none(),
        period_minutes: minutes,
        distinct_by,
    };
    let mut rule = meta::build(doc, common, logic, source)?;
    if !aliases.is_empty() && !own_dedup {
        // A match is grouped by the fields of the first counted rule it
        // matches.
        rule.dynamic_titles = branches
            .into_iter()
            .zip(&per_rule)
            .map(|(branch, fields)| (branch, None, Some(Template::fields_joined(fields, ":"))))
            .collect();
    }
    Ok(Compiled {
        rule,
        counts,
        generate,
    })
}

/// The counted rules' detections, each named by its rule, whose OR is the
/// correlation's; a rule reading fewer log types than the union is guarded
/// by its own (the prefilter decides those guards per log type, at no cost).
fn union(counts: &[usize], targets: &[Target<'_>]) -> (Vec<Expr>, Vec<String>) {
    let log_types: Vec<String> = LogType::ALL
        .iter()
        .map(|t| t.name().to_string())
        .filter(|t| {
            counts
                .iter()
                .any(|&i| targets[i].rule.log_types.contains(t))
        })
        .collect();
    let mut parts = Vec::new();
    for &i in counts {
        let r = targets[i].rule;
        let mut expr = r.detection.clone();
        if r.log_types.len() < log_types.len() {
            let guard = Expr::Leaf {
                path: FieldPath::key("p_log_type"),
                test: Test::Str {
                    op: StrOp::Equals,
                    ci: false,
                    values: r
                        .log_types
                        .iter()
                        .map(|t| Literal::Str(t.clone()))
                        .collect(),
                },
                negate: false,
                name: "equals|cased".into(),
            };
            expr = Expr::All(vec![guard, expr]);
        }
        parts.push(Expr::Named {
            name: r.id.clone(),
            expr: Box::new(expr),
        });
    }
    (parts, log_types)
}

/// A correlation's condition: the count a window needs, the most it may
/// have, and, for `value_count`, the field whose distinct values are
/// counted.
struct CountCondition {
    threshold: u32,
    max: Option<u32>,
    field: Option<String>,
}

/// `{gte: N}` (or `{gt: N}`), plus `field: NAME` for `value_count`.
fn count_condition(cond: Option<&Yaml>, kind: &str) -> Result<CountCondition, String> {
    let Some(Yaml::Mapping(m)) = cond else {
        return Err(format!("{kind} needs a condition like {{gte: 10}}"));
    };
    let field_key = Yaml::String("field".into());
    let field = m.get(&field_key).map(|f| {
        f.as_str()
            .map(str::to_string)
            .ok_or_else(|| "field names one field".to_string())
    });
    let field = field.transpose()?;
    match (kind, &field) {
        ("value_count", None) => {
            return Err("value_count needs the field whose values it counts (field: NAME)".into())
        }
        ("event_count", Some(_)) => {
            return Err("event_count counts events: field belongs to value_count".into())
        }
        _ => {}
    }
    let mut counts = m.clone();
    counts.remove(&field_key);
    let (threshold, max) = bounds(&counts)?;
    Ok(CountCondition {
        threshold,
        max,
        field,
    })
}

/// The least and most a window may count and alert: `gte: N` and `gt: N`
/// (N+1) set the least, `lte: N` and `lt: N` (N-1) the most, `eq: N` both;
/// one of each side at most. With no lower bound the least is 1 (a window
/// exists once something matched).
fn bounds(m: &serde_norway::Mapping) -> Result<(u32, Option<u32>), String> {
    let (mut low, mut high) = (None, None);
    for (k, v) in m {
        let n = v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| "the count in the condition is a whole number".to_string())?;
        let op = k.as_str().unwrap_or("");
        let (lo, hi) = match op {
            "gte" => (Some(n), None),
            "gt" => (Some(n.saturating_add(1)), None),
            "lte" => (None, Some(n)),
            "lt" => (None, Some(n.checked_sub(1).ok_or("lt: 0 can never hold")?)),
            "eq" => (Some(n), Some(n)),
            "neq" => {
                return Err(
                    "condition \"neq\" is not supported by kadet (gte, gt, lte, lt, eq are)".into(),
                )
            }
            _ => return Err(format!("unknown condition {op:?} (gte, gt, lte, lt, eq)")),
        };
        if (lo.is_some() && low.replace(lo).is_some())
            || (hi.is_some() && high.replace(hi).is_some())
        {
            return Err(
                "give at most one lower bound (gte, gt) and one upper bound (lte, lt), or eq"
                    .into(),
            );
        }
    }
    let low = low.flatten();
    let high = high.flatten();
    if low.is_none() && high.is_none() {
        return Err("the condition needs a count (gte: N, or lt, lte, eq, or a range)".into());
    }
    let low = low.unwrap_or(1);
    if low == 0 {
        return Err("the condition needs a count of at least 1 (gte: N)".into());
    }
    if high.is_some_and(|h| h < low) {
        return Err(format!(
            "the range is empty: at least {low} and at most {}",
            high.unwrap_or(0)
        ));
    }
    Ok((low, high))
}

/// `30s`, `5m`, `2h`, `1d` in whole minutes, rounded up.
fn timespan_minutes(text: &str) -> Option<u32> {
    let unit = text.chars().last()?;
    let n: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let seconds = match unit {
        's' => n,
        'm' => n.checked_mul(60)?,
        'h' => n.checked_mul(3600)?,
        'd' => n.checked_mul(86400)?,
        _ => return None,
    };
    u32::try_from(seconds.div_ceil(60)).ok().filter(|m| *m >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans() {
        assert_eq!(timespan_minutes("30s"), Some(1));
        assert_eq!(timespan_minutes("90s"), Some(2));
        assert_eq!(timespan_minutes("5m"), Some(5));
        assert_eq!(timespan_minutes("2h"), Some(120));
        assert_eq!(timespan_minutes("1d"), Some(1440));
        assert_eq!(timespan_minutes("0m"), None);
        assert_eq!(timespan_minutes("5"), None);
        assert_eq!(timespan_minutes("m"), None);
        assert_eq!(timespan_minutes("1w"), None);
    }

    #[test]
    fn thresholds() {
        let y = |t: &str| serde_norway::from_str::<Yaml>(t).unwrap();
        let count = |t: &str, kind: &str| count_condition(Some(&y(t)), kind);
        let n = |t: &str| count(t, "event_count").map(|c| c.threshold);
        assert_eq!(n("{gte: 5}"), Ok(5));
        assert_eq!(n("{gt: 5}"), Ok(6));
        let range = |t: &str| count(t, "event_count").map(|c| (c.threshold, c.max));
        assert_eq!(range("{lt: 5}"), Ok((1, Some(4))));
        assert_eq!(range("{lte: 5}"), Ok((1, Some(5))));
        assert_eq!(range("{eq: 3}"), Ok((3, Some(3))));
        assert_eq!(range("{gte: 2, lte: 4}"), Ok((2, Some(4))));
        assert!(range("{gt: 4, lt: 5}")
            .unwrap_err()
            .contains("range is empty"));
        assert!(range("{lt: 0}").is_err());
        assert!(range("{neq: 3}").unwrap_err().contains("neq"));
        assert!(n("{gte: 0}").is_err());
        assert!(n("{gte: 5, gt: 6}").is_err());
        assert!(range("{eq: 3, lt: 5}").is_err());
        assert!(count_condition(None, "event_count").is_err());
        let v = count("{field: objectRef.name, gte: 3}", "value_count").expect("value_count");
        assert_eq!(
            (v.threshold, v.field.as_deref()),
            (3, Some("objectRef.name"))
        );
        assert!(count("{gte: 3}", "value_count")
            .err()
            .is_some_and(|e| e.contains("field: NAME")));
        assert!(count("{field: x, gte: 3}", "event_count").is_err());
    }
}
