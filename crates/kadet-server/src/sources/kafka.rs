//! `type = "kafka"`: a Kafka topic of audit events, or Azure Event Hubs
//! through its Kafka endpoint (AKS diagnostic settings stream `kube-audit`
//! there as `{"records": [...]}` batches). Read with librdkafka in a
//! consumer group, whose members ([`members`]) are spread over the
//! instances of a cluster and taken over when one dies; offsets are
//! committed only after what was read is stored, so a crash re-reads (and
//! the digest of each message recognises) at most what was read since.

pub mod members;

use super::claim::{Claims, Held};
use super::Health;
use crate::config::sources::{Kafka, StartAt};
use crate::core::batch::{Batch, Source};
use crate::core::ingest::{prepare_body, Refusal};
use crate::core::intake::{Intake, StoreError};
use crate::metrics::{Counter, Gauge, Metrics};
use crate::now_ms;
use anyhow::{anyhow, bail, Context, Result};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Messages stored together (one journal fsync or one round of publishes).
const MAX_BATCH: usize = 500;
/// How long a batch waits for more messages once it has one.
const LINGER: Duration = Duration::from_millis(50);
/// When idle, the brokers are asked for the topic this often (liveness).
const PROBE_EVERY: Duration = Duration::from_secs(15);

/// What an Event Hubs connection string gives.
#[derive(Debug, PartialEq, Eq)]
struct EventHubs {
    /// `NAMESPACE.servicebus.windows.net:9093`.
    broker: String,
    /// The event hub, when the string names one.
    entity: Option<String>,
}

/// Reads `Endpoint=sb://NS.servicebus.windows.net/;…;EntityPath=HUB`.
fn parse_connection_string(s: &str) -> Result<EventHubs> {
    let mut endpoint = None;
    let mut entity = None;
    for part in s.trim().split(';') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "endpoint" => endpoint = Some(v.trim().to_string()),
            "entitypath" => entity = Some(v.trim().to_string()),
            _ => {}
        }
    }
    let endpoint = endpoint.context("the connection string has no Endpoint=")?;
    let host = endpoint
        .strip_prefix("sb://")
        .context("the connection string's Endpoint is not sb://…")?
        .trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        bail!("the connection string's Endpoint names no namespace");
    }
    Ok(EventHubs {
        broker: format!("{host}:9093"),
        entity: entity.filter(|e| !e.is_empty()),
    })
}

fn first_line(path: &std::path::Path, what: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{what} {}: cannot read", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim().to_string();
    if line.is_empty() {
        bail!("{what} {} is empty", path.display());
    }
    Ok(line)
}

/// The librdkafka settings of a source, and its topics. Reads the secret
/// files; nothing of them is ever logged.
pub fn settings(cfg: &Kafka) -> Result<(ClientConfig, Vec<String>)> {
    let mut c = ClientConfig::new();
    let mut brokers = cfg.brokers.clone();
    let mut topics = cfg.topics.clone();
    let mut protocol = cfg.security_protocol.clone();
    if let Some(path) = &cfg.connection_string_file {
        let s = first_line(path, "connection_string_file")?;
        let hubs = parse_connection_string(&s)?;
        if brokers.is_empty() {
            brokers.push(hubs.broker);
        }
        if topics.is_empty() {
            topics.extend(hubs.entity);
        }
        protocol.get_or_insert_with(|| "sasl_ssl".into());
        c.set("sasl.mechanism", "PLAIN")
            .set("sasl.username", "$ConnectionString")
            .set("sasl.password", s);
    }
    if let (Some(user), Some(path)) = (&cfg.username, &cfg.password_file) {
        protocol.get_or_insert_with(|| "sasl_ssl".into());
        c.set("sasl.mechanism", &cfg.sasl_mechanism)
            .set("sasl.username", user)
            .set("sasl.password", first_line(path, "password_file")?);
    }
    if topics.is_empty() {
        bail!("no topic: set topics (the connection string has no EntityPath)");
    }
    if let Some(ca) = &cfg.ca_file {
        if !ca.is_file() {
            bail!("ca_file {}: not a readable file", ca.display());
        }
        c.set("ssl.ca.location", ca.display().to_string());
    }
    let reset = match cfg.start {
        StartAt::Now => "latest",
        StartAt::Oldest => "earliest",
    };
    c.set("bootstrap.servers", brokers.join(","))
        .set(
            "security.protocol",
            protocol.unwrap_or_else(|| "plaintext".into()),
        )
        .set("group.id", &cfg.group)
        .set("client.id", format!("kadet-{}", cfg.name))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", reset)
        .set("session.timeout.ms", "30000")
        .set("enable.partition.eof", "false");
    Ok((c, topics))
}

