//! Compiling match expressions as written ([`ExprRaw`]) into [`Expr`] trees.

use crate::expr::{CompareOp, ElementMode, Expr, IpTest, Literal, NumOp, StrOp, Test};
use crate::model::{ConditionName as C, ExprList, ExprRaw, KeySpecRaw};
use crate::path::{FieldPath, Segment};
use serde_norway::Value as Yaml;
use std::collections::BTreeMap;

/// A compile error: where in the expression tree, what, and a piece of text
/// to find the line by.
#[derive(Debug, Clone)]
pub struct CompileError {
    /// Position in the tree, like `Detection[2].Any[0]`.
    pub at: String,
    /// What is wrong.
    pub message: String,
    /// Text from the offending expression, used to find its line.
    pub needle: Option<String>,
}

/// Named lists and conditions from library files.
#[derive(Debug, Default, Clone)]
pub struct Library {
    /// Named lists.
    pub lists: BTreeMap<String, Vec<Yaml>>,
    /// Named conditions, as written.
    pub conditions: BTreeMap<String, ExprList>,
    /// Where each name was defined (file).
    pub origin: BTreeMap<String, String>,
}

/// Compiles with access to a library.
pub struct Compiler<'l> {
    lib: &'l Library,
    stack: Vec<String>,
}

type R<T> = Result<T, CompileError>;

fn err<T>(at: &str, message: impl Into<String>, needle: Option<&str>) -> R<T> {
    Err(CompileError {
        at: at.to_string(),
        message: message.into(),
        needle: needle.map(str::to_string),
    })
}

impl<'l> Compiler<'l> {
    /// A compiler using `lib`.
    pub fn new(lib: &'l Library) -> Self {
        Compiler {
            lib,
            stack: Vec::new(),
        }
    }

    /// The library in use.
    pub fn library(&self) -> &Library {
        self.lib
    }

    /// Compiles a list (implicit All).
    pub fn list(&mut self, list: &ExprList, at: &str) -> R<Expr> {
        let mut out = Vec::with_capacity(list.0.len());
        for (i, e) in list.0.iter().enumerate() {
            out.push(self.expr(e, &format!("{at}[{i}]"))?);
        }
        Ok(if out.len() == 1 {
            out.pop().unwrap_or(Expr::Const(true))
        } else {
            Expr::All(out)
        })
    }

    fn children(&mut self, list: &ExprList, at: &str) -> R<Vec<Expr>> {
        list.0
            .iter()
            .enumerate()
            .map(|(i, e)| self.expr(e, &format!("{at}[{i}]")))
            .collect()
    }

