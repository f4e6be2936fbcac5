//! The NATS connection and the JetStream topology kadet needs: four streams
//! (audit, results, alerts, dead letters), the detection consumer, one
//! consumer per sink, and two KV buckets (state, lease). Every instance
//! creates what is missing at start; creating is idempotent.

use super::ClusterConfig;
use anyhow::{Context, Result};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, kv, stream, Context as Js};
use async_nats::ConnectOptions;
use futures_util::StreamExt;
use std::time::Duration;

/// Up to `max` messages of a pull consumer: those waiting now, or, when
/// none is, the first to arrive within a second. Never waits for a batch
/// to fill: a lone message goes on at once (a pull request for N messages
/// would otherwise hold it until N arrive or the request expires). Every
/// wait is bounded, so a lost connection cannot hold the caller (it must
/// see its stop flag): messages not received in time are delivered again
/// after `ack_wait`.
pub async fn pull_now(consumer: &PullConsumer, max: usize) -> Vec<jetstream::Message> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let mut out = Vec::new();
    if let Ok(Ok(mut waiting)) =
        tokio::time::timeout_at(deadline, consumer.fetch().max_messages(max).messages()).await
    {
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, waiting.next()).await {
            out.push(m);
        }
    }
    if !out.is_empty() {
        return out;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let first = consumer
        .batch()
        .max_messages(1)
        .expires(Duration::from_secs(1))
        .messages();
    let Ok(Ok(mut first)) = tokio::time::timeout_at(deadline, first).await else {
        tokio::time::sleep_until(
            deadline.min(tokio::time::Instant::now() + Duration::from_millis(500)),
        )
        .await;
        return out;
    };
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, first.next()).await {
        out.push(m);
    }
    out
}

/// A NATS URL as it can be shown (no user or password) and the address to
/// dial (the port defaults to 4222).
fn dial_address(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("nats", url));
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host_port = host_port.split('/').next().unwrap_or(host_port);
    let has_port = match host_port.rsplit_once(':') {
        Some((host, port)) => !host.ends_with(':') && port.parse::<u16>().is_ok(),
        None => false,
    };
    let dial = if has_port {
        host_port.to_string()
    } else {
        format!("{host_port}:4222")
    };
    (format!("{scheme}://{dial}"), dial)
}

/// The configured servers as they can be shown (no credentials).
pub fn shown_urls(cfg: &ClusterConfig) -> String {
    let shown: Vec<String> = cfg
        .nats_url
        .list()
        .iter()
        .map(|u| dial_address(u).0)
        .collect();
    shown.join(", ")
}

/// Whether a TCP connection to the server of `url` opens, and if not, why.
async fn probe(url: &str) -> String {
    let (shown, dial) = dial_address(url);
    let attempt = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(dial.as_str()),
    )
    .await;
    match attempt {
        Ok(Ok(_)) => {
            format!("{shown}: reachable, but the NATS handshake fails (TLS or credentials?)")
        }
        Ok(Err(e)) => format!("{shown}: {e}"),
        Err(_) => format!("{shown}: no answer within 2 s"),
    }
}

/// The durable consumer every instance pulls batches from.
pub const DETECT_CONSUMER: &str = "kadet-detect";
/// The header that carries a batch's cluster name.
pub const CLUSTER_HEADER: &str = "Kadet-Cluster";

/// A connection to the cluster and the names of its parts.
#[derive(Clone)]
pub struct Nats {
    /// The client.
    pub client: async_nats::Client,
    /// JetStream.
    pub js: Js,
    /// The configuration.
    pub cfg: ClusterConfig,
}

