//! The canonical Kubernetes audit event and everything that produces it.
//!
//! Bytes flow through this crate in three steps:
//!
//! 1. [`input`] finds the inputs, opens compressed files and cuts them into
//!    [`Chunk`]s of whole records with bounded memory;
//! 2. a [`Decoder`] recognises each record's shape (kube-apiserver Event or
//!    EventList, EKS CloudWatch payload, AKS diagnostic record, GKE LogEntry,
//!    Panther record) and yields [`RawEvent`]s: the bytes of one event plus
//!    [`SourceMeta`], without parsing the event yet;
//! 3. [`RawEvent::parse`] builds the [`CanonicalEvent`]: a borrowed JSON tree
//!    ([`Value`]) shaped like an `audit.k8s.io/v1` Event, whatever the source.
//!
//! Step 3 is skipped for events the prefilter rejects, which is what makes
//! scanning fast.

#![warn(missing_docs)]

pub mod cluster;
pub mod credential;
pub mod decode;
pub mod error;
pub mod event;
pub mod exec_command;
pub mod gke_audit;
pub mod input;
pub mod location;
pub mod redact;
pub mod time;
pub mod value;

pub use decode::{DecodeOptions, DecodeSink, Decoder, InputFormat};
pub use error::{DecodeError, IgnoreReason, Skip, SkipReason};
pub use event::{BodyShape, CanonicalEvent, Location, LogType, RawEvent, SourceMeta};
pub use input::{Chunk, ChunkReader, InputFile, ReadOptions};
pub use time::EventTime;
pub use value::{Map, PlainEvent, Value};

/// Collects everything a decoder produces; handy for tests and small inputs.
#[derive(Debug, Default)]
pub struct CollectSink<'a> {
    /// Events found.
    pub events: Vec<RawEvent<'a>>,
    /// Diagnostics.
    pub skipped: Vec<Skip>,
    /// Records ignored on purpose.
    pub ignored: Vec<IgnoreReason>,
}

impl<'a> DecodeSink<'a> for CollectSink<'a> {
    fn admit(&mut self, _bytes: &[u8], _log_type: LogType) -> bool {
        true
    }
    fn event(&mut self, event: RawEvent<'a>) {
        self.events.push(event);
    }
    fn skip(&mut self, skip: Skip) {
        self.skipped.push(skip);
    }
    fn ignore(&mut self, reason: IgnoreReason) {
        self.ignored.push(reason);
    }
}
