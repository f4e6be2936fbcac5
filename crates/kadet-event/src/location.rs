//! Where a record is in the input, in terms a user can act on.

use std::fmt;
use std::sync::Arc;

/// Where a record came from, in the terms a user can act on.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Location {
    /// The input file, or `-` for standard input.
    pub file: Arc<str>,
    /// 1-based line where the record starts.
    pub line: u64,
    /// 0-based index of the event inside a batch record (EventList item,
    /// CloudWatch logEvent, Azure record), when the line held several.
    pub record: Option<u32>,
}

impl Location {
    /// A location for a whole line.
    pub fn line(file: Arc<str>, line: u64) -> Self {
        Location {
            file,
            line,
            record: None,
        }
    }

    /// The same line, pointing at the `index`th record inside it.
    pub fn with_record(&self, index: usize) -> Self {
        Location {
            file: self.file.clone(),
            line: self.line,
            record: Some(u32::try_from(index).unwrap_or(u32::MAX)),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0 is no line: the "file" says it all (a batch `serve` took).
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(r) = self.record {
            write!(f, "#{r}")?;
        }
        Ok(())
    }
}
