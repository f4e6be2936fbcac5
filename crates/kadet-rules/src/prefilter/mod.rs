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
//!    other clauses checked on that line only: a substring search per
//!    literal, or one multi-pattern search for a clause of several
//!    (`clause_search`).
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
//!   `<`, `>`, `&`, `'`, control and non-ASCII characters) and the longest
//!   piece is used; `/` may be written `\/`, so a record holding `\/` passes
//!   to every rule when some literal has a `/`;
//! - a record with a `\u00XX` escape of a character that occurs in any
//!   literal or marker (or of a backslash, for JSON inside a JSON string) is
//!   passed to every rule.

mod clause_search;
mod clauses;
mod ip_scan;
mod literals;
mod mask;
mod plan;

pub use mask::RuleMask;
use mask::{ABSENT, PRESENT, UNKNOWN};

use crate::rule::Rule;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Input, MatchKind};
use clause_search::ClauseSearches;
use clauses::{rule_clauses, RuleClauses};
use ip_scan::find_non_private_ips;
use kadet_event::LogType;
use literals::{pattern_text, LiteralFinder, NUM_MARK};
use plan::{AnchorSearch, LinePlan, PatternKind};

/// Top-level keys that make the decoder read a record as something other
/// than a plain audit event (Panther, CloudWatch, Azure, GKE). A line holding
/// one is decoded and its events checked against their own log type.
pub(super) const SHAPE_MARKERS: &[&str] = &[
    "p_log_type",
    "logEvents",
    "messageType",
    "records",
    "category",
    "protoPayload",
];

/// The start of a JSON `\u00XX` escape.
pub(super) const ESCAPE: &str = "\\u00";

/// A run of nines: a decimal that rounds to an integer literal without
/// containing its digits (`402.99999999999999` is 403 as a double).
pub(super) const NINES: &str = "999999999";

/// An escaped slash (`\/`): JSON may write `/` so (Go's encoder does not),
/// which would hide a literal holding `/` (`/bin/sh`). A record holding one
/// passes to every rule, when some literal has a `/`.
pub(super) const SLASH_ESCAPE: &str = "\\/";

/// The pseudo-literal of an IP address test: the record holds the text of
/// an IP address that is not private (found by a scan, not a substring).
pub(super) const IP_LITERAL: &str = "<non-private IP address>";

/// Bytes of IP address text (for the escape check).
pub(super) const IP_BYTES: &str = "0123456789abcdefABCDEF.:";

/// A rule's requirement: every clause must have one of its literals present.
pub(super) type Clauses = Vec<Vec<usize>>;

/// What a rule needs of a record of one log type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Requirement {
    /// The rule cannot match records of this type.
    Never,
    /// Nothing can be said: every record is evaluated.
    Always,
    /// Every clause must have one of its literals in the record.
    Clauses(Clauses),
}

/// How often literals occur in audit records (the fraction of records
/// holding them, lower-cased), measured on the benchmark corpus's mix of
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

thread_local! {
    /// The lower-cased copy of a chunk the case-insensitive anchors are
    /// searched for in (one per scanning thread, reused).
    static LOWERED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
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
    /// One search for each clause of several literals.
    clause_searches: ClauseSearches,
    /// Per pattern of `ac`: what it stands for.
    ac_kinds: Vec<PatternKind>,
    /// Bytes that occur in literals and markers (for the escape check).
    literal_bytes: [bool; 128],
    finders: Vec<LiteralFinder>,
    /// Per literal: an integer's spelling, present only in context.
    numbers: Vec<bool>,
    line_plan: Option<LinePlan>,
    n_rules: usize,
    /// The literals (case-insensitive ones lower-cased and marked `(?i)`,
    /// an integer's spellings marked `(?n)`), indexed by id.
    pub literals: Vec<String>,
    /// Per rule: its clauses as text for the log type it is shown under
    /// (`Kubernetes.Audit` if it applies, else its first), or `None` when it
    /// cannot be prefiltered.
    pub rule_literals: Vec<Option<Vec<Vec<String>>>>,
    disabled: bool,
}

/// At most this many clauses per rule and log type: the most selective ones.
pub(super) const MAX_CLAUSES: usize = 4;

