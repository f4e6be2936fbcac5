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
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// Root paths whose text kadet may derive rather than copy from the record.
const DERIVED_ROOTS: &[&str] = &["kind", "apiVersion", "requestURI", "responseStatus"];

/// Which rules to evaluate for a record; also the scratch space the
/// prefilter uses, so a worker reuses one and allocates nothing per record.
#[derive(Debug, Clone, Default)]
pub struct RuleMask {
    bits: Vec<bool>,
    found: Vec<bool>,
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

    /// Indices of the rules to evaluate.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i)
    }
}

/// A rule's requirement: every clause must have one of its literals present.
type Clauses = Vec<Vec<usize>>;

/// Values so frequent in audit logs that a clause made only of them makes a
/// poor first test. Used only to pick which clause to search for first; the
/// result is the same whichever is picked.
const COMMON: &[&str] = &[
    "create",
    "get",
    "list",
    "watch",
    "update",
    "patch",
    "delete",
    "system:",
    "serviceaccount",
    "serviceaccounts",
    "kube-system",
    "default",
    "pods",
    "v1",
    "apps",
    "namespaces",
    "configmaps",
    "leases",
    "endpoints",
    "endpointslices",
    "events",
    "nodes",
    "authenticated",
    "responsecomplete",
    "requestreceived",
    "metadata",
    "request",
    "true",
    "false",
    "kubernetes",
    "kube-",
    "node",
    "system:node",
    "system:nodes",
    "kubelet",
    "event",
    "allow",
    "panic",
    "200",
    "201",
];

/// The first test: a search for the anchor literals, one clause per rule.
#[derive(Debug, Clone)]
enum Anchor {
    /// No literal: every record goes to the full test.
    None,
    /// One case-sensitive literal: a SIMD substring search.
    One(Box<memchr::memmem::Finder<'static>>),
    /// Several: Aho-Corasick, ASCII case-insensitive.
    Many(Box<AhoCorasick>),
}

/// The compiled prefilter for a set of rules.
#[derive(Debug, Clone)]
pub struct Prefilter {
    ac: Option<AhoCorasick>,
    anchor: Anchor,
    escape_finder: memchr::memmem::Finder<'static>,
    /// Per rule: `None` = always evaluate; else clauses of literal ids.
    requirements: Vec<Option<Clauses>>,
    /// Pattern id of the `\u00` escape marker.
    escape_pattern: usize,
    /// Bytes that occur in literals (for the escape check).
    literal_bytes: [bool; 128],
    /// True when some rule cannot be prefiltered.
    has_always: bool,
    n_rules: usize,
    /// The literals (lower-cased), indexed by pattern id.
    pub literals: Vec<String>,
    /// Per rule: its clauses as text, or `None` when it cannot be prefiltered.
    pub rule_literals: Vec<Option<Vec<Vec<String>>>>,
    disabled: bool,
}

/// At most this many clauses per rule: the most selective ones.
const MAX_CLAUSES: usize = 3;

impl Prefilter {
    /// Builds the prefilter for `rules`.
    pub fn build(rules: &[Rule]) -> Prefilter {
        let sets: Vec<Option<Vec<Vec<String>>>> = rules
            .iter()
            .map(|r| {
                required(&r.detection, true).and_then(|mut cnf| {
                    // Clauses made of very common or very short literals cost
                    // more to search for than they save: drop them when the
                    // rule has a better one.
                    if cnf.iter().any(|c| !is_weak(c)) {
                        cnf.retain(|c| !is_weak(c));
                    }
                    cnf.sort_by_key(|c| std::cmp::Reverse(score(c)));
                    cnf.truncate(MAX_CLAUSES);
                    (!cnf.is_empty()).then(|| {
                        cnf.into_iter()
                            .map(|c| c.into_iter().map(|(s, _)| s).collect())
                            .collect()
                    })
                })
            })
            .collect();
        Self::from_sets(sets)
    }

