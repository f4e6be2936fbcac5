//! Cluster detection: each instance runs a few worker threads that pull
//! batches from the shared durable consumer, evaluate them exactly as
//! `scan` does, publish each batch's result, and only then ack the batch.
//!
//! A worker that dies leaves its batches unacked: JetStream redelivers them
//! to another after `ack_wait`, and the result (message id `result-<seq>`)
//! is stored once however often it is published. A batch that reached its
//! last delivery without being processed (instances keep dying on it) goes
//! to the dead-letter stream with the reason, and its result says it failed,
//! so nothing waits for it. A record kadet fails on inside a batch (a bug)
//! costs that record only: it goes to the dead-letter stream too.

use super::dead_letters::StreamDeadLetters;
use super::nats::CLUSTER_HEADER;
use super::result::{BatchResult, RESULT_VERSION};
use super::Nats;
use crate::active_rules::ActiveRules;
use crate::core::batch::{Batch, Source};
use crate::core::dead_letter::{DeadLetter, DeadLetters, Kind};
use crate::core::detection::count_evaluation;
use crate::metrics::{Counter, Metrics};
use anyhow::{Context, Result};
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::Message;
use kadet_engine::pipeline::{Evaluator, ScanOptions};
use kadet_event::SkipReason;
use kadet_rules::Rule;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One detection worker.
pub struct DetectWorker {
    /// The cluster.
    pub nats: Nats,
    /// The runtime NATS calls run on.
    pub rt: tokio::runtime::Handle,
    /// The rules.
    pub active: Arc<ActiveRules>,
    /// How events are decoded and evaluated.
    pub opts: ScanOptions,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Where batches and records that cannot be processed go.
    pub dead_letters: Arc<StreamDeadLetters>,
}

impl DetectWorker {
    /// Pulls and evaluates until `stop`, switching rule sets between batches.
    pub fn run(&self, stop: &AtomicBool) {
        while !stop.load(Ordering::Acquire) {
            let loaded = self.active.current();
            let consumer = match self.rt.block_on(self.nats.detect_consumer()) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "detection: no consumer yet");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            let eval = Evaluator::new(&loaded.rules, &self.opts);
            while !stop.load(Ordering::Acquire) && self.active.generation() == loaded.generation {
                let mut fetched: std::collections::VecDeque<Message> = self.fetch(&consumer).into();
                let mut since = Instant::now();
                while let Some(msg) = fetched.pop_front() {
                    if let Err(e) = self.handle(&eval, &loaded.rules, msg) {
                        tracing::warn!(error = %format!("{e:#}"), "detection: a batch will be redelivered");
                    }
                    self.keep_claimed(&fetched, &mut since);
                }
            }
        }
    }

    /// Tells JetStream that the batches fetched and not yet evaluated are in
    /// progress (which restarts their `ack_wait`) once a third of it has
    /// passed: a short `ack_wait` then redelivers the batches of a dead
    /// instance soon, without redelivering those of a busy one.
    fn keep_claimed(&self, waiting: &std::collections::VecDeque<Message>, since: &mut Instant) {
        let third = Duration::from_secs(self.nats.cfg.ack_wait_secs.max(1)) / 3;
        if waiting.is_empty() || since.elapsed() < third {
            return;
        }
        for m in waiting {
            let _ = self
                .rt
                .block_on(m.ack_with(async_nats::jetstream::AckKind::Progress));
        }
        *since = Instant::now();
    }

    /// Up to 16 batches: those waiting, or the first to come within a
    /// second.
    fn fetch(&self, consumer: &PullConsumer) -> Vec<Message> {
        self.rt.block_on(super::nats::pull_now(consumer, 16))
    }

    /// Evaluates one batch, publishes its result, acks it.
    fn handle(&self, eval: &Evaluator<'_>, rules: &[Rule], msg: Message) -> Result<()> {
        let info = msg
            .info()
            .map_err(|e| anyhow::anyhow!("message info: {e}"))?;
        let (seq, delivered) = (info.stream_sequence, info.delivered);
        if delivered > 1 {
            self.metrics
                .inc(Counter::ClusterRedeliveries, &[("stream", "audit")]);
        }
        let result = if delivered >= self.nats.cfg.max_deliver {
            let reason = format!(
                "delivered {delivered} times without being processed (an instance died on it each time)"
            );
            self.dead_letter(Kind::Batch, seq, &reason, &msg.payload);
            BatchResult {
                v: RESULT_VERSION,
                seq,
                failed: Some(reason),
                ..BatchResult::default()
            }
        } else {
            self.evaluate(eval, rules, seq, &msg)
        };
        let payload = serde_json::to_vec(&result)?;
        let deadline = Instant::now() + Duration::from_secs(self.nats.cfg.ack_wait_secs / 2 + 1);
        loop {
            let publish = PublishMessage::build().payload(payload.clone().into());
            let sent = self.rt.block_on(self.nats.publish(
                self.nats.results_subject(),
                &BatchResult::message_id(seq),
                publish,
            ));
            match sent {
                Ok(_) => break,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => return Err(e).context("publishing a result"),
            }
        }
        self.rt
            .block_on(msg.double_ack())
            .map_err(|e| anyhow::anyhow!("acking batch {seq}: {e}"))?;
        Ok(())
    }

    fn evaluate(
        &self,
        eval: &Evaluator<'_>,
        rules: &[Rule],
        seq: u64,
        msg: &Message,
    ) -> BatchResult {
        let source = msg
            .subject
            .as_str()
            .rsplit('.')
            .next()
            .unwrap_or("audit")
            .to_string();
        let cluster = msg
            .headers
            .as_ref()
            .and_then(|h| h.get(CLUSTER_HEADER))
            .map(|v| v.as_str().to_string());
        let origin = Batch {
            source: Source::from_name(&source).unwrap_or(Source::Audit),
            cluster: cluster.clone(),
            accepted_ms: msg.info().ok().map(|i| {
                i64::try_from(i.published.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
            }),
            doc: Vec::new(),
        }
        .origin(seq);
        let r = eval.process_document(Arc::from(origin), 0, &msg.payload, cluster.as_deref());
        for s in r
            .skips
            .iter()
            .filter(|s| s.reason == SkipReason::InternalError)
        {
            self.dead_letter(
                Kind::Record,
                seq,
                &format!("{}: {}", s.location, s.message),
                &msg.payload,
            );
        }
        count_evaluation(&self.metrics, rules, &r);
        BatchResult {
            v: RESULT_VERSION,
            seq,
            matches: r
                .matches
                .into_iter()
                .map(|m| (rules[m.rule].id.clone(), m))
                .collect(),
            max_time: r.max_time,
            failed: None,
        }
    }

    /// Publishes what could not be processed, with the reason, to the
    /// dead-letter stream (best effort: the count is kept either way).
    fn dead_letter(&self, kind: Kind, seq: u64, reason: &str, payload: &[u8]) {
        self.metrics
            .inc(Counter::ClusterDeadLetters, &[("kind", kind.name())]);
        tracing::error!(kind = kind.name(), batch = seq, %reason, "sent to the dead-letter stream");
        let letter = DeadLetter::new(
            kind,
            reason,
            format!("batch {seq}"),
            DeadLetter::text(payload),
        );
        if let Err(e) = self.dead_letters.put(&letter) {
            tracing::error!(error = %format!("{e:#}"), "cannot publish a dead letter");
        }
    }
}
