//! Cutting one input into [`Chunk`]s of whole records with bounded memory.
//!
//! Two layouts are recognised per input. JSON-lines files (the kube-apiserver
//! log backend, CloudWatch exports, Panther test logs, base64 payloads one per
//! line) are read in large chunks cut at line ends. Pretty-printed JSON (a
//! single event, an `EventList`, an Azure batch, or a top-level array of
//! events) is split into its top-level values; the elements of a top-level
//! array are streamed one by one, so a huge array is never held whole.

use super::strip_bom;
use crate::decode::{Skip, SkipReason};
use crate::event::Location;
use std::io::{self, Read};
use std::sync::Arc;

/// Limits for reading.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Target size of a chunk of lines.
    pub chunk_bytes: usize,
    /// Largest record (line or document) kept; longer ones are skipped.
    pub max_record_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            chunk_bytes: 1 << 20,
            max_record_bytes: 64 << 20,
        }
    }
}

/// A piece of input holding whole records.
#[derive(Debug)]
pub enum Chunk {
    /// Complete lines; `first_line` is the 1-based number of the first.
    Lines {
        /// File name.
        file: Arc<str>,
        /// Line number of the first line.
        first_line: u64,
        /// The bytes, ending with a newline or at end of input.
        data: Vec<u8>,
    },
    /// One top-level JSON value of a pretty-printed document.
    Document {
        /// File name.
        file: Arc<str>,
        /// Line where the value starts.
        line: u64,
        /// The value's bytes.
        data: Vec<u8>,
    },
    /// A record that could not be read.
    Skipped(Skip),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    Undecided,
    Lines,
    Document,
}

/// Cuts one input into chunks.
pub struct ChunkReader {
    file: Arc<str>,
    reader: Box<dyn Read + Send>,
    opts: ReadOptions,
    layout: Layout,
    buf: Vec<u8>,
    next_line: u64,
    eof: bool,
    failed: bool,
    splitter: DocSplitter,
    pending: std::collections::VecDeque<Chunk>,
}

impl ChunkReader {
    /// Reads `reader`, naming it `file` in locations.
    pub fn new(file: Arc<str>, reader: Box<dyn Read + Send>, opts: ReadOptions) -> ChunkReader {
        ChunkReader {
            file,
            reader,
            opts,
            layout: Layout::Undecided,
            buf: Vec::new(),
            next_line: 1,
            eof: false,
            failed: false,
            splitter: DocSplitter::default(),
            pending: Default::default(),
        }
    }

