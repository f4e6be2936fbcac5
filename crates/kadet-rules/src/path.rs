//! Key specifiers: how a rule names a field (`Key`, `KeyPath`, `DeepKey`) and
//! how a field is found in an event or in a list element.

use kadet_event::{CanonicalEvent, Value};
use std::fmt;

/// How [`FieldPath::any_value`] is shown.
pub const ANY_VALUE_TEXT: &str = "<any value>";

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
    /// Every element of an array (`[*]`).
    Wildcard,
    /// Every string value below this point, at any depth (Sigma keywords).
    /// Never written in a `KeyPath`; see [`FieldPath::any_value`].
    AnyValue,
    /// A step of a Sigma dotted name inside a request or response body: an
    /// array met here is looked into element by element (so
    /// `requestObject.spec.containers.image` reads every container's image,
    /// as rsigma does); any other value is taken as it is. Never written in
    /// a `KeyPath`.
    Each,
}

/// A compiled field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// The steps.
    pub segments: Vec<Segment>,
    /// The path as the rule wrote it, for messages.
    pub text: String,
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FieldPath {
    /// `Key: name`: one key, taken literally.
    pub fn key(name: &str) -> FieldPath {
        FieldPath {
            segments: vec![Segment::Key(name.to_string())],
            text: name.to_string(),
        }
    }

    /// `DeepKey: [a, b, 0]`.
    pub fn deep(parts: Vec<Segment>) -> FieldPath {
        let text = parts
            .iter()
            .map(|s| match s {
                Segment::Key(k) => k.clone(),
                Segment::Index(i) => i.to_string(),
                Segment::Wildcard => "*".into(),
                Segment::AnyValue => ANY_VALUE_TEXT.into(),
                Segment::Each => String::new(),
            })
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(".");
        FieldPath {
            segments: parts,
            text,
        }
    }

    /// Every string value of the event, at any depth (how a Sigma keyword
    /// is searched for). Resolves to the list of those strings.
    pub fn any_value() -> FieldPath {
        FieldPath {
            segments: vec![Segment::AnyValue],
            text: ANY_VALUE_TEXT.to_string(),
        }
    }

    /// True for [`FieldPath::any_value`].
    pub fn is_any_value(&self) -> bool {
        matches!(self.segments.as_slice(), [Segment::AnyValue])
    }

    /// Parses a `KeyPath`: `a.b`, `a[2]`, `a[*].b`, `annotations."x.y/z"`.
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        let mut segments = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut expect_key = true;
        while i < bytes.len() {
            match bytes[i] {
                b'.' => {
                    if expect_key {
                        return Err(format!("empty key in path {text:?}"));
                    }
                    expect_key = true;
                    i += 1;
                }
                b'[' => {
                    let close = text[i..]
                        .find(']')
                        .ok_or_else(|| format!("unclosed '[' in path {text:?}"))?
                        + i;
                    let inner = text[i + 1..close].trim();
                    if inner == "*" {
                        segments.push(Segment::Wildcard);
                    } else {
                        let n: usize = inner
                            .parse()
                            .map_err(|_| format!("bad index [{inner}] in path {text:?}"))?;
                        segments.push(Segment::Index(n));
                    }
                    i = close + 1;
                    expect_key = false;
                }
                b'"' | b'\'' => {
                    let q = bytes[i] as char;
                    let close = text[i + 1..]
                        .find(q)
                        .ok_or_else(|| format!("unclosed quote in path {text:?}"))?
                        + i
                        + 1;
                    segments.push(Segment::Key(text[i + 1..close].to_string()));
                    i = close + 1;
                    expect_key = false;
                }
                _ => {
                    let end = text[i..].find(['.', '[']).map_or(text.len(), |e| e + i);
                    let key = &text[i..end];
                    if key == "*" {
                        segments.push(Segment::Wildcard);
                    } else {
                        segments.push(Segment::Key(key.to_string()));
                    }
                    i = end;
                    expect_key = false;
                }
            }
        }
        if segments.is_empty() || expect_key && !text.is_empty() && text.ends_with('.') {
            return Err(format!("empty path {text:?}"));
        }
        Ok(FieldPath {
            segments,
            text: text.to_string(),
        })
    }

    /// True when the path can give several values.
    pub fn has_wildcard(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Wildcard | Segment::AnyValue))
    }

    /// The first key, if the path starts with one.
    pub fn root_key(&self) -> Option<&str> {
        match self.segments.first() {
            Some(Segment::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Finds the field in an event: the canonical Event first, then kadet's
    /// source fields and the source record.
    pub fn resolve_event<'v>(&self, ev: &'v CanonicalEvent<'_>) -> Found<'v> {
        let Some(Segment::Key(first)) = self.segments.first() else {
            return self.resolve_in(ev.root());
        };
        if let Some(v) = ev.member(first) {
            return descend(v, &self.segments[1..], self.has_wildcard());
        }
        match ev.lookup_root(first) {
            Some(std::borrow::Cow::Borrowed(v)) => {
                descend(v, &self.segments[1..], self.has_wildcard())
            }
            Some(std::borrow::Cow::Owned(v)) if self.segments.len() == 1 => {
                Found::Owned(v.into_owned())
            }
            _ => Found::Missing,
        }
    }

    /// Finds the field inside a value (a list element).
    pub fn resolve_in<'v>(&self, root: &'v Value<'_>) -> Found<'v> {
        descend(root, &self.segments, self.has_wildcard())
    }
}

/// What a path found.
#[derive(Debug)]
pub enum Found<'v> {
    /// Nothing at that path.
    Missing,
    /// One value.
    One(&'v Value<'v>),
    /// A value kadet made (`p_log_type` and the like).
    Owned(Value<'static>),
    /// The values a `[*]` path collected.
    Many(Vec<&'v Value<'v>>),
}

impl<'v> Found<'v> {
    /// True when nothing was found.
    pub fn is_missing(&self) -> bool {
        matches!(self, Found::Missing)
    }

    /// The single value, when there is one.
    pub fn value(&self) -> Option<&Value<'v>> {
        match self {
            Found::One(v) => Some(v),
            Found::Owned(v) => Some(v),
            _ => None,
        }
    }

    /// Converts to a JSON value for output (`null` when missing).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Found::Missing => serde_json::Value::Null,
            Found::One(v) => v.to_json(),
            Found::Owned(v) => v.to_json(),
            Found::Many(vs) => serde_json::Value::Array(vs.iter().map(|v| v.to_json()).collect()),
        }
    }
}

