//! A compiled rule, and what it produces for an event that matches.

use crate::compile::{key_spec_raw, CompileError, Compiler};
use crate::expr::{Expr, Scope};
use crate::model::{RuleFile, TestCase};
use crate::path::FieldPath;
use crate::template::Template;
use kadet_event::{CanonicalEvent, LogType};
use std::collections::BTreeMap;
use std::fmt;

/// Alert severity, Panther's five levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// All levels, low to high.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// Parses any case; `Informational` is accepted for `Info`.
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" | "informational" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// This level raised by `steps` levels, at most Critical.
    pub fn raised(self, steps: usize) -> Severity {
        let at = Severity::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Severity::ALL[(at + steps).min(Severity::ALL.len() - 1)]
    }

    /// Upper-case name: `INFO` ... `CRITICAL`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl serde::Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        Severity::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown severity {name:?}")))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The language a rule was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleFormat {
    /// A Panther analysis YAML file (`AnalysisType: rule`).
    Panther,
    /// A Sigma rule (`detection`/`logsource`, or `correlation`).
    Sigma,
}

impl RuleFormat {
    /// `panther` or `sigma`.
    pub fn name(self) -> &'static str {
        match self {
            RuleFormat::Panther => "panther",
            RuleFormat::Sigma => "sigma",
        }
    }
}

impl fmt::Display for RuleFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `AlertContext` field.
#[derive(Debug, Clone)]
pub enum ContextValue {
    /// The value at a path (`null` when missing).
    Path(FieldPath),
    /// A rendered template.
    Template(Template),
    /// A literal.
    Literal(serde_json::Value),
}

/// A rule ready to run.
#[derive(Debug, Clone)]
pub struct Rule {
    /// RuleID.
    pub id: String,
    /// DisplayName.
    pub display_name: Option<String>,
    /// Enabled.
    pub enabled: bool,
    /// Status.
    pub status: Option<String>,
    /// LogTypes.
    pub log_types: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Base severity.
    pub severity: Severity,
    /// Description.
    pub description: Option<String>,
    /// Runbook.
    pub runbook: Option<String>,
    /// Reference.
    pub reference: Option<String>,
    /// Reports (framework → ids).
    pub reports: BTreeMap<String, Vec<String>>,
    /// Window length.
    pub dedup_period_minutes: u32,
    /// Matches needed per window.
    pub threshold: u32,
    /// The most matches (or distinct values) a window may hold and still
    /// alert (Sigma `lt`, `lte`, `eq`); when set, the alert is decided when
    /// the window closes rather than when it reaches `threshold`.
    pub max_count: Option<u32>,
    /// The threshold is reached when that many matches fall within any span
    /// of `DedupPeriodMinutes` (a sliding window, Sigma `event_count`), not
    /// only within the window that opened at the first match.
    pub sliding: bool,
    /// Fields listed with their distinct values in alerts.
    pub summary_attributes: Vec<String>,
    /// False for signal-only rules.
    pub create_alert: bool,
    /// OutputIds.
    pub output_ids: Vec<String>,
    /// The compiled detection (with InlineFilters folded in).
    pub detection: Expr,
    /// AlertTitle.
    pub title: Option<Template>,
    /// Dedup template.
    pub dedup: Option<Template>,
    /// GroupBy keys.
    pub group_by: Vec<FieldPath>,
    /// AlertContext.
    pub context: Vec<(String, ContextValue)>,
    /// DynamicSeverities, first match wins.
    pub dynamic_severities: Vec<(Severity, Expr)>,
    /// DynamicTitles, first match wins: (conditions, title, dedup).
    pub dynamic_titles: Vec<(Expr, Option<Template>, Option<Template>)>,
    /// DistinctBy.
    pub distinct_by: Option<FieldPath>,
    /// `Follows` (kadet): the rule this one follows ([`crate::follow`]).
    pub follows: Option<crate::follow::Follows>,
    /// `DedupPeriodSecondsFrom` (kadet): a field holding a window length in
    /// seconds; a window lasts the smaller of it and `DedupPeriodMinutes`.
    pub period_seconds_from: Option<FieldPath>,
    /// `FirstSeen` (kadet): only values new for their group count
    /// ([`crate::first_seen`]).
    pub first_seen: Option<crate::first_seen::FirstSeen>,
    /// A Panther correlation rule's pattern ([`crate::correlation`]); such a
    /// rule's detection never matches an event.
    pub correlation: Option<Box<crate::correlation::Correlation>>,
    /// Event fields correlation rules read from this rule's matches (set
    /// when the rules are linked at load).
    pub join_fields: Vec<FieldPath>,
    /// Tests.
    pub tests: Vec<TestCase>,
    /// The file the rule came from.
    pub source: String,
    /// The Detection as written, for `rules show`.
    pub detection_raw: crate::model::ExprList,
    /// The top-level event keys the detection (and the tuning exclusions)
    /// read, or `None` when it may read anything (a path starting with an
    /// index or wildcard). The pipeline parses only these before deciding
    /// whether the rule matches.
    pub detection_keys: Option<Vec<String>>,
    /// Tuning exclusions: a match where one holds is suppressed.
    pub exclusions: Vec<crate::annotations::Exclusion>,
    /// The changes tuning made to the rule, with their sources.
    pub tuning: Vec<crate::annotations::TuningNote>,
    /// The language the rule was written in.
    pub format: RuleFormat,
    /// A Sigma rule's metadata (author, references, false positives, ...).
    pub sigma: Option<Box<crate::annotations::SigmaMeta>>,
}

