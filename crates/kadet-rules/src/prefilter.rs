//! The literal prefilter: rejects records before they are parsed.
//!
//! For each rule kadet computes a set of byte strings of which any record the
//! rule can match must contain at least one (for the seed rule:
//! `serviceaccounts`). All sets go into one Aho-Corasick automaton, matched
//! ASCII-case-insensitively. A record containing none of them cannot match
//! and is dropped unparsed; for the others, only the rules whose literals were
//! found are evaluated.
//!
//! The prefilter is **sound**: it never drops a record that full evaluation
//! would match. How:
//! - only positive string conditions give literals; negations, numeric,
//!   IP, regex and existence tests give none ("anything may match");
//! - `All` takes the most selective child, `Any` the union of all children
//!   (and gives nothing if one child has none);
//! - fields kadet derives rather than copies from the source record
//!   (`p_*`, `kind`, `apiVersion`, `requestURI`, `objectRef.apiGroup`,
//!   `objectRef.apiVersion`, `responseStatus`) give no literals, because for
//!   some sources (GKE) their text is not in the record;
//! - literals that parse as numbers give none (`1.0` equals `1`);
//! - a literal is cut at every character a JSON encoder may escape (`"`, `\`,
//!   `/`, `<`, `>`, `&`, `'`, control and non-ASCII characters) and the longest
//!   piece is used;
//! - a record with a `\u00XX` escape of a character that occurs in any
//!   literal (or of a backslash, for JSON inside a JSON string) is passed to
//!   every rule.

use crate::expr::{ElementMode, Expr, Literal, Test};
use crate::path::{FieldPath, Segment};
use crate::rule::Rule;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Root paths whose text kadet may derive rather than copy from the record.
const DERIVED_ROOTS: &[&str] = &["kind", "apiVersion", "requestURI", "responseStatus"];

/// Which rules to evaluate for a record.
#[derive(Debug, Clone, Default)]
pub struct RuleMask {
    bits: Vec<bool>,
    any: bool,
}

impl RuleMask {
    /// True when rule `i` must be evaluated.
    pub fn contains(&self, i: usize) -> bool {
        self.bits.get(i).copied().unwrap_or(false)
    }

    /// True when some rule must be evaluated.
    pub fn any(&self) -> bool {
        self.any
    }
}

/// The compiled prefilter for a set of rules.
#[derive(Debug, Clone)]
pub struct Prefilter {
    ac: Option<AhoCorasick>,
    /// For each literal pattern, the rules needing it.
    pattern_rules: Vec<Vec<usize>>,
    /// Pattern id of the `\u00` escape marker.
    escape_pattern: usize,
    /// Bytes that occur in literals (for the escape check).
    literal_bytes: [bool; 128],
    /// Rules that cannot be prefiltered.
    always: Vec<usize>,
    /// Rules that can never match.
    n_rules: usize,
    /// The literals, for `kadet rules show` and tests.
    pub literals: Vec<String>,
    /// Per rule: its literal set, or `None` when it cannot be prefiltered.
    pub rule_literals: Vec<Option<Vec<String>>>,
    disabled: bool,
}

impl Prefilter {
    /// Builds the prefilter for `rules`.
    pub fn build(rules: &[Rule]) -> Prefilter {
        let rule_literals: Vec<Option<Vec<String>>> =
            rules.iter().map(|r| required(&r.detection, true).map(|set| set.into_iter().map(|(s, _)| s).collect())).collect();
        Self::from_sets(rule_literals)
    }

    /// A prefilter that passes everything (for `--no-prefilter`).
    pub fn disabled(n_rules: usize) -> Prefilter {
        let mut p = Self::from_sets(vec![None; n_rules]);
        p.disabled = true;
        p
    }