    /// A prefilter that passes everything (for `--no-prefilter`).
    pub fn disabled(n_rules: usize) -> Prefilter {
        let mut p = Self::from_sets(vec![None; n_rules]);
        p.disabled = true;
        p
    }

    fn from_sets(rule_literals: Vec<Option<Vec<Vec<String>>>>) -> Prefilter {
        let mut literals: Vec<String> = Vec::new();
        let mut literal_bytes = [false; 128];
        let mut requirements = Vec::with_capacity(rule_literals.len());
        for set in &rule_literals {
            requirements.push(set.as_ref().map(|clauses| {
                clauses
                    .iter()
                    .map(|clause| {
                        clause
                            .iter()
                            .map(|l| {
                                let text = l.strip_prefix(CI_MARK).unwrap_or(l);
                                for b in text.bytes() {
                                    literal_bytes[usize::from(b.to_ascii_lowercase() & 0x7f)] =
                                        true;
                                    literal_bytes[usize::from(b.to_ascii_uppercase() & 0x7f)] =
                                        true;
                                }
                                match literals.iter().position(|x| x == l) {
                                    Some(p) => p,
                                    None => {
                                        literals.push(l.clone());
                                        literals.len() - 1
                                    }
                                }
                            })
                            .collect()
                    })
                    .collect()
            }));
        }
        let escape_pattern = literals.len();
        let mut patterns: Vec<String> = literals
            .iter()
            .map(|l| pattern_text(l).to_string())
            .collect();
        patterns.push("\\u00".to_string());
        let ac = if literals.is_empty() {
            None
        } else {
            // A DFA: the overlapping search over candidate records is the hot part.
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&patterns)
                .or_else(|_| {
                    AhoCorasickBuilder::new()
                        .ascii_case_insensitive(true)
                        .match_kind(MatchKind::Standard)
                        .build(&patterns)
                })
                .ok()
        };
        let n_rules = rule_literals.len();
        let has_always = requirements.iter().any(Option::is_none);
        let disabled = ac.is_none() && !literals.is_empty();
        let anchor = Self::anchor(&requirements, &literals);
        let escape_finder = memchr::memmem::Finder::new(b"\\u00").into_owned();
        Prefilter {
            ac,
            anchor,
            escape_finder,
            requirements,
            escape_pattern,
            literal_bytes,
            has_always,
            n_rules,
            literals,
            rule_literals,
            disabled,
        }
    }

    /// Picks each rule's most selective clause and builds the search for them.
    fn anchor(requirements: &[Option<Clauses>], literals: &[String]) -> Anchor {
        let rank = |clause: &Vec<usize>| {
            let common = clause.iter().all(|&l| {
                COMMON.contains(&pattern_text(&literals[l]).to_ascii_lowercase().as_str())
            });
            let shortest = clause
                .iter()
                .map(|&l| pattern_text(&literals[l]).len())
                .min()
                .unwrap_or(0);
            (!common, shortest.min(12), std::cmp::Reverse(clause.len()))
        };
        let mut anchors: Vec<usize> = Vec::new();
        for clauses in requirements.iter().flatten() {
            if let Some(best) = clauses.iter().max_by_key(|c| rank(c)) {
                for &l in best {
                    if !anchors.contains(&l) {
                        anchors.push(l);
                    }
                }
            }
        }
        match anchors.as_slice() {
            [] => Anchor::None,
            [one] if !literals[*one].starts_with(CI_MARK) => Anchor::One(Box::new(
                memchr::memmem::Finder::new(literals[*one].as_bytes()).into_owned(),
            )),
            many => match AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .build(many.iter().map(|&l| pattern_text(&literals[l])))
            {
                Ok(ac) => Anchor::Many(Box::new(ac)),
                Err(_) => Anchor::None,
            },
        }
    }

