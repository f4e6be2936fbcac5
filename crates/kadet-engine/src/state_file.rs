//! `kadet scan --state FILE`: the alerter's state (event-time watermark, open
//! windows, including the ones detection across events keeps, and matches
//! still in the reorder buffer) kept in a file between runs, so a daily
//! batch scan keeps its minted tokens, correlations in progress and alert
//! windows as `serve` keeps them in SQLite.
//!
//! The file is JSON with a version; windows are in their stored form
//! ([`AlertWindow::to_stored`]). It is written to a temporary file beside
//! it, synced and renamed over it, so a crash leaves the old state or the
//! new, never half of one.

use crate::alerter::Buffered;
use crate::window::AlertWindow;
use kadet_event::EventTime;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The version of the state file.
pub const STATE_FILE_VERSION: u32 = 1;

/// What [`crate::Alerter::state`] gives and [`crate::Alerter::restore`] takes.
pub type State = (Option<EventTime>, Vec<AlertWindow>, Vec<Buffered>);

#[derive(Serialize, Deserialize)]
struct StateFile {
    v: u32,
    watermark: Option<EventTime>,
    windows: Vec<serde_json::Value>,
    buffered: Vec<Buffered>,
}

/// A state file kadet cannot use.
#[derive(Debug)]
pub struct StateFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for StateFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for StateFileError {}

fn error(path: &Path, message: impl Into<String>) -> StateFileError {
    StateFileError {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads a state file; `None` when it does not exist yet (a first run).
pub fn load(path: &Path) -> Result<Option<State>, StateFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(path, format!("cannot read it: {e}"))),
    };
    let file: StateFile = serde_json::from_str(&text)
        .map_err(|e| error(path, format!("not a kadet state file: {e}")))?;
    if file.v != STATE_FILE_VERSION {
        return Err(error(
            path,
            format!(
                "state file version {} is not the one this kadet writes ({STATE_FILE_VERSION})",
                file.v
            ),
        ));
    }
    let windows = file
        .windows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            AlertWindow::from_stored(&w.to_string())
                .map_err(|e| error(path, format!("window {}: {e}", i + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((file.watermark, windows, file.buffered)))
}

/// Writes the state, replacing the file whole.
pub fn save(path: &Path, state: State) -> Result<(), StateFileError> {
    let (watermark, windows, buffered) = state;
    let windows = windows
        .iter()
        .map(|w| serde_json::from_str(&w.to_stored()))
        .collect::<Result<Vec<serde_json::Value>, _>>()
        .map_err(|e| error(path, format!("cannot write a window: {e}")))?;
    let body = serde_json::to_vec(&StateFile {
        v: STATE_FILE_VERSION,
        watermark,
        windows,
        buffered,
    })
    .map_err(|e| error(path, format!("cannot write the state: {e}")))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| error(path, format!("cannot write it: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_a_first_run_and_a_bad_one_an_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("s.json");
        assert!(load(&p).expect("no file").is_none());
        save(&p, (Some(EventTime(5)), Vec::new(), Vec::new())).expect("saves");
        let (w, windows, buffered) = load(&p).expect("reads").expect("some");
        assert_eq!(
            (w, windows.len(), buffered.len()),
            (Some(EventTime(5)), 0, 0)
        );
        std::fs::write(
            &p,
            "{\"v\": 9, \"watermark\": null, \"windows\": [], \"buffered\": []}",
        )
        .expect("write");
        let e = load(&p).expect_err("newer");
        assert!(e.to_string().contains("version 9"), "{e}");
        std::fs::write(&p, "not json").expect("write");
        let e = load(&p).expect_err("garbage");
        assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
    }
}
