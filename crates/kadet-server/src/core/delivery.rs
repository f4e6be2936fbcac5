//! The one delivery policy of every sink, in both modes: an alert's stored
//! window becomes an [`Alert`](kadet_engine::Alert) with its rule's
//! metadata, goes to the sink's [`Target`], and a failure is retried with
//! backoff or, once a webhook's attempts are spent, becomes a dead letter.
//! What remembers an alert between attempts (the local outbox, or the
//! cluster's alerts stream) is the mode's; what to do next is decided here.

use super::dead_letter::{DeadLetter, DeadLetterFile, DeadLetters, Kind};
use crate::active_rules::ActiveRules;
use crate::config::SinkConfig;
use crate::metrics::{Counter, Metrics};
use crate::sinks::Target;
use kadet_engine::{Alert, AlertWindow};
use std::sync::Arc;
use std::time::Duration;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How soon a stream sink (stdout, file) that failed to write tries again.
const STREAM_RETRY: Duration = Duration::from_secs(1);
/// How soon a dead letter that could not be kept is tried again.
const DEAD_LETTER_RETRY: Duration = Duration::from_secs(5);

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The sink has it.
    Delivered,
    /// Try again after `after`; with `in_order` (stream sinks) the alerts
    /// after it wait too, so that a file keeps its order.
    Retry {
        /// The wait.
        after: Duration,
        /// Later alerts wait for this one.
        in_order: bool,
    },
    /// Given up on: kept as a dead letter.
    DeadLettered,
    /// The stored alert does not read (logged); it is dropped.
    Unreadable,
}

impl Outcome {
    /// True when the alert is done with (delivered, dead-lettered or
    /// dropped): the mode forgets it.
    pub fn settled(self) -> bool {
        !matches!(self, Outcome::Retry { .. })
    }
}

/// Retries of a failed delivery.
#[derive(Debug, Clone, Copy)]
struct Retries {
    /// Attempts before the alert becomes a dead letter; `None`: for ever.
    max_attempts: Option<u32>,
    /// The first wait; doubles each attempt, up to [`MAX_BACKOFF`].
    backoff: Duration,
}

impl Retries {
    fn of(target: &Target) -> Retries {
        match target {
            Target::Webhook(w) => Retries {
                max_attempts: Some(w.max_attempts),
                backoff: Duration::from_millis(w.backoff_ms),
            },
            Target::Stream { .. } => Retries {
                max_attempts: None,
                backoff: STREAM_RETRY,
            },
        }
    }

    /// The wait after failed attempt `attempt` (1-based), or `None` when
    /// the attempts are spent.
    fn after(&self, attempt: u32) -> Option<Duration> {
        if self.max_attempts.is_some_and(|max| attempt >= max) {
            return None;
        }
        if self.max_attempts.is_none() {
            return Some(self.backoff);
        }
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        Some(self.backoff.saturating_mul(factor).min(MAX_BACKOFF))
    }
}

/// One sink's deliveries on this instance.
pub struct Delivery {
    name: String,
    target: Target,
    retries: Retries,
    dead_letters: Arc<dyn DeadLetters>,
    active: Arc<ActiveRules>,
    metrics: Arc<Metrics>,
    rt: tokio::runtime::Handle,
}

