//! `type = "cloudwatch"`: EKS's control-plane audit log in CloudWatch Logs,
//! pulled with the official AWS SDK. The reader lists the log group's
//! streams (`kube-apiserver-audit-*`) and picks up new ones, keeps a
//! position (the forward token) per stream, pages through each, stores
//! every log event as its own batch, and only then moves the checkpoint.
//! A throttled or failed call backs off (doubling, up to a minute).

use super::checkpoint::Checkpoints;
use super::claim::{Claims, Held};
use super::Health;
use crate::config::sources::{Cloudwatch, StartAt};
use crate::core::batch::{Batch, Source};
use crate::core::ingest::{prepare_body, Refusal};
use crate::core::intake::{Intake, StoreError};
use crate::metrics::{Counter, Gauge, Metrics};
use crate::now_ms;
use anyhow::{anyhow, Result};
use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_cloudwatchlogs::Client;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Events asked for per call (the API's maximum).
const PAGE: i32 = 10_000;
/// The longest pause after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where the reader is in each stream: the checkpoint.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Positions {
    /// By stream name.
    pub streams: BTreeMap<String, Position>,
}

/// Where the reader is in one stream.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The forward token of the next page, once one was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Before the first page: the event time to start from (`start = "now"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
}

/// What the reader needs from the server.
pub struct Wiring {
    /// Where records are stored.
    pub intake: Arc<dyn Intake>,
    /// Where positions are kept.
    pub checkpoints: Arc<dyn Checkpoints>,
    /// Whether this instance is the one reading.
    pub claims: Arc<dyn Claims>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The largest single event kept.
    pub max_event_bytes: usize,
}

/// The SDK client of a source: credentials, region and endpoint the
/// standard way (environment, profiles, instance and workload identity;
/// `AWS_ENDPOINT_URL`), HTTPS on rustls with ring.
pub async fn client(cfg: &Cloudwatch) -> Client {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
    if let Some(r) = &cfg.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    Client::new(&loader.load().await)
}

/// Checks that the log group can be read (`--check-config`).
pub async fn check(cfg: &Cloudwatch) -> Result<()> {
    let group = cfg.group().ok_or_else(|| anyhow!("no log group"))?;
    client(cfg)
        .await
        .describe_log_streams()
        .log_group_name(&group)
        .log_stream_name_prefix(&cfg.stream_prefix)
        .limit(1)
        .send()
        .await
        .map_err(|e| anyhow!("log group {group}: {}", DisplayErrorContext(&e)))?;
    Ok(())
}

/// One source's reader.
pub struct Reader {
    cfg: Cloudwatch,
    group: String,
    client: Client,
    wiring: Wiring,
    health: Arc<Health>,
    positions: Positions,
    discovered: Option<Instant>,
    backoff: Duration,
    /// False until the checkpoint is read, and again when another reader
    /// may have moved it.
    loaded: bool,
    /// The first listing of the streams since the source had no checkpoint.
    first_listing: bool,
}

impl Reader {
    /// A reader of the source; it reads once [`Reader::run`].
    pub async fn new(cfg: &Cloudwatch, wiring: Wiring) -> Result<Reader> {
        let group = cfg.group().ok_or_else(|| anyhow!("no log group"))?;
        Ok(Reader {
            group,
            client: client(cfg).await,
            health: Arc::new(Health::new(&cfg.name, cfg.stuck_after_secs)),
            cfg: cfg.clone(),
            wiring,
            positions: Positions::default(),
            discovered: None,
            backoff: Duration::ZERO,
            loaded: false,
            first_listing: false,
        })
    }

