//! The literal prefilter: rejects records before they are parsed.
//!
//! For each rule, and for each log type it applies to, kadet computes
//! *clauses*: sets of byte strings of which any record the rule can match
//! must contain at least one (for the seed rule: `token`, `serviceaccounts`,
//! `create`). A record that fails a clause of every rule is dropped unparsed;
//! for the others, only the rules whose clauses all hold are evaluated.
//!
//! Scanning a file of JSON lines works in two steps:
//! 1. one search over the whole chunk for each rule's most selective clause
//!    (its *anchor*), plus the keys that mark a record of another shape
//!    (`protoPayload`, `logEvents`, ...) and the escapes that could hide a
//!    literal. It is a leftmost-longest Aho-Corasick search (SIMD "Teddy"
//!    for case-sensitive literals), restarted one byte after each match so
//!    overlapping literals are all seen;
//! 2. for each line with an anchor, the rules anchored there have their
//!    other clauses checked with a substring search on that line only.
//!
//! Lines with no anchor are passed over unless some rule must see every
//! record of the log type such lines decode to (the *presumed* type: plain
//! audit events are `Kubernetes.Audit`, or `Amazon.EKS.Audit` under
//! `--input-format eks-cloudwatch`). Records of other shapes and containers
//! are decoded, and each event is checked against the clauses of its own log
//! type ([`Prefilter::candidates`]).
//!
//! The prefilter is **sound**: it never drops a record that full evaluation
//! would match. How:
//! - only positive conditions give literals; negations, numeric ranges, IP,
//!   regex and existence tests give none ("anything may match");
//! - `All` keeps its most selective children, `Any` the union of all children
//!   (and gives nothing if one child has none);
//! - conditions on `p_log_type` are decided per log type, and a rule gives no
//!   clauses for a log type it does not apply to;
//! - fields kadet derives rather than copies from the source record
//!   (`p_*`, `kind`, `apiVersion`, `requestURI`, `objectRef.apiGroup`,
//!   `objectRef.apiVersion`, `responseStatus`) give no literals, because for
//!   some sources (GKE) their text is not in the record; the one exception is
//!   `responseStatus.code` compared to a non-zero integer, which every decoder
//!   copies as written;
//! - an integer compared for equality gives its significant digits, with and
//!   without a decimal point inside them (`403`, `4.03`, `40.3`: every JSON or
//!   string spelling of 403 contains one of them), and a record with a run of
//!   nines (`402.99999999999999`, which rounds to 403) passes to every rule;
//! - a literal is cut at every character a JSON encoder may escape (`"`, `\`,
//!   `/`, `<`, `>`, `&`, `'`, control and non-ASCII characters) and the longest
//!   piece is used;
//! - a record with a `\u00XX` escape of a character that occurs in any
//!   literal or marker (or of a backslash, for JSON inside a JSON string) is
//!   passed to every rule.

use crate::expr::{is_private, ElementMode, Expr, IpTest, Literal, StrOp, Test};
use crate::path::{FieldPath, Segment};
use crate::rule::Rule;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Input, MatchKind};
use kadet_event::LogType;

/// Root paths whose text kadet may derive rather than copy from the record.
const DERIVED_ROOTS: &[&str] = &["kind", "apiVersion", "requestURI", "responseStatus"];

/// Top-level keys that make the decoder read a record as something other
/// than a plain audit event (Panther, CloudWatch, Azure, GKE). A line holding
/// one is decoded and its events checked against their own log type.
const SHAPE_MARKERS: &[&str] = &[
    "p_log_type",
    "logEvents",
    "messageType",
    "records",
    "category",
    "protoPayload",
];

/// The start of a JSON `\u00XX` escape.
const ESCAPE: &str = "\\u00";

/// A run of nines: a decimal that rounds to an integer literal without
/// containing its digits (`402.99999999999999` is 403 as a double).
const NINES: &str = "999999999";

/// The pseudo-literal of an IP address test: the record holds the text of
/// an IP address that is not private (found by a scan, not a substring).
const IP_LITERAL: &str = "<non-private IP address>";

/// Bytes of IP address text (for the escape check).
const IP_BYTES: &str = "0123456789abcdefABCDEF.:";

/// Integer literals at or above this many digits give no clause (the run of
/// nines above only covers rounding for smaller ones).
const MAX_INTEGER_LITERAL: f64 = 1e6;

/// Which rules to evaluate for a record; also the scratch space the
/// prefilter uses, so a worker reuses one and allocates nothing per record.
#[derive(Debug, Clone, Default)]
pub struct RuleMask {
    bits: Vec<bool>,
    /// Per literal: 0 not looked for yet, 1 present, 2 absent.
    found: Vec<u8>,
    any: bool,
}

const UNKNOWN: u8 = 0;
const PRESENT: u8 = 1;
const ABSENT: u8 = 2;

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

    fn reset(&mut self, n_rules: usize, n_literals: usize) {
        self.bits.clear();
        self.bits.resize(n_rules, false);
        self.found.clear();
        self.found.resize(n_literals, UNKNOWN);
        self.any = false;
    }

    fn set(&mut self, i: usize) {
        self.bits[i] = true;
        self.any = true;
    }

    fn set_all(&mut self) {
        self.bits.iter_mut().for_each(|b| *b = true);
        self.any = !self.bits.is_empty();
    }
}

/// A rule's requirement: every clause must have one of its literals present.
type Clauses = Vec<Vec<usize>>;

/// What a rule needs of a record of one log type.
#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    /// The rule cannot match records of this type.
    Never,
    /// Nothing can be said: every record is evaluated.
    Always,
    /// Every clause must have one of its literals in the record.
    Clauses(Clauses),
}