impl Nats {
    /// Connects to the configured servers (credentials and TLS as given);
    /// the client reconnects by itself when a server goes away.
    pub async fn connect(cfg: &ClusterConfig) -> Result<Nats> {
        let mut opts = ConnectOptions::new()
            .name("kadet")
            .retry_on_initial_connect()
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((100 * attempts as u64).min(2000))
            })
            .event_callback(|e| async move {
                match e {
                    async_nats::Event::Disconnected => tracing::warn!("NATS connection lost"),
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    other => tracing::debug!(event = %other, "NATS event"),
                }
            });
        if let Some(creds) = &cfg.credentials_file {
            opts = opts
                .credentials_file(creds)
                .await
                .with_context(|| format!("cannot read NATS credentials {}", creds.display()))?;
        }
        if let Some(ca) = &cfg.tls_ca_file {
            opts = opts.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&cfg.tls_cert_file, &cfg.tls_key_file) {
            opts = opts.add_client_certificate(cert.clone(), key.clone());
        }
        let client = opts
            .connect(cfg.nats_url.list())
            .await
            .context("cannot connect to NATS")?;
        let js = jetstream::ContextBuilder::new()
            .timeout(Duration::from_millis(cfg.publish_timeout_ms.max(100)))
            .build(client.clone());
        Ok(Nats {
            client,
            js,
            cfg: cfg.clone(),
        })
    }

    /// True while connected to a server.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Why JetStream cannot be used yet, in words a user can act on: each
    /// server that cannot be reached with its cause (the client itself only
    /// says "IO error"), or what failed once connected.
    pub async fn why_waiting(&self, failed: &anyhow::Error) -> String {
        if self.connected() {
            return format!(
                "connected to NATS, but JetStream does not answer (is the server started with -js?): {failed:#}"
            );
        }
        let mut causes = Vec::new();
        for url in self.cfg.nats_url.list() {
            causes.push(probe(&url).await);
        }
        format!("cannot connect to NATS: {}", causes.join("; "))
    }

    /// The subject of the audit stream for a source.
    pub fn audit_subject(&self, source: &str) -> String {
        format!("{}.{source}", self.cfg.stream)
    }

    /// The subject of the results stream.
    pub fn results_subject(&self) -> String {
        format!("{}.result", self.cfg.results_stream)
    }

    /// The subject of the alerts stream.
    pub fn alerts_subject(&self) -> String {
        format!("{}.alert", self.cfg.alerts_stream)
    }

    /// The subject of dead letters of a kind (`record`, `batch`).
    pub fn dead_letter_subject(&self, kind: &str) -> String {
        format!("{}.{kind}", self.cfg.dead_letter_stream)
    }

    fn stream_config(
        &self,
        name: &str,
        retention: stream::RetentionPolicy,
        max_age: Duration,
    ) -> stream::Config {
        stream::Config {
            name: name.to_string(),
            subjects: vec![format!("{name}.>")],
            storage: stream::StorageType::File,
            num_replicas: self.cfg.replicas,
            retention,
            max_age,
            duplicate_window: Duration::from_secs(self.cfg.duplicate_window_secs),
            ..Default::default()
        }
    }

    /// Creates what is missing: streams, buckets, the detection consumer,
    /// one consumer per sink name, and the initial alert state. Retried by
    /// the caller while the cluster elects leaders.
    pub async fn ensure(&self, sinks: &[String]) -> Result<()> {
        use stream::RetentionPolicy::{Limits, WorkQueue};
        let c = &self.cfg;
        let day = Duration::from_secs(86_400);
        let audit = self
            .ensure_stream(self.stream_config(&c.stream, WorkQueue, Duration::ZERO))
            .await
            .context("creating the audit stream")?;
        self.ensure_stream(self.stream_config(
            &c.results_stream,
            Limits,
            Duration::from_secs(c.results_retention_secs),
        ))
        .await
        .context("creating the results stream")?;
        let alerts = self
            .ensure_stream(self.stream_config(&c.alerts_stream, Limits, 7 * day))
            .await
            .context("creating the alerts stream")?;
        self.ensure_stream(self.stream_config(&c.dead_letter_stream, Limits, 30 * day))
            .await
            .context("creating the dead-letter stream")?;
        let detect = pull::Config {
            durable_name: Some(DETECT_CONSUMER.into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(c.ack_wait_secs),
            max_deliver: c.max_deliver,
            ..Default::default()
        };
        let mut consumer: PullConsumer = audit
            .get_or_create_consumer(DETECT_CONSUMER, detect.clone())
            .await
            .context("creating the detection consumer")?;
        let have = consumer.info().await.map(|i| i.config.clone());
        if have.is_ok_and(|h| h.ack_wait != detect.ack_wait || h.max_deliver != detect.max_deliver)
        {
            // An edit of a durable consumer: the server applies what it can
            // change in place, and refuses (said here) what it cannot.
            match audit.create_consumer(detect).await {
                Ok(_) => tracing::info!("updated the detection consumer to the configuration"),
                Err(e) => {
                    tracing::warn!(error = %e, "the detection consumer keeps its settings; edit it with the nats CLI")
                }
            }
        }
        for sink in sinks {
            let name = sink_consumer(sink);
            alerts
                .get_or_create_consumer(
                    &name,
                    pull::Config {
                        durable_name: Some(name.clone()),
                        ack_policy: AckPolicy::Explicit,
                        ack_wait: Duration::from_secs(60),
                        deliver_policy: DeliverPolicy::New,
                        ..Default::default()
                    },
                )
                .await
                .with_context(|| format!("creating the consumer of sink {sink}"))?;
        }
        self.bucket(&c.state_bucket, Duration::ZERO).await?;
        self.bucket(&self.lease_bucket(), Duration::from_secs(c.lease_secs))
            .await?;
        super::state::create_initial(&self.state().await?).await
    }

    /// The lease bucket's name.
    pub fn lease_bucket(&self) -> String {
        format!("{}_LEASE", self.cfg.state_bucket)
    }

    /// The state bucket.
    pub async fn state(&self) -> Result<kv::Store> {
        self.js
            .get_key_value(&self.cfg.state_bucket)
            .await
            .context("opening the state bucket")
    }

    /// The lease bucket.
    pub async fn lease(&self) -> Result<kv::Store> {
        self.js
            .get_key_value(self.lease_bucket())
            .await
            .context("opening the lease bucket")
    }

    /// Creates a KV bucket the way `create_key_value` does, without its
    /// account-info request (which async-nats cannot read from a 2.9
    /// server): the bucket is a stream `KV_<bucket>` over `$KV.<bucket>.>`.
    async fn bucket(&self, bucket: &str, max_age: Duration) -> Result<()> {
        self.ensure_stream(stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            max_age,
            storage: stream::StorageType::File,
            num_replicas: self.cfg.replicas,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating the KV bucket {bucket}"))?;
        Ok(())
    }

    /// Creates a stream, or brings an existing one to `want` where the
    /// configuration changed what kadet sets and NATS can change in place
    /// (replicas, retention age, duplicate window). A refused change is
    /// logged, and the stream is used as it is.
    async fn ensure_stream(&self, want: stream::Config) -> Result<stream::Stream> {
        let mut s = self.js.get_or_create_stream(want.clone()).await?;
        let have = s.info().await?.config.clone();
        let differs = have.num_replicas != want.num_replicas
            || have.max_age != want.max_age
            || (!want.duplicate_window.is_zero() && have.duplicate_window != want.duplicate_window);
        if differs {
            let update = stream::Config {
                num_replicas: want.num_replicas,
                max_age: want.max_age,
                duplicate_window: want.duplicate_window,
                ..have
            };
            match self.js.update_stream(&update).await {
                Ok(_) => {
                    tracing::info!(stream = %want.name, "updated the stream to the configuration")
                }
                Err(e) => {
                    tracing::warn!(stream = %want.name, error = %e, "the stream keeps its settings")
                }
            }
        }
        Ok(s)
    }

    /// The detection consumer.
    pub async fn detect_consumer(&self) -> Result<PullConsumer> {
        self.js
            .get_stream(&self.cfg.stream)
            .await?
            .get_consumer(DETECT_CONSUMER)
            .await
            .map_err(|e| anyhow::anyhow!("binding to the detection consumer: {e}"))
    }

    /// The consumer of a sink.
    pub async fn sink_consumer(&self, sink: &str) -> Result<PullConsumer> {
        self.js
            .get_stream(&self.cfg.alerts_stream)
            .await?
            .get_consumer(&sink_consumer(sink))
            .await
            .map_err(|e| anyhow::anyhow!("binding to the consumer of sink {sink}: {e}"))
    }

    /// Publishes with a message id and waits for JetStream's acknowledgement
    /// (at most the publish timeout); returns the stream sequence.
    pub async fn publish(&self, subject: String, id: &str, publish: PublishMessage) -> Result<u64> {
        let ack = self
            .js
            .send_publish(subject, publish.message_id(id))
            .await
            .context("publishing")?
            .await
            .context("waiting for JetStream's acknowledgement")?;
        Ok(ack.sequence)
    }
}

/// The durable consumer name of a sink.
fn sink_consumer(sink: &str) -> String {
    let safe: String = sink
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("kadet-sink-{safe}")
}

#[cfg(test)]
mod address_tests {
    use super::dial_address;

    #[test]
    fn shown_urls_lose_their_credentials_and_gain_a_port() {
        assert_eq!(
            dial_address("nats://user:secret@nats.example:4333"),
            (
                "nats://nats.example:4333".into(),
                "nats.example:4333".into()
            )
        );
        assert_eq!(
            dial_address("tls://nats.example"),
            ("tls://nats.example:4222".into(), "nats.example:4222".into())
        );
        assert_eq!(
            dial_address("127.0.0.1:5000"),
            ("nats://127.0.0.1:5000".into(), "127.0.0.1:5000".into())
        );
    }
}