    /// The reader's health, for `/readyz`.
    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    /// Reads until `stop` turns true, while this instance holds the source.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let name = self.cfg.name.clone();
        while !*stop.borrow() {
            let pause = match self.wiring.claims.hold(&name).await {
                Held::Elsewhere => {
                    // Standing by is not being stuck.
                    self.health.progressed();
                    self.loaded = false;
                    Duration::from_secs(1)
                }
                Held::Taken => self.load_then_pause().await,
                Held::Kept if !self.loaded => self.load_then_pause().await,
                Held::Kept => self.step().await,
            };
            if self.pause(&mut stop, pause).await {
                break;
            }
        }
        self.wiring.claims.release(&name).await;
    }

    async fn load_then_pause(&mut self) -> Duration {
        match self.load().await {
            Ok(()) => Duration::ZERO,
            Err(e) => self.failed(e),
        }
    }

    /// Reads the checkpoint (on start, and when the source was taken over).
    async fn load(&mut self) -> Result<(), Failure> {
        let name = &self.cfg.name;
        let checkpoint = self
            .wiring
            .checkpoints
            .load(name)
            .await
            .map_err(|e| Failure::Store(format!("reading the checkpoint: {e:#}")))?;
        self.positions = Positions::default();
        self.first_listing = match checkpoint.map(serde_json::from_value::<Positions>) {
            Some(Ok(p)) => {
                self.positions = p;
                false
            }
            Some(Err(e)) => {
                tracing::error!(source = %name, "checkpoint unreadable ({e}); starting as on a first start");
                true
            }
            None => true,
        };
        self.loaded = true;
        self.discovered = None;
        tracing::info!(source = %name, group = %self.group, streams = self.positions.streams.len(), "reading CloudWatch Logs");
        Ok(())
    }

    /// One round; the pause before the next.
    async fn step(&mut self) -> Duration {
        match self.round().await {
            Ok(read) => {
                self.backoff = Duration::ZERO;
                self.health.progressed();
                if read > 0 {
                    Duration::ZERO
                } else {
                    Duration::from_millis(self.cfg.poll_interval_ms)
                }
            }
            Err(e) => {
                if matches!(e, Failure::Store(_)) {
                    // The checkpoint may have moved under this reader.
                    self.loaded = false;
                }
                self.failed(e)
            }
        }
    }

    /// Waits `d`, or until stopped; true when stopped.
    async fn pause(&self, stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
        if d.is_zero() {
            return *stop.borrow();
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => *stop.borrow(),
            _ = stop.changed() => true,
        }
    }

    /// Counts a failure; the pause before trying again.
    fn failed(&mut self, e: Failure) -> Duration {
        let name = self.cfg.name.as_str();
        let m = &self.wiring.metrics;
        match &e {
            Failure::Throttled(_) => m.inc(Counter::SourceThrottles, &[("source", name)]),
            Failure::Call(_) => m.inc(
                Counter::SourceErrors,
                &[("source", name), ("reason", "api")],
            ),
            Failure::Store(_) => m.inc(
                Counter::SourceErrors,
                &[("source", name), ("reason", "store")],
            ),
        }
        let message = e.to_string();
        tracing::warn!(source = %name, "{message}");
        self.health.failed(message);
        self.backoff = (self.backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF);
        self.backoff
    }

    /// Lists the streams when due, then reads one page of each; the
    /// number of events read.
    async fn round(&mut self) -> Result<usize, Failure> {
        let due = self
            .discovered
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(self.cfg.discover_interval_secs));
        if due {
            self.discover(self.first_listing).await?;
            self.discovered = Some(Instant::now());
            if self.first_listing {
                // Where "now" was is kept at once: a reader taking over
                // before the first page must not start at a later now.
                self.save_positions().await?;
                self.first_listing = false;
            }
        }
        let mut read = 0;
        let names: Vec<String> = self.positions.streams.keys().cloned().collect();
        for stream in names {
            read += self.read_page(&stream).await?;
        }
        Ok(read)
    }

    /// Adds the streams that appeared, and forgets those gone. On a first
    /// start with `start = "now"`, the streams found then start at now;
    /// every stream found later is new and is read from its start.
    async fn discover(&mut self, first_listing: bool) -> Result<(), Failure> {
        let mut names = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_log_streams()
                .log_group_name(&self.group)
                .log_stream_name_prefix(&self.cfg.stream_prefix)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| Failure::of_call("listing the streams", &e))?;
            names.extend(
                out.log_streams()
                    .iter()
                    .filter_map(|s| s.log_stream_name().map(str::to_string)),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => break,
            }
        }
        let start_ms = (first_listing && self.cfg.start == StartAt::Now).then(now_ms);
        let streams = &mut self.positions.streams;
        streams.retain(|s, _| names.contains(s));
        for n in names {
            streams.entry(n).or_insert(Position {
                token: None,
                start_ms,
            });
        }
        Ok(())
    }

    /// Reads one page of a stream, stores its events, then moves the
    /// checkpoint; the number of events.
    async fn read_page(&mut self, stream: &str) -> Result<usize, Failure> {
        let Some(pos) = self.positions.streams.get(stream).cloned() else {
            return Ok(0);
        };
        let mut call = self
            .client
            .get_log_events()
            .log_group_name(&self.group)
            .log_stream_name(stream)
            .start_from_head(true)
            .limit(PAGE);
        call = match (&pos.token, pos.start_ms) {
            (Some(t), _) => call.next_token(t),
            (None, Some(ms)) => call.start_time(ms),
            (None, None) => call,
        };
        let out = call
            .send()
            .await
            .map_err(|e| Failure::of_call("reading a stream", &e))?;
        let events = out.events();
        let n = events.len();
        let newest = events.iter().filter_map(|e| e.timestamp()).max();
        let messages: Vec<Vec<u8>> = events
            .iter()
            .filter_map(|e| e.message().map(|m| m.as_bytes().to_vec()))
            .collect();
        self.store(stream, messages).await?;
        let token = out.next_forward_token().map(str::to_string);
        let moved = token.is_some() && token != pos.token;
        if let (Some(p), true) = (self.positions.streams.get_mut(stream), moved) {
            p.token = token;
            p.start_ms = None;
            self.save_positions().await?;
        }
        if let Some(t) = newest {
            let lag = (now_ms() - t).max(0) as f64 / 1000.0;
            self.wiring
                .metrics
                .set_gauge(Gauge::SourceLag, &[("source", &self.cfg.name)], lag);
        }
        Ok(n)
    }

    /// Saves the positions as the source's checkpoint.
    async fn save_positions(&self) -> Result<(), Failure> {
        let value = serde_json::to_value(&self.positions)
            .map_err(|e| Failure::Store(format!("encoding the checkpoint: {e}")))?;
        self.wiring
            .checkpoints
            .save(&self.cfg.name, &value)
            .await
            .map_err(|e| Failure::Store(format!("saving the checkpoint: {e:#}")))
    }

    /// Checks, redacts and stores the events, each as its own batch (so a
    /// page read again after a crash is recognised event by event).
    async fn store(&self, stream: &str, messages: Vec<Vec<u8>>) -> Result<(), Failure> {
        if messages.is_empty() {
            return Ok(());
        }
        let name = self.cfg.name.as_str();
        let m = &self.wiring.metrics;
        let bytes: usize = messages.iter().map(Vec::len).sum();
        let max_event = self.wiring.max_event_bytes;
        let cluster = self.cfg.cluster.clone();
        let (batches, unreadable, redacted) =
            tokio::task::spawn_blocking(move || prepare_events(messages, max_event, cluster))
                .await
                .map_err(|e| Failure::Store(format!("decoding task failed: {e}")))?;
        for (i, why) in &unreadable {
            tracing::warn!(source = %name, stream, event = i, "event passed over: {why}");
        }
        m.add(
            Counter::SourceErrors,
            &[("source", name), ("reason", "unreadable-record")],
            unreadable.len() as u64,
        );
        let records = batches.len() as u64;
        if !batches.is_empty() {
            self.wiring
                .intake
                .store(batches)
                .await
                .map_err(|e| match e {
                    StoreError::Unavailable(m) | StoreError::TooLarge(m) => Failure::Store(m),
                })?;
        }
        m.add(Counter::SourceRecords, &[("source", name)], records);
        m.add(Counter::SourceBytes, &[("source", name)], bytes as u64);
        m.add(Counter::IntakeRedactions, &[], redacted);
        Ok(())
    }
}