/// How often literals occur in audit records (the fraction of records
/// holding them, lower-cased), measured on the benchmark corpus's mix of
/// controller, kubelet, node and human traffic. Used only to choose which
/// clause to search for first and to order the others: the result is the
/// same whichever is picked. Literals not listed count as rare.
const FREQUENCY: &[(&str, f32)] = &[
    ("verb", 1.0),
    ("v1", 1.0),
    ("user", 1.0),
    ("username", 1.0),
    ("system:", 1.0),
    ("stage", 1.0),
    ("requestreceived", 1.0),
    ("request", 1.0),
    ("name", 1.0),
    ("kubernetes", 1.0),
    ("groups", 1.0),
    ("get", 1.0),
    ("event", 1.0),
    ("authenticated", 1.0),
    ("metadata", 1.0),
    ("status", 1.0),
    ("responsecomplete", 1.0),
    ("code", 1.0),
    ("annotations", 1.0),
    ("allow", 1.0),
    ("resource", 1.0),
    ("200", 0.9),
    ("kube-", 0.8),
    ("uid", 0.7),
    ("namespaces", 0.65),
    ("namespace", 0.65),
    ("node", 0.6),
    ("nodes", 0.45),
    ("kube-system", 0.45),
    ("kubelet", 0.4),
    ("system:node", 0.4),
    ("system:nodes", 0.4),
    ("system:node:", 0.4),
    ("leases", 0.35),
    ("update", 0.35),
    ("serviceaccount", 0.35),
    ("serviceaccounts", 0.35),
    ("system:serviceaccount:", 0.35),
    ("true", 0.25),
    ("watch", 0.25),
    ("kube-node-lease", 0.2),
    ("pods", 0.15),
    ("list", 0.1),
    ("201", 0.1),
    ("create", 0.08),
    ("configmaps", 0.07),
    ("endpoints", 0.07),
    ("spec", 0.07),
    ("apps", 0.07),
    ("patch", 0.05),
    ("endpointslices", 0.04),
    ("services", 0.04),
    ("events", 0.04),
    ("secrets", 0.03),
    ("default", 0.03),
    ("eks:", 0.03),
    ("type", 0.03),
    ("false", 0.02),
    ("resources", 0.02),
    ("exec", 0.02),
    ("delete", 0.01),
    ("token", 0.01),
    ("add", 0.01),
];

/// A rule may be anchored on a clause this rare (or its rarest) when the
/// same clause anchors other rules: one literal searched for instead of many.
const SHARED_ANCHOR_FREQUENCY: f32 = 0.1;

/// Above this estimated frequency a clause is *weak*: a poor first test.
const WEAK_FREQUENCY: f32 = 0.2;

/// The estimated fraction of records holding `literal`.
fn literal_frequency(literal: &str) -> f32 {
    if literal == IP_LITERAL {
        return 0.0;
    }
    let text = pattern_text(literal)
        .trim_start_matches('"')
        .to_ascii_lowercase();
    match FREQUENCY.iter().find(|(l, _)| *l == text) {
        Some((_, f)) => *f,
        // Very short literals hide in other words; others are rare.
        None if text.len() < 3 => 1.0,
        None if text.len() < 5 => 0.02,
        None => 0.005,
    }
}

/// The estimated fraction of records satisfying a clause (one of its
/// literals present).
fn clause_frequency<'a>(literals: impl IntoIterator<Item = &'a str>) -> f32 {
    literals
        .into_iter()
        .map(literal_frequency)
        .sum::<f32>()
        .min(1.0)
}

/// How a record's bytes are searched for one literal.
#[derive(Debug, Clone)]
enum LiteralFinder {
    /// Case-sensitive: SIMD substring search.
    Exact(Box<memchr::memmem::Finder<'static>>),
    /// ASCII case-insensitive.
    Folded(Box<AhoCorasick>),
    /// The text of a non-private IP address.
    NonPrivateIp,
}

impl LiteralFinder {
    fn new(literal: &str) -> Option<LiteralFinder> {
        if literal == IP_LITERAL {
            return Some(LiteralFinder::NonPrivateIp);
        }
        match literal.strip_prefix(CI_MARK) {
            None => Some(LiteralFinder::Exact(Box::new(
                memchr::memmem::Finder::new(literal.as_bytes()).into_owned(),
            ))),
            Some(text) => AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .build([text])
                .ok()
                .map(|ac| LiteralFinder::Folded(Box::new(ac))),
        }
    }

