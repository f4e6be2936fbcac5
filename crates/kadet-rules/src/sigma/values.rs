//! A field's values compiled to an [`Expr`], as its modifiers say: string
//! matching (plain values, wildcards, encodings), regular expressions,
//! networks, numbers, presence and field references.

use super::modifiers::{kind_of, Kind, Modifier};
use super::pattern::{self, Tok};
use crate::expr::{CompareOp, Expr, Literal, NumOp, StrOp, Test};
use crate::path::FieldPath;
use serde_norway::Value as Yaml;

/// The values of one field condition as written: one scalar or a list.
fn value_list(value: &Yaml) -> Result<Vec<&Yaml>, String> {
    match value {
        Yaml::Sequence(items) if items.is_empty() => Err("an empty list of values".into()),
        Yaml::Sequence(items) => {
            if items
                .iter()
                .any(|v| matches!(v, Yaml::Sequence(_) | Yaml::Mapping(_)))
            {
                return Err("values are strings, numbers, booleans or null".into());
            }
            Ok(items.iter().collect())
        }
        Yaml::Mapping(_) => Err(
            "a field's value is a string, number, boolean, null or a list of them, not a mapping"
                .into(),
        ),
        Yaml::Tagged(t) => value_list(&t.value),
        other => Ok(vec![other]),
    }
}

/// A scalar's text (numbers as written, booleans `true`/`false`).
pub fn scalar_text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Tagged(t) => scalar_text(&t.value),
        _ => None,
    }
}

/// Compiles `field|modifiers: value(s)` on `path` (already mapped).
/// `other_path` maps a `fieldref` value to its path.
pub fn field_condition(
    path: &FieldPath,
    mods: &[Modifier],
    value: &Yaml,
    other_path: &dyn Fn(&str) -> Result<FieldPath, String>,
) -> Result<Expr, String> {
    let kind = kind_of(mods)?;
    let values = value_list(value)?;
    let all = mods.contains(&Modifier::All);
    let neq = mods.contains(&Modifier::Neq);
    let parts: Vec<Expr> = match kind {
        Kind::Strings => string_values(path, mods, &values, all)?,
        Kind::Regex => regex_values(path, mods, &values, all)?,
        Kind::Cidr => cidr_values(path, &values, all)?,
        Kind::Number(op) => number_values(path, op, &values, all)?,
        Kind::Exists => vec![exists_value(path, &values)?],
        Kind::FieldRef => fieldref_values(path, mods, &values, other_path)?,
    };
    let joined = join(parts, all);
    Ok(if neq {
        Expr::None(vec![joined])
    } else {
        joined
    })
}

fn join(mut parts: Vec<Expr>, all: bool) -> Expr {
    if parts.len() == 1 {
        return parts.swap_remove(0);
    }
    if all {
        Expr::All(parts)
    } else {
        Expr::Any(parts)
    }
}

/// String matching: plain values, wildcards and the transformations.
/// Without `all`, simple patterns with the same operator share one leaf.
fn string_values(
    path: &FieldPath,
    mods: &[Modifier],
    values: &[&Yaml],
    all: bool,
) -> Result<Vec<Expr>, String> {
    use Modifier as M;
    let ci = !mods.contains(&M::Cased);
    let transformed = mods.iter().any(|m| {
        matches!(
            m,
            M::Contains | M::StartsWith | M::EndsWith | M::Windash | M::Base64 | M::Base64Offset
        )
    });
    let mut out: Vec<Expr> = Vec::new();
    // Per value: its alternatives (windash, base64offset give several).
    for v in values {
        let mut alternatives: Vec<Expr> = Vec::new();
        match v {
            Yaml::Null if transformed => return Err(
                "null cannot be combined with contains, startswith, endswith, windash or base64"
                    .into(),
            ),
            Yaml::Null => alternatives.push(null_leaf(path)),
            Yaml::Number(_) | Yaml::Bool(_) if !transformed => {
                alternatives.push(literal_leaf(path, v, ci))
            }
            _ => {
                let Some(text) = scalar_text(v) else {
                    return Err("values are strings, numbers, booleans or null".into());
                };
                for toks in transform(&text, mods)? {
                    alternatives.push(pattern_expr(path, &toks, ci)?);
                }
            }
        }
        if all {
            out.push(join(merge_simple(alternatives), false));
        } else {
            out.extend(alternatives);
        }
    }
    Ok(if all { out } else { merge_simple(out) })
}

