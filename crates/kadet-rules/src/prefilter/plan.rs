//! The line plan: each rule's anchor for records presumed to be of one log
//! type, and the whole-chunk search built from them.

use super::literals::{clause_frequency, pattern_text, CI_MARK, SHARED_ANCHOR_FREQUENCY};
use super::{
    type_index, Prefilter, Requirement, ESCAPE, IP_LITERAL, NINES, SHAPE_MARKERS, SLASH_ESCAPE,
};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use kadet_event::LogType;

/// Anchors shorter than this many bytes are searched for on their own.
const SHORT_PATTERN: usize = 4;

/// What a case-insensitive anchor adds to its clause's estimated frequency
/// when no rule needs one anyway: the first such anchor makes the scan
/// lower-case a copy of every chunk (measured: 3 to 6% of the pack's CPU on
/// the bench corpus), so a case-sensitive clause up to this much more common
/// is the better first test.
const FOLDED_PASS_COST: f32 = 0.1;

/// What a pattern of the line search stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PatternKind {
    /// A rule's anchor literal (its id).
    Literal(usize),
    /// A key that marks a record of another shape.
    Marker,
    /// A `\u00` escape.
    Escape,
    /// A run of nines.
    Nines,
    /// An escaped slash (`\/`).
    SlashEscape,
}

/// One search of the line plan.
#[derive(Debug, Clone)]
pub(super) enum AnchorSearch {
    /// A single case-sensitive literal: SIMD substring search.
    One(Box<memchr::memmem::Finder<'static>>),
    /// Leftmost-longest Aho-Corasick (Teddy when case-sensitive and few).
    Many(AhoCorasick),
    /// Leftmost-longest SIMD (Teddy) search, for patterns that all start
    /// with the same byte, where Aho-Corasick would pick a one-byte
    /// prefilter (a JSON quote is in every few bytes).
    Packed(Box<aho_corasick::packed::Searcher>),
}

/// The whole-chunk search for records presumed to be of one log type.
#[derive(Debug, Clone)]
pub(super) struct LinePlan {
    pub(super) presumed: LogType,
    /// Case-sensitive patterns.
    pub(super) exact: Option<AnchorSearch>,
    /// ASCII-case-insensitive patterns, lower-cased, searched for in a
    /// lower-cased copy of the chunk (a case-sensitive search can use SIMD
    /// where a case-folding one cannot); their ids follow those of `exact`.
    pub(super) folded: Option<AnchorSearch>,
    /// Case-sensitive patterns shorter than [`SHORT_PATTERN`], and numbers'
    /// spellings; their ids follow those of `folded`.
    pub(super) short: Option<AnchorSearch>,
    pub(super) n_exact: usize,
    pub(super) n_folded: usize,
    /// The pattern id given to hits of the IP address scan, when a rule is
    /// anchored on it.
    pub(super) ip_pattern: Option<u32>,
    /// The escape and nines searches, with their pattern ids.
    pub(super) hazards: Vec<(memchr::memmem::Finder<'static>, u32)>,
    /// Per pattern: what it is.
    pub(super) kinds: Vec<PatternKind>,
    /// Per pattern: the patterns of the same search that occur inside it
    /// (itself included), so a match stands for all of them.
    pub(super) contained: Vec<Vec<usize>>,
    /// Per literal id: the rules anchored on it.
    pub(super) anchor_rules: Vec<Vec<usize>>,
    /// Rules evaluated on every record of the presumed type.
    pub(super) always: Vec<usize>,
}

/// The anchors chosen for one log type: the anchor literals, per literal
/// the rules anchored on it, and the rules evaluated on every record.
struct Anchors {
    literals: Vec<usize>,
    rules: Vec<Vec<usize>>,
    always: Vec<usize>,
}

impl Prefilter {
    /// The estimated fraction of records satisfying a clause.
    fn clause_freq(&self, clause: &[usize]) -> f32 {
        clause_frequency(clause.iter().map(|&l| self.literals[l].as_str()))
    }

