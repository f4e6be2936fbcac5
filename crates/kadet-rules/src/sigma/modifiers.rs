//! Value modifiers (`field|contains|all: [...]`): their names, and which
//! combinations make sense. [`super::values`] compiles a field's values
//! with them.
//!
//! A modifier kadet does not implement is an error naming it, never a
//! condition that silently never matches.

use crate::expr::NumOp;

/// A value modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    /// `contains`.
    Contains,
    /// `startswith`.
    StartsWith,
    /// `endswith`.
    EndsWith,
    /// `all`: values ANDed instead of ORed.
    All,
    /// `re`.
    Re,
    /// `i` after `re`: case-insensitive.
    ReI,
    /// `m` after `re`: multi-line.
    ReM,
    /// `s` after `re`: `.` matches newlines.
    ReS,
    /// `cidr`.
    Cidr,
    /// `exists`.
    Exists,
    /// `gt`.
    Gt,
    /// `gte`.
    Gte,
    /// `lt`.
    Lt,
    /// `lte`.
    Lte,
    /// `neq`: none of the values.
    Neq,
    /// `windash`.
    Windash,
    /// `base64`.
    Base64,
    /// `base64offset`.
    Base64Offset,
    /// `cased`: case-sensitive.
    Cased,
    /// `fieldref`: the values name other fields.
    FieldRef,
}

/// Sigma modifiers kadet knows of but does not implement, with why.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("utf16le", "audit events are UTF-8 JSON"),
    ("utf16be", "audit events are UTF-8 JSON"),
    ("utf16", "audit events are UTF-8 JSON"),
    ("wide", "audit events are UTF-8 JSON"),
    ("expand", "placeholders need values kadet does not have"),
    ("minute", "time-part modifiers are not implemented"),
    ("hour", "time-part modifiers are not implemented"),
    ("day", "time-part modifiers are not implemented"),
    ("week", "time-part modifiers are not implemented"),
    ("month", "time-part modifiers are not implemented"),
    ("year", "time-part modifiers are not implemented"),
];

impl Modifier {
    /// Parses one modifier name.
    pub fn parse(name: &str, after_re: bool) -> Result<Modifier, String> {
        use Modifier as M;
        Ok(match name {
            "contains" => M::Contains,
            "startswith" => M::StartsWith,
            "endswith" => M::EndsWith,
            "all" => M::All,
            "re" => M::Re,
            "i" if after_re => M::ReI,
            "m" if after_re => M::ReM,
            "s" if after_re => M::ReS,
            "i" | "m" | "s" => {
                return Err(format!(
                    "the {name:?} modifier is a flag of `re` and must follow it"
                ))
            }
            "cidr" => M::Cidr,
            "exists" => M::Exists,
            "gt" => M::Gt,
            "gte" => M::Gte,
            "lt" => M::Lt,
            "lte" => M::Lte,
            "neq" => M::Neq,
            "windash" => M::Windash,
            "base64" => M::Base64,
            "base64offset" => M::Base64Offset,
            "cased" => M::Cased,
            "fieldref" => M::FieldRef,
            other => {
                return Err(match UNSUPPORTED.iter().find(|(n, _)| *n == other) {
                    Some((_, why)) => {
                        format!("the {other:?} modifier is not supported by kadet ({why})")
                    }
                    None => format!("unknown modifier {other:?}"),
                })
            }
        })
    }

    /// The name as written.
    pub fn name(self) -> &'static str {
        use Modifier as M;
        match self {
            M::Contains => "contains",
            M::StartsWith => "startswith",
            M::EndsWith => "endswith",
            M::All => "all",
            M::Re => "re",
            M::ReI => "i",
            M::ReM => "m",
            M::ReS => "s",
            M::Cidr => "cidr",
            M::Exists => "exists",
            M::Gt => "gt",
            M::Gte => "gte",
            M::Lt => "lt",
            M::Lte => "lte",
            M::Neq => "neq",
            M::Windash => "windash",
            M::Base64 => "base64",
            M::Base64Offset => "base64offset",
            M::Cased => "cased",
            M::FieldRef => "fieldref",
        }
    }
}

/// Splits `field|mod1|mod2` into the field name and its modifiers. The
/// error names the offending modifier.
pub fn split_key(key: &str) -> Result<(String, Vec<Modifier>), (String, String)> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or("").to_string();
    let mut mods: Vec<Modifier> = Vec::new();
    for name in parts {
        let after_re = mods.iter().any(|m| {
            matches!(
                m,
                Modifier::Re | Modifier::ReI | Modifier::ReM | Modifier::ReS
            )
        });
        let m = Modifier::parse(name, after_re).map_err(|e| (name.to_string(), e))?;
        if mods.contains(&m) {
            return Err((
                name.to_string(),
                format!("the {name:?} modifier is given twice"),
            ));
        }
        mods.push(m);
    }
    Ok((field, mods))
}

