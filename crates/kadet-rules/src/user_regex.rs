//! Regular expressions written by rule authors (Panther `Regex` conditions,
//! Sigma `re` and wildcards, `!regex` template filters), compiled with a
//! bound on how deeply groups and repetitions may nest.
//!
//! The `regex` crate's own bound (250) lets a pattern such as `a` followed
//! by 200 `*` recurse deeply enough to overflow a 2 MiB thread stack in an
//! unoptimised build (the fuzzer found one in a template). No real rule
//! nests near [`NEST_LIMIT`]; a pattern that does is a load error.

use regex::{Regex, RegexBuilder};

/// How deeply a rule's regular expression may nest groups and repetitions.
pub const NEST_LIMIT: u32 = 64;

/// Compiles a rule author's pattern.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).nest_limit(NEST_LIMIT).build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn deep_nesting_is_refused_and_ordinary_patterns_compile() {
        assert!(super::compile(&format!("a{}", "*".repeat(200))).is_err());
        assert!(super::compile(&format!("{}a{}", "(".repeat(70), ")".repeat(70))).is_err());
        assert!(super::compile(r"^(?:kubectl|curl)/v?[0-9]+(\.[0-9]+)*").is_ok());
    }
}
