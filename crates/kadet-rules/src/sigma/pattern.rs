//! Sigma string values: wildcards (`*`, `?`) with backslash escapes, the
//! transformations that rewrite them (`windash`, `base64`, `base64offset`)
//! and their compilation to kadet leaves.
//!
//! A value without wildcards is an equality; `x*`, `*x`, `*x*` are
//! starts-with, ends-with and contains. Any other shape compiles to the
//! conditions its literal pieces imply (starts with the first, ends with the
//! last, contains the others), which the prefilter can use, followed by a
//! regular expression for the exact shape: `a*b?c` is
//! `All[startswith a, endswith c, contains b, matches ^a.*b.c$]`.

use crate::expr::{Expr, Literal, StrOp, Test};
use crate::path::FieldPath;
use base64::Engine as _;

/// One piece of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// Plain text.
    Lit(String),
    /// `*`: any run of characters.
    Star,
    /// `?`: one character.
    One,
}

/// Parses a plain value: `*` and `?` are wildcards; `\*`, `\?` and `\\`
/// stand for the character after the backslash; any other backslash is
/// itself.
pub fn parse(value: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(Tok::Lit(std::mem::take(&mut lit)));
                }
                let t = if c == '*' { Tok::Star } else { Tok::One };
                // `**` is `*`.
                if !(t == Tok::Star && out.last() == Some(&Tok::Star)) {
                    out.push(t);
                }
            }
            other => lit.push(other),
        }
    }
    if !lit.is_empty() {
        out.push(Tok::Lit(lit));
    }
    out
}

/// A value with no wildcards: its text.
pub fn plain(toks: &[Tok]) -> Option<String> {
    let mut s = String::new();
    for t in toks {
        match t {
            Tok::Lit(l) => s.push_str(l),
            _ => return None,
        }
    }
    Some(s)
}

/// Adds a `*` at the start and/or end (the `contains`, `startswith`,
/// `endswith` modifiers).
pub fn wrap(mut toks: Vec<Tok>, start: bool, end: bool) -> Vec<Tok> {
    if start && toks.first() != Some(&Tok::Star) {
        toks.insert(0, Tok::Star);
    }
    if end && toks.last() != Some(&Tok::Star) {
        toks.push(Tok::Star);
    }
    toks
}

/// The characters `windash` makes interchangeable.
const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// At most this many variants from one `windash` value.
const MAX_WINDASH_VARIANTS: usize = 4096;

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// `windash`: every dash or slash that starts a word (not preceded by a
/// word character, followed by one) may be any of `-`, `/`, `–`, `—`, `―`.
/// Gives every combination, or `Err` when there would be too many.
pub fn windash(toks: &[Tok]) -> Result<Vec<Vec<Tok>>, String> {
    let mut variants: Vec<Vec<Tok>> = vec![Vec::new()];
    for (i, t) in toks.iter().enumerate() {
        let Tok::Lit(text) = t else {
            variants.iter_mut().for_each(|v| v.push(t.clone()));
            continue;
        };
        let chars: Vec<char> = text.chars().collect();
        // Text of each variant of this piece.
        let mut pieces: Vec<String> = vec![String::new()];
        for (j, &c) in chars.iter().enumerate() {
            let before = if j == 0 {
                // A wildcard or the start of the value is not a word character.
                None
            } else {
                Some(chars[j - 1])
            };
            let starts_flag = DASHES.contains(&c)
                && !is_word(before)
                && (is_word(chars.get(j + 1).copied())
                    || (j + 1 == chars.len() && toks.get(i + 1).is_some()));
            if starts_flag {
                let mut next = Vec::with_capacity(pieces.len() * DASHES.len());
                for p in &pieces {
                    for d in DASHES {
                        let mut q = p.clone();
                        q.push(d);
                        next.push(q);
                    }
                }
                pieces = next;
            } else {
                pieces.iter_mut().for_each(|p| p.push(c));
            }
            if pieces.len() * variants.len() > MAX_WINDASH_VARIANTS {
                return Err(format!(
                    "windash gives more than {MAX_WINDASH_VARIANTS} variants of this value"
                ));
            }
        }
        let mut next = Vec::with_capacity(variants.len() * pieces.len());
        for v in &variants {
            for p in &pieces {
                let mut w = v.clone();
                w.push(Tok::Lit(p.clone()));
                next.push(w);
            }
        }
        variants = next;
    }
    Ok(variants)
}

