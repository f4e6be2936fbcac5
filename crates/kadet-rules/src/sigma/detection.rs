//! A Sigma `detection`: search identifiers (selections and keyword lists)
//! and the condition that combines them, compiled to one [`Expr`].
//!
//! - a map is the AND of its field conditions; a list of maps is their OR;
//! - a list of plain values (or a plain value) is a keyword search: a
//!   keyword matches when any string value of the event contains it,
//!   ignoring case (a `'|modifiers'` key with no field name gives keywords
//!   modifiers, e.g. `'|all'`);
//! - each search identifier becomes a named node, so `kadet explain` shows
//!   which one held.

use super::condition::{self, Cond};
use super::document::Document;
use super::fields::Logsource;
use super::modifiers::{self, Modifier};
use super::values;
use crate::expr::Expr;
use crate::path::FieldPath;
use crate::source::LoadError;
use serde_norway::Value as Yaml;

/// A compiled detection.
#[derive(Debug, Clone)]
pub struct Detection {
    /// The condition as an expression.
    pub expr: Expr,
    /// Fields the search identifiers name, in order, each once.
    pub fields: Vec<FieldPath>,
    /// The condition(s) as written.
    pub conditions: Vec<String>,
}

struct Ctx<'d, 't> {
    doc: &'d Document<'t>,
    source: Logsource,
    fields: Vec<FieldPath>,
}

/// Compiles a rule's `detection`.
pub fn compile(doc: &Document<'_>, source: Logsource) -> Result<Detection, LoadError> {
    let det_line = doc.key_line("detection");
    let Some(Yaml::Mapping(map)) = doc.get("detection") else {
        return Err(doc.error(
            det_line,
            None,
            "detection is required (a mapping of search identifiers and a condition)",
        ));
    };
    let mut ctx = Ctx {
        doc,
        source,
        fields: Vec::new(),
    };
    let mut selections: Vec<(String, Expr)> = Vec::new();
    let mut conditions: Option<Vec<String>> = None;
    for (k, v) in map {
        let name = values::scalar_text(k).unwrap_or_default();
        let line = doc.key_line_after(det_line, &name);
        match name.as_str() {
            "condition" => conditions = Some(condition_texts(doc, v, line)?),
            "timeframe" => {
                return Err(doc.error(
                    line,
                    None,
                    "detection.timeframe belongs to Sigma 1 aggregations, which kadet does not support; write a correlation rule",
                ))
            }
            _ => {
                let expr = ctx.selection(&name, v, line)?;
                selections.push((name, expr));
            }
        }
    }
    let Some(conditions) = conditions else {
        return Err(doc.error(det_line, None, "detection has no condition"));
    };
    let mut alternatives = Vec::new();
    let cond_line = doc.key_line_after(det_line, "condition");
    for text in &conditions {
        let line = doc.line_after(cond_line, text.as_str());
        let col0 = line.and_then(|l| doc.column_of(l, text.as_str()));
        let at = |offset: usize| col0.map(|c| c + offset);
        let parsed = condition::parse(text)
            .map_err(|e| doc.error(line, at(e.at), format!("condition {text:?}: {}", e.message)))?;
        let expr = to_expr(&parsed, &selections).map_err(|(offset, message)| {
            doc.error(line, at(offset), format!("condition {text:?}: {message}"))
        })?;
        alternatives.push(expr);
    }
    let expr = if alternatives.len() == 1 {
        alternatives.swap_remove(0)
    } else {
        Expr::Any(alternatives)
    };
    Ok(Detection {
        expr,
        fields: ctx.fields,
        conditions,
    })
}

