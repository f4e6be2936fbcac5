//! The string templates of `data/cluster.toml`: `{variable}` substitutions,
//! `{{` and `}}` for literal braces, and, in `let` lists only, random parts
//! drawn from the RNG left to right: `{LO..HI}` (an integer, HI excluded),
//! `{hex:N}`, `{upper:N}`, `{lower:N}` (N characters) and `{uuid}`.

use rand::Rng;

use crate::model::random::{hexstr, rand_from, uuid, Rng64, LOWER_ALNUM, UPPER_ALNUM};

/// Variables templates may refer to. A later definition of a name hides an
/// earlier one.
#[derive(Clone, Debug, Default)]
pub struct Vars(Vec<(String, String)>);

impl Vars {
    /// Defines (or redefines) `name`.
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.push((name.to_string(), value.to_string()));
    }

    /// These variables and `name`.
    pub fn with(mut self, name: &str, value: &str) -> Vars {
        self.set(name, value);
        self
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Evaluates a `let` list: each template in order, with its random
    /// parts drawn from `rng`, defining its variable for the next ones.
    pub fn define_all(&mut self, lets: &[(String, String)], rng: &mut Rng64) {
        for (name, template) in lets {
            let value = render(template, self, Some(rng))
                .unwrap_or_else(|e| panic!("let {name} = {template:?}: {e}"));
            self.set(name, &value);
        }
    }

    /// Expands a template without random parts.
    pub fn expand(&self, template: &str) -> String {
        render(template, self, None).unwrap_or_else(|e| panic!("{template:?}: {e}"))
    }
}

/// Expands `template`; random parts need `rng`.
fn render(template: &str, vars: &Vars, mut rng: Option<&mut Rng64>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let brace = rest.as_bytes()[i];
        rest = &rest[i + 1..];
        if rest.as_bytes().first() == Some(&brace) {
            out.push(brace as char);
            rest = &rest[1..];
            continue;
        }
        if brace == b'}' {
            return Err("a lone '}' (write '}}')".into());
        }
        let end = rest.find('}').ok_or("an unclosed '{'")?;
        let field = &rest[..end];
        rest = &rest[end + 1..];
        if let Some(value) = vars.get(field) {
            out.push_str(value);
            continue;
        }
        let rng = rng
            .as_deref_mut()
            .ok_or_else(|| format!("{{{field}}} is no variable (random parts only in `let`)"))?;
        out.push_str(&draw(field, rng)?);
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of a random part: `LO..HI`, `hex:N`, `upper:N`, `lower:N` or
/// `uuid`.
fn draw(field: &str, rng: &mut Rng64) -> Result<String, String> {
    let number = |s: &str| {
        s.parse::<u32>()
            .map_err(|_| format!("{{{field}}}: {s:?} is not a number"))
    };
    if field == "uuid" {
        return Ok(uuid(rng));
    }
    if let Some((lo, hi)) = field.split_once("..") {
        let (lo, hi) = (number(lo)?, number(hi)?);
        if lo >= hi {
            return Err(format!("{{{field}}} is an empty range"));
        }
        return Ok(rng.random_range(lo..hi).to_string());
    }
    let (kind, len) = field
        .split_once(':')
        .ok_or_else(|| format!("{{{field}}} is no variable or random part"))?;
    let len = number(len)? as usize;
    match kind {
        "hex" => Ok(hexstr(rng, len)),
        "upper" => Ok(rand_from(rng, UPPER_ALNUM, len)),
        "lower" => Ok(rand_from(rng, LOWER_ALNUM, len)),
        _ => Err(format!("{{{field}}}: no random part is called {kind:?}")),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn lets(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn variables_and_braces() {
        let vars = Vars::default().with("a", "x").with("b", "y").with("a", "z");
        assert_eq!(vars.expand("{a}-{b}"), "z-y");
        assert_eq!(vars.expand("{{{{a}}}} {{{a}}}"), "{{a}} {z}");
        assert_eq!(vars.expand("no braces"), "no braces");
        assert!(render("{c}", &vars, None).is_err());
        assert!(render("{a", &vars, None).is_err());
        assert!(render("a}", &vars, None).is_err());
        assert!(render("{1..5}", &vars, None).is_err());
    }

    #[test]
    fn random_parts_draw_like_the_helpers() {
        let mut rng = Rng64::seed_from_u64(5);
        let mut vars = Vars::default().with("n", "7");
        vars.define_all(
            &lets(&[
                ("ip", "10.8.{0..4}.{2..250}"),
                ("id", "i-0{hex:16}/{n}"),
                ("k", "{upper:5}{lower:4}"),
                ("u", "{uuid}"),
            ]),
            &mut rng,
        );
        let mut same = Rng64::seed_from_u64(5);
        let a: i32 = same.random_range(0..4);
        let b: i32 = same.random_range(2..250);
        assert_eq!(vars.get("ip").unwrap(), format!("10.8.{a}.{b}"));
        assert_eq!(
            vars.get("id").unwrap(),
            format!("i-0{}/7", hexstr(&mut same, 16))
        );
        let k = rand_from(&mut same, UPPER_ALNUM, 5) + &rand_from(&mut same, LOWER_ALNUM, 4);
        assert_eq!(vars.get("k").unwrap(), k);
        assert_eq!(vars.get("u").unwrap(), uuid(&mut same));
        let mut bad = Vars::default();
        let mut rng = Rng64::seed_from_u64(5);
        for t in ["{4..4}", "{a..9}", "{hex:x}", "{dec:4}", "{nothing}"] {
            assert!(render(t, &bad, Some(&mut rng)).is_err(), "{t}");
        }
        bad.set("x", "1");
        assert_eq!(render("{x}", &bad, Some(&mut rng)).unwrap(), "1");
    }
}
