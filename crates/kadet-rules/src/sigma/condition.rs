//! The Sigma condition grammar: search identifiers joined by `and`, `or`,
//! `not` and parentheses, and the quantifiers `1 of PATTERN`, `all of
//! PATTERN`, `1 of them`, `all of them`. Precedence, loosest first: `or`,
//! `and`, `not`, `x of`, parentheses. Operators are read in any case.
//!
//! Parsing gives a [`Cond`] tree with the character offset of each
//! identifier, so that an unknown name is reported at its column.

use std::fmt;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// A search identifier, with its character offset in the condition.
    Ref(String, usize),
    /// Every operand holds.
    And(Vec<Cond>),
    /// At least one operand holds.
    Or(Vec<Cond>),
    /// The operand does not hold.
    Not(Box<Cond>),
    /// `1 of PATTERN`: at least one matching identifier holds.
    OneOf(Quantified),
    /// `all of PATTERN`: every matching identifier holds.
    AllOf(Quantified),
}

/// What a quantifier ranges over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantified {
    /// `None` for `them`, else the pattern (`*` matches any run of characters).
    pub pattern: Option<String>,
    /// Character offset of the pattern (or of `them`) in the condition.
    pub at: usize,
}

/// A syntax error: character offset in the condition and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondError {
    /// 0-based character offset.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CondError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, CondError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push((Tok::Open, i));
            i += 1;
        } else if c == ')' {
            out.push((Tok::Close, i));
            i += 1;
        } else if c == '|' {
            return Err(CondError {
                at: i,
                message: "aggregations after `|` (count(), near) are Sigma 1 syntax that kadet does not support; write a correlation rule".into(),
            });
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '(' | ')' | '|')
            {
                i += 1;
            }
            out.push((Tok::Word(chars[start..i].iter().collect()), start));
        }
    }
    Ok(out)
}

fn is_op(word: &str, op: &str) -> bool {
    word.eq_ignore_ascii_case(op)
}

/// Words that cannot be search identifiers.
fn is_reserved(word: &str) -> bool {
    ["and", "or", "not", "of", "them"]
        .iter()
        .any(|r| is_op(word, r))
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    len: usize,
    depth: usize,
}

/// Deeper nesting of parentheses and `not` is an error (not a stack overflow).
const MAX_DEPTH: usize = 64;

/// Parses a condition.
pub fn parse(text: &str) -> Result<Cond, CondError> {
    let toks = tokenize(text)?;
    let len = text.chars().count();
    if toks.is_empty() {
        return Err(CondError {
            at: 0,
            message: "the condition is empty".into(),
        });
    }
    let mut p = Parser {
        toks,
        pos: 0,
        len,
        depth: 0,
    };
    let c = p.or()?;
    if let Some((t, at)) = p.toks.get(p.pos) {
        let what = match t {
            Tok::Close => "an unmatched `)`".to_string(),
            Tok::Open => "`(`".to_string(),
            Tok::Word(w) => format!("{w:?}"),
        };
        return Err(CondError {
            at: *at,
            message: format!("expected `and`, `or` or the end of the condition, found {what}"),
        });
    }
    Ok(c)
}

