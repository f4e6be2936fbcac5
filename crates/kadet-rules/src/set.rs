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

    /// Leaves out rules that could never alert because a rule they build
    /// on is not loaded (disabled, or filtered out): followers whose lead is
    /// missing, correlation rules with a missing step. Returns a warning for
    /// each.
    pub fn drop_unlinked(&mut self) -> Vec<String> {
        let mut warnings = Vec::new();
        let ids: Vec<String> = self.rules.iter().map(|r| r.id.clone()).collect();
        let loaded = |id: &String| ids.contains(id);
        self.rules.retain(|r| {
            let missing: Vec<&String> = r
                .follows
                .iter()
                .map(|f| &f.rule_id)
                .chain(
                    r.correlation
                        .iter()
                        .flat_map(|c| c.steps().iter().map(|s| &s.rule_id)),
                )
                .filter(|id| !loaded(id))
                .collect();
            if missing.is_empty() {
                return true;
            }
            let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            warnings.push(format!(
                "{} is left out: it builds on {}, which is not enabled",
                r.id,
                names.join(", ")
            ));
            false
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
