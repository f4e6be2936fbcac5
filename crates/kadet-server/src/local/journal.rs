//! The write-ahead journal: accepted batches, framed and fsynced before the
//! client is answered.
//!
//! Records live in segment files `journal/<start offset, 20 digits>.seg`. A
//! record is `[len: u32 LE][crc32 of payload: u32 LE][payload]`; offsets are
//! global byte positions (segment start + position in the file), so one `u64`
//! names a place in the journal. The payload is `[source: u8][document]`,
//! or, for a record whose source named its cluster (`?cluster=`),
//! `[source | 0x80][n: u8][cluster name, n bytes][document]`.
//!
//! One writer thread owns the active segment. Appends queue up while it
//! fsyncs; it then writes all waiting ones and fsyncs once (group commit), and
//! answers each. On open, a torn tail (a crash mid-write, never acknowledged)
//! is cut off at the first record whose length or CRC does not check.

use crate::core::batch::{Batch, Source};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

const HEADER: usize = 8;
/// Records larger than this are refused (a body limit is far smaller).
pub const MAX_RECORD: usize = 1 << 30;

/// Set on the source tag when a cluster name follows.
const CLUSTER_FLAG: u8 = 0x80;
/// Set on the source tag when the time of acceptance follows (every record
/// written now; records of older kadets have none).
const ACCEPTED_FLAG: u8 = 0x40;

/// The bytes before a batch's document: the source tag, the time it was
/// accepted, and the cluster name when there is one.
fn prefix(b: &Batch, accepted_ms: i64) -> Vec<u8> {
    let cluster = b
        .cluster
        .as_deref()
        .filter(|c| c.len() <= usize::from(u8::MAX));
    let mut tag = b.source as u8 | ACCEPTED_FLAG;
    if cluster.is_some() {
        tag |= CLUSTER_FLAG;
    }
    let mut p = vec![tag];
    p.extend_from_slice(&accepted_ms.to_le_bytes());
    if let Some(c) = cluster {
        p.push(c.len() as u8);
        p.extend_from_slice(c.as_bytes());
    }
    p
}

/// Reads a payload back; `None` when it is not one.
fn parse(payload: &[u8]) -> Option<Batch> {
    let (&tag, mut rest) = payload.split_first()?;
    let source = Source::from_tag(tag & !(CLUSTER_FLAG | ACCEPTED_FLAG))?;
    let mut batch = Batch::new(source, Vec::new());
    if tag & ACCEPTED_FLAG != 0 {
        let (ms, after) = rest.split_first_chunk::<8>()?;
        batch.accepted_ms = Some(i64::from_le_bytes(*ms));
        rest = after;
    }
    if tag & CLUSTER_FLAG != 0 {
        let (&n, after) = rest.split_first()?;
        let name = after.get(..usize::from(n))?;
        batch.cluster = Some(String::from_utf8(name.to_vec()).ok()?);
        rest = &after[usize::from(n)..];
    }
    batch.doc = rest.to_vec();
    Some(batch)
}

/// A record read back: its offset and content.
pub type Record = (u64, Batch);

/// Shared positions and the segment list.
pub struct Shared {
    dir: PathBuf,
    /// End of fsynced data.
    durable: AtomicU64,
    /// Everything before this has been evaluated and committed.
    processed: AtomicU64,
    segments: Mutex<Vec<u64>>,
    wake: (Mutex<u64>, Condvar),
}