    /// True when the anchor search finds something, or cannot rule it out.
    fn anchor_hit(&self, bytes: &[u8]) -> bool {
        match &self.anchor {
            Anchor::None => true,
            Anchor::One(finder) => finder.find(bytes).is_some(),
            Anchor::Many(ac) => ac.is_match(bytes),
        }
    }

    /// For a whole buffer of records: the offsets where a record may hold a
    /// match (anchor hits, and escapes that could hide a literal), sorted.
    /// Returns `false` when no offset can be ruled out (every record must be
    /// looked at). Records with no offset inside them cannot match.
    pub fn interesting_offsets(&self, data: &[u8], out: &mut Vec<usize>) -> bool {
        out.clear();
        if self.disabled {
            return false;
        }
        match &self.anchor {
            Anchor::None => return false,
            Anchor::One(f) => out.extend(f.find_iter(data)),
            Anchor::Many(ac) => out.extend(ac.find_iter(data).map(|m| m.start())),
        }
        let before = out.len();
        out.extend(
            self.escape_finder
                .find_iter(data)
                .filter(|&at| self.escape_hides_literal(&data[at..])),
        );
        if out.len() > before {
            out.sort_unstable();
        }
        true
    }

    /// True when a `\u00XX` escape in `bytes` could hide a literal.
    fn has_hiding_escape(&self, bytes: &[u8]) -> bool {
        self.escape_finder
            .find_iter(bytes)
            .any(|at| self.escape_hides_literal(&bytes[at..]))
    }

    /// True when every record passes (some rule cannot be prefiltered, or it was turned off).
    pub fn passes_everything(&self) -> bool {
        self.disabled || self.has_always
    }

    /// May any rule match this record? (`mask` is scratch space.)
    pub fn admit(&self, bytes: &[u8], mask: &mut RuleMask) -> bool {
        if self.passes_everything() {
            return true;
        }
        if !self.anchor_hit(bytes) && !self.has_hiding_escape(bytes) {
            return false;
        }
        self.candidates(bytes, mask);
        mask.any
    }

    /// Fills `mask` with the rules evaluated on every record (those the
    /// prefilter can say nothing about): the candidates of a record where the
    /// anchor search found nothing.
    pub fn always_candidates(&self, mask: &mut RuleMask) {
        mask.bits.clear();
        mask.bits.extend(
            self.requirements
                .iter()
                .map(|r| r.is_none() || self.disabled),
        );
        mask.any = mask.bits.iter().any(|b| *b);
    }

    /// Fills `mask` with the rules to evaluate for this record.
    pub fn candidates(&self, bytes: &[u8], mask: &mut RuleMask) {
        mask.bits.clear();
        mask.bits.resize(self.n_rules, false);
        mask.any = false;
        let all = |mask: &mut RuleMask| {
            mask.bits.iter_mut().for_each(|b| *b = true);
            mask.any = self.n_rules > 0;
        };
        if self.disabled {
            return all(mask);
        }
        mask.found.clear();
        mask.found.resize(self.literals.len(), false);
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(bytes) {
                let p = m.pattern().as_usize();
                if p == self.escape_pattern {
                    if self.escape_hides_literal(&bytes[m.start()..]) {
                        return all(mask);
                    }
                } else {
                    mask.found[p] = true;
                }
            }
        }
        for (i, req) in self.requirements.iter().enumerate() {
            let hit = match req {
                None => true,
                Some(clauses) => clauses.iter().all(|c| c.iter().any(|&l| mask.found[l])),
            };
            if hit {
                mask.bits[i] = true;
                mask.any = true;
            }
        }
    }

    /// `at` starts with `\u00`: does the escape spell a byte used in a literal?
    fn escape_hides_literal(&self, at: &[u8]) -> bool {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            at.get(4).copied().and_then(hex),
            at.get(5).copied().and_then(hex),
        ) {
            (Some(h), Some(l)) => {
                let c = (h * 16 + l) as usize;
                c == usize::from(b'\\')
                    || (c < 128
                        && (self.literal_bytes[c]
                            || self.literal_bytes[(c as u8).to_ascii_lowercase() as usize]))
            }
            _ => true,
        }
    }
}

