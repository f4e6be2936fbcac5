//! Sigma `temporal` and `temporal_ordered` correlations, run by kadet's
//! correlation engine ([`crate::correlation`]): `temporal` is a `Group` (every
//! named rule matches within the timespan, in any order, for the same
//! `group-by` values), `temporal_ordered` a `Sequence` (in the order the rules
//! are listed, each within the timespan of the one before, the whole within
//! the timespan). `aliases` give a `group-by` name a field per rule. The rules
//! they name become signals unless `generate: true`, as for the counting
//! types.

use super::aliases::Aliases;
use super::{Compiled, Target};
use crate::correlation::{Correlation, FieldRef, Pattern, Step, Transition};
use crate::sigma::document::Document;
use crate::sigma::fields::Logsource;
use crate::sigma::meta::{self, Logic};
use crate::source::LoadError;
use serde_norway::{Mapping, Value as Yaml};

/// What [`compile`] needs from the correlation document.
pub struct Temporal<'a> {
    /// `temporal_ordered` rather than `temporal`.
    pub ordered: bool,
    /// The `correlation` mapping.
    pub spec: &'a Mapping,
    /// Indices (in the targets) of the named rules, in order.
    pub counts: Vec<usize>,
    /// The timespan in minutes.
    pub minutes: u32,
    /// The timespan as written.
    pub timespan: &'a str,
    /// `generate: true`.
    pub generate: bool,
}

/// Compiles a temporal correlation into a correlation rule.
pub fn compile(
    doc: &Document<'_>,
    targets: &[Target<'_>],
    t: Temporal<'_>,
    err: &dyn Fn(&str, String) -> LoadError,
) -> Result<Compiled, LoadError> {
    let get = |k: &str| t.spec.get(Yaml::String(k.into()));
    let kind = if t.ordered {
        "temporal_ordered"
    } else {
        "temporal"
    };
    if let Some(cond) = get("condition") {
        let all = Yaml::Mapping(Mapping::from_iter([(
            Yaml::String("gte".into()),
            Yaml::Number(t.counts.len().into()),
        )]));
        if *cond != all {
            return Err(err(
                "condition",
                format!(
                    "kadet runs {kind} as every named rule matching: leave condition out, or give gte: {}",
                    t.counts.len()
                ),
            ));
        }
    }
    if t.counts.len() < 2 {
        return Err(err("rules", format!("{kind} relates at least two rules")));
    }
    let aliases = Aliases::parse(get("aliases")).map_err(|m| err("aliases", m))?;
    let group_by = meta::strings(get("group-by"));
    let mut steps = Vec::new();
    let mut fields: Vec<Vec<FieldRef>> = Vec::new();
    for &i in &t.counts {
        let target = &targets[i];
        let mut own = Vec::new();
        for name in &group_by {
            let field = aliases.field(name, target);
            let path = target.source.field(field).map_err(|m| err("group-by", m))?;
            own.push(FieldRef::Event(path));
        }
        steps.push(Step {
            id: target.rule.id.clone(),
            rule_id: target.rule.id.clone(),
            min_matches: 1,
            absent: false,
        });
        fields.push(own);
    }
    let pattern = if t.ordered {
        let transitions = fields
            .windows(2)
            .map(|w| Transition {
                within_minutes: t.minutes,
                pairs: w[0].iter().cloned().zip(w[1].iter().cloned()).collect(),
            })
            .collect();
        Pattern::Sequence { steps, transitions }
    } else {
        Pattern::Group {
            groups: steps,
            criteria: fields,
        }
    };
    let mut common = meta::common(doc)?;
    let names: Vec<String> = t
        .counts
        .iter()
        .map(|&i| targets[i].rule.id.clone())
        .collect();
    common.meta.condition = vec![format!(
        "{kind}: {} within {}{}",
        names.join(if t.ordered { " then " } else { ", " }),
        t.timespan,
        if group_by.is_empty() {
            String::new()
        } else {
            format!(" by {}", group_by.join(", "))
        }
    )];
    common.meta.correlates = names;
    let logic = Logic {
        detection: crate::expr::Expr::Const(false),
        log_types: Vec::new(),
        dedup_fields: Vec::new(),
        context: Vec::new(),
        threshold: 1,
        max_count: None,
        sliding: false,
        period_minutes: t.minutes,
        distinct_by: None,
    };
    let source = if t
        .counts
        .iter()
        .any(|&i| targets[i].source == Logsource::Gcp)
    {
        Logsource::Gcp
    } else {
        Logsource::Kubernetes
    };
    let mut rule = meta::build(doc, common, logic, source)?;
    rule.correlation = Some(Box::new(Correlation {
        pattern,
        lookback_minutes: t.minutes,
        tests: Vec::new(),
    }));
    Ok(Compiled {
        rule,
        counts: t.counts,
        generate: t.generate,
    })
}
