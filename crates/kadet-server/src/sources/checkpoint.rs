//! Where a pulled source keeps its place. A checkpoint is written only
//! after what was read before it is stored (fsynced to the journal, or
//! acknowledged by JetStream), so a crash re-reads at most the records
//! since the last checkpoint, and those are recognised as already stored
//! (each record is its own batch, with its own digest).

use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The checkpoints of every source, as JSON values by source name.
pub trait Checkpoints: Send + Sync {
    /// The last checkpoint of `source`, if any.
    fn load<'a>(&'a self, source: &'a str) -> BoxFuture<'a, Result<Option<serde_json::Value>>>;
    /// Replaces the checkpoint of `source`, durably.
    fn save<'a>(
        &'a self,
        source: &'a str,
        value: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<()>>;
}

/// Single-process mode's checkpoints: `<state dir>/sources/NAME.json`,
/// replaced atomically (written aside, fsynced, renamed).
pub struct CheckpointFiles {
    dir: PathBuf,
}

impl CheckpointFiles {
    /// The checkpoints under a state directory.
    pub fn in_state_dir(state: &Path) -> CheckpointFiles {
        CheckpointFiles {
            dir: state.join("sources"),
        }
    }

    fn path(&self, source: &str) -> PathBuf {
        self.dir.join(format!("{source}.json"))
    }

    fn read(&self, source: &str) -> Result<Option<serde_json::Value>> {
        let path = self.path(source);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("checkpoint {} is not JSON", path.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn write(&self, source: &str, value: &serde_json::Value) -> Result<()> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.path(source);
        let aside = self.dir.join(format!(".{source}.json.new"));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&aside)
            .with_context(|| format!("writing {}", aside.display()))?;
        f.write_all(&serde_json::to_vec(value)?)?;
        f.sync_all()?;
        std::fs::rename(&aside, &path).with_context(|| format!("replacing {}", path.display()))?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

impl Checkpoints for CheckpointFiles {
    fn load<'a>(&'a self, source: &'a str) -> BoxFuture<'a, Result<Option<serde_json::Value>>> {
        Box::pin(async move { self.read(source) })
    }

    fn save<'a>(
        &'a self,
        source: &'a str,
        value: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.write(source, value) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checkpoints_survive_and_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let c = CheckpointFiles::in_state_dir(dir.path());
        assert_eq!(c.load("eks").await.unwrap(), None);
        c.save("eks", &serde_json::json!({"a": 1})).await.unwrap();
        c.save("eks", &serde_json::json!({"a": 2})).await.unwrap();
        let again = CheckpointFiles::in_state_dir(dir.path());
        assert_eq!(
            again.load("eks").await.unwrap(),
            Some(serde_json::json!({"a": 2}))
        );
        std::fs::write(dir.path().join("sources/bad.json"), "{").unwrap();
        let e = again.load("bad").await.unwrap_err().to_string();
        assert!(e.contains("bad.json is not JSON"), "{e}");
    }
}