/// Checks that the brokers answer for the topics (`--check-config`).
pub async fn check(cfg: &Kafka) -> Result<String> {
    let (settings, topics) = settings(cfg)?;
    tokio::task::spawn_blocking(move || -> Result<String> {
        let consumer: rdkafka::consumer::BaseConsumer = settings.create()?;
        let mut found = Vec::new();
        for t in &topics {
            let md = consumer
                .fetch_metadata(Some(t), Duration::from_secs(10))
                .map_err(|e| anyhow!("topic {t}: {e}"))?;
            let partitions = md
                .topics()
                .iter()
                .find(|m| m.name() == t)
                .filter(|m| m.error().is_none())
                .map(|m| m.partitions().len())
                .ok_or_else(|| anyhow!("topic {t}: not found"))?;
            found.push(format!("{t}: {partitions} partitions"));
        }
        Ok(found.join(", "))
    })
    .await?
}

/// librdkafka's callbacks: its log and errors into kadet's log, and the
/// partitions this instance gets and loses.
pub struct SourceContext {
    source: String,
}

impl ClientContext for SourceContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(source = %self.source, "librdkafka {fac}: {message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(source = %self.source, "librdkafka {fac}: {message}")
            }
            _ => tracing::debug!(source = %self.source, "librdkafka {fac}: {message}"),
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        tracing::warn!(source = %self.source, "librdkafka: {error}: {reason}");
    }
}

impl ConsumerContext for SourceContext {
    fn post_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let list = |l: &TopicPartitionList| {
            l.elements()
                .iter()
                .map(|e| format!("{}/{}", e.topic(), e.partition()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match rebalance {
            Rebalance::Assign(l) => {
                tracing::info!(source = %self.source, "reading partitions [{}]", list(l))
            }
            Rebalance::Revoke(l) => {
                tracing::info!(source = %self.source, "gave up partitions [{}]", list(l))
            }
            Rebalance::Error(e) => tracing::warn!(source = %self.source, "rebalance failed: {e}"),
        }
    }
}

/// What the reader needs from the server.
#[derive(Clone)]
pub struct Wiring {
    /// Where records are stored.
    pub intake: Arc<dyn Intake>,
    /// The claims on members of the group (cluster mode).
    pub claims: Arc<dyn Claims>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The largest single event kept.
    pub max_event_bytes: usize,
}

/// Why a [`Reader`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadEnd {
    /// Asked to stop.
    Stopped,
    /// Its claim lapsed (a long pause) and this instance took it anew: the
    /// member is still this instance's, to be read again at once by a new
    /// consumer.
    ClaimTakenAnew,
    /// Another instance reads the member now.
    ClaimLost,
}

/// One consumer of a source.
pub struct Reader {
    name: String,
    cluster: Option<String>,
    consumer: Arc<StreamConsumer<SourceContext>>,
    topics: Vec<String>,
    wiring: Wiring,
    health: Arc<Health>,
    /// The claim this consumer reads under (cluster mode's members): it
    /// stops when the claim is lost.
    claim: Option<String>,
}

/// Messages read and not yet stored.
#[derive(Default)]
struct Pending {
    batches: Vec<Batch>,
    /// The next offset to commit, by topic and partition.
    next: BTreeMap<(String, i32), i64>,
    bytes: u64,
    messages: u64,
    unreadable: u64,
    redacted: u64,
    newest_ms: Option<i64>,
}

impl Reader {
    /// A consumer of the source, subscribed to its topics, reporting to
    /// `health`; with `static_member`, the group's static member of that
    /// name (KIP-345): whoever joins under the name next takes its
    /// partitions at once, without waiting for its session to time out;
    /// with `claim`, it reads only while this instance holds that claim.
    pub fn new(
        cfg: &Kafka,
        wiring: Wiring,
        static_member: Option<&str>,
        health: Arc<Health>,
        claim: Option<String>,
    ) -> Result<Reader> {
        let (mut settings, topics) = settings(cfg)?;
        if let Some(member) = static_member {
            settings.set("group.instance.id", member);
        }
        let context = SourceContext {
            source: cfg.name.clone(),
        };
        let consumer: StreamConsumer<SourceContext> = settings
            .create_with_context(context)
            .with_context(|| format!("source {}: creating the Kafka consumer", cfg.name))?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names)?;
        Ok(Reader {
            name: cfg.name.clone(),
            cluster: cfg.cluster.clone(),
            consumer: Arc::new(consumer),
            topics,
            wiring,
            health,
            claim,
        })
    }

