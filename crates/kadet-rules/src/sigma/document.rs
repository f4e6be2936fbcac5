//! A Sigma file as YAML documents, and finding the line of a piece of a
//! document for error messages (YAML values carry no positions, so lines are
//! found by searching the document's text).

use crate::source::LoadError;
use serde_norway::Value as Yaml;

/// One YAML document of a file: its text, where it starts, its value.
#[derive(Debug, Clone)]
pub struct Document<'t> {
    /// The file, for messages.
    pub file: &'t str,
    /// The document's text.
    pub text: &'t str,
    /// 1-based line of the file where the document's text starts.
    pub first_line: usize,
    /// The parsed document.
    pub value: Yaml,
}

/// Splits a file into its YAML documents (separated by `---` lines) and
/// parses each. Empty documents (only comments or blanks) are left out.
pub fn split<'t>(file: &'t str, text: &'t str) -> Result<Vec<Document<'t>>, LoadError> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if is_separator(line) {
            push_doc(file, &text[start..offset], start_line, &mut docs)?;
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    push_doc(file, &text[start..], start_line, &mut docs)?;
    Ok(docs)
}

/// `---` alone on its line (or followed by a comment), or the `...` end marker.
fn is_separator(line: &str) -> bool {
    let l = line.trim_end();
    l == "---" || l == "..." || l.starts_with("--- #")
}

fn push_doc<'t>(
    file: &'t str,
    text: &'t str,
    first_line: usize,
    out: &mut Vec<Document<'t>>,
) -> Result<(), LoadError> {
    let blank = text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
    if blank {
        return Ok(());
    }
    let value: Yaml = serde_norway::from_str(text).map_err(|e| {
        let loc = e.location();
        let mut message = e.to_string();
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        LoadError {
            file: file.to_string(),
            line: loc.as_ref().map(|l| l.line() + first_line - 1),
            column: loc.as_ref().map(|l| l.column()),
            message,
        }
    })?;
    out.push(Document {
        file,
        text,
        first_line,
        value,
    });
    Ok(())
}

impl Document<'_> {
    /// A top-level key's value.
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        self.value.get(key)
    }

    /// The file line of the top-level key `key`.
    pub fn key_line(&self, key: &str) -> Option<usize> {
        let prefix = format!("{key}:");
        self.text
            .lines()
            .position(|l| l.starts_with(&prefix))
            .map(|i| i + self.first_line)
    }

    /// The first file line at or after `from` (a file line) containing
    /// `needle`; `from` itself when nothing is found.
    pub fn line_after(&self, from: Option<usize>, needle: &str) -> Option<usize> {
        let skip = from.map_or(0, |f| f.saturating_sub(self.first_line));
        self.text
            .lines()
            .enumerate()
            .skip(skip)
            .find(|(_, l)| l.contains(needle))
            .map(|(i, _)| i + self.first_line)
            .or(from)
    }

    /// The first file line after `from` that holds the mapping key `key`
    /// (`key:`, quoted or not); else the first line after `from` holding
    /// `key` at all, else `from`.
    pub fn key_line_after(&self, from: Option<usize>, key: &str) -> Option<usize> {
        let skip = from.map_or(0, |f| f.saturating_sub(self.first_line));
        let forms = [
            format!("{key}:"),
            format!("'{key}':"),
            format!("\"{key}\":"),
        ];
        self.text
            .lines()
            .enumerate()
            .skip(skip)
            .find(|(_, l)| {
                let t = l.trim_start().trim_start_matches("- ");
                forms.iter().any(|f| t.starts_with(f.as_str()))
            })
            .map(|(i, _)| i + self.first_line)
            .or_else(|| self.line_after(from, key))
    }

    /// The 1-based column of `needle` on file line `line`.
    pub fn column_of(&self, line: usize, needle: &str) -> Option<usize> {
        let l = self.text.lines().nth(line.checked_sub(self.first_line)?)?;
        l.find(needle).map(|c| l[..c].chars().count() + 1)
    }

    /// An error at a line (and column).
    pub fn error(
        &self,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> LoadError {
        LoadError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_with_their_lines() {
        let text = "---\ntitle: a\n---\n# only a comment\n---\ntitle: b\nid: x\n";
        let docs = split("f.yml", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].first_line, 2);
        assert_eq!(docs[1].first_line, 6);
        assert_eq!(docs[1].key_line("id"), Some(7));
        assert_eq!(docs[1].get("title").and_then(Yaml::as_str), Some("b"));
    }

    #[test]
    fn yaml_errors_carry_file_lines() {
        let text = "title: a\n---\ntitle: b\nbad: [\n";
        let e = split("f.yml", text).unwrap_err();
        assert_eq!(e.file, "f.yml");
        assert!(e.line.is_some_and(|l| l >= 4), "{e}");
    }

    #[test]
    fn finds_lines_after_an_anchor() {
        let text = "detection:\n  sel:\n    a|contains: x\n  other:\n    a: y\n";
        let docs = split("f.yml", text).unwrap();
        let d = &docs[0];
        assert_eq!(d.line_after(Some(4), "a"), Some(5));
        assert_eq!(d.line_after(Some(1), "a|contains"), Some(3));
        assert_eq!(d.column_of(3, "contains"), Some(7));
        // `a:` is a key on line 5, not the `a|contains:` of line 3.
        assert_eq!(d.key_line_after(Some(1), "a"), Some(5));
        assert_eq!(d.key_line_after(Some(1), "other"), Some(4));
    }
}
