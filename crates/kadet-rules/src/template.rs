//! `AlertTitle`, `Dedup` and context templates: text with `{...}`
//! placeholders, each a list of alternatives (`{user.username|'<UNKNOWN_USER>'}`)
//! and an optional filter (`{caps[*]!join}`).

use crate::expr::Scope;
use crate::path::{FieldPath, Found};
use kadet_event::Value;
use std::fmt::Write;

/// A compiled template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
    /// The template as written.
    pub text: String,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Slot {
        alts: Vec<Alt>,
        filter: Option<Filter>,
    },
}

#[derive(Debug, Clone)]
enum Alt {
    Path(FieldPath),
    Literal(String),
}

#[derive(Debug, Clone)]
enum Filter {
    Join(String),
    First,
    Lower,
    Upper,
    LastSegment(String),
}

impl Template {
    /// Parses a template.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let close = find_close(&text[i + 1..]).ok_or_else(|| {
                        format!("unclosed '{{' at offset {i} in template {text:?}")
                    })?;
                    let inner = &text[i + 1..i + 1 + close];
                    if !lit.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut lit)));
                    }
                    parts.push(parse_slot(inner)?);
                    // Skip the placeholder's characters.
                    while let Some(&(j, _)) = chars.peek() {
                        if j > i + 1 + close {
                            break;
                        }
                        chars.next();
                    }
                }
                '}' => return Err(format!(
                    "unmatched '}}' at offset {i} in template {text:?} (write '}}}}' for a brace)"
                )),
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Template {
            parts,
            text: text.to_string(),
        })
    }

    /// Renders against a scope.
    pub fn render(&self, scope: Scope<'_, '_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Slot { alts, filter } => {
                    for alt in alts {
                        match alt {
                            Alt::Literal(l) => {
                                out.push_str(l);
                                break;
                            }
                            Alt::Path(p) => {
                                let found = scope.resolve(p);
                                if let Some(text) = render_found(&found, filter.as_ref()) {
                                    out.push_str(&text);
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The paths the template reads.
    pub fn paths(&self) -> Vec<&FieldPath> {
        let mut out = Vec::new();
        for p in &self.parts {
            if let Part::Slot { alts, .. } = p {
                for a in alts {
                    if let Alt::Path(p) = a {
                        out.push(p);
                    }
                }
            }
        }
        out
    }
}

fn find_close(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '}') => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_slot(inner: &str) -> Result<Part, String> {
    // Split off a filter after the last unquoted '!'.
    let mut quote: Option<char> = None;
    let mut bang = None;
    let mut bars = Vec::new();
    for (i, c) in inner.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '!') if bang.is_none() => bang = Some(i),
            (None, '|') if bang.is_none() => bars.push(i),
            _ => {}
        }
    }
    let (body, filter) = match bang {
        Some(b) => (&inner[..b], Some(parse_filter(&inner[b + 1..])?)),
        None => (inner, None),
    };
    let mut alts = Vec::new();
    let mut start = 0;
    for end in bars.into_iter().chain(std::iter::once(body.len())) {
        let piece = body[start..end.min(body.len())].trim();
        start = end + 1;
        if piece.is_empty() {
            return Err(format!("empty alternative in placeholder {{{inner}}}"));
        }
        let quoted = (piece.starts_with('\'') && piece.ends_with('\''))
            || (piece.starts_with('"') && piece.ends_with('"'));
        if quoted && piece.len() >= 2 {
            alts.push(Alt::Literal(piece[1..piece.len() - 1].to_string()));
        } else {
            alts.push(Alt::Path(FieldPath::parse(piece)?));
        }
    }
    Ok(Part::Slot { alts, filter })
}

fn parse_filter(f: &str) -> Result<Filter, String> {
    let (name, arg) = match f.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (f, None),
    };
    Ok(match name.trim() {
        "join" => Filter::Join(arg.unwrap_or(", ").to_string()),
        "first" => Filter::First,
        "lower" => Filter::Lower,
        "upper" => Filter::Upper,
        "last_segment" => Filter::LastSegment(arg.unwrap_or("/").to_string()),
        other => {
            return Err(format!(
                "unknown template filter !{other} (join, first, lower, upper, last_segment)"
            ))
        }
    })
}

/// Renders what a path found; `None` when missing or null (try the next alternative).
fn render_found(found: &Found<'_>, filter: Option<&Filter>) -> Option<String> {
    let items: Vec<&Value<'_>> = match found {
        Found::Missing => return None,
        Found::One(Value::Null) => return None,
        Found::One(v) => vec![v],
        Found::Owned(Value::Null) => return None,
        Found::Owned(v) => vec![v],
        Found::Many(vs) => vs.clone(),
    };
    let is_many = matches!(found, Found::Many(_));
    let text = match filter {
        Some(Filter::Join(sep)) => {
            let flat: Vec<String> = items
                .iter()
                .flat_map(|v| match v {
                    Value::Array(a) => a.iter().map(python_str).collect::<Vec<_>>(),
                    other => vec![python_str(other)],
                })
                .collect();
            flat.join(sep)
        }
        Some(Filter::First) => {
            let first = items.first().map(|v| match v {
                Value::Array(a) => a.first().map(python_str).unwrap_or_default(),
                other => python_str(other),
            });
            first?
        }
        other => {
            let base = if is_many {
                let mut s = String::from("[");
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    s.push_str(&python_repr(v));
                }
                s.push(']');
                s
            } else {
                python_str(items[0])
            };
            match other {
                Some(Filter::Lower) => base.to_lowercase(),
                Some(Filter::Upper) => base.to_uppercase(),
                Some(Filter::LastSegment(sep)) => {
                    base.rsplit(sep.as_str()).next().unwrap_or("").to_string()
                }
                _ => base,
            }
        }
    };
    Some(text)
}