    /// Reads until `stop` turns true or the claim it reads under is lost,
    /// then closes the consumer (a static member stays in the group, for
    /// whoever joins under its name next). Says why it stopped.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> ReadEnd {
        tracing::info!(source = %self.name, topics = ?self.topics, "reading Kafka");
        let mut probed = Instant::now();
        let end = loop {
            if *stop.borrow() {
                break ReadEnd::Stopped;
            }
            if let Some(lost) = self.claim_lost().await {
                break lost;
            }
            let pending = tokio::select! {
                p = self.collect() => p,
                _ = stop.changed() => break ReadEnd::Stopped,
            };
            let Some(pending) = pending else {
                if probed.elapsed() >= PROBE_EVERY {
                    self.probe().await;
                    probed = Instant::now();
                }
                continue;
            };
            if !self.store(pending, &mut stop).await {
                break ReadEnd::Stopped;
            }
            self.health.progressed();
        };
        // Closing a consumer waits for the brokers: not on a runtime thread.
        let consumer = self.consumer;
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        end
    }

    /// `None` while the claim this consumer reads under is still held as
    /// it was; else how it was lost. A claim that lapsed and was taken anew
    /// is this instance's still, but another instance may have joined under
    /// the member's name meanwhile, which fences this consumer: a new one is
    /// needed.
    async fn claim_lost(&self) -> Option<ReadEnd> {
        let claim = self.claim.as_ref()?;
        match self.wiring.claims.hold(claim).await {
            Held::Kept => None,
            Held::Taken => Some(ReadEnd::ClaimTakenAnew),
            Held::Elsewhere => {
                tracing::warn!(source = %self.name, claim, "lost the claim: another instance reads this member now");
                Some(ReadEnd::ClaimLost)
            }
        }
    }

    /// Waits up to a second for a message, then gathers more for a moment;
    /// `None` when none came.
    async fn collect(&self) -> Option<Pending> {
        let first = tokio::time::timeout(Duration::from_secs(1), self.consumer.recv()).await;
        let mut pending = Pending::default();
        match first {
            Err(_) => return None,
            Ok(Err(e)) => {
                self.failed(&format!("reading: {e}"), "read");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return None;
            }
            Ok(Ok(m)) => self.take(&m, &mut pending),
        }
        let until = tokio::time::Instant::now() + LINGER;
        while pending.messages < MAX_BATCH as u64 {
            match tokio::time::timeout_at(until, self.consumer.recv()).await {
                Ok(Ok(m)) => self.take(&m, &mut pending),
                _ => break,
            }
        }
        Some(pending)
    }

    /// Adds one message to what is to be stored.
    fn take(&self, m: &rdkafka::message::BorrowedMessage<'_>, p: &mut Pending) {
        p.messages += 1;
        p.next
            .insert((m.topic().to_string(), m.partition()), m.offset() + 1);
        if let Some(t) = m.timestamp().to_millis() {
            p.newest_ms = p.newest_ms.max(Some(t));
        }
        let payload = m.payload().unwrap_or_default();
        p.bytes += payload.len() as u64;
        let prepared = prepare_body(payload, self.wiring.max_event_bytes)
            .and_then(|mut x| x.redact().map(|_| x));
        match prepared {
            Ok(x) => {
                p.redacted += x.redacted;
                p.batches.extend(x.docs.into_iter().map(|doc| Batch {
                    source: Source::Kafka,
                    cluster: self.cluster.clone(),
                    accepted_ms: None,
                    doc,
                }));
            }
            Err(Refusal::Malformed(why) | Refusal::TooLarge(why)) => {
                p.unreadable += 1;
                tracing::warn!(source = %self.name, topic = m.topic(), partition = m.partition(), offset = m.offset(), "message passed over: {why}");
            }
        }
    }

    /// Stores what was read (retrying until it is stored or kadet stops),
    /// then commits the offsets; false when stopped first.
    async fn store(&self, p: Pending, stop: &mut watch::Receiver<bool>) -> bool {
        let m = &self.wiring.metrics;
        let name = self.name.as_str();
        if !p.batches.is_empty() {
            let mut backoff = Duration::from_millis(200);
            loop {
                match self.wiring.intake.store(p.batches.clone()).await {
                    Ok(()) => break,
                    Err(StoreError::Unavailable(why) | StoreError::TooLarge(why)) => {
                        self.failed(&format!("cannot store what was read: {why}"), "store");
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = stop.changed() => return false,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
        }
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), next) in &p.next {
            let _ = offsets.add_partition_offset(topic, *partition, Offset::Offset(*next));
        }
        if let Err(e) = self.consumer.commit(&offsets, CommitMode::Async) {
            // Stored already: a message read again is recognised by its digest.
            self.failed(&format!("committing offsets: {e}"), "commit");
        }
        m.add(
            Counter::SourceRecords,
            &[("source", name)],
            p.messages - p.unreadable,
        );
        m.add(Counter::SourceBytes, &[("source", name)], p.bytes);
        m.add(
            Counter::SourceErrors,
            &[("source", name), ("reason", "unreadable-record")],
            p.unreadable,
        );
        m.add(Counter::IntakeRedactions, &[], p.redacted);
        if let Some(t) = p.newest_ms {
            let lag = (now_ms() - t).max(0) as f64 / 1000.0;
            m.set_gauge(Gauge::SourceLag, &[("source", name)], lag);
        }
        true
    }

    /// Asks the brokers for the first topic: the source is alive when they
    /// answer, even with nothing to read.
    async fn probe(&self) {
        let consumer = self.consumer.clone();
        let topic = self.topics.first().cloned().unwrap_or_default();
        let answer = tokio::task::spawn_blocking(move || {
            consumer
                .fetch_metadata(Some(&topic), Duration::from_secs(5))
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match answer {
            Ok(()) => self.health.progressed(),
            Err(e) => self.failed(&format!("the brokers do not answer: {e}"), "brokers"),
        }
    }

    fn failed(&self, message: &str, reason: &str) {
        tracing::warn!(source = %self.name, "{message}");
        self.wiring.metrics.inc(
            Counter::SourceErrors,
            &[("source", &self.name), ("reason", reason)],
        );
        self.health.failed(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_hubs_connection_strings_give_the_broker_and_the_hub() {
        let s = "Endpoint=sb://aks-audit.servicebus.windows.net/;SharedAccessKeyName=kadet;SharedAccessKey=c2VjcmV0;EntityPath=kube-audit";
        assert_eq!(
            parse_connection_string(s).unwrap(),
            EventHubs {
                broker: "aks-audit.servicebus.windows.net:9093".into(),
                entity: Some("kube-audit".into()),
            }
        );
        let e = parse_connection_string("SharedAccessKey=x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no Endpoint"), "{e}");
        assert!(parse_connection_string("Endpoint=https://x/").is_err());
    }

    #[test]
    fn settings_use_sasl_plain_over_tls_with_a_connection_string() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cs");
        std::fs::write(&f, "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s;EntityPath=hub\n").unwrap();
        let cfg: crate::config::Config = crate::config::Config::parse(
            &format!(
                "[[sources]]\nname = \"aks\"\ntype = \"kafka\"\nconnection_string_file = {f:?}\n"
            ),
            "k",
        )
        .unwrap();
        let crate::config::sources::SourceConfig::Kafka(k) = &cfg.sources[0] else {
            panic!("not kafka")
        };
        let (c, topics) = settings(k).unwrap();
        assert_eq!(topics, ["hub"]);
        assert_eq!(
            c.get("bootstrap.servers"),
            Some("ns.servicebus.windows.net:9093")
        );
        assert_eq!(c.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(c.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(c.get("sasl.username"), Some("$ConnectionString"));
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("auto.offset.reset"), Some("latest"));
    }
}
