//! The tuning file as written, and reading it with positioned errors.

use crate::model::ExprList;
use crate::source::LoadError;
use serde::Deserialize;
use serde_norway::Value as Yaml;

/// One entry: which rules, why, until when, and what changes.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct TuningEntry {
    pub Rules: Vec<String>,
    pub Reason: String,
    pub Expires: Option<Yaml>,
    pub Exclude: Option<ExprList>,
    pub Severity: Option<String>,
    pub DedupPeriodMinutes: Option<u32>,
    pub Threshold: Option<u32>,
    pub Enabled: Option<bool>,
}

/// A test the tuning file carries: an event and whether the tuned rule
/// alerts on it.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct TuningTest {
    pub Name: String,
    pub RuleID: String,
    pub ExpectedResult: bool,
    pub Log: Yaml,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
struct Raw {
    AnalysisType: String,
    Description: Option<String>,
    #[serde(default)]
    Tuning: Vec<TuningEntry>,
    #[serde(default)]
    Tests: Vec<TuningTest>,
}

/// A loaded tuning file.
#[derive(Debug, Clone)]
pub struct TuningFile {
    /// The path, for messages.
    pub source: String,
    /// The entries, with their lines.
    pub entries: Vec<(usize, TuningEntry)>,
    /// The tests.
    pub tests: Vec<TuningTest>,
    /// The file's text (its hash names the rule set in `serve`).
    pub text: String,
}

impl TuningFile {
    /// Reads a tuning file.
    pub fn load(path: &std::path::Path) -> Result<TuningFile, LoadError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LoadError {
            file: name.clone(),
            line: None,
            column: None,
            message: e.to_string(),
        })?;
        TuningFile::parse(&text, &name)
    }

    /// Parses tuning text; `name` names it in errors.
    pub fn parse(text: &str, name: &str) -> Result<TuningFile, LoadError> {
        let raw: Raw = serde_norway::from_str(text).map_err(|e| {
            let loc = e.location();
            let mut message = e.to_string();
            if let Some(i) = message.find(" at line ") {
                message.truncate(i);
            }
            LoadError {
                file: name.to_string(),
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
                message,
            }
        })?;
        let _ = raw.Description;
        if raw.AnalysisType != "tuning" {
            return Err(LoadError {
                file: name.to_string(),
                line: line_of(text, "AnalysisType:"),
                column: None,
                message: format!(
                    "AnalysisType {:?}: a tuning file says `AnalysisType: tuning`",
                    raw.AnalysisType
                ),
            });
        }
        let lines = entry_lines(text, raw.Tuning.len());
        Ok(TuningFile {
            source: name.to_string(),
            entries: lines.into_iter().zip(raw.Tuning).collect(),
            tests: raw.Tests,
            text: text.to_string(),
        })
    }
}

fn line_of(text: &str, prefix: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().starts_with(prefix))
        .map(|i| i + 1)
}

/// The line where each of the `n` entries under `Tuning:` starts: the items
/// of that block sequence, at its least indentation (block-style YAML; a
/// flow-style list gets the `Tuning:` line for every entry).
fn entry_lines(text: &str, n: usize) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("Tuning:")) else {
        return vec![1; n];
    };
    let mut items: Vec<(usize, usize)> = Vec::new();
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        let indent = l.len() - l.trim_start().len();
        if !l.trim().is_empty() && indent == 0 && !l.trim_start().starts_with('-') {
            break;
        }
        if l.trim_start().starts_with("- ") || l.trim() == "-" {
            items.push((indent, i + 1));
        }
    }
    let least = items.iter().map(|(ind, _)| *ind).min().unwrap_or(0);
    let mut out: Vec<usize> = items
        .into_iter()
        .filter(|(ind, _)| *ind == least)
        .map(|(_, l)| l)
        .collect();
    out.resize(n, start + 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_know_their_lines() {
        let text = "AnalysisType: tuning\nTuning:\n  - Rules: [A]\n    Reason: one\n    Exclude:\n      - Key: verb\n        Condition: Equals\n        Value: get\n  - Rules: [\"B.*\"]\n    Reason: two\n    Severity: Low\n";
        let f = TuningFile::parse(text, "t.yml").unwrap();
        let lines: Vec<usize> = f.entries.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [3, 9]);
        let e = TuningFile::parse("AnalysisType: tuning\nTuning:\n  - Rules: [A]\n", "t.yml")
            .unwrap_err();
        assert!(e.to_string().contains("Reason"), "{e}");
        let e = TuningFile::parse("AnalysisType: tuning\nTunning: []\n", "t.yml").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }
}