    /// Picks each rule's anchor clause for records of type index `ti`: the
    /// clauses good enough to search for (rare, or the rule's best), then,
    /// greedily, the clause that serves the most rules (the rarer on ties),
    /// since fewer anchor literals make a faster search.
    ///
    /// A case-insensitive clause costs [`FOLDED_PASS_COST`] more, unless
    /// some rule has only such clauses (then the lower-cased copy is made
    /// anyway), so a case-sensitive clause nearly as rare is preferred.
    fn choose_anchors(&self, ti: usize) -> Anchors {
        let folded = |clause: &[usize]| {
            clause
                .iter()
                .any(|&l| self.literals[l].starts_with(CI_MARK))
        };
        let fold_needed = self.requirements.iter().any(|req| {
            matches!(&req[ti], Requirement::Clauses(cs) if !cs.is_empty() && cs.iter().all(|c| folded(c)))
        });
        let cost = |clause: &[usize]| {
            let extra = if !fold_needed && folded(clause) {
                FOLDED_PASS_COST
            } else {
                0.0
            };
            self.clause_freq(clause) + extra
        };
        let rank = |clause: &Vec<usize>| std::cmp::Reverse((cost(clause) * 1e6) as u64);
        let mut always = Vec::new();
        let mut eligible: Vec<(usize, Vec<&Vec<usize>>)> = Vec::new();
        for (r, req) in self.requirements.iter().enumerate() {
            match &req[ti] {
                Requirement::Never => {}
                Requirement::Always => always.push(r),
                Requirement::Clauses(clauses) => {
                    let Some(best) = clauses.iter().max_by_key(|c| rank(c)) else {
                        continue;
                    };
                    let bar = cost(best).max(SHARED_ANCHOR_FREQUENCY);
                    eligible.push((r, clauses.iter().filter(|c| cost(c) <= bar).collect()));
                }
            }
        }
        let mut rules: Vec<Vec<usize>> = vec![Vec::new(); self.literals.len()];
        let mut literals: Vec<usize> = Vec::new();
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
                    rules[l].push(*r);
                    if !literals.contains(&l) {
                        literals.push(l);
                    }
                }
                false
            });
        }
        Anchors {
            literals,
            rules,
            always,
        }
    }

    /// Picks each rule's anchor for records of type `presumed` and builds the
    /// line search. `None` when a line search cannot help (no anchor at all).
    pub(super) fn plan_lines(
        &self,
        presumed: LogType,
        has_numbers: bool,
        has_slash: bool,
    ) -> Option<LinePlan> {
        let ti = type_index(presumed);
        let Anchors {
            literals: anchors,
            rules: anchor_rules,
            always,
        } = self.choose_anchors(ti);
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
                Some(text) => folded.push((text.to_ascii_lowercase(), PatternKind::Literal(l))),
                None => exact.push((pattern_text(lit).to_string(), PatternKind::Literal(l))),
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
        // Teddy fingerprints the first bytes of every pattern: one short
        // pattern (`403`) makes it slower for all, so short case-sensitive
        // anchors get their own search.
        // Numbers' spellings (`403`, `4.03`) go with them: digits are
        // everywhere, and only few rules ask for numbers.
        let (short, exact): (Vec<_>, Vec<_>) = exact.into_iter().partition(|(t, k)| {
            matches!(k, PatternKind::Literal(l) if t.len() < SHORT_PATTERN || self.numbers[*l])
        });
        let exact_ac = build_search(&exact)?;
        let folded_ac = build_search(&folded)?;
        let short_ac = build_search(&short)?;
        let mut contained = containment(&exact, 0);
        contained.extend(containment(&folded, exact.len()));
        contained.extend(containment(&short, exact.len() + folded.len()));
        let mut kinds: Vec<PatternKind> = exact
            .iter()
            .chain(&folded)
            .chain(&short)
            .map(|(_, k)| *k)
            .collect();
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
        if has_slash {
            hazards.push((
                memchr::memmem::Finder::new(SLASH_ESCAPE.as_bytes()).into_owned(),
                own(PatternKind::SlashEscape),
            ));
        }
        Some(LinePlan {
            presumed,
            exact: exact_ac,
            folded: folded_ac,
            short: short_ac,
            n_exact: exact.len(),
            n_folded: folded.len(),
            ip_pattern,
            hazards,
            kinds,
            contained,
            anchor_rules,
            always,
        })
    }
}

