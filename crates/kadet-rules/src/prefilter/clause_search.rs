//! One pass per clause of several literals. A record holds a clause when it
//! holds any of its literals, so one multi-pattern SIMD search (Teddy)
//! answers for all of them, where a substring search per literal reads the
//! record once for every literal that is absent. A rule naming thirteen
//! system namespaces or twelve resources read a record with a body that
//! many times before (measured in BENCHMARKS.md).

use super::literals::LiteralFinder;
use super::mask::{ABSENT, PRESENT, UNKNOWN};
use super::Requirement;
use aho_corasick::packed::{Config, MatchKind, Searcher};
use std::collections::HashMap;

/// Clauses with at least this many case-sensitive literals get one search.
/// Measured on the bench corpus: a substring search reads about 8 GB/s, a
/// multi-pattern search of patterns that start with a quote about 2.3 GB/s
/// (the quote is in every few bytes of JSON), so one pass pays from three
/// literals on.
const MIN_LITERALS: usize = 3;

/// The search for one clause's case-sensitive literals.
#[derive(Debug, Clone)]
struct ClauseSearch {
    searcher: Searcher,
    /// Per pattern of `searcher`: its literal id.
    literals: Vec<usize>,
}

impl ClauseSearch {
    fn build(literals: &[(usize, &[u8])]) -> Option<ClauseSearch> {
        let mut builder = Config::new().match_kind(MatchKind::LeftmostFirst).builder();
        for (_, text) in literals {
            builder.add(text);
        }
        Some(ClauseSearch {
            searcher: builder.build()?,
            literals: literals.iter().map(|(id, _)| *id).collect(),
        })
    }

    /// Searches `bytes` once: the literal found is marked present, or every
    /// literal absent.
    fn mark(&self, bytes: &[u8], found: &mut [u8]) {
        match self.searcher.find(bytes) {
            Some(m) => found[self.literals[m.pattern().as_usize()]] = PRESENT,
            None => {
                for &l in &self.literals {
                    found[l] = ABSENT;
                }
            }
        }
    }

    /// True when a search would tell something: no literal is known
    /// present, and some is not known at all (on a container's events the
    /// whole-record search has settled every literal already).
    fn is_worth_running(&self, found: &[u8]) -> bool {
        let mut unknown = false;
        for &l in &self.literals {
            match found[l] {
                PRESENT => return false,
                UNKNOWN => unknown = true,
                _ => {}
            }
        }
        unknown
    }
}

/// The clause searches of a prefilter, and which clause of which rule uses
/// which (clauses with the same literals share one).
#[derive(Debug, Clone, Default)]
pub(super) struct ClauseSearches {
    searches: Vec<ClauseSearch>,
    /// Per rule, per log type, per clause: its search.
    by_clause: Vec<[Vec<Option<usize>>; 4]>,
}

impl ClauseSearches {
    /// A search for every clause of `requirements` with enough
    /// case-sensitive literals (`finders`: the literals' finders by id).
    pub(super) fn build(requirements: &[[Requirement; 4]], finders: &[LiteralFinder]) -> Self {
        let mut searches = Vec::new();
        let mut known: HashMap<Vec<usize>, Option<usize>> = HashMap::new();
        let mut search_for = |clause: &Vec<usize>| {
            let exact: Vec<(usize, &[u8])> = clause
                .iter()
                .filter_map(|&l| Some((l, finders.get(l)?.exact_text()?)))
                .collect();
            *known.entry(clause.clone()).or_insert_with(|| {
                if exact.len() < MIN_LITERALS {
                    return None;
                }
                let search = ClauseSearch::build(&exact)?;
                searches.push(search);
                Some(searches.len() - 1)
            })
        };
        let by_clause = requirements
            .iter()
            .map(|types| {
                types.each_ref().map(|req| match req {
                    Requirement::Clauses(clauses) => clauses.iter().map(&mut search_for).collect(),
                    _ => Vec::new(),
                })
            })
            .collect();
        ClauseSearches {
            searches,
            by_clause,
        }
    }