fn condition_texts(
    doc: &Document<'_>,
    v: &Yaml,
    line: Option<usize>,
) -> Result<Vec<String>, LoadError> {
    let texts: Vec<String> = match v {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Sequence(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let is_list_of_strings = match v {
        Yaml::Sequence(items) => items.len() == texts.len(),
        _ => true,
    };
    if texts.is_empty() || !is_list_of_strings {
        return Err(doc.error(line, None, "condition is a string, or a list of strings"));
    }
    Ok(texts)
}

impl Ctx<'_, '_> {
    fn selection(&mut self, name: &str, v: &Yaml, line: Option<usize>) -> Result<Expr, LoadError> {
        let expr = match v {
            Yaml::Mapping(m) => self.map(name, m, line)?,
            Yaml::Sequence(items) if items.is_empty() => {
                return Err(self.doc.error(
                    line,
                    None,
                    format!("search identifier {name:?} is an empty list"),
                ))
            }
            Yaml::Sequence(items) => {
                let mut parts = Vec::new();
                let mut keywords = Vec::new();
                for item in items {
                    match item {
                        Yaml::Mapping(m) => parts.push(self.map(name, m, line)?),
                        Yaml::Sequence(_) | Yaml::Null => {
                            return Err(self.doc.error(line, None, format!("search identifier {name:?}: a list holds maps of field conditions or keywords (strings)")))
                        }
                        other => keywords.push(other.clone()),
                    }
                }
                if !keywords.is_empty() {
                    parts.push(self.keywords(name, &[], &Yaml::Sequence(keywords), line)?);
                }
                flatten_any(parts)
            }
            Yaml::Null => {
                return Err(self.doc.error(
                    line,
                    None,
                    format!("search identifier {name:?} is empty"),
                ))
            }
            other => self.keywords(name, &[], other, line)?,
        };
        Ok(Expr::Named {
            name: name.to_string(),
            expr: Box::new(expr),
        })
    }

    fn map(
        &mut self,
        name: &str,
        m: &serde_norway::Mapping,
        line: Option<usize>,
    ) -> Result<Expr, LoadError> {
        if m.is_empty() {
            return Err(self.doc.error(
                line,
                None,
                format!("search identifier {name:?} is an empty map"),
            ));
        }
        let mut parts = Vec::new();
        for (k, v) in m {
            let key = values::scalar_text(k).unwrap_or_default();
            let key_line = self.doc.key_line_after(line, &key);
            let col = |needle: &str| key_line.and_then(|l| self.doc.column_of(l, needle));
            let (field, mods) = modifiers::split_key(&key).map_err(|(modifier, message)| {
                self.doc.error(
                    key_line,
                    col(&format!("|{modifier}")).map(|c| c + 1),
                    format!("{name}: {key}: {message}"),
                )
            })?;
            let at = |message: String| {
                self.doc
                    .error(key_line, col(&key), format!("{name}: {key}: {message}"))
            };
            if field.is_empty() {
                parts.push(self.keywords(name, &mods, v, key_line)?);
                continue;
            }
            let source = self.source;
            let path = source.field(&field).map_err(at)?;
            let expr = values::field_condition(&path, &mods, v, &|other| source.field(other))
                .map_err(at)?;
            if !self.fields.iter().any(|f| f.text == path.text) {
                self.fields.push(path);
            }
            parts.push(expr);
        }
        Ok(if parts.len() == 1 {
            parts.swap_remove(0)
        } else {
            Expr::All(parts)
        })
    }

    /// Keywords: plain values searched in every string value of the event.
    fn keywords(
        &mut self,
        name: &str,
        mods: &[Modifier],
        v: &Yaml,
        line: Option<usize>,
    ) -> Result<Expr, LoadError> {
        let typed = mods.iter().find(|m| {
            matches!(
                m,
                Modifier::Exists
                    | Modifier::FieldRef
                    | Modifier::Cidr
                    | Modifier::Gt
                    | Modifier::Gte
                    | Modifier::Lt
                    | Modifier::Lte
            )
        });
        if let Some(m) = typed {
            return Err(self.doc.error(
                line,
                None,
                format!("{name}: keywords take string modifiers, not {:?}", m.name()),
            ));
        }
        let mut mods = mods.to_vec();
        let wrapped = mods.iter().any(|m| {
            matches!(
                m,
                Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith | Modifier::Re
            )
        });
        if !wrapped {
            mods.push(Modifier::Contains);
        }
        if matches!(v, Yaml::Null) || matches!(v, Yaml::Sequence(s) if s.iter().any(Yaml::is_null))
        {
            return Err(self
                .doc
                .error(line, None, format!("{name}: a keyword cannot be null")));
        }
        values::field_condition(&FieldPath::any_value(), &mods, v, &|_| {
            Err("keywords cannot use fieldref".to_string())
        })
        .map_err(|m| self.doc.error(line, None, format!("{name}: {m}")))
    }
}

fn flatten_any(mut parts: Vec<Expr>) -> Expr {
    if parts.len() == 1 {
        return parts.swap_remove(0);
    }
    Expr::Any(parts)
}

/// The condition as an expression over the compiled search identifiers.
/// Errors carry the character offset of the offending name.
fn to_expr(c: &Cond, sels: &[(String, Expr)]) -> Result<Expr, (usize, String)> {
    let named = |name: &str, expr: &Expr| match expr {
        n @ Expr::Named { .. } => n.clone(),
        other => Expr::Named {
            name: name.to_string(),
            expr: Box::new(other.clone()),
        },
    };
    Ok(match c {
        Cond::Ref(name, at) => {
            let Some((n, e)) = sels.iter().find(|(n, _)| n == name) else {
                let known: Vec<&str> = sels.iter().map(|(n, _)| n.as_str()).collect();
                return Err((
                    *at,
                    format!(
                        "unknown search identifier {name:?} (the detection defines {})",
                        known.join(", ")
                    ),
                ));
            };
            named(n, e)
        }
        Cond::And(items) => {
            let mut out = Vec::new();
            for i in items {
                match to_expr(i, sels)? {
                    Expr::All(xs) => out.extend(xs),
                    x => out.push(x),
                }
            }
            Expr::All(out)
        }
        Cond::Or(items) => {
            let mut out = Vec::new();
            for i in items {
                match to_expr(i, sels)? {
                    Expr::Any(xs) => out.extend(xs),
                    x => out.push(x),
                }
            }
            Expr::Any(out)
        }
        Cond::Not(inner) => Expr::None(vec![to_expr(inner, sels)?]),
        Cond::OneOf(q) | Cond::AllOf(q) => {
            let matched: Vec<Expr> = sels
                .iter()
                .filter(|(n, _)| condition::pattern_matches(q.pattern.as_deref(), n))
                .map(|(n, e)| named(n, e))
                .collect();
            if matched.is_empty() {
                let what = q
                    .pattern
                    .as_deref()
                    .map_or("them".to_string(), |p| format!("{p:?}"));
                return Err((q.at, format!("{what} matches no search identifier")));
            }
            match (c, matched.len()) {
                (_, 1) => matched.into_iter().next().unwrap_or(Expr::Const(false)),
                (Cond::OneOf(_), _) => Expr::Any(matched),
                _ => Expr::All(matched),
            }
        }
    })
}