/// Python's `str()` of a JSON value.
pub fn python_str(v: &Value<'_>) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => python_repr(other),
    }
}

/// Python's `repr()` of a JSON value.
pub fn python_repr(v: &Value<'_>) -> String {
    let mut out = String::new();
    repr_into(v, &mut out);
    out
}

fn repr_into(v: &Value<'_>, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => {
            let q = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            out.push(q);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c if c == q => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(q);
        }
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(e, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(&Value::String(std::borrow::Cow::Borrowed(k)), out);
                out.push_str(": ");
                repr_into(e, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, json: &str) -> String {
        let v = Value::parse_str(json).unwrap();
        Template::parse(t).unwrap().render(Scope::Element(&v))
    }

    #[test]
    fn alternatives_and_defaults() {
        assert_eq!(
            render("[{u.name|'<UNKNOWN_USER>'}]", r#"{"u":{"name":"bob"}}"#),
            "[bob]"
        );
        assert_eq!(
            render("[{u.name|'<UNKNOWN_USER>'}]", r#"{"u":{}}"#),
            "[<UNKNOWN_USER>]"
        );
        assert_eq!(
            render("[{u.name|u.id|'x'}]", r#"{"u":{"name":null,"id":7}}"#),
            "[7]"
        );
        assert_eq!(render("{a}", r#"{}"#), "");
        assert_eq!(render("{{literal}}", r#"{}"#), "{literal}");
    }

    #[test]
    fn python_rendering_and_filters() {
        assert_eq!(
            render("{c[*].n}", r#"{"c":[{"n":"A"},{"n":"B"}]}"#),
            "['A', 'B']"
        );
        assert_eq!(
            render("{c[*].n!join}", r#"{"c":[{"n":"A"},{"n":"B"}]}"#),
            "A, B"
        );
        assert_eq!(
            render("{c[*].n!join:/}", r#"{"c":[{"n":"A"},{"n":"B"}]}"#),
            "A/B"
        );
        assert_eq!(
            render("{b} {n} {f}", r#"{"b":true,"n":403,"f":[1,null]}"#),
            "True 403 [1, None]"
        );
        assert_eq!(
            render(
                "{p!last_segment:.}",
                r#"{"p":"io.k8s.core.v1.pods.create"}"#
            ),
            "create"
        );
        assert_eq!(render("{o}", r#"{"o":{"k":"v"}}"#), "{'k': 'v'}");
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(Template::parse("{a").is_err());
        assert!(Template::parse("a}").is_err());
        assert!(Template::parse("{a!nope}").is_err());
        assert!(Template::parse("{a||b}").is_err());
    }
}
