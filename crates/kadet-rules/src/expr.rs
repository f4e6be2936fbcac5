//! Compiled match expressions and their evaluation.
//!
//! A rule's `Detection` is compiled once, at load time, into an [`Expr`] tree:
//! paths parsed, regexes and CIDRs compiled, literals lower-cased for the
//! case-insensitive conditions, named lists and conditions inlined. Evaluating
//! it against an event walks the tree with no allocation in the common case.

use crate::path::{FieldPath, Found};
use ipnet::IpNet;
use kadet_event::{CanonicalEvent, Value};
use std::net::IpAddr;

/// A literal a rule compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string.
    Str(String),
    /// A number, with its text as written.
    Num(f64),
    /// `true`/`false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl Literal {
    /// The literal as text, for messages and the prefilter.
    pub fn text(&self) -> String {
        match self {
            Literal::Str(s) => s.clone(),
            Literal::Num(n) => format_num(*n),
            Literal::Bool(b) => b.to_string(),
            Literal::Null => "null".into(),
        }
    }
}

fn format_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// String conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrOp {
    /// `Equals`, `IsIn`.
    Equals,
    /// `StartsWith`.
    StartsWith,
    /// `EndsWith`.
    EndsWith,
    /// `Contains`.
    Contains,
}

/// Numeric comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumOp {
    /// `IsGreaterThan`.
    Gt,
    /// `IsGreaterThanOrEqual`.
    Ge,
    /// `IsLessThan`.
    Lt,
    /// `IsLessThanOrEqual`.
    Le,
}

/// IP address tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpTest {
    /// Any address.
    Any,
    /// IPv4.
    V4,
    /// IPv6.
    V6,
    /// Globally routable.
    Public,
    /// Private, loopback, link-local, CGNAT, ULA, documentation.
    Private,
}

/// What a leaf checks, before negation.
#[derive(Debug, Clone)]
pub enum Test {
    /// A string condition against any of `values`.
    Str {
        /// Which comparison.
        op: StrOp,
        /// Compare lower-cased.
        ci: bool,
        /// The values (lower-cased already when `ci`).
        values: Vec<Literal>,
    },
    /// A numeric comparison against any of `values`.
    Num {
        /// Which comparison.
        op: NumOp,
        /// The bounds.
        values: Vec<f64>,
    },
    /// Key present (even if null).
    Exists,
    /// Missing or null.
    IsNull,
    /// Missing, null, or empty string/list/object.
    NullOrEmpty,
    /// An IP address test.
    Ip(IpTest),
    /// Inside any of the networks.
    Cidr(Vec<IpNet>),
    /// Matches the regex.
    Regex(Box<regex::Regex>),
}

/// How a list comprehension quantifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementMode {
    /// `AnyElement`.
    Any,
    /// `AllElements`.
    All,
    /// `OnlyOneElement`.
    OnlyOne,
    /// `NoElement`.
    None,
}

/// A compiled match expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Every child holds.
    All(Vec<Expr>),
    /// At least one child holds.
    Any(Vec<Expr>),
    /// Exactly one child holds.
    OnlyOne(Vec<Expr>),
    /// No child holds.
    None(Vec<Expr>),
    /// `AlwaysTrue` / `AlwaysFalse`.
    Const(bool),
    /// A condition on one field.
    Leaf {
        /// The field.
        path: FieldPath,
        /// The test.
        test: Test,
        /// True for the `DoesNot…`/`IsNot…` forms.
        negate: bool,
        /// The condition's name as written, for explain and show.
        name: String,
    },
    /// A condition between two fields (multi-key comparison).
    Compare {
        /// The field.
        path: FieldPath,
        /// The other fields.
        others: Vec<FieldPath>,
        /// The comparison.
        op: CompareOp,
        /// Negated form.
        negate: bool,
        /// Name as written.
        name: String,
    },
    /// A list comprehension.
    Elements {
        /// The list field.
        path: FieldPath,
        /// The quantifier.
        mode: ElementMode,
        /// Expressions evaluated against each element (all must hold).
        exprs: Vec<Expr>,
    },
    /// A named condition from a library, inlined (the name kept for explain).
    Named {
        /// The name.
        name: String,
        /// Its expression.
        expr: Box<Expr>,
    },
}

/// Comparisons between two fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// Equal values.
    Equals,
    /// String/numeric/starts/ends/contains as for literals.
    Str(StrOp, bool),
    /// Numeric.
    Num(NumOp),
}

/// Where keys are resolved.
#[derive(Clone, Copy)]
pub enum Scope<'e, 'a> {
    /// The whole event (with source fallbacks).
    Event(&'e CanonicalEvent<'a>),
    /// A list element.
    Element(&'e Value<'e>),
}

impl<'e> Scope<'e, '_> {
    /// Resolves a path in this scope.
    pub fn resolve(&self, path: &FieldPath) -> Found<'e> {
        match self {
            Scope::Event(ev) => path.resolve_event(ev),
            Scope::Element(v) => path.resolve_in(v),
        }
    }
}