/// A rule's verdict on an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The detection does not match.
    NoMatch,
    /// It matches.
    Match,
    /// It matches, but the tuning exclusion at this index holds.
    Suppressed(usize),
}

/// Named lists a template's `!only:NAME` filter may use.
type Lists = BTreeMap<String, Vec<serde_norway::Value>>;

/// An optional template of a rule file, parsed.
fn template(
    t: &Option<String>,
    what: &str,
    lists: &Lists,
) -> Result<Option<Template>, CompileError> {
    t.as_ref()
        .map(|t| {
            Template::parse_with(t, lists).map_err(|m| CompileError {
                at: what.into(),
                message: m,
                needle: Some(t.clone()),
            })
        })
        .transpose()
}

/// `AlertContext`: each entry has exactly one of KeyValue, Template, Value.
fn alert_context(
    file: &RuleFile,
    lists: &Lists,
) -> Result<Vec<(String, ContextValue)>, CompileError> {
    let mut context = Vec::new();
    for (i, c) in file.AlertContext.iter().flatten().enumerate() {
        let where_ = format!("AlertContext[{i}]");
        let v = match (&c.KeyValue, &c.Template, &c.Value) {
            (Some(k), None, None) => ContextValue::Path(key_spec_raw(k, &where_)?),
            (None, Some(t), None) => {
                ContextValue::Template(Template::parse_with(t, lists).map_err(|m| {
                    CompileError {
                        at: where_.clone(),
                        message: m,
                        needle: Some(t.clone()),
                    }
                })?)
            }
            (None, None, Some(v)) => {
                ContextValue::Literal(serde_json::to_value(v).map_err(|e| CompileError {
                    at: where_.clone(),
                    message: e.to_string(),
                    needle: None,
                })?)
            }
            _ => {
                return Err(CompileError {
                    at: where_,
                    message: "an AlertContext entry has exactly one of KeyValue, Template, Value"
                        .into(),
                    needle: Some(c.KeyName.clone()),
                })
            }
        };
        context.push((c.KeyName.clone(), v));
    }
    Ok(context)
}

/// `DynamicSeverities`: a severity and the conditions that choose it.
fn dynamic_severities(
    file: &RuleFile,
    compiler: &mut Compiler<'_>,
) -> Result<Vec<(Severity, Expr)>, CompileError> {
    let mut out = Vec::new();
    for (i, d) in file.DynamicSeverities.iter().flatten().enumerate() {
        let where_ = format!("DynamicSeverities[{i}]");
        let sev = Severity::parse(&d.ChangeTo).ok_or_else(|| CompileError {
            at: where_.clone(),
            message: format!("unknown severity {:?}", d.ChangeTo),
            needle: Some(d.ChangeTo.clone()),
        })?;
        out.push((
            sev,
            compiler.list(&d.Conditions, &format!("{where_}.Conditions"))?,
        ));
    }
    Ok(out)
}

/// A title and/or dedup template, with the conditions that choose them.
type DynamicTitle = (Expr, Option<Template>, Option<Template>);

