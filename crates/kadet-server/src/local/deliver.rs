//! Single-process delivery from the outbox: one worker thread per sink,
//! each applying the shared [`Delivery`] policy. An alert leaves the outbox
//! only once every sink has confirmed it (or made it a dead letter).
//!
//! Delivery is at least once; `alert_id` lets receivers drop repeats. For a
//! file sink a restart also looks in the file for alerts that were written
//! just before a crash but not yet confirmed, so the file holds each alert
//! once.

use super::store::{outbox, Store};
use crate::config::SinkConfig;
use crate::core::delivery::{Delivery, Outcome};
use crate::now_ms;
use crate::sinks::file_ids::ids_in_file;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// The outbox worker of one sink.
pub struct OutboxWorker {
    delivery: Delivery,
    store: Store,
}

impl OutboxWorker {
    /// A worker delivering `delivery`'s sink from the outbox in `store`.
    pub fn new(cfg: &SinkConfig, delivery: Delivery, store: &Path) -> Result<OutboxWorker> {
        let store = Store::connect(store)?;
        if let SinkConfig::File { path, .. } = cfg {
            let seen = ids_in_file(path)
                .with_context(|| format!("cannot read sink file {}", path.display()))?;
            // Written before a crash but not yet confirmed: confirm now.
            for id in outbox::owed_to(store.conn(), delivery.name())?
                .iter()
                .filter(|id| seen.contains(*id))
            {
                outbox::confirm(store.conn(), id, delivery.name())?;
            }
        }
        Ok(OutboxWorker { delivery, store })
    }

    /// Delivers until `stop`; `wake` says new alerts are waiting. At stop,
    /// one last round is made for what is due.
    pub fn run(&mut self, wake: mpsc::Receiver<()>, stop: &AtomicBool) {
        loop {
            let stopping = stop.load(Ordering::Acquire);
            let wait = match self.round() {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(sink = %self.delivery.name(), error = %format!("{e:#}"), "sink round failed");
                    Duration::from_secs(1)
                }
            };
            if stopping {
                return;
            }
            let _ = wake.recv_timeout(wait);
        }
    }

    /// Delivers what is due; returns how long to sleep.
    fn round(&mut self) -> Result<Duration> {
        const BATCH: usize = 256;
        let sink = self.delivery.name().to_string();
        let due = outbox::due(self.store.conn(), &sink, now_ms(), BATCH)?;
        let attempts: Vec<(String, u32)> = due
            .iter()
            .map(|d| {
                (
                    d.state.clone(),
                    u32::try_from(d.attempts + 1).unwrap_or(u32::MAX),
                )
            })
            .collect();
        let outcomes = self.delivery.attempt_all(&attempts);
        for ((d, (_, attempt)), outcome) in due.iter().zip(&attempts).zip(outcomes) {
            let attempt = *attempt;
            match outcome {
                o if o.settled() => outbox::confirm(self.store.conn(), &d.alert_id, &sink)?,
                Outcome::Retry { after, in_order } => {
                    if in_order {
                        return Ok(after);
                    }
                    let at = now_ms().saturating_add(after.as_millis() as i64);
                    outbox::retry_later(
                        self.store.conn(),
                        &d.alert_id,
                        &sink,
                        i64::from(attempt),
                        at,
                    )?;
                }
                _ => {}
            }
        }
        if due.len() == BATCH {
            return Ok(Duration::ZERO);
        }
        Ok(match outbox::next_due(self.store.conn(), &sink)? {
            Some(n) => Duration::from_millis((n - now_ms()).clamp(0, 1000) as u64),
            None => Duration::from_secs(1),
        })
    }
}