impl Expr {
    /// Evaluates against an event.
    pub fn eval_event(&self, ev: &CanonicalEvent<'_>) -> bool {
        self.eval(Scope::Event(ev))
    }

    /// Evaluates in a scope.
    pub fn eval(&self, scope: Scope<'_, '_>) -> bool {
        match self {
            Expr::All(xs) => xs.iter().all(|x| x.eval(scope)),
            Expr::Any(xs) => xs.iter().any(|x| x.eval(scope)),
            Expr::OnlyOne(xs) => xs.iter().filter(|x| x.eval(scope)).take(2).count() == 1,
            Expr::None(xs) => !xs.iter().any(|x| x.eval(scope)),
            Expr::Const(b) => *b,
            Expr::Leaf {
                path, test, negate, ..
            } => {
                let found = scope.resolve(path);
                test_found(test, &found) != *negate
            }
            Expr::Compare {
                path,
                others,
                op,
                negate,
                ..
            } => {
                let found = scope.resolve(path);
                let ok = others.iter().all(|o| {
                    let other = scope.resolve(o);
                    compare_found(*op, &found, &other)
                });
                ok != *negate
            }
            Expr::Elements { path, mode, exprs } => {
                let found = scope.resolve(path);
                eval_elements(*mode, &found, exprs)
            }
            Expr::Named { expr, .. } => expr.eval(scope),
        }
    }
}

