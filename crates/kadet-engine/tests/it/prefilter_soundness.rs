//! The prefilter is sound: scanning with it and without it gives the same
//! matches, on generated events built to defeat it — JSON escapes
//! (`\u0074oken`, `\/`), AKS's JSON inside a JSON string, case changes,
//! negations, absent keys, GKE mapping, CloudWatch and EventList containers;
//! with the built-in pack, SigmaHQ's rules and the Sigma conformance rules.

use kadet_engine::pipeline::{Evaluator, ScanOptions};
use kadet_event::Chunk;
use kadet_rules::loader::{builtin_sources, load_sources, Source};
use proptest::prelude::*;
use std::sync::Arc;

/// Rules that stress the prefilter beyond the built-in pack.
const EXTRA_RULES: &str = r#"
AnalysisType: rule
RuleID: Stress.CaseInsensitive
Severity: Low
Detection:
  - Key: verb
    Condition: IEquals
    Value: CREATE
  - KeyPath: objectRef.resource
    Condition: IContains
    Value: ACCOUNT
"#;
const EXTRA_NEGATION: &str = r#"
AnalysisType: rule
RuleID: Stress.Negation
Severity: Low
Detection:
  - KeyPath: objectRef.subresource
    Condition: DoesNotExist
  - KeyPath: user.username
    Condition: DoesNotStartWith
    Value: "system:"
"#;
const EXTRA_SLASH: &str = r#"
AnalysisType: rule
RuleID: Stress.SlashAndAmp
Severity: Low
Detection:
  - Key: requestURI
    Condition: Contains
    Value: "/token?a=1&b"
  - Key: userAgent
    Condition: StartsWith
    Value: "kubectl/"
"#;

/// Sigma rules that stress the prefilter: keywords (any string value),
/// wildcards, case folding, a slash in a literal.
const EXTRA_SIGMA: &str = r#"
title: keyword
id: Stress.Sigma.Keyword
logsource: {product: kubernetes, service: audit}
detection:
  keywords:
    - 'ACCOUNTS'
    - 'x/token?a'
    # Only in the requestURI kadet builds for GKE records.
    - 'api/v1/namespaces/'
  condition: keywords
---
title: wildcards
id: Stress.Sigma.Wildcards
logsource: {product: kubernetes, service: audit}
detection:
  selection:
    user.username: 'SYSTEM:*:kube-?ystem:*'
    requestURI|contains: '/x/TOKEN'
  condition: selection
---
title: status code as a string
id: Stress.Sigma.StatusString
logsource: {product: kubernetes, service: audit}
detection:
  selection:
    responseStatus.code: 'allow'
  condition: selection
"#;

/// SigmaHQ's rules and the Sigma conformance rules, as sources.
fn sigma_sources() -> Vec<Source> {
    let mut out = Vec::new();
    for dir in ["../../rules/sigma", "../kadet-rules/tests/sigma"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let n = p.display().to_string();
                n.ends_with(".yml") && !n.ends_with(".tests.yml")
            })
            .collect();
        files.sort();
        for f in files {
            out.push(Source {
                name: f.display().to_string(),
                text: std::fs::read_to_string(&f).unwrap_or_default(),
            });
        }
    }
    out
}

fn load_rules() -> Vec<kadet_rules::Rule> {
    let mut sources = builtin_sources();
    for (i, t) in [EXTRA_RULES, EXTRA_NEGATION, EXTRA_SLASH, EXTRA_SIGMA]
        .iter()
        .enumerate()
    {
        sources.push(Source {
            name: format!("extra-{i}.yml"),
            text: t.to_string(),
        });
    }
    sources.extend(sigma_sources());
    let mut set = load_sources(Vec::new(), sources).unwrap_or_else(|e| panic!("{e:?}"));
    set.retain_enabled(true);
    set.rules
}

/// A JSON string literal with the characters picked by `mask` written as `\u00XX`.
fn jstr(s: &str, mask: u64) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_alphanumeric() && (mask >> (i % 64)) & 1 == 1 => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            // Non-ASCII (trimmed whitespace around an address) always escaped.
            c if !c.is_ascii() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Debug, Clone)]
struct Ev {
    verb: &'static str,
    resource: &'static str,
    sub: Option<&'static str>,
    user: &'static str,
    ns: Option<&'static str>,
    stage: Option<&'static str>,
    /// The status code as written: numbers in any notation, or a string.
    code: Option<&'static str>,
    expiration: Option<i64>,
    ip: &'static str,
    privileged: bool,
    mask: u64,
    shape: u8,
    /// Every `/` written `\/` (some JSON encoders do).
    slashes: bool,
}

