//! Loading Sigma files: every document of every file is compiled, then
//! correlations are resolved against all of them, then sidecar tests are
//! attached.

use super::correlation::{self, Target};
use super::detection;
use super::document::{self, Document};
use super::fields::Logsource;
use super::meta::{self, Logic};
use crate::model::TestCase;
use crate::rule::Rule;
use crate::source::{LoadError, Source};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A sidecar test file (`<rule>.tests.yml`) beside a Sigma file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
struct Sidecar {
    /// Tests of the file's only rule.
    #[serde(default)]
    Tests: Vec<TestCase>,
    /// Tests by rule id or name, for files with several rules.
    #[serde(default)]
    Rules: BTreeMap<String, Vec<TestCase>>,
}

/// The sidecar test file name of a rule file: `x.yml` → `x.tests.yml`.
pub fn sidecar_name(rule_file: &str) -> Option<String> {
    for ext in [".yml", ".yaml"] {
        if let Some(stem) = rule_file.strip_suffix(ext) {
            if !stem.ends_with(".tests") {
                return Some(format!("{stem}.tests{ext}"));
            }
        }
    }
    None
}

/// True for a sidecar test file name.
pub fn is_sidecar(file: &str) -> bool {
    file.ends_with(".tests.yml") || file.ends_with(".tests.yaml")
}

struct Compiled {
    rule: Rule,
    source: Option<Logsource>,
    name: Option<String>,
    file: usize,
}

/// Compiles the Sigma files in `sources`, with the sidecars found among
/// `sidecars` (matched by file name). Returns the rules and every problem.
pub fn load(sources: &[&Source], sidecars: &[Source]) -> (Vec<Rule>, Vec<LoadError>) {
    let mut errors = Vec::new();
    let mut docs: Vec<(usize, Document<'_>)> = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        match document::split(&src.name, &src.text) {
            Ok(ds) if ds.is_empty() => errors.push(LoadError {
                file: src.name.clone(),
                line: None,
                column: None,
                message: "the file holds no YAML document".into(),
            }),
            Ok(ds) => docs.extend(ds.into_iter().map(|d| (i, d))),
            Err(e) => errors.push(e),
        }
    }
    let mut compiled: Vec<Compiled> = Vec::new();
    let mut correlations = Vec::new();
    for (file, doc) in &docs {
        if doc.get("correlation").is_some() {
            correlations.push((*file, doc));
            continue;
        }
        match detection_rule(doc) {
            Ok((rule, source)) => compiled.push(Compiled {
                rule,
                source: Some(source),
                name: meta::string(doc, "name"),
                file: *file,
            }),
            Err(e) => errors.push(e),
        }
    }
    resolve_correlations(&correlations, &mut compiled, &mut errors);
    attach_tests(sources, sidecars, &mut compiled, &mut errors);
    (compiled.into_iter().map(|c| c.rule).collect(), errors)
}