fn descend<'v>(root: &'v Value<'_>, segs: &[Segment], wildcard: bool) -> Found<'v> {
    // SAFETY of lifetimes: Value<'a> is covariant, so &'v Value<'a> is a &'v Value<'v>.
    let root: &'v Value<'v> = shorten(root);
    if !wildcard {
        let mut cur = root;
        for (i, s) in segs.iter().enumerate() {
            cur = match (s, cur) {
                (Segment::Each, Value::Array(_)) => {
                    let mut out = Vec::new();
                    collect(cur, &segs[i..], &mut out);
                    return Found::Many(out);
                }
                (Segment::Each, other) => other,
                (Segment::Key(k), Value::Object(m)) => match m.get(k) {
                    Some(v) => v,
                    None => return Found::Missing,
                },
                (Segment::Index(i), Value::Array(a)) => match a.get(*i) {
                    Some(v) => v,
                    None => return Found::Missing,
                },
                _ => return Found::Missing,
            };
        }
        return Found::One(cur);
    }
    let mut out = Vec::new();
    collect(root, segs, &mut out);
    Found::Many(out)
}

fn shorten<'v, 'a: 'v>(v: &'v Value<'a>) -> &'v Value<'v> {
    v
}

fn collect<'v>(cur: &'v Value<'v>, segs: &[Segment], out: &mut Vec<&'v Value<'v>>) {
    let Some((first, rest)) = segs.split_first() else {
        out.push(cur);
        return;
    };
    match (first, cur) {
        (Segment::Key(k), Value::Object(m)) => {
            if let Some(v) = m.get(k) {
                collect(v, rest, out);
            }
        }
        (Segment::Index(i), Value::Array(a)) => {
            if let Some(v) = a.get(*i) {
                collect(v, rest, out);
            }
        }
        (Segment::Wildcard, Value::Array(a)) => {
            for v in a {
                collect(v, rest, out);
            }
        }
        (Segment::AnyValue, v) => strings_below(v, out),
        (Segment::Each, Value::Array(a)) => {
            for v in a {
                collect(v, rest, out);
            }
        }
        (Segment::Each, v) => collect(v, rest, out),
        _ => {}
    }
}

