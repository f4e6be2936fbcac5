//! Cluster mode's dead letters: published to the dead-letter stream, one
//! message per [`DeadLetter`], under `<stream>.<kind>`. The message id is a
//! digest of the letter's kind, origin and payload, so a letter published
//! again (a redelivered batch failing again) is stored once.

use super::Nats;
use crate::core::dead_letter::{DeadLetter, DeadLetters};
use anyhow::Context;
use async_nats::jetstream::message::PublishMessage;
use sha2::{Digest, Sha256};

/// The dead-letter stream, as a place to put dead letters.
pub struct StreamDeadLetters {
    /// The cluster.
    pub nats: Nats,
    /// The runtime NATS calls run on.
    pub rt: tokio::runtime::Handle,
}

impl StreamDeadLetters {
    fn message_id(d: &DeadLetter) -> String {
        let mut h = Sha256::new();
        h.update(d.kind.name().as_bytes());
        h.update([0]);
        h.update(d.origin.as_bytes());
        h.update([0]);
        h.update(d.payload.to_string().as_bytes());
        format!(
            "dead-{}-{}",
            d.kind.name(),
            hex::encode(&h.finalize()[..12])
        )
    }
}

impl DeadLetters for StreamDeadLetters {
    fn put(&self, d: &DeadLetter) -> anyhow::Result<()> {
        let publish = PublishMessage::build().payload(d.to_line().into_bytes().into());
        self.rt
            .block_on(self.nats.publish(
                self.nats.dead_letter_subject(d.kind.name()),
                &Self::message_id(d),
                publish,
            ))
            .map(|_| ())
            .context("publishing a dead letter")
    }
}
