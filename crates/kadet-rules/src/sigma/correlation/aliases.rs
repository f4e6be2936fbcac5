//! A correlation's `aliases`: a `group-by` name that stands for a different
//! field in each rule it relates (`internal_ip: {rule_a: destination.ip,
//! rule_b: source.ip}`). A name that is not an alias, or an alias without an
//! entry for a rule, is that rule's field as written.

use super::Target;
use serde_norway::Value as Yaml;

/// alias name → (rule id or name → field).
pub struct Aliases(Vec<(String, Vec<(String, String)>)>);

impl Aliases {
    /// Reads the `aliases` mapping (none: no aliases).
    pub fn parse(v: Option<&Yaml>) -> Result<Aliases, String> {
        let Some(v) = v else {
            return Ok(Aliases(Vec::new()));
        };
        let Yaml::Mapping(m) = v else {
            return Err("aliases maps each alias to a field per rule".into());
        };
        let mut out = Vec::new();
        for (alias, per_rule) in m {
            let (Some(alias), Yaml::Mapping(per_rule)) = (alias.as_str(), per_rule) else {
                return Err("aliases maps each alias to a mapping of rule → field".into());
            };
            let mut fields = Vec::new();
            for (rule, field) in per_rule {
                let (Some(rule), Some(field)) = (rule.as_str(), field.as_str()) else {
                    return Err(format!("alias {alias:?}: each entry is rule: field"));
                };
                fields.push((rule.to_string(), field.to_string()));
            }
            out.push((alias.to_string(), fields));
        }
        Ok(Aliases(out))
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The field `name` stands for in rule `target`.
    pub fn field<'a>(&'a self, name: &'a str, target: &Target<'_>) -> &'a str {
        self.0
            .iter()
            .find(|(a, _)| a == name)
            .and_then(|(_, fields)| {
                fields
                    .iter()
                    .find(|(r, _)| *r == target.rule.id || Some(r.as_str()) == target.name)
            })
            .map_or(name, |(_, f)| f.as_str())
    }
}
