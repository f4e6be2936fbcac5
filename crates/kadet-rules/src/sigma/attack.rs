//! Sigma's ATT&CK tags (`attack.t1552.007`, `attack.credential-access`) as
//! kadet's `Reports: {"MITRE ATT&CK": [...]}` entries: `TA0006:T1552.007`
//! for each tactic and technique the rule names, a lone `TA0006` or
//! `T1552.007` when it names only one kind.

/// The `Reports` key ATT&CK entries go under.
pub const FRAMEWORK: &str = "MITRE ATT&CK";

/// ATT&CK enterprise tactics: id and name (as in
/// `crates/kadet-engine/data/attack.tsv`), plus the former name of TA0005.
const TACTICS: &[(&str, &str)] = &[
    ("TA0001", "initial access"),
    ("TA0002", "execution"),
    ("TA0003", "persistence"),
    ("TA0004", "privilege escalation"),
    ("TA0005", "stealth"),
    ("TA0005", "defense evasion"),
    ("TA0006", "credential access"),
    ("TA0007", "discovery"),
    ("TA0008", "lateral movement"),
    ("TA0009", "collection"),
    ("TA0010", "exfiltration"),
    ("TA0011", "command and control"),
    ("TA0040", "impact"),
    ("TA0042", "resource development"),
    ("TA0043", "reconnaissance"),
    ("TA0112", "defense impairment"),
];

/// The tactic id of a tag's name part (`credential-access`, `credential_access`).
fn tactic_id(name: &str) -> Option<&'static str> {
    let spaced = name.replace(['-', '_'], " ");
    TACTICS
        .iter()
        .find(|(_, n)| *n == spaced)
        .map(|(id, _)| *id)
}

/// `t1552.007` → `T1552.007`.
fn technique_id(name: &str) -> Option<String> {
    let rest = name.strip_prefix('t')?;
    let (base, sub) = match rest.split_once('.') {
        Some((b, s)) => (b, Some(s)),
        None => (rest, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(base, 4) || sub.is_some_and(|s| !digits(s, 3)) {
        return None;
    }
    Some(format!("T{}", rest.to_ascii_uppercase()))
}

/// The `MITRE ATT&CK` entries of a rule's tags (empty when it has none).
pub fn reports(tags: &[String]) -> Vec<String> {
    let mut tactics: Vec<&str> = Vec::new();
    let mut techniques: Vec<String> = Vec::new();
    for tag in tags {
        let Some(name) = tag
            .to_ascii_lowercase()
            .strip_prefix("attack.")
            .map(str::to_string)
        else {
            continue;
        };
        if let Some(id) = tactic_id(&name) {
            if !tactics.contains(&id) {
                tactics.push(id);
            }
        } else if let Some(t) = technique_id(&name) {
            if !techniques.contains(&t) {
                techniques.push(t);
            }
        }
    }
    match (tactics.is_empty(), techniques.is_empty()) {
        (_, true) => tactics.into_iter().map(str::to_string).collect(),
        (true, false) => techniques,
        (false, false) => tactics
            .iter()
            .flat_map(|ta| techniques.iter().map(move |t| format!("{ta}:{t}")))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairs_tactics_and_techniques() {
        assert_eq!(
            reports(&tags(&["attack.t1552.007", "attack.credential-access"])),
            ["TA0006:T1552.007"]
        );
        assert_eq!(
            reports(&tags(&[
                "attack.credential_access",
                "attack.stealth",
                "attack.t1070"
            ])),
            ["TA0006:T1070", "TA0005:T1070"]
        );
    }

    #[test]
    fn lone_entries() {
        assert_eq!(reports(&tags(&["attack.privilege-escalation"])), ["TA0004"]);
        assert_eq!(
            reports(&tags(&["attack.t1609", "cve.2021-1234"])),
            ["T1609"]
        );
        assert!(reports(&tags(&[
            "attack.g0007",
            "attack.s0001",
            "detection.threat-hunting"
        ]))
        .is_empty());
        assert_eq!(reports(&tags(&["attack.defense-evasion"])), ["TA0005"]);
    }
}