impl Delivery {
    /// Deliveries to the sink configured as `cfg`. Its dead letters go to
    /// the sink's own `dead_letter` file when it names one, else to the
    /// mode's `dead_letters`.
    pub fn new(
        cfg: &SinkConfig,
        dead_letters: Arc<dyn DeadLetters>,
        active: Arc<ActiveRules>,
        metrics: Arc<Metrics>,
        rt: tokio::runtime::Handle,
    ) -> anyhow::Result<Delivery> {
        let target = Target::open(cfg)?;
        let dead_letters: Arc<dyn DeadLetters> = match cfg {
            SinkConfig::Webhook {
                dead_letter: Some(p),
                ..
            } => Arc::new(DeadLetterFile(p.clone())),
            _ => dead_letters,
        };
        Ok(Delivery {
            name: cfg.name().to_string(),
            retries: Retries::of(&target),
            target,
            dead_letters,
            active,
            metrics,
            rt,
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sink's destination.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Attempt number `attempt` (1-based) at delivering the alert stored as
    /// `stored` (an [`AlertWindow`]'s stored form).
    pub fn attempt(&mut self, stored: &str, attempt: u32) -> Outcome {
        let rules = self.active.current();
        let Some(alert) = self.alert_of(stored, &rules.rules) else {
            return Outcome::Unreadable;
        };
        let result = self.target.deliver(&alert, &rules.rules, &self.rt);
        self.settle(&alert, attempt, result)
    }

    /// Attempts at several alerts, `(stored, attempt)`, with their outcomes
    /// in the same order. A webhook sink sends up to its `max_in_flight` at
    /// once, so one slow receiver's answer does not hold the others; a
    /// stream sink writes them one after another, and stops at a failure
    /// (fewer outcomes than items).
    pub fn attempt_all(&mut self, items: &[(String, u32)]) -> Vec<Outcome> {
        let in_flight = match &self.target {
            Target::Webhook(w) => w.max_in_flight,
            Target::Stream { .. } => 1,
        };
        if in_flight <= 1 || items.len() <= 1 {
            // One after another; a stream sink stops at a failure, so that
            // the alerts after it wait and its file keeps their order.
            let mut outcomes = Vec::with_capacity(items.len());
            for (stored, attempt) in items {
                let o = self.attempt(stored, *attempt);
                let stop = matches!(o, Outcome::Retry { in_order: true, .. });
                outcomes.push(o);
                if stop {
                    break;
                }
            }
            return outcomes;
        }
        let rules = self.active.current();
        let mut outcomes = Vec::with_capacity(items.len());
        for chunk in items.chunks(in_flight) {
            let alerts: Vec<Option<Alert>> = chunk
                .iter()
                .map(|(stored, _)| self.alert_of(stored, &rules.rules))
                .collect();
            let Target::Webhook(w) = &self.target else {
                break;
            };
            let sends = alerts.iter().map(|a| async {
                match a {
                    Some(a) => Some(w.send(a, &rules.rules).await),
                    None => None,
                }
            });
            let results = self.rt.block_on(futures_util::future::join_all(sends));
            for ((alert, (_, attempt)), result) in alerts.iter().zip(chunk).zip(results) {
                outcomes.push(match (alert, result) {
                    (Some(a), Some(r)) => self.settle(a, *attempt, r),
                    _ => Outcome::Unreadable,
                });
            }
        }
        outcomes
    }

    /// The alert a stored window stands for, with its rule's metadata;
    /// `None` (logged) when it does not read.
    fn alert_of(&self, stored: &str, rules: &[kadet_rules::Rule]) -> Option<Alert> {
        match AlertWindow::from_stored(stored) {
            Ok(window) => Some(window.to_alert(kadet_rules::by_id(rules, &window.rule_id))),
            Err(e) => {
                tracing::error!(sink = %self.name, error = %e, "unreadable alert; dropped");
                None
            }
        }
    }

    /// What became of attempt `attempt` at delivering `alert`.
    fn settle(&self, alert: &Alert, attempt: u32, result: anyhow::Result<()>) -> Outcome {
        let error = match result {
            Ok(()) => {
                self.metrics
                    .inc(Counter::SinkDeliveries, &[("sink", &self.name)]);
                return Outcome::Delivered;
            }
            Err(e) => e,
        };
        self.metrics
            .inc(Counter::SinkFailures, &[("sink", &self.name)]);
        let in_order = matches!(self.target, Target::Stream { .. });
        if let Some(after) = self.retries.after(attempt) {
            if in_order {
                tracing::error!(sink = %self.name, alert_id = %alert.alert_id, error = %format!("{error:#}"), "writing an alert failed; will retry");
            } else {
                tracing::warn!(sink = %self.name, alert_id = %alert.alert_id, attempt, retry_in_ms = after.as_millis() as u64, error = %format!("{error:#}"), "delivery failed");
            }
            return Outcome::Retry { after, in_order };
        }
        tracing::error!(sink = %self.name, alert_id = %alert.alert_id, attempts = attempt, error = %format!("{error:#}"), "delivery failed; the alert becomes a dead letter");
        let payload = serde_json::to_value(alert).unwrap_or_default();
        let dead = DeadLetter::new(
            Kind::Alert,
            format!("{attempt} attempts failed, the last: {error:#}"),
            format!("sink {}", self.name),
            payload,
        );
        if let Err(e) = self.dead_letters.put(&dead) {
            tracing::error!(sink = %self.name, error = %format!("{e:#}"), "cannot keep the dead letter; will retry");
            return Outcome::Retry {
                after: DEAD_LETTER_RETRY,
                in_order: false,
            };
        }
        self.metrics
            .inc(Counter::SinkDeadLetters, &[("sink", &self.name)]);
        Outcome::DeadLettered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_backoff_doubles_up_to_the_cap_then_gives_up() {
        let r = Retries {
            max_attempts: Some(4),
            backoff: Duration::from_millis(1000),
        };
        assert_eq!(r.after(1), Some(Duration::from_millis(1000)));
        assert_eq!(r.after(2), Some(Duration::from_millis(2000)));
        assert_eq!(r.after(3), Some(Duration::from_millis(4000)));
        assert_eq!(r.after(4), None);
        let long = Retries {
            max_attempts: Some(100),
            backoff: Duration::from_secs(10),
        };
        assert_eq!(long.after(30), Some(MAX_BACKOFF));
    }

    #[test]
    fn stream_sinks_retry_for_ever_at_a_steady_pace() {
        let r = Retries {
            max_attempts: None,
            backoff: STREAM_RETRY,
        };
        assert_eq!(r.after(1_000_000), Some(STREAM_RETRY));
    }
}