/// `DynamicTitles`: each entry sets AlertTitle, Dedup or both.
fn dynamic_titles(
    file: &RuleFile,
    compiler: &mut Compiler<'_>,
    lists: &Lists,
) -> Result<Vec<DynamicTitle>, CompileError> {
    let mut out = Vec::new();
    for (i, d) in file.DynamicTitles.iter().flatten().enumerate() {
        let where_ = format!("DynamicTitles[{i}]");
        if d.AlertTitle.is_none() && d.Dedup.is_none() {
            return Err(CompileError {
                at: where_,
                message: "a DynamicTitles entry sets AlertTitle, Dedup or both".into(),
                needle: None,
            });
        }
        let cond = compiler.list(&d.Conditions, &format!("{where_}.Conditions"))?;
        out.push((
            cond,
            template(&d.AlertTitle, &where_, lists)?,
            template(&d.Dedup, &where_, lists)?,
        ));
    }
    Ok(out)
}

/// `Reports` with every id as text (YAML may read `T1098` as a string and
/// `1.5` as a number).
fn report_ids(file: &RuleFile) -> BTreeMap<String, Vec<String>> {
    file.Reports
        .iter()
        .map(|(k, vs)| {
            let ids = vs
                .iter()
                .map(|v| match v {
                    serde_norway::Value::String(s) => s.clone(),
                    other => serde_norway::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                })
                .collect();
            (k.clone(), ids)
        })
        .collect()
}

/// Every name in `LogTypes` must be one kadet reads.
fn check_log_types(log_types: &[String]) -> Result<(), CompileError> {
    match log_types.iter().find(|lt| LogType::from_name(lt).is_none()) {
        None => Ok(()),
        Some(lt) => Err(CompileError {
            at: "LogTypes".into(),
            message: format!(
                "unknown log type {lt:?} (kadet reads {})",
                LogType::ALL
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            needle: Some(lt.clone()),
        }),
    }
}

/// Collects the root keys `e` reads; `false` when it may read any key.
pub(crate) fn root_keys(e: &Expr, out: &mut Vec<String>) -> bool {
    let add = |p: &FieldPath, out: &mut Vec<String>| match p.root_key() {
        Some(k) => {
            let from = kadet_event::event::derived_from(k).unwrap_or(std::slice::from_ref(&k));
            for k in from {
                if !out.iter().any(|x| x == k) {
                    out.push(k.to_string());
                }
            }
            true
        }
        None => false,
    };
    match e {
        Expr::All(xs) | Expr::Any(xs) | Expr::OnlyOne(xs) | Expr::None(xs) => {
            xs.iter().all(|x| root_keys(x, out))
        }
        Expr::Const(_) => true,
        Expr::Named { expr, .. } => root_keys(expr, out),
        Expr::Leaf { path, .. } | Expr::Elements { path, .. } => add(path, out),
        Expr::Compare { path, others, .. } => add(path, out) && others.iter().all(|o| add(o, out)),
    }
}

/// What a matching rule says about an event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// Alert title.
    pub title: String,
    /// Dedup string.
    pub dedup: String,
    /// Severity after DynamicSeverities.
    pub severity: Severity,
    /// AlertContext, in rule order.
    pub context: serde_json::Map<String, serde_json::Value>,
    /// The value DistinctBy counts, when set.
    pub distinct: Option<String>,
    /// The value of `Follows.Key`: the dedup string of the lead window this
    /// match needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_key: Option<String>,
    /// The window length `DedupPeriodSecondsFrom` gives, when it gives one
    /// (a positive whole number of seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i64>,
    /// For a `FirstSeen` rule: the group (its values joined by spaces) and
    /// the value that must be new for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<(String, String)>,
}