    /// Fills `buf` up to `want` bytes or end of input.
    fn fill(&mut self, want: usize) {
        while self.buf.len() < want && !self.eof {
            let old = self.buf.len();
            let grow = want - old;
            self.buf.reserve(grow);
            // `read_to_end` through `take` reads into the spare capacity
            // without zeroing it first.
            match (&mut self.reader)
                .take(grow as u64)
                .read_to_end(&mut self.buf)
            {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                // What was read before an error stays in the buffer.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    self.failed = true;
                    let line =
                        self.next_line + memchr::memchr_iter(b'\n', &self.buf).count() as u64;
                    let message = if e.kind() == io::ErrorKind::UnexpectedEof {
                        format!("input ends early (truncated compressed stream?): {e}")
                    } else {
                        format!("read failed: {e}")
                    };
                    self.pending.push_back(Chunk::Skipped(Skip {
                        location: Location::line(self.file.clone(), line),
                        reason: SkipReason::ReadError,
                        message,
                    }));
                }
            }
        }
    }

    fn decide_layout(&mut self) {
        self.fill(64 << 10);
        // A UTF-8 byte-order mark (PowerShell and some Windows tools write
        // one) is not part of the JSON: drop it. It sits on line 1, so line
        // numbers are unchanged.
        if let Some(rest) = strip_bom(&self.buf) {
            let bom = self.buf.len() - rest.len();
            self.buf.drain(..bom);
        }
        let start = self.buf.iter().position(|b| !b.is_ascii_whitespace());
        self.layout = match start.map(|i| self.buf[i]) {
            Some(b'[') => Layout::Document,
            Some(b'{') => {
                let s = start.unwrap_or(0);
                let line_end =
                    memchr::memchr(b'\n', &self.buf[s..]).map_or(self.buf.len(), |e| s + e);
                // One value per line is JSON lines; a value spread over
                // lines, or values back to back on one line (Firehose
                // writes CloudWatch payloads to S3 that way), is split
                // value by value.
                match first_value_end(&self.buf[s..line_end]) {
                    Some(end) if self.buf[s + end..line_end].trim_ascii().is_empty() => {
                        Layout::Lines
                    }
                    _ => Layout::Document,
                }
            }
            _ => Layout::Lines,
        };
    }

    /// The next chunk, or `None` at end of input.
    pub fn next_chunk(&mut self) -> Option<Chunk> {
        if let Some(c) = self.pending.pop_front() {
            return Some(c);
        }
        if self.layout == Layout::Undecided {
            self.decide_layout();
        }
        let chunk = match self.layout {
            Layout::Document => self.next_document(),
            _ => self.next_lines(),
        };
        match chunk {
            Some(c) => {
                self.pending.push_back(c);
                self.pending.pop_front()
            }
            None => self.pending.pop_front(),
        }
    }

    fn next_lines(&mut self) -> Option<Chunk> {
        let want = self.opts.chunk_bytes.max(1);
        let max = self.opts.max_record_bytes.max(1);
        loop {
            if self.buf.len() < want {
                self.fill(want);
            }
            if self.buf.is_empty() {
                return None;
            }
            let window = self.buf.len().min(want);
            let cut = memchr::memrchr(b'\n', &self.buf[..window])
                .or_else(|| memchr::memchr(b'\n', &self.buf).filter(|&nl| nl < max));
            if let Some(nl) = cut {
                return Some(self.take_lines(nl + 1));
            }
            if self.buf.len() >= max {
                let line = self.next_line;
                self.skip_rest_of_line();
                return Some(Chunk::Skipped(Skip {
                    location: Location::line(self.file.clone(), line),
                    reason: SkipReason::TooLarge,
                    message: format!("line is longer than the record limit of {max} bytes"),
                }));
            }
            if self.eof {
                let len = self.buf.len();
                return Some(self.take_lines(len));
            }
            let target = (self.buf.len() * 2).min(max);
            self.fill(target);
        }
    }

    fn take_lines(&mut self, len: usize) -> Chunk {
        let rest = self.buf.split_off(len);
        let data = std::mem::replace(&mut self.buf, rest);
        let first_line = self.next_line;
        let newlines = memchr::memchr_iter(b'\n', &data).count() as u64;
        self.next_line += newlines.max(u64::from(!data.ends_with(b"\n")));
        Chunk::Lines {
            file: self.file.clone(),
            first_line,
            data,
        }
    }

    fn skip_rest_of_line(&mut self) {
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf) {
                self.buf.drain(..=nl);
                self.next_line += 1;
                return;
            }
            self.buf.clear();
            self.fill(1 << 20);
            if self.buf.is_empty() {
                return;
            }
        }
    }

    fn next_document(&mut self) -> Option<Chunk> {
        loop {
            if let Some(c) = self.splitter.ready.pop_front() {
                return Some(self.doc_chunk(c));
            }
            if self.eof && self.buf.is_empty() {
                return self.splitter.finish().map(|c| self.doc_chunk(c));
            }
            self.fill(1 << 20);
            let data = std::mem::take(&mut self.buf);
            self.splitter.feed(&data, self.opts.max_record_bytes);
        }
    }

    fn doc_chunk(&self, piece: DocPiece) -> Chunk {
        match piece {
            DocPiece::Value { line, data } => Chunk::Document {
                file: self.file.clone(),
                line,
                data,
            },
            DocPiece::TooLarge { line } => Chunk::Skipped(Skip {
                location: Location::line(self.file.clone(), line),
                reason: SkipReason::TooLarge,
                message: format!(
                    "JSON value is larger than the record limit of {} bytes",
                    self.opts.max_record_bytes
                ),
            }),
        }
    }
}