/// A literal set: each entry with its length (the shortest drives
/// selectivity). Case-insensitive literals are stored lower-cased with a
/// `(?i)` prefix so they never merge with a case-sensitive one.
type LitSet = Vec<(String, usize)>;

/// Marks a literal that must be matched ignoring ASCII case.
const CI_MARK: &str = "(?i)";

fn score(set: &LitSet) -> (usize, std::cmp::Reverse<usize>) {
    (
        set.iter().map(|(_, n)| *n).min().unwrap_or(usize::MAX),
        std::cmp::Reverse(set.len()),
    )
}

/// Clauses any record matching `e` satisfies (each clause: one of its
/// literals is in the record), or `None` when nothing can be said.
fn required(e: &Expr, at_root: bool) -> Option<Vec<LitSet>> {
    required_in(
        e,
        if at_root {
            Scope::Root
        } else {
            Scope::Element {
                keys_verbatim: false,
            }
        },
    )
}

/// Where an expression's paths start.
#[derive(Clone, Copy)]
enum Scope {
    /// The event.
    Root,
    /// A list element; `keys_verbatim` when its object keys are the source's own.
    Element { keys_verbatim: bool },
}

fn required_in(e: &Expr, scope: Scope) -> Option<Vec<LitSet>> {
    match e {
        Expr::All(xs) => {
            let mut out = Vec::new();
            for x in xs {
                if let Some(cnf) = required_in(x, scope) {
                    out.extend(cnf);
                }
            }
            (!out.is_empty()).then_some(out)
        }
        Expr::Any(xs) | Expr::OnlyOne(xs) => {
            // Each alternative implies its own most selective clause.
            let mut union: LitSet = Vec::new();
            for x in xs {
                let best = required_in(x, scope)?.into_iter().max_by_key(score)?;
                for l in best {
                    if !union.contains(&l) {
                        union.push(l);
                    }
                }
            }
            Some(vec![union])
        }
        Expr::None(_) | Expr::Compare { .. } => None,
        Expr::Const(true) => None,
        Expr::Const(false) => Some(vec![Vec::new()]),
        Expr::Named { expr, .. } => required_in(expr, scope),
        Expr::Elements { mode, exprs, path } => match (mode, scope) {
            (ElementMode::Any | ElementMode::OnlyOne, Scope::Root) if path_is_copied(path) => {
                let keys_verbatim = keys_are_verbatim(path);
                required_in(&Expr::All(exprs.clone()), Scope::Element { keys_verbatim })
            }
            (ElementMode::Any | ElementMode::OnlyOne, Scope::Element { keys_verbatim }) => {
                required_in(&Expr::All(exprs.clone()), Scope::Element { keys_verbatim })
            }
            _ => None,
        },
        Expr::Leaf {
            path, test, negate, ..
        } => {
            let copied = match scope {
                Scope::Root => path_is_copied(path),
                Scope::Element { .. } => true,
            };
            let mut clauses = Vec::new();
            if copied && !*negate {
                if let Some(c) = value_clause(test) {
                    clauses.push(c);
                }
            }
            let keys_verbatim = match scope {
                Scope::Root => keys_are_verbatim(path),
                Scope::Element { keys_verbatim } => keys_verbatim,
            };
            if keys_verbatim && implies_presence(test, *negate) {
                if let Some(Segment::Key(k)) = path.segments.last() {
                    if let Some(piece) = longest_safe_piece(k).filter(|p| p.len() == k.len()) {
                        let n = piece.len();
                        clauses.push(vec![(piece, n)]);
                    }
                }
            }
            (!clauses.is_empty()).then_some(clauses)
        }
    }
}

