//! The alert state of the cluster and the applier's lease, in JetStream KV.
//!
//! The state is what the applier's [`Alerter`](kadet_engine::Alerter)
//! holds (open windows, the reorder buffer, the watermark) plus where it is
//! in the results: the next batch sequence to apply and the results-stream
//! sequence to replay from. It is saved as zstd-compressed chunks
//! `snap.<generation>.<n>` and a header `applier` that names the
//! generation; the header is written last, with compare-and-set on its
//! revision, so a state is either whole or not there, and an applier that
//! lost its lease cannot overwrite the state of the one that took over.

use super::nats::APPLIER_KEY;
use anyhow::{bail, Context, Result};
use async_nats::jetstream::kv;
use kadet_engine::alert::Buffered;
use kadet_engine::AlertWindow;
use kadet_event::EventTime;
use serde::{Deserialize, Serialize};

/// The version of the state form.
pub const STATE_VERSION: u32 = 1;
/// The largest chunk of a saved state (NATS' default message limit is 1 MiB).
const CHUNK: usize = 512 << 10;

/// Where the applier is, and the header of the saved state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// The form's version.
    pub v: u32,
    /// The generation of the chunks.
    pub generation: u64,
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
        chunks: 0,
        next_seq: 1,
        resume: 1,
        watermark: None,
    };
    match kv
        .create(APPLIER_KEY, serde_json::to_vec(&header)?.into())
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
        .entry(APPLIER_KEY)
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
            .get(chunk_key(header.generation, i))
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

/// Saves a new state over the one at `revision`; returns the new revision
/// and, on success, updates `current` to the saved header.
pub async fn save(
    kv: &kv::Store,
    current: &mut Header,
    body: &Body,
    revision: u64,
) -> Result<u64, SaveError> {
    let other = |e: anyhow::Error| SaveError::Other(e);
    let mut header = current.clone();
    let old_generation = header.generation;
    let old_chunks = header.chunks;
    header.generation += 1;
    let json = serde_json::to_vec(body).map_err(|e| other(e.into()))?;
    let packed = zstd::encode_all(&json[..], 3).map_err(|e| other(e.into()))?;
    let chunks: Vec<&[u8]> = packed.chunks(CHUNK).collect();
    header.chunks = chunks.len() as u32;
    for (i, c) in chunks.iter().enumerate() {
        kv.put(chunk_key(header.generation, i as u32), c.to_vec().into())
            .await
            .map_err(|e| other(e.into()))?;
    }
    let value = serde_json::to_vec(&header).map_err(|e| other(e.into()))?;
    match kv.update(APPLIER_KEY, value.into(), revision).await {
        Ok(rev) => {
            for i in 0..old_chunks {
                let _ = kv.purge(chunk_key(old_generation, i)).await;
            }
            *current = header;
            Ok(rev)
        }
        Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
            for i in 0..header.chunks {
                let _ = kv.purge(chunk_key(header.generation, i)).await;
            }
            Err(SaveError::Conflict)
        }
        Err(e) => Err(other(e.into())),
    }
}

fn chunk_key(generation: u64, i: u32) -> String {
    format!("snap.{generation}.{i}")
}

/// The applier's lease: a key in a bucket whose values expire after the
/// lease time, taken with create and kept with compare-and-set updates.
pub struct Lease {
    kv: kv::Store,
    holder: String,
    revision: Option<u64>,
}

impl Lease {
    /// A lease held (when taken) by `holder`.
    pub fn new(kv: kv::Store, holder: String) -> Lease {
        Lease {
            kv,
            holder,
            revision: None,
        }
    }

    /// True while held.
    pub fn held(&self) -> bool {
        self.revision.is_some()
    }

    /// Tries to take the lease; true when this instance now holds it.
    pub async fn acquire(&mut self) -> bool {
        match self
            .kv
            .create(APPLIER_KEY, self.holder.clone().into())
            .await
        {
            Ok(rev) => {
                self.revision = Some(rev);
                true
            }
            Err(_) => false,
        }
    }

    /// Renews the lease; false when it was lost (another instance took it
    /// after it expired) or cannot be renewed.
    pub async fn renew(&mut self) -> bool {
        let Some(rev) = self.revision else {
            return false;
        };
        match self
            .kv
            .update(APPLIER_KEY, self.holder.clone().into(), rev)
            .await
        {
            Ok(rev) => {
                self.revision = Some(rev);
                true
            }
            Err(_) => {
                self.revision = None;
                false
            }
        }
    }

    /// Gives the lease up, so another instance takes over at once.
    pub async fn release(&mut self) {
        if self.revision.take().is_some() {
            let _ = self.kv.purge(APPLIER_KEY).await;
        }
    }
}
