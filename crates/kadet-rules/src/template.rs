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
    Slot { alts: Vec<Alt> },
}

#[derive(Debug, Clone)]
enum Alt {
    Path(FieldPath, Vec<Filter>),
    Literal(String),
}

#[derive(Debug, Clone)]
enum Filter {
    Join(String),
    First,
    Lower,
    Upper,
    LastSegment(String),
    Regex(Box<regex::Regex>),
    UrlDecode,
    Only(Vec<String>),
    Sort,
    Unique,
}

impl Template {
    /// Parses a template that uses no named lists.
    pub fn parse(text: &str) -> Result<Template, String> {
        Self::parse_with(text, &std::collections::BTreeMap::new())
    }

    /// Parses a template; `!only:NAME` filters look their list up in `lists`.
    pub fn parse_with(
        text: &str,
        lists: &std::collections::BTreeMap<String, Vec<serde_norway::Value>>,
    ) -> Result<Template, String> {
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
                    parts.push(parse_slot(inner, lists)?);
                    // Skip the placeholder's characters.
                    while let Some(&(j, _)) = chars.peek() {
                        if j > i + 1 + close {
                            break;
                        }
                        chars.next();
                    }
                }
                '}' => {
                    return Err(format!(
                    "unmatched '}}' at offset {i} in template {text:?} (write '}}}}' for a brace)"
                ))
                }
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

    /// The fields' values joined by `sep`, a missing one left empty: the
    /// dedup string a group-by gives, as a template.
    pub fn fields_joined(paths: &[FieldPath], sep: &str) -> Template {
        let mut parts = Vec::new();
        let mut text = String::new();
        for (i, p) in paths.iter().enumerate() {
            if i > 0 {
                parts.push(Part::Text(sep.to_string()));
                text.push_str(sep);
            }
            parts.push(Part::Slot {
                alts: vec![Alt::Path(p.clone(), Vec::new())],
            });
            text.push_str(&format!("{{{p}}}"));
        }
        Template { parts, text }
    }

