//! Rule sources and the problems found in them: a [`Source`] is one YAML
//! text with the name messages give it; a [`LoadError`] is one problem, at
//! its file and line. Every loader (Panther rules and libraries, Sigma,
//! tuning files) reports in these terms.

use std::fmt;

/// A YAML source: a name for messages and its text.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path or embedded name.
    pub name: String,
    /// File contents.
    pub text: String,
}

/// A problem in a rule or library file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Every problem found while loading rules; nothing runs while there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        write!(f, "{} problem(s) in the rules", self.0.len())
    }
}

impl std::error::Error for LoadErrors {}
