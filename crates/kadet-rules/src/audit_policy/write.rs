//! The smallest `audit.k8s.io/v1` Policy under which every rule can fire.
//!
//! One Policy rule per level that some rule needs, most detailed first (the
//! API server takes the first Policy rule that matches a request), the
//! resources of each grouped by API group ([`API_GROUPS`]); then Metadata for
//! everything else when some rule reads every request, or `None`. Comments
//! name the rules behind each entry and what a capped resource loses.

use super::needs::{Level, Need, CAPPED};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Tab-separated `resource group scope` lines: the API group of every
/// resource the rules name.
const API_GROUPS: &str = include_str!("../../data/api_groups.tsv");

/// The API group of a resource (the part before any `/subresource`), and
/// whether the table knew it.
pub fn api_group(resource: &str) -> (&'static str, bool) {
    let base = resource.split('/').next().unwrap_or(resource);
    API_GROUPS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut cells = l.split('\t');
            Some((cells.next()?, cells.next()?))
        })
        .find(|(r, _)| *r == base)
        .map_or(("", false), |(_, g)| (g.trim_matches('"'), true))
}

/// The Policy, as YAML text with comments.
pub fn write_policy(needs: &[Need], skipped: &[String]) -> String {
    // level -> group -> resource -> rules
    let mut by_level: BTreeMap<Level, BTreeMap<&str, BTreeMap<String, BTreeSet<&str>>>> =
        BTreeMap::new();
    let mut unknown_groups = BTreeSet::new();
    let mut capped: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut every_request: Vec<&str> = Vec::new();
    let mut streams = false;
    for need in needs {
        streams |= need.stream;
        let Some(resources) = &need.resources else {
            if need.level > Level::Metadata {
                // Reads bodies of any resource: ask for them everywhere.
                by_level
                    .entry(need.level)
                    .or_default()
                    .entry("*")
                    .or_default()
                    .entry("*".into())
                    .or_default()
                    .insert(&need.rule_id);
            }
            every_request.push(&need.rule_id);
            continue;
        };
        for r in resources {
            let level = need.level_for(r);
            if level < need.level && !cap_key(r).is_empty() {
                capped.entry(cap_key(r)).or_default().insert(&need.rule_id);
            }
            let (group, known) = api_group(r);
            if !known {
                unknown_groups.insert(r.clone());
            }
            by_level
                .entry(level)
                .or_default()
                .entry(group)
                .or_default()
                .entry(r.clone())
                .or_default()
                .insert(&need.rule_id);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# The smallest audit policy under which every loaded kadet rule can fire\n\
         # ({} rules; written by `kadet policy`). Give it to kube-apiserver with\n\
         # --audit-policy-file. The API server uses the first rule that matches a\n\
         # request, so the most detailed levels come first.",
        needs.len()
    );
    if !skipped.is_empty() {
        comment(
            &mut out,
            "",
            &format!(
                "Not covered here: {} (their cloud's own audit policy decides what they see).",
                skipped.join(", ")
            ),
        );
    }
    out.push_str("apiVersion: audit.k8s.io/v1\nkind: Policy\n");
    out.push_str("# RequestReceived says nothing the later stages do not.\n");
    if streams {
        out.push_str(
            "# ResponseStarted may be omitted too: exec, attach and port-forward then\n\
             # alert when the stream closes rather than when it opens.\n",
        );
    }
    out.push_str("omitStages:\n  - RequestReceived\nrules:\n");
    write_caps_before_catch_alls(&mut out, &by_level);
    for (resource, rules) in &capped {
        let why = CAPPED
            .iter()
            .find(|(r, _, _)| r == resource)
            .map_or("", |(_, _, w)| *w);
        comment(
            &mut out,
            "  ",
            &format!(
                "{resource} stay below what {} would read: {why}.",
                rules.iter().copied().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    for (level, groups) in by_level.iter().rev() {
        if *level <= Level::Metadata {
            continue;
        }
        write_level(&mut out, *level, groups);
    }
    if every_request.is_empty() {
        if let Some(groups) = by_level.get(&Level::Metadata) {
            write_level(&mut out, Level::Metadata, groups);
        }
        out.push_str("  # Nothing else is read by any rule.\n  - level: None\n");
    } else {
        let mut names: Vec<&str> = every_request.clone();
        names.sort_unstable();
        names.dedup();
        comment(
            &mut out,
            "  ",
            &format!(
                "Every other request, resource or not, at Metadata: {} read any request.",
                names.join(", ")
            ),
        );
        out.push_str("  - level: Metadata\n");
    }
    for r in &unknown_groups {
        let _ = writeln!(
            out,
            "# {r}: API group unknown to kadet, written under the core group; correct it if needed."
        );
    }
    out
}

/// A rule that reads bodies of every resource gets a level rule with no
/// resources, which would also log Secrets' and tokens' bodies: the capped
/// resources get their own rules first (the first matching rule wins).
fn write_caps_before_catch_alls(
    out: &mut String,
    by_level: &BTreeMap<Level, BTreeMap<&str, BTreeMap<String, BTreeSet<&str>>>>,
) {
    let Some(widest) = by_level
        .iter()
        .filter(|(_, groups)| groups.contains_key("*"))
        .map(|(l, _)| *l)
        .max()
    else {
        return;
    };
    for (resource, cap, why) in CAPPED {
        if *cap >= widest {
            continue;
        }
        let (group, _) = api_group(resource);
        comment(out, "  ", &format!("{resource} at {}: {why}.", cap.name()));
        let _ = writeln!(
            out,
            "  - level: {}\n    resources:\n      - group: {group:?}\n        resources: [{resource:?}]",
            cap.name()
        );
    }
}

/// Writes `text` as `#` comment lines of at most 80 columns, at `indent`.
fn comment(out: &mut String, indent: &str, text: &str) {
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && indent.len() + 2 + line.len() + 1 + word.len() > 80 {
            let _ = writeln!(out, "{indent}# {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}# {line}");
    }
}

fn cap_key(resource: &str) -> &'static str {
    CAPPED
        .iter()
        .find(|(r, _, _)| *r == resource)
        .map_or("", |(r, _, _)| *r)
}

fn write_level(
    out: &mut String,
    level: Level,
    groups: &BTreeMap<&str, BTreeMap<String, BTreeSet<&str>>>,
) {
    let mut rules: BTreeSet<&str> = BTreeSet::new();
    for resources in groups.values() {
        for names in resources.values() {
            rules.extend(names.iter().copied());
        }
    }
    comment(
        out,
        "  ",
        &format!(
            "{}: {}",
            level.name(),
            rules.into_iter().collect::<Vec<_>>().join(", ")
        ),
    );
    let _ = writeln!(out, "  - level: {}", level.name());
    if groups.contains_key("*") {
        return;
    }
    out.push_str("    resources:\n");
    for (group, resources) in groups {
        let names: Vec<String> = resources.keys().map(|r| format!("{r:?}")).collect();
        let _ = writeln!(
            out,
            "      - group: {group:?}\n        resources: [{}]",
            names.join(", ")
        );
    }
}