fn ev_strategy() -> impl Strategy<Value = Ev> {
    (
        (
            prop::sample::select(vec!["create", "get", "CREATE", "list", "delete", "patch"]),
            prop::sample::select(vec![
                "serviceaccounts",
                "pods",
                "secrets",
                "ServiceAccounts",
                "clusterrolebindings",
                "clusterroles",
                "certificatesigningrequests",
            ]),
            prop::option::of(prop::sample::select(vec![
                "token", "exec", "attach", "proxy",
            ])),
            prop::sample::select(vec![
                "attacker@example.com",
                "system:node:n1",
                "system:kube-controller-manager",
                "system:serviceaccount:kube-system:x",
                "system:anonymous",
                "eks:admin",
                "SYSTEM:ANONYMOUS",
            ]),
            prop::option::of(prop::sample::select(vec![
                "kube-system",
                "default",
                "prod",
                "kube-public",
            ])),
        ),
        (
            prop::option::of(prop::sample::select(vec![
                "ResponseComplete",
                "RequestReceived",
                "Panic",
            ])),
            prop::option::of(prop::sample::select(vec![
                "200",
                "201",
                "403",
                "7",
                "0",
                "4.03e2",
                "403.0",
                "40.3E1",
                "4030e-1",
                "402.99999999999999999",
                "\"403\"",
                "\"ALLOW\"",
            ])),
            prop::option::of(prop::sample::select(vec![3607i64, 946080000, 90000])),
            prop::sample::select(vec![
                "10.0.0.1",
                "8.8.8.8",
                "203.0.113.5",
                "172.16.6.116",
                "2600:1f18::1",
                "2600:1f18:abcd:1234:5:6:7:8",
                "151.101.193.140",
                "::ffff:8.8.8.8",
                "fd00::1",
                "\u{2003}8.8.8.8",
                "44.2.3.4 ",
            ]),
            any::<bool>(),
            // Mostly no escapes (so the prefilter really rejects records),
            // sometimes a few.
            prop_oneof![
                3 => Just(0u64),
                1 => any::<u64>().prop_map(|m| m & (m >> 7) & (m >> 13)),
            ],
            0u8..6,
            prop::bool::weighted(0.2),
        ),
    )
        .prop_map(
            |(
                (verb, resource, sub, user, ns),
                (stage, code, expiration, ip, privileged, mask, shape, slashes),
            )| Ev {
                verb,
                resource,
                sub,
                user,
                ns,
                stage,
                code,
                expiration,
                ip,
                privileged,
                mask,
                shape,
                slashes,
            },
        )
}

fn event_json(e: &Ev) -> String {
    let m = e.mask;
    let mut obj = vec![
        format!(
            "\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"verb\":{}",
            jstr(e.verb, m)
        ),
        format!(
            "\"user\":{{\"username\":{}}}",
            jstr(e.user, m.rotate_left(7))
        ),
        format!("\"sourceIPs\":[{}]", jstr(e.ip, m.rotate_left(47))),
        format!(
            "\"userAgent\":{}",
            jstr("kubectl/v1.29.0", m.rotate_left(3))
        ),
        format!(
            "\"requestURI\":{}",
            jstr("/api/v1/x/token?a=1&b=2", m.rotate_left(11))
        ),
    ];
    let mut oref = vec![format!(
        "\"resource\":{}",
        jstr(e.resource, m.rotate_left(13))
    )];
    if let Some(s) = e.sub {
        oref.push(format!("\"subresource\":{}", jstr(s, m.rotate_left(17))));
    }
    if let Some(n) = e.ns {
        oref.push(format!("\"namespace\":{}", jstr(n, m.rotate_left(19))));
    }
    oref.push("\"name\":\"x\"".into());
    obj.push(format!("\"objectRef\":{{{}}}", oref.join(",")));
    if let Some(s) = e.stage {
        obj.push(format!("\"stage\":{}", jstr(s, m.rotate_left(23))));
    }
    if let Some(c) = e.code {
        obj.push(format!("\"responseStatus\":{{\"code\":{c}}}"));
    }
    let mut spec = Vec::new();
    if let Some(x) = e.expiration {
        spec.push(format!("\"expirationSeconds\":{x}"));
    }
    if e.privileged {
        // Key names escaped too: the prefilter also looks for keys.
        spec.push(format!(
            "{}:[{{\"name\":\"c\",{}:{{{}:true}}}}],{}:true,{}:[{{\"hostPath\":{{\"path\":\"/\"}}}}]",
            jstr("containers", m.rotate_left(29)),
            jstr("securityContext", m.rotate_left(31)),
            jstr("privileged", m.rotate_left(37)),
            jstr("hostPID", m.rotate_left(41)),
            jstr("volumes", m.rotate_left(43))
        ));
    }
    if !spec.is_empty() {
        obj.push(format!(
            "\"requestObject\":{{\"spec\":{{{}}}}}",
            spec.join(",")
        ));
    }
    format!("{{{}}}", obj.join(","))
}

