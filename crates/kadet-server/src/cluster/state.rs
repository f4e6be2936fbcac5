//! The alert state of the cluster, in JetStream KV (the applier's lease is
//! [`super::lease`]).
//!
//! The state is what the applier's [`Alerter`](kadet_engine::Alerter)
//! holds (open windows, the reorder buffer, the watermark) plus where it is
//! in the results: the next batch sequence to apply and the results-stream
//! sequence to replay from. It is saved as zstd-compressed chunks
//! `snap.<generation>.<writer>.<n>` and a header `applier` that names the
//! generation and the writer; the header is written last, with
//! compare-and-set on its revision, so a state is either whole or not there.
//!
//! Fencing: a new lease holder first rewrites the header with its own token
//! ([`claim`]) before applying anything, so a former holder that was paused
//! past its lease (and does not know it lost it) finds the revision moved
//! and its next save refused. Chunk keys name their writer, so two appliers
//! never write (or, after a refused save, delete) each other's chunks.

use anyhow::{bail, Context, Result};
use async_nats::jetstream::kv;
use kadet_engine::alerter::Buffered;
use kadet_engine::AlertWindow;
use kadet_event::EventTime;
use serde::{Deserialize, Serialize};

/// The version of the state form.
pub const STATE_VERSION: u32 = 1;
/// The key of the state's header in the state bucket.
pub const STATE_KEY: &str = "applier";
/// The largest chunk of a saved state (NATS' default message limit is 1 MiB).
const CHUNK: usize = 512 << 10;

/// Where the applier is, and the header of the saved state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// The form's version.
    pub v: u32,
    /// The generation of the chunks.
    pub generation: u64,
    /// The token of the applier that wrote the chunks (empty in states
    /// written before writer-named chunks: `snap.<generation>.<n>`).
    #[serde(default)]
    pub writer: String,
    /// The token of the applier that holds the state now (written by
    /// [`claim`]).
    #[serde(default)]
    pub holder: String,
    /// How many chunks.
    pub chunks: u32,
    /// The next audit-stream sequence to apply.
    pub next_seq: u64,
    /// The results-stream sequence to replay from.
    pub resume: u64,
    /// The event-time watermark.
    pub watermark: Option<EventTime>,
}

/// The alerter's state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Body {
    /// Open windows, in their versioned stored form.
    pub windows: Vec<String>,
    /// The reorder buffer.
    pub buffered: Vec<Buffered>,
}

/// A saved state and the revision of its header.
pub struct Saved {
    /// The header.
    pub header: Header,
    /// The body.
    pub body: Body,
    /// The header's revision (for compare-and-set).
    pub revision: u64,
}

impl Body {
    /// The windows, read back (an unreadable one is dropped with a warning).
    pub fn windows(&self) -> Vec<AlertWindow> {
        self.windows
            .iter()
            .filter_map(|w| match AlertWindow::from_stored(w) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::error!(error = %e, "dropped an unreadable window of the cluster state");
                    None
                }
            })
            .collect()
    }
}

/// Writes the first state (nothing applied yet) unless there is one.
pub async fn create_initial(kv: &kv::Store) -> Result<()> {
    let header = Header {
        v: STATE_VERSION,
        generation: 0,
        writer: String::new(),
        holder: String::new(),
        chunks: 0,
        next_seq: 1,
        resume: 1,
        watermark: None,
    };
    match kv
        .create(STATE_KEY, serde_json::to_vec(&header)?.into())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).context("writing the initial cluster state"),
    }
}

/// Reads the saved state.
pub async fn load(kv: &kv::Store) -> Result<Saved> {
    let entry = kv
        .entry(STATE_KEY)
        .await
        .context("reading the cluster state")?
        .context("the cluster state is missing")?;
    let header: Header =
        serde_json::from_slice(&entry.value).context("the cluster state header")?;
    if header.v != STATE_VERSION {
        bail!(
            "the cluster state has version {}; this kadet reads {STATE_VERSION}",
            header.v
        );
    }
    let mut packed = Vec::new();
    for i in 0..header.chunks {
        let chunk = kv
            .get(chunk_key(&header, i))
            .await
            .context("reading the cluster state")?
            .with_context(|| format!("chunk {i} of the cluster state is missing"))?;
        packed.extend_from_slice(&chunk);
    }
    let body = if packed.is_empty() {
        Body::default()
    } else {
        let json = zstd::decode_all(&packed[..]).context("decompressing the cluster state")?;
        serde_json::from_slice(&json).context("the cluster state")?
    };
    Ok(Saved {
        header,
        body,
        revision: entry.revision,
    })
}