    fn is_in(&self, bytes: &[u8]) -> bool {
        match self {
            LiteralFinder::Exact(f) => f.find(bytes).is_some(),
            LiteralFinder::Folded(ac) => ac.is_match(bytes),
            LiteralFinder::NonPrivateIp => {
                let mut any = false;
                find_non_private_ips(bytes, |_| {
                    any = true;
                    false
                });
                any
            }
        }
    }
}

/// Calls `found` with the offset of each IP address text in `text` that is
/// not private, until it returns `false`. A superset of what the evaluator
/// sees: every string value that parses (trimmed) as such an address is
/// written in the record as a maximal run of address characters, perhaps
/// with the hex digits of a `\uXXXX` escape (trimmed whitespace) glued
/// before it. Runs of IPv6 characters need two colons.
fn find_non_private_ips(text: &[u8], mut found: impl FnMut(usize) -> bool) {
    fn scan(
        text: &[u8],
        sep: u8,
        min_seps: usize,
        max_len: usize,
        in_run: fn(u8) -> bool,
        parse: fn(&[u8]) -> Option<std::net::IpAddr>,
        found: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        let mut done = 0;
        for at in memchr::memchr_iter(sep, text) {
            // A separator with no address character on either side (the
            // `":"` between keys and values, `k8s.io`) starts no address.
            if at < done
                || !(at > 0 && in_run(text[at - 1])
                    || text.get(at + 1).copied().is_some_and(in_run))
            {
                continue;
            }
            let mut s = at;
            while s > 0 && in_run(text[s - 1]) {
                s -= 1;
            }
            let mut e = at + 1;
            while e < text.len() && in_run(text[e]) {
                e += 1;
            }
            done = e;
            let run = &text[s..e];
            if run.len() > max_len + 4 || run.iter().filter(|&&b| b == sep).count() < min_seps {
                continue;
            }
            // The hex digits of a `\uXXXX` escape just before the run are
            // glued to it: try the run without them too.
            let glued = (0..4)
                .find(|&j| {
                    s >= j + 2
                        && text[s - j - 2] == b'\\'
                        && text[s - j - 1] == b'u'
                        && text.len() >= s - j + 4
                        && text[s - j..s - j + 4].iter().all(u8::is_ascii_hexdigit)
                })
                .map_or(0, |j| 4 - j);
            let public = [0, glued]
                .into_iter()
                .filter(|&k| k <= run.len())
                .any(|k| parse(&run[k..]).is_some_and(|ip| !is_private(ip)));
            if public && !found(s) {
                return false;
            }
        }
        true
    }
    let v4 = |b: u8| b.is_ascii_digit() || b == b'.';
    let v6 = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
    // IPv6 text has a `::` or at least six colons (seven, or six and an
    // IPv4 tail): times of day (`10:00:00.123`) are not parsed.
    let parse_v6 = |run: &[u8]| {
        let colons = run.iter().filter(|&&b| b == b':').count();
        if colons < 6 && !run.windows(2).any(|w| w == b"::") {
            return None;
        }
        std::str::from_utf8(run)
            .ok()
            .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
            .map(std::net::IpAddr::V6)
    };
    if scan(text, b'.', 3, 15, v4, parse_dotted_quad, &mut found) {
        scan(text, b':', 2, 45, v6, parse_v6, &mut found);
    }
}

/// Parses `a.b.c.d` (each part 1 to 3 digits, at most 255). Accepts at
/// least what the standard library accepts, with the same value.
fn parse_dotted_quad(run: &[u8]) -> Option<std::net::IpAddr> {
    let mut octets = [0u8; 4];
    let mut parts = run.split(|&b| b == b'.');
    for o in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 {
            return None;
        }
        let mut v = 0u16;
        for &b in part {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u16::from(b - b'0');
        }
        *o = u8::try_from(v).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(std::net::IpAddr::from(octets))
}

/// What a pattern of the line search stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternKind {
    /// A rule's anchor literal (its id).
    Literal(usize),
    /// A key that marks a record of another shape.
    Marker,
    /// A `\u00` escape.
    Escape,
    /// A run of nines.
    Nines,
}

