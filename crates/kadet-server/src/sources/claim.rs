//! Who reads a pulled source. One reader at a time: in single-process mode
//! the one process ([`Alone`]); in cluster mode the instance holding the
//! source's lease, another taking over when it dies.

use futures_util::future::BoxFuture;

/// Whether this instance may read a source now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// It held the source already and still does.
    Kept,
    /// It has just taken the source: another reader may have moved the
    /// checkpoint, which must be read again.
    Taken,
    /// Another instance reads it.
    Elsewhere,
}

/// The claims of this instance on pulled sources.
pub trait Claims: Send + Sync {
    /// Takes or keeps the claim on `source`.
    fn hold<'a>(&'a self, source: &'a str) -> BoxFuture<'a, Held>;
    /// Gives the claim up (on stopping), so another instance takes over at
    /// once.
    fn release<'a>(&'a self, source: &'a str) -> BoxFuture<'a, ()>;
    /// How long a claim lasts unrenewed: an instance that holds one part of
    /// a source waits this long per part held before it takes another, so
    /// that instances started together share the parts.
    fn lasts(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// Single-process mode: the only reader there is.
pub struct Alone;

impl Claims for Alone {
    fn hold<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Held> {
        Box::pin(async { Held::Kept })
    }
    fn release<'a>(&'a self, _: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}