impl Parser {
    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.pos) {
            Some((Tok::Word(w), _)) => Some(w),
            _ => None,
        }
    }

    fn here(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |(_, at)| *at)
    }

    fn or(&mut self) -> Result<Cond, CondError> {
        let mut items = vec![self.and()?];
        while self.peek_word().is_some_and(|w| is_op(w, "or")) {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self) -> Result<Cond, CondError> {
        let mut items = vec![self.not()?];
        while self.peek_word().is_some_and(|w| is_op(w, "and")) {
            self.pos += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Cond::And(items)
        })
    }

    fn not(&mut self) -> Result<Cond, CondError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CondError {
                at: self.here(),
                message: format!("the condition nests more than {MAX_DEPTH} deep"),
            });
        }
        let out = if self.peek_word().is_some_and(|w| is_op(w, "not")) {
            self.pos += 1;
            self.not().map(|c| Cond::Not(Box::new(c)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        out
    }

    fn primary(&mut self) -> Result<Cond, CondError> {
        let at = self.here();
        let Some((tok, _)) = self.toks.get(self.pos).cloned() else {
            return Err(CondError {
                at,
                message: "the condition ends where a search identifier, `not`, `(` or `1 of`/`all of` was expected".into(),
            });
        };
        self.pos += 1;
        match tok {
            Tok::Open => {
                let inner = self.or()?;
                match self.toks.get(self.pos) {
                    Some((Tok::Close, _)) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(CondError {
                        at: self.here(),
                        message: format!("missing `)` to close the `(` at character {}", at + 1),
                    }),
                }
            }
            Tok::Close => Err(CondError {
                at,
                message: "unexpected `)`".into(),
            }),
            Tok::Word(w) if self.peek_word().is_some_and(|n| is_op(n, "of")) => {
                self.pos += 1;
                self.quantifier(&w, at)
            }
            Tok::Word(w) if is_reserved(&w) || is_op(&w, "all") || w == "1" => Err(CondError {
                at,
                message: format!("unexpected {w:?} where a search identifier was expected"),
            }),
            Tok::Word(w) => Ok(Cond::Ref(w, at)),
        }
    }

    fn quantifier(&mut self, count: &str, at: usize) -> Result<Cond, CondError> {
        let target_at = self.here();
        let target = match self.toks.get(self.pos) {
            Some((Tok::Word(w), _)) if !is_reserved(w) || is_op(w, "them") => w.clone(),
            _ => {
                return Err(CondError {
                    at: target_at,
                    message: "`of` must be followed by `them` or a search identifier pattern"
                        .into(),
                })
            }
        };
        self.pos += 1;
        let q = Quantified {
            pattern: (!is_op(&target, "them")).then_some(target),
            at: target_at,
        };
        if count == "1" || is_op(count, "any") {
            Ok(Cond::OneOf(q))
        } else if is_op(count, "all") {
            Ok(Cond::AllOf(q))
        } else {
            Err(CondError {
                at,
                message: format!("{count:?} of: kadet supports `1 of` and `all of`"),
            })
        }
    }
}

/// True when `name` matches a quantifier pattern (`*` matches any run of
/// characters; `them` matches every name not starting with `_`).
pub fn pattern_matches(pattern: Option<&str>, name: &str) -> bool {
    let Some(p) = pattern else {
        return !name.starts_with('_');
    };
    glob(p.as_bytes(), name.as_bytes())
}

/// `*`-glob matching in O(|p|·|s|): `ok[j]` says whether the pattern read so
/// far matches `s[..j]`.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let mut ok = vec![false; s.len() + 1];
    ok[0] = true;
    for &c in p {
        if c == b'*' {
            for j in 1..=s.len() {
                ok[j] = ok[j] || ok[j - 1];
            }
        } else {
            for j in (1..=s.len()).rev() {
                ok[j] = ok[j - 1] && s[j - 1] == c;
            }
            ok[0] = false;
        }
    }
    ok[s.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, at: usize) -> Cond {
        Cond::Ref(name.into(), at)
    }

    #[test]
    fn precedence_is_not_and_or() {
        // a or b and not c  ==  a or (b and (not c))
        let c = parse("a or b and not c").unwrap();
        assert_eq!(
            c,
            Cond::Or(vec![
                r("a", 0),
                Cond::And(vec![r("b", 5), Cond::Not(Box::new(r("c", 15)))])
            ])
        );
    }

    #[test]
    fn parentheses_and_quantifiers() {
        let c = parse("(a or b) and 1 of sel* and not all of them").unwrap();
        let Cond::And(items) = c else { panic!() };
        assert_eq!(items[0], Cond::Or(vec![r("a", 1), r("b", 6)]));
        assert_eq!(
            items[1],
            Cond::OneOf(Quantified {
                pattern: Some("sel*".into()),
                at: 18
            })
        );
        assert_eq!(
            items[2],
            Cond::Not(Box::new(Cond::AllOf(Quantified {
                pattern: None,
                at: 38
            })))
        );
    }

    #[test]
    fn operators_in_any_case() {
        assert_eq!(
            parse("a AND NOT b").unwrap(),
            Cond::And(vec![r("a", 0), Cond::Not(Box::new(r("b", 10)))])
        );
    }

    #[test]
    fn errors_are_positioned() {
        let e = parse("a and (b or c").unwrap_err();
        assert!(e.message.contains("missing `)`"), "{e}");
        assert_eq!(e.at, 13);
        let e = parse("a and").unwrap_err();
        assert_eq!(e.at, 5);
        let e = parse("a b").unwrap_err();
        assert_eq!(e.at, 2);
        let e = parse("sel | count() > 5").unwrap_err();
        assert_eq!(e.at, 4);
        assert!(e.message.contains("correlation"));
        let e = parse("2 of sel*").unwrap_err();
        assert_eq!(e.at, 0);
        let e = parse("1 of").unwrap_err();
        assert_eq!(e.at, 4);
        let e = parse("a and )").unwrap_err();
        assert_eq!(e.at, 6);
        assert!(parse("  ").is_err());
    }

    #[test]
    fn pathological_conditions_are_errors() {
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).unwrap_err().message.contains("nests"));
        let nots = format!("{}a", "not ".repeat(10_000));
        assert!(parse(&nots).is_err());
        let many_stars = format!("{}b", "*a".repeat(40));
        assert!(!pattern_matches(Some(&many_stars), &"a".repeat(60)));
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches(Some("sel*"), "selection"));
        assert!(pattern_matches(Some("*_req_*"), "sel_req_uri"));
        assert!(!pattern_matches(Some("sel*"), "filter"));
        assert!(pattern_matches(None, "selection"));
        assert!(!pattern_matches(None, "_hidden"));
        assert!(pattern_matches(Some("_h*"), "_hidden"));
    }
}
