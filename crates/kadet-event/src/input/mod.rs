//! Reading inputs: files, directories (recursively), `-` for standard
//! input, and objects in S3, GCS and Azure Blob ([`object`]); `.gz` and
//! `.zst` (recognised by their magic bytes) opened transparently; cut into
//! [`Chunk`]s of whole records with bounded memory ([`chunk`]).

use crate::decode::{Skip, SkipReason};
use crate::event::Location;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub mod chunk;
pub mod key_time;
pub mod object;

pub use chunk::{Chunk, ChunkReader, ReadOptions};
pub use object::Window;

/// Where an input's bytes come from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// Standard input.
    Stdin,
    /// A local file.
    File(PathBuf),
    /// An object in S3, GCS or Azure Blob.
    Object(object::ObjectInput),
}

/// One input to read.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The name used in locations: the path as given, `-`, or the object's
    /// URL.
    pub name: Arc<str>,
    /// Where its bytes come from.
    pub origin: Origin,
    /// Its size, when known.
    pub size: Option<u64>,
}

impl InputFile {
    /// A local file named by its path.
    pub fn file(path: &Path) -> InputFile {
        InputFile {
            name: Arc::from(path.display().to_string()),
            origin: Origin::File(path.to_path_buf()),
            size: std::fs::metadata(path).ok().map(|m| m.len()),
        }
    }
}

/// Errors finding inputs.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A path that does not exist or cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// A directory holding no file kadet reads.
    #[error("{path}: no audit log files in this directory (kadet reads *.json, *.jsonl, *.ndjson, *.log, *.txt and *.audit, plain or .gz/.zst)")]
    NoLogFiles {
        /// The directory.
        path: String,
    },
    /// Object storage that cannot be listed.
    #[error("{url}: {message}")]
    Object {
        /// The URL as given.
        url: String,
        /// What went wrong (the store's words).
        message: String,
    },
    /// A prefix with no object under it.
    #[error("{url}: no object under this prefix (a prefix matches whole path segments: `logs/2024`, not `logs/20`)")]
    NoObjects {
        /// The URL as given.
        url: String,
    },
}

/// The inputs of a run, in order: local files found at once, objects
/// listed while they are read.
#[derive(Debug, Default)]
pub struct Inputs {
    queue: VecDeque<Pending>,
    /// Set when a listing failed part way: the run did not read all it was
    /// asked to.
    incomplete: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Debug)]
enum Pending {
    One(InputFile),
    Listing(object::Listing),
}

impl Inputs {
    /// Inputs read in this order.
    pub fn from_files(files: Vec<InputFile>) -> Inputs {
        Inputs {
            queue: files.into_iter().map(Pending::One).collect(),
            incomplete: Arc::default(),
        }
    }

    /// The total size, when every input's is known now (no listing to come).
    pub fn known_size(&self) -> Option<u64> {
        self.queue
            .iter()
            .map(|p| match p {
                Pending::One(f) => f.size,
                Pending::Listing(_) => None,
            })
            .sum()
    }

    /// A flag that is set, once this iterator has run, when a listing
    /// failed part way and objects after that point were not read.
    pub fn incomplete(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.incomplete.clone()
    }

    /// How many inputs are known now.
    pub fn known_count(&self) -> usize {
        self.queue
            .iter()
            .filter(|p| matches!(p, Pending::One(_)))
            .count()
    }
}

impl Iterator for Inputs {
    /// An input, or a listing that failed part way (a [`Skip`] to report).
    type Item = Result<InputFile, Skip>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.queue.front_mut()? {
                Pending::One(_) => {
                    let Some(Pending::One(f)) = self.queue.pop_front() else {
                        return None;
                    };
                    return Some(Ok(f));
                }
                Pending::Listing(l) => match l.next_object() {
                    Some(Ok(f)) => return Some(Ok(f)),
                    Some(Err(message)) => {
                        self.incomplete.store(true, Ordering::Release);
                        return Some(Err(Skip {
                            location: Location::line(Arc::from(message.as_str()), 0),
                            reason: SkipReason::ReadError,
                            message,
                        }));
                    }
                    None => {
                        self.queue.pop_front();
                    }
                },
            }
        }
    }
}

/// Expands the command-line inputs: files as given, directories walked
/// recursively in name order (hidden entries skipped), `-` for stdin, and
/// object storage URLs ([`object`]), whose objects outside `window` (by
/// the time in their key) are passed over.
pub fn expand_inputs(args: &[String], window: Window) -> Result<Inputs, InputError> {
    let mut inputs = Inputs::default();
    for arg in args {
        if object::is_object_url(arg) {
            inputs
                .queue
                .push_back(Pending::Listing(object::list(arg, window)?));
            continue;
        }
        inputs
            .queue
            .extend(expand_local(arg)?.into_iter().map(Pending::One));
    }
    Ok(inputs)
}

