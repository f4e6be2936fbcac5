//! [`Problem`]: one thing wrong with what `serve` is asked to start, at its
//! file and line. The start path collects every problem before it starts
//! anything; `--check-config` runs that path dry and lists them all.

use std::fmt;

/// One problem: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `file:line` (or `file:line:column`), or the file alone.
    pub at: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem at `at`.
    pub fn new(at: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            at: at.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Every problem found, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Finds places in a config file's text, for problems found after parsing.
#[derive(Debug, Clone, Copy)]
pub struct ConfigText<'a> {
    /// The file's name in messages.
    pub origin: &'a str,
    /// Its text (empty for the built-in defaults).
    pub text: &'a str,
}

impl ConfigText<'_> {
    /// The line of the `nth` header `section` (`[tls]`, `[[sinks]]`), or
    /// the file alone when it has none.
    pub fn section(&self, section: &str, nth: usize) -> String {
        let line = self
            .text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == section)
            .nth(nth)
            .map(|(i, _)| i + 1);
        self.place(line)
    }

    /// The line of `key = ...` inside the first `section`, else the
    /// section's line.
    pub fn key(&self, section: &str, key: &str) -> String {
        let mut inside = false;
        for (i, l) in self.text.lines().enumerate() {
            let t = l.trim();
            if t.starts_with('[') {
                inside = t == section;
                continue;
            }
            if inside
                && t.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            {
                return self.place(Some(i + 1));
            }
        }
        self.section(section, 0)
    }

    fn place(&self, line: Option<usize>) -> String {
        match line {
            Some(l) => format!("{}:{l}", self.origin),
            None => self.origin.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_keys_are_found_by_line() {
        let t = ConfigText {
            origin: "k.toml",
            text: "[a]\nx = 1\n\n[[s]]\ny=2\n[[s]]\n[b]\nx = 3\n",
        };
        assert_eq!(t.section("[[s]]", 1), "k.toml:6");
        assert_eq!(t.key("[b]", "x"), "k.toml:8");
        assert_eq!(t.key("[a]", "x"), "k.toml:2");
        assert_eq!(t.key("[a]", "zz"), "k.toml:1");
        assert_eq!(t.section("[nope]", 0), "k.toml");
    }
}
