//! Clause derivation: what literals a rule's detection requires of a record
//! of one log type, with the soundness rules listed in the module docs.

use super::literals::{
    clause_frequency, literal_frequency, pattern_text, CI_MARK, NUM_MARK, WEAK_FREQUENCY,
};
use super::{IP_LITERAL, MAX_CLAUSES};
use crate::expr::{ElementMode, Expr, IpTest, Literal, StrOp, Test};
use crate::path::{FieldPath, Segment};
use crate::rule::Rule;
use kadet_event::LogType;

/// Root paths whose text kadet may derive rather than copy from the record.
const DERIVED_ROOTS: &[&str] = &["kind", "apiVersion", "requestURI", "responseStatus"];

/// Integer literals at or above this many digits give no clause (the run of
/// nines above only covers rounding for smaller ones).
const MAX_INTEGER_LITERAL: f64 = 1e6;

/// A rule's clauses for one log type, as text (see [`rule_clauses`]).
pub(super) type RuleClauses = Option<Option<Vec<Vec<String>>>>;

/// A rule's clauses for records of one log type, as literal text: `None`
/// when the rule does not apply to the type, `Some(None)` when nothing can
/// be said (every record is evaluated).
pub(super) fn rule_clauses(rule: &Rule, t: LogType) -> RuleClauses {
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
pub(super) type LitSet = Vec<(String, usize)>;

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
            Some(vec![compact(union)])
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
                Scope::Root => path_is_copied_for(path, t) || status_code,
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
                if let Some(key) = rarest_key(path) {
                    let n = key.len();
                    clauses.push(vec![(key, n)]);
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
                let s = format!("{NUM_MARK}{s}");
                if !out.iter().any(|(x, _)| *x == s) {
                    out.push((s, len));
                }
            }
            continue;
        }
        let Literal::Str(s) = v else { return None };
        // A derived field copied only for numbers (the status code) holds a
        // string only when the record wrote that string: its text is there.
        if numbers_only && (*op != StrOp::Equals || s.trim().is_empty()) {
            return None;
        }
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

/// A union with more literals than this has those sharing a long prefix
/// replaced by the prefix: a few short anchors search faster than many.
const MAX_UNION: usize = 12;

/// The shortest prefix a union's literals are replaced by.
const MIN_PREFIX: usize = 5;

/// A literal's kind for [`compact`]: case-insensitive, case-sensitive, or
/// neither (a number's spelling, the IP pseudo-literal), which is kept as is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Folded,
    Exact,
    Other,
}

fn mode(l: &str) -> Mode {
    if l.starts_with(CI_MARK) {
        Mode::Folded
    } else if l.starts_with(NUM_MARK) || l == IP_LITERAL {
        Mode::Other
    } else {
        Mode::Exact
    }
}

/// True when a record holding literal `a` surely holds literal `b`.
fn implies(a: &str, b: &str) -> bool {
    let (ta, tb) = (pattern_text(a), pattern_text(b));
    match (mode(a), mode(b)) {
        _ if a == b => false,
        (Mode::Other, _) | (_, Mode::Other) => false,
        (_, Mode::Folded) => ta.to_ascii_lowercase().contains(tb),
        (Mode::Exact, Mode::Exact) => ta.contains(tb),
        (Mode::Folded, Mode::Exact) => false,
    }
}

/// Simplifies a union (a clause: one of its literals is in the record)
/// without losing a record: a literal that holds another of the clause is
/// dropped, and, past [`MAX_UNION`] literals, those sharing a prefix of at
/// least [`MIN_PREFIX`] bytes are replaced by it (`/bin/ash`, `/bin/bash`,
/// `/bin/sh` → `/bin/`).
fn compact(mut set: LitSet) -> LitSet {
    loop {
        let snapshot = set.clone();
        set.retain(|(a, _)| !snapshot.iter().any(|(b, _)| implies(a, b)));
        if set.len() <= MAX_UNION {
            return set;
        }
        let Some(prefix) = best_prefix(&set) else {
            return set;
        };
        let m = mode(&prefix);
        set.retain(|(l, _)| !(mode(l) == m && pattern_text(l).starts_with(pattern_text(&prefix))));
        let n = pattern_text(&prefix).len();
        set.push((prefix, n));
    }
}

