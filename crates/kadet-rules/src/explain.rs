//! `kadet explain` and `kadet rules show`: rules and their evaluation in words.

use crate::expr::{CompareOp, ElementMode, Expr, IpTest, Literal, NumOp, Scope, StrOp, Test};
use crate::path::Found;
use crate::template::python_repr;

/// One line of an explanation: depth, whether the condition held, text.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Nesting depth.
    pub depth: usize,
    /// Whether it held.
    pub held: bool,
    /// What was checked and what was found.
    pub text: String,
}

/// Evaluates `e` while recording every step; returns the result.
pub fn explain(e: &Expr, scope: Scope<'_, '_>, depth: usize, out: &mut Vec<Step>) -> bool {
    let idx = out.len();
    out.push(Step {
        depth,
        held: false,
        text: String::new(),
    });
    let (held, text) = match e {
        Expr::All(xs) => {
            let rs: Vec<bool> = xs
                .iter()
                .map(|x| explain(x, scope, depth + 1, out))
                .collect();
            (rs.iter().all(|b| *b), "all of:".to_string())
        }
        Expr::Any(xs) => {
            let rs: Vec<bool> = xs
                .iter()
                .map(|x| explain(x, scope, depth + 1, out))
                .collect();
            (rs.iter().any(|b| *b), "any of:".to_string())
        }
        Expr::OnlyOne(xs) => {
            let n = xs
                .iter()
                .filter(|x| explain(x, scope, depth + 1, out))
                .count();
            (n == 1, format!("exactly one of ({n} held):"))
        }
        Expr::None(xs) => {
            let rs: Vec<bool> = xs
                .iter()
                .map(|x| explain(x, scope, depth + 1, out))
                .collect();
            (!rs.iter().any(|b| *b), "none of:".to_string())
        }
        Expr::Const(b) => (
            *b,
            if *b {
                "AlwaysTrue".into()
            } else {
                "AlwaysFalse".into()
            },
        ),
        Expr::Named { name, expr } => {
            let r = explain(expr, scope, depth + 1, out);
            (r, format!("{name}:"))
        }
        Expr::Leaf {
            path,
            test,
            negate,
            name,
        } => {
            let found = scope.resolve(path);
            let r = crate::expr::test_found(test, &found) != *negate;
            (
                r,
                format!(
                    "{path} {name}{} — found {}",
                    describe_values(test),
                    describe_found(&found)
                ),
            )
        }
        Expr::Compare {
            path, others, name, ..
        } => {
            let r = e.eval(scope);
            let found = scope.resolve(path);
            let names: Vec<String> = others
                .iter()
                .map(|o| format!("{o} ({})", describe_found(&scope.resolve(o))))
                .collect();
            (
                r,
                format!(
                    "{path} {name} {} — found {}",
                    names.join(", "),
                    describe_found(&found)
                ),
            )
        }
        Expr::Elements { path, mode, exprs } => {
            let found = scope.resolve(path);
            let r = crate::expr::eval_elements(*mode, &found, exprs);
            let elems = crate::expr::elements_of(&found);
            for (i, el) in elems.iter().enumerate() {
                out.push(Step {
                    depth: depth + 1,
                    held: exprs.iter().all(|x| x.eval(Scope::Element(el))),
                    text: format!("element [{i}]:"),
                });
                for x in exprs {
                    explain(x, Scope::Element(el), depth + 2, out);
                }
            }
            let m = match mode {
                ElementMode::Any => "AnyElement",
                ElementMode::All => "AllElements",
                ElementMode::OnlyOne => "OnlyOneElement",
                ElementMode::None => "NoElement",
            };
            (r, format!("{path} {m} ({} elements):", elems.len()))
        }
    };
    out[idx].held = held;
    out[idx].text = text;
    held
}

fn describe_found(f: &Found<'_>) -> String {
    match f {
        Found::Missing => "nothing (missing)".to_string(),
        other => {
            let s = serde_json::to_string(&other.to_json()).unwrap_or_default();
            if s.len() > 120 {
                let cut: String = s.chars().take(117).collect();
                format!("{cut}...")
            } else {
                s
            }
        }
    }
}

fn lit(l: &Literal) -> String {
    match l {
        Literal::Str(s) => format!("{s:?}"),
        other => other.text(),
    }
}