/// One search of the line plan.
#[derive(Debug, Clone)]
enum AnchorSearch {
    /// A single case-sensitive literal: SIMD substring search.
    One(Box<memchr::memmem::Finder<'static>>),
    /// Leftmost-longest Aho-Corasick (Teddy when case-sensitive and few).
    Many(AhoCorasick),
}

/// The whole-chunk search for records presumed to be of one log type.
#[derive(Debug, Clone)]
struct LinePlan {
    presumed: LogType,
    /// Case-sensitive patterns.
    exact: Option<AnchorSearch>,
    /// ASCII-case-insensitive patterns; their ids follow those of `exact`.
    folded: Option<AnchorSearch>,
    n_exact: usize,
    /// The pattern id given to hits of the IP address scan, when a rule is
    /// anchored on it.
    ip_pattern: Option<u32>,
    /// The escape and nines searches, with their pattern ids.
    hazards: Vec<(memchr::memmem::Finder<'static>, u32)>,
    /// Per pattern: what it is.
    kinds: Vec<PatternKind>,
    /// Per pattern: the patterns of the same search that occur inside it
    /// (itself included), so a match stands for all of them.
    contained: Vec<Vec<usize>>,
    /// Per literal id: the rules anchored on it.
    anchor_rules: Vec<Vec<usize>>,
    /// Rules evaluated on every record of the presumed type.
    always: Vec<usize>,
}

/// What to do with one line, after the line search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineVerdict {
    /// No rule can match: pass over it unparsed.
    Reject,
    /// Decode it; its events of the presumed log type are evaluated against
    /// the rules in the mask.
    Admit,
    /// Decode it and check each event against its own log type (another
    /// shape, or an escape that could hide a literal).
    Decode,
}

/// One match of the line search: byte offset in the chunk and pattern id.
pub type LineHit = (usize, u32);

/// The compiled prefilter for a set of rules.
#[derive(Debug, Clone)]
pub struct Prefilter {
    /// Overlapping search over all literals, the escape and the nines (for
    /// [`Prefilter::candidates`]).
    ac: Option<AhoCorasick>,
    /// Per rule, per log type (in [`LogType::ALL`] order).
    requirements: Vec<[Requirement; 4]>,
    /// Per pattern of `ac`: what it stands for.
    ac_kinds: Vec<PatternKind>,
    /// Bytes that occur in literals and markers (for the escape check).
    literal_bytes: [bool; 128],
    finders: Vec<LiteralFinder>,
    line_plan: Option<LinePlan>,
    n_rules: usize,
    /// The literals (case-insensitive ones lower-cased and marked `(?i)`),
    /// indexed by id.
    pub literals: Vec<String>,
    /// Per rule: its clauses as text for the log type it is shown under
    /// (`Kubernetes.Audit` if it applies, else its first), or `None` when it
    /// cannot be prefiltered.
    pub rule_literals: Vec<Option<Vec<Vec<String>>>>,
    disabled: bool,
}

/// At most this many clauses per rule and log type: the most selective ones.
const MAX_CLAUSES: usize = 4;

fn type_index(t: LogType) -> usize {
    LogType::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

impl Prefilter {
    /// Builds the prefilter for `rules`, for plain audit-event lines read as
    /// `Kubernetes.Audit` (auto-detection).
    pub fn build(rules: &[Rule]) -> Prefilter {
        Self::build_for(rules, Some(LogType::KubernetesAudit))
    }

    /// Builds the prefilter for `rules`. `presumed` is the log type a plain
    /// audit-event line decodes to (`None` when the input format is one whose
    /// lines are never plain events: every record is then decoded first).
    pub fn build_for(rules: &[Rule], presumed: Option<LogType>) -> Prefilter {
        let per_type: Vec<[RuleClauses; 4]> = rules
            .iter()
            .map(|r| LogType::ALL.map(|t| rule_clauses(r, t)))
            .collect();
        let mut literals: Vec<String> = Vec::new();
        let mut literal_bytes = [false; 128];
        let mut mark_bytes = |text: &str| {
            for b in text.bytes() {
                literal_bytes[usize::from(b.to_ascii_lowercase() & 0x7f)] = true;
                literal_bytes[usize::from(b.to_ascii_uppercase() & 0x7f)] = true;
            }
        };
        for m in SHAPE_MARKERS {
            mark_bytes(m);
        }
        let mut requirements = Vec::with_capacity(rules.len());
        for types in &per_type {
            requirements.push(types.clone().map(|t| {
                match t {
                    None => Requirement::Never,
                    Some(None) => Requirement::Always,
                    Some(Some(clauses)) => Requirement::Clauses(
                        clauses
                            .iter()
                            .map(|clause| {
                                clause
                                    .iter()
                                    .map(|l| {
                                        mark_bytes(if l == IP_LITERAL {
                                            IP_BYTES
                                        } else {
                                            pattern_text(l)
                                        });
                                        literals.iter().position(|x| x == l).unwrap_or_else(|| {
                                            literals.push(l.clone());
                                            literals.len() - 1
                                        })
                                    })
                                    .collect()
                            })
                            .collect(),
                    ),
                }
            }));
        }
        let rule_literals = rules
            .iter()
            .zip(&per_type)
            .map(|(r, types)| {
                let shown = if r.applies_to(LogType::KubernetesAudit) {
                    0
                } else {
                    (0..4).find(|&i| types[i].is_some()).unwrap_or(0)
                };
                types[shown].clone().flatten()
            })
            .collect();
        let has_numbers = literals
            .iter()
            .any(|l| l != IP_LITERAL && pattern_text(l).bytes().any(|b| b.is_ascii_digit()));
        let mut patterns: Vec<&str> = Vec::new();
        let mut ac_kinds = Vec::new();
        for (i, l) in literals.iter().enumerate() {
            if l != IP_LITERAL {
                patterns.push(pattern_text(l));
                ac_kinds.push(PatternKind::Literal(i));
            }
        }
        patterns.push(ESCAPE);
        ac_kinds.push(PatternKind::Escape);
        if has_numbers {
            patterns.push(NINES);
            ac_kinds.push(PatternKind::Nines);
        }
        let ac = if ac_kinds.len() <= 2 && literals.is_empty() {
            None
        } else {
            // A DFA: the overlapping search over container events is the hot part.
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
        let finders: Option<Vec<LiteralFinder>> =
            literals.iter().map(|l| LiteralFinder::new(l)).collect();
        let disabled = (ac.is_none() && !literals.is_empty()) || finders.is_none();
        let mut p = Prefilter {
            ac,
            requirements,
            ac_kinds,
            literal_bytes,
            finders: finders.unwrap_or_default(),
            line_plan: None,
            n_rules: rules.len(),
            literals,
            rule_literals,
            disabled,
        };
        if !p.disabled {
            p.line_plan = presumed.and_then(|t| p.plan_lines(t, has_numbers));
        }
        p
    }

    /// A prefilter that passes everything (for `--no-prefilter`).
    pub fn disabled(n_rules: usize) -> Prefilter {
        Prefilter {
            ac: None,
            requirements: vec![[const { Requirement::Always }; 4]; n_rules],
            ac_kinds: Vec::new(),
            literal_bytes: [false; 128],
            finders: Vec::new(),
            line_plan: None,
            n_rules,
            literals: Vec::new(),
            rule_literals: vec![None; n_rules],
            disabled: true,
        }
    }

    /// Picks each rule's anchor for records of type `presumed` and builds the
    /// line search. `None` when a line search cannot help (no anchor at all).
    fn plan_lines(&self, presumed: LogType, has_numbers: bool) -> Option<LinePlan> {
        let ti = type_index(presumed);
        // The clause the fewest records satisfy.
        let rank = |clause: &Vec<usize>| {
            std::cmp::Reverse(
                (clause_frequency(clause.iter().map(|&l| self.literals[l].as_str())) * 1e6) as u64,
            )
        };
        let freq = |clause: &Vec<usize>| {
            clause_frequency(clause.iter().map(|&l| self.literals[l].as_str()))
        };
        let mut always = Vec::new();
        // Per rule: the clauses good enough to search for (rare, or its best).
        let mut eligible: Vec<(usize, Vec<&Vec<usize>>)> = Vec::new();
        for (r, req) in self.requirements.iter().enumerate() {
            match &req[ti] {
                Requirement::Never => {}
                Requirement::Always => always.push(r),
                Requirement::Clauses(clauses) => {
                    let Some(best) = clauses.iter().max_by_key(|c| rank(c)) else {
                        continue;
                    };
                    let bar = freq(best).max(SHARED_ANCHOR_FREQUENCY);
                    eligible.push((r, clauses.iter().filter(|c| freq(c) <= bar).collect()));
                }
            }
        }
        // Fewer anchor literals make a faster search: greedily pick the
        // clause that serves the most rules (the rarer on ties), until every
        // rule has one.
        let mut anchor_rules: Vec<Vec<usize>> = vec![Vec::new(); self.literals.len()];
        let mut anchors: Vec<usize> = Vec::new();
        while !eligible.is_empty() {
            let mut best: Option<(&Vec<usize>, usize)> = None;
            for (_, cs) in &eligible {
                for &c in cs {
                    let n = eligible.iter().filter(|(_, o)| o.contains(&c)).count();
                    let better = match best {
                        None => true,
                        Some((b, bn)) => n > bn || (n == bn && rank(c) > rank(b)),
                    };
                    if better {
                        best = Some((c, n));
                    }
                }
            }
            let Some((chosen, _)) = best else { break };
            let chosen = chosen.clone();
            eligible.retain(|(r, cs)| {
                if !cs.contains(&&chosen) {
                    return true;
                }
                for &l in &chosen {
                    anchor_rules[l].push(*r);
                    if !anchors.contains(&l) {
                        anchors.push(l);
                    }
                }
                false
            });
        }
        if anchors.is_empty() && !always.is_empty() {
            return None;
        }
        let mut exact: Vec<(String, PatternKind)> = Vec::new();
        let mut folded: Vec<(String, PatternKind)> = Vec::new();
        let mut ip_anchor = None;
        for &l in &anchors {
            let lit = &self.literals[l];
            if lit == IP_LITERAL {
                ip_anchor = Some(l);
                continue;
            }
            match lit.strip_prefix(CI_MARK) {
                Some(text) => folded.push((text.to_string(), PatternKind::Literal(l))),
                None => exact.push((lit.clone(), PatternKind::Literal(l))),
            }
        }
        // A line of another shape needs its own log type's clauses, unless
        // every rule asks the same of every log type it applies to.
        let needs_markers = self.requirements.iter().any(|req| {
            req.iter()
                .any(|r| !matches!(r, Requirement::Never) && *r != req[ti])
        });
        if needs_markers {
            exact.extend(
                SHAPE_MARKERS
                    .iter()
                    .map(|m| (m.to_string(), PatternKind::Marker)),
            );
        }
        let build = |pats: &[(String, PatternKind)], fold: bool| -> Option<Option<AnchorSearch>> {
            match pats {
                [] => return Some(None),
                [(one, _)] if !fold => {
                    return Some(Some(AnchorSearch::One(Box::new(
                        memchr::memmem::Finder::new(one.as_bytes()).into_owned(),
                    ))))
                }
                _ => {}
            }
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(fold)
                .match_kind(MatchKind::LeftmostLongest)
                .build(pats.iter().map(|(t, _)| t.as_str()))
                .ok()
                .map(|ac| Some(AnchorSearch::Many(ac)))
        };
        let exact_ac = build(&exact, false)?;
        let folded_ac = build(&folded, true)?;
        let closure = |pats: &[(String, PatternKind)], fold: bool, base: usize| {
            pats.iter()
                .map(|(outer, _)| {
                    let outer = if fold {
                        outer.to_ascii_lowercase()
                    } else {
                        outer.clone()
                    };
                    pats.iter()
                        .enumerate()
                        .filter(|(_, (inner, _))| {
                            let inner = if fold {
                                inner.to_ascii_lowercase()
                            } else {
                                inner.clone()
                            };
                            outer.contains(&inner)
                        })
                        .map(|(j, _)| base + j)
                        .collect::<Vec<usize>>()
                })
                .collect::<Vec<_>>()
        };
        let mut contained = closure(&exact, false, 0);
        contained.extend(closure(&folded, true, exact.len()));
        let mut kinds: Vec<PatternKind> = exact.iter().chain(&folded).map(|(_, k)| *k).collect();
        // Then the IP scan's and the hazards' hits, each its own search.
        let mut own = |kind: PatternKind| {
            kinds.push(kind);
            contained.push(vec![kinds.len() - 1]);
            (kinds.len() - 1) as u32
        };
        let ip_pattern = ip_anchor.map(|l| own(PatternKind::Literal(l)));
        let mut hazards = vec![(
            memchr::memmem::Finder::new(ESCAPE.as_bytes()).into_owned(),
            own(PatternKind::Escape),
        )];
        if has_numbers {
            hazards.push((
                memchr::memmem::Finder::new(NINES.as_bytes()).into_owned(),
                own(PatternKind::Nines),
            ));
        }
        Some(LinePlan {
            presumed,
            exact: exact_ac,
            folded: folded_ac,
            n_exact: exact.len(),
            ip_pattern,
            hazards,
            kinds,
            contained,
            anchor_rules,
            always,
        })
    }

    /// The log type plain audit-event lines are presumed to decode to, when
    /// the line search is in use.
    pub fn presumed_type(&self) -> Option<LogType> {
        self.line_plan.as_ref().map(|p| p.presumed)
    }

    /// Searches a whole buffer of lines at once: every anchor literal, shape
    /// marker and escape, with its offset, sorted by offset. Returns `false`
    /// when there is no line search (every record must be decoded).
    pub fn search_lines(&self, data: &[u8], hits: &mut Vec<LineHit>) -> bool {
        hits.clear();
        let Some(plan) = &self.line_plan else {
            return false;
        };
        let run = |search: &AnchorSearch, base: usize, hits: &mut Vec<LineHit>| match search {
            AnchorSearch::One(f) => hits.extend(f.find_iter(data).map(|at| (at, base as u32))),
            AnchorSearch::Many(ac) => {
                let mut at = 0;
                while at < data.len() {
                    let Some(m) = ac.find(Input::new(data).span(at..data.len())) else {
                        break;
                    };
                    hits.push((m.start(), (base + m.pattern().as_usize()) as u32));
                    // Restart one byte on: every start position with a match
                    // is reported, with its longest pattern (the shorter
                    // ones that start there are its prefixes, covered by
                    // `contained`).
                    at = m.start() + 1;
                }
            }
        };
        let mut sorted = true;
        let mut then = |hits: &mut Vec<LineHit>, before: usize| {
            sorted = sorted && (before == 0 || hits.len() == before);
        };
        if let Some(s) = &plan.exact {
            run(s, 0, hits);
        }
        if let Some(s) = &plan.folded {
            let before = hits.len();
            run(s, plan.n_exact, hits);
            then(hits, before);
        }
        if let Some(ip) = plan.ip_pattern {
            let before = hits.len();
            find_non_private_ips(data, |at| {
                hits.push((at, ip));
                true
            });
            then(hits, before);
        }
        for (finder, id) in &plan.hazards {
            let before = hits.len();
            hits.extend(finder.find_iter(data).map(|at| (at, *id)));
            then(hits, before);
        }
        if !sorted {
            // A few sorted runs: the stable sort merges them in linear time.
            hits.sort();
        }
        true
    }

    /// Decides one line from its hits (those of [`Prefilter::search_lines`]
    /// that fall inside it; `line_start` is the line's offset in the
    /// buffer). On [`LineVerdict::Admit`], `mask` holds the rules to
    /// evaluate on the line's events of the presumed type.
    pub fn line_verdict(
        &self,
        line: &[u8],
        line_start: usize,
        hits: &[LineHit],
        mask: &mut RuleMask,
    ) -> LineVerdict {
        let Some(plan) = &self.line_plan else {
            return LineVerdict::Decode;
        };
        mask.reset(self.n_rules, self.literals.len());
        for &(at, p) in hits {
            for &q in &plan.contained[p as usize] {
                match plan.kinds[q] {
                    PatternKind::Literal(l) => mask.found[l] = PRESENT,
                    PatternKind::Marker | PatternKind::Nines => return LineVerdict::Decode,
                    PatternKind::Escape => {
                        if self.escape_hides_literal(&line[at.saturating_sub(line_start)..]) {
                            return LineVerdict::Decode;
                        }
                    }
                }
            }
        }
        for &r in &plan.always {
            mask.set(r);
        }
        let ti = type_index(plan.presumed);
        for &(_, p) in hits {
            for &q in &plan.contained[p as usize] {
                let PatternKind::Literal(l) = plan.kinds[q] else {
                    continue;
                };
                for &r in &plan.anchor_rules[l] {
                    if !mask.bits[r] && self.verify(&self.requirements[r][ti], line, mask) {
                        mask.set(r);
                    }
                }
            }
        }
        if mask.any {
            LineVerdict::Admit
        } else {
            LineVerdict::Reject
        }
    }

    /// True when `line` satisfies every clause (looking literals up once).
    fn verify(&self, req: &Requirement, line: &[u8], mask: &mut RuleMask) -> bool {
        let clauses = match req {
            Requirement::Never => return false,
            Requirement::Always => return true,
            Requirement::Clauses(c) => c,
        };
        clauses.iter().all(|clause| {
            clause.iter().any(|&l| {
                if mask.found[l] == UNKNOWN {
                    mask.found[l] = if self.finders[l].is_in(line) {
                        PRESENT
                    } else {
                        ABSENT
                    };
                }
                mask.found[l] == PRESENT
            })
        })
    }

    /// Fills `mask` with the rules to evaluate for one event of `log_type`
    /// (`bytes`: the record or event text holding it).
    pub fn candidates(&self, bytes: &[u8], log_type: LogType, mask: &mut RuleMask) {
        mask.reset(self.n_rules, self.literals.len());
        if self.disabled {
            return mask.set_all();
        }
        // What the search finds is present, the rest absent; the IP
        // pseudo-literal is looked for only if a clause needs it.
        for (f, l) in mask.found.iter_mut().zip(&self.literals) {
            *f = if l == IP_LITERAL { UNKNOWN } else { ABSENT };
        }
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(bytes) {
                match self.ac_kinds[m.pattern().as_usize()] {
                    PatternKind::Escape => {
                        if self.escape_hides_literal(&bytes[m.start()..]) {
                            return mask.set_all();
                        }
                    }
                    PatternKind::Nines | PatternKind::Marker => return mask.set_all(),
                    PatternKind::Literal(l) => mask.found[l] = PRESENT,
                }
            }
        }
        let ti = type_index(log_type);
        for r in 0..self.n_rules {
            if self.verify(&self.requirements[r][ti], bytes, mask) {
                mask.set(r);
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

/// A rule's clauses for one log type, as text (see [`rule_clauses`]).
type RuleClauses = Option<Option<Vec<Vec<String>>>>;

/// A rule's clauses for records of one log type, as literal text: `None`
/// when the rule does not apply to the type, `Some(None)` when nothing can
/// be said (every record is evaluated).
fn rule_clauses(rule: &Rule, t: LogType) -> RuleClauses {
    if !rule.applies_to(t) {
        return None;
    }
    let Some(mut cnf) = required(&rule.detection, t) else {
        return Some(None);
    };
    if cnf.iter().any(|c| c.is_empty()) {
        // A clause no record can satisfy: the rule never matches this type.
        return None;
    }
    // Strong clauses first (the most selective first), then the weak ones,
    // which still narrow down which rules run.
    cnf.sort_by_key(|c| (!is_weak(c), score(c)));
    cnf.reverse();
    cnf.dedup();
    cnf.truncate(MAX_CLAUSES);
    Some(Some(
        cnf.into_iter()
            .map(|c| c.into_iter().map(|(s, _)| s).collect())
            .collect(),
    ))
}

/// A literal set: each entry with its length (the shortest drives
/// selectivity). Case-insensitive literals are stored lower-cased with a
/// `(?i)` prefix so they never merge with a case-sensitive one.
type LitSet = Vec<(String, usize)>;

/// Marks a literal that must be matched ignoring ASCII case.
const CI_MARK: &str = "(?i)";

/// Higher is more selective: rarer, then longer literals. An empty clause
/// (no record can satisfy it) is the most selective of all.
fn score(set: &LitSet) -> (std::cmp::Reverse<u64>, usize) {
    if set.is_empty() {
        return (std::cmp::Reverse(0), usize::MAX);
    }
    (
        std::cmp::Reverse((clause_frequency(set.iter().map(|(l, _)| l.as_str())) * 1e6) as u64),
        set.iter().map(|(_, n)| *n).min().unwrap_or(0),
    )
}

/// Clauses any record of log type `t` matching `e` satisfies (each clause:
/// one of its literals is in the record), or `None` when nothing can be
/// said. An empty clause means no record can match.
fn required(e: &Expr, t: LogType) -> Option<Vec<LitSet>> {
    required_in(e, Scope::Root, t)
}

/// Where an expression's paths start.
#[derive(Clone, Copy)]
enum Scope {
    /// The event.
    Root,
    /// A list element; `keys_verbatim` when its object keys are the source's own.
    Element { keys_verbatim: bool },
}

fn required_in(e: &Expr, scope: Scope, t: LogType) -> Option<Vec<LitSet>> {
    match e {
        Expr::All(xs) => {
            let mut out = Vec::new();
            for x in xs {
                if let Some(cnf) = required_in(x, scope, t) {
                    out.extend(cnf);
                }
            }
            if is_non_private_ip_test(xs, scope) {
                out.push(vec![(IP_LITERAL.to_string(), 8)]);
            }
            (!out.is_empty()).then_some(out)
        }
        Expr::Any(xs) | Expr::OnlyOne(xs) => {
            // Each alternative implies its own most selective clause.
            let mut union: LitSet = Vec::new();
            for x in xs {
                let best = required_in(x, scope, t)?.into_iter().max_by_key(score)?;
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
        Expr::Named { expr, .. } => required_in(expr, scope, t),
        Expr::Elements { mode, exprs, path } => match (mode, scope) {
            (ElementMode::Any | ElementMode::OnlyOne, Scope::Root) if path_is_copied(path) => {
                let keys_verbatim = keys_are_verbatim(path);
                required_in(
                    &Expr::All(exprs.clone()),
                    Scope::Element { keys_verbatim },
                    t,
                )
            }
            (ElementMode::Any | ElementMode::OnlyOne, Scope::Element { keys_verbatim }) => {
                required_in(
                    &Expr::All(exprs.clone()),
                    Scope::Element { keys_verbatim },
                    t,
                )
            }
            _ => None,
        },
        Expr::Leaf {
            path, test, negate, ..
        } => {
            if matches!(scope, Scope::Root) {
                if let Some(holds) = log_type_test(path, test, t) {
                    // Decided by the log type alone.
                    return (holds == *negate).then(|| vec![Vec::new()]);
                }
            }
            let status_code = matches!(scope, Scope::Root) && is_status_code(path);
            let copied = match scope {
                Scope::Root => path_is_copied(path) || status_code,
                Scope::Element { .. } => true,
            };
            let mut clauses = Vec::new();
            if copied && !*negate {
                // Outside GKE (whose objectRef and verb come from paths and
                // method names) a string value is written as a JSON string.
                let quoted = t != LogType::GcpAudit;
                if let Some(c) = value_clause(test, status_code, quoted) {
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

/// True for `All` children that say "this field is an IP address, and not a
/// private one" (`IsIPAddress` beside `None: [IsIPAddressPrivate]` on the
/// same copied field): the record then holds a non-private address's text.
fn is_non_private_ip_test(xs: &[Expr], scope: Scope) -> bool {
    let copied = |p: &FieldPath| match scope {
        Scope::Root => path_is_copied(p),
        Scope::Element { .. } => true,
    };
    xs.iter().any(|x| {
        let Expr::Leaf {
            path,
            test: Test::Ip(IpTest::Any | IpTest::V4 | IpTest::V6),
            negate: false,
            ..
        } = x
        else {
            return false;
        };
        copied(path)
            && xs.iter().any(|y| match y {
                Expr::None(inner) => inner.iter().any(|z| {
                    matches!(z, Expr::Leaf { path: q, test: Test::Ip(IpTest::Private), negate: false, .. } if q == path)
                }),
                Expr::Leaf {
                    path: q,
                    test: Test::Ip(IpTest::Private),
                    negate: true,
                    ..
                } => q == path,
                _ => false,
            })
    })
}

/// For a condition on `p_log_type`: whether it holds for log type `t`
/// (`None` for conditions other than equality).
fn log_type_test(path: &FieldPath, test: &Test, t: LogType) -> Option<bool> {
    if !matches!(path.segments.as_slice(), [Segment::Key(k)] if k == "p_log_type") {
        return None;
    }
    let Test::Str {
        op: StrOp::Equals,
        ci,
        values,
    } = test
    else {
        return None;
    };
    let name = if *ci {
        t.name().to_lowercase()
    } else {
        t.name().to_string()
    };
    Some(
        values
            .iter()
            .any(|v| matches!(v, Literal::Str(s) if *s == name)),
    )
}

/// `responseStatus.code`: derived, but copied as written by every decoder
/// when it is not zero (GKE writes 0 for a status without a code).
fn is_status_code(path: &FieldPath) -> bool {
    matches!(path.segments.as_slice(), [Segment::Key(a), Segment::Key(b)] if a == "responseStatus" && b == "code")
}

/// Every decimal spelling of the integer `x` (JSON number, or a string that
/// parses as one, in any notation) contains its significant digits, with at
/// most one decimal point among them: `403` → `403`, `4.03`, `40.3`. `None`
/// for non-integers, zero, and integers too large for the rounding check.
fn integer_spellings(x: f64) -> Option<Vec<String>> {
    if x.fract() != 0.0 || x == 0.0 || x.abs() >= MAX_INTEGER_LITERAL {
        return None;
    }
    let digits = format!("{}", x.abs() as u64);
    let sig = digits.trim_end_matches('0');
    let mut out = vec![sig.to_string()];
    for i in 1..sig.len() {
        out.push(format!("{}.{}", &sig[..i], &sig[i..]));
    }
    Some(out)
}

/// The literal clause of a positive string condition (or of a list of
/// single IPv4 addresses, whose dotted text is written as is). Integers
/// compared for equality give their spellings; with `numbers_only` (a
/// derived field copied only for non-zero numbers) nothing else does.
fn value_clause(test: &Test, numbers_only: bool, quoted: bool) -> Option<LitSet> {
    if numbers_only
        && !matches!(
            test,
            Test::Str {
                op: StrOp::Equals,
                ..
            }
        )
    {
        return None;
    }
    if let Test::Ip(IpTest::Public) = test {
        return Some(vec![(IP_LITERAL.to_string(), 8)]);
    }
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
    let Test::Str { values, ci, op } = test else {
        return None;
    };
    let mut out: LitSet = Vec::new();
    for v in values {
        let number = match v {
            Literal::Num(n) => Some(*n),
            Literal::Str(s) => s.trim().parse::<f64>().ok(),
            _ => return None,
        };
        if let Some(n) = number {
            if *op != StrOp::Equals {
                return None;
            }
            for s in integer_spellings(n)? {
                let len = s.len();
                if !out.iter().any(|(x, _)| *x == s) {
                    out.push((s, len));
                }
            }
            continue;
        }
        if numbers_only {
            return None;
        }
        let Literal::Str(s) = v else { return None };
        let mut piece = longest_safe_piece(s)?;
        let n = piece.len();
        // A value that starts with the piece follows a quote (`"x`, or `\"x`
        // inside a JSON string) unless it is a bool spelled as a string.
        if quoted
            && matches!(op, StrOp::Equals | StrOp::StartsWith)
            && s.starts_with(piece.as_str())
            && !s.eq_ignore_ascii_case("true")
            && !s.eq_ignore_ascii_case("false")
        {
            piece.insert(0, '"');
        }
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

/// True for a clause that filters little: its literals are in many records.
fn is_weak(clause: &LitSet) -> bool {
    !clause.is_empty() && clause_frequency(clause.iter().map(|(l, _)| l.as_str())) >= WEAK_FREQUENCY
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

    #[test]
    fn integer_spellings_cover_every_notation() {
        let s = integer_spellings(403.0).expect("an integer");
        assert_eq!(s, vec!["403", "4.03", "40.3"]);
        for text in [
            "403", "403.0", "4.03e2", "40.3E1", "4030e-1", "0.403e3", "+403",
        ] {
            assert_eq!(text.parse::<f64>().ok(), Some(403.0), "{text}");
            assert!(s.iter().any(|l| text.contains(l.as_str())), "{text}");
        }
        // Trailing zeros are not significant: 400 is "4", "4e2", "400".
        assert_eq!(integer_spellings(400.0), Some(vec!["4".to_string()]));
        assert_eq!(integer_spellings(0.0), None);
        assert_eq!(integer_spellings(1.5), None);
        assert_eq!(integer_spellings(1e7), None);
    }

    fn ips(text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        find_non_private_ips(text.as_bytes(), |at| {
            out.push(at);
            true
        });
        out
    }

    #[test]
    fn non_private_addresses_are_found_in_the_text() {
        assert_eq!(ips(r#"{"sourceIPs":["8.8.8.8"]}"#), vec![15]);
        assert_eq!(
            ips(r#"{"sourceIPs":["10.0.0.1","172.16.6.116"]}"#),
            Vec::<usize>::new()
        );
        assert_eq!(ips(r#"{"ip":"2600:1f18::1"}"#).len(), 1);
        assert!(!ips(r#"{"ip":"::ffff:8.8.8.8"}"#).is_empty());
        assert!(
            ips(r#"{"ip":"fd00::1","t":"10:00:00","arn":"arn:aws:iam::123456789012:role/x"}"#)
                .is_empty()
        );
        // A trimmed escaped space glued before the address.
        assert_eq!(ips(r#"{"ip":" 8.8.8.8"}"#).len(), 1);
        // Stripping digits off a private address does not make a public one.
        assert!(ips(r#"{"ip":"172.16.40.247"}"#).is_empty());
    }

    #[test]
    fn parse_dotted_quad_accepts_what_std_accepts() {
        for text in ["1.2.3.4", "255.255.255.255", "0.0.0.0", "10.0.0.1"] {
            assert_eq!(
                parse_dotted_quad(text.as_bytes()),
                text.parse::<std::net::IpAddr>().ok(),
                "{text}"
            );
        }
        for text in ["1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "1.2.3.4444"] {
            assert_eq!(parse_dotted_quad(text.as_bytes()), None, "{text}");
        }
    }
}