/// What kind of test a field's modifiers ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain values, wildcards, contains/startswith/endswith, encodings.
    Strings,
    /// `re`.
    Regex,
    /// `cidr`.
    Cidr,
    /// `exists`.
    Exists,
    /// `gt`, `gte`, `lt`, `lte`.
    Number(NumOp),
    /// `fieldref`.
    FieldRef,
}

/// The kind of test `mods` ask for, or why they cannot go together.
pub fn kind_of(mods: &[Modifier]) -> Result<Kind, String> {
    use Modifier as M;
    let mut kind = Kind::Strings;
    for m in mods {
        let k = match m {
            M::Re => Kind::Regex,
            M::Cidr => Kind::Cidr,
            M::Exists => Kind::Exists,
            M::Gt => Kind::Number(NumOp::Gt),
            M::Gte => Kind::Number(NumOp::Ge),
            M::Lt => Kind::Number(NumOp::Lt),
            M::Lte => Kind::Number(NumOp::Le),
            M::FieldRef => Kind::FieldRef,
            _ => continue,
        };
        if kind != Kind::Strings {
            return Err(format!(
                "the {:?} modifier cannot be combined with another type modifier (re, cidr, exists, gt/gte/lt/lte, fieldref)",
                m.name()
            ));
        }
        kind = k;
    }
    // Which other modifiers each kind takes.
    let allowed: &[M] = match kind {
        Kind::Strings => &[
            M::Contains,
            M::StartsWith,
            M::EndsWith,
            M::All,
            M::Neq,
            M::Windash,
            M::Base64,
            M::Base64Offset,
            M::Cased,
        ],
        Kind::Regex => &[M::Re, M::ReI, M::ReM, M::ReS, M::All, M::Neq, M::Cased],
        Kind::Cidr => &[M::Cidr, M::All, M::Neq],
        Kind::Exists => &[M::Exists],
        Kind::Number(_) => &[M::Gt, M::Gte, M::Lt, M::Lte, M::All],
        Kind::FieldRef => &[
            M::FieldRef,
            M::Contains,
            M::StartsWith,
            M::EndsWith,
            M::All,
            M::Neq,
            M::Cased,
        ],
    };
    if let Some(bad) = mods.iter().find(|m| !allowed.contains(m)) {
        let what = match kind {
            Kind::Strings => "string matching",
            Kind::Regex => "re",
            Kind::Cidr => "cidr",
            Kind::Exists => "exists",
            Kind::Number(_) => "a numeric comparison",
            Kind::FieldRef => "fieldref",
        };
        return Err(format!(
            "the {:?} modifier cannot be used with {what}",
            bad.name()
        ));
    }
    let position = |m: M| mods.iter().position(|x| *x == m);
    let wraps = [M::Contains, M::StartsWith, M::EndsWith]
        .iter()
        .filter(|m| mods.contains(m))
        .count();
    if wraps > 1 {
        return Err("use only one of contains, startswith, endswith".into());
    }
    for enc in [M::Base64, M::Base64Offset] {
        if let Some(e) = position(enc) {
            for w in [M::Contains, M::StartsWith, M::EndsWith, M::Windash] {
                let wrong_order = match w {
                    M::Windash => position(w).is_some_and(|p| p > e),
                    _ => position(w).is_some_and(|p| p < e),
                };
                if wrong_order {
                    return Err(format!(
                        "{:?} must come {} {:?}",
                        w.name(),
                        if w == M::Windash { "before" } else { "after" },
                        enc.name()
                    ));
                }
            }
        }
    }
    if mods.contains(&M::Base64) && mods.contains(&M::Base64Offset) {
        return Err("use only one of base64, base64offset".into());
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifier_names() {
        assert_eq!(split_key("a|re|i|s").unwrap().1.len(), 3);
        let (name, e) = split_key("a|utf16le").unwrap_err();
        assert_eq!(name, "utf16le");
        assert!(e.contains("not supported"), "{e}");
        assert!(split_key("a|frobnicate")
            .unwrap_err()
            .1
            .contains("unknown modifier"));
        assert!(split_key("a|i").unwrap_err().1.contains("flag of `re`"));
        assert!(split_key("a|contains|contains").is_err());
    }

    #[test]
    fn kinds() {
        let k = |key: &str| kind_of(&split_key(key).unwrap().1);
        assert_eq!(k("a|re|i"), Ok(Kind::Regex));
        assert_eq!(k("a|contains|all|cased"), Ok(Kind::Strings));
        assert_eq!(k("a|gte"), Ok(Kind::Number(NumOp::Ge)));
        assert!(k("a|re|cidr").is_err());
        assert!(k("a|exists|all").is_err());
    }
}