    /// Before clause `clause` of rule `rule` (log type index `ti`) is
    /// checked on `bytes`: when it has a search worth running, runs it and
    /// records what it found.
    pub(super) fn prepare(
        &self,
        rule: usize,
        ti: usize,
        clause: usize,
        bytes: &[u8],
        found: &mut [u8],
    ) {
        let Some(Some(s)) = self
            .by_clause
            .get(rule)
            .and_then(|types| types[ti].get(clause))
        else {
            return;
        };
        let search = &self.searches[*s];
        if search.is_worth_running(found) {
            search.mark(bytes, found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prefilter::IP_LITERAL;

    fn finders(literals: &[&str]) -> Vec<LiteralFinder> {
        literals
            .iter()
            .map(|l| LiteralFinder::new(l).expect("finder"))
            .collect()
    }

    fn searches(clauses: Vec<Vec<usize>>, literals: &[&str]) -> ClauseSearches {
        let req = [
            Requirement::Clauses(clauses),
            Requirement::Never,
            Requirement::Always,
            Requirement::Never,
        ];
        ClauseSearches::build(&[req], &finders(literals))
    }

    #[test]
    fn one_search_marks_the_literal_found_or_all_absent() {
        let s = searches(
            vec![vec![0, 1, 2]],
            &["\"kube-system", "\"kube-public", "hostPID"],
        );
        let mut found = vec![UNKNOWN; 3];
        s.prepare(0, 0, 0, br#"{"namespace":"kube-public","x":1}"#, &mut found);
        assert_eq!(found, vec![UNKNOWN, PRESENT, UNKNOWN]);
        let mut found = vec![UNKNOWN; 3];
        s.prepare(0, 0, 0, br#"{"namespace":"default"}"#, &mut found);
        assert_eq!(found, vec![ABSENT; 3]);
    }

    #[test]
    fn a_literal_known_present_spares_the_search() {
        let s = searches(vec![vec![0, 1, 2]], &["alpha", "beta", "gamma"]);
        let mut found = vec![PRESENT, UNKNOWN, UNKNOWN];
        s.prepare(0, 0, 0, b"beta", &mut found);
        assert_eq!(found, vec![PRESENT, UNKNOWN, UNKNOWN]);
        // So does every literal known (a container's event): "beta" is in
        // the bytes, but the whole record's search said it was not.
        let mut found = vec![ABSENT; 3];
        s.prepare(0, 0, 0, b"beta", &mut found);
        assert_eq!(found, vec![ABSENT; 3]);
    }

    #[test]
    fn clauses_without_enough_exact_literals_get_no_search() {
        // Two exact literals; a case-insensitive one, a number and the IP
        // pseudo-literal are left to their own finders.
        let s = searches(
            vec![vec![0, 1, 2, 3, 4]],
            &["alpha", "delta", "(?i)beta", "(?n)403", IP_LITERAL],
        );
        let mut found = vec![UNKNOWN; 5];
        s.prepare(0, 0, 0, b"alpha beta 403 8.8.8.8", &mut found);
        assert_eq!(found, vec![UNKNOWN; 5]);
        // Types and clauses without a search, and unknown rules, are no-ops.
        s.prepare(0, 2, 0, b"alpha", &mut found);
        s.prepare(7, 0, 0, b"alpha", &mut found);
        assert_eq!(found, vec![UNKNOWN; 5]);
    }

    #[test]
    fn the_same_clause_in_two_rules_shares_one_search() {
        let req = |c: Vec<Vec<usize>>| {
            [
                Requirement::Clauses(c),
                Requirement::Never,
                Requirement::Never,
                Requirement::Never,
            ]
        };
        let s = ClauseSearches::build(
            &[req(vec![vec![0, 1, 3]]), req(vec![vec![2], vec![0, 1, 3]])],
            &finders(&["a1", "b2", "c3", "d4"]),
        );
        assert_eq!(s.searches.len(), 1);
        assert_eq!(s.by_clause[1][0], vec![None, Some(0)]);
    }
}
