//! Which rules a user's audit Policy leaves blind.
//!
//! Each rule's [`Need`] is put to the Policy the way the API server would
//! for a request a person makes: for every verb the rule matches, on every
//! resource it names, the first Policy rule that matches gives the level,
//! and the stages omitted (Policy-wide and by that rule) must leave one the
//! rule reads. Policy rules restricted to named users, to groups other than
//! `system:authenticated`, to namespaces or to resource names are taken as
//! not applying to such a request: a rule must see the requests of anyone,
//! anywhere.

use super::needs::{Level, Need};
use super::write::api_group;
use serde::Deserialize;

/// A Policy that could not be read.
#[derive(Debug)]
pub struct PolicyError(String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

/// A rule the Policy leaves (partly) blind, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Blind {
    /// The rule.
    pub rule_id: String,
    /// Why, naming the resources, verbs and level.
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Policy {
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: Option<serde_norway::Value>,
    #[serde(default)]
    omit_stages: Vec<String>,
    #[serde(default)]
    omit_managed_fields: Option<bool>,
    rules: Vec<PolicyRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicyRule {
    level: String,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    user_groups: Vec<String>,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    resources: Vec<GroupResources>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    non_resource_urls: Vec<String>,
    #[serde(default)]
    omit_stages: Vec<String>,
    #[serde(default)]
    omit_managed_fields: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GroupResources {
    #[serde(default)]
    group: String,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    resource_names: Vec<String>,
}

/// Verbs checked for a rule that matches any verb.
const ANY_VERB: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];
/// Resources checked for a rule that reads any request.
const ANY_RESOURCE: &[&str] = &["pods", "secrets", "clusterrolebindings", "pods/exec"];
const STAGES: &[&str] = &[
    "RequestReceived",
    "ResponseStarted",
    "ResponseComplete",
    "Panic",
];

/// Reads a Policy and lists the rules it leaves blind.
pub fn check_policy(text: &str, needs: &[Need]) -> Result<Vec<Blind>, PolicyError> {
    let policy: Policy = serde_norway::from_str(text)
        .map_err(|e| PolicyError(format!("not an audit Policy: {e}")))?;
    validate(&policy)?;
    let mut out = Vec::new();
    for need in needs {
        let resources: Vec<String> = match &need.resources {
            Some(rs) => rs.clone(),
            None => ANY_RESOURCE.iter().map(|s| s.to_string()).collect(),
        };
        let verbs: Vec<String> = match &need.verbs {
            Some(vs) => vs.clone(),
            None => ANY_VERB.iter().map(|s| s.to_string()).collect(),
        };
        let mut gaps: Vec<String> = Vec::new();
        for resource in &resources {
            let wanted = need.level_for(resource);
            let mut short = Vec::new();
            let mut level_seen = Level::RequestResponse;
            for verb in &verbs {
                let (level, omitted) = evaluate(&policy, resource, verb);
                let stage_ok = !omitted.contains(&"ResponseComplete")
                    || (need.stream && !omitted.contains(&"ResponseStarted"));
                if level < wanted || !stage_ok {
                    short.push(verb.as_str());
                    level_seen = level_seen.min(level);
                    if !stage_ok && level >= wanted {
                        gaps.push(format!(
                            "{resource} ({verb}): the stage it reads (ResponseComplete) is omitted"
                        ));
                        short.pop();
                    }
                }
            }
            if !short.is_empty() {
                let logged = match level_seen {
                    Level::None => "not logged".to_string(),
                    l => format!("logged at {}", l.name()),
                };
                let effect = if level_seen == Level::None {
                    "it cannot fire".to_string()
                } else if level_seen >= need.fires_at {
                    format!(
                        "it reads {} (needs {}) and without it judges on metadata alone",
                        need.reads,
                        wanted.name()
                    )
                } else {
                    format!("it reads {} (needs {})", need.reads, wanted.name())
                };
                gaps.push(format!(
                    "{resource} ({}) {logged}: {effect}",
                    short.join(", ")
                ));
            }
        }
        if !gaps.is_empty() {
            out.push(Blind {
                rule_id: need.rule_id.clone(),
                why: gaps.join("; "),
            });
        }
    }
    Ok(out)
}

/// The checks kube-apiserver makes on a Policy that serde does not.
fn validate(p: &Policy) -> Result<(), PolicyError> {
    if p.kind != "Policy" {
        return Err(PolicyError(format!("kind is {:?}, not Policy", p.kind)));
    }
    if p.api_version != "audit.k8s.io/v1" {
        return Err(PolicyError(format!(
            "apiVersion is {:?}, not audit.k8s.io/v1",
            p.api_version
        )));
    }
    let stage_ok = |s: &String| STAGES.contains(&s.as_str());
    if let Some(s) = p.omit_stages.iter().find(|s| !stage_ok(s)) {
        return Err(PolicyError(format!("omitStages: unknown stage {s:?}")));
    }
    if p.rules.is_empty() {
        return Err(PolicyError(
            "rules is empty (kube-apiserver refuses a Policy with no rules)".into(),
        ));
    }
    for (i, r) in p.rules.iter().enumerate() {
        if Level::parse(&r.level).is_none() {
            return Err(PolicyError(format!(
                "rules[{i}]: unknown level {:?}",
                r.level
            )));
        }
        if let Some(s) = r.omit_stages.iter().find(|s| !stage_ok(s)) {
            return Err(PolicyError(format!(
                "rules[{i}].omitStages: unknown stage {s:?}"
            )));
        }
        if !r.resources.is_empty() && !r.non_resource_urls.is_empty() {
            return Err(PolicyError(format!(
                "rules[{i}]: resources and nonResourceURLs cannot both be set"
            )));
        }
        if !r.non_resource_urls.is_empty() && !r.namespaces.is_empty() {
            return Err(PolicyError(format!(
                "rules[{i}]: namespaces cannot be set with nonResourceURLs"
            )));
        }
        if let Some(u) = r.non_resource_urls.iter().find(|u| !non_resource_url_ok(u)) {
            return Err(PolicyError(format!(
                "rules[{i}].nonResourceURLs: {u:?} must be * or begin with / and have * only at its end"
            )));
        }
        for g in &r.resources {
            if !g.group.is_empty() && !dns_subdomain(&g.group) {
                return Err(PolicyError(format!(
                    "rules[{i}].resources: group {:?} is not a DNS subdomain",
                    g.group
                )));
            }
            if !g.resource_names.is_empty() && g.resources.is_empty() {
                return Err(PolicyError(format!(
                    "rules[{i}].resources: resourceNames needs at least one resource"
                )));
            }
        }
    }
    let _ = (&p.metadata, p.omit_managed_fields);
    Ok(())
}

/// A `nonResourceURLs` entry kube-apiserver takes: `*`, or a path whose
/// only wildcard is its last character.
fn non_resource_url_ok(u: &str) -> bool {
    u == "*" || (u.starts_with('/') && !u[..u.len() - 1].contains('*'))
}

/// An API group name kube-apiserver takes: a DNS subdomain (RFC 1123).
fn dns_subdomain(s: &str) -> bool {
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    s.len() <= 253 && s.split('.').all(label_ok)
}

/// The level and omitted stages the Policy gives a person's `verb` request
/// on `resource` (`pods`, `pods/exec`) in some namespace.
fn evaluate<'p>(p: &'p Policy, resource: &str, verb: &str) -> (Level, Vec<&'p str>) {
    let (group, _) = api_group(resource);
    for rule in &p.rules {
        if !rule.users.is_empty() || !rule.namespaces.is_empty() {
            continue;
        }
        if !rule.user_groups.is_empty()
            && !rule.user_groups.iter().any(|g| g == "system:authenticated")
        {
            continue;
        }
        if !rule.verbs.is_empty() && !rule.verbs.iter().any(|v| v == verb || v == "*") {
            continue;
        }
        if !rule.non_resource_urls.is_empty() {
            continue;
        }
        if !rule.resources.is_empty() && !rule.resources.iter().any(|g| covers(g, group, resource))
        {
            continue;
        }
        let _ = rule.omit_managed_fields;
        let mut omitted: Vec<&str> = p.omit_stages.iter().map(String::as_str).collect();
        omitted.extend(rule.omit_stages.iter().map(String::as_str));
        return (Level::parse(&rule.level).unwrap_or(Level::None), omitted);
    }
    (Level::None, Vec::new())
}

/// True when a Policy rule's group-resources entry covers a request.
fn covers(g: &GroupResources, group: &str, resource: &str) -> bool {
    if g.group != group || !g.resource_names.is_empty() {
        return false;
    }
    if g.resources.is_empty() {
        return true;
    }
    let (base, sub) = match resource.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (resource, None),
    };
    g.resources.iter().any(|r| {
        r == "*"
            || r == resource
            || (sub.is_some() && r == &format!("{base}/*"))
            || (sub.is_some_and(|s| s != "*") && r == &format!("*/{}", sub.unwrap_or_default()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_resource_urls_and_groups_are_judged_as_kube_apiserver_does() {
        for ok in ["*", "/healthz", "/api*", "/"] {
            assert!(non_resource_url_ok(ok), "{ok}");
        }
        for bad in ["healthz", "/api/*/x", "**"] {
            assert!(!non_resource_url_ok(bad), "{bad}");
        }
        for ok in ["apps", "rbac.authorization.k8s.io", "a-1.b"] {
            assert!(dns_subdomain(ok), "{ok}");
        }
        for bad in ["Apps", "apps_v1", "-apps", "apps.", "a..b"] {
            assert!(!dns_subdomain(bad), "{bad}");
        }
    }

    #[test]
    fn a_policy_without_rules_is_refused() {
        let e = check_policy(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("rules is empty"), "{e}");
    }
}