/// Each log event as a batch, checked and redacted; the events that were
/// not JSON (by index, with why), and the secrets redacted.
type Prepared = (Vec<Batch>, Vec<(usize, String)>, u64);

fn prepare_events(messages: Vec<Vec<u8>>, max_event: usize, cluster: Option<String>) -> Prepared {
    let mut batches = Vec::with_capacity(messages.len());
    let mut unreadable = Vec::new();
    let mut redacted = 0;
    for (i, msg) in messages.into_iter().enumerate() {
        let prepared = prepare_body(&msg, max_event).and_then(|mut p| p.redact().map(|_| p));
        match prepared {
            Ok(p) => {
                redacted += p.redacted;
                batches.extend(p.docs.into_iter().map(|doc| Batch {
                    source: Source::CloudWatch,
                    cluster: cluster.clone(),
                    accepted_ms: None,
                    doc,
                }));
            }
            Err(Refusal::Malformed(m) | Refusal::TooLarge(m)) => unreadable.push((i, m)),
        }
    }
    (batches, unreadable, redacted)
}

/// Why a round stopped.
#[derive(Debug)]
enum Failure {
    /// The API refused the rate.
    Throttled(String),
    /// The API call failed otherwise.
    Call(String),
    /// What was read could not be stored, or the checkpoint saved.
    Store(String),
}

impl Failure {
    fn of_call<E, R>(what: &str, e: &aws_sdk_cloudwatchlogs::error::SdkError<E, R>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let throttled = matches!(
            e.as_service_error().and_then(|s| s.code()),
            Some("ThrottlingException" | "Throttling" | "TooManyRequestsException")
        );
        let message = format!("{what}: {}", DisplayErrorContext(e));
        if throttled {
            Failure::Throttled(message)
        } else {
            Failure::Call(message)
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Throttled(m) => write!(f, "throttled, backing off: {m}"),
            Failure::Call(m) => write!(f, "{m}"),
            Failure::Store(m) => write!(f, "cannot store what was read: {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_one_batch_each_and_bad_ones_are_named() {
        let msgs = vec![
            b"{\"kind\":\"Event\",\"auditID\":\"a\"}".to_vec(),
            b"not json".to_vec(),
            b"{\"kind\":\"Event\",\"auditID\":\"b\"}".to_vec(),
        ];
        let (batches, bad, _) = prepare_events(msgs, 1 << 20, Some("prod".into()));
        assert_eq!(batches.len(), 2);
        assert!(batches
            .iter()
            .all(|b| b.source == Source::CloudWatch && b.cluster.as_deref() == Some("prod")));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 1);
    }

    #[test]
    fn positions_round_trip_as_json() {
        let mut p = Positions::default();
        p.streams.insert(
            "kube-apiserver-audit-1".into(),
            Position {
                token: Some("f/1".into()),
                start_ms: None,
            },
        );
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"streams": {"kube-apiserver-audit-1": {"token": "f/1"}}})
        );
        assert_eq!(serde_json::from_value::<Positions>(v).unwrap(), p);
    }
}