pub(super) fn type_index(t: LogType) -> usize {
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
        let (requirements, literals, literal_bytes) = intern_literals(&per_type);
        let rule_literals = shown_literals(rules, &per_type);
        let searcher = Searcher::build(&literals);
        let finders: Option<Vec<LiteralFinder>> =
            literals.iter().map(|l| LiteralFinder::new(l)).collect();
        let disabled = (searcher.ac.is_none() && !literals.is_empty()) || finders.is_none();
        let finders = finders.unwrap_or_default();
        let mut p = Prefilter {
            ac: searcher.ac,
            clause_searches: ClauseSearches::build(&requirements, &finders),
            requirements,
            ac_kinds: searcher.kinds,
            literal_bytes,
            finders,
            numbers: literals.iter().map(|l| l.starts_with(NUM_MARK)).collect(),
            line_plan: None,
            n_rules: rules.len(),
            literals,
            rule_literals,
            disabled,
        };
        if !p.disabled {
            p.line_plan =
                presumed.and_then(|t| p.plan_lines(t, searcher.has_numbers, searcher.has_slash));
        }
        p
    }

    /// A prefilter that passes everything (for `--no-prefilter`).
    pub fn disabled(n_rules: usize) -> Prefilter {
        Prefilter {
            ac: None,
            requirements: vec![[const { Requirement::Always }; 4]; n_rules],
            clause_searches: ClauseSearches::default(),
            ac_kinds: Vec::new(),
            literal_bytes: [false; 128],
            finders: Vec::new(),
            numbers: Vec::new(),
            line_plan: None,
            n_rules,
            literals: Vec::new(),
            rule_literals: vec![None; n_rules],
            disabled: true,
        }
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
        let run =
            |search: &AnchorSearch, data: &[u8], base: usize, hits: &mut Vec<LineHit>| match search
            {
                AnchorSearch::One(f) => hits.extend(f.find_iter(data).map(|at| (at, base as u32))),
                AnchorSearch::Packed(p) => {
                    let mut at = 0;
                    while at < data.len() {
                        let Some(m) = p.find_in(data, aho_corasick::Span::from(at..data.len()))
                        else {
                            break;
                        };
                        hits.push((m.start(), (base + m.pattern().as_usize()) as u32));
                        at = m.start() + 1;
                    }
                }
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
            run(s, data, 0, hits);
        }
        if let Some(s) = &plan.folded {
            let before = hits.len();
            // Lower-casing keeps offsets: hits in the copy are hits in `data`.
            LOWERED.with(|buf| {
                let mut buf = buf.borrow_mut();
                buf.clear();
                buf.extend(data.iter().map(u8::to_ascii_lowercase));
                run(s, &buf, plan.n_exact, hits);
            });
            then(hits, before);
        }
        if let Some(s) = &plan.short {
            let before = hits.len();
            run(s, data, plan.n_exact + plan.n_folded, hits);
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
                    // A number's digits count only in context (verify checks).
                    PatternKind::Literal(l) if self.numbers[l] => {}
                    PatternKind::Literal(l) => mask.found[l] = PRESENT,
                    PatternKind::Marker | PatternKind::Nines | PatternKind::SlashEscape => {
                        return LineVerdict::Decode
                    }
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
                    if !mask.bits[r] && self.verify(r, ti, line, mask) {
                        mask.set(r);
                    }
                }
            }
        }
        if mask.any() {
            LineVerdict::Admit
        } else {
            LineVerdict::Reject
        }
    }

    /// True when `line` satisfies every clause of rule `r` for log type
    /// index `ti` (looking literals up once).
    fn verify(&self, r: usize, ti: usize, line: &[u8], mask: &mut RuleMask) -> bool {
        let clauses = match &self.requirements[r][ti] {
            Requirement::Never => return false,
            Requirement::Always => return true,
            Requirement::Clauses(c) => c,
        };
        clauses.iter().enumerate().all(|(i, clause)| {
            self.clause_searches
                .prepare(r, ti, i, line, &mut mask.found);
            clause.iter().any(|&l| {
                if mask.found[l] == UNKNOWN {
                    mask.found[l] = if self.finders[l].is_in(line, &mut mask.lowered) {
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
        for ((f, l), number) in mask.found.iter_mut().zip(&self.literals).zip(&self.numbers) {
            *f = if l == IP_LITERAL || *number {
                UNKNOWN
            } else {
                ABSENT
            };
        }
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(bytes) {
                match self.ac_kinds[m.pattern().as_usize()] {
                    PatternKind::Escape => {
                        if self.escape_hides_literal(&bytes[m.start()..]) {
                            return mask.set_all();
                        }
                    }
                    PatternKind::Nines | PatternKind::Marker | PatternKind::SlashEscape => {
                        return mask.set_all()
                    }
                    PatternKind::Literal(l) if self.numbers[l] => {}
                    PatternKind::Literal(l) => mask.found[l] = PRESENT,
                }
            }
        }
        let ti = type_index(log_type);
        for r in 0..self.n_rules {
            if self.verify(r, ti, bytes, mask) {
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
/// Each rule's requirement per log type, with its literals numbered (each
/// literal once), and the bytes any literal or shape marker holds.
fn intern_literals(
    per_type: &[[RuleClauses; 4]],
) -> (Vec<[Requirement; 4]>, Vec<String>, [bool; 128]) {
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
    let mut intern = |l: &String| {
        mark_bytes(if l == IP_LITERAL {
            IP_BYTES
        } else {
            pattern_text(l)
        });
        literals.iter().position(|x| x == l).unwrap_or_else(|| {
            literals.push(l.clone());
            literals.len() - 1
        })
    };
    let requirements = per_type
        .iter()
        .map(|types| {
            types.clone().map(|t| match t {
                None => Requirement::Never,
                Some(None) => Requirement::Always,
                Some(Some(clauses)) => Requirement::Clauses(
                    clauses
                        .iter()
                        .map(|clause| clause.iter().map(&mut intern).collect())
                        .collect(),
                ),
            })
        })
        .collect();
    (requirements, literals, literal_bytes)
}

/// The literals `rules list` shows for each rule: those of its Kubernetes
/// audit clauses, else of the first log type it reads; without the number
/// mark (`403`).
fn shown_literals(rules: &[Rule], per_type: &[[RuleClauses; 4]]) -> Vec<Option<Vec<Vec<String>>>> {
    rules
        .iter()
        .zip(per_type)
        .map(|(r, types)| {
            let shown = if r.applies_to(LogType::KubernetesAudit) {
                0
            } else {
                (0..4).find(|&i| types[i].is_some()).unwrap_or(0)
            };
            types[shown].clone().flatten().map(|clauses| {
                clauses
                    .into_iter()
                    .map(|c| {
                        c.iter()
                            .map(|l| l.strip_prefix(NUM_MARK).unwrap_or(l).to_string())
                            .collect()
                    })
                    .collect()
            })
        })
        .collect()
}

/// The one search over a chunk: the literals, the escape marks, and the
/// number and slash marks when some literal needs them.
struct Searcher {
    ac: Option<AhoCorasick>,
    kinds: Vec<PatternKind>,
    has_numbers: bool,
    has_slash: bool,
}

impl Searcher {
    fn build(literals: &[String]) -> Searcher {
        let has_numbers = literals
            .iter()
            .any(|l| l != IP_LITERAL && pattern_text(l).bytes().any(|b| b.is_ascii_digit()));
        let has_slash = literals.iter().any(|l| pattern_text(l).contains('/'));
        let mut patterns: Vec<&str> = Vec::new();
        let mut kinds = Vec::new();
        for (i, l) in literals.iter().enumerate() {
            if l != IP_LITERAL {
                patterns.push(pattern_text(l));
                kinds.push(PatternKind::Literal(i));
            }
        }
        patterns.push(ESCAPE);
        kinds.push(PatternKind::Escape);
        if has_numbers {
            patterns.push(NINES);
            kinds.push(PatternKind::Nines);
        }
        if has_slash {
            patterns.push(SLASH_ESCAPE);
            kinds.push(PatternKind::SlashEscape);
        }
        let ac = if kinds.len() <= 2 && literals.is_empty() {
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
        Searcher {
            ac,
            kinds,
            has_numbers,
            has_slash,
        }
    }
}
