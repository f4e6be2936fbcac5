//! The state directory is private to kadet: it holds audit events (the
//! journal) and alerts. It is made `0700` and every file in it `0600`,
//! whatever the umask; a directory that others may write to is refused.
//! One process at a time uses it: single-process `serve` holds an exclusive lock on
//! `<dir>/lock` while it runs ([`lock`]), so a second `serve` started with
//! the same directory refuses to start instead of interleaving its journal
//! writes with the first's.

use anyhow::{bail, Context, Result};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the state directory and its subdirectories.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file kadet writes there.
pub const FILE_MODE: u32 = 0o600;

/// Checks, without changing anything, that an existing state directory is
/// a directory and private to kadet (it is created at start when missing).
pub fn check(dir: &Path) -> Result<(), String> {
    let Ok(meta) = fs::metadata(dir) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let mode = meta.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(format!(
            "the state directory {} is writable by other users (mode {:o}): anyone who can write there can \
             plant events or alerts. Make it private (`chmod 700 {}`) or choose another [state] dir",
            dir.display(),
            mode & 0o777,
            dir.display()
        ));
    }
    Ok(())
}

/// Creates the state directory, or checks and tightens an existing one.
pub fn prepare(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    check(dir).map_err(anyhow::Error::msg)?;
    tighten(dir)
}

/// The name of the lock file in the state directory.
pub const LOCK_FILE: &str = "lock";

/// The state directory, locked for this process until dropped (or the
/// process ends, however it ends: the kernel drops the lock).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Takes the exclusive lock on `dir` (which must exist), or says which
/// process holds it.
pub fn lock(dir: &Path) -> Result<DirLock> {
    use std::io::{Read, Seek, Write};
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another process".to_string()
            } else {
                format!("another kadet (pid {holder})")
            };
            bail!(
                "the state directory {} is in use by {who}: two processes must not share one \
                 (their journals would interleave). Stop the other one, or give this one its own \
                 [state] dir",
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    Ok(DirLock { _file: file })
}

/// Makes `dir` 0700 and everything under it private (directories 0700,
/// files 0600), for state written by older versions or another umask.
fn tighten(dir: &Path) -> Result<()> {
    set_mode(dir, DIR_MODE)?;
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            tighten(&path)?;
        } else if meta.is_file() {
            set_mode(&path, FILE_MODE)?;
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    let current = fs::metadata(path)?.permissions().mode() & 0o777;
    if current != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot make {} private", path.display()))?;
    }
    Ok(())
}

/// Creates `path` empty with mode 0600 when it does not exist (SQLite then
/// gives its `-wal` and `-shm` files the same mode), or makes it 0600.
pub fn create_private_file(path: &Path) -> Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => set_mode(path, FILE_MODE),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// Opens `path` for appending, creating it with mode 0600.
pub fn open_private_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn made_private_whatever_was_there() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        prepare(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        // State an older kadet left readable by everyone.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir(dir.join("journal")).unwrap();
        fs::write(dir.join("journal/0.seg"), b"x").unwrap();
        fs::set_permissions(dir.join("journal/0.seg"), fs::Permissions::from_mode(0o644)).unwrap();
        prepare(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("journal")), 0o700);
        assert_eq!(mode(&dir.join("journal/0.seg")), 0o600);
        create_private_file(&dir.join("s.sqlite")).unwrap();
        assert_eq!(mode(&dir.join("s.sqlite")), 0o600);
    }

    #[test]
    fn one_process_at_a_time_holds_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        prepare(tmp.path()).unwrap();
        let first = lock(tmp.path()).unwrap();
        // flock locks belong to the open file: a second open is refused as
        // another process would be.
        let e = lock(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("in use by another kadet (pid"), "{e}");
        drop(first);
        lock(tmp.path()).unwrap();
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare(&dir).unwrap_err().to_string();
        assert!(
            e.contains("writable by other users") && e.contains("chmod 700"),
            "{e}"
        );
    }
}
