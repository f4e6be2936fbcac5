//! `[cluster]`: joining a NATS JetStream cluster.

use serde::Deserialize;
use std::path::PathBuf;

/// One NATS URL or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Urls {
    /// `nats_url = "nats://a:4222"`.
    One(String),
    /// `nats_url = ["nats://a:4222", "nats://b:4222"]`.
    Many(Vec<String>),
}

impl Urls {
    /// The URLs as a list.
    pub fn list(&self) -> Vec<String> {
        match self {
            Urls::One(u) => vec![u.clone()],
            Urls::Many(v) => v.clone(),
        }
    }
}

/// `[cluster]`: with it, every `kadet serve` instance started with the same
/// file joins the cluster and does all the work (intake, detection,
/// delivery) through JetStream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The NATS server(s) to connect to.
    pub nats_url: Urls,
    /// A NATS credentials file (`.creds`: JWT and NKey seed).
    pub credentials_file: Option<PathBuf>,
    /// CA bundle that signs the NATS servers' certificates (TLS).
    pub tls_ca_file: Option<PathBuf>,
    /// Client certificate for NATS (mutual TLS), with `tls_key_file`.
    pub tls_cert_file: Option<PathBuf>,
    /// Client key for NATS (mutual TLS).
    pub tls_key_file: Option<PathBuf>,
    /// The stream accepted batches go to.
    #[serde(default = "d_audit")]
    pub stream: String,
    /// The stream each evaluated batch's result goes to.
    #[serde(default = "d_results")]
    pub results_stream: String,
    /// The stream raised alerts go to.
    #[serde(default = "d_alerts")]
    pub alerts_stream: String,
    /// The stream of records and batches that could not be processed.
    #[serde(default = "d_dead")]
    pub dead_letter_stream: String,
    /// The KV bucket of the alert state (windows, reorder buffer) and of the
    /// applier's lease.
    #[serde(default = "d_state")]
    pub state_bucket: String,
    /// Replicas of every stream and bucket: 1 for tests, 3 in production.
    #[serde(default = "d_replicas")]
    pub replicas: usize,
    /// A batch not acknowledged this long after delivery is redelivered to
    /// another instance.
    #[serde(default = "d_ack_wait")]
    pub ack_wait_secs: u64,
    /// Deliveries of a batch before it goes to the dead-letter stream.
    #[serde(default = "d_max_deliver")]
    pub max_deliver: i64,
    /// A resent batch (same content) within this window is stored once.
    #[serde(default = "d_dup")]
    pub duplicate_window_secs: u64,
    /// Time allowed for JetStream to acknowledge a publish; then `503`.
    #[serde(default = "d_publish")]
    pub publish_timeout_ms: u64,
    /// Batches accepted but not yet evaluated above which intake answers `429`.
    #[serde(default = "d_pending")]
    pub max_pending: u64,
    /// Evaluation threads per instance.
    #[serde(default = "d_workers")]
    pub detect_workers: usize,
    /// How long the applier's lease lasts without renewal; another instance
    /// takes over after it.
    #[serde(default = "d_lease")]
    pub lease_secs: u64,
    /// How often the applier saves the alert state.
    #[serde(default = "d_snapshot")]
    pub snapshot_interval_ms: u64,
    /// How long results (the applier's log) are kept for a new applier to
    /// replay from the last saved state.
    #[serde(default = "d_retention")]
    pub results_retention_secs: u64,
}

fn d_audit() -> String {
    "KADET_AUDIT".into()
}
fn d_results() -> String {
    "KADET_RESULTS".into()
}
fn d_alerts() -> String {
    "KADET_ALERTS".into()
}
fn d_dead() -> String {
    "KADET_DEADLETTER".into()
}
fn d_state() -> String {
    "KADET_STATE".into()
}
fn d_replicas() -> usize {
    1
}
fn d_ack_wait() -> u64 {
    10
}
fn d_max_deliver() -> i64 {
    5
}
fn d_dup() -> u64 {
    600
}
fn d_publish() -> u64 {
    2000
}
fn d_pending() -> u64 {
    100_000
}
fn d_workers() -> usize {
    2
}
fn d_lease() -> u64 {
    10
}
fn d_snapshot() -> u64 {
    1000
}
fn d_retention() -> u64 {
    3600
}

impl ClusterConfig {
    /// Everything wrong with the values: (key, message) pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let urls = self.nats_url.list();
        if urls.is_empty() {
            out.push(("nats_url", "give at least one URL".to_string()));
        }
        for u in &urls {
            // `host:port` alone is a NATS URL (the client adds nats://).
            let scheme = u.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
            if scheme.is_some_and(|s| !matches!(s.as_str(), "nats" | "tls" | "ws" | "wss")) {
                out.push((
                    "nats_url",
                    format!("{u:?} is not a NATS URL (nats://host:4222, tls://, ws:// or wss://)"),
                ));
            }
        }
        if !(1..=5).contains(&self.replicas) {
            out.push(("replicas", format!("{} is not 1 to 5", self.replicas)));
        }
        if self.max_deliver < 2 {
            out.push(("max_deliver", "at least 2".to_string()));
        }
        if self.detect_workers == 0 {
            out.push(("detect_workers", "at least 1".to_string()));
        }
        if self.ack_wait_secs == 0 {
            out.push(("ack_wait_secs", "at least 1".to_string()));
        }
        if self.lease_secs < 2 {
            out.push(("lease_secs", "at least 2".to_string()));
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            out.push((
                "tls_cert_file",
                "tls_cert_file and tls_key_file go together".to_string(),
            ));
        }
        out
    }
}

impl ClusterConfig {
    /// The files (credentials, TLS) that cannot be read, as (key, message)
    /// pairs. Whether NATS accepts them is learnt on connecting.
    pub fn file_problems(&self) -> Vec<(&'static str, String)> {
        [
            ("credentials_file", &self.credentials_file),
            ("tls_ca_file", &self.tls_ca_file),
            ("tls_cert_file", &self.tls_cert_file),
            ("tls_key_file", &self.tls_key_file),
        ]
        .into_iter()
        .filter_map(|(what, file)| {
            let f = file.as_ref()?;
            match std::fs::read(f) {
                Ok(bytes) if bytes.is_empty() => {
                    Some((what, format!("{what} {}: empty", f.display())))
                }
                Ok(_) => None,
                Err(e) => Some((what, format!("{what} {}: {e}", f.display()))),
            }
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_host_and_port_is_a_nats_url() {
        let c: ClusterConfig =
            toml::from_str("nats_url = [\"nats-0.nats:4222\", \"NATS://n:4222\"]\n").unwrap();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
    }

    #[test]
    fn every_problem_is_listed() {
        let c: ClusterConfig = toml::from_str(
            "nats_url = \"http://n:4222\"\nreplicas = 7\nlease_secs = 1\nmax_deliver = 1\ntls_cert_file = \"c\"\n",
        )
        .unwrap();
        let keys: Vec<&str> = c.problems().iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "nats_url",
                "replicas",
                "max_deliver",
                "lease_secs",
                "tls_cert_file"
            ]
        );
    }
}