impl Shared {
    /// End of the durable journal.
    pub fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }
    /// Bytes written but not yet evaluated.
    pub fn backlog(&self) -> u64 {
        self.durable()
            .saturating_sub(self.processed.load(Ordering::Acquire))
    }
    /// Records progress and deletes segments that are wholly before `offset`.
    pub fn set_processed(&self, offset: u64) {
        self.processed.store(offset, Ordering::Release);
        let mut segs = match self.segments.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        while segs.len() > 1 && segs[1] <= offset {
            let start = segs.remove(0);
            let path = segment_path(&self.dir, start);
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(segment = %path.display(), error = %e, "cannot delete processed journal segment");
            } else {
                tracing::debug!(segment = %path.display(), "deleted processed journal segment");
            }
        }
    }
    /// Waits until the durable end passes `offset`, or `timeout`.
    pub fn wait_beyond(&self, offset: u64, timeout: std::time::Duration) {
        let (lock, cv) = &self.wake;
        let guard = match lock.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if *guard > offset {
            return;
        }
        let _ = cv.wait_timeout_while(guard, timeout, |d| *d <= offset);
    }
    fn publish(&self, durable: u64) {
        self.durable.store(durable, Ordering::Release);
        let (lock, cv) = &self.wake;
        if let Ok(mut g) = lock.lock() {
            *g = durable;
        }
        cv.notify_all();
    }
    /// Wakes waiters (shutdown).
    pub fn nudge(&self) {
        self.wake.1.notify_all();
    }

    /// Reads records from `offset` on, up to about `max_bytes`, never past
    /// the durable end. Returns `(offset, source, document)` and the offset
    /// after the last record returned. A damaged record skips the rest of its
    /// segment (logged).
    pub fn read_from(&self, offset: u64, max_bytes: usize) -> io::Result<(Vec<Record>, u64)> {
        let durable = self.durable();
        let mut out = Vec::new();
        let mut pos = offset;
        let mut taken = 0usize;
        while pos < durable && taken < max_bytes {
            let segs = match self.segments.lock() {
                Ok(s) => s.clone(),
                Err(p) => p.into_inner().clone(),
            };
            let idx = match segs.iter().rposition(|&s| s <= pos) {
                Some(i) => i,
                None => match segs.first() {
                    // Before the first segment (deleted): jump to it.
                    Some(&s) => {
                        pos = s;
                        continue;
                    }
                    None => break,
                },
            };
            let start = segs[idx];
            let seg_end = segs.get(idx + 1).copied().unwrap_or(durable).min(durable);
            if pos >= seg_end {
                match segs.get(idx + 1) {
                    Some(&next) if next > pos => {
                        pos = next;
                        continue;
                    }
                    _ => break,
                }
            }
            let mut f = File::open(segment_path(&self.dir, start))?;
            f.seek(SeekFrom::Start(pos - start))?;
            let mut r = io::BufReader::with_capacity(1 << 20, f);
            while pos < seg_end && taken < max_bytes {
                match read_record(&mut r, seg_end - pos) {
                    Ok(Some(payload)) => {
                        let len = (HEADER + payload.len()) as u64;
                        match parse(&payload) {
                            Some(e) => {
                                taken += payload.len();
                                out.push((pos, e));
                            }
                            None => tracing::error!(
                                offset = pos,
                                "journal record with an unknown source tag; skipped"
                            ),
                        }
                        pos += len;
                    }
                    Ok(None) | Err(_) => {
                        tracing::error!(
                            offset = pos,
                            "damaged journal record; skipping the rest of segment {start}"
                        );
                        pos = seg_end;
                        break;
                    }
                }
            }
        }
        Ok((out, pos))
    }
}

/// Reads one record, checking its length against `avail` and its CRC.
fn read_record(r: &mut impl Read, avail: u64) -> io::Result<Option<Vec<u8>>> {
    let mut h = [0u8; HEADER];
    if avail < HEADER as u64 {
        return Ok(None);
    }
    r.read_exact(&mut h)?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if len == 0 || len > MAX_RECORD || (HEADER + len) as u64 > avail {
        return Ok(None);
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    if crc32fast::hash(&payload) != crc {
        return Ok(None);
    }
    Ok(Some(payload))
}

fn segment_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{start:020}.seg"))
}

/// One append waiting for the writer.
struct Append {
    records: Vec<Batch>,
    done: tokio::sync::oneshot::Sender<io::Result<u64>>,
}

/// The handle requests append through.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Append>,
    /// Positions and segments.
    pub shared: Arc<Shared>,
}

