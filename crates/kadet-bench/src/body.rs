//! A tiny ordered JSON tree used at start-up to build object bodies
//! (requestObject / responseObject) and the bundled example envelopes, and
//! the pre-serialised templates the hot path copies from.
//!
//! Keys keep their insertion order (Go encodes struct fields in declaration
//! order, so `kind` comes before `apiVersion` before `metadata`), and strings
//! are escaped like Go does (`&` as `\u0026`, and so on).

use crate::json::{esc, esc_embedded, qstr, uint};

/// JSON value with ordered object keys.
#[derive(Clone, Debug)]
pub enum J {
    O(Vec<(String, J)>),
    A(Vec<J>),
    S(String),
    N(i64),
    B(bool),
    Null,
    /// Already serialised JSON, copied verbatim.
    Raw(Vec<u8>),
}

/// Builds an object from `(key, value)` pairs.
pub fn o<const K: usize>(pairs: [(&str, J); K]) -> J {
    J::O(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Builds an object from a vector of pairs with owned keys.
pub fn ov(pairs: Vec<(String, J)>) -> J {
    J::O(pairs)
}

/// A string value.
pub fn s(v: impl Into<String>) -> J {
    J::S(v.into())
}

/// An array value.
pub fn a(v: Vec<J>) -> J {
    J::A(v)
}

/// An integer value.
pub fn n(v: i64) -> J {
    J::N(v)
}

/// An empty object.
pub fn eo() -> J {
    J::O(Vec::new())
}

impl J {
    /// Appends a key to an object (no-op on other variants).
    pub fn push(&mut self, k: &str, v: J) {
        if let J::O(m) = self {
            m.push((k.to_string(), v));
        }
    }

    /// Compact serialisation (as kube-apiserver writes it).
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            J::O(m) => {
                out.push(b'{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    qstr(out, k);
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
            J::A(v) => {
                out.push(b'[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    x.write(out);
                }
                out.push(b']');
            }
            J::S(x) => qstr(out, x),
            J::N(x) => {
                if *x < 0 {
                    out.push(b'-');
                }
                uint(out, x.unsigned_abs());
            }
            J::B(true) => out.extend_from_slice(b"true"),
            J::B(false) => out.extend_from_slice(b"false"),
            J::Null => out.extend_from_slice(b"null"),
            J::Raw(r) => out.extend_from_slice(r),
        }
    }

    /// Compact serialisation into a fresh buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v);
        v
    }

    /// Pretty serialisation with two-space indentation. Strings are escaped
    /// without Go's HTML escaping (this is used for envelopes written by
    /// cloud services, not by the API server).
    pub fn write_pretty(&self, out: &mut Vec<u8>, depth: usize) {
        fn indent(out: &mut Vec<u8>, d: usize) {
            out.push(b'\n');
            for _ in 0..d {
                out.extend_from_slice(b"  ");
            }
        }
        fn pstr(out: &mut Vec<u8>, s: &str) {
            out.push(b'"');
            esc_embedded(out, s.as_bytes());
            out.push(b'"');
        }
        match self {
            J::O(m) if m.is_empty() => out.extend_from_slice(b"{}"),
            J::A(v) if v.is_empty() => out.extend_from_slice(b"[]"),
            J::O(m) => {
                out.push(b'{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    indent(out, depth + 1);
                    pstr(out, k);
                    out.extend_from_slice(b": ");
                    v.write_pretty(out, depth + 1);
                }
                indent(out, depth);
                out.push(b'}');
            }
            J::A(v) => {
                out.push(b'[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    indent(out, depth + 1);
                    x.write_pretty(out, depth + 1);
                }
                indent(out, depth);
                out.push(b']');
            }
            J::S(x) => pstr(out, x),
            other => other.write(out),
        }
    }
}

/// Placeholder markers that can be put inside string values of a `J` tree
/// before it is turned into a [`Template`]. Argument `i` is written as
/// `@@i@@` and replaced (escaped) at render time.
pub fn arg(i: u8) -> String {
    format!("@@{i}@@")
}

/// Argument slots used by templates.
pub mod slot {
    pub const NAME: u8 = 0;
    pub const NAMESPACE: u8 = 1;
    pub const UID: u8 = 2;
    pub const CREATED: u8 = 3;
    pub const RV: u8 = 4;
    pub const NODE: u8 = 5;
    pub const AUX: u8 = 6;
    pub const COUNT: usize = 7;
}

#[derive(Debug)]
enum Part {
    Lit(Box<[u8]>),
    Arg(u8),
}

/// A pre-serialised JSON object body with argument holes.
#[derive(Debug)]
pub struct Template {
    parts: Vec<Part>,
    /// The `@type` GKE puts into `protoPayload.request`/`response`.
    pub gke_type: &'static str,
}

impl Template {
    pub fn new(j: &J, gke_type: &'static str) -> Template {
        let text = j.to_vec();
        assert!(
            text.first() == Some(&b'{') && text.len() > 2,
            "template must be a non-empty object"
        );
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < text.len() {
            if text[i] == b'@'
                && i + 4 < text.len()
                && text[i + 1] == b'@'
                && text[i + 2].is_ascii_digit()
                && text[i + 3] == b'@'
                && text[i + 4] == b'@'
            {
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit).into_boxed_slice()));
                }
                parts.push(Part::Arg(text[i + 2] - b'0'));
                i += 5;
            } else {
                lit.push(text[i]);
                i += 1;
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit.into_boxed_slice()));
        }
        Template { parts, gke_type }
    }

    /// Renders the body.
    #[inline]
    pub fn write(&self, out: &mut Vec<u8>, args: &[&str; slot::COUNT]) {
        for p in &self.parts {
            match p {
                Part::Lit(l) => out.extend_from_slice(l),
                Part::Arg(i) => esc(out, args[*i as usize]),
            }
        }
    }

    /// Renders the body with a leading `"@type"` member, as GKE does.
    pub fn write_gke(&self, out: &mut Vec<u8>, args: &[&str; slot::COUNT]) {
        out.extend_from_slice(b"{\"@type\":");
        qstr(out, self.gke_type);
        out.push(b',');
        let mut first = true;
        for p in &self.parts {
            match p {
                Part::Lit(l) if first => out.extend_from_slice(&l[1..]),
                Part::Lit(l) => out.extend_from_slice(l),
                Part::Arg(i) => esc(out, args[*i as usize]),
            }
            first = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_and_escaped() {
        let j = o([
            ("kind", s("ConfigMap")),
            ("apiVersion", s("v1")),
            ("data", o([("run.sh", s("a && b > c\n\"q\""))])),
            ("n", n(-5)),
            ("x", a(vec![J::Null, J::B(true)])),
        ]);
        let t = String::from_utf8(j.to_vec()).unwrap();
        assert_eq!(
            t,
            r#"{"kind":"ConfigMap","apiVersion":"v1","data":{"run.sh":"a \u0026\u0026 b \u003e c\n\"q\""},"n":-5,"x":[null,true]}"#
        );
        let mut p = Vec::new();
        j.write_pretty(&mut p, 0);
        let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(v["data"]["run.sh"], "a && b > c\n\"q\"");
    }

    #[test]
    fn template_holes() {
        let j = o([(
            "metadata",
            o([
                ("name", s(arg(slot::NAME))),
                ("ns", s(format!("x-{}", arg(slot::NAMESPACE)))),
            ]),
        )]);
        let t = Template::new(&j, "core.k8s.io/v1.Pod");
        let args = ["a\"b", "shop", "", "", "", "", ""];
        let mut out = Vec::new();
        t.write(&mut out, &args);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"metadata":{"name":"a\"b","ns":"x-shop"}}"#
        );
        out.clear();
        t.write_gke(&mut out, &args);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["@type"], "core.k8s.io/v1.Pod");
        assert_eq!(v["metadata"]["ns"], "x-shop");
    }
}