/// One local argument: a file, a directory (walked), or `-`.
fn expand_local(arg: &str) -> Result<Vec<InputFile>, InputError> {
    if arg == "-" {
        return Ok(vec![InputFile {
            name: Arc::from("-"),
            origin: Origin::Stdin,
            size: None,
        }]);
    }
    let path = PathBuf::from(arg);
    let meta = std::fs::metadata(&path).map_err(|source| InputError::Io {
        path: arg.to_string(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![InputFile {
            name: Arc::from(arg),
            origin: Origin::File(path),
            size: Some(meta.len()),
        }]);
    }
    let mut out = Vec::new();
    walk(&path, &mut out)?;
    if out.is_empty() {
        return Err(InputError::NoLogFiles {
            path: arg.to_string(),
        });
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<InputFile>) -> Result<(), InputError> {
    let io_err = |source| InputError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err)?
        .collect::<Result<_, _>>()
        .map_err(io_err)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = e.path();
        let meta = std::fs::metadata(&path).map_err(|source| InputError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            walk(&path, out)?;
        } else if is_log_file(&name) {
            out.push(InputFile {
                name: Arc::from(path.display().to_string()),
                origin: Origin::File(path),
                size: Some(meta.len()),
            });
        }
    }
    Ok(())
}

/// Files a directory walk picks up: JSON, JSON lines, logs and text, plain
/// or compressed. READMEs and other documents are left alone.
fn is_log_file(name: &str) -> bool {
    let base = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(name);
    let ext = base.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(
        ext.as_deref(),
        Some("json" | "jsonl" | "ndjson" | "log" | "txt" | "audit")
    ) || (ext.is_none() && name != base)
}

/// Counts bytes read from the underlying file (compressed bytes for
/// compressed files), for progress reporting.
#[derive(Debug, Default)]
pub struct ByteCounter(AtomicU64);

impl ByteCounter {
    /// Bytes read so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Counting<R> {
    inner: R,
    counter: Arc<ByteCounter>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input, decompressing gzip and zstd by magic bytes.
pub fn open_input(file: &InputFile, counter: Arc<ByteCounter>) -> io::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = match &file.origin {
        Origin::File(p) => Box::new(File::open(p)?),
        Origin::Stdin => Box::new(io::stdin()),
        Origin::Object(o) => o.open()?,
    };
    open_stream(raw, counter)
}

/// Wraps an opened byte stream as [`open_input`] does: gzip and zstd are
/// recognised by their magic bytes and decompressed on the fly; `counter`
/// counts the bytes read from `raw`.
pub fn open_stream(
    raw: Box<dyn Read + Send>,
    counter: Arc<ByteCounter>,
) -> io::Result<Box<dyn Read + Send>> {
    let mut buffered = BufReader::with_capacity(
        256 << 10,
        Counting {
            inner: raw,
            counter,
        },
    );
    let head = buffered.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Box::new(zstd::stream::read::Decoder::with_buffer(
            buffered,
        )?))
    } else {
        Ok(Box::new(buffered))
    }
}

/// The UTF-8 byte-order mark.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `data` without a leading UTF-8 byte-order mark, or `None` when it has none.
pub fn strip_bom(data: &[u8]) -> Option<&[u8]> {
    data.strip_prefix(UTF8_BOM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_opened_transparently_and_truncation_reported() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..2000 {
            writeln!(enc, "{{\"kind\":\"Event\",\"n\":{i}}}").unwrap();
        }
        let gz = enc.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("a.jsonl.gz");
        std::fs::write(&full, &gz).unwrap();
        let cut = dir.path().join("b.jsonl.gz");
        std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
        let count_lines = |p: &Path| {
            let f = InputFile::file(p);
            let mut r = ChunkReader::new(
                f.name.clone(),
                open_input(&f, Default::default()).unwrap(),
                ReadOptions::default(),
            );
            let (mut lines, mut errors) = (0, 0);
            while let Some(c) = r.next_chunk() {
                match c {
                    Chunk::Lines { data, .. } => lines += memchr::memchr_iter(b'\n', &data).count(),
                    Chunk::Skipped(s) => {
                        assert_eq!(s.reason, SkipReason::ReadError);
                        errors += 1
                    }
                    _ => {}
                }
            }
            (lines, errors)
        };
        assert_eq!(count_lines(&full), (2000, 0));
        let (lines, errors) = count_lines(&cut);
        assert!(lines < 2000);
        assert_eq!(errors, 1);
    }
}