impl Rule {
    /// Compiles a parsed rule file.
    pub fn compile(
        file: RuleFile,
        source: &str,
        compiler: &mut Compiler<'_>,
    ) -> Result<Rule, CompileError> {
        let at = |s: &str| s.to_string();
        let id = file.RuleID.clone().ok_or_else(|| CompileError {
            at: at("RuleID"),
            message: "RuleID is required".into(),
            needle: None,
        })?;
        let Some(detection_raw) = file.Detection.clone() else {
            let message = if file.Filename.is_some() {
                "this rule's logic is a Python file (Filename); kadet runs Simple Detections: add a Detection"
            } else {
                "Detection is required"
            };
            return Err(CompileError {
                at: at("Detection"),
                message: message.into(),
                needle: None,
            });
        };
        let mut detection = compiler.list(&detection_raw, "Detection")?;
        if let Some(f) = &file.InlineFilters {
            let filters = compiler.list(f, "InlineFilters")?;
            detection = Expr::All(vec![filters, detection]);
        }
        let sev_text = file.Severity.clone().unwrap_or_else(|| "Info".into());
        let severity = Severity::parse(&sev_text).ok_or_else(|| CompileError {
            at: at("Severity"),
            message: format!("unknown severity {sev_text:?} (Info, Low, Medium, High, Critical)"),
            needle: Some(sev_text.clone()),
        })?;
        let lists = compiler.library().lists.clone();
        let title = template(&file.AlertTitle, "AlertTitle", &lists)?;
        let dedup = template(&file.Dedup, "Dedup", &lists)?;
        let group_by = file
            .GroupBy
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, k)| key_spec_raw(k, &format!("GroupBy[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let context = alert_context(&file, &lists)?;
        let dynamic_severities = dynamic_severities(&file, compiler)?;
        let dynamic_titles = dynamic_titles(&file, compiler, &lists)?;
        let distinct_by = file
            .DistinctBy
            .as_ref()
            .map(|k| key_spec_raw(k, "DistinctBy"))
            .transpose()?;
        let follows = file
            .Follows
            .as_ref()
            .map(crate::follow::Follows::compile)
            .transpose()?;
        let first_seen = file
            .FirstSeen
            .as_ref()
            .map(crate::first_seen::FirstSeen::compile)
            .transpose()?;
        let period_seconds_from = file
            .DedupPeriodSecondsFrom
            .as_ref()
            .map(|k| key_spec_raw(k, "DedupPeriodSecondsFrom"))
            .transpose()?;
        let reports = report_ids(&file);
        check_log_types(&file.LogTypes)?;
        let mut keys = Vec::new();
        let detection_keys = root_keys(&detection, &mut keys).then_some(keys);
        Ok(Rule {
            detection_keys,
            exclusions: Vec::new(),
            tuning: Vec::new(),
            id,
            display_name: file.DisplayName,
            enabled: file.Enabled.unwrap_or(true),
            status: file.Status,
            log_types: file.LogTypes,
            tags: file.Tags,
            severity,
            description: file.Description,
            runbook: file.Runbook,
            reference: file.Reference,
            reports,
            dedup_period_minutes: file.DedupPeriodMinutes.unwrap_or(60).max(1),
            threshold: file.Threshold.unwrap_or(1).max(1),
            max_count: None,
            sliding: false,
            summary_attributes: file.SummaryAttributes,
            create_alert: file.CreateAlert.unwrap_or(true),
            output_ids: file.OutputIds,
            detection,
            title,
            dedup,
            group_by,
            context,
            dynamic_severities,
            dynamic_titles,
            distinct_by,
            follows,
            period_seconds_from,
            first_seen,
            correlation: None,
            join_fields: Vec::new(),
            tests: file.Tests,
            source: source.to_string(),
            detection_raw,
            format: RuleFormat::Panther,
            sigma: None,
        })
    }

    /// True when the rule looks at events of this log type.
    pub fn applies_to(&self, log_type: LogType) -> bool {
        if self.log_types.is_empty() {
            return true;
        }
        let listed = |t: LogType| self.log_types.iter().any(|l| l == t.name());
        match log_type {
            LogType::KubernetesAudit => {
                listed(LogType::KubernetesAudit)
                    || listed(LogType::EksAudit)
                    || listed(LogType::AzureMonitor)
            }
            other => listed(other),
        }
    }

    /// True when the event matches (log type and detection) and no tuning
    /// exclusion suppresses it.
    pub fn matches(&self, ev: &CanonicalEvent<'_>) -> bool {
        self.verdict(ev) == Verdict::Match
    }

    /// The rule's verdict: no match, a match, or a match a tuning exclusion
    /// suppresses.
    pub fn verdict(&self, ev: &CanonicalEvent<'_>) -> Verdict {
        if !(self.applies_to(ev.meta.log_type) && self.detection.eval_event(ev)) {
            return Verdict::NoMatch;
        }
        match self.exclusions.iter().position(|x| x.expr.eval_event(ev)) {
            Some(i) => Verdict::Suppressed(i),
            None => Verdict::Match,
        }
    }

    /// Recomputes [`Rule::detection_keys`] from the detection and the
    /// exclusions (after tuning added one).
    pub fn refresh_detection_keys(&mut self) {
        let mut keys = Vec::new();
        let all = root_keys(&self.detection, &mut keys)
            && self
                .exclusions
                .iter()
                .all(|x| root_keys(&x.expr, &mut keys));
        self.detection_keys = all.then_some(keys);
    }

    /// Title, dedup string, severity and context for a matching event.
    pub fn outcome(&self, ev: &CanonicalEvent<'_>) -> Outcome {
        let scope = Scope::Event(ev);
        let chosen = self.dynamic_titles.iter().find(|(c, _, _)| c.eval(scope));
        let title_t = chosen
            .and_then(|(_, t, _)| t.as_ref())
            .or(self.title.as_ref());
        let dedup_t = chosen
            .and_then(|(_, _, d)| d.as_ref())
            .or(self.dedup.as_ref());
        // A title never starts or ends with spaces (Panther's templates
        // sometimes leave one after the last placeholder).
        let title = match (title_t, &self.display_name) {
            (Some(t), _) => t.render(scope).trim().to_string(),
            (None, Some(d)) => d.clone(),
            (None, None) => self.id.clone(),
        };
        let dedup = if let Some(d) = dedup_t {
            d.render(scope)
        } else if !self.group_by.is_empty() {
            self.group_by
                .iter()
                .map(|p| match scope.resolve(p).value() {
                    Some(v) => crate::template::python_str(v),
                    None => String::new(),
                })
                .collect::<Vec<_>>()
                .join(":")
        } else if title_t.is_some() {
            title.clone()
        } else {
            format!("defaultDedupString:{}", self.id)
        };
        let severity = self
            .dynamic_severities
            .iter()
            .find(|(_, e)| e.eval(scope))
            .map_or(self.severity, |(s, _)| *s);
        let mut context = serde_json::Map::new();
        for (k, v) in &self.context {
            let value = match v {
                ContextValue::Path(p) => scope.resolve(p).to_json(),
                ContextValue::Template(t) => serde_json::Value::String(t.render(scope)),
                ContextValue::Literal(l) => l.clone(),
            };
            context.insert(k.clone(), value);
        }
        let distinct = self
            .distinct_by
            .as_ref()
            .map(|p| match scope.resolve(p).value() {
                Some(v) => crate::template::python_str(v),
                None => String::new(),
            });
        let follow_key = self.follows.as_ref().and_then(|f| {
            scope
                .resolve(&f.key)
                .value()
                .map(crate::template::python_str)
                .filter(|k| !k.is_empty())
        });
        let period_seconds = self.period_seconds_from.as_ref().and_then(|p| {
            let v = scope.resolve(p).to_json();
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .filter(|s| *s > 0)
        });
        let first_seen = self.first_seen.as_ref().and_then(|f| {
            let text = |p: &FieldPath| scope.resolve(p).value().map(crate::template::python_str);
            let value = text(&f.value).filter(|v| !v.is_empty())?;
            let group: Vec<String> = f
                .group_by
                .iter()
                .map(|p| text(p).unwrap_or_default())
                .collect();
            Some((group.join(" "), value))
        });
        Outcome {
            title,
            dedup,
            severity,
            context,
            distinct,
            follow_key,
            period_seconds,
            first_seen,
        }
    }

    /// The Reports ids under a framework whose name contains `framework` (case-insensitive).
    pub fn report_ids(&self, framework: &str) -> Vec<&str> {
        let f = framework.to_ascii_lowercase();
        self.reports
            .iter()
            .filter(|(k, _)| k.to_ascii_lowercase().contains(&f))
            .flat_map(|(_, v)| v.iter().map(String::as_str))
            .collect()
    }
}

/// The position of the rule with this id among `rules`: the one place a
/// rule is found by its id.
pub fn index_of(rules: &[Rule], id: &str) -> Option<usize> {
    rules.iter().position(|r| r.id == id)
}

/// The rule with this id among `rules`.
pub fn by_id<'r>(rules: &'r [Rule], id: &str) -> Option<&'r Rule> {
    index_of(rules, id).map(|i| &rules[i])
}