fn resolve_correlations(
    correlations: &[(usize, &Document<'_>)],
    compiled: &mut Vec<Compiled>,
    errors: &mut Vec<LoadError>,
) {
    let mut results = Vec::new();
    {
        let targets: Vec<Target<'_>> = compiled
            .iter()
            .map(|c| Target {
                rule: &c.rule,
                source: c.source.unwrap_or(Logsource::Kubernetes),
                name: c.name.as_deref(),
                is_correlation: c.source.is_none(),
            })
            .collect();
        for (file, doc) in correlations {
            match correlation::compile(doc, &targets) {
                Ok(c) => results.push((*file, meta::string(doc, "name"), c)),
                Err(e) => errors.push(e),
            }
        }
    }
    // Rules counted by a correlation are signals unless one says generate.
    let mut generated = vec![false; compiled.len()];
    let mut counted = vec![false; compiled.len()];
    for (_, _, c) in &results {
        for &i in &c.counts {
            counted[i] = true;
            generated[i] |= c.generate;
        }
    }
    for (i, c) in compiled.iter_mut().enumerate() {
        if counted[i] && !generated[i] {
            c.rule.create_alert = false;
        }
    }
    for (file, name, c) in results {
        compiled.push(Compiled {
            rule: c.rule,
            source: None,
            name,
            file,
        });
    }
}

/// Compiles a detection rule document.
fn detection_rule(doc: &Document<'_>) -> Result<(Rule, Logsource), LoadError> {
    if doc.get("filter").is_some() && doc.get("detection").is_none() {
        return Err(doc.error(
            doc.key_line("filter"),
            None,
            "Sigma filters (meta filters) are not supported by kadet",
        ));
    }
    if doc.get("detection").is_none() && doc.get("logsource").is_none() {
        return Err(doc.error(
            Some(doc.first_line),
            None,
            "this YAML document is neither a Sigma rule (logsource and detection) nor a correlation",
        ));
    }
    let (source, logsource) = Logsource::parse(doc.get("logsource"))
        .map_err(|m| doc.error(doc.key_line("logsource"), None, m))?;
    let det = detection::compile(doc, source)?;
    let mut common = meta::common(doc)?;
    common.meta.logsource = logsource;
    common.meta.condition = det.conditions.clone();
    let logic = Logic {
        detection: det.expr,
        log_types: source.log_types(),
        dedup_fields: det.fields,
        context: meta::context(doc, source)?,
        threshold: 1,
        max_count: None,
        sliding: false,
        period_minutes: 60,
        distinct_by: None,
    };
    let rule = meta::build(doc, common, logic, source)?;
    Ok((rule, source))
}

fn attach_tests(
    sources: &[&Source],
    sidecars: &[Source],
    compiled: &mut [Compiled],
    errors: &mut Vec<LoadError>,
) {
    for (file, src) in sources.iter().enumerate() {
        let Some(want) = sidecar_name(&src.name) else {
            continue;
        };
        let Some(side) = sidecars.iter().find(|s| s.name == want) else {
            continue;
        };
        let parsed: Sidecar = match serde_norway::from_str(&side.text) {
            Ok(p) => p,
            Err(e) => {
                let loc = e.location();
                let mut message = e.to_string();
                if let Some(i) = message.find(" at line ") {
                    message.truncate(i);
                }
                errors.push(LoadError {
                    file: side.name.clone(),
                    line: loc.as_ref().map(|l| l.line()),
                    column: loc.as_ref().map(|l| l.column()),
                    message,
                });
                continue;
            }
        };
        let line_of = |needle: &str| {
            side.text
                .lines()
                .position(|l| l.contains(needle))
                .map(|i| i + 1)
        };
        let in_file: Vec<usize> = (0..compiled.len())
            .filter(|&i| compiled[i].file == file)
            .collect();
        if !parsed.Tests.is_empty() {
            match in_file.as_slice() {
                [only] => compiled[*only].rule.tests.extend(parsed.Tests),
                _ => errors.push(LoadError {
                    file: side.name.clone(),
                    line: line_of("Tests:"),
                    column: None,
                    message: format!(
                        "{} defines {} rules: list tests under `Rules: {{<id or name>: [...]}}`",
                        src.name,
                        in_file.len()
                    ),
                }),
            }
        }
        for (key, tests) in parsed.Rules {
            let target = in_file.iter().copied().find(|&i| {
                compiled[i].rule.id == key || compiled[i].name.as_deref() == Some(key.as_str())
            });
            match target {
                Some(i) => compiled[i].rule.tests.extend(tests),
                None => errors.push(LoadError {
                    file: side.name.clone(),
                    line: line_of(&key),
                    column: None,
                    message: format!("no rule with id or name {key:?} in {}", src.name),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_names() {
        assert_eq!(sidecar_name("a/b.yml").as_deref(), Some("a/b.tests.yml"));
        assert_eq!(sidecar_name("b.yaml").as_deref(), Some("b.tests.yaml"));
        assert_eq!(sidecar_name("b.tests.yml"), None);
        assert!(is_sidecar("x/b.tests.yml"));
        assert!(!is_sidecar("x/b.yml"));
    }
}