/// A value's patterns after windash, base64/base64offset and
/// contains/startswith/endswith, in modifier order.
fn transform(text: &str, mods: &[Modifier]) -> Result<Vec<Vec<Tok>>, String> {
    use Modifier as M;
    let mut variants = vec![pattern::parse(text)];
    for m in mods {
        variants = match m {
            M::Windash => {
                let mut next = Vec::new();
                for v in &variants {
                    next.extend(pattern::windash(v)?);
                }
                next
            }
            M::Base64 | M::Base64Offset => {
                let mut next = Vec::new();
                for v in &variants {
                    let plain = pattern::plain(v).ok_or_else(|| {
                        format!(
                            "a value with wildcards cannot be {}-encoded (escape `*` and `?` with `\\`)",
                            m.name()
                        )
                    })?;
                    let encoded = if *m == M::Base64 {
                        vec![pattern::base64(&plain)]
                    } else {
                        pattern::base64_offsets(&plain)
                    };
                    next.extend(encoded.into_iter().map(|e| vec![Tok::Lit(e)]));
                }
                if next.is_empty() {
                    return Err("the value is too short for base64offset".into());
                }
                next
            }
            M::Contains => variants
                .into_iter()
                .map(|v| pattern::wrap(v, true, true))
                .collect(),
            M::StartsWith => variants
                .into_iter()
                .map(|v| pattern::wrap(v, false, true))
                .collect(),
            M::EndsWith => variants
                .into_iter()
                .map(|v| pattern::wrap(v, true, false))
                .collect(),
            _ => variants,
        };
    }
    Ok(variants)
}

/// A pattern as a leaf (simple shapes) or its conjunction (other shapes).
fn pattern_expr(path: &FieldPath, toks: &[Tok], ci: bool) -> Result<Expr, String> {
    if toks == [Tok::Star] {
        // `*`: any value with a string form (string, number, boolean).
        let re = regex::Regex::new("(?s)^.*$").map_err(|e| e.to_string())?;
        return Ok(Expr::Leaf {
            path: path.clone(),
            test: Test::Regex(Box::new(re)),
            negate: false,
            name: "wildcard".into(),
        });
    }
    match pattern::simple(toks) {
        Some((op, text)) => Ok(pattern::str_leaf(
            path,
            op,
            ci,
            vec![text],
            &pattern::op_name(op, ci),
        )),
        None => pattern::complex(path, toks, ci),
    }
}

fn null_leaf(path: &FieldPath) -> Expr {
    Expr::Leaf {
        path: path.clone(),
        test: Test::IsNull,
        negate: false,
        name: "null".into(),
    }
}

/// A number or boolean compared for equality (a number also equals its
/// string form).
fn literal_leaf(path: &FieldPath, v: &Yaml, ci: bool) -> Expr {
    let lit = match v {
        Yaml::Number(n) => n
            .as_f64()
            .map_or_else(|| Literal::Str(n.to_string()), Literal::Num),
        Yaml::Bool(b) => Literal::Bool(*b),
        other => Literal::Str(scalar_text(other).unwrap_or_default()),
    };
    Expr::Leaf {
        path: path.clone(),
        test: Test::Str {
            op: StrOp::Equals,
            ci,
            values: vec![lit],
        },
        negate: false,
        name: pattern::op_name(StrOp::Equals, ci),
    }
}