/// `base64`: the value's Base64 encoding (with padding).
pub fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

/// `base64offset`: the parts of the value's encoding that do not depend on
/// what surrounds it, for each of the three positions it may have modulo 3
/// in the encoded data. Empty parts (values too short) are left out.
pub fn base64_offsets(text: &str) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for shift in 0..3 {
        let mut data = vec![0u8; shift];
        data.extend_from_slice(bytes);
        let enc = base64::engine::general_purpose::STANDARD.encode(&data);
        let end = enc
            .len()
            .saturating_sub(END_TRIM[(shift + bytes.len()) % 3]);
        if let Some(part) = enc.get(START[shift]..end).filter(|p| !p.is_empty()) {
            if !out.iter().any(|o| o == part) {
                out.push(part.to_string());
            }
        }
    }
    out
}

/// A string condition leaf.
pub fn str_leaf(path: &FieldPath, op: StrOp, ci: bool, values: Vec<String>, name: &str) -> Expr {
    Expr::Leaf {
        path: path.clone(),
        test: Test::Str {
            op,
            ci,
            values: values
                .into_iter()
                .map(|v| Literal::Str(if ci { v.to_lowercase() } else { v }))
                .collect(),
        },
        negate: false,
        name: name.to_string(),
    }
}

/// The operator name a leaf is shown with (`contains`, `contains|cased`).
pub fn op_name(op: StrOp, ci: bool) -> String {
    let base = match op {
        StrOp::Equals => "equals",
        StrOp::StartsWith => "startswith",
        StrOp::EndsWith => "endswith",
        StrOp::Contains => "contains",
    };
    if ci {
        base.to_string()
    } else {
        format!("{base}|cased")
    }
}

/// The simple shape of a pattern: an operator and its text, when the
/// pattern is `x`, `x*`, `*x` or `*x*`.
pub fn simple(toks: &[Tok]) -> Option<(StrOp, String)> {
    match toks {
        [Tok::Lit(a)] => Some((StrOp::Equals, a.clone())),
        [] => Some((StrOp::Equals, String::new())),
        [Tok::Lit(a), Tok::Star] => Some((StrOp::StartsWith, a.clone())),
        [Tok::Star, Tok::Lit(a)] => Some((StrOp::EndsWith, a.clone())),
        [Tok::Star, Tok::Lit(a), Tok::Star] => Some((StrOp::Contains, a.clone())),
        _ => None,
    }
}

