//! Literals: how often each occurs in audit records (to choose what to
//! search for first), and how one is searched for in a record.

use super::ip_scan::find_non_private_ips;
use super::IP_LITERAL;

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
    // The authorizer's audit annotations are on every authorized request.
    ("authorization.k8s.io/decision", 0.95),
    ("authorization.k8s.io/reason", 0.95),
    ("allow", 1.0),
    ("resource", 1.0),
    ("200", 0.9),
    ("kube-", 0.8),
    // `"kube` starts kube-system, kubelet and kube-controller-manager.
    ("kube", 0.9),
    // `"kubectl` starts the `kubectl.kubernetes.io/...` annotations of every
    // object kubectl applied, in bodies, as well as kubectl's user agent.
    ("kubectl", 0.3),
    ("uid", 0.7),
    ("apigroup", 0.6),
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
    ("containers", 0.06),
    ("securitycontext", 0.05),
    ("volumes", 0.05),
    ("template", 0.04),
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
pub(super) const SHARED_ANCHOR_FREQUENCY: f32 = 0.1;

/// Above this estimated frequency a clause is *weak*: a poor first test.
pub(super) const WEAK_FREQUENCY: f32 = 0.2;

/// The estimated fraction of records holding `literal`.
pub(super) fn literal_frequency(literal: &str) -> f32 {
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
pub(super) fn clause_frequency<'a>(literals: impl IntoIterator<Item = &'a str>) -> f32 {
    literals
        .into_iter()
        .map(literal_frequency)
        .sum::<f32>()
        .min(1.0)
}

/// How a record's bytes are searched for one literal.
#[derive(Debug, Clone)]
pub(super) enum LiteralFinder {
    /// Case-sensitive: SIMD substring search.
    Exact(Box<memchr::memmem::Finder<'static>>),
    /// ASCII case-insensitive: the lower-cased literal, searched for in the
    /// record's lower-cased copy (a SIMD search, where a case-folding
    /// automaton would look at every byte).
    Folded(Box<memchr::memmem::Finder<'static>>),
    /// The text of a non-private IP address.
    NonPrivateIp,
    /// An integer's significant digits, counted only where they can be a
    /// number's (see [`number_at`]).
    Number(Box<memchr::memmem::Finder<'static>>),
}

/// A record's lower-cased copy, made on first use and kept while the
/// record is checked.
#[derive(Debug, Clone, Default)]
pub(super) struct Lowered {
    buf: Vec<u8>,
    ready: bool,
}

impl Lowered {
    /// Forgets the copy (a new record is being checked).
    pub(super) fn clear(&mut self) {
        self.ready = false;
    }

    fn of(&mut self, bytes: &[u8]) -> &[u8] {
        if !self.ready {
            self.buf.clear();
            self.buf.extend(bytes.iter().map(u8::to_ascii_lowercase));
            self.ready = true;
        }
        &self.buf
    }
}

impl LiteralFinder {
    pub(super) fn new(literal: &str) -> Option<LiteralFinder> {
        if literal == IP_LITERAL {
            return Some(LiteralFinder::NonPrivateIp);
        }
        if let Some(digits) = literal.strip_prefix(NUM_MARK) {
            return Some(LiteralFinder::Number(Box::new(
                memchr::memmem::Finder::new(digits.as_bytes()).into_owned(),
            )));
        }
        Some(match literal.strip_prefix(CI_MARK) {
            None => LiteralFinder::Exact(Box::new(
                memchr::memmem::Finder::new(literal.as_bytes()).into_owned(),
            )),
            Some(text) => LiteralFinder::Folded(Box::new(
                memchr::memmem::Finder::new(text.to_ascii_lowercase().as_bytes()).into_owned(),
            )),
        })
    }

    /// The text of a case-sensitive literal (the only kind a clause's
    /// multi-pattern search takes), `None` for the others.
    pub(super) fn exact_text(&self) -> Option<&[u8]> {
        match self {
            LiteralFinder::Exact(f) => Some(f.needle()),
            _ => None,
        }
    }

    /// True when the literal is in `bytes` (`lowered` caches its
    /// lower-cased copy for the case-insensitive literals).
    pub(super) fn is_in(&self, bytes: &[u8], lowered: &mut Lowered) -> bool {
        match self {
            LiteralFinder::Exact(f) => f.find(bytes).is_some(),
            LiteralFinder::Folded(f) => f.find(lowered.of(bytes)).is_some(),
            LiteralFinder::Number(f) => {
                let n = f.needle().len();
                f.find_iter(bytes).any(|at| number_at(bytes, at, n))
            }
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

/// Marks a literal that must be matched ignoring ASCII case.
pub(super) const CI_MARK: &str = "(?i)";

/// Marks an integer's spelling (`403`, `4.03`): see [`number_at`].
pub(super) const NUM_MARK: &str = "(?n)";

/// A stored literal without its mark.
pub(super) fn pattern_text(l: &str) -> &str {
    l.strip_prefix(CI_MARK)
        .or_else(|| l.strip_prefix(NUM_MARK))
        .unwrap_or(l)
}

/// True when the `len` bytes at `at` in `bytes` can be the significant
/// digits of a number (a JSON number, or a string that parses as one): not
/// preceded by a letter or a digit 1-9 once leading zeros, signs and a point
/// are passed over (`0.0403e4`), nor followed by a digit 1-9 or a letter
/// other than an exponent's `e` once trailing zeros and a point are
/// (`4030e-1`). `1403`, `4031`, `c403f` and the `40.1` of `12:40.149Z`
/// cannot be 403 or 401.
pub(super) fn number_at(bytes: &[u8], at: usize, len: usize) -> bool {
    let before = bytes[..at.min(bytes.len())]
        .iter()
        .rev()
        .find(|b| !matches!(b, b'0' | b'.' | b'+' | b'-'));
    let after = bytes
        .get(at + len..)
        .unwrap_or(&[])
        .iter()
        .find(|b| !matches!(b, b'0' | b'.'));
    let bad_before = before.is_some_and(|b| b.is_ascii_alphanumeric());
    let bad_after = after.is_some_and(|b| b.is_ascii_alphanumeric() && !matches!(b, b'e' | b'E'));
    !bad_before && !bad_after
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_context() {
        let at = |hay: &str, digits: &str| {
            let i = hay.find(digits).expect("present");
            number_at(hay.as_bytes(), i, digits.len())
        };
        for yes in [
            "\"code\":403}",
            "\"code\": \"403\"",
            "403.0,",
            "4030e-1",
            "0.0403e4",
            "+403",
            "[403]",
            "\" 403 \"",
            "403e0",
            "-403",
        ] {
            assert!(at(yes, "403"), "{yes}");
        }
        assert!(at("40.3E1", "40.3"));
        assert!(at("4.03e2", "4.03"));
        for no in [
            "1403", "4031", "a-4031-b", "14.03", "c403f", "x0403", "403ab",
        ] {
            assert!(!at(no, if no == "14.03" { "4.03" } else { "403" }), "{no}");
        }
        assert!(!at("T10:22:40.149824Z", "40.1"));
    }
}