/// Where the JSON value at the start of `line` ends (the byte after it),
/// when it ends within the line.
fn first_value_end(line: &[u8]) -> Option<usize> {
    let mut depth = 0i64;
    let mut in_str = false;
    let mut esc = false;
    for (i, &b) in line.iter().enumerate() {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth <= 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

enum DocPiece {
    Value { line: u64, data: Vec<u8> },
    TooLarge { line: u64 },
}

/// Splits a stream of JSON text into top-level values; the elements of a
/// top-level array come out one by one.
#[derive(Default)]
struct DocSplitter {
    line: u64,
    depth: u32,
    base: u32,
    in_str: bool,
    esc: bool,
    in_top_array: bool,
    recording: bool,
    oversize: bool,
    start_line: u64,
    cur: Vec<u8>,
    ready: std::collections::VecDeque<DocPiece>,
}

impl DocSplitter {
    fn feed(&mut self, data: &[u8], limit: usize) {
        if self.line == 0 {
            self.line = 1;
        }
        for &b in data {
            if b == b'\n' {
                self.line += 1;
            }
            if self.recording {
                if !self.oversize {
                    if self.cur.len() >= limit {
                        self.oversize = true;
                        self.cur = Vec::new();
                    } else {
                        self.cur.push(b);
                    }
                }
                if self.in_str {
                    match (self.esc, b) {
                        (true, _) => self.esc = false,
                        (false, b'\\') => self.esc = true,
                        (false, b'"') => self.in_str = false,
                        _ => {}
                    }
                    continue;
                }
                match b {
                    b'"' => self.in_str = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth <= self.base {
                            self.end_value();
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b if b.is_ascii_whitespace() => {}
                b',' if self.in_top_array => {}
                b'[' if self.depth == 0 && !self.in_top_array => {
                    self.in_top_array = true;
                    self.depth = 1;
                }
                b']' if self.in_top_array && self.depth == 1 => {
                    self.in_top_array = false;
                    self.depth = 0;
                }
                _ => {
                    self.recording = true;
                    self.oversize = false;
                    self.start_line = self.line;
                    self.base = self.depth;
                    self.cur.clear();
                    self.cur.push(b);
                    match b {
                        b'{' | b'[' => self.depth += 1,
                        b'"' => self.in_str = true,
                        _ => {
                            // A bare scalar or stray byte: hand it to the decoder to report.
                            self.end_value();
                        }
                    }
                }
            }
        }
    }

    fn end_value(&mut self) {
        self.recording = false;
        self.depth = self.base;
        let piece = if self.oversize {
            DocPiece::TooLarge {
                line: self.start_line,
            }
        } else {
            DocPiece::Value {
                line: self.start_line,
                data: std::mem::take(&mut self.cur),
            }
        };
        self.ready.push_back(piece);
    }

    fn finish(&mut self) -> Option<DocPiece> {
        if self.recording {
            self.recording = false;
            if self.oversize {
                return Some(DocPiece::TooLarge {
                    line: self.start_line,
                });
            }
            return Some(DocPiece::Value {
                line: self.start_line,
                data: std::mem::take(&mut self.cur),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(text: &[u8], opts: ReadOptions) -> Vec<Chunk> {
        let mut r = ChunkReader::new(
            Arc::from("t"),
            Box::new(io::Cursor::new(text.to_vec())),
            opts,
        );
        std::iter::from_fn(|| r.next_chunk()).collect()
    }

    #[test]
    fn lines_are_chunked_at_line_ends_with_line_numbers() {
        let text = b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}";
        let got = chunks(
            text,
            ReadOptions {
                chunk_bytes: 10,
                max_record_bytes: 100,
            },
        );
        let mut lines = Vec::new();
        for c in got {
            if let Chunk::Lines {
                first_line, data, ..
            } = c
            {
                for (i, l) in data
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .enumerate()
                {
                    lines.push((
                        first_line + i as u64,
                        String::from_utf8(l.to_vec()).unwrap(),
                    ));
                }
            }
        }
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[3], (4, "{\"a\":4}".to_string()));
    }

    #[test]
    fn overlong_line_is_skipped_and_the_rest_read() {
        let mut text = vec![b'x'; 300];
        text.extend_from_slice(b"\n{\"ok\":1}\n");
        let got = chunks(
            &text,
            ReadOptions {
                chunk_bytes: 16,
                max_record_bytes: 64,
            },
        );
        assert!(
            matches!(&got[0], Chunk::Skipped(s) if s.reason == SkipReason::TooLarge && s.location.line == 1)
        );
        assert!(got.iter().any(|c| matches!(c, Chunk::Lines { first_line: 2, data, .. } if data.starts_with(b"{\"ok\""))));
    }

    #[test]
    fn values_back_to_back_on_one_line_are_split() {
        // Firehose's S3 objects: one CloudWatch payload after another.
        let text = b"{\"a\":1}{\"b\":[2]}  {\"c\":3}\n";
        let docs: Vec<String> = chunks(text, ReadOptions::default())
            .into_iter()
            .filter_map(|c| match c {
                Chunk::Document { data, .. } => Some(String::from_utf8(data).unwrap()),
                _ => None,
            })
            .collect();
        assert_eq!(docs, ["{\"a\":1}", "{\"b\":[2]}", "{\"c\":3}"]);
    }

    #[test]
    fn pretty_documents_and_arrays_are_split() {
        let text = b"[\n {\"a\": \"x]}\"},\n {\"b\": [1,2]}\n]\n";
        let got = chunks(text, ReadOptions::default());
        let docs: Vec<(u64, String)> = got
            .into_iter()
            .filter_map(|c| match c {
                Chunk::Document { line, data, .. } => {
                    Some((line, String::from_utf8(data).unwrap()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            docs,
            vec![
                (2, "{\"a\": \"x]}\"}".to_string()),
                (3, "{\"b\": [1,2]}".to_string())
            ]
        );
        let pretty = b"{\n  \"kind\": \"Event\",\n  \"verb\": \"get\"\n}\n{\n \"kind\":\"Event\"}";
        let got = chunks(pretty, ReadOptions::default());
        assert_eq!(
            got.iter()
                .filter(|c| matches!(c, Chunk::Document { .. }))
                .count(),
            2
        );
    }
}
