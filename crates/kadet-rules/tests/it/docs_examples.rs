//! Every ```yaml rule / ```yaml library example in docs/rule-language.md
//! loads, and every test in it passes; every ```yaml sigma example in
//! docs/sigma.md loads.

use kadet_rules::loader::{load_sources, Source};
use kadet_rules::testing::run_rule_tests;

const DOC: &str = include_str!("../../../../docs/rule-language.md");
const SIGMA_DOC: &str = include_str!("../../../../docs/sigma.md");

fn blocks(tag: &str) -> Vec<String> {
    blocks_in(DOC, tag)
}

fn blocks_in(doc: &str, tag: &str) -> Vec<String> {
    let fence = format!("```yaml {tag}");
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in doc.lines() {
        match &mut cur {
            None if line.trim() == fence => cur = Some(String::new()),
            Some(text) if line.trim() == "```" => {
                out.push(std::mem::take(text));
                cur = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn rule_language_examples_load_and_pass() {
    let libs: Vec<Source> = blocks("library")
        .into_iter()
        .enumerate()
        .map(|(i, t)| Source {
            name: format!("doc-library-{i}"),
            text: t,
        })
        .collect();
    let rules = blocks("rule");
    assert!(
        rules.len() >= 2 && !libs.is_empty(),
        "the reference has runnable examples"
    );
    let mut sources = libs.clone();
    sources.extend(rules.into_iter().enumerate().map(|(i, t)| Source {
        name: format!("doc-rule-{i}"),
        text: t,
    }));
    let set = load_sources(Vec::new(), sources)
        .unwrap_or_else(|e| panic!("doc examples fail to load: {e:?}"));
    let mut ran = 0;
    for rule in &set.rules {
        for r in run_rule_tests(rule) {
            ran += 1;
            assert!(r.passed, "{} / {}: {:?}", r.rule_id, r.name, r.problems);
        }
    }
    assert!(ran >= 5);
}

#[test]
fn sigma_examples_load() {
    let sources: Vec<Source> = blocks_in(SIGMA_DOC, "sigma")
        .into_iter()
        .enumerate()
        .map(|(i, t)| Source {
            name: format!("doc-sigma-{i}.yml"),
            text: t,
        })
        .collect();
    assert!(sources.len() >= 2, "docs/sigma.md has Sigma examples");
    let set = load_sources(Vec::new(), sources)
        .unwrap_or_else(|e| panic!("Sigma doc examples fail to load: {e:?}"));
    assert!(set.rules.len() >= 3);
    assert!(set.rules.iter().any(|r| r.threshold == 5));
}
