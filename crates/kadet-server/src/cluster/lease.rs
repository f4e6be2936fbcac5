//! Leases: which instance does a one-at-a-time job now: the applier (which
//! turns results into alerts, [`LEASE_KEY`]) and the reader of each pulled
//! source. A key in a bucket whose values expire after `lease_secs`,
//! taken with create and kept with compare-and-set updates; the holder
//! renews it every third of the lease time, and gives it up on stopping so
//! another instance takes over at once.
//!
//! The lease alone does not fence a holder that was paused past it: the
//! state's claim does ([`super::state::claim`]).

use async_nats::jetstream::kv;

/// The lease's key in the lease bucket (its own bucket, so the name never
/// meets the state header's).
pub const LEASE_KEY: &str = "applier";

/// The applier's lease: a key in a bucket whose values expire after the
/// lease time, taken with create and kept with compare-and-set updates.
pub struct Lease {
    kv: kv::Store,
    key: String,
    holder: String,
    revision: Option<u64>,
}

impl Lease {
    /// The applier's lease, held (when taken) by `holder`.
    pub fn new(kv: kv::Store, holder: String) -> Lease {
        Lease::of(kv, LEASE_KEY, holder)
    }

    /// The lease of `key`, held (when taken) by `holder`.
    pub fn of(kv: kv::Store, key: &str, holder: String) -> Lease {
        Lease {
            kv,
            key: key.to_string(),
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
        match self.kv.create(&self.key, self.holder.clone().into()).await {
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
            .update(&self.key, self.holder.clone().into(), rev)
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
            let _ = self.kv.purge(&self.key).await;
        }
    }
}
