//! The built-in pack loads, and every rule's Tests pass.

use kadet_rules::testing::run_rule_tests;

#[test]
fn builtin_pack_tests_pass() {
    let set = kadet_rules::load_builtin()
        .unwrap_or_else(|e| panic!("built-in pack fails to load: {e:?}"));
    assert!(!set.rules.is_empty());
    let mut failures = Vec::new();
    for rule in &set.rules {
        for r in run_rule_tests(rule) {
            if !r.passed {
                failures.push(format!(
                    "{} / {}: {}",
                    r.rule_id,
                    r.name,
                    r.problems.join("; ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "failing tests:\n{}",
        failures.join("\n")
    );
}

#[test]
fn seed_rule_has_its_nine_tests_and_passes_them() {
    let set = kadet_rules::load_builtin().expect("loads");
    let rule = set
        .get("Kubernetes.ServiceAccount.TokenCreated")
        .expect("seed rule present");
    let seed_names = [
        "EKS long-lived token created",
        "AKS long-lived token created",
        "Token created in default namespace",
        "User creating token in system namespace (alert)",
        "System principal in user namespace (alert)",
        "System principal in system namespace (excluded)",
        "Failed token creation (excluded)",
        "Service account creation (not token)",
        "Get service account (not create)",
    ];
    let results = run_rule_tests(rule);
    for name in seed_names {
        let r = results
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("missing seed test {name}"));
        assert!(r.passed, "{name}: {:?}", r.problems);
    }
}

#[test]
fn a_flipped_expectation_fails_with_a_clear_message() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../rules/kubernetes/k8s_serviceaccount_token_created.yml"
    ))
    .expect("seed rule file");
    let flipped = text.replacen(
        "  - Name: EKS long-lived token created\n    ExpectedResult: true",
        "  - Name: EKS long-lived token created\n    ExpectedResult: false",
        1,
    );
    assert_ne!(text, flipped);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("seed.yml");
    std::fs::write(&path, flipped).expect("write");
    let set = kadet_rules::load_paths(&[path]).expect("loads");
    let results = run_rule_tests(&set.rules[0]);
    let bad: Vec<_> = results.iter().filter(|r| !r.passed).collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].name, "EKS long-lived token created");
    assert_eq!(
        bad[0].problems,
        vec!["match: expected false, got true".to_string()]
    );
}