/// The literal clause of a positive string condition (or of a list of
/// single IPv4 addresses, whose dotted text is written as is).
fn value_clause(test: &Test) -> Option<LitSet> {
    if let Test::Cidr(nets) = test {
        let all_v4_hosts = nets
            .iter()
            .all(|n| matches!(n, ipnet::IpNet::V4(v4) if v4.prefix_len() == 32));
        return all_v4_hosts.then(|| {
            nets.iter()
                .map(|n| (n.addr().to_string(), n.addr().to_string().len()))
                .collect()
        });
    }
    let Test::Str { values, ci, .. } = test else {
        return None;
    };
    let mut out = Vec::new();
    for v in values {
        let Literal::Str(s) = v else { return None };
        if s.trim().parse::<f64>().is_ok() {
            return None;
        }
        let piece = longest_safe_piece(s)?;
        let n = piece.len();
        out.push((
            if *ci {
                format!("{CI_MARK}{}", piece.to_ascii_lowercase())
            } else {
                piece
            },
            n,
        ));
    }
    (!out.is_empty()).then_some(out)
}

/// True when the condition can only hold if the field is present (so its
/// key is written in the record).
fn implies_presence(test: &Test, negate: bool) -> bool {
    match test {
        Test::Exists => !negate,
        Test::IsNull | Test::NullOrEmpty => negate,
        Test::Str { .. } | Test::Num { .. } | Test::Ip(_) | Test::Cidr(_) | Test::Regex(_) => {
            !negate
        }
    }
}

/// Roots whose key names kadet writes itself for some sources (GKE's mapping,
/// kadet's `p_` fields); keys below `requestObject`/`responseObject` are the
/// source's own.
const SYNTHESISED_ROOTS: &[&str] = &[
    "kind",
    "apiVersion",
    "auditID",
    "verb",
    "objectRef",
    "requestURI",
    "user",
    "sourceIPs",
    "userAgent",
    "responseStatus",
    "requestReceivedTimestamp",
    "stageTimestamp",
    "p_log_type",
    "p_source_label",
    "p_event_time",
];

/// True when the last key of a root path is written verbatim in the record.
fn keys_are_verbatim(path: &FieldPath) -> bool {
    let Some(Segment::Key(root)) = path.segments.first() else {
        return false;
    };
    if root == "requestObject" || root == "responseObject" {
        return path.segments.len() > 1;
    }
    !SYNTHESISED_ROOTS.contains(&root.as_str())
}

/// True when a root path's text is copied verbatim from the source record.
fn path_is_copied(path: &FieldPath) -> bool {
    let mut segs = path.segments.iter();
    let Some(Segment::Key(root)) = segs.next() else {
        return false;
    };
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

/// True for a clause that filters almost nothing: one of its literals is
/// shorter than 3 bytes, or all of them are values found in most audit events.
fn is_weak(clause: &LitSet) -> bool {
    !clause.is_empty()
        && (clause.iter().any(|(_, n)| *n < 3)
            || clause
                .iter()
                .all(|(l, _)| COMMON.contains(&pattern_text(l).to_ascii_lowercase().as_str())))
}

/// A stored literal without its case-insensitivity mark.
fn pattern_text(l: &str) -> &str {
    l.strip_prefix(CI_MARK).unwrap_or(l)
}

/// The longest run of characters no JSON encoder escapes.
fn longest_safe_piece(s: &str) -> Option<String> {
    let unsafe_char = |c: char| {
        !c.is_ascii()
            || c.is_ascii_control()
            || matches!(c, '"' | '\\' | '/' | '<' | '>' | '&' | '\'')
    };
    s.split(unsafe_char)
        .max_by_key(|p| p.len())
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_pieces() {
        assert_eq!(
            longest_safe_piece("serviceaccounts").as_deref(),
            Some("serviceaccounts")
        );
        assert_eq!(
            longest_safe_piece("/api/v1/secrets").as_deref(),
            Some("secrets")
        );
        assert_eq!(longest_safe_piece("a&bcd").as_deref(), Some("bcd"));
        assert_eq!(longest_safe_piece("/"), None);
    }
}