    /// Compiles one expression.
    pub fn expr(&mut self, e: &ExprRaw, at: &str) -> R<Expr> {
        let combinators = [&e.All, &e.Any, &e.OnlyOne, &e.None]
            .iter()
            .filter(|c| c.is_some())
            .count()
            + usize::from(e.Use.is_some());
        let has_key = e.Key.is_some() || e.KeyPath.is_some() || e.DeepKey.is_some();
        if combinators > 1 || (combinators == 1 && (has_key || e.Condition.is_some())) {
            return err(at, "an expression has exactly one of All, Any, OnlyOne, None, Use, or a key with a Condition", None);
        }
        if let Some(l) = &e.All {
            return Ok(Expr::All(self.children(l, &format!("{at}.All"))?));
        }
        if let Some(l) = &e.Any {
            return Ok(Expr::Any(self.children(l, &format!("{at}.Any"))?));
        }
        if let Some(l) = &e.OnlyOne {
            return Ok(Expr::OnlyOne(self.children(l, &format!("{at}.OnlyOne"))?));
        }
        if let Some(l) = &e.None {
            return Ok(Expr::None(self.children(l, &format!("{at}.None"))?));
        }
        if let Some(name) = &e.Use {
            return self.named(name, at);
        }
        let Some(cond) = e.Condition else {
            return err(
                at,
                "expression has no Condition",
                e.KeyPath.as_deref().or(e.Key.as_deref()),
            );
        };
        match cond {
            C::AlwaysTrue => return Ok(Expr::Const(true)),
            C::AlwaysFalse => return Ok(Expr::Const(false)),
            _ => {}
        }
        let path = key_spec(&e.Key, &e.KeyPath, &e.DeepKey, at)?;
        let needle = Some(path.text.as_str());
        if matches!(
            cond,
            C::AnyElement | C::AllElements | C::OnlyOneElement | C::NoElement
        ) {
            let Some(list) = &e.Expressions else {
                return err(at, format!("{} needs Expressions", cond.as_str()), needle);
            };
            let mode = match cond {
                C::AnyElement => ElementMode::Any,
                C::AllElements => ElementMode::All,
                C::OnlyOneElement => ElementMode::OnlyOne,
                _ => ElementMode::None,
            };
            let exprs = self.children(list, &format!("{at}.Expressions"))?;
            return Ok(Expr::Elements { path, mode, exprs });
        }
        if e.Expressions.is_some() {
            return err(at, format!("Expressions only go with AnyElement, AllElements, OnlyOneElement or NoElement, not {}", cond.as_str()), needle);
        }
        // Multi-key comparison: Values holding key specifiers.
        if let Some(Yaml::Sequence(items)) = &e.Values {
            if !items.is_empty() && items.iter().all(is_key_spec) {
                return self.multi_key(cond, path, items, at);
            }
        }
        let values = self.values(e, at, needle)?;
        let (test, negate) = leaf_test(cond, values, at, needle)?;
        // An empty list holds nothing: `IsIn []` is false, `IsNotIn []` true.
        let empty = match &test {
            Test::Str { values, .. } => values.is_empty(),
            Test::Cidr(nets) => nets.is_empty(),
            _ => false,
        };
        if empty {
            return Ok(Expr::Const(negate));
        }
        Ok(Expr::Leaf {
            path,
            test,
            negate,
            name: cond.as_str().to_string(),
        })
    }

    fn named(&mut self, name: &str, at: &str) -> R<Expr> {
        let Some(list) = self.lib.conditions.get(name) else {
            return err(
                at,
                format!(
                    "no named condition {name:?} (define it under Conditions in a library file)"
                ),
                Some(name),
            );
        };
        if self.stack.iter().any(|n| n == name) {
            return err(
                at,
                format!("named condition {name:?} refers to itself"),
                Some(name),
            );
        }
        self.stack.push(name.to_string());
        let compiled = self.list(list, &format!("Conditions.{name}"));
        self.stack.pop();
        Ok(Expr::Named {
            name: name.to_string(),
            expr: Box::new(compiled?),
        })
    }

    fn values(&self, e: &ExprRaw, at: &str, needle: Option<&str>) -> R<Option<Vec<Literal>>> {
        let raw = match (&e.Value, &e.Values) {
            (Some(_), Some(_)) => return err(at, "give Value or Values, not both", needle),
            (Some(v), None) => v,
            (None, Some(v)) => v,
            (None, None) => return Ok(None),
        };
        let items: Vec<Yaml> = match raw {
            Yaml::Mapping(m) => {
                let Some(Yaml::String(name)) = m.get(Yaml::String("List".into())) else {
                    return err(
                        at,
                        "a mapping in Value/Values must be {List: name} or a key specifier",
                        needle,
                    );
                };
                if m.len() != 1 {
                    return err(at, "{List: name} takes no other keys", needle);
                }
                match self.lib.lists.get(name) {
                    Some(l) => l.clone(),
                    None => {
                        return err(
                            at,
                            format!(
                                "no named list {name:?} (define it under Lists in a library file)"
                            ),
                            Some(name),
                        )
                    }
                }
            }
            Yaml::Sequence(s) => s.clone(),
            other => vec![other.clone()],
        };
        items
            .iter()
            .map(|y| literal(y, at, needle))
            .collect::<R<Vec<_>>>()
            .map(Some)
    }