/// The prefix (with its literals' mark) shared by the most literals of the
/// same kind, at least three of them, longest on ties; never one most
/// records hold.
fn best_prefix(set: &LitSet) -> Option<String> {
    let mut best: Option<(usize, usize, String)> = None;
    for (i, (a, _)) in set.iter().enumerate() {
        for (b, _) in &set[i + 1..] {
            let m = mode(a);
            if m == Mode::Other || m != mode(b) {
                continue;
            }
            let (ta, tb) = (pattern_text(a).as_bytes(), pattern_text(b).as_bytes());
            let n = ta.iter().zip(tb).take_while(|(x, y)| x == y).count();
            if n < MIN_PREFIX {
                continue;
            }
            let p = &pattern_text(a)[..n];
            // A prefix most records hold (`"kube`) would let them all through.
            if literal_frequency(p) >= WEAK_FREQUENCY {
                continue;
            }
            let count = set
                .iter()
                .filter(|(l, _)| mode(l) == m && pattern_text(l).starts_with(p))
                .count();
            let better = best
                .as_ref()
                .is_none_or(|(c, len, _)| (count, n) > (*c, *len));
            if count >= 3 && better {
                let mark = if m == Mode::Folded { CI_MARK } else { "" };
                best = Some((count, n, format!("{mark}{p}")));
            }
        }
    }
    best.map(|(_, _, p)| p)
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

/// The most selective object key of a path whose keys are the source's own:
/// where the field is present, every key on the way to it is written in the
/// record, so any of them may stand for the field (`hostPath` says more than
/// the `path` below it, `capabilities` more than `add`). Keys that JSON may
/// escape are passed over, and so is the root of a longer path.
fn rarest_key(path: &FieldPath) -> Option<String> {
    path.segments
        .iter()
        .enumerate()
        // The first key only when it is the only one: a root may be named by
        // kadet rather than the source (GKE holds the bodies as
        // protoPayload.request and .response), the keys below it are the
        // source's own.
        .filter(|(i, _)| *i > 0 || path.segments.len() == 1)
        .filter_map(|(_, s)| match s {
            Segment::Key(k) => longest_safe_piece(k).filter(|p| p.len() == k.len()),
            _ => None,
        })
        .min_by(|a, b| {
            literal_frequency(a)
                .total_cmp(&literal_frequency(b))
                .then(b.len().cmp(&a.len()))
        })
}

/// Roots whose key names kadet writes itself for some sources (GKE's mapping,
/// kadet's `p_` fields; derived fields are kadet's too); keys below `requestObject`/`responseObject` are the
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
    !SYNTHESISED_ROOTS.contains(&root.as_str()) && kadet_event::event::derived_from(root).is_none()
}

/// [`path_is_copied`] for records of log type `t`: `requestURI` is copied
/// from every source but GKE (which builds it from the resource name), and
/// every string value of the Event (a Sigma keyword's field) likewise.
fn path_is_copied_for(path: &FieldPath, t: LogType) -> bool {
    let gke = t == LogType::GcpAudit;
    if path.is_any_value() {
        return !gke;
    }
    if !gke && matches!(path.segments.as_slice(), [Segment::Key(k)] if k == "requestURI") {
        return true;
    }
    path_is_copied(path)
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
pub(super) fn is_weak(clause: &LitSet) -> bool {
    !clause.is_empty() && clause_frequency(clause.iter().map(|(l, _)| l.as_str())) >= WEAK_FREQUENCY
}

/// The longest run of characters no JSON encoder escapes (but `/`, which
/// one may write `\/`: the prefilter passes records holding that on).
fn longest_safe_piece(s: &str) -> Option<String> {
    let unsafe_char = |c: char| {
        !c.is_ascii() || c.is_ascii_control() || matches!(c, '"' | '\\' | '<' | '>' | '&' | '\'')
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
    fn a_body_path_gives_its_rarest_key_never_its_root() {
        let key = |p: &str| rarest_key(&FieldPath::parse(p).expect("path"));
        assert_eq!(
            key("requestObject.spec.volumes[*].hostPath.path").as_deref(),
            Some("hostPath")
        );
        assert_eq!(
            key("requestObject.spec.containers[*].securityContext.capabilities.add").as_deref(),
            Some("capabilities")
        );
        // GKE names the body protoPayload.request: kadet's root name is not
        // in the record.
        assert_eq!(key("requestObject.command").as_deref(), Some("command"));
        assert_eq!(key("impersonatedUser").as_deref(), Some("impersonatedUser"));
    }

    #[test]
    fn safe_pieces() {
        assert_eq!(
            longest_safe_piece("serviceaccounts").as_deref(),
            Some("serviceaccounts")
        );
        assert_eq!(
            longest_safe_piece("/api/v1/secrets").as_deref(),
            Some("/api/v1/secrets")
        );
        assert_eq!(longest_safe_piece("a&bcd").as_deref(), Some("bcd"));
        assert_eq!(longest_safe_piece("\""), None);
    }

    #[test]
    fn large_unions_are_compacted() {
        let lit = |s: &str| (s.to_string(), s.len());
        let mut set: LitSet = [
            "/bin/ash",
            "/bin/bash",
            "/bin/sh",
            "/bin/zsh",
            "/usr/bin/curl",
            "/usr/bin/wget",
            "/usr/bin/perl",
        ]
        .iter()
        .map(|s| lit(&format!("{CI_MARK}{s}")))
        .collect();
        set.extend(["trufflehog", "azurehound", "rakkess", "kdigger", "peirates"].map(lit));
        set.push(lit("(?n)403"));
        let out = compact(set);
        let texts: Vec<&str> = out.iter().map(|(l, _)| l.as_str()).collect();
        // `/usr/bin/...` and `/bin/...` become `/bin/`; the rest stays.
        assert!(texts.contains(&"(?i)/bin/"), "{texts:?}");
        assert!(!texts.iter().any(|t| t.contains("usr")), "{texts:?}");
        assert!(texts.contains(&"trufflehog") && texts.contains(&"(?n)403"));
        assert_eq!(texts.len(), 7, "{texts:?}");
        // A literal holding another is dropped, whatever the size.
        let small = compact(vec![lit("\"create"), lit("(?i)creat")]);
        assert_eq!(small, vec![lit("(?i)creat")]);
        let kept = compact(vec![lit("(?i)\"create"), lit("creat")]);
        assert_eq!(kept.len(), 2);
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
}