pub(crate) fn elements_of<'v>(found: &'v Found<'v>) -> Vec<&'v Value<'v>> {
    match found {
        Found::Missing => Vec::new(),
        Found::One(Value::Array(a)) => a.iter().collect(),
        Found::Owned(Value::Array(a)) => a.iter().collect(),
        Found::Many(vs) => {
            let mut out = Vec::new();
            for v in vs {
                match v {
                    Value::Array(a) => out.extend(a.iter()),
                    other => out.push(*other),
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

pub(crate) fn eval_elements(mode: ElementMode, found: &Found<'_>, exprs: &[Expr]) -> bool {
    let elems = elements_of(found);
    let holds = |e: &&Value<'_>| exprs.iter().all(|x| x.eval(Scope::Element(e)));
    match mode {
        ElementMode::Any => elems.iter().any(holds),
        ElementMode::All => elems.iter().all(holds),
        ElementMode::OnlyOne => elems.iter().filter(|e| holds(e)).take(2).count() == 1,
        ElementMode::None => !elems.iter().any(holds),
    }
}

/// Applies a (positive) test to what a path found.
pub fn test_found(test: &Test, found: &Found<'_>) -> bool {
    match test {
        Test::Exists => !found.is_missing(),
        Test::IsNull => match found {
            Found::Missing => true,
            Found::One(v) => v.is_null(),
            Found::Owned(v) => v.is_null(),
            Found::Many(vs) => vs.is_empty(),
        },
        Test::NullOrEmpty => match found {
            Found::Missing => true,
            Found::One(v) => null_or_empty(v),
            Found::Owned(v) => null_or_empty(v),
            Found::Many(vs) => vs.is_empty(),
        },
        _ => match found {
            Found::Missing => false,
            Found::One(v) => test_value(test, v),
            Found::Owned(v) => test_value(test, v),
            Found::Many(vs) => vs.iter().any(|v| test_value(test, v)),
        },
    }
}

fn null_or_empty(v: &Value<'_>) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// Applies a value test; lists hold when any element does.
pub fn test_value(test: &Test, v: &Value<'_>) -> bool {
    if let Value::Array(a) = v {
        if let Test::Str {
            op: StrOp::Contains,
            ci,
            values,
        } = test
        {
            // A list "contains" a value when an element equals it, or a string element contains it.
            return a.iter().any(|e| {
                test_scalar(
                    &Test::Str {
                        op: StrOp::Equals,
                        ci: *ci,
                        values: values.clone(),
                    },
                    e,
                ) || test_scalar(test, e)
            });
        }
        return a.iter().any(|e| test_value(test, e));
    }
    test_scalar(test, v)
}

fn test_scalar(test: &Test, v: &Value<'_>) -> bool {
    match test {
        Test::Str { op, ci, values } => values.iter().any(|lit| str_match(*op, *ci, v, lit)),
        Test::Num { op, values } => match as_number(v) {
            Some(x) => values.iter().any(|b| num_cmp(*op, x, *b)),
            None => false,
        },
        Test::Ip(kind) => as_ip(v).is_some_and(|ip| ip_test(*kind, ip)),
        Test::Cidr(nets) => as_ip(v).is_some_and(|ip| nets.iter().any(|n| n.contains(&ip))),
        Test::Regex(re) => match v {
            Value::String(s) => re.is_match(s),
            Value::Number(n) => re.is_match(&n.to_string()),
            Value::Bool(b) => re.is_match(if *b { "true" } else { "false" }),
            _ => false,
        },
        Test::Exists => true,
        Test::IsNull => v.is_null(),
        Test::NullOrEmpty => null_or_empty(v),
    }
}

/// The value as a number: numbers, and strings that parse as numbers.
pub fn as_number(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

fn as_ip(v: &Value<'_>) -> Option<IpAddr> {
    v.as_str().and_then(|s| s.parse::<IpAddr>().ok())
}

fn num_cmp(op: NumOp, x: f64, b: f64) -> bool {
    match op {
        NumOp::Gt => x > b,
        NumOp::Ge => x >= b,
        NumOp::Lt => x < b,
        NumOp::Le => x <= b,
    }
}

fn str_match(op: StrOp, ci: bool, v: &Value<'_>, lit: &Literal) -> bool {
    if op == StrOp::Equals {
        return equals(v, lit, ci);
    }
    let Literal::Str(needle) = lit else {
        let text = lit.text();
        return str_match(op, ci, v, &Literal::Str(text));
    };
    let hay: std::borrow::Cow<'_, str> = match v {
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_ref()),
        Value::Number(n) => std::borrow::Cow::Owned(n.to_string()),
        Value::Bool(b) => std::borrow::Cow::Owned(b.to_string()),
        _ => return false,
    };
    let hay = if ci {
        std::borrow::Cow::Owned(hay.to_lowercase())
    } else {
        hay
    };
    match op {
        StrOp::StartsWith => hay.starts_with(needle.as_str()),
        StrOp::EndsWith => hay.ends_with(needle.as_str()),
        StrOp::Contains => hay.contains(needle.as_str()),
        StrOp::Equals => hay == needle.as_str(),
    }
}

/// Type-aware equality (see the rule-language reference).
pub fn equals(v: &Value<'_>, lit: &Literal, ci: bool) -> bool {
    match (v, lit) {
        (Value::String(s), Literal::Str(l)) => {
            if ci {
                s.to_lowercase() == *l
            } else {
                s == l
            }
        }
        (Value::String(s), Literal::Num(n)) => s.parse::<f64>().is_ok_and(|x| x == *n),
        (Value::String(s), Literal::Bool(b)) => {
            s.eq_ignore_ascii_case(if *b { "true" } else { "false" })
        }
        (Value::Number(x), Literal::Num(n)) => x.as_f64() == Some(*n),
        (Value::Number(x), Literal::Str(l)) => {
            l.parse::<f64>().is_ok_and(|n| x.as_f64() == Some(n))
        }
        (Value::Bool(b), Literal::Bool(l)) => b == l,
        (Value::Bool(b), Literal::Str(l)) => {
            l.eq_ignore_ascii_case(if *b { "true" } else { "false" })
        }
        (Value::Null, Literal::Null) => true,
        _ => false,
    }
}

fn ip_test(kind: IpTest, ip: IpAddr) -> bool {
    match kind {
        IpTest::Any => true,
        IpTest::V4 => ip.is_ipv4(),
        IpTest::V6 => ip.is_ipv6(),
        IpTest::Private => is_private(ip),
        IpTest::Public => !is_private(ip) && !ip.is_unspecified() && !ip.is_multicast(),
    }
}

/// Private in the broad sense: not globally routable.
pub fn is_private(ip: IpAddr) -> bool {
    const V4: &[&str] = &[
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "255.255.255.255/32",
    ];
    const V6: &[&str] = &[
        "::1/128",
        "::/128",
        "fc00::/7",
        "fe80::/10",
        "2001:db8::/32",
        "64:ff9b:1::/48",
    ];
    // Parsed once: this runs for every event a source-address rule reads.
    static NETS: std::sync::OnceLock<(Vec<IpNet>, Vec<IpNet>)> = std::sync::OnceLock::new();
    let (v4_nets, v6_nets) = NETS.get_or_init(|| {
        let parse = |list: &[&str]| {
            list.iter()
                .filter_map(|n| n.parse::<IpNet>().ok())
                .collect()
        };
        (parse(V4), parse(V6))
    });
    match ip {
        IpAddr::V4(_) => v4_nets.iter().any(|n| n.contains(&ip)),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            v6_nets.iter().any(|n| n.contains(&ip))
        }
    }
}

fn compare_found(op: CompareOp, a: &Found<'_>, b: &Found<'_>) -> bool {
    let (Some(av), Some(bv)) = (a.value(), b.value()) else {
        return matches!((a, b), (Found::Missing, Found::Missing)) && op == CompareOp::Equals;
    };
    let lit = match bv {
        Value::String(s) => Literal::Str(s.to_string()),
        Value::Number(n) => match n.as_f64() {
            Some(x) => Literal::Num(x),
            None => return false,
        },
        Value::Bool(b) => Literal::Bool(*b),
        Value::Null => Literal::Null,
        _ => return av == bv,
    };
    match op {
        CompareOp::Equals => equals(av, &lit, false),
        CompareOp::Str(sop, ci) => {
            let lit = match (ci, lit) {
                (true, Literal::Str(s)) => Literal::Str(s.to_lowercase()),
                (_, l) => l,
            };
            test_value(
                &Test::Str {
                    op: sop,
                    ci,
                    values: vec![lit],
                },
                av,
            )
        }
        CompareOp::Num(nop) => match (as_number(av), as_number(bv)) {
            (Some(x), Some(y)) => num_cmp(nop, x, y),
            _ => false,
        },
    }
}