fn record(e: &Ev) -> String {
    let mut ev = event_json(e);
    if e.slashes {
        ev = ev.replace('/', "\\/");
    }
    let as_string = serde_json::to_string(&ev).unwrap_or_default();
    match e.shape {
        0 => ev,
        1 => format!("{{\"records\":[{{\"category\":\"kube-audit\",\"resourceId\":\"/s/managedClusters/c\",\"properties\":{{\"log\":{as_string}}}}}]}}"),
        2 => format!("{{\"messageType\":\"DATA_MESSAGE\",\"logGroup\":\"/aws/eks/c/cluster\",\"logEvents\":[{{\"id\":\"1\",\"timestamp\":1,\"message\":{as_string}}}]}}"),
        3 => format!("{{\"kind\":\"EventList\",\"items\":[{ev}]}}"),
        4 => {
            // The same request as a GKE LogEntry.
            let sub = e.sub.map(|s| format!("/{s}")).unwrap_or_default();
            let ns = e.ns.map(|n| format!("namespaces/{n}/")).unwrap_or_default();
            let method = format!("io.k8s.core.v1.{}{}.{}", e.resource, e.sub.map(|s| format!(".{s}")).unwrap_or_default(), e.verb);
            let status = e.code.map(|c| format!(",\"status\":{{\"code\":{c}}}")).unwrap_or_default();
            format!(
                "{{\"protoPayload\":{{\"serviceName\":\"k8s.io\",\"methodName\":{},\"resourceName\":{},\"authenticationInfo\":{{\"principalEmail\":{}}},\"requestMetadata\":{{\"callerIp\":\"{}\"}}{status}}},\"resource\":{{\"labels\":{{\"cluster_name\":\"g\"}}}}}}",
                jstr(&method, e.mask),
                jstr(&format!("core/v1/{ns}{}/x{sub}", e.resource), e.mask.rotate_left(5)),
                jstr(e.user, e.mask.rotate_left(9)),
                e.ip
            )
        }
        _ => format!("{{\"p_log_type\":\"Amazon.EKS.Audit\",\"p_source_label\":\"c\",{}", &ev[1..]),
    }
}

fn matches(
    eval: &Evaluator<'_>,
    rules: &[kadet_rules::Rule],
    line: &str,
) -> Vec<(String, String, String)> {
    let res = eval.process(Chunk::Lines {
        file: Arc::from("g"),
        first_line: 1,
        data: format!("{line}\n").into_bytes(),
    });
    res.matches
        .iter()
        .map(|m| {
            (
                rules[m.rule].id.clone(),
                m.outcome.title.clone(),
                m.outcome.dedup.clone(),
            )
        })
        .collect()
}

/// The rules and the two evaluators, built once (building the automata per case would dominate).
fn setup() -> &'static (
    Vec<kadet_rules::Rule>,
    Evaluator<'static>,
    Evaluator<'static>,
) {
    static RULES: std::sync::OnceLock<Vec<kadet_rules::Rule>> = std::sync::OnceLock::new();
    static SETUP: std::sync::OnceLock<(
        Vec<kadet_rules::Rule>,
        Evaluator<'static>,
        Evaluator<'static>,
    )> = std::sync::OnceLock::new();
    SETUP.get_or_init(|| {
        let rules: &'static [kadet_rules::Rule] = RULES.get_or_init(load_rules);
        let with = Evaluator::new(rules, &ScanOptions::default());
        let without = Evaluator::new(
            rules,
            &ScanOptions {
                prefilter: false,
                ..ScanOptions::default()
            },
        );
        (rules.to_vec(), with, without)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn prefilter_never_drops_a_match(evs in proptest::collection::vec(ev_strategy(), 1..4)) {
        let (rules, with, without) = setup();
        for e in &evs {
            let line = record(e);
            prop_assert_eq!(matches(with, rules, &line), matches(without, rules, &line), "record: {}", line);
        }
        // All records as one chunk: the line search runs over the whole buffer.
        let chunk = evs.iter().map(record).collect::<Vec<_>>().join("\n");
        prop_assert_eq!(matches(with, rules, &chunk), matches(without, rules, &chunk), "chunk: {}", chunk);
    }
}

#[test]
fn the_seed_rule_literal_is_serviceaccounts() {
    let set = kadet_rules::load_builtin().expect("pack");
    let seed = set
        .rules
        .iter()
        .position(|r| r.id == "Kubernetes.ServiceAccount.TokenCreated")
        .expect("seed");
    let pf = kadet_rules::Prefilter::build(&set.rules);
    let clauses = pf.rule_literals[seed]
        .clone()
        .expect("the seed rule is prefilterable");
    assert!(
        clauses.iter().any(|c| c == &vec!["\"token".to_string()]),
        "{clauses:?}"
    );
}
