//! The crash-loop guard of the detector: a small file saying which journal
//! records are being evaluated, written before they are and left behind
//! when the process dies (an allocation failure aborts without unwinding,
//! and an OOM kill gives no chance to clean up).
//!
//! At start the detector compares the mark with the offset its store last
//! committed. A mark past it means the last run died evaluating those
//! records. A run of records is then re-evaluated one record at a time, each
//! marked alone; a record marked alone when the process died again has its
//! crashes counted, and after [`QUARANTINE_AFTER`] crashes it is kept as a
//! dead letter and passed over instead of killing every start.
//!
//! The mark is written with `pwrite` and no `fsync`: a process crash keeps
//! what the kernel holds, and after a machine crash a stale or empty mark
//! only costs a careful pass.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Crashes with a record alone in evaluation after which it is quarantined.
/// The first crash is counted when the record's run was in evaluation.
pub const QUARANTINE_AFTER: u32 = 3;

const MARK_LEN: usize = 21;

/// What is in evaluation: journal offsets `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// First offset.
    pub start: u64,
    /// End offset (exclusive).
    pub end: u64,
    /// Crashes already counted against this range.
    pub crashes: u32,
    /// The range is one record.
    pub single: bool,
}

impl Mark {
    fn to_bytes(self) -> [u8; MARK_LEN] {
        let mut b = [0u8; MARK_LEN];
        b[..8].copy_from_slice(&self.start.to_le_bytes());
        b[8..16].copy_from_slice(&self.end.to_le_bytes());
        b[16..20].copy_from_slice(&self.crashes.to_le_bytes());
        b[20] = u8::from(self.single);
        b
    }

    fn from_bytes(b: &[u8]) -> Option<Mark> {
        let b: &[u8; MARK_LEN] = b.get(..MARK_LEN)?.try_into().ok()?;
        let start = u64::from_le_bytes(b[..8].try_into().ok()?);
        let end = u64::from_le_bytes(b[8..16].try_into().ok()?);
        let crashes = u32::from_le_bytes(b[16..20].try_into().ok()?);
        (start < end && b[20] <= 1).then_some(Mark {
            start,
            end,
            crashes,
            single: b[20] == 1,
        })
    }
}

/// What the last run was evaluating when it died.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Suspect {
    /// Nothing: it stopped cleanly, or committed what it evaluated.
    #[default]
    Nothing,
    /// A run of records, one of which may have killed it.
    Run {
        /// First offset not committed.
        start: u64,
        /// End of the run.
        end: u64,
    },
    /// One record, with the crashes counted against it.
    Record {
        /// Its offset.
        at: u64,
        /// Crashes while it was in evaluation, this one included.
        crashes: u32,
    },
}

impl Suspect {
    /// From the mark the last run left and the offset the store committed.
    pub fn from_mark(mark: Option<Mark>, committed: u64) -> Suspect {
        match mark {
            Some(m) if committed < m.end && m.single => Suspect::Record {
                at: m.start,
                crashes: m.crashes.saturating_add(1),
            },
            Some(m) if committed < m.end => Suspect::Run {
                start: m.start.max(committed),
                end: m.end,
            },
            _ => Suspect::Nothing,
        }
    }

    /// The crashes to count against the record at `at` when it is under
    /// suspicion (it is then evaluated alone), else `None`.
    pub fn crashes_of(self, at: u64) -> Option<u32> {
        match self {
            Suspect::Run { start, end } if (start..end).contains(&at) => Some(1),
            Suspect::Record { at: a, crashes } if a == at => Some(crashes),
            _ => None,
        }
    }
}

/// The mark file, open.
pub struct CrashMarker {
    file: File,
}

impl CrashMarker {
    /// Opens (creating it, private) the mark file and reads the mark the
    /// last run left, if any.
    pub fn open(path: &Path) -> io::Result<(CrashMarker, Option<Mark>)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        let mut buf = [0u8; MARK_LEN];
        let n = file.read_at(&mut buf, 0)?;
        let last = Mark::from_bytes(&buf[..n]);
        Ok((CrashMarker { file }, last))
    }

    /// Says `mark` is in evaluation from now on.
    pub fn set(&self, mark: Mark) -> io::Result<()> {
        self.file.write_all_at(&mark.to_bytes(), 0)
    }
}

/// The detector's guard: the mark file, and what the last run was
/// evaluating when it died.
pub struct CrashGuard {
    /// The mark file.
    pub marker: CrashMarker,
    /// What is under suspicion.
    pub suspect: Suspect,
}

impl CrashGuard {
    /// Opens `<state>/evaluating` and works out what is suspect, given the
    /// journal offset the store last committed.
    pub fn open(state_dir: &Path, committed: u64) -> io::Result<CrashGuard> {
        let (marker, last) = CrashMarker::open(&state_dir.join("evaluating"))?;
        let suspect = Suspect::from_mark(last, committed);
        match suspect {
            Suspect::Nothing => {}
            Suspect::Run { start, end } => tracing::warn!(
                start,
                end,
                "the last run died while evaluating these journal records; they are evaluated one at a time"
            ),
            Suspect::Record { at, crashes } => tracing::warn!(
                offset = at,
                crashes,
                "the last run died while evaluating this journal record alone"
            ),
        }
        Ok(CrashGuard { marker, suspect })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_survives_reopening_and_names_the_suspect() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evaluating");
        let (m, last) = CrashMarker::open(&path).unwrap();
        assert_eq!(last, None);
        let run = Mark {
            start: 100,
            end: 900,
            crashes: 0,
            single: false,
        };
        m.set(run).unwrap();
        drop(m);
        let (m, last) = CrashMarker::open(&path).unwrap();
        assert_eq!(last, Some(run));
        // The store had committed up to 400 of the run: the rest is suspect.
        let s = Suspect::from_mark(last, 400);
        assert_eq!(
            s,
            Suspect::Run {
                start: 400,
                end: 900
            }
        );
        assert_eq!(s.crashes_of(500), Some(1));
        assert_eq!(s.crashes_of(900), None);
        // Committed past it: the run finished, nothing is suspect.
        assert_eq!(Suspect::from_mark(last, 900), Suspect::Nothing);
        // One record alone, with a crash counted: one more now.
        let one = Mark {
            start: 500,
            end: 600,
            crashes: 2,
            single: true,
        };
        m.set(one).unwrap();
        let (_, last) = CrashMarker::open(&path).unwrap();
        let s = Suspect::from_mark(last, 400);
        assert_eq!(
            s,
            Suspect::Record {
                at: 500,
                crashes: 3
            }
        );
        assert_eq!(s.crashes_of(500), Some(QUARANTINE_AFTER));
        // A torn or foreign file is no mark.
        std::fs::write(&path, b"junk").unwrap();
        assert_eq!(CrashMarker::open(&path).unwrap().1, None);
    }
}