    fn multi_key(&self, cond: C, path: FieldPath, items: &[Yaml], at: &str) -> R<Expr> {
        let mut others = Vec::new();
        for item in items {
            let spec: KeySpecRaw =
                serde_norway::from_value(item.clone()).map_err(|e| CompileError {
                    at: at.into(),
                    message: format!("bad key specifier in Values: {e}"),
                    needle: None,
                })?;
            others.push(key_spec(&spec.Key, &spec.KeyPath, &spec.DeepKey, at)?);
        }
        let (op, negate) = match cond {
            C::Equals => (CompareOp::Equals, false),
            C::DoesNotEqual => (CompareOp::Equals, true),
            C::IEquals => (CompareOp::Str(StrOp::Equals, true), false),
            C::IDoesNotEqual => (CompareOp::Str(StrOp::Equals, true), true),
            C::StartsWith => (CompareOp::Str(StrOp::StartsWith, false), false),
            C::DoesNotStartWith => (CompareOp::Str(StrOp::StartsWith, false), true),
            C::EndsWith => (CompareOp::Str(StrOp::EndsWith, false), false),
            C::DoesNotEndWith => (CompareOp::Str(StrOp::EndsWith, false), true),
            C::Contains => (CompareOp::Str(StrOp::Contains, false), false),
            C::DoesNotContain => (CompareOp::Str(StrOp::Contains, false), true),
            C::IsGreaterThan => (CompareOp::Num(NumOp::Gt), false),
            C::IsGreaterThanOrEqual => (CompareOp::Num(NumOp::Ge), false),
            C::IsLessThan => (CompareOp::Num(NumOp::Lt), false),
            C::IsLessThanOrEqual => (CompareOp::Num(NumOp::Le), false),
            other => {
                return err(
                    at,
                    format!("{} cannot compare two keys", other.as_str()),
                    Some(&path.text),
                )
            }
        };
        Ok(Expr::Compare {
            path,
            others,
            op,
            negate,
            name: cond.as_str().to_string(),
        })
    }
}

fn is_key_spec(y: &Yaml) -> bool {
    match y {
        Yaml::Mapping(m) => {
            !m.is_empty()
                && m.keys()
                    .all(|k| matches!(k.as_str(), Some("Key" | "KeyPath" | "DeepKey")))
        }
        _ => false,
    }
}

/// Compiles a key specifier; exactly one of the three forms.
pub fn key_spec(
    key: &Option<String>,
    key_path: &Option<String>,
    deep: &Option<Vec<Yaml>>,
    at: &str,
) -> R<FieldPath> {
    match (key, key_path, deep) {
        (Some(k), None, None) => Ok(FieldPath::key(k)),
        (None, Some(p), None) => FieldPath::parse(p).map_err(|m| CompileError {
            at: at.into(),
            message: m,
            needle: Some(p.clone()),
        }),
        (None, None, Some(parts)) => {
            let mut segs = Vec::new();
            for p in parts {
                match p {
                    Yaml::String(s) if s == "*" => segs.push(Segment::Wildcard),
                    Yaml::String(s) => segs.push(Segment::Key(s.clone())),
                    Yaml::Number(n) if n.as_u64().is_some() => {
                        segs.push(Segment::Index(n.as_u64().unwrap_or(0) as usize))
                    }
                    other => {
                        return err(
                            at,
                            format!("DeepKey parts are strings or indices, not {other:?}"),
                            None,
                        )
                    }
                }
            }
            if segs.is_empty() {
                return err(at, "DeepKey is empty", None);
            }
            Ok(FieldPath::deep(segs))
        }
        (None, None, None) => err(at, "expression needs Key, KeyPath or DeepKey", None),
        _ => err(at, "use only one of Key, KeyPath, DeepKey", None),
    }
}