impl Journal {
    /// Opens (recovering) the journal in `dir`; `processed` is the committed
    /// read offset from the store. Starts the writer thread; it stops when
    /// every `Journal` handle is dropped, after writing what was queued.
    pub fn open(
        dir: &Path,
        processed: u64,
        segment_bytes: u64,
    ) -> io::Result<(Journal, std::thread::JoinHandle<()>)> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(crate::state_dir::DIR_MODE)
            .create(dir)?;
        let mut starts: Vec<u64> = Vec::new();
        for e in fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(n) = name
                .strip_suffix(".seg")
                .and_then(|n| n.parse::<u64>().ok())
            {
                starts.push(n);
            }
        }
        starts.sort_unstable();
        // Segments entirely before the processed offset are leftovers of an
        // interrupted compaction.
        while starts.len() > 1 && starts[1] <= processed {
            let s = starts.remove(0);
            let _ = fs::remove_file(segment_path(dir, s));
        }
        let (file, start, valid) = match starts.last().copied() {
            Some(last) => {
                let path = segment_path(dir, last);
                let valid = valid_prefix(&path)?;
                let f = OpenOptions::new().read(true).write(true).open(&path)?;
                let len = f.metadata()?.len();
                if len != valid {
                    tracing::warn!(segment = %path.display(), cut = len - valid, "journal: cutting an unacknowledged torn tail");
                    f.set_len(valid)?;
                    f.sync_all()?;
                }
                if last + valid < processed {
                    // The store is ahead of the journal (the journal was removed): start afresh.
                    let f = create_segment(dir, processed)?;
                    starts.push(processed);
                    (f, processed, 0)
                } else {
                    (f, last, valid)
                }
            }
            None => {
                let f = create_segment(dir, processed)?;
                starts.push(processed);
                (f, processed, 0)
            }
        };
        let durable = start + valid;
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            durable: AtomicU64::new(durable),
            processed: AtomicU64::new(processed.min(durable)),
            segments: Mutex::new(starts),
            wake: (Mutex::new(durable), Condvar::new()),
        });
        let (tx, rx) = mpsc::channel::<Append>();
        let mut w = Writer {
            dir: dir.to_path_buf(),
            file,
            start,
            len: valid,
            segment_bytes,
            shared: shared.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("kadet-journal".into())
            .spawn(move || w.run(rx))?;
        Ok((Journal { tx, shared }, handle))
    }

    /// Appends documents as one unit and waits until they are on disk.
    /// Returns the durable end after them.
    pub async fn append(&self, records: Vec<Batch>) -> io::Result<u64> {
        let (done, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Append { records, done })
            .map_err(|_| io::Error::other("journal writer stopped"))?;
        rx.await
            .map_err(|_| io::Error::other("journal writer stopped"))?
    }
}

fn create_segment(dir: &Path, start: u64) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(crate::state_dir::FILE_MODE)
        .open(segment_path(dir, start))?;
    f.sync_all()?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(f)
}

/// Length of the prefix of whole, checked records.
fn valid_prefix(path: &Path) -> io::Result<u64> {
    let f = File::open(path)?;
    let total = f.metadata()?.len();
    let mut r = io::BufReader::with_capacity(1 << 20, f);
    let mut pos = 0u64;
    loop {
        match read_record(&mut r, total - pos) {
            Ok(Some(p)) => pos += (HEADER + p.len()) as u64,
            Ok(None) | Err(_) => return Ok(pos),
        }
    }
}

struct Writer {
    dir: PathBuf,
    file: File,
    start: u64,
    len: u64,
    segment_bytes: u64,
    shared: Arc<Shared>,
}