/// Merges string leaves with the same path, operator and case into one
/// leaf with several values (`verb equals [create, delete]`).
fn merge_simple(parts: Vec<Expr>) -> Vec<Expr> {
    let mut out: Vec<Expr> = Vec::new();
    for p in parts {
        if let Expr::Leaf {
            path,
            test: Test::Str { op, ci, values },
            negate: false,
            name,
        } = &p
        {
            let same = out.iter_mut().find_map(|q| match q {
                Expr::Leaf {
                    path: qp,
                    test:
                        Test::Str {
                            op: qo,
                            ci: qc,
                            values: qv,
                        },
                    negate: false,
                    name: qn,
                } if qp == path && qo == op && qc == ci && qn == name => Some(qv),
                _ => None,
            });
            if let Some(qv) = same {
                for v in values {
                    if !qv.contains(v) {
                        qv.push(v.clone());
                    }
                }
                continue;
            }
        }
        out.push(p);
    }
    out
}

fn regex_values(
    path: &FieldPath,
    mods: &[Modifier],
    values: &[&Yaml],
    all: bool,
) -> Result<Vec<Expr>, String> {
    let mut flags = String::new();
    for (m, f) in [
        (Modifier::ReI, 'i'),
        (Modifier::ReM, 'm'),
        (Modifier::ReS, 's'),
    ] {
        if mods.contains(&m) {
            flags.push(f);
        }
    }
    let prefix = if flags.is_empty() {
        String::new()
    } else {
        format!("(?{flags})")
    };
    let mut patterns = Vec::new();
    for v in values {
        let Some(text) = scalar_text(v) else {
            return Err("re takes a string".into());
        };
        crate::user_regex::compile(&text).map_err(|e| regex_error(&text, &e))?;
        patterns.push(text);
    }
    let leaf = |pats: &[String]| -> Result<Expr, String> {
        let joined = if pats.len() == 1 {
            format!("{prefix}{}", pats[0])
        } else {
            let alts: Vec<String> = pats.iter().map(|p| format!("(?:{p})")).collect();
            format!("{prefix}{}", alts.join("|"))
        };
        let re = crate::user_regex::compile(&joined).map_err(|e| regex_error(&joined, &e))?;
        Ok(Expr::Leaf {
            path: path.clone(),
            test: Test::Regex(Box::new(re)),
            negate: false,
            name: format!(
                "re{}",
                flags.chars().map(|c| format!("|{c}")).collect::<String>()
            ),
        })
    };
    if all {
        patterns
            .iter()
            .map(|p| leaf(std::slice::from_ref(p)))
            .collect()
    } else {
        Ok(vec![leaf(&patterns)?])
    }
}

fn regex_error(pattern: &str, e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or("").trim();
    format!("regular expression {pattern:?} is not supported by kadet's regex engine (no look-around or back-references): {last}")
}

fn cidr_values(path: &FieldPath, values: &[&Yaml], all: bool) -> Result<Vec<Expr>, String> {
    let mut nets = Vec::new();
    for v in values {
        let text = scalar_text(v).ok_or("cidr takes a network like 10.0.0.0/8 or fd00::/8")?;
        let net = text
            .trim()
            .parse::<ipnet::IpNet>()
            .or_else(|_| {
                text.trim()
                    .parse::<std::net::IpAddr>()
                    .map(ipnet::IpNet::from)
            })
            .map_err(|_| format!("{text:?} is not a CIDR network"))?;
        nets.push(net);
    }
    let leaf = |nets: Vec<ipnet::IpNet>| Expr::Leaf {
        path: path.clone(),
        test: Test::Cidr(nets),
        negate: false,
        name: "cidr".into(),
    };
    Ok(if all {
        nets.into_iter().map(|n| leaf(vec![n])).collect()
    } else {
        vec![leaf(nets)]
    })
}

fn number_values(
    path: &FieldPath,
    op: NumOp,
    values: &[&Yaml],
    all: bool,
) -> Result<Vec<Expr>, String> {
    let name = match op {
        NumOp::Gt => "gt",
        NumOp::Ge => "gte",
        NumOp::Lt => "lt",
        NumOp::Le => "lte",
    };
    let mut nums = Vec::new();
    for v in values {
        let n = match v {
            Yaml::Number(n) => n.as_f64(),
            other => scalar_text(other).and_then(|t| t.trim().parse::<f64>().ok()),
        }
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("{name} compares with a number"))?;
        nums.push(n);
    }
    let leaf = |values: Vec<f64>| Expr::Leaf {
        path: path.clone(),
        test: Test::Num { op, values },
        negate: false,
        name: name.into(),
    };
    Ok(if all {
        nums.into_iter().map(|n| leaf(vec![n])).collect()
    } else {
        vec![leaf(nums)]
    })
}