    fn from_sets(rule_literals: Vec<Option<Vec<String>>>) -> Prefilter {
        let mut literals: Vec<String> = Vec::new();
        let mut pattern_rules: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        let mut literal_bytes = [false; 128];
        for (i, set) in rule_literals.iter().enumerate() {
            match set {
                None => always.push(i),
                Some(lits) => {
                    for l in lits {
                        let key = l.to_ascii_lowercase();
                        for b in key.bytes().chain(l.bytes()) {
                            literal_bytes[usize::from(b & 0x7f)] = true;
                        }
                        match literals.iter().position(|x| *x == key) {
                            Some(p) => pattern_rules[p].push(i),
                            None => {
                                literals.push(key);
                                pattern_rules.push(vec![i]);
                            }
                        }
                    }
                }
            }
        }
        let escape_pattern = literals.len();
        let mut patterns = literals.clone();
        patterns.push("\\u00".to_string());
        let ac = if literals.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .ok()
        };
        let n_rules = rule_literals.len();
        let disabled = ac.is_none() && !literals.is_empty();
        Prefilter { ac, pattern_rules, escape_pattern, literal_bytes, always, n_rules, literals, rule_literals, disabled }
    }

    /// True when every record passes (some rule cannot be prefiltered, or it was turned off).
    pub fn passes_everything(&self) -> bool {
        self.disabled || !self.always.is_empty()
    }

    /// Quick test: may any rule match this record?
    pub fn admit(&self, bytes: &[u8]) -> bool {
        if self.passes_everything() {
            return true;
        }
        let Some(ac) = &self.ac else { return false };
        for m in ac.find_iter(bytes) {
            if m.pattern().as_usize() != self.escape_pattern || self.escape_hides_literal(&bytes[m.start()..]) {
                return true;
            }
        }
        false
    }

    /// Fills `mask` with the rules to evaluate for this record.
    pub fn candidates(&self, bytes: &[u8], mask: &mut RuleMask) {
        mask.bits.clear();
        mask.bits.resize(self.n_rules, self.disabled);
        mask.any = self.disabled && self.n_rules > 0;
        if self.disabled {
            return;
        }
        for &i in &self.always {
            mask.bits[i] = true;
            mask.any = true;
        }
        let Some(ac) = &self.ac else { return };
        for m in ac.find_overlapping_iter(bytes) {
            let p = m.pattern().as_usize();
            if p == self.escape_pattern {
                if self.escape_hides_literal(&bytes[m.start()..]) {
                    mask.bits.iter_mut().for_each(|b| *b = true);
                    mask.any = self.n_rules > 0;
                    return;
                }
                continue;
            }
            for &r in &self.pattern_rules[p] {
                mask.bits[r] = true;
                mask.any = true;
            }
        }
    }

    /// `at` starts with `\u00`: does the escape spell a byte used in a literal?
    fn escape_hides_literal(&self, at: &[u8]) -> bool {
        let hex = |b: u8| (b as char).to_digit(16);
        match (at.get(4).copied().and_then(hex), at.get(5).copied().and_then(hex)) {
            (Some(h), Some(l)) => {
                let c = (h * 16 + l) as usize;
                c == usize::from(b'\\') || (c < 128 && (self.literal_bytes[c] || self.literal_bytes[(c as u8).to_ascii_lowercase() as usize]))
            }
            _ => true,
        }
    }
}

/// A literal set: each entry with its length, the shortest driving selectivity.
type LitSet = Vec<(String, usize)>;

fn score(set: &LitSet) -> (usize, std::cmp::Reverse<usize>) {
    (set.iter().map(|(_, n)| *n).min().unwrap_or(usize::MAX), std::cmp::Reverse(set.len()))
}

/// The literals any record matching `e` must contain one of, or `None`.
fn required(e: &Expr, at_root: bool) -> Option<LitSet> {
    match e {
        Expr::All(xs) => xs.iter().filter_map(|x| required(x, at_root)).max_by_key(score),
        Expr::Any(xs) | Expr::OnlyOne(xs) => {
            let mut out: LitSet = Vec::new();
            for x in xs {
                for l in required(x, at_root)? {
                    if !out.contains(&l) {
                        out.push(l);
                    }
                }
            }
            Some(out)
        }
        Expr::None(_) | Expr::Compare { .. } => None,
        Expr::Const(true) => None,
        Expr::Const(false) => Some(Vec::new()),
        Expr::Named { expr, .. } => required(expr, at_root),
        Expr::Elements { mode, exprs, path } => match mode {
            ElementMode::Any | ElementMode::OnlyOne if !at_root || path_is_copied(path) => {
                exprs.iter().filter_map(|x| required(x, false)).max_by_key(score)
            }
            _ => None,
        },
        Expr::Leaf { path, test, negate, .. } => {
            if *negate || (at_root && !path_is_copied(path)) {
                return None;
            }
            let Test::Str { values, .. } = test else { return None };
            let mut out = Vec::new();
            for v in values {
                let Literal::Str(s) = v else { return None };
                if s.trim().parse::<f64>().is_ok() {
                    return None;
                }
                let piece = longest_safe_piece(s)?;
                let n = piece.len();
                out.push((piece, n));
            }
            Some(out)
        }
    }
}

/// True when a root path's text is copied verbatim from the source record.
fn path_is_copied(path: &FieldPath) -> bool {
    let mut segs = path.segments.iter();
    let Some(Segment::Key(root)) = segs.next() else { return false };
    if root.starts_with("p_") || DERIVED_ROOTS.contains(&root.as_str()) {
        return false;
    }
    if root == "objectRef" {
        if let Some(Segment::Key(k)) = segs.next() {
            return k != "apiGroup" && k != "apiVersion";
        }
        return false;
    }
    true
}

/// The longest run of characters no JSON encoder escapes.
fn longest_safe_piece(s: &str) -> Option<String> {
    let unsafe_char = |c: char| !c.is_ascii() || c.is_ascii_control() || matches!(c, '"' | '\\' | '/' | '<' | '>' | '&' | '\'');
    s.split(unsafe_char).max_by_key(|p| p.len()).filter(|p| !p.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_pieces() {
        assert_eq!(longest_safe_piece("serviceaccounts").as_deref(), Some("serviceaccounts"));
        assert_eq!(longest_safe_piece("/api/v1/secrets").as_deref(), Some("secrets"));
        assert_eq!(longest_safe_piece("a&bcd").as_deref(), Some("bcd"));
        assert_eq!(longest_safe_piece("/"), None);
    }
}