impl Writer {
    fn run(&mut self, rx: mpsc::Receiver<Append>) {
        let mut buf: Vec<u8> = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            let mut bytes: usize = group[0].records.iter().map(|r| r.doc.len()).sum();
            while bytes < (64 << 20) {
                match rx.try_recv() {
                    Ok(a) => {
                        bytes += a.records.iter().map(|r| r.doc.len()).sum::<usize>();
                        group.push(a);
                    }
                    Err(_) => break,
                }
            }
            let result = self.write_group(&group, &mut buf);
            for a in group {
                let _ = a.done.send(match &result {
                    Ok(end) => Ok(*end),
                    Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                });
            }
        }
        let _ = self.file.sync_all();
        tracing::debug!("journal writer stopped");
    }

    fn write_group(&mut self, group: &[Append], buf: &mut Vec<u8>) -> io::Result<u64> {
        // Roll when the segment is full, or when it holds a fair amount that
        // has all been processed already, so that quiet periods compact too.
        let end = self.start + self.len;
        let all_processed = self.shared.processed.load(Ordering::Acquire) >= end;
        if self.len >= self.segment_bytes
            || (all_processed && self.len >= (self.segment_bytes / 8).max(4096))
        {
            self.file.sync_all()?;
            let start = self.start + self.len;
            self.file = create_segment(&self.dir, start)?;
            self.start = start;
            self.len = 0;
            match self.shared.segments.lock() {
                Ok(mut s) => s.push(start),
                Err(p) => p.into_inner().push(start),
            }
        }
        buf.clear();
        let now = crate::now_ms();
        for a in group {
            for e in &a.records {
                let prefix = prefix(e, e.accepted_ms.unwrap_or(now));
                let len = prefix.len() + e.doc.len();
                if len > MAX_RECORD {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "journal record too large",
                    ));
                }
                let mut h = crc32fast::Hasher::new();
                h.update(&prefix);
                h.update(&e.doc);
                buf.extend_from_slice(&(len as u32).to_le_bytes());
                buf.extend_from_slice(&h.finalize().to_le_bytes());
                buf.extend_from_slice(&prefix);
                buf.extend_from_slice(&e.doc);
            }
        }
        let res = self
            .file
            .seek(SeekFrom::Start(self.len))
            .and_then(|_| self.file.write_all(buf))
            .and_then(|_| self.file.sync_data());
        if let Err(e) = res {
            // Nothing of this group is acknowledged; cut it off again.
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += buf.len() as u64;
        let end = self.start + self.len;
        self.shared.publish(end);
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_of_every_form_read_back() {
        let mut b = Batch::new(Source::Aks, b"{\"records\":[]}".to_vec());
        let plain = parse(
            &prefix(&b, 1_000)
                .into_iter()
                .chain(b.doc.clone())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert_eq!(
            (plain.accepted_ms, plain.cluster.clone()),
            (Some(1_000), None)
        );
        assert_eq!(plain.doc, b.doc);
        b.cluster = Some("prod-a".into());
        let named = parse(
            &prefix(&b, -5)
                .into_iter()
                .chain(b.doc.clone())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert_eq!(named.accepted_ms, Some(-5));
        assert_eq!(named.cluster.as_deref(), Some("prod-a"));
        assert_eq!(named.doc, b.doc);
        // Records written before the time was kept: no time.
        let mut old = vec![Source::Audit as u8 | CLUSTER_FLAG, 1, b'c'];
        old.extend_from_slice(b"{}");
        let old = parse(&old).unwrap();
        assert_eq!((old.accepted_ms, old.cluster.as_deref()), (None, Some("c")));
        assert_eq!(old.doc, b"{}");
        assert_eq!(
            parse(&[Source::Audit as u8 | ACCEPTED_FLAG, 1, 2]),
            None,
            "cut short"
        );
    }

    #[tokio::test]
    async fn append_read_recover_compact() {
        let dir = tempfile::tempdir().unwrap();
        let (j, h) = Journal::open(dir.path(), 0, 4096).unwrap();
        let mut ends = Vec::new();
        for i in 0..20u8 {
            ends.push(
                j.append(vec![Batch::new(Source::Audit, vec![i; 300])])
                    .await
                    .unwrap(),
            );
        }
        let shared = j.shared.clone();
        drop(j);
        h.join().unwrap();
        let (recs, next) = shared.read_from(0, usize::MAX).unwrap();
        assert_eq!(recs.len(), 20);
        assert_eq!(next, *ends.last().unwrap());
        // A torn tail is cut off on reopen.
        let last = *shared.segments.lock().unwrap().last().unwrap();
        let path = segment_path(dir.path(), last);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(f);
        let (j, h) = Journal::open(dir.path(), ends[9], 4096).unwrap();
        assert_eq!(j.shared.durable(), next);
        let (recs, _) = j.shared.read_from(ends[9], usize::MAX).unwrap();
        assert_eq!(recs.len(), 10);
        j.shared.set_processed(next);
        assert_eq!(j.shared.segments.lock().unwrap().len(), 1);
        assert_eq!(j.shared.backlog(), 0);
        drop(j);
        h.join().unwrap();
    }
}