fn exists_value(path: &FieldPath, values: &[&Yaml]) -> Result<Expr, String> {
    let [Yaml::Bool(b)] = values else {
        return Err("exists takes true or false".into());
    };
    Ok(Expr::Leaf {
        path: path.clone(),
        test: Test::Exists,
        negate: !*b,
        name: if *b { "exists" } else { "exists: false" }.into(),
    })
}

fn fieldref_values(
    path: &FieldPath,
    mods: &[Modifier],
    values: &[&Yaml],
    other_path: &dyn Fn(&str) -> Result<FieldPath, String>,
) -> Result<Vec<Expr>, String> {
    let ci = !mods.contains(&Modifier::Cased);
    let op = if mods.contains(&Modifier::Contains) {
        StrOp::Contains
    } else if mods.contains(&Modifier::StartsWith) {
        StrOp::StartsWith
    } else if mods.contains(&Modifier::EndsWith) {
        StrOp::EndsWith
    } else {
        StrOp::Equals
    };
    values
        .iter()
        .map(|v| {
            let Some(Yaml::String(name)) = Some(*v).map(|v| match v {
                Yaml::Tagged(t) => &t.value,
                o => o,
            }) else {
                return Err("fieldref takes field names".to_string());
            };
            Ok(Expr::Compare {
                path: path.clone(),
                others: vec![other_path(name)?],
                op: CompareOp::Str(op, ci),
                negate: false,
                name: format!("fieldref {}", pattern::op_name(op, ci)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Yaml {
        serde_norway::from_str(text).unwrap()
    }

    fn compile(key: &str, value: &str) -> Result<Expr, String> {
        let (field, mods) = super::super::modifiers::split_key(key).map_err(|(_, e)| e)?;
        field_condition(&FieldPath::key(&field), &mods, &yaml(value), &|n| {
            Ok(FieldPath::key(n))
        })
    }

    #[test]
    fn combinations_are_checked() {
        assert!(compile("a|re|cidr", "x").is_err());
        assert!(compile("a|cidr|contains", "10.0.0.0/8").is_err());
        assert!(compile("a|contains|startswith", "x").is_err());
        assert!(compile("a|contains|base64", "x")
            .unwrap_err()
            .contains("after"));
        assert!(compile("a|base64|contains", "x").is_ok());
        assert!(compile("a|base64", "x*").unwrap_err().contains("wildcards"));
        assert!(compile("a|exists", "yes").is_err());
        assert!(compile("a|gt", "many").is_err());
        assert!(compile("a|contains", "~").unwrap_err().contains("null"));
        assert!(compile("a", "[]").is_err());
        assert!(compile("a", "{b: c}").is_err());
        assert!(compile("a|re", "'(?<=x)y'")
            .unwrap_err()
            .contains("look-around"));
    }

    #[test]
    fn plain_values_share_a_leaf() {
        let e = compile("verb", "[create, delete, 'pa*']").unwrap();
        let Expr::Any(parts) = e else { panic!("{e:?}") };
        assert_eq!(parts.len(), 2);
        let Expr::Leaf {
            test: Test::Str { op, values, .. },
            ..
        } = &parts[0]
        else {
            panic!()
        };
        assert_eq!(*op, StrOp::Equals);
        assert_eq!(values.len(), 2);
    }

    #[test]
    fn all_keeps_values_apart() {
        let e = compile("a|contains|all", "[x, y]").unwrap();
        let Expr::All(parts) = e else { panic!("{e:?}") };
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn neq_negates() {
        let e = compile("a|neq", "[x, y]").unwrap();
        assert!(matches!(e, Expr::None(_)));
    }
}
