//! [`RuleSet`]: what loading gives, the compiled rules and their library.

use crate::compile::Library;
use crate::prefilter::Prefilter;
use crate::rule::Rule;

/// Loaded, compiled rules with their library and prefilter.
#[derive(Debug)]
pub struct RuleSet {
    /// The rules, in load order (file path order).
    pub rules: Vec<Rule>,
    /// Named lists and conditions.
    pub library: Library,
}

impl RuleSet {
    /// Finds a rule by id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        crate::rule::by_id(&self.rules, id)
    }

    /// Builds the prefilter for the rules kept by `keep`.
    pub fn prefilter(&self) -> Prefilter {
        Prefilter::build(&self.rules)
    }

    /// Leaves out rules that follow a rule which is not loaded (disabled, or
    /// filtered out): they could never alert. Returns a warning for each.
    pub fn drop_orphan_followers(&mut self) -> Vec<String> {
        let mut warnings = Vec::new();
        let ids: Vec<String> = self.rules.iter().map(|r| r.id.clone()).collect();
        self.rules.retain(|r| match &r.follows {
            Some(f) if !ids.contains(&f.rule_id) => {
                warnings.push(format!(
                    "{} is left out: it follows {}, which is not enabled",
                    r.id, f.rule_id
                ));
                false
            }
            _ => true,
        });
        warnings
    }

    /// Keeps only enabled rules unless `include_disabled`.
    pub fn retain_enabled(&mut self, include_disabled: bool) {
        if !include_disabled {
            self.rules.retain(|r| r.enabled);
        }
    }
}