/// The values a test compares with, as text (empty for unary tests).
pub fn describe_values(test: &Test) -> String {
    match test {
        Test::Str { values, .. } if values.len() == 1 => format!(" {}", lit(&values[0])),
        Test::Str { values, .. } => format!(
            " [{}]",
            values.iter().map(lit).collect::<Vec<_>>().join(", ")
        ),
        Test::Num { values, .. } => {
            format!(
                " {}",
                values
                    .iter()
                    .map(|v| Literal::Num(*v).text())
                    .collect::<Vec<_>>()
                    .join(" | ")
            )
        }
        Test::Cidr(nets) => format!(
            " [{}]",
            nets.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Test::Regex(re) => format!(" /{}/", re.as_str()),
        _ => String::new(),
    }
}

/// A compact operator name for the readable condition.
fn op_name(test: &Test, negate: bool) -> String {
    let base = match test {
        Test::Str { op, ci, values } => {
            let o = match op {
                StrOp::Equals if values.len() > 1 => "in",
                StrOp::Equals => "eq",
                StrOp::StartsWith => "starts_with",
                StrOp::EndsWith => "ends_with",
                StrOp::Contains => "contains",
            };
            if *ci {
                format!("i{o}")
            } else {
                o.to_string()
            }
        }
        Test::Num { op, .. } => match op {
            NumOp::Gt => "gt",
            NumOp::Ge => "ge",
            NumOp::Lt => "lt",
            NumOp::Le => "le",
        }
        .to_string(),
        Test::Exists => "exists".into(),
        Test::IsNull => "is_null".into(),
        Test::NullOrEmpty => "is_null_or_empty".into(),
        Test::Ip(k) => match k {
            IpTest::Any => "is_ip",
            IpTest::V4 => "is_ipv4",
            IpTest::V6 => "is_ipv6",
            IpTest::Public => "is_public_ip",
            IpTest::Private => "is_private_ip",
        }
        .to_string(),
        Test::Cidr(_) => "in_cidr".into(),
        Test::Regex(_) => "matches".into(),
    };
    if !negate {
        return base;
    }
    match base.as_str() {
        "eq" => "ne".into(),
        "in" => "not_in".into(),
        "exists" => "does_not_exist".into(),
        "is_null" => "is_not_null".into(),
        other => format!("not_{other}"),
    }
}

/// Renders an expression as one readable condition.
pub fn render(e: &Expr) -> String {
    match e {
        Expr::All(xs) => join(xs, " and "),
        Expr::Any(xs) => join(xs, " or "),
        Expr::OnlyOne(xs) => format!(
            "only_one({})",
            xs.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Expr::None(xs) => format!(
            "not ({})",
            xs.iter().map(render).collect::<Vec<_>>().join(" or ")
        ),
        Expr::Const(b) => if *b { "true" } else { "false" }.into(),
        Expr::Named { name, expr } => format!("{name}⟨{}⟩", render(expr)),
        Expr::Leaf {
            path, test, negate, ..
        } => format!("{path} {}{}", op_name(test, *negate), describe_values(test)),
        Expr::Compare {
            path,
            others,
            op,
            negate,
            ..
        } => {
            let o = match op {
                CompareOp::Equals => "eq",
                CompareOp::Str(..) => "matches",
                CompareOp::Num(_) => "compares",
            };
            let others: Vec<String> = others.iter().map(|p| p.to_string()).collect();
            format!(
                "{}{path} {o} {}",
                if *negate { "not " } else { "" },
                others.join(", ")
            )
        }
        Expr::Elements { path, mode, exprs } => {
            let m = match mode {
                ElementMode::Any => "any",
                ElementMode::All => "all",
                ElementMode::OnlyOne => "only_one",
                ElementMode::None => "no",
            };
            format!("{m} element of {path} where ({})", join(exprs, " and "))
        }
    }
}

fn join(xs: &[Expr], sep: &str) -> String {
    let parts: Vec<String> = xs
        .iter()
        .map(|x| match x {
            Expr::All(_) | Expr::Any(_) if !sep.is_empty() => format!("({})", render(x)),
            _ => render(x),
        })
        .collect();
    parts.join(sep)
}

/// A row of the exclusions or indicators table.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRow {
    /// Field path.
    pub field: String,
    /// Condition kind.
    pub kind: String,
    /// Values, or a note.
    pub values: String,
}

/// The leaves under the top-level `None` blocks: what the rule suppresses.
pub fn exclusions(e: &Expr) -> Vec<FieldRow> {
    let mut out = Vec::new();
    for c in top_conjuncts(e) {
        if let Expr::None(xs) = c {
            for x in xs {
                leaves(x, false, &mut out);
            }
        }
    }
    out
}

/// The positive leaves among the top-level conjuncts: what the rule looks for.
pub fn indicators(e: &Expr) -> Vec<FieldRow> {
    let mut out = Vec::new();
    for c in top_conjuncts(e) {
        if !matches!(c, Expr::None(_)) {
            leaves(c, false, &mut out);
        }
    }
    out
}

fn top_conjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::All(xs) => xs.iter().flat_map(top_conjuncts).collect(),
        Expr::Named { expr, .. } if matches!(**expr, Expr::All(_)) => top_conjuncts(expr),
        other => vec![other],
    }
}

fn leaves(e: &Expr, negated: bool, out: &mut Vec<FieldRow>) {
    match e {
        Expr::All(xs) | Expr::Any(xs) | Expr::OnlyOne(xs) => {
            xs.iter().for_each(|x| leaves(x, negated, out))
        }
        Expr::None(xs) => xs.iter().for_each(|x| leaves(x, !negated, out)),
        Expr::Named { expr, .. } => leaves(expr, negated, out),
        Expr::Leaf {
            path, test, negate, ..
        } => {
            let values = describe_values(test).trim().to_string();
            let row = FieldRow {
                field: path.to_string(),
                kind: op_name(test, *negate != negated),
                values: if values.is_empty() {
                    "(no value, presence check)".into()
                } else {
                    values
                },
            };
            if !out.contains(&row) {
                out.push(row);
            }
        }
        Expr::Elements { path, exprs, .. } => {
            for x in exprs {
                let mut inner = Vec::new();
                leaves(x, negated, &mut inner);
                for mut r in inner {
                    r.field = format!("{path}[*].{}", r.field);
                    out.push(r);
                }
            }
        }
        Expr::Compare { path, others, .. } => out.push(FieldRow {
            field: path.to_string(),
            kind: "compare".into(),
            values: others
                .iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
        Expr::Const(_) => {}
    }
}

/// A literal as Python would print it (used by `rules show`).
pub fn python_literal(v: &kadet_event::Value<'_>) -> String {
    python_repr(v)
}
