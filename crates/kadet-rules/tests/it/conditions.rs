//! Every condition and combinator, including the edge cases the rule-language
//! reference documents (missing keys, null, numbers vs strings, lists, case).

use kadet_rules::loader::{load_sources, Source};
use kadet_rules::testing::evaluate_json;

/// Evaluates a Detection (YAML) against an event (JSON).
fn eval(detection: &str, event: &str) -> bool {
    let indented: String = detection.lines().map(|l| format!("  {l}\n")).collect();
    let text = format!("AnalysisType: rule\nRuleID: T\nSeverity: Low\nDetection:\n{indented}");
    let set = load_sources(
        Vec::new(),
        vec![Source {
            name: "t.yml".into(),
            text,
        }],
    )
    .unwrap_or_else(|e| panic!("{detection}: {e:?}"));
    evaluate_json(&set.rules[0], event.as_bytes(), "test")
        .expect("decodes")
        .0
}

fn load_err(detection: &str) -> String {
    let indented: String = detection.lines().map(|l| format!("  {l}\n")).collect();
    let text = format!("AnalysisType: rule\nRuleID: T\nSeverity: Low\nDetection:\n{indented}");
    match load_sources(
        Vec::new(),
        vec![Source {
            name: "t.yml".into(),
            text,
        }],
    ) {
        Ok(_) => panic!("expected an error for {detection}"),
        Err(e) => e
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

const EV: &str = r#"{"verb":"create","user":{"username":"System:Node:n1","groups":["system:nodes","system:authenticated"]},
 "sourceIPs":["10.1.2.3","8.8.8.8"],"objectRef":{"resource":"pods","namespace":"kube-system","name":null},
 "responseStatus":{"code":403},"count":"12","flag":true,"empty":"","list":[],"obj":{},
 "requestObject":{"spec":{"containers":[{"name":"a","securityContext":{"privileged":true}},{"name":"b"}]}},
 "annotations":{"authorization.k8s.io/decision":"forbid"}}"#;

fn leaf(key: &str, cond: &str, value: Option<&str>) -> String {
    let quote = |v: &str| {
        if v.starts_with('\'') {
            v.to_string()
        } else {
            format!("'{v}'")
        }
    };
    let v = value
        .map(|v| format!("\n  Value: {}", quote(v)))
        .unwrap_or_default();
    format!("- KeyPath: {key}\n  Condition: {cond}{v}")
}

#[test]
fn string_conditions() {
    let cases: &[(&str, &str, Option<&str>, bool)] = &[
        ("verb", "Equals", Some("create"), true),
        ("verb", "Equals", Some("Create"), false),
        ("verb", "IEquals", Some("CREATE"), true),
        ("verb", "DoesNotEqual", Some("get"), true),
        ("verb", "IDoesNotEqual", Some("CREATE"), false),
        ("user.username", "StartsWith", Some("System:"), true),
        ("user.username", "StartsWith", Some("system:"), false),
        ("user.username", "IStartsWith", Some("system:node:"), true),
        ("user.username", "DoesNotStartWith", Some("system:"), true),
        ("user.username", "IDoesNotStartWith", Some("system:"), false),
        ("user.username", "EndsWith", Some(":n1"), true),
        ("user.username", "IEndsWith", Some("NODE:N1"), true),
        ("user.username", "DoesNotEndWith", Some("n1"), false),
        ("user.username", "IDoesNotEndWith", Some("x"), true),
        ("user.username", "Contains", Some("Node"), true),
        ("user.username", "IContains", Some("NODE"), true),
        (
            "user.username",
            "DoesNotContain",
            Some("serviceaccount"),
            true,
        ),
        ("user.username", "IDoesNotContain", Some("NODE"), false),
        ("verb", "MatchesRegex", Some("'^cre.*e$'"), true),
        ("verb", "DoesNotMatchRegex", Some("'^get$'"), true),
    ];
    for (k, c, v, want) in cases {
        assert_eq!(eval(&leaf(k, c, *v), EV), *want, "{k} {c} {v:?}");
    }
}

#[test]
fn sets_numbers_and_types() {
    assert!(eval(
        "- Key: verb\n  Condition: IsIn\n  Values: [get, create]",
        EV
    ));
    assert!(!eval(
        "- Key: verb\n  Condition: IsNotIn\n  Values: [get, create]",
        EV
    ));
    assert!(eval(
        "- Key: verb\n  Condition: StartsWith\n  Values: [ge, cr]",
        EV
    ));
    // Number field against a string value, and the reverse.
    assert!(eval(
        &leaf("responseStatus.code", "Equals", Some("'403'")),
        EV
    ));
    assert!(eval(&leaf("count", "Equals", Some("12")), EV));
    assert!(eval(
        &leaf("responseStatus.code", "IsGreaterThanOrEqual", Some("400")),
        EV
    ));
    assert!(!eval(
        &leaf("responseStatus.code", "IsGreaterThan", Some("403")),
        EV
    ));
    assert!(eval(
        &leaf("responseStatus.code", "IsLessThan", Some("404")),
        EV
    ));
    assert!(eval(
        &leaf("responseStatus.code", "IsLessThanOrEqual", Some("403")),
        EV
    ));
    assert!(eval(&leaf("count", "IsGreaterThan", Some("11.5")), EV));
    assert!(
        !eval(&leaf("verb", "IsGreaterThan", Some("1")), EV),
        "non-numeric compares false"
    );
    // Booleans.
    assert!(eval(&leaf("flag", "Equals", Some("true")), EV));
    assert!(eval(&leaf("flag", "Equals", Some("'True'")), EV));
    assert!(!eval(&leaf("flag", "Equals", Some("false")), EV));
}

#[test]
fn presence_null_and_empty() {
    let cases: &[(&str, &str, bool)] = &[
        ("objectRef.name", "Exists", true),
        ("objectRef.name", "IsNull", true),
        ("objectRef.name", "IsNotNull", false),
        ("objectRef.missing", "Exists", false),
        ("objectRef.missing", "DoesNotExist", true),
        ("objectRef.missing", "IsNull", true),
        ("objectRef.missing", "IsNullOrEmpty", true),
        ("empty", "IsNullOrEmpty", true),
        ("list", "IsNullOrEmpty", true),
        ("obj", "IsNullOrEmpty", true),
        ("verb", "IsNotNullOrEmpty", true),
        ("verb", "IsNullOrEmpty", false),
    ];
    for (k, c, want) in cases {
        assert_eq!(eval(&leaf(k, c, None), EV), *want, "{k} {c}");
    }
    // Positive conditions on a missing key are false; negated ones true.
    assert!(!eval(&leaf("nope", "Equals", Some("x")), EV));
    assert!(eval(&leaf("nope", "DoesNotEqual", Some("x")), EV));
    assert!(eval(&leaf("nope", "DoesNotContain", Some("x")), EV));
    assert!(eval("- Key: nope\n  Condition: IsNotIn\n  Values: [a]", EV));
    assert!(!eval(&leaf("nope", "IsGreaterThan", Some("1")), EV));
}

#[test]
fn ip_conditions() {
    assert!(eval(
        "- KeyPath: sourceIPs[0]\n  Condition: IsIPAddress",
        EV
    ));
    assert!(eval(
        "- KeyPath: sourceIPs[0]\n  Condition: IsIPv4Address",
        EV
    ));
    assert!(!eval(
        "- KeyPath: sourceIPs[0]\n  Condition: IsIPv6Address",
        EV
    ));
    assert!(eval(
        "- KeyPath: sourceIPs[0]\n  Condition: IsIPAddressPrivate",
        EV
    ));
    assert!(!eval(
        "- KeyPath: sourceIPs[0]\n  Condition: IsIPAddressPublic",
        EV
    ));
    assert!(eval(
        "- KeyPath: sourceIPs[1]\n  Condition: IsIPAddressPublic",
        EV
    ));
    // A list field holds when any element does.
    assert!(eval("- Key: sourceIPs\n  Condition: IsIPAddressPublic", EV));
    assert!(eval(
        "- Key: sourceIPs\n  Condition: IsIPAddressInCIDR\n  Value: 10.0.0.0/8",
        EV
    ));
    assert!(eval(
        "- Key: sourceIPs\n  Condition: IsIPAddressInCIDR\n  Values: [192.168.0.0/16, 8.8.8.0/24]",
        EV
    ));
    assert!(!eval(
        "- KeyPath: sourceIPs[0]\n  Condition: IsIPAddressNotInCIDR\n  Value: 10.0.0.0/8",
        EV
    ));
    assert!(!eval("- Key: verb\n  Condition: IsIPAddress", EV));
    assert!(eval(
        r#"- Key: ip
  Condition: IsIPAddressPublic"#,
        r#"{"ip":"2606:4700::1111"}"#
    ));
    assert!(eval(
        r#"- Key: ip
  Condition: IsIPAddressPrivate"#,
        r#"{"ip":"fd00::1"}"#
    ));
}

#[test]
fn lists_and_paths() {
    assert!(
        eval(&leaf("user.groups", "Contains", Some("system:nodes")), EV),
        "list contains an element"
    );
    assert!(
        eval(
            &leaf("user.groups", "Equals", Some("system:authenticated")),
            EV
        ),
        "any element equals"
    );
    assert!(eval(
        &leaf("user.groups", "DoesNotContain", Some("system:masters")),
        EV
    ));
    assert!(eval(
        &leaf(
            "requestObject.spec.containers[*].securityContext.privileged",
            "Equals",
            Some("true")
        ),
        EV
    ));
    assert!(eval(
        &leaf("requestObject.spec.containers[1].name", "Equals", Some("b")),
        EV
    ));
    assert!(eval(
        "- DeepKey: [requestObject, spec, containers, 0, name]\n  Condition: Equals\n  Value: a",
        EV
    ));
    assert!(eval("- KeyPath: annotations.\"authorization.k8s.io/decision\"\n  Condition: Equals\n  Value: forbid", EV));
    assert!(eval("- Key: annotations\n  Condition: IsNotNull", EV));
}

#[test]
fn combinators() {
    let t = "- Key: verb\n  Condition: AlwaysTrue";
    let f = "- Key: verb\n  Condition: AlwaysFalse";
    let block = |name: &str, items: &[&str]| {
        let body: String = items
            .iter()
            .map(|i| i.lines().map(|l| format!("    {l}\n")).collect::<String>())
            .collect();
        format!("- {name}:\n{body}")
    };
    assert!(eval(&block("All", &[t, t]), EV));
    assert!(!eval(&block("All", &[t, f]), EV));
    assert!(eval(&block("Any", &[f, t]), EV));
    assert!(!eval(&block("Any", &[f, f]), EV));
    assert!(eval(&block("OnlyOne", &[f, t]), EV));
    assert!(!eval(&block("OnlyOne", &[t, t]), EV));
    assert!(eval(&block("None", &[f, f]), EV));
    assert!(!eval(&block("None", &[f, t]), EV));
    assert!(!eval(&format!("{t}\n{f}"), EV), "a list means All");
}

#[test]
fn list_comprehension() {
    let c = |cond: &str, inner: &str| {
        format!("- KeyPath: requestObject.spec.containers\n  Condition: {cond}\n  Expressions:\n    - KeyPath: {inner}\n      Condition: Equals\n      Value: true")
    };
    assert!(eval(&c("AnyElement", "securityContext.privileged"), EV));
    assert!(!eval(&c("AllElements", "securityContext.privileged"), EV));
    assert!(eval(&c("OnlyOneElement", "securityContext.privileged"), EV));
    assert!(!eval(&c("NoElement", "securityContext.privileged"), EV));
    let empty = r#"{"requestObject":{"spec":{"containers":[]}}}"#;
    assert!(eval(&c("AllElements", "x"), empty), "vacuous truth");
    assert!(!eval(&c("AnyElement", "x"), empty));
    assert!(eval(&c("NoElement", "x"), r#"{}"#));
}

#[test]
fn multi_key_comparison() {
    let ev = r#"{"user":{"username":"a"},"impersonatedUser":{"username":"a"},"x":5,"y":7}"#;
    assert!(eval("- KeyPath: user.username\n  Condition: Equals\n  Values:\n    - KeyPath: impersonatedUser.username", ev));
    assert!(!eval("- KeyPath: user.username\n  Condition: DoesNotEqual\n  Values:\n    - KeyPath: impersonatedUser.username", ev));
    assert!(eval(
        "- Key: x\n  Condition: IsLessThan\n  Values:\n    - Key: y",
        ev
    ));
    assert!(!eval(
        "- Key: x\n  Condition: IsGreaterThan\n  Values:\n    - Key: y",
        ev
    ));
}

#[test]
fn compile_errors_are_clear() {
    assert!(load_err("- Key: verb\n  Condition: Equals").contains("Equals needs Value or Values"));
    assert!(
        load_err("- Key: verb\n  Condition: Exists\n  Value: x").contains("Exists takes no Value")
    );
    assert!(load_err("- Key: v\n  Condition: MatchesRegex\n  Value: '('").contains("bad regex"));
    assert!(
        load_err("- Key: v\n  Condition: IsIPAddressInCIDR\n  Value: nope")
            .contains("is not a CIDR")
    );
    assert!(load_err("- Use: no_such_condition").contains("no named condition"));
    assert!(
        load_err("- Key: v\n  Condition: IsIn\n  Values:\n    List: nope")
            .contains("no named list")
    );
    assert!(load_err("- KeyPath: a..b\n  Condition: Exists").contains("empty key"));
    let e = load_err("- Key: verb\n  Condtion: Equals\n  Value: x");
    assert!(e.contains("t.yml:6:") && e.contains("Condtion"), "{e}");
}

#[test]
fn empty_lists_hold_nothing() {
    assert!(!eval("- Key: verb\n  Condition: IsIn\n  Values: []", EV));
    assert!(eval("- Key: verb\n  Condition: IsNotIn\n  Values: []", EV));
    assert!(!eval(
        "- Key: sourceIPs\n  Condition: IsIPAddressInCIDR\n  Values: []",
        EV
    ));
}

#[test]
fn single_ipv4_addresses_are_prefilter_literals() {
    let text = "AnalysisType: rule\nRuleID: T\nDetection:\n  - Key: sourceIPs\n    Condition: IsIPAddressInCIDR\n    Values: [8.8.8.8/32, 1.2.3.4]\n";
    let set = load_sources(
        Vec::new(),
        vec![Source {
            name: "t.yml".into(),
            text: text.into(),
        }],
    )
    .expect("loads");
    let pf = kadet_rules::Prefilter::build(&set.rules);
    assert_eq!(
        pf.rule_literals[0],
        Some(vec![vec!["8.8.8.8".to_string(), "1.2.3.4".to_string()]])
    );
    assert!(
        evaluate_json(&set.rules[0], EV.as_bytes(), "t")
            .expect("decodes")
            .0
    );
}

#[test]
fn log_type_conditions_are_decided_per_log_type_by_the_prefilter() {
    let text = "AnalysisType: rule\nRuleID: T\nDetection:\n  - Any:\n      - KeyPath: responseStatus.code\n        Condition: Equals\n        Value: 403\n      - All:\n          - Key: p_log_type\n            Condition: Equals\n            Value: GCP.AuditLog\n          - KeyPath: responseStatus.code\n            Condition: Equals\n            Value: 7\n";
    let set = load_sources(
        Vec::new(),
        vec![Source {
            name: "t.yml".into(),
            text: text.into(),
        }],
    )
    .expect("loads");
    // For Kubernetes.Audit records the GKE-only branch cannot hold, so the
    // rule needs one spelling of 403 (and a 1-byte "7" does not weaken it).
    let pf = kadet_rules::Prefilter::build(&set.rules);
    assert_eq!(
        pf.rule_literals[0],
        Some(vec![vec![
            "403".to_string(),
            "4.03".to_string(),
            "40.3".to_string()
        ]])
    );
}
