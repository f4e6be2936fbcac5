//! `type = "pubsub-push"`: what a Pub/Sub push subscription posts (the
//! wrapped envelope, `message.data` holding one Cloud Logging LogEntry in
//! base64), who may post it ([`Verifier`]), and the message ids seen
//! lately, so that a redelivery is answered at once.

use super::oidc::Verifier;
use super::Health;
use crate::config::sources::PubsubPush;
use base64::Engine;
use serde::Deserialize;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

/// Message ids remembered per source. Pub/Sub redelivers within its ack
/// deadline and retry policy; an older redelivery is still evaluated once,
/// because its batch has the same digest (the detector's duplicate check).
const RECENT_IDS: usize = 65_536;

/// One configured push source.
pub struct PushSource {
    /// The source's name (`/v1/gke/pubsub/NAME`).
    pub name: String,
    /// The cluster of events whose record names none.
    pub cluster: Option<String>,
    /// Who may post.
    pub verifier: Verifier,
    /// Progress, for `/readyz`.
    pub health: Arc<Health>,
    recent: Mutex<RecentIds>,
}

/// One pushed message.
#[derive(Debug, PartialEq, Eq)]
pub struct PushMessage {
    /// `message.messageId`.
    pub id: String,
    /// `message.data`, decoded.
    pub data: Vec<u8>,
    /// `message.publishTime`, in milliseconds since the epoch.
    pub publish_ms: Option<i64>,
}

#[derive(Deserialize)]
struct Envelope {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    data: Option<String>,
    #[serde(rename = "messageId", alias = "message_id")]
    id: String,
    #[serde(rename = "publishTime", alias = "publish_time", default)]
    publish_time: Option<String>,
}

/// Reads the wrapped push envelope.
pub fn parse_envelope(body: &[u8]) -> Result<PushMessage, String> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| {
        format!(
            "not a Pub/Sub push envelope (line {}, column {}): {e}",
            e.line(),
            e.column()
        )
    })?;
    let m = env.message;
    if m.id.is_empty() || m.id.len() > 200 {
        return Err("message.messageId must be 1 to 200 characters".into());
    }
    let data = match m.data.as_deref() {
        None | Some("") => Vec::new(),
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("message.data is not base64: {e}"))?,
    };
    let publish_ms = m
        .publish_time
        .as_deref()
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
    Ok(PushMessage {
        id: m.id,
        data,
        publish_ms,
    })
}

impl PushSource {
    /// The source of a `[[sources]]` entry.
    pub fn new(cfg: &PubsubPush) -> anyhow::Result<PushSource> {
        Ok(PushSource {
            name: cfg.name.clone(),
            cluster: cfg.cluster.clone(),
            verifier: Verifier::new(
                &cfg.jwks_url,
                &cfg.issuers,
                &cfg.audience,
                &cfg.service_accounts,
            )?,
            health: Arc::new(Health::new(&cfg.name, cfg.stuck_after_secs)),
            recent: Mutex::new(RecentIds::default()),
        })
    }

    /// True when the message was stored lately.
    pub fn seen(&self, id: &str) -> bool {
        self.recent.lock().is_ok_and(|r| r.set.contains(id))
    }

    /// Remembers a message once it is stored.
    pub fn stored(&self, id: String) {
        if let Ok(mut r) = self.recent.lock() {
            r.insert(id);
        }
    }
}

/// The last [`RECENT_IDS`] ids, oldest forgotten first.
#[derive(Default)]
struct RecentIds {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl RecentIds {
    fn insert(&mut self, id: String) {
        if self.set.contains(&id) {
            return;
        }
        if self.order.len() >= RECENT_IDS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.set.insert(id.clone());
        self.order.push_back(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_read_in_both_spellings() {
        let data = base64::engine::general_purpose::STANDARD.encode(b"{\"a\":1}");
        let body = format!(
            "{{\"message\":{{\"data\":\"{data}\",\"messageId\":\"42\",\"publishTime\":\"2026-12-06T10:00:00.5Z\"}},\"subscription\":\"projects/p/subscriptions/s\"}}"
        );
        let m = parse_envelope(body.as_bytes()).unwrap();
        assert_eq!(m.id, "42");
        assert_eq!(m.data, b"{\"a\":1}");
        assert_eq!(m.publish_ms, Some(1_796_551_200_500));
        let snake = format!("{{\"message\":{{\"data\":\"{data}\",\"message_id\":\"7\"}}}}");
        assert_eq!(parse_envelope(snake.as_bytes()).unwrap().id, "7");
    }

    #[test]
    fn bad_envelopes_say_why() {
        let e = parse_envelope(b"{\"message\":{\"data\":\"@@\",\"messageId\":\"1\"}}").unwrap_err();
        assert!(e.contains("not base64"), "{e}");
        let e = parse_envelope(b"{\"kind\":\"x\"}").unwrap_err();
        assert!(e.contains("not a Pub/Sub push envelope"), "{e}");
        let e = parse_envelope(b"{\"message\":{\"messageId\":\"\"}}").unwrap_err();
        assert!(e.contains("messageId"), "{e}");
    }

    #[test]
    fn recent_ids_are_bounded() {
        let mut r = RecentIds::default();
        for i in 0..RECENT_IDS + 10 {
            r.insert(i.to_string());
        }
        assert_eq!(r.set.len(), RECENT_IDS);
        assert!(!r.set.contains("0") && r.set.contains("10"));
    }
}