/// Compiles a key specifier given as a struct.
pub fn key_spec_raw(spec: &KeySpecRaw, at: &str) -> R<FieldPath> {
    key_spec(&spec.Key, &spec.KeyPath, &spec.DeepKey, at)
}

fn literal(y: &Yaml, at: &str, needle: Option<&str>) -> R<Literal> {
    Ok(match y {
        Yaml::String(s) => Literal::Str(s.clone()),
        Yaml::Number(n) => match n.as_f64() {
            Some(x) => Literal::Num(x),
            None => return err(at, "number out of range", needle),
        },
        Yaml::Bool(b) => Literal::Bool(*b),
        Yaml::Null => Literal::Null,
        Yaml::Tagged(t) => return literal(&t.value, at, needle),
        _ => return err(at, "values are strings, numbers, booleans or null", needle),
    })
}

fn strings(values: &[Literal], lower: bool) -> Vec<Literal> {
    values
        .iter()
        .map(|v| match v {
            Literal::Str(s) if lower => Literal::Str(s.to_lowercase()),
            Literal::Str(s) => Literal::Str(s.clone()),
            other if lower => Literal::Str(other.text().to_lowercase()),
            other => other.clone(),
        })
        .collect()
}

/// The string conditions: (condition, operation, case-insensitive, negated).
const STRING_TESTS: [(C, StrOp, bool, bool); 18] = [
    (C::Equals, StrOp::Equals, false, false),
    (C::IsIn, StrOp::Equals, false, false),
    (C::DoesNotEqual, StrOp::Equals, false, true),
    (C::IsNotIn, StrOp::Equals, false, true),
    (C::IEquals, StrOp::Equals, true, false),
    (C::IDoesNotEqual, StrOp::Equals, true, true),
    (C::StartsWith, StrOp::StartsWith, false, false),
    (C::DoesNotStartWith, StrOp::StartsWith, false, true),
    (C::IStartsWith, StrOp::StartsWith, true, false),
    (C::IDoesNotStartWith, StrOp::StartsWith, true, true),
    (C::EndsWith, StrOp::EndsWith, false, false),
    (C::DoesNotEndWith, StrOp::EndsWith, false, true),
    (C::IEndsWith, StrOp::EndsWith, true, false),
    (C::IDoesNotEndWith, StrOp::EndsWith, true, true),
    (C::Contains, StrOp::Contains, false, false),
    (C::DoesNotContain, StrOp::Contains, false, true),
    (C::IContains, StrOp::Contains, true, false),
    (C::IDoesNotContain, StrOp::Contains, true, true),
];

/// The number conditions.
const NUMBER_TESTS: [(C, NumOp); 4] = [
    (C::IsGreaterThan, NumOp::Gt),
    (C::IsGreaterThanOrEqual, NumOp::Ge),
    (C::IsLessThan, NumOp::Lt),
    (C::IsLessThanOrEqual, NumOp::Le),
];

/// The conditions that take no value: (condition, test, negated).
fn valueless_test(cond: C) -> Option<(Test, bool)> {
    Some(match cond {
        C::Exists => (Test::Exists, false),
        C::DoesNotExist => (Test::Exists, true),
        C::IsNull => (Test::IsNull, false),
        C::IsNotNull => (Test::IsNull, true),
        C::IsNullOrEmpty => (Test::NullOrEmpty, false),
        C::IsNotNullOrEmpty => (Test::NullOrEmpty, true),
        C::IsIPAddress => (Test::Ip(IpTest::Any), false),
        C::IsIPv4Address => (Test::Ip(IpTest::V4), false),
        C::IsIPv6Address => (Test::Ip(IpTest::V6), false),
        C::IsIPAddressPublic => (Test::Ip(IpTest::Public), false),
        C::IsIPAddressPrivate => (Test::Ip(IpTest::Private), false),
        _ => return None,
    })
}