    /// Renders against a scope.
    pub fn render(&self, scope: Scope<'_, '_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Slot { alts } => {
                    for alt in alts {
                        match alt {
                            Alt::Literal(l) => {
                                out.push_str(l);
                                break;
                            }
                            Alt::Path(p, filters) => {
                                let found = scope.resolve(p);
                                if let Some(text) = render_found(&found, filters) {
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
                    if let Alt::Path(p, _) = a {
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

/// Splits at unquoted occurrences of `sep`.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c == sep => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn unquote(s: &str) -> Option<&str> {
    let s = s.trim();
    let quoted = s.len() >= 2
        && ((s.starts_with('\'') && s.ends_with('\'')) || (s.starts_with('"') && s.ends_with('"')));
    quoted.then(|| &s[1..s.len() - 1])
}

fn parse_slot(
    inner: &str,
    lists: &std::collections::BTreeMap<String, Vec<serde_norway::Value>>,
) -> Result<Part, String> {
    let mut alts = Vec::new();
    for piece in split_unquoted(inner, '|') {
        let piece = piece.trim();
        if piece.is_empty() {
            return Err(format!("empty alternative in placeholder {{{inner}}}"));
        }
        if let Some(lit) = unquote(piece) {
            alts.push(Alt::Literal(lit.to_string()));
            continue;
        }
        let mut parts = split_unquoted(piece, '!').into_iter();
        let path = FieldPath::parse(parts.next().unwrap_or("").trim())?;
        let filters = parts
            .map(|f| parse_filter(f, lists))
            .collect::<Result<Vec<_>, _>>()?;
        alts.push(Alt::Path(path, filters));
    }
    Ok(Part::Slot { alts })
}

fn parse_filter(
    f: &str,
    lists: &std::collections::BTreeMap<String, Vec<serde_norway::Value>>,
) -> Result<Filter, String> {
    let (name, arg) = match f.split_once(':') {
        Some((n, a)) => (n.trim(), Some(unquote(a).unwrap_or(a))),
        None => (f.trim(), None),
    };
    Ok(match name {
        "join" => Filter::Join(arg.unwrap_or(", ").to_string()),
        "first" => Filter::First,
        "lower" => Filter::Lower,
        "upper" => Filter::Upper,
        "last_segment" => Filter::LastSegment(arg.unwrap_or("/").to_string()),
        "regex" => {
            let pattern = arg.ok_or("!regex needs a pattern: !regex:'...'")?;
            Filter::Regex(Box::new(crate::user_regex::compile(pattern).map_err(|e| format!("bad regex in !regex: {e}"))?))
        }
        "urldecode" => Filter::UrlDecode,
        "only" => {
            let list = arg.ok_or("!only needs a list name: !only:NAME")?;
            let values = lists.get(list).ok_or_else(|| format!("!only: no named list {list:?}"))?;
            Filter::Only(
                values
                    .iter()
                    .map(|v| match v {
                        serde_norway::Value::String(s) => s.clone(),
                        other => serde_norway::to_string(other).unwrap_or_default().trim().to_string(),
                    })
                    .collect(),
            )
        }
        "sort" => Filter::Sort,
        "unique" => Filter::Unique,
        other => {
            return Err(format!(
                "unknown template filter !{other} (join, first, lower, upper, last_segment, regex, urldecode, only, sort, unique)"
            ))
        }
    })
}

/// A value on its way through the filters.
enum Cur {
    One(Value<'static>),
    Many(Vec<Value<'static>>),
}

fn text(s: String) -> Value<'static> {
    Value::String(std::borrow::Cow::Owned(s))
}

fn map_strings(cur: Cur, f: impl Fn(String) -> Option<String>) -> Option<Cur> {
    match cur {
        Cur::One(v) => f(python_str(&v)).map(|s| Cur::One(text(s))),
        Cur::Many(vs) => {
            let out: Vec<Value<'static>> = vs
                .iter()
                .filter_map(|v| f(python_str(v)).map(text))
                .collect();
            (!out.is_empty()).then_some(Cur::Many(out))
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn apply(f: &Filter, cur: Cur) -> Option<Cur> {
    match f {
        Filter::Join(sep) => match cur {
            Cur::Many(vs) => Some(Cur::One(text(
                vs.iter().map(python_str).collect::<Vec<_>>().join(sep),
            ))),
            one => Some(one),
        },
        Filter::First => match cur {
            Cur::Many(vs) => vs.into_iter().next().map(Cur::One),
            one => Some(one),
        },
        Filter::Lower => map_strings(cur, |s| Some(s.to_lowercase())),
        Filter::Upper => map_strings(cur, |s| Some(s.to_uppercase())),
        Filter::LastSegment(sep) => {
            map_strings(cur, |s| s.rsplit(sep.as_str()).next().map(str::to_string))
        }
        Filter::Regex(re) => map_strings(cur, |s| {
            re.captures(&s).map(|c| {
                c.get(1)
                    .or_else(|| c.get(0))
                    .map_or(String::new(), |m| m.as_str().to_string())
            })
        }),
        Filter::UrlDecode => map_strings(cur, |s| Some(percent_decode(&s))),
        Filter::Only(keep) => match cur {
            Cur::Many(vs) => {
                let out: Vec<Value<'static>> = vs
                    .into_iter()
                    .filter(|v| keep.contains(&python_str(v)))
                    .collect();
                (!out.is_empty()).then_some(Cur::Many(out))
            }
            Cur::One(v) => keep.contains(&python_str(&v)).then_some(Cur::One(v)),
        },
        Filter::Sort => match cur {
            Cur::Many(mut vs) => {
                vs.sort_by_key(python_str);
                Some(Cur::Many(vs))
            }
            one => Some(one),
        },
        Filter::Unique => match cur {
            Cur::Many(vs) => {
                // First occurrences, by the text they render as: one hash
                // per element (an event may carry a list of hundreds of
                // thousands, which a pairwise check made quadratic).
                let mut seen = std::collections::HashSet::new();
                let out: Vec<Value<'static>> = vs
                    .into_iter()
                    .filter(|v| seen.insert(python_repr(v)))
                    .collect();
                Some(Cur::Many(out))
            }
            one => Some(one),
        },
    }
}

/// Renders what a path found; `None` when missing, null, an empty `[*]`
/// collection, or filtered away (try the next alternative).
fn render_found(found: &Found<'_>, filters: &[Filter]) -> Option<String> {
    let mut cur = match found {
        Found::Missing | Found::One(Value::Null) | Found::Owned(Value::Null) => return None,
        Found::One(Value::Array(a)) => {
            Cur::Many(a.iter().map(|v| v.clone().into_owned()).collect())
        }
        Found::One(v) => Cur::One((*v).clone().into_owned()),
        Found::Owned(Value::Array(a)) => Cur::Many(a.clone()),
        Found::Owned(v) => Cur::One(v.clone()),
        Found::Many(vs) if vs.is_empty() => return None,
        Found::Many(vs) => {
            // A `[*]` path flattens lists it collects.
            let mut out = Vec::new();
            for v in vs {
                match v {
                    Value::Array(a) => out.extend(a.iter().map(|x| x.clone().into_owned())),
                    other => out.push((*other).clone().into_owned()),
                }
            }
            Cur::Many(out)
        }
    };
    for f in filters {
        cur = apply(f, cur)?;
    }
    Some(match cur {
        Cur::One(v) => python_str(&v),
        Cur::Many(vs) => python_repr(&Value::Array(vs)),
    })
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
    fn regex_urldecode_only_sort_unique() {
        let ev = r#"{"id":"/subs/x/managedClusters/prod-1/rb/y","u":"/exec?command=tar%20cf%20-%20%2Fetc","caps":["NET_RAW","SYS_ADMIN","CHOWN","SYS_ADMIN"]}"#;
        assert_eq!(render("{id!regex:'managedClusters/([^/]+)'}", ev), "prod-1");
        assert_eq!(render("[{id!regex:'nope/(x)'|'none'}]", ev), "[none]");
        assert_eq!(
            render("{u!regex:'command=([^&]*)'!urldecode}", ev),
            "tar cf - /etc"
        );
        assert_eq!(
            render("{caps!unique!sort}", ev),
            "['CHOWN', 'NET_RAW', 'SYS_ADMIN']"
        );
        let mut lists = std::collections::BTreeMap::new();
        lists.insert(
            "danger".to_string(),
            vec![serde_norway::Value::String("SYS_ADMIN".into())],
        );
        let v = Value::parse_str(ev).unwrap();
        let t = Template::parse_with("{caps!only:danger!unique!join}", &lists).unwrap();
        assert_eq!(t.render(Scope::Element(&v)), "SYS_ADMIN");
        assert_eq!(
            render("[{none[*].x|'fallback'}]", r#"{"none":[]}"#),
            "[fallback]"
        );
    }

    #[test]
    fn unique_keeps_first_occurrences_in_linear_time() {
        assert_eq!(
            render(
                "{a!unique}",
                r#"{"a":["x",1,"x",1.0,1,null,[1],[1],{"k":1},{"k":1}]}"#
            ),
            "['x', 1, 1.0, None, [1], {'k': 1}]"
        );
        // 200,000 distinct values: a pairwise check took minutes.
        let items: Vec<String> = (0..200_000).map(|i| format!("\"img-{i}\"")).collect();
        let json = format!(r#"{{"a":[{}]}}"#, items.join(","));
        let started = std::time::Instant::now();
        let out = render("{a!unique!first}", &json);
        assert_eq!(out, "img-0");
        assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(Template::parse("{a").is_err());
        assert!(Template::parse("a}").is_err());
        assert!(Template::parse("{a!nope}").is_err());
        assert!(Template::parse("{a||b}").is_err());
    }
}
