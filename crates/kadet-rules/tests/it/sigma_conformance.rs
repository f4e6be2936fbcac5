//! Sigma conformance: the small rules in `tests/sigma/` (one per modifier
//! and condition form) pass their sidecar tests, SigmaHQ's rules in
//! `rules/sigma/` pass theirs, and every unsupported feature is a load error
//! naming the file, the line and the feature.

use kadet_rules::loader::{load_sources, Source};
use kadet_rules::testing::run_rule_tests;
use kadet_rules::{LoadError, RuleFormat};
use std::path::PathBuf;

fn dir(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Loads a folder and runs every rule's tests; returns (rules, tests).
fn run_folder(path: PathBuf) -> (usize, usize) {
    let set = kadet_rules::load_paths(&[path]).unwrap_or_else(|e| {
        panic!(
            "loads: {}",
            e.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let mut failures = Vec::new();
    let mut tests = 0;
    for rule in &set.rules {
        assert_eq!(rule.format, RuleFormat::Sigma, "{}", rule.id);
        if rule.correlation.is_some() {
            // A temporal correlation matches no single event: it is tested
            // end to end (kadet-cli's sigma tests scan events through it).
            continue;
        }
        let results = run_rule_tests(rule);
        assert!(
            results.iter().any(|r| r.expected) && results.iter().any(|r| !r.expected),
            "{} needs a positive and a negative test",
            rule.id
        );
        tests += results.len();
        for r in results.iter().filter(|r| !r.passed) {
            failures.push(format!(
                "{} / {}: {}",
                r.rule_id,
                r.name,
                r.problems.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "failing tests:\n{}",
        failures.join("\n")
    );
    (set.rules.len(), tests)
}

#[test]
fn conformance_rules_pass_their_tests() {
    let (rules, tests) = run_folder(dir("tests/sigma"));
    assert!(rules >= 29, "{rules} rules");
    assert!(tests >= 85, "{tests} tests");
}

#[test]
fn sigmahq_rules_pass_their_tests() {
    let (rules, tests) = run_folder(dir("../../rules/sigma"));
    assert_eq!(rules, 20);
    assert!(tests >= 60, "{tests} tests");
}

/// Loads one Sigma file given as text; the errors as `file:line:col: message`.
fn errors(text: &str) -> Vec<String> {
    let src = Source {
        name: "rule.yml".into(),
        text: text.to_string(),
    };
    match load_sources(Vec::new(), vec![src]) {
        Ok(set) => panic!("loaded {} rules, expected an error", set.rules.len()),
        Err(e) => e.iter().map(LoadError::to_string).collect(),
    }
}

fn one_error(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    e.into_iter().next().unwrap_or_default()
}

const HEAD: &str = "title: t\nid: x\nlogsource: {product: kubernetes, service: audit}\n";

#[test]
fn unsupported_modifiers_are_named_with_their_line_and_column() {
    let e = one_error(&format!(
        "{HEAD}detection:\n  selection:\n    verb: create\n    requestURI|utf16le|contains: x\n  condition: selection\n"
    ));
    assert!(e.starts_with("rule.yml:7:16: "), "{e}");
    assert!(e.contains("\"utf16le\" modifier is not supported"), "{e}");
    let e = one_error(&format!(
        "{HEAD}detection:\n  selection:\n    verb|expand: '%admins%'\n  condition: selection\n"
    ));
    assert!(e.starts_with("rule.yml:6:"), "{e}");
    assert!(e.contains("expand"), "{e}");
    let e = one_error(&format!(
        "{HEAD}detection:\n  selection:\n    verb|sometimes: x\n  condition: selection\n"
    ));
    assert!(e.contains("unknown modifier \"sometimes\""), "{e}");
    let e = one_error(&format!(
        "{HEAD}detection:\n  selection:\n    requestReceivedTimestamp|hour: 3\n  condition: selection\n"
    ));
    assert!(e.contains("\"hour\" modifier is not supported"), "{e}");
}

#[test]
fn condition_errors_point_at_the_name() {
    let e = one_error(&format!(
        "{HEAD}detection:\n  selection:\n    verb: create\n  condition: selection and not fliter\n"
    ));
    assert!(e.starts_with("rule.yml:7:32: "), "{e}");
    assert!(e.contains("unknown search identifier \"fliter\""), "{e}");
    assert!(e.contains("defines selection"), "{e}");
    let e = one_error(&format!(
        "{HEAD}detection:\n  selection:\n    verb: create\n  condition: (selection\n"
    ));
    assert!(e.starts_with("rule.yml:7:"), "{e}");
    assert!(e.contains("missing `)`"), "{e}");
    let e = one_error(&format!(
        "{HEAD}detection:\n  selection:\n    verb: create\n  condition: 1 of filter*\n"
    ));
    assert!(
        e.contains("\"filter*\" matches no search identifier"),
        "{e}"
    );
    let e = one_error(&format!(
        "{HEAD}detection:\n  selection:\n    verb: create\n  condition: selection | count() > 5\n"
    ));
    assert!(e.contains("correlation rule"), "{e}");
    let e = one_error(&format!(
        "{HEAD}detection:\n  selection:\n    verb: create\n"
    ));
    assert!(e.contains("no condition"), "{e}");
}

#[test]
fn logsources_kadet_does_not_serve_are_errors() {
    let e = one_error(
        "title: t\nid: x\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image: x\n  condition: sel\n",
    );
    assert!(e.starts_with("rule.yml:3: "), "{e}");
    assert!(
        e.contains("category: process_creation, product: windows"),
        "{e}"
    );
    assert!(e.contains("not served by kadet"), "{e}");
}

#[test]
fn values_and_fields_are_checked() {
    let e = one_error(
        "title: t\nid: x\nlogsource: {product: gcp, service: gcp.audit}\ndetection:\n  sel:\n    gcp.audit.method_nam: x\n  condition: sel\n",
    );
    assert!(e.starts_with("rule.yml:6:"), "{e}");
    assert!(
        e.contains("unknown GCP audit field \"gcp.audit.method_nam\""),
        "{e}"
    );
    let e = one_error(&format!(
        "{HEAD}detection:\n  sel:\n    userAgent|re: '(?<=x)y'\n  condition: sel\n"
    ));
    assert!(e.contains("look-around"), "{e}");
    let e = one_error(&format!(
        "{HEAD}detection:\n  sel:\n    sourceIPs|cidr: 10.0.0.0/33\n  condition: sel\n"
    ));
    assert!(e.contains("not a CIDR"), "{e}");
    let e = one_error(&format!(
        "{HEAD}detection:\n  sel:\n    sourceIPs|cidr|contains: 10.0.0.0/8\n  condition: sel\n"
    ));
    assert!(e.contains("cannot be used with cidr"), "{e}");
}

#[test]
fn metadata_problems_are_errors() {
    let e = one_error(
        "title: t\nlogsource: {product: kubernetes, service: audit}\ndetection:\n  sel:\n    verb: x\n  condition: sel\n",
    );
    assert!(e.contains("needs an `id`"), "{e}");
    let e = one_error(&format!(
        "{HEAD}level: severe\ndetection:\n  sel:\n    verb: x\n  condition: sel\n"
    ));
    assert!(e.starts_with("rule.yml:4: "), "{e}");
    assert!(e.contains("unknown level"), "{e}");
    let e = one_error(&format!(
        "{HEAD}detection:\n  sel:\n    verb: x\n  condition: sel\nkadet:\n  dedupe: [verb]\n"
    ));
    assert!(e.starts_with("rule.yml:8: "), "{e}");
    assert!(e.contains("dedupe"), "{e}");
}

const BASE: &str = "title: base\nname: base_rule\nid: b\nlogsource: {product: kubernetes, service: audit}\ndetection:\n  sel:\n    verb: x\n  condition: sel\n";

#[test]
fn correlations_kadet_cannot_run_are_errors() {
    let e = one_error(&format!(
        "{BASE}---\ntitle: c\nid: c\ncorrelation:\n  type: value_sum\n  rules: [base_rule]\n  group-by: [user.username]\n  timespan: 1h\n"
    ));
    assert!(e.starts_with("rule.yml:13: "), "{e}");
    assert!(e.contains("\"value_sum\" is not supported"), "{e}");
    let e = one_error(&format!(
        "{BASE}---\ntitle: c\nid: c\ncorrelation:\n  type: temporal\n  rules: [base_rule]\n  group-by: [user.username]\n  timespan: 1h\n"
    ));
    assert!(e.contains("temporal relates at least two rules"), "{e}");
    let e = one_error(&format!(
        "{BASE}---\n{}---\ntitle: c\nid: c\ncorrelation:\n  type: temporal\n  rules: [base_rule, other]\n  timespan: 1h\n  condition: {{gte: 1}}\n",
        BASE.replace("base_rule", "other").replace("id: b", "id: o")
    ));
    assert!(e.contains("leave condition out, or give gte: 2"), "{e}");
    let e = one_error(&format!(
        "{BASE}---\ntitle: c\nid: c\ncorrelation:\n  type: value_count\n  rules: [base_rule]\n  timespan: 1h\n  condition: {{gte: 3}}\n"
    ));
    assert!(e.contains("field: NAME"), "{e}");
    let e = one_error(&format!(
        "{BASE}---\ntitle: c\nid: c\ncorrelation:\n  type: event_count\n  rules: [base_rule]\n  timespan: 1h\n  condition: {{neq: 3}}\n"
    ));
    assert!(e.contains("\"neq\" is not supported"), "{e}");
    let e = one_error(&format!(
        "{BASE}---\ntitle: c\nid: c\ncorrelation:\n  type: event_count\n  rules: [nothing]\n  timespan: 1h\n  condition: {{gte: 3}}\n"
    ));
    assert!(e.contains("\"nothing\""), "{e}");
    let e = one_error(&format!(
        "{BASE}---\ntitle: c\nid: c\ncorrelation:\n  type: event_count\n  rules: [base_rule]\n  timespan: 1 hour\n  condition: {{gte: 3}}\n"
    ));
    assert!(e.contains("timespan"), "{e}");
}

#[test]
fn filters_and_unknown_documents_are_errors() {
    let e = one_error(
        "title: f\nlogsource: {product: kubernetes, service: audit}\nfilter:\n  rules: [x]\n  selection:\n    verb: get\n  condition: not selection\n",
    );
    assert!(e.contains("filters"), "{e}");
}

#[test]
fn correlations_count_rules_from_other_files_and_silence_them() {
    let base = Source {
        name: "base.yml".into(),
        text: BASE.to_string(),
    };
    let corr = Source {
        name: "corr.yml".into(),
        text: "title: c\nid: c\nlevel: high\ncorrelation:\n  type: event_count\n  rules: [b]\n  group-by: [user.username]\n  timespan: 90s\n  condition: {gt: 4}\n".into(),
    };
    let set = load_sources(Vec::new(), vec![base, corr]).expect("loads");
    let base = set.get("b").expect("base rule");
    assert!(!base.create_alert, "a counted rule is a signal");
    let c = set.get("c").expect("correlation");
    assert_eq!(c.threshold, 5);
    assert_eq!(c.dedup_period_minutes, 2);
    assert_eq!(c.group_by[0].text, "user.username");
}

#[test]
fn format_can_be_forced() {
    use kadet_rules::loader::{load_sources_with, SourceFormat};
    let src = Source {
        name: "r.yml".into(),
        text: format!("{HEAD}detection:\n  sel:\n    verb: x\n  condition: sel\n"),
    };
    let e = load_sources_with(Vec::new(), vec![src.clone()], &[], SourceFormat::Panther)
        .expect_err("not a Panther file");
    assert!(e[0].message.contains("AnalysisType"), "{:?}", e);
    let set = load_sources_with(Vec::new(), vec![src], &[], SourceFormat::Sigma).expect("loads");
    assert_eq!(set.rules.len(), 1);
}

#[test]
fn condition_errors_are_found_on_the_condition_line() {
    // `sel` also starts the line of the search identifier `sel_a`.
    let e = one_error(&format!(
        "{HEAD}detection:\n  sel_a:\n    verb: x\n  condition: sel\n"
    ));
    assert!(e.starts_with("rule.yml:7:14: "), "{e}");
    let e = one_error(&format!(
        "{HEAD}detection:\n  sel_a:\n    verb: x\n  condition:\n    - sel_a\n    - sel_b\n"
    ));
    assert!(e.starts_with("rule.yml:9:7: "), "{e}");
}

#[test]
fn byte_order_marks_and_crlf_lines_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "\u{feff}---\r\n{HEAD}detection:\r\n  sel:\r\n    verb: x\r\n  condition: sel\r\n---\r\n"
    )
    .replace("\n", "\r\n")
    .replace("\r\r\n", "\r\n");
    let path = dir.path().join("bom.yml");
    std::fs::write(&path, text).expect("write");
    let set = kadet_rules::load_paths(&[path]).expect("loads");
    assert_eq!(set.rules.len(), 1);
}