/// Compiles a pattern that is not [`simple`]: its literal pieces' conditions
/// and the exact-shape regex, all required.
pub fn complex(path: &FieldPath, toks: &[Tok], ci: bool) -> Result<Expr, String> {
    let mut parts = Vec::new();
    let last = toks.len().saturating_sub(1);
    for (i, t) in toks.iter().enumerate() {
        if let Tok::Lit(l) = t {
            let op = match (i == 0, i == last) {
                (true, true) => StrOp::Equals,
                (true, false) => StrOp::StartsWith,
                (false, true) => StrOp::EndsWith,
                (false, false) => StrOp::Contains,
            };
            parts.push(str_leaf(path, op, ci, vec![l.clone()], &op_name(op, ci)));
        }
    }
    let mut re = String::from(if ci { "(?is)^" } else { "(?s)^" });
    for t in toks {
        match t {
            Tok::Lit(l) => re.push_str(&regex::escape(l)),
            Tok::Star => re.push_str(".*"),
            Tok::One => re.push('.'),
        }
    }
    re.push('$');
    let regex = crate::user_regex::compile(&re).map_err(|e| format!("wildcard value: {e}"))?;
    parts.push(Expr::Leaf {
        path: path.clone(),
        test: Test::Regex(Box::new(regex)),
        negate: false,
        name: if ci { "wildcard" } else { "wildcard|cased" }.into(),
    });
    Ok(if parts.len() == 1 {
        parts.swap_remove(0)
    } else {
        Expr::All(parts)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Tok {
        Tok::Lit(s.into())
    }

    #[test]
    fn wildcards_and_escapes() {
        assert_eq!(
            parse("a*b?c"),
            vec![lit("a"), Tok::Star, lit("b"), Tok::One, lit("c")]
        );
        assert_eq!(parse(r"a\*b"), vec![lit("a*b")]);
        assert_eq!(parse(r"a\?"), vec![lit("a?")]);
        // A backslash not before a wildcard is itself; `\\` is one backslash.
        assert_eq!(parse(r"C:\Windows"), vec![lit(r"C:\Windows")]);
        assert_eq!(parse(r"C:\\Windows"), vec![lit(r"C:\Windows")]);
        // `\\*`: a backslash, then a wildcard; `\\\*`: backslash and star.
        assert_eq!(parse(r"a\\*"), vec![lit(r"a\"), Tok::Star]);
        assert_eq!(parse(r"a\\\*"), vec![lit(r"a\*")]);
        // Four backslashes are two.
        assert_eq!(parse(r"\\\\"), vec![lit(r"\\")]);
        assert_eq!(parse("**"), vec![Tok::Star]);
        assert_eq!(parse(""), Vec::<Tok>::new());
    }

    #[test]
    fn shapes() {
        assert_eq!(simple(&parse("abc")), Some((StrOp::Equals, "abc".into())));
        assert_eq!(
            simple(&parse("abc*")),
            Some((StrOp::StartsWith, "abc".into()))
        );
        assert_eq!(
            simple(&parse("*abc")),
            Some((StrOp::EndsWith, "abc".into()))
        );
        assert_eq!(
            simple(&parse("*abc*")),
            Some((StrOp::Contains, "abc".into()))
        );
        assert_eq!(simple(&parse("a*c")), None);
        assert_eq!(simple(&parse("*")), None);
    }

    #[test]
    fn complex_patterns_keep_their_literals() {
        let p = FieldPath::key("f");
        let e = complex(&p, &parse("io.k8s.*.v*.Job"), true).unwrap();
        let Expr::All(parts) = e else { panic!() };
        // startswith, contains, endswith, regex
        assert_eq!(parts.len(), 4);
        let Expr::Leaf {
            test: Test::Regex(re),
            ..
        } = &parts[3]
        else {
            panic!()
        };
        assert!(re.is_match("io.k8s.API.batch.v1.job"));
        assert!(!re.is_match("io.k8s.api.batch.v1.jobs.create"));
    }

    #[test]
    fn windash_variants() {
        let v = windash(&parse("-foo")).unwrap();
        assert_eq!(v.len(), 5);
        assert!(v.contains(&vec![lit("/foo")]));
        assert!(v.contains(&vec![lit("\u{2014}foo")]));
        // A dash inside a word is left alone.
        assert_eq!(windash(&parse("a-b")).unwrap(), vec![vec![lit("a-b")]]);
        // Two flags: 25 variants.
        assert_eq!(windash(&parse("x -a -b")).unwrap().len(), 25);
    }

    #[test]
    fn base64_encodings() {
        assert_eq!(base64("kubectl"), "a3ViZWN0bA==");
        // Each offset's part is found in the encoding of the value shifted
        // by that many bytes, whatever surrounds it.
        let value = "/bin/sh -c id";
        let parts = base64_offsets(value);
        assert_eq!(parts.len(), 3);
        for prefix in ["", "x", "xy", "xyz", "abcd"] {
            for suffix in ["", "q", "qr", "qrs"] {
                let enc = base64(&format!("{prefix}{value}{suffix}"));
                assert!(
                    parts.iter().any(|p| enc.contains(p.as_str())),
                    "{prefix:?} {suffix:?}: {enc} {parts:?}"
                );
            }
        }
    }
}