/// Why a save failed.
#[derive(Debug)]
pub enum SaveError {
    /// Another applier wrote the state since `revision`: this one lost its lease.
    Conflict,
    /// NATS failed.
    Other(anyhow::Error),
}

/// Writes `header` over the revision `revision`.
async fn update_header(kv: &kv::Store, header: &Header, revision: u64) -> Result<u64, SaveError> {
    let value = serde_json::to_vec(header).map_err(|e| SaveError::Other(e.into()))?;
    match kv.update(STATE_KEY, value.into(), revision).await {
        Ok(rev) => Ok(rev),
        Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Err(SaveError::Conflict),
        Err(e) => Err(SaveError::Other(e.into())),
    }
}

/// Takes the saved state over for the applier `token`: rewrites the header
/// (same state, new holder), so that a save by any earlier holder, based on
/// an older revision, is refused. Returns the new revision; a conflict means
/// another applier wrote in between (load again).
pub async fn claim(kv: &kv::Store, saved: &mut Saved, token: &str) -> Result<u64, SaveError> {
    let mut header = saved.header.clone();
    header.holder = token.to_string();
    let rev = update_header(kv, &header, saved.revision).await?;
    saved.header = header;
    saved.revision = rev;
    Ok(rev)
}

/// Saves a new state over the one at `revision`; returns the new revision
/// and, on success, updates `current` to the saved header. The chunks are
/// named after `current.holder`, so a refused save deletes only its own.
pub async fn save(
    kv: &kv::Store,
    current: &mut Header,
    body: &Body,
    revision: u64,
) -> Result<u64, SaveError> {
    let other = |e: anyhow::Error| SaveError::Other(e);
    let old = current.clone();
    let mut header = current.clone();
    header.generation += 1;
    header.writer = header.holder.clone();
    let json = serde_json::to_vec(body).map_err(|e| other(e.into()))?;
    let packed = zstd::encode_all(&json[..], 3).map_err(|e| other(e.into()))?;
    let chunks: Vec<&[u8]> = packed.chunks(CHUNK).collect();
    header.chunks = chunks.len() as u32;
    for (i, c) in chunks.iter().enumerate() {
        kv.put(chunk_key(&header, i as u32), c.to_vec().into())
            .await
            .map_err(|e| other(e.into()))?;
    }
    match update_header(kv, &header, revision).await {
        Ok(rev) => {
            for i in 0..old.chunks {
                let _ = kv.purge(chunk_key(&old, i)).await;
            }
            *current = header;
            Ok(rev)
        }
        Err(e) => {
            if matches!(e, SaveError::Conflict) {
                for i in 0..header.chunks {
                    let _ = kv.purge(chunk_key(&header, i)).await;
                }
            }
            Err(e)
        }
    }
}

/// The key of chunk `i` of the state `header` names.
fn chunk_key(header: &Header, i: u32) -> String {
    let generation = header.generation;
    if header.writer.is_empty() {
        format!("snap.{generation}.{i}")
    } else {
        format!("snap.{generation}.{}.{i}", header.writer)
    }
}

/// A token naming one term of one applier: unique across instances and
/// across the terms of one instance, and a valid KV key part.
pub fn applier_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_from_before_writer_named_chunks_still_finds_its_chunks() {
        let old: Header = serde_json::from_str(
            r#"{"v":1,"generation":7,"chunks":2,"next_seq":5,"resume":3,"watermark":null}"#,
        )
        .unwrap();
        assert_eq!(chunk_key(&old, 1), "snap.7.1");
        let new = Header {
            writer: "00ff".into(),
            ..old
        };
        assert_eq!(chunk_key(&new, 1), "snap.7.00ff.1");
    }

    #[test]
    fn applier_tokens_differ_and_are_key_safe() {
        let (a, b) = (applier_token(), applier_token());
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