/// One search over `pats` (folded patterns are already lower-cased and
/// searched for in a lower-cased chunk): a SIMD substring search for a single
/// literal, a packed SIMD search when all start with the same byte, else
/// leftmost-longest Aho-Corasick. `Some(None)` when there is nothing to search
/// for; `None` when it cannot be built.
fn build_search(pats: &[(String, PatternKind)]) -> Option<Option<AnchorSearch>> {
    match pats {
        [] => return Some(None),
        [(one, _)] => {
            return Some(Some(AnchorSearch::One(Box::new(
                memchr::memmem::Finder::new(one.as_bytes()).into_owned(),
            ))))
        }
        _ => {}
    }
    let first = pats[0].0.as_bytes().first();
    if pats.iter().all(|(t, _)| t.as_bytes().first() == first) {
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostLongest)
            .builder()
            .extend(pats.iter().map(|(t, _)| t.as_bytes()))
            .build();
        if let Some(p) = packed {
            return Some(Some(AnchorSearch::Packed(Box::new(p))));
        }
    }
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .build(pats.iter().map(|(t, _)| t.as_str()))
        .ok()
        .map(|ac| Some(AnchorSearch::Many(ac)))
}

/// Per pattern, the patterns of the same search found inside it (itself
/// included), with pattern ids starting at `base`: a leftmost-longest match
/// stands for all of them.
fn containment(pats: &[(String, PatternKind)], base: usize) -> Vec<Vec<usize>> {
    pats.iter()
        .map(|(outer, _)| {
            pats.iter()
                .enumerate()
                .filter(|(_, (inner, _))| outer.contains(inner.as_str()))
                .map(|(j, _)| base + j)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::loader::load_sources;
    use crate::source::Source;
    use crate::Prefilter;

    /// A Panther rule `id` whose detection is `detection` (YAML list items).
    fn rule(id: &str, detection: &str) -> Source {
        Source {
            name: format!("{id}.yml"),
            text: format!("AnalysisType: rule\nRuleID: {id}\nDetection:\n{detection}"),
        }
    }

    /// The anchor literals of each rule, for plain audit-event lines.
    fn anchors(sources: Vec<Source>) -> Vec<Vec<String>> {
        let set = load_sources(Vec::new(), sources).expect("loads");
        let p = Prefilter::build(&set.rules);
        let plan = p.line_plan.as_ref().expect("a line plan");
        (0..set.rules.len())
            .map(|r| {
                plan.anchor_rules
                    .iter()
                    .enumerate()
                    .filter(|(_, rs)| rs.contains(&r))
                    .map(|(l, _)| p.literals[l].clone())
                    .collect()
            })
            .collect()
    }

    /// A rarer case-insensitive value and a case-sensitive one a little
    /// more common.
    const BOTH: &str = "  - KeyPath: annotations.\"authorization.k8s.io/decision\"\n    Condition: IContains\n    Value: forbid\n  - KeyPath: objectRef.resource\n    Condition: Equals\n    Value: jobs\n";

    #[test]
    fn a_case_sensitive_anchor_is_preferred_while_nothing_needs_the_lower_cased_copy() {
        let got = anchors(vec![rule("A", BOTH)]);
        assert_eq!(got[0], ["\"jobs"], "{got:?}");
    }

    #[test]
    fn the_rarer_case_insensitive_anchor_is_taken_when_the_copy_is_made_anyway() {
        let only_folded = "  - KeyPath: userAgent\n    Condition: IContains\n    Value: sqlmap\n";
        let got = anchors(vec![rule("A", BOTH), rule("B", only_folded)]);
        assert_eq!(got[0], ["(?i)forbid"], "{got:?}");
        assert_eq!(got[1], ["(?i)sqlmap"], "{got:?}");
    }
}