/// One field condition with its values, where it was written.
struct Leaf<'a> {
    cond: C,
    values: Option<Vec<Literal>>,
    at: &'a str,
    needle: Option<&'a str>,
}

impl Leaf<'_> {
    fn fail<T>(&self, message: String) -> R<T> {
        err(self.at, message, self.needle)
    }

    /// The values, which the condition needs. An empty list is a list
    /// users are meant to fill (nothing is in it) for the list conditions.
    fn needed(self) -> R<Vec<Literal>> {
        match self.values {
            Some(v) if !v.is_empty() => Ok(v),
            Some(v)
                if matches!(
                    self.cond,
                    C::IsIn | C::IsNotIn | C::IsIPAddressInCIDR | C::IsIPAddressNotInCIDR
                ) =>
            {
                Ok(v)
            }
            _ => err(
                self.at,
                format!("{} needs Value or Values", self.cond.as_str()),
                self.needle,
            ),
        }
    }

    fn numbers(self, op: NumOp) -> R<Test> {
        let (at, needle, name) = (self.at, self.needle, self.cond.as_str());
        let mut nums = Vec::new();
        for lit in self.needed()? {
            match lit {
                Literal::Num(x) => nums.push(x),
                Literal::Str(t) if t.trim().parse::<f64>().is_ok() => {
                    nums.push(t.trim().parse().unwrap_or(0.0))
                }
                other => {
                    return err(
                        at,
                        format!("{name} compares numbers, not {:?}", other.text()),
                        needle,
                    )
                }
            }
        }
        Ok(Test::Num { op, values: nums })
    }

    fn cidrs(self) -> R<Test> {
        let at = self.at;
        let mut nets = Vec::new();
        for lit in self.needed()? {
            let text = lit.text();
            let net = text
                .parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| CompileError {
                    at: at.into(),
                    message: format!("{text:?} is not a CIDR"),
                    needle: Some(text.clone()),
                })?;
            nets.push(net);
        }
        Ok(Test::Cidr(nets))
    }

    fn regex(self) -> R<Test> {
        let at = self.at;
        let v = self.needed()?;
        let pattern = v
            .iter()
            .map(|l| format!("(?:{})", l.text()))
            .collect::<Vec<_>>()
            .join("|");
        let re = crate::user_regex::compile(&pattern).map_err(|e| CompileError {
            at: at.into(),
            message: format!("bad regex: {e}"),
            needle: v.first().map(Literal::text),
        })?;
        Ok(Test::Regex(Box::new(re)))
    }
}

fn leaf_test(
    cond: C,
    values: Option<Vec<Literal>>,
    at: &str,
    needle: Option<&str>,
) -> R<(Test, bool)> {
    let leaf = Leaf {
        cond,
        values,
        at,
        needle,
    };
    let name = cond.as_str();
    if let Some(&(_, op, ci, negate)) = STRING_TESTS.iter().find(|t| t.0 == cond) {
        let v = leaf.needed()?;
        let values = if op == StrOp::Equals && !ci {
            v
        } else {
            strings(&v, ci)
        };
        return Ok((Test::Str { op, ci, values }, negate));
    }
    if let Some(&(_, op)) = NUMBER_TESTS.iter().find(|t| t.0 == cond) {
        return Ok((leaf.numbers(op)?, false));
    }
    if let Some(test) = valueless_test(cond) {
        if leaf.values.is_some() {
            return leaf.fail(format!("{name} takes no Value"));
        }
        return Ok(test);
    }
    match cond {
        C::IsIPAddressInCIDR | C::IsIPAddressNotInCIDR => {
            Ok((leaf.cidrs()?, cond == C::IsIPAddressNotInCIDR))
        }
        C::MatchesRegex | C::DoesNotMatchRegex => Ok((leaf.regex()?, cond == C::DoesNotMatchRegex)),
        _ => leaf.fail(format!("{name} is not a field condition")),
    }
}
