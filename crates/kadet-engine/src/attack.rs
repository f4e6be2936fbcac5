//! MITRE ATT&CK names, from the table `data/attack.tsv` (tactic, technique
//! and sub-technique ids with their official names), so that findings carry
//! the names consoles show beside the ids rules cite.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The ATT&CK release the names are taken from.
pub const ATTACK_VERSION: &str = "19";

const TABLE: &str = include_str!("../data/attack.tsv");

fn names() -> &'static HashMap<&'static str, &'static str> {
    static NAMES: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        TABLE
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once('\t'))
            .map(|(id, name)| (id.trim(), name.trim()))
            .collect()
    })
}

/// The official name of a tactic (`TA0006`), technique (`T1552`) or
/// sub-technique (`T1552.007`) id, when the table has it.
pub fn name(id: &str) -> Option<&'static str> {
    names().get(id.trim()).copied()
}

/// One ATT&CK reference as rules write it under `Reports: MITRE ATT&CK`:
/// `TA0003:T1098`, `TA0003:T1098.001`, or a lone tactic or technique id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttackRef {
    /// Tactic id.
    pub tactic: Option<String>,
    /// Technique id, without the sub-technique part.
    pub technique: Option<String>,
    /// Sub-technique id (`T1098.001`).
    pub sub_technique: Option<String>,
}

impl AttackRef {
    /// Parses a reference; `None` when it names neither a tactic nor a
    /// technique. Anything after `#` is a comment.
    pub fn parse(text: &str) -> Option<AttackRef> {
        let text = text.split('#').next().unwrap_or(text).trim();
        let mut r = AttackRef {
            tactic: None,
            technique: None,
            sub_technique: None,
        };
        for part in text.split(':').map(str::trim).filter(|p| !p.is_empty()) {
            let upper = part.to_ascii_uppercase();
            if upper.starts_with("TA") {
                r.tactic = Some(upper);
            } else if upper.starts_with('T') {
                match upper.split_once('.') {
                    Some((base, _)) => {
                        r.technique = Some(base.to_string());
                        r.sub_technique = Some(upper);
                    }
                    None => r.technique = Some(upper),
                }
            } else {
                return None;
            }
        }
        (r.tactic.is_some() || r.technique.is_some()).then_some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_cited_by_the_built_in_pack_has_a_name() {
        let set = kadet_rules::load_builtin().expect("built-in pack");
        for rule in &set.rules {
            for id in rule.report_ids("mitre") {
                let r = AttackRef::parse(id).unwrap_or_else(|| panic!("{}: {id}", rule.id));
                for part in [&r.tactic, &r.technique, &r.sub_technique]
                    .into_iter()
                    .flatten()
                {
                    assert!(name(part).is_some(), "{}: no name for {part}", rule.id);
                }
            }
        }
    }

    #[test]
    fn references_parse() {
        let r = AttackRef::parse("TA0006:T1552.007 # Container API").expect("parses");
        assert_eq!(r.tactic.as_deref(), Some("TA0006"));
        assert_eq!(r.technique.as_deref(), Some("T1552"));
        assert_eq!(r.sub_technique.as_deref(), Some("T1552.007"));
        assert_eq!(name("TA0006"), Some("Credential Access"));
        let lone = AttackRef::parse("T1609").expect("parses");
        assert_eq!(
            (lone.tactic, lone.technique.as_deref()),
            (None, Some("T1609"))
        );
        assert!(AttackRef::parse("k8s.persistence.create-token").is_none());
    }
}