/// Pushes every string value in `v` (at any depth) to `out`.
fn strings_below<'v>(v: &'v Value<'v>, out: &mut Vec<&'v Value<'v>>) {
    match v {
        Value::String(_) => out.push(v),
        Value::Array(a) => a.iter().for_each(|x| strings_below(x, out)),
        Value::Object(m) => m.0.iter().for_each(|(_, x)| strings_below(x, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_looks_into_lists_of_objects_and_passes_other_values() {
        let path = FieldPath {
            segments: vec![
                Segment::Key("spec".into()),
                Segment::Each,
                Segment::Key("containers".into()),
                Segment::Each,
                Segment::Key("image".into()),
            ],
            text: "spec.containers.image".into(),
        };
        let many = Value::from_slice(
            br#"{"spec":{"containers":[{"image":"a"},{"name":"b"},{"image":"c"}]}}"#,
        )
        .expect("JSON");
        let found: Vec<_> = match path.resolve_in(&many) {
            Found::Many(vs) => vs.iter().filter_map(|v| v.as_str()).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(found, ["a", "c"]);
        let one = Value::from_slice(br#"{"spec":{"containers":{"image":"a"}}}"#).expect("JSON");
        assert_eq!(
            path.resolve_in(&one).value().and_then(Value::as_str),
            Some("a")
        );
        let none = Value::from_slice(br#"{"spec":{"containers":[]}}"#).expect("JSON");
        assert!(matches!(path.resolve_in(&none), Found::Many(v) if v.is_empty()));
    }

    #[test]
    fn parses_paths() {
        let p = FieldPath::parse("a.b[2].c[*].d").unwrap();
        assert_eq!(
            p.segments,
            vec![
                Segment::Key("a".into()),
                Segment::Key("b".into()),
                Segment::Index(2),
                Segment::Key("c".into()),
                Segment::Wildcard,
                Segment::Key("d".into())
            ]
        );
        let q = FieldPath::parse(r#"annotations."authorization.k8s.io/decision""#).unwrap();
        assert_eq!(
            q.segments[1],
            Segment::Key("authorization.k8s.io/decision".into())
        );
        assert!(FieldPath::parse("a..b").is_err());
        assert!(FieldPath::parse("a[x]").is_err());
        assert!(FieldPath::parse("a[1").is_err());
    }

    #[test]
    fn any_value_collects_every_string() {
        let v = Value::parse_str(r#"{"a":"x","b":{"c":["y",1,{"d":"z"}]},"e":true}"#).unwrap();
        match FieldPath::any_value().resolve_in(&v) {
            Found::Many(vs) => {
                let got: Vec<&str> = vs.iter().filter_map(|v| v.as_str()).collect();
                assert_eq!(got, vec!["x", "y", "z"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wildcards_collect() {
        let v = Value::parse_str(r#"{"c":[{"n":1},{"m":2},{"n":3}]}"#).unwrap();
        let p = FieldPath::parse("c[*].n").unwrap();
        match p.resolve_in(&v) {
            Found::Many(vs) => assert_eq!(vs.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(FieldPath::parse("c[5].n")
            .unwrap()
            .resolve_in(&v)
            .is_missing());
    }
}
