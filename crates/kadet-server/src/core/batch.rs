//! What intake accepts and both modes evaluate: a [`Batch`] (one document
//! from one endpoint, with the cluster its sender named) and its
//! [`Source`]. A batch's [`digest`](Batch::digest) recognises one sent
//! twice: the local detector keeps the digests it evaluated, and cluster
//! intake uses the digest as JetStream's message id.

use sha2::{Digest, Sha256};

/// Where an accepted document came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Source {
    /// `POST /v1/audit`.
    Audit = 1,
    /// `POST /v1/eks/firehose`.
    Firehose = 2,
    /// `POST /v1/aks`.
    Aks = 3,
    /// A `pubsub-push` source (`POST /v1/gke/pubsub/NAME`).
    PubSub = 4,
    /// A `cloudwatch` source.
    CloudWatch = 5,
    /// A `kafka` source.
    Kafka = 6,
}

impl Source {
    /// Every source.
    pub const ALL: [Source; 6] = [
        Source::Audit,
        Source::Firehose,
        Source::Aks,
        Source::PubSub,
        Source::CloudWatch,
        Source::Kafka,
    ];

    /// From its one-byte tag (the journal's framing).
    pub fn from_tag(t: u8) -> Option<Source> {
        Source::ALL.into_iter().find(|s| *s as u8 == t)
    }

    /// From its name.
    pub fn from_name(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Where batches of this source arrive, for event locations
    /// ([`Batch::origin`]).
    pub fn origin(self) -> &'static str {
        match self {
            Source::Audit => "/v1/audit",
            Source::Firehose => "/v1/eks/firehose",
            Source::Aks => "/v1/aks",
            Source::PubSub => "/v1/gke/pubsub",
            Source::CloudWatch => "CloudWatch Logs",
            Source::Kafka => "Kafka",
        }
    }

    /// Name used in metrics and as the last part of cluster subjects.
    pub fn name(self) -> &'static str {
        match self {
            Source::Audit => "audit",
            Source::Firehose => "eks-firehose",
            Source::Aks => "aks",
            Source::PubSub => "gke-pubsub",
            Source::CloudWatch => "eks-cloudwatch",
            Source::Kafka => "kafka",
        }
    }
}

/// One accepted document: a batch of events, or one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Where it came from.
    pub source: Source,
    /// The cluster its sender named, for events whose record names none.
    pub cluster: Option<String>,
    /// When it was stored (ms since the epoch), once read back from the
    /// journal or the stream; not part of its identity ([`Batch::digest`]).
    pub accepted_ms: Option<i64>,
    /// The document.
    pub doc: Vec<u8>,
}

impl Batch {
    /// A batch whose sender named no cluster.
    pub fn new(source: Source, doc: Vec<u8>) -> Batch {
        Batch {
            source,
            cluster: None,
            accepted_ms: None,
            doc,
        }
    }

    /// Where its events say they came from, in alerts and logs: the
    /// endpoint or source type, the cluster its sender named, when it was
    /// accepted, and `number` (the journal offset or stream sequence) to
    /// find it again: `/v1/audit/prod-a, accepted 2026-12-07T03:58:01.123000Z,
    /// batch 48213`.
    pub fn origin(&self, number: u64) -> String {
        let mut o = self.source.origin().to_string();
        if let Some(c) = &self.cluster {
            o.push('/');
            o.push_str(c);
        }
        if let Some(ms) = self.accepted_ms {
            let t = kadet_event::EventTime(ms.saturating_mul(1000));
            o.push_str(", accepted ");
            o.push_str(&t.to_rfc3339());
        }
        o.push_str(&format!(", batch {number}"));
        o
    }

    /// The digest that recognises a batch sent twice: its source, cluster
    /// name and bytes.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.source.name().as_bytes());
        h.update([0]);
        h.update(self.cluster.as_deref().unwrap_or("").as_bytes());
        h.update([0]);
        h.update(&self.doc);
        h.finalize().into()
    }

    /// The digest in hex (JetStream message ids are text).
    pub fn id(&self) -> String {
        hex::encode(self.digest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip_by_tag_and_name() {
        for s in Source::ALL {
            assert_eq!(Source::from_tag(s as u8), Some(s));
            assert_eq!(Source::from_name(s.name()), Some(s));
        }
        assert_eq!(Source::from_tag(0), None);
    }

    #[test]
    fn the_digest_tells_cluster_and_source_apart() {
        let a = Batch::new(Source::Audit, b"{}".to_vec());
        let mut b = a.clone();
        b.cluster = Some("c".into());
        let c = Batch::new(Source::Aks, b"{}".to_vec());
        assert_ne!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
        assert_eq!(a.id(), hex::encode(a.digest()));
    }

    #[test]
    fn the_origin_names_endpoint_cluster_time_and_number() {
        let mut b = Batch::new(Source::Audit, b"{}".to_vec());
        assert_eq!(b.origin(7), "/v1/audit, batch 7");
        b.cluster = Some("prod-a".into());
        b.accepted_ms = Some(1_796_615_881_123);
        assert_eq!(
            b.origin(48213),
            "/v1/audit/prod-a, accepted 2026-12-07T03:58:01.123000Z, batch 48213"
        );
        let mut again = b.clone();
        again.accepted_ms = Some(0);
        assert_eq!(again.digest(), b.digest(), "the time is not identity");
    }
}
